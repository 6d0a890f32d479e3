"""
Tests for L{ppsp.tracker.overload.LoadShedder}: requests are refused early
when too many are in flight or the reactor lags, and taken again when the
load is back to normal.
"""

from __future__ import annotations

from typing import List, cast

from twisted.internet.task import Clock
from twisted.logger import ILogObserver, LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from ppsp.tracker.overload import LoadShedder


class LoadShedderTests(SynchronousTestCase):
    """
    The two signals, and the log of state changes.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.events: List[dict] = []
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    def test_inFlight(self) -> None:
        """
        At C{maxInFlight} requests in flight the next is refused with the
        configured Retry-After; one answered makes room again.
        """
        shedder = LoadShedder(self.clock, maxInFlight=2, maxLag=0, retryAfter=3)
        shedder.started()
        self.assertIsNone(shedder.check())
        shedder.started()
        self.assertEqual(shedder.check(), 3)
        shedder.finished()
        self.assertIsNone(shedder.check())
        self.assertEqual(shedder.shed, 1)

    def test_lag(self) -> None:
        """
        A lag timer that fires more than C{maxLag} late makes requests
        refused until a measurement on time.
        """
        shedder = LoadShedder(self.clock, maxInFlight=0, maxLag=0.5, interval=0.1)
        shedder.startService()
        self.clock.advance(0.1)
        self.assertIsNone(shedder.check())
        self.clock.advance(0.8)  # the reactor was busy for 0.8 s
        self.assertAlmostEqual(shedder.lag, 0.7)
        self.assertIsNotNone(shedder.check())
        self.clock.advance(0.1)
        self.assertEqual(shedder.lag, 0.0)
        self.assertIsNone(shedder.check())
        shedder.stopService()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_noLimits(self) -> None:
        """
        With both limits 0 nothing is refused and no timer runs.
        """
        shedder = LoadShedder(self.clock, maxInFlight=0, maxLag=0)
        shedder.startService()
        for _ in range(10000):
            shedder.started()
        self.assertIsNone(shedder.check())
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_logsStateChangesOnce(self) -> None:
        """
        Entering and leaving the overloaded state are logged once each,
        not once per refused request.
        """
        shedder = LoadShedder(self.clock, maxInFlight=1, maxLag=0)
        shedder.started()
        for _ in range(5):
            shedder.check()
        shedder.finished()
        shedder.check()
        levels = [e["log_level"] for e in self.events if e.get("log_namespace", "").endswith("LoadShedder")]
        self.assertEqual(levels, [LogLevel.warn, LogLevel.info])
