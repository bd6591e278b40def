"""Where data enter an estimator: what kind of X it is (in memory, row-sliceable,
dask; with or without missing values) and the stats source that reads it.
"""

import numpy as np

from . import _sources, _validation
from ._threads import effective_n_threads


def stats_source(est, X, sample_weight, *, reset, ensure_min_samples=1,
                 defer_finite=False):
    """Validate X and sample_weight; return the stats source that reads them.

    dask arrays -> ``_dask.DaskSource``; np.memmap and other row-sliceable arrays ->
    ``_sources.ChunkedSource``; anything else is validated into a C-contiguous float
    array in memory -> ``_sources.InMemorySource``. With ``missing='marginalize'`` and
    NaN in X, the ``_missing`` (or ``_missing_dask``) source instead.
    ``defer_finite``: an in-memory X is checked for NaN and infinity by the per-sample
    pass as it reads X (``_sources.InMemorySource``'s finite_checked).
    """
    n_threads = effective_n_threads(est.n_threads)
    args = (est._kernel_type, est.n_components, n_threads)
    if missing_mode(est) == "marginalize":
        source = _missing_source(est, X, sample_weight, args, reset=reset,
                                 ensure_min_samples=ensure_min_samples)
        if source is not None:
            return source
    if is_dask_array(sample_weight) and not is_dask_array(X):
        sample_weight = np.asarray(sample_weight.compute())
    if is_dask_array(X):
        from . import _dask

        return _dask.DaskSource.from_input(
            est, X, sample_weight, *args, reset=reset,
            ensure_min_samples=ensure_min_samples,
        )
    if _validation.is_row_sliceable(X):
        n_samples, _ = _validation.check_row_sliceable_X(
            est, X, reset=reset, ensure_min_samples=ensure_min_samples
        )
        w = _validation.check_sample_weight(sample_weight, n_samples)
        return _sources.ChunkedSource(X, w, *args)
    X = _validation.check_X(est, X, reset=reset, ensure_min_samples=ensure_min_samples,
                            defer_finite=defer_finite)
    w = _validation.check_sample_weight(sample_weight, X.shape[0])
    return _sources.InMemorySource(X, w, *args, finite_checked=not defer_finite)


def model_for(est, source):
    """The fitted model as ``source``'s kernel passes read it (for data with missing
    values, the marginal model of each pattern)."""
    if getattr(source, "missing", False):
        return source.model(est.weights_, est.means_, est.precisions_cholesky_)
    return est._kernel_model(source.dtype)


def missing_mode(est):
    """The estimator's ``missing`` parameter, validated ('error' for estimators
    without one)."""
    mode = getattr(est, "missing", "error")
    if mode not in ("error", "marginalize"):
        raise _validation.InvalidParameterError(
            "The 'missing' parameter of GaussianMixture must be 'error' or "
            f"'marginalize', got {mode!r}.")
    return mode


def _missing_source(est, X, sample_weight, args, *, reset, ensure_min_samples):
    """A ``_missing.MissingSource`` when X (numpy or row-sliceable) holds NaN, else
    None: X without NaN takes the ordinary path, bit for bit."""
    from . import _missing

    if is_dask_array(X):
        from . import _missing_dask

        return _missing_dask.dask_source(est, X, sample_weight, args, reset=reset,
                                         ensure_min_samples=ensure_min_samples)
    if _validation.is_row_sliceable(X):
        if not _missing.has_nan(X):
            return None
        n_samples, _ = _validation.check_row_sliceable_X(
            est, X, reset=reset, ensure_min_samples=ensure_min_samples)
        w = _validation.check_sample_weight(sample_weight, n_samples)
        return _missing.MissingSource(X, w, *args, in_memory=False)
    X = _validation.check_X(est, X, reset=reset, ensure_min_samples=ensure_min_samples,
                            allow_nan=True)
    if not _missing.has_nan(X):
        return None
    w = _validation.check_sample_weight(sample_weight, X.shape[0])
    return _missing.MissingSource(X, w, *args, in_memory=True)


def num_rows(X):
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def is_dask_array(X):
    """True for a dask array, without importing dask (only if the user has)."""
    import sys

    da = sys.modules.get("dask.array")
    return da is not None and isinstance(X, da.Array)
