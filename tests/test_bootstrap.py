"""gmmfast.bootstrap: the weighted likelihood bootstrap (mclust's MclustBootstrap "wlbs").

The reference (tests/data/mclust/mclust_wlbs_iris.csv) was made by
tools/mclust_wlbs_reference.R; R is not needed here.
"""

import os

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

from gmmfast import BootstrapResult, GaussianMixture, bootstrap

DATA = os.path.join(os.path.dirname(__file__), "data", "mclust")


def _iris_fit():
    X = np.loadtxt(os.path.join(DATA, "data_iris.csv"), delimiter=",")
    gm = GaussianMixture(2, covariance_type="VEV", init_params="hierarchical",
                         reg_covar=0.0, tol=1e-8, max_iter=10000).fit(X)
    return X, gm


def test_standard_errors_are_mclusts_on_iris():
    X, gm = _iris_fit()
    result = bootstrap(gm, X, n_boot=999, random_state=0)
    assert isinstance(result, BootstrapResult)
    assert result.n_boot == 999 and result.n_failed == 0
    se = result.standard_errors()
    with open(os.path.join(DATA, "mclust_wlbs_iris.csv")) as f:
        rows = [ln.strip().split(",") for ln in f if not ln.startswith("#")][1:]
    assert len(rows) == 2 * (1 + 4 + 16)
    ratios = []
    for name, k, i, j, value, ref_se in rows:
        k, i, j = int(k) - 1, int(i) - 1, int(j) - 1
        ours, fitted = {
            "pro": (se["weights"][k], gm.weights_[k]),
            "mean": (se["means"][k, i], gm.means_[k, i]),
            "sigma": (se["covariances"][k, i, j], gm.covariances_[k, i, j]),
        }[name]
        # the same model: mclust's EM stopped at a relative change of 1e-5
        assert_allclose(fitted, float(value), rtol=1e-5)
        ratios.append(ours / float(ref_se))
    ratios = np.array(ratios)
    # two independent runs of 999 replicates: each standard error carries a Monte
    # Carlo error of ~1/sqrt(2 * 998) = 2.2% (more for the covariances' heavier
    # tails), ~3.2% for the ratio of two; measured over four seeds: 0.90 to 1.055,
    # medians 0.98 to 0.996
    assert (np.abs(ratios - 1.0) <= 0.15).all(), ratios
    assert abs(np.median(ratios) - 1.0) <= 0.03


def test_one_component_mean_has_the_wlb_standard_error():
    # one component: a replicate's mean is the weighted mean, whose variance under
    # flat Dirichlet weights is mean((x - xbar)^2) / (n + 1)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2)) * [1.0, 3.0]
    gm = GaussianMixture(1).fit(X)
    result = bootstrap(gm, X, n_boot=500, random_state=1)
    expected = np.sqrt(X.var(axis=0) / (len(X) + 1))
    # 500 replicates: the standard error's Monte Carlo error is ~3.2%
    assert_allclose(result.standard_errors()["means"][0], expected, rtol=0.12)
    assert_allclose(result.weights, 1.0)


@pytest.mark.parametrize("covariance_type,shape", [
    ("diag", (2, 3)), ("EII", (2,)), ("tied", (3, 3)), ("EVE", (2, 3, 3))])
def test_replicates_keep_the_models_layout_and_are_reproducible(covariance_type, shape):
    rng = np.random.RandomState(2)
    X = np.vstack([rng.normal(size=(80, 3)), rng.normal(size=(80, 3)) + 6.0])
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    a = bootstrap(gm, X, n_boot=20, random_state=3)
    b = bootstrap(gm, X, n_boot=20, random_state=3)
    c = bootstrap(gm, X, n_boot=20, random_state=4)
    assert a.weights.shape == (20, 2) and a.means.shape == (20, 2, 3)
    assert a.covariances.shape == (20,) + shape
    assert_array_equal(a.means, b.means)
    assert not np.array_equal(a.means, c.means)
    # the components stay the fitted model's, in its order
    assert (np.abs(a.means - gm.means_).max(axis=(0, 2)) < 1.0).all()
    lower, upper = a.confidence_intervals(0.9)["means"]
    assert (lower <= upper).all()
    assert (a.standard_errors()["weights"] > 0).all()


def test_bad_inputs_and_collapsing_replicates_raise():
    rng = np.random.RandomState(5)
    X = rng.normal(size=(50, 2))
    with pytest.raises(NotFittedError):
        bootstrap(GaussianMixture(2), X)
    gm = GaussianMixture(1).fit(X)
    with pytest.raises(TypeError, match="fitted gmmfast.GaussianMixture"):
        bootstrap("model", X)
    with pytest.raises(ValueError, match="n_boot must be an int >= 1"):
        bootstrap(gm, X, n_boot=0)
    with pytest.raises(ValueError, match="2 features"):
        bootstrap(gm, X[:, :1])
    result = bootstrap(gm, X, n_boot=1, random_state=0)
    with pytest.raises(ValueError, match="at least 2 replicates"):
        result.standard_errors()
    with pytest.raises(ValueError, match="level must be in"):
        result.confidence_intervals(1.5)
    # a component on one point: a zero covariance under any weights without reg_covar
    Y = np.vstack([X, [[40.0, 40.0]]])
    tiny = GaussianMixture(2, random_state=0, reg_covar=1e-6).fit(Y)
    tiny.set_params(reg_covar=0.0)
    with pytest.raises(ValueError, match="21 bootstrap replicates failed"):
        bootstrap(tiny, Y, n_boot=2, random_state=0)
