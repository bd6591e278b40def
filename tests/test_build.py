"""The installed build: compiled kernels in the package, Cython sources shipped beside
them, and OpenMP on when the build was required to have it, in a runtime that
threadpoolctl (and so the user) controls.

GMMFAST_EXPECT_OPENMP=1, or GMMFAST_OPENMP=required as set by .ci/run and the wheel
builds, makes a build without OpenMP a failure here.
"""

import importlib.machinery
import os
from pathlib import Path

from threadpoolctl import threadpool_info, threadpool_limits

import gmmfast
from gmmfast import _kernels

PACKAGE = Path(gmmfast.__file__).resolve().parent


def _openmp_expected():
    return (os.environ.get("GMMFAST_EXPECT_OPENMP") == "1"
            or os.environ.get("GMMFAST_OPENMP", "").strip().lower() == "required")


def test_kernels_are_a_compiled_extension_inside_the_package():
    path = Path(_kernels._core.__file__).resolve()
    assert path.parent == PACKAGE / "_kernels", (
        f"gmmfast._kernels._core loaded from {path}, outside {PACKAGE}")
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    assert path.name.endswith(tuple(suffixes)), f"{path.name} is not an extension module"


def test_cython_sources_are_shipped_as_package_data():
    # pyproject.toml's package-data: the kernel module, every file it includes and every
    # C header, as they are in the source tree (a file left out of the list fails here)
    kernels = PACKAGE / "_kernels"
    for name in ("_core.pyx", "_core.pxd", "common.pxi", "mstep.pxi",
                 "csrc/kernels.h", "csrc/isa.h", "csrc/omp_shim.h"):
        assert (kernels / name).is_file(), f"{name} is not installed in {kernels}"
    routes = sorted(p.name for p in kernels.glob("route_*.pxi"))
    assert len(routes) == _kernels.N_ROUTES, routes   # one file a route
    # every header in the kernel module (kernels.h), the missing values' row pass or
    # the k-means start, which have their own builds of missing_lanes.h, kmeans_tiles.h
    included = ((kernels / "csrc" / "kernels.h").read_text()
                + (PACKAGE / "_missing_lanes.pxi").read_text()
                + (PACKAGE / "_kmeans.pyx").read_text())
    for header in kernels.glob("csrc/*.h"):
        if header.name not in ("kernels.h", "omp_shim.h"):
            assert f'"{header.name}"' in included, header.name


def test_show_config_reports_the_build():
    info = gmmfast.show_config(file=False)
    assert info["version"] == gmmfast.__version__
    assert info["openmp"] is _kernels.openmp_enabled()
    if _openmp_expected():
        assert info["openmp"], "this build was required to have OpenMP and has not"
    assert info["n_threads"] >= 1
    if "OMP_NUM_THREADS" not in os.environ:
        assert info["n_threads"] <= info["cpu_count"]
    if not info["openmp"]:
        assert info["n_threads"] == 1


def test_show_config_names_the_kernel_build():
    import io

    out = io.StringIO()
    info = gmmfast.show_config(file=out)
    assert info["isa"] == _kernels.vmath_impl()
    assert info["isa_builds"] == _kernels.isa_builds()
    assert info["isa"] in info["isa_builds"]
    assert f"kernels: {info['isa']} (built: {', '.join(info['isa_builds'])})" in out.getvalue()
    # the missing values' lanes and the k-means tiles are built from the same table
    # and chosen alike
    from gmmfast import _kmeans, _missing_rows

    assert _missing_rows.lanes_builds() == _kmeans.tiles_builds() == _kernels.isa_builds()
    assert _missing_rows.lanes_impl() == _kmeans.tiles_impl() == _kernels.vmath_impl()


def test_gmmfast_isa_caps_the_build_in_a_new_process():
    # GMMFAST_ISA is read once, at import: each cap in a child process
    import subprocess
    import sys

    # the kernels and the missing values' lanes (their own module) choose alike
    code = ("from gmmfast import _kernels, _kmeans, _missing_rows; "
            "print(_kernels.vmath_impl(), _missing_rows.lanes_impl(), _kmeans.tiles_impl())")
    builds = _kernels.isa_builds()
    got = {}
    for cap in ("baseline", "avx2", "neon", "avx512"):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=dict(os.environ, GMMFAST_ISA=cap), timeout=120,
                              cwd=str(PACKAGE.parent.parent))
        assert proc.returncode == 0, proc.stderr
        kernels, lanes, tiles = proc.stdout.split()
        assert lanes == tiles == kernels, cap
        got[cap] = kernels
    assert got["baseline"] == "baseline"
    # the caps never give a build that is not compiled in, nor a wider one than asked
    assert set(got.values()) <= set(builds)
    assert got["avx2"] == got["neon"] in ("avx2+fma", "neon", "baseline")
    if "GMMFAST_ISA" not in os.environ:   # this process chose without a cap: the widest
        assert got["avx512"] == _kernels.vmath_impl()
    if "neon" in builds:   # aarch64: every CPU runs it
        assert got["avx2"] == got["avx512"] == "neon"


def test_threadpoolctl_controls_the_kernels_threads(monkeypatch):
    # OMP_NUM_THREADS set only so that the count is not capped at this machine's CPUs;
    # the runtime read it at start-up, the limit below is what changes its maximum.
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    with threadpool_limits(limits=3, user_api="openmp"):
        n_three = gmmfast.show_config(file=False)["n_threads"]
    with threadpool_limits(limits=1, user_api="openmp"):
        n_one = gmmfast.show_config(file=False)["n_threads"]
    if _kernels.openmp_enabled():
        # the runtime our kernels use is one threadpoolctl finds and limits
        assert (n_three, n_one) == (3, 1)
        assert any(lib["user_api"] == "openmp" for lib in threadpool_info())
    else:
        assert (n_three, n_one) == (1, 1)


def _setup_flag_table():
    """setup.py's ISA_BUILDS, _MACHINES and isa_builds, without running setup.py (which
    builds): their definitions, taken from its syntax tree, executed alone."""
    import ast

    source = (Path(__file__).resolve().parent.parent / "setup.py").read_text()
    wanted = {"ISA_BUILDS", "_MACHINES", "isa_builds"}
    nodes = [n for n in ast.parse(source).body
             if (isinstance(n, ast.FunctionDef) and n.name in wanted)
             or (isinstance(n, ast.Assign) and {getattr(t, "id", None) for t in n.targets} & wanted)]
    namespace = {}
    exec(compile(ast.Module(body=nodes, type_ignores=[]), "setup.py", "exec"), namespace)
    assert wanted <= namespace.keys()
    return namespace


def test_flag_table_gives_msvc_its_own_spellings():
    # the Windows wheel (MSVC, win-amd64) carries AVX2 and AVX-512 builds
    isa_builds = _setup_flag_table()["isa_builds"]
    assert isa_builds("msvc", "win-amd64") == [
        ("avx2", ["/arch:AVX2", "/fp:contract"]),
        ("avx512", ["/arch:AVX512", "/fp:contract"]),
    ]
    # no GCC spelling leaks into an MSVC command line, nor the reverse
    for compiler, platform in [("msvc", "win-amd64"), ("unix", "linux-x86_64"),
                               ("unix", "macosx-15.0-x86_64")]:
        for _, flags in isa_builds(compiler, platform):
            assert all(f.startswith("/" if compiler == "msvc" else "-") for f in flags)


def test_flag_table_for_every_wheel_platform():
    isa_builds = _setup_flag_table()["isa_builds"]
    x86 = [("avx2", ["-mavx2", "-mfma"]),
           ("avx512", ["-mavx512f", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma"])]
    assert isa_builds("unix", "linux-x86_64") == x86
    assert isa_builds("unix", "macosx-15.0-x86_64") == x86
    assert isa_builds("mingw32", "mingw_x86_64") == x86    # gcc's spellings
    # aarch64: ASIMD with FMA is the architecture's baseline, the NEON build needs no flag
    assert isa_builds("unix", "linux-aarch64") == [("neon", [])]
    assert isa_builds("unix", "macosx-14.0-arm64") == [("neon", [])]
    # one compiler call for two CPUs: no instruction-set flag fits both
    assert isa_builds("unix", "macosx-14.0-universal2") == []
    assert isa_builds("unix", "linux-ppc64le") == []


def test_every_build_in_the_flag_table_has_its_translation_unit():
    table = _setup_flag_table()["ISA_BUILDS"]
    csrc = Path(__file__).resolve().parent.parent / "gmmfast" / "_kernels" / "csrc"
    # the kernels' units, and those of the modules with builds of their own (setup.py's
    # _add_isa_builds: the missing values' lanes, k-means++'s tiles)
    for unit, header in (("isa", "kernels.h"), ("missing_isa", "missing_lanes.h"),
                         ("kmeans_isa", "kmeans_tiles.h")):
        for name in table:
            text = (csrc / f"{unit}_{name}.c").read_text()
            assert f"#define GMM_TU_ISA GMM_ISA_{name.upper()}" in text, (unit, name)
            assert f'#include "{header}"' in text, (unit, name)
        units = sorted(p.stem[len(unit) + 1:] for p in csrc.glob(f"{unit}_*.c"))
        assert units == sorted(table), unit
