"""Test code run under each of the x86 vector builds, to compare their bits.

GMMFAST_ISA is read once, at import, so each build runs in a child process of its
own, importing the package this process tests.
"""

import os
import subprocess
import sys

import pytest

import gmmfast
from gmmfast import _kernels


def vector_build_outputs(child_code):
    """{'avx2': stdout, 'avx512': stdout} of ``child_code`` run under each build.

    Skips, saying why, when either build was not compiled in or this CPU does not run
    the AVX-512 one (a cap the CPU cannot honour would run a narrower build twice)."""
    if not ({"avx2+fma", "avx512"} <= set(_kernels.isa_builds())):
        pytest.skip("needs the AVX2 and AVX-512 builds")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(gmmfast.__file__)))
    probe = subprocess.run(
        [sys.executable, "-c", "from gmmfast import _kernels; print(_kernels.vmath_impl())"],
        capture_output=True, text=True, timeout=120, cwd="/",
        env=dict(env, GMMFAST_ISA="avx512"))
    if probe.stdout.strip() != "avx512":
        pytest.skip("this CPU does not run the AVX-512 build")
    got = {}
    for cap in ("avx2", "avx512"):
        proc = subprocess.run([sys.executable, "-c", child_code], capture_output=True,
                              text=True, timeout=300, cwd="/",
                              env=dict(env, GMMFAST_ISA=cap))
        assert proc.returncode == 0, proc.stderr
        got[cap] = proc.stdout.strip()
    return got
