/* Feature rows: each row of a block expanded into the products that turn a quadratic
   form about a shared shift c into one GEMM for all components.

     moment rows ('full' near c):  F_i = [z_a z_b (a >= b), z_a, 1],  z = x_i - c
     'diag' rows:                  A_i = [z^2, z, 0 ...]

   Always formed in double, from float32 data too: the expansion about c needs it (see
   route_full_moments.pxi and route_diag.pxi).
*/
#ifndef GMMFAST_FEATURE_ROWS_H
#define GMMFAST_FEATURE_ROWS_H

#include "isa.h"

/* Moment rows of a block: F_i = [z_a z_b for a = 0..D-1, b = 0..a; z_a; 1], z = x_i - c
   (n x (D(D+1)/2 + D + 1), row-major), computed in the output type T from input TI.
   Row a of the triangle is written as the full z_a z (D entries, one fixed-length
   loop that vectorises) and its tail is overwritten by the rows after it: the last
   row ends exactly at the triangle's end. Always in double (float32 data too: the
   expansion about c needs it). */
#define GMM_MOMENT_ROWS_FUNC(suffix, linkage, TI, T, tname)                                \
linkage void gmm_moment_rows_##tname##_##suffix(                                    \
    const TI *X, ptrdiff_t n, ptrdiff_t D, const TI *c, T *F, T *z)                     \
{                                                                                       \
    const ptrdiff_t tri = D * (D + 1) / 2, width = tri + D + 1;                         \
    for (ptrdiff_t i = 0; i < n; i++) {                                                 \
        T *f = F + i * width;                                                           \
        for (ptrdiff_t a = 0; a < D; a++) z[a] = (T) X[i * D + a] - (T) c[a];           \
        for (ptrdiff_t a = 0, col = 0; a < D; col += ++a) {                             \
            const T za = z[a];                                                          \
            T *fa = f + col;                                                            \
            for (ptrdiff_t b = 0; b < D; b++) fa[b] = za * z[b];                        \
        }                                                                               \
        for (ptrdiff_t a = 0; a < D; a++) f[tri + a] = z[a];                            \
        f[tri + D] = (T) 1;                                                             \
    }                                                                                   \
}

/* 'diag' feature rows: A_i = [(x_i - c)^2, x_i - c, 0 ...] (lda columns, lda >= 2D; see
   diag_products.h), in type T from TI, and zero rows from n up to n rounded up to 4. */
#define GMM_DIAG_ROWS_FUNC(suffix, linkage, TI, T, tname)                                  \
linkage void gmm_diag_rows_##tname##_##suffix(                                      \
    const TI *X, ptrdiff_t n, ptrdiff_t D, const TI *c, ptrdiff_t lda, T *A)            \
{                                                                                       \
    for (ptrdiff_t i = 0; i < n; i++) {                                                 \
        T *a = A + i * lda;                                                             \
        for (ptrdiff_t j = 0; j < D; j++) {                                             \
            T t = (T) X[i * D + j] - (T) c[j];                                          \
            a[j] = t * t;                                                               \
            a[D + j] = t;                                                               \
        }                                                                               \
        for (ptrdiff_t j = 2 * D; j < lda; j++) a[j] = (T) 0;                           \
    }                                                                                   \
    for (ptrdiff_t i = n; i < (n + 3) / 4 * 4; i++)                                     \
        for (ptrdiff_t j = 0; j < lda; j++) A[i * lda + j] = (T) 0;                     \
}

#define GMM_ROWS_ALL(suffix, linkage)                                                   \
    GMM_DIAG_ROWS_FUNC(suffix, linkage, double, double, d)                              \
    GMM_DIAG_ROWS_FUNC(suffix, linkage, float, double, fd)                              \
    GMM_MOMENT_ROWS_FUNC(suffix, linkage, double, double, d)                            \
    GMM_MOMENT_ROWS_FUNC(suffix, linkage, float, double, fd)

GMM_INSTANTIATE(GMM_ROWS_ALL)

typedef void gmm_mrows_d_fn(const double *, ptrdiff_t, ptrdiff_t, const double *, double *,
                            double *);
typedef void gmm_mrows_fd_fn(const float *, ptrdiff_t, ptrdiff_t, const float *, double *,
                             double *);
typedef void gmm_drows_d_fn(const double *, ptrdiff_t, ptrdiff_t, const double *,
                            ptrdiff_t, double *);
typedef void gmm_drows_fd_fn(const float *, ptrdiff_t, ptrdiff_t, const float *,
                             ptrdiff_t, double *);

#if GMM_MAIN_TU
GMM_DISPATCH(gmm_drows_d_fn, gmm_diag_rows_d)
GMM_DISPATCH(gmm_drows_fd_fn, gmm_diag_rows_fd)
GMM_DISPATCH(gmm_mrows_d_fn, gmm_moment_rows_d)
GMM_DISPATCH(gmm_mrows_fd_fn, gmm_moment_rows_fd)

static void gmm_feature_rows_select(void)
{
    GMM_SELECT(gmm_diag_rows_d, gmm_diag_rows_d);
    GMM_SELECT(gmm_diag_rows_fd, gmm_diag_rows_fd);
    GMM_SELECT(gmm_moment_rows_d, gmm_moment_rows_d);
    GMM_SELECT(gmm_moment_rows_fd, gmm_moment_rows_fd);
}
#endif

#endif
