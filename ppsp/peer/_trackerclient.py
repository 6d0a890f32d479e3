# -*- test-case-name: ppsp.test.test_peer_client -*-
"""
The peer's side of the tracker protocol: L{TrackerClient} sends one request
per call with an injected treq L{HTTPClient} and turns the answer into a
typed response, or a typed exception.

Transport failures and timeouts are retried with the same TransactionID
and the same body, so a tracker that applied the first attempt recognises
the retry and answers it again without applying it twice (PROTOCOL.md
section 6).  The timeout of an attempt covers the whole exchange, the
response body included.

A private module: import its names from L{ppsp.peer}, which exports them
all.
"""

from __future__ import annotations

import itertools
import random as _random
import secrets
from typing import (
    Any,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from treq.client import HTTPClient
from twisted.internet import error as ierror
from twisted.internet.defer import CancelledError, Deferred, TimeoutError, fail
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.internet.ssl import (
    Certificate,
    PrivateCertificate,
    optionsForClientTLS,
    platformTrust,
)
from twisted.web import client as webclient
from twisted.web.http_headers import Headers
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from ppsp._http import BodyTooLarge, quietAgent, readBody
from ppsp._net import backoff, describeFailure
from ppsp.codec import XML_CODEC, DecodeError
from ppsp.interfaces import ICodec
from ppsp.messages import (
    ChunkRange,
    ConnectRequest,
    ConnectResponse,
    DisconnectRequest,
    DisconnectResponse,
    ErrorResponse,
    FindChunkRequest,
    FindRequest,
    FindResponse,
    JoinChunkRequest,
    JoinChunkResponse,
    JoinRequest,
    JoinResponse,
    KeepAliveRequest,
    KeepAliveResponse,
    LeaveRequest,
    LeaveResponse,
    PeerAddress,
    PeerMode,
    PPSTPConnectRequest,
    PPSTPConnectResponse,
    Request,
    Response,
    ResponseCode,
    Stat,
    StatReportRequest,
    StatReportResponse,
    SwarmAction,
    SwarmActionType,
)

__all__ = [
    "TrackerClient",
    "TrackerError",
    "AuthenticationRequired",
    "MessageForbidden",
    "ObjectNotFound",
    "TemporarilyOverloaded",
    "BadTrackerResponse",
    "TrackerUnavailable",
    "UnsupportedRequest",
    "MAX_RESPONSE_BYTES",
    "makeHTTPClient",
    "TLSPolicy",
]

_R = TypeVar("_R", bound=Response)

#: The most bytes of a tracker's answer the client reads.
MAX_RESPONSE_BYTES = 1024 * 1024


class TrackerError(Exception):
    """
    The tracker answered a request with an error response.

    Each response code has its own subclass where a caller is likely to
    handle it (L{AuthenticationRequired}, L{MessageForbidden},
    L{ObjectNotFound}, L{TemporarilyOverloaded}); the others are raised as
    this class.

    @ivar code: the L{ResponseCode} of the answer.
    @ivar reason: the tracker's C{<Reason>}, or the empty string.
    @ivar method: the L{Method<ppsp.messages.Method>} of the request.
    @ivar transactionID: the request's TransactionID.
    """

    def __init__(self, code: ResponseCode, reason: str, request: Request) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.method = request.method
        self.transactionID = request.transactionID

    def __str__(self) -> str:
        reason = f": {self.reason}" if self.reason else ""
        return f"{self.method.value} answered {self.code.text}{reason}"


class AuthenticationRequired(TrackerError):
    """
    AUTHENTICATION REQUIRED: the credential was refused, or the tracker does
    not know this peer (it expired it or restarted): CONNECT again.
    """


class MessageForbidden(TrackerError):
    """
    MESSAGE FORBIDDEN: not allowed in the peer's state (wrong token, a swarm
    not joined, a limit reached, the PeerID held by another session).
    """


class ObjectNotFound(TrackerError):
    """
    OBJECT NOT FOUND: an unknown swarm, or no peer holds the chunk.
    """


class TemporarilyOverloaded(TrackerError):
    """
    TEMPORARILY OVERLOADED, still so after every attempt.

    @ivar retryAfter: the seconds the tracker asked to wait, or L{None}.
    """

    retryAfter: Optional[float] = None


class BadTrackerResponse(TrackerError):
    """
    The tracker's answer could not be read: not a valid response, another
    TransactionID, or too long.
    """


class UnsupportedRequest(ValueError):
    """
    The client's encoding cannot carry the request (RFC 7846 JSON has no
    JOIN_CHUNK, FIND_CHUNK, FIND constraints, StatPort or STAT_QUERY, and
    names only some statistics).  Nothing was sent.
    """


class TrackerUnavailable(Exception):
    """
    No attempt reached the tracker: every attempt failed in transport or
    timed out.

    @ivar attempts: how many attempts were made.
    @ivar lastFailure: the exception of the last attempt.
    """

    def __init__(self, url: str, attempts: int, lastFailure: BaseException) -> None:
        super().__init__(url, attempts, lastFailure)
        self.url = url
        self.attempts = attempts
        self.lastFailure = lastFailure

    def __str__(self) -> str:
        return (
            f"the tracker at {self.url} did not answer after {self.attempts} "
            f"attempt(s): {describeFailure(self.lastFailure)}"
        )


#: The statistics an RFC 7846 CONNECT carries about the peer (in
#: C{peer_num}).
_CONNECT_FACTS = frozenset({"AbilityNAT", "ConcurrentLinks", "UploadBandwidth"})

_ERRORS: Dict[ResponseCode, Type[TrackerError]] = {
    ResponseCode.AUTHENTICATION_REQUIRED: AuthenticationRequired,
    ResponseCode.MESSAGE_FORBIDDEN: MessageForbidden,
    ResponseCode.OBJECT_NOT_FOUND: ObjectNotFound,
    ResponseCode.TEMPORARILY_OVERLOADED: TemporarilyOverloaded,
}

# Failures worth another attempt: the request may not have arrived, or its
# answer was lost.  Everything the tracker answered is final.
_TRANSPORT_ERRORS: Tuple[Type[BaseException], ...] = (
    ierror.ConnectError,
    ierror.ConnectionLost,
    ierror.ConnectionClosed,
    ierror.TimeoutError,
    ierror.DNSLookupError,
    TimeoutError,
    webclient.ResponseNeverReceived,
    webclient.RequestTransmissionFailed,
    webclient.ResponseFailed,
    webclient.RequestNotSent,
    webclient.PartialDownloadError,
)


class _GatewayError(Exception):
    """
    An HTTP 5xx answer whose body is not a protocol response: a proxy in
    front of the tracker failed, which is worth another attempt.
    """


class TrackerClient:
    """
    Send the requests of the tracker protocol for one peer.

    The client keeps the AuthToken that CONNECT issued and puts it into
    every later request; it makes a fresh TransactionID for each request.

    @param http: the HTTP client (a treq L{treq.client.HTTPClient} built
        on its own connection pool, see L{makeHTTPClient}; StubTreq in
        tests).
    @param url: the tracker's URL (C{http://} or C{https://}).
    @param peerID: this peer's PeerID.
    @param clock: the time source for timeouts and backoff.
    @param codec: the encoding to speak; XML by default.
    @param cer: the credential to present at CONNECT, or L{None}.
    @param credentialFile: a file holding the credential, read again at
        every CONNECT, so that an operator can put a fresh credential in
        place before the old one expires (a tracker ends a session when
        its credential expires) without restarting the peer; C{cer} (or
        the last credential read) is presented when it cannot be read.
    @param timeout: seconds one attempt may take, body included.
    @param attempts: the most attempts per request (at least 1).
    @param backoff: seconds before the second attempt; each further
        attempt waits twice as long, up to C{maxBackoff}, times a random
        factor between 0.5 and 1 (jitter).
    @param maxBackoff: the longest wait between two attempts.
    @param random: the source of jitter and of TransactionIDs' prefix.
    """

    log = Logger()


    def __init__(
        self,
        http: HTTPClient,
        url: str,
        peerID: str,
        clock: IReactorTime,
        codec: ICodec = XML_CODEC,
        cer: Optional[str] = None,
        timeout: float = 10.0,
        attempts: int = 4,
        backoff: float = 0.5,
        maxBackoff: float = 8.0,
        random: Optional[_random.Random] = None,
        credentialFile: Optional[str] = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.http = http
        self.url = url
        self.peerID = peerID
        self.clock = clock
        self.codec = codec
        self.cer = cer
        self.credentialFile = credentialFile
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.maxBackoff = maxBackoff
        self.random = random if random is not None else _random.Random()
        #: The session token issued by the last successful CONNECT.
        self.authToken: Optional[str] = None
        #: The address the tracker observed at the last CONNECT.
        self.reflexiveAddress: Optional[PeerAddress] = None
        #: The KEEPALIVE interval the tracker announced last.
        self.keepAliveInterval: int = 60
        #: The swarms this client joined and has not left, with its mode.
        self.swarms: Dict[str, PeerMode] = {}
        self._prefix = secrets.token_hex(4)
        self._serial = itertools.count(1)

    @property
    def rfc7846(self) -> bool:
        """
        Whether the client speaks the JSON encoding of RFC 7846, whose
        CONNECT carries the JOINs and LEAVEs.
        """
        return bool(self.codec.name == "json")

    def _credential(self) -> Optional[str]:
        """
        The credential to present now: the credential file's, read again
        (and kept as C{cer}), or C{cer} when there is no file or it cannot
        be read (logged).
        """
        path = self.credentialFile
        if path is not None:
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read().strip()
            except (OSError, UnicodeDecodeError) as e:
                self.log.warn(
                    "cannot read the credential file {path}; presenting the last credential read: {reason}",
                    path=path,
                    reason=str(e),
                )
            else:
                if text:
                    self.cer = text
        return self.cer

    def newTransactionID(self) -> str:
        """
        A TransactionID not used before by this client.
        """
        return f"{self._prefix}-{next(self._serial)}"

    # One method per request --------------------------------------------

    def connect(
        self,
        addresses: Iterable[PeerAddress] = (),
        statPort: Optional[int] = None,
        stats: Iterable[Stat] = (),
        swarms: Mapping[str, PeerMode] = {},
    ) -> "Deferred[ConnectResponse]":
        """
        CONNECT: register, and keep the AuthToken, the reflexive address
        and the KEEPALIVE interval of the answer.  The current AuthToken
        goes along, so that a peer that is still registered takes its
        session over.

        In RFC 7846 JSON, the CONNECT also joins C{swarms} (at least one;
        the XML profile ignores them: JOIN them with L{join}); the answer
        is a L{PPSTPConnectResponse} with one result per swarm, and
        C{statPort} cannot be carried.  Of C{stats}, those RFC 7846 sends
        at CONNECT (AbilityNAT, ConcurrentLinks, UploadBandwidth) go along.
        """
        if self.rfc7846:
            return self._ppstp(  # type: ignore[return-value]
                [SwarmAction(s, SwarmActionType.JOIN, m) for s, m in swarms.items()],
                addresses=tuple(addresses),
                requesterStats=tuple(
                    st for st in stats if st.property in _CONNECT_FACTS and st.swarm is None
                ),
            )
        request = ConnectRequest(
            self.newTransactionID(),
            self.peerID,
            self.authToken,
            cer=self._credential(),
            addresses=tuple(addresses),
            statPort=statPort,
            stats=tuple(stats),
        )

        def connected(response: ConnectResponse) -> ConnectResponse:
            self.authToken = response.authToken
            self.reflexiveAddress = response.reflexiveAddress
            self.keepAliveInterval = response.keepAliveInterval
            return response

        return self.send(request, ConnectResponse).addCallback(connected)

    def disconnect(self) -> "Deferred[DisconnectResponse]":
        """
        DISCONNECT: leave every swarm and end the registration; forget the
        AuthToken.  In RFC 7846 JSON, a CONNECT that leaves every swarm
        this client joined.
        """
        request = DisconnectRequest(self.newTransactionID(), self.peerID, self.authToken)

        def disconnected(response: Any) -> DisconnectResponse:
            self.authToken = None
            self.swarms.clear()
            return DisconnectResponse(request.transactionID)

        if self.rfc7846:
            leaves = [SwarmAction(s, SwarmActionType.LEAVE) for s in self.swarms]
            if not leaves:
                # A JSON registration exists only with a swarm.
                d: Deferred[Any] = Deferred()
                d.callback(None)
                return d.addCallback(disconnected)
            return self._ppstp(leaves).addCallback(disconnected)

        return self.send(request, DisconnectResponse).addCallback(disconnected)

    def join(
        self,
        swarmID: str,
        mode: PeerMode = PeerMode.LEECH,
        expireTime: Optional[float] = None,
        peerNum: Optional[int] = None,
        stats: Iterable[Stat] = (),
    ) -> "Deferred[JoinResponse]":
        """
        JOIN a swarm (or update the membership's mode and expiry).  The
        answer to a LEECH join carries a peer list.  In RFC 7846 JSON, a
        CONNECT with one JOIN action (which registers the peer when it is
        not); C{expireTime} and C{stats} cannot be carried there.
        """
        if self.rfc7846:
            return self._ppstp(
                [SwarmAction(swarmID, SwarmActionType.JOIN, mode)], peerNum, single=True
            ).addCallback(
                lambda response: JoinResponse(
                    response.transactionID,
                    swarmID,
                    (response.swarmResults[0].peers or ()) if mode is PeerMode.LEECH else None,
                )
            )

        def joined(response: JoinResponse) -> JoinResponse:
            self.swarms[swarmID] = mode
            return response

        return self.send(
            JoinRequest(
                self.newTransactionID(),
                self.peerID,
                self.authToken,
                swarmID=swarmID,
                mode=mode,
                expireTime=expireTime,
                peerNum=peerNum,
                stats=tuple(stats),
            ),
            JoinResponse,
        ).addCallback(joined)

    def joinChunk(
        self, swarmID: str, chunks: Iterable[Union[ChunkRange, int]]
    ) -> "Deferred[JoinChunkResponse]":
        """
        JOIN_CHUNK: replace the set of chunks this peer holds in a swarm
        (chunk IDs or inclusive ranges; an empty set clears it).
        """
        ranges = tuple(c if isinstance(c, ChunkRange) else ChunkRange(c, c) for c in chunks)
        return self.send(
            JoinChunkRequest(
                self.newTransactionID(), self.peerID, self.authToken, swarmID=swarmID, chunks=ranges
            ),
            JoinChunkResponse,
        )

    def leave(self, swarmID: str) -> "Deferred[LeaveResponse]":
        """
        LEAVE a swarm.  In RFC 7846 JSON, a CONNECT with one LEAVE action;
        leaving the last swarm ends the registration.
        """

        def left(response: Any) -> LeaveResponse:
            self.swarms.pop(swarmID, None)
            return LeaveResponse(response.transactionID)

        if self.rfc7846:
            return self._ppstp(
                [SwarmAction(swarmID, SwarmActionType.LEAVE)], single=True
            ).addCallback(left)
        return self.send(
            LeaveRequest(self.newTransactionID(), self.peerID, self.authToken, swarmID=swarmID),
            LeaveResponse,
        ).addCallback(left)

    def find(
        self,
        swarmID: str,
        peerNum: Optional[int] = None,
        chunkID: Optional[int] = None,
        constraints: Iterable[Stat] = (),
    ) -> "Deferred[FindResponse]":
        """
        FIND peers of a swarm, at most C{peerNum} (the tracker's default
        when L{None}), holding C{chunkID} when given, and satisfying the
        statistics C{constraints}.
        """
        return self._find(FindRequest, swarmID, peerNum, chunkID, constraints)

    def findChunk(
        self,
        swarmID: str,
        chunkID: int,
        peerNum: Optional[int] = None,
        constraints: Iterable[Stat] = (),
    ) -> "Deferred[FindResponse]":
        """
        FIND_CHUNK: peers of a swarm that hold C{chunkID}; an
        L{ObjectNotFound} when none does.
        """
        return self._find(FindChunkRequest, swarmID, peerNum, chunkID, constraints)

    def _find(
        self,
        cls: Type[FindRequest],
        swarmID: str,
        peerNum: Optional[int],
        chunkID: Optional[int],
        constraints: Iterable[Stat],
    ) -> "Deferred[FindResponse]":
        return self.send(
            cls(
                self.newTransactionID(),
                self.peerID,
                self.authToken,
                swarmID=swarmID,
                peerNum=peerNum,
                chunkID=chunkID,
                constraints=tuple(constraints),
            ),
            FindResponse,
        )

    def keepAlive(self) -> "Deferred[KeepAliveResponse]":
        """
        KEEPALIVE; keeps the interval the tracker announces.
        """

        def alive(response: KeepAliveResponse) -> KeepAliveResponse:
            self.keepAliveInterval = response.keepAliveInterval
            return response

        return self.send(
            KeepAliveRequest(self.newTransactionID(), self.peerID, self.authToken),
            KeepAliveResponse,
        ).addCallback(alive)

    def statReport(self, stats: Iterable[Stat]) -> "Deferred[StatReportResponse]":
        """
        STAT_REPORT: report statistics (at least one).
        """
        return self.send(
            StatReportRequest(
                self.newTransactionID(), self.peerID, self.authToken, stats=tuple(stats)
            ),
            StatReportResponse,
        )

    # RFC 7846 ---------------------------------------------------------------

    def _ppstp(
        self,
        actions: List[SwarmAction],
        peerNum: Optional[int] = None,
        addresses: Optional[Tuple[PeerAddress, ...]] = None,
        requesterStats: Tuple[Stat, ...] = (),
        single: bool = False,
    ) -> "Deferred[PPSTPConnectResponse]":
        """
        One RFC 7846 CONNECT with C{actions}; keep the session it answers
        with and the swarms whose actions succeeded.

        @param single: fail with the error of the (one) action when it
            failed, as the XML JOIN or LEAVE it stands for would.
        """
        request = PPSTPConnectRequest(
            self.newTransactionID(),
            self.peerID,
            self.authToken,
            swarmActions=tuple(actions),
            addresses=addresses,
            peerNum=peerNum,
            requesterStats=requesterStats,
            cer=self._credential() if self.authToken is None else None,
        )

        def connected(response: PPSTPConnectResponse) -> PPSTPConnectResponse:
            self.authToken = response.authToken or None
            self.reflexiveAddress = response.reflexiveAddress
            self.keepAliveInterval = response.keepAliveInterval
            for action, result in zip(actions, response.swarmResults):
                if not result.ok:
                    if single:
                        cls = _ERRORS.get(result.code, TrackerError)
                        raise cls(result.code, result.reason, request)
                elif action.action is SwarmActionType.JOIN:
                    self.swarms[action.swarmID] = action.mode
                else:
                    self.swarms.pop(action.swarmID, None)
            if self.authToken is None:
                self.swarms.clear()
            return response

        return self.send(request, PPSTPConnectResponse).addCallback(connected)

    # The exchange ---------------------------------------------------------

    def send(self, request: Request, expected: Type[_R]) -> "Deferred[_R]":
        """
        Send C{request} and return its success response.

        @param expected: the class of the success response.
        @return: a Deferred that fires with the response, or fails with a
            L{TrackerError} (the tracker answered an error) or
            L{TrackerUnavailable} (no attempt got an answer).  Cancelling
            it stops the attempts.
        """
        try:
            body = self.codec.encodeRequest(request)
        except ValueError as e:
            return fail(UnsupportedRequest(f"{self.codec.name}: {e}"))
        headers = Headers(self.codec.requestHeaders(request))
        cancelled: List[bool] = []
        inner = Deferred.fromCoroutine(self._send(request, body, headers, expected, cancelled))

        def cancel(_: object) -> None:
            cancelled.append(True)
            inner.cancel()

        outer: Deferred[_R] = Deferred(cancel)

        def forward(result: Any) -> None:
            # Whatever a cancelled attempt failed with, the caller who
            # cancelled sees CancelledError.
            if outer.called:
                return
            if cancelled:
                outer.errback(CancelledError())
            else:
                outer.callback(result)

        inner.addBoth(forward)
        return outer

    async def _send(
        self,
        request: Request,
        body: bytes,
        headers: Headers,
        expected: Type[_R],
        cancelled: List[bool],
    ) -> _R:
        attempt = 0
        while True:
            attempt += 1
            try:
                status, answerHeaders, content = await self._attempt(body, headers)
                response = self._decode(request, status, content)
            except (_TRANSPORT_ERRORS + (_GatewayError,)) as e:
                if cancelled:
                    raise CancelledError() from None
                if attempt >= self.attempts:
                    raise TrackerUnavailable(self.url, attempt, e) from None
                await self._sleep(self._delay(attempt))
                continue
            except BodyTooLarge:
                raise BadTrackerResponse(
                    ResponseCode.INVALID_SYNTAX, "the answer is too long", request
                ) from None
            if isinstance(response, ErrorResponse):
                if (
                    response.code is ResponseCode.TEMPORARILY_OVERLOADED
                    and attempt < self.attempts
                ):
                    await self._sleep(max(self._delay(attempt), _retryAfter(answerHeaders) or 0.0))
                    continue
                cls = _ERRORS.get(response.code, TrackerError)
                error = cls(response.code, response.reason, request)
                if isinstance(error, TemporarilyOverloaded):
                    error.retryAfter = _retryAfter(answerHeaders)
                raise error
            if not isinstance(response, expected):
                raise BadTrackerResponse(
                    ResponseCode.INVALID_SYNTAX,
                    f"expected {expected.__name__}, got {type(response).__name__}",
                    request,
                )
            return response

    def _delay(self, attempt: int) -> float:
        """
        The wait after failed attempt number C{attempt}: exponential, capped,
        with jitter.
        """
        return backoff(attempt, self.backoff, self.maxBackoff, self.random)

    def _sleep(self, seconds: float) -> "Deferred[None]":
        return deferLater(self.clock, seconds)

    def _attempt(self, body: bytes, headers: Headers) -> "Deferred[Tuple[int, Any, bytes]]":
        """
        One POST, and its answer's body, within C{timeout} seconds.
        """
        d = Deferred.fromCoroutine(self._exchange(body, headers))
        d.addTimeout(self.timeout, self.clock)
        return d

    async def _exchange(self, body: bytes, headers: Headers) -> Tuple[int, Any, bytes]:
        response = await self.http.post(self.url, data=body, headers=headers)
        content = await readBody(response, MAX_RESPONSE_BYTES)
        return response.code, response.headers, content

    def _decode(self, request: Request, status: int, content: bytes) -> Response:
        try:
            response = self.codec.decodeResponse(content, request.method)
        except DecodeError as e:
            if status >= 500:
                raise _GatewayError(f"HTTP {status} without a protocol answer") from None
            raise BadTrackerResponse(
                ResponseCode.INVALID_SYNTAX,
                f"HTTP {status}, and the body is not a response: {e.reason}",
                request,
            ) from None
        if response.transactionID and response.transactionID != request.transactionID:
            raise BadTrackerResponse(
                ResponseCode.INVALID_SYNTAX,
                f"the answer is for TransactionID {response.transactionID!r}",
                request,
            )
        return response


def _retryAfter(headers: Any) -> Optional[float]:
    """
    The seconds of a C{Retry-After} header, when it holds a number.
    """
    values = headers.getRawHeaders(b"retry-after") if headers is not None else None
    if not values:
        return None
    try:
        seconds = float(values[0])
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


# HTTP clients -----------------------------------------------------------------


@implementer(IPolicyForHTTPS)
class TLSPolicy:
    """
    How the peer checks the tracker's certificate, and which certificate
    it shows: the tracker's certificate must chain to C{trustRoot} (the
    platform's trust store when L{None}) and name the host of the URL.

    @param trustRoot: a L{twisted.internet.ssl.Certificate} of the CA to
        trust, or L{None}.
    @param clientCertificate: a L{twisted.internet.ssl.PrivateCertificate}
        to present, or L{None}.
    """

    def __init__(
        self,
        trustRoot: Optional[Certificate] = None,
        clientCertificate: Optional[PrivateCertificate] = None,
    ) -> None:
        self.trustRoot = trustRoot
        self.clientCertificate = clientCertificate

    @classmethod
    def fromFiles(
        cls, trustRootFile: Optional[str] = None, clientCertificateFile: Optional[str] = None
    ) -> "TLSPolicy":
        """
        Read the trust root (a PEM certificate) and the client certificate
        (one PEM file holding the certificate and its private key) from
        files.
        """
        trustRoot = None
        clientCertificate = None
        if trustRootFile is not None:
            with open(trustRootFile, "rb") as f:
                trustRoot = Certificate.loadPEM(f.read())
        if clientCertificateFile is not None:
            with open(clientCertificateFile, "rb") as f:
                clientCertificate = PrivateCertificate.loadPEM(f.read())
        return cls(trustRoot, clientCertificate)

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        """
        The TLS connection creator for one host.
        """
        trust: Any = self.trustRoot if self.trustRoot is not None else platformTrust()
        return optionsForClientTLS(
            hostname.decode("ascii"),
            trustRoot=trust,
            clientCertificate=self.clientCertificate,
        )


def makeHTTPClient(
    reactor: Any,
    tls: Optional[TLSPolicy] = None,
    persistent: bool = True,
    connectTimeout: float = 10.0,
) -> Tuple[HTTPClient, webclient.HTTPConnectionPool]:
    """
    An HTTP client with its own connection pool, for a L{TrackerClient}.

    The caller owns the pool and must close it when done (a
    L{PeerService} does so when it stops):
    C{pool.closeCachedConnections()}.

    @param reactor: the reactor to connect with.
    @param tls: how to check the tracker's certificate for C{https://}
        URLs; the platform's trust store when L{None}.
    @param persistent: keep connections open between requests.
    @param connectTimeout: seconds a TCP connection may take.
    """
    pool = webclient.HTTPConnectionPool(reactor, persistent=persistent)
    pool.maxPersistentPerHost = 2
    pool.cachedConnectionTimeout = 120
    agent = quietAgent(reactor, pool, tls if tls is not None else TLSPolicy(), connectTimeout)
    return HTTPClient(agent), pool

