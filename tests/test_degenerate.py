"""Degenerate fits and extreme numerics: clear errors, never NaN/inf, right answers.

Tolerances against the float64 numpy reference (tests/_reference.py), and why:
- The reference computes every moment about each component's own mean in float64;
  gmmfast about a shift, with the M-step correcting exactly. Both are backward stable,
  so after n EM iterations they differ by a few eps times the conditioning of the
  data: eps * (offset / spread) for offset data, amplified by EM's contraction rate.
  Measured worst cases are listed next to each tolerance (TOL below); each tolerance
  is about 100x the measured error, so that other BLAS / CPUs pass and a real error
  (a lost shift correction costs (offset/spread)^2 eps ~ 1 at offset 1e6) fails.
- Covariances are compared per entry relative to sqrt(S_ii S_jj) (the scale of that
  entry), so features scaled by 1e-6 and 1e6 are held to the same relative accuracy.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import _gaussian_mixture as sk_gm

from gmmfast import GaussianMixture

import _reference
from _reference import make_data

COV_TYPES = ["full", "tied", "diag", "spherical"]


def assert_all_finite(gm, X):
    """Every fitted array and every output on X is finite; probabilities sum to 1."""
    for name in ("weights_", "means_", "covariances_", "precisions_",
                 "precisions_cholesky_", "lower_bound_"):
        value = np.asarray(getattr(gm, name))
        assert np.isfinite(value).all(), name
    assert np.isfinite(gm.lower_bounds_).all()
    proba = gm.predict_proba(X)
    assert np.isfinite(proba).all() and (proba >= 0).all()
    # K numbers each rounded once in X's dtype
    tol = gm.n_components * np.finfo(X.dtype).eps * 2
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=tol)
    assert np.isfinite(gm.score_samples(X)).all()
    labels = gm.predict(X)
    assert ((labels >= 0) & (labels < gm.n_components)).all()
    assert np.isfinite(gm.sample(10)[0]).all()


def _precision_init(cov_type, K, D, var):
    return {
        "full": np.array([np.diag(1 / var)] * K),
        "tied": np.diag(1 / var),
        "diag": np.array([1 / var] * K),
        "spherical": np.full(K, 1 / var.mean()),
    }[cov_type]


def _covariance_init(cov_type, K, var):
    return {
        "full": np.array([np.diag(var)] * K),
        "tied": np.diag(var),
        "diag": np.array([var] * K),
        "spherical": np.full(K, var.mean()),
    }[cov_type]


def fit_and_reference(X, cov_type, means, n_iter, reg_covar=1e-6, dtype=np.float64):
    """gmmfast and the reference EM, n_iter iterations from the same start."""
    K, D = means.shape
    # both fit the same (rounded) numbers from the same (rounded) start
    X = X.astype(dtype).astype(np.float64)
    means = means.astype(dtype).astype(np.float64)
    var = X.var(axis=0)
    gm = GaussianMixture(
        K, covariance_type=cov_type, max_iter=n_iter, tol=0.0, reg_covar=reg_covar,
        weights_init=np.full(K, 1 / K), means_init=means,
        precisions_init=_precision_init(cov_type, K, D, var),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X.astype(dtype))  # exact: X holds dtype's numbers
    # gmmfast's lower_bounds_[i] is the bound before M-step i, as the reference's
    ref = _reference.em(X, np.full(K, 1 / K), means, _covariance_init(cov_type, K, var),
                        cov_type, n_iter, reg_covar=reg_covar)
    return gm, ref


def assert_close_to_reference(gm, ref, tol):
    weights, means, cov, bounds = ref
    np.testing.assert_allclose(gm.weights_, weights, rtol=tol, atol=tol * 1e-3)
    # means: relative to each feature's largest spread (the offset carries no
    # information, and a mean is only known to a fraction of its cluster's spread)
    if gm.covariance_type in ("full", "tied"):
        variances = np.diagonal(cov, axis1=-2, axis2=-1)
    else:
        variances = cov
    spread = np.sqrt(np.max(np.atleast_1d(variances), axis=0))
    np.testing.assert_array_less(np.abs(gm.means_ - means) / spread, tol)
    if gm.covariance_type in ("full", "tied"):
        d = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
        scale = d[..., :, None] * d[..., None, :]
        np.testing.assert_array_less(np.abs(gm.covariances_ - cov) / scale, tol)
    else:
        np.testing.assert_allclose(gm.covariances_, cov, rtol=tol)
    np.testing.assert_allclose(gm.lower_bounds_, bounds, rtol=tol, atol=tol)


# ------------------------------------------------------------------- collapse

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cov_type", ["full", "diag", "spherical"])
def test_collapsing_component_is_named_with_the_fix(cov_type, dtype):
    # component 1 starts on five identical points far from the others: with
    # reg_covar=0 its variance becomes exactly 0
    rng = np.random.default_rng(0)
    blob = rng.normal(size=(60, 3))
    point = np.array([20.0, 20.0, 20.0])
    X = np.vstack([blob[:30], np.tile(point, (5, 1)), blob[30:]]).astype(dtype)
    means = np.array([blob[:30].mean(axis=0), point, blob[30:].mean(axis=0)])
    gm = GaussianMixture(3, covariance_type=cov_type, reg_covar=0.0, means_init=means,
                         weights_init=np.full(3, 1 / 3), max_iter=5,
                         precisions_init=_precision_init(cov_type, 3, 3, np.ones(3)))
    pattern = r"Component 1 .*Increase reg_covar \(now 0\), lower n_components \(now 3\)"
    if dtype == np.float32:
        pattern += r".*float64"
    with pytest.raises(ValueError, match=pattern):
        gm.fit(X)
    assert not hasattr(gm, "means_"), "a failed fit must not leave a half-fitted model"
    # the advice works: a little regularisation fits, and the component sits on the point
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.set_params(reg_covar=1e-6).fit(X)
    assert_all_finite(gm, X)
    np.testing.assert_allclose(gm.means_[1], point, rtol=1e-6)


def test_collapsing_shared_covariance_is_named():
    # every sample on one line: the tied covariance has rank 1
    t = np.random.default_rng(1).normal(size=(50, 1))
    X = t * np.array([[1.0, 2.0, -1.0]])
    with pytest.raises(ValueError, match=r"The shared covariance .*reg_covar.*n_components"):
        GaussianMixture(2, covariance_type="tied", reg_covar=0.0, random_state=0).fit(X)


# ----------------------------------------------- float32 variances (sklearn #30382)

@pytest.mark.parametrize("offset", [1e3, 1e4])
@pytest.mark.parametrize("cov_type", ["diag", "spherical"])
def test_float32_variances_are_never_negative(cov_type, offset):
    rng = np.random.default_rng(2)
    X = (offset + 1e-3 * rng.normal(size=(500, 3))).astype(np.float32)
    # the data is hostile: scikit-learn's formula E[x^2] - 2 E[x] mu + mu^2 in float32
    # gives a negative variance here (sklearn issue #30382), or exactly 0 where the
    # float32 products are fused (aarch64's BLAS at offset 1e3): no usable variance
    resp = np.ones((500, 1), dtype=np.float32)
    nk = resp.sum(axis=0) + 10 * np.finfo(np.float32).eps
    mu = resp.T @ X / nk[:, None]
    naive = getattr(sk_gm, f"_estimate_gaussian_covariances_{cov_type}")(resp, X, nk, mu, 0.0)
    assert naive.min() <= 0
    gm = GaussianMixture(1, covariance_type=cov_type, reg_covar=0.0).fit(X)
    assert gm.covariances_.dtype == np.float32
    assert (gm.covariances_ > 0).all()
    # one component: the M-step is the data's variance, accumulated in float64 about
    # the float32 mean; the only errors left are float32 roundings (6e-8) of the
    # result and of the shift. Measured: 4e-7 relative. Tolerance 1e-5.
    exact = X.astype(np.float64).var(axis=0)
    np.testing.assert_allclose(gm.covariances_[0],
                               exact if cov_type == "diag" else exact.mean(), rtol=1e-5)
    assert_all_finite(gm, X)


@pytest.mark.parametrize("cov_type", ["diag", "spherical"])
def test_float32_variances_positive_through_em(cov_type):
    # two tight blobs far from the origin, random starts, no regularisation: every
    # iteration's variances must stay positive (or the fit must say it collapsed)
    rng = np.random.default_rng(3)
    X = np.vstack([5e3 + 1e-2 * rng.normal(size=(300, 4)),
                   5e3 + 1.0 + 1e-2 * rng.normal(size=(300, 4))]).astype(np.float32)
    for seed in range(3):
        gm = GaussianMixture(2, covariance_type=cov_type, reg_covar=0.0,
                             random_state=seed).fit(X)
        assert (gm.covariances_ > 0).all()
        assert_all_finite(gm, X)


# ------------------------------------------------- extreme numerics vs reference

# tolerance per scenario (measured worst relative error over the covariance types in
# the comment); scenario -> (data, means_init, n_iter, reg_covar)
def _offset_data():
    X = make_data(11, offset=1e6)
    return X, X[[0, 250, 500]], 15, 1e-6


def _scaled_data():
    # features 1e-6 and 1e6 apart in scale; reg_covar far below the smallest variance
    X = make_data(12, scales=[1e-6, 1.0, 1e6])
    return X, X[[0, 250, 500]], 15, 1e-20


def _many_components():
    # K = 8 components on 3 clusters: several components share a cluster
    X = make_data(13)
    rows = np.random.default_rng(13).choice(len(X), 8, replace=False)
    return X, X[rows], 10, 1e-6


def _underflow():
    # two clusters 1e4 standard deviations apart: cross responsibilities are exp(-5e7)
    # = 0 exactly; a third component starts so far away (log-probability -4e4) that
    # its responsibilities are exactly 0: it starves (N = 0, nk = 10 eps), and as in
    # scikit-learn its mean goes to 0 and its covariance to reg_covar
    rng = np.random.default_rng(14)
    X = np.vstack([rng.normal(size=(200, 2)), 1e4 + rng.normal(size=(200, 2))])
    means = np.array([[0.5, 0.0], [1e4, 1e4 + 0.5], [1e6, -1e6]])
    return X, means, 10, 1e-6


# tolerance = about 100x the worst error measured over the covariance types and the
# iterations (weights, means / spread, covariances per entry, lower bounds):
SCENARIOS = {
    # measured 3e-10: the data carry eps * 1e6 absolute rounding, EM amplifies it
    "offset_1e6": (_offset_data, 1e-8),
    # measured 3e-14: scaling is exact in the algorithm (a change of units)
    "scaled_1e-6_1e6": (_scaled_data, 1e-12),
    # measured 5e-14
    "K_much_larger": (_many_components, 1e-12),
    # measured 2.4e-8, in 'tied'/'diag'/'spherical' only ('full': 2e-13): the kernels
    # accumulate those moments about one global shift c (the mixture mean), half way
    # between the clusters, so a variance carries eps * (|mu_k - c| / sigma_k)^2 =
    # 2.2e-16 * 5e7 = 1e-8 relative error. Tolerance 1e-6.
    "underflow": (_underflow, 1e-6),
}


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_extreme_numerics_match_the_reference(scenario, cov_type):
    make, tol = SCENARIOS[scenario]
    X, means, n_iter, reg_covar = make()
    gm, ref = fit_and_reference(X, cov_type, means, n_iter, reg_covar)
    assert_all_finite(gm, X)
    assert_close_to_reference(gm, ref, tol)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_extreme_numerics_float32_stay_finite(scenario, cov_type):
    make, _ = SCENARIOS[scenario]
    X, means, n_iter, reg_covar = make()
    if scenario == "scaled_1e-6_1e6":
        reg_covar = 1e-16  # float32 variances below ~1e-38 cannot be represented
    gm, ref = fit_and_reference(X, cov_type, means, n_iter, reg_covar, dtype=np.float32)
    assert gm.means_.dtype == np.float32
    assert_all_finite(gm, X.astype(np.float32))
    if scenario == "underflow":
        # the starved component's weight is 10 eps / n of X's dtype: 3e-9 in float32
        # (not 6e-18), enough for 'diag'/'spherical' to revive it at the origin, as
        # scikit-learn's float32 fit would: another optimum, not a comparable one
        return
    # the weights agree with the float64 reference on the same float32 numbers to
    # float32 accuracy amplified by EM: measured 1.5e-7 (tolerance 1e-5), except at
    # offset 1e6, where float32 stores each mean to 0.0625 (a few % of a cluster's
    # spread), which moves the responsibilities: measured 1.4e-3 (tolerance 1e-2)
    atol = 1e-2 if scenario == "offset_1e6" else 1e-5
    np.testing.assert_allclose(gm.weights_, ref[0], rtol=0, atol=atol)
