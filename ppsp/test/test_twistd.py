"""
End-to-end tests: the tracker started as a real C{twistd} (and C{twist})
process, talked to over TCP on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from typing import Any, List

from treq.client import HTTPClient
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool

import ppsp

reactor: Any = _reactor
PROJECT = FilePath(ppsp.__file__).parent().parent()
BIN = os.path.dirname(sys.executable)


def request(method: str, txid: str, peerID: str, extra: str = "") -> bytes:
    return (
        f'<PPSPTrackerProtocol version="1.0"><Method>{method}</Method>'
        f"<TransactionID>{txid}</TransactionID><PeerID>{peerID}</PeerID>{extra}"
        "</PPSPTrackerProtocol>"
    ).encode()


class Process(ProcessProtocol):
    """
    A child process whose output is kept and can be waited on.
    """

    def __init__(self) -> None:
        self.output = bytearray()
        self.ended: Deferred[Any] = Deferred()
        self._waiting: List[tuple[re.Pattern[bytes], int, Deferred[re.Match[bytes]]]] = []

    def outReceived(self, data: bytes) -> None:
        self.output.extend(data)
        for entry in list(self._waiting):
            pattern, start, d = entry
            match = pattern.search(self.output, start)
            if match:
                self._waiting.remove(entry)
                d.callback(match)

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        self.ended.callback(reason.value)
        for pattern, start, d in self._waiting:
            d.errback(RuntimeError(f"ended before {pattern.pattern!r}:\n{self.output.decode(errors='replace')}"))
        self._waiting = []

    def waitFor(self, pattern: bytes, start: int = 0, timeout: float = 30) -> "Deferred[re.Match[bytes]]":
        """
        Fire with the first match of C{pattern} in the output after offset
        C{start}; fail with an L{AssertionError} showing the output after
        C{timeout} seconds.  Cancelling the Deferred stops the wait.
        """
        compiled = re.compile(pattern)
        match = compiled.search(self.output, start)
        d: Deferred[re.Match[bytes]] = Deferred(self._forget)
        if match:
            d.callback(match)
            return d
        self._waiting.append((compiled, start, d))
        d.addTimeout(timeout, reactor, onTimeoutCancel=lambda *a: self._timedOut(pattern))
        return d

    def _forget(self, d: "Deferred[re.Match[bytes]]") -> None:
        # A wait cancelled (or timed out) is no longer waiting.
        self._waiting = [entry for entry in self._waiting if entry[2] is not d]

    def _timedOut(self, pattern: bytes) -> None:
        raise AssertionError(
            f"no {pattern!r} in time; output so far:\n{self.output.decode(errors='replace')}"
        )


class TrackerProcess(Process):
    """
    A tracker process whose output is watched for the start-up line.
    """

    def __init__(self) -> None:
        super().__init__()
        self.listening: Deferred[int] = Deferred()

    def outReceived(self, data: bytes) -> None:
        super().outReceived(data)
        match = re.search(rb"listening on 127\.0\.0\.1:(\d+)", self.output)
        if match and not self.listening.called:
            self.listening.callback(int(match.group(1)))

    errReceived = outReceived

    def processEnded(self, reason: Any) -> None:
        if not self.listening.called:
            self.listening.errback(RuntimeError(self.output.decode(errors="replace")))
        super().processEnded(reason)


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = PROJECT.path + os.pathsep + env.get("PYTHONPATH", "")
    return env


def spawn(testCase: TestCase, process: Any, argv: List[str]) -> Any:
    """
    Start C{argv} as a child process that runs this checkout (see
    L{environment}) and talks to C{process}, whose C{ended} Deferred fires
    when it exits.  After the test it gets SIGTERM unless it has ended,
    and the test waits for its end.

    @return: the process transport.
    """
    transport = reactor.spawnProcess(process, argv[0], argv, env=environment())

    def stop() -> Any:
        if not process.ended.called:
            transport.signalProcess("TERM")
        return process.ended

    testCase.addCleanup(stop)
    return transport


class TwistdTests(TestCase):
    """
    The tracker as operators run it.
    """

    timeout = 60

    def start(self, argv: List[str]) -> TrackerProcess:
        process = TrackerProcess()
        spawn(self, process, argv)
        return process

    @inlineCallbacks
    def talk(self, port: int) -> Any:
        pool = HTTPConnectionPool(reactor, persistent=False)
        http = HTTPClient(Agent(reactor, pool=pool))
        url = f"http://127.0.0.1:{port}/"
        headers: Any = {b"Content-Type": [b"application/ppsp-tracker+xml"]}
        response = yield http.post(url, data=request("CONNECT", "1", "e2e-peer"), headers=headers)
        body = yield response.content()
        self.assertEqual(response.code, 200, body)
        token = re.search(rb"<AuthToken>([^<]+)</AuthToken>", body).group(1).decode()  # type: ignore[union-attr]
        response = yield http.post(
            url,
            data=request("JOIN", "2", "e2e-peer", f"<AuthToken>{token}</AuthToken><SwarmID>live</SwarmID>"),
            headers=headers,
        )
        body = yield response.content()
        self.assertEqual(response.code, 200, body)
        self.assertIn(b"<Response>OK</Response>", body)
        response = yield http.get(url)
        yield response.content()
        self.assertEqual(response.code, 405)

    @inlineCallbacks
    def test_twistd(self) -> Any:
        """
        C{twistd -n ppsp-tracker --listen tcp:0:...} starts, logs where it
        listens, serves CONNECT and JOIN over TCP, and exits cleanly on
        SIGTERM.
        """
        process = self.start(
            [os.path.join(BIN, "twistd"), "-n", "--pidfile=", "ppsp-tracker", "--listen", "tcp:0:interface=127.0.0.1"]
        )
        port = yield process.listening
        yield self.talk(port)
        self.assertIn(b"selector=random", process.output)
        os.kill(self._pid(process), signal.SIGTERM)
        reason = yield process.ended
        # twistd re-raises the signal after a clean shut-down.
        self.assertTrue(isinstance(reason, ProcessDone) or reason.signal == signal.SIGTERM, reason)
        self.assertIn(b"Server Shut Down", process.output)

    @inlineCallbacks
    def test_twist(self) -> Any:
        """
        C{twist ppsp-tracker} works the same.
        """
        process = self.start(
            [os.path.join(BIN, "twist"), "--log-format=text", "ppsp-tracker", "--listen", "tcp:0:interface=127.0.0.1"]
        )
        port = yield process.listening
        yield self.talk(port)

    @inlineCallbacks
    def test_usageError(self) -> Any:
        """
        A wrong option value ends twistd with a clear message that names
        the option and what it takes, and exit status 64.
        """
        process = self.start([os.path.join(BIN, "twistd"), "-n", "--pidfile=", "ppsp-tracker", "--max-peers", "zero"])
        process.listening.addErrback(lambda f: None)
        reason = yield process.ended
        self.assertIsInstance(reason, ProcessTerminated)
        self.assertEqual(reason.exitCode, 64)
        self.assertIn(b"Error: --max-peers 'zero': must be a whole number of at least 1", process.output)

    @inlineCallbacks
    def test_usageErrorTwist(self) -> Any:
        """
        C{twist} also exits 64 on a value that the options refuse after
        parsing (here, a peer timeout shorter than the keep-alive interval).
        """
        process = self.start([os.path.join(BIN, "twist"), "ppsp-tracker", "--peer-timeout", "10"])
        process.listening.addErrback(lambda f: None)
        reason = yield process.ended
        self.assertEqual(reason.exitCode, 64)
        self.assertIn(b"--peer-timeout", process.output)

    @inlineCallbacks
    def test_thirdPartySelector(self) -> Any:
        """
        A strategy shipped as C{ppsp/plugins/NAME.py} in another directory
        on the path (as a third party's package installs it) is listed by
        C{--list-selectors}, which exits 0.
        """
        from ppsp.test.test_selection import THIRD_PARTY

        root = FilePath(self.mktemp())
        plugins = root.child("ppsp").child("plugins")
        plugins.makedirs()
        plugins.child("their_strategy.py").setContent(THIRD_PARTY.encode("utf-8"))
        process = TrackerProcess()
        env = environment()
        env["PYTHONPATH"] += os.pathsep + root.path
        argv = [os.path.join(BIN, "twist"), "ppsp-tracker", "--list-selectors"]
        reactor.spawnProcess(process, argv[0], argv, env=env)
        process.listening.addErrback(lambda f: None)
        reason = yield process.ended
        self.assertIsInstance(reason, ProcessDone, process.output)
        self.assertRegex(process.output.decode(), r"(?m)^few +At most N peers\.")
        self.assertRegex(process.output.decode(), r"(?m)^random +Uniformly random peers")

    def _pid(self, process: TrackerProcess) -> int:
        return process.transport.pid  # type: ignore[union-attr,no-any-return]
