# Route 'diag': with z = x - c and P_k the diagonal precision, the log-density is
# linear in the feature rows A_i = [z^2, z] (csrc/feature_rows.h):
#
#     lp_ik = cst_k + A_i . [-0.5 P_k ; P_k (mu_k - c)],   [S2 | S1]_k += sum_i r_ik A_i
#
# both products in kernels of our own (csrc/diag_products.h), GMM_DIAG_ROWS rows at a
# time so that the rows, the log-densities and the tiles stay in L1; the normalisation
# between them component-major (csrc/normalize.h). The rows in double for float32 data
# too: the expansion about c would lose float32's accuracy. Route 'spherical' runs the
# same pass (_linear_stats, _linear_logprob) on its own feature rows, and route 'tied'
# the same kernels on the rows of its whitened data.
#
# Reads: shift (data); coef, Wt ((2D + 1) x ldw) = [-0.5 P ; P (mu - c) ; cst]^T,
# zero-padded to ldw = K rounded up to 4 (diag_weights_shape).

cdef struct DiagScratch:
    double* A         # (ROWS + 3, lda) the feature rows of ROWS rows at a time
    double* lpt       # (K, ROWS) log-densities, component-major
    double* row_max   # (3 ROWS,) _normalize_cols
    double* C         # (K, lda) the block's sums of the weighted feature rows
    float* yf         # (ROWS (K + 1),) the float32 normalisation (float32 data)
    Py_ssize_t* idx   # (K + 9 + K ROWS,) _linear_moments' lists
    double* rw        # (K ROWS + 8,) their responsibilities


#: _linear_moments' cost model, in multiply-adds of one lane (one thread's perf
#: profiles on Zen 4, AVX-512, of 'diag' fits with D = 16 and 128 by both ways): the
#: moments kernel takes K m lda; the lists lda + LINEAR_SPARSE_ENTRY for each entry
#: listed (its row's loads and its component's accumulators, a few entries a
#: component: latency, not width) and LINEAR_SPARSE_SCAN for each entry of R (making
#: the lists, and N's sums apart). So from D ~ 8 on, when few entries are not 0.
cdef Py_ssize_t LINEAR_SPARSE_ENTRY = 73
cdef Py_ssize_t LINEAR_SPARSE_SCAN = 13


cdef void _linear_moments(const double* R, Py_ssize_t K, const double* A, Py_ssize_t m,
                          Py_ssize_t lda, double* C, double* N, Py_ssize_t* idx,
                          double* rw) noexcept nogil:
    """C (K x lda) += R A and N += the row sums of R (K x m, component-major): the
    moments kernel (csrc/diag_products.h), or, when most of R is exactly 0 (clusters
    apart from each other), the same sums over R's other entries alone, by per-component
    lists of them in row order (gmm_moment_rows_axpy). The same bits either way: each
    entry of C takes its terms one at a time in row order with the same operation in
    both (a fused multiply-add in the vector builds), and a term r a with r = 0 adds
    exactly nothing (C starts at +0 and never becomes -0; a NaN r is listed). So which
    one runs depends on R alone and changes no result."""
    cdef Py_ssize_t i, k, nnz = 0
    cdef Py_ssize_t* ptr = idx
    cdef Py_ssize_t* rows = idx + K + 1
    # the lists cost at least their scan: below that width the kernel is cheaper
    # whatever R holds, and R is not read twice
    if lda > LINEAR_SPARSE_SCAN:
        gmm_count_nonzero_cols(R, m, K, rows)     # per row, in rows' space for now
        for i in range(m):
            nnz += rows[i]
    if lda <= LINEAR_SPARSE_SCAN or (
            nnz * (lda + LINEAR_SPARSE_ENTRY) + LINEAR_SPARSE_SCAN * K * m > K * m * lda):
        gmm_diag_moments(R, K, A, m, lda, C, N)
        return
    gmm_nonzero_lists(R, m, K, ptr, rows, rw)
    gmm_moment_rows_axpy(A, lda, K, ptr, rows, rw, C)
    for k in range(K):
        N[k] += gmm_sum(R + k * m, m)


def linear_sparse_cost(entry=None, scan=None):
    """(LINEAR_SPARSE_ENTRY, LINEAR_SPARSE_SCAN) after setting those given: the cost
    model by which _linear_moments takes the moments kernel or the lists. For tests
    (tests/test_linear_moments.py runs fits both ways): the choice changes no result,
    only the time. Not safe while a fit runs in another thread."""
    global LINEAR_SPARSE_ENTRY, LINEAR_SPARSE_SCAN
    if entry is not None:
        LINEAR_SPARSE_ENTRY = entry
    if scan is not None:
        LINEAR_SPARSE_SCAN = scan
    return LINEAR_SPARSE_ENTRY, LINEAR_SPARSE_SCAN


cdef DiagScratch _linear_layout(void* base, Py_ssize_t lda, Py_ssize_t K, Py_ssize_t fsize,
                                Py_ssize_t* nbytes) noexcept nogil:
    cdef Arena a = _arena(base)
    cdef DiagScratch t
    cdef Py_ssize_t S = GMM_DIAG_ROWS
    t.A = <double*> _take(&a, (S + 3) * lda * sizeof(double))
    t.lpt = <double*> _take(&a, K * S * sizeof(double))
    t.row_max = <double*> _take(&a, 3 * S * sizeof(double))
    t.C = <double*> _take(&a, K * lda * sizeof(double))
    t.yf = <float*> _take(&a, S * (K + 1) * sizeof(float)) if fsize == sizeof(float) else NULL
    t.idx = <Py_ssize_t*> _take(&a, (K + 9 + K * S) * sizeof(Py_ssize_t))
    t.rw = <double*> _take(&a, (K * S + 8) * sizeof(double))
    nbytes[0] = a.used
    return t


cdef Py_ssize_t _diag_scratch(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K,
                              Py_ssize_t fsize) noexcept nogil:
    cdef Py_ssize_t nbytes
    _linear_layout(NULL, gmm_diag_lda(D), K, fsize, &nbytes)
    return nbytes


cdef inline void _feature_rows(const floating* X, Py_ssize_t n, Py_ssize_t D,
                               const floating* c, Py_ssize_t lda, double* A,
                               bint spherical) noexcept nogil:
    """'diag': A = [z^2, z, 0 ...]; 'spherical': A = [z, ||z||^2, 0 ...] (in double)."""
    if spherical:
        if floating is double:
            gmm_sph_rows_d(X, n, D, c, lda, A)
        else:
            gmm_sph_rows_f(X, n, D, c, lda, A)
    elif floating is double:
        gmm_diag_rows_d(X, n, D, c, lda, A)
    else:
        gmm_diag_rows_fd(X, n, D, c, lda, A)


cdef void _linear_logprob(const Model* m, const floating* X, Py_ssize_t n, double* lpt,
                          void* scratch, Py_ssize_t P, Py_ssize_t lda,
                          bint spherical) noexcept nogil:
    """lpt (K x n) = Wt[:P]^T A^T + cst for the P features of the rows A (lda columns):
    the statistics' pass's tiles and sums (so the fit's log-densities to the bit),
    GMM_DIAG_ROWS rows at a time so that the rows stay in L1."""
    cdef Py_ssize_t nbytes, sb, i0, rows, D = m.D, K = m.K, S = GMM_DIAG_ROWS
    cdef DiagScratch t = _linear_layout(scratch, lda, K, sizeof(floating), &nbytes)
    for sb in range((n + S - 1) // S):
        i0 = sb * S
        rows = min(S, n - i0)
        _feature_rows(X + i0 * D, rows, D, <const floating*> m.shift, lda, t.A, spherical)
        gmm_diag_lp(m.coef, gmm_diag_ldw(K), K, P, t.A, rows, lda, lpt + i0, n)


cdef Py_ssize_t _linear_stats(const Model* m, const floating* X, const double* w,
                              Py_ssize_t n, Sums* s, void* scratch, Py_ssize_t P,
                              Py_ssize_t lda, bint spherical) noexcept nogil:
    """The log-densities, their normalisation and the weighted sums of the feature rows
    into C (K x lda, the scratch's, left for the caller), N and L; the first bad row,
    or -1."""
    cdef Py_ssize_t nbytes, sb, i0, rows, bad, D = m.D, K = m.K, S = GMM_DIAG_ROWS
    cdef DiagScratch t = _linear_layout(scratch, lda, K, sizeof(floating), &nbytes)
    cdef const double* wi
    memset(t.C, 0, K * lda * sizeof(double))
    for sb in range((n + S - 1) // S):
        i0 = sb * S
        rows = min(S, n - i0)
        _feature_rows(X + i0 * D, rows, D, <const floating*> m.shift, lda, t.A, spherical)
        gmm_diag_lp(m.coef, gmm_diag_ldw(K), K, P, t.A, rows, lda, t.lpt, rows)
        wi = w + i0 if w != NULL else NULL
        bad = _normalize_cols(t.lpt, rows, K, wi, s.L, t.row_max, t.yf)
        if bad >= 0:
            return i0 + bad
        _linear_moments(t.lpt, K, t.A, rows, lda, t.C, s.N, t.idx, t.rw)
    return -1


cdef void _diag_logprob(const Model* m, const floating* X, Py_ssize_t n, double* lpt,
                        void* scratch) noexcept nogil:
    _linear_logprob(m, X, n, lpt, scratch, 2 * m.D, gmm_diag_lda(m.D), False)


cdef Py_ssize_t _diag_stats(const Model* m, const floating* X, const double* w,
                            Py_ssize_t n, Sums* s, void* scratch) noexcept nogil:
    cdef Py_ssize_t nbytes, j, k, bad, D = m.D, K = m.K, lda = gmm_diag_lda(D)
    cdef DiagScratch t = _linear_layout(scratch, lda, K, sizeof(floating), &nbytes)
    bad = _linear_stats(m, X, w, n, s, scratch, 2 * D, lda, False)
    if bad >= 0:
        return bad
    for k in range(K):   # S2 holds per component [the D second moments | the D first]
        for j in range(2 * D):
            s.S2[k * 2 * D + j] += t.C[k * lda + j]
    return -1


def diag_weights_shape(Py_ssize_t D, Py_ssize_t K):
    """Shape of the 'diag' weights Wt: (2D + 1, K rounded up to 4)."""
    return (2 * D + 1, gmm_diag_ldw(K))


def _diag_slots(Py_ssize_t K, Py_ssize_t D, dtype):
    return {"shift": ((D,), dtype), "coef": (diag_weights_shape(D, K), F64)}
