"""Initial parameters: kmeans, k-means++, random, random_from_data, hierarchical.

Each method first yields responsibilities, as scikit-learn's do, from the same random
stream (so a given random_state starts gmmfast where it starts scikit-learn); the
parameters are then estimated from them with scikit-learn's formulas. Hard
assignments (every method but 'random') are never expanded into an n x K array.
'hierarchical' is mclust's start (gmmfast/_hc.py): it draws from the random stream only
to subsample more than 2000 rows.
"""

import numpy as np
from sklearn.cluster import kmeans_plusplus

from ._hc import HierarchicalStart
from . import _kmeans
from ._kmeans_init import kmeans_labels
from ._mstep import _add_to_diagonal


def initial_assignments(X, sample_weight, n_components, init_params, random_state,
                        n_threads=None):
    """Labels (n,) with -1 for unassigned rows, or soft responsibilities (n, K).

    Parameters
    ----------
    X : (n, D) float array
    sample_weight : (n,) float64 or None
        Honoured by every method: weighted k-means, weighted k-means++ seeding,
        random_from_data drawing rows with probability proportional to weight, the
        hierarchical criterion counting a weight as that many copies of the row.
    n_components : int
    init_params : str
    random_state : numpy RandomState
    n_threads : int or None
        The fit's ``n_threads``, for the k-means passes (labels do not depend on it).

    Returns
    -------
    ("labels", labels), ("subset_labels", labels) or ("resp", resp)
        "subset_labels": labels of a subsample of the rows (-1 elsewhere) that stand
        for all rows (the hierarchical start on more than 2000 rows).
    """
    n = X.shape[0]
    K = n_components
    if init_params == "hierarchical":
        start = HierarchicalStart(X, sample_weight, random_state)
        return ("subset_labels" if start.subsampled else "labels"), start.labels(K)
    if init_params == "kmeans":
        # scikit-learn's KMeans(n_clusters=K, n_init=1), computed by gmmfast
        return "labels", kmeans_labels(X, sample_weight, K, random_state,
                                         n_threads=n_threads)
    if init_params == "k-means++":
        _, idx = kmeans_plusplus(
            X, K, random_state=random_state, sample_weight=sample_weight
        )
        return "labels", _labels_of_rows(n, idx)
    if init_params == "random_from_data":
        if sample_weight is None:
            idx = random_state.choice(n, size=K, replace=False)
        else:
            if np.count_nonzero(sample_weight) < K:
                raise ValueError(
                    f"init_params='random_from_data' needs at least n_components={K} "
                    "samples with non-zero weight."
                )
            p = sample_weight / sample_weight.sum()
            idx = random_state.choice(n, size=K, replace=False, p=p)
        return "labels", _labels_of_rows(n, idx)
    resp = random_state.uniform(size=(n, K)).astype(X.dtype, copy=False)
    resp /= resp.sum(axis=1)[:, None]
    return "resp", resp


def _labels_of_rows(n, rows):
    labels = np.full(n, -1, dtype=np.intp)
    labels[rows] = np.arange(len(rows))
    return labels


def parameters_from_assignments(X, sample_weight, kind, assign, n_components,
                                covariance_type, reg_covar):
    """scikit-learn's parameter estimates from initial responsibilities.

    Returns nk (K,), means (K, D) and covariances, float64. ``nk`` includes the
    ``10 eps`` guard; scikit-learn's initial weights are ``nk / n_samples``.
    For "subset_labels" the estimates are those of the labelled rows alone (mclust's
    M-step on its subset), with ``nk`` scaled to the weight of all rows.
    """
    if kind == "subset_labels":
        rows = np.flatnonzero(assign >= 0)
        w_rows = None if sample_weight is None else sample_weight[rows]
        nk, means, cov = parameters_from_assignments(
            X[rows], w_rows, "labels", assign[rows], n_components, covariance_type,
            reg_covar)
        total = X.shape[0] if sample_weight is None else sample_weight.sum()
        part = len(rows) if w_rows is None else w_rows.sum()
        eps10 = 10 * np.finfo(X.dtype).eps
        return (nk - eps10) * (total / part) + eps10, means, cov
    # far-out entries overflow the squares below: refused after them, with a message
    # that says so, rather than numpy's warnings and a 'collapsed' component later
    with np.errstate(over="ignore", invalid="ignore"):
        nk, means, cov = _moments_from_assignments(
            X, sample_weight, kind, assign, n_components, covariance_type, reg_covar)
    if not (np.isfinite(means).all() and np.isfinite(cov).all()):
        _raise_overflow(X)
    return nk, means, cov


def _raise_overflow(X):
    """The initial moments of finite X overflowed float64: name the entry farthest out."""
    dev = np.abs(X.astype(np.float64) - np.median(X, axis=0))
    row, col = np.unravel_index(int(np.argmax(dev)), dev.shape)
    raise ValueError(
        f"X is too spread out for the initial covariances: their squared deviations "
        f"overflow float64 (an entry of {float(X[row, col]):.3g} in feature {col} lies "
        f"{float(dev[row, col]):.3g} from its column's median, and beyond ~1e154 a "
        f"square is not representable). Scale the features (e.g. with "
        f"sklearn.preprocessing.StandardScaler).")


def _moments_from_assignments(X, sample_weight, kind, assign, n_components,
                              covariance_type, reg_covar):
    eps = np.finfo(X.dtype).eps
    K, D = n_components, X.shape[1]
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    nk = np.empty(K)
    means = np.empty((K, D))
    if kind == "labels":
        # hard labels: weights, means and squared deviations in two compiled passes over
        # the rows, where a copy of each label's rows cost ten times as much; 'full' then
        # gathers each label's rows for its scatter, a product BLAS does best
        scatter = np.empty((K, D)) if covariance_type in ("diag", "spherical") \
            else np.empty((0, D))
        _kmeans.label_moments(
            np.ascontiguousarray(X),
            np.empty(0) if sample_weight is None
            else np.ascontiguousarray(sample_weight, dtype=np.float64),
            np.ascontiguousarray(assign, dtype=np.intp), 10 * eps, nk, means, scatter)
        if covariance_type == "full":
            scatter = np.empty((K, D, D))
            for k in range(K):
                rows = np.flatnonzero(assign == k)
                diff = X[rows].astype(np.float64, copy=False) - means[k]
                scatter[k] = (w[rows][:, None] * diff).T @ diff
    else:
        # per-component weighted scatter about the component's mean
        scatter = np.empty((K, D, D)) if covariance_type == "full" else np.empty((K, D))
        Xk = X.astype(np.float64, copy=False)
        for k in range(K):
            rk = w * assign[:, k]
            nk[k] = rk.sum() + 10 * eps
            means[k] = rk @ Xk / nk[k]
            if covariance_type == "tied":
                continue
            diff = Xk - means[k]
            if covariance_type == "full":
                scatter[k] = (rk[:, None] * diff).T @ diff
            else:
                scatter[k] = rk @ (diff * diff)
    if covariance_type == "full":
        cov = scatter / nk[:, None, None]
        _add_to_diagonal(cov, reg_covar)
    elif covariance_type == "tied":
        cov = _tied_init_covariance(X, w, nk, means, unit_weights=sample_weight is None)
        _add_to_diagonal(cov, reg_covar)
    elif covariance_type == "diag":
        cov = scatter / nk[:, None] + reg_covar
    else:
        cov = (scatter / nk[:, None] + reg_covar).mean(axis=1)
    return nk, means, cov


def _tied_init_covariance(X, w, nk, means, unit_weights=False):
    """scikit-learn's tied estimate, (sum_i w_i x_i x_i^T - sum_k nk m_k m_k^T) / sum nk.

    Its first sum runs over all samples, also those no component is responsible for
    (k-means++ and random_from_data assign only K rows): then it is not the within-
    component scatter, but it is where scikit-learn starts. The same quantity is
    computed here about the data's mean c, free of the cancellation of raw moments:
    with x' = x - c, m' = m - c and a = sum_k nk m'_k,

        sum w x x^T - sum nk m m^T
            = sum w x' x'^T - sum nk m' m'^T - c a^T - a c^T + (sum w - sum nk) c c^T
    """
    c = (w @ X) / w.sum()
    Xc = X.astype(np.float64) - c
    mc = means - c
    a = nk @ mc
    # unit weights: w x' is x' itself (a product by 1 is exact), so no weighted copy
    Xw = Xc if unit_weights else w[:, None] * Xc
    scatter = Xw.T @ Xc - (nk[:, None] * mc).T @ mc
    scatter -= np.outer(c, a) + np.outer(a, c) - (w.sum() - nk.sum()) * np.outer(c, c)
    return scatter / nk.sum()
