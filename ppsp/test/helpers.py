"""
Helpers shared by ppsp's own tests: a tracker on a L{Clock} that peers can
talk to with message objects.
"""

from __future__ import annotations

import itertools
import random
from typing import Any, Optional, Tuple

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ppsp.messages import (
    ConnectRequest,
    ConnectResponse,
    ErrorResponse,
    PeerAddress,
    Request,
    Response,
    ResponseCode,
)
from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.store import MemoryPeerStore

_ids = itertools.count(1)


class TrackerHarness:
    """
    A L{Tracker} on a L{Clock} with a seeded store, and a few peers' worth
    of bookkeeping: which token each PeerID holds and from where it talks.
    """

    def __init__(self, testCase: SynchronousTestCase, **config: Any) -> None:
        self.testCase = testCase
        self.clock = Clock()
        self.clock.advance(1000)
        self.store: Any = MemoryPeerStore(random=random.Random(4))
        self.tracker = Tracker(
            self.clock, TrackerConfig(**config), store=self.store
        )
        self.tokens: dict[str, str] = {}
        self.origins: dict[str, Origin] = {}

    def send(self, request: Request, origin: Optional[Origin] = None) -> Response:
        """
        Hand C{request} to the tracker and return its (synchronous) answer.
        """
        if origin is None:
            origin = self.origins.get(request.peerID, Origin("198.51.100.1", 40000))
        result = self.tracker.handle(request, origin)
        if isinstance(result, Deferred):
            return self.testCase.successResultOf(result)  # type: ignore[no-any-return]
        return result

    def connect(
        self,
        peerID: str,
        ip: str = "198.51.100.1",
        port: int = 40000,
        addresses: Tuple[PeerAddress, ...] = (),
        **kw: Any,
    ) -> ConnectResponse:
        """
        CONNECT C{peerID} from C{ip}:C{port} and remember its token.
        """
        origin = Origin(ip, port)
        response = self.send(
            ConnectRequest(txid(), peerID, addresses=addresses, **kw), origin
        )
        self.testCase.assertTrue(isinstance(response, ConnectResponse), response)
        assert isinstance(response, ConnectResponse)
        self.tokens[peerID] = response.authToken
        self.origins[peerID] = origin
        return response

    def call(self, cls: type, peerID: str, **fields: Any) -> Response:
        """
        Send a request of class C{cls} from a connected peer, with its
        token.
        """
        return self.send(
            cls(txid(), peerID, authToken=self.tokens.get(peerID), **fields)
        )

    def ok(self, cls: type, peerID: str, **fields: Any) -> Any:
        """
        Like L{call}, and assert success.
        """
        response = self.call(cls, peerID, **fields)
        self.testCase.assertFalse(isinstance(response, ErrorResponse), response)
        return response

    def error(self, code: ResponseCode, cls: type, peerID: str, **fields: Any) -> ErrorResponse:
        """
        Like L{call}, and assert the error C{code}.
        """
        response = self.call(cls, peerID, **fields)
        self.testCase.assertTrue(isinstance(response, ErrorResponse), response)
        assert isinstance(response, ErrorResponse)
        self.testCase.assertEqual(response.code, code, response.reason)
        return response

    def advance(self, seconds: float) -> None:
        """
        Move the clock and run the tracker's timers, second by second, as
        L{TrackerService} would.
        """
        whole = int(seconds)
        for _ in range(whole):
            self.clock.advance(1)
            self.tracker.expire()
        rest = seconds - whole
        if rest:
            self.clock.advance(rest)
            self.tracker.expire()


def txid() -> str:
    """
    A fresh TransactionID.
    """
    return f"t{next(_ids)}"
