/* The m x m blocks of a row's missing features, for all components at once: the row
   pass of missing values (gmmfast/_missing_rows.pyx) factors P_k[M, M] for every
   component k, inverts the factors where its statistics read them, and solves with
   them row by row; through moment rows (_missing_moments.pxi) it also takes a run's
   row-free part of b and a row's filled entries' products over all components. m is
   small (a row's missing features), K may be large.

   Arrays are component last ((m, m, K): entry (i, j) of component k at
   (i m + j) K + k), so that one vector holds the same entry of consecutive
   components. Each function works through tiles of GMM_ML components whose running
   sums stay in registers while it walks the short loops over the m x m entries (a
   loop over all K lanes per entry, as the Cython form did, stores and reloads its
   sums for every term). Per component the operations and their order are those of a
   plain Cholesky, triangular inverse and triangular solves, with no fused multiply-
   add (the missing-values module's vector builds are compiled with contraction off,
   see setup.py), so every build gives the bits of the baseline, whatever K and
   however the lanes are grouped.

   The module's own unit (the baseline build) holds the dispatch pointers and
   gmm_missing_lanes_init; each vector build is its own translation unit
   (missing_isa_<name>.c), as the kernels' builds are (isa.h). */
#ifndef GMMFAST_MISSING_LANES_H
#define GMMFAST_MISSING_LANES_H

#include <math.h>
#include "isa.h"
/* the kernels' vector exp and log, and their row-major normalisation, built here too:
   without the AVX-512 exponential's lanes (vmath.h, gmm_exp8_d), whose multiply-adds
   are fused, so that this module's builds keep the baseline's bits */
#define GMM_UNFUSED_TU 1
#include "normalize.h"

/* components a tile */
#define GMM_ML 32

/* A loop over a tile's lanes (its components): vectorised across them. Left to
   itself, gcc vectorised some tiles along the loop around it instead (the m x m
   entries, read through the row's missing columns: gathered a double at a time) and
   kept the lanes' sums in memory. Each lane's operations and their order stay its
   own (no reduction across the lanes), so this changes no result. The module's units
   are compiled with OpenMP's simd directives (-fopenmp-simd, setup.py). */
#if defined(_OPENMP) || defined(__clang__) || defined(__GNUC__)
#define GMM_ML_LANES _Pragma("omp simd")
/* the same, for a loop that ORs its lanes' tests into out_ */
#define GMM_ML_ANY_OUT _Pragma("omp simd reduction(|:out_)")
#else
#define GMM_ML_LANES
#define GMM_ML_ANY_OUT
#endif

/* Tiles of GMM_ML components, then one of 16 and one of 8 if that many are left, then
   the rest: the bodies below are written once for a variable nl <= GMM_ML and
   instantiated with nl a constant for the full tiles (their inner loops then have a
   fixed count, and the compiler keeps each in vector registers; the lanes of several
   registers make independent chains, which hide the latency of each addition) and
   with the variable rest, fewer than 8. */
#define GMM_ML_TILES(K, BODY)                                                           \
    {                                                                                   \
        ptrdiff_t k0 = 0;                                                               \
        for (; k0 + GMM_ML <= (K); k0 += GMM_ML) BODY(GMM_ML)                           \
        if (k0 + 16 <= (K)) { BODY(16) k0 += 16; }                                      \
        if (k0 + 8 <= (K)) { BODY(8) k0 += 8; }                                         \
        if (k0 < (K)) BODY((K) - k0)                                                    \
    }

/* GMM_ML_TILES over the components from k0 on (those the fixed-m groups below left) */
#define GMM_ML_TILES_FROM(start, K, BODY)                                               \
    {                                                                                   \
        ptrdiff_t k0 = (start);                                                         \
        for (; k0 + GMM_ML <= (K); k0 += GMM_ML) BODY(GMM_ML)                           \
        if (k0 + 16 <= (K)) { BODY(16) k0 += 16; }                                      \
        if (k0 + 8 <= (K)) { BODY(8) k0 += 8; }                                         \
        if (k0 < (K)) BODY((K) - k0)                                                    \
    }

/* The factor, the inverse, the solve and the base at a fixed m (1..GMM_FIXED_M_MAX,
   most rows' m): the whole m x m problem of a group of GMM_G components in local
   arrays whose every index is a constant once the loops are unrolled, so that the
   compiler keeps them in vector registers, where the tiles load and store each entry
   for every term (their loops' counts are only known at run time; the gain is in
   bench/results/missing.md). Each entry's operations and their order are the tiles',
   so the bits are too (the module's tests compare every build against the plain
   baseline, and a group's component against the same component in a tile). */
#define GMM_FIXED_M_MAX 12
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_G 8                 /* one vector register a group */
#else
#define GMM_G 4                 /* AVX2: one; SSE2 and NEON: two (16 and 32 of them) */
#endif
#if defined(__clang__)
#define GMM_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define GMM_UNROLL _Pragma("GCC unroll 128")
#else
#define GMM_UNROLL
#endif
/* the fixed-m groups in functions of their own: inlined, their unrolled code made the
   tiles' (the components left over) spill their registers */
#if defined(_MSC_VER)
#define GMM_NOINLINE static __declspec(noinline)
#else
#define GMM_NOINLINE static __attribute__((noinline))
#endif
/* BODY(M) for the m = M of 1..GMM_FIXED_M_MAX, nothing for the others */
#define GMM_FIXED_M_SWITCH(m, BODY)                                                     \
    switch (m) {                                                                        \
    case 1: BODY(1) break;                                                              \
    case 2: BODY(2) break;                                                              \
    case 3: BODY(3) break;                                                              \
    case 4: BODY(4) break;                                                              \
    case 5: BODY(5) break;                                                              \
    case 6: BODY(6) break;                                                              \
    case 7: BODY(7) break;                                                              \
    case 8: BODY(8) break;                                                              \
    case 9: BODY(9) break;                                                              \
    case 10: BODY(10) break;                                                            \
    case 11: BODY(11) break;                                                            \
    case 12: BODY(12) break;                                                            \
    default: break;                                                                     \
    }
/* entry (i, j), j <= i, of a packed lower triangle */
#define GMM_TRI(i, j) ((i) * ((i) + 1) / 2 + (j))

#define GMM_LANES_FACTOR(suffix, linkage)                                               \
/* Factor P_k[M, M] = L_k L_k^T for every component (P component last, (D, D, K)):    \
   L (m, m, K), idg (m, K) = 1 / L[j, j], hl (K,) = sum_j log L[j, j]. */              \
GMM_NOINLINE ptrdiff_t gmm_factor_fixed_##suffix(                                        \
    const double *Pt, const ptrdiff_t *Mr, ptrdiff_t m, ptrdiff_t D, ptrdiff_t K,       \
    double *L, double *idg, double *hl)                                                 \
{                                                                                       \
    ptrdiff_t kf = 0;                                                                   \
    GMM_FIXED_M_SWITCH(m, GMM_FACTOR_FIXED)                                            \
    return kf;                                                                          \
}                                                                                       \
linkage void gmm_lanes_factor_##suffix(                                                 \
    const double *Pt, const ptrdiff_t *Mr, ptrdiff_t m, ptrdiff_t D, ptrdiff_t K,       \
    double *L, double *idg, double *hl)                                                 \
{                                                                                       \
    const ptrdiff_t kf =                                                                \
        K >= GMM_G ? gmm_factor_fixed_##suffix(Pt, Mr, m, D, K, L, idg, hl) : 0;        \
    if (kf < K) GMM_ML_TILES_FROM(kf, K, GMM_FACTOR_TILE)                               \
}

/* gmm_lanes_factor's groups of GMM_G components at m = M, the factor in registers
   (w_: its lower triangle, packed; d_: 1 / its diagonal), stored once at the end: the
   tile's operations in its order, entry by entry. The tile takes a lane's product of
   diagonals into its log whenever it leaves [1e-100, 1e100]; here the groups stop at
   the first where any lane does (rare), leaving it and the components after it to the
   tiles (from kf, returned), so that no call to log sits among the columns (a call
   there made the compiler keep the factor in memory) and the bits stay the tile's
   (whose sum of logs is 0 + log(product) where no lane left the range). */
#define GMM_FACTOR_FIXED(M)                                                             \
    {                                                                                   \
        enum { mf_ = (M), nt_ = (M) * ((M) + 1) / 2 };                                  \
        for (; kf + GMM_G <= K; kf += GMM_G) {                                          \
            double w_[nt_][GMM_G], d_[mf_][GMM_G], S_[GMM_G], prod_[GMM_G];             \
            double hi_[GMM_G], lo_[GMM_G];                                              \
            int out_ = 0;                                                               \
            GMM_ML_LANES                                                                \
            for (int l = 0; l < GMM_G; l++) { prod_[l] = 1.0; hi_[l] = 1.0; lo_[l] = 1.0; } \
            GMM_UNROLL                                                                  \
            for (int j = 0; j < mf_; j++) {                                             \
                GMM_UNROLL                                                              \
                for (int i = j; i < mf_; i++) {                                         \
                    const double *si = Pt + (Mr[i] * D + Mr[j]) * K + kf;               \
                    GMM_ML_LANES                                                        \
                    for (int l = 0; l < GMM_G; l++) S_[l] = si[l];                      \
                    GMM_UNROLL                                                          \
                    for (int c = 0; c < j; c++) {                                       \
                        GMM_ML_LANES                                                    \
                        for (int l = 0; l < GMM_G; l++)                                 \
                            S_[l] = S_[l] - w_[GMM_TRI(i, c)][l] * w_[GMM_TRI(j, c)][l]; \
                    }                                                                   \
                    GMM_ML_LANES                                                        \
                    for (int l = 0; l < GMM_G; l++) w_[GMM_TRI(i, j)][l] = S_[l];       \
                }                                                                       \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_G; l++) {                                       \
                    w_[GMM_TRI(j, j)][l] = sqrt(w_[GMM_TRI(j, j)][l]);                  \
                    d_[j][l] = 1.0 / w_[GMM_TRI(j, j)][l];                              \
                    prod_[l] = prod_[l] * w_[GMM_TRI(j, j)][l];                         \
                    /* the products' extremes so far (a NaN is neither, as it passes    \
                       neither test below): tested once, after the columns */           \
                    hi_[l] = prod_[l] > hi_[l] ? prod_[l] : hi_[l];                     \
                    lo_[l] = prod_[l] < lo_[l] ? prod_[l] : lo_[l];                     \
                }                                                                       \
                GMM_UNROLL                                                              \
                for (int i = j + 1; i < mf_; i++) {                                     \
                    GMM_ML_LANES                                                        \
                    for (int l = 0; l < GMM_G; l++)                                     \
                        w_[GMM_TRI(i, j)][l] = w_[GMM_TRI(i, j)][l] * d_[j][l];         \
                }                                                                       \
            }                                                                           \
            /* a test a column, over the lanes, kept the compiler from keeping the      \
               product in a register: it stored it and read its lanes back one by one */ \
            GMM_ML_ANY_OUT                                                              \
            for (int l = 0; l < GMM_G; l++)                                             \
                out_ |= (hi_[l] > 1e100) | (lo_[l] < 1e-100);                           \
            if (out_)                                                                   \
                break;  /* this group and the rest to the tiles */                      \
            GMM_UNROLL                                                                  \
            for (int i = 0; i < mf_; i++) {                                             \
                GMM_UNROLL                                                              \
                for (int j = 0; j <= i; j++) {                                          \
                    double *o_ = L + (i * mf_ + j) * K + kf;                            \
                    GMM_ML_LANES                                                        \
                    for (int l = 0; l < GMM_G; l++) o_[l] = w_[GMM_TRI(i, j)][l];       \
                }                                                                       \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_G; l++) idg[i * K + kf + l] = d_[i][l];         \
            }                                                                           \
            for (int l = 0; l < GMM_G; l++) hl[kf + l] = 0.0 + log(prod_[l]);           \
        }                                                                               \
    }

#define GMM_FACTOR_TILE(NL)                                                             \
    {                                                                                   \
        const ptrdiff_t nl = (NL);                                                      \
        double S[GMM_ML], prod[GMM_ML], h[GMM_ML];                                      \
        GMM_ML_LANES                                                                   \
        for (ptrdiff_t l = 0; l < nl; l++) { h[l] = 0.0; prod[l] = 1.0; }               \
        for (ptrdiff_t j = 0; j < m; j++) {                                             \
            double *Lj = L + j * m * K + k0;                                            \
            /* column j: P[M_i, M_j] - sum_c L[i, c] L[j, c] for i >= j, then the      \
               diagonal's square root and the others divided by it */                   \
            for (ptrdiff_t i = j; i < m; i++) {                                         \
                const double *si = Pt + (Mr[i] * D + Mr[j]) * K + k0;                   \
                double *Li = L + i * m * K + k0;                                        \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = si[l];                        \
                for (ptrdiff_t c = 0; c < j; c++) {                                     \
                    GMM_ML_LANES                                                       \
                    for (ptrdiff_t l = 0; l < nl; l++)                                  \
                        S[l] = S[l] - Li[c * K + l] * Lj[c * K + l];                    \
                }                                                                       \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) Li[j * K + l] = S[l];                \
            }                                                                           \
            GMM_ML_LANES                                                               \
            for (ptrdiff_t l = 0; l < nl; l++) {                                        \
                Lj[j * K + l] = sqrt(Lj[j * K + l]);                                    \
                idg[j * K + k0 + l] = 1.0 / Lj[j * K + l];                              \
                /* one log per run and component rather than m: the product, taken     \
                   into the log before it can leave the range of doubles */             \
                prod[l] = prod[l] * Lj[j * K + l];                                      \
            }                                                                           \
            /* the lanes tested at once: a lane's own test and log only where one is    \
               out of range (rare), as a branch a lane cost a scalar pass a column */   \
            int out_ = 0;                                                               \
            GMM_ML_ANY_OUT                                                              \
            for (ptrdiff_t l = 0; l < nl; l++)                                          \
                out_ |= (prod[l] > 1e100) | (prod[l] < 1e-100);                         \
            if (out_)                                                                   \
                for (ptrdiff_t l = 0; l < nl; l++)                                      \
                    if (prod[l] > 1e100 || prod[l] < 1e-100) {                          \
                        h[l] = h[l] + log(prod[l]);                                     \
                        prod[l] = 1.0;                                                  \
                    }                                                                   \
            for (ptrdiff_t i = j + 1; i < m; i++) {                                     \
                double *Li = L + i * m * K + k0;                                        \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++)                                      \
                    Li[j * K + l] = Li[j * K + l] * idg[j * K + k0 + l];                \
            }                                                                           \
        }                                                                               \
        for (ptrdiff_t l = 0; l < nl; l++) hl[k0 + l] = h[l] + log(prod[l]);            \
    }

#define GMM_LANES_INVERSE(suffix, linkage)                                              \
/* The inverses of the factored P_k[M, M] (L, idg from gmm_lanes_factor): Li (m, m, K) \
   scratch, L^-1; Ap the lower triangle of A^-1 = L^-T L^-1 row by row ((a, c) for     \
   c <= a), component last: entry at of component k at Ap[at fs + k] (fs >= K; one     \
   vector store a tile's entry, where component first took a store a lane). */          \
GMM_NOINLINE ptrdiff_t gmm_inverse_fixed_##suffix(                                       \
    const double *L, const double *idg, ptrdiff_t m, ptrdiff_t K, double *Ap,           \
    ptrdiff_t fs)                                                                       \
{                                                                                       \
    ptrdiff_t kf = 0;                                                                   \
    GMM_FIXED_M_SWITCH(m, GMM_INVERSE_FIXED)                                           \
    return kf;                                                                          \
}                                                                                       \
linkage void gmm_lanes_inverse_##suffix(                                                \
    const double *L, const double *idg, ptrdiff_t m, ptrdiff_t K, double *Li,           \
    double *Ap, ptrdiff_t fs)                                                           \
{                                                                                       \
    const ptrdiff_t kf = K >= GMM_G ? gmm_inverse_fixed_##suffix(L, idg, m, K, Ap, fs) : 0; \
    if (kf < K) GMM_ML_TILES_FROM(kf, K, GMM_INVERSE_TILE)                              \
}

/* gmm_lanes_inverse's groups of GMM_G components at m = M (kf: the first component
   after them): L^-1 column by column, then A^-1 entry by entry, as the tile */
#define GMM_INVERSE_FIXED(M)                                                            \
    {                                                                                   \
        enum { mf_ = (M), nt_ = (M) * ((M) + 1) / 2 };                                  \
        for (; kf + GMM_G <= K; kf += GMM_G) {                                          \
            double w_[nt_][GMM_G], d_[mf_][GMM_G];                                      \
            GMM_UNROLL                                                                  \
            for (int i = 0; i < mf_; i++) {                                             \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_G; l++) d_[i][l] = idg[i * K + kf + l];         \
            }                                                                           \
            GMM_UNROLL                                                                  \
            for (int j = 0; j < mf_; j++) {                                             \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_G; l++) w_[GMM_TRI(j, j)][l] = d_[j][l];        \
                GMM_UNROLL                                                              \
                for (int i = j + 1; i < mf_; i++) {                                     \
                    double S_[GMM_G];                                                   \
                    GMM_ML_LANES                                                        \
                    for (int l = 0; l < GMM_G; l++) S_[l] = 0.0;                        \
                    GMM_UNROLL                                                          \
                    for (int c = j; c < i; c++) {                                       \
                        const double *Lic = L + (i * mf_ + c) * K + kf;                 \
                        GMM_ML_LANES                                                    \
                        for (int l = 0; l < GMM_G; l++)                                 \
                            S_[l] = S_[l] + Lic[l] * w_[GMM_TRI(c, j)][l];              \
                    }                                                                   \
                    GMM_ML_LANES                                                        \
                    for (int l = 0; l < GMM_G; l++)                                     \
                        w_[GMM_TRI(i, j)][l] = -S_[l] * d_[i][l];                       \
                }                                                                       \
            }                                                                           \
            GMM_UNROLL                                                                  \
            for (int a = 0; a < mf_; a++)                                               \
                GMM_UNROLL                                                              \
                for (int c = 0; c <= a; c++) {                                          \
                    double S_[GMM_G];                                                   \
                    GMM_ML_LANES                                                        \
                    for (int l = 0; l < GMM_G; l++) S_[l] = 0.0;                        \
                    GMM_UNROLL                                                          \
                    for (int i = a; i < mf_; i++) {                                     \
                        GMM_ML_LANES                                                    \
                        for (int l = 0; l < GMM_G; l++)                                 \
                            S_[l] = S_[l] + w_[GMM_TRI(i, c)][l] * w_[GMM_TRI(i, a)][l]; \
                    }                                                                   \
                    double *o_ = Ap + GMM_TRI(a, c) * fs + kf;                          \
                    GMM_ML_LANES                                                        \
                    for (int l = 0; l < GMM_G; l++) o_[l] = S_[l];                      \
                }                                                                       \
        }                                                                               \
    }

#define GMM_INVERSE_TILE(NL)                                                            \
    {                                                                                   \
        const ptrdiff_t nl = (NL);                                                      \
        double S[GMM_ML];                                                               \
        ptrdiff_t at = 0;                                                               \
        for (ptrdiff_t j = 0; j < m; j++) {                                             \
            GMM_ML_LANES                                                               \
            for (ptrdiff_t l = 0; l < nl; l++)                                          \
                Li[(j * m + j) * K + k0 + l] = idg[j * K + k0 + l];                     \
            for (ptrdiff_t i = j + 1; i < m; i++) {                                     \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = 0.0;                          \
                for (ptrdiff_t c = j; c < i; c++) {                                     \
                    const double *Lic = L + (i * m + c) * K + k0;                       \
                    const double *Licj = Li + (c * m + j) * K + k0;                     \
                    GMM_ML_LANES                                                       \
                    for (ptrdiff_t l = 0; l < nl; l++) S[l] = S[l] + Lic[l] * Licj[l];  \
                }                                                                       \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++)                                      \
                    Li[(i * m + j) * K + k0 + l] = -S[l] * idg[i * K + k0 + l];         \
            }                                                                           \
        }                                                                               \
        for (ptrdiff_t a = 0; a < m; a++)                                               \
            for (ptrdiff_t c = 0; c <= a; c++) {                                        \
                /* (A^-1)[c, a] = sum_{t >= a} Li[t, c] Li[t, a] */                     \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = 0.0;                          \
                for (ptrdiff_t i = a; i < m; i++) {                                     \
                    const double *Lc = Li + (i * m + c) * K + k0;                       \
                    const double *La = Li + (i * m + a) * K + k0;                       \
                    GMM_ML_LANES                                                       \
                    for (ptrdiff_t l = 0; l < nl; l++) S[l] = S[l] + Lc[l] * La[l];     \
                }                                                                       \
                GMM_ML_LANES                                                            \
                for (ptrdiff_t l = 0; l < nl; l++) Ap[at * fs + k0 + l] = S[l];         \
                at++;                                                                   \
            }                                                                           \
    }

#define GMM_LANES_SOLVE(suffix, linkage)                                                \
/* One row, every component: z = L^-1 b (bt (m, K)), lp (K,) += 0.5 ||z||^2 - hl, and  \
   -t = -L^-T z into tt[k ts + a]. Z (m, K) scratch. */                                 \
GMM_NOINLINE ptrdiff_t gmm_solve_fixed_##suffix(                                         \
    const double *L, const double *idg, const double *hl, ptrdiff_t m, ptrdiff_t K,     \
    const double *bt, double *tt, ptrdiff_t ts, double *lp)                             \
{                                                                                       \
    ptrdiff_t kf = 0;                                                                   \
    GMM_FIXED_M_SWITCH(m, GMM_SOLVE_FIXED)                                             \
    return kf;                                                                          \
}                                                                                       \
linkage void gmm_lanes_solve_##suffix(                                                  \
    const double *L, const double *idg, const double *hl, ptrdiff_t m, ptrdiff_t K,     \
    const double *bt, double *tt, ptrdiff_t ts, double *lp, double *Z)                  \
{                                                                                       \
    const ptrdiff_t kf =                                                                \
        K >= GMM_G ? gmm_solve_fixed_##suffix(L, idg, hl, m, K, bt, tt, ts, lp) : 0;    \
    if (kf < K) GMM_ML_TILES_FROM(kf, K, GMM_SOLVE_TILE)                                \
}

/* gmm_lanes_solve's groups of GMM_G components at m = M, z in registers: the tile's
   general form, whose operations at m = 1 are its one-loop form's */
#define GMM_SOLVE_FIXED(M)                                                              \
    {                                                                                   \
        enum { mf_ = (M) };                                                             \
        for (; kf + GMM_G <= K; kf += GMM_G) {                                          \
            double z_[mf_][GMM_G], S_[GMM_G];                                           \
            GMM_UNROLL                                                                  \
            for (int a = 0; a < mf_; a++) {                                             \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_G; l++) S_[l] = bt[a * K + kf + l];             \
                GMM_UNROLL                                                              \
                for (int c = 0; c < a; c++) {                                           \
                    const double *Lac = L + (a * mf_ + c) * K + kf;                     \
                    GMM_ML_LANES                                                        \
                    for (int l = 0; l < GMM_G; l++) S_[l] = S_[l] - Lac[l] * z_[c][l];  \
                }                                                                       \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_G; l++) z_[a][l] = S_[l] * idg[a * K + kf + l]; \
            }                                                                           \
            GMM_ML_LANES                                                                \
            for (int l = 0; l < GMM_G; l++) S_[l] = 0.0;                                \
            GMM_UNROLL                                                                  \
            for (int a = 0; a < mf_; a++) {                                             \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_G; l++) S_[l] = S_[l] + z_[a][l] * z_[a][l];    \
            }                                                                           \
            GMM_ML_LANES                                                                \
            for (int l = 0; l < GMM_G; l++)                                             \
                lp[kf + l] = lp[kf + l] + 0.5 * S_[l] - hl[kf + l];                     \
            GMM_UNROLL                                                                  \
            for (int a = mf_ - 1; a >= 0; a--) {                                        \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_G; l++) S_[l] = z_[a][l];                       \
                GMM_UNROLL                                                              \
                for (int c = a + 1; c < mf_; c++) {                                     \
                    const double *Lca = L + (c * mf_ + a) * K + kf;                     \
                    GMM_ML_LANES                                                        \
                    for (int l = 0; l < GMM_G; l++) S_[l] = S_[l] - Lca[l] * z_[c][l];  \
                }                                                                       \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_G; l++) z_[a][l] = S_[l] * idg[a * K + kf + l]; \
                for (int l = 0; l < GMM_G; l++) tt[(kf + l) * ts + a] = -z_[a][l];      \
            }                                                                           \
        }                                                                               \
    }

#define GMM_SOLVE_TILE(NL)                                                              \
    {                                                                                   \
        const ptrdiff_t nl = (NL);                                                      \
        double S[GMM_ML];                                                               \
        if (m == 1) {                                                                   \
            /* the same operations in one loop */                                       \
            GMM_ML_LANES                                                                \
            for (ptrdiff_t l = 0; l < nl; l++) {                                        \
                const double z = bt[k0 + l] * idg[k0 + l];                              \
                lp[k0 + l] = lp[k0 + l] + 0.5 * (z * z) - hl[k0 + l];                   \
                tt[(k0 + l) * ts] = -(z * idg[k0 + l]);                                 \
            }                                                                           \
        } else {                                                                        \
            for (ptrdiff_t a = 0; a < m; a++) {                                         \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = bt[a * K + k0 + l];           \
                for (ptrdiff_t c = 0; c < a; c++) {                                     \
                    const double *Lac = L + (a * m + c) * K + k0;                       \
                    const double *Zc = Z + c * K + k0;                                  \
                    GMM_ML_LANES                                                       \
                    for (ptrdiff_t l = 0; l < nl; l++) S[l] = S[l] - Lac[l] * Zc[l];    \
                }                                                                       \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++)                                      \
                    Z[a * K + k0 + l] = S[l] * idg[a * K + k0 + l];                     \
            }                                                                           \
            GMM_ML_LANES                                                               \
            for (ptrdiff_t l = 0; l < nl; l++) S[l] = 0.0;                              \
            for (ptrdiff_t a = 0; a < m; a++) {                                         \
                const double *Za = Z + a * K + k0;                                      \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = S[l] + Za[l] * Za[l];         \
            }                                                                           \
            GMM_ML_LANES                                                               \
            for (ptrdiff_t l = 0; l < nl; l++)                                          \
                lp[k0 + l] = lp[k0 + l] + 0.5 * S[l] - hl[k0 + l];                      \
            for (ptrdiff_t a = m - 1; a >= 0; a--) {                                    \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = Z[a * K + k0 + l];            \
                for (ptrdiff_t c = a + 1; c < m; c++) {                                 \
                    const double *Lca = L + (c * m + a) * K + k0;                       \
                    const double *Zc = Z + c * K + k0;                                  \
                    GMM_ML_LANES                                                       \
                    for (ptrdiff_t l = 0; l < nl; l++) S[l] = S[l] - Lca[l] * Zc[l];    \
                }                                                                       \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++)                                      \
                    Z[a * K + k0 + l] = S[l] * idg[a * K + k0 + l];                     \
                for (ptrdiff_t l = 0; l < nl; l++) tt[(k0 + l) * ts + a] = -Z[a * K + k0 + l]; \
            }                                                                           \
        }                                                                               \
    }

#define GMM_LANES_BASE(suffix, linkage)                                                 \
/* For a run of one pattern M (moment rows, _missing_moments.pxi): base (m, K) =        \
   P[M, M] m_M - (P m)_M, the part of b = (P delta)_M that does not depend on the row, \
   and qc (K,) = 0.5 m_M^T P[M, M] m_M; Mt, PMt (D, K) hold m_k and P_k m_k. */        \
GMM_NOINLINE ptrdiff_t gmm_base_fixed_##suffix(                                          \
    const double *Pt, const double *Mt, const double *PMt, const ptrdiff_t *Mr,         \
    ptrdiff_t m, ptrdiff_t D, ptrdiff_t K, double *base, double *qc)                    \
{                                                                                       \
    ptrdiff_t kf = 0;                                                                   \
    GMM_FIXED_M_SWITCH(m, GMM_BASE_FIXED)                                              \
    return kf;                                                                          \
}                                                                                       \
linkage void gmm_lanes_base_##suffix(                                                   \
    const double *Pt, const double *Mt, const double *PMt, const ptrdiff_t *Mr,         \
    ptrdiff_t m, ptrdiff_t D, ptrdiff_t K, double *base, double *qc)                    \
{                                                                                       \
    const ptrdiff_t kf =                                                                \
        K >= GMM_G ? gmm_base_fixed_##suffix(Pt, Mt, PMt, Mr, m, D, K, base, qc) : 0;   \
    if (kf < K) GMM_ML_TILES_FROM(kf, K, GMM_BASE_TILE)                                 \
}

/* gmm_lanes_base's groups of GMM_G components at m = M: m_M in registers, read once
   where the tile reads it for every entry of P[M, M] */
#define GMM_BASE_FIXED(M)                                                               \
    {                                                                                   \
        enum { mf_ = (M) };                                                             \
        for (; kf + GMM_G <= K; kf += GMM_G) {                                          \
            double mm_[mf_][GMM_G], q_[GMM_G], S_[GMM_G];                               \
            GMM_UNROLL                                                                  \
            for (int a = 0; a < mf_; a++) {                                             \
                const double *mt = Mt + Mr[a] * K + kf;                                 \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_G; l++) mm_[a][l] = mt[l];                      \
            }                                                                           \
            GMM_ML_LANES                                                                \
            for (int l = 0; l < GMM_G; l++) q_[l] = 0.0;                                \
            GMM_UNROLL                                                                  \
            for (int a = 0; a < mf_; a++) {                                             \
                const ptrdiff_t i = Mr[a];                                              \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_G; l++) S_[l] = 0.0;                            \
                GMM_UNROLL                                                              \
                for (int a2 = 0; a2 < mf_; a2++) {                                      \
                    const double *Prow = Pt + (i * D + Mr[a2]) * K + kf;                \
                    GMM_ML_LANES                                                        \
                    for (int l = 0; l < GMM_G; l++) S_[l] = S_[l] + Prow[l] * mm_[a2][l]; \
                }                                                                       \
                GMM_ML_LANES                                                            \
                for (int l = 0; l < GMM_G; l++) {                                       \
                    q_[l] = q_[l] + 0.5 * mm_[a][l] * S_[l];                            \
                    base[a * K + kf + l] = S_[l] - PMt[i * K + kf + l];                 \
                }                                                                       \
            }                                                                           \
            GMM_ML_LANES                                                                \
            for (int l = 0; l < GMM_G; l++) qc[kf + l] = q_[l];                         \
        }                                                                               \
    }

#define GMM_BASE_TILE(NL)                                                               \
    {                                                                                   \
        const ptrdiff_t nl = (NL);                                                      \
        double q[GMM_ML], S[GMM_ML];                                                    \
        GMM_ML_LANES                                                                   \
        for (ptrdiff_t l = 0; l < nl; l++) q[l] = 0.0;                                  \
        for (ptrdiff_t a = 0; a < m; a++) {                                             \
            const ptrdiff_t i = Mr[a];                                                  \
            GMM_ML_LANES                                                               \
            for (ptrdiff_t l = 0; l < nl; l++) S[l] = 0.0;                              \
            for (ptrdiff_t a2 = 0; a2 < m; a2++) {                                      \
                const double *Prow = Pt + (i * D + Mr[a2]) * K + k0;                    \
                const double *Ma2 = Mt + Mr[a2] * K + k0;                               \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = S[l] + Prow[l] * Ma2[l];      \
            }                                                                           \
            GMM_ML_LANES                                                               \
            for (ptrdiff_t l = 0; l < nl; l++) {                                        \
                q[l] = q[l] + 0.5 * Mt[i * K + k0 + l] * S[l];                          \
                base[a * K + k0 + l] = S[l] - PMt[i * K + k0 + l];                      \
            }                                                                           \
        }                                                                               \
        GMM_ML_LANES                                                                   \
        for (ptrdiff_t l = 0; l < nl; l++) qc[k0 + l] = q[l];                           \
    }

#define GMM_LANES_FILL_OUTER(suffix, linkage)                                           \
/* One row's filled entries s (Sv: m rows of K, row a for its a-th missing column Mr[a]) \
   (moment rows): C[Mr[a], Mr[a2]] += (0.5 wr s_a) s_a2 for every pair, C (D, D, K),   \
   wr (K,) the row's weighted responsibilities. */                                      \
linkage void gmm_lanes_fill_outer_##suffix(                                             \
    const double *wr, const double *Sv, const ptrdiff_t *Mr, ptrdiff_t m, ptrdiff_t D,  \
    ptrdiff_t K, double *C)                                                             \
{                                                                                       \
    GMM_ML_TILES(K, GMM_FILL_OUTER_TILE)                                                \
}

#define GMM_FILL_OUTER_TILE(NL)                                                         \
    {                                                                                   \
        const ptrdiff_t nl = (NL);                                                      \
        double g[GMM_ML];                                                               \
        for (ptrdiff_t a = 0; a < m; a++) {                                             \
            GMM_ML_LANES                                                               \
            for (ptrdiff_t l = 0; l < nl; l++)                                          \
                g[l] = 0.5 * wr[k0 + l] * Sv[a * K + k0 + l];                           \
            for (ptrdiff_t a2 = 0; a2 < m; a2++) {                                      \
                double *Ck = C + (Mr[a] * D + Mr[a2]) * K + k0;                         \
                const double *Sa = Sv + a2 * K + k0;                                    \
                GMM_ML_LANES                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) Ck[l] = Ck[l] + g[l] * Sa[l];        \
            }                                                                           \
        }                                                                               \
    }

#define GMM_LANES_COND_ADD(suffix, linkage)                                             \
/* One run of rows of pattern Mr (m columns, increasing), every component: the         \
   conditional covariances Cd[(i (i + 1) / 2 + j) K + k] += S[k] A_k[a, c] for each    \
   entry (i, j) = (Mr[a], Mr[c]), c <= a, of the run's inverses A (Ar: entry at of     \
   component k at Ar[at K + k], gmm_lanes_inverse's order), S (K,) the run's sums of   \
   weights times responsibilities. A component whose S is 0 adds nothing: its inverse \
   may not have been formed (whatever that memory holds, the sum is not taken). */     \
linkage void gmm_lanes_cond_add_##suffix(                                               \
    const double *S, const double *Ar, const ptrdiff_t *Mr, ptrdiff_t m, ptrdiff_t K,   \
    double *Cd)                                                                         \
{                                                                                       \
    ptrdiff_t at = 0;                                                                   \
    for (ptrdiff_t a = 0; a < m; a++)                                                   \
        for (ptrdiff_t c = 0; c <= a; c++, at++) {                                      \
            const double *A = Ar + at * K;                                              \
            double *C = Cd + (Mr[a] * (Mr[a] + 1) / 2 + Mr[c]) * K;                     \
            GMM_ML_LANES                                                                \
            for (ptrdiff_t k = 0; k < K; k++)                                           \
                C[k] = S[k] != 0.0 ? C[k] + S[k] * A[k] : C[k];                         \
        }                                                                               \
}

/* the rows' side of the pass: float32 quadratic forms and scatters, the rows' deltas */
#include "missing_rows32.h"
/* float64 data's quadratic forms and b, one row a lane */
#include "missing_rowsd.h"

#define GMM_MISSING_LANES(suffix, linkage)                                              \
    GMM_LANES_FACTOR(suffix, linkage)                                                   \
    GMM_LANES_INVERSE(suffix, linkage)                                                  \
    GMM_LANES_SOLVE(suffix, linkage)                                                    \
    GMM_LANES_BASE(suffix, linkage)                                                     \
    GMM_LANES_FILL_OUTER(suffix, linkage)                                               \
    GMM_LANES32_Q(suffix, linkage)                                                     \
    GMM_LANES_QB(suffix, linkage)                                                       \
    GMM_LANES_COND_ADD(suffix, linkage)                                                 \
    GMM_ROWS32_CENTER(suffix, linkage)                                                  \
    GMM_SHIFT_BACK32(suffix, linkage)                                                   \
    GMM_RANK32(suffix, linkage)                                                         \
    GMM_ROWS_DELTA(suffix, linkage)

GMM_INSTANTIATE(GMM_MISSING_LANES)

#if GMM_MAIN_TU
typedef void gmm_lanes_factor_fn(const double *, const ptrdiff_t *, ptrdiff_t, ptrdiff_t,
                                 ptrdiff_t, double *, double *, double *);
typedef void gmm_lanes_inverse_fn(const double *, const double *, ptrdiff_t, ptrdiff_t,
                                  double *, double *, ptrdiff_t);
typedef void gmm_lanes_solve_fn(const double *, const double *, const double *, ptrdiff_t,
                                ptrdiff_t, const double *, double *, ptrdiff_t, double *,
                                double *);
GMM_DISPATCH(gmm_lanes_factor_fn, gmm_lanes_factor)
GMM_DISPATCH(gmm_lanes_inverse_fn, gmm_lanes_inverse)
typedef void gmm_lanes_base_fn(const double *, const double *, const double *,
                               const ptrdiff_t *, ptrdiff_t, ptrdiff_t, ptrdiff_t, double *,
                               double *);
typedef void gmm_lanes_fill_outer_fn(const double *, const double *, const ptrdiff_t *,
                                     ptrdiff_t, ptrdiff_t, ptrdiff_t, double *);
GMM_DISPATCH(gmm_lanes_solve_fn, gmm_lanes_solve)
GMM_DISPATCH(gmm_lanes_base_fn, gmm_lanes_base)
GMM_DISPATCH(gmm_lanes_fill_outer_fn, gmm_lanes_fill_outer)
typedef void gmm_lanes32_q_fn(const double *, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                              const double *, const float *, double *, float *, float *);
GMM_DISPATCH(gmm_lanes32_q_fn, gmm_lanes32_q)
typedef void gmm_lanes_qb_fn(const double *, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                             const double *, const double *, const ptrdiff_t *, ptrdiff_t,
                             const ptrdiff_t *, const ptrdiff_t *, ptrdiff_t, double *,
                             double *, double *);
GMM_DISPATCH(gmm_lanes_qb_fn, gmm_lanes_qb)
typedef void gmm_lanes_cond_add_fn(const double *, const double *, const ptrdiff_t *,
                                   ptrdiff_t, ptrdiff_t, double *);
GMM_DISPATCH(gmm_lanes_cond_add_fn, gmm_lanes_cond_add)
typedef double gmm_rows32_center_fn(const double *, const double *, ptrdiff_t, ptrdiff_t,
                                    double *, double *, float *, ptrdiff_t);
GMM_DISPATCH(gmm_rows32_center_fn, gmm_rows32_center)
typedef void gmm_shift_back32_fn(const double *, ptrdiff_t, const double *, const double *,
                                 double, ptrdiff_t, int, double *);
GMM_DISPATCH(gmm_shift_back32_fn, gmm_shift_back32)
typedef void gmm_rank32_fn(const float *, ptrdiff_t, ptrdiff_t, ptrdiff_t, double *);
GMM_DISPATCH(gmm_rank32_fn, gmm_rank32)
typedef void gmm_rows_delta_fn(const double *, ptrdiff_t, const ptrdiff_t *, ptrdiff_t,
                               const double *, const ptrdiff_t *, ptrdiff_t,
                               const ptrdiff_t *, const ptrdiff_t *, const double *,
                               double *);
GMM_DISPATCH(gmm_rows_delta_fn, gmm_rows_delta)
typedef void gmm_rows_transpose_fn(const double *, ptrdiff_t, ptrdiff_t, const ptrdiff_t *,
                                   ptrdiff_t, const ptrdiff_t *, ptrdiff_t, double *);
GMM_DISPATCH(gmm_rows_transpose_fn, gmm_rows_transpose)

/* Choose the instruction set (as the kernels do, isa.h), then point every function at
   its build: once, at the module's import. */
static void gmm_missing_lanes_init(int max_level)
{
    gmm_isa_detect(max_level);
    gmm_vmath_select();
    gmm_normalize_select();
    GMM_SELECT(gmm_lanes_factor, gmm_lanes_factor);
    GMM_SELECT(gmm_lanes_inverse, gmm_lanes_inverse);
    GMM_SELECT(gmm_lanes_solve, gmm_lanes_solve);
    GMM_SELECT(gmm_lanes_base, gmm_lanes_base);
    GMM_SELECT(gmm_lanes_fill_outer, gmm_lanes_fill_outer);
    GMM_SELECT(gmm_lanes32_q, gmm_lanes32_q);
    GMM_SELECT(gmm_lanes_qb, gmm_lanes_qb);
    GMM_SELECT(gmm_lanes_cond_add, gmm_lanes_cond_add);
    GMM_SELECT(gmm_rows32_center, gmm_rows32_center);
    GMM_SELECT(gmm_shift_back32, gmm_shift_back32);
    GMM_SELECT(gmm_rank32, gmm_rank32);
    GMM_SELECT(gmm_rows_delta, gmm_rows_delta);
    GMM_SELECT(gmm_rows_transpose, gmm_rows_transpose);
}
#endif

#endif
