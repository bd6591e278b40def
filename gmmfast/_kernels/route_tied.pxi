# Route 'tied': one factor U for every component, so the rows are whitened once,
# y = (x - c) U, and the log-density of component k is linear in the feature rows
# [y, ||y||^2]:
#
#     lp_ik = cst_k + y_i . v_k - 0.5 ||y_i||^2,   v_k = (mu_k - c) U
#
# (cst_k including -0.5 ||v_k||^2): the products of route 'diag' (csrc/diag_products.h)
# on D + 1 features, GMM_DIAG_ROWS rows at a time, with the normalisation between them
# (in float32 for float32 data, as 'diag''s). The statistics: S1 += R^T (X - c) (the
# same moments kernel, on the rows x - c in double) and the data's scatter about c,
# sum_i w_i (x_i - c)(x_i - c)^T, which does not depend on R.
#
# Reads: shift (data); chol (data, (1, D, D)); coef, Wt ((D + 2) x ldw) =
# [V ; -0.5 ; cst]^T, zero-padded to ldw = K rounded up to 4 (tied_weights_shape).

cdef extern from "csrc/kernels.h":
    # csrc/shared_shift.h
    void gmm_center_rows_d(const double* X, Py_ssize_t n, Py_ssize_t D, const double* c,
                           double* Z) noexcept nogil
    void gmm_center_rows_f(const float* X, Py_ssize_t n, Py_ssize_t D, const float* c,
                           float* Z) noexcept nogil
    void gmm_center_rows_dd(const double* X, Py_ssize_t n, Py_ssize_t D, const double* c,
                            Py_ssize_t lda, double* A) noexcept nogil
    void gmm_center_rows_fd(const float* X, Py_ssize_t n, Py_ssize_t D, const float* c,
                            Py_ssize_t lda, double* A) noexcept nogil


cdef struct TiedScratch:
    void* y           # (n, D) data: the whitened rows of the block
    void* zero        # (D,) data: zeros, the shift of the whitened rows' features
    double* Z         # (n + ld) ld: x - c in double (rows padded with zeros to ld), then
                      # scaled by sqrt(w) for the scatter, then its tiles
    double* A         # (ROWS + 3, lda) the feature rows [y, ||y||^2] of ROWS rows at a time
    double* lpt       # (K, ROWS) log-densities, component-major, then responsibilities
    double* row_max   # (3 ROWS,) _normalize_cols
    double* C         # (K, max(lda, ld)) the block's sums of R^T (X - c)
    float* yf         # (ROWS (K + 1),) the float32 normalisation (float32 data)
    Py_ssize_t* idx   # (K + 9 + K ROWS,) _linear_moments' lists
    double* rw        # (K ROWS + 8,) their responsibilities


cdef inline Py_ssize_t _tied_ld(Py_ssize_t D) noexcept nogil:
    """Columns of a row of x - c: a multiple of 4 for the moments' tiles, of 8 for the
    rank update's from SMALL_D features on."""
    return gmm_full_ld8(D) if D >= SMALL_D else (D + 3) // 4 * 4


cdef TiedScratch _tied_layout(void* base, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                              Py_ssize_t fsize, Py_ssize_t* nbytes) noexcept nogil:
    cdef Arena a = _arena(base)
    cdef TiedScratch t
    cdef Py_ssize_t ld = _tied_ld(D), lda = _spherical_lda(D), S = GMM_DIAG_ROWS
    t.y = _take(&a, n * D * fsize)
    t.zero = _take(&a, D * fsize)
    t.Z = <double*> _take(&a, (n + ld) * ld * sizeof(double))
    t.A = <double*> _take(&a, (S + 3) * lda * sizeof(double))
    t.lpt = <double*> _take(&a, K * S * sizeof(double))
    t.row_max = <double*> _take(&a, 3 * S * sizeof(double))
    t.C = <double*> _take(&a, K * max(lda, ld) * sizeof(double))
    t.yf = <float*> _take(&a, S * (K + 1) * sizeof(float)) if fsize == sizeof(float) else NULL
    t.idx = <Py_ssize_t*> _take(&a, (K + 9 + K * S) * sizeof(Py_ssize_t))
    t.rw = <double*> _take(&a, (K * S + 8) * sizeof(double))
    nbytes[0] = a.used
    return t


cdef Py_ssize_t _tied_scratch(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K,
                              Py_ssize_t fsize) noexcept nogil:
    cdef Py_ssize_t nbytes
    _tied_layout(NULL, B, D, K, fsize, &nbytes)
    return nbytes


cdef void _tied_whiten(const Model* m, const floating* X, Py_ssize_t n,
                       floating* Z) noexcept nogil:
    """Z (n, D) := (X - c) U, the whitened rows (in the data's type)."""
    cdef Py_ssize_t i, j, l, D = m.D
    cdef const floating* c = <const floating*> m.shift
    cdef const floating* U = <const floating*> m.chol
    cdef floating* z
    cdef double y
    if floating is double:
        gmm_center_rows_d(X, n, D, c, Z)
    else:
        gmm_center_rows_f(X, n, D, c, Z)
    if D < SMALL_D:
        # in place, last column first: y_j needs z_0..z_j only (a BLAS call would cost
        # more than these few products)
        for i in range(n):
            z = Z + i * D
            for j in range(D - 1, -1, -1):
                y = 0.0
                for l in range(j + 1):
                    y += z[l] * U[l * D + j]
                z[j] = <floating> y
    else:
        _trmm_upper_right(<int> n, <int> D, U, Z)


cdef inline void _tied_rows(const floating* Y, Py_ssize_t rows, Py_ssize_t D,
                            const floating* zero, Py_ssize_t lda, double* A) noexcept nogil:
    """A := [y, ||y||^2, 0 ...] in double (csrc/shared_shift.h's 'spherical' rows of the
    whitened rows about 0: exact copies)."""
    if floating is double:
        gmm_sph_rows_d(Y, rows, D, zero, lda, A)
    else:
        gmm_sph_rows_f(Y, rows, D, zero, lda, A)


cdef void _tied_logprob(const Model* m, const floating* X, Py_ssize_t n, double* lpt,
                        void* scratch) noexcept nogil:
    """lpt (K x n): the statistics' pass's whitening, rows and tiles (so the fit's
    log-densities to the bit)."""
    cdef Py_ssize_t nbytes, sb, i0, rows, D = m.D, K = m.K, S = GMM_DIAG_ROWS
    cdef Py_ssize_t lda = _spherical_lda(D)
    cdef TiedScratch t = _tied_layout(scratch, n, D, K, sizeof(floating), &nbytes)
    cdef floating* Y = <floating*> t.y
    memset(t.zero, 0, D * sizeof(floating))
    _tied_whiten(m, X, n, Y)
    for sb in range((n + S - 1) // S):
        i0 = sb * S
        rows = min(S, n - i0)
        _tied_rows(Y + i0 * D, rows, D, <const floating*> t.zero, lda, t.A)
        gmm_diag_lp(m.coef, gmm_diag_ldw(K), K, D + 1, t.A, rows, lda, lpt + i0, n)


cdef Py_ssize_t _tied_stats(const Model* m, const floating* X, const double* w,
                            Py_ssize_t n, Sums* s, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes, i, j, k, sb, i0, rows, bad, D = m.D, K = m.K
    cdef Py_ssize_t S = GMM_DIAG_ROWS, lda = _spherical_lda(D), ld = _tied_ld(D)
    cdef TiedScratch t = _tied_layout(scratch, n, D, K, sizeof(floating), &nbytes)
    cdef const floating* c = <const floating*> m.shift
    cdef floating* Y = <floating*> t.y
    cdef double r
    cdef double* Z = t.Z    # (n, ld) x - c in double
    cdef const double* wi
    memset(t.zero, 0, D * sizeof(floating))
    memset(t.C, 0, K * ld * sizeof(double))
    _tied_whiten(m, X, n, Y)
    if floating is double:
        gmm_center_rows_dd(X, n, D, c, ld, Z)
    else:
        gmm_center_rows_fd(X, n, D, c, ld, Z)
    for sb in range((n + S - 1) // S):
        i0 = sb * S
        rows = min(S, n - i0)
        _tied_rows(Y + i0 * D, rows, D, <const floating*> t.zero, lda, t.A)
        gmm_diag_lp(m.coef, gmm_diag_ldw(K), K, D + 1, t.A, rows, lda, t.lpt, rows)
        wi = w + i0 if w != NULL else NULL
        bad = _normalize_cols(t.lpt, rows, K, wi, s.L, t.row_max, t.yf)
        if bad >= 0:
            return i0 + bad
        _linear_moments(t.lpt, K, Z + i0 * ld, rows, ld, t.C, s.N, t.idx, t.rw)
    for k in range(K):
        for j in range(D):
            s.S1[k * D + j] += t.C[k * ld + j]
    if w != NULL:
        for i in range(n):
            r = sqrt(w[i])
            for j in range(D):
                Z[i * ld + j] *= r
    if D < SMALL_D:
        _scatter_lower_rows(Z, n, D, ld, s.S2)
    else:
        gmm_rank_update_d(Z, n, D, s.S2, Z + n * ld)
    return -1


def tied_weights_shape(Py_ssize_t D, Py_ssize_t K):
    """Shape of the 'tied' weights Wt: (D + 2, K rounded up to 4)."""
    return (D + 2, gmm_diag_ldw(K))


def _tied_slots(Py_ssize_t K, Py_ssize_t D, dtype):
    return {"shift": ((D,), dtype), "chol": ((1, D, D), dtype),
            "coef": (tied_weights_shape(D, K), F64)}
