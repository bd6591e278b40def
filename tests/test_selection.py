"""select_model: the choice it makes, the table it returns, the errors it raises."""

import math
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import gmmfast
from gmmfast import GaussianMixture, SelectionResult, select_model


def _blobs(seed=0, n=150):
    rng = np.random.RandomState(seed)
    centers = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0]])
    return np.vstack([rng.normal(c, 0.7, size=(n, 2)) for c in centers])


def _from_type(covariance_type, seed, n=200):
    """Three components in 3-D whose covariances have the structure of one type."""
    rng = np.random.RandomState(seed)
    means = np.array([[0.0, 0.0, 0.0], [8.0, 0.0, 0.0], [0.0, 8.0, 8.0]])
    A = rng.normal(size=(3, 3))
    shared = A @ A.T + 0.5 * np.eye(3)
    parts = []
    for k, m in enumerate(means):
        if covariance_type == "full":
            B = rng.normal(size=(3, 3))
            C = B @ B.T + 0.2 * np.eye(3)
        elif covariance_type == "tied":
            C = shared
        elif covariance_type == "diag":
            C = np.diag(rng.uniform(0.2, 3.0, size=3))
        else:
            C = np.eye(3) * (0.3, 1.0, 2.5)[k]
        parts.append(rng.multivariate_normal(m, C, n))
    return np.vstack(parts)


def test_three_blobs_give_k3_by_bic():
    X = _blobs()
    result = select_model(X, n_components=range(1, 7), random_state=0)
    assert result.best_params_["n_components"] == 3
    assert result.criterion == "bic"
    bics = result.column("bic")
    assert result.best_score_ == bics.min()
    # K=3 is the best of each covariance type, not only overall
    for t in result.covariance_types:
        mine = [r for r in result.rows if r["covariance_type"] == t]
        assert min(mine, key=lambda r: r["bic"])["n_components"] == 3


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_recovers_the_generating_covariance_type(covariance_type):
    X = _from_type(covariance_type, seed=1)
    # k-means can split elongated clusters wrongly; three starts per candidate, as a
    # user would ask for, make the choice robust (it holds for seeds 0..5)
    result = select_model(X, n_components=range(2, 5), n_init=3, random_state=1)
    assert result.best_params_ == {"n_components": 3, "covariance_type": covariance_type}
    assert result.best_estimator_.covariance_type == covariance_type


def test_table_rows_are_consistent_with_the_estimators():
    X = _blobs(seed=3, n=60)
    result = select_model(X, n_components=[1, 2, 3], covariance_types=("full", "diag"),
                          random_state=0)
    assert isinstance(result, SelectionResult)
    assert len(result) == 6
    assert [(r["n_components"], r["covariance_type"]) for r in result] == [
        (1, "full"), (1, "diag"), (2, "full"), (2, "diag"), (3, "full"), (3, "diag")]
    n = len(X)
    for r in result.rows:
        p = r["n_parameters"]
        assert r["bic"] == pytest.approx(-2 * r["log_likelihood"] + p * math.log(n))
        assert r["aic"] == pytest.approx(-2 * r["log_likelihood"] + 2 * p)
        assert r["n_iter"] >= 1 and r["fit_time"] > 0 and isinstance(r["converged"], bool)
    best = result.best_estimator_
    row = result.rows[result.best_index_]
    assert best.n_components == row["n_components"]
    assert best.bic(X) == pytest.approx(row["bic"], rel=1e-10)
    assert best.aic(X) == pytest.approx(row["aic"], rel=1e-10)
    assert best.score(X) * n == pytest.approx(row["log_likelihood"], rel=1e-10)


def test_aic_criterion_chooses_the_aic_minimum():
    X = _blobs(seed=4, n=50)
    result = select_model(X, n_components=range(1, 6), criterion="AIC", random_state=0)
    aics = result.column("aic")
    assert result.criterion == "aic"
    assert result.best_index_ == int(np.argmin(aics))
    assert result.best_score_ == aics.min()


def test_shared_kmeans_start_matches_a_plain_fit():
    """The shared k-means start is the one GaussianMixture(random_state=seed) makes."""
    X = _blobs(seed=5, n=80)
    result = select_model(X, n_components=[3], covariance_types=("full", "tied", "diag",
                                                                   "spherical"),
                          random_state=7)
    seed = np.random.RandomState(7).randint(np.iinfo(np.int32).max)
    for row in result.rows:
        plain = GaussianMixture(3, covariance_type=row["covariance_type"],
                                random_state=seed).fit(X)
        assert plain.n_iter_ == row["n_iter"]
        assert plain.score(X) * len(X) == pytest.approx(row["log_likelihood"], rel=1e-9)


def test_n_init_keeps_the_best_run_and_is_reproducible():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((120, 2))  # no structure: the runs differ
    one = select_model(X, n_components=[4], covariance_types="full", random_state=0)
    five = select_model(X, n_components=[4], covariance_types="full", n_init=5,
                        random_state=0)
    again = select_model(X, n_components=[4], covariance_types="full", n_init=5,
                         random_state=0)
    # the first of the five runs is the single run, so five runs do no worse
    assert five.rows[0]["log_likelihood"] >= one.rows[0]["log_likelihood"] - 1e-9
    assert five.rows[0]["log_likelihood"] == again.rows[0]["log_likelihood"]
    assert five.rows[0]["fit_time"] > 0


def test_print_and_frame_show_every_row_and_mark_the_best():
    X = _blobs(seed=6, n=40)
    result = select_model(X, n_components=range(1, 5), covariance_types=("tied", "spherical"),
                          random_state=0)
    text = str(result)
    lines = text.splitlines()
    assert len(lines) == 2 + len(result)  # title, header, one line per row
    assert "BIC" in lines[0] and "K=3" in lines[0]
    starred = [ln for ln in lines if ln.startswith("* ")]
    best = result.rows[result.best_index_]
    assert len(starred) == 1
    assert starred[0].split()[1:3] == [str(best["n_components"]), best["covariance_type"]]
    assert text in repr(result)

    frame = result.to_frame()
    assert list(frame.columns[:9]) == ["n_components", "covariance_type", "log_likelihood",
                                       "bic", "aic", "n_parameters", "n_iter", "converged",
                                       "fit_time"]
    assert len(frame) == len(result)
    assert frame["best"].sum() == 1
    assert frame.loc[frame["best"], "bic"].item() == frame["bic"].min()


def test_unconverged_candidates_are_reported_once():
    X = _blobs(seed=7, n=60)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = select_model(X, n_components=[2, 3], covariance_types=("full",),
                              max_iter=1, tol=1e-12, random_state=0)
    conv = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(conv) == 1
    assert "K=2 full" in str(conv[0].message) and "K=3 full" in str(conv[0].message)
    assert not any(r["converged"] for r in result.rows)


def test_a_failed_candidate_stays_in_the_table_and_is_never_chosen():
    # four distinct points: with K=4 every component collapses onto one point
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]), 5, axis=0)
    with pytest.warns(UserWarning, match="could not be fitted"):
        result = select_model(X, n_components=[1, 4], covariance_types=("full",),
                              reg_covar=0.0, random_state=0)
    failed = [r for r in result.rows if "error" in r]
    assert [r["n_components"] for r in failed] == [4]
    assert failed[0]["bic"] == np.inf and np.isnan(failed[0]["log_likelihood"])
    assert "reg_covar" in failed[0]["error"]
    assert result.best_params_["n_components"] == 1
    assert "error" in str(result)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_components": []}, ValueError, "empty"),
        ({"n_components": range(1, 1)}, ValueError, "empty"),
        ({"n_components": [0, 1]}, ValueError, ">= 1"),
        ({"n_components": [2, 31]}, ValueError, "larger than the number of samples"),
        ({"n_components": 2.5}, TypeError, "int"),
        ({"n_components": ["2"]}, TypeError, "ints"),
        ({"covariance_types": ()}, ValueError, "empty"),
        ({"covariance_types": ("full", "diagonal")}, ValueError, "'diagonal'"),
        ({"criterion": "likelihood"}, ValueError, "'bic' or 'aic'"),
        ({"n_init": 0}, ValueError, "n_init"),
        ({"tol": -1.0}, gmmfast.InvalidParameterError, "tol"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    X = _blobs(n=10)  # 30 samples
    with pytest.raises(error, match=match):
        select_model(X, **kwargs)


def test_single_int_and_string_are_accepted():
    X = _blobs(n=30)
    result = select_model(X, n_components=3, covariance_types="diag", random_state=0)
    assert len(result) == 1
    assert result.best_params_ == {"n_components": 3, "covariance_type": "diag"}


def test_column_rejects_unknown_names():
    result = select_model(_blobs(n=20), n_components=[1], covariance_types="full")
    with pytest.raises(KeyError, match="columns are"):
        result.column("likelihood")
