# Route 'full' through moment rows (D >= SMALL_D while every component lies near the
# mixture mean c: _estep.choose_route). With z = x - c, m_k = mu_k - c, P_k = U_k U_k^T,
# the row F = [z_a z_b (a >= b), z_a, 1] (csrc/feature_rows.h) turns both halves of
# the E-step into one GEMM each for all components:
#
#     lp_ik = F_i . W_k,  W_k = [-0.5 P_aa | -P_ab (a > b), P_k m_k, cst_k - 0.5 m_k' P_k m_k]
#     [S2 (lower) | S1 | N]_k += sum_i r_ik F_i
#
# the minimum of flops (the symmetric half of the products) at GEMM speed. The moments
# are about c, not about each mean: the Python layer picks this route only while that
# costs little precision (_estep.MOMENTS_MAX_SPREAD).
#
# In double for float32 data too: expanded in float32, the log-densities would carry
# eps32 times ||x - c||^2 in the precision's metric (~1e-4 with components near the
# spread bound), and the statistics eps32 times the squared distance of the means from
# c (~1e-6 on ordinary data, 30 times scikit-learn's float32 error). The normalisation
# between the GEMMs is float32's own (csrc/normalize.h).
#
# Reads: shift (data); coef, the weights W (K, Q+1), Q+1 = D(D+1)/2 + D + 1.

cdef struct MomentsScratch:
    double* acc       # (K, Q+1) the chunk's [S2 | S1 | N] rows: first, so that every
                      # block of the chunk finds it at the same place
    double* lpt       # (K, n) log-densities, component-major
    double* row_max   # (3n,) _normalize_cols
    double* F         # (n (Q+1) + D,) the moment rows, then one centred row
    float* yf         # (n (K + 1),) the float32 normalisation (float32 data)


cdef MomentsScratch _moments_layout(void* base, Py_ssize_t n, Py_ssize_t D,
                                    Py_ssize_t K, Py_ssize_t fsize,
                                    Py_ssize_t* nbytes) noexcept nogil:
    cdef Arena a = _arena(base)
    cdef MomentsScratch t
    cdef Py_ssize_t Q1 = _vech_width(D) + 1
    t.acc = <double*> _take(&a, K * Q1 * sizeof(double))
    t.lpt = <double*> _take(&a, K * n * sizeof(double))
    t.row_max = <double*> _take(&a, 3 * n * sizeof(double))
    t.F = <double*> _take(&a, (n * Q1 + D) * sizeof(double))
    t.yf = <float*> _take(&a, n * (K + 1) * sizeof(float)) if fsize == sizeof(float) else NULL
    nbytes[0] = a.used
    return t


cdef Py_ssize_t _moments_scratch(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K,
                                 Py_ssize_t fsize) noexcept nogil:
    cdef Py_ssize_t nbytes
    _moments_layout(NULL, B, D, K, fsize, &nbytes)
    return nbytes


cdef void _moments_rows_logprob(const Model* m, const floating* X, Py_ssize_t n,
                                double* lp, bint by_component, double* F) noexcept nogil:
    """lp = F W^T ((n, K), or (K, n) by_component), the moment rows F formed first."""
    cdef Py_ssize_t D = m.D, K = m.K, Q1 = _vech_width(D) + 1
    cdef const floating* c = <const floating*> m.shift
    if floating is double:
        gmm_moment_rows_d(X, n, D, c, F, F + n * Q1)
    else:
        gmm_moment_rows_fd(X, n, D, c, F, F + n * Q1)
    if by_component:
        _gemm_rm(False, True, <int> K, <int> n, <int> Q1, <double> 1.0, m.coef, <int> Q1,
                 F, <int> Q1, <double> 0.0, lp, <int> n)
    else:
        _gemm_rm(False, True, <int> n, <int> K, <int> Q1, <double> 1.0, F, <int> Q1,
                 m.coef, <int> Q1, <double> 0.0, lp, <int> K)


cdef void _moments_logprob(const Model* m, const floating* X, Py_ssize_t n,
                           double* lp, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes
    cdef MomentsScratch t = _moments_layout(scratch, n, m.D, m.K, sizeof(floating),
                                            &nbytes)
    _moments_rows_logprob(m, X, n, lp, False, t.F)


cdef Py_ssize_t _moments_stats(const Model* m, const floating* X, const double* w,
                               Py_ssize_t n, Sums* s, void* scratch) noexcept nogil:
    """lpt (K x n) = W F^T, normalised over the rows, then acc += R F in one GEMM."""
    cdef Py_ssize_t nbytes, bad, K = m.K, Q1 = _vech_width(m.D) + 1
    cdef MomentsScratch t = _moments_layout(scratch, n, m.D, K, sizeof(floating), &nbytes)
    _moments_rows_logprob(m, X, n, t.lpt, True, t.F)
    bad = _normalize_cols(t.lpt, n, K, w, s.L, t.row_max, t.yf)
    if bad >= 0:
        return bad
    _gemm_rm(False, False, <int> K, <int> Q1, <int> n, <double> 1.0, t.lpt, <int> n, t.F,
             <int> Q1, <double> 1.0, t.acc, <int> Q1)
    return -1


cdef void _moments_chunk_begin(const Model* m, Sums* s, void* scratch) noexcept nogil:
    memset(scratch, 0, m.K * (_vech_width(m.D) + 1) * sizeof(double))


cdef void _moments_chunk_end(const Model* m, Sums* s, void* scratch) noexcept nogil:
    """N, S1 (K, D), S2 (K, D, D) lower triangle, from the rows of acc (K, Q+1)."""
    cdef Py_ssize_t a, b, k, col, D = m.D, Q1 = _vech_width(m.D) + 1
    cdef Py_ssize_t T = D * (D + 1) // 2
    cdef const double* Ck
    for k in range(m.K):
        Ck = <const double*> scratch + k * Q1
        col = 0
        for a in range(D):
            for b in range(a + 1):
                s.S2[(k * D + a) * D + b] = Ck[col + b]
            col += a + 1
        for a in range(D):
            s.S1[k * D + a] = Ck[T + a]
        s.N[k] = Ck[Q1 - 1]


def _moments_slots(Py_ssize_t K, Py_ssize_t D, dtype):
    return {"shift": ((D,), dtype), "coef": ((K, _vech_width(D) + 1), F64)}
