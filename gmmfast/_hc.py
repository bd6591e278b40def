"""init_params='hierarchical': mclust's default start.

mclust (``Mclust``, ``mclustBIC``) starts EM for every model and every K from one
tree: model-based agglomerative hierarchical clustering with the VVV criterion
(``hc(X, modelName = "VVV", use = "SVD")``, Fraley 1998), cut at K clusters
(``hclass``). gmmfast does the same:

- the data are transformed as mclust's ``hcUse = "SVD"`` does: each feature centred
  and scaled to unit standard deviation (features that are constant dropped), then
  rotated onto the right singular vectors V and scaled by 1 / sqrt of the singular
  values s: Z = X_s V diag(s)^(-1/2) (mclust's transformation, which is not a full
  whitening). Directions whose singular value is zero to rounding (collinear
  features) are dropped, where mclust would divide by ~0;
- the merge loop is mclust's hcvvv criterion (gmmfast/_mclust_loops.pyx), every row
  a singleton cluster at the start, as ``hc`` starts;
- on more than ``MAX_ROWS`` = 2000 rows (mclust's ``mclust.options("subset")``),
  mclust clusters a random subset of 2000 rows, runs its M-step on that subset's
  partition and then EM on all rows. gmmfast draws the subset from the estimator's
  ``random_state`` (rows with non-zero weight, uniformly, without replacement) and
  labels only those rows; the initial parameters are those of the subset, the initial
  weights scaled to all rows' weight; EM then runs on all rows;
- sample weights count as copies of rows (integer weights give the tree of the
  repeated rows): a row of weight w is a cluster of w coincident points; the
  transformation uses the weighted mean, standard deviation and singular values.
  Rows of weight 0 are left out (unlabelled). mclust has no weights.

mclust switches to the EII criterion when there are no more rows than features and
clusters one-dimensional data by quantiles; gmmfast uses the VVV criterion throughout.
"""

import numpy as np
from sklearn.utils import check_random_state

from ._mclust_loops import vvv_merges

#: rows clustered at most: mclust.options("subset")
MAX_ROWS = 2000


def svd_transform(X, w=None):
    """mclust's hcUse = "SVD" transformation of X (n, D) with weights w (n,) or None."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    wsum = float(n) if w is None else float(w.sum())
    mean = (X.sum(axis=0) if w is None else w @ X) / wsum
    Xc = X - mean
    ss = (Xc * Xc).sum(axis=0) if w is None else w @ (Xc * Xc)
    # R's sd(): the sum of squares over (count - 1)
    sd = np.sqrt(ss / (wsum - 1.0))
    keep = sd > 0
    if not keep.any():
        raise ValueError(
            "init_params='hierarchical' found every feature constant over the rows it "
            "clusters; there is nothing to cluster. Use another init_params.")
    Xs = Xc[:, keep] / sd[keep]
    B = Xs if w is None else np.sqrt(w)[:, None] * Xs
    _, s, Vt = np.linalg.svd(B, full_matrices=False)
    # directions with a zero singular value (to rounding) hold no data
    rank = int(np.count_nonzero(s > s[0] * max(B.shape) * np.finfo(np.float64).eps))
    return (Xs @ Vt[:rank].T) / np.sqrt(s[:rank])


def traceW(Z, w=None):
    """mclust's traceW: the (weighted) sum of squares of Z about its mean."""
    mean = Z.mean(axis=0) if w is None else (w @ Z) / w.sum()
    Zc = Z - mean
    return float((Zc * Zc).sum()) if w is None else float(w @ (Zc * Zc).sum(axis=1))


def merges(X, w=None):
    """The merge sequence of mclust's hc(X, "VVV", use = "SVD"): (pairs, change).

    pairs (n - 1, 2): merge s joins the clusters labelled pairs[s, 0] < pairs[s, 1]
    (a cluster's label is its smallest row index).
    """
    if w is not None and (w == 1.0).all():
        w = None  # the same sums, in the same order, as without weights
    Z = np.ascontiguousarray(svd_transform(X, w))
    n, p = Z.shape
    wsum = float(n) if w is None else float(w.sum())
    # mclust: alpha = traceW(Z / sqrt(n p)), at least eps; beta = 1
    alpha = max(traceW(Z, w) / (wsum * p), np.finfo(np.float64).eps)
    weight = np.ones(n) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    return vvv_merges(Z, weight, alpha, 1.0)


def cut(pairs, n, ks):
    """Partitions of n rows at each K in ks (mclust's hclass): {K: labels (n,)}.

    Labels run 0..K-1 in the order of first appearance (mclust's partconv).
    """
    ks = sorted(set(int(k) for k in ks), reverse=True)
    lab = np.arange(n)
    out = {}
    done = 0
    for K in ks:
        while n - done > K:
            i, j = pairs[done]
            lab[lab == j] = i
            done += 1
        _, first, inverse = np.unique(lab, return_index=True, return_inverse=True)
        order = np.argsort(np.argsort(first))
        out[K] = order[inverse.reshape(-1)]
    return out


class HierarchicalStart:
    """The tree of one hierarchical start; ``labels(K)`` cuts it for any K.

    Parameters
    ----------
    X : (n, D) float array
    sample_weight : (n,) float64 or None
    random_state : int, RandomState instance or None
        Draws the subset when more than MAX_ROWS rows have non-zero weight (and only
        then).
    """

    def __init__(self, X, sample_weight, random_state, max_rows=MAX_ROWS):
        n = X.shape[0]
        rows = np.arange(n) if sample_weight is None else np.flatnonzero(sample_weight > 0)
        self.subsampled = len(rows) > max_rows
        if self.subsampled:
            rows = np.sort(check_random_state(random_state).choice(
                rows, size=max_rows, replace=False))
        if len(rows) < 2:
            raise ValueError(
                "init_params='hierarchical' needs at least 2 rows with non-zero weight.")
        self.n_samples = n
        self.rows = rows
        whole = len(rows) == n
        Xr = X if whole else X[rows]
        w = None if sample_weight is None else sample_weight[rows]
        self.pairs, self.change = merges(Xr, w)
        self._cuts = {}

    def labels(self, K):
        """(n,) labels 0..K-1 of the tree cut at K clusters; -1 for rows not clustered."""
        m = len(self.rows)
        if K > m:
            raise ValueError(
                f"init_params='hierarchical' cannot make n_components={K} clusters of "
                f"{m} rows" + (" with non-zero weight" if m < self.n_samples else "")
                + f"; use n_components <= {m}.")
        if K not in self._cuts:
            self._cuts[K] = cut(self.pairs, m, [K])[K]
        out = np.full(self.n_samples, -1, dtype=np.intp)
        out[self.rows] = self._cuts[K]
        return out
