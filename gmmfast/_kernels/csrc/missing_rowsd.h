/* The row pass's first sweep on float64 data ('full' and 'tied', from BLAS_MIN_FEATURES
   features on; gmmfast/_missing_rows.pyx, included by missing_lanes.h, whose builds
   instantiate it): per component, over a block's rows transposed (gmm_rows_transpose,
   NaN where missing),

     z = x - mu at the observed features, 0 at the missing,
     y = z U,   q = sum_j y_j^2,   b = U[M, :] y,

   b the offset of the conditional mean's equations (the lanes' solve, missing_lanes.h).
   y one row a lane, over U's triangle in tiles of 4 columns (tri_tile.h's, as the
   complete rows' gmm_tri_lanes_d), q in the lanes; b a dot product per missing entry,
   from the group's y while it is in L1 (U y in the lanes would compute about ten
   entries for every one read, at 10% missing). Per row the operations and their
   order are its own, one fused multiply-add a product in every build (fma in the
   baseline's): every build gives the same bits, whatever its group size. */
#ifndef GMMFAST_MISSING_ROWSD_H
#define GMMFAST_MISSING_ROWSD_H

#include <math.h>
#include "isa.h"
#include "tri_tile.h"

/* rows a group: two vector registers of doubles */
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_QB 16
#elif GMM_TU_ISA == GMM_ISA_AVX2
#define GMM_QB 8
#elif GMM_TU_ISA == GMM_ISA_NEON
#define GMM_QB 4
#else
#define GMM_QB 8
#endif
/* the largest group of any build (the scratch's size); the callers' row counts (ldx)
   are multiples of it */
#define GMM_QB_MAX 16

/* doubles of gmm_lanes_qb's scratch at D features: a group's z (D x 16) and y (D4 x
   16) */
GMM_INLINE ptrdiff_t gmm_lanes_qb_doubles(ptrdiff_t D)
{
    return (D + (D + 3) / 4 * 4) * GMM_QB_MAX;
}

/* Four columns (t) of a group's product: Y[t GMM_QB + r] = sum over l < lend, in
   order, of Z[l GMM_QB + r] U[l ldu + t]. */
#define GMM_QB4_BASE(Z, U, ldu, lend, Y)                                                \
    GMM_TRI_TILE_BASE(double, fma, GMM_QB, Z, U, ldu, lend, Y, GMM_QB)
#define GMM_QB4_SIMD(V, B, W, Z, U, ldu, lend, Y)                                       \
    {                                                                                   \
        GMM_TRI_TILE(V, B, W, pd, double, Z, GMM_QB, U, ldu, lend)                      \
        double *y_ = (Y);                                                               \
        GMM_TRI_TILE_STORE(B, W, pd, y_, GMM_QB)                                        \
    }
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_QB4(...) GMM_QB4_SIMD(__m512d, 512, 8, __VA_ARGS__)
#elif GMM_TU_ISA == GMM_ISA_AVX2
#define GMM_QB4(...) GMM_QB4_SIMD(__m256d, 256, 4, __VA_ARGS__)
#elif GMM_TU_ISA == GMM_ISA_NEON
#define GMM_QB4(...) GMM_QB4_SIMD(gmm_v2d, neon, 2, __VA_ARGS__)
#else
#define GMM_QB4 GMM_QB4_BASE
#endif

#define GMM_LANES_QB(suffix, linkage)                                                   \
/* One component over a block's n rows, transposed (Xt: D x ldx, ldx a multiple of     \
   GMM_QB_MAX, NaN where a row's feature is missing and in columns n..ldx; Up: D x D4, \
   U's upper triangle, zeros below the diagonal and beyond D): q[r] (n,) and, for      \
   missing entry a of row r (its column Mi[r mmax + a], a < nm[r]), b at              \
   bt[(moff[r] + a) K]. S: gmm_lanes_qb_doubles(D) of scratch. */                     \
linkage void gmm_lanes_qb_##suffix(                                                     \
    const double *Xt, ptrdiff_t ldx, ptrdiff_t n, ptrdiff_t D, const double *mu,        \
    const double *Up, const ptrdiff_t *Mi, ptrdiff_t mmax, const ptrdiff_t *nm,          \
    const ptrdiff_t *moff, ptrdiff_t K, double *q, double *bt, double *S)               \
{                                                                                       \
    const ptrdiff_t D4 = (D + 3) / 4 * 4;                                               \
    double *Z = S;                                                                      \
    double *Y = Z + D * GMM_QB_MAX;                                                     \
    for (ptrdiff_t i0 = 0; i0 < n; i0 += GMM_QB) {                                      \
        const ptrdiff_t nr = n - i0 < GMM_QB ? n - i0 : GMM_QB;                         \
        for (ptrdiff_t l = 0; l < D; l++) {                                             \
            const double *x = Xt + l * ldx + i0;                                        \
            double *z = Z + l * GMM_QB;                                                 \
            const double ml = mu[l];                                                    \
            GMM_LANE_LOOP                                                               \
            for (int r = 0; r < GMM_QB; r++) z[r] = x[r] == x[r] ? x[r] - ml : 0.0;     \
        }                                                                               \
        /* y, four columns at a time, over the rows of U down to their last column's */ \
        for (ptrdiff_t j0 = 0; j0 < D; j0 += 4) {                                       \
            const ptrdiff_t lend = j0 + 4 < D ? j0 + 4 : D;                             \
            GMM_QB4(Z, Up + j0, D4, lend, Y + j0 * GMM_QB)                              \
        }                                                                               \
        double s[GMM_QB];                                                               \
        for (int r = 0; r < GMM_QB; r++) s[r] = 0.0;                                    \
        for (ptrdiff_t j = 0; j < D; j++) {                                             \
            const double *y = Y + j * GMM_QB;                                           \
            GMM_LANE_LOOP                                                               \
            for (int r = 0; r < GMM_QB; r++) s[r] = fma(y[r], y[r], s[r]);              \
        }                                                                               \
        for (ptrdiff_t r = 0; r < nr; r++) q[i0 + r] = s[r];                            \
        /* b = U[c, c:] y[c:] at each missing column c of a row, in four sums (term  \
           j into sum (j - c) mod 4, added ((0 + 1) + (2 + 3))): one sum would wait   \
           on its last addition at every term */                                      \
        for (ptrdiff_t r = 0; r < nr; r++) {                                            \
            const ptrdiff_t *Mr = Mi + (i0 + r) * mmax;                                 \
            const double *yr = Y + r;                                                   \
            double *b = bt + moff[i0 + r] * K;                                          \
            for (ptrdiff_t a = 0; a < nm[i0 + r]; a++) {                                \
                const ptrdiff_t c = Mr[a];                                              \
                const double *u = Up + c * D4;                                          \
                double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;                          \
                ptrdiff_t j = c;                                                        \
                for (; j + 4 <= D; j += 4) {                                            \
                    s0 = fma(u[j], yr[j * GMM_QB], s0);                                 \
                    s1 = fma(u[j + 1], yr[(j + 1) * GMM_QB], s1);                       \
                    s2 = fma(u[j + 2], yr[(j + 2) * GMM_QB], s2);                       \
                    s3 = fma(u[j + 3], yr[(j + 3) * GMM_QB], s3);                       \
                }                                                                       \
                if (j < D) s0 = fma(u[j], yr[j * GMM_QB], s0);                          \
                if (j + 1 < D) s1 = fma(u[j + 1], yr[(j + 1) * GMM_QB], s1);            \
                if (j + 2 < D) s2 = fma(u[j + 2], yr[(j + 2) * GMM_QB], s2);            \
                b[a * K] = (s0 + s1) + (s2 + s3);                                       \
            }                                                                           \
        }                                                                               \
    }                                                                                   \
}

#endif
