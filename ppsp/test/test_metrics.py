"""
Tests for the tracker's metrics: what the resource, the site, the core
and the service count (L{ppsp.tracker.metrics}), the Prometheus export
at C{GET /metrics} (L{ppsp.tracker._exporter}) and the health check at
C{GET /health} on the admin endpoint, through real twisted.web requests
(L{StubTreq}) on a L{Clock}.
"""

from __future__ import annotations

import json
import random
from typing import Any, Dict, Optional, Tuple

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from treq.testing import StubTreq
from twisted.cred.checkers import ANONYMOUS
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from ppsp.test.test_resource import XML, field, message
from ppsp.tracker.admin import AdminResource
from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker._exporter import trackerRegistry
from ppsp.tracker.metrics import LATENCY_BUCKETS
from ppsp.tracker.overload import LoadShedder
from ppsp.tracker.resource import TrackerResource, TrackerSite
from ppsp.tracker.service import TrackerService
from ppsp.tracker.store import MemoryPeerStore
from ppsp.tracker.values import Expired
from ppsp.tracker.tap import makeService

#: Where the tests reach the two interfaces.
TRACKER = "http://tracker.example/"
ADMIN = "http://127.0.0.1:7001"


class _Unreachable(MemoryPeerStore):
    """
    A store that says it cannot be reached, as a store kept elsewhere
    would while its server is down.
    """

    def reachable(self) -> "Deferred[bool]":
        return succeed(False)


class _ExpiryFailsOnce(MemoryPeerStore):
    """
    A store whose first expiry sweep fails, as a store kept elsewhere would
    while its server restarts.
    """

    failed = False

    def expire(self, now: float, emptySwarmLifetime: float) -> "Deferred[Expired]":
        if not self.failed:
            self.failed = True
            return fail(RuntimeError("the store restarts"))
        return super().expire(now, emptySwarmLifetime)


class _Later:
    """
    A credentials checker that answers when the test says so.
    """

    credentialInterfaces = ()

    def __init__(self) -> None:
        self.pending: list[Deferred[Any]] = []

    def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.pending.append(d)
        return d


class _Broken:
    """
    A credentials checker with a bug.
    """

    credentialInterfaces = ()

    def requestAvatarId(self, credentials: Any) -> Any:
        raise RuntimeError("boom")


class MetricsHarness:
    """
    A tracker with a load shedder, its resource behind one StubTreq and its
    admin resource behind another, on a clock.
    """

    def __init__(
        self,
        testCase: SynchronousTestCase,
        store: Optional[MemoryPeerStore] = None,
        maxInFlight: int = 1000,
        **config: Any,
    ) -> None:
        self.testCase = testCase
        self.clock = Clock()
        self.clock.advance(1000)
        self.store = store if store is not None else MemoryPeerStore(random=random.Random(1))
        self.tracker = Tracker(self.clock, TrackerConfig(**config), store=self.store)
        self.shedder = LoadShedder(self.clock, maxInFlight=maxInFlight)
        self.resource = TrackerResource(self.tracker, shedder=self.shedder)
        self.treq: Any = StubTreq(self.resource)
        self.admin = AdminResource(
            self.tracker, registry=trackerRegistry(self.tracker, self.shedder), shedder=self.shedder
        )
        self.adminTreq: Any = StubTreq(self.admin)
        self.tokens: Dict[str, str] = {}

    def post(self, body: bytes, flush: bool = True) -> Tuple[Any, Optional[bytes]]:
        """
        POST C{body} to the tracker: the response and its body, or
        L{None} for both when C{flush} is false and no answer came yet.
        """
        d = self.treq.request("POST", TRACKER, data=body, headers={b"Content-Type": [XML]})
        if flush:
            self.treq.flush()
        results: list[Any] = []
        d.addCallback(results.append)
        if not results:
            return None, None
        response = results[0]
        return response, self.testCase.successResultOf(self.treq.content(response))

    def call(self, method: str, peerID: str, body: str = "", txid: str = "1") -> bytes:
        response, content = self.post(message(method, txid, peerID, self.tokens.get(peerID), body))
        assert content is not None
        return content

    def connect(self, peerID: str) -> None:
        content = self.call("CONNECT", peerID, txid=f"c-{peerID}")
        token = field(content, "AuthToken")
        assert token is not None, content
        self.tokens[peerID] = token

    def join(self, peerID: str, swarmID: str, mode: str = "LEECH") -> None:
        content = self.call(
            "JOIN", peerID, f"<SwarmID>{swarmID}</SwarmID><PeerMode>{mode}</PeerMode>", txid=f"j-{swarmID}"
        )
        self.testCase.assertEqual(field(content, "Response"), "OK", content)

    def adminGet(self, path: str, method: str = "GET") -> Tuple[int, Any, bytes]:
        """
        One request to the admin interface: status, headers, body.
        """
        d = self.adminTreq.request(method, ADMIN + path)
        self.adminTreq.flush()
        response = self.testCase.successResultOf(d)
        body = self.testCase.successResultOf(self.adminTreq.content(response))
        return response.code, response.headers, body

    def scrape(self) -> Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]:
        """
        C{GET /metrics}, parsed with prometheus_client's own parser: each
        sample's value by its name and its sorted labels.
        """
        code, headers, body = self.adminGet("/metrics")
        self.testCase.assertEqual(code, 200)
        self.testCase.assertEqual(
            headers.getRawHeaders(b"content-type"), [CONTENT_TYPE_LATEST.encode("ascii")]
        )
        samples = {}
        for family in text_string_to_metric_families(body.decode("utf-8")):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def health(self, method: str = "GET") -> Tuple[int, Any]:
        code, headers, body = self.adminGet("/health", method)
        self.testCase.assertEqual(headers.getRawHeaders(b"content-type"), [b"application/json"])
        self.testCase.assertEqual(headers.getRawHeaders(b"cache-control"), [b"no-store"])
        return code, json.loads(body) if body else None


def value(samples: Dict[Any, float], name: str, **labels: str) -> float:
    """
    The value of one sample of a scrape.
    """
    return samples[(name, tuple(sorted(labels.items())))]


class RequestMetricsTests(SynchronousTestCase):
    """
    Requests answered are counted by method and code with their latency,
    from the resource's point of view.
    """

    def test_byMethodAndCode(self) -> None:
        """
        C{ppsp_requests_total} counts the answered requests by method and
        response code text; one that could not be decoded has the method
        C{?}; the latency histogram has one observation per answer.
        """
        h = MetricsHarness(self)
        h.connect("a")
        h.connect("b")
        h.join("a", "s")
        h.call("JOIN", "b", "<SwarmID>s</SwarmID>", txid="x")
        h.call("KEEPALIVE", "nobody")
        h.post(b"<not xml")
        samples = h.scrape()
        self.assertEqual(value(samples, "ppsp_requests_total", method="CONNECT", code="OK"), 2)
        self.assertEqual(value(samples, "ppsp_requests_total", method="JOIN", code="OK"), 2)
        self.assertEqual(
            value(samples, "ppsp_requests_total", method="KEEPALIVE", code="AUTHENTICATION REQUIRED"), 1
        )
        self.assertEqual(value(samples, "ppsp_requests_total", method="?", code="INVALID SYNTAX"), 1)
        self.assertEqual(value(samples, "ppsp_request_latency_seconds_count"), 6)
        self.assertEqual(value(samples, "ppsp_request_latency_seconds_bucket", le="+Inf"), 6)
        self.assertEqual(h.tracker.counters["CONNECT"], 2)
        self.assertEqual(h.tracker.counters["undecodable"], 1)

    def test_asynchronousLatency(self) -> None:
        """
        An answer given later (an asynchronous credentials checker) is
        counted when it is written, with the time since the request was
        received.
        """
        h = MetricsHarness(self)
        checker = _Later()
        h.tracker.checker = checker  # type: ignore[assignment]
        response, _ = h.post(message("CONNECT", "1", "a"))
        self.assertIsNone(response)
        self.assertEqual(h.tracker.metrics.answeredTotal(), 0)
        h.clock.advance(0.3)
        checker.pending[0].callback(ANONYMOUS)
        h.treq.flush()
        samples = h.scrape()
        self.assertEqual(value(samples, "ppsp_requests_total", method="CONNECT", code="OK"), 1)
        self.assertAlmostEqual(value(samples, "ppsp_request_latency_seconds_sum"), 0.3)
        self.assertEqual(value(samples, "ppsp_request_latency_seconds_bucket", le="0.25"), 0)
        self.assertEqual(value(samples, "ppsp_request_latency_seconds_bucket", le="0.5"), 1)
        self.assertEqual(len(LATENCY_BUCKETS) + 1, len([k for k in samples if k[0].endswith("_bucket")]))

    def test_storeErrors(self) -> None:
        """
        An INTERNAL ERROR answered because a part of the tracker failed is
        counted in C{ppsp_store_errors_total}.
        """
        h = MetricsHarness(self)
        h.tracker.checker = _Broken()  # type: ignore[assignment]
        h.call("CONNECT", "a")
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        samples = h.scrape()
        self.assertEqual(value(samples, "ppsp_store_errors_total"), 1)
        self.assertEqual(value(samples, "ppsp_requests_total", method="CONNECT", code="INTERNAL ERROR"), 1)

    def test_retryAnswered(self) -> None:
        """
        A repeated request answered from the retry cache is counted in
        C{ppsp_retries_total} (and as an answered request).
        """
        h = MetricsHarness(self)
        h.call("CONNECT", "a", txid="same")
        h.call("CONNECT", "a", txid="same")
        samples = h.scrape()
        self.assertEqual(value(samples, "ppsp_retries_total"), 1)
        self.assertEqual(value(samples, "ppsp_requests_total", method="CONNECT", code="OK"), 2)
        self.assertEqual(self.successResultOf(h.store.counts()), (1, 0))


class StateMetricsTests(SynchronousTestCase):
    """
    The gauges read the tracker's state at each scrape.
    """

    def test_peersSwarmsModes(self) -> None:
        """
        C{ppsp_peers} and C{ppsp_sessions} are the registered peers,
        C{ppsp_swarms} the swarms, C{ppsp_peers_by_mode} the members of
        all swarms by mode.
        """
        h = MetricsHarness(self)
        for peerID in ("a", "b", "c"):
            h.connect(peerID)
        h.join("a", "s", "SEED")
        h.join("a", "t", "SEED")
        h.join("b", "s")
        h.join("c", "t", "LIVESEED")
        samples = h.scrape()
        self.assertEqual(value(samples, "ppsp_peers"), 3)
        self.assertEqual(value(samples, "ppsp_sessions"), 3)
        self.assertEqual(value(samples, "ppsp_swarms"), 2)
        self.assertEqual(value(samples, "ppsp_peers_by_mode", mode="SEED"), 2)
        self.assertEqual(value(samples, "ppsp_peers_by_mode", mode="LEECH"), 1)
        self.assertEqual(value(samples, "ppsp_peers_by_mode", mode="LIVESEED"), 1)

    def test_expiry(self) -> None:
        """
        A peer expired for silence is counted in
        C{ppsp_expired_peers_total} and leaves C{ppsp_peers}.
        """
        h = MetricsHarness(self)
        h.connect("a")
        h.clock.advance(h.tracker.config.peerTimeout + 1)
        h.tracker.expire()
        samples = h.scrape()
        self.assertEqual(value(samples, "ppsp_expired_peers_total"), 1)
        self.assertEqual(value(samples, "ppsp_peers"), 0)

    def test_reactorLag(self) -> None:
        """
        C{ppsp_reactor_lag_seconds} is the load shedder's last lag
        measurement; C{ppsp_requests_in_flight} its requests in flight.
        """
        h = MetricsHarness(self)
        h.shedder.startService()
        self.addCleanup(h.shedder.stopService)
        h.clock.advance(0.21)
        samples = h.scrape()
        self.assertAlmostEqual(value(samples, "ppsp_reactor_lag_seconds"), 0.2)
        self.assertEqual(value(samples, "ppsp_requests_in_flight"), 0)

    def test_statQueryOutcomes(self) -> None:
        """
        The STAT_QUERY events the querier counts (L{Tracker.countEvent})
        are C{ppsp_stat_queries_sent_total} and
        C{ppsp_stat_query_outcomes_total} by outcome, every known outcome
        exported from the start.
        """
        h = MetricsHarness(self)
        for event in ("stat_query_sent", "stat_query_sent", "stat_query_answered", "stat_query_timeout"):
            h.tracker.countEvent(event)
        samples = h.scrape()
        self.assertEqual(value(samples, "ppsp_stat_queries_sent_total"), 2)
        self.assertEqual(value(samples, "ppsp_stat_query_outcomes_total", outcome="answered"), 1)
        self.assertEqual(value(samples, "ppsp_stat_query_outcomes_total", outcome="timeout"), 1)
        self.assertEqual(value(samples, "ppsp_stat_query_outcomes_total", outcome="unreachable"), 0)

    def test_processMetrics(self) -> None:
        """
        The registry has prometheus_client's process metrics.
        """
        samples = MetricsHarness(self).scrape()
        self.assertIn(("process_cpu_seconds_total", ()), samples)
        self.assertIn(("process_resident_memory_bytes", ()), samples)

    def test_registryOfItsOwn(self) -> None:
        """
        Each tracker's metrics are in a registry of its own, not in
        prometheus_client's global one: two trackers in one process are
        counted apart.
        """
        one = MetricsHarness(self)
        two = MetricsHarness(self)
        one.connect("a")
        self.assertEqual(value(one.scrape(), "ppsp_peers"), 1)
        self.assertEqual(value(two.scrape(), "ppsp_peers"), 0)
        self.assertIsNone(REGISTRY.get_sample_value("ppsp_peers"))

    def test_headAndMethods(self) -> None:
        """
        HEAD /metrics gives the headers and no body; other methods get 405
        with a JSON error.
        """
        h = MetricsHarness(self)
        code, headers, body = h.adminGet("/metrics", "HEAD")
        self.assertEqual((code, body), (200, b""))
        self.assertEqual(headers.getRawHeaders(b"content-type"), [CONTENT_TYPE_LATEST.encode("ascii")])
        code, headers, body = h.adminGet("/metrics", "POST")
        self.assertEqual(code, 405)
        self.assertEqual(json.loads(body)["error"], "method-not-allowed")
        self.assertEqual(headers.getRawHeaders(b"allow"), [b"GET, HEAD"])

    def test_hostChecked(self) -> None:
        """
        /metrics is behind the admin interface's Host check like every
        other path.
        """
        h = MetricsHarness(self)
        d = h.adminTreq.get("http://evil.example:7001/metrics")
        h.adminTreq.flush()
        self.assertEqual(self.successResultOf(d).code, 421)


class RefusalMetricsTests(SynchronousTestCase):
    """
    Requests refused before decoding are counted by reason.
    """

    def test_throttled(self) -> None:
        """
        A request over the address's rate is counted as C{throttled}, and
        not as an answered request.
        """
        h = MetricsHarness(self, rateLimit=1.0, rateBurst=1.0)
        h.call("CONNECT", "a")
        h.call("CONNECT", "b")
        samples = h.scrape()
        self.assertEqual(value(samples, "ppsp_refused_total", reason="throttled"), 1)
        self.assertEqual(value(samples, "ppsp_refused_total", reason="shed"), 0)
        self.assertEqual(value(samples, "ppsp_request_latency_seconds_count"), 1)

    def test_shed(self) -> None:
        """
        A request refused by the load shedder (too many in flight) is
        counted as C{shed}, by the resource and by the channel, which
        refuses it before twisted.web parses it.
        """
        h = MetricsHarness(self, maxInFlight=1)
        h.tracker.checker = _Later()  # type: ignore[assignment]
        h.post(message("CONNECT", "1", "a"))
        self.assertEqual(h.shedder.inFlight, 1)
        h.post(message("CONNECT", "2", "b"))
        self.assertEqual(h.tracker.metrics.refusals, {"shed": 1})

        site = TrackerSite(h.resource, shedder=h.shedder, metrics=h.tracker.metrics, reactor=h.clock)
        channel = site.buildProtocol(IPv4Address("TCP", "198.51.100.1", 5000))
        transport = StringTransport()
        channel.makeConnection(transport)
        body = message("CONNECT", "3", "c")
        channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: " + XML
            + b"\r\nContent-Length: %d\r\n\r\n" % (len(body),) + body
        )
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 503 "))
        channel.connectionLost(None)
        samples = h.scrape()
        self.assertEqual(value(samples, "ppsp_refused_total", reason="shed"), 2)

    def test_connections(self) -> None:
        """
        A connection closed because the site has C{maxConnections} open
        is counted as C{connections}.
        """
        h = MetricsHarness(self)
        site = TrackerSite(h.resource, maxConnections=1, metrics=h.tracker.metrics, reactor=h.clock)
        site.channelOpened()
        site.buildProtocol(IPv4Address("TCP", "198.51.100.1", 5000))
        self.assertEqual(value(h.scrape(), "ppsp_refused_total", reason="connections"), 1)

    def test_methodAndSize(self) -> None:
        """
        A GET to the tracker is counted as C{method}, a body over the limit
        as C{too-large}.
        """
        h = MetricsHarness(self)
        d = h.treq.get(TRACKER)
        h.treq.flush()
        self.assertEqual(self.successResultOf(d).code, 405)
        h.resource.maxBody = 10
        h.post(message("CONNECT", "1", "a"))
        self.assertEqual(h.tracker.metrics.refusals, {"method": 1, "too-large": 1})


class HealthTests(SynchronousTestCase):
    """
    C{GET /health}: 200 while the tracker serves, 503 while it does not.
    """

    def test_ok(self) -> None:
        """
        A serving tracker answers 200 with its status, peers, swarms and
        uptime.
        """
        h = MetricsHarness(self)
        h.connect("a")
        h.join("a", "s")
        h.clock.advance(5)
        self.assertEqual(
            h.health(), (200, {"status": "ok", "peers": 1, "swarms": 1, "uptime": 5.0})
        )

    def test_head(self) -> None:
        """
        HEAD gives the status and no body; a write gets 405.
        """
        h = MetricsHarness(self)
        self.assertEqual(h.health("HEAD"), (200, None))
        code, _, _ = h.adminGet("/health", "POST")
        self.assertEqual(code, 405)

    def test_shedding(self) -> None:
        """
        While the load shedder sheds load, 503 C{shedding}; 200 again once
        it stops.
        """
        h = MetricsHarness(self, maxInFlight=1)
        h.shedder.started()
        code, body = h.health()
        self.assertEqual((code, body["status"]), (503, "shedding"))
        h.shedder.finished()
        self.assertEqual(h.health()[0], 200)

    def test_draining(self) -> None:
        """
        While the tracker drains for a stop, 503 C{draining}.
        """
        h = MetricsHarness(self)
        h.tracker.draining = True
        code, body = h.health()
        self.assertEqual((code, body["status"]), (503, "draining"))

    def test_storeUnreachable(self) -> None:
        """
        A store that cannot be reached makes it 503
        C{store-unreachable}; the memory store always can be.
        """
        self.assertTrue(self.successResultOf(MemoryPeerStore().reachable()))
        h = MetricsHarness(self, store=_Unreachable())
        code, body = h.health()
        self.assertEqual((code, body["status"]), (503, "store-unreachable"))


class SheddingPropertyTests(SynchronousTestCase):
    """
    L{LoadShedder.shedding} tells without acting.
    """

    def test_lagging(self) -> None:
        """
        Two late runs of the lag timer in a row make C{shedding} true;
        reading it logs and counts nothing.
        """
        clock = Clock()
        shedder = LoadShedder(clock, maxLag=0.05, interval=0.01)
        shedder.startService()
        self.addCleanup(shedder.stopService)
        self.assertFalse(shedder.shedding)
        clock.advance(0.1)
        clock.advance(0.1)
        self.assertTrue(shedder.shedding)
        self.assertEqual(shedder.shed, 0)
        clock.advance(0.01)
        clock.advance(0.01)
        self.assertFalse(shedder.shedding)


class SamplingTests(SynchronousTestCase):
    """
    The tracker service closes a history sample every interval.
    """

    def test_samples(self) -> None:
        """
        L{TrackerService} calls L{TrackerMetrics.sample} every
        C{metrics.interval} seconds while it runs, and stops with it.
        """
        h = MetricsHarness(self)
        service = TrackerService(h.tracker)
        service.startService()
        h.connect("a")
        h.clock.advance(h.tracker.metrics.interval)
        samples = h.tracker.metrics.samples()
        self.assertEqual([s.answered for s in samples], [1])
        h.clock.advance(h.tracker.metrics.interval)
        self.assertEqual(len(h.tracker.metrics.samples()), 2)
        service.stopService()
        h.clock.advance(h.tracker.metrics.interval * 3)
        self.assertEqual(len(h.tracker.metrics.samples()), 2)


class SweepTests(SynchronousTestCase):
    """
    The tracker service's sweeps go on whatever happens to one of them.
    """

    def test_failedSweep(self) -> None:
        """
        A sweep that fails (the store failed) is logged and counted as a
        store error, and the sweeps go on: the next ones expire what is
        due.
        """
        h = MetricsHarness(self, store=_ExpiryFailsOnce(random=random.Random(1)))
        service = TrackerService(h.tracker)
        service.startService()
        self.addCleanup(service.stopService)
        h.connect("a")
        h.clock.advance(1)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertEqual(h.tracker.counters["store_error"], 1)
        h.clock.pump([1] * int(h.tracker.config.peerTimeout))
        self.assertEqual(self.successResultOf(h.store.counts()), (0, 0))
        self.assertEqual(h.tracker.population, (0, 0))


class TapTests(SynchronousTestCase):
    """
    C{twistd ppsp-tracker --admin} wires the metrics in.
    """

    def test_wired(self) -> None:
        """
        The peers' site counts into the tracker's metrics, the admin
        resource has the tracker's registry and load shedder, and
        C{/metrics} and C{/health} answer on it.
        """
        from ppsp.test.test_tap import InterfaceReactor, parse

        reactor = InterfaceReactor()
        service: Any = makeService(parse("--admin", "tcp:7001:interface=127.0.0.1"), reactor)
        service.startService()
        self.addCleanup(service.stopService)
        sites = {port: factory for port, factory, _, _ in reactor.tcpServers}
        peers, admin = sites[7000], sites[7001]
        assert isinstance(peers, TrackerSite) and isinstance(admin, TrackerSite)
        self.assertIs(peers.metrics, service.tracker.metrics)
        resource = admin.resource
        assert isinstance(resource, AdminResource)
        self.assertIs(resource.shedder, peers.shedder)
        service.tracker.countEvent("expired")
        stub: Any = StubTreq(resource)
        d = stub.get(ADMIN + "/metrics")
        stub.flush()
        body = self.successResultOf(stub.content(self.successResultOf(d)))
        self.assertIn(b"\nppsp_expired_peers_total 1.0\n", body)
        d = stub.get(ADMIN + "/health")
        stub.flush()
        self.assertEqual(self.successResultOf(d).code, 200)
