"""Benchmark cases: the data each one fits and the fixed initialisation it starts from.

Every case is deterministic: its data come from a seed derived from the case's base name,
so the float32 variant ``<name>_f32`` fits exactly the float64 data of ``<name>``, cast.

Synthetic data are a mixture of K Gaussians with random weights, means and covariances
(random orientation, eigenvalues spread over a decade), with the means spread so that
neighbouring components overlap: EM has real work to do and does not stop after two
iterations. ``digits`` is scikit-learn's bundled digits, reduced by a whitening PCA that
keeps 99% of the variance (41 dimensions).
"""

import zlib
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Case:
    """One benchmark case.

    n_iter is the number of EM iterations whose time is measured per run: each
    implementation is fitted with max_iter=1 and max_iter=1+n_iter from the same
    initialisation, and the time per iteration is the difference divided by n_iter.
    It is chosen so that a scikit-learn run lasts about 0.3-2 s on one core.
    """

    name: str
    source: str  # "mixture" or "digits"
    n_samples: int
    n_features: int
    n_components: int
    covariance_type: str
    dtype: str
    n_iter: int
    quick_n_samples: int
    quick_n_iter: int
    #: which estimator runs it: "gmm" (GaussianMixture) or "bgm" (bench_fit --estimator)
    estimator: str = "gmm"
    #: make_mixture's separation of the means (the "_sep" cases: components far apart)
    separation: float = 4.0
    #: make_mixture's geometry (GEOMETRIES): how the means and covariances are drawn
    geometry: str = "overlap"

    @property
    def base_name(self):
        return self.name[: -len("_f32")] if self.name.endswith("_f32") else self.name

    def size(self, quick):
        """(n_samples, n_iter) in the chosen mode."""
        if quick:
            return self.quick_n_samples, self.quick_n_iter
        return self.n_samples, self.n_iter


def _quick_n(n_samples, n_components):
    # about 1/50 of the rows, but never fewer than 20 per component
    return max(n_samples // 50, 20 * n_components, 500)


def _case(name, source, n, d, k, cov, n_iter, quick_n_iter, separation=4.0):
    quick_n = n if source == "digits" else _quick_n(n, k)
    return Case(name, source, n, d, k, cov, "float64", n_iter, quick_n, quick_n_iter,
                separation=separation)


_BASE_CASES = [
    _case("seed2d", "mixture", 1_000, 2, 3, "full", n_iter=200, quick_n_iter=20),
    _case("tall2d", "mixture", 1_000_000, 2, 5, "full", n_iter=4, quick_n_iter=3),
    _case("mid", "mixture", 200_000, 16, 16, "full", n_iter=5, quick_n_iter=3),
    _case("wide", "mixture", 50_000, 64, 32, "full", n_iter=3, quick_n_iter=2),
    _case("digits", "digits", 1_797, 41, 140, "full", n_iter=10, quick_n_iter=2),
    # 4 iterations: with 2, scikit-learn's time per iteration on one thread came out at
    # 1331 and 442 ms in two runs of the same code (a difference of two ~4 s fits)
    _case("diag_big", "mixture", 1_000_000, 16, 32, "diag", n_iter=4, quick_n_iter=2),
    # components far apart (means ~100 apart, deviations 0.3-1): 'full' runs about each
    # mean (route_full_means: the triangular form and the rank updates), and most
    # responsibilities are 0 or 1. Not in the default set; the builds' comparison
    # (GMMFAST_ISA) runs them.
    _case("mid_sep", "mixture", 200_000, 16, 16, "full", n_iter=5, quick_n_iter=3,
          separation=100.0),
    _case("diag_sep", "mixture", 500_000, 16, 32, "diag", n_iter=4, quick_n_iter=2,
          separation=100.0),
]

#: every case by name, float64 cases first then their float32 variants
CASES = {c.name: c for c in _BASE_CASES}
CASES.update(
    {c.name + "_f32": replace(c, name=c.name + "_f32", dtype="float32") for c in _BASE_CASES}
)

#: what a plain run measures: all float64 cases, and float32 where it matters (large N)
DEFAULT_CASES = [c.name for c in _BASE_CASES if not c.name.endswith("_sep")] + [
    "tall2d_f32",
    "mid_f32",
    "wide_f32",
    "diag_big_f32",
]


def select_cases(spec):
    """Case list from a comma-separated spec; 'all' is every case, 'default' the default set."""
    if spec in (None, "", "default"):
        return [CASES[n] for n in DEFAULT_CASES]
    if spec == "all":
        return list(CASES.values())
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(
            f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)} "
            "(or 'all', 'default')"
        )
    return [CASES[n] for n in names]


def case_seed(case):
    """A seed fixed by the case's base name (stable across runs, platforms and versions)."""
    return zlib.crc32(case.base_name.encode()) & 0x7FFFFFFF


# ---------------------------------------------------------------------------- data

#: geometry -> (scale of the means or None for separation / sqrt(2 D), eigenvalue range)
#: 'overlap' is the draw of every case above (its numbers must not change); the others
#: are the grid's (bench_grid.py, issue 19): users' clusters are often well apart, and
#: gmmfast routes those differently.
GEOMETRIES = {
    "overlap": (None, (0.1, 1.0)),     # means N(0, sep^2/(2D) I): neighbours overlap
    "separated": (3.0, (0.1, 1.5)),    # means N(0, 3^2 I): apart, a few pairs touching
    "far": (10.0, (0.1, 1.5)),         # means N(0, 10^2 I): responsibilities 0 or 1
}


def make_mixture(n_samples, n_features, n_components, covariance_type, seed, separation=4.0,
                 geometry="overlap"):
    """X (n_samples, n_features) float64 drawn from a random Gaussian mixture.

    'overlap' (the default): means are N(0, separation^2 / (2 D) I), so two means are on
    average ``separation`` apart, against component standard deviations between about 0.3
    and 1: some pairs are well apart, some overlap. Covariances are Q diag(e) Q^T with Q a
    random rotation and e log-uniform in [0.1, 1] ('full'), or diag(e) ('diag'; any other
    type draws full ones). 'separated' and 'far' draw the means N(0, 3^2 I) and
    N(0, 10^2 I) and e log-uniform in [0.1, 1.5] (GEOMETRIES); the draws are made in the
    same order, so only the scales differ.
    """
    mean_scale, (eig_lo, eig_hi) = GEOMETRIES[geometry]
    if mean_scale is None:
        mean_scale = separation / np.sqrt(2.0 * n_features)
    rng = np.random.default_rng(seed)
    k, d = n_components, n_features
    weights = rng.dirichlet(np.full(k, 4.0))
    means = rng.normal(scale=mean_scale, size=(k, d))
    factors = np.empty((k, d, d))
    for j in range(k):
        eig = np.exp(rng.uniform(np.log(eig_lo), np.log(eig_hi), size=d))
        if covariance_type == "diag":
            factors[j] = np.diag(np.sqrt(eig))
        else:
            q, r = np.linalg.qr(rng.standard_normal((d, d)))
            q *= np.sign(np.diag(r))
            factors[j] = q * np.sqrt(eig)
    labels = rng.choice(k, size=n_samples, p=weights)
    X = np.empty((n_samples, d))
    for j in range(k):
        rows = np.flatnonzero(labels == j)
        X[rows] = rng.standard_normal((rows.size, d)) @ factors[j].T + means[j]
    return X


def load_digits_pca():
    """scikit-learn's digits (1797 x 64), whitened PCA keeping 99% of the variance (41 dims)."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    X = load_digits().data
    return PCA(n_components=0.99, whiten=True, svd_solver="full").fit_transform(X)


def make_data(case, quick=False):
    """The case's X, C-contiguous, in the case's dtype."""
    n_samples, _ = case.size(quick)
    if case.source == "digits":
        X = load_digits_pca()
    else:
        X = make_mixture(
            n_samples, case.n_features, case.n_components, case.covariance_type, case_seed(case),
            separation=case.separation, geometry=case.geometry,
        )
    if X.shape[1] != case.n_features:
        raise RuntimeError(f"case {case.name}: expected {case.n_features} features, got {X.shape[1]}")
    return np.ascontiguousarray(X, dtype=case.dtype)


# ---------------------------------------------------------------------------- init


def make_init(X, case, max_rows=20_000, kmeans_iter=5):
    """Fixed (weights_init, means_init, precisions_init) for the per-iteration timing.

    A few k-means iterations on at most ``max_rows`` rows give hard labels; each
    component's covariance is its cluster's scatter shrunk towards the global covariance
    (a prior worth D + 1 samples), so even a tiny cluster starts positive definite. The
    arrays are computed in float64 from the float64 values and returned in X's dtype, so
    both implementations start from the same numbers.
    """
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(case_seed(case) + 1)
    n, d = X.shape
    k = case.n_components
    rows = np.sort(rng.choice(n, size=max_rows, replace=False)) if n > max_rows else slice(None)
    Xs = np.asarray(X[rows], dtype=np.float64)
    km = KMeans(n_clusters=k, n_init=1, max_iter=kmeans_iter, random_state=case_seed(case))
    labels = km.fit_predict(Xs)

    global_cov = np.atleast_2d(np.cov(Xs, rowvar=False))
    prior = d + 1.0
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    means = np.empty((k, d))
    covs = np.empty((k, d, d))
    for j in range(k):
        members = Xs[labels == j]
        if members.shape[0] == 0:
            means[j] = Xs[rng.integers(Xs.shape[0])]
            covs[j] = global_cov
            continue
        means[j] = members.mean(axis=0)
        diff = members - means[j]
        covs[j] = (diff.T @ diff + prior * global_cov) / (members.shape[0] + prior)
    weights = (counts + 1.0) / (counts.sum() + k)
    if case.covariance_type == "diag":
        precisions = 1.0 / np.einsum("kii->ki", covs)
    elif case.covariance_type == "spherical":
        precisions = 1.0 / np.einsum("kii->k", covs) * d
    elif case.covariance_type == "tied":
        tied = np.einsum("k,kij->ij", weights, covs)
        precisions = np.linalg.inv(tied)
        precisions = 0.5 * (precisions + precisions.T)
    else:
        precisions = np.linalg.inv(covs)
        precisions = 0.5 * (precisions + precisions.transpose(0, 2, 1))
    dtype = np.dtype(case.dtype)
    return {
        "weights_init": weights.astype(dtype),
        "means_init": means.astype(dtype),
        "precisions_init": precisions.astype(dtype),
    }
