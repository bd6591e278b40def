# Route 'full' about each mean (D >= SMALL_D, components far from the mixture mean, or
# float32 data from FULL32_MIN_FEATURES on: _estep.choose_route). Per component, the
# triangular quadratic form (csrc/triangular.h) and a symmetric rank update of the
# scatter about that component's mean (csrc/rank_update.h): exact centring, at the cost
# of a pass over the block for every component.
#
# float64 data: the block transposed, log-densities one row a lane (gmm_tri_lanes_d)
# component-major, _responsibilities (row-major, weighted), then the scatter of the rows
# whose responsibility is not exactly 0.
# float32 data: the block transposed, log-densities one row a lane in float32
# products, normalised component-major in float32, then each component's scatter in
# float32 about the block's own centre, shifted back to the mean in double.
#
# Reads: cst; means (data); chol (float64: (K, D, D); float32: padded_factors, (K, D,
# D4) float32); means64, the means in double (the statistics' shifts: about the float32
# means, every new mean would be off by their rounding, ~5e-4 at an offset of 1e4).

# Below this many rows with a non-zero responsibility, the float64 scatter adds the
# outer products a row at a time: tiles on one or two rows (digits: ~1.6 rows a
# component a block) cost more than their ~D^2/2 multiply-adds.
cdef Py_ssize_t SYRK_MIN_ROWS = 8


cdef struct FullMeansScratch:
    # float64 data
    double* lp        # (n, K) weighted responsibilities
    double* norm      # (3n,) _responsibilities' scratch
    double* xtd       # (D, ldx) the block transposed (gmm_tri_lanes_d)
    double* zt        # (D, GROUP) a group of centred rows, feature-major
    double* up        # (D (D + 16),) U padded to the tiles' width (gmm_tri_lanes_d)
    double* z         # (n + ld8) ld8: the scaled centred rows, then the tile sums T
    # float32 data
    float* xt         # (D, ldx) the block transposed
    float* zt32       # (GROUP, D) a group of centred rows
    float* z32        # (n, Dp) the scaled rows of a component's scatter
    float* t32        # (Dp, Dp) their products
    float* cf         # (Dp + n,) the block's centre, then n square roots
    float* yf         # (n (K + 1),) the float32 normalisation
    double* lpt       # (K, n) log-densities, component-major (both dtypes)
    double* row_max   # (3n,) _normalize_cols
    double* sc        # (3D,) the scatter's shift back to the mean


cdef FullMeansScratch _full_means_layout(void* base, Py_ssize_t n, Py_ssize_t D,
                                         Py_ssize_t K, Py_ssize_t fsize,
                                         Py_ssize_t* nbytes) noexcept nogil:
    cdef Arena a = _arena(base)
    cdef FullMeansScratch t
    cdef Py_ssize_t ld8 = gmm_full_ld8(D), dp = gmm_full32_dp(D)
    if fsize == sizeof(double):
        t.lp = <double*> _take(&a, n * K * sizeof(double))
        t.norm = <double*> _take(&a, 3 * n * sizeof(double))
        t.lpt = <double*> _take(&a, K * n * sizeof(double))
        t.xtd = <double*> _take(&a, D * gmm_tri_lanes_ldx(n) * sizeof(double))
        t.zt = <double*> _take(&a, GMM_TRI_LANES_GROUP * D * sizeof(double))
        t.up = <double*> _take(&a, D * (D + 16) * sizeof(double))
        t.z = <double*> _take(&a, (n + ld8) * ld8 * sizeof(double))
    else:
        t.xt = <float*> _take(&a, D * gmm_full32_ldx(n) * sizeof(float))
        t.zt32 = <float*> _take(&a, GMM_FULL32_GROUP * D * sizeof(float))
        t.z32 = <float*> _take(&a, n * dp * sizeof(float))
        t.t32 = <float*> _take(&a, dp * dp * sizeof(float))
        t.cf = <float*> _take(&a, (dp + n) * sizeof(float))
        t.yf = <float*> _take(&a, n * (K + 1) * sizeof(float))
        t.lpt = <double*> _take(&a, K * n * sizeof(double))
        t.row_max = <double*> _take(&a, 3 * n * sizeof(double))
        t.sc = <double*> _take(&a, 3 * D * sizeof(double))
    nbytes[0] = a.used
    return t


cdef Py_ssize_t _full_means_scratch(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K,
                                    Py_ssize_t fsize) noexcept nogil:
    cdef Py_ssize_t nbytes
    _full_means_layout(NULL, B, D, K, fsize, &nbytes)
    return nbytes


cdef void _full_means_logprob(const Model* m, const floating* X, Py_ssize_t n,
                              double* lpt, void* scratch) noexcept nogil:
    """lpt (K x n), a component's row at a time (the kernels' output stride 1)."""
    cdef Py_ssize_t nbytes, k, D = m.D, K = m.K, D4 = gmm_full32_d4(D)
    cdef FullMeansScratch t = _full_means_layout(scratch, n, D, K, sizeof(floating),
                                                 &nbytes)
    cdef const floating* M = <const floating*> m.means
    cdef const floating* U = <const floating*> m.chol
    if floating is double:
        gmm_tri_lanes_transpose(X, n, D, t.xtd)
        for k in range(K):
            gmm_tri_lanes_d(t.xtd, n, D, M + k * D, U + k * D * D, m.cst[k], lpt + k * n,
                            1, t.up, t.zt)
    else:
        gmm_full32_transpose(X, n, D, t.xt)
        for k in range(K):
            gmm_full32_lp(t.xt, n, D, M + k * D, U + k * D * D4, m.cst[k], lpt + k * n, 1,
                          t.zt32)


cdef void _full_means_scatter_d(const double* X, Py_ssize_t n, Py_ssize_t D,
                                Py_ssize_t K, const double* M, const double* R,
                                double* S1, double* S2, double* Z) noexcept nogil:
    """S1_k += sum_i r_ik (x_i - mu_k), S2_k += the scatter of sqrt(r_ik) (x_i - mu_k),
    over the rows whose responsibility is not exactly zero (the others add exactly
    nothing; with well-separated components most do). Z: (n + ld8) ld8 doubles."""
    cdef Py_ssize_t k, m, ld = gmm_full_ld8(D)
    cdef double* S2k
    for k in range(K):
        S2k = S2 + k * D * D
        m = gmm_means_rows_d(X, n, D, M + k * D, R + k, K, S1 + k * D, Z, ld)
        if m == 0:
            continue
        if m < SYRK_MIN_ROWS:
            _scatter_lower_rows(Z, m, D, ld, S2k)
        else:
            gmm_rank_update_d(Z, m, D, S2k, Z + n * ld)


cdef Py_ssize_t _full_means_stats(const Model* m, const floating* X, const double* w,
                                  Py_ssize_t n, Sums* s, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes, k, bad, D = m.D, K = m.K
    cdef FullMeansScratch t = _full_means_layout(scratch, n, D, K, sizeof(floating),
                                                 &nbytes)
    _full_means_logprob(m, X, n, t.lpt, scratch)
    if floating is double:
        # weighted responsibilities row-major, the layout of the scatter's rows
        bad = _responsibilities(t.lpt, n, K, w, s, t.norm, t.lp)
        if bad >= 0:
            return bad
        _full_means_scatter_d(X, n, D, K, <const double*> m.means, t.lp, s.S1, s.S2,
                              t.z)
        return -1
    else:
        bad = _normalize_cols(t.lpt, n, K, w, s.L, t.row_max, t.yf)
        if bad >= 0:
            return bad
        for k in range(K):
            gmm_full32_scatter(X, n, D, m.means64 + k * D, t.lpt + k * n, s.N + k,
                               s.S1 + k * D, s.S2 + k * D * D, t.z32, t.t32, t.cf, t.sc)
        return -1


def padded_factors(U):
    """The float32 factors as this route reads them: U_k's upper triangle, zero-padded
    to D4 = D rounded up to 4 columns (K x D x D4), so that its column blocks of 4 need
    no tests."""
    U = np.asarray(U)
    K, D = U.shape[0], U.shape[1]
    out = np.zeros((K, D, gmm_full32_d4(D)), dtype=np.float32)
    out[:, :, :D] = np.triu(U)
    return out


def _full_means_slots(Py_ssize_t K, Py_ssize_t D, dtype):
    chol = (K, D, D) if dtype == F64 else (K, D, gmm_full32_d4(D))
    return {"cst": ((K,), F64), "means": ((K, D), dtype), "chol": (chol, dtype),
            "means64": ((K, D), F64)}
