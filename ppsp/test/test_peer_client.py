"""
Tests for L{ppsp.peer.TrackerClient}: every request against the
real tracker resource (through L{ppsp.testing.MemoryTracker}), typed
errors, retries with the same TransactionID, timeouts that cover the body,
and HTTPS with a private CA on a real socket.
"""

from __future__ import annotations

import random
from typing import Any, List, Optional

from treq.client import HTTPClient
from treq.testing import StubTreq
from twisted.internet import reactor as _reactor
from twisted.internet.defer import CancelledError, Deferred, inlineCallbacks
from twisted.internet.defer import TimeoutError
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.ssl import Certificate, CertificateOptions, PrivateCertificate
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import ResponseFailed
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from twisted.web.iweb import IAgent
from zope.interface import implementer

from ppsp.codec import JSON_CODEC, XML_CODEC
from ppsp.messages import (
    ChunkRange,
    ConnectRequest,
    ConnectResponse,
    FindRequest,
    JoinChunkRequest,
    KeepAliveResponse,
    PeerAddress,
    PeerMode,
    PPSTPConnectResponse,
    ResponseCode,
    Stat,
)
from ppsp.peer import (
    AuthenticationRequired,
    BadTrackerResponse,
    MessageForbidden,
    ObjectNotFound,
    TemporarilyOverloaded,
    TLSPolicy,
    TrackerClient,
    TrackerError,
    TrackerUnavailable,
    UnsupportedRequest,
    makeHTTPClient,
)
from ppsp.test.certs import TestCA
from ppsp.test.helpers import StoreReads
from ppsp.testing import MemoryTracker, _BytesProducer
from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker.resource import TrackerResource

reactor: Any = _reactor


def pump(clock: Clock, seconds: float) -> None:
    """
    Advance C{clock} by C{seconds}, a tenth of a second at a time, so that
    timers set by timers run too.
    """
    for _ in range(int(seconds * 10)):
        clock.advance(0.1)


def connected(testCase: SynchronousTestCase, fake: MemoryTracker, peerID: str, **kw: Any) -> TrackerClient:
    """
    A client of C{fake} for C{peerID}, after a successful CONNECT.
    """
    client = fake.client(peerID, **kw)
    testCase.successResultOf(client.connect())
    return client


class RequestTests(SynchronousTestCase):
    """
    One method per request, against the real tracker.
    """

    def setUp(self) -> None:
        self.fake = MemoryTracker()

    def test_connectKeepsSession(self) -> None:
        """
        CONNECT's answer gives the client its AuthToken, reflexive address
        and KEEPALIVE interval, and every later request carries the token.
        """
        client = self.fake.client("peer-a")
        response = self.successResultOf(
            client.connect([PeerAddress("198.51.100.7", 7000)], statPort=7001)
        )
        self.assertIsInstance(response, ConnectResponse)
        self.assertEqual(client.authToken, response.authToken)
        self.assertEqual(client.reflexiveAddress, response.reflexiveAddress)
        self.assertEqual(client.keepAliveInterval, 60)
        sent = self.fake.received[-1]
        assert isinstance(sent, ConnectRequest)
        self.assertEqual(sent.statPort, 7001)
        self.assertEqual(sent.addresses, (PeerAddress("198.51.100.7", 7000),))
        self.successResultOf(client.keepAlive())
        self.assertEqual(self.fake.received[-1].authToken, response.authToken)

    def test_transactionIDsAreFresh(self) -> None:
        """
        Each request gets a TransactionID the client has not used before.
        """
        client = connected(self, self.fake, "peer-a")
        for _ in range(5):
            self.successResultOf(client.keepAlive())
        ids = [r.transactionID for r in self.fake.received]
        self.assertEqual(len(ids), 6)
        self.assertEqual(len(set(ids)), 6)

    def test_everyMethod(self) -> None:
        """
        JOIN, JOIN_CHUNK, FIND, FIND_CHUNK, STAT_REPORT, LEAVE and
        DISCONNECT each return their typed success response.
        """
        seed = connected(self, self.fake, "seed")
        leech = connected(self, self.fake, "leech")
        self.assertIsNone(self.successResultOf(seed.join("s", PeerMode.SEED)).peers)
        self.successResultOf(seed.joinChunk("s", [ChunkRange(0, 9), 20]))
        sent = self.fake.received[-1]
        assert isinstance(sent, JoinChunkRequest)
        self.assertEqual(sent.chunks, (ChunkRange(0, 9), ChunkRange(20, 20)))
        joined = self.successResultOf(leech.join("s"))
        self.assertEqual([p.peerID for p in joined.peers or ()], ["seed"])
        found = self.successResultOf(leech.find("s", peerNum=5))
        self.assertEqual([p.peerID for p in found.peers], ["seed"])
        self.assertEqual([p.mode for p in found.peers], [PeerMode.SEED])
        holders = self.successResultOf(leech.findChunk("s", 20))
        self.assertEqual([p.peerID for p in holders.peers], ["seed"])
        self.assertEqual(holders.chunkID, 20)
        self.successResultOf(leech.statReport([Stat("UploadBandwidth", "512")]))
        self.successResultOf(leech.leave("s"))
        self.successResultOf(leech.disconnect())
        self.assertIsNone(leech.authToken)
        self.assertIsNone(StoreReads(self, self.fake.tracker.store).peer("leech"))

    def test_findConstraints(self) -> None:
        """
        FIND sends its constraints, and the tracker applies them.
        """
        a = connected(self, self.fake, "a")
        b = connected(self, self.fake, "b")
        self.successResultOf(a.join("s", PeerMode.SEED))
        self.successResultOf(a.statReport([Stat("UploadBandwidth", "100")]))
        self.successResultOf(b.join("s"))
        wanted = [Stat("UploadBandwidth", "200")]
        self.assertEqual(self.successResultOf(b.find("s", constraints=wanted)).peers, ())
        sent = self.fake.received[-1]
        assert isinstance(sent, FindRequest)
        self.assertEqual(sent.constraints, tuple(wanted))


class ErrorTests(SynchronousTestCase):
    """
    Error responses become typed exceptions carrying the code and reason.
    """

    def setUp(self) -> None:
        self.fake = MemoryTracker()

    def test_authenticationRequired(self) -> None:
        """
        A request from a peer the tracker does not know fails with
        L{AuthenticationRequired}.
        """
        client = self.fake.client("stranger")
        error = self.failureResultOf(client.keepAlive(), AuthenticationRequired).value
        self.assertEqual(error.code, ResponseCode.AUTHENTICATION_REQUIRED)
        self.assertIn("CONNECT", error.reason)
        self.assertIn("KEEPALIVE answered AUTHENTICATION REQUIRED", str(error))

    def test_forbiddenAndNotFound(self) -> None:
        """
        LEAVE of a swarm not joined is L{MessageForbidden}; FIND of an
        unknown swarm is L{ObjectNotFound}; both are L{TrackerError}s.
        """
        a = connected(self, self.fake, "a")
        b = connected(self, self.fake, "b")
        self.successResultOf(b.join("s"))
        self.failureResultOf(a.leave("s"), MessageForbidden)
        failure = self.failureResultOf(a.find("nowhere"), ObjectNotFound)
        self.assertIsInstance(failure.value, TrackerError)

    def test_otherCodes(self) -> None:
        """
        A code without a subclass of its own is a plain L{TrackerError}
        with that code.
        """
        a = connected(self, self.fake, "a")
        error = self.failureResultOf(a.statReport([]), TrackerError).value
        self.assertIs(type(error), TrackerError)
        self.assertEqual(error.code, ResponseCode.INVALID_SYNTAX)

    def test_overloadedIsRetriedAfterRetryAfter(self) -> None:
        """
        TEMPORARILY OVERLOADED is retried after the C{Retry-After} the
        tracker asked for; when every attempt is refused the error carries
        it.
        """
        fake = MemoryTracker(config=TrackerConfig(rateLimit=1, rateBurst=1))
        client = fake.client("a", attempts=2, random=random.Random(1))
        self.successResultOf(client.connect())
        d = client.keepAlive()
        self.assertNoResult(d)
        fake.clock.advance(0.49)
        self.assertNoResult(d)
        fake.clock.advance(0.51)
        self.assertIsInstance(self.successResultOf(d), KeepAliveResponse)

        d = client.keepAlive()
        d2 = client.keepAlive()
        fake.clock.advance(1)
        self.successResultOf(d)
        error = self.failureResultOf(d2, TemporarilyOverloaded).value
        self.assertEqual(error.retryAfter, 1.0)


@implementer(IAgent)
class FlakyAgent:
    """
    An agent whose first C{failures} requests fail: before reaching the
    tracker, or (C{lose=True}) after the tracker answered, the answer being
    lost on the way.  It records the body and the time of every request.
    """

    def __init__(self, fake: MemoryTracker, failures: int, lose: bool = False) -> None:
        self.fake = fake
        self.failures = failures
        self.lose = lose
        self.bodies: List[Optional[bytes]] = []
        self.times: List[float] = []

    def request(self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None) -> Any:
        self.bodies.append(bodyProducer.body if bodyProducer is not None else None)
        self.times.append(self.fake.clock.seconds())
        if self.failures and not self.lose:
            self.failures -= 1
            return _failed(ConnectionRefusedError())
        d = self.fake.agent.request(method, uri, headers, bodyProducer)
        if self.failures:
            self.failures -= 1
            d.addCallback(lambda _: Failure(ResponseFailed([Failure(ConnectionRefusedError())])))
        return d


def _failed(e: BaseException) -> "Deferred[Any]":
    d: Deferred[Any] = Deferred()
    d.errback(e)
    return d


def flakyClient(
    fake: MemoryTracker, failures: int, lose: bool = False, **kw: Any
) -> tuple[TrackerClient, FlakyAgent]:
    """
    A client of C{fake} for PeerID C{a} whose requests go through a
    L{FlakyAgent}.
    """
    agent = FlakyAgent(fake, failures, lose)
    http = HTTPClient(agent, data_to_body_producer=_BytesProducer)
    kw.setdefault("random", random.Random(3))
    client = TrackerClient(http, fake.url, "a", fake.clock, **kw)
    return client, agent


class RetryTests(SynchronousTestCase):
    """
    Transport failures and timeouts are retried with the same body, with
    bounded attempts and backoff with jitter.
    """

    def test_sameTransactionIDAndBody(self) -> None:
        """
        After two failed attempts the third gets through, with exactly
        the bytes of the first.
        """
        fake = MemoryTracker()
        client, agent = flakyClient(fake, failures=2)
        d = client.connect()
        self.assertNoResult(d)
        pump(fake.clock, 10)
        self.successResultOf(d)
        self.assertEqual(len(agent.bodies), 3)
        self.assertEqual(len(set(agent.bodies)), 1)

    def test_lostAnswerAppliedOnce(self) -> None:
        """
        When the tracker applied a request but its answer was lost, the
        retry gets the same answer (the tracker recognises the repeated
        TransactionID) rather than a second application: the AuthToken of
        the answer is the one the first attempt issued.
        """
        fake = MemoryTracker()
        client, agent = flakyClient(fake, failures=1, lose=True)
        d = client.connect()
        pump(fake.clock, 10)
        response = self.successResultOf(d)
        self.assertEqual(len(fake.received), 2)
        peer = StoreReads(self, fake.tracker.store).registered("a")
        self.assertEqual(peer.token, response.authToken)

    def test_boundedAttemptsWithBackoff(self) -> None:
        """
        A tracker that refuses connections gets C{attempts} attempts, the
        waits between them growing with jitter, then L{TrackerUnavailable}.
        """
        fake = MemoryTracker()
        client, agent = flakyClient(
            fake, failures=100, attempts=4, backoff=1.0, maxBackoff=3.0, random=random.Random(7)
        )
        expected = random.Random(7)
        waits = [min(3.0, 1.0 * 2**i) * expected.uniform(0.5, 1.0) for i in range(3)]
        d = client.keepAlive()
        for wait in waits:
            fake.clock.advance(wait - 0.001)
            self.assertNoResult(d)
            fake.clock.advance(0.001)
        error = self.failureResultOf(d, TrackerUnavailable).value
        self.assertEqual(error.attempts, 4)
        self.assertEqual(len(agent.times), 4)
        self.assertGreater(waits[2], waits[0])
        self.assertIn("did not answer after 4 attempt(s)", str(error))
        self.assertEqual(fake.clock.getDelayedCalls(), [])

    def test_cancelStopsAttempts(self) -> None:
        """
        Cancelling a request during its backoff stops it and leaves no
        timer behind.
        """
        fake = MemoryTracker()
        fake.stop()
        client = fake.client("a")
        d = client.keepAlive()
        self.assertTrue(fake.clock.getDelayedCalls())
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(fake.clock.getDelayedCalls(), [])


class HangingBody(Resource):
    """
    Sends the headers and part of a body, then nothing more.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.requests: List[Any] = []

    def render_POST(self, request: Any) -> Any:
        self.requests.append(request)
        request.setHeader(b"content-type", XML_CODEC.contentType)
        request.setHeader(b"content-length", b"1000")
        request.write(b"<?xml version='1.0'?>")
        return NOT_DONE_YET


class Fixed(Resource):
    """
    Answers every POST with one status and body.
    """

    isLeaf = True

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__()
        self.status = status
        self.body = body
        self.count = 0

    def render_POST(self, request: Any) -> bytes:
        self.count += 1
        request.setResponseCode(self.status)
        return self.body


class ResponseTests(SynchronousTestCase):
    """
    The client's reading of answers: timeouts over the body, bad and long
    answers, failing proxies.
    """

    def client(self, resource: Resource, **kw: Any) -> tuple[TrackerClient, Clock]:
        clock = Clock()
        http: Any = StubTreq(resource)
        return TrackerClient(http, "http://t/", "a", clock, random=random.Random(1), **kw), clock

    def test_timeoutCoversBody(self) -> None:
        """
        An answer whose headers arrive but whose body never ends is given
        up after C{timeout} seconds (treq's own timeout would wait forever).
        """
        resource = HangingBody()
        client, clock = self.client(resource, timeout=5, attempts=1)
        d = client.keepAlive()
        self.assertEqual(len(resource.requests), 1)
        clock.advance(4.9)
        self.assertNoResult(d)
        clock.advance(0.1)
        error = self.failureResultOf(d, TrackerUnavailable).value
        self.assertIsInstance(error.lastFailure, TimeoutError)
        self.assertIn("timed out", str(error))
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_timeoutRetried(self) -> None:
        """
        A timed-out attempt is retried like a transport failure.
        """
        resource = HangingBody()
        client, clock = self.client(resource, timeout=5, attempts=2)
        d = client.keepAlive()
        clock.advance(5)
        clock.advance(1)
        self.assertEqual(len(resource.requests), 2)
        self.assertNoResult(d)

    def test_notAResponse(self) -> None:
        """
        A 200 answer that is not a protocol response is a
        L{BadTrackerResponse}, not retried.
        """
        resource = Fixed(200, b"hello")
        client, clock = self.client(resource)
        self.failureResultOf(client.keepAlive(), BadTrackerResponse)
        self.assertEqual(resource.count, 1)

    def test_otherTransaction(self) -> None:
        """
        An answer for another TransactionID is refused.
        """
        body = XML_CODEC.encodeResponse(KeepAliveResponse("not-mine", 60))
        client, clock = self.client(Fixed(200, body))
        error = self.failureResultOf(client.keepAlive(), BadTrackerResponse).value
        self.assertIn("not-mine", error.reason)

    def test_tooLong(self) -> None:
        """
        An answer longer than a megabyte is refused without being kept.
        """
        client, clock = self.client(Fixed(200, b"<" * (1024 * 1024 + 1)))
        error = self.failureResultOf(client.keepAlive(), BadTrackerResponse).value
        self.assertIn("too long", error.reason)

    def test_gatewayErrorRetried(self) -> None:
        """
        A 502 from a proxy (a body that is no protocol answer) is retried,
        and reported as L{TrackerUnavailable} when it persists.
        """
        resource = Fixed(502, b"<html>Bad gateway</html>")
        client, clock = self.client(resource, attempts=3)
        d = client.keepAlive()
        pump(clock, 10)
        self.failureResultOf(d, TrackerUnavailable)
        self.assertEqual(resource.count, 3)


class TLSTests(TestCase):
    """
    HTTPS on a real socket on 127.0.0.1, with a CA made for the test.
    """

    timeout = 30

    def setUp(self) -> None:
        self.ca = TestCA()
        self.server = self.ca.issue("localhost", dnsName="localhost")
        self.pools: List[Any] = []

    def serve(self, requireClientCertificate: bool = False) -> int:
        key = PrivateCertificate.loadPEM(self.server.pem)
        options: dict[str, Any] = {}
        if requireClientCertificate:
            options = {
                "verify": True,
                "requireCertificate": True,
                "caCerts": [Certificate.loadPEM(self.ca.certificate).original],
            }
        context = CertificateOptions(
            privateKey=key.privateKey.original, certificate=key.original, **options
        )
        tracker = Tracker(reactor, TrackerConfig())
        port = reactor.listenSSL(0, Site(TrackerResource(tracker)), context, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return int(port.getHost().port)

    def client(self, port: int, tls: TLSPolicy) -> TrackerClient:
        http, pool = makeHTTPClient(reactor, tls)
        self.addCleanup(pool.closeCachedConnections)
        return TrackerClient(http, f"https://localhost:{port}/", "peer-a", reactor, attempts=1, timeout=10)

    @inlineCallbacks
    def test_privateCA(self) -> Any:
        """
        A peer that trusts the private CA connects over HTTPS.
        """
        port = self.serve()
        client = self.client(port, TLSPolicy(Certificate.loadPEM(self.ca.certificate)))
        response = yield client.connect()
        self.assertIsInstance(response, ConnectResponse)

    @inlineCallbacks
    def test_untrusted(self) -> Any:
        """
        A peer that does not trust the tracker's CA refuses the connection.
        """
        port = self.serve()
        other = TestCA("another CA")
        client = self.client(port, TLSPolicy(Certificate.loadPEM(other.certificate)))
        with self.assertRaises(TrackerUnavailable):
            yield client.connect()

    @inlineCallbacks
    def test_clientCertificate(self) -> Any:
        """
        A tracker that requires client certificates accepts a peer that
        presents one from its CA (read from files), and refuses one that
        presents none.
        """
        port = self.serve(requireClientCertificate=True)
        trust = self.mktemp()
        with open(trust, "wb") as f:
            f.write(self.ca.certificate)
        mine = self.mktemp()
        with open(mine, "wb") as f:
            f.write(self.ca.issue("peer-a").pem)
        client = self.client(port, TLSPolicy.fromFiles(trust, mine))
        response = yield client.connect()
        self.assertIsInstance(response, ConnectResponse)
        anonymous = self.client(port, TLSPolicy.fromFiles(trust))
        with self.assertRaises(TrackerUnavailable):
            yield anonymous.connect()


class RFC7846ClientTests(SynchronousTestCase):
    """
    The client speaking RFC 7846 JSON: swarm actions ride on CONNECT, the
    session travels in the C{Authorization} header, and XML and JSON peers
    share swarms.
    """

    def setUp(self) -> None:
        self.fake = MemoryTracker()

    def client(self, peerID: str) -> TrackerClient:
        return self.fake.client(peerID, codec=JSON_CODEC)

    def test_connectJoins(self) -> None:
        """
        CONNECT joins the swarms given, and the tracker has the peer in
        them; later requests carry the token (from the header).
        """
        client = self.client("j")
        response = self.successResultOf(client.connect(swarms={"s": PeerMode.SEED, "t": PeerMode.LEECH}))
        assert isinstance(response, PPSTPConnectResponse)
        self.assertEqual([r.swarmID for r in response.swarmResults], ["s", "t"])
        self.assertEqual(client.swarms, {"s": PeerMode.SEED, "t": PeerMode.LEECH})
        peer = StoreReads(self, self.fake.tracker.store).registered("j")
        self.assertEqual(set(peer.swarms), {"s", "t"})
        self.successResultOf(client.keepAlive())
        self.assertEqual(self.fake.received[-1].authToken, client.authToken)
        self.assertIsNotNone(client.authToken)

    def test_joinLeaveDisconnect(self) -> None:
        """
        join and leave are CONNECTs with one action; leaving the last swarm
        ends the registration, and disconnect leaves every swarm.
        """
        client = self.client("j")
        joined = self.successResultOf(client.join("s"))
        self.assertEqual(joined.swarmID, "s")
        self.assertEqual(joined.peers, ())
        self.successResultOf(client.join("t", PeerMode.SEED))
        self.successResultOf(client.leave("s"))
        self.assertEqual(set(StoreReads(self, self.fake.tracker.store).registered("j").swarms), {"t"})
        self.successResultOf(client.leave("t"))
        self.assertIsNone(client.authToken)
        self.assertIsNone(StoreReads(self, self.fake.tracker.store).peer("j"))
        self.successResultOf(client.join("u"))
        self.successResultOf(client.disconnect())
        self.assertIsNone(StoreReads(self, self.fake.tracker.store).peer("j"))
        self.assertEqual(client.swarms, {})

    def test_failedActionIsTheError(self) -> None:
        """
        A LEAVE of an unknown swarm fails, with the action's reason (the
        request as a whole is refused with 03, MESSAGE FORBIDDEN, when its
        only action fails).
        """
        client = self.client("j")
        self.successResultOf(client.join("s"))
        error = self.failureResultOf(client.leave("other"), MessageForbidden).value
        self.assertIn("unknown SwarmID", error.reason)
        self.assertEqual(client.swarms, {"s": PeerMode.LEECH})

    def test_mixedSwarm(self) -> None:
        """
        An XML peer and a JSON peer of one swarm find each other.
        """
        xml = connected(self, self.fake, "x")
        self.successResultOf(xml.join("s", PeerMode.SEED))
        json = self.client("j")
        joined = self.successResultOf(json.join("s"))
        self.assertEqual([p.peerID for p in joined.peers or ()], ["x"])
        found = self.successResultOf(xml.find("s"))
        self.assertEqual([p.peerID for p in found.peers], ["j"])

    def test_unsupported(self) -> None:
        """
        What RFC 7846 cannot carry fails with L{UnsupportedRequest}, and
        nothing is sent.
        """
        client = self.client("j")
        self.successResultOf(client.join("s"))
        before = len(self.fake.received)
        self.failureResultOf(client.findChunk("s", 1), UnsupportedRequest)
        self.failureResultOf(client.joinChunk("s", [1]), UnsupportedRequest)
        self.failureResultOf(client.statReport([Stat("Vendor", "x")]), UnsupportedRequest)
        self.assertEqual(len(self.fake.received), before)
        self.successResultOf(client.statReport([Stat("UploadBandwidth", "10")]))
