# The mixture's side of the row pass (included by _missing_rows.pyx): its model
# checked and its constants, precisions and float32 factors laid out as the pass
# reads them, once per model; the shift of b's products with float32 data.

def row_constants(const double[::1] weights, const double[:, ::1] means,
                  const double[:, :, ::1] U):
    """(logc, Pt) for rows_pass, once the model is checked: logc (K,) = log w_k + sum_j
    log U_k,jj - 0.5 D log 2 pi, and the precisions P_k = U_k U_k^T component last, Pt
    (D, D, K) (U (Kp, D, D) upper triangular, its lower part not read; Kp = 1:
    'tied', its one precision repeated for every component). Checked: means, U and
    the precisions finite, U's diagonal > 0, the weights in [0, inf) (a weight of 0
    gives -inf: that component is never chosen). In one call: small fits make a model
    every iteration, and the same in numpy is a score of calls.

    Each P_k[a, b] is the sum over j >= max(a, b), in order, of U_k[a, j] U_k[b, j],
    a product and a sum each (this module's code never fuses them): the same bits on
    every platform, where a BLAS product's depend on the BLAS. Eight components at a
    time, side by side (one vector's sums), written straight into the pass's layout:
    numpy's batched product and the pass's own transposition of it cost a small
    mixture's iteration more than this does."""
    cdef Py_ssize_t K = means.shape[0], D = means.shape[1], Kp = U.shape[0]
    cdef Py_ssize_t k, a, b, j, kc, l, nl
    cdef double ld
    cdef bint finite = True
    if weights.shape[0] != K or not (Kp == K or Kp == 1) or U.shape[1] != D \
            or U.shape[2] != D:
        raise ValueError("row_constants: shapes do not match")
    if K < 1 or D < 1:
        raise ValueError("row_constants needs at least one component and one feature")
    logc_arr = np.empty(K)
    cdef double[::1] logc = logc_arr
    Pt_arr = np.empty((D, D, K))
    cdef double[:, :, ::1] Ptv = Pt_arr
    cdef double* Pt = &Ptv[0, 0, 0]
    # a chunk's factors, entry (a, j) of its 8 components side by side (a last
    # chunk's lanes past Kp hold zeros or the chunk before's: summed, never written)
    cdef double* Ut = <double*> calloc(D * D * 8, sizeof(double))
    if Ut == NULL:
        raise MemoryError("row_constants: no memory for the factors")
    cdef double acc[8]
    cdef const double* ua
    cdef const double* ub
    cdef double* pab
    cdef double* pba
    with nogil:
        for k in range(K):
            for a in range(D):
                finite = finite and isfinite(means[k, a])
        for kc in range(0, Kp, 8):
            nl = min(8, Kp - kc)
            for l in range(nl):
                for a in range(D):
                    for b in range(a, D):
                        Ut[(a * D + b) * 8 + l] = U[kc + l, a, b]
            for a in range(D):
                ua = Ut + a * D * 8
                for b in range(a + 1):
                    ub = Ut + b * D * 8
                    for l in range(8):
                        acc[l] = 0.0
                    for j in range(a, D):
                        for l in range(8):
                            acc[l] = acc[l] + ua[j * 8 + l] * ub[j * 8 + l]
                    pab = Pt + (a * D + b) * K
                    pba = Pt + (b * D + a) * K
                    # U's entries and their products in one test (a NaN or inf in
                    # row a of U's triangle reaches P[a, a])
                    for l in range(nl):
                        if not isfinite(acc[l]):
                            finite = False
                    if Kp == K:
                        for l in range(nl):
                            pab[kc + l] = acc[l]
                            pba[kc + l] = acc[l]
                    else:       # 'tied': the one precision for every component
                        for k in range(K):
                            pab[k] = acc[0]
                            pba[k] = acc[0]
    free(Ut)
    if not finite:
        raise ValueError("the mixture's means or precisions are not finite")
    for k in range(Kp):
        for a in range(D):
            if not U[k, a, a] > 0.0:
                raise ValueError("a precision factor has a diagonal entry <= 0")
    for k in range(K):
        if not (weights[k] >= 0.0 and isfinite(weights[k])):
            raise ValueError("row-by-row pass: the mixture weights are not in [0, 1]")
        ld = 0.0
        for a in range(D):
            ld = ld + log(U[0 if Kp == 1 else k, a, a])
        logc[k] = ((log(weights[k]) if weights[k] > 0.0 else -INFINITY) + ld
                   - 0.5 * D * LOG_2PI)
    return logc_arr, Pt_arr


def padded_factors32(const double[:, :, ::1] U):
    """The float32 factors ``rows_pass`` reads for float32 products: (Kp, D4, D4),
    U_k's upper triangle rounded to float32 and zeros elsewhere, D4 = D rounded up to
    4 (the lanes take four columns, and four rows, at a time)."""
    cdef Py_ssize_t Kp = U.shape[0], D = U.shape[1], D4 = (D + 3) // 4 * 4
    cdef Py_ssize_t k, a, b
    if U.shape[2] != D:
        raise ValueError("padded_factors32: U is not (Kp, D, D)")
    out = np.zeros((Kp, D4, D4), dtype=np.float32)
    cdef float[:, :, ::1] o = out
    with nogil:
        for k in range(Kp):
            for a in range(D):
                for b in range(a, D):
                    o[k, a, b] = <float> U[k, a, b]
    return out


cdef void _shift_terms(const double[:, ::1] means, const double* Pt, Py_ssize_t D,
                       Py_ssize_t K, double* c, double* Mt, double* PMt) noexcept nogil:
    """The shift of b's products with float32 data (_rows_b_columns): c (D,) the
    means' mean (any c is exact; near the rows it keeps z = x - c small), Mt (D, K)
    m_k = mu_k - c and PMt (D, K) P_k m_k, component last (Pt (D, D, K))."""
    cdef Py_ssize_t a, b, k
    cdef double s
    for a in range(D):
        s = 0.0
        for k in range(K):
            s = s + means[k, a]
        c[a] = s / K
    for a in range(D):
        for k in range(K):
            Mt[a * K + k] = means[k, a] - c[a]
    for a in range(D):
        for k in range(K):
            PMt[a * K + k] = 0.0
        for b in range(D):
            for k in range(K):
                PMt[a * K + k] = PMt[a * K + k] + Pt[(a * D + b) * K + k] * Mt[b * K + k]
