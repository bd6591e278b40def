# The row pass through moment rows ('full' only; included by _missing_rows.pyx).
#
# The complete-data kernels take 'full' mixtures whose components lie near the mixture
# mean c through moment rows (gmmfast/_kernels/route_full_moments.pxi): with z = x - c,
# F = [z_a z_b (a >= b), z_a, 1] and the weights W_k of _kernels.moment_weights,
# F . W_k = log pi_k + sum_j log U_k,jj - 0.5 D log 2 pi - 0.5 (z - m_k)^T P_k (z - m_k),
# m_k = mu_k - c, and the statistics about c are sum_r r_rk F_r: two GEMMs for all
# components. Here the same, for rows with missing columns M:
#
#   - z has 0 at M (the missing entries stand at c). F . W_k then holds the form of
#     d = z - m_k, whose entries at M are -m_kM. The marginal form needs delta, d with
#     0 at M: with b = (P_k delta)_M = P_k[M, :] z - (P_k m_k)_M + P_k[M, M] m_kM,
#
#         delta^T P delta = d^T P d + 2 m_kM . b - m_kM^T P_k[M, M] m_kM,
#
#     m D + m^2 multiply-adds a row and component, vectorised over the components
#     (precisions component last), against the GEMM's D (D + 1) / 2. b is what the
#     other route computes too; from it the factors, -t and the log-density are the
#     same code (_lanes_factor, _lanes_solve).
#   - The filled row z^ (the conditional mean at M) is z + s_k with s_k = m_kM - t at
#     M and 0 elsewhere, so its moment row is F plus entries that are 0 in F: s_a z_b
#     and s_a s_b for a in M, and s_a. The statistics are the GEMM's sum_r w r F_r
#     plus, per row, component and missing column a, w r s_a (z + s / 2) added to row
#     a of a (D, D, K) array C; the block's second moments are then the GEMM's
#     triangle + C + C^T (the halves of s s^T make one), and the conditional
#     covariances P_k[M, M]^-1 (their diagonal halved, for the same reason) once per
#     run of one pattern.
#
# The expansion about c costs precision as on the complete data's route: the caller
# takes this route only while every component lies within its spread bound of c, and
# while the filled form's extra terms (m_kM^T P_k[M, M] m_kM, at most the fill bound
# of _missing_rowpath) stay as small. The statistics leave about the means, as the
# other route gives them (T1 = S1 - N m, T2 = S2 - T1 m^T - m T1^T - N m m^T).


cdef enum:
    # components a chunk of _run_b and _run_moments holds in registers
    KC = 16
    # rows of a piece of a run in _run_moments
    RUN_ROWS = 64
    # from this many rows a run's products over the features go through BLAS (its
    # calls cost more than the arithmetic of fewer rows)
    RUN_GEMM_ROWS = 8


cdef void _run_b(const double* Pt, const double* Mt, const double* PMt,
                 const Py_ssize_t* Mr, Py_ssize_t m, const double* Z, Py_ssize_t r0,
                 Py_ssize_t r1, Py_ssize_t D, Py_ssize_t K, const Py_ssize_t* moff,
                 double* Tb, double* base, double* qc) noexcept nogil:
    """b = P[M, :] z - (P m)_M + P[M, M] m_M (component last, into Tb) for the rows
    r0..r1-1 of a run of one pattern M, and the run's qc = 0.5 m_M^T P[M, M] m_M. The
    terms that do not depend on the row once per run; the sums over z KC components
    at a time, in registers (one at a time, each would be stored and reloaded)."""
    cdef Py_ssize_t a, a2, i, j, k, kc, kk, r
    cdef const double* Pi
    cdef const double* Prow
    cdef const double* z
    cdef double* bt
    cdef double s
    cdef double s8[KC]
    cdef int bK, bD, bn, ldc
    cdef double one = 1.0
    for k in range(K):
        qc[k] = 0.0
    for a in range(m):
        i = Mr[a]
        for k in range(K):
            base[k] = 0.0
        for a2 in range(m):
            Prow = Pt + (i * D + Mr[a2]) * K
            for k in range(K):
                base[k] = base[k] + Prow[k] * Mt[Mr[a2] * K + k]
        for k in range(K):
            qc[k] = qc[k] + 0.5 * Mt[i * K + k] * base[k]
            base[k] = base[k] - PMt[i * K + k]
        Pi = Pt + i * D * K
        if r1 - r0 >= RUN_GEMM_ROWS:
            # the run's b_a, (rows, K) at a stride of m K in Tb, = base + Z P[i, :]:
            # column-major, (K, rows) = P[i, :]^T (K, D) Z^T (D, rows)
            for r in range(r0, r1):
                bt = Tb + (moff[r] + a) * K
                for k in range(K):
                    bt[k] = base[k]
            bK = <int> K
            bD = <int> D
            bn = <int> (r1 - r0)
            ldc = <int> (m * K)
            dgemm("N", "N", &bK, &bn, &bD, &one, <double*> Pi, &bK, <double*> (Z + r0 * D),
                  &bD, &one, Tb + (moff[r0] + a) * K, &ldc)
            continue
        for r in range(r0, r1):
            z = Z + r * D
            bt = Tb + (moff[r] + a) * K
            kc = 0
            while kc + KC <= K:
                for kk in range(KC):
                    s8[kk] = base[kc + kk]
                for j in range(D):
                    for kk in range(KC):
                        s8[kk] = s8[kk] + Pi[j * K + kc + kk] * z[j]
                for kk in range(KC):
                    bt[kc + kk] = s8[kk]
                kc = kc + KC
            for k in range(kc, K):
                s = base[k]
                for j in range(D):
                    s = s + Pi[j * K + k] * z[j]
                bt[k] = s


cdef void _run_moments(const double* Mt, const double* Tt, Py_ssize_t smax,
                       const Py_ssize_t* moff, const double* wr, const double* Z,
                       const Py_ssize_t* Mr, Py_ssize_t m, Py_ssize_t r0, Py_ssize_t r1,
                       Py_ssize_t D, Py_ssize_t K, double* acc, double* Cd,
                       double* G, double* Sr, double* s1) noexcept nogil:
    """The filled rows' extra statistics for rows r0..r1-1 (at most RUN_ROWS) of a run
    of one pattern M: with Sr the rows' s (rows, m, K) and, per missing column i =
    M_a, G = w r s_a (rows, K): S1_i += sum_r G and row i of C += sum_r G (z + s / 2).
    Every loop runs over the components innermost, the sums over the rows in
    registers (_acc_rows), and C is written once per piece."""
    cdef Py_ssize_t Q1 = D * (D + 1) // 2 + D + 1, tri = D * (D + 1) // 2
    cdef Py_ssize_t n = r1 - r0, a, a2, i, j, k, t
    cdef const double* Sa
    cdef int bK = <int> K, bD = <int> D, bn = <int> n
    cdef double one = 1.0
    for t in range(n):
        for a in range(m):
            for k in range(K):
                Sr[(t * m + a) * K + k] = Mt[Mr[a] * K + k] + Tt[k * smax + moff[r0 + t] + a]
    for a in range(m):
        i = Mr[a]
        for k in range(K):
            s1[k] = 0.0
        for t in range(n):
            Sa = Sr + (t * m + a) * K
            for k in range(K):
                G[t * K + k] = wr[(r0 + t) * K + k] * Sa[k]
                s1[k] = s1[k] + G[t * K + k]
        for k in range(K):
            acc[k * Q1 + tri + i] = acc[k * Q1 + tri + i] + s1[k]
        # z is 0 at M: the observed columns from z (the missing ones add 0), then the
        # missing ones from s / 2
        if n >= RUN_GEMM_ROWS:
            # column-major, row i of C (K, D) += G^T (K, rows) Z (rows, D)
            dgemm("N", "T", &bK, &bD, &bn, &one, G, &bK, <double*> (Z + r0 * D), &bD,
                  &one, Cd + i * D * K, &bK)
        else:
            for j in range(D):
                _acc_rows(G, K, Z + r0 * D + j, D, n, 1.0, Cd + (i * D + j) * K)
        for a2 in range(m):
            _acc_rows_v(G, Sr + a2 * K, m * K, n, K, 0.5, Cd + (i * D + Mr[a2]) * K)


cdef inline void _acc_rows(const double* G, Py_ssize_t K, const double* v,
                           Py_ssize_t vs, Py_ssize_t n, double h,
                           double* out) noexcept nogil:
    """out_k += h sum_t G[t, k] v[t vs], KC components at a time in registers."""
    cdef Py_ssize_t kc = 0, kk, t, k
    cdef double s8[KC]
    cdef double s
    while kc + KC <= K:
        for kk in range(KC):
            s8[kk] = 0.0
        for t in range(n):
            for kk in range(KC):
                s8[kk] = s8[kk] + G[t * K + kc + kk] * v[t * vs]
        for kk in range(KC):
            out[kc + kk] = out[kc + kk] + h * s8[kk]
        kc = kc + KC
    for k in range(kc, K):
        s = 0.0
        for t in range(n):
            s = s + G[t * K + k] * v[t * vs]
        out[k] = out[k] + h * s


cdef inline void _acc_rows_v(const double* G, const double* V, Py_ssize_t vs,
                             Py_ssize_t n, Py_ssize_t K, double h,
                             double* out) noexcept nogil:
    """out_k += h sum_t G[t, k] V[t vs + k], KC components at a time in registers."""
    cdef Py_ssize_t kc = 0, kk, t, k
    cdef double s8[KC]
    cdef double s
    while kc + KC <= K:
        for kk in range(KC):
            s8[kk] = 0.0
        for t in range(n):
            for kk in range(KC):
                s8[kk] = s8[kk] + G[t * K + kc + kk] * V[t * vs + kc + kk]
        for kk in range(KC):
            out[kc + kk] = out[kc + kk] + h * s8[kk]
        kc = kc + KC
    for k in range(kc, K):
        s = 0.0
        for t in range(n):
            s = s + G[t * K + k] * V[t * vs + k]
        out[k] = out[k] + h * s


cdef void _moment_row(const double* z, Py_ssize_t D, double* f) noexcept nogil:
    """f = [z_a z_b (a = 0..D-1, b = 0..a), z, 1] (np.tril_indices order)."""
    cdef Py_ssize_t a, b, col = 0
    cdef double za
    for a in range(D):
        za = z[a]
        for b in range(a + 1):
            f[col + b] = za * z[b]
        col = col + a + 1
    for a in range(D):
        f[col + a] = z[a]
    f[col + D] = 1.0


cdef Py_ssize_t _moments_slot_doubles(Py_ssize_t K, Py_ssize_t D) noexcept nogil:
    """A block's statistics on this route: the GEMM's rows (K, Q+1), C (D, D, K), and
    sum w lse, sum w."""
    return K * (D * (D + 1) // 2 + D + 1) + D * D * K + 2


cdef Py_ssize_t _moments_scratch_doubles(Py_ssize_t B, Py_ssize_t D, Py_ssize_t m,
                                         Py_ssize_t K, Py_ssize_t fmax, Py_ssize_t smax,
                                         bint stats) noexcept nogil:
    # as _rows_block_moments lays it out; the last 3 B hold the run offsets and starts
    return (B * D + B * (D * (D + 1) // 2 + D + 1) + B * K + 2 * smax * K
            + 2 * m * m * K + 2 * m * K + (5 + RUN_ROWS + RUN_ROWS * m) * K
            + (K * fmax if stats else 0)
            + 3 * B)


cdef void _rows_block_moments(
    const double* X0,       # IN (nb, D) rows, missing entries 0
    const Py_ssize_t* Mi,   # IN (nb, mmax)
    const Py_ssize_t* nm,   # IN (nb,)
    const double* w,        # IN (nb,) or NULL
    Py_ssize_t nb, Py_ssize_t B, Py_ssize_t D, Py_ssize_t mmax, Py_ssize_t K,
    Py_ssize_t fmax, Py_ssize_t smax,
    const double* c,        # IN (D,) the shift
    const double* W,        # IN (K, Q+1) the moment rows' weights
    const double* Mt,       # IN (D, K) m_k = mu_k - c, component last
    const double* PMt,      # IN (D, K) P_k m_k, component last
    const double* Pt,       # IN (D, D, K) precisions, component last
    double* lse, double* resp, Py_ssize_t* labels,
    double* slot,           # OUT _moments_slot_doubles, zeroed by the caller; or NULL
    double* scratch,
) noexcept nogil:
    cdef Py_ssize_t Q1 = D * (D + 1) // 2 + D + 1, tri = D * (D + 1) // 2
    cdef Py_ssize_t mm = mmax * mmax, k, r, r2, r3, j, a, a2, i, m, best
    cdef double* Z = scratch                     # (B, D) z, 0 at the missing columns
    cdef double* F = Z + B * D                   # (B, Q+1) moment rows
    cdef double* lp = F + B * Q1                 # (B, K) log-densities, then w r
    cdef double* Tb = lp + B * K                 # (smax, K) b, component last
    cdef double* Tt = Tb + smax * K              # (K, smax) -t, component first
    cdef double* Lf = Tt + smax * K              # (m, m, K)
    cdef double* Li = Lf + mm * K                # (m, m, K)
    cdef double* idg = Li + mm * K               # (m, K)
    cdef double* Zs = idg + mmax * K             # (m, K)
    cdef double* qc = Zs + mmax * K              # (K,) a run's 0.5 m_M^T P[M, M] m_M
    cdef double* sv = qc + K                     # (RUN_ROWS, K) a piece of a run's w r s
    cdef double* Sr = sv + RUN_ROWS * K          # (RUN_ROWS, m, K) its s
    cdef double* hl = Sr + RUN_ROWS * mmax * K   # (K,)
    cdef double* prod = hl + K                   # (K,)
    cdef double* S = prod + K                    # (K,)
    cdef double* g = S + K                       # (K,)
    cdef double* Ast = g + K                     # (K, ftot) when slot != NULL
    cdef Py_ssize_t* off = <Py_ssize_t*> (Ast + (K * fmax if slot != NULL else 0))
    cdef Py_ssize_t* moff = off + B
    cdef unsigned char* first = <unsigned char*> (moff + B)
    cdef const Py_ssize_t* Mr
    cdef const double* Prow
    cdef double* bt
    cdef double* Cd
    cdef double* Ck
    cdef double zj, s, top, wi, h
    cdef int bK = <int> K, bnb = <int> nb, bQ1 = <int> Q1
    cdef double one = 1.0, zero = 0.0

    cdef Py_ssize_t ftot = 0, mtot = 0
    for r in range(nb):
        moff[r] = mtot
        mtot = mtot + nm[r]
        first[r] = r == 0 or not _same_missing(Mi, mmax, nm, r - 1, r)
        if first[r]:
            off[r] = ftot
            ftot = ftot + nm[r] * (nm[r] + 1) // 2
    for r in range(nb):
        for j in range(D):
            Z[r * D + j] = X0[r * D + j] - c[j]
        for a in range(nm[r]):
            Z[r * D + Mi[r * mmax + a]] = 0.0
        _moment_row(Z + r * D, D, F + r * Q1)
    # row-major lp (nb, K) is column-major lp^T (K, nb) = W F^T
    dgemm("T", "N", &bK, &bnb, &bQ1, &one, <double*> W, &bQ1, F, &bQ1, &zero, lp, &bK)

    r = 0
    while r < nb:
        # a run of rows r..r2-1 of one pattern: b for all of it, then each row's
        # factors (once per run), log-density and -t
        r2 = r + 1
        while r2 < nb and not first[r2]:
            r2 = r2 + 1
        m = nm[r]
        Mr = Mi + r * mmax
        if m > 0:
            _run_b(Pt, Mt, PMt, Mr, m, Z, r, r2, D, K, moff, Tb, g, qc)
            _lanes_factor(Pt, Mr, m, D, K, Lf, idg, hl, prod, S)
            if slot != NULL:
                _lanes_inverse(Lf, idg, m, K, Li, S, Ast + off[r], ftot)
        for r3 in range(r, r2 if m > 0 else r):
            # the form of delta from that of d: + 2 m_M . b - m_M^T P[M, M] m_M,
            # that is lp - m_M . b + 0.5 m_M^T P[M, M] m_M; and the observed
            # block's 2 pi
            for k in range(K):
                S[k] = qc[k] + 0.5 * m * LOG_2PI
            for a in range(m):
                bt = Tb + (moff[r3] + a) * K
                for k in range(K):
                    S[k] = S[k] - Mt[Mr[a] * K + k] * bt[k]
            for k in range(K):
                lp[r3 * K + k] = lp[r3 * K + k] + S[k]
            _lanes_solve(Lf, idg, hl, m, K, Tb + moff[r3] * K, Tt + moff[r3], smax,
                         lp + r3 * K, Zs, S)
        r = r2

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
    cdef double* acc = slot                      # (K, Q+1)
    Cd = slot + K * Q1                           # (D, D, K)
    cdef double* Lw = Cd + D * D * K
    for r in range(nb):
        wi = 1.0 if w == NULL else w[r]
        Lw[0] = Lw[0] + wi * lse[r]
        Lw[1] = Lw[1] + wi
        if w != NULL:
            for k in range(K):
                lp[r * K + k] = lp[r * K + k] * wi
    # column-major acc^T (Q+1, K) += F^T (w r): F^T column-major (Q+1, nb), w r
    # row-major (nb, K) column-major (K, nb)
    dgemm("N", "T", &bQ1, &bK, &bnb, &one, F, &bQ1, lp, &bK, &one, acc, &bQ1)
    r = 0
    while r < nb:
        r2 = r + 1
        while r2 < nb and not first[r2]:
            r2 = r2 + 1
        if nm[r] > 0:
            # in pieces of RUN_ROWS rows, so that their w r s stay in the L1 cache
            r3 = r
            while r3 < r2:
                _run_moments(Mt, Tt, smax, moff, lp, Z, Mi + r * mmax, nm[r], r3,
                             min(r3 + RUN_ROWS, r2), D, K, acc, Cd, sv, Sr, g)
                r3 = r3 + RUN_ROWS
        r = r2
    _add_runs_moments(nb, K, nm, first, lp, Mi, mmax, D, Ast, ftot, off, Cd, S)


cdef void _add_runs_moments(Py_ssize_t nb, Py_ssize_t K, const Py_ssize_t* nm,
                            const unsigned char* first, const double* wr,
                            const Py_ssize_t* Mi, Py_ssize_t mmax, Py_ssize_t D,
                            const double* Ast, Py_ssize_t ftot, const Py_ssize_t* off,
                            double* Cd, double* S) noexcept nogil:
    """C[M, M] += (the run's sum of w r) P_k[M, M]^-1 once per run of rows of one
    pattern, the lower triangle with its diagonal halved (C + C^T is the total)."""
    cdef Py_ssize_t r = 0, r2, k, m, a, b, at
    cdef const Py_ssize_t* Mr
    cdef double h
    cdef double* Ck
    while r < nb:
        m = nm[r]
        for k in range(K):
            S[k] = 0.0
        r2 = r
        while r2 < nb and (r2 == r or not first[r2]):
            for k in range(K):
                S[k] = S[k] + wr[r2 * K + k]
            r2 = r2 + 1
        if m > 0:
            Mr = Mi + r * mmax
            at = 0
            for a in range(m):
                for b in range(a + 1):
                    h = 0.5 if a == b else 1.0
                    Ck = Cd + (Mr[a] * D + Mr[b]) * K
                    for k in range(K):
                        Ck[k] = Ck[k] + h * S[k] * Ast[k * ftot + off[r] + at]
                    at = at + 1
        r = r2


cdef void _moments_finish(const double* acc, Py_ssize_t K, Py_ssize_t D,
                          const double* Mt, double* out) noexcept nogil:
    """out (N, T1 (K, D), T2 (K, D, D) lower triangle, L, sum w) += the statistics
    about the means from acc (_moments_slot_doubles, summed over the blocks)."""
    cdef Py_ssize_t Q1 = D * (D + 1) // 2 + D + 1, tri = D * (D + 1) // 2
    cdef Py_ssize_t k, a, b
    cdef const double* Cd = acc + K * Q1
    cdef double N, t1a, s2
    cdef double* T1 = out + K
    cdef double* T2 = T1 + K * D
    for k in range(K):
        N = acc[k * Q1 + tri + D]
        out[k] = out[k] + N
        for a in range(D):
            T1[k * D + a] = T1[k * D + a] + (acc[k * Q1 + tri + a] - N * Mt[a * K + k])
        for a in range(D):
            t1a = acc[k * Q1 + tri + a] - N * Mt[a * K + k]
            for b in range(a + 1):
                s2 = (acc[k * Q1 + a * (a + 1) // 2 + b] + Cd[(a * D + b) * K + k]
                      + Cd[(b * D + a) * K + k])
                T2[(k * D + a) * D + b] = T2[(k * D + a) * D + b] + (
                    s2 - t1a * Mt[b * K + k]
                    - Mt[a * K + k] * (acc[k * Q1 + tri + b] - N * Mt[b * K + k])
                    - N * Mt[a * K + k] * Mt[b * K + k])
    out[K + K * D + K * D * D] = out[K + K * D + K * D * D] + acc[K * Q1 + D * D * K]
    out[K + K * D + K * D * D + 1] = out[K + K * D + K * D * D + 1] + acc[K * Q1 + D * D * K + 1]
