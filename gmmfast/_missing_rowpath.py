"""The row-by-row path of EM with missing values ('full' and 'tied'), for the rows of
patterns too rare for a kernel pass each (``_missing.PatternPlan``): the rows grouped
for one compiled call (``RowGroup``), the checks every array passes before it reaches
``_missing_rows.rows_pass``, and the pass's statistics and per-row outputs in the
forms the pattern passes give them (``rows_stats``, ``rows_outputs``)."""

import contextlib

import numpy as np

from . import _estep, _missing_rows
from ._threads import blas_single_thread

class RowGroup:
    """The rows of patterns too rare for a kernel pass each: X0 (n, D) float64 with
    the missing entries 0, Mi (n, max m) the missing columns of each row (the first
    nm[i] of row i, increasing; 0 after them), nm (n,) their number, rows (n,) the
    rows in the piece (those of a pattern together), w (n,) or None. Their E-step is
    compiled, one call for all of them (``_missing_rows.rows_pass``)."""

    __slots__ = ("_X0", "_Mi", "_nm", "_rows", "_w")

    def __init__(self, X0, Mi, nm, rows, w):
        # checked once here rather than on every pass (the compiled pass reads them
        # as they are), and read-only from here on
        n = X0.shape[0] if X0.ndim == 2 else -1
        if (X0.dtype != np.float64 or X0.ndim != 2 or not X0.flags.c_contiguous
                or Mi.dtype != np.intp or Mi.ndim != 2 or Mi.shape[0] != n
                or not Mi.flags.c_contiguous or nm.dtype != np.intp
                or nm.shape != (n,) or not nm.flags.c_contiguous):
            raise ValueError("row-by-row pass: the rows are not a float64 (n, D) array "
                             "with intp arrays of missing columns (n, m) and counts (n,)")
        if w is not None and (w.dtype != np.float64 or w.shape != (n,)
                              or not w.flags.c_contiguous):
            raise ValueError("row-by-row pass: the weights are not a float64 (n,) array")
        if not np.isfinite(X0).all() or (w is not None and not np.isfinite(w).all()):
            raise ValueError("row-by-row pass: the observed entries and the weights "
                             "must be finite")
        for a in (X0, Mi, nm, w):
            if a is not None:
                a.flags.writeable = False
        self._X0, self._Mi, self._nm, self._rows, self._w = X0, Mi, nm, rows, w

    X0 = property(lambda self: self._X0)
    Mi = property(lambda self: self._Mi)
    nm = property(lambda self: self._nm)
    rows = property(lambda self: self._rows)
    w = property(lambda self: self._w)


#: Rows of a row-by-row block: 512 KiB of (D + K + K max m) doubles a row. The block's
#: scratch holds more than this counts (each pattern's inverses, kept from the first
#: sweep for the second, and b and -t of every missing entry): at 2 MiB by this count,
#: ~3.6 MB a thread on the bench's wide case, past L2 on every thread and sharing L3
#: with the rest of the host. Blocks a quarter that size were 5-8% faster on the
#: bench's wide and digits cases, paired in one process (bench/results/missing.md),
#: once the statistics' slots no longer came one a block (_missing_rows.slot_blocks).
#: The size fixes how the sums are grouped, hence the results' last bits.
ROW_BLOCK_DOUBLES = 2**16


#: Rows of a sub-block through moment rows: 1 MiB of their D (D + 1) / 2 + D + 1
#: products and the row's D + K, which its two GEMMs read (as the complete data's
#: kernels keep a block's moment rows in a thread's share of the cache).
MOMENT_BLOCK_DOUBLES = 2**17
#: Sub-blocks of a block through moment rows. Eight once amortised a block's
#: statistics, zeroed and added into the total once per block; the slots now take a
#: run of blocks each (_missing_rows.slot_blocks), and a block of eight sub-blocks
#: kept eight sub-blocks' inverses (~7 MB a thread on the bench's 200,000 x 16 case):
#: one is 15-40% faster there.
MOMENT_SUB_BLOCKS = 1


def _row_block(group, n_components, moments=False):
    """(rows per block, rows per sub-block): the sub-block is the block but through
    moment rows."""
    D = group.X0.shape[1]
    m = group.Mi.shape[1]
    if moments:
        sub = max(16, MOMENT_BLOCK_DOUBLES // (D * (D + 1) // 2 + 2 * D + 1
                                               + n_components))
        return MOMENT_SUB_BLOCKS * sub, sub
    block = max(64, ROW_BLOCK_DOUBLES // (D + n_components * (1 + m)))
    return block, block


# the pass's "none" for an optional array (empty: nothing is ever written to them)
_NONE = np.empty(0)
_NONE_2D = np.empty((0, 0))
_NONE_3D32 = np.empty((0, 0, 0), dtype=np.float32)
_NO_LABELS = np.empty(0, dtype=np.intp)


def _check_rows(n_bad, lse, group, start):
    """Raise for the first row (in the piece's order) of zero density, if any of the
    pass's ``n_bad`` rows."""
    if n_bad:
        bad = ~np.isfinite(lse)
        raise _estep._zero_density_error(start + int(group.rows[bad].min()))


def _rows_pass(models, group, n_threads, lse, resp=None, labels=None, stats=None,
               cmean=None, choice=None, draw=None):
    """Run the compiled row-by-row pass on a RowGroup (its arrays checked when it was
    made; the model's by ``row_params``): the compiled code trusts their dtypes,
    shapes and finiteness. Returns the number of rows of zero density."""
    K, D = models.means.shape
    X0, Mi, nm, w = group.X0, group.Mi, group.nm, group.w
    if X0.shape[1] != D:
        raise ValueError(f"row-by-row pass: the rows have {X0.shape[1]} features; the "
                         f"mixture {D}")
    U, Pt, logc = models.row_params()
    # the conditional means and draws come from the row route's own -t and factors
    # (not the moment rows')
    moments = models.moment_params() if cmean is None and draw is None else None
    # float32 products where the complete float32 rows take them, unless through
    # moment rows (in double; moment_params leaves the widest float32 data to the
    # float32 products, faster there)
    Uf = models.row_factors32() if moments is None else None
    # with few features the pass calls no BLAS, and holding BLAS to one thread (a
    # thread-pool controller's call) would cost more than the pass
    limit = (contextlib.nullcontext() if D < _missing_rows.BLAS_MIN_FEATURES
             else blas_single_thread())
    with limit:
        return _missing_rows.rows_pass(
            X0, Mi, nm, _NONE if w is None else w, models.means, U, Pt, logc,
            _NONE_3D32 if Uf is None else Uf,
            _NONE if moments is None else moments[0],
            _NONE_2D if moments is None else moments[1],
            *_row_block(group, K, moments is not None), max(1, int(n_threads)),
            lse, np.empty((0, K)) if resp is None else resp,
            _NO_LABELS if labels is None else labels,
            _NONE if stats is None else stats, cmean, choice, draw)


def rows_stats(models, group, total, start, n_threads=1):
    """Add a RowGroup's expanded statistics (about the means) into ``total``."""
    lse = np.empty(group.X0.shape[0])
    # the pass adds into total's buffer, laid out as it writes
    _check_rows(_rows_pass(models, group, n_threads, lse, stats=total.flat), lse, group,
                start)


def rows_outputs(models, group, outs, start, wanted, n_threads=1):
    n, K = group.X0.shape[0], models.n_components
    lse = np.empty(n)
    resp = np.empty((n, K)) if wanted.get("resp") else None
    labels = np.empty(n, dtype=np.intp) if wanted.get("labels") else None
    _check_rows(_rows_pass(models, group, n_threads, lse, resp, labels), lse, group,
                start)
    parts = [p for p, want in ((lse, "lse"), (resp, "resp"), (labels, "labels"))
             if wanted.get(want)]
    for out, part in zip(outs, parts):
        out[group.rows] = part


def rows_conditional_means(models, group, n_threads=1):
    """The conditional means E[x_M | x_O] of a RowGroup's missing entries: (n, mmax),
    row i's in its first ``group.nm[i]`` columns (for its columns ``group.Mi[i]``),
    the rest 0; and the rows' log-densities (n,), -inf for a row of zero density
    (its means then not defined: the caller names the row)."""
    n = group.X0.shape[0]
    lse = np.empty(n)
    cmean = np.zeros((n, group.Mi.shape[1]))
    _rows_pass(models, group, n_threads, lse, cmean=cmean)
    return cmean, lse


def rows_conditional_draws(models, group, sample, n_threads=1):
    """A draw of each RowGroup row's missing entries from their conditional law given
    its observed ones, laid out as ``rows_conditional_means``': ``sample(resp)``, from
    the rows' responsibilities (n, K), gives a component per row and standard normal
    draws (n, mmax); the pass turns each row's into a draw of that component's
    conditional Gaussian. Also the rows' log-densities, -inf for a row of zero density
    (its draw not defined)."""
    n, K = group.X0.shape[0], models.n_components
    lse = np.empty(n)
    resp = np.empty((n, K))
    _rows_pass(models, group, n_threads, lse, resp)
    choice, draw = sample(resp)
    choice = np.ascontiguousarray(choice, dtype=np.intp)
    draw = np.ascontiguousarray(draw, dtype=np.float64)
    if np.isfinite(lse).all():
        _rows_pass(models, group, n_threads, lse, choice=choice, draw=draw)
    return draw, lse
