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
/* the float32 products' tile (gmm_lanes32_yv), shared with the complete rows' */
#include "tri_tile.h"

/* components a tile */
#define GMM_ML 32

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
        GMM_LANE_LOOP                                                                   \
        for (ptrdiff_t l = 0; l < nl; l++) { h[l] = 0.0; prod[l] = 1.0; }               \
        for (ptrdiff_t j = 0; j < m; j++) {                                             \
            double *Lj = L + j * m * K + k0;                                            \
            /* column j: P[M_i, M_j] - sum_c L[i, c] L[j, c] for i >= j, then the      \
               diagonal's square root and the others divided by it */                   \
            for (ptrdiff_t i = j; i < m; i++) {                                         \
                const double *si = Pt + (Mr[i] * D + Mr[j]) * K + k0;                   \
                double *Li = L + i * m * K + k0;                                        \
                GMM_LANE_LOOP                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = si[l];                        \
                for (ptrdiff_t c = 0; c < j; c++) {                                     \
                    GMM_LANE_LOOP                                                       \
                    for (ptrdiff_t l = 0; l < nl; l++)                                  \
                        S[l] = S[l] - Li[c * K + l] * Lj[c * K + l];                    \
                }                                                                       \
                GMM_LANE_LOOP                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) Li[j * K + l] = S[l];                \
            }                                                                           \
            GMM_LANE_LOOP                                                               \
            for (ptrdiff_t l = 0; l < nl; l++) {                                        \
                Lj[j * K + l] = sqrt(Lj[j * K + l]);                                    \
                idg[j * K + k0 + l] = 1.0 / Lj[j * K + l];                              \
                /* one log per run and component rather than m: the product, taken     \
                   into the log before it can leave the range of doubles */             \
                prod[l] = prod[l] * Lj[j * K + l];                                      \
            }                                                                           \
            for (ptrdiff_t l = 0; l < nl; l++)                                          \
                if (prod[l] > 1e100 || prod[l] < 1e-100) {                              \
                    h[l] = h[l] + log(prod[l]);                                         \
                    prod[l] = 1.0;                                                      \
                }                                                                       \
            for (ptrdiff_t i = j + 1; i < m; i++) {                                     \
                double *Li = L + i * m * K + k0;                                        \
                GMM_LANE_LOOP                                                           \
                for (ptrdiff_t l = 0; l < nl; l++)                                      \
                    Li[j * K + l] = Li[j * K + l] * idg[j * K + k0 + l];                \
            }                                                                           \
        }                                                                               \
        for (ptrdiff_t l = 0; l < nl; l++) hl[k0 + l] = h[l] + log(prod[l]);            \
    }

#define GMM_LANES_INVERSE(suffix, linkage)                                              \
/* The inverses of the factored P_k[M, M] (L, idg from gmm_lanes_factor): Li (m, m, K) \
   scratch, L^-1; Ap the lower triangle of A^-1 = L^-T L^-1 row by row ((a, c) for     \
   c <= a), component k's from Ap[k fs]. */                                             \
linkage void gmm_lanes_inverse_##suffix(                                                \
    const double *L, const double *idg, ptrdiff_t m, ptrdiff_t K, double *Li,           \
    double *Ap, ptrdiff_t fs)                                                           \
{                                                                                       \
    GMM_ML_TILES(K, GMM_INVERSE_TILE)                                                   \
}

#define GMM_INVERSE_TILE(NL)                                                            \
    {                                                                                   \
        const ptrdiff_t nl = (NL);                                                      \
        double S[GMM_ML];                                                               \
        ptrdiff_t at = 0;                                                               \
        for (ptrdiff_t j = 0; j < m; j++) {                                             \
            GMM_LANE_LOOP                                                               \
            for (ptrdiff_t l = 0; l < nl; l++)                                          \
                Li[(j * m + j) * K + k0 + l] = idg[j * K + k0 + l];                     \
            for (ptrdiff_t i = j + 1; i < m; i++) {                                     \
                GMM_LANE_LOOP                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = 0.0;                          \
                for (ptrdiff_t c = j; c < i; c++) {                                     \
                    const double *Lic = L + (i * m + c) * K + k0;                       \
                    const double *Licj = Li + (c * m + j) * K + k0;                     \
                    GMM_LANE_LOOP                                                       \
                    for (ptrdiff_t l = 0; l < nl; l++) S[l] = S[l] + Lic[l] * Licj[l];  \
                }                                                                       \
                GMM_LANE_LOOP                                                           \
                for (ptrdiff_t l = 0; l < nl; l++)                                      \
                    Li[(i * m + j) * K + k0 + l] = -S[l] * idg[i * K + k0 + l];         \
            }                                                                           \
        }                                                                               \
        for (ptrdiff_t a = 0; a < m; a++)                                               \
            for (ptrdiff_t c = 0; c <= a; c++) {                                        \
                /* (A^-1)[c, a] = sum_{t >= a} Li[t, c] Li[t, a] */                     \
                GMM_LANE_LOOP                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = 0.0;                          \
                for (ptrdiff_t i = a; i < m; i++) {                                     \
                    const double *Lc = Li + (i * m + c) * K + k0;                       \
                    const double *La = Li + (i * m + a) * K + k0;                       \
                    GMM_LANE_LOOP                                                       \
                    for (ptrdiff_t l = 0; l < nl; l++) S[l] = S[l] + Lc[l] * La[l];     \
                }                                                                       \
                for (ptrdiff_t l = 0; l < nl; l++) Ap[(k0 + l) * fs + at] = S[l];       \
                at++;                                                                   \
            }                                                                           \
    }

#define GMM_LANES_SOLVE(suffix, linkage)                                                \
/* One row, every component: z = L^-1 b (bt (m, K)), lp (K,) += 0.5 ||z||^2 - hl, and  \
   -t = -L^-T z into tt[k ts + a]. Z (m, K) scratch. */                                 \
linkage void gmm_lanes_solve_##suffix(                                                  \
    const double *L, const double *idg, const double *hl, ptrdiff_t m, ptrdiff_t K,     \
    const double *bt, double *tt, ptrdiff_t ts, double *lp, double *Z)                  \
{                                                                                       \
    GMM_ML_TILES(K, GMM_SOLVE_TILE)                                                     \
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
                GMM_LANE_LOOP                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = bt[a * K + k0 + l];           \
                for (ptrdiff_t c = 0; c < a; c++) {                                     \
                    const double *Lac = L + (a * m + c) * K + k0;                       \
                    const double *Zc = Z + c * K + k0;                                  \
                    GMM_LANE_LOOP                                                       \
                    for (ptrdiff_t l = 0; l < nl; l++) S[l] = S[l] - Lac[l] * Zc[l];    \
                }                                                                       \
                GMM_LANE_LOOP                                                           \
                for (ptrdiff_t l = 0; l < nl; l++)                                      \
                    Z[a * K + k0 + l] = S[l] * idg[a * K + k0 + l];                     \
            }                                                                           \
            GMM_LANE_LOOP                                                               \
            for (ptrdiff_t l = 0; l < nl; l++) S[l] = 0.0;                              \
            for (ptrdiff_t a = 0; a < m; a++) {                                         \
                const double *Za = Z + a * K + k0;                                      \
                GMM_LANE_LOOP                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = S[l] + Za[l] * Za[l];         \
            }                                                                           \
            GMM_LANE_LOOP                                                               \
            for (ptrdiff_t l = 0; l < nl; l++)                                          \
                lp[k0 + l] = lp[k0 + l] + 0.5 * S[l] - hl[k0 + l];                      \
            for (ptrdiff_t a = m - 1; a >= 0; a--) {                                    \
                GMM_LANE_LOOP                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = Z[a * K + k0 + l];            \
                for (ptrdiff_t c = a + 1; c < m; c++) {                                 \
                    const double *Lca = L + (c * m + a) * K + k0;                       \
                    const double *Zc = Z + c * K + k0;                                  \
                    GMM_LANE_LOOP                                                       \
                    for (ptrdiff_t l = 0; l < nl; l++) S[l] = S[l] - Lca[l] * Zc[l];    \
                }                                                                       \
                GMM_LANE_LOOP                                                           \
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
linkage void gmm_lanes_base_##suffix(                                                   \
    const double *Pt, const double *Mt, const double *PMt, const ptrdiff_t *Mr,         \
    ptrdiff_t m, ptrdiff_t D, ptrdiff_t K, double *base, double *qc)                    \
{                                                                                       \
    GMM_ML_TILES(K, GMM_BASE_TILE)                                                      \
}

#define GMM_BASE_TILE(NL)                                                               \
    {                                                                                   \
        const ptrdiff_t nl = (NL);                                                      \
        double q[GMM_ML], S[GMM_ML];                                                    \
        GMM_LANE_LOOP                                                                   \
        for (ptrdiff_t l = 0; l < nl; l++) q[l] = 0.0;                                  \
        for (ptrdiff_t a = 0; a < m; a++) {                                             \
            const ptrdiff_t i = Mr[a];                                                  \
            GMM_LANE_LOOP                                                               \
            for (ptrdiff_t l = 0; l < nl; l++) S[l] = 0.0;                              \
            for (ptrdiff_t a2 = 0; a2 < m; a2++) {                                      \
                const double *Prow = Pt + (i * D + Mr[a2]) * K + k0;                    \
                const double *Ma2 = Mt + Mr[a2] * K + k0;                               \
                GMM_LANE_LOOP                                                           \
                for (ptrdiff_t l = 0; l < nl; l++) S[l] = S[l] + Prow[l] * Ma2[l];      \
            }                                                                           \
            GMM_LANE_LOOP                                                               \
            for (ptrdiff_t l = 0; l < nl; l++) {                                        \
                q[l] = q[l] + 0.5 * Mt[i * K + k0 + l] * S[l];                          \
                base[a * K + k0 + l] = S[l] - PMt[i * K + k0 + l];                      \
            }                                                                           \
        }                                                                               \
        GMM_LANE_LOOP                                                                   \
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
            GMM_LANE_LOOP                                                               \
            for (ptrdiff_t l = 0; l < nl; l++)                                          \
                g[l] = 0.5 * wr[k0 + l] * Sv[a * K + k0 + l];                           \
            for (ptrdiff_t a2 = 0; a2 < m; a2++) {                                      \
                double *Ck = C + (Mr[a] * D + Mr[a2]) * K + k0;                         \
                const double *Sa = Sv + a2 * K + k0;                                    \
                GMM_LANE_LOOP                                                           \
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

/* The two triangular products of a group, on 4 columns of y (4 rows of U for V) at a
   time: plain C for the baseline, intrinsics for the vector builds (B: isa.h's
   _mm<B>_ prefix, V its float vector type, W its floats a vector, GMM_MY = 2 W). */
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
#define GMM_V4_BASE(Y, Up, D4, i, D, a_)                                                \
    {                                                                                   \
        for (int t_ = 0; t_ < 4; t_++)                                                  \
            for (int r_ = 0; r_ < GMM_MY; r_++) a_[t_][r_] = 0.0f;                      \
        for (ptrdiff_t j_ = (i); j_ < (D); j_++)                                        \
            for (int t_ = 0; t_ < 4; t_++)                                              \
                for (int r_ = 0; r_ < GMM_MY; r_++)                                     \
                    a_[t_][r_] = fmaf((Up)[((i) + t_) * (D4) + j_], (Y)[j_ * GMM_MY + r_], \
                                      a_[t_][r_]);                                      \
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
#define GMM_V4_SIMD(V, B, W, Y, Up, D4, i, D, a_)                                       \
    {                                                                                   \
        V a0 = _mm##B##_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                        \
        V b0 = a0, b1 = a0, b2 = a0, b3 = a0;                                           \
        const float *u_ = (Up) + (i) * (D4) + (i);                                      \
        const float *y_ = (Y) + (i) * GMM_MY;                                           \
        for (ptrdiff_t j_ = (i); j_ < (D); j_++, u_++, y_ += GMM_MY) {                  \
            const V ya = _mm##B##_loadu_ps(y_), yb = _mm##B##_loadu_ps(y_ + W);         \
            V ut = _mm##B##_set1_ps(u_[0]);                                             \
            a0 = _mm##B##_fmadd_ps(ut, ya, a0); b0 = _mm##B##_fmadd_ps(ut, yb, b0);     \
            ut = _mm##B##_set1_ps(u_[D4]);                                              \
            a1 = _mm##B##_fmadd_ps(ut, ya, a1); b1 = _mm##B##_fmadd_ps(ut, yb, b1);     \
            ut = _mm##B##_set1_ps(u_[2 * (D4)]);                                        \
            a2 = _mm##B##_fmadd_ps(ut, ya, a2); b2 = _mm##B##_fmadd_ps(ut, yb, b2);     \
            ut = _mm##B##_set1_ps(u_[3 * (D4)]);                                        \
            a3 = _mm##B##_fmadd_ps(ut, ya, a3); b3 = _mm##B##_fmadd_ps(ut, yb, b3);     \
        }                                                                               \
        _mm##B##_storeu_ps(a_[0], a0); _mm##B##_storeu_ps(a_[0] + W, b0);               \
        _mm##B##_storeu_ps(a_[1], a1); _mm##B##_storeu_ps(a_[1] + W, b1);               \
        _mm##B##_storeu_ps(a_[2], a2); _mm##B##_storeu_ps(a_[2] + W, b2);               \
        _mm##B##_storeu_ps(a_[3], a3); _mm##B##_storeu_ps(a_[3] + W, b3);               \
    }
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_Y4(...) GMM_Y4_SIMD(__m512, 512, 16, __VA_ARGS__)
#define GMM_V4(...) GMM_V4_SIMD(__m512, 512, 16, __VA_ARGS__)
#elif GMM_TU_ISA == GMM_ISA_AVX2
#define GMM_Y4(...) GMM_Y4_SIMD(__m256, 256, 8, __VA_ARGS__)
#define GMM_V4(...) GMM_V4_SIMD(__m256, 256, 8, __VA_ARGS__)
#elif GMM_TU_ISA == GMM_ISA_NEON
#define GMM_Y4(...) GMM_Y4_SIMD(gmm_v4f, neon, 4, __VA_ARGS__)
#define GMM_V4(...) GMM_V4_SIMD(gmm_v4f, neon, 4, __VA_ARGS__)
#else
#define GMM_Y4 GMM_Y4_BASE
#define GMM_V4 GMM_V4_BASE
#endif

#define GMM_LANES32_YV(suffix, linkage)                                                 \
/* One component over a block's rows, transposed (Xt, Ot: D x ldx doubles, ldx a      \
   multiple of GMM_MY_MAX, columns n..ldx zero; Ot 1 where a row's feature is         \
   observed, 0 where missing): z = (x - mu) o rounded to float32 (the centring in      \
   double), y = z U in float32 products (Up: D4 x D4, U's upper triangle, zeros        \
   elsewhere; D4 = D rounded up to 4), q[i] = ||y_i||^2 in double (a float's square is \
   exact in double), and V (D x ldx) = (U y)^T in float32 products: at a row's         \
   missing columns, its b = (P delta)_M. Z, Y: D4 x GMM_MY_MAX floats of scratch. */   \
linkage void gmm_lanes32_yv_##suffix(                                                   \
    const double *Xt, const double *Ot, ptrdiff_t ldx, ptrdiff_t n, ptrdiff_t D,        \
    const double *mu, const float *Up, double *q, float *V, float *Z, float *Y)         \
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
        /* y, four columns at a time, over the rows of U down to their last column's */ \
        for (ptrdiff_t j0 = 0; j0 < D4; j0 += 4) {                                      \
            const ptrdiff_t lend = j0 + 4 < D ? j0 + 4 : D;                             \
            GMM_Y4(Z, Up, D4, j0, lend, Y)                                              \
        }                                                                               \
        double s[GMM_MY];                                                               \
        for (int r = 0; r < GMM_MY; r++) s[r] = 0.0;                                    \
        for (ptrdiff_t j = 0; j < D; j++) {                                             \
            const float *y = Y + j * GMM_MY;                                            \
            GMM_LANE_LOOP                                                               \
            for (int r = 0; r < GMM_MY; r++) s[r] = s[r] + (double) y[r] * (double) y[r]; \
        }                                                                               \
        const ptrdiff_t nr = n - i0 < GMM_MY ? n - i0 : GMM_MY;                         \
        for (ptrdiff_t r = 0; r < nr; r++) q[i0 + r] = s[r];                            \
        /* U y, four rows of U at a time, over the columns from the first row's */      \
        for (ptrdiff_t i = 0; i < D; i += 4) {                                          \
            float a[4][GMM_MY];                                                         \
            GMM_V4(Y, Up, D4, i, D, a)                                                  \
            for (int t = 0; t < 4 && i + t < D; t++) {                                  \
                float *v = V + (i + t) * ldx + i0;                                      \
                for (int r = 0; r < GMM_MY; r++) v[r] = a[t][r];                        \
            }                                                                           \
        }                                                                               \
    }                                                                                   \
}

#define GMM_MISSING_LANES(suffix, linkage)                                              \
    GMM_LANES_FACTOR(suffix, linkage)                                                   \
    GMM_LANES_INVERSE(suffix, linkage)                                                  \
    GMM_LANES_SOLVE(suffix, linkage)                                                    \
    GMM_LANES_BASE(suffix, linkage)                                                     \
    GMM_LANES_FILL_OUTER(suffix, linkage)                                               \
    GMM_LANES32_YV(suffix, linkage)

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
typedef void gmm_lanes32_yv_fn(const double *, const double *, ptrdiff_t, ptrdiff_t,
                               ptrdiff_t, const double *, const float *, double *, float *,
                               float *, float *);
GMM_DISPATCH(gmm_lanes32_yv_fn, gmm_lanes32_yv)

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
    GMM_SELECT(gmm_lanes32_yv, gmm_lanes32_yv);
}
#endif

#endif
