"""The 'diag', 'spherical' and 'tied' routes' sums by per-component lists of the
responsibilities not exactly 0 (route_diag.pxi, _linear_moments; csrc/feature_rows.h,
gmm_nonzero_lists and gmm_moment_rows_axpy) against the moments kernel
(csrc/diag_products.h, gmm_diag_moments).

A cost model picks one of the two per block of rows; both take each sum's terms in row
order with the same operation, and a term with a responsibility of exactly 0 adds
nothing, so every fit must be the same to the bit whichever runs. The data: clusters
far apart (nearly every row's responsibilities are exactly 0 but one), two of them
overlapping (rows with several), and feature counts whose feature rows leave every
remainder of the kernels' column tiles and of the lists' groups of 8 rows.
"""

import hashlib
import os

import numpy as np
import pytest

from gmmfast import GaussianMixture, _kernels

from _isa_builds import vector_build_outputs

# four iterations from a fixed start, not to convergence
pytestmark = pytest.mark.filterwarnings("ignore:Best performing initialization")

K = 10
#: feature rows of 8, 36, 76 ('diag'), 4, 20, 40 ('spherical') columns
FEATURES = [3, 17, 37]
ALWAYS_LISTS = (0, 0)          # any block: lists (their cost never above the kernel's)
NEVER_LISTS = (0, 10 ** 9)     # no block: the kernel


def _data(d, dtype, seed=0, n=2_003):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=40.0, size=(K, d))
    means[1] = means[0] + 0.5              # two clusters that share their rows
    labels = rng.integers(K, size=n)
    X = means[labels] + rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=(K, d))[labels]
    return X.astype(dtype), means


def _fit_bytes(cov, d, dtype, weighted, cost, n_threads=2):
    X, means = _data(d, dtype)
    w = np.random.default_rng(1).uniform(0.1, 3.0, X.shape[0]) if weighted else None
    old = _kernels.linear_sparse_cost()
    _kernels.linear_sparse_cost(*cost)
    try:
        gm = GaussianMixture(K, covariance_type=cov, means_init=means, max_iter=4, tol=0,
                             random_state=0,
                             n_threads=n_threads).fit(X, sample_weight=w)
    finally:
        _kernels.linear_sparse_cost(*old)
    h = hashlib.sha256()
    for a in (gm.weights_, gm.means_, gm.covariances_, gm.precisions_cholesky_,
              np.float64(gm.lower_bound_)):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest(), gm


@pytest.mark.parametrize("cov", ["diag", "spherical", "tied"])
@pytest.mark.parametrize("d", FEATURES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_lists_and_kernel_give_the_same_fit(cov, d, dtype, weighted):
    lists, gm = _fit_bytes(cov, d, dtype, weighted, ALWAYS_LISTS)
    kernel, _ = _fit_bytes(cov, d, dtype, weighted, NEVER_LISTS)
    default, _ = _fit_bytes(cov, d, dtype, weighted, _kernels.linear_sparse_cost())
    assert lists == kernel == default
    assert np.isfinite(gm.lower_bound_)
    # the data are what the lists are for: most responsibilities exactly 0 (64-70% at
    # D = 3, where the fitted components reach further; over 80% from D = 17), and
    # rows with several not 0 besides
    R = gm.predict_proba(_data(d, dtype)[0])
    assert (R == 0).mean() > 0.6
    assert ((R > 0).sum(axis=1) > 1).any()


@pytest.mark.parametrize("cov", ["diag", "tied"])
def test_lists_on_any_thread_count(cov):
    one, _ = _fit_bytes(cov, 17, np.float64, True, ALWAYS_LISTS, n_threads=1)
    two, _ = _fit_bytes(cov, 17, np.float64, True, ALWAYS_LISTS, n_threads=2)
    assert one == two


def test_cost_model_setting_round_trips():
    old = _kernels.linear_sparse_cost()
    try:
        assert _kernels.linear_sparse_cost(5, 7) == (5, 7)
        assert _kernels.linear_sparse_cost() == (5, 7)
    finally:
        _kernels.linear_sparse_cost(*old)
    assert _kernels.linear_sparse_cost() == old


_CHILD = """
import sys
sys.path.insert(0, {here!r})
import test_linear_moments as t
import numpy as np
out = []
for cov in ("diag", "spherical", "tied"):
    for d in t.FEATURES:
        lists = t._fit_bytes(cov, d, np.float64, True, t.ALWAYS_LISTS)[0]
        kernel = t._fit_bytes(cov, d, np.float64, True, t.NEVER_LISTS)[0]
        out.append(lists if lists == kernel else "differ")
print(" ".join(out))
"""


def test_lists_agree_between_the_vector_builds():
    # the AVX-512 build packs the lists with vcompresspd; the AVX2 build's plain C
    # writes each entry: the same lists, the same sums, each equal to its kernel's
    here = os.path.dirname(os.path.abspath(__file__))
    got = vector_build_outputs(_CHILD.format(here=here))
    assert "differ" not in got["avx512"].split()
    assert got["avx2"] == got["avx512"]


def test_lists_equal_the_kernel_in_the_baseline_build():
    # the baseline build: plain C lists, each product rounded before its sum
    import subprocess
    import sys

    import gmmfast

    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, GMMFAST_ISA="baseline",
               PYTHONPATH=os.path.dirname(os.path.dirname(gmmfast.__file__)))
    proc = subprocess.run([sys.executable, "-c", _CHILD.format(here=here)],
                          capture_output=True, text=True, timeout=300, cwd="/", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "differ" not in proc.stdout.split()
