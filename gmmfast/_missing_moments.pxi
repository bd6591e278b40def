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
#     m D + m^2 multiply-adds a row and component against the GEMM's D (D + 1) / 2:
#     P_k[i, :] z for every row of a block that misses column i in one GEMM (rows
#     gathered by column, whatever their patterns; precisions component last), the
#     rest per run of one pattern. b is what the other route computes too; from it
#     the factors, -t and the log-density are the same code (gmm_lanes_factor,
#     gmm_lanes_solve).
#   - The filled row z^ (the conditional mean at M) is z + s_k with s_k = m_kM - t at
#     M and 0 elsewhere, so its moment row is F plus entries that are 0 in F: s_a z_b
#     and s_a s_b for a in M, and s_a. The statistics are the GEMM's sum_r w r F_r
#     plus, per row, component and missing column a, w r s_a (z + s / 2) added to row
#     a of a (D, D, K) array C (the z part again one GEMM per column over the rows
#     gathered for b, the s part per row); the block's second moments are then the
#     GEMM's triangle + C + C^T (the halves of s s^T make one), and the conditional
#     covariances P_k[M, M]^-1 (their diagonal halved, for the same reason) once per
#     run of one pattern.
#
# The expansion about c costs precision as on the complete data's route: the caller
# takes this route only while every component lies within its spread bound of c, and
# while the filled form's extra terms (m_kM^T P_k[M, M] m_kM, at most the fill bound
# of _missing.py) stay as small. The statistics leave about the means, as the
# other route gives them (T1 = S1 - N m, T2 = S2 - T1 m^T - m T1^T - N m m^T).


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
    # as _rows_block_moments lays it out; then the index arrays (3 B + K + 2 D + 1 +
    # 2 smax)
    return (B * D + B * (D * (D + 1) // 2 + D + 1) + B * K + 4 * smax * K + smax * D
            + 4 * m * m * K + 4 * m * K + 4 * K + B * (K + 2) + (K * fmax if stats else 0)
            + 3 * B + K + 2 * D + 1 + 2 * smax)


cdef void _by_column(const Py_ssize_t* Mi, Py_ssize_t mmax, const Py_ssize_t* nm,
                     const Py_ssize_t* moff, Py_ssize_t nb, Py_ssize_t D,
                     Py_ssize_t* cst, Py_ssize_t* cur, Py_ssize_t* ent,
                     Py_ssize_t* erow) noexcept nogil:
    """The block's missing entries (entry e = moff[r] + a: row r's a-th missing
    column) grouped by column: column i's are ent[cst[i]:cst[i + 1]], in row order;
    erow[e] = r."""
    cdef Py_ssize_t r, a, i, e
    for i in range(D + 1):
        cst[i] = 0
    for r in range(nb):
        for a in range(nm[r]):
            cst[Mi[r * mmax + a] + 1] = cst[Mi[r * mmax + a] + 1] + 1
            erow[moff[r] + a] = r
    for i in range(D):
        cst[i + 1] = cst[i + 1] + cst[i]
        cur[i] = cst[i]
    for r in range(nb):
        for a in range(nm[r]):
            i = Mi[r * mmax + a]
            ent[cur[i]] = moff[r] + a
            cur[i] = cur[i] + 1


cdef void _columns_pz(const double* Z, Py_ssize_t D, Py_ssize_t K, const double* Pt,
                      const Py_ssize_t* cst, const Py_ssize_t* ent,
                      const Py_ssize_t* erow, double* Zc, double* Gc,
                      double* Tb, bint keep) noexcept nogil:
    """Tb[e, :] = P_k[i, :] z_r for every missing entry e (row r's, column i; _by_column's
    cst, ent, erow) and component k: per column, one GEMM over the rows missing it,
    gathered into Zc (their z, (n_i, D)), whatever their patterns; Gc (n_i, K) its
    product. Pt (D, D, K) the precisions component last. keep: every column's rows
    and products stay in Zc and Gc (at cst[i] D and cst[i] K), for the caller;
    otherwise each column's take their start (a column's few rows stay in cache,
    where the whole block's, a row per missing entry, did not)."""
    cdef Py_ssize_t i, t, r, j, e, k, n_i, c0
    cdef int bK = <int> K, bD = <int> D, bn
    cdef double one = 1.0, zero = 0.0
    # (n_i, K) = Zc (n_i, D) P[i, :] (D, K), column-major (K, n_i) = P[i, :]^T (K, D)
    # Zc^T (D, n_i)
    for i in range(D):
        n_i = cst[i + 1] - cst[i]
        if n_i == 0:
            continue
        c0 = cst[i] if keep else 0
        for t in range(cst[i], cst[i + 1]):
            r = erow[ent[t]]
            for j in range(D):
                Zc[(t - cst[i] + c0) * D + j] = Z[r * D + j]
        bn = <int> n_i
        dgemm("N", "N", &bK, &bn, &bD, &one, <double*> (Pt + i * D * K), &bK,
              Zc + c0 * D, &bD, &zero, Gc + c0 * K, &bK)
        for t in range(cst[i], cst[i + 1]):
            e = ent[t]
            for k in range(K):
                Tb[e * K + k] = Gc[(t - cst[i] + c0) * K + k]


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
    # The products over the features that involve a missing column i, b's P[i, :] z
    # and the statistics' s_i z, are taken for all the block's rows missing i at once:
    # a GEMM per column over those rows, gathered (whatever their patterns). The
    # terms of the m x m blocks stay per run of one pattern, or per row.
    cdef Py_ssize_t Q1 = D * (D + 1) // 2 + D + 1, tri = D * (D + 1) // 2
    cdef Py_ssize_t mm = mmax * mmax, k, r, r2, r3, j, a, i, m, e, t, n_i
    cdef double* Z = scratch                     # (B, D) z, 0 at the missing columns
    cdef double* F = Z + B * D                   # (B, Q+1) moment rows
    cdef double* lp = F + B * Q1                 # (B, K) log-densities, then w r
    # per missing entry e (row r's a-th missing column at e = moff[r] + a)
    cdef double* Tb = lp + B * K                 # (smax, K) b
    cdef double* Tt = Tb + smax * K              # (K, smax) -t, component first
    cdef double* Sv = Tt + smax * K              # (smax, K) s = m_M - t
    cdef double* Gc = Sv + smax * K              # (smax, K) by column: P[i, :] z, w r s
    cdef double* Zc = Gc + smax * K              # (smax, D) by column: the rows' z
    cdef double* Lf = Zc + smax * D              # (m, m, K)
    cdef double* Li = Lf + mm * K                # (m, m, K)
    cdef double* idg = Li + mm * K               # (m, K)
    cdef double* Zs = idg + mmax * K             # (m, K)
    cdef double* base = Zs + mmax * K            # (m, K) a run's row-free part of b
    cdef double* qc = base + mmax * K            # (K,) a run's 0.5 m_M^T P[M, M] m_M
    cdef double* hl = qc + K                     # (K,)
    cdef double* S = hl + K                      # (K,)
    cdef double* g = S + K                       # (K,)
    cdef double* Lc = g + K                      # (m, m, K) _run_inverses' lanes
    cdef double* idgc = Lc + mm * K              # (m, K)
    cdef double* Ac = idgc + mmax * K            # (m (m + 1) / 2, K)
    cdef double* Nw = Ac + mm * K                # (B (K + 2),) the normalisation's
    cdef double* Ast = Nw + B * (K + 2)          # (ftot, K) when slot != NULL
    cdef Py_ssize_t* off = <Py_ssize_t*> (Ast + (K * fmax if slot != NULL else 0))
    cdef Py_ssize_t* moff = off + B              # (B,)
    cdef Py_ssize_t* kx = moff + B               # (K,) _run_inverses' components
    cdef Py_ssize_t* cst = kx + K                # (D + 1,) column starts in ent
    cdef Py_ssize_t* cur = cst + D + 1           # (D,)
    cdef Py_ssize_t* ent = cur + D               # (smax,) entries by column
    cdef Py_ssize_t* erow = ent + smax           # (smax,) each entry's row
    cdef unsigned char* first = <unsigned char*> (erow + smax)   # (B,) run starts
    cdef const Py_ssize_t* Mr
    cdef double* bt
    cdef double* Cd
    cdef double wi
    cdef int bK = <int> K, bnb = <int> nb, bQ1 = <int> Q1, bD = <int> D, bn
    cdef double one = 1.0, zero = 0.0

    cdef Py_ssize_t ftot = _run_layout(Mi, mmax, nm, nb, moff, first, off)
    _by_column(Mi, mmax, nm, moff, nb, D, cst, cur, ent, erow)
    for r in range(nb):
        for j in range(D):
            Z[r * D + j] = X0[r * D + j] - c[j]
        for a in range(nm[r]):
            Z[r * D + Mi[r * mmax + a]] = 0.0
        _moment_row(Z + r * D, D, F + r * Q1)
    # row-major lp (nb, K) is column-major lp^T (K, nb) = W F^T
    dgemm("T", "N", &bK, &bnb, &bQ1, &one, <double*> W, &bQ1, F, &bQ1, &zero, lp, &bK)
    _columns_pz(Z, D, K, Pt, cst, ent, erow, Zc, Gc, Tb, True)

    r = 0
    while r < nb:
        # a run of rows r..r2-1 of one pattern: b's row-free part and the factors
        # once, then each row's log-density and -t
        r2 = r + 1
        while r2 < nb and not first[r2]:
            r2 = r2 + 1
        m = nm[r]
        Mr = Mi + r * mmax
        if m > 0:
            gmm_lanes_base(Pt, Mt, PMt, Mr, m, D, K, base, qc)
            gmm_lanes_factor(Pt, Mr, m, D, K, Lf, idg, hl)
        for r3 in range(r, r2 if m > 0 else r):
            # b = P[M, :] z + base; the form of delta from that of d: + 2 m_M . b -
            # m_M^T P[M, M] m_M, that is lp - m_M . b + 0.5 m_M^T P[M, M] m_M; and the
            # observed block's 2 pi
            for k in range(K):
                S[k] = qc[k] + 0.5 * m * LOG_2PI
            for a in range(m):
                bt = Tb + (moff[r3] + a) * K
                for k in range(K):
                    bt[k] = bt[k] + base[a * K + k]
                    S[k] = S[k] - Mt[Mr[a] * K + k] * bt[k]
            for k in range(K):
                lp[r3 * K + k] = lp[r3 * K + k] + S[k]
            gmm_lanes_solve(Lf, idg, hl, m, K, Tb + moff[r3] * K, Tt + moff[r3], smax,
                            lp + r3 * K, Zs)
        if m > 0 and slot != NULL:
            _run_inverses(Lf, idg, m, K, False, lp + r * K, r2 - r, Lc, idgc, Li, S,
                          Ac, kx, Ast, off[r])
        r = r2

    _normalize_rows(lp, nb, K, lse, resp, labels, Nw)

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
    # s = m_M - t per missing entry, component last
    for r in range(nb):
        Mr = Mi + r * mmax
        for a in range(nm[r]):
            e = moff[r] + a
            for k in range(K):
                Sv[e * K + k] = Mt[Mr[a] * K + k] + Tt[k * smax + e]
    # per missing column i, over its rows: S1_i += sum w r s_i, and row i of C +=
    # (w r s_i)^T z, column-major C_i (K, D) += Gc^T (K, n_i) Zc (n_i, D)
    for i in range(D):
        n_i = cst[i + 1] - cst[i]
        if n_i == 0:
            continue
        for k in range(K):
            g[k] = 0.0
        for t in range(cst[i], cst[i + 1]):
            e = ent[t]
            r = erow[e]
            for k in range(K):
                Gc[t * K + k] = lp[r * K + k] * Sv[e * K + k]
                g[k] = g[k] + Gc[t * K + k]
        for k in range(K):
            acc[k * Q1 + tri + i] = acc[k * Q1 + tri + i] + g[k]
        bn = <int> n_i
        dgemm("N", "T", &bK, &bD, &bn, &one, Gc + cst[i] * K, &bK, Zc + cst[i] * D, &bD,
              &one, Cd + i * D * K, &bK)
    # the missing columns' s s^T / 2 (z is 0 there), row by row
    for r in range(nb):
        gmm_lanes_fill_outer(lp + r * K, Sv + moff[r] * K, Mi + r * mmax, nm[r], D, K, Cd)
    _add_runs_moments(nb, K, nm, first, lp, Mi, mmax, D, Ast, off, Cd, S)


cdef void _add_runs_moments(Py_ssize_t nb, Py_ssize_t K, const Py_ssize_t* nm,
                            const unsigned char* first, const double* wr,
                            const Py_ssize_t* Mi, Py_ssize_t mmax, Py_ssize_t D,
                            const double* Ast, const Py_ssize_t* off,
                            double* Cd, double* S) noexcept nogil:
    """C[M, M] += (the run's sum of w r) P_k[M, M]^-1 once per run of rows of one
    pattern, the lower triangle with its diagonal halved (C + C^T is the total).
    A component whose sum is 0 adds nothing and its inverse is not read: _run_inverses
    leaves it unformed (0 times whatever that memory holds could be NaN)."""
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
                        if S[k] != 0.0:
                            Ck[k] = Ck[k] + h * S[k] * Ast[(off[r] + at) * K + k]
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
    cdef Py_ssize_t o = K + K * D + K * D * D, a2 = K * Q1 + D * D * K
    out[o] = out[o] + acc[a2]
    out[o + 1] = out[o + 1] + acc[a2 + 1]
