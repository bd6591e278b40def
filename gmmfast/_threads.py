"""How many threads a fit uses, and keeping BLAS on one thread while ours run.

The thread count is decided once per call, the way scikit-learn's OpenMP code decides
it: ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits`` are honoured because
they set OpenMP's own maximum, which is what we read. The package never sets thread
environment variables.
"""

import contextlib
import os

from . import _kernels

_controller = None


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def effective_n_threads(n_threads=None):
    """The number of threads the kernels will use.

    Parameters
    ----------
    n_threads : int or None
        None or -1: OpenMP's maximum (which reflects OMP_NUM_THREADS and threadpoolctl
        limits), capped at the CPUs this process may use when OMP_NUM_THREADS is unset.
        A positive int: that many threads.

    Returns
    -------
    int, at least 1; always 1 when gmmfast was built without OpenMP.
    """
    if not _kernels.openmp_enabled():
        return 1
    if n_threads is not None and n_threads > 0:
        return int(n_threads)
    n = _kernels.openmp_max_threads()
    if os.environ.get("OMP_NUM_THREADS") is None:
        n = min(n, _cpu_count())
    return max(1, n)


#: A fit of at least this many rows holds BLAS to one thread even when its kernels
#: call none: its initialisation does (the initial means and covariances are sums over
#: all rows), and BLAS's threads, woken by those calls, would spin beside the kernels'
#: own through the first iterations. The controller's one scan is small beside such a
#: fit.
BLAS_LIMIT_MIN_ROWS = 2**16


def blas_single_thread(covariance_type=None, n_features=None, n_samples=None):
    """Context that holds BLAS to one thread while the kernels call it.

    Always, not only when several of our threads run: a BLAS call that splits its
    work over threads may sum in another order, and results must not depend on the
    thread count. The one exception is a small model whose kernels call no BLAS at all
    ('full' with fewer than ``_kernels.SMALL_FEATURES`` features runs plain loops,
    and its M-step factorises D x D matrices of D < 8) on fewer than
    BLAS_LIMIT_MIN_ROWS rows (``n_samples``; None: a pass over data already fitted):
    then nothing is limited, and no thread-pool controller is built (that scans every
    loaded library once per process, which costs more than a whole small fit).
    """
    if covariance_type == "full" and n_features is not None \
            and n_features < _kernels.SMALL_FEATURES \
            and (n_samples is None or n_samples < BLAS_LIMIT_MIN_ROWS):
        return contextlib.nullcontext()
    global _controller
    if _controller is None:
        _controller = _shared_controller()
    return _controller.limit(limits=1, user_api="blas")


def _shared_controller():
    """scikit-learn's cached ThreadpoolController when it has one, else our own.

    Building a controller scans every loaded library (~10-20 ms); scikit-learn's
    KMeans (our default initialisation) builds one too, so share it.
    """
    try:
        from sklearn.utils.parallel import _get_threadpool_controller

        return _get_threadpool_controller()
    except ImportError:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController()


def show_config(file=None):
    """Print and return how gmmfast was built and how many threads a fit will use.

    Parameters
    ----------
    file : file-like, optional
        Where to print (default: standard output). Pass ``False`` not to print.

    Returns
    -------
    dict with keys ``version``, ``openmp`` (bool: kernels compiled with OpenMP),
    ``n_threads`` (threads a fit uses with ``n_threads=None``), ``cpu_count``,
    ``isa`` (the build of the kernels this CPU runs: ``"avx512"``, ``"avx2+fma"``,
    ``"neon"`` or ``"baseline"``; ``GMMFAST_ISA`` caps it), ``isa_builds`` (the builds
    compiled in, a tuple) and ``blas`` (the BLAS libraries numpy/scipy loaded, from
    threadpoolctl).
    """
    from threadpoolctl import threadpool_info

    from . import __version__

    info = {
        "version": __version__,
        "openmp": _kernels.openmp_enabled(),
        "n_threads": effective_n_threads(None),
        "cpu_count": _cpu_count(),
        "isa": _kernels.vmath_impl(),
        "isa_builds": _kernels.isa_builds(),
        "blas": sorted(
            {
                f"{lib.get('internal_api')} {lib.get('version')} "
                f"({lib.get('architecture')}, {lib.get('num_threads')} threads)"
                for lib in threadpool_info()
                if lib.get("user_api") == "blas"
            }
        ),
    }
    if file is not False:
        lines = [
            f"gmmfast {info['version']}",
            f"  OpenMP: {'on' if info['openmp'] else 'off (kernels run on one thread)'}",
            f"  threads per fit (n_threads=None): {info['n_threads']}",
            f"  CPUs available: {info['cpu_count']}",
            f"  kernels: {info['isa']} (built: {', '.join(info['isa_builds'])})",
            f"  BLAS: {', '.join(info['blas']) or 'not loaded'}",
        ]
        print("\n".join(lines), file=file)
    return info
