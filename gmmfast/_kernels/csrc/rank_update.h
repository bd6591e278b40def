/* Symmetric rank updates: the weighted scatter S += sum_i r_i z_i z_i^T (lower
   triangle) of one component over a block, for 'full' about each mean and 'tied'.

   T = Z^T Z over the m rows of Z = sqrt(r) z (zero-padded columns), in register tiles
   of the lower triangle only, each entry summing the rows in order whatever the
   vector width, so every build gives the same bits. Two users:
   - float64 (gmm_rank_update_d): S += Z^T Z in double. OpenBLAS's dsyrk on these
     shapes (a few to a few hundred rows, D up to ~100) packed its operands on every
     call and took a 32 MB buffer per thread.
   - float32 data about each mean (gmm_full32_scatter): the products in float32, about
     the block's own centre, shifted back to the mean in double:

   Scatter, for component k with weighted responsibilities r_i (Rk, n, component-major):

     N_k += sum r,   S1k += sum_i r_i (x_i - mu),
     S2k[a,b] += sum_i r_i (x_i - mu)_a (x_i - mu)_b      (lower triangle, b <= a)

   Summed in float32 about mu (the mean before the M-step), a block's products lose
   digits to the distance of its rows' mean from mu: a component whose mean moves by
   several of its standard deviations in an iteration (early iterations, tight
   components) kept ~1e-4 in its covariance, 15 times scikit-learn's float32 error
   (D = 41). So the block's rows are centred on their own weighted mean, rounded to
   float32 (cf = float32(sum r x / sum r), sums in double): z = x - cf and the products
   r z z^T in float32 then have no cancellation to lose digits to, and their sum T over
   the block enters S2k in double with the exact shift back to mu (Chan, Golub and
   LeVeque's pairwise update), d = cf - mu and e = sum r (x - cf) in double. mu is the
   mean in double, the shift the statistics are reported about: about its float32
   rounding, every new mean would be off by that rounding (~5e-4 at an offset of 1e4).

     S2k += T + e d^T + d e^T + (sum r) d d^T

   The error is float32's rounding of centred products summed over one block, below
   scikit-learn's float32 (one sgemm over all rows). T = Z^T Z over the m rows with
   r != 0 (Z = sqrt(r) z, m x Dp, Dp = D rounded up to 16, zero-padded), in tiles of
   4 x 16 of T (4 x 8 where the right half lies above the diagonal or beyond D), the
   lower triangle only, each entry summing the rows in order. With fewer than
   GMM_FULL32_MIN_ROWS rows (tight, far-apart components: digits has ~1.6 a component
   a block) the products go straight into S2k in double about mu.
*/
#ifndef GMMFAST_RANK_UPDATE_H
#define GMMFAST_RANK_UPDATE_H

#include <math.h>
#include "vmath.h"

#define GMM_FULL32_MIN_ROWS 8

GMM_INLINE ptrdiff_t gmm_full32_dp(ptrdiff_t D) { return (D + 15) / 16 * 16; }

/* ------------------------------------------------------------------ shared parts */

/* sx = sum_i r_i x_i (D doubles), four partial sums per feature (rows i mod 4, each in
   row order) added at the end: the baseline build's. The AVX2 build keeps the sums in
   registers: summed in memory, each row would wait for the previous row's stores. */
/* Z = sqrt(r) (x - cf) over the rows with r != 0 (m x Dp, zero-padded); returns m.
   cf: D floats, then n floats of scratch (the square roots). Plain C, for the baseline
   and the NEON builds (the x86 vector builds have their own, below). */
#if GMM_MAIN_TU || GMM_TU_ISA == GMM_ISA_NEON
static ptrdiff_t gmm_full32_zrows_base(const float *X, ptrdiff_t n, ptrdiff_t D,
                                       const double *Rk, const float *cf, float *Z)
{
    const ptrdiff_t Dp = gmm_full32_dp(D);
    ptrdiff_t m = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const double r = Rk[i];
        if (r == 0.0) continue;
        const float *x = X + i * D;
        const float s = (float) sqrt(r);
        float *z = Z + m * Dp;
        for (ptrdiff_t a = 0; a < D; a++) z[a] = s * (x[a] - cf[a]);
        for (ptrdiff_t a = D; a < Dp; a++) z[a] = 0.0f;
        m++;
    }
    return m;
}

static void gmm_full32_wsum_base(const float *X, ptrdiff_t n, ptrdiff_t D,
                                 const double *Rk, double *sx)
{
    for (ptrdiff_t a = 0; a < D; a++) {   /* all rows (r = 0 adds 0) */
        double p[4] = {0.0, 0.0, 0.0, 0.0};
        for (ptrdiff_t i = 0; i < n; i++) p[i & 3] += Rk[i] * (double) X[i * D + a];
        sx[a] = (p[0] + p[1]) + (p[2] + p[3]);
    }
}
#endif

/* The scatter's rows of component k. Adds nb = sum r to *Nk and sum r (x - mu) to S1k;
   returns the number m of rows with r != 0. With m >= GMM_FULL32_MIN_ROWS it writes
   Z (m x Dp) and sc = [d | e] (2 D doubles) for gmm_full32_scatter_add; below it adds
   the rows' products to S2k itself and Z is not written. sx (D doubles), cf (Dp + n floats)
   scratch; wsum computes sx. */
#define GMM_FULL32_SCATTER_ROWS(wsum, zrows)                                              \
    gmm_full32_scatter_rows(X, n, D, mu, Rk, Nk, S1k, S2k, &nb, Z, cf, sc + 2 * D, sc,     \
                            wsum, zrows)
GMM_INLINE ptrdiff_t gmm_full32_scatter_rows(const float *X, ptrdiff_t n, ptrdiff_t D,
                                             const double *mu, const double *Rk, double *Nk,
                                             double *S1k, double *S2k, double *nb_out,
                                             float *Z, float *cf, double *sx, double *sc,
                                             void (*wsum)(const float *, ptrdiff_t,
                                                          ptrdiff_t, const double *,
                                                          double *),
                                             ptrdiff_t (*zrows)(const float *, ptrdiff_t,
                                                                ptrdiff_t, const double *,
                                                                const float *, float *))
{
    ptrdiff_t m = 0;
    for (ptrdiff_t i = 0; i < n; i++) m += Rk[i] != 0.0;
    const double nb = gmm_sum(Rk, n);
    *Nk += nb;
    *nb_out = nb;
    if (m == 0) return 0;
    /* a few rows: straight into S1k and S2k, about mu, in double from the float32 rows
       (common.pxi's _scatter_lower_rows takes rows already centred in double) */
    if (m < GMM_FULL32_MIN_ROWS) {
        for (ptrdiff_t i = 0; i < n; i++) {
            const double r = Rk[i];
            if (r == 0.0) continue;
            const float *x = X + i * D;
            for (ptrdiff_t a = 0; a < D; a++) {
                const double za = (double) x[a] - mu[a], rza = r * za;
                double *s2 = S2k + a * D;
                S1k[a] += rza;
                for (ptrdiff_t b = 0; b <= a; b++) s2[b] += rza * ((double) x[b] - mu[b]);
            }
        }
        return m;
    }
    wsum(X, n, D, Rk, sx);
    for (ptrdiff_t a = 0; a < D; a++) {
        cf[a] = (float) (sx[a] / nb);
        sc[a] = (double) cf[a] - mu[a];                       /* d */
        sc[D + a] = sx[a] - nb * (double) cf[a];             /* e */
        S1k[a] += sx[a] - nb * mu[a];
    }
    return zrows(X, n, D, Rk, cf, Z);
}

/* S2k += T + e d^T + d e^T + nb d d^T, the lower triangle; sc = [d | e]. */
GMM_INLINE void gmm_full32_scatter_add(const float *T, ptrdiff_t D, double nb,
                                       const double *sc, double *S2k)
{
    const ptrdiff_t Dp = gmm_full32_dp(D);
    const double *d = sc, *e = sc + D;
    for (ptrdiff_t a = 0; a < D; a++) {
        const double ua = nb * d[a] + e[a], da = d[a];
        double *s2 = S2k + a * D;
        const float *t = T + a * Dp;
        for (ptrdiff_t b = 0; b <= a; b++) s2[b] += (double) t[b] + (ua * d[b] + da * e[b]);
    }
}

/* ------------------------------------------------------------------ baseline */

/* T (lower triangle, row stride ld) = Z^T Z over the m rows of Z (m x ld, zero-padded
   columns): the products of both scatters, float32 and float64, each entry summing the
   rows in order. The baseline build's; the vector builds (GMM_RANK_TILES_SIMD) compute
   the same sums in tiles. */
#define GMM_RANK_TILES_BASE(name, T)                                                    \
static void name(const T *Z, ptrdiff_t m, ptrdiff_t D, ptrdiff_t ld, T *Tt)            \
{                                                                                       \
    /* 4 rows of T at a time, accumulated in place over the rows of Z, the innermost   \
       loop along a row of T (contiguous in Z and T: the compiler vectorises it) */    \
    for (ptrdiff_t a0 = 0; a0 < D; a0 += 4) {                                           \
        const ptrdiff_t na = D - a0 < 4 ? D - a0 : 4;                                   \
        for (ptrdiff_t r = 0; r < na; r++)                                              \
            for (ptrdiff_t b = 0; b <= a0 + r; b++) Tt[(a0 + r) * ld + b] = (T) 0;      \
        for (ptrdiff_t i = 0; i < m; i++) {                                             \
            const T *z = Z + i * ld;                                                    \
            for (ptrdiff_t r = 0; r < na; r++) {                                        \
                const T za = z[a0 + r];                                                 \
                T *t = Tt + (a0 + r) * ld;                                              \
                for (ptrdiff_t b = 0; b <= a0 + r; b++) t[b] += za * z[b];              \
            }                                                                           \
        }                                                                               \
    }                                                                                   \
}
#if GMM_MAIN_TU
GMM_RANK_TILES_BASE(gmm_rank_tiles_f_base, float)
GMM_RANK_TILES_BASE(gmm_rank_tiles_d_base, double)
#endif

/* One build's scatter of component k: its rows (wsum, zrows), T = Z^T Z in that
   build's tiles, then the shift back to mu (gmm_full32_scatter_add). */
#define GMM_FULL32_SCATTER_FUNC(name, linkage, wsum, zrows, tiles)                      \
linkage void name(const float *X, ptrdiff_t n, ptrdiff_t D, const double *mu,       \
                      const double *Rk, double *Nk, double *S1k, double *S2k, float *Z, \
                      float *T, float *cf, double *sc)                                  \
{                                                                                       \
    const ptrdiff_t Dp = gmm_full32_dp(D);                                              \
    double nb;                                                                          \
    const ptrdiff_t m = GMM_FULL32_SCATTER_ROWS(wsum, zrows);                           \
    if (m < GMM_FULL32_MIN_ROWS) return;                                                \
    tiles(Z, m, D, Dp, T);                                                              \
    gmm_full32_scatter_add(T, D, nb, sc, S2k);                                          \
}
#if GMM_MAIN_TU
GMM_FULL32_SCATTER_FUNC(gmm_full32_scatter_base, static, gmm_full32_wsum_base,
                        gmm_full32_zrows_base, gmm_rank_tiles_f_base)
#endif

/* S (D x D, lower triangle) += Z^T Z, Z (m x ldz, ldz = gmm_full_ld8(D), zero-padded
   columns): the symmetric rank-m update of the float64 scatter. Tiles of 4 x 8 of T
   (4 x 4 where the right half lies above the diagonal or beyond D), each entry summing
   the rows in order; T (ldz x ldz) scratch, then added into S. */
GMM_INLINE ptrdiff_t gmm_full_ld8(ptrdiff_t D) { return (D + 7) / 8 * 8; }

GMM_INLINE void gmm_rank_update_add(const double *T, ptrdiff_t D, double *S)
{
    const ptrdiff_t ldz = gmm_full_ld8(D);
    for (ptrdiff_t a = 0; a < D; a++)
        for (ptrdiff_t b = 0; b <= a; b++) S[a * D + b] += T[a * ldz + b];
}

typedef void gmm_rank_update_d_fn(const double *, ptrdiff_t, ptrdiff_t, double *, double *);
typedef void gmm_full32_scatter_fn(const float *, ptrdiff_t, ptrdiff_t, const double *,
                                   const double *, double *, double *, double *, float *,
                                   float *, float *, double *);

#if GMM_MAIN_TU
static void gmm_rank_update_d_base(const double *Z, ptrdiff_t m, ptrdiff_t D, double *S,
                                   double *T)
{
    gmm_rank_tiles_d_base(Z, m, D, gmm_full_ld8(D), T);
    gmm_rank_update_add(T, D, S);
}

GMM_DISPATCH(gmm_rank_update_d_fn, gmm_rank_update_d)
GMM_DISPATCH(gmm_full32_scatter_fn, gmm_full32_scatter)
#endif

/* ------------------------------------------------------------------ AVX2 + FMA */

#if GMM_TU_X86
/* gmm_full32_wsum with the sums in registers: 4 features x 4 row phases a strip. The
   AVX-512 build takes these AVX2 row sums and centred rows. */
static void gmm_full32_wsum_avx2(const float *X, ptrdiff_t n, ptrdiff_t D,
                                 const double *Rk, double *sx)
{
    ptrdiff_t a0 = 0;
    for (; a0 + 4 <= D; a0 += 4) {
        __m256d p[4];
        p[0] = p[1] = p[2] = p[3] = _mm256_setzero_pd();
        const float *x = X + a0;
        ptrdiff_t i = 0;
        for (; i + 4 <= n; i += 4, x += 4 * D) {
            p[0] = _mm256_fmadd_pd(_mm256_broadcast_sd(Rk + i), _mm256_cvtps_pd(_mm_loadu_ps(x)), p[0]);
            p[1] = _mm256_fmadd_pd(_mm256_broadcast_sd(Rk + i + 1), _mm256_cvtps_pd(_mm_loadu_ps(x + D)), p[1]);
            p[2] = _mm256_fmadd_pd(_mm256_broadcast_sd(Rk + i + 2), _mm256_cvtps_pd(_mm_loadu_ps(x + 2 * D)), p[2]);
            p[3] = _mm256_fmadd_pd(_mm256_broadcast_sd(Rk + i + 3), _mm256_cvtps_pd(_mm_loadu_ps(x + 3 * D)), p[3]);
        }
        for (; i < n; i++, x += D)
            p[i & 3] = _mm256_fmadd_pd(_mm256_broadcast_sd(Rk + i), _mm256_cvtps_pd(_mm_loadu_ps(x)), p[i & 3]);
        _mm256_storeu_pd(sx + a0, _mm256_add_pd(_mm256_add_pd(p[0], p[1]), _mm256_add_pd(p[2], p[3])));
    }
    for (; a0 < D; a0++) {
        double p[4] = {0.0, 0.0, 0.0, 0.0};
        for (ptrdiff_t i = 0; i < n; i++) p[i & 3] = fma(Rk[i], (double) X[i * D + a0], p[i & 3]);
        sx[a0] = (p[0] + p[1]) + (p[2] + p[3]);
    }
}

/* gmm_full32_zrows, 8 features at a time (the same operations: one subtraction and one
   product in float32 per entry). */
static ptrdiff_t gmm_full32_zrows_avx2(const float *X, ptrdiff_t n, ptrdiff_t D,
                                       const double *Rk, const float *cf, float *Z)
{
    const ptrdiff_t Dp = gmm_full32_dp(D), D8 = D / 8 * 8;
    float *sr = (float *) cf + gmm_full32_dp(D);   /* the rows' square roots, 4 at a time */
    ptrdiff_t m = 0, i4 = 0;
    for (; i4 + 4 <= n; i4 += 4)
        _mm_storeu_ps(sr + i4, _mm256_cvtpd_ps(_mm256_sqrt_pd(_mm256_loadu_pd(Rk + i4))));
    for (; i4 < n; i4++) sr[i4] = (float) sqrt(Rk[i4]);
    for (ptrdiff_t i = 0; i < n; i++) {
        const double r = Rk[i];
        if (r == 0.0) continue;
        const float *x = X + i * D;
        const float s = sr[i];
        const __m256 sv = _mm256_set1_ps(s);
        float *z = Z + m * Dp;
        ptrdiff_t a = 0;
        for (; a < D8; a += 8)
            _mm256_storeu_ps(z + a, _mm256_mul_ps(sv, _mm256_sub_ps(_mm256_loadu_ps(x + a),
                                                                    _mm256_loadu_ps(cf + a))));
        for (; a < D; a++) z[a] = s * (x[a] - cf[a]);
        for (; a < Dp; a++) z[a] = 0.0f;
        m++;
    }
    return m;
}
#endif

/* GMM_RANK_TILES_BASE in tiles of 4 rows x 2 W columns of T (8 accumulators of W
   lanes: W = 8 floats or 4 doubles with AVX2, 16 or 8 with AVX-512, 4 or 2 with NEON;
   B is the intrinsics' width, 256 or 512, or neon: isa.h's shims), the lower triangle
   only; a tile whose right half lies above the diagonal or beyond D is done as 4 x W. Each entry sums the rows in
   order, whatever W: the builds agree to the bit. ld is a multiple of W: a 4 x 2W tile
   is taken where j0 + W < D, so j0 + 2W <= ld. */
#define GMM_RANK_TILES_SIMD(name, T, V, W, B, ps)                                       \
static void name(const T *Z, ptrdiff_t m, ptrdiff_t D, ptrdiff_t ld, T *Tt)            \
{                                                                                       \
    for (ptrdiff_t a0 = 0; a0 < D; a0 += 4) {                                           \
        for (ptrdiff_t j0 = 0; j0 <= a0 + 3 && j0 < D; j0 += 2 * W) {                   \
            const T *zi = Z;                                                            \
            T *t = Tt + a0 * ld + j0;                                                   \
            if (j0 + W > a0 + 3 || j0 + W >= D) {   /* 4 x W */                         \
                V c0 = _mm##B##_setzero_##ps(), c1 = c0, c2 = c0, c3 = c0;              \
                for (ptrdiff_t i = 0; i < m; i++, zi += ld) {                           \
                    const V u = _mm##B##_loadu_##ps(zi + j0);                           \
                    c0 = _mm##B##_fmadd_##ps(_mm##B##_set1_##ps(zi[a0]), u, c0);        \
                    c1 = _mm##B##_fmadd_##ps(_mm##B##_set1_##ps(zi[a0 + 1]), u, c1);    \
                    c2 = _mm##B##_fmadd_##ps(_mm##B##_set1_##ps(zi[a0 + 2]), u, c2);    \
                    c3 = _mm##B##_fmadd_##ps(_mm##B##_set1_##ps(zi[a0 + 3]), u, c3);    \
                }                                                                       \
                _mm##B##_storeu_##ps(t, c0);                                            \
                _mm##B##_storeu_##ps(t + ld, c1);                                       \
                _mm##B##_storeu_##ps(t + 2 * ld, c2);                                   \
                _mm##B##_storeu_##ps(t + 3 * ld, c3);                                   \
                continue;                                                               \
            }                                                                           \
            V c00 = _mm##B##_setzero_##ps(), c01 = c00, c10 = c00, c11 = c00;           \
            V c20 = c00, c21 = c00, c30 = c00, c31 = c00;                               \
            for (ptrdiff_t i = 0; i < m; i++, zi += ld) {                               \
                const V u0 = _mm##B##_loadu_##ps(zi + j0);                              \
                const V u1 = _mm##B##_loadu_##ps(zi + j0 + W);                          \
                V zr = _mm##B##_set1_##ps(zi[a0]);                                      \
                c00 = _mm##B##_fmadd_##ps(zr, u0, c00); c01 = _mm##B##_fmadd_##ps(zr, u1, c01); \
                zr = _mm##B##_set1_##ps(zi[a0 + 1]);                                    \
                c10 = _mm##B##_fmadd_##ps(zr, u0, c10); c11 = _mm##B##_fmadd_##ps(zr, u1, c11); \
                zr = _mm##B##_set1_##ps(zi[a0 + 2]);                                    \
                c20 = _mm##B##_fmadd_##ps(zr, u0, c20); c21 = _mm##B##_fmadd_##ps(zr, u1, c21); \
                zr = _mm##B##_set1_##ps(zi[a0 + 3]);                                    \
                c30 = _mm##B##_fmadd_##ps(zr, u0, c30); c31 = _mm##B##_fmadd_##ps(zr, u1, c31); \
            }                                                                           \
            _mm##B##_storeu_##ps(t, c00); _mm##B##_storeu_##ps(t + W, c01);             \
            t += ld;                                                                    \
            _mm##B##_storeu_##ps(t, c10); _mm##B##_storeu_##ps(t + W, c11);             \
            t += ld;                                                                    \
            _mm##B##_storeu_##ps(t, c20); _mm##B##_storeu_##ps(t + W, c21);             \
            t += ld;                                                                    \
            _mm##B##_storeu_##ps(t, c30); _mm##B##_storeu_##ps(t + W, c31);             \
        }                                                                               \
    }                                                                                   \
}
/* The tiles of this unit's vectors: W = 8 floats or 4 doubles with AVX2, 16 or 8 with
   AVX-512, 4 or 2 with NEON. */
#if GMM_TU_ISA == GMM_ISA_AVX2
GMM_RANK_TILES_SIMD(gmm_rank_tiles_f_avx2, float, __m256, 8, 256, ps)
GMM_RANK_TILES_SIMD(gmm_rank_tiles_d_avx2, double, __m256d, 4, 256, pd)
#elif GMM_TU_ISA == GMM_ISA_AVX512
GMM_RANK_TILES_SIMD(gmm_rank_tiles_f_avx512, float, __m512, 16, 512, ps)
GMM_RANK_TILES_SIMD(gmm_rank_tiles_d_avx512, double, __m512d, 8, 512, pd)
#elif GMM_TU_ISA == GMM_ISA_NEON
GMM_RANK_TILES_SIMD(gmm_rank_tiles_f_neon, float, gmm_v4f, 4, neon, ps)
GMM_RANK_TILES_SIMD(gmm_rank_tiles_d_neon, double, gmm_v2d, 2, neon, pd)
#endif

#if !GMM_MAIN_TU
/* x86: the AVX2 row sums and centred rows in both builds; NEON: the plain C ones */
#if GMM_TU_X86
GMM_FULL32_SCATTER_FUNC(GMM_NAME(gmm_full32_scatter), GMM_KERNEL, gmm_full32_wsum_avx2,
                        gmm_full32_zrows_avx2, GMM_NAME(gmm_rank_tiles_f))
#else
GMM_FULL32_SCATTER_FUNC(GMM_NAME(gmm_full32_scatter), GMM_KERNEL, gmm_full32_wsum_base,
                        gmm_full32_zrows_base, GMM_NAME(gmm_rank_tiles_f))
#endif

GMM_KERNEL void GMM_NAME(gmm_rank_update_d)(const double *Z, ptrdiff_t m, ptrdiff_t D,
                                            double *S, double *T)
{
    GMM_NAME(gmm_rank_tiles_d)(Z, m, D, gmm_full_ld8(D), T);
    gmm_rank_update_add(T, D, S);
}
#endif

/* ------------------------------------------------------------------ float64 rows */

/* The float64 scatter's rows of component k (route_full_means.pxi), over the rows i
   of a block whose weighted responsibility r_i = R[i rs] is not exactly 0 (the others
   add exactly nothing; with well-separated components most are 0), in order:
   z = x_i - mu, S1 += r_i z, Z[m] = sqrt(r_i) z zero-padded to ld columns; returns m.
   A product then a sum, never fused (GMM_EXACT): the Cython loop it replaces, bit for
   bit, in every build, now vectorised over the features. */
#define GMM_MEANS_ROWS(suffix, linkage)                                                 \
GMM_EXACT_ATTR linkage ptrdiff_t gmm_means_rows_d_##suffix(                             \
    const double *X, ptrdiff_t n, ptrdiff_t D, const double *mu, const double *R,       \
    ptrdiff_t rs, double *S1, double *Z, ptrdiff_t ld)                                  \
{                                                                                       \
    GMM_EXACT_BODY                                                                      \
    ptrdiff_t m = 0;                                                                    \
    for (ptrdiff_t i = 0; i < n; i++) {                                                 \
        const double r = R[i * rs];                                                     \
        if (r == 0.0)                                                                   \
            continue;                                                                   \
        const double s = sqrt(r);                                                       \
        const double *x = X + i * D;                                                    \
        double *z = Z + m * ld;                                                         \
        for (ptrdiff_t a = 0; a < D; a++) {                                             \
            const double za = x[a] - mu[a];                                             \
            S1[a] += r * za;                                                            \
            z[a] = s * za;                                                              \
        }                                                                               \
        for (ptrdiff_t a = D; a < ld; a++) z[a] = 0.0;                                  \
        m++;                                                                            \
    }                                                                                   \
    return m;                                                                           \
}

#if GMM_TU_X86
/* The x86 vector builds: a vector of W columns at a time (masked past D, so that the
   padding columns of Z come out 0), its S1 held in a register across the rows: in
   memory, each row's sum waited for the previous row's store (slower than the Cython
   loop it replaced). The same operations per element in the same order. */
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_MR_W 8
#define GMM_MR_V __m512d
#define GMM_MR_MASK(nv) ((__mmask8) ((1u << (nv)) - 1u))
#define GMM_MR_MTYPE __mmask8
#define GMM_MR_LOAD(p, k) _mm512_maskz_loadu_pd(k, p)
#define GMM_MR_STORE(p, k, v) _mm512_mask_storeu_pd(p, k, v)
#define GMM_MR_OP(op) _mm512_##op##_pd
#else
#define GMM_MR_W 4
#define GMM_MR_V __m256d
#define GMM_MR_MASK(nv) _mm256_cmpgt_epi64(_mm256_set1_epi64x(nv), _mm256_setr_epi64x(0, 1, 2, 3))
#define GMM_MR_MTYPE __m256i
#define GMM_MR_LOAD(p, k) _mm256_maskload_pd(p, k)
#define GMM_MR_STORE(p, k, v) _mm256_maskstore_pd(p, k, v)
#define GMM_MR_OP(op) _mm256_##op##_pd
#endif
GMM_EXACT_ATTR GMM_KERNEL ptrdiff_t GMM_NAME(gmm_means_rows_d)(
    const double *X, ptrdiff_t n, ptrdiff_t D, const double *mu, const double *R,
    ptrdiff_t rs, double *S1, double *Z, ptrdiff_t ld)
{
    GMM_EXACT_BODY
    ptrdiff_t m = 0;
    for (ptrdiff_t a0 = 0; a0 < ld; a0 += GMM_MR_W) {
        const ptrdiff_t live = D - a0 < 0 ? 0 : (D - a0 < GMM_MR_W ? D - a0 : GMM_MR_W);
        const GMM_MR_MTYPE k = GMM_MR_MASK(live);
        const GMM_MR_V mv = GMM_MR_LOAD(mu + a0, k);
        GMM_MR_V acc = GMM_MR_LOAD(S1 + a0, k);
        m = 0;
        for (ptrdiff_t i = 0; i < n; i++) {
            const double r = R[i * rs];
            if (r == 0.0)
                continue;
            const GMM_MR_V za = GMM_MR_OP(sub)(GMM_MR_LOAD(X + i * D + a0, k), mv);
            acc = GMM_MR_OP(add)(acc, GMM_MR_OP(mul)(GMM_MR_OP(set1)(r), za));
            GMM_MR_OP(storeu)(Z + m * ld + a0, GMM_MR_OP(mul)(GMM_MR_OP(set1)(sqrt(r)), za));
            m++;
        }
        GMM_MR_STORE(S1 + a0, k, acc);
    }
    return m;
}
#else
GMM_INSTANTIATE(GMM_MEANS_ROWS)
#endif

typedef ptrdiff_t gmm_means_rows_fn(const double *, ptrdiff_t, ptrdiff_t, const double *,
                                    const double *, ptrdiff_t, double *, double *,
                                    ptrdiff_t);

#if GMM_MAIN_TU
GMM_DISPATCH(gmm_means_rows_fn, gmm_means_rows_d)

static void gmm_rank_update_select(void)
{
    GMM_SELECT(gmm_means_rows_d, gmm_means_rows_d);
    GMM_SELECT(gmm_rank_update_d, gmm_rank_update_d);
    GMM_SELECT(gmm_full32_scatter, gmm_full32_scatter);
}
#endif

#endif
