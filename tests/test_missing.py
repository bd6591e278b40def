"""GaussianMixture(missing='marginalize'): EM for data with missing entries (NaN).

Checked against a plain numpy EM with missing values written here (each row's
marginal density, conditional means and covariances of its missing block, computed
row by row), against the complete-data fit when nothing is missing (bit for bit), and
on data drawn from a known mixture.
"""

import warnings

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning

from gmmfast import GaussianMixture, InvalidParameterError

COV_TYPES = ["full", "tied", "diag", "spherical"]


# ------------------------------------------------------------ the reference


def _as_full(cov, covariance_type, K, D):
    if covariance_type == "full":
        return np.array(cov, dtype=np.float64)
    if covariance_type == "tied":
        return np.repeat(np.asarray(cov, dtype=np.float64)[None], K, axis=0)
    if covariance_type == "diag":
        return np.array([np.diag(c) for c in cov])
    return np.array([np.eye(D) * c for c in cov])


def reference_em(X, w, weights, means, cov, covariance_type, reg_covar, n_iter):
    """n_iter EM iterations for data missing at random, written row by row.

    Returns (weights, means, covariances, lower bound of the last E-step).
    """
    X = np.asarray(X, dtype=np.float64)
    n, D = X.shape
    K = len(weights)
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    eps = np.finfo(np.float64).eps
    weights, means = np.array(weights, dtype=np.float64), np.array(means, dtype=np.float64)
    for _ in range(n_iter):
        S = _as_full(cov, covariance_type, K, D)
        logp = np.empty((n, K))
        xhat = np.empty((n, K, D))
        chat = np.zeros((n, K, D, D))
        for i in range(n):
            o = ~np.isnan(X[i])
            m = ~o
            for k in range(K):
                Soo = S[k][np.ix_(o, o)]
                logp[i, k] = np.log(weights[k]) + multivariate_normal.logpdf(
                    X[i, o], means[k, o], Soo)
                xhat[i, k, o] = X[i, o]
                if m.any():
                    B = S[k][np.ix_(m, o)] @ np.linalg.inv(Soo)
                    xhat[i, k, m] = means[k, m] + B @ (X[i, o] - means[k, o])
                    chat[i, k][np.ix_(m, m)] = S[k][np.ix_(m, m)] - B @ S[k][np.ix_(o, m)]
        lse = logsumexp(logp, axis=1)
        bound = (w @ lse) / w.sum()
        R = np.exp(logp - lse[:, None]) * w[:, None]
        nk = R.sum(axis=0) + 10 * eps
        means = np.einsum("nk,nkd->kd", R, xhat) / nk[:, None]
        scat = np.empty((K, D, D))
        for k in range(K):
            dz = xhat[:, k] - means[k]
            scat[k] = (np.einsum("n,nd,ne->de", R[:, k], dz, dz)
                       + np.einsum("n,nde->de", R[:, k], chat[:, k]))
        if covariance_type == "full":
            cov = scat / nk[:, None, None] + reg_covar * np.eye(D)
        elif covariance_type == "tied":
            cov = scat.sum(axis=0) / nk.sum() + reg_covar * np.eye(D)
        elif covariance_type == "diag":
            cov = np.diagonal(scat, axis1=1, axis2=2) / nk[:, None] + reg_covar
        else:
            cov = np.trace(scat, axis1=1, axis2=2) / nk / D + reg_covar
        weights = nk / nk.sum()
    return weights, means, cov, bound


def _data(n=300, D=4, seed=0, frac=0.2, offset=0.0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(D, D)) * 0.5 + np.eye(D)
    X = np.vstack([rng.normal(0, 1, (n // 2, D)) @ A,
                   rng.normal(2.5, 0.7, (n - n // 2, D))]) + offset
    Xn = X.copy()
    Xn[rng.random(X.shape) < frac] = np.nan
    keep = ~np.isnan(Xn).all(axis=1)
    return Xn[keep], X[keep]


def _start(X, covariance_type, K=2, seed=1):
    """A start away from the solution: means of two random rows' observed values."""
    Xc = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
    rng = np.random.default_rng(seed)
    means = Xc[rng.choice(len(X), K, replace=False)]
    var = np.nanvar(X, axis=0)
    cov = {"full": np.repeat(np.diag(var)[None], K, 0), "tied": np.diag(var),
           "diag": np.repeat(var[None], K, 0),
           "spherical": np.full(K, var.mean())}[covariance_type]
    prec = {"full": lambda c: np.linalg.inv(c), "tied": np.linalg.inv,
            "diag": lambda c: 1 / c, "spherical": lambda c: 1 / c}[covariance_type](cov)
    return np.full(K, 1.0 / K), means, cov, prec


def _fit(X, covariance_type, n_iter, w=None, start=None, **kw):
    weights, means, cov, prec = start or _start(np.asarray(X), covariance_type)
    gm = GaussianMixture(2, covariance_type=covariance_type, missing="marginalize",
                         weights_init=weights, means_init=means, precisions_init=prec,
                         max_iter=n_iter, tol=0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gm.fit(X, sample_weight=w)


# ------------------------------------------------------------ exact EM


@pytest.fixture(params=[0, 3], ids=["slots by count", "slots of 3 blocks"])
def slot_blocks(request):
    """The row pass's blocks a statistics slot (_missing_rows.slot_blocks): by their
    count (on these few blocks, one a slot), or runs of 3 consecutive blocks into one
    slot, whose later blocks add to what the earlier wrote (a component's scatter,
    its conditional covariances), as the passes over many blocks do."""
    from gmmfast import _missing_rows

    before = _missing_rows.slot_blocks(request.param)
    yield request.param
    _missing_rows.slot_blocks(before)


@pytest.fixture(params=["kernel", "rows"])
def path(request, monkeypatch):
    """'full' and 'tied' run a pattern through its own kernel pass or, when it has
    few rows, through the row-by-row path: force one or the other."""
    from gmmfast import _missing

    monkeypatch.setattr(_missing, "kernel_pass_mask",
                        lambda counts, *args: np.full(counts.size,
                                                      request.param == "kernel"))
    return request.param


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_same_model_as_numpy_em(covariance_type, weighted, path):
    X, _ = _data()
    w = np.random.default_rng(3).uniform(0.2, 3.0, len(X)) if weighted else None
    gm = _fit(X, covariance_type, 8, w=w)
    weights, means, cov, _ = _start(X, covariance_type)
    ref = reference_em(X, w, weights, means, cov, covariance_type, gm.reg_covar, 8)
    # both compute the same sums in a different order: 8 iterations of rounding in
    # well-conditioned 4-D data stay far below 1e-10 (relative to the parameters' size)
    np.testing.assert_allclose(gm.weights_, ref[0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(gm.means_, ref[1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(gm.covariances_, ref[2], rtol=0, atol=1e-10)
    # lower_bound_ is the bound of the last E-step, as the reference's
    assert abs(gm.lower_bound_ - ref[3]) < 1e-10


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_same_model_as_numpy_em_far_from_origin(covariance_type, path):
    # the kernels take their moments about the mixture mean or each component's
    # mean, never about zero: an offset of 1e3 costs no accuracy
    X, _ = _data(offset=1e3, seed=5)
    gm = _fit(X, covariance_type, 5)
    weights, means, cov, _ = _start(X, covariance_type)
    ref = reference_em(X, None, weights, means, cov, covariance_type, gm.reg_covar, 5)
    # means of ~1e3 hold 1e3 * eps * (a few hundred additions) ~ 1e-11 of rounding
    np.testing.assert_allclose(gm.means_, ref[1], rtol=1e-13, atol=0)
    np.testing.assert_allclose(gm.covariances_, ref[2], rtol=0, atol=1e-8)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32(covariance_type, path):
    X, _ = _data(seed=2)
    g64 = _fit(X, covariance_type, 5)
    g32 = _fit(X.astype(np.float32), covariance_type, 5)
    assert g32.means_.dtype == np.float32
    assert g32.covariances_.dtype == np.float32
    # float32 log-densities and data carry ~1e-7 relative rounding; five iterations
    # of EM amplify it by the sensitivity of the fixed point (measured ~1e-6)
    np.testing.assert_allclose(g32.means_, g64.means_, rtol=0, atol=2e-5)
    np.testing.assert_allclose(g32.covariances_, g64.covariances_, rtol=0, atol=2e-5)
    # per-sample outputs of float32 data with holes are float32 too
    assert g32.score_samples(X.astype(np.float32)).dtype == np.float32
    assert g32.predict_proba(X.astype(np.float32)).dtype == np.float32


def _wide_float32_data(seed):
    """800 x 20 float32 rows of two clusters, 10% of the entries missing: nearly every
    row a pattern of its own (the row-by-row pass), wide enough for its float32
    products ('full' from _estep.FULL32_MIN_FEATURES features on)."""
    from gmmfast import _estep

    D = 20
    assert D >= _estep.FULL32_MIN_FEATURES
    rng = np.random.default_rng(seed)
    # clusters far apart: beyond the moment rows' spread bound (those are in double)
    X = np.vstack([rng.normal(c, 1.0, (400, D)) for c in rng.normal(0, 6.0, (2, D))])
    X[rng.random(X.shape) < 0.1] = np.nan
    return X.astype(np.float32)


def test_float32_products_fit_the_float64_model(monkeypatch):
    from gmmfast import _missing_rows

    X = _wide_float32_data(seed=21)
    seen = []
    real = _missing_rows.rows_pass

    def spy(*args):
        seen.append(args[8].shape[0] > 0)     # given float32 factors
        return real(*args)

    monkeypatch.setattr(_missing_rows, "rows_pass", spy)
    g32 = _fit(X, "full", 5)
    # the start's means are near the mixture mean (moment rows, in double); once
    # they are apart, float32 products
    assert seen[-1]
    seen.clear()
    g64 = _fit(X.astype(np.float64), "full", 5)
    assert seen and not any(seen)
    # Separated clusters: the float32 forms' rounding (~D eps32 of a form) moves
    # the responsibilities by far less than the float32 parameters' own rounding
    # (measured: means within 4.6e-7 of the float64 fit's, half an ulp of their
    # largest, 13; covariances within 6e-8, an ulp of theirs is 1.2e-7; the lower
    # bound within 6e-10 relative). Asserted: 4 ulps of each array's largest entry.
    for name in ("means_", "covariances_"):
        a32, a64 = getattr(g32, name), getattr(g64, name)
        assert a32.dtype == np.float32
        ulp = np.spacing(np.abs(a32).max())
        np.testing.assert_allclose(a32, a64, rtol=0, atol=4 * ulp, err_msg=name)
    assert g32.lower_bound_ == pytest.approx(g64.lower_bound_, rel=1e-8)


def test_float32_factors_that_overflow_are_refused():
    from gmmfast import _missing

    D = 16
    U = np.repeat(np.eye(D)[None], 2, axis=0)
    U[1, 3, 3] = 1e39          # a variance of 1e-78: finite in double, not in float32
    models = _missing.MarginalModels("full", np.full(2, 0.5), np.zeros((2, D)), U,
                                     np.float32)
    with pytest.raises(ValueError, match="overflow float32.*reg_covar"):
        models.row_factors32()
    # the same model for float64 data takes no float32 factors
    assert _missing.MarginalModels("full", np.full(2, 0.5), np.zeros((2, D)), U,
                                   np.float64).row_factors32() is None


def test_float32_products_same_bits_on_any_thread_count(monkeypatch):
    from gmmfast import _missing_rowpath

    # several row blocks, so that two threads share them
    monkeypatch.setattr(_missing_rowpath, "ROW_BLOCK_DOUBLES", 64 * 64)
    X = _wide_float32_data(seed=22)
    fits = [_fit(X, "full", 4, n_threads=t) for t in (1, 2)]
    for name in ("weights_", "means_", "covariances_"):
        assert np.array_equal(getattr(fits[0], name), getattr(fits[1], name)), name
    assert fits[0].lower_bounds_ == fits[1].lower_bounds_
    assert np.array_equal(fits[0].score_samples(X), fits[1].score_samples(X))


def test_integer_weights_are_repeated_rows():
    X, _ = _data(seed=4)
    reps = np.random.default_rng(0).integers(0, 3, len(X))
    X = X[reps > 0]
    reps = reps[reps > 0]
    start = _start(X, "full")
    a = _fit(X, "full", 6, w=reps.astype(float), start=start)
    b = _fit(np.repeat(X, reps, axis=0), "full", 6, start=start)
    # the same sums, added in another order
    np.testing.assert_allclose(a.means_, b.means_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=0, atol=1e-12)


# ------------------------------------------------ the per-sample methods


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_per_sample_outputs_are_marginal(covariance_type, path):
    X, _ = _data(seed=6)
    gm = _fit(X, covariance_type, 4)
    K, D = gm.means_.shape
    S = _as_full(gm.covariances_, covariance_type, K, D)
    logp = np.empty((len(X), K))
    for i, x in enumerate(X):
        o = ~np.isnan(x)
        for k in range(K):
            logp[i, k] = np.log(gm.weights_[k]) + multivariate_normal.logpdf(
                x[o], gm.means_[k, o], S[k][np.ix_(o, o)])
    lse = logsumexp(logp, axis=1)
    # the kernels' log-densities agree with scipy's to a few ulps of their size (~10)
    np.testing.assert_allclose(gm.score_samples(X), lse, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gm.predict_proba(X), np.exp(logp - lse[:, None]),
                               rtol=0, atol=1e-12)
    np.testing.assert_array_equal(gm.predict(X), logp.argmax(axis=1))
    assert gm.score(X) == pytest.approx(lse.mean(), abs=1e-12)
    w = np.linspace(0.5, 2, len(X))
    assert gm.score(X, sample_weight=w) == pytest.approx(w @ lse / w.sum(), abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = _fit(X, covariance_type, 4).fit_predict(X)
    np.testing.assert_array_equal(labels, gm.predict(X))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_no_nan_is_bit_identical_to_complete_data_fit(covariance_type):
    _, X = _data(seed=7)
    kw = dict(covariance_type=covariance_type, random_state=0, n_init=2)
    a = GaussianMixture(3, **kw).fit(X)
    b = GaussianMixture(3, missing="marginalize", **kw).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.lower_bounds_ == b.lower_bounds_
    assert np.array_equal(a.score_samples(X), b.score_samples(X))
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))
    # scoring data with holes on a model fitted without
    Xn, _ = _data(seed=7)
    assert np.isfinite(b.score_samples(Xn)).all()


def test_default_refuses_nan():
    X, _ = _data()
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(2).fit(X)
    gm = GaussianMixture(2, missing="marginalize", random_state=0).fit(X)
    gm.set_params(missing="error")
    with pytest.raises(ValueError, match="NaN"):
        gm.score_samples(X)


def test_row_without_observed_feature_is_named():
    X, _ = _data()
    X[17] = np.nan
    with pytest.raises(ValueError, match=r"Row 17 of X has every feature missing"):
        GaussianMixture(2, missing="marginalize").fit(X)
    gm = GaussianMixture(2, missing="marginalize", random_state=0).fit(np.delete(X, 17, 0))
    with pytest.raises(ValueError, match=r"Row 17 of X has every feature missing"):
        gm.predict(X)


def test_infinity_is_refused():
    X, _ = _data()
    X[5, 1] = np.inf
    with pytest.raises(ValueError, match=r"infinity \(inf\) in row 5"):
        GaussianMixture(2, missing="marginalize").fit(X)


def test_bad_missing_parameter():
    with pytest.raises(InvalidParameterError, match="'missing' parameter"):
        GaussianMixture(2, missing="drop").fit(np.eye(4))


def test_partial_fit_refuses_nan():
    X, _ = _data()
    with pytest.raises(ValueError, match="partial_fit does not take missing values"):
        GaussianMixture(2, missing="marginalize").partial_fit(X)


# ------------------------------------------------ memmap and dask inputs


def test_memmap_gives_the_in_memory_model(tmp_path, monkeypatch):
    from gmmfast import _sources

    X, _ = _data(n=3000, seed=8)
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    mm = np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)
    # read in several pieces, each grouped by pattern as it is read
    monkeypatch.setattr(_sources, "READ_BYTES", 8 * 4 * 700)
    a = _fit(X, "full", 6)
    b = _fit(mm, "full", 6)
    # the same statistics, summed piece by piece in another order
    np.testing.assert_allclose(b.means_, a.means_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.score_samples(mm), a.score_samples(X), rtol=0, atol=1e-12)
    # default init (k-means on the mean-imputed rows) runs on a memmap too
    gm = GaussianMixture(2, missing="marginalize", random_state=0).fit(mm)
    assert np.isfinite(gm.score(mm))


def test_dask_gives_the_in_memory_model():
    import dask
    import dask.array as da

    X, _ = _data(n=2000, seed=9)
    w = np.random.default_rng(1).uniform(0.5, 2, len(X))
    a = _fit(X, "diag", 6, w=w)
    with dask.config.set(scheduler="synchronous"):
        Xd = da.from_array(X, chunks=(400, -1))
        b = _fit(Xd, "diag", 6, w=da.from_array(w, chunks=400))
        np.testing.assert_allclose(b.means_, a.means_, rtol=0, atol=1e-12)
        np.testing.assert_allclose(b.covariances_, a.covariances_, rtol=0, atol=1e-12)
        lazy = b.score_samples(Xd)
        assert isinstance(lazy, da.Array)
        np.testing.assert_allclose(lazy.compute(), a.score_samples(X), rtol=0, atol=1e-12)
        np.testing.assert_array_equal(b.predict(Xd).compute(), a.predict(X))
        np.testing.assert_allclose(b.predict_proba(Xd).compute(), a.predict_proba(X),
                                   rtol=0, atol=1e-12)
        assert b.score(Xd) == pytest.approx(a.score(X), abs=1e-12)
        X[3] = np.nan
        with pytest.raises(ValueError, match="Row 3 of X has every feature missing"):
            _fit(da.from_array(X, chunks=(400, -1)), "diag", 2)


# ------------------------------------------------ a known mixture


def _truth(seed=0):
    rng = np.random.default_rng(seed)
    D = 3
    means = np.array([[0.0, 0.0, 0.0], [3.0, 2.0, -1.0]])
    covs = []
    for _ in range(2):
        A = rng.normal(size=(D, D))
        covs.append(A @ A.T / D + 0.3 * np.eye(D))
    return np.array([0.4, 0.6]), means, np.array(covs)


def _draw(n, truth, rng):
    weights, means, covs = truth
    z = rng.choice(2, n, p=weights)
    X = np.empty((n, means.shape[1]))
    for k in range(2):
        X[z == k] = rng.multivariate_normal(means[k], covs[k], (z == k).sum())
    return X


def _error(gm, truth):
    """Parameter error, components matched by their means."""
    order = np.argsort(gm.means_[:, 0])
    return (np.abs(gm.means_[order] - truth[1]).max()
            + np.abs(gm.covariances_[order] - truth[2]).max())


def test_estimates_approach_the_truth_and_beat_simple_fixes():
    truth = _truth()
    rng = np.random.default_rng(11)
    errors = []
    for n in (500, 5000, 50000):
        X = _draw(n, truth, rng)
        # missing at random: x_2 is missing more often when x_0 is large (MAR, not
        # MCAR: complete-case analysis is biased)
        p = np.where(X[:, 0] > 1.5, 0.6, 0.1)
        Xn = X.copy()
        Xn[rng.random(n) < p, 2] = np.nan
        Xn[:, :2][rng.random((n, 2)) < 0.1] = np.nan
        Xn = Xn[~np.isnan(Xn).all(axis=1)]
        gm = GaussianMixture(2, missing="marginalize", random_state=0, tol=1e-8,
                             max_iter=500).fit(Xn)
        errors.append(_error(gm, truth))
        if n == 50000:
            cc = GaussianMixture(2, random_state=0, tol=1e-8, max_iter=500).fit(
                Xn[~np.isnan(Xn).any(axis=1)])
            imp = GaussianMixture(2, random_state=0, tol=1e-8, max_iter=500).fit(
                np.where(np.isnan(Xn), np.nanmean(Xn, axis=0), Xn))
            assert errors[-1] < 0.5 * _error(cc, truth)
            assert errors[-1] < 0.5 * _error(imp, truth)
    # sampling error ~ 1/sqrt(n): tenfold n, about a third of the error
    assert errors[1] < errors[0] and errors[2] < errors[1]
    assert errors[2] < 0.05


def _random_model(covariance_type, K, D, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(K, D, D)) / np.sqrt(D)
    cov = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(D)
    return _model_with(cov, covariance_type, K, D, rng)


def _model_with(cov, covariance_type, K, D, rng):
    """MarginalModels with covariances ``cov`` (K, D, D; 'tied': the first), weights
    and means drawn from ``rng``, and the covariances as _rows_reference reads them."""
    from gmmfast import _missing, _mstep

    if covariance_type == "tied":
        cov = cov[0]
    U = _mstep.precision_cholesky(cov, covariance_type)
    weights = rng.dirichlet(np.ones(K))
    means = rng.normal(size=(K, D))
    return (_missing.MarginalModels(covariance_type, weights, means, U, np.float64),
            _as_full(cov, covariance_type, K, D))


def _rows_reference(X, w, models, S, resp=None):
    """Per row, written out: marginal log-densities, responsibilities, and the
    expected complete-data statistics about the means (weighted by ``resp`` if given,
    in place of the responsibilities computed here)."""
    K, D = models.means.shape
    n = len(X)
    logp = np.empty((n, K))
    T1 = np.zeros((K, D))
    T2 = np.zeros((K, D, D))
    parts = []
    for i, x in enumerate(X):
        o, m = ~np.isnan(x), np.isnan(x)
        per = []
        for k in range(K):
            Soo = S[k][np.ix_(o, o)]
            logp[i, k] = np.log(models.weights[k]) + multivariate_normal.logpdf(
                x[o], models.means[k, o], Soo)
            d = np.zeros(D)
            C = np.zeros((D, D))
            d[o] = x[o] - models.means[k, o]
            if m.any():
                B = S[k][np.ix_(m, o)] @ np.linalg.inv(Soo)
                d[m] = B @ d[o]
                C[np.ix_(m, m)] = S[k][np.ix_(m, m)] - B @ S[k][np.ix_(o, m)]
            per.append((d, C))
        parts.append(per)
    lse = logsumexp(logp, axis=1)
    if resp is None:
        resp = np.exp(logp - lse[:, None])
    wr = resp * w[:, None]
    for i in range(n):
        for k in range(K):
            d, C = parts[i][k]
            T1[k] += wr[i, k] * d
            T2[k] += wr[i, k] * (np.outer(d, d) + C)
    return lse, resp, logp.argmax(axis=1), wr.sum(axis=0), T1, T2, w @ lse, w.sum()


def _row_path_outputs(X, w, models, S):
    """Every row of X in one row group (the caller keeps every pattern off a kernel
    pass of its own): the plan, the direct computation (``_rows_reference``) and the
    compiled pass's log-densities, responsibilities and labels on 2 threads."""
    from gmmfast import _missing

    n, K = len(X), models.means.shape[0]
    plan = _missing.PatternPlan(X, w, 0, K)
    assert plan.patterns == [] and len(plan.groups) == 1
    ref = _rows_reference(X, np.ones(n) if w is None else w, models, S)
    outs = (np.empty(n), np.empty((n, K)), np.empty(n, dtype=np.intp))
    _missing.piece_outputs(models, plan, 0, 2, list(outs), lse=True, resp=True,
                           labels=True)
    return plan, ref, outs


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_rows_are_the_direct_computation(covariance_type, weighted, slot_blocks,
                                                  monkeypatch):
    from gmmfast import _missing, _missing_rowpath

    K, D, n = 3, 9, 402
    models, S = _random_model(covariance_type, K, D, seed=21)
    rng = np.random.default_rng(22)
    X = rng.normal(size=(n, D)) * 1.5
    # every number of missing features from 0 to D - 1, several patterns each, most
    # patterns on three rows (which share its factors) and some on one
    for i in range(0, n, 3):
        m = (i // 3) % D
        cols = rng.choice(D, m, replace=False)
        X[i:i + 3, cols] = np.nan
        if i % 7 == 0:
            X[i + 1] = rng.normal(size=D) * 1.5
            X[i + 1, rng.choice(D, m, replace=False)] = np.nan
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    monkeypatch.setattr(_missing, "kernel_pass_pays", lambda *args, **kwargs: False)
    # blocks of 64 rows: several blocks, each with rows of every m
    monkeypatch.setattr(_missing_rowpath, "ROW_BLOCK_DOUBLES", 64)
    plan, ref, (lse, resp, labels) = _row_path_outputs(X, w, models, S)
    # log-densities of ~10 in size from 9-D factorisations of condition ~10: a few
    # ulps of rounding each, against scipy's eigendecomposition
    np.testing.assert_allclose(lse, ref[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(resp, ref[1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(labels, ref[2])
    st = _missing.piece_stats(models, plan, 0, 2)
    T2 = ref[5].sum(axis=0) if covariance_type == "tied" else ref[5]
    # sums over 402 rows of terms of size ~10: a few hundred ulps of 1e3 at most
    np.testing.assert_allclose(st.N, ref[3], rtol=1e-12)
    np.testing.assert_allclose(st.S1, ref[4], rtol=0, atol=1e-10)
    np.testing.assert_allclose(st.S2, T2, rtol=0, atol=1e-10)
    assert np.array_equal(st.S2, np.swapaxes(st.S2, -1, -2))
    assert st.L == pytest.approx(ref[6], rel=1e-13)
    assert st.sum_w == pytest.approx(ref[7], rel=1e-14)
    assert np.array_equal(st.shift, models.means)


def _rows_pass_args(n=5, D=4, K=2, m=2):
    rng = np.random.default_rng(0)
    U = np.repeat(np.eye(D)[None], K, axis=0)
    Mi = np.tile(np.arange(m, dtype=np.intp), (n, 1))
    return dict(
        X0=rng.normal(size=(n, D)), Mi=Mi, nm=np.full(n, m, dtype=np.intp),
        w=np.empty(0), means=np.zeros((K, D)), U=U,
        Pt=np.ascontiguousarray(np.transpose(U, (1, 2, 0))),
        logc=np.zeros(K), Uf=np.empty((0, 0, 0), dtype=np.float32), shift=np.empty(0),
        W=np.empty((0, 0)), block=2, sub_block=2,
        n_threads=2,
        out_lse=np.empty(n),
        out_resp=np.empty((n, K)), out_labels=np.empty(n, dtype=np.intp),
        out_stats=np.zeros(K + K * D + K * D * D + 2))


def _bad_rows_pass_args():
    def changed(**kw):
        args = _rows_pass_args()
        args.update(kw)
        return args

    cases = {
        "float32 rows": changed(X0=np.zeros((5, 4), dtype=np.float32)),
        "strided rows": changed(X0=np.zeros((5, 8))[:, ::2]),
        "int32 columns": changed(Mi=np.zeros((5, 2), dtype=np.int32)),
        "column out of range": changed(Mi=np.array([[0, 4]] * 5, dtype=np.intp)),
        "negative column": changed(Mi=np.array([[-1, 2]] * 5, dtype=np.intp)),
        "repeated column": changed(Mi=np.array([[1, 1]] * 5, dtype=np.intp)),
        "too many missing": changed(nm=np.full(5, 3, dtype=np.intp)),
        "every feature missing": changed(Mi=np.tile(np.arange(4, dtype=np.intp), (5, 1)),
                                         nm=np.full(5, 4, dtype=np.intp)),
        "short nm": changed(nm=np.full(4, 2, dtype=np.intp)),
        "short weights": changed(w=np.ones(3)),
        "means of other width": changed(means=np.zeros((2, 3))),
        "U of 3 components": changed(U=np.zeros((3, 4, 4))),
        "precisions not component last": changed(Pt=np.zeros((2, 4, 4))),
        "precisions of other width": changed(Pt=np.zeros((3, 3, 2))),
        "short logc": changed(logc=np.zeros(1)),
        "block 0": changed(block=0, sub_block=0),
        "sub-block 0": changed(sub_block=0),
        "sub-block over the block": changed(sub_block=3),
        "short lse": changed(out_lse=np.empty(4)),
        "resp of other width": changed(out_resp=np.empty((5, 3))),
        "short labels": changed(out_labels=np.empty(4, dtype=np.intp)),
        "short statistics": changed(out_stats=np.zeros(7)),
        # moment rows: 'full' from 8 features on, with a shift and weights of its width
        "moment rows at 4 features": changed(shift=np.zeros(4), W=np.zeros((2, 15))),
        # float32 factors: (Kp, D4, D4), D4 = D rounded up to 4, float32
        "float32 factors not padded": changed(Uf=np.zeros((2, 3, 3), dtype=np.float32)),
        "float32 factors of other width": changed(Uf=np.zeros((2, 8, 8), dtype=np.float32)),
        "float32 factors of 3 components": changed(Uf=np.zeros((3, 4, 4), dtype=np.float32)),
        "float64 factors for float32 products": changed(Uf=np.zeros((2, 4, 4))),
        # float32 products are 'full' only
        "float32 products for 'tied'": changed(
            U=_rows_pass_args()["U"][:1],
            Uf=np.zeros((1, 4, 4), dtype=np.float32)),
        # conditional means (n, mmax); draws (n, mmax) with a component (n,) each
        "conditional means of other width": changed(out_cmean=np.empty((5, 3))),
        "conditional means of fewer rows": changed(out_cmean=np.empty((4, 2))),
        "draws without components": changed(draw=np.zeros((5, 2))),
        "components without draws": changed(draw_choice=np.zeros(5, dtype=np.intp)),
        "draws of other width": changed(draw=np.zeros((5, 3)),
                                        draw_choice=np.zeros(5, dtype=np.intp)),
        "a component out of range": changed(
            draw=np.zeros((5, 2)), draw_choice=np.array([0, 1, 2, 0, 1], dtype=np.intp)),
        "a negative component": changed(
            draw=np.zeros((5, 2)), draw_choice=np.array([0, -1, 0, 0, 1], dtype=np.intp)),
    }
    wide = dict(_rows_pass_args(D=8), shift=np.zeros(8), W=np.zeros((2, 45)))
    cases.update({
        "moment shift of other width": dict(wide, shift=np.zeros(7)),
        "moment weights of other width": dict(wide, W=np.zeros((2, 44))),
        "moment weights of other components": dict(wide, W=np.zeros((3, 45))),
        "moment rows for 'tied'": dict(wide, U=wide["U"][:1]),
        "moment rows with float32 products": dict(wide, Uf=np.zeros((2, 8, 8),
                                                                    dtype=np.float32)),
        "moment rows with conditional means": dict(wide, out_cmean=np.empty((5, 2))),
        "moment rows with draws": dict(wide, draw=np.zeros((5, 2)),
                                       draw_choice=np.zeros(5, dtype=np.intp)),
    })
    return list(cases.items())


@pytest.mark.parametrize("name,args", _bad_rows_pass_args(),
                         ids=[c[0] for c in _bad_rows_pass_args()])
def test_compiled_rows_refuse_what_they_cannot_read(name, args):
    from gmmfast import _missing_rows

    # the arguments as given run (so each failure below is the one change's)
    _missing_rows.rows_pass(**_rows_pass_args())
    _missing_rows.rows_pass(**dict(_rows_pass_args(D=8), shift=np.zeros(8),
                                   W=np.zeros((2, 45))))
    _missing_rows.rows_pass(**dict(_rows_pass_args(), Uf=np.zeros((2, 4, 4),
                                                                  dtype=np.float32)))
    _missing_rows.rows_pass(**dict(_rows_pass_args(), out_cmean=np.empty((5, 2)),
                                   draw=np.zeros((5, 2)),
                                   draw_choice=np.array([0, 1, 1, 0, 1], dtype=np.intp)))
    with pytest.raises(ValueError):
        _missing_rows.rows_pass(**args)


def test_conditional_covariances_mode_is_checked():
    from gmmfast import _missing_rows

    assert _missing_rows.conditional_covariances_mode() == "cost"
    with pytest.raises(ValueError, match="mode must be one of"):
        _missing_rows.conditional_covariances_mode("sometimes")
    assert _missing_rows.conditional_covariances_mode() == "cost"
    assert _missing_rows.conditional_covariances_mode("apart") == "cost"
    assert _missing_rows.conditional_covariances_mode("cost") == "apart"


def test_row_by_row_inputs_are_checked_before_the_compiled_pass(monkeypatch):
    from gmmfast import _missing

    X, _ = _data(n=60, seed=13)
    monkeypatch.setattr(_missing, "kernel_pass_pays", lambda *args, **kwargs: False)
    plan = _missing.PatternPlan(X, None, 0, 2)
    group = plan.groups[0]
    with pytest.raises(ValueError, match="must be finite"):
        _missing.RowGroup(np.where(np.isnan(X), np.inf, 0.0), group.Mi, group.nm,
                          group.rows, None)
    models, _ = _random_model("full", 2, X.shape[1], seed=1)
    models.means[0, 0] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        _missing.piece_stats(models, plan, 0, 1)
    with pytest.raises(ValueError, match="intp arrays of missing columns"):
        _missing.RowGroup(group.X0, group.Mi.astype(np.int32), group.nm, group.rows,
                          None)
    with pytest.raises(ValueError, match="float64 .n,. array"):
        _missing.RowGroup(group.X0, group.Mi, group.nm, group.rows,
                          np.ones(len(group.rows), dtype=np.float32))
    # what was checked stays as it was
    with pytest.raises(AttributeError):
        group.Mi = group.Mi.astype(np.int32)
    with pytest.raises(ValueError, match="read-only"):
        group.X0[0, 0] = np.nan
    models, _ = _random_model("full", 2, X.shape[1] + 1, seed=1)
    with pytest.raises(ValueError, match="features"):
        _missing.piece_stats(models, plan, 0, 1)


@pytest.mark.parametrize("tied", [False, True])
def test_row_constants_check_the_model(tied):
    from gmmfast import _missing_rows

    rng = np.random.default_rng(90)
    K, D = 3, 4
    Kp = 1 if tied else K
    U = np.triu(rng.normal(size=(Kp, D, D)))
    U[:, np.arange(D), np.arange(D)] = rng.uniform(0.5, 2.0, (Kp, D))
    P = U @ U.transpose(0, 2, 1)
    means = rng.normal(size=(K, D))
    w = np.array([0.5, 0.5, 0.0])

    def run(**kw):
        args = dict(weights=w, means=means, U=U)
        args.update(kw)
        return _missing_rows.row_constants(**args)

    logc, Pt = run()
    # the precisions component last, each repeated for 'tied': U U^T, each entry a
    # sum of at most D products, within D ulps of the sum of their magnitudes
    absU = np.abs(U)
    bound = D * np.finfo(float).eps * (absU @ absU.transpose(0, 2, 1))
    for k in range(K):
        kp = 0 if tied else k
        assert (np.abs(Pt[:, :, k] - P[kp]) <= bound[kp]).all()
    assert np.array_equal(Pt, Pt.transpose(1, 0, 2))
    if tied:
        assert all(np.array_equal(Pt[:, :, k], Pt[:, :, 0]) for k in range(K))
    # only the upper triangle of U is read
    junk_U = U + np.tril(rng.normal(size=U.shape), -1)
    assert np.array_equal(run(U=junk_U)[1], Pt)
    diag = np.log(np.diagonal(U, axis1=1, axis2=2)).sum(axis=1)
    # libm's log and numpy's may differ in the last place
    np.testing.assert_allclose(logc[:2], np.log(w[:2]) + diag[[0, 0] if tied else [0, 1]]
                               - 0.5 * D * np.log(2 * np.pi), rtol=4e-16)
    assert logc[2] == -np.inf      # an empty component, never chosen
    bad_means = means.copy()
    bad_means[1, 2] = np.nan
    bad_U = U.copy()
    bad_U[0, 0, 3] = np.inf
    with pytest.raises(ValueError, match="not finite"):
        run(means=bad_means)
    with pytest.raises(ValueError, match="not finite"):
        run(U=bad_U)
    huge_U = U.copy()      # finite, but its precision overflows
    huge_U[0, 0, 3] = 1e200
    with pytest.raises(ValueError, match="not finite"):
        run(U=huge_U)
    flat_U = U.copy()
    flat_U[0, 1, 1] = 0.0
    with pytest.raises(ValueError, match="diagonal entry <= 0"):
        run(U=flat_U)
    for bad in (-0.1, np.nan, np.inf):
        with pytest.raises(ValueError, match="weights are not in"):
            run(weights=np.array([0.5, bad, 0.5]))
    with pytest.raises(ValueError, match="shapes do not match"):
        run(weights=w[:2])
    with pytest.raises(ValueError, match="shapes do not match"):
        run(U=U[:, :3, :3].copy())
    with pytest.raises(ValueError, match="at least one component and one feature"):
        run(weights=w[:0], means=means[:0], U=U[:0])
    with pytest.raises(ValueError, match="at least one component and one feature"):
        run(means=means[:, :0].copy(), U=np.empty((Kp, 0, 0)))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_same_bits_on_any_thread_count(covariance_type, path, monkeypatch):
    from gmmfast import _missing, _missing_rowpath

    # several row blocks, so that two threads share the row-by-row work
    monkeypatch.setattr(_missing_rowpath, "ROW_BLOCK_DOUBLES", 2 * 64)
    X, _ = _data(n=3000, seed=12)
    fits = [_fit(X, covariance_type, 4, n_threads=t) for t in (1, 2)]
    for name in ("weights_", "means_", "covariances_"):
        assert np.array_equal(getattr(fits[0], name), getattr(fits[1], name)), name
    assert fits[0].lower_bounds_ == fits[1].lower_bounds_
    assert np.array_equal(fits[0].score_samples(X), fits[1].score_samples(X))


def test_kernel_pass_choice_by_size_alone():
    """Which patterns get a kernel pass depends on their size, never on the threads,
    and a pattern too small for threads pays only Python's fixed cost, not a threaded
    pass's: the complete rows of 10^4 x 2 (K = 3) get their own pass."""
    from gmmfast import _estep, _missing

    # 8100 rows x 3 components x 2 features: below the work a pass shares
    assert not _estep.pass_is_threaded(8100, 3, 2)
    assert _missing.kernel_pass_pays(8100, 3, 2)
    # a serial pass of few rows still does not pay
    assert not _missing.kernel_pass_pays(900, 3, 1)
    # a pass large enough for threads pays only for thousands of rows
    assert _estep.pass_is_threaded(3000, 16, 15)
    assert not _missing.kernel_pass_pays(3000, 16, 15)
    assert _estep._threads_for(8, 3000, 16, 15) > 1
    assert _estep._threads_for(1, 3000, 16, 15) == 1
    _assert_only_complete_rows_pass(10_000, seed=5)


def _assert_only_complete_rows_pass(n, seed):
    """n x 2 with 10% of the entries missing, K = 3: the complete rows take a kernel
    pass of their own, the rows with a hole go row by row."""
    from gmmfast import _missing

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    X[rng.random(X.shape) < 0.1] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    plan = _missing.PatternPlan(X, None, 0, 3)
    assert [p.missing.size for p in plan.patterns] == [0]
    assert plan.groups and (plan.groups[0].nm == 1).all()


def test_complete_rows_pay_for_their_pass_sooner():
    """The complete rows' pass needs no marginal model, so it pays from a few
    hundred rows where a pattern with a missing feature needs thousands: on 1,000 x 2
    with 10% missing (K = 3) the complete rows get their own pass."""
    from gmmfast import _missing

    assert _missing.kernel_pass_pays(800, 3, 2, complete=True)
    assert not _missing.kernel_pass_pays(800, 3, 2)
    assert not _missing.kernel_pass_pays(100, 3, 2, complete=True)
    _assert_only_complete_rows_pass(1000, seed=6)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_complete_rows_need_no_covariances(covariance_type, monkeypatch):
    """The complete rows' marginal is the mixture itself: their pass computes no
    covariances (K inverses an iteration); with the other rows row by row (which read
    the precisions), a fit computes none, and lands where the fit with every row row by
    row does (the same EM; the sums in another order)."""
    from gmmfast import _missing

    X, _ = _data()
    calls = []
    real = _missing.full_covariances

    def counted(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(_missing, "full_covariances", counted)
    fits = []
    for kept in (lambda n, K, o, complete=False: complete,
                 lambda n, K, o, complete=False: False):
        monkeypatch.setattr(_missing, "kernel_pass_pays", kept)
        with warnings.catch_warnings():   # 5 iterations on purpose
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(GaussianMixture(3, covariance_type=covariance_type,
                                        missing="marginalize", max_iter=5, tol=0,
                                        random_state=0).fit(X))
        if len(fits) == 1:
            assert calls == []
    for a in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(fits[0], a), getattr(fits[1], a),
                                   rtol=1e-12, atol=1e-13)


def _far_model(covariance_type, K, D, seed):
    """A model whose components lie far apart (in units of their deviations): most
    rows' responsibilities underflow to exactly 0 for all but one component."""
    from gmmfast import _missing

    models, S = _random_model(covariance_type, K, D, seed)
    means = 60.0 * np.eye(K, D)
    return (_missing.MarginalModels(covariance_type, models.weights, means, models.U,
                                    np.float64), S)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("D,n,far", [(3, 300, False), (5, 200, True), (9, 240, True),
                                     (50, 60, False)],
                         ids=["few features", "few features, far apart",
                              "far apart", "many features"])
def test_compiled_rows_every_route(covariance_type, D, n, far, slot_blocks, monkeypatch):
    """The row-by-row pass's plain loops (few features), its BLAS products (general
    and symmetric scatter by width), and its skip of rows whose responsibility is 0,
    each against the direct computation."""
    from gmmfast import _missing, _missing_rowpath

    K = 3
    models, S = (_far_model if far else _random_model)(covariance_type, K, D, seed=31)
    rng = np.random.default_rng(32)
    X = models.means[rng.integers(0, K, n)] + rng.normal(size=(n, D))
    # runs of rows of one pattern, and single rows, with 0 to D - 1 missing features
    for i in range(0, n, 4):
        m = rng.integers(0, D)
        X[i:i + 3, rng.choice(D, m, replace=False)] = np.nan
        X[i + 3, rng.choice(D, rng.integers(0, D), replace=False)] = np.nan
    w = rng.uniform(0.2, 3.0, n)
    monkeypatch.setattr(_missing, "kernel_pass_pays", lambda *args, **kwargs: False)
    monkeypatch.setattr(_missing_rowpath, "ROW_BLOCK_DOUBLES", 64)
    plan = _missing.PatternPlan(X, w, 0, K)
    assert plan.patterns == [] and len(plan.groups) == 1
    ref = _rows_reference(X, w, models, S)
    if far:
        assert (ref[1] == 0).mean() > 0.3
    lse, resp, labels = (np.empty(n), np.empty((n, K)), np.empty(n, dtype=np.intp))
    _missing.piece_outputs(models, plan, 0, 2, [lse, resp, labels], lse=True, resp=True,
                           labels=True)
    # log-densities of up to ~1e3 (far apart: ~60^2 / 2) to a few ulps
    np.testing.assert_allclose(lse, ref[0], rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(resp, ref[1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(labels, ref[2])
    st = _missing.piece_stats(models, plan, 0, 2)
    T2 = ref[5].sum(axis=0) if covariance_type == "tied" else ref[5]
    np.testing.assert_allclose(st.N, ref[3], rtol=1e-12)
    # sums of terms of up to ~1e2 over a few hundred rows: a few hundred ulps
    np.testing.assert_allclose(st.S1, ref[4], rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(st.S2, T2, rtol=1e-12, atol=1e-10)
    assert np.array_equal(st.S2, np.swapaxes(st.S2, -1, -2))
    assert st.L == pytest.approx(ref[6], rel=1e-13)
    assert st.sum_w == pytest.approx(ref[7], rel=1e-14)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_one_far_entry_is_the_row_named(covariance_type):
    # 'diag' and 'spherical' fill a missing entry with its column's mean (the
    # indicator columns): one entry of 1e300 put that mean at ~1e297, every row's
    # indicator terms overflowed and the error named row 0; the far row alone has
    # zero density, and the others keep their log-densities
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    gm = GaussianMixture(2, covariance_type=covariance_type, missing="marginalize",
                         random_state=0).fit(X)
    Y = X.copy()
    Y[3, 1] = Y[9, 0] = np.nan
    expected = gm.predict(Y)
    Y[7, 0] = 1e300
    with pytest.raises(ValueError, match="Row 7 of X has zero probability"):
        gm.score_samples(Y)
    # predict labels every row (as scikit-learn does): the others' labels are those
    # without the far entry (they were all component 0, of NaN log-densities)
    keep = np.arange(300) != 7
    np.testing.assert_array_equal(gm.predict(Y)[keep], expected[keep])


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_given_start_reads_no_rows_to_start_from(covariance_type, monkeypatch):
    # With weights_init, means_init and precisions_init all given, no start is drawn
    # from the data: the column means that fill the holes of the k-means start's rows
    # are not computed, and the fit is the one it was (the same bits).
    from gmmfast import _missing

    rng = np.random.default_rng(21)
    X = np.vstack([rng.normal(c, 1.0, (150, 3)) for c in (-3.0, 0.0, 3.0)])
    X[rng.random(X.shape) < 0.1] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # tol=0: max_iter, always
        given = GaussianMixture(3, covariance_type=covariance_type,
                                missing="marginalize", random_state=0, max_iter=3,
                                tol=0).fit(X)
        kw = dict(covariance_type=covariance_type, missing="marginalize", max_iter=4,
                  tol=0, weights_init=given.weights_, means_init=given.means_,
                  precisions_init=given.precisions_)
        before = GaussianMixture(3, **kw).fit(X)

        def no_start_rows(*args, **kwargs):
            raise AssertionError("rows imputed for a start that is given")

        monkeypatch.setattr(_missing, "mean_imputed", no_start_rows)
        after = GaussianMixture(3, **kw).fit(X)
        # a start left to the data still draws its rows (so the patch is the one read)
        with pytest.raises(AssertionError, match="rows imputed"):
            GaussianMixture(3, covariance_type=covariance_type, missing="marginalize",
                            means_init=given.means_, max_iter=1).fit(X)
    for a in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.array_equal(getattr(before, a), getattr(after, a))
    assert before.lower_bound_ == after.lower_bound_
