"""
HTTP pieces for both sides of the protocol (the peer talking to the
tracker, the tracker sending STAT_QUERY to peers): reading an answer's
body with a size limit (treq's own readers have no limit, and their
Deferreds cannot be cancelled), a connection pool that does not log every
connection, and the answer of a protocol resource to a method other than
POST.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web import client as webclient
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import UNKNOWN_LENGTH, IRequest

from ppsp.messages import ErrorResponse, ResponseCode

if TYPE_CHECKING:
    from ppsp.interfaces import ICodec

__all__ = ["BodyTooLarge", "QuietPool", "notPost", "readBody"]


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
    The body of C{response} (an L{IResponse}, or treq's wrapper of one).

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


class _QuietFactory(webclient._HTTP11ClientFactory):
    """
    The pool's connection factory, without a log line for every
    connection opened and closed.  twisted.web offers no public way to
    quieten its pool's factory: this is the one place that names its
    private class.
    """

    noisy = False


class QuietPool(webclient.HTTPConnectionPool):
    """
    A connection pool whose connections do not log their start and stop.
    """

    _factory = _QuietFactory


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
