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

#: A block's row goes to the per-component sums of _moments_split when at most
#: K / MOMENTS_SPARSE_COST of its responsibilities are not exactly 0: its sum for one
#: component costs a few times the GEMM's product of a row and a component (the GEMM
#: reuses each moment row from registers for many components; the measurement is in
#: bench/results/bayesian.md).
cdef Py_ssize_t MOMENTS_SPARSE_COST = 3


cdef struct MomentsScratch:
    double* acc       # (K, Q+1) the chunk's [S2 | S1 | N] rows: first, so that every
                      # block of the chunk finds it at the same place
    double* lpt       # (K, n) log-densities, component-major
    double* row_max   # (3n,) _normalize_cols
    double* F         # (n (Q+1) + D,) the moment rows, then one centred row
    float* yf         # (n (K + 1),) the float32 normalisation (float32 data)
    Py_ssize_t* idx   # (3n + K + 1 + K n,) _moments_split's counts and lists of rows
    double* rw        # (K n,) the components' responsibilities on the sparse rows


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
    t.idx = <Py_ssize_t*> _take(&a, (3 * n + K + 1 + K * n) * sizeof(Py_ssize_t))
    t.rw = <double*> _take(&a, K * n * sizeof(double))
    nbytes[0] = a.used
    return t


cdef Py_ssize_t _moments_scratch(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K,
                                 Py_ssize_t fsize) noexcept nogil:
    cdef Py_ssize_t nbytes
    _moments_layout(NULL, B, D, K, fsize, &nbytes)
    return nbytes


cdef void _moments_rows_logprob(const Model* m, const floating* X, Py_ssize_t n,
                                double* lpt, double* F) noexcept nogil:
    """lpt (K x n) = W F^T, the moment rows F formed first."""
    cdef Py_ssize_t D = m.D, K = m.K, Q1 = _vech_width(D) + 1
    cdef const floating* c = <const floating*> m.shift
    if floating is double:
        gmm_moment_rows_d(X, n, D, c, F, F + n * Q1)
    else:
        gmm_moment_rows_fd(X, n, D, c, F, F + n * Q1)
    _gemm_rm(False, True, <int> K, <int> n, <int> Q1, <double> 1.0, m.coef, <int> Q1,
             F, <int> Q1, <double> 0.0, lpt, <int> n)


cdef void _moments_logprob(const Model* m, const floating* X, Py_ssize_t n,
                           double* lpt, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes
    cdef MomentsScratch t = _moments_layout(scratch, n, m.D, m.K, sizeof(floating),
                                            &nbytes)
    _moments_rows_logprob(m, X, n, lpt, t.F)


cdef Py_ssize_t _moments_stats(const Model* m, const floating* X, const double* w,
                               Py_ssize_t n, Sums* s, void* scratch) noexcept nogil:
    """lpt (K x n) = W F^T, normalised over the rows, then acc += R F: the rows whose
    responsibilities are mostly exactly 0 one component at a time, the others in one
    GEMM (_moments_split)."""
    cdef Py_ssize_t nbytes, bad, K = m.K, Q1 = _vech_width(m.D) + 1
    cdef MomentsScratch t = _moments_layout(scratch, n, m.D, K, sizeof(floating), &nbytes)
    _moments_rows_logprob(m, X, n, t.lpt, t.F)
    bad = _normalize_cols(t.lpt, n, K, w, s.L, t.row_max, t.yf)
    if bad >= 0:
        return bad
    cdef Py_ssize_t n_dense = _moments_split(t.lpt, n, K, Q1, t.F, t.acc, t.idx, t.rw)
    if n_dense > 0:
        _gemm_rm(False, False, <int> K, <int> Q1, <int> n_dense, <double> 1.0, t.lpt,
                 <int> n, t.F, <int> Q1, <double> 1.0, t.acc, <int> Q1)
    return -1


cdef Py_ssize_t _moments_split(double* lpt, Py_ssize_t n, Py_ssize_t K, Py_ssize_t Q1,
                               double* F, double* acc, Py_ssize_t* idx,
                               double* rw) noexcept nogil:
    """The statistics of the block's sparse rows, and the rest made ready for the GEMM.

    A row whose responsibilities are exactly 0 for all but at most K / MOMENTS_SPARSE_COST
    components (far from most of them: with broad components near c, e.g. a Bayesian
    mixture's kept broad by its covariance prior, half of them can be) adds r_ik F_i to
    each of those components' sums, one component at a time (gmm_moment_rows_axpy):
    the GEMM would spend K products of a row on it. The other rows' moment rows and
    responsibilities are then moved to the front of F and of each row of lpt, in their
    order, for the GEMM; returns how many. With no sparse row nothing moves and the
    GEMM is the one of all the rows. Which rows are sparse depends on the
    responsibilities alone, so the sums do not depend on the thread count."""
    cdef Py_ssize_t i, j, k, mk = 0, n_sparse = 0, n_dense = 0
    cdef Py_ssize_t* count = idx
    cdef Py_ssize_t* sparse = idx + n
    cdef Py_ssize_t* dense = idx + 2 * n
    cdef Py_ssize_t* ptr = idx + 3 * n
    cdef Py_ssize_t* rows = ptr + K + 1
    cdef double* row
    gmm_count_nonzero_cols(lpt, n, K, count)
    for i in range(n):
        if count[i] * MOMENTS_SPARSE_COST <= K:
            sparse[n_sparse] = i
            n_sparse += 1
        else:
            dense[n_dense] = i
            n_dense += 1
    if n_sparse == 0:
        return n
    for k in range(K):
        ptr[k] = mk
        row = lpt + k * n
        for j in range(n_sparse):
            i = sparse[j]
            if row[i] != 0.0:
                rows[mk] = i
                rw[mk] = row[i]
                mk += 1
    ptr[K] = mk
    gmm_moment_rows_axpy(F, Q1, K, ptr, rows, rw, acc)
    for j in range(n_dense):
        i = dense[j]
        if i != j:
            memcpy(F + j * Q1, F + i * Q1, Q1 * sizeof(double))
    for k in range(K):
        row = lpt + k * n
        for j in range(n_dense):
            row[j] = row[dense[j]]
    return n_dense


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


def full_spreads(const double[:, :, ::1] U, const double[:, ::1] m):
    """(V, spreads): V_k = U_k^T m_k (K, D) and spreads_k = m_k' P_k m_k = ||V_k||^2 (K,),
    from the upper triangular factors U (K, D, D) and the means' offsets m (K, D) from
    the moment rows' shift: the spreads choose the route (_estep.choose_route), and V
    gives the weights' block P_k m_k = U_k V_k (moment_weights). Sums in index order."""
    cdef Py_ssize_t K = U.shape[0], D = U.shape[1], k, c, d
    if U.shape[2] != D or m.shape[0] != K or m.shape[1] != D:
        raise ValueError("full_spreads: shapes do not match")
    V_arr = np.zeros((K, D))
    spreads_arr = np.zeros(K)
    cdef double[:, ::1] V = V_arr
    cdef double[::1] spreads = spreads_arr
    cdef double s
    with nogil:
        for k in range(K):
            for d in range(D):                 # U_dc = 0 for c < d
                s = m[k, d]
                for c in range(d, D):
                    V[k, c] = V[k, c] + s * U[k, d, c]
            s = 0.0
            for c in range(D):
                s = s + V[k, c] * V[k, c]
            spreads[k] = s
    return V_arr, spreads_arr


def moment_weights(const double[:, :, ::1] U, const double[:, ::1] V,
                   const double[::1] cst, const double[::1] spreads, int n_threads):
    """The weights W (K, Q+1) of the header's formula, from the factors U (K, D, D),
    V_k = U_k^T m_k and the spreads (full_spreads), and the constants cst (K,):
    P_k = U_k U_k^T and P_k m_k = U_k V_k by gmm_moment_weights (csrc/feature_rows.h).
    Components on n_threads threads (each is independent: the same result on any
    number). Raises MemoryError when a thread's scratch cannot be had."""
    cdef Py_ssize_t K = U.shape[0], D = U.shape[1], Q1 = _vech_width(D) + 1, k
    if U.shape[2] != D or V.shape[0] != K or V.shape[1] != D or cst.shape[0] != K \
            or spreads.shape[0] != K:
        raise ValueError("moment_weights: shapes do not match")
    W_arr = np.empty((K, Q1))      # every entry is written
    cdef double* W = <double*> cnp.PyArray_DATA(W_arr)
    cdef double* L
    cdef Py_ssize_t n_failed = 0
    if K == 0 or D == 0:
        return W_arr
    with nogil, parallel(num_threads=max(1, n_threads)):
        L = <double*> malloc(gmm_moment_weights_scratch(D) * sizeof(double))
        for k in prange(K, schedule='static'):
            if L == NULL:
                n_failed += 1
            else:
                gmm_moment_weights(&U[k, 0, 0], &V[k, 0], D, cst[k] - 0.5 * spreads[k],
                                   W + k * Q1, L)
        free(L)
    if n_failed:
        raise MemoryError("moment_weights: no memory for a thread's scratch")
    return W_arr


def _moments_slots(Py_ssize_t K, Py_ssize_t D, dtype):
    return {"shift": ((D,), dtype), "coef": ((K, _vech_width(D) + 1), F64)}
