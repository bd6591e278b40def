"""The maths of BayesianGaussianMixture's variational inference, on the kernels of
GaussianMixture.

The model (Bishop 2006, ch. 10.2; Blei & Jordan 2006 for the Dirichlet process) and its
parametrisation are scikit-learn's: a Dirichlet distribution or a truncated
stick-breaking Dirichlet process on the weights, a Gaussian-Wishart on each component's
mean and precision, with ``covariances_`` the Wishart scale's inverse divided by the
degrees of freedom, so that ``precisions_cholesky_`` U_k factors nu_k W_k.

One variational iteration is the plain mixture's EM iteration with other constants:

- E-step: the weighted log-probability is

      lp_ik = c_k - 0.5 ||(x_i - m_k) U_k||^2 + sum_j log U_k,jj - 0.5 D log 2pi,
      c_k   = E[log pi_k] + 0.5 (D log 2 + sum_{j<D} digamma((nu_k - j) / 2))
              - 0.5 D log nu_k - 0.5 D / beta_k,

  i.e. the plain mixture's with c_k in place of log w_k (``_estep.KernelModel``'s
  ``log_weights``), so the same kernel routes give N_k, S1_k, S2_k and
  L = sum_i w_i lse_i in one pass, with no N x K array.
- the lower bound needs sum_i w_i sum_k r_ik log r_ik: since log r_ik = lp_ik - lse_i,
  it follows from the same statistics (``resp_entropy_sum``).
- M-step: scikit-learn's nk, xk, sk are the plain mixture's M-step of those statistics
  (``_mstep.m_step``: about their shift, never raw moments about zero); the priors
  are then added in float64 (``update_posterior``).
"""

from dataclasses import dataclass

import numpy as np

from . import _kernels, _mstep
from ._threads import effective_n_threads
from ._estep import COV_CODES as _COV_KIND

PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

#: The moment rows' entropy sum (vb_moment_entropy) runs on threads from this many
#: products on: below it (digits' K = 140, D = 41 is 1.2e5) a second thread saves
#: less than a parallel region can wait, on a busy machine, for a thread the
#: scheduler has put aside (bench/results/bayesian.md).
MIN_ENTROPY_PRODUCTS_THREADED = 2**18


def _rows(a, covariance_type):
    """A per-component array flattened as the compiled steps read it: one row per
    component ('tied': one row), float64 and C-contiguous."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    n_rows = 1 if covariance_type == "tied" else a.shape[0]
    return a.reshape(n_rows, -1)


@dataclass
class Posterior:
    """The variational parameters of one iterate, in float64.

    concentration: (a, b) of the stick-breaking Betas ('dirichlet_process') or the
    Dirichlet's alpha; beta: mean precisions (K,); means (K, D); nu: degrees of
    freedom, (K,) or a float ('tied'); covariances and prec_chol: scikit-learn's
    ``covariances_`` and ``precisions_cholesky_``; nk: the counts they came from.

    ``derive`` adds what they give the next E-step and the lower bound: log_weights
    (c_k, the module docstring's), weights (the posterior mean of the weights,
    normalised: ``weights_``) and bound_terms (the lower bound apart from the
    responsibilities' entropy).
    """

    concentration: object
    beta: np.ndarray
    means: np.ndarray
    nu: object
    covariances: np.ndarray
    prec_chol: np.ndarray
    nk: np.ndarray
    log_weights: np.ndarray = None
    weights: np.ndarray = None
    bound_terms: tuple = None

    def derive(self, covariance_type, prior_type):
        """Set log_weights, weights and bound_terms from the parameters; return self."""
        stick = prior_type == "dirichlet_process"
        a, b = self.concentration if stick else (self.concentration, self.concentration)
        nu = np.atleast_1d(np.asarray(self.nu, dtype=np.float64))
        self.log_weights, self.weights, *terms = _kernels.vb_constants(
            _COV_KIND[covariance_type], stick, np.ascontiguousarray(a, dtype=np.float64),
            np.ascontiguousarray(b, dtype=np.float64),
            np.ascontiguousarray(self.beta, dtype=np.float64), nu,
            _rows(self.prec_chol, covariance_type), self.means.shape[1])
        self.bound_terms = tuple(terms)
        return self


def resp_entropy_sum(stats, log_weights, means, prec_chol, covariance_type, n_threads=1):
    """sum_i w_i sum_k r_ik log r_ik from the E-step's statistics (compiled:
    ``_kernels.vb_entropy``).

    With q_ik = ||(x_i - m_k) U_k||^2 and the kernel's lp_ik = a_k - 0.5 q_ik
    (a_k = c_k + log|U_k| - 0.5 D log 2pi), log r_ik = lp_ik - lse_i and sum_k r_ik = 1:

        sum_ik w_i r_ik log r_ik = sum_k N_k a_k - 0.5 sum_k tr(P_k S_k) - L,

    P_k = U_k U_k^T and S_k = sum_i w_i r_ik (x_i - m_k)(x_i - m_k)^T, moved from the
    statistics' shift s to m_k with delta = s - m_k:
    S_k = S2_k + S1_k delta^T + delta S1_k^T + N_k delta delta^T. 'tied' statistics
    hold the data's scatter, not S_k, but P is shared: sum_k tr(P S_k) = tr(P sum_k
    S_k), and sum_k S_k is that scatter moved per component.

    Rounding: the three terms are sums of w_i times O(|lp_ik| + D) numbers and the
    result can be near 0 (well separated components), so its absolute error is a few
    eps times sum_i w_i (|a| + D + |lse_i|), plus, about a shared shift c, eps times
    the spread (|m_k - c| / sigma_k)^2 of the moments (as for the covariances); the
    lower bound it enters is of the same order as those sums, so this costs ~1e-15 of
    the bound in float64 (the test against a direct sum over an N x K array measures
    it). In float32 the kernel's lse carries float32 products (~1e-7 relative).

    n_threads: the estimator's, for the K traces of a large 'full' model (the same
    result on any number).
    """
    cov = covariance_type
    D = means.shape[1]
    K = means.shape[0]
    threads = _mstep.factor_threads(effective_n_threads(n_threads), K, D) \
        if cov == "full" else 1
    W = stats.moment_weights
    if W is not None:
        # taken with the moment rows: their weights are the model's log-densities, so
        # sum_ik w_i r_ik lp_ik is W . [S2 (a >= b), S1, N] (SuffStats), K (D^2/2 + D)
        # products instead of the K traces' D^3 each (compiled, read in place from S2:
        # a gather of its lower triangle and three numpy reductions cost several
        # times as much at K = 140, D = 41). The rounding is that of the moment rows'
        # E-step itself: eps times the spread about c.
        products = K * (D * (D + 1) // 2 + D)
        return _kernels.vb_moment_entropy(
            W, stats.N, stats.S1, stats.S2, float(stats.L),
            threads if products >= MIN_ENTROPY_PRODUCTS_THREADED else 1)
    # the statistics and the posterior are float64 and C-contiguous as made (a view
    # that is not fails the call's buffer check, never reads wrong memory)
    return _kernels.vb_entropy(
        _COV_KIND[cov], stats.N, stats.S1, _rows(stats.S2, cov),
        stats.shift.reshape(-1, D), log_weights, means, _rows(prec_chol, cov),
        float(stats.L), threads)


@dataclass
class Priors:
    """The priors of one fit, in float64 (scikit-learn's ``*_prior_`` attributes)."""

    weight_concentration: float
    mean_precision: float
    mean: np.ndarray
    degrees_of_freedom: float
    covariance: object


def sibling_source(source, covariance_type, n_components):
    """A stats source over the same data and weights for another kind of model."""
    if hasattr(source, "_check_finite"):   # the sibling reads X as checked
        source._check_finite()
    return type(source)(source.X, source.w, covariance_type, n_components,
                        source.n_threads)


def data_moments(source, X0, w0, covariance_type):
    """(sum of weights, weighted mean, weighted scatter about it) of all of the data.

    One pass of the kernels with a one-component model ('full' for the full and tied
    scatter, 'diag' for the per-feature one), whose statistics are sum_i w_i,
    sum_i w_i (x_i - s) and the second moments about s; s is the (weighted) mean of
    the rows ``X0`` that initialise the fit, all of X in memory, so the moments are
    taken about a point near the mean, never about zero. The unit precision is scaled
    by X0's spread so that the one-component log-density stays finite.
    """
    kind = "full" if covariance_type in ("full", "tied") else "diag"
    X0 = np.asarray(X0, dtype=np.float64)
    w = np.ones(len(X0)) if w0 is None else w0
    m0 = (w @ X0) / w.sum()
    with np.errstate(over="ignore", invalid="ignore"):
        sd = np.sqrt((w @ (X0 - m0) ** 2) / w.sum())
    sd[~(np.isfinite(sd) & (sd > 0))] = 1.0
    U = np.diag(1.0 / sd)[None] if kind == "full" else (1.0 / sd)[None]
    stats = sibling_source(source, kind, 1).stats(np.ones(1), m0[None], U)
    _mstep.check_sums(stats)   # d d^T / n below
    n = stats.sum_w
    shift = stats.shift[0] if kind == "full" else stats.shift
    d = stats.S1[0]
    mean = shift + d / n
    if kind == "full":
        scatter = stats.S2[0] - np.outer(d, d) / n
    else:
        scatter = stats.S2[0] - d * d / n
    return n, mean, scatter


def update_posterior(priors, nk, xk, sk, covariance_type, prior_type, *, reg_covar,
                     dtype, n_threads=None):
    """The variational M-step: the priors updated by the counts nk, the means xk and
    the covariances sk of the data's responsibilities (scikit-learn's formulas: Bishop
    2006, eqs. 10.58-10.63, with the covariance normalised by nu_k), factorised, and
    derived (``Posterior.derive``): one compiled call, ``_kernels.vb_update``.

    Raises ValueError naming the component whose covariance is not positive definite
    (or whose precision overflows ``dtype``), as the plain mixture's M-step does.
    n_threads: the estimator's, for the factorisations of a large 'full' model.
    """
    p = priors
    cov = covariance_type
    K, D = xk.shape
    stick = prior_type == "dirichlet_process"
    threads = _mstep.factor_threads(effective_n_threads(n_threads), K, D) \
        if cov == "full" else 1
    (a, b, beta, means, nu, covariances, prec_chol, failed, log_weights, weights,
     *terms) = _kernels.vb_update(
        _COV_KIND[cov], stick, p.weight_concentration, p.mean_precision,
        np.ascontiguousarray(p.mean, dtype=np.float64), p.degrees_of_freedom,
        np.ascontiguousarray(p.covariance, dtype=np.float64).reshape(-1),
        nk, xk, _rows(sk, cov),
        _mstep._SQRT_MAX[np.dtype(dtype)], threads)
    if failed >= 0:
        raise ValueError(_mstep._collapse_message(failed, cov, reg_covar, K, dtype))
    return Posterior((a, b) if stick else a, beta, means,
                     float(nu[0]) if cov == "tied" else nu, covariances, prec_chol, nk,
                     log_weights, weights, tuple(terms))


def update_posterior_from_stats(priors, stats, prior_type, *, reg_covar, eps, dtype,
                                n_threads=None):
    """'full': the plain mixture's M-step of one E-step's statistics (``_mstep.
    m_step_moments``) followed by ``update_posterior``, with the same numbers to the
    bit, in one compiled call (``_kernels.vb_update_full``): each component goes from
    its statistics to its factor on one thread, where the two steps would run the
    M-step serially and pass K D x D arrays between them (with many components a
    measurable part of the iteration: bench/results/bayesian.md).

    eps: machine epsilon of the data's dtype (the counts' 10 eps guard). Raises as
    update_posterior does.
    """
    p = priors
    K, D = stats.S1.shape
    stick = prior_type == "dirichlet_process"
    threads = _mstep.factor_threads(effective_n_threads(n_threads), K, D)
    c64 = np.ascontiguousarray
    (nk, a, b, beta, means, nu, covariances, prec_chol, failed, log_weights, weights,
     *terms) = _kernels.vb_update_full(
        stick, p.weight_concentration, p.mean_precision, c64(p.mean, dtype=np.float64),
        p.degrees_of_freedom, c64(p.covariance, dtype=np.float64).reshape(-1),
        c64(stats.N, dtype=np.float64), c64(stats.S1, dtype=np.float64),
        c64(stats.S2, dtype=np.float64), c64(stats.shift, dtype=np.float64),
        float(reg_covar), float(eps), _mstep._SQRT_MAX[np.dtype(dtype)], threads)
    if failed >= 0:
        _mstep.check_sums(stats)   # overflowed sums, not a collapse: say so
        raise ValueError(_mstep._collapse_message(failed, "full", reg_covar, K, dtype))
    return Posterior((a, b) if stick else a, beta, means, nu, covariances, prec_chol, nk,
                     log_weights, weights, tuple(terms))


def lower_bound(post, entropy):
    """scikit-learn's lower bound (its constant terms removed) from a derived
    posterior (``Posterior.derive``) and sum_i w_i sum_k r_ik log r_ik of the E-step
    before it."""
    log_wishart, log_norm_weight, half_d_log_beta = post.bound_terms
    return float(-entropy - log_wishart - log_norm_weight - half_d_log_beta)


def source_weight(source):
    """sum of the sample weights of a stats source (its number of rows, unweighted)."""
    if source.w is None:
        return float(source.n_samples)
    w = source.w
    total = w.sum()
    return float(total.compute() if hasattr(total, "compute") else total)
