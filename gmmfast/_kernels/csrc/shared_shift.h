/* The per-element loops of the 'tied' and 'spherical' routes (route_tied.pxi,
   route_spherical.pxi), built for every instruction set (isa.h) and vectorised over the
   rows of a block:

     gmm_rows_to_cols_<t>   zt (D x n) := Z (n x D), the transpose of a block
     gmm_tied_lp_<t>        'tied': lpt[k, i] = cst_k - 0.5 sum_j (zt[j, i] - V[k, j])^2
     gmm_spherical_lp_<t>   'spherical': lpt[k, i] = cst_k - 0.5 p_k (xx_i - 2 G[i, k])
     gmm_cols_to_rows_w     lp[i, k] := lpt[k, i] w_i, then N_k += lp[i, k] in row order

   (<t>: d for float64 data, f for float32 data; the arithmetic is in double for both.)

   Bits. These are the operations of the routes' former row-by-row loops, element by
   element and in the same order (the sums over j in order of j, N_k over the rows in
   order), so every build gives the results of the baseline build's scalar code. For
   that, no multiply and add here may be fused into one FMA: the vector builds are
   compiled with FMA and gcc and clang would otherwise contract d * d + q; GMM_EXACT
   turns contraction off for these functions (and MSVC's /fp:contract for this file).
*/
#ifndef GMMFAST_SHARED_SHIFT_H
#define GMMFAST_SHARED_SHIFT_H

#include "isa.h"
#include "normalize.h"

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
#if defined(_MSC_VER) && !defined(__clang__)
#pragma fp_contract(off)
#endif

/* Rows per tile of the 'tied' distances: the tile's sums stay in registers while the
   loop runs over the features (four AVX-512 vectors, eight AVX2 ones) */
#define GMM_TIED_TILE 32

/* zt (D x n) := Z (n x D), eight rows at a time: the eight rows' entries of a feature
   share a cache line of zt (see GMM_TRANSPOSE_ROWS in normalize.h) */
#define GMM_ROWS_TO_COLS(suffix, linkage, T, t)                                         \
linkage void gmm_rows_to_cols_##t##_##suffix(const T *Z, ptrdiff_t n, ptrdiff_t D,     \
                                               T *zt)                                   \
{                                                                                       \
    for (ptrdiff_t i0 = 0; i0 < n; i0 += 8) {                                           \
        const ptrdiff_t i1 = n - i0 < 8 ? n : i0 + 8;                                   \
        for (ptrdiff_t j = 0; j < D; j++)                                               \
            for (ptrdiff_t i = i0; i < i1; i++) zt[j * n + i] = Z[i * D + j];           \
    }                                                                                   \
}

/* 'tied': lpt (K x n, double) from the whitened rows zt (D x n) and whitened means V
   (K x D), both of the data's type T: per row and component, in this order,
   d_j = double(zt_ji) - double(V_kj), q = ((d_0^2 + d_1^2) + ...) from q = 0,
   lpt = cst_k - 0.5 q. A tile of GMM_TIED_TILE rows at a time, its K sums built over
   the features in registers. */
#define GMM_TIED_LP(suffix, linkage, T, t)                                              \
GMM_EXACT_ATTR linkage void gmm_tied_lp_##t##_##suffix(                                \
    const T *zt, ptrdiff_t n, ptrdiff_t D, ptrdiff_t K, const T *V,                     \
    const double *cst, double *lpt)                                                     \
{                                                                                       \
    GMM_EXACT_BODY                                                                      \
    ptrdiff_t i0 = 0;                                                                   \
    for (; i0 + GMM_TIED_TILE <= n; i0 += GMM_TIED_TILE) {                              \
        for (ptrdiff_t k = 0; k < K; k++) {                                             \
            double q[GMM_TIED_TILE];                                                    \
            const T *vk = V + k * D;                                                    \
            for (int i = 0; i < GMM_TIED_TILE; i++) q[i] = 0.0;                         \
            for (ptrdiff_t j = 0; j < D; j++) {                                         \
                const double v = (double) vk[j];                                        \
                const T *zj = zt + j * n + i0;                                          \
                for (int i = 0; i < GMM_TIED_TILE; i++) {                               \
                    const double d = (double) zj[i] - v;                                \
                    q[i] += d * d;                                                      \
                }                                                                       \
            }                                                                           \
            const double ck = cst[k];                                                   \
            double *out = lpt + k * n + i0;                                             \
            for (int i = 0; i < GMM_TIED_TILE; i++) out[i] = ck - 0.5 * q[i];           \
        }                                                                               \
    }                                                                                   \
    if (i0 < n) {                                                                       \
        for (ptrdiff_t k = 0; k < K; k++) {                                             \
            double *q = lpt + k * n;                                                    \
            const T *vk = V + k * D;                                                    \
            for (ptrdiff_t i = i0; i < n; i++) q[i] = 0.0;                              \
            for (ptrdiff_t j = 0; j < D; j++) {                                         \
                const double v = (double) vk[j];                                        \
                const T *zj = zt + j * n;                                               \
                for (ptrdiff_t i = i0; i < n; i++) {                                    \
                    const double d = (double) zj[i] - v;                                \
                    q[i] += d * d;                                                      \
                }                                                                       \
            }                                                                           \
            const double ck = cst[k];                                                   \
            for (ptrdiff_t i = i0; i < n; i++) q[i] = ck - 0.5 * q[i];                  \
        }                                                                               \
    }                                                                                   \
}

/* 'spherical': lpt (K x n, double) from the cross products G (n x K, the data's type T)
   and the squared norms xx (n): lpt[k, i] = cst_k - (0.5 p_k) (xx_i - 2 double(G_ik)),
   eight rows at a time (transposing G as it goes). */
#define GMM_SPHERICAL_LP(suffix, linkage, T, t)                                         \
GMM_EXACT_ATTR linkage void gmm_spherical_lp_##t##_##suffix(                           \
    const T *G, ptrdiff_t n, ptrdiff_t K, const double *xx, const double *cst,          \
    const double *prec, double *lpt)                                                    \
{                                                                                       \
    GMM_EXACT_BODY                                                                      \
    for (ptrdiff_t i0 = 0; i0 < n; i0 += 8) {                                           \
        const ptrdiff_t i1 = n - i0 < 8 ? n : i0 + 8;                                   \
        for (ptrdiff_t k = 0; k < K; k++) {                                             \
            const double ck = cst[k], hk = 0.5 * prec[k];                               \
            for (ptrdiff_t i = i0; i < i1; i++)                                         \
                lpt[k * n + i] = ck - hk * (xx[i] - 2.0 * (double) G[i * K + k]);       \
        }                                                                               \
    }                                                                                   \
}

/* lp (n x K) := lpt (K x n) with row i weighted by w_i (w NULL: by 1, exactly a copy),
   eight rows at a time; then, if N is given, N_k += lp[i, k] over the rows in order
   (vectorised over k). */
#define GMM_COLS_TO_ROWS_W(suffix, linkage)                                             \
GMM_EXACT_ATTR linkage void gmm_cols_to_rows_w_##suffix(                               \
    const double *lpt, ptrdiff_t n, ptrdiff_t K, const double *w, double *lp,           \
    double *N)                                                                          \
{                                                                                       \
    GMM_EXACT_BODY                                                                      \
    if (w == NULL) {                                                                    \
        GMM_TRANSPOSE_ROWS(lp[i * K + k] = lpt[k * n + i])                              \
    } else {                                                                            \
        GMM_TRANSPOSE_ROWS(lp[i * K + k] = lpt[k * n + i] * w[i])                       \
    }                                                                                   \
    if (N != NULL)                                                                      \
        for (ptrdiff_t i = 0; i < n; i++)                                               \
            for (ptrdiff_t k = 0; k < K; k++) N[k] += lp[i * K + k];                    \
}

#define GMM_SHARED_SHIFT_ALL(suffix, linkage)                                           \
    GMM_ROWS_TO_COLS(suffix, linkage, double, d)                                        \
    GMM_ROWS_TO_COLS(suffix, linkage, float, f)                                         \
    GMM_TIED_LP(suffix, linkage, double, d)                                             \
    GMM_TIED_LP(suffix, linkage, float, f)                                              \
    GMM_SPHERICAL_LP(suffix, linkage, double, d)                                        \
    GMM_SPHERICAL_LP(suffix, linkage, float, f)                                         \
    GMM_COLS_TO_ROWS_W(suffix, linkage)

GMM_INSTANTIATE(GMM_SHARED_SHIFT_ALL)

#if defined(_MSC_VER) && !defined(__clang__)
#pragma fp_contract(on)
#endif

typedef void gmm_r2c_d_fn(const double *, ptrdiff_t, ptrdiff_t, double *);
typedef void gmm_r2c_f_fn(const float *, ptrdiff_t, ptrdiff_t, float *);
typedef void gmm_tied_lp_d_fn(const double *, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                              const double *, const double *, double *);
typedef void gmm_tied_lp_f_fn(const float *, ptrdiff_t, ptrdiff_t, ptrdiff_t,
                              const float *, const double *, double *);
typedef void gmm_sph_lp_d_fn(const double *, ptrdiff_t, ptrdiff_t, const double *,
                             const double *, const double *, double *);
typedef void gmm_sph_lp_f_fn(const float *, ptrdiff_t, ptrdiff_t, const double *,
                             const double *, const double *, double *);
typedef void gmm_c2r_fn(const double *, ptrdiff_t, ptrdiff_t, const double *, double *,
                        double *);

#if GMM_MAIN_TU
GMM_DISPATCH(gmm_r2c_d_fn, gmm_rows_to_cols_d)
GMM_DISPATCH(gmm_r2c_f_fn, gmm_rows_to_cols_f)
GMM_DISPATCH(gmm_tied_lp_d_fn, gmm_tied_lp_d)
GMM_DISPATCH(gmm_tied_lp_f_fn, gmm_tied_lp_f)
GMM_DISPATCH(gmm_sph_lp_d_fn, gmm_spherical_lp_d)
GMM_DISPATCH(gmm_sph_lp_f_fn, gmm_spherical_lp_f)
GMM_DISPATCH(gmm_c2r_fn, gmm_cols_to_rows_w)

static void gmm_shared_shift_select(void)
{
    GMM_SELECT(gmm_rows_to_cols_d, gmm_rows_to_cols_d);
    GMM_SELECT(gmm_rows_to_cols_f, gmm_rows_to_cols_f);
    GMM_SELECT(gmm_tied_lp_d, gmm_tied_lp_d);
    GMM_SELECT(gmm_tied_lp_f, gmm_tied_lp_f);
    GMM_SELECT(gmm_spherical_lp_d, gmm_spherical_lp_d);
    GMM_SELECT(gmm_spherical_lp_f, gmm_spherical_lp_f);
    GMM_SELECT(gmm_cols_to_rows_w, gmm_cols_to_rows_w);
}
#endif

#endif
