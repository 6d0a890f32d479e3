"""
Tests for L{ppsp.tracker.statquerier}: the tracker's STAT_QUERY to peers,
against a fake peer stat resource behind L{StubTreq} (and one real socket),
and the polling service on a L{Clock}.
"""

from __future__ import annotations

import random
from typing import Any, Callable, List, Optional, Sequence, Tuple, cast

from treq.client import HTTPClient
from treq.testing import StubTreq
from twisted.internet.defer import CancelledError, Deferred, fail, inlineCallbacks, succeed
from twisted.internet.task import Clock
from twisted.internet.error import ConnectionRefusedError
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.iweb import IAgent
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from zope.interface import implementer
from zope.interface.verify import verifyObject

from ppsp.codec import XML_CODEC
from ppsp.interfaces import IPollLease, StoreUnavailable
from ppsp.messages import (
    ConnectRequest,
    ConnectResponse,
    DisconnectRequest,
    ErrorResponse,
    FindRequest,
    FindResponse,
    JoinRequest,
    PeerAddress,
    PeerMode,
    ProtocolError,
    ResponseCode,
    Stat,
    StatQueryRequest,
    StatQueryResponse,
    StatReportRequest,
)
from ppsp.test.copyingstore import CopyingPeerStore
from ppsp.test.helpers import TrackerHarness
from ppsp.tracker.core import Origin, Tracker
from ppsp.tracker.store import MemoryPeerStore
from ppsp.tracker.values import PeerState
from ppsp.tracker.statquerier import (
    BadStatAnswer,
    NoStatPort,
    PeerUnreachable,
    SoleLease,
    StatQuerier,
    StatQueryResult,
    StatQueryService,
    UnknownPeer,
    makeStatQueryClient,
    statQueryURL,
)

Answer = Callable[[StatQueryRequest], Any]


class FakePeerStats(Resource):
    """
    Stands in for a peer's STAT_QUERY resource: it records every request
    (Host header, path, method, content type, decoded query) and answers
    with what C{answer} returns for the query: a response message, raw
    bytes, or L{NOT_DONE_YET} to never answer.
    """

    isLeaf = True

    def __init__(self, answer: Optional[Answer] = None, stats: Tuple[Stat, ...] = ()) -> None:
        super().__init__()
        self.seen: List[Tuple[bytes, bytes, bytes, Optional[bytes], StatQueryRequest]] = []
        self.pending: List[Request] = []
        self.stats = stats
        self.answer = answer if answer is not None else self.honest

    def honest(self, query: StatQueryRequest) -> Any:
        return StatQueryResponse(query.transactionID, query.peerID, self.stats)

    def render(self, request: Request) -> Any:
        assert request.content is not None
        query = XML_CODEC.decodeRequest(request.content.read())
        assert isinstance(query, StatQueryRequest)
        self.seen.append(
            (
                cast(bytes, request.getHeader(b"host")),
                request.uri,
                request.method,
                request.getHeader(b"content-type"),
                query,
            )
        )
        result = self.answer(query)
        if result is NOT_DONE_YET:
            self.pending.append(request)
            return NOT_DONE_YET
        if isinstance(result, bytes):
            return result
        request.setHeader(b"content-type", XML_CODEC.contentType)
        return XML_CODEC.encodeResponse(result)


@implementer(IAgent)
class RefusingAgent:
    """
    An agent whose every connection is refused.
    """

    def __init__(self) -> None:
        self.uris: List[bytes] = []

    def request(self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None) -> Deferred[Any]:
        self.uris.append(uri)
        return fail(ConnectionRefusedError("refused"))


class Harness(TrackerHarness):
    """
    A tracker on a clock, a fake peer stat resource behind StubTreq, and a
    querier between them.
    """

    def __init__(
        self,
        testCase: SynchronousTestCase,
        answer: Optional[Answer] = None,
        stats: Tuple[Stat, ...] = (),
        timeout: float = 5.0,
        **querier: Any,
    ) -> None:
        super().__init__(testCase)
        self.statPeer = FakePeerStats(answer, stats)
        self.stub = StubTreq(self.statPeer)
        self.querier = StatQuerier(
            self.tracker, cast(HTTPClient, self.stub), self.clock, timeout=timeout, **querier
        )

    def peerWithStatPort(
        self, peerID: str = "a", ip: str = "198.51.100.7", statPort: Optional[int] = 9000, **kw: Any
    ) -> None:
        self.connect(peerID, ip=ip, port=40001, statPort=statPort, **kw)

    def failure(self, d: Deferred[StatQueryResult], *kinds: type) -> Any:
        return self.testCase.failureResultOf(d, *kinds).value


def reconnect(h: Harness, peerID: str, ip: str, **kw: Any) -> None:
    """
    CONNECT C{peerID} again, with its session's token, from C{ip}.
    """
    response = h.send(ConnectRequest("re", peerID, authToken=h.tokens[peerID], **kw), Origin(ip, 1))
    h.testCase.assertIsInstance(response, ConnectResponse)


class AddressTests(SynchronousTestCase):
    """
    A STAT_QUERY goes to the observed IP and the announced StatPort only.
    """

    def test_observedAddressAndStatPort(self) -> None:
        """
        The query is an XML STAT_QUERY POSTed to
        C{http://<observed IP>:<StatPort>/}, naming the peer, even though
        the peer claims another address in its PeerAddresses.
        """
        h = Harness(self, stats=(Stat("UploadBandwidth", "800"),))
        h.peerWithStatPort(addresses=(PeerAddress("203.0.113.9", 7000),))
        h.result(h.querier.query("a", ["UploadBandwidth"]))
        ((host, uri, method, contentType, query),) = h.statPeer.seen
        self.assertEqual((host, uri, method), (b"198.51.100.7:9000", b"/", b"POST"))
        assert contentType is not None
        self.assertTrue(contentType.startswith(b"application/ppsp-tracker+xml"))
        self.assertEqual((query.peerID, query.properties), ("a", ("UploadBandwidth",)))
        self.assertNotIn(b"203.0.113.9", host)

    def test_freshTransactionIDs(self) -> None:
        """
        Each query carries a TransactionID of its own.
        """
        h = Harness(self)
        h.peerWithStatPort()
        h.result(h.querier.query("a"))
        h.result(h.querier.query("a"))
        first, second = (seen[4].transactionID for seen in h.statPeer.seen)
        self.assertNotEqual(first, second)

    def test_ipv6InBrackets(self) -> None:
        """
        An IPv6 observed address is written in brackets in the URL (and so
        in the Host header).
        """
        h = Harness(self)
        h.peerWithStatPort(ip="2001:db8::7", statPort=9001)
        h.result(h.querier.query("a"))
        self.assertEqual(h.statPeer.seen[0][0], b"[2001:db8::7]:9001")
        peer = h.registered("a")
        self.assertEqual(statQueryURL(peer), "http://[2001:db8::7]:9001/")

    def test_reconnectFromElsewhere(self) -> None:
        """
        After the peer re-CONNECTs (same session, its token) from another
        IP address, the query goes to the new observed address, not to the
        old one nor to any claimed one.
        """
        h = Harness(self)
        h.peerWithStatPort(addresses=(PeerAddress("203.0.113.9", 7000),))
        reconnect(h, "a", "192.0.2.44", statPort=9002, addresses=(PeerAddress("203.0.113.10", 7000),))
        h.result(h.querier.query("a"))
        self.assertEqual(h.statPeer.seen[0][0], b"192.0.2.44:9002")

    def test_noStatPort(self) -> None:
        """
        A peer that announced no StatPort is not queried: L{NoStatPort}.
        """
        h = Harness(self)
        h.peerWithStatPort(statPort=None)
        error = h.failure(h.querier.query("a"), NoStatPort)
        self.assertEqual(error.kind, "no-stat-port")
        self.assertEqual(h.statPeer.seen, [])

    def test_unknownPeer(self) -> None:
        """
        A PeerID that is not connected (or has expired) is L{UnknownPeer}.
        """
        h = Harness(self)
        h.failure(h.querier.query("nobody"), UnknownPeer)
        h.peerWithStatPort()
        h.clock.advance(181)
        h.failure(h.querier.query("a"), UnknownPeer)
        self.assertEqual(h.statPeer.seen, [])


class StoreTests(SynchronousTestCase):
    """
    The answer's Stats are kept as if the peer had reported them.
    """

    def test_sameAsReported(self) -> None:
        """
        Peer-scoped and swarm-scoped Stats that a peer answers end up
        exactly where the same Stats in a STAT_REPORT from another peer end
        up, with the same typed values.
        """
        stats = (
            Stat("UploadBandwidth", "800"),
            Stat("AbilityNAT", "STUN"),
            Stat("BufferLevel", "1500", swarm="s"),
            Stat("Custom", "x"),
        )
        h = Harness(self, stats=stats)
        for peerID in ("a", "b"):
            h.peerWithStatPort(peerID)
            h.ok(JoinRequest, peerID, swarmID="s", mode=PeerMode.SEED)
        h.ok(StatReportRequest, "b", stats=stats)
        result = h.result(h.querier.query("a"))
        self.assertEqual(result.stats, stats)
        a, b = h.registered("a"), h.registered("b")
        self.assertEqual(a.stats, b.stats)
        self.assertEqual(a.stats["UploadBandwidth"], 800)
        self.assertEqual(a.swarms["s"].stats, {"BufferLevel": 1500})
        self.assertEqual(h.tracker.counters["stat_query_answered"], 1)

    def test_laterStore(self) -> None:
        """
        Over a store that answers on a later turn of the clock and copies
        every value (as a store in another process would), the query waits
        for the store to read the peer and to keep the answer.
        """
        h = Harness(self, stats=(Stat("UploadBandwidth", "800"),))
        h.peerWithStatPort()
        store = CopyingPeerStore(h.store, h.clock, random.Random(1))
        querier = StatQuerier(Tracker(h.clock, store=store), cast(HTTPClient, h.stub), h.clock)
        d = querier.query("a")
        self.assertEqual((h.statPeer.seen, querier.busy("a")), ([], True))
        for _ in range(10):
            h.clock.advance(0)
            h.stub.flush()
        self.assertEqual(self.successResultOf(d).stats, (Stat("UploadBandwidth", "800"),))
        self.assertEqual(h.registered("a").stats, {"UploadBandwidth": 800})
        self.assertFalse(querier.busy("a"))

    def test_usableAsFindConstraint(self) -> None:
        """
        A queried UploadBandwidth makes the peer satisfy a FIND constraint
        it did not satisfy before.
        """
        h = Harness(self, stats=(Stat("UploadBandwidth", "800"),))
        h.peerWithStatPort("a")
        h.connect("b", ip="198.51.100.8")
        h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        h.ok(JoinRequest, "b", swarmID="s", mode=PeerMode.LEECH)

        def find() -> Tuple[str, ...]:
            response = h.ok(FindRequest, "b", swarmID="s", constraints=(Stat("UploadBandwidth", "500"),))
            assert isinstance(response, FindResponse)
            return tuple(p.peerID for p in response.peers)

        self.assertEqual(find(), ())
        h.result(h.querier.query("a"))
        self.assertEqual(find(), ("a",))

    def test_computedPropertyIgnored(self) -> None:
        """
        An OnlineTime in the answer is dropped, as in a STAT_REPORT (the
        tracker computes it).
        """
        h = Harness(self, stats=(Stat("OnlineTime", "99999"), Stat("ConcurrentLinks", "3")))
        h.peerWithStatPort()
        h.result(h.querier.query("a"))
        self.assertEqual(h.registered("a").stats, {"ConcurrentLinks": 3})

    def test_invalidStatsRefusedWhole(self) -> None:
        """
        An answer with one malformed value is refused whole: nothing is
        stored, the query fails with L{BadStatAnswer}, and it is counted
        and recorded as refused (but the peer is not unreachable).
        """
        h = Harness(self, stats=(Stat("ConcurrentLinks", "3"), Stat("UploadBandwidth", "fast")))
        h.peerWithStatPort()
        error = h.failure(h.querier.query("a"), BadStatAnswer)
        self.assertIn("UploadBandwidth", error.reason)
        self.assertEqual(h.registered("a").stats, {})
        self.assertEqual(h.tracker.counters["stat_query_refused"], 1)
        self.assertEqual(cast(Any, h.querier.lastOutcome(h.registered("a"))).outcome, "refused")
        self.assertIsNone(h.querier.unreachableSince(h.registered("a")))

    def test_swarmNotJoinedRefused(self) -> None:
        """
        A Stat for a swarm the peer has not joined is refused, as a
        STAT_REPORT's would be.
        """
        h = Harness(self, stats=(Stat("BufferLevel", "5", swarm="other"),))
        h.peerWithStatPort()
        h.failure(h.querier.query("a"), BadStatAnswer)

    def test_livenessNotRefreshed(self) -> None:
        """
        An answer does not refresh the peer's liveness: a peer that only
        answers queries still expires.
        """
        h = Harness(self, stats=(Stat("ConcurrentLinks", "3"),))
        h.peerWithStatPort()
        deadline = h.registered("a").deadline
        h.clock.advance(100)
        h.result(h.querier.query("a"))
        self.assertEqual(h.registered("a").deadline, deadline)
        h.advance(81)
        self.assertIsNone(h.peer("a"))

    def test_trackerMethodDirectly(self) -> None:
        """
        L{Tracker.storeQueriedStats} refuses an unknown PeerID with
        AUTHENTICATION REQUIRED and more Stats than a message may carry
        with INVALID SYNTAX.
        """
        h = Harness(self)
        e = self.failureResultOf(h.tracker.storeQueriedStats("nobody", ()), ProtocolError).value
        self.assertEqual(e.code, ResponseCode.AUTHENTICATION_REQUIRED)
        h.peerWithStatPort()
        e = self.failureResultOf(
            h.tracker.storeQueriedStats("a", tuple(Stat(f"p{i}", "1") for i in range(65))),
            ProtocolError,
        ).value
        self.assertEqual(e.code, ResponseCode.INVALID_SYNTAX)


class AnswerTests(SynchronousTestCase):
    """
    Answers that are not the queried peer's statistics are refused.
    """

    def refused(self, answer: Answer, text: str, **kw: Any) -> BadStatAnswer:
        h = Harness(self, answer=answer, **kw)
        h.peerWithStatPort()
        error = h.failure(h.querier.query("a"), BadStatAnswer)
        self.assertIn(text, error.reason)
        self.assertEqual(h.registered("a").stats, {})
        self.assertEqual(h.tracker.counters["stat_query_refused"], 1)
        return cast(BadStatAnswer, error)

    def test_wrongPeerID(self) -> None:
        """
        An answer naming another PeerID is refused and nothing is stored.
        """
        self.refused(
            lambda q: StatQueryResponse(q.transactionID, "mallory", (Stat("UploadBandwidth", "1"),)),
            "'mallory'",
        )

    def test_noPeerID(self) -> None:
        """
        An answer without a PeerID is refused.
        """
        self.refused(
            lambda q: StatQueryResponse(q.transactionID, "", (Stat("UploadBandwidth", "1"),)),
            "no PeerID",
        )

    def test_wrongTransactionID(self) -> None:
        """
        An answer that does not echo the query's TransactionID is refused.
        """
        self.refused(
            lambda q: StatQueryResponse("other", q.peerID, (Stat("UploadBandwidth", "1"),)),
            "TransactionID",
        )

    def test_errorResponse(self) -> None:
        """
        An error response from the peer is a refused answer that names the
        code.
        """
        self.refused(
            lambda q: ErrorResponse(q.transactionID, ResponseCode.OBJECT_NOT_FOUND, "this is another peer"),
            "OBJECT NOT FOUND: this is another peer",
        )

    def test_undecodable(self) -> None:
        """
        An answer that is not a protocol message is refused.
        """
        self.refused(lambda q: b"<html>hello</html>", "undecodable")

    def test_oversizeDeclared(self) -> None:
        """
        An answer over the limit, sent whole with its length declared, is
        refused.
        """
        self.refused(lambda q: b"<" + b"x" * 2000, "larger than 1000 bytes", maxAnswer=1000)

    def test_oversizeStreamed(self) -> None:
        """
        An answer streamed without a length is refused once it passes the
        limit, without waiting for its end.
        """
        def stream(q: StatQueryRequest) -> Any:
            return NOT_DONE_YET

        h = Harness(self, answer=stream, maxAnswer=1000)
        h.peerWithStatPort()
        d = h.querier.query("a")
        (request,) = h.statPeer.pending
        request.write(b"<" + b"x" * 600)
        h.stub.flush()
        self.assertNoResult(d)
        request.write(b"x" * 600)
        h.stub.flush()
        error = h.failure(d, BadStatAnswer)
        self.assertIn("larger than 1000 bytes", error.reason)
        self.assertEqual(h.clock.getDelayedCalls(), [])


class UnreachableTests(SynchronousTestCase):
    """
    Peers that do not answer are recorded, counted and logged once.
    """

    def hanging(self, **kw: Any) -> Harness:
        h = Harness(self, answer=lambda q: NOT_DONE_YET, **kw)
        h.peerWithStatPort()
        return h

    def test_timeout(self) -> None:
        """
        A peer that never answers fails the query with L{PeerUnreachable}
        when the timeout passes, not before; it is recorded and counted,
        and no timer is left.
        """
        h = self.hanging(timeout=5)
        d = h.querier.query("a")
        h.clock.advance(4.9)
        self.assertNoResult(d)
        h.clock.advance(0.1)
        error = h.failure(d, PeerUnreachable)
        self.assertTrue(error.timedOut)
        self.assertEqual(h.tracker.counters["stat_query_timeout"], 1)
        (entry,) = h.result(h.querier.unreachable()).values()
        self.assertEqual((entry.since, entry.failures, entry.address), (1005.0, 1, "198.51.100.7:9000"))
        self.assertEqual(cast(Any, h.querier.lastOutcome(h.registered("a"))).outcome, "unreachable")
        self.assertEqual(h.clock.getDelayedCalls(), [])
        self.assertEqual(h.querier.inFlight, 0)

    def test_timeoutCoversBody(self) -> None:
        """
        A peer that sends its headers and part of its body, then stalls,
        still times out.
        """
        h = self.hanging(timeout=5)
        d = h.querier.query("a")
        (request,) = h.statPeer.pending
        request.setHeader(b"content-type", XML_CODEC.contentType)
        request.write(b"<?xml version='1.0'?><PPSPTrackerProtocol")
        h.stub.flush()
        self.assertNoResult(d)
        h.clock.advance(5)
        self.assertTrue(h.failure(d, PeerUnreachable).timedOut)

    def test_connectionRefused(self) -> None:
        """
        A refused connection is L{PeerUnreachable} at once, counted as
        C{stat_query_unreachable}, and the URL asked for is the observed
        address's.
        """
        h = Harness(self)
        agent = RefusingAgent()
        h.querier.http = HTTPClient(agent)
        h.peerWithStatPort()
        error = h.failure(h.querier.query("a"), PeerUnreachable)
        self.assertFalse(error.timedOut)
        self.assertIn("refused", error.reason)
        self.assertEqual(agent.uris, [b"http://198.51.100.7:9000/"])
        self.assertEqual(h.tracker.counters["stat_query_unreachable"], 1)
        self.assertIn("a", h.result(h.querier.unreachable()))

    def test_loggedOncePerStateChange(self) -> None:
        """
        Three failures in a row log one warning, with structured fields,
        and count three times; the next answer logs once that the peer
        answers again, and forgets it as unreachable.
        """
        h = Harness(self)
        h.querier.http = HTTPClient(RefusingAgent())
        h.peerWithStatPort()
        with capturedLogs() as events:
            for _ in range(3):
                h.failure(h.querier.query("a"), PeerUnreachable)
                h.clock.advance(1)
            h.querier.http = cast(HTTPClient, h.stub)
            h.result(h.querier.query("a"))
            h.result(h.querier.query("a"))
        kinds = [e.get("event") for e in events if e.get("peerID") == "a"]
        self.assertEqual(kinds, ["stat_query_unreachable", "stat_query_reachable"])
        self.assertEqual(events[0]["address"], "198.51.100.7:9000")
        self.assertEqual(h.tracker.counters["stat_query_unreachable"], 3)
        self.assertIsNone(h.querier.unreachableSince(h.registered("a")))

    def test_streak(self) -> None:
        """
        An unreachable entry keeps when the streak began and counts its
        failures.
        """
        h = Harness(self)
        h.querier.http = HTTPClient(RefusingAgent())
        h.peerWithStatPort()
        h.failure(h.querier.query("a"), PeerUnreachable)
        h.clock.advance(10)
        h.failure(h.querier.query("a"), PeerUnreachable)
        entry: Any = h.querier.unreachableSince(h.registered("a"))
        self.assertEqual((entry.since, entry.last, entry.failures), (1000.0, 1010.0, 2))

    def test_forgottenWhenGoneOrReconnected(self) -> None:
        """
        The record of an unreachable peer is forgotten once the peer
        DISCONNECTs, and also once it CONNECTs again as a new session.
        """
        h = Harness(self)
        h.querier.http = HTTPClient(RefusingAgent())
        h.peerWithStatPort("a")
        h.peerWithStatPort("b")
        h.failure(h.querier.query("a"), PeerUnreachable)
        h.failure(h.querier.query("b"), PeerUnreachable)
        h.ok(DisconnectRequest, "a")
        h.clock.advance(1)
        h.peerWithStatPort("b")
        self.assertEqual(h.result(h.querier.unreachable()), {})
        self.assertIsNone(h.querier.lastOutcome(h.registered("b")))

    def test_bounded(self) -> None:
        """
        The querier remembers at most C{maxRemembered} unreachable peers,
        dropping the oldest.
        """
        h = Harness(self, maxRemembered=2)
        h.querier.http = HTTPClient(RefusingAgent())
        for peerID in ("a", "b", "c"):
            h.peerWithStatPort(peerID)
            h.failure(h.querier.query(peerID), PeerUnreachable)
        unreachable = h.result(h.querier.unreachable())
        self.assertEqual(sorted(unreachable), ["b", "c"])

    def test_sessionChangedDuringQuery(self) -> None:
        """
        When the peer reconnects from another address while the query is
        in flight, the late answer is not stored.
        """
        h = Harness(self, answer=lambda q: NOT_DONE_YET)
        h.peerWithStatPort()
        d = h.querier.query("a")
        h.clock.advance(1)
        reconnect(h, "a", "192.0.2.9", statPort=9000)
        (request,) = h.statPeer.pending
        query = h.statPeer.seen[0][4]
        request.write(XML_CODEC.encodeResponse(
            StatQueryResponse(query.transactionID, "a", (Stat("ConcurrentLinks", "3"),))
        ))
        request.finish()
        h.stub.flush()
        h.failure(d, UnknownPeer)
        self.assertEqual(h.registered("a").stats, {})

    def test_cancelAll(self) -> None:
        """
        L{StatQuerier.cancelAll} abandons the queries in flight: they fail
        with L{CancelledError}, nothing is recorded, and no timer is left.
        """
        h = self.hanging()
        d = h.querier.query("a")
        h.querier.cancelAll()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(h.result(h.querier.unreachable()), {})
        self.assertNotIn("stat_query_timeout", h.tracker.counters)
        self.assertEqual(h.clock.getDelayedCalls(), [])
        self.assertEqual(h.querier.inFlight, 0)


class _PeersFailOnce(MemoryPeerStore):
    """
    A store whose first list of every peer fails, as a store kept
    elsewhere would while its server restarts.
    """

    failed = False

    def peers(self) -> "Deferred[Sequence[PeerState]]":
        if not self.failed:
            self.failed = True
            return fail(RuntimeError("the store restarts"))
        return super().peers()


class FakePool:
    """
    Records that the service closed its pool.
    """

    closed = 0

    def closeCachedConnections(self) -> Deferred[None]:
        self.closed += 1
        return succeed(None)


@implementer(IPollLease)
class HeldLeases:
    """
    Poll leases of which another tracker holds those of C{held}; with
    C{down}, the store cannot answer.  Records every request for one.
    """

    def __init__(self, held: Sequence[str] = ()) -> None:
        self.held = set(held)
        self.down = False
        self.asked: List[Tuple[str, float, float]] = []

    def acquire(self, peerID: str, now: float, seconds: float) -> Deferred[bool]:
        self.asked.append((peerID, now, seconds))
        if self.down:
            return fail(StoreUnavailable("the store is down"))
        return succeed(peerID not in self.held)


class PollingTests(SynchronousTestCase):
    """
    L{StatQueryService} queries every peer with a StatPort once per
    interval, spread out, with bounded concurrency.
    """

    def test_spreadOverInterval(self) -> None:
        """
        Ten peers with a StatPort over an interval of 10 s: one query a
        second, each peer once per round, the peer without a StatPort
        never; the next round queries them all again.
        """
        h = Harness(self)
        for i in range(10):
            h.peerWithStatPort(f"p{i}", ip=f"198.51.100.{i + 1}")
        h.peerWithStatPort("mute", statPort=None)
        service = StatQueryService(h.querier, interval=10)
        service.startService()
        self.addCleanup(service.stopService)
        perSecond = []
        for _ in range(10):
            before = len(h.statPeer.seen)
            h.clock.advance(1)
            perSecond.append(len(h.statPeer.seen) - before)
        self.assertEqual(perSecond, [1] * 10)
        queried = [seen[4].peerID for seen in h.statPeer.seen]
        self.assertEqual(sorted(queried), sorted(f"p{i}" for i in range(10)))
        h.clock.advance(1)
        h.clock.pump([1] * 10)
        self.assertEqual(len(h.statPeer.seen), 20)

    def test_boundedConcurrency(self) -> None:
        """
        With peers that never answer, no more than C{maxInFlight} queries
        are in flight; a round that cannot finish in its interval goes on
        as queries time out.
        """
        h = Harness(self, answer=lambda q: NOT_DONE_YET, timeout=30)
        for i in range(10):
            h.peerWithStatPort(f"p{i}", ip=f"198.51.100.{i + 1}")
        service = StatQueryService(h.querier, interval=5, maxInFlight=3)
        service.startService()
        self.addCleanup(service.stopService)
        h.clock.pump([1] * 10)
        self.assertEqual((len(h.statPeer.seen), h.querier.inFlight), (3, 3))
        h.clock.pump([1] * 25)
        self.assertEqual((len(h.statPeer.seen), h.querier.inFlight), (6, 3))

    def test_stopLeavesNothing(self) -> None:
        """
        Stopping the service stops the loop, abandons the queries in
        flight without recording them, closes the pool, and leaves no
        delayed call on the clock.
        """
        h = Harness(self, answer=lambda q: NOT_DONE_YET)
        for i in range(4):
            h.peerWithStatPort(f"p{i}")
        pool = FakePool()
        service = StatQueryService(h.querier, interval=4, pool=cast(Any, pool))
        service.startService()
        h.clock.pump([1, 1])
        self.assertEqual(h.querier.inFlight, 2)
        self.successResultOf(cast(Deferred[None], service.stopService()))
        self.assertEqual(h.clock.getDelayedCalls(), [])
        self.assertEqual((pool.closed, h.querier.inFlight), (1, 0))
        self.assertEqual(h.result(h.querier.unreachable()), {})

    def test_noIntervalNoPolling(self) -> None:
        """
        Without an interval the service sends nothing and schedules
        nothing, and still closes its pool when it stops.
        """
        h = Harness(self)
        h.peerWithStatPort()
        pool = FakePool()
        service = StatQueryService(h.querier, pool=cast(Any, pool))
        service.startService()
        self.assertEqual(h.clock.getDelayedCalls(), [])
        h.clock.advance(100)
        self.assertEqual(h.statPeer.seen, [])
        service.stopService()
        self.assertEqual(pool.closed, 1)

    def test_storeFailure(self) -> None:
        """
        A round whose list of peers the store fails to give is logged, and
        polling goes on: the next tick starts the round again.
        """
        clock = Clock()
        tracker = Tracker(clock, store=_PeersFailOnce())
        answer = self.successResultOf(
            tracker.handle(ConnectRequest("c", "a", statPort=9000), Origin("198.51.100.7", 40001))
        )
        self.assertIsInstance(answer, ConnectResponse)
        statPeer = FakePeerStats()
        querier = StatQuerier(tracker, cast(HTTPClient, StubTreq(statPeer)), clock)
        service = StatQueryService(querier, interval=1)
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(statPeer.seen, [])
        clock.pump([1, 1])
        self.assertEqual([seen[4].peerID for seen in statPeer.seen], ["a"])

    def test_soleLease(self) -> None:
        """
        A poller whose store provides no poll lease (the memory store)
        uses a L{SoleLease}, which grants every lease: every peer is
        polled.
        """
        h = Harness(self)
        h.peerWithStatPort()
        service = StatQueryService(h.querier, interval=1)
        self.assertIsInstance(service.lease, SoleLease)
        self.assertTrue(verifyObject(IPollLease, service.lease))
        self.assertIs(self.successResultOf(service.lease.acquire("a", 0.0, 1.0)), True)
        service.startService()
        self.addCleanup(service.stopService)
        h.clock.pump([1, 1])
        self.assertEqual([seen[4].peerID for seen in h.statPeer.seen], ["a"])

    def test_leaseHeldElsewhere(self) -> None:
        """
        Before each query the poller takes the peer's lease for the
        interval, at the time of the tick; a peer whose lease another
        tracker holds is not queried this round, and is asked for again
        the next round.
        """
        h = Harness(self)
        h.peerWithStatPort("a", ip="198.51.100.1")
        h.peerWithStatPort("b", ip="198.51.100.2")
        lease = HeldLeases(["b"])
        service = StatQueryService(h.querier, interval=2, lease=lease)
        start = h.clock.seconds()
        service.startService()
        self.addCleanup(service.stopService)
        h.clock.pump([1, 1])
        self.assertEqual([seen[4].peerID for seen in h.statPeer.seen], ["a"])
        self.assertEqual(
            sorted((peerID, at - start, seconds) for peerID, at, seconds in lease.asked),
            [("a", 1.0, 2.0), ("b", 2.0, 2.0)],
        )
        lease.held.clear()
        h.clock.pump([1, 1, 1])
        self.assertEqual(sorted(seen[4].peerID for seen in h.statPeer.seen), ["a", "a", "b"])

    def test_leaseAfterStop(self) -> None:
        """
        A lease that the store grants after the service stopped starts no
        query.
        """
        h = Harness(self)
        h.peerWithStatPort()
        late: Deferred[bool] = Deferred()

        @implementer(IPollLease)
        class LateLease:
            def acquire(self, peerID: str, now: float, seconds: float) -> Deferred[bool]:
                return late

        service = StatQueryService(h.querier, interval=1, lease=LateLease())
        service.startService()
        h.clock.advance(1)
        service.stopService()
        late.callback(True)
        self.assertEqual((h.statPeer.seen, h.querier.inFlight), ([], 0))

    def test_leaseUnavailable(self) -> None:
        """
        A lease that cannot be taken (the store down) skips the peer,
        logged once in the round however many peers it skips; the next
        round polls again.
        """
        h = Harness(self)
        for i in range(3):
            h.peerWithStatPort(f"p{i}", ip=f"198.51.100.{i + 1}")
        lease = HeldLeases()
        lease.down = True
        service = StatQueryService(h.querier, interval=3, lease=lease)
        with capturedLogs() as events:
            service.startService()
            self.addCleanup(service.stopService)
            h.clock.pump([1, 1, 1])
        self.assertEqual((len(lease.asked), h.statPeer.seen), (3, []))
        self.assertEqual(len(self.flushLoggedErrors(StoreUnavailable)), 1)
        self.assertEqual(len([e for e in events if "no lease" in e.get("log_format", "")]), 1)
        lease.down = False
        h.clock.pump([1, 1, 1, 1])
        self.assertEqual(len(h.statPeer.seen), 3)

    def test_skipsPeerAlreadyQueried(self) -> None:
        """
        A peer whose query (started elsewhere, say from the admin
        interface) is still in flight is not queried again by the poller.
        """
        h = Harness(self, answer=lambda q: NOT_DONE_YET, timeout=100)
        h.peerWithStatPort()
        d = h.querier.query("a")
        service = StatQueryService(h.querier, interval=2)
        service.startService()
        h.clock.pump([1, 1])
        self.assertEqual(len(h.statPeer.seen), 1)
        service.stopService()
        self.failureResultOf(d, CancelledError)


class RealSocketTests(TestCase):
    """
    A real query over a real loopback connection, with a real treq client
    on the real reactor.
    """

    def setUp(self) -> Any:
        """
        Serve a peer stat resource on 127.0.0.1 and register its peer,
        C{a}, with a tracker whose querier uses L{makeStatQueryClient}.
        """
        from twisted.internet import reactor as _reactor

        reactor: Any = _reactor

        self.peer = FakePeerStats(stats=(Stat("UploadBandwidth", "1200"),))
        site = Site(self.peer)
        site.noisy = False
        self.port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.tracker = Tracker(reactor)
        http, pool = makeStatQueryClient(reactor)
        self.addCleanup(pool.closeCachedConnections)
        self.querier = StatQuerier(self.tracker, http, reactor, timeout=10)
        return self.tracker.handle(
            ConnectRequest("1", "a", statPort=self.port.getHost().port), Origin("127.0.0.1", 50000)
        )

    @inlineCallbacks
    def test_queryOverLoopback(self) -> Any:
        """
        The tracker queries a peer stat resource listening on 127.0.0.1
        through L{makeStatQueryClient}, gets its Stats and stores them.
        """
        result = yield self.querier.query("a")
        self.assertEqual(result.stats, (Stat("UploadBandwidth", "1200"),))
        state = yield self.tracker.store.peer("a")
        self.assertEqual(state.stats, {"UploadBandwidth": 1200})
        self.assertEqual(self.peer.seen[0][0], b"127.0.0.1:%d" % (self.port.getHost().port,))

    @inlineCallbacks
    def test_quietConnections(self) -> Any:
        """
        The connections of L{makeStatQueryClient} log nothing when they
        open: a tracker polling thousands of peers would otherwise log a
        C{Starting factory} line for each query.
        """
        with capturedLogs() as events:
            result = yield self.querier.query("a")
        self.assertEqual(result.stats, (Stat("UploadBandwidth", "1200"),))
        self.assertEqual([e for e in events if "factory" in e.get("log_format", "")], [])
