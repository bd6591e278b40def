/* 'full' covariance with few features (D < GMM_SMALL_D): one block of rows, transposed.

   With D of 2 to 7, a BLAS call per component and block costs more than its work, and
   loops over a row's D features are too short to vectorise. So the block is held
   feature-major (xt: D x n) and every loop runs over the n rows of the block: long,
   contiguous and independent, which the compiler vectorises. Same maths as the
   row-major loop of route_full_small.pxi, which serves the per-sample outputs:

     lpt[k, i] = cst_k - 0.5 * || (x_i - mu_k) U_k ||^2                  (K x n)
     N_k += sum_i r_ki,  S1_k += sum_i r_ki z_ki,  S2_k += sum_i r_ki z_ki z_ki^T (lower)
       with z_ki = x_i - mu_k and r (K x n) the weighted responsibilities.

   The log-densities and the normalisation are computed in the data's type T (float32
   data in float32); the statistics in double, about the means in double (the shifts
   they are reported about: about the float32 means, every new mean would be off by
   their rounding, ~5e-4 at an offset of 1e4). For float32 data they read a double copy
   of the block (exact, made in one pass): converted inside the statistics' loop, gcc
   stored each converted vector in two halves and loaded it back whole, a failed
   store-to-load forwarding every group of rows, and the float32 block took most of its
   time there. (A double copy of the responsibilities too cost more than it saved: a
   component's groups of rows that are all exactly 0 skip them.) Every sum over rows is accumulated in
   double (eight partial sums in a fixed order). Parameters arrive in double and are
   rounded to T for the log-densities.
   Built for every instruction set (isa.h).
*/
#ifndef GMMFAST_SMALL_FULL_H
#define GMMFAST_SMALL_FULL_H

#include <math.h>
#include "normalize.h"

#define GMM_SMALL_D 8

/* Scratch of gmm_full_small_block_<t> for n rows, in bytes: the block in T (xt, y, lse,
   scale, lpt: n (D + K + 3) items) to the next multiple of 64 bytes, then for float32
   data a double copy of xt (n D doubles). */
GMM_INLINE ptrdiff_t gmm_small_narrow_bytes(ptrdiff_t n, ptrdiff_t D, ptrdiff_t K,
                                            ptrdiff_t size)
{
    return (n * (D + K + 3) * size + 63) / 64 * 64;
}

GMM_INLINE ptrdiff_t gmm_full_small_scratch(ptrdiff_t n, ptrdiff_t D, ptrdiff_t K,
                                            ptrdiff_t size)
{
    return gmm_small_narrow_bytes(n, D, K, size)
        + (size == (ptrdiff_t) sizeof(float) ? n * D * (ptrdiff_t) sizeof(double) : 0);
}

/* lpt (K x n) from xt (D x n), one pass over the rows a component: the D centred
   features, the triangular product and the squared norm stay in registers (the body is
   compiled once for each D < GMM_SMALL_D, so its loops over features unroll and the
   loop over rows vectorises). Per row, in this order: z = x - mu;
   y_j = z_j U_jj + sum_{l<j} z_l U_lj; q = sum_j y_j^2; lpt = cst - 0.5 q. */
#define GMM_SMALL_LOGPROB(suffix, linkage, T, t)                                           \
GMM_INLINE void gmm_small_logprob_body_##t##_##suffix(                             \
    const T *xt, ptrdiff_t n, const ptrdiff_t D, ptrdiff_t K,                           \
    const double *cst, const double *M, const double *U, T *lpt)                        \
{                                                                                       \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        const double *mu = M + k * D, *Uk = U + k * D * D;                              \
        T m[GMM_SMALL_D], u[GMM_SMALL_D][GMM_SMALL_D], c = (T) cst[k];                  \
        T *q = lpt + k * n;                                                             \
        for (ptrdiff_t j = 0; j < D; j++) {                                             \
            m[j] = (T) mu[j];                                                           \
            for (ptrdiff_t l = 0; l <= j; l++) u[l][j] = (T) Uk[l * D + j];             \
        }                                                                               \
        for (ptrdiff_t i = 0; i < n; i++) {                                             \
            T z[GMM_SMALL_D], acc = 0;                                                  \
            GMM_UNROLL_FEATURES                                                         \
            for (ptrdiff_t j = 0; j < D; j++) z[j] = xt[j * n + i] - m[j];              \
            GMM_UNROLL_FEATURES                                                         \
            for (ptrdiff_t j = 0; j < D; j++) {                                         \
                T y = z[j] * u[j][j];                                                   \
                GMM_UNROLL_FEATURES                                                     \
                for (ptrdiff_t l = 0; l < j; l++) y += z[l] * u[l][j];                  \
                acc += y * y;                                                           \
            }                                                                           \
            q[i] = c - (T) 0.5 * acc;                                                   \
        }                                                                               \
    }                                                                                   \
}



/* N, S1, S2 (double) += the block's moments about each mean, one pass over the rows a
   component (compiled once for each D < GMM_SMALL_D). Every sum has eight partial sums,
   row i going to sum i % 8, added in gmm_sum8's order: per row, u_a = r z_a (in double),
   N += r, S1_a += u_a, S2_ab += u_a z_b (b <= a), each in double. The whole groups of
   eight rows are written lane by lane (the loops over l innermost, over the features
   unrolled), which the compiler turns into one vector operation a statement; from
   D = 3 on, a group whose eight responsibilities are all exactly zero adds exactly
   nothing and is passed over (far-apart components: most of them; with fewer features
   the test costs more than it saves). The last n % 8 rows go one at a time. (Written a
   row at a time for D <= 2, gcc kept the eight sums in memory, a load and a store
   every term.) */
#define GMM_SMALL_STATS_ROW(T, i, l)                                                    \
    {                                                                                   \
        double z[GMM_SMALL_D];                                                          \
        ptrdiff_t s = 1 + D;                                                            \
        for (ptrdiff_t a = 0; a < D; a++) z[a] = (double) xt[a * n + (i)] - m[a];       \
        acc[0][l] += (double) r[i];                                                     \
        for (ptrdiff_t a = 0; a < D; a++) {                                             \
            const double ua = (double) r[i] * z[a];                                     \
            acc[1 + a][l] += ua;                                                        \
            for (ptrdiff_t b = 0; b <= a; b++, s++)                                     \
                acc[s][l] += ua * z[b];                                                 \
        }                                                                               \
    }

/* the eight lanes of a group of rows: one vector operation (isa.h) */
#define GMM_SMALL_LANES(l) GMM_LANE_LOOP for (int l = 0; l < 8; l++)

/* Whether any of the eight responsibilities at p (double or float) is not 0 (NaN
   counts, as with !=): in the x86 vector builds one compare and a mask test, where
   the compiler's own form of the loop (an OR of the lanes by shifts) took a sixth of
   a small block's time. */
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_ANY8_double(p)                                                              \
    (_mm512_cmp_pd_mask(_mm512_loadu_pd(p), _mm512_setzero_pd(), _CMP_NEQ_UQ) != 0)
#elif GMM_TU_ISA == GMM_ISA_AVX2
#define GMM_ANY8_double(p)                                                              \
    ((_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(p), _mm256_setzero_pd(),       \
                                       _CMP_NEQ_UQ))                                    \
      | _mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd((p) + 4), _mm256_setzero_pd(), \
                                         _CMP_NEQ_UQ))) != 0)
#endif
#if GMM_TU_X86
#define GMM_ANY8_float(p)                                                               \
    (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), _mm256_setzero_ps(),        \
                                      _CMP_NEQ_UQ)) != 0)
#else
GMM_INLINE int gmm_any8_d(const double *p)
{
    int any = 0;
    GMM_SMALL_LANES(l) any |= p[l] != 0;
    return any;
}
GMM_INLINE int gmm_any8_f(const float *p)
{
    int any = 0;
    GMM_SMALL_LANES(l) any |= p[l] != 0;
    return any;
}
#define GMM_ANY8_double(p) gmm_any8_d(p)
#define GMM_ANY8_float(p) gmm_any8_f(p)
#endif

#define GMM_SMALL_STATS_GROUP(T, i0, CHECK)                                             \
    {                                                                                   \
        double zg[GMM_SMALL_D][8], rg[8], ua[8];                                        \
        if (!(CHECK) || GMM_ANY8_##T(r + (i0))) {                                       \
            GMM_SMALL_LANES(l) rg[l] = (double) r[(i0) + l];                            \
            GMM_UNROLL_FEATURES                                                         \
            for (ptrdiff_t a = 0; a < D; a++)                                           \
                GMM_SMALL_LANES(l) zg[a][l] = (double) xt[a * n + (i0) + l] - m[a];     \
            GMM_SMALL_LANES(l) acc[0][l] += rg[l];                                      \
            GMM_UNROLL_FEATURES                                                         \
            for (ptrdiff_t a = 0; a < D; a++) {                                         \
                GMM_SMALL_LANES(l) ua[l] = rg[l] * zg[a][l];                            \
                GMM_SMALL_LANES(l) acc[1 + a][l] += ua[l];                              \
                GMM_UNROLL_FEATURES                                                     \
                for (ptrdiff_t b = 0; b <= a; b++)                                      \
                    GMM_SMALL_LANES(l)                                                  \
                        acc[1 + D + a * (a + 1) / 2 + b][l] += ua[l] * zg[b][l];        \
            }                                                                           \
        }                                                                               \
    }

#define GMM_SMALL_STATS(suffix, linkage, TX, T, t)                                     \
GMM_INLINE void gmm_small_stats_body_##t##_##suffix(                               \
    const TX *xt, ptrdiff_t n, const ptrdiff_t D, ptrdiff_t K, const double *M,         \
    const T *R, double *N, double *S1, double *S2)                                      \
{                                                                                       \
    enum { NS = GMM_SMALL_D * (GMM_SMALL_D + 3) / 2 + 1 };                              \
    const ptrdiff_t ns = D * (D + 3) / 2 + 1;    /* N, S1 (D), S2 (D (D + 1) / 2) */    \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        const T *r = R + k * n;                                                         \
        double m[GMM_SMALL_D];                                                          \
        double acc[NS][8];                                                              \
        for (ptrdiff_t a = 0; a < D; a++) m[a] = M[k * D + a];                          \
        for (ptrdiff_t s = 0; s < ns; s++)                                              \
            for (int l = 0; l < 8; l++) acc[s][l] = 0.0;                                \
        ptrdiff_t i0 = 0;                                                               \
        if (D > 2)                                                                      \
            for (; i0 + 8 <= n; i0 += 8)   /* whole groups: a constant trip count */    \
                GMM_SMALL_STATS_GROUP(T, i0, 1)                                         \
        else   /* so few features: the test costs more than it saves */                 \
            for (; i0 + 8 <= n; i0 += 8)                                                \
                GMM_SMALL_STATS_GROUP(T, i0, 0)                                         \
        for (int l = 0; i0 + l < n; l++)                                                \
            GMM_SMALL_STATS_ROW(T, i0 + l, l)                                           \
        N[k] += gmm_sum8(acc[0]);                                                       \
        for (ptrdiff_t a = 0, s = 1 + D; a < D; a++) {                                  \
            S1[k * D + a] += gmm_sum8(acc[1 + a]);                                      \
            for (ptrdiff_t b = 0; b <= a; b++, s++)                                     \
                S2[(k * D + a) * D + b] += gmm_sum8(acc[s]);                            \
        }                                                                               \
    }                                                                                   \
}

/* The statistics of a block: of double data from its block; of float32 data from a
   double copy of it (see the top of this file). */
#define GMM_SMALL_STATS_CALL_double(suffix)                                             \
    gmm_small_stats_body_d_##suffix(xt, n, D, K, M, lpt, N, S1, S2);
#define GMM_SMALL_STATS_CALL_float(suffix)                                              \
    {                                                                                   \
        double *xd = (double *) ((char *) scratch                                       \
                                 + gmm_small_narrow_bytes(n, D, K, sizeof(float)));     \
        for (ptrdiff_t i = 0; i < D * n; i++) xd[i] = (double) xt[i];                   \
        gmm_small_stats_body_fd_##suffix(xd, n, D, K, M, lpt, N, S1, S2);               \
    }

/* The whole of one block: transpose, log-probabilities, normalisation, statistics.
   Returns the index of the first row whose log-likelihood is not finite (statistics
   then not accumulated), or -1. L += sum_i w_i lse_i.
   The body is compiled for each D < GMM_SMALL_D (a constant there: the loops over
   features unroll), the function dispatches on D. scratch: gmm_full_small_scratch. */
#define GMM_SMALL_BLOCK(suffix, linkage, T, t)                                             \
GMM_INLINE ptrdiff_t gmm_full_small_block_body_##t##_##suffix(                     \
    const T *X, const double *w, ptrdiff_t n, const ptrdiff_t D, ptrdiff_t K,           \
    const double *cst, const double *M, const double *U,                                \
    double *N, double *S1, double *S2, double *L, void *scratch)                        \
{                                                                                       \
    T *xt = (T *) scratch, *y = xt + D * n, *lse = y + n;                               \
    T *scale = lse + n, *lpt = scale + n;                                               \
    int bad = 0;                                                                        \
    for (ptrdiff_t i = 0; i < n; i++)                                                   \
        for (ptrdiff_t j = 0; j < D; j++) xt[j * n + i] = X[i * D + j];                 \
    gmm_small_logprob_body_##t##_##suffix(xt, n, D, K, cst, M, U, lpt);                 \
    gmm_normalize_cols_##t##_##suffix(lpt, n, K, w, lse, y, scale);                    \
    for (ptrdiff_t i = 0; i < n; i++)      /* no early exit: the loop vectorises */    \
        bad |= !(lse[i] > -HUGE_VAL && lse[i] < HUGE_VAL);                              \
    if (bad)                                                                            \
        for (ptrdiff_t i = 0; i < n; i++)                                               \
            if (!(lse[i] > -HUGE_VAL && lse[i] < HUGE_VAL)) return i;                   \
    *L += w ? gmm_wsum_##t(w, lse, n) : gmm_sum_##t(lse, n);                            \
    GMM_SMALL_STATS_CALL_##T(suffix)                                                    \
    return -1;                                                                          \
}                                                                                       \
linkage ptrdiff_t gmm_full_small_block_##t##_##suffix(                              \
    const T *X, const double *w, ptrdiff_t n, ptrdiff_t D, ptrdiff_t K,                 \
    const double *cst, const double *M, const double *U,                                \
    double *N, double *S1, double *S2, double *L, void *scratch)                        \
{                                                                                       \
    switch (D) {                                                                        \
    case 2: return gmm_full_small_block_body_##t##_##suffix(                            \
                X, w, n, 2, K, cst, M, U, N, S1, S2, L, scratch);                       \
    case 3: return gmm_full_small_block_body_##t##_##suffix(                            \
                X, w, n, 3, K, cst, M, U, N, S1, S2, L, scratch);                       \
    case 4: return gmm_full_small_block_body_##t##_##suffix(                            \
                X, w, n, 4, K, cst, M, U, N, S1, S2, L, scratch);                       \
    case 5: return gmm_full_small_block_body_##t##_##suffix(                            \
                X, w, n, 5, K, cst, M, U, N, S1, S2, L, scratch);                       \
    case 6: return gmm_full_small_block_body_##t##_##suffix(                            \
                X, w, n, 6, K, cst, M, U, N, S1, S2, L, scratch);                       \
    case 7: return gmm_full_small_block_body_##t##_##suffix(                            \
                X, w, n, 7, K, cst, M, U, N, S1, S2, L, scratch);                       \
    default: return gmm_full_small_block_body_##t##_##suffix(                           \
                X, w, n, D, K, cst, M, U, N, S1, S2, L, scratch);                       \
    }                                                                                   \
}


#define GMM_SMALL_ALL(suffix, linkage)                                                  \
    GMM_SMALL_LOGPROB(suffix, linkage, double, d)                                       \
    GMM_SMALL_STATS(suffix, linkage, double, double, d)                                 \
    GMM_SMALL_BLOCK(suffix, linkage, double, d)                                         \
    GMM_SMALL_LOGPROB(suffix, linkage, float, f)                                        \
    GMM_SMALL_STATS(suffix, linkage, double, float, fd)                                 \
    GMM_SMALL_BLOCK(suffix, linkage, float, f)

GMM_INSTANTIATE(GMM_SMALL_ALL)

typedef ptrdiff_t gmm_block_d_fn(const double *, const double *, ptrdiff_t, ptrdiff_t,
                                 ptrdiff_t, const double *, const double *, const double *,
                                 double *, double *, double *, double *, void *);
typedef ptrdiff_t gmm_block_f_fn(const float *, const double *, ptrdiff_t, ptrdiff_t,
                                 ptrdiff_t, const double *, const double *, const double *,
                                 double *, double *, double *, double *, void *);

#if GMM_MAIN_TU
GMM_DISPATCH(gmm_block_d_fn, gmm_full_small_block_d)
GMM_DISPATCH(gmm_block_f_fn, gmm_full_small_block_f)

static void gmm_small_full_select(void)
{
    GMM_SELECT(gmm_full_small_block_d, gmm_full_small_block_d);
    GMM_SELECT(gmm_full_small_block_f, gmm_full_small_block_f);
}
#endif

#endif
