# -*- test-case-name: ppsp.test.test_resource -*-
"""
The HTTP face of the tracker: a twisted.web resource, a request class that
refuses oversized bodies before buffering them, and a site that puts them
together with the settings a tracker wants.

The resource decides no protocol question: it checks the transport-level
facts (method, size, content type, client address, throttle), lets the
codec turn the body into a request, lets the L{Tracker} answer it, and
writes the answer.  Whatever goes wrong, the client gets the protocol's
error response, never a traceback.

Every answer, errors included, is written in the encoding of the request:
the codec its C{Content-Type} selects, or, when it has none or another
one, the one its first byte selects; XML when neither does.  The codec
also says what it reads from the HTTP request's headers
(L{ICodec.requestFromHeaders}: for JSON, RFC 7846, the C{Authorization:
Bearer} credential; the tracker core decides what it is worth) and which
HTTP status each response code gets (L{ICodec.httpStatus}).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.resource import Resource
from twisted.internet.protocol import Protocol, connectionDone
from twisted.web.http import HTTPChannel
from twisted.web.server import NOT_DONE_YET, Request, Site

from ppsp._http import notPost
from ppsp._ratelimit import RateLimitedLog
from ppsp.codec import XML_CODEC, DecodeError, selectCodec
from ppsp.interfaces import ICodec
from ppsp.messages import ErrorResponse, ProtocolError, Response, ResponseCode
from ppsp.tracker.addresses import IPNetwork, canonicalAddress, inNetworks
from ppsp.tracker.core import Origin, Tracker
from ppsp.tracker.metrics import TrackerMetrics
from ppsp.tracker.overload import LoadShedder
from ppsp.tracker.throttle import AddressThrottle

__all__ = ["TrackerResource", "LimitedRequest", "TrackerSite", "DeadlineChannel", "DEFAULT_MAX_BODY"]

#: The default body limit, in bytes (PROTOCOL.md section 1).
DEFAULT_MAX_BODY = 64 * 1024

_NO_STORE = b"no-store"


_Network = IPNetwork


def _canonicalIP(text: str) -> Optional[str]:
    """
    An IP address in canonical text (L{canonicalAddress}), or L{None} when
    C{text} is not an IP address.
    """
    address = canonicalAddress(text)
    return None if address is None else str(address)


def _trusted(ip: str, networks: Sequence[_Network]) -> bool:
    return inNetworks(ipaddress.ip_address(ip), networks)


def _clientOrigin(request: Request, trustedProxies: Sequence[_Network] = ()) -> Origin:
    """
    The address the request came from: the TCP peer, unless that is a
    trusted proxy, in which case the rightmost address of the
    C{X-Forwarded-For} header that is not a trusted proxy itself (the
    port is then unknown: 0).  A header entry that is not an IP address
    stops the walk, and the last trusted hop counts.  IPv4-mapped IPv6
    addresses are written as IPv4; an address without a host (a UNIX
    socket) is loopback.
    """
    address = request.getClientAddress()
    host = getattr(address, "host", None)
    port = getattr(address, "port", 0) or 0
    if not host:
        return Origin("127.0.0.1", 0)
    # An IPv4 peer's host is what inet_ntop wrote, canonical already:
    # parsing it again cost a few microseconds of every request.
    ip = host if type(address) is IPv4Address else _canonicalIP(host)
    if ip is None:
        return Origin(host, port)
    if not trustedProxies or not _trusted(ip, trustedProxies):
        return Origin(ip, port)
    forwarded = request.requestHeaders.getRawHeaders(b"x-forwarded-for") or []
    hops = [h for value in forwarded for h in value.decode("latin-1").split(",")]
    for hop in reversed(hops):
        candidate = _canonicalIP(hop)
        if candidate is None:
            break
        ip = candidate
        if not _trusted(ip, trustedProxies):
            return Origin(ip, 0)
    return Origin(ip, 0 if hops else port)


def _peerCertificate(request: Request) -> Optional[bytes]:
    """
    The DER bytes of the TLS client certificate of the request's
    connection, or L{None}; read once per connection (a connection's
    certificate does not change), so that every request of a TLS
    connection shares the same bytes.
    """
    channel: Any = request.channel
    cached = getattr(channel, "ppspPeerCertificate", _UNREAD)
    if cached is not _UNREAD:
        return cached  # type: ignore[return-value]
    certificate = _readPeerCertificate(channel)
    try:
        channel.ppspPeerCertificate = certificate
    except AttributeError:
        pass
    return certificate


_UNREAD = object()


def _readPeerCertificate(channel: Any) -> Optional[bytes]:
    transport = getattr(channel, "transport", None)
    getCertificate = getattr(transport, "getPeerCertificate", None)
    if getCertificate is None:
        return None
    try:
        certificate = getCertificate()
    except Exception:
        return None
    if certificate is None:
        return None
    from OpenSSL import crypto

    return crypto.dump_certificate(crypto.FILETYPE_ASN1, certificate)


class TrackerResource(Resource):
    """
    The tracker protocol over HTTP: POST at this resource's path or any path
    below it; every other method gets 405 with C{Allow: POST}.

    Mount it anywhere in a site (C{root.putChild(b"tracker",
    TrackerResource(tracker))}); serve it with a L{TrackerSite} to refuse
    oversized bodies before they are read.

    Each request is counted in the tracker's L{TrackerMetrics}
    (C{tracker.metrics}): an answered one with its method (C{"?"} when it
    could not be decoded), its response code and its latency, from the
    start of L{render} to its answer (a later one for an asynchronous
    answer); one refused before decoding with its reason (C{"shed"},
    C{"throttled"}, C{"banned"}, C{"too-large"}, C{"method"} for a method other than
    POST).

    @param tracker: the L{Tracker} that answers requests.
    @param maxBody: the largest body accepted, in bytes.
    @param trustedProxies: networks (CIDR text or L{ipaddress} networks)
        of proxies whose C{X-Forwarded-For} header names the client.
    @param shedder: a L{LoadShedder} that refuses requests early when the
        tracker falls behind, or L{None}.
    @param throttle: the per-address throttle (L{AddressThrottle}), applied
        before the body is decoded; by default one with the rate and burst
        of the tracker's config (C{rateLimit}, C{rateBurst}; a C{rateLimit}
        of 0 turns it off).
    """

    isLeaf = True
    allowedMethods = (b"POST",)
    log = Logger()

    def __init__(
        self,
        tracker: Tracker,
        maxBody: int = DEFAULT_MAX_BODY,
        trustedProxies: Sequence[Union[str, _Network]] = (),
        shedder: Optional[LoadShedder] = None,
        throttle: Optional[AddressThrottle] = None,
    ) -> None:
        super().__init__()
        self.tracker = tracker
        if throttle is None:
            config = tracker.config
            throttle = AddressThrottle(tracker.clock, config.rateLimit, config.rateBurst)
        self.throttle = throttle
        self.maxBody = maxBody
        self.trustedProxies: Tuple[_Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) if isinstance(n, str) else n
            for n in trustedProxies
        )
        self.shedder = shedder
        #: Where requests are counted: the tracker's metrics.
        self.metrics: TrackerMetrics = tracker.metrics
        self._seconds = tracker.clock.seconds
        #: The banned addresses (the tracker's L{Bans}), refused first.
        self.bans = tracker.bans
        self._banLog = RateLimitedLog(self.log, tracker.clock, 60.0)
        #: The debug line about each request that could not be decoded,
        #: at most one a second (a client can send garbage as fast as it
        #: likes; the next line says how many were not written).
        self._undecodable = RateLimitedLog(self.log, tracker.clock)

    def render(self, request: Request) -> Any:
        """
        Answer POST; refuse every other method (HEAD included) with 405.
        """
        start = self._seconds()
        try:
            if request.method != b"POST":
                self.metrics.refused("method")
                codec = _answerCodec(request.getHeader(b"content-type"), _peek(request, self.maxBody))
                return notPost(request, codec, "the tracker takes POST only")
            return self._post(request, start)
        except Exception:
            self.log.failure("tracker resource failed")
            self.metrics.answered("?", ResponseCode.INTERNAL_ERROR.text, self._seconds() - start)
            return self._internalError(
                request, _answerCodec(request.getHeader(b"content-type"), _peek(request, self.maxBody)), ""
            )

    def _post(self, request: Request, start: float) -> Any:
        contentType = request.getHeader(b"content-type")
        metrics = self.metrics
        shedder = self.shedder
        if shedder is not None:
            retryAfter = shedder.check()
            if retryAfter is not None:
                metrics.refused("shed")
                return self._overloaded(request, contentType, retryAfter, "the tracker is overloaded")
        origin = _clientOrigin(request, self.trustedProxies)
        if self.bans.banned(origin.ip):
            metrics.refused("banned")
            return self._banned(request, contentType, origin.ip)
        retryAfter = self.throttle.admit(origin.ip)
        if retryAfter is not None:
            metrics.refused("throttled")
            return self._overloaded(
                request, contentType, retryAfter, "too many requests from this address"
            )
        content = request.content
        if content is None:
            body = b""
        else:
            content.seek(0)
            body = content.read(self.maxBody + 1)
        if len(body) > self.maxBody:
            metrics.refused("too-large")
            return self._reply(
                request,
                _answerCodec(contentType, body),
                _tooLarge(self.maxBody),
                status=413,
            )
        try:
            codec = selectCodec(contentType, body)
            message = codec.requestFromHeaders(codec.decodeRequest(body), request.requestHeaders)
        except DecodeError as e:
            self.tracker.countEvent("undecodable")
            self._undecodable.emit(
                LogLevel.debug,
                "could not decode a request from {peer}: {code}: {reason}",
                peer=origin.ip,
                code=e.code.text,
                reason=e.reason,
            )
            error = e.toResponse()
            answer = self._reply(request, _answerCodec(contentType, body), error)
            metrics.answered("?", error.code.text, self._seconds() - start)
            return answer
        # Every request: a session opened over a client certificate stays
        # bound to it, and the retry cache tells identities apart by it.
        certificate = _peerCertificate(request)
        if certificate is not None:
            origin = dataclasses.replace(origin, certificate=certificate)
        response = self.tracker.handle(message, origin)
        method = message.method.value
        transactionID = message.transactionID
        # Whether the answer was written, and whether the connection went
        # away before it could be.
        answered = False
        gone: list[Failure] = []

        def send(body: bytes) -> None:
            # With its length, so that the answer is not chunked.
            request.setHeader(b"content-length", b"%d" % (len(body),))
            request.write(body)
            request.finish()

        def write(result: Response) -> None:
            nonlocal answered
            answered = True
            if not gone:
                send(self._reply(request, codec, result))
                metrics.answered(method, result.code.text, self._seconds() - start)

        def failed(f: Failure) -> None:
            nonlocal answered
            answered = True
            self.log.failure("tracker failed", f)
            if not gone:
                send(self._internalError(request, codec, transactionID))
                metrics.answered(method, ResponseCode.INTERNAL_ERROR.text, self._seconds() - start)

        response.addCallback(write).addErrback(failed)
        if not answered:
            # The answer comes later (the store, the credentials checker
            # or the strategy answers asynchronously): until it does, the
            # request is in flight for the load shedder, and a connection
            # lost meanwhile is remembered so that nothing is written to
            # it.  An answer written within render needs neither: this
            # saves a Deferred and its callbacks on every request the
            # memory store answers at once.
            finished = request.notifyFinish()
            finished.addErrback(gone.append)
            if shedder is not None:
                shedder.started()
                finished.addBoth(shedder.finished)
        return NOT_DONE_YET

    def _banned(self, request: Request, contentType: Optional[bytes], ip: str) -> bytes:
        """
        Refuse a request from a banned address, before its body is
        decoded: MESSAGE FORBIDDEN, HTTP 403, in the request's encoding.
        """
        self._banLog.emit(
            LogLevel.info, "refused a request from the banned address {ip}", ip=ip
        )
        return self._reply(
            request,
            _answerCodec(contentType, _peek(request, self.maxBody)),
            ErrorResponse("", ResponseCode.MESSAGE_FORBIDDEN, "this address is banned"),
            status=403,
        )

    def _overloaded(
        self, request: Request, contentType: Optional[bytes], retryAfter: float, reason: str
    ) -> bytes:
        request.setHeader(b"retry-after", b"%d" % (max(1, math.ceil(retryAfter)),))
        return self._reply(
            request,
            _answerCodec(contentType, _peek(request, self.maxBody)),
            ErrorResponse("", ResponseCode.TEMPORARILY_OVERLOADED, reason),
        )

    def _reply(
        self,
        request: Request,
        codec: ICodec,
        response: Response,
        status: Optional[int] = None,
    ) -> bytes:
        code = response.code
        request.setResponseCode(codec.httpStatus(code) if status is None else status)
        request.setHeader(b"content-type", codec.contentType)
        request.setHeader(b"cache-control", _NO_STORE)
        if code is ResponseCode.AUTHENTICATION_REQUIRED:
            scheme = getattr(self.tracker.checker, "scheme", "PPSP")
            request.setHeader(b"www-authenticate", scheme.encode("ascii"))
        elif code is ResponseCode.TEMPORARILY_OVERLOADED and not request.responseHeaders.hasHeader(
            b"retry-after"
        ):
            request.setHeader(b"retry-after", b"1")
        try:
            return codec.encodeResponse(response)
        except Exception:
            self.log.failure("could not encode a response")
            return self._internalError(request, codec, response.transactionID)

    def _internalError(self, request: Request, codec: ICodec, transactionID: str) -> bytes:
        request.setResponseCode(500)
        request.setHeader(b"content-type", codec.contentType)
        request.setHeader(b"cache-control", _NO_STORE)
        return codec.encodeResponse(
            ErrorResponse(transactionID, ResponseCode.INTERNAL_ERROR, "the tracker failed")
        )


_BLANK = b" \t\r\n\xef\xbb\xbf"


def _peek(request: Request, limit: int = DEFAULT_MAX_BODY) -> bytes:
    """
    The start of a request's body, up to its first non-blank byte (at most
    C{limit} bytes), to sniff its encoding from before the body is read
    (for an error answered early).
    """
    content = request.content
    if content is None:
        return b""
    try:
        content.seek(0)
        head = b""
        while len(head) < limit:
            chunk: bytes = content.read(4096)
            if not chunk:
                break
            head += chunk
            if head.lstrip(_BLANK):
                break
        content.seek(0)
    except Exception:
        return b""
    return head


def _answerCodec(contentType: Optional[bytes], body: bytes) -> ICodec:
    """
    The codec to answer in when the request could not be decoded (or was
    not read): the one that its C{Content-Type} or, failing that, its first
    byte selects; XML when nothing does.
    """
    try:
        return selectCodec(contentType, body)
    except ProtocolError:
        return XML_CODEC


#: Ready-made 503 answers, by content type and Retry-After seconds.
_OVERLOADED: Dict[Tuple[bytes, int], bytes] = {}


def _overloadedAnswer(data: bytes, retryAfter: float) -> Optional[bytes]:
    """
    The whole HTTP answer TEMPORARILY OVERLOADED (503, C{Retry-After}) to
    the request in C{data}, in the encoding its C{Content-Type} (or first
    byte) selects, when C{data} is exactly one complete HTTP/1.1 POST
    with a C{Content-Length} (or no body) and no C{Connection: close},
    C{Expect} or C{Transfer-Encoding}; else L{None}: the request is left
    to twisted.web.  Only called while the tracker sheds load.
    """
    if not data.startswith(b"POST "):
        return None
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].lower().split(b"\r\n")
    if not lines[0].endswith(b" http/1.1"):
        return None
    length = 0
    contentType: Optional[bytes] = None
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            return None
        name = name.strip()
        value = value.strip()
        if name == b"content-length":
            if not value.isdigit():
                return None
            length = int(value)
        elif name == b"content-type":
            contentType = value
        elif name in (b"transfer-encoding", b"expect") or (
            name == b"connection" and b"close" in value
        ):
            return None
    body = data[end + 4:]
    if len(body) != length:
        return None
    codec = _answerCodec(contentType, body)
    seconds = max(1, math.ceil(retryAfter))
    key = (codec.contentType, seconds)
    answer = _OVERLOADED.get(key)
    if answer is None:
        encoded: bytes = codec.encodeResponse(
            ErrorResponse("", ResponseCode.TEMPORARILY_OVERLOADED, "the tracker is overloaded")
        )
        answer = _OVERLOADED[key] = (
            b"HTTP/1.1 503 Service Unavailable\r\n"
            b"Content-Type: " + codec.contentType + b"\r\n"
            b"Cache-Control: no-store\r\n"
            b"Retry-After: %d\r\n"
            b"Content-Length: %d\r\n\r\n" % (seconds, len(encoded)) + encoded
        )
    return answer


def _tooLarge(maxBody: int) -> ErrorResponse:
    return ErrorResponse(
        "", ResponseCode.INVALID_SYNTAX, f"the body is larger than {maxBody} bytes"
    )


class LimitedRequest(server.Request):
    """
    A request that refuses a body larger than its site's C{maxBody} while
    it arrives: a declared C{Content-Length} over the limit is refused
    before any of the body is read, and a chunked body as soon as it
    passes the limit.  The refusal is a 413 with the protocol's INVALID
    SYNTAX body, and the connection is closed.
    """

    _rejected = False
    _received = 0

    def _limit(self) -> Optional[int]:
        return getattr(getattr(self.channel, "site", None), "maxBody", None)

    def gotLength(self, length: Optional[int]) -> None:
        """
        Refuse a declared length over the limit at once.
        """
        limit = self._limit()
        if limit is not None and length is not None and length > limit:
            self._reject(limit)
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        """
        Count the body as it arrives and refuse it past the limit.
        """
        if self._rejected:
            return
        self._received += len(data)
        limit = self._limit()
        if limit is not None and self._received > limit:
            self._reject(limit)
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        """
        Process the request unless its body was refused.
        """
        if not self._rejected:
            super().requestReceived(command, path, version)

    def _reject(self, limit: int) -> None:
        self._rejected = True
        metrics: Optional[TrackerMetrics] = getattr(getattr(self.channel, "site", None), "metrics", None)
        if metrics is not None:
            metrics.refused("too-large")
        # twisted.web answers "Expect: 100-continue" right after gotLength:
        # a refused request expects nothing more (no 100 after the 413).
        self.requestHeaders.removeHeader(b"expect")
        # The headers are in; the body is not: the media type decides.
        codec = _answerCodec(self.getHeader(b"content-type"), b"")
        body = codec.encodeResponse(_tooLarge(limit))
        transport: Any = self.channel.transport
        transport.write(
            b"HTTP/1.1 413 Request Entity Too Large\r\n"
            b"Content-Type: " + codec.contentType + b"\r\n"
            b"Cache-Control: no-store\r\n"
            b"Connection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % (len(body),) + body
        )
        transport.loseConnection()


#: The first byte of a TLS record that carries a handshake (a ClientHello).
_TLS_HANDSHAKE = b"\x16"


class _Refused(Protocol):
    """
    A connection past a site's cap: closed as soon as it is made.  (A
    factory that returns L{None} makes a plain TCP port close the socket,
    but breaks the wrappers that TLS and PROXY-protocol listeners put
    around the factory; this protocol closes it under every wrapper.)
    """

    def connectionMade(self) -> None:
        self.transport.abortConnection()  # type: ignore[union-attr]


class DeadlineChannel(HTTPChannel):
    """
    An HTTP connection that must deliver each request, headers and body,
    within its site's C{requestTimeout} seconds of the request's first
    byte, or be dropped.  The idle timeout of twisted.web restarts on
    every byte received, so a client that trickles a request a byte at a
    time ("slowloris") would otherwise hold the connection for ever.

    While its site's L{LoadShedder} (C{site.shedder}) says the tracker is
    overloaded, a POST that arrives whole in one read, on a connection
    with no other request open, is answered at once with a ready-made 503
    TEMPORARILY OVERLOADED (C{Retry-After}, in the encoding its
    C{Content-Type} selects) and never reaches twisted.web's parser: a
    refusal then costs a fraction of what a parsed request costs, and the
    connection stays open.  Any other request goes on as usual (the
    resource asks the shedder again).

    A connection whose first byte is that of a TLS handshake (a client
    speaking HTTPS to a plain-HTTP port) is closed at once, without an
    answer.  The connection counts towards its site's open connections
    (L{TrackerSite.maxConnections}) from C{connectionMade} to
    C{connectionLost}.
    """

    log = Logger()
    _deadline: Optional[Any] = None
    _fresh = True
    _counted = False
    # Bytes of a request not yet complete went to twisted.web's parser.
    _midRequest = False

    def connectionMade(self) -> None:
        """
        Count the connection in its site.
        """
        opened = getattr(getattr(self, "site", None), "channelOpened", None)
        if opened is not None:
            opened(self)
            self._counted = True
        super().connectionMade()

    def dataReceived(self, data: bytes) -> None:
        """
        Close the connection when it starts with a TLS handshake; refuse
        a whole request at once while shedding load; start the deadline at
        the first byte of a request.
        """
        if self._fresh:
            self._fresh = False
            if data[:1] == _TLS_HANDSHAKE:
                self._notHTTP()
                return
        if not self._midRequest:
            # The first bytes of a request: refuse it here, unparsed, when
            # shedding load and it arrived whole (see the class docstring).
            shedder: Optional[LoadShedder] = getattr(getattr(self, "site", None), "shedder", None)
            if shedder is not None and not self.requests and shedder.overloaded():
                answer = _overloadedAnswer(data, shedder.retryAfter)
                if answer is not None:
                    shedder.refused()
                    metrics: Optional[TrackerMetrics] = getattr(getattr(self, "site", None), "metrics", None)
                    if metrics is not None:
                        metrics.refused("shed")
                    self.resetTimeout()
                    self.transport.write(answer)  # type: ignore[union-attr]
                    return
            self._midRequest = True
        if self._deadline is None:
            limit = getattr(getattr(self, "site", None), "requestTimeout", None)
            if limit:
                self._deadline = self.callLater(limit, self._tooSlow)
        super().dataReceived(data)

    def allContentReceived(self) -> None:
        """
        The request is complete: the deadline is met.
        """
        self._midRequest = False
        self._cancelDeadline()
        super().allContentReceived()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Forget the deadline with the connection; it no longer counts.
        """
        self._cancelDeadline()
        if self._counted:
            self._counted = False
            self.site.channelClosed(self)  # type: ignore[attr-defined]
        super().connectionLost(reason)

    @property
    def idle(self) -> bool:
        """
        Whether no request is open on this connection: none is being
        received, answered or waiting behind another.
        """
        return not self.requests and not self._midRequest

    #: Whether the connection closes after the request now open (set by
    #: L{closeWhenDone}).
    closing = False

    def closeWhenDone(self) -> None:
        """
        Close the connection now when it is idle, else once the request
        open on it has been answered; that answer (and the answer to a
        request whose headers are still arriving) says C{Connection:
        close}, and nothing the client sends after it is read.  A
        graceful stop calls it (L{TrackerSite.drain}).
        """
        self.closing = True
        if self.idle:
            self.loseConnection()
            return
        self.persistent = False
        for request in self.requests:
            if not request.startedWriting:
                request.responseHeaders.setRawHeaders(b"connection", [b"close"])

    def checkPersistence(self, request: Any, version: bytes) -> bool:
        """
        Whether the connection may stay open after C{request}: never once
        it is closing (L{closeWhenDone}); else as twisted.web decides.
        """
        if self.closing:
            request.responseHeaders.setRawHeaders(b"connection", [b"close"])
            return False
        return super().checkPersistence(request, version)  # type: ignore[no-any-return]

    def _notHTTP(self) -> None:
        transport = self.transport
        if transport is None:
            return
        noted = getattr(getattr(self, "site", None), "tlsOnPlainPort", None)
        if noted is not None:
            noted(transport.getPeer())
        transport.abortConnection()  # type: ignore[attr-defined]

    def _cancelDeadline(self) -> None:
        deadline, self._deadline = self._deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def _tooSlow(self) -> None:
        self._deadline = None
        peer = self.transport.getPeer() if self.transport is not None else None
        self.log.info(
            "dropped a connection from {peer}: its request took more than {limit} s",
            peer=getattr(peer, "host", "?"),
            limit=getattr(getattr(self, "site", None), "requestTimeout", None),
        )
        if self.transport is not None:
            self.transport.abortConnection()  # type: ignore[attr-defined]


class TrackerSite(Site):
    """
    A L{Site} set up for a tracker: bodies over C{maxBody} are refused while
    they arrive (L{LimitedRequest}), a request must arrive whole within
    C{requestTimeout} seconds (L{DeadlineChannel}), an idle connection is
    closed after C{timeout} seconds (twisted.web's own timeout, 60 by
    default), POST bodies are not parsed as forms, and the per-request
    access log is off unless asked for.

    With C{maxConnections}, a connection beyond that many open ones is
    closed as soon as it is accepted, and at most one line a second is
    logged about such refusals (so that a flood of connections can use
    neither every file descriptor of the process nor the disk).  A
    connection that starts with a TLS handshake is closed at once (see
    L{DeadlineChannel}), also with at most one line a second.

    @param resource: the root resource.
    @param maxBody: the largest request body, in bytes.
    @param accessLog: log one line per request.
    @param requestTimeout: seconds a request may take to arrive; L{None}
        for no limit.
    @param shedder: a L{LoadShedder} (the resource's) that refuses
        requests at the connection, before they are parsed, while the
        tracker is overloaded (see L{DeadlineChannel}); L{None} for none.
    @param maxConnections: the most connections open at once; L{None} or
        0 for no cap (see
        L{defaultMaxConnections<ppsp.tracker.listening.defaultMaxConnections>}).
    @param metrics: where to count the requests and connections refused
        before they reach the resource (C{"shed"} at the connection,
        C{"too-large"} while the body arrives, C{"connections"} past
        C{maxConnections}): the tracker's L{TrackerMetrics}, or L{None}.
    @param kwargs: passed to L{Site} (C{reactor}, C{timeout}, …).
    """

    requestFactory = LimitedRequest
    protocol = DeadlineChannel  # type: ignore[assignment]
    events = Logger()

    #: The connections open now.
    openConnections = 0

    def __init__(
        self,
        resource: Resource,
        maxBody: int = DEFAULT_MAX_BODY,
        accessLog: bool = False,
        requestTimeout: Optional[float] = 10.0,
        shedder: Optional[LoadShedder] = None,
        maxConnections: Optional[int] = None,
        metrics: Optional[TrackerMetrics] = None,
        **kwargs: Any,
    ) -> None:
        try:
            super().__init__(resource, parsePOSTFormSubmission=False, **kwargs)
        except TypeError:  # Twisted before the keyword existed.
            super().__init__(resource, **kwargs)
        self.maxBody = maxBody
        self.accessLog = accessLog
        self.requestTimeout = requestTimeout
        self.shedder = shedder
        self.maxConnections = maxConnections or None
        self.metrics = metrics
        #: The connections (L{DeadlineChannel}s) open now.
        self.channels: Set[DeadlineChannel] = set()
        #: Whether the site is closing its connections for a stop
        #: (L{drain}).
        self.draining = False
        self._drained: List[Deferred[None]] = []
        self._refusals = RateLimitedLog(self.events, self.reactor)
        self._notHTTP = RateLimitedLog(self.events, self.reactor)

    def buildProtocol(self, addr: Any) -> Any:
        """
        A channel, or past C{maxConnections} open connections, a protocol
        that closes the connection at once.
        """
        cap = self.maxConnections
        if cap is not None and self.openConnections >= cap:
            if self.metrics is not None:
                self.metrics.refused("connections")
            self._refusals.emit(
                LogLevel.warn,
                "closed a connection from {peer}: {open} connections are open, "
                "the most allowed (--max-connections)",
                peer=getattr(addr, "host", addr),
                open=self.openConnections,
            )
            return _Refused()
        return super().buildProtocol(addr)

    def channelOpened(self, channel: Optional[DeadlineChannel] = None) -> None:
        """
        A connection of this site was made.

        @param channel: its channel, kept in L{channels} until it is lost.
        """
        self.openConnections += 1
        if channel is not None:
            self.channels.add(channel)
            if self.draining:
                # Accepted during a stop: answer one request, then close.
                channel.closing = True

    def channelClosed(self, channel: Optional[DeadlineChannel] = None) -> None:
        """
        A connection of this site was lost.

        @param channel: its channel.
        """
        self.openConnections -= 1
        if channel is not None:
            self.channels.discard(channel)
            if self.draining and not self.channels:
                waiting, self._drained = self._drained, []
                for d in waiting:
                    d.callback(None)

    def drain(self) -> "Deferred[None]":
        """
        Start closing every connection of this site gracefully: an idle
        one now, the others once the request open on them has been
        answered (L{DeadlineChannel.closeWhenDone}), and any connection
        made from now on likewise.  Stop listening first: this does not.

        @return: a L{Deferred} that fires when no connection of this site
            is open (at once when none is).
        """
        self.draining = True
        for channel in list(self.channels):
            channel.closeWhenDone()
        if not self.channels:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._drained.append(d)
        return d

    def abortConnections(self) -> int:
        """
        Abort every connection of this site now, answered or not (the end
        of a graceful stop whose drain time ran out).

        @return: how many there were.
        """
        channels = list(self.channels)
        for channel in channels:
            if channel.transport is not None:
                channel.transport.abortConnection()  # type: ignore[attr-defined]
        return len(channels)

    def tlsOnPlainPort(self, peer: Any) -> None:
        """
        Log (at most once a second) that a connection from C{peer} that
        started with a TLS handshake was closed.
        """
        self._notHTTP.emit(
            LogLevel.info,
            "closed a connection from {peer}: it speaks TLS to a plain-HTTP port",
            peer=getattr(peer, "host", peer),
        )

    def log(self, request: Any) -> None:
        """
        Log the request only when the access log is on.
        """
        if self.accessLog:
            super().log(request)
