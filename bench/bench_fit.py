"""gmmfast against scikit-learn: GaussianMixture.fit, case by case, in one run.

    python bench/bench_fit.py                      # default cases, 3 repeats (~10 min)
    python bench/bench_fit.py --quick              # every case at ~1/50 size: smoke test
    python bench/bench_fit.py --cases mid,wide --repeats 5 --threads 1,8 \\
        --markdown bench/RESULTS.md --json results.json
    GMMFAST_ISA=baseline python bench/bench_fit.py --quick   # another build of the kernels

GMMFAST_ISA (baseline, avx2, neon, avx512) caps the build of gmmfast's kernels chosen at
import, here and in the end-to-end child processes; the report's "gmmfast config" names
the build that ran ("isa").

Per case, two parts (see bench/README.md for every column):

iter  Time per EM iteration from one fixed initialisation (weights/means/precisions_init),
      tol=0 so both implementations run exactly max_iter iterations (checked). Each
      configuration is fitted with max_iter=1 and max_iter=1+n; the time per iteration is
      the difference of the best-of-repeats times divided by n, which removes the fixed
      cost of a fit (validation, parameter set-up, the final E-step). Compared with a
      lower bound built from this machine's one-thread GEMM and exp rates.
e2e   One fit with default settings (k-means init, tol=1e-3, fixed random_state), each
      implementation in a fresh process: time, iterations, mean log-likelihood reached
      (score(X)), and the fit's peak resident memory above the RSS once X is loaded.

"t threads" means t threads in all: BLAS and OpenMP pools are held to t (threadpoolctl),
and gmmfast also gets n_threads=t.
"""

import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import _cases  # noqa: E402
import _estimators  # noqa: E402
import _machine  # noqa: E402
import _report  # noqa: E402

RANDOM_STATE = 0  # the end-to-end fits' random_state


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- per iteration


def _timed_fit(impl, case, X, init, max_iter, n_threads):
    est = _estimators.make(
        impl,
        case.n_components,
        n_threads,
        estimator=case.estimator,
        covariance_type=case.covariance_type,
        tol=0.0,
        max_iter=max_iter,
        **init,
    )
    with _estimators.thread_limit(n_threads), _estimators.Quiet():
        t0 = time.perf_counter()
        est.fit(X)
        seconds = time.perf_counter() - t0
    if est.n_iter_ != max_iter:
        raise RuntimeError(
            f"{impl} ran {est.n_iter_} iterations with tol=0 and max_iter={max_iter}; the "
            "per-iteration comparison needs both implementations to run exactly max_iter"
        )
    return seconds, _estimators.lower_bound(est)


def measure_iterations(case, X, init, threads, repeats, quick, rates):
    """Time per EM iteration of every (implementation, thread count), plus derived ratios."""
    _, n_iter = case.size(quick)
    lo, hi = 1, 1 + n_iter
    configs = [(impl, t) for impl in _estimators.IMPLS for t in threads]
    for impl in _estimators.IMPLS:  # warm-up: lazy imports, thread pools, first-touch pages
        _timed_fit(impl, case, X, init, lo, max(threads))

    times = {(impl, t, m): [] for impl, t in configs for m in (lo, hi)}
    bounds = {}
    for _ in range(repeats):  # repeats outermost, so drift in machine load hits all alike
        for impl, t in configs:
            for m in (lo, hi):
                seconds, bound = _timed_fit(impl, case, X, init, m, t)
                times[impl, t, m].append(seconds)
                if m == hi:
                    bounds[impl, t] = bound

    per_iter, fixed = {}, {}
    for impl, t in configs:
        t_lo, t_hi = min(times[impl, t, lo]), min(times[impl, t, hi])
        # a non-positive difference means noise swamped the iterations: report nothing
        per_iter[impl, t] = (t_hi - t_lo) / n_iter if t_hi > t_lo else float("nan")
        fixed[impl, t] = t_lo - per_iter[impl, t]

    unresolved = [f"{impl}@{t}t" for (impl, t), v in per_iter.items() if not v > 0]
    if unresolved:
        log(f"  time per iteration not resolved for {', '.join(unresolved)} (the max_iter={hi} "
            f"run was not slower than max_iter={lo}): raise --repeats or the case's n_iter")
    t_min, t_max = min(threads), max(threads)
    sk_best = min((per_iter["sklearn", t] for t in threads), key=lambda v: (math.isnan(v), v))
    gf_top = per_iter["gmmfast", t_max]
    n_samples = X.shape[0]
    bound_s = _machine.lower_bound_time(
        n_samples, case.n_features, case.n_components, case.covariance_type,
        rates[case.dtype], t_max,
    )
    gf_bounds = {bounds["gmmfast", t] for t in threads}
    return {
        "max_iter_lo": lo,
        "max_iter_hi": hi,
        "n_iter": n_iter,
        "times_s": {f"{impl}@{t}t/max_iter={m}": v for (impl, t, m), v in times.items()},
        "per_iter_s": {f"{impl}@{t}t": v for (impl, t), v in per_iter.items()},
        "fixed_s": {f"{impl}@{t}t": v for (impl, t), v in fixed.items()},
        "sklearn_best_s": sk_best,
        "ratio_sklearn_best_over_gmmfast": _div(sk_best, gf_top),
        "speedup_gmmfast": _div(per_iter["gmmfast", t_min], gf_top),
        "lower_bound_time_s": bound_s,
        "fraction_of_bound": _div(bound_s, gf_top),
        "lower_bound_gap": abs(bounds["gmmfast", t_max] - bounds["sklearn", t_max]),
        "gmmfast_same_on_all_threads": len(gf_bounds) == 1,
    }


def _div(a, b):
    return a / b if b > 0 and math.isfinite(b) else float("nan")


# ---------------------------------------------------------------------------- end to end


def run_child(x_path, case, impl, n_threads):
    request = {
        "x_path": str(x_path),
        "impl": impl,
        "n_components": case.n_components,
        "covariance_type": case.covariance_type,
        "estimator": case.estimator,
        "random_state": RANDOM_STATE,
        "n_threads": n_threads,
    }
    proc = subprocess.run(
        [sys.executable, str(HERE / "_e2e_child.py"), json.dumps(request)],
        capture_output=True, text=True, cwd=str(HERE),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"end-to-end child for {impl} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_end_to_end(case, X, n_threads, repeats, tmpdir):
    x_path = Path(tmpdir) / f"{case.name}.npy"
    np.save(x_path, X)
    try:
        runs = {impl: [] for impl in _estimators.IMPLS}
        for _ in range(repeats):
            for impl in _estimators.IMPLS:
                runs[impl].append(run_child(x_path, case, impl, n_threads))
    finally:
        x_path.unlink()
    out = {"runs": runs}
    for impl, rs in runs.items():
        out[impl] = {
            "seconds": min(r["seconds"] for r in rs),
            "n_iter": rs[0]["n_iter"],
            "converged": rs[0]["converged"],
            "score": rs[0]["score"],
            "peak_mb": max(r["peak_mb"] for r in rs),
            "memory_method": rs[0]["memory_method"],
        }
    out["x_mb"] = X.nbytes / 2**20
    out["ratio_sklearn_over_gmmfast"] = _div(out["sklearn"]["seconds"], out["gmmfast"]["seconds"])
    out["score_diff"] = out["gmmfast"]["score"] - out["sklearn"]["score"]
    out["lower_bound_diff"] = (runs["gmmfast"][0]["lower_bound"]
                               - runs["sklearn"][0]["lower_bound"])
    return out


# ---------------------------------------------------------------------------- main


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Benchmark gmmfast.GaussianMixture.fit against scikit-learn.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="cases: " + ", ".join(
            f"{c.name} ({c.n_samples}x{c.n_features}, K={c.n_components}, {c.covariance_type})"
            for c in _cases.CASES.values() if c.dtype == "float64"
        ) + "; each also as <name>_f32. Default: " + ",".join(_cases.DEFAULT_CASES),
    )
    p.add_argument("--cases", default="default",
                   help="comma-separated case names, 'default' or 'all' (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="~1/50 of the rows, few iterations, 1 repeat: a smoke test")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed runs per configuration, best kept (default 3; 1 with --quick)")
    p.add_argument("--e2e-repeats", type=int, default=1,
                   help="end-to-end fits per implementation, each in a fresh process (default 1)")
    p.add_argument("--threads", default=None,
                   help="comma-separated thread counts (default: 1 and the usable cores)")
    p.add_argument("--estimator", default="gmm", choices=_estimators.ESTIMATORS,
                   help="gmm: GaussianMixture; bgm: BayesianGaussianMixture on the same "
                        "cases, beside scikit-learn's (default: %(default)s)")
    p.add_argument("--bgm-init", default="random_from_data",
                   choices=("kmeans", "k-means++", "random", "random_from_data"),
                   help="init_params of both implementations' Bayesian mixtures in the "
                        "per-iteration timing (default: %(default)s; 'kmeans' is the "
                        "estimator's default). An iteration's time can depend on the "
                        "start: tight components far apart take the 'full' route about "
                        "each mean, which skips the rows a component does not own")
    p.add_argument("--parts", default="iter,e2e",
                   help="which parts to run: iter, e2e or both (default: %(default)s)")
    p.add_argument("--markdown", metavar="FILE",
                   help="write the Markdown report to FILE, between the bench_fit markers "
                        "if FILE has them, else appended")
    p.add_argument("--json", metavar="FILE", help="dump every raw and derived number to FILE")
    args = p.parse_args(argv)

    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.repeats < 1 or args.e2e_repeats < 1:
        p.error("--repeats and --e2e-repeats must be at least 1")
    if args.threads is None:
        args.threads = sorted({1, _machine.usable_cores()})
    else:
        try:
            args.threads = sorted({int(s) for s in args.threads.split(",") if s.strip()})
        except ValueError:
            p.error(f"--threads must be comma-separated integers, got {args.threads!r}")
        if not args.threads or args.threads[0] < 1:
            p.error("--threads needs positive integers")
    args.parts = {s.strip() for s in args.parts.split(",") if s.strip()}
    if not args.parts or not args.parts <= {"iter", "e2e"}:
        p.error("--parts takes 'iter', 'e2e' or 'iter,e2e'")
    args.cases = [dataclasses.replace(c, estimator=args.estimator)
                  for c in _cases.select_cases(args.cases)]
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    info = _machine.machine_info()
    config = info["gmmfast config"]
    if "isa" in config:   # gmmfast before the per-build translation units has no "isa"
        log(f"gmmfast kernels: {config['isa']} (built: {', '.join(config['isa_builds'])})")
    log(f"measuring GEMM and exp rates on one thread ...")
    rates = _machine.measure_rates(quick=args.quick)
    log("  " + ", ".join(
        f"{dt}: GEMM {r['gemm_flops'] / 1e9:.1f} Gflop/s, exp {r['exp_per_s'] / 1e9:.2f} G/s"
        for dt, r in rates.items()
    ))

    results = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="gmmfast-bench-") as tmpdir:
        for case in args.cases:
            t_case = time.perf_counter()
            X = _cases.make_data(case, quick=args.quick)
            row = {"case": case.name, "n_samples": X.shape[0], "n_features": X.shape[1],
                   "n_components": case.n_components, "covariance_type": case.covariance_type,
                   "dtype": case.dtype}
            log(f"[{case.name}] {X.shape[0]} x {X.shape[1]}, K={case.n_components}, "
                f"{case.covariance_type}, {case.dtype}")
            if case.estimator == "bgm":
                row["case"] = f"{case.name}[bgm]"
            if "iter" in args.parts:
                try:
                    # a Bayesian mixture takes no *_init: both implementations start
                    # from the same random_state's initialisation (--bgm-init)
                    init = (_cases.make_init(X, case) if case.estimator == "gmm" else
                            dict(init_params=args.bgm_init, random_state=0))
                    row["iter"] = measure_iterations(
                        case, X, init, args.threads, args.repeats, args.quick, rates)
                    log("  per iteration: " + _report.iter_summary(row["iter"], args.threads))
                except Exception:
                    failed = True
                    row["iter_error"] = traceback.format_exc()
                    log(row["iter_error"])
            if "e2e" in args.parts:
                try:
                    row["e2e"] = measure_end_to_end(
                        case, X, max(args.threads), args.e2e_repeats, tmpdir)
                    log("  end to end: " + _report.e2e_summary(row["e2e"]))
                except Exception:
                    failed = True
                    row["e2e_error"] = traceback.format_exc()
                    log(row["e2e_error"])
            del X
            log(f"  ({time.perf_counter() - t_case:.1f} s)")
            results.append(row)

    report = {
        "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:])),
        "quick": args.quick,
        "repeats": args.repeats,
        "e2e_repeats": args.e2e_repeats,
        "bgm_init": args.bgm_init if args.cases and args.cases[0].estimator == "bgm" else None,
        "threads": args.threads,
        "machine": info,
        "rates": rates,
        "results": results,
        "wall_seconds": time.perf_counter() - started,
    }
    print(_report.text_report(report))
    if args.markdown:
        _report.write_markdown(args.markdown, _report.markdown_report(report))
        log(f"Markdown written to {args.markdown}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str) + "\n")
        log(f"JSON written to {args.json}")
    log(f"total {report['wall_seconds']:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
