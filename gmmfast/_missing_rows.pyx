"""Compiled row-by-row E-step for rows with missing features ('full' and 'tied').

The Python side is gmmfast/_missing.py (``rows_stats``, ``rows_outputs``); it groups
the rows of rare patterns by their number m of missing features and validates every
array before it reaches ``rows_pass``.

Per row x with missing columns M (m of them, x_M stored as 0) and per component k,
with the precision P_k = U_k U_k^T (U_k upper triangular, the precision factor the
kernels read) and delta = x - mu_k zeroed at M:

    y = delta U_k,   q = ||y||^2 = delta^T P_k delta,   b = (delta P_k)_M = U_k[M, :] y,
    A = P_k[M, M] = L L^T (Cholesky),   z = L^-1 b,   t = A^-1 b = L^-T z,

the marginal quadratic form of the observed block is q - b^T A^-1 b = q - ||z||^2
(the minimum of the full form over x_M, at x_M = mu_kM - t), and
log |Sigma_OO| = log |Sigma| + log |A|; so

    log pi_k N(x_O | k) = log pi_k + sum_j log U_k[j, j] - 0.5 (D - m) log 2 pi
                          - 0.5 q + 0.5 ||z||^2 - sum_j log L[j, j].

The conditional law of x_M given x_O under k is N(mu_kM - t, A^-1). The expanded
statistics about the means are then, with r the responsibilities, w the weights and
delta with -t in place of its missing entries,

    N_k += w r_k,   T1_k += w r_k delta,   T2_k += w r_k (delta delta^T + (0 (+) A^-1)).

Work split. Rows are cut into blocks of ``block`` rows (fixed by the caller, not by
the thread count). A block computes its rows with per-thread scratch allocated
inside the parallel region, in two sweeps. The first, per component: y, q and b for
the whole block, one row a lane (missing_rowsd.h; float32 data: missing_rows32.h and
b by columns; plain loops for few features). Then per row, for all components at
once (the component the innermost loop, so that the loops vectorise and the
components' chains of sqrt, division and dependent subtractions overlap): the
factors of A once per run of rows of one pattern, and with them A^-1 for the
statistics, kept packed (m (m + 1) / 2 values per run and component); the
log-probabilities; -t. The second sweep, per component, once the responsibilities
are known: each delta rebuilt from the row and -t, its statistics into the slot of
the block's run (the scatter by one BLAS product over the rows whose responsibility
is not 0, the rest in row order), and the kept A^-1 once per run of one pattern,
weighted by its sum of w r. A slot takes a run of consecutive blocks, in order, a
run's length fixed by the number of blocks alone (SLOTS_PER_PASS); the runs go in
rounds of at most a slot budget, and after each round the slots are added into the
total element by element, in run order. So every sum is
taken in the same order whatever the number of threads, and the results are
bit-identical on any thread count. BLAS must be held to one thread by the caller (a
BLAS call that splits its work may sum in another order) unless D <
BLAS_MIN_FEATURES.

The route per component is _missing_components.pxi, included below; the model's
constants and precisions as the pass reads them, _missing_params.pxi; the slots and
their sums into the total, _missing_slots.pxi. 'full'
mixtures near their mixture mean take another route through the same factors and
solves: moment rows about that mean, as the complete data's kernels do
(_missing_moments.pxi, included below). The factors, inverses and solves of both
are C (gmmfast/_kernels/csrc/missing_lanes.h, a build per instruction set, declared
in _missing_lanes.pxi), and so is the normalisation (the kernels' normalize.h).

float32 data ('full', from 16 features on, where the complete float32 rows take their
quadratic forms in float32 products), off the moment rows' route (which _missing.py
leaves from 32 features on, where this is faster), as the complete float32 rows:
- q from gmm_lanes32_q instead of gmm_lanes_qb, over the same transposed block: z =
  delta rounded to float32 (the centring in double), y = z U in float32 products, q
  summed in double;
- b in double, as the moment rows take it (_rows_b_columns): about the means' mean c,
  one GEMM per missing column over the rows missing it, and a run's row-free part;
- a component's scatter in float32 products about the block's rows' weighted mean
  (_scatter32: float32 sums over 32 rows, added in double, the shift back to the
  mean exact in double), where it holds at least FLOAT32_SCATTER_MIN_ROWS rows;
- the conditional covariances of all components at once, component last, into an
  array of the slot's own (_add_runs_cd) where most rows hold most components (a
  cost per block, _cd_pays: from the block's data alone).
The factors, solves and inverses stay in double.

Nothing here raises inside nogil code: allocation failure is reported per block and
raised as MemoryError afterwards. Non-finite inputs cannot make it read or write out
of bounds (only the indices in Mi can, and they are checked); they give NaN.
"""

from cython.parallel cimport parallel, prange
from libc.math cimport sqrt, log, isfinite, INFINITY
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memset, memcpy

from scipy.linalg.cython_blas cimport dgemm, dsyrk

from gmmfast._isa_cap import isa_cap

import numpy as np

cdef enum:
    STATUS_OK = 0
    STATUS_NO_MEMORY = 1

#: below this many features the products are plain loops (BLAS's calls cost more than
#: their arithmetic), and the caller need not hold BLAS to one thread
BLAS_MIN_FEATURES = 8
cdef Py_ssize_t C_BLAS_MIN_FEATURES = BLAS_MIN_FEATURES


include "_missing_lanes.pxi"

# GMMFAST_ISA caps the build chosen here, as every module's (_isa_cap.py)
gmm_missing_lanes_init(isa_cap())


def lanes_impl():
    """Which build of the lanes runs: 'avx512', 'avx2+fma', 'neon' or 'baseline'."""
    return gmm_isa_name().decode()


def lanes_builds():
    """The builds of the lanes compiled into this module, baseline first."""
    return tuple(gmm_isa_builds().decode().split(","))


cdef inline bint _same_missing(const Py_ssize_t* Mi, Py_ssize_t mmax,
                               const Py_ssize_t* nm, Py_ssize_t r, Py_ssize_t s) noexcept nogil:
    """Whether rows r and s miss the same columns."""
    cdef Py_ssize_t a
    if nm[r] != nm[s]:
        return False
    for a in range(nm[r]):
        if Mi[r * mmax + a] != Mi[s * mmax + a]:
            return False
    return True


cdef Py_ssize_t _run_layout(const Py_ssize_t* Mi, Py_ssize_t mmax,
                            const Py_ssize_t* nm, Py_ssize_t nb, Py_ssize_t* moff,
                            unsigned char* first, Py_ssize_t* off) noexcept nogil:
    """A block's bookkeeping: moff[r], where row r's missing entries start among the
    block's; first[r], whether row r starts a run of one pattern; off[r] for such a
    row, where its run's packed m x m inverses start. Returns their total doubles."""
    cdef Py_ssize_t r, ftot = 0, mtot = 0
    for r in range(nb):
        moff[r] = mtot
        mtot = mtot + nm[r]
        first[r] = r == 0 or not _same_missing(Mi, mmax, nm, r - 1, r)
        if first[r]:
            off[r] = ftot
            ftot = ftot + nm[r] * (nm[r] + 1) // 2
    return ftot


cdef void _normalize_rows(double* lp, Py_ssize_t nb, Py_ssize_t K, double* lse,
                          double* resp, Py_ssize_t* labels, double* scratch) noexcept nogil:
    """Per row: lse = log sum_k exp lp_k, lp := the responsibilities (the kernels'
    row-major normalisation, gmm_normalize_rows_d: the same operations as the complete
    rows' passes, with their vector exp and log), and the copies the caller asked for
    (resp, labels: NULL for none). scratch: nb (K + 2) doubles."""
    cdef Py_ssize_t r, k, best
    cdef double top
    if labels != NULL:
        for r in range(nb):
            best = 0
            top = lp[r * K]
            for k in range(1, K):
                if lp[r * K + k] > top:
                    top = lp[r * K + k]
                    best = k
            labels[r] = best
    gmm_normalize_rows_d(lp, nb, K, lse, scratch)
    if resp != NULL:
        memcpy(resp, lp, nb * K * sizeof(double))


cdef Py_ssize_t _run_factor_doubles(const Py_ssize_t* Mi, Py_ssize_t mmax,
                                    const Py_ssize_t* nm, Py_ssize_t nb) noexcept nogil:
    """The doubles of one component's packed factors of a block's runs (as
    _rows_block counts them)."""
    cdef Py_ssize_t r, f = 0
    for r in range(nb):
        if r == 0 or not _same_missing(Mi, mmax, nm, r - 1, r):
            f = f + nm[r] * (nm[r] + 1) // 2
    return f


cdef double LOG_2PI = log(2.0 * 3.141592653589793)


include "_missing_components.pxi"
include "_missing_moments.pxi"


include "_missing_params.pxi"


include "_missing_slots.pxi"


cdef struct _Pass:
    # what every block of a round reads (rows_pass fills it once a call)
    const double* X
    const Py_ssize_t* M
    const Py_ssize_t* nm
    const double* w
    const double* means
    const double* U
    const float* Uf
    const double* Pt
    const double* logc
    const double* shift
    const double* W
    const double* Mt
    double* lse
    double* resp
    Py_ssize_t* labels
    double* cmean
    const Py_ssize_t* choice
    double* draw
    double* slots
    int* status
    Py_ssize_t n, B, Bs, D, m, K, fmax, smax, SB, ncd, s_head, s_t2
    bint tied, moments, single


cdef void _pass_block(const _Pass* p, Py_ssize_t b, Py_ssize_t bb, bint fresh,
                      double* scratch) noexcept nogil:
    """Block b of the pass (bb: its slot in the round; fresh: the slot's first block,
    which zeroes it) with a thread's scratch."""
    cdef Py_ssize_t start, stop, sstop, m = p.m, K = p.K, D = p.D
    cdef double* slot = NULL
    if scratch == NULL:
        p.status[b] = STATUS_NO_MEMORY
        return
    start = b * p.B
    stop = min(start + p.B, p.n)
    if p.slots != NULL:
        slot = p.slots + bb * p.SB
        if not fresh:
            pass
        elif p.moments or p.tied:
            memset(slot, 0, p.SB * sizeof(double))
        else:
            memset(slot, 0, p.s_head * sizeof(double))
            memset(slot + p.s_head + p.s_t2, 0,
                   (p.SB - p.ncd - p.s_head - p.s_t2) * sizeof(double))
    if p.moments:
        # the block's sub-blocks in order, into its one slot
        while start < stop:
            sstop = min(start + p.Bs, stop)
            _rows_block_moments(
                p.X + start * D, p.M + start * m if m > 0 else NULL,
                p.nm + start, p.w + start if p.w != NULL else NULL,
                sstop - start, p.Bs, D, m, K, p.fmax, p.smax, p.shift,
                p.W, p.Mt, p.Mt + D * K, p.Pt, p.lse + start,
                p.resp + start * K if p.resp != NULL else NULL,
                p.labels + start if p.labels != NULL else NULL, slot, scratch)
            start = sstop
        return
    _rows_block(
        p.X + start * D, p.M + start * m if m > 0 else NULL,
        p.nm + start, p.w + start if p.w != NULL else NULL,
        stop - start, p.B, D, m, K, p.tied, p.fmax, p.smax, p.means, p.U, p.Uf, p.Pt,
        p.logc, p.Mt + 2 * D * K if p.single else NULL, p.Mt, p.Mt + D * K,
        p.lse + start, p.resp + start * K if p.resp != NULL else NULL,
        p.labels + start if p.labels != NULL else NULL,
        p.cmean + start * m if p.cmean != NULL else NULL,
        p.choice + start if p.draw != NULL else NULL,
        p.draw + start * m if p.draw != NULL else NULL, slot, scratch)


cdef void _pass_slot(const _Pass* p, Py_ssize_t s, Py_ssize_t bb, Py_ssize_t GS,
                     Py_ssize_t n_blocks, double* scratch) noexcept nogil:
    """Slot s's run of blocks (GS of them, fewer at the end) in order, into slot bb of
    the round."""
    cdef Py_ssize_t b
    for b in range(s * GS, min(s * GS + GS, n_blocks)):
        _pass_block(p, b, bb, b == s * GS, scratch)


def rows_pass(
    const double[:, ::1] X0,          # IN (n, D) rows, missing entries 0
    const Py_ssize_t[:, ::1] Mi,      # IN (n, mmax) missing columns: row i's first nm[i],
                                      # increasing; the rest is not read
    const Py_ssize_t[::1] nm,         # IN (n,) number of missing columns, each < D
    const double[::1] w,              # IN (n,) weights, or (0,) for none
    const double[:, ::1] means,       # IN (K, D)
    const double[:, :, ::1] U,        # IN (Kp, D, D) upper precision factors (Kp = 1: tied)
    const double[:, :, ::1] Pt,       # IN (D, D, K) precisions U U^T, component last
                                      # (row_constants; 'tied': the one repeated)
    const double[::1] logc,           # IN (K,) log pi_k + sum log diag U_k - 0.5 D log 2 pi
    const float[:, :, ::1] Uf,        # IN (Kp, D4, D4) U in float32, zero-padded, or
                                      # (0, 0, 0): see ``padded_factors32``
    const double[::1] shift,          # IN (D,) c of the moment rows ('full'), or (0,)
    const double[:, ::1] W,           # IN (K, D(D+1)/2 + D + 1) their weights or (0, 0)
    Py_ssize_t block,                 # rows per block (> 0)
    Py_ssize_t sub_block,             # moment rows: rows per sub-block (> 0, <= block)
    int n_threads,
    double[::1] out_lse,              # OUT (n,)
    double[:, ::1] out_resp,          # OUT (n, K) or (0, K)
    Py_ssize_t[::1] out_labels,       # OUT (n,) or (0,)
    double[::1] out_stats,            # OUT (K + K D + Kt D D + 2,) added into, or (0,)
    double[:, ::1] out_cmean=None,    # OUT (n, mmax) or None: row i's first nm[i]
                                      # entries E[x_M | x_O], the rest not written
    const Py_ssize_t[::1] draw_choice=None,  # IN (n,) a component of each row, or None
    double[:, ::1] draw=None,         # IN/OUT (n, mmax) with draw_choice: row i's first
                                      # nm[i] entries standard normal draws, replaced
                                      # by a draw of x_M | x_O, component draw_choice[i]
):
    """Marginal log-densities, responsibilities, labels and expanded statistics of rows
    with missing features (see the module doc). ``out_stats`` (if not empty)
    receives N, T1, T2 (symmetric), sum w lse and sum w, added to what it holds (its
    T2 symmetric before). Returns the number of rows whose log-density is not finite
    (zero density under every component).
    With ``shift`` and ``W`` not empty, through moment rows about the shift
    (_missing_moments.pxi; 'full' only, from BLAS_MIN_FEATURES features on). With
    ``Uf`` not empty (and no moment rows), the quadratic forms q and the scatter in
    float32 products, b in double about the means' mean (the module doc): for float32
    data, whose complete rows take theirs so. 'full' only. ``out_cmean`` (not with
    moment rows): the conditional means of the missing entries, sum_k r_k (mu_kM -
    t_k) with t_k = P_k[M, M]^-1 (P_k delta)_M, from the pass's own t. ``draw`` (not
    with moment rows): mu_kM - t_k + L_k^-T z for the given component k of each row,
    with L_k L_k^T = P_k[M, M] the pass's own factor: a draw of N(mu_kM - t_k,
    P_k[M, M]^-1), the component's conditional law, from z standard normal."""
    cdef Py_ssize_t n = X0.shape[0], D = X0.shape[1], m = Mi.shape[1]
    cdef Py_ssize_t K = means.shape[0], Kp = U.shape[0]
    cdef bint tied = Kp == 1 and K > 1
    cdef Py_ssize_t Kt = 1 if tied else K
    cdef bint want_stats = out_stats.shape[0] > 0
    cdef bint want_resp = out_resp.shape[0] > 0
    cdef bint want_labels = out_labels.shape[0] > 0
    cdef bint weighted = w.shape[0] > 0
    cdef bint moments = shift.shape[0] > 0
    cdef bint single = Uf.shape[0] > 0
    cdef bint want_cmean = out_cmean is not None and Mi.shape[1] > 0
    cdef bint want_draw = draw is not None and Mi.shape[1] > 0
    cdef Py_ssize_t D4 = (D + 3) // 4 * 4
    cdef Py_ssize_t Q1 = D * (D + 1) // 2 + D + 1
    cdef Py_ssize_t S = K + K * D + Kt * D * D + 2
    cdef Py_ssize_t i, a, j, c, b, bb, r0, nr, start, stop, sstop, B, n_blocks, G, nsc, f
    cdef Py_ssize_t GS, n_slots
    cdef Py_ssize_t fmax, smax
    cdef int nt
    if K < 1 or D < 1:
        raise ValueError("rows_pass needs at least one component and one feature")
    if Mi.shape[0] != n or nm.shape[0] != n:
        raise ValueError(f"rows_pass: Mi has {Mi.shape[0]} rows and nm {nm.shape[0]}; "
                         f"expected {n}")
    if weighted and w.shape[0] != n:
        raise ValueError(f"rows_pass: {w.shape[0]} weights for {n} rows")
    if means.shape[1] != D:
        raise ValueError(f"rows_pass: means have {means.shape[1]} features; X0 {D}")
    if not (Kp == K or Kp == 1) or U.shape[1] != D or U.shape[2] != D:
        raise ValueError(f"rows_pass: U has shape ({U.shape[0]}, {U.shape[1]}, {U.shape[2]}); expected "
                         f"({K} or 1, {D}, {D})")
    if Pt.shape[0] != D or Pt.shape[1] != D or Pt.shape[2] != K:
        raise ValueError(f"rows_pass: Pt has shape ({Pt.shape[0]}, {Pt.shape[1]}, "
                         f"{Pt.shape[2]}); expected ({D}, {D}, {K})")
    if logc.shape[0] != K:
        raise ValueError(f"rows_pass: logc has {logc.shape[0]} entries; expected {K}")
    if block <= 0 or sub_block <= 0 or sub_block > block:
        raise ValueError("rows_pass needs 0 < sub_block <= block")
    if moments and (tied or shift.shape[0] != D or W.shape[0] != K or W.shape[1] != Q1
                    or D < C_BLAS_MIN_FEATURES):
        raise ValueError(f"rows_pass: the moment rows need 'full' with at least "
                         f"{BLAS_MIN_FEATURES} features, a shift of {D} and weights "
                         f"({K}, {Q1}); got {shift.shape[0]} and ({W.shape[0]}, "
                         f"{W.shape[1]})")
    if single and (moments or tied or Uf.shape[0] != Kp or Uf.shape[1] != D4
                   or Uf.shape[2] != D4):
        raise ValueError(f"rows_pass: the float32 factors have shape ({Uf.shape[0]}, "
                         f"{Uf.shape[1]}, {Uf.shape[2]}); expected ({Kp}, {D4}, {D4}), "
                         f"'full', without moment rows")
    if out_cmean is not None and (moments or out_cmean.shape[0] != n
                                  or out_cmean.shape[1] != Mi.shape[1]):
        raise ValueError(f"rows_pass: out_cmean has shape ({out_cmean.shape[0]}, "
                         f"{out_cmean.shape[1]}); expected ({n}, {Mi.shape[1]}), "
                         f"without moment rows")
    if (draw is None) != (draw_choice is None) or draw is not None and (
            moments or draw.shape[0] != n or draw.shape[1] != Mi.shape[1]
            or draw_choice.shape[0] != n):
        raise ValueError(f"rows_pass: draw and draw_choice go together, ({n}, "
                         f"{Mi.shape[1]}) and ({n},), without moment rows")
    if draw_choice is not None:
        for i in range(n):
            if draw_choice[i] < 0 or draw_choice[i] >= K:
                raise ValueError(f"rows_pass: draw_choice[{i}] = {draw_choice[i]} is not "
                                 f"a component of {K}")
    if out_lse.shape[0] != n:
        raise ValueError(f"rows_pass: out_lse has {out_lse.shape[0]} rows; expected {n}")
    if out_resp.shape[1] != K or (want_resp and out_resp.shape[0] != n):
        raise ValueError(f"rows_pass: out_resp has shape ({out_resp.shape[0]}, {out_resp.shape[1]}); "
                         f"expected ({n}, {K}) or (0, {K})")
    if want_labels and out_labels.shape[0] != n:
        raise ValueError(f"rows_pass: out_labels has {out_labels.shape[0]} rows; "
                         f"expected {n} or 0")
    if want_stats and out_stats.shape[0] != S:
        raise ValueError(f"rows_pass: out_stats has {out_stats.shape[0]} entries; "
                         f"expected {S} or 0")
    if D >= 2**15 or block >= 2**31 // max(D, 1):
        raise ValueError("rows_pass: too many features or rows per block for BLAS")
    for i in range(n):
        if nm[i] < 0 or nm[i] > m or nm[i] >= D:
            raise ValueError(f"rows_pass: row {i} has {nm[i]} missing columns; at most "
                             f"{min(m, D - 1)}")
        for a in range(nm[i]):
            j = Mi[i, a]
            if j < 0 or j >= D or (a > 0 and j <= Mi[i, a - 1]):
                raise ValueError(
                    f"rows_pass: row {i} of Mi is not an increasing list of columns "
                    f"in [0, {D})")
    if n == 0:
        return 0
    n_threads = max(1, n_threads)
    B = min(block, n)
    n_blocks = (n + B - 1) // B
    # runs of GS consecutive blocks share a slot (SLOTS_PER_PASS); without
    # statistics there are no slots, and each block is a task of its own
    GS = (1 if not want_stats else SLOT_BLOCKS if SLOT_BLOCKS > 0
          else max(1, n_blocks // SLOTS_PER_PASS))
    n_slots = (n_blocks + GS - 1) // GS
    G = n_slots
    # a block's slot: the statistics as they leave, or the moment rows' own
    # (the other route's: the statistics, then K flags of the components whose T2
    # the block wrote; the others' are not zeroed, nor added into the total)
    # (float32 products: then a flag and the conditional covariances, (D (D + 1) / 2,
    # K), when the flag is 1)
    cdef Py_ssize_t ncd = D * (D + 1) // 2 * K if single else 0
    cdef Py_ssize_t SB = (_moments_slot_doubles(K, D) if moments
                          else S + K + (1 + ncd if single else 0))
    # the part of the other route's slot before the T2s, and the T2s' length
    cdef Py_ssize_t s_head = K + K * D, s_t2 = Kt * D * D
    if want_stats:
        G = min(n_slots, max(2 * n_threads, SLOT_BUDGET // SB))
        # rounds of whole multiples of the threads: 11 slots a round on 2 threads
        # leave one thread idle for a slot's time each round (a round ends at a
        # barrier); the rounds do not change the sums (_add_slots)
        if G < n_slots:
            G = G - G % n_threads
    # the moment rows take a block in sub-blocks (the unit of their scratch; the
    # block, of their statistics): the largest sub-block's factors and entries
    cdef Py_ssize_t Bs = min(sub_block, B) if moments else B
    fmax = 0
    smax = 0
    with nogil:
        for b in range((n + Bs - 1) // Bs):
            start = b * Bs
            stop = min(start + Bs, n)
            if moments and stop > start + B - (start % B):
                stop = start + B - (start % B)   # a sub-block never spans two blocks
            if want_stats:
                f = _run_factor_doubles(&Mi[0, 0] + start * m if m > 0 else NULL, m,
                                        &nm[0] + start, stop - start)
                if f > fmax:
                    fmax = f
            f = 0
            for i in range(start, stop):
                f = f + nm[i]
            if f > smax:
                smax = f
    nsc = (_moments_scratch_doubles(Bs, D, m, K, fmax, smax, want_stats) if moments
           else _scratch_doubles(B, D, m, K, fmax, smax, want_stats, single))
    cdef int* status = <int*> calloc(n_blocks, sizeof(int))
    if status == NULL:
        raise MemoryError("rows_pass: no memory for the blocks' status")
    cdef double* slots = NULL
    cdef double* accm = NULL
    if want_stats:
        slots = <double*> malloc(G * SB * sizeof(double))
        if moments or single:
            accm = <double*> calloc(SB if moments else ncd, sizeof(double))
        if slots == NULL or ((moments or single) and accm == NULL):
            free(slots)
            free(accm)
            free(status)
            raise MemoryError("rows_pass: no memory for the statistics of a round")
    cdef const double* Xp = &X0[0, 0]
    cdef const Py_ssize_t* Mp = &Mi[0, 0] if m > 0 else NULL
    cdef const Py_ssize_t* nmp = &nm[0]
    cdef const double* wp = &w[0] if weighted else NULL
    cdef const double* mp = &means[0, 0]
    # the factors with exact zeros below the diagonal, from BLAS_MIN_FEATURES
    # features on their rows padded with zeros to D4 (gmm_lanes_qb's tiles take four
    # columns at a time). (The precisions come component last, so that the factors of
    # a row's m x m blocks run over the components in the innermost loops.)
    # Copied in loops here: numpy's triu costs more than the copies on small data,
    # where the pass is run every iteration on a few hundred rows.
    cdef Py_ssize_t DU = D4 if D >= C_BLAS_MIN_FEATURES else D
    cdef double* Uzb = <double*> malloc(Kp * D * DU * sizeof(double))
    cdef const double* Ptb = &Pt[0, 0, 0]
    # the moment rows' m_k = mu_k - c and P_k m_k, component last, and with float32
    # products b's (c their shift: the means' mean)
    cdef double* Mtb = (<double*> malloc((2 * K + 1) * D * sizeof(double))
                        if moments or single else NULL)
    if Uzb == NULL or ((moments or single) and Mtb == NULL):
        free(Uzb)
        free(Mtb)
        free(slots)
        free(accm)
        free(status)
        raise MemoryError("rows_pass: no memory for the factors")
    with nogil:
        for c in range(Kp):
            for a in range(D):
                for b in range(DU):
                    if b >= a and b < D:
                        Uzb[(c * D + a) * DU + b] = U[c, a, b]
                    else:
                        Uzb[(c * D + a) * DU + b] = 0.0
        if moments:
            for a in range(D):
                for c in range(K):
                    Mtb[a * K + c] = means[c, a] - shift[a]
                    Mtb[D * K + a * K + c] = W[c, Q1 - D - 1 + a]
        elif single:
            _shift_terms(means, Ptb, D, K, Mtb + 2 * D * K, Mtb, Mtb + D * K)
    cdef _Pass ps
    ps.X = &X0[0, 0]
    ps.M = &Mi[0, 0] if m > 0 else NULL
    ps.nm = &nm[0]
    ps.w = &w[0] if weighted else NULL
    ps.means = &means[0, 0]
    ps.U = Uzb
    ps.Uf = &Uf[0, 0, 0] if single else NULL
    ps.Pt = Ptb
    ps.logc = &logc[0]
    ps.shift = &shift[0] if moments else NULL
    ps.W = &W[0, 0] if moments else NULL
    ps.Mt = Mtb
    ps.lse = &out_lse[0]
    ps.resp = &out_resp[0, 0] if want_resp else NULL
    ps.labels = &out_labels[0] if want_labels else NULL
    ps.cmean = &out_cmean[0, 0] if want_cmean else NULL
    ps.choice = &draw_choice[0] if want_draw else NULL
    ps.draw = &draw[0, 0] if want_draw else NULL
    ps.slots = slots
    ps.status = status
    ps.n, ps.B, ps.Bs, ps.D, ps.m, ps.K = n, B, Bs, D, m, K
    ps.fmax, ps.smax, ps.SB, ps.ncd, ps.s_head, ps.s_t2 = fmax, smax, SB, ncd, s_head, s_t2
    ps.tied, ps.moments, ps.single = tied, moments, single
    cdef double* accp = &out_stats[0] if want_stats else NULL
    cdef double* scratch
    cdef double* pscratch
    try:
        for r0 in range(0, n_slots, G):
            nr = min(G, n_slots - r0)
            # no more threads than slots: a thread with nothing to do still costs a
            # wake-up and a barrier, milliseconds on a loaded machine
            nt = <int> min(<Py_ssize_t> n_threads, nr)
            if nt == 1:
                # no parallel region: even with one thread its barriers make system
                # calls (futex), which small passes, run every iteration, would pay
                with nogil:
                    scratch = <double*> malloc(nsc * sizeof(double))
                    for bb in range(nr):
                        _pass_slot(&ps, r0 + bb, bb, GS, n_blocks, scratch)
                    free(scratch)
            else:
                with nogil, parallel(num_threads=nt):
                    pscratch = <double*> malloc(nsc * sizeof(double))
                    for bb in prange(nr, schedule='dynamic'):
                        _pass_slot(&ps, r0 + bb, bb, GS, n_blocks, pscratch)
                    free(pscratch)
            for b in range(r0 * GS, min((r0 + nr) * GS, n_blocks)):
                if status[b] != STATUS_OK:
                    raise MemoryError("rows_pass: no memory for a thread's scratch")
            if want_stats:
                with nogil:
                    _add_slots(slots, nr, SB, accm if moments else accp, moments, tied,
                               Kt, D, S, s_head, nt)
                    if single:
                        _add_slots(slots + S + K + 1, nr, SB, accm, True, False, Kt, D,
                                   ncd, 0, nt, ncd)
        if want_stats and moments:
            _moments_finish(accm, K, D, Mtb, accp)
        elif want_stats and single:
            with nogil:
                for c in range(K):
                    for i in range(D):
                        for j in range(i + 1):
                            accp[K + K * D + (c * D + i) * D + j] = (
                                accp[K + K * D + (c * D + i) * D + j]
                                + accm[(i * (i + 1) // 2 + j) * K + c])
    finally:
        free(status)
        free(slots)
        free(accm)
        free(Uzb)
        free(Mtb)
    if want_stats:
        for c in range(Kt):
            for i in range(D):
                for j in range(i + 1, D):
                    out_stats[K + K * D + c * D * D + i * D + j] = \
                        out_stats[K + K * D + c * D * D + j * D + i]
    cdef Py_ssize_t n_bad = 0
    for i in range(n):
        if not isfinite(out_lse[i]):
            n_bad = n_bad + 1
    return n_bad
