"""
Tests of the veterans strategy, through a real tracker in memory.
Run them with: python -m twisted.trial tests
"""

from twisted.trial.unittest import SynchronousTestCase

from ppsp.messages import PeerMode
from ppsp.selection import makeSelector
from ppsp.testing import MemoryTracker


class VeteransTests(SynchronousTestCase):
    def test_oldestFirst(self) -> None:
        """
        Of ten seeds that connected ten seconds apart, a FIND for three
        lists the three that connected first.
        """
        fake = MemoryTracker(selector=makeSelector("veterans:probe=100"))
        for i in range(10):
            peer = fake.client(f"p{i}")
            self.successResultOf(peer.connect())
            self.successResultOf(peer.join("s", PeerMode.SEED))
            fake.clock.advance(10)
        found = self.successResultOf(peer.find("s", peerNum=3))
        self.assertEqual([p.peerID for p in found.peers], ["p0", "p1", "p2"])

    def test_badArguments(self) -> None:
        """
        Unknown arguments are refused with a sentence naming the strategy.
        """
        with self.assertRaises(ValueError) as caught:
            makeSelector("veterans:depth=3")
        self.assertIn("veterans", str(caught.exception))
