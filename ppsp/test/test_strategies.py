"""
Tests for the built-in peer-selection strategies (L{ppsp.selection.roles},
L{ppsp.selection.locality}, L{ppsp.selection.capacity},
L{ppsp.selection.chunks}, L{ppsp.selection.composite}): their behaviour
through a real L{Tracker} over a L{MemoryPeerStore}, with seeded random
sources, and their argument syntax.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, List, Optional, Sequence, Tuple

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from ppsp.interfaces import IPeerSelector
from ppsp.messages import (
    ChunkRange,
    FindChunkRequest,
    FindRequest,
    JoinChunkRequest,
    JoinRequest,
    KeepAliveRequest,
    LeaveRequest,
    PeerMode,
    Stat,
    StatReportRequest,
)
from ppsp.selection import availableSelectors, makeSelector
from ppsp.selection._common import parseArgs, positiveInt, share, splitArgs
from ppsp.selection.capacity import CapacitySelector
from ppsp.selection.chunks import ChunksSelector, reach
from ppsp.selection.composite import CompositeSelector, allocate, parseComposite
from ppsp.selection.locality import LocalitySelector, Networks
from ppsp.selection.roles import RolesSelector
from ppsp.test.helpers import TrackerHarness
from ppsp.tracker.core import FindConstraints

LEECH, SEED, LIVESEED = PeerMode.LEECH, PeerMode.SEED, PeerMode.LIVESEED


class World:
    """
    A tracker with one strategy and helpers to fill swarm C{s} and ask it
    for peers.
    """

    def __init__(self, testCase: SynchronousTestCase, selector: Any) -> None:
        self.h = TrackerHarness(testCase)
        self.h.tracker.selector = selector
        self.selector = selector

    def peer(
        self,
        peerID: str,
        mode: PeerMode = LEECH,
        ip: str = "198.51.100.1",
        chunks: Sequence[ChunkRange] = (),
        stats: Sequence[Stat] = (),
        swarm: str = "s",
    ) -> None:
        """
        CONNECT a peer from C{ip}, JOIN it to C{swarm} in C{mode}, and
        announce its chunks and statistics.
        """
        if peerID not in self.h.tokens:
            self.h.connect(peerID, ip=ip)
        self.h.ok(JoinRequest, peerID, swarmID=swarm, mode=mode, peerNum=1)
        if chunks:
            self.h.ok(JoinChunkRequest, peerID, swarmID=swarm, chunks=tuple(chunks))
        if stats:
            self.h.ok(StatReportRequest, peerID, stats=tuple(stats))

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

    def select(self, peerID: str, count: int, chunk: Optional[int] = None) -> List[Any]:
        """
        Ask the strategy directly (not through the core) for C{count}
        members, with the tracker's own constraints.
        """
        store = self.h.store
        peer = store.getPeer(peerID)
        now = self.h.clock.seconds()
        constraints = FindConstraints(chunk, (), (), now, peer)
        return list(self.selector.select(store.getSwarm("s"), peer, count, constraints))


def modes(world: World, peerIDs: Sequence[str]) -> List[PeerMode]:
    swarm = world.h.store.getSwarm("s")
    byID = {m.peerID: m.mode for m in swarm}
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

    def test_strategiesKeepInvariants(self) -> None:
        """
        Asked directly for more peers than qualify, in a swarm with
        expired peers, seeds, a live source, several networks and chunk
        holders, no strategy returns a peer it should not.
        """
        clock = Clock()
        for spec in ("random", "roles", "locality", "capacity", "chunks", "composite"):
            if spec == "capacity":
                selector: Any = CapacitySelector(clock=clock, random=random.Random(2))
            else:
                selector = makeSelector(spec)
            w = World(self, selector)
            for i in range(40):
                mode = (LIVESEED, SEED, SEED, LEECH, LEECH)[i % 5]
                w.peer(
                    f"p{i}",
                    mode,
                    ip=f"198.51.{100 + i % 3}.{i + 1}",
                    chunks=[ChunkRange(0, i)],
                    stats=[Stat("UploadBandwidth", str(100 * (i + 1))), Stat("PlaybackPosition", str(i))],
                )
            w.h.advance(170)
            alive = {f"p{i}" for i in range(0, 40, 2)}
            for p in alive:
                w.h.ok(KeepAliveRequest, p)
            w.h.clock.advance(15)  # the odd peers have expired, not yet swept
            for requester in ("p0", "p1", "p4"):
                for chunk in (None, 10):
                    for count in (1, 7, 100):
                        got = w.select(requester, count, chunk)
                        ids = [m.peerID for m in got]
                        self.assertLessEqual(len(ids), count, spec)
                        self.assertEqual(len(set(ids)), len(ids), spec)
                        self.assertNotIn(requester, ids, spec)
                        self.assertTrue(set(ids) <= alive, (spec, set(ids) - alive))
                        if chunk is not None:
                            self.assertTrue(all(m.holds(chunk) for m in got), spec)
                        if count == 100:
                            # Every strategy fills the list when it can.
                            holders = {p for p in alive if chunk is None or int(p[1:]) >= chunk}
                            self.assertEqual(set(ids), holders - {requester}, spec)


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
        self.assertEqual(modes(w, got), [LIVESEED, SEED, SEED, LEECH, LEECH, LEECH])

    def test_liveSourceAlwaysListed(self) -> None:
        """
        With no share for seeds, a LEECH still gets the live source, and
        no SEED while LEECHes are enough.
        """
        w = self.world(seeds=0)
        for _ in range(5):
            got = w.find("leech1", 4)
            self.assertEqual(modes(w, got), [LIVESEED, LEECH, LEECH, LEECH])

    def test_seedsWhenLeechesRunOut(self) -> None:
        """
        When there are too few LEECHes, SEEDs fill the list.
        """
        w = self.world(seeds=0, live=0, seedCount=5, leeches=3)
        got = w.find("leech0", 7)
        self.assertEqual(Counter(modes(w, got)), Counter({LEECH: 2, SEED: 5}))

    def test_seedGetsLeeches(self) -> None:
        """
        A SEED gets LEECHes only while there are enough, then SEEDs, then
        the live source.
        """
        w = self.world(seedCount=3, leeches=10)
        self.assertEqual(set(modes(w, w.find("seed0", 10))), {LEECH})
        got = w.find("seed0", 14)
        self.assertEqual(modes(w, got), [LEECH] * 10 + [SEED, SEED, LIVESEED])

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
        swarm = w.h.store.getSwarm("s")
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
        self.assertEqual(modes(w, got), [SEED, SEED, LEECH, LEECH])
        self.assertEqual(set(got[2:]), {"l1", "l2"})
        self.assertEqual(len(w.find("l0", 30, chunk=3)), 5)


class LocalityTests(SynchronousTestCase):
    """
    C{locality}: the requester's network first, a random share, networks
    from prefixes or a map.
    """

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
    """

    def world(self, clock: Clock, **kw: Any) -> Tuple[World, CapacitySelector]:
        selector = CapacitySelector(clock=clock, random=random.Random(5), **kw)
        w = World(self, selector)
        # The tracker and the strategy share one clock (the strategy reads
        # the time of each FIND from the tracker's constraints).
        w.h.clock = w.h.tracker.clock = clock
        return w, selector

    def test_strongPeerPreferred(self) -> None:
        """
        A peer reporting 100 times the others' bandwidth is listed in most
        one-peer lists.
        """
        w, _ = self.world(Clock(), probe=10)
        w.peer("me")
        w.peer("strong", stats=[Stat("UploadBandwidth", "100000")])
        for i in range(9):
            w.peer(f"weak{i}", stats=[Stat("UploadBandwidth", "1000")])
        handed = Counter(w.find("me", 1)[0] for _ in range(50))
        # Its recent hand-outs weigh it down, but it still gets more than
        # half of the lists, and many times what any other peer gets.
        self.assertGreater(handed["strong"], 25, handed)
        self.assertLessEqual(max(n for p, n in handed.items() if p != "strong"), 6, handed)

    def test_weight(self) -> None:
        """
        The weight is AvailBandwidth (else UploadBandwidth, else the
        default) over one plus the open links plus the recent hand-outs.
        """
        w, selector = self.world(Clock(), unknown=500)
        w.peer("a", stats=[Stat("UploadBandwidth", "1000"), Stat("AvailBandwidth", "300")])
        w.peer("b", stats=[Stat("UploadBandwidth", "1000"), Stat("ConcurrentLinks", "3")])
        w.peer("c")
        members = {m.peerID: m for m in w.h.store.getSwarm("s")}
        self.assertEqual(selector.weight(members["a"], 0), 300.0)
        self.assertEqual(selector.weight(members["b"], 0), 250.0)
        self.assertEqual(selector.weight(members["c"], 4), 100.0)

    def test_spread(self) -> None:
        """
        Among peers of equal capacity, hand-outs spread evenly: 200
        one-peer lists over 10 peers give none more than 30.
        """
        w, _ = self.world(Clock(), probe=10)
        w.peer("me")
        for i in range(10):
            w.peer(f"p{i}", stats=[Stat("UploadBandwidth", "1000")])
        handed = Counter(w.find("me", 1)[0] for _ in range(200))
        self.assertEqual(len(handed), 10)
        self.assertLessEqual(max(handed.values()), 30)

    def test_interval(self) -> None:
        """
        Hand-outs count fully during their interval, fade out linearly over
        the next one, and are forgotten after it.
        """
        clock = Clock()
        w, selector = self.world(clock, interval=10)
        w.peer("me")
        w.peer("p")  # the first selection (this JOIN's) starts the interval
        start = clock.seconds()
        clock.advance(1)
        for _ in range(4):
            self.assertEqual([m.peerID for m in w.select("me", 1)], ["p"])
        self.assertEqual(selector.handouts("p", start + 1), 4)
        self.assertEqual(selector.handouts("p", start + 15), 2.0)
        self.assertEqual(selector.handouts("p", start + 30), 0)

    def test_memoryBounded(self) -> None:
        """
        No more than twice C{tracked} hand-out counts are ever kept.
        """
        clock = Clock()
        w, selector = self.world(clock, maxTracked=5)
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
        The run ahead, counted up to the horizon, is the same from the
        memory store's ranges and from C{holds} alone (when no hole lies
        within the horizon of the first range).
        """

        class HoldsOnly:
            def __init__(self, ranges: List[ChunkRange]) -> None:
                self.ranges = ranges

            def holds(self, c: int) -> bool:
                return any(c in r for r in self.ranges)

        w = World(self, ChunksSelector())
        for i, ranges in enumerate(
            [[ChunkRange(0, 100)], [ChunkRange(3, 3)], [ChunkRange(0, 9), ChunkRange(30, 40)], []]
        ):
            w.peer(f"p{i}", chunks=ranges)
            member = w.h.store.getPeer(f"p{i}").swarms["s"]
            for chunk in (0, 3, 9, 11, 35, 50):
                for horizon in (1, 7, 64, 1024):
                    self.assertEqual(
                        reach(member, chunk, horizon),
                        reach(HoldsOnly(ranges), chunk, horizon),
                        (ranges, chunk, horizon),
                    )
        # With a hole close ahead, the ranges give the exact run.
        w.peer("holes", chunks=[ChunkRange(0, 9), ChunkRange(11, 20)])
        self.assertEqual(reach(w.h.store.getPeer("holes").swarms["s"], 0, 64), 10)
        self.assertEqual(reach(HoldsOnly([ChunkRange(0, 100)]), 10, 1024), 91)
        self.assertEqual(reach(HoldsOnly([ChunkRange(0, 100)]), 10, 50), 50)

    def test_playbackPosition(self) -> None:
        """
        For FIND without a chunk, peers closest to the requester's
        PlaybackPosition come first, a peer behind counting twice its
        distance; peers with no position come last.
        """
        w = World(self, ChunksSelector(random=random.Random(1)))
        w.peer("me", stats=[Stat("PlaybackPosition", "100", swarm="s")])
        for pos in (90, 96, 101, 107, 150, 300):
            w.peer(f"at{pos}", stats=[Stat("PlaybackPosition", str(pos), swarm="s")])
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
            w.peer(f"at{pos}", stats=[Stat("PlaybackPosition", str(pos), swarm="s")])
        seen = set()
        for _ in range(30):
            seen.update(w.find("me", 2))
        self.assertEqual(len(seen), 10)


@implementer(IPeerSelector)
class Asking:
    """
    A strategy that records how many peers it was asked for and answers
    with the first qualifying members in the swarm's order, or with
    C{answer} when given.
    """

    def __init__(self, answer: Optional[List[Any]] = None) -> None:
        self.asked: List[int] = []
        self.answer = answer

    def select(self, swarm: Any, requester: Any, count: int, constraints: Any) -> Any:
        self.asked.append(count)
        if self.answer is not None:
            return self.answer
        return [m for m in swarm if constraints.accepts(m)][:count]


class CompositeTests(SynchronousTestCase):
    """
    C{composite}: parts by weight, a random share, no duplicates.
    """

    def world(self, parts: List[Tuple[Any, float]], randomShare: float = 0.0) -> World:
        w = World(self, CompositeSelector(parts, randomShare, random=random.Random(1)))
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

    def test_asynchronousPartRefused(self) -> None:
        """
        A part that answers with a Deferred is an error, not a silent
        empty share.
        """
        w = self.world([(Asking(), 1)])
        w.selector = CompositeSelector([(Asking(Deferred()), 1)], 0.0)  # type: ignore[arg-type]
        self.assertRaises(TypeError, w.select, "p0", 3)

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
