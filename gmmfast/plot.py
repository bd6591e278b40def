"""Pictures of fitted Gaussian mixtures (needs matplotlib: ``pip install "gmmfast[plot]"``).

Every function draws on the Axes it is given (or on a new figure's Axes when
``ax=None``) and returns that Axes. They read only the public attributes of a fitted
mixture (``means_``, ``covariances_``, ``covariance_type``, ``predict_proba``,
``lower_bounds_``, ``sample``), so they draw scikit-learn's GaussianMixture as well.

Data with more than two features is drawn in a plane: two chosen features
(``features=(i, j)``) or, by default, the data's first two principal axes. The
ellipses are then the exact projections of the components: a Gaussian N(mu, S) seen
through the linear map P is N(P^T mu, P^T S P), computed from each component's full
covariance matrix whatever the covariance type.

Public names
------------
plot_gmm
    The data coloured by component, with each component's 1, 2, 3 sigma ellipses.
plot_convergence
    The lower bound (mean log-likelihood) at each EM iteration.
plot_selection
    BIC/AIC against K, one curve per covariance type, the chosen model marked.
plot_uncertainty
    The data coloured by the entropy of its responsibilities.
plot_samples
    Samples drawn from the mixture beside the data.
"""

try:
    import matplotlib
except ImportError as exc:
    raise ImportError(
        "gmmfast.plot needs matplotlib, which is not installed. Install it with "
        'pip install "gmmfast[plot]" (or pip install matplotlib).'
    ) from exc

import numpy as np
from matplotlib import patheffects
from matplotlib.colors import Normalize, to_rgba
from matplotlib.patches import Ellipse
from scipy.special import entr
from sklearn.utils.validation import check_is_fitted

from . import _mclust_models

__all__ = [
    "plot_convergence",
    "plot_gmm",
    "plot_samples",
    "plot_selection",
    "plot_uncertainty",
]


# ------------------------------------------------------------------- helpers

def _new_axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # only when the caller gave no Axes

    _, ax = plt.subplots()
    return ax


def _component_colors(n_components):
    """One colour per component: tab10, tab20 for more, then repeated."""
    cmap = matplotlib.colormaps["tab10" if n_components <= 10 else "tab20"]
    return [to_rgba(cmap(k % cmap.N)) for k in range(n_components)]


def _full_covariances(gmm):
    """(K, D, D) covariance matrices of any covariance type."""
    cov = np.asarray(gmm.covariances_, dtype=np.float64)
    K, D = np.shape(gmm.means_)
    kind = _mclust_models.kernel_type(gmm.covariance_type)  # mclust's models too
    if kind == "full":
        return cov
    if kind == "tied":
        return np.broadcast_to(cov, (K, D, D)).copy()
    if kind == "diag":
        return cov[:, :, None] * np.eye(D)
    if kind == "spherical":
        return cov[:, None, None] * np.eye(D)
    raise ValueError(f"Unknown covariance_type {kind!r}.")


def _as_2d_array(X, n_features):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(
            f"X must have shape (n_samples, {n_features}) as the mixture was fitted on "
            f"{n_features} features, got shape {X.shape}."
        )
    return X


class _Plane:
    """A linear map from feature space to the drawing plane: y = (x - center) @ P."""

    def __init__(self, gmm, X, features):
        D = np.shape(gmm.means_)[1]
        names = getattr(gmm, "feature_names_in_", None)
        if features is not None:
            i, j = (int(f) for f in features)
            for f in (i, j):
                if not -D <= f < D:
                    raise ValueError(f"features={features!r}: feature {f} is out of range "
                                     f"for {D} features.")
            self.P = np.zeros((D, 2))
            self.P[i, 0] = self.P[j, 1] = 1.0
            self.center = np.zeros(D)
            self.labels = tuple(
                str(names[f]) if names is not None else f"feature {f % D}" for f in (i, j)
            )
        elif D == 2:
            self.P = np.eye(2)
            self.center = np.zeros(2)
            self.labels = tuple(str(n) for n in names) if names is not None else (
                "feature 0", "feature 1")
        elif D < 2:
            raise ValueError(
                f"A plane needs at least 2 features; the mixture has {D}."
            )
        else:
            # the data's first two principal axes
            self.center = X.mean(axis=0)
            _, s, vt = np.linalg.svd(X - self.center, full_matrices=False)
            share = s * s / np.sum(s * s)
            self.P = vt[:2].T
            self.labels = tuple(
                f"principal axis {a + 1} ({100 * share[a]:.0f}% of variance)" for a in (0, 1)
            )

    def points(self, X):
        return (np.asarray(X, dtype=np.float64) - self.center) @ self.P

    def covariances(self, cov):
        return np.einsum("da,kde,eb->kab", self.P, cov, self.P)

    def label_axes(self, ax):
        ax.set_xlabel(self.labels[0])
        ax.set_ylabel(self.labels[1])


def _ellipse(mean, cov2, n_std, **kwargs):
    """The n_std-sigma ellipse {y : (y - m)^T C^-1 (y - m) = n_std^2} of a 2x2 C."""
    vals, vecs = np.linalg.eigh(cov2)
    vals = np.clip(vals, 0.0, None)
    angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))  # major axis direction
    return Ellipse(
        xy=mean, width=2.0 * n_std * np.sqrt(vals[1]), height=2.0 * n_std * np.sqrt(vals[0]),
        angle=angle, **kwargs,
    )


def _model_title(gmm):
    return f"K={len(gmm.weights_)} {gmm.covariance_type!r}"


# ------------------------------------------------------------------- plots

def plot_gmm(gmm, X, ax=None, *, features=None, n_std=(1, 2, 3), size=20.0,
             show_means=True, title=None):
    """Draw the data coloured by component with each component's sigma ellipses.

    Each sample takes the colour of its most probable component; its opacity and
    size grow with that probability, so uncertain samples between components fade.
    Each component gets one ellipse per entry of ``n_std`` (by default the 1, 2 and
    3 sigma contours of its Gaussian in the drawing plane). For a Bayesian mixture
    (one with ``weight_concentration_``), the ellipses are shaded by the component's
    weight relative to the largest, so the components it switched off fade out.

    Parameters
    ----------
    gmm : fitted GaussianMixture or BayesianGaussianMixture
        A gmmfast (or scikit-learn) Gaussian mixture.
    X : array-like of shape (n_samples, n_features)
        The data to draw.
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.
    features : (int, int), default=None
        Draw these two features. None: the two features of 2-D data, or the data's
        first two principal axes for more features.
    n_std : sequence of float, default=(1, 2, 3)
        The Mahalanobis radii of the ellipses drawn per component.
    size : float, default=20.0
        Marker area of a sample assigned with probability 1.
    show_means : bool, default=True
        Mark each component's mean with a cross.
    title : str, default=None
        Axes title; None describes the model.

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on: one scatter collection of the samples, one of the means
        (if ``show_means``), and ``len(n_std)`` ellipse patches per component.
    """
    check_is_fitted(gmm)
    ax = _new_axes(ax)
    means = np.asarray(gmm.means_, dtype=np.float64)
    K, D = means.shape
    X = _as_2d_array(X, D)
    plane = _Plane(gmm, X, features)
    resp = gmm.predict_proba(X)
    labels = np.argmax(resp, axis=1)
    confidence = resp[np.arange(len(X)), labels]
    # 1/K is the least a most-probable component can have: map [1/K, 1] to [0, 1]
    strength = np.clip((confidence - 1.0 / K) / (1.0 - 1.0 / K), 0.0, 1.0) if K > 1 else \
        np.ones(len(X))
    colors = np.array(_component_colors(K))
    point_colors = colors[labels].copy()
    point_colors[:, 3] = 0.15 + 0.85 * strength
    Y = plane.points(X)
    ax.scatter(Y[:, 0], Y[:, 1], s=size * (0.3 + 0.7 * strength), c=point_colors,
               linewidths=0, label="samples")

    centers = plane.points(means)
    covs = plane.covariances(_full_covariances(gmm))
    radii = sorted(float(r) for r in n_std)
    # a darker shade of the component's colour, so the ellipse shows over its points
    edges = colors.copy()
    edges[:, :3] *= 0.55
    halo = [patheffects.withStroke(linewidth=3.0, foreground="white", alpha=0.8)]
    bayesian = hasattr(gmm, "weight_concentration_")
    weights = np.asarray(gmm.weights_, dtype=np.float64)
    # a Bayesian mixture's unused components keep a tiny weight: fade them with it
    shade = (np.minimum(1.0, 0.08 + 0.92 * weights / weights.max()) if bayesian
             else np.ones(K))
    for k in range(K):
        for i, r in enumerate(radii):
            ax.add_patch(_ellipse(
                centers[k], covs[k], r, fill=False, edgecolor=edges[k],
                linewidth=1.5, alpha=shade[k] * (1.0 - 0.6 * i / max(len(radii), 1)),
                zorder=3, path_effects=halo,
            ))
    if show_means:
        ax.scatter(centers[:, 0], centers[:, 1], marker="x", s=60, c="black",
                   linewidths=2, label="means", zorder=4)
    ax.autoscale_view()
    plane.label_axes(ax)
    sigmas = ", ".join(f"{r:g}" for r in radii)
    kind = "Bayesian GMM" if bayesian else "GMM"
    ax.set_title(title if title is not None else
                 f"{kind} {_model_title(gmm)}: {sigmas} sigma ellipses")
    return ax


def plot_convergence(gmm, ax=None, *, title=None):
    """Draw the lower bound (mean log-likelihood) at each EM iteration.

    Parameters
    ----------
    gmm : fitted GaussianMixture or BayesianGaussianMixture
        A mixture with ``lower_bounds_`` (the bound after each iteration of the best
        initialisation: the mean log-likelihood, or a Bayesian mixture's variational
        lower bound).
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.
    title : str, default=None
        Axes title; None says the number of iterations and whether EM converged.

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on, with one line of ``n_iter_`` points.
    """
    check_is_fitted(gmm)
    # (scikit-learn's 'tied' Bayesian mixture records 1-element arrays: ravel)
    bounds = np.asarray(getattr(gmm, "lower_bounds_", []), dtype=np.float64).ravel()
    if bounds.size == 0:
        raise ValueError(
            "The mixture has no lower_bounds_ to draw (fitted with max_iter=0, or an "
            "estimator that does not record them)."
        )
    ax = _new_axes(ax)
    ax.plot(np.arange(1, bounds.size + 1), bounds, marker="o", markersize=3,
            label="lower bound")
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("variational lower bound" if hasattr(gmm, "weight_concentration_")
                  else "mean log-likelihood (lower bound)")
    state = "converged" if getattr(gmm, "converged_", False) else "did not converge"
    ax.set_title(title if title is not None else
                 f"EM: {bounds.size} iterations, {state}")
    return ax


#: One marker per covariance type (mclust's BIC plot tells its 14 models apart by
#: symbol as well as colour).
_TYPE_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "<", ">", "p", "h", "d", "8", "H")


def plot_selection(result, ax=None, *, criteria=("bic", "aic"), title=None):
    """Draw BIC, AIC and/or ICL against K, one curve per covariance type, best K marked.

    With ``criteria="bic"`` over mclust's fourteen models this is mclust's BIC plot
    (``plot(mclustBIC(x))``), in gmmfast's sign: one line per model, each with its
    own colour and marker, the best candidate starred.

    Parameters
    ----------
    result : SelectionResult
        What :func:`gmmfast.select_model` returned.
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.
    criteria : sequence of {'bic', 'aic', 'icl'}, default=('bic', 'aic')
        The criteria to draw: BIC as solid lines, AIC as dashed lines, ICL as dotted
        lines (ICL only when the selection was made by it).
    title : str, default=None
        Axes title; None names the chosen model.

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on: one line per covariance type and criterion, and one
        star marker at the chosen candidate.
    """
    if isinstance(criteria, str):
        criteria = (criteria,)
    criteria = [c.lower() for c in criteria]
    available = ("bic", "aic") + (("icl",) if "icl" in result.rows[0] else ())
    for c in criteria:
        if c not in available:
            raise ValueError(
                f"Unknown criterion {c!r}; use {', '.join(map(repr, available))}"
                + ("" if "icl" in available else " ('icl' needs select_model(..., "
                   "criterion='icl'))") + ".")
    ax = _new_axes(ax)
    rows = result.rows
    types = list(dict.fromkeys(r["covariance_type"] for r in rows))
    colors = _component_colors(len(types))
    styles = {"bic": "-", "aic": "--", "icl": ":"}
    for i, (color, t) in enumerate(zip(colors, types)):
        mine = sorted((r for r in rows if r["covariance_type"] == t),
                      key=lambda r: r["n_components"])
        ks = [r["n_components"] for r in mine]
        for c in criteria:
            vals = np.array([r[c] for r in mine], dtype=np.float64)
            vals[~np.isfinite(vals)] = np.nan  # failed fits leave a gap
            ax.plot(ks, vals, linestyle=styles[c],
                    marker=_TYPE_MARKERS[i % len(_TYPE_MARKERS)], markersize=4,
                    color=color, label=f"{c.upper()} {t}")
    best = rows[result.best_index_]
    ax.plot([best["n_components"]], [best[result.criterion]], linestyle="none",
            marker="*", markersize=16, color="black",
            label=f"best by {result.criterion.upper()}: K={best['n_components']}, "
                  f"{best['covariance_type']}")
    ax.set_xlabel("number of components K")
    ax.set_ylabel(" / ".join(c.upper() for c in criteria) + " (lower is better)")
    ax.set_title(title if title is not None else
                 f"Best by {result.criterion.upper()}: K={best['n_components']} "
                 f"{best['covariance_type']!r}")
    # many models (mclust's 14): a legend in columns, beside the curves
    n_entries = len(types) * len(criteria) + 1
    if n_entries > 10:
        ax.legend(fontsize="x-small", ncol=2 if n_entries <= 30 else 3,
                  loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize="small")
    return ax


def _entropy(resp):
    """Entropy (nats) of each row of responsibilities; 0 log 0 counts as 0."""
    return entr(np.asarray(resp, dtype=np.float64)).sum(axis=1)


def plot_uncertainty(gmm, X, ax=None, *, features=None, size=15.0, cmap="viridis",
                     colorbar=True, title=None):
    """Draw the data coloured by the entropy of its responsibilities.

    The entropy ``-sum_k r_k log r_k`` is 0 for a sample that surely belongs to one
    component and ``log K`` for one shared equally by all; the colour scale spans
    exactly that range.

    Parameters
    ----------
    gmm : fitted GaussianMixture
        A gmmfast (or scikit-learn) Gaussian mixture.
    X : array-like of shape (n_samples, n_features)
        The data to draw.
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.
    features : (int, int), default=None
        As in :func:`plot_gmm`.
    size : float, default=15.0
        Marker area.
    cmap : str or Colormap, default='viridis'
        Colour map of the entropy.
    colorbar : bool, default=True
        Add a colour bar beside the Axes.
    title : str, default=None
        Axes title; None describes the model.

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on, with one scatter collection of the samples whose colour
        array holds the entropies.
    """
    check_is_fitted(gmm)
    ax = _new_axes(ax)
    means = np.asarray(gmm.means_, dtype=np.float64)
    K, D = means.shape
    X = _as_2d_array(X, D)
    plane = _Plane(gmm, X, features)
    H = _entropy(gmm.predict_proba(X))
    Y = plane.points(X)
    sc = ax.scatter(Y[:, 0], Y[:, 1], c=H, s=size, cmap=cmap,
                    norm=Normalize(vmin=0.0, vmax=max(np.log(K), 1e-12)), linewidths=0)
    if colorbar:
        ax.figure.colorbar(sc, ax=ax, label="entropy of responsibilities (nats)")
    plane.label_axes(ax)
    ax.set_title(title if title is not None else
                 f"Uncertainty, GMM {_model_title(gmm)}")
    return ax


def plot_samples(gmm, X, n_samples, ax=None, *, features=None, size=12.0, title=None):
    """Draw ``n_samples`` samples drawn from the mixture beside the data.

    The data are drawn in grey, the samples coloured by the component that generated
    them, in the same plane.

    Parameters
    ----------
    gmm : fitted GaussianMixture
        A gmmfast (or scikit-learn) Gaussian mixture; its ``random_state`` seeds the
        samples.
    X : array-like of shape (n_samples_data, n_features)
        The data to draw.
    n_samples : int
        How many samples to draw from the mixture.
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.
    features : (int, int), default=None
        As in :func:`plot_gmm`.
    size : float, default=12.0
        Marker area.
    title : str, default=None
        Axes title; None describes what was drawn.

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on: a scatter collection of the data and one of the samples.
    """
    check_is_fitted(gmm)
    ax = _new_axes(ax)
    means = np.asarray(gmm.means_, dtype=np.float64)
    K, D = means.shape
    X = _as_2d_array(X, D)
    plane = _Plane(gmm, X, features)
    S, comp = gmm.sample(n_samples)
    Y, Z = plane.points(X), plane.points(S)
    ax.scatter(Y[:, 0], Y[:, 1], s=size, c="0.6", alpha=0.5, linewidths=0,
               label=f"data ({len(X)})")
    colors = np.array(_component_colors(K))
    ax.scatter(Z[:, 0], Z[:, 1], s=size, c=colors[np.asarray(comp)], marker="^",
               linewidths=0, label=f"samples from the mixture ({len(S)})")
    plane.label_axes(ax)
    ax.legend(fontsize="small")
    ax.set_title(title if title is not None else f"Samples from GMM {_model_title(gmm)}")
    return ax
