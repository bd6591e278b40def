"""gmmfast: a scikit-learn compatible Gaussian mixture model with compiled EM kernels.

Public names
------------
GaussianMixture
    Drop-in replacement for :class:`sklearn.mixture.GaussianMixture`.
GaussianMixtureRegressor
    Gaussian mixture regression: a joint mixture of (X, y) conditioned on X.
ConditionalMixture
    What GaussianMixture.condition returns for many rows: one mixture per row.
BayesianGaussianMixture
    Drop-in replacement for :class:`sklearn.mixture.BayesianGaussianMixture`.
select_model
    Choose the number of components and the covariance type by BIC or AIC.
SelectionResult
    The score table, best parameters and best model that select_model returns.
bootstrap, BootstrapResult
    Standard errors of a fitted mixture by the weighted likelihood bootstrap (mclust's
    ``MclustBootstrap(type = "wlbs")``).
show_config
    How gmmfast was built (OpenMP) and how many threads a fit uses.

Plots live in :mod:`gmmfast.plot` (needs matplotlib: ``pip install "gmmfast[plot]"``),
imported only when asked for.
"""

__version__ = "0.1.0"

from ._bayesian_mixture import BayesianGaussianMixture
from ._conditioning import ConditionalMixture
from ._gaussian_mixture import GaussianMixture
from ._regressor import GaussianMixtureRegressor
from ._threads import show_config
from ._validation import InvalidParameterError
from .bootstrap import BootstrapResult, bootstrap
from .selection import SelectionResult, select_model

__all__ = [
    "BayesianGaussianMixture",
    "BootstrapResult",
    "ConditionalMixture",
    "GaussianMixture",
    "GaussianMixtureRegressor",
    "InvalidParameterError",
    "SelectionResult",
    "bootstrap",
    "select_model",
    "show_config",
    "__version__",
]
