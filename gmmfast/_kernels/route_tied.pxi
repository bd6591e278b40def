# Route 'tied': one factor U for every component, so the rows are whitened once,
# y = (x - c) U, and the log-density of component k is a distance in that space to the
# whitened mean v_k = (mu_k - c) U. The statistics: S1 += R^T (X - c) and the data's
# scatter about c, sum_i w_i (x_i - c)(x_i - c)^T, which does not depend on R.
#
# Reads: cst; shift (data); whitened_means (data, (K, D)); chol (data, (1, D, D)).

cdef struct TiedScratch:
    double* lp        # (n, K) weighted responsibilities
    double* lpt       # (K, n) log-densities, then responsibilities, component-major
    double* norm      # (3n,) the normalisation's maxima, scales and lse
    void* z           # (n, D) data: the whitened rows
    void* zt          # (D, n) data: the same, transposed
    double* A         # (n, D) x - c in double, then scaled by sqrt(w)
    double* Z         # (n + ld8) ld8: A's rows padded for the rank update, then its tiles


cdef TiedScratch _tied_layout(void* base, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                              Py_ssize_t fsize, Py_ssize_t* nbytes) noexcept nogil:
    cdef Arena a = _arena(base)
    cdef TiedScratch t
    cdef Py_ssize_t ld8 = gmm_full_ld8(D)
    t.lp = <double*> _take(&a, n * K * sizeof(double))
    t.lpt = <double*> _take(&a, n * K * sizeof(double))
    t.norm = <double*> _take(&a, 3 * n * sizeof(double))
    t.z = _take(&a, n * D * fsize)
    t.zt = _take(&a, n * D * fsize)
    t.A = <double*> _take(&a, n * D * sizeof(double))
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


cdef void _tied_logprob_cols(const Model* m, const floating* Z, Py_ssize_t n,
                             double* lpt, floating* zt) noexcept nogil:
    """lpt (K, n), component-major, from the whitened rows Z: per row and component
    q = sum_j (z_j - v_kj)^2 in the order of j, lp = cst_k - 0.5 q. Loops over the rows
    innermost (Z transposed into zt, (D, n)), which vectorise."""
    cdef Py_ssize_t i, i0, j, k, D = m.D, K = m.K
    cdef const floating* V = <const floating*> m.whitened_means
    cdef double v, d, ck
    cdef double* q
    for i0 in range(0, n, 8):   # eight rows at a time (GMM_TRANSPOSE_ROWS)
        for j in range(D):
            for i in range(i0, min(n, i0 + 8)):
                zt[j * n + i] = Z[i * D + j]
    for k in range(K):
        q = lpt + k * n
        for i in range(n):
            q[i] = 0.0
        for j in range(D):
            v = V[k * D + j]
            for i in range(n):
                d = <double> zt[j * n + i] - v
                q[i] += d * d
        ck = m.cst[k]
        for i in range(n):
            q[i] = ck - 0.5 * q[i]


cdef void _tied_logprob(const Model* m, const floating* X, Py_ssize_t n, double* lp,
                        void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes, i, i0, i1, k, K = m.K
    cdef TiedScratch t = _tied_layout(scratch, n, m.D, K, sizeof(floating), &nbytes)
    _tied_whiten(m, X, n, <floating*> t.z)
    _tied_logprob_cols(m, <floating*> t.z, n, t.lpt, <floating*> t.zt)
    for i0 in range(0, n, 8):   # eight rows at a time (GMM_TRANSPOSE_ROWS)
        i1 = min(n, i0 + 8)
        for k in range(K):
            for i in range(i0, i1):
                lp[i * K + k] = t.lpt[k * n + i]


cdef Py_ssize_t _tied_stats(const Model* m, const floating* X, const double* w,
                            Py_ssize_t n, Sums* s, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes, i, i0, i1, j, k, D = m.D, K = m.K, ld = gmm_full_ld8(m.D)
    cdef TiedScratch t = _tied_layout(scratch, n, D, K, sizeof(floating), &nbytes)
    cdef const floating* c = <const floating*> m.shift
    cdef double r
    cdef double* lse = t.norm + 2 * n
    _tied_whiten(m, X, n, <floating*> t.z)
    _tied_logprob_cols(m, <floating*> t.z, n, t.lpt, <floating*> t.zt)
    # the row-by-row log-sum-exp's operations (_normalize_rows), vectorised over rows
    gmm_normalize_cols_d(t.lpt, n, K, NULL, lse, t.norm, t.norm + n)
    for i in range(n):
        if not isfinite(lse[i]):
            return i
    s.L[0] += gmm_sum(lse, n) if w == NULL else gmm_dot(w, lse, n)
    # weighted, row-major, N: as _responsibilities (N_k adds the rows in order), eight
    # rows at a time (see GMM_TRANSPOSE_ROWS in csrc/normalize.h)
    for i0 in range(0, n, 8):
        i1 = min(n, i0 + 8)
        for k in range(K):
            for i in range(i0, i1):
                t.lp[i * K + k] = t.lpt[k * n + i] * (1.0 if w == NULL else w[i])
                s.N[k] += t.lp[i * K + k]
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
