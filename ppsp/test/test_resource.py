"""
Tests for L{ppsp.tracker.resource}: the tracker over HTTP, through a real
twisted.web request (L{StubTreq}) and, for what only a socket shows, a
loopback connection.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from typing import Any, Dict, List, Optional, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from treq.testing import StubTreq
from twisted.internet import reactor as _globalReactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.protocol import Protocol, ClientFactory
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from zope.interface import implementer
from zope.interface.verify import verifyObject

from ppsp.codec import XML_CODEC
from ppsp.interfaces import ICodec
from ppsp.messages import Method, Request as Message, Response as Answer, ResponseCode
from ppsp.test.helpers import StoreReads
from ppsp.tracker import resource as resourceModule
from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker.resource import TrackerResource, TrackerSite
from ppsp.tracker.store import MemoryPeerStore

XML = b"application/ppsp-tracker+xml"
URL = "http://tracker.example/"


def message(method: str, txid: str = "1", peerID: str = "peer-a", token: Optional[str] = None, body: str = "") -> bytes:
    """
    An XML request of the profile.
    """
    auth = f"<AuthToken>{token}</AuthToken>" if token else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<PPSPTrackerProtocol version="1.0"><Method>{method}</Method>'
        f"<TransactionID>{txid}</TransactionID><PeerID>{peerID}</PeerID>{auth}{body}"
        "</PPSPTrackerProtocol>"
    ).encode("utf-8")


def field(xml: bytes, name: str) -> Optional[str]:
    """
    The text of the first element called C{name}.
    """
    root = etree.fromstring(xml)
    found = root.find(".//" + name)
    return None if found is None else found.text


class Harness(StoreReads):
    """
    A tracker resource behind StubTreq, with a clock.
    """

    def __init__(self, testCase: SynchronousTestCase, mount: Optional[bytes] = None, **config: Any) -> None:
        StoreReads.__init__(self, testCase, MemoryPeerStore(random=random.Random(1)))
        self.clock = Clock()
        self.clock.advance(1000)
        self.tracker = Tracker(self.clock, TrackerConfig(**config), store=self.store)
        self.resource = TrackerResource(self.tracker)
        root: Resource = self.resource
        if mount is not None:
            root = Resource()
            root.putChild(mount, self.resource)
        self.treq: Any = StubTreq(root)  # its methods are invisible to mypy
        self.tokens: Dict[str, str] = {}

    def request(self, method: str, body: bytes = b"", path: str = "", contentType: Optional[bytes] = XML) -> Tuple[Any, bytes]:
        headers = {b"Content-Type": [contentType]} if contentType is not None else {}
        d = self.treq.request(method, URL + path, data=body, headers=headers)
        self.treq.flush()
        response = self.testCase.successResultOf(d)
        content = self.testCase.successResultOf(self.treq.content(response))
        return response, content

    def post(self, body: bytes, **kw: Any) -> Tuple[Any, bytes]:
        return self.request("POST", body, **kw)

    def call(self, method: str, peerID: str = "peer-a", body: str = "", txid: str = "1") -> Tuple[Any, bytes]:
        return self.post(message(method, txid, peerID, self.tokens.get(peerID), body))

    def connect(self, peerID: str = "peer-a", body: str = "") -> bytes:
        response, content = self.call("CONNECT", peerID, body, txid=f"c-{peerID}")
        self.testCase.assertEqual(response.code, 200, content)
        token = field(content, "AuthToken")
        assert token is not None
        self.tokens[peerID] = token
        return content


class MethodTests(SynchronousTestCase):
    """
    Every method's success path over HTTP.
    """

    def setUp(self) -> None:
        self.h = Harness(self)

    def test_connect(self) -> None:
        """
        CONNECT answers 200 with the profile's content type, no-store, the
        echoed TransactionID, an AuthToken, the observed address as
        ReflexiveAddress and the KeepAliveInterval.
        """
        response, content = self.h.post(message("CONNECT", "tx-9"))
        self.assertEqual(response.code, 200)
        self.assertEqual(response.headers.getRawHeaders(b"content-type"), [b"application/ppsp-tracker+xml; charset=utf-8"])
        self.assertEqual(response.headers.getRawHeaders(b"cache-control"), [b"no-store"])
        self.assertTrue(content.startswith(b"<?xml"))
        self.assertEqual(field(content, "Response"), "OK")
        self.assertEqual(field(content, "TransactionID"), "tx-9")
        self.assertEqual(field(content, "KeepAliveInterval"), "60")
        reflexive: Any = etree.fromstring(content).find("ReflexiveAddress")
        self.assertEqual(reflexive.get("ip"), self.h.registered("peer-a").observedIP)

    def test_wholeLifeCycle(self) -> None:
        """
        JOIN, JOIN_CHUNK, FIND, FIND_CHUNK, KEEPALIVE, STAT_REPORT, LEAVE and
        DISCONNECT all succeed over HTTP and answer as the profile says.
        """
        self.h.connect("seed", '<PeerAddresses><PeerAddress ip="127.0.0.1" port="7000" type="HOST"/></PeerAddresses>')
        self.h.connect("leech")
        r, c = self.h.call("JOIN", "seed", "<SwarmID>s</SwarmID><PeerMode>SEED</PeerMode>")
        self.assertEqual((r.code, field(c, "SwarmID")), (200, "s"))
        r, c = self.h.call("JOIN_CHUNK", "seed", '<SwarmID>s</SwarmID><ChunkRange from="0" to="99"/><ChunkID>500</ChunkID>')
        self.assertEqual(r.code, 200, c)
        r, c = self.h.call("JOIN", "leech", "<SwarmID>s</SwarmID>")
        self.assertEqual(r.code, 200)
        self.assertEqual(field(c, "PeerID"), "seed")
        r, c = self.h.call("FIND", "leech", "<SwarmID>s</SwarmID><PeerNum>5</PeerNum>")
        peers = etree.fromstring(c).findall("Peers/Peer")
        self.assertEqual([p.findtext("PeerID") for p in peers], ["seed"])
        self.assertEqual(peers[0].findtext("PeerMode"), "SEED")
        address: Any = peers[0].find("PeerAddresses/PeerAddress")
        self.assertEqual((address.get("ip"), address.get("port")), ("127.0.0.1", "7000"))
        r, c = self.h.call("FIND_CHUNK", "leech", "<SwarmID>s</SwarmID><ChunkID>500</ChunkID>")
        self.assertEqual((r.code, field(c, "ChunkID")), (200, "500"))
        r, c = self.h.call("FIND_CHUNK", "leech", "<SwarmID>s</SwarmID><ChunkID>200</ChunkID>")
        self.assertEqual((r.code, field(c, "Response")), (404, "OBJECT NOT FOUND"))
        r, c = self.h.call("KEEPALIVE", "leech")
        self.assertEqual((r.code, field(c, "KeepAliveInterval")), (200, "60"))
        r, c = self.h.call("STAT_REPORT", "leech", '<Stats><Stat property="UploadBandwidth">900</Stat></Stats>')
        self.assertEqual(r.code, 200)
        r, c = self.h.call("LEAVE", "leech", "<SwarmID>s</SwarmID>")
        self.assertEqual(r.code, 200)
        r, c = self.h.call("DISCONNECT", "seed")
        self.assertEqual(r.code, 200)
        r, c = self.h.call("KEEPALIVE", "seed")
        self.assertEqual((r.code, field(c, "Response")), (401, "AUTHENTICATION REQUIRED"))

    def test_belowPath(self) -> None:
        """
        The resource answers POST at any path below it, also when mounted
        with putChild.
        """
        h = Harness(self, mount=b"tracker")
        response, _ = h.post(message("CONNECT"), path="tracker/video_1/x")
        self.assertEqual(response.code, 200)
        response, _ = h.post(message("CONNECT", "2", "peer-b"), path="tracker")
        self.assertEqual(response.code, 200)


class ErrorTests(SynchronousTestCase):
    """
    Every error gets the protocol's error response with the right status.
    """

    def setUp(self) -> None:
        self.h = Harness(self)

    def test_otherMethods(self) -> None:
        """
        GET, PUT, DELETE and HEAD get 405 with C{Allow: POST}; HEAD has no
        body, the others an XML MESSAGE NOT SUPPORTED.
        """
        for method in ("GET", "PUT", "DELETE", "OPTIONS", "HEAD"):
            response, content = self.h.request(method)
            self.assertEqual(response.code, 405, method)
            self.assertEqual(response.headers.getRawHeaders(b"allow"), [b"POST"])
            if method == "HEAD":
                self.assertEqual(content, b"")
                self.assertNotEqual(response.headers.getRawHeaders(b"content-length"), [b"0"])
            else:
                self.assertEqual(field(content, "Response"), "MESSAGE NOT SUPPORTED")

    def test_contentTypes(self) -> None:
        """
        The XML media types (any case, with parameters) are accepted; with
        no or another type the first byte decides; a JSON media type selects
        the JSON codec, which answers a malformed JSON request in JSON
        (error 01, 400); anything else is INVALID SYNTAX.
        """
        for i, ctype in enumerate([b"text/xml; charset=utf-8", b"APPLICATION/XML", b"application/ppsp-tracker+xml;charset=UTF-8", None, b"text/plain"]):
            response, content = self.h.post(message("CONNECT", str(i), f"p{i}"), contentType=ctype)
            self.assertEqual(response.code, 200, (ctype, content))
        response, content = self.h.post(b'{"PPSPTrackerProtocol": {}}', contentType=b"application/ppsp-tracker+json")
        self.assertEqual(response.code, 400)
        self.assertEqual(response.headers.getRawHeaders(b"content-type"), [b"application/ppsp-tracker+json"])
        answer = json.loads(content)["PPSPTrackerProtocol"]
        self.assertEqual((answer["response_type"], answer["error_code"]), (1, 1))
        response, content = self.h.post(b"hello", contentType=None)
        self.assertEqual((response.code, field(content, "Response")), (400, "INVALID SYNTAX"))

    def test_malformed(self) -> None:
        """
        A body that is not well-formed is INVALID SYNTAX; a readable
        TransactionID is echoed; an unknown method is MESSAGE NOT
        SUPPORTED; a bad version VERSION NOT SUPPORTED.
        """
        response, content = self.h.post(b"<PPSPTrackerProtocol")
        self.assertEqual((response.code, field(content, "Response")), (400, "INVALID SYNTAX"))
        response, content = self.h.post(message("DANCE", "tx-5"))
        self.assertEqual((response.code, field(content, "Response"), field(content, "TransactionID")), (400, "MESSAGE NOT SUPPORTED", "tx-5"))
        response, content = self.h.post(message("CONNECT").replace(b'Protocol version="1.0"', b'Protocol version="2.0"'))
        self.assertEqual((response.code, field(content, "Response")), (400, "VERSION NOT SUPPORTED"))

    def test_unauthorised(self) -> None:
        """
        401 carries a C{WWW-Authenticate} header naming the scheme.
        """
        response, content = self.h.call("KEEPALIVE")
        self.assertEqual(response.code, 401)
        self.assertEqual(response.headers.getRawHeaders(b"www-authenticate"), [b"PPSP-Open"])

    def test_forbiddenAndNotFound(self) -> None:
        """
        A missing token is 403; an unknown swarm is 404.
        """
        self.h.connect()
        response, content = self.h.post(message("KEEPALIVE"))
        self.assertEqual((response.code, field(content, "Response")), (403, "MESSAGE FORBIDDEN"))
        response, content = self.h.call("FIND", body="<SwarmID>nope</SwarmID>")
        self.assertEqual((response.code, field(content, "Response")), (404, "OBJECT NOT FOUND"))

    def test_throttled(self) -> None:
        """
        Past its burst an address gets 503 TEMPORARILY OVERLOADED with
        C{Retry-After}, before its body is even decoded.
        """
        h = Harness(self, rateLimit=1, rateBurst=2)
        codes = [h.post(b"garbage")[0].code for _ in range(3)]
        self.assertEqual(codes, [400, 400, 503])
        response, content = h.post(message("CONNECT"))
        self.assertEqual(response.code, 503)
        self.assertEqual(response.headers.getRawHeaders(b"retry-after"), [b"1"])
        self.assertEqual(field(content, "Response"), "TEMPORARILY OVERLOADED")

    def test_bodyTooLarge(self) -> None:
        """
        A body over the limit gets 413 with INVALID SYNTAX even in a plain
        Site (after twisted.web buffered it).
        """
        self.h.resource.maxBody = 100
        response, content = self.h.post(message("CONNECT", body="<Cer>" + "x" * 200 + "</Cer>"))
        self.assertEqual((response.code, field(content, "Response")), (413, "INVALID SYNTAX"))
        self.assertEqual(self.h.counts()[0], 0)

    def test_internalError(self) -> None:
        """
        A bug in the tracker gives 500 INTERNAL ERROR with the
        TransactionID-less protocol body, no traceback, and a logged
        failure.
        """

        def broken(request: Any, origin: Any) -> Any:
            raise ZeroDivisionError("secret detail")

        self.h.tracker.handle = broken  # type: ignore[method-assign]
        response, content = self.h.post(message("CONNECT"))
        self.assertEqual((response.code, field(content, "Response")), (500, "INTERNAL ERROR"))
        self.assertNotIn(b"secret", content)
        self.assertNotIn(b"Traceback", content)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_asynchronousAnswer(self) -> None:
        """
        When the tracker answers later (an asynchronous checker), the HTTP
        response waits for it.
        """
        pending: Deferred[Any] = Deferred()

        class Later:
            credentialInterfaces = ()
            scheme = "Later"

            def requestAvatarId(self, credentials: Any) -> Any:
                return pending

        self.h.tracker.checker = Later()  # type: ignore[assignment]
        d = self.h.treq.post(URL, data=message("CONNECT"), headers={b"Content-Type": [XML]})
        self.h.treq.flush()
        self.assertNoResult(d)
        from twisted.cred.checkers import ANONYMOUS

        pending.callback(ANONYMOUS)
        self.h.treq.flush()
        response = self.successResultOf(d)
        self.assertEqual(response.code, 200)


@implementer(ICodec)
class HeaderTokenCodec:
    """
    An encoding of a test's own: the XML one, except that the AuthToken
    travels in an C{X-Token} header, and every answer, errors included,
    is HTTP 200.
    """

    name = "xml-header-token"
    contentType = XML_CODEC.contentType

    def decodeRequest(self, body: bytes) -> Message:
        return XML_CODEC.decodeRequest(body)

    def encodeResponse(self, response: Answer) -> bytes:
        return XML_CODEC.encodeResponse(response)

    def encodeRequest(self, request: Message) -> bytes:
        return XML_CODEC.encodeRequest(request)

    def requestHeaders(self, request: Message) -> Dict[bytes, List[bytes]]:
        return XML_CODEC.requestHeaders(request)

    def decodeResponse(self, body: bytes, method: Method) -> Answer:
        return XML_CODEC.decodeResponse(body, method)

    def requestFromHeaders(self, request: Message, headers: Headers) -> Message:
        token = headers.getRawHeaders(b"x-token")
        if token is None:
            return request
        return dataclasses.replace(request, authToken=token[-1].decode("ascii"))

    def httpStatus(self, code: ResponseCode) -> int:
        return 200


class EncodingTests(SynchronousTestCase):
    """
    The resource leaves every encoding-specific question to the codec the
    request selects: what it reads from the HTTP request's headers, and
    which HTTP status each response code gets.
    """

    def test_codecOfOnesOwn(self) -> None:
        """
        A codec that carries the AuthToken in a header of its own and
        answers every code with HTTP 200 is served as it says: the token
        in its header opens the session's requests, and an error (a wrong
        token) is 200 with MESSAGE FORBIDDEN in the body.
        """
        codec = HeaderTokenCodec()
        self.assertTrue(verifyObject(ICodec, codec))
        h = Harness(self)
        h.connect("peer-a")
        self.patch(resourceModule, "selectCodec", lambda contentType, body: codec)

        def keepAlive(token: str) -> Tuple[int, bytes]:
            d = h.treq.request(
                "POST",
                URL,
                data=message("KEEPALIVE", "k"),
                headers={b"Content-Type": [XML], b"X-Token": [token.encode("ascii")]},
            )
            h.treq.flush()
            response = self.successResultOf(d)
            return response.code, self.successResultOf(h.treq.content(response))

        code, content = keepAlive(h.tokens["peer-a"])
        self.assertEqual((code, field(content, "Response")), (200, "OK"), content)
        code, content = keepAlive("wrong")
        self.assertEqual((code, field(content, "Response")), (200, "MESSAGE FORBIDDEN"))

    def test_xmlReadsNoHeader(self) -> None:
        """
        An XML request is read from its body alone: an C{Authorization:
        Bearer} header with the session's token does not stand for a
        missing AuthToken (MESSAGE FORBIDDEN, 403).
        """
        h = Harness(self)
        h.connect("peer-a")
        d = h.treq.request(
            "POST",
            URL,
            data=message("KEEPALIVE", "k"),
            headers={
                b"Content-Type": [XML],
                b"Authorization": [b"Bearer " + h.tokens["peer-a"].encode("ascii")],
            },
        )
        h.treq.flush()
        response = self.successResultOf(d)
        content = self.successResultOf(h.treq.content(response))
        self.assertEqual((response.code, field(content, "Response")), (403, "MESSAGE FORBIDDEN"))


class HostileInputTests(SynchronousTestCase):
    """
    No input makes the resource answer 500 or change state.
    """

    @settings(max_examples=150, deadline=None)
    @given(st.binary(max_size=400), st.sampled_from([XML, b"text/xml", None, b"application/json", b"x/y"]))
    def test_randomBytes(self, body: bytes, contentType: Optional[bytes]) -> None:
        """
        Random bodies get a 4xx protocol answer and register nothing.
        """
        h = Harness(self, rateLimit=0)
        response, content = h.post(body, contentType=contentType)
        self.assertTrue(400 <= response.code < 500, (response.code, content))
        self.assertEqual(h.counts(), (0, 0))

    @settings(max_examples=150, deadline=None)
    @given(st.data())
    def test_mutatedMessages(self, data: st.DataObject) -> None:
        """
        Valid messages with bytes flipped, cut or duplicated never produce a
        500.
        """
        h = Harness(self, rateLimit=0)
        h.connect()
        token = h.tokens["peer-a"]
        body = bytearray(message("JOIN", "m1", "peer-a", token, '<SwarmID>s</SwarmID><Stats><Stat property="UploadBandwidth">5</Stat></Stats>'))
        for _ in range(data.draw(st.integers(1, 4))):
            i = data.draw(st.integers(0, len(body) - 1))
            op = data.draw(st.sampled_from(["flip", "cut", "dup"]))
            if op == "flip":
                body[i] = data.draw(st.integers(0, 255))
            elif op == "cut":
                del body[i:]
                if not body:
                    body = bytearray(b"<")
            else:
                body[i:i] = body[i:i + 20]
        response, content = h.post(bytes(body))
        self.assertNotEqual(response.code // 100, 5, content)


class RealSocketTests(TestCase):
    """
    What only a real connection shows: bodies refused while they arrive,
    and persistent connections.
    """

    @inlineCallbacks
    def setUp(self) -> Any:  # type: ignore[override]
        clock = Clock()
        self.tracker: Any = Tracker(clock, TrackerConfig(rateLimit=0))
        self.site = TrackerSite(TrackerResource(self.tracker, maxBody=1000), maxBody=1000)
        self.port = yield TCP4ServerEndpoint(_globalReactor, 0, interface="127.0.0.1").listen(self.site)
        self.addCleanup(self.port.stopListening)

    @inlineCallbacks
    def exchange(self, data: bytes, expectClose: bool = True) -> Any:
        """
        Send raw bytes and collect what comes back until the server closes
        (or, for keep-alive, until two responses arrived).
        """
        received = bytearray()
        done: Deferred[bytes] = Deferred()

        class Collect(Protocol):
            transport: Any

            def connectionMade(self) -> None:
                self.transport.write(data)

            def dataReceived(self, chunk: bytes) -> None:
                received.extend(chunk)
                if not expectClose and received.count(b"HTTP/1.1 ") >= 2 and received.endswith(b"</PPSPTrackerProtocol>"):
                    self.transport.loseConnection()

            def connectionLost(self, reason: Any = None) -> None:
                done.callback(bytes(received))

        factory = ClientFactory.forProtocol(Collect)
        endpoint = TCP4ClientEndpoint(_globalReactor, "127.0.0.1", self.port.getHost().port)
        yield endpoint.connect(factory)
        result = yield done
        return result

    @inlineCallbacks
    def test_declaredLengthRefused(self) -> Any:
        """
        A declared Content-Length over the limit gets 413 at once, with the
        protocol's body, and the connection is closed without the body being
        sent.
        """
        raw = yield self.exchange(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/ppsp-tracker+xml\r\n"
            b"Content-Length: 10000000\r\n\r\n"
        )
        self.assertTrue(raw.startswith(b"HTTP/1.1 413 "), raw)
        self.assertIn(b"<Response>INVALID SYNTAX</Response>", raw)

    @inlineCallbacks
    def test_chunkedBodyRefused(self) -> Any:
        """
        A chunked body is refused as soon as it passes the limit.
        """
        chunk = b"x" * 600
        raw = yield self.exchange(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/ppsp-tracker+xml\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
            + (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 3
        )
        self.assertTrue(raw.startswith(b"HTTP/1.1 413 "), raw)
        self.assertEqual((yield self.tracker.store.counts())[0], 0)

    @inlineCallbacks
    def test_persistentConnection(self) -> Any:
        """
        Two requests on one connection get two answers (HTTP/1.1 keep-alive)
        and the observed address is the socket's.
        """
        one = message("CONNECT", "1", "a")
        two = message("CONNECT", "2", "b")
        request = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/ppsp-tracker+xml\r\nContent-Length: %d\r\n\r\n%s"
        raw = yield self.exchange(request % (len(one), one) + request % (len(two), two), expectClose=False)
        self.assertEqual(raw.count(b"HTTP/1.1 200 OK"), 2)
        self.assertEqual(re.findall(rb'ReflexiveAddress ip="([^"]+)"', raw), [b"127.0.0.1", b"127.0.0.1"])
        self.assertEqual((yield self.tracker.store.peer("a")).observedIP, "127.0.0.1")
