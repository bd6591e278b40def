# The row pass per component ('full' and 'tied'; included by _missing_rows.pyx, whose
# module doc describes the pass): a block's rows in two sweeps over the components.
# The first, per component, y = delta U for the block (BLAS, plain loops for few
# features, or the float32 lanes for float32 data), q and b; then per row the m x m
# factors and solves for all components at once (_missing_lanes.pxi). The second,
# once the responsibilities are known, each component's statistics: the rows' delta
# rebuilt with -t at the missing columns, their scatter by BLAS, and the conditional
# covariances once per run of one pattern. The other route, through moment rows about
# the mixture mean, is _missing_moments.pxi.


#: up to this many features the scatter of a block's rows goes through dgemm (the
#: whole square), beyond through dsyrk (one triangle): where each is the faster
cdef Py_ssize_t GEMM_SCATTER_MAX_D = 48

#: up to this many features (from BLAS_MIN_FEATURES) y = delta U goes through dgemm
#: (the whole square, out of place), beyond through dtrmm (the triangle, in place):
#: BLAS's general product on small squares is faster than its triangular one despite
#: twice the arithmetic (bench/results/missing.md)
cdef Py_ssize_t GEMM_Y_MAX_D = 24


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


cdef void _add_scatter(const double* Y, const double* wv, Py_ssize_t n, Py_ssize_t D,
                       double* T) noexcept nogil:
    """T += Y^T diag(wv) Y, the lower triangle (row >= column) of row-major T: plain
    loops, for few features (with BLAS, the rows are scaled by sqrt(wv) instead)."""
    cdef Py_ssize_t r, a, c
    cdef double wa
    for r in range(n):
        for a in range(D):
            wa = wv[r] * Y[r * D + a]
            for c in range(a + 1):
                T[a * D + c] = T[a * D + c] + wa * Y[r * D + c]


cdef void _add_runs(Py_ssize_t nb, Py_ssize_t K, Py_ssize_t k_lo, Py_ssize_t k_hi,
                    const Py_ssize_t* nm, const unsigned char* first, const double* lp,
                    const double* w, const Py_ssize_t* Mi, Py_ssize_t mmax, Py_ssize_t D,
                    const double* Ak, const Py_ssize_t* off, double* T2k) noexcept nogil:
    """T2k[M, M] += wsum P_k[M, M]^-1 (the lower triangle, row >= column), the
    conditional covariance of the missing block, once per run of rows of one pattern
    (a row that starts a run has first[r]; the inverse is at Ak + off[r], packed as
    _lanes_inverse leaves it for the component), with wsum the run's sum of
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
            Ar = Ak + off[r]
            at = 0
            for a in range(m):
                for c in range(a + 1):
                    T2k[Mr[a] * D + Mr[c]] = T2k[Mr[a] * D + Mr[c]] + wsum * Ar[at]
                    at = at + 1
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


cdef void _rows_block(
    const double* X0,       # IN (nb, D) rows, missing entries 0
    const Py_ssize_t* Mi,   # IN (nb, mmax) missing columns, the first nm[r] of row r
    const Py_ssize_t* nm,   # IN (nb,) number of missing columns of each row
    const double* w,        # IN (nb,) weights, or NULL
    Py_ssize_t nb, Py_ssize_t B, Py_ssize_t D, Py_ssize_t mmax, Py_ssize_t K, bint tied,
    Py_ssize_t fmax,        # IN at least _run_factor_doubles of this block
    Py_ssize_t smax,        # IN at least the block's sum of nm
    const double* means,    # IN (K, D)
    const double* U,        # IN (Kp, D, D) precision factors, upper triangular
    const float* Uf,        # IN (Kp, D4, D4) the same in float32, padded (D4 = D
                            # rounded up to 4), for float32 products; NULL for none
    const double* Pt,       # IN (D, D, K) precisions, component last ('tied': repeated)
    const double* logc,     # IN (K,) log pi_k + sum log diag U_k - 0.5 D log 2 pi
    double* lse,            # OUT (nb,)
    double* resp,           # OUT (nb, K) or NULL
    Py_ssize_t* labels,     # OUT (nb,) or NULL
    double* slot,           # OUT statistics N (K), T1 (K, D), T2 (Kt, D, D), L, sum_w,
                            # then K flags: 1 where component k's T2 was written.
                            # Zeroed by the caller but for the T2s ('full': each is
                            # zeroed here before its first write); NULL for none
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
    cdef double* Y = scratch                     # (B, D) delta, then y; sqrt(w r) delta
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
    cdef double* Ac = idgc + mmax * K            # (K, m (m + 1) / 2)
    # (K, ftot) each run's P_k[M, M]^-1 (packed), when slot != NULL
    cdef double* Ast = Ac + mm * K
    cdef Py_ssize_t* off = <Py_ssize_t*> (Ast + (K * fmax if slot != NULL else 0))
    cdef Py_ssize_t* moff = off + B              # (B,)
    cdef Py_ssize_t* kx = moff + B               # (K,) _run_inverses' components
    cdef double* wv = <double*> (kx + K)         # (B,) w r of the second sweep's rows
    cdef double* Yo = wv + B                     # (B, D) y, for dgemm
    cdef double* Nw = Yo + B * D                 # (B (K + 2),) the normalisation's
    # float32 products (Uf): the block transposed, each row's observed entries
    # flagged, and the lanes' outputs and scratch (ldx: B rounded up to their groups)
    cdef Py_ssize_t ldx = _lanes32_ldx(B), D4 = (D + 3) // 4 * 4
    cdef double* Xt = Nw + B * (K + 2)           # (D, ldx)
    cdef double* Ot = Xt + (D * ldx if Uf != NULL else 0)       # (D, ldx)
    cdef double* qd = Ot + (D * ldx if Uf != NULL else 0)       # (ldx,)
    cdef float* V32 = <float*> (qd + (ldx if Uf != NULL else 0))   # (D, ldx)
    cdef float* Z32 = V32 + (D * ldx if Uf != NULL else 0)      # (D4, GMM_MY_MAX)
    cdef float* Y32 = Z32 + (D4 * GMM_MY_MAX if Uf != NULL else 0)   # (D4, GMM_MY_MAX)
    cdef unsigned char* first = <unsigned char*> (
        Y32 + (D4 * GMM_MY_MAX if Uf != NULL else 0))                # (B,) run starts
    cdef double* y
    cdef double* dr
    cdef double* bt
    cdef double* T2k
    cdef const double* Uk
    cdef const double* mu
    cdef const double* xr
    cdef const Py_ssize_t* Mr
    cdef double q, wi, wr, sq
    cdef int bD = <int> D, bnb = <int> nb, bnz
    cdef double one = 1.0, zero = 0.0
    cdef double* Yy

    # rows of one pattern come together (a run): its factors serve them all; the
    # first sweep keeps each run's inverses (at off[r], for a row that starts a run)
    cdef Py_ssize_t ftot = _run_layout(Mi, mmax, nm, nb, moff, first, off)
    if Uf != NULL:
        for j in range(D * ldx):
            Ot[j] = 0.0
            Xt[j] = 0.0
        for r in range(nb):
            for j in range(D):
                Xt[j * ldx + r] = X0[r * D + j]
                Ot[j * ldx + r] = 1.0
            for a in range(nm[r]):
                Ot[Mi[r * mmax + a] * ldx + r] = 0.0
    for k in range(K):
        kp = 0 if tied else k
        Uk = U + kp * D * D
        mu = means + k * D
        if Uf != NULL:
            # q, and b at each row's missing columns of V = (U y)^T, in float32
            # products as the complete float32 rows take theirs
            gmm_lanes32_yv(Xt, Ot, ldx, nb, D, mu, Uf + kp * D4 * D4, qd, V32, Z32, Y32)
            for r in range(nb):
                m = nm[r]
                lp[r * K + k] = logc[k] + 0.5 * m * LOG_2PI - 0.5 * qd[r]
                Mr = Mi + r * mmax
                bt = Tb + moff[r] * K + k
                for a in range(m):
                    bt[a * K] = V32[Mr[a] * ldx + r]
            continue
        for r in range(nb):
            for j in range(D):
                Y[r * D + j] = X0[r * D + j] - mu[j]
            for a in range(nm[r]):
                Y[r * D + Mi[r * mmax + a]] = 0.0
        # row-major Y (nb, D) is column-major Y^T, row-major U column-major U^T
        # (lower): Y^T := U^T Y^T is Y := Y U
        if D < C_BLAS_MIN_FEATURES:
            _times_upper(Y, Uk, nb, D)
            Yy = Y
        elif D <= GEMM_Y_MAX_D:
            # the whole square, its zeros below the diagonal adding nothing
            dgemm("N", "N", &bD, &bnb, &bD, &one, <double*> Uk, &bD, Y, &bD, &zero, Yo, &bD)
            Yy = Yo
        else:
            dtrmm("L", "L", "N", "N", &bD, &bnb, &one, <double*> Uk, &bD, Y, &bD)
            Yy = Y
        for r in range(nb):
            y = Yy + r * D
            q = _dot(y, y, D)
            m = nm[r]
            lp[r * K + k] = logc[k] + 0.5 * m * LOG_2PI - 0.5 * q
            # b = U[M, :] y (U upper: row M_a starts at column M_a)
            Mr = Mi + r * mmax
            bt = Tb + moff[r] * K + k
            for a in range(m):
                bt[a * K] = _dot(Uk + Mr[a] * D + Mr[a], y + Mr[a], D - Mr[a])
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
        if slot != NULL and (r + 1 == nb or first[r + 1]):
            # the run's last row: its inverses, for the components that need them
            _run_inverses(Lf, idg, m, K, tied, lp + rs * K, r + 1 - rs, Lc, idgc, Li,
                          S, Ac, kx, Ast, ftot, off[rs])

    _normalize_rows(lp, nb, K, lse, resp, labels, Nw)

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
        mu = means + k * D
        T2k = T2 + kp * D * D
        # a row whose responsibility underflowed to 0 adds nothing: it is left out of
        # the sums (most rows, for a component far from them)
        nz = 0
        for r in range(nb):
            wr = lp[r * K + k] if w == NULL else lp[r * K + k] * w[r]
            if wr == 0.0:
                continue
            Nk[k] = Nk[k] + wr
            wv[nz] = wr
            xr = X0 + r * D
            dr = Y + nz * D
            nz = nz + 1
            for j in range(D):
                dr[j] = xr[j] - mu[j]
            for a in range(nm[r]):
                dr[Mi[r * mmax + a]] = Tt[k * smax + moff[r] + a]
        if nz == 0:
            # no row of the block is in this component: its statistics are all 0
            # (its T2 is not even zeroed: the slot's flag tells the caller)
            continue
        if not tied:
            memset(T2k, 0, D * D * sizeof(double))
            Lw[2 + k] = 1.0
        _add_weighted_rows(Y, wv, nz, D, T1 + k * D)
        if D < C_BLAS_MIN_FEATURES:
            _add_scatter(Y, wv, nz, D, T2k)
            if not tied:
                _add_runs(nb, K, k, k + 1, nm, first, lp, w, Mi, mmax, D,
                          Ast + k * ftot, off, T2k)
            continue
        for r in range(nz):
            sq = sqrt(wv[r])
            for j in range(D):
                Y[r * D + j] = sq * Y[r * D + j]
        # column-major C (D, D) += W^T W with W^T = Y^T (D, nb): the upper triangle of
        # column-major C, which is the lower triangle (row >= column) of row-major T2k
        bnz = <int> nz
        if nz > 0 and D <= GEMM_SCATTER_MAX_D:
            # the whole square (the upper triangle is overwritten at the end): BLAS's
            # general product is faster than its symmetric one at these widths
            dgemm("N", "T", &bD, &bD, &bnz, &one, Y, &bD, Y, &bD, &one, T2k, &bD)
        elif nz > 0:
            dsyrk("U", "N", &bD, &bnz, &one, Y, &bD, &one, T2k, &bD)
        if tied:
            continue
        # the conditional covariances, once per run of rows of one pattern, after
        # the scatter
        _add_runs(nb, K, k, k + 1, nm, first, lp, w, Mi, mmax, D, Ast + k * ftot, off,
                  T2k)
    if tied:
        # one precision: the runs' weights summed over the components
        _add_runs(nb, K, 0, K, nm, first, lp, w, Mi, mmax, D, Ast, off, T2)


cdef Py_ssize_t _scratch_doubles(Py_ssize_t B, Py_ssize_t D, Py_ssize_t m, Py_ssize_t K,
                                 Py_ssize_t fmax, Py_ssize_t smax, bint stats,
                                 bint single):
    # as _rows_block lays it out; then B offsets of the runs' inverses and, the last
    # B, the run starts (a byte a row); the float32 lanes' (single) counted in doubles
    cdef Py_ssize_t ldx = _lanes32_ldx(B), D4 = (D + 3) // 4 * 4
    return (B * D + B * K + 2 * smax * K + 4 * m * m * K + 3 * m * K + 2 * K
            + (K * fmax if stats else 0) + 4 * B + K + B * D + B * (K + 2)
            + (3 * D * ldx + ldx + 2 * D4 * GMM_MY_MAX if single else 0))


cdef inline Py_ssize_t _lanes32_ldx(Py_ssize_t B) noexcept nogil:
    """The float32 lanes' row stride: B rounded up to their largest group."""
    return (B + GMM_MY_MAX - 1) // GMM_MY_MAX * GMM_MY_MAX
