# -*- test-case-name: ppsp.test.test_net -*-
"""
Tests for L{ppsp._net}: the pieces both sides of the protocol share.
"""

from __future__ import annotations

import random

from twisted.internet import error as ierror
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseNeverReceived

from ppsp._net import backoff, describeFailure, hostPort


class HostPortTests(SynchronousTestCase):
    """
    L{hostPort} writes an address as C{host:port}.
    """

    def test_ipv4(self) -> None:
        """
        An IPv4 address and a host name stand as they are.
        """
        self.assertEqual(hostPort("192.0.2.1", 7000), "192.0.2.1:7000")
        self.assertEqual(hostPort("tracker.example", "80"), "tracker.example:80")

    def test_ipv6(self) -> None:
        """
        An IPv6 address is put in brackets, so that its port can be told
        from it.
        """
        self.assertEqual(hostPort("2001:db8::1", 7000), "[2001:db8::1]:7000")


class BackoffTests(SynchronousTestCase):
    """
    L{backoff} doubles the wait with each failure, up to a cap, with
    jitter.
    """

    def test_doublesUpToTheCap(self) -> None:
        """
        The wait after failure number n is between half and all of
        C{initial * 2 ** (n - 1)}, and never more than C{most}, however
        many attempts failed.
        """
        source = random.Random(7)
        for attempt, full in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 5.0), (10_000, 5.0)]:
            for _ in range(50):
                wait = backoff(attempt, 0.5, 5.0, source)
                self.assertGreaterEqual(wait, full / 2)
                self.assertLessEqual(wait, full)

    def test_jitter(self) -> None:
        """
        Two clients that fail at once wait different times.
        """
        source = random.Random(7)
        self.assertEqual(len({backoff(3, 1.0, 60.0, source) for _ in range(20)}), 20)


class DescribeFailureTests(SynchronousTestCase):
    """
    L{describeFailure} says in one line why a request failed.
    """

    def test_wrapped(self) -> None:
        """
        The reasons that twisted.web wraps in a list of Failures are spelt
        out, each of them.
        """
        error = ResponseNeverReceived(
            [Failure(ierror.ConnectionRefusedError("refused")), Failure(ierror.ConnectionLost("lost"))]
        )
        self.assertEqual(
            describeFailure(error),
            "; ".join([str(ierror.ConnectionRefusedError("refused")), str(ierror.ConnectionLost("lost"))]),
        )

    def test_timedOut(self) -> None:
        """
        A timeout or a cancellation (which is how a timeout ends a
        request) is "timed out".
        """
        self.assertEqual(describeFailure(ierror.TimeoutError()), "timed out")
        self.assertEqual(describeFailure(ResponseNeverReceived([Failure(CancelledError())])), "timed out")

    def test_noText(self) -> None:
        """
        An exception with no text is named by its class.
        """
        self.assertEqual(describeFailure(ValueError()), "ValueError")
        self.assertEqual(describeFailure(ValueError("  bad  ")), "bad")
