"""Cost of an EM iteration with missing values against the complete-data iteration.

    python bench/bench_missing.py                   # default cases, 10% missing
    python bench/bench_missing.py --cases mid,tall2d --frac 0.1 --threads 2 --repeats 3
    python bench/bench_missing.py --cases seed2d --tile 10   # its rows 10 times over

For each case of ``_cases.py`` (its data and fixed start), the same X is fitted by
gmmfast twice from the same ``weights_init``/``means_init``/``precisions_init`` with
``tol=0``: complete (``missing='error'``), and with a fraction ``--frac`` of its entries
set to NaN at random (missing completely at random; a row left with no observed entry
gets one back) with ``missing='marginalize'``. As in bench_fit.py, each is fitted with
``max_iter=1`` and ``max_iter=1+n``; the time per iteration is the difference of the
best-of-repeats times divided by n, each fit's repeats back to back; n is the case's
iterations, or more where the set-up would swamp them (per_iteration says why).
``ratio`` is missing / complete: the issue's target is at most 3.
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


def per_iteration(X, case, init, n_iter, n_threads, missing, repeats):
    """Seconds an iteration: the difference of the best-of-repeats fits of 1 + n and 1
    iterations over n, each fit's repeats back to back. n starts at n_iter and doubles
    (up to 64 n_iter) while the n iterations take less than the 1-iteration fit: where
    the set-up dominates (a missing fit of 10^6 rows groups them by pattern, hundreds
    of ms, where an iteration takes a few), the set-up's noise otherwise swamps the
    difference (one run read tall2d_f32's missing iteration as 0.05 ms for ~2).
    (Alternating the complete and the missing fits within each repeat was tried: in
    one whole run diag_big's best 1-iteration missing fit, 1.12 s over nine tries,
    each right after a complete fit, took longer than its best 5-iteration one, 0.96
    s; run alone, its 1-iteration fits take ~0.52 s. The cause was not found; the
    order is back as before.) If the longer fit still was not the longer, its
    iterations lost in the noise, both are repeated, at most twice more, then it
    raises."""
    def best(max_iter):
        return min(timed_fit(X, case, init, max_iter, n_threads, missing)
                   for _ in range(repeats))

    lo = best(1)
    n = n_iter
    hi = best(1 + n)
    while hi - lo < lo and n < 64 * n_iter:
        n *= 2
        hi = best(1 + n)
    for _ in range(2):
        if hi > lo:
            break
        lo = min(lo, best(1))
        hi = min(hi, best(1 + n))
    if hi > lo:
        return (hi - lo) / n
    raise RuntimeError(f"{case.name}: the machine's noise exceeds an iteration's time "
                       f"(best fits of 1 and {1 + n} iterations: {lo}, {hi} s)")


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
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="cases at ~1/50 size")
    p.add_argument("--tile", type=int, default=1,
                   help="repeat each case's rows this many times (the same start): how "
                        "the ratio moves with N at a fixed geometry, e.g. seed2d at "
                        "10^4 and 10^5 rows")
    p.add_argument("--impute", action="store_true",
                   help="time impute (means, draws) against score_samples instead")
    args = p.parse_args(argv)
    if args.impute:
        impute_table(args)
        return
    print("| case | N x D | K | cov | patterns | complete ms/it | missing ms/it | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.cases.split(","):
        case = CASES[name.strip()]
        X = make_data(case, args.quick)
        init = make_init(X, case)
        if args.tile > 1:
            X = np.tile(X, (args.tile, 1))
        Xn, mask = with_holes(X, args.frac, case_seed(case) + 7)
        patterns = np.unique(np.packbits(mask, axis=1), axis=0).shape[0]
        n_iter = max(2, case.size(args.quick)[1])
        full = per_iteration(X, case, init, n_iter, args.threads, "error", args.repeats)
        miss = per_iteration(Xn, case, init, n_iter, args.threads, "marginalize",
                             args.repeats)
        n, d = X.shape
        print(f"| {case.name} | {n:,} x {d} | {case.n_components} | {case.covariance_type} "
              f"| {patterns:,} | {1e3 * full:.3g} | {1e3 * miss:.3g} | {miss / full:.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
