"""The input check for NaN and infinity (_validation.check_finite): compiled,
vectorised and threaded for C-contiguous float arrays (_kernels.any_not_finite)."""

import numpy as np
import pytest

from gmmfast import GaussianMixture, _kernels

# a short fit on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Best performing initialization")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_a_bad_entry_is_found_anywhere_on_any_thread_count(dtype, value):
    """Over chunks and threads, a single bad entry anywhere, including the last of a
    partial last chunk, is found on 1 and 3 threads."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(70_001, 19)).astype(dtype)      # 1.33e6 entries: 21 chunks
    assert not _kernels.any_not_finite(X, 1)
    assert not _kernels.any_not_finite(X, 3)
    for pos in (0, 65_535, 65_536, 700_000, X.size - 1):
        Y = X.copy()
        Y.flat[pos] = value
        assert _kernels.any_not_finite(Y, 1)
        assert _kernels.any_not_finite(Y, 3)


def test_large_input_with_infinity_in_its_last_row_is_named():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100_000, 11))
    gm = GaussianMixture(2, random_state=0, max_iter=2).fit(X[:1000])
    X[-1, -1] = np.inf
    with pytest.raises(ValueError, match=r"infinity \(inf\) in 1 row \(first: row 99999\)"):
        gm.score_samples(X)
    X[5, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN in 1 row \(first: row 5\)"):
        gm.predict(X)


@pytest.mark.parametrize("n_threads", ["two", 0, 2.5, np.array([2, 2])])
def test_invalid_n_threads_leaves_the_parameter_error_to_fit(n_threads):
    """check_X runs before the parameters are checked: an invalid n_threads must not
    break the finiteness check, and fit still names the parameter."""
    X = np.random.default_rng(2).normal(size=(2000, 600))   # above the threaded size
    with pytest.raises((ValueError, TypeError), match="n_threads"):
        GaussianMixture(2, n_threads=n_threads).fit(X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("method", ["score_samples", "predict_proba", "predict", "score"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_the_outputs_pass_checks_every_block_it_reads(dtype, method, n_threads):
    """The per-sample outputs check X as their kernel reads it, block by block, in
    place of a pass of their own: a NaN or an infinity in the first row, in a block in
    the middle, or in the last entry of a partial last block is refused with the
    check's own message, which counts and names the rows."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3001, 7)).astype(dtype)
    gm = GaussianMixture(3, covariance_type="diag", random_state=0, max_iter=2,
                         n_threads=n_threads).fit(X)
    for row, col in ((0, 0), (1500, 3), (3000, 6)):
        for value, message in ((np.nan, "NaN"), (np.inf, r"infinity \(inf\)")):
            Y = X.copy()
            Y[row, col] = value
            with pytest.raises(ValueError,
                               match=rf"X contains {message} in 1 row \(first: row {row}\)"):
                getattr(gm, method)(Y)
    Y = X.copy()
    Y[[7, 2999], [1, 2]] = np.nan
    with pytest.raises(ValueError, match=r"NaN in 2 rows \(first: row 7\)"):
        getattr(gm, method)(Y)
    getattr(gm, method)(X)   # the clean X still passes
