"""The two implementations under test, built the same way for every measurement.

``make(impl, n_components, n_threads, **params)`` returns an unfitted estimator;
``thread_limit(n_threads)`` is the context every fit runs in, so that "t threads" means t
threads in total: BLAS and OpenMP pools held to t (threadpoolctl), and gmmfast given
``n_threads=t`` as well.

gmmfast is imported from wherever Python finds it: install it (``pip install .``) or put
the checkout with an in-place build on PYTHONPATH.
"""

import warnings

from threadpoolctl import threadpool_limits

IMPLS = ("sklearn", "gmmfast")


import gmmfast
from gmmfast import GaussianMixture as _GmmfastGaussianMixture


def gmmfast_version():
    return f"{gmmfast.__version__} ({gmmfast.__file__})"


def gmmfast_config():
    """What gmmfast.show_config() returns."""
    return gmmfast.show_config(file=False)


def make(impl, n_components, n_threads, **params):
    """An unfitted GaussianMixture of ``impl`` ('sklearn' or 'gmmfast')."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    if impl == "sklearn":
        return SkGaussianMixture(n_components=n_components, **params)
    if impl != "gmmfast":
        raise ValueError(f"unknown implementation {impl!r}; expected one of {IMPLS}")
    return _GmmfastGaussianMixture(n_components=n_components, n_threads=n_threads, **params)


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
