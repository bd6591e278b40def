"""Fits and predictions on dask arrays: the kernel runs where each chunk lives.

Imported only when a dask array is passed (``import gmmfast`` does not import dask).
Everything runs on the active dask scheduler: a ``distributed.Client`` if one is the
default, else dask's local scheduler.

Per EM iteration the client builds one task per row-chunk of X,
``_chunk_stats(chunk, weights_chunk, parameters)``, computes them together, and adds
the returned SuffStats in chunk order (a fixed order, so the result does not depend
on which worker finishes first). What crosses the network per iteration: the
parameters to each worker (K weights, K x D means, K x D x D precision factors for
'full') and one SuffStats per chunk back (K + K D + K D^2 + 2 numbers for 'full').
The data stays where it is; ``persist()`` X before fitting when X is expensive to
compute, since every iteration reads every chunk.
"""

import dask
import dask.array as da
import numpy as np

from . import _estep, _sources, _validation
from ._threads import blas_single_thread, effective_n_threads


def _as_kernel_array(x, dtype):
    return np.ascontiguousarray(np.asarray(x), dtype=dtype)


def _chunk_stats(x, w, start, model_args, n_threads):
    """Worker side: the SuffStats of one chunk (rows ``start`` on) of X."""
    model = _estep.KernelModel(*model_args)
    x = _as_kernel_array(x, model.dtype)
    w = None if w is None else np.ascontiguousarray(w, dtype=np.float64)
    with blas_single_thread():
        return _sources._with_row_offset(
            start, _estep.suff_stats, x, w, model, effective_n_threads(n_threads)
        )


def _chunk_check(x, w, start):
    """Worker side: the first problem of one chunk of X and weights, or None."""
    x = np.asarray(x)
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        what = "NaN" if np.isnan(x[first]).any() else "infinity (inf)"
        return ("X", f"X contains {what} in row {start + first}; remove or impute such "
                     "rows before fitting or scoring.")
    if w is None:
        return None
    w = np.asarray(w, dtype=np.float64)
    if not np.isfinite(w).all():
        first = start + int(np.flatnonzero(~np.isfinite(w))[0])
        return ("w", f"sample_weight contains NaN or infinity at index {first}; "
                     "weights must be finite.")
    if (w < 0).any():
        first = start + int(np.flatnonzero(w < 0)[0])
        return ("w", f"sample_weight contains negative values (first at index {first}); "
                     "weights must be >= 0.")
    return None


def _chunk_positive(w):
    return bool((np.asarray(w) > 0).any())


def _chunk_outputs(x, model_args, n_threads, name):
    """Worker side: one per-sample output of one chunk (for map_blocks)."""
    model = _estep.KernelModel(*model_args)
    x = _as_kernel_array(x, model.dtype)
    with blas_single_thread():
        (out,) = _estep.per_sample(x, model, effective_n_threads(n_threads),
                                   **{name: True})
    # 'lse' is score_samples' output, in X's dtype
    return out.astype(model.dtype, copy=False) if name == "lse" else out


def _check_dask_X(estimator, X, *, reset, ensure_min_samples=1):
    """Shape, dtype and feature count of a dask X; columns in one chunk."""
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D dask array of shape (n_samples, n_features), got {X.ndim}-D "
            f"with shape {X.shape}; reshape it, e.g. X.reshape(-1, 1) for one feature."
        )
    if np.isnan(X.shape[0]):
        raise ValueError(
            "The dask array X has unknown chunk sizes (its number of rows is nan); call "
            "X.compute_chunk_sizes() first."
        )
    if np.dtype(X.dtype).kind not in "biuf":
        raise ValueError(f"X must be numeric, got a dask array of dtype {X.dtype}.")
    n_samples, n_features = int(X.shape[0]), int(X.shape[1])
    if n_samples < ensure_min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) while a minimum of "
            f"{ensure_min_samples} is required."
        )
    _validation.check_n_features(estimator, n_features, reset=reset)
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    return X


def _weights_as_dask(sample_weight, X):
    """sample_weight (None, scalar, array or dask array) chunked like X's rows."""
    n = int(X.shape[0])
    if sample_weight is None:
        return None
    if not isinstance(sample_weight, da.Array):
        w = np.asarray(sample_weight)
        if w.ndim == 0:
            w = np.full(n, float(w))
        sample_weight = da.from_array(w)
    if sample_weight.ndim != 1 or sample_weight.shape[0] != n:
        raise ValueError(
            f"sample_weight must have shape ({n},), one weight per row of X, got shape "
            f"{sample_weight.shape}."
        )
    if np.dtype(sample_weight.dtype).kind not in "biuf":
        raise ValueError(
            f"sample_weight must be numeric, got an array of dtype {sample_weight.dtype}."
        )
    return sample_weight.astype(np.float64).rechunk((X.chunks[0],))


def _blocks(X, w):
    xs = X.to_delayed().ravel().tolist()
    ws = [None] * len(xs) if w is None else w.to_delayed().ravel().tolist()
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int).tolist()
    return xs, ws, starts


def _validate_values(X, w):
    """One pass over the data: the first NaN/inf row of X, bad or all-zero weights."""
    xs, ws, starts = _blocks(X, w)
    checks = [dask.delayed(_chunk_check)(x, wb, s) for x, wb, s in zip(xs, ws, starts)]
    positive = [] if w is None else [dask.delayed(_chunk_positive)(wb) for wb in ws]
    results = dask.compute(*checks, *positive)
    for problem in results[: len(checks)]:
        if problem is not None:
            raise ValueError(problem[1])
    if w is not None and not any(results[len(checks):]):
        raise ValueError("sample_weight is zero for every sample; nothing to fit.")


class DaskSource:
    """Stats source over a dask array (see ``_sources``), validated once.

    Its per-sample outputs are lazy dask arrays (``per_sample_lazy``); ``lazy`` tells
    the estimator so.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features), columns in one chunk
    sample_weight : dask.array.Array of shape (n_samples,) float64 or None,
        chunked like X's rows
    covariance_type : str
    n_components : int
    n_threads : int or None
        The estimator's ``n_threads``, resolved on each worker.
    """

    lazy = True

    def __init__(self, X, sample_weight, covariance_type, n_components, n_threads):
        self.X, self.w = X, sample_weight
        self.n_samples, self.n_features = int(X.shape[0]), int(X.shape[1])
        self.dtype = _sources.compute_dtype(X.dtype)
        self.covariance_type = covariance_type
        self.n_components = n_components
        self.n_threads = n_threads
        self._blocks = _blocks(X, sample_weight)
        self._init = None

    @classmethod
    def from_input(cls, estimator, X, sample_weight, covariance_type, n_components,
                   n_threads, *, reset, ensure_min_samples=1, check_values=True):
        """Validate X (and weights) as the estimator's other inputs are, then wrap."""
        if not isinstance(X, da.Array):
            X = da.from_array(np.asarray(X))
        X = _check_dask_X(estimator, X, reset=reset, ensure_min_samples=ensure_min_samples)
        w = _weights_as_dask(sample_weight, X)
        if check_values:
            _validate_values(X, w)
        return cls(X, w, covariance_type, n_components, estimator.n_threads)

    def init_data(self, random_state):
        """A random subsample of ``_sources.init_sample_size`` rows, computed once."""
        if self._init is None:
            size = _sources.init_sample_size(
                self.n_samples, self.n_components, self.n_features)
            rows = _sources.subsample_rows(self.n_samples, size, random_state)
            if rows.size == self.n_samples:
                X0, w0 = self.X, self.w
            else:
                X0 = self.X[rows]
                w0 = None if self.w is None else self.w[rows]
            X0, w0 = dask.compute(X0, w0)
            X0 = _as_kernel_array(X0, self.dtype)
            w0 = None if w0 is None else np.ascontiguousarray(w0, dtype=np.float64)
            _sources.check_init_weights(w0, rows.size)
            self._init = X0, w0
        return self._init

    def _model_args(self, weights, means, precisions_cholesky, log_weights=None):
        return (self.covariance_type, np.asarray(weights, dtype=np.float64),
                np.asarray(means, dtype=np.float64),
                np.asarray(precisions_cholesky, dtype=np.float64), self.dtype,
                log_weights)

    def stats(self, weights, means, precisions_cholesky, log_weights=None):
        """Statistics per chunk on the workers, added on the client in chunk order."""
        return chunk_sums(
            self._blocks, _chunk_stats,
            self._model_args(weights, means, precisions_cholesky, log_weights),
            self.n_threads)


def chunk_sums(blocks, chunk_stats, model_args, n_threads):
    """``chunk_stats(x, w, start, model_args, n_threads)`` of every chunk, computed on
    the workers and added on the client in chunk order, so that the sum does not
    depend on where or when the chunks ran."""
    args = dask.delayed(model_args, pure=True)
    xs, ws, starts = blocks
    tasks = [dask.delayed(chunk_stats, pure=True)(x, w, s, args, n_threads)
             for x, w, s in zip(xs, ws, starts)]
    parts = dask.compute(*tasks)
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _args_of_model(model_or_estimator):
    est = model_or_estimator
    # a BayesianGaussianMixture's E-step constants stand in for log(weights_)
    log_weights = getattr(est, "_kernel_log_weights", lambda: None)()
    return (est._kernel_type, np.asarray(est.weights_, dtype=np.float64),
            np.asarray(est.means_, dtype=np.float64),
            np.asarray(est.precisions_cholesky_, dtype=np.float64), log_weights)


def _lazy(X, params, n_threads, what):
    dtype = _sources.compute_dtype(X.dtype)
    *params, log_weights = params
    model_args = (*params, dtype, log_weights)
    K = len(params[1])
    if what == "resp":
        return X.map_blocks(_chunk_outputs, model_args, n_threads, what, dtype=dtype,
                            chunks=(X.chunks[0], (K,)))
    out_dtype = np.intp if what == "labels" else dtype
    return X.map_blocks(_chunk_outputs, model_args, n_threads, what, dtype=out_dtype,
                        drop_axis=1)


def per_sample_lazy(estimator, X, what):
    """``what`` in {'lse', 'resp', 'labels'} of each row of a dask X, lazily."""
    X = _check_dask_X(estimator, X, reset=False)
    return _lazy(X, _args_of_model(estimator), estimator.n_threads, what)


def score(estimator, X, sample_weight):
    """(Weighted) mean log-likelihood of a dask X, computed now."""
    if not isinstance(X, da.Array):
        X = da.from_array(np.asarray(_validation.check_X(estimator, X, reset=False)))
    X = _check_dask_X(estimator, X, reset=False)
    w = _weights_as_dask(sample_weight, X)
    if w is not None:
        _validate_values(X, w)
    # the mean of score_samples' values (in X's dtype), summed in float64
    lse = _lazy(X, _args_of_model(estimator), estimator.n_threads, "lse")
    lse = lse.astype(np.float64)
    if w is None:
        return float(lse.mean().compute())
    total, weight = dask.compute((w * lse).sum(), w.sum())
    return float(total / weight)
