/* The row pass's work one row a lane (gmmfast/_missing_rows.pyx, included by
   missing_lanes.h, whose builds instantiate it): float32 data's quadratic forms over a
   block's rows (gmm_lanes32_q) and a component's scatter in float32 products
   (gmm_rows32_center, gmm_rank32), as the complete float32 rows take theirs; the rows'
   deltas for the statistics (gmm_rows_delta) and the block transposed for the
   quadratic forms (gmm_rows_transpose). missing_lanes.h holds the other side, the
   m x m blocks across the components. */
#ifndef GMMFAST_MISSING_ROWS32_H
#define GMMFAST_MISSING_ROWS32_H

#include "isa.h"
/* the float32 products' tile (gmm_lanes32_q), shared with the complete rows' */
#include "tri_tile.h"

/* float32 data ('full', from 16 features on): a component's quadratic forms over a
   block's rows in float32 products, one row a lane, as the complete float32 rows take
   theirs (triangular.h's gmm_full32_lp), where the double form takes them by BLAS.
   A group of GMM_MY rows (two vector registers a sum) at a time; the group's size
   changes no result, each lane's operations being those of its row alone, with one
   fused multiply-add a product in every build (fmaf in the baseline's). */
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_MY 32
#elif GMM_TU_ISA == GMM_ISA_AVX2
#define GMM_MY 16
#else
#define GMM_MY 8
#endif
/* the largest group of any build: the callers' row counts (ldx) are multiples of it */
#define GMM_MY_MAX 32

/* The triangular product of a group, on 4 columns of y at a time: plain C for the
   baseline, intrinsics for the vector builds (B: isa.h's _mm<B>_ prefix, V its float
   vector type, W its floats a vector, GMM_MY = 2 W). */
#define GMM_Y4_BASE(Z, Up, D4, j0, lend, Y)                                             \
    GMM_TRI_TILE_BASE(float, fmaf, GMM_MY, Z, (Up) + (j0), D4, lend,                    \
                      (Y) + (j0) * GMM_MY, GMM_MY)
#define GMM_Y4_SIMD(V, B, W, Z, Up, D4, j0, lend, Y)                                    \
    {                                                                                   \
        GMM_TRI32_TILE(V, B, W, Z, GMM_MY, (Up) + (j0), D4, lend)                       \
        float *y_ = (Y) + (j0) * GMM_MY;                                                \
        GMM_TRI_TILE_STORE(B, W, ps, y_, GMM_MY)                                        \
    }
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_Y4(...) GMM_Y4_SIMD(__m512, 512, 16, __VA_ARGS__)
#elif GMM_TU_ISA == GMM_ISA_AVX2
#define GMM_Y4(...) GMM_Y4_SIMD(__m256, 256, 8, __VA_ARGS__)
#elif GMM_TU_ISA == GMM_ISA_NEON
#define GMM_Y4(...) GMM_Y4_SIMD(gmm_v4f, neon, 4, __VA_ARGS__)
#else
#define GMM_Y4 GMM_Y4_BASE
#endif

/* A group's q (s[r], GMM_MY doubles) = sum_j y_j^2 over the columns in order, each
   float's square exact in double. The x86 vector builds add each tile's four columns
   as they leave its registers (a float's square is exact in double, so the fused
   multiply-add is the baseline's product and sum); the baseline and NEON store y (Y)
   and sum it after. The columns of the last tile beyond D are 0 (U's padding): they
   add 0. */
#define GMM_Q32_STORED(Z, Up, D, D4, Y, s)                                              \
    {                                                                                   \
        /* y, four columns at a time, over the rows of U down to their last column's */ \
        for (ptrdiff_t j0 = 0; j0 < (D4); j0 += 4) {                                    \
            const ptrdiff_t lend = j0 + 4 < (D) ? j0 + 4 : (D);                         \
            GMM_Y4(Z, Up, D4, j0, lend, Y)                                              \
        }                                                                               \
        for (int r = 0; r < GMM_MY; r++) s[r] = 0.0;                                    \
        for (ptrdiff_t j = 0; j < (D); j++) {                                           \
            const float *y = (Y) + j * GMM_MY;                                          \
            GMM_LANE_LOOP                                                               \
            for (int r = 0; r < GMM_MY; r++) s[r] = s[r] + (double) y[r] * (double) y[r]; \
        }                                                                               \
    }
#if GMM_TU_ISA == GMM_ISA_AVX512
/* double vectors of 8 rows; a tile's float vectors hold 16 (a: rows 0-15, b: 16-31) */
#define GMM_Q32_VD __m512d
#define GMM_Q32_PD(op) _mm512_##op##_pd
#define GMM_Q32_LO(a) _mm512_cvtps_pd(_mm512_castps512_ps256(a))
#define GMM_Q32_HI(a)                                                                   \
    _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)))
#define GMM_Q32_TILE(Z, U, D4, lend) GMM_TRI32_TILE(__m512, 512, 16, Z, GMM_MY, U, D4, lend)
#define GMM_Q32_N 8
#elif GMM_TU_ISA == GMM_ISA_AVX2
/* double vectors of 4 rows; a tile's float vectors hold 8 (a: rows 0-7, b: 8-15) */
#define GMM_Q32_VD __m256d
#define GMM_Q32_PD(op) _mm256_##op##_pd
#define GMM_Q32_LO(a) _mm256_cvtps_pd(_mm256_castps256_ps128(a))
#define GMM_Q32_HI(a) _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1))
#define GMM_Q32_TILE(Z, U, D4, lend) GMM_TRI32_TILE(__m256, 256, 8, Z, GMM_MY, U, D4, lend)
#define GMM_Q32_N 4
#endif
#ifdef GMM_Q32_VD
/* s0..s3 (the group's rows in order) += the squares of a tile's column (a, b) */
#define GMM_Q32_ADD(a, b)                                                               \
    {                                                                                   \
        GMM_Q32_VD t_ = GMM_Q32_LO(a);                                                  \
        s0 = GMM_Q32_PD(fmadd)(t_, t_, s0);                                             \
        t_ = GMM_Q32_HI(a);                                                             \
        s1 = GMM_Q32_PD(fmadd)(t_, t_, s1);                                             \
        t_ = GMM_Q32_LO(b);                                                             \
        s2 = GMM_Q32_PD(fmadd)(t_, t_, s2);                                             \
        t_ = GMM_Q32_HI(b);                                                             \
        s3 = GMM_Q32_PD(fmadd)(t_, t_, s3);                                             \
    }
#define GMM_Q32(Z, Up, D, D4, Y, s)                                                     \
    {                                                                                   \
        GMM_Q32_VD s0 = GMM_Q32_PD(setzero)(), s1 = s0, s2 = s0, s3 = s0;               \
        for (ptrdiff_t j0 = 0; j0 < (D4); j0 += 4) {                                    \
            const ptrdiff_t lend = j0 + 4 < (D) ? j0 + 4 : (D);                         \
            GMM_Q32_TILE(Z, (Up) + j0, D4, lend)                                        \
            GMM_Q32_ADD(a0, b0) GMM_Q32_ADD(a1, b1)                                     \
            GMM_Q32_ADD(a2, b2) GMM_Q32_ADD(a3, b3)                                     \
        }                                                                               \
        GMM_Q32_PD(storeu)(s, s0); GMM_Q32_PD(storeu)(s + GMM_Q32_N, s1);               \
        GMM_Q32_PD(storeu)(s + 2 * GMM_Q32_N, s2);                                      \
        GMM_Q32_PD(storeu)(s + 3 * GMM_Q32_N, s3);                                      \
    }
#else
#define GMM_Q32 GMM_Q32_STORED
#endif

#define GMM_LANES32_Q(suffix, linkage)                                                 \
/* One component over a block's rows, transposed (Xt: D x ldx doubles, ldx a multiple \
   of GMM_MY_MAX, NaN where a row's feature is missing and in columns n..ldx): z = x - \
   mu rounded to float32 where x is observed (the centring in double), 0 where it is  \
   missing (+0; a -0 would give the same sums, which start from +0), y = z U in       \
   float32 products (Up: D4 x D4, U's upper triangle, zeros elsewhere; D4 = D rounded \
   up to 4), q[i] = ||y_i||^2 in double (a float's square is exact in double). Z, Y:  \
   D4 x GMM_MY_MAX floats of scratch. */                                               \
linkage void gmm_lanes32_q_##suffix(                                                    \
    const double *Xt, ptrdiff_t ldx, ptrdiff_t n, ptrdiff_t D,                          \
    const double *mu, const float *Up, double *q, float *Z, float *Y)                   \
{                                                                                       \
    const ptrdiff_t D4 = (D + 3) / 4 * 4;                                               \
    for (ptrdiff_t i0 = 0; i0 < n; i0 += GMM_MY) {                                      \
        for (ptrdiff_t l = 0; l < D4; l++) {                                            \
            float *z = Z + l * GMM_MY;                                                  \
            if (l >= D) {                                                               \
                for (int r = 0; r < GMM_MY; r++) z[r] = 0.0f;                           \
                continue;                                                               \
            }                                                                           \
            const double *x = Xt + l * ldx + i0;                                        \
            const double ml = mu[l];                                                    \
            GMM_LANE_LOOP                                                               \
            for (int r = 0; r < GMM_MY; r++)                                            \
                z[r] = x[r] == x[r] ? (float) (x[r] - ml) : 0.0f;                       \
        }                                                                               \
        double s[GMM_MY];                                                               \
        GMM_Q32(Z, Up, D, D4, Y, s)                                                     \
        const ptrdiff_t nr = n - i0 < GMM_MY ? n - i0 : GMM_MY;                         \
        for (ptrdiff_t r = 0; r < nr; r++) q[i0 + r] = s[r];                            \
    }                                                                                   \
}

/* gmm_rank32's tile width (floats): two vector registers a sum in the vector builds */
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_R32_W 32
#else
#define GMM_R32_W 16
#endif
/* the callers' row stride: a multiple of every build's tile */
#define GMM_R32_LD 32
/* rows of a float32 sum of gmm_rank32, before it is added in double */
#define GMM_R32_CHUNK 32

/* gmm_rank32's sums over the rows for one tile, c_t[l] += z[a0 + t] z[b0 + l]: plain C
   (fmaf) for the baseline and NEON, intrinsics for the x86 vector builds, whose eight
   sums then stay in registers (gcc spilled the plain form's to the stack). */
#if GMM_TU_ISA == GMM_ISA_AVX512 || GMM_TU_ISA == GMM_ISA_AVX2
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_R32_V __m512
#define GMM_R32_OP(op) _mm512_##op##_ps
#define GMM_R32_H 16
#else
#define GMM_R32_V __m256
#define GMM_R32_OP(op) _mm256_##op##_ps
#define GMM_R32_H 8
#endif
#define GMM_RANK32_ROWS(Z, n, ld, a0, b0, c0, c1, c2, c3)                               \
    {                                                                                   \
        GMM_R32_V s00 = GMM_R32_OP(setzero)(), s01 = s00, s10 = s00, s11 = s00,         \
                  s20 = s00, s21 = s00, s30 = s00, s31 = s00;                           \
        for (ptrdiff_t i = 0; i < (n); i++) {                                           \
            const float *z = (Z) + i * (ld);                                            \
            const GMM_R32_V u0 = GMM_R32_OP(loadu)(z + (b0)),                           \
                            u1 = GMM_R32_OP(loadu)(z + (b0) + GMM_R32_H);               \
            GMM_R32_V v = GMM_R32_OP(set1)(z[(a0)]);                                    \
            s00 = GMM_R32_OP(fmadd)(v, u0, s00); s01 = GMM_R32_OP(fmadd)(v, u1, s01);   \
            v = GMM_R32_OP(set1)(z[(a0) + 1]);                                          \
            s10 = GMM_R32_OP(fmadd)(v, u0, s10); s11 = GMM_R32_OP(fmadd)(v, u1, s11);   \
            v = GMM_R32_OP(set1)(z[(a0) + 2]);                                          \
            s20 = GMM_R32_OP(fmadd)(v, u0, s20); s21 = GMM_R32_OP(fmadd)(v, u1, s21);   \
            v = GMM_R32_OP(set1)(z[(a0) + 3]);                                          \
            s30 = GMM_R32_OP(fmadd)(v, u0, s30); s31 = GMM_R32_OP(fmadd)(v, u1, s31);   \
        }                                                                               \
        GMM_R32_OP(storeu)(c0, s00); GMM_R32_OP(storeu)(c0 + GMM_R32_H, s01);           \
        GMM_R32_OP(storeu)(c1, s10); GMM_R32_OP(storeu)(c1 + GMM_R32_H, s11);           \
        GMM_R32_OP(storeu)(c2, s20); GMM_R32_OP(storeu)(c2 + GMM_R32_H, s21);           \
        GMM_R32_OP(storeu)(c3, s30); GMM_R32_OP(storeu)(c3 + GMM_R32_H, s31);           \
    }
/* half a tile's columns (a vector a row): the diagonal's last columns */
#define GMM_RANK32_ROWS_HALF(Z, n, ld, a0, b0, c0, c1, c2, c3)                          \
    {                                                                                   \
        GMM_R32_V s00 = GMM_R32_OP(setzero)(), s10 = s00, s20 = s00, s30 = s00;         \
        for (ptrdiff_t i = 0; i < (n); i++) {                                           \
            const float *z = (Z) + i * (ld);                                            \
            const GMM_R32_V u0 = GMM_R32_OP(loadu)(z + (b0));                           \
            s00 = GMM_R32_OP(fmadd)(GMM_R32_OP(set1)(z[(a0)]), u0, s00);                \
            s10 = GMM_R32_OP(fmadd)(GMM_R32_OP(set1)(z[(a0) + 1]), u0, s10);            \
            s20 = GMM_R32_OP(fmadd)(GMM_R32_OP(set1)(z[(a0) + 2]), u0, s20);            \
            s30 = GMM_R32_OP(fmadd)(GMM_R32_OP(set1)(z[(a0) + 3]), u0, s30);            \
        }                                                                               \
        GMM_R32_OP(storeu)(c0, s00); GMM_R32_OP(storeu)(c1, s10);                       \
        GMM_R32_OP(storeu)(c2, s20); GMM_R32_OP(storeu)(c3, s30);                       \
    }
#else
/* plain C: the rows' sums over a tile of w columns */
#define GMM_RANK32_ROWS_W(Z, n, ld, a0, b0, c0, c1, c2, c3, w)                          \
    GMM_ML_LANES                                                                        \
    for (int l = 0; l < (w); l++) {                                                     \
        c0[l] = 0.0f; c1[l] = 0.0f; c2[l] = 0.0f; c3[l] = 0.0f;                         \
    }                                                                                   \
    for (ptrdiff_t i = 0; i < (n); i++) {                                               \
        const float *z = (Z) + i * (ld), *zb = z + (b0);                                \
        const float z0 = z[(a0)], z1 = z[(a0) + 1], z2 = z[(a0) + 2], z3 = z[(a0) + 3]; \
        GMM_ML_LANES                                                                    \
        for (int l = 0; l < (w); l++) {                                                 \
            c0[l] = fmaf(z0, zb[l], c0[l]);                                             \
            c1[l] = fmaf(z1, zb[l], c1[l]);                                             \
            c2[l] = fmaf(z2, zb[l], c2[l]);                                             \
            c3[l] = fmaf(z3, zb[l], c3[l]);                                             \
        }                                                                               \
    }
#define GMM_RANK32_ROWS(Z, n, ld, a0, b0, c0, c1, c2, c3)                               \
    GMM_RANK32_ROWS_W(Z, n, ld, a0, b0, c0, c1, c2, c3, GMM_R32_W)
#define GMM_RANK32_ROWS_HALF(Z, n, ld, a0, b0, c0, c1, c2, c3)                          \
    GMM_RANK32_ROWS_W(Z, n, ld, a0, b0, c0, c1, c2, c3, GMM_R32_W / 2)
#endif

#define GMM_ROWS32_CENTER(suffix, linkage)                                              \
/* float32 products of a component's scatter (_missing_components.pxi, _scatter32):    \
   over the n rows of Y (n x D, each x - mu in double) with weights wv (n,): nb = sum  \
   wv, e (D,) = sum wv Y (each feature's sum over the rows in order), d = e / nb the   \
   rows' weighted mean, and Z (n x ld float32, ld >= D, zero-padded) = sqrt(wv) (Y -   \
   d) rounded once. Returns nb. */                                                     \
linkage double gmm_rows32_center_##suffix(                                              \
    const double *Y, const double *wv, ptrdiff_t n, ptrdiff_t D, double *d, double *e,  \
    float *Z, ptrdiff_t ld)                                                             \
{                                                                                       \
    double nb = 0.0;                                                                    \
    for (ptrdiff_t r = 0; r < n; r++) nb = nb + wv[r];                                  \
    for (ptrdiff_t a = 0; a < D; a++) e[a] = 0.0;                                       \
    for (ptrdiff_t r = 0; r < n; r++) {                                                 \
        const double w = wv[r], *y = Y + r * D;                                         \
        GMM_ML_LANES                                                                    \
        for (ptrdiff_t a = 0; a < D; a++) e[a] = e[a] + w * y[a];                       \
    }                                                                                   \
    GMM_ML_LANES                                                                        \
    for (ptrdiff_t a = 0; a < D; a++) d[a] = e[a] / nb;                                 \
    for (ptrdiff_t r = 0; r < n; r++) {                                                 \
        const double s = sqrt(wv[r]), *y = Y + r * D;                                   \
        float *z = Z + r * ld;                                                          \
        GMM_ML_LANES                                                                    \
        for (ptrdiff_t a = 0; a < D; a++) z[a] = (float) (s * (y[a] - d[a]));           \
        for (ptrdiff_t a = D; a < ld; a++) z[a] = 0.0f;                                 \
    }                                                                                   \
    return nb;                                                                          \
}

#define GMM_SHIFT_BACK32(suffix, linkage)                                               \
/* _scatter32's shift of a component's float32 scatter back to its mean (_missing_     \
   components.pxi): with ua = nb d_a + e_a, the lower triangle (b <= a) of row-major   \
   T2k (D, D) := T[a, b] + (ua d_b + d_a e_b) (T's row stride ld), or with add,         \
   T2k[a, b] + that (a slot's later block). Each entry's operations in the order of    \
   the Cython loop this replaces (products then sums, never fused: these units are     \
   compiled without contraction), its rows' entries in vectors. */                     \
linkage void gmm_shift_back32_##suffix(                                                 \
    const double *T, ptrdiff_t ld, const double *d, const double *e, double nb,         \
    ptrdiff_t D, int add, double *T2k)                                                  \
{                                                                                       \
    for (ptrdiff_t a = 0; a < D; a++) {                                                 \
        const double ua = nb * d[a] + e[a], da = d[a];                                  \
        const double *t = T + a * ld;                                                   \
        double *s = T2k + a * D;                                                        \
        if (add) {                                                                      \
            GMM_ML_LANES                                                                \
            for (ptrdiff_t b = 0; b <= a; b++)                                          \
                s[b] = s[b] + (t[b] + (ua * d[b] + da * e[b]));                         \
        } else {                                                                        \
            GMM_ML_LANES                                                                \
            for (ptrdiff_t b = 0; b <= a; b++) s[b] = t[b] + (ua * d[b] + da * e[b]);   \
        }                                                                               \
    }                                                                                   \
}

#define GMM_RANK32(suffix, linkage)                                                     \
/* T (double) = Z^T Z over the n rows of Z (n x ld floats, ld a multiple of           \
   GMM_R32_LD, columns D..ld zero): row a of T (row stride ld) is written from column  \
   0 to a, rounded up to the tile (the lower triangle, and some entries above it).     \
   Products and sums in float32 over chunks of GMM_R32_CHUNK rows (one fused           \
   multiply-add a row and entry, in row order: fmaf, a vector FMA in the vector        \
   builds), the chunks' sums added in double: a float32 sum's rounding grows with its  \
   terms, and over a block's few hundred rows it reached 5 ulps of a float32           \
   covariance. Every build gives the same bits whatever its tile's width. Tiles of 4   \
   rows of T by GMM_R32_W columns (half as many for the diagonal's last tile where      \
   they cover it), their sums in registers over a chunk (OpenBLAS's                    \
   ssyrk packed both operands on every call: a third of its time on these shapes). */  \
linkage void gmm_rank32_##suffix(const float *Z, ptrdiff_t n, ptrdiff_t D, ptrdiff_t ld, \
                                 double *T)                                             \
{                                                                                       \
    for (ptrdiff_t a0 = 0; a0 < D; a0 += 4) {                                          \
        const ptrdiff_t na = D - a0 < 4 ? D - a0 : 4;                                   \
        for (ptrdiff_t b0 = 0; b0 < a0 + na; b0 += GMM_R32_W) {                         \
            float c[4][GMM_R32_W];                                                      \
            double *t = T + a0 * ld + b0;                                               \
            for (ptrdiff_t u = 0; u < na; u++) {                                        \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_R32_W; l++) t[u * ld + l] = 0.0;                \
            }                                                                           \
            /* the diagonal's last tile: half its columns where they cover the rows */  \
            const int half = a0 + na - b0 <= GMM_R32_W / 2;                             \
            const int w = half ? GMM_R32_W / 2 : GMM_R32_W;                             \
            for (ptrdiff_t i0 = 0; i0 < n; i0 += GMM_R32_CHUNK) {                       \
                const ptrdiff_t ni = n - i0 < GMM_R32_CHUNK ? n - i0 : GMM_R32_CHUNK;   \
                if (half) {                                                             \
                    GMM_RANK32_ROWS_HALF(Z + i0 * ld, ni, ld, a0, b0, c[0], c[1], c[2], \
                                         c[3])                                          \
                } else {                                                                \
                    GMM_RANK32_ROWS(Z + i0 * ld, ni, ld, a0, b0, c[0], c[1], c[2], c[3]) \
                }                                                                       \
                for (ptrdiff_t u = 0; u < na; u++) {                                    \
                    GMM_ML_LANES                                                        \
                    for (int l = 0; l < w; l++)                                         \
                        t[u * ld + l] = t[u * ld + l] + (double) c[u][l];               \
                }                                                                       \
            }                                                                           \
        }                                                                               \
    }                                                                                   \
}

#define GMM_ROWS_DELTA(suffix, linkage)                                                 \
/* Y (nz x D) = the rows rows[0..nz) of X0 (D a row) less mu, each row's missing       \
   entries (Mi, nm; mmax a row) then set to its entries of tk (tk[moff[r] + a]: the    \
   conditional mean's offset -t). */                                                   \
linkage void gmm_rows_delta_##suffix(                                                   \
    const double *X0, ptrdiff_t D, const ptrdiff_t *rows, ptrdiff_t nz,                 \
    const double *mu, const ptrdiff_t *Mi, ptrdiff_t mmax, const ptrdiff_t *nm,         \
    const ptrdiff_t *moff, const double *tk, double *Y)                                 \
{                                                                                       \
    for (ptrdiff_t i = 0; i < nz; i++) {                                                \
        const ptrdiff_t r = rows[i];                                                    \
        const double *x = X0 + r * D;                                                   \
        double *y = Y + i * D;                                                          \
        GMM_ML_LANES                                                                    \
        for (ptrdiff_t j = 0; j < D; j++) y[j] = x[j] - mu[j];                          \
        for (ptrdiff_t a = 0; a < nm[r]; a++) y[Mi[r * mmax + a]] = tk[moff[r] + a];    \
    }                                                                                   \
}                                                                                       \
                                                                                        \
/* A block's rows transposed for gmm_lanes32_q: Xt (D x ldx) the nb rows of X0 (D a    \
   row), NaN where missing (Mi, nm) and in columns nb..ldx. */                         \
linkage void gmm_rows_transpose_##suffix(                                               \
    const double *X0, ptrdiff_t nb, ptrdiff_t D, const ptrdiff_t *Mi, ptrdiff_t mmax,   \
    const ptrdiff_t *nm, ptrdiff_t ldx, double *Xt)                                     \
{                                                                                       \
    /* 8 rows at a time: each feature's 8 entries one store */                        \
    ptrdiff_t r0 = 0;                                                                   \
    for (; r0 + 8 <= nb; r0 += 8)                                                       \
        for (ptrdiff_t j = 0; j < D; j++) {                                             \
            double *xt = Xt + j * ldx + r0;                                             \
            GMM_ML_LANES                                                                \
            for (int t = 0; t < 8; t++) xt[t] = X0[(r0 + t) * D + j];                   \
        }                                                                               \
    for (ptrdiff_t j = 0; j < D; j++) {                                                 \
        for (ptrdiff_t r = r0; r < nb; r++) Xt[j * ldx + r] = X0[r * D + j];            \
        for (ptrdiff_t r = nb; r < ldx; r++) Xt[j * ldx + r] = NAN;                     \
    }                                                                                   \
    for (ptrdiff_t r = 0; r < nb; r++)                                                  \
        for (ptrdiff_t a = 0; a < nm[r]; a++) Xt[Mi[r * mmax + a] * ldx + r] = NAN;     \
}

#endif
