"""Property tests: the compiled kernels against the plain numpy reference.

Random shapes (N 1..3000, D 1..20, K 1..10), every covariance type, both dtypes, with
and without sample weights. The kernels get the model through gmmfast._estep (the only
caller of the kernels); the reference is tests/_reference.py's log_prob, with plain
numpy sums for the statistics.

Tolerances. For float32 the model is first rounded to float32 (means, precision
factors) and the reference uses exactly those numbers, so what is left is the
arithmetic: the kernel forms (x - mu) U in X's dtype, an error of about D * eps * q
in a quadratic form q (both on the log-probability scale). We allow
TOL = 16 * D * eps relative to SCALE = 1 + max |log-probability| of the row; the worst
error measured over 150 random cases was 1/12 of that (0.021 of 64 * D * eps). A responsibility r moves by at most r * (error of lp), so the sums
are held to TOL * SCALE times the sums of |weights|, |weights * (x - shift)| and
|weights * (x - shift)^2|.
"""

import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from gmmfast import _estep, _mstep

import _reference


def random_model(rng, cov_type, K, D, dtype, spread=3.0):
    """weights, means, covariances, precision factors, all exactly representable in
    dtype (the covariances are those the rounded factors imply). spread: the means'
    scale (3: separated; 30: far apart, most responsibilities underflow to 0 or below
    the smallest normal number)."""
    weights = rng.dirichlet(np.ones(K))
    means = (spread * rng.normal(size=(K, D))).astype(dtype).astype(np.float64)
    if cov_type == "full":
        A = rng.normal(size=(K, D, D))
        cov = A @ np.swapaxes(A, 1, 2) / D + 0.5 * np.eye(D)
    elif cov_type == "tied":
        A = rng.normal(size=(D, D))
        cov = A @ A.T / D + 0.5 * np.eye(D)
    elif cov_type == "diag":
        cov = rng.uniform(0.3, 3.0, size=(K, D))
    else:
        cov = rng.uniform(0.3, 3.0, size=K)
    U = _mstep.precision_cholesky(cov, cov_type).astype(dtype).astype(np.float64)
    cov = _mstep.covariances_from_cholesky(U, cov_type)
    return weights, means, cov, U


def sample_rows(rng, means, n, dtype):
    """Rows around the means, and a few far out (large but finite log-probabilities)."""
    K, D = means.shape
    X = means[rng.integers(K, size=n)] + rng.normal(size=(n, D)) * rng.uniform(0.5, 3)
    far = rng.random(n) < 0.05
    X[far] *= 4
    return X.astype(dtype)


# tools/check_memory.sh runs a few examples under valgrind
EXAMPLES = int(os.environ.get("GMMFAST_HYPOTHESIS_EXAMPLES", "60"))

CASES = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1),
    "n": st.one_of(st.integers(1, 40), st.integers(41, 3000)),
    "D": st.integers(1, 20),
    "K": st.integers(1, 10),
    "cov_type": st.sampled_from(["full", "tied", "diag", "spherical"]),
    "dtype": st.sampled_from([np.float64, np.float32]),
    "weighted": st.booleans(),
})


def setup(case):
    rng = np.random.default_rng(case["seed"])
    K, D, dtype = case["K"], case["D"], case["dtype"]
    weights, means, cov, U = random_model(rng, case["cov_type"], K, D, dtype,
                                          case.get("spread", 3.0))
    X = sample_rows(rng, means, case["n"], dtype)
    w = rng.uniform(0, 3, size=case["n"]) if case["weighted"] else None
    model = _estep.KernelModel(case["cov_type"], weights, means, U, dtype)
    lp = _reference.log_prob(X.astype(np.float64), weights, means, cov, case["cov_type"])
    tol = 16 * D * np.finfo(dtype).eps
    scale = 1 + np.abs(lp).max(axis=1)  # per row
    return X, w, model, lp, tol, scale


@settings(max_examples=EXAMPLES, deadline=None)
@given(CASES)
def test_per_sample_outputs_match_reference(case):
    check_per_sample(case)


def check_per_sample(case):
    X, _, model, lp, tol, scale = setup(case)
    lse, resp, labels = _estep.per_sample(X, model, n_threads=2, lse=True, resp=True,
                                          labels=True)
    ref_lse = logsumexp(lp, axis=1)
    assert lse.dtype == np.float64 and resp.dtype == X.dtype
    assert (np.abs(lse - ref_lse) <= tol * scale).all()
    ref_resp = np.exp(lp - ref_lse[:, None])
    # plus the rounding of the stored responsibility to X's dtype
    err = np.abs(resp - ref_resp)
    assert (err <= 2 * tol * scale[:, None] + np.finfo(X.dtype).eps).all()
    # the label is the reference's argmax, or ties with it to within the tolerance
    chosen = lp[np.arange(len(lp)), labels]
    assert (chosen >= lp.max(axis=1) - 2 * tol * scale).all()


#: far-apart clusters, few features, many components: the small-D 'full' route's
#: groups of rows whose responsibilities are all exactly 0, subnormal responsibilities,
#: and the component-major normalisations
FAR_CASES = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1),
    "n": st.one_of(st.integers(1, 40), st.integers(41, 3000)),
    "D": st.integers(1, 9),
    "K": st.integers(1, 40),
    "cov_type": st.sampled_from(["full", "tied", "diag", "spherical"]),
    "dtype": st.sampled_from([np.float64, np.float32]),
    "weighted": st.booleans(),
    "spread": st.just(30.0),
})


@settings(max_examples=EXAMPLES, deadline=None)
@given(CASES)
def test_sufficient_statistics_match_reference(case):
    check_statistics(case)


@settings(max_examples=EXAMPLES, deadline=None)
@given(FAR_CASES)
def test_far_apart_statistics_match_reference(case):
    check_statistics(case)


@settings(max_examples=max(1, EXAMPLES // 2), deadline=None)
@given(FAR_CASES)
def test_far_apart_per_sample_outputs_match_reference(case):
    check_per_sample(case)


def check_statistics(case):
    X, w, model, lp, tol, scale = setup(case)
    stats = _estep.suff_stats(X, w, model, n_threads=2)
    Xd = X.astype(np.float64)
    wv = np.ones(len(X)) if w is None else w
    lse = logsumexp(lp, axis=1)
    R = np.exp(lp - lse[:, None]) * wv[:, None]
    # how far each sum may move: TOL * SCALE per unit of |summand|
    dr = (tol * scale * wv)[:, None] * np.ones_like(R)
    np.testing.assert_array_less(np.abs(stats.N - R.sum(axis=0)), dr.sum(axis=0) + 1e-300)
    assert abs(stats.L - wv @ lse) <= (tol * scale * wv) @ np.abs(lse) + (tol * scale * wv).sum()
    assert stats.sum_w == wv.sum()

    cov_type = case["cov_type"]
    shift = stats.shift
    if cov_type == "full":
        diff = Xd[:, None, :] - shift[None, :, :]            # (n, K, D)
        S1 = np.einsum("nk,nkd->kd", R, diff)
        S2 = np.einsum("nk,nkd,nke->kde", R, diff, diff)
        b1 = np.einsum("nk,nkd->kd", dr, np.abs(diff))
        b2 = np.einsum("nk,nkd,nke->kde", dr, np.abs(diff), np.abs(diff))
    else:
        diff = Xd - shift                                     # (n, D)
        S1 = R.T @ diff
        b1 = dr.T @ np.abs(diff)
        if cov_type == "tied":
            S2 = (wv[:, None] * diff).T @ diff
            b2 = (tol * np.abs(wv[:, None] * diff)).T @ np.abs(diff)
        elif cov_type == "diag":
            S2 = R.T @ (diff * diff)
            b2 = dr.T @ (diff * diff)
        else:
            S2 = R.T @ (diff * diff).sum(axis=1)
            b2 = dr.T @ (diff * diff).sum(axis=1)
    # the kernel subtracts the shift rounded to X's dtype: eps * |shift| per unit weight
    eps_shift = np.finfo(X.dtype).eps * np.abs(shift).max() if X.dtype == np.float32 else 0
    b1 = b1 + eps_shift * wv.sum()
    b2 = b2 + 2 * eps_shift * (np.abs(S1).max() + wv.sum() * (1 + eps_shift))
    assert stats.S1.shape == S1.shape and stats.S2.shape == S2.shape
    assert (np.abs(stats.S1 - S1) <= b1 + 1e-300).all()
    assert (np.abs(stats.S2 - S2) <= b2 + 1e-300).all()


@settings(max_examples=max(1, EXAMPLES // 2), deadline=None)
@given(CASES)
def test_statistics_are_additive_over_a_split(case):
    # the kernel's sums over X equal the sums over any two parts (the streaming and
    # distributed design rests on this), to rounding of the sums
    X, w, model, _, tol, _ = setup(case)
    if len(X) < 2:
        return
    cut = len(X) // 3 or 1
    whole = _estep.suff_stats(X, w, model, n_threads=1)
    a = _estep.suff_stats(X[:cut], None if w is None else w[:cut], model, n_threads=1)
    b = _estep.suff_stats(X[cut:], None if w is None else w[cut:], model, n_threads=1)
    both = a + b
    # float64: only the order of the double sums differs (1e-12). float32: the
    # 'full'/'tied' scatter of a block (<= 256 rows, D >= 8) is one float32 SYRK before
    # it is added in double, so a split that moves block boundaries changes it by up
    # to 256 eps32 = 3e-5 relative to the largest entry
    rtol = 1e-12 if X.dtype == np.float64 else 256 * np.finfo(np.float32).eps
    for name in ("N", "S1", "S2"):
        x, y = getattr(whole, name), getattr(both, name)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.abs(x).max())
    np.testing.assert_allclose(whole.L, both.L, rtol=rtol, atol=rtol * abs(whole.L))
