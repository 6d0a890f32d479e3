"""
HTTP pieces for both sides of the protocol (the peer talking to the
tracker, the tracker sending STAT_QUERY to peers): reading an answer's
body with a size limit (treq's own readers have no limit, and their
Deferreds cannot be cancelled), an agent whose connections do not log
their start and stop, and the answer of a protocol resource to a method
other than POST.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IProtocol, IProtocolFactory, IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import (
    URI,
    Agent,
    BrowserLikePolicyForHTTPS,
    HTTPConnectionPool,
    ResponseDone,
)
from twisted.web.error import SchemeNotSupported
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import UNKNOWN_LENGTH, IAgentEndpointFactory, IPolicyForHTTPS, IRequest
from zope.interface import implementer

from ppsp.messages import ErrorResponse, ResponseCode

if TYPE_CHECKING:
    from ppsp.interfaces import ICodec

__all__ = ["BodyTooLarge", "notPost", "quietAgent", "readBody"]


class BodyTooLarge(Exception):
    """
    The body is longer than the limit (declared, or as it arrived).
    """


class _Body(Protocol):
    """
    Collect a body up to a limit.  Cancelling L{done} (a timeout) or
    passing the limit stops the transfer and drops the connection.
    """

    def __init__(self, limit: int) -> None:
        self.parts: List[bytes] = []
        self.size = 0
        self.limit = limit
        self.done: Deferred[bytes] = Deferred(self.stop)

    def stop(self, _: object = None) -> None:
        transport = self.transport
        if transport is not None:
            transport.stopProducing()  # type: ignore[attr-defined]

    def refuse(self) -> None:
        self.stop()
        if not self.done.called:
            self.done.errback(BodyTooLarge())

    def dataReceived(self, data: bytes) -> None:
        if self.done.called:
            return
        self.size += len(data)
        if self.size > self.limit:
            self.refuse()
            return
        self.parts.append(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.done.called:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(b"".join(self.parts))
        else:
            self.done.errback(reason)


def readBody(response: Any, limit: int) -> "Deferred[bytes]":
    """
    The body of C{response} (an L{twisted.web.iweb.IResponse}, or treq's wrapper of one).

    @param limit: the most bytes accepted; a body declared or found longer
        fails with L{BodyTooLarge}, and its connection is dropped.
    @return: a Deferred of the body; cancelling it drops the connection.
    """
    reader = _Body(limit)
    response.deliverBody(reader)
    length = response.length
    if length is not UNKNOWN_LENGTH and length is not None and length > limit:
        reader.refuse()
    return reader.done


@implementer(IStreamClientEndpoint)
class _QuietEndpoint:
    """
    An endpoint that quietens the factories it connects: a factory logs
    C{Starting factory} and C{Stopping factory} for every connection
    unless its public C{noisy} attribute is false, and an agent's pool
    makes one factory per connection.

    @param endpoint: the endpoint that connects.
    """

    def __init__(self, endpoint: IStreamClientEndpoint) -> None:
        self._endpoint = endpoint

    def connect(self, protocolFactory: IProtocolFactory) -> "Deferred[IProtocol]":
        if isinstance(protocolFactory, Factory):
            protocolFactory.noisy = False
        return self._endpoint.connect(protocolFactory)


@implementer(IAgentEndpointFactory)
class _QuietEndpointFactory:
    """
    The endpoints of a L{quietAgent}: TCP for C{http}, TLS over TCP for
    C{https} with the connection creator of a TLS policy, each quiet.

    @param reactor: the reactor to connect with.
    @param tls: the policy that checks the servers of C{https} URLs.
    @param connectTimeout: seconds a TCP connection may take, or L{None}
        for the reactor's default.
    """

    def __init__(self, reactor: Any, tls: IPolicyForHTTPS, connectTimeout: Optional[float]) -> None:
        self._reactor = reactor
        self._tls = tls
        self._connectTimeout = connectTimeout

    def endpointForURI(self, uri: URI) -> IStreamClientEndpoint:
        """
        The endpoint that reaches C{uri}'s host and port.

        @raise SchemeNotSupported: neither C{http} nor C{https}.
        """
        if uri.scheme not in (b"http", b"https"):
            raise SchemeNotSupported(f"unsupported scheme: {uri.scheme!r}")
        endpoint: IStreamClientEndpoint
        if self._connectTimeout is None:
            endpoint = HostnameEndpoint(self._reactor, uri.host, uri.port)
        else:
            endpoint = HostnameEndpoint(self._reactor, uri.host, uri.port, timeout=self._connectTimeout)
        if uri.scheme == b"https":
            endpoint = wrapClientTLS(self._tls.creatorForNetloc(uri.host, uri.port), endpoint)
        return _QuietEndpoint(endpoint)


def quietAgent(
    reactor: Any,
    pool: HTTPConnectionPool,
    tls: Optional[IPolicyForHTTPS] = None,
    connectTimeout: Optional[float] = None,
) -> Agent:
    """
    An L{Agent} whose connections do not log their start and stop (a
    peer that keeps a connection to its tracker, or a tracker that sends
    STAT_QUERY to thousands of peers, would log two lines each).

    @param reactor: the reactor to connect with.
    @param pool: the agent's connection pool.
    @param tls: the policy that checks the servers of C{https} URLs; the
        platform's trust store (L{BrowserLikePolicyForHTTPS}) when
        L{None}.
    @param connectTimeout: seconds a TCP connection may take, or L{None}
        for the reactor's default.
    """
    factory = _QuietEndpointFactory(
        reactor, tls if tls is not None else BrowserLikePolicyForHTTPS(), connectTimeout
    )
    agent: Agent = Agent.usingEndpointFactory(reactor, factory, pool=pool)
    return agent


def notPost(request: IRequest, codec: "ICodec", reason: str) -> bytes:
    """
    Answer a request to a protocol resource whose method is not POST, the
    protocol's only one (PROTOCOL.md section 1): HTTP 405 with C{Allow:
    POST}, and MESSAGE NOT SUPPORTED in C{codec}'s encoding, not to be
    cached; to HEAD, no body but its C{Content-Length}.

    @param request: the request.
    @param codec: the encoding of the answer.
    @param reason: the error's reason.
    @return: what the resource's C{render} returns.
    """
    body: bytes = codec.encodeResponse(ErrorResponse("", ResponseCode.MESSAGE_NOT_SUPPORTED, reason))
    request.setResponseCode(405)
    request.setHeader(b"allow", b"POST")
    request.setHeader(b"content-type", codec.contentType)
    request.setHeader(b"cache-control", b"no-store")
    if request.method == b"HEAD":
        request.setHeader(b"content-length", b"%d" % (len(body),))
        return b""
    return body
