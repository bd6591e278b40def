"""Check that a built gmmfast wheel holds what an installed gmmfast needs.

    python tools/check_wheel_contents.py WHEEL

Fails (exit 1, saying what is missing) unless the wheel has:
- the compiled extensions, gmmfast/_kernels/_core.<abi>.so (EM),
  gmmfast/_kmeans.<abi>.so (k-means initialisation), gmmfast/_mclust_loops.<abi>.so
  (mclust's hierarchical start, EVE/VVE rotations) and gmmfast/_missing_rows.<abi>.so
  (the row-by-row E-step of missing values), or .pyd, each exactly once;
- every module and Cython source of the checkout's gmmfast/, its subpackage
  gmmfast/_kernels/ and the C headers in gmmfast/_kernels/csrc/ (*.py, *.pyx, *.pxd,
  *.pxi, *.h);
- no generated C file;
- the OpenMP runtime its platform needs, bundled by the wheel repair step:
  manylinux libgomp (auditwheel, gmmfast.libs/), macOS libomp (delocate,
  gmmfast/.dylibs/), Windows vcomp140 (delvewheel, gmmfast.libs/).

Run by cibuildwheel's test-command on every wheel and by tools/check_wheel.sh.
"""

import fnmatch
import sys
import zipfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "gmmfast"

# platform tag prefix -> (where the repair tool puts libraries, pattern of the runtime)
OPENMP_RUNTIME = {
    "manylinux": ("auditwheel", "gmmfast.libs/libgomp*.so*"),
    "musllinux": ("auditwheel", "gmmfast.libs/libgomp*.so*"),
    "macosx": ("delocate", "gmmfast/.dylibs/libomp*.dylib"),
    "win": ("delvewheel", "gmmfast.libs/vcomp140*.dll"),
}


def check(wheel):
    """Return the list of problems found in the wheel (empty when it is complete)."""
    names = zipfile.ZipFile(wheel).namelist()
    problems = []

    for module in ("_kernels/_core", "_kmeans", "_mclust_loops", "_missing_rows"):
        found = [n for n in names if fnmatch.fnmatch(n, f"gmmfast/{module}.*")
                 and n.endswith((".so", ".pyd"))]
        if len(found) != 1:
            problems.append(f"expected one compiled gmmfast/{module} extension, found {found}")

    expected = sorted(
        f"gmmfast/{p.relative_to(SOURCE).as_posix()}"
        for folder in ("", "_kernels", "_kernels/csrc")
        for pattern in ("*.py", "*.pyx", "*.pxd", "*.pxi", "*.h")
        for p in (SOURCE / folder).glob(pattern)
    )
    missing = [n for n in expected if n not in names]
    if missing:
        problems.append(f"package files missing from the wheel: {missing}")

    generated = [n for n in names if n.startswith("gmmfast/") and n.endswith(".c")]
    if generated:
        problems.append(f"generated C files shipped: {generated}")

    platform = Path(wheel).name[:-len(".whl")].split("-")[-1]
    for prefix, (tool, pattern) in OPENMP_RUNTIME.items():
        if platform.startswith(prefix):
            if not any(fnmatch.fnmatch(n, pattern) for n in names):
                problems.append(
                    f"no OpenMP runtime bundled ({pattern}) in this {platform} wheel: "
                    f"was it built with GMMFAST_OPENMP=required and repaired by {tool}?")
            break
    else:
        problems.append(
            f"platform tag {platform!r} is not one gmmfast publishes: a linux_* wheel "
            "must first go through auditwheel repair")
    return problems


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(argv[1])
    for problem in problems:
        print(f"check_wheel_contents: {Path(argv[1]).name}: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_wheel_contents: {Path(argv[1]).name}: complete")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
