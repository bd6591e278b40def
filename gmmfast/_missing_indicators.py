"""Missing values for 'diag' and 'spherical': indicator columns.

Their features are independent within a component, so a missing feature only drops its
own term from each log-density. Each missing entry is filled with a value v (its
column's mean) and flagged in an indicator column e_j; the 'diag' kernel model over the
2D columns [x, e] (``AugmentedDiag``) gives each indicator the parameters whose term
cancels the filled entry's, so that one pass of the compiled 'diag' route per
iteration yields the marginal log-densities and, expanded (``AugmentedDiag.expanded``),
the statistics about the means, whatever the patterns of missingness
(``_missing.prepare`` picks this route; ``_missing.py`` documents the whole scheme).
"""

import numpy as np

from . import _estep
from ._mstep import SuffStats


_LOG_2PI = float(np.log(2 * np.pi))


#: AugmentedRows: a column whose observed values' mean is beyond this in absolute
#: value fills its missing entries with their median instead
WILD_FILL = 1e100


class AugmentedRows:
    """[x, e] of a piece of X: NaN replaced by v (each column's mean of its observed
    values, or 0), e_j = 1 where x_j was missing. C-contiguous, in X's dtype. X is
    checked by the caller (``_missing.check_missing_values``)."""

    __slots__ = ("X", "w", "fill", "workspace")

    def __init__(self, X, w=None):
        mask = np.isnan(X)
        n, D = X.shape
        counts = (~mask).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            fill = np.where(counts > 0, np.nansum(X, axis=0, dtype=np.float64)
                            / np.maximum(counts, 1), 0.0)
        # a mean far out (an entry of 1e300 among values of 1 puts it at ~1e300 / n)
        # made every row's indicator terms overflow ((v - mu)^2 P, AugmentedDiag),
        # and every row of zero density, where only the far one is: there the median
        # of the column's observed values
        wild = ~(np.abs(fill) <= WILD_FILL)
        if wild.any():
            fill[wild] = np.nanmedian(X[:, wild].astype(np.float64), axis=0)
        fill = fill.astype(X.dtype)
        A = np.empty((n, 2 * D), dtype=X.dtype)
        A[:, :D] = X
        np.copyto(A[:, :D], np.broadcast_to(fill, (n, D)), where=mask)
        A[:, D:] = mask
        self.X, self.w = A, w
        self.fill = fill.astype(np.float64)
        self.workspace = None


class AugmentedDiag:
    """The 'diag' kernel model over [x, e] whose log-densities are the marginal ones.

    Per component k and feature j, with G_kj(x) = log U_kj - 0.5 P_kj (x - mu_kj)^2 the
    term of feature j (without its -0.5 log 2 pi), the indicator column gets precision
    p_kj and mean m_kj with H(1) - H(0) = -0.5 p (1 - 2m) = Delta_kj := 0.5 log 2 pi -
    G_kj(v_j), so that a missing entry (x_j = v_j, e_j = 1) contributes nothing and an
    observed one G_kj(x_j) - 0.5 log 2 pi; the per-component constants (log_weights)
    absorb sum_j H_kj(0) and the kernel's extra -0.5 D log 2 pi. p_kj = 1 + 2 |Delta_kj|
    keeps m_kj in (0, 1), so the indicators' statistics carry no large offset.
    """

    def __init__(self, covariance_type, weights, means, U, fill, dtype):
        K, D = means.shape
        self.covariance_type = covariance_type
        self.means = means
        Ud = U if covariance_type == "diag" else np.repeat(U[:, None], D, axis=1)
        self.var = 1.0 / (Ud * Ud)
        P = Ud * Ud
        G = np.log(Ud) - 0.5 * P * (fill - means) ** 2
        delta = 0.5 * _LOG_2PI - G
        p = 1.0 + 2.0 * np.abs(delta)
        m = 0.5 + delta / p
        H0 = 0.5 * np.log(p) - 0.5 * p * m * m
        with np.errstate(divide="ignore"):
            log_w = np.log(weights)
        log_w = log_w + 0.5 * D * _LOG_2PI - H0.sum(axis=1)
        self.fill = fill
        self.model = _estep.KernelModel(
            "diag", weights, np.hstack([means, m]), np.hstack([Ud, np.sqrt(p)]), dtype,
            log_weights=log_w)

    def expanded(self, st):
        """SuffStats about the means, from the kernel's statistics over [x, e]."""
        K, D = self.means.shape
        c = st.shift
        N = st.N
        n_mis = st.S1[:, D:] + N[:, None] * c[D:]        # sum_i r_ik e_ij
        n_obs = N[:, None] - n_mis
        gap = self.fill - c[:D]                          # v - c
        S1 = st.S1[:, :D] - n_mis * gap                  # observed entries, about c
        S2 = st.S2[:, :D] - n_mis * gap * gap
        d = self.means - c[:D]
        T1 = S1 - n_obs * d
        T2 = S2 - 2.0 * d * S1 + n_obs * d * d + n_mis * self.var
        if self.covariance_type == "spherical":
            T2 = T2.sum(axis=1)
        return SuffStats(N, T1, T2, st.L, st.sum_w, self.means)
