/* The log-sum-exp normalisation of a component-major block (K x n: the layout of the
   vector kernels), vectorised over the rows.

   Two forms, which differ on purpose:
   - gmm_normalize_cols_<t>: in the block's own type T (double; float for the small-D
     kernel's float32 blocks, whose log-densities are float32);
   - gmm_normalize_cols_fd: float32 data whose log-densities are double (the moment
     rows and 'diag', formed in double about c): the exponentials and the sums in
     float32, as scikit-learn's float32 computes them.
   and a row-major form, gmm_normalize_rows_d (n x K, for the routes that produce lp
   row by row), through the first; and the per-sample outputs (prediction) of a
   component-major block, gmm_cols_*.
*/
#ifndef GMMFAST_NORMALIZE_H
#define GMMFAST_NORMALIZE_H

#include "vmath.h"

/* row_max[i] = max_k lpt[k n + i] of a component-major block (K x n), in T; a NaN
   entry is passed over (the caller's exp then carries it into the row's sum) */
#define GMM_COLS_MAX(T, lpt, n, K, row_max)                                             \
    for (ptrdiff_t i_ = 0; i_ < (n); i_++) (row_max)[i_] = (lpt)[i_];                   \
    for (ptrdiff_t k_ = 1; k_ < (K); k_++) {                                            \
        const T *col_ = (lpt) + k_ * (n);                                               \
        for (ptrdiff_t i_ = 0; i_ < (n); i_++)                                          \
            (row_max)[i_] = col_[i_] > (row_max)[i_] ? col_[i_] : (row_max)[i_];        \
    }


/* Normalise lpt (K x n) into weighted responsibilities w_i r_ki, and write
   lse_i = log sum_k exp(lpt_ki) into lse (n). A row whose lse is not finite shows up
   as a non-finite lse_i (NaN or -inf propagate through every step); the caller checks.
   In two steps: gmm_exp_cols_<t> leaves lpt_ki = exp(lpt_ki - max_i), scale_i =
   w_i / sum_i and lse; the products lpt_ki scale_i are then taken in place, or (the
   per-sample outputs) as the block is transposed into its output. */
#define GMM_NORMALIZE_COLS(suffix, linkage, T, t)                                         \
GMM_INLINE void gmm_exp_cols_##t##_##suffix(                                            \
    T *lpt, ptrdiff_t n, ptrdiff_t K, const double *w, T *lse, T *row_max, T *scale)    \
{                                                                                       \
    GMM_COLS_MAX(T, lpt, n, K, row_max)                                                 \
    for (ptrdiff_t i = 0; i < n; i++) lse[i] = 0;                                       \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        T *col = lpt + k * n;                                                           \
        ptrdiff_t i = 0;                                                                \
        GMM_EXP_LANES_##t(i, n, GMM_SUB8_D(col, row_max, i),                           \
                          _mm512_storeu_pd(col + i, e); GMM_ADD8_D(lse + i, e))      \
        for (; i < n; i++) {                                                            \
            col[i] = gmm_exp1_##t(col[i] - row_max[i]);                                 \
            lse[i] += col[i];                                                           \
        }                                                                               \
    }                                                                                   \
    for (ptrdiff_t i = 0; i < n; i++) scale[i] = (T) (w ? w[i] : 1.0) / lse[i];         \
    for (ptrdiff_t i = 0; i < n; i++) lse[i] = row_max[i] + gmm_log1_##t(lse[i]);       \
}                                                                                       \
                                                                                        \
linkage void gmm_normalize_cols_##t##_##suffix(                                    \
    T *lpt, ptrdiff_t n, ptrdiff_t K, const double *w, T *lse, T *row_max, T *scale)    \
{                                                                                       \
    gmm_exp_cols_##t##_##suffix(lpt, n, K, w, lse, row_max, scale);                     \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        T *col = lpt + k * n;                                                           \
        for (ptrdiff_t i = 0; i < n; i++) col[i] *= scale[i];                           \
    }                                                                                   \
}

/* float32 data: the normalisation in float32, as scikit-learn's float32 does it, from
   lpt in double. Per row: the maximum in double, then y_ki = exp(float(lpt_ki - max_i))
   in float32 (so no absolute precision is lost to a large lpt), their sum in float32;
   lse_i = max_i + log(sum_i) (the log in float32: ~1e-7 absolute, sum_i >= 1);
   lpt_ki := double(y_ki * float(w_i / sum_i)), the weighted responsibilities. A row
   whose lse is not finite shows up as a non-finite lse_i (NaN and -inf propagate); the
   caller checks. Scratch: row_max (n double), sum (n float), y (K n float). */
#define GMM_NORMALIZE_COLS_F32(suffix, linkage)                                              \
linkage void gmm_normalize_cols_fd_##suffix(                                         \
    double *lpt, ptrdiff_t n, ptrdiff_t K, const double *w, double *lse,                \
    double *row_max, float *sum, float *y)                                              \
{                                                                                       \
    GMM_COLS_MAX(double, lpt, n, K, row_max)                                            \
    for (ptrdiff_t i = 0; i < n; i++) sum[i] = 0.0f;                                    \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        const double *col = lpt + k * n;                                                \
        float *yk = y + k * n;                                                          \
        for (ptrdiff_t i = 0; i < n; i++) {                                             \
            yk[i] = gmm_exp1_f((float) (col[i] - row_max[i]));                          \
            sum[i] += yk[i];                                                            \
        }                                                                               \
    }                                                                                   \
    for (ptrdiff_t i = 0; i < n; i++) {                                                 \
        lse[i] = row_max[i] + (double) gmm_log1_f(sum[i]);                              \
        sum[i] = (float) (w ? w[i] : 1.0) / sum[i];                                     \
    }                                                                                   \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        double *col = lpt + k * n;                                                      \
        const float *yk = y + k * n;                                                    \
        for (ptrdiff_t i = 0; i < n; i++) col[i] = (double) (yk[i] * sum[i]);           \
    }                                                                                   \
}


/* The row-major form (lp: n x K), for the routes whose log-densities come a row at a
   time and for the per-sample outputs: the block transposed into lpt (K x n, scratch),
   normalised there by gmm_normalize_cols_d (no weights: lp := r, the caller weights
   it), and transposed back. Per row these are the operations of a row-by-row
   log-sum-exp in the same order (the maximum, exp(lp - max), the sum over k in order,
   r = e * (1 / sum), lse = max + log(sum)), so the same bits; but vectorised over the
   rows, where a row's sum over k is a chain of dependent additions. A row whose lse is
   not finite shows up as a non-finite lse_i; the caller checks. scratch: n (K + 2). */
/* STMT for every row i < n and component k < K, eight rows at a time: the eight rows'
   entries of a component share a cache line of lpt, where a whole column at a time
   (stride n, a power of two) would cycle through a few sets of the cache */
#define GMM_TRANSPOSE_ROWS(STMT)                                                        \
    for (ptrdiff_t i0 = 0; i0 < n; i0 += 8) {                                           \
        const ptrdiff_t i1 = n - i0 < 8 ? n : i0 + 8;                                   \
        for (ptrdiff_t k = 0; k < K; k++)                                               \
            for (ptrdiff_t i = i0; i < i1; i++) STMT;                                   \
    }

#define GMM_NORMALIZE_ROWS(suffix, linkage)                                             \
linkage void gmm_normalize_rows_d_##suffix(                                             \
    double *lp, ptrdiff_t n, ptrdiff_t K, double *lse, double *scratch)                 \
{                                                                                       \
    double *lpt = scratch, *row_max = lpt + K * n, *scale = row_max + n;                \
    GMM_TRANSPOSE_ROWS(lpt[k * n + i] = lp[i * K + k])                                  \
    gmm_normalize_cols_d_##suffix(lpt, n, K, NULL, lse, row_max, scale);                \
    GMM_TRANSPOSE_ROWS(lp[i * K + k] = lpt[k * n + i])                                  \
}

/* gmm_cols_argmax's vector part: from row i0 on, 4 vectors of rows at a time, each
   lane's best entry and its component held in registers across the components (a
   compare and two selects a component; four independent chains, so that one's latency
   hides behind the others). Every form gives the same labels: no arithmetic, the same
   compares; the rows past the last group take the scalar loop after it. */
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_ARGMAX_GROUPS                                                               \
    for (; i0 + 32 <= n; i0 += 32) {                                                    \
        __m512d b[4];                                                                   \
        __m512i l[4];                                                                   \
        for (int g = 0; g < 4; g++) {                                                   \
            b[g] = _mm512_loadu_pd(lpt + i0 + 8 * g);                                   \
            l[g] = _mm512_setzero_si512();                                              \
        }                                                                               \
        for (ptrdiff_t k = 1; k < K; k++) {                                             \
            const __m512i kv = _mm512_set1_epi64(k);                                    \
            for (int g = 0; g < 4; g++) {                                               \
                const __m512d c = _mm512_loadu_pd(lpt + k * n + i0 + 8 * g);            \
                const __mmask8 gt = _mm512_cmp_pd_mask(c, b[g], _CMP_GT_OQ);            \
                b[g] = _mm512_mask_mov_pd(b[g], gt, c);                                 \
                l[g] = _mm512_mask_mov_epi64(l[g], gt, kv);                             \
            }                                                                           \
        }                                                                               \
        for (int g = 0; g < 4; g++)                                                     \
            _mm512_storeu_si512((void *) (label + i0 + 8 * g), l[g]);                   \
    }
#elif GMM_TU_ISA == GMM_ISA_AVX2
#define GMM_ARGMAX_GROUPS                                                               \
    for (; i0 + 16 <= n; i0 += 16) {                                                    \
        __m256d b[4], l[4];   /* l: the labels' int64 bits */                           \
        for (int g = 0; g < 4; g++) {                                                   \
            b[g] = _mm256_loadu_pd(lpt + i0 + 4 * g);                                   \
            l[g] = _mm256_setzero_pd();                                                 \
        }                                                                               \
        for (ptrdiff_t k = 1; k < K; k++) {                                             \
            const __m256d kv = _mm256_castsi256_pd(_mm256_set1_epi64x(k));              \
            for (int g = 0; g < 4; g++) {                                               \
                const __m256d c = _mm256_loadu_pd(lpt + k * n + i0 + 4 * g);            \
                const __m256d gt = _mm256_cmp_pd(c, b[g], _CMP_GT_OQ);                  \
                b[g] = _mm256_blendv_pd(b[g], c, gt);                                   \
                l[g] = _mm256_blendv_pd(l[g], kv, gt);                                  \
            }                                                                           \
        }                                                                               \
        for (int g = 0; g < 4; g++)                                                     \
            _mm256_storeu_si256((__m256i *) (label + i0 + 4 * g),                       \
                                _mm256_castpd_si256(l[g]));                             \
    }
#else   /* plain C that the compiler vectorises over the 8 rows: each group's best and
           labels replaced whole (updated in place, gcc stores only the lanes that
           changed, behind a branch that mispredicts) */
#define GMM_ARGMAX_GROUPS                                                               \
    for (; i0 + 8 <= n; i0 += 8) {                                                      \
        double b[8];                                                                    \
        ptrdiff_t l[8];                                                                 \
        GMM_LANE_LOOP                                                                   \
        for (int r = 0; r < 8; r++) {                                                   \
            b[r] = lpt[i0 + r];                                                         \
            l[r] = 0;                                                                   \
        }                                                                               \
        for (ptrdiff_t k = 1; k < K; k++) {                                             \
            const double *col = lpt + k * n + i0;                                       \
            double nb[8];                                                               \
            ptrdiff_t nl[8];                                                            \
            GMM_LANE_LOOP                                                               \
            for (int r = 0; r < 8; r++) {                                               \
                const int gt = col[r] > b[r];                                           \
                nb[r] = gt ? col[r] : b[r];                                             \
                nl[r] = gt ? k : l[r];                                                  \
            }                                                                           \
            GMM_LANE_LOOP                                                               \
            for (int r = 0; r < 8; r++) {                                               \
                b[r] = nb[r];                                                           \
                l[r] = nl[r];                                                           \
            }                                                                           \
        }                                                                               \
        GMM_LANE_LOOP                                                                   \
        for (int r = 0; r < 8; r++) label[i0 + r] = l[r];                               \
    }
#endif

/* The per-sample outputs (prediction) from a component-major block lpt (K x n, the
   layout every route's log-densities come in), with no pass over the block that the
   output does not need:
   - gmm_cols_lse_d: lse only (score_samples): the operations of gmm_normalize_cols_d's
     lse in the same order, so the same bits, the exponentials summed and not kept;
     scratch n.
   - gmm_cols_resp_{d,f}: gmm_normalize_cols_d's operations, its last products
     (e (1 / sum)) taken as the block is transposed straight into out (n x K, double or
     float: the float is the double rounded, as a cast gives), with lse; scratch 2n.
   - gmm_cols_argmax: label_i = the first k of the largest lpt[k, i] (an entry compared
     with '>', so a NaN is never chosen over an earlier entry, as a row-by-row loop
     with '>' does), vectorised over the rows; scratch n. */
#define GMM_COLS_OUT(suffix, linkage)                                                   \
linkage void gmm_cols_lse_d_##suffix(                                                   \
    const double *lpt, ptrdiff_t n, ptrdiff_t K, double *lse, double *row_max)          \
{                                                                                       \
    GMM_COLS_MAX(double, lpt, n, K, row_max)                                            \
    for (ptrdiff_t i = 0; i < n; i++) lse[i] = 0;                                       \
    for (ptrdiff_t k = 0; k < K; k++) {                                                 \
        const double *col = lpt + k * n;                                                \
        ptrdiff_t i = 0;                                                                \
        GMM_EXP_D_LANES(i, n, GMM_SUB8_D(col, row_max, i), GMM_ADD8_D(lse + i, e))      \
        for (; i < n; i++) lse[i] += gmm_exp1_d(col[i] - row_max[i]);                   \
    }                                                                                   \
    for (ptrdiff_t i = 0; i < n; i++) lse[i] = row_max[i] + gmm_log1_d(lse[i]);         \
}                                                                                       \
                                                                                        \
linkage void gmm_cols_argmax_##suffix(                                                  \
    const double *lpt, ptrdiff_t n, ptrdiff_t K, double *best, ptrdiff_t *label)        \
{                                                                                       \
    ptrdiff_t i0 = 0;                                                                   \
    GMM_ARGMAX_GROUPS                                                                   \
    for (ptrdiff_t i = i0; i < n; i++) {                                                \
        best[i] = lpt[i];                                                               \
        label[i] = 0;                                                                   \
        for (ptrdiff_t k = 1; k < K; k++)                                               \
            if (lpt[k * n + i] > best[i]) {                                             \
                best[i] = lpt[k * n + i];                                               \
                label[i] = k;                                                           \
            }                                                                           \
    }                                                                                   \
}                                                                                       \
    GMM_COLS_RESP(suffix, linkage, double, d)                                           \
    GMM_COLS_RESP(suffix, linkage, float, f)

/* The AVX-512 build's full groups of 8 rows x 8 components: the products e scale
   (the same as gmm_normalize_cols_d's) transposed in registers, so that each row's 8
   responsibilities go out in one store (the loop after it takes the rest of the
   components, then the other rows, with the same products). */
#if GMM_TU_ISA == GMM_ISA_AVX512
#define GMM_RESP_TILES(STORE)                                                           \
    for (; K >= 8 && i0 + 8 <= n; i0 += 8) {                                            \
        const __m512d sc = _mm512_loadu_pd(scale + i0);                                 \
        ptrdiff_t k0 = 0;                                                               \
        for (; k0 + 8 <= K; k0 += 8) {                                                  \
            __m512d r[8];                                                               \
            for (int c = 0; c < 8; c++)                                                 \
                r[c] = _mm512_mul_pd(_mm512_loadu_pd(lpt + (k0 + c) * n + i0), sc);     \
            gmm_transpose8_pd(r);                                                       \
            for (int c = 0; c < 8; c++) STORE(out + (i0 + c) * K + k0, r[c]);           \
        }                                                                               \
        for (ptrdiff_t k = k0; k < K; k++)                                              \
            for (ptrdiff_t i = i0; i < i0 + 8; i++)                                     \
                out[i * K + k] = lpt[k * n + i] * scale[i];                             \
    }
#define GMM_STORE8_D(p, v) _mm512_storeu_pd((p), (v))
#define GMM_STORE8_F(p, v) _mm256_storeu_ps((p), _mm512_cvtpd_ps(v))
#define GMM_RESP_TILES_d GMM_RESP_TILES(GMM_STORE8_D)
#define GMM_RESP_TILES_f GMM_RESP_TILES(GMM_STORE8_F)
#else
#define GMM_RESP_TILES_d
#define GMM_RESP_TILES_f
#endif

/* the responsibilities into out of type T (the double rounded, for float) */
#define GMM_COLS_RESP(suffix, linkage, T, t)                                            \
linkage void gmm_cols_resp_##t##_##suffix(                                              \
    double *lpt, ptrdiff_t n, ptrdiff_t K, double *lse, double *scratch, T *out)        \
{                                                                                       \
    const double *scale = scratch + n;                                                  \
    ptrdiff_t i0 = 0;                                                                   \
    gmm_exp_cols_d_##suffix(lpt, n, K, NULL, lse, scratch, scratch + n);                \
    GMM_RESP_TILES_##t                                                                  \
    for (; i0 < n; i0 += 8) {                                                           \
        const ptrdiff_t i1 = n - i0 < 8 ? n : i0 + 8;                                   \
        for (ptrdiff_t k = 0; k < K; k++)                                               \
            for (ptrdiff_t i = i0; i < i1; i++)                                         \
                out[i * K + k] = (T) (lpt[k * n + i] * scale[i]);                       \
    }                                                                                   \
}

#define GMM_NORMALIZE_ALL(suffix, linkage)                                              \
    GMM_NORMALIZE_COLS(suffix, linkage, double, d)                                      \
    GMM_NORMALIZE_COLS(suffix, linkage, float, f)                                       \
    GMM_NORMALIZE_COLS_F32(suffix, linkage)                                             \
    GMM_NORMALIZE_ROWS(suffix, linkage)                                                 \
    GMM_COLS_OUT(suffix, linkage)

/* every build (AVX-512: float32 with 16 lanes; at 8, the conversions to and from
   double would cost more than the float32 arithmetic saves) */
GMM_INSTANTIATE(GMM_NORMALIZE_ALL)

typedef void gmm_norm_d_fn(double *, ptrdiff_t, ptrdiff_t, const double *, double *,
                           double *, double *);
typedef void gmm_norm_rows_fn(double *, ptrdiff_t, ptrdiff_t, double *, double *);
typedef void gmm_cols_lse_fn(const double *, ptrdiff_t, ptrdiff_t, double *, double *);
typedef void gmm_cols_argmax_fn(const double *, ptrdiff_t, ptrdiff_t, double *, ptrdiff_t *);
typedef void gmm_cols_resp_d_fn(double *, ptrdiff_t, ptrdiff_t, double *, double *, double *);
typedef void gmm_cols_resp_f_fn(double *, ptrdiff_t, ptrdiff_t, double *, double *, float *);
typedef void gmm_norm_fd_fn(double *, ptrdiff_t, ptrdiff_t, const double *, double *,
                            double *, float *, float *);

#if GMM_MAIN_TU
GMM_DISPATCH(gmm_norm_d_fn, gmm_normalize_cols_d)
GMM_DISPATCH(gmm_norm_fd_fn, gmm_normalize_cols_fd)
GMM_DISPATCH(gmm_norm_rows_fn, gmm_normalize_rows_d)
GMM_DISPATCH(gmm_cols_lse_fn, gmm_cols_lse_d)
GMM_DISPATCH(gmm_cols_argmax_fn, gmm_cols_argmax)
GMM_DISPATCH(gmm_cols_resp_d_fn, gmm_cols_resp_d)
GMM_DISPATCH(gmm_cols_resp_f_fn, gmm_cols_resp_f)

static void gmm_normalize_select(void)
{
    GMM_SELECT(gmm_normalize_cols_d, gmm_normalize_cols_d);
    GMM_SELECT(gmm_normalize_cols_fd, gmm_normalize_cols_fd);
    GMM_SELECT(gmm_normalize_rows_d, gmm_normalize_rows_d);
    GMM_SELECT(gmm_cols_lse_d, gmm_cols_lse_d);
    GMM_SELECT(gmm_cols_argmax, gmm_cols_argmax);
    GMM_SELECT(gmm_cols_resp_d, gmm_cols_resp_d);
    GMM_SELECT(gmm_cols_resp_f, gmm_cols_resp_f);
}
#endif

#endif
