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
/* the float32 products' tile (gmm_lanes32_q), shared with the complete rows' */
#include "tri_tile.h"

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

/* The inverse and the solve at a fixed m (1..GMM_FIXED_M_MAX, most rows' m): the
   whole m x m problem of a group of GMM_G components in local arrays whose every
   index is a constant once the loops are unrolled, so that the compiler keeps them in
   vector registers, where the tiles above load and store each entry for every term
   (their loops' counts are only known at run time). Each entry's operations and
   their order are the tiles', so the bits are too (the module's tests compare every
   build against the plain baseline). Measured on the inverse at K = 32, m = 6: 1960
   -> 490 cycles (bench/results/missing.md). */
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
linkage void gmm_lanes_factor_##suffix(                                                 \
    const double *Pt, const ptrdiff_t *Mr, ptrdiff_t m, ptrdiff_t D, ptrdiff_t K,       \
    double *L, double *idg, double *hl)                                                 \
{                                                                                       \
    GMM_ML_TILES(K, GMM_FACTOR_TILE)                                                    \
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
    {                                                                                   \
        float a_[4][GMM_MY];                                                            \
        for (int t_ = 0; t_ < 4; t_++)                                                  \
            for (int r_ = 0; r_ < GMM_MY; r_++) a_[t_][r_] = 0.0f;                      \
        for (ptrdiff_t l_ = 0; l_ < (lend); l_++)                                       \
            for (int t_ = 0; t_ < 4; t_++)                                              \
                for (int r_ = 0; r_ < GMM_MY; r_++)                                     \
                    a_[t_][r_] = fmaf((Z)[l_ * GMM_MY + r_], (Up)[l_ * (D4) + (j0) + t_], \
                                      a_[t_][r_]);                                      \
        for (int t_ = 0; t_ < 4; t_++)                                                  \
            for (int r_ = 0; r_ < GMM_MY; r_++)                                         \
                (Y)[((j0) + t_) * GMM_MY + r_] = a_[t_][r_];                            \
    }
#define GMM_Y4_SIMD(V, B, W, Z, Up, D4, j0, lend, Y)                                    \
    {                                                                                   \
        GMM_TRI32_TILE(V, B, W, Z, GMM_MY, (Up) + (j0), D4, lend)                       \
        float *y_ = (Y) + (j0) * GMM_MY;                                                \
        _mm##B##_storeu_ps(y_, a0); _mm##B##_storeu_ps(y_ + W, b0);                     \
        _mm##B##_storeu_ps(y_ + GMM_MY, a1); _mm##B##_storeu_ps(y_ + GMM_MY + W, b1);   \
        _mm##B##_storeu_ps(y_ + 2 * GMM_MY, a2);                                        \
        _mm##B##_storeu_ps(y_ + 2 * GMM_MY + W, b2);                                    \
        _mm##B##_storeu_ps(y_ + 3 * GMM_MY, a3);                                        \
        _mm##B##_storeu_ps(y_ + 3 * GMM_MY + W, b3);                                    \
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
/* One component over a block's rows, transposed (Xt, Ot: D x ldx doubles, ldx a      \
   multiple of GMM_MY_MAX, columns n..ldx zero; Ot 1 where a row's feature is         \
   observed, 0 where missing): z = (x - mu) o rounded to float32 (the centring in      \
   double), y = z U in float32 products (Up: D4 x D4, U's upper triangle, zeros        \
   elsewhere; D4 = D rounded up to 4), q[i] = ||y_i||^2 in double (a float's square is \
   exact in double). Z, Y: D4 x GMM_MY_MAX floats of scratch. */                       \
linkage void gmm_lanes32_q_##suffix(                                                    \
    const double *Xt, const double *Ot, ptrdiff_t ldx, ptrdiff_t n, ptrdiff_t D,        \
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
            const double *x = Xt + l * ldx + i0, *o = Ot + l * ldx + i0;                \
            const double ml = mu[l];                                                    \
            GMM_LANE_LOOP                                                               \
            for (int r = 0; r < GMM_MY; r++) z[r] = (float) ((x[r] - ml) * o[r]);       \
        }                                                                               \
        double s[GMM_MY];                                                               \
        GMM_Q32(Z, Up, D, D4, Y, s)                                                     \
        const ptrdiff_t nr = n - i0 < GMM_MY ? n - i0 : GMM_MY;                         \
        for (ptrdiff_t r = 0; r < nr; r++) q[i0 + r] = s[r];                            \
    }                                                                                   \
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
   row), Ot 1 where observed and 0 where missing (Mi, nm); columns nb..ldx 0. */       \
linkage void gmm_rows_transpose_##suffix(                                               \
    const double *X0, ptrdiff_t nb, ptrdiff_t D, const ptrdiff_t *Mi, ptrdiff_t mmax,   \
    const ptrdiff_t *nm, ptrdiff_t ldx, double *Xt, double *Ot)                         \
{                                                                                       \
    /* 8 rows at a time: each feature's 8 entries one store */                        \
    ptrdiff_t r0 = 0;                                                                   \
    for (; r0 + 8 <= nb; r0 += 8)                                                       \
        for (ptrdiff_t j = 0; j < D; j++) {                                             \
            double *xt = Xt + j * ldx + r0, *ot = Ot + j * ldx + r0;                    \
            GMM_ML_LANES                                                                \
            for (int t = 0; t < 8; t++) {                                               \
                xt[t] = X0[(r0 + t) * D + j];                                           \
                ot[t] = 1.0;                                                            \
            }                                                                           \
        }                                                                               \
    for (ptrdiff_t j = 0; j < D; j++) {                                                 \
        for (ptrdiff_t r = r0; r < nb; r++) {                                           \
            Xt[j * ldx + r] = X0[r * D + j];                                            \
            Ot[j * ldx + r] = 1.0;                                                      \
        }                                                                               \
        for (ptrdiff_t r = nb; r < ldx; r++) {                                          \
            Xt[j * ldx + r] = 0.0;                                                      \
            Ot[j * ldx + r] = 0.0;                                                      \
        }                                                                               \
    }                                                                                   \
    for (ptrdiff_t r = 0; r < nb; r++)                                                  \
        for (ptrdiff_t a = 0; a < nm[r]; a++) Ot[Mi[r * mmax + a] * ldx + r] = 0.0;     \
}

#define GMM_MISSING_LANES(suffix, linkage)                                              \
    GMM_LANES_FACTOR(suffix, linkage)                                                   \
    GMM_LANES_INVERSE(suffix, linkage)                                                  \
    GMM_LANES_SOLVE(suffix, linkage)                                                    \
    GMM_LANES_BASE(suffix, linkage)                                                     \
    GMM_LANES_FILL_OUTER(suffix, linkage)                                               \
    GMM_LANES32_Q(suffix, linkage)                                                     \
    GMM_LANES_COND_ADD(suffix, linkage)                                                 \
    GMM_ROWS32_CENTER(suffix, linkage)                                                  \
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
typedef void gmm_lanes32_q_fn(const double *, const double *, ptrdiff_t, ptrdiff_t,
                              ptrdiff_t, const double *, const float *, double *, float *,
                              float *);
GMM_DISPATCH(gmm_lanes32_q_fn, gmm_lanes32_q)
typedef void gmm_lanes_cond_add_fn(const double *, const double *, const ptrdiff_t *,
                                   ptrdiff_t, ptrdiff_t, double *);
GMM_DISPATCH(gmm_lanes_cond_add_fn, gmm_lanes_cond_add)
typedef double gmm_rows32_center_fn(const double *, const double *, ptrdiff_t, ptrdiff_t,
                                    double *, double *, float *, ptrdiff_t);
GMM_DISPATCH(gmm_rows32_center_fn, gmm_rows32_center)
typedef void gmm_rank32_fn(const float *, ptrdiff_t, ptrdiff_t, ptrdiff_t, double *);
GMM_DISPATCH(gmm_rank32_fn, gmm_rank32)
typedef void gmm_rows_delta_fn(const double *, ptrdiff_t, const ptrdiff_t *, ptrdiff_t,
                               const double *, const ptrdiff_t *, ptrdiff_t,
                               const ptrdiff_t *, const ptrdiff_t *, const double *,
                               double *);
GMM_DISPATCH(gmm_rows_delta_fn, gmm_rows_delta)
typedef void gmm_rows_transpose_fn(const double *, ptrdiff_t, ptrdiff_t, const ptrdiff_t *,
                                   ptrdiff_t, const ptrdiff_t *, ptrdiff_t, double *,
                                   double *);
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
    GMM_SELECT(gmm_lanes_cond_add, gmm_lanes_cond_add);
    GMM_SELECT(gmm_rows32_center, gmm_rows32_center);
    GMM_SELECT(gmm_rank32, gmm_rank32);
    GMM_SELECT(gmm_rows_delta, gmm_rows_delta);
    GMM_SELECT(gmm_rows_transpose, gmm_rows_transpose);
}
#endif

#endif
