"""
Tests for L{ppsp.peer.StatQueryResource}: the peer's answer to
the tracker's STAT_QUERY, over HTTP through StubTreq.
"""

from __future__ import annotations

from typing import Any

from treq.testing import StubTreq
from twisted.trial.unittest import SynchronousTestCase

from ppsp.codec import XML_CODEC
from ppsp.messages import (
    ErrorResponse,
    KeepAliveRequest,
    Method,
    ResponseCode,
    Stat,
    StatQueryRequest,
    StatQueryResponse,
)
from ppsp.peer.sources import StaticStats
from ppsp.peer import MAX_QUERY_BYTES, StatQueryResource

STATS = StaticStats(
    [Stat("UploadBandwidth", "800"), Stat("BufferLevel", "3000", swarm="live"), Stat("Vendor", "x")]
)


class StatQueryResourceTests(SynchronousTestCase):
    """
    STAT_QUERY answered from the stats source.
    """

    def setUp(self) -> None:
        self.treq: Any = StubTreq(StatQueryResource("peer-a", STATS))

    def post(self, body: bytes) -> Any:
        response = self.successResultOf(
            self.treq.post("http://198.51.100.7:7001/", data=body,
                           headers={b"Content-Type": [XML_CODEC.contentType]})
        )
        return response, self.successResultOf(response.content())

    def query(self, *properties: str, peerID: str = "peer-a") -> Any:
        response, body = self.post(
            XML_CODEC.encodeRequest(StatQueryRequest("q1", peerID, properties=properties))
        )
        return response, XML_CODEC.decodeResponse(body, Method.STAT_QUERY)

    def test_all(self) -> None:
        """
        An empty StatRequest gets every statistic, swarm scopes included.
        """
        response, answer = self.query()
        self.assertEqual(response.code, 200)
        self.assertEqual(answer, StatQueryResponse("q1", "peer-a", STATS.stats()))

    def test_named(self) -> None:
        """
        Named properties get only those, case-insensitively.
        """
        response, answer = self.query("uploadbandwidth", "Missing")
        self.assertEqual(answer.stats, (Stat("UploadBandwidth", "800"),))

    def test_otherPeer(self) -> None:
        """
        A query for another PeerID is OBJECT NOT FOUND.
        """
        response, answer = self.query(peerID="peer-b")
        self.assertEqual(response.code, 404)
        self.assertIsInstance(answer, ErrorResponse)
        self.assertEqual(answer.code, ResponseCode.OBJECT_NOT_FOUND)

    def test_otherMethod(self) -> None:
        """
        Any other request is MESSAGE NOT SUPPORTED.
        """
        response, body = self.post(XML_CODEC.encodeRequest(KeepAliveRequest("k", "peer-a")))
        answer = XML_CODEC.decodeResponse(body, Method.KEEPALIVE)
        self.assertEqual(answer.code, ResponseCode.MESSAGE_NOT_SUPPORTED)
        self.assertEqual(answer.transactionID, "k")

    def test_garbage(self) -> None:
        """
        An undecodable body is INVALID SYNTAX with HTTP 400.
        """
        response, body = self.post(b"<nope")
        self.assertEqual(response.code, 400)
        self.assertEqual(
            XML_CODEC.decodeResponse(body, Method.STAT_QUERY).code, ResponseCode.INVALID_SYNTAX
        )

    def test_tooLong(self) -> None:
        """
        A body over the limit is refused with 413.
        """
        response, body = self.post(b" " * (MAX_QUERY_BYTES + 1))
        self.assertEqual(response.code, 413)

    def test_get(self) -> None:
        """
        GET gets 405 with C{Allow: POST}.
        """
        response = self.successResultOf(self.treq.get("http://198.51.100.7:7001/"))
        self.assertEqual(response.code, 405)
        self.assertEqual(response.headers.getRawHeaders(b"allow"), [b"POST"])


class BothWaysTests(SynchronousTestCase):
    """
    The tracker's L{StatQuerier} asking the peer's own
    L{StatQueryResource}: the two halves of STAT_QUERY agree.
    """

    def test_trackerAsksPeer(self) -> None:
        """
        A peer registered through L{PeerService} with a StatPort is asked
        by the tracker; its answer, from the same stats source it reports
        from, is kept by the tracker as if reported.
        """
        from twisted.internet.task import Clock

        from ppsp.peer import PeerService
        from ppsp.testing import MemoryTracker
        from ppsp.tracker.statquerier import StatQuerier

        fake = MemoryTracker(clock=Clock())
        stats = StaticStats([Stat("UploadBandwidth", "777"), Stat("AvailBandwidth", "300")])
        peer = PeerService(fake.client("peer-a"), fake.clock, ["s"], statPort=7001, statsSource=stats,
                           statReportInterval=3600)
        peer.startService()
        self.addCleanup(peer.stopService)
        stats.set([Stat("UploadBandwidth", "888"), Stat("AvailBandwidth", "300")])
        peerSide: Any = StubTreq(StatQueryResource("peer-a", stats))
        querier = StatQuerier(fake.tracker, peerSide, fake.clock)
        result = self.successResultOf(querier.query("peer-a", ("UploadBandwidth",)))
        self.assertEqual(result.stats, (Stat("UploadBandwidth", "888"),))
        self.assertEqual(result.address, "127.0.0.1:7001")
        state = self.successResultOf(fake.tracker.store.peer("peer-a"))
        assert state is not None
        self.assertEqual(state.stats["UploadBandwidth"], 888)
