"""Cost of an EM iteration with missing values against the complete-data iteration.

    python bench/bench_missing.py                   # default cases, 10% missing
    python bench/bench_missing.py --cases mid,tall2d --frac 0.1 --threads 2 --rounds 5
    python bench/bench_missing.py --cases seed2d --tile 10   # its rows 10 times over

For each case of ``_cases.py`` (its data and fixed start), the same X is fitted by
gmmfast twice from the same ``weights_init``/``means_init``/``precisions_init`` with
``tol=0``: complete (``missing='error'``), and with a fraction ``--frac`` of its entries
set to NaN at random (missing completely at random; a row left with no observed entry
gets one back) with ``missing='marginalize'``. As in bench_fit.py, each is fitted with
``max_iter=1`` and ``max_iter=1+n``, and the time per iteration is their difference over
n; n is the case's iterations, or more where the set-up would swamp them
(iterations_to_time says why). The two kinds are timed in ``--rounds`` paired rounds
(paired_rounds says why): ``complete`` and ``missing`` are the medians over rounds,
``ratio`` the median of the rounds' ratios missing / complete (the issue's target is at
most 3), and ``rounds' ratios`` their range and how many rounds gave one.
``patterns`` is the number of distinct patterns of missingness ('full' and 'tied': a
pattern with enough rows gets a kernel pass of its own, the rows of the others one
compiled row-by-row pass).

Speed is reported as that ratio only, both measured in the same run on the same data.

``--impute``: instead, per case, the model fitted on the data with holes (``n``
iterations from the start) fills them, ``impute(X)`` (conditional means) and
``impute(X, method='sample')`` (draws), each timed best of ``--repeats`` against
``score_samples(X)`` on the same rows, the pass both share: ``x score`` is that ratio.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cases import CASES, case_seed, make_data, make_init  # noqa: E402
from _estimators import thread_limit  # noqa: E402

DEFAULT = ["seed2d", "tall2d", "mid", "wide", "digits", "diag_big"]


def with_holes(X, frac, seed):
    """X with a fraction ``frac`` of its entries NaN; every row keeps one entry."""
    rng = np.random.default_rng(seed)
    mask = rng.random(X.shape) < frac
    empty = np.flatnonzero(mask.all(axis=1))
    mask[empty, rng.integers(0, X.shape[1], empty.size)] = False
    Xn = X.copy()
    Xn[mask] = np.nan
    return Xn, mask


def timed_fit(X, case, init, max_iter, n_threads, missing):
    from gmmfast import GaussianMixture

    est = GaussianMixture(case.n_components, covariance_type=case.covariance_type,
                          tol=0, max_iter=max_iter, n_threads=n_threads, missing=missing,
                          **init)
    with thread_limit(n_threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X)
        seconds = time.perf_counter() - t0
    if est.n_iter_ != max_iter:
        raise RuntimeError(f"ran {est.n_iter_} iterations, expected {max_iter}")
    return seconds


def fit_pair(X, case, init, n, n_threads, missing):
    """Seconds of a 1-iteration fit and of a (1 + n)-iteration one, back to back."""
    return (timed_fit(X, case, init, 1, n_threads, missing),
            timed_fit(X, case, init, 1 + n, n_threads, missing))


def iterations_to_time(X, case, init, n_iter, n_threads, missing):
    """The n whose (1 + n)-iteration fit takes at least twice the 1-iteration one: n
    starts at n_iter and doubles (up to 64 n_iter). Where the set-up dominates (a missing
    fit of 10^6 rows groups them by pattern, hundreds of ms, where an iteration takes a
    few), its noise otherwise swamps the difference (one run read tall2d_f32's missing
    iteration as 0.05 ms for ~2). These fits also warm the caches and the allocator."""
    n = n_iter
    lo, hi = fit_pair(X, case, init, n, n_threads, missing)
    while hi - lo < lo and n < 64 * n_iter:
        n *= 2
        hi = timed_fit(X, case, init, 1 + n, n_threads, missing)
    return n


def paired_rounds(X, Xn, case, init, n_iter, n_threads, rounds):
    """Per round, seconds an iteration of the complete fit and of the missing one:
    (fit of 1 + n iterations - fit of 1) / n for each, the four fits back to back,
    which of the two goes first alternating between rounds.

    The two kinds are measured side by side because this machine is shared: its speed
    moves over seconds to minutes, and a ratio of two best-of-repeats times taken one
    after the other measured the host's load as much as the code (single runs of the
    same code read 1.2-3.1x on wide_f32). Within a round both fits see the same load;
    the median over rounds drops a round where the load changed in between. A round
    where either difference is not positive (its iterations lost in the noise) gives
    no ratio; if half the rounds give none, it raises."""
    n_full = iterations_to_time(X, case, init, n_iter, n_threads, "error")
    n_miss = iterations_to_time(Xn, case, init, n_iter, n_threads, "marginalize")
    full, miss = [], []
    for r in range(rounds):
        order = [(X, n_full, "error", full), (Xn, n_miss, "marginalize", miss)]
        for data, n, missing, out in (order if r % 2 == 0 else order[::-1]):
            lo, hi = fit_pair(data, case, init, n, n_threads, missing)
            out.append((hi - lo) / n)
    full, miss = np.array(full), np.array(miss)
    kept = (full > 0) & (miss > 0)
    if 2 * kept.sum() <= rounds:
        raise RuntimeError(f"{case.name}: the machine's noise exceeds an iteration's "
                           f"time in {rounds - kept.sum()} of {rounds} rounds "
                           f"(complete {full}, missing {miss} s an iteration)")
    return full[kept], miss[kept]


def best_seconds(func, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def impute_table(args):
    from gmmfast import GaussianMixture

    print("| case | N x D | K | cov | patterns | score_samples ms | impute ms | x score "
          "| impute sample ms | x score |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.cases.split(","):
        case = CASES[name.strip()]
        X = make_data(case, args.quick)
        init = make_init(X, case)
        Xn, mask = with_holes(X, args.frac, case_seed(case) + 7)
        patterns = np.unique(np.packbits(mask, axis=1), axis=0).shape[0]
        est = GaussianMixture(case.n_components, covariance_type=case.covariance_type,
                              tol=0, max_iter=max(2, case.size(args.quick)[1]),
                              n_threads=args.threads, missing="marginalize", **init)
        with thread_limit(args.threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(Xn)
            score = best_seconds(lambda: est.score_samples(Xn), args.repeats)
            mean = best_seconds(lambda: est.impute(Xn), args.repeats)
            draw = best_seconds(lambda: est.impute(Xn, method="sample", random_state=0),
                                args.repeats)
        n, d = X.shape
        print(f"| {case.name} | {n:,} x {d} | {case.n_components} | {case.covariance_type} "
              f"| {patterns:,} | {1e3 * score:.3g} | {1e3 * mean:.3g} | {mean / score:.2f} "
              f"| {1e3 * draw:.3g} | {draw / score:.2f} |", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", default=",".join(DEFAULT))
    p.add_argument("--frac", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5,
                   help="paired rounds of the complete and the missing fit")
    p.add_argument("--repeats", type=int, default=3, help="--impute: best of this many")
    p.add_argument("--quick", action="store_true", help="cases at ~1/50 size")
    p.add_argument("--tile", type=int, default=1,
                   help="repeat each case's rows this many times (the same start): how "
                        "the ratio moves with N at a fixed geometry, e.g. seed2d at "
                        "10^4 and 10^5 rows")
    p.add_argument("--impute", action="store_true",
                   help="time impute (means, draws) against score_samples instead")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.repeats < 1:
        p.error("--rounds and --repeats must be at least 1")
    if args.impute:
        impute_table(args)
        return
    print("| case | N x D | K | cov | patterns | complete ms/it | missing ms/it | ratio "
          "| rounds' ratios |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.cases.split(","):
        case = CASES[name.strip()]
        X = make_data(case, args.quick)
        init = make_init(X, case)
        if args.tile > 1:
            X = np.tile(X, (args.tile, 1))
        Xn, mask = with_holes(X, args.frac, case_seed(case) + 7)
        patterns = np.unique(np.packbits(mask, axis=1), axis=0).shape[0]
        n_iter = max(2, case.size(args.quick)[1])
        full, miss = paired_rounds(X, Xn, case, init, n_iter, args.threads, args.rounds)
        ratios = miss / full
        n, d = X.shape
        print(f"| {case.name} | {n:,} x {d} | {case.n_components} | {case.covariance_type} "
              f"| {patterns:,} | {1e3 * np.median(full):.3g} | {1e3 * np.median(miss):.3g} "
              f"| {np.median(ratios):.2f} | {ratios.min():.2f}-{ratios.max():.2f} "
              f"({ratios.size}) |", flush=True)


if __name__ == "__main__":
    main()
