"""Threads: same bits on any thread count, safe concurrent use, the GIL released."""

import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import gmmfast
from gmmfast import GaussianMixture, _estep, _mstep

COV_TYPES = ["full", "tied", "diag", "spherical"]
FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
          "lower_bound_", "n_iter_", "converged_")


def blobs(n, d, k, seed, dtype=np.float64, spread=5.0):
    rng = np.random.default_rng(seed)
    centres = spread * rng.normal(size=(k, d))
    X = centres[rng.integers(k, size=n)] + rng.normal(size=(n, d))
    return X.astype(dtype)


def fit(X, cov_type, n_threads, k=4, seed=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(k, covariance_type=cov_type, n_threads=n_threads,
                               max_iter=15, random_state=seed).fit(X)


def outputs(gm, X):
    """Every fitted array and every per-sample output, as bytes."""
    arrays = [np.asarray(getattr(gm, name)) for name in FITTED]
    arrays += [np.asarray(gm.lower_bounds_), gm.predict_proba(X), gm.score_samples(X),
               gm.predict(X)]
    return [(a.dtype, a.shape, a.tobytes()) for a in arrays]


@pytest.mark.parametrize("n_features", [3, 9])  # the loop path (D < 8) and the BLAS path
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_bit_identical_on_1_2_4_threads(cov_type, dtype, n_features):
    # 3001 rows: 12 blocks of 256, the last one partial, so chunks and blocks are
    # split over threads differently for 1, 2 and 4 threads
    X = blobs(3001, n_features, 4, seed=1, dtype=dtype)
    reference = outputs(fit(X, cov_type, 1), X)
    for n_threads in (2, 4):
        assert outputs(fit(X, cov_type, n_threads), X) == reference, n_threads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_bit_identical_far_apart(cov_type, dtype):
    # far-apart clusters: most responsibilities exactly 0 or subnormal, so most of the
    # small-D route's groups of rows are passed over
    X = blobs(3001, 4, 12, seed=3, dtype=dtype, spread=40.0)
    reference = outputs(fit(X, cov_type, 1, k=12), X)
    for n_threads in (2, 4):
        assert outputs(fit(X, cov_type, n_threads, k=12), X) == reference, n_threads


def test_predict_from_8_python_threads_equals_serial():
    X = blobs(4000, 5, 4, seed=2)
    gm = fit(X, "full", n_threads=2)
    parts = np.array_split(X, 8)
    serial = [(gm.predict(p), gm.predict_proba(p), gm.score_samples(p)) for p in parts]
    serial_all = (gm.predict(X), gm.predict_proba(X), gm.score_samples(X))

    def work(i):
        # each thread scores its own slice and the whole X, several times over
        results = []
        for _ in range(5):
            results.append((gm.predict(parts[i]), gm.predict_proba(parts[i]),
                            gm.score_samples(parts[i])))
            results.append((gm.predict(X), gm.predict_proba(X), gm.score_samples(X)))
        return results

    with ThreadPoolExecutor(8) as pool:
        per_thread = list(pool.map(work, range(8)))
    for i, results in enumerate(per_thread):
        for j, got in enumerate(results):
            expected = serial[i] if j % 2 == 0 else serial_all
            for a, b in zip(got, expected):
                np.testing.assert_array_equal(a, b)


def test_fitting_different_models_in_threads_equals_serial():
    jobs = [(cov_type, dtype, seed)
            for seed, cov_type in enumerate(COV_TYPES)
            for dtype in (np.float64, np.float32)]
    data = {job: blobs(1500, 4, 3, seed=10 + job[2], dtype=job[1]) for job in jobs}

    def run(job):
        cov_type, _, seed = job
        return outputs(fit(data[job], cov_type, n_threads=2, k=3, seed=seed), data[job])

    serial = [run(job) for job in jobs]
    with ThreadPoolExecutor(len(jobs)) as pool:
        concurrent = list(pool.map(run, jobs))
    assert concurrent == serial


# ------------------------------------------------------------------ the GIL

class Heartbeat:
    """A pure-Python thread that records the time every few thousand increments.

    It can only run while no other thread holds the GIL. A compiled call that holds
    the GIL for its whole duration leaves no heartbeat strictly inside it; one that
    releases it leaves many (the OS schedules a runnable thread within milliseconds,
    even on a loaded machine: we look at a window of hundreds of milliseconds).
    """

    def __init__(self):
        self.beats = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        n = 0
        while not self._stop:
            n += 1
            if n % 2000 == 0:
                self.beats.append(time.perf_counter())

    def __enter__(self):
        self._thread.start()
        while not self.beats:  # running before the measured call starts
            time.sleep(0.001)
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()

    def beats_inside(self, call):
        """Run call(); count the beats in the middle half of its interval.

        At the edges, where Python code runs, a thread switch can hand the heartbeat
        the GIL, and on a loaded or emulated machine the OS may then leave the caller
        waiting for a time slice or more (under qemu, 3 beats fell more than 50 ms
        inside a sort): that is not overlap. A call of 0.4 s or more keeps such switches out of
        its middle half, while a call that releases the GIL leaves beats all through.
        """
        t0 = time.perf_counter()
        call()
        t1 = time.perf_counter()
        quarter = (t1 - t0) / 4
        return sum(t0 + quarter < b < t1 - quarter for b in self.beats), t1 - t0


def _long_enough(make_call, seconds=0.4):
    """Grow the work until one call takes at least `seconds` (machines differ)."""
    size = 1
    while True:
        call = make_call(size)
        t0 = time.perf_counter()
        call()
        if time.perf_counter() - t0 >= seconds or size >= 4096:
            return call
        size *= 2


def test_kernels_release_the_gil():
    X = blobs(20000, 12, 8, seed=3)
    gm = fit(X[:3000], "full", n_threads=1, k=8)
    model = _estep.KernelModel("full", gm.weights_, gm.means_,
                               gm.precisions_cholesky_, X.dtype)
    big = {}

    def kernel_call(size):
        # at most 16 copies of X in memory; longer calls repeat the kernel call
        big["X"] = np.ascontiguousarray(np.tile(X, (min(size, 16), 1)))
        reps = max(1, size // 16)
        return lambda: [_estep.per_sample(big["X"], model, 1, lse=True, resp=True)
                        for _ in range(reps)]

    def gil_holding_call(size):
        # the negative control: list.sort of floats is C code that never releases
        # the GIL, so the detector must see no overlap with it
        values = np.random.default_rng(0).random(250_000 * size).tolist()
        return lambda: sorted(values)

    with Heartbeat() as heart:
        inside_sort, t_sort = heart.beats_inside(_long_enough(gil_holding_call))
        inside_kernel, t_kernel = heart.beats_inside(_long_enough(kernel_call))
    assert inside_sort == 0, f"the detector saw {inside_sort} beats in {t_sort:.2f}s of sort"
    # measured: thousands of beats in 0.4 s; 20 is far above zero and far below that
    assert inside_kernel >= 20, f"{inside_kernel} beats in {t_kernel:.2f}s of kernel"


def test_fit_releases_the_gil_in_the_estep():
    # the statistics kernel, as fit calls it
    X = blobs(20000, 12, 8, seed=4)
    gm = fit(X[:3000], "full", n_threads=1, k=8)
    model = _estep.KernelModel("full", gm.weights_, gm.means_,
                               gm.precisions_cholesky_, X.dtype)
    big = {}

    def stats_call(size):
        big["X"] = np.ascontiguousarray(np.tile(X, (min(size, 16), 1)))
        reps = max(1, size // 16)
        return lambda: [_estep.suff_stats(big["X"], None, model, 1) for _ in range(reps)]

    with Heartbeat() as heart:
        inside, t = heart.beats_inside(_long_enough(stats_call))
    assert inside >= 20, f"{inside} beats in {t:.2f}s of block_stats"
    assert isinstance(_estep.suff_stats(X, None, model, 1), _mstep.SuffStats)


def test_precision_cholesky_on_threads_is_the_serial_one():
    from gmmfast import _kernels

    rng = np.random.default_rng(5)
    A = rng.normal(size=(64, 20, 20))
    cov = A @ A.transpose(0, 2, 1) + 20 * np.eye(20)
    out1, out3 = np.empty_like(cov), np.empty_like(cov)
    assert _kernels.precision_cholesky(cov, out1, np.inf, 1) == -1
    assert _kernels.precision_cholesky(cov, out3, np.inf, 3) == -1
    np.testing.assert_array_equal(out1, out3)
    # the first failing component is reported, whichever thread met it
    cov[[17, 40]] = -np.eye(20)
    assert _kernels.precision_cholesky(cov, out3, np.inf, 3) == 17


def test_moment_weights_on_threads_are_the_serial_ones(monkeypatch):
    """The moment rows' weights (route_full_moments.pxi) built on 1 and 3 threads are
    the same to the bit, called directly and through the model (the formula itself:
    test_moment_rows.py)."""
    from gmmfast import _kernels

    rng = np.random.default_rng(6)
    K, D = 37, 19
    A = rng.normal(size=(K, D, D))
    cov = A @ A.transpose(0, 2, 1) / D + np.eye(D)
    U = np.ascontiguousarray(np.linalg.inv(np.linalg.cholesky(cov)).transpose(0, 2, 1))
    m = rng.normal(size=(K, D))
    V, spreads = _kernels.full_spreads(U, m)
    cst = rng.normal(size=K)
    W1 = _kernels.moment_weights(U, V, cst, spreads, 1)
    W3 = _kernels.moment_weights(U, V, cst, spreads, 3)
    np.testing.assert_array_equal(W1, W3)
    monkeypatch.setattr(_estep, "MOMENTS_MAX_SPREAD", np.inf)
    models = [_estep.KernelModel("full", np.full(K, 1 / K), m, U, np.float64, n_threads=t)
              for t in (1, 3)]
    assert models[0].route == _kernels.ROUTE_FULL_MOMENTS
    np.testing.assert_array_equal(models[0].moment_weights, models[1].moment_weights)


_CONTROLLER_CHILD = """
import numpy as np
from gmmfast import {est}, _threads
X = np.random.default_rng(0).standard_normal(({n}, {d}))
g = {est}(n_components=3, covariance_type="{cov}", init_params="random_from_data",
          random_state=0).fit(X)
g.predict(X); g.score_samples(X); g.score(X)
print(_threads._controller is not None)
"""


@pytest.mark.parametrize("est", ["GaussianMixture", "BayesianGaussianMixture"])
@pytest.mark.parametrize("cov, d, n, built", [
    ("full", 2, 500, False), ("full", 7, 500, False), ("full", 8, 500, True),
    ("diag", 2, 500, True), ("full", 2, 2**16, True)])
def test_thread_pools_are_scanned_only_for_kernels_that_call_blas(est, cov, d, n, built):
    # 'full' with D < 8 calls no BLAS (the Bayesian mixture's entropy too): building
    # threadpoolctl's controller (a scan of every loaded library) would cost more than
    # a small fit, and without its limit a BLAS call would leave BLAS's threads
    # spinning. From BLAS_LIMIT_MIN_ROWS rows the initialisation's sums over all rows
    # would wake them: such a fit holds BLAS to one thread
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c",
                           _CONTROLLER_CHILD.format(est=est, cov=cov, d=d, n=n)],
                          capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(gmmfast.__file__)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == str(built)
