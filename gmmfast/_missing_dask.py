"""Data with missing values (NaN) in a dask array: the stats source whose chunks are
grouped by pattern and passed where they live, and the lazy per-sample outputs.

The maths and the in-memory passes are ``_missing``'s; this module only places them on
dask's workers. dask is imported inside the functions, so that importing gmmfast never
needs it.
"""

import numpy as np

from . import _estep, _sources
from ._missing import (
    MarginalModels,
    check_missing_values,
    mean_imputed,
    piece_outputs,
    piece_stats,
    prepare,
)


def _chunk_stats(x, w, start, model_args, n_threads):
    """Worker side: the expanded statistics of one chunk of a dask X with NaN."""
    from ._threads import blas_single_thread, effective_n_threads

    models = MarginalModels(*model_args)
    x = np.ascontiguousarray(np.asarray(x), dtype=models.dtype)
    w = None if w is None else np.ascontiguousarray(w, dtype=np.float64)
    with blas_single_thread():
        rows = prepare(models.covariance_type, x, w, start, models.n_components)
        return piece_stats(models, rows, start, effective_n_threads(n_threads))


def _chunk_outputs(x, start, model_args, n_threads, name):
    """Worker side: one per-sample output of one chunk, each row under the marginal
    model of its observed features (a chunk without NaN: the ordinary pass)."""
    from ._threads import blas_single_thread, effective_n_threads

    models = MarginalModels(*model_args)
    x = np.ascontiguousarray(np.asarray(x), dtype=models.dtype)
    threads = effective_n_threads(n_threads)
    with blas_single_thread():
        if not np.isnan(x).any():
            model = _estep.KernelModel(models.covariance_type, models.weights,
                                       models.means, models.U, models.dtype)
            (out,) = _estep.per_sample(x, model, threads, **{name: True})
        else:
            n, K = x.shape[0], models.n_components
            out = {"lse": lambda: np.empty(n), "labels": lambda: np.empty(n, np.intp),
                   "resp": lambda: np.empty((n, K), dtype=models.dtype)}[name]()
            rows = prepare(models.covariance_type, x, None, start, models.n_components)
            piece_outputs(models, rows, start, threads, [out], **{name: True})
    return out.astype(models.dtype, copy=False) if name == "lse" else out


def _chunk_check(x, w, start):
    """Worker side: refuse infinity, rows without an observed feature, bad weights."""
    check_missing_values(np.asarray(x), first_row=start)
    if w is None:
        return False
    w = np.asarray(w, dtype=np.float64)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ValueError(
            f"sample_weight[{start + int(np.flatnonzero(bad)[0])}] is negative, NaN or "
            "infinite; weights must be finite and >= 0.")
    return bool((w > 0).any())


class DaskMissingSource:
    """Stats source over a dask X with NaN: each chunk's expanded statistics are
    computed where the chunk lives (grouped by pattern there), added in chunk order."""

    lazy = True
    missing = True

    def __init__(self, X, sample_weight, covariance_type, n_components, n_threads):
        # the chunks are read as the complete-data dask source reads them (dask is
        # imported here, only when a dask array is given)
        from . import _dask

        _dask.DaskSource.__init__(self, X, sample_weight, covariance_type, n_components,
                                  n_threads)

    def init_data(self, random_state):
        import dask

        if self._init is None:
            size = _sources.init_sample_size(
                self.n_samples, self.n_components, self.n_features)
            rows = _sources.subsample_rows(self.n_samples, size, random_state)
            X0, w0 = (self.X, self.w) if rows.size == self.n_samples else (
                self.X[rows], None if self.w is None else self.w[rows])
            X0, w0 = dask.compute(X0, w0)
            X0 = np.ascontiguousarray(X0, dtype=self.dtype)
            w0 = None if w0 is None else np.ascontiguousarray(w0, dtype=np.float64)
            _sources.check_init_weights(w0, rows.size)
            self._init = mean_imputed(X0, w0), w0
        return self._init

    def model(self, weights, means, precisions_cholesky, log_weights=None):
        return MarginalModels(self.covariance_type, weights, means, precisions_cholesky,
                              self.dtype)

    def stats(self, weights, means, precisions_cholesky, log_weights=None):
        from . import _dask

        return _dask.chunk_sums(
            self._blocks, _chunk_stats,
            _model_args(self.covariance_type, weights, means, precisions_cholesky,
                        self.dtype),
            self.n_threads)


def _model_args(covariance_type, weights, means, precisions_cholesky, dtype):
    return (covariance_type, np.asarray(weights, dtype=np.float64),
            np.asarray(means, dtype=np.float64),
            np.asarray(precisions_cholesky, dtype=np.float64), np.dtype(dtype))


def _validated_dask(est, X, sample_weight, *, reset, ensure_min_samples=1):
    import dask
    import dask.array as da

    from . import _dask

    if not isinstance(X, da.Array):
        X = da.from_array(np.asarray(X))
    X = _dask._check_dask_X(est, X, reset=reset, ensure_min_samples=ensure_min_samples)
    w = _dask._weights_as_dask(sample_weight, X)
    xs, ws, starts = _dask._blocks(X, w)
    checks = [dask.delayed(_chunk_check)(x, wb, s) for x, wb, s in zip(xs, ws, starts)]
    results = dask.compute(*checks, da.isnan(X).any())
    if w is not None and not any(results[:-1]):
        raise ValueError("sample_weight is zero for every sample; nothing to fit.")
    return X, w, bool(results[-1])


def dask_source(est, X, sample_weight, args, *, reset, ensure_min_samples):
    """A DaskMissingSource when the dask X holds NaN, else None (the ordinary path)."""
    X, w, any_nan = _validated_dask(est, X, sample_weight, reset=reset,
                                    ensure_min_samples=ensure_min_samples)
    if not any_nan:
        return None
    cov_type, n_components, _ = args
    return DaskMissingSource(X, w, cov_type, n_components, est.n_threads)


def per_sample_lazy(est, X, what):
    """``what`` in {'lse', 'resp', 'labels'} of each row of a dask X with NaN, lazily."""
    from . import _dask

    X = _dask._check_dask_X(est, X, reset=False)
    dtype = _sources.compute_dtype(X.dtype)
    model_args = _model_args(est._kernel_type, est.weights_, est.means_,
                             est.precisions_cholesky_, dtype)
    K = len(est.weights_)
    n_threads = est.n_threads

    def block(x, block_info=None):
        start = block_info[0]["array-location"][0][0] if block_info else 0
        return _chunk_outputs(x, start, model_args, n_threads, what)

    if what == "resp":
        return X.map_blocks(block, dtype=dtype, chunks=(X.chunks[0], (K,)))
    out_dtype = np.intp if what == "labels" else dtype
    return X.map_blocks(block, dtype=out_dtype, drop_axis=1)


def dask_score(est, X, sample_weight):
    """(Weighted) mean log-likelihood of a dask X with NaN, computed now."""
    X, w, _ = _validated_dask(est, X, sample_weight, reset=False)
    lse = per_sample_lazy(est, X, "lse").astype(np.float64)
    if w is None:
        return float(lse.mean().compute())
    import dask

    total, weight = dask.compute((w * lse).sum(), w.sum())
    return float(total / weight)
