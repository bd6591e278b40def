# Route 'spherical': ||x - mu_k||^2 p_k = p_k (||x - c||^2 - 2 (x - c).(mu_k - c)
# + ||mu_k - c||^2), the cross term one GEMM for all components (the last term is in
# cst). Statistics: S1 += R^T (X - c), S2 += R^T ||X - c||^2.
#
# Reads: cst (with -0.5 p_k ||mu_k - c||^2); shift (data); centred_means (data, mu - c);
# prec (K,) the precisions p_k.

cdef struct SphericalScratch:
    double* lp        # (n, K) log-densities, then weighted responsibilities
    double* lpt       # (K, n) the same, component-major (the statistics' pass)
    double* norm      # (3n,) _responsibilities' scratch
    void* z           # (n, D) data: x - c
    void* g           # (n, K) data: (x - c).(mu_k - c)
    double* xx        # (n,) ||x - c||^2
    double* A         # (n D + n,) float32 data: x - c in double, then ||x - c||^2


cdef SphericalScratch _spherical_layout(void* base, Py_ssize_t n, Py_ssize_t D,
                                        Py_ssize_t K, Py_ssize_t fsize,
                                        Py_ssize_t* nbytes) noexcept nogil:
    cdef Arena a = _arena(base)
    cdef SphericalScratch t
    t.lp = <double*> _take(&a, n * K * sizeof(double))
    t.lpt = <double*> _take(&a, n * K * sizeof(double))
    t.norm = <double*> _take(&a, 3 * n * sizeof(double))
    t.z = _take(&a, n * D * fsize)
    t.g = _take(&a, n * K * fsize)
    t.xx = <double*> _take(&a, n * sizeof(double))
    t.A = <double*> _take(&a, (n * D + n) * sizeof(double)) if fsize == sizeof(float) \
        else NULL
    nbytes[0] = a.used
    return t


cdef Py_ssize_t _spherical_scratch(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K,
                                   Py_ssize_t fsize) noexcept nogil:
    cdef Py_ssize_t nbytes
    _spherical_layout(NULL, B, D, K, fsize, &nbytes)
    return nbytes


cdef void _spherical_cross(const Model* m, const floating* X, Py_ssize_t n,
                           SphericalScratch* t) noexcept nogil:
    """t.z := X - c (data type), t.xx := ||x - c||^2 (double, in the order of the
    features), t.g := (X - c) (M - c)^T (n, K)."""
    cdef Py_ssize_t D = m.D, K = m.K
    cdef const floating* c = <const floating*> m.shift
    cdef floating* Z = <floating*> t.z
    if floating is double:
        gmm_center_rows_d(X, n, D, c, Z, t.xx)
    else:
        gmm_center_rows_f(X, n, D, c, Z, t.xx)
    _gemm_rm(False, True, <int> n, <int> K, <int> D, <floating> 1.0,
             Z, <int> D, <const floating*> m.centred_means, <int> D, <floating> 0.0,
             <floating*> t.g, <int> K)


cdef void _spherical_logprob(const Model* m, const floating* X, Py_ssize_t n,
                             double* lpt, void* scratch) noexcept nogil:
    """lpt (K x n): the statistics' pass's log-densities (csrc/shared_shift.h)."""
    cdef Py_ssize_t nbytes
    cdef SphericalScratch t = _spherical_layout(scratch, n, m.D, m.K, sizeof(floating),
                                                &nbytes)
    _spherical_cross(m, X, n, &t)
    if floating is double:
        gmm_spherical_lp_d(<const double*> t.g, n, m.K, t.xx, m.cst, m.prec, lpt)
    else:
        gmm_spherical_lp_f(<const float*> t.g, n, m.K, t.xx, m.cst, m.prec, lpt)


cdef Py_ssize_t _spherical_stats(const Model* m, const floating* X, const double* w,
                                 Py_ssize_t n, Sums* s, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes, i, j, bad, D = m.D, K = m.K
    cdef SphericalScratch t = _spherical_layout(scratch, n, D, K, sizeof(floating),
                                                &nbytes)
    cdef const floating* c = <const floating*> m.shift
    cdef double d, q
    cdef const double* A
    cdef const double* AA
    # the log-densities, leaving the centred rows and their norms in t.z and t.xx
    _spherical_logprob(m, X, n, t.lpt, scratch)
    bad = _responsibilities(t.lpt, n, K, w, s, t.norm, t.lp)
    if bad >= 0:
        return bad
    if floating is double:
        # x - c and ||x - c||^2 in double are t.z and t.xx already, to the bit
        A = <const double*> t.z
        AA = t.xx
    else:
        # x - c in double and its squared norm (float32: not t.z's float32 rounding)
        gmm_center_rows_fd(X, n, D, c, D, t.A)
        for i in range(n):
            q = 0.0
            for j in range(D):
                d = t.A[i * D + j]
                q += d * d
            t.A[n * D + i] = q
        A = t.A
        AA = t.A + n * D
    _add_resp_products(t.lp, n, K, D, A, s.S1)
    _add_resp_products(t.lp, n, K, 1, AA, s.S2)
    return -1


def _spherical_slots(Py_ssize_t K, Py_ssize_t D, dtype):
    return {"cst": ((K,), F64), "shift": ((D,), dtype),
            "centred_means": ((K, D), dtype), "prec": ((K,), F64)}
