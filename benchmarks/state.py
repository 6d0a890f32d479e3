"""
The state file (C{--state}), in process: how long serialising the state
of 100,000 registered peers blocks the reactor, how long writing it takes
(to a temporary file, fsynced and renamed, as the tracker does it in a
thread), how long loading it at start takes, and how big the file is.

The population is the benchmarks' own (2,000 swarms of 50 peers, each
peer with one membership; a fifth SEEDs holding every chunk, two in five
LEECHes holding a part; half report UploadBandwidth and AbilityNAT at
CONNECT), registered through C{tracker.handle}; a quarter of the peers
also report a swarm-scoped statistic (STAT_REPORT with C{swarm=}).

Serialising (reading the state from the store and encoding it) and
loading (reading the file and restoring it through the store's writes)
are timed in CPU time of this process (so that other processes on the
machine do not count), the median of C{--runs} runs; the write (which
waits on the disk) in wall-clock time.  With the memory store every
L{Deferred} has fired when it returns (L{fired}).

    python benchmarks/state.py [--peers 100000] [--runs 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inproc import fired, makeTracker, register, send, tid  # noqa: E402
from population import benchPeer  # noqa: E402

from ppsp.messages import Stat, StatReportRequest  # noqa: E402
from ppsp.tracker.core import Tracker, TrackerConfig  # noqa: E402
from ppsp.tracker.state import StateFile, dumpState, loadState  # noqa: E402
from ppsp.tracker.store import MemoryPeerStore  # noqa: E402

PER_SWARM = 50


def build(peerCount: int) -> Tracker:
    """
    A tracker holding C{peerCount} peers of the benchmark population.
    """
    tracker, _clock = makeTracker()
    peers = [benchPeer(i, PER_SWARM) for i in range(peerCount)]
    tokens = register(tracker, peers)
    for peer in peers[::4]:
        send(
            tracker,
            StatReportRequest(
                tid(),
                peer.peerID,
                authToken=tokens[peer.peerID],
                stats=(Stat("DownloadedBytes", str(peer.index * 1000), peer.swarmID),),
            ),
        )
    return tracker


def emptyLike(tracker: Tracker) -> Tracker:
    """
    A fresh tracker on the same clock and config, to load into.
    """
    return Tracker(
        tracker.clock,
        TrackerConfig(maxSessionsPerAddress=0, maxAddressMemory=0),
        store=MemoryPeerStore(random=random.Random(7)),
    )


def cpu(call: Any) -> float:
    start = time.process_time()
    call()
    return time.process_time() - start


def main(argv: List[str]) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    tracker = build(args.peers)
    dumps = []
    data = b""
    for _ in range(args.runs):
        result: List[bytes] = []
        dumps.append(cpu(lambda: result.append(fired(dumpState(tracker)))))
        data = result[0]
    writes = []
    with tempfile.TemporaryDirectory() as directory:
        stateFile = StateFile(os.path.join(directory, "state.jsonl"))
        for _ in range(args.runs):
            start = time.perf_counter()
            stateFile.write(data)
            writes.append(time.perf_counter() - start)
        loads = []
        for _ in range(args.runs):
            target = emptyLike(tracker)
            stored = stateFile.read()
            assert stored is not None
            loads.append(cpu(lambda: fired(loadState(target, stored))))
            if fired(target.store.counts())[0] != args.peers:
                raise RuntimeError("not every peer was loaded")
    results = {
        "peers": args.peers,
        "bytes": len(data),
        "bytesPerPeer": round(len(data) / args.peers, 1),
        "serialiseSeconds": round(statistics.median(dumps), 3),
        "writeSeconds": round(statistics.median(writes), 3),
        "loadSeconds": round(statistics.median(loads), 3),
        "runs": {"serialise": dumps, "write": writes, "load": loads},
    }
    print(
        f"{args.peers} peers: file {len(data) / 2**20:.1f} MiB "
        f"({results['bytesPerPeer']} bytes a peer); serialise {results['serialiseSeconds']} s "
        f"(CPU, blocks the reactor), write {results['writeSeconds']} s (wall clock, in a thread), "
        f"load {results['loadSeconds']} s (CPU, read and restore at start)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
