"""GaussianMixture.condition and GaussianMixture.impute.

Checked against the formulas written out here with scipy (Bayes' rule on the marginal
densities, the Gaussian conditional by explicit inverses), and against the ``gmr``
package, which conditions a mixture in pure numpy.
"""

import gmr
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from gmmfast import ConditionalMixture, GaussianMixture

COV_TYPES = ["full", "tied", "diag", "spherical"]


def _model(covariance_type, D=4, K=3, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(D, D))
    X = np.vstack([rng.normal(size=(200, D)) @ A + 3 * k for k in range(K)])
    return GaussianMixture(K, covariance_type=covariance_type, random_state=0).fit(X), X


def _full(gm):
    K, D = gm.means_.shape
    c = gm.covariances_
    return {"full": lambda: c, "tied": lambda: np.repeat(c[None], K, 0),
            "diag": lambda: np.array([np.diag(v) for v in c]),
            "spherical": lambda: np.array([np.eye(D) * v for v in c])}[gm.covariance_type]()


def _reference(gm, O, x):
    """(weights, per-component means, per-component covariances) of x_M | x_O = x."""
    S = _full(gm)
    K, D = gm.means_.shape
    M = np.setdiff1d(np.arange(D), O)
    logw = np.array([np.log(gm.weights_[k]) + multivariate_normal.logpdf(
        x, gm.means_[k, O], S[k][np.ix_(O, O)]) for k in range(K)])
    w = np.exp(logw - logw.max())
    w /= w.sum()
    means, covs = [], []
    for k in range(K):
        B = S[k][np.ix_(M, O)] @ np.linalg.inv(S[k][np.ix_(O, O)])
        means.append(gm.means_[k, M] + B @ (x - gm.means_[k, O]))
        covs.append(S[k][np.ix_(M, M)] - B @ S[k][np.ix_(O, M)])
    return w, np.array(means), np.array(covs)


def test_features_in_any_order():
    gm, X = _model("full", seed=8)
    a = gm.condition([2, 0], X[:5, [2, 0]])
    b = gm.condition([0, 2], X[:5, [0, 2]])
    # the same conditioning set: the same mixtures, to the rounding of a permuted
    # Cholesky factor
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.means_, b.means_, rtol=0, atol=1e-11)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_condition_one_point(covariance_type):
    gm, X = _model(covariance_type)
    O = np.array([0, 2])
    x = X[7, O]
    cond = gm.condition(O, x)
    assert isinstance(cond, GaussianMixture)
    w, means, covs = _reference(gm, O, x)
    # explicit inverses against Cholesky solves, on covariances of condition ~1e2
    np.testing.assert_allclose(cond.weights_, w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cond.means_, means, rtol=0, atol=1e-11)
    np.testing.assert_allclose(_full(cond), covs, rtol=0, atol=1e-11)
    # the conditional is an ordinary fitted mixture: its density integrates p(x)
    y = X[7, [1, 3]]
    joint = gm.score_samples(X[7:8])[0]
    marginal = np.log(sum(gm.weights_[k] * multivariate_normal.pdf(
        x, gm.means_[k, O], _full(gm)[k][np.ix_(O, O)]) for k in range(3)))
    # log p(y | x) = log p(x, y) - log p(x), to rounding of the three log-densities
    assert cond.score_samples(y[None])[0] == pytest.approx(joint - marginal, abs=1e-11)
    draws, _ = cond.sample(5)
    assert draws.shape == (5, 2)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_condition_per_row(covariance_type):
    gm, X = _model(covariance_type, seed=1)
    mask = np.array([True, False, False, True])
    cond = gm.condition(mask, X[:25][:, mask])
    assert isinstance(cond, ConditionalMixture)
    assert len(cond) == 25
    np.testing.assert_array_equal(cond.features_, [1, 2])
    for i in (0, 13, 24):
        w, means, covs = _reference(gm, np.array([0, 3]), X[i, mask])
        np.testing.assert_allclose(cond.weights_[i], w, rtol=0, atol=1e-12)
        np.testing.assert_allclose(cond.means_[i], means, rtol=0, atol=1e-11)
        mean = w @ means
        d = means - mean
        total = np.einsum("k,krs->rs", w, covs) + np.einsum("k,kr,ks->rs", w, d, d)
        np.testing.assert_allclose(cond.mean()[i], mean, rtol=0, atol=1e-11)
        np.testing.assert_allclose(cond.covariance()[i], total, rtol=0, atol=1e-11)
        np.testing.assert_allclose(cond.std()[i], np.sqrt(np.diag(total)), rtol=1e-11)
        row = cond[i]
        np.testing.assert_allclose(row.means_, means, rtol=0, atol=1e-11)
    draws = cond.sample(3, random_state=0)
    assert draws.shape == (25, 3, 2)
    np.testing.assert_array_equal(draws, cond.sample(3, random_state=0))


def test_conditional_draws_have_the_conditional_moments():
    gm, X = _model("full", D=3, K=2, seed=2)
    cond = gm.condition([0], np.full((1, 1), X[:, 0].mean()))
    draws = cond.sample(200_000, random_state=0)[0]
    mean, cov = cond.mean()[0], cond.covariance()[0]
    # Monte Carlo: the mean's standard error is sqrt(var / 2e5) ~ 2e-3 sd
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 0.01 * sd)
    np.testing.assert_allclose(np.cov(draws.T), cov, rtol=0.02, atol=0.02 * sd.max() ** 2)


def test_same_as_gmr():
    gm, X = _model("full", D=4, K=3, seed=3)
    ref = gmr.GMM(n_components=3, priors=gm.weights_, means=gm.means_,
                  covariances=gm.covariances_)
    O = np.array([0, 1, 3])
    # gmr: explicit inverses and scipy densities; agreement to rounding
    np.testing.assert_allclose(gm.condition(O, X[:, O]).mean(),
                               ref.predict(O, X[:, O]), rtol=0, atol=1e-10)
    c = ref.condition(O, X[5, O])
    ours = gm.condition(O, X[5, O])
    np.testing.assert_allclose(ours.weights_, c.priors, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.means_, c.means, rtol=0, atol=1e-11)
    np.testing.assert_allclose(ours.covariances_, c.covariances, rtol=0, atol=1e-11)


def test_condition_refuses_bad_arguments():
    gm, X = _model("full")
    with pytest.raises(ValueError, match="at least one feature"):
        gm.condition([0, 1, 2, 3], X[0])
    with pytest.raises(ValueError, match="indices in"):
        gm.condition([5], [1.0])
    with pytest.raises(ValueError, match="distinct"):
        gm.condition([1, 1], [1.0, 2.0])
    with pytest.raises(ValueError, match="one value per given feature"):
        gm.condition([0, 1], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        gm.condition([0], [np.nan])


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_impute_mean(covariance_type):
    gm, X = _model(covariance_type, seed=4)
    Xn = X[:40].copy()
    rng = np.random.default_rng(0)
    Xn[rng.random(Xn.shape) < 0.3] = np.nan
    Xn[3] = np.nan          # nothing observed: the mixture's mean
    Xn[4] = X[4]            # nothing missing: unchanged
    out = gm.impute(Xn)
    assert not np.isnan(out).any()
    obs = ~np.isnan(Xn)
    np.testing.assert_array_equal(out[obs], Xn[obs])
    np.testing.assert_allclose(out[3], gm.weights_ @ gm.means_, rtol=1e-14)
    for i in range(40):
        o = ~np.isnan(Xn[i])
        if o.all() or not o.any():
            continue
        O = np.flatnonzero(o)
        w, means, _ = _reference(gm, O, Xn[i, O])
        np.testing.assert_allclose(out[i, ~o], w @ means, rtol=0, atol=1e-11)


def test_impute_sample():
    gm, X = _model("full", seed=5)
    Xn = np.repeat(X[:1], 100_000, axis=0)
    Xn[:, 2:] = np.nan
    a = gm.impute(Xn, method="sample", random_state=0)
    np.testing.assert_array_equal(a, gm.impute(Xn, method="sample", random_state=0))
    cond = gm.condition([0, 1], X[0, :2][None])
    # Monte Carlo means of 1e5 draws: within 1% of a standard deviation
    sd = cond.std()[0]
    assert np.all(np.abs(a[:, 2:].mean(axis=0) - cond.mean()[0]) < 0.01 * sd)
    np.testing.assert_allclose(a[:, 2:].std(axis=0), sd, rtol=0.01)
    with pytest.raises(ValueError, match="method must be"):
        gm.impute(Xn, method="median")


def test_impute_float32_keeps_dtype():
    gm, X = _model("diag", seed=6)
    Xn = X[:10].astype(np.float32)
    Xn[0, 1] = np.nan
    out = gm.impute(Xn)
    assert out.dtype == np.float32 and not np.isnan(out).any()


def test_impute_fitted_on_missing_data():
    gm, X = _model("full", seed=7)
    Xn = X.copy()
    Xn[np.random.default_rng(1).random(X.shape) < 0.2] = np.nan
    rows = ~np.isnan(Xn).all(axis=1)
    X, Xn = X[rows], Xn[rows]
    fit = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xn)
    miss = np.isnan(Xn)
    ours = np.sqrt(np.mean((fit.impute(Xn)[miss] - X[miss]) ** 2))
    col = np.where(miss, np.nanmean(Xn, axis=0), Xn)
    baseline = np.sqrt(np.mean((col[miss] - X[miss]) ** 2))
    # correlated features and separated clusters: conditional means recover far more
    # than column means (measured ratio ~0.3)
    assert ours < 0.5 * baseline


def _mixture_moments(gm, O, x):
    """Mean and covariance of the conditional mixture x_M | x_O = x (_reference)."""
    w, means, covs = _reference(gm, O, x)
    mean = w @ means
    cov = np.einsum("k,kab->ab", w, covs + np.einsum("ka,kb->kab", means, means))
    return mean, cov - np.outer(mean, mean)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_impute_mean_by_pattern_and_row_by_row(covariance_type):
    # 'full' and 'tied' impute a pattern of many rows through its own kernel pass and
    # the rows of rare patterns in the compiled row pass (from its own factors): both
    # give the conditional means of the formulas
    from gmmfast import _missing

    gm, X = _model(covariance_type, D=6, seed=9)
    Xn = np.vstack([np.tile(X, (6, 1)), X[:200]])
    Xn[:3600, 5] = np.nan                      # one pattern of 3600 rows
    holes = np.random.default_rng(2).random((200, 6)) < 0.3
    holes[:, 0] = False                        # every row keeps a feature
    Xn[3600:][holes] = np.nan                  # rare patterns
    sub = Xn[np.isnan(Xn).any(axis=1)]
    plan = _missing.PatternPlan(sub, None, 0, gm.n_components)
    # (a few of the rare rows lack feature 5 alone: they join the big pattern)
    assert [p.missing.tolist() for p in plan.patterns] == [[5]]
    assert plan.groups and plan.groups[0].X0.shape[0] > 100
    out = gm.impute(Xn)
    # the big pattern's rows are 6 copies of 600: the first copy checked
    for i in [*range(600), *np.flatnonzero(np.isnan(Xn[3600:]).any(axis=1)) + 3600]:
        o = ~np.isnan(Xn[i])
        O = np.flatnonzero(o)
        w, means, _ = _reference(gm, O, Xn[i, O])
        np.testing.assert_allclose(out[i, ~o], w @ means, rtol=0, atol=1e-11)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_impute_sample_row_by_row(covariance_type, monkeypatch):
    # every pattern through the row pass ('full', 'tied': draws from its factors;
    # 'diag', 'spherical': all rows at once): 10^5 draws of one row's missing
    # features have the conditional mixture's mean and covariance, to Monte Carlo
    # error (standard errors ~0.3% of a standard deviation for the means and ~0.45%
    # of sd_a sd_b for the covariances: checked at ~3 and ~4.5 of them)
    from gmmfast import _missing

    monkeypatch.setattr(_missing, "kernel_pass_mask",
                        lambda counts, *args: np.zeros(counts.size, dtype=bool))
    gm, X = _model(covariance_type, seed=5)
    Xn = np.repeat(X[:1], 100_000, axis=0)
    Xn[:, 2:] = np.nan
    a = gm.impute(Xn, method="sample", random_state=0)
    np.testing.assert_array_equal(a, gm.impute(Xn, method="sample", random_state=0))
    np.testing.assert_array_equal(a[:, :2], Xn[:, :2])
    mean, cov = _mixture_moments(gm, np.array([0, 1]), X[0, :2])
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(a[:, 2:].mean(axis=0) - mean) < 0.01 * sd)
    assert np.all(np.abs(np.cov(a[:, 2:].T) - cov) < 0.02 * np.outer(sd, sd))


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("by_pattern", [False, True])
def test_impute_names_a_row_of_zero_density(covariance_type, by_pattern, monkeypatch):
    # the row of X, whether its pattern runs a kernel pass or the row pass
    from gmmfast import _missing

    monkeypatch.setattr(_missing, "kernel_pass_mask",
                        lambda counts, *args: np.full(counts.size, by_pattern))
    gm, X = _model(covariance_type, seed=3)
    Xn = X[:10].copy()
    Xn[np.random.default_rng(0).random(Xn.shape) < 0.3] = np.nan
    Xn[:, 0] = X[:10, 0]
    Xn[7, 0] = 1e300                 # observed, and at zero density under every component
    Xn[7, 1] = np.nan
    with pytest.raises(ValueError, match="Row 7 of X has zero probability"):
        gm.impute(Xn)
