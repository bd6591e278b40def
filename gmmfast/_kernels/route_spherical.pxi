# Route 'spherical': ||x - mu_k||^2 p_k = p_k (||x - c||^2 - 2 (x - c).(mu_k - c)
# + ||mu_k - c||^2), the cross term one GEMM for all components (the last term is in
# cst). Statistics: S1 += R^T (X - c), S2 += R^T ||X - c||^2.
#
# Reads: cst (with -0.5 p_k ||mu_k - c||^2); shift (data); centred_means (data, mu - c);
# prec (K,) the precisions p_k.

cdef struct SphericalScratch:
    double* lp        # (n, K) log-densities, then weighted responsibilities
    double* norm      # _normalize_rows' scratch
    void* z           # (n, D) data: x - c
    void* g           # (n, K) data: (x - c).(mu_k - c)
    double* xx        # (n,) ||x - c||^2
    double* A         # (n D + n,) x - c in double, then ||x - c||^2


cdef SphericalScratch _spherical_layout(void* base, Py_ssize_t n, Py_ssize_t D,
                                        Py_ssize_t K, Py_ssize_t fsize,
                                        Py_ssize_t* nbytes) noexcept nogil:
    cdef Arena a = _arena(base)
    cdef SphericalScratch t
    t.lp = <double*> _take(&a, n * K * sizeof(double))
    t.norm = <double*> _take(&a, _normalize_rows_scratch(n, K) * sizeof(double))
    t.z = _take(&a, n * D * fsize)
    t.g = _take(&a, n * K * fsize)
    t.xx = <double*> _take(&a, n * sizeof(double))
    t.A = <double*> _take(&a, (n * D + n) * sizeof(double))
    nbytes[0] = a.used
    return t


cdef Py_ssize_t _spherical_scratch(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K,
                                   Py_ssize_t fsize) noexcept nogil:
    cdef Py_ssize_t nbytes
    _spherical_layout(NULL, B, D, K, fsize, &nbytes)
    return nbytes


cdef void _spherical_logprob(const Model* m, const floating* X, Py_ssize_t n,
                             double* lp, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes, i, j, k, D = m.D, K = m.K
    cdef SphericalScratch t = _spherical_layout(scratch, n, D, K, sizeof(floating),
                                                &nbytes)
    cdef const floating* c = <const floating*> m.shift
    cdef floating* Z = <floating*> t.z
    cdef floating* G = <floating*> t.g
    cdef double s
    cdef floating d
    for i in range(n):
        s = 0.0
        for j in range(D):
            d = X[i * D + j] - c[j]
            Z[i * D + j] = d
            s += <double> d * d
        t.xx[i] = s
    _gemm_rm(False, True, <int> n, <int> K, <int> D, <floating> 1.0,
             Z, <int> D, <const floating*> m.centred_means, <int> D, <floating> 0.0, G,
             <int> K)
    for i in range(n):
        for k in range(K):
            lp[i * K + k] = m.cst[k] - 0.5 * m.prec[k] * (t.xx[i] - 2.0 * G[i * K + k])


cdef Py_ssize_t _spherical_stats(const Model* m, const floating* X, const double* w,
                                 Py_ssize_t n, Sums* s, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes, i, j, bad, D = m.D, K = m.K
    cdef SphericalScratch t = _spherical_layout(scratch, n, D, K, sizeof(floating),
                                                &nbytes)
    cdef const floating* c = <const floating*> m.shift
    cdef double d, q
    _spherical_logprob(m, X, n, t.lp, scratch)
    bad = _responsibilities(t.lp, n, K, w, s, t.norm)
    if bad >= 0:
        return bad
    for i in range(n):
        q = 0.0
        for j in range(D):
            d = <double> X[i * D + j] - c[j]
            t.A[i * D + j] = d
            q += d * d
        t.A[n * D + i] = q
    _add_resp_products(t.lp, n, K, D, t.A, s.S1)
    _add_resp_products(t.lp, n, K, 1, t.A + n * D, s.S2)
    return -1


def _spherical_slots(Py_ssize_t K, Py_ssize_t D, dtype):
    return {"cst": ((K,), F64), "shift": ((D,), dtype),
            "centred_means": ((K, D), dtype), "prec": ((K,), F64)}
