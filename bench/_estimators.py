"""The two implementations under test, built the same way for every measurement.

``make(impl, n_components, n_threads, estimator="gmm", **params)`` returns an unfitted
GaussianMixture (``estimator="gmm"``) or BayesianGaussianMixture (``"bgm"``);
``thread_limit(n_threads)`` is the context every fit runs in, so that "t threads" means t
threads in total: BLAS and OpenMP pools held to t (threadpoolctl), and gmmfast given
``n_threads=t`` as well.

gmmfast is imported from wherever Python finds it: install it (``pip install .``) or put
the checkout with an in-place build on PYTHONPATH.
"""

import warnings

from threadpoolctl import threadpool_limits

IMPLS = ("sklearn", "gmmfast")
#: --estimator: the plain mixture (EM) or the variational Bayesian mixture
ESTIMATORS = ("gmm", "bgm")


import gmmfast
from gmmfast import BayesianGaussianMixture as _GmmfastBayesianGaussianMixture
from gmmfast import GaussianMixture as _GmmfastGaussianMixture


def gmmfast_version():
    return f"{gmmfast.__version__} ({gmmfast.__file__})"


def gmmfast_config():
    """What gmmfast.show_config() returns."""
    return gmmfast.show_config(file=False)


def make(impl, n_components, n_threads, estimator="gmm", **params):
    """An unfitted GaussianMixture ('gmm') or BayesianGaussianMixture ('bgm') of
    ``impl`` ('sklearn' or 'gmmfast')."""
    from sklearn.mixture import BayesianGaussianMixture as SkBayesianGaussianMixture
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; expected one of {ESTIMATORS}")
    if impl == "sklearn":
        cls = SkGaussianMixture if estimator == "gmm" else SkBayesianGaussianMixture
        return cls(n_components=n_components, **params)
    if impl != "gmmfast":
        raise ValueError(f"unknown implementation {impl!r}; expected one of {IMPLS}")
    cls = _GmmfastGaussianMixture if estimator == "gmm" else _GmmfastBayesianGaussianMixture
    return cls(n_components=n_components, n_threads=n_threads, **params)


def lower_bound(est):
    """lower_bound_ as a float (scikit-learn's 'tied' Bayesian bound is a 1-array)."""
    import numpy as np

    return float(np.ravel(est.lower_bound_)[0])


def thread_limit(n_threads):
    """Context holding BLAS and OpenMP pools to ``n_threads``."""
    return threadpool_limits(limits=n_threads)


class Quiet:
    """``with Quiet():`` silences ConvergenceWarning (and gmmfast's own, if it has one)."""

    def __enter__(self):
        from sklearn.exceptions import ConvergenceWarning

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*did not converge.*")
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)
