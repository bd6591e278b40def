"""EM for data with missing entries (NaN), missing at random; marginal mixtures.

A row x with observed features O and missing features M contributes to the
likelihood through the marginal density of x_O, which is again a Gaussian mixture:
weights pi_k, means mu_k[O], covariances Sigma_k[O, O]. The E-step of EM (Ghahramani
& Jordan 1994) needs, per component, the responsibilities under that marginal and the
conditional law of the missing block,

    x_M | x_O, k  ~  N(mu_kM + B_k (x_O - mu_kO), C_k),
    B_k = Sigma_kMO Sigma_kOO^-1,   C_k = Sigma_kMM - B_k Sigma_kOM,

which is affine in x_O. So the expected complete-data statistics of a set of rows that
share one pattern follow in closed form from the statistics of their observed block
about mu_kO, s1_k = sum_i w_i r_ik (x_iO - mu_kO) and s2_k = sum_i w_i r_ik (x_iO -
mu_kO)(x_iO - mu_kO)^T: with A_k the D x |O| map (identity on O, B_k on M),

    sum_i w_i r_ik E[x_i - mu_k]                     = A_k s1_k,
    sum_i w_i r_ik E[(x_i - mu_k)(x_i - mu_k)^T]      = A_k s2_k A_k^T + N_k (0 (+) C_k).

'full' and 'tied': rows are grouped by their pattern of missingness once per fit
(``_PatternIndex``, ``PatternPlan``); each pattern's marginal model is an ordinary
mixture over its observed columns, whose statistics and log-densities the compiled
kernels compute (``_estep.suff_stats``, ``_estep.per_sample``) exactly as for complete
data. Per iteration this module builds each pattern's marginal factors (one Cholesky
of the observed block per component) and expands its statistics to D dimensions. A
pattern with too few rows to pay for that (``kernel_pass_pays``,
``kernel_pass_mask``) joins the row-by-row path (``_missing_rowpath.py``, compiled in
``_missing_rows.pyx``), which needs per row only the m x m block of the precision of
its m missing features.

'diag' and 'spherical' need no grouping: their features are independent within a
component, so a missing feature only drops its own term from each log-density. Each
feature j gets an indicator column e_j (1 where x_j is missing, its entry filled with
a value v_j), and the augmented rows [x, e] run through the 'diag' route once, with
parameters for the indicator columns chosen so that a missing entry's term, G_kj(v_j),
is cancelled by its indicator's: one kernel pass over 2D columns per iteration, exact,
whatever the number of patterns (``_missing_indicators.py``).

The expanded statistics are taken about the current means (``SuffStats.shift`` is the
(K, D) means for every covariance type); ``_mstep.m_step`` reads them as it reads any
statistics about a shift.
"""

import math

import numpy as np

from . import _estep, _kernels, _missing_rows, _mstep, _sources
from ._missing_indicators import AugmentedDiag, AugmentedRows
from ._missing_rowpath import RowGroup, rows_outputs, rows_stats
from ._mstep import SuffStats


def check_missing_values(X, first_row=0, name="X"):
    """Refuse infinity and rows with every feature missing (NaN is allowed)."""
    if X.size == 0:
        return
    inf = np.isinf(X)
    if inf.any():
        row = first_row + int(np.flatnonzero(inf.any(axis=1))[0])
        raise ValueError(
            f"{name} contains infinity (inf) in row {row}; with missing='marginalize' "
            "only NaN marks a missing entry: remove those rows or clip the values."
        )
    empty = np.isnan(X).all(axis=1)
    if empty.any():
        rows = np.flatnonzero(empty)
        raise ValueError(
            f"Row {first_row + int(rows[0])} of {name} has every feature missing (NaN) "
            f"({rows.size} such row{'s' if rows.size != 1 else ''}); a row with no "
            "observed feature carries no information: drop it."
        )


def has_nan(X):
    """Whether an in-memory or row-sliceable X holds NaN (read piece by piece)."""
    if isinstance(X, np.ndarray) and not isinstance(X, np.memmap):
        step = max(1, 2**20 // max(1, X.shape[1]))
        return any(np.isnan(X[s:s + step]).any() for s in range(0, X.shape[0], step))
    step = _sources.rows_per_read(int(X.shape[1]))
    return any(np.isnan(np.asarray(X[s:s + step])).any()
               for s in range(0, int(X.shape[0]), step))


# ------------------------------------------------------------------ patterns


class Pattern:
    """The rows of X that share one pattern of missingness, observed columns only.

    Attributes
    ----------
    observed, missing : (|O|,), (|M|,) intp, the column indices.
    rows : (n,) intp, the rows (of the piece) in increasing order.
    X : (n, |O|) C-contiguous, the observed block in the data's dtype.
    w : (n,) float64 or None.
    """

    __slots__ = ("observed", "missing", "rows", "X", "w", "workspace")

    def __init__(self, observed, missing, rows, X, w):
        self.observed, self.missing, self.rows, self.X, self.w = observed, missing, rows, X, w
        self.workspace = None


class _PatternIndex:
    """The rows of X grouped by pattern of missingness, as arrays (no copy of X).

    Patterns are numbered in their order: the complete rows' first (if any), then by
    increasing number of missing features, ties by first row; the order is fixed by X
    alone. ``mask`` (n, D) is X's NaN; pattern p has ``counts[p]`` rows,
    ``rows[starts[p]:starts[p + 1]]`` (increasing), its missing features
    ``n_missing[p]``, and ``mask[first[p]]`` is its mask.
    """

    def __init__(self, X, first_row=0):
        check_missing_values(X, first_row)
        self.mask = mask = np.isnan(X)
        packed = np.packbits(mask, axis=1)
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1])))[:, 0]
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        n_missing = mask[first].sum(axis=1)
        # complete rows first (0 missing), then by number missing, then by first row
        rank = np.lexsort((first, n_missing))
        position = np.empty_like(rank)
        position[rank] = np.arange(rank.size)
        # the rows by pattern in that order, each pattern's in increasing order
        self.rows = np.argsort(position[inverse], kind="stable")
        self.counts = np.bincount(position[inverse], minlength=rank.size)
        self.starts = np.concatenate(([0], np.cumsum(self.counts)))
        self.first = first[rank]
        self.n_missing = n_missing[rank]

    def pattern(self, p, X, w):
        """Pattern p as a Pattern (its observed block of X copied)."""
        rows = self.rows[self.starts[p]:self.starts[p + 1]]
        m = self.mask[self.first[p]]
        cols = np.arange(m.size)
        observed, missing = cols[~m], cols[m]
        if missing.size == 0:
            Xo = X[rows] if rows.size < X.shape[0] else X
        else:
            Xo = X[np.ix_(rows, observed)]
        return Pattern(observed, missing, rows, np.ascontiguousarray(Xo),
                       None if w is None else np.ascontiguousarray(w[rows], dtype=np.float64))


# ------------------------ a kernel pass per pattern, or the row-by-row path

#: Cost model of the choice between a kernel pass per pattern and the row-by-row
#: path (``RowGroup``). A pattern's pass costs a fixed amount (its marginal model, the
#: kernel call, the expansion of its statistics) plus K |O|^3 flops at FLOP_SECONDS
#: each (its factors and precisions); a row costs the row-by-row path about
#: ROW_SECONDS per component more than a kernel pass. The fixed amount is
#: PATTERN_SECONDS for a pass whose work is shared between threads: its threads wait
#: for each other at its end, and on a loaded machine that wait grows to milliseconds
#: (the row-by-row path's single call pays it once), so only patterns of thousands of
#: rows get a threaded pass of their own. A pass too small to be shared
#: (``_estep.pass_is_threaded``, a rule on its size alone, so that the choice, hence
#: the results, never depend on the thread count) runs on the calling thread and
#: costs SERIAL_PATTERN_SECONDS, Python's part (measured in bench/results/missing.md):
#: charged PATTERN_SECONDS, the complete rows of small-D data with ten thousand rows
#: went row by row at several times a kernel pass's cost. The constants only move the
#: boundary, never the results beyond rounding.
#: The complete rows' pattern needs no marginal (no factors, no covariances): its
#: serial pass costs COMPLETE_PATTERN_SECONDS plus COMPLETE_ENTRY_SECONDS per entry
#: of the K D x D statistics it expands (measured on passes of 16 rows, D = 2-32,
#: K = 3-32: bench/results/missing.md).
PATTERN_SECONDS = 2e-3
SERIAL_PATTERN_SECONDS = 1.5e-4
COMPLETE_PATTERN_SECONDS = 3e-5
COMPLETE_ENTRY_SECONDS = 7e-9
FLOP_SECONDS = 1e-9
ROW_SECONDS = 2e-8


def kernel_pass_pays(n_rows, n_components, n_observed, complete=False):
    """Whether a pattern of ``n_rows`` rows runs its own kernel pass (else it joins
    the row-by-row path); ``complete``: the pattern of the rows missing nothing."""
    if _estep.pass_is_threaded(n_rows, n_components, n_observed):
        per_pattern = PATTERN_SECONDS + FLOP_SECONDS * n_components * n_observed ** 3
    elif complete:
        per_pattern = (COMPLETE_PATTERN_SECONDS
                       + COMPLETE_ENTRY_SECONDS * n_components * n_observed ** 2)
    else:
        per_pattern = (SERIAL_PATTERN_SECONDS
                       + FLOP_SECONDS * n_components * n_observed ** 3)
    return n_rows * n_components * ROW_SECONDS >= per_pattern


def kernel_pass_mask(counts, n_components, n_missing, n_features):
    """``kernel_pass_pays`` of every pattern at once (counts, n_missing: (P,) arrays).
    A pattern whose rows cost less than the cheapest pass of its own
    (COMPLETE_PATTERN_SECONDS, below every branch of kernel_pass_pays) is rare without
    asking: most of them, when the patterns are many (random holes in wide data: one a
    row), where a Python call each cost a second."""
    out = np.zeros(counts.size, dtype=bool)
    for p in np.flatnonzero(counts * n_components * ROW_SECONDS
                            >= COMPLETE_PATTERN_SECONDS):
        out[p] = kernel_pass_pays(int(counts[p]), n_components,
                                  n_features - int(n_missing[p]),
                                  complete=bool(n_missing[p] == 0))
    return out


class PatternPlan:
    """A piece's rows for 'full' and 'tied': patterns with a kernel pass each, and the
    rows of rarer patterns grouped by their number of missing features."""

    __slots__ = ("patterns", "groups")

    def __init__(self, X, w, first_row, n_components):
        index = _PatternIndex(X, first_row)
        counts, n_missing = index.counts, index.n_missing
        kept = kernel_pass_mask(counts, n_components, n_missing, X.shape[1])
        self.patterns = [index.pattern(p, X, w) for p in np.flatnonzero(kept)]
        self.groups = []
        rare_rows = np.repeat(~kept, counts)
        if rare_rows.any():
            # all rare rows in one group, one compiled call a pass; the rows of a
            # pattern together, so that they share its factors: in the patterns' order
            rows = index.rows[rare_rows]
            nm = np.repeat(n_missing[~kept], counts[~kept]).astype(np.intp)
            mmax = int(nm.max())
            # each row's missing columns, increasing (nonzero reads row by row)
            r, c = np.nonzero(index.mask[rows])
            Mi = np.zeros((rows.size, mmax), dtype=np.intp)
            Mi[r, np.arange(r.size) - np.repeat(np.cumsum(nm) - nm, nm)] = c
            X0 = np.array(X[rows], dtype=np.float64)
            X0[np.isnan(X0)] = 0.0
            self.groups.append(RowGroup(
                X0, Mi, nm, rows,
                None if w is None else np.ascontiguousarray(w[rows], dtype=np.float64)))


# ------------------------------------------------------------ marginal models


def full_covariances(covariance_type, precisions_cholesky):
    """The covariances (float64) from the precision factors the kernels read."""
    return _mstep.covariances_from_cholesky(
        np.asarray(precisions_cholesky, dtype=np.float64), covariance_type)


class Marginal:
    """The mixture's marginal over ``observed`` and the conditional law of ``missing``.

    Attributes
    ----------
    model : _estep.KernelModel over the observed columns (in ``dtype``).
    U : the marginal precision factors, of the covariance type's shape.
    B : regression of the missing block on the observed one: (K, |M|, |O|) 'full',
        (|M|, |O|) 'tied', None for 'diag' and 'spherical' (independent features).
    C : conditional covariance of the missing block: (K, |M|, |M|) 'full',
        (|M|, |M|) 'tied', (K, |M|) 'diag' (variances), (K,) 'spherical'.

    ``covariances`` may be None for 'full' and 'tied' when nothing is missing.
    """

    def __init__(self, covariance_type, weights, means, covariances, U, observed,
                 missing, dtype, *, reg_covar=0.0):
        self.covariance_type = cov_type = covariance_type
        self.observed, self.missing = observed, missing
        means = np.asarray(means, dtype=np.float64)
        if missing.size == 0:
            # the mixture itself: its means as they are (no copy; seed2d-sized fits
            # make this marginal every iteration)
            self.means_O, self.means_M = means, means[:, :0]
        else:
            self.means_O = means[:, observed]
            self.means_M = means[:, missing]
        self.B = self.C = None
        if cov_type in ("full", "tied"):
            if missing.size == 0:   # the mixture itself (covariances may be None)
                Uo = U if cov_type == "full" else U[None]
            else:
                S = covariances if cov_type == "full" else covariances[None]
                Soo = np.ascontiguousarray(S[:, observed][:, :, observed])
                Uo = _mstep.precision_cholesky(Soo, "full", reg_covar=reg_covar, dtype=dtype)
                Smo = S[:, missing][:, :, observed]
                G = Smo @ Uo                                   # Sigma_MO U_O
                B = G @ Uo.transpose(0, 2, 1)                  # Sigma_MO Sigma_OO^-1
                C = S[:, missing][:, :, missing] - G @ G.transpose(0, 2, 1)
                self.B, self.C = (B, C) if cov_type == "full" else (B[0], C[0])
            self.U = Uo if cov_type == "full" else Uo[0]
        elif cov_type == "diag":
            self.U = U[:, observed]
            self.C = covariances[:, missing]
        else:
            self.U = U
            self.C = covariances
        self.model = _estep.KernelModel(cov_type, weights, self.means_O, self.U, dtype)

    def conditional_means(self, X_O, resp=None):
        """Per component, E[x_M | x_O, k]: (n, K, |M|); with resp (n, K), the mixture's
        conditional mean sum_k r_k E[x_M | x_O, k]: (n, |M|)."""
        X_O = np.asarray(X_O, dtype=np.float64)
        K = self.means_O.shape[0]
        n = X_O.shape[0]
        if self.B is None:
            per = np.broadcast_to(self.means_M[None], (n, K, self.missing.size))
        elif self.B.ndim == 3:
            Z = X_O[:, None, :] - self.means_O[None]            # (n, K, |O|)
            per = self.means_M[None] + np.einsum("kmo,nko->nkm", self.B, Z)
        else:
            Z = X_O[:, None, :] - self.means_O[None]
            per = self.means_M[None] + Z @ self.B.T
        if resp is None:
            return per
        return np.einsum("nk,nkm->nm", np.asarray(resp, dtype=np.float64), per)

    def conditional_covariances(self):
        """C_k as (K, |M|, |M|) for every covariance type."""
        K, m = self.means_M.shape
        if self.covariance_type == "full":
            return self.C
        if self.covariance_type == "tied":
            return np.broadcast_to(self.C, (K, m, m))
        if self.covariance_type == "diag":
            return np.einsum("km,mn->kmn", self.C, np.eye(m))
        return self.C[:, None, None] * np.eye(m)[None]


def _buffer_entry(i):
    """A float attribute kept in entry i of the instance's ``flat`` buffer."""
    def get(self):
        return float(self.flat[i])

    def set(self, value):
        self.flat[i] = value

    return property(get, set)


class ExpandedStats:
    """D-dimensional statistics about the current means, summed over patterns."""

    def __init__(self, covariance_type, means):
        K, D = means.shape
        self.covariance_type = covariance_type
        self.means = means
        shape = {"full": (K, D, D), "tied": (D, D), "diag": (K, D),
                 "spherical": (K,)}[covariance_type]
        t2 = math.prod(shape)
        # one buffer, laid out as the compiled row pass adds its sums (N, T1, T2, L,
        # sum w), so that it adds them in place
        self.flat = np.zeros(K + K * D + t2 + 2)
        self.N = self.flat[:K]
        self.T1 = self.flat[K:K + K * D].reshape(K, D)
        self.T2 = self.flat[K + K * D:K + K * D + t2].reshape(shape)

    L = _buffer_entry(-2)        # sum w lse
    sum_w = _buffer_entry(-1)

    def add(self, marg, st):
        """Add one pattern's observed-block statistics ``st`` (SuffStats)."""
        cov = self.covariance_type
        O, M = marg.observed, marg.missing
        N = st.N
        self.N += N
        self.L += st.L
        self.sum_w += st.sum_w
        full_block = M.size == 0
        if cov == "full" and full_block and st.shift is marg.means_O:
            # statistics about the means already (d = 0): as they are (the complete
            # rows of every 'full' fit, each iteration: no array made for nothing)
            self.T1 += st.S1
            self.T2 += st.S2
            return
        d = marg.means_O - st.shift                # (K, |O|): mu_kO - shift
        s1 = st.S1 - N[:, None] * d                # about mu_kO
        if cov == "full":
            # about mu_kO: S2 - S1 d^T - d S1^T + N d d^T (d = 0 when the kernel took
            # them about the means, which leaves S2's bits untouched)
            S1d = st.S1[:, :, None] * d[:, None, :]
            s2 = st.S2 - S1d - S1d.transpose(0, 2, 1) + N[:, None, None] * (
                d[:, :, None] * d[:, None, :])
            if full_block:
                self.T1 += s1
                self.T2 += s2
                return
            ix = np.ix_(np.arange(N.size), O, O)
            self.T1[:, O] += s1
            self.T1[:, M] += np.einsum("kmo,ko->km", marg.B, s1)
            self.T2[ix] += s2
            MO = marg.B @ s2                           # (K, |M|, |O|)
            self.T2[np.ix_(np.arange(N.size), M, O)] += MO
            self.T2[np.ix_(np.arange(N.size), O, M)] += MO.transpose(0, 2, 1)
            self.T2[np.ix_(np.arange(N.size), M, M)] += (
                MO @ marg.B.transpose(0, 2, 1) + N[:, None, None] * marg.C)
        elif cov == "tied":
            # sum_k of the second moments about each mu_kO, from the scatter about c
            cross = st.S1.T @ d
            s2 = st.S2 - cross - cross.T + (d.T * N) @ d
            if full_block:
                self.T1 += s1
                self.T2 += s2
                return
            self.T1[:, O] += s1
            self.T1[:, M] += s1 @ marg.B.T
            self.T2[np.ix_(O, O)] += s2
            MO = marg.B @ s2
            self.T2[np.ix_(M, O)] += MO
            self.T2[np.ix_(O, M)] += MO.T
            self.T2[np.ix_(M, M)] += MO @ marg.B.T + N.sum() * marg.C
        elif cov == "diag":
            s2 = st.S2 - 2.0 * d * st.S1 + N[:, None] * d * d
            self.T1[:, O] += s1
            self.T2[:, O] += s2
            if not full_block:
                self.T2[:, M] += N[:, None] * marg.C
        else:
            s2 = (st.S2 - 2.0 * np.einsum("kd,kd->k", d, st.S1)
                  + N * np.einsum("kd,kd->k", d, d))
            self.T1[:, O] += s1
            self.T2 += s2 + N * M.size * marg.C

    def suff_stats(self):
        return SuffStats(self.N, self.T1, self.T2, self.L, self.sum_w, self.means)


#: The row-by-row pass takes the moment rows about the mixture mean c (as the complete
#: data's kernels do near c) while every component's spread (_estep.MOMENTS_MAX_SPREAD)
#: and its fill spread (``fill_spread``) are at most these: the missing entries stand at
#: c in the moment rows, and the terms that take them back out cost about this many
#: units of rounding, relative, in the log-densities (_missing_moments.pxi). On the
#: bench's mid and wide cases the fill spread is 120-590 (its bound; 16-38 over their
#: patterns).
MOMENTS_MAX_FILL = 4 * _estep.MOMENTS_MAX_SPREAD

#: From this many features on, float32 data ('full') takes the row pass's float32
#: products even where the moment rows would apply: the moment rows' two GEMMs are in
#: double (D^2 K multiply-adds a row), the float32 route's quadratic forms and scatter
#: in float32 (half the cost each). One thread, 50,000 rows, K = 16, 10% missing
#: (bench/results/missing.md): at D = 24 the moment rows were 5% faster, at D = 32 the
#: float32 products 24%, at D = 48 19%, and at the bench's wide case (D = 64, K = 32)
#: 25-30%.
FLOAT32_OVER_MOMENTS_MIN_FEATURES = 32


def moments_fit(n_features):
    """Whether the row-by-row pass can take moment rows at all at this width: from
    _missing_rows.BLAS_MIN_FEATURES features on (below, its plain loops are faster)."""
    return n_features >= _missing_rows.BLAS_MIN_FEATURES


def fill_spread(m, P):
    """(K,) a bound on m_kM^T P_k[M, M] m_kM over every set M of missing columns,
    with m_k = mu_k - c: the largest eigenvalue of P_k times ||m_k||^2 (that of
    P_k[M, M] is at most P_k's)."""
    return np.linalg.eigvalsh(P)[:, -1] * np.einsum("kd,kd->k", m, m)


class MarginalModels:
    """A mixture's marginal models, one per pattern of observed columns, made on demand."""

    def __init__(self, covariance_type, weights, means, precisions_cholesky, dtype):
        self.covariance_type = covariance_type
        self.weights = np.asarray(weights, dtype=np.float64)
        self.means = np.asarray(means, dtype=np.float64)
        self.U = np.asarray(precisions_cholesky, dtype=np.float64)
        self.dtype = np.dtype(dtype)
        self.n_components = self.means.shape[0]
        self._cov = None
        self._cache = {}

    @property
    def covariances(self):
        if self._cov is None:
            self._cov = full_covariances(self.covariance_type, self.U)
        return self._cov

    @property
    def precisions(self):
        """U U^T ('full', 'tied'), for the moment rows' test of their spread (a
        batched BLAS product: einsum's loop is far slower for many components; the
        row-by-row pass takes its own, row_params)."""
        if getattr(self, "_prec", None) is None:
            U = self.U if self.covariance_type == "full" else self.U[None]
            P = np.matmul(U, np.swapaxes(U, 1, 2))
            self._prec = P if self.covariance_type == "full" else P[0]
        return self._prec

    def row_params(self):
        """(U, Pt, logc) for the compiled row-by-row path: U (Kp, D, D) C-contiguous
        float64 with Kp = 1 for 'tied', the precisions U U^T component last, Pt (D,
        D, K), and logc (K,) log pi_k + sum_j log U_k,jj - 0.5 D log 2 pi
        (_missing_rows.row_constants); checked finite (the means too), made once per
        model."""
        if getattr(self, "_row_params", None) is None:
            tied = self.covariance_type == "tied"
            U = np.ascontiguousarray(self.U[None] if tied else self.U, dtype=np.float64)
            if not self.means.flags.c_contiguous:
                self.means = np.ascontiguousarray(self.means)
            logc, Pt = _missing_rows.row_constants(
                np.ascontiguousarray(self.weights), self.means, U)
            self._row_params = U, Pt, logc
        return self._row_params

    def single_products(self):
        """Whether the row-by-row pass takes its quadratic forms in float32 products:
        for float32 data, 'full', from _estep.FULL32_MIN_FEATURES features on, as the
        complete float32 rows take theirs (the route about each mean)."""
        return (self.dtype == np.float32 and self.covariance_type == "full"
                and self.means.shape[1] >= _estep.FULL32_MIN_FEATURES)

    def row_factors32(self):
        """The float32 factors of ``single_products`` (_missing_rows.padded_factors32),
        or None; made once per model."""
        if not hasattr(self, "_row_factors32"):
            self._row_factors32 = None
            if self.single_products():
                U, _, _ = self.row_params()
                Uf = _missing_rows.padded_factors32(U)
                if not np.isfinite(Uf).all():
                    raise ValueError(
                        "the mixture's precision factors overflow float32: a covariance "
                        "is too small for float32 data; raise reg_covar, or fit the "
                        "data as float64")
                self._row_factors32 = Uf
        return self._row_factors32

    def moment_params(self):
        """(c, W) for the row-by-row pass through moment rows about the mixture mean
        c, the weights of _kernels.moment_weights; None for 'tied', below
        ``moments_fit``'s width, where the expansion about c would cost precision
        (the spread bounds above), or where float32 products are faster
        (``FLOAT32_OVER_MOMENTS_MIN_FEATURES``). Made once per model."""
        if not hasattr(self, "_moment_params"):
            self._moment_params = None
            D = self.means.shape[1]
            if (self.covariance_type == "full" and moments_fit(D)
                    and not (self.single_products()
                             and D >= FLOAT32_OVER_MOMENTS_MIN_FEATURES)):
                U, _, logc = self.row_params()
                c = self.weights @ self.means
                m = np.ascontiguousarray(self.means - c)
                V, spreads = _kernels.full_spreads(U, m)
                if (spreads.max() <= _estep.MOMENTS_MAX_SPREAD
                        and fill_spread(m, self.precisions).max() <= MOMENTS_MAX_FILL):
                    W = _kernels.moment_weights(U, V, logc, spreads, 1)
                    self._moment_params = c, W
        return self._moment_params

    def of(self, observed, missing):
        key = observed.tobytes()
        marg = self._cache.get(key)
        if marg is None:
            # the complete rows' marginal is the mixture itself: no covariances (K
            # inverses an iteration, the most of a small fit's pass)
            cov = (None if missing.size == 0 and self.covariance_type in ("full", "tied")
                   else self.covariances)
            marg = Marginal(self.covariance_type, self.weights, self.means,
                            cov, self.U, observed, missing, self.dtype)
            self._cache[key] = marg
        return marg


# ------------------------------------------------------------------ the source


class MissingSource:
    """A stats source (see ``_sources``) over X with NaN entries.

    In memory, the rows are prepared once (``prepare``: grouped by pattern for 'full'
    and 'tied', given indicator columns for 'diag' and 'spherical'); an np.memmap (or
    another row-sliceable array) is read piece by piece and each piece prepared as it
    is read, so nothing of the size of X is held. A pass adds the pieces' expanded
    statistics (``piece_stats``) in row order.

    The initial parameters come from X with each missing entry replaced by the mean
    of its column's observed entries (weighted), as the complete-data initialisation
    needs complete rows.
    """

    missing = True

    def __init__(self, X, sample_weight, covariance_type, n_components, n_threads,
                 *, in_memory):
        self.X, self.w = X, sample_weight
        self.n_samples, self.n_features = (int(s) for s in X.shape)
        self.dtype = _sources.compute_dtype(X.dtype)
        self.covariance_type = covariance_type
        self.n_components = n_components
        self.n_threads = n_threads
        self.in_memory = in_memory
        self.rows_per_read = _sources.rows_per_read(self.n_features)
        self._groups = None
        self._init = None
        if in_memory:  # before anything reads X (k-means of the initialisation)
            check_missing_values(X)

    # -- reading
    def _piece(self, start, stop):
        x = np.ascontiguousarray(np.asarray(self.X[start:stop]), dtype=self.dtype)
        w = None if self.w is None else np.ascontiguousarray(self.w[start:stop],
                                                             dtype=np.float64)
        return x, w

    def pieces(self):
        """Yield (start, stop, prepared rows) over all rows, in order (see
        ``prepare``)."""
        if self.in_memory:
            if self._groups is None:
                self._groups = prepare(self.covariance_type, self.X, self.w, 0,
                                       self.n_components)
            yield 0, self.n_samples, self._groups
            return
        for start in range(0, self.n_samples, self.rows_per_read):
            stop = min(self.n_samples, start + self.rows_per_read)
            x, w = self._piece(start, stop)
            yield start, stop, prepare(self.covariance_type, x, w, start,
                                       self.n_components)

    def init_data(self, random_state):
        """Rows to initialise from, missing entries replaced by their column's mean."""
        if self._init is None:
            if self.in_memory:
                X0, w0 = self.X, self.w
            else:
                size = _sources.init_sample_size(
                    self.n_samples, self.n_components, self.n_features)
                rows = _sources.subsample_rows(self.n_samples, size, random_state)
                X0 = np.ascontiguousarray(np.asarray(self.X[rows]), dtype=self.dtype)
                w0 = None if self.w is None else np.ascontiguousarray(
                    self.w[rows], dtype=np.float64)
                check_missing_values(X0)
                _sources.check_init_weights(w0, rows.size)
            self._init = mean_imputed(X0, w0), w0
        return self._init

    # -- statistics
    def model(self, weights, means, precisions_cholesky, log_weights=None):
        if log_weights is not None:
            raise ValueError("missing values are not supported with log_weights")
        return MarginalModels(self.covariance_type, weights, means, precisions_cholesky,
                              self.dtype)

    def stats(self, weights, means, precisions_cholesky, log_weights=None):
        """Expected complete-data statistics of all rows, about the current means."""
        models = self.model(weights, means, precisions_cholesky, log_weights)
        total = None
        for start, _, rows in self.pieces():
            part = piece_stats(models, rows, start, self.n_threads)
            total = part if total is None else total + part
        return total

    def per_sample(self, models, *, lse=False, resp=False, labels=False):
        """Per-row outputs under the marginal model of each row's observed features."""
        outs = _sources.output_arrays(self.n_samples, models.n_components, self.dtype,
                                      lse=lse, resp=resp, labels=labels)
        for start, stop, rows in self.pieces():
            piece_outputs(models, rows, start, self.n_threads,
                          [out[start:stop] for out in outs],
                          lse=lse, resp=resp, labels=labels)
        return tuple(outs)


def prepare(covariance_type, X, w, first_row, n_components):
    """A piece of X made ready for the passes of every iteration: its patterns
    and rare rows ('full', 'tied': PatternPlan) or its rows with indicator columns
    ('diag', 'spherical': AugmentedRows)."""
    if covariance_type in ("diag", "spherical"):
        check_missing_values(X, first_row)
        return AugmentedRows(X, w)
    return PatternPlan(X, w, first_row, n_components)


def piece_stats(models, rows, start, n_threads):
    """The expanded statistics (SuffStats about the means) of one prepared piece."""
    if isinstance(rows, AugmentedRows):
        aug = AugmentedDiag(models.covariance_type, models.weights, models.means,
                            models.U, rows.fill, models.dtype)
        if rows.workspace is None:
            rows.workspace = _estep.StatsWorkspace(
                rows.X.shape[0], models.n_components, rows.X.shape[1], "diag")
        st = _sources._with_row_offset(start, _estep.suff_stats, rows.X, rows.w,
                                       aug.model, n_threads, rows.workspace)
        return aug.expanded(st)
    total = ExpandedStats(models.covariance_type, models.means)
    for group in rows.groups:
        rows_stats(models, group, total, start, n_threads)
    for pat in rows.patterns:
        marg = models.of(pat.observed, pat.missing)
        if pat.workspace is None:
            pat.workspace = _estep.StatsWorkspace(
                pat.X.shape[0], models.n_components, pat.observed.size,
                models.covariance_type)
        st = _pattern_call(start, pat, _estep.suff_stats, pat.X, pat.w,
                           marg.model, n_threads, pat.workspace)
        total.add(marg, st)
    return total.suff_stats()


def piece_outputs(models, rows, start, n_threads, outs, **wanted):
    """Fill ``outs`` (the requested per-row outputs of the piece) in place."""
    if isinstance(rows, AugmentedRows):
        aug = AugmentedDiag(models.covariance_type, models.weights, models.means,
                            models.U, rows.fill, models.dtype)
        parts = _sources._with_row_offset(start, _estep.per_sample, rows.X, aug.model,
                                          n_threads, **wanted)
        for out, part in zip(outs, parts):
            out[:] = part
        return
    for group in rows.groups:
        rows_outputs(models, group, outs, start, wanted, n_threads)
    for pat in rows.patterns:
        marg = models.of(pat.observed, pat.missing)
        parts = _pattern_call(start, pat, _estep.per_sample, pat.X, marg.model,
                              n_threads, **wanted)
        for out, part in zip(outs, parts):
            out[pat.rows] = part


def _pattern_call(start, pat, func, *args, **kwargs):
    """Call a kernel wrapper on a pattern's rows; name the row of X if it fails."""
    try:
        return func(*args, **kwargs)
    except ValueError as exc:
        msg = str(exc)
        if not msg.startswith("Row "):
            raise
        local = int(msg.split()[1])
        row = start + int(pat.rows[local])
        raise ValueError(f"Row {row} of X" + msg[msg.index(" of X") + 5:]) from exc


def mean_imputed(X, w=None):
    """X with each NaN replaced by the (weighted) mean of its column's observed values."""
    if not np.isnan(X).any():
        return X
    obs = ~np.isnan(X)
    ww = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    Xz = np.where(obs, X, 0).astype(np.float64)
    den = ww @ obs
    col_means = np.divide(ww @ Xz, den, out=np.zeros(X.shape[1]), where=den > 0)
    out = np.where(obs, X, col_means.astype(X.dtype))
    return np.ascontiguousarray(out, dtype=X.dtype)
