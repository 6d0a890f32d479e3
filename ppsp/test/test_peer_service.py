"""
Tests for L{ppsp.peer.service.PeerService}: a peer's life with the real
tracker resource, through L{ppsp.testing.MemoryTracker}, on a L{Clock}.
"""

from __future__ import annotations

import random
from typing import Any, Dict, List, Tuple, Type, cast

from twisted.internet.defer import Deferred
from twisted.logger import ILogObserver, LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from ppsp.codec import JSON_CODEC
from ppsp.messages import (
    ChunkRange,
    ConnectRequest,
    DisconnectRequest,
    FindRequest,
    JoinChunkRequest,
    JoinRequest,
    KeepAliveRequest,
    LeaveRequest,
    PeerInfo,
    PeerMode,
    PPSTPConnectRequest,
    Request,
    Stat,
    StatReportRequest,
)
from ppsp.peer import TrackerUnavailable
from ppsp.peer.service import CONNECTING, REGISTERED, STOPPED, UNREACHABLE, PeerService
from ppsp.peer.sources import ChunkSet, StaticStats
from ppsp.test.helpers import StoreReads
from ppsp.testing import MemoryTracker
from ppsp.tracker.core import TrackerConfig


class Harness:
    """
    A memory tracker and the peers' services on its clock, with the log
    events they emit.
    """

    def __init__(self, testCase: SynchronousTestCase, **config: Any) -> None:
        self.testCase = testCase
        self.fake = MemoryTracker(config=TrackerConfig(**config) if config else None)
        self.clock = self.fake.clock
        self.services: List[PeerService] = []
        self.events: List[Dict[str, Any]] = []
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        testCase.addCleanup(globalLogPublisher.removeObserver, observer)

    def peer(self, peerID: str, swarms: Any = ("s",), start: bool = True, **kw: Any) -> PeerService:
        kw.setdefault("random", random.Random(5))
        client = self.fake.client(peerID, random=random.Random(6))
        service = PeerService(client, self.clock, swarms, **kw)
        self.services.append(service)
        if start:
            service.startService()
        return service

    def reads(self) -> StoreReads:
        """
        Reads of the store of the tracker serving now (L{MemoryTracker.restart}
        replaces it).
        """
        return StoreReads(self.testCase, self.fake.tracker.store)

    def sent(self, cls: Type[Request], peerID: str) -> List[Request]:
        return [r for r in self.fake.received if isinstance(r, cls) and r.peerID == peerID]

    def messages(self, level: LogLevel) -> List[str]:
        from twisted.logger import formatEvent

        return [
            formatEvent(e)
            for e in self.events
            if e.get("log_level") is level and e.get("log_namespace", "").startswith("ppsp.peer")
        ]

    def stopAll(self) -> None:
        for service in self.services:
            if service.running:
                self.testCase.successResultOf(service.stopService())


class RegistrationTests(SynchronousTestCase):
    """
    Start-up: CONNECT, JOIN, and what the tracker then knows.
    """

    def setUp(self) -> None:
        self.h = Harness(self)

    def test_registersAndJoins(self) -> None:
        """
        Starting the service CONNECTs (announcing the StatPort), then JOINs
        every swarm with its mode; the tracker has the memberships.
        """
        service = self.h.peer("a", {"live": PeerMode.LIVESEED, "vod": PeerMode.LEECH}, statPort=7001)
        self.assertEqual(service.state, REGISTERED)
        [connect] = self.h.sent(ConnectRequest, "a")
        assert isinstance(connect, ConnectRequest)
        self.assertEqual(connect.statPort, 7001)
        joins = {r.swarmID: r.mode for r in self.h.sent(JoinRequest, "a")}  # type: ignore[attr-defined]
        self.assertEqual(joins, {"live": PeerMode.LIVESEED, "vod": PeerMode.LEECH})
        peer = self.h.reads().registered("a")
        self.assertEqual(set(peer.swarms), {"live", "vod"})
        self.assertEqual(peer.swarms["live"].mode, PeerMode.LIVESEED)

    def test_peersLoggedAndReported(self) -> None:
        """
        A LEECH's JOIN answer carries a peer list: it goes to C{onPeers}
        and to the log, once per list.
        """
        seen: List[Tuple[str, Tuple[PeerInfo, ...]]] = []
        self.h.peer("seed", {"s": PeerMode.SEED})
        self.h.peer("leech", onPeers=lambda s, p: seen.append((s, p)))
        self.assertEqual([(s, [p.peerID for p in peers]) for s, peers in seen], [("s", ["seed"])])
        self.assertIn(
            "1 peer(s) for swarm s: seed (SEED 127.0.0.1:31337)", self.h.messages(LogLevel.info)
        )

    def test_keepAliveAtAnnouncedInterval(self) -> None:
        """
        KEEPALIVE goes at the interval the tracker announced, not before.
        """
        h = Harness(self, keepAliveInterval=20, peerTimeout=60)
        h.peer("a")
        h.clock.advance(19.9)
        self.assertEqual(h.sent(KeepAliveRequest, "a"), [])
        h.clock.advance(0.1)
        self.assertEqual(len(h.sent(KeepAliveRequest, "a")), 1)
        h.fake.advance(60)
        self.assertEqual(len(h.sent(KeepAliveRequest, "a")), 4)
        self.assertIsNotNone(h.reads().peer("a"))

    def test_stayRegisteredForHours(self) -> None:
        """
        With KEEPALIVEs the tracker never expires the peer.
        """
        self.h.peer("a")
        self.h.fake.advance(3 * 3600, step=10)
        self.assertIsNotNone(self.h.reads().peer("a"))
        self.assertEqual(len(self.h.sent(ConnectRequest, "a")), 1)

    def test_statReports(self) -> None:
        """
        The stats source is reported at once and then every
        C{statReportInterval} seconds; the tracker keeps the values.
        """
        stats = StaticStats({"UploadBandwidth": 800})
        self.h.peer("a", statsSource=stats, statReportInterval=30)
        self.assertEqual(len(self.h.sent(StatReportRequest, "a")), 1)
        stats.set({"UploadBandwidth": 900})
        self.h.clock.advance(30)
        reports = self.h.sent(StatReportRequest, "a")
        self.assertEqual(len(reports), 2)
        self.assertEqual(reports[-1].stats, (Stat("UploadBandwidth", "900"),))  # type: ignore[attr-defined]
        peer = self.h.reads().registered("a")
        self.assertEqual(peer.stats["UploadBandwidth"], 900)

    def test_statsAtConnect(self) -> None:
        """
        The stats source also describes the peer at CONNECT.
        """
        self.h.peer("a", statsSource=StaticStats({"AbilityNAT": "STUN"}))
        [connect] = self.h.sent(ConnectRequest, "a")
        self.assertEqual(connect.stats, (Stat("AbilityNAT", "STUN"),))  # type: ignore[attr-defined]


class ChangeTests(SynchronousTestCase):
    """
    What the application asks while the service runs.
    """

    def setUp(self) -> None:
        self.h = Harness(self)

    def test_joinAndLeave(self) -> None:
        """
        L{PeerService.join} and L{PeerService.leave} change the memberships
        at the tracker and the set kept for re-registration.
        """
        service = self.h.peer("a", ())
        self.successResultOf(service.join("x", PeerMode.SEED))
        self.assertEqual(self.h.reads().registered("a").swarms["x"].mode, PeerMode.SEED)
        self.successResultOf(service.leave("x"))
        self.assertEqual(set(self.h.reads().registered("a").swarms), set())
        self.assertEqual(service.swarms, {})

    def test_joinBeforeRegistered(self) -> None:
        """
        A JOIN asked for while the tracker is unreachable fires once the
        service has registered, with the swarm joined.
        """
        self.h.fake.stop()
        service = self.h.peer("a", ())
        d = service.join("x")
        self.h.fake.advance(30)
        self.assertNoResult(d)
        self.h.fake.start()
        self.h.fake.advance(120)
        self.successResultOf(d)
        self.assertIn("x", self.h.reads().registered("a").swarms)

    def test_findReturnsPeerRecords(self) -> None:
        """
        L{PeerService.find} returns typed peer records.
        """
        self.h.peer("seed", {"s": PeerMode.SEED})
        leech = self.h.peer("leech")
        peers = self.successResultOf(leech.find("s"))
        self.assertEqual([type(p) for p in peers], [PeerInfo])
        self.assertEqual([p.peerID for p in peers], ["seed"])

    def test_findChunkWithoutHolders(self) -> None:
        """
        FIND for a chunk nobody holds returns no peers rather than failing.
        """
        self.h.peer("seed", {"s": PeerMode.SEED})
        leech = self.h.peer("leech")
        self.assertEqual(self.successResultOf(leech.find("s", chunkID=5)), ())

    def test_chunkChangesCoalesced(self) -> None:
        """
        A burst of chunk changes makes one JOIN_CHUNK with the final set,
        C{chunkDelay} seconds after the first change.
        """
        chunks = ChunkSet()
        self.h.peer("a", chunkSource=chunks, chunkDelay=2)
        self.h.clock.advance(2)
        before = len(self.h.sent(JoinChunkRequest, "a"))
        for n in range(10):
            chunks.add("s", n)
        self.h.clock.advance(1.9)
        self.assertEqual(len(self.h.sent(JoinChunkRequest, "a")), before)
        self.h.clock.advance(0.1)
        sent = self.h.sent(JoinChunkRequest, "a")
        self.assertEqual(len(sent), before + 1)
        self.assertEqual(sent[-1].chunks, (ChunkRange(0, 9),))  # type: ignore[attr-defined]
        member = self.h.reads().view("s").member("a")
        assert member is not None
        self.assertTrue(member.holds(9))

    def test_chunksOfOtherSwarmsIgnored(self) -> None:
        """
        Chunk changes of a swarm the peer is not in send nothing.
        """
        chunks = ChunkSet()
        self.h.peer("a", chunkSource=chunks)
        self.h.clock.advance(5)
        before = len(self.h.sent(JoinChunkRequest, "a"))
        chunks.add("other", 1)
        self.h.clock.advance(5)
        self.assertEqual(len(self.h.sent(JoinChunkRequest, "a")), before)

    def test_findInterval(self) -> None:
        """
        With C{findInterval}, every swarm is FOUND that often.
        """
        self.h.peer("a", ("s", "t"), findInterval=30)
        self.h.clock.advance(30)
        self.assertEqual(
            sorted(r.swarmID for r in self.h.sent(FindRequest, "a")), ["s", "t"]  # type: ignore[attr-defined]
        )
        self.h.clock.advance(30)
        self.assertEqual(len(self.h.sent(FindRequest, "a")), 4)


class RecoveryTests(SynchronousTestCase):
    """
    A tracker that forgets the peer, or cannot be reached.
    """

    def setUp(self) -> None:
        self.h = Harness(self)

    def test_reRegistersAfterTrackerRestart(self) -> None:
        """
        When the tracker forgets the peer (here: it restarted), the next
        KEEPALIVE is answered AUTHENTICATION REQUIRED and the service
        CONNECTs again and re-joins every swarm, with its chunk sets.
        """
        chunks = ChunkSet()
        chunks.set("s", [ChunkRange(0, 4)])
        service = self.h.peer("a", {"s": PeerMode.SEED, "t": PeerMode.LEECH}, chunkSource=chunks)
        self.h.fake.advance(5)
        self.h.fake.restart()
        self.h.fake.advance(60)
        self.assertEqual(service.state, REGISTERED)
        self.assertEqual(len(self.h.sent(ConnectRequest, "a")), 2)
        self.assertEqual(set(self.h.reads().registered("a").swarms), {"s", "t"})
        self.h.fake.advance(2)
        member = self.h.reads().view("s").member("a")
        assert member is not None
        self.assertTrue(member.holds(4))
        self.assertIn(
            "the tracker no longer knows a; registering again", self.h.messages(LogLevel.warn)
        )

    def test_reRegistersAfterExpiry(self) -> None:
        """
        A peer the tracker expired (its KEEPALIVEs were lost) registers
        again as soon as it learns it.
        """
        service = self.h.peer("a")
        self.h.fake.stop()
        self.h.fake.advance(59)
        self.h.fake.start()
        # End its session at the tracker by hand, as if 180 s had passed.
        self.assertTrue(self.successResultOf(self.h.fake.tracker.endSession("a")))
        self.h.fake.advance(5)
        self.assertEqual(service.state, REGISTERED)
        self.assertIn("s", self.h.reads().registered("a").swarms)

    def test_findAfterForgotten(self) -> None:
        """
        A FIND answered AUTHENTICATION REQUIRED registers again and is
        then answered.
        """
        self.h.peer("seed", {"s": PeerMode.SEED})
        leech = self.h.peer("leech")
        self.h.fake.restart()
        self.h.services[0].stopService()
        seed = self.h.peer("seed2", {"s": PeerMode.SEED})
        peers = self.successResultOf(leech.find("s"))
        self.assertEqual([p.peerID for p in peers], [seed.peerID])

    def test_backoffWhileDown(self) -> None:
        """
        While the tracker is down, registration attempts come further and
        further apart, up to C{maxRetryDelay}, and the state change is
        logged once, not on every attempt.
        """
        self.h.fake.stop()
        service = self.h.peer("a", retryDelay=1, maxRetryDelay=16)
        self.h.fake.advance(600, step=0.5)
        self.assertEqual(service.state, UNREACHABLE)
        warnings = [m for m in self.h.messages(LogLevel.warn) if "unreachable" in m]
        self.assertEqual(len(warnings), 1)
        self.h.fake.start()
        self.h.fake.advance(20)
        self.assertEqual(service.state, REGISTERED)
        self.assertEqual(len(self.h.sent(ConnectRequest, "a")), 1)
        self.assertIn("a registered with the tracker at http://tracker.example/ in 1 swarm(s)",
                      self.h.messages(LogLevel.info))

    def test_backoffGrows(self) -> None:
        """
        The waits between registration rounds double (with jitter) up to
        the cap.
        """
        self.h.fake.stop()
        service = self.h.peer("a", retryDelay=2, maxRetryDelay=8, random=random.Random(1))
        waits = []
        original = service._sleep

        def recording(seconds: float) -> Deferred[None]:
            waits.append(seconds)
            return original(seconds)

        service._sleep = recording  # type: ignore[method-assign]
        self.h.fake.advance(200, step=0.25)
        expected = random.Random(1)
        wanted = [min(8, 2 * 2**i) * expected.uniform(0.5, 1.0) for i in range(len(waits))]
        self.assertGreater(len(waits), 5)
        self.assertEqual(waits, wanted)

    def test_keepAliveWhileDown(self) -> None:
        """
        A tracker that stops answering KEEPALIVEs makes the service
        unreachable and then registered again when it is back.
        """
        service = self.h.peer("a")
        self.h.fake.stop()
        self.h.fake.advance(90)
        self.assertEqual(service.state, UNREACHABLE)
        self.h.fake.start()
        self.h.fake.advance(70)
        self.assertEqual(service.state, REGISTERED)


class StopTests(SynchronousTestCase):
    """
    Stopping: LEAVE, DISCONNECT, bounded in time, no timer left.
    """

    def setUp(self) -> None:
        self.h = Harness(self)

    def test_leavesAndDisconnects(self) -> None:
        """
        stopService LEAVEs every swarm, then DISCONNECTs; the tracker
        forgets the peer and no delayed call is left.
        """
        service = self.h.peer("a", ("s", "t"), statsSource=StaticStats({"UploadBandwidth": 1}), findInterval=10)
        self.h.clock.advance(3)
        self.successResultOf(service.stopService())
        leaves = sorted(r.swarmID for r in self.h.sent(LeaveRequest, "a"))  # type: ignore[attr-defined]
        self.assertEqual(leaves, ["s", "t"])
        self.assertEqual(len(self.h.sent(DisconnectRequest, "a")), 1)
        self.assertIs(type(self.h.fake.received[-1]), DisconnectRequest)
        self.assertIsNone(self.h.reads().peer("a"))
        self.assertEqual(service.state, STOPPED)
        self.assertEqual(self.h.clock.getDelayedCalls(), [])

    def test_stopBounded(self) -> None:
        """
        When the tracker does not answer, stopService gives up after
        C{stopTimeout} seconds, fires without failing, and leaves no
        delayed call.
        """
        service = self.h.peer("a", stopTimeout=3)
        self.h.fake.stop()
        d = service.stopService()
        self.h.clock.advance(2.9)
        self.assertNoResult(d)
        self.h.clock.advance(0.1)
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(self.h.clock.getDelayedCalls(), [])

    def test_stopWhileRegistering(self) -> None:
        """
        Stopping while the tracker is unreachable cancels the attempts:
        nothing is sent afterwards and no delayed call is left; a pending
        FIND is cancelled.
        """
        self.h.fake.stop()
        service = self.h.peer("a")
        self.h.fake.advance(10)
        self.assertEqual(service.state, UNREACHABLE)
        d = service.find("s")
        self.successResultOf(service.stopService())
        self.assertEqual(self.h.clock.getDelayedCalls(), [])
        self.failureResultOf(d)
        self.assertEqual(self.h.fake.received, [])

    def test_findWhenUnreachable(self) -> None:
        """
        A FIND while registered, to a tracker that went down, fails with
        L{TrackerUnavailable} and starts the recovery.
        """
        service = self.h.peer("a")
        self.h.fake.stop()
        d = service.find("s")
        self.h.fake.advance(30, step=0.5)
        self.failureResultOf(d, TrackerUnavailable)
        self.assertIn(service.state, (UNREACHABLE, CONNECTING))


class RFC7846ServiceTests(SynchronousTestCase):
    """
    The service speaking RFC 7846 JSON.
    """

    def setUp(self) -> None:
        self.h = Harness(self)

    def peer(self, peerID: str, swarms: Any = ("s",), **kw: Any) -> PeerService:
        client = self.h.fake.client(peerID, codec=JSON_CODEC, random=random.Random(6))
        service = PeerService(client, self.h.clock, swarms, random=random.Random(5), **kw)
        self.h.services.append(service)
        service.startService()
        return service

    def test_lifecycle(self) -> None:
        """
        One CONNECT registers and joins every swarm; KEEPALIVEs (empty
        STAT_REPORTs) keep it; after a tracker restart it registers again;
        stopping leaves every swarm, which ends the registration.
        """
        service = self.peer("j", {"s": PeerMode.SEED, "t": PeerMode.LEECH})
        self.assertEqual(service.state, REGISTERED)
        [connect] = self.h.sent(PPSTPConnectRequest, "j")
        self.assertEqual(len(connect.swarmActions), 2)  # type: ignore[attr-defined]
        self.h.fake.advance(200)
        self.assertIsNotNone(self.h.reads().peer("j"))
        self.h.fake.restart()
        self.h.fake.advance(61)
        self.assertEqual(set(self.h.reads().registered("j").swarms), {"s", "t"})
        self.successResultOf(service.stopService())
        self.assertIsNone(self.h.reads().peer("j"))
        self.assertEqual(self.h.clock.getDelayedCalls(), [])

    def test_mixedPeersFindEachOther(self) -> None:
        """
        A JSON peer and an XML peer of one swarm find each other.
        """
        xml = self.h.peer("x", {"s": PeerMode.SEED})
        json = self.peer("j")
        self.assertEqual([p.peerID for p in self.successResultOf(json.find("s"))], ["x"])
        self.assertEqual([p.peerID for p in self.successResultOf(xml.find("s"))], ["j"])

    def test_whatJSONCannotSay(self) -> None:
        """
        Chunk sets and statistics RFC 7846 does not name are skipped with
        one warning each; the peer stays registered.
        """
        chunks = ChunkSet()
        service = self.peer(
            "j",
            chunkSource=chunks,
            statsSource=StaticStats({"Vendor": "x"}),
            statReportInterval=10,
        )
        chunks.add("s", 1)
        self.h.fake.advance(30)
        self.assertEqual(service.state, REGISTERED)
        warnings = self.h.messages(LogLevel.warn)
        self.assertEqual(len([w for w in warnings if "JOIN_CHUNK" in w]), 1)
        self.assertEqual(len([w for w in warnings if "statistics not reported" in w]), 1)

    def test_noSwarmNoRegistration(self) -> None:
        """
        In no swarm, a JSON peer has no registration; a join registers it.
        """
        service = self.peer("j", ())
        self.h.fake.advance(120)
        self.assertEqual(self.h.fake.received, [])
        self.successResultOf(service.join("s"))
        self.assertIn("s", self.h.reads().registered("j").swarms)
