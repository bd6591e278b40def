"""gmmfast beside R's mclust: the 14 models x K = 1..9 selection, and each model's cost.

    python bench/bench_mclust.py              # 10^5 x 8; mclust beside gmmfast if R has it
    python bench/bench_mclust.py --quick      # 10^4 x 8: a smoke run
    python bench/bench_mclust.py --markdown out.md   # also write the tables as markdown

Two parts (``--parts select,iter``):

select
    ``Mclust(X, G = 1:9)`` in R (its defaults: the 14 models, the hierarchical start on a
    subset of 2000 rows, EM to a relative change of 1e-5 in the log-likelihood, no
    iteration cap) against ``select_model(X, range(1, 10), covariance_types=MODELS,
    init_params="hierarchical", reg_covar=0)`` on the same data, in the same run, each
    timed whole (R's ``system.time`` around the call; the data are loaded before).
    gmmfast's ``tol`` is mclust's criterion in gmmfast's terms: mclust stops when
    |l_new - l_old| / (1 + |l_new|) < 1e-5 for the total log-likelihood l, gmmfast when
    the mean log-likelihood changes by less than ``tol``, so ``tol = 1e-5 |mean l|`` (from
    the one-component fit); ``max_iter`` is 10^4 (mclust has no cap). gmmfast runs on 1
    thread and on all usable cores; mclust on one (its Fortran is serial). Without R or
    mclust the part reports gmmfast alone and says so.
iter
    One fit per model (K = 5) from the same start, time per EM iteration (``max_iter =
    1`` and ``1 + n`` with ``tol = 0``, the difference of the best-of-repeats over n, as
    bench_fit.py measures it; the models timed in turn, round after round), against the scikit-learn type whose E-step kernel the model
    uses ('full', 'diag', 'spherical' or 'tied'). The ratio is the cost of the model's
    M-step (closed form or iterated) over its kernel type's.
"""

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import _machine  # noqa: E402

from gmmfast import GaussianMixture, select_model  # noqa: E402
from gmmfast._mclust_models import MODELS, kernel_type  # noqa: E402
from gmmfast.selection import _initial_parameters  # noqa: E402
from gmmfast._hc import HierarchicalStart  # noqa: E402

R_SCRIPT = r"""
suppressMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
n <- as.integer(args[2]); d <- as.integer(args[3])
con <- file(args[1], "rb"); x <- readBin(con, "double", n * d); close(con)
X <- matrix(x, nrow = n, ncol = d, byrow = TRUE)
set.seed(0)
t <- system.time(fit <- Mclust(X, G = 1:9, verbose = FALSE))[["elapsed"]]
cat(sprintf("RESULT %.6f %s %d %.12g %s\n", t, fit$modelName, fit$G, fit$bic,
            packageVersion("mclust")))
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def make_data(n, d=8, k=5, seed=0):
    """Overlapping Gaussian blobs with random orientations, volumes and shapes."""
    rng = np.random.RandomState(seed)
    sizes = rng.multinomial(n, np.full(k, 1.0 / k))
    parts = []
    for size in sizes:
        centre = rng.normal(0.0, 3.0, size=d)
        A = rng.normal(size=(d, d)) * rng.uniform(0.3, 1.5, size=d)
        parts.append(rng.normal(size=(size, d)) @ A.T + centre)
    X = np.vstack(parts)
    return np.ascontiguousarray(X[rng.permutation(n)])


def run_mclust(X, tmpdir):
    """(seconds, model, K, BIC, version) of Mclust(X, G = 1:9), or the reason it did not run."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not found (apt-get install r-cran-mclust)"
    check = subprocess.run([rscript, "-e", "suppressMessages(library(mclust))"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        return "R has no mclust (apt-get install r-cran-mclust)"
    data = Path(tmpdir) / "x.bin"
    script = Path(tmpdir) / "mclust.R"
    X.astype("<f8").tofile(data)
    script.write_text(R_SCRIPT)
    out = subprocess.run([rscript, str(script), str(data), str(X.shape[0]), str(X.shape[1])],
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            t, model, K, bic, version = line.split()[1:]
            return float(t), model, int(K), float(bic), version
    return f"Mclust failed: {out.stderr.strip()[-500:]}"


def run_select(X, n_threads, tol):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = select_model(X, range(1, 10), covariance_types=MODELS,
                              init_params="hierarchical", reg_covar=0.0, tol=tol,
                              max_iter=10_000, random_state=0, n_threads=n_threads)
    seconds = time.perf_counter() - t0
    failed = sum(1 for r in result.rows if "error" in r)
    capped = sum(1 for r in result.rows if "error" not in r and not r["converged"])
    iters = sum(r["n_iter"] for r in result.rows)
    best = result.best_params_
    return dict(seconds=seconds, model=best["covariance_type"], K=best["n_components"],
                bic=-result.best_score_, failed=failed, capped=capped, iters=iters)


def part_select(X, tmpdir, cores):
    ll1 = GaussianMixture(1, reg_covar=0.0).fit(X).score(X)
    tol = 1e-5 * abs(ll1)
    log(f"select: gmmfast tol = 1e-5 * |{ll1:.4f}| = {tol:.3g}")
    rows = []
    for t in sorted({1, cores}):
        log(f"select: gmmfast, {t} thread(s) ...")
        r = run_select(X, t, tol)
        r["impl"] = f"gmmfast {t}t"
        rows.append(r)
        log(f"  {r}")
    log("select: mclust ...")
    m = run_mclust(X, tmpdir)
    note = None
    if isinstance(m, str):
        note = f"mclust not run: {m}"
        log(note)
    else:
        seconds, model, K, bic, version = m
        rows.append(dict(impl=f"mclust {version}", seconds=seconds, model=model, K=K,
                         bic=bic, failed=None, capped=None, iters=None))
        log(f"  {rows[-1]}")
    return rows, tol, note


def _time_fit(X, K, model, init, max_iter, repeats, n_threads):
    w, m, p = init
    best = math.inf
    for _ in range(repeats):
        gm = GaussianMixture(K, covariance_type=model, tol=0.0, max_iter=max_iter,
                             weights_init=w, means_init=m, precisions_init=p,
                             n_threads=n_threads)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gm.fit(X)
        best = min(best, time.perf_counter() - t0)
    return best


def part_iter(X, K, n_iter, repeats, n_threads):
    tree = HierarchicalStart(X, None, np.random.RandomState(0))
    labels = tree.labels(K)
    kind = "subset_labels" if tree.subsampled else "labels"
    models = MODELS + ("full", "diag", "spherical", "tied")
    inits = {m: _initial_parameters(X, labels, K, m, 1e-6, kind=kind) for m in models}
    # round robin over the models, best of the repeats: a model and its kernel type
    # are timed minutes apart at most, not a whole part apart
    t1 = dict.fromkeys(models, math.inf)
    tn = dict.fromkeys(models, math.inf)
    for rep in range(repeats):
        for model in models:
            t1[model] = min(t1[model], _time_fit(X, K, model, inits[model], 1, 1, n_threads))
            tn[model] = min(tn[model], _time_fit(X, K, model, inits[model], 1 + n_iter, 1,
                                                 n_threads))
        log(f"iter: round {rep + 1} of {repeats} done")
    per_iter = {m: (tn[m] - t1[m]) / n_iter for m in models}
    rows = []
    for model in MODELS:
        base = kernel_type(model)
        rows.append(dict(model=model, base=base, ms=1e3 * per_iter[model],
                         base_ms=1e3 * per_iter[base],
                         ratio=per_iter[model] / per_iter[base]))
    return rows


def _table(header, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header)] + [line(r) for r in rows])


def _markdown(header, rows):
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                     + ["| " + " | ".join(r) + " |" for r in rows])


def select_tables(rows):
    header = ["impl", "seconds", "best", "BIC (mclust sign)", "failed", "capped", "EM iters",
              "mclust / this"]
    mclust = next((r for r in rows if r["impl"].startswith("mclust")), None)
    cells = []
    for r in rows:
        cells.append([
            r["impl"], f"{r['seconds']:.2f}", f"{r['model']}, K={r['K']}", f"{r['bic']:.2f}",
            "-" if r["failed"] is None else str(r["failed"]),
            "-" if r["capped"] is None else str(r["capped"]),
            "-" if r["iters"] is None else str(r["iters"]),
            f"{mclust['seconds'] / r['seconds']:.1f}" if mclust else "-",
        ])
    return header, cells


def iter_tables(rows):
    header = ["model", "ms/iter", "kernel type", "its ms/iter", "ratio"]
    return header, [[r["model"], f"{r['ms']:.2f}", r["base"], f"{r['base_ms']:.2f}",
                     f"{r['ratio']:.2f}"] for r in rows]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="10^4 rows, fewer repeats")
    p.add_argument("--n", type=int, default=None, help="rows (default 10^5, --quick 10^4)")
    p.add_argument("--parts", default="select,iter", help="select, iter or both")
    p.add_argument("--repeats", type=int, default=None, help="iter part: best of (3)")
    p.add_argument("--threads", type=int, default=None,
                   help="iter part: threads (default: all usable cores)")
    p.add_argument("--markdown", metavar="FILE", help="write the tables as markdown to FILE")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    n = args.n or (10_000 if args.quick else 100_000)
    repeats = args.repeats or (1 if args.quick else 3)
    parts = set(args.parts.split(","))
    cores = _machine.usable_cores()
    X = make_data(n)
    info = _machine.machine_info()
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    isa = " ".join(f for f in ("avx2", "avx512f") if f" {f}" in flags) or "neither avx2 nor avx512f"
    head = (f"{info['cpu']} ({isa}), {info['cores']}; gmmfast {info['gmmfast']} "
            f"({info['git commit']}), numpy {info['numpy']}; data {n} x {X.shape[1]}")
    print(head)
    md = [f"Machine: {head}", ""]
    if "select" in parts:
        with tempfile.TemporaryDirectory() as tmpdir:
            rows, tol, note = part_select(X, tmpdir, cores)
        header, cells = select_tables(rows)
        print(f"\nselect: 14 models x K = 1..9 (gmmfast tol {tol:.3g})")
        print(_table(header, cells))
        md += [f"select: 14 models x K = 1..9 (gmmfast tol {tol:.3g})", "",
               _markdown(header, cells), ""]
        if note:
            print(note)
            md += [note, ""]
    if "iter" in parts:
        threads = args.threads or cores
        rows = part_iter(X, 5, 5 if args.quick else 20, repeats, threads)
        header, cells = iter_tables(rows)
        print(f"\niter: K = 5, {threads} thread(s), per EM iteration")
        print(_table(header, cells))
        md += [f"iter: K = 5, {threads} thread(s), per EM iteration", "",
               _markdown(header, cells), ""]
    if args.markdown:
        Path(args.markdown).write_text("\n".join(md))


if __name__ == "__main__":
    main()
