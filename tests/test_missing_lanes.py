"""The compiled row-by-row pass (gmmfast/_missing_rows.pyx) with its m x m factors,
solves and inverses run for all components at once: numbers of components that do
and do not fill the vector registers, rows with up to D - 1 missing features, runs of
one pattern spread over block boundaries, and ill-conditioned covariances, each
against the direct computation (test_missing's reference, row by row with numpy)."""

import os
import subprocess
import sys

import numpy as np
import pytest

import gmmfast

from test_missing import _model_with, _rows_reference, slot_blocks


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
# K: the lanes go in tiles of 32 components, then one of 16 and one of 8, then the
# rest (csrc/missing_lanes.h); 40 = 32 + 8, 63 = 32 + 16 + 8 + 7
@pytest.mark.parametrize("K", [1, 2, 7, 17, 40, 63])
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


# The factor's product of diagonals leaves [1e-100, 1e100] (its log then taken at once)
# from 3 missing features on at a scale of 1e-45 (the precision's entries ~1e90) or 1e45
@pytest.mark.parametrize("scale", [1.0, 1e-45, 1e45])
def test_fixed_m_groups_give_the_tiles_bits(scale, monkeypatch):
    # Component 8 repeats component 0. At a fixed m the lanes' functions take groups
    # of 4 or 8 components (csrc/missing_lanes.h, GMM_G) in code of their own and the
    # rest in the tiles; 0 is in a group and 8 never is, in every build. The two
    # forms do the same operations in the same order, so component 8's every output
    # must be component 0's, bit for bit, and at the scales where the factor's product
    # of diagonals leaves the range of its test (the groups then refactored by the
    # tile) the log-densities must be the unscaled ones less d_O log(scale).
    from gmmfast import _missing, _missing_rowpath, _mstep

    D, n, K = 12, 150, 9
    rng = np.random.default_rng(7)
    A = rng.normal(size=(K, D, D)) / np.sqrt(D)
    cov = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(D)
    means = rng.normal(size=(K, D))
    weights = rng.dirichlet(np.ones(K))
    cov[8], means[8], weights[8] = cov[0], means[0], weights[0]
    X = means[rng.integers(0, K, n)] + rng.normal(size=(n, D))
    m = np.minimum(D - 1, rng.integers(0, D + 4, n))
    for i in range(n):
        X[i, rng.choice(D, m[i], replace=False)] = np.nan
    w = rng.uniform(0.2, 3.0, n)
    monkeypatch.setattr(_missing, "kernel_pass_pays", lambda *args, **kwargs: False)
    monkeypatch.setattr(_missing_rowpath, "ROW_BLOCK_DOUBLES", 64)

    def run(s):
        U = _mstep.precision_cholesky(cov * s * s, "full")
        models = _missing.MarginalModels("full", weights, means * s, U, np.float64)
        plan = _missing.PatternPlan(X * s, w, 0, K)
        assert plan.patterns == [] and len(plan.groups) == 1
        lse, resp = np.empty(n), np.empty((n, K))
        _missing.piece_outputs(models, plan, 0, 2, [lse, resp, np.empty(n, dtype=np.intp)],
                               lse=True, resp=True, labels=True)
        return lse, resp, _missing.piece_stats(models, plan, 0, 2)

    lse, resp, st = run(scale)
    assert np.isfinite(lse).all()
    assert np.array_equal(resp[:, 8], resp[:, 0])
    assert st.N[8] == st.N[0]
    assert np.array_equal(st.S1[8], st.S1[0]) and np.array_equal(st.S2[8], st.S2[0])
    if scale != 1.0:
        lse1 = run(1.0)[0]
        shift = (D - m) * np.log(scale)
        # the same sums about rescaled entries (rounded anew) and the log of a
        # product taken in pieces: measured within 2.4 eps of the larger of the two
        # terms, 8 eps allowed
        tol = 8 * np.finfo(float).eps * np.maximum(np.abs(shift), np.abs(lse1)).max()
        np.testing.assert_allclose(lse + shift, lse1, rtol=0, atol=tol)


@pytest.mark.parametrize("D", [16, 37])
@pytest.mark.parametrize("K", [3, 40])
@pytest.mark.parametrize("cond", [10.0, 1e4], ids=["condition 10", "condition 1e4"])
# the conditional covariances: chosen per block, all components at once, one at a time
@pytest.mark.parametrize("cd_mode", ["cost", "together", "apart"])
def test_float32_products_hold_float32_rounding(D, K, cond, cd_mode, slot_blocks,
                                                monkeypatch):
    """Float32 data ('full', from 16 features on) take q in float32 products
    (csrc/missing_rows32.h's gmm_lanes32_q) and their scatter in float32 products
    about each block's weighted mean (gmm_rank32), as the complete float32 rows take
    theirs; b (by one GEMM per missing column, about the means' mean), the factors,
    the solves and the conditional covariances stay in double. D = 37: padded to 40,
    groups of rows with a rest (203 rows)."""
    from gmmfast import _missing, _missing_rowpath, _missing_rows

    m64, S = _model("full", K, D, cond, seed=7 + K + D)
    m32 = _missing.MarginalModels("full", m64.weights, m64.means, m64.U, np.float32)
    assert m32.row_factors32() is not None and m64.row_factors32() is None
    rng = np.random.default_rng(D + K)
    n = 203
    X = (m64.means[rng.integers(0, K, n)] + rng.normal(size=(n, D)))
    X = X.astype(np.float32).astype(np.float64)    # float32 data
    for i in range(n):
        X[i, rng.choice(D, rng.integers(0, D), replace=False)] = np.nan
    w = rng.uniform(0.2, 3.0, n)
    monkeypatch.setattr(_missing, "kernel_pass_pays", lambda *args, **kwargs: False)
    # the other route (moment rows are in double and would take these means)
    monkeypatch.setattr(_missing, "moments_fit", lambda n_features: False)
    monkeypatch.setattr(_missing_rowpath, "ROW_BLOCK_DOUBLES", 4096)   # 2-4 blocks
    before = _missing_rows.conditional_covariances_mode(cd_mode)
    try:
        plan = _missing.PatternPlan(X, w, 0, K)
        assert plan.patterns == [] and len(plan.groups) == 1
        out = {}
        for name, models in (("64", m64), ("32", m32)):
            lse, resp = np.empty(n), np.empty((n, K))
            _missing.piece_outputs(models, plan, 0, 2, [lse, resp], lse=True,
                                   resp=True)
            out[name] = lse, resp, _missing.piece_stats(models, plan, 0, 2)
    finally:
        _missing_rows.conditional_covariances_mode(before)
    lse32, resp32, st = out["32"]
    lse64 = out["64"][0]
    assert not np.array_equal(lse32, lse64)     # float32 products were taken
    # The forward error of y = z U in float32 (z rounded, then D fused products a
    # sum) is at most ~D u sum_l |z_l U_lj| a column, u = eps32 / 2; q = ||y||^2 then
    # moves by at most D eps32 || |z| |U| ||^2 to first order. Per row, against that
    # bound over the components (measured: at most 2.3% of it).
    d = np.where(np.isnan(X)[:, None, :], 0.0,
                 np.nan_to_num(X)[:, None, :] - m64.means[None])
    qa = (np.einsum("nkd,kde->nke", np.abs(d), np.abs(np.triu(m64.U))) ** 2).sum(-1)
    bound = D * np.finfo(np.float32).eps * qa.max(axis=1)
    assert (np.abs(lse32 - lse64) <= bound).all()
    # The statistics, against the direct computation weighted by these
    # responsibilities. N, S1 (the conditional means mu_M - t, t = P[M, M]^-1 b, all
    # in double) to double's rounding, as
    # test_components_at_once_are_the_direct_computation allows (measured: S1 within
    # 1.0 cond eps of its largest entry).
    ref = _rows_reference(X, w, m64, S, resp=resp32)
    tol = max(1e-13, 10 * cond * np.finfo(float).eps)
    np.testing.assert_allclose(st.N, ref[3], rtol=0, atol=tol * n)
    np.testing.assert_allclose(st.S1, ref[4], rtol=0, atol=tol * np.abs(ref[4]).max())
    # S2's products are float32's (rows rounded to float32 about their weighted
    # mean, sums of 32 rows in float32, then in double): measured within 0.41 eps32
    # of its largest entry, whatever the condition; asserted 2 eps32.
    tol32 = 2 * np.finfo(np.float32).eps
    np.testing.assert_allclose(st.S2, ref[5], rtol=0, atol=tol32 * np.abs(ref[5]).max())
    assert np.array_equal(st.S2, np.swapaxes(st.S2, -1, -2))


# Run in a child process per GMMFAST_ISA cap (read once, at import): the row pass on
# the saved inputs, both routes, and a digest of every output.
_CHILD = """
import hashlib, sys
import numpy as np
from gmmfast import _missing_rows
a = np.load(sys.argv[1])
n, D = a["X0"].shape
K = a["means"].shape[0]
out = [_missing_rows.lanes_impl()]
none32 = np.empty((0, 0, 0), dtype=np.float32)
Uf = _missing_rows.padded_factors32(a["U"])
# moment rows; the other route in double; the other route in float32 products, its
# conditional covariances chosen per block, all components at once, one at a time
for shift, W, U32, cd in ((a["shift"], a["W"], none32, "cost"),
                          (np.empty(0), np.empty((0, 0)), none32, "cost"),
                          (np.empty(0), np.empty((0, 0)), Uf, "cost"),
                          (np.empty(0), np.empty((0, 0)), Uf, "together"),
                          (np.empty(0), np.empty((0, 0)), Uf, "apart")):
    _missing_rows.conditional_covariances_mode(cd)
    lse, resp = np.empty(n), np.empty((n, K))
    labels, stats = np.empty(n, dtype=np.intp), np.zeros(K + K * D + K * D * D + 2)
    _missing_rows.rows_pass(a["X0"], a["Mi"], a["nm"], a["w"], a["means"], a["U"],
                            a["Pt"], a["logc"], U32, shift, W, 37, 37, 2, lse, resp,
                            labels, np.empty(0))
    _missing_rows.rows_pass(a["X0"], a["Mi"], a["nm"], a["w"], a["means"], a["U"],
                            a["Pt"], a["logc"], U32, shift, W, 64, 16, 2, np.empty(n),
                            np.empty((0, K)), np.empty(0, dtype=np.intp), stats)
    h = hashlib.sha256()
    for x in (lse, resp, labels, stats):
        h.update(x.tobytes())
    out.append(h.hexdigest())
print(" ".join(out))
"""


# 70 components: two tiles of 32 and a rest of 6 (groups of 8 or 4 at a fixed m, and
# the rest); 3 components of 37 features: the float32 scatter's tiles over tens of rows
# a block, its rows padded to 64; 20 components of 16 features: the fixed-m inverse
# and solve up to their largest m (12), and the tiles beyond it
@pytest.mark.parametrize("K, D", [(70, 10), (3, 37), (20, 16)])
def test_every_build_of_the_lanes_gives_the_same_bits(tmp_path, K, D):
    # The lanes' vector builds are compiled without contraction (setup.py): per
    # component they do the baseline's operations in its order, so every build must
    # give the same bits, on both routes of the pass (moment rows and the other, in
    # double and in float32 products: those fused in every build, fmaf in the
    # baseline's; their scatter's tiles as wide as the build's vectors).
    from gmmfast import _missing_rows

    builds = _missing_rows.lanes_builds()
    if len(builds) == 1:
        pytest.skip("only the baseline build of the lanes is compiled in")
    n = 300
    rng = np.random.default_rng(3)
    A = rng.normal(size=(K, D, D)) / np.sqrt(D)
    models, _ = _model_with(A @ A.transpose(0, 2, 1) + 0.5 * np.eye(D), "full", K, D,
                            rng)
    moments = models.moment_params()
    assert moments is not None   # the moment rows' route is exercised too
    U, Pt, logc = models.row_params()
    X0 = models.means[rng.integers(0, K, n)] + rng.normal(size=(n, D))
    nm = rng.integers(1, D, n)
    nm[rng.random(n) < 0.3] = 1
    Mi = np.zeros((n, D - 1), dtype=np.intp)
    for i in range(n):
        Mi[i, :nm[i]] = np.sort(rng.choice(D, nm[i], replace=False))
        X0[i, Mi[i, :nm[i]]] = 0.0
    Mi[150:160] = Mi[150]       # a run of one pattern across the blocks' boundaries
    nm[150:160] = nm[150]
    for i in range(150, 160):
        X0[i, Mi[i, :nm[i]]] = 0.0
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, X0=X0, Mi=Mi, nm=nm, w=rng.uniform(0.5, 2.0, n),
             means=models.means, U=U, Pt=Pt, logc=logc, shift=moments[0], W=moments[1])
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(gmmfast.__file__)))
    got = {}
    for cap in ("baseline", "avx2", "neon", "avx512"):
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(inputs)],
                              capture_output=True, text=True, timeout=300, cwd="/",
                              env=dict(env, GMMFAST_ISA=cap))
        assert proc.returncode == 0, proc.stderr
        impl, *digests = proc.stdout.split()
        got[impl] = digests
    assert "baseline" in got and len(got) >= 2, got   # at least two builds compared
    assert set(got) <= set(builds)
    first = next(iter(got.values()))
    assert all(d == first for d in got.values()), got


@pytest.mark.parametrize("route", ["moment rows", "float64 lanes", "float32 products"])
def test_rounds_of_any_size_give_the_same_bits(route, monkeypatch):
    # A pass's blocks run in rounds of slots (at most _missing_rows.slot_budget
    # doubles, at least two blocks a thread); the slots are added into the total in
    # block order after each round, so rounds of two blocks and rounds of all of
    # them must give the same statistics, bit for bit, on one thread and on two.
    from gmmfast import _missing, _missing_rowpath, _missing_rows

    single = route == "float32 products"
    D, K, n = 16 if single else 12, 5, 600
    models, _ = _model("full", K, D, 10.0, seed=11)
    if single:
        models = _missing.MarginalModels("full", models.weights, models.means,
                                         models.U, np.float32)
    if route != "moment rows":
        monkeypatch.setattr(_missing, "moments_fit", lambda n_features: False)
    rng = np.random.default_rng(13)
    X = models.means[rng.integers(0, K, n)] + rng.normal(size=(n, D))
    if single:
        X = X.astype(np.float32).astype(np.float64)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    monkeypatch.setattr(_missing, "kernel_pass_pays", lambda *args, **kwargs: False)
    monkeypatch.setattr(_missing_rowpath, "ROW_BLOCK_DOUBLES", 4096)   # many blocks
    # moment rows: sub-blocks of 16 rows, blocks of 128
    monkeypatch.setattr(_missing_rowpath, "MOMENT_BLOCK_DOUBLES", 16)
    plan = _missing.PatternPlan(X, None, 0, K)
    assert plan.patterns == [] and len(plan.groups) == 1
    assert (models.moment_params() is not None) == (route == "moment rows")
    assert (models.row_factors32() is not None) == single
    # and with slots of one block (on these few blocks, the default) or of runs of 3
    got = {0: [], 3: []}
    before = _missing_rows.slot_budget()
    before_blocks = _missing_rows.slot_blocks()
    try:
        for blocks in got:
            _missing_rows.slot_blocks(blocks)
            for budget in (before, 1):
                _missing_rows.slot_budget(budget)
                for n_threads in (1, 2):
                    st = _missing.piece_stats(models, plan, 0, n_threads)
                    got[blocks].append(np.concatenate([st.N, st.S1.ravel(),
                                                       st.S2.ravel(), [st.L, st.sum_w]]))
    finally:
        _missing_rows.slot_budget(before)
        _missing_rows.slot_blocks(before_blocks)
    for runs in got.values():
        assert all(np.array_equal(g, runs[0]) for g in runs[1:])
    # the runs group the blocks' sums otherwise: the same statistics to the rounding
    # of a few additions of sums of ~600 terms (of 1e-16 of the largest)
    one, three = got[0][0], got[3][0]
    assert not np.array_equal(one, three)
    np.testing.assert_allclose(three, one, rtol=0, atol=1e-14 * np.abs(one).max())
    with pytest.raises(ValueError, match=r"slot budget \(doubles\) must be at least 1"):
        _missing_rows.slot_budget(0)
    with pytest.raises(ValueError, match="blocks a slot must be at least 0"):
        _missing_rows.slot_blocks(-1)
