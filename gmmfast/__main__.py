"""``python -m gmmfast [--out DIR]``: what gmmfast does, shown in under a minute.

1. chooses K and the covariance type of iris by BIC and prints the table;
2. fits a density model of the handwritten digits (PCA-whitened) for generating new
   digits, K chosen by AIC over 50..200 as scikit-learn's classic digits example does;
3. times an EM iteration of gmmfast and of scikit-learn on the same fit, from the
   same initial parameters, and prints both and their ratio;
4. draws the classic pictures (ellipses, BIC curves, convergence, uncertainty,
   samples from a density model, new digits) into ``./gmmfast-demo/`` or ``--out``.

Without matplotlib it does 1-3 and says how to get the pictures.
"""

import argparse
import os
import sys
import warnings
from time import perf_counter

import numpy as np

PLOT_HINT = 'pip install "gmmfast[plot]"'


def _matplotlib():
    """The matplotlib Figure class, or None when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def _section(title):
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)))


def _best_line(result):
    row = result.rows[result.best_index_]
    return (f"chosen by {result.criterion.upper()}: K={row['n_components']}, "
            f"covariance_type={row['covariance_type']!r}, "
            f"log-likelihood={row['log_likelihood']:.2f}, BIC={row['bic']:.2f}, "
            f"AIC={row['aic']:.2f}")


def _digits(quick):
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    digits = load_digits()
    pca = PCA(0.99, whiten=True, random_state=0)
    X = pca.fit_transform(digits.data)
    return X, pca


def _time_per_iteration(make, X, n_iter, repeats):
    """Seconds per EM iteration: (best fit of 1 + n_iter iterations - best fit of 1) / n_iter.

    Taking the best of ``repeats`` for each length separately keeps a busy machine's
    noise out of the difference.
    """
    from sklearn.exceptions import ConvergenceWarning

    best = {1: np.inf, 1 + n_iter: np.inf}
    model = None
    for _ in range(repeats):
        for max_iter in best:
            model = make(max_iter)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = perf_counter()
                model.fit(X)
                best[max_iter] = min(best[max_iter], perf_counter() - t0)
    return max(best[1 + n_iter] - best[1], 1e-9) / n_iter, model


def speed(X, n_components, covariance_type="full", n_iter=8, repeats=3):
    """Time one EM iteration of gmmfast and scikit-learn from the same start."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture
    from threadpoolctl import threadpool_limits

    from . import GaussianMixture, show_config

    start = GaussianMixture(n_components, covariance_type=covariance_type, max_iter=0,
                            random_state=0).fit(X)
    init = dict(weights_init=start.weights_, means_init=start.means_,
                precisions_init=start.precisions_)
    common = dict(covariance_type=covariance_type, tol=0.0, random_state=0, **init)

    def ours(max_iter):
        return GaussianMixture(n_components, max_iter=max_iter, **common)

    def theirs(max_iter):
        # all initial parameters are given: the cheapest init_params does no work
        return SkGaussianMixture(n_components, max_iter=max_iter,
                                 init_params="random_from_data", **common)

    n_threads = show_config(file=False)["n_threads"]
    t_ours, m_ours = _time_per_iteration(ours, X, n_iter, repeats)
    t_sk, m_sk = _time_per_iteration(theirs, X, n_iter, repeats)
    with threadpool_limits(1):
        t_sk1, _ = _time_per_iteration(theirs, X, n_iter, repeats)
    return {
        "n_threads": n_threads, "gmmfast": t_ours, "sklearn": t_sk, "sklearn_1": t_sk1,
        "lower_bound_gmmfast": m_ours.lower_bound_, "lower_bound_sklearn": m_sk.lower_bound_,
    }


def _save(fig, out, name, dpi=72):
    path = os.path.join(out, name)
    fig.savefig(path, dpi=dpi, pil_kwargs={"optimize": True})
    return path


def _stretched_blobs(n, seed=0):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=n, centers=3, cluster_std=1.0, random_state=170)
    return X @ np.array([[0.6, -0.64], [-0.41, 0.85]]), y


def pictures(out, Figure, iris_result, X_iris, digits_model, pca, quick):
    """Draw the demo's pictures into ``out``; return the written paths."""
    from sklearn.datasets import make_blobs, make_moons

    from . import GaussianMixture, plot

    os.makedirs(out, exist_ok=True)
    written = []
    n = 300 if quick else 600

    # ellipses: stretched blobs with full covariances, iris on its principal axes
    X, _ = _stretched_blobs(n)
    blobs = GaussianMixture(3, covariance_type="full", random_state=0).fit(X)
    fig = Figure(figsize=(9, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plot.plot_gmm(blobs, X, ax=ax1, size=12, title="stretched blobs, full covariances")
    plot.plot_gmm(iris_result.best_estimator_, X_iris, ax=ax2, size=12,
                  title=f"iris, model chosen by BIC (K={iris_result.best_params_['n_components']})")
    written.append(_save(fig, out, "ellipses.png"))

    fig = Figure(figsize=(6, 4), layout="constrained")
    iris_result.plot(ax=fig.subplots(), title="iris: BIC and AIC per covariance type")
    written.append(_save(fig, out, "selection.png"))

    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    slow = GaussianMixture(3, init_params="random", tol=1e-6, random_state=1).fit(X)
    plot.plot_convergence(slow, ax=ax1, title=f"EM from a random start: {slow.n_iter_} "
                                             "iterations")
    # overlapping blobs: the samples between them are the uncertain ones
    Xo, _ = make_blobs(n_samples=n, centers=[[0, 0], [3, 0], [1.5, 2.5]], random_state=0)
    plot.plot_uncertainty(GaussianMixture(3, random_state=0).fit(Xo), Xo, ax=ax2)
    written.append(_save(fig, out, "convergence_uncertainty.png"))

    Xm, _ = make_moons(n_samples=n, noise=0.06, random_state=0)
    moons = GaussianMixture(16, covariance_type="full", random_state=0).fit(Xm)
    fig = Figure(figsize=(5, 4), layout="constrained")
    ax = fig.subplots()
    xx, yy = np.meshgrid(np.linspace(-1.5, 2.5, 120), np.linspace(-1.0, 1.5, 90))
    logp = moons.score_samples(np.column_stack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
    ax.contourf(xx, yy, np.maximum(logp, logp.max() - 12), levels=12, cmap="Blues",
                alpha=0.6)
    plot.plot_samples(moons, Xm, n, ax=ax, title="moons: 16 components as a density model")
    written.append(_save(fig, out, "moons_samples.png"))

    # new digits drawn from the density model, back in pixel space
    S, _ = digits_model.sample(48)
    images = np.clip(pca.inverse_transform(S), 0, 16).reshape(-1, 8, 8)
    fig = Figure(figsize=(6, 4.2), layout="constrained")
    for i, ax in enumerate(fig.subplots(6, 8).ravel()):
        ax.imshow(images[i], cmap="binary", vmin=0, vmax=16, interpolation="nearest")
        ax.set_axis_off()
    fig.suptitle(f"48 new digits sampled from a GaussianMixture("
                 f"{digits_model.n_components}, {digits_model.covariance_type!r})")
    written.append(_save(fig, out, "digits_samples.png"))
    return written


def main(argv=None):
    """Run the demo; return the process exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m gmmfast",
        description="Fit Gaussian mixtures on scikit-learn's datasets, choose K by BIC, "
                    "time gmmfast against scikit-learn and draw the classic pictures.")
    parser.add_argument("--out", default=None,
                        help="directory for the pictures (default: ./gmmfast-demo)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller grids (also set by GMMFAST_EXAMPLES_SMALL=1)")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("GMMFAST_EXAMPLES_SMALL") == "1"
    out = os.path.abspath(args.out or "gmmfast-demo")

    import gmmfast
    from sklearn.datasets import load_iris

    t_start = perf_counter()
    info = gmmfast.show_config(file=False)
    print(f"gmmfast {gmmfast.__version__}: OpenMP {'on' if info['openmp'] else 'off'}, "
          f"{info['n_threads']} thread(s)")

    _section("1. iris: K and covariance type by BIC")
    X_iris = load_iris().data
    iris = gmmfast.select_model(X_iris, n_components=range(1, 7), random_state=0)
    print(iris)
    print(_best_line(iris))

    _section("2. handwritten digits (PCA 99% variance, whitened): a density model")
    X_dig, pca = _digits(quick)
    # a model to draw new digits from: AIC, whose lighter penalty keeps the ~100-150
    # components that make samples look like digits (BIC picks a few blurry ones)
    grid = (5, 10) if quick else range(50, 210, 10)
    digits = gmmfast.select_model(X_dig, n_components=grid, covariance_types=("full",),
                                  criterion="aic", random_state=0)
    print(f"{X_dig.shape[0]} digits, {X_dig.shape[1]} PCA features")
    print(digits)
    print(_best_line(digits))

    _section("3. time per EM iteration, same data, same initial parameters")
    K = 10
    s = speed(X_dig, K, n_iter=3 if quick else 8, repeats=1 if quick else 2)
    print(f"digits, K={K}, covariance_type='full' ({X_dig.shape[0]} x {X_dig.shape[1]}):")
    rows = [(f"gmmfast ({s['n_threads']} OpenMP threads)", s["gmmfast"], ""),
            ("scikit-learn (default BLAS threads)", s["sklearn"],
             f"  gmmfast is {s['sklearn'] / s['gmmfast']:.2f}x as fast"),
            ("scikit-learn (BLAS on 1 thread)", s["sklearn_1"],
             f"  gmmfast is {s['sklearn_1'] / s['gmmfast']:.2f}x as fast")]
    for name, t, ratio in rows:
        print(f"  {name:<36}{1e3 * t:9.2f} ms/iteration{ratio}")
    print(f"  same answer: lower bound {s['lower_bound_gmmfast']:.10f} (gmmfast) vs "
          f"{s['lower_bound_sklearn']:.10f} (scikit-learn)")

    Figure = _matplotlib()
    _section("4. pictures")
    if Figure is None:
        print("matplotlib is not installed, so no pictures were drawn. To get them:\n"
              f"  {PLOT_HINT}\nand run python -m gmmfast again.")
    else:
        written = pictures(out, Figure, iris, X_iris, digits.best_estimator_, pca, quick)
        print(f"{len(written)} pictures written to {out}:")
        for path in written:
            print(f"  {os.path.basename(path)}")
    print(f"\ndone in {perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
