"""BayesianGaussianMixture as a scikit-learn user meets it: API, errors, attributes."""

import inspect
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import BayesianGaussianMixture as SkBGM
from sklearn.utils.estimator_checks import check_estimator

import gmmfast
from gmmfast import BayesianGaussianMixture, InvalidParameterError

from _reference import make_data


def test_check_estimator_passes():
    results = check_estimator(BayesianGaussianMixture(), on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert not failed
    assert len(results) > 40


def test_same_constructor_as_sklearn_plus_n_threads():
    ours = inspect.signature(BayesianGaussianMixture.__init__).parameters
    theirs = inspect.signature(SkBGM.__init__).parameters
    assert list(ours)[: len(theirs)] == list(theirs)
    for name, p in theirs.items():
        assert ours[name].default == p.default, name
        assert ours[name].kind == p.kind, name
    assert set(ours) - set(theirs) == {"n_threads"}


def test_same_public_methods_and_attributes_as_sklearn():
    public = lambda cls: {n for n in dir(cls) if not n.startswith("_")}  # noqa: E731
    assert public(SkBGM) <= public(BayesianGaussianMixture)
    X = make_data(0)
    ours = BayesianGaussianMixture(n_components=3, random_state=0).fit(X)
    ref = SkBGM(n_components=3, random_state=0).fit(X)
    fitted = lambda e: {n for n in vars(e) if n.endswith("_") and not n.startswith("_")}  # noqa: E731,E501
    assert fitted(ref) <= fitted(ours)
    assert fitted(ours) - fitted(ref) == {"n_effective_components_"}
    assert "BayesianGaussianMixture" in gmmfast.__all__


def test_clone_and_not_fitted():
    est = BayesianGaussianMixture(n_components=2, weight_concentration_prior=0.5)
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(NotFittedError, match="BayesianGaussianMixture instance is not"):
        est.predict(make_data(0))


@pytest.mark.parametrize("kw, match", [
    (dict(weight_concentration_prior_type="dirichlet"), "weight_concentration_prior_type"),
    (dict(weight_concentration_prior=0.0), "'weight_concentration_prior'.*> 0"),
    (dict(mean_precision_prior=-1.0), "'mean_precision_prior'.*> 0"),
    (dict(degrees_of_freedom_prior="3"), "'degrees_of_freedom_prior'"),
    (dict(covariance_prior=-2.0), "'covariance_prior'"),
    (dict(covariance_type="VVV"), "'covariance_type' parameter of BayesianGaussian"),
    (dict(n_components=0), "'n_components' parameter of BayesianGaussianMixture"),
    (dict(tol=-1.0), "'tol' parameter of BayesianGaussianMixture"),
])
def test_bad_parameters_say_what_to_change(kw, match):
    with pytest.raises(InvalidParameterError, match=match):
        BayesianGaussianMixture(**kw).fit(make_data(0))


@pytest.mark.parametrize("covariance_type, prior, match", [
    ("full", np.eye(2), r"'full covariance_prior' should have the shape of \(3, 3\)"),
    ("tied", -np.eye(3), "'tied covariance_prior' should be symmetric, positive-definite"),
    ("diag", np.array([1.0, -1.0, 1.0]), "'diag covariance_prior' should be positive"),
    ("spherical", np.ones(3), "'spherical covariance_prior' should be a positive float"),
])
def test_bad_covariance_prior(covariance_type, prior, match):
    est = BayesianGaussianMixture(covariance_type=covariance_type, covariance_prior=prior)
    with pytest.raises(ValueError, match=match):
        est.fit(make_data(0))


def test_bad_mean_and_dof_priors():
    X = make_data(0)
    with pytest.raises(ValueError, match=r"'means' should have the shape of \(3,\)"):
        BayesianGaussianMixture(mean_prior=[0.0, 1.0]).fit(X)
    with pytest.raises(ValueError, match="should be greater than 2, but got 2.000"):
        BayesianGaussianMixture(degrees_of_freedom_prior=2.0).fit(X)


def test_warm_start_continues_and_bound_increases():
    X = make_data(1)
    est = BayesianGaussianMixture(n_components=4, warm_start=True, max_iter=1,
                                  random_state=0)
    bounds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(5):
            bounds.append(est.fit(X).lower_bound_)
    assert np.all(np.diff(bounds) > 0)
    assert est.n_iter_ == 1


def test_max_iter_zero_keeps_the_initial_posterior():
    X = make_data(2)
    ours = BayesianGaussianMixture(n_components=3, max_iter=0, random_state=0).fit(X)
    ref = SkBGM(n_components=3, max_iter=0, random_state=0).fit(X)
    np.testing.assert_allclose(ours.means_, ref.means_, rtol=1e-12)
    assert ours.lower_bounds_ == [] and ours.n_iter_ == 0


def test_hierarchical_start_is_the_plain_mixtures():
    """init_params='hierarchical' (mclust's start, beyond scikit-learn) gives the
    Bayesian mixture the partition it gives GaussianMixture."""
    from sklearn.datasets import load_iris

    from gmmfast import GaussianMixture

    X = load_iris().data
    kw = dict(n_components=3, init_params="hierarchical", max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = GaussianMixture(**kw).fit(X)
        # a vanishing mean precision prior: the posterior means are the partition's
        bayes = BayesianGaussianMixture(mean_precision_prior=1e-12, **kw).fit(X)
    # the same float64 means of the same rows, one shrunk by ~1e-12 towards the
    # data mean
    np.testing.assert_allclose(bayes.means_, plain.means_, rtol=1e-9)
