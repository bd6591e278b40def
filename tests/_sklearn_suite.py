"""Run scikit-learn's own mixture tests against gmmfast's estimators.

The parent side (this module, used by tests/test_sklearn_suite.py):

- ``redirect_imports`` rewrites a copy of one of scikit-learn's test files so that
  the estimators it imports from ``sklearn.mixture`` are gmmfast's;
- ``private_helper_tests`` tells which of its tests exercise scikit-learn's private
  helpers rather than the estimator (out of scope: gmmfast has other internals);
- ``run`` runs the rewritten files in one pytest subprocess and returns the report
  that the child-side plugin (``_sklearn_suite_plugin``) writes, or raises
  ``SuiteRunError`` if the run crashed or could not collect a file.

Nothing of scikit-learn's code is stored here: the files are read from the installed
scikit-learn at run time.
"""

import ast
import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import gmmfast

PLUGIN = "_sklearn_suite_plugin"
#: pytest's exit codes for "all passed" and "some tests failed"; anything else (an
#: interrupted run, a collection error, an internal or usage error, no tests) means
#: the run itself went wrong.
RUN_COMPLETED = (0, 1)


class SuiteRunError(AssertionError):
    """The run of scikit-learn's tests did not complete: no verdict on any test."""


# ------------------------------------------------------------------ the rewrite


def redirect_imports(source, names, filename):
    """``source`` with each ``from sklearn.mixture import ...`` of ``names`` from gmmfast.

    Other names of the same import statement still come from scikit-learn. Line
    numbers are kept (the rewritten statement is padded with blank lines), so a
    traceback points at the same line as in scikit-learn's file.

    Raises
    ------
    SuiteRunError
        A name of ``names`` is not imported that way, or the file also reaches it as
        an attribute (``sklearn.mixture.GaussianMixture``), which no import rewrite
        can redirect.
    """
    tree = ast.parse(source, filename=filename)
    lines = source.splitlines(keepends=True)
    found = set()
    for node in tree.body:
        if not (isinstance(node, ast.ImportFrom) and node.module == "sklearn.mixture"
                and node.level == 0):
            continue
        moved = [a for a in node.names if a.name in names]
        if not moved:
            continue
        found.update(a.name for a in moved)
        kept = [a for a in node.names if a.name not in names]
        statements = [f"from gmmfast import {_aliases(moved)}"]
        if kept:
            statements.insert(0, f"from sklearn.mixture import {_aliases(kept)}")
        first, last = node.lineno - 1, node.end_lineno - 1
        indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
        lines[first] = indent + "; ".join(statements) + "\n"
        for i in range(first + 1, last + 1):
            lines[i] = "\n"
    missing = sorted(set(names) - found)
    if missing:
        raise SuiteRunError(
            f"scikit-learn's {filename} does not import {', '.join(missing)} with a "
            "top-level `from sklearn.mixture import ...`: update redirect_imports in "
            "tests/_sklearn_suite.py to how it imports them now")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in names
                and ast.unparse(node.value).startswith("sklearn")):
            raise SuiteRunError(
                f"scikit-learn's {filename} line {node.lineno} reaches "
                f"{ast.unparse(node)} as an attribute, which the import rewrite does not "
                "redirect: extend redirect_imports in tests/_sklearn_suite.py")
    return "".join(lines)


def _aliases(aliases):
    return ", ".join(a.name if a.asname is None else f"{a.name} as {a.asname}"
                     for a in aliases)


# --------------------------------------------------- tests of private helpers


def private_helper_tests(source, names):
    """{test name: reason} for the tests of ``source`` that test scikit-learn's helpers.

    A test is one when the code it runs (its body and decorators, and the test file's
    own module-level functions and classes it uses, transitively) calls a private
    function of scikit-learn's mixture package (a ``_name`` imported from
    ``sklearn.mixture...``) and either

    - never uses the redirected estimators (``names``): it tests the helper itself
      (``_estimate_gaussian_covariances_full``, ``_compute_log_det_cholesky``, ...), or
    - also reaches private members (``obj._name``, ``sklearn.mixture._module``): it
      pins the estimator's internals to scikit-learn's helpers (``_set_parameters``
      fed their output, a mock of ``_estimate_gaussian_parameters`` counting calls).

    A test that uses a helper only to build input for the estimator's public API
    stays in scope, and so does one that calls a private method scikit-learn's
    tests rely on without any helper (``_n_parameters`` for BIC and AIC).

    Keys are test functions (``test_x``) and methods of test classes (``TestX.test_y``).
    """
    tree = ast.parse(source)
    defs = {n.name: n for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    helpers = {a.asname or a.name
               for n in ast.walk(tree)
               if isinstance(n, ast.ImportFrom) and n.level == 0
               and (n.module or "").startswith("sklearn.mixture")
               for a in n.names if a.name.startswith("_")}
    tests = {}
    for name, node in defs.items():
        if isinstance(node, ast.ClassDef) and name.startswith("Test"):
            for m in node.body:
                if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                        and m.name.startswith("test"):
                    tests[f"{name}.{m.name}"] = m
        elif not isinstance(node, ast.ClassDef) and name.startswith("test"):
            tests[name] = node
    out = {}
    for qualname, node in tests.items():
        reached = _reached_nodes(node, defs)
        used = {n.id for r in reached for n in ast.walk(r) if isinstance(n, ast.Name)}
        called = sorted(used & helpers)
        if not called:
            continue
        members = sorted({f"._{n.attr[1:]}" for r in reached for n in ast.walk(r)
                          if isinstance(n, ast.Attribute) and _is_private(n.attr)})
        if not used & set(names):
            out[qualname] = (f"calls scikit-learn's {', '.join(called)} and never "
                             f"{' or '.join(names)}")
        elif members:
            out[qualname] = (f"calls scikit-learn's {', '.join(called)} and reaches "
                             f"private members {', '.join(members)}")
    return out


def _is_private(attr):
    return attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))


def _reached_nodes(node, defs):
    """``node`` and the module-level definitions it names, transitively."""
    seen, todo = [node], [node]
    while todo:
        current = todo.pop()
        for n in ast.walk(current):
            if isinstance(n, ast.Name):
                target = defs.get(n.id)
            elif isinstance(n, ast.arg):  # a fixture of the same file
                target = defs.get(n.arg)
            else:
                continue
            if target is not None and all(target is not s for s in seen):
                seen.append(target)
                todo.append(target)
    return seen


# ---------------------------------------------------------------------- the run


def run(files, workdir, *, timeout=900):
    """Run rewritten test files in one pytest subprocess; return the plugin's report.

    Parameters
    ----------
    files : dict
        ``{file name: (source, redirected estimator names)}``, sources already
        rewritten.
    workdir : Path
        An empty directory: the files, the manifest and the report go there.

    Returns
    -------
    dict
        ``results`` ({node id: {"outcome", "message"}} of the tests in scope, with
        outcome one of passed, failed, error, skipped, xfailed, xpassed),
        ``out_of_scope`` ({node id: reason}), ``collected`` ({file: tests in scope}).

    Raises
    ------
    SuiteRunError
        The subprocess crashed, timed out, could not collect a file, collected no
        test of a file, or imported another gmmfast than this process's.
    """
    workdir = Path(workdir)
    for name, (source, _) in files.items():
        (workdir / name).write_text(source, encoding="utf-8")
    (workdir / "pytest.ini").write_text("[pytest]\n")
    report, progress = workdir / "report.json", workdir / "progress.txt"
    manifest = workdir / "manifest.json"
    manifest.write_text(json.dumps({
        "files": {name: list(names) for name, (_, names) in files.items()},
        "report": str(report),
        "progress": str(progress),
    }))
    cmd = [sys.executable, "-m", "pytest", "-c", str(workdir / "pytest.ini"),
           "--rootdir", str(workdir), "-p", "no:cacheprovider",
           # scikit-learn's fixtures (global_dtype, global_random_seed) and settings
           "-p", "sklearn.conftest", "-p", PLUGIN, f"--sklearn-suite={manifest}",
           "-q", *sorted(files)]
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=_child_env(), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise SuiteRunError(
            f"scikit-learn's tests did not finish in {timeout} s; the last test "
            f"started: {_last_line(progress)}") from exc
    output = f"--- stdout\n{_tail(proc.stdout)}\n--- stderr\n{_tail(proc.stderr)}"
    if not report.exists():
        raise SuiteRunError(
            f"the pytest subprocess exited with {proc.returncode} without its report "
            f"(a crash?); the last test started: {_last_line(progress)}\n{output}")
    data = json.loads(report.read_text(encoding="utf-8"))
    if data["collection_errors"]:
        raise SuiteRunError(
            "scikit-learn's tests could not be collected:\n"
            + "\n".join(f"{k}: {v}" for k, v in data["collection_errors"].items()))
    if data["gmmfast"] != str(Path(gmmfast.__file__).resolve()):
        raise SuiteRunError(
            f"the subprocess tested the gmmfast at {data['gmmfast']}, not this "
            f"process's {Path(gmmfast.__file__).resolve()}")
    if data["redirect_problems"]:
        raise SuiteRunError("\n".join(data["redirect_problems"]))
    empty = [name for name in files if not data["collected"].get(name)]
    if empty:
        raise SuiteRunError(f"no test in scope was collected from {', '.join(empty)}")
    if proc.returncode not in RUN_COMPLETED or data["exitstatus"] != proc.returncode:
        raise SuiteRunError(
            f"the pytest subprocess exited with {proc.returncode} (its session ended "
            f"with {data['exitstatus']}); 0 or 1 is a completed run\n{output}")
    not_run = sorted(set(data["selected"]) - set(data["results"]))
    if not_run:
        raise SuiteRunError(f"{len(not_run)} selected tests have no outcome, e.g. "
                            f"{not_run[0]}\n{output}")
    return data


def _child_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SKLEARN_", "PYTEST_"))}
    env.update(
        SKLEARN_RUN_FLOAT32_TESTS="1",  # the float32 parametrisations too
        # array API tests run for NumPy (the namespace always installed)
        SCIPY_ARRAY_API="1",
        # only the plugins named on the command line
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    path = [str(Path(__file__).resolve().parent)]  # the plugin
    # a gmmfast imported from a checkout (python -m pytest with an in-place build) is
    # the one to test; an installed one is found as usual
    root = Path(gmmfast.__file__).resolve().parent.parent
    site = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    if root not in site:
        path.append(str(root))
    env["PYTHONPATH"] = os.pathsep.join(path + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def _tail(text, lines=40):
    return "\n".join(text.splitlines()[-lines:])


def _last_line(path):
    path = Path(path)
    lines = path.read_text().splitlines() if path.exists() else []
    return lines[-1] if lines else "(none)"


# ------------------------------------------------------------------ deviations


def deviation_matches(key, nodeid):
    """Whether a deviation key names this test.

    ``file::test`` names every parametrisation of the test; a key with parameters
    (``file::test[float32]``) names exactly that one, where ``*`` stands for any text
    (``file::test[*-torch-*]``).
    """
    if "[" not in key:
        return nodeid == key or nodeid.startswith(key + "[")
    return re.fullmatch(re.escape(key).replace(r"\*", ".*"), nodeid) is not None


def unexpected_outcomes(results, deviations):
    """Lines naming the tests that did not pass and are not listed in ``deviations``."""
    return [f"{nodeid}: {r['outcome']}: {r['message']}"
            for nodeid, r in results.items()
            if r["outcome"] != "passed"
            and not any(deviation_matches(key, nodeid) for key in deviations)]


def stale_deviations(results, deviations):
    """Lines naming the keys of ``deviations`` that match no test, or a test that passed."""
    stale = []
    for key in deviations:
        matched = [n for n in results if deviation_matches(key, n)]
        passing = [n for n in matched if results[n]["outcome"] == "passed"]
        if not matched:
            stale.append(f"{key}: no such test in scope (renamed, dropped, out of scope)")
        elif passing:
            stale.append(f"{key}: now passes ({len(passing)} of {len(matched)}, e.g. "
                         f"{passing[0]})")
    return stale
