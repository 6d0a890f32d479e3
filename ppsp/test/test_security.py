"""
Security tests, on real sockets where the hole is at the transport: the
PROXY protocol through Twisted's C{haproxy:} endpoint wrapper, a flood
from one address while a peer on another address is served; and a client
that trickles its request, on a L{Clock}.
"""

from __future__ import annotations

import re
from typing import Any, List, Tuple

from treq.client import HTTPClient
from twisted.internet import reactor as _reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, serverFromString
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, HTTPConnectionPool

from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker.resource import TrackerResource, TrackerSite

reactor: Any = _reactor

XML = b"application/ppsp-tracker+xml"


def message(method: str, txid: str, peerID: str, extra: str = "") -> bytes:
    return (
        f'<PPSPTrackerProtocol version="1.0"><Method>{method}</Method>'
        f"<TransactionID>{txid}</TransactionID><PeerID>{peerID}</PeerID>{extra}"
        "</PPSPTrackerProtocol>"
    ).encode()


class RawClient(Protocol):
    """
    Sends bytes as they are and keeps what comes back.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.received = bytearray()
        self.done: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        self.transport.write(self.data)  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        self.received.extend(data)

    def connectionLost(self, reason: Any = None) -> None:
        self.done.callback(bytes(self.received))


class ProxyProtocolTests(TestCase):
    """
    Behind a proxy that speaks the PROXY protocol, the tracker observes the
    client's address that the proxy reports.
    """

    @inlineCallbacks
    def test_haproxyEndpoint(self) -> Any:
        """
        With C{--listen haproxy:tcp:PORT}, a request preceded by a PROXY
        header is registered with the address in the header, and a
        connection without the header is dropped.
        """
        tracker = Tracker(reactor, TrackerConfig())
        endpoint = serverFromString(reactor, "haproxy:tcp:0:interface=127.0.0.1")
        port = yield endpoint.listen(TrackerSite(TrackerResource(tracker)))
        self.addCleanup(port.stopListening)
        number = port.getHost().port
        body = message("CONNECT", "1", "proxied")
        http = (
            b"POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: " + XML
            + b"\r\nContent-Length: %d\r\n\r\n" % (len(body),) + body
        )
        header = b"PROXY TCP4 203.0.113.7 127.0.0.1 56324 %d\r\n" % (number,)
        client = RawClient(header + http)
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", number), client)
        answer = yield client.done
        self.assertIn(b"200 OK", answer)
        self.assertRegex(answer.decode(), r'<ReflexiveAddress ip="203\.0\.113\.7" port="56324"/>')
        self.assertEqual((yield tracker.store.peer("proxied")).observedIP, "203.0.113.7")

        bare = RawClient(http.replace(b"proxied", b"direct"))
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", number), bare)
        answer = yield bare.done
        self.assertNotIn(b"200 OK", answer)
        self.assertIsNone((yield tracker.store.peer("direct")))


class FloodTests(TestCase):
    """
    One address floods the tracker; a peer on another address is still
    served.
    """

    timeout = 60

    @inlineCallbacks
    def test_floodFromOneAddress(self) -> Any:
        """
        127.0.0.2 sends requests as fast as it can over 8 connections; it
        gets TEMPORARILY OVERLOADED beyond its burst while 127.0.0.1, a
        registered peer, gets every one of its KEEPALIVEs answered OK.
        The tracker's clock stands still, so that no bucket refills
        however fast or slow this machine is.
        """
        config = TrackerConfig(rateLimit=50, rateBurst=50)
        tracker = Tracker(Clock(), config)
        port = reactor.listenTCP(0, TrackerSite(TrackerResource(tracker)), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        url = f"http://127.0.0.1:{port.getHost().port}/"
        headers: Any = {b"Content-Type": [XML]}

        def client(bind: str) -> HTTPClient:
            pool = HTTPConnectionPool(reactor, persistent=True)
            pool.maxPersistentPerHost = 8
            self.addCleanup(pool.closeCachedConnections)
            return HTTPClient(Agent(reactor, pool=pool, bindAddress=(bind, 0)))

        honest = client("127.0.0.1")
        flooder = client("127.0.0.2")
        response = yield honest.post(url, data=message("CONNECT", "c", "honest"), headers=headers)
        body = yield response.content()
        token = re.search(rb"<AuthToken>([^<]+)</AuthToken>", body).group(1).decode()  # type: ignore[union-attr]

        codes: List[int] = []
        stop = [False]
        # The flood goes on until the honest peer is done and the flooder
        # has sent twice its burst.
        enough: Deferred[None] = Deferred()

        @inlineCallbacks
        def flood(n: int) -> Any:
            i = 0
            while not stop[0]:
                i += 1
                r = yield flooder.post(url, data=message("KEEPALIVE", f"f{n}-{i}", "nobody"), headers=headers)
                yield r.content()
                codes.append(r.code)
                if len(codes) == 200:
                    enough.callback(None)

        floods = [flood(n) for n in range(8)]
        honestCodes: List[int] = []
        for i in range(20):
            r = yield honest.post(
                url,
                data=message("KEEPALIVE", f"k{i}", "honest", f"<AuthToken>{token}</AuthToken>"),
                headers=headers,
            )
            yield r.content()
            honestCodes.append(r.code)
        yield enough
        stop[0] = True
        for d in floods:
            yield d
        self.assertEqual(honestCodes, [200] * 20)
        self.assertIn(503, codes)
        self.assertGreater(codes.count(503), codes.count(401))


class SlowClientTests(SynchronousTestCase):
    """
    A client that trickles its request is dropped after the request
    deadline, while others are served.
    """

    def connect(self, site: TrackerSite, port: int) -> Tuple[Any, StringTransport]:
        """
        Open a connection to C{site} from 192.0.2.1 port C{port}.

        @return: the site's protocol and the connection's transport.
        """
        address = IPv4Address("TCP", "192.0.2.1", port)
        channel = site.buildProtocol(address)
        transport = StringTransport(peerAddress=address)
        channel.makeConnection(transport)
        return channel, transport

    def test_slowloris(self) -> None:
        """
        A request sent a byte every 0.2 s (each byte restarting
        twisted.web's idle timeout, here 0.5 s) is dropped
        C{requestTimeout} (1 s) after its first byte, unanswered; a normal
        request on another connection meanwhile gets its answer.
        """
        clock = Clock()
        site = TrackerSite(
            TrackerResource(Tracker(clock, TrackerConfig())), requestTimeout=1.0, timeout=0.5, reactor=clock
        )
        slowChannel, slow = self.connect(site, 5000)
        trickle = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789"
        for i in range(5):
            if i:
                clock.advance(0.2)
            slowChannel.dataReceived(trickle[i:i + 1])
        self.assertFalse(slow.disconnecting)

        body = message("CONNECT", "1", "quick")
        quickChannel, quick = self.connect(site, 5001)
        quickChannel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: " + XML
            + b"\r\nContent-Length: %d\r\n\r\n" % (len(body),) + body
        )
        self.assertIn(b"200 OK", quick.value())

        clock.advance(1.0 - clock.seconds())
        self.assertTrue(slow.disconnected)
        self.assertEqual(slow.value(), b"")
        self.assertFalse(quick.disconnecting)


class ForwardedForTests(TestCase):
    """
    Behind a trusted proxy, the rightmost untrusted C{X-Forwarded-For}
    entry is the client; from anywhere else the header is ignored.
    """

    @inlineCallbacks
    def connect(self, trusted: Any, forwarded: bytes) -> Any:
        tracker = Tracker(reactor, TrackerConfig())
        port = reactor.listenTCP(
            0, TrackerSite(TrackerResource(tracker, trustedProxies=trusted)), interface="127.0.0.1"
        )
        self.addCleanup(port.stopListening)
        body = message("CONNECT", "1", "p")
        client = RawClient(
            b"POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: " + XML
            + b"\r\nX-Forwarded-For: " + forwarded
            + b"\r\nContent-Length: %d\r\n\r\n" % (len(body),) + body
        )
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), client)
        yield client.done
        return (yield tracker.store.peer("p")).observedIP

    @inlineCallbacks
    def test_trustedProxy(self) -> Any:
        """
        The proxy at 127.0.0.1 is trusted, and so is 10.0.0.0/8: the
        client is the rightmost entry outside both.
        """
        ip = yield self.connect(["127.0.0.0/8", "10.0.0.0/8"], b"198.51.100.1, 203.0.113.5, 10.1.2.3")
        self.assertEqual(ip, "203.0.113.5")

    @inlineCallbacks
    def test_untrustedPeer(self) -> Any:
        """
        A header from a peer that is not a trusted proxy is ignored: it
        cannot choose the address the tracker observes.
        """
        ip = yield self.connect(["10.0.0.0/8"], b"203.0.113.5")
        self.assertEqual(ip, "127.0.0.1")

    @inlineCallbacks
    def test_garbageEntry(self) -> Any:
        """
        An entry that is not an IP address stops the walk at the last
        trusted hop.
        """
        ip = yield self.connect(["127.0.0.0/8", "10.0.0.0/8"], b"203.0.113.5, junk, 10.1.2.3")
        self.assertEqual(ip, "10.1.2.3")


class X509OverTLSTests(TestCase):
    """
    The x509 scheme on a real TLS listener that asks for client
    certificates.
    """

    timeout = 30

    def setUp(self) -> None:
        from ppsp.test.certs import TestCA, serverOptions
        from ppsp.tracker.credentials import X509PeerChecker

        self.ca = TestCA()
        context = serverOptions(self.ca)
        self.tracker = Tracker(reactor, TrackerConfig(), checker=X509PeerChecker(self.ca.certificate, reactor))
        port = reactor.listenSSL(0, TrackerSite(TrackerResource(self.tracker)), context, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.url = f"https://localhost:{port.getHost().port}/"

    def client(self, peerID: str, certificateOf: str, cer: Any, **kw: Any) -> Any:
        from ppsp.peer import TLSPolicy, TrackerClient, makeHTTPClient
        from twisted.internet.ssl import Certificate, PrivateCertificate

        mine = self.ca.issue(certificateOf)
        tls = TLSPolicy(Certificate.loadPEM(self.ca.certificate), PrivateCertificate.loadPEM(mine.pem))
        http, pool = makeHTTPClient(reactor, tls)
        self.addCleanup(pool.closeCachedConnections)
        credential = mine.certificate.decode("ascii") if cer == "own" else cer
        return TrackerClient(http, self.url, peerID, reactor, cer=credential, attempts=1, **kw)

    @inlineCallbacks
    def test_ownCertificate(self) -> Any:
        """
        A peer whose Cer is its own TLS client certificate, bound to its
        PeerID, connects; so does one that sends no Cer.
        """
        yield self.client("peer-a", "peer-a", "own").connect()
        yield self.client("peer-b", "peer-b", None).connect()
        self.assertIsNotNone((yield self.tracker.store.peer("peer-a")))
        self.assertIsNotNone((yield self.tracker.store.peer("peer-b")))

    @inlineCallbacks
    def test_borrowedCertificate(self) -> Any:
        """
        A peer that shows another peer's certificate in Cer (without its
        key, it cannot present it over TLS) is refused, and so is one whose
        certificate names another PeerID.
        """
        from ppsp.peer import AuthenticationRequired

        other = self.ca.issue("peer-a").certificate.decode("ascii")
        with self.assertRaises(AuthenticationRequired):
            yield self.client("peer-a", "peer-x", other).connect()
        with self.assertRaises(AuthenticationRequired):
            yield self.client("peer-a", "peer-x", None).connect()
        self.assertIsNone((yield self.tracker.store.peer("peer-a")))

    @inlineCallbacks
    def test_json(self) -> Any:
        """
        An RFC 7846 peer, which sends no credential in the body, is
        authenticated by its TLS client certificate alone.
        """
        from ppsp.codec import JSON_CODEC
        from ppsp.messages import PeerMode

        client = self.client("peer-j", "peer-j", None, codec=JSON_CODEC)
        yield client.connect(swarms={"live": PeerMode.LEECH})
        self.assertIn("live", (yield self.tracker.store.peer("peer-j")).swarms)


class DuplicateContentTypeTests(TestCase):
    """
    A request with two C{Content-Type} headers is answered in one and the
    same encoding whether its body is refused early (413) or decoded.
    """

    @inlineCallbacks
    def answerType(self, body: bytes) -> Any:
        tracker = Tracker(reactor, TrackerConfig())
        site = TrackerSite(TrackerResource(tracker, maxBody=100), maxBody=100)
        port = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        client = RawClient(
            b"POST / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
            b"Content-Type: text/xml\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (len(body),) + body
        )
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), client)
        answer = yield client.done
        return re.search(rb"(?i)content-type: ([^\r]+)", answer).group(1)  # type: ignore[union-attr]

    @inlineCallbacks
    def test_sameEncoding(self) -> Any:
        """
        The last header counts in both cases (as twisted.web's getHeader
        reads it).
        """
        small = yield self.answerType(b"{}")
        large = yield self.answerType(b"{" + b" " * 200 + b"}")
        self.assertEqual(small, large)
        self.assertEqual(small, b"application/ppsp-tracker+json")
