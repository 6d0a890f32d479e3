"""
Tests for the built-in peer-selection strategies (L{ppsp.selection.roles},
L{ppsp.selection.locality}, L{ppsp.selection.capacity},
L{ppsp.selection.chunks}, L{ppsp.selection.composite}): their behaviour
through a real L{Tracker} over a L{MemoryPeerStore} whose swarms are built
through the store's public writes, and over the L{SnapshotSwarmView} a
networked store gives, with seeded random sources; the same tests again
(the C{*OnRedis} classes) through a tracker on a L{RedisPeerStore
<ppsp.tracker.redisstore.RedisPeerStore>} against a redis-server of each
test's own; and their argument syntax.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple, TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from ppsp.interfaces import IFindConstraints, IPeerSelector, ISwarmMember, ISwarmView
from ppsp.messages import (
    ChunkRange,
    FindChunkRequest,
    FindRequest,
    FindResponse,
    KeepAliveRequest,
    LeaveRequest,
    PeerMode,
)
from ppsp.selection import availableSelectors, makeSelector
from ppsp.selection._common import Excluding, parseArgs, positiveInt, share, splitArgs
from ppsp.selection.capacity import CapacitySelector
from ppsp.selection.chunks import ChunksSelector, reach
from ppsp.selection.composite import CompositeSelector, allocate, parseComposite
from ppsp.selection.locality import LocalitySelector, Networks
from ppsp.selection.roles import RolesSelector
from ppsp.test.helpers import TrackerHarness
from ppsp.test.swarms import SwarmBuilder
from ppsp.test.redisserver import WAIT
from ppsp.test.test_redisstore import RedisTestCase
from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.values import StatValue

T = TypeVar("T")

LEECH, SEED, LIVESEED = PeerMode.LEECH, PeerMode.SEED, PeerMode.LIVESEED

#: Every built-in strategy, as an operator names it.
BUILTINS = ("random", "roles", "locality", "capacity", "chunks", "composite")


class RedisHarness(TrackerHarness):
    """
    A L{TrackerHarness} whose tracker is on a L{RedisPeerStore
    <ppsp.tracker.redisstore.RedisPeerStore>} connected to the test's own
    redis-server: each result waits for the server's answers.
    """

    def __init__(self, testCase: RedisTestCase) -> None:
        TrackerHarness.__init__(self, testCase)
        self.redis = testCase
        self.store = testCase.connect(seed=4)  # type: ignore[assignment]
        self.tracker = Tracker(self.clock, TrackerConfig(), store=self.store)

    def result(self, d: "Deferred[T]") -> T:
        """
        The result of C{d}, once the test's reactor has been turned until
        it fired.
        """
        self.redis.reactor.runUntil(d)
        return self.testCase.successResultOf(d)

    def settle(self) -> None:
        self.redis.reactor.runUntil(self.store.whenIdle())  # type: ignore[attr-defined]

    def turnUntil(self, condition: Callable[[], bool]) -> None:
        """
        Turn the test's reactor until C{condition()} is true (the test
        fails after L{WAIT} seconds).
        """
        deadline = time.monotonic() + WAIT
        while not condition():
            self.testCase.assertLess(time.monotonic(), deadline, "the condition never held")
            self.redis.reactor.iterate(0.01)


class World:
    """
    A tracker with one strategy, whose swarm C{s} is filled through the
    store's public writes; its peers ask for lists through the tracker, or
    the strategy is asked directly.  The store is a memory store, or a
    Redis store when the test is a L{RedisTestCase}.
    """

    def __init__(self, testCase: SynchronousTestCase, selector: Any) -> None:
        self.h = (
            RedisHarness(testCase) if isinstance(testCase, RedisTestCase)
            else TrackerHarness(testCase)
        )
        self.h.tracker.selector = selector
        self.selector = selector
        self.swarms = SwarmBuilder(
            testCase, self.h.store, self.h.clock, self.h.tracker.config.peerTimeout,
            self.h.result,
        )

    def peer(
        self,
        peerID: str,
        mode: PeerMode = LEECH,
        ip: str = "198.51.100.1",
        chunks: Sequence[ChunkRange] = (),
        stats: Mapping[str, StatValue] = {},
        swarmStats: Mapping[str, StatValue] = {},
        swarm: str = "s",
    ) -> None:
        """
        Register a peer from C{ip} (unless it is registered), make it a
        member of C{swarm} in C{mode}, with its chunks and statistics
        (L{SwarmBuilder.peer}); it can then send requests to the tracker.
        """
        session = self.swarms.peer(peerID, mode, ip, chunks, stats, swarmStats, swarm)
        self.h.tokens[peerID] = session.token
        self.h.origins[peerID] = Origin(session.observedIP, session.observedPort)

    def find(self, peerID: str, count: int = 30, chunk: Optional[int] = None) -> List[str]:
        """
        The PeerIDs of a FIND's answer (FIND_CHUNK when C{chunk} is given),
        in the strategy's order.
        """
        if chunk is None:
            r = self.h.ok(FindRequest, peerID, swarmID="s", peerNum=count)
        else:
            r = self.h.ok(FindChunkRequest, peerID, swarmID="s", peerNum=count, chunkID=chunk)
        return [p.peerID for p in r.peers]

    def select(self, peerID: str, count: int, chunk: Optional[int] = None) -> List[ISwarmMember]:
        """
        Ask the strategy directly (not through the core) for C{count}
        members, from the store's view, with the tracker's own constraints.
        """
        return self.swarms.select(self.selector, peerID, count, chunk)

    def modes(self, peerIDs: Sequence[str]) -> List[PeerMode]:
        """
        The modes of C{peerIDs} in swarm C{s}.
        """
        byID = {m.peerID: m.mode for m in self.swarms.members()}
        return [byID[p] for p in peerIDs]


class ArgumentTests(SynchronousTestCase):
    """
    The argument syntax every built-in shares, and each one's own.
    """

    def test_splitArgs(self) -> None:
        """
        Commas separate items except inside parentheses; blank items are
        dropped; unbalanced parentheses are refused.
        """
        self.assertEqual(
            splitArgs("a=1, b(x=1,y=2)=3,,c=4"), ["a=1", "b(x=1,y=2)=3", "c=4"]
        )
        self.assertRaises(ValueError, splitArgs, "a(=1")
        self.assertRaises(ValueError, splitArgs, "a)=1")

    def test_parseArgs(self) -> None:
        """
        Keys are case-insensitive and converted; an unknown key names the
        known ones; a repeated key, a missing C{=} and a bad value are
        refused with the strategy's name in the message.
        """
        known = {"n": positiveInt, "share": share}
        self.assertEqual(parseArgs("x", "N=3,share=20%", known), {"n": 3, "share": 0.2})
        self.assertEqual(parseArgs("x", "", known), {})
        e = self.assertRaises(ValueError, parseArgs, "x", "m=1", known)
        self.assertEqual(str(e), "x: unknown argument 'm'; known: n, share")
        e = self.assertRaises(ValueError, parseArgs, "x", "n=1,n=2", known)
        self.assertEqual(str(e), "x: 'n' given twice")
        e = self.assertRaises(ValueError, parseArgs, "x", "n", known)
        self.assertEqual(str(e), "x: expected KEY=VALUE, got 'n'")
        e = self.assertRaises(ValueError, parseArgs, "x", "n=0", known)
        self.assertEqual(str(e), "x: n='0': must be at least 1")
        e = self.assertRaises(ValueError, parseArgs, "x", "share=1.5", known)
        self.assertIn("must be between 0 and 1", str(e))

    def test_goodArguments(self) -> None:
        """
        Each documented argument reaches the strategy.
        """
        roles: Any = makeSelector("roles:seeds=0.25")
        self.assertEqual(roles.seeds, 0.25)
        locality: Any = makeSelector("locality:prefix4=16,prefix6=32,random=0.1,probe=2")
        self.assertEqual(
            (locality.networks.prefix4, locality.networks.prefix6, locality.randomShare, locality.probe),
            (16, 32, 0.1, 2),
        )
        capacity: Any = makeSelector("capacity:probe=3,interval=5,unknown=200,tracked=10")
        self.assertEqual(
            (capacity.probe, capacity.interval, capacity.unknown, capacity.maxTracked),
            (3, 5.0, 200, 10),
        )
        chunks: Any = makeSelector("chunks:probe=2,horizon=64,behind=3")
        self.assertEqual((chunks.probe, chunks.horizon, chunks.behind), (2, 64, 3.0))
        defaults: Any = makeSelector("locality")
        self.assertEqual((defaults.networks.prefix4, defaults.networks.prefix6, defaults.randomShare), (24, 48, 0.2))

    def test_badArguments(self) -> None:
        """
        Every strategy refuses what it does not understand with a
        L{ValueError} that names the strategy and the item.
        """
        cases = {
            "roles:x=1": "roles: unknown argument 'x'; known: seeds",
            "roles:seeds=2": "roles: seeds='2': must be between 0 and 1",
            "locality:prefix4=33": "locality: prefix4='33': must be from 0 to 32",
            "locality:prefix6=x": "locality: prefix6='x': not a whole number",
            "locality:map=/nonexistent/ppsp.map": "cannot read the map",
            "capacity:interval=0": "capacity: interval='0': must be a finite number above 0",
            "capacity:probe": "capacity: expected KEY=VALUE, got 'probe'",
            "chunks:horizon=-1": "chunks: horizon='-1': must be at least 1",
            "composite:composite=1": "a composite cannot contain a composite",
            "composite:random=0.5": "name at least one strategy",
            "composite:nope=1": "composite: unknown strategy 'nope'",
            "composite:locality=0": "composite: locality='0': must be a finite number above 0",
            "composite:locality(prefix4=99)=1": "locality: prefix4='99'",
            "composite:locality=1,locality=2": "'locality' given twice",
            "composite:locality(=1": "composite: unbalanced '('",
        }
        for spec, message in cases.items():
            e = self.assertRaises(ValueError, makeSelector, spec)
            self.assertIn(message, str(e), spec)

    def test_mapFileErrors(self) -> None:
        """
        A map line that is not C{CIDR NETWORK} is refused with the file and
        line number.
        """
        path = FilePath(self.mktemp())
        path.setContent(b"# ok\n198.51.100.0/24 AS1\n\n198.51.300.0/24 AS2\n")
        e = self.assertRaises(ValueError, LocalitySelector.fromArgs, f"map={path.path}")
        self.assertIn(f"{path.path}:4:", str(e))
        path.setContent(b"198.51.100.0/24\n")
        e = self.assertRaises(ValueError, LocalitySelector.fromArgs, f"map={path.path}")
        self.assertIn(f"{path.path}:1: expected 'CIDR NETWORK'", str(e))

    def test_discovery(self) -> None:
        """
        Every built-in strategy is found as a plugin, makes an
        L{IPeerSelector}, and takes an injected random source.
        """
        found = availableSelectors()
        for name in ("random", "roles", "locality", "capacity", "chunks", "composite"):
            self.assertIn(name, found)
            self.assertTrue(verifyObject(IPeerSelector, found[name].makeSelector("")))
        rng = random.Random(1)
        for cls in (RolesSelector, LocalitySelector, CapacitySelector, ChunksSelector):
            self.assertIs(cls.fromArgs("", random=rng).random, rng)
        self.assertIs(CompositeSelector.fromArgs("", random=rng).random, rng)


class InvariantTests(SynchronousTestCase):
    """
    Each built-in strategy keeps the invariants itself (the tracker checks
    them again): never the requester, never an expired peer, no
    duplicates, at most the count asked for, only holders for a chunk.
    """

    def populate(self, w: World) -> None:
        """
        Fill swarm C{s} with 40 peers (LIVESEEDs, SEEDs and LEECHes over
        three /24s, peer C{pI} holding chunks 0 to I, with a bandwidth and
        a playback position), and let the odd ones expire without being
        taken out yet.
        """
        for i in range(40):
            w.peer(
                f"p{i}",
                (LIVESEED, SEED, SEED, LEECH, LEECH)[i % 5],
                ip=f"198.51.{100 + i % 3}.{i + 1}",
                chunks=[ChunkRange(0, i)],
                stats={"UploadBandwidth": 100 * (i + 1), "PlaybackPosition": i},
            )
        w.h.advance(170)
        for i in range(0, 40, 2):
            w.h.ok(KeepAliveRequest, f"p{i}")
        w.h.clock.advance(15)  # the odd peers have expired, not yet swept

    def assertKeepsInvariants(
        self,
        spec: str,
        got: Sequence[ISwarmMember],
        view: ISwarmView,
        requester: str,
        count: int,
        chunk: Optional[int],
        eligible: Optional[set[str]],
    ) -> None:
        """
        C{got} holds at most C{count} distinct members of C{view}, never
        the requester, only live peers (the even ones), only holders of
        C{chunk}; and, when C{eligible} is given, exactly those.
        """
        ids = [m.peerID for m in got]
        where = (spec, requester, count, chunk)
        self.assertLessEqual(len(ids), count, where)
        self.assertEqual(len(set(ids)), len(ids), where)
        self.assertNotIn(requester, ids, where)
        self.assertTrue(all(int(p[1:]) % 2 == 0 for p in ids), where)
        self.assertTrue(all(view.member(p) is not None for p in ids), where)
        if chunk is not None:
            self.assertTrue(all(m.holds(chunk) for m in got), where)
        if eligible is not None:
            # Every strategy fills the list when it can.
            self.assertEqual(set(ids), eligible - {requester}, where)

    def test_strategiesKeepInvariants(self) -> None:
        """
        Asked directly for more peers than qualify, in a swarm with
        expired peers, seeds, a live source, several networks and chunk
        holders, no strategy returns a peer it should not.
        """
        for spec in BUILTINS:
            w = World(self, makeSelector(spec))
            self.populate(w)
            alive = {f"p{i}" for i in range(0, 40, 2)}
            for requester in ("p0", "p1", "p4"):
                for chunk in (None, 10):
                    for count in (1, 7, 100):
                        _peer, view = w.swarms.view(requester)
                        got = w.select(requester, count, chunk)
                        holders = {p for p in alive if chunk is None or int(p[1:]) >= chunk}
                        self.assertKeepsInvariants(
                            spec, got, view, requester, count, chunk,
                            holders if count == 100 else None,
                        )

    def test_snapshotViews(self) -> None:
        """
        Over the L{SnapshotSwarmView} of a networked store, whose members
        are values that cannot be hashed, every strategy keeps the same
        invariants: over a complete view it fills the list as over the
        memory store's; over a partial one (every fourth LEECH missing,
        the seeds all there, C{complete} false) it lists only members the
        view holds.
        """
        for spec in BUILTINS:
            w = World(self, makeSelector(spec))
            self.populate(w)
            alive = {f"p{i}" for i in range(0, 40, 2)}
            complete = w.swarms.snapshot()
            self.assertTrue(complete.complete)
            member = complete.member("p0")
            assert member is not None
            self.assertRaises(TypeError, hash, member)
            partial = w.swarms.snapshot(
                keep=lambda m: m.mode is not LEECH or int(m.peerID[1:]) % 4 != 3
            )
            self.assertFalse(partial.complete)
            held = {m.peerID for m in partial}
            self.assertLess(len(held), 40)
            for view in (complete, partial):
                for requester in ("p0", "p1", "p4"):
                    for chunk in (None, 10):
                        for count in (1, 7, 100):
                            got = w.swarms.select(w.selector, requester, count, chunk, view=view)
                            holders = {
                                p for p in alive & held
                                if chunk is None or int(p[1:]) >= chunk
                            }
                            self.assertKeepsInvariants(
                                spec, got, view, requester, count, chunk,
                                holders if count == 100 else None,
                            )


class RolesTests(SynchronousTestCase):
    """
    C{roles}: seeds first for LEECHes, LEECHes first for seeds, seeds
    handed out round-robin.
    """

    def world(self, seeds: float = 0.5, live: int = 1, seedCount: int = 4, leeches: int = 20) -> World:
        w = World(self, RolesSelector(seeds=seeds, random=random.Random(3)))
        for i in range(live):
            w.peer(f"live{i}", LIVESEED)
        for i in range(seedCount):
            w.peer(f"seed{i}", SEED)
        for i in range(leeches):
            w.peer(f"leech{i}", LEECH)
        return w

    def test_leechGetsSeedsFirst(self) -> None:
        """
        A LEECH asking for 6 gets the LIVESEED first, then SEEDs up to
        half of the list (3 with the live source), then LEECHes.
        """
        w = self.world()
        got = w.find("leech0", 6)
        self.assertEqual(w.modes(got), [LIVESEED, SEED, SEED, LEECH, LEECH, LEECH])

    def test_liveSourceAlwaysListed(self) -> None:
        """
        With no share for seeds, a LEECH still gets the live source, and
        no SEED while LEECHes are enough.
        """
        w = self.world(seeds=0)
        for _ in range(5):
            got = w.find("leech1", 4)
            self.assertEqual(w.modes(got), [LIVESEED, LEECH, LEECH, LEECH])

    def test_seedsWhenLeechesRunOut(self) -> None:
        """
        When there are too few LEECHes, SEEDs fill the list.
        """
        w = self.world(seeds=0, live=0, seedCount=5, leeches=3)
        got = w.find("leech0", 7)
        self.assertEqual(Counter(w.modes(got)), Counter({LEECH: 2, SEED: 5}))

    def test_seedGetsLeeches(self) -> None:
        """
        A SEED gets LEECHes only while there are enough, then SEEDs, then
        the live source.
        """
        w = self.world(seedCount=3, leeches=10)
        self.assertEqual(set(w.modes(w.find("seed0", 10))), {LEECH})
        got = w.find("seed0", 14)
        self.assertEqual(w.modes(got), [LEECH] * 10 + [SEED, SEED, LIVESEED])

    def test_roundRobin(self) -> None:
        """
        Over many FINDs, every seed is handed out equally often: with 10
        seeds and 2 seed slots a list, 100 FINDs hand each out 20 times.
        """
        w = self.world(live=0, seedCount=10, leeches=30)
        handed: Counter[str] = Counter()
        for i in range(100):
            got = w.find(f"leech{i % 30}", 4)
            handed.update(p for p in got if p.startswith("seed"))
        self.assertEqual(set(handed.values()), {20})
        self.assertEqual(len(handed), 10)

    def test_modeChangeOnRejoin(self) -> None:
        """
        A LEECH that JOINs again as SEED is listed among the seeds, and a
        SEED that JOINs again as LEECH is no longer listed as one.
        """
        w = self.world(live=0, seedCount=1, leeches=5)
        w.peer("leech4", SEED)
        w.peer("seed0", LEECH)
        _peer, swarm = w.swarms.view("leech0")
        self.assertEqual([m.peerID for m in swarm.modeMembers(SEED)], ["leech4"])
        got = w.find("leech0", 2)
        self.assertEqual(got[0], "leech4")

    def test_chunk(self) -> None:
        """
        For FIND_CHUNK, only holders are listed, seeds first.
        """
        w = self.world(live=0, seedCount=0, leeches=0)
        for i in range(3):
            w.peer(f"seed{i}", SEED, chunks=[ChunkRange(0, 9)])
        for i in range(6):
            w.peer(f"l{i}", LEECH, chunks=[ChunkRange(0, 5 if i < 3 else 1)])
        got = w.find("l0", 4, chunk=3)
        self.assertEqual(w.modes(got), [SEED, SEED, LEECH, LEECH])
        self.assertEqual(set(got[2:]), {"l1", "l2"})
        self.assertEqual(len(w.find("l0", 30, chunk=3)), 5)


class LocalityTests(SynchronousTestCase):
    """
    C{locality}: the requester's network first, a random share, networks
    from prefixes or a map.

    @ivar partialViews: whether the tracker's store gives partial views
        (the Redis store's), where some assertions hold only in a weaker
        form.
    """

    partialViews = False

    def world(self, selector: LocalitySelector, local: int = 5, remote: int = 50) -> World:
        w = World(self, selector)
        w.peer("me", ip="203.0.113.200")
        for i in range(local):
            w.peer(f"near{i}", ip=f"203.0.113.{i + 1}")
        for i in range(remote):
            w.peer(f"far{i}", ip=f"198.51.{i % 50}.{i + 1}")
        return w

    def test_localFirst(self) -> None:
        """
        With no random share, every peer of the requester's /24 comes
        first, then others.
        """
        w = self.world(LocalitySelector(randomShare=0, random=random.Random(1)))
        got = w.find("me", 8)
        self.assertEqual(set(got[:5]), {f"near{i}" for i in range(5)})
        self.assertTrue(all(p.startswith("far") for p in got[5:]))
        self.assertEqual(set(w.find("me", 5)), {f"near{i}" for i in range(5)})

    def test_randomShare(self) -> None:
        """
        With a random share of 0.5, half of a 10-peer list comes from the
        whole swarm, so local peers fill only half of it first.
        """
        w = self.world(LocalitySelector(randomShare=0.5, random=random.Random(1)), local=30)
        local: Counter[bool] = Counter()
        for _ in range(20):
            got = w.find("me", 10)
            self.assertTrue(all(p.startswith("near") for p in got[:5]))
            local.update(p.startswith("near") for p in got[5:])
        if self.partialViews:
            # The view holds more of the requester's network than the
            # swarm does (the store fetches them besides its draw), so the
            # random half is drawn from a view with more local peers:
            # still, it holds peers of other networks.
            self.assertGreater(local[False], 10, local)
        else:
            # Of the random half, about 30 in 80 are local (37.5 %).
            self.assertTrue(20 < local[True] < 60, local)

    def test_followsJoinsAndLeaves(self) -> None:
        """
        The swarm's partition by network sees peers that join after it was
        built and forgets peers that leave.
        """
        w = self.world(LocalitySelector(randomShare=0, random=random.Random(1)))
        self.assertEqual(len([p for p in w.find("me", 5) if p.startswith("near")]), 5)
        w.h.ok(LeaveRequest, "near0", swarmID="s")
        w.peer("near9", ip="203.0.113.99")
        self.assertEqual(set(w.find("me", 5)), {"near1", "near2", "near3", "near4", "near9"})

    def test_chunk(self) -> None:
        """
        For FIND_CHUNK, local holders come first.
        """
        w = World(self, LocalitySelector(randomShare=0, random=random.Random(2)))
        w.peer("me", ip="203.0.113.200")
        for i in range(3):
            w.peer(f"near{i}", ip=f"203.0.113.{i + 1}", chunks=[ChunkRange(0, 9)])
        w.peer("nearNo", ip="203.0.113.50", chunks=[ChunkRange(20, 29)])
        for i in range(10):
            w.peer(f"far{i}", ip=f"198.51.100.{i + 1}", chunks=[ChunkRange(0, 9)])
        got = w.find("me", 4, chunk=5)
        self.assertEqual(set(got[:3]), {"near0", "near1", "near2"})
        self.assertTrue(got[3].startswith("far"))

    def test_map(self) -> None:
        """
        With a map, the longest prefix that covers an address names its
        network, so peers in two /24s of one AS are local to each other;
        addresses the map does not cover fall back to their prefix.
        """
        path = FilePath(self.mktemp())
        path.setContent(b"203.0.0.0/16 AS1\n203.0.113.0/24 AS2\n2001:db8::/32 AS3\n")
        networks = LocalitySelector.fromArgs(f"map={path.path}").networks
        self.assertEqual(networks("203.0.113.7"), "AS2")
        self.assertEqual(networks("203.0.7.1"), "AS1")
        self.assertEqual(networks("2001:db8:1::1"), "AS3")
        self.assertEqual(networks("::ffff:203.0.7.1"), "AS1")
        self.assertEqual(networks("198.51.100.1"), networks("198.51.100.254"))
        self.assertNotEqual(networks("198.51.100.1"), networks("198.51.101.1"))
        self.assertIsNone(networks("not an address"))
        w = World(self, LocalitySelector(networks, randomShare=0, random=random.Random(1)))
        w.peer("me", ip="203.0.5.1")
        w.peer("sameAS", ip="203.0.200.1")
        w.peer("otherAS", ip="203.0.113.1")
        for i in range(20):
            w.peer(f"far{i}", ip=f"198.51.100.{i + 1}")
        if self.partialViews:
            # The store fetches members of the requester's /24 besides its
            # draw, not of its AS: a list long enough for the draw to hold
            # everyone.
            self.assertEqual(w.find("me", 30)[0], "sameAS")
        else:
            self.assertEqual(w.find("me", 1), ["sameAS"])

    def test_prefixes(self) -> None:
        """
        The default networks are IPv4 /24 and IPv6 /48; other lengths are
        configurable.
        """
        n = Networks()
        self.assertEqual(n("2001:db8:1:2::1"), n("2001:db8:1:ffff::1"))
        self.assertNotEqual(n("2001:db8:1::1"), n("2001:db8:2::1"))
        wide = Networks(prefix4=16, prefix6=32)
        self.assertEqual(wide("198.51.1.1"), wide("198.51.200.1"))
        self.assertEqual(wide("2001:db8:1::1"), wide("2001:db8:2::1"))


class CapacityTests(SynchronousTestCase):
    """
    C{capacity}: weighted by spare upload, spread over an interval.

    @ivar partialViews: whether the tracker's store is the Redis store.
    """

    partialViews = False

    def world(self, **kw: Any) -> Tuple[World, CapacitySelector]:
        selector = CapacitySelector(random=random.Random(5), **kw)
        return World(self, selector), selector

    def test_strongPeerPreferred(self) -> None:
        """
        A peer reporting 100 times the others' bandwidth is listed in most
        one-peer lists.
        """
        w, _ = self.world(probe=10)
        w.peer("me")
        w.peer("strong", stats={"UploadBandwidth": 100000})
        for i in range(9):
            w.peer(f"weak{i}", stats={"UploadBandwidth": 1000})
        handed = Counter(w.find("me", 1)[0] for _ in range(50))
        # Its recent hand-outs weigh it down, but it still gets more than
        # half of the lists, and many times what any other peer gets.
        weakest = max(n for p, n in handed.items() if p != "strong")
        if self.partialViews:
            # The Redis store hands the members out in an order of its own
            # random draw: the same odds, not the same seeded run, so the
            # bounds are those the odds keep with near certainty (twice a
            # fair share; the others at most twice theirs).
            self.assertGreater(handed["strong"], 10, handed)
            self.assertLessEqual(weakest, 10, handed)
        else:
            self.assertGreater(handed["strong"], 25, handed)
            self.assertLessEqual(weakest, 6, handed)

    def test_weight(self) -> None:
        """
        The weight is AvailBandwidth (else UploadBandwidth, else the
        default) over one plus the open links plus the recent hand-outs.
        """
        w, selector = self.world(unknown=500)
        w.peer("a", stats={"UploadBandwidth": 1000, "AvailBandwidth": 300})
        w.peer("b", stats={"UploadBandwidth": 1000, "ConcurrentLinks": 3})
        w.peer("c")
        members = {m.peerID: m for m in w.swarms.members()}
        self.assertEqual(selector.weight(members["a"], 0), 300.0)
        self.assertEqual(selector.weight(members["b"], 0), 250.0)
        self.assertEqual(selector.weight(members["c"], 4), 100.0)

    def test_spread(self) -> None:
        """
        Among peers of equal capacity, hand-outs spread evenly: 200
        one-peer lists over 10 peers give none more than 30.
        """
        w, _ = self.world(probe=10)
        w.peer("me")
        for i in range(10):
            w.peer(f"p{i}", stats={"UploadBandwidth": 1000})
        handed = Counter(w.find("me", 1)[0] for _ in range(200))
        self.assertEqual(len(handed), 10)
        self.assertLessEqual(max(handed.values()), 30)

    def test_interval(self) -> None:
        """
        Hand-outs count fully during their interval, fade out linearly over
        the next one, and are forgotten after it; the time is the FIND's.
        """
        w, selector = self.world(interval=10)
        w.peer("me")
        w.peer("p")
        start = w.h.clock.seconds()  # the first selection starts the interval
        for _ in range(4):
            self.assertEqual([m.peerID for m in w.select("me", 1)], ["p"])
        self.assertEqual(selector.handouts("p", start), 4)
        self.assertEqual(selector.handouts("p", start + 15), 2.0)
        self.assertEqual(selector.handouts("p", start + 30), 0)

    def test_memoryBounded(self) -> None:
        """
        No more than twice C{tracked} hand-out counts are ever kept.
        """
        w, selector = self.world(maxTracked=5)
        w.peer("me")
        for i in range(30):
            w.peer(f"p{i}")
        for _ in range(40):
            w.select("me", 3)
            self.assertLessEqual(selector.trackedPeers(), 10)


class ChunksTests(SynchronousTestCase):
    """
    C{chunks}: holders reaching furthest ahead; peers near the requester's
    playback position.
    """

    def test_furthestAhead(self) -> None:
        """
        For FIND_CHUNK, the holders with the longest runs of chunks from the
        requested one come first.
        """
        w = World(self, ChunksSelector(random=random.Random(1)))
        w.peer("me")
        for end in (12, 50, 30, 10, 99):
            w.peer(f"to{end}", chunks=[ChunkRange(5, end)])
        w.peer("hole", chunks=[ChunkRange(0, 11), ChunkRange(13, 500)])
        self.assertEqual(w.find("me", 3, chunk=10), ["to99", "to50", "to30"])
        self.assertEqual(w.find("me", 10, chunk=10)[-2:], ["hole", "to10"])

    def test_reach(self) -> None:
        """
        The run ahead is read from a member's merged chunk ranges: from the
        chunk to the end of its range, counted up to the horizon; 0 when
        the chunk is not held; a hole ends the run, and ranges that touch
        are one run.  The memory store's members and value members give the
        same runs.
        """
        cases = [
            ([ChunkRange(0, 100)], [(0, 1024, 101), (10, 1024, 91), (10, 50, 50), (101, 1024, 0)]),
            ([ChunkRange(3, 3)], [(3, 7, 1), (0, 7, 0), (4, 7, 0)]),
            ([ChunkRange(0, 9), ChunkRange(11, 20)], [(0, 64, 10), (9, 64, 1), (10, 64, 0), (12, 64, 9)]),
            ([ChunkRange(10, 20), ChunkRange(0, 9)], [(0, 64, 21), (5, 1, 1)]),
            ([], [(0, 64, 0)]),
        ]
        w = World(self, ChunksSelector())
        for i, (ranges, runs) in enumerate(cases):
            w.peer(f"p{i}", chunks=ranges)
        _peer, view = w.swarms.view("p0")
        values = {m.peerID: m for m in w.swarms.members()}
        for i, (ranges, runs) in enumerate(cases):
            stored = view.member(f"p{i}")
            assert stored is not None
            for chunk, horizon, run in runs:
                where = (ranges, chunk, horizon)
                self.assertEqual(reach(stored, chunk, horizon), run, where)
                self.assertEqual(reach(values[f"p{i}"], chunk, horizon), run, where)

    def test_playbackPosition(self) -> None:
        """
        For FIND without a chunk, peers closest to the requester's
        PlaybackPosition come first, a peer behind counting twice its
        distance; peers with no position come last.
        """
        w = World(self, ChunksSelector(random=random.Random(1)))
        w.peer("me", swarmStats={"PlaybackPosition": 100})
        for pos in (90, 96, 101, 107, 150, 300):
            w.peer(f"at{pos}", swarmStats={"PlaybackPosition": pos})
        w.peer("nowhere")
        self.assertEqual(
            w.find("me", 7), ["at101", "at107", "at96", "at90", "at150", "at300", "nowhere"]
        )

    def test_noPosition(self) -> None:
        """
        A requester with no position gets a uniform sample of the qualifying
        peers.
        """
        w = World(self, ChunksSelector(random=random.Random(1)))
        w.peer("me")
        for pos in range(10):
            w.peer(f"at{pos}", swarmStats={"PlaybackPosition": pos})
        seen = set()
        for _ in range(30):
            seen.update(w.find("me", 2))
        self.assertEqual(len(seen), 10)


@implementer(IPeerSelector)
class Asking:
    """
    A strategy that records how many peers it was asked for and answers
    with the first qualifying members in PeerID order (L{firstQualifying}),
    or with C{answer} (a list, or a L{Deferred}) when given.
    """

    def __init__(self, answer: Any = None) -> None:
        self.asked: List[int] = []
        self.answer = answer

    def select(self, swarm: Any, requester: Any, count: int, constraints: Any) -> Any:
        self.asked.append(count)
        if self.answer is not None:
            return self.answer
        return firstQualifying(swarm, count, constraints)


def firstQualifying(swarm: Any, count: int, constraints: Any) -> List[ISwarmMember]:
    """
    The first C{count} members of C{swarm} that C{constraints} accept, in
    the order of their PeerIDs (shortest first, then as text: C{p2} before
    C{p10}), whatever order the view holds them in.
    """
    qualifying = [m for m in swarm if constraints.accepts(m)]
    qualifying.sort(key=lambda m: (len(m.peerID), m.peerID))
    return qualifying[:count]


@implementer(IPeerSelector)
class Later:
    """
    A strategy that answers with a L{Deferred} fired C{delay} seconds
    later on C{clock}: with the first qualifying members in PeerID order
    (L{firstQualifying}, chosen when asked), or with the failure C{error}.  It records
    how many peers it was asked for.
    """

    def __init__(
        self, clock: Clock, delay: float = 5.0, error: Optional[Exception] = None
    ) -> None:
        self.clock = clock
        self.delay = delay
        self.error = error
        self.asked: List[int] = []

    def select(
        self, swarm: Any, requester: Any, count: int, constraints: Any
    ) -> "Deferred[Sequence[ISwarmMember]]":
        self.asked.append(count)
        d: Deferred[Sequence[ISwarmMember]] = Deferred()
        if self.error is not None:
            self.clock.callLater(self.delay, d.errback, self.error)
        else:
            chosen = firstQualifying(swarm, count, constraints)
            self.clock.callLater(self.delay, d.callback, chosen)
        return d


class CompositeTests(SynchronousTestCase):
    """
    C{composite}: parts by weight, a random share, no duplicates.
    """

    def world(self, parts: List[Tuple[Any, float]], randomShare: float = 0.0) -> World:
        """
        A swarm of 30 LEECHes C{p0} to C{p29}.  These tests pin down how
        the parts share a list, so their views hold every member: on the
        Redis store, each lookup fetches the whole swarm.
        """
        w = World(self, CompositeSelector(parts, randomShare, random=random.Random(1)))
        if isinstance(w.h, RedisHarness):
            w.h.store.minimumFetch = 64  # type: ignore[attr-defined]
        for i in range(30):
            w.peer(f"p{i}")
        return w

    def test_parse(self) -> None:
        """
        Parts keep their order, weights and own arguments (commas allowed
        in parentheses); the random share defaults to 0.2; no arguments
        mean the documented default.
        """
        self.assertEqual(
            parseComposite("locality(prefix4=16,random=0.1)=2, capacity=1,random=0.3"),
            ([("locality", "prefix4=16,random=0.1", 2.0), ("capacity", "", 1.0)], 0.3),
        )
        self.assertEqual(parseComposite("roles=1"), ([("roles", "", 1.0)], 0.2))
        names = [n for n, _a, _w in parseComposite("")[0]]
        self.assertEqual(names, ["roles", "locality", "capacity", "chunks"])

    def test_localityRandomShareOff(self) -> None:
        """
        A locality part has no random share of its own unless its
        arguments give one.
        """
        c = CompositeSelector.fromArgs("locality=1,roles=1")
        self.assertEqual([type(s).__name__ for s, _w in c.parts], ["LocalitySelector", "RolesSelector"])
        self.assertEqual(c.parts[0][0].randomShare, 0.0)  # type: ignore[attr-defined]
        c = CompositeSelector.fromArgs("locality(random=0.3)=1")
        self.assertEqual(c.parts[0][0].randomShare, 0.3)  # type: ignore[attr-defined]

    def test_allocate(self) -> None:
        """
        Slots follow the weights, the remainders going to the largest
        fractions (the first on a tie).
        """
        self.assertEqual(allocate([2, 1], 9), [6, 3])
        self.assertEqual(allocate([2, 1], 10), [7, 3])
        self.assertEqual(allocate([1, 1, 1], 4), [2, 1, 1])
        self.assertEqual(allocate([1], 0), [0])

    def test_weights(self) -> None:
        """
        With weights 2 and 1 and no random share, a list of 9 asks the
        first part for 6 and the second for 3, and holds 9 peers.
        """
        a, b = Asking(), Asking()
        w = self.world([(a, 2), (b, 1)])
        self.assertEqual(len(w.find("p0", 9)), 9)
        self.assertEqual((a.asked[-1], b.asked[-1]), (6, 3))

    def test_shortfallPassedOn(self) -> None:
        """
        What a part cannot fill is asked of the next part, and what all
        leave unfilled is filled at random.
        """
        empty, b = Asking([]), Asking([])
        w = self.world([(empty, 1), (b, 1)])
        self.assertEqual(len(w.find("p0", 8)), 8)
        self.assertEqual((empty.asked[-1], b.asked[-1]), (4, 8))

    def test_noDuplicatesAcrossParts(self) -> None:
        """
        The second part never sees the peers the first one chose: the list
        holds no peer twice and both parts contribute.
        """
        a, b = Asking(), Asking()
        w = self.world([(a, 1), (b, 1)])
        got = w.find("p0", 10)
        self.assertEqual(len(set(got)), 10)
        self.assertEqual(got, [f"p{i}" for i in range(1, 11)])

    def test_randomShare(self) -> None:
        """
        With a random share of 1, the parts are not asked at all.
        """
        a = Asking()
        w = self.world([(a, 1)], randomShare=1.0)
        self.assertEqual(len(w.find("p0", 5)), 5)
        self.assertEqual(a.asked, [])

    def test_excludingByPeerID(self) -> None:
        """
        The constraints a part is given provide L{IFindConstraints} and
        refuse the members chosen so far by PeerID: an equal copy of a
        chosen member is refused too, and so is a member chosen after the
        constraints were made.
        """
        w = self.world([(Asking(), 1)])
        members = {m.peerID: m for m in w.swarms.members()}
        requester, _view = w.swarms.view("p0")
        chosen: dict[str, ISwarmMember] = {"p1": members["p1"]}
        excluding = Excluding(w.swarms.constraints(requester), chosen)
        self.assertTrue(verifyObject(IFindConstraints, excluding))
        self.assertFalse(excluding.accepts(members["p1"]._replace()))
        self.assertFalse(excluding.accepts(members["p0"]))
        self.assertTrue(excluding.accepts(members["p2"]))
        chosen["p2"] = members["p2"]
        self.assertFalse(excluding.accepts(members["p2"]))

    def test_asynchronousPart(self) -> None:
        """
        A part that answers with a Deferred makes the composite answer with
        one, which fires once every part is done: the next part is asked
        only when the first one's Deferred has fired, and sees the peers it
        chose.
        """
        w = self.world([(Asking(), 1)])
        later, b = Later(w.h.clock), Asking()
        selector = CompositeSelector([(later, 1), (b, 1)], 0.0, random=random.Random(1))
        requester, view = w.swarms.view("p0")
        d = selector.select(view, requester, 6, w.swarms.constraints(requester))
        assert isinstance(d, Deferred)
        self.assertNoResult(d)
        self.assertEqual((later.asked, b.asked), ([3], []))
        w.h.clock.advance(5)
        got = self.successResultOf(d)
        self.assertEqual([m.peerID for m in got], [f"p{i}" for i in range(1, 7)])
        self.assertEqual(b.asked, [3])

    def test_asynchronousPartThroughTracker(self) -> None:
        """
        The tracker answers a FIND whose composite strategy waits for a
        part once the part's Deferred has fired.
        """
        w = self.world([(Asking(), 1)])
        later = Later(w.h.clock)
        w.h.tracker.selector = CompositeSelector([(later, 1)], 0.0, random=random.Random(1))
        d = w.h.tracker.handle(
            FindRequest("tx-later", "p0", w.h.tokens["p0"], swarmID="s", peerNum=4),
            w.h.origins["p0"],
        )
        if isinstance(w.h, RedisHarness):
            # Until the store has answered the lookup, the part is not asked.
            w.h.turnUntil(lambda: bool(later.asked))
        self.assertEqual(later.asked, [4])
        self.assertNoResult(d)
        w.h.clock.advance(5)
        r = w.h.result(d)
        assert isinstance(r, FindResponse), r
        self.assertEqual([p.peerID for p in r.peers], ["p1", "p2", "p3", "p4"])

    def test_asynchronousPartFails(self) -> None:
        """
        When a part's Deferred fails, the composite's fails with the same
        error, and the parts after it are not asked.
        """
        w = self.world([(Asking(), 1)])
        b = Asking()
        selector = CompositeSelector(
            [(Later(w.h.clock, error=ValueError("no answer")), 1), (b, 1)], 0.0
        )
        requester, view = w.swarms.view("p0")
        d = selector.select(view, requester, 6, w.swarms.constraints(requester))
        assert isinstance(d, Deferred)
        self.assertNoResult(d)
        w.h.clock.advance(5)
        failure = self.failureResultOf(d, ValueError)
        self.assertEqual(str(failure.value), "no answer")
        self.assertEqual(b.asked, [])

    def test_firedPartAnswersAtOnce(self) -> None:
        """
        A part whose Deferred has fired already does not make the
        composite wait: its answer is a list, at once.
        """
        w = self.world([(Asking(), 1)])
        requester, view = w.swarms.view("p0")
        first = [m for m in w.swarms.members() if m.peerID in ("p1", "p2")]
        selector = CompositeSelector(
            [(Asking(succeed(first)), 1), (Asking(), 1)], 0.0, random=random.Random(1)
        )
        got = selector.select(view, requester, 4, w.swarms.constraints(requester))
        self.assertIsInstance(got, list)
        assert isinstance(got, list)
        self.assertEqual([m.peerID for m in got], ["p1", "p2", "p3", "p4"])

    def test_builtInsCombined(self) -> None:
        """
        C{composite:locality=2,roles=1,random=0.2} lists local peers and
        seeds: in a list of 10, 8 come from the parts.
        """
        selector = CompositeSelector.fromArgs("locality=2,roles=1,random=0.2", random=random.Random(3))
        w = World(self, selector)
        w.peer("me", ip="203.0.113.200")
        for i in range(10):
            w.peer(f"near{i}", ip=f"203.0.113.{i + 1}")
        for i in range(3):
            w.peer(f"seed{i}", SEED, ip=f"198.51.100.{i + 1}")
        for i in range(40):
            w.peer(f"far{i}", ip=f"198.51.{i}.200")
        got = w.find("me", 10)
        self.assertEqual(len(got), 10)
        # locality: 8 * 2/3 -> 5 (largest remainder), roles: 3 (of which 2 seeds).
        self.assertTrue(all(p.startswith("near") for p in got[:5]), got)
        self.assertEqual(sum(p.startswith("seed") for p in got[5:8]), 2, got)


# The same tests on the Redis store: a tracker on a RedisPeerStore against a
# redis-server of each test's own, whose lookups give partial views.


class InvariantTestsOnRedis(RedisTestCase, InvariantTests):
    """
    L{InvariantTests} on the Redis store.
    """


class RolesTestsOnRedis(RedisTestCase, RolesTests):
    """
    L{RolesTests} on the Redis store.
    """


class LocalityTestsOnRedis(RedisTestCase, LocalityTests):
    """
    L{LocalityTests} on the Redis store.
    """

    partialViews = True


class CapacityTestsOnRedis(RedisTestCase, CapacityTests):
    """
    L{CapacityTests} on the Redis store.
    """

    partialViews = True


class ChunksTestsOnRedis(RedisTestCase, ChunksTests):
    """
    L{ChunksTests} on the Redis store.
    """


class CompositeTestsOnRedis(RedisTestCase, CompositeTests):
    """
    L{CompositeTests} on the Redis store.
    """
