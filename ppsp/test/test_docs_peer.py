"""
Tests for the peer tutorial's program (C{docs/examples/streaming_peer.py}):
built on a memory tracker and a clock, it registers, announces its
chunks, reports its statistics, answers STAT_QUERY and finds its peers.
"""

from __future__ import annotations

from typing import Any

from treq.testing import StubTreq
from twisted.trial.unittest import SynchronousTestCase

from ppsp.codec import XML_CODEC
from ppsp.messages import Method, PeerMode, StatQueryRequest, StatQueryResponse
from ppsp.peer import StatQueryResource
from ppsp.test.helpers import StoreReads
from ppsp.test.test_docs import EXAMPLES, _NO_EXAMPLES, loadExample
from ppsp.testing import MemoryTracker


class StreamingPeerTests(SynchronousTestCase):
    """
    The tutorial's program does what the tutorial says.
    """

    def setUp(self) -> None:
        if not EXAMPLES.exists():
            raise self.skipTest(_NO_EXAMPLES)
        self.example = loadExample("streaming_peer")
        self.fake = MemoryTracker()

    def test_livesWithTheTracker(self) -> None:
        """
        Started, the peer joins its swarm, tells the tracker about each
        chunk it receives and reports its statistics; a second copy finds
        the first as a holder of the chunks it needs.
        """
        first, player = self.example.makePeer(self.fake.http, self.fake.clock, self.fake.url, "peer-a", "live-1")
        first.startService()
        self.fake.advance(10)
        member = StoreReads(self, self.fake.tracker.store).view("live-1").member("peer-a")
        assert member is not None
        self.assertEqual(member.mode, PeerMode.LEECH)
        self.assertTrue(member.holds(8))
        peer = StoreReads(self, self.fake.tracker.store).registered("peer-a")
        self.assertEqual(peer.stats["UploadBandwidth"], 2000)

        second, other = self.example.makePeer(self.fake.http, self.fake.clock, self.fake.url, "peer-b", "live-1")
        second.startService()
        found = self.successResultOf(other.lookAhead())
        self.assertEqual([p.peerID for p in found], ["peer-a"])
        self.successResultOf(first.stopService())
        self.successResultOf(second.stopService())
        self.assertEqual(self.fake.clock.getDelayedCalls(), [])
        self.assertIsNone(StoreReads(self, self.fake.tracker.store).peer("peer-a"))

    def test_answersStatQuery(self) -> None:
        """
        The player's statistics answer STAT_QUERY through the peer's
        resource.
        """
        top, player = self.example.makePeer(self.fake.http, self.fake.clock, self.fake.url, "peer-a", "live-1")
        top.startService()
        self.fake.advance(3)
        treq: Any = StubTreq(StatQueryResource("peer-a", player.stats))
        response = self.successResultOf(
            treq.post("http://127.0.0.1:1/", data=XML_CODEC.encodeRequest(StatQueryRequest("q", "peer-a")))
        )
        answer = XML_CODEC.decodeResponse(self.successResultOf(response.content()), Method.STAT_QUERY)
        assert isinstance(answer, StatQueryResponse)
        values = {s.property: s.value for s in answer.stats}
        self.assertEqual(values["PlaybackPosition"], "2")
        self.assertEqual(values["DownloadedBytes"], str(3 * 64 * 1024))
        self.successResultOf(top.stopService())
