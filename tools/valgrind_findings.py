"""Read valgrind memcheck XML files; report the errors whose stack is in gmmfast.

Usage: python tools/valgrind_findings.py VG.XML [VG.XML ...]   (one file per process)

An error is ours when a frame of its stack (or of its allocation stack) is in one of
gmmfast's compiled modules (_kernels, _kmeans, _mclust_loops, _missing_rows); the others
(CPython, numpy, OpenBLAS) are counted, not failed. Every file is read; a file that is
missing or does not parse is the check failing, reported as such, never as a memory
error.

Exit code: 0 no error of ours; 1 errors of ours (in any file that parsed);
2 no errors of ours in the files that parsed, but some file is missing or unreadable,
so the check could not tell.
"""

import sys
import traceback
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

OUR_MODULES = ("_kernels", "_kmeans", "_mclust_loops", "_missing_rows")


def findings(root):
    """(ours, theirs): our errors as (kind, what, our functions), and a Counter of kinds."""
    ours, theirs = [], Counter()
    for err in root.iter("error"):
        kind = err.findtext("kind")
        frames = list(err.iter("frame"))
        mine = [any(m in (f.findtext("obj") or "") for m in OUR_MODULES) for f in frames]
        if any(mine):
            what = err.findtext("what") or err.findtext("xwhat/text") or ""
            fns = [f.findtext("fn") or "?" for f, m in zip(frames, mine) if m]
            ours.append((kind, what, fns[:5]))
        else:
            theirs[kind] += 1
    return ours, theirs


def main(paths):
    if not paths:
        print("   ERROR (the check, not a finding): no valgrind XML file to read")
        return 2
    ours, theirs, unreadable = [], Counter(), []
    for path in map(Path, paths):
        try:
            root = ET.parse(path).getroot()
        except FileNotFoundError:
            unreadable.append(f"{path}: valgrind wrote no such file")
            continue
        except ET.ParseError as exc:
            unreadable.append(f"{path}: not well-formed XML ({exc}); two processes "
                              "writing into one file leave this, so does one that died")
            continue
        found, other = findings(root)
        pid = root.findtext("pid") or "?"
        print(f"   {path.name} (pid {pid}): {len(found)} errors in gmmfast's modules, "
              f"{sum(other.values())} elsewhere")
        ours += found
        theirs += other
    print(f"   errors whose stack is in gmmfast's compiled modules: {len(ours)}")
    for kind, what, fns in ours:
        print(f"     {kind}: {what}\n       in {' <- '.join(fns)}")
    print(f"   errors elsewhere (CPython/numpy/OpenBLAS, not ours): {dict(theirs) or 'none'}")
    for line in unreadable:
        print(f"   ERROR (the check, not a finding): {line}")
    if ours:
        return 1
    return 2 if unreadable else 0


if __name__ == "__main__":
    try:
        status = main(sys.argv[1:])
    except Exception:  # a bug here must not read as a memory error (exit code 1)
        traceback.print_exc()
        print("   ERROR (the check, not a finding): reading valgrind's XML failed")
        status = 2
    sys.exit(status)
