"""
Tests for L{ppsp.tracker.snapshot}: the swarm view over the members a
networked store fetched, and its sampling.
"""

from __future__ import annotations

from collections import Counter
from random import Random
from typing import Any, Hashable, Iterable, List, Sequence, Tuple

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from ppsp.interfaces import ISwarmMember, ISwarmView
from ppsp.messages import ChunkRange, PeerMode
from ppsp.tracker.snapshot import MAX_INDEXES, SnapshotSwarmView, sampleFrom
from ppsp.tracker.values import PeerState, SwarmMember

LEECH, SEED, LIVESEED = PeerMode.LEECH, PeerMode.SEED, PeerMode.LIVESEED


def member(
    peerID: str,
    mode: PeerMode = LEECH,
    ip: str = "192.0.2.1",
    chunks: Tuple[ChunkRange, ...] = (),
    swarmID: str = "s",
) -> SwarmMember:
    """
    A member of swarm C{swarmID}.
    """
    return SwarmMember(peerID, swarmID, mode, ip, 7000, (), 0.0, 100.0, chunks)


def requester(peerID: str) -> PeerState:
    """
    A requester with this PeerID.
    """
    return PeerState(peerID, "token", "192.0.2.9", 7000, (), None, 0.0, 100.0)


def ids(members: Iterable[Any]) -> List[str]:
    """
    The PeerIDs of C{members}, in order.
    """
    return [m.peerID for m in members]


def byIP(m: Any) -> Hashable:
    """
    A partition key: the member's observed address.
    """
    return m.observedIP  # type: ignore[no-any-return]


def leeches(n: int) -> List[SwarmMember]:
    """
    C{n} LEECH members, C{p0} to C{p<n-1>}.
    """
    return [member(f"p{i}") for i in range(n)]


class SampleFromTests(SynchronousTestCase):
    """
    L{sampleFrom}: uniform samples of distinct elements.
    """

    def assertDistinctSample(self, chosen: Sequence[int], count: int, among: Iterable[int]) -> None:
        self.assertLessEqual(len(chosen), count)
        self.assertEqual(len(chosen), len(set(chosen)))
        self.assertLessEqual(set(chosen), set(among))

    def test_small(self) -> None:
        """
        From a short sequence, a sample is C{count} distinct elements, or
        all of them when C{count} is larger.
        """
        items = list(range(10))
        chosen = sampleFrom(items, 4, None, Random(1))
        self.assertEqual(len(chosen), 4)
        self.assertDistinctSample(chosen, 4, items)
        self.assertEqual(sorted(sampleFrom(items, 50, None, Random(1))), items)

    def test_large(self) -> None:
        """
        From a long sequence, a sample is C{count} distinct elements.
        """
        items = list(range(1000))
        chosen = sampleFrom(items, 30, None, Random(2))
        self.assertEqual(len(chosen), 30)
        self.assertDistinctSample(chosen, 30, items)

    def test_nothing(self) -> None:
        """
        A sample of nothing, or from nothing, is empty.
        """
        self.assertEqual(sampleFrom(list(range(10)), 0, None, Random(1)), [])
        self.assertEqual(sampleFrom([], 5, None, Random(1)), [])

    def test_accept(self) -> None:
        """
        Only the elements the predicate accepts are chosen.
        """
        items = list(range(1000))
        chosen = sampleFrom(items, 20, lambda i: i % 2 == 0, Random(3))
        self.assertEqual(len(chosen), 20)
        self.assertDistinctSample(chosen, 20, range(0, 1000, 2))

    def test_rareAccepted(self) -> None:
        """
        When the predicate rejects nearly every element of a long
        sequence, the sample still finds every accepted one.
        """
        items = list(range(1000))
        chosen = sampleFrom(items, 5, lambda i: i in (3, 500, 998), Random(4))
        self.assertEqual(sorted(chosen), [3, 500, 998])

    def test_uniformSmall(self) -> None:
        """
        In 2,000 draws of one of ten elements, each comes up between 100
        and 320 times (200 expected).
        """
        rng = Random(5)
        drawn = Counter(x for _ in range(2000) for x in sampleFrom(range(10), 1, None, rng))
        self.assertEqual(sorted(drawn), list(range(10)))
        self.assertGreaterEqual(min(drawn.values()), 100, drawn)
        self.assertLessEqual(max(drawn.values()), 320, drawn)

    def test_uniformLarge(self) -> None:
        """
        In 4,000 draws of five of 200 elements (by random positions), each
        comes up between 40 and 180 times (100 expected).
        """
        rng = Random(6)
        items = list(range(200))
        drawn = Counter(x for _ in range(4000) for x in sampleFrom(items, 5, None, rng))
        self.assertEqual(sorted(drawn), items)
        self.assertGreaterEqual(min(drawn.values()), 40, drawn)
        self.assertLessEqual(max(drawn.values()), 180, drawn)


class SnapshotSwarmViewTests(SynchronousTestCase):
    """
    L{SnapshotSwarmView} answers the L{ISwarmView} reads among the members
    it holds.
    """

    def view(
        self, members: Sequence[SwarmMember], size: int = 0, **kwargs: Any
    ) -> SnapshotSwarmView:
        """
        A view of swarm C{s} of C{size} members holding C{members}.
        """
        return SnapshotSwarmView("s", size, members, Random(7), **kwargs)

    def test_interface(self) -> None:
        """
        The view provides L{ISwarmView}, and its members L{ISwarmMember}.
        """
        view = self.view(leeches(3), 3)
        self.assertTrue(verifyObject(ISwarmView, view))
        for m in view:
            self.assertTrue(verifyObject(ISwarmMember, m))
        self.assertEqual(view.swarmID, "s")

    def test_size(self) -> None:
        """
        The view's length is the swarm's size it was given, not the number
        of members it holds; it is complete only when it holds them all.
        """
        partial = self.view(leeches(3), 40)
        self.assertEqual(len(partial), 40)
        self.assertFalse(partial.complete)
        whole = self.view(leeches(3), 3)
        self.assertEqual(len(whole), 3)
        self.assertTrue(whole.complete)

    def test_sizeAtLeastHeld(self) -> None:
        """
        A size smaller than the members given (the swarm changed while the
        store fetched them) is raised to their number.
        """
        view = self.view(leeches(5), 2)
        self.assertEqual(len(view), 5)
        self.assertTrue(view.complete)

    def test_duplicates(self) -> None:
        """
        A member given twice is held once, as first given.
        """
        view = self.view([member("p", LEECH), member("q"), member("p", SEED)], 2)
        self.assertEqual(ids(view), ["p", "q"])
        self.assertEqual(view.member("p"), member("p", LEECH))
        self.assertTrue(view.complete)

    def test_otherSwarm(self) -> None:
        """
        A member of another swarm is refused.
        """
        self.assertRaises(ValueError, self.view, [member("p"), member("q", swarmID="t")], 2)

    def test_iterate(self) -> None:
        """
        Iterating gives the held members in the order given.
        """
        members = leeches(4)
        self.assertEqual(list(self.view(members, 10)), members)

    def test_member(self) -> None:
        """
        C{member} finds a held member by PeerID, else L{None}.
        """
        view = self.view(leeches(3), 10)
        self.assertEqual(view.member("p1"), member("p1"))
        self.assertIsNone(view.member("p7"))

    def test_membership(self) -> None:
        """
        C{membership} finds the requester's own membership by its PeerID,
        else L{None}.
        """
        view = self.view(leeches(3), 10)
        self.assertEqual(view.membership(requester("p2")), member("p2"))
        self.assertIsNone(view.membership(requester("other")))

    def test_sample(self) -> None:
        """
        C{sample} answers distinct held members the predicate accepts, at
        most C{count}, and all of them when C{count} is as large.
        """
        view = self.view(leeches(20), 100)
        chosen = ids(view.sample(5))
        self.assertEqual(len(set(chosen)), 5)
        self.assertEqual(sorted(ids(view.sample(20))), sorted(ids(leeches(20))))
        self.assertEqual(
            sorted(ids(view.sample(20, lambda m: m.peerID in ("p3", "p9")))), ["p3", "p9"]
        )
        self.assertEqual(list(view.sample(0)), [])

    def test_sampleUniform(self) -> None:
        """
        C{sample} draws uniformly among the held members: in 2,000 draws of
        one of ten, each comes up between 100 and 320 times.
        """
        view = self.view(leeches(10), 1000)
        drawn = Counter(ids(m for _ in range(2000) for m in view.sample(1)))
        self.assertEqual(len(drawn), 10)
        self.assertGreaterEqual(min(drawn.values()), 100, drawn)
        self.assertLessEqual(max(drawn.values()), 320, drawn)

    def test_holders(self) -> None:
        """
        C{sampleHolders} and C{hasHolders} consider the held members that
        hold the chunk.
        """
        members = [
            member("a", chunks=(ChunkRange(0, 9),)),
            member("b", chunks=(ChunkRange(5, 5), ChunkRange(20, 29))),
            member("c"),
        ]
        view = self.view(members, 50)
        self.assertEqual(sorted(ids(view.sampleHolders(5, 10))), ["a", "b"])
        self.assertEqual(ids(view.sampleHolders(25, 10)), ["b"])
        self.assertEqual(ids(view.sampleHolders(5, 10, lambda m: m.peerID != "a")), ["b"])
        self.assertEqual(len(view.sampleHolders(5, 1)), 1)
        self.assertEqual(list(view.sampleHolders(5, 0)), [])
        self.assertTrue(view.hasHolders(0))
        self.assertFalse(view.hasHolders(15))
        self.assertEqual(list(view.sampleHolders(15, 10)), [])

    def test_holdersOfManyChunks(self) -> None:
        """
        Asking for more chunks than the view keeps holder lists of still
        answers each correctly.
        """
        members = [member(f"p{i}", chunks=(ChunkRange(i, i),)) for i in range(2 * MAX_INDEXES)]
        view = self.view(members, 100)
        for _ in range(2):
            for i in range(2 * MAX_INDEXES):
                self.assertEqual(ids(view.sampleHolders(i, 5)), [f"p{i}"])

    def test_modeMembers(self) -> None:
        """
        C{modeMembers} lists the held SEEDs or LIVESEEDs in the order given,
        and refuses LEECH.
        """
        members = [member("s1", SEED), member("l1"), member("v1", LIVESEED), member("s2", SEED)]
        view = self.view(members, 40)
        self.assertEqual(ids(view.modeMembers(SEED)), ["s1", "s2"])
        self.assertEqual(ids(view.modeMembers(LIVESEED)), ["v1"])
        self.assertEqual(list(self.view(leeches(2), 2).modeMembers(SEED)), [])
        self.assertRaises(ValueError, view.modeMembers, LEECH)

    def test_modeCount(self) -> None:
        """
        Without counts from the store, C{modeCount} counts the held SEEDs
        and LIVESEEDs, and the LEECHes as the rest of the swarm.
        """
        members = [member("s1", SEED), member("l1"), member("v1", LIVESEED), member("s2", SEED)]
        view = self.view(members, 40)
        self.assertEqual([view.modeCount(m) for m in (LEECH, SEED, LIVESEED)], [37, 2, 1])

    def test_modeCountGiven(self) -> None:
        """
        With the store's counts, C{modeCount} answers them.
        """
        view = self.view([member("s1", SEED)], 40, modes={LEECH: 30, SEED: 10})
        self.assertEqual([view.modeCount(m) for m in (LEECH, SEED, LIVESEED)], [30, 10, 0])

    def test_sampleMode(self) -> None:
        """
        C{sampleMode} samples the held members of one mode.
        """
        members = [member("s1", SEED), member("l1"), member("l2"), member("s2", SEED)]
        view = self.view(members, 40)
        self.assertEqual(sorted(ids(view.sampleMode(LEECH, 5))), ["l1", "l2"])
        self.assertEqual(sorted(ids(view.sampleMode(SEED, 5))), ["s1", "s2"])
        self.assertEqual(ids(view.sampleMode(SEED, 5, lambda m: m.peerID == "s2")), ["s2"])
        self.assertEqual(len(view.sampleMode(LEECH, 1)), 1)
        self.assertEqual(list(view.sampleMode(LIVESEED, 5)), [])

    def test_groups(self) -> None:
        """
        C{sampleGroup} samples the held members of one group of a key, and
        C{groupSize} counts them.
        """
        ips = ["192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.3", "192.0.2.1"]
        view = self.view([member(f"p{i}", ip=ip) for i, ip in enumerate(ips)], 50)
        self.assertEqual(
            [view.groupSize(byIP, ip) for ip in ("192.0.2.1", "192.0.2.2", "198.51.100.1")],
            [3, 1, 0],
        )
        self.assertEqual(sorted(ids(view.sampleGroup(byIP, "192.0.2.1", 5))), ["p0", "p2", "p4"])
        self.assertEqual(len(view.sampleGroup(byIP, "192.0.2.1", 2)), 2)
        self.assertEqual(
            ids(view.sampleGroup(byIP, "192.0.2.1", 5, lambda m: m.peerID == "p2")), ["p2"]
        )
        self.assertEqual(list(view.sampleGroup(byIP, "198.51.100.1", 5)), [])
        self.assertEqual(list(view.sampleGroup(byIP, "192.0.2.1", 0)), [])

    def test_groupKeyRaises(self) -> None:
        """
        A member whose key raises is filed under L{None}.
        """

        def key(m: Any) -> Hashable:
            if m.peerID == "p1":
                raise KeyError(m.peerID)
            return "x"

        view = self.view(leeches(3), 3)
        self.assertEqual(view.groupSize(key, "x"), 2)
        self.assertEqual(ids(view.sampleGroup(key, None, 5)), ["p1"])

    def test_manyKeys(self) -> None:
        """
        Using more key functions than the view keeps partitions for still
        answers each correctly.
        """
        view = self.view(leeches(6), 6)
        keys = [
            (lambda m, n=n: int(m.peerID[1:]) % n)
            for n in range(2, 3 + MAX_INDEXES)
        ]
        for _ in range(2):
            for n, key in enumerate(keys, start=2):
                self.assertEqual(view.groupSize(key, 0), len(range(0, 6, n)))
