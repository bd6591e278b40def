/* The AVX512 build of the missing values' lanes (missing_lanes.h): this translation unit
   is compiled with the flags of setup.py's ISA_BUILDS["avx512"], contraction off. */
#define GMM_TU_ISA GMM_ISA_AVX512
#include "missing_lanes.h"
