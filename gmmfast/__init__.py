"""gmmfast: a scikit-learn compatible Gaussian mixture model with compiled EM kernels.

Public names
------------
GaussianMixture
    Drop-in replacement for :class:`sklearn.mixture.GaussianMixture`.
show_config
    How gmmfast was built (OpenMP) and how many threads a fit uses.
"""

__version__ = "0.1.0"

from ._gaussian_mixture import GaussianMixture
from ._threads import show_config
from ._validation import InvalidParameterError

__all__ = ["GaussianMixture", "InvalidParameterError", "show_config", "__version__"]
