/* The triangular product's tile, one row a lane, in float32 (GMM_TRI32_TILE: the
   complete rows' log-densities, triangular.h's gmm_full32_lp, and the missing values'
   quadratic forms, missing_rows32.h's gmm_lanes32_q) or double (triangular.h's
   gmm_tri_lanes_d, missing_rowsd.h's gmm_lanes_qb): four columns j0..j0+3 of y = z U
   for a group of 2W rows held in two vectors of W elements of type T (isa.h's
   _mm<B>_<op>_<S> intrinsics, S = ps or pd, and their NEON shims; V the vector type).
   Z: the group's centred features, feature-major, ldz elements apart (the two vectors
   of a feature side by side); U: U's row-major entries from column j0, ldu elements a
   row, zeros below the diagonal. Each sum runs over the features 0..lend-1 in order,
   one fused multiply-add a product: per lane the same operations in every vector
   build. Declares the tile's sums a0..a3 (first vector, columns j0..j0+3) and b0..b3
   (second vector) in the enclosing block. */
#ifndef GMMFAST_TRI_TILE_H
#define GMMFAST_TRI_TILE_H

#define GMM_TRI_TILE(V, B, W, S, T, Z, ldz, U, ldu, lend)                               \
    V a0 = _mm##B##_setzero_##S(), a1 = a0, a2 = a0, a3 = a0;                           \
    V b0 = a0, b1 = a0, b2 = a0, b3 = a0;                                               \
    {                                                                                   \
        const T *u_ = (U);                                                              \
        const T *z_ = (Z);                                                              \
        for (ptrdiff_t l_ = 0; l_ < (lend); l_++, u_ += (ldu), z_ += (ldz)) {           \
            const V za = _mm##B##_loadu_##S(z_), zb = _mm##B##_loadu_##S(z_ + W);       \
            V ut = _mm##B##_set1_##S(u_[0]);                                            \
            a0 = _mm##B##_fmadd_##S(za, ut, a0); b0 = _mm##B##_fmadd_##S(zb, ut, b0);   \
            ut = _mm##B##_set1_##S(u_[1]);                                              \
            a1 = _mm##B##_fmadd_##S(za, ut, a1); b1 = _mm##B##_fmadd_##S(zb, ut, b1);   \
            ut = _mm##B##_set1_##S(u_[2]);                                              \
            a2 = _mm##B##_fmadd_##S(za, ut, a2); b2 = _mm##B##_fmadd_##S(zb, ut, b2);   \
            ut = _mm##B##_set1_##S(u_[3]);                                              \
            a3 = _mm##B##_fmadd_##S(za, ut, a3); b3 = _mm##B##_fmadd_##S(zb, ut, b3);   \
        }                                                                               \
    }

#define GMM_TRI32_TILE(V, B, W, Z, ldz, U, ldu, lend)                                   \
    GMM_TRI_TILE(V, B, W, ps, float, Z, ldz, U, ldu, lend)

/* The tile in plain C (the baseline builds of the missing values' lanes): four columns
   t of a group of G rows, Y[t ldy + r] = sum over l < lend, in order, of Z[l G + r]
   U[l ldu + t], each product fused (FMA: fmaf or fma, as the vector builds' are) */
#define GMM_TRI_TILE_BASE(T, FMA, G, Z, U, ldu, lend, Y, ldy)                           \
    {                                                                                   \
        T a_[4][G];                                                                     \
        for (int t_ = 0; t_ < 4; t_++)                                                  \
            for (int r_ = 0; r_ < (G); r_++) a_[t_][r_] = (T) 0;                        \
        for (ptrdiff_t l_ = 0; l_ < (lend); l_++)                                       \
            for (int t_ = 0; t_ < 4; t_++)                                              \
                for (int r_ = 0; r_ < (G); r_++)                                        \
                    a_[t_][r_] = FMA((Z)[l_ * (G) + r_], (U)[l_ * (ldu) + t_],         \
                                     a_[t_][r_]);                                       \
        for (int t_ = 0; t_ < 4; t_++)                                                  \
            for (int r_ = 0; r_ < (G); r_++) (Y)[t_ * (ldy) + r_] = a_[t_][r_];         \
    }

/* The tile's sums stored feature-major: column j0 + t at Y + t ldy, its first vector's
   rows then its second's (the missing values' lanes, which read y again) */
#define GMM_TRI_TILE_STORE(B, W, S, Y, ldy)                                             \
    {                                                                                   \
        _mm##B##_storeu_##S((Y), a0); _mm##B##_storeu_##S((Y) + W, b0);                 \
        _mm##B##_storeu_##S((Y) + (ldy), a1); _mm##B##_storeu_##S((Y) + (ldy) + W, b1); \
        _mm##B##_storeu_##S((Y) + 2 * (ldy), a2);                                       \
        _mm##B##_storeu_##S((Y) + 2 * (ldy) + W, b2);                                   \
        _mm##B##_storeu_##S((Y) + 3 * (ldy), a3);                                       \
        _mm##B##_storeu_##S((Y) + 3 * (ldy) + W, b3);                                   \
    }

#endif
