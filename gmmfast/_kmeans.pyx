"""Compiled k-means of gmmfast: scikit-learn's k-means++ seeding and Lloyd iterations.

The Python side is gmmfast/_kmeans_init.py; it keeps the random draws, the convergence
test and everything that must call numpy exactly as scikit-learn does. Here are only
the passes over the samples.

Data convention, stated once
----------------------------
scikit-learn clusters X - m, where m = X.mean(axis=0) in X's dtype. The kernels take X
and m and form each centred value ``xc = x - m`` in X's dtype (the same rounding as
numpy's ``X - m``), so no centred copy of X is made. ``xx[i]`` is the squared norm of
the centred row in double, computed by the caller with numpy (scikit-learn's
``row_norms``).

k-means++ (``kpp_distances``): the squared distance from every row to T candidate
centres, with scikit-learn's formula and rounding steps:
``d = ((-2 <c, xc>) + ||c||^2) + ||xc||^2`` in double (the dot product summed over the
features in order), cast to X's dtype, clipped below at 0, then the minimum with the
row's current closest distance. Every pair is computed, in tiles of rows with one
SIMD lane a row (gmmfast/_kernels/csrc/kmeans_tiles.h, a build per instruction set,
chosen at import as the kernels' are; ``tiles_impl()`` names it).

Lloyd (``lloyd_assign``): labels are ``argmin_j ||c_j||^2 - 2 <xc, c_j>`` computed, as
scikit-learn computes it, by a GEMM in X's dtype (float32 data: float32 centres), the
first index on ties. Hamerly's bounds (an upper bound on the distance to the
assigned centre, a lower bound on the distance to every other one, and half the
distance from each centre to its nearest other centre) skip the rows whose label cannot
change; a row is skipped only when its bounds clear a margin above the rounding of that
computation, so skipping never changes a label: the labels are those of the full
computation. Centres are means in double of the rows by label; the sums are kept
per label and updated, in row order after the parallel pass, only for the rows whose
label changed.

Work split. Rows are cut into fixed blocks of ``BLOCK`` rows, spread over the threads
with ``prange(schedule='static')``. Every row's result depends on that row alone, and
the one reduction (the sums by label) runs serially in row order, so the results do not
depend on the number of threads.

Nothing here raises inside nogil code: allocation failure returns STATUS_NO_MEMORY.
"""

from cython.parallel cimport parallel, prange, threadid
from libc.math cimport sqrt, INFINITY
from libc.stdlib cimport malloc, free

from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm

from gmmfast._isa_cap import isa_cap

import numpy as np

cdef extern from *:
    """
    /* min/max as single ternaries, which compilers turn into minss/maxss (minsd/maxsd)
       instead of branches: the argmin scans below would mispredict on every row */
    static inline double gmm_km_min_d(double a, double b) { return a < b ? a : b; }
    static inline double gmm_km_max_d(double a, double b) { return a > b ? a : b; }
    static inline float gmm_km_min_f(float a, float b) { return a < b ? a : b; }
    static inline float gmm_km_max_f(float a, float b) { return a > b ? a : b; }
    """
    double gmm_km_min_d(double a, double b) noexcept nogil
    double gmm_km_max_d(double a, double b) noexcept nogil
    float gmm_km_min_f(float a, float b) noexcept nogil
    float gmm_km_max_f(float a, float b) noexcept nogil


cdef inline floating _fmin(floating a, floating b) noexcept nogil:
    if floating is float:
        return gmm_km_min_f(a, b)
    else:
        return gmm_km_min_d(a, b)


cdef inline floating _fmax(floating a, floating b) noexcept nogil:
    if floating is float:
        return gmm_km_max_f(a, b)
    else:
        return gmm_km_max_d(a, b)

cdef extern from "kmeans_tiles.h":
    void gmm_kmeans_tiles_init(int max_level) noexcept nogil
    const char* gmm_isa_name() noexcept nogil
    const char* gmm_isa_builds() noexcept nogil
    Py_ssize_t GMM_KM_TILE
    # a block's k-means++ distances (kmeans_tiles.h: tiles of rows, one lane a row)
    void gmm_kpp_block_d(const double* X, Py_ssize_t m, Py_ssize_t D, const double* mc,
                         const double* cand, const double* cn, Py_ssize_t T,
                         const double* xx, const double* closest, double* out,
                         Py_ssize_t ldo, double* xt) noexcept nogil
    void gmm_kpp_block_f(const float* X, Py_ssize_t m, Py_ssize_t D, const float* mc,
                         const double* cand, const double* cn, Py_ssize_t T,
                         const double* xx, const float* closest, float* out,
                         Py_ssize_t ldo, double* xt) noexcept nogil

# GMMFAST_ISA caps the build chosen here, as every module's (_isa_cap.py)
gmm_kmeans_tiles_init(isa_cap())


def tiles_impl():
    """Which build of the k-means++ tiles runs: 'avx512', 'avx2+fma', 'neon' or
    'baseline'."""
    return gmm_isa_name().decode()


def tiles_builds():
    """The builds of the k-means++ tiles compiled into this module, baseline first."""
    return tuple(gmm_isa_builds().decode().split(","))


cdef inline void _kpp_block(const floating* X, Py_ssize_t m, Py_ssize_t D,
                            const floating* mc, const double* cand, const double* cn,
                            Py_ssize_t T, const double* xx, const floating* closest,
                            floating* out, Py_ssize_t ldo, double* xt) noexcept nogil:
    if floating is double:
        gmm_kpp_block_d(X, m, D, mc, cand, cn, T, xx, closest, out, ldo, xt)
    else:
        gmm_kpp_block_f(X, m, D, mc, cand, cn, T, xx, closest, out, ldo, xt)


cdef Py_ssize_t BLOCK = 1024

STATUS_OK = 0
STATUS_NO_MEMORY = 1

def kpp_distances(
    const floating[:, ::1] X,       # IN (N, D) the data, not centred
    const floating[::1] mean,       # IN (D,) the centre m, X's dtype
    const double[::1] xx,           # IN (N,) ||x_i - m||^2, double
    const double[:, ::1] cand,      # IN (T, D) candidate centres (centred), double
    const double[::1] cand_norms,   # IN (T,) ||cand_t||^2, double
    const floating[::1] closest,    # IN (N,) current closest distance, or (0,) for none
    floating[:, ::1] out,           # OUT (T, N) min(closest, distance to candidate t)
    int n_threads,
):
    """Squared distances from every row to T candidate centres (see the module doc).

    Every distance is computed, rows eight at a time (a tile), one SIMD lane per row,
    every dot product summed over the features in order, four candidates at once
    (csrc/kmeans_tiles.h, a build per instruction set); with ``closest``, its minimum
    with ``closest[i]``.

    Returns
    -------
    int status (STATUS_OK or STATUS_NO_MEMORY).
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], T = cand.shape[0]
    cdef Py_ssize_t n_blocks = (N + BLOCK - 1) // BLOCK
    cdef Py_ssize_t b, start, stop
    cdef bint has_closest = closest.shape[0] > 0
    cdef int tid
    cdef double *xts
    cdef double *xt
    if N == 0 or T == 0:
        return STATUS_OK
    cdef const floating* Xp = &X[0, 0]
    cdef const floating* mp = &mean[0]
    cdef const double* xxp = &xx[0]
    cdef const double* cp = &cand[0, 0]
    cdef const double* cnp = &cand_norms[0]
    cdef const floating* clp = &closest[0] if has_closest else NULL
    cdef floating* op = &out[0, 0]
    n_threads = max(1, n_threads)
    # each thread's tile of centred rows, transposed (kmeans_tiles.h)
    xts = <double*> malloc(n_threads * D * GMM_KM_TILE * sizeof(double))
    if xts == NULL:
        return STATUS_NO_MEMORY
    with nogil, parallel(num_threads=n_threads):
        tid = threadid()
        xt = xts + tid * D * GMM_KM_TILE
        for b in prange(n_blocks, schedule='static'):
            start = b * BLOCK
            stop = min(start + BLOCK, N)
            _kpp_block(Xp + start * D, stop - start, D, mp, cp, cnp, T, xxp + start,
                       clp + start if has_closest else NULL, op + start, N, xt)
    free(xts)
    return STATUS_OK


cdef inline double _centre_dot4(
    const floating* x,    # IN (D,) a row of X
    const floating* m,    # IN (D,) the centre
    const floating* c,    # IN (D,) a k-means centre
    floating* row,        # OUT (D,) x - m
    Py_ssize_t n,
) noexcept nogil:
    """row = x - m and <row, c> with four partial sums (a bound: any order will do)."""
    cdef floating s0 = 0, s1 = 0, s2 = 0, s3 = 0, r0, r1, r2, r3
    cdef Py_ssize_t d = 0
    while d + 4 <= n:
        r0 = x[d] - m[d]
        r1 = x[d + 1] - m[d + 1]
        r2 = x[d + 2] - m[d + 2]
        r3 = x[d + 3] - m[d + 3]
        row[d] = r0
        row[d + 1] = r1
        row[d + 2] = r2
        row[d + 3] = r3
        s0 = s0 + r0 * c[d]
        s1 = s1 + r1 * c[d + 1]
        s2 = s2 + r2 * c[d + 2]
        s3 = s3 + r3 * c[d + 3]
        d = d + 4
    while d < n:
        r0 = x[d] - m[d]
        row[d] = r0
        s0 = s0 + r0 * c[d]
        d = d + 1
    return (s0 + s1) + (s2 + s3)


def kpp_take(
    const floating[::1] best_row,   # IN (N,) row ``best`` of kpp_distances' output
    floating[::1] closest,          # OUT (N,) a copy of best_row
    const floating[::1] w,          # IN (N,) sample weights in X's dtype, or (0,) for ones
    floating[::1] cumsum,           # OUT (N,) numpy's np.cumsum(w * closest), same bits
):
    """The new closest distances, and their weighted cumulative sum, in one pass.

    The sum runs serially in X's dtype, element by element, as numpy's cumsum does, so
    that the k-means++ draws land where scikit-learn's land.
    """
    cdef Py_ssize_t i, N = closest.shape[0]
    cdef floating acc = 0, v
    cdef bint has_w = w.shape[0] > 0
    if N == 0:
        return STATUS_OK
    cdef const floating* bp = &best_row[0]
    cdef floating* cp = &closest[0]
    cdef const floating* wp = &w[0] if has_w else NULL
    cdef floating* sp = &cumsum[0]
    with nogil:
        for i in range(N):
            v = bp[i]
            cp[i] = v
            if has_w:
                v = wp[i] * v
            acc = acc + v
            sp[i] = acc
    return STATUS_OK


def searchsorted_left(
    const floating[::1] a,          # IN (N,) non-decreasing
    const double[::1] v,            # IN (T,) values
    Py_ssize_t[::1] out,            # OUT (T,) np.searchsorted(a, v) (side='left'), compared in double
):
    """np.searchsorted(a, v) for a float array a and double values v, without the
    float64 copy of a that numpy makes to compare them."""
    cdef Py_ssize_t t, lo, hi, mid, N = a.shape[0]
    with nogil:
        for t in range(v.shape[0]):
            lo = 0
            hi = N
            while lo < hi:
                mid = lo + (hi - lo) // 2
                if <double> a[mid] < v[t]:
                    lo = mid + 1
                else:
                    hi = mid
            out[t] = lo
    return STATUS_OK


cdef inline Py_ssize_t _argmin2(
    floating* g,           # INOUT (K,) dot products in; e_j = cc_j - 2 g_j out
    const floating* cc,    # IN (K,)
    Py_ssize_t K,
    double* e1,            # OUT the smallest e_j
    double* e2,            # OUT the smallest e_j over j != the returned index (inf if K == 1)
) noexcept nogil:
    """First index of the smallest ``cc_j - 2 g_j`` (in g's precision), and the
    second smallest value; the scan keeps four (smallest, second smallest) pairs with
    min/max, no data-dependent branches."""
    cdef Py_ssize_t j, best
    cdef floating inf = INFINITY
    cdef floating a0 = inf, a1 = inf, a2 = inf, a3 = inf
    cdef floating b0 = inf, b1 = inf, b2 = inf, b3 = inf
    cdef floating e, m, m2
    cdef floating two = 2
    for j in range(K):
        g[j] = cc[j] - two * g[j]
    j = 0
    while j + 4 <= K:
        e = g[j]
        b0 = _fmin(b0, _fmax(a0, e))
        a0 = _fmin(a0, e)
        e = g[j + 1]
        b1 = _fmin(b1, _fmax(a1, e))
        a1 = _fmin(a1, e)
        e = g[j + 2]
        b2 = _fmin(b2, _fmax(a2, e))
        a2 = _fmin(a2, e)
        e = g[j + 3]
        b3 = _fmin(b3, _fmax(a3, e))
        a3 = _fmin(a3, e)
        j = j + 4
    while j < K:
        e = g[j]
        b0 = _fmin(b0, _fmax(a0, e))
        a0 = _fmin(a0, e)
        j = j + 1
    # merge the pairs: (a, b) with (c, d) -> (_fmin(a, c), _fmin(_fmax(a, c), _fmin(b, d)))
    m = _fmin(a0, a1)
    m2 = _fmin(_fmax(a0, a1), _fmin(b0, b1))
    a0 = m
    b0 = m2
    m = _fmin(a2, a3)
    m2 = _fmin(_fmax(a2, a3), _fmin(b2, b3))
    a2 = m
    b2 = m2
    m = _fmin(a0, a2)
    m2 = _fmin(_fmax(a0, a2), _fmin(b0, b2))
    # m is one of the g_j unless a g_j is NaN (overflowing data, refused before the
    # passes): then the last index, never one past the centres
    best = 0
    while best < K - 1 and g[best] != m:
        best = best + 1
    e1[0] = m
    e2[0] = m2
    return best


def lloyd_assign(
    const floating[:, ::1] X,        # IN (N, D) the data, not centred
    const floating[::1] mean,        # IN (D,) the centre m
    const double[::1] xx,            # IN (N,) ||x_i - m||^2
    const floating[:, ::1] centers,  # IN (K, D) centres (centred), X's dtype
    const floating[::1] cc,          # IN (K,) ||c_j||^2, X's dtype
    const double[::1] half_sep,      # IN (K,) half the distance from c_j to its nearest other centre
    const double[::1] shift,         # IN (K,) how far each centre moved since the bounds were set
    Py_ssize_t shift_argmax,         # IN index of the largest shift
    double shift_max,                # IN the largest shift
    double shift_second,             # IN the second largest (the largest among the others)
    double margin_scale,             # IN skip a row only if lower^2 - upper^2 > margin_scale * (xx_i + cc_scale)
    double cc_scale,                 # IN a bound on ||c_j||^2 over every centre the bounds have seen
    bint first,                      # IN no labels yet: compute every row
    int[::1] labels,                 # INOUT (N,) label of each row
    double[::1] upper,               # INOUT (N,) upper bound on ||xc_i - c_label||
    double[::1] lower,               # INOUT (N,) lower bound on ||xc_i - c_j||, j != label
    Py_ssize_t[::1] block_changed,   # OUT (n_blocks,) rows whose label changed, per block
    Py_ssize_t[::1] block_full,      # OUT (n_blocks,) rows compared with every centre, per block
    int n_threads,
):
    """One assignment pass of Lloyd's algorithm with Hamerly's bounds.

    Per block: the rows whose bounds (loose, then with the exact distance to their own
    centre) do not prove their label are gathered, centred, and compared with every
    centre by one GEMM in X's dtype, ``G = X_rows C^T``, as scikit-learn does; their
    label is the first ``argmin_j ||c_j||^2 - 2 G_ij``. The bounds are kept in double;
    ``margin_scale`` must cover the rounding of that GEMM in X's dtype.

    Returns
    -------
    int status (STATUS_OK or STATUS_NO_MEMORY); the number of changed labels is
    ``block_changed.sum()``.
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], K = centers.shape[0]
    cdef Py_ssize_t n_blocks = (N + BLOCK - 1) // BLOCK
    cdef Py_ssize_t b, i, d, r, m, start, stop, best, changed
    cdef int a, tid
    cdef double u, l, lo, xi, marg, dot, e1, e2
    cdef floating *scratch
    cdef floating *rows
    cdef floating *row
    cdef floating *Gm
    cdef Py_ssize_t *idx
    cdef Py_ssize_t *idx_all
    cdef Py_ssize_t per_thread = BLOCK * (D + K)
    cdef int bm, bn, bk, lda, ldc
    cdef floating one = 1, zero = 0
    if N == 0:
        return STATUS_OK
    cdef const floating* Xp = &X[0, 0]
    cdef const floating* mp = &mean[0]
    cdef const double* xxp = &xx[0]
    cdef const floating* cp = &centers[0, 0]
    cdef const floating* ccp = &cc[0]
    cdef const double* hsp = &half_sep[0]
    cdef const double* shp = &shift[0]
    cdef int* lp = &labels[0]
    cdef double* up = &upper[0]
    cdef double* lop = &lower[0]
    n_threads = max(1, n_threads)
    scratch = <floating*> malloc(n_threads * per_thread * sizeof(floating))
    idx_all = <Py_ssize_t*> malloc(n_threads * BLOCK * sizeof(Py_ssize_t))
    if scratch == NULL or idx_all == NULL:
        free(scratch)
        free(idx_all)
        return STATUS_NO_MEMORY
    bn = <int> K
    bk = <int> D
    lda = <int> D
    ldc = <int> K
    with nogil, parallel(num_threads=n_threads):
        tid = threadid()
        rows = scratch + tid * per_thread   # (BLOCK, D) centred rows to compare with every centre
        Gm = rows + BLOCK * D               # (BLOCK, K) their dot products with the centres
        idx = idx_all + tid * BLOCK         # their row numbers
        for b in prange(n_blocks, schedule='static'):
            start = b * BLOCK
            stop = min(start + BLOCK, N)
            m = 0
            for i in range(start, stop):
                row = rows + m * D
                if not first:
                    xi = xxp[i]
                    marg = margin_scale * (xi + cc_scale)
                    a = lp[i]
                    u = up[i] + shp[a]
                    if a == shift_argmax:
                        l = lop[i] - shift_second
                    else:
                        l = lop[i] - shift_max
                    lo = max(l, 2.0 * hsp[a] - u)
                    if lo > 0 and lo * lo - u * u > marg:
                        up[i] = u
                        lop[i] = l
                        continue
                    # tighten the upper bound: the distance to the assigned centre (a
                    # bound only, so summed in any order: four partial sums)
                    dot = _centre_dot4(Xp + i * D, mp, cp + a * D, row, D)
                    u = sqrt(max(0.0, (<double> ccp[a] - 2.0 * dot) + xi))
                    lo = max(l, 2.0 * hsp[a] - u)
                    if lo > 0 and lo * lo - u * u > marg:
                        up[i] = u
                        lop[i] = l
                        continue
                else:
                    for d in range(D):
                        row[d] = Xp[i * D + d] - mp[d]
                idx[m] = i
                m = m + 1
            changed = 0
            if m > 0:
                # G (m, K) = rows (m, D) C^T, row-major, as column-major G^T = C rows^T
                bm = <int> m
                if floating is double:
                    dgemm("T", "N", &bn, &bm, &bk, &one, <double*> cp, &lda,
                          rows, &lda, &zero, Gm, &ldc)
                else:
                    sgemm("T", "N", &bn, &bm, &bk, &one, <float*> cp, &lda,
                          rows, &lda, &zero, Gm, &ldc)
                for r in range(m):
                    i = idx[r]
                    e1 = 0.0  # assigned here so that each thread has its own
                    e2 = 0.0
                    best = _argmin2(Gm + r * K, ccp, K, &e1, &e2)
                    xi = xxp[i]
                    up[i] = sqrt(max(0.0, e1 + xi))
                    lop[i] = sqrt(max(0.0, e2 + xi))
                    if best != lp[i]:
                        lp[i] = <int> best
                        changed = changed + 1
            block_changed[b] = changed
            block_full[b] = m
    free(idx_all)
    free(scratch)
    return STATUS_OK


def lloyd_sums(
    const floating[:, ::1] X,        # IN (N, D)
    const floating[::1] mean,        # IN (D,)
    const double[::1] w,             # IN (N,) weights, or (0,) for all ones
    const int[::1] labels,           # IN (N,) the new labels
    int[::1] labels_prev,            # INOUT (N,) the labels the sums hold; set to labels
    const Py_ssize_t[::1] block_changed,  # IN (n_blocks,) from lloyd_assign
    double[:, ::1] sums,             # INOUT (K, D) sum of w_i xc_i by label
    double[::1] weights,             # INOUT (K,) sum of w_i by label
    Py_ssize_t[::1] n_positive,      # INOUT (K,) rows of positive weight by label
):
    """Move the changed rows' contributions between labels, serially in row order.

    A label left without a row of positive weight gets its sums set to exactly 0, so
    that "empty" means what it means to scikit-learn (a zero total weight), free of
    rounding left by the subtractions.
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], K = sums.shape[0]
    cdef Py_ssize_t n_blocks = block_changed.shape[0]
    cdef Py_ssize_t b, i, d, start, stop
    cdef int a, c
    cdef double wi
    cdef bint has_w = w.shape[0] > 0
    if N == 0:
        return STATUS_OK
    cdef const floating* Xp = &X[0, 0]
    cdef const floating* mp = &mean[0]
    cdef const double* wp = &w[0] if has_w else NULL
    cdef const int* lp = &labels[0]
    cdef int* pp = &labels_prev[0]
    cdef double* sp = &sums[0, 0]
    cdef double* wsp = &weights[0]
    cdef Py_ssize_t* npp = &n_positive[0]
    with nogil:
        for b in range(n_blocks):
            if block_changed[b] == 0:
                continue
            start = b * BLOCK
            stop = min(start + BLOCK, N)
            for i in range(start, stop):
                a = pp[i]
                c = lp[i]
                if a == c:
                    continue
                wi = wp[i] if has_w else 1.0
                if a >= 0:
                    for d in range(D):
                        sp[a * D + d] = sp[a * D + d] - wi * <double> (Xp[i * D + d] - mp[d])
                    wsp[a] = wsp[a] - wi
                    if wi > 0:
                        npp[a] = npp[a] - 1
                        if npp[a] == 0:
                            wsp[a] = 0.0
                            for d in range(D):
                                sp[a * D + d] = 0.0
                for d in range(D):
                    sp[c * D + d] = sp[c * D + d] + wi * <double> (Xp[i * D + d] - mp[d])
                wsp[c] = wsp[c] + wi
                if wi > 0:
                    npp[c] = npp[c] + 1
                pp[i] = c
    return STATUS_OK


def label_moments(
    const floating[:, ::1] X,          # IN (N, D)
    const double[::1] w,               # IN (N,) weights, or (0,) for all ones
    const Py_ssize_t[::1] labels,      # IN (N,) a component per row, -1 for none
    double eps10,                      # IN added to every component's weight
    double[::1] nk,                    # OUT (K,) sum of w_i by label, plus eps10
    double[:, ::1] means,              # OUT (K, D) sum of w_i x_i by label, over nk
    double[:, ::1] sq,                 # OUT (K, D) sum of w_i (x_i - mean)^2 by label, or (0, D)
):
    """Initial parameters' moments from hard labels, in two passes over the rows.

    Serial, each sum over the rows in row order, in double (float32 rows widened): the
    weights and weighted sums of the rows of each label, the means from them, then the
    weighted squared deviations from those means. What scikit-learn's estimates from
    0/1 responsibilities compute, without gathering each label's rows into a copy.
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], K = nk.shape[0]
    cdef Py_ssize_t i, d, k
    cdef bint has_w = w.shape[0] > 0
    cdef bint want_sq = sq.shape[0] > 0
    cdef double wi, t
    if labels.shape[0] != N or means.shape[0] != K or means.shape[1] != D \
            or (want_sq and (sq.shape[0] != K or sq.shape[1] != D)) \
            or (has_w and w.shape[0] != N):
        raise ValueError("label_moments: inconsistent shapes")
    for i in range(N):
        if labels[i] >= K:
            raise ValueError("label_moments: a label is not below n_components")
    with nogil:
        for k in range(K):
            nk[k] = 0.0
            for d in range(D):
                means[k, d] = 0.0
                if want_sq:
                    sq[k, d] = 0.0
        for i in range(N):
            k = labels[i]
            if k < 0:
                continue
            wi = w[i] if has_w else 1.0
            nk[k] = nk[k] + wi
            for d in range(D):
                means[k, d] = means[k, d] + wi * <double> X[i, d]
        for k in range(K):
            nk[k] = nk[k] + eps10
            for d in range(D):
                means[k, d] = means[k, d] / nk[k]
        if want_sq:
            for i in range(N):
                k = labels[i]
                if k < 0:
                    continue
                wi = w[i] if has_w else 1.0
                for d in range(D):
                    t = <double> X[i, d] - means[k, d]
                    sq[k, d] = sq[k, d] + wi * (t * t)
    return STATUS_OK


def block_rows():
    """Rows per block of the work split (fixed, whatever the thread count)."""
    return BLOCK
