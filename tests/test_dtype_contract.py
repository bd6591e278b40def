"""float32 and float64 as scikit-learn's GaussianMixture takes them.

- ``weights_init``, ``means_init`` and ``precisions_init`` are accepted in either
  dtype, on X of either dtype; weights need to sum to 1 only up to their dtype's
  rounding (scikit-learn's tolerances: 1e-6 for float32, 1e-8 for float64).
- ``score(X)`` is the mean of ``score_samples(X)`` (scikit-learn's definition), also
  for float32 X, whose ``score_samples`` are float32.
"""

from fractions import Fraction

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gmmfast import GaussianMixture

from _reference import K, explicit_init, make_data

COV_TYPES = ["full", "tied", "diag", "spherical"]
DTYPES = [np.float32, np.float64]


def weights_summing_to(dtype, ulps=0, offset=0.0):
    """K weights in ``dtype``: (0.25, 0.375, 0.375 + offset) moved ``ulps`` ulps.

    The first two and 0.375 are exact in both dtypes, so with offset 0 the sum is
    exactly 1 + ulps * ulp(0.375) (2.98e-8 in float32, 5.55e-17 in float64).
    """
    last = np.asarray(0.375 + offset, dtype=dtype)
    for _ in range(abs(ulps)):
        last = np.nextafter(last, dtype(2 if ulps > 0 else 0))
    return np.array([0.25, 0.375, last], dtype=dtype)


def exact_sum(w):
    return sum(Fraction(float(x)) for x in w)


@pytest.mark.parametrize("ulps", [1, -1])
@pytest.mark.parametrize("dtype", DTYPES)
def test_weights_one_ulp_from_summing_to_one(dtype, ulps):
    w = weights_summing_to(dtype, ulps)
    assert 0 < abs(exact_sum(w) - 1) <= float(np.finfo(dtype).eps)  # within an ulp, not 0
    X = make_data(0).astype(dtype)
    gm = GaussianMixture(K, weights_init=w, max_iter=0, random_state=0).fit(X)
    np.testing.assert_array_equal(gm.weights_, w.astype(dtype))
    # scikit-learn takes them too
    SkGaussianMixture(K, weights_init=w, max_iter=0, random_state=0).fit(X)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("x_dtype", DTYPES)
@pytest.mark.parametrize("init_dtype", DTYPES)
def test_every_init_parameter_in_either_dtype(init_dtype, x_dtype, covariance_type):
    X = make_data(1).astype(x_dtype)
    init = explicit_init(X, covariance_type)
    init = {k: np.asarray(v, dtype=init_dtype) for k, v in init.items()}
    init["weights_init"] = weights_summing_to(init_dtype, ulps=1)
    for given in (*init, "all"):
        kw = init if given == "all" else {given: init[given]}
        # max_iter=0: the model is the start, so what was given is what was used
        gm = GaussianMixture(K, covariance_type=covariance_type, max_iter=0,
                             random_state=0, **kw).fit(X)
        assert gm.means_.dtype == x_dtype, given
        if "weights_init" in kw:
            np.testing.assert_array_equal(gm.weights_, init["weights_init"].astype(x_dtype))
        if "means_init" in kw:
            np.testing.assert_array_equal(gm.means_, init["means_init"].astype(x_dtype))
        if "precisions_init" in kw:
            # precisions_ is rebuilt from its Cholesky factor: a few ulps of X's dtype
            rtol = 8 * np.finfo(x_dtype).eps
            np.testing.assert_allclose(gm.precisions_, init["precisions_init"], rtol=rtol,
                                       err_msg=given)


@pytest.mark.filterwarnings("ignore:.*did not converge")
def test_refit_from_a_float32_model():
    """A float32 fit's parameters are a valid start for another fit of float32 data."""
    X = make_data(2).astype(np.float32)
    off = []
    for covariance_type in COV_TYPES:
        first = GaussianMixture(K, covariance_type=covariance_type, random_state=0).fit(X)
        off.append(abs(exact_sum(first.weights_) - 1))
        again = GaussianMixture(K, covariance_type=covariance_type, max_iter=1,
                                weights_init=first.weights_, means_init=first.means_,
                                precisions_init=first.precisions_).fit(X)
        assert again.weights_.dtype == np.float32
    # the case that matters: float32 weights further from 1 than float64's tolerance
    assert max(off) > 1e-8


@pytest.mark.parametrize("dtype, offset", [
    (np.float32, 5e-7), (np.float32, -9e-7), (np.float32, 2e-6), (np.float32, -1e-5),
    (np.float64, 5e-9), (np.float64, -9e-9), (np.float64, 2e-8), (np.float64, -1e-7),
])
def test_weights_are_accepted_exactly_when_scikit_learn_accepts_them(dtype, offset):
    w = weights_summing_to(dtype, offset=offset)
    X = make_data(0).astype(dtype)
    accepted = abs(offset) < {np.float32: 1e-6, np.float64: 1e-8}[dtype]

    def fits(cls):
        try:
            cls(K, weights_init=w, max_iter=0, random_state=0).fit(X)
        except ValueError as exc:
            assert "should be normalized" in str(exc)
            return False
        return True

    assert fits(SkGaussianMixture) == accepted
    assert fits(GaussianMixture) == accepted
    if not accepted:
        with pytest.raises(ValueError, match="divide weights_init by its sum"):
            GaussianMixture(K, weights_init=w).fit(X)


def test_weights_tolerance_follows_the_dtype_given():
    from gmmfast._validation import weights_sum_tolerance

    assert weights_sum_tolerance(np.float32) == 1e-6
    assert weights_sum_tolerance(np.float64) == 1e-8
    assert weights_sum_tolerance(np.int64) == 1e-8  # integers are exact
    # float16: the same ~8.4 ulps of 1 as float32's 1e-6: 1e-6 * 2**-10 / 2**-23
    assert weights_sum_tolerance(np.float16) == pytest.approx(8.192e-3, rel=1e-12)
    w16 = np.array([1 / 3] * 3, dtype=np.float16)  # sums to 1 - 2.4e-4
    GaussianMixture(K, weights_init=w16, max_iter=0).fit(make_data(0))
    with pytest.raises(ValueError, match="more than the 0.0082 that float16 weights"):
        GaussianMixture(K, weights_init=w16 + np.float16(4e-3)).fit(make_data(0))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_score_is_the_mean_of_score_samples(dtype, covariance_type):
    X = make_data(3, offset=50.0).astype(dtype)
    gm = GaussianMixture(K, covariance_type=covariance_type, random_state=0).fit(X)
    samples = gm.score_samples(X)
    assert samples.dtype == dtype
    # the same array averaged the same way: equal, not close
    assert gm.score(X) == float(samples.mean())
    # weighted: the weighted mean of the same values, summed in float64 in another order
    w = np.random.default_rng(0).uniform(size=len(X))
    np.testing.assert_allclose(gm.score(X, sample_weight=w),
                               np.average(samples.astype(np.float64), weights=w),
                               rtol=1e-13)
