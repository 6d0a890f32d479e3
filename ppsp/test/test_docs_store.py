"""
Tests for the example of C{docs/writing-a-store.rst}
(C{docs/examples/store_contract.py}): its test cases run the whole store
contract, and pass.
"""

from __future__ import annotations

from twisted.trial.reporter import TestResult
from twisted.trial.runner import TestLoader
from twisted.trial.unittest import SynchronousTestCase

from ppsp.test.test_docs import EXAMPLES, _NO_EXAMPLES, loadExample
from ppsp.testing import PeerStoreContractTests


class StoreContractExampleTests(SynchronousTestCase):
    """
    C{docs/examples/store_contract.py}.
    """

    if not EXAMPLES.isdir():
        skip = _NO_EXAMPLES

    def test_passes(self) -> None:
        """
        Each of the example's two test cases runs every test of
        L{PeerStoreContractTests}, and they all pass.
        """
        example = loadExample("store_contract")
        suite = TestLoader().loadModule(example)
        result = TestResult()
        suite.run(result)
        self.assertEqual((result.errors, result.failures), ([], []))
        contract = [name for name in dir(PeerStoreContractTests) if name.startswith("test_")]
        self.assertEqual(result.testsRun, 2 * len(contract))
