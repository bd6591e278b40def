# The compiled parts of BayesianGaussianMixture's variational iteration (_variational.py):
# the posterior update, what a posterior gives the E-step and the lower bound, and the
# entropy of the responsibilities. Each is a handful of operations per component: as
# loops in one call each, instead of some forty small array operations an iteration,
# which on small data cost more than the E-step's pass. Float64 throughout.
# Included by _core.pyx. The special functions are scipy's (cython_special), the ones
# scikit-learn's formulation calls.

from scipy.special.cython_special cimport psi, gammaln, betaln


cdef double _log_det_factor(const double* U, int cov, Py_ssize_t D) noexcept nogil:
    """log |U_k| from U_k's flattened row (see vb_constants)."""
    cdef double acc = 0.0
    cdef Py_ssize_t j
    if cov == COV_FULL or cov == COV_TIED:
        for j in range(D):
            acc += log(U[j * D + j])
    elif cov == COV_DIAG:
        for j in range(D):
            acc += log(U[j])
    else:
        acc = D * log(U[0])
    return acc


def vb_constants(int cov, bint stick_breaking, const double[::1] a, const double[::1] b,
                 const double[::1] beta, const double[::1] nu, const double[:, ::1] U,
                 Py_ssize_t D):
    """What a variational posterior gives the next E-step and the lower bound.

    cov : COV_*. stick_breaking : the 'dirichlet_process' prior (else the Dirichlet).
    a, b : the stick-breaking Betas' parameters; for the Dirichlet its alpha in a (b is
        not read: pass a again). beta : (K,) mean precisions. nu : (K,) degrees of
        freedom, (1,) for 'tied'. U : the precision factors, one flattened row per
        component: (K, D*D) 'full', (1, D*D) 'tied', (K, D) 'diag', (K, 1)
        'spherical'. D : n_features.

    Returns (log_weights, weights, log_wishart, log_norm_weight, half_d_log_beta):
        log_weights (K,): c_k = E[log pi_k] + 0.5 (D log 2 + sum_{j<D} psi((nu_k - j)/2))
            - 0.5 D log nu_k - 0.5 D / beta_k, the E-step's per-component constant;
        weights (K,): the posterior mean of the weights, normalised (``weights_``);
        the lower bound's terms: bound = -entropy - log_wishart - log_norm_weight
            - half_d_log_beta (scikit-learn's, without its constants).
    """
    cdef Py_ssize_t K = beta.shape[0]
    cdef bint shared = cov == COV_TIED
    if (a.shape[0] != K or b.shape[0] != K
            or nu.shape[0] != (1 if shared else K) or U.shape[0] != (1 if shared else K)
            or U.shape[1] != _row_width(cov, D)):
        raise ValueError("vb_constants: shapes do not match")
    log_weights = np.empty(K)
    weights = np.empty(K)
    cdef double terms[3]
    _weight_terms(cov, stick_breaking, K, &a[0], &b[0], &beta[0], &nu[0], &U[0, 0], D,
                  _data(log_weights), _data(weights), terms)
    return log_weights, weights, terms[0], terms[1], terms[2]


cdef inline double* _data(cnp.ndarray a) noexcept:
    """The data of a C-contiguous float64 array made by the caller."""
    return <double*> cnp.PyArray_DATA(a)


cdef inline Py_ssize_t _row_width(int cov, Py_ssize_t D) noexcept nogil:
    """Length of one component's flattened row of a covariance or factor."""
    return D * D if cov == COV_FULL or cov == COV_TIED else D if cov == COV_DIAG else 1


cdef void _wishart_terms(double nu_k, const double* U_k, int cov, Py_ssize_t D,
                         double* out) noexcept nogil:
    """One component's Wishart numbers for _weight_terms, from its degrees of freedom
    and its factor's row: out[0] its part of -log_wishart (the expected log-determinant
    and normaliser), out[1] and out[2] what its c_k gains and loses (0.5 (D log 2 +
    sum_j psi((nu_k - j) / 2)) and 0.5 D log nu_k). D digammas and D log-gammas: on a
    large 'full' model the bulk of _weight_terms, which vb_update therefore takes on
    its threads, one component each."""
    cdef Py_ssize_t j
    cdef double log2 = log(2.0), acc = 0.0, term = 0.0, log_det
    for j in range(D):
        acc += psi(0.5 * (nu_k - j))
        term += gammaln(0.5 * (nu_k - j))
    log_det = _log_det_factor(U_k, cov, D) - 0.5 * D * log(nu_k)
    out[0] = nu_k * log_det + nu_k * D * 0.5 * log2 + term
    out[1] = 0.5 * (D * log2 + acc)
    out[2] = 0.5 * D * log(nu_k)


cdef void _weight_terms(int cov, bint stick_breaking, Py_ssize_t K, const double* a,
                        const double* b, const double* beta, const double* nu,
                        const double* U, Py_ssize_t D, double* c, double* w,
                        double* terms, const double* wishart=NULL) noexcept nogil:
    """vb_constants' work into c, w and terms, for shapes already checked (U: the
    contiguous rows of the factors). wishart: NULL, or each component's
    _wishart_terms already taken (3 a component, 'full' only): they are added here in
    component order either way, so the sums do not depend on who took them."""
    cdef Py_ssize_t k, j
    cdef bint shared = cov == COV_TIED
    cdef double total, acc, left, rest
    cdef double log_wishart = 0.0, log_norm_weight = 0.0, sum_log_beta = 0.0
    cdef double own[3]
    cdef const double* wk
    # E[log pi_k] into c, the unnormalised mean weights into w
    if stick_breaking:
        rest = 0.0      # sum_{j<k} E[log(1 - v_j)] of the stick fractions v
        left = 1.0      # prod_{j<k} E[1 - v_j]
        for k in range(K):
            total = psi(a[k] + b[k])
            c[k] = psi(a[k]) - total + rest
            rest = rest + (psi(b[k]) - total)
            total = a[k] + b[k]
            w[k] = a[k] / total * left
            left = left * (b[k] / total)
            log_norm_weight -= betaln(a[k], b[k])
    else:
        total = 0.0
        for k in range(K):
            total += a[k]
        acc = psi(total)
        log_norm_weight = gammaln(total)
        for k in range(K):
            c[k] = psi(a[k]) - acc
            w[k] = a[k]
            log_norm_weight -= gammaln(a[k])
    total = 0.0
    for k in range(K):
        total += w[k]
    for k in range(K):
        w[k] = w[k] / total
    # the Wishart's expected log-determinant and normaliser, per component (once,
    # shared by all, for 'tied')
    for k in range(1 if shared else K):
        if wishart != NULL:
            wk = wishart + 3 * k
        else:
            _wishart_terms(nu[k], U + k * _row_width(cov, D), cov, D, own)
            wk = own
        log_wishart -= wk[0]
        for j in range(0 if shared else k, K if shared else k + 1):
            c[j] = c[j] + wk[1] - wk[2]
    if shared:
        log_wishart = K * log_wishart
    for k in range(K):
        c[k] = c[k] - 0.5 * D / beta[k]
        sum_log_beta += log(beta[k])
    terms[0] = log_wishart
    terms[1] = log_norm_weight
    terms[2] = 0.5 * D * sum_log_beta


cdef void _gram_lower(const double* U, Py_ssize_t D, double* P) noexcept nogil:
    """P = U U^T's row-major lower triangle, P[i * D + j] for j <= i, of U (D x D,
    row-major, upper triangular). Below SMALL_D features, plain loops: a 'full' fit
    there holds no BLAS thread limit (_threads.blas_single_thread), and a BLAS call
    would wake BLAS's threads to spin beside the kernels' own for the next pass."""
    cdef int d = <int> D
    cdef char upper = b'U', transposed = b'T'
    cdef double one = 1.0, zero = 0.0, acc
    cdef Py_ssize_t i, j, e
    if D >= SMALL_D:
        # U read column-major is U^T, so P = A^T A; the column-major upper triangle of
        # P is its row-major lower one
        dsyrk(&upper, &transposed, &d, &d, &one, <double*> U, &d, &zero, P, &d)
        return
    for i in range(D):
        for j in range(i + 1):
            acc = 0.0
            for e in range(i, D):      # U_ie = 0 below the diagonal
                acc = acc + U[i * D + e] * U[j * D + e]
            P[i * D + j] = acc


cdef double _moved_trace(const double* P, const double* S2, const double* S1,
                         const double* N, const double* delta, Py_ssize_t k_lo,
                         Py_ssize_t k_hi, Py_ssize_t D) noexcept nogil:
    """tr(P S) with S = S2 + sum_{k_lo <= k < k_hi} (S1_k d_k^T + d_k S1_k^T
    + N_k d_k d_k^T): the second moments S2 about a shift moved by d_k = shift - mean
    ('tied': the components' terms summed). P's row-major lower triangle is read."""
    cdef Py_ssize_t i, j, k
    cdef double trace = 0.0, s_ij, s_ji, dk_i, dk_j
    for i in range(D):
        for j in range(i + 1):
            s_ij = S2[i * D + j]
            s_ji = S2[j * D + i]
            for k in range(k_lo, k_hi):
                dk_i = delta[k * D + i]
                dk_j = delta[k * D + j]
                s_ij = s_ij + (S1[k * D + i] * dk_j + dk_i * S1[k * D + j]
                               + N[k] * dk_i * dk_j)
                s_ji = s_ji + (S1[k * D + j] * dk_i + dk_j * S1[k * D + i]
                               + N[k] * dk_j * dk_i)
            if i == j:
                trace += P[i * D + i] * s_ij
            else:
                trace += P[i * D + j] * (s_ij + s_ji)
    return trace


def vb_entropy(int cov, const double[::1] N, const double[:, ::1] S1,
               const double[:, ::1] S2, const double[:, ::1] shift,
               const double[::1] log_weights, const double[:, ::1] means,
               const double[:, ::1] U, double L, int n_threads=1):
    """sum_i w_i sum_k r_ik log r_ik from one E-step's statistics (the formula and its
    rounding: _variational.resp_entropy_sum).

    N (K,), S1 (K, D), L: the statistics; S2 flattened per component as U is (see
    vb_constants; 'tied': (1, D*D), the data's scatter about shift); shift: (K, D)
    for 'full', else (1, D); log_weights, means, U: the model the statistics were
    taken with. n_threads: over the components of 'full' (each its own trace, added
    in component order: the same result on any number).
    """
    cdef Py_ssize_t K = N.shape[0], D = S1.shape[1], k, j
    cdef Py_ssize_t width = _row_width(cov, D)
    cdef Py_ssize_t n_rows = 1 if cov == COV_TIED else K
    if (S1.shape[0] != K or means.shape[0] != K or means.shape[1] != D
            or log_weights.shape[0] != K or U.shape[0] != n_rows or U.shape[1] != width
            or S2.shape[0] != n_rows or S2.shape[1] != width
            or shift.shape[0] != (K if cov == COV_FULL else 1) or shift.shape[1] != D):
        raise ValueError("vb_entropy: shapes do not match")
    cdef double half_d_log_2pi = 0.5 * D * log(2.0 * M_PI)
    cdef double na = 0.0, trace = 0.0, log_det = 0.0, moved, dk_j, acc
    cdef bint no_memory = False
    # scratch: delta (K, D), the traces (K,) and whether each was taken (K,), then P
    # (D, D) for 'tied'; 'full' takes one P per thread
    cdef double* delta = <double*> malloc((K * D + 2 * K + D * D) * sizeof(double))
    cdef double* traces = delta + K * D
    cdef double* taken = traces + K
    cdef double* P = taken + K
    cdef double* Pk
    if delta == NULL:
        raise MemoryError()
    with nogil:
        for k in range(K):
            for j in range(D):
                delta[k * D + j] = shift[k if cov == COV_FULL else 0, j] - means[k, j]
        if cov == COV_TIED:
            log_det = _log_det_factor(&U[0, 0], cov, D)
        for k in range(K):
            if cov != COV_TIED:
                log_det = _log_det_factor(&U[k, 0], cov, D)
            na += N[k] * (log_weights[k] - half_d_log_2pi + log_det)
        # P = U_k U_k^T
        if cov == COV_TIED:
            _gram_lower(&U[0, 0], D, P)
            trace = _moved_trace(P, &S2[0, 0], &S1[0, 0], &N[0], delta, 0, K, D)
        elif cov == COV_FULL:
            with parallel(num_threads=max(1, n_threads)):
                Pk = <double*> malloc(D * D * sizeof(double))
                for k in prange(K, schedule='static'):
                    taken[k] = Pk != NULL
                    if Pk != NULL:
                        _gram_lower(&U[k, 0], D, Pk)
                        traces[k] = _moved_trace(Pk, &S2[k, 0], &S1[0, 0], &N[0], delta,
                                                 k, k + 1, D)
                free(Pk)
            for k in range(K):
                no_memory = no_memory or taken[k] == 0.0
                trace += traces[k]
        elif cov == COV_DIAG:
            for k in range(K):
                for j in range(D):
                    dk_j = delta[k * D + j]
                    trace += U[k, j] * U[k, j] * (
                        S2[k, j] + 2.0 * dk_j * S1[k, j] + N[k] * (dk_j * dk_j))
        else:
            for k in range(K):
                acc = 0.0
                moved = 0.0
                for j in range(D):
                    acc += delta[k * D + j] * S1[k, j]
                    moved += delta[k * D + j] * delta[k * D + j]
                trace += U[k, 0] * U[k, 0] * (S2[k, 0] + 2.0 * acc + N[k] * moved)
    free(delta)
    if no_memory:
        raise MemoryError()
    return na - 0.5 * trace - L


cdef inline double _dot(const double* x, const double* y, Py_ssize_t n) noexcept nogil:
    """x . y in four running sums (by index mod 4, added in a fixed order): one sum
    would wait on the latency of each addition."""
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t i = 0
    while i + 4 <= n:
        s0 = s0 + x[i] * y[i]
        s1 = s1 + x[i + 1] * y[i + 1]
        s2 = s2 + x[i + 2] * y[i + 2]
        s3 = s3 + x[i + 3] * y[i + 3]
        i = i + 4
    while i < n:
        s0 = s0 + x[i] * y[i]
        i = i + 1
    return (s0 + s1) + (s2 + s3)


def vb_moment_entropy(const double[:, ::1] W, const double[::1] N,
                      const double[:, ::1] S1, const double[:, :, ::1] S2, double L,
                      int n_threads=1):
    """sum_i w_i sum_k r_ik log r_ik from statistics taken on the moment rows
    (_variational.resp_entropy_sum): sum_k W_k . [S2_k (a >= b), S1_k, N_k] - L.

    W (K, D(D+1)/2 + D + 1): the model's moment weights (SuffStats.moment_weights),
    whose first D(D+1)/2 columns follow np.tril_indices(D); N (K,), S1 (K, D),
    S2 (K, D, D) (its lower triangle is read) and L: the statistics. Each component's
    dot product is read straight from S2's rows, without gathering its lower triangle
    into a copy first; n_threads: over the components, whose products are then added in
    component order (the same result on any number).
    """
    cdef Py_ssize_t K = N.shape[0], D = S1.shape[1], T = D * (D + 1) // 2, k, a, t
    if (D < 1 or S1.shape[0] != K or S2.shape[0] != K or S2.shape[1] != D
            or S2.shape[2] != D or W.shape[0] != K or W.shape[1] != T + D + 1):
        raise ValueError("vb_moment_entropy: shapes do not match")
    cdef double total = 0.0, acc
    cdef double* per = <double*> malloc(max(K, 1) * sizeof(double))
    if per == NULL:
        raise MemoryError()
    with nogil:
        for k in prange(K, schedule='static', num_threads=max(1, n_threads)):
            acc = 0.0
            t = 0
            for a in range(D):      # np.tril_indices order: row a holds (a, b), b <= a
                acc = acc + _dot(&W[k, t], &S2[k, a, 0], a + 1)
                t = t + a + 1
            acc = acc + _dot(&W[k, T], &S1[k, 0], D)
            per[k] = acc + W[k, T + D] * N[k]
        for k in range(K):
            total += per[k]
    free(per)
    return total - L


def vb_update(int cov, bint stick_breaking, double weight_concentration,
              double mean_precision, const double[::1] mean_prior,
              double degrees_of_freedom, const double[::1] covariance_prior,
              const double[::1] nk, const double[:, ::1] xk, const double[:, ::1] sk,
              double limit, int n_threads):
    """The variational M-step (_variational.update_posterior) and what the new
    posterior gives the next E-step and the lower bound, in one call.

    The priors are updated by the counts nk (K,), the means xk (K, D) and the
    covariances sk of the responsibilities, flattened per component as in vb_constants
    ('tied': (1, D*D)); covariance_prior flattened: D*D for 'full' and 'tied', D for
    'diag', 1 for 'spherical'. The covariances are factorised as precision_cholesky does
    (``limit``: a factor entry of that magnitude counts as a failure; n_threads: over
    the components, 'full' only, the same result on any number).

    Returns (a, b, beta, means, nu, covariances, prec_chol, failed, log_weights,
    weights, log_wishart, log_norm_weight, half_d_log_beta): a, b the stick-breaking
    Betas, or the Dirichlet's alpha in a and b None; nu (K,) or (1,) for 'tied';
    covariances normalised by nu (scikit-learn's ``covariances_``) and their factors,
    in the estimator's shapes; failed: -1, or the first component whose covariance
    could not be factorised (then nothing after it is set); the rest as vb_constants.
    """
    cdef Py_ssize_t K = nk.shape[0], D = xk.shape[1], k, i, j
    cdef Py_ssize_t width = _row_width(cov, D)
    cdef Py_ssize_t n_rows = 1 if cov == COV_TIED else K
    if (xk.shape[0] != K or mean_prior.shape[0] != D or sk.shape[0] != n_rows
            or sk.shape[1] != width
            or covariance_prior.shape[0] != width):
        raise ValueError("vb_update: shapes do not match")
    shape = {COV_FULL: (K, D, D), COV_TIED: (D, D), COV_DIAG: (K, D)}.get(cov, (K,))
    a_arr = np.empty(K)
    b_arr = np.empty(K) if stick_breaking else None
    beta_arr = np.empty(K)
    means_arr = np.empty((K, D))
    nu_arr = np.empty(n_rows)
    cov_arr = np.empty(shape)
    prec_arr = np.empty(shape)
    # the arrays made here are written through pointers: a typed memoryview of each
    # would cost a buffer acquisition per call, which on small models is most of it
    cdef double* a = _data(a_arr)
    cdef double* b = _data(b_arr if stick_breaking else a_arr)
    cdef double* beta = _data(beta_arr)
    cdef double* nu = _data(nu_arr)
    cdef double* means = _data(means_arr)
    cdef double* out = _data(cov_arr)
    cdef double* U = _data(prec_arr)
    cdef const double* cov0 = &covariance_prior[0]
    cdef double tail = 0.0, shrink, mean_nk = 0.0, diff_i, diff_j, acc
    cdef Py_ssize_t failed = -1
    # 'full': per component, its factor's status (infos) and its Wishart numbers
    # (_wishart_terms, 3 each), taken in the one loop over the components below
    cdef int* infos = NULL
    cdef double* wishart = NULL
    if cov == COV_FULL and K > 0:
        infos = <int*> malloc(K * sizeof(int))
        wishart = <double*> malloc(3 * K * sizeof(double))
        if infos == NULL or wishart == NULL:
            free(infos)
            free(wishart)
            raise MemoryError()
    with nogil:
        for k in range(K - 1, -1, -1):
            if stick_breaking:
                # a_k = 1 + nk_k, b_k = gamma + sum_{j>k} nk_j
                a[k] = 1.0 + nk[k]
                b[k] = weight_concentration + tail
                tail = tail + nk[k]
            else:
                a[k] = weight_concentration + nk[k]
        for k in range(K):
            beta[k] = mean_precision + nk[k]
            for j in range(D):
                means[k * D + j] = (mean_precision * mean_prior[j] + nk[k] * xk[k, j]) / beta[k]
        if cov == COV_TIED:
            for k in range(K):
                mean_nk += nk[k]
            mean_nk = mean_nk / K
            nu[0] = degrees_of_freedom + mean_nk
            for i in range(D):
                for j in range(D):
                    acc = 0.0
                    for k in range(K):
                        acc += (nk[k] / beta[k] * (xk[k, i] - mean_prior[i])) \
                            * (xk[k, j] - mean_prior[j])
                    out[i * D + j] = (cov0[i * D + j] + sk[0, i * D + j] * mean_nk
                                         + mean_precision / K * acc) / nu[0]
        elif cov == COV_FULL:
            for k in range(K):
                nu[k] = degrees_of_freedom + nk[k]
            # Each component on its own thread from its covariance (K D^2 divisions)
            # to its factor (as precision_cholesky: _factor_one) and its Wishart
            # numbers (2 D special functions): one parallel region, the covariance
            # still in cache when it is factorised. Nothing is summed across
            # components here, so the numbers do not depend on the thread count.
            for k in prange(K, schedule='static', num_threads=max(1, n_threads)):
                infos[k] = _full_posterior_one(
                    D, nk[k], beta[k], nu[k], mean_precision, &mean_prior[0], cov0,
                    &xk[k, 0], &sk[k, 0], out + k * width, U + k * width, limit,
                    wishart + 3 * k)
        else:
            for k in range(K):
                nu[k] = degrees_of_freedom + nk[k]
                shrink = mean_precision / beta[k]
                if cov == COV_DIAG:
                    for j in range(D):
                        diff_j = xk[k, j] - mean_prior[j]
                        out[k * width + j] = (cov0[j] + nk[k] * (sk[k, j] + shrink * diff_j ** 2)) \
                            / nu[k]
                else:
                    acc = 0.0
                    for j in range(D):
                        acc += (xk[k, j] - mean_prior[j]) ** 2
                    out[k] = (cov0[0] + nk[k] * (sk[k, 0] + shrink * (acc / D))) / nu[k]
    if cov == COV_FULL:
        for k in range(K):
            if infos[k] != 0:
                failed = k
                break
        free(infos)
    elif cov == COV_TIED:
        failed = _factor_precisions(out, U, n_rows, D, limit, 1)
    else:
        with nogil:
            # as _mstep.precision_cholesky: a non-positive variance first, then a
            # factor whose square overflows the data's dtype
            for k in range(K):
                for j in range(width):
                    if failed < 0 and not out[k * width + j] > 0:
                        failed = k
            for k in range(K):
                for j in range(width):
                    U[k * width + j] = 1.0 / sqrt(out[k * width + j])
                    if failed < 0 and not U[k * width + j] < limit:
                        failed = k
    if failed >= 0:
        free(wishart)
        return (a_arr, b_arr, beta_arr, means_arr, nu_arr, cov_arr, prec_arr, failed,
                None, None, None, None, None)
    cdef double terms[3]
    try:
        log_weights = np.empty(K)
        weights = np.empty(K)
        _weight_terms(cov, stick_breaking, K, a, b, beta, nu, U, D, _data(log_weights),
                      _data(weights), terms, wishart)
    finally:
        free(wishart)
    return (a_arr, b_arr, beta_arr, means_arr, nu_arr, cov_arr, prec_arr, failed,
            log_weights, weights, terms[0], terms[1], terms[2])


cdef int _full_posterior_one(Py_ssize_t D, double nk_k, double beta_k, double nu_k,
                             double mean_precision, const double* mean_prior,
                             const double* cov0, const double* xk_k, const double* sk_k,
                             double* out_k, double* U_k, double limit,
                             double* wishart_k) noexcept nogil:
    """One 'full' component of the variational M-step (vb_update): its covariance
    (scikit-learn's, normalised by nu_k) into out_k, its factor into U_k (as
    precision_cholesky: _factor_one) and, when that succeeds, its Wishart numbers
    (_wishart_terms) into wishart_k; returns the factorisation's status. sk_k may be
    out_k itself (each entry is read before it is written)."""
    cdef Py_ssize_t i, j
    cdef double shrink = mean_precision / beta_k, diff_i, diff_j
    cdef int info
    for i in range(D):
        diff_i = xk_k[i] - mean_prior[i]
        for j in range(D):
            diff_j = xk_k[j] - mean_prior[j]
            out_k[i * D + j] = (cov0[i * D + j] + nk_k * sk_k[i * D + j]
                                + (nk_k * shrink) * (diff_i * diff_j)) / nu_k
    for i in range(D * D):
        U_k[i] = out_k[i]
    info = _factor_one(U_k, D, limit)
    if info == 0:
        _wishart_terms(nu_k, U_k, COV_FULL, D, wishart_k)
    return info


def vb_update_full(bint stick_breaking, double weight_concentration,
                   double mean_precision, const double[::1] mean_prior,
                   double degrees_of_freedom, const double[::1] covariance_prior,
                   const double[::1] N, const double[:, ::1] S1, const double[:, :, ::1] S2,
                   const double[:, ::1] shift, double reg_covar, double eps, double limit,
                   int n_threads):
    """The 'full' variational M-step straight from one E-step's statistics: the
    M-step's counts, means and covariances (m_step_full's formulas, operation for
    operation, so the same bits) and then vb_update's, in one loop over the
    components, each on one thread from its statistics to its factor and Wishart
    numbers: the statistics, covariance and factor of a component stay in cache, and
    the M-step, serial in m_step_full, runs on the factorisations' threads. Nothing
    is summed across components in that loop, so the numbers do not depend on the
    thread count.

    N (K,), S1 (K, D), S2 (K, D, D), shift (K, D): the statistics (SuffStats);
    covariance_prior: D*D; reg_covar, eps: as m_step_full; the rest as vb_update.

    Returns (nk, a, b, beta, means, nu, covariances, prec_chol, failed, log_weights,
    weights, log_wishart, log_norm_weight, half_d_log_beta): nk = N + 10 eps, the
    counts of the posterior; the rest as vb_update.
    """
    cdef Py_ssize_t K = N.shape[0], D = S1.shape[1], k
    if (D < 1 or S1.shape[0] != K or S2.shape[0] != K or S2.shape[1] != D
            or S2.shape[2] != D or shift.shape[0] != K or shift.shape[1] != D
            or mean_prior.shape[0] != D or covariance_prior.shape[0] != D * D):
        raise ValueError("vb_update_full: shapes do not match")
    nk_arr = np.empty(K)
    a_arr = np.empty(K)
    b_arr = np.empty(K) if stick_breaking else None
    beta_arr = np.empty(K)
    means_arr = np.empty((K, D))
    nu_arr = np.empty(K)
    cov_arr = np.empty((K, D, D))
    prec_arr = np.empty((K, D, D))
    cdef double* nk = _data(nk_arr)
    cdef double* a = _data(a_arr)
    cdef double* b = _data(b_arr if stick_breaking else a_arr)
    cdef double* beta = _data(beta_arr)
    cdef double* nu = _data(nu_arr)
    cdef double* means = _data(means_arr)
    cdef double* out = _data(cov_arr)
    cdef double* U = _data(prec_arr)
    cdef const double* cov0 = &covariance_prior[0]
    cdef const double* m0 = &mean_prior[0]
    cdef double tail = 0.0, ratio, centring
    cdef Py_ssize_t failed = -1, x, y
    cdef double* xk
    cdef double* sk
    # per component: its M-step mean (D), its factor's status and its Wishart numbers
    cdef double* xks = <double*> malloc((max(K, 1) * (D + 3)) * sizeof(double))
    cdef int* infos = <int*> malloc(max(K, 1) * sizeof(int))
    cdef double* wishart
    if xks == NULL or infos == NULL:
        free(xks)
        free(infos)
        raise MemoryError()
    wishart = xks + K * D
    with nogil:
        for k in range(K):
            nk[k] = N[k] + 10 * eps
        for k in range(K - 1, -1, -1):
            if stick_breaking:
                # a_k = 1 + nk_k, b_k = gamma + sum_{j>k} nk_j
                a[k] = 1.0 + nk[k]
                b[k] = weight_concentration + tail
                tail = tail + nk[k]
            else:
                a[k] = weight_concentration + nk[k]
        for k in prange(K, schedule='static', num_threads=max(1, n_threads)):
            # m_step_full's mean and covariance (into the covariance's own slot)
            xk = xks + k * D
            sk = out + k * D * D
            ratio = N[k] / nk[k]
            for x in range(D):
                xk[x] = shift[k, x] * ratio + S1[k, x] / nk[k]
            for x in range(D):
                for y in range(D):
                    centring = (S1[k, x] * S1[k, y]) / N[k] if N[k] > 0 else 0.0
                    sk[x * D + y] = (S2[k, x, y] - centring) / nk[k]
                sk[x * D + x] = sk[x * D + x] + reg_covar
            # vb_update's
            beta[k] = mean_precision + nk[k]
            for x in range(D):
                means[k * D + x] = (mean_precision * m0[x] + nk[k] * xk[x]) / beta[k]
            nu[k] = degrees_of_freedom + nk[k]
            infos[k] = _full_posterior_one(D, nk[k], beta[k], nu[k], mean_precision, m0,
                                           cov0, xk, sk, sk, U + k * D * D, limit,
                                           wishart + 3 * k)
    for k in range(K):
        if infos[k] != 0:
            failed = k
            break
    free(infos)
    if failed >= 0:
        free(xks)
        return (nk_arr, a_arr, b_arr, beta_arr, means_arr, nu_arr, cov_arr, prec_arr,
                failed, None, None, None, None, None)
    cdef double terms[3]
    try:
        log_weights = np.empty(K)
        weights = np.empty(K)
        _weight_terms(COV_FULL, stick_breaking, K, a, b, beta, nu, U, D,
                      _data(log_weights), _data(weights), terms, wishart)
    finally:
        free(xks)
    return (nk_arr, a_arr, b_arr, beta_arr, means_arr, nu_arr, cov_arr, prec_arr,
            failed, log_weights, weights, terms[0], terms[1], terms[2])
