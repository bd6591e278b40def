/* Per-element loops of the routes about a shared shift c ('tied', 'spherical' and 'full'
   about each mean), built for every instruction set (isa.h) and vectorised over the
   rows of a block:

     gmm_cols_to_rows_w     lp[i, k] := lpt[k, i] w_i, then N_k += lp[i, k] in row order
     gmm_center_rows_<t>    Z := X - c; A := X - c in double
     gmm_sph_rows_<t>       A := [z, ||z||^2] in double, z = x - c: the feature rows of
                            'spherical' (and of 'tied', on the whitened rows about 0)

   (<t>: d for float64 data, f or fd for float32 data.)

   Bits. Element by element the same operations in the same order in every build (the
   sums over j in order of j, N_k over the rows in order), so every build gives the
   results of the baseline build's scalar code. For that, no multiply and add here may
   be fused into one FMA: the vector builds are compiled with FMA and gcc and clang
   would otherwise contract d * d + q; GMM_EXACT turns contraction off for these
   functions (and MSVC's /fp:contract for this file).
*/
#ifndef GMMFAST_SHARED_SHIFT_H
#define GMMFAST_SHARED_SHIFT_H

#include "isa.h"
#include "normalize.h"

#if defined(_MSC_VER) && !defined(__clang__)
#pragma fp_contract(off)
#endif

/* lp (n x K) := lpt (K x n) with row i weighted by w_i (w NULL: by 1, exactly a copy);
   then, if N is given, N_k += lp[i, k] over the rows in order. The plain form: eight rows
   at a time, then the sums vectorised over k. The AVX-512 form: tiles of 8 components x
   8 rows transposed in registers, N's 8 sums of a tile's components kept in a vector
   across the rows (in order); the remaining rows and components one at a time, each
   N_k still over the rows in order. Either way, the same products and sums. */
#define GMM_C2R_PLAIN                                                                   \
    if (w == NULL) {                                                                    \
        GMM_TRANSPOSE_ROWS(lp[i * K + k] = lpt[k * n + i])                              \
    } else {                                                                            \
        GMM_TRANSPOSE_ROWS(lp[i * K + k] = lpt[k * n + i] * w[i])                       \
    }                                                                                   \
    if (N != NULL)                                                                      \
        for (ptrdiff_t i = 0; i < n; i++)                                               \
            for (ptrdiff_t k = 0; k < K; k++) N[k] += lp[i * K + k];

#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_C2R_BODY                                                                    \
    const ptrdiff_t n8 = n / 8 * 8, K8 = K / 8 * 8;                                     \
    for (ptrdiff_t k0 = 0; k0 < K8; k0 += 8) {                                          \
        __m512d acc = N != NULL ? _mm512_loadu_pd(N + k0) : _mm512_setzero_pd();        \
        for (ptrdiff_t i0 = 0; i0 < n8; i0 += 8) {                                      \
            __m512d r[8];                                                               \
            for (int a = 0; a < 8; a++) r[a] = _mm512_loadu_pd(lpt + (k0 + a) * n + i0);\
            gmm_transpose8_pd(r);                                                       \
            for (int a = 0; a < 8; a++) {                                               \
                if (w != NULL) r[a] = _mm512_mul_pd(r[a], _mm512_set1_pd(w[i0 + a]));   \
                _mm512_storeu_pd(lp + (i0 + a) * K + k0, r[a]);                         \
                acc = _mm512_add_pd(acc, r[a]);                                         \
            }                                                                           \
        }                                                                               \
        if (N != NULL) _mm512_storeu_pd(N + k0, acc);                                   \
        for (ptrdiff_t k = k0; k < k0 + 8; k++)                                         \
            for (ptrdiff_t i = n8; i < n; i++) {                                        \
                lp[i * K + k] = w == NULL ? lpt[k * n + i] : lpt[k * n + i] * w[i];     \
                if (N != NULL) N[k] += lp[i * K + k];                                   \
            }                                                                           \
    }                                                                                   \
    for (ptrdiff_t k = K8; k < K; k++)                                                  \
        for (ptrdiff_t i = 0; i < n; i++) {                                             \
            lp[i * K + k] = w == NULL ? lpt[k * n + i] : lpt[k * n + i] * w[i];         \
            if (N != NULL) N[k] += lp[i * K + k];                                       \
        }
#else
#define GMM_C2R_BODY GMM_C2R_PLAIN
#endif

#define GMM_COLS_TO_ROWS_W(suffix, linkage)                                             \
GMM_EXACT_ATTR linkage void gmm_cols_to_rows_w_##suffix(                               \
    const double *lpt, ptrdiff_t n, ptrdiff_t K, const double *w, double *lp,           \
    double *N)                                                                          \
{                                                                                       \
    GMM_EXACT_BODY                                                                      \
    GMM_C2R_BODY                                                                        \
}

/* Z (n x D, the data's type T) := X - c */
#define GMM_CENTER_ROWS(suffix, linkage, T, t)                                          \
linkage void gmm_center_rows_##t##_##suffix(                                            \
    const T *X, ptrdiff_t n, ptrdiff_t D, const T *c, T *Z)                             \
{                                                                                       \
    for (ptrdiff_t i = 0; i < n; i++)                                                   \
        for (ptrdiff_t j = 0; j < D; j++) Z[i * D + j] = X[i * D + j] - c[j];           \
}

/* A (n x lda, double) := double(X) - double(c), zero from column D to lda */
#define GMM_CENTER_ROWS_D(suffix, linkage, T, t)                                        \
linkage void gmm_center_rows_##t##d_##suffix(                                          \
    const T *X, ptrdiff_t n, ptrdiff_t D, const T *c, ptrdiff_t lda, double *A)         \
{                                                                                       \
    for (ptrdiff_t i = 0; i < n; i++) {                                                 \
        for (ptrdiff_t j = 0; j < D; j++) A[i * lda + j] = (double) X[i * D + j] - (double) c[j]; \
        for (ptrdiff_t j = D; j < lda; j++) A[i * lda + j] = 0.0;                       \
    }                                                                                   \
}

/* 'spherical' feature rows (route_spherical.pxi): A (n x lda, double, lda >= D + 1) :=
   [z, ||z||^2, 0 ...] with z = double(x) - double(c) (exact for float32 data) and the
   squared norm summed in double in the order of j; zero rows from n up to n rounded up
   to 4 (diag_products.h's tiles read them). The plain form a row at a time; the AVX-512
   form reads tiles of 8 rows x 8 features of A and transposes them in registers, so
   that its vectors run over the rows (the features from the last multiple of 8 on, and
   the rows from the last multiple of 8 on, one at a time, after them). */
#define GMM_SPH_XX_PLAIN(i0, i1)                                                        \
    for (ptrdiff_t i = (i0); i < (i1); i++) {                                           \
        double q = 0.0;                                                                 \
        for (ptrdiff_t j = 0; j < D; j++) q += A[i * lda + j] * A[i * lda + j];         \
        A[i * lda + D] = q;                                                             \
    }

#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_SPH_XX_BODY                                                                 \
    const ptrdiff_t n8 = n / 8 * 8, D8 = D / 8 * 8;                                     \
    for (ptrdiff_t i0 = 0; i0 < n8; i0 += 8) {                                          \
        __m512d acc = _mm512_setzero_pd();                                              \
        for (ptrdiff_t j0 = 0; j0 < D8; j0 += 8) {                                      \
            __m512d r[8];                                                               \
            for (int a = 0; a < 8; a++) r[a] = _mm512_loadu_pd(A + (i0 + a) * lda + j0);\
            gmm_transpose8_pd(r);                                                       \
            for (int b = 0; b < 8; b++)                                                 \
                acc = _mm512_add_pd(acc, _mm512_mul_pd(r[b], r[b]));                    \
        }                                                                               \
        double q[8];                                                                    \
        _mm512_storeu_pd(q, acc);                                                       \
        for (int a = 0; a < 8; a++) {                                                   \
            const double *z = A + (i0 + a) * lda;                                       \
            for (ptrdiff_t j = D8; j < D; j++) q[a] += z[j] * z[j];                     \
            A[(i0 + a) * lda + D] = q[a];                                               \
        }                                                                               \
    }                                                                                   \
    GMM_SPH_XX_PLAIN(n8, n)
#else
#define GMM_SPH_XX_BODY GMM_SPH_XX_PLAIN(0, n)
#endif

#define GMM_SPH_ROWS(suffix, linkage, T, t)                                             \
GMM_EXACT_ATTR linkage void gmm_sph_rows_##t##_##suffix(                                \
    const T *X, ptrdiff_t n, ptrdiff_t D, const T *c, ptrdiff_t lda, double *A)         \
{                                                                                       \
    GMM_EXACT_BODY                                                                      \
    for (ptrdiff_t i = 0; i < n; i++) {                                                 \
        for (ptrdiff_t j = 0; j < D; j++)                                               \
            A[i * lda + j] = (double) X[i * D + j] - (double) c[j];                     \
        for (ptrdiff_t j = D + 1; j < lda; j++) A[i * lda + j] = 0.0;                   \
    }                                                                                   \
    GMM_SPH_XX_BODY                                                                     \
    for (ptrdiff_t i = n; i < (n + 3) / 4 * 4; i++)                                     \
        for (ptrdiff_t j = 0; j < lda; j++) A[i * lda + j] = 0.0;                       \
}

#define GMM_SHARED_SHIFT_ALL(suffix, linkage)                                           \
    GMM_COLS_TO_ROWS_W(suffix, linkage)                                                 \
    GMM_CENTER_ROWS(suffix, linkage, double, d)                                         \
    GMM_CENTER_ROWS(suffix, linkage, float, f)                                          \
    GMM_CENTER_ROWS_D(suffix, linkage, double, d)                                       \
    GMM_CENTER_ROWS_D(suffix, linkage, float, f)                                        \
    GMM_SPH_ROWS(suffix, linkage, double, d)                                            \
    GMM_SPH_ROWS(suffix, linkage, float, f)

GMM_INSTANTIATE(GMM_SHARED_SHIFT_ALL)

#if defined(_MSC_VER) && !defined(__clang__)
#pragma fp_contract(on)
#endif

typedef void gmm_c2r_fn(const double *, ptrdiff_t, ptrdiff_t, const double *, double *,
                        double *);
typedef void gmm_center_d_fn(const double *, ptrdiff_t, ptrdiff_t, const double *,
                             double *);
typedef void gmm_center_f_fn(const float *, ptrdiff_t, ptrdiff_t, const float *, float *);
typedef void gmm_sph_rows_d_fn(const double *, ptrdiff_t, ptrdiff_t, const double *,
                               ptrdiff_t, double *);
typedef void gmm_sph_rows_f_fn(const float *, ptrdiff_t, ptrdiff_t, const float *,
                               ptrdiff_t, double *);
typedef void gmm_center_dd_fn(const double *, ptrdiff_t, ptrdiff_t, const double *,
                              ptrdiff_t, double *);
typedef void gmm_center_fd_fn(const float *, ptrdiff_t, ptrdiff_t, const float *,
                              ptrdiff_t, double *);

#if GMM_MAIN_TU
GMM_DISPATCH(gmm_c2r_fn, gmm_cols_to_rows_w)
GMM_DISPATCH(gmm_center_d_fn, gmm_center_rows_d)
GMM_DISPATCH(gmm_center_f_fn, gmm_center_rows_f)
GMM_DISPATCH(gmm_center_dd_fn, gmm_center_rows_dd)
GMM_DISPATCH(gmm_center_fd_fn, gmm_center_rows_fd)
GMM_DISPATCH(gmm_sph_rows_d_fn, gmm_sph_rows_d)
GMM_DISPATCH(gmm_sph_rows_f_fn, gmm_sph_rows_f)

static void gmm_shared_shift_select(void)
{
    GMM_SELECT(gmm_cols_to_rows_w, gmm_cols_to_rows_w);
    GMM_SELECT(gmm_center_rows_d, gmm_center_rows_d);
    GMM_SELECT(gmm_center_rows_f, gmm_center_rows_f);
    GMM_SELECT(gmm_center_rows_dd, gmm_center_rows_dd);
    GMM_SELECT(gmm_center_rows_fd, gmm_center_rows_fd);
    GMM_SELECT(gmm_sph_rows_d, gmm_sph_rows_d);
    GMM_SELECT(gmm_sph_rows_f, gmm_sph_rows_f);
}
#endif

#endif
