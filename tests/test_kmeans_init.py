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
