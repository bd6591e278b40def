# Route 'spherical': with z = x - c and p_k the precision, the log-density is linear in
# the feature rows A_i = [z, ||z||^2] (csrc/shared_shift.h):
#
#     lp_ik = cst_k + A_i . [p_k (mu_k - c) ; -0.5 p_k],   [S1 | S2]_k += sum_i r_ik A_i
#
# with cst_k = log w_k - D/2 log 2 pi + D log u_k - 0.5 p_k ||mu_k - c||^2: the pass of
# route 'diag' (route_diag.pxi, csrc/diag_products.h) on D + 1 features instead of 2D.
# The rows in double for float32 data too (x - c of two float32 numbers is exact in
# double; the expansion about c needs double), and, as for 'diag', the normalisation
# between the products in float32 for float32 data.
#
# Reads: shift (data); coef, Wt ((D + 2) x ldw) = [P (M - c) ; -0.5 P ; cst]^T,
# zero-padded to ldw = K rounded up to 4 (spherical_weights_shape).

cdef extern from "csrc/kernels.h":
    # csrc/shared_shift.h
    void gmm_sph_rows_d(const double* X, Py_ssize_t n, Py_ssize_t D, const double* c,
                        Py_ssize_t lda, double* A) noexcept nogil
    void gmm_sph_rows_f(const float* X, Py_ssize_t n, Py_ssize_t D, const float* c,
                        Py_ssize_t lda, double* A) noexcept nogil


cdef inline Py_ssize_t _spherical_lda(Py_ssize_t D) noexcept nogil:
    """Columns of a 'spherical' feature row: D + 1 rounded up to 4 (the tiles' width)."""
    return (D + 4) // 4 * 4


cdef Py_ssize_t _spherical_scratch(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K,
                                   Py_ssize_t fsize) noexcept nogil:
    cdef Py_ssize_t nbytes
    _linear_layout(NULL, _spherical_lda(D), K, fsize, &nbytes)
    return nbytes


cdef void _spherical_logprob(const Model* m, const floating* X, Py_ssize_t n,
                             double* lpt, void* scratch) noexcept nogil:
    _linear_logprob(m, X, n, lpt, scratch, m.D + 1, _spherical_lda(m.D), True)


cdef Py_ssize_t _spherical_stats(const Model* m, const floating* X, const double* w,
                                 Py_ssize_t n, Sums* s, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes, j, k, bad, D = m.D, K = m.K, lda = _spherical_lda(D)
    cdef DiagScratch t = _linear_layout(scratch, lda, K, sizeof(floating), &nbytes)
    bad = _linear_stats(m, X, w, n, s, scratch, D + 1, lda, True)
    if bad >= 0:
        return bad
    for k in range(K):   # C holds per component [the D first moments | the second]
        for j in range(D):
            s.S1[k * D + j] += t.C[k * lda + j]
        s.S2[k] += t.C[k * lda + D]
    return -1


def spherical_weights_shape(Py_ssize_t D, Py_ssize_t K):
    """Shape of the 'spherical' weights Wt: (D + 2, K rounded up to 4)."""
    return (D + 2, gmm_diag_ldw(K))


def _spherical_slots(Py_ssize_t K, Py_ssize_t D, dtype):
    return {"shift": ((D,), dtype), "coef": (spherical_weights_shape(D, K), F64)}
