/* Every C kernel of gmmfast, and their one initialisation. The Cython module
   (_kernels/_core.pyx) includes this header only. Each header is named by the maths
   it does:

     isa.h            the instruction-set builds and the choice among them; each
                      vector build's translation unit (csrc/isa_<name>.c) includes
                      this header too, for its own build of every kernel
     vmath.h          vector exp / log, sums in a fixed order
     normalize.h      log-sum-exp normalisation of component-major blocks
     feature_rows.h   rows of products that turn quadratic forms into GEMMs
     triangular.h     the triangular quadratic form ||(x - mu) U||^2
     tri_tile.h       its tile, one row a lane, float32 or double (the missing values'
                      row pass takes the float32 one too)
                      takes it too)
     rank_update.h    symmetric rank updates (weighted scatters)
     diag_products.h  the two products of a 'diag' block
     small_full.h     'full' with few features: a whole block, feature-major
     shared_shift.h   the per-element loops of 'tied' and 'spherical'
     omp_shim.h       OpenMP, or serial stand-ins without it
*/
#ifndef GMMFAST_KERNELS_H
#define GMMFAST_KERNELS_H

#include "isa.h"
#include "vmath.h"
#include "normalize.h"
#include "feature_rows.h"
#include "tri_tile.h"
#include "triangular.h"
#include "rank_update.h"
#include "diag_products.h"
#include "small_full.h"
#include "shared_shift.h"

#if GMM_MAIN_TU
/* Choose the instruction set, then point every kernel at its build: once, at import. */
static void gmm_kernels_init(int max_level)
{
    gmm_isa_detect(max_level);
    gmm_vmath_select();
    gmm_normalize_select();
    gmm_feature_rows_select();
    gmm_triangular_select();
    gmm_rank_update_select();
    gmm_diag_products_select();
    gmm_small_full_select();
    gmm_shared_shift_select();
}
#endif

#endif
