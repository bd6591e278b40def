"""Gaussian mixture regression: a joint mixture over (X, y), conditioned on X."""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._gaussian_mixture import GaussianMixture


class GaussianMixtureRegressor(RegressorMixin, BaseEstimator):
    """Regression by a Gaussian mixture fitted to the joint data (X, y).

    ``fit`` fits a :class:`GaussianMixture` to the rows [x, y]; ``predict`` returns
    E[y | x] under it, the mean of the conditional mixture p(y | x) (see
    :meth:`GaussianMixture.condition`), which is a smooth, possibly multimodal,
    heteroscedastic model of y given x (Gaussian mixture regression, Ghahramani &
    Jordan 1994; Sung 2004).

    Parameters
    ----------
    n_components : int, default=1
        Components of the joint mixture.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Of the joint mixture. Only 'full' and 'tied' couple y to x within a
        component; with 'diag' or 'spherical' x moves the prediction only through
        the components' weights.
    tol, reg_covar, max_iter, n_init, init_params, random_state, n_threads :
        As for :class:`GaussianMixture`, passed to the joint fit. ``random_state``
        also seeds :meth:`sample_y` when it is not given one.

    Attributes
    ----------
    mixture_ : GaussianMixture
        The joint mixture over the features then the targets.
    n_features_in_ : int
    n_targets_ : int
    n_iter_ : int
        EM iterations of the joint fit's best initialisation.
    converged_ : bool
        Whether the joint fit converged.

    Examples
    --------
    >>> import numpy as np
    >>> from gmmfast import GaussianMixtureRegressor
    >>> x = np.linspace(-3, 3, 400)[:, None]
    >>> y = np.sin(x).ravel()
    >>> reg = GaussianMixtureRegressor(n_components=8, random_state=0).fit(x, y)
    >>> bool(np.abs(reg.predict(x) - y).max() < 0.1)
    True
    """

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3,
                 reg_covar=1e-6, max_iter=100, n_init=1, init_params="kmeans",
                 random_state=None, n_threads=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, X, y, sample_weight=None):
        """Fit the joint mixture to the rows [x, y].

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GaussianMixtureRegressor
        """
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=[np.float64, np.float32])
        self._y_1d = y.ndim == 1
        Y = y.reshape(len(y), -1).astype(X.dtype, copy=False)
        self.n_targets_ = Y.shape[1]
        self.mixture_ = GaussianMixture(
            self.n_components, covariance_type=self.covariance_type, tol=self.tol,
            reg_covar=self.reg_covar, max_iter=self.max_iter, n_init=self.n_init,
            init_params=self.init_params, random_state=self.random_state,
            n_threads=self.n_threads,
        ).fit(np.hstack([X, Y]), sample_weight=sample_weight)
        self.n_iter_ = self.mixture_.n_iter_
        self.converged_ = self.mixture_.converged_
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _conditional(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.mixture_.condition(np.arange(self.n_features_in_), X)

    def _shape(self, a):
        return a[:, 0] if self._y_1d else a

    def predict(self, X, return_std=False):
        """E[y | x]; with ``return_std``, also the standard deviation of y | x.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_targets)
        y_std : ndarray of the same shape, only with ``return_std``
            sqrt(Var[y | x]) of the conditional mixture (within and between its
            components).
        """
        cond = self._conditional(X)
        mean = self._shape(cond.mean())
        if not return_std:
            return mean
        return mean, self._shape(cond.std())

    def sample_y(self, X, n_samples=1, random_state=None):
        """Draws of y from p(y | x) for each row of X.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
        n_samples : int, default=1
            Draws per row.
        random_state : int, RandomState instance or None, default=None
            None: the estimator's ``random_state``.

        Returns
        -------
        y_samples : ndarray of shape (n_samples_X, n_samples) or
            (n_samples_X, n_targets, n_samples)
            As scikit-learn's GaussianProcessRegressor.sample_y lays them out.
        """
        cond = self._conditional(X)
        rng = check_random_state(self.random_state if random_state is None
                                 else random_state)
        draws = cond.sample(n_samples, random_state=rng)     # (n, s, t)
        return draws[:, :, 0] if self._y_1d else draws.transpose(0, 2, 1)
