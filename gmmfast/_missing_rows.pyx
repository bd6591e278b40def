"""Compiled row-by-row E-step for rows with missing features ('full' and 'tied').

The Python side is gmmfast/_missing.py (``rows_stats``, ``rows_outputs``); it groups
the rows of rare patterns by their number m of missing features and validates every
array before it reaches ``rows_pass``.

Per row x with missing columns M (m of them, x_M stored as 0) and per component k,
with the precision P_k = U_k U_k^T (U_k upper triangular, the precision factor the
kernels read) and delta = x - mu_k zeroed at M:

    y = delta U_k,   q = ||y||^2 = delta^T P_k delta,   b = (delta P_k)_M = U_k[M, :] y,
    A = P_k[M, M] = L L^T (Cholesky),   z = L^-1 b,   t = A^-1 b = L^-T z,

the marginal quadratic form of the observed block is q - b^T A^-1 b = q - ||z||^2
(the minimum of the full form over x_M, at x_M = mu_kM - t), and
log |Sigma_OO| = log |Sigma| + log |A|; so

    log pi_k N(x_O | k) = log pi_k + sum_j log U_k[j, j] - 0.5 (D - m) log 2 pi
                          - 0.5 q + 0.5 ||z||^2 - sum_j log L[j, j].

The conditional law of x_M given x_O under k is N(mu_kM - t, A^-1). The expanded
statistics about the means are then, with r the responsibilities, w the weights and
delta with -t in place of its missing entries,

    N_k += w r_k,   T1_k += w r_k delta,   T2_k += w r_k (delta delta^T + (0 (+) A^-1)).

Work split. Rows are cut into blocks of ``block`` rows (fixed by the caller, not by
the thread count). A block computes its rows with per-thread scratch allocated inside
the parallel region, in two sweeps over the components. The first: y for the whole
block by one triangular product per component (dtrmm; plain loops for few features),
the m x m factorisations once per run of rows of one pattern, the log-probabilities,
and -t per row and component. The second, once the responsibilities are known: each
delta rebuilt from the row and -t, its statistics into a slot of the block's own (the
scatter by one BLAS product per component over the rows whose responsibility is not
0, the rest in row order), and A^-1 once per run of a pattern, weighted by the run's
sum of w r. Blocks run in rounds of at most a slot budget; after each round the slots
are added into the total element by element, in block order. So every sum is taken in
the same order whatever the number of threads, and the results are bit-identical on
any thread count. BLAS must be held to one thread by the caller (a BLAS call that
splits its work may sum in another order) unless D < BLAS_MIN_FEATURES.

Nothing here raises inside nogil code: allocation failure is reported per block and
raised as MemoryError afterwards. Non-finite inputs cannot make it read or write out
of bounds (only the indices in Mi can, and they are checked); they give NaN.
"""

from cython.parallel cimport parallel, prange
from libc.math cimport sqrt, log, exp
from libc.stdlib cimport malloc, free
from libc.string cimport memset, memcpy

from scipy.linalg.cython_blas cimport dgemm, dtrmm, dsyrk

import numpy as np

cdef enum:
    STATUS_OK = 0
    STATUS_NO_MEMORY = 1

#: doubles of the statistics slots of one round (32 MiB): bounds the memory of the
#: rounds whatever the number of rows
cdef Py_ssize_t SLOT_BUDGET = 1 << 22

#: below this many features the products are plain loops (BLAS's calls cost more than
#: their arithmetic), and the caller need not hold BLAS to one thread
BLAS_MIN_FEATURES = 8
cdef Py_ssize_t C_BLAS_MIN_FEATURES = BLAS_MIN_FEATURES

#: up to this many features the scatter of a block's rows goes through dgemm (the
#: whole square), beyond through dsyrk (one triangle): where each is the faster
cdef Py_ssize_t GEMM_SCATTER_MAX_D = 48


cdef inline double _dot(const double* a, const double* b, Py_ssize_t n) noexcept nogil:
    """sum_i a_i b_i with four partial sums (one add chain would wait on each add)."""
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t i = 0
    while i + 4 <= n:
        s0 = s0 + a[i] * b[i]
        s1 = s1 + a[i + 1] * b[i + 1]
        s2 = s2 + a[i + 2] * b[i + 2]
        s3 = s3 + a[i + 3] * b[i + 3]
        i = i + 4
    while i < n:
        s0 = s0 + a[i] * b[i]
        i = i + 1
    return (s0 + s1) + (s2 + s3)


cdef inline double _row_factor(
    const double* P,        # IN (D, D) the component's precision, row-major
    const Py_ssize_t* Mr,   # IN (m,) the row's missing columns
    Py_ssize_t m,
    Py_ssize_t D,
    double* L,              # OUT (m, m) lower Cholesky factor of P[M, M] (row-major)
    double* inv_diag,       # OUT (m,) 1 / L[j, j]
) noexcept nogil:
    """Factor A = P[M, M] = L L^T; return sum_j log L[j, j] (0.5 log det A)."""
    cdef Py_ssize_t i, j, c
    cdef double s, hl = 0.0, prod = 1.0
    for j in range(m):
        s = P[Mr[j] * D + Mr[j]]
        for c in range(j):
            s = s - L[j * m + c] * L[j * m + c]
        L[j * m + j] = sqrt(s)
        inv_diag[j] = 1.0 / L[j * m + j]
        # one log per row and component rather than m: the product, taken into the
        # log before it can leave the range of doubles
        prod = prod * L[j * m + j]
        if prod > 1e100 or prod < 1e-100:
            hl = hl + log(prod)
            prod = 1.0
        for i in range(j + 1, m):
            s = P[Mr[i] * D + Mr[j]]
            for c in range(j):
                s = s - L[i * m + c] * L[j * m + c]
            L[i * m + j] = s * inv_diag[j]
    return hl + log(prod)


cdef inline void _factor_inverse(
    const double* L,        # IN (m, m) lower Cholesky factor of A
    const double* inv_diag, # IN (m,) 1 / L[j, j]
    Py_ssize_t m,
    double* Li,             # SCRATCH (m, m)
    double* Ainv,           # OUT (m, m) A^-1 = L^-T L^-1
) noexcept nogil:
    cdef Py_ssize_t i, j, c
    cdef double s
    for j in range(m):
        for i in range(m):
            Li[i * m + j] = 0.0
        Li[j * m + j] = inv_diag[j]
        for i in range(j + 1, m):
            s = 0.0
            for c in range(j, i):
                s = s + L[i * m + c] * Li[c * m + j]
            Li[i * m + j] = -s * inv_diag[i]
    for i in range(m):
        for j in range(i, m):
            s = 0.0
            for c in range(j, m):
                s = s + Li[c * m + i] * Li[c * m + j]
            Ainv[i * m + j] = s
            Ainv[j * m + i] = s


cdef void _times_upper(double* Y, const double* U, Py_ssize_t n, Py_ssize_t D) noexcept nogil:
    """Y := Y U in place, U (D, D) upper triangular, Y (n, D) row-major: plain loops,
    for few features."""
    cdef Py_ssize_t r, i, j
    cdef double s
    for r in range(n):
        # y_j reads delta_i for i <= j only: from the last column down, in place
        for j in range(D - 1, -1, -1):
            s = 0.0
            for i in range(j + 1):
                s = s + Y[r * D + i] * U[i * D + j]
            Y[r * D + j] = s


cdef void _add_scatter(const double* Y, Py_ssize_t n, Py_ssize_t D, double* T) noexcept nogil:
    """T += Y^T Y, the lower triangle (row >= column) of row-major T: plain loops, for
    few features."""
    cdef Py_ssize_t r, a, c
    for r in range(n):
        for a in range(D):
            for c in range(a + 1):
                T[a * D + c] = T[a * D + c] + Y[r * D + a] * Y[r * D + c]


cdef inline bint _same_missing(const Py_ssize_t* Mi, Py_ssize_t mmax,
                               const Py_ssize_t* nm, Py_ssize_t r, Py_ssize_t s) noexcept nogil:
    """Whether rows r and s miss the same columns."""
    cdef Py_ssize_t a
    if nm[r] != nm[s]:
        return False
    for a in range(nm[r]):
        if Mi[r * mmax + a] != Mi[s * mmax + a]:
            return False
    return True


cdef void _add_conditional(
    const Py_ssize_t* Mr, Py_ssize_t m, Py_ssize_t D, const double* Pk, double wsum,
    double* T2k, double* Lf, double* Li, double* Ainv, double* idg,
) noexcept nogil:
    """T2k[M, M] += wsum P_k[M, M]^-1, the lower triangle (row >= column) only: the
    conditional covariance of the missing block, once for a run of rows of one
    pattern (wsum: the sum of their weights times responsibilities)."""
    cdef Py_ssize_t a, c
    _row_factor(Pk, Mr, m, D, Lf, idg)
    _factor_inverse(Lf, idg, m, Li, Ainv)
    for a in range(m):
        for c in range(a + 1):
            T2k[Mr[a] * D + Mr[c]] = T2k[Mr[a] * D + Mr[c]] + wsum * Ainv[a * m + c]


cdef void _add_runs(Py_ssize_t nb, Py_ssize_t K, Py_ssize_t k_lo, Py_ssize_t k_hi,
                    const Py_ssize_t* nm, const unsigned char* first, const double* lp,
                    const double* w, const Py_ssize_t* Mi, Py_ssize_t mmax, Py_ssize_t D,
                    const double* Pk, double* T2k, double* Lf, double* Li, double* Ainv,
                    double* idg) noexcept nogil:
    """_add_conditional once per run of rows of one pattern (a row that starts a run
    has first[r]), weighted by the run's responsibilities for components k_lo..k_hi-1
    (one component, or all of them for 'tied'), row by row, then component by
    component."""
    cdef Py_ssize_t r = 0, r2, k, m
    cdef double wsum
    while r < nb:
        m = nm[r]
        r2 = r
        wsum = 0.0
        while r2 < nb and (r2 == r or not first[r2]):
            for k in range(k_lo, k_hi):
                wsum = wsum + (lp[r2 * K + k] if w == NULL else lp[r2 * K + k] * w[r2])
            r2 = r2 + 1
        if m > 0 and wsum != 0.0:
            _add_conditional(Mi + r * mmax, m, D, Pk, wsum, T2k, Lf, Li, Ainv, idg)
        r = r2


cdef void _rows_block(
    const double* X0,       # IN (nb, D) rows, missing entries 0
    const Py_ssize_t* Mi,   # IN (nb, mmax) missing columns, the first nm[r] of row r
    const Py_ssize_t* nm,   # IN (nb,) number of missing columns of each row
    const double* w,        # IN (nb,) weights, or NULL
    Py_ssize_t nb, Py_ssize_t B, Py_ssize_t D, Py_ssize_t mmax, Py_ssize_t K, bint tied,
    const double* means,    # IN (K, D)
    const double* U,        # IN (Kp, D, D) precision factors, upper triangular
    const double* P,        # IN (Kp, D, D) precisions
    const double* logc,     # IN (K,) log pi_k + sum log diag U_k - 0.5 D log 2 pi
    double* lse,            # OUT (nb,)
    double* resp,           # OUT (nb, K) or NULL
    Py_ssize_t* labels,     # OUT (nb,) or NULL
    double* slot,           # OUT statistics N (K), T1 (K, D), T2 (Kt, D, D), L, sum_w;
                            # zeroed by the caller; NULL for none
    double* scratch,        # SCRATCH see _scratch_doubles
) noexcept nogil:
    # Two sweeps over the components. The first computes the log-probabilities and
    # keeps, per component and row, only -t (the conditional mean's offset, m values);
    # the second, once the responsibilities are known, rebuilds each delta from the row
    # and -t. So the scratch holds no (K, rows, D) array nor an m x m matrix per row
    # and component: it stays in cache, where those did not.
    cdef Py_ssize_t k, kp, r, j, a, c, best, m, nz
    cdef Py_ssize_t mm = mmax * mmax
    cdef double* Y = scratch                     # (B, D) delta, then y; sqrt(w r) delta
    cdef double* lp = Y + B * D                  # (B, K) log-probabilities, then resp
    cdef double* Tb = lp + B * K                 # (K, B, mmax) -t, when slot != NULL
    cdef double* Lf = Tb + (K * B * mmax if slot != NULL else 0)   # (m, m)
    cdef double* Li = Lf + mm                    # (m, m)
    cdef double* Ainv = Li + mm                  # (m, m)
    cdef double* z = Ainv + mm                   # (m,)
    cdef double* idg = z + mmax                  # (m,)
    cdef unsigned char* first = <unsigned char*> (idg + mmax)   # (B,) run starts
    cdef double* y
    cdef double* dr
    cdef double* tk
    cdef double* T2k
    cdef const double* Uk
    cdef const double* Pk
    cdef const double* mu
    cdef const double* xr
    cdef const Py_ssize_t* Mr
    cdef double q, v, s, top, wi, wr, sq
    cdef double hl = 0.0
    cdef int bD = <int> D, bnb = <int> nb, bnz
    cdef double one = 1.0

    # rows of one pattern come together (a run): its factors serve them all
    for r in range(nb):
        first[r] = r == 0 or not _same_missing(Mi, mmax, nm, r - 1, r)
    for k in range(K):
        kp = 0 if tied else k
        Uk = U + kp * D * D
        Pk = P + kp * D * D
        mu = means + k * D
        tk = Tb + k * B * mmax
        for r in range(nb):
            for j in range(D):
                Y[r * D + j] = X0[r * D + j] - mu[j]
            for a in range(nm[r]):
                Y[r * D + Mi[r * mmax + a]] = 0.0
        if D < C_BLAS_MIN_FEATURES:
            _times_upper(Y, Uk, nb, D)
        else:
            # row-major Y (nb, D) is column-major Y^T, row-major U column-major U^T
            # (lower): Y^T := U^T Y^T is Y := Y U
            dtrmm("L", "L", "N", "N", &bD, &bnb, &one, <double*> Uk, &bD, Y, &bD)
        for r in range(nb):
            y = Y + r * D
            q = _dot(y, y, D)
            m = nm[r]
            v = logc[k] + 0.5 * m * LOG_2PI - 0.5 * q
            if m > 0:
                Mr = Mi + r * mmax
                if first[r]:
                    hl = _row_factor(Pk, Mr, m, D, Lf, idg)
                # b = U[M, :] y (U upper: row M_a starts at column M_a), then z = L^-1 b
                for a in range(m):
                    s = _dot(Uk + Mr[a] * D + Mr[a], y + Mr[a], D - Mr[a])
                    for c in range(a):
                        s = s - Lf[a * m + c] * z[c]
                    z[a] = s * idg[a]
                s = 0.0
                for a in range(m):
                    s = s + z[a] * z[a]
                v = v + 0.5 * s - hl
                # t = L^-T z; the conditional mean's offset -t, kept for the statistics
                for a in range(m - 1, -1, -1):
                    s = z[a]
                    for c in range(a + 1, m):
                        s = s - Lf[c * m + a] * z[c]
                    z[a] = s * idg[a]
                    if slot != NULL:
                        tk[r * mmax + a] = -z[a]
            lp[r * K + k] = v

    for r in range(nb):
        best = 0
        top = lp[r * K]
        for k in range(1, K):
            if lp[r * K + k] > top:
                top = lp[r * K + k]
                best = k
        s = 0.0
        for k in range(K):
            lp[r * K + k] = exp(lp[r * K + k] - top)
            s = s + lp[r * K + k]
        lse[r] = log(s) + top
        for k in range(K):
            lp[r * K + k] = lp[r * K + k] / s
        if resp != NULL:
            for k in range(K):
                resp[r * K + k] = lp[r * K + k]
        if labels != NULL:
            labels[r] = best

    if slot == NULL:
        return
    cdef double* Nk = slot
    cdef double* T1 = slot + K
    cdef double* T2 = T1 + K * D
    cdef double* Lw = T2 + (1 if tied else K) * D * D
    for r in range(nb):
        wi = 1.0 if w == NULL else w[r]
        Lw[0] = Lw[0] + wi * lse[r]
        Lw[1] = Lw[1] + wi
    for k in range(K):
        kp = 0 if tied else k
        Pk = P + kp * D * D
        mu = means + k * D
        tk = Tb + k * B * mmax
        T2k = T2 + kp * D * D
        # a row whose responsibility underflowed to 0 adds nothing: it is left out of
        # the sums (most rows, for a component far from them)
        nz = 0
        for r in range(nb):
            wr = lp[r * K + k] if w == NULL else lp[r * K + k] * w[r]
            if wr == 0.0:
                continue
            Nk[k] = Nk[k] + wr
            sq = sqrt(wr)
            xr = X0 + r * D
            dr = Y + nz * D
            nz = nz + 1
            for j in range(D):
                dr[j] = xr[j] - mu[j]
            for a in range(nm[r]):
                dr[Mi[r * mmax + a]] = tk[r * mmax + a]
            for j in range(D):
                T1[k * D + j] = T1[k * D + j] + wr * dr[j]
                dr[j] = sq * dr[j]
        # column-major C (D, D) += W^T W with W^T = Y^T (D, nb): the upper triangle of
        # column-major C, which is the lower triangle (row >= column) of row-major T2k
        bnz = <int> nz
        if D < C_BLAS_MIN_FEATURES:
            _add_scatter(Y, nz, D, T2k)
        elif nz > 0 and D <= GEMM_SCATTER_MAX_D:
            # the whole square (the upper triangle is overwritten at the end): BLAS's
            # general product is faster than its symmetric one at these widths
            dgemm("N", "T", &bD, &bD, &bnz, &one, Y, &bD, Y, &bD, &one, T2k, &bD)
        elif nz > 0:
            dsyrk("U", "N", &bD, &bnz, &one, Y, &bD, &one, T2k, &bD)
        if tied:
            continue
        # the conditional covariances, once per run of rows of one pattern
        _add_runs(nb, K, k, k + 1, nm, first, lp, w, Mi, mmax, D, Pk, T2k, Lf, Li, Ainv,
                  idg)
    if tied:
        # one precision: the runs' weights summed over the components
        _add_runs(nb, K, 0, K, nm, first, lp, w, Mi, mmax, D, P, T2, Lf, Li, Ainv, idg)


cdef Py_ssize_t _scratch_doubles(Py_ssize_t B, Py_ssize_t D, Py_ssize_t m, Py_ssize_t K,
                                 bint stats):
    # the last B: the run starts, one byte a row
    return B * D + B * K + (K * B * m if stats else 0) + 3 * m * m + 2 * m + B


cdef double LOG_2PI = log(2.0 * 3.141592653589793)


def rows_pass(
    const double[:, ::1] X0,          # IN (n, D) rows, missing entries 0
    const Py_ssize_t[:, ::1] Mi,      # IN (n, mmax) missing columns: row i's first nm[i],
                                      # increasing; the rest is not read
    const Py_ssize_t[::1] nm,         # IN (n,) number of missing columns, each < D
    const double[::1] w,              # IN (n,) weights, or (0,) for none
    const double[:, ::1] means,       # IN (K, D)
    const double[:, :, ::1] U,        # IN (Kp, D, D) upper precision factors (Kp = 1: tied)
    const double[:, :, ::1] P,        # IN (Kp, D, D) precisions U U^T
    const double[::1] logc,           # IN (K,) log pi_k + sum log diag U_k - 0.5 D log 2 pi
    Py_ssize_t block,                 # rows per block (> 0)
    int n_threads,
    double[::1] out_lse,              # OUT (n,)
    double[:, ::1] out_resp,          # OUT (n, K) or (0, K)
    Py_ssize_t[::1] out_labels,       # OUT (n,) or (0,)
    double[::1] out_stats,            # OUT (K + K D + Kt D D + 2,) added into, or (0,)
):
    """Marginal log-densities, responsibilities, labels and expanded statistics of rows
    with missing features (see the module doc). ``out_stats`` (if not empty)
    receives N, T1, T2 (symmetric), sum w lse and sum w, added to what it holds."""
    cdef Py_ssize_t n = X0.shape[0], D = X0.shape[1], m = Mi.shape[1]
    cdef Py_ssize_t K = means.shape[0], Kp = U.shape[0]
    cdef bint tied = Kp == 1 and K > 1
    cdef Py_ssize_t Kt = 1 if tied else K
    cdef bint want_stats = out_stats.shape[0] > 0
    cdef bint want_resp = out_resp.shape[0] > 0
    cdef bint want_labels = out_labels.shape[0] > 0
    cdef bint weighted = w.shape[0] > 0
    cdef Py_ssize_t S = K + K * D + Kt * D * D + 2
    cdef Py_ssize_t i, a, j, c, b, bb, r0, nr, start, stop, B, n_blocks, G, nsc
    cdef int nt
    if K < 1 or D < 1:
        raise ValueError("rows_pass needs at least one component and one feature")
    if Mi.shape[0] != n or nm.shape[0] != n:
        raise ValueError(f"rows_pass: Mi has {Mi.shape[0]} rows and nm {nm.shape[0]}; "
                         f"expected {n}")
    if weighted and w.shape[0] != n:
        raise ValueError(f"rows_pass: {w.shape[0]} weights for {n} rows")
    if means.shape[1] != D:
        raise ValueError(f"rows_pass: means have {means.shape[1]} features; X0 {D}")
    if not (Kp == K or Kp == 1) or U.shape[1] != D or U.shape[2] != D:
        raise ValueError(f"rows_pass: U has shape ({U.shape[0]}, {U.shape[1]}, {U.shape[2]}); expected "
                         f"({K} or 1, {D}, {D})")
    if P.shape[0] != Kp or P.shape[1] != D or P.shape[2] != D:
        raise ValueError(f"rows_pass: P has shape ({P.shape[0]}, {P.shape[1]}, {P.shape[2]}); expected "
                         f"({Kp}, {D}, {D})")
    if logc.shape[0] != K:
        raise ValueError(f"rows_pass: logc has {logc.shape[0]} entries; expected {K}")
    if block <= 0:
        raise ValueError("rows_pass needs block > 0")
    if out_lse.shape[0] != n:
        raise ValueError(f"rows_pass: out_lse has {out_lse.shape[0]} rows; expected {n}")
    if out_resp.shape[1] != K or (want_resp and out_resp.shape[0] != n):
        raise ValueError(f"rows_pass: out_resp has shape ({out_resp.shape[0]}, {out_resp.shape[1]}); "
                         f"expected ({n}, {K}) or (0, {K})")
    if want_labels and out_labels.shape[0] != n:
        raise ValueError(f"rows_pass: out_labels has {out_labels.shape[0]} rows; "
                         f"expected {n} or 0")
    if want_stats and out_stats.shape[0] != S:
        raise ValueError(f"rows_pass: out_stats has {out_stats.shape[0]} entries; "
                         f"expected {S} or 0")
    if D >= 2**15 or block >= 2**31 // max(D, 1):
        raise ValueError("rows_pass: too many features or rows per block for BLAS")
    for i in range(n):
        if nm[i] < 0 or nm[i] > m or nm[i] >= D:
            raise ValueError(f"rows_pass: row {i} has {nm[i]} missing columns; at most "
                             f"{min(m, D - 1)}")
        for a in range(nm[i]):
            j = Mi[i, a]
            if j < 0 or j >= D or (a > 0 and j <= Mi[i, a - 1]):
                raise ValueError(
                    f"rows_pass: row {i} of Mi is not an increasing list of columns "
                    f"in [0, {D})")
    if n == 0:
        return
    n_threads = max(1, n_threads)
    B = min(block, n)
    n_blocks = (n + B - 1) // B
    G = n_blocks
    if want_stats:
        G = min(n_blocks, max(2 * n_threads, SLOT_BUDGET // S))
    nsc = _scratch_doubles(B, D, m, K, want_stats)
    cdef int[::1] status = np.zeros(n_blocks, dtype=np.intc)
    cdef double* slots = NULL
    if want_stats:
        slots = <double*> malloc(G * S * sizeof(double))
        if slots == NULL:
            raise MemoryError("rows_pass: no memory for the statistics of a round")
    cdef const double* Xp = &X0[0, 0]
    cdef const Py_ssize_t* Mp = &Mi[0, 0] if m > 0 else NULL
    cdef const Py_ssize_t* nmp = &nm[0]
    cdef const double* wp = &w[0] if weighted else NULL
    cdef const double* mp = &means[0, 0]
    cdef const double* Up = &U[0, 0, 0]
    cdef const double* Pp = &P[0, 0, 0]
    cdef const double* lcp = &logc[0]
    cdef double* lsep = &out_lse[0]
    cdef double* rp = &out_resp[0, 0] if want_resp else NULL
    cdef Py_ssize_t* labp = &out_labels[0] if want_labels else NULL
    cdef double* accp = &out_stats[0] if want_stats else NULL
    cdef double* scratch
    cdef double* slot
    try:
        for r0 in range(0, n_blocks, G):
            nr = min(G, n_blocks - r0)
            # no more threads than blocks: a thread with nothing to do still costs a
            # wake-up and a barrier, milliseconds on a loaded machine
            nt = <int> min(<Py_ssize_t> n_threads, nr)
            with nogil, parallel(num_threads=nt):
                scratch = <double*> malloc(nsc * sizeof(double))
                for bb in prange(nr, schedule='dynamic'):
                    b = r0 + bb
                    if scratch == NULL:
                        status[b] = STATUS_NO_MEMORY
                        continue
                    start = b * B
                    stop = min(start + B, n)
                    slot = NULL
                    if want_stats:
                        slot = slots + bb * S
                        memset(slot, 0, S * sizeof(double))
                    _rows_block(
                        Xp + start * D, Mp + start * m if m > 0 else NULL,
                        nmp + start, wp + start if weighted else NULL,
                        stop - start, B, D, m, K, tied, mp, Up, Pp, lcp,
                        lsep + start, rp + start * K if want_resp else NULL,
                        labp + start if want_labels else NULL, slot, scratch)
                free(scratch)
            for b in range(r0, r0 + nr):
                if status[b] != STATUS_OK:
                    raise MemoryError("rows_pass: no memory for a thread's scratch")
            if want_stats:
                # the slots in block order: the same sums whatever the threads and
                # the rounds
                with nogil:
                    for c in range(nr):
                        for j in range(S):
                            accp[j] = accp[j] + slots[c * S + j]
    finally:
        free(slots)
    if want_stats:
        for c in range(Kt):
            for i in range(D):
                for j in range(i + 1, D):
                    out_stats[K + K * D + c * D * D + i * D + j] = \
                        out_stats[K + K * D + c * D * D + j * D + i]
