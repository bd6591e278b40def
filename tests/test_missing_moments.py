"""The row-by-row pass through moment rows about the mixture mean
(gmmfast/_missing_moments.pxi): when it is taken, and that it computes what the direct
computation does (test_missing's reference, row by row with numpy): rows in runs of
one pattern of several lengths, cut by blocks, every column missing in some rows and
none in others, one component and several, weights, any thread count."""

import numpy as np
import pytest

from test_missing import (_data, _fit, _model_with, _row_path_outputs, _start, reference_em,
                          slot_blocks)


def _model(K, D, seed, spread=1.0):
    """'full' covariances of condition ~10, means ``spread`` times N(0, I)."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(K, D, D)) / np.sqrt(D)
    cov = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(D)
    models, S = _model_with(cov, "full", K, D, rng)
    models.means *= spread
    return models, S


def _runs(models, n, run_lengths, seed):
    """Rows about the means, in runs of one pattern (0 to D - 1 missing) with lengths
    drawn from ``run_lengths``."""
    K, D = models.means.shape
    rng = np.random.default_rng(seed)
    X = models.means[rng.integers(0, K, n)] + rng.normal(size=(n, D))
    i = 0
    while i < n:
        run = int(rng.choice(run_lengths))
        m = int(rng.integers(0, D))
        X[i:i + run, rng.choice(D, m, replace=False)] = np.nan
        i += run
    return X


@pytest.fixture
def routes(monkeypatch):
    """Every row by row, and a record of the route of each compiled pass (whether it
    was given the moment rows' shift)."""
    from gmmfast import _missing, _missing_rows

    monkeypatch.setattr(_missing, "kernel_pass_pays", lambda *args, **kwargs: False)
    taken = []
    real = _missing_rows.rows_pass

    def spy(*args):
        taken.append(args[9].shape[0] > 0)
        return real(*args)

    monkeypatch.setattr(_missing_rows, "rows_pass", spy)
    return taken


@pytest.mark.parametrize("K", [1, 3, 17])
@pytest.mark.parametrize("weighted", [False, True])
def test_moment_rows_are_the_direct_computation(K, weighted, routes, slot_blocks,
                                                monkeypatch):
    from gmmfast import _missing, _missing_rowpath

    D, n = 10, 700
    models, S = _model(K, D, seed=50 + K)
    # runs of 2, 9, 12 and 150 rows (cut by the blocks)
    X = _runs(models, n, [2, 9, 12, 150], seed=51 + K)
    w = np.random.default_rng(52).uniform(0.2, 3.0, n) if weighted else None
    # sub-blocks of ~60 rows, blocks of 8 of them: both cut runs
    monkeypatch.setattr(_missing_rowpath, "MOMENT_BLOCK_DOUBLES", 64 * (66 + K))
    assert _missing_rowpath._row_block(_missing.PatternPlan(X, w, 0, K).groups[0], K,
                                       True)[1] < 64
    plan, ref, (lse, resp, labels) = _row_path_outputs(X, w, models, S)
    st = _missing.piece_stats(models, plan, 0, 2)
    assert routes == [True, True]
    # log-densities of ~10 in size, means ~1 from the mixture mean: the expansion
    # about it costs a few ulps of the terms' size, against scipy's eigendecomposition
    np.testing.assert_allclose(lse, ref[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(resp, ref[1], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(labels, ref[2])
    # sums over 700 rows of terms of size ~10, taken about the mixture mean and moved
    # to the means: a few hundred ulps of 1e4 at most
    np.testing.assert_allclose(st.N, ref[3], rtol=1e-12)
    np.testing.assert_allclose(st.S1, ref[4], rtol=0, atol=1e-10)
    np.testing.assert_allclose(st.S2, ref[5], rtol=0, atol=1e-10)
    assert np.array_equal(st.S2, np.swapaxes(st.S2, -1, -2))
    assert st.L == pytest.approx(ref[6], rel=1e-13)
    assert st.sum_w == pytest.approx(ref[7], rel=1e-14)
    # the same bits on any number of threads
    for n_threads in (1, 3):
        other = _missing.piece_stats(models, plan, 0, n_threads)
        for name in ("N", "S1", "S2"):
            assert np.array_equal(getattr(other, name), getattr(st, name))
        assert other.L == st.L


def _route(models, X):
    from gmmfast import _missing

    K = models.means.shape[0]
    plan = _missing.PatternPlan(X, None, 0, K)
    _missing.piece_stats(models, plan, 0, 1)


def test_route_taken_only_where_it_keeps_precision(routes):
    K, D = 3, 9
    models, _ = _model(K, D, seed=60)
    _route(models, _runs(models, 400, [20], seed=61))
    # rows each of its own pattern: the products over a missing column are taken for
    # all the rows missing it at once, whatever their patterns
    _route(models, _runs(models, 400, [1, 2], seed=62))
    # means far apart in the precisions' metric: the expansion about the mixture mean
    # would cost precision
    far, _ = _model(K, D, seed=60, spread=30.0)
    _route(far, _runs(far, 400, [20], seed=61))
    # too few features
    few, _ = _model(K, 7, seed=63)
    _route(few, _runs(few, 400, [20], seed=64))
    assert routes == [True, True, False, False]


def test_fill_spread_bounds_every_missing_block():
    from gmmfast import _missing

    rng = np.random.default_rng(70)
    K, D = 4, 7
    A = rng.normal(size=(K, D, D))
    P = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(D)
    m = rng.normal(size=(K, D)) * 3
    bound = _missing.fill_spread(m, P)
    worst = np.zeros(K)
    for mask in range(1, 2**D):
        M = np.array([(mask >> j) & 1 for j in range(D)], dtype=bool)
        mM = m[:, M]
        worst = np.maximum(worst, np.einsum("ki,kij,kj->k", mM, P[:, M][:, :, M], mM))
    assert np.all(worst <= bound * (1 + 1e-12))
    # not loose by more than the spread of P's eigenvalues allows
    assert np.all(bound <= worst * np.linalg.cond(P))


def test_fit_through_moment_rows_is_the_numpy_em(routes):
    # 10 features, 15% missing, 2,000 rows: ~120 patterns, every row row by row
    X, _ = _data(n=2000, D=10, seed=80, frac=0.15)
    gm = _fit(X, "full", 6)
    assert routes and all(routes)
    weights, means, cov, _ = _start(X, "full")
    ref = reference_em(X, None, weights, means, cov, "full", gm.reg_covar, 6)
    # 6 iterations of sums over 2,000 rows about the mixture mean: rounding far below
    # 1e-10 of parameters of size ~1-10
    np.testing.assert_allclose(gm.weights_, ref[0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(gm.means_, ref[1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(gm.covariances_, ref[2], rtol=0, atol=1e-10)
    assert abs(gm.lower_bound_ - ref[3]) < 1e-10 * abs(ref[3])


def test_empty_component_through_moment_rows(routes):
    # a weight of 0: log 0 = -inf in the moment rows' weights; the component is never
    # chosen, its responsibilities and statistics are exactly 0, nothing is NaN
    from gmmfast import _missing

    K, D, n = 3, 9, 300
    models, S = _model(K, D, seed=95)
    models.weights = np.array([0.6, 0.0, 0.4])
    X = _runs(models, n, [1, 5, 20], seed=96)
    with np.errstate(divide="ignore"):     # the reference's log 0
        plan, ref, (lse, resp, labels) = _row_path_outputs(X, None, models, S)
    st = _missing.piece_stats(models, plan, 0, 2)
    assert routes == [True, True]
    assert np.all(resp[:, 1] == 0.0) and not np.any(labels == 1)
    assert st.N[1] == 0.0 and np.all(st.S1[1] == 0.0) and np.all(st.S2[1] == 0.0)
    assert np.isfinite(lse).all() and np.isfinite(st.S2).all()
    np.testing.assert_allclose(lse, ref[0], rtol=0, atol=1e-12)
