/* The NEON build of the missing values' lanes (missing_lanes.h): this translation unit
   is compiled with the flags of setup.py's ISA_BUILDS["neon"], contraction off. */
#define GMM_TU_ISA GMM_ISA_NEON
#include "missing_lanes.h"
