"""Sufficient statistics -> parameters, and the precision Cholesky factors.

Everything here works on K x D x D numbers in float64, whatever the data's dtype.
"""

import math
from dataclasses import dataclass

import numpy as np

from . import _kernels


@dataclass
class SuffStats:
    """Sums over samples that one EM iteration needs (docs/architecture.md).

    Attributes
    ----------
    N : ndarray (K,)
        sum_i w_i r_ik.
    S1 : ndarray (K, D)
        sum_i w_i r_ik (x_i - shift_k).
    S2 : ndarray
        Second moments about the shift: 'full' (K, D, D); 'tied' (D, D), the data's
        scatter sum_i w_i (x_i - c)(x_i - c)^T; 'diag' (K, D); 'spherical' (K,).
    L : float
        sum_i w_i log p(x_i) under the parameters the statistics were taken with.
    sum_w : float
        sum_i w_i (the number of samples when unweighted).
    shift : ndarray
        'full': (K, D), the means the moments are taken about; else (D,), the global c.
    moment_weights : ndarray or None
        The model's weights W (K, D(D+1)/2 + D + 1) when it ran the moment rows
        ('full', ROUTE_FULL_MOMENTS: _estep.KernelModel), else None. Its log-density
        of a row is W_k . [z_a z_b (a >= b), z_a, 1] with z = x - c, so
        W_k . [S2_k (a >= b), S1_k, N_k] is sum_i w_i r_ik log(pi_k N_k(x_i)), which the
        Bayesian mixture's lower bound needs (_variational.resp_entropy_sum).
    """

    N: np.ndarray
    S1: np.ndarray
    S2: np.ndarray
    L: float
    sum_w: float
    shift: np.ndarray
    moment_weights: np.ndarray = None

    def __add__(self, other):
        """Statistics of the union of two disjoint sets of samples (same shift)."""
        if not np.array_equal(self.shift, other.shift):
            raise ValueError("cannot add statistics taken about different shifts")
        return SuffStats(
            self.N + other.N,
            self.S1 + other.S1,
            self.S2 + other.S2,
            self.L + other.L,
            self.sum_w + other.sum_w,
            self.shift,
            # the same model on both sides (the same shift says so for moment rows)
            self.moment_weights if other.moment_weights is not None else None,
        )


def m_step(stats, covariance_type, reg_covar, eps):
    """Maximise the expected log-likelihood given the statistics.

    Matches scikit-learn's M-step: ``nk = N + 10 eps``, means ``sum r x / nk``,
    covariances about the new means divided by nk, ``reg_covar`` on the diagonal,
    weights ``nk / sum(nk)``.

    Parameters
    ----------
    stats : SuffStats
    covariance_type : str
    reg_covar : float
    eps : float
        Machine epsilon of the data's dtype (scikit-learn's ``10 * eps`` guard).

    Returns
    -------
    weights, means, covariances : float64 arrays (weights sum to 1).
    """
    nk, means, cov = m_step_moments(stats, covariance_type, reg_covar, eps)
    return nk / nk.sum(), means, cov


#: |S1| from which the scatter's centring S1 S1^T / N overflows float64 (2^511 squared
#: is 2^1022, a factor 4 below the largest double: room for the sum over components)
_SUM_MAX = 2.0 ** 511


def check_sums(stats):
    """Raise a clear error when the statistics are too large for the M-step: its
    centring squares S1, so first moments beyond ~1e154 (huge weights, or data far
    from the shift) overflow there, as does a second moment that is itself infinite.
    Left alone they made 'full' report a collapsed component and 'diag' fit every
    variance to reg_covar. S2 is not squared: it may reach the largest double. Reads
    S1 and the diagonal of S2 (no entry of a scatter exceeds its diagonal's largest).
    Called where a fit fails (a factor that is not positive definite) and where an
    overflow would pass silently, not on every M-step: on a fit of a few hundred rows
    its ~4 us are a sixth of an iteration."""
    s1 = float(np.abs(stats.S1).max(initial=0.0))
    s2 = stats.S2
    if s2.ndim == 3:          # 'full': the diagonals (the others: every entry)
        s2 = s2.reshape(s2.shape[0], -1)[:, :: s2.shape[-1] + 1]
    s2 = float(np.abs(s2).max(initial=0.0))
    if s1 < _SUM_MAX and s2 <= np.finfo(np.float64).max:   # (False for NaN too)
        return
    top = max(s1, s2)
    raise ValueError(
        f"The weighted sums of the data reach {top:.3g}, too large for float64 "
        f"(the M-step squares sums beyond ~1e154): the sample weights sum to "
        f"{float(stats.sum_w):.3g}. Scale X or sample_weight down (GaussianMixture.fit "
        f"reads only the weights' ratios; the Bayesian mixture's priors count samples, "
        f"so scale them with the weights).")


def m_step_moments(stats, covariance_type, reg_covar, eps):
    """m_step's (nk, means, covariances), nk = N + 10 eps, without the weights (the
    Bayesian mixture's posterior update takes the counts)."""
    nk = stats.N + 10 * eps
    if covariance_type == "full":
        # compiled (_kernels.m_step_full): the formulas below, per component, in one
        # call instead of a dozen small array operations an iteration
        means, cov = _kernels.m_step_full(
            stats.N, stats.S1, stats.S2, stats.shift, reg_covar, eps)
        return nk, means, cov
    d = stats.S1 / nk[:, None]
    # scikit-learn's mean sum(r x) / nk, written about the shift: shift * N / nk + d.
    # N / nk is 1 to within an ulp unless the component is starved (N ~ 0): then,
    # as in scikit-learn, its mean goes to 0 instead of staying at the shift.
    means = stats.shift * (stats.N / nk)[:, None] + d
    # Scatter about each component's weighted mean: S2 - S1 S1^T / N (not / nk: with
    # nk the 10 eps guard leaves S1 S1^T (10 eps / nk) / N behind, which for a nearly
    # starved component that moved far from its shift is not small: measured 1e-2
    # relative). Divided by nk, as scikit-learn divides it.
    if covariance_type == "tied":
        scaled = _safe_divide(stats.S1, np.sqrt(stats.N)[:, None])
        cov = stats.S2 - scaled.T @ scaled
        cov /= nk.sum()
        _add_to_diagonal(cov, reg_covar)
    elif covariance_type == "diag":
        # the scatter about the weighted mean, sum r (x-c)^2 - (sum r (x-c))^2 / N,
        # is >= 0 exactly; divided by nk as scikit-learn divides it
        centring = _safe_divide(stats.S1 * stats.S1, stats.N[:, None])
        _check_centring(centring, stats)
        cov = _above_rounding(stats.S2, centring) / nk[:, None] + reg_covar
    else:
        centring = _safe_divide(np.einsum("kd,kd->k", stats.S1, stats.S1), stats.N)
        _check_centring(centring, stats)
        var = _above_rounding(stats.S2, centring) / nk
        cov = var / means.shape[1] + reg_covar
    return nk, means, cov


def _safe_divide(num, den):
    """num / den, 0 where den is 0 (a starved component: its sums are all 0)."""
    if den.min() > 0:  # the usual case, without the masked division's set-up
        return num / den
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape))
    np.divide(num, den, out=out, where=den > 0)
    return out


def _check_centring(centring, stats):
    """An infinite centring would make _above_rounding zero every variance (silently
    reg_covar): check_sums' error instead. One sum (~1 us)."""
    if not math.isfinite(float(centring.sum())):
        check_sums(stats)


def _above_rounding(second, centring):
    """second - centring, a scatter about the mean; 0 where it is rounding noise.

    Both terms are float64 sums, each correct to a few eps of ``second``; a difference
    below 8 eps * second carries no information (e.g. a component on identical points
    far from the shift), so it is 0 (never negative): regularised by reg_covar, or
    reported as a collapse when reg_covar is 0, instead of a spike of variance 1e-13.
    """
    var = second - centring
    var[var <= 8 * np.finfo(np.float64).eps * second] = 0.0
    return var


def _add_to_diagonal(mats, value):
    """mats[..., i, i] += value, in place, for C-contiguous (..., d, d) mats."""
    d = mats.shape[-1]
    mats.reshape(-1, d * d)[:, :: d + 1] += value


def _collapse_message(component, covariance_type, reg_covar, n_components, dtype):
    who = "The shared covariance" if covariance_type == "tied" else f"Component {component}"
    msg = (
        f"{who} has a covariance that is not positive definite (it has collapsed "
        "onto too few, or identical, samples), so the fit cannot continue. "
        f"Increase reg_covar (now {reg_covar:g}), lower n_components (now "
        f"{n_components}), or scale the features of X."
    )
    if dtype == np.float32:
        msg += " Passing float64 data instead of float32 also helps."
    return msg


_SQRT_MAX = {np.dtype(t): float(np.sqrt(np.finfo(t).max)) for t in (np.float32, np.float64)}


#: Factorise components on several threads only above this many flops (K D^3):
#: below it, waking threads costs more than the factorisations.
MIN_CHOLESKY_FLOPS_THREADED = 2**20


def factor_threads(n_threads, n_components, n_features):
    """The threads for K factorisations (or products) of D x D matrices, one component
    each: ``n_threads`` from MIN_CHOLESKY_FLOPS_THREADED flops (K D^3) on, else 1."""
    if n_components > 1 and n_components * n_features**3 >= MIN_CHOLESKY_FLOPS_THREADED:
        return n_threads
    return 1


def precision_cholesky(covariances, covariance_type, *, reg_covar=0.0, dtype=np.float64,
                       n_threads=1):
    """Upper-triangular U with U U^T = inverse covariance, per component.

    Raises ValueError naming the component whose covariance is not positive definite.
    ``n_threads`` may factorise the components in parallel (same result).
    """
    if covariance_type in ("full", "tied"):
        mats = np.ascontiguousarray(
            covariances if covariance_type == "full" else covariances[None],
            dtype=np.float64,
        )
        out = np.empty_like(mats)
        # a factor whose square overflows X's dtype counts as a collapse too
        K, D = mats.shape[0], mats.shape[1]
        threads = factor_threads(n_threads, K, D)
        failed = _kernels.precision_cholesky(mats, out, _SQRT_MAX[np.dtype(dtype)], threads)
        if failed >= 0:
            raise ValueError(
                _collapse_message(failed, covariance_type, reg_covar, len(mats), dtype)
            )
        return out if covariance_type == "full" else out[0]
    cov = np.asarray(covariances, dtype=np.float64)
    bad = np.flatnonzero(~(cov > 0).reshape(cov.shape[0], -1).all(axis=1))
    if bad.size:
        raise ValueError(
            _collapse_message(int(bad[0]), covariance_type, reg_covar, cov.shape[0], dtype)
        )
    U = 1.0 / np.sqrt(cov)
    failed = _first_unrepresentable(U.reshape(U.shape[0], -1), dtype)
    if failed >= 0:
        raise ValueError(
            _collapse_message(failed, covariance_type, reg_covar, cov.shape[0], dtype))
    return U


def _first_unrepresentable(factors, dtype):
    """First component whose precision U^2 overflows X's dtype, else -1.

    The kernels take U (and, for 'diag', U^2) in X's dtype: a variance below ~1e-38
    (float32) or ~1e-308 (float64) is a collapse even if its Cholesky succeeded.
    """
    if max(factors.max(), -factors.min()) < np.sqrt(np.finfo(dtype).max):
        return -1  # the usual case, in two reductions (NaN takes the long way)
    with np.errstate(over="ignore"):
        square = (factors * factors).astype(dtype)
    finite = np.isfinite(square).reshape(square.shape[0], -1).all(axis=1)
    bad = np.flatnonzero(~finite)
    return int(bad[0]) if bad.size else -1


def precision_cholesky_from_precisions(precisions, covariance_type):
    """U upper-triangular with U U^T = precision (scikit-learn's flip construction)."""
    if covariance_type in ("diag", "spherical"):
        return np.sqrt(precisions)
    mats = precisions if covariance_type == "full" else precisions[None]
    # J P J = L L^T with J the exchange matrix  =>  P = (J L J)(J L J)^T, J L J upper
    flipped = np.linalg.cholesky(mats[:, ::-1, ::-1])
    U = np.ascontiguousarray(flipped[:, ::-1, ::-1])
    return U if covariance_type == "full" else U[0]


def precisions_from_cholesky(prec_chol, covariance_type):
    """precision = U U^T (or U**2 for diag and spherical)."""
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", prec_chol, prec_chol)
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol**2


def covariances_from_cholesky(prec_chol, covariance_type):
    """covariance = (U U^T)^{-1} = U^{-T} U^{-1} (or 1 / U**2)."""
    if covariance_type in ("diag", "spherical"):
        return 1.0 / prec_chol**2
    mats = prec_chol if covariance_type == "full" else prec_chol[None]
    inv = np.linalg.inv(mats)  # U^{-1}, upper triangular
    cov = np.einsum("kji,kjl->kil", inv, inv)
    return cov if covariance_type == "full" else cov[0]


def n_parameters(covariance_type, n_components, n_features):
    """Number of free parameters of the mixture (for BIC and AIC)."""
    K, D = n_components, n_features
    cov_params = {
        "full": K * D * (D + 1) / 2.0,
        "diag": K * D,
        "tied": D * (D + 1) / 2.0,
        "spherical": K,
    }[covariance_type]
    return int(cov_params + D * K + K - 1)
