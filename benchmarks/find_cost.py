"""
FIND cost against swarm size, in process (no HTTP, no codec): a L{Tracker}
on a L{Clock} with one swarm of 100, 10,000 and 100,000 members (the
population of L{population}: a fifth SEEDs holding every chunk, two in
five LEECHes holding a part), timing C{tracker.handle(FindRequest(...))}
for PeerNum 30 from random members, and FIND_CHUNK for a random chunk.

Each figure is the median of 5 batches of 20,000 calls, in CPU time, the sizes taking
turns batch by batch (so that a drift of the machine's speed hits them
alike); the retry cache is emptied before each batch (it is measured by C{memory.py}, and its
eviction cost by C{request_path.py}); the garbage collector runs as in
production.

    python benchmarks/find_cost.py [--sizes 100,10000,100000] [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inproc import ORIGIN, clearRetryCache, fired, makeTracker, register, tid, timePerCall  # noqa: E402
from population import CHUNKS, benchPeer  # noqa: E402

from ppsp.messages import FindChunkRequest, FindRequest, FindResponse  # noqa: E402


class Case:
    """
    One tracker with one swarm of C{size} members, and request makers.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.tracker, _clock = makeTracker()
        peers = [benchPeer(i, perSwarm=size) for i in range(size)]
        started = time.perf_counter()
        tokens = register(self.tracker, peers)
        self.setup = time.perf_counter() - started
        self.swarmID = peers[0].swarmID
        self.rnd = random.Random(size)
        self.members = [(p.peerID, tokens[p.peerID]) for p in peers]
        handle = self.tracker.handle

        def call(request: Any) -> None:
            response = fired(handle(request, ORIGIN))
            assert isinstance(response, FindResponse), response

        self.call = call
        # A check that the answer is what is asked: 30 peers, never the asker.
        probe = self.find(0)
        answer = fired(handle(probe, ORIGIN))
        assert isinstance(answer, FindResponse)
        assert len(answer.peers) == min(30, size - 1)
        assert probe.peerID not in {p.peerID for p in answer.peers}

    def find(self, i: int) -> FindRequest:
        peerID, token = self.members[self.rnd.randrange(self.size)]
        return FindRequest(tid(), peerID, token, swarmID=self.swarmID, peerNum=30)

    def findChunk(self, i: int) -> FindChunkRequest:
        peerID, token = self.members[self.rnd.randrange(self.size)]
        return FindChunkRequest(
            tid(), peerID, token, swarmID=self.swarmID, peerNum=30,
            chunkID=self.rnd.randrange(CHUNKS),
        )

    def batch(self, kind: str, calls: int) -> float:
        clearRetryCache(self.tracker)
        make = self.find if kind.startswith("FIND_nogc") or kind == "FIND" else self.findChunk
        median, _ = timePerCall(make, self.call, calls, batches=1)
        return median


def measure(sizes: List[int], calls: int, batches: int) -> List[Dict[str, Any]]:
    """
    Build every case first, then time them in turns (batch 1 of every
    size, then batch 2, ...), so that a drift of the machine's speed hits
    every size alike; each figure is the median of its batches.
    """
    cases = []
    for size in sizes:
        case = Case(size)
        print(f"swarm of {size:,} members registered in {case.setup:.1f} s", flush=True)
        cases.append(case)
    times: Dict[int, Dict[str, List[float]]] = {
        c.size: {"FIND": [], "FIND_CHUNK": [], "FIND_nogc": []} for c in cases
    }
    for _ in range(batches):
        for case in cases:
            for kind in ("FIND", "FIND_CHUNK"):
                times[case.size][kind].append(case.batch(kind, calls))
            # The same without the collector, to tell algorithmic cost from
            # the collector's (which grows with the whole heap).
            gc.disable()
            try:
                times[case.size]["FIND_nogc"].append(case.batch("FIND_nogc", calls))
            finally:
                gc.enable()
    results = []
    for case in cases:
        t = times[case.size]
        med = {k: sorted(v)[len(v) // 2] for k, v in t.items()}
        results.append({
            "size": case.size,
            "setup_s": round(case.setup, 1),
            "FIND": {"us": round(med["FIND"], 2), "batches": [round(x, 2) for x in t["FIND"]]},
            "FIND_CHUNK": {
                "us": round(med["FIND_CHUNK"], 2),
                "batches": [round(x, 2) for x in t["FIND_CHUNK"]],
            },
            "FIND_nogc_us": round(med["FIND_nogc"], 2),
        })
    return results


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,10000,100000")
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = measure(sizes, args.calls, args.batches)
    print()
    for r in results:
        print(
            f"swarm of {r['size']:>7,} members: FIND {r['FIND']['us']:6.1f} us, "
            f"FIND_CHUNK {r['FIND_CHUNK']['us']:6.1f} us (FIND without gc {r['FIND_nogc_us']:.1f} us)"
        )
    base = results[0]
    print()
    print(f"{'members':>9}  {'FIND us':>8}  {'ratio':>6}  {'FIND_CHUNK us':>13}  {'ratio':>6}")
    for r in results:
        print(
            f"{r['size']:>9,}  {r['FIND']['us']:8.1f}  {r['FIND']['us'] / base['FIND']['us']:6.2f}"
            f"  {r['FIND_CHUNK']['us']:13.1f}  {r['FIND_CHUNK']['us'] / base['FIND_CHUNK']['us']:6.2f}"
        )
        r["FIND_ratio"] = round(r["FIND"]["us"] / base["FIND"]["us"], 3)
        r["FIND_CHUNK_ratio"] = round(r["FIND_CHUNK"]["us"] / base["FIND_CHUNK"]["us"], 3)
    last = results[-1]
    print()
    print(
        f"FIND at {last['size']:,} members costs {last['FIND_ratio']:.2f}x FIND at "
        f"{base['size']:,} (target <= 1.5x: {'met' if last['FIND_ratio'] <= 1.5 else 'missed'})"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
