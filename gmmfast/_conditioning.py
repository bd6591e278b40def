"""Conditioning a fitted mixture on some of its features; imputing missing entries.

Given the values x_O of some features O, a Gaussian mixture over (x_O, x_M) gives the
law of the remaining features M as another Gaussian mixture, in closed form:

    p(x_M | x_O) = sum_k w_k(x_O) N(x_M | mu_kM + B_k (x_O - mu_kO), C_k),
    w_k(x_O) proportional to pi_k N(x_O | mu_kO, Sigma_kOO),

with B_k and C_k as in ``_missing.Marginal`` (which computes them from one Cholesky
factor of Sigma_kOO per component). The weights are the responsibilities of the
marginal mixture over O, computed by the compiled kernels (``_estep.per_sample``).
"""

import contextlib

import numpy as np
from sklearn.utils import check_random_state

from . import _estep, _missing, _validation
from ._threads import blas_single_thread, effective_n_threads


def _kernel_parts(est):
    cov_type = est._kernel_type
    weights = np.asarray(est.weights_, dtype=np.float64)
    means = np.asarray(est.means_, dtype=np.float64)
    U = np.asarray(est.precisions_cholesky_, dtype=np.float64)
    return cov_type, weights, means, U


def _check_features(features, n_features):
    """Indices of the given features (ints in the caller's order, or a boolean mask),
    checked to be in range and distinct."""
    f = np.asarray(features)
    if f.dtype == bool:
        if f.shape != (n_features,):
            raise ValueError(
                f"A boolean mask of features must have n_features_in_ = {n_features} "
                f"entries, got shape {f.shape}.")
        f = np.flatnonzero(f)
    f = np.atleast_1d(f)
    if f.ndim != 1 or f.dtype.kind not in "iu":
        raise ValueError(
            "features must be a sequence of feature indices (ints) or a boolean mask, "
            f"got {features!r}.")
    if f.size and (f.min() < 0 or f.max() >= n_features):
        raise ValueError(
            f"features must be indices in [0, {n_features - 1}], got {f.tolist()}.")
    if np.unique(f).size != f.size:
        raise ValueError(f"features must be distinct, got {f.tolist()}.")
    if f.size == 0 or f.size == n_features:
        raise ValueError(
            "Give the values of at least one feature and leave at least one to "
            f"predict: got {f.size} of the model's {n_features} features.")
    return f


class ConditionalMixture:
    """The mixtures p(x_M | x_O) of the remaining features, one per row of values.

    Returned by :meth:`GaussianMixture.condition` for a 2-D array of values. Each row
    i is a Gaussian mixture over the features ``features_`` with weights
    ``weights_[i]``, means ``means_[i]`` and the covariances ``covariances_`` (which
    do not depend on the given values).

    Attributes
    ----------
    features_ : ndarray of shape (n_remaining,)
        Indices, in the fitted model's features, of the features this mixture is over.
    covariance_type : str
        The layout of ``covariances_`` (the fitted model's kernel type).
    weights_ : ndarray of shape (n_rows, n_components)
        The posterior probability of each component given the row's values.
    means_ : ndarray of shape (n_rows, n_components, n_remaining)
        E[x_M | x_O, component k].
    covariances_ : ndarray
        Cov[x_M | x_O, component k]: (n_components, n_remaining, n_remaining)
        'full', (n_remaining, n_remaining) 'tied', (n_components, n_remaining)
        'diag', (n_components,) 'spherical'.
    """

    def __init__(self, features, covariance_type, weights, means, covariances, dtype):
        self.features_ = features
        self.covariance_type = covariance_type
        self.weights_ = weights
        self.means_ = means
        self.covariances_ = covariances
        self._dtype = dtype

    def __len__(self):
        return self.weights_.shape[0]

    def _full_covariances(self):
        """(K, r, r) covariances for every layout."""
        K, r = self.means_.shape[1:]
        c = self.covariances_
        if self.covariance_type == "full":
            return c
        if self.covariance_type == "tied":
            return np.broadcast_to(c, (K, r, r))
        if self.covariance_type == "diag":
            return np.einsum("kr,rs->krs", c, np.eye(r))
        return c[:, None, None] * np.eye(r)

    def mean(self):
        """E[x_M | x_O] of each row: ndarray of shape (n_rows, n_remaining)."""
        return np.einsum("nk,nkr->nr", self.weights_, self.means_)

    def covariance(self):
        """Cov[x_M | x_O] of each row, the mixture's total covariance (within plus
        between components): ndarray of shape (n_rows, n_remaining, n_remaining)."""
        mean = self.mean()
        within = np.einsum("nk,krs->nrs", self.weights_, self._full_covariances())
        d = self.means_ - mean[:, None, :]
        between = np.einsum("nk,nkr,nks->nrs", self.weights_, d, d)
        return within + between

    def std(self):
        """Standard deviation of each remaining feature given the row's values:
        ndarray of shape (n_rows, n_remaining)."""
        return np.sqrt(np.maximum(np.diagonal(self.covariance(), axis1=1, axis2=2), 0.0))

    def sample(self, n_samples=1, random_state=None):
        """Draws from each row's conditional mixture.

        Parameters
        ----------
        n_samples : int, default=1
            Draws per row.
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X : ndarray of shape (n_rows, n_samples, n_remaining)
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) \
                or n_samples < 1:
            raise ValueError(f"n_samples must be a positive int, got {n_samples!r}.")
        rng = check_random_state(random_state)
        return _draw(self.weights_, self.means_, self._full_covariances(), n_samples, rng)

    def __getitem__(self, i):
        """Row i's conditional mixture as a fitted GaussianMixture over ``features_``."""
        from ._gaussian_mixture import GaussianMixture

        return _as_estimator(GaussianMixture, self.covariance_type, self.weights_[i],
                             self.means_[i], self.covariances_, self._dtype)


def _components(weights, n_samples, rng):
    """(n, n_samples) components drawn from each row's weights (n, K): one uniform
    draw each, against the row's cumulative weights."""
    K = weights.shape[1]
    cum = np.cumsum(weights, axis=1)
    u = rng.random_sample((weights.shape[0], n_samples)) * cum[:, -1:]
    return np.minimum((u[:, :, None] > cum[:, None, :]).sum(axis=2), K - 1)


def _draw(weights, means, covs, n_samples, rng):
    """n_samples draws per row of the mixtures (weights (n, K), means (n, K, r),
    covariances (K, r, r)): a component from the row's weights, then a Gaussian."""
    n, K, r = means.shape
    L = np.linalg.cholesky(covs + 0.0)  # conditional covariances are positive definite
    comp = _components(weights, n_samples, rng)
    z = rng.standard_normal((n, n_samples, r))
    rows = np.arange(n)[:, None]
    return means[rows, comp] + np.einsum("nsrt,nst->nsr", L[comp], z)


def _as_estimator(cls, covariance_type, weights, means, covariances, dtype):
    """A fitted estimator of the given parameters."""
    from . import _mstep

    est = cls(n_components=len(weights), covariance_type=covariance_type)
    prec_chol = _mstep.precision_cholesky(np.asarray(covariances, dtype=np.float64),
                                          covariance_type, dtype=dtype)
    est._set_parameters((weights, means, covariances, prec_chol), dtype)
    est.n_features_in_ = means.shape[1]
    est.converged_ = True
    est.n_iter_ = 0
    est.lower_bound_ = -np.inf
    est.lower_bounds_ = []
    return est


def condition(est, features, values):
    """GaussianMixture.condition (see there)."""
    cov_type, weights, means, U = _kernel_parts(est)
    K, D = means.shape
    O = _check_features(features, D)
    M = np.setdiff1d(np.arange(D), O)
    v = np.asarray(values, dtype=np.float64)
    one = v.ndim == 1
    v2 = np.ascontiguousarray(v[None] if one else v)
    if v2.ndim != 2 or v2.shape[1] != O.size:
        raise ValueError(
            f"values must have shape ({O.size},) or (n_rows, {O.size}): one value per "
            f"given feature; got shape {v.shape}.")
    if v2.shape[0] == 0:
        raise ValueError("values has no rows.")
    _validation.check_finite(v2, name="values")
    dtype = np.asarray(est.means_).dtype
    cov = _missing.full_covariances(cov_type, U)
    marg = _missing.Marginal(cov_type, weights, means, cov, U, O, M, np.float64)
    n_threads = effective_n_threads(est.n_threads)
    with blas_single_thread():
        (resp,) = _estep.per_sample(v2, marg.model, n_threads, resp=True)
    cmeans = marg.conditional_means(v2)
    ccov = marg.C  # in the covariance type's layout, over the remaining features
    if one:
        from ._gaussian_mixture import GaussianMixture

        return _as_estimator(GaussianMixture, cov_type, resp[0], cmeans[0], ccov, dtype)
    return ConditionalMixture(M, cov_type, resp, np.ascontiguousarray(cmeans), ccov, dtype)


def impute(est, X, method="mean", random_state=None):
    """GaussianMixture.impute (see there)."""
    if method not in ("mean", "sample"):
        raise ValueError(f"method must be 'mean' or 'sample', got {method!r}.")
    X = _validation.check_X(est, X, reset=False, allow_nan=True)
    if np.isinf(X).any():
        row = int(np.flatnonzero(np.isinf(X).any(axis=1))[0])
        raise ValueError(f"X contains infinity (inf) in row {row}; only NaN marks a "
                         "missing entry: clip or remove such values.")
    out = X.copy()
    mask = np.isnan(X)
    if not mask.any():
        return out
    rng = check_random_state(random_state) if method == "sample" else None
    cov_type, weights, means, U = _kernel_parts(est)
    K, D = means.shape
    X64 = np.ascontiguousarray(X, dtype=np.float64)
    models = _missing.MarginalModels(cov_type, weights, means, U, np.float64)
    empty = mask.all(axis=1)
    n_threads = effective_n_threads(est.n_threads)
    has_missing = np.flatnonzero(mask.any(axis=1) & ~empty)
    with blas_single_thread():
        if has_missing.size:
            _impute_rows(models, X64[has_missing], has_missing, n_threads, out, rng)
    if empty.any():  # nothing observed: the mixture itself
        rows = np.flatnonzero(empty)
        if method == "mean":
            out[rows] = weights @ means
        else:
            covs = _full(cov_type, models.covariances, K, D)
            w = np.broadcast_to(weights, (rows.size, K))
            m = np.broadcast_to(means, (rows.size, K, D))
            out[rows] = _draw(w, m, covs, 1, rng)[:, 0]
    return out


def _impute_rows(models, sub, rows, n_threads, out, rng=None):
    """out[rows] := sub's rows (float64, each with a missing and an observed entry)
    with their missing entries imputed: their conditional means, or with ``rng`` a
    draw from their conditional law (a component from the row's responsibilities, then
    its conditional Gaussian). Grouped as the fit groups rows: 'diag' and 'spherical'
    (features independent given the component) all rows at once, from the marginal
    responsibilities; 'full' and 'tied' a pattern at a time where its rows are many,
    the others row by row in the compiled pass (one Python call per pattern made
    imputing wide data with holes at random cost milliseconds a row)."""
    from . import _missing_rowpath

    K = models.n_components
    plan = _missing.prepare(models.covariance_type, sub, None, 0, K)
    filled = sub.copy()
    mask = np.isnan(sub)
    if isinstance(plan, _missing.AugmentedRows):
        resp = np.empty((sub.shape[0], K))
        with _naming_rows_of(rows):
            _missing.piece_outputs(models, plan, 0, n_threads, [resp], resp=True)
        if rng is None:
            filled[mask] = (resp @ models.means)[mask]
        else:
            var = models.covariances
            if var.ndim == 1:   # 'spherical'
                var = np.repeat(var[:, None], sub.shape[1], axis=1)
            comp = _components(resp, 1, rng)[:, 0]
            z = rng.standard_normal(sub.shape)
            filled[mask] = (models.means[comp] + np.sqrt(var[comp]) * z)[mask]
        out[rows] = filled.astype(out.dtype, copy=False)
        return
    for group in plan.groups:
        if rng is None:
            values, lse = _missing_rowpath.rows_conditional_means(models, group, n_threads)
        else:
            values, lse = _missing_rowpath.rows_conditional_draws(
                models, group, lambda resp: (
                    _components(resp, 1, rng)[:, 0],
                    rng.standard_normal((resp.shape[0], group.Mi.shape[1]))),
                n_threads)
        bad = ~np.isfinite(lse)
        if bad.any():
            raise _estep._zero_density_error(int(rows[group.rows[bad]].min()))
        r = np.repeat(np.arange(group.nm.size), group.nm)
        a = np.arange(r.size) - np.repeat(np.cumsum(group.nm) - group.nm, group.nm)
        filled[group.rows[r], group.Mi[r, a]] = values[r, a]
    for pat in plan.patterns:
        if pat.missing.size == 0:
            continue
        marg = models.of(pat.observed, pat.missing)
        with _naming_rows_of(rows[pat.rows]):
            (resp,) = _estep.per_sample(pat.X, marg.model, n_threads, resp=True)
        if rng is None:
            fill = marg.conditional_means(pat.X, resp)
        else:
            fill = _draw(resp, marg.conditional_means(pat.X),
                         marg.conditional_covariances(), 1, rng)[:, 0]
        filled[np.ix_(pat.rows, pat.missing)] = fill
    out[rows] = filled.astype(out.dtype, copy=False)


@contextlib.contextmanager
def _naming_rows_of(rows):
    """Re-raise a kernel's "Row i of X ..." error about row i of a subset as the row
    ``rows[i]`` of X."""
    try:
        yield
    except ValueError as exc:
        msg = str(exc)
        if not msg.startswith("Row "):
            raise
        local = int(msg.split()[1])
        raise ValueError(f"Row {int(rows[local])}" + msg[msg.index(" of "):]) from exc


def _full(cov_type, cov, K, D):
    if cov_type == "full":
        return cov
    if cov_type == "tied":
        return np.broadcast_to(cov, (K, D, D))
    if cov_type == "diag":
        return np.einsum("kd,de->kde", cov, np.eye(D))
    return cov[:, None, None] * np.eye(D)
