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

/* The AVX-512 and AVX2 builds read a full tile straight from X instead (xt is for the
   other builds and partial tiles): a block of the tile's features at a time (8 x 8
   with AVX-512; AVX2 two 4 x 4 blocks, a half-tile each) loaded a row a vector,
   centred (in X's dtype, then widened, as xt's elements are), transposed in registers
   and added into each lane's chains feature by feature, in order; the last features
   one at a time. The same products and sums as xt's loop, so the same bits, without
   storing and reloading every element (most of a call at D = 16). Loaded a block of
   features at a time, the tile's rows are interleaved streams, which the hardware
   prefetchers did not follow once X was larger than the caches (twice xt's time at
   10^5 x 64): the first candidate group prefetches the next tile's rows, also across
   the block's end, where the same thread's next block starts (two or four tiles
   ahead, or none past a block's end, measured slower than xt's loop at D = 32 and
   64). c0..c3 may repeat a candidate (fewer than four); acc receives their 4 x 8
   sums. */
#if GMM_TU_X86
/* the next tile's rows, tile_bytes from X, into the cache: an address only (a prefetch
   never faults), formed as an integer since it may lie past the end of X */
GMM_INLINE void gmm_km_prefetch_next(const void *X, size_t tile_bytes)
{
    const uintptr_t next = (uintptr_t) X + tile_bytes;
    for (uintptr_t e = 0; e < tile_bytes; e += 64)
        _mm_prefetch((const char *) (next + e), _MM_HINT_T0);
}
#define GMM_KM_TILE_DOTS_HEAD(TI, tname)                                                \
GMM_INLINE void gmm_km_tile_dots_##tname(const TI *X, ptrdiff_t D, const TI *mc,        \
                                         const double *c0, const double *c1,            \
                                         const double *c2, const double *c3,            \
                                         int prefetch,                                  \
                                         double acc[GMM_KM_CANDS][GMM_KM_TILE])
#endif

#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_KM_FUSED 1
#define GMM_KM_CENTRE8_d(x, m) _mm512_sub_pd(_mm512_loadu_pd(x), _mm512_loadu_pd(m))
#define GMM_KM_CENTRE8_f(x, m) \
    _mm512_cvtps_pd(_mm256_sub_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(m)))
#define GMM_KM_ADD4(x, j)                                                               \
    a0 = _mm512_add_pd(a0, _mm512_mul_pd(_mm512_set1_pd(c0[j]), x));                    \
    a1 = _mm512_add_pd(a1, _mm512_mul_pd(_mm512_set1_pd(c1[j]), x));                    \
    a2 = _mm512_add_pd(a2, _mm512_mul_pd(_mm512_set1_pd(c2[j]), x));                    \
    a3 = _mm512_add_pd(a3, _mm512_mul_pd(_mm512_set1_pd(c3[j]), x));
#define GMM_KM_TILE_DOTS(TI, tname)                                                     \
GMM_KM_TILE_DOTS_HEAD(TI, tname)                                                        \
{                                                                                       \
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;                        \
    const ptrdiff_t D8 = D / 8 * 8;                                                     \
    if (prefetch) gmm_km_prefetch_next(X, GMM_KM_TILE * D * sizeof(TI));                \
    for (ptrdiff_t d0 = 0; d0 < D8; d0 += 8) {                                          \
        __m512d r[8];                                                                   \
        for (int a = 0; a < 8; a++)                                                     \
            r[a] = GMM_KM_CENTRE8_##tname(X + a * D + d0, mc + d0);                     \
        gmm_transpose8_pd(r);                                                           \
        for (int a = 0; a < 8; a++) {                                                   \
            GMM_KM_ADD4(r[a], d0 + a)                                                   \
        }                                                                               \
    }                                                                                   \
    for (ptrdiff_t d = D8; d < D; d++) {                                                \
        const __m512d x = _mm512_set_pd(                                                \
            (double) (X[7 * D + d] - mc[d]), (double) (X[6 * D + d] - mc[d]),          \
            (double) (X[5 * D + d] - mc[d]), (double) (X[4 * D + d] - mc[d]),          \
            (double) (X[3 * D + d] - mc[d]), (double) (X[2 * D + d] - mc[d]),          \
            (double) (X[1 * D + d] - mc[d]), (double) (X[d] - mc[d]));                  \
        GMM_KM_ADD4(x, d)                                                               \
    }                                                                                   \
    _mm512_storeu_pd(acc[0], a0);                                                       \
    _mm512_storeu_pd(acc[1], a1);                                                       \
    _mm512_storeu_pd(acc[2], a2);                                                       \
    _mm512_storeu_pd(acc[3], a3);                                                       \
}
GMM_KM_TILE_DOTS(double, d)
GMM_KM_TILE_DOTS(float, f)
#elif GMM_TU_ISA == GMM_ISA_AVX2
/* The same with 4 x 4 blocks: a tile is two halves of 4 rows, a vector each */
#define GMM_KM_FUSED 1
#define GMM_KM_CENTRE4_d(x, m) _mm256_sub_pd(_mm256_loadu_pd(x), _mm256_loadu_pd(m))
#define GMM_KM_CENTRE4_f(x, m) _mm256_cvtps_pd(_mm_sub_ps(_mm_loadu_ps(x), _mm_loadu_ps(m)))
/* r[0..3] := the transpose of the 4 x 4 block whose rows are r[0..3] (moves only) */
GMM_INLINE void gmm_km_transpose4_pd(__m256d r[4])
{
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
#define GMM_KM_ADD4H(h, x, j)                                                           \
    a[0][h] = _mm256_add_pd(a[0][h], _mm256_mul_pd(_mm256_set1_pd(c0[j]), x));          \
    a[1][h] = _mm256_add_pd(a[1][h], _mm256_mul_pd(_mm256_set1_pd(c1[j]), x));          \
    a[2][h] = _mm256_add_pd(a[2][h], _mm256_mul_pd(_mm256_set1_pd(c2[j]), x));          \
    a[3][h] = _mm256_add_pd(a[3][h], _mm256_mul_pd(_mm256_set1_pd(c3[j]), x));
#define GMM_KM_TILE_DOTS(TI, tname)                                                     \
GMM_KM_TILE_DOTS_HEAD(TI, tname)                                                        \
{                                                                                       \
    __m256d a[GMM_KM_CANDS][2];                                                         \
    for (int c = 0; c < GMM_KM_CANDS; c++) a[c][0] = a[c][1] = _mm256_setzero_pd();     \
    const ptrdiff_t D4 = D / 4 * 4;                                                     \
    if (prefetch) gmm_km_prefetch_next(X, GMM_KM_TILE * D * sizeof(TI));                \
    for (ptrdiff_t d0 = 0; d0 < D4; d0 += 4) {                                          \
        __m256d lo[4], hi[4];                                                           \
        for (int b = 0; b < 4; b++) {                                                   \
            lo[b] = GMM_KM_CENTRE4_##tname(X + b * D + d0, mc + d0);                    \
            hi[b] = GMM_KM_CENTRE4_##tname(X + (b + 4) * D + d0, mc + d0);              \
        }                                                                               \
        gmm_km_transpose4_pd(lo);                                                       \
        gmm_km_transpose4_pd(hi);                                                       \
        for (int b = 0; b < 4; b++) {                                                   \
            GMM_KM_ADD4H(0, lo[b], d0 + b)                                              \
            GMM_KM_ADD4H(1, hi[b], d0 + b)                                              \
        }                                                                               \
    }                                                                                   \
    for (ptrdiff_t d = D4; d < D; d++) {                                                \
        const __m256d xl = _mm256_set_pd(                                               \
            (double) (X[3 * D + d] - mc[d]), (double) (X[2 * D + d] - mc[d]),          \
            (double) (X[1 * D + d] - mc[d]), (double) (X[d] - mc[d]));                  \
        const __m256d xh = _mm256_set_pd(                                               \
            (double) (X[7 * D + d] - mc[d]), (double) (X[6 * D + d] - mc[d]),          \
            (double) (X[5 * D + d] - mc[d]), (double) (X[4 * D + d] - mc[d]));          \
        GMM_KM_ADD4H(0, xl, d)                                                          \
        GMM_KM_ADD4H(1, xh, d)                                                          \
    }                                                                                   \
    for (int c = 0; c < GMM_KM_CANDS; c++) {                                            \
        _mm256_storeu_pd(acc[c], a[c][0]);                                              \
        _mm256_storeu_pd(acc[c] + 4, a[c][1]);                                          \
    }                                                                                   \
}
GMM_KM_TILE_DOTS(double, d)
GMM_KM_TILE_DOTS(float, f)
#else
#define GMM_KM_FUSED 0
#define gmm_km_tile_dots_d(X, D, mc, c0, c1, c2, c3, prefetch, acc) ((void) (c0))
#define gmm_km_tile_dots_f(X, D, mc, c0, c1, c2, c3, prefetch, acc) ((void) (c0))
#endif

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
        const int fused = GMM_KM_FUSED && R == GMM_KM_TILE;                             \
        if (!fused)                                                                     \
            for (ptrdiff_t r = 0; r < GMM_KM_TILE; r++)                                 \
                for (ptrdiff_t d = 0; d < D; d++)                                       \
                    xt[d * GMM_KM_TILE + r] =                                           \
                        r < R ? (double) (X[(i0 + r) * D + d] - mc[d]) : 0.0;           \
        for (ptrdiff_t t0 = 0; t0 < T; t0 += GMM_KM_CANDS) {                            \
            const ptrdiff_t nc = T - t0 < GMM_KM_CANDS ? T - t0 : GMM_KM_CANDS;         \
            double acc[GMM_KM_CANDS][GMM_KM_TILE];                                      \
            const double *c0 = cand + t0 * D;                                           \
            if (fused) {                                                                \
                gmm_km_tile_dots_##tname(                                               \
                    X + i0 * D, D, mc, c0, nc > 1 ? c0 + D : c0,                        \
                    nc > 2 ? c0 + 2 * D : c0, nc > 3 ? c0 + 3 * D : c0,                 \
                    t0 == 0, acc);                                              \
            } else if (nc == GMM_KM_CANDS) {                                            \
                const double *c1 = c0 + D, *c2 = c1 + D, *c3 = c2 + D;                  \
                for (ptrdiff_t c = 0; c < GMM_KM_CANDS; c++) {                          \
                    GMM_LANE_LOOP                                                       \
                    for (ptrdiff_t r = 0; r < GMM_KM_TILE; r++) acc[c][r] = 0.0;        \
                }                                                                       \
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
                    const double *cc = c0 + c * D;                                      \
                    GMM_LANE_LOOP                                                       \
                    for (ptrdiff_t r = 0; r < GMM_KM_TILE; r++) acc[c][r] = 0.0;        \
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
