"""tools/valgrind_findings.py, the reader of tools/check_memory.sh's valgrind XML.

It must tell a finding (an error whose stack is in gmmfast's compiled modules, exit 1)
from its own failure to read valgrind's output (exit 2), and from a clean run (0).
"""

import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parent.parent / "tools" / "valgrind_findings.py"


def _document(pid, *errors):
    return ('<?xml version="1.0"?>\n<valgrindoutput>\n'
            f"<pid>{pid}</pid>\n{''.join(errors)}</valgrindoutput>\n")


def _error(kind, obj, fn):
    return (f"<error><kind>{kind}</kind><what>{kind} here</what><stack>"
            f"<frame><obj>{obj}</obj><fn>{fn}</fn></frame>"
            "<frame><obj>/usr/lib/libpython3.so</obj><fn>_PyEval</fn></frame>"
            "</stack></error>\n")


OURS = _error("InvalidRead", "/x/gmmfast/_kernels.cpython-311-x86_64-linux-gnu.so",
              "estep_full")
THEIRS = _error("Leak_DefinitelyLost", "/usr/lib/libopenblas.so", "blas_memory_alloc")


def _run(tmp_path, *files):
    paths = []
    for i, text in enumerate(files):
        path = tmp_path / f"vg.{100 + i}.xml"
        if text is not None:
            path.write_text(text)
        paths.append(str(path))
    proc = subprocess.run([sys.executable, str(TOOL), *paths], capture_output=True,
                          text=True)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("files, status, said", [
    ([_document(100, THEIRS), _document(101)], 0,
     "errors elsewhere (CPython/numpy/OpenBLAS, not ours): {'Leak_DefinitelyLost': 1}"),
    ([_document(100, THEIRS), _document(101, OURS)], 1, "InvalidRead: InvalidRead here"),
    # a forked child's document written into its parent's file
    ([_document(100, THEIRS) + _document(101)], 2, "not well-formed XML"),
    ([_document(100)[:-30]], 2, "not well-formed XML"),  # a process that died
    ([None], 2, "valgrind wrote no such file"),
    # a finding stays a finding, and the unreadable file is still reported
    ([_document(100, OURS), None], 1, "ERROR (the check, not a finding)"),
])
def test_findings_are_told_apart_from_a_failed_check(tmp_path, files, status, said):
    code, out = _run(tmp_path, *files)
    assert code == status, out
    assert said in out
    if status == 1:
        assert "in estep_full" in out


def test_no_file_at_all_is_the_check_failing(tmp_path):
    proc = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "no valgrind XML file" in proc.stdout
