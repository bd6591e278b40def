"""Build the compiled kernels of gmmfast.

Project metadata lives in pyproject.toml; this file only describes the extension and
decides how OpenMP is enabled. Two environment switches:

GMMFAST_OPENMP
    ``auto`` (default): probe the compiler with a tiny OpenMP program; use OpenMP if it
    compiles, links and runs, otherwise warn and build serially.
    ``required``: the same probe, but a failure stops the build (wheel builds set this).
    ``off``: build serially without probing.
GMMFAST_DEBUG
    ``1``: compile with Cython's boundscheck, wraparound and initializedcheck on, and
    without optimisation, for the memory-safety test runs.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d", n);
        return n > 0 ? 0 : 1;
    }
    """
)


def _openmp_flags(compiler):
    """Return (compile_args, link_args) for OpenMP with this compiler type."""
    ctype = compiler.compiler_type
    if ctype == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        # Apple clang has no -fopenmp driver flag; libomp comes from Homebrew or the
        # cibuildwheel environment, found through CPPFLAGS/LDFLAGS.
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    # gcc, mingw, and LLVM clang on Linux
    return ["-fopenmp"], ["-fopenmp"]


def _probe_openmp(compiler, compile_args, link_args):
    """Compile, link and run a tiny OpenMP program; return (ok, message)."""
    tmp = tempfile.mkdtemp(prefix="gmmfast-omp-")
    cwd = os.getcwd()
    try:
        os.chdir(tmp)
        with open("probe.c", "w") as f:
            f.write(OPENMP_PROBE)
        objs = compiler.compile(["probe.c"], output_dir=tmp, extra_postargs=compile_args)
        exe = os.path.join(tmp, "probe")
        compiler.link_executable(objs, exe, extra_postargs=link_args)
        if sys.platform == "win32":
            exe += ".exe"
        out = subprocess.run([exe], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            return False, f"the OpenMP probe ran but failed: {out.stderr.strip()}"
        return True, f"OpenMP probe ran on {out.stdout.strip()} threads"
    except Exception as exc:  # compile, link or run failed: report why
        return False, f"the OpenMP probe did not build: {exc}"
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    """build_ext that decides on OpenMP once, from a probe, before compiling."""

    def build_extensions(self):
        mode = os.environ.get("GMMFAST_OPENMP", "auto").strip().lower()
        if mode not in {"auto", "required", "off"}:
            raise SystemExit(
                f"GMMFAST_OPENMP={mode!r} is not understood; use auto, required or off."
            )
        use_openmp = False
        if mode != "off":
            compile_args, link_args = _openmp_flags(self.compiler)
            ok, message = _probe_openmp(self.compiler, compile_args, link_args)
            if ok:
                use_openmp = True
                for ext in self.extensions:
                    ext.extra_compile_args += compile_args
                    ext.extra_link_args += link_args
            elif mode == "required":
                raise SystemExit(
                    f"GMMFAST_OPENMP=required but {message}. Install an OpenMP runtime "
                    "(libgomp, or libomp on macOS) or unset GMMFAST_OPENMP."
                )
            else:
                print(
                    f"WARNING: {message}; gmmfast is built WITHOUT OpenMP and its "
                    "kernels will run on one thread.",
                    file=sys.stderr,
                )
        print(f"gmmfast: building with OpenMP {'on' if use_openmp else 'off'}")
        super().build_extensions()


DEBUG = os.environ.get("GMMFAST_DEBUG", "0") == "1"
directives = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}
if sysconfig.get_platform().startswith("win"):
    opt_args = ["/O2"] if not DEBUG else ["/Od"]
else:
    # -fno-trapping-math (clang's default) lets gcc vectorise the clamps in _vmath.h;
    # it changes no results. Never -ffast-math, never -march=native.
    opt_args = (["-O3"] if not DEBUG else ["-O0", "-g"]) + ["-fno-trapping-math"]

extensions = [
    Extension(
        "gmmfast._kernels",
        ["gmmfast/_kernels.pyx"],
        depends=["gmmfast/_vmath.h", "gmmfast/_omp_shim.h"],
        include_dirs=[np.get_include(), "gmmfast"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_compile_args=list(opt_args),
        extra_link_args=[],
    )
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=directives),
    cmdclass={"build_ext": BuildExt},
)
