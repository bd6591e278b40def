"""Fits on data read piece by piece: np.memmap and other row-sliceable arrays.

Tolerances: a chunked pass adds the statistics of pieces of ``rows_per_read`` rows,
the in-memory pass those of the kernel's own chunks of N / n_chunks rows; the
per-block arithmetic is identical (pieces start on block boundaries), only the order
of the float64 additions of block sums differs. 20 EM iterations keep float64 fits
within ~3e-15 (measured); we assert rtol 1e-12. They are not bit-for-bit equal:
matching the in-memory chunks exactly would mean reading N / 64 rows at a time, which
grows with N.
"""

import functools
import json
import os
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import gmmfast
from gmmfast import GaussianMixture, _init, _sources

import _reference
from _reference import explicit_init, fit20, make_data

COV_TYPES = ["full", "tied", "diag", "spherical"]
K = 3
RTOL = 1e-12
assert_same_model = functools.partial(_reference.assert_same_model, rtol=RTOL)


@pytest.fixture
def small_pieces(monkeypatch):
    """Pieces of 4 blocks (1024 rows) for 3 features, so that a test fit reads many."""
    monkeypatch.setattr(_sources, "READ_BYTES", 1024 * 8 * 3)
    assert _sources.rows_per_read(3) == 1024


def as_memmap(tmp_path, X, name="X.dat"):
    path = tmp_path / name
    mm = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    return np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)


# 5000 rows: 4 full pieces of 1024 rows and a last one of 904
X_OFF = make_data(5, n=5001, d=3, offset=1e3)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_memmap_fit_equals_in_memory_fit(tmp_path, small_pieces, covariance_type):
    X = X_OFF
    mm = as_memmap(tmp_path, X)
    init = explicit_init(X, covariance_type)
    assert_same_model(fit20(mm, covariance_type, **init), fit20(X, covariance_type, **init))
    # with init_params: X is smaller than the subsample cap, so the chunked fit
    # initialises from all rows with the same random draws as the in-memory fit
    assert_same_model(fit20(mm, covariance_type, random_state=0),
                      fit20(X, covariance_type, random_state=0))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_weighted_memmap_fit_equals_in_memory_fit(tmp_path, small_pieces, covariance_type):
    X = X_OFF
    w = np.random.default_rng(0).uniform(0, 3, size=len(X))
    mm, wm = as_memmap(tmp_path, X), as_memmap(tmp_path, w, "w.dat")
    init = explicit_init(X, covariance_type)
    assert_same_model(fit20(mm, covariance_type, sample_weight=wm, **init),
                      fit20(X, covariance_type, sample_weight=w, **init))


def test_int16_memmap_is_converted_piece_by_piece(tmp_path, small_pieces):
    X = np.round(X_OFF * 10).astype(np.int16)
    mm = as_memmap(tmp_path, X)
    chunked = fit20(mm, "full", random_state=0)
    assert chunked.means_.dtype == np.float64
    assert_same_model(chunked, fit20(X.astype(np.float64), "full", random_state=0))


def test_float32_memmap_stays_float32(tmp_path, small_pieces):
    X = X_OFF.astype(np.float32)
    chunked = fit20(as_memmap(tmp_path, X), "full", random_state=0)
    in_memory = fit20(X, "full", random_state=0)
    assert chunked.means_.dtype == np.float32
    # the parameters are rounded to float32 before each E-step, so a last-bit
    # difference of the float64 sums can flip a float32 rounding: ~1e-7 relative
    # per iteration, amplified over 20 iterations; 1e-5 is what float32 allows
    assert_same_model(chunked, in_memory, rtol=1e-5)


class RowSliceable:
    """A minimal row-sliceable array (like h5py or zarr) that logs what is read."""

    def __init__(self, X):
        self._X = X
        self.shape, self.dtype = X.shape, X.dtype
        self.reads = []

    def __getitem__(self, key):
        rows = self._X[key]
        self.reads.append(len(rows))
        return rows


def test_row_sliceable_array_is_read_in_bounded_pieces(small_pieces):
    X = RowSliceable(X_OFF)
    chunked = fit20(X, "diag", random_state=0)
    assert max(X.reads) == 1024  # never more than one piece at a time
    # every pass reads every row once: the initialisation (X is below the subsample
    # cap: all rows) and the 20 iterations
    assert sum(X.reads) == 21 * len(X_OFF)
    assert_same_model(chunked, fit20(X_OFF, "diag", random_state=0))
    np.testing.assert_array_equal(chunked.predict(X), chunked.predict(X_OFF))


def test_large_input_initialises_from_a_bounded_subsample(tmp_path, monkeypatch):
    monkeypatch.setattr(_sources, "INIT_MAX_ROWS", 600)
    assert _sources.init_sample_size(len(X_OFF), K, 3) == 600
    seen = []
    original = _init.initial_assignments

    def spy(X, *args, **kwargs):
        seen.append(X.shape[0])
        return original(X, *args, **kwargs)

    monkeypatch.setattr(_init, "initial_assignments", spy)
    mm = as_memmap(tmp_path, X_OFF)
    gm = GaussianMixture(K, random_state=0, n_init=2).fit(mm)
    assert seen == [600, 600]
    # in-memory data is used whole
    GaussianMixture(K, random_state=0).fit(X_OFF)
    assert seen[-1] == len(X_OFF)
    # and the subsample start still finds the model of the full-data start
    ref = GaussianMixture(K, random_state=0).fit(X_OFF)
    np.testing.assert_allclose(gm.score(X_OFF), ref.score(X_OFF), rtol=1e-6)


def test_init_sample_size_formula():
    # min(N, max(50 K, min(100_000, 2**26 // (8 D))))
    assert _sources.init_sample_size(10**9, 3, 10) == 100_000
    assert _sources.init_sample_size(10**9, 3, 1000) == 2**26 // 8000
    assert _sources.init_sample_size(10**9, 1000, 1000) == 50_000
    assert _sources.init_sample_size(500, 3, 10) == 500


def test_subsample_rows_are_distinct_sorted_and_uniform():
    rs = np.random.RandomState(0)
    counts = np.zeros(1000)
    for _ in range(200):
        rows = _sources.subsample_rows(1000, 300, rs)
        assert rows.size == 300 and np.all(np.diff(rows) > 0)
        assert rows[0] >= 0 and rows[-1] < 1000
        counts[rows] += 1
    # each row is drawn with probability 0.3: 60 of 200 times, sd 6.5
    assert abs(counts.mean() - 60) < 1e-12
    assert counts.min() > 60 - 6 * 6.5 and counts.max() < 60 + 6 * 6.5
    np.testing.assert_array_equal(_sources.subsample_rows(10, 10, rs), np.arange(10))


def test_nan_in_memmap_names_the_row(tmp_path, small_pieces):
    X = X_OFF.copy()
    X[3000, 1] = np.nan
    mm = as_memmap(tmp_path, X)
    with pytest.raises(ValueError, match="NaN in row 3000"):
        GaussianMixture(K, means_init=X_OFF[:3]).fit(mm)
    with pytest.raises(ValueError, match="NaN in row 3000"):
        GaussianMixture(K, random_state=0).fit(mm)  # found by the init pass


def test_memmap_with_wrong_feature_count_or_dtype(tmp_path):
    gm = GaussianMixture(K, random_state=0).fit(X_OFF)
    with pytest.raises(ValueError, match="X has 2 features, but GaussianMixture is "
                                         "expecting 3 features"):
        gm.predict(as_memmap(tmp_path, X_OFF[:, :2].copy()))
    bad = np.memmap(tmp_path / "c.dat", dtype=np.complex128, mode="w+", shape=(10, 3))
    with pytest.raises(ValueError, match="numeric"):
        GaussianMixture(K).fit(bad)


def test_inference_on_memmap_equals_in_memory(tmp_path, small_pieces):
    gm = GaussianMixture(K, random_state=0).fit(X_OFF)
    mm = as_memmap(tmp_path, X_OFF)
    # per-row outputs do not depend on how rows are grouped: bit-for-bit equal
    np.testing.assert_array_equal(gm.predict(mm), gm.predict(X_OFF))
    np.testing.assert_array_equal(gm.predict_proba(mm), gm.predict_proba(X_OFF))
    np.testing.assert_array_equal(gm.score_samples(mm), gm.score_samples(X_OFF))
    # a sum in another order
    np.testing.assert_allclose(gm.score(mm), gm.score(X_OFF), rtol=1e-13)
    w = np.random.default_rng(1).uniform(size=len(X_OFF))
    np.testing.assert_allclose(gm.score(mm, sample_weight=w),
                               gm.score(X_OFF, sample_weight=w), rtol=1e-13)
    np.testing.assert_array_equal(
        GaussianMixture(K, random_state=0).fit_predict(mm), gm.predict(X_OFF))


def test_float32_score_on_memmap_is_the_mean_of_score_samples(tmp_path, small_pieces):
    X32 = X_OFF.astype(np.float32)
    gm = GaussianMixture(K, random_state=0).fit(X32)
    mm = as_memmap(tmp_path, X32)
    samples = gm.score_samples(mm)
    assert samples.dtype == np.float32
    # the float32 values score_samples returns, summed in float64 piece by piece
    samples = samples.astype(np.float64)
    np.testing.assert_allclose(gm.score(mm), samples.mean(), rtol=1e-13)
    w = np.random.default_rng(2).uniform(size=len(X32))
    np.testing.assert_allclose(gm.score(mm, sample_weight=w),
                               np.average(samples, weights=w), rtol=1e-13)


def test_finiteness_check_needs_no_array_the_size_of_x():
    # np.isfinite(X) of the whole of X is one byte an entry (6.4 MB here): the check
    # goes a piece of rows at a time, so its temporaries stay near _FINITE_CHECK_BYTES
    from gmmfast import _validation

    X = np.random.default_rng(0).normal(size=(400_000, 16)).astype(np.float32)
    tracemalloc.start()
    try:
        _validation.check_finite(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * _validation._FINITE_CHECK_BYTES, peak
    X[345_678, 7] = np.nan
    with pytest.raises(ValueError, match=r"NaN in 1 row \(first: row 345678\)"):
        _validation.check_finite(X)
    X[345_678, 7] = np.inf
    with pytest.raises(ValueError, match=r"infinity \(inf\) in 1 row \(first: row 345678\)"):
        _validation.check_finite(X)


# ------------------------------------------------------------------ memory demo

_CHILD = r"""
import faulthandler, json, resource, sys, time, warnings
import numpy as np
faulthandler.dump_traceback_later(60, exit=True)  # a hang fails with a traceback
from gmmfast import GaussianMixture

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

path, dtype, n, d, budget = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
warnings.simplefilter("ignore")
# warm up thread pools, BLAS buffers and k-means before the limit is set
warm = np.random.default_rng(0).normal(size=(20000, d)).astype(dtype)
GaussianMixture(3, max_iter=2, random_state=0).fit(warm)
data0, anon0 = status("VmData"), status("RssAnon")
# RLIMIT_DATA caps the private (heap and anonymous) memory; the read-only shared
# mapping of the file does not count against it
resource.setrlimit(resource.RLIMIT_DATA, (data0 + budget, data0 + budget))
X = np.memmap(path, dtype=dtype, mode="r", shape=(n, d))
try:
    np.asarray(X, dtype=np.float64)  # what converting X whole would need
    copy_fails = False
except MemoryError:
    copy_fails = True
# whether a private allocation beyond the limit succeeds at all: only where it does is
# the limit unenforced (as opposed to too loose for the copy above)
try:
    probe = np.ones(2 * budget // 8)
    copy_allowed_beyond_limit = True
    del probe
except MemoryError:
    copy_allowed_beyond_limit = False
if not copy_fails and copy_allowed_beyond_limit:
    # the limit is not enforced (the parent skips): no fit to show under it, and the
    # fit of the whole file would only spend minutes under emulation
    print(json.dumps(dict(copy_fails=copy_fails,
                          copy_allowed_beyond_limit=copy_allowed_beyond_limit)))
    sys.exit(0)
t = time.perf_counter()
gm = GaussianMixture(3, max_iter=2, tol=0, random_state=0).fit(X)
print(json.dumps(dict(
    copy_fails=copy_fails, copy_allowed_beyond_limit=copy_allowed_beyond_limit,
    seconds=time.perf_counter() - t,
    means=gm.means_.astype(float).tolist(), dtype=str(gm.means_.dtype),
    anon_growth=status("RssAnon") - anon0, file_bytes=int(X.nbytes))))
"""


# RLIMIT_DATA and /proc/self/status are Linux's: macOS accepts the limit without
# enforcing it on mmap'd memory, and Windows has neither
@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="needs Linux's RLIMIT_DATA and /proc/self/status")
@pytest.mark.parametrize("dtype, n, budget_mib", [
    # 192 MB of float32 under 32 MiB: no conversion, pieces are views of the file
    ("float32", 6_000_000, 32),
    # 64 MB of float16, converted piece by piece to float64 (256 MB if whole);
    # a piece is READ_BYTES = 16 MiB of float64
    ("float16", 4_000_000, 32),
])
def test_fit_memmap_larger_than_allowed_memory(tmp_path, dtype, n, budget_mib):
    d = 8
    centres = np.array([[-10.0] * d, [0.0] * d, [10.0] * d])
    path = tmp_path / "big.dat"
    mm = np.memmap(path, dtype=dtype, mode="w+", shape=(n, d))
    rng = np.random.default_rng(0)
    step = 1_000_000
    for s in range(0, n, step):
        mm[s:s + step] = centres[rng.integers(0, 3, size=step)] + rng.standard_normal(
            (step, d))
    mm.flush()
    del mm
    budget = budget_mib * 2**20
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), dtype, str(n), str(d), str(budget)],
        capture_output=True, text=True, env=env, timeout=90,
        cwd=os.path.dirname(os.path.dirname(gmmfast.__file__)),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    print(res)  # shown with pytest -s: time, anonymous memory growth
    if not res["copy_fails"] and res["copy_allowed_beyond_limit"]:
        # the copy got more than the limit: the kernel is not enforcing it (qemu-user
        # maps the guest's memory itself), so this run cannot show the fit under it
        pytest.skip("RLIMIT_DATA is not enforced here (e.g. under qemu-user)")
    assert res["copy_fails"], "the limit must be tight enough to forbid a copy of X"
    # the file, or its float64 conversion, is over 7 times the memory allowed
    assert res["file_bytes"] * (8 // np.dtype(dtype).itemsize) >= 7 * budget
    assert res["anon_growth"] < budget
    assert res["dtype"] == ("float32" if dtype == "float32" else "float64")
    means = np.array(sorted(res["means"], key=lambda m: m[0]))
    # float16 rounds values near 10 to 2**-7: the means carry that error
    np.testing.assert_allclose(means, centres, atol=0.02)
