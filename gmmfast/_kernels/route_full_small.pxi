# Route 'full', few features (D < SMALL_D): the whole block feature-major in C
# (csrc/small_full.h), where a row's D features are too few to vectorise over.
#
# Reads: cst; means64 and chol64, the statistics' shifts and the factors in double
# (for float32 data the factors rounded to float32 first, as the log-densities read
# them); means and chol in the data's dtype, for the per-sample outputs.

cdef struct FullSmallScratch:
    void* block       # small_full.h's block (gmm_full_small_scratch bytes)
    void* z           # (n, D) data: a centred row per row, for the per-sample outputs


cdef FullSmallScratch _full_small_layout(void* base, Py_ssize_t n, Py_ssize_t D,
                                         Py_ssize_t K, Py_ssize_t fsize,
                                         Py_ssize_t* nbytes) noexcept nogil:
    cdef Arena a = _arena(base)
    cdef FullSmallScratch t
    t.block = _take(&a, gmm_full_small_scratch(n, D, K, fsize))
    t.z = _take(&a, n * D * fsize)
    nbytes[0] = a.used
    return t


cdef Py_ssize_t _full_small_scratch(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K,
                                    Py_ssize_t fsize) noexcept nogil:
    cdef Py_ssize_t nbytes
    _full_small_layout(NULL, B, D, K, fsize, &nbytes)
    return nbytes


cdef Py_ssize_t _full_small_stats(const Model* m, const floating* X, const double* w,
                                  Py_ssize_t n, Sums* s, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes
    cdef FullSmallScratch t = _full_small_layout(scratch, n, m.D, m.K, sizeof(floating),
                                                 &nbytes)
    if floating is float:
        return gmm_full_small_block_f(X, w, n, m.D, m.K, m.cst, m.means64, m.chol64,
                                      s.N, s.S1, s.S2, s.L, t.block)
    else:
        return gmm_full_small_block_d(X, w, n, m.D, m.K, m.cst, m.means64, m.chol64,
                                      s.N, s.S1, s.S2, s.L, t.block)


cdef void _full_small_logprob(const Model* m, const floating* X, Py_ssize_t n,
                              double* lpt, void* scratch) noexcept nogil:
    """lpt (K x n) for the per-sample outputs: the same quadratic form as small_full.h
    (y_j summed over l <= j, q over j), in the data's type. (A second copy because
    small_full.h's is fused with the block's statistics.)"""
    cdef Py_ssize_t nbytes, i, j, l, k, D = m.D, K = m.K
    cdef FullSmallScratch t = _full_small_layout(scratch, n, D, K, sizeof(floating),
                                                 &nbytes)
    cdef const floating* M = <const floating*> m.means
    cdef const floating* U = <const floating*> m.chol
    cdef floating* Z = <floating*> t.z
    cdef const floating* mu
    cdef const floating* Uk
    cdef floating* z
    cdef double q, y
    for k in range(K):
        mu = M + k * D
        Uk = U + k * D * D
        for i in range(n):
            z = Z + i * D
            for j in range(D):
                z[j] = X[i * D + j] - mu[j]
            q = 0.0
            for j in range(D):
                y = 0.0
                for l in range(j + 1):
                    y += z[l] * Uk[l * D + j]
                q += y * y
            lpt[k * n + i] = m.cst[k] - 0.5 * q


def _full_small_slots(Py_ssize_t K, Py_ssize_t D, dtype):
    return {"cst": ((K,), F64), "means": ((K, D), dtype), "chol": ((K, D, D), dtype),
            "means64": ((K, D), F64), "chol64": ((K, D, D), F64)}
