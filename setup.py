"""Build the compiled kernels of gmmfast.

Project metadata lives in pyproject.toml; this file only describes the extension and
decides how OpenMP is enabled. Two environment switches:

GMMFAST_OPENMP
    ``auto`` (default): probe the compiler with a tiny OpenMP program; use OpenMP if it
    compiles, links and runs, otherwise warn and build serially.
    ``required``: the same probe, but a failure stops the build (wheel builds set this).
    ``off``: build serially without probing.

OpenMP flags, by compiler: gcc and mingw (and clang on Linux) ``-fopenmp``; MSVC
``/openmp``; clang on macOS (Apple's has no ``-fopenmp``) ``-Xpreprocessor -fopenmp``
and ``-lomp``, with libomp taken from the first of $OpenMP_ROOT, $CONDA_PREFIX,
``brew --prefix libomp``, /opt/homebrew/opt/libomp, /usr/local/opt/libomp, MacPorts
that holds libomp.dylib. The probe tells whether those flags work; CFLAGS and LDFLAGS
still apply, for a libomp elsewhere.
GMMFAST_DEBUG
    ``1``: compile with Cython's boundscheck, wraparound and initializedcheck on, and
    without optimisation, for the memory-safety test runs.

The kernels' vector builds (AVX2 and AVX-512 on x86-64, NEON on aarch64) are one C
translation unit each, compiled with its own flags from ISA_BUILDS below and linked into
the kernel module, which picks the widest the CPU runs at import
(gmmfast/_kernels/csrc/isa.h).
"""

import glob
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


def _is_clang(compiler):
    """Whether a unix-type compiler is clang (Apple's or LLVM's) rather than gcc."""
    try:
        out = subprocess.run(
            [*compiler.compiler, "--version"], capture_output=True, text=True, timeout=60
        )  # the whole command, so that a launcher (ccache clang) answers for the compiler
    except (OSError, subprocess.SubprocessError):
        return False
    return "clang" in (out.stdout + out.stderr).lower()


def _libomp_prefix():
    """Where libomp is installed on macOS, or None. The first that holds libomp.dylib:

    $OpenMP_ROOT (the CMake convention, set it to point at any install), the conda
    environment ($CONDA_PREFIX, conda-forge's llvm-openmp), ``brew --prefix libomp``,
    then Homebrew's default prefixes (Apple silicon, Intel) and MacPorts.
    """
    candidates = [os.environ.get("OpenMP_ROOT"), os.environ.get("CONDA_PREFIX")]
    brew = shutil.which("brew")
    if brew:
        try:
            out = subprocess.run(
                [brew, "--prefix", "libomp"], capture_output=True, text=True, timeout=60
            )
            candidates.append(out.stdout.strip() if out.returncode == 0 else None)
        except (OSError, subprocess.SubprocessError):
            pass
    candidates += ["/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"]
    for prefix in filter(None, candidates):
        if os.path.isfile(os.path.join(prefix, "lib", "libomp.dylib")):
            return prefix
    if os.path.isfile("/opt/local/lib/libomp/libomp.dylib"):  # MacPorts' layout
        return "/opt/local"
    return None


def _openmp_flags(compiler):
    """Return (compile_args, link_args, hint) for OpenMP with this compiler.

    hint says what to install when the probe fails with these flags.
    """
    if compiler.compiler_type == "msvc":
        # MSVC's own OpenMP 2.0 runtime (vcomp140.dll); also what clang-cl accepts.
        return ["/openmp"], [], "use MSVC (Visual Studio Build Tools) with /openmp"
    if sys.platform == "darwin" and _is_clang(compiler):
        # Apple clang has no -fopenmp driver flag: the preprocessor handles the pragmas
        # and libomp, which Apple does not ship, provides omp.h and the runtime.
        # (LLVM clang accepts the same flags.)
        compile_args, link_args = ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
        prefix = _libomp_prefix()
        if prefix == "/opt/local":
            inc, lib = "/opt/local/include/libomp", "/opt/local/lib/libomp"
        elif prefix is not None:
            inc, lib = os.path.join(prefix, "include"), os.path.join(prefix, "lib")
        if prefix is not None:
            compile_args.append(f"-I{inc}")
            # rpath: conda's libomp is @rpath/libomp.dylib; a wheel repair (delocate)
            # replaces it with the copy it bundles.
            link_args = [f"-L{lib}", f"-Wl,-rpath,{lib}", "-lomp"]
        return (
            compile_args,
            link_args,
            "install libomp (brew install libomp) or point OpenMP_ROOT at a libomp install",
        )
    # gcc and mingw (libgomp), LLVM clang on Linux (libomp), gcc on macOS
    return ["-fopenmp"], ["-fopenmp"], "install an OpenMP runtime (libgomp with gcc, libomp with clang)"


# The vector builds of the kernels: per build, the machines it is built for and its
# flags per compiler family ("unix": gcc and clang; "msvc": MSVC and clang-cl). Each is
# gmmfast/_kernels/csrc/isa_<name>.c compiled with these flags (plus the optimisation
# flags), and the kernel module is told with GMM_BUILD_<NAME>; the module itself, with
# the baseline build, gets no instruction-set flag, so the wheels run on any CPU of
# their architecture. MSVC: /arch:AVX2 and /arch:AVX512 (which implies F, CD, BW, DQ,
# VL); /fp:contract lets it fuse a * b + c in the plain C loops, as gcc and clang do (it
# does not under /fp:precise since Visual Studio 2022). NEON (ASIMD with FMA) is part
# of every aarch64 CPU: no flag.
ISA_BUILDS = {
    "avx2": {
        "machines": ("x86_64",),
        "unix": ["-mavx2", "-mfma"],
        "msvc": ["/arch:AVX2", "/fp:contract"],
    },
    "avx512": {
        "machines": ("x86_64",),
        "unix": ["-mavx512f", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma"],
        "msvc": ["/arch:AVX512", "/fp:contract"],
    },
    "neon": {
        "machines": ("aarch64",),
        "unix": [],
        "msvc": [],
    },
}

# sysconfig.get_platform()'s last field, as ISA_BUILDS names the machine
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "mingw_x86_64": "x86_64",
             "aarch64": "aarch64", "arm64": "aarch64"}


def isa_builds(compiler_type, platform):
    """The vector builds for a compiler type (distutils' ``compiler.compiler_type``:
    "unix", "msvc", "mingw32", ...) and a target platform (sysconfig.get_platform():
    "linux-x86_64", "win-amd64", "macosx-14.0-arm64", ...), as [(name, flags)].

    A platform that names no single machine (macOS "universal2", built for two CPUs by
    one compiler call) gets none: its wheels run the baseline build.
    """
    machine = _MACHINES.get(platform.rsplit("-", 1)[-1].lower())
    family = "msvc" if compiler_type == "msvc" else "unix"   # mingw32 is gcc
    return [(name, list(build[family])) for name, build in ISA_BUILDS.items()
            if machine in build["machines"]]


def _probe_openmp(compiler, compile_args, link_args):
    """Compile, link and run a tiny OpenMP program; return (ok, message)."""
    tmp = tempfile.mkdtemp(prefix="gmmfast-omp-")
    cwd = os.getcwd()
    stage = "compiling"
    try:
        os.chdir(tmp)
        with open("probe.c", "w") as f:
            f.write(OPENMP_PROBE)
        objs = compiler.compile(["probe.c"], output_dir=tmp, extra_postargs=compile_args)
        stage = "linking"
        exe = os.path.join(tmp, "probe")
        compiler.link_executable(objs, exe, extra_postargs=link_args)
        if sys.platform == "win32":
            exe += ".exe"
        stage = "running"
        out = subprocess.run([exe], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            return False, (f"the OpenMP probe program failed when run "
                           f"(exit code {out.returncode}): {out.stderr.strip()}")
        return True, f"OpenMP probe ran on {out.stdout.strip()} threads"
    except Exception as exc:  # the compiler's own message is printed above this one
        return False, f"{stage} the OpenMP probe program failed ({type(exc).__name__})"
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    """build_ext that decides on OpenMP once, from a probe, before compiling."""

    def run(self):
        super().run()
        if not self.inplace:
            self._copy_into_checkout()

    def _copy_into_checkout(self):
        """Also put the compiled kernels next to their sources (as --inplace would).

        `pip install .` builds in the checkout; afterwards `python -m gmmfast` run from
        the checkout (the README's main job) imports the checkout's gmmfast/, which is
        first on sys.path, and needs its compiled kernels there. The copy is the same
        build the wheel holds. GMMFAST_NO_INPLACE_COPY=1 turns it off; a read-only
        checkout is left alone.
        """
        if os.environ.get("GMMFAST_NO_INPLACE_COPY") == "1":
            return
        for ext in self.extensions:
            built = self.get_ext_fullpath(ext.name)
            self.inplace = True
            try:
                target = self.get_ext_fullpath(ext.name)
            finally:
                self.inplace = False
            if os.path.abspath(built) == os.path.abspath(target):
                continue
            try:
                # a new file renamed over the old one: a process that has the old
                # one loaded keeps its (unlinked) copy instead of seeing it rewritten
                shutil.copyfile(built, target + ".tmp")
                os.replace(target + ".tmp", target)
            except OSError as exc:
                print(f"gmmfast: not copying {os.path.basename(built)} into the "
                      f"checkout ({exc})", file=sys.stderr)

    def _add_isa_builds(self, ext, unit, exact=False):
        """Compile each vector build (ISA_BUILDS) of gmmfast/_kernels/csrc/<unit>_<name>.c
        with its own flags and link it into ext. A build the compiler cannot make is
        left out, with a warning: the module then runs the others (the baseline build
        always exists). exact: without contraction of a * b + c (the module's own
        flags), so that every build gives the baseline's bits."""
        from setuptools.errors import CompileError

        names = []
        for name, flags in isa_builds(self.compiler.compiler_type,
                                      sysconfig.get_platform()):
            if exact:
                flags = [f for f in flags if f != "/fp:contract"] + exact_args + lane_args
            source = f"gmmfast/_kernels/csrc/{unit}_{name}.c"
            try:
                objects = self.compiler.compile(
                    [source], output_dir=self.build_temp, depends=ext.depends,
                    extra_postargs=list(opt_args) + flags)
            except CompileError:
                print(f"WARNING: gmmfast's {name} build of {ext.name} did not compile "
                      f"(flags: {' '.join(flags)}); it is built without it.",
                      file=sys.stderr)
                continue
            ext.extra_objects = list(ext.extra_objects or []) + objects
            ext.define_macros = list(ext.define_macros) + [(f"GMM_BUILD_{name.upper()}", "1")]
            names.append(name)
        print(f"gmmfast: {ext.name} builds: baseline{''.join(', ' + n for n in names)}")

    def build_extensions(self):
        mode = os.environ.get("GMMFAST_OPENMP", "auto").strip().lower()
        if mode not in {"auto", "required", "off"}:
            raise SystemExit(
                f"GMMFAST_OPENMP={mode!r} is not understood; use auto, required or off."
            )
        use_openmp = False
        if mode != "off":
            compile_args, link_args, hint = _openmp_flags(self.compiler)
            ok, message = _probe_openmp(self.compiler, compile_args, link_args)
            flags = " ".join(compile_args + link_args)
            if ok:
                use_openmp = True
                print(f"gmmfast: {message} (flags: {flags})")
                for ext in self.extensions:
                    ext.extra_compile_args += compile_args
                    ext.extra_link_args += link_args
            elif mode == "required":
                raise SystemExit(
                    f"error: GMMFAST_OPENMP=required, but OpenMP does not work with this "
                    f"compiler ({self.compiler.compiler_type}, flags: {flags}): {message}. "
                    f"To fix: {hint}. To build without OpenMP instead (kernels on one "
                    "thread), set GMMFAST_OPENMP=auto or off."
                )
            else:
                print(
                    f"WARNING: OpenMP does not work with this compiler "
                    f"({self.compiler.compiler_type}, flags: {flags}): {message}. gmmfast "
                    f"is built WITHOUT OpenMP: its kernels will run on one thread. To get "
                    f"threads: {hint}, then reinstall. gmmfast.show_config() tells which "
                    "build you have.",
                    file=sys.stderr,
                )
        print(f"gmmfast: building with OpenMP {'on' if use_openmp else 'off'}")
        # An in-tree rebuild skips an extension that is newer than its sources, even
        # when it was built with another OpenMP or debug setting: compare with the
        # setting recorded by the last build, and rebuild if it differs.
        config = repr([(ext.name, ext.extra_compile_args, ext.extra_link_args,
                        ext.define_macros) for ext in self.extensions] + [directives])
        stamp = os.path.join(self.build_temp, "gmmfast-build-config.txt")
        try:
            with open(stamp) as f:
                previous = f.read()
        except OSError:
            previous = None
        if previous != config:
            self.force = self.compiler.force = True
        for ext in self.extensions:
            if ext.name == "gmmfast._kernels._core":
                self._add_isa_builds(ext, "isa")
            elif ext.name == "gmmfast._missing_rows":
                self._add_isa_builds(ext, "missing_isa", exact=True)
            elif ext.name == "gmmfast._kmeans":
                self._add_isa_builds(ext, "kmeans_isa", exact=True)
        super().build_extensions()
        os.makedirs(self.build_temp, exist_ok=True)
        with open(stamp, "w") as f:
            f.write(config)


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
    # -fno-trapping-math (clang's default) lets gcc vectorise the clamps in csrc/vmath.h;
    # it changes no results. Never -ffast-math, never -march=native.
    opt_args = (["-O3"] if not DEBUG else ["-O0", "-g"]) + ["-fno-trapping-math"]
# The modules' own code (Cython's C and the baseline build of the kernels) never fuses
# a * b + c into one multiply-add. gcc on aarch64 and clang everywhere would (x86-64's
# baseline has no such instruction), and then the baseline's results would depend on
# the platform: tests/test_parity.py holds the compiled M-step to numpy's formula to
# the bit, and under emulated aarch64 it differed by an ulp. The vector builds
# (ISA_BUILDS) keep their flags: their multiply-adds are meant, and the tests bound
# what they change. MSVC does not contract at /O2 unless told (/fp:contract).
exact_args = [] if sysconfig.get_platform().startswith("win") else ["-ffp-contract=off"]
# The exact modules' vector units (_add_isa_builds(exact=True)): the missing values'
# lanes (csrc/missing_lanes.h) take a sqrt per lane, and with errno to set for a
# negative argument gcc leaves those scalar, with a branch each. sqrt is correctly
# rounded with or without errno, so this changes no result.
# -fopenmp-simd: their loops over the lanes carry OpenMP's simd directive (the
# directive alone: no OpenMP runtime), which keeps each lane's operations as written.
lane_args = ([] if sysconfig.get_platform().startswith("win")
             else ["-fno-math-errno", "-fopenmp-simd"])

extensions = [
    Extension(
        "gmmfast._kernels._core",
        ["gmmfast/_kernels/_core.pyx"],
        # the route files and C headers it includes, and the vector builds' C files
        # (compiled by BuildExt._add_isa_builds): a change to any rebuilds it
        depends=sorted(glob.glob("gmmfast/_kernels/*.p[xy][id]")
                       + glob.glob("gmmfast/_kernels/csrc/*.[ch]")),
        include_dirs=[np.get_include(), "gmmfast/_kernels"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_compile_args=list(opt_args) + exact_args,
        extra_link_args=[],
    ),
    Extension(
        "gmmfast._kmeans",
        ["gmmfast/_kmeans.pyx"],
        # k-means++'s distance tiles and their vector builds (csrc/kmeans_isa_<name>.c)
        depends=["gmmfast/_kernels/csrc/isa.h", "gmmfast/_kernels/csrc/kmeans_tiles.h"]
        + sorted(glob.glob("gmmfast/_kernels/csrc/kmeans_isa_*.c")),
        include_dirs=[np.get_include(), "gmmfast/_kernels/csrc"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_compile_args=list(opt_args) + exact_args,
        extra_link_args=[],
    ),
    Extension(
        "gmmfast._missing_rows",
        ["gmmfast/_missing_rows.pyx"],
        # the lanes' C header and its vector builds (csrc/missing_isa_<name>.c)
        depends=["gmmfast/_missing_lanes.pxi", "gmmfast/_missing_moments.pxi",
                 "gmmfast/_missing_components.pxi", "gmmfast/_missing_params.pxi",
                 "gmmfast/_missing_slots.pxi",
                 "gmmfast/_kernels/csrc/isa.h", "gmmfast/_kernels/csrc/missing_lanes.h",
                 "gmmfast/_kernels/csrc/normalize.h", "gmmfast/_kernels/csrc/vmath.h",
                 "gmmfast/_kernels/csrc/tri_tile.h",
                 "gmmfast/_kernels/csrc/missing_rows32.h",
                 "gmmfast/_kernels/csrc/missing_small.h"]
        + sorted(glob.glob("gmmfast/_kernels/csrc/missing_isa_*.c")),
        include_dirs=[np.get_include(), "gmmfast/_kernels/csrc"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_compile_args=list(opt_args) + exact_args,
        extra_link_args=[],
    ),
    Extension(
        "gmmfast._mclust_loops",
        ["gmmfast/_mclust_loops.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_compile_args=list(opt_args) + exact_args,
        extra_link_args=[],
    ),
]

setup(
    # The debug build's C file goes to its own directory: cythonize regenerates a C file
    # only when the .pyx is newer, not when the directives change, so sharing one file
    # would silently keep the other mode's checks.
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        build_dir=os.path.join("build", "cython-debug") if DEBUG else None,
    ),
    cmdclass={"build_ext": BuildExt},
)
