"""scikit-learn's own tests of GaussianMixture, run against gmmfast's.

The test files of the installed scikit-learn are copied to a temporary directory with
their ``from sklearn.mixture import GaussianMixture`` pointed at gmmfast, and run in
one pytest subprocess with scikit-learn's fixtures, float32 parametrisations included
(machinery: tests/_sklearn_suite.py and its plugin). Every test in scope must pass,
except the expected deviations listed below, each with its reason; a listed deviation
that now passes or no longer exists fails too, so a test that scikit-learn adds,
renames or drops shows up here.

Out of scope, deselected with the reason recorded: tests of scikit-learn's private
helpers (``_sklearn_suite.private_helper_tests`` says how they are recognised), and
parametrisations that run a scikit-learn estimator the file does not redirect. What
the rules put out of scope must be EXPECTED_OUT_OF_SCOPE, so a new such test is seen.
"""

from pathlib import Path

import pytest
import sklearn

import _sklearn_suite as suite
from _sklearn_suite import SuiteRunError

#: (test file in sklearn/mixture/tests, estimator names that point at gmmfast's).
SKLEARN_TEST_FILES = (
    ("test_gaussian_mixture.py", ("GaussianMixture",)),
    ("test_mixture.py", ("GaussianMixture", "BayesianGaussianMixture")),
    ("test_bayesian_mixture.py", ("BayesianGaussianMixture",)),
)

_NUMPY_ONLY = ("gmmfast computes in NumPy only, without array API dispatch (fit raises "
               "TypeError on array_api_strict input); skipped where the namespace is "
               "not installed")

#: node id (or pattern, see suite.deviation_matches) -> why gmmfast does not pass it
EXPECTED_DEVIATIONS = {
    "test_gaussian_mixture.py::test_check_weights":
        "a 2-D weights_init gets gmmfast's message ('weights_init' must be "
        "1-dimensional), not scikit-learn's shape text",
    "test_gaussian_mixture.py::test_regularisation":
        "a collapsed component gets gmmfast's message, naming it and the reg_covar and "
        "n_components to change, not scikit-learn's generic text",
    "test_gaussian_mixture.py::test_gaussian_mixture_setting_best_params":
        "with reg_covar=0 two components sit on one sample each: their variance is 0, "
        "which gmmfast computes and refuses as a collapse; scikit-learn's raw moments "
        "round it to 3.6e-16 and 9.5e-16 and go on",
    "test_gaussian_mixture.py::test_gaussian_mixture_raises_where_array_api_not_implemented":
        "gmmfast has no array API dispatch to refuse k-means inits under: with "
        "array_api_dispatch=True it fits NumPy input as usual",
    "test_gaussian_mixture.py::test_gaussian_mixture_array_api_compliance[*-array_api_strict-*]":
        _NUMPY_ONLY,
    "test_gaussian_mixture.py::test_gaussian_mixture_array_api_compliance[*-cupy-*]":
        _NUMPY_ONLY,
    "test_gaussian_mixture.py::test_gaussian_mixture_array_api_compliance[*-torch-*]":
        _NUMPY_ONLY,
    "test_gaussian_mixture.py::test_gaussian_mixture_array_api_compliance[*-dpnp-*]":
        _NUMPY_ONLY,
}

#: What the recognition rules put out of scope (keys as in EXPECTED_DEVIATIONS): a
#: test that scikit-learn adds and the rules recognise shows up here, not silently.
EXPECTED_OUT_OF_SCOPE = (
    # private-helper tests: they call scikit-learn's helpers and never GaussianMixture
    "test_gaussian_mixture.py::test_suffstat_sk_full",
    "test_gaussian_mixture.py::test_suffstat_sk_tied",
    "test_gaussian_mixture.py::test_suffstat_sk_diag",
    "test_gaussian_mixture.py::test_gaussian_suffstat_sk_spherical",
    "test_gaussian_mixture.py::test_compute_log_det_cholesky",
    "test_gaussian_mixture.py::test_gaussian_mixture_log_probabilities",
    # ... or feed their output to the estimator's private methods or mock them
    "test_gaussian_mixture.py::test_gaussian_mixture_precisions_init",
    "test_gaussian_mixture.py::test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters",
    # private-helper tests of the Bayesian mixture's normalisation terms
    "test_bayesian_mixture.py::test_log_dirichlet_norm",
    "test_bayesian_mixture.py::test_log_wishart_norm",
)


def _installed_test_file(name):
    path = Path(sklearn.__file__).parent / "mixture" / "tests" / name
    if not path.is_file():
        raise SuiteRunError(
            f"scikit-learn {sklearn.__version__} is installed without {path}: install "
            "it from its wheel (pip install scikit-learn), which ships its tests")
    return path


@pytest.fixture(scope="module")
def sklearn_run(tmp_path_factory):
    files = {}
    for name, names in SKLEARN_TEST_FILES:
        source = _installed_test_file(name).read_text(encoding="utf-8")
        files[name] = (suite.redirect_imports(source, names, name), names)
    return suite.run(files, tmp_path_factory.mktemp("sklearn_tests"))


def test_sklearn_tests_ran_against_gmmfast(sklearn_run):
    results = sklearn_run["results"]
    assert sklearn_run["sklearn"] == sklearn.__version__
    assert set(sklearn_run["collected"]) == {name for name, _ in SKLEARN_TEST_FILES}
    # SKLEARN_RUN_FLOAT32_TESTS=1 took effect: float32 cases ran and passed
    float32 = [k for k, r in results.items() if "float32" in k and r["outcome"] == "passed"]
    assert float32, "no float32 case passed: was SKLEARN_RUN_FLOAT32_TESTS=1 honoured?"
    passed = sum(r["outcome"] == "passed" for r in results.values())
    print(f"scikit-learn {sklearn.__version__}: {passed} of {len(results)} tests in scope "
          f"passed; {len(sklearn_run['out_of_scope'])} out of scope")


def test_every_sklearn_test_passes_or_is_an_expected_deviation(sklearn_run):
    unexpected = suite.unexpected_outcomes(sklearn_run["results"], EXPECTED_DEVIATIONS)
    assert not unexpected, (
        f"{len(unexpected)} of scikit-learn's tests do not pass against gmmfast; fix "
        "gmmfast, or list each in EXPECTED_DEVIATIONS with a one-line reason:\n"
        + "\n".join(unexpected))


def test_expected_deviations_still_deviate(sklearn_run):
    stale = suite.stale_deviations(sklearn_run["results"], EXPECTED_DEVIATIONS)
    assert not stale, ("stale entries of EXPECTED_DEVIATIONS; remove or narrow them:\n"
                       + "\n".join(stale))


def test_out_of_scope_is_what_is_listed(sklearn_run):
    out = sklearn_run["out_of_scope"]
    unlisted = [f"{n}: {why}" for n, why in out.items()
                if not any(suite.deviation_matches(k, n) for k in EXPECTED_OUT_OF_SCOPE)]
    gone = [k for k in EXPECTED_OUT_OF_SCOPE
            if not any(suite.deviation_matches(k, n) for n in out)]
    assert not unlisted, ("tests newly out of scope; check that each tests scikit-learn's "
                          "internals, then list it in EXPECTED_OUT_OF_SCOPE:\n"
                          + "\n".join(unlisted))
    assert not gone, f"listed in EXPECTED_OUT_OF_SCOPE but not out of scope now: {gone}"


# ---------------------------------------------------------- the machinery itself

_SOURCE = '''\
import numpy as np
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture as GM
from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters, _helper


def _inputs():
    return _estimate_gaussian_parameters(1, 2, 3, "full")


def test_helper_alone():
    assert _helper(1) == 2


def test_helper_through_a_local_function():
    assert _inputs() is not None


def test_helper_for_public_input():
    GM(precisions_init=_inputs()[2]).fit(np.ones((3, 2)))


def test_helper_and_private_members():
    gm = GM()
    gm._set_parameters(_inputs())


def test_private_method_without_helpers():
    assert GM()._n_parameters() > 0


class TestGrouped:
    def test_method_with_helper(self):
        _helper(0)
'''


def test_private_helper_tests_are_recognised():
    found = suite.private_helper_tests(_SOURCE, ("GaussianMixture", "GM"))
    assert set(found) == {"test_helper_alone", "test_helper_through_a_local_function",
                          "test_helper_and_private_members",
                          "TestGrouped.test_method_with_helper"}
    assert "never" in found["test_helper_alone"]
    assert "_estimate_gaussian_parameters" in found["test_helper_through_a_local_function"]
    assert "._set_parameters" in found["test_helper_and_private_members"]


def test_redirect_imports_moves_only_the_named_estimators():
    out = suite.redirect_imports(_SOURCE, ("GaussianMixture",), "t.py")
    assert out.splitlines()[1] == ("from sklearn.mixture import BayesianGaussianMixture; "
                                   "from gmmfast import GaussianMixture as GM")
    # nothing else changed, line numbers kept
    assert out.splitlines()[2:] == _SOURCE.splitlines()[2:]
    multi = "from sklearn.mixture import (\n    GaussianMixture,\n)\nx = 1\n"
    assert suite.redirect_imports(multi, ("GaussianMixture",), "t.py") == \
        "from gmmfast import GaussianMixture\n\n\nx = 1\n"


@pytest.mark.parametrize("source, complaint", [
    ("from sklearn.mixture._gaussian_mixture import GaussianMixture\n", "does not import"),
    ("import sklearn.mixture\nfrom sklearn.mixture import GaussianMixture\n"
     "g = sklearn.mixture.GaussianMixture()\n", "as an attribute"),
])
def test_redirect_imports_refuses_what_it_cannot_redirect(source, complaint):
    with pytest.raises(SuiteRunError, match=complaint):
        suite.redirect_imports(source, ("GaussianMixture",), "t.py")


@pytest.mark.parametrize("body, complaint", [
    # the child dies with exit code 0 in the middle of the run: no report
    ("def test_first():\n    pass\n\n"
     "def test_dies():\n    import os\n    os._exit(0)\n", "without its report.*test_dies"),
    ("import a_module_that_is_not_there\n", "could not be collected"),
    ("", "no test in scope"),
])
def test_a_run_that_did_not_complete_fails_loudly(tmp_path, body, complaint):
    names = ("GaussianMixture",)
    source = suite.redirect_imports(
        f"from sklearn.mixture import GaussianMixture\n\n{body}", names, "test_x.py")
    with pytest.raises(SuiteRunError, match=complaint):
        suite.run({"test_x.py": (source, names)}, tmp_path, timeout=300)


@pytest.mark.parametrize("key, nodeid, matches", [
    ("f.py::test_a", "f.py::test_a[float32]", True),
    ("f.py::test_a", "f.py::test_a", True),
    ("f.py::test_a", "f.py::test_ab", False),
    ("f.py::test_a[*-torch-*]", "f.py::test_a[False-torch-cpu]", True),
    ("f.py::test_a[*-torch-*]", "f.py::test_a[numpy-None]", False),
    ("f.py::test_a[float32]", "f.py::test_a[float64]", False),
])
def test_deviation_keys_match_tests_and_parametrisations(key, nodeid, matches):
    assert suite.deviation_matches(key, nodeid) == matches


def test_unlisted_failures_and_stale_deviations_are_found():
    results = {
        "f.py::test_ok": {"outcome": "passed", "message": ""},
        "f.py::test_known[a]": {"outcome": "failed", "message": "E"},
        "f.py::test_known[b]": {"outcome": "skipped", "message": "needs torch"},
        "f.py::test_new": {"outcome": "skipped", "message": "needs torch"},
        "f.py::test_fixed": {"outcome": "passed", "message": ""},
    }
    deviations = {"f.py::test_known": "why", "f.py::test_fixed": "why",
                  "f.py::test_renamed": "why"}
    assert suite.unexpected_outcomes(results, deviations) == [
        "f.py::test_new: skipped: needs torch"]
    stale = suite.stale_deviations(results, deviations)
    assert len(stale) == 2
    assert stale[0].startswith("f.py::test_fixed: now passes")
    assert stale[1].startswith("f.py::test_renamed: no such test")
