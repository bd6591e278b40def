"""pytest plugin of the child process that runs scikit-learn's mixture tests.

Loaded with ``-p _sklearn_suite_plugin --sklearn-suite=MANIFEST`` by
``_sklearn_suite.run``. It

- checks, once a file is collected, that its redirected names are gmmfast's objects;
- deselects the tests out of scope, saying why: scikit-learn's private-helper tests
  (``_sklearn_suite.private_helper_tests``) and parametrisations whose parameter is a
  scikit-learn mixture estimator that the file does not redirect;
- records each selected test's outcome, and appends each test's node id to a
  progress file as it starts, so that a crash names the test it happened in;
- writes the report (JSON) when the session ends.
"""

import json
import os
from pathlib import Path

import sklearn

import gmmfast
from _sklearn_suite import private_helper_tests


def pytest_addoption(parser):
    parser.addoption("--sklearn-suite", metavar="MANIFEST",
                     help="the manifest of a run of scikit-learn's tests against gmmfast")


def pytest_configure(config):
    manifest = config.getoption("--sklearn-suite")
    if manifest:
        config.pluginmanager.register(
            Recorder(json.loads(Path(manifest).read_text(encoding="utf-8"))),
            "sklearn-suite-recorder")


class Recorder:
    def __init__(self, manifest):
        self.files = manifest["files"]
        self.report_path = Path(manifest["report"])
        self.progress_path = Path(manifest["progress"])
        self.private = {}
        self.report = {
            "sklearn": sklearn.__version__,
            "gmmfast": str(Path(gmmfast.__file__).resolve()),
            "collection_errors": {}, "redirect_problems": [], "out_of_scope": {},
            "collected": {}, "selected": [], "results": {}, "exitstatus": None,
        }

    def pytest_collectreport(self, report):
        if report.failed:
            self.report["collection_errors"][report.nodeid or "(session)"] = \
                report.longreprtext[-3000:]

    def pytest_collection_modifyitems(self, config, items):
        keep, drop = [], []
        for item in items:
            name = Path(str(item.path)).name
            reason = self._out_of_scope(item, name)
            if reason is None:
                keep.append(item)
                self.report["collected"][name] = self.report["collected"].get(name, 0) + 1
            else:
                drop.append(item)
                self.report["out_of_scope"][item.nodeid] = reason
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
        self.report["selected"] = [item.nodeid for item in keep]

    def _out_of_scope(self, item, name):
        names = self.files.get(name)
        module = getattr(item, "module", None)
        if names is None or module is None:
            self.report["redirect_problems"].append(
                f"{item.nodeid}: not a test function of a file of the manifest")
            return None
        if name not in self.private:
            for estimator in names:
                found = getattr(module, estimator, None)
                if found is not getattr(gmmfast, estimator):
                    self.report["redirect_problems"].append(
                        f"{name}: {estimator} is {found!r}, not gmmfast's")
            source = Path(str(item.path)).read_text(encoding="utf-8")
            self.private[name] = private_helper_tests(source, names)
        why = self.private[name].get(item.function.__qualname__)
        if why is not None:
            return f"scikit-learn's private-helper test: {why}"
        params = getattr(item, "callspec", None)
        for value in (params.params.values() if params is not None else ()):
            cls = value if isinstance(value, type) else type(value)
            if cls.__module__.startswith("sklearn.mixture") and cls.__name__ not in names:
                return f"runs scikit-learn's own {cls.__name__}, not redirected in {name}"
        return None

    def pytest_runtest_logstart(self, nodeid, location):
        with open(self.progress_path, "a") as f:
            f.write(nodeid + "\n")

    def pytest_runtest_logreport(self, report):
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        elif report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.skipped:
            outcome = "skipped"
        elif report.when == "call":
            outcome = "passed"
        else:
            return  # a setup or teardown that went well
        self.report["results"][report.nodeid] = {"outcome": outcome,
                                                 "message": _message(report)}

    def pytest_sessionfinish(self, session, exitstatus):
        self.report["exitstatus"] = int(exitstatus)
        partial = self.report_path.with_suffix(".partial")
        partial.write_text(json.dumps(self.report, indent=1), encoding="utf-8")
        os.replace(partial, self.report_path)  # whole or absent, never half-written


def _message(report):
    """One line on why a test did not pass: the skip reason or the exception."""
    if report.passed:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else report.longreprtext
    return " ".join(text.split())[:400]
