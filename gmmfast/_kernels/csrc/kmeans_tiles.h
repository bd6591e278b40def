/* k-means++'s distances (gmmfast/_kmeans.pyx, kpp_distances): the squared distance of
   every row of a block to T candidate centres, with scikit-learn's formula and
   rounding steps,

     d = ((-2 <c, xc>) + ||c||^2) + ||xc||^2    in double, xc = x - m in X's dtype,

   the dot product summed over the features in order, then cast to X's dtype, clipped
   below at 0 and, when the rows have a closest distance so far, its minimum with it.

   Eight rows at a time (a tile, one lane a row, the rows centred and transposed
   once), for up to four candidates at once: each lane sums its row's products over
   the features in order, and the candidates are independent chains that hide the
   latency of each addition; a full tile's last steps are selects, one lane a row.
   No fused multiply-add: the vector builds (kmeans_isa_<name>.c) are compiled with
   contraction off, so every build gives the baseline's bits, which are those of the
   row-by-row loops this replaced. (Those were compiled for the baseline only, one
   chain of additions a row, and screened the pairs with a float32 GEMM first; the
   screen now costs more than the exact computation it saved.) */
#ifndef GMMFAST_KMEANS_TILES_H
#define GMMFAST_KMEANS_TILES_H

#include "isa.h"

/* rows a tile (one lane each), candidates taken together */
#define GMM_KM_TILE 8
#define GMM_KM_CANDS 4

/* One block: X (m rows of D, X's dtype TI), the centre mc; T candidates cand (T x D,
   double, centred) with their squared norms cn; xx (m,) the rows' ||xc||^2; closest
   (m,) or NULL; out (T rows of stride ldo, X's dtype) from the block's first row.
   xt: D GMM_KM_TILE doubles of scratch. */
#define GMM_KPP_BLOCK(suffix, linkage, TI, tname)                                       \
linkage void gmm_kpp_block_##tname##_##suffix(                                          \
    const TI *X, ptrdiff_t m, ptrdiff_t D, const TI *mc, const double *cand,            \
    const double *cn, ptrdiff_t T, const double *xx, const TI *closest, TI *out,        \
    ptrdiff_t ldo, double *xt)                                                          \
{                                                                                       \
    for (ptrdiff_t i0 = 0; i0 < m; i0 += GMM_KM_TILE) {                                 \
        const ptrdiff_t R = m - i0 < GMM_KM_TILE ? m - i0 : GMM_KM_TILE;                \
        for (ptrdiff_t r = 0; r < GMM_KM_TILE; r++)                                     \
            for (ptrdiff_t d = 0; d < D; d++)                                           \
                xt[d * GMM_KM_TILE + r] =                                               \
                    r < R ? (double) (X[(i0 + r) * D + d] - mc[d]) : 0.0;               \
        for (ptrdiff_t t0 = 0; t0 < T; t0 += GMM_KM_CANDS) {                            \
            const ptrdiff_t nc = T - t0 < GMM_KM_CANDS ? T - t0 : GMM_KM_CANDS;         \
            double acc[GMM_KM_CANDS][GMM_KM_TILE];                                      \
            for (ptrdiff_t c = 0; c < GMM_KM_CANDS; c++) {                              \
                GMM_LANE_LOOP                                                           \
                for (ptrdiff_t r = 0; r < GMM_KM_TILE; r++) acc[c][r] = 0.0;            \
            }                                                                           \
            if (nc == GMM_KM_CANDS) {                                                   \
                const double *c0 = cand + t0 * D, *c1 = c0 + D, *c2 = c1 + D,           \
                             *c3 = c2 + D;                                              \
                for (ptrdiff_t d = 0; d < D; d++) {                                     \
                    const double *x = xt + d * GMM_KM_TILE;                             \
                    GMM_LANE_LOOP                                                       \
                    for (ptrdiff_t r = 0; r < GMM_KM_TILE; r++) {                       \
                        acc[0][r] = acc[0][r] + c0[d] * x[r];                           \
                        acc[1][r] = acc[1][r] + c1[d] * x[r];                           \
                        acc[2][r] = acc[2][r] + c2[d] * x[r];                           \
                        acc[3][r] = acc[3][r] + c3[d] * x[r];                           \
                    }                                                                   \
                }                                                                       \
            } else {                                                                    \
                for (ptrdiff_t c = 0; c < nc; c++) {                                    \
                    const double *cc = cand + (t0 + c) * D;                             \
                    for (ptrdiff_t d = 0; d < D; d++) {                                 \
                        const double *x = xt + d * GMM_KM_TILE;                         \
                        GMM_LANE_LOOP                                                   \
                        for (ptrdiff_t r = 0; r < GMM_KM_TILE; r++)                     \
                            acc[c][r] = acc[c][r] + cc[d] * x[r];                       \
                    }                                                                   \
                }                                                                       \
            }                                                                           \
            for (ptrdiff_t c = 0; c < nc; c++) {                                        \
                const ptrdiff_t t = t0 + c;                                             \
                TI *o = out + t * ldo + i0;                                             \
                const double *xr = xx + i0;                                             \
                if (R == GMM_KM_TILE && closest) {                                      \
                    const TI *cl = closest + i0;                                        \
                    GMM_LANE_LOOP                                                       \
                    for (ptrdiff_t r = 0; r < GMM_KM_TILE; r++) {                       \
                        const double v = (-2.0 * acc[c][r] + cn[t]) + xr[r];            \
                        TI f = (TI) v;                                                  \
                        f = f < 0 ? 0 : f;                                              \
                        o[r] = cl[r] <= f ? cl[r] : f;                                  \
                    }                                                                   \
                } else if (R == GMM_KM_TILE) {                                          \
                    GMM_LANE_LOOP                                                       \
                    for (ptrdiff_t r = 0; r < GMM_KM_TILE; r++) {                       \
                        const double v = (-2.0 * acc[c][r] + cn[t]) + xr[r];            \
                        const TI f = (TI) v;                                            \
                        o[r] = f < 0 ? 0 : f;                                           \
                    }                                                                   \
                } else {                                                                \
                    for (ptrdiff_t r = 0; r < R; r++) {                                 \
                        const double v = (-2.0 * acc[c][r] + cn[t]) + xr[r];            \
                        TI f = (TI) v;                                                  \
                        f = f < 0 ? 0 : f;                                              \
                        o[r] = closest && closest[i0 + r] <= f ? closest[i0 + r] : f;   \
                    }                                                                   \
                }                                                                       \
            }                                                                           \
        }                                                                               \
    }                                                                                   \
}

#define GMM_KMEANS_TILES(suffix, linkage)                                               \
    GMM_KPP_BLOCK(suffix, linkage, double, d)                                           \
    GMM_KPP_BLOCK(suffix, linkage, float, f)

GMM_INSTANTIATE(GMM_KMEANS_TILES)

#if GMM_MAIN_TU
typedef void gmm_kpp_block_d_fn(const double *, ptrdiff_t, ptrdiff_t, const double *,
                                const double *, const double *, ptrdiff_t, const double *,
                                const double *, double *, ptrdiff_t, double *);
typedef void gmm_kpp_block_f_fn(const float *, ptrdiff_t, ptrdiff_t, const float *,
                                const double *, const double *, ptrdiff_t, const double *,
                                const float *, float *, ptrdiff_t, double *);
GMM_DISPATCH(gmm_kpp_block_d_fn, gmm_kpp_block_d)
GMM_DISPATCH(gmm_kpp_block_f_fn, gmm_kpp_block_f)

/* Choose the instruction set (as the kernels do, isa.h) and point the kernels at its
   build: once, at the module's import. */
static void gmm_kmeans_tiles_init(int max_level)
{
    gmm_isa_detect(max_level);
    GMM_SELECT(gmm_kpp_block_d, gmm_kpp_block_d);
    GMM_SELECT(gmm_kpp_block_f, gmm_kpp_block_f);
}
#endif

#endif
