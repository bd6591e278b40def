"""GaussianMixtureRegressor: a scikit-learn regressor conditioning a joint mixture."""

import gmr
import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from gmmfast import GaussianMixture, GaussianMixtureRegressor


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (n, 1))
    y = np.sin(x[:, 0]) + 0.1 * rng.normal(size=n)
    return x, y


def test_sklearn_estimator_checks():
    # one component (the default), as tests/test_api.py checks GaussianMixture: the
    # checks compare fits on shuffled, weighted and repeated rows, which only a
    # mixture with a unique maximum (one component) must fit identically
    results = check_estimator(GaussianMixtureRegressor(), on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert not failed
    assert len(results) > 40


def test_predict_is_the_joint_mixtures_conditional_mean():
    x, y = _data()
    reg = GaussianMixtureRegressor(6, random_state=0).fit(x, y)
    joint = GaussianMixture(6, random_state=0).fit(np.c_[x, y])
    # the same joint fit, bit for bit
    assert np.array_equal(reg.mixture_.means_, joint.means_)
    ref = gmr.GMM(n_components=6, priors=joint.weights_, means=joint.means_,
                  covariances=joint.covariances_)
    xt = np.linspace(-2.5, 2.5, 50)[:, None]
    # gmr computes the same closed form with explicit inverses
    np.testing.assert_allclose(reg.predict(xt), ref.predict(np.array([0]), xt)[:, 0],
                               rtol=0, atol=1e-10)
    mean, std = reg.predict(xt, return_std=True)
    cond = joint.condition([0], xt)
    np.testing.assert_array_equal(mean, cond.mean()[:, 0])
    np.testing.assert_array_equal(std, cond.std()[:, 0])
    # a fit of sin(x) + noise of sd 0.1: the mean follows sin within the noise, and
    # the band is about the noise
    assert np.abs(mean - np.sin(xt[:, 0])).max() < 0.1
    assert np.all((std > 0.05) & (std < 0.3))


def test_multi_output_and_sample_y():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 2))
    Y = np.c_[X @ [1.0, -2.0], X[:, 0] * 0.5] + 0.05 * rng.normal(size=(500, 2))
    reg = GaussianMixtureRegressor(2, random_state=0).fit(X, Y)
    assert reg.predict(X[:7]).shape == (7, 2)
    m, s = reg.predict(X[:7], return_std=True)
    assert s.shape == (7, 2)
    draws = reg.sample_y(X[:7], n_samples=3)
    assert draws.shape == (7, 2, 3)
    np.testing.assert_array_equal(draws, reg.sample_y(X[:7], n_samples=3))
    x, y = _data()
    r1 = GaussianMixtureRegressor(4, random_state=0).fit(x, y)
    assert r1.sample_y(x[:5], 4, random_state=1).shape == (5, 4)
    # a linear-Gaussian relation is recovered: R^2 near 1 - noise / variance
    assert reg.score(X, Y) > 0.99


def test_pipeline_and_cross_val_score():
    x, y = _data(seed=2)
    pipe = make_pipeline(StandardScaler(), GaussianMixtureRegressor(6, random_state=0))
    scores = cross_val_score(pipe, x, y, cv=3)
    # sin(x) with noise 0.1 on a variance of ~0.5: R^2 ~ 0.98 on every fold
    assert scores.shape == (3,) and scores.min() > 0.9
