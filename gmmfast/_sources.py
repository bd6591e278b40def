"""Where the sufficient statistics come from: one EM loop, several drivers.

The estimator's EM loop (``GaussianMixture._fit``) and its stepwise variant
(``partial_fit``) know only a *stats source*: an object that

- says how many samples and features the data has and in which float dtype the
  kernels will compute (``n_samples``, ``n_features``, ``dtype``);
- hands out the rows to initialise from, ``init_data(random_state) -> (X0, w0)``,
  an in-memory C-contiguous array (all of X, or a bounded random subsample);
- returns the sufficient statistics of all the data under given parameters,
  ``stats(weights, means, precisions_cholesky, log_weights=None) -> SuffStats``
  (docs/architecture.md; log_weights: see ``_estep.KernelModel``);
- computes per-sample outputs, ``per_sample(...)`` and ``weighted_score(...)``.

Three drivers implement it over the same kernel (``_estep.suff_stats``):

``InMemorySource``
    X is a C-contiguous float32/float64 array in memory: one kernel call per pass.
``ChunkedSource``
    X is an ``np.memmap`` or another array that can be sliced by rows (h5py, zarr):
    each pass reads ``rows_per_read`` rows at a time, converts only that piece to
    the compute dtype (no conversion at all for C-contiguous float32/float64 data),
    runs the kernel on it and adds the pieces' statistics in row order.
``DaskSource`` (in ``_dask.py``, imported only for dask input)
    the kernel runs on each chunk of a dask array where the chunk lives; only the
    statistics travel back, and are added in chunk order.

Statistics are sums, so every driver computes the same numbers; they differ only in
where the partial sums are cut (in-memory: the kernel's chunking of all N rows;
chunked: pieces of ``rows_per_read`` rows; dask: the dask chunks), which changes the
order of floating-point additions and therefore the last bits, not more.
"""

import numpy as np

from . import _estep, _validation

#: A piece read by ChunkedSource holds at most this many bytes once converted to
#: float64 (rounded down to whole kernel blocks, at least one block).
READ_BYTES = 16 * 2**20
#: The initialisation subsample of a chunked or dask fit holds at most this many
#: rows ...
INIT_MAX_ROWS = 100_000
#: ... and at most this many bytes as float64 ...
INIT_MAX_BYTES = 64 * 2**20
#: ... but never fewer than this many rows per component (when X has them).
INIT_MIN_ROWS_PER_COMPONENT = 50


def init_sample_size(n_samples, n_components, n_features):
    """Rows of the random subsample that a chunked or dask fit initialises from.

    ``min(n_samples, max(50 * n_components, min(100_000, 2**26 // (8 * n_features))))``:
    at most 100 000 rows and 64 MiB of float64, but at least 50 rows per component.

    Parameters
    ----------
    n_samples, n_components, n_features : int

    Returns
    -------
    int
    """
    by_bytes = INIT_MAX_BYTES // (8 * max(1, n_features))
    cap = max(INIT_MIN_ROWS_PER_COMPONENT * n_components, min(INIT_MAX_ROWS, by_bytes))
    return int(min(n_samples, cap))


def rows_per_read(n_features):
    """Rows of one piece read by ChunkedSource: READ_BYTES of float64, whole blocks."""
    rows = READ_BYTES // (8 * max(1, n_features))
    return max(_estep.BLOCK_SIZE, rows // _estep.BLOCK_SIZE * _estep.BLOCK_SIZE)


def compute_dtype(dtype):
    """The dtype the kernels compute in: float32 and float64 stay, all else -> float64."""
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def as_score_samples(lse, dtype):
    """float64 log-densities as score_samples returns them, rounded to X's dtype, in
    float64 to be summed: score is their mean."""
    return lse if dtype == np.float64 else lse.astype(dtype).astype(np.float64)


def subsample_rows(n_samples, size, random_state):
    """Sorted row indices of a uniform subsample without replacement.

    All rows, in order, without drawing from ``random_state`` when ``size`` covers
    them: then a chunked fit starts exactly where the in-memory fit starts.
    Otherwise distinct rows are drawn by rejection (draw, drop repeats, draw the
    missing number again), which needs O(size) memory where
    ``random_state.choice(n, size, replace=False)`` permutes all n rows.
    """
    if size >= n_samples:
        return np.arange(n_samples)
    rows = np.unique(random_state.randint(0, n_samples, size=size))
    while rows.size < size:
        rows = np.union1d(rows, random_state.randint(0, n_samples, size=size - rows.size))
    return rows


def check_init_weights(w0, n_rows):
    """An initialisation subsample needs some non-zero weight."""
    if w0 is not None and not (w0 > 0).any():
        raise ValueError(
            f"Every row of the random initialisation subsample ({n_rows} rows) has zero "
            "sample_weight; give more rows a non-zero weight, or pass means_init, "
            "weights_init and precisions_init."
        )


class InMemorySource:
    """X in memory, C-contiguous float32/float64, already validated.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) float64, or None
    covariance_type : str
    n_components : int
    n_threads : int
    finite_checked : bool
        False: X is validated but for NaN and infinity, which the per-sample pass
        checks block by block as it reads X (one pass over X fewer; a prediction on
        10^6 x 16 'diag' spent 12% of its time in the separate check). Any other use
        of X checks it first.
    """

    def __init__(self, X, sample_weight, covariance_type, n_components, n_threads,
                 finite_checked=True):
        self.X, self.w = X, sample_weight
        self.finite_checked = finite_checked
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.covariance_type = covariance_type
        self.n_components = n_components
        self.n_threads = n_threads
        self._workspace = None

    def init_data(self, random_state):
        """All of X and its weights: the in-memory fit initialises from every row."""
        self._check_finite()
        return self.X, self.w

    def model(self, weights, means, precisions_cholesky, log_weights=None):
        return _estep.KernelModel(
            self.covariance_type, weights, means, precisions_cholesky, self.dtype,
            log_weights, n_threads=self.n_threads,
        )

    def stats(self, weights, means, precisions_cholesky, log_weights=None):
        """Sufficient statistics of all rows under the given parameters (log_weights:
        see ``_estep.KernelModel``)."""
        self._check_finite()
        if self._workspace is None:
            self._workspace = _estep.StatsWorkspace(
                self.n_samples, self.n_components, self.n_features, self.covariance_type
            )
        model = self.model(weights, means, precisions_cholesky, log_weights)
        return _estep.suff_stats(self.X, self.w, model, self.n_threads, self._workspace)

    def per_sample(self, model, **wanted):
        """``_estep.per_sample`` over X (see there)."""
        return _estep.per_sample(self.X, model, self.n_threads,
                                 check_finite=not self.finite_checked, **wanted)

    def _check_finite(self):
        if not self.finite_checked:
            _validation.check_finite(self.X, n_threads=self.n_threads)
            self.finite_checked = True


class ChunkedSource:
    """X sliceable by rows (np.memmap, h5py / zarr arrays), read one piece at a time.

    Nothing of the size of X is ever allocated: a pass holds one piece of at most
    ``rows_per_read(D)`` rows (READ_BYTES as float64) and, when X is not C-contiguous
    float32/float64, its converted copy. NaN and infinity are checked per piece.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), sliceable by rows
    sample_weight : ndarray of shape (n_samples,) float64, or None
        Validated weights; a float64 memmap stays a memmap (sliced per piece).
    covariance_type : str
    n_components : int
    n_threads : int
    """

    def __init__(self, X, sample_weight, covariance_type, n_components, n_threads):
        self.X, self.w = X, sample_weight
        self.n_samples, self.n_features = (int(s) for s in X.shape)
        self.dtype = compute_dtype(X.dtype)
        self.covariance_type = covariance_type
        self.n_components = n_components
        self.n_threads = n_threads
        self.rows_per_read = rows_per_read(self.n_features)
        self._workspaces = {}
        self._init = None

    # -- reading
    def _piece(self, start, stop):
        from ._validation import check_finite_rows

        piece = np.ascontiguousarray(np.asarray(self.X[start:stop]), dtype=self.dtype)
        check_finite_rows(piece, start)
        w = None if self.w is None else np.ascontiguousarray(self.w[start:stop],
                                                             dtype=np.float64)
        return piece, w

    def pieces(self):
        """Yield (start, stop, X piece, weight piece) over all rows, in order."""
        step = self.rows_per_read
        for start in range(0, self.n_samples, step):
            stop = min(self.n_samples, start + step)
            yield (start, stop, *self._piece(start, stop))

    def init_data(self, random_state):
        """A random subsample of ``init_sample_size`` rows (all rows if X is small).

        Drawn once per fit, on the first call; later initialisations (``n_init > 1``)
        start from the same rows.
        """
        if self._init is None:
            size = init_sample_size(self.n_samples, self.n_components, self.n_features)
            rows = subsample_rows(self.n_samples, size, random_state)
            self._init = self._take(rows)
        return self._init

    def _take(self, rows):
        if rows.size == self.n_samples:
            parts = [(x, w) for _, _, x, w in self.pieces()]
            X0 = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
            w0 = None if self.w is None else np.concatenate([p[1] for p in parts])
            return np.ascontiguousarray(X0), w0
        from ._validation import check_finite_rows

        # one fancy read of sorted rows: a memmap (and h5py) reads only their pages
        X0 = np.ascontiguousarray(np.asarray(self.X[rows]), dtype=self.dtype)
        check_finite_rows(X0, row_numbers=rows)
        w0 = None if self.w is None else np.ascontiguousarray(self.w[rows], dtype=np.float64)
        check_init_weights(w0, rows.size)
        return X0, w0

    # -- statistics and per-sample outputs
    def model(self, weights, means, precisions_cholesky, log_weights=None):
        return _estep.KernelModel(
            self.covariance_type, weights, means, precisions_cholesky, self.dtype,
            log_weights, n_threads=self.n_threads,
        )

    def _workspace(self, n):
        if n not in self._workspaces:
            self._workspaces[n] = _estep.StatsWorkspace(
                n, self.n_components, self.n_features, self.covariance_type
            )
        return self._workspaces[n]

    def stats(self, weights, means, precisions_cholesky, log_weights=None):
        """Sufficient statistics of all rows: the pieces' statistics added in row order."""
        model = self.model(weights, means, precisions_cholesky, log_weights)
        total = None
        for start, stop, x, w in self.pieces():
            part = _with_row_offset(
                start, _estep.suff_stats, x, w, model, self.n_threads,
                self._workspace(stop - start),
            )
            total = part if total is None else total + part
            del x, w  # free this piece before the next one is read
        return total

    def per_sample(self, model, *, lse=False, resp=False, labels=False):
        """Like ``_estep.per_sample``, filled piece by piece."""
        outs = output_arrays(self.n_samples, model.n_components, self.dtype,
                             lse=lse, resp=resp, labels=labels)
        for start, stop, x, _ in self.pieces():
            parts = _with_row_offset(
                start, _estep.per_sample, x, model, self.n_threads,
                lse=lse, resp=resp, labels=labels,
            )
            for out, part in zip(outs, parts):
                out[start:stop] = part
            del x, parts
        return tuple(outs)

    def weighted_score(self, model, sample_weight):
        """Weighted mean of score_samples' values, summed in float64, without an
        n-sized array."""
        total = weight = 0.0
        for start, stop, x, _ in self.pieces():
            (lse,) = _with_row_offset(start, _estep.per_sample, x, model,
                                      self.n_threads, lse=True)
            lse = as_score_samples(lse, self.dtype)
            if sample_weight is None:
                total += float(lse.sum())
                weight += stop - start
            else:
                w = np.asarray(sample_weight[start:stop], dtype=np.float64)
                total += float(w @ lse)
                weight += float(w.sum())
            del x, lse
        return total / weight


def _with_row_offset(start, func, *args, **kwargs):
    """Call a kernel wrapper on a piece; say where the piece starts if it fails."""
    try:
        return func(*args, **kwargs)
    except ValueError as exc:
        if start == 0:
            raise
        raise ValueError(
            f"{exc} (Row numbers count from row {start} of X: the error is in the "
            f"piece of X read from row {start} on.)"
        ) from exc


def output_arrays(n_samples, n_components, dtype, *, lse=False, resp=False,
                  labels=False):
    """The per-sample outputs a piecewise pass fills, in the order asked: log p(x)
    (float64), responsibilities (X's dtype), labels."""
    outs = []
    if lse:
        outs.append(np.empty(n_samples))
    if resp:
        outs.append(np.empty((n_samples, n_components), dtype=dtype))
    if labels:
        outs.append(np.empty(n_samples, dtype=np.intp))
    return outs
