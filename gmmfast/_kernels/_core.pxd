# Declarations shared by the kernel module (_core.pyx) and the route files it includes:
# the C kernels (csrc/), and the types every route speaks.

cdef extern from "csrc/omp_shim.h":
    int omp_get_max_threads() noexcept nogil
    int GMMFAST_HAVE_OPENMP

cdef extern from "csrc/kernels.h":
    void gmm_kernels_init(int max_level) noexcept nogil
    const char* gmm_isa_name() noexcept nogil
    const char* gmm_isa_builds() noexcept nogil

    # vmath.h
    void gmm_exp_d(double* x, Py_ssize_t n) noexcept nogil
    void gmm_log_d(double* x, Py_ssize_t n) noexcept nogil
    void gmm_exp_f(float* x, Py_ssize_t n) noexcept nogil
    void gmm_log_f(float* x, Py_ssize_t n) noexcept nogil
    int gmm_any_not_finite_d(const double* x, Py_ssize_t n) noexcept nogil
    int gmm_any_not_finite_f(const float* x, Py_ssize_t n) noexcept nogil
    double gmm_sum(const double* a, Py_ssize_t n) noexcept nogil
    double gmm_dot(const double* a, const double* b, Py_ssize_t n) noexcept nogil

    # normalize.h
    void gmm_normalize_cols_d(double* lpt, Py_ssize_t n, Py_ssize_t K, const double* w,
                              double* lse, double* row_max, double* scale) noexcept nogil
    void gmm_normalize_cols_fd(double* lpt, Py_ssize_t n, Py_ssize_t K, const double* w,
                               double* lse, double* row_max, float* sum,
                               float* y) noexcept nogil
    # shared_shift.h
    void gmm_cols_to_rows_w(const double* lpt, Py_ssize_t n, Py_ssize_t K,
                            const double* w, double* lp, double* N) noexcept nogil
    void gmm_cols_lse_d(const double* lpt, Py_ssize_t n, Py_ssize_t K, double* lse,
                        double* row_max) noexcept nogil
    void gmm_cols_argmax(const double* lpt, Py_ssize_t n, Py_ssize_t K, double* best,
                         Py_ssize_t* label) noexcept nogil
    void gmm_cols_resp_d(double* lpt, Py_ssize_t n, Py_ssize_t K, double* lse,
                         double* scratch, double* out) noexcept nogil
    void gmm_cols_resp_f(double* lpt, Py_ssize_t n, Py_ssize_t K, double* lse,
                         double* scratch, float* out) noexcept nogil

    # feature_rows.h
    void gmm_moment_rows_d(const double* X, Py_ssize_t n, Py_ssize_t D, const double* c,
                           double* F, double* z) noexcept nogil
    void gmm_moment_rows_fd(const float* X, Py_ssize_t n, Py_ssize_t D, const float* c,
                            double* F, double* z) noexcept nogil
    void gmm_moment_rows_axpy(const double* F, Py_ssize_t width, Py_ssize_t K,
                              const Py_ssize_t* ptr, const Py_ssize_t* rows,
                              const double* r, double* acc) noexcept nogil
    void gmm_moment_weights(const double* U, const double* v, Py_ssize_t D, double tail,
                            double* W, double* L) noexcept nogil
    Py_ssize_t gmm_moment_weights_scratch(Py_ssize_t D) noexcept nogil
    void gmm_count_nonzero_cols(const double* lpt, Py_ssize_t n, Py_ssize_t K,
                                Py_ssize_t* count) noexcept nogil
    void gmm_nonzero_lists(const double* lpt, Py_ssize_t n, Py_ssize_t K, Py_ssize_t* ptr,
                           Py_ssize_t* rows, double* r) noexcept nogil
    void gmm_diag_rows_d(const double* X, Py_ssize_t n, Py_ssize_t D, const double* c,
                         Py_ssize_t lda, double* A) noexcept nogil
    void gmm_diag_rows_fd(const float* X, Py_ssize_t n, Py_ssize_t D, const float* c,
                          Py_ssize_t lda, double* A) noexcept nogil

    # triangular.h
    Py_ssize_t GMM_TRI_LANES_GROUP
    Py_ssize_t gmm_tri_lanes_ldx(Py_ssize_t n) noexcept nogil
    void gmm_tri_lanes_transpose(const double* X, Py_ssize_t n, Py_ssize_t D,
                                 double* Xt) noexcept nogil
    void gmm_tri_lanes_d(const double* Xt, Py_ssize_t n, Py_ssize_t D, const double* mu,
                         const double* U, double cst, double* lp, Py_ssize_t rs,
                         double* Up, double* Zt) noexcept nogil
    Py_ssize_t GMM_FULL32_GROUP
    Py_ssize_t gmm_full32_ldx(Py_ssize_t n) noexcept nogil
    Py_ssize_t gmm_full32_d4(Py_ssize_t D) noexcept nogil
    void gmm_full32_transpose(const float* X, Py_ssize_t n, Py_ssize_t D,
                              float* Xt) noexcept nogil
    void gmm_full32_lp(const float* Xt, Py_ssize_t n, Py_ssize_t D, const float* mu,
                       const float* Up, double cst, double* lp, Py_ssize_t rs,
                       float* Zt) noexcept nogil

    # rank_update.h
    Py_ssize_t gmm_full32_dp(Py_ssize_t D) noexcept nogil
    Py_ssize_t gmm_full_ld8(Py_ssize_t D) noexcept nogil
    void gmm_rank_update_d(const double* Z, Py_ssize_t m, Py_ssize_t D, double* S,
                           double* T) noexcept nogil
    Py_ssize_t gmm_means_rows_d(const double* X, Py_ssize_t n, Py_ssize_t D,
                                const double* mu, const double* R, Py_ssize_t rs,
                                double* S1, double* Z, Py_ssize_t ld) noexcept nogil
    void gmm_full32_scatter(const float* X, Py_ssize_t n, Py_ssize_t D, const double* mu,
                            const double* Rk, double* Nk, double* S1k, double* S2k,
                            float* Z, float* T, float* cf, double* sc) noexcept nogil

    # diag_products.h
    Py_ssize_t GMM_DIAG_ROWS
    Py_ssize_t gmm_diag_lda(Py_ssize_t D) noexcept nogil
    Py_ssize_t gmm_diag_ldw(Py_ssize_t K) noexcept nogil
    void gmm_diag_lp(const double* Wt, Py_ssize_t ldw, Py_ssize_t K, Py_ssize_t P,
                     const double* A, Py_ssize_t m, Py_ssize_t lda, double* lpt,
                     Py_ssize_t ldt) noexcept nogil
    void gmm_diag_moments(const double* R, Py_ssize_t K, const double* A, Py_ssize_t m,
                          Py_ssize_t lda, double* C, double* N) noexcept nogil

    # small_full.h
    Py_ssize_t GMM_SMALL_D
    Py_ssize_t gmm_full_small_scratch(Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
                                      Py_ssize_t size) noexcept nogil
    Py_ssize_t gmm_full_small_block_d(
        const double* X, const double* w, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
        const double* cst, const double* M, const double* U, double* N, double* S1,
        double* S2, double* L, void* scratch) noexcept nogil
    Py_ssize_t gmm_full_small_block_f(
        const float* X, const double* w, Py_ssize_t n, Py_ssize_t D, Py_ssize_t K,
        const double* cst, const double* M, const double* U, double* N, double* S1,
        double* S2, double* L, void* scratch) noexcept nogil


# Covariance types: the layout of the statistics (stat_widths) and of the factors.
cpdef enum CovType:
    COV_FULL = 0
    COV_TIED = 1
    COV_DIAG = 2
    COV_SPHERICAL = 3

# What a worker reports, per chunk or block; the driver returns it to Python.
cpdef enum Status:
    STATUS_OK = 0
    STATUS_NO_MEMORY = 1
    STATUS_ZERO_DENSITY = 2   # a row whose log-likelihood is not finite
    STATUS_NOT_FINITE = 3     # X holds NaN or infinity (block_logprob's check_finite)


# A mixture as a route reads it (Params builds it). Each route reads the fields its
# file names and no others; the rest are NULL. "data" fields have the data's dtype
# (float or double), the others are double whatever the data.
ctypedef struct Model:
    Py_ssize_t D, K
    const double* cst          # (K,) per-component constant of the log-probability
    const void* means          # data (K, D) the means
    const double* means64      # (K, D) the means in double: shifts of the statistics
    const void* chol           # data: precision Cholesky factors, as the route lays them
    const double* chol64       # (K, D, D) the factors in double
    const void* shift          # data (D,) the global shift c
    const double* coef         # GEMM weights of a route's feature rows


# One chunk's accumulators (rows of the driver's outputs).
ctypedef struct Sums:
    double* N
    double* S1
    double* S2
    double* L


# Scratch is one block of bytes per thread, carved by each route into a struct of
# named pieces (its *_layout function); an Arena hands out the pieces.
ctypedef struct Arena:
    char* base        # NULL: only count the bytes
    Py_ssize_t used


# A route's functions. stats: the block's statistics added into Sums; returns the first
# row (block index) whose log-likelihood is not finite, or -1. logprob: lpt (K x n,
# component-major: lpt[k n + i]) = log pi_k + log N(x_i | k), the layout of the
# normalisation and of the statistics' passes. scratch: the bytes both need for B rows.
# chunk_begin / chunk_end: NULL, or set up and fold back an accumulator of the route's
# own kept in the scratch across a chunk's blocks.
ctypedef Py_ssize_t (*scratch_fn)(Py_ssize_t B, Py_ssize_t D, Py_ssize_t K,
                                  Py_ssize_t itemsize) noexcept nogil
ctypedef Py_ssize_t (*stats_d_fn)(const Model* m, const double* X, const double* w,
                                  Py_ssize_t n, Sums* s, void* scratch) noexcept nogil
ctypedef Py_ssize_t (*stats_f_fn)(const Model* m, const float* X, const double* w,
                                  Py_ssize_t n, Sums* s, void* scratch) noexcept nogil
ctypedef void (*logprob_d_fn)(const Model* m, const double* X, Py_ssize_t n, double* lp,
                              void* scratch) noexcept nogil
ctypedef void (*logprob_f_fn)(const Model* m, const float* X, Py_ssize_t n, double* lp,
                              void* scratch) noexcept nogil
ctypedef void (*chunk_fn)(const Model* m, Sums* s, void* scratch) noexcept nogil

ctypedef struct Route:
    CovType cov
    scratch_fn scratch
    stats_d_fn stats_d
    stats_f_fn stats_f
    logprob_d_fn logprob_d
    logprob_f_fn logprob_f
    chunk_fn chunk_begin
    chunk_fn chunk_end
