"""partial_fit: stepwise EM over batches, and the statistics algebra under it."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gmmfast import GaussianMixture, _estep, _mstep, _online

from _reference import make_data

COV_TYPES = ["full", "tied", "diag", "spherical"]
K = 3


def stream(seed=1, n=50_000):
    X = make_data(seed, n=n + 10_000, d=4, offset=50.0)
    X = X[np.random.default_rng(0).permutation(len(X))]
    return X[:n], X[n:]


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_stream_reaches_the_batch_fit(covariance_type):
    X, X_test = stream()
    batch = GaussianMixture(K, covariance_type=covariance_type, random_state=0).fit(X)
    online = GaussianMixture(K, covariance_type=covariance_type, random_state=0)
    # a small first batch gives a rough start, which the stream must improve
    online.partial_fit(X[:150])
    first = online.score(X)
    for start in range(150, len(X), 1000):
        online.partial_fit(X[start:start + 1000])
    assert online.n_iter_ == 51
    for data in (X, X_test):
        ref = batch.score(data)
        # within 1% of the batch fit's mean log-likelihood (measured: < 0.05%)
        assert abs(online.score(data) - ref) < 0.01 * abs(ref)
    # and much closer than the start was (measured: 10x to 100x closer)
    assert abs(online.score(X) - batch.score(X)) < 0.25 * abs(first - batch.score(X))


def test_first_call_initialises_from_the_batch_like_fit():
    X, _ = stream(n=2000)
    online = GaussianMixture(K, random_state=0).partial_fit(X)
    # fit's first iteration: the same initialisation, one E-step and one M-step
    one_step = GaussianMixture(K, random_state=0, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one_step.fit(X)
    for name in ("weights_", "means_", "covariances_"):
        # the running statistics are per unit weight: the same M-step up to rounding
        np.testing.assert_allclose(getattr(online, name), getattr(one_step, name),
                                   rtol=1e-12)
    assert online.lower_bound_ == one_step.lower_bound_
    assert online.converged_ is False


def test_partial_fit_after_fit_continues_from_the_fit():
    X, X_test = stream(n=20_000)
    gm = GaussianMixture(K, random_state=0).fit(X[:10_000])
    before = gm.score(X_test)
    means = gm.means_.copy()
    gm.partial_fit(X[10_000:11_000])
    # a step, not a restart: eta_1 = 0.52 blends the batch with fit's statistics
    assert gm._online_t == 2
    assert np.abs(gm.means_ - means).max() < 0.1
    assert abs(gm.score(X_test) - before) < 1e-3 * abs(before)


def test_integer_weights_equal_repeated_rows_in_a_stream():
    X, _ = stream(n=3000)
    w = np.random.default_rng(2).integers(1, 4, size=len(X))
    init = dict(means_init=X[:K], weights_init=np.full(K, 1 / K),
                precisions_init=np.array([np.eye(4) / 20.0] * K))
    a, b = GaussianMixture(K, **init), GaussianMixture(K, **init)
    for s in range(0, len(X), 1000):
        a.partial_fit(X[s:s + 1000], sample_weight=w[s:s + 1000])
        b.partial_fit(np.repeat(X[s:s + 1000], w[s:s + 1000], axis=0))
    for name in ("weights_", "means_", "covariances_"):
        # the same sums in another order: a few ulps per step
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10)


def test_feature_count_is_checked_across_calls():
    X, _ = stream(n=2000)
    gm = GaussianMixture(K, random_state=0).partial_fit(X[:1000])
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is "
                                         "expecting 4 features"):
        gm.partial_fit(X[1000:, :3])
    gm.partial_fit(X[1000:])  # still usable
    assert gm.n_features_in_ == 4


def test_first_batch_needs_n_components_rows():
    X, _ = stream(n=2000)
    with pytest.raises(ValueError, match="first batch.*at least n_components = 3"):
        GaussianMixture(K).partial_fit(X[:2])
    gm = GaussianMixture(K, random_state=0).partial_fit(X[:100])
    gm.partial_fit(X[100:101])  # later batches may be a single row


@pytest.mark.parametrize("kw, match", [
    (dict(step_size_power=0.0), "step_size_power must be in \\(0, 1\\]"),
    (dict(step_size_power=1.5), "step_size_power must be in \\(0, 1\\]"),
    (dict(step_size_power=np.nan), "finite"),
    (dict(step_size_offset=-1.0), "step_size_offset must be >= 0"),
    (dict(step_size_offset="2"), "finite real"),
])
def test_bad_schedule_raises(kw, match):
    X, _ = stream(n=500)
    with pytest.raises(ValueError, match=match):
        GaussianMixture(K).partial_fit(X, **kw)


def test_step_size_schedule():
    assert _online.step_size(0) == 1.0
    np.testing.assert_allclose(_online.step_size(1), 3 ** -0.6, rtol=1e-15)
    np.testing.assert_allclose(_online.step_size(10, 1.0, 0.0), 0.1, rtol=1e-15)
    # power 1, offset 1: eta_t = 1 / (t + 1), so the running statistics are the plain
    # average of the batches' statistics
    X, _ = stream(n=3000)
    gm = GaussianMixture(K, random_state=0).partial_fit(X[:1000])
    stats = [gm._online_stats]
    for s in (1000, 2000):
        model = _estep.KernelModel("full", gm.weights_, gm.means_,
                                   gm.precisions_cholesky_, np.float64)
        batch = _estep.suff_stats(X[s:s + 1000], None, model, 1)
        stats.append(_online.scaled(batch, 1e-3))
        gm.partial_fit(X[s:s + 1000], step_size_power=1.0, step_size_offset=1.0)
    shift = gm._online_stats.shift
    mean = sum((_online.reshift(st, shift, "full") for st in stats[1:]),
               _online.reshift(stats[0], shift, "full"))
    np.testing.assert_allclose(gm._online_stats.N, mean.N / 3, rtol=1e-12)
    np.testing.assert_allclose(gm._online_stats.S2, mean.S2 / 3, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_reshift_keeps_the_m_step(covariance_type):
    """Statistics about any shift give the same M-step (up to rounding)."""
    X = make_data(7, n=900, d=3, offset=30.0)
    gm = GaussianMixture(K, covariance_type=covariance_type, random_state=0).fit(X)
    model = _estep.KernelModel(covariance_type, gm.weights_, gm.means_,
                               gm.precisions_cholesky_, np.float64)
    stats = _estep.suff_stats(X, None, model, 1)
    new_shift = stats.shift + np.random.default_rng(0).normal(size=stats.shift.shape)
    moved = _online.reshift(stats, new_shift, covariance_type)
    assert np.array_equal(moved.shift, new_shift)
    eps = np.finfo(np.float64).eps
    a = _mstep.m_step(stats, covariance_type, 1e-6, eps)
    b = _mstep.m_step(moved, covariance_type, 1e-6, eps)
    for x, y in zip(a, b):
        # moving by ~1 against data 30 from the origin: a few ulps of 30^2
        np.testing.assert_allclose(x, y, rtol=1e-11, atol=1e-11 * np.abs(y).max())


def test_reshift_matches_moments_taken_directly():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3)) + 5
    R = rng.dirichlet(np.ones(K), size=200)
    m_old, m_new = rng.normal(size=(K, 3)), rng.normal(size=(K, 3))

    def moments(m):
        S1 = np.einsum("ik,ikd->kd", R, X[:, None, :] - m)
        S2 = np.einsum("ik,ikd,ike->kde", R, X[:, None, :] - m, X[:, None, :] - m)
        return _mstep.SuffStats(R.sum(0), S1, S2, 0.0, 200.0, m)

    moved = _online.reshift(moments(m_old), m_new, "full")
    direct = moments(m_new)
    np.testing.assert_allclose(moved.S1, direct.S1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(moved.S2, direct.S2, rtol=1e-12, atol=1e-11)
