"""Let the data choose K: a Bayesian Gaussian mixture switches unneeded components off.

1. Blobs (the four of clustering_tour.py) fitted with an upper bound of 10 components,
   under a Dirichlet process and a Dirichlet distribution prior on the weights: the
   components that survive, their ellipses shaded by weight, the lower bound per
   iteration.
2. Digits (load_digits, PCA to 99% of the variance, whitened, as digits_density.py)
   with an upper bound on K: how many components carry data, and the sorted weights.
   With full covariances each digit needs several components in 41 dimensions and
   nearly all survive (the k-means start is already a fixed point); with diagonal
   ones the whitened data is best explained by one broad component.

Run:  python examples/bayesian_components.py [OUTPUT_DIR]
Pictures go to OUTPUT_DIR, else $GMMFAST_EXAMPLES_OUT, else a temporary directory.
GMMFAST_EXAMPLES_SMALL=1 uses small data (the CI smoke test).
Needs matplotlib: pip install "gmmfast[plot]".
"""

import os
import sys
import tempfile

import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import load_digits, make_blobs
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

from gmmfast import BayesianGaussianMixture
from gmmfast.plot import plot_convergence, plot_gmm

SMALL = os.environ.get("GMMFAST_EXAMPLES_SMALL") == "1"
N = 300 if SMALL else 1500
PRIORS = ("dirichlet_process", "dirichlet_distribution")


def output_dir(name):
    out = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GMMFAST_EXAMPLES_OUT")
           or os.path.join(tempfile.gettempdir(), "gmmfast-examples", name))
    os.makedirs(out, exist_ok=True)
    return out


def save(fig, out, name):
    path = os.path.join(out, name)
    fig.savefig(path, dpi=80)
    print(f"  wrote {path}")


def blobs(out):
    X, y = make_blobs(n_samples=N, centers=4, cluster_std=0.8, random_state=3)
    fig = Figure(figsize=(12, 8), layout="constrained")
    axes = fig.subplots(2, 2)
    for col, prior in enumerate(PRIORS):
        bgm = BayesianGaussianMixture(
            n_components=10, weight_concentration_prior_type=prior,
            weight_concentration_prior=1e-2, max_iter=500, random_state=0).fit(X)
        ari = adjusted_rand_score(y, bgm.predict(X))
        print(f"blobs, {prior}: {bgm.n_effective_components_} of 10 components carry "
              f"data (the data has 4 blobs); ARI against the truth {ari:.3f}; weights "
              f"{np.sort(bgm.weights_)[::-1].round(3)}")
        plot_gmm(bgm, X, ax=axes[0, col], title=f"{prior}: "
                 f"{bgm.n_effective_components_} of 10 components survive")
        plot_convergence(bgm, ax=axes[1, col])
    save(fig, out, "bayesian_blobs.png")


def digits(out):
    X = load_digits().data
    X = PCA(0.99, whiten=True, random_state=0).fit_transform(X)
    if SMALL:
        X = X[:600]
    K = 20 if SMALL else 60
    print(f"digits: {X.shape[0]} samples, {X.shape[1]} whitened PCA features, "
          f"at most {K} components")
    fig = Figure(figsize=(11, 4), layout="constrained")
    ax = fig.subplots()
    for cov, prior in [("full", PRIORS[0]), ("full", PRIORS[1]), ("diag", PRIORS[0])]:
        bgm = BayesianGaussianMixture(
            n_components=K, covariance_type=cov, weight_concentration_prior_type=prior,
            max_iter=300, random_state=0).fit(X)
        print(f"digits, {cov!r}, {prior}: {bgm.n_effective_components_} of {K} "
              f"components carry data, {int((bgm.weights_ > 0.01).sum())} have a weight "
              f"above 1%; {bgm.n_iter_} iterations, lower bound {bgm.lower_bound_:.1f}")
        ax.plot(np.arange(1, K + 1), np.sort(bgm.weights_)[::-1], marker="o",
                markersize=3,
                label=f"{cov!r}, {prior} ({bgm.n_effective_components_} carry data)")
    ax.set_yscale("log")
    ax.set_xlabel("component, by weight")
    ax.set_ylabel("weight")
    ax.set_title(f"digits: sorted weights of a Bayesian mixture with at most {K} components")
    ax.legend()
    save(fig, out, "bayesian_digits.png")


def main():
    out = output_dir("bayesian_components")
    blobs(out)
    digits(out)


if __name__ == "__main__":
    main()
