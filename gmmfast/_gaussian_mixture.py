"""The estimator: parameters, validation, an EM iteration, the public methods.

The EM work (E-step and the M-step's sums) runs in compiled kernels through
``_estep``; the loop around the iterations (starts, convergence test, warnings) is
``_base.MixtureFitLoop``, shared with BayesianGaussianMixture.
"""

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _estep, _init, _mclust_models, _mstep, _online, _sources, _validation
from . import _inputs
from ._base import MixtureFitLoop
from ._criteria import InformationCriteria
from ._threads import blas_single_thread, effective_n_threads


class GaussianMixture(InformationCriteria, MixtureFitLoop, DensityMixin, BaseEstimator):
    """Gaussian mixture model fitted by EM in compiled, multi-threaded kernels.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: the same
    parameters, attributes and methods, and the same results from the same start (the
    same ``random_state`` gives the same initialisation). The E-step and the sums of
    the M-step run in one pass over ``X`` per iteration in Cython kernels, on
    ``n_threads`` OpenMP threads, with results that do not depend on the thread count.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    covariance_type : str, default='full'
        scikit-learn's four: 'full': each component has its own general covariance
        matrix; 'tied': all components share one general covariance matrix; 'diag':
        each component has its own diagonal covariance matrix; 'spherical': each
        component has its own single variance. Or one of R mclust's fourteen models
        of Sigma_k = lambda_k D_k A_k D_k^T (volume, shape, orientation; each Equal
        across components, Varying, or I the identity): 'EII', 'VII', 'EEI', 'VEI',
        'EVI', 'VVI', 'EEE', 'VEE', 'EVE', 'VVE', 'EEV', 'VEV', 'EVV', 'VVV'
        (Celeux & Govaert 1995). 'VVV' is the model of 'full', 'EEE' of 'tied',
        'VVI' of 'diag' and 'VII' of 'spherical', with the same estimates. The
        M-steps are maximum likelihood, closed form where one exists, otherwise
        iterated to mclust's tolerance from the previous M-step's solution
        (VEI, VEV: Celeux & Govaert; VEE; EVE, VVE: Browne & McNicholas 2014).
    tol : float, default=1e-3
        Convergence threshold: EM stops when the change of the mean log-likelihood
        (the lower bound) between two iterations is below ``tol``.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of the covariances, so
        that they stay positive definite.
    max_iter : int, default=100
        The number of EM iterations to perform.
    n_init : int, default=1
        The number of initialisations to perform; the best result is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', \
'hierarchical'}, default='kmeans'
        How the initial responsibilities are computed: 'kmeans' from a k-means
        clustering, 'k-means++' from k-means++ seeding, 'random' uniformly at random,
        'random_from_data' from randomly chosen data points as means, 'hierarchical'
        as mclust starts: its model-based agglomerative hierarchical clustering (VVV
        criterion, SVD-transformed data) cut at ``n_components`` clusters, on a
        random subset of 2000 rows when there are more (README, "Coming from mclust").
    weights_init : array-like of shape (n_components,), default=None
        User-provided initial weights (otherwise from ``init_params``).
    means_init : array-like of shape (n_components, n_features), default=None
        User-provided initial means (otherwise from ``init_params``).
    precisions_init : array-like, default=None
        User-provided initial precisions (inverses of the covariance matrices), of
        shape (n_components,) for 'spherical', (n_features, n_features) for 'tied',
        (n_components, n_features) for 'diag', (n_components, n_features, n_features)
        for 'full'; for an mclust model, the shape of its ``covariances_``. Used as
        given for the first E-step (the model's constraints apply from the first
        M-step on).
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
        Number of OpenMP threads of the kernels. None (or -1) uses OpenMP's maximum,
        which honours ``OMP_NUM_THREADS`` and ``threadpoolctl`` limits. Results are
        bit-for-bit the same for every thread count.
    missing : {'error', 'marginalize'}, default='error'
        What NaN entries of X mean. 'error' refuses them, as scikit-learn does.
        'marginalize' treats them as missing at random: ``fit`` runs the exact EM
        for missing data (Ghahramani & Jordan 1994), where each row counts through
        the marginal density of its observed features and the M-step adds the
        conditional expectations of its missing ones; ``score_samples``, ``score``,
        ``predict`` and ``predict_proba`` use each row's observed features. A row
        with every feature missing is an error. X without NaN gives exactly the
        fit of 'error'. See :meth:`impute` and :meth:`condition`.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        The weights of the mixture components.
    means_ : ndarray of shape (n_components, n_features)
        The mean of each component.
    covariances_ : ndarray
        The covariance of each component; shape as ``precisions_init``. An mclust
        model has the shapes of the scikit-learn type whose density layout it
        shares: (n_components,) for 'EII' and 'VII' (all equal for 'EII');
        (n_components, n_features) for 'EEI', 'VEI', 'EVI', 'VVI' (the diagonals;
        equal rows for 'EEI'); (n_features, n_features) for 'EEE'; and
        (n_components, n_features, n_features) for the other seven.
    precisions_ : ndarray
        The precision matrices (inverse covariances); shape as ``covariances_``.
    precisions_cholesky_ : ndarray
        Upper-triangular U with ``U @ U.T == precision`` per component (for 'diag' and
        'spherical', the square roots of the precisions); shape as ``covariances_``.
    volumes_ : ndarray of shape (n_components,)
        Only for mclust's model names: lambda_k = det(Sigma_k)^(1/n_features).
    shapes_ : ndarray of shape (n_components, n_features)
        Only for mclust's model names: the diagonal of A_k (product 1); in feature
        order for the diagonal and spherical models, in decreasing order for the
        others.
    orientations_ : ndarray of shape (n_components, n_features, n_features)
        Only for mclust's model names: D_k, whose columns are the principal axes
        (the identity for the diagonal and spherical models), so that
        ``covariances`` of component k is
        ``volumes_[k] * orientations_[k] @ np.diag(shapes_[k]) @ orientations_[k].T``.
    converged_ : bool
        True when the best initialisation converged.
    n_iter_ : int
        Number of EM iterations of the best initialisation.
    lower_bound_ : float
        Mean log-likelihood of the training data at the last E-step of the best
        initialisation (the lower bound scikit-learn reports).
    lower_bounds_ : list of float
        The lower bound at each iteration of the best initialisation.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.mixture.GaussianMixture : the reference implementation.

    Notes
    -----
    float32 input is computed in float32 (with float64 sums) and the fitted arrays are
    float32; float64 stays float64. An ``X`` that is already a C-contiguous
    float32/float64 array is never copied.

    Beyond scikit-learn: ``fit`` takes ``sample_weight``; ``fit`` and the
    prediction methods read an ``np.memmap`` (or any row-sliceable array) piece by
    piece, so data larger than memory can be fitted; they accept dask arrays and run
    on the dask cluster (predictions are lazy dask arrays); :meth:`partial_fit`
    updates the model one batch at a time (stepwise EM). All are the same kernel
    computing sufficient statistics per block of samples.

    Examples
    --------
    >>> import numpy as np
    >>> from gmmfast import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.sort(gm.means_[:, 0])
    array([ 1., 10.])
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        n_threads=None,
        missing="error",
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads
        self.missing = missing

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y=None, sample_weight=None):
        """Estimate the model parameters with the EM algorithm.

        Fits ``n_init`` times and keeps the parameters with the largest lower bound.
        Each run iterates E- and M-steps until the lower bound changes by less than
        ``tol`` or ``max_iter`` is reached (then a ConvergenceWarning is issued).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, one sample per row. Three kinds are accepted:

            - in-memory data (numpy arrays, lists, pandas): used in place when it is
              a C-contiguous float32/float64 array, else converted once;
            - an ``np.memmap`` or another array sliceable by rows (h5py, zarr):
              read piece by piece (16 MiB of float64 at a time), each piece converted
              to float64 (float32 stays float32), never loaded or converted whole;
              initialisation uses a random subsample of at most
              ``min(n_samples, max(50 * n_components, min(100_000,
              2**26 // (8 * n_features))))`` rows (all rows when X is smaller);
            - a ``dask.array.Array``: each iteration runs the kernel on every chunk
              where it lives and sums the returned statistics on the client;
              initialisation as for a memmap.

            From the same initialisation all three give the same model up to the
            order of floating-point additions (within ~1e-14 relative in float64).
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative, finite weight of each sample, not all zero (None: all
            ones). A weight counts as that many copies of the row: integer weights
            give the model of the repeated rows, zero drops the row. Every
            ``init_params`` honours the weights (weighted k-means, weighted
            k-means++ seeding, rows drawn with probability proportional to weight
            for 'random_from_data'). A dask array (or numpy array) with a dask X.
            Only the weights' ratios matter: numpy weights are scaled by the power
            of two that brings their mean into [1, 2) first (exact), so weights of
            1e-300 or 1e300 fit as well as ones, and weights that differ by a power
            of two give the same model bit for bit.

        Returns
        -------
        self : GaussianMixture
            The fitted mixture.
        """
        self._fit(X, _validation.relative_weights(sample_weight), want_labels=False)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit the model and return the label of each sample of X.

        Same as ``fit(X, sample_weight=sample_weight).predict(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, one sample per row (also an np.memmap or a dask array,
            see :meth:`fit`).
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample (None: all ones), see :meth:`fit`.

        Returns
        -------
        labels : ndarray (or lazy dask array for dask X) of shape (n_samples,)
            Component labels.
        """
        return self._fit(X, _validation.relative_weights(sample_weight),
                         want_labels=True)

    def _source(self, X, sample_weight, *, reset, ensure_min_samples=1,
                defer_finite=False):
        """Validate X and sample_weight; return the stats source that reads them.

        dask arrays -> ``_dask.DaskSource``; np.memmap and other row-sliceable
        arrays -> ``_sources.ChunkedSource``; anything else is validated into a
        C-contiguous float array in memory -> ``_sources.InMemorySource``.
        """
        return _inputs.stats_source(self, X, sample_weight, reset=reset,
                                    ensure_min_samples=ensure_min_samples,
                                    defer_finite=defer_finite)

    # ------------------------------------------ the hooks of the fit loop (_base)

    def _check_fit_parameters(self):
        _validation.check_parameters(self)

    def _begin_fit(self, source, random_state):
        """The checked weights_init, means_init and precisions_init (or None)."""
        return self._check_initial_parameters(source.n_features)

    def _initial_state(self, source, random_state, inits):
        if all(p is not None for p in inits):
            # every parameter given: no rows are read (the source's would be drawn
            # from disk, or with missing values imputed, for nothing)
            return self._initial_parameters(None, None, random_state, inits)
        # each start draws its own rows (a subsample of a memmap or dask array)
        X0, w0 = source.init_data(random_state)
        return self._initial_parameters(X0, w0, random_state, inits)

    def _warm_state(self):
        return self._current_parameters()

    def _iterate(self, source, params, eps):
        """One EM iteration: the E-step pass, then the M-step; the lower bound is the
        mean log-likelihood under the parameters before the M-step."""
        stats = source.stats(params[0], params[1], params[3])
        params = self._m_step(stats, eps, source.dtype)
        return params, stats.L / stats.sum_w, stats

    def _end_fit(self, params, source, inits):
        self._set_parameters(params, source.dtype)

    def _source_model(self, source):
        return _inputs.model_for(self, source)

    def partial_fit(self, X, y=None, sample_weight=None, *,
                    step_size_power=_online.STEP_SIZE_POWER,
                    step_size_offset=_online.STEP_SIZE_OFFSET):
        """Update the model with one batch of samples (stepwise, online EM).

        Each call is one step of stepwise EM (Cappé & Moulines 2009; Liang & Klein
        2009). The model keeps running sufficient statistics ``s`` per unit of sample
        weight. A call computes the batch's statistics under the current parameters
        (one pass of the E-step kernel over the batch) and blends them in,

            s <- (1 - eta_t) * s + eta_t * stats(batch) / weight(batch),
            eta_t = (t + step_size_offset) ** -step_size_power,

        where t counts the updates made so far; the parameters are then the M-step
        of ``s`` (with ``reg_covar``). On stationary data the running statistics
        converge for ``step_size_power`` in (0.5, 1]; smaller powers keep forgetting
        old batches, which tracks a drifting stream.

        The first call on an unfitted model initialises from that batch, exactly as
        :meth:`fit` would (``init_params``, ``weights_init``, ``means_init``,
        ``precisions_init``, ``random_state``; a large batch initialises from a
        bounded random subsample, as fit does on a memmap), then makes update
        t = 0 with eta_0 = 1: the running statistics are the batch's. The batch
        must hold at least ``n_components`` samples. After :meth:`fit`,
        partial_fit continues from the fitted model: the statistics of fit's last
        E-step are the running statistics and the next update is t = 1.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of samples (also an np.memmap or a dask array). Its number of
            features must match the first batch's.
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the batch's samples; the batch enters the running
            statistics as its weighted mean, with weight eta_t, whatever its size.
        step_size_power : float in (0, 1], default=0.6
            The exponent alpha of the schedule.
        step_size_offset : float >= 0, default=2.0
            The offset t0 of the schedule (with the defaults, eta_1 = 0.52,
            eta_10 = 0.21, eta_100 = 0.064).

        Returns
        -------
        self : GaussianMixture
            The updated mixture.

        Notes
        -----
        The schedule is passed to each call rather than set in the constructor, so
        that ``get_params`` stays exactly scikit-learn's (clone, set_params and
        parameter grids behave as for :class:`sklearn.mixture.GaussianMixture`), and
        so that a stream can change its schedule between batches. One call makes one
        update: ``max_iter``, ``tol`` and ``n_init`` do not apply. After the call,
        ``lower_bound_`` is the batch's weighted mean log-likelihood under the
        parameters before the update, ``n_iter_`` the number of updates so far and
        ``converged_`` is False (stepwise EM has no convergence test).
        """
        _online.check_schedule(step_size_power, step_size_offset)
        first = not hasattr(self, "means_")
        if first:
            _validation.check_parameters(self)
        source = self._source(X, sample_weight, reset=first, ensure_min_samples=1)
        if getattr(source, "missing", False):
            raise ValueError(
                "partial_fit does not take missing values (NaN); fit the data with "
                "missing='marginalize', or impute the batch first (see impute).")
        eps = np.finfo(source.dtype).eps
        with blas_single_thread():
            if first:
                self._check_first_batch(source)
                inits = self._check_initial_parameters(source.n_features)
                random_state = check_random_state(self.random_state)
                X0, w0 = source.init_data(random_state)
                params = self._initial_parameters(X0, w0, random_state, inits)
                running, t = None, 0
            else:
                check_is_fitted(self)
                params = self._current_parameters()
                running, t = self._online_state()
            batch = source.stats(params[0], params[1], params[3])
            eta = _online.step_size(t, step_size_power, step_size_offset)
            running = _online.blend(
                running, _online.scaled(batch, 1.0 / batch.sum_w), eta,
                self._kernel_type,
            )
            params = self._m_step(running, eps, source.dtype)
        self._set_parameters(params, source.dtype)
        self._online_stats = running
        self._online_t = t + 1
        self.lower_bound_ = batch.L / batch.sum_w
        self.lower_bounds_ = [self.lower_bound_]
        self.n_iter_ = t + 1
        self.converged_ = False
        return self

    def _check_initial_parameters(self, n_features):
        K = self.n_components
        weights = means = precisions = None
        if self.weights_init is not None:
            weights = _validation.check_weights_init(self.weights_init, K)
        if self.means_init is not None:
            means = _validation.check_means_init(self.means_init, K, n_features)
        if self.precisions_init is not None:
            precisions = _validation.check_precisions_init(
                self.precisions_init, self._kernel_type, K, n_features
            )
        return weights, means, precisions

    def _initial_parameters(self, X, w, random_state, inits):
        """(weights, means, covariances, precisions_cholesky) in float64; X and w, the
        rows to start from, are None when every parameter is given."""
        weights_init, means_init, precisions_init = inits
        cov_type = self._kernel_type
        # a new start for the iterative M-steps too: each initialisation, and each
        # fit, starts them where mclust does
        self._mclust_state = None
        weights = means = cov = None
        if weights_init is None or means_init is None or precisions_init is None:
            kind, assign = _init.initial_assignments(
                X, w, self.n_components, self.init_params, random_state,
                n_threads=self.n_threads,
            )
            nk, means, cov = _init.parameters_from_assignments(
                X, w, kind, assign, self.n_components, cov_type, self.reg_covar
            )
            weights = nk / (X.shape[0] if w is None else w.sum())
            cov = self._constrain(nk, cov)
        if weights_init is not None:
            weights = weights_init
        if means_init is not None:
            means = means_init
        if precisions_init is None:
            prec_chol = _mstep.precision_cholesky(
                cov, cov_type, reg_covar=self.reg_covar, dtype=X.dtype
            )
        else:
            prec_chol = _mstep.precision_cholesky_from_precisions(precisions_init, cov_type)
            cov = _mstep.covariances_from_cholesky(prec_chol, cov_type)
        return weights, means, cov, prec_chol

    def _m_step(self, stats, eps, dtype):
        weights, means, cov = _mstep.m_step(
            stats, self._kernel_type, self.reg_covar, eps
        )
        cov = self._constrain(stats.N + 10 * eps, cov)
        # precision_cholesky uses the threads only for enough work (factor_threads)
        try:
            prec_chol = _mstep.precision_cholesky(
                cov, self._kernel_type, reg_covar=self.reg_covar, dtype=dtype,
                n_threads=effective_n_threads(self.n_threads),
            )
        except ValueError:
            _mstep.check_sums(stats)   # overflowed sums, not a collapse: say so
            raise
        return weights, means, cov, prec_chol

    @property
    def _kernel_type(self):
        """The scikit-learn type whose kernel layout the model's densities use."""
        return _mclust_models.kernel_type(self.covariance_type)

    def _constrain(self, nk, cov):
        """The covariances of a constrained mclust model from the kernel type's
        unconstrained estimates (unchanged for the others)."""
        if not _mclust_models.is_constrained(self.covariance_type):
            return cov
        cov, self._mclust_state = _mclust_models.constrain(
            self.covariance_type, nk, cov, getattr(self, "_mclust_state", None))
        return cov

    def _current_parameters(self):
        return tuple(
            np.asarray(a, dtype=np.float64)
            for a in (self.weights_, self.means_, self.covariances_,
                      self.precisions_cholesky_)
        )

    def _set_parameters(self, params, dtype):
        weights, means, cov, prec_chol = (np.asarray(a, dtype=dtype) for a in params)
        precisions = _mstep.precisions_from_cholesky(prec_chol, self._kernel_type)
        _validation.check_representable(cov, precisions, self._kernel_type, dtype)
        self.weights_ = weights
        self.means_ = means
        self.covariances_ = cov
        self.precisions_cholesky_ = prec_chol
        self.precisions_ = precisions
        if self.covariance_type in _mclust_models.MODELS:
            self.volumes_, self.shapes_, self.orientations_ = (
                a.astype(dtype) for a in _mclust_models.decomposition(
                    self.covariance_type, cov, *means.shape))

    # ---------------------------------------------------------------- inference

    def _kernel_model(self, dtype):
        return _estep.KernelModel(
            self._kernel_type, self.weights_, self.means_,
            self.precisions_cholesky_, dtype,
        )

    def _per_sample(self, X, **wanted):
        """(source, outputs): per-sample outputs of in-memory or piecewise-read X."""
        check_is_fitted(self)
        # NaN and infinity checked by the kernel as it reads X, not by a pass of its own
        source = self._source(X, None, reset=False, defer_finite=True)
        with blas_single_thread(self._kernel_type, source.n_features):
            return source, source.per_sample(_inputs.model_for(self, source), **wanted)

    def _lazy(self, X, what):
        """Per-sample outputs of a dask array, as a lazy dask array (map_blocks)."""
        check_is_fitted(self)
        if _inputs.missing_mode(self) == "marginalize":
            from . import _missing_dask

            return _missing_dask.per_sample_lazy(self, X, what)
        from . import _dask

        return _dask.per_sample_lazy(self, X, what)

    def score_samples(self, X):
        """Log-likelihood of each sample under the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One sample per row. An np.memmap is read piece by piece; a dask array
            gives a lazy dask array, computed chunk by chunk where the chunks live.

        Returns
        -------
        log_prob : ndarray (or dask array) of shape (n_samples,)
            ``log p(x)`` of each sample, in X's float dtype.
        """
        if _inputs.is_dask_array(X):
            return self._lazy(X, "lse")
        source, (lse,) = self._per_sample(X, lse=True)
        return lse.astype(source.dtype, copy=False)

    def score(self, X, y=None, sample_weight=None):
        """Mean log-likelihood of the samples of X under the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One sample per row (also an np.memmap, read piece by piece without an
            n_samples-sized array, or a dask array, computed now).
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples: the weighted mean
            ``sum_i w_i log p(x_i) / sum_i w_i`` is returned.

        Returns
        -------
        log_likelihood : float
            Mean (or weighted mean) of ``score_samples(X)``: of ``log p(x)`` in X's
            dtype. Unweighted and in memory it is ``score_samples(X).mean()``, as in
            scikit-learn (for float32 X a float32 mean); read piece by piece, from
            dask, or weighted, the same values are summed in float64.
        """
        check_is_fitted(self)
        if _inputs.is_dask_array(X) or _inputs.is_dask_array(sample_weight):
            if _inputs.missing_mode(self) == "marginalize":
                from . import _missing_dask

                return _missing_dask.dask_score(self, X, sample_weight)
            from . import _dask

            return _dask.score(self, X, sample_weight)
        # a weighted mean: the weights' scale is irrelevant, and scaled as fit scales
        # them its sums neither overflow (weights of 1e307) nor lose digits (1e-320)
        source = self._source(X, _validation.relative_weights(sample_weight),
                              reset=False, defer_finite=True)
        model = _inputs.model_for(self, source)
        with blas_single_thread(self._kernel_type, source.n_features):
            if isinstance(source, _sources.ChunkedSource):
                return source.weighted_score(model, source.w)
            (lse,) = source.per_sample(model, lse=True)
        # scikit-learn's definition: the mean of score_samples(X), of its values in
        # X's dtype; unweighted, numpy's mean of that array, as scikit-learn takes it
        if source.w is None:
            return float(lse.astype(source.dtype, copy=False).mean())
        samples = _sources.as_score_samples(lse, source.dtype)
        return float(source.w @ samples / source.w.sum())

    def predict(self, X):
        """Label of each sample: its most probable component.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One sample per row. An np.memmap is read piece by piece; a dask array
            gives a lazy dask array.

        Returns
        -------
        labels : ndarray (or dask array) of shape (n_samples,)
            Component labels.
        """
        if _inputs.is_dask_array(X):
            return self._lazy(X, "labels")
        _, (labels,) = self._per_sample(X, labels=True)
        return labels

    def predict_proba(self, X):
        """Posterior probability of each component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One sample per row. An np.memmap is read piece by piece; a dask array
            gives a lazy dask array.

        Returns
        -------
        resp : ndarray (or dask array) of shape (n_samples, n_components)
            Responsibilities; each row sums to 1.
        """
        if _inputs.is_dask_array(X):
            return self._lazy(X, "resp")
        _, (resp,) = self._per_sample(X, resp=True)
        return resp

    def sample(self, n_samples=1):
        """Draw random samples from the fitted mixture.

        Uses ``random_state`` exactly as scikit-learn does, so both draw the same
        samples from the same model.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate (at least 1).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The samples, grouped by component.
        y : ndarray of shape (n_samples,)
            The component each sample was drawn from.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
            raise TypeError(f"n_samples must be an int, got {n_samples!r}.")
        if n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples}. The sampling requires at "
                "least one sample."
            )
        _, n_features = self.means_.shape
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, np.asarray(self.weights_, dtype=np.float64))
        means = np.asarray(self.means_, dtype=np.float64)
        cov = np.asarray(self.covariances_, dtype=np.float64)
        if self._kernel_type == "full":
            parts = [rng.multivariate_normal(m, c, int(n)) for m, c, n in zip(means, cov, counts)]
        elif self._kernel_type == "tied":
            parts = [rng.multivariate_normal(m, cov, int(n)) for m, n in zip(means, counts)]
        else:
            parts = [
                m + rng.standard_normal(size=(n, n_features)) * np.sqrt(c)
                for m, c, n in zip(means, cov, counts)
            ]
        y = np.concatenate([np.full(int(n), k, dtype=np.int64) for k, n in enumerate(counts)])
        return np.vstack(parts).astype(np.float64), y

    # ------------------------------------------------------------- conditioning

    def condition(self, features, values):
        """The mixture of the other features given the values of ``features``.

        A Gaussian mixture over (x_O, x_M) gives p(x_M | x_O) in closed form: a
        Gaussian mixture whose weights are the posterior probabilities of the
        components given x_O, whose means are affine in x_O and whose covariances do
        not depend on x_O (Gaussian mixture regression).

        Parameters
        ----------
        features : array-like of int, or boolean mask of shape (n_features_in_,)
            The given features O (at least one, not all).
        values : array-like of shape (len(features),) or (n_rows, len(features))
            Their values, in the order of ``features``; finite.

        Returns
        -------
        mixture : GaussianMixture or ConditionalMixture
            For one point (1-D ``values``), a fitted GaussianMixture over the
            remaining features, in increasing order (``sample``,
            ``score_samples``, ... apply). For 2-D ``values``, a
            ``ConditionalMixture``: ``weights_`` (n_rows, n_components),
            ``means_`` (n_rows, n_components, n_remaining), ``covariances_``, with
            ``mean()``, ``covariance()``, ``std()``, ``sample()`` and row access.
        """
        check_is_fitted(self)
        from . import _conditioning

        return _conditioning.condition(self, features, values)

    def impute(self, X, method="mean", random_state=None):
        """X with its missing entries (NaN) filled from the mixture.

        Each row's missing features are filled given its observed ones: with their
        conditional mean E[x_M | x_O] (``method='mean'``), or with a draw from
        p(x_M | x_O) (``method='sample'``: a component drawn from its posterior
        given x_O, then the conditional Gaussian). A row with no observed feature
        gets the mixture's mean (or a draw from the mixture).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The data, NaN marking missing entries; infinity is refused.
        method : {'mean', 'sample'}, default='mean'
        random_state : int, RandomState instance or None, default=None
            Seeds the draws of ``method='sample'``.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features)
            A copy of X (in its float dtype) without NaN.
        """
        check_is_fitted(self)
        from . import _conditioning

        return _conditioning.impute(self, X, method=method, random_state=random_state)
