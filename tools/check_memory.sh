#!/usr/bin/env bash
# Memory safety of the compiled kernels. From a temporary copy of this checkout (the
# checkout itself is not touched):
#   1. build gmmfast with GMMFAST_DEBUG=1: Cython boundscheck, wraparound and
#      initializedcheck on, -O0 -g;
#   2. run the whole test suite against that build; it must be green (an index out of
#      bounds is an IndexError there, not a silent overwrite);
#   3. run the kernel driver tools/memcheck_kernels.py (every kernel, every covariance
#      type, both dtypes, both D paths, weights, 1 and 2 threads, error paths) and a few
#      hypothesis examples of tests/test_properties.py under valgrind memcheck, with
#      PYTHONMALLOC=malloc so that every Python allocation is visible to valgrind.
#      CPython, numpy and OpenBLAS report errors of their own under valgrind (their
#      custom allocators, deliberate uninitialised reads in SIMD code, objects kept
#      until exit); we do not suppress them by guesswork: valgrind writes XML, and an
#      error counts when a frame of its stack (or of its allocation stack) is in our
#      _kernels module. Any such invalid read/write, use of uninitialised memory, bad
#      free, or definite leak fails the script; the others are counted and listed.
# Usage: tools/check_memory.sh            (about 10 minutes on 2 cores)
#        SKIP_SUITE=1 tools/check_memory.sh   (valgrind part only)
# Exit code 0: clean; 1: errors from our code or a red test suite.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python}"
command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/gmmfast-memcheck.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "== copying the checkout's tracked files to $work"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard \
    | xargs -0 cp --parents -t "$work")
cd "$work"

echo "== debug build (GMMFAST_DEBUG=1)"
t0=$SECONDS
GMMFAST_DEBUG=1 "$python" setup.py build_ext --inplace --force >build.log 2>&1 \
    || { tail -30 build.log; exit 1; }
# boundscheck on leaves Cython's index checks in the generated C
# (setup.py writes a debug build's C under build/cython-debug, apart from the normal one)
csrc=gmmfast/_kernels/_core.c
for c in build/cython-debug/gmmfast/_kernels/_core.c build/cython-debug/_kernels/_core.c; do
    if [ -f "$c" ]; then csrc=$c; break; fi
done
checks=$(grep -c "Out of bounds on buffer access" "$csrc" 2>/dev/null || true)
checks=${checks:-0}
[ "$checks" -gt 0 ] || { echo "FAIL: the debug build has no bounds checks" >&2; exit 1; }
echo "   $checks bounds-check sites in the generated C"
"$python" - <<'PY'
import gmmfast, pathlib, sys
where = pathlib.Path(gmmfast.__file__).resolve()
assert pathlib.Path.cwd() in where.parents, f"imported {where}, not the debug build"
print(f"debug build at {where.parent} ")
PY
echo "   built in $((SECONDS - t0)) s"

if [ "${SKIP_SUITE:-0}" != "1" ]; then
    echo "== whole test suite against the debug build"
    t0=$SECONDS
    "$python" -m pytest -q -p no:cacheprovider tests || { echo "FAIL: test suite"; exit 1; }
    echo "   suite green in $((SECONDS - t0)) s"
fi

run_valgrind() {  # name, line the program prints when it succeeded, command...
    local name="$1" done_pattern="$2"; shift 2
    echo "== valgrind memcheck: $name"
    local t0=$SECONDS status=0
    PYTHONPATH="$work" PYTHONMALLOC=malloc OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 \
    valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite \
        --track-origins=no --num-callers=40 \
        --xml=yes --xml-file="$work/vg-$name.xml" --log-file="$work/vg-$name.log" \
        "$@" >"$work/out-$name.txt" 2>&1 || status=$?
    tail -3 "$work/out-$name.txt" | sed 's/^/   | /'
    echo "   exit code $status (99 = valgrind saw errors somewhere) in $((SECONDS - t0)) s"
    # valgrind's exit code 99 would hide the program's own failure: look for its
    # success line instead
    if ! grep -Eq "$done_pattern" "$work/out-$name.txt" \
            || grep -Eq "[0-9]+ (failed|error)" "$work/out-$name.txt"; then
        echo "FAIL: $name did not run to success under valgrind"
        return 1
    fi
    "$python" - "$work/vg-$name.xml" <<'PY' || return 1
import sys
import xml.etree.ElementTree as ET
from collections import Counter

root = ET.parse(sys.argv[1]).getroot()
ours, theirs = [], Counter()
for err in root.iter("error"):
    kind = err.findtext("kind")
    objs = [f.findtext("obj") or "" for f in err.iter("frame")]
    fns = [f.findtext("fn") or "" for f in err.iter("frame")]
    mine = ["_kernels" in o or "_kmeans" in o for o in objs]   # both compiled modules
    if any(mine):
        what = err.findtext("what") or err.findtext("xwhat/text") or ""
        ours.append((kind, what, [f for f, m in zip(fns, mine) if m][:5]))
    else:
        theirs[kind] += 1
print(f"   errors whose stack is in gmmfast._kernels or _kmeans: {len(ours)}")
for kind, what, fns in ours:
    print(f"     {kind}: {what}\n       in {' <- '.join(fns)}")
print(f"   errors elsewhere (CPython/numpy/OpenBLAS, not ours): "
      f"{dict(theirs) or 'none'}")
sys.exit(1 if ours else 0)
PY
}

t_all=$SECONDS
fail=0
run_valgrind driver "all paths run" "$python" tools/memcheck_kernels.py || fail=1
GMMFAST_HYPOTHESIS_EXAMPLES=3 run_valgrind properties "^[0-9]+ passed" \
    "$python" -m pytest -q -p no:cacheprovider -x tests/test_properties.py || fail=1
echo "== valgrind part took $((SECONDS - t_all)) s"
if [ "$fail" = 1 ]; then echo "FAIL: memory errors in gmmfast._kernels or _kmeans"; exit 1; fi
echo "OK: debug build green, no memory errors or definite leaks from gmmfast._kernels or _kmeans"
