"""
The store contract (L{ppsp.testing.PeerStoreContractTests}) run against
the memory store and against a store that is different on purpose
(L{ppsp.test.copyingstore.CopyingPeerStore}: values copied across the
boundary, answers on a later turn of a clock, views that hold only some
members).
"""

from __future__ import annotations

from random import Random

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ppsp.interfaces import IPeerStore
from ppsp.messages import PeerMode
from ppsp.test.copyingstore import CopyingPeerStore
from ppsp.testing import PeerStoreContractTests
from ppsp.tracker.store import MemoryPeerStore
from ppsp.tracker.values import Session


class MemoryPeerStoreContractTests(PeerStoreContractTests, SynchronousTestCase):
    """
    L{MemoryPeerStore} keeps the store contract.
    """

    def makeStore(self) -> IPeerStore:
        return MemoryPeerStore(random=Random(10))


class CopyingPeerStoreContractTests(PeerStoreContractTests, SynchronousTestCase):
    """
    L{CopyingPeerStore} keeps the store contract, its Deferreds firing on
    the next turn of its clock.
    """

    def makeStore(self) -> IPeerStore:
        self.clock = Clock()
        return CopyingPeerStore(MemoryPeerStore(random=Random(11)), self.clock, Random(12))

    def settle(self) -> None:
        self.clock.advance(0)


class CopyingPeerStoreTests(SynchronousTestCase):
    """
    L{CopyingPeerStore} is as different from the memory store as it says:
    its answers wait for the clock, share nothing with what it was given
    or with what it answered before, and its views hold only some members.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.memory = MemoryPeerStore(random=Random(1))
        self.store = CopyingPeerStore(self.memory, self.clock, Random(2))

    def session(self, peerID: str) -> Session:
        return Session(peerID, "token-" + peerID, "192.0.2.1", 7000, (), None, 0.0, 100.0)

    def test_answersLater(self) -> None:
        """
        A call's Deferred has no result until the clock turns.
        """
        d = self.store.counts()
        self.assertNoResult(d)
        self.clock.advance(0)
        self.assertEqual(self.successResultOf(d), (0, 0))

    def test_copiesArguments(self) -> None:
        """
        What the store keeps is not what it was given: changing the
        statistics passed in afterwards changes nothing kept.
        """
        stats = {"UploadRate": 5}
        self.store.register(self.session("p"), stats)
        stats["UploadRate"] = 9
        self.clock.advance(0)
        kept = self.successResultOf(self.memory.peer("p"))
        assert kept is not None
        self.assertEqual(dict(kept.stats), {"UploadRate": 5})

    def test_copiesValues(self) -> None:
        """
        Two reads of one peer answer equal values that share no object.
        """
        self.store.register(self.session("p"), {"UploadRate": 5})
        first, second = self.store.peer("p"), self.store.peer("p")
        self.clock.advance(0)
        a, b = self.successResultOf(first), self.successResultOf(second)
        assert a is not None and b is not None
        self.assertEqual(a, b)
        self.assertIsNot(a, b)
        self.assertIsNot(a.stats, b.stats)

    def test_partialView(self) -> None:
        """
        A lookup's view holds the count asked for, the SEEDs and the
        requester's membership, not the whole swarm, and says so.
        """
        for i in range(30):
            peerID = f"p{i}"
            self.memory.register(self.session(peerID), {})
            mode = PeerMode.SEED if i < 2 else PeerMode.LEECH
            self.memory.join(peerID, "s", mode, None, {}, 100.0, 0.0)
        d = self.store.lookup("p29", "s", 3, None)
        self.clock.advance(0)
        peer, view = self.successResultOf(d)
        assert view is not None
        held = {m.peerID for m in view}
        self.assertFalse(view.complete)
        self.assertEqual(len(view), 30)
        self.assertLessEqual({"p0", "p1", "p29"}, held)
        self.assertGreaterEqual(len(held), 3)
        self.assertLessEqual(len(held), 6)
