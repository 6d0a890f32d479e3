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

L{PeerStoreContractTests} is the test suite that every
L{IPeerStore<ppsp.interfaces.IPeerStore>} must pass: mix it into a test
case of your store.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Hashable,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

from treq.client import HTTPClient
from treq.testing import RequestTraversalAgent
from twisted.cred.checkers import ICredentialsChecker
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.web.iweb import IAgent, IBodyProducer, UNKNOWN_LENGTH
from twisted.web.resource import Resource
from zope.interface import implementer
from zope.interface.verify import verifyObject

from ppsp.interfaces import (
    IPeerSelector,
    IPeerStore,
    IStoreCosts,
    ISwarmMember,
    ISwarmView,
)
from ppsp.messages import ChunkRange, PeerAddress, PeerMode, Request
from ppsp.peer import TrackerClient
from ppsp.peer.sources import ChunkSet, StaticStats
from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.credentials import SessionIdentity
from ppsp.tracker.resource import TrackerResource
from ppsp.tracker.values import (
    Expired,
    MemberState,
    PeerState,
    Session,
    StatsUpdate,
    StatValue,
    SwarmMember,
    SwarmState,
)

if TYPE_CHECKING:
    from twisted.trial.unittest import SynchronousTestCase

__all__ = [
    "MemoryTracker",
    "FirstSelector",
    "StaticStats",
    "ChunkSet",
    "PeerStoreContractTests",
]

_T = TypeVar("_T")


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
        L{TokenPeerChecker<ppsp.tracker.credentials.TokenPeerChecker>} on this
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


# The store contract -----------------------------------------------------------

#: The source addresses of the contract's peers.
_IP_A = "192.0.2.1"
_IP_B = "192.0.2.2"
_IP_C = "192.0.2.3"
_IP6_A = "2001:db8:0:1::1"
_IP6_B = "2001:db8:0:1::2"
_IP6_C = "2001:db8:0:2::1"

_LEECH = PeerMode.LEECH
_SEED = PeerMode.SEED
_LIVESEED = PeerMode.LIVESEED

#: The lifetime of an empty swarm in the contract's expiry tests.
_LIFETIME = 30.0


def _observedIP(member: Any) -> Hashable:
    """
    The key of the contract's partitions: a member's observed IP address
    (one function, so that a view recognises it from call to call).
    """
    return member.observedIP  # type: ignore[no-any-return]


def _ids(members: Iterable[Any]) -> List[str]:
    """
    The PeerIDs of C{members}, in order.
    """
    return [m.peerID for m in members]


def _expiredNames(expired: Expired) -> Tuple[List[str], List[Tuple[str, str]], List[str]]:
    """
    What an L{Expired} reports, as sorted lists of names.
    """
    return (
        sorted(p.peerID for p in expired.peers),
        sorted((m[0], m[1]) for m in expired.members),
        sorted(expired.swarms),
    )


_NOTHING: Tuple[List[str], List[Tuple[str, str]], List[str]] = ([], [], [])

if TYPE_CHECKING:
    _ContractBase = SynchronousTestCase
else:
    _ContractBase = object


class PeerStoreContractTests(_ContractBase):
    """
    The contract of L{IPeerStore}: the tests every store must pass.

    Mix it into a trial test case and say how to make your store::

        class MyStoreTests(PeerStoreContractTests, SynchronousTestCase):
            def makeStore(self) -> IPeerStore:
                return MyStore(...)

    A store whose Deferreds fire later (it talks to a server, or waits for
    a turn of a clock) also defines L{settle}, which the tests call after
    each store call before they read its result: advance the store's
    L{Clock}, pump a fake connection to a fake server.  Each test makes a
    store with L{makeStore} (in C{setUp}: a class that defines its own
    C{setUp} calls this one's).

    The tests give the store times of their own (the C{now} and deadlines
    of each call), from 0 on, with a peer timeout of about 100 seconds;
    expiry is asked for a second or more after what is due.  Views are
    tested so that they hold for a view of the live swarm (C{complete})
    and for a view of the members a networked store fetched
    (L{SnapshotSwarmView<ppsp.tracker.snapshot.SnapshotSwarmView>}).
    C{docs/writing-a-store.rst} explains the contract.

    @ivar store: the store under test.
    """

    store: IPeerStore

    def makeStore(self) -> IPeerStore:
        """
        Make a new, empty store for one test.  Subclasses must define it.
        """
        raise NotImplementedError(f"{type(self).__name__} must define makeStore")

    def settle(self) -> None:
        """
        Let the Deferreds of the store's calls made so far fire.  Nothing
        by default (a store whose Deferreds have fired when its methods
        return).
        """

    def setUp(self) -> None:
        super().setUp()
        self.store = self.makeStore()

    # Helpers --------------------------------------------------------------

    def result(self, d: "Deferred[_T]") -> _T:
        """
        The result of a store call: L{settle}, then the Deferred's result,
        which must be there (a failure fails the test).
        """
        self.settle()
        return self.successResultOf(d)

    def session(
        self,
        peerID: str,
        ip: str = _IP_A,
        token: Optional[str] = None,
        deadline: float = 100.0,
        connectedAt: float = 0.0,
        port: int = 7000,
        addresses: Optional[Tuple[PeerAddress, ...]] = None,
        statPort: Optional[int] = None,
        identity: Optional[SessionIdentity] = None,
    ) -> Session:
        """
        A session for C{peerID} from C{ip} (its token is C{"token-"} and
        the PeerID unless given; it announces one address, on C{ip}).
        """
        return Session(
            peerID,
            token if token is not None else "token-" + peerID,
            ip,
            port,
            addresses if addresses is not None else (PeerAddress(ip, port + 1),),
            statPort,
            connectedAt,
            deadline,
            identity,
        )

    def register(
        self,
        peerID: str,
        ip: str = _IP_A,
        stats: Optional[Mapping[str, StatValue]] = None,
        deadline: float = 100.0,
    ) -> Session:
        """
        Register C{peerID}, checking that the store accepts it.

        @return: its session.
        """
        session = self.session(peerID, ip, deadline=deadline)
        self.assertTrue(self.result(self.store.register(session, stats or {})))
        return session

    def peer(self, peerID: str) -> PeerState:
        """
        The registered peer, which must be there.
        """
        peer = self.result(self.store.peer(peerID))
        self.assertIsNotNone(peer, f"{peerID} is not registered")
        assert peer is not None
        return peer

    def join(
        self,
        peerID: str,
        swarmID: str = "s",
        mode: PeerMode = _LEECH,
        expireAt: Optional[float] = None,
        stats: Optional[StatsUpdate] = None,
        deadline: float = 100.0,
        now: float = 0.0,
    ) -> None:
        """
        Make C{peerID} a member of C{swarmID}, checking that the store
        accepts it.
        """
        self.assertTrue(
            self.result(
                self.store.join(peerID, swarmID, mode, expireAt, stats or {}, deadline, now)
            )
        )

    def populate(
        self,
        leeches: int,
        seeds: int = 0,
        liveseeds: int = 0,
        swarmID: str = "s",
        holders: int = 0,
        ips: Sequence[str] = (_IP_A,),
    ) -> List[str]:
        """
        Register and join C{leeches} LEECHes, C{seeds} SEEDs and
        C{liveseeds} LIVESEEDs (PeerIDs C{leech-0}..., C{seed-0}...,
        C{live-0}...); the first C{holders} LEECHes hold chunks 0 to 9.
        The peers' addresses cycle through C{ips}.

        @return: the PeerIDs, in that order.
        """
        peerIDs = (
            [f"leech-{i}" for i in range(leeches)]
            + [f"seed-{i}" for i in range(seeds)]
            + [f"live-{i}" for i in range(liveseeds)]
        )
        for i, peerID in enumerate(peerIDs):
            self.register(peerID, ips[i % len(ips)])
            mode = _LEECH if i < leeches else _SEED if i < leeches + seeds else _LIVESEED
            self.join(peerID, swarmID, mode)
            if i < holders:
                self.assertTrue(
                    self.result(
                        self.store.setChunks(peerID, swarmID, (ChunkRange(0, 9),), 100.0)
                    )
                )
        return peerIDs

    def swarmState(self, swarmID: str) -> SwarmState:
        """
        The swarm, which must be there.
        """
        swarm = self.result(self.store.swarm(swarmID))
        self.assertIsNotNone(swarm, f"no swarm {swarmID}")
        assert swarm is not None
        return swarm

    def member(self, view: ISwarmView, peerID: str) -> ISwarmMember:
        """
        The member of C{view} with this PeerID, which must be there.
        """
        member = view.member(peerID)
        self.assertIsNotNone(member, f"{peerID} is not in the view")
        assert member is not None
        return member

    def lookup(
        self, peerID: str, swarmID: str = "s", count: int = 5, chunkID: Optional[int] = None
    ) -> Tuple[Optional[PeerState], ISwarmView]:
        """
        A lookup whose view must be there.
        """
        peer, view = self.result(self.store.lookup(peerID, swarmID, count, chunkID))
        self.assertIsNotNone(view, f"no view of {swarmID}")
        assert view is not None
        return peer, view

    def expireAt(self, now: float) -> Tuple[List[str], List[Tuple[str, str]], List[str]]:
        """
        What L{IPeerStore.expire} takes out at C{now} (with empty swarms
        forgotten after C{_LIFETIME} seconds), as sorted lists of names.
        """
        return _expiredNames(self.result(self.store.expire(now, _LIFETIME)))

    def assertSample(
        self,
        members: Sequence[ISwarmMember],
        count: int,
        among: Iterable[str],
    ) -> None:
        """
        C{members} is a sample of at most C{count} distinct members, all
        with PeerIDs in C{among}.
        """
        ids = _ids(members)
        self.assertLessEqual(len(ids), count)
        self.assertEqual(len(ids), len(set(ids)), f"duplicates in {ids}")
        self.assertLessEqual(set(ids), set(among))

    # The store -------------------------------------------------------------

    def test_providesIPeerStore(self) -> None:
        """
        The store provides L{IPeerStore}.
        """
        self.assertTrue(verifyObject(IPeerStore, self.store))

    def test_costsProvideIStoreCosts(self) -> None:
        """
        The store's C{costs} provides L{IStoreCosts}, and answers at once
        with integers: a session and a membership hold something.
        """
        costs = self.store.costs
        self.assertTrue(verifyObject(IStoreCosts, costs))
        self.assertGreater(costs.recordCost("p", _IP_A, (PeerAddress(_IP_A, 7001),)), 0)
        self.assertGreater(costs.memberCost("s"), 0)
        self.assertIsInstance(costs.chunksCost((ChunkRange(0, 9),)), int)
        self.assertIsInstance(costs.statsCost(None, {"UploadRate": 5}), int)

    def test_costOfNothingMerged(self) -> None:
        """
        Merging statistics that are already kept adds nothing.
        """
        kept: Dict[str, StatValue] = {"UploadRate": 5, "Agent": "x"}
        self.assertEqual(self.store.costs.statsCost(kept, dict(kept)), 0)

    def test_reachable(self) -> None:
        """
        A working store answers that it is reachable.
        """
        self.assertIs(self.result(self.store.reachable()), True)

    def test_empty(self) -> None:
        """
        A new store knows no peer and no swarm.
        """
        store = self.store
        self.assertEqual(self.result(store.counts()), (0, 0))
        peers = self.result(store.peers())
        swarms = self.result(store.swarms())
        self.assertEqual((list(peers), list(swarms)), ([], []))
        self.assertIsNone(self.result(store.peer("p")))
        self.assertIsNone(self.result(store.swarm("s")))
        self.assertEqual(self.result(store.usage(_IP_A)), (0, 0, 0))
        self.assertEqual(self.result(store.lookup("p", "s", 5, None)), (None, None))

    # register --------------------------------------------------------------

    def test_register(self) -> None:
        """
        C{register} of a free PeerID fires with C{True}, and the peer is
        then answered with its session, its statistics and no membership.
        """
        session = self.session(
            "p", statPort=7100, identity=SessionIdentity(peerID="p", fingerprint="sha256:00")
        )
        self.assertIs(self.result(self.store.register(session, {"UploadRate": 5})), True)
        peer = self.peer("p")
        self.assertEqual(peer.session, session)
        self.assertEqual(dict(peer.stats), {"UploadRate": 5})
        self.assertEqual(dict(peer.swarms), {})

    def test_registerTaken(self) -> None:
        """
        A second C{register} of a registered PeerID fires with C{False}
        and changes nothing.
        """
        first = self.register("p", _IP_A, {"UploadRate": 5})
        before = self.peer("p")
        other = self.session("p", _IP_B, token="other", deadline=300.0)
        self.assertIs(self.result(self.store.register(other, {"UploadRate": 9})), False)
        after = self.peer("p")
        self.assertEqual(after, before)
        self.assertEqual(after.session, first)
        self.assertEqual(self.result(self.store.usage(_IP_B)), (0, 0, 1))

    def test_registerConcurrently(self) -> None:
        """
        Of two C{register}s of one PeerID made at once, one only succeeds.
        """
        store = self.store
        first = store.register(self.session("p", _IP_A, token="one"), {})
        second = store.register(self.session("p", _IP_B, token="two"), {})
        self.settle()
        answers = [self.successResultOf(first), self.successResultOf(second)]
        self.assertEqual(sorted(answers), [False, True])
        self.assertEqual(self.peer("p").token, "one" if answers[0] else "two")

    def test_registerCounts(self) -> None:
        """
        Registered peers are counted and listed.
        """
        self.register("p")
        self.register("q", _IP_B)
        self.assertEqual(self.result(self.store.counts()), (2, 0))
        peers = self.result(self.store.peers())
        self.assertEqual(sorted(_ids(peers)), ["p", "q"])

    def test_registerHolds(self) -> None:
        """
        A registered peer holds what the cost model says a session with
        its attributes and statistics holds, charged to it and to its
        address.
        """
        stats: Dict[str, StatValue] = {"UploadRate": 5, "Agent": "ppsp"}
        session = self.register("p", _IP_A, stats)
        costs = self.store.costs
        held = costs.recordCost("p", _IP_A, session.addresses) + costs.statsCost(None, stats)
        peer = self.peer("p")
        self.assertEqual(peer.held, held)
        self.assertEqual(peer.addressHeld, held)
        self.assertEqual(self.result(self.store.usage(_IP_A)), (1, held, 1))

    # usage -----------------------------------------------------------------

    def test_usageByIPv4Address(self) -> None:
        """
        C{usage} counts the sessions of one IPv4 address and what they
        hold, apart from other addresses, and the sessions in all.
        """
        self.register("p", _IP_A)
        self.register("q", _IP_A)
        self.register("r", _IP_B)
        held = self.peer("p").held + self.peer("q").held
        self.assertEqual(self.result(self.store.usage(_IP_A)), (2, held, 3))
        self.assertEqual(self.peer("p").addressHeld, held)
        self.assertEqual(
            self.result(self.store.usage(_IP_B)), (1, self.peer("r").held, 3)
        )
        self.assertEqual(self.result(self.store.usage(_IP_C)), (0, 0, 3))

    def test_usageByIPv6Network(self) -> None:
        """
        C{usage} counts the sessions of an IPv6 /64 together, whatever
        address of the /64 it is asked about.
        """
        self.register("p", _IP6_A)
        self.register("q", _IP6_B)
        self.register("r", _IP6_C)
        held = self.peer("p").held + self.peer("q").held
        self.assertEqual(self.result(self.store.usage("2001:db8:0:1::99")), (2, held, 3))
        self.assertEqual(
            self.result(self.store.usage(_IP6_C)), (1, self.peer("r").held, 3)
        )

    # takeOver --------------------------------------------------------------

    def test_takeOver(self) -> None:
        """
        C{takeOver} with the session's current AuthToken fires with
        C{True} and replaces the session.
        """
        self.register("p", _IP_A)
        new = self.session(
            "p", _IP_B, token="new", deadline=200.0, connectedAt=50.0, port=8000,
            statPort=8100, identity=SessionIdentity(peerID="p"),
        )
        self.assertIs(self.result(self.store.takeOver(new, "token-p", {})), True)
        self.assertEqual(self.peer("p").session, new)

    def test_takeOverWrongToken(self) -> None:
        """
        C{takeOver} whose AuthToken is not the session's fires with
        C{False} and changes nothing.
        """
        self.register("p", _IP_A)
        before = self.peer("p")
        new = self.session("p", _IP_B, token="new", deadline=200.0)
        self.assertIs(self.result(self.store.takeOver(new, "stale", {None: {"X": 1}})), False)
        self.assertEqual(self.peer("p"), before)

    def test_takeOverUnknown(self) -> None:
        """
        C{takeOver} of a PeerID that is not registered fires with C{False}
        and registers nothing.
        """
        new = self.session("p", token="new")
        self.assertIs(self.result(self.store.takeOver(new, "token-p", {})), False)
        self.assertIsNone(self.result(self.store.peer("p")))

    def test_takeOverConcurrently(self) -> None:
        """
        Of two C{takeOver}s of one session made at once, one only
        succeeds: the token is compared and set atomically.
        """
        self.register("p")
        first = self.store.takeOver(self.session("p", token="one"), "token-p", {})
        second = self.store.takeOver(self.session("p", token="two"), "token-p", {})
        self.settle()
        answers = [self.successResultOf(first), self.successResultOf(second)]
        self.assertEqual(sorted(answers), [False, True])
        self.assertEqual(self.peer("p").token, "one" if answers[0] else "two")

    def test_takeOverKeepsMemberships(self) -> None:
        """
        C{takeOver} keeps the peer's memberships with their chunk sets and
        statistics.
        """
        self.register("p")
        self.join("p", "s", _SEED, expireAt=500.0, stats={"s": {"Swarmy": 1}})
        self.result(self.store.setChunks("p", "s", (ChunkRange(0, 9),), 100.0))
        before = self.peer("p").swarms
        new = self.session("p", _IP_B, token="new", deadline=200.0)
        self.assertTrue(self.result(self.store.takeOver(new, "token-p", {})))
        self.assertEqual(dict(self.peer("p").swarms), dict(before))
        self.assertEqual(self.swarmState("s").size, 1)

    def test_takeOverMergesStats(self) -> None:
        """
        C{takeOver} merges its statistics into the peer's and into its
        memberships', keeping the latest value of each property.
        """
        self.register("p", stats={"A": 1, "B": 2})
        self.join("p", stats={"s": {"C": 3}})
        new = self.session("p", token="new")
        update: StatsUpdate = {None: {"B": 20, "D": 4}, "s": {"C": 30}}
        self.assertTrue(self.result(self.store.takeOver(new, "token-p", update)))
        peer = self.peer("p")
        self.assertEqual(dict(peer.stats), {"A": 1, "B": 20, "D": 4})
        self.assertEqual(dict(peer.swarms["s"].stats), {"C": 30})

    def test_takeOverMovesAccounts(self) -> None:
        """
        A C{takeOver} from another address moves the session and what it
        holds from the old address's account to the new one's; what it
        holds follows the cost of the new session.
        """
        self.register("p", _IP_A)
        self.join("p")
        member = self.store.costs.memberCost("s")
        new = self.session("p", _IP_B, token="new", addresses=())
        self.assertTrue(self.result(self.store.takeOver(new, "token-p", {})))
        held = self.store.costs.recordCost("p", _IP_B, ()) + member
        self.assertEqual(self.peer("p").held, held)
        self.assertEqual(self.result(self.store.usage(_IP_A)), (0, 0, 1))
        self.assertEqual(self.result(self.store.usage(_IP_B)), (1, held, 1))

    def test_takeOverRefilesPartitions(self) -> None:
        """
        After a C{takeOver} from another address, a view groups the member
        by its new observed address.
        """
        self.register("p", _IP_A)
        self.register("q", _IP_A)
        self.join("p")
        self.join("q")
        _, view = self.lookup("q", count=10)
        self.assertEqual(view.groupSize(_observedIP, _IP_A), 2)
        new = self.session("p", _IP_B, token="new")
        self.assertTrue(self.result(self.store.takeOver(new, "token-p", {})))
        _, view = self.lookup("q", count=10)
        self.assertEqual(view.groupSize(_observedIP, _IP_A), 1)
        self.assertEqual(_ids(view.sampleGroup(_observedIP, _IP_B, 5)), ["p"])

    # touch -----------------------------------------------------------------

    def test_touch(self) -> None:
        """
        C{touch} fires with C{True} and records the peer's new deadline.
        """
        self.register("p")
        self.assertIs(self.result(self.store.touch("p", 250.0)), True)
        self.assertEqual(self.peer("p").deadline, 250.0)

    def test_touchUnknown(self) -> None:
        """
        C{touch} of a PeerID that is not registered fires with C{False}.
        """
        self.assertIs(self.result(self.store.touch("p", 250.0)), False)
        self.assertIsNone(self.result(self.store.peer("p")))

    def test_touchedPeerDoesNotExpire(self) -> None:
        """
        A peer touched until later is not expired at its first deadline,
        and is at its new one.
        """
        self.register("p", deadline=100.0)
        self.result(self.store.touch("p", 200.0))
        self.assertEqual(self.expireAt(150.0), _NOTHING)
        self.assertEqual(self.peer("p").deadline, 200.0)
        self.assertEqual(self.expireAt(201.0), (["p"], [], []))

    def test_touchEarlier(self) -> None:
        """
        A peer touched until earlier than its deadline expires at the
        earlier time.
        """
        self.register("p", deadline=100.0)
        self.result(self.store.touch("p", 50.0))
        self.assertEqual(self.expireAt(51.0), (["p"], [], []))

    # join ------------------------------------------------------------------

    def test_joinCreatesSwarm(self) -> None:
        """
        C{join} of a swarm that does not exist creates it, not
        provisioned, with the peer as its one member.
        """
        self.register("p")
        self.join("p", "s", _SEED)
        self.assertEqual(
            self.result(self.store.swarm("s")), SwarmState("s", False, 1, None, {_SEED: 1})
        )
        self.assertEqual(self.result(self.store.counts()), (1, 1))

    def test_join(self) -> None:
        """
        C{join} fires with C{True} and makes the peer a member in its
        mode until its ExpireTime, with no chunks, and records the peer's
        deadline.
        """
        self.register("p", deadline=100.0)
        self.assertIs(
            self.result(self.store.join("p", "s", _LIVESEED, 500.0, {}, 150.0, 10.0)), True
        )
        peer = self.peer("p")
        self.assertEqual(list(peer.swarms), ["s"])
        member = peer.swarms["s"]
        self.assertEqual(
            (member.swarmID, member.mode, member.expireAt, member.chunks, dict(member.stats)),
            ("s", _LIVESEED, 500.0, (), {}),
        )
        self.assertEqual(peer.deadline, 150.0)

    def test_joinUnknown(self) -> None:
        """
        C{join} by a PeerID that is not registered fires with C{False}
        and creates no swarm.
        """
        self.assertIs(
            self.result(self.store.join("p", "s", _LEECH, None, {}, 100.0, 0.0)), False
        )
        self.assertIsNone(self.result(self.store.swarm("s")))
        self.assertEqual(self.result(self.store.counts()), (0, 0))

    def test_joinMergesStats(self) -> None:
        """
        C{join} merges the peer's statistics and those of the swarm it
        joins.
        """
        self.register("p", stats={"A": 1})
        self.join("p", stats={None: {"B": 2}, "s": {"C": 3}})
        peer = self.peer("p")
        self.assertEqual(dict(peer.stats), {"A": 1, "B": 2})
        self.assertEqual(dict(peer.swarms["s"].stats), {"C": 3})

    def test_rejoin(self) -> None:
        """
        C{join} of a swarm the peer is in already sets its mode and
        ExpireTime and keeps its chunk set; the swarm still has one
        member, counted in its new mode.
        """
        self.register("p")
        self.join("p", "s", _LEECH, expireAt=50.0)
        chunks = (ChunkRange(0, 9),)
        self.result(self.store.setChunks("p", "s", chunks, 100.0))
        self.join("p", "s", _SEED, expireAt=500.0)
        member = self.peer("p").swarms["s"]
        self.assertEqual((member.mode, member.expireAt, member.chunks), (_SEED, 500.0, chunks))
        self.assertEqual(
            self.result(self.store.swarm("s")), SwarmState("s", False, 1, None, {_SEED: 1})
        )
        _, view = self.lookup("p")
        self.assertEqual(_ids(view.modeMembers(_SEED)), ["p"])
        self.assertEqual(view.modeCount(_LEECH), 0)

    def test_rejoinWithoutExpireTime(self) -> None:
        """
        A C{join} without an ExpireTime of a membership that had one makes
        it last: it is not expired at its former ExpireTime.
        """
        self.register("p", deadline=100.0)
        self.join("p", expireAt=50.0)
        self.join("p", expireAt=None)
        self.assertEqual(self.expireAt(60.0), _NOTHING)
        self.assertIsNone(self.peer("p").swarms["s"].expireAt)

    # leave -----------------------------------------------------------------

    def test_leave(self) -> None:
        """
        C{leave} fires with C{True}, ends the membership, records the
        peer's deadline, and a swarm left empty is empty since C{now}.
        """
        self.register("p")
        self.join("p")
        self.assertIs(self.result(self.store.leave("p", "s", 150.0, 20.0)), True)
        peer = self.peer("p")
        self.assertEqual(dict(peer.swarms), {})
        self.assertEqual(peer.deadline, 150.0)
        self.assertEqual(self.result(self.store.swarm("s")), SwarmState("s", False, 0, 20.0, {}))
        _, view = self.lookup("p")
        self.assertIsNone(view.member("p"))
        self.assertEqual(len(view), 0)

    def test_leaveNotMember(self) -> None:
        """
        C{leave} of a swarm the peer is not in fires with C{True} and ends
        no membership.
        """
        self.register("p")
        self.join("p", "t")
        self.assertIs(self.result(self.store.leave("p", "s", 150.0, 20.0)), True)
        self.assertEqual(list(self.peer("p").swarms), ["t"])
        self.assertIsNone(self.result(self.store.swarm("s")))

    def test_leaveUnknown(self) -> None:
        """
        C{leave} by a PeerID that is not registered fires with C{False}.
        """
        self.assertIs(self.result(self.store.leave("p", "s", 150.0, 20.0)), False)

    def test_leaveDropsChunksAndStats(self) -> None:
        """
        After a C{leave}, joining the swarm again starts with no chunks
        and no swarm-scoped statistics.
        """
        self.register("p")
        self.join("p", stats={"s": {"C": 3}})
        self.result(self.store.setChunks("p", "s", (ChunkRange(0, 9),), 100.0))
        self.result(self.store.leave("p", "s", 100.0, 10.0))
        self.join("p", now=20.0)
        member = self.peer("p").swarms["s"]
        self.assertEqual((member.chunks, dict(member.stats)), ((), {}))
        _, view = self.lookup("p", chunkID=5)
        self.assertFalse(view.hasHolders(5))

    # setChunks -------------------------------------------------------------

    def test_setChunks(self) -> None:
        """
        C{setChunks} fires with C{True}, sets the membership's chunk set
        and records the peer's deadline; the swarm's view finds the peer
        among the holders.
        """
        self.register("p")
        self.join("p")
        chunks = (ChunkRange(0, 9), ChunkRange(20, 29))
        self.assertIs(self.result(self.store.setChunks("p", "s", chunks, 170.0)), True)
        peer = self.peer("p")
        self.assertEqual(peer.swarms["s"].chunks, chunks)
        self.assertEqual(peer.deadline, 170.0)
        _, view = self.lookup("p", chunkID=25)
        self.assertTrue(view.hasHolders(25))
        self.assertEqual(_ids(view.sampleHolders(25, 5)), ["p"])
        self.assertFalse(view.hasHolders(15))
        self.assertEqual(list(view.sampleHolders(15, 5)), [])

    def test_setChunksReplaces(self) -> None:
        """
        C{setChunks} replaces the chunk set: chunks of the former set that
        the new one lacks are no longer held.
        """
        self.register("p")
        self.join("p")
        self.result(self.store.setChunks("p", "s", (ChunkRange(0, 9),), 100.0))
        self.result(self.store.setChunks("p", "s", (ChunkRange(100, 109),), 100.0))
        self.assertEqual(self.peer("p").swarms["s"].chunks, (ChunkRange(100, 109),))
        _, view = self.lookup("p", chunkID=5)
        self.assertFalse(view.hasHolders(5))
        self.assertEqual(list(view.sampleHolders(5, 5)), [])
        self.assertTrue(view.hasHolders(105))

    def test_setChunksEmpty(self) -> None:
        """
        C{setChunks} with no ranges clears the chunk set.
        """
        self.register("p")
        self.join("p")
        self.result(self.store.setChunks("p", "s", (ChunkRange(0, 9),), 100.0))
        self.assertTrue(self.result(self.store.setChunks("p", "s", (), 100.0)))
        self.assertEqual(self.peer("p").swarms["s"].chunks, ())
        _, view = self.lookup("p", chunkID=5)
        self.assertFalse(view.hasHolders(5))

    def test_setChunksNotMember(self) -> None:
        """
        C{setChunks} for a swarm the peer is not in fires with C{False}
        and makes it no member.
        """
        self.register("p")
        self.assertIs(
            self.result(self.store.setChunks("p", "s", (ChunkRange(0, 9),), 100.0)), False
        )
        self.assertEqual(dict(self.peer("p").swarms), {})
        self.assertIsNone(self.result(self.store.swarm("s")))

    def test_setChunksUnknown(self) -> None:
        """
        C{setChunks} by a PeerID that is not registered fires with
        C{False}.
        """
        self.assertIs(
            self.result(self.store.setChunks("p", "s", (ChunkRange(0, 9),), 100.0)), False
        )

    # keepStats -------------------------------------------------------------

    def test_keepStats(self) -> None:
        """
        C{keepStats} fires with C{True} and merges the peer's statistics
        and its memberships', keeping the latest value of each property,
        and records the deadline given.
        """
        self.register("p", stats={"A": 1, "B": 2})
        self.join("p", stats={"s": {"C": 3}})
        update: StatsUpdate = {None: {"B": 20}, "s": {"C": 30, "D": "four"}}
        self.assertIs(self.result(self.store.keepStats("p", update, 180.0)), True)
        peer = self.peer("p")
        self.assertEqual(dict(peer.stats), {"A": 1, "B": 20})
        self.assertEqual(dict(peer.swarms["s"].stats), {"C": 30, "D": "four"})
        self.assertEqual(peer.deadline, 180.0)

    def test_keepStatsWithoutDeadline(self) -> None:
        """
        C{keepStats} without a deadline (a STAT_QUERY's answer) leaves the
        peer's deadline alone.
        """
        self.register("p", deadline=100.0)
        self.assertTrue(self.result(self.store.keepStats("p", {None: {"A": 1}}, None)))
        peer = self.peer("p")
        self.assertEqual(peer.deadline, 100.0)
        self.assertEqual(dict(peer.stats), {"A": 1})

    def test_keepStatsOfOtherSwarm(self) -> None:
        """
        C{keepStats} drops the statistics of a swarm the peer is not in:
        they make no membership, and a later JOIN of that swarm does not
        find them.
        """
        self.register("p")
        before = self.peer("p").held
        self.assertTrue(self.result(self.store.keepStats("p", {"t": {"C": 3}}, 100.0)))
        peer = self.peer("p")
        self.assertEqual(dict(peer.swarms), {})
        self.assertEqual(peer.held, before)
        self.join("p", "t")
        self.assertEqual(dict(self.peer("p").swarms["t"].stats), {})

    def test_keepStatsUnknown(self) -> None:
        """
        C{keepStats} for a PeerID that is not registered fires with
        C{False}.
        """
        self.assertIs(self.result(self.store.keepStats("p", {None: {"A": 1}}, 100.0)), False)
        self.assertIsNone(self.result(self.store.peer("p")))

    # disconnect ------------------------------------------------------------

    def test_disconnect(self) -> None:
        """
        C{disconnect} fires with the peer as it was, with its memberships,
        and deletes it: it is no longer registered, counted or a member,
        and a swarm it leaves empty is empty since C{now}.
        """
        self.register("p")
        self.join("p", "s", _SEED)
        before = self.peer("p")
        gone = self.result(self.store.disconnect("p", 30.0))
        self.assertEqual(gone, before)
        self.assertIsNone(self.result(self.store.peer("p")))
        self.assertEqual(self.result(self.store.counts()), (0, 1))
        self.assertEqual(self.result(self.store.swarm("s")), SwarmState("s", False, 0, 30.0, {}))

    def test_disconnectOnce(self) -> None:
        """
        A second C{disconnect} of the peer fires with L{None}.
        """
        self.register("p")
        self.assertIsNotNone(self.result(self.store.disconnect("p", 30.0)))
        self.assertIsNone(self.result(self.store.disconnect("p", 31.0)))

    def test_disconnectConcurrently(self) -> None:
        """
        Of two C{disconnect}s of one peer made at once, one only gets the
        peer.
        """
        self.register("p")
        first = self.store.disconnect("p", 30.0)
        second = self.store.disconnect("p", 30.0)
        self.settle()
        answers = [self.successResultOf(first), self.successResultOf(second)]
        self.assertEqual(sorted(a is None for a in answers), [False, True])

    def test_disconnectUnknown(self) -> None:
        """
        C{disconnect} of a PeerID that is not registered fires with
        L{None}.
        """
        self.assertIsNone(self.result(self.store.disconnect("p", 30.0)))

    def test_disconnectOthersStay(self) -> None:
        """
        C{disconnect} of one member leaves the other members of its swarms.
        """
        self.populate(3)
        self.result(self.store.disconnect("leech-1", 30.0))
        _, view = self.lookup("leech-0", count=10)
        self.assertEqual(len(view), 2)
        self.assertEqual(sorted(_ids(view.sample(10))), ["leech-0", "leech-2"])

    # addSwarm and removeSwarm ---------------------------------------------

    def test_addSwarm(self) -> None:
        """
        C{addSwarm} creates a swarm, empty since C{now}, provisioned or
        not, and fires with C{True}.
        """
        self.assertIs(self.result(self.store.addSwarm("s", False, 5.0)), True)
        self.assertIs(self.result(self.store.addSwarm("t", True, 6.0)), True)
        self.assertEqual(self.result(self.store.swarm("s")), SwarmState("s", False, 0, 5.0, {}))
        self.assertEqual(self.result(self.store.swarm("t")), SwarmState("t", True, 0, 6.0, {}))
        self.assertEqual(
            sorted(s.swarmID for s in self.result(self.store.swarms())), ["s", "t"]
        )
        self.assertEqual(self.result(self.store.counts()), (0, 2))

    def test_addSwarmExisting(self) -> None:
        """
        C{addSwarm} of an existing swarm, not provisioned, changes nothing
        and fires with C{False}.
        """
        self.register("p")
        self.join("p")
        before = self.result(self.store.swarm("s"))
        self.assertIs(self.result(self.store.addSwarm("s", False, 5.0)), False)
        self.assertEqual(self.result(self.store.swarm("s")), before)

    def test_provisionExisting(self) -> None:
        """
        C{addSwarm} provisioned of an existing swarm makes it provisioned,
        keeping its members, and fires with C{True}; a second time it
        changes nothing and fires with C{False}.
        """
        self.register("p")
        self.join("p")
        self.assertIs(self.result(self.store.addSwarm("s", True, 5.0)), True)
        self.assertEqual(
            self.result(self.store.swarm("s")), SwarmState("s", True, 1, None, {_LEECH: 1})
        )
        self.assertIs(self.result(self.store.addSwarm("s", True, 6.0)), False)

    def test_addSwarmKeepsProvisioned(self) -> None:
        """
        C{addSwarm} not provisioned of a provisioned swarm leaves it
        provisioned and fires with C{False}.
        """
        self.result(self.store.addSwarm("s", True, 5.0))
        self.assertIs(self.result(self.store.addSwarm("s", False, 6.0)), False)
        self.assertTrue(self.swarmState("s").provisioned)

    def test_removeSwarm(self) -> None:
        """
        C{removeSwarm} ends every membership of the swarm, fires with
        their number and forgets the swarm; the peers stay registered,
        with their other memberships.
        """
        self.populate(2, seeds=1)
        self.join("leech-0", "t")
        self.assertEqual(self.result(self.store.removeSwarm("s", 40.0)), 3)
        self.assertIsNone(self.result(self.store.swarm("s")))
        self.assertEqual(self.result(self.store.counts()), (3, 1))
        self.assertEqual(list(self.peer("leech-0").swarms), ["t"])
        self.assertEqual(dict(self.peer("seed-0").swarms), {})
        self.assertEqual(self.result(self.store.lookup("seed-0", "s", 5, None))[1], None)

    def test_removeSwarmEmpty(self) -> None:
        """
        C{removeSwarm} of an empty swarm, even provisioned, forgets it and
        fires with 0.
        """
        self.result(self.store.addSwarm("s", True, 5.0))
        self.assertEqual(self.result(self.store.removeSwarm("s", 40.0)), 0)
        self.assertIsNone(self.result(self.store.swarm("s")))

    def test_removeSwarmUnknown(self) -> None:
        """
        C{removeSwarm} of a swarm that does not exist fires with L{None}.
        """
        self.assertIsNone(self.result(self.store.removeSwarm("s", 40.0)))

    # expire ----------------------------------------------------------------

    def test_expirePeer(self) -> None:
        """
        C{expire} after a peer's deadline takes it out with its
        memberships and reports it as it was.
        """
        self.register("p", deadline=100.0)
        self.join("p", "s", _SEED)
        before = self.peer("p")
        self.assertEqual(self.expireAt(99.0), _NOTHING)
        self.assertEqual(self.peer("p"), before)
        expired = self.result(self.store.expire(101.0, _LIFETIME))
        self.assertEqual(_expiredNames(expired), (["p"], [], []))
        self.assertEqual(list(expired.peers[0].swarms), ["s"])
        self.assertIsNone(self.result(self.store.peer("p")))
        self.assertEqual(self.swarmState("s").size, 0)

    def test_expireOnce(self) -> None:
        """
        A second C{expire} at the same time reports nothing again.
        """
        self.register("p", deadline=100.0)
        self.register("q", deadline=200.0)
        self.join("q", expireAt=50.0, deadline=200.0)
        self.result(self.store.addSwarm("t", False, 0.0))
        self.assertEqual(self.expireAt(101.0), (["p"], [("s", "q")], ["t"]))
        self.assertEqual(self.expireAt(101.0), _NOTHING)

    def test_expireConcurrently(self) -> None:
        """
        Of two C{expire}s made at once, each peer, membership and swarm
        due is reported by one only.
        """
        self.register("p", deadline=100.0)
        self.register("q", deadline=200.0)
        self.join("q", expireAt=50.0, deadline=200.0)
        self.result(self.store.addSwarm("t", False, 0.0))
        first = self.store.expire(101.0, _LIFETIME)
        second = self.store.expire(101.0, _LIFETIME)
        self.settle()
        a = _expiredNames(self.successResultOf(first))
        b = _expiredNames(self.successResultOf(second))
        self.assertEqual(
            (sorted(a[0] + b[0]), sorted(a[1] + b[1]), sorted(a[2] + b[2])),
            (["p"], [("s", "q")], ["t"]),
        )

    def test_expireMembership(self) -> None:
        """
        C{expire} after a membership's ExpireTime ends it and reports it;
        the peer stays registered.
        """
        self.register("p", deadline=100.0)
        self.join("p", "s", expireAt=50.0)
        self.join("p", "t")
        self.assertEqual(self.expireAt(49.0), _NOTHING)
        self.assertEqual(self.expireAt(51.0), ([], [("s", "p")], []))
        self.assertEqual(list(self.peer("p").swarms), ["t"])
        self.assertEqual(self.swarmState("s").size, 0)

    def test_expireEmptySwarm(self) -> None:
        """
        C{expire} forgets a swarm not provisioned once it has been empty
        for the lifetime given, not before.
        """
        self.register("p")
        self.join("p")
        self.result(self.store.leave("p", "s", 100.0, 10.0))
        self.assertEqual(self.expireAt(10.0 + _LIFETIME - 1), _NOTHING)
        self.assertIsNotNone(self.result(self.store.swarm("s")))
        self.assertEqual(self.expireAt(10.0 + _LIFETIME + 1), ([], [], ["s"]))
        self.assertIsNone(self.result(self.store.swarm("s")))
        self.assertEqual(self.result(self.store.counts()), (1, 0))

    def test_expireAddedSwarm(self) -> None:
        """
        A swarm added not provisioned, and never joined, is forgotten once
        it has been empty for the lifetime.
        """
        self.result(self.store.addSwarm("s", False, 10.0))
        self.assertEqual(self.expireAt(10.0 + _LIFETIME - 1), _NOTHING)
        self.assertEqual(self.expireAt(10.0 + _LIFETIME + 1), ([], [], ["s"]))

    def test_expireKeepsProvisioned(self) -> None:
        """
        C{expire} never forgets a provisioned swarm, however long it has
        been empty.
        """
        self.result(self.store.addSwarm("s", True, 0.0))
        self.register("p")
        self.join("p", "t")
        self.result(self.store.addSwarm("t", True, 0.0))
        self.result(self.store.leave("p", "t", 100.0, 10.0))
        self.assertEqual(self.expireAt(10.0 + 100 * _LIFETIME), (["p"], [], []))
        self.assertEqual(
            sorted(s.swarmID for s in self.result(self.store.swarms())), ["s", "t"]
        )

    def test_expireKeepsRejoinedSwarm(self) -> None:
        """
        A swarm that became empty and was joined again is not forgotten
        while it has members.
        """
        self.register("p", deadline=1000.0)
        self.join("p", deadline=1000.0)
        self.result(self.store.leave("p", "s", 1000.0, 10.0))
        self.join("p", deadline=1000.0, now=20.0)
        self.assertEqual(self.expireAt(10.0 + _LIFETIME + 1), _NOTHING)
        self.assertEqual(self.swarmState("s").size, 1)

    def test_expireSwarmOfExpiredPeer(self) -> None:
        """
        A swarm left empty by an expired peer is forgotten once it has
        been empty for the lifetime after the expiry.
        """
        self.register("p", deadline=100.0)
        self.join("p")
        self.assertEqual(self.expireAt(101.0), (["p"], [], []))
        self.assertEqual(self.expireAt(101.0 + _LIFETIME + 1), ([], [], ["s"]))

    def test_expireReleases(self) -> None:
        """
        An expired peer's session and what it held leave its address's
        account.
        """
        self.register("p", deadline=100.0, stats={"A": 1})
        self.join("p")
        self.expireAt(101.0)
        self.assertEqual(self.result(self.store.usage(_IP_A)), (0, 0, 0))
        self.assertEqual(self.result(self.store.counts()), (0, 1))

    # What a peer holds ----------------------------------------------------

    def test_joinHolds(self) -> None:
        """
        A membership adds what the cost model says it holds.
        """
        self.register("p")
        before = self.peer("p").held
        self.join("p")
        held = before + self.store.costs.memberCost("s")
        self.assertEqual(self.peer("p").held, held)
        self.assertEqual(self.result(self.store.usage(_IP_A))[1], held)

    def test_setChunksHolds(self) -> None:
        """
        A chunk set adds what the cost model says it holds, and replacing
        it with none takes it back.
        """
        self.register("p")
        self.join("p")
        before = self.peer("p").held
        chunks = (ChunkRange(0, 9), ChunkRange(1000, 1999))
        self.result(self.store.setChunks("p", "s", chunks, 100.0))
        self.assertEqual(self.peer("p").held, before + self.store.costs.chunksCost(chunks))
        self.result(self.store.setChunks("p", "s", (), 100.0))
        self.assertEqual(self.peer("p").held, before)

    def test_keepStatsHolds(self) -> None:
        """
        Merging statistics adds what the cost model says the merge adds,
        for the peer's and for a membership's.
        """
        self.register("p", stats={"A": 1})
        self.join("p")
        peer = self.peer("p")
        update: StatsUpdate = {None: {"A": 123456789, "B": "text"}, "s": {"C": 3}}
        costs = self.store.costs
        added = costs.statsCost(peer.stats or None, update[None]) + costs.statsCost(
            peer.swarms["s"].stats or None, update["s"]
        )
        self.result(self.store.keepStats("p", update, None))
        self.assertEqual(self.peer("p").held, peer.held + added)
        self.assertEqual(self.result(self.store.usage(_IP_A))[1], peer.held + added)

    def test_leaveReleases(self) -> None:
        """
        A C{leave} takes back what the membership, its chunk set and its
        statistics held.
        """
        self.register("p", stats={"A": 1})
        before = self.peer("p").held
        self.join("p", stats={"s": {"C": 3}})
        self.result(self.store.setChunks("p", "s", (ChunkRange(0, 9),), 100.0))
        self.result(self.store.leave("p", "s", 100.0, 10.0))
        self.assertEqual(self.peer("p").held, before)
        self.assertEqual(self.result(self.store.usage(_IP_A)), (1, before, 1))

    def test_removeSwarmReleases(self) -> None:
        """
        C{removeSwarm} takes back what the memberships it ends held.
        """
        self.register("p")
        before = self.peer("p").held
        self.join("p", stats={"s": {"C": 3}})
        self.result(self.store.setChunks("p", "s", (ChunkRange(0, 9),), 100.0))
        self.result(self.store.removeSwarm("s", 10.0))
        self.assertEqual(self.peer("p").held, before)

    def test_disconnectReleases(self) -> None:
        """
        Once every peer has disconnected, the store holds nothing for any
        address.
        """
        self.register("p", _IP_A, stats={"A": 1})
        self.register("q", _IP6_A)
        self.join("p", stats={"s": {"C": 3}})
        self.join("q")
        self.result(self.store.setChunks("p", "s", (ChunkRange(0, 9),), 100.0))
        self.result(self.store.disconnect("p", 10.0))
        self.result(self.store.disconnect("q", 10.0))
        self.assertEqual(self.result(self.store.usage(_IP_A)), (0, 0, 0))
        self.assertEqual(self.result(self.store.usage(_IP6_A)), (0, 0, 0))

    # Values ----------------------------------------------------------------

    def test_valuesDoNotChange(self) -> None:
        """
        A peer value read before writes is not changed by them; a new read
        shows them.
        """
        self.register("p", stats={"A": 1})
        self.join("p", stats={"s": {"C": 3}})
        before = self.peer("p")
        frozen = copy.deepcopy(before)
        store = self.store
        self.result(store.keepStats("p", {None: {"A": 2, "B": 3}, "s": {"C": 4}}, 150.0))
        self.result(store.setChunks("p", "s", (ChunkRange(0, 9),), 160.0))
        self.join("p", "s", _SEED, expireAt=400.0, deadline=170.0)
        self.join("p", "t", deadline=180.0)
        self.result(store.touch("p", 190.0))
        self.assertEqual(before, frozen)
        after = self.peer("p")
        self.assertEqual(dict(after.stats), {"A": 2, "B": 3})
        self.assertEqual(sorted(after.swarms), ["s", "t"])
        self.assertEqual(
            after.swarms["s"], MemberState("s", _SEED, 400.0, (ChunkRange(0, 9),), {"C": 4})
        )
        self.assertEqual(after.deadline, 190.0)

    def test_removedValuesDoNotChange(self) -> None:
        """
        A peer value read before a C{leave} and a C{disconnect} still
        shows what it showed.
        """
        self.register("p", stats={"A": 1})
        self.join("p", stats={"s": {"C": 3}})
        before = self.peer("p")
        frozen = copy.deepcopy(before)
        self.result(self.store.leave("p", "s", 100.0, 10.0))
        self.result(self.store.disconnect("p", 10.0))
        self.assertEqual(before, frozen)

    def test_swarmValuesDoNotChange(self) -> None:
        """
        Swarm values and lists read before writes are not changed by
        them.
        """
        self.register("p")
        self.join("p")
        swarm = self.result(self.store.swarm("s"))
        frozen = copy.deepcopy(swarm)
        swarms = self.result(self.store.swarms())
        peers = self.result(self.store.peers())
        self.register("q")
        self.join("q", "s", _SEED)
        self.join("q", "t")
        self.assertEqual(swarm, frozen)
        self.assertEqual([s.swarmID for s in swarms], ["s"])
        self.assertEqual(_ids(peers), ["p"])
        self.assertEqual(
            self.result(self.store.swarm("s")),
            SwarmState("s", False, 2, None, {_LEECH: 1, _SEED: 1}),
        )

    def test_readsAgree(self) -> None:
        """
        Reads made with no write between them answer equal values,
        whichever read answers them: values are compared by what they
        hold, not by identity.
        """
        self.register("p", stats={"A": 1})
        self.join("p", "s", _SEED, stats={"s": {"C": 3}})
        peer = self.peer("p")
        self.assertEqual(self.peer("p"), peer)
        self.assertEqual(self.lookup("p")[0], peer)
        peers = self.result(self.store.peers())
        self.assertEqual(list(peers), [peer])
        swarms = self.result(self.store.swarms())
        self.assertEqual(list(swarms), [self.result(self.store.swarm("s"))])

    # lookup and its view --------------------------------------------------

    def test_lookup(self) -> None:
        """
        C{lookup} fires with the peer, as C{peer} answers it, and a view
        of the swarm: its SwarmID and its size.
        """
        self.populate(3)
        peer, view = self.lookup("leech-0")
        self.assertEqual(peer, self.peer("leech-0"))
        self.assertTrue(verifyObject(ISwarmView, view))
        self.assertEqual(view.swarmID, "s")
        self.assertEqual(len(view), 3)

    def test_lookupUnknownSwarm(self) -> None:
        """
        C{lookup} of a swarm that does not exist fires with the peer and
        no view.
        """
        self.register("p")
        peer, view = self.result(self.store.lookup("p", "s", 5, None))
        self.assertEqual(peer, self.peer("p"))
        self.assertIsNone(view)

    def test_lookupUnknownPeer(self) -> None:
        """
        C{lookup} by a PeerID that is not registered fires with no peer
        and the view of the swarm.
        """
        self.populate(2)
        peer, view = self.lookup("nobody")
        self.assertIsNone(peer)
        self.assertEqual(len(view), 2)

    def test_viewMember(self) -> None:
        """
        A view's members provide L{ISwarmMember} with the facts of the
        peer and of its membership.
        """
        session = self.register("p", _IP_B)
        self.join("p", "s", _LIVESEED)
        _, view = self.lookup("p")
        member = view.member("p")
        assert member is not None
        self.assertTrue(verifyObject(ISwarmMember, member))
        self.assertEqual(
            (
                member.peerID,
                member.swarmID,
                member.mode,
                member.observedIP,
                member.observedPort,
                tuple(member.addresses),
                member.connectedAt,
            ),
            ("p", "s", _LIVESEED, _IP_B, session.observedPort, session.addresses, 0.0),
        )
        self.assertIsNone(view.member("nobody"))

    def test_memberContact(self) -> None:
        """
        A member's C{contact} is its addresses, observed IP address and
        port, and it changes when a takeover changes one of them.
        """
        session = self.register("p", _IP_B)
        self.join("p", "s")
        _, view = self.lookup("p")
        member = self.member(view, "p")
        self.assertEqual(
            tuple(member.contact),
            (tuple(session.addresses), session.observedIP, session.observedPort),
        )
        moved = session._replace(observedIP=_IP_A, observedPort=4242)
        self.assertTrue(self.result(self.store.takeOver(moved, session.token, {})))
        _, view = self.lookup("p")
        self.assertEqual(
            tuple(self.member(view, "p").contact), (tuple(session.addresses), _IP_A, 4242)
        )

    def test_viewCurrent(self) -> None:
        """
        C{current} gives the view's member for anything that carries its
        PeerID (the view's own member, or a value standing for it), and
        L{None} for what names no member or has no PeerID.
        """
        self.register("p")
        self.register("q")
        self.join("p", "s")
        self.join("q", "t")
        _, view = self.lookup("p")
        own = self.member(view, "p")
        p, q = self.peer("p"), self.peer("q")
        for candidate in (own, SwarmMember.of(p, p.swarms["s"])):
            current = view.current(candidate)
            assert current is not None
            self.assertEqual((current.peerID, current.swarmID), ("p", "s"))
        self.assertIsNone(view.current(SwarmMember.of(q, q.swarms["t"])))
        for junk in ("p", None, object()):
            self.assertIsNone(view.current(junk))

    def test_memberDeadline(self) -> None:
        """
        A member's deadline is the earlier of its session's deadline and
        its membership's ExpireTime.
        """
        self.register("p", deadline=100.0)
        self.register("q", deadline=100.0)
        self.register("r", deadline=100.0)
        self.join("p", expireAt=80.0)
        self.join("q", expireAt=150.0)
        self.join("r")
        _, view = self.lookup("p", count=10)
        deadlines = {m: self.member(view, m).deadline for m in "pqr"}
        self.assertEqual(deadlines, {"p": 80.0, "q": 100.0, "r": 100.0})

    def test_memberDeadlineFollows(self) -> None:
        """
        A member's deadline follows its session's (moved by C{touch}) and
        its membership's end (changed by a JOIN again), whichever is
        earlier.
        """
        self.register("p", deadline=100.0)
        self.register("q", deadline=100.0)
        self.join("p", expireAt=80.0)
        self.join("q", expireAt=150.0)
        for peerID in "pq":
            self.assertTrue(self.result(self.store.touch(peerID, 200.0)))
        _, view = self.lookup("p", count=10)
        self.assertEqual(
            {m: self.member(view, m).deadline for m in "pq"}, {"p": 80.0, "q": 150.0}
        )
        self.join("p", expireAt=None, deadline=120.0)
        self.join("q", expireAt=110.0, deadline=120.0)
        _, view = self.lookup("p", count=10)
        self.assertEqual(
            {m: self.member(view, m).deadline for m in "pq"}, {"p": 120.0, "q": 110.0}
        )

    def test_memberStat(self) -> None:
        """
        A member's C{stat} answers the value scoped to its swarm when
        there is one, else the peer's, else L{None}.
        """
        self.register("p", stats={"A": 1, "B": 2})
        self.join("p", stats={"s": {"A": 10, "C": "three"}})
        _, view = self.lookup("p")
        member = view.member("p")
        assert member is not None
        self.assertEqual(
            [member.stat(name) for name in ("A", "B", "C", "Z")], [10, 2, "three", None]
        )

    def test_memberHolds(self) -> None:
        """
        A member's C{holds} says whether its chunk set holds a chunk.
        """
        self.register("p")
        self.join("p")
        self.result(
            self.store.setChunks("p", "s", (ChunkRange(0, 9), ChunkRange(20, 29)), 100.0)
        )
        _, view = self.lookup("p", chunkID=5)
        member = view.member("p")
        assert member is not None
        self.assertEqual(
            [member.holds(c) for c in (0, 9, 10, 19, 20, 29, 30)],
            [True, True, False, False, True, True, False],
        )

    def test_membership(self) -> None:
        """
        A view's C{membership} answers the requester's own membership,
        even in a swarm far larger than the count asked for, and L{None}
        for a requester that is not a member.
        """
        self.populate(40)
        self.register("stranger")
        peer, view = self.lookup("leech-17", count=1)
        assert peer is not None
        member = view.membership(peer)
        assert member is not None
        self.assertEqual((member.peerID, member.swarmID), ("leech-17", "s"))
        self.assertEqual(self.member(view, "leech-17").peerID, "leech-17")
        stranger, view = self.lookup("stranger", count=1)
        assert stranger is not None
        self.assertIsNone(view.membership(stranger))

    def test_viewHoldsCount(self) -> None:
        """
        A view holds at least the count asked for when the swarm has that
        many members: a sample of that many is complete.
        """
        peerIDs = self.populate(40)
        _, view = self.lookup("nobody", count=7)
        self.assertEqual(len(view), 40)
        chosen = view.sample(7)
        self.assertEqual(len(chosen), 7)
        self.assertSample(chosen, 7, peerIDs)

    def test_viewHoldsSmallSwarm(self) -> None:
        """
        A C{lookup} asking for as many members as the swarm has, or more,
        gives a view that holds them all.
        """
        peerIDs = self.populate(6, seeds=1)
        _, view = self.lookup("nobody", count=7)
        self.assertEqual(sorted(_ids(view.sample(7))), sorted(peerIDs))
        self.assertEqual(sorted(_ids(view)), sorted(peerIDs))

    def test_viewHoldsSeeds(self) -> None:
        """
        A view holds every SEED and LIVESEED member, however few members
        were asked for, and counts each mode of the whole swarm.
        """
        self.populate(40, seeds=3, liveseeds=2)
        _, view = self.lookup("leech-0", count=1)
        self.assertEqual(len(view), 45)
        self.assertEqual(sorted(_ids(view.modeMembers(_SEED))), ["seed-0", "seed-1", "seed-2"])
        self.assertEqual(sorted(_ids(view.modeMembers(_LIVESEED))), ["live-0", "live-1"])
        self.assertEqual(
            [view.modeCount(mode) for mode in (_LEECH, _SEED, _LIVESEED)], [40, 3, 2]
        )
        for peerID in ("seed-0", "seed-1", "seed-2", "live-0", "live-1"):
            self.assertIsNotNone(view.member(peerID), peerID)
        self.assertLessEqual({"seed-0", "live-1", "leech-0"}, set(_ids(view)))

    def test_modeMembersLeech(self) -> None:
        """
        A view's C{modeMembers} refuses LEECH, which is not indexed.
        """
        self.populate(2)
        _, view = self.lookup("leech-0")
        self.assertRaises(ValueError, view.modeMembers, _LEECH)

    def test_sample(self) -> None:
        """
        A view's C{sample} answers at most the count asked for, distinct
        members of the swarm, only those the predicate accepts.
        """
        peerIDs = self.populate(30, seeds=2)
        _, view = self.lookup("leech-0", count=10)
        self.assertSample(view.sample(10), 10, peerIDs)
        self.assertEqual(list(view.sample(0)), [])
        odd = view.sample(10, lambda m: int(m.peerID.rsplit("-", 1)[1]) % 2 == 1)
        self.assertSample(odd, 10, [p for p in peerIDs if int(p.rsplit("-", 1)[1]) % 2 == 1])
        seeds = view.sample(10, lambda m: m.mode is _SEED)
        self.assertEqual(sorted(_ids(seeds)), ["seed-0", "seed-1"])
        self.assertEqual(list(view.sample(10, lambda m: False)), [])

    def test_sampleComplete(self) -> None:
        """
        C{sample} of a count as large as the view holds answers every
        member it holds; a view that says it is complete holds the whole
        swarm.
        """
        peerIDs = self.populate(20)
        _, view = self.lookup("leech-0", count=5)
        held = sorted(_ids(view))
        self.assertEqual(sorted(_ids(view.sample(len(held)))), held)
        if view.complete:
            self.assertEqual(held, sorted(peerIDs))

    def test_sampleUniform(self) -> None:
        """
        A view's C{sample} draws members uniformly: in 2,000 draws of one
        member of ten, each comes up between 100 and 320 times (200
        expected).
        """
        peerIDs = self.populate(10)
        _, view = self.lookup("nobody", count=10)
        drawn = Counter(_ids(m for _ in range(2000) for m in view.sample(1)))
        self.assertEqual(sorted(drawn), sorted(peerIDs))
        self.assertGreaterEqual(min(drawn.values()), 100, drawn)
        self.assertLessEqual(max(drawn.values()), 320, drawn)

    def test_lookupsReachEveryMember(self) -> None:
        """
        Repeated C{lookup}s of a few members each reach every member of
        the swarm, about evenly: in 300 lookups of one member of ten,
        each is drawn between 5 and 80 times (30 expected).
        """
        peerIDs = self.populate(10)
        drawn: Counter[str] = Counter()
        for _ in range(300):
            _, view = self.lookup("nobody", count=1)
            drawn.update(_ids(view.sample(1)))
        self.assertEqual(sorted(drawn), sorted(peerIDs))
        self.assertGreaterEqual(min(drawn.values()), 5, drawn)
        self.assertLessEqual(max(drawn.values()), 80, drawn)

    def test_sampleHolders(self) -> None:
        """
        A view of a C{lookup} for a chunk holds at least the count asked
        for of its holders, when there are that many; C{sampleHolders}
        answers only holders the predicate accepts, distinct, at most the
        count.
        """
        peerIDs = self.populate(30, holders=6)
        holders = peerIDs[:6]
        _, view = self.lookup("nobody", count=4, chunkID=7)
        self.assertTrue(view.hasHolders(7))
        chosen = view.sampleHolders(7, 4)
        self.assertEqual(len(chosen), 4)
        self.assertSample(chosen, 4, holders)
        self.assertSample(view.sampleHolders(7, 100), 100, holders)
        self.assertSample(
            view.sampleHolders(7, 100, lambda m: m.peerID != "leech-0"), 100, holders[1:]
        )
        self.assertEqual(list(view.sampleHolders(7, 0)), [])
        self.assertFalse(view.hasHolders(10))
        self.assertEqual(list(view.sampleHolders(10, 5)), [])

    def test_sampleHoldersComplete(self) -> None:
        """
        C{sampleHolders} of a count at least the number of holders, in a
        view of a C{lookup} that asked for that many, answers them all.
        """
        peerIDs = self.populate(30, holders=6)
        _, view = self.lookup("nobody", count=6, chunkID=3)
        self.assertEqual(sorted(_ids(view.sampleHolders(3, 6))), sorted(peerIDs[:6]))

    def test_sampleHoldersUniform(self) -> None:
        """
        C{sampleHolders} draws holders uniformly: in 1,200 draws of one
        holder of six, each comes up between 100 and 320 times (200
        expected).
        """
        peerIDs = self.populate(12, holders=6)
        _, view = self.lookup("nobody", count=6, chunkID=3)
        drawn = Counter(_ids(m for _ in range(1200) for m in view.sampleHolders(3, 1)))
        self.assertEqual(sorted(drawn), sorted(peerIDs[:6]))
        self.assertGreaterEqual(min(drawn.values()), 100, drawn)
        self.assertLessEqual(max(drawn.values()), 320, drawn)

    def test_sampleMode(self) -> None:
        """
        A view's C{sampleMode} answers only members in the mode asked
        for, accepted by the predicate, distinct, at most the count;
        every SEED when the count allows.
        """
        peerIDs = self.populate(20, seeds=3, liveseeds=1)
        _, view = self.lookup("nobody", count=5)
        leeches = view.sampleMode(_LEECH, 5)
        held = [m for m in view if m.mode is _LEECH]
        self.assertEqual(len(leeches), min(5, len(held)))
        self.assertSample(leeches, 5, peerIDs[:20])
        self.assertEqual(
            sorted(_ids(view.sampleMode(_SEED, 10))), ["seed-0", "seed-1", "seed-2"]
        )
        self.assertEqual(
            _ids(view.sampleMode(_SEED, 10, lambda m: m.peerID == "seed-1")), ["seed-1"]
        )
        self.assertEqual(_ids(view.sampleMode(_LIVESEED, 10)), ["live-0"])
        self.assertEqual(len(view.sampleMode(_SEED, 2)), 2)

    def test_sampleGroup(self) -> None:
        """
        A view's C{sampleGroup} answers only members of the group asked
        for, accepted by the predicate, distinct, at most the count; the
        group sizes add up to the members the view holds.
        """
        ips = (_IP_A, _IP_B, _IP_C)
        peerIDs = self.populate(30, ips=ips)
        byIP = {ip: peerIDs[i::3] for i, ip in enumerate(ips)}
        _, view = self.lookup("nobody", count=6)
        for ip in ips:
            chosen = view.sampleGroup(_observedIP, ip, 4)
            self.assertSample(chosen, 4, byIP[ip])
            self.assertLessEqual(len(chosen), view.groupSize(_observedIP, ip))
            self.assertLessEqual(view.groupSize(_observedIP, ip), 10)
        self.assertEqual(
            sum(view.groupSize(_observedIP, ip) for ip in ips), len(list(view))
        )
        self.assertEqual(view.groupSize(_observedIP, "198.51.100.1"), 0)
        self.assertEqual(list(view.sampleGroup(_observedIP, "198.51.100.1", 4)), [])
        self.assertEqual(
            list(view.sampleGroup(_observedIP, _IP_A, 4, lambda m: False)), []
        )

    def test_sampleGroupComplete(self) -> None:
        """
        In a view of a C{lookup} that asked for the whole swarm, the
        groups are exact: C{groupSize} counts each group's members and
        C{sampleGroup} of that many answers them all.
        """
        peerIDs = self.populate(6, ips=(_IP_A, _IP_A, _IP_B))
        _, view = self.lookup("nobody", count=6)
        self.assertEqual(
            [view.groupSize(_observedIP, ip) for ip in (_IP_A, _IP_B)], [4, 2]
        )
        self.assertEqual(
            sorted(_ids(view.sampleGroup(_observedIP, _IP_B, 2))), [peerIDs[2], peerIDs[5]]
        )
        self.register("late", _IP_B)
        self.join("late")
        _, view = self.lookup("nobody", count=7)
        self.assertEqual(view.groupSize(_observedIP, _IP_B), 3)

    def test_iterate(self) -> None:
        """
        Iterating over a view gives distinct members of the swarm, no more
        than its size, with the requester's membership and every SEED.
        """
        peerIDs = self.populate(30, seeds=2)
        _, view = self.lookup("leech-3", count=4)
        held = _ids(view)
        self.assertEqual(len(held), len(set(held)))
        self.assertLessEqual(len(held), len(view))
        self.assertLessEqual(set(held), set(peerIDs))
        self.assertLessEqual({"leech-3", "seed-0", "seed-1"}, set(held))
        self.assertGreaterEqual(len(held), 4)
        for member in view:
            self.assertEqual(member.swarmID, "s")
