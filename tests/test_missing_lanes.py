"""The compiled row-by-row pass (gmmfast/_missing_rows.pyx) with its m x m factors,
solves and inverses run for all components at once: numbers of components that do
and do not fill the vector registers, rows with up to D - 1 missing features, runs of
one pattern spread over block boundaries, and ill-conditioned covariances, each
against the direct computation (test_missing's reference, row by row with numpy)."""

import numpy as np
import pytest

from test_missing import _model_with, _rows_reference


def _model(covariance_type, K, D, cond, seed):
    """Covariances of condition number ``cond`` (eigenvalues log-spread from 1 /
    sqrt(cond) to sqrt(cond), random orientations), means ~1 apart."""
    rng = np.random.default_rng(seed)
    Kc = 1 if covariance_type == "tied" else K
    cov = np.empty((Kc, D, D))
    for k in range(Kc):
        Q, _ = np.linalg.qr(rng.normal(size=(D, D)))
        ev = np.logspace(-0.5, 0.5, D) ** np.log10(cond)
        cov[k] = (Q * ev) @ Q.T
        cov[k] = 0.5 * (cov[k] + cov[k].T)
    return _model_with(cov, covariance_type, K, D, rng)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("K", [1, 2, 7, 17])
@pytest.mark.parametrize("cond", [10.0, 1e6], ids=["condition 10", "condition 1e6"])
def test_components_at_once_are_the_direct_computation(covariance_type, K, cond,
                                                       monkeypatch):
    from gmmfast import _missing, _missing_rowpath

    D, n = 12, 150
    models, S = _model(covariance_type, K, D, cond, seed=41 + K)
    rng = np.random.default_rng(42 + K)
    X = models.means[rng.integers(0, K, n)] + rng.normal(size=(n, D))
    # runs of 1 to 5 rows of one pattern with 0 to D - 1 missing features, most with
    # many (m up to 11 of 12)
    i = 0
    while i < n:
        run = int(rng.integers(1, 6))
        m = int(min(D - 1, rng.integers(0, D + 4)))
        X[i:i + run, rng.choice(D, m, replace=False)] = np.nan
        i += run
    w = rng.uniform(0.2, 3.0, n)
    monkeypatch.setattr(_missing, "kernel_pass_pays", lambda *args, **kwargs: False)
    # blocks of a few rows: runs cut by block boundaries
    monkeypatch.setattr(_missing_rowpath, "ROW_BLOCK_DOUBLES", 64)
    plan = _missing.PatternPlan(X, w, 0, K)
    assert plan.patterns == [] and len(plan.groups) == 1
    ref = _rows_reference(X, w, models, S)
    lse, resp, labels = (np.empty(n), np.empty((n, K)), np.empty(n, dtype=np.intp))
    _missing.piece_outputs(models, plan, 0, 2, [lse, resp, labels], lse=True, resp=True,
                           labels=True)
    # rounding grows with the condition number (both sides: the reference inverts
    # Sigma_OO, the pass factors the precision's missing block and subtracts
    # ||z||^2 from delta^T P delta): about 0.1 cond * eps relative in these runs,
    # 10 cond * eps allowed
    tol = max(1e-13, 10 * cond * np.finfo(float).eps)
    scale = np.abs(ref[0]).max()
    np.testing.assert_allclose(lse, ref[0], rtol=0, atol=tol * scale)
    np.testing.assert_allclose(resp, ref[1], rtol=0, atol=tol * scale)
    if cond <= 10:
        np.testing.assert_array_equal(labels, ref[2])
    st = _missing.piece_stats(models, plan, 0, 2)
    T2 = ref[5].sum(axis=0) if covariance_type == "tied" else ref[5]
    np.testing.assert_allclose(st.N, ref[3], rtol=0, atol=tol * n)
    s1 = np.abs(ref[4]).max()
    s2 = np.abs(T2).max()
    np.testing.assert_allclose(st.S1, ref[4], rtol=0, atol=tol * s1)
    np.testing.assert_allclose(st.S2, T2, rtol=0, atol=tol * s2)
    assert np.array_equal(st.S2, np.swapaxes(st.S2, -1, -2))
    assert np.isfinite(st.S2).all()
    # the conditional covariances keep the expected scatter positive definite
    T2s = st.S2[None] if covariance_type == "tied" else st.S2
    assert (np.linalg.eigvalsh(T2s) > 0).all()
