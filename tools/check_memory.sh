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
#      Each process writes its own XML file (%p), and every file is parsed: a file
#      that cannot be read is the check failing, not a finding.
# Usage: tools/check_memory.sh            (about 10 minutes on 2 cores)
#        SKIP_SUITE=1 tools/check_memory.sh   (valgrind part only)
# Exit code 0: clean; 1: errors from our code or a red test suite; 2: the check could
# not do its job (no valgrind, a debug build without bounds checks, valgrind output
# missing or unreadable), so nothing is known.
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
[ "$checks" -gt 0 ] || { echo "ERROR: the debug build has no bounds checks" >&2; exit 2; }
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
    # returns 0 clean, 1 errors in our code, 2 valgrind's output missing or
    # unreadable (tools/valgrind_findings.py), 3 the program failed under valgrind
    local name="$1" done_pattern="$2"; shift 2
    echo "== valgrind memcheck: $name"
    local t0=$SECONDS status=0
    # One XML file per process (%p). A forked child stays silent: valgrind (3.19)
    # writes a forked child's XML into its parent's file, which then no longer
    # parses. Neither run forks a child that runs gmmfast code (a fork there would be
    # subprocess's fork+exec of another program).
    PYTHONPATH="$work" PYTHONMALLOC=malloc OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 \
    valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite \
        --track-origins=no --num-callers=40 --child-silent-after-fork=yes \
        --xml=yes --xml-file="$work/vg-$name.%p.xml" --log-file="$work/vg-$name.%p.log" \
        "$@" >"$work/out-$name.txt" 2>&1 || status=$?
    tail -3 "$work/out-$name.txt" | sed 's/^/   | /'
    echo "   exit code $status (99 = valgrind saw errors somewhere) in $((SECONDS - t0)) s"
    # valgrind's exit code 99 would hide the program's own failure: look for its
    # success line instead
    if ! grep -Eq "$done_pattern" "$work/out-$name.txt" \
            || grep -Eq "[0-9]+ (failed|error)" "$work/out-$name.txt"; then
        echo "FAIL: $name did not run to success under valgrind"
        return 3
    fi
    local found=0
    "$python" tools/valgrind_findings.py "$work"/vg-"$name".*.xml || found=$?
    return "$found"
}

t_all=$SECONDS
declare -A outcome=()
for run in driver properties; do
    status=0
    case $run in
        driver) run_valgrind driver "all paths run" "$python" tools/memcheck_kernels.py \
                    || status=$? ;;
        properties) GMMFAST_HYPOTHESIS_EXAMPLES=3 run_valgrind properties "^[0-9]+ passed" \
                    "$python" -m pytest -q -p no:cacheprovider -x tests/test_properties.py \
                    || status=$? ;;
    esac
    outcome[$status]+=" $run"
done
echo "== valgrind part took $((SECONDS - t_all)) s"
[ -n "${outcome[2]:-}" ] && echo "ERROR: valgrind's output of${outcome[2]} is missing" \
    "or unreadable (above): the check says nothing about memory errors there"
[ -n "${outcome[3]:-}" ] && echo "FAIL:${outcome[3]} failed under valgrind"
[ -n "${outcome[1]:-}" ] && echo "FAIL: memory errors in gmmfast's compiled modules" \
    "(${outcome[1]# })"
[ -n "${outcome[1]:-}${outcome[3]:-}" ] && exit 1
[ -n "${outcome[2]:-}" ] && exit 2
echo "OK: debug build green, no memory errors or definite leaks from gmmfast's compiled modules"
