"""sample_weight: a weight is a count of repeated rows, everywhere it is accepted.

Tolerances: a weighted fit and a fit on repeated rows compute the same sums in a
different order (w_i * r_ik once versus r_ik added w_i times), so they differ by a few
ulps per iteration; 20 EM iterations from the same start keep them within ~1e-14
(measured). We assert rtol 1e-10 with an absolute floor of 1e-10 * the array's scale.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from gmmfast import GaussianMixture

from _reference import explicit_init, make_data

COV_TYPES = ["full", "tied", "diag", "spherical"]
K = 3
RTOL = 1e-10


def fit(X, covariance_type, init, sample_weight=None, max_iter=20):
    """init: 'explicit' (the same *_init for both fits) or an init_params value."""
    if init == "explicit":
        # the explicit start comes from the original rows, whatever X is
        kw = explicit_init(_X0, covariance_type)
    else:
        kw = dict(init_params=init, random_state=0)
    gm = GaussianMixture(K, covariance_type=covariance_type, max_iter=max_iter, tol=0.0,
                         **kw)
    with warnings.catch_warnings():
        # tol=0: a fixed number of iterations, never "converged"
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gm.fit(X, sample_weight=sample_weight)


_X0 = make_data(11, n=300, d=3, offset=20.0)


def by_first_mean(gm):
    """Component order of a fit, sorted by the first coordinate of the means.

    k-means labels its clusters in an order that depends on its random draws, which
    differ between n and sum(w) rows; the partition (and so the model) does not.
    """
    return np.argsort(gm.means_[:, 0])


def assert_same_model(a, b, rtol=RTOL):
    pa, pb = by_first_mean(a), by_first_mean(b)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        x, y = getattr(a, name), getattr(b, name)
        if name in ("weights_", "means_") or a.covariance_type != "tied":
            x, y = x[pa], y[pb]
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.abs(y).max(),
                                   err_msg=name)
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=rtol)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)


@pytest.mark.parametrize("init", ["explicit", "kmeans"])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_integer_weights_equal_repeated_rows(covariance_type, init):
    X = _X0
    w = np.random.default_rng(1).integers(1, 5, size=len(X))
    weighted = fit(X, covariance_type, init, sample_weight=w)
    repeated = fit(np.repeat(X, w, axis=0), covariance_type, init)
    assert_same_model(weighted, repeated)
    # the weights did change the model: unweighted is a different one
    plain = fit(X, covariance_type, init)
    assert not np.allclose(plain.means_[by_first_mean(plain)],
                           weighted.means_[by_first_mean(weighted)], rtol=1e-6)


@pytest.mark.parametrize("init", ["explicit", "kmeans"])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_zero_weight_equals_dropping_the_row(covariance_type, init):
    X = _X0
    w = np.ones(len(X))
    dropped = np.random.default_rng(2).choice(len(X), 60, replace=False)
    w[dropped] = 0.0
    assert_same_model(fit(X, covariance_type, init, sample_weight=w),
                      fit(X[w > 0], covariance_type, init))


@pytest.mark.parametrize("value", [1.0, 3.5])
@pytest.mark.parametrize("init", ["explicit", "kmeans", "k-means++"])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_equal_weights_equal_no_weights(covariance_type, init, value):
    X = _X0
    assert_same_model(fit(X, covariance_type, init, sample_weight=np.full(len(X), value)),
                      fit(X, covariance_type, init))


def test_random_from_data_draws_means_only_from_weighted_rows():
    X = _X0
    w = np.zeros(len(X))
    keep = np.arange(0, len(X), 37)
    w[keep] = 1.0
    for seed in range(5):
        gm = GaussianMixture(K, init_params="random_from_data", max_iter=0,
                             random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(X, sample_weight=w)
        # each initial mean is one of the rows that have weight, up to the few ulps
        # of w x / (w + 10 eps)
        dist = np.abs(gm.means_[:, None, :] - X[keep][None]).max(axis=2)
        assert (dist.min(axis=1) <= 1e-12 * np.abs(X).max()).all()


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_fit_predict_with_weights(covariance_type):
    X = _X0
    w = np.random.default_rng(3).integers(1, 4, size=len(X))
    gm = GaussianMixture(K, covariance_type=covariance_type, random_state=0)
    labels = gm.fit_predict(X, sample_weight=w)
    np.testing.assert_array_equal(labels, gm.predict(X))
    refit = GaussianMixture(K, covariance_type=covariance_type, random_state=0).fit(
        X, sample_weight=w)
    np.testing.assert_array_equal(labels, refit.predict(X))
    # the rows' labels under the repeated-rows fit are the same partition
    rep = GaussianMixture(K, covariance_type=covariance_type, random_state=0)
    rep_labels = rep.fit_predict(np.repeat(X, w, axis=0))
    first_copy = np.concatenate([[0], np.cumsum(w)[:-1]])
    mapping = {a: b for a, b in zip(labels, rep_labels[first_copy])}
    assert len(set(mapping.values())) == len(mapping)
    np.testing.assert_array_equal([mapping[a] for a in labels], rep_labels[first_copy])


def test_weighted_score_equals_score_of_repeated_rows():
    X = _X0
    gm = GaussianMixture(K, random_state=0).fit(X)
    w = np.random.default_rng(4).integers(0, 4, size=len(X))
    # the same log-densities averaged in another order: a few ulps
    np.testing.assert_allclose(gm.score(X, sample_weight=w),
                               gm.score(np.repeat(X, w, axis=0)), rtol=1e-13)
    np.testing.assert_allclose(gm.score(X, sample_weight=w),
                               np.average(gm.score_samples(X), weights=w), rtol=1e-13)
    assert gm.score(X, sample_weight=w) != gm.score(X)



@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_weights_times_a_power_of_two_give_the_same_fit_bit_for_bit(covariance_type):
    # only ratios matter: fit scales the weights by the power of two that brings
    # their mean into [1, 2), exactly, so these are one fit (integer weights of
    # mean ~2.5 are scaled too). Before, 2^-1000 gave a degenerate model (the
    # 10 eps guard outweighing the sums) and 2^1000 overflowed them.
    X = _X0
    w = np.random.default_rng(5).integers(1, 5, size=len(X)).astype(float)
    ref = fit(X, covariance_type, "kmeans", sample_weight=w)
    for k in (-1000, -60, 1, 60, 1000):
        other = fit(X, covariance_type, "kmeans", sample_weight=np.ldexp(w, k))
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_",
                     "lower_bounds_"):
            np.testing.assert_array_equal(getattr(other, name), getattr(ref, name),
                                          err_msg=f"{name}, weights times 2^{k}")


@pytest.mark.parametrize("value", [1e-300, 1e-50, 1e-10, 1e200, 1e300])
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_tiny_and_huge_equal_weights_equal_no_weights(covariance_type, value):
    # before: 1e-10 moved the means by 1e-6, 1e-50 and 1e-300 gave a degenerate
    # model, 1e200 'full' raised "not positive definite" and 'diag' fitted garbage
    X = _X0
    plain = fit(X, covariance_type, "kmeans")
    assert_same_model(fit(X, covariance_type, "kmeans",
                          sample_weight=np.full(len(X), value)), plain)
    # a scalar weight is a uniform one
    assert_same_model(fit(X, covariance_type, "kmeans", sample_weight=value), plain)


@pytest.mark.parametrize("value", [1e-320, 1e307])
def test_weighted_score_with_extreme_weights(value):
    # a weighted mean: before, weights of 1e307 overflowed its sums (NaN) and
    # subnormal ones (1e-320, 4 significant digits) lost digits (4e-6 relative)
    X = _X0
    gm = GaussianMixture(K, random_state=0).fit(X)
    w = np.random.default_rng(6).integers(1, 4, size=len(X))
    np.testing.assert_allclose(gm.score(X, sample_weight=w * value),
                               gm.score(X, sample_weight=w), rtol=1e-13)



@pytest.mark.parametrize(
    "covariance_type, value",
    [(c, v) for c in COV_TYPES for v in (1e200, 1e300)]
    + [(c, 1e155) for c in ("full", "diag", "spherical")])
def test_bayesian_mixture_refuses_weights_whose_sums_overflow(covariance_type, value):
    # its priors count samples, so the weights' scale is part of its model and is not
    # rescaled; sums of ~1e157 square beyond float64 ('tied' squares S1 / sqrt(N):
    # it fits at 1e155). Before: 'full' and 'tied' reported a collapsed component,
    # 'diag' and 'spherical' at 1e155 returned a model with a lower bound of +5e158
    # (its variances all reg_covar)
    from gmmfast import BayesianGaussianMixture

    bgm = BayesianGaussianMixture(n_components=K, covariance_type=covariance_type,
                                  random_state=0)
    # (numpy warns of the overflow on its way to the error: expected here)
    with pytest.raises(ValueError, match="weighted sums of the data reach .* too large"), \
            np.errstate(over="ignore"):
        bgm.fit(_X0, sample_weight=np.full(len(_X0), value))
    # below the bound the same weights fit, their lower bound as large as their sum
    # (whether 100 iterations converge is not the point)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bgm.fit(_X0, sample_weight=np.full(len(_X0), 1e150))
    assert np.isfinite(bgm.lower_bound_) and bgm.lower_bound_ < 0


BAD_WEIGHTS = [
    (lambda n: -np.ones(n), "negative"),
    (lambda n: np.r_[np.ones(n - 1), -1e-300], "negative values \\(first at index 299"),
    (lambda n: np.r_[np.ones(5), np.nan, np.ones(n - 6)], "NaN or infinity at index 5"),
    (lambda n: np.r_[np.ones(n - 1), np.inf], "NaN or infinity at index 299"),
    (lambda n: np.ones(n - 1), "shape \\(300,\\)"),
    (lambda n: np.ones(n + 1), "shape \\(300,\\)"),
    (lambda n: np.zeros(n), "zero for every sample"),
    (lambda n: np.ones((n, 1)), "shape \\(300,\\)"),
    (lambda n: np.ones((n, 2)), "shape \\(300,\\)"),
    (lambda n: np.array(["a"] * n), "numeric"),
]


@pytest.mark.parametrize("make, match", BAD_WEIGHTS)
@pytest.mark.parametrize("method", ["fit", "fit_predict", "partial_fit", "score"])
def test_bad_weights_raise_clear_errors(make, match, method):
    X = _X0
    gm = GaussianMixture(2, random_state=0)
    if method == "score":
        gm.fit(X)
    with pytest.raises(ValueError, match=match):
        getattr(gm, method)(X, sample_weight=make(len(X)))
