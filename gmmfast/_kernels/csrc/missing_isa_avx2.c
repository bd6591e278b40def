/* The AVX2 build of the missing values' lanes (missing_lanes.h): this translation unit
   is compiled with the flags of setup.py's ISA_BUILDS["avx2"], contraction off. */
#define GMM_TU_ISA GMM_ISA_AVX2
#include "missing_lanes.h"
