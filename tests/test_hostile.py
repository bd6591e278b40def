"""Hostile input: every case of tests/_hostile_cases.py, run in a child process.

One child runs the whole table and reports a JSON line per finished case, so a crash
(segfault, abort, hang) of the compiled code cannot take pytest down: the case that was
running when the child died is rerun alone, reported as a failure naming it, and the
cases after it are run in a fresh child. Each case must give what scikit-learn gives
(the same exception type, or success with the result of a clean float copy), a message
that says what to change, and an unmodified input; see _hostile_cases.py.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gmmfast

import _hostile_cases

CHILD = Path(_hostile_cases.__file__).resolve()
TIMEOUT = 300  # seconds for a whole batch; the table runs in about 10 s


def _run_child(names):
    """Reports of the cases the child finished, and how it ended."""
    env = dict(os.environ)
    # the child imports the same gmmfast as this process (installed or checkout)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(gmmfast.__file__).resolve().parent.parent), env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "2")
    try:
        proc = subprocess.run([sys.executable, str(CHILD), *names], capture_output=True,
                              text=True, timeout=TIMEOUT, env=env)
        out, err, ending = proc.stdout, proc.stderr, f"exit code {proc.returncode}"
        died = proc.returncode != 0
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        ending, died = f"no answer within {TIMEOUT} s", True
    reports = {}
    for line in out.splitlines():
        if line.startswith("@@CASE "):
            report = json.loads(line[len("@@CASE "):])
            reports[report["name"]] = report
    return reports, died, f"{ending}; stderr tail: {err[-1500:]}"


def run_all(names):
    """Run every case; a case that kills its child is reported as a crash."""
    reports = {}
    remaining = list(names)
    while remaining:
        got, died, how = _run_child(remaining)
        reports.update(got)
        remaining = [n for n in remaining if n not in reports]
        if not remaining:
            break
        if not died:  # the child ended cleanly without reporting: a harness bug
            for name in remaining:
                reports[name] = {"name": name, "problems": [f"not reported ({how})"]}
            break
        suspect, remaining = remaining[0], remaining[1:]
        got, died, how = _run_child([suspect])
        reports[suspect] = got.get(suspect) or {
            "name": suspect, "problems": [f"the process crashed: {how}"]}
    return reports


@pytest.fixture(scope="module")
def reports():
    return run_all(list(_hostile_cases.CASES))


@pytest.mark.parametrize("name", list(_hostile_cases.CASES))
def test_hostile_input(reports, name):
    problems = reports[name]["problems"]
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_a_crash_is_caught_and_named(monkeypatch):
    # the harness itself: a case that kills its process is reported by name, and the
    # cases after it still run
    monkeypatch.setenv("GMMFAST_HOSTILE_CRASH", "fit_nan")
    reports = run_all(["fit_inf", "fit_nan", "fit_1d"])
    assert "crashed" in reports["fit_nan"]["problems"][0]
    assert "SIGSEGV" in reports["fit_nan"]["problems"][0] or "-11" in \
        reports["fit_nan"]["problems"][0]
    assert reports["fit_inf"]["problems"] == [] and reports["fit_1d"]["problems"] == []


_NARROW_OUTPUTS = """
import numpy as np
from gmmfast import _estep, _kernels, _mstep
K, D = 3, 3
cov = dict(full=np.array([np.eye(D)] * K), tied=np.eye(D), diag=np.ones((K, D)),
           spherical=np.ones(K))["{cov}"]
U = _mstep.precision_cholesky(cov, "{cov}")
model = _estep.KernelModel("{cov}", np.ones(K) / K, np.arange(K * D, dtype=float)
                           .reshape(K, D), U, np.float64)
X = np.random.default_rng(0).normal(size=(10, D))
try:
    _kernels.block_stats(model.params, X, None, np.zeros((1, K)),
                         np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1), 256, 1)
except ValueError:
    print("refused")
"""


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_block_stats_refuses_outputs_too_small(cov):
    # block_stats must check the widths of out_S1/out_S2, not only their rows: it
    # writes K*D (S1) and K*D*D / D*D / 2*K*D / K (S2) doubles per chunk. Run in a
    # child: an overflow would corrupt the heap of the process that makes it.
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(gmmfast.__file__).resolve().parent.parent)
    proc = subprocess.run([sys.executable, "-c", _NARROW_OUTPUTS.format(cov=cov)],
                          capture_output=True, text=True, timeout=120, env=env,
                          cwd=env["PYTHONPATH"])  # "-c" puts the cwd first on sys.path
    assert proc.returncode == 0 and "refused" in proc.stdout, (
        f"block_stats accepted out_S1/out_S2 of width 1 (exit {proc.returncode}, "
        f"stderr {proc.stderr[-500:]!r})")
