"""Compiled EM kernels of gmmfast: the E-step and every sum over samples.

Maths convention, stated once
-----------------------------
Component k has weight pi_k, mean mu_k and precision Cholesky factor U_k: upper
triangular, with U_k U_k^T = Sigma_k^{-1} (scikit-learn's ``precisions_cholesky_``).
Its log-density at a row x is

    log N(x | mu_k, Sigma_k) = -0.5 * (D log 2pi + ||(x - mu_k) U_k||^2) + sum log diag U_k

a triangular product: no inverse, no determinant. A route receives, per component, a
constant ``cst_k = log pi_k + sum log diag U_k - 0.5 D log 2pi`` (plus, for routes that
expand about a shift, the part of the quadratic form that depends only on the
parameters), so that the weighted log-probability is ``lp_ik = cst_k - 0.5 * q_ik``.

Routes
------
A covariance type is computed by one of six routes, one file each (route_*.pxi), each
exporting the same functions: its scratch size, the statistics of a block, the
log-probabilities of a block (and a chunk hook where it keeps an accumulator of its
own). The table ROUTES below holds them; the Python layer chooses the route
(_estep.choose_route) and builds its parameters once per model (Params).

Statistics, per chunk (double), with r_ik the responsibilities and w_i the sample
weights (1 when none are given), about the shifts the route uses:

    N[c, k]   = sum w_i r_ik
    S1[c, :]  = sum w_i r_ik (x_i - m_k)      (K x D; 'diag': unused, see S2)
    S2[c, :]  = 'full': sum w_i r_ik (x_i - m_k)(x_i - m_k)^T, lower triangle (K x D x D)
                'tied': sum w_i (x_i - c)(x_i - c)^T, lower triangle              (D x D)
                'diag': per k, sum w_i r_ik (x_i - c)**2 then sum w_i r_ik (x_i - c) (K x 2D)
                'spherical': sum w_i r_ik ||x_i - c||^2                           (K)
    L[c]      = sum w_i log sum_k exp(lp_ik)

with m_k = mu_k for 'full' about each mean and for few features, m_k = c (the mixture
mean, given by the caller) for 'full' through moment rows, 'tied', 'diag' and
'spherical'. Second moments are never taken about zero.

float32 data is read as it is; each route computes in float32 where that keeps float32's
accuracy and in double where float32 would lose it (expansions about a shared shift).
Every sum over samples is accumulated in double.

Threads and bits
----------------
Rows are cut into blocks of ``block_size``; consecutive blocks form ``n_chunks`` chunks
(the first axis of every statistics output). A chunk is processed by one thread from
its first block to its last, accumulating into its own slot, and the chunks are added in
chunk order afterwards (_reduce_chunks): the numbers do not depend on how many threads
run. Nothing in nogil code raises: workers return a status per chunk or block
(Status), which the def entry points return and Python turns into an error.
"""

from cython.parallel cimport parallel, prange
from libc.math cimport log, sqrt, isfinite, INFINITY, M_PI
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm, dtrmm, strmm, dsyrk
from scipy.linalg.cython_lapack cimport dpotrf, dtrtri

from gmmfast._isa_cap import isa_cap

import numpy as np
cimport numpy as cnp
cnp.import_array()

F64 = np.dtype(np.float64)
F32 = np.dtype(np.float32)

# GMMFAST_ISA caps the build chosen here, as every module's (_isa_cap.py)
gmm_kernels_init(isa_cap())

# Below this many features 'full' runs feature-major in C (route_full_small.pxi), and
# 'tied' multiplies by its factor with plain loops: a BLAS call would cost more than its
# work.
cdef Py_ssize_t SMALL_D = GMM_SMALL_D
SMALL_FEATURES = GMM_SMALL_D   # the same, for the Python layer

OK = STATUS_OK
NO_MEMORY = STATUS_NO_MEMORY
ZERO_DENSITY = STATUS_ZERO_DENSITY
NOT_FINITE = STATUS_NOT_FINITE

include "common.pxi"
include "route_full_small.pxi"
include "route_full_means.pxi"
include "route_full_moments.pxi"
include "route_diag.pxi"
include "route_spherical.pxi"
include "route_tied.pxi"


# ---------------------------------------------------------------------------------
# The route table: a route is one of the files included above and one entry here. Its
# number (ROUTE_*) is its place in the table; the Python layer chooses among them
# (_estep.choose_route).

cdef enum:
    MAX_ROUTES = 16
cdef Route ROUTES[MAX_ROUTES]
cdef int N_ROUTES_C = 0
_ROUTE_SLOTS = []   # per route: (K, D, dtype) -> {slot: (shape, dtype)} it reads


cdef int _register(CovType cov, scratch_fn scratch, stats_d_fn stats_d,
                   stats_f_fn stats_f, logprob_d_fn logprob_d, logprob_f_fn logprob_f,
                   slots, chunk_fn chunk_begin=NULL, chunk_fn chunk_end=NULL) except -1:
    global N_ROUTES_C
    cdef int r = N_ROUTES_C
    if r == MAX_ROUTES:
        raise RuntimeError("the kernel route table is full: raise MAX_ROUTES")
    ROUTES[r].cov = cov
    ROUTES[r].scratch = scratch
    ROUTES[r].stats_d = stats_d
    ROUTES[r].stats_f = stats_f
    ROUTES[r].logprob_d = logprob_d
    ROUTES[r].logprob_f = logprob_f
    ROUTES[r].chunk_begin = chunk_begin
    ROUTES[r].chunk_end = chunk_end
    _ROUTE_SLOTS.append(slots)
    N_ROUTES_C = r + 1
    return r


ROUTE_FULL_SMALL = _register(
    COV_FULL, _full_small_scratch, _full_small_stats[double], _full_small_stats[float],
    _full_small_logprob[double], _full_small_logprob[float], _full_small_slots)
ROUTE_FULL_MEANS = _register(
    COV_FULL, _full_means_scratch, _full_means_stats[double], _full_means_stats[float],
    _full_means_logprob[double], _full_means_logprob[float], _full_means_slots)
ROUTE_FULL_MOMENTS = _register(
    COV_FULL, _moments_scratch, _moments_stats[double], _moments_stats[float],
    _moments_logprob[double], _moments_logprob[float], _moments_slots,
    _moments_chunk_begin, _moments_chunk_end)
ROUTE_TIED = _register(
    COV_TIED, _tied_scratch, _tied_stats[double], _tied_stats[float],
    _tied_logprob[double], _tied_logprob[float], _tied_slots)
ROUTE_DIAG = _register(
    COV_DIAG, _diag_scratch, _diag_stats[double], _diag_stats[float],
    _diag_logprob[double], _diag_logprob[float], _diag_slots)
ROUTE_SPHERICAL = _register(
    COV_SPHERICAL, _spherical_scratch, _spherical_stats[double], _spherical_stats[float],
    _spherical_logprob[double], _spherical_logprob[float], _spherical_slots)
N_ROUTES = N_ROUTES_C


def stat_widths(int cov, Py_ssize_t K, Py_ssize_t D):
    """Per-chunk lengths of the S1 and S2 outputs for a covariance type (COV_*)."""
    cdef Py_ssize_t s1, s2
    if not 0 <= cov <= COV_SPHERICAL:
        raise ValueError(f"unknown covariance type code {cov}")
    _stat_widths(<CovType> cov, K, D, &s1, &s2)
    return s1, s2


cdef inline void _stat_widths(CovType cov, Py_ssize_t K, Py_ssize_t D, Py_ssize_t* s1,
                              Py_ssize_t* s2) noexcept nogil:
    if cov == COV_FULL:
        s1[0], s2[0] = K * D, K * D * D
    elif cov == COV_TIED:
        s1[0], s2[0] = K * D, D * D
    elif cov == COV_DIAG:
        s1[0], s2[0] = 1, 2 * K * D
    else:
        s1[0], s2[0] = K * D, K


cdef _check_route(int route):
    if not 0 <= route < N_ROUTES_C:
        raise ValueError(f"unknown kernel route {route}")


# The Model field each slot name fills (Params._set).
_SLOT_FIELDS = {name: i for i, name in enumerate((
    "cst", "means", "means64", "chol", "chol64", "shift", "coef"))}
# (route, K, D, dtype) -> ((field, name, shape, typenum), ...): a model is made every
# EM iteration, and for small problems its set-up is a visible part of the iteration
_SLOT_SPECS = {}


cdef tuple _slot_specs(int route, Py_ssize_t K, Py_ssize_t D, dtype):
    key = (route, K, D, dtype.num)
    specs = _SLOT_SPECS.get(key)
    if specs is None:
        specs = tuple((_SLOT_FIELDS[name], name, tuple(shape), np.dtype(want).num)
                      for name, (shape, want) in _ROUTE_SLOTS[route](K, D, dtype).items())
        _SLOT_SPECS[key] = specs
    return specs


cdef class Params:
    """A mixture's parameters as one route reads them (see the route's file).

    Params(route, dtype, n_components, n_features, **slots): every slot the route reads
    must be given, C-contiguous, native byte order, with the shape and dtype the
    route's ``*_slots`` names ('data' slots in ``dtype``, the others float64), and no
    other slot. The arrays are kept alive as long as the Params.
    """
    cdef Model model
    cdef readonly int route
    cdef readonly object dtype
    cdef readonly Py_ssize_t n_components, n_features
    cdef Py_ssize_t itemsize
    cdef tuple _arrays

    def __init__(self, int route, dtype, Py_ssize_t n_components, Py_ssize_t n_features,
                 *, cst=None, means=None, means64=None, chol=None, chol64=None,
                 shift=None, coef=None):
        cdef cnp.ndarray arr
        cdef int field, typenum, n_given = 0
        # in _SLOT_FIELDS' order
        given = (cst, means, means64, chol, chol64, shift, coef)
        _check_route(route)
        if not isinstance(dtype, np.dtype):
            dtype = np.dtype(dtype)
        if dtype.num != cnp.NPY_DOUBLE and dtype.num != cnp.NPY_FLOAT:
            raise ValueError(f"kernel parameters must be float32 or float64, not {dtype}")
        if n_components <= 0 or n_features <= 0:
            raise ValueError("kernel parameters need n_components and n_features > 0")
        self.route, self.dtype, self.itemsize = route, dtype, dtype.itemsize
        self.n_components, self.n_features = n_components, n_features
        memset(&self.model, 0, sizeof(Model))
        self.model.D, self.model.K = n_features, n_components
        specs = _slot_specs(route, n_components, n_features, dtype)
        for obj in given:
            n_given += obj is not None
        if n_given != len(specs):   # every slot a route reads is required
            read = {spec[1] for spec in specs}
            extra = [name for name, i in _SLOT_FIELDS.items()
                     if given[i] is not None and name not in read]
            if extra:
                raise ValueError(f"route {route} does not read {extra}")
        for field, name, shape, typenum in specs:
            obj = given[field]
            if (not cnp.PyArray_Check(obj) or cnp.PyArray_TYPE(obj) != typenum
                    or not cnp.PyArray_ISNOTSWAPPED(obj)
                    or not cnp.PyArray_IS_C_CONTIGUOUS(obj) or obj.shape != shape):
                got = (None if obj is None else
                       f"{getattr(obj, 'dtype', type(obj).__name__)} {np.shape(obj)}")
                raise ValueError(f"kernel route {route} needs {name} as a C-contiguous "
                                 f"{np.dtype(cnp.PyArray_TypeObjectFromType(typenum))} "
                                 f"array of shape {shape}, got {got}")
            arr = obj
            self._set(field, cnp.PyArray_DATA(arr))
        self._arrays = given

    cdef void _set(self, int field, const void* p) noexcept:
        if field == 0:
            self.model.cst = <const double*> p
        elif field == 1:
            self.model.means = p
        elif field == 2:
            self.model.means64 = <const double*> p
        elif field == 3:
            self.model.chol = p
        elif field == 4:
            self.model.chol64 = <const double*> p
        elif field == 5:
            self.model.shift = p
        else:
            self.model.coef = <const double*> p


# ---------------------------------------------------------------------------------
# The drivers: one pass over X, threads over chunks (statistics) or blocks (per row)

cdef Py_ssize_t _stats_chunk(
    const Route* route, const Model* m, const floating* X, const double* w,
    Py_ssize_t N, Py_ssize_t B, Py_ssize_t b0, Py_ssize_t b1,
    double* out_N, double* out_S1, double* out_S2, double* out_L, void* scratch,
) noexcept nogil:
    """Blocks b0 .. b1-1 into one chunk's sums (the chunk's rows of the outputs); the
    first bad row (global), or -1. (The Sums live here, on this thread's stack: a
    struct assigned field by field inside prange would be shared between threads.)"""
    cdef Py_ssize_t b, start, stop, bad
    cdef Sums sums
    cdef Sums* s = &sums
    sums.N, sums.S1, sums.S2, sums.L = out_N, out_S1, out_S2, out_L
    if route.chunk_begin != NULL:
        route.chunk_begin(m, s, scratch)
    for b in range(b0, b1):
        start = b * B
        stop = min(start + B, N)
        if floating is double:
            bad = route.stats_d(m, X + start * m.D, NULL if w == NULL else w + start,
                                stop - start, s, scratch)
        else:
            bad = route.stats_f(m, X + start * m.D, NULL if w == NULL else w + start,
                                stop - start, s, scratch)
        if bad >= 0:
            return start + bad
    if route.chunk_end != NULL:
        route.chunk_end(m, s, scratch)
    return -1


def block_stats(
    Params params,
    const floating[:, ::1] X,
    const double[::1] sample_weight,
    double[:, ::1] out_N,
    double[:, ::1] out_S1,
    double[:, ::1] out_S2,
    double[::1] out_L,
    Py_ssize_t block_size,
    int n_threads,
):
    """Sufficient statistics of X under ``params``, per chunk (see the module docstring).

    Parameters
    ----------
    params : Params of X's dtype. IN.
    X : (n_samples, D) float32 or float64, C-contiguous. IN.
    sample_weight : (n_samples,) float64 or None (all ones). IN.
    out_N : (n_chunks, K). OUT.
    out_S1, out_S2 : (n_chunks, stat_widths(cov, K, D)), cov the route's covariance type. OUT.
    out_L : (n_chunks,) sum of w_i * log-likelihood_i. OUT.
    block_size : rows per block.
    n_threads : threads to use (>= 1).

    Returns
    -------
    (status, chunk, row) : STATUS_OK, or the first failing chunk's status and the
        global index of the offending row (for STATUS_ZERO_DENSITY).

    On success, chunk 0 of every output holds the total over all chunks (added in
    chunk order), with S2 made symmetric for 'full' and 'tied'.
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], K = params.n_components
    cdef Py_ssize_t C = out_N.shape[0], B = block_size
    cdef Py_ssize_t n_blocks = (N + B - 1) // B if B > 0 else 0
    cdef Py_ssize_t per_chunk = (n_blocks + C - 1) // C if C > 0 else 0
    cdef Py_ssize_t s1_size = out_S1.shape[1], s2_size = out_S2.shape[1]
    cdef const double* w = NULL
    cdef Py_ssize_t c, bad
    _check_data(params, X.shape[1], sizeof(floating))
    if sample_weight is not None:
        if sample_weight.shape[0] != N:
            raise ValueError("sample_weight and X have different lengths")
        w = &sample_weight[0]
    if N == 0 or B <= 0 or C <= 0:
        raise ValueError("block_stats needs N, block_size and n_chunks > 0")
    if (out_N.shape[1] != K or out_L.shape[0] != C or out_S1.shape[0] != C
            or out_S2.shape[0] != C):
        raise ValueError("block_stats: output shapes do not match")
    cdef const Route* route = &ROUTES[params.route]
    # the widths the route writes (per chunk); anything else would overrun
    cdef Py_ssize_t s1_need, s2_need
    _stat_widths(route.cov, K, D, &s1_need, &s2_need)
    if s1_size != s1_need or s2_size != s2_need:
        raise ValueError(
            f"block_stats: out_S1/out_S2 have {s1_size}/{s2_size} columns; covariance "
            f"type {route.cov} with K={K}, D={D} needs {s1_need}/{s2_need}")
    cdef int[::1] status = np.zeros(C, dtype=np.intc)
    cdef Py_ssize_t[::1] bad_rows = np.zeros(C, dtype=np.intp)
    cdef const Model* m = &params.model
    cdef Py_ssize_t nbytes = route.scratch(B, D, K, sizeof(floating))
    cdef void* scratch

    with nogil, parallel(num_threads=n_threads):
        scratch = malloc(nbytes)
        # dynamic: a thread slowed by the machine's other work takes fewer chunks (each
        # chunk has its own accumulators, so which thread runs it changes no result)
        for c in prange(C, schedule='dynamic'):
            memset(&out_N[c, 0], 0, K * sizeof(double))
            memset(&out_S1[c, 0], 0, s1_size * sizeof(double))
            memset(&out_S2[c, 0], 0, s2_size * sizeof(double))
            out_L[c] = 0.0
            if scratch == NULL:
                status[c] = STATUS_NO_MEMORY
                continue
            bad = _stats_chunk(route, m, &X[0, 0], w, N, B, c * per_chunk,
                               min((c + 1) * per_chunk, n_blocks), &out_N[c, 0],
                               &out_S1[c, 0], &out_S2[c, 0], &out_L[c], scratch)
            if bad >= 0:
                status[c] = STATUS_ZERO_DENSITY
                bad_rows[c] = bad
        free(scratch)

    for c in range(C):
        if status[c] != STATUS_OK:
            return status[c], c, bad_rows[c]
    _reduce_chunks(route.cov, D, K, out_N, out_S1, out_S2, out_L, n_threads)
    return STATUS_OK, -1, -1


cdef void _reduce_chunks(CovType cov, Py_ssize_t D, Py_ssize_t K, double[:, ::1] N,
                         double[:, ::1] S1, double[:, ::1] S2, double[::1] L,
                         int n_threads) noexcept:
    """Add every chunk's statistics into chunk 0, in chunk order; mirror S2's lower
    triangles ('full', 'tied') into the upper ones. S2 (K D D per chunk for 'full') is
    summed over threads in slices of 4096 entries: each entry is still the sum of its
    chunks in chunk order, so the result does not depend on the thread count."""
    cdef Py_ssize_t C = N.shape[0], c, j, k, a, b, sl, j0, j1
    cdef Py_ssize_t width = S2.shape[1], n_slices = (S2.shape[1] + 4095) // 4096
    cdef double* S
    with nogil:
        for c in range(1, C):
            for j in range(N.shape[1]):
                N[0, j] += N[c, j]
            for j in range(S1.shape[1]):
                S1[0, j] += S1[c, j]
            L[0] += L[c]
        if C > 1:
            for sl in prange(n_slices, schedule='static', num_threads=max(1, n_threads)):
                j0 = sl * 4096
                j1 = min(j0 + 4096, width)
                for c in range(1, C):
                    for j in range(j0, j1):
                        S2[0, j] += S2[c, j]
        if cov == COV_FULL or cov == COV_TIED:   # lower triangles written
            for k in range(1 if cov == COV_TIED else K):
                S = &S2[0, k * D * D]
                for a in range(D):
                    for b in range(a + 1, D):
                        S[a * D + b] = S[b * D + a]


def block_logprob(
    Params params,
    const floating[:, ::1] X,
    double[::1] out_lse,
    floating[:, ::1] out_resp,
    cnp.intp_t[::1] out_labels,
    Py_ssize_t block_size,
    int n_threads,
    bint check_finite=False,
):
    """Per-row outputs under ``params``: log-likelihood, responsibilities, label.

    Each output may be an empty array (shape 0) when not wanted. check_finite: X has
    not been checked for NaN and infinity; each block is checked as it is read (in
    cache, where a separate pass would read X from memory once more).

    out_lse : (n_samples,) log sum_k pi_k N(x_i | k). OUT.
    out_resp : (n_samples, K) responsibilities. OUT.
    out_labels : (n_samples,) argmax_k of the weighted log-probability. OUT.

    Returns
    -------
    (status, row) : STATUS_OK and -1, or STATUS_ZERO_DENSITY and the first bad row
        (STATUS_ZERO_DENSITY is returned only when out_lse or out_resp is wanted), or
        STATUS_NOT_FINITE and the first row of a block that holds NaN or infinity (the
        caller's own check then names the rows).
    """
    cdef Py_ssize_t N = X.shape[0], D = X.shape[1], K = params.n_components
    cdef Py_ssize_t B = block_size
    cdef Py_ssize_t n_blocks = (N + B - 1) // B if B > 0 else 0
    cdef bint want_lse = out_lse.shape[0] > 0
    cdef bint want_resp = out_resp.shape[0] > 0
    cdef bint want_labels = out_labels.shape[0] > 0
    cdef Py_ssize_t b, start, stop, n, bad
    cdef void* scratch
    cdef double* lpt
    cdef double* lse
    _check_data(params, X.shape[1], sizeof(floating))
    if N == 0:
        return STATUS_OK, -1
    if B <= 0:
        raise ValueError("block_logprob needs block_size > 0")
    if ((want_lse and out_lse.shape[0] != N)
            or (want_resp and (out_resp.shape[0] != N or out_resp.shape[1] != K))
            or (want_labels and out_labels.shape[0] != N)):
        raise ValueError("block_logprob: output shapes do not match")
    cdef const Route* route = &ROUTES[params.route]
    cdef const Model* m = &params.model
    cdef Py_ssize_t nbytes = route.scratch(B, D, K, sizeof(floating))
    cdef int[::1] status = np.zeros(n_blocks, dtype=np.intc)
    cdef Py_ssize_t[::1] bad_rows = np.zeros(n_blocks, dtype=np.intp)

    with nogil, parallel(num_threads=n_threads):
        scratch = malloc(nbytes)
        # lpt, then 3 B of scratch (the normalisation's 2 B, and lse when not wanted)
        lpt = <double*> malloc((B * K + 3 * B) * sizeof(double))
        for b in prange(n_blocks, schedule='dynamic'):   # rows are independent
            if scratch == NULL or lpt == NULL:
                status[b] = STATUS_NO_MEMORY
                continue
            start = b * B
            stop = min(start + B, N)
            n = stop - start
            if check_finite:
                if floating is double:
                    bad = gmm_any_not_finite_d(&X[start, 0], n * D)
                else:
                    bad = gmm_any_not_finite_f(&X[start, 0], n * D)
                if bad:
                    status[b] = STATUS_NOT_FINITE
                    bad_rows[b] = start
                    continue
            if floating is double:
                route.logprob_d(m, &X[start, 0], n, lpt, scratch)
            else:
                route.logprob_f(m, &X[start, 0], n, lpt, scratch)
            # lpt (K x n, component-major): the outputs vectorised over the rows
            # (csrc/normalize.h), the labels first (the responsibilities overwrite lpt)
            if want_labels:
                gmm_cols_argmax(lpt, n, K, lpt + B * K,
                                <Py_ssize_t*> &out_labels[start])
            if want_lse or want_resp:
                # lse straight into out_lse when it is wanted
                lse = &out_lse[start] if want_lse else lpt + B * K + 2 * n
                if not want_resp:
                    gmm_cols_lse_d(lpt, n, K, lse, lpt + B * K)
                elif floating is double:
                    gmm_cols_resp_d(lpt, n, K, lse, lpt + B * K, &out_resp[start, 0])
                else:
                    gmm_cols_resp_f(lpt, n, K, lse, lpt + B * K, &out_resp[start, 0])
                bad = _first_not_finite(lse, n)
                if bad >= 0:
                    status[b] = STATUS_ZERO_DENSITY
                    bad_rows[b] = start + bad
                    continue
        free(scratch)
        free(lpt)

    for b in range(n_blocks):
        if status[b] != STATUS_OK:
            return status[b], bad_rows[b]
    return STATUS_OK, -1


#: entries a thread checks at a time in any_not_finite (a fixed split: the answer
#: does not depend on it anyway)
cdef Py_ssize_t FINITE_CHUNK = 1 << 16


def any_not_finite(const floating[:, ::1] X, int n_threads):
    """Whether X (C-contiguous) holds NaN or infinity: compiled and vectorised
    (csrc/vmath.h), its entries in chunks over n_threads threads."""
    cdef Py_ssize_t n = X.shape[0] * X.shape[1], c, found = 0
    cdef Py_ssize_t n_chunks = (n + FINITE_CHUNK - 1) // FINITE_CHUNK
    cdef const floating* x
    if n == 0:
        return False
    x = &X[0, 0]
    with nogil:
        for c in prange(n_chunks, schedule='static', num_threads=max(1, n_threads)):
            if floating is double:
                found += gmm_any_not_finite_d(x + c * FINITE_CHUNK,
                                              min(FINITE_CHUNK, n - c * FINITE_CHUNK))
            else:
                found += gmm_any_not_finite_f(x + c * FINITE_CHUNK,
                                              min(FINITE_CHUNK, n - c * FINITE_CHUNK))
    return found > 0


cdef Py_ssize_t _first_not_finite(const double* a, Py_ssize_t n) noexcept nogil:
    """The first i with a[i] not finite, or -1."""
    cdef Py_ssize_t i
    for i in range(n):
        if not isfinite(a[i]):
            return i
    return -1


cdef _check_data(Params params, Py_ssize_t D, Py_ssize_t itemsize):
    if params is None:
        raise ValueError("kernel parameters (Params) are required")
    if D != params.n_features:
        raise ValueError(f"X has {D} features; the kernel parameters {params.n_features}")
    if itemsize != params.itemsize:
        raise ValueError(f"X is float{8 * itemsize}; the kernel parameters "
                         f"{params.dtype}")


# ---------------------------------------------------------------------------------
# Small utilities

def openmp_enabled():
    """Whether the kernels were compiled with OpenMP."""
    return bool(GMMFAST_HAVE_OPENMP)


def openmp_max_threads():
    """omp_get_max_threads(): honours OMP_NUM_THREADS and threadpoolctl limits."""
    return omp_get_max_threads()


def vmath_impl():
    """Which build of the kernels runs: 'avx512', 'avx2+fma', 'neon' or 'baseline'."""
    return gmm_isa_name().decode()


def isa_builds():
    """The builds of the kernels compiled into this module, baseline first (a tuple of
    the names :func:`vmath_impl` returns)."""
    return tuple(gmm_isa_builds().decode().split(","))


def vexp(double[::1] x):
    """x := exp(x) in place with the kernels' vector exp (domain x <= 0). For tests."""
    gmm_exp_d(&x[0], x.shape[0])


def vlog(double[::1] x):
    """x := log(x) in place with the kernels' vector log (domain x >= 1). For tests."""
    gmm_log_d(&x[0], x.shape[0])


def vexp32(float[::1] x):
    """float32 :func:`vexp`."""
    gmm_exp_f(&x[0], x.shape[0])


def vlog32(float[::1] x):
    """float32 :func:`vlog`."""
    gmm_log_f(&x[0], x.shape[0])


include "mstep.pxi"
include "variational.pxi"
