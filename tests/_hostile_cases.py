"""The table of hostile inputs of tests/test_hostile.py, and the child that runs it.

Run as a script, this module is the child process: it runs the named cases (all when
none are named), one after the other, and prints one line ``@@CASE <json>`` per case as
soon as the case is done, so that the parent knows which case was running if the
process dies. Every case is run through scikit-learn's GaussianMixture and through
gmmfast's in the same process, and the child writes down, per call:

- what scikit-learn did (returned, or raised: exception class and its bases);
- what gmmfast did; when both returned, whether gmmfast's result is bit-for-bit the
  result gmmfast gives on a clean C-contiguous float64 (or float32) copy of the input;
- whether the input object is unchanged afterwards (same pickle, same writeable flag).

The verdict (``problems``) is computed here; test_hostile.py asserts it is empty.

Case kinds
----------
fit        the input is X of ``fit``; when the fit succeeds, predict, predict_proba,
           score_samples, score and sample(3) of the fitted model are compared too.
predict    a model fitted on clean data gets the input as X of predict,
           predict_proba, score_samples and score.
param      constructor keyword arguments, then fit on clean data.
weight     the input is sample_weight of fit (gmmfast only: scikit-learn's fit takes
           no sample_weight), with the exception type the case names.
sample     the input is n_samples of sample() on a fitted model.
unfitted   predict, predict_proba, score_samples, score, bic and sample on a model
           that was never fitted.
"""

import json
import os
import pickle
import re
import sys
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

D = 3  # features of the clean data


def clean_data(n=40, seed=0):
    """Two separated blobs in 3-D, float64, C-contiguous."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D))
    X[: n // 2] += 6.0
    return X


@dataclass
class Case:
    name: str
    kind: str
    make: object                      # () -> the hostile input (fresh each call)
    msg: str = ""                     # regex gmmfast's message must match (re.I)
    params: dict = field(default_factory=dict)
    # scikit-learn returns NaN/inf here without a word; gmmfast may raise ValueError
    # instead (the child checks that scikit-learn's output really is non-finite)
    sk_silently_wrong: bool = False
    # for kinds scikit-learn cannot run (weight, n_threads), and for deliberate
    # deviations: the builtin exception classes gmmfast's error must be an instance of
    expect: tuple = ()
    # why gmmfast raises (expect) where scikit-learn returns; the child checks that
    # scikit-learn does return, so the entry goes stale loudly if scikit-learn changes
    deviation: str = ""


def _readonly(X):
    X = X.copy()
    X.flags.writeable = False
    return X


def _fortran(X):
    return np.asfortranarray(X)


def _with(value, rows=(3, 7), col=1):
    def make():
        X = clean_data()
        X[list(rows), col] = value
        return X
    return make


def _far_entry(value):
    # 300 rows: on these the old k-means wrote out of bounds (heap corruption, or a
    # segfault), where on 40 it happened to survive
    X = clean_data(300)
    X[7, 0] = value
    return X


def _duplicated():
    # 4 distinct points, each 10 times: a 'full' component on them is singular
    base = np.random.default_rng(1).normal(size=(4, D))
    return np.repeat(base, 10, axis=0)


def _wide():
    return np.random.default_rng(2).normal(size=(6, 20))


def _constant_feature():
    X = clean_data()
    X[:, 2] = 5.0
    return X


NON_FINITE = r"(NaN|inf).*(remove|impute|clip)"
SHAPE = r"reshape|expecting \d+ features"
DTYPE = r"numbers only.*convert|complex.*X\.real"
SPARSE = r"dense|toarray|sparse"
MIN_SAMPLES = r"minimum of \d|lower n_components or fit on more samples"
PARAM = r"must be|should be|got"
SINGULAR = r"reg_covar.*n_components"
ZERO_DENSITY = r"zero probability.*(scale|reg_covar)"
SPREAD = r"too spread out.*overflow float(32|64).*scale"

FIT_CASES = [
    Case("fit_nan", "fit", _with(np.nan), NON_FINITE),
    Case("fit_inf", "fit", _with(np.inf), NON_FINITE),
    Case("fit_neg_inf", "fit", _with(-np.inf), NON_FINITE),
    Case("fit_empty", "fit", lambda: np.empty((0, D)), MIN_SAMPLES),
    Case("fit_zero_features", "fit", lambda: np.empty((10, 0)), r"feature"),
    Case("fit_1d", "fit", lambda: clean_data()[:, 0], SHAPE),
    Case("fit_3d", "fit", lambda: clean_data().reshape(4, 10, D), SHAPE),
    Case("fit_scalar", "fit", lambda: 3.0, SHAPE),
    Case("fit_one_sample", "fit", lambda: clean_data()[:1], MIN_SAMPLES,
         params={"n_components": 1}),
    Case("fit_fewer_samples_than_components", "fit", lambda: clean_data()[:3],
         MIN_SAMPLES, params={"n_components": 5}),
    Case("fit_csr", "fit", lambda: sp.csr_matrix(clean_data()), SPARSE),
    Case("fit_csc", "fit", lambda: sp.csc_matrix(clean_data()), SPARSE),
    Case("fit_coo_array", "fit", lambda: sp.coo_array(clean_data()), SPARSE),
    Case("fit_complex", "fit", lambda: clean_data() + 1j, DTYPE),
    Case("fit_object_numbers", "fit", lambda: clean_data().astype(object)),
    Case("fit_object_strings", "fit",
         lambda: np.array([["a", "b", "c"]] * 10, dtype=object), DTYPE),
    Case("fit_str_dtype", "fit", lambda: clean_data().astype(str), DTYPE),
    Case("fit_bytes_dtype", "fit", lambda: clean_data().astype("S8"), DTYPE),
    Case("fit_bool", "fit", lambda: clean_data() > 0),
    Case("fit_int64", "fit", lambda: (clean_data() * 10).astype(np.int64)),
    Case("fit_uint8", "fit", lambda: (clean_data() * 10 + 100).astype(np.uint8)),
    Case("fit_float16", "fit", lambda: clean_data().astype(np.float16)),
    Case("fit_float32_fortran", "fit",
         lambda: _fortran(clean_data().astype(np.float32))),
    Case("fit_longdouble", "fit", lambda: clean_data().astype(np.longdouble)),
    Case("fit_fortran", "fit", lambda: _fortran(clean_data())),
    Case("fit_row_strided", "fit", lambda: clean_data(80)[::2]),
    Case("fit_col_strided", "fit", lambda: np.repeat(clean_data(), 2, axis=1)[:, ::2]),
    Case("fit_negative_stride", "fit", lambda: clean_data()[::-1, ::-1]),
    Case("fit_readonly", "fit", lambda: _readonly(clean_data())),
    Case("fit_readonly_float32", "fit",
         lambda: _readonly(clean_data().astype(np.float32))),
    Case("fit_list", "fit", lambda: clean_data().tolist()),
    Case("fit_ragged_list", "fit", lambda: [[1.0, 2.0], [3.0]], r"same number.*Pad"),
    # scikit-learn's fit converts numeric strings, its scoring methods refuse them
    Case("fit_list_of_strings", "fit", lambda: [["1.5", "2"], ["3", "4"], ["5", "7"]],
         DTYPE),
    Case("fit_huge_1e300", "fit", lambda: clean_data() * 1e300, SPREAD),
    # one entry far out: k-means' squared distances overflow (NaN labels, out of the
    # centres' range: a crash of the interpreter before they were refused)
    Case("fit_one_entry_1e155", "fit", lambda: _far_entry(1e155), SPREAD),
    Case("fit_float32_one_entry_1e20", "fit",
         lambda: _far_entry(1e20).astype(np.float32), SPREAD),
    # the same far entry with the starts that skip k-means: the initial covariances'
    # squares overflow (numpy's warnings, then a 'collapsed' component, before)
    Case("fit_one_entry_1e200_random_init", "fit", lambda: _far_entry(1e200), SPREAD,
         params={"init_params": "random"}),
    Case("fit_one_entry_1e200_kmeanspp_init", "fit", lambda: _far_entry(1e200), SPREAD,
         params={"init_params": "k-means++"}),
    # (scikit-learn fits NaN parameters here; gmmfast named row 0, not the far one)
    Case("fit_one_entry_1e200_random_init_diag", "fit", lambda: _far_entry(1e200),
         SPREAD, params={"init_params": "random", "covariance_type": "diag"},
         sk_silently_wrong=True),
    Case("fit_huge_1e150", "fit", lambda: clean_data() * 1e150),
    Case("fit_float32_huge_1e30", "fit", lambda: clean_data().astype(np.float32) * 1e30,
         r"overflow float32.*(scale|float64)"),
    Case("fit_float32_large_1e15", "fit",
         lambda: clean_data().astype(np.float32) * 1e15),
    Case("fit_tiny_1e-300", "fit", lambda: clean_data() * 1e-300),
    Case("fit_one_point_repeated", "fit", lambda: np.tile([1.0, -2.0, 3.0], (20, 1))),
    Case("fit_duplicates_reg0", "fit", _duplicated, SINGULAR,
         params={"reg_covar": 0.0, "n_components": 2}),
    Case("fit_duplicates_reg0_diag", "fit", _duplicated, SINGULAR,
         params={"reg_covar": 0.0, "n_components": 4, "covariance_type": "diag"}),
    Case("fit_constant_feature", "fit", _constant_feature),
    Case("fit_constant_feature_reg0", "fit", _constant_feature, SINGULAR,
         params={"reg_covar": 0.0}),
    Case("fit_more_features_than_samples", "fit", _wide),
    Case("fit_more_features_than_samples_reg0", "fit", _wide, SINGULAR,
         params={"reg_covar": 0.0}),
]

PREDICT_CASES = [
    Case("predict_nan", "predict", _with(np.nan), NON_FINITE),
    Case("predict_inf", "predict", _with(np.inf), NON_FINITE),
    Case("predict_wrong_features", "predict", lambda: clean_data()[:, :2], SHAPE),
    Case("predict_too_many_features", "predict",
         lambda: np.hstack([clean_data(), clean_data()]), SHAPE),
    Case("predict_1d", "predict", lambda: clean_data()[0], SHAPE),
    Case("predict_3d", "predict", lambda: clean_data().reshape(4, 10, D), SHAPE),
    Case("predict_empty", "predict", lambda: np.empty((0, D)), MIN_SAMPLES),
    Case("predict_zero_features", "predict", lambda: np.empty((5, 0)), r"feature"),
    Case("predict_csr", "predict", lambda: sp.csr_matrix(clean_data()), SPARSE),
    Case("predict_complex", "predict", lambda: clean_data() + 0j, DTYPE),
    Case("predict_object_strings", "predict",
         lambda: np.array([["a", "b", "c"]] * 4, dtype=object), DTYPE),
    Case("predict_str_dtype", "predict", lambda: clean_data().astype(str), DTYPE),
    Case("predict_list_of_strings", "predict", lambda: [["1.5", "2", "3"]], DTYPE),
    Case("predict_object_numbers", "predict", lambda: clean_data().astype(object)),
    Case("predict_bool", "predict", lambda: clean_data() > 5),
    Case("predict_int", "predict", lambda: clean_data().astype(np.int32)),
    Case("predict_float16", "predict", lambda: clean_data().astype(np.float16)),
    Case("predict_float32", "predict", lambda: clean_data().astype(np.float32)),
    Case("predict_fortran", "predict", lambda: _fortran(clean_data())),
    Case("predict_negative_stride", "predict", lambda: clean_data()[::-1]),
    Case("predict_col_strided", "predict",
         lambda: np.repeat(clean_data(), 2, axis=1)[:, ::2]),
    Case("predict_readonly", "predict", lambda: _readonly(clean_data())),
    Case("predict_list", "predict", lambda: clean_data().tolist()),
    Case("predict_one_row", "predict", lambda: clean_data()[:1]),
    Case("predict_huge_1e300", "predict", lambda: clean_data() * 1e300, ZERO_DENSITY,
         sk_silently_wrong=True),
    Case("predict_far_away_1e10", "predict", lambda: clean_data() + 1e10),
    Case("predict_tiny_1e-300", "predict", lambda: clean_data() * 1e-300),
]

_BAD_PARAMS = [
    ("n_components", 0), ("n_components", -1), ("n_components", 2.5),
    ("n_components", "2"), ("n_components", None), ("n_components", 10**6),
    ("n_components", 2**70), ("n_components", True),
    ("covariance_type", "banana"), ("covariance_type", None), ("covariance_type", "FULL"),
    ("tol", -1.0), ("tol", "small"), ("tol", np.nan), ("tol", None), ("tol", np.inf),
    ("reg_covar", -1e-6), ("reg_covar", np.nan), ("reg_covar", "x"),
    ("reg_covar", np.inf),
    ("max_iter", -1), ("max_iter", 2.5), ("max_iter", "10"),
    ("n_init", 0), ("n_init", -2), ("n_init", 1.5),
    ("init_params", "kmeans2"), ("init_params", None),
    ("random_state", "seed"), ("random_state", -1), ("random_state", 1.5),
    ("random_state", 2**32),
    ("warm_start", "yes"), ("warm_start", 2),
    ("verbose", -1), ("verbose", "loud"),
    ("verbose_interval", 0), ("verbose_interval", -3),
    ("weights_init", [0.5, 0.6]), ("weights_init", [1.5, -0.5]),
    ("weights_init", [1.0]), ("weights_init", [[0.5, 0.5]]),
    ("weights_init", [np.nan, 0.5]), ("weights_init", ["a", "b"]),
    ("means_init", np.zeros((3, D))), ("means_init", np.zeros(D)),
    ("means_init", np.full((2, D), np.nan)), ("means_init", [["a"] * D] * 2),
    ("precisions_init", -np.array([np.eye(D)] * 2)),
    ("precisions_init", np.array([np.eye(D)] * 3)),
    ("precisions_init", np.array([[[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [0, 0, 1.0]]] * 2)),
    ("precisions_init", np.full((2, D, D), np.nan)),
]

PARAM_CASES = [
    Case(f"param_{name}={value!r}"[:60], "param", lambda: None, PARAM + "|" + name
         + r"|weights|means|precision|shape|normalized|positive",
         params={"n_components": 2, name: value})
    for name, value in _BAD_PARAMS
] + [
    # odd but valid values scikit-learn accepts: the same fit as the plain value
    Case(f"param_ok_{name}={value!r}", "fit", clean_data, params={name: value})
    for name, value in [("max_iter", True), ("n_init", True), ("verbose_interval", True),
                        ("random_state", True), ("n_init", np.int32(2)),
                        ("tol", np.float32(1e-3)), ("warm_start", np.bool_(False)),
                        ("reg_covar", 0), ("reg_covar", 1e300), ("n_components", np.int64(2))]
] + [
    Case("param_diag_precisions_negative", "param", lambda: None, r"positive",
         params={"n_components": 2, "covariance_type": "diag",
                 "precisions_init": -np.ones((2, D))}),
    Case("param_spherical_precisions_zero", "param", lambda: None, r"positive",
         params={"n_components": 2, "covariance_type": "spherical",
                 "precisions_init": np.zeros(2)}),
    Case("param_tied_precisions_wrong_shape", "param", lambda: None, r"shape",
         params={"n_components": 2, "covariance_type": "tied",
                 "precisions_init": np.eye(D + 1)}),
] + [
    # gmmfast's own parameter: InvalidParameterError, a ValueError and a TypeError
    Case(f"param_n_threads={value!r}", "param", lambda: None, r"n_threads.*must be",
         params={"n_components": 2, "n_threads": value}, expect=("ValueError", "TypeError"))
    for value in (0, -2, 1.5, "4")
]

WEIGHT_CASES = [
    Case("weight_negative", "weight", lambda: np.r_[-1.0, np.ones(39)], r">= 0",
         expect=("ValueError",)),
    Case("weight_nan", "weight", lambda: np.r_[np.nan, np.ones(39)], r"finite",
         expect=("ValueError",)),
    Case("weight_inf", "weight", lambda: np.r_[np.inf, np.ones(39)], r"finite",
         expect=("ValueError",)),
    Case("weight_wrong_length", "weight", lambda: np.ones(39), r"shape \(40,\)",
         expect=("ValueError",)),
    Case("weight_2d", "weight", lambda: np.ones((40, 1)), r"shape \(40,\)",
         expect=("ValueError",)),
    Case("weight_all_zero", "weight", lambda: np.zeros(40), r"zero for every",
         expect=("ValueError",)),
    Case("weight_strings", "weight", lambda: np.array(["1"] * 40), r"numeric",
         expect=("ValueError",)),
]

SAMPLE_CASES = [
    Case("sample_0", "sample", lambda: 0, r"at least one"),
    Case("sample_-1", "sample", lambda: -1, r"at least one"),
    Case("sample_float", "sample", lambda: 2.5, r"must be an int", expect=("TypeError",),
         deviation="scikit-learn draws int(2.5) samples; a float count is refused"),
    Case("sample_str", "sample", lambda: "3", r"int"),
    Case("sample_none", "sample", lambda: None, r"int"),
    Case("sample_np_int", "sample", lambda: np.int64(4)),
]

UNFITTED_CASES = [Case("unfitted", "unfitted", clean_data, r"not fitted.*fit")]

CASES = {c.name: c for c in FIT_CASES + PREDICT_CASES + PARAM_CASES + WEIGHT_CASES
         + SAMPLE_CASES + UNFITTED_CASES}
assert len(CASES) == len(FIT_CASES + PREDICT_CASES + PARAM_CASES + WEIGHT_CASES
                         + SAMPLE_CASES + UNFITTED_CASES), "case names must be unique"


# ----------------------------------------------------------------------- the child

_FIT_ATTRS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
              "lower_bound_", "n_iter_", "converged_")
_BUILTIN_SKIP = {"BaseException", "Exception", "object"}


def _outcome(fn):
    """("ok", value) or ("raise", exception)."""
    try:
        return "ok", fn()
    except Exception as exc:  # noqa: BLE001 - recorded and judged below
        return "raise", exc


def _builtin_bases(exc_type):
    return {c.__name__ for c in exc_type.__mro__
            if c.__module__ == "builtins" and c.__name__ not in _BUILTIN_SKIP}


def _same_kind(ours, theirs):
    """gmmfast's exception is scikit-learn's class, a subclass, or a namesake with
    every builtin base of it (scikit-learn's InvalidParameterError vs ours)."""
    if isinstance(ours, type(theirs)):
        return True
    return (type(ours).__name__ == type(theirs).__name__
            and _builtin_bases(type(theirs)) <= _builtin_bases(type(ours)))


def _clean_copy(X):
    arr = np.asarray(X)
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    return np.ascontiguousarray(arr, dtype=dtype)


def _as_arrays(value):
    if isinstance(value, tuple):
        return list(value)
    return [value]


def _bitwise_equal(a, b):
    a, b = _as_arrays(a), _as_arrays(b)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype != y.dtype or x.shape != y.shape:
            return False
        if x.tobytes() != y.tobytes():
            return False
    return True


def _non_finite(value):
    return any(not np.isfinite(np.asarray(v, dtype=np.float64)).all()
               for v in _as_arrays(value))


def _fit_result(est):
    return tuple(np.asarray(getattr(est, a)) for a in _FIT_ATTRS)


def _describe(exc):
    return f"{type(exc).__name__}: {exc}"


class _Judge:
    """Collects the problems of one case."""

    def __init__(self, case):
        self.case = case
        self.problems = []
        self.calls = {}

    def compare(self, call, sk, gf, clean=None):
        """sk, gf: outcomes of the call; clean: () -> gmmfast's result on clean input."""
        (sk_kind, sk_val), (gf_kind, gf_val) = sk, gf
        if self.case.deviation:
            self.expect(call, gf)
            if sk_kind != "ok":
                self.problems.append(f"{call}: listed as a deviation ({self.case.deviation})"
                                     f" but scikit-learn raised {_describe(sk_val)!r}")
            return
        self.calls[call] = {
            "sklearn": _describe(sk_val) if sk_kind == "raise" else "ok",
            "gmmfast": _describe(gf_val) if gf_kind == "raise" else "ok",
        }
        if sk_kind == "raise" and gf_kind == "ok":
            self.problems.append(f"{call}: scikit-learn raised {_describe(sk_val)!r} but "
                                 "gmmfast returned")
        elif sk_kind == "raise":
            if not _same_kind(gf_val, sk_val):
                self.problems.append(
                    f"{call}: gmmfast raised {type(gf_val).__name__}, scikit-learn "
                    f"{type(sk_val).__name__} ({_describe(gf_val)!r})")
            self.check_message(call, gf_val)
        elif gf_kind == "raise":
            if self.case.sk_silently_wrong and _non_finite(sk_val):
                if not isinstance(gf_val, ValueError):
                    self.problems.append(f"{call}: {_describe(gf_val)!r} is not a ValueError")
                self.check_message(call, gf_val)
            else:
                self.problems.append(f"{call}: scikit-learn returned but gmmfast raised "
                                     f"{_describe(gf_val)!r}")
        elif clean is not None:
            if not _bitwise_equal(gf_val, clean()):
                self.problems.append(f"{call}: result differs from the result on a clean "
                                     "C-contiguous float copy of the input")

    def expect(self, call, gf):
        kind, val = gf
        self.calls.setdefault(call, {})["gmmfast"] = _describe(val) if kind == "raise" else "ok"
        if kind == "ok":
            self.problems.append(f"{call}: expected {self.case.expect}, gmmfast returned")
            return
        missing = set(self.case.expect) - _builtin_bases(type(val))
        if missing:
            self.problems.append(f"{call}: {_describe(val)!r} is not a {sorted(missing)}")
        self.check_message(call, val)

    def check_message(self, call, exc):
        if not self.case.msg:
            self.problems.append(f"{call}: the case declares no message pattern but "
                                 f"gmmfast raised {_describe(exc)!r}")
        elif not re.search(self.case.msg, str(exc), flags=re.I | re.S):
            self.problems.append(f"{call}: message {str(exc)!r} does not match "
                                 f"{self.case.msg!r} (it should say what to change)")


def _plain_params(params):
    """numpy scalars as Python scalars, bools as ints (but warm_start stays a bool)."""
    out = {}
    for name, value in params.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bool) and name != "warm_start":
            value = int(value)
        out[name] = value
    return out


def _predict_calls(est, X):
    return {
        "predict": lambda: est.predict(X),
        "predict_proba": lambda: est.predict_proba(X),
        "score_samples": lambda: est.score_samples(X),
        "score": lambda: np.float64(est.score(X)),
    }


def run_case(case):
    from sklearn.mixture import GaussianMixture as Sk

    from gmmfast import GaussianMixture as Gf

    judge = _Judge(case)
    data = case.make()
    before = pickle.dumps(data)
    writeable = getattr(data, "flags", None) is not None and data.flags.writeable
    params = {"random_state": 0, "n_components": 2, **case.params}
    sk_params = {k: v for k, v in params.items() if k != "n_threads"}

    if case.kind in ("fit", "param"):
        X = data if case.kind == "fit" else clean_data()
        sk_est, gf_est = Sk(**sk_params), Gf(**params)
        sk = _outcome(lambda: _fit_result(sk_est.fit(X)))
        gf = _outcome(lambda: _fit_result(gf_est.fit(X)))
        if case.expect:
            judge.expect("fit", gf)
        else:
            clean_est = Gf(**_plain_params(params))
            judge.compare("fit", sk, gf, lambda: _fit_result(clean_est.fit(_clean_copy(X))))
            if sk[0] == "ok" and gf[0] == "ok":
                Xc = _clean_copy(X)
                for call, fn in _predict_calls(gf_est, X).items():
                    sk_fn = _predict_calls(sk_est, X)[call]
                    clean_fn = _predict_calls(clean_est, Xc)[call]
                    judge.compare(call, _outcome(sk_fn), _outcome(fn), clean_fn)
                judge.compare("sample", _outcome(lambda: sk_est.sample(3)),
                              _outcome(lambda: gf_est.sample(3)),
                              lambda: clean_est.sample(3))
    elif case.kind == "predict":
        Xtrain = clean_data()
        sk_est, gf_est = Sk(**sk_params).fit(Xtrain), Gf(**params).fit(Xtrain)
        for call, fn in _predict_calls(gf_est, data).items():
            sk_fn = _predict_calls(sk_est, data)[call]
            clean_fn = lambda call=call: _predict_calls(gf_est, _clean_copy(data))[call]()
            judge.compare(call, _outcome(sk_fn), _outcome(fn), clean_fn)
    elif case.kind == "weight":
        judge.expect("fit", _outcome(lambda: Gf(**params).fit(clean_data(),
                                                               sample_weight=data)))
    elif case.kind == "sample":
        Xtrain = clean_data()
        sk_est, gf_est = Sk(**sk_params).fit(Xtrain), Gf(**params).fit(Xtrain)
        judge.compare("sample", _outcome(lambda: sk_est.sample(data)),
                      _outcome(lambda: gf_est.sample(data)),
                      lambda: gf_est.sample(int(data)))
    elif case.kind == "unfitted":
        sk_est, gf_est = Sk(**sk_params), Gf(**params)
        calls = dict(_predict_calls(gf_est, data), bic=lambda: gf_est.bic(data),
                     sample=lambda: gf_est.sample(3))
        sk_calls = dict(_predict_calls(sk_est, data), bic=lambda: sk_est.bic(data),
                        sample=lambda: sk_est.sample(3))
        for call, fn in calls.items():
            judge.compare(call, _outcome(sk_calls[call]), _outcome(fn))
    else:
        raise ValueError(f"unknown case kind {case.kind}")

    if pickle.dumps(data) != before:
        judge.problems.append("the input was modified")
    if writeable != (getattr(data, "flags", None) is not None and data.flags.writeable):
        judge.problems.append("the input's writeable flag changed")
    return {"name": case.name, "problems": judge.problems, "calls": judge.calls}


def main(names):
    warnings.simplefilter("ignore")
    crash = os.environ.get("GMMFAST_HOSTILE_CRASH")  # test of the harness: a real segfault
    for name in names or list(CASES):
        if name == crash:
            import ctypes
            ctypes.string_at(0)
        try:
            report = run_case(CASES[name])
        except Exception:  # noqa: BLE001 - a bug of the harness or of setup: report it
            report = {"name": name, "calls": {},
                      "problems": ["the case itself failed:\n" + traceback.format_exc()]}
        print("@@CASE " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
