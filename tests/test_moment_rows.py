"""The 'full' moment rows route's statistics when most responsibilities of some rows are
exactly 0 (route_full_moments.pxi, _moments_split; csrc/feature_rows.h,
gmm_moment_rows_axpy).

Those rows are summed one component at a time and the rest in one GEMM. The data here
are a few broad components and many tight ones, all near the mixture mean (so the
route runs): the broad components' rows lie so far out in the tight components'
metric that their responsibilities there are exactly 0, and the rows near the centre
are shared by many components. Both halves run, with feature counts that leave every
kind of remainder in the kernel's column tiles.
"""

import os

import numpy as np
import pytest

from gmmfast import _estep, _kernels

from _isa_builds import vector_build_outputs
from _reference import log_prob

#: D: moment rows of 55, 105 and 325 columns: the vector builds' tiles of 8 vectors,
#: their single vectors and their last columns one at a time all run.
FEATURES = [9, 13, 24]
#: float32 data run the moment rows below _estep.FULL32_MIN_FEATURES features only
FEATURES32 = [d for d in FEATURES if d < _estep.FULL32_MIN_FEATURES]
K = 12
EPS = np.finfo(np.float64).eps
N_BROAD = 3


def _mixture(d, seed=0, n=1500):
    rng = np.random.default_rng(seed)
    means = 20.0 + rng.normal(scale=0.3, size=(K, d))
    sd = np.where(np.arange(K) < N_BROAD, 4.0, 0.3)
    A = rng.normal(size=(K, d, d)) / np.sqrt(d)
    cov = (A @ A.transpose(0, 2, 1) * 0.2 + np.eye(d)) * (sd ** 2)[:, None, None]
    labels = rng.integers(K, size=n)
    L = np.linalg.cholesky(cov)
    X = means[labels] + np.einsum("nij,nj->ni", L[labels], rng.normal(size=(n, d)))
    weights = np.full(K, 1.0 / K)
    return X, weights, means, cov


def _model(weights, means, cov, dtype):
    U = np.linalg.inv(np.linalg.cholesky(cov)).transpose(0, 2, 1)
    model = _estep.KernelModel("full", weights, means, U, dtype)
    assert model.route == _kernels.ROUTE_FULL_MOMENTS
    return model


def _reference(X, w, weights, means, cov, c):
    """N, S1, S2 about c and L, from the responsibilities of the float64 reference."""
    lp = log_prob(X, weights, means, cov, "full")
    mx = lp.max(1, keepdims=True)
    lse = mx[:, 0] + np.log(np.exp(lp - mx).sum(1))
    R = np.exp(lp - lse[:, None]) * w[:, None]
    Z = X - c
    return R, R.sum(0), R.T @ Z, np.einsum("nk,na,nb->kab", R, Z, Z), w @ lse


@pytest.mark.parametrize("d", FEATURES)
@pytest.mark.parametrize("weighted", [False, True])
def test_statistics_with_sparse_rows_are_the_formula(d, weighted):
    X, weights, means, cov = _mixture(d)
    w = np.random.default_rng(1).uniform(0.2, 2.0, len(X)) if weighted else None
    model = _model(weights, means, cov, np.float64)
    stats = _estep.suff_stats(X, w, model, 2)
    ones = np.ones(len(X)) if w is None else w
    R, N, S1, S2, L = _reference(X, ones, weights, means, cov, model.shift)
    # the fixture runs both halves: rows with at most K/3 responsibilities not 0 (the
    # per-component sums) and rows with more (the GEMM)
    nonzero = (R != 0).sum(1)
    assert 0.1 < (3 * nonzero <= K).mean() < 0.9
    # Rounding: the moment rows expand the log-densities about c, off by eps times the
    # components' spread about c (here <= ~D in their metric) times |lp| (~1e3 for the
    # far rows); the responsibilities that matter move by that relative, and the sums
    # by eps times the rows' squared distances from c.
    scale = ones.sum()
    np.testing.assert_allclose(stats.N, N, rtol=0, atol=1e-11 * scale)
    spread = np.abs(X - model.shift).max()
    np.testing.assert_allclose(stats.S1, S1, rtol=0, atol=1e-11 * scale * spread)
    np.testing.assert_allclose(stats.S2, S2, rtol=0, atol=1e-11 * scale * spread ** 2)
    assert stats.L == pytest.approx(L, rel=1e-12)


@pytest.mark.parametrize("d", FEATURES32)
def test_statistics_with_sparse_rows_in_float32(d):
    X, weights, means, cov = _mixture(d)
    X32 = X.astype(np.float32)
    model = _model(weights, means, cov, np.float32)
    stats = _estep.suff_stats(X32, None, model, 2)
    R, N, S1, S2, L = _reference(X32.astype(np.float64), np.ones(len(X)), weights, means,
                                 cov, model.shift)
    # float32's normalisation (csrc/normalize.h) rounds the responsibilities to ~1e-7
    # relative; the sums stay in double
    n = len(X)
    spread = np.abs(X32 - model.shift).max()
    np.testing.assert_allclose(stats.N, N, rtol=0, atol=2e-6 * n)
    np.testing.assert_allclose(stats.S1, S1, rtol=0, atol=2e-6 * n * spread)
    np.testing.assert_allclose(stats.S2, S2, rtol=0, atol=2e-6 * n * spread ** 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_statistics_with_sparse_rows_on_any_thread_count(dtype):
    X, weights, means, cov = _mixture(13)
    X = X.astype(dtype)
    model = _model(weights, means, cov, dtype)
    got = [_estep.suff_stats(X, None, model, t) for t in (1, 2, 3)]
    for s in got[1:]:
        for a in ("N", "S1", "S2", "L"):
            np.testing.assert_array_equal(getattr(s, a), getattr(got[0], a))


def _factors(K, D, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(K, D, D))
    cov = A @ A.transpose(0, 2, 1) / D + np.eye(D)
    U = np.ascontiguousarray(np.linalg.inv(np.linalg.cholesky(cov)).transpose(0, 2, 1))
    return U, rng.normal(size=(K, D)), rng.normal(size=K)


#: D: gmm_moment_weights' rows of one group of 4 vectors, of two (past 32), the row
#: padding's edges (31, 32, 33) and the smallest triangles
WEIGHT_FEATURES = [1, 2, 3, 9, 31, 32, 33, 41, 70]


@pytest.mark.parametrize("D", WEIGHT_FEATURES)
def test_moment_weights_are_the_formula(D):
    """W_k = [-0.5 P_aa | -P_ab (a > b), P_k m_k, cst_k - 0.5 m_k' P_k m_k], P_k = U_k U_k^T,
    against numpy. Each entry is a sum of at most D products, taken in another order
    by numpy: they differ by at most a few D eps times the sum of the products' sizes."""
    K = 5
    U, m, cst = _factors(K, D)
    V, spreads = _kernels.full_spreads(U, m)
    np.testing.assert_allclose(V, np.einsum("kd,kde->ke", m, U), rtol=0,
                               atol=4 * D * EPS * np.einsum("kd,kde->ke", abs(m), abs(U)).max())
    np.testing.assert_allclose(spreads, (V * V).sum(axis=1), rtol=4 * D * EPS)
    W = _kernels.moment_weights(U, V, cst, spreads, 2)
    P = U @ U.transpose(0, 2, 1)
    Pabs = abs(U) @ abs(U).transpose(0, 2, 1)
    rows, cols = np.tril_indices(D)
    T = rows.size
    scale = np.where(rows == cols, -0.5, -1.0)
    np.testing.assert_allclose(W[:, :T], P[:, rows, cols] * scale, rtol=0,
                               atol=4 * D * EPS * Pabs.max())
    Pm = np.einsum("kde,ke->kd", P, m)
    # P m as U (U^T m): the rounding of V's sums, carried by |U|, and U's own sums
    bound = 4 * D * EPS * np.einsum("kde,ke->kd", abs(U), np.einsum("kd,kde->ke", abs(m), abs(U)))
    assert np.all(abs(W[:, T:T + D] - Pm) <= bound)
    np.testing.assert_array_equal(W[:, T + D], cst - 0.5 * spreads)
    assert W.shape == (K, T + D + 1)


def test_model_takes_means_of_any_layout(monkeypatch):
    """The missing-values path builds models from column selections of the means
    (means[:, observed], not C-contiguous): the moment rows' weights are the same as
    from the same means in C order."""
    monkeypatch.setattr(_estep, "MOMENTS_MAX_SPREAD", np.inf)
    K, D = 4, 9
    U, m, _ = _factors(K, D)
    wide = np.concatenate([m, np.ones((K, 3))], axis=1)
    views = [m, np.asfortranarray(m), wide[:, np.arange(D)], wide[:, :D]]
    assert not views[2].flags.c_contiguous and not views[3].flags.c_contiguous
    models = [_estep.KernelModel("full", np.full(K, 1 / K), v, U, np.float64)
              for v in views]
    assert models[0].route == _kernels.ROUTE_FULL_MOMENTS
    for model in models[1:]:
        np.testing.assert_array_equal(model.moment_weights, models[0].moment_weights)


def test_moment_weights_check_their_shapes():
    U, m, cst = _factors(3, 4)
    V, spreads = _kernels.full_spreads(U, m)
    for args in ((U, V[:2], cst, spreads), (U, V, cst[:2], spreads),
                 (U, V, cst, spreads[:2]), (np.ascontiguousarray(U[:, :3, :3]), V, cst, spreads)):
        with pytest.raises(ValueError, match="shapes do not match"):
            _kernels.moment_weights(*args, 1)
    with pytest.raises(ValueError, match="shapes do not match"):
        _kernels.full_spreads(U, np.ascontiguousarray(m[:, :3]))


_WEIGHTS_CHILD = """
import hashlib, sys
import numpy as np
sys.path.insert(0, {here!r})
import test_moment_rows as t
from gmmfast import _kernels
h = hashlib.sha256()
for D in t.WEIGHT_FEATURES:
    U, m, cst = t._factors(7, D)
    V, spreads = _kernels.full_spreads(U, m)
    h.update(_kernels.moment_weights(U, V, cst, spreads, 2).tobytes())
print(h.hexdigest())
"""


def test_moment_weights_agree_to_the_bit_in_the_vector_builds():
    """gmm_moment_weights takes one fused multiply-add a term in every vector build, in
    the same order whatever its vectors' width."""
    here = os.path.dirname(os.path.abspath(__file__))
    got = vector_build_outputs(_WEIGHTS_CHILD.format(here=here))
    assert got["avx2"] == got["avx512"]


_CHILD = """
import hashlib, sys
import numpy as np
sys.path.insert(0, {here!r})
import test_moment_rows as t
from gmmfast import _estep
h = hashlib.sha256()
for d in t.FEATURES:
    X, weights, means, cov = t._mixture(d)
    for dtype in (np.float64, np.float32) if d in t.FEATURES32 else (np.float64,):
        s = _estep.suff_stats(X.astype(dtype), None, t._model(weights, means, cov, dtype), 2)
        for a in (s.N, s.S1, s.S2, np.array([s.L])):
            h.update(np.ascontiguousarray(a).tobytes())
print(h.hexdigest())
"""


def test_vector_builds_agree_to_the_bit():
    """gmm_moment_rows_axpy takes one fused multiply-add a term in every vector build,
    whatever its vectors' width: the AVX2 and AVX-512 builds sum the same."""
    here = os.path.dirname(os.path.abspath(__file__))
    got = vector_build_outputs(_CHILD.format(here=here))
    assert got["avx2"] == got["avx512"]
