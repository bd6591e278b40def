"""Parameters -> kernel arguments; the kernels run over X; results -> SuffStats.

This is the only module that calls the compiled statistics and log-probability
kernels (gmmfast._kernels). It chooses the kernel route for a model (choose_route) and
builds its parameters once (KernelModel); the estimator above it knows only SuffStats
and numpy arrays. docs/architecture.md describes the layers and the kernel contract.
"""

import math

import numpy as np

from . import _kernels, _mstep, _validation
from ._mstep import SuffStats

COV_CODES = {
    "full": _kernels.COV_FULL,
    "tied": _kernels.COV_TIED,
    "diag": _kernels.COV_DIAG,
    "spherical": _kernels.COV_SPHERICAL,
}

#: Rows per block: the unit of work of a thread, and the size of the scratch buffers.
BLOCK_SIZE = 256
#: Rows per block from WIDE_FEATURES features on: a block's moment rows ('full', D(D+1)/2
#: products a row) then stay within a thread's share of the cache. A divisor of
#: BLOCK_SIZE, so pieces of whole BLOCK_SIZE blocks are whole blocks too.
WIDE_BLOCK_SIZE = 128
WIDE_FEATURES = 32
#: At most this many chunks (independent accumulators) per pass; threads beyond this
#: number would idle. Fixed, so that results do not depend on the thread count.
MAX_CHUNKS = 64
#: Chunk accumulators are capped at this many bytes in all.
CHUNK_BYTES = 32 * 2**20

#: Below this much work per pass (about N * K * (D + 2) multiply-adds, i.e. some tens of
#: microseconds), one thread: waking a second one costs more than it saves.
MIN_WORK_PER_THREAD = 2**18

_LOG_2PI = math.log(2 * math.pi)

#: 'full' with D >= SMALL_FEATURES runs through moment rows about the mixture mean c
#: (two GEMMs for all components, ROUTE_FULL_MOMENTS) while every component's squared
#: Mahalanobis distance to c, ||(mu_k - c) U_k||^2, is at most this: the expansion
#: about c then costs at most about this many units of rounding (relative) in the
#: log-densities and covariances. Beyond it (tight components far apart, e.g. digits:
#: ~1e7), each component's products are taken about its own mean (ROUTE_FULL_MEANS).
MOMENTS_MAX_SPREAD = 256.0

#: float32 'full' data with at least this many features always run about each mean, in
#: float32 products, whatever the spread: from here on that is faster than the moment
#: rows, which float32 data runs in double (the crossover is measured in
#: bench/RESULTS.md).
FULL32_MIN_FEATURES = 16


def choose_route(covariance_type, n_features, dtype, spread=None):
    """The kernel route (_kernels.ROUTE_*) for a model: the one table of the choice.

    spread: for 'full' with n_features >= SMALL_FEATURES, the largest squared
    Mahalanobis distance ||(mu_k - c) U_k||^2 of a component to the mixture mean c
    (None: not near, or not computed).

    ==========  =========================================  ==========================
    type        when                                       route
    ==========  =========================================  ==========================
    full        D < SMALL_FEATURES                         ROUTE_FULL_SMALL
    full        float32 and D >= FULL32_MIN_FEATURES       ROUTE_FULL_MEANS
    full        spread <= MOMENTS_MAX_SPREAD               ROUTE_FULL_MOMENTS
    full        otherwise                                  ROUTE_FULL_MEANS
    tied        always                                     ROUTE_TIED
    diag        always                                     ROUTE_DIAG
    spherical   always                                     ROUTE_SPHERICAL
    ==========  =========================================  ==========================
    """
    if covariance_type != "full":
        return {"tied": _kernels.ROUTE_TIED, "diag": _kernels.ROUTE_DIAG,
                "spherical": _kernels.ROUTE_SPHERICAL}[covariance_type]
    if n_features < _kernels.SMALL_FEATURES:
        return _kernels.ROUTE_FULL_SMALL
    if _moments_worth_trying(n_features, dtype) and spread is not None \
            and spread <= MOMENTS_MAX_SPREAD:
        return _kernels.ROUTE_FULL_MOMENTS
    return _kernels.ROUTE_FULL_MEANS


def _moments_worth_trying(n_features, dtype):
    """Whether the moment rows are a candidate at all (before computing the spread)."""
    return n_features >= _kernels.SMALL_FEATURES and not (
        np.dtype(dtype) == np.float32 and n_features >= FULL32_MIN_FEATURES)


def block_size(n_rows, n_components=1, n_features=1):
    """Rows per block for a pass over ``n_rows`` rows.

    BLOCK_SIZE (WIDE_BLOCK_SIZE from WIDE_FEATURES on), except for passes of fewer than
    MAX_CHUNKS blocks of BLOCK_SIZE with enough work to share between threads: those
    get a multiple of 8 blocks of equal size (one chunk each), so that 2, 4 or 8
    threads get equal shares. It depends on the problem's size only, never on the
    thread count.
    """
    n_blocks = -(-n_rows // BLOCK_SIZE)
    work = n_rows * n_components * (n_features + 2)
    if n_blocks >= MAX_CHUNKS:
        return WIDE_BLOCK_SIZE if n_features >= WIDE_FEATURES else BLOCK_SIZE
    if work < 2 * MIN_WORK_PER_THREAD:
        return BLOCK_SIZE
    n_blocks = -(-n_blocks // 8) * 8
    return max(1, -(-n_rows // n_blocks))


def pass_is_threaded(n_rows, n_components, n_features):
    """Whether a pass of this size shares its work between threads when it has more
    than one (by its size alone, never by the thread count)."""
    return _threads_for(2, n_rows, n_components, n_features) > 1


def _threads_for(n_threads, n_rows, n_components, n_features):
    """The threads worth using on this pass (results do not depend on it)."""
    work = n_rows * n_components * (n_features + 2)
    n_blocks = -(-n_rows // block_size(n_rows, n_components, n_features))
    return max(1, min(n_threads, work // MIN_WORK_PER_THREAD, n_blocks))


class KernelModel:
    """A fitted or current mixture, in the form its kernel route reads it.

    Parameters
    ----------
    covariance_type : str
    weights : (K,) array
    means : (K, D) array
    precisions_cholesky : array of the covariance type's shape
    dtype : np.float32 or np.float64
        The data's dtype: parameter arrays are cast to it, constants stay float64.
    log_weights : (K,) array or None
        Stands in for log(weights) in the per-component constants when given: the
        variational E-step's E[log pi_k] plus its terms that do not depend on x
        (BayesianGaussianMixture), too negative to pass as weights (exp underflows
        below -745). ``weights`` then only places the shift c (the mixture mean).
    n_threads : int
        Threads for building the moment rows' weights of a large model (the same
        result on any number).

    Attributes
    ----------
    route : the kernel route (choose_route).
    params : _kernels.Params, the route's parameter arrays.
    shift : the shift the statistics are taken about: (D,) the mixture mean c, or for
        the 'full' routes about each mean, None (the means).
    moment_weights : (K, D(D+1)/2 + D + 1) float64, the moment rows' weights W, or None
        on the other routes (SuffStats.moment_weights).
    """

    def __init__(self, covariance_type, weights, means, precisions_cholesky, dtype,
                 log_weights=None, n_threads=1):
        self.covariance_type = covariance_type
        self.log_weights = log_weights
        self.n_threads = n_threads
        self.dtype = dtype = np.dtype(dtype)
        weights = np.asarray(weights, dtype=np.float64)
        means = np.asarray(means, dtype=np.float64)
        U = np.asarray(precisions_cholesky, dtype=np.float64)
        K, D = means.shape
        self.means = means
        self.n_components, self.n_features = K, D
        self.moment_weights = None   # set by the moment rows route
        if covariance_type == "full":
            self.params = self._full(weights, means, U)
        else:
            self.params = self._shared_shift(covariance_type, weights, means, U)

    def _full(self, weights, means, U):
        """The 'full' routes (compiled constants: seed2d spends most of an iteration
        in Python, and a model is made every iteration)."""
        K, D = means.shape
        U = np.ascontiguousarray(U)
        log_weights = None if self.log_weights is None else \
            np.ascontiguousarray(self.log_weights, dtype=np.float64)
        shift, cst = _kernels.full_constants(
            np.ascontiguousarray(weights), np.ascontiguousarray(means), U, log_weights)
        spread = None
        if _moments_worth_trying(D, self.dtype):
            c = self._as_kernel_sees(shift)
            # m^T P m = ||U^T m||^2; means may be any layout (a column selection)
            V, spreads = _kernels.full_spreads(U, np.ascontiguousarray(means - c))
            spread = spreads.max() if spreads.max() <= MOMENTS_MAX_SPREAD else None
        self.route = choose_route("full", D, self.dtype, spread)
        if self.route == _kernels.ROUTE_FULL_MOMENTS:
            self.shift = c
            return self._moments_params(means, U, V, spreads, cst)
        self.shift = None
        data_means = np.ascontiguousarray(means, dtype=self.dtype)
        data_chol = np.ascontiguousarray(U, dtype=self.dtype)
        means64 = np.ascontiguousarray(means)
        if self.route == _kernels.ROUTE_FULL_SMALL:
            # the statistics in double about the means in double; the factors as the
            # log-densities read them (rounded to the data's dtype)
            return _kernels.Params(self.route, self.dtype, K, D, cst=cst, means=data_means,
                                   chol=data_chol, means64=means64,
                                   chol64=np.asarray(data_chol, dtype=np.float64))
        if self.dtype == np.float32:
            # the statistics' shifts in double: about the float32 means, every new
            # mean would be off by their rounding (~5e-4 at an offset of 1e4)
            data_chol = _kernels.padded_factors(data_chol)
        return _kernels.Params(self.route, self.dtype, K, D, cst=cst, means=data_means,
                               chol=data_chol, means64=means64)

    def _moments_params(self, means, U, V, spreads, cst):
        """The GEMM weights W (K, Q+1), float64 for either dtype, of the moment rows
        [z_a z_b (a >= b), z_a, 1], z = x - c (route_full_moments.pxi), with c rounded
        to the data's dtype as the kernel's rows see it (so the statistics' shift is
        that c too); V_k = U_k^T (mu_k - c) and the spreads from full_spreads."""
        K, D = means.shape
        # K products U_k U_k^T: threads as for the factorisations that made U_k
        threads = _mstep.factor_threads(self.n_threads, K, D)
        W = _kernels.moment_weights(U, V, cst, spreads, threads)
        self.moment_weights = W
        return _kernels.Params(self.route, self.dtype, K, D, coef=W,
                               shift=np.ascontiguousarray(self.shift, dtype=self.dtype))

    def _shared_shift(self, covariance_type, weights, means, U):
        """'tied', 'diag', 'spherical': moments about the mixture mean c."""
        K, D = means.shape
        self.route = choose_route(covariance_type, D, self.dtype)
        if self.log_weights is not None:
            log_w = np.asarray(self.log_weights, dtype=np.float64)
        elif weights.min() > 0:
            log_w = np.log(weights)
        else:  # an empty component: log 0 = -inf, never chosen
            with np.errstate(divide="ignore"):
                log_w = np.log(weights)
        base = log_w - 0.5 * D * _LOG_2PI
        self.shift = self._as_kernel_sees(weights @ means)
        shift = np.ascontiguousarray(self.shift, dtype=self.dtype)
        Mc = means - self.shift
        if covariance_type == "tied":
            chol = np.ascontiguousarray(U[None], dtype=self.dtype)
            # the whitened means through the factor as the kernel's rows see it
            V = Mc @ chol[0].astype(np.float64)
            cst = base + np.log(np.diag(U)).sum() - 0.5 * (V * V).sum(axis=1)
            # the weights of the feature rows [y, ||y||^2], y = (x - c) U, and the
            # constants
            Wt = np.zeros(_kernels.tied_weights_shape(D, K))
            Wt[:D, :K] = V.T
            Wt[D, :K] = -0.5
            Wt[D + 1, :K] = cst
            return _kernels.Params(self.route, self.dtype, K, D, shift=shift, chol=chol,
                                   coef=Wt)
        if covariance_type == "diag":
            P = U * U
            cst = base + np.log(U).sum(axis=1) - 0.5 * (P * Mc * Mc).sum(axis=1)
            # the weights of the feature rows [(x - c)^2, x - c] and the constants
            Wt = np.zeros(_kernels.diag_weights_shape(D, K))
            Wt[:D, :K] = -0.5 * P.T
            Wt[D:2 * D, :K] = (P * Mc).T
            Wt[2 * D, :K] = cst
            return _kernels.Params(self.route, self.dtype, K, D, shift=shift, coef=Wt)
        prec = U * U
        cst = base + D * np.log(U) - 0.5 * prec * (Mc * Mc).sum(axis=1)
        # the weights of the feature rows [x - c, ||x - c||^2] and the constants
        Wt = np.zeros(_kernels.spherical_weights_shape(D, K))
        Wt[:D, :K] = (prec[:, None] * Mc).T
        Wt[D, :K] = -0.5 * prec
        Wt[D + 1, :K] = cst
        return _kernels.Params(self.route, self.dtype, K, D, shift=shift, coef=Wt)

    def _as_kernel_sees(self, shift):
        """The global shift c rounded to the data's dtype, as the kernels read it: the
        constants, the weights and the statistics' shift then expand about the very
        point the rows x - c do. In double, float32 data would move every mean by
        c - float32(c)."""
        return shift.astype(self.dtype).astype(np.float64)


class StatsWorkspace:
    """Chunk accumulators for one fit: allocated once, reused every iteration.

    The number of chunks depends only on n_samples, K, D and the covariance type,
    never on the thread count, so statistics are bit-for-bit reproducible.
    """

    def __init__(self, n_samples, n_components, n_features, covariance_type):
        K, D = n_components, n_features
        s1, s2 = _kernels.stat_widths(COV_CODES[covariance_type], K, D)
        self.n_samples = n_samples
        self.block_size = block_size(n_samples, K, D)
        n_blocks = max(1, -(-n_samples // self.block_size))
        self._threads = {}   # n_threads asked -> threads worth using on this data
        per_chunk = 8 * (K + s1 + s2 + 1)
        n_chunks = max(1, min(MAX_CHUNKS, n_blocks, CHUNK_BYTES // per_chunk))
        self.covariance_type = covariance_type
        self.N = np.zeros((n_chunks, K))
        self.S1 = np.zeros((n_chunks, s1))
        self.S2 = np.zeros((n_chunks, s2))
        self.L = np.zeros(n_chunks)

    @property
    def n_chunks(self):
        return self.L.shape[0]

    def threads(self, n_threads, n_components, n_features):
        """_threads_for, remembered: the same for every pass of a fit."""
        t = self._threads.get(n_threads)
        if t is None:
            t = min(_threads_for(n_threads, self.n_samples, n_components, n_features),
                    self.n_chunks)
            self._threads[n_threads] = t
        return t


def _zero_density_error(row, name="X"):
    return ValueError(
        f"Row {row} of {name} has zero probability under every component (its "
        "log-likelihood is -inf or NaN), so it cannot be assigned. Check that row for "
        "extreme values, scale the features, or increase reg_covar."
    )


def _raise_status(status, row):
    if status == _kernels.NO_MEMORY:
        raise MemoryError("gmmfast kernels could not allocate their scratch buffers")
    if status == _kernels.ZERO_DENSITY:
        raise _zero_density_error(row)
    raise RuntimeError(f"gmmfast kernel returned unknown status {status}")


def suff_stats(X, sample_weight, model, n_threads, workspace=None):
    """One pass over X: the sufficient statistics under ``model``.

    Parameters
    ----------
    X : (n, D) C-contiguous float32/float64 array, already validated.
    sample_weight : (n,) float64 or None.
    model : KernelModel, of X's dtype.
    n_threads : int
    workspace : StatsWorkspace or None (allocated here when None).

    Returns
    -------
    SuffStats
    """
    cov = model.covariance_type
    K, D = model.n_components, model.n_features
    if workspace is None:
        workspace = StatsWorkspace(X.shape[0], K, D, cov)
    ws = workspace
    if ws.n_samples != X.shape[0]:
        raise ValueError("suff_stats: the workspace was made for another number of rows")
    status, _, row = _kernels.block_stats(
        model.params, X, sample_weight,
        ws.N, ws.S1, ws.S2, ws.L, ws.block_size, ws.threads(n_threads, K, D),
    )
    if status != _kernels.OK:
        _raise_status(status, row)
    # the kernel added the chunks into chunk 0, in chunk order
    N = ws.N[0].copy()
    if cov == "diag":
        both = ws.S2[0].reshape(K, 2, D)
        S1, S2 = both[:, 1, :].copy(), both[:, 0, :].copy()
    else:
        S1 = ws.S1[0].reshape(K, D).copy()
        S2 = ws.S2[0].reshape({"full": (K, D, D), "tied": (D, D), "spherical": (K,)}[cov]).copy()
    if cov == "full":  # 'full' statistics always carry one shift per component
        shift = model.means if model.shift is None else np.tile(model.shift, (K, 1))
    else:
        shift = model.shift
    sum_w = float(X.shape[0] if sample_weight is None else sample_weight.sum())
    return SuffStats(N, S1, S2, float(ws.L[0]), sum_w, shift, model.moment_weights)


_EMPTY = {}


def _empty(shape, dtype):
    key = (shape, np.dtype(dtype))
    if key not in _EMPTY:
        _EMPTY[key] = np.empty(shape, dtype=dtype)
    return _EMPTY[key]


def per_sample(X, model, n_threads, *, lse=False, resp=False, labels=False,
               check_finite=False):
    """Per-row outputs under ``model``: any of log-likelihood, responsibilities, label.

    Returns a tuple of the requested arrays in the order (lse, resp, labels); lse is
    float64, resp has X's dtype, labels are intp. check_finite: X is not yet checked
    for NaN and infinity; the kernel checks each block as it reads it, and X holding
    any raises ``_validation.check_finite``'s error.
    """
    n, K = X.shape[0], model.n_components
    out_lse = np.empty(n) if lse else _empty((0,), np.float64)
    out_resp = np.empty((n, K), dtype=X.dtype) if resp else _empty((0, 0), X.dtype)
    out_labels = np.empty(n, dtype=np.intp) if labels else _empty((0,), np.intp)
    status, row = _kernels.block_logprob(
        model.params, X, out_lse, out_resp, out_labels,
        block_size(n, K, model.n_features), _threads_for(n_threads, n, model.n_components, model.n_features),
        check_finite,
    )
    if status == _kernels.NOT_FINITE:
        _validation.check_finite(X, n_threads=n_threads)   # raises, naming the rows
    if status != _kernels.OK:
        _raise_status(status, row)
    wanted = [(lse, out_lse), (resp, out_resp), (labels, out_labels)]
    return tuple(arr for want, arr in wanted if want)
