"""One prediction method of one fitted model in a fresh process: time and peak memory.

Run by bench_grid.py as ``python _predict_child.py '<json request>'``; prints one JSON line.
Request keys: x_path (a .npy file), model_path (a pickled fitted estimator), method
('score_samples', 'predict_proba' or 'predict'), n_threads, repeats.

Memory is measured as _e2e_child.py measures a fit's (its helpers): X loaded and the
model unpickled first, the kernel's RSS high-water mark reset, the method called once,
peak_mb = VmHWM - RSS before the call (the output array included). The time is the best
of ``repeats`` calls, the first of them the one whose memory is measured.
"""

import gc
import json
import pickle
import sys
import time

import numpy as np

from _e2e_child import _reset_high_water_mark, _rss_bytes, _Sampler, _status_kb, _trim_heap


def main(request):
    import _estimators

    X = np.load(request["x_path"])
    with open(request["model_path"], "rb") as f:
        est = pickle.load(f)
    method = getattr(est, request["method"])
    n_threads = request["n_threads"]

    limit = _estimators.thread_limit(n_threads)
    limit.__enter__()
    gc.collect()
    _trim_heap()
    how = "VmHWM" if _reset_high_water_mark() else "psutil sampling (1 ms)"
    sampler = None if how == "VmHWM" else _Sampler()
    baseline = _rss_bytes()
    if sampler is not None:
        sampler.start()
    t0 = time.perf_counter()
    out = method(X)
    times = [time.perf_counter() - t0]
    peak = _status_kb("VmHWM") * 1024 if sampler is None else sampler.stop()
    # a number that both implementations should agree on, to show they computed the same
    check = float(np.mean(out))
    del out
    for _ in range(request["repeats"] - 1):
        t0 = time.perf_counter()
        method(X)
        times.append(time.perf_counter() - t0)
    limit.__exit__(None, None, None)
    return {
        "seconds": min(times),
        "times": times,
        "peak_mb": (peak - baseline) / 2**20,
        "x_mb": X.nbytes / 2**20,
        "check": check,
        "memory_method": how,
    }


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
