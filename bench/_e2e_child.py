"""One end-to-end fit in a fresh process: time, iterations, log-likelihood and peak memory.

Run by bench_fit.py as ``python _e2e_child.py '<json request>'``; prints one JSON line.
Request keys: x_path (a .npy file), impl, estimator ('gmm' or 'bgm'), n_components,
covariance_type, random_state, n_threads.

Memory: X is loaded and the estimator's modules imported first; then the kernel's
high-water mark of resident memory is reset to the current RSS (Linux: write "5" to
/proc/self/clear_refs) and read back after fit (VmHWM). peak_mb = VmHWM - RSS before the
fit: every byte the fit made resident at its worst moment, whoever allocated it (numpy,
BLAS, OpenMP, C malloc in kernels), and no short spike is missed. Where the reset is not
possible, a psutil thread samples RSS every millisecond instead (it can miss spikes
shorter than that) and the report says which method was used.
"""

import ctypes
import gc
import json
import sys
import threading
import time

import numpy as np


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_high_water_mark(attempts=5):
    """True if the kernel's RSS high-water mark now equals the current RSS.

    Tried a few times: a thread of the pools that frees memory between the reset and the
    two reads leaves the mark above the RSS, and the sampler is the weaker method."""
    for _ in range(attempts):
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            if _status_kb("VmHWM") <= _status_kb("VmRSS") + 64:
                return True
        except (OSError, KeyError, ValueError):
            return False
    return False


def _trim_heap():
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _Sampler(threading.Thread):
    def __init__(self, interval=1e-3):
        super().__init__(daemon=True)
        import psutil

        self._proc = psutil.Process()
        self._interval = interval
        self._halt = threading.Event()
        self.peak = self._proc.memory_info().rss

    def run(self):
        while not self._halt.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self._interval)

    def stop(self):
        self._halt.set()
        self.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)
        return self.peak


def _rss_bytes():
    try:
        return _status_kb("VmRSS") * 1024
    except (OSError, KeyError):
        import psutil

        return psutil.Process().memory_info().rss


def main(request):
    import _estimators

    X = np.load(request["x_path"])
    n_threads = request["n_threads"]
    est = _estimators.make(
        request["impl"],
        request["n_components"],
        n_threads,
        estimator=request.get("estimator", "gmm"),
        covariance_type=request["covariance_type"],
        random_state=request["random_state"],
    )
    gc.collect()
    _trim_heap()

    limit = _estimators.thread_limit(n_threads)
    limit.__enter__()  # before the baseline: creating the pools is not the fit's memory
    method = "VmHWM" if _reset_high_water_mark() else "psutil sampling (1 ms)"
    sampler = None if method == "VmHWM" else _Sampler()
    baseline = _rss_bytes()
    if sampler is not None:
        sampler.start()

    with _estimators.Quiet():
        t0 = time.perf_counter()
        est.fit(X)
        seconds = time.perf_counter() - t0

    if sampler is None:
        peak = _status_kb("VmHWM") * 1024
    else:
        peak = sampler.stop()
    score = float(est.score(X))
    limit.__exit__(None, None, None)

    return {
        "impl": request["impl"],
        "seconds": seconds,
        "n_iter": int(est.n_iter_),
        "converged": bool(est.converged_),
        "score": score,
        "lower_bound": _estimators.lower_bound(est),
        "baseline_mb": baseline / 2**20,
        "peak_mb": (peak - baseline) / 2**20,
        "x_mb": X.nbytes / 2**20,
        "memory_method": method,
    }


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
