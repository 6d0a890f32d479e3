# -*- test-case-name: ppsp.test.test_peer_statquery -*-
"""
The peer's answer to the tracker's STAT_QUERY (PROTOCOL.md section 4): a
small twisted.web resource that reads the same L{IStatsSource} the peer
reports from.

A private module: import its names from L{ppsp.peer}, which exports them
all.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from ppsp._http import notPost
from ppsp.codec import XML_CODEC, DecodeError
from ppsp.interfaces import ICodec, IStatsSource
from ppsp.messages import (
    ErrorResponse,
    ResponseCode,
    StatQueryRequest,
    StatQueryResponse,
)

__all__ = ["StatQueryResource", "statQuerySite", "MAX_QUERY_BYTES"]

#: The largest STAT_QUERY body the peer reads.
MAX_QUERY_BYTES = 16 * 1024


class StatQueryResource(Resource):
    """
    Answer STAT_QUERY with the peer's statistics: all of them, or those the
    query names.  Any path answers; other methods get 405.

    @param peerID: this peer's PeerID (or a callable returning it); a query
        for another PeerID gets OBJECT NOT FOUND.
    @param statsSource: where the statistics come from.
    @param codec: the encoding (XML, as PROTOCOL.md has STAT_QUERY).
    """

    isLeaf = True
    log = Logger()

    def __init__(
        self,
        peerID: str,
        statsSource: IStatsSource,
        codec: ICodec = XML_CODEC,
    ) -> None:
        super().__init__()
        self.peerID = peerID
        self.statsSource = statsSource
        self.codec = codec

    def render(self, request: Request) -> bytes:
        """
        Answer one request; never raises.
        """
        try:
            return self._render(request)
        except Exception:
            self.log.failure("STAT_QUERY answer failed")
            return self._reply(
                request, ErrorResponse("", ResponseCode.INTERNAL_ERROR, "the peer failed")
            )

    def _render(self, request: Request) -> bytes:
        if request.method != b"POST":
            return notPost(request, self.codec, "POST only")
        length = request.getHeader(b"content-length")
        content = request.content
        body = b""
        if content is not None:
            content.seek(0)
            body = content.read(MAX_QUERY_BYTES + 1)
        if len(body) > MAX_QUERY_BYTES or (length is not None and length.isdigit() and int(length) > MAX_QUERY_BYTES):
            return self._reply(
                request,
                ErrorResponse("", ResponseCode.INVALID_SYNTAX, "the query is too long"),
                status=413,
            )
        try:
            query = self.codec.decodeRequest(body)
        except DecodeError as e:
            return self._reply(request, e.toResponse())
        if not isinstance(query, StatQueryRequest):
            return self._reply(
                request,
                ErrorResponse(
                    query.transactionID,
                    ResponseCode.MESSAGE_NOT_SUPPORTED,
                    "a peer answers STAT_QUERY only",
                ),
            )
        if query.peerID != self.peerID:
            return self._reply(
                request,
                ErrorResponse(
                    query.transactionID, ResponseCode.OBJECT_NOT_FOUND, "this is another peer"
                ),
            )
        stats = tuple(self.statsSource.stats())
        if query.properties:
            wanted = {p.lower() for p in query.properties}
            stats = tuple(s for s in stats if s.property.lower() in wanted)
        self.log.debug(
            "answered STAT_QUERY {transactionID} with {count} Stat(s)",
            transactionID=query.transactionID,
            count=len(stats),
        )
        return self._reply(request, StatQueryResponse(query.transactionID, self.peerID, stats))

    def _reply(self, request: Request, response: Any, status: Optional[int] = None) -> bytes:
        request.setResponseCode(status if status is not None else self.codec.httpStatus(response.code))
        request.setHeader(b"content-type", self.codec.contentType)
        request.setHeader(b"cache-control", b"no-store")
        return self.codec.encodeResponse(response)


class _QuietSite(Site):
    """
    A site without the per-request access log, nor the start and stop
    lines of its factory.
    """

    noisy = False

    def log(self, request: Any) -> None:
        """
        Log nothing.
        """


def statQuerySite(resource: StatQueryResource) -> Site:
    """
    A site that serves C{resource} without an access log.
    """
    return _QuietSite(resource)
