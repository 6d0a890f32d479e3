"""
The HTTP benchmark: the tracker under the mixed load of C{mixed.lua}, and
the bare twisted.web resource of C{bare_server.py} under the same bodies,
with the method of the performance anchors: each server pinned to core 0
(C{taskset -c 0}), wrk pinned to core 1 (C{taskset -c 1 wrk -t1}), a
fresh server process, a warm-up run, then the median of 3 runs of 10 s at
100 keep-alive connections.  Both servers run side by side (the idle one
costs nothing) and their runs alternate, so that a change in what else the
machine does hits both alike.

    python benchmarks/run.py                # about 3 minutes
    python benchmarks/run.py --profile      # and py-spy the tracker
    python benchmarks/run.py --redis        # memory store against Redis, about 7 minutes

It starts the tracker with twistd (C{--rate-limit 0
--max-sessions-per-address 0 --max-address-memory 0}: every request comes
from 127.0.0.1), fills it with C{populate.py} (1,000 swarms of 50 peers),
starts the bare server, runs wrk against each in turn, reads the peak RSS
(C{VmHWM}) of each server, stops both, prints
a table and writes everything under C{benchmarks/results/STAMP/}.  Every
server listens on 127.0.0.1 only.  A run in which any request got another
status than 200, or any socket error, is invalid: the script says so and
exits with status 1.

With C{--redis} (or C{--store URL}) it compares stores instead: the
tracker on the memory store against the tracker on a Redis store
(C{--redis} starts its own redis-server on a free port of 127.0.0.1, with
C{--save '' --appendonly no}, pinned to the load generator's core 1, and
stops it), and, for each count of C{--workers} (default C{1,2}) above 1,
the same Redis tracker with that many worker processes (pinned to both
cores): every tracker under the same mixed load, their runs alternating.
The Redis trackers share the server and the key prefix, so they act as one
tracker and are filled once.  It reports requests/s and CPU per request
of the tracker (its worker processes included) and of redis-server
(C{/proc/PID/stat}), the Redis memory per registered peer (C{INFO memory}
C{used_memory} before and after filling), and the round trips per request
by method: a short run of each method alone, with a C{MONITOR} connection
counting the commands that the tracker sent (not those its scripts ran).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CORE = "0"
CLIENT_CORE = "1"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def waitForPort(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    """
    Stop a server this script started (by its process id only).
    """
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def cpuSeconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def treeCPU(pid: int) -> float:
    """
    CPU seconds of process C{pid} and of its living descendants (the
    worker processes of C{--workers}).
    """
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += cpuSeconds(current)
        except OSError:
            continue
        todo.extend(children.get(current, []))
    return total


def memory(pid: int) -> Dict[str, int]:
    """
    VmHWM (peak RSS) and VmRSS, in KiB.
    """
    result = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                result[name] = int(value.split()[0])
    return result


def coreBusy(core: str) -> float:
    """
    Seconds core C{core} has spent busy since boot.
    """
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = [int(x) for x in line.split()[1:]]
                idle = v[3] + v[4]
                return (sum(v[:8]) - idle) / CLK_TCK
    raise RuntimeError(f"no cpu{core} in /proc/stat")


def readStats(pid: int, path: str) -> Dict[str, Any]:
    """
    Ask an instrumented tracker (instrumented_twistd.py) for its meters.
    """
    before = os.stat(path).st_mtime_ns if os.path.exists(path) else 0
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.stat(path).st_mtime_ns != before:
            with open(path) as f:
                return json.load(f)  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise SystemExit("the instrumented tracker did not write its meters")


def statsDelta(a: Dict[str, Any], b: Dict[str, Any], elapsed: float, requests: int) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for g in ("0", "1", "2"):
        seconds = b["gc"][g]["seconds"] - a["gc"][g]["seconds"]
        out[f"gc{g}_count"] = b["gc"][g]["count"] - a["gc"][g]["count"]
        out[f"gc{g}_share"] = round(seconds / elapsed, 4)
        out[f"gc{g}_us_per_request"] = round(1e6 * seconds / max(1, requests), 1)
    out["gc2_max_ms"] = round(1e3 * b["gc"]["2"]["max"], 1)
    for key in ("expire", "render", "decode", "handle", "encode"):
        seconds = b[key]["seconds"] - a[key]["seconds"]
        out[f"{key}_share"] = round(seconds / elapsed, 4)
        out[f"{key}_us_per_request"] = round(1e6 * seconds / max(1, requests), 1)
        out[f"{key}_max_ms"] = round(1e3 * b[key]["max"], 1)
    return out


def runWrk(
    script: str,
    url: str,
    peers: str,
    duration: int,
    connections: int,
    pid: int,
    statsPath: Optional[str] = None,
    redisPid: Optional[int] = None,
    method: Optional[str] = None,
) -> Dict[str, Any]:
    """
    One wrk run; returns what its script's done() printed, plus the
    server's CPU time (its worker processes included) and what else kept
    its core busy (and, for an instrumented tracker, its garbage collector
    and expiry sweep times; with C{redisPid}, the CPU time of that
    redis-server).  C{method}: that method alone (C{mixed.lua} only).
    """
    stats0 = readStats(pid, statsPath) if statsPath else None
    cmd = [
        "taskset", "-c", CLIENT_CORE, "wrk", "-t1", f"-c{connections}",
        f"-d{duration}s", "--timeout", "5s", "-s", script, url, "--", peers,
    ] + ([method] if method else [])
    redis0 = cpuSeconds(redisPid) if redisPid else 0.0
    cpu0, busy0, t0 = treeCPU(pid), coreBusy(SERVER_CORE), time.monotonic()
    out = subprocess.run(
        cmd, cwd=HERE, capture_output=True, text=True, timeout=duration + 60
    )
    elapsed = time.monotonic() - t0
    cpu1, busy1 = treeCPU(pid), coreBusy(SERVER_CORE)
    redis1 = cpuSeconds(redisPid) if redisPid else 0.0
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    result: Dict[str, Any] = json.loads(line[len("RESULT "):])
    serverCPU = cpu1 - cpu0
    result["server_cpu_s"] = round(serverCPU, 3)
    result["server_cpu_share"] = round(serverCPU / elapsed, 3)
    result["other_load_on_server_core"] = round(max(0.0, (busy1 - busy0) - serverCPU) / elapsed, 3)
    result["server_cpu_us_per_request"] = round(1e6 * serverCPU / max(1, result["requests"]), 1)
    if redisPid:
        result["redis_cpu_share"] = round((redis1 - redis0) / elapsed, 3)
        result["redis_cpu_us_per_request"] = round(
            1e6 * (redis1 - redis0) / max(1, result["requests"]), 1
        )
    result["valid"] = result["non200"] == 0 and result["socket_errors"] == 0
    if statsPath and stats0 is not None:
        result["meters"] = statsDelta(stats0, readStats(pid, statsPath), elapsed, result["requests"])
    return result


def describe(label: str, r: Dict[str, Any]) -> str:
    meters = r.get("meters")
    extra = ""
    if meters:
        gc = sum(meters[f"gc{g}_us_per_request"] for g in "012")
        extra = (
            f"\n    gc {gc:.0f} us/req (full collections: {meters['gc2_count']}, longest "
            f"{meters['gc2_max_ms']:.0f} ms so far), expire() {meters['expire_us_per_request']:.0f} us/req "
            f"(longest {meters['expire_max_ms']:.0f} ms so far)\n    resource render "
            f"{meters['render_us_per_request']:.0f} us/req: decode {meters['decode_us_per_request']:.0f}, "
            f"handle {meters['handle_us_per_request']:.0f}, encode {meters['encode_us_per_request']:.0f}"
        )
    return _describe(label, r) + extra


def _describe(label: str, r: Dict[str, Any]) -> str:
    redis = ""
    if "redis_cpu_us_per_request" in r:
        redis = (
            f"  redis-server CPU {r['redis_cpu_us_per_request']:5.0f} us/req "
            f"({100 * r['redis_cpu_share']:.0f} % of a core)"
        )
    return (
        f"{label}: {r['rps']:8.0f} req/s  p50 {r['p50_us'] / 1000:6.2f} ms  "
        f"p99 {r['p99_us'] / 1000:6.2f} ms  server CPU {r['server_cpu_us_per_request']:5.0f} us/req "
        f"({100 * r['server_cpu_share']:.0f} % of its core; others {100 * r['other_load_on_server_core']:.0f} %)"
        f"{redis}  non-200 {r['non200']}  socket errors {r['socket_errors']}"
    )


def summary(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    med = statistics.median
    out: Dict[str, Any] = {
        "rps": med(r["rps"] for r in runs),
        "p50_us": med(r["p50_us"] for r in runs),
        "p99_us": med(r["p99_us"] for r in runs),
        "server_cpu_us_per_request": med(r["server_cpu_us_per_request"] for r in runs),
        "mean_response_bytes": med(r["bytes"] / max(1, r["requests"]) for r in runs),
        "valid": all(r["valid"] for r in runs),
    }
    if runs and all("redis_cpu_us_per_request" in r for r in runs):
        out["redis_cpu_us_per_request"] = med(r["redis_cpu_us_per_request"] for r in runs)
        out["redis_cpu_share"] = med(r["redis_cpu_share"] for r in runs)
    return out


class Server:
    """
    One server under test, pinned to the server core, with its log, its
    wrk script and its results.
    """

    def __init__(
        self, name: str, command: List[str], port: int, script: str,
        args: argparse.Namespace, outdir: str, cores: str = SERVER_CORE,
        redisPid: Optional[int] = None,
    ) -> None:
        self.name = name
        self.redisPid = redisPid
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self.script = script
        self.args = args
        self.statsPath: Optional[str] = None
        env = dict(os.environ)
        if args.instrument and name == "tracker":
            self.statsPath = os.path.join(outdir, "tracker-meters.json")
            env["PPSP_BENCH_STATS"] = self.statsPath
            command = [PYTHON, os.path.join(HERE, "instrumented_twistd.py")] + command[1:]
        self.logFile = open(os.path.join(outdir, f"{name}.log"), "w")
        self.proc = subprocess.Popen(
            ["taskset", "-c", cores] + command,
            cwd=outdir, stdout=self.logFile, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env,
        )
        self.result: Dict[str, Any] = {"command": " ".join(command), "runs": []}
        waitForPort(port, self.proc)
        log(f"{name}: pid {self.proc.pid} listening on {self.url}")
        self.result["rss_start_kib"] = memory(self.proc.pid)["VmRSS"]

    def populate(self, peers: str) -> None:
        args = self.args
        cpu0 = cpuSeconds(self.proc.pid)
        out = subprocess.run(
            [
                "taskset", "-c", CLIENT_CORE, PYTHON, os.path.join(HERE, "populate.py"),
                "--url", self.url, "--swarms", str(args.swarms),
                "--per-swarm", str(args.per_swarm), "--out", peers,
            ],
            capture_output=True, text=True, timeout=600,
        )
        if out.returncode != 0:
            raise SystemExit(f"populate failed:\n{out.stdout}\n{out.stderr}")
        log(f"{self.name}: {out.stdout.strip()}")
        self.result["populate"] = out.stdout.strip()
        self.result["populate_cpu_s"] = round(cpuSeconds(self.proc.pid) - cpu0, 2)
        self.result["rss_populated_kib"] = memory(self.proc.pid)["VmRSS"]

    def load(
        self, peers: str, duration: int, label: str, method: Optional[str] = None,
        connections: Optional[int] = None,
    ) -> Dict[str, Any]:
        r = runWrk(
            self.script, self.url, peers, duration, connections or self.args.connections,
            self.proc.pid, self.statsPath, self.redisPid, method,
        )
        log(describe(f"{self.name} {label}", r))
        return r

    def finish(self) -> Dict[str, Any]:
        mem = memory(self.proc.pid)
        self.result["peak_rss_kib"] = mem["VmHWM"]
        self.result["rss_end_kib"] = mem["VmRSS"]
        self.result["median"] = summary(self.result["runs"])
        return self.result

    def stop(self) -> None:
        stop(self.proc)
        self.logFile.close()


def freePort() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _command(*args: str) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        data = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class RedisProcess:
    """
    A redis-server that this script starts on a free port of 127.0.0.1
    (keeping nothing on disk), pinned to C{core}, and stops.
    """

    def __init__(self, outdir: str, core: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed (apt-get install redis-server)")
        self.port = freePort()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.logFile = open(os.path.join(outdir, "redis-server.log"), "w")
        self.proc = subprocess.Popen(
            ["taskset", "-c", core, binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--logfile", ""],
            cwd=outdir, stdout=self.logFile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        waitForPort(self.port, self.proc)
        log(f"redis-server: pid {self.proc.pid} listening on {self.url}")

    def info(self, section: str) -> Dict[str, str]:
        """
        The fields of C{INFO section}.
        """
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(_command("INFO", section))
            data = b""
            while b"\r\n" not in data:
                data += sock.recv(65536)
            head, _, data = data.partition(b"\r\n")
            size = int(head[1:])
            while len(data) < size:
                data += sock.recv(65536)
        fields = {}
        for line in data[:size].decode().splitlines():
            name, sep, value = line.partition(":")
            if sep:
                fields[name] = value
        return fields

    def usedMemory(self) -> int:
        return int(self.info("memory")["used_memory"])

    def stop(self) -> None:
        stop(self.proc)
        self.logFile.close()


class CommandCounter(threading.Thread):
    """
    A C{MONITOR} connection to a redis-server that counts, by name, the
    commands its clients send (the lines of C{[DB ADDRESS]}) apart from
    those its scripts run (C{[DB lua]}).
    """

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(b"MONITOR\r\n")
        self.sent: Dict[str, int] = {}
        self.scripted = 0
        self.buffer = b""
        self.stopping = False
        self._line()  # +OK
        self.sock.settimeout(0.2)
        self.start()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def run(self) -> None:
        while not self.stopping:
            try:
                line = self._line()
            except socket.timeout:
                continue
            except (EOFError, OSError):
                return
            head, _, rest = line.partition(b"] ")
            if head.endswith(b" lua"):
                self.scripted += 1
            else:
                name = rest.split(b'"')[1].decode().upper() if b'"' in rest else "?"
                self.sent[name] = self.sent.get(name, 0) + 1

    def finish(self) -> None:
        self.stopping = True
        self.join(5)
        self.sock.close()


def roundTrips(
    server: "Server", redis: RedisProcess, peers: str, args: argparse.Namespace,
) -> Dict[str, Any]:
    """
    Each method of the mixed load alone, for C{args.trip_seconds} at 10
    connections, with a L{CommandCounter}: the commands the tracker sent
    per request, by name, and the commands its scripts ran per request.
    """
    out: Dict[str, Any] = {}
    for method in ("KEEPALIVE", "FIND", "FIND_CHUNK", "STAT_REPORT", "JOIN", "CONNECT"):
        counter = CommandCounter(redis.port)
        try:
            r = server.load(peers, args.trip_seconds, f"{method} alone", method, 10)
        finally:
            counter.finish()
        # The tracker's expiry (twice a second's round trips) and the
        # counter's own MONITOR are not the requests'.
        sent = {k: v for k, v in counter.sent.items() if k not in ("MONITOR", "INFO")}
        n = max(1, r["requests"])
        out[method] = {
            "requests": r["requests"],
            "valid": r["valid"],
            "round_trips_per_request": round(sum(sent.values()) / n, 2),
            "by_command": {k: round(v / n, 2) for k, v in sorted(sent.items())},
            "scripted_commands_per_request": round(counter.scripted / n, 1),
            "tracker_cpu_us_per_request": r["server_cpu_us_per_request"],
            "redis_cpu_us_per_request": r.get("redis_cpu_us_per_request"),
        }
        log(f"  {method}: {out[method]['round_trips_per_request']:.2f} round trips/request "
            f"{out[method]['by_command']}, {out[method]['scripted_commands_per_request']:.1f} "
            "commands run by scripts")
    return out


def compareStores(
    args: argparse.Namespace, command: List[str], outdir: str, report: Dict[str, Any],
) -> None:
    """
    The memory store against the Redis store (one worker, then each
    count of C{args.workers} above 1), under the mixed load; see the
    module's docstring.
    """
    redis: Optional[RedisProcess] = None
    servers: List[Server] = []
    workers = [int(w) for w in args.workers.split(",")]
    total = args.swarms * args.per_swarm
    # Two fillings and all the runs take longer than the default peer
    # timeout (180 s): every tracker gets the same longer one.
    command = command + ["--peer-timeout", "1200"]
    try:
        if args.redis:
            redis = RedisProcess(outdir, args.redis_core)
            url = redis.url
        else:
            url = args.store
        redisPid = redis.proc.pid if redis else None
        memoryServer = Server("memory", command, args.tracker_port, "mixed.lua", args, outdir)
        servers.append(memoryServer)
        memoryPeers = os.path.join(outdir, "peers-memory.txt")
        memoryServer.populate(memoryPeers)
        listen = command.index("--listen") + 1
        redisCommand = command + ["--store", url]
        redisPeers = os.path.join(outdir, "peers-redis.txt")
        redisServers: List[Server] = []
        for n, count in enumerate(workers):
            port = args.bare_port + n
            ownCommand = list(redisCommand)
            ownCommand[listen] = f"tcp:{port}:interface=127.0.0.1"
            server = Server(
                f"redis-{count}w", ownCommand + ["--workers", str(count)],
                port, "mixed.lua", args, outdir,
                SERVER_CORE if count == 1 else args.workers_cores, redisPid,
            )
            servers.append(server)
            redisServers.append(server)
        before = redis.usedMemory() if redis else 0
        # They share the server and the prefix: one logical tracker.
        redisServers[0].populate(redisPeers)
        if redis:
            after = redis.usedMemory()
            report["redis_used_memory_populated"] = after
            report["redis_bytes_per_registered_peer"] = round((after - before) / total)
            log(f"redis-server: used_memory {before:,} -> {after:,} bytes, "
                f"{(after - before) / total:.0f} bytes per registered peer")
        plan = [(memoryServer, memoryPeers)] + [(s, redisPeers) for s in redisServers]
        for server, peers in plan:
            server.result["warmup"] = server.load(peers, args.warmup, "warm-up")
        for n in range(args.runs):
            for server, peers in plan:
                server.result["runs"].append(server.load(peers, args.duration, f"run {n + 1}"))
        if redis:
            report["round_trips"] = roundTrips(redisServers[0], redis, redisPeers, args)
        for server in servers:
            report[server.name] = server.finish()
    finally:
        for server in servers:
            server.stop()
        if redis:
            redis.stop()
    report["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    base = report["memory"]["median"]
    rows = [("tracker", "req/s", "ratio", "p99 ms", "tracker CPU us/req", "redis CPU us/req")]
    for server in servers:
        m = report[server.name]["median"]
        rows.append((
            server.name, f"{m['rps']:.0f}", f"{m['rps'] / base['rps']:.2f}",
            f"{m['p99_us'] / 1000:.2f}", f"{m['server_cpu_us_per_request']:.0f}",
            f"{m['redis_cpu_us_per_request']:.0f}" if "redis_cpu_us_per_request" in m else "-",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    ratio = report["redis-1w"]["median"]["rps"] / base["rps"] if "redis-1w" in report else None
    if ratio is not None:
        report["ratio_redis_1w_rps"] = round(ratio, 3)
        lines.append(
            f"\none worker on Redis / memory store req/s: {ratio:.2f} (target >= 0.70: "
            f"{'met' if ratio >= 0.7 else 'missed'})"
        )
    if "redis_bytes_per_registered_peer" in report:
        lines.append(
            f"Redis used_memory per registered peer: {report['redis_bytes_per_registered_peer']} bytes"
        )
    for method, t in report.get("round_trips", {}).items():
        lines.append(
            f"{method:<12} {t['round_trips_per_request']:5.2f} round trips/request {t['by_command']}, "
            f"{t['scripted_commands_per_request']:.1f} commands in scripts; tracker "
            f"{t['tracker_cpu_us_per_request']:.0f} us/req, redis-server {t['redis_cpu_us_per_request']:.0f} us/req"
        )
    valid = all(report[s.name]["median"]["valid"] for s in servers) and all(
        t["valid"] for t in report.get("round_trips", {}).values()
    )
    report["valid"] = valid
    finishReport(outdir, report, lines, valid)


def profile(
    script: str, url: str, peers: str, args: argparse.Namespace, pid: int, outdir: str
) -> Optional[str]:
    """
    One more run of the load (not counted) with py-spy sampling the
    server; returns the path of the summary.
    """
    spy = args.py_spy or shutil.which("py-spy")
    if spy is None:
        log("py-spy not found (pip install py-spy, or --py-spy PATH): no profile")
        return None
    raw = os.path.join(outdir, "tracker-profile.txt")
    seconds = max(2, args.duration - 2)
    spyProc = subprocess.Popen(
        [spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "100", "-f", "raw",
         "-o", raw],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        r = runWrk(script, url, peers, args.duration, args.connections, pid)
        log(describe("tracker (profiled, not counted)", r))
        spyProc.wait(30)
    finally:
        if spyProc.poll() is None:
            spyProc.kill()
            spyProc.wait()
    if not os.path.exists(raw):
        log("py-spy wrote no profile")
        return None
    sys.path.insert(0, HERE)
    from profile_summary import summarise

    with open(raw) as f:
        text = summarise(f.readlines(), 40)
    path = os.path.join(outdir, "tracker-profile-summary.txt")
    with open(path, "w") as f:
        f.write(text + "\n")
    return path


def versions() -> Dict[str, str]:
    import lxml.etree
    import twisted

    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return {
        "python": platform.python_version(),
        "twisted": twisted.__version__,
        "lxml": ".".join(map(str, lxml.etree.LXML_VERSION)),
        "libxml2": ".".join(map(str, lxml.etree.LIBXML_VERSION)),
        "wrk": (wrk.stdout or wrk.stderr).split("[")[0].strip(),
        "kernel": platform.release(),
        "cpus": str(os.cpu_count()),
        "cpu": _cpuModel(),
    }


def _cpuModel() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def soak(
    args: argparse.Namespace, command: List[str], peers: str, outdir: str,
    report: Dict[str, Any],
) -> None:
    """
    The tracker alone under the mixed load for C{args.soak} runs in a row,
    one line per run: how it settles as its retry cache reaches 60 s of
    answers.
    """
    server = Server("tracker", command, args.tracker_port, "mixed.lua", args, outdir)
    try:
        server.populate(peers)
        started = time.monotonic()
        for n in range(args.soak):
            r = server.load(peers, args.duration, f"soak run {n + 1}")
            r["seconds_of_load"] = round(time.monotonic() - started)
            server.result["runs"].append(r)
        report["tracker"] = server.finish()
    finally:
        server.stop()
    lines = ["seconds  req/s  CPU us/req  p99 ms  gc us/req  expire us/req  non-200"]
    for r in report["tracker"]["runs"]:
        m = r.get("meters") or {}
        gc = sum(m.get(f"gc{g}_us_per_request", 0) for g in "012")
        lines.append(
            f"{r['seconds_of_load']:7d}  {r['rps']:5.0f}  {r['server_cpu_us_per_request']:10.0f}  "
            f"{r['p99_us'] / 1000:6.0f}  {gc if m else float('nan'):9.0f}  "
            f"{m.get('expire_us_per_request', float('nan')):13.0f}  {r['non200']:7d}"
        )
    writeReport(outdir, report, lines)
    if not all(r["valid"] for r in report["tracker"]["runs"]):
        sys.exit(1)


def finishReport(outdir: str, report: Dict[str, Any], lines: List[str], valid: bool) -> None:
    """
    Say whether the run is valid, write the report (L{writeReport}), and
    exit with status 1 when it is not.
    """
    if not valid:
        lines.append("INVALID: some requests did not get 200 (see results.json, bad_sample)")
    writeReport(outdir, report, lines)
    log(f"wrote {outdir}/results.json and summary.txt")
    if not valid:
        sys.exit(1)


def writeReport(outdir: str, report: Dict[str, Any], lines: List[str]) -> None:
    """
    Print the summary table and write it, with the full report, to
    C{outdir}.
    """
    text = "\n".join(lines)
    print()
    print(text)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(outdir, "summary.txt"), "w") as f:
        f.write(text + "\n")


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracker-port", type=int, default=18080)
    parser.add_argument("--bare-port", type=int, default=18081)
    parser.add_argument("--swarms", type=int, default=1000)
    parser.add_argument("--per-swarm", type=int, default=50)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="py-spy the tracker in one more run")
    parser.add_argument("--py-spy", help="the py-spy executable")
    parser.add_argument(
        "--instrument", action="store_true",
        help="run the tracker under instrumented_twistd.py: time its garbage collector and expiry sweep",
    )
    parser.add_argument(
        "--soak", type=int, metavar="RUNS",
        help="instead: the tracker alone for RUNS runs in a row, to watch it settle "
             "(the retry cache fills for 60 s); starts it with --peer-timeout 900",
    )
    parser.add_argument(
        "--redis", action="store_true",
        help="instead: the memory store against a Redis store, on a redis-server this script "
             "starts (and stops) on a free port",
    )
    parser.add_argument(
        "--store", metavar="URL",
        help="instead: the memory store against the Redis store at URL (redis-server's CPU "
             "is then not measured)",
    )
    parser.add_argument(
        "--workers", default="1,2",
        help="with --redis or --store: the worker counts of the Redis trackers [1,2]",
    )
    parser.add_argument(
        "--workers-cores", default="0,1",
        help="the cores of the Redis trackers of more than one worker [0,1]",
    )
    parser.add_argument("--redis-core", default=CLIENT_CORE, help="redis-server's core [1]")
    parser.add_argument(
        "--trip-seconds", type=int, default=2,
        help="seconds of each method alone while round trips are counted [2]",
    )
    parser.add_argument("--results", default=os.path.join(HERE, "results"))
    args = parser.parse_args(argv)
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install wrk util-linux)")
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs two cores: the server on core 0, wrk on core 1")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(args.results, stamp)
    os.makedirs(outdir)
    bin = os.path.dirname(PYTHON)
    twistd = os.path.join(bin, "twistd")
    if not os.path.exists(twistd):
        twistd = shutil.which("twistd") or "twistd"
    report: Dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "versions": versions(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("results",)},
        "loadavg_before": open("/proc/loadavg").read().split()[:3],
    }
    log(f"results in {outdir}")
    peers = os.path.join(outdir, "peers.txt")
    trackerCommand = [
        twistd, "-n", "--pidfile=", "ppsp-tracker", "--listen",
        f"tcp:{args.tracker_port}:interface=127.0.0.1", "--rate-limit", "0",
        "--max-sessions-per-address", "0", "--max-address-memory", "0",
    ]
    if args.soak:
        soak(args, trackerCommand + ["--peer-timeout", "900"], peers, outdir, report)
        return
    if args.redis or args.store:
        compareStores(args, trackerCommand, outdir, report)
        return
    # The mixed load keeps only the peers it draws alive: with more runs
    # than the default three, the first peers registered would pass the
    # default peer timeout (180 s) and get AUTHENTICATION REQUIRED.
    # (About 90 s to populate, then a warm-up and the runs of each server.)
    lasts = 90 + 2 * args.warmup + 2 * (args.runs + args.profile) * args.duration
    if lasts > 170:
        trackerCommand += ["--peer-timeout", str(lasts + 60)]
    servers: List[Server] = []
    try:
        trackerServer = Server(
            "tracker", trackerCommand, args.tracker_port, "mixed.lua", args, outdir,
        )
        servers.append(trackerServer)
        started = time.monotonic()
        trackerServer.populate(peers)
        bareServer = Server(
            "bare",
            [PYTHON, os.path.join(HERE, "bare_server.py"), "--port", str(args.bare_port)],
            args.bare_port, "bare.lua", args, outdir,
        )
        servers.append(bareServer)
        # Both servers are up (the idle one costs nothing); their runs
        # alternate, so that a drift of the machine hits both alike.
        for server in servers:
            server.result["warmup"] = server.load(peers, args.warmup, "warm-up")
        for n in range(args.runs):
            for server in servers:
                server.result["runs"].append(server.load(peers, args.duration, f"run {n + 1}"))
        tracker = trackerServer.finish()
        bare = bareServer.finish()
        if args.profile:
            tracker["profile"] = profile(
                trackerServer.script, trackerServer.url, peers, args,
                trackerServer.proc.pid, outdir,
            )
        elapsed = round(time.monotonic() - started, 1)
        tracker["elapsed_since_populate_s"] = elapsed
        if elapsed > 170:
            log("warning: the load ran past the peer timeout (180 s) of the first peers")
    finally:
        for server in servers:
            server.stop()
    report["tracker"] = tracker
    report["bare"] = bare
    pairs = [
        t["rps"] / b["rps"] for t, b in zip(tracker["runs"], bare["runs"])
    ]
    report["ratio_rps_per_pair"] = [round(x, 3) for x in pairs]
    t, b = tracker["median"], bare["median"]
    report["ratio_rps"] = round(t["rps"] / b["rps"], 3)
    report["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    valid = t["valid"] and b["valid"]
    report["valid"] = valid
    rows = [
        ("server", "req/s", "p50 ms", "p99 ms", "peak RSS MiB", "CPU us/req", "resp. bytes"),
    ]
    for label, r in (("ppsp tracker", tracker), ("bare twisted.web", bare)):
        m = r["median"]
        rows.append((
            label, f"{m['rps']:.0f}", f"{m['p50_us'] / 1000:.2f}", f"{m['p99_us'] / 1000:.2f}",
            f"{r['peak_rss_kib'] / 1024:.0f}", f"{m['server_cpu_us_per_request']:.0f}",
            f"{m['mean_response_bytes']:.0f}",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(
        f"ratio tracker/bare req/s: {report['ratio_rps']:.2f} (target >= 0.60: "
        f"{'met' if report['ratio_rps'] >= 0.6 else 'missed'}); run by run: "
        + ", ".join(f"{x:.2f}" for x in report["ratio_rps_per_pair"])
    )
    lines.append(
        f"tracker RSS: {tracker['rss_start_kib'] / 1024:.0f} MiB at start, "
        f"{tracker['rss_populated_kib'] / 1024:.0f} MiB populated, peak {tracker['peak_rss_kib'] / 1024:.0f} MiB"
    )
    finishReport(outdir, report, lines, valid)


if __name__ == "__main__":
    main(sys.argv[1:])
