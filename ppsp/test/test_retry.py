"""
Tests for L{ppsp.tracker.retry}: how a retry cache recognises a request.
"""

from __future__ import annotations

import os
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from ppsp.interfaces import IRetryCache
from ppsp.messages import KeepAliveRequest, LeaveRequest, Stat, StatReportRequest
from ppsp.tracker.retry import MemoryRetryCache, fingerprint, stableFingerprint

_STATS = StatReportRequest(
    "t2", "peer-1", "x" * 43,
    stats=(Stat("UploadedBytes", "123", "s1"), Stat("AvailBandwidth", "500")),
)

_PROGRAM = """
from ppsp.messages import Stat, StatReportRequest
from ppsp.tracker.retry import stableFingerprint, fingerprint
r = StatReportRequest(
    "t2", "peer-1", "x" * 43,
    stats=(Stat("UploadedBytes", "123", "s1"), Stat("AvailBandwidth", "500")),
)
print(stableFingerprint(r), fingerprint(r))
"""


def _inProcess(seed: str) -> list[int]:
    """
    The stable and the process-local fingerprints of L{_STATS}, computed
    by another Python process with C{PYTHONHASHSEED} set to C{seed}.
    """
    env = dict(os.environ, PYTHONHASHSEED=seed)
    out = subprocess.run(
        [sys.executable, "-c", _PROGRAM], env=env, capture_output=True, text=True, check=True
    ).stdout
    return [int(word) for word in out.split()]


class StableFingerprintTests(SynchronousTestCase):
    """
    L{stableFingerprint} recognises a request in every process, as a
    retry cache shared by several trackers needs.
    """

    def test_sameInEveryProcess(self) -> None:
        """
        Two processes with different hash seeds compute the same stable
        fingerprint of one request (and this one too), where their
        C{hash}-based fingerprints differ.
        """
        first, second = _inProcess("1"), _inProcess("2")
        self.assertEqual(first[0], second[0])
        self.assertEqual(first[0], stableFingerprint(_STATS))
        self.assertNotEqual(first[1], second[1])

    def test_tellsRequestsApart(self) -> None:
        """
        Requests that differ in any field, or only in their class, get
        different stable fingerprints; equal requests the same one.
        """
        keepAlive = KeepAliveRequest("t1", "peer-1", "token")
        self.assertEqual(
            stableFingerprint(keepAlive), stableFingerprint(KeepAliveRequest("t1", "peer-1", "token"))
        )
        others = [
            KeepAliveRequest("t1", "peer-1", "token2"),
            KeepAliveRequest("t1", "peer-2", "token"),
            LeaveRequest("t1", "peer-1", "token", swarmID="s"),
            StatReportRequest("t2", "peer-1", "x" * 43, stats=_STATS.stats[:1]),
        ]
        prints = {stableFingerprint(r) for r in [keepAlive, _STATS] + others}
        self.assertEqual(len(prints), 6)


class MemoryRetryCacheTests(SynchronousTestCase):
    """
    L{MemoryRetryCache} is an L{IRetryCache} that lives in one process.
    """

    def test_interface(self) -> None:
        """
        It provides L{IRetryCache}.
        """
        self.assertTrue(verifyObject(IRetryCache, MemoryRetryCache()))

    def test_fingerprint(self) -> None:
        """
        Its fingerprint is this process's hash (L{fingerprint}), the
        cheapest.
        """
        self.assertEqual(MemoryRetryCache().fingerprint(_STATS), fingerprint(_STATS))
