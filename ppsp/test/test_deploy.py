"""
Tests for running the tracker in production (issue 12, points 8 to 10): the
graceful stop (L{ppsp.tracker.drain}), the logs (L{ppsp.logging}, the
access log, the debug events), and the systemd units in C{contrib/systemd}
(socket activation as systemd does it, with real processes).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from typing import Any, List, Tuple

from treq.client import HTTPClient
from twisted.application.service import Service
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import ProcessDone
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, HTTPConnectionPool

from ppsp.logging import eventAsJSONLine, jsonObserver
from ppsp.test.helpers import TrackerHarness
from ppsp.test.test_twistd import BIN, PROJECT, TrackerProcess, environment, request, spawn
from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker.drain import GracefulStop
from ppsp.tracker.resource import TrackerResource, TrackerSite
from ppsp.tracker.tap import Options, makeService

reactor: Any = _reactor
XML = b"application/ppsp-tracker+xml"
UNITS = PROJECT.child("contrib").child("systemd")


def body(peerID: str = "drain-peer", txid: str = "1") -> bytes:
    return request("CONNECT", txid, peerID)


def post(data: bytes, extra: bytes = b"") -> bytes:
    """
    The head of an HTTP/1.1 POST of C{data} (without the body).
    """
    return (
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: " + XML + b"\r\n"
        b"Content-Length: %d\r\n" % (len(data),) + extra + b"\r\n"
    )


class Served:
    """
    A tracker site on a L{Clock}, and connections to it on
    L{StringTransport}s.
    """

    def __init__(self) -> None:
        self.clock = MemoryReactorClock()
        self.tracker = Tracker(self.clock, TrackerConfig())
        self.site = TrackerSite(TrackerResource(self.tracker), reactor=self.clock)

    def connect(self) -> Tuple[Any, StringTransport]:
        channel = self.site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        return channel, transport


def lose(channel: Any, transport: StringTransport) -> None:
    """
    Deliver the end of a connection that the server closed or aborted.
    """
    if transport.disconnecting or getattr(transport, "disconnected", False):
        channel.connectionLost(Failure(ConnectionError("closed")))


class GracefulStopTests(SynchronousTestCase):
    """
    L{GracefulStop}: listeners first, then the drain, then the stop
    callbacks, then the other services.
    """

    def setUp(self) -> None:
        self.served = Served()
        self.listener = Service()
        self.other = Service()
        self.stop = GracefulStop(self.served.clock, self.served.tracker, drainTimeout=10)
        self.stop.addListener(self.listener, self.served.site)
        self.other.setServiceParent(self.stop)
        self.calls: List[str] = []
        self.stop.stopCallbacks.append(lambda: self.calls.append("state"))
        self.stop.startService()

    def test_inFlightAnswered(self) -> None:
        """
        A request whose body is still arriving when the stop begins is
        answered, with C{Connection: close}, and its connection closed
        after the answer; an idle connection is closed at once; the stop
        callbacks and the other services wait for the drain, and the
        tracker says it is draining meanwhile.
        """
        busy, busyTransport = self.served.connect()
        idle, idleTransport = self.served.connect()
        data = body()
        busy.dataReceived(post(data) + data[:10])
        stopped = self.stop.stopService()
        self.assertFalse(self.listener.running)
        self.assertTrue(self.served.tracker.draining)
        self.assertTrue(idleTransport.disconnecting)
        self.assertFalse(busyTransport.disconnecting)
        lose(idle, idleTransport)
        self.assertNoResult(stopped)
        self.assertTrue(self.other.running)
        self.assertEqual(self.calls, [])
        busy.dataReceived(data[10:])
        answer = busyTransport.value()
        self.assertIn(b"200 OK", answer)
        self.assertIn(b"<AuthToken>", answer)
        self.assertRegex(answer.decode("latin-1"), r"(?i)\r\nconnection: close\r\n")
        self.assertTrue(busyTransport.disconnecting)
        lose(busy, busyTransport)
        self.successResultOf(stopped)
        self.assertEqual(self.calls, ["state"])
        self.assertFalse(self.other.running)

    def test_requestAfterStopStarted(self) -> None:
        """
        A connection accepted after the stop began (it was in the listen
        queue) gets its request answered and is closed after it.
        """
        stopped = self.stop.stopService()
        channel, transport = self.served.connect()
        data = body()
        channel.dataReceived(post(data) + data)
        self.assertIn(b"200 OK", transport.value())
        self.assertTrue(transport.disconnecting)
        lose(channel, transport)
        self.successResultOf(stopped)

    def test_drainTimeout(self) -> None:
        """
        A request that is still not answered when the drain time runs out
        has its connection aborted; the stop then goes on.
        """
        channel, transport = self.served.connect()
        channel.dataReceived(post(body()))
        with capturedLogs() as events:
            stopped = self.stop.stopService()
            self.served.clock.advance(9)
            self.assertNoResult(stopped)
            self.assertFalse(transport.disconnected)
            self.served.clock.advance(1)
        self.assertTrue(transport.disconnected)
        self.successResultOf(stopped)
        self.assertEqual(self.calls, ["state"])
        texts = [formatEvent(e) for e in events]
        self.assertIn("drained: 1 connection(s) closed unanswered", texts)

    def test_nothingOpen(self) -> None:
        """
        With no connection open, the stop is over at once.
        """
        self.successResultOf(self.stop.stopService())
        self.assertEqual(self.calls, ["state"])
        self.assertFalse(self.other.running)

    def test_failingCallback(self) -> None:
        """
        A stop callback that fails is logged; the next ones still run and
        the stop completes.
        """
        self.stop.stopCallbacks.insert(0, lambda: 1 // 0)
        self.successResultOf(self.stop.stopService())
        self.assertEqual(self.calls, ["state"])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)


class OptionsTests(SynchronousTestCase):
    """
    C{--drain-timeout} and C{--access-log PATH}.
    """

    def parse(self, *argv: str) -> Options:
        options = Options()
        options.parseOptions(["--listen", "tcp:0:interface=127.0.0.1", *argv])
        return options

    def test_drainTimeout(self) -> None:
        """
        The service L{makeService} builds is a L{GracefulStop} with the
        drain timeout of C{--drain-timeout} (10 s by default) and the
        tracker it sets draining.
        """
        service = makeService(self.parse(), MemoryReactorClock())
        assert isinstance(service, GracefulStop)
        self.assertEqual(service.drainTimeout, 10)
        service = makeService(self.parse("--drain-timeout", "3"), MemoryReactorClock())
        self.assertEqual(service.drainTimeout, 3)  # type: ignore[attr-defined]
        self.assertRaises(UsageError, self.parse, "--drain-timeout", "-1")

    def test_accessLogFlagMisused(self) -> None:
        """
        C{--access-log} followed by another option (how it was used when
        it was a flag) is a usage error that says what it takes, not a
        file named after the option.
        """
        e = self.assertRaises(UsageError, self.parse, "--access-log", "--rate-limit")
        self.assertIn("--access-log takes a file", str(e))

    def test_accessLogFile(self) -> None:
        """
        C{--access-log PATH} writes one line per request, in combined log
        format, to that file; without it nothing is written.
        """
        path = FilePath(self.mktemp())
        options = self.parse("--access-log", path.path)
        [site] = _sites(makeService(options, MemoryReactorClock()))
        site.doStart()
        self.addCleanup(site.doStop)
        channel = site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        data = body()
        channel.dataReceived(post(data, b"User-Agent: test-peer\r\n") + data)
        self.assertIn(b"200 OK", transport.value())
        lines = path.getContent().decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r'^\S+ - - \[[^]]+\] "POST / HTTP/1.1" 200 \d+ "-" "test-peer"$')

    def test_accessLogToLog(self) -> None:
        """
        C{--access-log -} keeps the old behaviour: the lines go to the
        tracker's log, no file is opened.
        """
        options = self.parse("--access-log", "-")
        service = makeService(options, MemoryReactorClock())
        sites = [s for s in _sites(service)]
        self.assertTrue(sites)
        for site in sites:
            self.assertTrue(site.accessLog)
            self.assertIsNone(site.logPath)
        for site in _sites(makeService(self.parse(), MemoryReactorClock())):
            self.assertFalse(site.accessLog)


def _sites(service: Any) -> List[TrackerSite]:
    return [site for _, site in service.listeners]


class DebugEventTests(SynchronousTestCase):
    """
    The debug events docs/running.rst promises.
    """

    def test_undecodable(self) -> None:
        """
        A request that cannot be decoded is logged at the debug level with
        its address and the reason; a flood of them writes at most one
        line a second, which says how many were left out.
        """
        served = Served()
        with capturedLogs() as events:
            for _ in range(3):
                channel, transport = served.connect()
                channel.dataReceived(post(b"<nonsense") + b"<nonsense")
                self.assertIn(b"400 Bad Request", transport.value())
            served.clock.advance(1)
            channel, transport = served.connect()
            channel.dataReceived(post(b"{}") + b"{}")
        debug = [e for e in events if e["log_level"] is LogLevel.debug and "decode" in e["log_format"]]
        self.assertEqual(len(debug), 2, [formatEvent(e) for e in debug])
        self.assertEqual(debug[0]["code"], "INVALID SYNTAX")
        self.assertTrue(debug[0]["reason"])
        self.assertIn(debug[0]["reason"], formatEvent(debug[0]))
        self.assertEqual(debug[1]["suppressed"], 2)
        self.assertIn("2 similar event(s) suppressed", formatEvent(debug[1]))

    def test_expired(self) -> None:
        """
        Each expired peer is logged at the debug level with its PeerID.
        """
        harness = TrackerHarness(self, keepAliveInterval=5, peerTimeout=10)
        harness.connect("quiet-1")
        harness.connect("quiet-2", ip="198.51.100.2")
        with capturedLogs() as events:
            harness.advance(11)
        expired = sorted(e["peerID"] for e in events if "expired" in e["log_format"])
        self.assertEqual(expired, ["quiet-1", "quiet-2"])
        self.assertTrue(all(e["log_level"] is LogLevel.debug for e in events if "expired" in e["log_format"]))


class JSONLineTests(SynchronousTestCase):
    """
    L{eventAsJSONLine}: one JSON object per line with the documented keys.
    """

    def test_keys(self) -> None:
        """
        The line has time (ISO 8601 UTC), level, namespace and text, then
        the event's own JSON fields.
        """
        line = eventAsJSONLine(
            {
                "log_format": "peer {peerID} expired",
                "log_level": LogLevel.debug,
                "log_namespace": "ppsp.tracker.core.Tracker",
                "log_time": 1_000_000_000.5,
                "peerID": "p1",
                "count": 3,
                "nested": {"a": [1, "b"]},
            }
        )
        self.assertTrue(line.endswith("\n"))
        self.assertNotIn("\n", line[:-1])
        self.assertEqual(
            json.loads(line),
            {
                "time": "2001-09-09T01:46:40.500000Z",
                "level": "debug",
                "namespace": "ppsp.tracker.core.Tracker",
                "text": "peer p1 expired",
                "peerID": "p1",
                "count": 3,
                "nested": {"a": [1, "b"]},
            },
        )

    def test_leftOut(self) -> None:
        """
        Fields that are not JSON values, Twisted's own C{log_} fields,
        fields that would replace a documented key, and fields named like
        secrets are left out.
        """
        record = json.loads(
            eventAsJSONLine(
                {
                    "log_format": "x",
                    "log_level": LogLevel.info,
                    "log_time": 0.0,
                    "log_logger": object(),
                    "object": object(),
                    "nan": float("nan"),
                    "text": "not the text",
                    "authToken": "t0ps3cret",
                    "secret": b"k",
                    "credential": "ppsp1.x",
                    "password": "p",
                    "ok": "yes",
                }
            )
        )
        self.assertEqual(set(record), {"time", "level", "namespace", "text", "ok"})
        self.assertEqual(record["text"], "x")

    def test_failure(self) -> None:
        """
        An event with a failure carries its traceback as C{failure}.
        """
        try:
            1 // 0
        except ZeroDivisionError:
            failure = Failure()
        record = json.loads(
            eventAsJSONLine(
                {"log_format": "boom", "log_level": LogLevel.critical, "log_failure": failure, "log_time": 0.0}
            )
        )
        self.assertEqual(record["level"], "critical")
        self.assertIn("ZeroDivisionError", record["failure"])

    def test_observer(self) -> None:
        """
        L{jsonObserver} (twistd's C{--logger}) takes no argument and
        writes to standard output.
        """
        from twisted.logger import ILogObserver

        self.assertTrue(ILogObserver.providedBy(jsonObserver()))


def watch(process: TrackerProcess, pattern: bytes) -> "Deferred[None]":
    """
    A Deferred that fires once the process's output matches C{pattern}.
    """
    d: Deferred[None] = Deferred()
    previous = process.outReceived

    def check(data: bytes) -> None:
        previous(data)
        if not d.called and re.search(pattern, process.output):
            d.callback(None)

    process.outReceived = process.errReceived = check  # type: ignore[method-assign]
    if re.search(pattern, process.output):
        d.callback(None)
    return d


def twistd(*argv: str) -> List[str]:
    return [os.path.join(BIN, "twistd"), "-n", "--pidfile=", *argv]


class ProcessTests(TestCase):
    """
    The tracker as a real twistd (and twist) process: graceful stop, JSON
    logs, socket activation.
    """

    timeout = 60

    def start(self, argv: List[str]) -> TrackerProcess:
        process = TrackerProcess()
        spawn(self, process, argv)
        return process

    def blockingSocket(self, port: int) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.addCleanup(sock.close)
        return sock

    @inlineCallbacks
    def test_gracefulStop(self) -> Any:
        """
        On SIGTERM, twistd stops listening (a new connection is refused),
        answers the request in flight (its body arrives after the signal),
        closes that connection after the answer, and exits with status 0
        without waiting for the drain time to run out.
        """
        process = self.start(
            twistd("ppsp-tracker", "--listen", "tcp:0:interface=127.0.0.1", "--drain-timeout", "30", "--request-timeout", "0")
        )
        port = yield process.listening
        sock = self.blockingSocket(port)
        data = body()
        # The headers ask for "100 Continue": once it comes, the tracker
        # has the request open, so it is in flight when SIGTERM arrives.
        sock.sendall(post(data, b"Expect: 100-continue\r\n"))
        self.assertIn(b"100 Continue", sock.recv(1024))
        draining = watch(process, rb"draining: stopped listening")
        process.transport.signalProcess("TERM")  # type: ignore[union-attr]
        yield draining
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        sock.sendall(data)
        answer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        self.assertIn(b"HTTP/1.1 200 OK", answer)
        self.assertIn(b"<AuthToken>", answer)
        self.assertRegex(answer.decode("latin-1"), r"(?i)\r\nconnection: close\r\n")
        reason = yield process.ended
        self.assertIsInstance(reason, ProcessDone, process.output)
        self.assertIn(b"drained: 0 connection(s) closed unanswered", process.output)

    def test_jsonLogsTwistd(self) -> Any:
        """
        C{twistd --logger=ppsp.logging.jsonObserver -n ppsp-tracker} writes
        one JSON object per line, every line, with the documented keys; the
        start-up line carries its fields.
        """
        return self.checkJSONLines(
            [
                os.path.join(BIN, "twistd"),
                "--logger=ppsp.logging.jsonObserver",
                "-n",
                "--pidfile=",
                "ppsp-tracker",
                "--listen",
                "tcp:0:interface=127.0.0.1",
            ]
        )

    def test_logFormatTwistd(self) -> Any:
        """
        C{twistd -n ppsp-tracker --log-format json} writes the same lines:
        the plugin's own option asks twistd for the JSON observer.
        """
        return self.checkJSONLines(
            [
                os.path.join(BIN, "twistd"), "-n", "--pidfile=", "ppsp-tracker",
                "--log-format", "json", "--listen", "tcp:0:interface=127.0.0.1",
            ]
        )

    def test_logFormatTwist(self) -> Any:
        """
        C{twist ppsp-tracker --log-format json} writes the same lines too
        (not twist's own RFC 7464 records): one JSON object per line.
        """
        return self.checkJSONLines(
            [
                os.path.join(BIN, "twist"), "ppsp-tracker",
                "--log-format", "json", "--listen", "tcp:0:interface=127.0.0.1",
            ]
        )

    @inlineCallbacks
    def checkJSONLines(self, argv: List[str]) -> Any:
        """
        Start C{argv}, stop it once it listens, and check that every line
        it wrote is one JSON object with the documented keys, and that the
        start-up line carries its fields.
        """
        process = self.start(argv)
        process.listening.addErrback(lambda f: None)
        yield watch(process, rb'"port":\d+')
        process.transport.signalProcess("TERM")  # type: ignore[union-attr]
        yield process.ended
        lines = process.output.decode().splitlines()
        records = [json.loads(line) for line in lines]
        self.assertTrue(records)
        for record in records:
            self.assertLessEqual({"time", "level", "namespace", "text"}, set(record))
        listening = [r for r in records if r["text"].startswith("PPSP tracker listening on 127.0.0.1:")]
        self.assertEqual(len(listening), 1, lines)
        self.assertEqual(listening[0]["level"], "info")
        self.assertEqual(listening[0]["namespace"], "ppsp.tracker.service.AnnouncingEndpoint")
        self.assertEqual(listening[0]["endpoint"], "tcp:0:interface=127.0.0.1")
        self.assertIsInstance(listening[0]["port"], int)
        self.assertEqual(listening[0]["settings"]["selector"], "random")

    @inlineCallbacks
    def test_jsonLogsTwist(self) -> Any:
        """
        C{twist --log-format=json ppsp-tracker} writes RFC 7464 records:
        each line is the record separator (0x1E) and one JSON object in
        Twisted's own keys, which carry the event's fields too.
        """
        process = self.start(
            [os.path.join(BIN, "twist"), "--log-format=json", "ppsp-tracker", "--listen", "tcp:0:interface=127.0.0.1"]
        )
        process.listening.addErrback(lambda f: None)
        yield watch(process, rb'"port": ?\d+')
        process.transport.signalProcess("TERM")  # type: ignore[union-attr]
        yield process.ended
        lines = [line for line in process.output.split(b"\n") if line]
        self.assertTrue(lines)
        records = []
        for line in lines:
            self.assertTrue(line.startswith(b"\x1e"), line)
            records.append(json.loads(line[1:]))
        listening = [r for r in records if r.get("endpoint") == "tcp:0:interface=127.0.0.1"]
        self.assertEqual(len(listening), 1)
        self.assertEqual(listening[0]["log_namespace"], "ppsp.tracker.service.AnnouncingEndpoint")

    @inlineCallbacks
    def test_socketActivation(self) -> Any:
        """
        C{--listen systemd:domain=INET:index=0} serves on the listening
        socket it inherits as file descriptor 3, with C{LISTEN_FDS=1} and
        C{LISTEN_PID} set to its own process ID, as systemd starts it.
        """
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(listening.close)
        listening.bind(("127.0.0.1", 0))
        listening.listen(16)
        port = listening.getsockname()[1]
        process = TrackerProcess()
        env = environment()
        env["LISTEN_FDS"] = "1"
        # systemd 227 and later name each socket (the socket unit's name by
        # default); Twisted ignores inherited sockets without names.
        env["LISTEN_FDNAMES"] = "ppsp-tracker.socket"
        argv = [
            "/bin/sh",
            "-c",
            'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"',
            *twistd("ppsp-tracker", "--listen", "systemd:domain=INET:index=0"),
        ]
        transport = reactor.spawnProcess(
            process, argv[0], argv, env=env, childFDs={0: "w", 1: "r", 2: "r", 3: listening.fileno()}
        )

        def stop() -> Any:
            if not process.ended.called:
                transport.signalProcess("TERM")
            return process.ended

        self.addCleanup(stop)
        listening.close()
        announced = yield process.listening
        self.assertEqual(announced, port)
        self.assertIn(b"(systemd:domain=INET:index=0)", process.output)
        pool = HTTPConnectionPool(reactor, persistent=False)
        http = HTTPClient(Agent(reactor, pool=pool))
        headers: Any = {b"Content-Type": [XML]}
        response = yield http.post(f"http://127.0.0.1:{port}/", data=body("activated"), headers=headers)
        answer = yield response.content()
        self.assertEqual(response.code, 200, answer)
        self.assertIn(b"<AuthToken>", answer)
        transport.signalProcess("TERM")
        reason = yield process.ended
        self.assertIsInstance(reason, ProcessDone, process.output)


class UnitFileTests(SynchronousTestCase):
    """
    The files in C{contrib/systemd}.
    """

    def test_verify(self) -> None:
        """
        C{systemd-analyze verify} accepts the service and socket units
        without a warning (with C{ExecStart} pointed at this environment's
        twistd, since it checks that the program exists).  Skipped where
        systemd-analyze is not installed.
        """
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            raise self.skipTest("systemd-analyze is not installed")
        work = FilePath(self.mktemp())
        work.makedirs()
        service = UNITS.child("ppsp-tracker.service").getContent().decode()
        self.assertIn("ExecStart=/opt/ppsp/bin/twistd ", service)
        work.child("ppsp-tracker.service").setContent(
            service.replace("/opt/ppsp/bin/", BIN + "/").encode()
        )
        UNITS.child("ppsp-tracker.socket").copyTo(work.child("ppsp-tracker.socket"))
        for name in ("ppsp-tracker.service", "ppsp-tracker.socket"):
            work.child(name).chmod(0o644)
        result = subprocess.run(
            [analyze, "verify", "ppsp-tracker.socket", "ppsp-tracker.service"],
            cwd=work.path,
            capture_output=True,
            text=True,
        )
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, "", ""))

    def test_hardened(self) -> None:
        """
        The service unit runs as a dynamic user with a state directory and
        no new privileges, on the socket unit's socket, with JSON logs.
        """
        service = UNITS.child("ppsp-tracker.service").getContent().decode()
        for line in (
            "DynamicUser=yes",
            "StateDirectory=ppsp-tracker",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "Requires=ppsp-tracker.socket",
        ):
            self.assertIn("\n" + line + "\n", service)
        self.assertIn("--listen systemd:domain=INET:index=0", service)
        self.assertIn("--logger=ppsp.logging.jsonObserver", service)

    def test_sampleConfig(self) -> None:
        """
        The sample C{tracker.toml} is accepted by C{ppsp-tracker --config}.
        """
        options = Options()
        options.parseOptions(
            ["--config", UNITS.child("tracker.toml").path, "--listen", "tcp:0:interface=127.0.0.1"]
        )
        self.assertEqual(options["drain-timeout"], 10)
        self.assertEqual(options["admin"], "tcp:7001:interface=127.0.0.1")

