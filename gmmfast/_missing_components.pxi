# The row pass per component ('full' and 'tied'; included by _missing_rows.pyx, whose
# module doc describes the pass): a block's rows in two sweeps over the components.
# The first, per component, y = delta U for the block, one row a lane (plain loops
# for few features; float32 data in float32 products), q and b (float32 data: b for
# all components by columns, _rows_b_columns); then per row the m x m factors and solves
# for all components at once (_missing_lanes.pxi). The second, once the
# responsibilities are known, each component's statistics: the rows' delta rebuilt
# with -t at the missing columns, their scatter by BLAS (float32 data: _scatter32),
# and the conditional covariances once per run of one pattern. The other route,
# through moment rows about the mixture mean, is _missing_moments.pxi.


#: up to this many features the scatter of a block's rows goes through dgemm (the
#: whole square), beyond through dsyrk (one triangle): where each is the faster
cdef Py_ssize_t GEMM_SCATTER_MAX_D = 48


cdef void _add_runs(Py_ssize_t nb, Py_ssize_t K, Py_ssize_t k_lo, Py_ssize_t k_hi,
                    const Py_ssize_t* nm, const unsigned char* first, const double* lp,
                    const double* w, const Py_ssize_t* Mi, Py_ssize_t mmax, Py_ssize_t D,
                    const double* Ak, Py_ssize_t ks, const Py_ssize_t* off,
                    double* T2k) noexcept nogil:
    """T2k[M, M] += wsum P_k[M, M]^-1 (the lower triangle, row >= column), the
    conditional covariance of the missing block, once per run of rows of one pattern
    (a row that starts a run has first[r]; entry a of the inverse is at Ak[(off[r] +
    a) ks], packed as gmm_lanes_inverse leaves it), with wsum the run's sum of
    weights times responsibilities for components k_lo..k_hi-1 (one component, or
    all of them for 'tied'), row by row, then component by component."""
    cdef Py_ssize_t r = 0, r2, k, m, a, c, at
    cdef const Py_ssize_t* Mr
    cdef const double* Ar
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
            Mr = Mi + r * mmax
            Ar = Ak + off[r] * ks
            at = 0
            for a in range(m):
                for c in range(a + 1):
                    T2k[Mr[a] * D + Mr[c]] = T2k[Mr[a] * D + Mr[c]] + wsum * Ar[at * ks]
                    at = at + 1
        r = r2


#: _cd_pays's choice: 0 by cost, 1 always _add_runs_cd, -1 never
#: (``conditional_covariances_mode``, for the tests)
cdef int CD_MODE = 0


def conditional_covariances_mode(mode=None):
    """How the float32 products' pass adds the conditional covariances: 'cost' (the
    default: per block, by _cd_pays), 'together' (every block, all components at
    once) or 'apart' (a component at a time). Returns the mode before; with None,
    only that. For the tests, which check that both give the statistics."""
    global CD_MODE
    names = {0: "cost", 1: "together", -1: "apart"}
    before = names[CD_MODE]
    if mode is not None:
        codes = {v: k for k, v in names.items()}
        if mode not in codes:
            raise ValueError(f"mode must be one of {sorted(codes)}; got {mode!r}")
        CD_MODE = codes[mode]
    return before


cdef bint _cd_pays(Py_ssize_t nb, Py_ssize_t K, Py_ssize_t D, const Py_ssize_t* nm,
                   const double* lp) noexcept nogil:
    """Whether a block's conditional covariances go through _add_runs_cd (all
    components, component last) rather than _add_runs (a component at a time), by
    their costs in doubles touched: _add_runs_cd zeroes and adds (the caller) its
    array of D (D + 1) / 2 K and touches every entry of every component; _add_runs
    reads an entry of the components whose responsibility is not 0, from a cache line
    of its own (8 doubles). From the block's data alone: the same choice, and bits,
    whatever the threads."""
    cdef Py_ssize_t r, k, e, nz
    cdef double held = 0.0, every = 0.0
    if CD_MODE != 0:
        return CD_MODE > 0
    for r in range(nb):
        e = nm[r] * (nm[r] + 1) // 2
        nz = 0
        for k in range(K):
            if lp[r * K + k] != 0.0:
                nz = nz + 1
        held = held + <double> (e * nz)
        every = every + <double> (e * K)
    return 2.0 * <double> (D * (D + 1) // 2 * K) + every < 8.0 * held


cdef void _add_runs_cd(Py_ssize_t nb, Py_ssize_t K, const Py_ssize_t* nm,
                       const unsigned char* first, const double* lp, const double* w,
                       const Py_ssize_t* Mi, Py_ssize_t mmax, const double* Ast,
                       const Py_ssize_t* off, double* Cd, double* S) noexcept nogil:
    """The conditional covariances of every component ('full', float32 products):
    Cd[(a (a + 1) / 2 + c) K + k] += wsum_k P_k[M, M]^-1[a', c'] for each entry (M_a',
    M_c') = (a, c) of a run's pattern (a >= c), once per run of rows of one pattern,
    with wsum_k the run's sum of weights times responsibilities. Component last, as
    the inverses are stored (Ast): one run's entries for all components are
    contiguous reads and writes, where a component at a time (_add_runs) read each
    entry from a line of its own. The caller adds Cd into the T2s after the blocks'
    scatters. A component whose wsum is 0 adds nothing (its inverse may not have been
    formed). S: K doubles of scratch."""
    cdef Py_ssize_t r = 0, r2, k, m
    while r < nb:
        m = nm[r]
        for k in range(K):
            S[k] = 0.0
        r2 = r
        while r2 < nb and (r2 == r or not first[r2]):
            for k in range(K):
                S[k] = S[k] + (lp[r2 * K + k] if w == NULL else lp[r2 * K + k] * w[r2])
            r2 = r2 + 1
        if m > 0:
            gmm_lanes_cond_add(S, Ast + off[r] * K, Mi + r * mmax, m, K, Cd)
        r = r2


cdef void _add_weighted_rows(const double* Y, const double* wv, Py_ssize_t n,
                             Py_ssize_t D, double* t) noexcept nogil:
    """t_j += sum_r wv_r Y[r, j], the rows added in order. Four features at a time,
    the rows innermost: four independent sums in registers, where a row at a time
    (all features, then the next row) waits on each sum's store and reload."""
    cdef Py_ssize_t r, j = 0
    cdef double s0, s1, s2, s3
    while j + 4 <= D:
        s0 = t[j]
        s1 = t[j + 1]
        s2 = t[j + 2]
        s3 = t[j + 3]
        for r in range(n):
            s0 = s0 + wv[r] * Y[r * D + j]
            s1 = s1 + wv[r] * Y[r * D + j + 1]
            s2 = s2 + wv[r] * Y[r * D + j + 2]
            s3 = s3 + wv[r] * Y[r * D + j + 3]
        t[j] = s0
        t[j + 1] = s1
        t[j + 2] = s2
        t[j + 3] = s3
        j = j + 4
    while j < D:
        s0 = t[j]
        for r in range(n):
            s0 = s0 + wv[r] * Y[r * D + j]
        t[j] = s0
        j = j + 1


#: float32 data: a component with at least this many rows of a block that it holds
#: (responsibility not 0) takes their scatter in float32 products, as the complete
#: float32 rows take theirs (the kernels' gmm_full32_scatter); with fewer, the BLAS
#: call and the shift back cost more than the products they save (digits has ~1.6 a
#: component a block), and the rows go through the double scatter
cdef Py_ssize_t FLOAT32_SCATTER_MIN_ROWS = 8


cdef inline Py_ssize_t _scatter32_ld(Py_ssize_t D) noexcept nogil:
    """The row stride of _scatter32's float32 rows and products."""
    return (D + GMM_R32_LD - 1) // GMM_R32_LD * GMM_R32_LD


cdef inline Py_ssize_t _scatter32_doubles(Py_ssize_t B, Py_ssize_t D) noexcept nogil:
    """_scatter32's scratch for up to B rows: d and e (D doubles each), T (ld, ld)
    doubles and Z (B, ld) float32."""
    cdef Py_ssize_t ld = _scatter32_ld(D)
    return 2 * D + ld * ld + (B * ld + 1) // 2


cdef void _scatter32(const double* Y, const double* wv, Py_ssize_t nz, Py_ssize_t D,
                     double* T1k, double* T2k, double* F, bint add) noexcept nogil:
    """T1k += sum_r wv_r Y_r and T2k (the lower triangle, row >= column, of row-major
    (D, D)) := sum_r wv_r Y_r Y_r^T over the nz rows of Y (each x - mu, in double),
    written (its upper triangle is never read, nor zeroed), or with add, added to
    what it holds (a slot's later block); the second in float32 products as the
    complete float32 rows' rank update takes them: about the rows' own weighted mean
    d (so the products carry no cancellation to lose digits to), Z = sqrt(wv) (Y - d)
    rounded to float32, T = Z^T Z (gmm_rank32: float32 sums over chunks of rows, added
    in double), and the exact shift back to mu in double (gmm_shift_back32; Chan,
    Golub and LeVeque): T + e d^T + d e^T + (sum wv) d d^T, with e = sum wv (Y - d) (0
    but for rounding). F:
    _scatter32_doubles(B, D), B >= nz."""
    cdef Py_ssize_t ld = _scatter32_ld(D)
    cdef double* d = F
    cdef double* e = F + D
    cdef double* T = F + 2 * D
    cdef float* Z = <float*> (F + 2 * D + ld * ld)
    cdef Py_ssize_t a
    cdef double nb
    nb = gmm_rows32_center(Y, wv, nz, D, d, e, Z, ld)
    for a in range(D):
        T1k[a] = T1k[a] + e[a]
        e[a] = e[a] - nb * d[a]
    gmm_rank32(Z, nz, D, ld, T)
    gmm_shift_back32(T, ld, d, e, nb, D, add, T2k)


cdef void _rows_b_columns(
    const double* X0, const Py_ssize_t* Mi, const Py_ssize_t* nm, Py_ssize_t nb,
    Py_ssize_t D, Py_ssize_t mmax, Py_ssize_t K, const double* c, const double* Mt,
    const double* PMt, const double* Pt, const Py_ssize_t* moff,
    const unsigned char* first,
    double* Z,              # SCRATCH (nb, D)
    double* Zc, double* Gc, double* base, double* qc,   # SCRATCH (smax, D), (smax, K),
                                                        # (m, K), (K,)
    Py_ssize_t* cst, Py_ssize_t* cur, Py_ssize_t* ent, Py_ssize_t* erow,   # SCRATCH
    double* Tb,             # OUT (smax, K) b of each missing entry, component last
) noexcept nogil:
    """b = (P_k delta)_M of every row and component (delta = x - mu_k, 0 at M) in
    double, as the moment rows take it (_missing_moments.pxi): about a shift c, with z
    = x - c (0 at M) and m_k = mu_k - c, b = P_k[M, :] z + P_k[M, M] m_kM - (P_k
    m_k)_M; the first term one GEMM per missing column over the rows missing it, the
    others once per run of one pattern (gmm_lanes_base). m D + m^2 multiply-adds a row
    and component, where U y in float32 products took D^2 / 2."""
    cdef Py_ssize_t r, r2, r3, j, a, k, m
    cdef double* bt
    for r in range(nb):
        for j in range(D):
            Z[r * D + j] = X0[r * D + j] - c[j]
        for a in range(nm[r]):
            Z[r * D + Mi[r * mmax + a]] = 0.0
    _by_column(Mi, mmax, nm, moff, nb, D, cst, cur, ent, erow)
    _columns_pz(Z, D, K, Pt, cst, ent, erow, Zc, Gc, Tb, False)
    r = 0
    while r < nb:
        r2 = r + 1
        while r2 < nb and not first[r2]:
            r2 = r2 + 1
        m = nm[r]
        if m > 0:
            gmm_lanes_base(Pt, Mt, PMt, Mi + r * mmax, m, D, K, base, qc)
            for r3 in range(r, r2):
                for a in range(m):
                    bt = Tb + (moff[r3] + a) * K
                    for k in range(K):
                        bt[k] = bt[k] + base[a * K + k]
        r = r2


cdef void _conditional_means(
    const double* R, Py_ssize_t nb, Py_ssize_t K, Py_ssize_t D,
    const double* means,    # IN (K, D)
    const Py_ssize_t* Mi, Py_ssize_t mmax, const Py_ssize_t* nm, const Py_ssize_t* moff,
    const double* Tt, Py_ssize_t smax,  # IN (K, smax) -t of the block's missing entries
    double* cmean,          # OUT (nb, mmax) row r's first nm[r] entries
) noexcept nogil:
    """E[x_M | x_O] = sum_k r_k E[x_M | x_O, k] of each row, with E[x_M | x_O, k] =
    mu_kM - t_k (R (nb, K) the responsibilities): a component whose responsibility is
    exactly 0 adds nothing, and is not read."""
    cdef Py_ssize_t r, a, k, j
    cdef double s, rk
    for r in range(nb):
        for a in range(nm[r]):
            j = Mi[r * mmax + a]
            s = 0.0
            for k in range(K):
                rk = R[r * K + k]
                if rk != 0.0:
                    s = s + rk * (means[k * D + j] + Tt[k * smax + moff[r] + a])
            cmean[r * mmax + a] = s


cdef void _draw_row(const double* L, const double* idg, Py_ssize_t m, Py_ssize_t K,
                    Py_ssize_t k, const Py_ssize_t* Mr, const double* mu,
                    const double* tt, double* x) noexcept nogil:
    """x (m,), standard normal draws, := mu_M + tt + L^-T x with L L^T = P_k[M, M]
    (component k of the run's factors L (m, m, K), idg their inverse diagonals) and tt
    its -t: a draw of the conditional law N(mu_M - t, P_k[M, M]^-1), as L^-T x has
    covariance L^-T L^-1. The back substitution in place (x[c], c > a, already
    solved)."""
    cdef Py_ssize_t a, c
    cdef double s
    for a in range(m - 1, -1, -1):
        s = x[a]
        for c in range(a + 1, m):
            s = s - L[(c * m + a) * K + k] * x[c]
        x[a] = s * idg[a * K + k]
    for a in range(m):
        x[a] = mu[Mr[a]] + tt[a] + x[a]


cdef void _rows_block(
    const double* X0,       # IN (nb, D) rows, missing entries 0
    const Py_ssize_t* Mi,   # IN (nb, mmax) missing columns, the first nm[r] of row r
    const Py_ssize_t* nm,   # IN (nb,) number of missing columns of each row
    const double* w,        # IN (nb,) weights, or NULL
    Py_ssize_t nb, Py_ssize_t B, Py_ssize_t D, Py_ssize_t mmax, Py_ssize_t K, bint tied,
    Py_ssize_t fmax,        # IN at least _run_factor_doubles of this block
    Py_ssize_t smax,        # IN at least the block's sum of nm
    const double* means,    # IN (K, D)
    const double* U,        # IN (Kp, D, DU) precision factors, upper triangular,
                            # zeros below the diagonal and beyond D (DU: D4 from
                            # C_BLAS_MIN_FEATURES features on, else D)
    const float* Uf,        # IN (Kp, D4, D4) the same in float32, padded (D4 = D
                            # rounded up to 4), for float32 products; NULL for none
    const double* Pt,       # IN (D, D, K) precisions, component last ('tied': repeated)
    const double* logc,     # IN (K,) log pi_k + sum log diag U_k - 0.5 D log 2 pi
    const double* shift,    # IN (D,) with Uf: c, the shift of b's products (below)
    const double* Mt,       # IN (D, K) with Uf: m_k = mu_k - c, component last
    const double* PMt,      # IN (D, K) with Uf: P_k m_k, component last
    double* lse,            # OUT (nb,)
    double* resp,           # OUT (nb, K) or NULL
    Py_ssize_t* labels,     # OUT (nb,) or NULL
    double* cmean,          # OUT (nb, mmax) E[x_M | x_O] (_conditional_means) or NULL
    const Py_ssize_t* choice,   # IN (nb,) with draw: a component of each row
    double* draw,           # IN/OUT (nb, mmax) standard normal, then a draw of x_M | x_O
                            # under component choice[r] (_draw_row); or NULL
    double* slot,           # IN/OUT statistics N (K), T1 (K, D), T2 (Kt, D, D), L,
                            # sum_w, then K flags: 1 where component k's T2 was
                            # written, and with Uf one more, 1 where the conditional
                            # covariances follow (_add_runs_cd, zeroed here at the
                            # first write). Added to: zeroed by the caller before the
                            # slot's first block but for the T2s ('full': each is
                            # written, not added, where its flag is 0, then the flag
                            # set) and the conditional covariances; NULL for none
    double* scratch,        # SCRATCH see _scratch_doubles
) noexcept nogil:
    # Two sweeps over the components. The first computes, per component, y for the
    # block's rows, the log-probabilities without the missing block's terms and b;
    # then, per row and for every component at once, the factors (once per run of
    # rows of one pattern), the missing block's terms and -t (the conditional mean's
    # offset, m values, in place of b). The second, once the responsibilities are
    # known, rebuilds each delta from the row and -t. So the scratch holds no
    # (K, rows, D) array nor an m x m matrix per row and component: it stays in
    # cache, where those did not.
    cdef Py_ssize_t k, kp, r, j, a, c, m, nz, rs = 0
    cdef Py_ssize_t mm = mmax * mmax
    cdef double* Y = scratch                     # (B, D) b's z (float32 products),
                                                 # then delta, sqrt(w r) delta
    cdef double* lp = Y + B * D                  # (B, K) log-probabilities, then resp
    # b and -t of the block's missing entries, row after row (row r's at moff[r]): b
    # component last, for the factors; -t component first, for the statistics
    cdef double* Tb = lp + B * K                 # (smax, K) b
    cdef double* Tt = Tb + smax * K              # (K, smax) -t
    cdef double* Lf = Tt + smax * K              # (m, m, K) the run's factors
    cdef double* Li = Lf + mm * K                # (m, m, K)
    cdef double* idg = Li + mm * K               # (m, K)
    cdef double* Z = idg + mmax * K              # (m, K)
    cdef double* hl = Z + mmax * K               # (K,)
    cdef double* S = hl + K                      # (K,)
    # _run_inverses' gathered lanes: factors, 1 / diagonals, inverses
    cdef double* Lc = S + K                      # (m, m, K)
    cdef double* idgc = Lc + mm * K              # (m, K)
    cdef double* Ac = idgc + mmax * K            # (m (m + 1) / 2, K)
    # (ftot, K) each run's P_k[M, M]^-1 (packed, component last), when slot != NULL
    cdef double* Ast = Ac + mm * K
    cdef Py_ssize_t* off = <Py_ssize_t*> (Ast + (K * fmax if slot != NULL else 0))
    cdef Py_ssize_t* moff = off + B              # (B,)
    cdef Py_ssize_t* kx = moff + B               # (K,) _run_inverses' components
    cdef Py_ssize_t* sel = kx + K                # (B,) the second sweep's rows
    cdef double* wv = <double*> (sel + B)        # (B,) their w r
    cdef double* Nw = wv + B                     # (B (K + 2),) the normalisation's
    # the first sweep one row a lane (lanes: float32 products, Uf, or float64 data
    # from C_BLAS_MIN_FEATURES features on): the block transposed, NaN where missing,
    # and the lanes' outputs and scratch (ldx: B rounded up to their groups)
    cdef bint lanes = Uf != NULL or D >= C_BLAS_MIN_FEATURES
    cdef Py_ssize_t ldx = _lanes32_ldx(B), D4 = (D + 3) // 4 * 4
    cdef Py_ssize_t DU = D4 if D >= C_BLAS_MIN_FEATURES else D    # U's row stride
    cdef double* Xt = Nw + B * (K + 2)           # (D, ldx)
    cdef double* qd = Xt + (D * ldx if lanes else 0)            # (ldx,)
    cdef double* Sq = qd + (ldx if lanes else 0)                # gmm_lanes_qb's
    cdef float* Z32 = <float*> (
        Sq + (gmm_lanes_qb_doubles(D) if lanes and Uf == NULL else 0))  # (D4, GMM_MY_MAX)
    cdef float* Y32 = Z32 + (D4 * GMM_MY_MAX if Uf != NULL else 0)   # (D4, GMM_MY_MAX)
    # the float32 scatter's (_scatter32): its mean, offsets and float32 products
    cdef double* F32 = <double*> (Y32 + (D4 * GMM_MY_MAX if Uf != NULL else 0))
    # b by columns (_rows_b_columns): the rows' z and P[i, :] z gathered by missing
    # column, a run's row-free part of b, and the entries by column
    cdef double* Zc = F32 + (_scatter32_doubles(B, D) if Uf != NULL else 0)   # (smax, D)
    cdef double* Gc = Zc + (smax * D if Uf != NULL else 0)      # (smax, K)
    cdef double* base = Gc + (smax * K if Uf != NULL else 0)    # (m, K)
    cdef double* qc = base + (mmax * K if Uf != NULL else 0)    # (K,)
    cdef Py_ssize_t* cst = <Py_ssize_t*> (qc + (K if Uf != NULL else 0))   # (D + 1,)
    cdef Py_ssize_t* cur = cst + (D + 1 if Uf != NULL else 0)   # (D,)
    cdef Py_ssize_t* ent = cur + (D if Uf != NULL else 0)       # (smax,)
    cdef Py_ssize_t* erow = ent + (smax if Uf != NULL else 0)   # (smax,)
    cdef unsigned char* first = <unsigned char*> (
        erow + (smax if Uf != NULL else 0))                     # (B,) run starts
    cdef double* T2k
    cdef const double* Uk
    cdef const double* mu
    cdef const Py_ssize_t* Mr
    cdef double wi, wr, sq, nk
    cdef int bD = <int> D, bnz
    cdef double one = 1.0
    cdef bint single = Uf != NULL, written

    # rows of one pattern come together (a run): its factors serve them all; the
    # first sweep keeps each run's inverses (at off[r], for a row that starts a run)
    cdef Py_ssize_t ftot = _run_layout(Mi, mmax, nm, nb, moff, first, off)
    if lanes:
        gmm_rows_transpose(X0, nb, D, Mi, mmax, nm, ldx, Xt)
    for k in range(K):
        kp = 0 if tied else k
        Uk = U + kp * D * DU
        mu = means + k * D
        if Uf != NULL:
            # q in float32 products, as the complete float32 rows take theirs (b
            # below, for all components at once)
            gmm_lanes32_q(Xt, ldx, nb, D, mu, Uf + kp * D4 * D4, qd, Z32, Y32)
            for r in range(nb):
                lp[r * K + k] = logc[k] + 0.5 * nm[r] * LOG_2PI - 0.5 * qd[r]
            continue
        if D < C_BLAS_MIN_FEATURES:
            # few features: plain loops at a fixed D (missing_small.h), BLAS's calls
            # costing more than their arithmetic
            gmm_small_first(D, X0, nb, Mi, mmax, nm, moff, mu, Uk, logc[k], LOG_2PI, K,
                            lp + k, Tb + k)
            continue
        # y = delta U, q and b = U[M, :] y one row a lane (missing_rowsd.h)
        gmm_lanes_qb(Xt, ldx, nb, D, mu, Uk, Mi, mmax, nm, moff, K, qd, Tb + k, Sq)
        for r in range(nb):
            lp[r * K + k] = logc[k] + 0.5 * nm[r] * LOG_2PI - 0.5 * qd[r]
    if Uf != NULL:
        _rows_b_columns(X0, Mi, nm, nb, D, mmax, K, shift, Mt, PMt, Pt, moff, first, Y,
                        Zc, Gc, base, qc, cst, cur, ent, erow, Tb)
    for r in range(nb):
        m = nm[r]
        if m == 0:
            continue
        Mr = Mi + r * mmax
        if first[r]:
            rs = r
            gmm_lanes_factor(Pt, Mr, m, D, K, Lf, idg, hl)
        gmm_lanes_solve(Lf, idg, hl, m, K, Tb + moff[r] * K, Tt + moff[r], smax,
                        lp + r * K, Z)
        if draw != NULL:
            _draw_row(Lf, idg, m, K, choice[r], Mr, means + choice[r] * D,
                      Tt + choice[r] * smax + moff[r], draw + r * mmax)
        if slot != NULL and (r + 1 == nb or first[r + 1]):
            # the run's last row: its inverses, for the components that need them
            _run_inverses(Lf, idg, m, K, tied, lp + rs * K, r + 1 - rs, Lc, idgc, Li,
                          S, Ac, kx, Ast, off[rs])

    _normalize_rows(lp, nb, K, lse, resp, labels, Nw)
    if cmean != NULL:
        _conditional_means(lp, nb, K, D, means, Mi, mmax, nm, moff, Tt, smax, cmean)

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
    # float32 products: the conditional covariances of all components at once
    # (_add_runs_cd, into the slot's array after its flags) where most rows hold most
    # components; else per component (_add_runs)
    cdef bint use_cd = single and not tied and _cd_pays(nb, K, D, nm, lp)
    if use_cd and Lw[2 + K] == 0.0:
        Lw[2 + K] = 1.0
        memset(Lw + 3 + K, 0, D * (D + 1) // 2 * K * sizeof(double))
    for k in range(K):
        kp = 0 if tied else k
        mu = means + k * D
        T2k = T2 + kp * D * D
        if D < C_BLAS_MIN_FEATURES:
            # few features: each row's delta and its sums in one pass, at a fixed D
            # (missing_small.h; a row whose w r_k is 0 adds nothing, as below), the
            # scatter in double whatever the data (float32 products are the caller's
            # choice from FULL32_MIN_FEATURES features on)
            if gmm_small_stats(D, X0, w, lp + k, nb, K, mu, Mi, mmax, nm, moff,
                               Tt + k * smax, Nk + k, T1 + k * D, T2k,
                               tied or Lw[2 + k] != 0.0) > 0 and not tied:
                Lw[2 + k] = 1.0
                if not use_cd:
                    _add_runs(nb, K, k, k + 1, nm, first, lp, w, Mi, mmax, D, Ast + k,
                              K, off, T2k)
            continue
        # a row whose responsibility underflowed to 0 adds nothing: it is left out of
        # the sums (most rows, for a component far from them)
        # (N_k's sum in a local: through the pointer, every row waited on the last
        # row's store)
        nz = 0
        nk = Nk[k]
        for r in range(nb):
            wr = lp[r * K + k] if w == NULL else lp[r * K + k] * w[r]
            if wr == 0.0:
                continue
            nk = nk + wr
            wv[nz] = wr
            sel[nz] = r
            nz = nz + 1
        Nk[k] = nk
        gmm_rows_delta(X0, D, sel, nz, mu, Mi, mmax, nm, moff, Tt + k * smax, Y)
        if nz == 0:
            # no row of the block is in this component: its statistics are all 0
            # (its T2 is not even zeroed: the slot's flag tells the caller)
            continue
        # T2k holds a sum to add to: 'tied' (zeroed with the slot), or the slot's
        # earlier block wrote it
        written = tied or Lw[2 + k] != 0.0
        if not tied:
            Lw[2 + k] = 1.0
        if single and nz >= FLOAT32_SCATTER_MIN_ROWS:
            # writes (or adds to) T2k's lower triangle, the only one read
            _scatter32(Y, wv, nz, D, T1 + k * D, T2k, F32, written)
        else:
            if not written:
                memset(T2k, 0, D * D * sizeof(double))
            _add_weighted_rows(Y, wv, nz, D, T1 + k * D)
            for r in range(nz):
                sq = sqrt(wv[r])
                for j in range(D):
                    Y[r * D + j] = sq * Y[r * D + j]
            # column-major C (D, D) += W^T W with W^T = Y^T (D, nb): the upper
            # triangle of column-major C, which is the lower triangle (row >=
            # column) of row-major T2k
            bnz = <int> nz
            if D <= GEMM_SCATTER_MAX_D:
                # the whole square (the upper triangle is overwritten at the end):
                # BLAS's general product is faster than its symmetric one at these
                # widths
                dgemm("N", "T", &bD, &bD, &bnz, &one, Y, &bD, Y, &bD, &one, T2k, &bD)
            else:
                dsyrk("U", "N", &bD, &bnz, &one, Y, &bD, &one, T2k, &bD)
        if tied or use_cd:
            continue
        # the conditional covariances, once per run of rows of one pattern, after
        # the scatter
        _add_runs(nb, K, k, k + 1, nm, first, lp, w, Mi, mmax, D, Ast + k, K, off, T2k)
    if tied:
        # one precision: the runs' weights summed over the components
        _add_runs(nb, K, 0, K, nm, first, lp, w, Mi, mmax, D, Ast, K, off, T2)
    elif use_cd:
        _add_runs_cd(nb, K, nm, first, lp, w, Mi, mmax, Ast, off, Lw + 3 + K, S)


cdef Py_ssize_t _scratch_doubles(Py_ssize_t B, Py_ssize_t D, Py_ssize_t m, Py_ssize_t K,
                                 Py_ssize_t fmax, Py_ssize_t smax, bint stats,
                                 bint single):
    # as _rows_block lays it out; then B offsets of the runs' inverses and, the last
    # B, the run starts (a byte a row); the float32 lanes' (single) counted in doubles
    cdef Py_ssize_t ldx = _lanes32_ldx(B), D4 = (D + 3) // 4 * 4
    return (B * D + B * K + 2 * smax * K + 4 * m * m * K + 3 * m * K + 2 * K
            + (K * fmax if stats else 0) + 5 * B + K + B * (K + 2)
            + (D * ldx + ldx if single or D >= C_BLAS_MIN_FEATURES else 0)
            + (gmm_lanes_qb_doubles(D) if not single and D >= C_BLAS_MIN_FEATURES else 0)
            + (2 * D4 * GMM_MY_MAX + _scatter32_doubles(B, D)
               + smax * D + smax * K + m * K + K + 2 * D + 1 + 2 * smax
               if single else 0))


cdef inline Py_ssize_t _lanes32_ldx(Py_ssize_t B) noexcept nogil:
    """The float32 lanes' row stride: B rounded up to their largest group."""
    return (B + GMM_MY_MAX - 1) // GMM_MY_MAX * GMM_MY_MAX
