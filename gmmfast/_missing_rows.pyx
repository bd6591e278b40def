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
the parallel region: y for the whole block by one triangular BLAS product per
component (dtrmm), the m x m factorisations per row in plain loops, then its
statistics into a slot of its own (the scatter by dsyrk, the rest in row order).
Blocks run in rounds of at most a slot budget; after each round the slots are added
into the total element by element, in block order. So every sum is taken in the same
order whatever the number of threads, and the results are bit-identical on any
thread count. BLAS must be held to one thread by the caller (a BLAS call that splits
its work may sum in another order).

Nothing here raises inside nogil code: allocation failure is reported per block and
raised as MemoryError afterwards. Non-finite inputs cannot make it read or write out
of bounds (only the indices in Mi can, and they are checked); they give NaN.
"""

from cython.parallel cimport parallel, prange
from libc.math cimport sqrt, log, exp
from libc.stdlib cimport malloc, free
from libc.string cimport memset, memcpy

from scipy.linalg.cython_blas cimport dtrmm, dsyrk

import numpy as np

cdef enum:
    STATUS_OK = 0
    STATUS_NO_MEMORY = 1

#: doubles of the statistics slots of one round (32 MiB): bounds the memory of the
#: rounds whatever the number of rows
cdef Py_ssize_t SLOT_BUDGET = 1 << 22


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
    cdef Py_ssize_t k, kp, r, j, a, c, best, m
    cdef Py_ssize_t mm = mmax * mmax
    cdef Py_ssize_t Kt = 1 if tied else K
    cdef double* Dbuf = scratch                  # (K, B, D) deltas, then -t at M
    cdef double* Y = Dbuf + K * B * D            # (B, D) y, then sqrt(w r) delta
    cdef double* lp = Y + B * D                  # (B, K) log-probabilities, then resp
    cdef double* Lf = lp + B * K                 # (m, m)
    cdef double* Li = Lf + mm                    # (m, m)
    cdef double* z = Li + mm                     # (m,)
    cdef double* idg = z + mmax                  # (m,)
    cdef double* Ainv = idg + mmax               # (Kp, B, mmax^2) when slot != NULL
    cdef double* Dk
    cdef double* y
    cdef double* T2k
    cdef double* Ar
    cdef const double* Uk
    cdef const double* Pk
    cdef const double* mu
    cdef const Py_ssize_t* Mr
    cdef double q, v, s, top, wi, wr, sq
    cdef double hl = 0.0
    cdef bint same
    cdef int bD = <int> D, bnb = <int> nb
    cdef double one = 1.0

    for k in range(K):
        kp = 0 if tied else k
        Uk = U + kp * D * D
        Pk = P + kp * D * D
        mu = means + k * D
        Dk = Dbuf + k * B * D
        for r in range(nb):
            for j in range(D):
                Dk[r * D + j] = X0[r * D + j] - mu[j]
            for a in range(nm[r]):
                Dk[r * D + Mi[r * mmax + a]] = 0.0
        memcpy(Y, Dk, nb * D * sizeof(double))
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
                # rows of one pattern come together: its factor serves them all
                same = r > 0 and nm[r - 1] == m
                a = 0
                while same and a < m:
                    same = Mr[a - mmax] == Mr[a]
                    a = a + 1
                if not same:
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
                # t = L^-T z; the conditional mean's offset -t fills delta at M
                for a in range(m - 1, -1, -1):
                    s = z[a]
                    for c in range(a + 1, m):
                        s = s - Lf[c * m + a] * z[c]
                    z[a] = s * idg[a]
                    Dk[r * D + Mr[a]] = -z[a]
                if slot != NULL and (not tied or k == 0):
                    if same:
                        memcpy(Ainv + (kp * B + r) * mm, Ainv + (kp * B + r - 1) * mm,
                               mm * sizeof(double))
                    else:
                        _factor_inverse(Lf, idg, m, Li, Ainv + (kp * B + r) * mm)
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
    cdef double* Lw = T2 + Kt * D * D
    for r in range(nb):
        wi = 1.0 if w == NULL else w[r]
        Lw[0] = Lw[0] + wi * lse[r]
        Lw[1] = Lw[1] + wi
    for k in range(K):
        kp = 0 if tied else k
        Dk = Dbuf + k * B * D
        T2k = T2 + (0 if tied else k) * D * D
        for r in range(nb):
            wr = lp[r * K + k] if w == NULL else lp[r * K + k] * w[r]
            Nk[k] = Nk[k] + wr
            sq = sqrt(wr)
            for j in range(D):
                T1[k * D + j] = T1[k * D + j] + wr * Dk[r * D + j]
                Y[r * D + j] = sq * Dk[r * D + j]
            m = nm[r]
            if m > 0:
                Mr = Mi + r * mmax
                Ar = Ainv + (kp * B + r) * mm
                for a in range(m):
                    for c in range(m):
                        T2k[Mr[a] * D + Mr[c]] = T2k[Mr[a] * D + Mr[c]] + wr * Ar[a * m + c]
        # column-major C (D, D) += W^T W with W^T = Y^T (D, nb): the upper triangle of
        # column-major C, which is the lower triangle (row >= column) of row-major T2k
        dsyrk("U", "N", &bD, &bnb, &one, Y, &bD, &one, T2k, &bD)


cdef Py_ssize_t _scratch_doubles(Py_ssize_t B, Py_ssize_t D, Py_ssize_t m, Py_ssize_t K,
                                 Py_ssize_t Kp, bint stats):
    return K * B * D + B * D + B * K + 2 * m * m + 2 * m + (Kp * B * m * m if stats else 0)


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
    nsc = _scratch_doubles(B, D, m, K, 1 if tied else K, want_stats)
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
