"""What GaussianMixture and BayesianGaussianMixture share: the fit loop around their
iterations (``n_init`` starts, the convergence test, the best start kept, warnings,
the running statistics a later ``partial_fit`` continues from), the checks of a first
``partial_fit`` batch, and scikit-learn's verbose messages.

The loop is the same for both estimators; what an iteration is differs. A subclass
supplies it through five hooks:

- ``_check_fit_parameters()``: validate the constructor's parameters;
- ``_begin_fit(source, random_state)`` -> context, once per fit, before any start;
- ``_initial_state(source, random_state, context)`` -> state, once per start;
- ``_warm_state()`` -> state, the fitted model as a start (``warm_start``);
- ``_iterate(source, state, eps)`` -> (state, lower_bound, stats): one E-step pass of
  the kernels and the M-step after it; ``lower_bound`` is what the convergence test
  follows and ``stats`` the pass's sufficient statistics;
- ``_end_fit(state, source, context)``: set the fitted attributes from the best state.

A state is whatever the subclass iterates on (GaussianMixture: a parameter tuple;
BayesianGaussianMixture: the variational posterior).
"""

import warnings
from time import time

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from . import _online
from ._threads import blas_single_thread


class MixtureFitLoop:
    """The EM (or variational) fit loop of both estimators; see the module docstring."""

    def _fit(self, X, sample_weight, want_labels):
        self._check_fit_parameters()
        source = self._source(X, sample_weight, reset=True, ensure_min_samples=2)
        if source.n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {source.n_samples}; lower "
                "n_components or fit on more samples"
            )
        eps = np.finfo(source.dtype).eps
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        random_state = check_random_state(self.random_state)

        best = best_stats = None
        max_lower_bound = -np.inf
        best_lower_bounds = []
        converged_best = False
        best_n_iter = 0
        with blas_single_thread(self._kernel_type, source.n_features, source.n_samples):
            context = self._begin_fit(source, random_state)
            for init in range(n_init):
                self._print_verbose_msg_init_beg(init)
                if do_init:
                    state = self._initial_state(source, random_state, context)
                else:
                    state = self._warm_state()
                lower_bound = -np.inf if do_init else self.lower_bound_
                lower_bounds = []
                converged = False
                stats = None
                n_iter = 0
                for n_iter in range(1, self.max_iter + 1):
                    prev_lower_bound = lower_bound
                    state, lower_bound, stats = self._iterate(source, state, eps)
                    lower_bounds.append(lower_bound)
                    change = lower_bound - prev_lower_bound
                    self._print_verbose_msg_iter_end(n_iter, change)
                    if abs(change) < self.tol:
                        converged = True
                        break
                if self.max_iter == 0:
                    if best is None:
                        best, best_n_iter = state, 0
                    continue
                self._print_verbose_msg_init_end(lower_bound, converged)
                if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
                    max_lower_bound = lower_bound
                    best, best_n_iter = state, n_iter
                    best_stats = stats
                    best_lower_bounds = lower_bounds
                    converged_best = converged

        if not converged_best and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        self._end_fit(best, source, context)
        self.converged_ = converged_best
        self.n_iter_ = best_n_iter
        self.lower_bound_ = max_lower_bound
        self.lower_bounds_ = best_lower_bounds
        # a later partial_fit continues from here: the fitted model is the M-step of
        # these statistics (per unit weight), and the next step is t = 1. Statistics of
        # data with missing values (_missing) are about each component's mean, not
        # what partial_fit blends: it then restarts from its first batch
        if best_stats is None or getattr(source, "missing", False):
            self._online_stats = None
        else:
            self._online_stats = _online.scaled(best_stats, 1.0 / best_stats.sum_w)
        self._online_t = 0 if self._online_stats is None else 1
        if not want_labels:
            return None
        # labels from the stored parameters, exactly as predict computes them
        if getattr(source, "lazy", False):
            return self._lazy(source.X, "labels")
        with blas_single_thread(self._kernel_type, source.n_features):
            (labels,) = source.per_sample(self._source_model(source), labels=True)
        return labels

    def _source_model(self, source):
        """The fitted model as ``source``'s kernel passes read it."""
        return self._kernel_model(source.dtype)

    def _check_first_batch(self, source):
        """The first partial_fit batch initialises the model: it needs K rows."""
        if source.n_samples < self.n_components:
            raise ValueError(
                "The first batch given to partial_fit initialises the model and "
                f"needs at least n_components = {self.n_components} samples, got "
                f"{source.n_samples}."
            )

    def _online_state(self):
        """(running statistics per unit weight or None, the next step t)."""
        running = getattr(self, "_online_stats", None)
        return running, (getattr(self, "_online_t", 0) if running is not None else 0)

    # ------------------------------------------------------------------ verbose

    def _print_verbose_msg_init_beg(self, n_init):
        if self.verbose >= 1:
            print("Initialization %d" % n_init)
        if self.verbose >= 2:
            self._init_prev_time = time()
            self._iter_prev_time = self._init_prev_time

    def _print_verbose_msg_iter_end(self, n_iter, diff_ll):
        if n_iter % self.verbose_interval == 0:
            if self.verbose == 1:
                print("  Iteration %d" % n_iter)
            elif self.verbose >= 2:
                cur_time = time()
                print(
                    "  Iteration %d\t time lapse %.5fs\t ll change %.5f"
                    % (n_iter, cur_time - self._iter_prev_time, diff_ll)
                )
                self._iter_prev_time = cur_time

    def _print_verbose_msg_init_end(self, lb, converged):
        msg = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {msg}.")
        elif self.verbose >= 2:
            t = time() - self._init_prev_time
            print(f"Initialization {msg}. time lapse {t:.5f}s\t lower bound {lb:.5f}.")
