# The m x m blocks of a row's missing features, for all components at once (included
# by _missing_rows.pyx; both routes of the row pass use them): the factors of
# P_k[M, M], their inverses where the statistics read them, and a row's solves. The
# loops over the components are C, in a build for each instruction set
# (gmmfast/_kernels/csrc/missing_lanes.h); per component their operations and their
# order are those of one component alone, so the bits do not depend on how many are
# taken together, nor on the build.

cdef extern from "missing_lanes.h":
    void gmm_missing_lanes_init(int max_level) noexcept nogil
    const char* gmm_isa_name() noexcept nogil
    const char* gmm_isa_builds() noexcept nogil
    # P (D, D, K) component last -> L (m, m, K), idg (m, K) = 1 / L[j, j],
    # hl (K,) = sum_j log L[j, j] (0.5 log det P_k[M, M])
    void gmm_lanes_factor(const double* Pt, const Py_ssize_t* Mr, Py_ssize_t m,
                          Py_ssize_t D, Py_ssize_t K, double* L, double* idg,
                          double* hl) noexcept nogil
    # the lower triangles of A_k^-1 = L^-T L^-1 row by row, entry a of component k at
    # Ap[a fs + k];
    # Li (m, m, K) scratch
    void gmm_lanes_inverse(const double* L, const double* idg, Py_ssize_t m, Py_ssize_t K,
                           double* Li, double* Ap, Py_ssize_t fs) noexcept nogil
    # one row: z = L^-1 b (bt (m, K)), lp (K,) += 0.5 ||z||^2 - hl, -t = -L^-T z at
    # tt[k ts + a]; Z (m, K) scratch
    void gmm_lanes_solve(const double* L, const double* idg, const double* hl,
                         Py_ssize_t m, Py_ssize_t K, const double* bt, double* tt,
                         Py_ssize_t ts, double* lp, double* Z) noexcept nogil
    # the kernels' row-major normalisation (normalize.h): lp (nb, K) := the
    # responsibilities, lse (nb,); scratch nb (K + 2)
    void gmm_normalize_rows_d(double* lp, Py_ssize_t n, Py_ssize_t K, double* lse,
                              double* scratch) noexcept nogil
    # moment rows (_missing_moments.pxi): a run's base (m, K) = P[M, M] m_M - (P m)_M
    # and qc (K,) = 0.5 m_M^T P[M, M] m_M
    void gmm_lanes_base(const double* Pt, const double* Mt, const double* PMt,
                        const Py_ssize_t* Mr, Py_ssize_t m, Py_ssize_t D, Py_ssize_t K,
                        double* base, double* qc) noexcept nogil
    # float32 products: a run's conditional covariances, Cd (D (D + 1) / 2, K) +=
    # S_k A_k at its entries (A: the run's inverses, component last)
    void gmm_lanes_cond_add(const double* S, const double* Ar, const Py_ssize_t* Mr,
                            Py_ssize_t m, Py_ssize_t K, double* Cd) noexcept nogil
    # moment rows: one row's C[Mr[a], Mr[a2]] += (0.5 wr s_a) s_a2, C (D, D, K)
    void gmm_lanes_fill_outer(const double* wr, const double* Sv, const Py_ssize_t* Mr,
                              Py_ssize_t m, Py_ssize_t D, Py_ssize_t K,
                              double* C) noexcept nogil


# the rows' side (csrc/missing_rows32.h, which missing_lanes.h includes and dispatches)
cdef extern from "missing_rows32.h":
    # float32 data: one component over a block's rows transposed (Xt (D, ldx), ldx a
    # multiple of GMM_MY_MAX; NaN where missing): q (n,) = ||y||^2 with y = z U in
    # float32 products, z = x - mu where observed, 0 where missing (Up (D4, D4)
    # float32, D4 = D rounded up to 4); Z, Y (D4, GMM_MY_MAX) float32 scratch
    enum: GMM_MY_MAX
    void gmm_lanes32_q(const double* Xt, Py_ssize_t ldx, Py_ssize_t n,
                       Py_ssize_t D, const double* mu, const float* Up, double* q,
                       float* Z, float* Y) noexcept nogil
    # Y (nz, D) = X0[rows] - mu, each row's missing entries then tk[moff[r] + a]
    void gmm_rows_delta(const double* X0, Py_ssize_t D, const Py_ssize_t* rows,
                        Py_ssize_t nz, const double* mu, const Py_ssize_t* Mi,
                        Py_ssize_t mmax, const Py_ssize_t* nm, const Py_ssize_t* moff,
                        const double* tk, double* Y) noexcept nogil
    # a block's rows transposed for gmm_lanes32_q: Xt (D, ldx), NaN where missing
    void gmm_rows_transpose(const double* X0, Py_ssize_t nb, Py_ssize_t D,
                            const Py_ssize_t* Mi, Py_ssize_t mmax, const Py_ssize_t* nm,
                            Py_ssize_t ldx, double* Xt) noexcept nogil
    # float32 products: a component's rows Y (n, D): e (D,) = sum wv Y, their weighted
    # mean d (D,), Z (n, ld) float32 = sqrt(wv) (Y - d), zero-padded; returns sum wv
    double gmm_rows32_center(const double* Y, const double* wv, Py_ssize_t n,
                             Py_ssize_t D, double* d, double* e, float* Z,
                             Py_ssize_t ld) noexcept nogil
    # the lower triangle of T2k (D, D) := (or with add, +=) T (row stride ld) shifted
    # from the rows' mean d back to the mean: T + e d^T + d e^T + nb d d^T
    void gmm_shift_back32(const double* T, Py_ssize_t ld, const double* d,
                          const double* e, double nb, Py_ssize_t D, int add,
                          double* T2k) noexcept nogil
    # T (ld, ld), its lower triangle = Z^T Z over the n rows of Z (n, ld) float32, ld a
    # multiple of GMM_R32_LD: float32 sums over chunks of rows, added in double
    enum: GMM_R32_LD
    void gmm_rank32(const float* Z, Py_ssize_t n, Py_ssize_t D, Py_ssize_t ld,
                    double* T) noexcept nogil


# float64 data from BLAS_MIN_FEATURES features on (csrc/missing_rowsd.h, included and
# dispatched the same way): one component over a block's rows transposed (Xt (D, ldx),
# ldx a multiple of GMM_QB_MAX; NaN where missing), y = z U (Up (D, D4): U, zeros below
# the diagonal and beyond D), q (n,) = ||y||^2 and b = U[M, :] y of each missing entry
# a of row r at bt[(moff[r] + a) K]; S gmm_lanes_qb_doubles(D) scratch
cdef extern from "missing_rowsd.h":
    enum: GMM_QB_MAX
    Py_ssize_t gmm_lanes_qb_doubles(Py_ssize_t D) noexcept nogil
    void gmm_lanes_qb(const double* Xt, Py_ssize_t ldx, Py_ssize_t n, Py_ssize_t D,
                      const double* mu, const double* Up, const Py_ssize_t* Mi,
                      Py_ssize_t mmax, const Py_ssize_t* nm, const Py_ssize_t* moff,
                      Py_ssize_t K, double* q, double* bt, double* S) noexcept nogil

# the transposed block's row stride (_lanes32_ldx) serves both kinds of lanes
if GMM_MY_MAX % GMM_QB_MAX != 0:
    raise ImportError("gmmfast._missing_rows: the float32 lanes' group is not a "
                      "multiple of the float64 lanes'")


# fewer than 8 features: a row's work at a fixed D (csrc/missing_small.h, compiled here
# alone, the baseline build)
cdef extern from "missing_small.h":
    int GMM_SMALL_MAX_D
    # the first sweep's loops for one component at a fixed D, 1 <= D <= 7 (0: another
    # D, nothing done): lp[r K] and b (bt[(moff[r] + a) K]) of the nb rows
    int gmm_small_first(Py_ssize_t D, const double* X0, Py_ssize_t nb,
                        const Py_ssize_t* Mi, Py_ssize_t mmax, const Py_ssize_t* nm,
                        const Py_ssize_t* moff, const double* mu, const double* U,
                        double c0, double log_2pi, Py_ssize_t K, double* lp,
                        double* bt) noexcept nogil
    # the second sweep's for one component (-1: another D, nothing done): N_k, T1_k
    # and T2_k's lower triangle of the rows whose w r_k is not 0 (T2 zeroed first
    # unless add_T2); returns how many rows added
    Py_ssize_t gmm_small_stats(Py_ssize_t D, const double* X0, const double* w,
                               const double* lp, Py_ssize_t nb, Py_ssize_t K,
                               const double* mu, const Py_ssize_t* Mi, Py_ssize_t mmax,
                               const Py_ssize_t* nm, const Py_ssize_t* moff,
                               const double* tk, double* Nk, double* T1, double* T2,
                               int add_T2) noexcept nogil

# every D below BLAS_MIN_FEATURES takes the fixed-D loops: there is no other path
if C_BLAS_MIN_FEATURES - 1 > GMM_SMALL_MAX_D:
    raise ImportError("gmmfast._missing_rows: missing_small.h stops below "
                      "BLAS_MIN_FEATURES - 1 features")


#: lp - top below this: the responsibility exp(lp - top) / s is exactly 0 (exp
#: underflows to 0 below about -745.13)
cdef double RESP_UNDERFLOW = -750.0


cdef void _run_inverses(
    const double* Lf,       # IN (m, m, K) the run's factors (gmm_lanes_factor)
    const double* idg,      # IN (m, K)
    Py_ssize_t m, Py_ssize_t K, bint tied,
    const double* lp,       # IN (rows, K) the run's rows' log-densities, complete
    Py_ssize_t n,           # the run's rows
    double* Lc,             # SCRATCH (m, m, K)
    double* idgc,           # SCRATCH (m, K)
    double* Li,             # SCRATCH (m, m, K)
    double* S,              # SCRATCH (K,)
    double* Ac,             # SCRATCH (m (m + 1) / 2, K)
    Py_ssize_t* kx,         # SCRATCH (K,)
    double* Ast, Py_ssize_t off,    # OUT entry a of component k's at Ast[(off + a) K + k]
) noexcept nogil:
    """The run's P_k[M, M]^-1 (as gmm_lanes_inverse leaves them) for the components whose
    statistics read them: those with a responsibility not exactly 0 in some row of
    the run (_add_runs adds nothing for the others), 'tied' the first only (the one
    precision, which _add_runs reads). Their lanes are gathered and inverted
    together; each lane's operations are those of all K at once, so the bits too.
    Most components of a well-separated mixture are 0 on most rows (digits: 99%)."""
    cdef Py_ssize_t k, r, j, t, a, nk = 0, fs = m * (m + 1) // 2
    cdef double top
    if tied:
        kx[0] = 0
        nk = 1
    else:
        for k in range(K):
            S[k] = 0.0
        for r in range(n):
            top = lp[r * K]
            for k in range(1, K):
                if lp[r * K + k] > top:
                    top = lp[r * K + k]
            for k in range(K):
                # NaN counts as wanted
                if not (lp[r * K + k] - top < RESP_UNDERFLOW):
                    S[k] = 1.0
        for k in range(K):
            if S[k] != 0.0:
                kx[nk] = k
                nk = nk + 1
    if nk == K:
        gmm_lanes_inverse(Lf, idg, m, K, Li, Ast + off * K, K)
        return
    if nk == 0:
        return
    for j in range(m * m):
        for t in range(nk):
            Lc[j * nk + t] = Lf[j * K + kx[t]]
    for j in range(m):
        for t in range(nk):
            idgc[j * nk + t] = idg[j * K + kx[t]]
    gmm_lanes_inverse(Lc, idgc, m, nk, Li, Ac, nk)
    for a in range(fs):
        for t in range(nk):
            Ast[(off + a) * K + kx[t]] = Ac[a * nk + t]
