"""
Summarise a py-spy profile in its "raw" (collapsed stacks) format: the
functions with the most samples on the CPU (self), and the functions with
the most samples below them (inclusive), as percentages of all samples.

    py-spy record -p PID -d 10 -r 500 -f raw -o profile.txt
    python benchmarks/profile_summary.py profile.txt [--top 25]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from typing import List

_LINE = re.compile(r" \(([^:)]*):\d+\)$")


def frameName(frame: str) -> str:
    """
    C{function (path/file.py:LINE)} without its line number, with the path
    shortened to the package-relative part.
    """
    frame = frame.strip()
    m = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if m is None:
        return frame
    function, path = m.groups()
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{function} ({path})"


def summarise(lines: List[str], top: int) -> str:
    selfCounts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        line = line.rstrip("\n")
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = [frameName(f) for f in stack.split(";")]
        total += n
        selfCounts[frames[-1]] += n
        for name in set(frames):
            inclusive[name] += n
    out = [f"{total} samples", "", f"top {top} by self time:"]
    for name, n in selfCounts.most_common(top):
        out.append(f"  {100 * n / total:5.1f} %  {name}")
    out += ["", f"top {top} by inclusive time:"]
    for name, n in inclusive.most_common(top):
        out.append(f"  {100 * n / total:5.1f} %  {name}")
    return "\n".join(out)


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    with open(args.profile, encoding="utf-8") as f:
        print(summarise(f.readlines(), args.top))


if __name__ == "__main__":
    main(sys.argv[1:])
