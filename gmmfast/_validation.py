"""Input checking with clear messages: what was wrong and what to change.

Every array that reaches the compiled kernels has passed through here: 2-D, float32 or
float64, C-contiguous, finite, with the number of features the model expects.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils.validation import validate_data

from . import _kernels
from ._mclust_models import COVARIANCE_TYPES
from ._threads import effective_n_threads

#: scikit-learn's four, then mclust's fourteen models
_COVARIANCE_TYPES = COVARIANCE_TYPES
_INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data",
                "hierarchical")


class InvalidParameterError(ValueError, TypeError):
    """A constructor parameter has a wrong type or value.

    Inherits from both ValueError and TypeError, as scikit-learn's own
    InvalidParameterError does, so code written for scikit-learn catches it.
    """


def _rows_summary(mask_rows):
    rows = np.flatnonzero(mask_rows)
    return f"{rows.size} row{'s' if rows.size != 1 else ''} (first: row {rows[0]})"


#: bytes of the finiteness check's boolean temporary, for arrays the compiled check does
#: not take: X is checked this many entries at a time, not whole (one byte an entry:
#: 16 MB at 10^6 x 16, the one temporary that grew with N in a fit from explicit
#: initial parameters)
_FINITE_CHECK_BYTES = 1 << 20
#: from this many entries the compiled check runs on the estimator's threads
_FINITE_THREADED_SIZE = 1 << 20


def _all_finite(X, n_threads):
    if (isinstance(X, np.ndarray) and X.dtype in _FLOAT_DTYPES
            and X.flags.c_contiguous and X.ndim == 2):
        # compiled, vectorised and threaded: numpy's isfinite is a serial pass, a large
        # part of a prediction on big X (bench/results/geometry.md)
        # before the estimator's parameters are checked: any other value, one thread
        valid = n_threads is None or (
            isinstance(n_threads, Integral) and not isinstance(n_threads, bool)
            and (n_threads >= 1 or n_threads == -1))
        threads = effective_n_threads(n_threads) \
            if valid and X.size >= _FINITE_THREADED_SIZE else 1
        return not _kernels.any_not_finite(X, threads)
    step = max(1, _FINITE_CHECK_BYTES // X.shape[1])
    return all(np.isfinite(X[s:s + step]).all() for s in range(0, X.shape[0], step))


def check_finite(X, name="X", n_threads=1):
    """Raise ValueError naming the rows that hold NaN or infinity (X 2-D).

    n_threads: the estimator's (the answer does not depend on it)."""
    if X.size == 0:
        return
    if _all_finite(X, n_threads):
        return
    nan_rows = np.isnan(X).any(axis=1)
    if nan_rows.any():
        raise ValueError(
            f"{name} contains NaN in {_rows_summary(nan_rows)}; remove or impute them "
            "before fitting or scoring."
        )
    raise ValueError(
        f"{name} contains infinity (inf) in {_rows_summary(~np.isfinite(X).all(axis=1))}; "
        "remove those rows or clip the values."
    )


def check_X(estimator, X, *, reset, ensure_min_samples=1, allow_nan=False,
            defer_finite=False):
    """Validate X as scikit-learn does, with clearer messages.

    Returns a 2-D C-contiguous float32 or float64 array. An array that is already
    C-contiguous float32/float64 is returned without a copy; any other input (lists,
    integers, float16, Fortran order, strided views) is converted once.
    Sets or checks n_features_in_ and feature_names_in_. ``allow_nan``: NaN marks a
    missing entry (``missing='marginalize'``), checked by the caller; infinity is
    still refused. ``defer_finite``: NaN and infinity are left to the caller, whose
    kernel pass checks X as it reads it and raises ``check_finite``'s error.

    As in scikit-learn, ``fit`` (``reset=True``) converts arrays of numeric strings to
    floats, while the scoring methods (``reset=False``) refuse strings.
    """
    if _plain_float_array(estimator, X, reset, ensure_min_samples):
        # what validate_data would do with it, without its dataframe detection (on
        # scikit-learn 1.9 an entry-point scan of the installed packages, ~15 ms the
        # first time in a process: longer than a whole small fit)
        if reset:
            estimator.n_features_in_ = X.shape[1]
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
        if not (allow_nan or defer_finite):
            check_finite(X, n_threads=getattr(estimator, "n_threads", None))
        return X
    try:
        X = validate_data(
            estimator,
            X,
            reset=reset,
            # scoring: scikit-learn's dtype="numeric" (refuses strings), then a float
            # cast below; that cast is the only copy of a C-contiguous numeric array
            dtype=[np.float64, np.float32] if reset else "numeric",
            order="C" if reset else None,
            ensure_all_finite=False,
            ensure_min_samples=ensure_min_samples,
        )
    except ValueError as exc:
        raise _clearer_error(exc) from exc
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X = np.ascontiguousarray(X)
    if not (allow_nan or defer_finite):
        check_finite(X, n_threads=getattr(estimator, "n_threads", None))
    return X


def _plain_float_array(estimator, X, reset, ensure_min_samples):
    """Whether X is an ndarray that validate_data would pass through unchanged and
    with nothing to check or warn about: 2-D C-contiguous float32/float64, enough rows,
    and for scoring the fitted number of features and no fitted feature names."""
    if not (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOAT_DTYPES
            and X.flags.c_contiguous and X.shape[0] >= max(1, ensure_min_samples)
            and X.shape[1] >= 1):
        return False
    if reset:
        return True
    return (getattr(estimator, "n_features_in_", None) == X.shape[1]
            and not hasattr(estimator, "feature_names_in_"))


_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _clearer_error(exc):
    """scikit-learn's / numpy's ValueError about X, with what to change added."""
    msg = str(exc)
    if msg.startswith("Complex data not supported"):
        return ValueError(
            "Complex data not supported: gmmfast fits real data only. Pass X.real, or "
            "the real and imaginary parts as separate features: "
            "np.hstack([X.real, X.imag])."
        )
    if msg.startswith("Found array with dim"):
        return ValueError(
            f"{msg.split(' while')[0].rstrip(',')}, but X must be 2-D (n_samples, n_features). "
            "Reshape it, e.g. X.reshape(len(X), -1) to flatten each sample."
        )
    if "could not convert string to float" in msg or "bytes/strings" in msg:
        return ValueError(
            f"X must hold numbers only ({msg}). Convert the columns to numbers first, "
            "e.g. encode categorical columns with sklearn.preprocessing.OneHotEncoder."
        )
    if "inhomogeneous" in msg or "setting an array element with a sequence" in msg:
        return ValueError(
            "X must be a 2-D array-like with the same number of values in every row "
            f"({msg}). Pad or drop the short rows."
        )
    return exc


def check_representable(covariances, precisions, covariance_type, dtype):
    """Raise ValueError when the fitted model does not fit in X's dtype.

    The fit runs in float64 where it matters, but the attributes are stored in X's
    dtype: with float32 data of extreme scale a variance can overflow to inf (or a
    precision underflow to 0), which would make a silently broken model.
    """
    if covariance_type in ("full", "tied"):
        prec = np.diagonal(precisions, axis1=-2, axis2=-1)
    else:
        prec = precisions
    if np.isfinite(covariances).all() and np.isfinite(precisions).all() and (prec > 0).all():
        return
    name = np.dtype(dtype).name
    raise ValueError(
        f"The fitted variances overflow {name} (or the precisions underflow to 0): X's "
        f"scale is too extreme for {name}, whose largest value is "
        f"{np.finfo(dtype).max:.3g}. Scale the features (e.g. with "
        "sklearn.preprocessing.StandardScaler)"
        + (", or pass X as float64." if np.dtype(dtype) != np.float64 else ".")
    )


def check_sample_weight(sample_weight, n_samples):
    """Return sample weights as a float64 vector, or None when all are one.

    Weights must be finite and non-negative, one per sample, and not all zero.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, Real) and not isinstance(sample_weight, bool):
        w = np.full(n_samples, float(sample_weight))
    else:
        w = np.asarray(sample_weight)
        if w.dtype.kind not in "biuf":
            raise ValueError(
                f"sample_weight must be numeric, got an array of dtype {w.dtype}."
            )
        w = np.ascontiguousarray(w, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per row of X, "
            f"got shape {w.shape}."
        )
    if not np.isfinite(w).all():
        raise ValueError(
            f"sample_weight contains NaN or infinity at index "
            f"{int(np.flatnonzero(~np.isfinite(w))[0])}; weights must be finite."
        )
    if (w < 0).any():
        raise ValueError(
            f"sample_weight contains negative values (first at index "
            f"{int(np.flatnonzero(w < 0)[0])}); weights must be >= 0."
        )
    if not (w > 0).any():
        raise ValueError("sample_weight is zero for every sample; nothing to fit.")
    return w


def relative_weights(sample_weight):
    """``sample_weight`` times the power of two that brings its mean into [1, 2), for
    a fit whose result depends only on the weights' ratios (GaussianMixture's EM,
    whose one absolute quantity is scikit-learn's ``10 * eps`` added to each
    component's weight sum, in units of samples).

    Multiplying by a power of two is exact, so weights that differ only by such a
    factor give the same weights here, and the same fit bit for bit; a mean already
    in [1, 2) (all ones) is left as it is. Without it, uniform weights of 1e-10 moved
    the means by 1e-6 (the guard outweighing the sums), 1e-50 gave a degenerate model,
    and 1e160 overflowed the weighted sums. None, a dask array and anything
    check_sample_weight refuses are returned unchanged (refused there)."""
    if sample_weight is None or hasattr(sample_weight, "__dask_graph__"):
        return sample_weight
    if isinstance(sample_weight, Real) and not isinstance(sample_weight, bool):
        c = float(sample_weight)
        if not (np.isfinite(c) and c > 0.0):
            return sample_weight
        shift = int(np.frexp(c)[1]) - 1
        return sample_weight if shift == 0 else float(np.ldexp(c, -shift))
    w = np.asarray(sample_weight)
    if (w.dtype.kind not in "biuf" or w.ndim != 1 or w.size == 0
            or not np.isfinite(w).all() or (w < 0).any()):
        return sample_weight
    w = w.astype(np.float64, copy=False)
    top = float(w.max())
    if not top > 0.0:
        return sample_weight
    # the mean taken after scaling the largest weight into [0.5, 1): no overflow
    e_top = int(np.frexp(top)[1])
    e_mean = int(np.frexp(float(np.ldexp(w, -e_top).mean()))[1])
    shift = e_top + e_mean - 1
    if shift == 0:
        return sample_weight
    return np.ldexp(w, -shift)


def _check_int(name, value, low, high=None, allow_bool=True):
    # scikit-learn's Interval(Integral, ...) accepts bools (True == 1); so do we,
    # except where scikit-learn then fails (n_components)
    if (isinstance(value, bool) and not allow_bool) or not isinstance(value, Integral):
        raise InvalidParameterError(
            f"The '{name}' parameter of GaussianMixture must be an int, got "
            f"{value!r} of type {type(value).__name__}."
        )
    if value < low or (high is not None and value > high):
        bound = f"in the range [{low}, {high}]" if high is not None else f">= {low}"
        raise InvalidParameterError(
            f"The '{name}' parameter of GaussianMixture must be an int {bound}, got "
            f"{value!r}."
        )


def _check_real(name, value, low):
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidParameterError(
            f"The '{name}' parameter of GaussianMixture must be a float, got "
            f"{value!r} of type {type(value).__name__}."
        )
    if not (value >= low) or not np.isfinite(value):
        raise InvalidParameterError(
            f"The '{name}' parameter of GaussianMixture must be a finite float >= {low}, "
            f"got {value!r}."
        )


def _check_option(name, value, options):
    if not isinstance(value, str) or value not in options:
        # mclust's model names are upper case, as mclust spells them
        hint = (f" (mclust's model names are upper case: {value.upper()!r})"
                if isinstance(value, str) and value.upper() in options else "")
        raise InvalidParameterError(
            f"The '{name}' parameter of GaussianMixture must be one of "
            f"{', '.join(repr(o) for o in options)}, got {value!r}{hint}."
        )


def check_parameters(est):
    """Validate the scalar constructor parameters of a GaussianMixture."""
    _check_int("n_components", est.n_components, 1, allow_bool=False)
    _check_option("covariance_type", est.covariance_type, _COVARIANCE_TYPES)
    _check_real("tol", est.tol, 0.0)
    _check_real("reg_covar", est.reg_covar, 0.0)
    _check_int("max_iter", est.max_iter, 0)
    _check_int("n_init", est.n_init, 1)
    _check_option("init_params", est.init_params, _INIT_PARAMS)
    if not isinstance(est.warm_start, (bool, np.bool_)):
        raise InvalidParameterError(
            f"The 'warm_start' parameter of GaussianMixture must be a bool, got "
            f"{est.warm_start!r}."
        )
    _check_int("verbose", est.verbose, 0)
    _check_int("verbose_interval", est.verbose_interval, 1)
    if est.n_threads is not None:
        _check_int("n_threads", est.n_threads, -1, allow_bool=False)
        if est.n_threads == 0:
            raise InvalidParameterError(
                "The 'n_threads' parameter of GaussianMixture must be None, -1 (all "
                "cores) or a positive int, got 0."
            )
    rs = est.random_state
    if not (
        rs is None
        or isinstance(rs, np.random.RandomState)
        or (isinstance(rs, Integral) and 0 <= rs <= 2**32 - 1)
    ):
        raise InvalidParameterError(
            "The 'random_state' parameter of GaussianMixture must be None, an int in "
            f"[0, 2**32 - 1] or a numpy RandomState, got {rs!r}."
        )


def _as_float_array(value, name, ndim):
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"'{name}' must be numeric, got an array of dtype {arr.dtype}.")
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"'{name}' must be {ndim}-dimensional, got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise ValueError(f"'{name}' contains NaN or infinity.")
    return arr


def _check_shape(arr, shape, name):
    if arr.shape != shape:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {shape}, but got {arr.shape}."
        )


def weights_sum_tolerance(dtype):
    """How far from 1 the sum of initial weights given in ``dtype`` may be.

    scikit-learn's tolerances: 1e-6 for float32, about 8.4 ulps of 1, room for weights
    normalised in float32; 1e-8 for float64 and for what it reads as float64 (integers).
    float16 gets the same 8.4 ulps of its own.
    """
    dtype = np.dtype(dtype)
    eps32 = float(np.finfo(np.float32).eps)
    if dtype.kind == "f" and float(np.finfo(dtype).eps) >= eps32:
        return 1e-6 * (float(np.finfo(dtype).eps) / eps32)
    return 1e-8


def check_weights_init(weights, n_components):
    """Initial weights: shape (K,), in [0, 1], summing to 1 up to their dtype's rounding."""
    given = np.asarray(weights)
    w = _as_float_array(given, "weights_init", 1)
    _check_shape(w, (n_components,), "weights")
    if (w < 0).any() or (w > 1).any():
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got max value "
            f"{w.max():.5f}, min value {w.min():.5f}"
        )
    # the sum of the given values, exact to float64 rounding whatever their dtype
    total = w.sum()
    tol = weights_sum_tolerance(given.dtype)
    if abs(1.0 - total) > tol:
        raise ValueError(
            f"The parameter 'weights' should be normalized, but got sum(weights) = "
            f"{total:.5f} (1 {'+' if total > 1 else '-'} {abs(total - 1):.2g}, more than "
            f"the {tol:.2g} that {given.dtype} weights may be off); divide weights_init "
            "by its sum."
        )
    return w


def check_means_init(means, n_components, n_features):
    """Initial means: shape (K, D)."""
    m = _as_float_array(means, "means_init", 2)
    _check_shape(m, (n_components, n_features), "means")
    return m


def check_precisions_init(precisions, covariance_type, n_components, n_features):
    """Initial precisions: the shape of the covariance type, positive (definite)."""
    shapes = {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }
    p = _as_float_array(precisions, "precisions_init", len(shapes[covariance_type]))
    _check_shape(p, shapes[covariance_type], f"{covariance_type} precision")
    if covariance_type in ("diag", "spherical"):
        if (p <= 0).any():
            raise ValueError(f"'{covariance_type} precision' should be positive")
        return p
    mats = p if covariance_type == "full" else p[None]
    for k, mat in enumerate(mats):
        if not np.allclose(mat, mat.T) or np.linalg.eigvalsh(mat).min() <= 0:
            where = f" (component {k})" if covariance_type == "full" else ""
            raise ValueError(
                f"'{covariance_type} precision' should be symmetric, positive-definite"
                f"{where}"
            )
    return p


# ------------------------------------------------- data read piece by piece (issue 5)


def check_finite_rows(X, first_row=0, *, row_numbers=None, name="X"):
    """Raise ValueError naming the rows of a larger X that hold NaN or infinity.

    Parameters
    ----------
    X : ndarray of shape (n, D)
        A piece (or subsample) of the data.
    first_row : int, default=0
        Row number, in the whole data, of the piece's first row.
    row_numbers : ndarray of shape (n,), default=None
        Row numbers in the whole data of each row of X (for a subsample); overrides
        ``first_row``.
    name : str, default="X"
        The name used in the message.
    """
    if X.size == 0 or np.isfinite(X).all():
        return
    bad = ~np.isfinite(X).all(axis=1)
    first = int(np.flatnonzero(bad)[0])
    row = int(row_numbers[first]) if row_numbers is not None else first_row + first
    what = "NaN" if np.isnan(X[first]).any() else "infinity (inf)"
    raise ValueError(
        f"{name} contains {what} in row {row} ({int(bad.sum())} bad rows in the piece "
        f"read); remove or impute such rows before fitting or scoring."
    )


def is_row_sliceable(X):
    """True for data that gmmfast reads piece by piece instead of loading whole.

    np.memmap, and array-likes that are not numpy arrays but have a 2-D ``shape``, a
    numpy ``dtype`` and row slicing (h5py datasets, zarr arrays). Lists, pandas
    objects, sparse matrices and in-memory numpy arrays are not.
    """
    if isinstance(X, np.memmap):
        return X.ndim == 2
    if isinstance(X, (np.ndarray, list, tuple)) or hasattr(X, "iloc"):
        return False
    try:
        import scipy.sparse

        if scipy.sparse.issparse(X):
            return False
    except ImportError:  # pragma: no cover - scipy is a dependency
        pass
    shape = getattr(X, "shape", None)
    if shape is None or len(shape) != 2 or not hasattr(X, "__getitem__"):
        return False
    try:
        return np.dtype(X.dtype).kind in "biuf"
    except TypeError:
        return False


def check_row_sliceable_X(estimator, X, *, reset, ensure_min_samples=1):
    """Validate the shape and dtype of piecewise-read X without reading its rows.

    Values (NaN, infinity) are checked piece by piece as they are read. Sets (reset)
    or checks n_features_in_; such data has no feature names.
    """
    dtype = np.dtype(X.dtype)
    if dtype.kind not in "biuf":
        raise ValueError(f"X must be numeric, got an array of dtype {dtype}.")
    n_samples, n_features = (int(s) for s in X.shape)
    if n_samples < ensure_min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape=({n_samples}, {n_features})) "
            f"while a minimum of {ensure_min_samples} is required."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape=({n_samples}, 0)) while a minimum of "
            "1 is required."
        )
    check_n_features(estimator, n_features, reset=reset)
    return n_samples, n_features


def check_n_features(estimator, n_features, *, reset):
    """Set (reset) or check n_features_in_ for input without column names."""
    if reset:
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return
    expected = getattr(estimator, "n_features_in_", None)
    if expected is not None and n_features != expected:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is expecting "
            f"{expected} features as input."
        )
