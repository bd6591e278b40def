"""BayesianGaussianMixture against scikit-learn's, and its own sums against numpy.

Tolerances, and why:
- float64: both fit the same formulas from the same random_state (the same k-means
  labels, so the same start), in a different order of additions; 30 iterations keep
  every fitted attribute and per-sample output within ~1e-13 (measured). We assert
  rtol 1e-10 (the plain mixture's parity tolerance), with an absolute floor of 1e-10
  times the array's scale for arrays with entries near 0.
- float32: gmmfast float32 must be no further from scikit-learn's float64 answer than
  scikit-learn's float32 is (times 2, plus a 1e-6 floor): float32 data carry 6e-8
  relative error, which the iterations amplify in both.
- weights, memmap, dask: the same sums cut or ordered differently: rtol 1e-10.
"""

import copy
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SkBGM

from gmmfast import BayesianGaussianMixture, _sources, _variational

from _reference import make_data

COV_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]
K = 6
RTOL = 1e-10

ARRAYS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
          "mean_precision_", "degrees_of_freedom_", "mean_prior_", "covariance_prior_")
SCALARS = ("weight_concentration_prior_", "mean_precision_prior_",
           "degrees_of_freedom_prior_")


def _fit(cls, X, sample_weight=None, **kw):
    with warnings.catch_warnings():
        # tol=0: a fixed number of iterations, never "converged"
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = cls(**kw)
        return est.fit(X) if sample_weight is None else est.fit(X, sample_weight=sample_weight)


def _concentration(est):
    wc = est.weight_concentration_
    return np.concatenate(wc) if isinstance(wc, tuple) else np.asarray(wc)


def _close(a, b, rtol, name):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max(), err_msg=name)


def assert_bgm_close(ours, ref, X, rtol):
    for name in ARRAYS:
        _close(getattr(ours, name), getattr(ref, name), rtol, name)
    for name in SCALARS:
        assert getattr(ours, name) == pytest.approx(getattr(ref, name), rel=rtol), name
    _close(_concentration(ours), _concentration(ref), rtol, "weight_concentration_")
    # scikit-learn's 'tied' bound is a 1-element array: ravel
    _close(np.ravel(ours.lower_bounds_), np.ravel(np.asarray(ref.lower_bounds_, float)),
           rtol, "lower_bounds_")
    _close(ours.lower_bound_, np.ravel(ref.lower_bound_), rtol, "lower_bound_")
    assert ours.n_iter_ == ref.n_iter_
    assert ours.converged_ == ref.converged_
    ss = ref.score_samples(X)
    _close(ours.score_samples(X), ss, rtol, "score_samples")
    _close(ours.predict_proba(X), ref.predict_proba(X), rtol, "predict_proba")
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.score(X) == pytest.approx(ref.score(X), rel=rtol)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float64_matches_sklearn(covariance_type, prior_type):
    X = make_data(0)
    kw = dict(n_components=K, covariance_type=covariance_type, max_iter=30, tol=0.0,
              weight_concentration_prior_type=prior_type, random_state=0)
    ours = _fit(BayesianGaussianMixture, X, **kw)
    ref = _fit(SkBGM, X, **kw)
    assert_bgm_close(ours, ref, X, RTOL)
    # sample draws the same numbers from the same model
    a, b = ours.sample(50), ref.sample(50)
    _close(a[0], b[0], RTOL, "sample")
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("init_params", ["k-means++", "random", "random_from_data"])
def test_every_init_and_given_priors_match_sklearn(covariance_type, init_params):
    # features of scales 0.1 to 10 (with 1e-2 to 1e2, scikit-learn's raw moments'
    # 1e-11 error grows to 1e-9 in 25 iterations of a badly misspecified 'spherical')
    X = make_data(3, offset=5.0, scales=[0.1, 1.0, 10.0])
    D = X.shape[1]
    cov_prior = {"full": np.diag([1e-2, 1.0, 1e2]) * 2, "tied": np.diag([1e-2, 1.0, 1e2]),
                 "diag": np.array([1e-2, 1.0, 1e2]), "spherical": 3.0}[covariance_type]
    kw = dict(n_components=K, covariance_type=covariance_type, max_iter=25, tol=0.0,
              init_params=init_params, random_state=1, weight_concentration_prior=0.3,
              mean_precision_prior=0.5, mean_prior=X.mean(axis=0) + 1.0,
              degrees_of_freedom_prior=D + 1.5, covariance_prior=cov_prior)
    ours = _fit(BayesianGaussianMixture, X, **kw)
    ref = _fit(SkBGM, X, **kw)
    assert_bgm_close(ours, ref, X, RTOL)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_converged_fit_matches_sklearn(covariance_type):
    X = make_data(5, n=900)
    kw = dict(n_components=8, covariance_type=covariance_type, random_state=2, n_init=2,
              max_iter=500)
    ours = _fit(BayesianGaussianMixture, X, **kw)
    ref = _fit(SkBGM, X, **kw)
    assert ours.converged_
    assert_bgm_close(ours, ref, X, RTOL)
    np.testing.assert_array_equal(
        BayesianGaussianMixture(**kw).fit_predict(X), ref.predict(X))


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_as_close_as_sklearns_own(covariance_type, prior_type):
    X = make_data(1)
    kw = dict(n_components=K, covariance_type=covariance_type, max_iter=20, tol=0.0,
              weight_concentration_prior_type=prior_type, random_state=0)
    truth = _fit(SkBGM, X, **kw)
    ours = _fit(BayesianGaussianMixture, X.astype(np.float32), **kw)
    sk32 = _fit(SkBGM, X.astype(np.float32), **kw)
    for name in ARRAYS[:5] + ("mean_precision_",):
        assert getattr(ours, name).dtype == np.float32, name
        t = np.asarray(getattr(truth, name), dtype=np.float64)
        scale = np.abs(t).max()
        err_ours = np.abs(getattr(ours, name) - t).max() / scale
        err_sk = np.abs(np.asarray(getattr(sk32, name), dtype=np.float64) - t).max() / scale
        assert err_ours <= 2 * err_sk + 1e-6, (name, err_ours, err_sk)
    lb = float(np.ravel(truth.lower_bound_)[0])
    err_sk = abs(float(np.ravel(sk32.lower_bound_)[0]) - lb)
    assert abs(ours.lower_bound_ - lb) <= 2 * err_sk + 1e-6 * abs(lb)
    assert ours.score_samples(X.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_resp_entropy_sum_matches_a_direct_sum(covariance_type):
    """sum_i w_i sum_k r_ik log r_ik from the statistics equals the sum over an N x K
    array, also about a shift far from the origin and with weights."""
    X = make_data(2, offset=1e4)
    w = np.random.default_rng(0).uniform(0, 3, len(X))
    est = _fit(BayesianGaussianMixture, X, n_components=K, max_iter=5, tol=0.0,
               covariance_type=covariance_type, random_state=0)
    post = est._current_posterior()
    c = post.log_weights
    source = _sources.InMemorySource(X, w, covariance_type, K, 1)
    stats = source.stats(est.weights_, est.means_, est.precisions_cholesky_, c)
    ours = _variational.resp_entropy_sum(stats, c, post.means, post.prec_chol,
                                         covariance_type)
    direct, scale = _direct_entropy(source, est, w)
    # the terms cancel: hold the error to 1e-12 of their scale, sum_i w_i |lse_i|
    assert abs(ours - direct) <= 1e-12 * scale, (ours, direct, scale)
    assert ours < 0


def _direct_entropy(source, est, w):
    """sum_i w_i sum_k r_ik log r_ik over an N x K array, and sum_i w_i |lse_i|."""
    (resp,) = source.per_sample(est._kernel_model(np.float64), resp=True)
    log_resp = np.log(np.maximum(resp, np.finfo(float).tiny))
    (lse,) = source.per_sample(est._kernel_model(np.float64), lse=True)
    return float(np.sum(w[:, None] * resp * log_resp)), float(w @ np.abs(lse))


@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_resp_entropy_sum_through_the_moment_rows(offset):
    """With statistics taken on the moment rows, the sum comes from their weights W
    (SuffStats.moment_weights) instead of K traces: the same number as the traces and
    as a direct sum over an N x K array."""
    X = make_data(3, n=1200, d=10, offset=offset)
    w = np.random.default_rng(1).uniform(0, 3, len(X))
    est = _fit(BayesianGaussianMixture, X, n_components=K, max_iter=5, tol=0.0,
               random_state=0)
    post = est._current_posterior()
    c = post.log_weights
    source = _sources.InMemorySource(X, w, "full", K, 1)
    stats = source.stats(est.weights_, est.means_, est.precisions_cholesky_, c)
    # the Bayesian means, shrunk toward the prior mean, lie within the moment rows'
    # spread bound here; if they did not, this test would test nothing new
    assert stats.moment_weights is not None
    through_w = _variational.resp_entropy_sum(stats, c, post.means, post.prec_chol, "full")
    stats.moment_weights = None
    through_traces = _variational.resp_entropy_sum(stats, c, post.means, post.prec_chol,
                                                   "full")
    direct, scale = _direct_entropy(source, est, w)
    # as above: 1e-12 of sum_i w_i |lse_i|, the scale of the terms that cancel
    assert abs(through_w - direct) <= 1e-12 * scale, (through_w, direct, scale)
    assert abs(through_w - through_traces) <= 1e-12 * scale


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_integer_weights_equal_repeated_rows(covariance_type):
    X = make_data(4, n=300)
    counts = np.random.default_rng(1).integers(0, 4, len(X))
    # the same start: one iteration on X, then both continue from it
    start = _fit(BayesianGaussianMixture, X, n_components=K, max_iter=1, tol=0.0,
                 covariance_type=covariance_type, random_state=0, warm_start=True)
    a = copy.deepcopy(start).set_params(max_iter=20)
    b = copy.deepcopy(start).set_params(max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a.fit(X, sample_weight=counts.astype(float))
        b.fit(np.repeat(X, counts, axis=0))
    for name in ARRAYS:
        _close(getattr(a, name), getattr(b, name), RTOL, name)
    _close(_concentration(a), _concentration(b), RTOL, "weight_concentration_")
    _close(a.lower_bounds_, b.lower_bounds_, RTOL, "lower_bounds_")


def test_covariance_prior_from_weights_needs_weight_above_one():
    X = make_data(0, n=30)
    with pytest.raises(ValueError, match="sample_weight above 1"):
        BayesianGaussianMixture(n_components=2).fit(X, sample_weight=np.full(30, 0.01))
    # with a given covariance_prior the scale of the weights does not matter
    BayesianGaussianMixture(n_components=2, covariance_prior=np.eye(3)).fit(
        X, sample_weight=np.full(30, 0.01))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_threads_give_the_same_bits(covariance_type):
    X = make_data(6, n=30_000, d=5)   # N K (D + 2) > 2**19: a second thread runs
    kw = dict(n_components=8, covariance_type=covariance_type, max_iter=5, tol=0.0,
              random_state=0)
    one = _fit(BayesianGaussianMixture, X, n_threads=1, **kw)
    two = _fit(BayesianGaussianMixture, X, n_threads=2, **kw)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name), name)
    assert one.lower_bounds_ == two.lower_bounds_


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_memmap_and_dask_equal_in_memory(tmp_path, covariance_type):
    import dask.array as da   # the test extra installs dask: a missing one fails here
    X = make_data(7, n=900)
    mm = np.memmap(tmp_path / "X.f64", dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    kw = dict(n_components=K, covariance_type=covariance_type, max_iter=10, tol=0.0,
              random_state=0, n_threads=1)
    ref = _fit(BayesianGaussianMixture, X, **kw)
    for data in (np.memmap(tmp_path / "X.f64", dtype=np.float64, mode="r",
                           shape=X.shape),
                 da.from_array(X, chunks=(300, 3))):
        got = _fit(BayesianGaussianMixture, data, **kw)
        for name in ARRAYS:
            _close(getattr(got, name), getattr(ref, name), RTOL, name)
        _close(got.lower_bounds_, ref.lower_bounds_, RTOL, "lower_bounds_")
        _close(np.asarray(got.predict_proba(data)), ref.predict_proba(X), RTOL,
               "predict_proba")
        assert got.score(data) == pytest.approx(ref.score(X), rel=RTOL)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_unneeded_components_are_switched_off(prior_type):
    X = make_data(8, n=900)                  # three blobs
    est = _fit(BayesianGaussianMixture, X, n_components=10, random_state=0,
               weight_concentration_prior_type=prior_type,
               weight_concentration_prior=1e-3, max_iter=500)
    assert est.n_effective_components_ == 3
    assert np.sort(est.weights_)[-3:].sum() > 0.99

