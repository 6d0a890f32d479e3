"""
Tests for what the tracker does when its store cannot answer
(L{ppsp.interfaces.StoreUnavailable}): TEMPORARILY OVERLOADED with
C{Retry-After} in both encodings, not INTERNAL ERROR; one log line when
the outage begins and one when it ends, not one per request; the metrics;
and the expiry sweep during an outage (L{ppsp.tracker.outage}).  The
store here is a memory store behind a switch; C{ppsp.test.test_redisoutage}
stops a real redis-server.
"""

from __future__ import annotations

from typing import Any, Callable, List, Sequence

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.logger import LogEvent, LogLevel, capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from ppsp.interfaces import IPeerStore, StoreUnavailable
from ppsp.messages import (
    ConnectRequest,
    ErrorResponse,
    FindRequest,
    JoinRequest,
    JoinResponse,
    KeepAliveRequest,
    KeepAliveResponse,
    PeerMode,
    ResponseCode,
)
from ppsp.test.helpers import TrackerHarness, txid
from ppsp.test.test_json_tracker import Harness as JSONHarness, action, ppstp
from ppsp.test.test_metrics import MetricsHarness, value
from ppsp.test.test_resource import field, message
from ppsp.tracker.core import Tracker
from ppsp.tracker.metrics import TrackerMetrics
from ppsp.tracker.outage import StoreOutage

_OVERLOADED = ResponseCode.TEMPORARILY_OVERLOADED


class _Unplugged:
    """
    A store behind a switch: while C{down}, each of its calls fails with
    L{StoreUnavailable} (and C{reachable} fires with C{False}), as a
    networked store's do while its server is gone; else the memory store
    answers.
    """

    def __init__(self, store: IPeerStore) -> None:
        self.store = store
        self.costs = store.costs
        self.down = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.store, name)

        def call(*args: Any) -> "Deferred[Any]":
            if not self.down:
                result: Deferred[Any] = method(*args)
                return result
            if name == "reachable":
                return Deferred.fromCoroutine(_false())
            return fail(StoreUnavailable("the test unplugged the store"))

        return call


async def _false() -> bool:
    return False


def unplug(tracker: Tracker, store: IPeerStore) -> _Unplugged:
    """
    Put C{store} behind a switch as C{tracker}'s store.
    """
    switch = _Unplugged(store)
    tracker.store = switch  # type: ignore[assignment]
    return switch


def outageEvents(events: Sequence[LogEvent]) -> List[str]:
    """
    The texts of the log events about the store's outages.
    """
    return [
        formatEvent(e) for e in events if e.get("log_namespace", "").endswith("StoreOutage")
    ]


class CoreTests(SynchronousTestCase):
    """
    L{Tracker.handle} answers TEMPORARILY OVERLOADED while the store is
    unavailable, logs and counts the outage once, and serves again when
    the store answers.
    """

    def setUp(self) -> None:
        self.h = TrackerHarness(self)
        self.switch = unplug(self.h.tracker, self.h.store)
        self.h.connect("a")
        self.h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)

    def test_overloaded(self) -> None:
        """
        Every method gets TEMPORARILY OVERLOADED, with its TransactionID,
        while the store is unavailable: no INTERNAL ERROR, no failure
        logged, nothing counted as a store error.
        """
        self.switch.down = True
        requests = [
            ConnectRequest(txid(), "b"),
            JoinRequest(txid(), "a", self.h.tokens["a"], swarmID="t", mode=PeerMode.LEECH),
            FindRequest(txid(), "a", self.h.tokens["a"], swarmID="s"),
            KeepAliveRequest(txid(), "a", self.h.tokens["a"]),
        ]
        for request in requests:
            response = self.h.send(request)
            assert isinstance(response, ErrorResponse), response
            self.assertEqual(
                (response.code, response.transactionID), (_OVERLOADED, request.transactionID)
            )
        self.assertEqual(self.flushLoggedErrors(), [])
        self.assertEqual(self.h.tracker.counters.get("store_error", 0), 0)

    def test_loggedOnce(self) -> None:
        """
        An outage is logged once when it begins, with what the store said,
        and once when a request is answered again, with how long it lasted
        and how many requests were refused meanwhile: not once per
        request.
        """
        with capturedLogs() as events:
            self.switch.down = True
            for _ in range(20):
                self.h.call(KeepAliveRequest, "a")
                self.h.clock.advance(0.5)
            begun = outageEvents(events)
            self.switch.down = False
            self.assertIsInstance(self.h.call(KeepAliveRequest, "a"), KeepAliveResponse)
            self.h.call(KeepAliveRequest, "a")
        self.assertEqual(len(begun), 1, begun)
        self.assertIn("the test unplugged the store", begun[0])
        ended = outageEvents(events)[1:]
        self.assertEqual(len(ended), 1, ended)
        self.assertIn("after 10.0 s", ended[0])
        self.assertIn("20 request(s)", ended[0])
        levels = [e["log_level"] for e in events if e.get("log_namespace", "").endswith("StoreOutage")]
        self.assertEqual(levels, [LogLevel.error, LogLevel.info])

    def test_counted(self) -> None:
        """
        Each refused request counts in C{store_unavailable}, each outage in
        C{store_outage}; a second outage is logged and counted again.
        """
        for _ in range(2):
            self.switch.down = True
            for _ in range(3):
                self.h.call(KeepAliveRequest, "a")
            self.switch.down = False
            self.h.ok(KeepAliveRequest, "a")
        counters = self.h.tracker.counters
        self.assertEqual((counters["store_unavailable"], counters["store_outage"]), (6, 2))

    def test_servesAgain(self) -> None:
        """
        Once the store answers again, requests are applied as before, and
        a JOIN refused during the outage, sent again with its
        TransactionID, is applied (the refusal was not kept as its
        answer).
        """
        self.switch.down = True
        join = JoinRequest(txid(), "a", self.h.tokens["a"], swarmID="t", mode=PeerMode.LEECH)
        refused = self.h.send(join)
        self.assertIsInstance(refused, ErrorResponse)
        self.assertNotIn("t", self.h.registered("a").swarms)
        self.switch.down = False
        self.assertIsInstance(self.h.send(join), JoinResponse)
        self.assertIn("t", self.h.registered("a").swarms)

    def test_expiryDuringOutage(self) -> None:
        """
        An expiry sweep that the store fails with L{StoreUnavailable} is
        part of the outage: it logs nothing more than the outage's two
        lines, counts no store error and no refused request, and a sweep
        that the store answers ends the outage and expires what is due.
        """
        with capturedLogs() as events:
            self.switch.down = True
            self.h.call(KeepAliveRequest, "a")
            for _ in range(5):
                self.h.clock.advance(1)
                self.h.result(self.h.tracker.expire())
            self.assertEqual(len(outageEvents(events)), 1)
            self.switch.down = False
            self.h.clock.advance(self.h.tracker.config.peerTimeout)
            self.h.result(self.h.tracker.expire())
        texts = outageEvents(events)
        self.assertEqual(len(texts), 2, texts)
        self.assertIn("1 request(s)", texts[1])
        self.assertEqual(self.flushLoggedErrors(), [])
        counters = self.h.tracker.counters
        self.assertEqual(counters.get("store_error", 0), 0)
        self.assertEqual(counters["store_unavailable"], 1)
        self.assertIsNone(self.h.peer("a"))

    def test_sweepBeginsOutage(self) -> None:
        """
        A sweep that fails with L{StoreUnavailable} while no request did
        begins the outage, logged once, and no request is counted.
        """
        with capturedLogs() as events:
            self.switch.down = True
            for _ in range(3):
                self.h.clock.advance(1)
                self.h.result(self.h.tracker.expire())
        self.assertEqual(len(outageEvents(events)), 1)
        self.assertEqual(self.h.tracker.counters["store_outage"], 1)
        self.assertNotIn("store_unavailable", self.h.tracker.counters)


class StoreOutageTests(SynchronousTestCase):
    """
    L{StoreOutage} ends an outage only for a call that began during it.
    """

    def test_earlierAnswerDoesNotEnd(self) -> None:
        """
        An answer to a call that began before the outage (its epoch is
        older) leaves the outage on; an answer to a call that began
        during it ends it.
        """
        clock = Clock()
        outage = StoreOutage(clock, TrackerMetrics(clock))
        before = outage.epoch
        outage.failed("gone")
        during = outage.epoch
        outage.answered(before)
        self.assertIsNotNone(outage.since)
        outage.answered(during)
        self.assertIsNone(outage.since)

    def test_later(self) -> None:
        """
        After an outage ended, an answer to a call that began during it
        begins nothing and ends nothing, and the next failure begins a
        new outage.
        """
        clock = Clock()
        metrics = TrackerMetrics(clock)
        outage = StoreOutage(clock, metrics)
        outage.failed("gone")
        during = outage.epoch
        outage.answered(during)
        outage.answered(during)
        self.assertIsNone(outage.since)
        outage.failed("gone again", request=False)
        self.assertEqual(outage.since, 0.0)
        self.assertEqual(metrics.events, {"store_outage": 2, "store_unavailable": 1})


class ResourceTests(SynchronousTestCase):
    """
    Through the HTTP resource, a request refused for an unavailable store
    is HTTP 503 with C{Retry-After}, in both encodings, and is exported
    in the metrics.
    """

    def test_xml(self) -> None:
        """
        An XML request gets 503, C{Retry-After: 1} and TEMPORARILY
        OVERLOADED; C{ppsp_store_unavailable_total} and
        C{ppsp_store_outages_total} count it, C{ppsp_store_errors_total}
        does not.
        """
        h = MetricsHarness(self)
        h.connect("a")
        unplug(h.tracker, h.store).down = True
        response, body = h.post(message("KEEPALIVE", "k1", "a", h.tokens["a"]))
        assert body is not None
        self.assertEqual(response.code, 503)
        self.assertEqual(response.headers.getRawHeaders(b"retry-after"), [b"1"])
        self.assertEqual(field(body, "Response"), "TEMPORARILY OVERLOADED")
        self.assertEqual(field(body, "TransactionID"), "k1")
        samples = h.scrape()
        self.assertEqual(value(samples, "ppsp_store_unavailable_total"), 1)
        self.assertEqual(value(samples, "ppsp_store_outages_total"), 1)
        self.assertEqual(value(samples, "ppsp_store_errors_total"), 0)
        self.assertEqual(
            value(samples, "ppsp_requests_total", method="KEEPALIVE", code="TEMPORARILY OVERLOADED"),
            1,
        )

    def test_json(self) -> None:
        """
        An RFC 7846 CONNECT with a swarm action, and a FIND, get 503,
        C{Retry-After} and the JSON error code 5 (TEMPORARILY
        OVERLOADED) with their TransactionIDs.
        """
        h = JSONHarness(self)
        code, _ = h.connect("p", action("s"))
        self.assertEqual(code, 200)
        unplug(h.tracker, h.store).down = True
        bodies: List[Callable[[str], bytes]] = [
            lambda tid: ppstp("CONNECT", tid, "q", connect={"swarm_action": [action("s")]}),
            lambda tid: ppstp("FIND", tid, "p", swarm_id="s"),
        ]
        for body in bodies:
            tid = h.tid()
            code, headers, answer = h.post(body(tid))
            self.assertEqual(code, 503, answer)
            self.assertEqual(headers[b"retry-after"], [b"1"])
            self.assertEqual((answer["response_type"], answer["error_code"]), (1, 5), answer)
            self.assertEqual(answer["transaction_id"], tid)
