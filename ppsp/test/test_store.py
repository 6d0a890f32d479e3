"""
Tests for what L{ppsp.tracker.store.MemoryPeerStore} promises beyond the
store contract (which L{ppsp.test.test_storecontract} runs against it):
the costs of its views (sampling, the chunk index, the per-mode index, the
partitions), its cost model in blocks, its expiry entries, all through its
public API; and for the building blocks it rests on,
L{ppsp.tracker._deadlines} and L{ppsp.tracker.values}.
"""

from __future__ import annotations

import gc
import random
from typing import Any, Callable, Dict, Hashable, List, Optional, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from ppsp.interfaces import IRequester, IStoreCosts, ISwarmMember, ISwarmView
from ppsp.messages import ChunkRange, PeerAddress, PeerMode
from ppsp.test.helpers import StoreReads, tracedBytes
from ppsp.tracker.addresses import addressKey
from ppsp.tracker.core import mergeRanges
from ppsp.tracker._deadlines import DeadlineBuckets, ExactDeadlines
from ppsp.tracker.store import MAX_PARTITIONS, MemoryPeerStore
from ppsp.tracker.values import MemberState, PeerState, Session, SwarmMember, holds

_FAR = 1e9
_LIFETIME = 30.0


class StoreTestCase(SynchronousTestCase):
    """
    A memory store with a seeded random source, written and read through
    its public API.

    @ivar store: the store.
    @ivar reads: reads of it, each answered at once.
    """

    def setUp(self) -> None:
        self.store = MemoryPeerStore(random=random.Random(1))
        self.reads = StoreReads(self, self.store)

    def register(
        self,
        peerID: str,
        ip: str = "198.51.100.1",
        deadline: float = _FAR,
        addresses: Tuple[PeerAddress, ...] = (),
    ) -> Session:
        """
        Register C{peerID} from C{ip}, which must succeed.
        """
        session = Session(peerID, "token-" + peerID, ip, 7000, addresses, None, 0.0, deadline)
        self.assertTrue(self.reads.result(self.store.register(session, {})))
        return session

    def join(
        self,
        peerID: str,
        swarmID: str = "s",
        mode: PeerMode = PeerMode.SEED,
        expireAt: Optional[float] = None,
        now: float = 0.0,
    ) -> None:
        """
        Make the registered C{peerID} a member of C{swarmID} (or change its
        mode and end), which must succeed.
        """
        self.assertTrue(
            self.reads.result(
                self.store.join(peerID, swarmID, mode, expireAt, {}, _FAR, now)
            )
        )

    def populate(self, n: int, swarmID: str = "s", mode: PeerMode = PeerMode.SEED) -> List[str]:
        """
        Register and join C{n} peers C{p0}... from addresses
        C{198.51.100.1}... (cycling through 250).

        @return: their PeerIDs.
        """
        peerIDs = [f"p{i}" for i in range(n)]
        for i, peerID in enumerate(peerIDs):
            self.register(peerID, f"198.51.100.{i % 250 + 1}")
            self.join(peerID, swarmID, mode)
        return peerIDs

    def setChunks(self, peerID: str, ranges: Tuple[ChunkRange, ...], swarmID: str = "s") -> None:
        """
        Replace the chunk set of C{peerID} in C{swarmID}, which must
        succeed.
        """
        self.assertTrue(self.reads.result(self.store.setChunks(peerID, swarmID, ranges, _FAR)))

    def expire(self, now: float) -> Tuple[List[str], List[Tuple[str, str]], List[str]]:
        """
        What C{expire} takes out at C{now}, as sorted names.
        """
        expired = self.reads.result(self.store.expire(now, _LIFETIME))
        return (
            sorted(p.peerID for p in expired.peers),
            sorted(expired.members),
            sorted(expired.swarms),
        )


def _counting(calls: List[Any]) -> Callable[[Any], bool]:
    """
    A predicate that accepts everything and records what it was asked.
    """

    def accept(member: Any) -> bool:
        calls.append(member)
        return True

    return accept


class ViewTests(StoreTestCase):
    """
    A lookup's view is the live swarm: complete, and up to date with every
    write that follows.
    """

    def test_interfaces(self) -> None:
        """
        The view provides L{ISwarmView} and says it is complete; its
        members provide L{ISwarmMember}; the store's costs provide
        L{IStoreCosts}.
        """
        self.populate(2)
        view = self.reads.view("s")
        self.assertTrue(verifyObject(ISwarmView, view))
        self.assertIs(view.complete, True)
        member = view.member("p0")
        assert member is not None
        self.assertTrue(verifyObject(ISwarmMember, member))
        self.assertTrue(verifyObject(IStoreCosts, self.store.costs))

    def test_live(self) -> None:
        """
        A view read before writes shows them: a member that joins later, a
        member that leaves, a chunk set and a mode set later.
        """
        self.populate(2)
        view = self.reads.view("s")
        self.register("late")
        self.join("late", mode=PeerMode.LEECH)
        self.reads.result(self.store.leave("p0", "s", _FAR, 1.0))
        self.setChunks("p1", (ChunkRange(0, 9),))
        self.assertEqual(sorted(m.peerID for m in view), ["late", "p1"])
        self.assertEqual(len(view), 2)
        self.assertIsNone(view.member("p0"))
        self.assertTrue(view.hasHolders(5))
        self.assertEqual(view.modeCount(PeerMode.LEECH), 1)

    def test_membership(self) -> None:
        """
        C{membership} finds a requester's own membership of the swarm, as
        a peer value, and nothing in another swarm or once it left.
        """
        self.populate(1)
        self.register("other")
        self.join("other", "t")
        peer = self.reads.registered("p0")
        member = self.reads.view("s").membership(peer)
        assert member is not None
        self.assertEqual((member.peerID, member.swarmID), ("p0", "s"))
        self.assertIsNone(self.reads.view("t").membership(peer))
        self.reads.result(self.store.leave("p0", "s", _FAR, 1.0))
        self.assertIsNone(self.reads.view("s").membership(peer))

    def test_memberReadsThePeer(self) -> None:
        """
        A member's addresses, observed address and session start are its
        peer's, and a swarm-scoped statistic comes before the peer's.
        """
        self.register("p", "203.0.113.5", addresses=(PeerAddress("203.0.113.5", 7001),))
        self.join("p")
        self.reads.result(
            self.store.keepStats("p", {None: {"A": 1, "B": 2}, "s": {"B": 3}}, None)
        )
        member = self.reads.view("s").member("p")
        assert member is not None
        self.assertEqual(
            (member.observedIP, member.observedPort, member.addresses, member.connectedAt),
            ("203.0.113.5", 7000, (PeerAddress("203.0.113.5", 7001),), 0.0),
        )
        self.assertEqual((member.stat("A"), member.stat("B"), member.stat("C")), (1, 3, None))


class SampleTests(StoreTestCase):
    """
    Sampling a swarm is uniform and costs O(count), not O(swarm size).
    """

    def test_leavesKeepEveryoneReachable(self) -> None:
        """
        After a third of the members left (each a swap with the last),
        every remaining member is reachable by sampling, exactly once; a
        swarm that every member left is empty since the last leave.
        """
        peerIDs = self.populate(100)
        for peerID in peerIDs[::3]:
            self.reads.result(self.store.leave(peerID, "s", _FAR, 5.0))
        left = set(peerIDs) - set(peerIDs[::3])
        view = self.reads.view("s")
        self.assertEqual({m.peerID for m in view}, left)
        chosen = [m.peerID for m in view.sample(1000)]
        self.assertEqual(sorted(chosen), sorted(left))
        self.assertIsNone(self.reads.existing("s").emptySince)
        for peerID in left:
            self.reads.result(self.store.leave(peerID, "s", _FAR, 7.0))
        swarm = self.reads.existing("s")
        self.assertEqual((swarm.size, swarm.emptySince), (0, 7.0))

    def test_costIndependentOfSwarmSize(self) -> None:
        """
        Drawing 30 of 100,000 members looks at a few dozen members, not the
        swarm: the predicate runs at most 4 * count + 32 times.
        """
        self.populate(100_000)
        calls: List[Any] = []
        chosen = self.reads.view("s").sample(30, _counting(calls))
        self.assertEqual(len({m.peerID for m in chosen}), 30)
        self.assertLessEqual(len(calls), 4 * 30 + 32)

    def test_selectivePredicateStillComplete(self) -> None:
        """
        When the predicate rejects nearly everyone, sampling still finds
        every accepted member (by a scan).
        """
        self.populate(2000)
        wanted = {"p7", "p1500"}
        chosen = self.reads.view("s").sample(10, lambda m: m.peerID in wanted)
        self.assertEqual({m.peerID for m in chosen}, wanted)

    def assertUniform(self, n: int, count: int, draws: int) -> None:
        """
        In C{draws} samples of C{count} of C{n} members, each member comes
        up within 25% of the expected number of times.
        """
        self.populate(n)
        view = self.reads.view("s")
        counts: Dict[str, int] = {}
        for _ in range(draws):
            chosen = [m.peerID for m in view.sample(count)]
            self.assertEqual(len(set(chosen)), count)
            for peerID in chosen:
                counts[peerID] = counts.get(peerID, 0) + 1
        self.assertEqual(len(counts), n)
        expected = draws * count / n
        for times in counts.values():
            self.assertTrue(0.75 * expected < times < 1.25 * expected, counts)

    def test_uniformSmallSwarm(self) -> None:
        """
        In a small swarm (drawn by a shuffle), every member is drawn about
        equally often.
        """
        self.assertUniform(20, 3, 4000)

    def test_uniformLargeSwarm(self) -> None:
        """
        In a swarm large next to the count (drawn at random positions),
        every member is drawn about equally often.
        """
        self.assertUniform(200, 5, 8000)


class ChunkIndexTests(StoreTestCase):
    """
    The chunk index finds exactly the holders of a chunk, at a cost that
    depends on the holders asked for, not on the swarm.
    """

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 3000)), max_size=6),
            min_size=1,
            max_size=12,
        ),
        st.lists(st.integers(0, 9000), min_size=1, max_size=20),
    )
    def test_holdersMatchBruteForce(
        self, chunkSets: List[List[Tuple[int, int]]], probes: List[int]
    ) -> None:
        """
        For any chunk sets, C{sampleHolders} and C{hasHolders} agree with
        a scan of the chunk sets, after sets were replaced too.
        """
        self.setUp()
        peerIDs = self.populate(len(chunkSets))
        final: Dict[str, Tuple[ChunkRange, ...]] = {}
        for peerID, ranges in zip(peerIDs, chunkSets):
            final[peerID] = mergeRanges(ChunkRange(a, a + n) for a, n in ranges)
            self.setChunks(peerID, final[peerID])
        # Replace half the sets, so that members are taken out of the index.
        for peerID, ranges in list(zip(peerIDs, chunkSets))[::2]:
            final[peerID] = mergeRanges(ChunkRange(a + 7, a + 7 + n // 2) for a, n in ranges)
            self.setChunks(peerID, final[peerID])
        view = self.reads.view("s")
        for probe in probes:
            expected = {p for p, chunks in final.items() if holds(chunks, probe)}
            self.assertEqual({m.peerID for m in view.sampleHolders(probe, 100)}, expected)
            self.assertEqual(view.hasHolders(probe), bool(expected))

    def test_hugeRanges(self) -> None:
        """
        Ranges up to the full 64-bit space are indexed in a few buckets:
        they cost no more than a few single chunks, and their holders are
        found.
        """
        self.populate(2)
        huge = (ChunkRange(0, 2**64 - 1),)
        costs = self.store.costs
        self.assertLessEqual(costs.chunksCost(huge), 4 * costs.chunksCost((ChunkRange(0, 0),)))
        self.setChunks("p0", huge)
        self.setChunks("p1", (ChunkRange(2**63, 2**63 + 5),))
        view = self.reads.view("s")
        self.assertEqual({m.peerID for m in view.sampleHolders(2**63 + 1, 5)}, {"p0", "p1"})
        self.assertEqual({m.peerID for m in view.sampleHolders(17, 5)}, {"p0"})
        self.assertEqual({m.peerID for m in view.sampleHolders(2**64 - 1, 5)}, {"p0"})

    def test_holderSampleCost(self) -> None:
        """
        Sampling 20 holders among 50,000 costs O(20) predicate calls, and
        answers only holders.
        """
        peerIDs = self.populate(50_000)
        for i, peerID in enumerate(peerIDs):
            self.setChunks(peerID, (ChunkRange(i % 500, i % 500 + 600),))
        calls: List[Any] = []
        chosen = self.reads.view("s").sampleHolders(700, 20, _counting(calls))
        self.assertEqual(len(chosen), 20)
        self.assertTrue(all(m.holds(700) for m in chosen))
        self.assertLessEqual(len(calls), 8 * 20 + 32)

    def test_leaverUnindexed(self) -> None:
        """
        A member that leaves, or whose chunk set is emptied, is no longer
        found as a holder.
        """
        self.populate(2)
        for peerID in ("p0", "p1"):
            self.setChunks(peerID, (ChunkRange(10, 20), ChunkRange(1000, 100000)))
        self.reads.result(self.store.leave("p0", "s", _FAR, 1.0))
        self.setChunks("p1", ())
        view = self.reads.view("s")
        for chunk in (15, 5000):
            self.assertEqual(view.sampleHolders(chunk, 5), [])
            self.assertFalse(view.hasHolders(chunk))


class ModeIndexTests(StoreTestCase):
    """
    The per-mode index holds exactly the SEED and LIVESEED members, through
    joins, leaves, mode changes and disconnections, and never the LEECHes.
    """

    def check(self) -> None:
        """
        Compare every per-mode read of the swarm's view with a scan.
        """
        swarm = self.reads.swarm("s")
        if swarm is None:
            return
        view = self.reads.view("s")
        members = list(view)
        for mode in PeerMode:
            expected = {m.peerID for m in members if m.mode is mode}
            self.assertEqual(view.modeCount(mode), len(expected), mode)
            self.assertEqual(swarm.modes.get(mode, 0), len(expected), mode)
            self.assertEqual({m.peerID for m in view.sampleMode(mode, 10_000)}, expected, mode)
            if mode is not PeerMode.LEECH:
                listed = [m.peerID for m in view.modeMembers(mode)]
                self.assertEqual(sorted(listed), sorted(expected), mode)

    @settings(max_examples=80, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["join", "leave", "disconnect"]),
                st.integers(0, 11),
                st.sampled_from(list(PeerMode)),
            ),
            max_size=60,
        )
    )
    def test_matchesScan(self, operations: List[Tuple[str, int, PeerMode]]) -> None:
        """
        After any sequence of joins (a join of a member sets its mode),
        leaves and disconnections, the index agrees with a scan.
        """
        self.setUp()
        self.reads.result(self.store.addSwarm("s", True, 0.0))
        for op, i, mode in operations:
            peerID = f"p{i}"
            if self.reads.peer(peerID) is None:
                self.register(peerID)
            if op == "join":
                self.join(peerID, mode=mode)
            elif op == "leave":
                self.reads.result(self.store.leave(peerID, "s", _FAR, 1.0))
            else:
                self.reads.result(self.store.disconnect(peerID, 1.0))
            self.check()

    def test_modeChanges(self) -> None:
        """
        A join in another mode by a member moves it between the indexed
        modes.
        """
        for peerID, mode in (("a", PeerMode.SEED), ("b", PeerMode.LEECH), ("c", PeerMode.LIVESEED)):
            self.register(peerID)
            self.join(peerID, mode=mode)
        self.join("a", mode=PeerMode.LEECH)
        self.join("b", mode=PeerMode.SEED)
        view = self.reads.view("s")
        self.assertEqual([m.peerID for m in view.modeMembers(PeerMode.SEED)], ["b"])
        self.assertEqual([m.peerID for m in view.modeMembers(PeerMode.LIVESEED)], ["c"])
        self.assertEqual(view.modeCount(PeerMode.LEECH), 1)
        self.check()

    def test_stableOrder(self) -> None:
        """
        C{modeMembers} keeps its order, except that a removal moves the
        last member into the removed one's place, so that a strategy may
        walk it round-robin.
        """
        for peerID in "abcd":
            self.register(peerID)
            self.join(peerID)
        view = self.reads.view("s")
        self.assertEqual([m.peerID for m in view.modeMembers(PeerMode.SEED)], list("abcd"))
        self.reads.result(self.store.leave("b", "s", _FAR, 1.0))
        self.assertEqual([m.peerID for m in view.modeMembers(PeerMode.SEED)], list("adc"))
        self.register("e")
        self.join("e")
        self.assertEqual([m.peerID for m in view.modeMembers(PeerMode.SEED)], list("adce"))

    def test_leechRefused(self) -> None:
        """
        LEECHes are not indexed: asking for their list is an error that
        points to C{sampleMode}.
        """
        self.reads.result(self.store.addSwarm("s", False, 0.0))
        e = self.assertRaises(ValueError, self.reads.view("s").modeMembers, PeerMode.LEECH)
        self.assertIn("sampleMode", str(e))

    def test_seedSampleCost(self) -> None:
        """
        Sampling 10 seeds among 10,000 members of which 100 are seeds looks
        at no LEECH: the predicate sees only seeds.
        """
        for i in range(10_000):
            self.register(f"p{i}")
            self.join(f"p{i}", mode=PeerMode.SEED if i % 100 == 0 else PeerMode.LEECH)
        seen: List[Any] = []
        view = self.reads.view("s")
        self.assertEqual(len(view.sampleMode(PeerMode.SEED, 10, _counting(seen))), 10)
        self.assertTrue(all(m.mode is PeerMode.SEED for m in seen))
        self.assertEqual(view.modeCount(PeerMode.LEECH), 9_900)


def _lastOctet(member: ISwarmMember) -> Hashable:
    """
    A partition key: the last octet of a member's IPv4 address, modulo 3.
    """
    return int(member.observedIP.rsplit(".", 1)[1]) % 3


def _mode(member: ISwarmMember) -> Hashable:
    """
    A partition key on a fact that changes during a membership: its mode.
    """
    return member.mode


class PartitionTests(StoreTestCase):
    """
    C{sampleGroup} partitions a swarm by a key once and keeps the partition
    up to date; a swarm keeps a few partitions only.
    """

    def check(self) -> None:
        """
        The groups of C{_lastOctet} agree with a scan.
        """
        view = self.reads.view("s")
        for group in (0, 1, 2):
            expected = {m.peerID for m in view if _lastOctet(m) == group}
            found = {m.peerID for m in view.sampleGroup(_lastOctet, group, 100)}
            self.assertEqual(found, expected)
            self.assertEqual(view.groupSize(_lastOctet, group), len(expected))

    def test_followsChanges(self) -> None:
        """
        The groups agree with a scan after the partition is built, and
        after later joins, leaves and disconnections.
        """
        for i in range(1, 31):
            self.register(f"p{i}", f"198.51.100.{i}")
        for i in range(1, 21):
            self.join(f"p{i}")
        self.check()
        for i in range(21, 31):
            self.join(f"p{i}")
        for i in range(1, 31, 4):
            self.reads.result(self.store.leave(f"p{i}", "s", _FAR, 1.0))
        self.reads.result(self.store.disconnect("p2", 1.0))
        self.check()
        self.assertEqual(self.reads.view("s").sampleGroup(_lastOctet, 7, 5), [])

    def test_changedKeyChecked(self) -> None:
        """
        A member whose key changed since it was filed (here a key on its
        mode, which a join changes) is not returned for its old group.
        """
        self.populate(2)
        view = self.reads.view("s")
        self.assertEqual(view.groupSize(_mode, PeerMode.SEED), 2)
        self.join("p0", mode=PeerMode.LEECH)
        self.assertEqual([m.peerID for m in view.sampleGroup(_mode, PeerMode.SEED, 5)], ["p1"])

    def test_bounded(self) -> None:
        """
        A swarm keeps at most L{MAX_PARTITIONS} partitions: once more keys
        were asked for, the first one's partition is built again (its key
        is asked about every member), while the last one's is kept.  A key
        that raises files every member under L{None}.
        """
        self.populate(3)
        view = self.reads.view("s")
        calls: List[int] = []

        def keyOf(k: int) -> Callable[[Any], Hashable]:
            def key(member: Any) -> Hashable:
                calls.append(k)
                return k

            return key

        keys = [keyOf(k) for k in range(MAX_PARTITIONS + 1)]
        for k, key in enumerate(keys):
            self.assertEqual(view.groupSize(key, k), 3)
        self.assertEqual(len(calls), 3 * len(keys))
        del calls[:]
        self.assertEqual(view.groupSize(keys[-1], MAX_PARTITIONS), 3)
        self.assertEqual(calls, [])
        self.assertEqual(view.groupSize(keys[0], 0), 3)
        self.assertEqual(calls, [0, 0, 0])

        def broken(member: Any) -> Hashable:
            raise RuntimeError("no key")

        self.assertEqual(view.groupSize(broken, None), 3)
        self.assertEqual(len(view.sampleGroup(broken, None, 5)), 3)


class AccountTests(StoreTestCase):
    """
    The memory store's cost model: every piece of state is charged in
    blocks of 64 bytes to its peer and to the peer's address (an IPv4
    address, an IPv6 /64), exactly what its costs announce, and given back
    when it goes.
    """

    def expectedHeld(self, peer: PeerState) -> int:
        """
        What the cost model says C{peer}'s state holds, piece by piece.
        """
        costs = self.store.costs
        held = costs.recordCost(peer.peerID, peer.observedIP, peer.addresses)
        if peer.stats:
            held += costs.statsCost(None, peer.stats)
        for member in peer.swarms.values():
            held += costs.memberCost(member.swarmID) + costs.chunksCost(member.chunks)
            if member.stats:
                held += costs.statsCost(None, member.stats)
        return held

    def checkAccounts(self) -> None:
        """
        Every peer holds what its state costs, in whole blocks; each
        address holds what its peers hold, and counts them.
        """
        peers = self.reads.result(self.store.peers())
        byKey: Dict[str, List[PeerState]] = {}
        for peer in peers:
            self.assertEqual(peer.held, self.expectedHeld(peer), peer.peerID)
            self.assertEqual(peer.held % 64, 0)
            byKey.setdefault(addressKey(peer.observedIP), []).append(peer)
        for sessions in byKey.values():
            held = sum(p.held for p in sessions)
            for peer in sessions:
                self.assertEqual(peer.addressHeld, held)
            self.assertEqual(
                self.reads.result(self.store.usage(sessions[0].observedIP)),
                (len(sessions), held, len(peers)),
            )

    def test_blocks(self) -> None:
        """
        Every cost is a whole number of 64-byte blocks, each piece rounded
        up on its own: a statistic costs as much as one a few characters
        longer, and two statistics twice one.
        """
        costs = self.store.costs
        figures = [
            costs.recordCost("p", "192.0.2.1", ()),
            costs.recordCost("p" * 100, "2001:db8::1", (PeerAddress("192.0.2.1", 1),)),
            costs.memberCost("s"),
            costs.chunksCost((ChunkRange(0, 0),)),
            costs.chunksCost((ChunkRange(0, 0), ChunkRange(5, 5000))),
            costs.statsCost(None, {"A": "x"}),
            costs.statsCost({"A": "x"}, {"A": "x" * 16}),
        ]
        for figure in figures:
            self.assertEqual(figure % 64, 0, figure)
            self.assertGreaterEqual(figure, 0)
        self.assertEqual(costs.chunksCost(()), 0)
        one = costs.statsCost({}, {"A": "x"})
        self.assertEqual(costs.statsCost({}, {"A": "y" * 8}), one)
        self.assertEqual(costs.statsCost({"A": "x"}, {"A": "y" * 8}), 0)
        self.assertEqual(costs.statsCost({}, {"A": "x", "B": "x"}), 2 * one)

    def test_replacedStatisticReleases(self) -> None:
        """
        Replacing a long statistic by a short one gives back the
        difference: the cost is negative and the peer holds that much
        less.
        """
        self.register("p")
        self.reads.result(self.store.keepStats("p", {None: {"X-note": "x" * 200}}, None))
        before = self.reads.registered("p").held
        cost = self.store.costs.statsCost({"X-note": "x" * 200}, {"X-note": "y"})
        self.assertLess(cost, 0)
        self.reads.result(self.store.keepStats("p", {None: {"X-note": "y"}}, None))
        self.assertEqual(self.reads.registered("p").held, before + cost)
        self.checkAccounts()

    def test_takeOverWithinSlash64(self) -> None:
        """
        A session taken over from another address of its IPv6 /64 stays in
        that /64's account, with what it holds; from another /64 it moves.
        """
        self.register("p", "2001:db8:0:1::1")
        self.join("p")
        held = self.reads.registered("p").held
        moved = Session("p", "new", "2001:db8:0:1::ffff", 7000, (), None, 0.0, _FAR)
        self.assertTrue(self.reads.result(self.store.takeOver(moved, "token-p", {})))
        self.assertEqual(self.reads.addressUsage("2001:db8:0:1::1"), (1, held))
        away = moved._replace(token="newer", observedIP="2001:db8:0:2::1")
        self.assertTrue(self.reads.result(self.store.takeOver(away, "new", {})))
        self.assertEqual(self.reads.addressUsage("2001:db8:0:1::1"), (0, 0))
        self.assertEqual(self.reads.addressUsage("2001:db8:0:2::7"), (1, held))
        self.checkAccounts()

    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(
                    ["register", "join", "chunks", "stats", "leave", "move", "disconnect", "expire"]
                ),
                st.integers(0, 5),
                st.integers(0, 3),
                st.integers(0, 4),
            ),
            max_size=50,
        )
    )
    def test_accountsFollowEveryWrite(self, operations: List[Tuple[str, int, int, int]]) -> None:
        """
        After any sequence of writes, each peer holds exactly what its
        state costs and each address what its peers hold; once every peer
        is gone, nothing is held and no expiry entry is left.
        """
        self.setUp()
        ips = ["192.0.2.1", "192.0.2.2", "2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:2::1"]
        now = 0.0
        for op, i, s, x in operations:
            now += 1.0
            peerID, swarmID, ip = f"p{i}", f"s{s}", ips[x]
            peer = self.reads.peer(peerID)
            store = self.store
            if op == "register" and peer is None:
                session = Session(
                    peerID, "t0", ip, 7000, (PeerAddress(ip, 7001),) * (x % 3), None, now, now + 50
                )
                self.reads.result(store.register(session, {"A": "v" * x} if x else {}))
            elif peer is None:
                continue
            elif op == "join":
                expireAt = now + 5 * x if x else None
                self.reads.result(
                    store.join(peerID, swarmID, PeerMode.SEED, expireAt, {swarmID: {"B": x}}, now + 50, now)
                )
            elif op == "chunks":
                ranges = mergeRanges(ChunkRange(100 * k, 100 * k + x * 7) for k in range(x + 1))
                self.reads.result(store.setChunks(peerID, swarmID, ranges, now + 50))
            elif op == "stats":
                update = {None: {f"C{x}": "w" * (10 * x)}, swarmID: {"D": "z" * x}}
                self.reads.result(store.keepStats(peerID, update, None))
            elif op == "leave":
                self.reads.result(store.leave(peerID, swarmID, now + 50, now))
            elif op == "move":
                token = f"t{now}"
                session = peer.session._replace(token=token, observedIP=ip, deadline=now + 50)
                self.reads.result(store.takeOver(session, peer.token, {None: {"E": x}}))
            elif op == "disconnect":
                self.reads.result(store.disconnect(peerID, now))
            else:
                self.reads.result(store.expire(now, _LIFETIME))
            self.checkAccounts()
        for peer in self.reads.result(self.store.peers()):
            self.reads.result(self.store.disconnect(peer.peerID, now))
        for ip in ips:
            self.assertEqual(self.reads.result(self.store.usage(ip)), (0, 0, 0))
        self.reads.result(self.store.expire(now + 100 + _LIFETIME, _LIFETIME))
        self.assertEqual(self.store.scheduledCount(), 0)
        self.assertEqual(self.reads.counts(), (0, 0))


class ExpiryEntryTests(StoreTestCase):
    """
    The store keeps one expiry entry per peer, per membership with an
    ExpireTime and per empty swarm that is not provisioned; entries go with
    what they time out, so that L{MemoryPeerStore.scheduledCount} goes back
    to 0.
    """

    def test_memberEntryGoesWithMembership(self) -> None:
        """
        A membership's entry moves with its ExpireTime, goes when the JOIN
        clears the time, and goes with the membership at a leave or a
        disconnection.
        """
        self.register("a", deadline=180.0)
        self.join("a", expireAt=_FAR)
        self.assertEqual(self.store.scheduledCount(), 2)
        self.join("a", expireAt=5e8)
        self.join("a", expireAt=7e8)
        self.assertEqual(self.store.scheduledCount(), 2)
        self.join("a", expireAt=None)
        self.assertEqual(self.store.scheduledCount(), 1)
        self.join("a", expireAt=100.0)
        self.assertEqual(self.expire(100.0), ([], [("s", "a")], []))
        # The swarm it left empty has its entry.
        self.assertEqual(self.store.scheduledCount(), 2)
        self.register("b", deadline=180.0)
        self.join("b", "t", expireAt=_FAR)
        self.reads.result(self.store.leave("b", "t", _FAR, 101.0))
        self.join("a", "u", expireAt=2e9)
        self.assertEqual(self.store.scheduledCount(), 5)
        self.reads.result(self.store.disconnect("a", 102.0))
        self.reads.result(self.store.disconnect("b", 102.0))
        self.assertEqual(self.expire(102.0 + _LIFETIME), ([], [], ["s", "t", "u"]))
        # The peers' entries are stale until their deadlines fall due.
        self.assertEqual(self.store.scheduledCount(), 2)
        self.assertEqual(self.expire(181.0), ([], [], []))
        self.assertEqual(self.store.scheduledCount(), 0)

    def test_oneEntryPerSwarm(self) -> None:
        """
        An empty swarm has one entry, whatever happened to it; provisioning
        it or removing it drops the entry.
        """
        self.register("a")
        for n in range(100):
            self.join("a", now=float(n))
            self.reads.result(self.store.leave("a", "s", _FAR, float(n)))
        self.assertEqual(self.store.scheduledCount(), 2)
        self.assertEqual(self.expire(99.0 + _LIFETIME - 1), ([], [], []))
        self.assertEqual(self.expire(99.0 + _LIFETIME), ([], [], ["s"]))
        self.reads.result(self.store.addSwarm("t", False, 0.0))
        self.reads.result(self.store.addSwarm("u", False, 0.0))
        self.assertEqual(self.store.scheduledCount(), 3)
        self.reads.result(self.store.addSwarm("t", True, 0.0))
        self.reads.result(self.store.removeSwarm("u", 0.0))
        self.assertEqual(self.store.scheduledCount(), 1)

    def test_emptySwarmsInAnyOrder(self) -> None:
        """
        An empty swarm is forgotten once it has been empty for the whole
        lifetime, even when swarms become empty out of time order (a state
        file restores them in its own order): one that became empty
        earlier but was filed later is not held back by the others.
        """
        self.reads.result(self.store.addSwarm("late", False, 100.0))
        self.reads.result(self.store.addSwarm("early", False, 50.0))
        self.assertEqual(self.expire(50.0 + _LIFETIME - 1), ([], [], []))
        self.assertEqual(self.expire(50.0 + _LIFETIME), ([], [], ["early"]))
        self.assertEqual(self.expire(100.0 + _LIFETIME), ([], [], ["late"]))
        self.assertEqual(self.store.scheduledCount(), 0)

    def test_earlierTouchesDoNotMultiply(self) -> None:
        """
        Deadlines moved earlier and later again and again (a session taken
        over with credentials that expire sooner and later) leave the peer
        one live entry: the others are dropped when they fall due.
        """
        self.register("a", deadline=180.0)
        now = 0.0
        for _ in range(100):
            now += 1
            self.reads.result(self.store.touch("a", now + 180))
            self.reads.result(self.store.touch("a", now + 90))
        self.assertGreater(self.store.scheduledCount(), 1)
        for _ in range(400):
            now += 1
            self.reads.result(self.store.touch("a", now + 180))
            self.assertEqual(self.expire(now), ([], [], []))
        self.assertEqual(self.store.scheduledCount(), 1)
        self.assertEqual(self.expire(now + 180), (["a"], [], []))
        self.assertEqual(self.store.scheduledCount(), 0)

    def test_lazyRefile(self) -> None:
        """
        A peer touched later after it was filed is refiled, not reported,
        when its old bucket falls due; it is reported at its new deadline.
        """
        self.register("a", deadline=180.0)
        self.reads.result(self.store.touch("a", 250.0))
        self.assertEqual(self.expire(180.0), ([], [], []))
        self.assertEqual(self.expire(249.0), ([], [], []))
        self.assertEqual(self.expire(250.0), (["a"], [], []))


class DeadlineBucketsTests(SynchronousTestCase):
    """
    L{DeadlineBuckets} pops what is due and nothing else, in time that
    depends on what is due.
    """

    def test_popDue(self) -> None:
        """
        A key is popped once the whole second holding its deadline has
        passed, in one call, and never twice.
        """
        buckets: DeadlineBuckets[str] = DeadlineBuckets()
        buckets.add("a", 10.0)
        buckets.add("b", 10.5)
        buckets.add("c", 12.0)
        self.assertEqual(len(buckets), 3)
        self.assertEqual(buckets.popDue(9.99), [])
        self.assertEqual(buckets.popDue(10.0), ["a"])
        self.assertEqual(buckets.popDue(11.0), ["b"])
        self.assertEqual(buckets.popDue(100.0), ["c"])
        self.assertEqual(buckets.popDue(1000.0), [])
        self.assertEqual(len(buckets), 0)

    def test_bucketReturned(self) -> None:
        """
        L{DeadlineBuckets.add} returns the list its key is filed in, which
        L{DeadlineBuckets.popDueBuckets} returns whole; a key filed twice
        is in two lists.
        """
        buckets: DeadlineBuckets[str] = DeadlineBuckets(granularity=10.0)
        first = buckets.add("a", 12.0)
        self.assertIs(buckets.add("b", 15.0), first)
        later = buckets.add("a", 25.0)
        self.assertIsNot(later, first)
        self.assertEqual(len(buckets), 3)
        due = buckets.popDueBuckets(20.0)
        self.assertEqual(len(due), 1)
        self.assertIs(due[0], first)
        self.assertEqual(first, ["a", "b"])
        self.assertEqual(buckets.popDueBuckets(30.0), [later])

    def test_popCostsWhatIsDue(self) -> None:
        """
        Popping when one of 10,000 keys is due takes out one bucket, and
        leaves the others.
        """
        buckets: DeadlineBuckets[int] = DeadlineBuckets()
        for i in range(10_000):
            buckets.add(i, 100.0 + i)
        self.assertEqual(buckets.popDueBuckets(100.0), [[0]])
        self.assertEqual(len(buckets), 9_999)


class ExactDeadlinesTests(SynchronousTestCase):
    """
    L{ExactDeadlines} files each key once, and moves or takes it out in
    O(1), leaving nothing behind.
    """

    def test_addDiscardMove(self) -> None:
        """
        A key is filed once per bucket, taken out by
        L{ExactDeadlines.discard} given its deadline, and popped at its new
        deadline after L{ExactDeadlines.move}; the count follows.
        """
        d: ExactDeadlines[str] = ExactDeadlines()
        d.add("a", 10.0)
        d.add("a", 10.0)
        d.add("b", 10.0)
        d.add("c", 20.0)
        self.assertEqual(len(d), 3)
        d.discard("b", 10.0)
        d.discard("b", 10.0)
        d.discard("c", 99.0)
        self.assertEqual(len(d), 2)
        d.move("c", 20.0, 5.0)
        d.move("a", 10.0, 10.5)
        self.assertEqual(d.popDue(5.0), ["c"])
        self.assertEqual(d.popDue(100.0), ["a"])
        self.assertEqual(len(d), 0)

    def test_farDeadlinesLeaveNothing(self) -> None:
        """
        Keys filed under 10,000 different far deadlines and taken out again
        leave almost no memory behind (the heap of buckets is rebuilt when
        most of it names dropped buckets), and nothing to pop.
        """
        d: ExactDeadlines[int] = ExactDeadlines()
        d.add(-1, 1.0)
        d.discard(-1, 1.0)
        gc.collect()
        before = tracedBytes(self)
        for n in range(10_000):
            d.add(n, 2e9 - n)
            d.discard(n, 2e9 - n)
        gc.collect()
        self.assertLess(tracedBytes(self) - before, 4096)
        self.assertEqual(len(d), 0)
        self.assertEqual(d.popDue(3e9), [])


class ValuesTests(SynchronousTestCase):
    """
    The values of L{ppsp.tracker.values}: what they compute from their
    fields, and the interfaces they provide.
    """

    def peer(self, deadline: float = 100.0) -> PeerState:
        return PeerState(
            "p", "t", "192.0.2.1", 7000, (PeerAddress("192.0.2.1", 7001),), 7002, 5.0,
            deadline, None, {"A": 1, "B": "x"},
            {"s": MemberState("s", PeerMode.SEED, 50.0, (ChunkRange(0, 9),), {"B": "y"})},
        )

    def test_holds(self) -> None:
        """
        L{holds} finds a chunk in merged, sorted ranges, and nothing in
        none.
        """
        chunks = (ChunkRange(0, 9), ChunkRange(20, 20), ChunkRange(100, 2**64 - 1))
        found = [c for c in (0, 9, 10, 19, 20, 21, 99, 100, 2**64 - 1) if holds(chunks, c)]
        self.assertEqual(found, [0, 9, 20, 100, 2**64 - 1])
        self.assertFalse(holds((), 0))

    def test_peerState(self) -> None:
        """
        A L{PeerState} is an L{IRequester} that reads its own statistics,
        is alive before its deadline, and gives back its L{Session}.
        """
        peer = self.peer()
        self.assertTrue(verifyObject(IRequester, peer))
        self.assertEqual((peer.stat("A"), peer.stat("Z")), (1, None))
        self.assertEqual((peer.alive(99.9), peer.alive(100.0)), (True, False))
        self.assertEqual(
            peer.session,
            Session("p", "t", "192.0.2.1", 7000, (PeerAddress("192.0.2.1", 7001),), 7002, 5.0, 100.0),
        )

    def test_memberState(self) -> None:
        """
        A L{MemberState} is current until its ExpireTime, or for ever
        without one.
        """
        member = self.peer().swarms["s"]
        self.assertEqual((member.current(49.9), member.current(50.0)), (True, False))
        self.assertTrue(MemberState("s", PeerMode.LEECH).current(1e12))

    def test_swarmMember(self) -> None:
        """
        L{SwarmMember.of} makes an L{ISwarmMember} with the earlier of the
        session's deadline and the membership's end, that reads its
        swarm-scoped statistics before the peer's and holds its chunks.
        """
        peer = self.peer()
        member = SwarmMember.of(peer, peer.swarms["s"])
        self.assertTrue(verifyObject(ISwarmMember, member))
        self.assertEqual(member.deadline, 50.0)
        self.assertEqual(SwarmMember.of(self.peer(deadline=20.0), peer.swarms["s"]).deadline, 20.0)
        self.assertEqual((member.stat("A"), member.stat("B"), member.stat("Z")), (1, "y", None))
        self.assertEqual((member.holds(9), member.holds(10)), (True, False))
        self.assertEqual((member.swarmID, member.mode, member.observedIP), ("s", PeerMode.SEED, "192.0.2.1"))

