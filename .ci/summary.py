"""
Turn trial's closing lines into the plain "N passed, N failed, N skipped"
lines that CI reads, and fail when a run failed or ran no test (trial
itself says PASSED on an empty run).

    python .ci/summary.py [NAME=]LOG...

With one log it prints one line.  With several (one trial run per Python)
it prints a line per run, prefixed with its NAME, and then, last, the
total over every run without a prefix.
"""

from __future__ import annotations

import re
import sys
from typing import List, Optional, Tuple

Counts = Tuple[int, int, int]


def count(path: str) -> Tuple[Optional[Counts], bool]:
    """
    Read one trial log.

    @return: the (passed, failed, skipped) counts of its closing line, or
        L{None} when it has none; and whether trial said PASSED.
    """
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    match = re.findall(r"^(PASSED|FAILED) \(([^)]*)\)\s*$", text, re.M)
    if not match:
        return None, False
    verdict, fields = match[-1]
    counts = {}
    for part in fields.split(","):
        name, _, value = part.strip().partition("=")
        counts[name] = int(value or 0)
    passed = counts.get("successes", 0) + counts.get("expectedFailures", 0)
    failed = counts.get("failures", 0) + counts.get("errors", 0) + counts.get("unexpectedSuccesses", 0)
    skipped = counts.get("skips", 0)
    return (passed, failed, skipped), verdict == "PASSED"


def line(counts: Counts) -> str:
    """
    The plain line for some counts.
    """
    return "{} passed, {} failed, {} skipped".format(*counts)


def main(args: List[str]) -> int:
    ok = bool(args)
    if not args:
        print("no trial log given: no test ran", file=sys.stderr)
    total = [0, 0, 0]
    for arg in args:
        name, sep, path = arg.partition("=")
        if not sep:
            name, path = arg, arg
        counts, passed = count(path)
        if counts is None:
            print(f"{name}: trial printed no summary: no test ran", file=sys.stderr)
            ok = False
            continue
        if len(args) > 1:
            print(f"{name}: {line(counts)}")
        if counts[0] + counts[1] == 0:
            print(f"{name}: no test ran", file=sys.stderr)
            ok = False
        if not passed or counts[1]:
            ok = False
        total = [t + c for t, c in zip(total, counts)]
    print(line((total[0], total[1], total[2])))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
