/* The AVX2 build of k-means++'s distance tiles (kmeans_tiles.h): this translation unit
   is compiled with the flags of setup.py's ISA_BUILDS["avx2"], contraction off. */
#define GMM_TU_ISA GMM_ISA_AVX2
#include "kmeans_tiles.h"
