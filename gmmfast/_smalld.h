/* 'full' covariance with few features (D < GMM_SMALL_D): one block of rows, transposed.

   With D of 2 to 7, a BLAS call per component and block costs more than its work, and
   loops over a row's D features are too short to vectorise. So the block is held
   feature-major (xt: D x n) and every loop runs over the n rows of the block: long,
   contiguous and independent, which the compiler vectorises. Same maths as the
   row-major workers in _kernels.pyx (see its docstring):

     lpt[k, i] = cst_k - 0.5 * || (x_i - mu_k) U_k ||^2                  (K x n)
     N_k += sum_i r_ki,  S1_k += sum_i r_ki z_ki,  S2_k += sum_i r_ki z_ki z_ki^T (lower)
       with z_ki = x_i - mu_k and r (K x n) the weighted responsibilities.

   Computed in the data's type T (float32 data in float32, as everywhere in gmmfast);
   every sum over rows is accumulated in double with gmm_sum_* / gmm_dot_* (eight
   partial sums in a fixed order). Parameters arrive in double and are rounded to T.
   Compiled like _vmath.h: baseline, AVX2+FMA and AVX-512, chosen at import.
*/
#ifndef GMMFAST_SMALLD_H
#define GMMFAST_SMALLD_H

#include <math.h>
#include "_vmath.h"

#define GMM_SMALL_D 8

/* lpt (K x n) from xt (D x n); scratch z (D x n), y (n) */
#define GMM_SMALL_LOGPROB(suffix, attr, T, t)                                           \
attr static void gmm_small_logprob_##t##_##suffix(                                      \
    const T *xt, ptrdiff_t n, ptrdiff_t D, ptrdiff_t K,                                 \
    const double *cst, const double *M, const double *U, T *lpt, T *z, T *y)            \
{                                                                                       \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        const double *mu = M + k * D, *Uk = U + k * D * D;                              \
        T *q = lpt + k * n, c = (T) cst[k];                                             \
        for (ptrdiff_t j = 0; j < D; j++) {                                             \
            const T *xj = xt + j * n;                                                   \
            T *zj = z + j * n, m = (T) mu[j];                                           \
            for (ptrdiff_t i = 0; i < n; i++) zj[i] = xj[i] - m;                        \
        }                                                                               \
        for (ptrdiff_t i = 0; i < n; i++) q[i] = 0;                                     \
        for (ptrdiff_t j = 0; j < D; j++) {       /* y = (z U)_j = sum_{l<=j} z_l U_lj */ \
            T u = (T) Uk[j * D + j];                                                    \
            const T *zj = z + j * n;                                                    \
            for (ptrdiff_t i = 0; i < n; i++) y[i] = zj[i] * u;                         \
            for (ptrdiff_t l = 0; l < j; l++) {                                         \
                const T *zl = z + l * n;                                                \
                T ul = (T) Uk[l * D + j];                                               \
                for (ptrdiff_t i = 0; i < n; i++) y[i] += zl[i] * ul;                   \
            }                                                                           \
            for (ptrdiff_t i = 0; i < n; i++) q[i] += y[i] * y[i];                      \
        }                                                                               \
        for (ptrdiff_t i = 0; i < n; i++) q[i] = c - (T) 0.5 * q[i];                    \
    }                                                                                   \
}

/* Normalise lpt (K x n) into weighted responsibilities w_i r_ki, and write
   lse_i = log sum_k exp(lpt_ki) into lse (n). A row whose lse is not finite shows up
   as a non-finite lse_i (NaN or -inf propagate through every step); the caller checks. */
#define GMM_SMALL_NORMALIZE(suffix, attr, T, t)                                         \
attr static void gmm_small_normalize_##t##_##suffix(                                    \
    T *lpt, ptrdiff_t n, ptrdiff_t K, const double *w, T *lse, T *row_max, T *scale)    \
{                                                                                       \
    for (ptrdiff_t i = 0; i < n; i++) row_max[i] = lpt[i];                              \
    for (ptrdiff_t k = 1; k < K; k++) {                                                 \
        const T *col = lpt + k * n;                                                     \
        for (ptrdiff_t i = 0; i < n; i++)                                               \
            row_max[i] = col[i] > row_max[i] ? col[i] : row_max[i];                     \
    }                                                                                   \
    for (ptrdiff_t i = 0; i < n; i++) lse[i] = 0;                                       \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        T *col = lpt + k * n;                                                           \
        for (ptrdiff_t i = 0; i < n; i++) {                                             \
            col[i] = gmm_exp1_##t(col[i] - row_max[i]);                                 \
            lse[i] += col[i];                                                           \
        }                                                                               \
    }                                                                                   \
    for (ptrdiff_t i = 0; i < n; i++) scale[i] = (T) (w ? w[i] : 1.0) / lse[i];         \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        T *col = lpt + k * n;                                                           \
        for (ptrdiff_t i = 0; i < n; i++) col[i] *= scale[i];                           \
    }                                                                                   \
    for (ptrdiff_t i = 0; i < n; i++) lse[i] = row_max[i] + gmm_log1_##t(lse[i]);       \
}

/* N, S1, S2 (double) += the block's moments about each mean; scratch z (D x n), u (n) */
#define GMM_SMALL_STATS(suffix, attr, T, t)                                             \
attr static void gmm_small_stats_##t##_##suffix(                                        \
    const T *xt, ptrdiff_t n, ptrdiff_t D, ptrdiff_t K, const double *M, const T *R,    \
    double *N, double *S1, double *S2, T *z, T *u)                                      \
{                                                                                       \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        const double *mu = M + k * D;                                                   \
        const T *r = R + k * n;                                                         \
        N[k] += gmm_sum_##t(r, n);                                                      \
        for (ptrdiff_t a = 0; a < D; a++) {                                             \
            const T *xa = xt + a * n;                                                   \
            T *za = z + a * n, m = (T) mu[a];                                           \
            for (ptrdiff_t i = 0; i < n; i++) za[i] = xa[i] - m;                        \
        }                                                                               \
        for (ptrdiff_t a = 0; a < D; a++) {                                             \
            const T *za = z + a * n;                                                    \
            for (ptrdiff_t i = 0; i < n; i++) u[i] = r[i] * za[i];                      \
            S1[k * D + a] += gmm_sum_##t(u, n);                                         \
            for (ptrdiff_t b = 0; b <= a; b++)                                          \
                S2[(k * D + a) * D + b] += gmm_dot_##t(u, z + b * n, n);                \
        }                                                                               \
    }                                                                                   \
}

/* The whole of one block: transpose, log-probabilities, normalisation, statistics.
   Returns the index of the first row whose log-likelihood is not finite (statistics
   then not accumulated), or -1. L += sum_i w_i lse_i. scratch: n (2D + K + 3) of T. */
#define GMM_SMALL_BLOCK(suffix, attr, T, t)                                             \
attr static ptrdiff_t gmm_full_small_block_##t##_##suffix(                              \
    const T *X, const double *w, ptrdiff_t n, ptrdiff_t D, ptrdiff_t K,                 \
    const double *cst, const double *M, const double *U,                                \
    double *N, double *S1, double *S2, double *L, void *scratch)                        \
{                                                                                       \
    T *xt = (T *) scratch, *z = xt + D * n, *y = z + D * n, *lse = y + n;               \
    T *scale = lse + n, *lpt = scale + n;                                               \
    for (ptrdiff_t i = 0; i < n; i++)                                                   \
        for (ptrdiff_t j = 0; j < D; j++) xt[j * n + i] = X[i * D + j];                 \
    gmm_small_logprob_##t##_##suffix(xt, n, D, K, cst, M, U, lpt, z, y);                \
    gmm_small_normalize_##t##_##suffix(lpt, n, K, w, lse, y, scale);                    \
    for (ptrdiff_t i = 0; i < n; i++)                                                   \
        if (!(lse[i] > -HUGE_VAL && lse[i] < HUGE_VAL)) return i;                       \
    *L += w ? gmm_wsum_##t(w, lse, n) : gmm_sum_##t(lse, n);                            \
    gmm_small_stats_##t##_##suffix(xt, n, D, K, M, lpt, N, S1, S2, z, y);               \
    return -1;                                                                          \
}

#define GMM_SMALL_ALL(suffix, attr)                                                     \
    GMM_SMALL_LOGPROB(suffix, attr, double, d)                                          \
    GMM_SMALL_NORMALIZE(suffix, attr, double, d)                                        \
    GMM_SMALL_STATS(suffix, attr, double, d)                                            \
    GMM_SMALL_BLOCK(suffix, attr, double, d)                                            \
    GMM_SMALL_LOGPROB(suffix, attr, float, f)                                           \
    GMM_SMALL_NORMALIZE(suffix, attr, float, f)                                         \
    GMM_SMALL_STATS(suffix, attr, float, f)                                             \
    GMM_SMALL_BLOCK(suffix, attr, float, f)

GMM_SMALL_ALL(base, )

typedef ptrdiff_t (*gmm_block_d_fn)(const double *, const double *, ptrdiff_t, ptrdiff_t,
                                    ptrdiff_t, const double *, const double *, const double *,
                                    double *, double *, double *, double *, void *);
typedef ptrdiff_t (*gmm_block_f_fn)(const float *, const double *, ptrdiff_t, ptrdiff_t,
                                    ptrdiff_t, const double *, const double *, const double *,
                                    double *, double *, double *, double *, void *);

static gmm_block_d_fn gmm_full_small_block_d = gmm_full_small_block_d_base;
static gmm_block_f_fn gmm_full_small_block_f = gmm_full_small_block_f_base;

/* The component-major normalisation on its own, double: 'diag' blocks use it too. */
typedef void (*gmm_norm_d_fn)(double *, ptrdiff_t, ptrdiff_t, const double *, double *,
                              double *, double *);
static gmm_norm_d_fn gmm_normalize_cols_d = gmm_small_normalize_d_base;

#ifdef GMM_HAVE_AVX2_CLONE
GMM_SMALL_ALL(avx2, GMM_AVX2_ATTR)
GMM_SMALL_ALL(avx512, GMM_AVX512_ATTR)
#endif

static void gmm_smalld_init(void)
{
#ifdef GMM_HAVE_AVX2_CLONE
    if (gmm_exp_d == gmm_exp_d_avx512) {    /* gmm_vmath_init chose AVX-512 */
        gmm_full_small_block_d = gmm_full_small_block_d_avx512;
        gmm_full_small_block_f = gmm_full_small_block_f_avx512;
        gmm_normalize_cols_d = gmm_small_normalize_d_avx512;
    } else if (gmm_exp_d == gmm_exp_d_avx2) {      /* gmm_vmath_init chose AVX2+FMA */
        gmm_full_small_block_d = gmm_full_small_block_d_avx2;
        gmm_full_small_block_f = gmm_full_small_block_f_avx2;
        gmm_normalize_cols_d = gmm_small_normalize_d_avx2;
    }
#endif
}

#endif
