/* The instruction sets the kernels are built for, and the one choice among them.

   Every vector kernel is compiled in up to three builds in this one translation unit:
   baseline (what the compiler targets by default: SSE2 on x86-64, so the wheels run on
   any x86-64 CPU), AVX2+FMA, and AVX-512 (F, DQ, VL). The two wider builds exist for
   GCC and clang on x86 only, through target attributes on each function: nothing is
   compiled with -march=native. A kernel named name_base / name_avx2 / name_avx512 is
   reached through one function pointer, name, which GMM_SELECT points at the build of
   gmm_isa; gmm_isa is set once, at import, by gmm_isa_init (kernels.h), before any
   pointer is chosen.

   Bits: the AVX2 and AVX-512 builds of a kernel do the same operations per lane in the
   same order, so they agree to the bit; the baseline build has no fused multiply-adds
   and may differ from them in the last place.
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

enum { GMM_ISA_BASELINE = 0, GMM_ISA_AVX2 = 1, GMM_ISA_AVX512 = 2 };

static int gmm_isa = GMM_ISA_BASELINE;

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define GMM_X86_BUILDS 1
#include <immintrin.h>
#define GMM_AVX2_ATTR __attribute__((target("avx2,fma")))
#define GMM_AVX512_ATTR __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#define GMM_AVX2_INLINE GMM_INLINE GMM_AVX2_ATTR
#define GMM_AVX512_INLINE GMM_INLINE GMM_AVX512_ATTR
#define GMM_SELECT(fn, name)                                                            \
    (fn) = gmm_isa == GMM_ISA_AVX512 ? name##_avx512                                    \
         : gmm_isa == GMM_ISA_AVX2 ? name##_avx2 : name##_base
#else
#define GMM_SELECT(fn, name) (fn) = name##_base
#endif

/* gmm_isa := the widest build this CPU runs, up to max_level (the GMMFAST_ISA switch,
   so that tests can run the narrower builds on a wide CPU). */
static void gmm_isa_detect(int max_level)
{
    gmm_isa = GMM_ISA_BASELINE;
#ifdef GMM_X86_BUILDS
    __builtin_cpu_init();
    if (max_level >= GMM_ISA_AVX512 && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        gmm_isa = GMM_ISA_AVX512;
    else if (max_level >= GMM_ISA_AVX2 && __builtin_cpu_supports("avx2")
             && __builtin_cpu_supports("fma"))
        gmm_isa = GMM_ISA_AVX2;
#else
    (void) max_level;
#endif
}

static const char *gmm_isa_name(void)
{
    return gmm_isa == GMM_ISA_AVX512 ? "avx512" : gmm_isa == GMM_ISA_AVX2 ? "avx2+fma"
                                                                       : "baseline";
}

#endif
