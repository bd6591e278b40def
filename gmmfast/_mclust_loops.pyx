"""Compiled loops of mclust's algorithms: the hierarchical start and the EVE/VVE sweep.

``vvv_merges``: model-based agglomerative hierarchical clustering, mclust's hcVVV. The
Python side is gmmfast/_hc.py (the data transformation, the subsample, the cuts of
the tree); here is only the merge loop.

The criterion (Fraley 1998; Banfield & Raftery 1993), as mclust's Fortran ``hcvvv``
computes it: a cluster C of weight n (a weight counts as that many copies of a row)
with scatter matrix W about its mean and trace t = tr W has the term

    T(C) = n log( det(W / n) + beta (t + alpha) / n )      (n > p, W of full rank)
    T(C) = n log( beta (t + alpha) / n )                   (n <= p, or det W = 0)

(mclust's regularised classification likelihood of the VVV model, beta = 1 and alpha
the data's total scatter over n p), and the pair of clusters merged at each step is
the one whose merge changes the sum of the terms least: d(i, j) = T(i + j) - T(i) -
T(j). The determinant is never formed: each cluster keeps the upper-triangular factor
R of its scatter (R^T R = W), and the factor of a merge is R_i with the rows of R_j and
the row v = sqrt(n_i n_j / n) (m_i - m_j) rotated in (Givens rotations, as mclust's
``mclrup``); log det(W / n) = 2 sum_k log(|R_kk| / sqrt(n)). A cluster also keeps
a = sqrt(n) m (its sum over sqrt(n)), from which v and the merged mean come.

Ties are broken as mclust breaks them: the dissimilarities are held in mclust's packed
order (column j, rows i < j), the last minimum in that order is merged, the merged
cluster keeps the lower slot and the last slot moves into the freed one. The minimum is
found from a cached minimum per column (mclust rescans every pair at every step), so a
step costs O(clusters) plus the new dissimilarities of the merged cluster.

``plane_rotations``: one sweep of the common orientation's M-step of EVE and VVE (see
its docstring and gmmfast/_mclust_models.py).

Nothing here raises inside nogil code; every array is allocated and checked by the
caller.
"""

from libc.math cimport sqrt, log, exp, log1p, hypot, fabs, atan2, cos, sin
from libc.string cimport memcpy, memset

import numpy as np

cdef double _term(double n, double tr, const double* R, bint have_factor,
                  Py_ssize_t p, double alpha, double beta) noexcept nogil:
    """T(C) from its weight, trace and (when n > p) factor."""
    cdef double c = beta * (tr + alpha) / n
    cdef double detlog = 0.0, q
    cdef Py_ssize_t k
    if n <= p or tr == 0.0 or not have_factor:
        return n * log(c)
    for k in range(p):
        q = fabs(R[k * p + k])
        if q == 0.0:  # singular scatter: mclust's det2mc = -FLMAX
            return n * log(c)
        detlog += log(q / sqrt(n))
    detlog *= 2.0
    if detlog <= 0.0:
        return n * log(exp(detlog) + c)
    return n * (log1p(exp(-detlog) * c) + detlog)


cdef void _rotate_in(double* R, double* r, Py_ssize_t start, Py_ssize_t p) noexcept nogil:
    """Rotate the row r (zero before ``start``) into the upper triangle R (p x p)."""
    cdef Py_ssize_t k, m
    cdef double rho, c, s, t
    for k in range(start, p):
        if r[k] == 0.0:
            continue
        rho = hypot(R[k * p + k], r[k])
        c = R[k * p + k] / rho
        s = r[k] / rho
        R[k * p + k] = rho
        r[k] = 0.0
        for m in range(k + 1, p):
            t = c * R[k * p + m] + s * r[m]
            r[m] = c * r[m] - s * R[k * p + m]
            R[k * p + m] = t


cdef inline Py_ssize_t _idx(Py_ssize_t i, Py_ssize_t j) noexcept nogil:
    # packed position of the pair i < j: column j, row i
    return j * (j - 1) // 2 + i


cdef struct Tree:
    Py_ssize_t p
    double alpha
    double beta
    double* a        # (slots, p) sqrt(n) * mean
    double* n        # (slots,) weight
    double* tr       # (slots,) trace of the scatter
    double* term     # (slots,) T(C)
    Py_ssize_t* nrow     # (slots,) stored rows of the factor
    Py_ssize_t* rows     # (slots, p) pool index of each stored row
    double* pool     # (pool rows, p) factor rows (full length, zero before the pivot)
    Py_ssize_t* piv      # (pool rows,) pivot column of each pool row
    Py_ssize_t* free_rows    # stack of free pool rows
    Py_ssize_t n_free
    double* v        # (p,) scratch
    double* r        # (p,) scratch
    double* R        # (p, p) scratch: a merge's factor
    double* Rm       # (p, p) scratch: the merged cluster's factor


cdef void _load_factor(Tree* t, Py_ssize_t s, double* R) noexcept nogil:
    cdef Py_ssize_t p = t.p, q, row
    memset(R, 0, p * p * sizeof(double))
    for q in range(t.nrow[s]):
        row = t.rows[s * p + q]
        memcpy(&R[t.piv[row] * p], &t.pool[row * p], p * sizeof(double))


cdef void _form_factor(Tree* t, Py_ssize_t j, double* R) noexcept nogil:
    """Rotate slot j's factor rows and then t.v into R (slot i's factor on entry)."""
    cdef Py_ssize_t p = t.p, q, row
    for q in range(t.nrow[j]):
        row = t.rows[j * p + q]
        memcpy(t.r, &t.pool[row * p], p * sizeof(double))
        _rotate_in(R, t.r, t.piv[row], p)
    _rotate_in(R, t.v, 0, p)


cdef bint _merge_stats(Tree* t, Py_ssize_t i, Py_ssize_t j, double* n_out,
                       double* tr_out) noexcept nogil:
    """Weight and trace of the merge of slots i and j; t.v = the row it adds.

    Returns whether its term needs the merged factor (weight > p, trace > 0).
    """
    cdef Py_ssize_t p = t.p, k
    cdef double ni = t.n[i], nj = t.n[j], nij = ni + nj
    cdef double si = sqrt(nj / nij), sj = sqrt(ni / nij), vv = 0.0
    for k in range(p):
        t.v[k] = si * t.a[i * p + k] - sj * t.a[j * p + k]
        vv += t.v[k] * t.v[k]
    n_out[0] = nij
    tr_out[0] = (t.tr[i] + t.tr[j]) + vv
    return nij > p and tr_out[0] != 0.0


cdef double _dissimilarity(Tree* t, Py_ssize_t i, Py_ssize_t j,
                           const double* Ri) noexcept nogil:
    """d(i, j); Ri: slot i's factor if already formed (NULL: load it when needed)."""
    cdef double tr, nij
    cdef bint have = _merge_stats(t, i, j, &nij, &tr)
    if have:
        if Ri != NULL:
            memcpy(t.R, Ri, t.p * t.p * sizeof(double))
        else:
            _load_factor(t, i, t.R)
        _form_factor(t, j, t.R)
    return _term(nij, tr, t.R, have, t.p, t.alpha, t.beta) - (t.term[i] + t.term[j])


cdef void _store_factor(Tree* t, Py_ssize_t s, const double* R, Py_ssize_t max_rows) noexcept nogil:
    """Keep the non-zero rows of R (at most max_rows) as slot s's factor."""
    cdef Py_ssize_t p = t.p, k, m, row
    cdef bint nonzero
    t.nrow[s] = 0
    for k in range(p):
        if t.nrow[s] >= max_rows:
            break
        nonzero = False
        for m in range(k, p):
            if R[k * p + m] != 0.0:
                nonzero = True
                break
        if not nonzero:
            continue
        t.n_free -= 1
        row = t.free_rows[t.n_free]
        memcpy(&t.pool[row * p], &R[k * p], p * sizeof(double))
        t.piv[row] = k
        t.rows[s * p + t.nrow[s]] = row
        t.nrow[s] += 1


cdef void _release_factor(Tree* t, Py_ssize_t s) noexcept nogil:
    cdef Py_ssize_t q
    for q in range(t.nrow[s]):
        t.free_rows[t.n_free] = t.rows[s * t.p + q]
        t.n_free += 1
    t.nrow[s] = 0


cdef void _column_best(const double* D, Py_ssize_t j, double* best, Py_ssize_t* arg) noexcept nogil:
    # the last minimum of column j, as mclust's scan with .le. finds it
    cdef Py_ssize_t i, base = j * (j - 1) // 2
    cdef double b = D[base]
    cdef Py_ssize_t bi = 0
    for i in range(1, j):
        if D[base + i] <= b:
            b = D[base + i]
            bi = i
    best[j] = b
    arg[j] = bi


def vvv_merges(const double[:, ::1] Z, const double[::1] weight, double alpha,
               double beta=1.0):
    """mclust's hcVVV merge sequence for the rows of Z (one singleton cluster a row).

    Parameters
    ----------
    Z : (n, p) float64, C-contiguous, finite
        The (transformed) data, n >= 2.
    weight : (n,) float64, finite and > 0
        Each row counts as ``weight`` copies of itself.
    alpha, beta : float > 0
        mclust's regularisation (alpha: its traceW of the data over n p; beta = 1).

    Returns
    -------
    pairs : (n - 1, 2) intp
        Merge s joins the clusters labelled pairs[s, 0] < pairs[s, 1]; a cluster's
        label is the smallest row index in it (mclust's hcPairs, from 0).
    change : (n - 1,) float64
        The change of the criterion at each merge.
    """
    cdef Py_ssize_t n = Z.shape[0], p = Z.shape[1]
    if n < 2 or p < 1:
        raise ValueError(f"vvv_merges needs at least 2 rows and 1 column, got {n} x {p}")
    if weight.shape[0] != n:
        raise ValueError(f"weight has {weight.shape[0]} entries for {n} rows")
    if not (alpha > 0.0 and beta > 0.0):
        raise ValueError(f"alpha and beta must be > 0, got {alpha}, {beta}")
    Zn = np.asarray(Z)
    wn = np.asarray(weight)
    if not (np.isfinite(Zn).all() and np.isfinite(wn).all() and (wn > 0).all()):
        raise ValueError("vvv_merges needs finite data and finite weights > 0")

    # every buffer from numpy: a failed allocation raises MemoryError here
    cdef double[::1] D = np.empty(n * (n - 1) // 2)
    cdef double[::1] best = np.empty(n)
    cdef Py_ssize_t[::1] arg = np.zeros(n, dtype=np.intp)
    cdef double[:, ::1] a = np.sqrt(wn)[:, None] * Zn   # sqrt(n) * mean of a singleton
    cdef double[::1] nw = wn.copy()
    cdef double[::1] tr = np.zeros(n)
    cdef double[::1] term = np.log(alpha * beta / wn) * wn
    cdef Py_ssize_t[::1] nrow = np.zeros(n, dtype=np.intp)
    cdef Py_ssize_t[::1] rows = np.zeros(n * p, dtype=np.intp)
    # a cluster of m rows has a factor of at most m - 1 non-zero rows: n rows in all
    cdef double[::1] pool = np.zeros(n * p)
    cdef Py_ssize_t[::1] piv = np.zeros(n, dtype=np.intp)
    cdef Py_ssize_t[::1] free_rows = np.arange(n, dtype=np.intp)
    cdef Py_ssize_t[::1] npts = np.ones(n, dtype=np.intp)
    cdef Py_ssize_t[::1] label = np.arange(n, dtype=np.intp)
    cdef double[::1] scratch = np.zeros(2 * p + 2 * p * p)
    cdef Py_ssize_t[:, ::1] pairs = np.empty((n - 1, 2), dtype=np.intp)
    cdef double[::1] change = np.empty(n - 1)

    cdef Tree t
    t.p = p
    t.alpha = alpha
    t.beta = beta
    t.a = &a[0, 0]
    t.n = &nw[0]
    t.tr = &tr[0]
    t.term = &term[0]
    t.nrow = &nrow[0]
    t.rows = &rows[0]
    t.pool = &pool[0]
    t.piv = &piv[0]
    t.free_rows = &free_rows[0]
    t.n_free = n
    t.v = &scratch[0]
    t.r = &scratch[p]
    t.R = &scratch[2 * p]
    t.Rm = &scratch[2 * p + p * p]

    cdef Py_ssize_t i, j, k, m, lg = n, step, iopt, jopt, last, li, lj
    cdef double dopt, trm, nm, sa, sb
    cdef bint have
    cdef double* Dp = &D[0]
    with nogil:
        for j in range(1, n):
            for i in range(j):
                Dp[_idx(i, j)] = _dissimilarity(&t, i, j, NULL)
            _column_best(Dp, j, &best[0], &arg[0])

        for step in range(n - 1):
            # the last minimum in packed order: the highest column among equal minima
            jopt = 1
            dopt = best[1]
            for j in range(2, lg):
                if best[j] <= dopt:
                    dopt = best[j]
                    jopt = j
            iopt = arg[jopt]
            li = label[iopt]
            lj = label[jopt]
            pairs[step, 0] = li if li < lj else lj
            pairs[step, 1] = lj if li < lj else li
            change[step] = dopt

            # the merged cluster, into slot iopt
            # the merged factor is kept whatever its weight: later merges need it
            have = _merge_stats(&t, iopt, jopt, &nm, &trm)
            _load_factor(&t, iopt, t.Rm)
            _form_factor(&t, jopt, t.Rm)
            term[iopt] = _term(nm, trm, t.Rm, have, p, alpha, beta)
            sa = sqrt(nw[iopt] / nm)
            sb = sqrt(nw[jopt] / nm)
            for k in range(p):
                a[iopt, k] = sa * a[iopt, k] + sb * a[jopt, k]
            nw[iopt] = nm
            tr[iopt] = trm
            npts[iopt] += npts[jopt]
            _release_factor(&t, iopt)
            _release_factor(&t, jopt)
            _store_factor(&t, iopt, t.Rm, min(npts[iopt] - 1, p))
            if lj < li:
                label[iopt] = lj

            # the last slot moves into the freed one (mclust's wardsw)
            last = lg - 1
            if jopt != last:
                for k in range(p):
                    a[jopt, k] = a[last, k]
                nw[jopt] = nw[last]
                tr[jopt] = tr[last]
                term[jopt] = term[last]
                npts[jopt] = npts[last]
                label[jopt] = label[last]
                nrow[jopt] = nrow[last]
                for k in range(nrow[last]):
                    rows[jopt * p + k] = rows[last * p + k]
                nrow[last] = 0
                for k in range(jopt):
                    Dp[_idx(k, jopt)] = Dp[_idx(k, last)]
                for m in range(jopt + 1, last):
                    Dp[_idx(jopt, m)] = Dp[_idx(m, last)]
            lg -= 1
            if lg < 2:
                continue

            # the merged cluster's dissimilarities (its factor is in t.Rm)
            for k in range(lg):
                if k < iopt:
                    Dp[_idx(k, iopt)] = _dissimilarity(&t, iopt, k, t.Rm)
                elif k > iopt:
                    Dp[_idx(iopt, k)] = _dissimilarity(&t, iopt, k, t.Rm)

            # the cached column minima
            if iopt >= 1:
                _column_best(Dp, iopt, &best[0], &arg[0])
            if jopt < lg:
                _column_best(Dp, jopt, &best[0], &arg[0])
            for m in range(iopt + 1, lg):
                if m == jopt:
                    continue
                if arg[m] == iopt or (jopt < m and arg[m] == jopt):
                    _column_best(Dp, m, &best[0], &arg[0])
                    continue
                sa = Dp[_idx(iopt, m)]
                if sa < best[m] or (sa == best[m] and iopt > arg[m]):
                    best[m] = sa
                    arg[m] = iopt
                if jopt < m:
                    sa = Dp[_idx(jopt, m)]
                    if sa < best[m] or (sa == best[m] and jopt > arg[m]):
                        best[m] = sa
                        arg[m] = jopt
    return np.asarray(pairs), np.asarray(change)


def plane_rotations(const double[:, :, ::1] W, const double[:, ::1] orient,
                    const double[:, ::1] M):
    """One sweep of plane rotations of the orientation, each exact in its plane.

    Minimises f(D) = sum_k tr(M_k D^T W_k D) over orthogonal D, for fixed diagonal M_k:
    rotating columns i and j by t changes f by P cos 2t + Q sin 2t (+ a constant),
    P = sum_k (m_ki - m_kj)(b_kii - b_kjj) / 2, Q = sum_k (m_ki - m_kj) b_kij with
    B_k = D^T W_k D, whose minimum is at 2t = atan2(-Q, -P): Jacobi's method, as in
    Flury & Gautschi's common principal components algorithm. The planes are taken in
    the order (0, 1), (0, 2), ..., (D - 2, D - 1), each with the B_k the previous
    rotations left.

    Parameters
    ----------
    W : (K, D, D) float64, C-contiguous
        The scatter matrices.
    orient : (D, D) float64, C-contiguous
        The orientation D the sweep starts from (columns are the axes).
    M : (K, D) float64, C-contiguous
        The diagonal weights m_k.

    Returns
    -------
    orient : (D, D) float64
        The orientation after the sweep.
    """
    cdef Py_ssize_t K = W.shape[0], D = W.shape[1]
    if W.shape[2] != D or orient.shape[0] != D or orient.shape[1] != D:
        raise ValueError(f"plane_rotations: W {np.shape(W)} and orient "
                         f"{np.shape(orient)} must be (K, D, D) and (D, D)")
    if M.shape[0] != K or M.shape[1] != D:
        raise ValueError(f"plane_rotations: M {np.shape(M)} must be ({K}, {D})")
    out = np.array(orient, dtype=np.float64, order="C")
    cdef double[:, ::1] O = out
    cdef double[:, :, ::1] B = np.zeros((K, D, D))
    cdef double[::1] tmp = np.zeros(D)
    cdef Py_ssize_t i, j, k, m, r
    cdef double P, Q, dm, half, c, s, bi, bj, acc
    with nogil:
        # B_k = O^T W_k O
        for k in range(K):
            for m in range(D):
                for r in range(D):
                    acc = 0.0
                    for j in range(D):
                        acc = acc + W[k, r, j] * O[j, m]
                    tmp[r] = acc
                for i in range(D):
                    acc = 0.0
                    for r in range(D):
                        acc = acc + O[r, i] * tmp[r]
                    B[k, i, m] = acc
        for i in range(D - 1):
            for j in range(i + 1, D):
                P = 0.0
                Q = 0.0
                for k in range(K):
                    dm = M[k, i] - M[k, j]
                    P = P + dm * (B[k, i, i] - B[k, j, j])
                    Q = Q + dm * B[k, i, j]
                P = 0.5 * P
                if Q == 0.0 and P <= 0.0:
                    continue                              # already the plane's minimum
                half = 0.5 * atan2(-Q, -P)
                c = cos(half)
                s = sin(half)
                for r in range(D):
                    bi = O[r, i]
                    bj = O[r, j]
                    O[r, i] = c * bi + s * bj
                    O[r, j] = c * bj - s * bi
                for k in range(K):
                    for m in range(D):
                        bi = B[k, i, m]
                        bj = B[k, j, m]
                        B[k, i, m] = c * bi + s * bj
                        B[k, j, m] = c * bj - s * bi
                    for m in range(D):
                        bi = B[k, m, i]
                        bj = B[k, m, j]
                        B[k, m, i] = c * bi + s * bj
                        B[k, m, j] = c * bj - s * bi
    return out
