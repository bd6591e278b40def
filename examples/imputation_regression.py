"""Fit data with holes, impute them, and regress by conditioning a mixture.

1. Imputation: 2-D data from three elongated clusters, 30% of the rows missing one
   coordinate (missing at random). GaussianMixture(missing='marginalize') fits the
   rows with holes as they are; its conditional means fill the holes, against
   filling them with the column means; impute(method='sample') draws them from
   p(x_M | x_O) instead, which keeps them on the clusters. Picture: the complete
   rows, the imputed points of each method, and the error of each.
2. Regression: y = a noisy, two-branched function of x (a sine, and for x > 1 a
   second branch). GaussianMixtureRegressor fits a joint mixture of (x, y);
   predict(..., return_std=True) is the conditional mean E[y | x] with the band
   +- 2 sd of y | x, which widens where the branches split; sample_y draws from
   p(y | x), which keeps both branches. Picture: the data, the mean and its band,
   the draws.

Run:  python examples/imputation_regression.py [OUTPUT_DIR]
Pictures go to OUTPUT_DIR, else $GMMFAST_EXAMPLES_OUT, else a temporary directory.
GMMFAST_EXAMPLES_SMALL=1 uses small data (the CI smoke test).
Needs matplotlib: pip install "gmmfast[plot]".
"""

import os
import sys
import tempfile

import numpy as np
from matplotlib.figure import Figure

from gmmfast import GaussianMixture, GaussianMixtureRegressor

SMALL = os.environ.get("GMMFAST_EXAMPLES_SMALL") == "1"
N = 600 if SMALL else 3000


def output_dir(name):
    out = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GMMFAST_EXAMPLES_OUT")
           or os.path.join(tempfile.gettempdir(), "gmmfast-examples", name))
    os.makedirs(out, exist_ok=True)
    return out


def clusters(n, rng):
    centres = np.array([[0.0, 0.0], [4.0, 3.0], [8.0, -1.0]])
    angles = np.array([0.6, -0.7, 1.2])
    X = []
    for c, a in zip(centres, angles):
        R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        X.append(rng.normal(size=(n // 3, 2)) * [1.6, 0.25] @ R.T + c)
    return np.vstack(X)


def imputation(out, rng):
    X = clusters(N, rng)
    Xn = X.copy()
    holes = rng.random(len(X)) < 0.3
    which = rng.integers(0, 2, len(X))
    Xn[holes, which[holes]] = np.nan
    gm = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xn)
    filled = gm.impute(Xn)
    drawn = gm.impute(Xn, method="sample", random_state=0)
    by_mean = np.where(np.isnan(Xn), np.nanmean(Xn, axis=0), Xn)
    miss = np.isnan(Xn)
    err = {name: float(np.sqrt(np.mean((Z[miss] - X[miss]) ** 2)))
           for name, Z in (("mixture", filled), ("column means", by_mean),
                           ("draws", drawn))}
    print(f"Imputation: {miss.sum()} missing entries in {N} rows; RMS error of the "
          f"mixture's conditional means {err['mixture']:.3f}, of the column means "
          f"{err['column means']:.3f}, of draws {err['draws']:.3f}")
    fig = Figure(figsize=(15, 4.5))
    panels = (("impute(): conditional means", "mixture", filled),
              ("impute(method='sample')", "draws", drawn),
              ("column means", "column means", by_mean))
    for ax, (title, key, Z) in zip(fig.subplots(1, 3), panels):
        ax.scatter(*X[~holes].T, s=4, c="0.7", label="complete rows")
        ax.scatter(*Z[holes].T, s=6, c="tab:red", label="imputed rows")
        ax.set_title(f"{title}: RMS error {err[key]:.2f}", fontsize=10)
        ax.legend(loc="lower left", fontsize=8)
    fig.savefig(os.path.join(out, "imputation.png"), dpi=80)
    return err


def regression(out, rng):
    x = rng.uniform(-3, 3, N)
    y = np.sin(x) + 0.1 * rng.normal(size=N)
    upper = (x > 1) & (rng.random(N) < 0.5)
    y[upper] += 1.5
    reg = GaussianMixtureRegressor(10, random_state=0).fit(x[:, None], y)
    grid = np.linspace(-3, 3, 200)
    mean, std = reg.predict(grid[:, None], return_std=True)
    draws = reg.sample_y(grid[:, None], n_samples=5, random_state=0)
    inside = np.abs(y - reg.predict(x[:, None])) <= 2 * reg.predict(
        x[:, None], return_std=True)[1]
    print(f"Regression: {reg.n_components} components, R^2 {reg.score(x[:, None], y):.3f}; "
          f"sd of y | x {std[grid < 0].mean():.3f} for x < 0, {std[grid > 1.5].mean():.3f} "
          f"for x > 1.5 (two branches); {inside.mean():.1%} of the points within 2 sd")
    fig = Figure(figsize=(11, 4.5))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.scatter(x, y, s=3, c="0.6")
    ax1.plot(grid, mean, c="tab:blue", label="E[y | x]")
    ax1.fill_between(grid, mean - 2 * std, mean + 2 * std, color="tab:blue", alpha=0.2,
                     label="+- 2 sd of y | x")
    ax1.set_title("predict(X, return_std=True)")
    ax1.legend(loc="lower left", fontsize=8)
    ax2.scatter(x, y, s=3, c="0.8")
    ax2.scatter(np.repeat(grid, 5), draws.ravel(), s=2, c="tab:orange",
                label="sample_y: 5 draws per x")
    ax2.set_title("sample_y: draws from p(y | x)")
    ax2.legend(loc="lower left", fontsize=8)
    fig.savefig(os.path.join(out, "regression.png"), dpi=80)
    return std


def main():
    out = output_dir("imputation_regression")
    rng = np.random.default_rng(0)
    imputation(out, rng)
    regression(out, rng)
    print(f"Pictures in {out}")


if __name__ == "__main__":
    main()
