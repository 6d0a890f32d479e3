"""
Reading an HTTP answer's body with a size limit, for both sides of the
protocol (the peer reading the tracker's answers, the tracker reading a
peer's STAT_QUERY answer).  treq's own readers have no limit, and their
Deferreds cannot be cancelled.
"""

from __future__ import annotations

from typing import Any, List

from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import UNKNOWN_LENGTH

__all__ = ["BodyTooLarge", "readBody"]


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
