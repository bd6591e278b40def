# Route 'tied': one factor U for every component, so the rows are whitened once,
# y = (x - c) U, and the log-density of component k is a distance in that space to the
# whitened mean v_k = (mu_k - c) U. The statistics: S1 += R^T (X - c) and the data's
# scatter about c, sum_i w_i (x_i - c)(x_i - c)^T, which does not depend on R.
#
# Reads: cst; shift (data); whitened_means (data, (K, D)); chol (data, (1, D, D)).

cdef struct TiedScratch:
    double* lp        # (n, K) log-densities, then weighted responsibilities
    double* norm      # (2n,) _normalize_rows
    void* z           # (n, D) data: the whitened rows
    double* A         # (n, D) x - c in double, then scaled by sqrt(w)
    double* Z         # (n + ld8) ld8: A's rows padded for the rank update, then its tiles


cdef TiedScratch _tied_layout(void* base, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                              Py_ssize_t fsize, Py_ssize_t* nbytes) noexcept nogil:
    cdef Arena a = _arena(base)
    cdef TiedScratch t
    cdef Py_ssize_t ld8 = gmm_full_ld8(D)
    t.lp = <double*> _take(&a, n * K * sizeof(double))
    t.norm = <double*> _take(&a, 2 * n * sizeof(double))
    t.z = _take(&a, n * D * fsize)
    t.A = <double*> _take(&a, n * D * sizeof(double))
    t.Z = <double*> _take(&a, (n + ld8) * ld8 * sizeof(double))
    nbytes[0] = a.used
    return t


cdef Py_ssize_t _tied_scratch(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K,
                              Py_ssize_t fsize) noexcept nogil:
    cdef Py_ssize_t nbytes
    _tied_layout(NULL, B, D, K, fsize, &nbytes)
    return nbytes


cdef void _tied_logprob(const Model* m, const floating* X, Py_ssize_t n, double* lp,
                        void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes, i, j, l, k, D = m.D, K = m.K
    cdef TiedScratch t = _tied_layout(scratch, n, D, K, sizeof(floating), &nbytes)
    cdef const floating* c = <const floating*> m.shift
    cdef const floating* V = <const floating*> m.whitened_means
    cdef const floating* U = <const floating*> m.chol
    cdef floating* Z = <floating*> t.z
    cdef floating* z
    cdef double q, d, y
    for i in range(n):
        for j in range(D):
            Z[i * D + j] = X[i * D + j] - c[j]
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
    for i in range(n):
        z = Z + i * D
        for k in range(K):
            q = 0.0
            for j in range(D):
                d = <double> z[j] - V[k * D + j]
                q += d * d
            lp[i * K + k] = m.cst[k] - 0.5 * q


cdef Py_ssize_t _tied_stats(const Model* m, const floating* X, const double* w,
                            Py_ssize_t n, Sums* s, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes, i, j, bad, D = m.D, K = m.K, ld = gmm_full_ld8(m.D)
    cdef TiedScratch t = _tied_layout(scratch, n, D, K, sizeof(floating), &nbytes)
    cdef const floating* c = <const floating*> m.shift
    cdef double r
    _tied_logprob(m, X, n, t.lp, scratch)
    bad = _responsibilities(t.lp, n, K, w, s, t.norm)
    if bad >= 0:
        return bad
    for i in range(n):
        for j in range(D):
            t.A[i * D + j] = <double> X[i * D + j] - c[j]
    _add_resp_products(t.lp, n, K, D, t.A, s.S1)
    if w != NULL:
        for i in range(n):
            r = sqrt(w[i])
            for j in range(D):
                t.A[i * D + j] *= r
    if D < SMALL_D:
        _scatter_lower_rows(t.A, n, D, D, s.S2)
    else:   # the rows padded to ld for gmm_rank_update_d
        for i in range(n):
            for j in range(D):
                t.Z[i * ld + j] = t.A[i * D + j]
            for j in range(D, ld):
                t.Z[i * ld + j] = 0.0
        gmm_rank_update_d(t.Z, n, D, s.S2, t.Z + n * ld)
    return -1


def _tied_slots(Py_ssize_t K, Py_ssize_t D, dtype):
    return {"cst": ((K,), F64), "shift": ((D,), dtype),
            "whitened_means": ((K, D), dtype), "chol": ((1, D, D), dtype)}
