"""
FIND cost against swarm size on the Redis store, and the Redis memory a
registered peer takes: a L{Tracker} on a L{RedisPeerStore} (the real
reactor, a redis-server that this script starts on a free port of
127.0.0.1 with C{--save '' --appendonly no}, and stops), with one swarm of
100, 10,000 and 100,000 members (the population of L{population}, without
chunks), each size under a key prefix of its own.

Each member is registered with CONNECT and JOIN through C{tracker.handle}
(64 at a time), by a tracker whose retry cache is in this process, so
that C{INFO memory} C{used_memory} before and after tells the bytes of
the sessions and memberships alone.  FIND (PeerNum 30, from a random
member) is then timed through a tracker with the defaults of C{twistd
ppsp-tracker --store redis://...}: the store is its retry cache too, so
each FIND costs the round trips it costs in production.  The FINDs are
sent one at a time; each figure is the median of 3 batches of 300
FINDs, the sizes taking turns batch by batch: the wall time per FIND,
this process's CPU time per FIND and redis-server's (C{/proc/PID/stat}).
This process runs on core 0, redis-server on core 1.  The store's
timeout is 60 s instead of 1 s, for the lookups of the big swarms.

The Redis store's FIND reads every SEED and LIVESEED of the swarm (a
fifth of the members in this population) with the members it draws;
C{--leeches-only} registers every member as a LEECH, to tell that cost
from the draw's.  With SEEDs, the filling itself grows with the square of
the size (each JOIN's lookup reads every SEED registered before it):
measure the large sizes with C{--leeches-only}.  The bytes a peer takes are best read at the largest
size: at the smallest, what a new connection and the first keys of a
prefix cost weighs on few peers.

    python benchmarks/redis_find.py [--sizes 100,10000,100000] [--leeches-only] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from population import BenchPeer, benchPeer  # noqa: E402
from run import RedisProcess, cpuSeconds  # noqa: E402

from twisted.internet.defer import Deferred, gatherResults  # noqa: E402

from ppsp.messages import (  # noqa: E402
    ConnectResponse,
    ErrorResponse,
    FindRequest,
    FindResponse,
    PeerMode,
    Request,
)
from ppsp.tracker.core import Origin, Tracker, TrackerConfig  # noqa: E402
from ppsp.tracker.redisstore import RedisPeerStore, connectRedisStore  # noqa: E402
from ppsp.tracker.retry import MemoryRetryCache  # noqa: E402

ORIGIN = Origin("198.51.100.7", 40000)
CONFIG = dict(maxSessionsPerAddress=0, maxAddressMemory=0, peerTimeout=3600.0)
_tid = [0]


def tid() -> str:
    _tid[0] += 1
    return "f%d" % _tid[0]


async def send(tracker: Tracker, request: Request) -> Any:
    response = await tracker.handle(request, ORIGIN)
    if isinstance(response, ErrorResponse):
        raise RuntimeError(f"{request!r} got {response!r}")
    return response


class Case:
    """
    One swarm of C{size} members under the key prefix C{findSIZE:}.
    """

    def __init__(self, reactor: Any, url: str, size: int, leechesOnly: bool) -> None:
        self.size = size
        self.leechesOnly = leechesOnly
        # A lookup that reads 20,000 SEEDs takes longer than the default
        # timeout of 1 s.
        self.store: RedisPeerStore = connectRedisStore(
            reactor, url, prefix=f"find{size}:", timeout=60.0
        )
        config = TrackerConfig(**CONFIG)  # type: ignore[arg-type]
        # Filling: the retry cache in this process, so that Redis holds
        # the peers' state alone.
        self.filler = Tracker(
            reactor, config, store=self.store,
            retryCache=MemoryRetryCache(config.retryWindow, config.retryCacheSize),
        )
        # Timing: as twistd makes it, the store being the retry cache.
        self.tracker = Tracker(reactor, config, store=self.store)
        self.members: List[tuple[str, str]] = []
        self.swarmID = ""
        self.rnd = random.Random(size)

    async def fill(self) -> None:
        peers = iter([benchPeer(i, perSwarm=self.size) for i in range(self.size)])
        self.swarmID = benchPeer(0, perSwarm=self.size).swarmID
        await self.store.client.whenConnected()

        async def one(peer: BenchPeer) -> None:
            if self.leechesOnly:
                peer = dataclasses.replace(peer, mode=PeerMode.LEECH)
            answer = await send(self.filler, peer.connect(tid()))
            assert isinstance(answer, ConnectResponse)
            await send(self.filler, peer.join(tid(), answer.authToken))
            self.members.append((peer.peerID, answer.authToken))

        async def lane() -> None:
            for peer in peers:
                await one(peer)

        await gatherResults([Deferred.fromCoroutine(lane()) for _ in range(64)])

    async def batch(self, calls: int, redisPid: int) -> Dict[str, float]:
        requests = []
        for _ in range(calls):
            peerID, token = self.members[self.rnd.randrange(self.size)]
            requests.append(FindRequest(tid(), peerID, token, swarmID=self.swarmID, peerNum=30))
        redis0, cpu0, wall0 = cpuSeconds(redisPid), time.process_time(), time.perf_counter()
        for request in requests:
            answer = await send(self.tracker, request)
            assert isinstance(answer, FindResponse)
            assert len(answer.peers) == min(30, self.size - 1), len(answer.peers)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        redis = cpuSeconds(redisPid) - redis0
        return {
            "wall_us": 1e6 * wall / calls,
            "tracker_cpu_us": 1e6 * cpu / calls,
            "redis_cpu_us": 1e6 * redis / calls,
        }


async def measure(reactor: Any, args: argparse.Namespace) -> Dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",")]
    outdir = tempfile.mkdtemp(prefix="redis_find-")
    redis = RedisProcess(outdir, args.redis_core)
    cases: List[Case] = []
    report: Dict[str, Any] = {"sizes": {}, "leeches_only": args.leeches_only}
    try:
        for size in sizes:
            case = Case(reactor, redis.url, size, args.leeches_only)
            cases.append(case)
            before = redis.usedMemory()
            started = time.monotonic()
            await case.fill()
            after = redis.usedMemory()
            perPeer = (after - before) / size
            report["sizes"][size] = {
                "fill_s": round(time.monotonic() - started, 1),
                "used_memory_delta": after - before,
                "bytes_per_peer": round(perPeer),
            }
            print(
                f"swarm of {size:,} members registered in {time.monotonic() - started:.1f} s; "
                f"used_memory +{after - before:,} bytes, {perPeer:.0f} bytes a peer", flush=True,
            )
        times: Dict[int, List[Dict[str, float]]] = {c.size: [] for c in cases}
        for _ in range(args.batches):
            for case in cases:
                times[case.size].append(await case.batch(args.calls, redis.proc.pid))
        for case in cases:
            batches = times[case.size]
            entry = report["sizes"][case.size]
            for key in ("wall_us", "tracker_cpu_us", "redis_cpu_us"):
                entry[key] = round(statistics.median(b[key] for b in batches), 1)
                entry[key + "_batches"] = [round(b[key], 1) for b in batches]
        for case in cases:
            await case.store.close()
    finally:
        redis.stop()
    return report


def main(reactor: Any, argv: List[str]) -> "Deferred[None]":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,10000,100000")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--redis-core", default="1")
    parser.add_argument(
        "--leeches-only", action="store_true", help="register every member as a LEECH",
    )
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {0})

    async def run() -> None:
        report = await measure(reactor, args)
        sizes = report["sizes"]
        base = sizes[min(sizes)]
        print()
        print(f"{'members':>9}  {'wall us':>8}  {'ratio':>5}  {'tracker CPU us':>14}  "
              f"{'redis CPU us':>12}  {'bytes/peer':>10}")
        for size, r in sizes.items():
            r["wall_ratio"] = round(r["wall_us"] / base["wall_us"], 3)
            print(
                f"{size:>9,}  {r['wall_us']:8.0f}  {r['wall_ratio']:5.2f}  "
                f"{r['tracker_cpu_us']:14.0f}  {r['redis_cpu_us']:12.0f}  {r['bytes_per_peer']:>10}"
            )
        last = sizes[max(sizes)]
        print()
        print(
            f"FIND at {max(sizes):,} members takes {last['wall_ratio']:.2f}x FIND at {min(sizes):,} "
            f"(target <= 1.3x: {'met' if last['wall_ratio'] <= 1.3 else 'missed'})"
        )
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)

    return Deferred.fromCoroutine(run())


if __name__ == "__main__":
    from twisted.internet.task import react

    react(main, (sys.argv[1:],))
