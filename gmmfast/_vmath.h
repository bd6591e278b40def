/* Vectorisable exp and log over arrays, for the log-sum-exp of the E-step.

   Why: the E-step takes N*K exponentials and N logarithms per iteration. The C
   library's exp/log are scalar calls the compiler cannot vectorise; these loops are
   plain arithmetic on doubles/floats and bit patterns, which gcc and clang vectorise
   at -O3 without -ffast-math (setup.py adds -fno-trapping-math, clang's default, so that
   gcc may turn the clamps below into selects; it changes no results). On x86-64 copies
   are also compiled for AVX2+FMA and for AVX-512 and the widest the CPU runs is chosen
   at run time (gmm_vmath_init), so the wheels stay baseline x86-64.

   Domain, as the kernels use them:
     gmm_exp_*(x, n): x[i] := exp(x[i]) for x[i] <= 0 (the argument of a log-sum-exp:
       lp - max lp). Double results underflow gracefully (subnormals, then 0); float
       results are 0 below x = -80 (GMM_EXP_F_MIN), never subnormal; -inf gives 0;
       NaN stays NaN.
     gmm_log_*(x, n): x[i] := log(x[i]) for finite x[i] >= 1 (a sum of exponentials
       whose largest term is 1). NaN stays NaN.

   Accuracy: within about 4e-16 relative (double) and 2.5e-7 (float) of the exact
   result over their domains, 2-3 units in the last place (tests/test_vmath.py checks
   against numpy on dense samples). Method: Cody-Waite range reduction by ln 2, then a Taylor
   polynomial (exp) or the atanh series (log); 2^n is built from the exponent bits,
   in double split in two factors so that subnormal results come out right.
*/
#ifndef GMMFAST_VMATH_H
#define GMMFAST_VMATH_H

#include <stdint.h>
#include <string.h>
#include <stddef.h>

#if defined(__GNUC__)
#define GMM_INLINE static inline __attribute__((always_inline))
#else
#define GMM_INLINE static __forceinline
#endif

/* ------------------------------------------------------------------ bit casts */

GMM_INLINE uint64_t gmm_bits_d(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
GMM_INLINE double gmm_from_bits_d(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
GMM_INLINE uint32_t gmm_bits_f(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
GMM_INLINE float gmm_from_bits_f(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

/* ------------------------------------------------------------------ double */

/* round-to-nearest-integer trick: (x + 1.5 * 2^52) - 1.5 * 2^52 */
#define GMM_ROUND_D 6755399441055744.0

GMM_INLINE double gmm_pow2_d(double n)  /* 2^n for integer-valued n in [-1022, 1023] */
{
    double t = n + (1023.0 + GMM_ROUND_D);
    return gmm_from_bits_d((gmm_bits_d(t) - gmm_bits_d(GMM_ROUND_D)) << 52);
}

GMM_INLINE double gmm_exp1_d(double x)
{
    const double log2e = 1.4426950408889634;
    const double ln2_hi = 6.93147180369123816490e-01;   /* high bits of ln 2 */
    const double ln2_lo = 1.90821492927058770002e-10;   /* ln 2 - ln2_hi */
    double n, r, p, h;
    x = x < -746.0 ? -746.0 : x;                        /* keeps NaN, maps -inf */
    n = (x * log2e + GMM_ROUND_D) - GMM_ROUND_D;        /* nearest integer */
    r = (x - n * ln2_hi) - n * ln2_lo;                  /* |r| <= ln2 / 2 */
    /* Taylor series to r^12 / 12!: truncation < 2e-17 relative on |r| <= 0.347 */
    p = 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r * r + r;                                  /* exp(r) - 1 */
    /* 2^n as 2^h * 2^(n - h), each factor normal, so subnormal results are right */
    h = (n * 0.5 + GMM_ROUND_D) - GMM_ROUND_D;
    return (1.0 + p) * gmm_pow2_d(h) * gmm_pow2_d(n - h);
}

GMM_INLINE double gmm_log1_d(double x)
{
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    const double sqrt2 = 1.4142135623730951;
    uint64_t u = gmm_bits_d(x);
    /* x = m * 2^e with m in [1, 2); then m in [sqrt(2)/2, sqrt(2)) */
    /* the biased exponent as a double, by bits (no int64 -> double vector convert on SSE2/AVX2) */
    double e = gmm_from_bits_d(((u >> 52) & 0x7ff) | 0x4330000000000000ULL) - (4503599627370496.0 + 1023.0);
    double m = gmm_from_bits_d((u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    double big = m > sqrt2 ? 1.0 : 0.0;
    double f, s, z, p;
    m = big > 0.0 ? m * 0.5 : m;
    e += big;
    /* log m = 2 atanh(f), f = (m - 1) / (m + 1), |f| <= 0.1716 */
    f = (m - 1.0) / (m + 1.0);
    s = f * f;
    p = 2.0 / 21.0;
    p = p * s + 2.0 / 19.0;
    p = p * s + 2.0 / 17.0;
    p = p * s + 2.0 / 15.0;
    p = p * s + 2.0 / 13.0;
    p = p * s + 2.0 / 11.0;
    p = p * s + 2.0 / 9.0;
    p = p * s + 2.0 / 7.0;
    p = p * s + 2.0 / 5.0;
    p = p * s + 2.0 / 3.0;
    z = f * s * p;                                      /* log m - 2 f */
    /* + (x - x) keeps NaN (the bit manipulation above would turn it into a number);
       it adds exactly 0 otherwise. A select would stop the compiler vectorising. */
    return e * ln2_hi + (2.0 * f + (z + e * ln2_lo)) + (x - x);
}

/* ------------------------------------------------------------------ float */

#define GMM_ROUND_F 12582912.0f   /* 1.5 * 2^23 */

/* float exp is 0 below this: e^-80 = 1.8e-35 is below 2^-115 of a log-sum-exp's
   largest term (which is 1), so nothing measurable is lost. Computing such terms would
   make subnormal floats, in exp and in the products that scale them (responsibilities
   times 1 / sum), and each subnormal operation costs a microcode assist of ~100 cycles
   on Intel CPUs: tall2d_f32 was 1.4x slower than float64 there. */
#define GMM_EXP_F_MIN -80.0f

GMM_INLINE float gmm_pow2_f(float n)    /* 2^n for integer-valued n in [-126, 127] */
{
    float t = n + (127.0f + GMM_ROUND_F);
    return gmm_from_bits_f((gmm_bits_f(t) - gmm_bits_f(GMM_ROUND_F)) << 23);
}

GMM_INLINE float gmm_exp1_f(float x)
{
    const float log2e = 1.44269504f;
    const float ln2_hi = 0.693359375f;
    const float ln2_lo = -2.12194440e-4f;
    float n, r, p;
    const float keep = x < GMM_EXP_F_MIN ? 0.0f : 1.0f;   /* NaN: kept, stays NaN */
    x = x < -104.0f ? -104.0f : x;                /* keeps n, r finite; maps -inf */
    n = (x * log2e + GMM_ROUND_F) - GMM_ROUND_F;
    r = (x - n * ln2_hi) - n * ln2_lo;
    /* Taylor to r^7 / 7!: truncation < 3e-9 relative on |r| <= 0.347 */
    p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r * r + r;
    /* every lane's 2^n normal, the dropped ones too (x >= -80 has n >= -116): gcc
       computes all lanes and selects, so a clamp on x alone would not keep them so */
    n = n < -125.0f ? -125.0f : n;
    return keep * ((1.0f + p) * gmm_pow2_f(n));
}

GMM_INLINE float gmm_log1_f(float x)
{
    const float ln2_hi = 0.693359375f;
    const float ln2_lo = -2.12194440e-4f;
    const float sqrt2 = 1.41421356f;
    uint32_t u = gmm_bits_f(x);
    float e = gmm_from_bits_f(((u >> 23) & 0xff) | 0x4b000000u) - (8388608.0f + 127.0f);
    float m = gmm_from_bits_f((u & 0x007fffffu) | 0x3f800000u);
    float big = m > sqrt2 ? 1.0f : 0.0f;
    float f, s, z, p;
    m = big > 0.0f ? m * 0.5f : m;
    e += big;
    f = (m - 1.0f) / (m + 1.0f);
    s = f * f;
    p = 2.0f / 9.0f;
    p = p * s + 2.0f / 7.0f;
    p = p * s + 2.0f / 5.0f;
    p = p * s + 2.0f / 3.0f;
    z = f * s * p;
    return e * ln2_hi + (2.0f * f + (z + e * ln2_lo)) + (x - x);
}

/* ------------------------------------------------------------------ array loops */

#define GMM_ARRAY_LOOPS(suffix, attr)                                                   \
    attr static void gmm_exp_d_##suffix(double *x, ptrdiff_t n)                         \
    { for (ptrdiff_t i = 0; i < n; i++) x[i] = gmm_exp1_d(x[i]); }                     \
    attr static void gmm_log_d_##suffix(double *x, ptrdiff_t n)                         \
    { for (ptrdiff_t i = 0; i < n; i++) x[i] = gmm_log1_d(x[i]); }                     \
    attr static void gmm_exp_f_##suffix(float *x, ptrdiff_t n)                          \
    { for (ptrdiff_t i = 0; i < n; i++) x[i] = gmm_exp1_f(x[i]); }                     \
    attr static void gmm_log_f_##suffix(float *x, ptrdiff_t n)                          \
    { for (ptrdiff_t i = 0; i < n; i++) x[i] = gmm_log1_f(x[i]); }

GMM_ARRAY_LOOPS(base, )

typedef void (*gmm_vfunc_d)(double *, ptrdiff_t);
typedef void (*gmm_vfunc_f)(float *, ptrdiff_t);

static gmm_vfunc_d gmm_exp_d = gmm_exp_d_base;
static gmm_vfunc_d gmm_log_d = gmm_log_d_base;
static gmm_vfunc_f gmm_exp_f = gmm_exp_f_base;
static gmm_vfunc_f gmm_log_f = gmm_log_f_base;
static const char *gmm_vmath_isa = "baseline";

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define GMM_HAVE_AVX2_CLONE 1
#define GMM_AVX2_ATTR __attribute__((target("avx2,fma")))
/* AVX-512 doubles the lanes again (and the exp rate: 0.6 against 1.2 ns a double
   on Zen 4). Same operations per lane as the AVX2 clone, so the same bits. */
#define GMM_AVX512_ATTR __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
GMM_ARRAY_LOOPS(avx2, GMM_AVX2_ATTR)
GMM_ARRAY_LOOPS(avx512, GMM_AVX512_ATTR)
#endif

/* ------------------------------------------------------------------ sums in a fixed order */

/* sum_i a[i] and sum_i a[i] b[i] with eight interleaved partial sums: the compiler can
   vectorise them (they are independent), and the order of additions is fixed by the
   code, so the result does not depend on the machine's vector width or the threads. */
GMM_INLINE double gmm_sum8(const double *acc)
{
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

GMM_INLINE double gmm_sum(const double *a, ptrdiff_t n)
{
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += a[i + l];
    for (int l = 0; i < n; i++, l++) acc[l] += a[i];
    return gmm_sum8(acc);
}

GMM_INLINE double gmm_dot(const double *a, const double *b, ptrdiff_t n)
{
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];
    for (int l = 0; i < n; i++, l++) acc[l] += a[i] * b[i];
    return gmm_sum8(acc);
}

/* float inputs, double sums (products formed in double) */
GMM_INLINE double gmm_sum_f(const float *a, ptrdiff_t n)
{
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += (double) a[i + l];
    for (int l = 0; i < n; i++, l++) acc[l] += (double) a[i];
    return gmm_sum8(acc);
}

GMM_INLINE double gmm_dot_f(const float *a, const float *b, ptrdiff_t n)
{
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += (double) a[i + l] * (double) b[i + l];
    for (int l = 0; i < n; i++, l++) acc[l] += (double) a[i] * (double) b[i];
    return gmm_sum8(acc);
}

GMM_INLINE double gmm_wsum_f(const double *w, const float *a, ptrdiff_t n)
{
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += w[i + l] * (double) a[i + l];
    for (int l = 0; i < n; i++, l++) acc[l] += w[i] * (double) a[i];
    return gmm_sum8(acc);
}

/* row_max[i] = max_k lpt[k n + i] of a component-major block (K x n), in T; a NaN
   entry is passed over (the caller's exp then carries it into the row's sum) */
#define GMM_COLS_MAX(T, lpt, n, K, row_max)                                             \
    for (ptrdiff_t i_ = 0; i_ < (n); i_++) (row_max)[i_] = (lpt)[i_];                   \
    for (ptrdiff_t k_ = 1; k_ < (K); k_++) {                                            \
        const T *col_ = (lpt) + k_ * (n);                                               \
        for (ptrdiff_t i_ = 0; i_ < (n); i_++)                                          \
            (row_max)[i_] = col_[i_] > (row_max)[i_] ? col_[i_] : (row_max)[i_];        \
    }

/* the double names, for macros that paste a type letter */
#define gmm_sum_d gmm_sum
#define gmm_dot_d gmm_dot
#define gmm_wsum_d gmm_dot

/* ------------------------------------------------------------------ row kernels */

/* 'full' log-densities of one component over a block, for components far apart (the
   route about each mean): lp[i*K + k] = cst - 0.5 * ||(x_i - mu) U||^2, the centring,
   the triangular product and the squared norm in one pass. Register-blocked: 4 rows x
   TW columns of y = z U accumulate over l = 0..j (the triangle only, a tile at a time),
   so the centred rows, their product and U stay in L1 and nothing is written but lp
   (OpenBLAS's trmm on blocks of ~200 x 41 ran at ~70% of its GEMM rate, and the centred
   rows and products took two more passes). U (D x D row-major, upper triangular; its
   lower part is not read) is first copied into Up (D x Dp, Dp = D rounded up to TW,
   zeros below the diagonal and beyond D); Zt holds 4 centred rows feature-major (D x 4).
   Each y_ij is summed over l in order and the squares per column position then in a
   fixed tree: the order of operations is fixed by the code, not by the vector width.
   Built for double only (float32 data runs one row a lane in _full.h). */
/* The set-up shared by every build of gmm_tri_sqnorm: U_k into Up (D x Dp, zeros below
   the diagonal and beyond D), and rows i0..i0+nr-1 centred into Zt (D x 4, feature-major,
   zeros for the missing rows of a last group). */
#define GMM_TRI_PAD(T, U, D, Dp, Up)                                                    \
    for (ptrdiff_t l_ = 0; l_ < (D); l_++) {  /* three plain loops: no masked loads */ \
        T *up_ = (Up) + l_ * (Dp);                                                      \
        for (ptrdiff_t j_ = 0; j_ < l_; j_++) up_[j_] = (T) 0;                          \
        for (ptrdiff_t j_ = l_; j_ < (D); j_++) up_[j_] = (U)[l_ * (D) + j_];           \
        for (ptrdiff_t j_ = (D); j_ < (Dp); j_++) up_[j_] = (T) 0;                      \
    }
#define GMM_TRI_CENTRE4(T, X, D, mu, i0, nr, Zt)                                        \
    for (ptrdiff_t l_ = 0; l_ < (D); l_++)                                              \
        for (int r_ = 0; r_ < 4; r_++)                                                  \
            (Zt)[l_ * 4 + r_] = r_ < (nr) ? (X)[((i0) + r_) * (D) + l_] - (mu)[l_] : (T) 0;

#define GMM_TRI_SQNORM_FUNC(suffix, attr, T, tname, TW)                                  \
attr static void gmm_tri_sqnorm_##tname##_##suffix(                                     \
    const T *X, ptrdiff_t n, ptrdiff_t D, ptrdiff_t K, ptrdiff_t k, const T *mu,        \
    const T *U, double cst, double *lp, T *Up, T *Zt)                                   \
{                                                                                       \
    const ptrdiff_t Dp = (D + TW - 1) / TW * TW;                                        \
    GMM_TRI_PAD(T, U, D, Dp, Up)                                                        \
    for (ptrdiff_t i0 = 0; i0 < n; i0 += 4) {                                           \
        const ptrdiff_t nr = n - i0 < 4 ? n - i0 : 4;                                   \
        double s[4][TW];                                                                \
        GMM_TRI_CENTRE4(T, X, D, mu, i0, nr, Zt)                                        \
        for (int r = 0; r < 4; r++)                                                     \
            for (int t = 0; t < TW; t++) s[r][t] = 0.0;                                 \
        for (ptrdiff_t j0 = 0; j0 < Dp; j0 += TW) {                                     \
            const ptrdiff_t lend = j0 + TW < D ? j0 + TW : D;                           \
            T acc[4][TW];                                                               \
            for (int r = 0; r < 4; r++)                                                 \
                for (int t = 0; t < TW; t++) acc[r][t] = (T) 0;                         \
            for (ptrdiff_t l = 0; l < lend; l++) {                                      \
                const T *u = Up + l * Dp + j0;                                          \
                for (int r = 0; r < 4; r++) {                                           \
                    const T zr = Zt[l * 4 + r];                                         \
                    for (int t = 0; t < TW; t++) acc[r][t] += zr * u[t];                \
                }                                                                       \
            }                                                                           \
            for (int r = 0; r < 4; r++)                                                 \
                for (int t = 0; t < TW; t++)                                            \
                    s[r][t] += (double) acc[r][t] * (double) acc[r][t];                 \
        }                                                                               \
        for (int r = 0; r < nr; r++) {                                                  \
            for (int t = 8; t < TW; t++) s[r][t - 8] += s[r][t];                        \
            lp[(i0 + r) * K + k] = cst - 0.5 * gmm_sum8(s[r]);                          \
        }                                                                               \
    }                                                                                   \
}

/* Moment rows of a block: F_i = [z_a z_b for a = 0..D-1, b = 0..a; z_a; 1], z = x_i - c
   (n x (D(D+1)/2 + D + 1), row-major), computed in the output type T from input TI.
   Row a of the triangle is written as the full z_a z (D entries, one fixed-length
   loop that vectorises) and its tail is overwritten by the rows after it: the last
   row ends exactly at the triangle's end. Always in double (float32 data too: the
   expansion about c needs it, see _kernels.pyx). */
#define GMM_MOMENT_ROWS_FUNC(suffix, attr, TI, T, tname)                                \
attr static void gmm_moment_rows_##tname##_##suffix(                                    \
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
   _diag.h), in type T from TI, and zero rows from n up to n rounded up to 4. */
#define GMM_DIAG_ROWS_FUNC(suffix, attr, TI, T, tname)                                  \
attr static void gmm_diag_rows_##tname##_##suffix(                                      \
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

#define GMM_ROWS_ALL(suffix, attr)                                                      \
    GMM_DIAG_ROWS_FUNC(suffix, attr, double, double, d)                                 \
    GMM_DIAG_ROWS_FUNC(suffix, attr, float, double, fd)                                 \
    GMM_MOMENT_ROWS_FUNC(suffix, attr, double, double, d)                               \
    GMM_MOMENT_ROWS_FUNC(suffix, attr, float, double, fd)

GMM_ROWS_ALL(base, )
GMM_TRI_SQNORM_FUNC(base, , double, d, 8)

typedef void (*gmm_mrows_d_fn)(const double *, ptrdiff_t, ptrdiff_t, const double *, double *,
                               double *);
typedef void (*gmm_mrows_fd_fn)(const float *, ptrdiff_t, ptrdiff_t, const float *, double *,
                                double *);
typedef void (*gmm_drows_d_fn)(const double *, ptrdiff_t, ptrdiff_t, const double *,
                               ptrdiff_t, double *);
typedef void (*gmm_drows_fd_fn)(const float *, ptrdiff_t, ptrdiff_t, const float *,
                                ptrdiff_t, double *);
static gmm_drows_d_fn gmm_diag_rows_d = gmm_diag_rows_d_base;
static gmm_drows_fd_fn gmm_diag_rows_fd = gmm_diag_rows_fd_base;
static gmm_mrows_d_fn gmm_moment_rows_d = gmm_moment_rows_d_base;
static gmm_mrows_fd_fn gmm_moment_rows_fd = gmm_moment_rows_fd_base;
typedef void (*gmm_trisq_d_fn)(const double *, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                               const double *, const double *, double, double *, double *,
                               double *);
static gmm_trisq_d_fn gmm_tri_sqnorm_d = gmm_tri_sqnorm_d_base;

#ifdef GMM_HAVE_AVX2_CLONE
GMM_ROWS_ALL(avx2, GMM_AVX2_ATTR)
GMM_ROWS_ALL(avx512, GMM_AVX512_ATTR)

/* gmm_tri_sqnorm with AVX2 intrinsics, for the AVX2 and the AVX-512 builds: gcc
   vectorised the C above with a lane permute for every broadcast (slower than
   OpenBLAS's trmm). The operations per element are those of the C (one fused
   multiply-add per product and per square, the same order), so the bits are those of
   any FMA build of it. */
#include <immintrin.h>

/* GMM_TRI_CENTRE4 for a whole group of 4 rows, 4 features at a time: the 4 rows'
   centred features (one subtraction each, as in the macro) transposed 4 x 4 into Zt.
   The scalar macro, with its test per row, took ~15% of the digits kernel. */
GMM_INLINE GMM_AVX2_ATTR void gmm_tri_centre4_d_avx2(const double *X, ptrdiff_t D,
                                                     const double *mu, double *Zt)
{
    ptrdiff_t l = 0;
    for (; l + 4 <= D; l += 4) {
        const __m256d m = _mm256_loadu_pd(mu + l);
        const __m256d r0 = _mm256_sub_pd(_mm256_loadu_pd(X + l), m);
        const __m256d r1 = _mm256_sub_pd(_mm256_loadu_pd(X + D + l), m);
        const __m256d r2 = _mm256_sub_pd(_mm256_loadu_pd(X + 2 * D + l), m);
        const __m256d r3 = _mm256_sub_pd(_mm256_loadu_pd(X + 3 * D + l), m);
        const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
        const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
        _mm256_storeu_pd(Zt + 4 * l, _mm256_permute2f128_pd(t0, t2, 0x20));
        _mm256_storeu_pd(Zt + 4 * l + 4, _mm256_permute2f128_pd(t1, t3, 0x20));
        _mm256_storeu_pd(Zt + 4 * l + 8, _mm256_permute2f128_pd(t0, t2, 0x31));
        _mm256_storeu_pd(Zt + 4 * l + 12, _mm256_permute2f128_pd(t1, t3, 0x31));
    }
    for (; l < D; l++)
        for (int r = 0; r < 4; r++) Zt[l * 4 + r] = X[r * D + l] - mu[l];
}

GMM_AVX2_ATTR static void gmm_tri_sqnorm_d_avx2(
    const double *X, ptrdiff_t n, ptrdiff_t D, ptrdiff_t K, ptrdiff_t k, const double *mu,
    const double *U, double cst, double *lp, double *Up, double *Zt)
{
    /* tiles of 8 columns, the last one of 4 when 4 or fewer columns remain */
    const ptrdiff_t Dp = (D + 3) / 4 * 4;
    GMM_TRI_PAD(double, U, D, Dp, Up)
    for (ptrdiff_t i0 = 0; i0 < n; i0 += 4) {
        const ptrdiff_t nr = n - i0 < 4 ? n - i0 : 4;
        __m256d s[4][2];
        if (nr == 4)
            gmm_tri_centre4_d_avx2(X + i0 * D, D, mu, Zt);
        else
            GMM_TRI_CENTRE4(double, X, D, mu, i0, nr, Zt)
        for (int r = 0; r < 4; r++) s[r][0] = s[r][1] = _mm256_setzero_pd();
        for (ptrdiff_t j0 = 0; j0 < Dp; j0 += 8) {
            const ptrdiff_t lend = j0 + 8 < D ? j0 + 8 : D;
            if (Dp - j0 == 4) {
                __m256d b0 = _mm256_setzero_pd(), b1 = b0, b2 = b0, b3 = b0;
                for (ptrdiff_t l = 0; l < lend; l++) {
                    const double *z = Zt + l * 4;
                    const __m256d u0 = _mm256_loadu_pd(Up + l * Dp + j0);
                    b0 = _mm256_fmadd_pd(_mm256_broadcast_sd(z), u0, b0);
                    b1 = _mm256_fmadd_pd(_mm256_broadcast_sd(z + 1), u0, b1);
                    b2 = _mm256_fmadd_pd(_mm256_broadcast_sd(z + 2), u0, b2);
                    b3 = _mm256_fmadd_pd(_mm256_broadcast_sd(z + 3), u0, b3);
                }
                s[0][0] = _mm256_fmadd_pd(b0, b0, s[0][0]);
                s[1][0] = _mm256_fmadd_pd(b1, b1, s[1][0]);
                s[2][0] = _mm256_fmadd_pd(b2, b2, s[2][0]);
                s[3][0] = _mm256_fmadd_pd(b3, b3, s[3][0]);
                break;
            }
            __m256d a00 = _mm256_setzero_pd(), a01 = a00, a10 = a00, a11 = a00;
            __m256d a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            for (ptrdiff_t l = 0; l < lend; l++) {
                const double *u = Up + l * Dp + j0;
                const double *z = Zt + l * 4;
                const __m256d u0 = _mm256_loadu_pd(u), u1 = _mm256_loadu_pd(u + 4);
                __m256d zr = _mm256_broadcast_sd(z);
                a00 = _mm256_fmadd_pd(zr, u0, a00); a01 = _mm256_fmadd_pd(zr, u1, a01);
                zr = _mm256_broadcast_sd(z + 1);
                a10 = _mm256_fmadd_pd(zr, u0, a10); a11 = _mm256_fmadd_pd(zr, u1, a11);
                zr = _mm256_broadcast_sd(z + 2);
                a20 = _mm256_fmadd_pd(zr, u0, a20); a21 = _mm256_fmadd_pd(zr, u1, a21);
                zr = _mm256_broadcast_sd(z + 3);
                a30 = _mm256_fmadd_pd(zr, u0, a30); a31 = _mm256_fmadd_pd(zr, u1, a31);
            }
            s[0][0] = _mm256_fmadd_pd(a00, a00, s[0][0]); s[0][1] = _mm256_fmadd_pd(a01, a01, s[0][1]);
            s[1][0] = _mm256_fmadd_pd(a10, a10, s[1][0]); s[1][1] = _mm256_fmadd_pd(a11, a11, s[1][1]);
            s[2][0] = _mm256_fmadd_pd(a20, a20, s[2][0]); s[2][1] = _mm256_fmadd_pd(a21, a21, s[2][1]);
            s[3][0] = _mm256_fmadd_pd(a30, a30, s[3][0]); s[3][1] = _mm256_fmadd_pd(a31, a31, s[3][1]);
        }
        for (int r = 0; r < nr; r++) {
            double t[8];
            _mm256_storeu_pd(t, s[r][0]);
            _mm256_storeu_pd(t + 4, s[r][1]);
            lp[(i0 + r) * K + k] = cst - 0.5 * gmm_sum8(t);
        }
    }
}

#define gmm_tri_sqnorm_d_avx512 gmm_tri_sqnorm_d_avx2
#endif

#define GMM_CHOOSE(suffix)                                                              \
    gmm_exp_d = gmm_exp_d_##suffix;                                                     \
    gmm_log_d = gmm_log_d_##suffix;                                                     \
    gmm_exp_f = gmm_exp_f_##suffix;                                                     \
    gmm_log_f = gmm_log_f_##suffix;                                                     \
    gmm_moment_rows_d = gmm_moment_rows_d_##suffix;                                     \
    gmm_diag_rows_d = gmm_diag_rows_d_##suffix;                                         \
    gmm_diag_rows_fd = gmm_diag_rows_fd_##suffix;                                       \
    gmm_moment_rows_fd = gmm_moment_rows_fd_##suffix;                                   \
    gmm_tri_sqnorm_d = gmm_tri_sqnorm_d_##suffix;

/* Pick the widest implementation this CPU runs, up to max_level (0 baseline, 1 AVX2+FMA,
   2 AVX-512: the GMMFAST_ISA switch, so tests can run the narrower clones on a wide
   CPU); call once at import. */
static void gmm_vmath_init(int max_level)
{
#ifdef GMM_HAVE_AVX2_CLONE
    __builtin_cpu_init();
    if (max_level >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vl")) {
        GMM_CHOOSE(avx512)
        gmm_vmath_isa = "avx512";
    } else if (max_level >= 1 && __builtin_cpu_supports("avx2")
               && __builtin_cpu_supports("fma")) {
        GMM_CHOOSE(avx2)
        gmm_vmath_isa = "avx2+fma";
    }
#endif
}

static const char *gmm_vmath_impl(void) { return gmm_vmath_isa; }

#endif
