"""
Tests for L{ppsp.tracker.core}: every rule of PROTOCOL.md sections 3 to 6,
on message objects and virtual time.
"""

from __future__ import annotations

from typing import Any, List, Tuple, cast

from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, fail, succeed
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from ppsp.interfaces import IPeerSelector
from ppsp.messages import (
    AddressType,
    ChunkRange,
    ConnectRequest,
    ConnectResponse,
    DisconnectRequest,
    FindChunkRequest,
    FindChunkResponse,
    FindRequest,
    FindResponse,
    JoinChunkRequest,
    JoinRequest,
    JoinResponse,
    KeepAliveRequest,
    KeepAliveResponse,
    LeaveRequest,
    PeerAddress,
    PeerInfo,
    PeerMode,
    PPSTPConnectRequest,
    PPSTPConnectResponse,
    ProtocolError,
    ResponseCode,
    Stat,
    StatQueryRequest,
    StatReportRequest,
    StatReportResponse,
    SwarmAction,
    SwarmActionType,
)
from ppsp.test.helpers import TrackerHarness, txid
from ppsp.tracker.addresses import addressScope
from ppsp.tracker.core import Origin, SessionOpening, TrackerConfig, mergeRanges
from ppsp.tracker.peerlist import PeerInfoCache
from ppsp.tracker.retry import MemoryRetryCache
from ppsp.tracker.values import SwarmMember

OK = ResponseCode.OK
AUTH = ResponseCode.AUTHENTICATION_REQUIRED
FORBIDDEN = ResponseCode.MESSAGE_FORBIDDEN
NOT_FOUND = ResponseCode.OBJECT_NOT_FOUND
SYNTAX = ResponseCode.INVALID_SYNTAX


def ids(response: Any) -> List[str]:
    return sorted(p.peerID for p in response.peers)


class ConnectTests(SynchronousTestCase):
    """
    CONNECT registers a peer and issues its session.
    """

    def setUp(self) -> None:
        self.h = TrackerHarness(self)

    def test_connectAnswersTokenAddressAndInterval(self) -> None:
        """
        CONNECT answers OK with an AuthToken, the observed address as
        REFLEXIVE and the KeepAliveInterval.
        """
        r = self.h.connect("a", ip="203.0.113.5", port=5555)
        self.assertTrue(len(r.authToken) >= 32)
        self.assertEqual(r.reflexiveAddress, PeerAddress("203.0.113.5", 5555, AddressType.REFLEXIVE))
        self.assertEqual(r.keepAliveInterval, 60)
        self.assertEqual(r.transactionID[0], "t")

    def test_tokensAreUnique(self) -> None:
        """
        Every session gets a different token.
        """
        tokens = {self.h.connect(f"p{i}").authToken for i in range(50)}
        self.assertEqual(len(tokens), 50)

    def test_tooManyAddresses(self) -> None:
        """
        More than 8 announced addresses is MESSAGE FORBIDDEN and registers
        nothing.
        """
        addresses = tuple(PeerAddress("198.51.100.1", 1000 + i) for i in range(9))
        r = self.h.send(ConnectRequest(txid(), "a", addresses=addresses))
        self.assertEqual(r.code, FORBIDDEN)
        self.assertIsNone(self.h.peer("a"))

    def test_eightAddressesAllowed(self) -> None:
        """
        Exactly 8 addresses are accepted.
        """
        addresses = tuple(PeerAddress("198.51.100.1", 1000 + i) for i in range(8))
        self.h.connect("a", addresses=addresses)

    def test_reconnectFromSameAddressKeepsSwarms(self) -> None:
        """
        With the open scheme, a CONNECT for a connected PeerID from the same
        IP address replaces the session (new token) and keeps its swarms.
        """
        first = self.h.connect("a")
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        second = self.h.connect("a")
        self.assertNotEqual(first.authToken, second.authToken)
        self.assertIn("s", self.h.registered("a").swarms)
        # The old token no longer works.
        r = self.h.send(KeepAliveRequest(txid(), "a", authToken=first.authToken))
        self.assertEqual(r.code, FORBIDDEN)

    def test_hijackRefused(self) -> None:
        """
        A CONNECT for a connected PeerID from another address without the
        session's token is MESSAGE FORBIDDEN and changes nothing.
        """
        first = self.h.connect("a", ip="198.51.100.1")
        r = self.h.send(ConnectRequest(txid(), "a"), Origin("203.0.113.9", 1))
        self.assertEqual(r.code, FORBIDDEN)
        self.assertEqual(self.h.registered("a").token, first.authToken)
        self.assertEqual(self.h.registered("a").observedIP, "198.51.100.1")

    def test_reconnectWithTokenFromElsewhere(self) -> None:
        """
        A CONNECT that carries the session's token is accepted from a new
        address (the peer moved).
        """
        first = self.h.connect("a", ip="198.51.100.1")
        r = self.h.send(
            ConnectRequest(txid(), "a", authToken=first.authToken), Origin("203.0.113.9", 2)
        )
        self.assertIsInstance(r, ConnectResponse)
        self.assertEqual(self.h.registered("a").observedIP, "203.0.113.9")

    def test_hijackAllowedAfterExpiry(self) -> None:
        """
        Once the old session expired, anyone may CONNECT under the PeerID.
        """
        self.h.connect("a", ip="198.51.100.1")
        self.h.clock.advance(180)
        r = self.h.send(ConnectRequest(txid(), "a"), Origin("203.0.113.9", 1))
        self.assertIsInstance(r, ConnectResponse)

    def test_badStatsRegisterNothing(self) -> None:
        """
        A CONNECT with a malformed known statistic is INVALID SYNTAX and
        registers nothing.
        """
        r = self.h.send(ConnectRequest(txid(), "a", stats=(Stat("UploadBandwidth", "fast"),)))
        self.assertEqual(r.code, SYNTAX)
        self.assertIsNone(self.h.peer("a"))

    def test_refusedCredential(self) -> None:
        """
        A checker that refuses the credential makes CONNECT answer
        AUTHENTICATION REQUIRED.
        """

        class Refuse:
            credentialInterfaces = ()

            def requestAvatarId(self, credentials: Any) -> Any:
                return fail(UnauthorizedLogin("no"))

        self.h.tracker.checker = Refuse()  # type: ignore[assignment]
        r = self.h.send(ConnectRequest(txid(), "a", cer="x"))
        self.assertEqual(r.code, AUTH)
        self.assertIsNone(self.h.peer("a"))

    def test_boundCredential(self) -> None:
        """
        A credential bound to another PeerID is AUTHENTICATION REQUIRED; one
        bound to the PeerID may take over a session from anywhere.
        """

        class Bound:
            credentialInterfaces = ()

            def requestAvatarId(self, credentials: Any) -> Any:
                return succeed(credentials.cer.encode("utf-8"))

        self.h.tracker.checker = Bound()  # type: ignore[assignment]
        r = self.h.send(ConnectRequest(txid(), "a", cer="b"))
        self.assertEqual(r.code, AUTH)
        r = self.h.send(ConnectRequest(txid(), "a", cer="a"), Origin("198.51.100.1", 1))
        self.assertIsInstance(r, ConnectResponse)
        r = self.h.send(ConnectRequest(txid(), "a", cer="a"), Origin("203.0.113.1", 1))
        self.assertIsInstance(r, ConnectResponse)

    def test_asynchronousChecker(self) -> None:
        """
        A checker that answers later makes C{handle} return a Deferred that
        fires with the CONNECT response.
        """
        pending: Deferred[Any] = Deferred()

        class Later:
            credentialInterfaces = ()

            def requestAvatarId(self, credentials: Any) -> Any:
                return pending

        self.h.tracker.checker = Later()  # type: ignore[assignment]
        d = self.h.tracker.handle(ConnectRequest(txid(), "a"), Origin("198.51.100.1", 1))
        self.assertNoResult(d)
        from twisted.cred.checkers import ANONYMOUS

        pending.callback(ANONYMOUS)
        self.assertIsInstance(self.h.result(d), ConnectResponse)
        self.assertIsNotNone(self.h.peer("a"))

    def test_checkerBugIsInternalError(self) -> None:
        """
        A checker that fails with an unexpected error gives INTERNAL ERROR
        and logs the failure.
        """

        class Broken:
            credentialInterfaces = ()

            def requestAvatarId(self, credentials: Any) -> Any:
                raise RuntimeError("boom")

        self.h.tracker.checker = Broken()  # type: ignore[assignment]
        r = self.h.send(ConnectRequest(txid(), "a"))
        self.assertEqual(r.code, ResponseCode.INTERNAL_ERROR)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertIsNone(self.h.peer("a"))


class SessionTests(SynchronousTestCase):
    """
    Requests other than CONNECT need a connected PeerID and its token.
    """

    def setUp(self) -> None:
        self.h = TrackerHarness(self)
        self.h.connect("a")
        self.h.connect("b")

    def test_unknownPeer(self) -> None:
        """
        A PeerID that is not connected gets AUTHENTICATION REQUIRED.
        """
        for cls, kw in [
            (KeepAliveRequest, {}),
            (JoinRequest, {"swarmID": "s"}),
            (FindRequest, {"swarmID": "s"}),
            (DisconnectRequest, {}),
        ]:
            self.h.error(AUTH, cls, "nobody", **kw)

    def test_missingToken(self) -> None:
        """
        A request without AuthToken is MESSAGE FORBIDDEN.
        """
        r = self.h.send(KeepAliveRequest(txid(), "a"))
        self.assertEqual(r.code, FORBIDDEN)

    def test_wrongToken(self) -> None:
        """
        Another peer's token is MESSAGE FORBIDDEN and does not touch the
        peer: a spoofed LEAVE changes nothing.
        """
        self.h.ok(JoinRequest, "a", swarmID="s")
        r = self.h.send(LeaveRequest(txid(), "a", authToken=self.h.tokens["b"], swarmID="s"))
        self.assertEqual(r.code, FORBIDDEN)
        self.assertIn("s", self.h.registered("a").swarms)

    def test_nonAsciiToken(self) -> None:
        """
        A token with non-ASCII characters is compared safely and refused.
        """
        r = self.h.send(KeepAliveRequest(txid(), "a", authToken="é" * 10))
        self.assertEqual(r.code, FORBIDDEN)

    def test_disconnect(self) -> None:
        """
        DISCONNECT removes the peer from every swarm; its later requests get
        AUTHENTICATION REQUIRED and no peer list shows it again.
        """
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        self.h.ok(JoinRequest, "a", swarmID="t", mode=PeerMode.SEED)
        self.h.ok(DisconnectRequest, "a")
        self.h.error(AUTH, KeepAliveRequest, "a")
        self.assertEqual(ids(self.h.ok(FindRequest, "b", swarmID="s")), [])

    def test_statQueryNotSupported(self) -> None:
        """
        STAT_QUERY sent to the tracker is MESSAGE NOT SUPPORTED.
        """
        self.h.error(ResponseCode.MESSAGE_NOT_SUPPORTED, StatQueryRequest, "a")


class JoinTests(SynchronousTestCase):
    """
    JOIN adds memberships, creating swarms on first use.
    """

    def setUp(self) -> None:
        self.h = TrackerHarness(self)
        for p in "abc":
            self.h.connect(p)

    def test_leechGetsPeerList(self) -> None:
        """
        A LEECH join answers with the swarm and a peer list as FIND would;
        a SEED join has no list.
        """
        r = self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        self.assertIsInstance(r, JoinResponse)
        self.assertIsNone(r.peers)
        self.h.ok(JoinRequest, "b", swarmID="s", mode=PeerMode.LIVESEED)
        r = self.h.ok(JoinRequest, "c", swarmID="s")
        self.assertEqual(ids(r), ["a", "b"])
        self.assertEqual(r.swarmID, "s")
        modes = {p.peerID: p.mode for p in r.peers}
        self.assertEqual(modes, {"a": PeerMode.SEED, "b": PeerMode.LIVESEED})

    def test_leechPeerNum(self) -> None:
        """
        A LEECH join's PeerNum bounds its list.
        """
        for p in "ab":
            self.h.ok(JoinRequest, p, swarmID="s", mode=PeerMode.SEED)
        r = self.h.ok(JoinRequest, "c", swarmID="s", peerNum=1)
        self.assertEqual(len(r.peers), 1)

    def test_rejoinUpdatesMode(self) -> None:
        """
        Joining a swarm again updates the mode and lists the peer with it.
        """
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.LEECH)
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        r = self.h.ok(FindRequest, "b", swarmID="s")
        self.assertEqual([p.mode for p in r.peers], [PeerMode.SEED])
        self.assertEqual(self.h.existing("s").size, 1)

    def test_swarmLimitPerPeer(self) -> None:
        """
        The 65th swarm of one peer is MESSAGE FORBIDDEN; rejoining one of
        its 64 is still fine.
        """
        for i in range(64):
            self.h.ok(JoinRequest, "a", swarmID=f"s{i}", mode=PeerMode.SEED)
        self.h.error(FORBIDDEN, JoinRequest, "a", swarmID="s64")
        self.assertIsNone(self.h.swarm("s64"))
        self.h.ok(JoinRequest, "a", swarmID="s3", mode=PeerMode.SEED)

    def test_swarmSizeCap(self) -> None:
        """
        With a swarm cap, a JOIN beyond it is MESSAGE FORBIDDEN.
        """
        h = TrackerHarness(self, maxSwarmSize=2)
        for p in "abc":
            h.connect(p)
        h.ok(JoinRequest, "a", swarmID="s")
        h.ok(JoinRequest, "b", swarmID="s")
        h.error(FORBIDDEN, JoinRequest, "c", swarmID="s")

    def test_provisionedSwarms(self) -> None:
        """
        With provisioned swarms, JOIN of another swarm is OBJECT NOT FOUND
        and creates nothing; a provisioned one works.
        """
        h = TrackerHarness(self, provisionedSwarms=frozenset({"live"}))
        h.connect("a")
        h.error(NOT_FOUND, JoinRequest, "a", swarmID="other")
        self.assertIsNone(h.swarm("other"))
        h.ok(JoinRequest, "a", swarmID="live")

    def test_expireTimeEndsMembership(self) -> None:
        """
        A JOIN's ExpireTime ends that membership at that second, and only
        it: the peer stays connected.
        """
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED, expireTime=30)
        self.h.ok(JoinRequest, "a", swarmID="t", mode=PeerMode.SEED)
        self.h.advance(29)
        self.assertEqual(ids(self.h.ok(FindRequest, "b", swarmID="s")), ["a"])
        self.h.advance(1)
        self.assertEqual(ids(self.h.ok(FindRequest, "b", swarmID="s")), [])
        self.assertNotIn("s", self.h.registered("a").swarms)
        self.assertIn("t", self.h.registered("a").swarms)
        self.h.ok(KeepAliveRequest, "a")

    def test_expireTimeIsExactWithoutSweep(self) -> None:
        """
        An expired membership is never listed, even before the sweep runs.
        """
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED, expireTime=30)
        self.h.clock.advance(30)
        self.assertEqual(ids(self.h.ok(FindRequest, "b", swarmID="s")), [])

    def test_expireAtAbsolute(self) -> None:
        """
        An absolute ExpireTime ends the membership at that time; one in the
        past is INVALID SYNTAX.
        """
        now = self.h.clock.seconds()
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED, expireAt=now + 10)
        self.h.error(SYNTAX, JoinRequest, "b", swarmID="s", expireAt=now - 1)
        self.h.advance(10)
        self.assertNotIn("s", self.h.registered("a").swarms)

    def test_rejoinClearsExpiry(self) -> None:
        """
        Joining again without ExpireTime makes the membership permanent.
        """
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED, expireTime=30)
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        self.h.advance(40)
        self.assertIn("s", self.h.registered("a").swarms)

    def test_joinRefusedByStatsLimitChangesNothing(self) -> None:
        """
        A JOIN whose Stats would make the new membership keep too many
        properties is refused before the membership is made.
        """
        h = TrackerHarness(self, maxStats=2)
        h.connect("a")
        h.ok(StatReportRequest, "a", stats=(Stat("x", "1"), Stat("y", "1")))
        h.error(FORBIDDEN, JoinRequest, "a", swarmID="s", stats=(Stat("z", "1", "s"), Stat("UploadBandwidth", "5")))
        self.assertEqual(h.registered("a").swarms, {})
        self.assertIsNone(h.swarm("s"))

    def test_joinStatsScopedToSwarm(self) -> None:
        """
        Swarm-scoped Stats in a JOIN without a swarm attribute describe the
        joined swarm; peer-scoped ones the peer.
        """
        self.h.ok(
            JoinRequest,
            "a",
            swarmID="s",
            stats=(Stat("BufferLevel", "1500"), Stat("UploadBandwidth", "800")),
        )
        peer = self.h.registered("a")
        self.assertEqual(peer.swarms["s"].stats, {"BufferLevel": 1500})
        self.assertEqual(peer.stats, {"UploadBandwidth": 800})


class ChunkTests(SynchronousTestCase):
    """
    JOIN_CHUNK replaces chunk sets; FIND_CHUNK finds holders.
    """

    def setUp(self) -> None:
        self.h = TrackerHarness(self)
        for p in "abcd":
            self.h.connect(p)
            self.h.ok(JoinRequest, p, swarmID="s", mode=PeerMode.SEED)

    def test_replaceSemantics(self) -> None:
        """
        Each JOIN_CHUNK replaces the previous set; an empty one clears it.
        """
        self.h.ok(JoinChunkRequest, "a", swarmID="s", chunks=(ChunkRange(0, 9),))
        self.assertEqual(ids(self.h.ok(FindChunkRequest, "b", swarmID="s", chunkID=5)), ["a"])
        self.h.ok(JoinChunkRequest, "a", swarmID="s", chunks=(ChunkRange(20, 29),))
        self.h.error(NOT_FOUND, FindChunkRequest, "b", swarmID="s", chunkID=5)
        self.assertEqual(ids(self.h.ok(FindChunkRequest, "b", swarmID="s", chunkID=25)), ["a"])
        self.h.ok(JoinChunkRequest, "a", swarmID="s", chunks=())
        self.h.error(NOT_FOUND, FindChunkRequest, "b", swarmID="s", chunkID=25)

    def test_findChunkHoldersOnly(self) -> None:
        """
        FIND_CHUNK lists exactly the peers holding the chunk, never the
        requester, and echoes the ChunkID.
        """
        self.h.ok(JoinChunkRequest, "a", swarmID="s", chunks=(ChunkRange(0, 100),))
        self.h.ok(JoinChunkRequest, "b", swarmID="s", chunks=(ChunkRange(50, 60), ChunkRange(70, 70)))
        self.h.ok(JoinChunkRequest, "c", swarmID="s", chunks=(ChunkRange(2**64 - 10, 2**64 - 1),))
        r = self.h.ok(FindChunkRequest, "d", swarmID="s", chunkID=70)
        self.assertIsInstance(r, FindChunkResponse)
        self.assertEqual(r.chunkID, 70)
        self.assertEqual(ids(r), ["a", "b"])
        self.assertEqual(ids(self.h.ok(FindChunkRequest, "d", swarmID="s", chunkID=65)), ["a"])
        self.assertEqual(ids(self.h.ok(FindChunkRequest, "d", swarmID="s", chunkID=2**64 - 1)), ["c"])
        self.assertEqual(ids(self.h.ok(FindChunkRequest, "a", swarmID="s", chunkID=70)), ["b"])

    def test_findWithChunkIDIsFindChunk(self) -> None:
        """
        FIND with a ChunkID behaves as FIND_CHUNK (and answers as FIND).
        """
        self.h.ok(JoinChunkRequest, "a", swarmID="s", chunks=(ChunkRange(3, 3),))
        r = self.h.ok(FindRequest, "b", swarmID="s", chunkID=3)
        self.assertIsInstance(r, FindResponse)
        self.assertNotIsInstance(r, FindChunkResponse)
        self.assertEqual((ids(r), r.chunkID), (["a"], 3))
        self.h.error(NOT_FOUND, FindRequest, "b", swarmID="s", chunkID=4)

    def test_onlyRequesterHolds(self) -> None:
        """
        When only the requester holds the chunk, FIND_CHUNK is OBJECT NOT
        FOUND.
        """
        self.h.ok(JoinChunkRequest, "a", swarmID="s", chunks=(ChunkRange(3, 3),))
        self.h.error(NOT_FOUND, FindChunkRequest, "a", swarmID="s", chunkID=3)

    def test_notMember(self) -> None:
        """
        JOIN_CHUNK for a swarm the peer has not joined is MESSAGE FORBIDDEN;
        for an unknown swarm OBJECT NOT FOUND.
        """
        self.h.connect("e")
        self.h.error(FORBIDDEN, JoinChunkRequest, "e", swarmID="s", chunks=(ChunkRange(1, 1),))
        self.h.error(NOT_FOUND, JoinChunkRequest, "e", swarmID="nope", chunks=())

    def test_rangeLimit(self) -> None:
        """
        More than 1024 ranges after merging is MESSAGE FORBIDDEN and keeps
        the old set; adjacent ranges merge and count once.
        """
        self.h.ok(JoinChunkRequest, "a", swarmID="s", chunks=(ChunkRange(0, 0),))
        scattered = tuple(ChunkRange(2 * i, 2 * i) for i in range(1025))
        self.h.error(FORBIDDEN, JoinChunkRequest, "a", swarmID="s", chunks=scattered)
        self.assertEqual(self.h.registered("a").swarms["s"].chunks, (ChunkRange(0, 0),))
        adjacent = tuple(ChunkRange(i, i) for i in range(5000))
        self.h.ok(JoinChunkRequest, "a", swarmID="s", chunks=adjacent)
        self.assertEqual(self.h.registered("a").swarms["s"].chunks, (ChunkRange(0, 4999),))

    def test_mergeRanges(self) -> None:
        """
        L{mergeRanges} sorts, merges overlapping and touching ranges and
        keeps gaps.
        """
        self.assertEqual(
            mergeRanges([ChunkRange(10, 12), ChunkRange(0, 3), ChunkRange(4, 5), ChunkRange(11, 20), ChunkRange(30, 30)]),
            (ChunkRange(0, 5), ChunkRange(10, 20), ChunkRange(30, 30)),
        )
        self.assertEqual(mergeRanges([]), ())

    def test_leaveDropsChunks(self) -> None:
        """
        LEAVE removes the peer's chunk set from the swarm's index.
        """
        self.h.ok(JoinChunkRequest, "a", swarmID="s", chunks=(ChunkRange(3, 3),))
        self.h.ok(LeaveRequest, "a", swarmID="s")
        self.h.error(NOT_FOUND, FindChunkRequest, "b", swarmID="s", chunkID=3)


class LeaveTests(SynchronousTestCase):
    """
    LEAVE ends one membership.
    """

    def setUp(self) -> None:
        self.h = TrackerHarness(self)
        self.h.connect("a")
        self.h.connect("b")

    def test_leave(self) -> None:
        """
        After LEAVE the peer is not listed; leaving again is MESSAGE
        FORBIDDEN; an unknown swarm is OBJECT NOT FOUND.
        """
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        self.h.ok(JoinRequest, "b", swarmID="s", mode=PeerMode.SEED)
        self.h.ok(LeaveRequest, "a", swarmID="s")
        self.assertEqual(ids(self.h.ok(FindRequest, "b", swarmID="s")), [])
        self.h.error(FORBIDDEN, LeaveRequest, "a", swarmID="s")
        self.h.error(NOT_FOUND, LeaveRequest, "a", swarmID="zzz")


class FindTests(SynchronousTestCase):
    """
    FIND returns peers of a swarm as the rules say.
    """

    def setUp(self) -> None:
        self.h = TrackerHarness(self)

    def populate(self, n: int, swarmID: str = "s") -> None:
        for i in range(n):
            p = f"p{i}"
            self.h.connect(p, ip=f"198.51.{i // 250}.{i % 250 + 1}")
            self.h.ok(JoinRequest, p, swarmID=swarmID, mode=PeerMode.SEED)

    def test_unknownSwarm(self) -> None:
        """
        FIND for an unknown swarm is OBJECT NOT FOUND.
        """
        self.h.connect("a")
        self.h.error(NOT_FOUND, FindRequest, "a", swarmID="s")

    def test_defaultCountAndCap(self) -> None:
        """
        Without PeerNum (or with 0) a FIND returns 30 peers; PeerNum is
        capped at 200; never the requester, never twice.
        """
        self.populate(260)
        for peerNum in (None, 0):
            r = self.h.ok(FindRequest, "p0", swarmID="s", peerNum=peerNum)
            self.assertEqual(len(r.peers), 30)
        r = self.h.ok(FindRequest, "p0", swarmID="s", peerNum=1000)
        found = [p.peerID for p in r.peers]
        self.assertEqual(len(found), 200)
        self.assertEqual(len(set(found)), 200)
        self.assertNotIn("p0", found)

    def test_smallSwarm(self) -> None:
        """
        A FIND asking for more than the swarm has gets every other member.
        """
        self.populate(5)
        r = self.h.ok(FindRequest, "p0", swarmID="s", peerNum=10)
        self.assertEqual(ids(r), ["p1", "p2", "p3", "p4"])

    def test_nonMemberMayFind(self) -> None:
        """
        A connected peer that has not joined the swarm may FIND in it.
        """
        self.populate(3)
        self.h.connect("outsider", ip="203.0.113.200")
        self.assertEqual(len(self.h.ok(FindRequest, "outsider", swarmID="s").peers), 3)

    def test_uniform(self) -> None:
        """
        The default strategy is uniform: over many FINDs of 1 peer out of 5,
        every peer is returned about as often.
        """
        self.populate(6)
        counts: dict[str, int] = {}
        for _ in range(3000):
            (p,) = self.h.ok(FindRequest, "p0", swarmID="s", peerNum=1).peers
            counts[p.peerID] = counts.get(p.peerID, 0) + 1
        self.assertEqual(sorted(counts), ["p1", "p2", "p3", "p4", "p5"])
        for n in counts.values():
            self.assertTrue(480 < n < 720, counts)

    def test_constraints(self) -> None:
        """
        FIND constraints: at least for bandwidths and online time, at most
        for links, equal for NAT ability and mode; a property a peer never
        reported is not met; unknown properties are ignored.
        """
        self.populate(4)
        self.h.ok(StatReportRequest, "p1", stats=(Stat("UploadBandwidth", "1000"), Stat("ConcurrentLinks", "5"), Stat("AbilityNAT", "STUN")))
        self.h.ok(StatReportRequest, "p2", stats=(Stat("UploadBandwidth", "100"), Stat("ConcurrentLinks", "50")))
        self.h.ok(JoinRequest, "p3", swarmID="s", mode=PeerMode.LIVESEED)

        def find(*stats: Stat) -> List[str]:
            return ids(self.h.ok(FindRequest, "p0", swarmID="s", constraints=stats))

        self.assertEqual(find(Stat("UploadBandwidth", "500")), ["p1"])
        self.assertEqual(find(Stat("UploadBandwidth", "100")), ["p1", "p2"])
        self.assertEqual(find(Stat("ConcurrentLinks", "10")), ["p1"])
        self.assertEqual(find(Stat("AbilityNAT", "stun")), ["p1"])
        self.assertEqual(find(Stat("PeerMode", "LIVESEED")), ["p3"])
        self.assertEqual(find(Stat("Colour", "blue")), ["p1", "p2", "p3"])
        self.assertEqual(find(Stat("UploadBandwidth", "1"), Stat("ConcurrentLinks", "49")), ["p1"])
        self.h.clock.advance(100)
        self.h.ok(KeepAliveRequest, "p1")
        self.assertEqual(find(Stat("OnlineTime", "100")), ["p1", "p2", "p3"])
        self.assertEqual(find(Stat("OnlineTime", "101")), [])

    def test_badConstraint(self) -> None:
        """
        A malformed constraint value of a known property is INVALID SYNTAX.
        """
        self.populate(2)
        self.h.error(SYNTAX, FindRequest, "p0", swarmID="s", constraints=(Stat("UploadBandwidth", "-1"),))
        self.h.error(SYNTAX, FindRequest, "p0", swarmID="s", constraints=(Stat("OnlineTime", "x"),))

    def test_brokenSelectorCannotBreakInvariants(self) -> None:
        """
        Whatever a strategy returns, the list never holds the requester, an
        expired peer, a non-member, a duplicate or more than PeerNum peers.
        """
        self.populate(6)
        self.h.connect("elsewhere")
        self.h.ok(JoinRequest, "elsewhere", swarmID="other", mode=PeerMode.SEED)
        members = list(self.h.view("s"))
        foreign = self.h.view("other").member("elsewhere")
        self.h.clock.advance(170)
        for p in ("p0", "p1", "p2"):
            self.h.ok(KeepAliveRequest, p)
        self.h.clock.advance(10)  # p3, p4, p5 expired, not yet swept

        @implementer(IPeerSelector)
        class Broken:
            def select(self, swarm: Any, requester: Any, count: int, constraints: Any) -> Any:
                return members + members + [foreign, "junk", None]

        self.h.tracker.selector = Broken()
        r = self.h.ok(FindRequest, "p0", swarmID="s", peerNum=1)
        self.assertEqual(len(r.peers), 1)
        r = self.h.ok(FindRequest, "p0", swarmID="s", peerNum=50)
        self.assertEqual(ids(r), ["p1", "p2"])

    def test_asynchronousSelector(self) -> None:
        """
        A strategy may answer with a Deferred; the FIND answers when it
        fires, with the invariants enforced.
        """
        self.populate(3)
        pending: Deferred[Any] = Deferred()

        @implementer(IPeerSelector)
        class Later:
            def select(self, swarm: Any, requester: Any, count: int, constraints: Any) -> Any:
                return pending

        self.h.tracker.selector = Later()
        d = self.h.tracker.handle(
            FindRequest(txid(), "p0", authToken=self.h.tokens["p0"], swarmID="s"),
            self.h.origins["p0"],
        )
        self.assertNoResult(d)
        pending.callback(list(self.h.view("s")))
        self.assertEqual(ids(self.h.result(d)), ["p1", "p2"])

    def test_verifySelector(self) -> None:
        """
        The default strategy provides L{IPeerSelector}.
        """
        self.assertTrue(verifyObject(IPeerSelector, self.h.tracker.selector))


class AddressRuleTests(SynchronousTestCase):
    """
    Which addresses of a peer a requester sees (PROTOCOL.md section 4).
    """

    def setUp(self) -> None:
        self.h = TrackerHarness(self)

    def listed(self, requesterIP: str) -> Any:
        self.h.connect("req", ip=requesterIP)
        r = self.h.ok(FindRequest, "req", swarmID="s")
        return {p.peerID: p.addresses for p in r.peers}

    def seed(self, peerID: str, ip: str, addresses: tuple[PeerAddress, ...] = (), port: int = 9999) -> None:
        self.h.connect(peerID, ip=ip, port=port, addresses=addresses)
        self.h.ok(JoinRequest, peerID, swarmID="s", mode=PeerMode.SEED)

    def test_privateAddressesStayInTheirRange(self) -> None:
        """
        A private address is shown only to requesters in the same private
        range; others see the public observed address instead.
        """
        self.seed("a", "203.0.113.7", (PeerAddress("192.168.1.5", 7000), PeerAddress("203.0.113.7", 7001)))
        self.assertEqual(self.listed("192.168.9.9")["a"], (PeerAddress("192.168.1.5", 7000), PeerAddress("203.0.113.7", 7001)))
        self.h.ok(DisconnectRequest, "req")
        self.assertEqual(self.listed("10.1.1.1")["a"], (PeerAddress("203.0.113.7", 7001),))

    def test_unverifiedPublicAddressReplaced(self) -> None:
        """
        A public announced address other than the observed one is replaced
        by the observed IP with the first announced port (REFLEXIVE).
        """
        self.seed("a", "203.0.113.7", (PeerAddress("198.51.100.99", 7000),))
        self.assertEqual(self.listed("198.51.100.1")["a"], (PeerAddress("203.0.113.7", 7000, AddressType.REFLEXIVE),))

    def test_trustAnnouncedAddresses(self) -> None:
        """
        With trustAnnouncedAddresses, announced public addresses are listed
        as announced.
        """
        self.h = TrackerHarness(self, trustAnnouncedAddresses=True)
        self.seed("a", "203.0.113.7", (PeerAddress("198.51.100.99", 7000, AddressType.PROXY, 2),))
        self.assertEqual(self.listed("198.51.100.1")["a"], (PeerAddress("198.51.100.99", 7000, AddressType.PROXY, 2),))

    def test_noAnnouncedAddress(self) -> None:
        """
        A peer that announced no address is listed with its observed IP and
        port.
        """
        self.seed("a", "203.0.113.7", port=4321)
        self.assertEqual(self.listed("198.51.100.1")["a"], (PeerAddress("203.0.113.7", 4321, AddressType.REFLEXIVE),))

    def test_invisiblePeerLeftOut(self) -> None:
        """
        A peer behind a private observed address with only private addresses
        is left out for requesters outside its range, and listed inside it.
        """
        self.seed("a", "10.0.0.5", (PeerAddress("10.0.0.5", 7000),))
        self.assertEqual(self.listed("198.51.100.1"), {})
        self.h.ok(DisconnectRequest, "req")
        self.assertEqual(self.listed("10.9.9.9")["a"], (PeerAddress("10.0.0.5", 7000),))

    def test_loopback(self) -> None:
        """
        Loopback addresses are shown to loopback requesters only.
        """
        self.seed("a", "127.0.0.1", (PeerAddress("127.0.0.1", 7000),))
        self.assertEqual(self.listed("127.0.0.1")["a"], (PeerAddress("127.0.0.1", 7000),))
        self.h.ok(DisconnectRequest, "req")
        self.assertEqual(self.listed("192.168.1.1"), {})


class PeerInfoCacheTests(SynchronousTestCase):
    """
    L{PeerInfoCache} keeps each member's entry in a peer list per class of
    requester, never serves one stale, and stays within its size.
    """

    def member(
        self,
        peerID: str = "a",
        mode: PeerMode = PeerMode.SEED,
        addresses: Tuple[PeerAddress, ...] = (PeerAddress("203.0.113.7", 7000),),
        ip: str = "203.0.113.7",
        port: int = 9999,
    ) -> SwarmMember:
        return SwarmMember(peerID, "s", mode, ip, port, addresses, 0.0, 100.0)

    def test_cached(self) -> None:
        """
        A member listed again, unchanged, gets the entry computed the first
        time (the same object).
        """
        cache = PeerInfoCache()
        first = cache.info(self.member(), None)
        self.assertEqual(first, PeerInfo("a", PeerMode.SEED, (PeerAddress("203.0.113.7", 7000),)))
        self.assertIs(cache.info(self.member(), None), first)
        self.assertEqual(len(cache), 1)

    def test_recomputedOnChange(self) -> None:
        """
        When the member's mode, announced addresses, observed IP address or
        port changed, its entry is computed again, so a peer list never
        shows what is no longer true.
        """
        cache = PeerInfoCache()
        cache.info(self.member(), None)
        leech = cache.info(self.member(mode=PeerMode.LEECH), None)
        assert leech is not None
        self.assertEqual(leech.mode, PeerMode.LEECH)
        moved = cache.info(self.member(mode=PeerMode.LEECH, addresses=(PeerAddress("203.0.113.7", 7001),)), None)
        assert moved is not None
        self.assertEqual(moved.addresses, (PeerAddress("203.0.113.7", 7001),))
        bare = cache.info(self.member(addresses=(), ip="203.0.113.8", port=5000), None)
        assert bare is not None
        self.assertEqual(bare.addresses, (PeerAddress("203.0.113.8", 5000, AddressType.REFLEXIVE),))
        self.assertEqual(len(cache), 1)

    def test_perScope(self) -> None:
        """
        Entries are kept per class of requester: a private address is in
        the entry for its own range only, and a member with nothing a
        requester may use has no entry for it.
        """
        cache = PeerInfoCache()
        member = self.member(addresses=(PeerAddress("10.0.0.5", 7000),), ip="10.0.0.5")
        inside = cache.info(member, addressScope("10.9.9.9"))
        assert inside is not None
        self.assertEqual(inside.addresses, (PeerAddress("10.0.0.5", 7000),))
        self.assertIsNone(cache.info(member, addressScope("198.51.100.1")))
        self.assertEqual(len(cache), 2)
        cache.clear()
        self.assertEqual(len(cache), 0)

    def test_trust(self) -> None:
        """
        A cache that trusts announced addresses lists public addresses
        other than the observed one as announced.
        """
        member = self.member(addresses=(PeerAddress("198.51.100.99", 7000),))
        trusted = PeerInfoCache(trustAnnouncedAddresses=True).info(member, None)
        assert trusted is not None
        self.assertEqual(trusted.addresses, (PeerAddress("198.51.100.99", 7000),))

    def test_sizeBounded(self) -> None:
        """
        The cache keeps at most C{size} entries in all, whatever the classes
        of requester: one more starts it again empty, with that one only.
        """
        cache = PeerInfoCache(size=3)
        private = addressScope("10.9.9.9")
        cache.info(self.member("z"), private)
        for n in range(2):
            cache.info(self.member(f"p{n}"), None)
        self.assertEqual(len(cache), 3)
        cache.info(self.member("p3"), None)
        self.assertEqual(len(cache), 1)
        for n in range(100):
            cache.info(self.member(f"q{n}"), None)
        self.assertLessEqual(len(cache), 3)

    def test_trackerRecomputesAfterTakeover(self) -> None:
        """
        Through the tracker: a peer that CONNECTs again with other
        addresses and JOINs in another mode is listed with its new ones.
        """
        h = TrackerHarness(self)
        h.connect("a", ip="203.0.113.7", addresses=(PeerAddress("203.0.113.7", 7000),))
        h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        h.connect("req", ip="198.51.100.1")
        [before] = h.ok(FindRequest, "req", swarmID="s").peers
        self.assertEqual((before.mode, before.addresses), (PeerMode.SEED, (PeerAddress("203.0.113.7", 7000),)))
        h.connect("a", ip="203.0.113.7", addresses=(PeerAddress("203.0.113.7", 7001),))
        h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.LIVESEED)
        [after] = h.ok(FindRequest, "req", swarmID="s").peers
        self.assertEqual((after.mode, after.addresses), (PeerMode.LIVESEED, (PeerAddress("203.0.113.7", 7001),)))


class ExpiryTests(SynchronousTestCase):
    """
    Peers expire after the peer timeout; empty swarms are forgotten.
    """

    def setUp(self) -> None:
        self.h = TrackerHarness(self)
        self.h.connect("a")
        self.h.connect("b")
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)

    def test_expiresAfterTimeout(self) -> None:
        """
        A peer not heard from for 180 s is removed from every swarm and its
        registration deleted; at 179 s it is still there.
        """
        self.h.advance(100)
        self.h.ok(KeepAliveRequest, "b")
        self.h.advance(79)
        self.assertIsNotNone(self.h.peer("a"))
        self.assertEqual(ids(self.h.ok(FindRequest, "b", swarmID="s")), ["a"])
        self.h.advance(1)
        self.assertIsNone(self.h.peer("a"))
        self.assertEqual(self.h.existing("s").size, 0)
        self.h.error(AUTH, KeepAliveRequest, "a")

    def test_keepAliveRefreshes(self) -> None:
        """
        KEEPALIVE answers the interval and moves the deadline: a peer that
        keeps alive every 60 s never expires.
        """
        for _ in range(10):
            self.h.advance(60)
            r = self.h.ok(KeepAliveRequest, "a")
            self.assertIsInstance(r, KeepAliveResponse)
            self.assertEqual(r.keepAliveInterval, 60)
        self.assertIsNotNone(self.h.peer("a"))

    def test_anyAcceptedRequestRefreshes(self) -> None:
        """
        Every accepted request refreshes liveness, not only KEEPALIVE.
        """
        self.h.advance(170)
        self.h.ok(FindRequest, "a", swarmID="s")
        self.h.advance(170)
        self.assertIsNotNone(self.h.peer("a"))

    def test_refusedRequestDoesNotRefresh(self) -> None:
        """
        A refused request (here: an unknown swarm) changes nothing, liveness
        included.
        """
        self.h.advance(170)
        self.h.error(NOT_FOUND, FindRequest, "a", swarmID="nope")
        self.h.advance(10)
        self.assertIsNone(self.h.peer("a"))

    def test_expiredBeforeSweep(self) -> None:
        """
        A peer past its deadline gets AUTHENTICATION REQUIRED even if the
        sweep has not run yet.
        """
        self.h.clock.advance(180)
        self.h.error(AUTH, KeepAliveRequest, "a")

    def test_emptySwarmForgotten(self) -> None:
        """
        An empty swarm is forgotten 300 s after it became empty, unless
        someone joined meanwhile.
        """
        self.h.ok(LeaveRequest, "a", swarmID="s")
        self.h.advance(299)
        self.assertIsNotNone(self.h.swarm("s"))
        self.h.advance(1)
        self.assertIsNone(self.h.swarm("s"))
        self.h.connect("a")
        self.h.connect("b")
        self.h.ok(JoinRequest, "a", swarmID="t", mode=PeerMode.SEED)
        self.h.ok(LeaveRequest, "a", swarmID="t")
        self.h.advance(150)
        self.h.ok(JoinRequest, "b", swarmID="t", mode=PeerMode.SEED)
        self.h.advance(160)
        self.assertIsNotNone(self.h.swarm("t"))

    def test_provisionedSwarmKept(self) -> None:
        """
        A provisioned swarm is never forgotten.
        """
        h = TrackerHarness(self, provisionedSwarms=frozenset({"live"}))
        h.connect("a")
        h.ok(JoinRequest, "a", swarmID="live")
        h.ok(LeaveRequest, "a", swarmID="live")
        h.advance(1000)
        self.assertIsNotNone(h.swarm("live"))

    def test_emptySwarmViaExpiry(self) -> None:
        """
        A swarm emptied by expiry is forgotten 300 s later.
        """
        self.h.advance(180)
        self.assertIsNotNone(self.h.swarm("s"))
        self.h.advance(300)
        self.assertIsNone(self.h.swarm("s"))


class StatsTests(SynchronousTestCase):
    """
    STAT_REPORT keeps the latest valid statistics.
    """

    def setUp(self) -> None:
        self.h = TrackerHarness(self)
        self.h.connect("a")
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)

    def test_latestValueKept(self) -> None:
        """
        The latest value of each property is kept: peer-scoped on the peer,
        swarm-scoped on the named membership, others as text.
        """
        self.h.ok(StatReportRequest, "a", stats=(Stat("UploadBandwidth", "10"), Stat("UploadedBytes", "5", "s"), Stat("Vendor", "x")))
        self.h.ok(StatReportRequest, "a", stats=(Stat("UploadBandwidth", "20"),))
        peer = self.h.registered("a")
        self.assertEqual(peer.stats, {"UploadBandwidth": 20, "Vendor": "x"})
        self.assertEqual(peer.swarms["s"].stats, {"UploadedBytes": 5})
        member = self.h.view("s").member("a")
        assert member is not None
        self.assertEqual(member.stat("UploadBandwidth"), 20)

    def test_onlineTimeIgnored(self) -> None:
        """
        A reported OnlineTime is ignored: the tracker counts it.
        """
        self.h.ok(StatReportRequest, "a", stats=(Stat("OnlineTime", "999999"),))
        self.assertEqual(self.h.registered("a").stats, {})

    def test_malformedChangesNothing(self) -> None:
        """
        One malformed value of a known property makes the whole report
        INVALID SYNTAX and keeps nothing of it.
        """
        self.h.error(SYNTAX, StatReportRequest, "a", stats=(Stat("UploadBandwidth", "10"), Stat("AbilityNAT", "MAYBE")))
        self.assertEqual(self.h.registered("a").stats, {})

    def test_messageLimits(self) -> None:
        """
        More than 64 Stats, or a value over 256 characters, is INVALID
        SYNTAX.
        """
        self.h.error(SYNTAX, StatReportRequest, "a", stats=tuple(Stat(f"x{i}", "1") for i in range(65)))
        self.h.ok(StatReportRequest, "a", stats=tuple(Stat(f"x{i}", "1") for i in range(64)))
        self.h.error(SYNTAX, StatReportRequest, "a", stats=(Stat("y", "v" * 257),))
        self.h.ok(StatReportRequest, "a", stats=(Stat("x1", "v" * 256),))

    def test_propertiesKeptLimit(self) -> None:
        """
        A peer cannot make the tracker keep more than 64 properties.
        """
        self.h.ok(StatReportRequest, "a", stats=tuple(Stat(f"x{i}", "1") for i in range(64)))
        self.h.error(FORBIDDEN, StatReportRequest, "a", stats=(Stat("another", "1"),))
        self.h.ok(StatReportRequest, "a", stats=(Stat("x3", "2"),))

    def test_emptyReport(self) -> None:
        """
        A STAT_REPORT must carry at least one Stat.
        """
        self.h.error(SYNTAX, StatReportRequest, "a", stats=())

    def test_countersForOperators(self) -> None:
        """
        The operator's counters read the tracker's metrics: requests by
        method and answers by code, as the HTTP resource counts them
        (L{ppsp.test.test_metrics}; the core alone counts no request, so
        that none is counted twice), and the events the core counts.
        """
        self.h.error(SYNTAX, StatReportRequest, "a", stats=())
        self.assertEqual(self.h.tracker.counters, {})
        metrics = self.h.tracker.metrics
        metrics.answered("JOIN", "OK", 0.001)
        metrics.answered("STAT_REPORT", "INVALID SYNTAX", 0.001)
        metrics.answered("?", "INVALID SYNTAX", 0.001)
        self.h.tracker.countEvent("expired")
        self.assertEqual(
            self.h.tracker.counters,
            {"JOIN": 1, "STAT_REPORT": 1, "OK": 1, "INVALID SYNTAX": 2, "expired": 1},
        )

    def test_swarmNotJoined(self) -> None:
        """
        A Stat scoped to a swarm the peer has not joined is MESSAGE
        FORBIDDEN.
        """
        self.h.error(FORBIDDEN, StatReportRequest, "a", stats=(Stat("UploadedBytes", "1", "other"),))

    def test_propertyNamesCaseInsensitive(self) -> None:
        """
        Known property names match case-insensitively and are kept under
        their canonical names.
        """
        self.h.ok(StatReportRequest, "a", stats=(Stat("uploadbandwidth", "7"),))
        self.assertEqual(self.h.registered("a").stats, {"UploadBandwidth": 7})


class RetryTests(SynchronousTestCase):
    """
    A repeated request gets the same answer and is applied once.
    """

    def setUp(self) -> None:
        self.h = TrackerHarness(self)

    def test_connectRepeated(self) -> None:
        """
        The same CONNECT from the same address within 60 s returns the same
        token, not a new session.
        """
        request = ConnectRequest("same", "a")
        first = self.h.send(request)
        self.h.clock.advance(59)
        self.assertEqual(self.h.send(request), first)
        self.h.clock.advance(1)
        self.h.result(self.h.tracker.expire())
        third = self.h.send(request)
        self.assertNotEqual(third, first)

    def test_notAppliedTwice(self) -> None:
        """
        A repeated LEAVE is answered OK again, not MESSAGE FORBIDDEN.
        """
        self.h.connect("a")
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        leave = LeaveRequest("L1", "a", authToken=self.h.tokens["a"], swarmID="s")
        self.assertEqual(self.h.send(leave).code, OK)
        self.assertEqual(self.h.send(leave).code, OK)
        other = LeaveRequest("L2", "a", authToken=self.h.tokens["a"], swarmID="s")
        self.assertEqual(self.h.send(other).code, FORBIDDEN)

    def test_differentBodyIsNew(self) -> None:
        """
        The same TransactionID with another body is a new request.
        """
        self.h.connect("a")
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        token = self.h.tokens["a"]
        self.assertEqual(self.h.send(JoinRequest("x", "a", authToken=token, swarmID="t", mode=PeerMode.SEED)).code, OK)
        self.assertEqual(self.h.send(LeaveRequest("x", "a", authToken=token, swarmID="s")).code, OK)
        self.assertEqual(set(self.h.registered("a").swarms), {"t"})

    def test_otherMethodSameFieldsIsNew(self) -> None:
        """
        A DISCONNECT and a KEEPALIVE with the same TransactionID have the
        same fields but are different requests.
        """
        self.h.connect("a")
        token = self.h.tokens["a"]
        self.assertEqual(self.h.send(DisconnectRequest("x", "a", authToken=token)).code, OK)
        self.assertEqual(self.h.send(KeepAliveRequest("x", "a", authToken=token)).code, AUTH)

    def test_otherAddressIsNew(self) -> None:
        """
        The same request from another address is not a retry.
        """
        request = ConnectRequest("same", "a")
        first = self.h.send(request, Origin("198.51.100.1", 1))
        second = self.h.send(request, Origin("198.51.100.2", 1))
        self.assertEqual(first.code, OK)
        self.assertEqual(second.code, FORBIDDEN)

    def test_cacheBounded(self) -> None:
        """
        The retry cache keeps at most retryCacheSize answers.
        """
        h = TrackerHarness(self, retryCacheSize=10)
        for i in range(50):
            h.send(KeepAliveRequest(f"k{i}", "nobody"))
        self.assertEqual(len(cast(MemoryRetryCache, h.tracker.retryCache)), 10)


class ConfigTests(SynchronousTestCase):
    """
    L{TrackerConfig} refuses settings that make no sense.
    """

    def test_invalid(self) -> None:
        """
        Non-positive timers, limits below 1 and a peer timeout not longer
        than the keep-alive interval are refused.
        """
        for kw in [
            {"keepAliveInterval": 0},
            {"peerTimeout": 60},
            {"maxPeers": 0},
            {"defaultPeers": 300},
            {"rateLimit": -1},
            {"maxSwarmSize": 0},
        ]:
            self.assertRaises(ValueError, TrackerConfig, **kw)

    def test_customTimers(self) -> None:
        """
        A tracker with custom settings announces its interval and uses its
        timeout.
        """
        h = TrackerHarness(self, keepAliveInterval=10, peerTimeout=30)
        self.assertEqual(h.connect("a").keepAliveInterval, 10)
        h.advance(30)
        self.assertIsNone(h.peer("a"))


class PPSTPConnectTests(SynchronousTestCase):
    """
    The core applies an RFC 7846 CONNECT (L{PPSTPConnectRequest}) with its
    CONNECT, JOIN, LEAVE and DISCONNECT operations.
    """

    def connect(self, h: TrackerHarness, peerID: str, *actions: SwarmAction, tid: str = "", **kw: Any) -> Any:
        return h.send(
            PPSTPConnectRequest(tid or txid(), peerID, swarmActions=actions, sessionByAddress=True, **kw),
            Origin("198.51.100.1", 40000),
        )

    def test_retryNotAppliedTwice(self) -> None:
        """
        A repeated RFC CONNECT (same address, PeerID, TransactionID and
        content) gets the first answer and is not applied again: a LEAVE
        retried after a re-JOIN does not leave.
        """
        h = TrackerHarness(self)
        self.connect(h, "p", SwarmAction("s"), SwarmAction("t"))
        first = self.connect(h, "p", SwarmAction("s", SwarmActionType.LEAVE), tid="L")
        self.connect(h, "p", SwarmAction("s"))
        again = self.connect(h, "p", SwarmAction("s", SwarmActionType.LEAVE), tid="L")
        self.assertIs(again, first)
        self.assertEqual(sorted(h.registered("p").swarms), ["s", "t"])

    def test_joinUpdatesMode(self) -> None:
        """
        A JOIN action for a swarm the peer is in updates its mode, as an XML
        JOIN does (ppsp does not follow RFC 7846 Table 6's "SEEDER JOIN from
        TRACKING is invalid").
        """
        h = TrackerHarness(self)
        self.connect(h, "p", SwarmAction("s"))
        response = self.connect(h, "p", SwarmAction("s", mode=PeerMode.SEED))
        self.assertIsInstance(response, PPSTPConnectResponse)
        self.assertEqual(h.registered("p").swarms["s"].mode, PeerMode.SEED)

    def test_asynchronousChecker(self) -> None:
        """
        With a checker that answers later, the swarm actions run when it
        answers.
        """
        h = TrackerHarness(self)
        pending: Deferred[Any] = Deferred()

        class Later:
            credentialInterfaces = ()

            def requestAvatarId(self, credentials: Any) -> Any:
                return pending

        h.tracker.checker = Later()  # type: ignore[assignment]
        result = h.tracker.handle(
            PPSTPConnectRequest("x", "p", swarmActions=(SwarmAction("s"),)), Origin("198.51.100.1", 1)
        )
        self.assertIsNone(h.peer("p"))
        from twisted.cred.checkers import ANONYMOUS

        pending.callback(ANONYMOUS)
        response: Any = h.result(result)
        self.assertEqual([r.swarmID for r in response.swarmResults], ["s"])
        self.assertEqual(list(h.registered("p").swarms), ["s"])

    def test_statReportNamesSwarms(self) -> None:
        """
        The answer to STAT_REPORT names each swarm its Stats named, once, in
        order (the JSON encoding writes one swarm_result for each).
        """
        h = TrackerHarness(self)
        h.connect("p")
        h.ok(JoinRequest, "p", swarmID="a")
        h.ok(JoinRequest, "p", swarmID="b")
        response = h.ok(
            StatReportRequest,
            "p",
            stats=(Stat("UploadedBytes", "1", "b"), Stat("UploadBandwidth", "2"), Stat("DownloadedBytes", "3", "a"), Stat("BufferLevel", "4", "b")),
        )
        self.assertEqual(response, StatReportResponse(response.transactionID, ("b", "a")))



class OperationsTests(SynchronousTestCase):
    """
    The operations the core offers an encoding's adapter
    (L{ppsp.tracker.rfc7846}): L{Tracker.apply}, L{Tracker.openSession}
    and L{Tracker.updateSession}.
    """

    def test_applyRaises(self) -> None:
        """
        L{Tracker.apply} raises the L{ProtocolError} of a broken rule, which
        L{Tracker.handle} answers.
        """
        h = TrackerHarness(self)
        origin = Origin("198.51.100.1", 40000)
        request = KeepAliveRequest("t", "nobody", authToken="x")
        applied = h.tracker.apply(request, origin, h.clock.seconds())
        h.settle()
        caught = self.failureResultOf(applied, ProtocolError)
        self.assertEqual(caught.value.code, AUTH)
        self.assertEqual(cast(Any, h.send(request, origin)).code, AUTH)

    def test_applyKeepsNoRetry(self) -> None:
        """
        L{Tracker.apply} applies a request each time it is given, however
        often: an adapted request's parts share its TransactionID, and only
        the adapted request itself is answered from the retry cache.
        """
        h = TrackerHarness(self)
        h.connect("p")
        origin = h.origins["p"]
        join = JoinRequest("J", "p", authToken=h.tokens["p"], swarmID="s")
        h.result(h.tracker.apply(join, origin, h.clock.seconds()))
        h.ok(LeaveRequest, "p", swarmID="s")
        h.result(h.tracker.apply(join, origin, h.clock.seconds()))
        self.assertEqual(list(h.registered("p").swarms), ["s"])

    def test_openSessionThenUpdate(self) -> None:
        """
        L{Tracker.openSession} fires with a CONNECT that takes a registered
        session over with nothing of the session changed;
        L{Tracker.updateSession} then moves it to the CONNECT's address and
        announced addresses, and keeps its AuthToken.  A CONNECT of a new
        PeerID registers it.
        """
        h = TrackerHarness(self)
        h.connect("p", ip="198.51.100.1")
        token = h.tokens["p"]
        moved = Origin("198.51.100.2", 5000)
        announced = (PeerAddress("203.0.113.9", 7000),)
        request = ConnectRequest("c", "p", authToken=token, addresses=announced)
        opening: SessionOpening = h.result(
            h.tracker.openSession(request, moved, (), announced)
        )
        peer = h.registered("p")
        self.assertEqual(
            (opening.fresh, opening.peerID, opening.token, len(opening.peer.swarms)),
            (False, "p", token, 0),
        )
        self.assertEqual((peer.observedIP, peer.addresses), ("198.51.100.1", ()))
        h.result(h.tracker.updateSession(opening, announced))
        peer = h.registered("p")
        self.assertEqual((peer.observedIP, peer.addresses, peer.token), ("198.51.100.2", announced, token))
        fresh = h.result(h.tracker.openSession(ConnectRequest("d", "q"), moved, (), None))
        self.assertEqual((fresh.fresh, h.registered("q").addresses), (True, ()))


# The same specification, on a store that shares nothing with the core --------
#
# CopyingPeerStore copies every value that crosses the store's boundary,
# answers on a later turn of the clock, and gives strategies a view of only
# some members (as a networked store does): the core passes these tests only
# if it relies on nothing but the IPeerStore contract.


class _OnCopyingStore:
    copyingStore = True


class ConnectOnCopyingStoreTests(_OnCopyingStore, ConnectTests):
    """
    L{ConnectTests} on a L{CopyingPeerStore<ppsp.test.copyingstore.CopyingPeerStore>}.
    """


class SessionOnCopyingStoreTests(_OnCopyingStore, SessionTests):
    """
    L{SessionTests} on a copying, asynchronous store.
    """


class JoinOnCopyingStoreTests(_OnCopyingStore, JoinTests):
    """
    L{JoinTests} on a copying, asynchronous store.
    """


class ChunkOnCopyingStoreTests(_OnCopyingStore, ChunkTests):
    """
    L{ChunkTests} on a copying, asynchronous store.
    """


class LeaveOnCopyingStoreTests(_OnCopyingStore, LeaveTests):
    """
    L{LeaveTests} on a copying, asynchronous store.
    """


class FindOnCopyingStoreTests(_OnCopyingStore, FindTests):
    """
    L{FindTests} on a copying, asynchronous store whose views hold only
    some members.
    """


class AddressRuleOnCopyingStoreTests(_OnCopyingStore, AddressRuleTests):
    """
    L{AddressRuleTests} on a copying, asynchronous store.
    """


class ExpiryOnCopyingStoreTests(_OnCopyingStore, ExpiryTests):
    """
    L{ExpiryTests} on a copying, asynchronous store.
    """


class StatsOnCopyingStoreTests(_OnCopyingStore, StatsTests):
    """
    L{StatsTests} on a copying, asynchronous store.
    """


class RetryOnCopyingStoreTests(_OnCopyingStore, RetryTests):
    """
    L{RetryTests} on a copying, asynchronous store.
    """


class PPSTPConnectOnCopyingStoreTests(_OnCopyingStore, PPSTPConnectTests):
    """
    L{PPSTPConnectTests} (RFC 7846 CONNECT) on a copying, asynchronous
    store.
    """


class OperationsOnCopyingStoreTests(_OnCopyingStore, OperationsTests):
    """
    L{OperationsTests} on a copying, asynchronous store.
    """


class PartialViewTests(SynchronousTestCase):
    """
    A store whose view holds only some members (a networked store's):
    when the strategy's list from that view comes back short, the tracker
    asks the store once more, for a wider view.
    """

    copyingStore = True

    def test_shortListAsksAgain(self) -> None:
        """
        Of 10 other LEECHes only 3 are still current (the memberships of
        the others ended and are not taken out yet); a FIND for 3 peers
        gets those 3, although the first view the store answers holds 3
        members drawn at random among all 11.
        """
        h = TrackerHarness(self)
        h.connect("asker")
        h.ok(JoinRequest, "asker", swarmID="s", mode=PeerMode.LEECH)
        for i in range(10):
            p = f"p{i}"
            h.connect(p, ip=f"198.51.100.{i + 10}")
            h.ok(JoinRequest, p, swarmID="s", mode=PeerMode.LEECH,
                 expireTime=None if i < 3 else 5)
        h.clock.advance(10)
        h.ok(KeepAliveRequest, "asker")
        answer = h.ok(FindRequest, "asker", swarmID="s", peerNum=3)
        self.assertEqual(sorted(p.peerID for p in answer.peers), ["p0", "p1", "p2"])
