"""
Helpers shared by ppsp's own tests: a tracker on a L{Clock} that peers can
talk to with message objects, and an HTTP agent that a whole L{Site}
answers in memory.
"""

from __future__ import annotations

import itertools
import random
import tracemalloc
from typing import Any, List, Optional, Tuple, TypeVar

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IConsumer, IProtocol, IProtocolFactory
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import URI, Agent
from twisted.web.iweb import IAgent, IAgentEndpointFactory, IBodyProducer, IResponse
from twisted.web.server import Site
from zope.interface import implementer

from ppsp.interfaces import IPeerStore, ISwarmView
from ppsp.messages import (
    ConnectRequest,
    ConnectResponse,
    ErrorResponse,
    PeerAddress,
    Request,
    Response,
    ResponseCode,
)
from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.store import MemoryPeerStore
from ppsp.tracker.values import PeerState, SwarmState

_ids = itertools.count(1)

T = TypeVar("T")


class StoreReads:
    """
    Reads of a test's memory store, each answered at once: the results of
    the L{Deferred}s that L{IPeerStore} methods and the tracker's operator
    methods return, which have fired already with the memory store.

    @ivar testCase: the test, whose assertions these reads use.
    @ivar store: the store read.
    """

    testCase: SynchronousTestCase
    store: IPeerStore

    def __init__(self, testCase: SynchronousTestCase, store: IPeerStore) -> None:
        self.testCase = testCase
        self.store = store

    #: The clock on which an asynchronous store answers (a
    #: L{CopyingPeerStore<ppsp.test.copyingstore.CopyingPeerStore>}), or
    #: L{None} for a store that answers at once.
    settleClock: Optional[Clock] = None

    def result(self, d: "Deferred[T]") -> T:
        """
        The result of a L{Deferred} of the store or the tracker: one that
        has fired already with the memory store; with an asynchronous
        store, the result once the store's pending answers were given (its
        clock turned without time passing, as often as they take).
        """
        self.settle()
        return self.testCase.successResultOf(d)

    def settle(self) -> None:
        """
        Let an asynchronous store give every answer it owes (nothing to do
        for a store that answers at once).
        """
        clock = self.settleClock
        if clock is not None:
            for _ in range(10000):
                if not clock.getDelayedCalls():
                    break
                clock.advance(0)

    def peer(self, peerID: str) -> Optional[PeerState]:
        """
        The registered peer C{peerID} as the store answers it, or L{None}.
        """
        return self.result(self.store.peer(peerID))

    def registered(self, peerID: str) -> PeerState:
        """
        The registered peer C{peerID} as the store answers it; the test
        fails when it is not registered.
        """
        peer = self.peer(peerID)
        if peer is None:
            self.testCase.fail(f"{peerID!r} is not registered")
        return peer

    def swarm(self, swarmID: str) -> Optional[SwarmState]:
        """
        The swarm C{swarmID} as the store answers it, or L{None}.
        """
        return self.result(self.store.swarm(swarmID))

    def existing(self, swarmID: str) -> SwarmState:
        """
        The swarm C{swarmID} as the store answers it; the test fails when
        no such swarm exists.
        """
        swarm = self.swarm(swarmID)
        if swarm is None:
            self.testCase.fail(f"no swarm {swarmID!r}")
        return swarm

    def view(self, swarmID: str) -> ISwarmView:
        """
        The store's view of the swarm C{swarmID} (L{IPeerStore.lookup}), as
        strategies see it; the test fails when no such swarm exists.
        """
        _peer, view = self.result(self.store.lookup("", swarmID, 0, None))
        if view is None:
            self.testCase.fail(f"no swarm {swarmID!r}")
        return view

    def counts(self) -> Tuple[int, int]:
        """
        The numbers of registered peers and of swarms in the store.
        """
        return self.result(self.store.counts())

    def addressUsage(self, ip: str) -> Tuple[int, int]:
        """
        The sessions registered from the source address C{ip} counts as,
        and the bytes they make the store hold (L{IPeerStore.usage}).
        """
        sessions, held, _total = self.result(self.store.usage(ip))
        return sessions, held


class TrackerHarness(StoreReads):
    """
    A L{Tracker} on a L{Clock} with a seeded store, and a few peers' worth
    of bookkeeping: which token each PeerID holds and from where it talks.
    """

    store: MemoryPeerStore

    def __init__(self, testCase: SynchronousTestCase, **config: Any) -> None:
        memory = MemoryPeerStore(random=random.Random(4))
        StoreReads.__init__(self, testCase, memory)
        self.clock = Clock()
        self.clock.advance(1000)
        if getattr(testCase, "copyingStore", False):
            # The core's tests again, on a store that copies every value and
            # answers on a later turn of the clock (ppsp.test.test_core's
            # *OnCopyingStore classes).
            from ppsp.test.copyingstore import CopyingPeerStore

            self.store = CopyingPeerStore(  # type: ignore[assignment]
                memory, self.clock, random.Random(5)
            )
            self.settleClock = self.clock
        self.tracker = Tracker(
            self.clock, TrackerConfig(**config), store=self.store
        )
        self.tokens: dict[str, str] = {}
        self.origins: dict[str, Origin] = {}

    def send(self, request: Request, origin: Optional[Origin] = None) -> Response:
        """
        Hand C{request} to the tracker and return its answer (the
        L{Deferred} that L{Tracker.handle} returns has fired already with
        the memory store).
        """
        if origin is None:
            origin = self.origins.get(request.peerID, Origin("198.51.100.1", 40000))
        return self.result(self.tracker.handle(request, origin))

    def connect(
        self,
        peerID: str,
        ip: str = "198.51.100.1",
        port: int = 40000,
        addresses: Tuple[PeerAddress, ...] = (),
        **kw: Any,
    ) -> ConnectResponse:
        """
        CONNECT C{peerID} from C{ip}:C{port} and remember its token.
        """
        origin = Origin(ip, port)
        response = self.send(
            ConnectRequest(txid(), peerID, addresses=addresses, **kw), origin
        )
        self.testCase.assertTrue(isinstance(response, ConnectResponse), response)
        assert isinstance(response, ConnectResponse)
        self.tokens[peerID] = response.authToken
        self.origins[peerID] = origin
        return response

    def call(self, cls: type, peerID: str, **fields: Any) -> Response:
        """
        Send a request of class C{cls} from a connected peer, with its
        token.
        """
        return self.send(
            cls(txid(), peerID, authToken=self.tokens.get(peerID), **fields)
        )

    def ok(self, cls: type, peerID: str, **fields: Any) -> Any:
        """
        Like L{call}, and assert success.
        """
        response = self.call(cls, peerID, **fields)
        self.testCase.assertFalse(isinstance(response, ErrorResponse), response)
        return response

    def error(self, code: ResponseCode, cls: type, peerID: str, **fields: Any) -> ErrorResponse:
        """
        Like L{call}, and assert the error C{code}.
        """
        response = self.call(cls, peerID, **fields)
        self.testCase.assertTrue(isinstance(response, ErrorResponse), response)
        assert isinstance(response, ErrorResponse)
        self.testCase.assertEqual(response.code, code, response.reason)
        return response

    def advance(self, seconds: float) -> None:
        """
        Move the clock and run the tracker's timers, second by second, as
        L{TrackerService} would.
        """
        whole = int(seconds)
        for _ in range(whole):
            self.clock.advance(1)
            self.result(self.tracker.expire())
        rest = seconds - whole
        if rest:
            self.clock.advance(rest)
            self.result(self.tracker.expire())


def tracedBytes(testCase: SynchronousTestCase) -> int:
    """
    The bytes Python holds now by C{tracemalloc}'s count, starting the
    tracing for the rest of C{testCase} (and stopping it after) when it is
    not on: call it before and after what a test measures.
    """
    if not tracemalloc.is_tracing():
        tracemalloc.start()
        testCase.addCleanup(tracemalloc.stop)
    return tracemalloc.get_traced_memory()[0]


def txid() -> str:
    """
    A fresh TransactionID.
    """
    return f"t{next(_ids)}"


@implementer(IBodyProducer)
class BytesBody:
    """
    A request body written whole at once, so that an L{HTTPClient} on a
    L{SiteAgent} needs no reactor to send it: give the class as the
    client's C{data_to_body_producer}.

    @param data: the body.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.length = len(data)

    def startProducing(self, consumer: IConsumer) -> "Deferred[None]":
        consumer.write(self.data)
        return succeed(None)

    def stopProducing(self) -> None:
        pass

    pauseProducing = resumeProducing = stopProducing


class _SiteEndpoint:
    """
    A client endpoint whose connections the agent's site answers through
    an in-memory transport pair (L{twisted.test.iosim}).
    """

    def __init__(self, agent: "SiteAgent") -> None:
        self.agent = agent

    def connect(self, factory: IProtocolFactory) -> "Deferred[IProtocol]":
        client = factory.buildProtocol(SiteAgent.server)
        server = self.agent.site.buildProtocol(SiteAgent.client)
        assert client is not None and server is not None
        pump = iosim.connect(
            server,
            iosim.FakeTransport(server, True, SiteAgent.server, SiteAgent.client),
            client,
            iosim.FakeTransport(client, False, SiteAgent.client, SiteAgent.server),
            greet=False,
        )
        self.agent.pumps.append(pump)
        return succeed(client)


@implementer(IAgent, IAgentEndpointFactory)
class SiteAgent:
    """
    An HTTP agent whose every request a given L{Site} answers in memory,
    through the site's own protocol (unlike C{treq.testing.StubTreq}, which
    always serves a plain L{Site} of its own): the connection comes from
    L{client}, 127.0.0.1 port 31337, whatever the URL says.  Call
    L{flush} to deliver what an asynchronous answer wrote later.

    @ivar site: the site that answers.
    @ivar pumps: the connection of each request.
    """

    client = IPv4Address("TCP", "127.0.0.1", 31337)
    server = IPv4Address("TCP", "127.0.0.1", 80)

    def __init__(self, site: Site) -> None:
        self.site = site
        self.pumps: List[iosim.IOPump] = []
        self._agent = Agent.usingEndpointFactory(MemoryReactorClock(), self)

    def endpointForURI(self, uri: URI) -> _SiteEndpoint:
        """
        Every URI leads to the site.
        """
        return _SiteEndpoint(self)

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Any = None,
        bodyProducer: Optional[IBodyProducer] = None,
    ) -> "Deferred[IResponse]":
        """
        Send a request to the site and deliver what it answers at once.
        """
        d: Deferred[IResponse] = self._agent.request(method, uri, headers, bodyProducer)
        self.flush()
        return d

    def flush(self) -> None:
        """
        Deliver the bytes written on every connection so far.
        """
        for pump in self.pumps:
            pump.flush()
        self.pumps = [p for p in self.pumps if not (p.clientIO.disconnected and p.serverIO.disconnected)]
