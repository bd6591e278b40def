/* The NEON build of k-means++'s distance tiles (kmeans_tiles.h): this translation unit
   is compiled with the flags of setup.py's ISA_BUILDS["neon"], contraction off. */
#define GMM_TU_ISA GMM_ISA_NEON
#include "kmeans_tiles.h"
