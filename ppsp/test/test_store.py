"""
Tests for L{ppsp.tracker.store} and L{ppsp.tracker.deadlines}: the state
structures and the costs the tracker's hot paths rely on.
"""

from __future__ import annotations

import random
from typing import Any, List

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from ppsp.interfaces import IPeerStore, IRequester, ISwarmMember, ISwarmView
from ppsp.messages import ChunkRange, PeerMode
from ppsp.tracker.core import mergeRanges
from ppsp.tracker.deadlines import DeadlineBuckets, ExactDeadlines
from ppsp.tracker.store import MemoryPeerStore, Swarm


def makeStore(seed: int = 1) -> MemoryPeerStore:
    return MemoryPeerStore(random=random.Random(seed))


def addPeers(store: MemoryPeerStore, swarm: Swarm, n: int, deadline: float = 1e9) -> List[Any]:
    members = []
    for i in range(n):
        peer = store.addPeer(f"p{i}", "tok", "198.51.100.1", 1, (), None, 0.0, deadline)
        members.append(store.addMember(swarm, peer, PeerMode.SEED, None))
    return members


class InterfaceTests(SynchronousTestCase):
    """
    The store and its records provide the interfaces they declare.
    """

    def test_verify(self) -> None:
        """
        L{MemoryPeerStore} provides L{IPeerStore}; swarms L{ISwarmView};
        memberships L{ISwarmMember}; peer records L{IRequester}.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        (member,) = addPeers(store, swarm, 1)
        self.assertTrue(verifyObject(IPeerStore, store))
        self.assertTrue(verifyObject(ISwarmView, swarm))
        self.assertTrue(verifyObject(ISwarmMember, member))
        self.assertTrue(verifyObject(IRequester, member.peer))


class SampleTests(SynchronousTestCase):
    """
    Sampling a swarm is uniform and costs O(count), not O(swarm size).
    """

    def test_removalKeepsStructure(self) -> None:
        """
        Removing members (a swap with the last) keeps every remaining member
        reachable exactly once.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        members = addPeers(store, swarm, 100)
        for m in members[::3]:
            store.removeMember(swarm, m.peer, 5.0)
        left = {m.peerID for m in members} - {m.peerID for m in members[::3]}
        self.assertEqual({m.peerID for m in swarm}, left)
        self.assertEqual({m.peerID for m in swarm.sample(1000)}, left)
        self.assertIsNone(swarm.emptySince)
        for m in list(swarm):
            store.removeMember(swarm, m.peer, 7.0)
        self.assertEqual((len(swarm), swarm.emptySince), (0, 7.0))

    def test_costIndependentOfSwarmSize(self) -> None:
        """
        Drawing 30 of 100,000 members looks at a few dozen members, not the
        swarm: the predicate runs at most 4 * count + 32 times.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        addPeers(store, swarm, 100_000)
        calls = []

        def accept(m: Any) -> bool:
            calls.append(m)
            return True

        chosen = swarm.sample(30, accept)
        self.assertEqual(len({m.peerID for m in chosen}), 30)
        self.assertLessEqual(len(calls), 4 * 30 + 32)

    def test_selectivePredicateStillComplete(self) -> None:
        """
        When the predicate rejects nearly everyone, sampling still finds
        every accepted member (by a scan).
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        addPeers(store, swarm, 2000)
        wanted = {"p7", "p1500"}
        chosen = swarm.sample(10, lambda m: m.peerID in wanted)
        self.assertEqual({m.peerID for m in chosen}, wanted)

    def test_uniform(self) -> None:
        """
        Every member is drawn about equally often.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        addPeers(store, swarm, 20)
        counts: dict[str, int] = {}
        for _ in range(4000):
            for m in swarm.sample(3):
                counts[m.peerID] = counts.get(m.peerID, 0) + 1
        self.assertEqual(len(counts), 20)
        for n in counts.values():
            self.assertTrue(450 < n < 750, counts)


class ChunkIndexTests(SynchronousTestCase):
    """
    The chunk index finds exactly the holders of a chunk.
    """

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.lists(
                st.tuples(st.integers(0, 5000), st.integers(0, 3000)), max_size=6
            ),
            min_size=1,
            max_size=12,
        ),
        st.lists(st.integers(0, 9000), min_size=1, max_size=20),
    )
    def test_holdersMatchBruteForce(self, chunkSets: List[List[Any]], probes: List[int]) -> None:
        """
        For any chunk sets, L{Swarm.sampleHolders} and L{Swarm.hasHolders}
        agree with a brute-force scan, after updates too.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        members = addPeers(store, swarm, len(chunkSets))
        for member, ranges in zip(members, chunkSets):
            store.setChunks(swarm, member, mergeRanges(ChunkRange(a, a + n) for a, n in ranges))
        # Replace half the sets to exercise un-indexing.
        for member, ranges in list(zip(members, chunkSets))[::2]:
            store.setChunks(swarm, member, mergeRanges(ChunkRange(a + 7, a + 7 + n // 2) for a, n in ranges))
        for probe in probes:
            expected = {m.peerID for m in members if m.holds(probe)}
            found = {m.peerID for m in swarm.sampleHolders(probe, 100)}
            self.assertEqual(found, expected)
            self.assertEqual(swarm.hasHolders(probe), bool(expected))

    def test_hugeRanges(self) -> None:
        """
        Ranges up to the full 64-bit space are indexed in a few buckets.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        a, b = addPeers(store, swarm, 2)
        store.setChunks(swarm, a, (ChunkRange(0, 2**64 - 1),))
        store.setChunks(swarm, b, (ChunkRange(2**63, 2**63 + 5),))
        self.assertLessEqual(len(swarm._chunkIndex), 8)
        self.assertEqual({m.peerID for m in swarm.sampleHolders(2**63 + 1, 5)}, {"p0", "p1"})
        self.assertEqual({m.peerID for m in swarm.sampleHolders(17, 5)}, {"p0"})

    def test_holderSampleCost(self) -> None:
        """
        Sampling 20 holders among 50,000 costs O(20) predicate calls.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        members = addPeers(store, swarm, 50_000)
        for i, m in enumerate(members):
            store.setChunks(swarm, m, (ChunkRange(i % 500, i % 500 + 600),))
        calls = []

        def accept(m: Any) -> bool:
            calls.append(m)
            return True

        chosen = swarm.sampleHolders(700, 20, accept)
        self.assertEqual(len(chosen), 20)
        self.assertTrue(all(m.holds(700) for m in chosen))
        self.assertLessEqual(len(calls), 8 * 20 + 32)

    def test_removedMemberUnindexed(self) -> None:
        """
        A member that leaves is no longer found as a holder and leaves no
        empty buckets behind.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        (m,) = addPeers(store, swarm, 1)
        store.setChunks(swarm, m, (ChunkRange(10, 20), ChunkRange(1000, 100000)))
        store.removeMember(swarm, m.peer, 1.0)
        self.assertEqual(swarm.sampleHolders(15, 5), [])
        self.assertEqual(swarm._chunkIndex, {})


class ModeIndexTests(SynchronousTestCase):
    """
    The per-mode index holds exactly the SEED and LIVESEED members, through
    joins, leaves and mode changes, and never the LEECHes.
    """

    def check(self, swarm: Swarm) -> None:
        """
        Compare every per-mode view of C{swarm} with a scan.
        """
        members = list(swarm)
        for mode in PeerMode:
            expected = {m.peerID for m in members if m.mode is mode}
            self.assertEqual(swarm.modeCount(mode), len(expected), mode)
            self.assertEqual({m.peerID for m in swarm.sampleMode(mode, 10_000)}, expected, mode)
            if mode is not PeerMode.LEECH:
                listed = [m.peerID for m in swarm.modeMembers(mode)]
                self.assertEqual(sorted(listed), sorted(expected), mode)
        # Only the modes that have members are indexed, and LEECH never.
        indexed = set(swarm._modes or {})
        self.assertNotIn(PeerMode.LEECH, indexed)
        self.assertEqual(
            indexed, {m.mode for m in members if m.mode is not PeerMode.LEECH}
        )

    @settings(max_examples=80, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["join", "leave", "mode", "setMode", "removePeer"]),
                st.integers(0, 11),
                st.sampled_from(list(PeerMode)),
            ),
            max_size=60,
        )
    )
    def test_matchesScan(self, operations: List[Any]) -> None:
        """
        After any sequence of joins, leaves, peer removals and mode changes
        (set on the membership, as the core does, or through
        L{MemoryPeerStore.setMemberMode}), the index agrees with a scan.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        for op, i, mode in operations:
            peerID = f"p{i}"
            peer = store.getPeer(peerID)
            if peer is None:
                peer = store.addPeer(peerID, "tok", "198.51.100.1", 1, (), None, 0.0, 1e9)
            member = peer.swarms.get("s")
            if op == "join" and member is None:
                store.addMember(swarm, peer, mode, None)
            elif op == "leave" and member is not None:
                store.removeMember(swarm, peer, 1.0)
            elif op == "mode" and member is not None:
                member.mode = mode
            elif op == "setMode" and member is not None:
                store.setMemberMode(member, mode)
            elif op == "removePeer":
                store.removePeer(peerID, 1.0)
            self.check(swarm)

    def test_rejoinThroughTracker(self) -> None:
        """
        A JOIN in another mode by a member (the core's re-JOIN) moves it
        between the indexed modes.
        """
        from ppsp.messages import JoinRequest
        from ppsp.test.helpers import TrackerHarness

        h = TrackerHarness(self)
        for p, mode in (("a", PeerMode.SEED), ("b", PeerMode.LEECH), ("c", PeerMode.LIVESEED)):
            h.connect(p)
            h.ok(JoinRequest, p, swarmID="s", mode=mode)
        swarm = h.store.getSwarm("s")
        h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.LEECH)
        h.ok(JoinRequest, "b", swarmID="s", mode=PeerMode.SEED)
        self.assertEqual([m.peerID for m in swarm.modeMembers(PeerMode.SEED)], ["b"])
        self.assertEqual([m.peerID for m in swarm.modeMembers(PeerMode.LIVESEED)], ["c"])
        self.assertEqual(swarm.modeCount(PeerMode.LEECH), 1)
        self.check(swarm)

    def test_leechRefused(self) -> None:
        """
        LEECHes are not indexed: asking for their list is an error that
        points to L{Swarm.sampleMode}.
        """
        swarm = makeStore().addSwarm("s", False, 0.0)
        e = self.assertRaises(ValueError, swarm.modeMembers, PeerMode.LEECH)
        self.assertIn("sampleMode", str(e))

    def test_seedSampleCost(self) -> None:
        """
        Sampling 10 seeds among 10,000 members of which 100 are seeds looks
        at no LEECH: the predicate sees only seeds.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        for i in range(10_000):
            peer = store.addPeer(f"p{i}", "tok", "198.51.100.1", 1, (), None, 0.0, 1e9)
            store.addMember(swarm, peer, PeerMode.SEED if i % 100 == 0 else PeerMode.LEECH, None)
        seen: List[Any] = []

        def accept(m: Any) -> bool:
            seen.append(m)
            return True

        self.assertEqual(len(swarm.sampleMode(PeerMode.SEED, 10, accept)), 10)
        self.assertTrue(all(m.mode is PeerMode.SEED for m in seen))
        self.assertEqual(swarm.modeCount(PeerMode.LEECH), 9_900)

    def test_membership(self) -> None:
        """
        L{Swarm.membership} finds a requester's own current membership, and
        nothing once it left.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        other = store.addSwarm("t", False, 0.0)
        (member,) = addPeers(store, swarm, 1)
        self.assertIs(swarm.membership(member.peer), member)
        self.assertIsNone(other.membership(member.peer))
        store.removeMember(swarm, member.peer, 1.0)
        self.assertIsNone(swarm.membership(member.peer))
        self.assertIsNone(swarm.membership(object()))


def _lastOctet(member: Any) -> Any:
    return int(member.observedIP.rsplit(".", 1)[1]) % 3


class PartitionTests(SynchronousTestCase):
    """
    L{Swarm.sampleGroup} partitions a swarm by a key and keeps the
    partition up to date.
    """

    def test_followsChanges(self) -> None:
        """
        The groups agree with a scan after the partition is built, and
        after later joins and leaves.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        peers = [
            store.addPeer(f"p{i}", "tok", f"198.51.100.{i}", 1, (), None, 0.0, 1e9)
            for i in range(1, 31)
        ]
        for peer in peers[:20]:
            store.addMember(swarm, peer, PeerMode.LEECH, None)

        def check() -> None:
            for group in (0, 1, 2):
                expected = {m.peerID for m in swarm if _lastOctet(m) == group}
                found = {m.peerID for m in swarm.sampleGroup(_lastOctet, group, 100)}
                self.assertEqual(found, expected)
                self.assertEqual(swarm.groupSize(_lastOctet, group), len(expected))

        check()
        for peer in peers[20:]:
            store.addMember(swarm, peer, PeerMode.LEECH, None)
        for peer in peers[::4]:
            store.removeMember(swarm, peer, 1.0)
        check()
        self.assertEqual(swarm.sampleGroup(_lastOctet, 7, 5), [])

    def test_staleKeyChecked(self) -> None:
        """
        A member whose key changed since it was filed is not returned for
        its old group.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        (member,) = addPeers(store, swarm, 1)
        self.assertEqual(swarm.sampleGroup(_lastOctet, 1, 5), [member])
        member.peer.observedIP = "198.51.100.2"
        self.assertEqual(swarm.sampleGroup(_lastOctet, 1, 5), [])

    def test_movedPeerRefiled(self) -> None:
        """
        A peer whose session moves to another address (a CONNECT that took
        it over) is filed under its new group, and no longer under the old.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        (member,) = addPeers(store, swarm, 1)
        self.assertEqual(swarm.sampleGroup(_lastOctet, 1, 5), [member])
        store.setObservedAddress(member.peer, "198.51.100.2", 9)
        self.assertEqual(swarm.sampleGroup(_lastOctet, 2, 5), [member])
        self.assertEqual(swarm.groupSize(_lastOctet, 1), 0)
        self.assertEqual(member.peer.observedPort, 9)

    def test_bounded(self) -> None:
        """
        A swarm keeps at most L{MAX_PARTITIONS} partitions, and a key that
        raises files members under L{None}.
        """
        from ppsp.tracker.store import MAX_PARTITIONS

        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        addPeers(store, swarm, 3)
        keys = [(lambda m, k=k: k) for k in range(MAX_PARTITIONS + 2)]
        for k, key in enumerate(keys):
            self.assertEqual(len(swarm.sampleGroup(key, k, 5)), 3)
        self.assertEqual(len(swarm._partitions or {}), MAX_PARTITIONS)

        def broken(m: Any) -> Any:
            raise RuntimeError("no key")

        self.assertEqual(len(swarm.sampleGroup(broken, None, 5)), 3)


class DeadlineTests(SynchronousTestCase):
    """
    Deadline buckets pop what is due and nothing else.
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
        self.assertEqual(buckets.popDue(9.99), [])
        self.assertEqual(buckets.popDue(10.0), ["a"])
        self.assertEqual(buckets.popDue(11.0), ["b"])
        self.assertEqual(buckets.popDue(100.0), ["c"])
        self.assertEqual(buckets.popDue(1000.0), [])
        self.assertEqual(len(buckets), 0)

    def test_lazyRefile(self) -> None:
        """
        A peer touched after it was filed is refiled, not reported, when
        its old bucket falls due; it is reported at its new deadline.
        """
        store = makeStore()
        peer = store.addPeer("a", "t", "198.51.100.1", 1, (), None, 0.0, 180.0)
        store.touchPeer(peer, 250.0)
        self.assertEqual(store.due(180.0), ([], [], []))
        self.assertEqual(store.due(249.0), ([], [], []))
        self.assertEqual(store.due(250.0), (["a"], [], []))

    def test_dueCostsWhatIsDue(self) -> None:
        """
        Popping at a time when one of 10,000 peers is due looks at one
        bucket only.
        """
        store = makeStore()
        for i in range(10_000):
            store.addPeer(f"p{i}", "t", "198.51.100.1", 1, (), None, 0.0, 100.0 + i)
        self.assertEqual(store.due(100.0)[0], ["p0"])
        self.assertEqual(len(store._peerDeadlines._heap), 9_999)


class ExactDeadlineTests(SynchronousTestCase):
    """
    L{ExactDeadlines} files each key once, and moves or takes it out in
    O(1), leaving nothing behind.
    """

    def test_addDiscardMove(self) -> None:
        """
        A key is filed once per bucket, taken out by L{ExactDeadlines.discard}
        given its deadline, and popped at its new deadline after
        L{ExactDeadlines.move}; the count follows.
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
        self.assertEqual(d.popDue(5.0), ["c"])
        self.assertEqual(d.popDue(100.0), ["a"])
        self.assertEqual(len(d), 0)

    def test_farDeadlinesLeaveNothing(self) -> None:
        """
        Keys filed under 10,000 different far deadlines and taken out again
        leave no bucket and almost no heap behind (the heap is rebuilt when
        most of it names dropped buckets).
        """
        d: ExactDeadlines[int] = ExactDeadlines()
        for n in range(10_000):
            d.add(n, 2e9 - n)
            d.discard(n, 2e9 - n)
        self.assertEqual(len(d), 0)
        self.assertLessEqual(len(d._heap), 64)
        self.assertEqual(d.popDue(3e9), [])


class StoreExpiryEntryTests(SynchronousTestCase):
    """
    The store keeps one expiry entry per membership and per swarm, and a
    peer's stale entries are dropped, never filed again.
    """

    def test_memberEntryGoesWithMembership(self) -> None:
        """
        L{MemoryPeerStore.removeMember} and L{MemoryPeerStore.removePeer}
        take a membership's entry out; L{MemoryPeerStore.setMemberExpiry}
        moves or clears it.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        peer = store.addPeer("a", "t", "198.51.100.1", 1, (), None, 0.0, 180.0)
        member = store.addMember(swarm, peer, PeerMode.LEECH, 1e9)
        self.assertEqual(store.scheduledCount(), 2)
        store.setMemberExpiry(member, 5e8)
        store.setMemberExpiry(member, 7e8)
        self.assertEqual(store.scheduledCount(), 2)
        store.setMemberExpiry(member, None)
        self.assertEqual(store.scheduledCount(), 1)
        store.setMemberExpiry(member, 100.0)
        self.assertEqual(store.due(100.0), ([], [("s", "a")], []))
        other = store.addPeer("b", "t", "198.51.100.1", 1, (), None, 0.0, 180.0)
        store.addMember(swarm, other, PeerMode.LEECH, 1e9)
        store.removeMember(swarm, other, 1.0)
        self.assertEqual(store.scheduledCount(), 2)
        store.addMember(store.addSwarm("t", False, 0.0), peer, PeerMode.LEECH, 2e9)
        store.removePeer("a", 1.0)
        self.assertEqual(store.due(1e10)[1], [])

    def test_oneCheckPerSwarm(self) -> None:
        """
        A swarm has one pending check, the last one asked for, and
        L{MemoryPeerStore.removeSwarm} drops it.
        """
        store = makeStore()
        swarm = store.addSwarm("s", False, 0.0)
        for n in range(100):
            store.scheduleSwarmCheck(swarm, 300.0 + n)
        self.assertEqual(store.scheduledCount(), 1)
        self.assertEqual(store.due(398.0), ([], [], []))
        self.assertEqual(store.due(399.0), ([], [], ["s"]))
        store.scheduleSwarmCheck(swarm, 1e9)
        store.removeSwarm("s")
        self.assertEqual(store.scheduledCount(), 0)

    def test_earlierTouchesDoNotMultiply(self) -> None:
        """
        Deadlines moved earlier and later again and again (a session taken
        over with credentials that expire sooner and later) leave the peer
        one live entry: the others are dropped when they fall due.
        """
        store = makeStore()
        peer = store.addPeer("a", "t", "198.51.100.1", 1, (), None, 0.0, 180.0)
        now = 0.0
        for n in range(100):
            now += 1
            store.touchPeer(peer, now + 180)
            store.touchPeer(peer, now + 90)
        for _ in range(400):
            now += 1
            store.touchPeer(peer, now + 180)
            self.assertEqual(store.due(now), ([], [], []))
        self.assertEqual(store.scheduledCount(), 1)
        self.assertEqual(store.due(now + 180), (["a"], [], []))
        self.assertEqual(store.scheduledCount(), 0)


class AccountTests(SynchronousTestCase):
    """
    The store counts sessions and what they hold per address key, and
    gives it all back when they go.
    """

    def test_sessionsPerAddressKey(self) -> None:
        """
        Sessions count per IPv4 address and per IPv6 /64; moving a session
        moves its count and what it holds.
        """
        store = makeStore()
        a = store.addPeer("a", "t", "192.0.2.1", 1, (), None, 0.0, 180.0)
        store.addPeer("b", "t", "2001:db8::1", 1, (), None, 0.0, 180.0)
        store.addPeer("c", "t", "2001:db8::2", 1, (), None, 0.0, 180.0)
        self.assertEqual(store.addressUsage("192.0.2.1")[0], 1)
        self.assertEqual(store.addressUsage("2001:db8::ffff")[0], 2)
        held = store.peerUsage(a)
        self.assertEqual(store.addressUsage("192.0.2.1")[1], held)
        store.setObservedAddress(a, "2001:db8::3", 1)
        self.assertEqual(store.addressUsage("192.0.2.1"), (0, 0))
        self.assertEqual(store.addressUsage("2001:db8::")[0], 3)
        for peerID in ("a", "b", "c"):
            store.removePeer(peerID, 1.0)
        self.assertEqual(store.addressUsage("2001:db8::"), (0, 0))

    def test_costsAreWhatIsCharged(self) -> None:
        """
        What the cost methods announce is what the writes charge, and
        releasing gives all of it back.
        """
        store = makeStore()
        peer = store.addPeer("a", "t", "192.0.2.1", 1, (), None, 0.0, 180.0)
        self.assertEqual(store.peerUsage(peer), store.recordCost("a", "192.0.2.1", ()))
        swarm = store.addSwarm("s", False, 0.0)
        before = store.peerUsage(peer)
        member = store.addMember(swarm, peer, PeerMode.LEECH, None)
        self.assertEqual(store.peerUsage(peer) - before, store.memberCost("s"))
        ranges = mergeRanges(ChunkRange(10 * k, 10 * k + 3) for k in range(50))
        before = store.peerUsage(peer)
        cost = store.chunksCost(ranges)
        store.setChunks(swarm, member, ranges)
        self.assertEqual(store.peerUsage(peer) - before, cost)
        before = store.peerUsage(peer)
        values: Any = {"X-a": "1", "UploadBandwidth": 5}
        cost = store.statsCost(member.stats, values)
        store.keepStats(member, values)
        self.assertEqual(store.peerUsage(peer) - before, cost)
        store.removeMember(swarm, peer, 1.0)
        self.assertEqual(store.peerUsage(peer), store.recordCost("a", "192.0.2.1", ()))
        store.removePeer("a", 1.0)
        self.assertEqual(store.addressUsage("192.0.2.1"), (0, 0))
