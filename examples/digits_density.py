"""A density model of handwritten digits, and 100 new digits drawn from it.

The classic workflow: project the 8x8 digits on the principal axes that keep 99% of
the variance (whitened), choose the number of components by BIC, fit a
GaussianMixture(140, covariance_type='full'), draw 100 samples and map them back to
pixels with the PCA's inverse transform.

Run:  python examples/digits_density.py [OUTPUT_DIR]
Pictures go to OUTPUT_DIR, else $GMMFAST_EXAMPLES_OUT, else a temporary directory.
GMMFAST_EXAMPLES_SMALL=1 uses a small grid and 40 components (the CI smoke test).
Needs matplotlib: pip install "gmmfast[plot]".
"""

import os
import sys
import tempfile
from time import perf_counter

import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from gmmfast import GaussianMixture, select_model
from gmmfast.plot import plot_convergence, plot_selection

SMALL = os.environ.get("GMMFAST_EXAMPLES_SMALL") == "1"
GRID = (10, 40, 70) if SMALL else tuple(range(20, 221, 40))
N_COMPONENTS = 40 if SMALL else 140


def output_dir(name):
    out = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GMMFAST_EXAMPLES_OUT")
           or os.path.join(tempfile.gettempdir(), "gmmfast-examples", name))
    os.makedirs(out, exist_ok=True)
    return out


def digit_grid(images, title):
    n = len(images)
    cols = 10
    rows = -(-n // cols)
    fig = Figure(figsize=(cols * 0.7, rows * 0.7 + 0.4), layout="constrained")
    for i, ax in enumerate(fig.subplots(rows, cols).ravel()):
        ax.set_axis_off()
        if i < n:
            ax.imshow(images[i].reshape(8, 8), cmap="binary", vmin=0, vmax=16,
                      interpolation="nearest")
    fig.suptitle(title)
    return fig


def main():
    out = output_dir("digits_density")
    digits = load_digits()
    pca = PCA(0.99, whiten=True, random_state=0)
    X = pca.fit_transform(digits.data)
    print(f"{digits.data.shape[0]} digits, {digits.data.shape[1]} pixels -> "
          f"{X.shape[1]} whitened PCA features (99% of the variance)")

    t0 = perf_counter()
    result = select_model(X, n_components=GRID, covariance_types=("full",), random_state=0)
    print(result)
    print(f"selection took {perf_counter() - t0:.1f} s; "
          f"BIC prefers K={result.best_params_['n_components']}, AIC K="
          f"{result.n_components[np.argmin(result.column('aic'))]}")

    t0 = perf_counter()
    gmm = GaussianMixture(N_COMPONENTS, covariance_type="full", random_state=0).fit(X)
    print(f"GaussianMixture({N_COMPONENTS}, 'full'): {gmm.n_iter_} EM iterations in "
          f"{perf_counter() - t0:.1f} s, converged={gmm.converged_}, "
          f"mean log-likelihood {gmm.score(X):.2f}")

    new, _ = gmm.sample(100)
    pixels = np.clip(pca.inverse_transform(new), 0, 16)
    for name, fig in [
        ("digits_real.png", digit_grid(digits.data[:100], "100 real digits")),
        ("digits_new.png", digit_grid(
            pixels, f"100 new digits from GaussianMixture({N_COMPONENTS}, 'full')")),
    ]:
        path = os.path.join(out, name)
        fig.savefig(path, dpi=80)
        print(f"  wrote {path}")

    fig = Figure(figsize=(11, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plot_selection(result, ax=ax1, title="digits: BIC and AIC against K")
    plot_convergence(gmm, ax=ax2)
    path = os.path.join(out, "digits_selection.png")
    fig.savefig(path, dpi=80)
    print(f"  wrote {path}")
    print(f"pictures in {out}")


if __name__ == "__main__":
    main()
