"""Stepwise (online) EM: running sufficient statistics and the step-size schedule.

Cappé & Moulines (2009), "On-line expectation-maximization algorithm for latent data
models", and Liang & Klein (2009), "Online EM for unsupervised models": keep the
statistics per unit of sample weight, s, and after each batch B

    s <- (1 - eta_t) s + eta_t * stats(B) / weight(B),     eta_t = (t + t0) ** -alpha

then take the M-step from s. With alpha in (0.5, 1], sum eta_t diverges and
sum eta_t**2 converges, the conditions under which s converges to a stationary point
of the expected log-likelihood on stationary data. Smaller alpha forgets faster.

Statistics are taken about a shift (the current means for 'full', the mixture mean
otherwise, see docs/architecture.md) that changes with the parameters; ``reshift`` moves
statistics to another shift exactly before they are blended.
"""

import numpy as np

from ._mstep import SuffStats

#: Default exponent alpha of the step-size schedule eta_t = (t + t0) ** -alpha.
STEP_SIZE_POWER = 0.6
#: Default offset t0 of the schedule (eta_1 = 3 ** -0.6 = 0.52 with the defaults).
STEP_SIZE_OFFSET = 2.0


def step_size(t, power=STEP_SIZE_POWER, offset=STEP_SIZE_OFFSET):
    """eta_t = (t + offset) ** -power for t >= 1; eta_0 = 1 (nothing to blend with)."""
    if t == 0:
        return 1.0
    return float((t + offset) ** -power)


def check_schedule(power, offset):
    """Validate the schedule's keyword arguments of ``partial_fit``."""
    from numbers import Real

    for name, value in (("step_size_power", power), ("step_size_offset", offset)):
        if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
            raise ValueError(f"{name} must be a finite real number, got {value!r}.")
    if not 0.0 < power <= 1.0:
        raise ValueError(
            f"step_size_power must be in (0, 1], got {power!r}; values in (0.5, 1] "
            "converge on stationary data, smaller ones track a drifting stream."
        )
    if offset < 0:
        raise ValueError(f"step_size_offset must be >= 0, got {offset!r}.")


def scaled(stats, factor):
    """Statistics times a number (the shift is unchanged)."""
    return SuffStats(stats.N * factor, stats.S1 * factor, stats.S2 * factor,
                     stats.L * factor, stats.sum_w * factor, stats.shift)


def reshift(stats, shift, covariance_type):
    """The same statistics taken about another shift (exact up to rounding).

    With y = x - m (old shift) and delta = m - m' (old minus new):
    S1' = S1 + N delta and S2' = S2 + S1 delta^T + delta S1^T + N delta delta^T,
    per component ('full'), summed over components ('tied', whose S2 is the data's
    scatter), or reduced to the diagonal ('diag') or the trace ('spherical').
    """
    shift = np.asarray(shift, dtype=np.float64)
    delta = stats.shift - shift
    if not delta.any():
        return stats
    N, S1, S2 = stats.N, stats.S1, stats.S2
    if covariance_type == "full":
        cross = np.einsum("ki,kj->kij", S1, delta)
        S2 = S2 + cross + np.swapaxes(cross, 1, 2) + N[:, None, None] * np.einsum(
            "ki,kj->kij", delta, delta)
        S1 = S1 + N[:, None] * delta
    else:
        if covariance_type == "tied":
            t1 = S1.sum(axis=0)
            S2 = S2 + np.outer(t1, delta) + np.outer(delta, t1) + N.sum() * np.outer(
                delta, delta)
        elif covariance_type == "diag":
            S2 = S2 + 2.0 * S1 * delta + N[:, None] * (delta * delta)
        else:
            S2 = S2 + 2.0 * (S1 @ delta) + N * (delta @ delta)
        S1 = S1 + N[:, None] * delta
    return SuffStats(N, S1, S2, stats.L, stats.sum_w, shift.copy())


def blend(running, batch, eta, covariance_type):
    """(1 - eta) running + eta batch, both per unit weight, about the batch's shift."""
    if running is None or eta >= 1.0:
        return batch
    old = reshift(running, batch.shift, covariance_type)
    return scaled(old, 1.0 - eta) + scaled(batch, eta)
