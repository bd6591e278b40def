/* The triangular quadratic form q_i = ||(x_i - mu) U||^2 of one component over a
   block, for 'full' about each mean (route_full_means.pxi). U is upper triangular:
   y_j = sum_{l <= j} z_l U_lj with z = x - mu, so only the triangle is multiplied.

   Both forms run one row a lane, the block transposed feature-major:
   - double (gmm_tri_lanes_d): 16 rows a group with AVX-512, each product and square
     one fused multiply-add, in an order fixed by the code, not by the vector width;
   - float32 (gmm_full32_lp): 32 rows a group with AVX-512, float32 products as
     scikit-learn's float32 takes them, lp formed in double.
   (The small-D kernel, small_full.h, and the Cython tied and small-D row loops keep
   their own short forms: there the feature loop is too short to tile.)
*/
#ifndef GMMFAST_TRIANGULAR_H
#define GMMFAST_TRIANGULAR_H

#include "vmath.h"
#include "tri_tile.h"

/* U_k (D x D row-major, upper triangular; its lower part is not read) into Up
   (D x Dp, zeros below the diagonal and beyond D) */
#define GMM_TRI_PAD(T, U, D, Dp, Up)                                                    \
    for (ptrdiff_t l_ = 0; l_ < (D); l_++) {  /* three plain loops: no masked loads */ \
        T *up_ = (Up) + l_ * (Dp);                                                      \
        for (ptrdiff_t j_ = 0; j_ < l_; j_++) up_[j_] = (T) 0;                          \
        for (ptrdiff_t j_ = l_; j_ < (D); j_++) up_[j_] = (U)[l_ * (D) + j_];           \
        for (ptrdiff_t j_ = (D); j_ < (Dp); j_++) up_[j_] = (T) 0;                      \
    }

/* ------------------------------------------------------------------ float32, a row a lane */

/* The block is first transposed, feature-major (Xt, D x ldx, ldx = n rounded up to 32,
   zero columns after n); per component, 16 rows at a time (32 in the AVX-512 build) are
   centred on mu into Zt (D x 16) and

     y_j = sum_{l <= j} z_l U_lj,   q = sum_j y_j^2,   lp = cst - 0.5 q

   with 8 accumulators (2 groups of 8 rows x 4 columns j), each FMA a broadcast U_lj
   against 8 rows' z_l: the triangle of U only (D(D+1)/2 products a row, in column
   blocks of 4), and no horizontal sums (rows laid along the lanes). U comes
   zero-padded (Up, D x D4, D4 = D rounded up to 4, zeros below the diagonal and beyond
   D). y and q are float32, as scikit-learn's float32 computes them (about the centred
   rows, which scikit-learn does not centre first); lp is formed in double. */

/* Rows a log-density group of the AVX-512 build (the others take 16 at a time): Xt's
   row length is a multiple of it, and the centred group Zt is GMM_FULL32_GROUP x D. */
#define GMM_FULL32_GROUP 32

GMM_INLINE ptrdiff_t gmm_full32_ldx(ptrdiff_t n)
{
    return (n + GMM_FULL32_GROUP - 1) / GMM_FULL32_GROUP * GMM_FULL32_GROUP;
}
GMM_INLINE ptrdiff_t gmm_full32_d4(ptrdiff_t D) { return (D + 3) / 4 * 4; }

typedef void gmm_full32_lp_fn(const float *, ptrdiff_t, ptrdiff_t, const float *,
                              const float *, double, double *, ptrdiff_t, float *);

#if GMM_MAIN_TU
/* Xt (D x ldx) = X^T (n x D), zero columns from n to ldx. */
static void gmm_full32_transpose(const float *X, ptrdiff_t n, ptrdiff_t D, float *Xt)
{
    const ptrdiff_t ldx = gmm_full32_ldx(n);
    for (ptrdiff_t i = 0; i < n; i++)
        for (ptrdiff_t a = 0; a < D; a++) Xt[a * ldx + i] = X[i * D + a];
    for (ptrdiff_t a = 0; a < D; a++)
        for (ptrdiff_t i = n; i < ldx; i++) Xt[a * ldx + i] = 0.0f;
}

static void gmm_full32_lp_base(const float *Xt, ptrdiff_t n, ptrdiff_t D, const float *mu,
                               const float *Up, double cst, double *lp, ptrdiff_t rs,
                               float *Zt)
{
    const ptrdiff_t ldx = gmm_full32_ldx(n), D4 = gmm_full32_d4(D);
    for (ptrdiff_t i0 = 0; i0 < n; i0 += 16) {
        float q[2][16];
        for (ptrdiff_t l = 0; l < D; l++)
            for (int r = 0; r < 16; r++) Zt[16 * l + r] = Xt[l * ldx + i0 + r] - mu[l];
        for (int r = 0; r < 16; r++) q[0][r] = q[1][r] = 0.0f;
        for (ptrdiff_t j0 = 0; j0 < D; j0 += 4) {
            const ptrdiff_t lend = j0 + 4 < D ? j0 + 4 : D;
            const int h = (int) ((j0 / 4) & 1);
            for (int t = 0; t < 4; t++)
                for (int r = 0; r < 16; r++) {
                    float y = 0.0f;
                    for (ptrdiff_t l = 0; l < lend; l++) y += Zt[16 * l + r] * Up[l * D4 + j0 + t];
                    q[h][r] += y * y;
                }
        }
        const ptrdiff_t nr = n - i0 < 16 ? n - i0 : 16;
        for (ptrdiff_t r = 0; r < nr; r++)
            lp[(i0 + r) * rs] = cst - 0.5 * (double) (q[0][r] + q[1][r]);
    }
}

GMM_DISPATCH(gmm_full32_lp_fn, gmm_full32_lp)
#endif

/* The log-densities of a group of 2W rows (two vectors of W lanes: 16 rows with AVX2,
   32 with AVX-512, 8 with NEON), written once for every vector build: B is the
   intrinsics' width (256 or 512, or neon: isa.h's shims); PUT writes the group's 2W values of cst - 0.5 q in double into t. Per lane the
   same operations in the same order in either build, so the same bits. */
#define GMM_FULL32_LP(name, linkage, V, B, W, PUT)                                         \
linkage void name(const float *Xt, ptrdiff_t n, ptrdiff_t D, const float *mu,       \
                      const float *Up, double cst, double *lp, ptrdiff_t rs, float *Zt) \
{                                                                                       \
    const ptrdiff_t ldx = gmm_full32_ldx(n), D4 = gmm_full32_d4(D);                     \
    for (ptrdiff_t i0 = 0; i0 < n; i0 += 2 * W) {                                       \
        for (ptrdiff_t l = 0; l < D; l++) {                                             \
            const V m = _mm##B##_set1_ps(mu[l]);                                        \
            const float *x = Xt + l * ldx + i0;                                         \
            _mm##B##_storeu_ps(Zt + 2 * W * l, _mm##B##_sub_ps(_mm##B##_loadu_ps(x), m)); \
            _mm##B##_storeu_ps(Zt + 2 * W * l + W,                                      \
                               _mm##B##_sub_ps(_mm##B##_loadu_ps(x + W), m));           \
        }                                                                               \
        V qa[2], qb[2];                                                                 \
        qa[0] = qa[1] = qb[0] = qb[1] = _mm##B##_setzero_ps();                          \
        for (ptrdiff_t j0 = 0; j0 < D; j0 += 4) {                                       \
            const ptrdiff_t lend = j0 + 4 < D ? j0 + 4 : D;                             \
            const int h = (int) ((j0 / 4) & 1);                                         \
            GMM_TRI32_TILE(V, B, W, Zt, 2 * W, Up + j0, D4, lend)                       \
            qa[h] = _mm##B##_fmadd_ps(a0, a0, qa[h]); qb[h] = _mm##B##_fmadd_ps(b0, b0, qb[h]); \
            qa[h] = _mm##B##_fmadd_ps(a1, a1, qa[h]); qb[h] = _mm##B##_fmadd_ps(b1, b1, qb[h]); \
            qa[h] = _mm##B##_fmadd_ps(a2, a2, qa[h]); qb[h] = _mm##B##_fmadd_ps(b2, b2, qb[h]); \
            qa[h] = _mm##B##_fmadd_ps(a3, a3, qa[h]); qb[h] = _mm##B##_fmadd_ps(b3, b3, qb[h]); \
        }                                                                               \
        double t[2 * W];                                                                \
        PUT(_mm##B##_add_ps(qa[0], qa[1]), _mm##B##_add_ps(qb[0], qb[1]), cst, t);      \
        const ptrdiff_t nr = n - i0 < 2 * W ? n - i0 : 2 * W;                           \
        if (rs == 1 && nr == 2 * W)                                                     \
            memcpy(lp + i0, t, sizeof t);                                               \
        else                                                                            \
            for (ptrdiff_t r = 0; r < nr; r++) lp[(i0 + r) * rs] = t[r];                \
    }                                                                                   \
}

#if GMM_TU_ISA == GMM_ISA_AVX2
/* t[0..15] = cst - 0.5 [q0 | q1] in double. */
GMM_INLINE void gmm_full32_put_avx2(__m256 q0, __m256 q1, double cst, double *t)
{
    const __m256d c = _mm256_set1_pd(cst), half = _mm256_set1_pd(-0.5);
    _mm256_storeu_pd(t, _mm256_fmadd_pd(half, _mm256_cvtps_pd(_mm256_castps256_ps128(q0)), c));
    _mm256_storeu_pd(t + 4, _mm256_fmadd_pd(half, _mm256_cvtps_pd(_mm256_extractf128_ps(q0, 1)), c));
    _mm256_storeu_pd(t + 8, _mm256_fmadd_pd(half, _mm256_cvtps_pd(_mm256_castps256_ps128(q1)), c));
    _mm256_storeu_pd(t + 12, _mm256_fmadd_pd(half, _mm256_cvtps_pd(_mm256_extractf128_ps(q1, 1)), c));
}
GMM_FULL32_LP(gmm_full32_lp_avx2, GMM_KERNEL, __m256, 256, 8, gmm_full32_put_avx2)
#endif

#if GMM_TU_ISA == GMM_ISA_AVX512

/* t[0..31] = cst - 0.5 [q0 | q1] in double. */
GMM_INLINE void gmm_full32_put_avx512(__m512 q0, __m512 q1, double cst,
                                                      double *t)
{
    const __m512d c = _mm512_set1_pd(cst), half = _mm512_set1_pd(-0.5);
    const __m256 h[4] = {
        _mm512_castps512_ps256(q0),
        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(q0), 1)),
        _mm512_castps512_ps256(q1),
        _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(q1), 1))};
    for (int j = 0; j < 4; j++)
        _mm512_storeu_pd(t + 8 * j, _mm512_fmadd_pd(half, _mm512_cvtps_pd(h[j]), c));
}
/* 32 rows a group: 6 loads for 8 FMAs a step (AVX2 at 8 lanes held a wide_f32 pass at
   a third of this machine's FMA rate). */
GMM_FULL32_LP(gmm_full32_lp_avx512, GMM_KERNEL, __m512, 512, 16, gmm_full32_put_avx512)
#endif

#if GMM_TU_ISA == GMM_ISA_NEON
/* t[0..7] = cst - 0.5 [q0 | q1] in double. */
GMM_INLINE void gmm_full32_put_neon(float32x4_t q0, float32x4_t q1, double cst, double *t)
{
    const float64x2_t c = vdupq_n_f64(cst), half = vdupq_n_f64(-0.5);
    vst1q_f64(t, vfmaq_f64(c, half, vcvt_f64_f32(vget_low_f32(q0))));
    vst1q_f64(t + 2, vfmaq_f64(c, half, vcvt_high_f64_f32(q0)));
    vst1q_f64(t + 4, vfmaq_f64(c, half, vcvt_f64_f32(vget_low_f32(q1))));
    vst1q_f64(t + 6, vfmaq_f64(c, half, vcvt_high_f64_f32(q1)));
}
/* 8 rows a group: 8 accumulators and the 2 rows' vectors of 4 floats */
GMM_FULL32_LP(gmm_full32_lp_neon, GMM_KERNEL, gmm_v4f, neon, 4, gmm_full32_put_neon)
#endif

/* ------------------------------------------------------------------ double, a row a lane */

/* 'full' log-densities of one component over a block, for the route about each mean
   (route_full_means.pxi): the block transposed once (Xt: D x ldx doubles, ldx = n
   rounded up to GMM_TRI_LANES_GROUP, zero columns after n), then GW rows at a time
   (16 with AVX-512, 8 with AVX2 and the baseline, 4 with NEON) centred into Zt (D x GW)
   and, per row,

     y_j = sum_{l <= j} z_l U_lj  (in order of l),   s_p += y_j^2 for p = j mod 8,
     lp = cst - 0.5 (((s_0 + s_1) + (s_2 + s_3)) + ((s_4 + s_5) + (s_6 + s_7)))

   one fused multiply-add a product and a square in the vector builds, none in the
   baseline build; four columns of y at a time over the triangle of U only (8
   accumulators), the squares into the 8 position sums, and no horizontal sums. (The
   row-major tiles this replaced, 4 rows x 8 columns, ran these sums in this order,
   plus terms l > j that multiply U's zeros and add exact zeros: the same bits, and at
   D = 8 most of their time went to the shuffles of a short row.) Up: D x D4 scratch. */
#define GMM_TRI_LANES_GROUP 16

GMM_INLINE ptrdiff_t gmm_tri_lanes_ldx(ptrdiff_t n)
{
    return (n + GMM_TRI_LANES_GROUP - 1) / GMM_TRI_LANES_GROUP * GMM_TRI_LANES_GROUP;
}

/* lp[(i0 + r) rs] = cst - 0.5 q for the rows r < nr of a group, from its q (in lanes) */
#define GMM_TRI_LANES_PUT(q, nr, i0, cst, lp, rs)                                       \
    for (ptrdiff_t r_ = 0; r_ < (nr); r_++) (lp)[((i0) + r_) * (rs)] = (cst) - 0.5 * (q)[r_];

typedef void gmm_tri_lanes_fn(const double *, ptrdiff_t, ptrdiff_t, const double *,
                              const double *, double, double *, ptrdiff_t, double *,
                              double *);

#if GMM_MAIN_TU
/* Xt (D x ldx) = X^T (n x D), zero columns from n to ldx. */
static void gmm_tri_lanes_transpose(const double *X, ptrdiff_t n, ptrdiff_t D, double *Xt)
{
    const ptrdiff_t ldx = gmm_tri_lanes_ldx(n);
    for (ptrdiff_t i0 = 0; i0 < n; i0 += 8) {   /* 8 rows a cache line of Xt's rows */
        const ptrdiff_t i1 = n - i0 < 8 ? n : i0 + 8;
        for (ptrdiff_t a = 0; a < D; a++)
            for (ptrdiff_t i = i0; i < i1; i++) Xt[a * ldx + i] = X[i * D + a];
    }
    for (ptrdiff_t a = 0; a < D; a++)
        for (ptrdiff_t i = n; i < ldx; i++) Xt[a * ldx + i] = 0.0;
}

static void gmm_tri_lanes_d_base(const double *Xt, ptrdiff_t n, ptrdiff_t D, const double *mu,
                                 const double *U, double cst, double *lp, ptrdiff_t rs,
                                 double *Up, double *Zt)
{
    const ptrdiff_t ldx = gmm_tri_lanes_ldx(n), D4 = (D + 3) / 4 * 4;
    GMM_TRI_PAD(double, U, D, D4, Up)
    for (ptrdiff_t i0 = 0; i0 < n; i0 += 8) {
        double s[8][8], q[8];
        for (ptrdiff_t l = 0; l < D; l++)
            for (int r = 0; r < 8; r++) Zt[8 * l + r] = Xt[l * ldx + i0 + r] - mu[l];
        for (int p = 0; p < 8; p++)
            for (int r = 0; r < 8; r++) s[p][r] = 0.0;
        for (ptrdiff_t j = 0; j < D; j++)
            for (int r = 0; r < 8; r++) {
                double y = 0.0;
                for (ptrdiff_t l = 0; l <= j; l++) y += Zt[8 * l + r] * Up[l * D4 + j];
                s[j % 8][r] += y * y;
            }
        for (int r = 0; r < 8; r++)
            q[r] = ((s[0][r] + s[1][r]) + (s[2][r] + s[3][r]))
                   + ((s[4][r] + s[5][r]) + (s[6][r] + s[7][r]));
        GMM_TRI_LANES_PUT(q, n - i0 < 8 ? n - i0 : 8, i0, cst, lp, rs)
    }
}

GMM_DISPATCH(gmm_tri_lanes_fn, gmm_tri_lanes_d)
#endif

/* The vector builds: W doubles a vector, two vectors of rows (a, b) a group; four
   columns j0..j0+3 of y at a time (8 accumulators), the squares into the 8 positions'
   sums (16 vectors). */
#define GMM_TRI_LANES_D(name, linkage, V, B, W)                                         \
linkage void name(const double *Xt, ptrdiff_t n, ptrdiff_t D, const double *mu,         \
                  const double *U, double cst, double *lp, ptrdiff_t rs, double *Up,    \
                  double *Zt)                                                           \
{                                                                                       \
    const ptrdiff_t ldx = gmm_tri_lanes_ldx(n), D4 = (D + 3) / 4 * 4;                   \
    GMM_TRI_PAD(double, U, D, D4, Up)                                                   \
    for (ptrdiff_t i0 = 0; i0 < n; i0 += 2 * W) {                                       \
        for (ptrdiff_t l = 0; l < D; l++) {                                             \
            const V m = _mm##B##_set1_pd(mu[l]);                                        \
            const double *x = Xt + l * ldx + i0;                                        \
            _mm##B##_storeu_pd(Zt + 2 * W * l, _mm##B##_sub_pd(_mm##B##_loadu_pd(x), m)); \
            _mm##B##_storeu_pd(Zt + 2 * W * l + W,                                      \
                               _mm##B##_sub_pd(_mm##B##_loadu_pd(x + W), m));           \
        }                                                                               \
        V sa[8], sb[8];                                                                 \
        for (int p = 0; p < 8; p++) sa[p] = sb[p] = _mm##B##_setzero_pd();              \
        for (ptrdiff_t j0 = 0; j0 < D; j0 += 4) {                                       \
            const ptrdiff_t lend = j0 + 4 < D ? j0 + 4 : D;                             \
            GMM_TRI_TILE(V, B, W, pd, double, Zt, 2 * W, Up + j0, D4, lend)             \
            if (j0 % 8 == 0) {                                                          \
                sa[0] = _mm##B##_fmadd_pd(a0, a0, sa[0]); sb[0] = _mm##B##_fmadd_pd(b0, b0, sb[0]); \
                sa[1] = _mm##B##_fmadd_pd(a1, a1, sa[1]); sb[1] = _mm##B##_fmadd_pd(b1, b1, sb[1]); \
                sa[2] = _mm##B##_fmadd_pd(a2, a2, sa[2]); sb[2] = _mm##B##_fmadd_pd(b2, b2, sb[2]); \
                sa[3] = _mm##B##_fmadd_pd(a3, a3, sa[3]); sb[3] = _mm##B##_fmadd_pd(b3, b3, sb[3]); \
            } else {                                                                    \
                sa[4] = _mm##B##_fmadd_pd(a0, a0, sa[4]); sb[4] = _mm##B##_fmadd_pd(b0, b0, sb[4]); \
                sa[5] = _mm##B##_fmadd_pd(a1, a1, sa[5]); sb[5] = _mm##B##_fmadd_pd(b1, b1, sb[5]); \
                sa[6] = _mm##B##_fmadd_pd(a2, a2, sa[6]); sb[6] = _mm##B##_fmadd_pd(b2, b2, sb[6]); \
                sa[7] = _mm##B##_fmadd_pd(a3, a3, sa[7]); sb[7] = _mm##B##_fmadd_pd(b3, b3, sb[7]); \
            }                                                                           \
        }                                                                               \
        double q[2 * W];                                                                \
        _mm##B##_storeu_pd(q, _mm##B##_add_pd(                                          \
            _mm##B##_add_pd(_mm##B##_add_pd(sa[0], sa[1]), _mm##B##_add_pd(sa[2], sa[3])), \
            _mm##B##_add_pd(_mm##B##_add_pd(sa[4], sa[5]), _mm##B##_add_pd(sa[6], sa[7])))); \
        _mm##B##_storeu_pd(q + W, _mm##B##_add_pd(                                      \
            _mm##B##_add_pd(_mm##B##_add_pd(sb[0], sb[1]), _mm##B##_add_pd(sb[2], sb[3])), \
            _mm##B##_add_pd(_mm##B##_add_pd(sb[4], sb[5]), _mm##B##_add_pd(sb[6], sb[7])))); \
        GMM_TRI_LANES_PUT(q, n - i0 < 2 * W ? n - i0 : 2 * W, i0, cst, lp, rs)          \
    }                                                                                   \
}

#if GMM_TU_ISA == GMM_ISA_AVX2
GMM_TRI_LANES_D(gmm_tri_lanes_d_avx2, GMM_KERNEL, __m256d, 256, 4)
#elif GMM_TU_ISA == GMM_ISA_AVX512
GMM_TRI_LANES_D(gmm_tri_lanes_d_avx512, GMM_KERNEL, __m512d, 512, 8)
#elif GMM_TU_ISA == GMM_ISA_NEON
GMM_TRI_LANES_D(gmm_tri_lanes_d_neon, GMM_KERNEL, gmm_v2d, neon, 2)
#endif

#if GMM_MAIN_TU
static void gmm_triangular_select(void)
{
    GMM_SELECT(gmm_tri_lanes_d, gmm_tri_lanes_d);
    GMM_SELECT(gmm_full32_lp, gmm_full32_lp);
}
#endif

#endif
