/* The row pass's work per row and component for few features (D < 8), at a fixed D.
 *
 * Included by gmmfast/_missing_rows.pyx alone (its own translation unit, the baseline
 * build, -ffp-contract=off). Loops over a row's D values whose bounds are known only
 * at run time spend most of their work on themselves when D is a handful (the
 * measurements are in bench/results/missing.md). Here each D of 1..GMM_SMALL_MAX_D
 * has a function of its own, whose loops the compiler unrolls and whose row lives in
 * registers. The statistics take the general loops' operations in their order
 * (_missing_components.pxi: the same sums, from 0, in the same order); the first
 * sweep's q and b are gmm_dot4's four partial sums of unfused products (the general
 * route's from 8 features on, csrc/missing_rowsd.h, are fused, one row a lane).
 */
#ifndef GMMFAST_MISSING_SMALL_H
#define GMMFAST_MISSING_SMALL_H

#include <stddef.h>

#define GMM_SMALL_MAX_D 7
/* X(d) for each D of 1..GMM_SMALL_MAX_D: the functions' instances and their switches */
#define GMM_SMALL_EACH_D(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

/* gcc cannot tell that b's dot products (y + M_a, D - M_a entries, 0 <= M_a < D) read
 * only the entries of y written before them, and warns */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GMM_SMALL_INLINE static inline __attribute__((always_inline))
#else
#define GMM_SMALL_INLINE static inline
#endif

/* sum_i a_i b_i with four partial sums (one chain of adds would wait on each add),
 * the tail into the first; the fixed-D rows' dot product (inlined: a call a row and
 * component would cost more than its few terms) */
GMM_SMALL_INLINE double gmm_dot4(const double *a, const double *b, ptrdiff_t n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 = s0 + a[i] * b[i];
        s1 = s1 + a[i + 1] * b[i + 1];
        s2 = s2 + a[i + 2] * b[i + 2];
        s3 = s3 + a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 = s0 + a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* The first sweep of _rows_block for one component (its general form there): for each
 * of the nb rows of X0 (D a row; row r's nm[r] missing columns Mi[r mmax ..]),
 * delta = x - mu with 0 at the missing columns, y = delta U (U upper triangular,
 * row-major, D x D: y_j = sum_{i <= j} delta_i U_ij), q = ||y||^2,
 * lp[r K] = (c0 + (0.5 m) log_2pi) - 0.5 q, and b_a = U[M_a, M_a:] . y[M_a:] into
 * bt[(moff[r] + a) K] (lp and bt already offset to the component). */
#define GMM_SMALL_FIRST(DD)                                                             \
static void gmm_small_first_##DD(                                                       \
    const double *X0, ptrdiff_t nb, const ptrdiff_t *Mi, ptrdiff_t mmax,                \
    const ptrdiff_t *nm, const ptrdiff_t *moff, const double *mu, const double *U,     \
    double c0, double log_2pi, ptrdiff_t K, double *lp, double *bt)                     \
{                                                                                       \
    enum { D = DD };                                                                    \
    for (ptrdiff_t r = 0; r < nb; r++) {                                                \
        double d[D], y[D];                                                              \
        const ptrdiff_t m = nm[r];                                                      \
        const ptrdiff_t *Mr = Mi + r * mmax;                                            \
        /* the missing columns as bits: d at a computed index, stored over d in      \
           memory, made the next read of d wait for the stores (no forwarding) */     \
        unsigned miss = 0;                                                              \
        for (ptrdiff_t a = 0; a < m; a++)                                               \
            miss |= 1u << Mr[a];                                                        \
        for (int j = 0; j < D; j++)                                                     \
            d[j] = miss >> j & 1u ? 0.0 : X0[r * D + j] - mu[j];                        \
        for (int j = 0; j < D; j++) {                                                   \
            double s = 0.0;                                                             \
            for (int i = 0; i <= j; i++)                                                \
                s = s + d[i] * U[i * D + j];                                            \
            y[j] = s;                                                                   \
        }                                                                               \
        const double q = gmm_dot4(y, y, D);                                             \
        lp[r * K] = (c0 + (0.5 * (double) m) * log_2pi) - 0.5 * q;                      \
        double *b = bt + moff[r] * K;                                                   \
        for (ptrdiff_t a = 0; a < m; a++)                                               \
            b[a * K] = gmm_dot4(U + Mr[a] * D + Mr[a], y + Mr[a], D - Mr[a]);          \
    }                                                                                   \
}

GMM_SMALL_EACH_D(GMM_SMALL_FIRST)

/* The second sweep of _rows_block for one component (its general form there:
 * gmm_rows_delta, _add_weighted_rows, _add_scatter): each row whose w r_k (lp[r K]
 * times w[r], or lp alone with w NULL) is not 0 adds it to *Nk, w r_k delta to T1
 * (D) and w r_k delta delta^T to the lower triangle (row >= column) of T2 (D x D,
 * row-major), with delta = x - mu and tk[moff[r] + a] (-t) at the row's missing
 * columns. Each entry's sum takes the rows in their order, as there. T2 is zeroed
 * before the first row unless add_T2 (then added to: 'tied', one T2 for all
 * components), and written only when a row was added. Returns how many were. */
#define GMM_SMALL_STATS(DD)                                                             \
static ptrdiff_t gmm_small_stats_##DD(                                                  \
    const double *X0, const double *w, const double *lp, ptrdiff_t nb, ptrdiff_t K,    \
    const double *mu, const ptrdiff_t *Mi, ptrdiff_t mmax, const ptrdiff_t *nm,        \
    const ptrdiff_t *moff, const double *tk, double *Nk, double *T1, double *T2,       \
    int add_T2)                                                                         \
{                                                                                       \
    enum { D = DD };                                                                    \
    double nk = *Nk, t1[D], t2[D][D], y[D];                                             \
    ptrdiff_t nz = 0;                                                                   \
    for (int a = 0; a < D; a++) {                                                       \
        t1[a] = T1[a];                                                                  \
        for (int c = 0; c <= a; c++)                                                    \
            t2[a][c] = add_T2 ? T2[a * D + c] : 0.0;                                    \
    }                                                                                   \
    for (ptrdiff_t r = 0; r < nb; r++) {                                                \
        const double wr = w == NULL ? lp[r * K] : lp[r * K] * w[r];                     \
        if (wr == 0.0)                                                                  \
            continue;                                                                   \
        nk = nk + wr;                                                                   \
        nz++;                                                                           \
        const ptrdiff_t *Mr = Mi + r * mmax;                                            \
        /* as in the first sweep: the missing columns as bits, -t taken in order */    \
        unsigned miss = 0;                                                              \
        for (ptrdiff_t a = 0; a < nm[r]; a++)                                           \
            miss |= 1u << Mr[a];                                                        \
        const double *tr = tk + moff[r];                                                \
        for (int j = 0; j < D; j++)                                                     \
            y[j] = miss >> j & 1u ? *tr++ : X0[r * D + j] - mu[j];                      \
        for (int j = 0; j < D; j++)                                                     \
            t1[j] = t1[j] + wr * y[j];                                                  \
        for (int a = 0; a < D; a++) {                                                   \
            const double wa = wr * y[a];                                                \
            for (int c = 0; c <= a; c++)                                                \
                t2[a][c] = t2[a][c] + wa * y[c];                                        \
        }                                                                               \
    }                                                                                   \
    *Nk = nk;                                                                           \
    if (nz > 0)                                                                         \
        for (int a = 0; a < D; a++) {                                                   \
            T1[a] = t1[a];                                                              \
            for (int c = 0; c <= a; c++)                                                \
                T2[a * D + c] = t2[a][c];                                               \
        }                                                                               \
    return nz;                                                                          \
}

GMM_SMALL_EACH_D(GMM_SMALL_STATS)

/* gmm_small_stats_D for 1 <= D <= GMM_SMALL_MAX_D; -1 (nothing done) for another D */
static inline ptrdiff_t gmm_small_stats(
    ptrdiff_t D, const double *X0, const double *w, const double *lp, ptrdiff_t nb,
    ptrdiff_t K, const double *mu, const ptrdiff_t *Mi, ptrdiff_t mmax,
    const ptrdiff_t *nm, const ptrdiff_t *moff, const double *tk, double *Nk,
    double *T1, double *T2, int add_T2)
{
    switch (D) {
#define GMM_SMALL_CASE(DD)                                                              \
    case DD:                                                                            \
        return gmm_small_stats_##DD(X0, w, lp, nb, K, mu, Mi, mmax, nm, moff, tk, Nk,   \
                                    T1, T2, add_T2);
    GMM_SMALL_EACH_D(GMM_SMALL_CASE)
#undef GMM_SMALL_CASE
    default:
        return -1;
    }
}

/* gmm_small_first_D for 1 <= D <= GMM_SMALL_MAX_D; returns 0 (nothing done) for
 * another D */
static inline int gmm_small_first(
    ptrdiff_t D, const double *X0, ptrdiff_t nb, const ptrdiff_t *Mi, ptrdiff_t mmax,
    const ptrdiff_t *nm, const ptrdiff_t *moff, const double *mu, const double *U,
    double c0, double log_2pi, ptrdiff_t K, double *lp, double *bt)
{
    switch (D) {
#define GMM_SMALL_CASE(DD)                                                              \
    case DD:                                                                            \
        gmm_small_first_##DD(X0, nb, Mi, mmax, nm, moff, mu, U, c0, log_2pi, K, lp,    \
                             bt);                                                      \
        return 1;
    GMM_SMALL_EACH_D(GMM_SMALL_CASE)
#undef GMM_SMALL_CASE
    default:
        return 0;
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif
