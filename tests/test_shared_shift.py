"""The 'tied' and 'spherical' routes: their feature rows [z, ||z||^2] (csrc/shared_shift.h,
of the whitened rows for 'tied') through the tiles of 'diag' (csrc/diag_products.h).

The rows' vector builds transpose tiles of 8 rows x 8 features, and the products work
in tiles of 4 rows and 4 components, with the rest one at a time: shapes that leave
remainders everywhere (N not a multiple of 8, K and D not multiples of 8, D below and
above the small-D threshold) are checked against a float64 reference in numpy, and the
AVX2 and AVX-512 builds against each other, bit for bit (the same operations in the
same order in every build).
"""

import os

import numpy as np
import pytest

from gmmfast import GaussianMixture

from _isa_builds import vector_build_outputs

# one or a few iterations on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Best performing initialization")

SHAPES = [(1003, 3, 13), (1003, 9, 13), (777, 17, 9), (515, 24, 3)]


def _data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=3.0, size=(k, d))
    X = means[rng.integers(k, size=n)] + rng.normal(size=(n, d)) * rng.uniform(0.3, 1.2, d)
    X += 50.0   # away from 0: the shift c does work
    return X, means + 50.0


def _init(cov, X, means, k, d):
    if cov == "tied":
        A = np.cov(X, rowvar=False) + 0.1 * np.eye(d)
        prec = np.linalg.inv(A)
        return dict(means_init=means, weights_init=np.full(k, 1.0 / k),
                    precisions_init=0.5 * (prec + prec.T))
    return dict(means_init=means, weights_init=np.full(k, 1.0 / k),
                precisions_init=np.linspace(0.5, 2.0, k))


def _reference_step(cov, X, w, weights, means, prec):
    """One EM iteration in float64 numpy, about zero: the new weights, means and
    covariances and the mean log-likelihood of the start."""
    n, d = X.shape
    k = means.shape[0]
    if cov == "tied":
        L = np.linalg.cholesky(prec)
        diff = (X[:, None, :] - means[None]) @ L
        lp = -0.5 * (diff ** 2).sum(-1) + np.log(np.diag(L)).sum()
    else:
        sq = ((X[:, None, :] - means[None]) ** 2).sum(-1)
        lp = -0.5 * prec[None] * sq + 0.5 * d * np.log(prec)[None]
    lp += np.log(weights)[None] - 0.5 * d * np.log(2 * np.pi)
    mx = lp.max(1, keepdims=True)
    lse = mx[:, 0] + np.log(np.exp(lp - mx).sum(1))
    r = np.exp(lp - lse[:, None]) * w[:, None]
    nk = r.sum(0)
    mu = (r.T @ X) / nk[:, None]
    diff = X[:, None, :] - mu[None]                  # (n, k, d)
    if cov == "tied":
        cov_ = np.einsum("nk,nka,nkb->ab", r, diff, diff) / nk.sum()
    else:
        cov_ = np.einsum("nk,nka->k", r, diff ** 2) / (nk * d)
    return nk / w.sum(), mu, cov_, (w * lse).sum() / w.sum()


@pytest.mark.parametrize("cov", ["tied", "spherical"])
@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_one_step_matches_numpy(cov, n, d, k, weighted):
    X, means = _data(n, d, k)
    init = _init(cov, X, means, k, d)
    w = np.random.default_rng(1).uniform(0.2, 2.0, n) if weighted else np.ones(n)
    gm = GaussianMixture(k, covariance_type=cov, max_iter=1, tol=0, reg_covar=0,
                         n_threads=2, **init)
    gm.fit(X, sample_weight=w if weighted else None)
    ref_w, ref_m, ref_c, ref_ll = _reference_step(
        cov, X, w, init["weights_init"], init["means_init"], init["precisions_init"])
    np.testing.assert_allclose(gm.weights_, ref_w, rtol=1e-10)
    np.testing.assert_allclose(gm.means_, ref_m, rtol=1e-10)
    # about the shared shift c (the data's mean, ~50 from 0 here, components ~1 wide):
    # the moments lose ~eps (50 / 1)^2 relative; numpy's reference is about each mean
    np.testing.assert_allclose(gm.covariances_, ref_c, rtol=1e-10, atol=1e-12)
    # lower_bound_ is the log-likelihood of the start (the E-step of the one iteration)
    np.testing.assert_allclose(gm.lower_bound_, ref_ll, rtol=1e-10)


@pytest.mark.parametrize("cov", ["tied", "spherical"])
def test_float32_one_step_close(cov):
    n, d, k = SHAPES[1]
    X, means = _data(n, d, k)
    init = _init(cov, X, means, k, d)
    fits = []
    for dtype in (np.float64, np.float32):
        gm = GaussianMixture(k, covariance_type=cov, max_iter=2, tol=0, reg_covar=0,
                             n_threads=2, **{a: np.asarray(v, dtype) for a, v in init.items()})
        fits.append(gm.fit(X.astype(dtype)))
    np.testing.assert_allclose(fits[1].means_, fits[0].means_, rtol=2e-5)
    np.testing.assert_allclose(fits[1].weights_, fits[0].weights_, rtol=1e-4, atol=1e-6)


_CHILD = """
import hashlib, sys
import numpy as np
sys.path.insert(0, {here!r})
import test_shared_shift as t
from gmmfast import GaussianMixture
h = hashlib.sha256()
for cov in ("tied", "spherical"):
    for (n, d, k) in t.SHAPES:
        for dtype in (np.float64, np.float32):
            X, means = t._data(n, d, k)
            init = {{a: np.asarray(v, dtype) for a, v in t._init(cov, X, means, k, d).items()}}
            w = np.random.default_rng(1).uniform(0.2, 2.0, n)
            gm = GaussianMixture(k, covariance_type=cov, max_iter=3, tol=0, reg_covar=0,
                                 n_threads=2, **init).fit(X.astype(dtype), sample_weight=w)
            for a in (gm.weights_, gm.means_, gm.precisions_cholesky_,
                      np.array([gm.lower_bound_]), gm.predict_proba(X.astype(dtype))):
                h.update(np.ascontiguousarray(a).tobytes())
print(h.hexdigest())
"""


def test_vector_builds_agree_to_the_bit():
    here = os.path.dirname(os.path.abspath(__file__))
    got = vector_build_outputs(_CHILD.format(here=here))
    assert got["avx2"] == got["avx512"]
