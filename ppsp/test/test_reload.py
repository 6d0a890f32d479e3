"""
Revocations applied at run time: the revocation file read again (by
L{RevocationFile.reload}, on SIGHUP through L{ReloadService}), in process
and in a real C{twistd} tracker; the tracker options that go with issue
13's session rules.
"""

from __future__ import annotations

import os
import re
import signal
from typing import Any, Callable, List, cast

from treq.client import HTTPClient
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import ILogObserver, LogEvent, LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.python import usage
from twisted.web.client import Agent, HTTPConnectionPool

from ppsp.messages import ConnectRequest, ConnectResponse, KeepAliveRequest, ResponseCode
from ppsp.test.test_twistd import BIN, TrackerProcess, request, spawn
from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.reload import ReloadService, RevocationFile
from ppsp.tracker.tap import Options, makeService

reactor: Any = _reactor
ORIGIN = Origin("198.51.100.7", 40000)


class RevocationFileTests(SynchronousTestCase):
    """
    L{RevocationFile.reload} applies the file at once, and keeps the old
    revocations when the new file is bad.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.tracker = Tracker(self.clock, TrackerConfig(rateLimit=0))
        self.path = self.mktemp()
        self.write("")
        self.file = RevocationFile(self.tracker, self.path)
        self.events: List[LogEvent] = []
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    def write(self, text: str) -> None:
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(text)

    def connect(self, peerID: str) -> Any:
        return self.successResultOf(self.tracker.handle(ConnectRequest(f"c-{peerID}", peerID), ORIGIN))

    def test_applied(self) -> None:
        """
        A PeerID added to the file is revoked once the file is read again:
        its session ends, its CONNECT is refused; removing it lifts that.
        """
        answer = self.connect("peer-a")
        self.assertIsInstance(answer, ConnectResponse)
        self.write("peer:peer-a\n")
        self.assertTrue(self.successResultOf(self.file.reload()))
        self.assertIsNone(self.successResultOf(self.tracker.store.peer("peer-a")))
        keepalive = self.successResultOf(
            self.tracker.handle(KeepAliveRequest("k", "peer-a", authToken=answer.authToken), ORIGIN)
        )
        self.assertEqual(keepalive.code, ResponseCode.AUTHENTICATION_REQUIRED)
        self.write("")
        self.assertTrue(self.successResultOf(self.file.reload()))
        self.assertIsInstance(self.connect("peer-a"), ConnectResponse)

    def test_badFileKeepsOld(self) -> None:
        """
        A file with a bad line, or one that is gone, is refused with an
        error in the log, and the revocations in force stay.
        """
        self.write("peer:peer-a\n")
        self.successResultOf(self.file.reload())
        self.write("peer:peer-a\nnonsense\n")
        self.assertFalse(self.successResultOf(self.file.reload()))
        os.remove(self.path)
        self.assertFalse(self.successResultOf(self.file.reload()))
        self.assertEqual(self.tracker.revocations.peerIDs, {"peer-a"})
        errors = [e for e in self.events if e["log_level"] is LogLevel.error]
        self.assertEqual(len(errors), 2)
        self.assertIn(f"{self.path}:2:", errors[0]["reason"])


class _Reactor:
    """
    The one reactor method L{ReloadService} uses: work handed over from a
    signal handler runs when the test says so.
    """

    def __init__(self) -> None:
        self.calls: List[Callable[[], Any]] = []

    def callFromThread(self, f: Callable[[], Any]) -> None:
        self.calls.append(f)


class ReloadServiceTests(SynchronousTestCase):
    """
    L{ReloadService} takes SIGHUP while it runs and calls its reloaders in
    the reactor thread.
    """

    def test_signal(self) -> None:
        """
        SIGHUP hands the reload to the reactor; a failing reloader is
        logged and the next one still runs; stopping gives the signal
        back.
        """
        called: List[str] = []

        def broken() -> "Deferred[bool]":
            raise RuntimeError("boom")

        def second() -> "Deferred[bool]":
            called.append("second")
            return succeed(True)

        fake = _Reactor()
        service = ReloadService(fake, [broken, second])
        before = signal.getsignal(signal.SIGHUP)
        service.startService()
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            self.assertEqual(len(fake.calls), 1)
            self.assertEqual(called, [])
            results = self.successResultOf(fake.calls[0]())
        finally:
            service.stopService()
        self.assertEqual(called, ["second"])
        self.assertEqual([result["applied"] for result in results], [False, True])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(signal.getsignal(signal.SIGHUP), before)


    def test_oneAtATime(self) -> None:
        """
        A reload asked for while another waits for its reloaders (a store
        that answers later) starts once that one has ended; each reloader
        runs after the one before it has answered.
        """
        pending: List[Deferred[bool]] = []
        calls: List[str] = []

        def slow() -> "Deferred[bool]":
            calls.append("slow")
            d: Deferred[bool] = Deferred()
            pending.append(d)
            return d

        def quick() -> "Deferred[bool]":
            calls.append("quick")
            return succeed(True)

        service = ReloadService(_Reactor(), [slow, quick])
        first = service.reload()
        second = service.reload()
        self.assertEqual(calls, ["slow"])
        pending.pop().callback(True)
        self.assertEqual(calls, ["slow", "quick", "slow"])
        self.assertEqual([r["applied"] for r in self.successResultOf(first)], [True, True])
        self.assertNoResult(second)
        pending.pop().callback(False)
        self.assertEqual([r["applied"] for r in self.successResultOf(second)], [False, True])


class RevocationOnSIGHUPTests(TestCase):
    """
    An operator revokes a PeerID in a running C{twistd} tracker by editing
    its revocation file and sending SIGHUP.
    """

    timeout = 60

    @inlineCallbacks
    def test_sighup(self) -> Any:
        """
        After SIGHUP, the revoked peer's next request gets AUTHENTICATION
        REQUIRED, and its CONNECT is refused.
        """
        path = os.path.abspath(self.mktemp())
        with open(path, "w", encoding="utf-8") as f:
            f.write("# nothing revoked yet\n")
        process = TrackerProcess()
        argv = [
            os.path.join(BIN, "twistd"), "-n", "--pidfile=", "ppsp-tracker",
            "--listen", "tcp:0:interface=127.0.0.1", "--revocations", path,
        ]
        transport = spawn(self, process, argv)
        port = yield process.listening
        pool = HTTPConnectionPool(reactor, persistent=False)
        http = HTTPClient(Agent(reactor, pool=pool))
        url = f"http://127.0.0.1:{port}/"
        headers: Any = {b"Content-Type": [b"application/ppsp-tracker+xml"]}

        @inlineCallbacks
        def post(body: bytes) -> Any:
            response = yield http.post(url, data=body, headers=headers)
            content = yield response.content()
            return content

        body = yield post(request("CONNECT", "1", "revoked-peer"))
        token = re.search(rb"<AuthToken>([^<]+)</AuthToken>", body).group(1).decode()  # type: ignore[union-attr]
        with open(path, "w", encoding="utf-8") as f:
            f.write("peer:revoked-peer\n")
        mark = len(process.output)
        transport.signalProcess("HUP")
        yield process.waitFor(rb"revocation file .* applied", start=mark)
        body = yield post(request("KEEPALIVE", "2", "revoked-peer", f"<AuthToken>{token}</AuthToken>"))
        self.assertIn(b"AUTHENTICATION REQUIRED", body)
        body = yield post(request("CONNECT", "3", "revoked-peer"))
        self.assertIn(b"AUTHENTICATION REQUIRED", body)



class TrackerOptionTests(SynchronousTestCase):
    """
    C{twistd ppsp-tracker --revocations FILE} and
    C{--allow-low-stat-ports}.
    """

    def test_badRevocationFile(self) -> None:
        """
        A revocation file that cannot be read, or has a bad line, stops the
        start with a usage error naming it.
        """
        path = self.mktemp()
        with self.assertRaises(usage.UsageError) as missing:
            Options().parseOptions(["--revocations", path])
        self.assertIn(path, str(missing.exception))
        with open(path, "w") as f:
            f.write("peer:a\nwrong\n")
        with self.assertRaises(usage.UsageError) as bad:
            Options().parseOptions(["--revocations", path])
        self.assertIn(f"{path}:2:", str(bad.exception))

    def test_revocationsInForce(self) -> None:
        """
        The file's revocations are in force from the start, and the
        service takes SIGHUP while it runs and gives it back when it stops.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("peer:peer-a\n")
        options = Options()
        options.parseOptions(["--revocations", path])
        before = signal.getsignal(signal.SIGHUP)
        service = makeService(options, MemoryReactorClock())
        tracker: Any = service.tracker  # type: ignore[attr-defined]
        self.assertEqual(tracker.revocations.peerIDs, {"peer-a"})
        service.startService()
        self.assertNotEqual(signal.getsignal(signal.SIGHUP), before)
        service.stopService()
        self.assertEqual(signal.getsignal(signal.SIGHUP), before)

    def test_statPorts(self) -> None:
        """
        Once listening, the tracker refuses its own port as a StatPort, and
        a port below 1024 unless C{--allow-low-stat-ports} is given.
        """
        for argv, low in (([], ResponseCode.INVALID_SYNTAX), (["--allow-low-stat-ports"], ResponseCode.OK)):
            options = Options()
            options.parseOptions(["--listen", "tcp:7123:interface=127.0.0.1"] + argv)
            service = makeService(options, MemoryReactorClock())
            service.startService()
            self.addCleanup(service.stopService)
            tracker: Any = service.tracker  # type: ignore[attr-defined]
            own = self.successResultOf(tracker.handle(ConnectRequest("1", "p", statPort=7123), ORIGIN))
            self.assertEqual(own.code, ResponseCode.INVALID_SYNTAX)
            other = self.successResultOf(tracker.handle(ConnectRequest("2", "q", statPort=80), ORIGIN))
            self.assertEqual(other.code, low)


class RevocationSourcesTests(SynchronousTestCase):
    """
    Revocations made at run time (the admin interface, L{Tracker.revoke})
    survive the file being read again; what the file drops is lifted.
    """

    def test_runtimeRevocationsKept(self) -> None:
        """
        A PeerID revoked through L{Tracker.revoke} stays revoked after a
        reload that drops a PeerID the file used to list.
        """
        tracker = Tracker(Clock(), TrackerConfig(rateLimit=0))
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("peer:from-file\n")
        revocationFile = RevocationFile(tracker, path)
        self.assertTrue(self.successResultOf(revocationFile.reload()))
        self.successResultOf(tracker.revoke(peerIDs=["by-admin"]))
        with open(path, "w") as f:
            f.write("peer:new-in-file\n")
        self.assertTrue(self.successResultOf(revocationFile.reload()))
        self.assertEqual(tracker.revocations.peerIDs, {"by-admin", "new-in-file"})
