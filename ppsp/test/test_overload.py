"""
Tests for L{ppsp.tracker.overload.LoadShedder} and
L{ppsp.tracker.throttle.AddressThrottle}: requests are refused early when
too many are in flight or the reactor has fallen behind (and taken again
when the load is back to normal), at the connection before twisted.web
parses them when possible; one address is held to its rate.

The reactor is modelled on a L{Clock}: L{busy} is the reactor working
(time passes and no timer can run), C{clock.advance(0)} the end of a turn
(the timers that came due run).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence, Tuple, cast

from twisted.application.internet import StreamServerEndpointService
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import ILogObserver, LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource

from ppsp.codec import JSON_CODEC, XML_CODEC
from ppsp.messages import PeerMode
from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker.overload import LoadShedder
from ppsp.tracker.resource import TrackerResource, TrackerSite
from ppsp.tracker.tap import Options, makeService
from ppsp.tracker.throttle import AddressThrottle


def busy(clock: Clock, seconds: float) -> None:
    """
    The reactor works for C{seconds}: time passes, and no timer runs until
    the turn ends (C{clock.advance(0)}).
    """
    clock.rightNow += seconds


def turn(
    clock: Clock, shedder: LoadShedder, ready: int, cost: float, shedCost: float
) -> Tuple[int, float]:
    """
    One turn of the reactor with C{ready} requests waiting: each is asked
    about, then costs C{cost} seconds when taken or C{shedCost} when
    refused; the timers run at the end.

    @return: the requests taken, and the turn's length.
    """
    start = clock.seconds()
    taken = 0
    for _ in range(ready):
        if shedder.check() is None:
            taken += 1
            busy(clock, cost)
        else:
            busy(clock, shedCost)
    length = clock.seconds() - start
    clock.advance(0)
    return taken, length


class LoadShedderTests(SynchronousTestCase):
    """
    The two signals, and the log of state changes.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.events: List[Dict[str, Any]] = []
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    def shedder(self, **kwargs: Any) -> LoadShedder:
        kwargs.setdefault("maxInFlight", 0)
        shedder = LoadShedder(self.clock, **kwargs)
        shedder.startService()
        self.addCleanup(shedder.stopService)
        return shedder

    def levels(self) -> List[LogLevel]:
        return [
            e["log_level"] for e in self.events if e.get("log_namespace", "").endswith("LoadShedder")
        ]

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

    def test_lagRule(self) -> None:
        """
        After two turns longer than C{maxLag} in a row, a request is refused
        once the current turn has itself run past C{maxLag} (the timer's
        next due time plus C{maxLag}), and taken before that: the first
        requests of each turn, which waited for the turn before, are
        served.
        """
        shedder = self.shedder(maxLag=0.1, interval=0.01, retryAfter=2)
        self.clock.advance(0.01)
        busy(self.clock, 0.3)
        self.clock.advance(0)  # one long turn
        self.assertAlmostEqual(shedder.lag, 0.29)
        busy(self.clock, 0.2)
        self.assertIsNone(shedder.check())  # one long turn is no overload
        self.clock.advance(0)  # the second long turn in a row
        self.assertIsNone(shedder.check())  # the third turn has just begun
        busy(self.clock, 0.1)
        self.assertIsNone(shedder.check())
        busy(self.clock, 0.02)  # 0.11 s past the timer's due time
        self.assertEqual(shedder.check(), 2)
        self.assertEqual(shedder.shed, 1)
        self.clock.advance(0)
        self.assertIsNone(shedder.check())
        # Short turns: back to normal.
        for _ in range(3):
            busy(self.clock, 0.005)
            self.clock.advance(0.01)
        busy(self.clock, 0.5)
        self.assertIsNone(shedder.check())

    def test_turnsStayBounded(self) -> None:
        """
        At three times what the tracker can take (every turn finds three
        times as many requests as the turn before could serve), once
        shedding has started every turn does about C{maxLag} of work
        (C{maxLag} / C{cost} requests) and refuses the rest, so that the
        turns, and the wait of a request taken, stay short; the episode is
        logged once when it starts and once when it ends, even with no
        request after it.  Without lag shedding the turns grow without
        bound.
        """
        cost, shedCost, interval, maxLag = 0.0003, 0.00003, 0.01, 0.1
        for limit in (maxLag, 0.0):
            clock = self.clock = Clock()
            shedder = self.shedder(maxLag=limit, interval=interval)
            clock.advance(interval)
            lengths: List[float] = []
            ready = 100
            for n in range(20):
                taken, length = turn(clock, shedder, ready, cost, shedCost)
                lengths.append(length)
                if limit and n >= 4:
                    self.assertGreaterEqual(taken, maxLag / cost)
                    self.assertLess(taken, (maxLag + interval) / cost + 1)
                ready = min(int(3 * length / cost) + 1, 20000)
            if limit:
                self.assertLess(max(lengths[8:]), 2 * (maxLag + interval))
                self.assertGreater(shedder.shed, 0)
                self.assertEqual(self.levels(), [LogLevel.warn])
                # The load ends: the next short turns end the episode,
                # logged by the timer, with no request needed.
                for _ in range(3):
                    clock.advance(interval)
                self.assertEqual(self.levels(), [LogLevel.warn, LogLevel.info])
            else:
                self.assertGreater(lengths[-1], 5.0)
                self.assertEqual(shedder.shed, 0)
        self.assertEqual(self.levels(), [LogLevel.warn, LogLevel.info])

    def test_onePauseTolerated(self) -> None:
        """
        One long turn (a pause, such as a long garbage collection), and the
        turn after it that serves the backlog the pause left, refuse
        nothing, whatever their length.
        """
        shedder = self.shedder(maxLag=0.1, interval=0.01)
        self.clock.advance(0.01)
        for pause, backlog in [(0.5, 0.4), (2.0, 0.1), (0.2, 1.0)]:
            busy(self.clock, pause)
            self.assertIsNone(shedder.check())
            self.clock.advance(0)
            for _ in range(10):
                busy(self.clock, backlog / 10)
                self.assertIsNone(shedder.check())
            self.clock.advance(0)
            for _ in range(3):
                busy(self.clock, 0.005)
                self.assertIsNone(shedder.check())
                self.clock.advance(0.01)
        self.assertEqual(shedder.shed, 0)

    def test_noLimits(self) -> None:
        """
        With both limits 0 nothing is refused and no timer runs.
        """
        shedder = self.shedder(maxInFlight=0, maxLag=0)
        for _ in range(10000):
            shedder.started()
        busy(self.clock, 10)
        self.assertIsNone(shedder.check())
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stopped(self) -> None:
        """
        Stopping the service cancels its timer; a stopped shedder refuses
        nothing for lag.
        """
        shedder = LoadShedder(self.clock, maxLag=0.1)
        shedder.startService()
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        shedder.stopService()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        busy(self.clock, 10)
        self.assertIsNone(shedder.check())

    def test_invalid(self) -> None:
        """
        Negative limits and a timer interval of 0 are refused.
        """
        for kwargs in [{"maxLag": -1}, {"maxInFlight": -1}, {"interval": 0}]:
            self.assertRaises(ValueError, LoadShedder, self.clock, **kwargs)

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
        self.assertEqual(self.levels(), [LogLevel.warn, LogLevel.info])


def _request(body: bytes, contentType: Optional[bytes] = XML_CODEC.contentType, extra: bytes = b"") -> bytes:
    head = b"POST / HTTP/1.1\r\nHost: t\r\n"
    if contentType is not None:
        head += b"Content-Type: " + contentType + b"\r\n"
    return head + extra + b"Content-Length: %d\r\n\r\n" % (len(body),) + body


class ChannelSheddingTests(SynchronousTestCase):
    """
    While the shedder says the tracker is overloaded, a L{TrackerSite}
    refuses a request at the connection, before twisted.web parses it and
    before any resource sees it.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.shedder = LoadShedder(self.clock, maxInFlight=1, maxLag=0, retryAfter=3)
        # A site with no tracker at all: every request that reaches a
        # resource gets twisted.web's 404.
        self.site = TrackerSite(Resource(), shedder=self.shedder, reactor=self.clock)

    def connect(self) -> Tuple[Any, StringTransport]:
        channel = self.site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        self.addCleanup(channel.connectionLost, None)
        return channel, transport

    def test_refusedBeforeParsing(self) -> None:
        """
        A whole request gets the ready-made 503 TEMPORARILY OVERLOADED with
        C{Retry-After}, in XML, on a connection that stays open; once the
        load is normal the next request on it reaches the site.
        """
        self.shedder.started()
        channel, transport = self.connect()
        channel.dataReceived(_request(b"<PPSPTrackerProtocol/>"))
        head, _, body = transport.value().partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 503 "), head)
        self.assertIn(b"\r\nRetry-After: 3", head)
        self.assertIn(b"\r\nContent-Type: " + XML_CODEC.contentType, head)
        self.assertIn(b"<Response>TEMPORARILY OVERLOADED</Response>", body)
        self.assertFalse(transport.disconnecting)
        self.assertEqual(self.shedder.shed, 1)
        transport.clear()
        self.shedder.finished()
        channel.dataReceived(_request(b"<PPSPTrackerProtocol/>"))
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 404 "))

    def test_jsonRefusal(self) -> None:
        """
        A JSON request, by its C{Content-Type} or by its first byte, is
        refused in JSON (error 05).
        """
        self.shedder.started()
        for request in [
            _request(b'{"PPSPTrackerProtocol": {}}', JSON_CODEC.contentType),
            _request(b' {"PPSPTrackerProtocol": {}}', None),
        ]:
            channel, transport = self.connect()
            channel.dataReceived(request)
            head, _, body = transport.value().partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 503 "), head)
            self.assertEqual(json.loads(body)["PPSPTrackerProtocol"]["error_code"], 5)

    def test_otherRequestsGoOn(self) -> None:
        """
        A request split over reads, two pipelined in one read, a GET, a
        request over HTTP/1.0, with C{Connection: close}, C{Expect} or a
        chunked body goes on to twisted.web (and to the resource, which
        asks the shedder itself).
        """
        self.shedder.started()
        whole = _request(b"<x/>")
        for parts in [
            [b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"],
            [whole[:10], whole[10:]],
            [whole + whole[:10]],
            [whole.replace(b"HTTP/1.1", b"HTTP/1.0")],
            [_request(b"<x/>", extra=b"Connection: close\r\n")],
            [_request(b"<x/>", extra=b"Expect: 100-continue\r\n")],
            [
                b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"4\r\n<x/>\r\n0\r\n\r\n"
            ],
        ]:
            channel, transport = self.connect()
            for part in parts:
                channel.dataReceived(part)
            self.assertNotIn(b" 503 ", transport.value(), parts)
            self.assertIn(b" 404 ", transport.value(), parts)
        self.assertEqual(self.shedder.shed, 0)

    def test_pipelinedInOrder(self) -> None:
        """
        Of two requests in one read, the first goes to twisted.web (it did
        not arrive alone) and is answered first; the second, a whole
        request on a connection with nothing open any more, is refused
        after it.
        """
        self.shedder.started()
        channel, transport = self.connect()
        whole = _request(b"<x/>")
        channel.dataReceived(whole + whole)
        answers = transport.value()
        self.assertTrue(answers.startswith(b"HTTP/1.1 404 "), answers)
        self.assertEqual(answers.count(b"HTTP/1.1 503 "), 1)

    def test_notWhileAnotherRequestIsOpen(self) -> None:
        """
        A request that arrives while an earlier one on the same connection
        waits for its answer is not answered first: it waits behind it.
        """
        from twisted.web.server import NOT_DONE_YET

        class Later(Resource):
            isLeaf = True
            pending: List[Any] = []

            def render_POST(self, request: Any) -> Any:
                self.pending.append(request)
                return NOT_DONE_YET

        site = TrackerSite(Later(), shedder=self.shedder, reactor=self.clock)
        channel = site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        self.addCleanup(channel.connectionLost, None)
        channel.dataReceived(_request(b"<x/>"))
        self.shedder.started()
        channel.dataReceived(_request(b"<x/>"))
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.shedder.shed, 0)


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

        from ppsp.interfaces import IPeerSelector, ISwarmMember
        from ppsp.messages import ConnectRequest, FindRequest, JoinRequest, Method

        pending: List[Deferred[Sequence[ISwarmMember]]] = []

        @implementer(IPeerSelector)
        class Slow:
            def select(
                self, swarm: object, requester: object, count: int, constraints: object
            ) -> Deferred[Sequence[ISwarmMember]]:
                d: Deferred[Sequence[ISwarmMember]] = Deferred()
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
        self.assertIsNone(self.successResultOf(tracker.store.swarm("t")))
        pending[0].callback([])
        treq.flush()
        self.assertEqual(self.successResultOf(first).code, 200)
        self.assertEqual(shedder.inFlight, 0)
        again = post(JoinRequest("5", "a", token, swarmID="t", mode=PeerMode.SEED))
        self.assertEqual(self.successResultOf(again).code, 200)


class AddressThrottleTests(SynchronousTestCase):
    """
    The per-address token bucket, its unit (an IPv4 address, an IPv6
    /64), its pruning, and how the resource and C{twistd} get one.
    """

    def test_burstThenRefuse(self) -> None:
        """
        An address gets 400 requests at once, then is refused with a
        Retry-After; another address is not affected; tokens refill at
        200 per second.
        """
        clock = Clock()
        admit = AddressThrottle(clock).admit
        self.assertEqual([admit("198.51.100.1") for _ in range(400)], [None] * 400)
        retry = admit("198.51.100.1")
        self.assertIsNotNone(retry)
        self.assertTrue(0 < retry <= 1)  # type: ignore[operator]
        self.assertIsNone(admit("198.51.100.2"))
        clock.advance(0.5)
        self.assertEqual([admit("198.51.100.1") for _ in range(100)], [None] * 100)
        self.assertIsNotNone(admit("198.51.100.1"))

    def test_ipv6PerSlash64(self) -> None:
        """
        The addresses of one IPv6 /64 share one bucket (a host that holds
        a /64 cannot escape the throttle by changing address); another /64
        has its own; an IPv4-mapped address counts as its IPv4 address.
        """
        throttle = AddressThrottle(Clock(), rate=1, burst=2)
        self.assertIsNone(throttle.admit("2001:db8:1:2::1"))
        self.assertIsNone(throttle.admit("2001:db8:1:2:ffff::9"))
        self.assertIsNotNone(throttle.admit("2001:db8:1:2:abcd::1"))
        self.assertIsNone(throttle.admit("2001:db8:1:3::1"))
        self.assertIsNone(throttle.admit("192.0.2.1"))
        self.assertIsNone(throttle.admit("::ffff:192.0.2.1"))
        self.assertIsNotNone(throttle.admit("192.0.2.1"))

    def test_off(self) -> None:
        """
        A rate of 0 turns the throttle off, and it keeps nothing.
        """
        throttle = AddressThrottle(Clock(), rate=0)
        self.assertEqual({throttle.admit("198.51.100.1") for _ in range(2000)}, {None})
        self.assertEqual(len(throttle), 0)

    def test_idleBucketsForgotten(self) -> None:
        """
        The buckets of addresses that went quiet are dropped as the
        throttle goes (at most once a second), with no timer.
        """
        clock = Clock()
        throttle = AddressThrottle(clock)
        for i in range(100):
            throttle.admit(f"198.51.100.{i}")
        self.assertEqual(len(throttle), 100)
        self.assertEqual(clock.getDelayedCalls(), [])
        clock.advance(3)
        throttle.admit("203.0.113.1")
        self.assertEqual(len(throttle), 1)

    def test_workersShare(self) -> None:
        """
        A throttle of one of C{workers} processes enforces its share of
        the limit: the rate and the burst divided by C{workers}, the
        burst at least 1; an address that sends its whole burst to each
        of the workers gets, in all, the burst of a single tracker.
        """
        clock = Clock()
        shares = [AddressThrottle(clock, rate=10, burst=20, workers=4) for _ in range(4)]
        self.assertEqual([(t.rate, t.burst) for t in shares], [(2.5, 5.0)] * 4)
        admitted = sum(t.admit("198.51.100.1") is None for t in shares for _ in range(10))
        self.assertEqual(admitted, 20)
        clock.advance(2)
        admitted = sum(t.admit("198.51.100.1") is None for t in shares for _ in range(10))
        self.assertEqual(admitted, 20)
        self.assertEqual(AddressThrottle(clock, rate=200, workers=4).burst, 100.0)
        self.assertEqual(AddressThrottle(clock, rate=1, burst=1, workers=3).burst, 1.0)
        off = AddressThrottle(clock, rate=0, workers=3)
        self.assertEqual((off.rate, off.admit("198.51.100.1")), (0.0, None))
        self.assertRaises(ValueError, AddressThrottle, clock, 10, None, 0)

    def test_invalid(self) -> None:
        """
        A negative rate or burst is refused.
        """
        self.assertRaises(ValueError, AddressThrottle, Clock(), -1)
        self.assertRaises(ValueError, AddressThrottle, Clock(), 1, -1)

    def test_injectedIntoResource(self) -> None:
        """
        The resource applies the throttle it is given, whatever the
        tracker's config says, and by default one built from the config.
        """
        from treq.testing import StubTreq

        clock = Clock()
        tracker = Tracker(clock, TrackerConfig(rateLimit=0))
        self.assertEqual(TrackerResource(tracker).throttle.rate, 0)
        resource = TrackerResource(tracker, throttle=AddressThrottle(clock, rate=1, burst=1))
        treq: Any = StubTreq(resource)
        codes = []
        for _ in range(2):
            response = self.successResultOf(
                treq.post("http://t/", data=b"garbage", headers={b"Content-Type": [XML_CODEC.contentType]})
            )
            codes.append(response.code)
        self.assertEqual(codes, [400, 503])

    def test_builtByMakeService(self) -> None:
        """
        C{twistd ppsp-tracker} gives the resource a throttle with the rate
        of C{--rate-limit} (0: off), and gives the site the resource's
        load shedder, with the lag limit of C{--max-lag}.
        """
        for argv, rate in [(["--rate-limit", "7"], 7.0), (["--rate-limit", "0"], 0.0), ([], 200.0)]:
            options = Options()
            options.parseOptions(["--listen", "tcp:7001", "--max-lag", "0.25"] + argv)
            service = makeService(options, MemoryReactorClock())
            (listener,) = [s for s in service if isinstance(s, StreamServerEndpointService)]
            site = listener.factory
            assert isinstance(site, TrackerSite)
            resource = site.resource
            assert isinstance(resource, TrackerResource)
            self.assertEqual((resource.throttle.rate, resource.throttle.burst), (rate, 2 * rate))
            self.assertIs(site.shedder, resource.shedder)
            assert site.shedder is not None
            self.assertEqual(site.shedder.maxLag, 0.25)
