"""
Load shedding under overload: the tracker offered three times the rate it
can sustain, with shedding on and off.

For each setting, a fresh tracker (``twistd ppsp-tracker --rate-limit 0``,
pinned to core 0) is filled by ``populate.py`` and then:

1. its sustainable rate R is measured: 100 keep-alive connections each
   sending its next request as soon as the answer arrives (closed loop,
   as wrk does), for ``--duration`` seconds (with shedding on; the R of
   that run is also offered to the tracker without shedding);
2. it is offered ``--factor`` x R (3 by default) requests per second
   **open loop**: the requests are due at a fixed rate whatever the
   answers, each is sent on an idle connection of a pool of
   ``--connections`` keep-alive connections (8,000 by default; or waits
   in the client for one), and its latency counts from the moment it was due, so that a
   tracker that falls behind is charged for every request it delays.
   ``--warmup`` seconds, then ``--duration`` seconds measured.

The load is the mixed load of ``mixed.lua`` (KEEPALIVE 45 %, FIND 20 %,
FIND_CHUNK 5 %, STAT_REPORT 20 %, JOIN 10 %; the 5 % of session-takeover
CONNECTs are KEEPALIVEs here), from a small asyncio HTTP/1.1 client pinned
to core 1.  Reported per run: the requests answered 200 per second, the
p50/p90/p99 latency of those, the share answered 503 and their latency,
the requests not answered within ``--grace`` seconds of the end, and the
server's CPU time.

    python benchmarks/overload.py [--json FILE] [--rst FILE]

Every server listens on 127.0.0.1 only and is stopped at the end (by its
process id); the whole run takes about two minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run import (  # noqa: E402
    CLIENT_CORE,
    PYTHON,
    SERVER_CORE,
    cpuSeconds,
    log,
    stop,
    waitForPort,
)

_HEAD = b'<?xml version="1.0" encoding="UTF-8"?><PPSPTrackerProtocol version="1.0"><Method>'
_TAIL = b"</PPSPTrackerProtocol>"
_WEIGHTS = [("KEEPALIVE", 45), ("FIND", 20), ("FIND_CHUNK", 5), ("STAT_REPORT", 20), ("JOIN", 10)]


class Bodies:
    """
    The request bodies of the mixed load, for the peers ``populate.py``
    registered; every TransactionID is unique.
    """

    def __init__(self, peersFile: str, seed: int = 1) -> None:
        self.peers: List[Tuple[bytes, bytes, bytes, bytes]] = []
        with open(peersFile, encoding="ascii") as f:
            for line in f:
                peerID, token, swarm, mode, _ip, _port = line.split()
                self.peers.append((peerID.encode(), token.encode(), swarm.encode(), mode.encode()))
        self.leeches = [p for p in self.peers if p[3] == b"LEECH"]
        self.methods = [m for m, w in _WEIGHTS for _ in range(w)]
        self.random = random.Random(seed)
        self.serial = 0
        self.nonce = b"o%d" % (int(time.time()) % 1000000,)

    def next(self) -> bytes:
        r = self.random
        method = self.methods[r.randrange(len(self.methods))]
        self.serial += 1
        peer = r.choice(self.leeches if method == "JOIN" else self.peers)
        peerID, token, swarm, _mode = peer
        common = (
            _HEAD + method.encode() + b"</Method><TransactionID>" + self.nonce
            + b".%d</TransactionID><PeerID>" % (self.serial,) + peerID
            + b"</PeerID><AuthToken>" + token + b"</AuthToken>"
        )
        if method == "KEEPALIVE":
            return common + _TAIL
        if method == "FIND":
            return common + b"<SwarmID>" + swarm + b"</SwarmID><PeerNum>30</PeerNum>" + _TAIL
        if method == "FIND_CHUNK":
            return (
                common + b"<SwarmID>" + swarm + b"</SwarmID><PeerNum>30</PeerNum><ChunkID>%d</ChunkID>"
                % (r.randrange(1024),) + _TAIL
            )
        if method == "JOIN":
            return (
                common + b"<SwarmID>" + swarm
                + b"</SwarmID><PeerMode>LEECH</PeerMode><PeerNum>30</PeerNum>" + _TAIL
            )
        return (
            common + b'<Stats><Stat property="UploadedBytes" swarm="' + swarm + b'">%d</Stat>'
            b'<Stat property="DownloadedBytes" swarm="' % (r.randrange(2000000000),) + swarm
            + b'">%d</Stat><Stat property="AvailBandwidth">%d</Stat>'
            b'<Stat property="ConcurrentLinks">%d</Stat></Stats>'
            % (r.randrange(2000000000), r.randrange(100, 50000), r.randrange(80)) + _TAIL
        )


class Connection(asyncio.Protocol):
    """
    One keep-alive connection: one request at a time.
    """

    def __init__(self, load: "Load") -> None:
        self.load = load
        self.buffer = bytearray()
        self.transport: Optional[asyncio.Transport] = None
        self.due = 0.0
        self.head = b"POST / HTTP/1.1\r\nHost: tracker\r\nContent-Type: application/ppsp-tracker+xml\r\nContent-Length: "

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def send(self, body: bytes, due: float) -> None:
        self.due = due
        assert self.transport is not None
        self.transport.write(self.head + b"%d\r\n\r\n" % (len(body),) + body)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                raise SystemExit(f"an answer without Content-Length: {head!r}")
            lineEnd = head.find(b"\r\n", at + 2)
            length = int(head[at + 17:lineEnd if lineEnd > 0 else len(head)])
            total = end + 4 + length
            if len(buffer) < total:
                return
            status = int(head[9:12])
            del buffer[:total]
            self.load.answered(self, status)

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self.load.lost(self)


class Load:
    """
    A load on a pool of connections: closed loop (each connection sends
    its next request when the answer arrives) or open loop at C{rate}
    requests per second.
    """

    def __init__(self, bodies: Bodies, rate: Optional[float]) -> None:
        self.bodies = bodies
        self.rate = rate
        self.idle: List[Connection] = []
        self.waiting: List[float] = []  # due times of requests not sent yet
        self.waitingAt = 0
        self.records: List[Tuple[float, int, float]] = []  # (due, status, latency)
        self.issued = 0
        self.start = 0.0
        self.stopAt = float("inf")
        self.lostConnections = 0
        self.inFlight = 0

    def answered(self, conn: Connection, status: int) -> None:
        now = time.perf_counter()
        self.inFlight -= 1
        self.records.append((conn.due, status, now - conn.due))
        self.dispatch(conn, now)

    def dispatch(self, conn: Connection, now: float) -> None:
        if self.rate is None:
            if now < self.stopAt:
                self.inFlight += 1
                conn.send(self.bodies.next(), now)
            return
        if self.waitingAt < len(self.waiting):
            due = self.waiting[self.waitingAt]
            self.waitingAt += 1
            self.inFlight += 1
            conn.send(self.bodies.next(), due)
        else:
            self.idle.append(conn)

    def lost(self, conn: Connection) -> None:
        self.lostConnections += 1
        if conn in self.idle:
            self.idle.remove(conn)

    def tick(self) -> None:
        now = time.perf_counter()
        assert self.rate is not None
        due = min(now, self.stopAt)
        target = int((due - self.start) * self.rate)
        while self.issued < target:
            self.issued += 1
            self.waiting.append(self.start + self.issued / self.rate)
        while self.idle and self.waitingAt < len(self.waiting):
            conn = self.idle.pop()
            t = self.waiting[self.waitingAt]
            self.waitingAt += 1
            self.inFlight += 1
            conn.send(self.bodies.next(), t)
        if self.waitingAt > 100000:
            del self.waiting[: self.waitingAt]
            self.waitingAt = 0

    def unsent(self) -> int:
        return len(self.waiting) - self.waitingAt


async def runLoad(
    port: int, bodies: Bodies, connections: int, rate: Optional[float],
    warmup: float, duration: float, grace: float, pid: Optional[int] = None,
) -> Dict[str, Any]:
    loop = asyncio.get_running_loop()
    load = Load(bodies, rate)
    conns: List[Connection] = []
    for _ in range(connections):
        _, conn = await loop.create_connection(lambda: Connection(load), "127.0.0.1", port)
        conns.append(conn)
    load.start = time.perf_counter()
    load.stopAt = load.start + warmup + duration
    marks: List[Tuple[float, float, float]] = []

    def mark() -> None:
        marks.append((time.perf_counter(), time.process_time(), cpuSeconds(pid) if pid else 0.0))

    loop.call_later(warmup, mark)
    loop.call_later(warmup + duration, mark)
    if rate is None:
        for conn in conns:
            load.dispatch(conn, load.start)
    else:
        load.idle = list(conns)
        while time.perf_counter() < load.stopAt:
            load.tick()
            await asyncio.sleep(0.001)
        load.tick()
    end = load.stopAt
    while time.perf_counter() < end + grace and (load.inFlight or load.unsent()):
        await asyncio.sleep(0.01)
    if rate is None:
        while time.perf_counter() < end + grace and load.inFlight:
            await asyncio.sleep(0.01)
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    windowStart = load.start + warmup
    inWindow = [r for r in load.records if windowStart <= r[0] < end]
    issued = (
        int(duration * rate) if rate is not None else len(inWindow)
    )
    result = summarize(inWindow, issued, duration, load.lostConnections)
    if len(marks) == 2:
        (t0, client0, server0), (t1, client1, server1) = marks
        result["client_cpu_share"] = round((client1 - client0) / (t1 - t0), 2)
        if pid:
            result["server_cpu_share"] = round((server1 - server0) / (t1 - t0), 2)
    return result


def percentile(values: List[float], p: float) -> Optional[float]:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def summarize(
    records: List[Tuple[float, int, float]], issued: int, duration: float, lost: int
) -> Dict[str, Any]:
    ok = [lat for _, status, lat in records if status == 200]
    shed = [lat for _, status, lat in records if status == 503]
    other = len(records) - len(ok) - len(shed)
    unanswered = max(0, issued - len(records))

    def ms(v: Optional[float]) -> Optional[float]:
        return None if v is None else round(v * 1000, 1)

    # Unanswered requests are later than any answered one: they count in
    # the percentiles of all requests as infinitely late.
    everything = [lat for _, _, lat in records] + [float("inf")] * unanswered
    return {
        "offered": issued,
        "offered_per_s": round(issued / duration),
        "ok_per_s": round(len(ok) / duration),
        "ok_p50_ms": ms(percentile(ok, 50)),
        "ok_p90_ms": ms(percentile(ok, 90)),
        "ok_p99_ms": ms(percentile(ok, 99)),
        "shed_share": round(len(shed) / max(1, issued), 3),
        "shed_p50_ms": ms(percentile(shed, 50)),
        "shed_p99_ms": ms(percentile(shed, 99)),
        "other_status": other,
        "unanswered": unanswered,
        "all_p99_ms": ms(percentile(everything, 99)),
        "lost_connections": lost,
    }


class Tracker:
    """
    A tracker process on the server core.
    """

    def __init__(self, port: int, extra: List[str], outdir: str, name: str) -> None:
        self.port = port
        twistd = os.path.join(os.path.dirname(PYTHON), "twistd")
        if not os.path.exists(twistd):
            twistd = shutil.which("twistd") or "twistd"
        command = [
            twistd, "-n", "--pidfile=", "ppsp-tracker",
            "--listen", f"tcp:{port}:interface=127.0.0.1", "--rate-limit", "0",
            "--peer-timeout", "900", "--max-sessions-per-address", "0",
            "--max-address-memory", "0", "--max-connections", "0",
        ] + extra
        self.command = " ".join(["twistd"] + command[1:])
        self.logFile = open(os.path.join(outdir, f"{name}.log"), "w")
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE] + command,
            cwd=outdir, stdout=self.logFile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        waitForPort(port, self.proc)

    def populate(self, swarms: int, perSwarm: int, peers: str) -> None:
        out = subprocess.run(
            [
                "taskset", "-c", CLIENT_CORE, PYTHON, os.path.join(HERE, "populate.py"),
                "--url", f"http://127.0.0.1:{self.port}/", "--swarms", str(swarms),
                "--per-swarm", str(perSwarm), "--out", peers,
            ],
            capture_output=True, text=True, timeout=600,
        )
        if out.returncode != 0:
            raise SystemExit(f"populate failed:\n{out.stdout}\n{out.stderr}")
        log(out.stdout.strip())

    def stop(self) -> None:
        stop(self.proc)
        self.logFile.close()


def measure(
    tracker: Tracker, bodies: Bodies, connections: int, rate: Optional[float],
    warmup: float, duration: float, grace: float,
) -> Dict[str, Any]:
    os.sched_setaffinity(0, {int(CLIENT_CORE)})
    return asyncio.run(
        runLoad(tracker.port, bodies, connections, rate, warmup, duration, grace, tracker.proc.pid)
    )


def rst(report: Dict[str, Any]) -> str:
    rows = [
        ("setting", "offered/s", "200/s", "200 p50", "200 p99", "503 share", "503 p50", "503 p99",
         "unanswered", "p99 of all"),
    ]

    def fmt(v: Any, unit: str = "") -> str:
        if v is None:
            return "-"
        if isinstance(v, float) and v == float("inf"):
            return "never"
        return f"{v:,}{unit}" if not isinstance(v, float) else f"{v:,.1f}{unit}"

    for name, r in report["overload"].items():
        rows.append((
            name, fmt(r["offered_per_s"]), fmt(r["ok_per_s"]), fmt(r["ok_p50_ms"], " ms"),
            fmt(r["ok_p99_ms"], " ms"), f"{100 * r['shed_share']:.0f} %", fmt(r["shed_p50_ms"], " ms"),
            fmt(r["shed_p99_ms"], " ms"), fmt(r["unanswered"]), fmt(r["all_p99_ms"], " ms"),
        ))
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in rows:
        out.append("   * - " + row[0])
        out.extend("     - " + cell for cell in row[1:])
    return "\n".join(out) + "\n"


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--swarms", type=int, default=200)
    parser.add_argument("--per-swarm", type=int, default=50)
    parser.add_argument("--connections", type=int, default=8000)
    parser.add_argument("--factor", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--rate", type=float, help="the sustainable rate, if already known")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--rst", help="write the RST table to this file")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + 256
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            raise SystemExit(f"--connections {args.connections} needs {need} open files; the limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    report: Dict[str, Any] = {"args": vars(args), "overload": {}}
    settings = [
        ("shedding on (default)", []),
        ("shedding on, --max-lag 0.1", ["--max-lag", "0.1"]),
        ("shedding off", ["--max-lag", "0", "--max-in-flight", "0"]),
    ]
    rate = args.rate
    with tempfile.TemporaryDirectory() as outdir:
        peers = os.path.join(outdir, "peers.txt")
        for name, extra in settings:
            tracker = Tracker(args.port, extra, outdir, f"tracker{len(report['overload'])}")
            try:
                log(f"{name}: {tracker.command}")
                tracker.populate(args.swarms, args.per_swarm, peers)
                bodies = Bodies(peers)
                if rate is None:
                    closed = measure(tracker, bodies, 100, None, 2.0, args.duration, args.grace)
                    log(f"{name}: closed loop, 100 connections: {json.dumps(closed)}")
                    report["sustainable"] = closed
                    rate = float(closed["ok_per_s"])
                offered = args.factor * rate
                result = measure(
                    tracker, bodies, args.connections, offered, args.warmup, args.duration, args.grace
                )
                log(f"{name}: open loop at {offered:.0f}/s: {json.dumps(result)}")
                report["overload"][name] = result
            finally:
                tracker.stop()
                with open(tracker.logFile.name) as f:
                    report.setdefault("shed_log", {})[name] = [
                        line.strip() for line in f if "overloaded" in line or "back to normal" in line
                    ][:4]
    table = rst(report)
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.rst:
        with open(args.rst, "w") as f:
            f.write(table)


if __name__ == "__main__":
    main(sys.argv[1:])
