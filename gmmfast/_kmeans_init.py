"""k-means for init_params='kmeans': scikit-learn's KMeans(n_init=1), computed here.

``kmeans_labels`` follows ``sklearn.cluster.KMeans(n_clusters=K, n_init=1,
random_state=random_state).fit(X, sample_weight=w).labels_`` step by step:

- the same preparation: X centred on its mean (in X's dtype), sample weights cast to
  X's dtype, tolerance ``tol * mean(var(X, axis=0))``;
- k-means++ seeding as ``sklearn.cluster._kmeans._kmeans_plusplus``: the first centre
  drawn with ``random_state.choice(n, p=w / w.sum())``, then ``2 + int(log K)``
  candidates per centre drawn with ``random_state.uniform``, placed with
  ``searchsorted`` in the cumulative weighted distances, the one that lowers the
  potential most kept. The same random draws from the same RandomState, so the
  generator is left where scikit-learn leaves it;
- Lloyd iterations (at most ``max_iter``), stopping when no label changes ("strict
  convergence") or when the squared centre shift is at most the tolerance, then one
  more assignment pass with the final centres when the stop was not strict; empty
  clusters relocated to the rows farthest from their centres, as scikit-learn does.

What is different, and when labels can differ
---------------------------------------------
The arithmetic of the passes over the rows is gmmfast's own (gmmfast/_kmeans.pyx):
distances in double, centre sums in double over the rows in order, Hamerly's bounds to
skip rows whose label cannot change (this never changes a label). scikit-learn sums the
centres in X's dtype per thread (float32 for float32 data) and computes Lloyd distances
with a BLAS GEMM in X's dtype. On ordinary data the labels are the same; a row that is
(nearly) equidistant from two centres, to within those rounding differences, can get
the other label, and the iterations can then run on slightly different centres. The
k-means++ distances follow scikit-learn's formula and casts (double, then X's dtype),
but scikit-learn's BLAS adds the products in an order that depends on the BLAS build;
when a distance rounds differently, a candidate can land on a neighbouring row of the
cumulative sum. The potentials and cumulative sums themselves are computed with the
same numpy calls as scikit-learn's. The test suite measures how often labels agree
(tests/test_kmeans_init.py). On the benchmark data (bench/_cases.py, random_state=0)
the labels and iteration counts were scikit-learn's on seed2d, tall2d, mid and
wide_f32; on diag_big_f32 (10^6 x 16, K=32, overlapping, float32) 66 of 10^6 labels
differed, with the same 56 iterations and the same k-means++ centres. scikit-learn's
own float32 labels change with its thread count (49 differ from ours with 1 thread,
66 with 2; wide_f32 takes 56 iterations on 1 thread, 55 on 2); ours do not.

Small problems (n * D * K below ``_MIN_WORK_THREADED``) run on one thread and build no
threadpoolctl controller (scikit-learn's KMeans builds one, ~10 ms, on every process's
first fit). Large ones hold BLAS to one thread while the Lloyd passes call dgemm from
each of gmmfast's threads, through gmmfast._threads.blas_single_thread (the
controller scikit-learn caches, when it exists).
"""

import contextlib
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _kmeans
from ._threads import blas_single_thread, effective_n_threads

#: rows per numpy chunk when centring X for the row norms (bounds temporary memory)
_NORM_CHUNK = 65536
#: below this many rows x features x clusters the passes run on one thread
_MIN_WORK_THREADED = 1 << 22


def kmeans_labels(X, sample_weight, n_clusters, random_state, *, max_iter=300,
                  tol=1e-4, n_threads=None, return_n_iter=False):
    """Labels of scikit-learn's KMeans(n_clusters, n_init=1) on X.

    Parameters
    ----------
    X : (n, D) C-contiguous float32 or float64 array, finite, n >= n_clusters
    sample_weight : (n,) float64 non-negative, not all zero, or None
    n_clusters : int
    random_state : numpy RandomState (advanced as scikit-learn's KMeans advances it)
    max_iter, tol : scikit-learn's defaults
    n_threads : int or None, see gmmfast._threads.effective_n_threads
    return_n_iter : also return the number of Lloyd iterations

    Returns
    -------
    labels : (n,) int32, and n_iter when return_n_iter
    """
    n, D = X.shape
    K = int(n_clusters)
    dtype = X.dtype
    big = n * D * K >= _MIN_WORK_THREADED
    threads = effective_n_threads(n_threads) if big else 1
    if sample_weight is None:
        w_dtype = np.ones(n, dtype=dtype)
        w_lloyd = np.empty(0)
    else:
        w_dtype = np.asarray(sample_weight, dtype=dtype)
        w_lloyd = w_dtype.astype(np.float64)

    mean = X.mean(axis=0)
    xx, var_mean = _centred_norms(X, mean)
    _check_spread(X, mean, xx)
    tol_abs = var_mean * tol if tol != 0 else 0.0

    # The Lloyd passes call BLAS (dgemm) from every thread: BLAS must stay on one
    # thread there. A threadpoolctl controller is built (or scikit-learn's cached one
    # reused) only for problems big enough that its ~10 ms do not matter; on small
    # ones OpenBLAS runs the small GEMMs on one thread by itself.
    with blas_single_thread() if big else contextlib.nullcontext():
        centers = _kmeans_plusplus(X, mean, xx, w_dtype, K, random_state, threads,
                                   unit_weights=sample_weight is None)
        labels, n_iter = _lloyd(X, mean, xx, w_dtype, w_lloyd, centers, max_iter,
                                tol_abs, threads)
    distinct = int(np.count_nonzero(np.bincount(labels, minlength=K)))
    if distinct < K:
        # scikit-learn's KMeans warns so; gmmfast's fit keeps the warning it had
        warnings.warn(
            f"Number of distinct clusters ({distinct}) found smaller than "
            f"n_clusters ({K}). Possibly due to duplicate points in X.",
            ConvergenceWarning,
            stacklevel=3,
        )
    if return_n_iter:
        return labels, n_iter
    return labels


def _centred_norms(X, mean):
    """||x_i - m||^2 in double, as scikit-learn's row_norms computes them, and the mean
    of the per-feature variances of X.

    float32 rows are cast to double before squaring, as scikit-learn's k-means++
    distances do for float32 data.
    """
    n, D = X.shape
    xx = np.empty(n)
    col_sum = np.zeros(D)
    for start in range(0, n, _NORM_CHUNK):
        xc = X[start:start + _NORM_CHUNK] - mean
        if xc.dtype != np.float64:
            xc = xc.astype(np.float64)
        xx[start:start + _NORM_CHUNK] = np.einsum("ij,ij->i", xc, xc)
        col_sum += xc.sum(axis=0)
    col_mean = col_sum / n
    var_mean = (xx.sum() / n - col_mean @ col_mean) / D
    return xx, max(var_mean, 0.0)


def _check_spread(X, mean, xx):
    """Raise ValueError when k-means' squared distances would overflow X's dtype.

    The assignment compares ||c||^2 - 2 x.c in X's dtype (as scikit-learn does); with
    every centre inside the data's spread those terms stay within 3 max ||x - m||^2.
    A row farther out (one entry of 1e155 in float64 data, of 1e20 in float32) made
    them inf - inf = NaN, and the labels of NaN distances were no component at all.
    """
    limit = float(np.finfo(X.dtype).max) / 3
    if not xx.size or xx.max() <= limit:
        return
    # the row farthest out, by its largest deviation (no square to overflow); the rows
    # may be a subsample of X (chunked fits), so the message gives values, not a row
    dev = np.abs(X.astype(np.float64) - mean).max(axis=1)
    far = int(np.argmax(dev))
    col = int(np.argmax(np.abs(X[far].astype(np.float64) - mean)))
    name = X.dtype.name
    raise ValueError(
        f"X is too spread out for k-means' squared distances: they overflow {name} (an "
        f"entry of {float(X[far, col]):.3g} lies {float(dev[far]):.3g} from its column's "
        f"mean, and beyond {np.sqrt(limit):.3g} from the mean of X a square is not "
        "representable). Scale the features (e.g. with "
        "sklearn.preprocessing.StandardScaler)"
        + (", or pass X as float64." if X.dtype != np.float64 else ".")
    )


def _centred_rows(X, mean, rows):
    return (X[rows] - mean).astype(np.float64)


def _check(status):
    if status == _kmeans.STATUS_NO_MEMORY:
        raise MemoryError(
            "gmmfast's k-means initialisation could not allocate its per-thread "
            "scratch; free memory or lower n_threads"
        )


def _kmeans_plusplus(X, mean, xx, w, K, random_state, threads, unit_weights=False):
    """Initial centres (K, D) in double (centred), as scikit-learn's _kmeans_plusplus.

    w : (n,) weights in X's dtype (ones when the caller has none: unit_weights)
    """
    n, D = X.shape
    n_local_trials = 2 + int(np.log(K))
    center_id = random_state.choice(n, p=w / w.sum())
    indices = np.full(K, -1, dtype=int)
    indices[0] = center_id

    cand = _centred_rows(X, mean, [center_id])
    first = np.empty((1, n), dtype=X.dtype)
    _check(_kmeans.kpp_distances(X, mean, xx, cand, np.einsum("ij,ij->i", cand, cand),
                                 np.empty(0, dtype=X.dtype), first, threads))
    current_pot = first @ w  # the same product, shapes and dtype as scikit-learn's
    closest = np.empty(n, dtype=X.dtype)
    cumsum = np.empty(n, dtype=X.dtype)
    # np.cumsum(w * closest): with unit weights w * closest is closest itself
    w_cum = np.empty(0, dtype=X.dtype) if unit_weights else w
    _kmeans.kpp_take(first[0], closest, w_cum, cumsum)

    dist = np.empty((n_local_trials, n), dtype=X.dtype)
    w_col = w.reshape(-1, 1)
    candidate_ids = np.empty(n_local_trials, dtype=np.intp)
    for c in range(1, K):
        rand_vals = random_state.uniform(size=n_local_trials) * current_pot
        _kmeans.searchsorted_left(cumsum, rand_vals, candidate_ids)
        np.clip(candidate_ids, None, n - 1, out=candidate_ids)
        cand = _centred_rows(X, mean, candidate_ids)
        _check(_kmeans.kpp_distances(X, mean, xx, cand, np.einsum("ij,ij->i", cand, cand),
                                     closest, dist, threads))
        candidates_pot = dist @ w_col
        best = np.argmin(candidates_pot)
        current_pot = candidates_pot[best]
        _kmeans.kpp_take(dist[best], closest, w_cum, cumsum)
        indices[c] = candidate_ids[best]
    return _centred_rows(X, mean, indices)


def _half_separation(centers):
    """(K,) half the distance from each centre to its nearest other one (0 if K == 1),
    shrunk by a hair so that rounding never makes it too large."""
    K = centers.shape[0]
    if K == 1:
        return np.zeros(1)
    out = np.empty(K)
    step = max(1, int(1e6 // (K * centers.shape[1] + 1)))
    for j0 in range(0, K, step):
        diff = centers[j0:j0 + step, None, :] - centers[None, :, :]
        d2 = np.einsum("ijk,ijk->ij", diff, diff)
        for r in range(d2.shape[0]):
            d2[r, j0 + r] = np.inf
        out[j0:j0 + step] = d2.min(axis=1)
    return 0.5 * np.sqrt(out) * (1.0 - 1e-12)


def _lloyd(X, mean, xx, w_dtype, w, centers, max_iter, tol, threads):
    """scikit-learn's _kmeans_single_lloyd from the given centres; (labels, n_iter)."""
    n, D = X.shape
    K = centers.shape[0]
    # The skip test must clear twice the rounding of ||c||^2 - 2 <x, c> by a GEMM in
    # X's dtype, about (D + 3) eps (||x||^2 + max ||c||^2), with room to spare.
    margin_scale = 8 * (D + 4) * np.finfo(X.dtype).eps
    if X.dtype == np.float64:
        margin_scale = max(margin_scale, 1e-10)
    # float32 data: the centres are float32 numbers (as scikit-learn's are), held in
    # double for the bounds and the shifts
    centers = _as_dtype_values(centers, X.dtype)
    n_blocks = (n + _kmeans.block_rows() - 1) // _kmeans.block_rows()

    labels = np.full(n, -1, dtype=np.int32)
    labels_prev = labels.copy()
    upper = np.empty(n)
    lower = np.empty(n)
    block_changed = np.zeros(n_blocks, dtype=np.intp)
    block_full = np.zeros(n_blocks, dtype=np.intp)
    sums = np.zeros((K, D))
    weights = np.zeros(K)
    n_positive = np.zeros(K, dtype=np.intp)
    shift = np.zeros(K)
    shift_arg, shift_max, shift_second = 0, 0.0, 0.0
    cc_scale = 0.0

    def assign(first):
        nonlocal cc_scale
        cc = np.einsum("ij,ij->i", centers, centers)
        cc_scale = max(cc_scale, float(cc.max()))
        _check(_kmeans.lloyd_assign(
            X, mean, xx, centers.astype(X.dtype), cc.astype(X.dtype),
            _half_separation(centers), shift, shift_arg, shift_max, shift_second,
            margin_scale, cc_scale, first, labels, upper, lower, block_changed, block_full,
            threads))

    strict = False
    i = 0
    for i in range(max_iter):
        assign(i == 0)
        n_changed = int(block_changed.sum())
        _kmeans.lloyd_sums(X, mean, w, labels, labels_prev, block_changed, sums,
                           weights, n_positive)
        new_centers = _as_dtype_values(
            _new_centers(X, mean, w_dtype, centers, sums, weights, labels), X.dtype)
        diff = new_centers - centers
        shift = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        shift_tot = float(shift @ shift)
        if K > 1:
            top = np.argpartition(shift, K - 2)[K - 2:]
            a, b = top[0], top[1]
            if shift[a] > shift[b]:
                a, b = b, a
            shift_arg, shift_max, shift_second = int(b), float(shift[b]), float(shift[a])
        else:
            shift_arg, shift_max, shift_second = 0, float(shift[0]), 0.0
        centers = new_centers
        if n_changed == 0:
            strict = True
            break
        if shift_tot <= tol:
            break
    if not strict:
        # labels that match the final centres, as scikit-learn's last E-step
        assign(False)
    return labels, i + 1


def _as_dtype_values(a, dtype):
    """a (float64) rounded to the nearest values of dtype, still float64."""
    return a if dtype == np.float64 else a.astype(dtype).astype(np.float64)


def _new_centers(X, mean, w_dtype, centers_old, sums, weights, labels):
    """Centres from the sums by label, with scikit-learn's empty-cluster handling."""
    K = sums.shape[0]
    empty = np.flatnonzero(weights == 0)
    if empty.size == 0:
        return sums * (1.0 / weights)[:, None]
    sums = sums.copy()
    weights = weights.copy()
    _relocate_empty_clusters(X, mean, w_dtype, centers_old, sums, weights, labels, empty)
    out = sums.copy()
    argmax_weight = int(np.argmax(weights))
    for j in range(K):  # in order, as scikit-learn's _average_centers
        if weights[j] > 0:
            out[j] *= 1.0 / weights[j]
        else:
            out[j] = out[argmax_weight]
    return out


def _relocate_empty_clusters(X, mean, w_dtype, centers_old, sums, weights, labels, empty):
    """scikit-learn's _relocate_empty_clusters_dense on the sums (rare: a full pass)."""
    n_empty = empty.size
    Xc = X - mean
    distances = ((Xc - centers_old.astype(X.dtype)[labels]) ** 2).sum(axis=1)
    if np.max(distances) == 0:
        return
    far_from_centers = np.argpartition(distances, -n_empty)[:-n_empty - 1:-1]
    for idx in range(n_empty):
        new_id = empty[idx]
        far = far_from_centers[idx]
        wgt = float(w_dtype[far])
        old_id = labels[far]
        x = Xc[far].astype(np.float64)
        sums[old_id] -= x * wgt
        sums[new_id] = x * wgt
        weights[new_id] = wgt
        weights[old_id] -= wgt
