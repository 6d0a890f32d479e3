# -*- test-case-name: ppsp.test.test_limits -*-
"""
The tracker's ceilings on state (PROTOCOL.md section 6, issue 13 holes 2
and 3): sessions per source address and in all, one memory budget per
peer and per address, and expiry entries that go with what they time out.
"""

from __future__ import annotations

import gc
import random
from typing import Any, List, Optional, Tuple

from twisted.internet.task import Clock
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from ppsp.messages import (
    AddressType,
    ChunkRange,
    ConnectRequest,
    ConnectResponse,
    DisconnectRequest,
    ErrorResponse,
    FindRequest,
    FindResponse,
    JoinChunkRequest,
    JoinRequest,
    KeepAliveRequest,
    LeaveRequest,
    PeerAddress,
    PeerMode,
    PPSTPConnectRequest,
    Response,
    ResponseCode,
    Stat,
    StatReportRequest,
    SwarmAction,
    SwarmActionType,
)
from ppsp.selection.locality import LocalitySelector
from ppsp.test.helpers import TrackerHarness, tracedBytes, txid
from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.retry import MemoryRetryCache
from ppsp.tracker.store import MemoryPeerStore
from ppsp.tracker.tap import Options

_FORBIDDEN = ResponseCode.MESSAGE_FORBIDDEN
_OVERLOADED = ResponseCode.TEMPORARILY_OVERLOADED

#: A character that costs 4 bytes in a Python string: identifiers made of
#: it are the most expensive the codecs accept.
_WIDE = "\U0001F600"


def _wide(prefix: str, length: int) -> str:
    """
    A valid identifier of C{length} characters, as expensive as possible.
    """
    return prefix + _WIDE * (length - len(prefix))


def _worstRanges(base: int, count: int = 1024) -> Tuple[ChunkRange, ...]:
    """
    C{count} ranges that do not touch, each filed in four chunk-index
    buckets of its own (the most a range costs).
    """
    return tuple(ChunkRange(base + 8 * k, base + 8 * k + 3) for k in range(count))


class SessionCapTests(SynchronousTestCase):
    """
    Sessions per source address (MESSAGE FORBIDDEN past the cap) and in all
    (TEMPORARILY OVERLOADED), each with a Reason, and nothing registered by
    a refused CONNECT.
    """

    def test_defaultPerAddressCap(self) -> None:
        """
        By default one IPv4 address holds at most 256 sessions: the 257th
        CONNECT is MESSAGE FORBIDDEN with a Reason and registers nothing,
        while another address is still served.
        """
        h = TrackerHarness(self)
        self.assertEqual(TrackerConfig().maxSessionsPerAddress, 256)
        for i in range(256):
            h.connect(f"p{i}", "192.0.2.1")
        response = h.send(ConnectRequest(txid(), "extra"), Origin("192.0.2.1", 1))
        assert isinstance(response, ErrorResponse)
        self.assertEqual(response.code, _FORBIDDEN)
        self.assertIn("256 sessions", response.reason or "")
        self.assertIsNone(h.peer("extra"))
        self.assertEqual(h.counts()[0], 256)
        self.assertEqual(h.addressUsage("192.0.2.1")[0], 256)
        h.connect("elsewhere", "192.0.2.2")

    def test_ipv6CountsPerSlash64(self) -> None:
        """
        IPv6 addresses count per /64: sessions from different addresses of
        one /64 share its cap; another /64 has its own.
        """
        h = TrackerHarness(self, maxSessionsPerAddress=2)
        h.connect("a", "2001:db8:0:1::1")
        h.connect("b", "2001:db8:0:1::ffff")
        response = h.send(ConnectRequest(txid(), "c"), Origin("2001:db8:0:1:1:2:3:4", 1))
        assert isinstance(response, ErrorResponse)
        self.assertEqual(response.code, _FORBIDDEN)
        h.connect("c", "2001:db8:0:2::1")

    def test_endedSessionsFreeTheirPlace(self) -> None:
        """
        A DISCONNECT or an expiry gives the address its place back.
        """
        h = TrackerHarness(self, maxSessionsPerAddress=2)
        h.connect("a", "192.0.2.1")
        h.connect("b", "192.0.2.1")
        h.ok(DisconnectRequest, "a")
        h.connect("c", "192.0.2.1")
        h.advance(h.tracker.config.peerTimeout + 1)
        self.assertEqual(h.addressUsage("192.0.2.1"), (0, 0))
        h.connect("d", "192.0.2.1")
        h.connect("e", "192.0.2.1")

    def test_takeoverWithinTheAddress(self) -> None:
        """
        A CONNECT that takes a session over from the same address adds no
        session, so a full address may still do it.
        """
        h = TrackerHarness(self, maxSessionsPerAddress=1)
        h.connect("a", "192.0.2.1")
        h.connect("a", "192.0.2.1")
        self.assertEqual(h.addressUsage("192.0.2.1")[0], 1)

    def test_takeoverToAFullAddress(self) -> None:
        """
        A CONNECT that moves a session (with its AuthToken) to an address
        that already holds its cap is MESSAGE FORBIDDEN, and the session
        stays where it was; to an address with room it moves, with its
        count.
        """
        h = TrackerHarness(self, maxSessionsPerAddress=1)
        h.connect("a", "192.0.2.1")
        h.connect("b", "192.0.2.2")
        token = h.tokens["a"]
        response = h.send(ConnectRequest(txid(), "a", authToken=token), Origin("192.0.2.2", 5))
        assert isinstance(response, ErrorResponse)
        self.assertEqual(response.code, _FORBIDDEN)
        peer = h.registered("a")
        self.assertEqual((peer.observedIP, peer.token), ("192.0.2.1", token))
        self.assertEqual(h.addressUsage("192.0.2.1")[0], 1)
        response = h.send(ConnectRequest(txid(), "a", authToken=token), Origin("192.0.2.3", 5))
        self.assertIsInstance(response, ConnectResponse)
        self.assertEqual(h.addressUsage("192.0.2.1"), (0, 0))
        self.assertEqual(h.addressUsage("192.0.2.3")[0], 1)

    def test_globalCap(self) -> None:
        """
        Past C{maxSessions}, a CONNECT that would register a new session is
        TEMPORARILY OVERLOADED with a Reason and registers nothing; a
        registered peer may still take its session over.
        """
        h = TrackerHarness(self, maxSessions=2)
        h.connect("a", "192.0.2.1")
        h.connect("b", "192.0.2.2")
        response = h.send(ConnectRequest(txid(), "c"), Origin("192.0.2.3", 1))
        assert isinstance(response, ErrorResponse)
        self.assertEqual(response.code, _OVERLOADED)
        self.assertTrue(response.reason)
        self.assertEqual(h.counts()[0], 2)
        self.assertEqual(h.addressUsage("192.0.2.3"), (0, 0))
        h.connect("a", "192.0.2.1")

    def test_jsonConnectCapped(self) -> None:
        """
        The RFC 7846 CONNECT is capped the same way: refused past the
        address's cap, with no registration and no membership.
        """
        h = TrackerHarness(self, maxSessionsPerAddress=1)
        h.connect("a", "192.0.2.1")
        response = h.send(
            PPSTPConnectRequest(
                txid(),
                "b",
                swarmActions=(SwarmAction("s", SwarmActionType.JOIN, PeerMode.LEECH),),
            ),
            Origin("192.0.2.1", 1),
        )
        assert isinstance(response, ErrorResponse)
        self.assertEqual(response.code, _FORBIDDEN)
        self.assertIsNone(h.peer("b"))
        self.assertIsNone(h.swarm("s"))

    def test_zeroMeansNoCap(self) -> None:
        """
        C{maxSessionsPerAddress=0} and C{maxSessions=0} turn the caps off
        (as for benchmarks, which register every peer from one address).
        """
        h = TrackerHarness(self, maxSessionsPerAddress=0, maxSessions=0)
        for i in range(300):
            h.connect(f"p{i}", "192.0.2.1")
        self.assertEqual(h.addressUsage("192.0.2.1")[0], 300)

    def test_negativeRefused(self) -> None:
        """
        The caps and budgets must not be negative.
        """
        for name in ("maxSessionsPerAddress", "maxSessions", "maxPeerMemory", "maxAddressMemory"):
            self.assertRaises(ValueError, TrackerConfig, **{name: -1})


class BudgetTests(SynchronousTestCase):
    """
    One memory budget for everything a peer holds across its swarms, and
    one for everything the sessions of an address hold: a write past
    either is MESSAGE FORBIDDEN with a Reason and changes nothing; honest
    peers fit.
    """

    def test_honestPeerFits(self) -> None:
        """
        With the default budgets, a peer in three swarms with 1,024 chunk
        ranges each, of the most expensive shape, and a full set of
        statistics everywhere, is refused nothing; so is a peer with 1,024
        ordinary ranges (runs of chunks) in each of eight swarms.
        """
        h = TrackerHarness(self)
        h.connect("worst", "192.0.2.1")
        h.connect("usual", "192.0.2.2")
        stats = tuple(Stat(f"X-{k}", "v" * 256) for k in range(64))
        h.ok(StatReportRequest, "worst", stats=stats)
        for n in range(3):
            h.ok(JoinRequest, "worst", swarmID=f"s{n}", mode=PeerMode.SEED)
            h.ok(JoinChunkRequest, "worst", swarmID=f"s{n}", chunks=_worstRanges(n << 40))
            h.ok(
                StatReportRequest,
                "worst",
                stats=tuple(Stat(f"X-{k}", "v" * 256, f"s{n}") for k in range(64)),
            )
        for n in range(8):
            h.ok(JoinRequest, "usual", swarmID=f"u{n}", mode=PeerMode.SEED)
            ranges = tuple(ChunkRange(150 * k, 150 * k + 100) for k in range(1024))
            h.ok(JoinChunkRequest, "usual", swarmID=f"u{n}", chunks=ranges)

    def test_peerBudget(self) -> None:
        """
        A JOIN_CHUNK that would take a peer past its budget is MESSAGE
        FORBIDDEN with a Reason, and the membership keeps its chunk set; a
        smaller set is still accepted.  (Without the budget, one peer in 64
        swarms with 1,024 ranges each held about 130 MiB.)
        """
        h = TrackerHarness(self)
        h.connect("a", "192.0.2.1")
        refused: Optional[ErrorResponse] = None
        for n in range(64):
            h.ok(JoinRequest, "a", swarmID=f"s{n}")
            response = h.call(JoinChunkRequest, "a", swarmID=f"s{n}", chunks=_worstRanges(n << 40))
            if isinstance(response, ErrorResponse):
                refused = response
                break
        assert refused is not None
        self.assertEqual(refused.code, _FORBIDDEN)
        self.assertIn("memory budget", refused.reason or "")
        peer = h.registered("a")
        self.assertLessEqual(peer.held, h.tracker.config.maxPeerMemory)
        self.assertEqual(peer.swarms[f"s{n}"].chunks, ())
        h.ok(JoinChunkRequest, "a", swarmID=f"s{n}", chunks=(ChunkRange(0, 10),))
        self.assertEqual(h.registered("a").swarms[f"s{n}"].chunks, (ChunkRange(0, 10),))

    def test_statsAndJoinsRefusedWhenSpent(self) -> None:
        """
        Once a peer's budget is spent, a STAT_REPORT or JOIN that needs
        more is refused and keeps nothing, while requests that hold nothing
        more (KEEPALIVE, a FIND, a LEAVE) go on; after the LEAVE frees
        memory, the JOIN succeeds.
        """
        h = TrackerHarness(self, maxPeerMemory=700_000)
        h.connect("a", "192.0.2.1")
        h.ok(JoinRequest, "a", swarmID="s0")
        h.ok(JoinChunkRequest, "a", swarmID="s0", chunks=_worstRanges(0, 300))
        response: Response
        for n in range(100):
            stats = tuple(Stat(f"X-{n}-{k}", _wide("v", 256), "s0") for k in range(8))
            response = h.call(StatReportRequest, "a", stats=stats)
            if isinstance(response, ErrorResponse):
                break
            peer = h.registered("a")
            kept = dict(peer.swarms["s0"].stats)
            before = peer.held
        assert isinstance(response, ErrorResponse)
        self.assertEqual(response.code, _FORBIDDEN)
        self.assertIn("memory budget", response.reason or "")
        peer = h.registered("a")
        self.assertEqual(peer.swarms["s0"].stats, kept)
        self.assertEqual(peer.held, before)
        for n in range(1, 100):
            response = h.call(JoinRequest, "a", swarmID=f"s{n}")
            if isinstance(response, ErrorResponse):
                break
        assert isinstance(response, ErrorResponse)
        self.assertEqual(response.code, _FORBIDDEN)
        peer = h.registered("a")
        self.assertNotIn(f"s{n}", peer.swarms)
        self.assertIsNone(h.swarm(f"s{n}"))
        self.assertLessEqual(peer.held, 700_000)
        h.ok(KeepAliveRequest, "a")
        h.ok(FindRequest, "a", swarmID="s0")
        h.ok(LeaveRequest, "a", swarmID="s0")
        h.ok(JoinRequest, "a", swarmID=f"s{n}")

    def test_addressBudget(self) -> None:
        """
        The sessions of one address share one budget: once they hold it,
        another session's JOIN_CHUNK is refused, and a session from another
        address is not.
        """
        h = TrackerHarness(self, maxAddressMemory=5 * 2**20)
        for name in ("a", "b", "c"):
            h.connect(name, "192.0.2.1")
        h.connect("d", "192.0.2.2")
        for name in ("a", "b", "c", "d"):
            h.ok(JoinRequest, name, swarmID="s")
        h.ok(JoinChunkRequest, "a", swarmID="s", chunks=_worstRanges(0))
        h.ok(JoinChunkRequest, "b", swarmID="s", chunks=_worstRanges(1 << 40))
        h.error(_FORBIDDEN, JoinChunkRequest, "c", swarmID="s", chunks=_worstRanges(2 << 40))
        h.ok(JoinChunkRequest, "d", swarmID="s", chunks=_worstRanges(3 << 40))
        self.assertLessEqual(h.addressUsage("192.0.2.1")[1], 5 * 2**20)

    def test_newSessionOverAddressBudget(self) -> None:
        """
        A CONNECT whose record and statistics would not fit in the
        address's budget registers nothing.
        """
        h = TrackerHarness(self, maxAddressMemory=50_000)
        stats = tuple(Stat(f"X-{k}", _wide("v", 256)) for k in range(64))
        response = h.send(ConnectRequest(txid(), "a", stats=stats), Origin("192.0.2.1", 1))
        assert isinstance(response, ErrorResponse)
        self.assertEqual(response.code, _FORBIDDEN)
        self.assertIsNone(h.peer("a"))
        self.assertEqual(h.addressUsage("192.0.2.1"), (0, 0))

    def test_takeoverCountsAtTheNewAddress(self) -> None:
        """
        A session that moves to another address takes what it holds to
        that address's account, and is refused when that account has no
        room for it.
        """
        h = TrackerHarness(self, maxAddressMemory=4 * 2**20)
        h.connect("a", "192.0.2.1")
        h.connect("b", "192.0.2.2")
        h.ok(JoinRequest, "a", swarmID="s")
        h.ok(JoinRequest, "b", swarmID="s")
        h.ok(JoinChunkRequest, "a", swarmID="s", chunks=_worstRanges(0))
        h.ok(JoinChunkRequest, "b", swarmID="s", chunks=_worstRanges(1 << 40))
        held = h.registered("a").held
        response = h.send(
            ConnectRequest(txid(), "a", authToken=h.tokens["a"]), Origin("192.0.2.2", 1)
        )
        assert isinstance(response, ErrorResponse)
        self.assertEqual(response.code, _FORBIDDEN)
        self.assertEqual(h.addressUsage("192.0.2.1")[1], held)
        response = h.send(
            ConnectRequest(txid(), "a", authToken=h.tokens["a"]), Origin("192.0.2.3", 1)
        )
        self.assertIsInstance(response, ConnectResponse)
        self.assertEqual(h.addressUsage("192.0.2.1"), (0, 0))
        self.assertEqual(h.addressUsage("192.0.2.3")[1], h.registered("a").held)

    def test_accountsReleased(self) -> None:
        """
        What a peer held is released from its address's account by LEAVE
        and DISCONNECT: an address whose sessions are gone holds nothing.
        """
        h = TrackerHarness(self)
        h.connect("a", "192.0.2.1", addresses=(PeerAddress("192.0.2.1", 7000),))
        recordOnly = h.addressUsage("192.0.2.1")
        h.ok(JoinRequest, "a", swarmID="s", stats=(Stat("BufferLevel", "5"),))
        h.ok(JoinChunkRequest, "a", swarmID="s", chunks=_worstRanges(0, 10))
        h.ok(StatReportRequest, "a", stats=(Stat("X-note", "hello", "s"),))
        h.ok(LeaveRequest, "a", swarmID="s")
        self.assertEqual(h.addressUsage("192.0.2.1"), recordOnly)
        h.ok(StatReportRequest, "a", stats=(Stat("X-note", "hello"),))
        h.ok(DisconnectRequest, "a")
        self.assertEqual(h.addressUsage("192.0.2.1"), (0, 0))

    def test_oneAddressStaysUnderItsBudget(self) -> None:
        """
        From one IPv6 /64, an attacker opens as many sessions as it may
        (with the longest PeerIDs and the most addresses), joins new
        swarms (with the longest SwarmIDs, as SEEDs, each with an
        ExpireTime of its own), announces chunk ranges of the most
        expensive shape and keeps the longest statistics on every peer and
        membership, each until refused; peers from every class of address
        then FIND in its swarms, so that the tracker caches a peer-list
        entry of every member for each, and a locality strategy groups
        each session apart.  What the tracker holds, measured with tracemalloc, stays
        under the default address budget of 16 MiB.
        """
        clock = Clock()
        clock.advance(1_000_000)
        config = TrackerConfig()
        tracker = Tracker(
            clock,
            config,
            store=MemoryPeerStore(random.Random(1)),
            selector=LocalitySelector.fromArgs("prefix6=128"),
            retryCache=MemoryRetryCache(0.0, 1),
        )
        requesters: List[Tuple[str, str, Origin]] = []
        for n, ip in enumerate(
            ["198.51.100.1", "127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.0.1",
             "100.64.0.1", "169.254.0.1", "::1", "fc00::1", "fe80::1", "240.0.0.1", "bogus"]
        ):
            origin = Origin(ip, 1)
            answer = self.successResultOf(tracker.handle(ConnectRequest(txid(), f"r{n}"), origin))
            assert isinstance(answer, ConnectResponse), answer
            requesters.append((f"r{n}", answer.authToken, origin))
        addresses = tuple(
            PeerAddress(ip, 65000 + k, AddressType.HOST, 2**31 - 1 - k)
            for k, ip in enumerate(
                ["10.255.255.254", "172.31.255.254", "192.168.255.254", "100.127.255.254",
                 "169.254.255.254", "fc00:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
                 "fe80::ffff:ffff:ffff:fffe", "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe"]
            )
        )
        gc.collect()
        baseline = tracedBytes(self)

        refusals: List[ErrorResponse] = []

        def send(request: Any, origin: Origin) -> Response:
            answer = self.successResultOf(tracker.handle(request, origin))
            assert not isinstance(answer, ErrorResponse) or answer.code is _FORBIDDEN, answer
            if isinstance(answer, ErrorResponse):
                refusals.append(answer)
            return answer

        sessions: List[Tuple[str, str, Origin]] = []
        for i in range(config.maxSessionsPerAddress + 1):
            peerID = _wide(f"p{i}-", 128)
            origin = Origin("2001:db8:0:1:ffff:ffff:ffff:%x" % (0xF000 + i), 50000)
            answer = send(ConnectRequest(txid(), peerID, addresses=addresses, statPort=60000), origin)
            if isinstance(answer, ConnectResponse):
                sessions.append((peerID, answer.authToken, origin))
        self.assertEqual(len(sessions), config.maxSessionsPerAddress)

        def join(peerID: str, token: str, origin: Origin, n: int) -> bool:
            swarmID = _wide(f"s{n}-", 128)
            answer = send(
                JoinRequest(txid(), peerID, token, swarmID=swarmID, mode=PeerMode.SEED,
                            expireTime=10**8 + n),
                origin,
            )
            return not isinstance(answer, ErrorResponse)

        swarms: List[Tuple[str, str, str, Origin]] = []
        # Memberships: the first 40 sessions join up to their 64 swarms.
        n = 0
        for peerID, token, origin in sessions[:40]:
            for _ in range(config.maxSwarmsPerPeer):
                n += 1
                if join(peerID, token, origin, n):
                    swarms.append((_wide(f"s{n}-", 128), peerID, token, origin))
        # Chunk sets of the most expensive shape, until refused.
        for k, (swarmID, peerID, token, origin) in enumerate(swarms[:6]):
            send(JoinChunkRequest(txid(), peerID, token, swarmID=swarmID,
                                  chunks=_worstRanges((k + 1) << 40)), origin)
        # The longest statistics on peers and memberships, until refused.
        values = [_wide(f"v{k}-", 256) for k in range(64)]
        targets: List[Tuple[str, str, Origin, Optional[str]]] = [
            (peerID, token, origin, None) for peerID, token, origin in sessions
        ] + [(peerID, token, origin, swarmID) for swarmID, peerID, token, origin in swarms]
        for target, token, origin, scope in targets:
            stats = tuple(Stat(_wide(f"x{k}-", 64), values[k], scope) for k in range(64))
            if isinstance(send(StatReportRequest(txid(), target, token, stats=stats), origin),
                          ErrorResponse):
                break
        self.assertTrue(refusals)
        # Every class of requester asks for the peers of every swarm.
        for swarmID, _p, _t, _o in swarms:
            for requester, token, origin in requesters:
                answer = self.successResultOf(tracker.handle(
                    FindRequest(txid(), requester, token, swarmID=swarmID), origin
                ))
                assert isinstance(answer, FindResponse), answer

        gc.collect()
        held = tracedBytes(self) - baseline
        budget = config.maxAddressMemory
        self.assertEqual(budget, 16 * 2**20)
        _sessions, used, _total = self.successResultOf(
            tracker.store.usage(sessions[0][2].ip)
        )
        self.assertLessEqual(used, budget)
        self.assertLessEqual(held, budget)
        # The budget was used, not left idle: the test measured a full one.
        self.assertGreater(held, budget // 2)


class ExpiryEntryTests(SynchronousTestCase):
    """
    Expiry entries go when what they time out goes (issue 13, hole 3): a
    membership has one, a swarm has at most one pending check, and a
    peer's stale entries are never refiled.
    """

    def test_joinLeavePairsLeaveNothing(self) -> None:
        """
        20,000 JOIN/LEAVE pairs with far and different ExpireTimes, in
        fresh swarms, leave no expiry entry behind: only the peer's own and
        the pending checks of the swarms they left empty, which go with
        the swarms; and the memory they used is given back.
        """
        h = TrackerHarness(self, emptySwarmLifetime=10)
        # A retry cache that keeps one answer: the memory measured below is
        # the store's.
        h.tracker = Tracker(
            h.clock, h.tracker.config, store=h.store, retryCache=MemoryRetryCache(0.0, 1)
        )
        h.connect("a", "192.0.2.1")
        store = h.store
        self.assertEqual(store.scheduledCount(), 1)
        h.ok(JoinRequest, "a", swarmID="warm", expireTime=2**31 - 1)
        h.ok(LeaveRequest, "a", swarmID="warm")
        h.advance(h.tracker.config.emptySwarmLifetime + 1)
        self.assertEqual(store.scheduledCount(), 1)
        gc.collect()
        before = tracedBytes(self)
        for n in range(20_000):
            h.ok(JoinRequest, "a", swarmID="same", expireTime=2**31 - 1 - n)
            h.ok(LeaveRequest, "a", swarmID="same")
        self.assertEqual(store.scheduledCount(), 2)
        h.advance(h.tracker.config.emptySwarmLifetime + 1)
        self.assertEqual(store.scheduledCount(), 1)
        self.assertIsNone(h.swarm("same"))
        gc.collect()
        self.assertLess(tracedBytes(self) - before, 64 * 1024)

    def test_earlierExpireTimes(self) -> None:
        """
        JOINs that move a membership's ExpireTime earlier (or later, or
        clear it) keep exactly one entry for it, which goes with the
        membership at DISCONNECT.
        """
        h = TrackerHarness(self)
        h.connect("a", "192.0.2.1")
        for n in range(1000):
            h.ok(JoinRequest, "a", swarmID="s", expireTime=10**6 - n)
        self.assertEqual(h.store.scheduledCount(), 2)
        h.ok(JoinRequest, "a", swarmID="s", expireTime=10**7)
        self.assertEqual(h.store.scheduledCount(), 2)
        h.ok(JoinRequest, "a", swarmID="s")
        self.assertEqual(h.store.scheduledCount(), 1)
        h.ok(JoinRequest, "a", swarmID="s", expireTime=10)
        self.assertEqual(h.store.scheduledCount(), 2)
        h.ok(DisconnectRequest, "a")
        # The peer's own entry is stale until it falls due; the swarm the
        # DISCONNECT left empty has its check.
        h.advance(h.tracker.config.peerTimeout + 1)
        self.assertEqual(h.store.scheduledCount(), 1)
        h.advance(h.tracker.config.emptySwarmLifetime)
        self.assertEqual(h.store.scheduledCount(), 0)

    def test_membershipStillExpires(self) -> None:
        """
        A membership whose ExpireTime was moved earlier ends at the new
        time, and one moved later at the later time.
        """
        h = TrackerHarness(self)
        h.connect("a", "192.0.2.1")
        h.ok(JoinRequest, "a", swarmID="s", expireTime=100)
        h.ok(JoinRequest, "a", swarmID="s", expireTime=10)
        h.ok(JoinRequest, "a", swarmID="t", expireTime=10)
        h.ok(JoinRequest, "a", swarmID="t", expireTime=100)
        h.advance(11)
        self.assertEqual(sorted(h.registered("a").swarms), ["t"])
        h.ok(KeepAliveRequest, "a")
        h.advance(90)
        self.assertEqual(sorted(h.registered("a").swarms), [])

    def test_reconnectsDoNotMultiplyPeerEntries(self) -> None:
        """
        CONNECT/DISCONNECT cycles of one PeerID, followed by a session that
        stays alive, leave that session with one expiry entry once the
        stale ones fall due: they are dropped, not filed again.
        """
        h = TrackerHarness(self)
        for _ in range(50):
            h.connect("a", "192.0.2.1")
            h.ok(DisconnectRequest, "a")
            h.clock.advance(1)
        h.connect("a", "192.0.2.1")
        for _ in range(2 * int(h.tracker.config.peerTimeout)):
            h.advance(1)
            h.ok(KeepAliveRequest, "a")
        self.assertEqual(h.store.scheduledCount(), 1)


class OptionTests(SynchronousTestCase):
    """
    The caps and budgets as C{twistd ppsp-tracker} options.
    """

    def test_defaults(self) -> None:
        """
        Without options, the caps and budgets are those of the profile: 256
        sessions per address, 1,000,000 in all, 8 MiB per peer and 16 MiB
        per address.
        """
        options = Options()
        options.parseOptions([])
        config = options["config"]
        self.assertEqual(
            (config.maxSessionsPerAddress, config.maxSessions, config.maxPeerMemory,
             config.maxAddressMemory),
            (256, 1_000_000, 8 * 2**20, 16 * 2**20),
        )

    def test_values(self) -> None:
        """
        The options set the config; sizes take binary units, and 0 turns a
        limit off.
        """
        options = Options()
        options.parseOptions([
            "--max-sessions-per-address", "0", "--max-sessions", "10",
            "--max-peer-memory", "512K", "--max-address-memory", "2MiB",
        ])
        config = options["config"]
        self.assertEqual(
            (config.maxSessionsPerAddress, config.maxSessions, config.maxPeerMemory,
             config.maxAddressMemory),
            (0, 10, 512 * 1024, 2 * 2**20),
        )

    def test_badValues(self) -> None:
        """
        A negative count or a size that is not one is a usage error.
        """
        for args in (["--max-sessions", "-1"], ["--max-peer-memory", "lots"],
                     ["--max-address-memory", "-5M"]):
            self.assertRaises(UsageError, Options().parseOptions, args)
