#!/usr/bin/env python3
"""Bit-identity hashes of gmmfast fits, to prove that a refactor of the compiled core
changes no result.

Run it on the installed package before and after the change and diff the outputs:

    cd /tmp && python /path/to/tools/hash_fits.py --out before.txt
    ... rebuild / reinstall ...
    cd /tmp && python /path/to/tools/hash_fits.py --out after.txt
    diff before.txt after.txt          # no output: every fit is bit-identical

(Run it from outside the source tree, so that the installed, compiled package is
imported.) Each ISA build (GMMFAST_ISA=baseline|avx2|avx512, read once at import) runs
in a subprocess of its own. Every case is fitted with n_threads=1 and n_threads=2, with
and without sample_weight, and hashed: sha256 over the raw bytes (with dtype and shape)
of weights_, means_, covariances_, precisions_, precisions_cholesky_, lower_bound_,
lower_bounds_, n_iter_, converged_, and of score_samples, predict_proba, predict, score,
bic and sample on the training data. One line per case, `ISA  case  hash16`, then a
total per ISA and a grand total.

Checks (printed; the exit status is 1 on a FAIL):
  - FAIL when n_threads=1 and n_threads=2 give different hashes for a case (gmmfast
    documents results that do not depend on the thread count);
  - avx2 against avx512: the project says both builds fit the same model to the bit.
    Reported, not assumed: DIFF lines name each case (and attribute) that differs,
    without failing. baseline (no FMA) is expected to differ; only counted.

Only the public API is used (gmmfast.GaussianMixture, gmmfast.show_config and the
GMMFAST_ISA variable), so the script survives the renaming or moving of internal
modules. The one internal look-up, the vector build gmmfast reports it chose
(gmmfast._kernels.vmath_impl()), is guarded and only printed as
information; it is not part of any hash.

The case grid (CASES below) was chosen by reading gmmfast/_estep.py and
the kernel routes (gmmfast/_kernels/route_*.pxi); the thresholds it relies on are hard-coded
here on purpose (importing them would tie the script to internal names):

  SMALL_D = 8                'full' with D < 8 runs the small-D route (csrc/small_full.h),
                             compiled once for each D = 1..7;
  MOMENTS_MAX_SPREAD = 256   'full' with D >= 8 runs "moment rows" about the mixture
                             mean (two GEMMs for all components) while every component's
                             (mu_k - c)' P_k (mu_k - c) <= 256, else per component
                             about its own mean (route_full_means.pxi);
  FULL32_MIN_FEATURES = 16   float32 'full' with D >= 16 always runs per component in
                             float32 products (gmm_full32_*), whatever the
                             spread; float32 with 8 <= D < 16 takes moment rows (in
                             double) when the spread allows, else the float32 kernels;
  GMM_FULL32_MIN_ROWS = 8    a block in which fewer than 8 rows have a non-zero
                             responsibility for a component takes its scatter in double
                             (tiny components among far-apart ones);
  BLOCK_SIZE = 256, WIDE_BLOCK_SIZE = 128 from D >= 32 when there are >= 64 blocks;
                             fewer than 64 blocks with enough work: 8k equal blocks;
  MIN_WORK_PER_THREAD = 2**18: a pass uses a 2nd thread only when N K (D + 2) >= 2**19,
                             so every case meant to test threads is at least that big
                             (otherwise n_threads=2 would silently run on one thread);
  'diag' tiles: AVX2 12 components x 4 rows / 4 components x 3 vectors of 4 columns,
                             AVX-512 32 components / vectors of 8 with a masked tail:
                             K = 13 and K = 37 with odd D leave remainders in both;
  k-means (_kmeans.pyx) runs threaded when N D K >= 2**22;
  memmap input is read in pieces of 16 MiB of float64 (16 MiB / (8 D) rows, whole
                             blocks), so the memmap case holds more than 16 MiB;
  the M-step factorises on several threads when K D^3 >= 2**20 ('full').

A fit with all of weights_init, means_init and precisions_init starts there without
k-means ("fixed start"); with tol=0 it runs exactly max_iter EM iterations.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ISAS = ("baseline", "avx2", "avx512")

# ----------------------------------------------------------------------------- grid
#
# name: short, stable (it is the diff key). route: which kernel path the case exercises
# and why. Fields: cov, D, K, N, dtype, sep (scale of the component means; covariances
# are O(1)), off (offset added to all data), tiny (components of ~0.6% weight: too few
# rows per block), mode, it (EM iterations / partial_fit steps), seed.

def _case(name, route, cov, D, K, N, dtype, *, sep=1.0, off=0.0, tiny=0,
          mode="fixed", it=3, seed=None):
    return dict(name=name, route=route, cov=cov, D=D, K=K, N=N, dtype=dtype, sep=sep,
                off=off, tiny=tiny, mode=mode, it=it,
                seed=seed if seed is not None else abs(hash_name(name)) % 2**31)


def hash_name(name):
    """A seed from the case name (stable across runs, unlike hash())."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


CASES = []
# small-D kernel: 'full', D < SMALL_D = 8, one compiled instance per D, both dtypes.
# N = 30000, K = 6: N K (D + 2) >= 540000 >= 2**19, so 2 threads really split (D=1
# included); 118 blocks >= 64: fixed 256-row blocks.
for _D in range(1, 8):
    for _dt in ("f64", "f32"):
        CASES.append(_case(f"full-smalld-D{_D}-{_dt}",
                           f"D={_D} < SMALL_D=8: small-D kernel ({_dt})",
                           "full", _D, 6, 30000, _dt, sep=1.5))
CASES += [
    # moment rows (COV_FULL_MOMENTS): overlapping components, spread << 256.
    _case("full-moments-D8-f64", "D=8 = SMALL_D, overlapping: moment rows (boundary)",
          "full", 8, 8, 7001, "f64"),
    _case("full-moments-D8-f32", "float32 D=8 < 16 overlapping: moment rows in double",
          "full", 8, 8, 7001, "f32", off=30.0),
    _case("full-moments-D12-f64", "D=12 overlapping: moment rows; 8k equal blocks",
          "full", 12, 8, 6001, "f64"),
    _case("full-moments-D12-f32", "float32 D=12 < 16 overlapping, offset 30: moment "
          "rows in double about float32(c)", "full", 12, 8, 6001, "f32", off=30.0),
    _case("full-moments-D40-f64", "D=40 >= 32 overlapping, 133 blocks: moment rows "
          "with 128-row (wide) blocks", "full", 40, 4, 17000, "f64", sep=0.6),
    # 'full' per component about each mean, float64 (spread far beyond 256).
    _case("full-percomp-D12-f64", "D=12 separated (spread ~1e5 > 256): per-component "
          "'full', float64 rank update; 2 tiny components", "full", 12, 8, 6001, "f64",
          sep=100.0, tiny=2),
    _case("full-percomp-D33-f64", "D=33 separated, 129 blocks: per-component 'full' "
          "float64 with wide blocks, odd D", "full", 33, 5, 16500, "f64", sep=100.0),
    # 'full' per component, float32 kernels (gmm_full32_*).
    _case("full-f32k-D12-sep", "float32 D=12 separated: per-component float32 'full' "
          "kernels below FULL32_MIN_FEATURES (spread > 256)", "full", 12, 8, 6001, "f32",
          sep=100.0, off=1000.0),
    _case("full-f32k-D16-overlap", "float32 D=16 = FULL32_MIN_FEATURES, overlapping: "
          "float32 'full' kernels whatever the spread", "full", 16, 8, 6001, "f32"),
    _case("full-f32k-D20-tiny", "float32 D=20 separated with 2 tiny components: "
          "< GMM_FULL32_MIN_ROWS=8 rows a block -> scatter in double; D padded to 32",
          "full", 20, 8, 6001, "f32", sep=100.0, tiny=2),
    _case("full-f32k-D48-wide", "float32 D=48 >= 32, 129 blocks: float32 'full' "
          "kernels, 128-row blocks; K D^3 >= 2**20: threaded Cholesky M-step",
          "full", 48, 10, 16500, "f32"),
    # 'tied', 'spherical'.
    _case("tied-D3-f64", "'tied' D=3 (no small-D path for tied)", "tied", 3, 5, 30000,
          "f64", sep=2.0),
    _case("tied-D12-f64", "'tied' D=12", "tied", 12, 8, 6001, "f64", sep=2.0),
    _case("tied-D12-f32", "'tied' D=12 float32, offset 30", "tied", 12, 8, 6001, "f32",
          sep=2.0, off=30.0),
    _case("spherical-D6-f64", "'spherical' D=6", "spherical", 6, 7, 12001, "f64",
          sep=2.0),
    _case("spherical-D6-f32", "'spherical' D=6 float32, offset 30", "spherical", 6, 7,
          12001, "f32", sep=2.0, off=30.0),
    # 'diag' (csrc/diag_products.h): tile remainders in both vector builds.
    _case("diag-K13-D7-f64", "'diag' K=13 (AVX2 12+1, AVX-512 8+5 masked), D=7 "
          "(2D=14 padded to 16): tile remainders", "diag", 7, 13, 6001, "f64", sep=2.0),
    _case("diag-K13-D7-f32", "'diag' K=13 D=7 float32 (products in double, float32 "
          "normalisation)", "diag", 7, 13, 6001, "f32", sep=2.0, off=30.0),
    _case("diag-K37-D11-f64", "'diag' K=37 (AVX-512 32+5, AVX2 3x12+1), D=11: "
          "remainders", "diag", 11, 37, 6001, "f64", sep=2.0),
    _case("diag-K37-D11-f32", "'diag' K=37 D=11 float32", "diag", 11, 37, 6001, "f32",
          sep=2.0),
    # default k-means initialisation (compiled k-means, _kmeans.pyx).
    _case("kmeans-diag-D16-f64", "default init_params='kmeans' (N D K = 5.1e6 >= 2**22:"
          " threaded k-means), then 'diag' EM", "diag", 16, 16, 20000, "f64", sep=3.0,
          mode="kmeans"),
    _case("kmeans-full-D12-f32", "default k-means on float32 (N D K = 4.2e6 >= 2**22), "
          "then moment rows in double", "full", 12, 8, 44000, "f32", sep=3.0,
          mode="kmeans"),
    # partial_fit (stepwise EM).
    # (batches of 5000 rows: N K (D + 2) >= 2**19, so each step runs on 2 threads too)
    _case("partial-full-D12-f64", "partial_fit x3 batches of 5000 from a fixed start: "
          "moment rows + online blend", "full", 12, 8, 15000, "f64", mode="partial"),
    _case("partial-diag-D7-f32", "fit (2 it) on 10000 rows, then partial_fit x2 "
          "batches of 5000: continues from fit's statistics, 'diag' float32", "diag", 7,
          13, 20000, "f32", sep=2.0, mode="fit+partial", it=2),
    # np.memmap input: read in pieces of 16 MiB / (8 D) rows, rounded down to whole
    # 256-row blocks: 13056 rows at D = 160.
    _case("memmap-diag-D160-f64", "np.memmap X, 14000 x 160 float64 (17.9 MB > 16 MiB):"
          " 2 pieces (13056 + 944 rows) in fit and predictions", "diag", 160, 6, 14000,
          "f64", sep=1.0, mode="memmap"),
]

# ----------------------------------------------------------------------------- data


def make_data(case):
    """(X, w, inits): deterministic from the case's seed."""
    rng = np.random.default_rng(case["seed"])
    D, K, N = case["D"], case["K"], case["N"]
    means = rng.normal(scale=case["sep"], size=(K, D)) + case["off"]
    A = np.eye(D) + 0.3 * rng.normal(size=(K, D, D)) / np.sqrt(D)
    scale = rng.uniform(0.5, 1.5, size=K)
    covs = np.einsum("kij,klj->kil", A, A) * scale[:, None, None]
    weights = rng.uniform(1.0, 2.0, size=K)
    if case["tiny"]:
        weights[-case["tiny"]:] = 0.0
        weights *= (1 - 0.006 * case["tiny"]) / weights.sum()
        weights[-case["tiny"]:] = 0.006
    weights /= weights.sum()
    labels = rng.choice(K, size=N, p=weights)
    L = np.linalg.cholesky(covs)
    Z = rng.normal(size=(N, D))
    X = means[labels] + np.einsum("nij,nj->ni", L[labels], Z)
    X = np.ascontiguousarray(X, dtype=np.float32 if case["dtype"] == "f32" else np.float64)
    w = rng.uniform(0.2, 3.0, size=N)
    w[rng.random(N) < 0.1] = 0.0          # zero weights drop rows
    # a fixed start near the truth (all three given: no k-means)
    m0 = means + rng.normal(scale=0.2, size=(K, D))
    P = np.linalg.inv(covs) * 0.9
    cov = case["cov"]
    if cov == "full":
        p0 = P
    elif cov == "tied":
        p0 = np.linalg.inv(np.average(covs, axis=0, weights=weights))
    elif cov == "diag":
        p0 = 1.0 / np.einsum("kii->ki", covs)
    else:
        p0 = 1.0 / np.einsum("kii->k", covs) * D
    w0 = np.full(K, 1.0 / K)
    return X, w, dict(weights_init=w0, means_init=m0, precisions_init=p0)


# ----------------------------------------------------------------------------- hashing

ATTRS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
         "lower_bound_", "lower_bounds_", "n_iter_", "converged_")


def _digest(name, value):
    a = np.ascontiguousarray(np.asarray(value))
    h = hashlib.sha256()
    h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def outputs(gm, X, w):
    """name -> sha256 of every fitted attribute and every output on X."""
    parts = {}
    for attr in ATTRS:
        if hasattr(gm, attr):
            parts[attr] = _digest(attr, getattr(gm, attr))
    parts["score_samples"] = _digest("score_samples", gm.score_samples(X))
    parts["predict_proba"] = _digest("predict_proba", gm.predict_proba(X))
    parts["predict"] = _digest("predict", gm.predict(X))
    parts["score"] = _digest("score", np.float64(gm.score(X, sample_weight=w)))
    parts["bic"] = _digest("bic", np.float64(gm.bic(X)))
    Xs, ys = gm.sample(257)
    parts["sample"] = _digest("sample", Xs) + _digest("sample_y", ys)
    return parts


def run_case(case, weighted, n_threads, tmpdir):
    from gmmfast import GaussianMixture

    X, w, inits = make_data(case)
    w = w if weighted else None
    common = dict(n_components=case["K"], covariance_type=case["cov"],
                  n_threads=n_threads, random_state=0, tol=0.0, max_iter=case["it"])
    mode = case["mode"]
    if mode == "memmap":
        path = os.path.join(tmpdir, f"{case['name']}.dat")
        if not os.path.exists(path):
            mm = np.memmap(path, dtype=X.dtype, mode="w+", shape=X.shape)
            mm[:] = X
            mm.flush()
            del mm
        X = np.memmap(path, dtype=X.dtype, mode="r", shape=X.shape)
    if mode == "kmeans":
        gm = GaussianMixture(**common).fit(X, sample_weight=w)
    elif mode in ("fixed", "memmap"):
        gm = GaussianMixture(**common, **inits).fit(X, sample_weight=w)
    elif mode == "partial":
        gm = GaussianMixture(**common, **inits)
        n_b = 3
        for b in np.array_split(np.arange(X.shape[0]), n_b):
            gm.partial_fit(X[b], sample_weight=None if w is None else w[b])
    elif mode == "fit+partial":
        half = X.shape[0] // 2
        gm = GaussianMixture(**common, **inits).fit(
            X[:half], sample_weight=None if w is None else w[:half])
        for b in np.array_split(np.arange(half, X.shape[0]), 2):
            gm.partial_fit(X[b], sample_weight=None if w is None else w[b])
    else:
        raise ValueError(mode)
    return outputs(gm, X, w)


def combine(parts):
    h = hashlib.sha256()
    for k in sorted(parts):
        h.update(f"{k}={parts[k]}\n".encode())
    return h.hexdigest()


def variants():
    for weighted in (False, True):
        for t in (1, 2):
            yield weighted, t


def variant_name(case, weighted, t):
    return f"{case['name']}-{'sw' if weighted else 'nw'}-t{t}"


# ----------------------------------------------------------------------------- child


def vmath_impl():
    """The vector build gmmfast reports it chose, or 'unknown' (internal, guarded)."""
    try:
        import gmmfast

        cfg = gmmfast.show_config(file=False)
        for key in ("vmath_impl", "isa", "vmath", "simd"):
            if key in cfg:
                return str(cfg[key])
    except Exception:
        pass
    try:
        from gmmfast import _kernels

        return str(_kernels.vmath_impl())
    except Exception:
        return "unknown"


def child_main(isa):
    warnings.simplefilter("ignore")      # ConvergenceWarning: tol=0 never converges
    import gmmfast

    cfg = gmmfast.show_config(file=False)
    print(json.dumps({"info": {"isa": isa, "vmath_impl": vmath_impl(),
                               "gmmfast": getattr(gmmfast, "__version__", "?"),
                               "file": gmmfast.__file__, "openmp": cfg.get("openmp"),
                               "blas": cfg.get("blas")}}), flush=True)
    with tempfile.TemporaryDirectory(prefix="hash_fits_") as tmpdir:
        for case in CASES:
            for weighted, t in variants():
                parts = run_case(case, weighted, t, tmpdir)
                print(json.dumps({"case": variant_name(case, weighted, t),
                                  "hash": combine(parts), "parts": parts}), flush=True)


# ----------------------------------------------------------------------------- parent


def cpu_isas():
    """The ISAs this CPU runs (gmmfast's own test: avx2+fma; avx512f+dq+vl), from
    /proc/cpuinfo; None where that file does not exist."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set()
            for line in f:
                if line.startswith("flags"):
                    flags.update(line.split(":", 1)[1].split())
    except OSError:
        return None
    isas = ["baseline"]
    if {"avx2", "fma"} <= flags:
        isas.append("avx2")
        if {"avx512f", "avx512dq", "avx512vl"} <= flags:
            isas.append("avx512")
    return isas


def run_isa(isa):
    env = dict(os.environ, GMMFAST_ISA=isa)
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", isa],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"hash_fits: the {isa} subprocess failed "
                         f"(exit {proc.returncode})")
    info, results = None, {}
    for line in proc.stdout.splitlines():
        rec = json.loads(line)
        if "info" in rec:
            info = rec["info"]
        else:
            results[rec["case"]] = rec
    return info, results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--isa", help="comma-separated subset of baseline,avx2,avx512 "
                    "(default: all this CPU supports)")
    ap.add_argument("--out", help="also write the hash lines to this file (for diff)")
    ap.add_argument("--list", action="store_true", help="list the cases and routes")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args.child)
        return 0
    if args.list:
        for case in CASES:
            print(f"{case['name']:24s} {case['cov']:9s} N={case['N']:<6d} "
                  f"K={case['K']:<3d} {case['mode']:11s} {case['route']}")
        return 0

    supported = cpu_isas()
    if args.isa:
        isas = [s.strip().lower() for s in args.isa.split(",") if s.strip()]
        bad = [s for s in isas if s not in ISAS]
        if bad:
            ap.error(f"unknown ISA {bad}; choose from {','.join(ISAS)}")
        if supported is not None:
            for s in isas:
                if s not in supported:
                    ap.error(f"this CPU does not run the {s} build (it runs "
                             f"{','.join(supported)})")
    else:
        isas = supported or list(ISAS)

    t0 = time.perf_counter()
    lines, totals, per_isa, fails = [], {}, {}, []
    for isa in isas:
        t_isa = time.perf_counter()
        info, results = run_isa(isa)
        print(f"# {isa}: gmmfast {info['gmmfast']} from {info['file']}, vmath_impl="
              f"{info['vmath_impl']}, openmp={info['openmp']}, "
              f"{len(results)} fits in {time.perf_counter() - t_isa:.1f} s", flush=True)
        if supported is None and isa != "baseline" and info["vmath_impl"] in (
                "baseline", "avx2+fma") and not info["vmath_impl"].startswith(isa):
            print(f"# {isa}: gmmfast fell back to {info['vmath_impl']}; skipped")
            continue
        per_isa[isa] = results
        h_total = hashlib.sha256()
        for name, rec in results.items():
            line = f"{isa:8s} {name:32s} {rec['hash'][:16]}"
            print(line)
            lines.append(line)
            h_total.update(f"{name} {rec['hash']}\n".encode())
        # 1 thread against 2 threads
        for case in CASES:
            for weighted in (False, True):
                a = results[variant_name(case, weighted, 1)]
                b = results[variant_name(case, weighted, 2)]
                if a["hash"] != b["hash"]:
                    diff = [k for k in a["parts"] if a["parts"][k] != b["parts"].get(k)]
                    msg = (f"FAIL {isa} {variant_name(case, weighted, 1)[:-3]}: "
                           f"n_threads=1 and n_threads=2 differ in {', '.join(diff)}")
                    fails.append(msg)
        totals[isa] = h_total.hexdigest()

    for msg in fails:
        print(msg)
        lines.append(msg)
    for isa, tot in totals.items():
        line = f"{isa:8s} {'TOTAL':32s} {tot[:16]}"
        print(line)
        lines.append(line)
    grand = hashlib.sha256("".join(f"{i} {t}\n" for i, t in totals.items()).encode())
    line = f"{'all':8s} {'GRAND-TOTAL(' + ','.join(totals) + ')':32s} {grand.hexdigest()[:16]}"
    print(line)
    lines.append(line)

    # the vector builds against each other: reported, not failed
    def compare(x, y):
        ra, rb = per_isa[x], per_isa[y]
        diffs = []
        for name in ra:
            if ra[name]["hash"] != rb[name]["hash"]:
                parts = [k for k in ra[name]["parts"]
                         if ra[name]["parts"][k] != rb[name]["parts"].get(k)]
                diffs.append((name, parts))
        return diffs

    if "avx2" in per_isa and "avx512" in per_isa:
        diffs = compare("avx2", "avx512")
        n = len(per_isa["avx2"])
        if not diffs:
            line = f"# avx2 == avx512 on all {n} fits"
            print(line)
            lines.append(line)
        else:
            line = f"# avx2 != avx512 on {len(diffs)} of {n} fits:"
            print(line)
            lines.append(line)
            for name, parts in diffs:
                line = f"DIFF avx2/avx512 {name}: {', '.join(parts)}"
                print(line)
                lines.append(line)
    if "baseline" in per_isa:
        for other in ("avx2", "avx512"):
            if other in per_isa:
                same = len(per_isa["baseline"]) - len(compare("baseline", other))
                print(f"# baseline == {other} on {same} of {len(per_isa['baseline'])} "
                      "fits (baseline has no FMA: differences expected)")
    print(f"# {len(isas)} ISA(s) x {len(CASES)} cases x 4 variants in "
          f"{time.perf_counter() - t0:.1f} s; {'FAIL' if fails else 'OK'}")
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
