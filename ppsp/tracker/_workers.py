# -*- test-case-name: ppsp.test.test_workers -*-
"""
C{twistd ppsp-tracker --workers N}: one parent process that opens the
listening sockets and supervises N worker processes that serve them.

The parent (L{workersService}) listens on C{--listen} (and C{--admin})
as a single tracker would, with the same endpoint description, and never
accepts a connection: it hands each socket to its workers as an
inherited file descriptor.  Each worker is a whole tracker, C{twist
ppsp-tracker} run with the parent's own arguments and C{--worker}
(L{WorkerRole}), that adopts the inherited socket instead of binding one
(L{AdoptingReactor}), so that whatever the description wraps around the
socket (TLS, the PROXY protocol) is built in each worker.  The workers
share their state through the Redis store.

The parent (L{WorkerSupervisor}) starts a worker again when it ends,
after a delay that doubles while the worker keeps ending within
L{STABLE_AFTER} seconds of its start; on SIGTERM (or SIGINT) it closes
its own copy of the sockets, sends SIGTERM to each worker, waits for
their graceful stops (each drains as a single tracker does), sends
SIGKILL to those still running after their drain timeout and
L{KILL_GRACE} seconds more, and exits, with status 0 after SIGTERM.
SIGHUP is passed on to every worker.  Each worker's log events come to
the parent's log (L{WorkerLog}) with the worker's number; a worker whose
parent is gone stops by itself (L{ParentWatch}).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from twisted.application.internet import backoffPolicy
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.error import ProcessDone, ProcessExitedAlready, ProcessTerminated
from twisted.internet.interfaces import (
    IDelayedCall,
    IFileDescriptor,
    IListeningPort,
    IProtocolFactory,
    IPushProducer,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol
from twisted.internet.task import LoopingCall
from twisted.logger import ILogObserver, Logger, LogLevel, eventFromJSON, globalLogPublisher
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from ppsp._listen import ListenerService
from ppsp.tracker.drain import StopOnSIGTERM
from ppsp.tracker.listening import splitDescription
from ppsp.tracker.reload import ReloadService
from ppsp.tracker.service import AnnouncingEndpoint

__all__ = [
    "ADMIN_FD",
    "KILL_GRACE",
    "LISTEN_FD",
    "MAX_LINE",
    "PARENT_FORMAT",
    "SHAREABLE_TYPES",
    "STABLE_AFTER",
    "AdoptingReactor",
    "HandedOverEndpoint",
    "ParentWatch",
    "WorkerCommand",
    "WorkerLog",
    "WorkerRole",
    "WorkerSupervisor",
    "restartPolicy",
    "unshareable",
    "workerCommand",
    "workersService",
]

#: The file descriptor of the C{--listen} socket in a worker.
LISTEN_FD = 3

#: The file descriptor of the C{--admin} socket in worker 1.
ADMIN_FD = 4

#: The endpoint types whose socket the parent can hand to its workers
#: (behind C{haproxy:} or not): those that listen with C{listenTCP},
#: C{listenSSL} or C{listenUNIX}.
SHAREABLE_TYPES = ("tcp", "tcp6", "ssl", "mtls", "unix")

#: Seconds a worker must have run for its end to count as a first
#: failure again (the restart delay starts over).
STABLE_AFTER = 10.0

#: Seconds the parent waits, beyond the workers' drain timeout, for them
#: to stop before it sends them SIGKILL.
KILL_GRACE = 10.0

_LEVELS = frozenset(LogLevel.iterconstants())

#: The longest line of a worker's output that the parent logs: a longer
#: one is logged cut there, and the rest of it dropped.
MAX_LINE = 2**20


def restartPolicy() -> Callable[[int], float]:
    """
    The delays before a worker is started again: 0.5 s after its first
    end, then twice as long after each end that follows within
    L{STABLE_AFTER} seconds of its start, up to 30 s.
    """
    return backoffPolicy(initialDelay=0.5, maxDelay=30.0, factor=2.0, jitter=_noJitter)


def _noJitter() -> float:
    return 0.0


def unshareable(description: str) -> Optional[str]:
    """
    The endpoint type of C{description} when the parent cannot hand its
    socket to workers (not one of L{SHAREABLE_TYPES}, behind C{haproxy:}
    or not), else L{None}.
    """
    kind, positional, _ = splitDescription(description)
    if kind == "haproxy":
        kind = positional[0] if positional else ""
    return None if kind in SHAREABLE_TYPES else kind


@dataclass(frozen=True)
class WorkerRole:
    """
    What the parent tells a worker with C{--worker}, as
    C{number=N,parent=PID,listen=FD[,admin=FD]}.

    @ivar number: the worker's number, from 1.
    @ivar parent: the parent's process ID.
    @ivar listen: the file descriptor of the C{--listen} socket.
    @ivar admin: the file descriptor of the C{--admin} socket (worker 1
        only), or L{None}.
    """

    number: int
    parent: int
    listen: int = LISTEN_FD
    admin: Optional[int] = None

    def __str__(self) -> str:
        text = f"number={self.number},parent={self.parent},listen={self.listen}"
        return text if self.admin is None else f"{text},admin={self.admin}"

    @classmethod
    def fromString(cls, text: str) -> "WorkerRole":
        """
        Read a role written by C{str}.

        @raise ValueError: the text is not one.
        """
        fields: Dict[str, int] = {}
        for part in text.split(","):
            name, equals, value = part.partition("=")
            if not equals or name not in ("number", "parent", "listen", "admin") or name in fields:
                raise ValueError("give number=N,parent=PID,listen=FD[,admin=FD]")
            try:
                fields[name] = int(value)
            except ValueError:
                raise ValueError(f"{name} must be a whole number") from None
        if not {"number", "parent", "listen"} <= set(fields):
            raise ValueError("give number=N,parent=PID,listen=FD[,admin=FD]")
        if fields["number"] < 1 or min(fields.values()) < 0:
            raise ValueError("the number starts at 1; process IDs and descriptors are not negative")
        return cls(**fields)


class AdoptingReactor:
    """
    A reactor whose listening methods (C{listenTCP}, C{listenSSL},
    C{listenUNIX}, C{adoptStreamPort}) adopt one inherited listening
    socket, with C{adoptStreamPort}, whatever port, interface or path they
    are given; C{listenSSL} serves TLS over it, as the reactor's own does.
    Every other attribute is the wrapped reactor's.  The socket is adopted
    once, and its inherited descriptor closed (the port keeps a copy).

    @param reactor: the reactor to adopt with
        (C{twisted.internet.interfaces.IReactorSocket}).
    @param fd: the inherited socket's file descriptor.
    """

    def __init__(self, reactor: Any, fd: int) -> None:
        self._reactor = reactor
        self._fd: Optional[int] = fd

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reactor, name)

    def listenTCP(
        self, port: int, factory: IProtocolFactory, backlog: int = 50, interface: str = ""
    ) -> IListeningPort:
        """
        Adopt the socket with C{factory}.
        """
        return self._adopt(factory)

    def listenSSL(
        self,
        port: int,
        factory: IProtocolFactory,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> IListeningPort:
        """
        Adopt the socket with C{factory} behind TLS with C{contextFactory}.
        """
        return self._adopt(TLSMemoryBIOFactory(contextFactory, False, factory))

    def listenUNIX(
        self,
        address: str,
        factory: IProtocolFactory,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: int = 0,
    ) -> IListeningPort:
        """
        Adopt the socket with C{factory}.
        """
        return self._adopt(factory)

    def adoptStreamPort(
        self, fileDescriptor: int, addressFamily: Any, factory: IProtocolFactory
    ) -> IListeningPort:
        """
        Adopt the inherited socket (not C{fileDescriptor}) with C{factory}.
        """
        return self._adopt(factory)

    def _adopt(self, factory: IProtocolFactory) -> IListeningPort:
        fd, self._fd = self._fd, None
        if fd is None:
            raise ValueError("the inherited socket is adopted already")
        try:
            probe = socket.socket(fileno=fd)
            family = probe.family
            probe.detach()
            port: IListeningPort = self._reactor.adoptStreamPort(fd, family, factory)
        finally:
            os.close(fd)
        return port


class ParentWatch(Service):
    """
    Stop a worker whose parent is gone: every second, compare the parent
    process ID with the one the parent gave (an orphan has another one,
    its new parent's), and stop the reactor gracefully when it differs.

    @param reactor: the reactor to stop, and the clock.
    @param parent: the parent's process ID.
    @param getppid: what tells the current parent process ID.
    """

    log = Logger()

    #: Seconds between two checks.
    interval = 1.0

    def __init__(
        self, reactor: Any, parent: int, getppid: Callable[[], int] = os.getppid
    ) -> None:
        self._reactor = reactor
        self.parentProcess = parent
        self._getppid = getppid
        self._loop = LoopingCall(self._check)
        self._loop.clock = reactor

    def startService(self) -> None:
        """
        Check every L{interval} seconds (from one interval on: the
        service starts before the reactor runs under twistd).
        """
        super().startService()
        self._loop.start(self.interval, now=False)

    def stopService(self) -> Any:
        """
        Stop checking.
        """
        if self._loop.running:
            self._loop.stop()
        return super().stopService()

    def _check(self) -> None:
        current = self._getppid()
        if current == self.parentProcess:
            return
        self._loop.stop()
        self.log.warn(
            "the parent process {parent} is gone (the parent is now {current}): stopping",
            parent=self.parentProcess,
            current=current,
        )
        self._reactor.stop()


class WorkerLog:
    """
    A worker's output into the parent's log.  Its standard output carries
    Twisted's JSON log records (C{twist --log-format json}, one a line):
    each is emitted again to C{observer} with the field C{worker} (its
    number) and a C{log_system} that starts with C{worker N:} (the text
    log's bracket: C{[worker 2: ppsp.tracker.core.Tracker#info]}).  Each
    line of its standard error, and a line of its standard output that is
    not a record, is logged as a warning that names the worker.

    @param number: the worker's number.
    @param observer: where the events go (the global log publisher).
    """

    log = Logger()

    def __init__(self, number: int, observer: ILogObserver = globalLogPublisher) -> None:
        self.number = number
        self._observer = observer
        self._buffers: Dict[int, bytes] = {1: b"", 2: b""}
        self._cut: set[int] = set()

    def received(self, childFD: int, data: bytes) -> None:
        """
        Take what the worker wrote on C{childFD} (1 or 2); log its whole
        lines (a line longer than L{MAX_LINE} cut there).
        """
        lines = (self._buffers.get(childFD, b"") + data).split(b"\n")
        rest = lines.pop()
        for line in lines:
            if childFD in self._cut:
                # The end of a line logged cut.
                self._cut.discard(childFD)
            else:
                self._line(childFD, line)
        if len(rest) > MAX_LINE:
            if childFD not in self._cut:
                self._line(childFD, rest[:MAX_LINE])
                self._cut.add(childFD)
            rest = b""
        self._buffers[childFD] = rest

    def ended(self) -> None:
        """
        Log what is left of an unfinished line.
        """
        for childFD, rest in sorted(self._buffers.items()):
            if rest and childFD not in self._cut:
                self._line(childFD, rest)
        self._buffers = {1: b"", 2: b""}
        self._cut.clear()

    def _line(self, childFD: int, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r")
        if childFD == 1:
            record = text.lstrip("\x1e")
            try:
                event = eventFromJSON(record) if record else None
            except ValueError:
                event = None
            if isinstance(event, dict) and event.get("log_level") in _LEVELS:
                self._emit(event)
                return
        if text.strip():
            self.log.warn("worker {worker}: {line}", worker=self.number, line=text)

    def _emit(self, event: Dict[str, Any]) -> None:
        level = event["log_level"]
        system = event.get("log_system") or f"{event.get('log_namespace', '-')}#{level.name}"
        event["log_system"] = f"worker {self.number}: {system}"
        event["worker"] = self.number
        self._observer(event)


@dataclass(frozen=True)
class WorkerCommand:
    """
    How to start one worker process (the arguments of C{spawnProcess}).

    @ivar executable: the program.
    @ivar args: its arguments, the program's name first.
    @ivar env: its environment.
    @ivar childFDs: its file descriptors: each the parent's descriptor it
        is a copy of, or C{"r"} (a pipe the parent reads), C{"w"} (a pipe
        the parent writes).
    """

    executable: str
    args: List[str]
    env: Dict[str, str] = field(repr=False)
    childFDs: Dict[int, Union[int, str]]


def workerCommand(
    arguments: Sequence[str],
    role: WorkerRole,
    sockets: Mapping[int, int],
    env: Mapping[str, str],
    executable: str = sys.executable,
) -> WorkerCommand:
    """
    The command of one worker: C{twist ppsp-tracker} (C{python -m
    twisted}) with the parent's arguments, its log as Twisted's JSON
    records on its standard output at every level (C{--log-format text}
    after the parent's arguments keeps the tracker's own C{--log-format
    json} from replacing them), and C{--worker}.

    @param arguments: the parent's C{ppsp-tracker} arguments.
    @param role: the worker's role.
    @param sockets: for each socket, the worker's file descriptor and the
        parent's.
    @param env: the worker's environment.
    @param executable: the Python to run.
    """
    childFDs: Dict[int, Union[int, str]] = {0: "w", 1: "r", 2: "r", **sockets}
    args = [
        executable, "-m", "twisted",
        "--log-file", "-", "--log-format", "json", "--log-level", "debug",
        "ppsp-tracker", *arguments, "--log-format", "text", "--worker", str(role),
    ]
    return WorkerCommand(executable, args, dict(env), childFDs)


def _status(reason: Failure) -> str:
    """
    How a process ended, in words.
    """
    value = reason.value
    number = getattr(value, "signal", None)
    if isinstance(value, ProcessTerminated) and number is not None:
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "an unknown signal"
        return f"killed by signal {number} ({name})"
    if isinstance(value, (ProcessDone, ProcessTerminated)):
        return f"exited with status {value.exitCode}"
    return str(value)


class _WorkerProcess(ProcessProtocol):
    """
    One worker process, as its parent sees it.

    @ivar number: the worker's number.
    @ivar startedAt: when it was started, in the reactor's seconds.
    @ivar ended: fires once it has ended.
    """

    def __init__(self, supervisor: "WorkerSupervisor", number: int, startedAt: float, output: WorkerLog) -> None:
        self._supervisor = supervisor
        self.number = number
        self.startedAt = startedAt
        self._output = output
        self.ended: Deferred[None] = Deferred()

    @property
    def pid(self) -> Optional[int]:
        """
        Its process ID (L{None} once it has ended).
        """
        return getattr(self.transport, "pid", None)

    def signal(self, name: str) -> None:
        """
        Send it the signal C{name} (C{"TERM"}), unless it has ended.
        """
        try:
            self.transport.signalProcess(name)  # type: ignore[union-attr]
        except ProcessExitedAlready:
            pass

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self._output.received(childFD, data)

    def processEnded(self, reason: Failure) -> None:
        self._output.ended()
        self._supervisor.workerEnded(self, reason)
        self.ended.callback(None)


class WorkerSupervisor(Service):
    """
    Keep C{count} worker processes running: start them when the service
    starts; start one again when it ends, after the delay that
    C{policy} gives for the number of times in a row it ended within
    C{stableAfter} seconds of its start (0 after a stable run); on stop,
    send each SIGTERM and wait for every one to end, sending SIGKILL to
    those still running after C{killTimeout} seconds.

    @param reactor: the reactor that starts the processes
        (C{twisted.internet.interfaces.IReactorProcess}) and the clock.
    @param count: how many workers.
    @param command: the command of each worker, by its number (from 1).
    @param policy: the delay before a worker is started again, by the
        number of its ends in a row within C{stableAfter} seconds (from
        0).
    @param stableAfter: seconds after which a worker's run was stable.
    @param killTimeout: seconds the stop waits for the workers before it
        sends them SIGKILL.
    @param observer: where the workers' log events go.
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        count: int,
        command: Callable[[int], WorkerCommand],
        policy: Optional[Callable[[int], float]] = None,
        stableAfter: float = STABLE_AFTER,
        killTimeout: float = KILL_GRACE,
        observer: ILogObserver = globalLogPublisher,
    ) -> None:
        self._reactor = reactor
        self.count = count
        self._command = command
        self._policy = policy if policy is not None else restartPolicy()
        self.stableAfter = stableAfter
        self.killTimeout = killTimeout
        self._observer = observer
        #: The running workers, by number.
        self.workers: Dict[int, _WorkerProcess] = {}
        self._restarts: Dict[int, IDelayedCall] = {}
        self._quickEnds: Dict[int, int] = {}

    def startService(self) -> None:
        """
        Start every worker.
        """
        super().startService()
        for number in range(1, self.count + 1):
            self._start(number)

    def _start(self, number: int) -> None:
        self._restarts.pop(number, None)
        command = self._command(number)
        worker = _WorkerProcess(self, number, self._reactor.seconds(), WorkerLog(number, self._observer))
        try:
            self._reactor.spawnProcess(
                worker, command.executable, command.args, env=command.env, childFDs=command.childFDs
            )
        except OSError as e:
            self.log.error("cannot start worker {worker}: {reason}", worker=number, reason=str(e))
            self._again(number, self._reactor.seconds() - worker.startedAt)
            return
        self.workers[number] = worker
        self.log.info("worker {worker} started (process {pid})", worker=number, pid=worker.pid)

    def workerEnded(self, worker: _WorkerProcess, reason: Failure) -> None:
        """
        C{worker} ended: start it again unless the service is stopping.
        """
        if self.workers.get(worker.number) is worker:
            del self.workers[worker.number]
        status = _status(reason)
        if not self.running:
            self.log.info(
                "worker {worker} stopped: {status}", worker=worker.number, status=status
            )
            return
        ranFor = self._reactor.seconds() - worker.startedAt
        delay = self._again(worker.number, ranFor)
        self.log.warn(
            "worker {worker} ended after {ranFor:.1f} s: {status}; starting it again in {delay:.1f} s",
            worker=worker.number,
            ranFor=ranFor,
            status=status,
            delay=delay,
        )

    def _again(self, number: int, ranFor: float) -> float:
        """
        Start worker C{number} again after the policy's delay.

        @return: the delay.
        """
        attempt = 0 if ranFor >= self.stableAfter else self._quickEnds.get(number, 0)
        self._quickEnds[number] = attempt + 1
        delay = self._policy(attempt)
        self._restarts[number] = self._reactor.callLater(delay, self._start, number)
        return delay

    def signal(self, name: str) -> None:
        """
        Send every running worker the signal C{name} (C{"HUP"}).
        """
        for worker in list(self.workers.values()):
            worker.signal(name)

    def reload(self) -> "Deferred[bool]":
        """
        Pass SIGHUP on to every worker, which reads its files again.

        @return: a L{Deferred} that has fired with C{True}.
        """
        self.signal("HUP")
        return succeed(True)

    #: What L{reload} reads again, as L{ReloadService} names it.
    what = "the workers' files (SIGHUP to each worker)"

    def stopService(self) -> "Deferred[None]":
        """
        Stop every worker gracefully (SIGTERM), then for good (SIGKILL)
        after C{killTimeout} seconds.

        @return: a L{Deferred} that fires once every worker has ended.
        """
        super().stopService()
        for call in self._restarts.values():
            if call.active():
                call.cancel()
        self._restarts.clear()
        running = list(self.workers.values())
        if not running:
            return succeed(None)
        self.log.info(
            "stopping {count} worker(s): SIGTERM, then SIGKILL after {timeout} s",
            count=len(running),
            timeout=self.killTimeout,
        )
        for worker in running:
            worker.signal("TERM")
        kill = self._reactor.callLater(self.killTimeout, self._kill)

        def stopped(_: object) -> None:
            if kill.active():
                kill.cancel()
            self.log.info("every worker stopped")

        return gatherResults([worker.ended for worker in running]).addCallback(stopped)

    def _kill(self) -> None:
        for worker in list(self.workers.values()):
            self.log.warn(
                "worker {worker} did not stop within {timeout} s: SIGKILL",
                worker=worker.number,
                timeout=self.killTimeout,
            )
            worker.signal("KILL")


class _NoConnections(Factory):
    """
    The factory of the parent's sockets, which accept no connection: it
    logs nothing about starting or stopping.
    """

    noisy = False
    protocol = Protocol


@implementer(IStreamServerEndpoint)
class HandedOverEndpoint:
    """
    An endpoint whose port never accepts a connection: it listens, then
    stops reading its socket at once, which its workers read instead.

    @ivar port: the listening port, once it listens.
    """

    def __init__(self, endpoint: IStreamServerEndpoint) -> None:
        self._endpoint = endpoint
        self.port: Optional[IListeningPort] = None

    def listen(self, protocolFactory: IProtocolFactory) -> "Deferred[IListeningPort]":
        """
        Listen, and stop accepting.
        """

        def paused(port: IListeningPort) -> IListeningPort:
            if not (IPushProducer.providedBy(port) and IFileDescriptor.providedBy(port)):
                port.stopListening()
                raise ValueError("not a socket that the workers can share")
            port.pauseProducing()
            self.port = port
            return port

        return self._endpoint.listen(protocolFactory).addCallback(paused)

    def fileno(self) -> int:
        """
        The listening socket's file descriptor.
        """
        assert self.port is not None, "not listening"
        return IFileDescriptor(self.port).fileno()


class _Parent(MultiService):
    """
    The parent's service: SIGTERM stops it and the process exits with
    status 0 (L{StopOnSIGTERM}).  Its first children are the listening
    sockets, so that they listen before the workers start, under twist
    too (which calls only C{startService}).
    """

    def __init__(self, reactor: Any) -> None:
        super().__init__()
        self._sigterm = StopOnSIGTERM(reactor)

    def startService(self) -> None:
        """
        Listen, start the workers, take SIGTERM.
        """
        super().startService()
        self._sigterm.take()

    def stopService(self) -> "Deferred[Any]":
        """
        Give SIGTERM back, close the sockets, stop the workers.
        """
        self._sigterm.giveBack()
        return super().stopService()  # type: ignore[no-any-return]


#: What the parent logs once it listens on a socket for its workers.
PARENT_FORMAT = "PPSP tracker parent: {endpoint} open on {address} for its workers ({settingsText})"


def workersService(
    reactor: Any,
    count: int,
    endpoints: Mapping[str, Tuple[IStreamServerEndpoint, str]],
    arguments: Sequence[str],
    env: Mapping[str, str],
    killTimeout: float,
    executable: str = sys.executable,
) -> MultiService:
    """
    The service of a parent of C{count} workers.

    @param reactor: the reactor.
    @param endpoints: the endpoints to listen on and their descriptions,
        by option: C{--listen}, and C{--admin} when given (served by
        worker 1 only).
    @param arguments: the parent's C{ppsp-tracker} arguments, which each
        worker is given too.
    @param env: the workers' environment.
    @param killTimeout: seconds a stop waits for the workers before it
        sends them SIGKILL.
    @param executable: the Python that runs the workers.
    """
    parent = _Parent(reactor)
    sockets: Dict[str, HandedOverEndpoint] = {}
    for option, (endpoint, description) in endpoints.items():
        shared = sockets[option] = HandedOverEndpoint(endpoint)
        announcing = AnnouncingEndpoint(
            shared, description, {"workers": count}, logFormat=PARENT_FORMAT
        )
        ListenerService(announcing, _NoConnections(), option, description).setServiceParent(parent)

    def command(number: int) -> WorkerCommand:
        fds = {LISTEN_FD: sockets["--listen"].fileno()}
        admin = sockets.get("--admin")
        if admin is not None and number == 1:
            fds[ADMIN_FD] = admin.fileno()
        role = WorkerRole(number, os.getpid(), LISTEN_FD, ADMIN_FD if ADMIN_FD in fds else None)
        return workerCommand(arguments, role, fds, env, executable)

    supervisor = WorkerSupervisor(reactor, count, command, killTimeout=killTimeout)
    supervisor.setServiceParent(parent)
    ReloadService(reactor, [supervisor.reload]).setServiceParent(parent)
    return parent
