# The compiled parts of the M-step (_mstep.py): per-iteration constants of a 'full'
# mixture, its means and covariances from the statistics, and the precision factors.
# Included by _core.pyx.


def full_constants(const double[::1] weights, const double[:, ::1] means,
                   const double[:, :, ::1] U, const double[::1] log_weights=None):
    """(shift, cst) of a 'full' mixture for the kernels (_estep.KernelModel), in one call
    instead of half a dozen small array operations an EM iteration:

        shift = sum_k w_k mu_k                                      (D,)
        cst_k = (log w_k - 0.5 D log 2pi) + sum_j log U_kjj         (K,)

    log 0 = -inf (an empty component, never chosen), without a warning. With
    ``log_weights`` (the variational E-step's constants), they stand in for log w_k.
    """
    cdef Py_ssize_t K = means.shape[0], D = means.shape[1], k, j
    cdef double base, acc
    cdef bint given = log_weights is not None
    if weights.shape[0] != K or U.shape[0] != K or U.shape[1] != D or U.shape[2] != D \
            or (given and log_weights.shape[0] != K):
        raise ValueError("full_constants: shapes do not match")
    shift_arr = np.zeros(D)
    cst_arr = np.empty(K)
    cdef double[::1] shift = shift_arr
    cdef double[::1] cst = cst_arr
    cdef double half_d_log_2pi = 0.5 * D * log(2.0 * M_PI)
    with nogil:
        for k in range(K):
            for j in range(D):
                shift[j] += weights[k] * means[k, j]
            if given:
                base = log_weights[k] - half_d_log_2pi
            else:
                base = (log(weights[k]) if weights[k] > 0 else -INFINITY) - half_d_log_2pi
            acc = 0.0
            for j in range(D):
                acc += log(U[k, j, j])
            cst[k] = base + acc
    return shift_arr, cst_arr


def m_step_full(const double[:] N, const double[:, :] S1, const double[:, :, :] S2,
                const double[:, :] shift, double reg_covar, double eps):
    """Means and covariances of the 'full' M-step, from the statistics (_mstep.m_step).

    The same operations, in the same order, as the numpy formulation in _mstep.py
    (so the same bits), without a dozen small array operations per EM iteration:

        nk = N + 10 eps;  mean = shift * (N / nk) + S1 / nk
        cov = (S2 - S1 S1^T / N) / nk + reg_covar I      (S1 S1^T / N := 0 when N = 0)

    Returns (means (K, D), covariances (K, D, D)), float64.
    """
    cdef Py_ssize_t K = S1.shape[0], D = S1.shape[1], k, a, b
    cdef double nk, ratio, centring
    if (N.shape[0] != K or S2.shape[0] != K or S2.shape[1] != D or S2.shape[2] != D
            or shift.shape[0] != K or shift.shape[1] != D):
        raise ValueError("m_step_full: shapes do not match")
    means_arr = np.empty((K, D))
    cov_arr = np.empty((K, D, D))
    cdef double[:, ::1] means = means_arr
    cdef double[:, :, ::1] cov = cov_arr
    with nogil:
        for k in range(K):
            nk = N[k] + 10 * eps
            ratio = N[k] / nk
            for a in range(D):
                means[k, a] = shift[k, a] * ratio + S1[k, a] / nk
            for a in range(D):
                for b in range(D):
                    centring = (S1[k, a] * S1[k, b]) / N[k] if N[k] > 0 else 0.0
                    cov[k, a, b] = (S2[k, a, b] - centring) / nk
                cov[k, a, a] = cov[k, a, a] + reg_covar
    return means_arr, cov_arr


def precision_cholesky(double[:, :, ::1] cov, double[:, :, ::1] out,
                       double limit=INFINITY, int n_threads=1):
    """Upper-triangular U_k with U_k U_k^T = inv(cov_k), for every k.

    cov : (K, D, D) symmetric covariances. IN.
    out : (K, D, D) the factors. OUT.
    limit : a factor with an entry of magnitude >= limit (or not finite) counts as a
        failure: the caller passes sqrt(max) of the data's dtype, where U U^T would
        overflow.
    n_threads : threads over the components (each factorisation is independent: the
        result does not depend on it).

    Returns -1 on success, else the index of the first component whose covariance is
    not positive definite (its Cholesky factorisation failed) or whose factor
    reaches ``limit``.
    """
    if cov.shape[2] != cov.shape[1] or out.shape[0] != cov.shape[0] \
            or out.shape[1] != cov.shape[1] or out.shape[2] != cov.shape[1]:
        raise ValueError("precision_cholesky: shapes do not match")
    if cov.shape[0] == 0:
        return -1
    return _factor_precisions(&cov[0, 0, 0], &out[0, 0, 0], cov.shape[0], cov.shape[1],
                              limit, n_threads)


cdef Py_ssize_t _factor_precisions(const double* cov, double* out, Py_ssize_t K,
                                   Py_ssize_t D, double limit, int n_threads) except -2:
    """precision_cholesky's work on K contiguous D x D matrices."""
    cdef Py_ssize_t k, i, failed = -1
    cdef double* a
    if K == 0:
        return -1
    cdef int* infos = <int*> malloc(K * sizeof(int))
    if infos == NULL:
        raise MemoryError()
    with nogil, parallel(num_threads=max(1, n_threads)):
        for k in prange(K, schedule='static'):
            a = out + k * D * D
            for i in range(D * D):
                a[i] = cov[k * D * D + i]
            infos[k] = _factor_one(a, D, limit)
    for k in range(K):
        if infos[k] != 0:
            failed = k
            break
    free(infos)
    return failed


cdef int _factor_one(double* a, Py_ssize_t D, double limit) noexcept nogil:
    """One component's factor, in place: a (D x D, row-major) holds its covariance and
    receives U with U U^T = inv(covariance). Returns 0, or non-zero when the covariance
    is not positive definite or the factor reaches ``limit`` (see precision_cholesky).
    Also vb_update's, inside its own loop over the components."""
    cdef Py_ssize_t i, j
    cdef int d = <int> D, info = 0
    cdef char lower = b'L', nonunit = b'N'
    # column-major lower Cholesky L of cov; its inverse read row-major is L^{-T}, the
    # upper factor of the precision.
    dpotrf(&lower, &d, a, &d, &info)
    if info == 0:
        dtrtri(&lower, &nonunit, &d, a, &d, &info)
    if info == 0:
        for i in range(D):
            for j in range(i):
                a[i * D + j] = 0.0
            for j in range(i, D):
                if not (-limit < a[i * D + j] < limit):
                    info = 1
    return info
