/* 'full' covariance with few features (D < GMM_SMALL_D): one block of rows, transposed.

   With D of 2 to 7, a BLAS call per component and block costs more than its work, and
   loops over a row's D features are too short to vectorise. So the block is held
   feature-major (xt: D x n, double) and every loop runs over the n rows of the block:
   long, contiguous and independent, which the compiler vectorises. Same maths as the
   row-major workers in _kernels.pyx (see its docstring):

     lpt[k, i] = cst_k - 0.5 * || (x_i - mu_k) U_k ||^2                  (K x n)
     N_k += sum_i r_ki,  S1_k += sum_i r_ki z_ki,  S2_k += sum_i r_ki z_ki z_ki^T (lower)
       with z_ki = x_i - mu_k and r (K x n) the weighted responsibilities.

   Sums over rows use gmm_dot / gmm_sum (fixed order). Compiled twice like _vmath.h:
   baseline and AVX2+FMA, chosen at import.
*/
#ifndef GMMFAST_SMALLD_H
#define GMMFAST_SMALLD_H

#include <math.h>
#include "_vmath.h"

#define GMM_SMALL_D 8

#define GMM_SMALLD_FUNCS(suffix, attr)                                                  \
attr static void gmm_full_small_logprob_##suffix(                                       \
    const double *xt, ptrdiff_t n, ptrdiff_t D, ptrdiff_t K,                            \
    const double *cst, const double *M, const double *U,                                \
    double *lpt, double *z, double *y)                                                  \
{                                                                                       \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        const double *mu = M + k * D, *Uk = U + k * D * D;                              \
        double *q = lpt + k * n;                                                        \
        for (ptrdiff_t j = 0; j < D; j++) {                                             \
            const double *xj = xt + j * n;                                              \
            double *zj = z + j * n, m = mu[j];                                          \
            for (ptrdiff_t i = 0; i < n; i++) zj[i] = xj[i] - m;                        \
        }                                                                               \
        for (ptrdiff_t i = 0; i < n; i++) q[i] = 0.0;                                   \
        for (ptrdiff_t j = 0; j < D; j++) {       /* y = (z U)_j = sum_{l<=j} z_l U_lj */ \
            double u = Uk[j * D + j];                                                   \
            const double *zj = z + j * n;                                               \
            for (ptrdiff_t i = 0; i < n; i++) y[i] = zj[i] * u;                         \
            for (ptrdiff_t l = 0; l < j; l++) {                                         \
                const double *zl = z + l * n;                                           \
                double ul = Uk[l * D + j];                                              \
                for (ptrdiff_t i = 0; i < n; i++) y[i] += zl[i] * ul;                   \
            }                                                                           \
            for (ptrdiff_t i = 0; i < n; i++) q[i] += y[i] * y[i];                      \
        }                                                                               \
        for (ptrdiff_t i = 0; i < n; i++) q[i] = cst[k] - 0.5 * q[i];                   \
    }                                                                                   \
}                                                                                       \
                                                                                        \
attr static void gmm_full_small_stats_##suffix(                                         \
    const double *xt, ptrdiff_t n, ptrdiff_t D, ptrdiff_t K,                            \
    const double *M, const double *R,                                                   \
    double *N, double *S1, double *S2, double *z, double *u)                            \
{                                                                                       \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        const double *mu = M + k * D, *r = R + k * n;                                   \
        N[k] += gmm_sum(r, n);                                                          \
        for (ptrdiff_t a = 0; a < D; a++) {                                             \
            const double *xa = xt + a * n;                                              \
            double *za = z + a * n, m = mu[a];                                          \
            for (ptrdiff_t i = 0; i < n; i++) za[i] = xa[i] - m;                        \
        }                                                                               \
        for (ptrdiff_t a = 0; a < D; a++) {                                             \
            const double *za = z + a * n;                                               \
            for (ptrdiff_t i = 0; i < n; i++) u[i] = r[i] * za[i];                      \
            S1[k * D + a] += gmm_sum(u, n);                                             \
            for (ptrdiff_t b = 0; b <= a; b++)                                          \
                S2[(k * D + a) * D + b] += gmm_dot(u, z + b * n, n);                    \
        }                                                                               \
    }                                                                                   \
}

/* Normalise a component-major block of weighted log-probabilities lpt (K x n) into
   weighted responsibilities w_i r_ki, and write lse_i = log sum_k exp(lpt_ki) into lse
   (n). A row whose lse is not finite shows up as a non-finite lse_i (NaN or -inf
   propagate through every step); the caller checks. */
#define GMM_NORMALIZE_FUNC(suffix, attr)                                                \
attr static void gmm_normalize_cols_##suffix(                                           \
    double *lpt, ptrdiff_t n, ptrdiff_t K, const double *w,                             \
    double *lse, double *row_max, double *scale)                                        \
{                                                                                       \
    for (ptrdiff_t i = 0; i < n; i++) row_max[i] = lpt[i];                              \
    for (ptrdiff_t k = 1; k < K; k++) {                                                 \
        const double *col = lpt + k * n;                                                \
        for (ptrdiff_t i = 0; i < n; i++)                                               \
            row_max[i] = col[i] > row_max[i] ? col[i] : row_max[i];                     \
    }                                                                                   \
    for (ptrdiff_t i = 0; i < n; i++) lse[i] = 0.0;                                     \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        double *col = lpt + k * n;                                                      \
        for (ptrdiff_t i = 0; i < n; i++) {                                             \
            col[i] = gmm_exp1_d(col[i] - row_max[i]);                                   \
            lse[i] += col[i];                                                           \
        }                                                                               \
    }                                                                                   \
    for (ptrdiff_t i = 0; i < n; i++) scale[i] = (w ? w[i] : 1.0) / lse[i];             \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        double *col = lpt + k * n;                                                      \
        for (ptrdiff_t i = 0; i < n; i++) col[i] *= scale[i];                           \
    }                                                                                   \
    for (ptrdiff_t i = 0; i < n; i++) lse[i] = row_max[i] + gmm_log1_d(lse[i]);         \
}

/* The whole of one block: transpose, log-probabilities, normalisation, statistics.
   Returns the index of the first row whose log-likelihood is not finite (statistics
   then not accumulated), or -1. L receives sum_i w_i lse_i. Scratch: n (2D + K + 3). */
#define GMM_BLOCK_FUNC(suffix, attr, T, tname)                                          \
attr static ptrdiff_t gmm_full_small_block_##tname##_##suffix(                          \
    const T *X, const double *w, ptrdiff_t n, ptrdiff_t D, ptrdiff_t K,                 \
    const double *cst, const double *M, const double *U,                                \
    double *N, double *S1, double *S2, double *L, double *scratch)                      \
{                                                                                       \
    double *xt = scratch, *z = xt + D * n, *y = z + D * n, *lse = y + n;                \
    double *scale = lse + n, *lpt = scale + n;                                          \
    for (ptrdiff_t i = 0; i < n; i++)                                                   \
        for (ptrdiff_t j = 0; j < D; j++) xt[j * n + i] = (double) X[i * D + j];        \
    gmm_full_small_logprob_##suffix(xt, n, D, K, cst, M, U, lpt, z, y);                 \
    gmm_normalize_cols_##suffix(lpt, n, K, w, lse, y, scale);                           \
    for (ptrdiff_t i = 0; i < n; i++)                                                   \
        if (!(lse[i] > -HUGE_VAL && lse[i] < HUGE_VAL)) return i;                       \
    *L += w ? gmm_dot(w, lse, n) : gmm_sum(lse, n);                                     \
    gmm_full_small_stats_##suffix(xt, n, D, K, M, lpt, N, S1, S2, z, y);                \
    return -1;                                                                          \
}

#define GMM_ALL_FUNCS(suffix, attr)                                                     \
    GMM_SMALLD_FUNCS(suffix, attr)                                                      \
    GMM_NORMALIZE_FUNC(suffix, attr)                                                    \
    GMM_BLOCK_FUNC(suffix, attr, double, d)                                             \
    GMM_BLOCK_FUNC(suffix, attr, float, f)

GMM_ALL_FUNCS(base, )

typedef ptrdiff_t (*gmm_block_d_fn)(const double *, const double *, ptrdiff_t, ptrdiff_t,
                                    ptrdiff_t, const double *, const double *, const double *,
                                    double *, double *, double *, double *, double *);
typedef ptrdiff_t (*gmm_block_f_fn)(const float *, const double *, ptrdiff_t, ptrdiff_t,
                                    ptrdiff_t, const double *, const double *, const double *,
                                    double *, double *, double *, double *, double *);
typedef void (*gmm_logprob_fn)(const double *, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                               const double *, const double *, const double *,
                               double *, double *, double *);

static gmm_block_d_fn gmm_full_small_block_d = gmm_full_small_block_d_base;
static gmm_block_f_fn gmm_full_small_block_f = gmm_full_small_block_f_base;
static gmm_logprob_fn gmm_full_small_logprob = gmm_full_small_logprob_base;

#ifdef GMM_HAVE_AVX2_CLONE
GMM_ALL_FUNCS(avx2, __attribute__((target("avx2,fma"))))
#endif

static void gmm_smalld_init(void)
{
#ifdef GMM_HAVE_AVX2_CLONE
    if (gmm_exp_d == gmm_exp_d_avx2) {      /* gmm_vmath_init chose AVX2+FMA */
        gmm_full_small_block_d = gmm_full_small_block_d_avx2;
        gmm_full_small_block_f = gmm_full_small_block_f_avx2;
        gmm_full_small_logprob = gmm_full_small_logprob_avx2;
    }
#endif
}

#endif
