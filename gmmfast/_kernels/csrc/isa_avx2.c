/* The AVX2 build of every vector kernel: this translation unit is compiled with the
   flags of setup.py's ISA_BUILDS["avx2"] (see isa.h). */
#define GMM_TU_ISA GMM_ISA_AVX2
#include "kernels.h"
