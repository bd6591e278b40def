"""The compiled steps of the variational iteration (_kernels.vb_update, vb_constants,
vb_entropy, through _variational) against the formulas written out with scipy, and
their failures.

Tolerance: the same formulas in float64, summed in another order: a few ulps of each
term. rtol 1e-13 on the posterior and the constants holds that with room for the
cancellations in E[log pi_k] (a difference of digammas) and nothing more.
"""

import numpy as np
import pytest
from scipy.special import betaln, digamma, gammaln

from gmmfast import BayesianGaussianMixture, _variational

COV_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]
RTOL = 1e-13


def _problem(cov, seed=0, K=5, D=4):
    """Priors and the M-step's nk, xk, sk of a random model."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(D, D))
    spd = A @ A.T + D * np.eye(D)
    nk = rng.uniform(0.5, 300, K)
    xk = rng.normal(3, 2, (K, D))
    if cov == "full":
        sk = np.stack([spd * rng.uniform(0.5, 2) for _ in range(K)])
        prior_cov = spd / 3
    elif cov == "tied":
        sk = spd.copy()
        prior_cov = spd / 3
    elif cov == "diag":
        sk = rng.uniform(0.5, 2, (K, D))
        prior_cov = rng.uniform(0.5, 2, D)
    else:
        sk = rng.uniform(0.5, 2, K)
        prior_cov = 0.7
    priors = _variational.Priors(0.3, 0.8, rng.normal(size=D), D + 1.5, prior_cov)
    return priors, nk, xk, sk


def _expected(priors, nk, xk, sk, cov, prior_type):
    """The posterior, log-weights, weights and lower-bound terms by scikit-learn's
    formulas (Bishop 2006, 10.58-10.63), with scipy's special functions."""
    p, K, D = priors, len(nk), xk.shape[1]
    if prior_type == "dirichlet_process":
        a = 1.0 + nk
        b = p.weight_concentration + np.concatenate((np.cumsum(nk[::-1])[::-1][1:], [0]))
        total = digamma(a + b)
        elog = digamma(a) - total + np.concatenate(([0], np.cumsum(digamma(b) - total)[:-1]))
        w = a / (a + b) * np.concatenate(([1], np.cumprod(b / (a + b))[:-1]))
        log_norm_weight = -np.sum(betaln(a, b))
    else:
        a = p.weight_concentration + nk
        elog = digamma(a) - digamma(a.sum())
        w = a.copy()
        log_norm_weight = gammaln(a.sum()) - np.sum(gammaln(a))
    beta = p.mean_precision + nk
    means = (p.mean_precision * p.mean + nk[:, None] * xk) / beta[:, None]
    diff = xk - p.mean
    if cov == "full":
        nu = p.degrees_of_freedom + nk
        covs = (p.covariance + nk[:, None, None] * sk + (nk * p.mean_precision / beta)[
            :, None, None] * np.einsum("ki,kj->kij", diff, diff)) / nu[:, None, None]
        logdet_cov = np.linalg.slogdet(covs)[1]
    elif cov == "tied":
        nu = p.degrees_of_freedom + nk.mean()
        covs = (p.covariance + sk * nk.mean() + p.mean_precision / K * (
            (nk / beta) * diff.T) @ diff) / nu
        logdet_cov = np.linalg.slogdet(covs)[1]
    elif cov == "diag":
        nu = p.degrees_of_freedom + nk
        covs = (p.covariance + nk[:, None] * (sk + (p.mean_precision / beta)[:, None]
                                              * diff ** 2)) / nu[:, None]
        logdet_cov = np.log(covs).sum(axis=1)
    else:
        nu = p.degrees_of_freedom + nk
        covs = (p.covariance + nk * (sk + p.mean_precision / beta
                                     * np.mean(diff ** 2, axis=1))) / nu
        logdet_cov = D * np.log(covs)
    nu_v = np.atleast_1d(nu)
    half = 0.5 * (nu_v[None, :] - np.arange(D)[:, None])
    # log|U| = -0.5 log|cov|; the Wishart scale's log-determinant is log|U| - D/2 log nu
    log_det_w = -0.5 * logdet_cov - 0.5 * D * np.log(nu_v)
    log_wishart = -np.sum(nu_v * log_det_w + nu_v * D * 0.5 * np.log(2)
                          + gammaln(half).sum(axis=0))
    if cov == "tied":
        log_wishart *= K
    c = (elog + 0.5 * (D * np.log(2) + digamma(half).sum(axis=0))
         - 0.5 * D * np.log(nu_v) - 0.5 * D / beta)
    return dict(beta=beta, means=means, nu=nu, covariances=covs, log_weights=c,
                weights=w / w.sum(),
                terms=(log_wishart, log_norm_weight, 0.5 * D * np.sum(np.log(beta))))


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("cov", COV_TYPES)
def test_update_posterior_matches_the_formulas(cov, prior_type):
    priors, nk, xk, sk = _problem(cov)
    post = _variational.update_posterior(priors, nk, xk, sk, cov, prior_type,
                                         reg_covar=0.0, dtype=np.float64)
    want = _expected(priors, nk, xk, sk, cov, prior_type)
    for name in ("beta", "means", "nu", "covariances", "log_weights", "weights"):
        np.testing.assert_allclose(getattr(post, name), want[name], rtol=RTOL,
                                   err_msg=name)
    # the terms are sums of O(100) numbers that partly cancel: rtol of their scale
    scale = np.abs(want["terms"]).max()
    np.testing.assert_allclose(post.bound_terms, want["terms"], rtol=0,
                               atol=RTOL * scale)
    # the factors are those of the precision, in the estimator's layout
    if cov in ("full", "tied"):
        mats = post.covariances if cov == "full" else post.covariances[None]
        U = post.prec_chol if cov == "full" else post.prec_chol[None]
        np.testing.assert_allclose(U @ np.swapaxes(U, 1, 2), np.linalg.inv(mats),
                                   rtol=1e-12)
        assert np.all(np.tril(U, -1) == 0)
    else:
        np.testing.assert_allclose(post.prec_chol ** 2, 1 / post.covariances, rtol=1e-15)
    # and derive() from the parameters alone gives the same constants, bit for bit
    again = _variational.Posterior(post.concentration, post.beta, post.means, post.nu,
                                   post.covariances, post.prec_chol, post.nk)
    again.derive(cov, prior_type)
    np.testing.assert_array_equal(again.log_weights, post.log_weights)
    np.testing.assert_array_equal(again.weights, post.weights)
    assert again.bound_terms == post.bound_terms


@pytest.mark.parametrize("cov", COV_TYPES)
def test_update_posterior_names_the_component_that_cannot_be_factorised(cov):
    priors, nk, xk, sk = _problem(cov)
    # a zero prior covariance and a zero scatter where the component's mean is the
    # prior's: its covariance is 0, which no factorisation takes
    priors.covariance = np.zeros_like(np.asarray(priors.covariance)) \
        if np.ndim(priors.covariance) else 0.0
    bad = 0 if cov == "tied" else 2
    xk[bad] = priors.mean
    if cov == "tied":
        xk[:] = priors.mean
        sk[:] = 0.0
    else:
        sk[bad] = 0.0
    who = "The shared covariance" if cov == "tied" else f"Component {bad}"
    with pytest.raises(ValueError, match=f"{who} has a covariance that is not positive "
                       "definite.*Increase reg_covar"):
        _variational.update_posterior(priors, nk, xk, sk, cov, "dirichlet_process",
                                      reg_covar=0.0, dtype=np.float64)


@pytest.mark.parametrize("cov", ["diag", "spherical", "full"])
def test_a_precision_that_overflows_float32_is_a_collapse(cov):
    """A variance of 1e-40 is representable in float64, but its precision 1e40 is not
    in float32: the float32 fit reports it (and suggests float64), the float64 one
    proceeds."""
    priors, nk, xk, sk = _problem(cov)
    tiny = 1e-40
    priors.covariance = (np.eye(4) * tiny if cov == "full" else np.full(4, tiny)
                         if cov == "diag" else tiny)
    xk[1] = priors.mean
    sk[1] = 0.0
    with pytest.raises(ValueError, match="Component 1 .*float64 data"):
        _variational.update_posterior(priors, nk, xk, sk, cov, "dirichlet_process",
                                      reg_covar=0.0, dtype=np.float32)
    post = _variational.update_posterior(priors, nk, xk, sk, cov, "dirichlet_process",
                                         reg_covar=0.0, dtype=np.float64)
    assert np.all(np.isfinite(post.prec_chol))


def test_a_fit_that_collapses_says_what_to_change():
    """Through fit: identical points, no reg_covar, and a prior covariance so small
    (positive definite, as scikit-learn requires) that the precisions overflow;
    scikit-learn raises too."""
    X = np.ones((100, 2))
    est = BayesianGaussianMixture(n_components=2, reg_covar=0.0, random_state=0,
                                  covariance_prior=1e-310 * np.eye(2))
    with pytest.raises(ValueError, match="not positive definite.*Increase reg_covar"):
        est.fit(X)


def test_entropy_and_posterior_on_threads_are_the_serial_ones():
    """vb_entropy's traces and vb_update's covariances of a 'full' model run over the
    components on several threads: the same numbers to the bit as on one."""
    from gmmfast import _kernels
    from gmmfast._estep import COV_CODES

    K, D = 40, 30     # K D^3 above _mstep.MIN_CHOLESKY_FLOPS_THREADED: threads run
    priors, nk, xk, sk = _problem("full", seed=3, K=K, D=D)
    outs = [_variational.update_posterior(priors, nk, xk, sk, "full", "dirichlet_process",
                                          reg_covar=1e-6, dtype=np.float64, n_threads=t)
            for t in (1, 3)]
    for name in ("covariances", "prec_chol", "log_weights", "bound_terms"):
        np.testing.assert_array_equal(getattr(outs[0], name), getattr(outs[1], name))
    post = outs[0]
    # vb_update factorises and takes the Wishart terms in its own loop over the
    # components: the factors of precision_cholesky and the constants of derive(),
    # to the bit
    U = np.empty_like(post.covariances)
    assert _kernels.precision_cholesky(post.covariances.copy(), U, np.inf, 1) == -1
    np.testing.assert_array_equal(post.prec_chol, U)
    again = _variational.Posterior(post.concentration, post.beta, post.means, post.nu,
                                   post.covariances, post.prec_chol, post.nk)
    again.derive("full", "dirichlet_process")
    np.testing.assert_array_equal(again.log_weights, post.log_weights)
    assert again.bound_terms == post.bound_terms
    rng = np.random.default_rng(4)
    A = rng.normal(size=(K, D, D))
    S2 = (A @ A.transpose(0, 2, 1)).reshape(K, -1)
    S1, shift = rng.normal(size=(K, D)), post.means + rng.normal(size=(K, D))
    args = (COV_CODES["full"], nk, S1, S2, shift, post.log_weights, post.means,
            post.prec_chol.reshape(K, -1), -1234.5)
    one = _kernels.vb_entropy(*args, 1)
    assert _kernels.vb_entropy(*args, 3) == one
    # and the sum they make: na - 0.5 sum_k tr(P_k S_k) - L, written out
    P = post.prec_chol @ post.prec_chol.transpose(0, 2, 1)
    d = shift - post.means
    S = (S2.reshape(K, D, D) + np.einsum("ki,kj->kij", S1, d)
         + np.einsum("ki,kj->kij", d, S1) + nk[:, None, None] * np.einsum("ki,kj->kij", d, d))
    log_det = np.log(np.diagonal(post.prec_chol, axis1=1, axis2=2)).sum(axis=1)
    na = nk @ (post.log_weights - 0.5 * D * np.log(2 * np.pi) + log_det)
    expected = na - 0.5 * np.einsum("kij,kji->", P, S) + 1234.5
    scale = abs(na) + 0.5 * np.abs(np.einsum("kij,kji->k", P, S)).sum() + 1234.5
    assert abs(one - expected) <= 1e-14 * scale, (one, expected)


def _moment_problem(K, D, seed=0):
    rng = np.random.default_rng(seed)
    T = D * (D + 1) // 2
    W = rng.normal(size=(K, T + D + 1))
    A = rng.normal(size=(K, D, D))
    S2 = A @ A.transpose(0, 2, 1)
    return W, rng.uniform(0, 50, K), rng.normal(size=(K, D)), S2


@pytest.mark.parametrize("K, D", [(1, 1), (3, 5), (40, 30), (140, 41)])
def test_moment_entropy_is_the_formula_on_any_thread_count(K, D):
    """vb_moment_entropy (the moment rows' sum_k W_k . [S2_k (a >= b), S1_k, N_k] - L)
    against numpy's gather of the lower triangle, and the same bits on 1 and 3
    threads."""
    from gmmfast import _kernels

    W, N, S1, S2 = _moment_problem(K, D)
    L = -987.25
    rows, cols = np.tril_indices(D)
    T = rows.size
    terms = np.concatenate([W[:, :T] * S2[:, rows, cols], W[:, T:T + D] * S1,
                            (W[:, T + D] * N)[:, None]], axis=1)
    expected = terms.sum() - L
    one = _kernels.vb_moment_entropy(W, N, S1, S2, L, 1)
    # another order of the same sums: a few ulps of the sum of the terms' magnitudes
    assert abs(one - expected) <= 1e-14 * (np.abs(terms).sum() + abs(L)), (one, expected)
    assert _kernels.vb_moment_entropy(W, N, S1, S2, L, 3) == one
    # only the lower triangle is read
    upper = np.triu(np.ones((D, D), dtype=bool), 1)
    S2_junk = S2.copy()
    S2_junk[:, upper] = np.nan
    assert _kernels.vb_moment_entropy(W, N, S1, S2_junk, L, 3) == one


def test_moment_entropy_checks_its_arguments():
    from gmmfast import _kernels

    W, N, S1, S2 = _moment_problem(4, 6)
    with pytest.raises(ValueError, match="shapes do not match"):
        _kernels.vb_moment_entropy(W[:, :-1].copy(), N, S1, S2, 0.0)
    with pytest.raises(ValueError, match="shapes do not match"):
        _kernels.vb_moment_entropy(W, N[:3].copy(), S1, S2, 0.0)
    with pytest.raises(ValueError, match="shapes do not match"):
        _kernels.vb_moment_entropy(W, N, S1, S2[:, :5, :5].copy(), 0.0)
    with pytest.raises(ValueError, match="shapes do not match"):
        _kernels.vb_moment_entropy(W[:, :1].copy(), N, S1[:, :0].copy(),
                                   S2[:, :0, :0].copy(), 0.0)
    with pytest.raises(ValueError):              # not C-contiguous
        _kernels.vb_moment_entropy(W, N, S1, S2.transpose(0, 2, 1), 0.0)
    with pytest.raises(ValueError):              # not float64
        _kernels.vb_moment_entropy(W, N, S1, S2.astype(np.float32), 0.0)


def _full_stats(K, D, seed=0, starved=()):
    """'full' statistics of a random model about shifts near its means (SuffStats),
    with the components in ``starved`` empty (N = 0, S1 = S2 = 0)."""
    from gmmfast._mstep import SuffStats

    rng = np.random.default_rng(seed)
    N = rng.uniform(0.5, 300, K)
    A = rng.normal(size=(K, D, 3 * D))
    S2 = (A @ A.transpose(0, 2, 1)) * (N / (3 * D))[:, None, None]
    S1 = rng.normal(size=(K, D)) * N[:, None] * 0.1
    for k in starved:
        N[k], S1[k], S2[k] = 0.0, 0.0, 0.0
    return SuffStats(N, S1, S2, -1.0, float(N.sum()), rng.normal(3, 2, (K, D)))


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("K, D, starved", [(5, 4, ()), (40, 30, (7,)), (3, 1, ())])
def test_update_from_stats_is_the_m_step_then_the_update(K, D, starved, prior_type):
    """vb_update_full (the 'full' iteration's M-step and posterior update in one loop
    over the components) gives the numbers of m_step_moments then update_posterior
    to the bit, on 1 and on 3 threads."""
    from gmmfast import _mstep

    stats = _full_stats(K, D, starved=starved)
    priors = _problem("full", K=K, D=D)[0]
    eps = np.finfo(np.float64).eps
    nk, xk, sk = _mstep.m_step_moments(stats, "full", 1e-6, eps)
    want = _variational.update_posterior(priors, nk, xk, sk, "full", prior_type,
                                         reg_covar=1e-6, dtype=np.float64, n_threads=1)
    for t in (1, 3):
        got = _variational.update_posterior_from_stats(
            priors, stats, prior_type, reg_covar=1e-6, eps=eps, dtype=np.float64,
            n_threads=t)
        for name in ("nk", "beta", "means", "nu", "covariances", "prec_chol",
                     "log_weights", "weights"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name),
                                          err_msg=name)
        for x, y in zip(np.atleast_1d(got.concentration), np.atleast_1d(want.concentration)):
            np.testing.assert_array_equal(x, y)
        assert got.bound_terms == want.bound_terms


def test_update_from_stats_names_the_component_that_cannot_be_factorised():
    stats = _full_stats(6, 4, starved=(4,))
    priors = _problem("full", K=6, D=4)[0]
    priors.covariance = np.zeros((4, 4))
    # a starved component with no reg_covar and a zero prior covariance: its
    # covariance is (beta0 nk / beta) (xk - m0)(xk - m0)^T / nu, of rank one
    with pytest.raises(ValueError, match="Component 4 has a covariance that is not "
                       "positive definite.*Increase reg_covar"):
        _variational.update_posterior_from_stats(
            priors, stats, "dirichlet_process", reg_covar=0.0,
            eps=np.finfo(np.float64).eps, dtype=np.float64, n_threads=2)


def test_update_from_stats_checks_its_arguments():
    from gmmfast import _kernels

    stats = _full_stats(4, 3)
    priors = _problem("full", K=4, D=3)[0]
    args = [True, 0.3, 0.8, priors.mean, 4.5, priors.covariance.reshape(-1),
            stats.N, stats.S1, stats.S2, stats.shift, 1e-6, 1e-16, np.inf, 1]
    _kernels.vb_update_full(*args)
    bad = {6: stats.N[:3].copy(), 7: stats.S1[:, :2].copy(), 8: stats.S2[:, :2].copy(),
           9: stats.shift[:3].copy(), 3: priors.mean[:2].copy(),
           5: priors.covariance[:2, :2].reshape(-1).copy()}
    for i, value in bad.items():
        with pytest.raises(ValueError, match="shapes do not match"):
            _kernels.vb_update_full(*(args[:i] + [value] + args[i + 1:]))
    with pytest.raises(ValueError):              # not C-contiguous
        _kernels.vb_update_full(*(args[:8] + [stats.S2.transpose(0, 2, 1)] + args[9:]))
    with pytest.raises(ValueError):              # not float64
        _kernels.vb_update_full(*(args[:7] + [stats.S1.astype(np.float32)] + args[8:]))
