"""
What each built-in peer-selection strategy costs, next to C{random}: in
process (no HTTP, no codec), C{tracker.handle} of a FIND (PeerNum 30) and
a FIND_CHUNK (the requester's next chunk) from random LEECHes, in the
simulated VoD swarm of C{quality.py} (10,000 peers over 50 networks, 2 %
SEEDs, chunk windows, bandwidth statistics), each peer talking from its
own address.

Every strategy serves its own copy of the swarm (so that none inherits
another's partitions, cursors or counts); each gets 1,000 warm-up FINDs
first (C{locality} builds its partition of the swarm then).  Each figure
is the median of 5 batches of 5,000 calls, in CPU time, the strategies
taking turns batch by batch; the ratio is to C{random}'s figure.

    python benchmarks/strategy_cost.py [--peers 10000] [--json FILE] [--rst FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inproc import clearRetryCache, fired, tid, timePerCall  # noqa: E402
from quality import (  # noqa: E402
    CHUNKS,
    STRATEGIES,
    SWARM,
    buildSwarm,
    makePopulation,
    makeStrategy,
    writeMap,
)

from ppsp.messages import FindChunkRequest, FindRequest, FindResponse, PeerMode  # noqa: E402
from ppsp.tracker.core import Origin  # noqa: E402


class Case:
    """
    One strategy over its own tracker, and request makers.
    """

    def __init__(self, spec: str, peers: List[Any], mapPath: str) -> None:
        self.spec = spec
        started = time.perf_counter()
        self.tracker, clock = buildSwarm(peers)
        self.setup = time.perf_counter() - started
        self.tracker.selector = makeStrategy(spec, mapPath)
        self.leeches = [
            (p.peerID, p.token, Origin(p.ip, 7000), p.position)
            for p in peers
            if p.mode is PeerMode.LEECH
        ]
        self.rnd = random.Random(5)
        handle = self.tracker.handle

        def call(args: Any) -> None:
            request, origin = args
            response = fired(handle(request, origin))
            assert isinstance(response, FindResponse), response

        self.call = call
        for i in range(1000):
            call(self.find(i))
        clearRetryCache(self.tracker)

    def find(self, i: int) -> Any:
        peerID, token, origin, _ = self.leeches[self.rnd.randrange(len(self.leeches))]
        return FindRequest(tid(), peerID, token, swarmID=SWARM, peerNum=30), origin

    def findChunk(self, i: int) -> Any:
        peerID, token, origin, position = self.leeches[self.rnd.randrange(len(self.leeches))]
        chunk = min(position + 1, CHUNKS - 1)
        return (
            FindChunkRequest(tid(), peerID, token, swarmID=SWARM, peerNum=30, chunkID=chunk),
            origin,
        )

    def batch(self, kind: str, calls: int) -> float:
        clearRetryCache(self.tracker)
        make = self.find if kind == "FIND" else self.findChunk
        median, _ = timePerCall(make, self.call, calls, batches=1)
        return median


def rstTable(results: List[Dict[str, Any]]) -> str:
    """
    The figures as an RST list-table.
    """
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - strategy",
        "     - FIND µs",
        "     - ratio to random",
        "     - FIND_CHUNK µs",
        "     - ratio to random",
    ]
    for r in results:
        lines += [
            f"   * - ``{r['strategy']}``",
            f"     - {r['FIND_us']:.1f}",
            f"     - {r['FIND_ratio']:.2f}",
            f"     - {r['FIND_CHUNK_us']:.1f}",
            f"     - {r['FIND_CHUNK_ratio']:.2f}",
        ]
    return "\n".join(lines) + "\n"


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--peers", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--rst", help="also write the table here (an RST fragment)")
    args = parser.parse_args(argv)
    peers = makePopulation(args.peers)
    times: Dict[str, Dict[str, List[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        mapPath = os.path.join(tmp, "networks.map")
        writeMap(50, mapPath)
        cases = []
        for spec in STRATEGIES:
            case = Case(spec, peers, mapPath)
            print(f"{spec}: swarm of {args.peers:,} registered in {case.setup:.1f} s", flush=True)
            cases.append(case)
            times[spec] = {"FIND": [], "FIND_CHUNK": []}
        for _ in range(args.batches):
            for case in cases:
                for kind in ("FIND", "FIND_CHUNK"):
                    times[case.spec][kind].append(case.batch(kind, args.calls))
    results = []
    for spec in STRATEGIES:
        med = {k: sorted(v)[len(v) // 2] for k, v in times[spec].items()}
        results.append({
            "strategy": spec,
            "FIND_us": round(med["FIND"], 1),
            "FIND_CHUNK_us": round(med["FIND_CHUNK"], 1),
            "batches": {k: [round(x, 1) for x in v] for k, v in times[spec].items()},
        })
    base = results[0]
    print()
    print(f"{'strategy':<72} {'FIND us':>8} {'ratio':>6} {'FIND_CHUNK us':>14} {'ratio':>6}")
    for r in results:
        r["FIND_ratio"] = round(r["FIND_us"] / base["FIND_us"], 2)
        r["FIND_CHUNK_ratio"] = round(r["FIND_CHUNK_us"] / base["FIND_CHUNK_us"], 2)
        print(
            f"{r['strategy']:<72} {r['FIND_us']:8.1f} {r['FIND_ratio']:6.2f}"
            f" {r['FIND_CHUNK_us']:14.1f} {r['FIND_CHUNK_ratio']:6.2f}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"peers": args.peers, "calls": args.calls, "results": results}, f, indent=1)
    if args.rst:
        with open(args.rst, "w", encoding="utf-8") as f:
            f.write(
                f".. Written by benchmarks/strategy_cost.py: {args.peers:,} peers, median of "
                f"{args.batches} batches of {args.calls:,} calls.\n\n"
            )
            f.write(rstTable(results))


if __name__ == "__main__":
    main(sys.argv[1:])
