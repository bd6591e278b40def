/* The NEON build of every vector kernel: this translation unit is compiled with the
   flags of setup.py's ISA_BUILDS["neon"] (see isa.h). */
#define GMM_TU_ISA GMM_ISA_NEON
#include "kernels.h"
