"""gmmfast's own k-means (init_params='kmeans') against scikit-learn's KMeans(n_init=1).

The promise: the same labels as ``KMeans(K, n_init=1, random_state=rs).fit(X, w)``, the
same number of Lloyd iterations, and the RandomState advanced by the same draws, so
that a GaussianMixture fitted with a given random_state starts where scikit-learn's
starts. Exact equality can fail only for rows within rounding of a tie (see
gmmfast/_kmeans_init.py); on blob data it holds, and on overlapping data the share of
differing labels is measured.
"""

import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning

from gmmfast import GaussianMixture, _kmeans_init, _threads
from gmmfast._kmeans_init import kmeans_labels


def sklearn_kmeans(X, K, seed, w=None, **kw):
    rs = np.random.RandomState(seed)
    km = KMeans(n_clusters=K, n_init=1, random_state=rs, **kw).fit(X, sample_weight=w)
    return km, rs


def ours(X, K, seed, w=None, **kw):
    rs = np.random.RandomState(seed)
    labels, n_iter = kmeans_labels(X, w, K, rs, return_n_iter=True, **kw)
    return labels, n_iter, rs


def blobs(n, d, centers, seed, dtype, spread=1.0):
    X, _ = make_blobs(n, d, centers=centers, cluster_std=spread, random_state=seed)
    return np.ascontiguousarray(X, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [1, 2, 3, 8, 20])
@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("weighted", [False, True])
def test_labels_equal_sklearn_on_blobs(dtype, K, seed, weighted):
    X = blobs(2000, 5, K + 2, seed, dtype, spread=1.5)
    w = np.random.default_rng(seed).uniform(0.1, 3.0, X.shape[0]) if weighted else None
    km, rs_sk = sklearn_kmeans(X, K, seed, w)
    labels, n_iter, rs = ours(X, K, seed, w)
    np.testing.assert_array_equal(labels, km.labels_)
    assert n_iter == km.n_iter_
    assert labels.dtype == km.labels_.dtype
    # the same draws: both generators are now in the same state
    assert rs.randint(1 << 30) == rs_sk.randint(1 << 30)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_labels_equal_sklearn_larger_threaded(dtype):
    """Above the threading threshold (several threads, BLAS held to one)."""
    X = blobs(60000, 8, 12, 3, dtype, spread=2.0)
    km, _ = sklearn_kmeans(X, 10, 4)
    labels, n_iter, _ = ours(X, 10, 4)
    np.testing.assert_array_equal(labels, km.labels_)
    assert n_iter == km.n_iter_


def test_zero_weights_and_offset_data():
    """Rows of weight 0 (allowed by gmmfast's validation) and data far from 0."""
    X = blobs(3000, 3, 5, 11, np.float64) + 1e4
    w = np.random.default_rng(0).uniform(0, 2, X.shape[0])
    w[::7] = 0.0
    km, _ = sklearn_kmeans(X, 4, 2, w)
    labels, n_iter, _ = ours(X, 4, 2, w)
    np.testing.assert_array_equal(labels, km.labels_)
    assert n_iter == km.n_iter_


def test_thread_count_does_not_change_labels():
    """1 and 2 threads: bit-identical labels and iterations (fixed blocks, serial sums)."""
    X = blobs(80000, 16, 40, 5, np.float32, spread=4.0)  # overlapping: many near-ties
    results = [kmeans_labels(X, None, 32, np.random.RandomState(0), n_threads=t,
                             return_n_iter=True) for t in (1, 2, 2)]
    for labels, n_iter in results[1:]:
        assert n_iter == results[0][1]
        np.testing.assert_array_equal(labels, results[0][0])


def test_overlapping_float32_agreement():
    """Overlapping clusters in float32, where scikit-learn's float32 sums and GEMM
    rounding can flip rows near a tie: nearly all labels agree, and the k-means++
    centres are the same."""
    rng = np.random.default_rng(1)
    K, D = 24, 16
    means = rng.normal(scale=4.0 / np.sqrt(2 * D), size=(K, D))
    X = (means[rng.integers(K, size=150000)]
         + rng.normal(scale=0.6, size=(150000, D))).astype(np.float32)
    km, _ = sklearn_kmeans(X, K, 0)
    labels, n_iter, _ = ours(X, K, 0)
    agree = np.mean(labels == km.labels_)
    assert agree > 0.999, agree


def test_empty_cluster_relocation_matches_sklearn():
    """A start with a centre far from every row: it is emptied in the first iteration
    and relocated to the farthest row, as scikit-learn's _relocate_empty_clusters."""
    X = blobs(1500, 2, 3, 0, np.float64)
    init = np.vstack([X[:3], [[1e3, 1e3]]])
    km = KMeans(n_clusters=4, n_init=1, init=init).fit(X)
    mean = X.mean(axis=0)
    xx, var_mean = _kmeans_init._centred_norms(X, mean)
    labels, n_iter = _kmeans_init._lloyd(
        X, mean, xx, np.ones(X.shape[0]), np.empty(0), init - mean, 300,
        var_mean * 1e-4, 1)
    np.testing.assert_array_equal(labels, km.labels_)
    assert n_iter == km.n_iter_


def test_duplicate_points_warn_like_sklearn():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]), 20, axis=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        km, _ = sklearn_kmeans(X, 5, 0)
        labels, _, _ = ours(X, 5, 0)
    np.testing.assert_array_equal(labels, km.labels_)
    msgs = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(msgs) == 2 and msgs[0] == msgs[1], msgs


def test_small_problem_builds_no_threadpool_controller(monkeypatch):
    """seed2d-sized problems run on one thread and never touch threadpoolctl."""
    def refuse(*args, **kwargs):
        raise AssertionError("a threadpoolctl controller was requested")

    monkeypatch.setattr(_threads, "_shared_controller", refuse)
    monkeypatch.setattr(_threads, "_controller", None)
    monkeypatch.setattr(_kmeans_init, "blas_single_thread", refuse)
    X = blobs(1000, 2, 3, 0, np.float64)
    km, _ = sklearn_kmeans(X, 3, 0)
    labels, _, _ = ours(X, 3, 0)
    np.testing.assert_array_equal(labels, km.labels_)


def test_what_reaches_kmeans_is_validated_upstream():
    """Bad inputs are refused by GaussianMixture's validation before any k-means runs;
    k-means receives C-contiguous float32/float64 finite X, n >= K, weights >= 0."""
    gm = GaussianMixture(3, random_state=0)
    X = blobs(100, 2, 3, 0, np.float64)
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gm.fit(bad)
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(200).fit(X)
    with pytest.raises(ValueError, match="negative"):
        gm.fit(X, sample_weight=-np.ones(100))
    # non-contiguous, integer and float16 inputs arrive converted
    seen = []
    real = _kmeans_init.kmeans_labels

    def spy(X, *args, **kwargs):
        seen.append((X.dtype, X.flags.c_contiguous))
        return real(X, *args, **kwargs)

    import gmmfast._init as init_module
    orig = init_module.kmeans_labels
    init_module.kmeans_labels = spy
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            GaussianMixture(3, random_state=0, max_iter=2).fit(np.asfortranarray(X))
            GaussianMixture(3, random_state=0, max_iter=2).fit((X * 10).astype(np.int64))
    finally:
        init_module.kmeans_labels = orig
    assert len(seen) == 2
    assert all(ok and dt in (np.float32, np.float64) for dt, ok in seen), seen


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_gaussian_mixture_default_init_same_as_sklearn(covariance_type):
    """With the default init the fitted mixture is scikit-learn's (float32 too)."""
    from sklearn.mixture import GaussianMixture as SkGM

    X = blobs(3000, 4, 5, 2, np.float64, spread=1.2)
    gf = GaussianMixture(5, covariance_type=covariance_type, random_state=4).fit(X)
    sk = SkGM(5, covariance_type=covariance_type, random_state=4).fit(X)
    np.testing.assert_allclose(gf.means_, sk.means_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gf.weights_, sk.weights_, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_label_moments_are_the_sums_by_label(dtype, weighted):
    """label_moments: weights, means and squared deviations by label, rows labelled -1
    left out, a label with no row at zero; against numpy's sums over each label's rows
    (the same sums in another order: agreement to a few ulps of the largest term)."""
    from gmmfast import _kmeans

    rng = np.random.RandomState(3)
    n, D, K = 3001, 7, 6
    X = (rng.randn(n, D) * 3 + 40).astype(dtype)
    labels = rng.randint(-1, K - 1, n).astype(np.intp)  # label K - 1 has no row
    w = rng.rand(n) if weighted else np.ones(n)
    eps10 = 10 * np.finfo(dtype).eps
    nk, means, sq = np.empty(K), np.empty((K, D)), np.empty((K, D))
    _kmeans.label_moments(X, w if weighted else np.empty(0), labels, eps10, nk, means, sq)
    Xd = X.astype(np.float64)
    for k in range(K):
        rows = labels == k
        nk_ref = w[rows].sum() + eps10
        m_ref = w[rows] @ Xd[rows] / nk_ref
        sq_ref = w[rows] @ (Xd[rows] - m_ref) ** 2
        np.testing.assert_allclose(nk[k], nk_ref, rtol=1e-13)
        # the sums of n terms each round at 2^-53: n eps of the sum of |terms| bounds them
        np.testing.assert_allclose(means[k], m_ref, rtol=0, atol=n * 1.2e-16 * 40 * 1.1)
        np.testing.assert_allclose(sq[k], sq_ref, rtol=n * 1.2e-16, atol=1e-300)
    assert nk[K - 1] == eps10 and not means[K - 1].any() and not sq[K - 1].any()


def test_label_moments_checks_its_arguments():
    from gmmfast import _kmeans

    X = np.ones((5, 2))
    nk, means, sq = np.empty(3), np.empty((3, 2)), np.empty((3, 2))
    with pytest.raises(ValueError, match="not below n_components"):
        _kmeans.label_moments(X, np.empty(0), np.array([0, 1, 3, 0, 0], dtype=np.intp),
                              0.0, nk, means, sq)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _kmeans.label_moments(X, np.ones(4), np.zeros(5, dtype=np.intp), 0.0, nk, means, sq)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _kmeans.label_moments(X, np.empty(0), np.zeros(5, dtype=np.intp), 0.0, nk,
                              np.empty((3, 3)), sq)


@pytest.mark.parametrize("covariance_type, weighted", [
    ("full", False), ("full", True), ("tied", False), ("diag", False), ("diag", True),
    ("spherical", False), ("spherical", True)])
def test_initial_parameters_from_labels_are_sklearns(covariance_type, weighted):
    """The initial parameters from hard labels are scikit-learn's estimates from the
    same 0/1 responsibilities (its _estimate_gaussian_parameters), to rounding; with
    weights, from responsibilities scaled by them. (Not weighted 'tied': that helper's
    tied estimate sums x x^T over the rows unweighted.)"""
    from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

    from gmmfast import _init

    rng = np.random.RandomState(5)
    n, D, K = 2000, 5, 4
    X = rng.randn(n, D) + 3 * rng.randint(0, K, n)[:, None]
    labels = rng.randint(0, K, n)
    w = rng.rand(n) + 0.5 if weighted else None
    nk, means, cov = _init.parameters_from_assignments(
        X, w, "labels", labels, K, covariance_type, 1e-6)
    resp = np.zeros((n, K))
    resp[np.arange(n), labels] = 1.0 if w is None else w
    nk_s, means_s, cov_s = _estimate_gaussian_parameters(X, resp, 1e-6, covariance_type)
    np.testing.assert_allclose(nk, nk_s, rtol=1e-14)
    np.testing.assert_allclose(means, means_s, rtol=1e-13, atol=1e-13)
    # scikit-learn's raw moments for 'diag' and 'spherical' lose digits to cancellation
    # (entries ~10 about means ~10): 1e-11 covers theirs, ours is the centred sum
    np.testing.assert_allclose(cov, cov_s, rtol=1e-11, atol=1e-12)


def test_assignment_of_nan_distances_stays_among_the_centres():
    # kmeans_labels refuses data whose squared distances overflow (test_hostile's
    # fit_one_entry cases); the assignment itself must still never label a row with
    # no centre (its label indexes the sums, and the search for it read past them)
    from gmmfast import _kmeans

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    K = 3
    centers = rng.normal(size=(K, 3))
    centers[1] = np.nan
    cc = np.einsum("ij,ij->i", centers, centers)
    n_blocks = (50 + _kmeans.block_rows() - 1) // _kmeans.block_rows()
    labels = np.full(50, -1, dtype=np.int32)
    status = _kmeans.lloyd_assign(
        X, np.zeros(3), np.einsum("ij,ij->i", X, X), centers, cc, np.zeros(K),
        np.zeros(K), 0, 0.0, 0.0, 1e-10, 0.0, True, labels, np.empty(50), np.empty(50),
        np.zeros(n_blocks, dtype=np.intp), np.zeros(n_blocks, dtype=np.intp), 1)
    assert status == 0
    assert labels.min() >= 0 and labels.max() < K
