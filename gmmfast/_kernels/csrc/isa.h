/* The instruction sets the kernels are built for, and the one choice among them.

   Every vector kernel is compiled once per instruction set, each build in a translation
   unit of its own compiled with that instruction set's flags (setup.py's ISA_BUILDS, one
   row per build and compiler family; the way numpy builds its dispatch targets, and what
   MSVC needs: it has no per-function target attributes):

     the module's own unit (_core.pyx, no GMM_TU_ISA)  baseline: what the compiler targets
                                                       by default (SSE2 on x86-64, ASIMD
                                                       on aarch64), and the choice
     csrc/isa_avx2.c    (GMM_TU_ISA = GMM_ISA_AVX2)     x86-64 AVX2 + FMA
     csrc/isa_avx512.c  (GMM_TU_ISA = GMM_ISA_AVX512)   x86-64 AVX-512 F, DQ, VL
     csrc/isa_neon.c    (GMM_TU_ISA = GMM_ISA_NEON)     aarch64 ASIMD (NEON, with FMA)

   The missing values' row pass (_missing_rows.pyx) includes missing_lanes.h, and the
   k-means start (_kmeans.pyx) kmeans_tiles.h, which include this header: the same
   builds, choice and dispatch for their kernels, with units of their own
   (csrc/missing_isa_<name>.c, csrc/kmeans_isa_<name>.c, compiled without
   contraction).

   Nothing is compiled with -march=native. Each of those files defines GMM_TU_ISA and
   includes kernels.h; every header then instantiates its kernels for that unit under
   the unit's suffix (GMM_SUFFIX: base, avx2, avx512, neon). Kernels written in plain C
   (vmath.h, normalize.h, feature_rows.h, small_full.h) are the same text in every build,
   vectorised by the compiler with the unit's flags; the tiled kernels (triangular.h,
   rank_update.h, diag_products.h) have intrinsics per instruction set and a plain C
   baseline.

   The module's unit learns which vector builds were compiled from GMM_BUILD_AVX2,
   GMM_BUILD_AVX512 and GMM_BUILD_NEON (set by setup.py). A kernel name_base / name_avx2
   / ... is reached through one function pointer, name (GMM_DISPATCH), which GMM_SELECT
   points at the build of gmm_isa; gmm_isa is set once, at import, by gmm_isa_detect
   (kernels.h), before any pointer is chosen.

   Adding an instruction set: a row in setup.py's ISA_BUILDS, a file csrc/isa_<name>.c
   like the others, its number, suffix, GMM_EXTERN_/GMM_PICK_ pair and detection below,
   and a build of each tiled kernel (or its plain C one) under #if GMM_TU_ISA == ....

   Bits: the AVX2 and AVX-512 builds of a kernel do the same operations per lane in the
   same order, so they agree to the bit. The x86 baseline build has no fused multiply-
   adds and may differ from them in the last place. On aarch64 every build has FMA; the
   compiler contracts a * b + c in the plain C code of either build, the NEON tiles use
   explicit FMAs in the vector builds' order, so the two agree to rounding.
*/
#ifndef GMMFAST_ISA_H
#define GMMFAST_ISA_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define GMM_INLINE static inline __attribute__((always_inline))
#else
#define GMM_INLINE static __forceinline
#endif

/* Loop shapes for the plain C kernels that the compiler vectorises over rows:
   GMM_UNROLL_FEATURES: unroll the next loop completely (a loop over a row's few features,
     at most 8, inside a loop over rows, which is then vectorised over the rows). gcc's
     own limits on complete unrolling leave such nests rolled, and the loop over rows
     scalar, from D = 3 or 4 on.
   GMM_LANE_LOOP: keep the next loop (over the 8 lanes of a group of rows) a loop, for
     the loop vectoriser, which makes it one vector operation. Unrolled first (gcc does
     so to a loop of 8), it is left to the straight-line vectoriser, which leaves the
     wider bodies scalar.
   Neither changes an operation or its order, only how the compiler lays them out. */
#if defined(__clang__)
#define GMM_UNROLL_FEATURES _Pragma("unroll 8")
#define GMM_LANE_LOOP _Pragma("unroll 1")
#elif defined(__GNUC__)
#define GMM_UNROLL_FEATURES _Pragma("GCC unroll 8")
#define GMM_LANE_LOOP _Pragma("GCC unroll 1")
#else
#define GMM_UNROLL_FEATURES
#define GMM_LANE_LOOP
#endif

/* GMM_EXACT_ATTR on a kernel and GMM_EXACT_BODY first in its body: no a * b + c of it
   is fused into one multiply-add, in any build (the vector builds of the kernels are
   otherwise compiled to contract): for loops whose results must be the baseline's
   scalar code's, bit for bit. */
#if defined(__clang__)
#define GMM_EXACT_ATTR
#define GMM_EXACT_BODY _Pragma("clang fp contract(off)")
#elif defined(__GNUC__)
#define GMM_EXACT_ATTR __attribute__((optimize("fp-contract=off")))
#define GMM_EXACT_BODY
#else
#define GMM_EXACT_ATTR
#define GMM_EXACT_BODY
#endif

/* gmm_isa's values, and the GMM_TU_ISA of each build's translation unit */
#define GMM_ISA_BASELINE 0
#define GMM_ISA_AVX2 1
#define GMM_ISA_AVX512 2
#define GMM_ISA_NEON 3

#ifndef GMM_TU_ISA
#define GMM_TU_ISA GMM_ISA_BASELINE
#endif
/* the module's own unit: the baseline build, the pointers and the choice */
#define GMM_MAIN_TU (GMM_TU_ISA == GMM_ISA_BASELINE)
/* the x86 vector units share the AVX2 intrinsics of some kernels */
#define GMM_TU_X86 (GMM_TU_ISA == GMM_ISA_AVX2 || GMM_TU_ISA == GMM_ISA_AVX512)

/* Linkage of a kernel: static in the module's unit; in a vector unit, external (the
   module's unit calls it) but hidden, so that no symbol leaves the extension. In the
   module's unit a kernel may go unused (the missing values' module builds the
   normalisation's header for one of its kernels). */
#if GMM_MAIN_TU && defined(__GNUC__)
#define GMM_KERNEL static __attribute__((unused))
#elif GMM_MAIN_TU
#define GMM_KERNEL static
#elif defined(__GNUC__) && !defined(_WIN32)
#define GMM_KERNEL __attribute__((visibility("hidden")))
#else
#define GMM_KERNEL
#endif

#if GMM_TU_ISA == GMM_ISA_AVX2
#define GMM_SUFFIX avx2
#elif GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_SUFFIX avx512
#elif GMM_TU_ISA == GMM_ISA_NEON
#define GMM_SUFFIX neon
#else
#define GMM_SUFFIX base
#endif

/* name##_<this unit's suffix>; GMM_INSTANTIATE(M) expands M(suffix, linkage), the form
   of every header's build macro (the extra level expands GMM_SUFFIX before pasting). */
#define GMM_PASTE_(a, b) a##_##b
#define GMM_PASTE(a, b) GMM_PASTE_(a, b)
#define GMM_NAME(name) GMM_PASTE(name, GMM_SUFFIX)
#define GMM_INSTANTIATE_(M, suffix) M(suffix, GMM_KERNEL)
#define GMM_INSTANTIATE(M) GMM_INSTANTIATE_(M, GMM_SUFFIX)

/* GMM_TILED_D(name, BASE, SIMD): this unit's build name_<suffix> of a double-precision
   tiled kernel, from its plain C form BASE(fname, linkage) in the module's unit and its
   vector form SIMD(fname, linkage, vector type, doubles a vector, intrinsics' prefix
   B of _mm<B>_...) in the vector units. Defined after the NEON shims' types below. */

#if GMM_TU_X86
#include <immintrin.h>
#endif

#if GMM_TU_ISA == GMM_ISA_AVX512
/* r[0..7] := the transpose of the 8 x 8 block whose rows are r[0..7] (moves only; the
   feature rows of shared_shift.h and the k-means++ tiles of kmeans_tiles.h) */
GMM_INLINE void gmm_transpose8_pd(__m512d r[8])
{
    __m512d t[8], u[8];
    for (int a = 0; a < 4; a++) {
        t[2 * a] = _mm512_unpacklo_pd(r[2 * a], r[2 * a + 1]);
        t[2 * a + 1] = _mm512_unpackhi_pd(r[2 * a], r[2 * a + 1]);
    }
    u[0] = _mm512_shuffle_f64x2(t[0], t[2], 0x88);
    u[1] = _mm512_shuffle_f64x2(t[0], t[2], 0xDD);
    u[2] = _mm512_shuffle_f64x2(t[1], t[3], 0x88);
    u[3] = _mm512_shuffle_f64x2(t[1], t[3], 0xDD);
    u[4] = _mm512_shuffle_f64x2(t[4], t[6], 0x88);
    u[5] = _mm512_shuffle_f64x2(t[4], t[6], 0xDD);
    u[6] = _mm512_shuffle_f64x2(t[5], t[7], 0x88);
    u[7] = _mm512_shuffle_f64x2(t[5], t[7], 0xDD);
    r[0] = _mm512_shuffle_f64x2(u[0], u[4], 0x88);
    r[4] = _mm512_shuffle_f64x2(u[0], u[4], 0xDD);
    r[2] = _mm512_shuffle_f64x2(u[1], u[5], 0x88);
    r[6] = _mm512_shuffle_f64x2(u[1], u[5], 0xDD);
    r[1] = _mm512_shuffle_f64x2(u[2], u[6], 0x88);
    r[5] = _mm512_shuffle_f64x2(u[2], u[6], 0xDD);
    r[3] = _mm512_shuffle_f64x2(u[3], u[7], 0x88);
    r[7] = _mm512_shuffle_f64x2(u[3], u[7], 0xDD);
}
#endif

#if GMM_TU_ISA == GMM_ISA_NEON
#include <arm_neon.h>
/* The x86 tile macros are written as _mm<B>_<op>_<ps|pd>(...): with B = neon these
   compile them for NEON unchanged, 4 floats or 2 doubles a vector (one FMA per product,
   as the x86 builds). */
typedef float32x4_t gmm_v4f;
typedef float64x2_t gmm_v2d;
GMM_INLINE gmm_v4f _mmneon_setzero_ps(void) { return vdupq_n_f32(0.0f); }
GMM_INLINE gmm_v2d _mmneon_setzero_pd(void) { return vdupq_n_f64(0.0); }
GMM_INLINE gmm_v4f _mmneon_set1_ps(float x) { return vdupq_n_f32(x); }
GMM_INLINE gmm_v2d _mmneon_set1_pd(double x) { return vdupq_n_f64(x); }
GMM_INLINE gmm_v4f _mmneon_loadu_ps(const float *p) { return vld1q_f32(p); }
GMM_INLINE gmm_v2d _mmneon_loadu_pd(const double *p) { return vld1q_f64(p); }
GMM_INLINE void _mmneon_storeu_ps(float *p, gmm_v4f v) { vst1q_f32(p, v); }
GMM_INLINE void _mmneon_storeu_pd(double *p, gmm_v2d v) { vst1q_f64(p, v); }
GMM_INLINE gmm_v4f _mmneon_sub_ps(gmm_v4f a, gmm_v4f b) { return vsubq_f32(a, b); }
GMM_INLINE gmm_v4f _mmneon_add_ps(gmm_v4f a, gmm_v4f b) { return vaddq_f32(a, b); }
GMM_INLINE gmm_v2d _mmneon_sub_pd(gmm_v2d a, gmm_v2d b) { return vsubq_f64(a, b); }
GMM_INLINE gmm_v2d _mmneon_add_pd(gmm_v2d a, gmm_v2d b) { return vaddq_f64(a, b); }
/* a * b + c, rounded once */
GMM_INLINE gmm_v4f _mmneon_fmadd_ps(gmm_v4f a, gmm_v4f b, gmm_v4f c) { return vfmaq_f32(c, a, b); }
GMM_INLINE gmm_v2d _mmneon_fmadd_pd(gmm_v2d a, gmm_v2d b, gmm_v2d c) { return vfmaq_f64(c, a, b); }
#endif

#if GMM_MAIN_TU
#define GMM_TILED_D(name, BASE, SIMD) BASE(name##_base, GMM_KERNEL)
#elif GMM_TU_ISA == GMM_ISA_AVX2
#define GMM_TILED_D(name, BASE, SIMD) SIMD(name##_avx2, GMM_KERNEL, __m256d, 4, 256)
#elif GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_TILED_D(name, BASE, SIMD) SIMD(name##_avx512, GMM_KERNEL, __m512d, 8, 512)
#elif GMM_TU_ISA == GMM_ISA_NEON
#define GMM_TILED_D(name, BASE, SIMD) SIMD(name##_neon, GMM_KERNEL, gmm_v2d, 2, neon)
#endif

#if GMM_MAIN_TU

static int gmm_isa = GMM_ISA_BASELINE;

/* The vector builds' kernels, declared for the module's unit: extern (with the
   linkage of GMM_KERNEL) when setup.py compiled that build, nothing otherwise. */
#if defined(__GNUC__) && !defined(_WIN32)
#define GMM_EXTERN_(type, name, suffix) \
    extern __attribute__((visibility("hidden"))) type name##_##suffix;
#else
#define GMM_EXTERN_(type, name, suffix) extern type name##_##suffix;
#endif
#ifdef GMM_BUILD_AVX2
#define GMM_EXTERN_AVX2(type, name) GMM_EXTERN_(type, name, avx2)
#define GMM_PICK_AVX2(name) gmm_isa == GMM_ISA_AVX2 ? name##_avx2 :
#else
#define GMM_EXTERN_AVX2(type, name)
#define GMM_PICK_AVX2(name)
#endif
#ifdef GMM_BUILD_AVX512
#define GMM_EXTERN_AVX512(type, name) GMM_EXTERN_(type, name, avx512)
#define GMM_PICK_AVX512(name) gmm_isa == GMM_ISA_AVX512 ? name##_avx512 :
#else
#define GMM_EXTERN_AVX512(type, name)
#define GMM_PICK_AVX512(name)
#endif
#ifdef GMM_BUILD_NEON
#define GMM_EXTERN_NEON(type, name) GMM_EXTERN_(type, name, neon)
#define GMM_PICK_NEON(name) gmm_isa == GMM_ISA_NEON ? name##_neon :
#else
#define GMM_EXTERN_NEON(type, name)
#define GMM_PICK_NEON(name)
#endif

/* The pointer name (of function type `type`), first at the baseline build, and the
   vector builds it may be pointed at. */
#define GMM_DISPATCH(type, name)                                                        \
    GMM_EXTERN_AVX2(type, name)                                                         \
    GMM_EXTERN_AVX512(type, name)                                                       \
    GMM_EXTERN_NEON(type, name)                                                         \
    static type *name = name##_base;

#define GMM_SELECT(fn, name)                                                            \
    (fn) = GMM_PICK_AVX512(name) GMM_PICK_AVX2(name) GMM_PICK_NEON(name) name##_base

#if defined(GMM_BUILD_AVX2) || defined(GMM_BUILD_AVX512)
#if defined(__GNUC__) || defined(__clang__)
static void gmm_cpu_x86(int *avx2, int *avx512)
{
    __builtin_cpu_init();
    *avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    *avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
              && __builtin_cpu_supports("avx512vl");
}
#elif defined(_MSC_VER)
#include <intrin.h>
/* CPUID for the instructions, XGETBV for the operating system saving the registers
   (YMM: XCR0 bits 1-2; ZMM and mask registers: bits 5-7 as well). */
static void gmm_cpu_x86(int *avx2, int *avx512)
{
    int r[4];
    unsigned long long xcr0 = 0;
    *avx2 = *avx512 = 0;
    __cpuid(r, 0);
    if (r[0] < 7)
        return;
    __cpuid(r, 1);
    const int fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    if (!osxsave || !avx)
        return;
    xcr0 = _xgetbv(0);
    __cpuidex(r, 7, 0);
    *avx2 = fma && (xcr0 & 0x6) == 0x6 && ((r[1] >> 5) & 1);
    *avx512 = *avx2 && (xcr0 & 0xe6) == 0xe6 && ((r[1] >> 16) & 1)   /* F */
              && ((r[1] >> 17) & 1) && ((r[1] >> 31) & 1);             /* DQ, VL */
}
#else
static void gmm_cpu_x86(int *avx2, int *avx512) { *avx2 = *avx512 = 0; }
#endif
#endif

/* gmm_isa := the widest build compiled in that this CPU runs, up to max_level (the
   GMMFAST_ISA switch: 0 baseline, 1 AVX2 or NEON, 2 AVX-512; so that tests can run the
   narrower builds on a wide CPU). */
static void gmm_isa_detect(int max_level)
{
    gmm_isa = GMM_ISA_BASELINE;
#if defined(GMM_BUILD_AVX2) || defined(GMM_BUILD_AVX512)
    int avx2 = 0, avx512 = 0;
    gmm_cpu_x86(&avx2, &avx512);
    (void) avx2, (void) avx512;
#ifdef GMM_BUILD_AVX512
    if (max_level >= 2 && avx512) {
        gmm_isa = GMM_ISA_AVX512;
        return;
    }
#endif
#ifdef GMM_BUILD_AVX2
    if (max_level >= 1 && avx2)
        gmm_isa = GMM_ISA_AVX2;
#endif
#endif
#ifdef GMM_BUILD_NEON
    /* ASIMD with FMA is part of every AArch64 CPU */
    if (max_level >= 1)
        gmm_isa = GMM_ISA_NEON;
#endif
    (void) max_level;
}

static const char *gmm_isa_name(void)
{
    return gmm_isa == GMM_ISA_AVX512 ? "avx512" : gmm_isa == GMM_ISA_AVX2 ? "avx2+fma"
         : gmm_isa == GMM_ISA_NEON ? "neon" : "baseline";
}

/* The builds compiled into this module, widest last. */
static const char *gmm_isa_builds(void)
{
    return "baseline"
#ifdef GMM_BUILD_AVX2
           ",avx2+fma"
#endif
#ifdef GMM_BUILD_AVX512
           ",avx512"
#endif
#ifdef GMM_BUILD_NEON
           ",neon"
#endif
        ;
}

#endif /* GMM_MAIN_TU */

#endif
