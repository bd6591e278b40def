/* Feature rows: each row of a block expanded into the products that turn a quadratic
   form about a shared shift c into one GEMM for all components.

     moment rows ('full' near c):  F_i = [z_a z_b (a >= b), z_a, 1],  z = x_i - c
     'diag' rows:                  A_i = [z^2, z, 0 ...]

   Always formed in double, from float32 data too: the expansion about c needs it (see
   route_full_moments.pxi and route_diag.pxi).
*/
#ifndef GMMFAST_FEATURE_ROWS_H
#define GMMFAST_FEATURE_ROWS_H

#include <math.h>

#include "isa.h"

/* Moment rows of a block: F_i = [z_a z_b for a = 0..D-1, b = 0..a; z_a; 1], z = x_i - c
   (n x (D(D+1)/2 + D + 1), row-major), computed in the output type T from input TI.
   Row a of the triangle is written as the full z_a z (D entries, one fixed-length
   loop that vectorises) and its tail is overwritten by the rows after it: the last
   row ends exactly at the triangle's end. Always in double (float32 data too: the
   expansion about c needs it). */
#define GMM_MOMENT_ROWS_FUNC(suffix, linkage, TI, T, tname)                                \
linkage void gmm_moment_rows_##tname##_##suffix(                                    \
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
   diag_products.h), in type T from TI, and zero rows from n up to n rounded up to 4. */
#define GMM_DIAG_ROWS_FUNC(suffix, linkage, TI, T, tname)                                  \
linkage void gmm_diag_rows_##tname##_##suffix(                                      \
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

/* For each component k of K: acc_k += sum_j r[j] F_{rows[j]} over its listed moment
   rows j = ptr[k] .. ptr[k+1] - 1 (F's row stride and acc_k's length: width): the
   components' sums over the rows of a block whose responsibilities are mostly exactly
   0, which a GEMM would multiply all the same. Column tiles outermost, so that a tile
   of the listed rows is read from memory once for all the components. Each entry of
   acc takes its terms one at a time, in list order: the vector builds with one fused
   multiply-add a term (a tile of 8 vectors of acc_k held in registers while its rows
   stream past, the columns past the last whole vector with fma()), so they agree to
   the bit; the baseline adds each product rounded. */
#define GMM_ROWS_AXPY_BASE(name, linkage)                                               \
linkage void name(const double *F, ptrdiff_t width, ptrdiff_t K, const ptrdiff_t *ptr,  \
                  const ptrdiff_t *rows, const double *r, double *acc)                  \
{                                                                                       \
    for (ptrdiff_t k = 0; k < K; k++)                                                   \
        for (ptrdiff_t j = ptr[k]; j < ptr[k + 1]; j++) {                               \
            const double rj = r[j], *f = F + rows[j] * width;                           \
            double *a = acc + k * width;                                                \
            for (ptrdiff_t q = 0; q < width; q++) a[q] += rj * f[q];                    \
        }                                                                               \
}

#define GMM_ROWS_AXPY_SIMD(name, linkage, V, W, B)                                      \
linkage void name(const double *F, ptrdiff_t width, ptrdiff_t K, const ptrdiff_t *ptr,  \
                  const ptrdiff_t *rows, const double *r, double *acc)                  \
{                                                                                       \
    ptrdiff_t q0 = 0;                                                                   \
    for (; q0 + 8 * W <= width; q0 += 8 * W)                                            \
        for (ptrdiff_t k = 0; k < K; k++) {                                             \
            if (ptr[k] == ptr[k + 1]) continue;                                         \
            double *a = acc + k * width + q0;                                           \
            V c0 = _mm##B##_loadu_pd(a), c1 = _mm##B##_loadu_pd(a + W);                 \
            V c2 = _mm##B##_loadu_pd(a + 2 * W), c3 = _mm##B##_loadu_pd(a + 3 * W);     \
            V c4 = _mm##B##_loadu_pd(a + 4 * W), c5 = _mm##B##_loadu_pd(a + 5 * W);     \
            V c6 = _mm##B##_loadu_pd(a + 6 * W), c7 = _mm##B##_loadu_pd(a + 7 * W);     \
            for (ptrdiff_t j = ptr[k]; j < ptr[k + 1]; j++) {                           \
                const double *f = F + rows[j] * width + q0;                             \
                const V rj = _mm##B##_set1_pd(r[j]);                                    \
                c0 = _mm##B##_fmadd_pd(rj, _mm##B##_loadu_pd(f), c0);                   \
                c1 = _mm##B##_fmadd_pd(rj, _mm##B##_loadu_pd(f + W), c1);               \
                c2 = _mm##B##_fmadd_pd(rj, _mm##B##_loadu_pd(f + 2 * W), c2);           \
                c3 = _mm##B##_fmadd_pd(rj, _mm##B##_loadu_pd(f + 3 * W), c3);           \
                c4 = _mm##B##_fmadd_pd(rj, _mm##B##_loadu_pd(f + 4 * W), c4);           \
                c5 = _mm##B##_fmadd_pd(rj, _mm##B##_loadu_pd(f + 5 * W), c5);           \
                c6 = _mm##B##_fmadd_pd(rj, _mm##B##_loadu_pd(f + 6 * W), c6);           \
                c7 = _mm##B##_fmadd_pd(rj, _mm##B##_loadu_pd(f + 7 * W), c7);           \
            }                                                                           \
            _mm##B##_storeu_pd(a, c0); _mm##B##_storeu_pd(a + W, c1);                   \
            _mm##B##_storeu_pd(a + 2 * W, c2); _mm##B##_storeu_pd(a + 3 * W, c3);       \
            _mm##B##_storeu_pd(a + 4 * W, c4); _mm##B##_storeu_pd(a + 5 * W, c5);       \
            _mm##B##_storeu_pd(a + 6 * W, c6); _mm##B##_storeu_pd(a + 7 * W, c7);       \
        }                                                                               \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        double *a = acc + k * width;                                                    \
        ptrdiff_t q = q0;                                                               \
        if (ptr[k] == ptr[k + 1]) continue;                                             \
        for (; q + 4 * W <= width; q += 4 * W) {   /* four chains, not one */           \
            V c0 = _mm##B##_loadu_pd(a + q), c1 = _mm##B##_loadu_pd(a + q + W);         \
            V c2 = _mm##B##_loadu_pd(a + q + 2 * W), c3 = _mm##B##_loadu_pd(a + q + 3 * W); \
            for (ptrdiff_t j = ptr[k]; j < ptr[k + 1]; j++) {                           \
                const double *f = F + rows[j] * width + q;                              \
                const V rj = _mm##B##_set1_pd(r[j]);                                    \
                c0 = _mm##B##_fmadd_pd(rj, _mm##B##_loadu_pd(f), c0);                   \
                c1 = _mm##B##_fmadd_pd(rj, _mm##B##_loadu_pd(f + W), c1);               \
                c2 = _mm##B##_fmadd_pd(rj, _mm##B##_loadu_pd(f + 2 * W), c2);           \
                c3 = _mm##B##_fmadd_pd(rj, _mm##B##_loadu_pd(f + 3 * W), c3);           \
            }                                                                           \
            _mm##B##_storeu_pd(a + q, c0); _mm##B##_storeu_pd(a + q + W, c1);           \
            _mm##B##_storeu_pd(a + q + 2 * W, c2); _mm##B##_storeu_pd(a + q + 3 * W, c3); \
        }                                                                               \
        for (; q + W <= width; q += W) {                                                \
            V c = _mm##B##_loadu_pd(a + q);                                             \
            for (ptrdiff_t j = ptr[k]; j < ptr[k + 1]; j++)                             \
                c = _mm##B##_fmadd_pd(_mm##B##_set1_pd(r[j]),                           \
                                      _mm##B##_loadu_pd(F + rows[j] * width + q), c);   \
            _mm##B##_storeu_pd(a + q, c);                                               \
        }                                                                               \
        for (; q < width; q++) {                                                        \
            double c = a[q];                                                            \
            for (ptrdiff_t j = ptr[k]; j < ptr[k + 1]; j++)                             \
                c = fma(r[j], F[rows[j] * width + q], c);                               \
            a[q] = c;                                                                   \
        }                                                                               \
    }                                                                                   \
}

GMM_TILED_D(gmm_moment_rows_axpy, GMM_ROWS_AXPY_BASE, GMM_ROWS_AXPY_SIMD)

/* count[i] = the number of the K entries of column i of lpt (K x n, component-major)
   that are not exactly 0: which rows of a block are sparse (route_full_moments.pxi). */
#define GMM_COUNT_NONZERO_FUNC(suffix, linkage)                                         \
linkage void gmm_count_nonzero_cols_##suffix(const double *lpt, ptrdiff_t n,            \
                                             ptrdiff_t K, ptrdiff_t *count)             \
{                                                                                       \
    for (ptrdiff_t i = 0; i < n; i++) count[i] = 0;                                     \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        const double *row = lpt + k * n;                                                \
        for (ptrdiff_t i = 0; i < n; i++) count[i] += row[i] != 0.0;                    \
    }                                                                                   \
}

/* Per-component lists of the entries of lpt (K x n, component-major) not exactly 0
   (a NaN is listed), each in row order: rows[ptr[k] .. ptr[k+1]) their rows and
   r[...] their values, ptr[K] their number. rows and r need 8 entries of slack past
   it (a group of 8 rows is written whole). For the sums of a block whose
   responsibilities are mostly 0 (route_diag.pxi's _linear_moments). No branch on the
   data (whether a group of rows has an entry is as good as random, and the
   mispredictions cost more than the group): the AVX-512 build packs each group's
   entries with vcompresspd (the register form: the memory form is microcoded on
   Zen 4); plain C writes every entry and keeps those not 0. */
GMM_INLINE unsigned gmm_popcount8(unsigned b)   /* bits set in b < 256, no popcnt needed */
{
    b = b - ((b >> 1) & 0x55u);
    b = (b & 0x33u) + ((b >> 2) & 0x33u);
    return (b + (b >> 4)) & 0x0Fu;
}
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_NONZERO_GROUPS                                                              \
    for (; i0 + 8 <= n; i0 += 8) {                                                      \
        const __m512d v = _mm512_loadu_pd(row + i0);                                    \
        const __mmask8 nz = _mm512_cmp_pd_mask(v, _mm512_setzero_pd(), _CMP_NEQ_UQ);    \
        const __m512i idx = _mm512_add_epi64(_mm512_set1_epi64(i0), lanes);             \
        _mm512_storeu_pd(r + mk, _mm512_maskz_compress_pd(nz, v));                      \
        _mm512_storeu_si512((void *) (rows + mk), _mm512_maskz_compress_epi64(nz, idx)); \
        mk += gmm_popcount8((unsigned) nz);                                             \
    }
#define GMM_NONZERO_SETUP const __m512i lanes = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
#else
#define GMM_NONZERO_GROUPS
#define GMM_NONZERO_SETUP
#endif

#define GMM_NONZERO_LISTS_FUNC(suffix, linkage)                                         \
linkage void gmm_nonzero_lists_##suffix(const double *lpt, ptrdiff_t n, ptrdiff_t K,    \
                                        ptrdiff_t *ptr, ptrdiff_t *rows, double *r)     \
{                                                                                       \
    ptrdiff_t mk = 0;                                                                   \
    GMM_NONZERO_SETUP                                                                   \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        const double *row = lpt + k * n;                                                \
        ptrdiff_t i0 = 0;                                                               \
        ptr[k] = mk;                                                                    \
        GMM_NONZERO_GROUPS                                                              \
        for (; i0 < n; i0++) {                                                          \
            rows[mk] = i0;                                                              \
            r[mk] = row[i0];                                                            \
            mk += row[i0] != 0.0;                                                       \
        }                                                                               \
    }                                                                                   \
    ptr[K] = mk;                                                                        \
}

/* The moment rows' weights of one component (route_full_moments.pxi's header):

     W = [-0.5 P_aa | -P_ab (a > b), P m, tail]   (D(D+1)/2 + D + 1 entries)

   in np.tril_indices order, with P = U U^T from the upper triangular factor U (D x D,
   row-major) and P m = U v, v = U^T m, given (the spread m' P m = ||v||^2 is taken from
   the same v). Row a of P's lower triangle is P_ab = sum_{c >= a} U_ac L_cb (b <= a),
   L = U^T, each entry's terms in c's order (c = a, a + 1, ...): the vector builds
   hold a row's entries in registers, 4 vectors at a time (4 independent chains of
   multiply-adds), one fused multiply-add a term, so they agree to the bit; the
   baseline adds each product rounded. In place of BLAS's dsyrk, which on triangles
   this small spends more on its calls than on the sums (twice this kernel's time at
   D = 41: bench/results/bayesian.md). L is scratch of
   gmm_moment_weights_scratch(D) doubles: U^T with its rows padded with zeros to a
   multiple of 32 (whole groups of 4 vectors of any build), then one row's sums; the
   sums a group takes past b = a are not kept. */
#define GMM_MW_GROUP 32
GMM_INLINE ptrdiff_t gmm_moment_weights_ld(ptrdiff_t D)
{
    return (D + GMM_MW_GROUP - 1) / GMM_MW_GROUP * GMM_MW_GROUP;
}

GMM_INLINE ptrdiff_t gmm_moment_weights_scratch(ptrdiff_t D)
{
    return (D + 1) * gmm_moment_weights_ld(D);
}

/* L = U^T, padded (rows of ld), and the blocks of W after the triangle */
GMM_INLINE void gmm_moment_weights_ends(const double *U, const double *v, ptrdiff_t D,
                                        double tail, double *W, double *L)
{
    const ptrdiff_t tri = D * (D + 1) / 2, ld = gmm_moment_weights_ld(D);
    for (ptrdiff_t c = 0; c < D; c++) {
        double *l = L + c * ld;
        for (ptrdiff_t b = 0; b <= c; b++) l[b] = U[b * D + c];
        for (ptrdiff_t b = c + 1; b < ld; b++) l[b] = 0.0;
    }
    /* (U v)_a = sum_{c >= a} L_ca v_c: row c of L added to the first c + 1 entries,
       each entry's terms in c's order as the triangle's */
    double *pm = W + tri;
    for (ptrdiff_t a = 0; a < D; a++) pm[a] = 0.0;
    for (ptrdiff_t c = 0; c < D; c++) {
        const double s = v[c], *l = L + c * ld;
        for (ptrdiff_t b = 0; b <= c; b++) pm[b] += s * l[b];
    }
    W[tri + D] = tail;
}

/* row a of the triangle, from the row's sums p (b = 0..a) */
GMM_INLINE void gmm_moment_weights_row(const double *p, ptrdiff_t a, double *w)
{
    for (ptrdiff_t b = 0; b < a; b++) w[b] = -p[b];
    w[a] = -0.5 * p[a];
}

#define GMM_MOMENT_WEIGHTS_BASE(name, linkage)                                          \
linkage void name(const double *U, const double *v, ptrdiff_t D, double tail,           \
                  double *W, double *L)                                                 \
{                                                                                       \
    const ptrdiff_t ld = gmm_moment_weights_ld(D);                                      \
    double *p = L + D * ld;                                                             \
    gmm_moment_weights_ends(U, v, D, tail, W, L);                                       \
    for (ptrdiff_t a = 0, t = 0; a < D; t += ++a) {                                     \
        for (ptrdiff_t b = 0; b <= a; b++) {                                            \
            double acc = 0.0;                                                           \
            for (ptrdiff_t c = a; c < D; c++) acc += U[a * D + c] * L[c * ld + b];      \
            p[b] = acc;                                                                 \
        }                                                                               \
        gmm_moment_weights_row(p, a, W + t);                                            \
    }                                                                                   \
}

#define GMM_MOMENT_WEIGHTS_SIMD(name, linkage, V, W_, B)                                \
linkage void name(const double *U, const double *v, ptrdiff_t D, double tail,           \
                  double *W, double *L)                                                 \
{                                                                                       \
    const ptrdiff_t ld = gmm_moment_weights_ld(D), G = 4 * W_;                          \
    double *p = L + D * ld;                                                             \
    gmm_moment_weights_ends(U, v, D, tail, W, L);                                       \
    for (ptrdiff_t a = 0, t = 0; a < D; t += ++a) {                                     \
        for (ptrdiff_t b0 = 0; b0 <= a; b0 += G) {                                      \
            V c0 = _mm##B##_setzero_pd(), c1 = c0, c2 = c0, c3 = c0;                    \
            for (ptrdiff_t c = a; c < D; c++) {                                         \
                const V s = _mm##B##_set1_pd(U[a * D + c]);                             \
                const double *l = L + c * ld + b0;                                      \
                c0 = _mm##B##_fmadd_pd(s, _mm##B##_loadu_pd(l), c0);                    \
                c1 = _mm##B##_fmadd_pd(s, _mm##B##_loadu_pd(l + W_), c1);               \
                c2 = _mm##B##_fmadd_pd(s, _mm##B##_loadu_pd(l + 2 * W_), c2);           \
                c3 = _mm##B##_fmadd_pd(s, _mm##B##_loadu_pd(l + 3 * W_), c3);           \
            }                                                                           \
            _mm##B##_storeu_pd(p + b0, c0);                                             \
            _mm##B##_storeu_pd(p + b0 + W_, c1);                                        \
            _mm##B##_storeu_pd(p + b0 + 2 * W_, c2);                                    \
            _mm##B##_storeu_pd(p + b0 + 3 * W_, c3);                                    \
        }                                                                               \
        gmm_moment_weights_row(p, a, W + t);                                            \
    }                                                                                   \
}

GMM_TILED_D(gmm_moment_weights, GMM_MOMENT_WEIGHTS_BASE, GMM_MOMENT_WEIGHTS_SIMD)

#define GMM_ROWS_ALL(suffix, linkage)                                                   \
    GMM_DIAG_ROWS_FUNC(suffix, linkage, double, double, d)                              \
    GMM_DIAG_ROWS_FUNC(suffix, linkage, float, double, fd)                              \
    GMM_MOMENT_ROWS_FUNC(suffix, linkage, double, double, d)                            \
    GMM_MOMENT_ROWS_FUNC(suffix, linkage, float, double, fd)                            \
    GMM_COUNT_NONZERO_FUNC(suffix, linkage)                                             \
    GMM_NONZERO_LISTS_FUNC(suffix, linkage)

GMM_INSTANTIATE(GMM_ROWS_ALL)

typedef void gmm_mrows_d_fn(const double *, ptrdiff_t, ptrdiff_t, const double *, double *,
                            double *);
typedef void gmm_mrows_fd_fn(const float *, ptrdiff_t, ptrdiff_t, const float *, double *,
                             double *);
typedef void gmm_mrows_axpy_fn(const double *, ptrdiff_t, ptrdiff_t, const ptrdiff_t *,
                               const ptrdiff_t *, const double *, double *);
typedef void gmm_mweights_fn(const double *, const double *, ptrdiff_t, double, double *,
                              double *);
typedef void gmm_count_nz_fn(const double *, ptrdiff_t, ptrdiff_t, ptrdiff_t *);
typedef void gmm_nz_lists_fn(const double *, ptrdiff_t, ptrdiff_t, ptrdiff_t *, ptrdiff_t *,
                             double *);
typedef void gmm_drows_d_fn(const double *, ptrdiff_t, ptrdiff_t, const double *,
                            ptrdiff_t, double *);
typedef void gmm_drows_fd_fn(const float *, ptrdiff_t, ptrdiff_t, const float *,
                             ptrdiff_t, double *);

#if GMM_MAIN_TU
GMM_DISPATCH(gmm_drows_d_fn, gmm_diag_rows_d)
GMM_DISPATCH(gmm_drows_fd_fn, gmm_diag_rows_fd)
GMM_DISPATCH(gmm_mrows_d_fn, gmm_moment_rows_d)
GMM_DISPATCH(gmm_mrows_fd_fn, gmm_moment_rows_fd)
GMM_DISPATCH(gmm_mrows_axpy_fn, gmm_moment_rows_axpy)
GMM_DISPATCH(gmm_mweights_fn, gmm_moment_weights)
GMM_DISPATCH(gmm_count_nz_fn, gmm_count_nonzero_cols)
GMM_DISPATCH(gmm_nz_lists_fn, gmm_nonzero_lists)

static void gmm_feature_rows_select(void)
{
    GMM_SELECT(gmm_diag_rows_d, gmm_diag_rows_d);
    GMM_SELECT(gmm_diag_rows_fd, gmm_diag_rows_fd);
    GMM_SELECT(gmm_moment_rows_d, gmm_moment_rows_d);
    GMM_SELECT(gmm_moment_rows_fd, gmm_moment_rows_fd);
    GMM_SELECT(gmm_moment_rows_axpy, gmm_moment_rows_axpy);
    GMM_SELECT(gmm_moment_weights, gmm_moment_weights);
    GMM_SELECT(gmm_count_nonzero_cols, gmm_count_nonzero_cols);
    GMM_SELECT(gmm_nonzero_lists, gmm_nonzero_lists);
}
#endif

#endif
