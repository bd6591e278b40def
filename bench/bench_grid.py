"""gmmfast against scikit-learn and the machine's bound on a grid of geometries (issue 19).

    python bench/bench_grid.py                       # the whole grid, ~30 min on 2 cores
    python bench/bench_grid.py --quick               # every case at ~1/50 size: a smoke run
    python bench/bench_grid.py --list                # the cases, by set
    python bench/bench_grid.py --sets kfull,rows --geometries far --parts iter
    python bench/bench_grid.py --only sep-1e5x16 --markdown out.md --json out.json

The cases (_grid_cases.py) sweep D, K and N over three geometries of the means
(_cases.GEOMETRIES), every covariance type, float64 and a float32 subset. Three parts
(bench/README.md defines every column):

iter     Time per EM iteration from the same fixed start for both, gmmfast on --threads
         (bench_fit's method: max_iter=1 and 1+n, tol=0, the difference over n),
         scikit-learn on --sk-threads (its iterations timed one by one after a
         max_iter=1 fit), beside the lower bound of this machine (_machine). n is chosen
         per implementation from its first fit's time, so that a 10^7-row case does not
         cost a scikit-learn run of minutes and a small one is still resolved.
e2e      The default fit (k-means start) of each implementation in a fresh process
         (bench_fit's end-to-end part) on E2E_CASES.
predict  score_samples, predict_proba and predict on 10^6 rows, each covariance type, of
         models fitted from the same start, each call in a fresh process with its peak
         memory (_predict_child.py).
"""

import argparse
import fnmatch
import json
import math
import os
import pickle
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
import _grid_cases  # noqa: E402
import _grid_report  # noqa: E402
import _machine  # noqa: E402
import _report  # noqa: E402
from bench_fit import _div, _timed_fit, log, measure_end_to_end  # noqa: E402

#: wanted duration of the max_iter=1+n fit, seconds: long enough that the difference
#: with max_iter=1 stands above the noise, short enough for 130 cases (full, quick)
TARGET_S = {"gmmfast": (0.25, 0.03), "sklearn": (1.5, 0.1)}
#: bounds of n per implementation (scikit-learn's iterations reach seconds each)
N_ITER_RANGE = {"gmmfast": (2, 300), "sklearn": (2, 20)}
#: rows the prediction models are fitted on (the start is the same for both)
PREDICT_FIT_ROWS = 200_000


# ---------------------------------------------------------------------------- per iteration


def _iterations(impl, case, X, init, n_threads, repeats, quick):
    """Per-iteration time of one implementation: best max_iter=1+n minus best max_iter=1,
    over n, with n set from the first max_iter=1 fit."""
    target = TARGET_S[impl][1 if quick else 0]
    n_min, n_max = N_ITER_RANGE[impl]
    t_lo, _ = _timed_fit(impl, case, X, init, 1, n_threads)
    # a max_iter=1 fit is an iteration and the final E-step: about two iterations
    est = max(t_lo / 2.0, 1e-5)
    n = int(min(n_max, max(n_min, math.ceil(target / est))))
    lo, hi = [t_lo], []
    hi_bound = None
    for r in range(repeats):
        if r:
            lo.append(_timed_fit(impl, case, X, init, 1, n_threads)[0])
        seconds, hi_bound = _timed_fit(impl, case, X, init, 1 + n, n_threads)
        hi.append(seconds)
    per_iter = (min(hi) - min(lo)) / n if min(hi) > min(lo) else float("nan")
    return {"per_iter_s": per_iter, "n_iter": n, "repeats": repeats, "lo_s": lo, "hi_s": hi,
            "lower_bound_hi": hi_bound}


def _sk_iterations(case, X, init, n_threads, quick):
    """scikit-learn's per-iteration time, its iterations timed one by one in its own loop.

    A max_iter=1 fit from the start, then n more iterations as its fit runs them
    (_e_step, then _m_step), each timed, the fastest kept. The difference of two long
    fits (gmmfast's method, _iterations) needs n large or repeats where scikit-learn's
    iteration takes seconds; on a shared machine it came out negative or several times
    too small on some cases. lower_bound_hi is what fit(max_iter=1+n) would report."""
    target = TARGET_S["sklearn"][1 if quick else 0]
    n_min, n_max = N_ITER_RANGE["sklearn"]
    est = _estimators.make("sklearn", case.n_components, n_threads,
                           covariance_type=case.covariance_type, tol=0.0, max_iter=1, **init)
    with _estimators.thread_limit(n_threads), _estimators.Quiet():
        t0 = time.perf_counter()
        est.fit(X)
        t_fit = time.perf_counter() - t0
        n = int(min(n_max, max(n_min, math.ceil(target / max(t_fit / 2.0, 1e-5)))))
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            log_prob_norm, log_resp = est._e_step(X)
            est._m_step(X, log_resp)
            times.append(time.perf_counter() - t0)
    return {"per_iter_s": min(times), "n_iter": n, "repeats": 1, "iter_s": times,
            "fit1_s": t_fit, "lower_bound_hi": float(np.mean(log_prob_norm))}


def measure_iter(case, X, init, args, rates):
    gf_t = args.threads
    out = {"per_iter_s": {}, "n_iter": {}, "repeats": {}, "raw": {}}
    # warm-up: lazy imports, thread pools; scikit-learn's on a slice, its fits being long,
    # with rows enough that no component collapses in float32
    _timed_fit("gmmfast", case, X, init, 1, gf_t)
    rows = min(len(X), max(2000, 10 * case.n_components * case.n_features))
    if not args.no_sklearn:
        _timed_fit("sklearn", case, X[:rows], init, 1, args.sk_threads[0])
    configs = ([] if args.no_sklearn else [("sklearn", t) for t in args.sk_threads]) + [
        ("gmmfast", gf_t)]
    for impl, t in configs:
        m = (_iterations(impl, case, X, init, t, args.repeats, args.quick)
             if impl == "gmmfast" else _sk_iterations(case, X, init, t, args.quick))
        key = f"{impl}@{t}t"
        out["per_iter_s"][key] = m.pop("per_iter_s")
        out["n_iter"][key] = m["n_iter"]
        out["repeats"][key] = m["repeats"]
        out["raw"][key] = m
    gf = out["per_iter_s"][f"gmmfast@{gf_t}t"]
    out.update({"sklearn_best": None, "sklearn_best_s": float("nan"), "gmmfast_s": gf,
                "ratio_sklearn_over_gmmfast": float("nan"), "lower_bound_gap": float("nan")})
    if not args.no_sklearn:
        sk_key = min((f"sklearn@{t}t" for t in args.sk_threads),
                     key=lambda k: (not out["per_iter_s"][k] > 0, out["per_iter_s"][k]))
        sk = out["per_iter_s"][sk_key]
        # the log-likelihood gap after the same iterations: gmmfast again at scikit-learn's n
        sk_n = out["n_iter"][sk_key]
        if out["n_iter"][f"gmmfast@{gf_t}t"] == sk_n:
            gf_lb = out["raw"][f"gmmfast@{gf_t}t"]["lower_bound_hi"]
        else:
            gf_lb = _timed_fit("gmmfast", case, X, init, 1 + sk_n, gf_t)[1]
        out.update({
            "sklearn_best": sk_key,
            "sklearn_best_s": sk,
            "ratio_sklearn_over_gmmfast": _div(sk, gf),
            "lower_bound_gap": abs(gf_lb - out["raw"][sk_key]["lower_bound_hi"]),
        })
    out["nonzero"] = nonzero_fraction(case, X, init, gf_t)
    set_bound(out, X.shape[0], case, rates, gf_t)
    return out


def nonzero_fraction(case, X, init, n_threads, rows=20_000):
    """The fraction of responsibilities not exactly 0 after one iteration from the start,
    on the first rows (the rows are in random order): the share of the M-step's work
    that no implementation can skip."""
    est = _estimators.make("sklearn", case.n_components, n_threads,
                           covariance_type=case.covariance_type, tol=0.0, max_iter=1, **init)
    with _estimators.thread_limit(n_threads), _estimators.Quiet():
        resp = est.fit(X[:rows]).predict_proba(X[:rows])
    return np.count_nonzero(resp) / resp.size


def set_bound(it, n_samples, case, rates, n_threads):
    shape = (n_samples, case.n_features, case.n_components, case.covariance_type,
             rates[case.dtype], n_threads)
    prods, exps = _machine.lower_bound_parts(*shape, nonzero=it["nonzero"])
    it.update({"lower_bound_time_s": prods + exps, "lower_bound_products_s": prods,
               "lower_bound_exp_s": exps,
               "gmmfast_over_bound": _div(it["gmmfast_s"], prods + exps),
               "dense_bound_time_s": _machine.lower_bound_time(*shape)})


def best_rates(first, last):
    """The faster of two measurements of each rate: other work on a shared machine only
    ever slows a measurement down, and the bound must not be raised by it."""
    return {dt: {k: max(first[dt][k], last[dt][k]) for k in first[dt]} for dt in first}


# ---------------------------------------------------------------------------- prediction


def _fit_for_prediction(impl, case, X, init, n_threads):
    est = _estimators.make(impl, case.n_components, n_threads,
                           covariance_type=case.covariance_type, tol=0.0, max_iter=3, **init)
    with _estimators.thread_limit(n_threads), _estimators.Quiet():
        est.fit(X[:PREDICT_FIT_ROWS])
    return est


def _predict_child(x_path, model_path, method, n_threads, repeats):
    request = {"x_path": str(x_path), "model_path": str(model_path), "method": method,
               "n_threads": n_threads, "repeats": repeats}
    proc = subprocess.run([sys.executable, str(HERE / "_predict_child.py"), json.dumps(request)],
                          capture_output=True, text=True, cwd=str(HERE))
    if proc.returncode != 0:
        raise RuntimeError(f"prediction child failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_predict(case, X, args, tmpdir):
    """Both implementations fitted from the same start on the first rows, then each method
    timed on all of X in a fresh process; scikit-learn gets the same threads as gmmfast."""
    init = _cases.make_init(X, case)
    x_path = Path(tmpdir) / f"{case.name}.npy"
    np.save(x_path, X)
    out = {"x_mb": X.nbytes / 2**20, "methods": {}}
    try:
        for impl in _estimators.IMPLS:
            with open(Path(tmpdir) / f"{case.name}.{impl}.pkl", "wb") as f:
                pickle.dump(_fit_for_prediction(impl, case, X, init, args.threads), f)
        for method in _grid_cases.PREDICT_METHODS:
            res = {impl: _predict_child(x_path, Path(tmpdir) / f"{case.name}.{impl}.pkl",
                                        method, args.threads, args.predict_repeats)
                   for impl in _estimators.IMPLS}
            res["ratio_sklearn_over_gmmfast"] = _div(res["sklearn"]["seconds"],
                                                     res["gmmfast"]["seconds"])
            res["check_diff"] = res["gmmfast"]["check"] - res["sklearn"]["check"]
            out["methods"][method] = res
    finally:
        for p in Path(tmpdir).glob(f"{case.name}.*"):
            p.unlink()
    return out


# ---------------------------------------------------------------------------- selection


def _select(cases, args):
    chosen = []
    for c in cases:
        if args.sets and _grid_cases.CASE_SET.get(c.name, "predict") not in args.sets:
            continue
        if args.geometries and c.geometry not in args.geometries:
            continue
        if args.cov and c.covariance_type not in args.cov:
            continue
        if args.dtype and c.dtype not in args.dtype:
            continue
        if args.only and not any(fnmatch.fnmatch(c.name, p if any(ch in p for ch in "*?[")
                                                 else f"*{p}*") for p in args.only):
            continue
        chosen.append(c)
    return chosen


def _csv(s):
    return [v.strip() for v in s.split(",") if v.strip()] if s else []


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="~1/50 of the rows, short fits, 1 repeat: a smoke run")
    p.add_argument("--parts", default="iter,e2e,predict",
                   help="iter, e2e, predict, comma-separated (default: %(default)s)")
    p.add_argument("--sets", type=_csv, default=[],
                   help="only these sets: " + ", ".join(_grid_cases.SETS) + " (predict "
                        "cases are in no set; --sets keeps the predict part off)")
    p.add_argument("--only", type=_csv, default=[],
                   help="only cases whose name contains one of these (or matches a glob)")
    p.add_argument("--geometries", type=_csv, default=[],
                   help="only these geometries: " + ", ".join(_cases.GEOMETRIES))
    p.add_argument("--cov", type=_csv, default=[], help="only these covariance types")
    p.add_argument("--dtype", type=_csv, default=[], help="float64 and/or float32")
    p.add_argument("--threads", type=int, default=2,
                   help="gmmfast's threads in all (default: %(default)s)")
    p.add_argument("--sk-threads", default="1",
                   help="scikit-learn's thread counts, the best kept (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=None,
                   help="gmmfast's timed runs per fit length (default 5; 1 with --quick)")
    p.add_argument("--no-sklearn", action="store_true",
                   help="iter part: time gmmfast alone against the bound (a few minutes for "
                        "the whole grid: for work on the kernels)")
    p.add_argument("--e2e-repeats", type=int, default=1)
    p.add_argument("--predict-repeats", type=int, default=3)
    p.add_argument("--list", action="store_true", help="print the selected cases and exit")
    p.add_argument("--markdown", metavar="FILE",
                   help="write the report between the bench_grid markers of FILE, else append")
    p.add_argument("--json", metavar="FILE", help="dump every raw and derived number to FILE")
    args = p.parse_args(argv)
    args.parts = set(_csv(args.parts))
    if not args.parts or not args.parts <= {"iter", "e2e", "predict"}:
        p.error("--parts takes iter, e2e and/or predict")
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    args.sk_threads = sorted({int(t) for t in _csv(args.sk_threads)})
    for name, known in (("geometries", _cases.GEOMETRIES), ("sets", _grid_cases.SETS)):
        bad = [v for v in getattr(args, name) if v not in known]
        if bad:
            p.error(f"unknown {name}: {', '.join(bad)}")
    return args


# ---------------------------------------------------------------------------- main


def _run_case(case, args, rates, tmpdir, parts):
    t_case = time.perf_counter()
    X = _cases.make_data(case, quick=args.quick)
    row = {"case": case.name, "set": _grid_cases.CASE_SET.get(case.name, "predict"),
           "geometry": case.geometry, "n_samples": X.shape[0], "n_features": X.shape[1],
           "n_components": case.n_components, "covariance_type": case.covariance_type,
           "dtype": case.dtype}
    log(f"[{case.name}] {X.shape[0]} x {X.shape[1]}, K={case.n_components}, "
        f"{case.covariance_type}, {case.dtype}, {case.geometry}")
    for part in parts:
        try:
            if part == "iter":
                row["iter"] = measure_iter(case, X, _cases.make_init(X, case), args, rates)
                log("  per iteration: " + _grid_report.iter_summary(row["iter"]))
            elif part == "e2e":
                row["e2e"] = measure_end_to_end(case, X, args.threads, args.e2e_repeats, tmpdir)
                log("  end to end: " + _report.e2e_summary(row["e2e"]))
            else:
                row["predict"] = measure_predict(case, X, args, tmpdir)
                log("  predict: " + _grid_report.predict_summary(row["predict"]))
        except Exception:
            row[f"{part}_error"] = traceback.format_exc()
            log(row[f"{part}_error"])
    del X
    row["seconds"] = time.perf_counter() - t_case
    log(f"  ({row['seconds']:.1f} s)")
    return row


def _load():
    """The 1-minute load average: other work on the machine while the grid runs."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def main(argv=None):
    args = parse_args(argv)
    iter_cases = _select(_grid_cases.CASES.values(), args) if "iter" in args.parts else []
    e2e_cases = (_select([_grid_cases.CASES[n] for n in _grid_cases.E2E_CASES], args)
                 if "e2e" in args.parts else [])
    predict_cases = (_select(_grid_cases.PREDICT_CASES, args)
                     if "predict" in args.parts else [])
    if args.list:
        for c in iter_cases + e2e_cases + predict_cases:
            part = ("iter" if c in iter_cases else "") + (" e2e" if c in e2e_cases else "") + \
                   (" predict" if c in predict_cases else "")
            n = c.size(args.quick)[0]
            print(f"{c.name:32s} {_grid_cases.CASE_SET.get(c.name, '-'):6s} {part.strip():9s} "
                  f"N={n} D={c.n_features} K={c.n_components}")
        return 0

    started = time.perf_counter()
    load_start = _load()
    info = _machine.machine_info()
    log(f"gmmfast kernels: {info['gmmfast config'].get('isa', '?')}; measuring one-thread "
        "GEMM and exp rates ...")
    rates = _machine.measure_rates(quick=args.quick)
    log("  " + _report._rates_line({"rates": rates}))

    # each case's data are made once for all its parts
    plan = {}
    for part, cases in (("iter", iter_cases), ("e2e", e2e_cases), ("predict", predict_cases)):
        for c in cases:
            plan.setdefault(c.name, (c, []))[1].append(part)
    results = []
    with tempfile.TemporaryDirectory(prefix="gmmfast-grid-") as tmpdir:
        for case, parts in plan.values():
            results.append(_run_case(case, args, rates, tmpdir, parts))

    # the rates again at the end, the better kept, and every bound recomputed with them
    log("measuring the rates again ...")
    rates_end = _machine.measure_rates(quick=args.quick)
    rates_start, rates = rates, best_rates(rates, rates_end)
    log("  " + _report._rates_line({"rates": rates_end}))
    for r in results:
        if "iter" in r:
            set_bound(r["iter"], r["n_samples"], _grid_cases.CASES[r["case"]], rates,
                      args.threads)

    report = {
        "command": " ".join(["bench_grid.py"] + (argv if argv is not None else sys.argv[1:])),
        "quick": args.quick, "threads": args.threads, "sk_threads": args.sk_threads,
        "repeats": args.repeats,
        "e2e_repeats": args.e2e_repeats, "predict_repeats": args.predict_repeats,
        "machine": info, "cpu_flags": _grid_report.cpu_flags(), "rates": rates,
        "rates_start": rates_start, "rates_end": rates_end,
        "load_average": {"start": load_start, "end": _load()},
        "results": results, "wall_seconds": time.perf_counter() - started,
    }
    print(_grid_report.text_report(report))
    if args.markdown:
        _report.write_markdown(args.markdown, _grid_report.markdown_report(report),
                               _grid_report.MARK_BEGIN, _grid_report.MARK_END)
        log(f"Markdown written to {args.markdown}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str) + "\n")
        log(f"JSON written to {args.json}")
    log(f"total {report['wall_seconds']:.0f} s")
    return 1 if any(k.endswith("_error") for r in results for k in r) else 0


if __name__ == "__main__":
    sys.exit(main())
