/* Vector exp and log over arrays, and sums in a fixed order.

   Why: the E-step takes N*K exponentials and N logarithms per iteration. The C
   library's exp/log are scalar calls the compiler cannot vectorise; these loops are
   plain arithmetic on doubles/floats and bit patterns, which gcc and clang vectorise
   at -O3 without -ffast-math (setup.py adds -fno-trapping-math, clang's default, so that
   gcc may turn the clamps below into selects; it changes no results). Each array loop
   is built once per instruction set (isa.h).

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

#include "isa.h"

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
    /* Taylor series to r^12 / 12!: truncation up to 2.3e-16 relative on |r| <= 0.347
       (at r = -ln 2 / 2; with the rounding, 3.2e-16 measured) */
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

/* gmm_exp1_d on 8 lanes, for the AVX-512 build's hot loops (GMM_EXP_D_LANES). The
   same operations as gcc makes of gmm_exp1_d under that build's flags (each a * b + c
   fused, the clamp's lanes, whose result is exp(-746) = 0, zeroed), except 2^n: one
   vscalefpd, which rounds (1 + p) 2^n once, as the product by 2^h and then by
   2^(n - h) does (the first factor is exact). So the same bits, in ~11 fewer
   operations of ~33. tests/test_vmath.py holds the AVX-512 build to the AVX2
   build's bits. Not in a unit that keeps the baseline's unfused bits (GMM_UNFUSED_TU:
   the missing values' lanes), where the plain loop compiles without contraction. */
#if GMM_TU_ISA == GMM_ISA_AVX512 && !defined(GMM_UNFUSED_TU)
GMM_INLINE __m512d gmm_exp8_d(__m512d x)
{
    const __m512d round = _mm512_set1_pd(GMM_ROUND_D);
    const __mmask8 keep = _mm512_cmp_pd_mask(x, _mm512_set1_pd(-746.0), _CMP_NLT_UQ);
    const __m512d n = _mm512_sub_pd(
        _mm512_fmadd_pd(x, _mm512_set1_pd(1.4426950408889634), round), round);
    const __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10),
                                       _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), x));
    __m512d p = _mm512_fmadd_pd(_mm512_set1_pd(1.0 / 479001600.0), r,
                                _mm512_set1_pd(1.0 / 39916800.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 3628800.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 362880.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 40320.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 5040.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 720.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 120.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 24.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 6.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.5));
    p = _mm512_fmadd_pd(_mm512_mul_pd(p, r), r, r);
    return _mm512_maskz_scalef_pd(keep, _mm512_add_pd(p, _mm512_set1_pd(1.0)), n);
}

/* for (; i + 8 <= n; i += 8): e = exp(X) (X a vector expression of i), then STMT
   (which reads e and i); the caller's scalar loop takes the rest with gmm_exp1_d,
   with the same bits. Nothing in the other builds, whose compilers vectorise that
   loop as it is. */
#define GMM_EXP_D_LANES(i, n, X, STMT)                                                  \
    for (; (i) + 8 <= (n); (i) += 8) {                                                  \
        const __m512d e = gmm_exp8_d(X);                                                \
        STMT;                                                                           \
    }
/* the vector a[i..i+8) - b[i..i+8) */
#define GMM_SUB8_D(a, b, i) _mm512_sub_pd(_mm512_loadu_pd((a) + (i)), _mm512_loadu_pd((b) + (i)))
/* p[0..8) += e */
#define GMM_ADD8_D(p, e) _mm512_storeu_pd((p), _mm512_add_pd(_mm512_loadu_pd(p), (e)))
#else
#define GMM_EXP_D_LANES(i, n, X, STMT)
#endif
/* the lanes for a type's normalisation: double's, and none for float */
#define GMM_EXP_LANES_d GMM_EXP_D_LANES
#define GMM_EXP_LANES_f(i, n, X, STMT)

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
    /* Taylor to r^7 / 7!: truncation up to 7e-9 relative on |r| <= 0.347 */
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

#define GMM_ARRAY_LOOPS(suffix, linkage)                                                \
    linkage void gmm_exp_d_##suffix(double *x, ptrdiff_t n)                             \
    {                                                                                   \
        ptrdiff_t i = 0;                                                                \
        GMM_EXP_D_LANES(i, n, _mm512_loadu_pd(x + i), _mm512_storeu_pd(x + i, e))       \
        for (; i < n; i++) x[i] = gmm_exp1_d(x[i]);                                     \
    }                                                                                   \
    linkage void gmm_log_d_##suffix(double *x, ptrdiff_t n)                             \
    { for (ptrdiff_t i = 0; i < n; i++) x[i] = gmm_log1_d(x[i]); }                     \
    linkage void gmm_exp_f_##suffix(float *x, ptrdiff_t n)                              \
    { for (ptrdiff_t i = 0; i < n; i++) x[i] = gmm_exp1_f(x[i]); }                     \
    linkage void gmm_log_f_##suffix(float *x, ptrdiff_t n)                              \
    { for (ptrdiff_t i = 0; i < n; i++) x[i] = gmm_log1_f(x[i]); }                     \
    GMM_NOT_FINITE(suffix, linkage, double, d)                                          \
    GMM_NOT_FINITE(suffix, linkage, float, f)

/* Whether any of x[0..n) is NaN or infinite: x - x is 0 for a finite x and NaN
   otherwise, and NaN != 0. No branch in the loop, so it vectorises (an OR of the
   compares); input validation of every fit and prediction runs it over all of X. */
#define GMM_NOT_FINITE(suffix, linkage, T, t)                                           \
    linkage int gmm_any_not_finite_##t##_##suffix(const T *x, ptrdiff_t n)              \
    {                                                                                   \
        int found = 0;                                                                  \
        for (ptrdiff_t i = 0; i < n; i++) found |= (x[i] - x[i]) != (T) 0;              \
        return found;                                                                   \
    }

/* every build (AVX-512: 8 lanes, twice the exponentials a cycle where 512-bit vectors
   run at full rate; the same operations per lane as the AVX2 build, so the same bits) */
GMM_INSTANTIATE(GMM_ARRAY_LOOPS)

typedef void gmm_vfunc_d(double *, ptrdiff_t);
typedef void gmm_vfunc_f(float *, ptrdiff_t);
typedef int gmm_nf_d(const double *, ptrdiff_t);
typedef int gmm_nf_f(const float *, ptrdiff_t);

#if GMM_MAIN_TU
GMM_DISPATCH(gmm_vfunc_d, gmm_exp_d)
GMM_DISPATCH(gmm_vfunc_d, gmm_log_d)
GMM_DISPATCH(gmm_vfunc_f, gmm_exp_f)
GMM_DISPATCH(gmm_vfunc_f, gmm_log_f)
GMM_DISPATCH(gmm_nf_d, gmm_any_not_finite_d)
GMM_DISPATCH(gmm_nf_f, gmm_any_not_finite_f)
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

/* the double names, for macros that paste a type letter */
#define gmm_sum_d gmm_sum
#define gmm_dot_d gmm_dot
#define gmm_wsum_d gmm_dot

#if GMM_MAIN_TU
static void gmm_vmath_select(void)
{
    GMM_SELECT(gmm_exp_d, gmm_exp_d);
    GMM_SELECT(gmm_log_d, gmm_log_d);
    GMM_SELECT(gmm_exp_f, gmm_exp_f);
    GMM_SELECT(gmm_log_f, gmm_log_f);
    GMM_SELECT(gmm_any_not_finite_d, gmm_any_not_finite_d);
    GMM_SELECT(gmm_any_not_finite_f, gmm_any_not_finite_f);
}
#endif

#endif
