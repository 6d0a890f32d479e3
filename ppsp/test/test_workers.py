"""
Tests for C{twistd ppsp-tracker --workers N} (L{ppsp.tracker._workers}):
the role a worker is given, the reactor that adopts its inherited
socket, the parent's sockets, the supervisor's restarts and stop, the
relay of the workers' logs, the usage errors, and the whole of it run
with a real redis-server.
"""

from __future__ import annotations

import errno
import importlib
import os
import re
import signal
import socket
import subprocess
from typing import Any, Dict, List, Optional, Sequence, cast

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ServerEndpoint, UNIXServerEndpoint
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol
from twisted.internet.ssl import CertificateOptions
from twisted.internet.testing import MemoryReactorClock
from twisted.internet.threads import deferToThread
from twisted.logger import (
    ILogObserver,
    Logger,
    LogLevel,
    eventAsJSON,
    formatEvent,
    formatEventAsClassicLogText,
)
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from ppsp.test.doccommands import Commands, DocumentedCommand, blockAfter, runsDocumented, unshown
from ppsp.test.redisserver import startRedis, testReactor
from ppsp.test.test_doccommands import connectRequest, exchange
from ppsp.test.test_twistd import BIN, environment
from ppsp.tracker import tap
from ppsp.tracker._workers import (
    ADMIN_FD,
    LISTEN_FD,
    MAX_LINE,
    AdoptingReactor,
    HandedOverEndpoint,
    ParentWatch,
    WorkerCommand,
    WorkerLog,
    WorkerRole,
    WorkerSupervisor,
    unshareable,
    workersService,
)
from ppsp.tracker.drain import StopOnSIGTERM
from ppsp.tracker.listening import listeningEndpoint
from ppsp.tracker.resource import TrackerSite


def requireRedisExtra() -> None:
    """
    Skip the test without the C{redis} extra (C{--store redis://...} is
    refused without it), or fail it in CI, which installs it.
    """
    try:
        for module in ("hiredis", "txredisapi"):
            importlib.import_module(module)
    except ImportError as e:
        if os.environ.get("CI"):
            raise AssertionError(f"CI must install the redis extra: {e}")
        raise SkipTest(f"the redis extra is not installed ({e})")


def observing(events: List[Dict[str, Any]]) -> ILogObserver:
    """
    An observer that keeps the events it is given in C{events}.
    """
    return cast(ILogObserver, events.append)


def trackerOptions(*argv: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(argv))
    return options


class FakeProcess:
    """
    A process that a L{FakeProcessReactor} started: what it was started
    with, and the signals it got.
    """

    def __init__(
        self,
        pid: int,
        protocol: ProcessProtocol,
        executable: str,
        args: List[str],
        env: Dict[str, str],
        childFDs: Dict[int, Any],
    ) -> None:
        self.pid: Optional[int] = pid
        self.protocol = protocol
        self.executable = executable
        self.args = args
        self.env = env
        self.childFDs = childFDs
        self.signals: List[str] = []

    def signalProcess(self, name: str) -> None:
        if self.pid is None:
            raise ProcessExitedAlready()
        self.signals.append(name)

    def end(self, exitCode: Optional[int] = 0, signal: Optional[int] = None) -> None:
        """
        End the process, as the reactor reports it.
        """
        self.pid = None
        reason = ProcessDone(0) if exitCode == 0 and signal is None else ProcessTerminated(exitCode, signal)
        self.protocol.processEnded(Failure(reason))


class FakeProcessReactor(MemoryReactorClock):
    """
    A memory reactor whose C{spawnProcess} starts L{FakeProcess}es (or
    raises C{refusal} when set).
    """

    def __init__(self) -> None:
        super().__init__()
        self.spawned: List[FakeProcess] = []
        self.refusal: Optional[OSError] = None
        self._nextPID = 100

    def spawnProcess(
        self,
        processProtocol: ProcessProtocol,
        executable: str,
        args: Sequence[str] = (),
        env: Optional[Dict[str, str]] = None,
        path: Optional[str] = None,
        uid: Optional[int] = None,
        gid: Optional[int] = None,
        usePTY: bool = False,
        childFDs: Optional[Dict[int, Any]] = None,
    ) -> FakeProcess:
        if self.refusal is not None:
            raise self.refusal
        process = FakeProcess(self._nextPID, processProtocol, executable, list(args), dict(env or {}), dict(childFDs or {}))
        self._nextPID += 1
        self.spawned.append(process)
        processProtocol.makeConnection(process)
        return process

    def alive(self) -> List[FakeProcess]:
        """
        The processes that have not ended.
        """
        return [process for process in self.spawned if process.pid is not None]


def listeningSocket(testCase: SynchronousTestCase, family: int = socket.AF_INET) -> "socket.socket":
    """
    A listening socket (on 127.0.0.1, or at a path of the test's), closed
    after the test.
    """
    sock = socket.socket(family, socket.SOCK_STREAM)
    testCase.addCleanup(sock.close)
    if family == socket.AF_UNIX:
        sock.bind(os.path.join(os.path.abspath(testCase.mktemp())))
    else:
        sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    return sock


def inheritedFD(testCase: SynchronousTestCase, family: int = socket.AF_INET) -> int:
    """
    A copy of a listening socket's descriptor, as a worker inherits it,
    for a test that adopts it (which closes it: a cleanup could close
    another file that got its number since).
    """
    return os.dup(listeningSocket(testCase, family).fileno())


def isClosed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError as e:
        return e.errno == errno.EBADF
    return False


class WorkerRoleTests(SynchronousTestCase):
    """
    L{WorkerRole}: what the parent tells a worker with C{--worker}.
    """

    def test_roundTrip(self) -> None:
        """
        A role reads back from its text, with or without the admin
        socket.
        """
        for role in (WorkerRole(1, 4242, 3, 4), WorkerRole(2, 4242, 3)):
            self.assertEqual(WorkerRole.fromString(str(role)), role)
        self.assertEqual(str(WorkerRole(1, 4242, 3, 4)), "number=1,parent=4242,listen=3,admin=4")

    def test_refused(self) -> None:
        """
        A text that is not a role is refused: a missing, repeated,
        unknown or non-numeric field, a worker number below 1.
        """
        for text in (
            "", "number=1,parent=2", "number=1,parent=2,listen=3,listen=3", "number=1,parent=2,listen=3,port=4",
            "number=one,parent=2,listen=3", "number=0,parent=2,listen=3", "number=1,parent=-2,listen=3",
        ):
            self.assertRaises(ValueError, WorkerRole.fromString, text)

    def test_option(self) -> None:
        """
        C{--worker} gives the options a C{workerRole}; a worker other than
        worker 1 serves neither the admin interface nor polling, worker 1
        does; a role that does not read is a usage error.
        """
        admin = ["--admin", "tcp:7001:interface=127.0.0.1", "--stat-query-interval", "30"]
        second = trackerOptions("--worker", "number=2,parent=1,listen=3", *admin)
        self.assertEqual(second["workerRole"], WorkerRole(2, 1, 3))
        self.assertEqual((second["admin"], second["stat-query-interval"]), (None, 0))
        first = trackerOptions("--worker", "number=1,parent=1,listen=3,admin=4", *admin)
        self.assertEqual((first["admin"], first["stat-query-interval"]), ("tcp:7001:interface=127.0.0.1", 30))
        self.assertIsNone(trackerOptions()["workerRole"])
        e = self.assertRaises(usage.UsageError, trackerOptions, "--worker", "7")
        self.assertIn("--worker '7': give number=N,parent=PID,listen=FD[,admin=FD]", str(e))


class UsageTests(SynchronousTestCase):
    """
    C{--workers}: the values and combinations refused before anything
    starts.
    """

    def test_default(self) -> None:
        """
        Without C{--workers} the tracker serves in its own process.
        """
        self.assertEqual(trackerOptions()["workers"], 1)

    def test_zero(self) -> None:
        """
        C{--workers 0} is a usage error.
        """
        e = self.assertRaises(usage.UsageError, trackerOptions, "--workers", "0")
        self.assertEqual(str(e), "--workers '0': must be a whole number of at least 1")

    def test_memoryStore(self) -> None:
        """
        More than one worker with the memory store is a usage error that
        says why and what to give.
        """
        e = self.assertRaises(usage.UsageError, trackerOptions, "--workers", "2")
        self.assertIn("--workers 2 needs a store that the workers share", str(e))
        self.assertIn("a peer registered through one worker would be unknown to the others", str(e))
        self.assertIn("give --store redis://", str(e))

    def test_endpointTypes(self) -> None:
        """
        The parent can hand over the sockets of C{tcp}, C{tcp6}, C{ssl},
        C{mtls} and C{unix} endpoints, behind C{haproxy:} or not; any
        other type, for C{--listen} or C{--admin}, is a usage error that
        names it.
        """
        requireRedisExtra()
        store = ["--store", "redis://127.0.0.1:6379/0", "--workers", "2"]
        path = os.path.abspath(self.mktemp())
        for listen in ("tcp:7000", "tcp6:7000", f"unix:{path}", "haproxy:tcp:7000:interface=127.0.0.1"):
            self.assertEqual(trackerOptions(*store, "--listen", listen)["workers"], 2)
        e = self.assertRaises(usage.UsageError, trackerOptions, *store, "--listen", "stdio:")
        self.assertIn("--workers: the parent opens --listen and hands its socket to the workers", str(e))
        self.assertIn("tcp, tcp6, ssl, mtls, unix (behind haproxy: or not), not 'stdio'", str(e))
        e = self.assertRaises(usage.UsageError, trackerOptions, *store, "--admin", "stdio:", "--admin-auth", "memory:a:b")
        self.assertIn("--workers: the parent opens --admin and hands its socket to the workers", str(e))
        self.assertEqual(unshareable("systemd:domain=INET:index=0"), "systemd")
        self.assertEqual(unshareable("haproxy:unix:/run/ppsp.sock"), None)

    def test_exitStatus(self) -> None:
        """
        Under twistd, C{--workers 2} with the memory store exits with
        status 64 and the reason, before it listens or starts anything.
        """
        result = subprocess.run(
            [os.path.join(BIN, "twistd"), "-n", "--pidfile=", "ppsp-tracker", "--workers", "2"],
            env=environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 64, result.stderr)
        self.assertIn("Error: --workers 2 needs a store that the workers share", result.stderr)


class AdoptingReactorTests(SynchronousTestCase):
    """
    L{AdoptingReactor}: a worker's listeners adopt the socket it
    inherited instead of binding one.
    """

    def test_listenTCP(self) -> None:
        """
        C{listenTCP} adopts the inherited socket, with its family and the
        factory, whatever port and interface it is given, and closes the
        inherited descriptor; the reactor's other attributes are the
        wrapped reactor's.
        """
        reactor = MemoryReactorClock()
        fd = inheritedFD(self)
        adopting = AdoptingReactor(reactor, fd)
        factory = Factory.forProtocol(Protocol)
        adopting.listenTCP(7000, factory, 50, "192.0.2.1")
        self.assertEqual(reactor.adoptedPorts, [(fd, socket.AF_INET, factory)])
        self.assertEqual(reactor.tcpServers, [])
        self.assertTrue(isClosed(fd))
        reactor.advance(5)
        self.assertEqual(adopting.seconds(), 5)

    def test_once(self) -> None:
        """
        The socket is adopted once: a second listener is refused.
        """
        adopting = AdoptingReactor(MemoryReactorClock(), inheritedFD(self))
        adopting.listenTCP(7000, Factory.forProtocol(Protocol))
        self.assertRaises(ValueError, adopting.listenTCP, 7000, Factory.forProtocol(Protocol))

    def test_listenSSL(self) -> None:
        """
        C{listenSSL} adopts the socket with TLS around the factory, with
        the TLS settings it is given.
        """
        reactor = MemoryReactorClock()
        fd = inheritedFD(self)
        factory = Factory.forProtocol(Protocol)
        AdoptingReactor(reactor, fd).listenSSL(7443, factory, CertificateOptions())
        [(adopted, family, tls)] = reactor.adoptedPorts
        self.assertEqual((adopted, family), (fd, socket.AF_INET))
        assert isinstance(tls, TLSMemoryBIOFactory)
        self.assertIs(tls.wrappedFactory, factory)

    def test_endpoints(self) -> None:
        """
        The endpoints the tracker listens with adopt the socket through
        the reactor: C{tcp}, and C{haproxy:} around it.
        """
        for description in ("tcp:7000:interface=127.0.0.1", "haproxy:tcp:7000"):
            reactor = MemoryReactorClock()
            fd = inheritedFD(self)
            listened = listeningEndpoint(AdoptingReactor(reactor, fd), description).listen(
                Factory.forProtocol(Protocol)
            )
            self.successResultOf(listened)
            self.assertEqual([(f, family) for f, family, _ in reactor.adoptedPorts], [(fd, socket.AF_INET)])

    def test_unix(self) -> None:
        """
        C{listenUNIX} adopts an inherited UNIX socket, which then listens
        at its path.
        """
        reactor = testReactor()
        self.addCleanup(lambda: self.assertEqual(reactor.clean(), []))
        sock = listeningSocket(self, socket.AF_UNIX)
        port = AdoptingReactor(reactor, os.dup(sock.fileno())).listenUNIX(
            "/elsewhere", Factory.forProtocol(Protocol)
        )
        self.addCleanup(lambda: reactor.runUntil(Deferred.fromCoroutine(_stopped(port))))
        self.assertEqual(os.fsdecode(port.getHost().name), sock.getsockname())  # type: ignore[attr-defined]


async def _stopped(port: Any) -> None:
    await port.stopListening()


class WorkerModeTests(SynchronousTestCase):
    """
    A worker (C{--worker}) built by L{tap.makeService}: it listens on
    the sockets it inherited and watches its parent.
    """

    def started(self, reactor: MemoryReactorClock, role: str, *argv: str) -> Any:
        """
        The service of a worker with the role C{role}, an admin interface,
        the further arguments C{argv} and C{reactor}, started (and stopped
        after the test).
        """
        options = trackerOptions(
            "--listen", "tcp:7000:interface=127.0.0.1", "--admin", "tcp:7001:interface=127.0.0.1",
            "--worker", role, *argv,
        )
        service = tap.makeService(options, reactor)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        return service

    def test_adopts(self) -> None:
        """
        Worker 2 adopts the C{--listen} socket it inherited, binds
        nothing, serves no admin interface even when C{--admin} is given,
        and stops when its parent is gone.
        """
        reactor = MemoryReactorClock()
        fd = inheritedFD(self)
        service = self.started(reactor, f"number=2,parent={os.getppid()},listen={fd}")
        self.assertEqual([(f, family) for f, family, _ in reactor.adoptedPorts], [(fd, socket.AF_INET)])
        self.assertEqual((reactor.tcpServers, reactor.unixServers), ([], []))
        [watch] = [child for child in service if isinstance(child, ParentWatch)]
        self.assertEqual(watch.parentProcess, os.getppid())

    def test_adminOfWorker1(self) -> None:
        """
        Worker 1 adopts the C{--admin} socket it inherited as well.
        """
        reactor = MemoryReactorClock()
        listen, admin = inheritedFD(self), inheritedFD(self)
        self.started(reactor, f"number=1,parent={os.getppid()},listen={listen},admin={admin}")
        self.assertEqual(sorted(f for f, _, _ in reactor.adoptedPorts), sorted([listen, admin]))
        self.assertEqual(reactor.tcpServers, [])


    def test_throttleShare(self) -> None:
        """
        A worker of C{--workers 4} throttles each address at a quarter of
        C{--rate-limit} and of C{--rate-burst}: the four together allow
        an address what a single tracker would.
        """
        requireRedisExtra()
        reactor = MemoryReactorClock()
        fd = inheritedFD(self)
        service = self.started(
            reactor, f"number=2,parent={os.getppid()},listen={fd}",
            "--workers", "4", "--store", "redis://127.0.0.1:6379/0",
            "--rate-limit", "20", "--rate-burst", "60",
        )
        [site] = [child.factory for child in service if isinstance(getattr(child, "factory", None), TrackerSite)]
        throttle = site.resource.throttle
        self.assertEqual((throttle.rate, throttle.burst), (5.0, 15.0))


class ThreadedClock(MemoryReactorClock):
    """
    A memory reactor whose C{callFromThread} calls at its next turn.
    """

    def callFromThread(self, f: Any, *args: Any, **kwargs: Any) -> None:
        self.callLater(0, f, *args, **kwargs)


class StopOnSIGTERMTests(SynchronousTestCase):
    """
    L{StopOnSIGTERM}, with which the parent (as a single tracker) exits
    with status 0 after SIGTERM.
    """

    def setUp(self) -> None:
        self.previous = signal.getsignal(signal.SIGTERM)
        self.addCleanup(signal.signal, signal.SIGTERM, self.previous)
        self.reactor = ThreadedClock()
        self.stop = StopOnSIGTERM(self.reactor)

    def reactorRuns(self) -> None:
        for f, args, kwargs in self.reactor.whenRunningHooks:
            f(*args, **kwargs)

    def test_stops(self) -> None:
        """
        Once the reactor runs, SIGTERM stops it, in the reactor's thread
        (not in the handler, and so not by the reactor's own handler,
        after which twistd would end by the signal again); the previous
        handler is given back.
        """
        self.stop.take()
        self.assertIs(signal.getsignal(signal.SIGTERM), self.previous)
        self.reactorRuns()
        handler = cast(Any, signal.getsignal(signal.SIGTERM))
        self.assertIsNot(handler, self.previous)
        handler(signal.SIGTERM, None)
        self.assertFalse(self.reactor.hasStopped)
        self.reactor.advance(0)
        self.assertTrue(self.reactor.hasStopped)
        self.stop.giveBack()
        self.assertIs(signal.getsignal(signal.SIGTERM), self.previous)

    def test_givenBackFirst(self) -> None:
        """
        Given back before the reactor runs, the signal is never taken.
        """
        self.stop.take()
        self.stop.giveBack()
        self.reactorRuns()
        self.assertIs(signal.getsignal(signal.SIGTERM), self.previous)


class ParentWatchTests(SynchronousTestCase):
    """
    L{ParentWatch}: a worker whose parent is gone stops.
    """

    def test_parentGone(self) -> None:
        """
        While the parent process ID is the one given, nothing happens;
        within a second of its change, the reactor is stopped, once, and
        a warning names both.
        """
        reactor = MemoryReactorClock()
        parent = [4242]
        events: List[Dict[str, Any]] = []
        watch = ParentWatch(reactor, 4242, getppid=lambda: parent[0])
        watch.log = Logger(observer=observing(events))
        watch.startService()
        reactor.advance(10)
        self.assertFalse(reactor.hasStopped)
        parent[0] = 1
        reactor.advance(1)
        self.assertTrue(reactor.hasStopped)
        self.assertEqual(
            [formatEvent(e) for e in events],
            ["the parent process 4242 is gone (the parent is now 1): stopping"],
        )
        reactor.advance(10)
        self.assertEqual(len(events), 1)
        watch.stopService()


def record(event: Dict[str, Any]) -> bytes:
    """
    A log event as C{twist --log-format json} writes it.
    """
    return ("\x1e" + eventAsJSON(event) + "\n").encode("utf-8")


class WorkerLogTests(SynchronousTestCase):
    """
    L{WorkerLog}: a worker's output in the parent's log.
    """

    def setUp(self) -> None:
        self.emitted: List[Dict[str, Any]] = []
        self.warnings: List[Dict[str, Any]] = []
        self.output = WorkerLog(2, observing(self.emitted))
        self.output.log = Logger(observer=observing(self.warnings))

    def test_records(self) -> None:
        """
        A record, whatever the chunks it comes in, is the worker's event
        again, with its number: a C{worker} field, and the text log's
        bracket names it before the logger.
        """

        def event(who: str) -> Dict[str, Any]:
            return {
                "log_level": LogLevel.info,
                "log_namespace": "ppsp.tracker.core.Tracker",
                "log_format": "hello {who}",
                "who": who,
                "log_time": 1767225600.0,
            }

        data = record(event("you")) + record(event("again"))
        self.output.received(1, data[:20])
        self.assertEqual(self.emitted, [])
        self.output.received(1, data[20:])
        self.assertEqual([formatEvent(e) for e in self.emitted], ["hello you", "hello again"])
        first = self.emitted[0]
        self.assertEqual((first["worker"], first["log_level"], first["log_time"]), (2, LogLevel.info, 1767225600.0))
        self.assertIn("[worker 2: ppsp.tracker.core.Tracker#info] hello you", formatEventAsClassicLogText(first) or "")
        self.assertEqual(self.warnings, [])

    def test_failure(self) -> None:
        """
        An event with a failure keeps its traceback.
        """
        try:
            1 / 0
        except ZeroDivisionError:
            failure = Failure()
        event = {"log_level": LogLevel.critical, "log_namespace": "x", "log_format": "boom", "log_failure": failure, "log_time": 1.0}
        self.output.received(1, record(event))
        [emitted] = self.emitted
        self.assertIn("ZeroDivisionError", formatEventAsClassicLogText(emitted) or "")

    def test_otherLines(self) -> None:
        """
        Each line of standard error, and a line of standard output that
        is not a record, is a warning naming the worker; an unfinished
        line is logged when the worker ends.
        """
        self.output.received(2, b"Traceback (most recent call last):\n  File")
        self.output.received(1, b"not a record\n\x1e{\"log_level\": 5}\n")
        self.output.received(2, b' "x"\n')
        self.output.received(2, b"cut short")
        self.output.ended()
        self.assertEqual(
            [formatEvent(e) for e in self.warnings],
            [
                "worker 2: Traceback (most recent call last):",
                "worker 2: not a record",
                'worker 2: \x1e{"log_level": 5}',
                'worker 2:   File "x"',
                "worker 2: cut short",
            ],
        )
        self.assertEqual(self.emitted, [])


    def test_longLine(self) -> None:
        """
        A line longer than L{MAX_LINE} is logged cut there, once; the rest
        of it is dropped, and the next line is logged.
        """
        self.output.received(2, b"x" * (MAX_LINE + 10))
        self.output.received(2, b"x" * 10)
        self.output.received(2, b"yyy\nnext\n")
        self.assertEqual([formatEvent(e) for e in self.warnings], ["worker 2: " + "x" * MAX_LINE, "worker 2: next"])


def command(number: int) -> WorkerCommand:
    return WorkerCommand("/usr/bin/python3", ["python3", f"worker-{number}"], {"HOME": "/"}, {0: "w", 1: "r", 2: "r", 3: 10 + number})


class SupervisorTests(SynchronousTestCase):
    """
    L{WorkerSupervisor}: the workers are kept running, and stopped.
    """

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.logged: List[Dict[str, Any]] = []
        self.supervisor = WorkerSupervisor(
            self.reactor, 2, command, policy=lambda attempt: 2.0**attempt, stableAfter=10.0, killTimeout=20.0
        )
        self.supervisor.log = Logger(observer=observing(self.logged))

    def lines(self) -> List[str]:
        return [formatEvent(e) for e in self.logged]

    def test_start(self) -> None:
        """
        Each worker is started with its command.
        """
        self.supervisor.startService()
        self.assertEqual(
            [(p.executable, p.args, p.env, p.childFDs) for p in self.reactor.spawned],
            [("/usr/bin/python3", ["python3", f"worker-{n}"], {"HOME": "/"}, {0: "w", 1: "r", 2: "r", 3: 10 + n}) for n in (1, 2)],
        )
        self.assertEqual(self.lines(), ["worker 1 started (process 100)", "worker 2 started (process 101)"])

    def test_restartWithBackoff(self) -> None:
        """
        A worker that ends is started again after the policy's delay for
        the number of its ends in a row within C{stableAfter} seconds of
        its start; after a stable run the delay starts over.
        """
        self.supervisor.startService()
        self.reactor.spawned[0].end(None, signal.SIGKILL)
        self.assertIn("worker 1 ended after 0.0 s: killed by signal 9 (SIGKILL); starting it again in 1.0 s", self.lines())
        for delay in (1.0, 2.0, 4.0):
            count = len(self.reactor.spawned)
            self.reactor.advance(delay - 0.01)
            self.assertEqual(len(self.reactor.spawned), count)
            self.reactor.advance(0.01)
            self.assertEqual(self.reactor.spawned[-1].args[-1], "worker-1")
            self.reactor.advance(1)
            self.reactor.spawned[-1].end(1)
        self.assertIn("worker 1 ended after 1.0 s: exited with status 1; starting it again in 8.0 s", self.lines())
        self.reactor.advance(8)
        self.reactor.advance(10)
        self.reactor.spawned[-1].end(0)
        self.assertIn("worker 1 ended after 10.0 s: exited with status 0; starting it again in 1.0 s", self.lines())
        self.assertEqual(len(self.reactor.alive()), 1)
        self.reactor.advance(1)
        self.assertEqual(sorted(p.args[-1] for p in self.reactor.alive()), ["worker-1", "worker-2"])

    def test_stop(self) -> None:
        """
        A stop sends SIGTERM to each worker and fires once every one has
        ended; none is started again.
        """
        self.supervisor.startService()
        stopped = self.supervisor.stopService()
        self.assertEqual([p.signals for p in self.reactor.spawned], [["TERM"], ["TERM"]])
        self.reactor.spawned[0].end(0)
        self.assertNoResult(stopped)
        self.reactor.spawned[1].end(None, signal.SIGTERM)
        self.successResultOf(stopped)
        self.reactor.advance(100)
        self.assertEqual(len(self.reactor.spawned), 2)
        self.assertIn("worker 1 stopped: exited with status 0", self.lines())
        self.assertEqual(self.lines()[-1], "every worker stopped")
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_kill(self) -> None:
        """
        The workers still running C{killTimeout} seconds after the stop
        get SIGKILL.
        """
        self.supervisor.startService()
        stopped = self.supervisor.stopService()
        self.reactor.spawned[0].end(0)
        self.reactor.advance(19.9)
        self.assertEqual([p.signals for p in self.reactor.spawned], [["TERM"], ["TERM"]])
        self.reactor.advance(0.1)
        self.assertEqual(self.reactor.spawned[1].signals, ["TERM", "KILL"])
        self.assertIn("worker 2 did not stop within 20.0 s: SIGKILL", self.lines())
        self.reactor.spawned[1].end(None, signal.SIGKILL)
        self.successResultOf(stopped)

    def test_stopCancelsRestart(self) -> None:
        """
        A worker waiting to be started again is not, once the service
        stops.
        """
        self.supervisor.startService()
        self.reactor.spawned[0].end(1)
        stopped = self.supervisor.stopService()
        self.reactor.spawned[1].end(0)
        self.successResultOf(stopped)
        self.reactor.advance(100)
        self.assertEqual(len(self.reactor.spawned), 2)

    def test_reload(self) -> None:
        """
        A reload passes SIGHUP on to every running worker.
        """
        self.supervisor.startService()
        self.reactor.spawned[1].end(1)
        self.assertTrue(self.successResultOf(self.supervisor.reload()))
        self.assertEqual([p.signals for p in self.reactor.spawned], [["HUP"], []])

    def test_cannotStart(self) -> None:
        """
        A worker that cannot be started is tried again, with the same
        delays as one that ended.
        """
        self.reactor.refusal = OSError(errno.EAGAIN, "Resource temporarily unavailable")
        self.supervisor.startService()
        self.assertIn("cannot start worker 1: [Errno 11] Resource temporarily unavailable", self.lines())
        self.reactor.refusal = None
        self.reactor.advance(1)
        self.assertEqual(sorted(p.args[-1] for p in self.reactor.alive()), ["worker-1", "worker-2"])


class ParentTests(SynchronousTestCase):
    """
    L{workersService}: the parent listens, hands the sockets to its
    workers and never accepts a connection itself.
    """

    def test_parent(self) -> None:
        """
        The parent listens on each endpoint, accepts nothing, starts each
        worker with the parent's arguments and C{--worker}, the
        C{--listen} socket as its descriptor 3 and, for worker 1 only,
        the C{--admin} socket as its descriptor 4; its stop closes the
        sockets and stops the workers.
        """
        real = testReactor()
        self.addCleanup(lambda: self.assertEqual(real.clean(), []))
        fake = FakeProcessReactor()
        path = os.path.abspath(self.mktemp())
        endpoints: Dict[str, Any] = {
            "--listen": (TCP4ServerEndpoint(real, 0, interface="127.0.0.1"), "tcp:0:interface=127.0.0.1"),
            "--admin": (UNIXServerEndpoint(real, path), f"unix:{path}"),
        }
        service = workersService(
            fake, 2, endpoints, ["--store", "redis://127.0.0.1/0"], {"HOME": "/"}, killTimeout=30.0,
            executable="/usr/bin/python3",
        )
        service.startService()
        first, second = fake.spawned
        self.assertEqual(first.args[:2], ["/usr/bin/python3", "-m"])
        self.assertEqual(
            first.args[first.args.index("ppsp-tracker"):],
            ["ppsp-tracker", "--store", "redis://127.0.0.1/0", "--log-format", "text",
             "--worker", f"number=1,parent={os.getpid()},listen={LISTEN_FD},admin={ADMIN_FD}"],
        )
        self.assertEqual(second.args[-1], f"number=2,parent={os.getpid()},listen={LISTEN_FD}")
        self.assertEqual(sorted(first.childFDs), [0, 1, 2, LISTEN_FD, ADMIN_FD])
        self.assertEqual(sorted(second.childFDs), [0, 1, 2, LISTEN_FD])
        self.assertEqual(first.env, {"HOME": "/"})
        listen = socket.socket(fileno=os.dup(first.childFDs[LISTEN_FD]))
        self.addCleanup(listen.close)
        address = listen.getsockname()
        with socket.socket(fileno=os.dup(first.childFDs[ADMIN_FD])) as admin:
            self.assertEqual(admin.getsockname(), path)
        self.assertEqual(second.childFDs[LISTEN_FD], first.childFDs[LISTEN_FD])
        # The parent's sockets are not read: the workers accept.
        readers = [reader.fileno() for reader in real.getReaders()]
        self.assertNotIn(first.childFDs[LISTEN_FD], readers)
        self.assertNotIn(first.childFDs[ADMIN_FD], readers)

        stopped = service.stopService()
        self.assertEqual([p.signals for p in fake.spawned], [["TERM"], ["TERM"]])
        real.iterate(0)
        listen.close()
        with socket.socket() as client:
            self.assertEqual(client.connect_ex(address), errno.ECONNREFUSED)
        self.assertFalse(os.path.exists(path))
        first.end(0)
        second.end(0)
        real.runUntil(stopped)

    def test_handedOver(self) -> None:
        """
        L{HandedOverEndpoint} is an endpoint whose port listens without
        accepting, and gives its socket's descriptor.
        """
        real = testReactor()
        self.addCleanup(lambda: self.assertEqual(real.clean(), []))
        endpoint = HandedOverEndpoint(TCP4ServerEndpoint(real, 0, interface="127.0.0.1"))
        verifyObject(IStreamServerEndpoint, endpoint)
        port = self.successResultOf(endpoint.listen(Factory.forProtocol(Protocol)))
        self.assertIs(endpoint.port, port)
        with socket.socket(fileno=os.dup(endpoint.fileno())) as sock:
            self.assertEqual(sock.getsockname()[1], port.getHost().port)  # type: ignore[attr-defined]
        self.assertNotIn(endpoint.fileno(), [reader.fileno() for reader in real.getReaders()])
        real.runUntil(Deferred.fromCoroutine(_stopped(port)))


class EndToEndTests(TestCase):
    """
    C{docs/running.rst}'s command, run as written: one twistd, two worker
    processes on one port and a real redis-server.
    """

    timeout = 240

    @runsDocumented(
        "docs/running.rst",
        "twistd -n ppsp-tracker --listen tcp:7000 --store redis://127.0.0.1:6379/0 --workers 2 --access-log -",
    )
    @inlineCallbacks
    def test_workers(self, command: DocumentedCommand) -> Any:
        """
        Both workers answer requests on the one port (their access lines
        in the parent's log say which answered); a worker killed with
        SIGKILL is started again while the port keeps answering, and
        answers in turn; SIGTERM to the parent stops every process, with
        status 0; the log shows what the docs show.
        """
        server = startRedis(self)
        run = Commands(self, ports=[7000], placeholders={"redis://127.0.0.1:6379/0": server.url})
        process = run.start(command)
        port = run.ports[7000]
        for number in (1, 2):
            yield process.waitFor(rb"\[worker %d: [^\]]*\] PPSP tracker listening on " % (number,), timeout=60)
        pids = {int(n): int(pid) for n, pid in re.findall(rb"worker (\d) started \(process (\d+)\)", process.output)}
        self.assertEqual(sorted(pids), [1, 2])
        answer = rb'\[worker (\d): [^\]]*\] "127\.0\.0\.1" [^\n]* 200 '

        @inlineCallbacks
        def request(peer: str) -> Any:
            # One request on a connection of its own, answered, and its
            # access line in the log: fire with the worker that answered.
            since = len(process.output)
            reply = yield deferToThread(exchange, port, connectRequest(peer))
            self.assertTrue(reply.startswith(b"HTTP/1.1 200 "), reply)
            line = yield process.waitFor(answer, start=since)
            return int(line.group(1))

        @inlineCallbacks
        def untilAnswered(numbers: Sequence[int]) -> Any:
            # Requests until each of the workers has answered one.
            waiting = set(numbers)
            for attempt in range(300):
                waiting.discard((yield request(f"peer-{attempt}")))
                if not waiting:
                    return
            self.fail(f"workers {sorted(waiting)} answered none of 300 requests:\n{process.text}")

        yield untilAnswered([1, 2])

        # SIGKILL worker 1: the port keeps answering, and worker 1 comes
        # back and answers.
        killedAt = len(process.output)
        os.kill(pids[1], signal.SIGKILL)
        yield process.waitFor(
            rb"worker 1 ended after [0-9.]+ s: killed by signal 9 \(SIGKILL\); starting it again in 0\.5 s",
            start=killedAt,
            timeout=30,
        )
        for n in range(5):
            yield request(f"meanwhile-{n}")
        restarted = yield process.waitFor(rb"worker 1 started \(process (\d+)\)", start=killedAt, timeout=30)
        self.assertNotEqual(int(restarted.group(1)), pids[1])
        yield process.waitFor(rb"\[worker 1: [^\]]*\] PPSP tracker listening on ", start=restarted.end(), timeout=60)
        yield untilAnswered([1])
        self.assertEqual(unshown(blockAfter(command).text.splitlines(), process.text), [])

        # SIGTERM to the parent (twistd: its PID file is in the working
        # directory) ends every process, with status 0.
        parent = int(run.directory.child("twistd.pid").getContent())
        os.kill(parent, signal.SIGTERM)
        ended = yield process.ended
        self.assertIsInstance(ended, ProcessDone, process.text[-3000:])
        self.assertIn("every worker stopped", process.text)
        for pid in (pids[2], int(restarted.group(1)), parent):
            self.assertRaises(ProcessLookupError, os.kill, pid, 0)
