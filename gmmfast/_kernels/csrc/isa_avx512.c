/* The AVX512 build of every vector kernel: this translation unit is compiled with the
   flags of setup.py's ISA_BUILDS["avx512"] (see isa.h). */
#define GMM_TU_ISA GMM_ISA_AVX512
#include "kernels.h"
