"""
Security tests on real sockets: the PROXY protocol through Twisted's
C{haproxy:} endpoint wrapper, and a flood from one address while a peer
on another address is served.
"""

from __future__ import annotations

import re
from typing import Any, List

from treq.client import HTTPClient
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, serverFromString
from twisted.internet.protocol import Protocol
from twisted.trial.unittest import TestCase
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
        self.assertEqual(tracker.store.getPeer("proxied").observedIP, "203.0.113.7")

        bare = RawClient(http.replace(b"proxied", b"direct"))
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", number), bare)
        answer = yield bare.done
        self.assertNotIn(b"200 OK", answer)
        self.assertIsNone(tracker.store.getPeer("direct"))


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
        gets TEMPORARILY OVERLOADED beyond its rate while 127.0.0.1, a
        registered peer, gets every one of its KEEPALIVEs answered OK.
        """
        config = TrackerConfig(rateLimit=50, rateBurst=50)
        tracker = Tracker(reactor, config)
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

        @inlineCallbacks
        def flood(n: int) -> Any:
            i = 0
            while not stop[0]:
                i += 1
                r = yield flooder.post(url, data=message("KEEPALIVE", f"f{n}-{i}", "nobody"), headers=headers)
                yield r.content()
                codes.append(r.code)

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
        stop[0] = True
        for d in floods:
            yield d
        self.assertEqual(honestCodes, [200] * 20)
        self.assertIn(503, codes)
        self.assertGreater(codes.count(503), codes.count(401))
