"""Parameters -> kernel arguments; the kernels run over X; results -> SuffStats.

This is the only module that calls the compiled statistics and log-probability
kernels. It knows their argument conventions (see the docstring of _kernels.pyx); the
estimator above it knows only SuffStats and numpy arrays.
"""

import math

import numpy as np

from . import _kernels
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
#: products a row, in float64 and for float32 data in float32 too) then stay within a
#: thread's share of the cache (wide_f32 on 2 threads: ~200 -> ~178 ms an iteration).
#: A divisor of BLOCK_SIZE, so pieces of whole BLOCK_SIZE blocks are whole blocks too.
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
#: (two GEMMs for all components, _kernels.COV_FULL_MOMENTS) while every component's
#: squared Mahalanobis distance to c, ||(mu_k - c) U_k||^2, is at most this: the
#: expansion about c then costs at most about this many units of rounding (relative)
#: in the log-densities and covariances. Beyond it (tight components far apart, e.g.
#: digits: ~1e7), each component's products are taken about its own mean (a triangular
#: product and a symmetric rank update per component, _kernels COV_FULL).
MOMENTS_MAX_SPREAD = 256.0

#: float32 'full' data with at least this many features always run per component about
#: each mean, in float32 products (_full.h), whatever the spread: from here on that is
#: faster than the moment rows, which float32 data runs in double. A pass on one
#: thread, K = 16, N D = 3.2e6 (per component / moment rows): D = 8 80 / 44 ms,
#: 12 74 / 55, 16 50 / 60, 24 62 / 94, 32 62 / 123, 64 206 / 353 (K = 32).
FULL32_MIN_FEATURES = 16


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


_UNUSED_W64 = np.zeros((1, 1))  # the kernels' W64 where it is not read
_UNUSED_P2 = np.zeros((1, 1, 1))  # the kernels' P2 for 'diag' and 'spherical' (not read)
_UNUSED_PVEC = {}


def _unused_pvec(K):
    """The kernels' pvec outside 'spherical' (K zeros, never read nor written)."""
    if K not in _UNUSED_PVEC:
        _UNUSED_PVEC[K] = np.zeros(K)
    return _UNUSED_PVEC[K]


def _threads_for(n_threads, n_rows, n_components, n_features):
    """The threads worth using on this pass (results do not depend on it)."""
    work = n_rows * n_components * (n_features + 2)
    n_blocks = -(-n_rows // block_size(n_rows, n_components, n_features))
    return max(1, min(n_threads, work // MIN_WORK_PER_THREAD, n_blocks))


class KernelModel:
    """A fitted or current mixture, in the form the kernels take.

    Parameters
    ----------
    covariance_type : str
    weights : (K,) array
    means : (K, D) array
    precisions_cholesky : array of the covariance type's shape
    dtype : np.float32 or np.float64
        The data's dtype: parameter arrays are cast to it, constants stay float64.
    """

    def __init__(self, covariance_type, weights, means, precisions_cholesky, dtype):
        self.covariance_type = covariance_type
        self.code = COV_CODES[covariance_type]
        self.dtype = np.dtype(dtype)
        weights = np.asarray(weights, dtype=np.float64)
        means = np.asarray(means, dtype=np.float64)
        U = np.asarray(precisions_cholesky, dtype=np.float64)
        K, D = means.shape
        self.W64 = _UNUSED_W64
        if covariance_type == "full":   # the hot case, compiled (seed2d: ~13 -> ~8.5 us a model)
            self.pvec = _unused_pvec(K)
            U = np.ascontiguousarray(U)
            self.shift, self.cst = _kernels.full_constants(
                np.ascontiguousarray(weights), np.ascontiguousarray(means), U)
            self.P1, self.P2 = means, U
            if D >= _kernels.SMALL_FEATURES and not (
                    self.dtype == np.float32 and D >= FULL32_MIN_FEATURES):
                self._full_moments(means, U)
            if self.code == _kernels.COV_FULL and self.dtype == np.float32:
                # the statistics' shifts in double: about the float32 means, every new
                # mean would be off by their rounding (~5e-4 at an offset of 1e4)
                self.W64 = np.ascontiguousarray(means)
            self._finish(means, K, D)
            return
        if weights.min() > 0:
            log_w = np.log(weights)
        else:  # an empty component: log 0 = -inf, never chosen
            with np.errstate(divide="ignore"):
                log_w = np.log(weights)
        base = log_w - 0.5 * D * _LOG_2PI
        self.pvec = np.zeros(K)
        if covariance_type == "tied":
            self.shift = self._as_kernel_sees(weights @ means)
            self.cst = base + np.log(np.diag(U)).sum()
            self.P1, self.P2 = (means - self.shift) @ U, U[None]
        elif covariance_type == "diag":
            self.shift = self._as_kernel_sees(weights @ means)
            P = U * U
            Mc = means - self.shift
            self.cst = base + np.log(U).sum(axis=1) - 0.5 * (P * Mc * Mc).sum(axis=1)
            # the weights of the feature rows [(x - c)^2, x - c] and the constants,
            # float64 for either dtype (_diag.h)
            Wt = np.zeros(_kernels.diag_weights_shape(D, K))
            Wt[:D, :K] = -0.5 * P.T
            Wt[D:2 * D, :K] = (P * Mc).T
            Wt[2 * D, :K] = self.cst
            self.P1, self.P2, self.W64 = means, _UNUSED_P2, Wt   # P1 not read
        else:
            self.shift = self._as_kernel_sees(weights @ means)
            Mc = means - self.shift
            self.pvec = U * U
            self.cst = base + D * np.log(U) - 0.5 * self.pvec * (Mc * Mc).sum(axis=1)
            self.P1, self.P2 = Mc, _UNUSED_P2
        self._finish(means, K, D)

    def _as_kernel_sees(self, shift):
        """The global shift c rounded to the data's dtype, as the kernels read it
        (shift_arg): the constants, the weights and the statistics' shift then expand
        about the very point the rows x - c do. In double, float32 data would move
        every mean by c - float32(c)."""
        return shift.astype(self.dtype).astype(np.float64)

    def _finish(self, means, K, D):
        self.means = means
        self.n_components, self.n_features = K, D
        self.cst = np.ascontiguousarray(self.cst, dtype=np.float64)
        self.pvec = np.ascontiguousarray(self.pvec, dtype=np.float64)
        self.P1 = np.ascontiguousarray(self.P1, dtype=self.dtype)
        self.P2 = np.ascontiguousarray(self.P2, dtype=self.dtype)
        self.shift_arg = np.ascontiguousarray(self.shift, dtype=self.dtype)

    def _full_moments(self, means, U):
        """Switch to moment rows (COV_FULL_MOMENTS) when every component is within
        MOMENTS_MAX_SPREAD of the shift: W64 becomes the GEMM weights W (K, Q+1),
        float64 for either dtype, of the rows [z_a z_b (a >= b), z_a, 1], z = x - c
        (see _kernels.pyx), with c rounded to the data's dtype as the kernel's rows
        see it (so the statistics' shift is that c too)."""
        K, D = means.shape
        shift = self._as_kernel_sees(self.shift)
        m = means - shift
        V = np.einsum("kd,kde->ke", m, U)
        spread = np.einsum("ke,ke->k", V, V)           # m^T P m = ||m U||^2
        if not spread.max() <= MOMENTS_MAX_SPREAD:
            return
        self.shift = shift
        P = np.matmul(U, U.transpose(0, 2, 1))         # precisions U U^T
        rows, cols = np.tril_indices(D)                # the kernel's order: a, b <= a
        T = rows.size
        W = np.empty((K, T + D + 1))
        W[:, :T] = P[:, rows, cols] * np.where(rows == cols, -0.5, -1.0)
        W[:, T:T + D] = np.einsum("kde,ke->kd", P, m)
        self.cst = self.cst - 0.5 * spread
        W[:, T + D] = self.cst
        self.code = _kernels.COV_FULL_MOMENTS
        self.P2, self.W64 = _UNUSED_P2, W   # P1 stays the means (not read)

    def args(self):
        """The parameter arguments of block_stats / block_logprob, in order."""
        return self.cst, self.P1, self.P2, self.pvec, self.shift_arg, self.W64


def _stat_sizes(covariance_type, K, D):
    """Per-chunk lengths of the S1 and S2 outputs of block_stats."""
    return {
        "full": (K * D, K * D * D),
        "tied": (K * D, D * D),
        "diag": (1, 2 * K * D),
        "spherical": (K * D, K),
    }[covariance_type]


class StatsWorkspace:
    """Chunk accumulators for one fit: allocated once, reused every iteration.

    The number of chunks depends only on n_samples, K, D and the covariance type,
    never on the thread count, so statistics are bit-for-bit reproducible.
    """

    def __init__(self, n_samples, n_components, n_features, covariance_type):
        K, D = n_components, n_features
        s1, s2 = _stat_sizes(covariance_type, K, D)
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
        model.code, X, sample_weight, *model.args(),
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
    about_c = model.code == _kernels.COV_FULL_MOMENTS
    if cov == "full":  # 'full' statistics always carry one shift per component
        shift = np.tile(model.shift, (K, 1)) if about_c else model.means
    else:
        shift = model.shift
    sum_w = float(X.shape[0] if sample_weight is None else sample_weight.sum())
    return SuffStats(N, S1, S2, float(ws.L[0]), sum_w, shift)


_EMPTY = {}


def _empty(shape, dtype):
    key = (shape, np.dtype(dtype))
    if key not in _EMPTY:
        _EMPTY[key] = np.empty(shape, dtype=dtype)
    return _EMPTY[key]


def per_sample(X, model, n_threads, *, lse=False, resp=False, labels=False):
    """Per-row outputs under ``model``: any of log-likelihood, responsibilities, label.

    Returns a tuple of the requested arrays in the order (lse, resp, labels); lse is
    float64, resp has X's dtype, labels are intp.
    """
    n, K = X.shape[0], model.n_components
    out_lse = np.empty(n) if lse else _empty((0,), np.float64)
    out_resp = np.empty((n, K), dtype=X.dtype) if resp else _empty((0, 0), X.dtype)
    out_labels = np.empty(n, dtype=np.intp) if labels else _empty((0,), np.intp)
    status, row = _kernels.block_logprob(
        model.code, X, *model.args(), out_lse, out_resp, out_labels,
        block_size(n, K, model.n_features), _threads_for(n_threads, n, model.n_components, model.n_features),
    )
    if status != _kernels.OK:
        _raise_status(status, row)
    wanted = [(lse, out_lse), (resp, out_resp), (labels, out_labels)]
    return tuple(arr for want, arr in wanted if want)
