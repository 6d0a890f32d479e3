"""
Memory per registered peer, in process: 100,000 peers of the benchmark
population (2,000 swarms of 50), each with one membership, registered as
the core does it (C{tracker.handle} of CONNECT, then JOIN), measured with
C{tracemalloc} (bytes allocated by Python, after a full collection) and,
in a separate process without tracemalloc, as the growth of the RSS.

Stages, each reported as bytes per peer:

  1. CONNECT: the peer record, its addresses and CONNECT statistics;
  2. JOIN: plus one membership (the figure the target is about), with the
     peer-list entries that LEECH JOINs cached (the tracker's
     C{peerInfos}) dropped;
  3. peer-list entries: every member's cached entry for one class of
     requester (what a busy tracker holds after FINDs);
  4. chunk sets: JOIN_CHUNK for the peers that hold chunks (a fifth of
     them SEEDs with every chunk, two in five LEECHes with a part), and
     the swarms' chunk indexes.

The retry cache is emptied before every measurement and measured on its
own: the cost of one cached answer, per method, because in production it
holds the last 60 s of answers (up to C{retryCacheSize}, 200,000 by
default).

    python benchmarks/memory.py [--peers 100000] [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tracemalloc
from typing import Any, Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inproc import ORIGIN, clearRetryCache, fired, makeTracker, send, tid  # noqa: E402
from population import benchPeer  # noqa: E402

from ppsp.messages import (  # noqa: E402
    ConnectResponse,
    FindRequest,
    KeepAliveRequest,
    PeerMode,
    Stat,
    StatReportRequest,
)

PER_SWARM = 50


def rssKiB() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def measure(peerCount: int, probe: Callable[[], int]) -> Dict[str, Any]:
    """
    Build the stages and return C{probe()} after each (bytes).
    """
    tracker, _clock = makeTracker()
    peers = [benchPeer(i, PER_SWARM) for i in range(peerCount)]
    marks: Dict[str, int] = {}
    tracked: Dict[str, int] = {}

    def mark(name: str) -> None:
        clearRetryCache(tracker)
        gc.collect()
        marks[name] = probe()
        tracked[name] = len(gc.get_objects())

    mark("empty")
    tokens = {}
    for n, p in enumerate(peers):
        answer = send(tracker, p.connect(tid()))
        assert isinstance(answer, ConnectResponse)
        tokens[p.peerID] = answer.authToken
        if n % 20000 == 0:
            clearRetryCache(tracker)
    mark("connected")
    for n, p in enumerate(peers):
        send(tracker, p.join(tid(), tokens[p.peerID]))
        if n % 20000 == 0:
            clearRetryCache(tracker)
    assert sum(len(peer.swarms) for peer in fired(tracker.store.peers())) == peerCount
    cached = len(tracker.peerInfos)
    tracker.peerInfos.clear()
    mark("joined")
    # Fill every member's peer-list entry: a FIND for the whole swarm from
    # two members of each swarm.
    for s in range(0, peerCount, PER_SWARM):
        for p in (peers[s], peers[s + 1]):
            send(tracker, FindRequest(tid(), p.peerID, tokens[p.peerID], swarmID=p.swarmID, peerNum=PER_SWARM))
    mark("listed")
    for n, p in enumerate(peers):
        request = p.joinChunk(tid(), tokens[p.peerID])
        if request is not None:
            send(tracker, request)
        if n % 20000 == 0:
            clearRetryCache(tracker)
    mark("chunks")

    # The retry cache: N answers of one method each, kept.
    rnd = random.Random(3)
    leeches = [p for p in peers if p.mode is PeerMode.LEECH]
    retry: Dict[str, float] = {}
    retryTracked: Dict[str, float] = {}
    n = 20000
    makers: Dict[str, Callable[[], Any]] = {
        "KEEPALIVE": lambda: KeepAliveRequest(tid(), p.peerID, tokens[p.peerID]),
        "STAT_REPORT": lambda: StatReportRequest(
            tid(), p.peerID, tokens[p.peerID],
            stats=(
                Stat("UploadedBytes", str(rnd.randrange(2_000_000_000)), p.swarmID),
                Stat("DownloadedBytes", str(rnd.randrange(2_000_000_000)), p.swarmID),
                Stat("AvailBandwidth", str(rnd.randrange(100, 50_000))),
                Stat("ConcurrentLinks", str(rnd.randrange(80))),
            ),
        ),
        "FIND": lambda: FindRequest(tid(), p.peerID, tokens[p.peerID], swarmID=p.swarmID, peerNum=30),
    }
    for method, make in makers.items():
        clearRetryCache(tracker)
        gc.collect()
        before = probe()
        objects = len(gc.get_objects())
        kept = []
        for _ in range(n):
            p = rnd.choice(leeches)
            kept.append(fired(tracker.handle(make(), ORIGIN)))
        del kept
        gc.collect()
        retry[method] = (probe() - before) / n
        retryTracked[method] = (len(gc.get_objects()) - objects) / n
    clearRetryCache(tracker)
    return {
        "marks": marks,
        "tracked": tracked,
        "retry": retry,
        "retryTracked": retryTracked,
        "cachedAfterJoin": cached,
        "peers": peerCount,
    }


def report(result: Dict[str, Any], label: str, rssOnlyTotal: bool = False) -> Dict[str, float]:
    """
    Print bytes per peer for each stage.  The RSS is shown for the whole
    only: the peer-list entries that the JOINs cache are dropped for stage
    2 and their memory is reused by stage 3 without leaving the process, so
    the RSS of the stages in between says nothing.
    """
    marks = result["marks"]
    n = result["peers"]
    per = {
        "CONNECT (peer record)": (marks["connected"] - marks["empty"]) / n,
        "JOIN (one membership)": (marks["joined"] - marks["connected"]) / n,
        "registered peer with one membership": (marks["joined"] - marks["empty"]) / n,
        "+ cached peer-list entry": (marks["listed"] - marks["joined"]) / n,
        "+ chunk set and index": (marks["chunks"] - marks["listed"]) / n,
        "all of it": (marks["chunks"] - marks["empty"]) / n,
    }
    print(f"{label}, {n:,} peers:")
    for k, v in per.items():
        if rssOnlyTotal and k != "all of it":
            continue
        print(f"  {k:<38} {v:8.0f} bytes/peer")
    return per


def child(mode: str, peers: int) -> None:
    if mode == "tracemalloc":
        tracemalloc.start()
        probe = lambda: tracemalloc.get_traced_memory()[0]  # noqa: E731
    else:
        probe = lambda: rssKiB() * 1024  # noqa: E731
    print(json.dumps(measure(peers, probe)))


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", type=int, default=100_000)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--child", choices=["tracemalloc", "rss"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.peers)
        return
    results: Dict[str, Any] = {}
    for mode in ("tracemalloc", "rss"):
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child", mode, "--peers", str(args.peers)],
            capture_output=True, text=True, check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results[mode] = result
        if mode == "tracemalloc":
            results[mode]["per_peer"] = report(result, "tracemalloc (Python allocations)")
            print(
                f"  ({result['cachedAfterJoin']:,} peer-list entries were cached after the "
                "JOINs; dropped for stage 2)"
            )
        else:
            results[mode]["per_peer"] = report(result, "RSS growth", rssOnlyTotal=True)
    t = results["tracemalloc"]
    n = t["peers"]
    print()
    print(
        "objects the garbage collector tracks (a full collection visits each): "
        f"{(t['tracked']['joined'] - t['tracked']['empty']) / n:.1f} per registered peer, "
        f"{(t['tracked']['chunks'] - t['tracked']['empty']) / n:.1f} with all of it "
        f"({t['tracked']['chunks']:,} in the process)"
    )
    print()
    print("retry cache, per cached answer (tracemalloc; objects the collector tracks):")
    for method, v in t["retry"].items():
        print(f"  {method:<12} {v:8.0f} bytes  {t['retryTracked'][method]:5.1f} objects")
    retry = results["tracemalloc"]["retry"]
    low, high = min(retry.values()), max(retry.values())
    print(
        f"  at the default cap of 200,000 answers: {200_000 * low / 2**20:.0f} to "
        f"{200_000 * high / 2**20:.0f} MiB"
    )
    target = results["tracemalloc"]["per_peer"]["registered peer with one membership"]
    print()
    print(
        f"registered peer with one membership: {target:.0f} bytes (target < 1024: "
        f"{'met' if target < 1024 else 'missed'})"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
