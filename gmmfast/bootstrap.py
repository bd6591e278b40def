"""Standard errors of a fitted mixture by the weighted likelihood bootstrap.

Public names
------------
bootstrap
    Refit a fitted GaussianMixture under random sample weights, ``n_boot`` times.
BootstrapResult
    The replicates' parameters, their standard errors and percentile intervals.

mclust's ``MclustBootstrap(fit, nboot, type = "wlbs")`` (Newton & Raftery 1994; O'Hagan
et al. 2019): each replicate draws a weight per row from the standard exponential
distribution (the rows' weights are then n times a flat Dirichlet draw, up to a scale
that no estimate depends on) and runs EM with those sample weights from the fitted
model, so that its components stay the fitted model's, in the same order. A replicate
whose EM fails (a component collapses) is drawn again, at most ``10 n_boot`` times in
all, as mclust's ``max.nonfit``.
"""

import warnings
from numbers import Integral

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._gaussian_mixture import GaussianMixture


class BootstrapResult:
    """The replicates of :func:`bootstrap`.

    Attributes
    ----------
    weights : ndarray of shape (n_boot, n_components)
    means : ndarray of shape (n_boot, n_components, n_features)
    covariances : ndarray of shape (n_boot, *covariances_.shape)
        Each replicate's ``covariances_``, in the fitted model's layout.
    n_boot : int
        Replicates kept.
    n_failed : int
        Replicates whose EM failed and were drawn again.
    """

    def __init__(self, weights, means, covariances, n_failed):
        self.weights = weights
        self.means = means
        self.covariances = covariances
        self.n_boot = len(weights)
        self.n_failed = n_failed

    def _arrays(self):
        return {"weights": self.weights, "means": self.means,
                "covariances": self.covariances}

    def standard_errors(self):
        """Standard deviations over the replicates (mclust's ``summary(boot, "se")``).

        Returns
        -------
        se : dict
            ``{'weights': (K,), 'means': (K, D), 'covariances': covariances_' shape}``.
        """
        if self.n_boot < 2:
            raise ValueError("Standard errors need at least 2 replicates; use n_boot >= 2.")
        return {k: v.std(axis=0, ddof=1) for k, v in self._arrays().items()}

    def confidence_intervals(self, level=0.95):
        """Percentile intervals over the replicates (mclust's ``summary(boot, "ci")``).

        Parameters
        ----------
        level : float in (0, 1), default=0.95

        Returns
        -------
        ci : dict
            The same keys as :meth:`standard_errors`, each ``(lower, upper)``.
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {level!r}.")
        q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
        return {k: tuple(np.quantile(v, q, axis=0)) for k, v in self._arrays().items()}


def bootstrap(gmm, X, n_boot=999, random_state=None):
    """Refit a fitted mixture under random sample weights: the weighted likelihood bootstrap.

    Each replicate fits a copy of ``gmm`` (the same covariance type, ``tol``,
    ``reg_covar``, ``max_iter``, ``n_threads``) to ``X`` with sample weights drawn
    from the standard exponential distribution, starting from ``gmm``'s fitted
    weights, means and precisions: mclust's ``MclustBootstrap(fit, nboot, type =
    "wlbs")``. Sample weights make a replicate cost one weighted fit of X, with no
    resampled copy of the data.

    Parameters
    ----------
    gmm : GaussianMixture, fitted
    X : array-like of shape (n_samples, n_features)
        The data ``gmm`` was fitted on.
    n_boot : int, default=999
        Replicates to keep.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights.

    Returns
    -------
    result : BootstrapResult
        The replicates, ``standard_errors()`` and ``confidence_intervals()``.

    Raises
    ------
    ValueError
        If ``gmm`` is not fitted, n_boot is not a positive int, X has the wrong number
        of features, or more than ``10 n_boot`` replicates fail.
    """
    if not isinstance(gmm, GaussianMixture):
        raise TypeError(f"bootstrap needs a fitted gmmfast.GaussianMixture, got {gmm!r}.")
    check_is_fitted(gmm)
    if isinstance(n_boot, bool) or not isinstance(n_boot, Integral) or n_boot < 1:
        raise ValueError(f"n_boot must be an int >= 1, got {n_boot!r}.")
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != gmm.means_.shape[1]:
        raise ValueError(
            f"X must be 2-D with {gmm.means_.shape[1]} features, as the model was "
            f"fitted on; got shape {X.shape}.")
    rng = check_random_state(random_state)
    n = X.shape[0]
    start = clone(gmm).set_params(weights_init=gmm.weights_, means_init=gmm.means_,
                                  precisions_init=gmm.precisions_, n_init=1)
    weights, means, covs = [], [], []
    failed = capped = 0
    while len(weights) < n_boot:
        w = rng.standard_exponential(size=n)
        w /= w.max()  # mclust's scale; no estimate depends on it
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                rep = clone(start).fit(X, sample_weight=w)
        except ValueError as exc:  # a component collapsed under these weights
            failed += 1
            if failed > 10 * n_boot:
                raise ValueError(
                    f"{failed} bootstrap replicates failed (the last: {exc}); the fitted "
                    "model has a component too small to refit under random weights. "
                    "Raise reg_covar or lower n_components.") from exc
            continue
        capped += not rep.converged_
        weights.append(rep.weights_)
        means.append(rep.means_)
        covs.append(rep.covariances_)
    if capped:
        warnings.warn(
            f"EM stopped at max_iter={gmm.max_iter} in {capped} of {n_boot} bootstrap "
            "replicates; increase max_iter or tol.", ConvergenceWarning, stacklevel=2)
    return BootstrapResult(np.array(weights), np.array(means), np.array(covs), failed)
