"""The geometry grid of bench_grid.py (issue 19): which cases, in which sets.

The grid covers its axes without their full product (that would take hours of
scikit-learn): per geometry ('overlap', 'separated', 'far'; _cases.GEOMETRIES),

- ``dfull``, ``ddiag``: a D sweep (2 .. 128) at N = 10^5, K = 16, 'full' and 'diag';
- ``kfull``: a K sweep (2 .. 256) at N = 2 x 10^5, D = 4, 'full';
- ``cov``: 'tied' and 'spherical' at three shapes of the sweeps (and 'diag' at the
  K sweep's), so that every covariance type meets every geometry;

and across them

- ``rows``: N = 10^6 and 10^7 at D = 2 and 4, K = 8 (overlapping and far apart);
- ``issue``: the six cases of issue 19's table, as its author ran them;
- ``f32``: float32 twins of a subset (the same data, cast).

E2E_CASES and PREDICT_CASES are the smaller subsets of the end-to-end and prediction
parts. Every case draws its data from a seed fixed by its name (_cases.case_seed).
"""

from dataclasses import replace

from _cases import Case

GEO_TAG = {"overlap": "ovl", "separated": "sep", "far": "far"}
D_LIST = (2, 4, 8, 12, 16, 24, 32, 64, 128)
K_LIST = (2, 4, 8, 16, 32, 64, 128, 256)


def _fmt_n(n):
    exp = len(str(n)) - 1
    lead = n // 10**exp
    if lead * 10**exp != n:
        raise ValueError(f"grid sizes are one digit times a power of ten, got {n}")
    return f"{lead}e{exp}"


def _quick_n(n, d, k):
    # ~1/50 of the rows, but enough per component that no covariance collapses at D=128
    return min(n, max(n // 50, 20 * k, 4 * k * d, 500))


def grid_case(geometry, n, d, k, cov, dtype="float64"):
    name = f"{GEO_TAG[geometry]}-{_fmt_n(n)}x{d}-k{k}-{cov}"
    case = Case(name, "mixture", n, d, k, cov, "float64", n_iter=1,
                quick_n_samples=_quick_n(n, d, k), quick_n_iter=1, geometry=geometry)
    if dtype == "float32":
        case = replace(case, name=name + "_f32", dtype="float32")
    return case


def _sets():
    geoms = tuple(GEO_TAG)
    sets = {
        "dfull": [grid_case(g, 100_000, d, 16, "full") for g in geoms for d in D_LIST],
        "ddiag": [grid_case(g, 100_000, d, 16, "diag") for g in geoms for d in D_LIST],
        "kfull": [grid_case(g, 200_000, 4, k, "full") for g in geoms for k in K_LIST],
        "cov": [grid_case(g, n, d, k, cov)
                for g in geoms
                for (n, d, k) in ((100_000, 16, 16), (100_000, 64, 16), (200_000, 4, 64))
                for cov in ("tied", "spherical")]
               + [grid_case(g, 200_000, 4, 64, "diag") for g in geoms],
        "rows": [grid_case(g, n, d, 8, "full")
                 for n in (1_000_000, 10_000_000) for d in (2, 4) for g in ("overlap", "far")
                 # 10^7 rows: scikit-learn takes seconds an iteration; two cases suffice
                 if n < 10_000_000 or (g, d) in (("overlap", 2), ("far", 4))],
        "issue": [grid_case("separated", 300_000, 8, 16, "full"),
                  grid_case("separated", 200_000, 16, 16, "full"),
                  grid_case("separated", 100_000, 24, 16, "full"),
                  grid_case("separated", 50_000, 64, 32, "full"),
                  grid_case("far", 500_000, 4, 64, "full"),
                  grid_case("separated", 500_000, 32, 24, "diag")],
    }
    f32 = [("separated", 100_000, 4, 16, "full"), ("separated", 100_000, 16, 16, "full"),
           ("separated", 100_000, 64, 16, "full"), ("overlap", 100_000, 16, 16, "full"),
           ("far", 100_000, 16, 16, "full"), ("separated", 100_000, 16, 16, "diag"),
           ("separated", 100_000, 64, 16, "diag"), ("far", 200_000, 4, 64, "full"),
           ("far", 200_000, 4, 256, "full"), ("separated", 100_000, 16, 16, "tied"),
           ("separated", 100_000, 16, 16, "spherical"), ("overlap", 10_000_000, 2, 8, "full"),
           ("separated", 50_000, 64, 32, "full")]
    sets["f32"] = [grid_case(*spec, dtype="float32") for spec in f32]
    return sets


#: set name -> its cases, in the order they run and are reported
SETS = _sets()

#: every grid case by name (a case in two sets is listed, and run, once: under its first)
CASES = {}
CASE_SET = {}
for _set, _cases_in_set in SETS.items():
    for _c in _cases_in_set:
        if _c.name not in CASES:
            CASES[_c.name] = _c
            CASE_SET[_c.name] = _set

#: the end-to-end part: default fits (k-means start) to convergence, so modest sizes
E2E_CASES = [
    "ovl-1e5x16-k16-full", "sep-1e5x16-k16-full", "far-1e5x16-k16-full",
    "ovl-1e5x16-k16-diag", "sep-1e5x16-k16-diag", "far-1e5x16-k16-diag",
    "sep-1e5x16-k16-tied", "sep-1e5x16-k16-spherical",
    "far-2e5x4-k64-full", "sep-5e4x64-k32-full", "sep-1e5x16-k16-full_f32",
]

#: the prediction part: 10^6 rows, D = 16, K = 16, well-separated clusters, every type
PREDICT_CASES = [grid_case("separated", 1_000_000, 16, 16, cov)
                 for cov in ("full", "diag", "tied", "spherical")]
PREDICT_CASES += [grid_case("separated", 1_000_000, 16, 16, cov, dtype="float32")
                  for cov in ("full", "diag")]
PREDICT_METHODS = ("score_samples", "predict_proba", "predict")
