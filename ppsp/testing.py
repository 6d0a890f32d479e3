"""
Fakes for the tests of applications that embed ppsp.

L{MemoryTracker} is a real tracker (the same L{Tracker} and
L{TrackerResource} that C{twistd ppsp-tracker} serves) that runs in memory
on a L{Clock}, behind an HTTP client that needs no socket: give its
L{MemoryTracker.client} to your L{PeerService}, advance the clock, and look
at what the tracker knows.  It can also be made unreachable, and it can
forget everything as a restarted tracker would.

L{StaticStats} and L{ChunkSet} are the simple statistics and chunk sources
of L{ppsp.peer.sources}; L{FirstSelector} is a deterministic strategy.
"""

from __future__ import annotations

from typing import Any, List, Optional

from treq.client import HTTPClient
from treq.testing import RequestTraversalAgent
from twisted.cred.checkers import ICredentialsChecker
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.web.iweb import IAgent, IBodyProducer, UNKNOWN_LENGTH
from twisted.web.resource import Resource
from zope.interface import implementer

from ppsp.interfaces import IPeerSelector
from ppsp.messages import Request
from ppsp.peer.client import TrackerClient
from ppsp.peer.sources import ChunkSet, StaticStats
from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.resource import TrackerResource

__all__ = ["MemoryTracker", "FirstSelector", "StaticStats", "ChunkSet"]


@implementer(IPeerSelector)
class FirstSelector:
    """
    A deterministic strategy: the eligible members in the order the swarm
    lists them (the order they joined, until members leave).
    """

    def select(self, swarm: Any, requester: Any, count: int, constraints: Any) -> List[Any]:
        """
        The first C{count} members that the constraints accept.
        """
        chosen: List[Any] = []
        for member in swarm:
            if len(chosen) >= count:
                break
            if constraints.accepts(member):
                chosen.append(member)
        return chosen


@implementer(IBodyProducer)
class _BytesProducer:
    """
    A request body written at once (the default producer of L{HTTPClient}
    runs on the global reactor's cooperator, which a test never drives).
    """

    def __init__(self, body: Any) -> None:
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body if isinstance(body, bytes) else None
        self.length = len(self.body) if self.body is not None else UNKNOWN_LENGTH

    def startProducing(self, consumer: Any) -> "Deferred[None]":
        if self.body:
            consumer.write(self.body)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


class _Recorder:
    """
    The tracker as the resource sees it: records each decoded request.
    """

    def __init__(self, owner: "MemoryTracker") -> None:
        self.owner = owner

    def handle(self, request: Request, origin: Origin) -> Any:
        self.owner.received.append(request)
        return self.owner.tracker.handle(request, origin)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.owner.tracker, name)


@implementer(IAgent)
class _SwitchableAgent:
    """
    An agent that refuses connections while the fake tracker is down.
    """

    def __init__(self, owner: "MemoryTracker", agent: Any) -> None:
        self.owner = owner
        self.agent = agent

    def request(self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None) -> Any:
        if not self.owner.reachable:
            return fail(ConnectionRefusedError("the fake tracker is down"))
        self.owner.urls.append(uri.decode("ascii"))
        return self.agent.request(method, uri, headers, bodyProducer)


class MemoryTracker:
    """
    A tracker in memory, reachable through L{http}.

    @param clock: the tracker's clock (and the one to give the peers); a
        new L{Clock} when L{None}.
    @param config: the tracker's settings.
    @param selector: the strategy; L{FirstSelector} by default, so that
        peer lists are predictable.
    @param url: the URL peers use (any host works).
    @param checker: the CONNECT credentials checker (a closed tracker:
        L{TokenPeerChecker<ppsp.tracker.auth.TokenPeerChecker>} on this
        clock); the C{open} scheme by default.

    @ivar tracker: the L{Tracker} now serving (replaced by L{restart}).
    @ivar agent: an HTTP agent whose requests reach the tracker whether or
        not it is reachable (L{http} goes through it while it is; a test's
        own agent can too, to fail some requests its own way).
    @ivar received: every request the tracker received, decoded, in order.
    @ivar urls: the URL of every HTTP request that reached the tracker.
    @ivar reachable: whether connections succeed (see L{stop}, L{start}).
    """

    def __init__(
        self,
        clock: Optional[Clock] = None,
        config: Optional[TrackerConfig] = None,
        selector: Optional[IPeerSelector] = None,
        url: str = "http://tracker.example/",
        checker: Optional[ICredentialsChecker] = None,
    ) -> None:
        self.clock = clock if clock is not None else Clock()
        self.checker = checker
        self.config = config
        self.selector = selector if selector is not None else FirstSelector()
        self.url = url
        self.received: List[Request] = []
        self.urls: List[str] = []
        self.reachable = True
        self.tracker = self._newTracker()
        self.resource: Resource = TrackerResource(_Recorder(self))  # type: ignore[arg-type]
        self.agent = RequestTraversalAgent(self.resource)
        #: An HTTP client whose requests reach this tracker.
        self.http = HTTPClient(
            _SwitchableAgent(self, self.agent), data_to_body_producer=_BytesProducer
        )

    def _newTracker(self) -> Tracker:
        return Tracker(self.clock, self.config, selector=self.selector, checker=self.checker)

    def client(self, peerID: str, **kwargs: Any) -> TrackerClient:
        """
        A L{TrackerClient} for C{peerID} that talks to this tracker on its
        clock; C{kwargs} go to L{TrackerClient}.
        """
        return TrackerClient(self.http, self.url, peerID, self.clock, **kwargs)

    def restart(self) -> None:
        """
        Forget everything, as a tracker process that restarted would.
        """
        self.tracker = self._newTracker()

    def stop(self) -> None:
        """
        Refuse connections from now on.
        """
        self.reachable = False

    def start(self) -> None:
        """
        Accept connections again.
        """
        self.reachable = True

    def advance(self, seconds: float, step: float = 1.0) -> None:
        """
        Move the clock forward C{seconds}, running the tracker's timers
        every C{step} seconds as its service would.
        """
        while seconds > 0:
            now = min(step, seconds)
            self.clock.advance(now)
            self.tracker.expire()
            seconds -= now

    def flush(self) -> None:
        """
        Deliver bytes an asynchronous answer wrote after the request.
        """
        self.agent.flush()
