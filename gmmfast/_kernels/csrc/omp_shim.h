/* OpenMP when the compiler enabled it (_OPENMP), serial stand-ins otherwise, so that
   the kernels build and run either way. */
#ifndef GMMFAST_OMP_SHIM_H
#define GMMFAST_OMP_SHIM_H
#ifdef _OPENMP
#include <omp.h>
#define GMMFAST_HAVE_OPENMP 1
#else
#define GMMFAST_HAVE_OPENMP 0
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
#endif
#endif
