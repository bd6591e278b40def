"""Choose the number of components and the covariance type by BIC, AIC or ICL.

Public names
------------
select_model
    Fit a grid of Gaussian mixtures and keep the one with the lowest criterion.
SelectionResult
    The score table of such a grid, the best parameters and the best fitted model.
"""

import math
import warnings
from numbers import Integral
from time import perf_counter

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from . import _init, _mclust_models, _mstep, _validation
from ._gaussian_mixture import GaussianMixture
from ._hc import HierarchicalStart

_CRITERIA = ("bic", "aic", "icl")
_STARTS = ("kmeans", "hierarchical")
_COLUMNS = (
    "n_components", "covariance_type", "log_likelihood", "bic", "aic",
    "n_parameters", "n_iter", "converged", "fit_time",
)
#: a column only when the selection was made by it (it costs a pass over X per candidate)
_OPTIONAL_COLUMNS = ("icl",)


class SelectionResult:
    """The outcome of :func:`select_model`: one row per fitted candidate.

    Parameters
    ----------
    rows : list of dict
        One dict per candidate (see ``rows`` below).
    criterion : {'bic', 'aic', 'icl'}
        The criterion the best model was chosen by.
    best_index : int
        Position of the chosen candidate in ``rows``.
    best_estimator : GaussianMixture
        The chosen candidate, fitted.
    n_samples : int
        Number of samples the candidates were fitted on.

    Attributes
    ----------
    rows : list of dict
        One dict per candidate, in the order they were fitted (by ``n_components``,
        then covariance type), with keys ``n_components``, ``covariance_type``,
        ``log_likelihood`` (total log-likelihood of the training data under the
        fitted model, ``n_samples * score(X)``), ``bic``, ``aic``, ``n_parameters``,
        ``n_iter``, ``converged`` and ``fit_time`` (seconds, EM and the candidate's
        share of the initialisation). A candidate whose fit failed (for example a
        collapsed component) has NaN log-likelihood, infinite criteria and its error
        message under ``error``. Chosen by ICL, the rows also have ``icl``.
    criterion : str
        The criterion the best model was chosen by, ``'bic'``, ``'aic'`` or ``'icl'``.
    best_index_ : int
        Position of the chosen candidate in ``rows``.
    best_params_ : dict
        ``{'n_components': K, 'covariance_type': type}`` of the chosen candidate.
    best_estimator_ : GaussianMixture
        The chosen candidate, fitted on the data given to :func:`select_model`.
    best_score_ : float
        The criterion value of the chosen candidate (lower is better).
    n_samples : int
        Number of samples the candidates were fitted on.
    """

    def __init__(self, rows, criterion, best_index, best_estimator, n_samples):
        self.rows = rows
        self.criterion = criterion
        self.best_index_ = best_index
        self.best_estimator_ = best_estimator
        best = rows[best_index]
        self.best_params_ = {
            "n_components": best["n_components"],
            "covariance_type": best["covariance_type"],
        }
        self.best_score_ = best[criterion]
        self.n_samples = n_samples

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    @property
    def n_components(self):
        """ndarray of int: the ``n_components`` of each row."""
        return np.array([r["n_components"] for r in self.rows])

    @property
    def covariance_types(self):
        """tuple of str: the covariance types of the grid, in the order fitted."""
        return tuple(dict.fromkeys(r["covariance_type"] for r in self.rows))

    def column(self, name):
        """Values of one column of the table, as an array.

        Parameters
        ----------
        name : str
            One of ``n_components``, ``covariance_type``, ``log_likelihood``, ``bic``,
            ``aic``, ``n_parameters``, ``n_iter``, ``converged``, ``fit_time``.

        Returns
        -------
        values : ndarray of shape (n_rows,)
            The column, one value per row.
        """
        columns = self._columns()
        if name not in columns:
            raise KeyError(f"Unknown column {name!r}; the columns are {', '.join(columns)}.")
        return np.array([r[name] for r in self.rows])

    def _columns(self):
        extra = [c for c in _OPTIONAL_COLUMNS if self.rows and c in self.rows[0]]
        return list(_COLUMNS) + extra

    def to_frame(self):
        """The score table as a pandas DataFrame (needs pandas).

        Returns
        -------
        frame : pandas.DataFrame
            One row per candidate, the columns of ``rows``; the chosen row has
            ``best == True``.
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is in the test extra
            raise ImportError(
                "SelectionResult.to_frame needs pandas: pip install pandas. The table "
                "is also available without it as SelectionResult.rows (a list of dicts) "
                "or print(result)."
            ) from exc
        columns = self._columns() + (["error"] if any("error" in r for r in self.rows) else [])
        frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in self.rows],
                             columns=columns)
        frame["best"] = np.arange(len(self.rows)) == self.best_index_
        return frame

    def plot(self, ax=None, **kwargs):
        """Draw the BIC and AIC curves per covariance type; see :func:`gmmfast.plot.plot_selection`.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; None makes a new figure.
        **kwargs
            Passed to :func:`gmmfast.plot.plot_selection`.

        Returns
        -------
        ax : matplotlib Axes
            The Axes drawn on.
        """
        from .plot import plot_selection  # matplotlib only when asked for

        return plot_selection(self, ax=ax, **kwargs)

    def _table_lines(self):
        icl = "icl" in self._columns()
        header = ("K", "covariance", "log-likelihood", "BIC", "AIC") + (
            ("ICL",) if icl else ()) + ("n_iter", "converged", "fit time (s)")
        body = []
        for i, r in enumerate(self.rows):
            body.append((
                str(r["n_components"]),
                r["covariance_type"],
                f"{r['log_likelihood']:.4g}",
                f"{r['bic']:.6g}",
                f"{r['aic']:.6g}",
                *((f"{r['icl']:.6g}",) if icl else ()),
                str(r["n_iter"]),
                "yes" if r["converged"] else ("error" if "error" in r else "no"),
                f"{r['fit_time']:.3f}",
            ))
        widths = [max(len(h), *(len(b[j]) for b in body)) for j, h in enumerate(header)]
        fmt = lambda cells: "  ".join(  # noqa: E731
            c.ljust(w) if j == 1 else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths))
        )
        lines = ["  " + fmt(header)]
        for i, cells in enumerate(body):
            lines.append(("* " if i == self.best_index_ else "  ") + fmt(cells))
        return lines

    def __str__(self):
        best = self.best_params_
        title = (
            f"Model selection by {self.criterion.upper()} over {len(self.rows)} candidates "
            f"({self.n_samples} samples): best K={best['n_components']}, "
            f"covariance_type={best['covariance_type']!r}, "
            f"{self.criterion.upper()}={self.best_score_:.6g} (marked *)"
        )
        return "\n".join([title, *self._table_lines()])

    def __repr__(self):
        return f"<SelectionResult\n{self}\n>"


def _check_n_components(n_components, n_samples):
    if isinstance(n_components, Integral) and not isinstance(n_components, bool):
        values = [int(n_components)]
    else:
        try:
            values = list(n_components)
        except TypeError:
            raise TypeError(
                "n_components must be an int or an iterable of ints such as range(1, 11), "
                f"got {n_components!r}."
            ) from None
    if not values:
        raise ValueError(
            f"n_components is empty ({n_components!r}); give at least one number of "
            "components, e.g. range(1, 11)."
        )
    for k in values:
        if isinstance(k, bool) or not isinstance(k, Integral):
            raise TypeError(f"n_components must hold ints, got {k!r}.")
        if k < 1:
            raise ValueError(f"n_components must be >= 1, got {k}.")
        if k > n_samples:
            raise ValueError(
                f"n_components={k} is larger than the number of samples ({n_samples}); "
                f"use values up to {n_samples}."
            )
    return sorted(set(int(k) for k in values))


def _check_covariance_types(covariance_types):
    if isinstance(covariance_types, str):
        covariance_types = (covariance_types,)
    types = list(dict.fromkeys(covariance_types))
    if not types:
        raise ValueError(
            "covariance_types is empty; give at least one of "
            f"{', '.join(map(repr, _validation._COVARIANCE_TYPES))}."
        )
    for t in types:
        if t not in _validation._COVARIANCE_TYPES:
            raise ValueError(
                f"Unknown covariance type {t!r}; choose from "
                f"{', '.join(map(repr, _validation._COVARIANCE_TYPES))}."
            )
    return types


def _initial_parameters(X, labels, K, covariance_type, reg_covar, kind="labels"):
    """weights_init, means_init, precisions_init from k-means or hierarchical labels.

    The same estimates GaussianMixture(init_params=...) makes from the same labels, so
    a candidate starts where its own initialisation would. ``kind`` is "labels", or
    "subset_labels" for labels of a subsample (-1 elsewhere).
    """
    layout = _mclust_models.kernel_type(covariance_type)
    nk, means, cov = _init.parameters_from_assignments(
        X, None, kind, labels, K, layout, reg_covar
    )
    if _mclust_models.is_constrained(covariance_type):
        cov, _ = _mclust_models.constrain(covariance_type, nk, cov)
    prec_chol = _mstep.precision_cholesky(cov, layout, reg_covar=reg_covar)
    precisions = _mstep.precisions_from_cholesky(prec_chol, layout)
    # nk carries the 10 eps guard: normalise by its sum so the weights sum to 1 exactly
    return nk / nk.sum(), means, precisions


def select_model(
    X,
    n_components=range(1, 11),
    covariance_types=("full", "tied", "diag", "spherical"),
    criterion="bic",
    n_init=1,
    random_state=None,
    *,
    tol=1e-3,
    reg_covar=1e-6,
    max_iter=100,
    n_threads=None,
    init_params="kmeans",
):
    """Fit Gaussian mixtures over a grid of K and covariance types; keep the best.

    Every pair (K, covariance type) of the grid is fitted by EM and scored by the
    Bayesian (BIC) and Akaike (AIC) information criteria on ``X`` (and, when chosen
    by it, mclust's integrated complete-data likelihood, ICL); the candidate with
    the lowest ``criterion`` is returned fitted, with the whole score table. mclust's
    ``mclustBIC(X, G = 1:9)`` is ``select_model(X, range(1, 10),
    covariance_types=MODELS, init_params='hierarchical')`` with ``MODELS`` its
    fourteen model names (in gmmfast's sign: lower is better).

    Work shared between candidates: for each K and each of the ``n_init``
    initialisations, one k-means clustering (the one
    ``GaussianMixture(init_params='kmeans')`` would run) is computed once and
    shared by all covariance types; each type starts EM from the weights, means and
    covariances of those k-means labels. With ``init_params='hierarchical'`` one
    hierarchical tree (mclust's start) is built and cut at every K, as ``mclustBIC``
    does. Candidates are fitted one after another;
    each fit uses ``n_threads`` OpenMP threads in the kernels.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training data, one sample per row.
    n_components : int or iterable of int, default=range(1, 11)
        The numbers of components to try (each between 1 and n_samples).
    covariance_types : str or iterable of str, default=('full', 'tied', 'diag', 'spherical')
        The covariance types to try: scikit-learn's names and mclust's fourteen
        model names (see :class:`~gmmfast.GaussianMixture`).
    criterion : {'bic', 'aic', 'icl'}, default='bic'
        The criterion that picks the best candidate (lower is better). 'icl' is
        mclust's ICL, ``bic - 2 sum_i log max_k r_ik`` (:meth:`GaussianMixture.icl`):
        BIC penalised by how uncertain the classification of the data is; it takes
        one more pass over ``X`` per candidate and adds the ``icl`` column.
    n_init : int, default=1
        Initialisations per candidate; each candidate keeps its run with the highest
        likelihood, as ``GaussianMixture(n_init=...)`` does. The hierarchical start
        depends on the random state only through its subset of 2000 rows: on fewer
        rows there is one start whatever ``n_init``.
    random_state : int, RandomState instance or None, default=None
        Seeds the k-means initialisations (the hierarchical start's subsets); an int
        makes the whole selection reproducible.
    tol, reg_covar, max_iter, n_threads
        Passed to every :class:`~gmmfast.GaussianMixture`.
    init_params : {'kmeans', 'hierarchical'}, default='kmeans'
        How every candidate starts: from one k-means clustering per K, or from
        mclust's start, its model-based agglomerative hierarchical clustering cut at
        K clusters (see ``GaussianMixture(init_params='hierarchical')``).

    Returns
    -------
    result : SelectionResult
        The score table (``rows``, ``to_frame()``, ``print(result)``), the
        ``best_params_``, the fitted ``best_estimator_`` and ``plot()``.

    Raises
    ------
    ValueError
        If a grid is empty, a K is below 1 or above n_samples, or the criterion, a
        covariance type or init_params is unknown.

    Warns
    -----
    ConvergenceWarning
        Once, naming the candidates whose EM did not converge within ``max_iter``.
    UserWarning
        Once, naming the candidates whose fit failed (they are kept in the table with
        infinite criteria and never chosen).

    Examples
    --------
    >>> import numpy as np
    >>> from gmmfast import select_model
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(c, 0.5, size=(100, 2)) for c in (-5, 0, 5)])
    >>> result = select_model(X, n_components=range(1, 5), random_state=0)
    >>> result.best_params_["n_components"]
    3
    """
    if not isinstance(criterion, str) or criterion.lower() not in _CRITERIA:
        raise ValueError(
            f"Unknown criterion {criterion!r}; use 'bic' or 'aic', or 'icl' (mclust's ICL).")
    criterion = criterion.lower()
    if isinstance(n_init, bool) or not isinstance(n_init, Integral) or n_init < 1:
        raise ValueError(f"n_init must be an int >= 1, got {n_init!r}.")
    if not isinstance(init_params, str) or init_params not in _STARTS:
        raise ValueError(
            f"Unknown init_params {init_params!r} for select_model; use 'kmeans' or "
            "'hierarchical' (mclust's start).")
    # the estimator parameters are checked once here, not once per candidate
    _validation.check_parameters(GaussianMixture(
        tol=tol, reg_covar=reg_covar, max_iter=max_iter, n_threads=n_threads,
        random_state=random_state,
    ))
    # validate X once, as the estimators will (no copy of a C-contiguous float array)
    X = _validation.check_X(GaussianMixture(), X, reset=True, ensure_min_samples=2)
    n_samples, n_features = X.shape
    ks = _check_n_components(n_components, n_samples)
    types = _check_covariance_types(covariance_types)
    rng = check_random_state(random_state)
    log_n = math.log(n_samples)

    trees = []  # the hierarchical starts: (tree, its time per candidate)
    if init_params == "hierarchical":
        for _ in range(n_init):
            seed = int(rng.randint(np.iinfo(np.int32).max))
            t0 = perf_counter()
            tree = HierarchicalStart(X, None, np.random.RandomState(seed))
            trees.append((tree, (perf_counter() - t0) / (len(ks) * len(types))))
            if not tree.subsampled:  # the same tree whatever the seed
                break

    rows, estimators = [], []
    not_converged, failed = [], []
    for K in ks:
        best_runs = {t: None for t in types}  # covariance type -> (lower bound, gmm, time)
        for run in range(len(trees) or n_init):
            if trees:
                tree, start_share = trees[run]
                labels = tree.labels(K)
                kind = "subset_labels" if tree.subsampled else "labels"
                seed = None
            else:
                seed = int(rng.randint(np.iinfo(np.int32).max))
                t0 = perf_counter()
                labels = KMeans(n_clusters=K, n_init=1, random_state=seed).fit(X).labels_
                start_share = (perf_counter() - t0) / len(types)
                kind = "labels"
            for t in types:
                t0 = perf_counter()
                try:
                    weights, means, precisions = _initial_parameters(
                        X, labels, K, t, reg_covar, kind)
                    gmm = GaussianMixture(
                        K, covariance_type=t, tol=tol, reg_covar=reg_covar,
                        max_iter=max_iter, weights_init=weights, means_init=means,
                        precisions_init=precisions, random_state=seed, n_threads=n_threads,
                    )
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        gmm.fit(X)
                    outcome = gmm
                except _validation.InvalidParameterError:
                    raise
                except ValueError as exc:  # e.g. a component collapsed
                    outcome = exc
                elapsed = perf_counter() - t0 + start_share
                prev = best_runs[t]
                total = elapsed + (prev[2] if prev else 0.0)
                if isinstance(outcome, Exception):
                    if prev is None or isinstance(prev[1], Exception):
                        best_runs[t] = (-np.inf, outcome, total)
                    else:
                        best_runs[t] = (prev[0], prev[1], total)
                elif prev is None or outcome.lower_bound_ > prev[0]:
                    best_runs[t] = (outcome.lower_bound_, outcome, total)
                else:
                    best_runs[t] = (prev[0], prev[1], total)
        for t in types:
            _, gmm, elapsed = best_runs[t]
            p = _mclust_models.n_parameters(t, K, n_features)
            row = {"n_components": K, "covariance_type": t, "n_parameters": p,
                   "fit_time": elapsed}
            if isinstance(gmm, Exception):
                row.update(log_likelihood=np.nan, bic=np.inf, aic=np.inf, n_iter=0,
                           converged=False, error=str(gmm))
                if criterion == "icl":
                    row["icl"] = np.inf
                failed.append(f"K={K} {t}")
            else:
                log_lik = float(gmm.score(X)) * n_samples
                row.update(log_likelihood=log_lik, bic=-2.0 * log_lik + p * log_n,
                           aic=-2.0 * log_lik + 2.0 * p, n_iter=gmm.n_iter_,
                           converged=bool(gmm.converged_))
                if criterion == "icl":
                    row["icl"] = row["bic"] + 2.0 * gmm._map_entropy(X)
                if not gmm.converged_:
                    not_converged.append(f"K={K} {t}")
            rows.append(row)
            estimators.append(gmm)

    if failed:
        warnings.warn(
            f"{len(failed)} candidate(s) could not be fitted and are left out of the "
            f"choice: {', '.join(failed)}. Their error is in the table's 'error' column; "
            "raise reg_covar or lower n_components to fit them.",
            UserWarning, stacklevel=2,
        )
    if len(failed) == len(rows):
        raise ValueError(
            "No candidate could be fitted; first error: " + rows[0]["error"]
        )
    if not_converged:
        warnings.warn(
            f"EM did not converge within max_iter={max_iter} for {len(not_converged)} "
            f"candidate(s): {', '.join(not_converged)}. Increase max_iter or tol.",
            ConvergenceWarning, stacklevel=2,
        )
    scores = np.array([r[criterion] for r in rows])
    best = int(np.argmin(scores))  # the first (simplest) of equal scores
    return SelectionResult(rows, criterion, best, estimators[best], n_samples)
