"""The estimator as a scikit-learn user meets it: API, errors, attributes."""

import inspect
import io
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import gmmfast
from gmmfast import GaussianMixture

from _reference import log_prob, make_data

COV_TYPES = ["full", "tied", "diag", "spherical"]


def test_check_estimator_passes():
    results = check_estimator(GaussianMixture(), on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert not failed
    assert len(results) > 40


def test_same_constructor_as_sklearn_plus_n_threads_and_missing():
    ours = inspect.signature(GaussianMixture.__init__).parameters
    theirs = inspect.signature(SkGaussianMixture.__init__).parameters
    assert list(ours)[: len(theirs)] == list(theirs)
    for name, p in theirs.items():
        assert ours[name].default == p.default, name
        assert ours[name].kind == p.kind, name
    assert set(ours) - set(theirs) == {"n_threads", "missing"}
    # by default NaN is refused, as scikit-learn refuses it
    assert ours["missing"].default == "error"


def test_same_public_methods_as_sklearn():
    public = lambda cls: {n for n in dir(cls) if not n.startswith("_")}
    assert public(SkGaussianMixture) <= public(GaussianMixture)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_fitted_attributes_and_shapes(covariance_type):
    X = make_data(0)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    sk = SkGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(gm, name).shape == getattr(sk, name).shape
        assert getattr(gm, name).dtype == np.float64
    assert gm.n_features_in_ == 3
    assert gm.converged_ is True or gm.converged_ == True  # noqa: E712
    assert len(gm.lower_bounds_) == gm.n_iter_
    assert gm.lower_bound_ == gm.lower_bounds_[-1]
    np.testing.assert_allclose(gm.weights_.sum(), 1.0, rtol=1e-12)


def test_fit_predict_equals_fit_then_predict():
    X = make_data(1)
    for cov in COV_TYPES:
        a = GaussianMixture(3, covariance_type=cov, random_state=2, max_iter=3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = a.fit_predict(X)
        np.testing.assert_array_equal(labels, a.predict(X))
        np.testing.assert_array_equal(labels, a.predict_proba(X).argmax(axis=1))


def test_score_bic_aic_match_sklearn():
    X = make_data(2)
    gm = GaussianMixture(3, random_state=0).fit(X)
    sk = SkGaussianMixture(3, random_state=0).fit(X)
    np.testing.assert_allclose(gm.score(X), sk.score(X), rtol=1e-12)
    np.testing.assert_allclose(gm.bic(X), sk.bic(X), rtol=1e-12)
    np.testing.assert_allclose(gm.aic(X), sk.aic(X), rtol=1e-12)
    assert gm._n_parameters() == sk._n_parameters()


def test_weighted_score_is_weighted_mean():
    X = make_data(3)
    gm = GaussianMixture(2, random_state=0).fit(X)
    w = np.random.default_rng(0).uniform(size=len(X))
    np.testing.assert_allclose(gm.score(X, sample_weight=w),
                               np.average(gm.score_samples(X), weights=w), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_sample_draws_what_sklearn_draws(covariance_type):
    X = make_data(4)
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=7).fit(X)
    sk = SkGaussianMixture(3, covariance_type=covariance_type, random_state=7).fit(X)
    # give scikit-learn exactly our parameters, then both draw from the same stream
    for name in ("weights_", "means_", "covariances_"):
        setattr(sk, name, getattr(gm, name).copy())
    Xa, ya = gm.sample(500)
    Xb, yb = sk.sample(500)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_allclose(Xa, Xb, rtol=1e-12)
    assert Xa.shape == (500, 3) and Xa.dtype == np.float64 and ya.dtype == np.int64


@pytest.mark.parametrize("n", [0, -1])
def test_sample_needs_a_positive_count(n):
    gm = GaussianMixture(2, random_state=0).fit(make_data(5))
    with pytest.raises(ValueError, match="at least one sample"):
        gm.sample(n)


def test_unfitted_model_raises_not_fitted():
    gm = GaussianMixture(2)
    X = make_data(5)
    for call in (gm.predict, gm.predict_proba, gm.score_samples, gm.score, gm.bic):
        with pytest.raises(NotFittedError):
            call(X)
    with pytest.raises(NotFittedError):
        gm.sample(3)


@pytest.mark.parametrize("bad, where", [(np.nan, "NaN"), (np.inf, r"\(inf\)"), (-np.inf, r"\(inf\)")])
def test_non_finite_input_names_the_rows(bad, where):
    X = make_data(6)
    X[[17, 40, 41], 1] = bad
    with pytest.raises(ValueError, match=rf"{where} in 3 rows \(first: row 17\)"):
        GaussianMixture(2).fit(X)
    gm = GaussianMixture(2, random_state=0).fit(make_data(6))
    with pytest.raises(ValueError, match=where):
        gm.predict(X)


def test_shape_errors_are_sklearns():
    X = make_data(7)
    with pytest.raises(ValueError, match="2D array"):
        GaussianMixture(2).fit(X[:, 0])
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(X[:4])
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        gm.predict(X[:, :2])
    with pytest.raises(ValueError, match="minimum of 2"):
        GaussianMixture(1).fit(X[:1])


@pytest.mark.parametrize(
    "param, value",
    [("n_components", 0), ("n_components", 2.5), ("covariance_type", "banana"),
     ("tol", -1.0), ("reg_covar", -1e-3), ("max_iter", -1), ("n_init", 0),
     ("init_params", "kmeans2"), ("verbose_interval", 0), ("n_threads", 0),
     ("warm_start", "yes"), ("random_state", "seed")],
)
def test_bad_parameters_raise_like_sklearn(param, value):
    X = make_data(8)
    kw = {"n_components": 2, param: value}
    with pytest.raises((ValueError, TypeError), match=param) as ours:
        GaussianMixture(**kw).fit(X)
    # scikit-learn raises InvalidParameterError (a ValueError and a TypeError); ours
    # is both too, so code catching either keeps working
    assert isinstance(ours.value, ValueError) and isinstance(ours.value, TypeError)
    if param != "n_threads":
        with pytest.raises((ValueError, TypeError)) as theirs:
            SkGaussianMixture(**kw).fit(X)
        assert isinstance(theirs.value, ValueError) and isinstance(theirs.value, TypeError)


def test_bad_initial_parameters():
    X = make_data(9)
    with pytest.raises(ValueError, match="normalized"):
        GaussianMixture(2, weights_init=[0.5, 0.6]).fit(X)
    with pytest.raises(ValueError, match="shape"):
        GaussianMixture(2, means_init=np.zeros((3, 3))).fit(X)
    with pytest.raises(ValueError, match="positive-definite"):
        GaussianMixture(2, precisions_init=-np.array([np.eye(3)] * 2)).fit(X)
    with pytest.raises(ValueError, match="positive"):
        GaussianMixture(2, covariance_type="diag", precisions_init=np.zeros((2, 3))).fit(X)


def test_collapsed_component_names_it_and_the_fix():
    # three identical points cannot carry a full covariance without regularisation;
    # the k-means start (random_state) decides which component collapses first, so pin it
    X = np.vstack([np.tile([1.0, 2.0, 3.0], (3, 1)), make_data(10)[:50]])
    means = np.array([[1.0, 2.0, 3.0], X[10], X[20]])
    gm = GaussianMixture(3, reg_covar=0.0, means_init=means, max_iter=5, random_state=0)
    with pytest.raises(ValueError, match=r"Component \d .*reg_covar \(now 0\).*n_components"):
        gm.fit(X)


def test_warm_start_continues():
    X = make_data(11)
    gm = GaussianMixture(3, warm_start=True, max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        gm.fit(X)
    first = gm.lower_bound_
    with pytest.warns(ConvergenceWarning):
        gm.fit(X)
    assert gm.lower_bounds_[0] >= first - 1e-12
    sk = SkGaussianMixture(3, warm_start=True, max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        sk.fit(X)
        sk.fit(X)
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=1e-10)


def test_n_init_keeps_the_best():
    X = make_data(12)
    best = GaussianMixture(3, n_init=4, init_params="random", random_state=1).fit(X)
    singles = []
    rs = np.random.RandomState(1)
    for _ in range(4):
        g = GaussianMixture(3, n_init=1, init_params="random", random_state=rs).fit(X)
        singles.append(g.lower_bound_)
    assert best.lower_bound_ == pytest.approx(max(singles), rel=1e-12)


def test_max_iter_zero_keeps_the_initialisation():
    X = make_data(13)
    gm = GaussianMixture(3, max_iter=0, random_state=0).fit(X)
    assert gm.n_iter_ == 0 and gm.lower_bounds_ == [] and not gm.converged_
    sk = SkGaussianMixture(3, max_iter=0, random_state=0).fit(X)
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=1e-12)


def test_clone_pipeline_gridsearch():
    X = np.random.default_rng(0).permutation(make_data(14))
    gm = GaussianMixture(2, covariance_type="diag", n_threads=1)
    assert clone(gm).get_params() == gm.get_params()
    pipe = make_pipeline(StandardScaler(), GaussianMixture(3, random_state=0)).fit(X)
    assert pipe.score(X) > -10
    search = GridSearchCV(GaussianMixture(random_state=0),
                          {"n_components": [1, 3], "covariance_type": ["full", "diag"]}, cv=3)
    search.fit(X)
    assert search.best_params_["n_components"] == 3


def test_dataframe_feature_names():
    import pandas as pd
    X = make_data(15)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    gm = GaussianMixture(2, random_state=0).fit(df)
    np.testing.assert_array_equal(gm.feature_names_in_, ["a", "b", "c"])
    np.testing.assert_array_equal(gm.predict(df), gm.predict(X))


def test_plain_arrays_keep_sklearn_feature_name_rules():
    # check_X passes plain C-contiguous float arrays through without validate_data;
    # what scikit-learn does with feature names and feature counts must not change
    import pandas as pd
    X = make_data(15)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    for Est in (GaussianMixture, SkGaussianMixture):
        gm = Est(2, random_state=0).fit(df)
        with pytest.warns(UserWarning, match="does not have valid feature names"):
            gm.predict(X)
        gm.fit(X)                      # refit on an array: the names are dropped
        assert not hasattr(gm, "feature_names_in_") and gm.n_features_in_ == 3
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            gm.predict(X)
        with pytest.raises(ValueError, match="X has 2 features, but .* is expecting 3"):
            gm.predict(np.ascontiguousarray(X[:, :2]))
        with pytest.raises(ValueError, match="minimum of 2 is required"):
            Est(1).fit(X[:1])


def test_no_copy_of_contiguous_float_input():
    X = np.ascontiguousarray(make_data(16), dtype=np.float32)
    X.setflags(write=False)
    gm = GaussianMixture(2, random_state=0).fit(X)
    assert gm.means_.dtype == np.float32
    from gmmfast import _validation

    assert _validation.check_X(gm, X, reset=False) is X


def test_verbose_prints_progress():
    X = make_data(17)
    out = io.StringIO()
    with redirect_stdout(out):
        GaussianMixture(2, verbose=2, verbose_interval=1, random_state=0).fit(X)
    text = out.getvalue()
    assert "Initialization 0" in text and "Iteration 1" in text and "converged" in text


def test_show_config_reports_openmp_and_threads():
    out = io.StringIO()
    info = gmmfast.show_config(file=out)
    assert set(info) >= {"version", "openmp", "n_threads", "blas"}
    assert info["n_threads"] >= 1
    assert ("OpenMP: on" in out.getvalue()) == info["openmp"]
    if not info["openmp"]:
        assert info["n_threads"] == 1


@pytest.mark.parametrize("cov", COV_TYPES)
@pytest.mark.parametrize("d", [3, 12])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_takes_the_first_of_equal_components(cov, d, dtype):
    """Components 1 and 3 made equal (the same parameters, so the same log-densities,
    bit for bit): predict takes the first of them, as numpy's and scikit-learn's
    argmax do, and agrees with the reference's argmax on every other row. 1001 rows:
    the kernels' vector groups of rows and the rows left after them."""
    X = make_data(0, n=1001, d=d)[:1001].astype(dtype)
    gm = GaussianMixture(4, covariance_type=cov, random_state=0).fit(X)
    half = (gm.weights_[1] + gm.weights_[3]) / 2
    gm.weights_ = np.array([gm.weights_[0], half, gm.weights_[2], half])
    gm.means_ = gm.means_[[0, 1, 2, 1]]
    if cov != "tied":
        for name in ("covariances_", "precisions_", "precisions_cholesky_"):
            setattr(gm, name, getattr(gm, name)[[0, 1, 2, 1]])
    labels = gm.predict(X)
    ref = np.argmax(log_prob(X, gm.weights_, gm.means_, gm.covariances_, cov), axis=1)
    assert np.count_nonzero(labels == 1) > 0   # the tie is met
    assert np.count_nonzero(labels == 3) == 0
    np.testing.assert_array_equal(labels, ref)


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("method", ["score_samples", "predict_proba", "score"])
def test_prediction_names_the_first_row_of_zero_density(cov, method):
    """A row far beyond every component (its log-likelihood -inf) in a later block is
    reported by its index in X, by every output that needs the log-likelihood.
    (float64 only: float32 rows are expanded in double, where no float32 value is far
    enough to make the density 0.)"""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 5))
    gm = GaussianMixture(3, covariance_type=cov, random_state=0).fit(X)
    bad = X.copy()
    bad[2345] = 1e300
    bad[2900] = 1e300
    with pytest.raises(ValueError, match=r"Row 2345 of X has zero probability"):
        getattr(gm, method)(bad)
