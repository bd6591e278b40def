"""What machine the numbers come from, and how fast its BLAS and exp are (measured now).

The rates feed the lower bound on the time of one EM iteration: both are measured on one
thread in the same run as the fits, so the bound moves with the machine's state.
"""

import datetime
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit():
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + (" (modified)" if dirty.stdout.strip() else "")


def machine_info():
    """A flat dict of strings describing hardware, software versions and thread pools."""
    import scipy
    import sklearn

    from _estimators import gmmfast_config, gmmfast_version

    pools = []
    for p in threadpool_info():
        desc = f"{p.get('internal_api')} {p.get('version') or ''}".strip()
        extras = [
            f"{k}={p[k]}"
            for k in ("threading_layer", "architecture", "num_threads")
            if p.get(k) is not None
        ]
        pools.append(f"{p.get('user_api')}: {desc} ({', '.join(extras)}) [{Path(p['filepath']).name}]")
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": f"{usable_cores()} usable ({os.cpu_count()} logical)",
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "gmmfast": gmmfast_version(),
        "gmmfast config": gmmfast_config(),
        "git commit": _git_commit(),
        "thread pools": "; ".join(pools),
    }


def _best_time(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def gemm_rate(dtype, n=2048, repeats=3):
    """Flop/s of one n x n @ n x n matmul in ``dtype`` on one BLAS thread (best of repeats)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    with threadpool_limits(limits=1, user_api="blas"):
        np.matmul(a, b, out=out)  # warm-up
        t = _best_time(lambda: np.matmul(a, b, out=out), repeats)
    return 2.0 * n**3 / t


def exp_rate(dtype, n=1 << 22, repeats=7):
    """Exponentials per second of np.exp in ``dtype`` on one thread, on log-probability-like
    arguments in [-30, 0] (best of repeats)."""
    x = np.random.default_rng(0).uniform(-30.0, 0.0, size=n).astype(dtype)
    out = np.empty_like(x)
    np.exp(x, out=out)  # warm-up
    return n / _best_time(lambda: np.exp(x, out=out), repeats)


def measure_rates(quick=False):
    """{dtype name: {'gemm_flops': .., 'exp_per_s': ..}} for float64 and float32."""
    n_gemm, n_exp = (1024, 1 << 20) if quick else (2048, 1 << 22)
    rates = {}
    for dtype in (np.float64, np.float32):
        rates[np.dtype(dtype).name] = {
            "gemm_flops": gemm_rate(dtype, n=n_gemm),
            "exp_per_s": exp_rate(dtype, n=n_exp),
        }
    return rates


def em_flops(n_samples, n_features, n_components, covariance_type, nonzero=1.0):
    """Floating-point operations one EM iteration cannot do without (a multiply-add is 2).

    Per (row, component), the E-step's quadratic form and the M-step's moments, each
    counted as the cheapest dense product computes it (symmetric halves only); the
    M-step's only for the fraction ``nonzero`` of pairs whose responsibility is not
    exactly 0 (the others add exactly nothing, and a kernel may skip them):

    - 'full': the triangular product L^T (x - mu) and the scatter's rank-one update,
      D^2 each: N K D^2 (1 + nonzero).
    - 'diag': [x^2, x] against [prec, -2 prec mu] and the weighted sums of x and x^2,
      4 D each: 4 N K D (1 + nonzero).
    - 'spherical': x . mu and the weighted sum of x, 2 D each: 2 N K D (1 + nonzero).
    - 'tied': each row whitened once (D^2) and its products with the K whitened means
      (2 D each); the weighted sums of x (2 D each) and the one scatter X^T X (D^2 a
      row): 2 N D^2 + 2 N K D (1 + nonzero).
    """
    d = n_features
    per_pair = {"full": (d * d, d * d, 0.0), "diag": (4.0 * d, 4.0 * d, 0.0),
                "spherical": (2.0 * d, 2.0 * d, 0.0), "tied": (2.0 * d, 2.0 * d, 2.0 * d * d)}
    if covariance_type not in per_pair:
        raise ValueError(f"unknown covariance_type {covariance_type!r}")
    e_step, m_step, per_row = per_pair[covariance_type]
    return (n_samples * n_components * (e_step + nonzero * m_step)
            + n_samples * per_row)


def lower_bound_parts(n_samples, n_features, n_components, covariance_type, rate, n_threads,
                      nonzero=1.0):
    """(seconds of products, seconds of exponentials) of lower_bound_time."""
    flops = em_flops(n_samples, n_features, n_components, covariance_type, nonzero)
    return (flops / (rate["gemm_flops"] * n_threads),
            n_samples * n_components / (rate["exp_per_s"] * n_threads))


def lower_bound_time(n_samples, n_features, n_components, covariance_type, rate, n_threads,
                     nonzero=1.0):
    """Seconds one EM iteration cannot beat on ``n_threads`` threads.

    em_flops / (GEMM rate x threads) + N K exponentials / (exp rate x threads). ``rate``
    is the dtype's own ({'gemm_flops', 'exp_per_s'} of measure_rates): a float32 case is
    held to SGEMM and float32 np.exp. ``nonzero`` (default: every pair) is the fraction
    of responsibilities not exactly 0.
    """
    return sum(lower_bound_parts(n_samples, n_features, n_components, covariance_type,
                                 rate, n_threads, nonzero))
