"""
Tests for L{ppsp.tracker.overload.LoadShedder}: requests are refused early
when too many are in flight or the reactor lags, and taken again when the
load is back to normal.
"""

from __future__ import annotations

from typing import Any, List, cast

from twisted.internet.task import Clock
from twisted.logger import ILogObserver, LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from ppsp.messages import PeerMode
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
        A lag timer that fires more than C{maxLag} late twice in a row
        makes requests refused until a measurement on time.
        """
        shedder = LoadShedder(self.clock, maxInFlight=0, maxLag=0.5, interval=0.1)
        shedder.startService()
        self.clock.advance(0.1)
        self.assertIsNone(shedder.check())
        self.clock.advance(0.8)  # the reactor was busy for 0.8 s
        self.assertAlmostEqual(shedder.lag, 0.7)
        self.assertIsNone(shedder.check())
        self.clock.advance(0.7)  # and busy again
        self.assertIsNotNone(shedder.check())
        self.clock.advance(0.1)
        self.assertEqual(shedder.lag, 0.0)
        self.assertIsNone(shedder.check())

    def test_onePauseTolerated(self) -> None:
        """
        One late timer (a pause, such as a long garbage collection) refuses
        nothing: the backlog it leaves clears by itself.
        """
        shedder = LoadShedder(self.clock, maxInFlight=0, maxLag=0.5, interval=0.1)
        shedder.startService()
        for step in (0.1, 2.0, 0.1, 0.1, 1.0, 0.1):
            self.clock.advance(step)
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


class ResourceSheddingTests(SynchronousTestCase):
    """
    The resource asks its L{LoadShedder} before any work, and counts the
    requests it answers asynchronously as in flight.
    """

    def test_refusedWhileInFlight(self) -> None:
        """
        With one request in flight (a strategy still deciding) and a limit
        of one, the next request gets TEMPORARILY OVERLOADED with
        C{Retry-After} at once, and is not applied; once the first is
        answered, requests are taken again.
        """
        from treq.testing import StubTreq
        from twisted.internet.defer import Deferred
        from zope.interface import implementer

        from ppsp.codec import XML_CODEC
        from ppsp.interfaces import IPeerSelector
        from ppsp.messages import ConnectRequest, FindRequest, JoinRequest, Method
        from ppsp.tracker.core import Tracker
        from ppsp.tracker.resource import TrackerResource

        pending: List[Deferred[List[object]]] = []

        @implementer(IPeerSelector)
        class Slow:
            def select(self, swarm: object, requester: object, count: int, constraints: object) -> Deferred[List[object]]:
                d: Deferred[List[object]] = Deferred()
                pending.append(d)
                return d

        clock = Clock()
        tracker = Tracker(clock, selector=Slow())
        shedder = LoadShedder(clock, maxInFlight=1, maxLag=0, retryAfter=4)
        treq: Any = StubTreq(TrackerResource(tracker, shedder=shedder))

        def post(request: Any) -> Any:
            return treq.post("http://t/", data=XML_CODEC.encodeRequest(request),
                             headers={b"Content-Type": [XML_CODEC.contentType]})

        token = XML_CODEC.decodeResponse(
            self.successResultOf(self.successResultOf(post(ConnectRequest("1", "a"))).content()),
            Method.CONNECT,
        ).authToken  # type: ignore[attr-defined]
        self.successResultOf(post(JoinRequest("2", "a", token, swarmID="s", mode=PeerMode.SEED)))
        first = post(FindRequest("3", "a", token, swarmID="s"))
        self.assertNoResult(first)
        self.assertEqual(shedder.inFlight, 1)
        refused = self.successResultOf(post(JoinRequest("4", "a", token, swarmID="t")))
        self.assertEqual(refused.code, 503)
        self.assertEqual(refused.headers.getRawHeaders(b"retry-after"), [b"4"])
        self.assertIsNone(tracker.store.getSwarm("t"))
        pending[0].callback([])
        treq.flush()
        self.assertEqual(self.successResultOf(first).code, 200)
        self.assertEqual(shedder.inFlight, 0)
        again = post(JoinRequest("5", "a", token, swarmID="t", mode=PeerMode.SEED))
        self.assertEqual(self.successResultOf(again).code, 200)
