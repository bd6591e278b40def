"""BayesianGaussianMixture: variational inference of a Gaussian mixture on the kernels
of GaussianMixture. The estimator (parameters, validation, fitted state, partial_fit)
is here; the maths of an iteration (expected log-weights, the posterior update, the
lower bound) is in ``_variational``.
"""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _estep, _init, _mstep, _online, _sources, _validation
from ._base import MixtureFitLoop
from ._gaussian_mixture import GaussianMixture
from ._threads import blas_single_thread, effective_n_threads
from ._validation import InvalidParameterError
from ._variational import (
    COVARIANCE_TYPES as _COVARIANCE_TYPES,
    PRIOR_TYPES as _PRIOR_TYPES,
    Posterior,
    Priors,
    data_moments,
    lower_bound,
    resp_entropy_sum,
    source_weight,
    update_posterior,
    update_posterior_from_stats,
)


class BayesianGaussianMixture(MixtureFitLoop, DensityMixin, BaseEstimator):
    """Variational Bayesian Gaussian mixture, fitted in compiled, multi-threaded kernels.

    A drop-in replacement for :class:`sklearn.mixture.BayesianGaussianMixture`: the
    same parameters, attributes and methods, and the same results from the same
    start (the same ``random_state`` gives the same initialisation). A Dirichlet
    process (or Dirichlet distribution) prior on the weights lets the fit switch off
    components it does not need, so ``n_components`` is an upper bound on the number
    of components used (see ``n_effective_components_``). Each variational iteration
    is one pass of the kernels of :class:`gmmfast.GaussianMixture` over ``X``.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components: an upper bound, the fit can leave some with
        weights near zero.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        'full': each component has its own general covariance matrix; 'tied': all
        components share one general covariance matrix; 'diag': each component has
        its own diagonal covariance matrix; 'spherical': each component has its own
        single variance.
    tol : float, default=1e-3
        Convergence threshold: iterations stop when the lower bound changes by less
        than ``tol``.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of the covariances of the
        data's statistics (as in scikit-learn).
    max_iter : int, default=100
        The number of variational iterations to perform.
    n_init : int, default=1
        The number of initialisations to perform; the one with the largest lower bound
        is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
'hierarchical'}, default='kmeans'
        How the initial responsibilities are computed (as for
        :class:`gmmfast.GaussianMixture`; 'hierarchical' is beyond scikit-learn).
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, \
default='dirichlet_process'
        The prior on the weights: a stick-breaking Dirichlet process truncated at
        ``n_components``, or a Dirichlet distribution.
    weight_concentration_prior : float or None, default=None
        The concentration gamma (> 0) of the weights' prior: larger values keep more
        components active. None: ``1 / n_components``.
    mean_precision_prior : float or None, default=None
        The precision prior beta_0 (> 0) of the means: larger values keep the means
        nearer ``mean_prior``. None: 1.
    mean_prior : array-like of shape (n_features,) or None, default=None
        The prior mean of the means. None: the (weighted) mean of X.
    degrees_of_freedom_prior : float or None, default=None
        The Wishart prior's degrees of freedom nu_0 (> n_features - 1). None:
        ``n_features``.
    covariance_prior : float or array-like or None, default=None
        The Wishart prior's covariance: (n_features, n_features) for 'full' and
        'tied', (n_features,) for 'diag', a float for 'spherical'. None: the
        (weighted) covariance of X (its diagonal for 'diag', the diagonal's mean for
        'spherical'), with the unbiased n - 1 denominator (sum of weights - 1).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and :meth:`sample`.
    warm_start : bool, default=False
        If True, each ``fit`` starts from the solution of the previous one (and
        ``n_init`` is ignored after the first fit).
    verbose : int, default=0
        1 prints the initialisation and each ``verbose_interval``-th iteration; 2 and
        more also print the time and the change of the lower bound.
    verbose_interval : int, default=10
        Number of iterations between two prints.
    n_threads : int or None, default=None
        Number of OpenMP threads of the kernels. None (or -1) uses OpenMP's maximum.
        Results are bit-for-bit the same for every thread count.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The posterior mean weights of the components.
    means_ : ndarray of shape (n_components, n_features)
        The posterior mean of each component's mean.
    covariances_ : ndarray
        Each component's covariance (the Wishart scale's inverse over the degrees of
        freedom), of shape (n_components, n_features, n_features) for 'full',
        (n_features, n_features) for 'tied', (n_components, n_features) for 'diag',
        (n_components,) for 'spherical'.
    precisions_ : ndarray
        The inverses of ``covariances_``; same shape.
    precisions_cholesky_ : ndarray
        Upper-triangular U with ``U @ U.T == precision`` (square roots for 'diag' and
        'spherical'); same shape.
    converged_ : bool
        True when the best initialisation converged.
    n_iter_ : int
        Number of iterations of the best initialisation.
    lower_bound_ : float
        scikit-learn's lower bound on the evidence (without its constant terms) at the
        last iteration of the best initialisation.
    lower_bounds_ : list of float
        The lower bound at each iteration of the best initialisation.
    weight_concentration_prior_ : float
        The concentration prior used.
    weight_concentration_ : tuple of two ndarrays or ndarray of shape (n_components,)
        The weights' posterior: the Beta parameters (a, b) of the stick-breaking
        fractions ('dirichlet_process'), or the Dirichlet's concentrations.
    mean_precision_prior_ : float
        The mean precision prior used.
    mean_precision_ : ndarray of shape (n_components,)
        The posterior precision (beta_k) of each component's mean.
    mean_prior_ : ndarray of shape (n_features,)
        The prior mean of the means used.
    degrees_of_freedom_prior_ : float
        The Wishart prior's degrees of freedom used.
    degrees_of_freedom_ : ndarray of shape (n_components,) or float
        The posterior degrees of freedom (one float for 'tied').
    covariance_prior_ : float or ndarray
        The Wishart prior's covariance used.
    n_effective_components_ : int
        The number of components that carry data: whose posterior count N_k (the sum
        of the responsibilities, times the sample weights) is at least one average
        sample's weight (one sample, unweighted). Beyond scikit-learn.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.mixture.BayesianGaussianMixture : the reference implementation.
    gmmfast.GaussianMixture : the mixture fitted by EM (maximum likelihood).

    Notes
    -----
    float32 input is computed in float32 where the kernels keep its accuracy (with
    float64 sums and float64 parameters between iterations), and the fitted arrays
    are float32; float64 stays float64.

    Beyond scikit-learn: ``fit`` takes ``sample_weight`` (integer weights give the
    model of the repeated rows); ``fit`` and the prediction methods read an
    ``np.memmap`` (or any row-sliceable array) piece by piece and run on dask arrays,
    as :class:`gmmfast.GaussianMixture` does; then initialisation runs on a bounded
    random subsample (its counts scaled to the whole data's weight) while the priors
    and every iteration see all rows; :meth:`partial_fit` fits a stream by stochastic
    variational inference.

    Examples
    --------
    >>> import numpy as np
    >>> from gmmfast import BayesianGaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [12, 4], [10, 7]])
    >>> bgm = BayesianGaussianMixture(n_components=2, random_state=42).fit(X)
    >>> bgm.means_.round(2)
    array([[2.49, 2.29],
           [8.45, 4.52]])
    >>> bgm.predict([[0, 0], [9, 3]])
    array([0, 1])
    """

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        n_threads=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads

    # ------------------------------------------- shared with GaussianMixture
    # Validation of X into a stats source (in memory, memmap, dask), the per-sample
    # outputs through the kernels and sampling are
    # GaussianMixture's, computed on this model's kernel constants (_kernel_model).
    _kernel_type = GaussianMixture._kernel_type   # the kernel layout of its densities
    _source = GaussianMixture._source
    _per_sample = GaussianMixture._per_sample
    _lazy = GaussianMixture._lazy
    score_samples = GaussianMixture.score_samples
    score = GaussianMixture.score
    predict = GaussianMixture.predict
    predict_proba = GaussianMixture.predict_proba
    sample = GaussianMixture.sample

    # ------------------------------------------------------------- validation

    def _check_scalar_parameters(self):
        if not isinstance(self.covariance_type, str) or \
                self.covariance_type not in _COVARIANCE_TYPES:
            raise InvalidParameterError(
                "The 'covariance_type' parameter of BayesianGaussianMixture must be one "
                f"of {', '.join(map(repr, _COVARIANCE_TYPES))}, got "
                f"{self.covariance_type!r}.")
        try:
            _validation.check_parameters(self)
        except InvalidParameterError as exc:
            # the shared checks name GaussianMixture in their messages
            raise InvalidParameterError(
                str(exc).replace("GaussianMixture", type(self).__name__)) from None
        prior_type = self.weight_concentration_prior_type
        if not isinstance(prior_type, str) or prior_type not in _PRIOR_TYPES:
            raise InvalidParameterError(
                "The 'weight_concentration_prior_type' parameter of "
                f"BayesianGaussianMixture must be one of {', '.join(map(repr, _PRIOR_TYPES))}"
                f", got {prior_type!r}.")
        for name in ("weight_concentration_prior", "mean_precision_prior",
                     "degrees_of_freedom_prior"):
            _check_positive_or_none(name, getattr(self, name))
        cp = self.covariance_prior
        if isinstance(cp, Real) or cp is None:
            _check_positive_or_none("covariance_prior", cp)

    def _check_parameters(self, X):
        """Validate the parameters and set the priors from in-memory X (scikit-learn's
        private method of the same name, which its tests call)."""
        self._check_scalar_parameters()
        X = _validation.check_X(self, X, reset=True, ensure_min_samples=2)
        source = _sources.InMemorySource(
            X, None, self.covariance_type, self.n_components,
            effective_n_threads(self.n_threads))
        self._set_priors(self._priors(source, X, None))

    def _priors(self, source, X0, w0):
        """The priors of this fit: the given ones, checked, or defaults from the data."""
        D = source.n_features
        cov_type = self.covariance_type
        given = lambda v: None if v is None else float(v)  # noqa: E731
        gamma = given(self.weight_concentration_prior)
        beta0 = given(self.mean_precision_prior)
        nu0 = given(self.degrees_of_freedom_prior)
        if nu0 is None:
            nu0 = float(D)
        elif not nu0 > D - 1.0:
            raise ValueError(
                "The parameter 'degrees_of_freedom_prior' should be greater than "
                f"{D - 1}, but got {nu0:.3f}.")
        mean = cov = None
        if self.mean_prior is not None:
            mean = _validation._as_float_array(self.mean_prior, "mean_prior", 1)
            _validation._check_shape(mean, (D,), "means")
        if self.covariance_prior is not None:
            cov = _check_covariance_prior(self.covariance_prior, cov_type, D)
        if mean is None or cov is None:
            n, data_mean, scatter = data_moments(source, X0, w0, cov_type)
            if mean is None:
                mean = data_mean
            if cov is None:
                if not n > 1.0:
                    raise ValueError(
                        "covariance_prior=None estimates the prior covariance from the "
                        "data with the n - 1 denominator, which needs a total "
                        f"sample_weight above 1 (got {n:g}); pass covariance_prior, or "
                        "scale sample_weight up.")
                cov = scatter / (n - 1.0)
                if cov_type == "spherical":
                    cov = float(np.mean(cov))
        return Priors(
            1.0 / self.n_components if gamma is None else gamma,
            1.0 if beta0 is None else beta0, mean, nu0, cov)

    def _stored_priors(self):
        """The priors of the fitted model, from its ``*_prior_`` attributes."""
        cov = self.covariance_prior_
        return Priors(
            float(self.weight_concentration_prior_), float(self.mean_precision_prior_),
            np.asarray(self.mean_prior_, dtype=np.float64),
            float(self.degrees_of_freedom_prior_),
            np.asarray(cov, dtype=np.float64) if np.ndim(cov) else float(cov))

    def _set_priors(self, priors, dtype=np.float64):
        self._fit_priors = priors
        self.weight_concentration_prior_ = priors.weight_concentration
        self.mean_precision_prior_ = priors.mean_precision
        self.mean_prior_ = priors.mean.astype(dtype)
        self.degrees_of_freedom_prior_ = priors.degrees_of_freedom
        cov = priors.covariance
        self.covariance_prior_ = (np.asarray(cov, dtype=dtype) if np.ndim(cov)
                                  else float(cov))

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y=None, sample_weight=None):
        """Fit the variational posterior by coordinate ascent on the lower bound.

        Fits ``n_init`` times and keeps the result with the largest lower bound. Each
        run iterates until the lower bound changes by less than ``tol`` or
        ``max_iter`` is reached (then a ConvergenceWarning is issued).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, one sample per row: in memory, an ``np.memmap`` (or any
            row-sliceable array, read piece by piece) or a dask array, as for
            :meth:`gmmfast.GaussianMixture.fit`.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative, finite weight of each sample, not all zero (None: all
            ones). A weight counts as that many copies of the row, in the priors'
            defaults too: integer weights give the model of the repeated rows.

        Returns
        -------
        self : BayesianGaussianMixture
            The fitted mixture.
        """
        self._fit(X, sample_weight, want_labels=False)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit the model and return the label of each sample of X.

        Same as ``fit(X, sample_weight=sample_weight).predict(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (also an np.memmap or a dask array, see :meth:`fit`).
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample (None: all ones), see :meth:`fit`.

        Returns
        -------
        labels : ndarray (or lazy dask array for dask X) of shape (n_samples,)
            Component labels.
        """
        return self._fit(X, sample_weight, want_labels=True)

    def partial_fit(self, X, y=None, sample_weight=None, *, total_weight=None,
                    step_size_power=_online.STEP_SIZE_POWER,
                    step_size_offset=_online.STEP_SIZE_OFFSET):
        """Update the posterior with one batch: a step of stochastic variational inference.

        Each call is one natural-gradient step on the global variational parameters
        (Hoffman, Blei, Wang & Paisley 2013, "Stochastic variational inference"). The
        batch's local step is one pass of the E-step kernel under the current
        posterior; the intermediate global parameters are those the batch would give
        if the whole data were ``total_weight / weight(batch)`` copies of it, and the
        natural parameters move towards them with step eta_t:

            lambda <- (1 - eta_t) * lambda + eta_t * (prior + total_weight * s(batch)),
            eta_t = (t + step_size_offset) ** -step_size_power,

        s(batch) being the batch's expected sufficient statistics (N_k, sum r x,
        sum r x x^T) per unit of sample weight. The natural parameters of the
        Dirichlet (or stick-breaking Betas) and Gaussian-Wishart posteriors are the
        prior's plus those statistics, so the step is made exactly by keeping running
        statistics per unit weight, as :meth:`gmmfast.GaussianMixture.partial_fit`
        does, and setting the posterior from the prior and ``total_weight`` times
        them. On a stationary stream the steps converge for ``step_size_power`` in
        (0.5, 1].

        The first call on an unfitted model sets the priors (those left at None are
        estimated from this batch, as :meth:`fit` estimates them from all of X) and
        initialises from the batch exactly as :meth:`fit` would, then makes step
        t = 0 with eta_0 = 1. After :meth:`fit`, partial_fit continues from the
        fitted posterior: the statistics of fit's last E-step are the running
        statistics and the next step is t = 1.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of samples (also an np.memmap or a dask array). Its number of
            features must match the first batch's.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the batch's samples (None: all ones).
        total_weight : float > 0, default=None
            The weight of the data the stream stands for: the D of Hoffman et al.,
            e.g. ``n_samples`` of a dataset streamed in batches over several epochs,
            which makes the posterior that of a batch fit of that dataset. None: the
            weight of all the batches seen so far (including fit's data), so that the
            posterior is that of every sample seen once, as for a stream of fresh
            samples; do not leave it None when the same samples come back in several
            epochs, the posterior would then count them several times.
        step_size_power : float in (0, 1], default=0.6
            The exponent kappa of the schedule.
        step_size_offset : float >= 0, default=2.0
            The delay tau of the schedule.

        Returns
        -------
        self : BayesianGaussianMixture
            The updated mixture.

        Notes
        -----
        After the call ``lower_bound_`` is the lower bound estimated from this batch
        (its responsibilities' entropy scaled to ``total_weight``, with the updated
        posterior): a noisy estimate of the whole data's bound, whose running
        average is what to watch. ``n_iter_`` counts the steps made so far and
        ``converged_`` is False (there is no convergence test). ``max_iter``,
        ``tol`` and ``n_init`` do not apply. The schedule is passed to each call,
        not set in the constructor, so that ``get_params`` stays scikit-learn's.
        """
        _online.check_schedule(step_size_power, step_size_offset)
        if total_weight is not None:
            if isinstance(total_weight, bool) or not isinstance(total_weight, Real) \
                    or not np.isfinite(total_weight) or not total_weight > 0:
                raise ValueError(
                    "total_weight must be a finite number > 0 (the weight of the data "
                    f"the stream stands for) or None, got {total_weight!r}.")
            total_weight = float(total_weight)
        first = not hasattr(self, "means_")
        if first:
            self._check_scalar_parameters()
        else:
            check_is_fitted(self)
        source = self._source(X, sample_weight, reset=first, ensure_min_samples=1)
        dtype = source.dtype
        eps = np.finfo(dtype).eps
        cov_type = self.covariance_type
        prior_type = self.weight_concentration_prior_type
        batch_weight = source_weight(source)
        with blas_single_thread(cov_type, source.n_features):
            if first:
                self._check_first_batch(source)
                random_state = check_random_state(self.random_state)
                X0, w0 = source.init_data(random_state)
                priors = self._priors(source, X0, w0)
                self._fit_priors = priors
                running, t, seen = None, 0, 0.0
                total = batch_weight if total_weight is None else total_weight
                post = self._initial_posterior(X0, w0, random_state, dtype,
                                               total_weight=total)
            else:
                # the float64 priors of fit (or of the first batch) when present
                priors = getattr(self, "_fit_priors", None) or self._stored_priors()
                self._fit_priors = priors
                post = self._current_posterior()
                running, t = self._online_state()
                seen = getattr(self, "_online_seen", None)
                if seen is None:   # a posterior set without fit: its own counts
                    seen = float(np.sum(post.nk))
                total = seen + batch_weight if total_weight is None else total_weight
            batch = source.stats(post.weights, post.means, post.prec_chol,
                                 log_weights=post.log_weights)
            entropy = resp_entropy_sum(batch, post.log_weights, post.means,
                                        post.prec_chol, cov_type, self.n_threads)
            eta = _online.step_size(t, step_size_power, step_size_offset)
            running = _online.blend(running, _online.scaled(batch, 1.0 / batch.sum_w),
                                    eta, cov_type)
            _, xk, sk = _mstep.m_step(running, cov_type, self.reg_covar, eps)
            # the same guard on the counts as fit's M-step
            post = self._posterior(running.N * total + 10 * eps, xk, sk, dtype)
            lower_bound = self._lower_bound(post, entropy * (total / batch.sum_w))
        if first:
            self._set_priors(priors, dtype)
        self._set_posterior(post, dtype)
        self.n_effective_components_ = int(np.count_nonzero(
            post.nk >= batch_weight / source.n_samples))
        self._online_stats = running
        self._online_t = t + 1
        self._online_seen = seen + batch_weight
        self.lower_bound_ = lower_bound
        self.lower_bounds_ = [lower_bound]
        self.n_iter_ = t + 1
        self.converged_ = False
        return self

    # ------------------------------------------ the hooks of the fit loop (_base)

    def _check_fit_parameters(self):
        self._check_scalar_parameters()

    def _begin_fit(self, source, random_state):
        """(rows to start from, their weights, the data's total weight): the rows are
        drawn once per fit, as scikit-learn does, and also place the priors' pass
        over the data."""
        X0, w0 = source.init_data(random_state)
        self._fit_priors = self._priors(source, X0, w0)
        return X0, w0, source_weight(source)

    def _initial_state(self, source, random_state, context):
        X0, w0, total_weight = context
        return self._initial_posterior(X0, w0, random_state, source.dtype,
                                       total_weight=total_weight)

    def _warm_state(self):
        return self._current_posterior()

    def _iterate(self, source, post, eps):
        return self._iteration(source, post, eps, source.dtype)

    def _end_fit(self, post, source, context):
        total_weight = context[2]
        self._set_priors(self._fit_priors, source.dtype)
        self._set_posterior(post, source.dtype)
        self.n_effective_components_ = int(np.count_nonzero(
            post.nk >= total_weight / source.n_samples))
        self._online_seen = total_weight

    def _iteration(self, source, post, eps, dtype):
        """One variational iteration: E-step statistics, M-step, lower bound."""
        stats = source.stats(post.weights, post.means, post.prec_chol,
                             log_weights=post.log_weights)
        entropy = resp_entropy_sum(stats, post.log_weights, post.means, post.prec_chol,
                                    self.covariance_type, self.n_threads)
        if self.covariance_type == "full":
            # the M-step and the posterior update below in one compiled pass over the
            # components (the same numbers)
            post = update_posterior_from_stats(
                self._fit_priors, stats, self.weight_concentration_prior_type,
                reg_covar=self.reg_covar, eps=eps, dtype=dtype, n_threads=self.n_threads)
            return post, self._lower_bound(post, entropy), stats
        # scikit-learn's nk = N + 10 eps, with the M-step's means and covariances
        nk, xk, sk = _mstep.m_step_moments(stats, self.covariance_type, self.reg_covar,
                                           eps)
        try:
            post = self._posterior(nk, xk, sk, dtype)
        except ValueError:
            _mstep.check_sums(stats)   # overflowed sums, not a collapse: say so
            raise
        return post, self._lower_bound(post, entropy), stats

    def _initial_posterior(self, X, w, random_state, dtype, total_weight=None):
        """The posterior from the initial responsibilities (scikit-learn's _initialize).

        On a subsample of the data (memmap, dask) the counts are scaled to the whole
        data's weight, so that the initial posterior is that of all rows.
        """
        kind, assign = _init.initial_assignments(
            X, w, self.n_components, self.init_params, random_state,
            n_threads=self.n_threads)
        nk, xk, sk = _init.parameters_from_assignments(
            X, w, kind, assign, self.n_components, self.covariance_type, self.reg_covar)
        subsample_weight = float(X.shape[0] if w is None else w.sum())
        if total_weight is not None and total_weight != subsample_weight:
            nk = nk * (total_weight / subsample_weight)
        return self._posterior(nk, xk, sk, dtype)

    def _initialize_parameters(self, X, random_state):
        """Set the initial posterior from in-memory X (scikit-learn's private method of
        the same name, which its tests call after ``_check_parameters``)."""
        X = _validation.check_X(self, X, reset=True, ensure_min_samples=2)
        with blas_single_thread(self.covariance_type, X.shape[1]):
            post = self._initial_posterior(X, None, random_state, X.dtype)
        self._set_posterior(post, X.dtype)

    def _posterior(self, nk, xk, sk, dtype):
        """The variational M-step: the priors updated by the counts nk, the means xk
        and the covariances sk of the data's responsibilities (scikit-learn's formulas:
        Bishop 2006, eqs. 10.58-10.63, with the covariance normalised by nu_k)."""
        return update_posterior(
            self._fit_priors, nk, xk, sk, self.covariance_type,
            self.weight_concentration_prior_type, reg_covar=self.reg_covar, dtype=dtype,
            n_threads=self.n_threads)

    def _lower_bound(self, post, entropy):
        """scikit-learn's lower bound (its constant terms removed) from the new
        posterior and sum_i w_i sum_k r_ik log r_ik of the E-step before it."""
        return lower_bound(post, entropy)

    # --------------------------------------------------------- fitted state

    def _set_posterior(self, post, dtype):
        dtype = np.dtype(dtype)
        cast = lambda a: np.asarray(a, dtype=dtype)  # noqa: E731
        precisions = _mstep.precisions_from_cholesky(post.prec_chol, self.covariance_type)
        _validation.check_representable(post.covariances, precisions,
                                        self.covariance_type, dtype)
        prior_type = self.weight_concentration_prior_type
        if prior_type == "dirichlet_process":
            self.weight_concentration_ = tuple(cast(c) for c in post.concentration)
        else:
            self.weight_concentration_ = cast(post.concentration)
        self.weights_ = cast(post.weights)
        self.mean_precision_ = cast(post.beta)
        self.means_ = cast(post.means)
        self.degrees_of_freedom_ = (dtype.type(post.nu) if np.ndim(post.nu) == 0
                                    else cast(post.nu))
        self.covariances_ = cast(post.covariances)
        self.precisions_cholesky_ = cast(post.prec_chol)
        self.precisions_ = cast(precisions)

    def _current_posterior(self):
        f64 = lambda a: np.asarray(a, dtype=np.float64)  # noqa: E731
        wc = self.weight_concentration_
        concentration = tuple(map(f64, wc)) if isinstance(wc, tuple) else f64(wc)
        nu = f64(self.degrees_of_freedom_)
        nu = float(nu) if nu.ndim == 0 else nu
        nk = f64(self.mean_precision_) - self.mean_precision_prior_
        return Posterior(concentration, f64(self.mean_precision_), f64(self.means_), nu,
                         f64(self.covariances_), f64(self.precisions_cholesky_),
                         nk).derive(self.covariance_type,
                                    self.weight_concentration_prior_type)

    def _kernel_log_weights(self):
        """c_k of the fitted model: what the kernels add for log(weights_)."""
        return self._current_posterior().log_weights

    def _kernel_model(self, dtype):
        return _estep.KernelModel(
            self.covariance_type, self.weights_, self.means_, self.precisions_cholesky_,
            dtype, log_weights=self._kernel_log_weights())


def _check_positive_or_none(name, value):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value) \
            or not value > 0:
        raise InvalidParameterError(
            f"The '{name}' parameter of BayesianGaussianMixture must be None or a "
            f"finite float > 0, got {value!r}.")


def _check_covariance_prior(value, covariance_type, n_features):
    """A given covariance_prior, checked against the covariance type; float64."""
    D = n_features
    name = f"{covariance_type} covariance_prior"
    if covariance_type == "spherical":
        arr = np.asarray(value)
        if arr.ndim != 0 or arr.dtype.kind not in "biuf" or not float(arr) > 0 \
                or not np.isfinite(float(arr)):
            raise ValueError(
                f"The parameter '{name}' should be a positive float, got {value!r}.")
        return float(arr)
    ndim = 2 if covariance_type in ("full", "tied") else 1
    arr = _validation._as_float_array(value, "covariance_prior", ndim)
    _validation._check_shape(arr, (D, D) if ndim == 2 else (D,), name)
    if ndim == 1:
        if not (arr > 0).all():
            raise ValueError(f"'{name}' should be positive")
        return arr
    if not np.allclose(arr, arr.T) or np.linalg.eigvalsh(arr).min() <= 0:
        raise ValueError(f"'{name}' should be symmetric, positive-definite")
    return arr
