/* The log-sum-exp normalisation of a component-major block (K x n: the layout of the
   vector kernels), vectorised over the rows.

   Two forms, which differ on purpose:
   - gmm_normalize_cols_<t>: in the block's own type T (double; float for the small-D
     kernel's float32 blocks, whose log-densities are float32);
   - gmm_normalize_cols_fd: float32 data whose log-densities are double (the moment
     rows and 'diag', formed in double about c): the exponentials and the sums in
     float32, as scikit-learn's float32 computes them.
   The row-major form (one row at a time, for the routes that produce lp row by row)
   is _normalize_rows in the Cython driver (common.pxi).
*/
#ifndef GMMFAST_NORMALIZE_H
#define GMMFAST_NORMALIZE_H

#include "vmath.h"

/* row_max[i] = max_k lpt[k n + i] of a component-major block (K x n), in T; a NaN
   entry is passed over (the caller's exp then carries it into the row's sum) */
#define GMM_COLS_MAX(T, lpt, n, K, row_max)                                             \
    for (ptrdiff_t i_ = 0; i_ < (n); i_++) (row_max)[i_] = (lpt)[i_];                   \
    for (ptrdiff_t k_ = 1; k_ < (K); k_++) {                                            \
        const T *col_ = (lpt) + k_ * (n);                                               \
        for (ptrdiff_t i_ = 0; i_ < (n); i_++)                                          \
            (row_max)[i_] = col_[i_] > (row_max)[i_] ? col_[i_] : (row_max)[i_];        \
    }


/* Normalise lpt (K x n) into weighted responsibilities w_i r_ki, and write
   lse_i = log sum_k exp(lpt_ki) into lse (n). A row whose lse is not finite shows up
   as a non-finite lse_i (NaN or -inf propagate through every step); the caller checks. */
#define GMM_NORMALIZE_COLS(suffix, linkage, T, t)                                         \
linkage void gmm_normalize_cols_##t##_##suffix(                                    \
    T *lpt, ptrdiff_t n, ptrdiff_t K, const double *w, T *lse, T *row_max, T *scale)    \
{                                                                                       \
    GMM_COLS_MAX(T, lpt, n, K, row_max)                                                 \
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

/* float32 data: the normalisation in float32, as scikit-learn's float32 does it, from
   lpt in double. Per row: the maximum in double, then y_ki = exp(float(lpt_ki - max_i))
   in float32 (so no absolute precision is lost to a large lpt), their sum in float32;
   lse_i = max_i + log(sum_i) (the log in float32: ~1e-7 absolute, sum_i >= 1);
   lpt_ki := double(y_ki * float(w_i / sum_i)), the weighted responsibilities. A row
   whose lse is not finite shows up as a non-finite lse_i (NaN and -inf propagate); the
   caller checks. Scratch: row_max (n double), sum (n float), y (K n float). */
#define GMM_NORMALIZE_COLS_F32(suffix, linkage)                                              \
linkage void gmm_normalize_cols_fd_##suffix(                                         \
    double *lpt, ptrdiff_t n, ptrdiff_t K, const double *w, double *lse,                \
    double *row_max, float *sum, float *y)                                              \
{                                                                                       \
    GMM_COLS_MAX(double, lpt, n, K, row_max)                                            \
    for (ptrdiff_t i = 0; i < n; i++) sum[i] = 0.0f;                                    \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        const double *col = lpt + k * n;                                                \
        float *yk = y + k * n;                                                          \
        for (ptrdiff_t i = 0; i < n; i++) {                                             \
            yk[i] = gmm_exp1_f((float) (col[i] - row_max[i]));                          \
            sum[i] += yk[i];                                                            \
        }                                                                               \
    }                                                                                   \
    for (ptrdiff_t i = 0; i < n; i++) {                                                 \
        lse[i] = row_max[i] + (double) gmm_log1_f(sum[i]);                              \
        sum[i] = (float) (w ? w[i] : 1.0) / sum[i];                                     \
    }                                                                                   \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        double *col = lpt + k * n;                                                      \
        const float *yk = y + k * n;                                                    \
        for (ptrdiff_t i = 0; i < n; i++) col[i] = (double) (yk[i] * sum[i]);           \
    }                                                                                   \
}


#define GMM_NORMALIZE_ALL(suffix, linkage)                                              \
    GMM_NORMALIZE_COLS(suffix, linkage, double, d)                                      \
    GMM_NORMALIZE_COLS(suffix, linkage, float, f)                                       \
    GMM_NORMALIZE_COLS_F32(suffix, linkage)

/* every build (AVX-512: float32 with 16 lanes; at 8, the conversions to and from
   double would cost more than the float32 arithmetic saves) */
GMM_INSTANTIATE(GMM_NORMALIZE_ALL)

typedef void gmm_norm_d_fn(double *, ptrdiff_t, ptrdiff_t, const double *, double *,
                           double *, double *);
typedef void gmm_norm_fd_fn(double *, ptrdiff_t, ptrdiff_t, const double *, double *,
                            double *, float *, float *);

#if GMM_MAIN_TU
GMM_DISPATCH(gmm_norm_d_fn, gmm_normalize_cols_d)
GMM_DISPATCH(gmm_norm_fd_fn, gmm_normalize_cols_fd)

static void gmm_normalize_select(void)
{
    GMM_SELECT(gmm_normalize_cols_d, gmm_normalize_cols_d);
    GMM_SELECT(gmm_normalize_cols_fd, gmm_normalize_cols_fd);
}
#endif

#endif
