# The pieces every route shares: scratch arenas, BLAS on row-major arrays, the
# row-major log-sum-exp, and the statistics that follow from responsibilities.
# Included by _core.pyx.

# ---------------------------------------------------------------------------------
# Scratch

cdef inline void* _take(Arena* a, Py_ssize_t nbytes) noexcept nogil:
    """The next piece of nbytes from the arena (NULL when only counting), each piece
    starting on a cache line."""
    cdef void* p = NULL if a.base == NULL else <void*> (a.base + a.used)
    a.used += (nbytes + 63) // 64 * 64
    return p


cdef inline Arena _arena(void* base) noexcept nogil:
    cdef Arena a
    a.base = <char*> base
    a.used = 0
    return a


# ---------------------------------------------------------------------------------
# BLAS on row-major arrays (row-major A is column-major A^T)

cdef inline void _gemm_rm(bint trans_a, bint trans_b, int m, int n, int k,
                          floating alpha, const floating* A, int lda,
                          const floating* B, int ldb, floating beta,
                          floating* C, int ldc) noexcept nogil:
    """C (m x n) = alpha op(A) op(B) + beta C, all row-major."""
    cdef char ta = b'T' if trans_b else b'N'
    cdef char tb = b'T' if trans_a else b'N'
    if floating is float:
        sgemm(&ta, &tb, &n, &m, &k, &alpha, <float*> B, &ldb, <float*> A, &lda,
              &beta, C, &ldc)
    else:
        dgemm(&ta, &tb, &n, &m, &k, &alpha, <double*> B, &ldb, <double*> A, &lda,
              &beta, C, &ldc)


cdef inline void _trmm_upper_right(int n, int d, const floating* U,
                                   floating* Z) noexcept nogil:
    """Z (n x d, row-major) := Z U with U (d x d) upper triangular, row-major."""
    cdef char side = b'L', uplo = b'L', trans = b'N', diag = b'N'
    cdef floating one = 1.0
    if floating is float:
        strmm(&side, &uplo, &trans, &diag, &d, &n, &one, <float*> U, &d, Z, &d)
    else:
        dtrmm(&side, &uplo, &trans, &diag, &d, &n, &one, <double*> U, &d, Z, &d)


# ---------------------------------------------------------------------------------
# Log-sum-exp normalisations. Row-major here (routes whose log-densities come a row at
# a time, and every per-sample output); component-major in csrc/normalize.h.

cdef Py_ssize_t _normalize_cols(
    double* lpt,            # INOUT (K, n): weighted log-prob in, w_i r_ki out
    Py_ssize_t n, Py_ssize_t K,
    const double* w,        # IN (n,) sample weights, or NULL for ones
    double* L,              # INOUT += sum_i w_i lse_i
    double* scratch,        # scratch (3n,)
    float* yf,              # NULL, or scratch (n (K + 1) floats) for float32 data
) noexcept nogil:
    """Component-major log-sum-exp, vectorised over the rows: in double, or for float32
    data (yf given) in float32 from lpt in double, as scikit-learn's float32 does it.
    Returns the first row whose log-likelihood is not finite (L then unchanged), or -1."""
    cdef Py_ssize_t i
    cdef double* lse = scratch + 2 * n
    if yf == NULL:
        gmm_normalize_cols_d(lpt, n, K, w, lse, scratch, scratch + n)
    else:
        gmm_normalize_cols_fd(lpt, n, K, w, lse, scratch, yf, yf + n)
    for i in range(n):
        if not isfinite(lse[i]):
            return i
    L[0] += gmm_sum(lse, n) if w == NULL else gmm_dot(w, lse, n)
    return -1


cdef Py_ssize_t _responsibilities(
    double* lpt,            # INOUT (K, n): weighted log-prob in, responsibilities out
    Py_ssize_t n, Py_ssize_t K, const double* w, Sums* s,
    double* scratch,        # scratch (3n,)
    double* R,              # OUT (n, K) weighted responsibilities w_i r_ik, row-major
) noexcept nogil:
    """The step between a route's log-densities and its statistics, when these read
    the responsibilities by rows: each row's log-sum-exp (the maximum, exp(lp - max),
    the sum over k in order, r = e * (1 / sum), lse = max + log(sum)), vectorised
    over the rows (gmm_normalize_cols_d); L += sum w_i lse_i; then R = w_i r_ik and
    N_k += R[i, k] over the rows in order (gmm_cols_to_rows_w). Returns the first row
    whose log-likelihood is not finite (L then unchanged), or -1."""
    cdef Py_ssize_t i
    cdef double* lse = scratch + 2 * n
    gmm_normalize_cols_d(lpt, n, K, NULL, lse, scratch, scratch + n)
    for i in range(n):
        if not isfinite(lse[i]):
            return i
    s.L[0] += gmm_sum(lse, n) if w == NULL else gmm_dot(w, lse, n)
    gmm_cols_to_rows_w(lpt, n, K, w, R, s.N)
    return -1


# ---------------------------------------------------------------------------------
# Statistics from weighted responsibilities R (n x K, double)

cdef inline void _scatter_lower_rows(const double* Z, Py_ssize_t m, Py_ssize_t D,
                                     Py_ssize_t ld, double* S) noexcept nogil:
    """S (D x D, lower triangle) += Z^T Z over m rows (row stride ld), a row at a time:
    for a few rows or few features, where the tiles of csrc/rank_update.h cost more
    than their work. (The tiles sum the rows into T and add T to S once: another order
    of additions, so the two are not interchangeable bit for bit.)"""
    cdef Py_ssize_t i, a, b
    cdef double za
    for i in range(m):
        for a in range(D):
            za = Z[i * ld + a]
            for b in range(a + 1):
                S[a * D + b] += za * Z[i * ld + b]


cdef inline Py_ssize_t _vech_width(Py_ssize_t D) noexcept nogil:
    """Columns of the 'full' moment rows [z_a z_b (a >= b), z_a]: D(D+1)/2 + D."""
    return D * (D + 1) // 2 + D
