"""A clustering tour with Gaussian mixtures.

1. Blobs: choose K by BIC, draw the components' 1, 2, 3 sigma ellipses.
2. Soft assignments: the probability of each component for points between blobs,
   and the uncertainty (entropy) over the data.
3. Stretched (anisotropic) blobs: full covariances find them, spherical ones and
   k-means do not (adjusted Rand index against the truth).
4. Two moons fitted with 16 components, used as a density model and sampled from.

Run:  python examples/clustering_tour.py [OUTPUT_DIR]
Pictures go to OUTPUT_DIR, else $GMMFAST_EXAMPLES_OUT, else a temporary directory.
GMMFAST_EXAMPLES_SMALL=1 uses small data (the CI smoke test).
Needs matplotlib: pip install "gmmfast[plot]".
"""

import os
import sys
import tempfile

import numpy as np
from matplotlib.figure import Figure
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs, make_moons
from sklearn.metrics import adjusted_rand_score

from gmmfast import GaussianMixture, select_model
from gmmfast.plot import plot_gmm, plot_samples, plot_selection, plot_uncertainty

SMALL = os.environ.get("GMMFAST_EXAMPLES_SMALL") == "1"
N = 300 if SMALL else 1500


def output_dir(name):
    out = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GMMFAST_EXAMPLES_OUT")
           or os.path.join(tempfile.gettempdir(), "gmmfast-examples", name))
    os.makedirs(out, exist_ok=True)
    return out


def save(fig, out, name):
    path = os.path.join(out, name)
    fig.savefig(path, dpi=80)
    print(f"  wrote {path}")


def main():
    out = output_dir("clustering_tour")

    # 1. blobs: K by BIC, ellipses
    X, y = make_blobs(n_samples=N, centers=4, cluster_std=0.8, random_state=3)
    result = select_model(X, n_components=range(1, 9), random_state=0)
    print(result)
    gmm = result.best_estimator_
    print(f"BIC chose K={gmm.n_components} ({gmm.covariance_type!r}); the data has 4 blobs; "
          f"ARI against the truth {adjusted_rand_score(y, gmm.predict(X)):.3f}")
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plot_gmm(gmm, X, ax=ax1)
    plot_selection(result, ax=ax2)
    save(fig, out, "tour_blobs.png")

    # 2. soft assignments between overlapping blobs
    X2, _ = make_blobs(n_samples=N, centers=[[0, 0], [3, 0], [1.5, 2.6]], random_state=1)
    soft = GaussianMixture(3, random_state=0).fit(X2)
    between = np.array([[1.5, 0.0], [0.75, 1.3], [1.5, 1.0]])
    print("responsibilities of points between the blobs (rows sum to 1):")
    for point, r in zip(between, soft.predict_proba(between)):
        print(f"  x={point}:  " + "  ".join(f"{p:.3f}" for p in r))
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plot_gmm(soft, X2, ax=ax1, title="soft assignments: faint points are uncertain")
    plot_uncertainty(soft, X2, ax=ax2)
    save(fig, out, "tour_soft.png")

    # 3. stretched blobs: the covariance type matters
    X3, y3 = make_blobs(n_samples=N, centers=3, random_state=170)
    X3 = X3 @ np.array([[0.6, -0.64], [-0.41, 0.85]])
    fig = Figure(figsize=(12, 4), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, cov in zip(axes[:2], ("full", "spherical")):
        model = GaussianMixture(3, covariance_type=cov, n_init=3, random_state=0).fit(X3)
        ari = adjusted_rand_score(y3, model.predict(X3))
        print(f"stretched blobs, covariance_type={cov!r}: ARI {ari:.3f}")
        plot_gmm(model, X3, ax=ax, title=f"{cov!r} covariances, ARI {ari:.2f}")
    km = KMeans(3, n_init=3, random_state=0).fit(X3)
    ari = adjusted_rand_score(y3, km.labels_)
    print(f"stretched blobs, k-means: ARI {ari:.3f}")
    axes[2].scatter(X3[:, 0], X3[:, 1], c=km.labels_, s=8, cmap="tab10", vmin=0, vmax=9)
    axes[2].set_title(f"k-means, ARI {ari:.2f}")
    save(fig, out, "tour_anisotropic.png")

    # 4. moons: a 16-component density model, and samples from it
    Xm, _ = make_moons(n_samples=N, noise=0.06, random_state=0)
    density = GaussianMixture(16, covariance_type="full", random_state=0).fit(Xm)
    new, _ = density.sample(N)
    print(f"moons: mean log-likelihood of the data {density.score(Xm):.3f}, "
          f"of {N} samples drawn from the model {density.score(new):.3f}")
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plot_gmm(density, Xm, ax=ax1, n_std=(2,), title="moons: 16 components (2 sigma)")
    xx, yy = np.meshgrid(np.linspace(-1.5, 2.5, 150), np.linspace(-1.0, 1.5, 100))
    logp = density.score_samples(np.column_stack([xx.ravel(), yy.ravel()]))
    ax2.contourf(xx, yy, np.maximum(logp, logp.max() - 12).reshape(xx.shape), levels=12,
                 cmap="Blues", alpha=0.6)
    plot_samples(density, Xm, N, ax=ax2, title="density (log scale) and new samples")
    save(fig, out, "tour_moons.png")
    print(f"pictures in {out}")


if __name__ == "__main__":
    main()
