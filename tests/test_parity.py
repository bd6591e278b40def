"""gmmfast against scikit-learn and a plain numpy reference, from the same start.

Tolerances, and why:
- float64, data near the origin: both libraries compute the same formulas in a
  different order; 20 EM iterations keep them within ~1e-13 (measured). We assert
  rtol 1e-10, leaving room for BLAS kernels that sum in another order on other CPUs.
- float64, data offset by 1e4: scikit-learn forms tied/diag/spherical second moments
  about zero, so it loses eps * (1e4 / sigma)^2 ~ 1e-8 relative per M-step; gmmfast
  centres them. gmmfast is held to the exact numpy reference at 1e-10, scikit-learn
  only to 1e-6 (its own error, not ours).
- float32: the data and every product carry 2^-24 ~ 6e-8 relative error and EM
  amplifies it over iterations; we require gmmfast float32 to be no further from the
  float64 answer than scikit-learn float32 is (times 2, plus a 1e-6 floor).
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

from gmmfast import GaussianMixture, _estep, _kernels

import _reference
from _reference import explicit_init, make_data

COV_TYPES = ["full", "tied", "diag", "spherical"]
K = 3


def fit_both(X, covariance_type, max_iter=20, tol=0.0, **extra):
    init = explicit_init(X, covariance_type)
    kw = dict(covariance_type=covariance_type, max_iter=max_iter, tol=tol, **init, **extra)
    with pytest.warns(Warning) if tol == 0 else _nothing():
        sk = SkGaussianMixture(K, **kw).fit(X)
    with pytest.warns(Warning) if tol == 0 else _nothing():
        gf = GaussianMixture(K, **kw).fit(X)
    return sk, gf


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def assert_models_close(gf, sk, X, rtol, atol_proba, first_bound_rtol=None):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        a, b = getattr(gf, name), getattr(sk, name)
        assert a.dtype == b.dtype, name
        scale = np.abs(b).max()
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, err_msg=name)
    assert gf.n_iter_ == sk.n_iter_
    assert gf.converged_ == sk.converged_
    np.testing.assert_allclose(gf.lower_bound_, sk.lower_bound_, rtol=rtol)
    np.testing.assert_allclose(gf.lower_bounds_[1:], sk.lower_bounds_[1:], rtol=rtol)
    np.testing.assert_allclose(gf.lower_bounds_[0], sk.lower_bounds_[0],
                               rtol=first_bound_rtol or rtol)
    np.testing.assert_allclose(gf.predict_proba(X), sk.predict_proba(X), atol=atol_proba)
    # log-likelihoods cross zero: absolute tolerance on their scale
    ss = sk.score_samples(X)
    np.testing.assert_allclose(gf.score_samples(X), ss, rtol=rtol, atol=rtol * np.abs(ss).max())
    np.testing.assert_array_equal(gf.predict(X), sk.predict(X))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("scales", [None, [1e-3, 1.0, 1e3]], ids=["unit", "badly-scaled"])
def test_float64_matches_sklearn(covariance_type, scales):
    X = make_data(0, scales=scales)
    sk, gf = fit_both(X, covariance_type)
    assert_models_close(gf, sk, X, rtol=1e-10, atol_proba=1e-10)


# 'full' runs one of three routes (_estep.choose_route): feature-major loops (D < 8);
# from D = 8, while every component is within MOMENTS_MAX_SPREAD (squared Mahalanobis
# distance) of the mixture mean, moment rows about that mean (two GEMMs for all
# components); otherwise per component about each mean (a triangular kernel and a rank
# update of our own). Each must match scikit-learn, near the origin and far from it, in
# float64 and float32, below and above D = 32. The spread is forced (0 or inf) so that
# each test runs the route it names (except float32 from FULL32_MIN_FEATURES features
# on, which runs about each mean in float32 products).
SMALL, MEANS, MOMENTS = (_kernels.ROUTE_FULL_SMALL, _kernels.ROUTE_FULL_MEANS,
                         _kernels.ROUTE_FULL_MOMENTS)
FULL_PATHS = pytest.mark.parametrize(
    "d, spread, code",
    [(3, None, SMALL), (12, 0.0, MEANS), (41, 0.0, MEANS), (12, np.inf, MOMENTS),
     (40, np.inf, MOMENTS)],
    # the triangular kernel (a row a lane, four columns of y at a time): 12 = 3 x 4
    # columns, 41 = 10 x 4 + 1 (padded); the square sums' 8 positions filled once (12)
    # or five times (41); 1500 rows leave blocks with a partial last group of rows
    ids=["loops", "tri12", "tri41", "moments12", "moments40"])


def full_path(monkeypatch, spread):
    if spread is not None:
        monkeypatch.setattr(_estep, "MOMENTS_MAX_SPREAD", spread)


def kernel_code(gm, dtype):
    """The kernel route the fitted model's passes run (_estep.KernelModel.route)."""
    return _estep.KernelModel(gm.covariance_type, gm.weights_, gm.means_,
                              gm.precisions_cholesky_, dtype).route


@FULL_PATHS
def test_every_full_kernel_matches_sklearn(d, spread, code, monkeypatch):
    full_path(monkeypatch, spread)
    X = make_data(8, n=1500, d=d)
    sk, gf = fit_both(X, "full")
    assert kernel_code(gf, X.dtype) == code
    assert_models_close(gf, sk, X, rtol=1e-10, atol_proba=1e-10)


@FULL_PATHS
def test_every_full_kernel_matches_exact_reference_far_from_origin(d, spread, code,
                                                                   monkeypatch):
    full_path(monkeypatch, spread)
    X = make_data(9, n=1500, d=d, offset=1e4)
    init = explicit_init(X, "full")
    gf = GaussianMixture(K, covariance_type="full", max_iter=10, tol=0, **init)
    with pytest.warns(Warning):
        gf.fit(X)
    assert kernel_code(gf, X.dtype) == code
    cov0 = _reference.precisions_to_covariances(init["precisions_init"], "full")
    w, mu, cov, bounds = _reference.em(
        X, init["weights_init"], init["means_init"], cov0, "full", 10
    )
    np.testing.assert_allclose(gf.weights_, w, rtol=1e-10)
    np.testing.assert_allclose(gf.means_, mu, rtol=1e-12)
    np.testing.assert_allclose(gf.covariances_, cov, rtol=1e-10, atol=1e-10 * np.abs(cov).max())
    np.testing.assert_allclose(gf.lower_bounds_, bounds, rtol=1e-12)


@FULL_PATHS
def test_every_full_kernel_float32_as_accurate_as_sklearn_float32(d, spread, code,
                                                                  monkeypatch):
    full_path(monkeypatch, spread)
    X64 = make_data(10, n=1500, d=d)
    X32 = X64.astype(np.float32)
    sk64, gf64 = fit_both(X64, "full", max_iter=10)
    sk32, gf32 = fit_both(X32, "full", max_iter=10)
    # float32 from FULL32_MIN_FEATURES features on: per component whatever the spread
    assert kernel_code(gf32, np.float32) == (
        MEANS if d >= _estep.FULL32_MIN_FEATURES else code)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        truth = getattr(gf64, name)
        err_gf = np.abs(getattr(gf32, name) - truth).max() / np.abs(truth).max()
        err_sk = np.abs(getattr(sk32, name) - truth).max() / np.abs(truth).max()
        assert err_gf <= 2 * err_sk + 1e-6, (name, err_gf, err_sk)


# The float32 per-component kernels (route_full_means.pxi) take 16 rows a lane group, U in column
# blocks of 4, the scatter in 4 x 16 tiles of D rounded up to 16 columns, and add a
# component's rows in double when fewer than 8 have a non-zero responsibility: these
# shapes leave a remainder in each (D mod 4, 8 and 16; n mod 16), and 5 far rows make a
# component of their own (the few-rows path).
@pytest.mark.parametrize("d, n", [(16, 256), (17, 203), (23, 1000), (33, 517), (64, 300)])
def test_float32_full_kernel_tiles_as_accurate_as_sklearn_float32(d, n):
    X64 = make_data(10, n=n, d=d)
    X64 = np.vstack([X64, 50 + np.random.default_rng(0).normal(size=(5, d))])
    X32 = X64.astype(np.float32)
    # reg_covar keeps the 5-row component positive definite in 64 dimensions
    kw = dict(covariance_type="full", max_iter=10, tol=0, random_state=0, reg_covar=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gf64 = GaussianMixture(K + 1, **kw).fit(X64)
        gf32 = GaussianMixture(K + 1, **kw).fit(X32)
        sk32 = SkGaussianMixture(K + 1, **kw).fit(X32)
    assert kernel_code(gf32, np.float32) == MEANS
    assert np.isclose(gf32.weights_, 5 / len(X32), rtol=1e-3).any()
    # measured: at most 1.3 times scikit-learn's float32 error (means), most below it
    # (precisions_cholesky_ 1.2e-5 against 6.5e-5 at d = 16)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        truth = getattr(gf64, name)
        err_gf = np.abs(getattr(gf32, name) - truth).max() / np.abs(truth).max()
        err_sk = np.abs(getattr(sk32, name) - truth).max() / np.abs(truth).max()
        assert err_gf <= 2 * err_sk, (name, err_gf, err_sk)


# The 'diag' kernels (csrc/diag_products.h) work in tiles of 4 rows x 12 components and 4 components
# x 12 feature-row columns (AVX2; AVX-512: 32 and 32, in vectors of 8), over sub-blocks
# of 64 rows, with the feature rows padded to a multiple of 4 columns: these shapes
# leave a remainder in every one of them (K mod 4, 8, 12 and 32, 2D mod 4 and 8, n mod
# 4 and mod 64, a block shorter than 64).
@pytest.mark.parametrize("n_components, d, n", [
    (1, 1, 5), (5, 3, 67), (13, 2, 130), (25, 17, 1003), (4, 16, 256)])
def test_diag_kernel_tiles_match_sklearn(n_components, d, n):
    rng = np.random.default_rng(n_components)
    X = rng.normal(size=(n, d)) + rng.integers(0, 4, size=(n, 1)) * 3.0
    init = explicit_init(X, "diag", K=n_components)
    kw = dict(covariance_type="diag", max_iter=5, tol=0, **init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkGaussianMixture(n_components, **kw).fit(X)
        gf = GaussianMixture(n_components, **kw).fit(X)
    assert_models_close(gf, sk, X, rtol=1e-10, atol_proba=1e-10)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_expands_about_the_shift_the_kernel_sees(covariance_type):
    # float32 rows are x - c with c rounded to float32; the constants, the weights and
    # the statistics' shift must use that same c, or every mean moves by c - float32(c)
    # (~4e-4 here). 'full' expands about c in its moment rows.
    X64 = make_data(6, n=1500, d=12, offset=1e4)
    X32 = X64.astype(np.float32)
    init = explicit_init(X64, covariance_type)
    cov = _reference.precisions_to_covariances(init["precisions_init"], covariance_type)
    U = _compute_precision_cholesky(cov, covariance_type)
    models = [_estep.KernelModel(covariance_type, init["weights_init"], init["means_init"],
                                 U, dt) for dt in (np.float32, np.float64)]
    assert models[0].route == models[1].route
    assert covariance_type != "full" or models[0].route == MOMENTS
    np.testing.assert_array_equal(models[0].shift,
                                  models[0].shift.astype(np.float32).astype(np.float64))
    # the same float32 values through either dtype's kernel: both expand exactly in
    # double, but float32 data normalises in float32 (responsibilities to ~6e-8
    # relative, times |x - mean| of a few units: ~2e-7; measured 2e-8). The shift's
    # rounding alone would move the means by ~4e-4.
    means = []
    for m, data in zip(models, (X32, X32.astype(np.float64))):
        st = _estep.suff_stats(data, None, m, 1)
        means.append(np.atleast_2d(st.shift) + st.S1 / st.N[:, None])
    np.testing.assert_allclose(means[0], means[1], rtol=0, atol=1e-6)


# atol: with overlapping components in 3 features the float32 log-densities (about the
# float32 means) move the responsibilities: measured 4.7e-5; at 12 and 20 features
# (far apart) 1e-8. About the float32 means, the statistics moved every mean by ~4.6e-4.
@pytest.mark.parametrize("d, atol", [(3, 1e-4), (12, 1e-6), (20, 1e-6)])
def test_float32_full_statistics_about_the_double_means(d, atol):
    # 'full' per component (small-D loops at 3, the float32 kernels of
    # route_full_means.pxi at 12 and 20) reports its statistics about the means in double: the kernels must take
    # them about those, not about their float32 rounding
    X64 = make_data(6, n=1500, d=d, offset=1e4)
    X32 = X64.astype(np.float32)
    gm = GaussianMixture(K, covariance_type="full", max_iter=1, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X32.astype(np.float64))
    assert np.abs(gm.means_ - gm.means_.astype(np.float32)).max() > 1e-4
    means = []
    for dt in (np.float32, np.float64):
        m = _estep.KernelModel("full", gm.weights_, gm.means_, gm.precisions_cholesky_, dt)
        assert m.route == (SMALL if d < _kernels.SMALL_FEATURES else MEANS)
        st = _estep.suff_stats(X32.astype(dt), None, m, 1)
        means.append(st.shift + st.S1 / st.N[:, None])
    np.testing.assert_allclose(means[0], means[1], rtol=0, atol=atol)


def test_moments_run_only_while_components_are_near_the_mixture_mean():
    # the default bound picks moment rows for overlapping blobs, and the per-component
    # kernels for tight components far apart (where the expansion would cost digits)
    X = make_data(8, n=1500, d=12)
    gm = GaussianMixture(K, covariance_type="full", random_state=0).fit(X)
    spread = np.einsum("kd,kde->ke", gm.means_ - gm.weights_ @ gm.means_,
                       gm.precisions_cholesky_)
    spread = (spread ** 2).sum(1).max()
    assert kernel_code(gm, np.float64) == (
        MOMENTS if spread <= _estep.MOMENTS_MAX_SPREAD else MEANS)
    tight = np.vstack([make_data(s, n=300, d=12) * 1e-3 + 10.0 * s for s in range(3)])
    gm = GaussianMixture(K, covariance_type="full", random_state=0).fit(tight)
    assert kernel_code(gm, np.float64) == MEANS


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_converged_fit_matches_sklearn(covariance_type):
    """With a real tolerance both stop at the same iteration."""
    X = make_data(1)
    sk, gf = fit_both(X, covariance_type, max_iter=200, tol=1e-6)
    assert sk.converged_ and gf.converged_
    assert_models_close(gf, sk, X, rtol=1e-10, atol_proba=1e-10)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_default_init_matches_sklearn(covariance_type):
    """Same random_state, default kmeans init: the same model as scikit-learn."""
    X = make_data(2)
    kw = dict(covariance_type=covariance_type, random_state=3)
    sk = SkGaussianMixture(K, **kw).fit(X)
    gf = GaussianMixture(K, **kw).fit(X)
    assert_models_close(gf, sk, X, rtol=1e-10, atol_proba=1e-10)


@pytest.mark.parametrize("init_params", ["k-means++", "random", "random_from_data"])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_every_init_matches_sklearn(init_params, covariance_type):
    X = make_data(3)
    kw = dict(covariance_type=covariance_type, random_state=5, init_params=init_params,
              max_iter=30, n_init=2)
    sk = SkGaussianMixture(K, **kw)
    gf = GaussianMixture(K, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X)
        gf.fit(X)
    # k-means++ and random_from_data start from covariances reg_covar * I: the first
    # log-likelihoods are ~ -5e6, where scikit-learn's raw expansion for diag and
    # spherical loses eps * 1e6 * |x|^2 (~4e-8 relative). gmmfast's first bound is
    # checked against the exact reference instead.
    assert_models_close(gf, sk, X, rtol=1e-9, atol_proba=1e-9, first_bound_rtol=1e-7)
    init_only = GaussianMixture(K, **dict(kw, max_iter=0, n_init=1)).fit(X)
    first = GaussianMixture(K, **dict(kw, max_iter=1, n_init=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first.fit(X)
    lp = _reference.log_prob(X, init_only.weights_, init_only.means_,
                             init_only.covariances_, covariance_type)
    exact = float(np.mean(np.log(np.exp(lp - lp.max(1, keepdims=True)).sum(1)) + lp.max(1)))
    np.testing.assert_allclose(first.lower_bounds_[0], exact, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_offset_data_matches_exact_reference(covariance_type):
    X = make_data(4, offset=1e4)
    init = explicit_init(X, covariance_type)
    gf = GaussianMixture(K, covariance_type=covariance_type, max_iter=10, tol=0, **init)
    with pytest.warns(Warning):
        gf.fit(X)
    cov0 = _reference.precisions_to_covariances(init["precisions_init"], covariance_type)
    w, mu, cov, bounds = _reference.em(
        X, init["weights_init"], init["means_init"], cov0, covariance_type, 10
    )
    np.testing.assert_allclose(gf.weights_, w, rtol=1e-10)
    np.testing.assert_allclose(gf.means_, mu, rtol=1e-12)
    np.testing.assert_allclose(gf.covariances_, cov, rtol=1e-10, atol=1e-10 * np.abs(cov).max())
    np.testing.assert_allclose(gf.lower_bounds_, bounds, rtol=1e-12)
    # scikit-learn's raw second moments lose ~eps*(1e4/sigma)^2 here: agree to 1e-6
    sk = SkGaussianMixture(K, covariance_type=covariance_type, max_iter=10, tol=0, **init)
    with pytest.warns(Warning):
        sk.fit(X)
    np.testing.assert_allclose(gf.covariances_, sk.covariances_, rtol=1e-6)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_as_accurate_as_sklearn_float32(covariance_type):
    X64 = make_data(5)
    X32 = X64.astype(np.float32)
    sk64, gf64 = fit_both(X64, covariance_type, max_iter=10)
    sk32, gf32 = fit_both(X32, covariance_type, max_iter=10)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        truth = getattr(gf64, name)
        assert getattr(gf32, name).dtype == np.float32, name
        err_gf = np.abs(getattr(gf32, name) - truth).max() / np.abs(truth).max()
        err_sk = np.abs(getattr(sk32, name) - truth).max() / np.abs(truth).max()
        assert err_gf <= 2 * err_sk + 1e-6, (name, err_gf, err_sk)
    assert gf32.score_samples(X32).dtype == np.float32
    assert gf32.predict_proba(X32).dtype == np.float32


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_offset_data_stays_accurate(covariance_type):
    """Offset 1e4 in float32: scikit-learn's raw moments break down; ours do not."""
    X64 = make_data(6, offset=1e4)
    X32 = X64.astype(np.float32)
    init = explicit_init(X64, covariance_type)
    kw = dict(covariance_type=covariance_type, max_iter=10, tol=0, **init)
    with pytest.warns(Warning):
        gf64 = GaussianMixture(K, **kw).fit(X32.astype(np.float64))
    with pytest.warns(Warning):
        gf32 = GaussianMixture(K, **kw).fit(X32)
    # X32 itself is rounded to ~1e4 * 6e-8 = 6e-4 absolute; relative to a unit-scale
    # covariance, EM carries that through at the 1e-3 level.
    np.testing.assert_allclose(gf32.covariances_, gf64.covariances_, rtol=5e-3,
                               atol=5e-3 * np.abs(gf64.covariances_).max())
    np.testing.assert_allclose(gf32.means_, gf64.means_, rtol=1e-6)
    assert np.all(np.isfinite(gf32.score_samples(X32)))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_thread_count_does_not_change_a_bit(covariance_type, dtype, monkeypatch):
    # enough rows for many blocks and chunks, and D large enough for the BLAS paths;
    # passes this small would run on one thread, so lift that threshold
    monkeypatch.setattr(_estep, "MIN_WORK_PER_THREAD", 1)
    rng = np.random.default_rng(7)
    for d in (3, 12, 40):
        X = (rng.normal(size=(5000, d)) + 3 * rng.integers(0, 3, size=(5000, 1))).astype(dtype)
        fits = []
        for n_threads in (1, 2, 3):
            gm = GaussianMixture(4, covariance_type=covariance_type, random_state=0,
                                 max_iter=15, tol=0, n_threads=n_threads)
            with pytest.warns(Warning):
                gm.fit(X)
            fits.append(gm)
        for other in fits[1:]:
            for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
                np.testing.assert_array_equal(getattr(other, name), getattr(fits[0], name))
            assert other.lower_bounds_ == fits[0].lower_bounds_
            np.testing.assert_array_equal(other.score_samples(X), fits[0].score_samples(X))


def test_small_passes_use_one_thread_large_ones_all():
    assert _estep._threads_for(8, 1000, 3, 2) == 1
    assert _estep._threads_for(8, 10**6, 5, 2) == 8
    assert _estep._threads_for(8, 1000, 50, 50) == 8  # small N: 8 equal blocks


def test_block_sizes_split_small_passes_evenly():
    assert _estep.block_size(10**6, 5, 2) == _estep.BLOCK_SIZE
    assert _estep.block_size(1000, 3, 2) == _estep.BLOCK_SIZE  # one thread's work
    for n in (600, 1797, 5000, 16000):
        b = _estep.block_size(n, 100, 40)
        n_blocks = -(-n // b)
        assert 1 <= b <= _estep.BLOCK_SIZE
        assert n_blocks % 8 == 0, (n, b)
    # large passes with many features: the smaller blocks
    assert _estep.block_size(10**6, 5, 40) == _estep.WIDE_BLOCK_SIZE
    assert _estep.BLOCK_SIZE % _estep.WIDE_BLOCK_SIZE == 0
    assert _estep._threads_for(1, 10**6, 5, 2) == 1


@pytest.mark.parametrize("K, D", [(3, 2), (5, 16), (40, 41)])
def test_compiled_full_m_step_is_the_numpy_formula_to_the_bit(K, D):
    # _kernels.m_step_full replaces a dozen numpy operations per iteration; it must
    # compute the same thing in the same order, starved components (N = 0) included
    from gmmfast import _kernels

    rng = np.random.default_rng(K)
    N = rng.random(K) * 100
    N[1] = 0.0
    S1 = rng.normal(size=(K, D))
    S1[1] = 0.0
    A = rng.normal(size=(K, D, D))
    S2 = A @ A.transpose(0, 2, 1)
    shift = rng.normal(size=(K, D)) * 1e3
    eps, reg = np.finfo(np.float64).eps, 1e-6
    nk = N + 10 * eps
    means = shift * (N / nk)[:, None] + S1 / nk[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        centring = np.where(N[:, None, None] > 0,
                            S1[:, :, None] * S1[:, None, :] / N[:, None, None], 0.0)
    cov = (S2 - centring) / nk[:, None, None] + reg * np.eye(D)
    got_means, got_cov = _kernels.m_step_full(N, S1, S2, shift, reg, eps)
    np.testing.assert_array_equal(got_means, means)
    np.testing.assert_array_equal(got_cov, cov)
