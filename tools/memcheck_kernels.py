"""Drive every compiled kernel entry point once per code path, small, for valgrind
(the kernel module, the missing values' row pass, and k-means through the fits).

Every covariance type, both dtypes, D below and above the BLAS threshold (8) and the
wide-block threshold (32), 'full' both through moment rows and per component, with and
without sample weights, 1 and 2 threads, a partial last block, a single row, and
the error paths (a row of zero density, shapes that do not match). Checks the answers
against the numpy reference too, so a bounds error that returns garbage also fails.
"""

import sys
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(_ROOT), str(_ROOT / "tests")]  # this checkout's gmmfast, _reference

from gmmfast import GaussianMixture, _estep, _kernels, _mstep  # noqa: E402

import _reference  # noqa: E402


def model_for(rng, cov_type, K, D, dtype):
    weights = rng.dirichlet(np.ones(K))
    means = 2 * rng.normal(size=(K, D))
    cov = {"full": np.array([np.eye(D) * 1.5] * K), "tied": np.eye(D) * 1.5,
           "diag": rng.uniform(0.5, 2, size=(K, D)),
           "spherical": rng.uniform(0.5, 2, size=K)}[cov_type]
    U = _mstep.precision_cholesky(cov, cov_type)
    return weights, means, cov, _estep.KernelModel(cov_type, weights, means, U, dtype)


def main():
    rng = np.random.default_rng(0)
    checked = 0
    paths = [(c, None) for c in ("tied", "diag", "spherical")]
    paths += [("full", 0.0), ("full", np.inf)]   # per component / moment rows (D >= 8)
    default_spread = _estep.MOMENTS_MAX_SPREAD
    for cov_type, spread in paths:
        _estep.MOMENTS_MAX_SPREAD = default_spread if spread is None else spread
        for dtype in (np.float64, np.float32):
            for D in (3, 9, 33):
                for n in (1, 300):  # one row; a full block of 256 and a partial one
                    # 'diag' with K = 13 too: the remainders of its tiles (csrc/diag_products.h)
                    K = 13 if cov_type == "diag" and D == 9 else 3
                    weights, means, cov, model = model_for(rng, cov_type, K, D, dtype)
                    X = (2 * rng.normal(size=(n, D))).astype(dtype)
                    lp = _reference.log_prob(X.astype(np.float64), weights, means, cov,
                                             cov_type)
                    for n_threads in (1, 2):
                        lse, resp, labels = _estep.per_sample(
                            X, model, n_threads, lse=True, resp=True, labels=True)
                        assert np.allclose(lse, logsumexp(lp, axis=1), rtol=1e-4)
                        assert np.array_equal(labels, lp.argmax(axis=1))
                        for w in (None, rng.uniform(0, 2, size=n)):
                            stats = _estep.suff_stats(X, w, model, n_threads)
                            wv = np.ones(n) if w is None else w
                            R = np.exp(lp - logsumexp(lp, axis=1)[:, None]) * wv[:, None]
                            assert np.allclose(stats.N, R.sum(axis=0), rtol=1e-4,
                                               atol=1e-6)
                            checked += 1
                # error paths: a row whose quadratic form overflows (zero density in
                # float64; float32 paths that square in double stay finite), and
                # outputs of the wrong shape
                bad = X.copy()
                bad[0] = 1e200 if dtype == np.float64 else np.finfo(np.float32).max
                for call in (lambda: _estep.per_sample(bad, model, 2, lse=True)[0],
                             lambda: np.array([_estep.suff_stats(bad, None, model, 2).L])):
                    try:
                        out = call()
                    except ValueError:
                        continue
                    assert dtype == np.float32 and not np.isnan(out).any()
                try:
                    _kernels.block_logprob(model.params, X, np.empty(n + 1),
                                           np.empty((0, 0), dtype), np.empty(0, np.intp),
                                           256, 1)
                    raise AssertionError("shape mismatch not reported")
                except ValueError:
                    pass
    _estep.MOMENTS_MAX_SPREAD = default_spread
    # precision_cholesky: success and a failing component
    mats = np.array([np.eye(4), np.zeros((4, 4)), np.eye(4)])
    out = np.empty_like(mats)
    assert _kernels.precision_cholesky(mats, out) == 1
    # missing values: the compiled row pass (_missing_rows) through moment rows (D = 9,
    # components near the mixture mean) and per component (D = 3 and 6, the loops at a
    # fixed D, 'full' and 'tied'; D = 9 'tied' and D = 11 'full' far apart: the float64
    # lanes, 11 padded to 12; D = 17
    # and 37 float32, far apart: the float32 lanes, 17 padded to 20 and a rest of
    # rows, the float32 scatter's rows padded to 32 and 64, the conditional
    # covariances all components at once and one at a time), every row in it, and a
    # component of weight 0 (its inverses are never formed, and the statistics must
    # not read them)
    from gmmfast import _missing, _missing_rows, _missing_rowpath

    pays = _missing.kernel_pass_pays
    _missing.kernel_pass_pays = lambda *args, **kwargs: False
    # (kernel_pass_mask asks kernel_pass_pays of the patterns it does not rule out)
    cd_mode = _missing_rows.conditional_covariances_mode()
    try:
        # K = 10: the m x m lanes' fixed-m groups (8 or 4 components) and their rest
        for cov_type, D, dt, cd, K, far in (("full", 9, np.float64, "cost", 3, False),
                                            ("full", 3, np.float64, "cost", 3, False),
                                            ("tied", 3, np.float64, "cost", 3, False),
                                            ("tied", 9, np.float64, "cost", 3, False),
                                            ("full", 11, np.float64, "cost", 10, True),
                                            ("full", 17, np.float32, "together", 3, True),
                                            ("full", 37, np.float32, "apart", 3, True),
                                            ("full", 6, np.float64, "cost", 10, False),
                                            ("full", 17, np.float32, "together", 10,
                                             True)):
            _missing_rows.conditional_covariances_mode(cd)
            weights, means, cov, _ = model_for(rng, cov_type, K, D, np.float64)
            means *= 30.0 if far else 0.3
            U = _mstep.precision_cholesky(cov, cov_type)
            zeroed = weights.copy()
            zeroed[1] = 0.0
            for wts in (weights, zeroed / zeroed.sum()):
                models = _missing.MarginalModels(cov_type, wts, means, U, dt)
                assert (models.row_factors32() is not None) == (dt == np.float32)
                assert (models.moment_params() is not None) == (D == 9 and
                                                                 cov_type == "full")
                Xm = means[rng.integers(0, K, 300)] + rng.normal(size=(300, D))
                Xm[rng.random(Xm.shape) < 0.2] = np.nan
                Xm[np.isnan(Xm).all(axis=1), 0] = 0.0
                plan = _missing.PatternPlan(Xm, None, 0, K)
                for n_threads in (1, 2):
                    st = _missing.piece_stats(models, plan, 0, n_threads)
                    assert np.isfinite(st.S2).all() and np.isfinite(st.N).all()
                    outs = [np.empty(300), np.empty((300, K)), np.empty(300, np.intp)]
                    _missing.piece_outputs(models, plan, 0, n_threads, outs, lse=True,
                                           resp=True, labels=True)
                    assert np.isfinite(outs[0]).all()
                    checked += 2
                    # impute's outputs of the same pass: conditional means and draws
                    for group in plan.groups:
                        cm, lse = _missing_rowpath.rows_conditional_means(
                            models, group, n_threads)
                        dr, lse2 = _missing_rowpath.rows_conditional_draws(
                            models, group, lambda resp: (
                                resp.argmax(axis=1),
                                np.random.RandomState(0).standard_normal(
                                    (resp.shape[0], group.Mi.shape[1]))), n_threads)
                        assert np.isfinite(lse).all() and np.isfinite(cm).all()
                        assert np.isfinite(lse2).all() and np.isfinite(dr).all()
                        checked += 3
                # the statistics again over blocks of ~20-60 rows (moment rows: 16
                # a sub-block), runs of 3 blocks a slot: a slot's later blocks add
                # to what its first wrote, or write what it left
                blocks = (_missing_rowpath.ROW_BLOCK_DOUBLES,
                          _missing_rowpath.MOMENT_BLOCK_DOUBLES)
                slot_blocks = _missing_rows.slot_blocks(3)
                try:
                    _missing_rowpath.ROW_BLOCK_DOUBLES = 2048
                    _missing_rowpath.MOMENT_BLOCK_DOUBLES = 16
                    for n_threads in (1, 2):
                        st = _missing.piece_stats(models, plan, 0, n_threads)
                        assert np.isfinite(st.S2).all() and np.isfinite(st.N).all()
                        checked += 1
                finally:
                    (_missing_rowpath.ROW_BLOCK_DOUBLES,
                     _missing_rowpath.MOMENT_BLOCK_DOUBLES) = blocks
                    _missing_rows.slot_blocks(slot_blocks)
    finally:
        _missing.kernel_pass_pays = pays
        _missing_rows.conditional_covariances_mode(cd_mode)
    # the estimator end to end, both dtypes
    X = _reference.make_data(0, n=300)
    for dtype in (np.float64, np.float32):
        for cov_type in ("full", "tied", "diag", "spherical"):
            gm = GaussianMixture(3, covariance_type=cov_type, random_state=0,
                                 n_threads=2).fit(X.astype(dtype))
            gm.predict_proba(X.astype(dtype))
            Xh = X.astype(dtype)
            Xh[np.random.default_rng(1).random(Xh.shape) < 0.2] = np.nan
            Xh[np.isnan(Xh).all(axis=1), 0] = 0.0
            gm.impute(Xh)
            gm.impute(Xh, method="sample", random_state=0)
    print(f"memcheck driver: {checked} kernel calls checked, all paths run")


if __name__ == "__main__":
    main()
