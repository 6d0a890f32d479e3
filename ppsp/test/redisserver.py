"""
A real redis-server for the tests of the Redis store, and a reactor of
the tests' own to talk to it.

L{startRedis} starts Debian's C{redis-server} for one test on a free port
of 127.0.0.1 (found by binding port 0), without persistence, and stops it
when the test ends.  Without C{redis-server} (or without the C{redis}
extra's txredisapi and hiredis) the test is skipped on a developer's
machine, and fails where the environment says C{CI}: CI must run these
tests (C{.ci/run} installs the server).

L{TestReactor} is a reactor that only these tests use: never the global
one, never run, only turned by L{TestReactor.runUntil} until a Deferred
has fired, with a bounded wait that fails the test loudly.  That is how
the store contract suite, written for a L{SynchronousTestCase} whose
C{settle} must leave the store's answers in, runs against a server that
answers over a socket.
"""

from __future__ import annotations

import importlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
from typing import Any, List, Optional, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.selectreactor import SelectReactor
from twisted.trial.unittest import SkipTest, SynchronousTestCase

__all__ = ["RedisServer", "Monitor", "TestReactor", "startRedis", "testReactor"]

T = TypeVar("T")

#: The longest wait, in seconds, for the server to start or for the
#: store's answers to come in, before the test fails.
WAIT = 15.0


def _unavailable(testCase: SynchronousTestCase, reason: str) -> None:
    """
    Skip the test for C{reason}, or fail it in CI.
    """
    if os.environ.get("CI"):
        testCase.fail(f"{reason}, and CI must run the Redis store's tests")
    raise SkipTest(reason)


def _freePort() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """
    A C{redis-server} process that listens on 127.0.0.1.

    @ivar port: its TCP port.
    @ivar url: a C{redis://} URL of its database 0.
    @ivar unixSocket: the path of its Unix socket, or L{None}.
    """

    def __init__(self, binary: str, extra: List[str], unixSocket: Optional[str]) -> None:
        self.unixSocket = unixSocket
        self.port = 0
        self._process: Optional["subprocess.Popen[bytes]"] = None
        self._args: List[str] = []
        for _ in range(5):
            self.port = _freePort()
            args = [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--loglevel", "notice",
                "--logfile", "",
            ]
            if unixSocket is not None:
                args += ["--unixsocket", unixSocket, "--unixsocketperm", "700"]
            if self._start(args + extra):
                self._args = args + extra
                break
        else:
            raise RuntimeError("redis-server did not start on any of five free ports")
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def _start(self, args: List[str]) -> bool:
        """
        Start the server and wait until it says it accepts connections.

        @return: whether it does (else it exited: its port was taken).
        """
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert process.stdout is not None
        output = b""
        deadline = time.monotonic() + WAIT
        while b"Ready to accept connections" not in output:
            left = deadline - time.monotonic()
            if left <= 0:
                process.kill()
                process.wait()
                raise RuntimeError(f"redis-server did not start: {output[-2000:]!r}")
            readable, _, _ = select.select([process.stdout], [], [], left)
            chunk = os.read(process.stdout.fileno(), 65536) if readable else b""
            if readable and not chunk:
                process.wait()
                return False
            output += chunk
        self._process = process
        return True

    def stop(self) -> None:
        """
        Kill the server (it keeps nothing on disk) and wait for it.
        """
        process = self._process
        if process is not None:
            self._process = None
            process.kill()
            process.wait()
            assert process.stdout is not None
            process.stdout.close()

    def start(self) -> None:
        """
        Start the server again, on the same port, after L{stop}: it is
        empty (it keeps nothing on disk).
        """
        assert self._process is None, "the server runs already"
        if not self._start(self._args):
            raise RuntimeError(f"redis-server did not start again on port {self.port}")

    def pause(self) -> None:
        """
        Stop the server's process (C{SIGSTOP}): it keeps its connections
        and accepts new ones, but answers nothing, as a server that is
        too slow.
        """
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """
        Let a paused server go on (C{SIGCONT}).
        """
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)


class Monitor:
    """
    A connection that watches every command a server runs (C{MONITOR}),
    to count the round trips of a client: the commands that clients sent,
    not those that scripts ran.
    """

    _SCRIPTED = re.compile(r"^\+[0-9.]+ \[\d+ lua\]")

    def __init__(self, server: RedisServer) -> None:
        self._socket = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
        self._buffer = b""
        self._socket.sendall(b"MONITOR\r\n")
        self._line()

    def close(self) -> None:
        self._socket.close()

    def _line(self) -> str:
        while b"\r\n" not in self._buffer:
            chunk = self._socket.recv(65536)
            if not chunk:
                raise AssertionError("the server closed the MONITOR connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def sentUntil(self, marker: str) -> List[str]:
        """
        The commands clients sent (their names) until one that carries
        C{marker}, which is not counted.
        """
        sent: List[str] = []
        while True:
            line = self._line()
            if marker in line:
                return sent
            if not self._SCRIPTED.match(line):
                sent.append(line.split('"')[1])


def startRedis(
    testCase: SynchronousTestCase,
    extra: List[str] = [],
    unixSocket: Optional[str] = None,
) -> RedisServer:
    """
    Start a C{redis-server} for C{testCase}, stopped when it ends; skip the
    test (or fail it in CI) without the server or the C{redis} extra.

    @param extra: more arguments for the server (C{--requirepass}...).
    @param unixSocket: a path where the server also listens, or L{None}.
    """
    try:
        for module in ("hiredis", "txredisapi"):
            importlib.import_module(module)
    except ImportError as e:
        _unavailable(testCase, f"the redis extra is not installed ({e})")
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable(testCase, "redis-server is not installed (Debian: apt-get install redis-server)")
    assert binary is not None
    server = RedisServer(binary, extra, unixSocket)
    testCase.addCleanup(server.stop)
    return server


class TestReactor(SelectReactor):
    """
    A reactor for the tests of the Redis store: turned by hand, never run.
    """

    def runUntil(self, d: "Deferred[T]", what: str = "the store's answers") -> None:
        """
        Turn this reactor until C{d} has fired.

        @raise AssertionError: it has not fired after L{WAIT} seconds.
        """
        fired: List[bool] = []

        def done(result: T) -> T:
            fired.append(True)
            return result

        d.addBoth(done)
        deadline = time.monotonic() + WAIT
        while not fired:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not come within {WAIT} seconds")
            self.iterate(0.01)

    def clean(self) -> List[Any]:
        """
        Run what is due now, then remove every connection and timed call
        a test left, and say which they were (a test must leave none).
        """
        for _ in range(3):
            self.iterate(0)
        left: List[Any] = list(self.removeAll())
        for call in self.getDelayedCalls():
            if call.active():
                call.cancel()
                left.append(call)
        return left


_reactor: Optional[TestReactor] = None


def testReactor() -> TestReactor:
    """
    The one L{TestReactor} of this process (made on first use, so that a
    process that runs no Redis test makes none).
    """
    global _reactor
    if _reactor is None:
        _reactor = TestReactor()
    return _reactor
