"""Compiled EM kernels of gmmfast.

Maths convention, stated once
-----------------------------
Component k has weight pi_k, mean mu_k and precision Cholesky factor U_k: upper
triangular, with U_k U_k^T = Sigma_k^{-1} (scikit-learn's ``precisions_cholesky_``).
Its log-density at a row x is

    log N(x | mu_k, Sigma_k) = -0.5 * (D log 2pi + ||(x - mu_k) U_k||^2) + sum log diag U_k

a triangular product: no inverse, no determinant. The kernels receive, per component, a
constant ``cst_k = log pi_k + sum log diag U_k - 0.5 D log 2pi`` (and for diag/spherical
the part of the quadratic form that depends only on the parameters), so that the
weighted log-probability is ``lp_ik = cst_k - 0.5 * q_ik``.

Shifts. 'full' accumulates moments about each component's current mean (the shift that
keeps second moments free of cancellation), except in COV_FULL_MOMENTS. 'tied', 'diag' and 'spherical' accumulate about one global shift
c (the mixture mean), given by the caller: X' = X - c.

Moment rows (COV_FULL_MOMENTS, 'full' with D >= SMALL_D, chosen by the Python layer
while every component is near c: _estep.MOMENTS_MAX_SPREAD). With z = x - c and
m_k = mu_k - c, P_k = U_k U_k^T, the row F = [z_a z_b (a >= b), z_a, 1] turns both
halves of the E-step into one GEMM each for all components:

    lp_ik = F_i . W_k,  W_k = [-0.5 P_aa | -P_ab (a > b), P_k m_k, cst_k - 0.5 m_k' P_k m_k]
    [S2 (lower) | S1 | N]_k += sum_i r_ik F_i

the minimum of flops (the symmetric half of the products) at GEMM speed. 'diag' does
the same with F = [(x - c)^2, x - c] and the constants apart, in kernels of its own
(_diag.h) rather than BLAS.

Work split. Rows are cut into blocks of ``block_size``; consecutive blocks form
``n_chunks`` chunks (the first axis of every statistics output). A chunk is processed by
one thread from its first block to its last, accumulating into its own slot, so the
numbers do not depend on how many threads run: the caller adds the chunk slots in order.

Statistics written per chunk (double), with r_ik the responsibilities and w_i the
sample weights (1 when none are given):

    N[c, k]   = sum w_i r_ik
    S1[c, :]  = 'full': sum w_i r_ik (x_i - m_k)             (K x D)
                else:   sum w_i r_ik (x_i - c)               (K x D)
    S2[c, :]  = 'full': sum w_i r_ik (x_i - m_k)(x_i - m_k)^T, lower triangle (K x D x D)
                  with m_k = mu_k, or c in COV_FULL_MOMENTS
                'tied': sum w_i (x_i - c)(x_i - c)^T, lower triangle            (D x D)
                'diag': sum w_i r_ik (x_i - c)**2                              (K x D)
                'spherical': sum w_i r_ik ||x_i - c||^2                         (K)
    L[c]      = sum w_i log sum_k exp(lp_ik)

float32 input is computed in float32 (products, BLAS calls), except where that would
lose float32's accuracy: the moment rows of COV_FULL_MOMENTS and the 'diag' feature
rows, both products included (expansions about c), are formed and multiplied in double.
'full' about each mean with float32 data (_full.h) takes its scatter in float32 about
each block's own centre, shifted back to the mean in double, and the statistics of the
small-D kernel run in double: both about the means in double (W64), the shifts the
statistics are reported about. Every sum over samples is accumulated in double.

Nothing here raises inside nogil code: workers return a status per chunk or block
(STATUS_*), which the def entry points return and Python turns into an error.
"""

from cython.parallel cimport parallel, prange
from libc.math cimport exp, log, sqrt, isfinite, INFINITY, M_PI
from libc.stdlib cimport malloc, free
from libc.string cimport memset

from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm, dtrmm, strmm
from scipy.linalg.cython_lapack cimport dpotrf, dtrtri

import numpy as np
cimport numpy as cnp
cnp.import_array()

cdef extern from "_omp_shim.h":
    int omp_get_max_threads() noexcept nogil
    int GMMFAST_HAVE_OPENMP

cdef extern from "_vmath.h":
    void gmm_exp_d(double* x, Py_ssize_t n) noexcept nogil
    void gmm_log_d(double* x, Py_ssize_t n) noexcept nogil
    void gmm_exp_f(float* x, Py_ssize_t n) noexcept nogil
    void gmm_log_f(float* x, Py_ssize_t n) noexcept nogil
    void gmm_moment_rows_d(const double* X, Py_ssize_t n, Py_ssize_t D, const double* c,
                           double* F, double* z) noexcept nogil
    void gmm_moment_rows_fd(const float* X, Py_ssize_t n, Py_ssize_t D, const float* c,
                            double* F, double* z) noexcept nogil
    void gmm_diag_rows_d(const double* X, Py_ssize_t n, Py_ssize_t D, const double* c,
                         Py_ssize_t lda, double* A) noexcept nogil
    void gmm_diag_rows_fd(const float* X, Py_ssize_t n, Py_ssize_t D, const float* c,
                          Py_ssize_t lda, double* A) noexcept nogil
    void gmm_tri_sqnorm_d(const double* X, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                          Py_ssize_t k, const double* mu, const double* U, double cst,
                          double* lp, double* Up, double* Zt) noexcept nogil
    double gmm_sum(const double* a, Py_ssize_t n) noexcept nogil
    double gmm_dot(const double* a, const double* b, Py_ssize_t n) noexcept nogil
    void gmm_vmath_init(int max_level) noexcept nogil
    const char* gmm_vmath_impl() noexcept nogil

cdef extern from "_smalld.h":
    Py_ssize_t GMM_SMALL_D
    Py_ssize_t gmm_full_small_block_d(
        const double* X, const double* w, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
        const double* cst, const double* M, const double* U, double* N, double* S1,
        double* S2, double* L, void* scratch) noexcept nogil
    Py_ssize_t gmm_full_small_block_f(
        const float* X, const double* w, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
        const double* cst, const double* M, const double* U, double* N, double* S1,
        double* S2, double* L, void* scratch) noexcept nogil
    void gmm_normalize_cols_d(double* lpt, Py_ssize_t n, Py_ssize_t K, const double* w,
                              double* lse, double* row_max, double* scale) noexcept nogil
    void gmm_smalld_init() noexcept nogil

cdef extern from "_full.h":
    Py_ssize_t GMM_FULL32_GROUP
    Py_ssize_t gmm_full32_ldx(Py_ssize_t n) noexcept nogil
    Py_ssize_t gmm_full32_d4(Py_ssize_t D) noexcept nogil
    Py_ssize_t gmm_full32_dp(Py_ssize_t D) noexcept nogil
    void gmm_full32_transpose(const float* X, Py_ssize_t n, Py_ssize_t D,
                              float* Xt) noexcept nogil
    void gmm_full32_lp(const float* Xt, Py_ssize_t n, Py_ssize_t D, const float* mu,
                       const float* Up, double cst, double* lp, Py_ssize_t rs,
                       float* Zt) noexcept nogil
    void gmm_full32_scatter(const float* X, Py_ssize_t n, Py_ssize_t D, const double* mu,
                            const double* Rk, double* Nk, double* S1k, double* S2k,
                            float* Z, float* T, float* cf, double* sc) noexcept nogil
    Py_ssize_t gmm_full_ld8(Py_ssize_t D) noexcept nogil
    void gmm_rank_update_d(const double* Z, Py_ssize_t m, Py_ssize_t D, double* S,
                           double* T) noexcept nogil
    void gmm_full32_init() noexcept nogil

cdef extern from "_diag.h":
    Py_ssize_t GMM_DIAG_ROWS
    Py_ssize_t gmm_diag_lda(Py_ssize_t D) noexcept nogil
    Py_ssize_t gmm_diag_ldw(Py_ssize_t K) noexcept nogil
    void gmm_diag_lp(const double* Wt, Py_ssize_t ldw, Py_ssize_t K, Py_ssize_t P,
                     const double* A, Py_ssize_t m, Py_ssize_t lda, double* lpt) noexcept nogil
    void gmm_diag_moments(const double* R, Py_ssize_t K, const double* A, Py_ssize_t m,
                          Py_ssize_t lda, double* C, double* N) noexcept nogil
    void gmm_diag_normalize_f(double* lpt, Py_ssize_t n, Py_ssize_t K, const double* w,
                              double* lse, double* row_max, float* sum,
                              float* y) noexcept nogil
    void gmm_diag_init() noexcept nogil

import os as _os

# GMMFAST_ISA=baseline|avx2 caps the vector code chosen at import (default: the widest
# this CPU runs), so that the narrower builds can be tested on a wide machine.
_ISA_LEVELS = {"baseline": 0, "avx2": 1, "avx512": 2}
gmm_vmath_init(_ISA_LEVELS.get(_os.environ.get("GMMFAST_ISA", "avx512").lower(), 2))
gmm_smalld_init()
gmm_diag_init()
gmm_full32_init()

# Covariance types, as the Python layer numbers them.
COV_FULL = 0
COV_TIED = 1
COV_DIAG = 2
COV_SPHERICAL = 3
# 'full' computed through moment rows about the mixture mean (see _moments_block): the
# Python layer picks it when that loses little precision.
COV_FULL_MOMENTS = 4

# Status codes returned per chunk / block.
cdef enum:
    STATUS_OK = 0
    STATUS_NO_MEMORY = 1
    STATUS_ZERO_DENSITY = 2   # a row whose log-likelihood is not finite

OK = STATUS_OK
NO_MEMORY = STATUS_NO_MEMORY
ZERO_DENSITY = STATUS_ZERO_DENSITY

# Below this many features, the triangular product and the scatter are plain loops:
# BLAS call overhead would exceed the work. 'full' then runs feature-major (_smalld.h).
cdef Py_ssize_t SMALL_D = GMM_SMALL_D
SMALL_FEATURES = GMM_SMALL_D   # the same, for the Python layer


def openmp_enabled():
    """Whether the kernels were compiled with OpenMP."""
    return bool(GMMFAST_HAVE_OPENMP)


def vmath_impl():
    """Which build of the vector code runs: 'avx512', 'avx2+fma' or 'baseline'."""
    return gmm_vmath_impl().decode()


def vexp(double[::1] x):
    """x := exp(x) in place with the kernels' vector exp (domain x <= 0). For tests."""
    gmm_exp_d(&x[0], x.shape[0])


def vlog(double[::1] x):
    """x := log(x) in place with the kernels' vector log (domain x >= 1). For tests."""
    gmm_log_d(&x[0], x.shape[0])


def vexp32(float[::1] x):
    """float32 :func:`vexp`."""
    gmm_exp_f(&x[0], x.shape[0])


def vlog32(float[::1] x):
    """float32 :func:`vlog`."""
    gmm_log_f(&x[0], x.shape[0])


def openmp_max_threads():
    """omp_get_max_threads(): honours OMP_NUM_THREADS and threadpoolctl limits."""
    return omp_get_max_threads()


# ---------------------------------------------------------------------------------
# BLAS on row-major arrays (row-major A is column-major A^T)

cdef inline void _gemm_rm(bint trans_a, bint trans_b, int m, int n, int k,
                          floating alpha, const floating* A, int lda,
                          const floating* B, int ldb, floating beta,
                          floating* C, int ldc) noexcept nogil:
    """C (m x n) = alpha op(A) op(B) + beta C, all row-major."""
    cdef char ta = b'T' if trans_b else b'N'
    cdef char tb = b'T' if trans_a else b'N'
    if floating is float:
        sgemm(&ta, &tb, &n, &m, &k, &alpha, <float*> B, &ldb, <float*> A, &lda,
              &beta, C, &ldc)
    else:
        dgemm(&ta, &tb, &n, &m, &k, &alpha, <double*> B, &ldb, <double*> A, &lda,
              &beta, C, &ldc)


cdef inline void _trmm_upper_right(int n, int d, const floating* U,
                                   floating* Z) noexcept nogil:
    """Z (n x d, row-major) := Z U with U (d x d) upper triangular, row-major."""
    cdef char side = b'L', uplo = b'L', trans = b'N', diag = b'N'
    cdef floating one = 1.0
    if floating is float:
        strmm(&side, &uplo, &trans, &diag, &d, &n, &one, <float*> U, &d, Z, &d)
    else:
        dtrmm(&side, &uplo, &trans, &diag, &d, &n, &one, <double*> U, &d, Z, &d)


# ---------------------------------------------------------------------------------
# Per-block workers: weighted log-probabilities lp (n x K, double)

cdef void _logprob_full_block(
    const floating* X,      # IN  (n, D) rows of the block
    Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
    const double* cst,      # IN  (K,)
    const floating* M,      # IN  (K, D) means
    const floating* U,      # IN  (K, D, D) precision Cholesky factors
    double* lp,             # OUT (n, K)
    floating* Z,            # scratch (n, D)
) noexcept nogil:
    cdef Py_ssize_t i, j, l, k
    cdef const floating* mu
    cdef const floating* Uk
    cdef floating* z
    cdef double q, y
    for k in range(K):
        mu = M + k * D
        Uk = U + k * D * D
        for i in range(n):
            z = Z + i * D
            for j in range(D):
                z[j] = X[i * D + j] - mu[j]
            q = 0.0
            for j in range(D):
                y = 0.0
                for l in range(j + 1):
                    y += z[l] * Uk[l * D + j]
                q += y * y
            lp[i * K + k] = cst[k] - 0.5 * q


cdef void _logprob_full_tri_block(
    const floating* X,      # IN  (n, D) rows of the block
    Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
    const double* cst,      # IN  (K,)
    const floating* M,      # IN  (K, D) means
    const floating* U,      # IN  (K, D, D) precision Cholesky factors
    double* lp,             # OUT (n, K)
    floating* scratch,      # scratch (_tri_scratch(D),)
) noexcept nogil:
    """'full' with D >= SMALL_D, components far from the mixture mean: per component,
    ||(X - mu_k) U_k||^2 by the register-blocked triangular product of _vmath.h (half
    the flops of a GEMM, the centred rows never stored); float32 data one row a lane
    (_full.h), with U the zero-padded factors of _full32_padded (K x D x D4)."""
    cdef Py_ssize_t k, D4 = gmm_full32_d4(D)
    if floating is double:
        for k in range(K):
            gmm_tri_sqnorm_d(X, n, D, K, k, M + k * D, U + k * D * D, cst[k], lp,
                             scratch + 4 * D, scratch)
    else:
        gmm_full32_transpose(X, n, D, scratch)
        for k in range(K):
            gmm_full32_lp(scratch, n, D, M + k * D, U + k * D * D4, cst[k], lp + k, K,
                          scratch + D * gmm_full32_ldx(n))


cdef inline Py_ssize_t _tri_scratch(Py_ssize_t D) noexcept nogil:
    """Scratch of gmm_tri_sqnorm: 4 centred rows (4 D) and U padded to a multiple of
    16 columns (D (D + 16) covers both tile widths)."""
    return 4 * D + D * (D + 16)


cdef inline Py_ssize_t _full32_floats(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K) noexcept nogil:
    """float scratch of _full32_stats_block (and of its log-densities): Xt, Zt, Z, T,
    cf and the float32 normalisation's."""
    cdef Py_ssize_t Dp = gmm_full32_dp(D)
    return (D * gmm_full32_ldx(B) + GMM_FULL32_GROUP * D + B * Dp + Dp * Dp + Dp + B
            + B * (K + 1))


def _full32_padded(U):
    """The float32 'full' kernels' factors: U_k's upper triangle, zero-padded to D4
    columns (K x D x D4), so that their column blocks of 4 need no tests."""
    U = np.asarray(U)
    K, D = U.shape[0], U.shape[1]
    out = np.zeros((K, D, gmm_full32_d4(D)), dtype=np.float32)
    out[:, :, :D] = np.triu(U)
    return out


cdef Py_ssize_t _full32_stats_block(
    const float* X, const double* w, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
    const double* cst, const float* M,
    const double* M64,      # IN  (K, D) the means in double: the statistics' shifts
    const float* Up,        # IN  (K, D, D4) padded factors (_full32_padded)
    double* N, double* S1, double* S2, double* L,
    float* ft,              # scratch (_full32_floats(n, D, K),)
    double* dt,             # scratch (K n + 3 n + 3 D,)
) noexcept nogil:
    """Statistics of one block, 'full' about each mean, float32 data (_full.h): the
    log-densities component-major (one row a lane), normalised in float32 over the
    rows, then each component's scatter about the block's own centre. Returns the
    first row whose log-likelihood is not finite, or -1."""
    cdef Py_ssize_t k, ldx = gmm_full32_ldx(n), Dp = gmm_full32_dp(D)
    cdef Py_ssize_t D4 = gmm_full32_d4(D), bad
    cdef float* Xt = ft
    cdef float* Zt = Xt + D * ldx
    cdef float* Z = Zt + GMM_FULL32_GROUP * D
    cdef float* T = Z + n * Dp
    cdef float* cf = T + Dp * Dp
    cdef float* yf = cf + Dp + n          # cf: the centre, then n square roots
    cdef double* lpt = dt
    cdef double* row_max = lpt + K * n
    cdef double* sc = row_max + 3 * n
    gmm_full32_transpose(X, n, D, Xt)
    for k in range(K):
        gmm_full32_lp(Xt, n, D, M + k * D, Up + k * D * D4, cst[k], lpt + k * n, 1, Zt)
    bad = _normalize_cols(lpt, n, K, w, L, row_max, yf)
    if bad >= 0:
        return bad
    for k in range(K):
        gmm_full32_scatter(X, n, D, M64 + k * D, lpt + k * n, N + k, S1 + k * D,
                           S2 + k * D * D, Z, T, cf, sc)
    return -1


cdef void _logprob_tied_block(
    const floating* X,      # IN  (n, D)
    Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
    const double* cst,      # IN  (K,)
    const floating* c,      # IN  (D,) global shift
    const floating* V,      # IN  (K, D) (mu_k - c) U
    const floating* U,      # IN  (D, D) shared precision Cholesky factor
    double* lp,             # OUT (n, K)
    floating* Z,            # scratch (n, D)
) noexcept nogil:
    cdef Py_ssize_t i, j, l, k
    cdef floating* z
    cdef double q, t, y
    for i in range(n):
        for j in range(D):
            Z[i * D + j] = X[i * D + j] - c[j]
    if D < SMALL_D:
        # in place, last column first: y_j needs z_0..z_j only
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
                t = <double> z[j] - V[k * D + j]
                q += t * t
            lp[i * K + k] = cst[k] - 0.5 * q


def diag_weights_shape(Py_ssize_t D, Py_ssize_t K):
    """Shape of the 'diag' weights W64 (_diag.h): (2D + 1, K rounded up to 4)."""
    return (2 * D + 1, gmm_diag_ldw(K))


cdef inline Py_ssize_t _diag_scratch(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K) noexcept nogil:
    """Doubles of scratch for either 'diag' worker below."""
    return ((max(B, GMM_DIAG_ROWS) + 3 + K) * gmm_diag_lda(D) + GMM_DIAG_ROWS * (K + 3)
            + GMM_DIAG_ROWS * (K + 1))   # the last: float32's normalisation (floats)


cdef inline void _diag_rows(const floating* X, Py_ssize_t n, Py_ssize_t D,
                            const floating* c, Py_ssize_t lda, double* A) noexcept nogil:
    if floating is double:
        gmm_diag_rows_d(X, n, D, c, lda, A)
    else:   # in double: the expansion about c would lose float32's accuracy
        gmm_diag_rows_fd(X, n, D, c, lda, A)


cdef void _logprob_diag_block(
    const floating* X,      # IN  (n, D)
    Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
    const floating* c,      # IN  (D,)
    const double* Wt,       # IN  (2D + 1, ldw): [-0.5 P ; P (mu - c) ; cst]^T (_diag.h)
    double* lp,             # OUT (n, K)
    double* A,              # scratch ((n + 3) lda) the feature rows
) noexcept nogil:
    """lp = A Wt[:2D] + cst with the feature rows A_i = [(x_i - c)^2, x_i - c, 0 ...]."""
    cdef Py_ssize_t i, k, lda = gmm_diag_lda(D), ldw = gmm_diag_ldw(K)
    _diag_rows(X, n, D, c, lda, A)
    _gemm_rm(False, False, <int> n, <int> K, <int> (2 * D), 1.0, A, <int> lda, Wt,
             <int> ldw, 0.0, lp, <int> K)
    for i in range(n):
        for k in range(K):
            lp[i * K + k] += Wt[2 * D * ldw + k]


cdef Py_ssize_t _diag_stats_block(
    const floating* X, const double* w, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
    const floating* c, const double* Wt,
    double* N, double* S2, double* L, double* dt,
) noexcept nogil:
    """Statistics of one block, 'diag', GMM_DIAG_ROWS rows at a time (_diag.h): the
    feature rows, lpt (K x m) = (A Wt[:2D] + cst)^T, its normalisation vectorised over
    the rows (_smalld.h), then [S2 | S1] += R A and N += R 1. Returns the first row
    whose log-likelihood is not finite, or -1.

    dt: _diag_scratch(n, D, K) doubles.
    """
    cdef Py_ssize_t j, k, sb, i0, m, bad, lda = gmm_diag_lda(D), S = GMM_DIAG_ROWS
    cdef double* A = dt
    cdef double* lpt = A + (S + 3) * lda
    cdef double* row_max = lpt + K * S
    cdef double* C = row_max + 3 * S
    cdef float* yf = NULL
    if floating is float:   # the normalisation in float32 (_normalize_cols)
        yf = <float*> (C + K * lda)                # S (K + 1) floats
    memset(C, 0, K * lda * sizeof(double))
    for sb in range((n + S - 1) // S):
        i0 = sb * S
        m = min(S, n - i0)
        _diag_rows(X + i0 * D, m, D, c, lda, A)
        gmm_diag_lp(Wt, gmm_diag_ldw(K), K, 2 * D, A, m, lda, lpt)
        bad = _normalize_cols(lpt, m, K, NULL if w == NULL else w + i0, L, row_max, yf)
        if bad >= 0:
            return i0 + bad
        gmm_diag_moments(lpt, K, A, m, lda, C, N)
    for k in range(K):
        for j in range(2 * D):
            S2[k * 2 * D + j] += C[k * lda + j]
    return -1


cdef void _logprob_spherical_block(
    const floating* X,      # IN  (n, D)
    Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
    const double* cst,      # IN  (K,) includes -0.5 p_k ||mu_k - c||^2
    const floating* c,      # IN  (D,)
    const floating* Mc,     # IN  (K, D) mu_k - c
    const double* p,        # IN  (K,) precisions
    double* lp,             # OUT (n, K)
    floating* Z,            # scratch (n, D)
    floating* G,            # scratch (n, K)
    double* xx,             # scratch (n,)
) noexcept nogil:
    cdef Py_ssize_t i, j, k
    cdef double s
    cdef floating t
    for i in range(n):
        s = 0.0
        for j in range(D):
            t = X[i * D + j] - c[j]
            Z[i * D + j] = t
            s += <double> t * t
        xx[i] = s
    _gemm_rm(False, True, <int> n, <int> K, <int> D, <floating> 1.0,
             Z, <int> D, Mc, <int> D, <floating> 0.0, G, <int> K)
    for i in range(n):
        for k in range(K):
            lp[i * K + k] = cst[k] - 0.5 * p[k] * (xx[i] - 2.0 * G[i * K + k])


# ---------------------------------------------------------------------------------
# Log-sum-exp over components, per row

cdef int _normalize_rows(
    double* lp,             # INOUT (n, K): weighted log-prob in, responsibilities out
    Py_ssize_t n, Py_ssize_t K,
    const double* w,        # IN (n,) sample weights, or NULL for ones
    double* total,          # INOUT sum_i w_i lse_i
    double* lse_out,        # OUT (n,) lse_i, or NULL
    Py_ssize_t* bad_row,    # OUT first row with a non-finite lse (block index)
    double* scratch,        # scratch (2n,)
) noexcept nogil:
    """Turn lp into responsibilities; return STATUS_ZERO_DENSITY on a bad row.

    Three passes so that the exponentials and logarithms run as whole-block vector
    loops (_vmath.h): shift each row by its maximum, exp of the block, then log of
    the row sums.
    """
    cdef Py_ssize_t i, k
    cdef double mx, s, lse, inv, wi
    cdef double* row
    cdef double* row_max = scratch
    cdef double* row_sum = scratch + n
    for i in range(n):
        row = lp + i * K
        mx = row[0]
        for k in range(1, K):
            if row[k] > mx:
                mx = row[k]
        if not isfinite(mx):
            bad_row[0] = i
            return STATUS_ZERO_DENSITY
        row_max[i] = mx
        for k in range(K):
            row[k] -= mx
    gmm_exp_d(lp, n * K)
    for i in range(n):
        row = lp + i * K
        s = 0.0
        for k in range(K):
            s += row[k]
        row_sum[i] = s
        inv = 1.0 / s
        for k in range(K):
            row[k] *= inv
    gmm_log_d(row_sum, n)
    for i in range(n):
        row_sum[i] += row_max[i]
    for i in range(n):
        if not isfinite(row_sum[i]):
            bad_row[0] = i
            return STATUS_ZERO_DENSITY
    total[0] += gmm_sum(row_sum, n) if w == NULL else gmm_dot(w, row_sum, n)
    if lse_out != NULL:
        for i in range(n):
            lse_out[i] = row_sum[i]
    return STATUS_OK


cdef Py_ssize_t _normalize_cols(
    double* lpt,            # INOUT (K, n): weighted log-prob in, w_i r_ki out
    Py_ssize_t n, Py_ssize_t K,
    const double* w,        # IN (n,) sample weights, or NULL for ones
    double* L,              # INOUT += sum_i w_i lse_i
    double* scratch,        # scratch (3n,)
    float* yf,              # NULL, or scratch (n (K + 1) floats) for float32 data
) noexcept nogil:
    """Component-major log-sum-exp, vectorised over the rows: in double (_smalld.h), or
    for float32 data (yf given) in float32 from lpt in double (_diag.h). Returns the
    first row whose log-likelihood is not finite (L then unchanged), or -1."""
    cdef Py_ssize_t i
    cdef double* lse = scratch + 2 * n
    if yf == NULL:
        gmm_normalize_cols_d(lpt, n, K, w, lse, scratch, scratch + n)
    else:
        gmm_diag_normalize_f(lpt, n, K, w, lse, scratch, yf, yf + n)
    for i in range(n):
        if not isfinite(lse[i]):
            return i
    L[0] += gmm_sum(lse, n) if w == NULL else gmm_dot(w, lse, n)
    return -1


cdef inline Py_ssize_t _full_small_block(
    const floating* Xb, const double* wb, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
    const double* cst, const double* M, const double* U,
    double* N, double* S1, double* S2, double* L,
    double* dt,             # scratch (n * (2D + K + 3),)
) noexcept nogil:
    """Statistics of one block, 'full' with D < SMALL_D, feature-major (_smalld.h).

    Returns the first row (block index) whose log-likelihood is not finite, or -1.
    """
    if floating is float:
        return gmm_full_small_block_f(Xb, wb, n, D, K, cst, M, U, N, S1, S2, L, dt)
    else:
        return gmm_full_small_block_d(Xb, wb, n, D, K, cst, M, U, N, S1, S2, L, dt)


# ---------------------------------------------------------------------------------
# Per-block workers: statistics from responsibilities R (n x K, double)

cdef void _weight_resp(double* R, Py_ssize_t n, Py_ssize_t K, const double* w,
                       double* Nk) noexcept nogil:
    """R := w_i R_ik in place; Nk += column sums."""
    cdef Py_ssize_t i, k
    cdef double wi
    for i in range(n):
        wi = 1.0 if w == NULL else w[i]
        for k in range(K):
            R[i * K + k] *= wi
            Nk[k] += R[i * K + k]


cdef inline Py_ssize_t _vech_width(Py_ssize_t D) noexcept nogil:
    """Columns of the 'full' moment rows [z_a z_b (a >= b), z_a]: D(D+1)/2 + D."""
    return D * (D + 1) // 2 + D


# Below this many rows with a non-zero responsibility, _stats_full_syrk_block adds the
# outer products with loops: a BLAS call on one or two rows (digits: ~1.6 rows a
# component a block) costs more than its ~D^2/2 multiply-adds.
cdef Py_ssize_t SYRK_MIN_ROWS = 8


cdef void _stats_full_syrk_block(
    const double* X, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
    const double* M,        # IN  (K, D) means = shifts
    const double* R,        # IN  (n, K) weighted responsibilities
    double* S1,             # INOUT (K, D): sum_i r_ik (x_i - mu_k)
    double* S2,             # INOUT (K, D, D) lower triangle, about mu_k
    double* Z,              # scratch (n, ld8) then (ld8, ld8), ld8 = gmm_full_ld8(D)
) noexcept nogil:
    """'full' float64 with D >= SMALL_D outside moment rows: per component, a symmetric
    rank-m update of sqrt(r_k) (X - mu_k) over the m rows whose responsibility is not
    exactly zero (the others add exactly nothing; with many well-separated components
    most do): half the flops of a GEMM, centred exactly, by gmm_rank_update_d (_full.h);
    plain loops below SYRK_MIN_ROWS rows. (float32 data: _full32_stats_block.)"""
    cdef Py_ssize_t i, a, b, k, m, ld = gmm_full_ld8(D)
    cdef const double* mu
    cdef double r, s, za
    cdef double* S2k
    cdef double* S1k
    for k in range(K):
        mu = M + k * D
        S1k = S1 + k * D
        S2k = S2 + k * D * D
        m = 0
        for i in range(n):
            r = R[i * K + k]
            if r == 0.0:
                continue
            s = sqrt(r)
            for a in range(D):
                za = X[i * D + a] - mu[a]
                S1k[a] += r * za
                Z[m * ld + a] = s * za
            for a in range(D, ld):
                Z[m * ld + a] = 0.0
            m += 1
        if m == 0:
            continue
        if m < SYRK_MIN_ROWS:   # a few rows (tight components): the tiles would cost more
            for i in range(m):
                for a in range(D):
                    za = Z[i * ld + a]
                    for b in range(a + 1):
                        S2k[a * D + b] += za * Z[i * ld + b]
        else:
            gmm_rank_update_d(Z, m, D, S2k, Z + n * ld)


cdef void _stats_moments_block(
    const double* R,        # IN  (n, K) weighted responsibilities
    Py_ssize_t n, Py_ssize_t K, Py_ssize_t P,
    const double* A,        # IN  (n, P) per-row features (x - c, or [(x-c)^2, x-c])
    double* S,              # INOUT (K, P) += R^T A
) noexcept nogil:
    _gemm_rm(True, False, <int> K, <int> P, <int> n, <double> 1.0,
             R, <int> K, A, <int> P, <double> 1.0, S, <int> P)


# ---------------------------------------------------------------------------------
# 'full' through moment rows: the log-probability and the statistics of all components
# as two GEMMs over one feature matrix

cdef void _logprob_moments_block(
    const floating* X, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
    const floating* c,      # IN  (D,) global shift
    const double* W,        # IN  (K, Q+1) weights of the moment rows (_estep.KernelModel)
    double* lp,             # OUT (n, K), or (K, n) when by_component
    bint by_component,
    double* F,              # OUT (n, Q+1) + D: the moment rows, kept for the statistics
) noexcept nogil:
    """lp = F W^T, with W_k = [-0.5 P_aa | -P_ab (a > b), P_k m_k, cst_k - 0.5 m_k' P_k m_k],
    m_k = mu_k - c, P_k = U_k U_k^T: the quadratic form expanded about c, so that one
    GEMM over the symmetric half of the products serves every component. In double for
    float32 data too: expanded in float32, the log-densities would carry eps32 times
    ||x - c||^2 in the precision's metric (~1e-4 with components near the spread bound),
    and which rows share a GEMM would change them at that level."""
    cdef Py_ssize_t Q1 = _vech_width(D) + 1
    if floating is double:   # F_i = [z_a z_b (a >= b), z_a, 1], z = x_i - c
        gmm_moment_rows_d(X, n, D, c, F, F + n * Q1)
    else:
        gmm_moment_rows_fd(X, n, D, c, F, F + n * Q1)
    if by_component:
        _gemm_rm(False, True, <int> K, <int> n, <int> Q1, <double> 1.0, W, <int> Q1, F,
                 <int> Q1, <double> 0.0, lp, <int> n)
    else:
        _gemm_rm(False, True, <int> n, <int> K, <int> Q1, <double> 1.0, F, <int> Q1, W,
                 <int> Q1, <double> 0.0, lp, <int> K)


cdef Py_ssize_t _moments_stats_block(
    const floating* X, const double* w, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
    const floating* c, const double* W,
    double* C,              # INOUT (K, Q+1): += R F, the chunk's [S2 | S1 | N] in rows
    double* L, double* dt,
) noexcept nogil:
    """Statistics of one block, 'full' through moment rows, component-major, in double:
    lpt (K x n) = W F^T, normalised over the rows (_smalld.h), then C += R F in one GEMM
    (float32 products about c would lose eps32 times the squared distance of the means
    from c: ~1e-6 on ordinary data, 30 times scikit-learn's float32 error).
    _moments_unpack spreads C into N, S1, S2 once per chunk. Returns the first row whose
    log-likelihood is not finite, or -1.

    dt: K n + 3 n + n (Q+1) + D + n (K+1) double.
    """
    cdef Py_ssize_t Q1 = _vech_width(D) + 1
    cdef double* lpt = dt
    cdef double* row_max = lpt + K * n
    cdef double* F = row_max + 3 * n
    cdef float* yf = NULL
    cdef Py_ssize_t bad
    if floating is float:   # the normalisation in float32 (_normalize_cols)
        yf = <float*> (F + n * Q1 + D)             # n (K + 1) floats
    _logprob_moments_block(X, n, D, K, c, W, lpt, True, F)
    bad = _normalize_cols(lpt, n, K, w, L, row_max, yf)
    if bad >= 0:
        return bad
    _gemm_rm(False, False, <int> K, <int> Q1, <int> n, <double> 1.0, lpt, <int> n, F,
             <int> Q1, <double> 1.0, C, <int> Q1)
    return -1


cdef void _moments_unpack(const double* C, Py_ssize_t D, Py_ssize_t K, double* N,
                          double* S1, double* S2) noexcept nogil:
    """N, S1 (K, D), S2 (K, D, D) lower triangle, from the rows of C (K, Q+1)."""
    cdef Py_ssize_t a, b, k, col, Q1 = _vech_width(D) + 1, T = D * (D + 1) // 2
    cdef const double* Ck
    for k in range(K):
        Ck = C + k * Q1
        col = 0
        for a in range(D):
            for b in range(a + 1):
                S2[(k * D + a) * D + b] = Ck[col + b]
            col += a + 1
        for a in range(D):
            S1[k * D + a] = Ck[T + a]
        N[k] = Ck[Q1 - 1]


# ---------------------------------------------------------------------------------
# The drivers: one pass over X, threads over chunks (stats) or blocks (log-prob)

cdef Py_ssize_t _scratch_floating(int cov, Py_ssize_t B, Py_ssize_t D, Py_ssize_t K):
    if cov == 4:
        return 1
    if cov == 0:
        return max(B * (2 * D + K + 1) + _tri_scratch(D), _full32_floats(B, D, K))
    return B * (2 * D + K + 1) + _tri_scratch(D)

cdef Py_ssize_t _scratch_double(int cov, Py_ssize_t B, Py_ssize_t D, Py_ssize_t K):
    if cov == 4:   # the block's, then the chunk's accumulator of K (Q+1)
        return B * K + 3 * B + (B + K) * (_vech_width(D) + 1) + D + B * (K + 1)
    if cov == 2:
        return _diag_scratch(B, D, K)
    if cov == 1:   # A (B x D), then its rows padded and T for gmm_rank_update_d
        return max(B * (K + 2 * D + 1) + 2 * B,
                   B * D + (B + gmm_full_ld8(D)) * gmm_full_ld8(D))
    if cov == 0:   # _full32_stats_block's and _stats_full_syrk_block's too
        return max(B * (K + 2 * D + 1) + 2 * B, K * B + 3 * B + 3 * D,
                   (B + gmm_full_ld8(D)) * gmm_full_ld8(D))
    return B * (K + 2 * D + 1) + 2 * B


cdef int _weighted_logprob_block(
    int cov, const floating* Xb, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
    const double* cst, const floating* P1, const floating* P2, const double* pvec,
    const floating* shift, const double* W64,
    double* lp, floating* ft, double* dt,
) noexcept nogil:
    """Dispatch to the covariance type's log-prob worker; lp (n x K) out. W64: the
    GEMM weights of 'diag' and COV_FULL_MOMENTS."""
    if cov == 0 and D < SMALL_D:
        _logprob_full_block(Xb, n, D, K, cst, P1, P2, lp, ft)
    elif cov == 0:
        _logprob_full_tri_block(Xb, n, D, K, cst, P1, P2, lp, ft)
    elif cov == 1:
        _logprob_tied_block(Xb, n, D, K, cst, shift, P1, P2, lp, ft)
    elif cov == 2:
        _logprob_diag_block(Xb, n, D, K, shift, W64, lp, dt)
    elif cov == 4:
        _logprob_moments_block(Xb, n, D, K, shift, W64, lp, False, dt)
    else:
        _logprob_spherical_block(Xb, n, D, K, cst, shift, P1, pvec, lp, ft,
                                 ft + n * 2 * D, dt)
    return STATUS_OK


cdef void _stats_block(
    int cov, const floating* Xb, const double* wb, Py_ssize_t n, Py_ssize_t D,
    Py_ssize_t K, const floating* P1, const floating* shift, double* R,
    double* N, double* S1, double* S2, floating* ft, double* dt,
) noexcept nogil:
    """Accumulate one block's statistics from its responsibilities R (n x K)."""
    cdef Py_ssize_t i, j, l, ld = gmm_full_ld8(D)
    cdef double t, s
    cdef double* A = dt
    cdef double* Z = dt + n * D
    _weight_resp(R, n, K, wb, N)
    if cov == 0:   # float64 (float32 runs whole blocks in _full32_stats_block)
        if floating is double:
            _stats_full_syrk_block(Xb, n, D, K, P1, R, S1, S2, dt)
    elif cov == 1:
        # S1 += R^T (X - c); S2 += (sqrt(w) (X - c))^T (sqrt(w) (X - c))
        for i in range(n):
            for j in range(D):
                A[i * D + j] = <double> Xb[i * D + j] - shift[j]
        _stats_moments_block(R, n, K, D, A, S1)
        if wb != NULL:
            for i in range(n):
                s = sqrt(wb[i])
                for j in range(D):
                    A[i * D + j] *= s
        if D < SMALL_D:
            for i in range(n):
                for j in range(D):
                    t = A[i * D + j]
                    for l in range(j + 1):
                        S2[j * D + l] += t * A[i * D + l]
        else:   # the rows padded to ld for gmm_rank_update_d (_full.h)
            for i in range(n):
                for j in range(D):
                    Z[i * ld + j] = A[i * D + j]
                for j in range(D, ld):
                    Z[i * ld + j] = 0.0
            gmm_rank_update_d(Z, n, D, S2, Z + n * ld)
    else:   # 'spherical' ('diag' runs whole blocks in _diag_stats_block)
        for i in range(n):
            s = 0.0
            for j in range(D):
                t = <double> Xb[i * D + j] - shift[j]
                A[i * D + j] = t
                s += t * t
            A[n * D + i] = s
        _stats_moments_block(R, n, K, D, A, S1)
        _stats_moments_block(R, n, K, 1, A + n * D, S2)


def block_stats(
    int cov_type,
    const floating[:, ::1] X,
    const double[::1] sample_weight,
    const double[::1] cst,
    const floating[:, ::1] P1,
    const floating[:, :, ::1] P2,
    const double[::1] pvec,
    const floating[::1] shift,
    const double[:, ::1] W64,
    double[:, ::1] out_N,
    double[:, ::1] out_S1,
    double[:, ::1] out_S2,
    double[::1] out_L,
    Py_ssize_t block_size,
    int n_threads,
):
    """Sufficient statistics of X under the current parameters, per chunk.

    Parameters
    ----------
    cov_type : int
        COV_FULL, COV_TIED, COV_DIAG or COV_SPHERICAL.
    X : (n_samples, D) float32 or float64, C-contiguous. IN.
    sample_weight : (n_samples,) float64 or None (all ones). IN.
    cst : (K,) float64 per-component constant of the log-probability. IN.
    P1 : (K, D) means ('full', COV_FULL_MOMENTS and 'diag'; read by 'full' only), (K, D)
        (mu - c) U ('tied'), (K, D) mu - c ('spherical'). IN.
    P2 : (K, D, D) factors ('full'), (1, D, D) factor ('tied'), else unused. IN.
    pvec : (K,) precisions ('spherical'), else unused. IN.
    shift : (D,) the global shift c; unused for 'full'. IN.
    W64 : float64 GEMM weights: (K, Q+1) of the moment rows (COV_FULL_MOMENTS);
        (2D + 1, K rounded up to 4) [-0.5 P ; P (mu - c) ; cst]^T of the 'diag' feature
        rows (_diag.h, diag_weights_shape); (K, D) the means in float64 ('full' with
        float32 data: the shifts its statistics are taken about); else unused. IN.
    out_N : (n_chunks, K). OUT.
    out_S1 : (n_chunks, K*D) for 'full' and 'tied', (n_chunks, K*D) for 'spherical',
        and for 'diag' (n_chunks, K*D) too (see out_S2). OUT.
    out_S2 : (n_chunks, K*D*D) 'full', (n_chunks, D*D) 'tied', (n_chunks, 2*K*D)
        'diag' (per k: the D second moments then the D first moments), (n_chunks, K)
        'spherical'. OUT.
    out_L : (n_chunks,) sum of w_i * log-likelihood_i. OUT.
    block_size : rows per block.
    n_threads : threads to use (>= 1).

    Returns
    -------
    (status, chunk, row) : status STATUS_OK, or the first failing chunk's status and
        the global index of the offending row (for STATUS_ZERO_DENSITY).

    On success, chunk 0 of every output holds the total over all chunks (added in
    chunk order), with S2 made symmetric for 'full' and 'tied'. COV_FULL_MOMENTS takes
    moments about the global shift c instead of the component means.
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], K = cst.shape[0]
    cdef Py_ssize_t C = out_N.shape[0], B = block_size
    cdef Py_ssize_t n_blocks = (N + B - 1) // B if B > 0 else 0
    cdef Py_ssize_t per_chunk = (n_blocks + C - 1) // C if C > 0 else 0
    cdef Py_ssize_t s1_size = out_S1.shape[1], s2_size = out_S2.shape[1]
    cdef Py_ssize_t s1_need, s2_need
    cdef Py_ssize_t nf = _scratch_floating(cov_type, B, D, K)
    cdef Py_ssize_t nd = _scratch_double(cov_type, B, D, K)
    cdef const double* w = NULL
    cdef Py_ssize_t c, b, start, stop, bad
    cdef bint whole
    cdef int st
    cdef floating* ft
    cdef double* dt
    cdef double* lp
    if sample_weight is not None:
        if sample_weight.shape[0] != N:
            raise ValueError("sample_weight and X have different lengths")
        w = &sample_weight[0]
    if N == 0 or D == 0 or K == 0 or B <= 0 or C <= 0:
        raise ValueError("block_stats needs N, D, K, block_size and n_chunks > 0")
    if (out_N.shape[1] != K or out_L.shape[0] != C or out_S1.shape[0] != C
            or out_S2.shape[0] != C):
        raise ValueError("block_stats: output shapes do not match")
    # the widths each covariance type writes (per chunk); anything else would overrun
    if cov_type == 0 or cov_type == 4:
        s1_need, s2_need = K * D, K * D * D
    elif cov_type == 1:
        s1_need, s2_need = K * D, D * D
    elif cov_type == 2:
        s1_need, s2_need = 1, 2 * K * D
    else:
        s1_need, s2_need = K * D, K
    if s1_size != s1_need or s2_size != s2_need:
        raise ValueError(
            f"block_stats: out_S1/out_S2 have {s1_size}/{s2_size} columns; covariance "
            f"type {cov_type} with K={K}, D={D} needs {s1_need}/{s2_need}")
    cdef int[::1] status = np.zeros(C, dtype=np.intc)
    cdef Py_ssize_t[::1] bad_rows = np.zeros(C, dtype=np.intp)
    _check_params(cov_type, D, K, P1, P2, pvec, shift, W64)
    # 'full' with few features runs feature-major in double (_smalld.h)
    cdef bint small_full = cov_type == 0 and D < SMALL_D
    cdef const double[:, ::1] Md = None
    cdef const double[:, :, ::1] Ud = None
    if small_full:
        if floating is double:
            Md, Ud = P1, P2
        else:
            Md = W64   # the means in double: the statistics' shifts
            Ud = np.asarray(P2, dtype=np.float64)
    cdef bint diag = cov_type == 2, moments = cov_type == 4
    # 'full' about each mean, float32: whole blocks in float32 products (_full.h)
    cdef bint full32 = False
    cdef const floating* p2 = &P2[0, 0, 0]
    cdef const float[:, :, ::1] Upad
    if floating is float:
        if cov_type == 0 and not small_full:
            full32 = True
            Upad = _full32_padded(P2)
            p2 = &Upad[0, 0, 0]

    with nogil, parallel(num_threads=n_threads):
        ft = <floating*> malloc(nf * sizeof(floating))
        dt = <double*> malloc((nd + B * K + 2 * B) * sizeof(double))
        # dynamic: a thread slowed by the machine's other work takes fewer chunks (each
        # chunk has its own accumulators, so which thread runs it changes no result)
        for c in prange(C, schedule='dynamic'):
            memset(&out_N[c, 0], 0, K * sizeof(double))
            memset(&out_S1[c, 0], 0, s1_size * sizeof(double))
            memset(&out_S2[c, 0], 0, s2_size * sizeof(double))
            out_L[c] = 0.0
            if ft == NULL or dt == NULL:
                status[c] = STATUS_NO_MEMORY
                continue
            lp = dt + nd
            if moments:   # the chunk's accumulator: after the block scratch
                memset(dt + nd - K * (_vech_width(D) + 1), 0,
                       K * (_vech_width(D) + 1) * sizeof(double))
            for b in range(c * per_chunk, min((c + 1) * per_chunk, n_blocks)):
                start = b * B
                stop = min(start + B, N)
                # whole-block workers: statistics straight from the rows
                whole = True
                if small_full:
                    bad = _full_small_block(
                        &X[start, 0], NULL if w == NULL else w + start, stop - start, D,
                        K, &cst[0], &Md[0, 0], &Ud[0, 0, 0], &out_N[c, 0],
                        &out_S1[c, 0], &out_S2[c, 0], &out_L[c], dt)
                elif moments:
                    bad = _moments_stats_block(
                        &X[start, 0], NULL if w == NULL else w + start, stop - start, D,
                        K, &shift[0], &W64[0, 0],
                        dt + nd - K * (_vech_width(D) + 1), &out_L[c], dt)
                elif full32:
                    if floating is float:
                        bad = _full32_stats_block(
                            &X[start, 0], NULL if w == NULL else w + start,
                            stop - start, D, K, &cst[0], &P1[0, 0], &W64[0, 0], p2,
                            &out_N[c, 0],
                            &out_S1[c, 0], &out_S2[c, 0], &out_L[c], ft, dt)
                elif diag:
                    bad = _diag_stats_block(
                        &X[start, 0], NULL if w == NULL else w + start, stop - start, D,
                        K, &shift[0], &W64[0, 0], &out_N[c, 0], &out_S2[c, 0],
                        &out_L[c], dt)
                else:
                    whole = False
                if whole:
                    if bad >= 0:
                        status[c] = STATUS_ZERO_DENSITY
                        bad_rows[c] = start + bad
                        break
                    continue
                _weighted_logprob_block(
                    cov_type, &X[start, 0], stop - start, D, K, &cst[0], &P1[0, 0],
                    p2, &pvec[0], &shift[0], &W64[0, 0], lp, ft, dt)
                bad = 0
                st = _normalize_rows(lp, stop - start, K,
                                     NULL if w == NULL else w + start,
                                     &out_L[c], NULL, &bad, lp + B * K)
                if st != STATUS_OK:
                    status[c] = st
                    bad_rows[c] = start + bad
                    break
                _stats_block(cov_type, &X[start, 0],
                             NULL if w == NULL else w + start, stop - start, D, K,
                             &P1[0, 0], &shift[0], lp, &out_N[c, 0], &out_S1[c, 0],
                             &out_S2[c, 0], ft, dt)
            if moments and status[c] == STATUS_OK:
                _moments_unpack(dt + nd - K * (_vech_width(D) + 1), D, K, &out_N[c, 0],
                                &out_S1[c, 0], &out_S2[c, 0])
        free(ft)
        free(dt)

    for c in range(C):
        if status[c] != STATUS_OK:
            return status[c], c, bad_rows[c]
    _reduce_chunks(cov_type, D, K, out_N, out_S1, out_S2, out_L, n_threads)
    return STATUS_OK, -1, -1


cdef void _reduce_chunks(int cov, Py_ssize_t D, Py_ssize_t K, double[:, ::1] N,
                         double[:, ::1] S1, double[:, ::1] S2, double[::1] L,
                         int n_threads) noexcept:
    """Add every chunk's statistics into chunk 0, in chunk order; mirror S2's lower
    triangles ('full', 'tied') into the upper ones. S2 (K D D per chunk for 'full') is
    summed over threads in slices of 4096 entries: each entry is still the sum of its
    chunks in chunk order, so the result does not depend on the thread count."""
    cdef Py_ssize_t C = N.shape[0], c, j, k, a, b, sl, j0, j1
    cdef Py_ssize_t width = S2.shape[1], n_slices = (S2.shape[1] + 4095) // 4096
    cdef double* S
    with nogil:
        for c in range(1, C):
            for j in range(N.shape[1]):
                N[0, j] += N[c, j]
            for j in range(S1.shape[1]):
                S1[0, j] += S1[c, j]
            L[0] += L[c]
        if C > 1:
            for sl in prange(n_slices, schedule='static', num_threads=max(1, n_threads)):
                j0 = sl * 4096
                j1 = min(j0 + 4096, width)
                for c in range(1, C):
                    for j in range(j0, j1):
                        S2[0, j] += S2[c, j]
        # lower triangles written: 'full' and 'tied'
        if cov == 0 or cov == 1 or cov == 4:
            for k in range(1 if cov == 1 else K):
                S = &S2[0, k * D * D]
                for a in range(D):
                    for b in range(a + 1, D):
                        S[a * D + b] = S[b * D + a]


def block_logprob(
    int cov_type,
    const floating[:, ::1] X,
    const double[::1] cst,
    const floating[:, ::1] P1,
    const floating[:, :, ::1] P2,
    const double[::1] pvec,
    const floating[::1] shift,
    const double[:, ::1] W64,
    double[::1] out_lse,
    floating[:, ::1] out_resp,
    cnp.intp_t[::1] out_labels,
    Py_ssize_t block_size,
    int n_threads,
):
    """Per-row outputs of the current model: log-likelihood, responsibilities, label.

    Parameters are those of :func:`block_stats`; each output may be an empty array
    (shape 0) when not wanted.

    out_lse : (n_samples,) log sum_k pi_k N(x_i | k). OUT.
    out_resp : (n_samples, K) responsibilities. OUT.
    out_labels : (n_samples,) argmax_k of the weighted log-probability. OUT.

    Returns
    -------
    (status, row) : STATUS_OK and -1, or STATUS_ZERO_DENSITY and the first bad row
        (STATUS_ZERO_DENSITY is returned only when out_lse or out_resp is wanted).
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], K = cst.shape[0]
    cdef Py_ssize_t B = block_size
    cdef Py_ssize_t n_blocks = (N + B - 1) // B if B > 0 else 0
    cdef Py_ssize_t nf = _scratch_floating(cov_type, B, D, K)
    cdef Py_ssize_t nd = _scratch_double(cov_type, B, D, K)
    cdef bint want_lse = out_lse.shape[0] > 0
    cdef bint want_resp = out_resp.shape[0] > 0
    cdef bint want_labels = out_labels.shape[0] > 0
    cdef Py_ssize_t b, start, stop, i, k, best, bad
    cdef double total, mx
    cdef int st
    cdef floating* ft
    cdef double* dt
    cdef double* lp
    if N == 0:
        return STATUS_OK, -1
    if D == 0 or K == 0 or B <= 0:
        raise ValueError("block_logprob needs D, K and block_size > 0")
    if ((want_lse and out_lse.shape[0] != N)
            or (want_resp and (out_resp.shape[0] != N or out_resp.shape[1] != K))
            or (want_labels and out_labels.shape[0] != N)):
        raise ValueError("block_logprob: output shapes do not match")
    _check_params(cov_type, D, K, P1, P2, pvec, shift, W64)
    cdef int[::1] status = np.zeros(n_blocks, dtype=np.intc)
    cdef const floating* p2 = &P2[0, 0, 0]
    cdef const float[:, :, ::1] Upad
    if floating is float:   # the float32 kernel's padded factors (_full.h)
        if cov_type == 0 and D >= SMALL_D:
            Upad = _full32_padded(P2)
            p2 = &Upad[0, 0, 0]
    cdef Py_ssize_t[::1] bad_rows = np.zeros(n_blocks, dtype=np.intp)

    with nogil, parallel(num_threads=n_threads):
        ft = <floating*> malloc(nf * sizeof(floating))
        dt = <double*> malloc((nd + B * K + 2 * B) * sizeof(double))
        for b in prange(n_blocks, schedule='dynamic'):   # rows are independent
            if ft == NULL or dt == NULL:
                status[b] = STATUS_NO_MEMORY
                continue
            lp = dt + nd
            start = b * B
            stop = min(start + B, N)
            _weighted_logprob_block(
                cov_type, &X[start, 0], stop - start, D, K, &cst[0], &P1[0, 0],
                p2, &pvec[0], &shift[0], &W64[0, 0], lp, ft, dt)
            if want_labels:
                for i in range(stop - start):
                    best = 0
                    mx = lp[i * K]
                    for k in range(1, K):
                        if lp[i * K + k] > mx:
                            mx = lp[i * K + k]
                            best = k
                    out_labels[start + i] = best
            if want_lse or want_resp:
                total = 0.0
                bad = 0
                st = _normalize_rows(lp, stop - start, K, NULL, &total,
                                     &out_lse[start] if want_lse else NULL, &bad,
                                     lp + B * K)
                if st != STATUS_OK:
                    status[b] = st
                    bad_rows[b] = start + bad
                    continue
                if want_resp:
                    for i in range(stop - start):
                        for k in range(K):
                            out_resp[start + i, k] = <floating> lp[i * K + k]
        free(ft)
        free(dt)

    for b in range(n_blocks):
        if status[b] != STATUS_OK:
            return status[b], bad_rows[b]
    return STATUS_OK, -1


cdef _check_params(int cov, Py_ssize_t D, Py_ssize_t K, const floating[:, ::1] P1,
                   const floating[:, :, ::1] P2, const double[::1] pvec,
                   const floating[::1] shift, const double[:, ::1] W64):
    """Shapes of the parameter arrays for this covariance type (ValueError if off)."""
    cdef bint ok = shift.shape[0] == D and pvec.shape[0] == K and P1.shape[0] == K
    if cov == 0:
        ok = ok and P1.shape[1] == D and P2.shape[0] == K and P2.shape[1] == D \
            and P2.shape[2] == D
        if floating is float:   # the means in double
            ok = ok and W64.shape[0] == K and W64.shape[1] == D
    elif cov == 1:
        ok = ok and P1.shape[1] == D and P2.shape[0] == 1 and P2.shape[1] == D \
            and P2.shape[2] == D
    elif cov == 2:
        ok = ok and P1.shape[1] == D and P2.shape[0] >= 1 \
            and W64.shape[0] == 2 * D + 1 and W64.shape[1] == gmm_diag_ldw(K)
    elif cov == 3:
        ok = ok and P1.shape[1] == D and P2.shape[0] >= 1
    elif cov == 4:
        ok = ok and P1.shape[1] == D and W64.shape[0] == K \
            and W64.shape[1] == _vech_width(D) + 1
    else:
        raise ValueError(f"unknown covariance type code {cov}")
    if not ok:
        raise ValueError("kernel parameter shapes do not match the covariance type")


def full_constants(const double[::1] weights, const double[:, ::1] means,
                   const double[:, :, ::1] U):
    """(shift, cst) of a 'full' mixture for the kernels (_estep.KernelModel), in one call
    instead of half a dozen small array operations an EM iteration:

        shift = sum_k w_k mu_k                                      (D,)
        cst_k = (log w_k - 0.5 D log 2pi) + sum_j log U_kjj         (K,)

    log 0 = -inf (an empty component, never chosen), without a warning.
    """
    cdef Py_ssize_t K = means.shape[0], D = means.shape[1], k, j
    cdef double base, acc
    if weights.shape[0] != K or U.shape[0] != K or U.shape[1] != D or U.shape[2] != D:
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
    cdef Py_ssize_t K = cov.shape[0], D = cov.shape[1], k, i, j
    cdef int d = <int> D, info
    cdef char lower = b'L', nonunit = b'N'
    cdef double* a
    if cov.shape[2] != D or out.shape[0] != K or out.shape[1] != D or out.shape[2] != D:
        raise ValueError("precision_cholesky: shapes do not match")
    if K == 0:
        return -1
    cdef int[::1] infos = np.zeros(K, dtype=np.intc)
    with nogil, parallel(num_threads=max(1, n_threads)):
        for k in prange(K, schedule='static'):
            a = &out[k, 0, 0]
            for i in range(D * D):
                a[i] = (&cov[k, 0, 0])[i]
            # column-major lower Cholesky L of cov; its inverse read row-major is
            # L^{-T}, the upper factor of the precision.
            info = 0
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
            infos[k] = info
    for k in range(K):
        if infos[k] != 0:
            return k
    return -1
