/* Diagonal products: the two products of a 'diag' block, in kernels of our own.

   A block's feature rows, and the weights with the constants as a last row (double,
   zero-padded: lda the smallest multiple of 4 >= 2D, ldw the smallest one >= K):

     A_i = [(x_i - c)^2, x_i - c, 0 ...]                 (m x lda; zero rows from m up
                                                           to m rounded up to 4)
     Wt  = [-0.5 P ; P (mu - c) ; cst]^T                  ((2D + 1) x ldw)

     lpt[k, i] = cst_k + sum_{p < 2D} A_ip Wt_pk          (K x m, component-major:
                                                           lpt[k ldt + i], ldt >= m)
     C[k, :]  += sum_i R[k, i] A_i,   N_k += sum_i R[k, i]

   with R (K x m) the weighted responsibilities. BLAS runs these thin shapes (m x 2D by
   2D x K, m a few hundred) far below the FMA peak, much of the time in packing. Here
   both products broadcast one operand against vectors of the other, 12 vector
   accumulators a tile: the first over 4 rows x 12 components (transposed 4 x 4 at the
   end, so lpt is written component-major for the normalisation), the second over 4
   components x 12 columns of A. The caller hands over GMM_DIAG_ROWS rows at a time, so
   that A, lpt and the tiles stay in L1.

   Summation order, the same in both builds: lpt starts from cst_k and adds the features
   in order; C adds the rows in order, N with gmm_sum (eight partial sums). The baseline
   build does the same without fused multiply-adds. float32 data: the same kernels in
   double (the expansion about c needs it), and the normalisation between them in
   float32 (gmm_normalize_cols_fd, normalize.h). Built for every instruction set
   (isa.h); the AVX-512 build (8 lanes, tiles of 4 rows x 32 components and 4
   components x 32 columns) is bit-identical to the AVX2 build.
*/
#ifndef GMMFAST_DIAG_PRODUCTS_H
#define GMMFAST_DIAG_PRODUCTS_H

#include "vmath.h"

/* Rows a caller hands to the kernels at a time (their scratch is sized for it). */
#define GMM_DIAG_ROWS 64

GMM_INLINE ptrdiff_t gmm_diag_lda(ptrdiff_t D) { return (2 * D + 3) / 4 * 4; }
GMM_INLINE ptrdiff_t gmm_diag_ldw(ptrdiff_t K) { return (K + 3) / 4 * 4; }

/* The log-density kernel of a build with tiles of 4 rows x up to 3 vectors of 4
   components (AVX2; NEON in pairs of 2-lane vectors), around that build's
   TILE(Wt, ldw, P, Ai, lda, out, m, nr, nk, NV): one text for both builds. */
#define GMM_DIAG_LP_TILES(KERNEL, TILE)                                                 \
    GMM_KERNEL void KERNEL(const double *Wt, ptrdiff_t ldw, ptrdiff_t K, ptrdiff_t P,   \
                           const double *A, ptrdiff_t m, ptrdiff_t lda, double *lpt,    \
                           ptrdiff_t ldt)                                               \
    {                                                                                   \
        for (ptrdiff_t k = 0; k < K; k += 12) {                                         \
            const int nk = K - k < 12 ? (int) (K - k) : 12;                             \
            for (ptrdiff_t i = 0; i < m; i += 4) {                                      \
                const int nr = m - i < 4 ? (int) (m - i) : 4;                           \
                const double *Ai = A + i * lda;                                         \
                double *out = lpt + k * ldt + i;                                        \
                if (nk > 8)                                                             \
                    TILE(Wt + k, ldw, P, Ai, lda, out, ldt, nr, nk, 3);                 \
                else if (nk > 4)                                                        \
                    TILE(Wt + k, ldw, P, Ai, lda, out, ldt, nr, nk, 2);                 \
                else                                                                    \
                    TILE(Wt + k, ldw, P, Ai, lda, out, ldt, nr, nk, 1);                 \
            }                                                                           \
        }                                                                               \
    }

/* The moments kernel of a build whose tile covers 4 columns a vector (AVX2; NEON in
   pairs of 2-lane vectors), around that build's TILE(R, A, m, lda, C, KT, PV): STRIP
   runs KT components across every column vector of A in tiles of up to 3 vectors,
   KERNEL runs strips of 4 components, then adds the counts N. One text for both builds,
   so that their sums keep the same order. */
#define GMM_DIAG_MOMENTS_STRIPS(KERNEL, STRIP, TILE)                                    \
    GMM_INLINE void STRIP(const double *R, const double *A, ptrdiff_t m, ptrdiff_t lda,  \
                          double *C, const int KT)                                       \
    {                                                                                    \
        const ptrdiff_t nv = lda / 4;                                                    \
        ptrdiff_t v = 0;                                                                 \
        for (; v + 3 <= nv; v += 3)                                                      \
            TILE(R, A + 4 * v, m, lda, C + 4 * v, KT, 3);                                \
        if (nv - v == 2)                                                                 \
            TILE(R, A + 4 * v, m, lda, C + 4 * v, KT, 2);                                \
        else if (nv - v == 1)                                                            \
            TILE(R, A + 4 * v, m, lda, C + 4 * v, KT, 1);                                \
    }                                                                                    \
                                                                                         \
    GMM_KERNEL void KERNEL(const double *R, ptrdiff_t K, const double *A, ptrdiff_t m,   \
                           ptrdiff_t lda, double *C, double *N)                          \
    {                                                                                    \
        ptrdiff_t k = 0;                                                                 \
        for (; k + 4 <= K; k += 4)                                                       \
            STRIP(R + k * m, A, m, lda, C + k * lda, 4);                                 \
        if (K - k == 3)                                                                  \
            STRIP(R + k * m, A, m, lda, C + k * lda, 3);                                 \
        else if (K - k == 2)                                                             \
            STRIP(R + k * m, A, m, lda, C + k * lda, 2);                                 \
        else if (K - k == 1)                                                             \
            STRIP(R + k * m, A, m, lda, C + k * lda, 1);                                 \
        for (k = 0; k < K; k++) N[k] += gmm_sum(R + k * m, m);                           \
    }

/* ------------------------------------------------------------------ baseline */

typedef void gmm_diag_lp_fn(const double *, ptrdiff_t, ptrdiff_t, ptrdiff_t, const double *,
                            ptrdiff_t, ptrdiff_t, double *, ptrdiff_t);
typedef void gmm_diag_moments_fn(const double *, ptrdiff_t, const double *, ptrdiff_t,
                                 ptrdiff_t, double *, double *);

#if GMM_MAIN_TU
/* Plain C the compiler vectorises: 4 rows x up to GMM_DIAG_KB components a tile, the
   innermost loop over components (contiguous in Wt), each lp summed from cst over the
   features in order, as in the vector builds. */
#define GMM_DIAG_KB 8
static void gmm_diag_lp_base(const double *Wt, ptrdiff_t ldw, ptrdiff_t K, ptrdiff_t P,
                             const double *A, ptrdiff_t m, ptrdiff_t lda, double *lpt,
                             ptrdiff_t ldt)
{
    for (ptrdiff_t k0 = 0; k0 < K; k0 += GMM_DIAG_KB) {
        const ptrdiff_t nk = K - k0 < GMM_DIAG_KB ? K - k0 : GMM_DIAG_KB;
        for (ptrdiff_t i0 = 0; i0 < m; i0 += 4) {
            const ptrdiff_t nr = m - i0 < 4 ? m - i0 : 4;
            double acc[4][GMM_DIAG_KB];
            for (ptrdiff_t r = 0; r < 4; r++)
                for (ptrdiff_t k = 0; k < nk; k++) acc[r][k] = Wt[P * ldw + k0 + k];
            for (ptrdiff_t p = 0; p < P; p++) {
                const double *w = Wt + p * ldw + k0;
                for (ptrdiff_t r = 0; r < 4; r++) {   /* rows past m: A's zero rows */
                    const double a = A[(i0 + r) * lda + p];
                    for (ptrdiff_t k = 0; k < nk; k++) acc[r][k] += a * w[k];
                }
            }
            for (ptrdiff_t k = 0; k < nk; k++)
                for (ptrdiff_t r = 0; r < nr; r++) lpt[(k0 + k) * ldt + i0 + r] = acc[r][k];
        }
    }
}

/* Tiles of 4 components x 4 columns of C held in a local array (registers) over the
   rows, each entry adding the rows in order, as the vector builds do. lda is a
   multiple of 4. */
static void gmm_diag_moments_base(const double *R, ptrdiff_t K, const double *A,
                                  ptrdiff_t m, ptrdiff_t lda, double *C, double *N)
{
    for (ptrdiff_t k0 = 0; k0 < K; k0 += 4) {
        const ptrdiff_t nk = K - k0 < 4 ? K - k0 : 4;
        for (ptrdiff_t p0 = 0; p0 < lda; p0 += 4) {
            double acc[4][4];
            for (ptrdiff_t k = 0; k < 4; k++)
                for (int q = 0; q < 4; q++) acc[k][q] = k < nk ? C[(k0 + k) * lda + p0 + q] : 0.0;
            for (ptrdiff_t i = 0; i < m; i++) {
                const double *a = A + i * lda + p0;
                for (ptrdiff_t k = 0; k < 4; k++) {
                    const double r = k < nk ? R[(k0 + k) * m + i] : 0.0;
                    for (int q = 0; q < 4; q++) acc[k][q] += r * a[q];
                }
            }
            for (ptrdiff_t k = 0; k < nk; k++)
                for (int q = 0; q < 4; q++) C[(k0 + k) * lda + p0 + q] = acc[k][q];
        }
    }
    for (ptrdiff_t k = 0; k < K; k++) N[k] += gmm_sum(R + k * m, m);
}

GMM_DISPATCH(gmm_diag_lp_fn, gmm_diag_lp)
GMM_DISPATCH(gmm_diag_moments_fn, gmm_diag_moments)
#endif

/* ------------------------------------------------------------------ AVX2 + FMA */

#if GMM_TU_ISA == GMM_ISA_AVX2

/* lpt[(k0 + k) * m + i + r] for the rows r < nr of i .. i+3 and the components k < nk of
   4 KV (the tile starts at component k0, Wt at column k0): the accumulators hold
   lp[i + r, k0 + 4v ..] and start from cst; one broadcast of A per row and feature.
   Registers: KV weight vectors and 4 x KV accumulators. */
GMM_INLINE void gmm_diag_lp_tile(const double *Wt, ptrdiff_t ldw, ptrdiff_t P,
                                      const double *A, ptrdiff_t lda, double *out,
                                      ptrdiff_t m, int nr, int nk, const int KV)
{
    __m256d acc[4][3];
    for (int v = 0; v < KV; v++) {
        const __m256d c = _mm256_loadu_pd(Wt + P * ldw + 4 * v);
        for (int r = 0; r < 4; r++) acc[r][v] = c;
    }
    for (ptrdiff_t p = 0; p < P; p++) {
        __m256d w[3];
        for (int v = 0; v < KV; v++) w[v] = _mm256_loadu_pd(Wt + p * ldw + 4 * v);
        for (int r = 0; r < 4; r++) {
            const __m256d a = _mm256_broadcast_sd(A + r * lda + p);
            for (int v = 0; v < KV; v++) acc[r][v] = _mm256_fmadd_pd(a, w[v], acc[r][v]);
        }
    }
#pragma GCC unroll 3
    for (int v = 0; v < KV; v++) {   /* 4 rows x 4 components -> 4 components x 4 rows */
        const __m256d t0 = _mm256_unpacklo_pd(acc[0][v], acc[1][v]);
        const __m256d t1 = _mm256_unpackhi_pd(acc[0][v], acc[1][v]);
        const __m256d t2 = _mm256_unpacklo_pd(acc[2][v], acc[3][v]);
        const __m256d t3 = _mm256_unpackhi_pd(acc[2][v], acc[3][v]);
        __m256d col[4];
        col[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
        col[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
        col[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
        col[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            double *o = out + (4 * v + j) * m;
            if (4 * v + j >= nk)
                break;
            if (nr == 4) {
                _mm256_storeu_pd(o, col[j]);
            } else {
                double t[4];
                _mm256_storeu_pd(t, col[j]);
                for (int r = 0; r < nr; r++) o[r] = t[r];
            }
        }
    }
}

GMM_DIAG_LP_TILES(gmm_diag_lp_avx2, gmm_diag_lp_tile)

/* C[k * lda + v*4 ..] += sum_i R[k * m + i] A[i * lda + v*4 ..] for KT components and
   PV column vectors: KT x PV accumulators, PV row vectors, one broadcast at a time. */
GMM_INLINE void gmm_diag_moments_tile(const double *R, const double *A, ptrdiff_t m,
                                           ptrdiff_t lda, double *C, const int KT,
                                           const int PV)
{
    __m256d acc[4][3];
    for (int k = 0; k < KT; k++)
        for (int v = 0; v < PV; v++) acc[k][v] = _mm256_loadu_pd(C + k * lda + 4 * v);
    for (ptrdiff_t i = 0; i < m; i++) {
        __m256d a[3];
        for (int v = 0; v < PV; v++) a[v] = _mm256_loadu_pd(A + i * lda + 4 * v);
        for (int k = 0; k < KT; k++) {
            const __m256d r = _mm256_broadcast_sd(R + k * m + i);
            for (int v = 0; v < PV; v++) acc[k][v] = _mm256_fmadd_pd(r, a[v], acc[k][v]);
        }
    }
    for (int k = 0; k < KT; k++)
        for (int v = 0; v < PV; v++) _mm256_storeu_pd(C + k * lda + 4 * v, acc[k][v]);
}

GMM_DIAG_MOMENTS_STRIPS(gmm_diag_moments_avx2, gmm_diag_moments_strip,
                        gmm_diag_moments_tile)
#endif

/* ------------------------------------------------------------------ AVX-512 */

#if GMM_TU_ISA == GMM_ISA_AVX512

/* The same tiles with 8 lanes and up to 16 accumulators, for CPUs with two 512-bit FMA
   units. Each accumulator lane holds the same sum in the same order as the AVX2
   build's, so the results are bit-identical. The last vector of a row of Wt or A is
   masked (ldw and lda are multiples of 4, not 8). */

GMM_INLINE __mmask8 gmm_mask8(ptrdiff_t n)   /* the first min(n, 8) lanes */
{
    return n >= 8 ? (__mmask8) 0xFF : (__mmask8) ((1u << n) - 1u);
}

GMM_INLINE void gmm_put4(double *o, __m256d col, int nr)
{
    if (nr == 4) {
        _mm256_storeu_pd(o, col);
    } else {
        double t[4];
        _mm256_storeu_pd(t, col);
        for (int r = 0; r < nr; r++) o[r] = t[r];
    }
}

/* 4 rows x 8 components (a0..a3) -> the first nc components' columns of 4 rows (nr of
   them written) at out, out + m, ...: pairs of rows interleaved, then each component's
   two pairs side by side (q0 holds components 0 | 2, q1 1 | 3, q2 4 | 6, q3 5 | 7). */
GMM_INLINE void gmm_diag_put_cols512(__m512d a0, __m512d a1, __m512d a2, __m512d a3,
                                            double *out, ptrdiff_t m, int nr, int nc)
{
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m512i hi = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    const __m512d t0 = _mm512_unpacklo_pd(a0, a1), t1 = _mm512_unpackhi_pd(a0, a1);
    const __m512d t2 = _mm512_unpacklo_pd(a2, a3), t3 = _mm512_unpackhi_pd(a2, a3);
    const __m512d q0 = _mm512_permutex2var_pd(t0, lo, t2);
    const __m512d q1 = _mm512_permutex2var_pd(t1, lo, t3);
    gmm_put4(out, _mm512_castpd512_pd256(q0), nr);
    if (nc > 1) gmm_put4(out + m, _mm512_castpd512_pd256(q1), nr);
    if (nc > 2) gmm_put4(out + 2 * m, _mm512_extractf64x4_pd(q0, 1), nr);
    if (nc > 3) gmm_put4(out + 3 * m, _mm512_extractf64x4_pd(q1, 1), nr);
    if (nc <= 4)
        return;
    const __m512d q2 = _mm512_permutex2var_pd(t0, hi, t2);
    const __m512d q3 = _mm512_permutex2var_pd(t1, hi, t3);
    gmm_put4(out + 4 * m, _mm512_castpd512_pd256(q2), nr);
    if (nc > 5) gmm_put4(out + 5 * m, _mm512_castpd512_pd256(q3), nr);
    if (nc > 6) gmm_put4(out + 6 * m, _mm512_extractf64x4_pd(q2, 1), nr);
    if (nc > 7) gmm_put4(out + 7 * m, _mm512_extractf64x4_pd(q3, 1), nr);
}

/* gmm_diag_lp_tile with KV vectors of 8 components (up to 32) over 4 rows; the last
   vector's loads masked to its ``last`` lanes. */
GMM_INLINE void gmm_diag_lp_tile512(const double *Wt, ptrdiff_t ldw, ptrdiff_t P,
                                           const double *A, ptrdiff_t lda, double *out,
                                           ptrdiff_t m, int nr, int nk, const int KV)
{
    const __mmask8 last = gmm_mask8(nk - 8 * (KV - 1));
    __m512d acc[4][4];
#pragma GCC unroll 4
    for (int v = 0; v < KV; v++) {
        const __m512d c = _mm512_maskz_loadu_pd(v == KV - 1 ? last : (__mmask8) 0xFF,
                                                Wt + P * ldw + 8 * v);
        for (int r = 0; r < 4; r++) acc[r][v] = c;
    }
    for (ptrdiff_t p = 0; p < P; p++) {
        __m512d w[4];
#pragma GCC unroll 4
        for (int v = 0; v < KV; v++)
            w[v] = _mm512_maskz_loadu_pd(v == KV - 1 ? last : (__mmask8) 0xFF,
                                         Wt + p * ldw + 8 * v);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const __m512d a = _mm512_set1_pd(A[r * lda + p]);
#pragma GCC unroll 4
            for (int v = 0; v < KV; v++) acc[r][v] = _mm512_fmadd_pd(a, w[v], acc[r][v]);
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < KV; v++)
        gmm_diag_put_cols512(acc[0][v], acc[1][v], acc[2][v], acc[3][v], out + 8 * v * m,
                             m, nr, v == KV - 1 ? nk - 8 * v : 8);
}

GMM_KERNEL void gmm_diag_lp_avx512(const double *Wt, ptrdiff_t ldw, ptrdiff_t K, ptrdiff_t P,
                               const double *A, ptrdiff_t m, ptrdiff_t lda, double *lpt,
                               ptrdiff_t ldt)
{
    for (ptrdiff_t k = 0; k < K; k += 32) {
        const int nk = K - k < 32 ? (int) (K - k) : 32;
        for (ptrdiff_t i = 0; i < m; i += 4) {
            const int nr = m - i < 4 ? (int) (m - i) : 4;
            const double *Ai = A + i * lda;
            double *out = lpt + k * ldt + i;
            if (nk > 24)
                gmm_diag_lp_tile512(Wt + k, ldw, P, Ai, lda, out, ldt, nr, nk, 4);
            else if (nk > 16)
                gmm_diag_lp_tile512(Wt + k, ldw, P, Ai, lda, out, ldt, nr, nk, 3);
            else if (nk > 8)
                gmm_diag_lp_tile512(Wt + k, ldw, P, Ai, lda, out, ldt, nr, nk, 2);
            else
                gmm_diag_lp_tile512(Wt + k, ldw, P, Ai, lda, out, ldt, nr, nk, 1);
        }
    }
}

/* gmm_diag_moments_tile with PV vectors of 8 columns (up to 32), the last one masked
   by ``last``. */
GMM_INLINE void gmm_diag_moments_tile512(const double *R, const double *A,
                                                ptrdiff_t m, ptrdiff_t lda, double *C,
                                                const int KT, const int PV, __mmask8 last)
{
    __m512d acc[4][4];
    __mmask8 mv[4];
    for (int v = 0; v < PV; v++) mv[v] = v == PV - 1 ? last : (__mmask8) 0xFF;
    for (int k = 0; k < KT; k++)
        for (int v = 0; v < PV; v++)
            acc[k][v] = _mm512_maskz_loadu_pd(mv[v], C + k * lda + 8 * v);
    for (ptrdiff_t i = 0; i < m; i++) {
        __m512d a[4];
        for (int v = 0; v < PV; v++) a[v] = _mm512_maskz_loadu_pd(mv[v], A + i * lda + 8 * v);
        for (int k = 0; k < KT; k++) {
            const __m512d r = _mm512_set1_pd(R[k * m + i]);
            for (int v = 0; v < PV; v++) acc[k][v] = _mm512_fmadd_pd(r, a[v], acc[k][v]);
        }
    }
    for (int k = 0; k < KT; k++)
        for (int v = 0; v < PV; v++)
            _mm512_mask_storeu_pd(C + k * lda + 8 * v, mv[v], acc[k][v]);
}

GMM_INLINE void gmm_diag_moments_strip512(const double *R, const double *A,
                                                 ptrdiff_t m, ptrdiff_t lda, double *C,
                                                 const int KT)
{
    const ptrdiff_t nv = (lda + 7) / 8;
    const __mmask8 tail = lda % 8 ? (__mmask8) 0x0F : (__mmask8) 0xFF;
    ptrdiff_t v = 0;
    for (; v + 4 <= nv; v += 4)
        gmm_diag_moments_tile512(R, A + 8 * v, m, lda, C + 8 * v, KT, 4,
                                 v + 4 == nv ? tail : (__mmask8) 0xFF);
    if (nv - v == 3)
        gmm_diag_moments_tile512(R, A + 8 * v, m, lda, C + 8 * v, KT, 3, tail);
    else if (nv - v == 2)
        gmm_diag_moments_tile512(R, A + 8 * v, m, lda, C + 8 * v, KT, 2, tail);
    else if (nv - v == 1)
        gmm_diag_moments_tile512(R, A + 8 * v, m, lda, C + 8 * v, KT, 1, tail);
}

GMM_KERNEL void gmm_diag_moments_avx512(const double *R, ptrdiff_t K, const double *A,
                                    ptrdiff_t m, ptrdiff_t lda, double *C, double *N)
{
    ptrdiff_t k = 0;
    for (; k + 4 <= K; k += 4)
        gmm_diag_moments_strip512(R + k * m, A, m, lda, C + k * lda, 4);
    if (K - k == 3)
        gmm_diag_moments_strip512(R + k * m, A, m, lda, C + k * lda, 3);
    else if (K - k == 2)
        gmm_diag_moments_strip512(R + k * m, A, m, lda, C + k * lda, 2);
    else if (K - k == 1)
        gmm_diag_moments_strip512(R + k * m, A, m, lda, C + k * lda, 1);
    for (k = 0; k < K; k++) N[k] += gmm_sum(R + k * m, m);
}
#endif

/* ------------------------------------------------------------------ NEON */

#if GMM_TU_ISA == GMM_ISA_NEON
/* The AVX2 build's tiles with vectors of 2 doubles: 4 rows x 12 components (24
   accumulators and 6 weight vectors of the 32 registers) and 4 components x 12 columns
   of A. Each accumulator lane holds the same sum in the same order as the AVX2
   build's. */

/* gmm_diag_lp_tile: nk <= 4 KV components (KV <= 3) of 4 rows, nr of them written */
GMM_INLINE void gmm_diag_lp_tile_neon(const double *Wt, ptrdiff_t ldw, ptrdiff_t P,
                                      const double *A, ptrdiff_t lda, double *out,
                                      ptrdiff_t m, int nr, int nk, const int KV)
{
    float64x2_t acc[4][6];
    const int NV = 2 * KV;
    for (int v = 0; v < NV; v++) {
        const float64x2_t c = vld1q_f64(Wt + P * ldw + 2 * v);
        for (int r = 0; r < 4; r++) acc[r][v] = c;
    }
    for (ptrdiff_t p = 0; p < P; p++) {
        float64x2_t w[6];
        for (int v = 0; v < NV; v++) w[v] = vld1q_f64(Wt + p * ldw + 2 * v);
        for (int r = 0; r < 4; r++) {
            const float64x2_t a = vdupq_n_f64(A[r * lda + p]);
            for (int v = 0; v < NV; v++) acc[r][v] = vfmaq_f64(acc[r][v], a, w[v]);
        }
    }
    /* rows x components -> component-major: pairs of rows per pair of components */
    for (int v = 0; v < NV; v++) {
        const int j = 2 * v;
        if (j >= nk)
            break;
        const float64x2_t r01a = vzip1q_f64(acc[0][v], acc[1][v]);   /* comp j, rows 0 1 */
        const float64x2_t r23a = vzip1q_f64(acc[2][v], acc[3][v]);
        const float64x2_t r01b = vzip2q_f64(acc[0][v], acc[1][v]);   /* comp j + 1 */
        const float64x2_t r23b = vzip2q_f64(acc[2][v], acc[3][v]);
        double *o = out + j * m;
        if (nr == 4) {
            vst1q_f64(o, r01a);
            vst1q_f64(o + 2, r23a);
            if (j + 1 < nk) {
                vst1q_f64(o + m, r01b);
                vst1q_f64(o + m + 2, r23b);
            }
        } else {
            double t[8];
            vst1q_f64(t, r01a);
            vst1q_f64(t + 2, r23a);
            vst1q_f64(t + 4, r01b);
            vst1q_f64(t + 6, r23b);
            for (int r = 0; r < nr; r++) o[r] = t[r];
            if (j + 1 < nk)
                for (int r = 0; r < nr; r++) o[m + r] = t[4 + r];
        }
    }
}

GMM_DIAG_LP_TILES(gmm_diag_lp_neon, gmm_diag_lp_tile_neon)

/* gmm_diag_moments_tile: KT components x PV vectors of 4 columns (2 NEON vectors each) */
GMM_INLINE void gmm_diag_moments_tile_neon(const double *R, const double *A, ptrdiff_t m,
                                           ptrdiff_t lda, double *C, const int KT,
                                           const int PV)
{
    float64x2_t acc[4][6];
    const int NV = 2 * PV;
    for (int k = 0; k < KT; k++)
        for (int v = 0; v < NV; v++) acc[k][v] = vld1q_f64(C + k * lda + 2 * v);
    for (ptrdiff_t i = 0; i < m; i++) {
        float64x2_t a[6];
        for (int v = 0; v < NV; v++) a[v] = vld1q_f64(A + i * lda + 2 * v);
        for (int k = 0; k < KT; k++) {
            const float64x2_t r = vdupq_n_f64(R[k * m + i]);
            for (int v = 0; v < NV; v++) acc[k][v] = vfmaq_f64(acc[k][v], r, a[v]);
        }
    }
    for (int k = 0; k < KT; k++)
        for (int v = 0; v < NV; v++) vst1q_f64(C + k * lda + 2 * v, acc[k][v]);
}

GMM_DIAG_MOMENTS_STRIPS(gmm_diag_moments_neon, gmm_diag_moments_strip_neon,
                        gmm_diag_moments_tile_neon)
#endif

#if GMM_MAIN_TU
static void gmm_diag_products_select(void)
{
    GMM_SELECT(gmm_diag_lp, gmm_diag_lp);
    GMM_SELECT(gmm_diag_moments, gmm_diag_moments);
}
#endif

#endif
