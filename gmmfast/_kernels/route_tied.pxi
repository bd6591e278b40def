# Route 'tied': one factor U for every component, so the rows are whitened once,
# y = (x - c) U, and the log-density of component k is a distance in that space to the
# whitened mean v_k = (mu_k - c) U. The statistics: S1 += R^T (X - c) and the data's
# scatter about c, sum_i w_i (x_i - c)(x_i - c)^T, which does not depend on R.
#
# Reads: cst; shift (data); whitened_means (data, (K, D)); chol (data, (1, D, D)).

cdef extern from "csrc/kernels.h":
    # csrc/shared_shift.h
    void gmm_rows_to_cols_d(const double* Z, Py_ssize_t n, Py_ssize_t D,
                            double* zt) noexcept nogil
    void gmm_rows_to_cols_fd(const float* Z, Py_ssize_t n, Py_ssize_t D,
                             double* zt) noexcept nogil
    void gmm_tied_lp_d(const double* zt, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                       const double* V, const double* cst, double* lpt) noexcept nogil
    void gmm_tied_lp_fd(const double* zt, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                        const float* V, const double* cst, double* lpt) noexcept nogil
    void gmm_center_rows_d(const double* X, Py_ssize_t n, Py_ssize_t D, const double* c,
                           double* Z) noexcept nogil
    void gmm_center_rows_f(const float* X, Py_ssize_t n, Py_ssize_t D, const float* c,
                           float* Z) noexcept nogil
    void gmm_center_rows_dd(const double* X, Py_ssize_t n, Py_ssize_t D, const double* c,
                            Py_ssize_t lda, double* A) noexcept nogil
    void gmm_center_rows_fd(const float* X, Py_ssize_t n, Py_ssize_t D, const float* c,
                            Py_ssize_t lda, double* A) noexcept nogil


cdef struct TiedScratch:
    double* lp        # (n, K) weighted responsibilities
    double* lpt       # (K, n) log-densities, then responsibilities, component-major
    double* norm      # (3n,) the normalisation's maxima, scales and lse
    void* z           # (n, D) data: the whitened rows
    double* zt        # (D, n) the same, transposed (in double: exact for float32)
    double* Z         # (n + ld8) ld8: x - c in double (rows padded to ld8 from SMALL_D
                      # features on, for the rank update), scaled by sqrt(w), then tiles


cdef TiedScratch _tied_layout(void* base, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                              Py_ssize_t fsize, Py_ssize_t* nbytes) noexcept nogil:
    cdef Arena a = _arena(base)
    cdef TiedScratch t
    cdef Py_ssize_t ld8 = gmm_full_ld8(D)
    t.lp = <double*> _take(&a, n * K * sizeof(double))
    t.lpt = <double*> _take(&a, n * K * sizeof(double))
    t.norm = <double*> _take(&a, 3 * n * sizeof(double))
    t.z = _take(&a, n * D * fsize)
    t.zt = <double*> _take(&a, n * D * sizeof(double))
    t.Z = <double*> _take(&a, (n + ld8) * ld8 * sizeof(double))
    nbytes[0] = a.used
    return t


cdef Py_ssize_t _tied_scratch(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K,
                              Py_ssize_t fsize) noexcept nogil:
    cdef Py_ssize_t nbytes
    _tied_layout(NULL, B, D, K, fsize, &nbytes)
    return nbytes


cdef void _tied_whiten(const Model* m, const floating* X, Py_ssize_t n,
                       floating* Z) noexcept nogil:
    """Z (n, D) := (X - c) U, the whitened rows."""
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


cdef void _tied_logprob_cols(const Model* m, const floating* Z, Py_ssize_t n,
                             double* lpt, double* zt) noexcept nogil:
    """lpt (K, n), component-major, from the whitened rows Z: per row and component
    q = sum_j (z_j - v_kj)^2 in the order of j, lp = cst_k - 0.5 q, in double. Z is
    transposed into zt (D, n) so that the loops run over the rows (csrc/shared_shift.h,
    the same operations in every build)."""
    if floating is double:
        gmm_rows_to_cols_d(Z, n, m.D, zt)
        gmm_tied_lp_d(zt, n, m.D, m.K, <const double*> m.whitened_means, m.cst, lpt)
    else:
        gmm_rows_to_cols_fd(Z, n, m.D, zt)
        gmm_tied_lp_fd(zt, n, m.D, m.K, <const float*> m.whitened_means, m.cst, lpt)


cdef void _tied_logprob(const Model* m, const floating* X, Py_ssize_t n, double* lpt,
                        void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes
    cdef TiedScratch t = _tied_layout(scratch, n, m.D, m.K, sizeof(floating), &nbytes)
    _tied_whiten(m, X, n, <floating*> t.z)
    _tied_logprob_cols(m, <floating*> t.z, n, lpt, t.zt)


cdef Py_ssize_t _tied_stats(const Model* m, const floating* X, const double* w,
                            Py_ssize_t n, Sums* s, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes, i, j, bad, D = m.D, K = m.K
    cdef Py_ssize_t ld = gmm_full_ld8(D) if D >= SMALL_D else D
    cdef TiedScratch t = _tied_layout(scratch, n, D, K, sizeof(floating), &nbytes)
    cdef const floating* c = <const floating*> m.shift
    cdef double r
    cdef double* A = t.Z    # (n, ld) x - c in double (padded for gmm_rank_update_d)
    _tied_logprob(m, X, n, t.lpt, scratch)
    bad = _responsibilities(t.lpt, n, K, w, s, t.norm, t.lp)   # row-major, for the GEMM
    if bad >= 0:
        return bad
    if floating is double:
        gmm_center_rows_dd(X, n, D, c, ld, A)
    else:
        gmm_center_rows_fd(X, n, D, c, ld, A)
    _gemm_rm(True, False, <int> K, <int> D, <int> n, <double> 1.0,
             t.lp, <int> K, A, <int> ld, <double> 1.0, s.S1, <int> D)
    if w != NULL:
        for i in range(n):
            r = sqrt(w[i])
            for j in range(D):
                A[i * ld + j] *= r
    if D < SMALL_D:
        _scatter_lower_rows(A, n, D, ld, s.S2)
    else:
        gmm_rank_update_d(A, n, D, s.S2, A + n * ld)
    return -1


def _tied_slots(Py_ssize_t K, Py_ssize_t D, dtype):
    return {"cst": ((K,), F64), "shift": ((D,), dtype),
            "whitened_means": ((K, D), dtype), "chol": ((1, D, D), dtype)}
