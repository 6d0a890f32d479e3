"""
Run ppsp's store contract against a store: put a module like this one in
your store's tests and run it with trial.

The first class is the shape for a store whose Deferreds have fired when
its methods return; the second for a store whose answers come later, on
a clock (or a fake connection) that settle() drives.  Replace the stores
made here by yours.
"""

from random import Random

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ppsp.interfaces import IPeerStore
from ppsp.test.copyingstore import CopyingPeerStore
from ppsp.testing import PeerStoreContractTests
from ppsp.tracker.store import MemoryPeerStore


class ImmediateStoreTests(PeerStoreContractTests, SynchronousTestCase):
    """
    A store that answers at once: nothing to settle.
    """

    def makeStore(self) -> IPeerStore:
        return MemoryPeerStore(random=Random(4))


class LaterStoreTests(PeerStoreContractTests, SynchronousTestCase):
    """
    A store that answers on the next turn of its clock: settle() turns it
    after each call, before the test reads the result.
    """

    def makeStore(self) -> IPeerStore:
        self.clock = Clock()
        return CopyingPeerStore(MemoryPeerStore(random=Random(4)), self.clock, Random(5))

    def settle(self) -> None:
        self.clock.advance(0)
