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

It starts the tracker with twistd (C{--rate-limit 0
--max-sessions-per-address 0 --max-address-memory 0}: every request comes
from 127.0.0.1), fills it with C{populate.py} (1,000 swarms of 50 peers),
starts the bare server, runs wrk against each in turn, reads the peak RSS
(C{VmHWM}) of each server, stops both, prints
a table and writes everything under C{benchmarks/results/STAMP/}.  Every
server listens on 127.0.0.1 only.  A run in which any request got another
status than 200, or any socket error, is invalid: the script says so and
exits with status 1.
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
) -> Dict[str, Any]:
    """
    One wrk run; returns what its script's done() printed, plus the
    server's CPU time and what else kept its core busy (and, for an
    instrumented tracker, its garbage collector and expiry sweep times).
    """
    stats0 = readStats(pid, statsPath) if statsPath else None
    cmd = [
        "taskset", "-c", CLIENT_CORE, "wrk", "-t1", f"-c{connections}",
        f"-d{duration}s", "--timeout", "5s", "-s", script, url, "--", peers,
    ]
    cpu0, busy0, t0 = cpuSeconds(pid), coreBusy(SERVER_CORE), time.monotonic()
    out = subprocess.run(
        cmd, cwd=HERE, capture_output=True, text=True, timeout=duration + 60
    )
    elapsed = time.monotonic() - t0
    cpu1, busy1 = cpuSeconds(pid), coreBusy(SERVER_CORE)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    result: Dict[str, Any] = json.loads(line[len("RESULT "):])
    serverCPU = cpu1 - cpu0
    result["server_cpu_s"] = round(serverCPU, 3)
    result["server_cpu_share"] = round(serverCPU / elapsed, 3)
    result["other_load_on_server_core"] = round(max(0.0, (busy1 - busy0) - serverCPU) / elapsed, 3)
    result["server_cpu_us_per_request"] = round(1e6 * serverCPU / max(1, result["requests"]), 1)
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
    return (
        f"{label}: {r['rps']:8.0f} req/s  p50 {r['p50_us'] / 1000:6.2f} ms  "
        f"p99 {r['p99_us'] / 1000:6.2f} ms  server CPU {r['server_cpu_us_per_request']:5.0f} us/req "
        f"({100 * r['server_cpu_share']:.0f} % of its core; others {100 * r['other_load_on_server_core']:.0f} %)"
        f"  non-200 {r['non200']}  socket errors {r['socket_errors']}"
    )


def summary(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    med = statistics.median
    return {
        "rps": med(r["rps"] for r in runs),
        "p50_us": med(r["p50_us"] for r in runs),
        "p99_us": med(r["p99_us"] for r in runs),
        "server_cpu_us_per_request": med(r["server_cpu_us_per_request"] for r in runs),
        "mean_response_bytes": med(r["bytes"] / max(1, r["requests"]) for r in runs),
        "valid": all(r["valid"] for r in runs),
    }


class Server:
    """
    One server under test, pinned to the server core, with its log, its
    wrk script and its results.
    """

    def __init__(
        self, name: str, command: List[str], port: int, script: str,
        args: argparse.Namespace, outdir: str,
    ) -> None:
        self.name = name
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
            ["taskset", "-c", SERVER_CORE] + command,
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

    def load(self, peers: str, duration: int, label: str) -> Dict[str, Any]:
        r = runWrk(
            self.script, self.url, peers, duration, self.args.connections,
            self.proc.pid, self.statsPath,
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
    if not valid:
        lines.append("INVALID: some requests did not get 200 (see results.json, bad_sample)")
    writeReport(outdir, report, lines)
    log(f"wrote {outdir}/results.json and summary.txt")
    if not valid:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
