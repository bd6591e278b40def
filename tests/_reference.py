"""A plain float64 numpy EM for Gaussian mixtures: the reference the tests trust.

Written for clarity, not speed: per component, moments about the component's own
mean (no raw-moment cancellation), log-densities through explicit Cholesky factors.
"""

import warnings

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp


def log_prob(X, weights, means, cov, covariance_type):
    """(n, K) weighted log-probabilities log pi_k + log N(x | mu_k, Sigma_k)."""
    X = np.asarray(X, dtype=np.float64)
    n, D = X.shape
    K = len(weights)
    out = np.empty((n, K))
    for k in range(K):
        if covariance_type == "full":
            S = cov[k]
        elif covariance_type == "tied":
            S = cov
        elif covariance_type == "diag":
            S = np.diag(cov[k])
        else:
            S = np.eye(D) * cov[k]
        L = np.linalg.cholesky(S)
        z = solve_triangular(L, (X - means[k]).T, lower=True)
        out[:, k] = (
            np.log(weights[k])
            - 0.5 * D * np.log(2 * np.pi)
            - np.log(np.diag(L)).sum()
            - 0.5 * (z * z).sum(axis=0)
        )
    return out


def m_step(X, resp, covariance_type, reg_covar, sample_weight=None):
    """scikit-learn's M-step formulas, computed about each component's mean."""
    X = np.asarray(X, dtype=np.float64)
    w = np.ones(len(X)) if sample_weight is None else sample_weight
    R = resp * w[:, None]
    eps = np.finfo(np.float64).eps
    nk = R.sum(axis=0) + 10 * eps
    # about the data's mean: R^T X about 0 loses eps |x| per term to the offset, and
    # how much depends on the BLAS kernel's summation order (1e-12 in the bounds at an
    # offset of 1e4: SkylakeX against Haswell kernels of OpenBLAS)
    # (sum_i r_i x_i exactly as scikit-learn's R^T X: a starved component's mean is 0)
    c = X.mean(axis=0)
    means = (R.T @ (X - c) + R.sum(axis=0)[:, None] * c) / nk[:, None]
    K, D = means.shape
    if covariance_type == "full":
        cov = np.empty((K, D, D))
        for k in range(K):
            diff = X - means[k]
            cov[k] = (R[:, k, None] * diff).T @ diff / nk[k] + reg_covar * np.eye(D)
    elif covariance_type == "tied":
        cov = np.zeros((D, D))
        for k in range(K):
            diff = X - means[k]
            cov += (R[:, k, None] * diff).T @ diff
        cov = cov / nk.sum() + reg_covar * np.eye(D)
    else:
        var = np.empty((K, D))
        for k in range(K):
            diff = X - means[k]
            var[k] = R[:, k] @ (diff * diff) / nk[k]
        cov = var + reg_covar if covariance_type == "diag" else (var + reg_covar).mean(axis=1)
    return nk / nk.sum(), means, cov


def precisions_to_covariances(precisions, covariance_type):
    if covariance_type == "full":
        return np.linalg.inv(precisions)
    if covariance_type == "tied":
        return np.linalg.inv(precisions)
    return 1.0 / precisions


def em(X, weights, means, cov, covariance_type, n_iter, reg_covar=1e-6, sample_weight=None):
    """n_iter EM iterations; returns (weights, means, cov, lower_bounds)."""
    w = np.ones(len(X)) if sample_weight is None else sample_weight
    bounds = []
    for _ in range(n_iter):
        lp = log_prob(X, weights, means, cov, covariance_type)
        lse = logsumexp(lp, axis=1)
        bounds.append(float(w @ lse / w.sum()))
        resp = np.exp(lp - lse[:, None])
        weights, means, cov = m_step(X, resp, covariance_type, reg_covar, sample_weight)
    return weights, means, cov, bounds


K = 3


def make_data(seed, n=600, d=3, offset=0.0, scales=None):
    """K Gaussian blobs with random shapes and centres, optionally offset and scaled."""
    rng = np.random.default_rng(seed)
    parts = [
        rng.normal(size=(n // K, d)) @ rng.normal(size=(d, d)) + 4 * rng.normal(size=d)
        for _ in range(K)
    ]
    X = np.vstack(parts) + offset
    if scales is not None:
        X = X * np.asarray(scales)
    return X


def explicit_init(X, covariance_type, seed=0, K=K):
    """weights/means/precisions_init from data: means at random rows, global variance."""
    rng = np.random.default_rng(seed)
    means = X[rng.choice(len(X), K, replace=False)].astype(np.float64)
    var = X.astype(np.float64).var(axis=0)
    prec = {
        "full": np.array([np.diag(1 / var)] * K),
        "tied": np.diag(1 / var),
        "diag": np.array([1 / var] * K),
        "spherical": np.full(K, 1 / var.mean()),
    }[covariance_type]
    return dict(weights_init=np.full(K, 1 / K), means_init=means, precisions_init=prec)


def fit20(X, covariance_type, sample_weight=None, **kw):
    """K components, 20 EM iterations with tol=0 (no early stop), warnings quiet."""
    from gmmfast import GaussianMixture
    from sklearn.exceptions import ConvergenceWarning

    gm = GaussianMixture(K, covariance_type=covariance_type, max_iter=20, tol=0.0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gm.fit(X, sample_weight=sample_weight)


def assert_same_model(a, b, rtol):
    """Two fitted models agree on every parameter and on their lower bounds."""
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        x, y = getattr(a, name), getattr(b, name)
        assert isinstance(x, np.ndarray) and x.dtype == y.dtype
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.abs(y).max(),
                                   err_msg=name)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)
