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

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, gammaln

PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
_LOG_2PI = math.log(2 * math.pi)


@dataclass
class Posterior:
    """The variational parameters of one iterate, in float64.

    concentration: (a, b) of the stick-breaking Betas ('dirichlet_process') or the
    Dirichlet's alpha; beta: mean precisions (K,); means (K, D); nu: degrees of
    freedom, (K,) or a float ('tied'); covariances and prec_chol: scikit-learn's
    ``covariances_`` and ``precisions_cholesky_``; nk: the counts they came from.
    """

    concentration: object
    beta: np.ndarray
    means: np.ndarray
    nu: object
    covariances: np.ndarray
    prec_chol: np.ndarray
    nk: np.ndarray


def expected_log_weights(concentration, prior_type):
    """E[log pi_k] under the weights' posterior (K,)."""
    if prior_type == "dirichlet_process":
        a, b = concentration
        log_total = digamma(a + b)
        # E[log v_k] + sum_{j<k} E[log(1 - v_j)] of the stick-breaking fractions v
        rest = np.cumsum(digamma(b) - log_total)
        return digamma(a) - log_total + np.concatenate(([0.0], rest[:-1]))
    return digamma(concentration) - digamma(np.sum(concentration))


def mean_weights(concentration, prior_type):
    """The posterior mean of the weights, normalised (scikit-learn's ``weights_``)."""
    if prior_type == "dirichlet_process":
        a, b = concentration
        total = a + b
        left = np.concatenate(([1.0], np.cumprod(b / total)[:-1]))
        weights = a / total * left
        return weights / np.sum(weights)
    return concentration / np.sum(concentration)


def log_det_cholesky(prec_chol, covariance_type, n_features):
    """log |U_k| per component ((K,), or a float for 'tied')."""
    if covariance_type == "full":
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return float(np.log(np.diag(prec_chol)).sum())
    if covariance_type == "diag":
        return np.log(prec_chol).sum(axis=1)
    return n_features * np.log(prec_chol)


def sum_digamma_half(nu, n_features):
    """sum_{j<D} digamma((nu - j) / 2), per entry of nu."""
    nu = np.atleast_1d(np.asarray(nu, dtype=np.float64))
    return digamma(0.5 * (nu[None, :] - np.arange(n_features)[:, None])).sum(axis=0)


def log_weight_constants(post, prior_type, n_features):
    """c_k (K,): the E-step's per-component constant apart from the Gaussian's
    normalisation through U_k, which the kernel adds (see the module docstring)."""
    D = n_features
    nu = post.nu
    return (expected_log_weights(post.concentration, prior_type)
            + 0.5 * (D * math.log(2.0) + sum_digamma_half(nu, D))
            - 0.5 * D * np.log(nu) - 0.5 * D / post.beta)


def resp_entropy_sum(stats, log_weights, means, prec_chol, covariance_type):
    """sum_i w_i sum_k r_ik log r_ik from the E-step's statistics.

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
    """
    K, D = means.shape
    a = log_weights - 0.5 * D * _LOG_2PI + np.atleast_1d(
        log_det_cholesky(prec_chol, covariance_type, D))
    N, S1, S2 = stats.N, stats.S1, stats.S2
    delta = stats.shift - means                       # (K, D)
    if covariance_type == "full":
        cross = np.einsum("ki,kj->kij", S1, delta)
        S = S2 + cross + np.swapaxes(cross, 1, 2) + N[:, None, None] * np.einsum(
            "ki,kj->kij", delta, delta)
        P = np.matmul(prec_chol, np.swapaxes(prec_chol, 1, 2))
        trace = np.einsum("kij,kij->", P, S)
    elif covariance_type == "tied":
        cross = S1.T @ delta
        S = S2 + cross + cross.T + (N[:, None] * delta).T @ delta
        trace = np.einsum("ij,ij->", prec_chol @ prec_chol.T, S)
    elif covariance_type == "diag":
        trace = np.sum(prec_chol ** 2 * (S2 + 2.0 * delta * S1 + N[:, None] * delta ** 2))
    else:
        moved = S2 + 2.0 * np.einsum("kd,kd->k", delta, S1) + N * np.einsum(
            "kd,kd->k", delta, delta)
        trace = np.sum(prec_chol ** 2 * moved)
    return float(N @ a - 0.5 * trace - stats.L)


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
    n = stats.sum_w
    shift = stats.shift[0] if kind == "full" else stats.shift
    d = stats.S1[0]
    mean = shift + d / n
    if kind == "full":
        scatter = stats.S2[0] - np.outer(d, d) / n
    else:
        scatter = stats.S2[0] - d * d / n
    return n, mean, scatter


def update_posterior(priors, nk, xk, sk, covariance_type, prior_type):
    """(concentration, beta, means, nu, covariances): the variational M-step, the
    priors updated by the counts nk, the means xk and the covariances sk of the data's
    responsibilities (scikit-learn's formulas: Bishop 2006, eqs. 10.58-10.63, with the
    covariance normalised by nu_k)."""
    p = priors
    cov_type = covariance_type
    K = len(nk)
    if prior_type == "dirichlet_process":
        # b_k = gamma + sum_{j>k} nk_j
        tail = np.concatenate((np.cumsum(nk[::-1])[::-1][1:], [0.0]))
        concentration = (1.0 + nk, p.weight_concentration + tail)
    else:
        concentration = p.weight_concentration + nk
    beta = p.mean_precision + nk
    means = (p.mean_precision * p.mean + nk[:, None] * xk) / beta[:, None]
    diff = xk - p.mean
    shrink = p.mean_precision / beta                # beta_0 / beta_k
    if cov_type == "full":
        nu = p.degrees_of_freedom + nk
        cov = p.covariance + nk[:, None, None] * sk + (nk * shrink)[:, None, None] \
            * np.einsum("ki,kj->kij", diff, diff)
        cov /= nu[:, None, None]
    elif cov_type == "tied":
        nu = p.degrees_of_freedom + nk.sum() / K
        cov = p.covariance + sk * (nk.sum() / K) \
            + p.mean_precision / K * ((nk / beta) * diff.T) @ diff
        cov /= nu
    elif cov_type == "diag":
        nu = p.degrees_of_freedom + nk
        cov = p.covariance + nk[:, None] * (sk + shrink[:, None] * diff ** 2)
        cov /= nu[:, None]
    else:
        nu = p.degrees_of_freedom + nk
        cov = p.covariance + nk * (sk + shrink * np.mean(diff ** 2, axis=1))
        cov /= nu
    return concentration, beta, means, nu, cov


def lower_bound(post, entropy, covariance_type, prior_type):
    """scikit-learn's lower bound (its constant terms removed) from the new posterior
    and sum_i w_i sum_k r_ik log r_ik of the E-step before it."""
    D = post.means.shape[1]
    nu = post.nu
    # log|U| of the Wishart scale W_k = P_k / nu_k
    log_det = log_det_cholesky(post.prec_chol, covariance_type, D) \
        - 0.5 * D * np.log(nu)
    log_wishart_norm = -(nu * log_det + nu * D * 0.5 * math.log(2.0)
                         + sum_gammaln_half(nu, D))
    if covariance_type == "tied":
        log_wishart = len(post.beta) * float(np.sum(log_wishart_norm))
    else:
        log_wishart = float(np.sum(log_wishart_norm))
    if prior_type == "dirichlet_process":
        log_norm_weight = -float(np.sum(betaln(*post.concentration)))
    else:
        alpha = post.concentration
        log_norm_weight = float(gammaln(np.sum(alpha)) - np.sum(gammaln(alpha)))
    return float(-entropy - log_wishart - log_norm_weight
                 - 0.5 * D * np.sum(np.log(post.beta)))


def source_weight(source):
    """sum of the sample weights of a stats source (its number of rows, unweighted)."""
    if source.w is None:
        return float(source.n_samples)
    w = source.w
    total = w.sum()
    return float(total.compute() if hasattr(total, "compute") else total)


def sum_gammaln_half(nu, n_features):
    """sum_{j<D} gammaln((nu - j) / 2), per entry of nu."""
    nu = np.atleast_1d(np.asarray(nu, dtype=np.float64))
    return gammaln(0.5 * (nu[None, :] - np.arange(n_features)[:, None])).sum(axis=0)
