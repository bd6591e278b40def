"""init_params='hierarchical': mclust's start (gmmfast/_hc.py, _mclust_loops.pyx).

Agreement with R's mclust on committed tables (tests/data/mclust/, made by
tools/mclust_hc_reference.R and tools/mclust_reference.R; R is not needed here), the
criterion against a direct computation, weights, the subsample, validation,
determinism, and the issue's condition: from this start gmmfast's best BIC is at least
mclust's.
"""

import os
import warnings

import dask.array as da
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from gmmfast import (BayesianGaussianMixture, GaussianMixture, InvalidParameterError,
                     select_model)
from gmmfast import _hc, _init
from gmmfast._mclust_loops import vvv_merges
from gmmfast._mclust_models import MODELS
from gmmfast.selection import _initial_parameters

DATA = os.path.join(os.path.dirname(__file__), "data", "mclust")


def _read_table(name):
    with open(os.path.join(DATA, name)) as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    header = lines[0].strip().split(",")
    return [dict(zip(header, ln.strip().split(","))) for ln in lines[1:]]


def _data(dataset):
    return np.loadtxt(os.path.join(DATA, f"data_{dataset}.csv"), delimiter=",", ndmin=2)


def _datasets():
    with open(os.path.join(DATA, "datasets.txt")) as f:
        return f.read().split()


def _blobs(seed=0, n=300, d=3):
    rng = np.random.RandomState(seed)
    centres = rng.normal(0, 4, size=(3, d))
    parts = [rng.normal(size=(n // 3, d)) @ rng.normal(size=(d, d)) + c for c in centres]
    return np.vstack(parts)


# ------------------------------------------------------------- agreement with mclust


R_PAIRS = {r["dataset"]: np.array([[int(v) for v in pair.split()]
                                   for pair in r["pairs"].split(";")]) - 1
           for r in _read_table("mclust_hc_pairs.csv")}


@pytest.mark.parametrize("dataset", _datasets())
def test_merge_sequence_is_mclusts(dataset):
    # every merge of hc(X, "VVV", use = "SVD"), in order: the same criterion, the same
    # transformation and the same tie rule (measured: all 17 sequences identical)
    X = _data(dataset)
    pairs, change = _hc.merges(X)
    assert pairs.shape == (len(X) - 1, 2)
    assert_array_equal(pairs, R_PAIRS[dataset])
    assert np.isfinite(change).all()


@pytest.mark.parametrize("dataset", _datasets())
def test_cuts_are_mclusts_hclass(dataset):
    # hclass(hcPairs, K), labels numbered by first appearance (mclust's partconv)
    X = _data(dataset)
    hc = {int(r["K"]): np.frombuffer(r["labels"].encode(), dtype=np.uint8) - ord("1")
          for r in _read_table("mclust_partitions.csv")
          if r["dataset"] == dataset and r["model"] == "hc"}
    start = _hc.HierarchicalStart(X, None, np.random.RandomState(0))
    assert not start.subsampled
    for K in range(1, 10):
        assert_array_equal(start.labels(K), hc[K])
    kind, labels = _init.initial_assignments(X, None, 3, "hierarchical",
                                             np.random.RandomState(0))
    assert kind == "labels"
    assert_array_equal(labels, hc[3])


# --------------------------------------------------- the criterion, computed directly


def _direct_merges(Z, w, alpha):
    """mclust's criterion from scratch at every step (slogdet of each merged scatter)."""
    n, p = Z.shape
    clusters = [[i] for i in range(n)]

    def term(rows):
        ws = w[rows].sum()
        m = w[rows] @ Z[rows] / ws
        Zc = Z[rows] - m
        W = (w[rows, None] * Zc).T @ Zc
        c = np.log((np.trace(W) + alpha) / ws)
        if ws <= p or len(rows) <= p or np.trace(W) == 0:
            return ws * c
        return ws * np.logaddexp(np.linalg.slogdet(W / ws)[1], c)

    pairs, changes = [], []
    while len(clusters) > 1:
        best = None
        for b in range(1, len(clusters)):
            for a in range(b):
                d = (term(clusters[a] + clusters[b]) - term(clusters[a])
                     - term(clusters[b]))
                if best is None or d < best[0]:
                    best = (d, a, b)
        d, a, b = best
        la, lb = min(clusters[a]), min(clusters[b])
        pairs.append((min(la, lb), max(la, lb)))
        changes.append(d)
        clusters[a] = clusters[a] + clusters[b]
        del clusters[b]
    return np.array(pairs), np.array(changes)


@pytest.mark.parametrize("weighted", [False, True])
def test_criterion_is_the_direct_computation(weighted):
    # 36 rows in 3 dimensions: clusters grow past p rows, so the determinant branch,
    # the factor updates and the cached column minima are all exercised
    rng = np.random.RandomState(3)
    X = _blobs(seed=3, n=36, d=3)
    w = rng.uniform(0.5, 3.0, size=len(X)) if weighted else None
    Z = _hc.svd_transform(X, w)
    ww = np.ones(len(X)) if w is None else w
    alpha = _hc.traceW(Z, w) / (ww.sum() * Z.shape[1])
    pairs, change = _hc.merges(X, w)
    ref_pairs, ref_change = _direct_merges(Z, ww, alpha)
    assert_array_equal(pairs, ref_pairs)
    # Givens-updated factors vs a fresh slogdet: both within ~1e-13 of the terms
    # (whose size is ~n log n), so the differences of terms agree to ~1e-11
    assert_allclose(change, ref_change, rtol=0, atol=1e-10)


def test_vvv_merges_validates_its_inputs():
    Z = np.zeros((3, 2))
    with pytest.raises(ValueError, match="at least 2 rows"):
        vvv_merges(np.zeros((1, 2)), np.ones(1), 1.0)
    with pytest.raises(ValueError, match="weight has 2 entries"):
        vvv_merges(Z, np.ones(2), 1.0)
    with pytest.raises(ValueError, match="alpha and beta"):
        vvv_merges(Z, np.ones(3), 0.0)
    with pytest.raises(ValueError, match="finite"):
        vvv_merges(Z + np.nan, np.ones(3), 1.0)
    with pytest.raises(ValueError, match="finite"):
        vvv_merges(Z, np.array([1.0, 0.0, 1.0]), 1.0)


# ------------------------------------------------------------------------- weights


@pytest.mark.parametrize("dataset", ["iris", "gen_VVV"])
def test_integer_weights_are_mclusts_repeated_rows(dataset):
    # R: hc() of the rows repeated w_i = 1 + i % 3 times (from 0), from the partition
    # that groups each row's copies (a weight keeps a row's copies together; without
    # that partition mclust may merge one copy of a row with another row first)
    X = _data(dataset)
    w = 1.0 + np.arange(len(X)) % 3
    pairs, _ = _hc.merges(X, w)
    assert_array_equal(pairs, R_PAIRS[dataset + "*w"])


def test_unit_weights_are_no_weights():
    X = _blobs(seed=1, n=60)
    ones = _hc.merges(X, np.ones(len(X)))
    plain = _hc.merges(X)
    assert_array_equal(ones[0], plain[0])
    assert_array_equal(ones[1], plain[1])
    kind, labels = _init.initial_assignments(X, np.ones(len(X)), 4, "hierarchical",
                                             np.random.RandomState(0))
    assert_array_equal(labels, _hc.HierarchicalStart(X, None, None).labels(4))


def test_zero_weights_are_left_out():
    X = _blobs(seed=2, n=90)
    w = np.ones(len(X))
    w[::7] = 0.0
    kind, labels = _init.initial_assignments(X, w, 3, "hierarchical",
                                             np.random.RandomState(0))
    assert kind == "labels"
    assert (labels[::7] == -1).all()
    kept = np.flatnonzero(w > 0)
    alone = _hc.HierarchicalStart(X[kept], None, np.random.RandomState(0)).labels(3)
    assert_array_equal(labels[kept], alone)
    gm = GaussianMixture(3, init_params="hierarchical").fit(X, sample_weight=w)
    assert gm.converged_


# ----------------------------------------------------------------- the subsample


def test_large_data_is_clustered_on_a_subsample_of_2000_rows():
    X = _blobs(seed=4, n=3000)
    kind, labels = _init.initial_assignments(X, None, 3, "hierarchical",
                                             np.random.RandomState(0))
    assert kind == "subset_labels"
    assert np.count_nonzero(labels >= 0) == _hc.MAX_ROWS == 2000
    again = _init.initial_assignments(X, None, 3, "hierarchical",
                                      np.random.RandomState(0))[1]
    other = _init.initial_assignments(X, None, 3, "hierarchical",
                                      np.random.RandomState(1))[1]
    assert_array_equal(labels, again)
    assert not np.array_equal(labels >= 0, other >= 0)
    # the subset's estimates stand for all rows: the weights sum to 1
    nk, means, cov = _init.parameters_from_assignments(X, None, kind, labels, 3, "full",
                                                       1e-6)
    assert_allclose(nk.sum(), len(X), rtol=1e-12)
    rows = labels >= 0
    nk_s, means_s, cov_s = _init.parameters_from_assignments(
        X[rows], None, "labels", labels[rows], 3, "full", 1e-6)
    assert_array_equal(means, means_s)
    assert_array_equal(cov, cov_s)
    # three separate blobs are found from the subset's start
    rng = np.random.RandomState(4)
    truth = np.repeat(np.arange(3), 1000)
    Y = rng.normal(size=(3000, 3)) + 12.0 * np.eye(3)[truth]
    gm = GaussianMixture(3, init_params="hierarchical", random_state=0).fit(Y)
    assert gm.converged_
    assert len(set(zip(gm.predict(Y), truth))) == 3


def test_weighted_subsample_keeps_the_weights():
    X = _blobs(seed=5, n=2400)
    w = np.random.RandomState(0).uniform(0.5, 2.0, size=len(X))
    w[:300] = 0.0
    kind, labels = _init.initial_assignments(X, w, 3, "hierarchical",
                                             np.random.RandomState(0))
    assert kind == "subset_labels"
    assert (labels[:300] == -1).all()
    assert np.count_nonzero(labels >= 0) == 2000
    nk, _, _ = _init.parameters_from_assignments(X, w, kind, labels, 3, "diag", 1e-6)
    assert_allclose(nk.sum(), w.sum(), rtol=1e-12)


# ----------------------------------------------------------- estimators and dtypes


def test_estimators_accept_hierarchical_and_refuse_unknown_starts():
    X = _data("iris")
    gm = GaussianMixture(3, covariance_type="VEV", init_params="hierarchical").fit(X)
    assert gm.converged_
    bgm = BayesianGaussianMixture(n_components=3, init_params="hierarchical",
                                  random_state=0).fit(X)
    assert np.isfinite(bgm.lower_bound_)
    with pytest.raises(InvalidParameterError, match="'hierarchical'"):
        GaussianMixture(3, init_params="hclust").fit(X)
    with pytest.raises(ValueError, match="Unknown init_params 'random' for select_model"):
        select_model(X, [2], init_params="random")


def test_validation_errors_say_what_to_change():
    X = _blobs(seed=6, n=30)
    w = np.zeros(len(X))
    w[:2] = 1.0
    with pytest.raises(ValueError, match="n_components=3 clusters of 2 rows with "
                                         "non-zero weight; use n_components <= 2"):
        GaussianMixture(3, init_params="hierarchical").fit(X, sample_weight=w)
    with pytest.raises(ValueError, match="every feature constant"):
        GaussianMixture(2, init_params="hierarchical").fit(np.ones((10, 3)))
    w[1] = 0.0
    with pytest.raises(ValueError, match="at least 2 rows with non-zero weight"):
        _hc.HierarchicalStart(X, w, np.random.RandomState(0))


def test_constant_and_collinear_features_are_dropped():
    X = _blobs(seed=7, n=60)
    # a constant feature and a copy of another: the same tree as the three features
    wide = np.column_stack([X, np.full(len(X), 5.0), 2.0 * X[:, 0]])
    assert _hc.svd_transform(wide).shape == (60, 3)
    assert np.isfinite(_hc.merges(wide)[1]).all()


def test_float32_is_clustered_in_double_and_deterministic():
    X = _data("wine")
    X32 = X.astype(np.float32)
    a = _hc.merges(X32)
    b = _hc.merges(X32.astype(np.float64))
    c = _hc.merges(X32)
    assert_array_equal(a[0], b[0])
    assert_array_equal(a[1], b[1])
    assert_array_equal(a[1], c[1])  # bit for bit, run after run
    gm = GaussianMixture(3, init_params="hierarchical").fit(X32)
    assert gm.means_.dtype == np.float32


def test_select_model_builds_one_tree_for_every_k():
    X = _data("iris")
    result = select_model(X, range(1, 4), covariance_types=["VVV", "EEE"],
                          init_params="hierarchical", n_init=3)
    # fewer than 2000 rows: one start whatever n_init, cut at each K
    for K in range(1, 4):
        labels = _hc.HierarchicalStart(X, None, None).labels(K)
        w, m, p = _initial_parameters(X, labels, K, "VVV", 1e-6)
        gm = GaussianMixture(K, covariance_type="VVV", weights_init=w, means_init=m,
                             precisions_init=p).fit(X)
        row = [r for r in result.rows if r["n_components"] == K
               and r["covariance_type"] == "VVV"][0]
        # the same fit; the table's BIC sums the log-likelihood as n * score(X)
        assert_allclose(row["bic"], gm.bic(X), rtol=1e-13)


# ------------------------------------------------ the condition: BIC >= mclust's


def _mclust_best(dataset):
    rows = [r for r in _read_table("mclust_bic.csv")
            if r["dataset"] == dataset and r["bic_default"] != "NA"]
    best = max(rows, key=lambda r: float(r["bic_default"]))
    return best["model"], int(best["K"]), float(best["bic_default"])


@pytest.mark.parametrize("dataset", _datasets())
def test_best_bic_is_at_least_mclusts(dataset):
    # mclust's best (model, K) of mclustBIC with its defaults, fitted by gmmfast from
    # init_params='hierarchical' (the same start): gmmfast's best over the grid is at
    # least this fit's BIC, and this fit's is at least mclust's (in mclust's sign).
    # mclust stops EM at a relative change of 1e-5; gmmfast here runs to 1e-10 a
    # sample, and mclust has no reg_covar
    X = _data(dataset)
    model, K, mclust_bic = _mclust_best(dataset)
    gm = GaussianMixture(K, covariance_type=model, init_params="hierarchical",
                         reg_covar=0.0, tol=1e-10, max_iter=100000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
    assert -gm.bic(X) >= mclust_bic


def test_best_bic_over_the_grid_on_iris_is_at_least_mclusts():
    # the whole of mclustBIC(iris): 14 models x K = 1..9 from one tree
    X = _data("iris")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = select_model(X, range(1, 10), covariance_types=MODELS,
                              init_params="hierarchical", reg_covar=0.0, tol=1e-10,
                              max_iter=100000)
    model, K, mclust_bic = _mclust_best("iris")
    assert result.best_params_ == {"n_components": K, "covariance_type": model}
    assert -result.best_score_ >= mclust_bic


def test_memmap_and_dask_start_where_memory_does(tmp_path):
    X = _data("wine")
    path = tmp_path / "wine.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    ref = GaussianMixture(3, covariance_type="EVE", init_params="hierarchical").fit(X)
    # small data: the memmap and the dask array initialise from every row, the same
    # tree, the same start, the same kernels: the same bits
    on_disk = GaussianMixture(3, covariance_type="EVE",
                              init_params="hierarchical").fit(mm)
    assert_array_equal(on_disk.means_, ref.means_)
    chunked = GaussianMixture(3, covariance_type="EVE", init_params="hierarchical").fit(
        da.from_array(X, chunks=(60, X.shape[1])))
    # dask adds the chunks' statistics in its own order: a rounding apart over the
    # 4 EM iterations (measured: 1e-16 relative)
    assert_allclose(chunked.means_, ref.means_, rtol=1e-13)


# ------------------------------------------- EVE and VVE: the compiled rotation sweep


def _numpy_plane_rotations(W, orient, M):
    """The sweep in numpy, plane by plane (the reference the compiled sweep follows)."""
    orient = orient.copy()
    B = np.einsum("ji,kjl,lm->kim", orient, W, orient)
    D = orient.shape[0]
    for i in range(D - 1):
        for j in range(i + 1, D):
            dm = M[:, i] - M[:, j]
            P = 0.5 * float(dm @ (B[:, i, i] - B[:, j, j]))
            Q = float(dm @ B[:, i, j])
            if Q == 0.0 and P <= 0.0:
                continue
            half = 0.5 * np.arctan2(-Q, -P)
            c, s = np.cos(half), np.sin(half)
            oi, oj = orient[:, i].copy(), orient[:, j].copy()
            orient[:, i], orient[:, j] = c * oi + s * oj, c * oj - s * oi
            bi, bj = B[:, i, :].copy(), B[:, j, :].copy()
            B[:, i, :], B[:, j, :] = c * bi + s * bj, c * bj - s * bi
            bi, bj = B[:, :, i].copy(), B[:, :, j].copy()
            B[:, :, i], B[:, :, j] = c * bi + s * bj, c * bj - s * bi
    return orient


@pytest.mark.parametrize("K,D", [(1, 2), (3, 4), (5, 8)])
def test_compiled_rotation_sweep_is_the_numpy_sweep(K, D):
    from gmmfast._mclust_loops import plane_rotations
    rng = np.random.RandomState(K * D)
    A = rng.normal(size=(K, D, D + 3))
    W = A @ A.transpose(0, 2, 1)
    orient = np.linalg.qr(rng.normal(size=(D, D)))[0]
    M = rng.uniform(0.2, 5.0, size=(K, D))
    for _ in range(5):  # successive sweeps, as the M-step runs them
        got = plane_rotations(W, orient, M)
        ref = _numpy_plane_rotations(W, orient, M)
        # the same operations; only the order of the sums in B_k = D^T W_k D and in the
        # K-term dot products differ (numpy's einsum and BLAS): a few ulps of the
        # entries, which are at most 1 in magnitude
        assert_allclose(got, ref, rtol=0, atol=1e-13)
        assert_allclose(got.T @ got, np.eye(D), atol=1e-13)
        orient = ref
    with pytest.raises(ValueError, match="must be"):
        plane_rotations(W, orient[:, :-1].copy(), M)
    with pytest.raises(ValueError, match="must be"):
        plane_rotations(W, orient, M[:, :-1].copy())


def test_select_model_on_a_subsample_is_reproducible():
    # more than 2000 rows: one tree per n_init draw, each on its own subset
    rng = np.random.RandomState(8)
    truth = np.repeat(np.arange(2), 1200)
    X = rng.normal(size=(2400, 2)) + 8.0 * truth[:, None]
    a = select_model(X, [1, 2], covariance_types=["VVV", "EII"],
                     init_params="hierarchical", n_init=2, random_state=0)
    b = select_model(X, [1, 2], covariance_types=["VVV", "EII"],
                     init_params="hierarchical", n_init=2, random_state=0)
    assert a.best_params_ == {"n_components": 2, "covariance_type": "EII"}
    assert_array_equal(a.column("bic"), b.column("bic"))
