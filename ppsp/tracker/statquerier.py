# -*- test-case-name: ppsp.test.test_statquery -*-
"""
STAT_QUERY, the tracker's side (PROTOCOL.md section 4): the tracker asks a
connected peer for its statistics and keeps the answer as if the peer had
reported it.

L{StatQuerier} sends one query: an HTTP POST of an XML STAT_QUERY to
C{http://<observed IP>:<StatPort>/}, where the observed IP is the address
the tracker saw the peer's CONNECT come from and the StatPort is the one
the peer announced.  It never uses an address the peer merely claims in
C{<PeerAddresses>}: otherwise any peer could make the tracker send requests
to a third party.  One timeout covers the whole exchange, the answer's
body included, and the body has a size limit.  Peers that do not answer
are recorded as unreachable (and forgotten again when they answer, leave or
reconnect); every outcome is counted in the tracker's counters.

L{StatQueryService} polls: every C{interval} seconds it queries every
connected peer that announced a StatPort, spread evenly over the interval,
with a bound on the queries in flight, driven by one L{LoopingCall}.  It
also owns the HTTP connection pool (closed when it stops) and cancels the
queries in flight when it stops.  Before it queries a peer it takes the
peer's poll lease (L{IPollLease}): from a store that several trackers
share, so that each peer is polled once per interval in all; otherwise
from L{SoleLease}, which always grants it.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, Optional, Sequence, Set, Tuple

from hyperlink import EncodedURL
from treq.client import HTTPClient
from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, TimeoutError, gatherResults, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import client as webclient
from twisted.web.http_headers import Headers
from zope.interface import implementer

from ppsp._http import BodyTooLarge, quietAgent, readBody
from ppsp._net import describeFailure, hostPort
from ppsp.codec import XML_CODEC
from ppsp.interfaces import IPollLease
from ppsp.messages import (
    ErrorResponse,
    Method,
    ProtocolError,
    Stat,
    StatQueryRequest,
    StatQueryResponse,
)
from ppsp.tracker.core import Tracker
from ppsp.tracker.values import PeerState

__all__ = [
    "SoleLease",
    "StatQuerier",
    "StatQueryService",
    "StatQueryResult",
    "QueryOutcome",
    "Unreachable",
    "StatQueryFailed",
    "UnknownPeer",
    "NoStatPort",
    "PeerUnreachable",
    "BadStatAnswer",
    "makeStatQueryClient",
    "statQueryURL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_MAX_ANSWER",
    "DEFAULT_MAX_IN_FLIGHT",
]

#: Seconds a query may take, answer body included.
DEFAULT_TIMEOUT = 5.0

#: The largest answer body read from a peer, in bytes (64 Stats of 256
#: characters fit several times over).
DEFAULT_MAX_ANSWER = 64 * 1024

#: The most polling queries in flight at once.
DEFAULT_MAX_IN_FLIGHT = 50

#: The most peers remembered in each of the querier's records.
DEFAULT_MAX_REMEMBERED = 10_000


# Outcomes ---------------------------------------------------------------------


@dataclass(frozen=True)
class StatQueryResult:
    """
    A peer's answer to STAT_QUERY, kept by the tracker.

    @ivar peerID: the peer.
    @ivar stats: the Stats it answered (all stored).
    @ivar at: when the answer came (the tracker's clock).
    @ivar address: the C{host:port} queried.
    """

    peerID: str
    stats: Tuple[Stat, ...]
    at: float
    address: str


@dataclass(frozen=True)
class QueryOutcome:
    """
    How the latest STAT_QUERY to a peer ended.

    @ivar at: when it ended.
    @ivar outcome: C{"answered"}, C{"unreachable"} (no answer: the
        connection failed or the timeout passed) or C{"refused"} (an answer
        that was not accepted: an error response, undecodable, too large,
        another PeerID, statistics a STAT_REPORT could not carry).
    @ivar reason: a short sentence (empty when answered).
    @ivar address: the C{host:port} queried.
    @ivar stats: how many Stats were stored.
    """

    at: float
    outcome: str
    reason: str
    address: str
    stats: int = 0


@dataclass(frozen=True)
class Unreachable:
    """
    A peer that did not answer STAT_QUERY.

    @ivar since: when the first unanswered query of the streak ended.
    @ivar last: when the latest one ended.
    @ivar reason: why the latest one failed.
    @ivar failures: unanswered queries in a row.
    @ivar address: the C{host:port} queried.
    """

    since: float
    last: float
    reason: str
    failures: int
    address: str


class StatQueryFailed(Exception):
    """
    A STAT_QUERY did not bring statistics back.

    @cvar kind: a short name of the failure, for machines.
    @ivar peerID: the peer.
    @ivar reason: a short sentence for a human.
    """

    kind = "failed"

    def __init__(self, peerID: str, reason: str) -> None:
        super().__init__(peerID, reason)
        self.peerID = peerID
        self.reason = reason

    def __str__(self) -> str:
        return f"STAT_QUERY to {self.peerID!r}: {self.reason}"


class UnknownPeer(StatQueryFailed):
    """
    The PeerID is not connected (or its session changed during the query).
    """

    kind = "unknown-peer"


class NoStatPort(StatQueryFailed):
    """
    The peer announced no StatPort: it cannot be queried.
    """

    kind = "no-stat-port"


class PeerUnreachable(StatQueryFailed):
    """
    No answer: the connection failed, or the timeout passed.

    @ivar timedOut: the timeout passed.
    """

    kind = "unreachable"

    def __init__(self, peerID: str, reason: str, timedOut: bool = False) -> None:
        super().__init__(peerID, reason)
        self.timedOut = timedOut


class BadStatAnswer(StatQueryFailed):
    """
    The peer answered, but not with statistics the tracker accepts.
    """

    kind = "refused"


def statQueryURL(peer: PeerState) -> str:
    """
    Where a peer answers STAT_QUERY: its observed IP address (in brackets
    for IPv6) and its announced StatPort, never an address it claims.

    @raise ValueError: the peer has no StatPort, or its observed address is
        not an IP address.
    """
    if peer.statPort is None:
        raise ValueError("no StatPort")
    ip = ipaddress.ip_address(peer.observedIP)
    return f"http://{hostPort(str(ip), peer.statPort)}/"


class _LiteralURL(EncodedURL):
    """
    A URL whose host is an IP literal, handed to treq as it is.  treq
    turns every URL into an URI with hyperlink's C{to_uri}, which
    IDNA-encodes the host and so refuses an IPv6 literal (hyperlink issues
    #68 and #188); an IP literal needs no encoding, so this URL is its own
    URI.
    """

    def to_uri(self, *args: Any, **kwargs: Any) -> "_LiteralURL":
        return self


def _address(peer: PeerState) -> str:
    return hostPort(peer.observedIP, peer.statPort)


def _describe(failure: Failure) -> str:
    """
    A short sentence for a transport failure (L{describeFailure}), at
    most 200 characters.
    """
    value = failure.value
    return "failed" if value is None else describeFailure(value)[:200]


def _cancelled(failure: Failure) -> bool:
    """
    Whether a failure is a cancellation, perhaps wrapped by twisted.web's
    client (C{ResponseNeverReceived([CancelledError])}).
    """
    if failure.check(CancelledError):
        return True
    reasons = getattr(failure.value, "reasons", None) or ()
    return any(isinstance(r, Failure) and r.check(CancelledError) for r in reasons)


def _session(peer: PeerState) -> Tuple[str, Optional[int], float]:
    return (peer.observedIP, peer.statPort, peer.connectedAt)


# The querier --------------------------------------------------------------------


class StatQuerier:
    """
    Send STAT_QUERY to connected peers and keep their answers as if they
    had reported them.

    @param tracker: the tracker whose peers are queried and which keeps the
        answers (L{Tracker.storeQueriedStats}) and counts the outcomes
        (C{stat_query_sent}, C{stat_query_answered},
        C{stat_query_unreachable}, C{stat_query_timeout},
        C{stat_query_refused}).
    @param http: the HTTP client, a treq L{HTTPClient} (see
        L{makeStatQueryClient}; a C{StubTreq} in tests).
    @param clock: the clock the timeout runs on.
    @param timeout: seconds one query may take, the answer's body included.
    @param maxAnswer: the largest answer body, in bytes.
    @param maxRemembered: the most peers kept in L{unreachable} and in the
        latest outcomes; the oldest entry goes first.
    """

    log = Logger()

    def __init__(
        self,
        tracker: Tracker,
        http: HTTPClient,
        clock: IReactorTime,
        timeout: float = DEFAULT_TIMEOUT,
        maxAnswer: int = DEFAULT_MAX_ANSWER,
        maxRemembered: int = DEFAULT_MAX_REMEMBERED,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if maxAnswer < 1 or maxRemembered < 1:
            raise ValueError("maxAnswer and maxRemembered must be at least 1")
        self.tracker = tracker
        self.http = http
        self.clock = clock
        self.timeout = timeout
        self.maxAnswer = maxAnswer
        self.maxRemembered = maxRemembered
        self._unreachable: OrderedDict[str, Tuple[Tuple[str, Optional[int], float], Unreachable]] = OrderedDict()
        self._outcomes: OrderedDict[str, Tuple[Tuple[str, Optional[int], float], QueryOutcome]] = OrderedDict()
        self._pending: Set[Deferred[StatQueryResult]] = set()
        self._busy: Dict[str, int] = {}
        self._stopping = False

    # Queries ----------------------------------------------------------------

    def query(self, peerID: str, properties: Sequence[str] = ()) -> "Deferred[StatQueryResult]":
        """
        Ask a connected peer for statistics, and store what it answers.

        @param peerID: the peer.
        @param properties: the property names to ask for; all when empty.
        @return: a L{Deferred} that fires with a L{StatQueryResult}, or
            fails with L{UnknownPeer} (not connected, or its session
            changed meanwhile), L{NoStatPort}, L{PeerUnreachable} (no
            answer in time) or L{BadStatAnswer} (an answer refused); with
            L{ValueError} when a property name cannot be written in XML.
            Cancelling it abandons the query (nothing is recorded).
        """
        d: Deferred[StatQueryResult] = Deferred.fromCoroutine(
            self._query(peerID, tuple(properties))
        )
        self._pending.add(d)
        self._busy[peerID] = self._busy.get(peerID, 0) + 1

        def done(result: Any) -> Any:
            self._pending.discard(d)
            left = self._busy.get(peerID, 1) - 1
            if left:
                self._busy[peerID] = left
            else:
                self._busy.pop(peerID, None)
            return result

        return d.addBoth(done)

    async def _query(self, peerID: str, properties: Tuple[str, ...]) -> StatQueryResult:
        """
        Read the peer from the store, then send it the query (L{_send}).
        """
        peer = await self.tracker.store.peer(peerID)
        if peer is None or not peer.alive(self.clock.seconds()):
            raise UnknownPeer(peerID, "this PeerID is not connected")
        if peer.statPort is None:
            raise NoStatPort(peerID, "the peer announced no StatPort")
        try:
            url = statQueryURL(peer)
        except ValueError as e:
            raise PeerUnreachable(peerID, f"no IP address to query: {e}") from None
        transactionID = "sq-" + secrets.token_hex(8)
        body = XML_CODEC.encodeRequest(
            StatQueryRequest(transactionID, peerID, properties=properties)
        )
        return await self._send(peerID, transactionID, url, body, _session(peer), _address(peer))

    def _send(
        self,
        peerID: str,
        transactionID: str,
        url: str,
        body: bytes,
        session: Tuple[str, Optional[int], float],
        address: str,
    ) -> "Deferred[StatQueryResult]":
        """
        Send one query, within the timeout; record and count how it ended
        (L{_failure}).
        """
        self.tracker.countEvent("stat_query_sent")
        d: Deferred[StatQueryResult] = Deferred.fromCoroutine(
            self._exchange(peerID, transactionID, url, body, session, address)
        )
        d.addTimeout(self.timeout, self.clock)
        return d.addErrback(self._failure, peerID, session, address)

    async def _exchange(
        self,
        peerID: str,
        transactionID: str,
        url: str,
        body: bytes,
        session: Tuple[str, Optional[int], float],
        address: str,
    ) -> StatQueryResult:
        try:
            response = await self.http.post(
                _LiteralURL.from_text(url), data=body, headers=Headers({b"Content-Type": [XML_CODEC.contentType]})
            )
        except Exception:
            failure = Failure()
            if _cancelled(failure):
                raise CancelledError() from None
            raise PeerUnreachable(peerID, _describe(failure)) from None
        try:
            content = await readBody(response, self.maxAnswer)
        except BodyTooLarge:
            raise BadStatAnswer(peerID, f"the answer is larger than {self.maxAnswer} bytes") from None
        except Exception:
            failure = Failure()
            if _cancelled(failure):
                raise CancelledError() from None
            raise PeerUnreachable(peerID, "the answer broke off: " + _describe(failure)) from None
        try:
            answer = XML_CODEC.decodeResponse(content, Method.STAT_QUERY)
        except ProtocolError as e:
            raise BadStatAnswer(
                peerID, f"undecodable answer (HTTP {response.code}): {e.reason}"
            ) from None
        if isinstance(answer, ErrorResponse):
            raise BadStatAnswer(
                peerID,
                f"the peer answered {answer.errorCode.text}"
                + (f": {answer.reason}" if answer.reason else ""),
            )
        assert isinstance(answer, StatQueryResponse)
        if answer.transactionID != transactionID:
            raise BadStatAnswer(peerID, "the answer carries another TransactionID")
        if answer.peerID != peerID:
            raise BadStatAnswer(
                peerID,
                f"the answer names PeerID {answer.peerID!r}" if answer.peerID else "the answer has no PeerID",
            )
        peer = await self.tracker.store.peer(peerID)
        if peer is None or _session(peer) != session:
            raise UnknownPeer(peerID, "the peer left or reconnected during the query")
        try:
            await self.tracker.storeQueriedStats(peerID, answer.stats)
        except ProtocolError as e:
            if e.code.text == "AUTHENTICATION REQUIRED":
                raise UnknownPeer(peerID, "the peer left during the query") from None
            raise BadStatAnswer(peerID, f"statistics refused: {e}") from None
        now = self.clock.seconds()
        self.tracker.countEvent("stat_query_answered")
        self._record(peerID, session, QueryOutcome(now, "answered", "", address, len(answer.stats)))
        if self._unreachable.pop(peerID, None) is not None:
            self.log.info(
                "STAT_QUERY: peer {peerID} at {address} answers again",
                peerID=peerID,
                address=address,
                event="stat_query_reachable",
            )
        return StatQueryResult(peerID, answer.stats, now, address)

    def _failure(
        self,
        failure: Failure,
        peerID: str,
        session: Tuple[str, Optional[int], float],
        address: str,
    ) -> Failure:
        """
        Turn a timeout into L{PeerUnreachable}, and record and count what
        went wrong (a cancelled query is neither).
        """
        if failure.check(TimeoutError):
            failure = Failure(
                PeerUnreachable(peerID, f"no answer within {self.timeout:g} s", timedOut=True)
            )
        elif failure.check(CancelledError) or self._stopping:
            return failure
        value = failure.value
        now = self.clock.seconds()
        if isinstance(value, PeerUnreachable):
            self.tracker.countEvent("stat_query_timeout" if value.timedOut else "stat_query_unreachable")
            self._record(peerID, session, QueryOutcome(now, "unreachable", value.reason, address))
            previous = _about(self._unreachable, peerID, session)
            if previous is None:
                self.log.warn(
                    "STAT_QUERY: peer {peerID} at {address} is unreachable: {reason}",
                    peerID=peerID,
                    address=address,
                    reason=value.reason,
                    event="stat_query_unreachable",
                )
                entry = Unreachable(now, now, value.reason, 1, address)
            else:
                entry = Unreachable(previous.since, now, value.reason, previous.failures + 1, address)
            _remember(self._unreachable, peerID, (session, entry), self.maxRemembered)
        elif isinstance(value, BadStatAnswer):
            self.tracker.countEvent("stat_query_refused")
            previous = _about(self._outcomes, peerID, session)
            if previous is None or previous.outcome != "refused":
                self.log.warn(
                    "STAT_QUERY: answer of peer {peerID} at {address} refused: {reason}",
                    peerID=peerID,
                    address=address,
                    reason=value.reason,
                    event="stat_query_refused",
                )
            self._record(peerID, session, QueryOutcome(now, "refused", value.reason, address))
            # It answered: it is reachable.
            self._unreachable.pop(peerID, None)
        elif isinstance(value, UnknownPeer):
            self.tracker.countEvent("stat_query_gone")
        else:
            self.tracker.countEvent("stat_query_failed")
            self.log.failure("STAT_QUERY to {peerID} failed", failure, peerID=peerID)
            failure = Failure(BadStatAnswer(peerID, "the tracker failed to handle the answer"))
        return failure

    def _record(self, peerID: str, session: Tuple[str, Optional[int], float], outcome: QueryOutcome) -> None:
        _remember(self._outcomes, peerID, (session, outcome), self.maxRemembered)

    # What operators see ---------------------------------------------------

    def lastOutcome(self, peer: PeerState) -> Optional[QueryOutcome]:
        """
        How the latest STAT_QUERY to a session ended, or L{None}.

        @param peer: the peer, as the store answered it: only a record
            about this session of the peer counts, not one about an earlier
            session (before the peer left or reconnected).
        """
        return _about(self._outcomes, peer.peerID, _session(peer))  # type: ignore[no-any-return]

    def unreachableSince(self, peer: PeerState) -> Optional[Unreachable]:
        """
        A session's current streak of unanswered queries, or L{None} when
        its latest query was answered (or it was never queried).

        @param peer: the peer, as the store answered it (see
            L{lastOutcome}).
        """
        return _about(self._unreachable, peer.peerID, _session(peer))  # type: ignore[no-any-return]

    def unreachable(self) -> "Deferred[Dict[str, Unreachable]]":
        """
        Every connected peer whose latest STAT_QUERY went unanswered, once
        the records about peers that left or reconnected are forgotten
        (L{prune}).

        @return: a L{Deferred} firing with the entries by PeerID.
        """

        def entries(_: object) -> Dict[str, Unreachable]:
            return {peerID: entry for peerID, (_s, entry) in self._unreachable.items()}

        return self.prune().addCallback(entries)

    def prune(self) -> "Deferred[None]":
        """
        Forget the records about peers that left or reconnected: one read
        of the store (L{IPeerStore.peer<ppsp.interfaces.IPeerStore.peer>})
        per peer recorded, at most C{maxRemembered} of each kind.

        @return: a L{Deferred} that fires once they are forgotten.
        """
        return Deferred.fromCoroutine(self._prune())

    async def _prune(self) -> None:
        seen = [(records, dict(records)) for records in (self._unreachable, self._outcomes)]
        peerIDs = sorted(set(self._unreachable) | set(self._outcomes))
        if not peerIDs:
            return
        store = self.tracker.store
        peers: List[Optional[PeerState]] = await gatherResults(
            [store.peer(peerID) for peerID in peerIDs], consumeErrors=True
        )
        current = {
            peerID: _session(peer) for peerID, peer in zip(peerIDs, peers) if peer is not None
        }
        for records, before in seen:
            for peerID, entry in before.items():
                # A record made while the store answered is left alone.
                if records.get(peerID) is entry and current.get(peerID) != entry[0]:
                    del records[peerID]

    @property
    def inFlight(self) -> int:
        """
        The queries not finished yet.
        """
        return len(self._pending)

    def busy(self, peerID: str) -> bool:
        """
        Whether a query to C{peerID} is in flight.
        """
        return peerID in self._busy

    def cancelAll(self) -> None:
        """
        Abandon every query in flight (they fail with L{CancelledError}
        and are not recorded), for example when the tracker stops.
        """
        self._stopping = True
        try:
            for d in list(self._pending):
                d.cancel()
        finally:
            self._stopping = False


def _remember(records: "OrderedDict[str, Any]", key: str, value: Any, limit: int) -> None:
    records[key] = value
    records.move_to_end(key)
    while len(records) > limit:
        records.popitem(last=False)


def _about(
    records: "OrderedDict[str, Tuple[Any, Any]]",
    peerID: str,
    session: Tuple[str, Optional[int], float],
) -> Any:
    """
    The record kept for C{peerID} if it is about C{session}, else L{None}.
    """
    entry = records.get(peerID)
    return entry[1] if entry is not None and entry[0] == session else None


# Polling ------------------------------------------------------------------------


@implementer(IPollLease)
class SoleLease:
    """
    The poll lease of a tracker that polls alone (its store is not
    shared): always granted.
    """

    def acquire(self, peerID: str, now: float, seconds: float) -> "Deferred[bool]":
        """
        Grant the lease.

        @return: a L{Deferred} that has fired with C{True}.
        """
        return succeed(True)


class StatQueryService(Service):
    """
    Query every connected peer that announced a StatPort, every
    C{interval} seconds, and own the querier's HTTP connection pool.

    One L{LoopingCall} ticks every C{tick} seconds (1 s, or the interval
    when shorter), from the service's start.  Each round reads the
    registered peers from the store at its start (L{IPeerStore.peers
    <ppsp.interfaces.IPeerStore.peers>}) and sends their queries spread
    evenly over the interval: by C{t} seconds
    into the round, C{ceil(n * t / interval)} have been sent, never more
    than C{maxInFlight} at once (a peer whose query is still in flight is
    skipped).  A round that could not send everything in time (too many
    slow peers) goes on until it has, and the next one starts then.  No
    timer per peer; the timeouts of the queries in flight (at most
    C{maxInFlight}) are the only other timers.  A tick waits for the store;
    one that fails is logged, and the next tick tries again.

    Each query is preceded by taking the peer's lease for C{interval}
    seconds (L{IPollLease.acquire}); a peer whose lease another tracker
    holds is skipped for the round.  A lease that cannot be taken (the
    store unavailable) skips the peer too, logged once per round.

    With C{interval} L{None} it polls nothing and only owns the pool (the
    admin interface still queries on demand).

    @param querier: the L{StatQuerier}.
    @param interval: seconds between two queries to the same peer, or
        L{None} for no polling.
    @param maxInFlight: the most polling queries in flight at once.
    @param pool: the HTTP connection pool to close when the service stops.
    @param lease: the poll leases; by default the tracker's store when it
        provides L{IPollLease}, else a L{SoleLease}.

    @ivar lease: the poll leases.
    """

    log = Logger()

    def __init__(
        self,
        querier: StatQuerier,
        interval: Optional[float] = None,
        maxInFlight: int = DEFAULT_MAX_IN_FLIGHT,
        pool: Optional[webclient.HTTPConnectionPool] = None,
        lease: Optional[IPollLease] = None,
    ) -> None:
        if interval is not None and interval <= 0:
            raise ValueError("interval must be positive")
        if maxInFlight < 1:
            raise ValueError("maxInFlight must be at least 1")
        self.querier = querier
        self.interval = interval
        self.maxInFlight = maxInFlight
        self.pool = pool
        if lease is None:
            lease = IPollLease(querier.tracker.store, None)
        self.lease: IPollLease = lease if lease is not None else SoleLease()
        self.tick = min(1.0, interval) if interval is not None else 1.0
        self._leaseFailed = False
        self._loop = LoopingCall(self._step)
        self._loop.clock = querier.clock
        self._queue: Deque[str] = deque()
        self._roundStart = -math.inf
        self._roundSize = 0
        self._sent = 0
        self._polling = 0

    def startService(self) -> None:
        """
        Start polling (when an interval is set).
        """
        super().startService()
        if self.interval is not None:
            # The first tick, now, starts the first round.
            self._roundStart = -math.inf
            self._loop.start(self.tick, now=True)

    def stopService(self) -> "Optional[Deferred[None]]":
        """
        Stop polling, abandon the queries in flight and close the pool's
        connections; the result fires when they are closed.
        """
        super().stopService()
        if self._loop.running:
            self._loop.stop()
        self._queue.clear()
        self.querier.cancelAll()
        if self.pool is not None:
            return self.pool.closeCachedConnections()  # type: ignore[no-any-return]
        return None

    async def _newRound(self, now: float) -> None:
        querier = self.querier
        await querier.prune()
        peers = await querier.tracker.store.peers()
        self._queue = deque(
            peer.peerID for peer in peers if peer.statPort is not None and peer.alive(now)
        )
        self._roundStart = now
        self._roundSize = len(self._queue)
        self._sent = 0
        self._leaseFailed = False

    def _step(self) -> "Deferred[None]":
        return Deferred.fromCoroutine(self._tick())

    async def _tick(self) -> None:
        try:
            await self._advance()
        except Exception:
            self.log.failure("STAT_QUERY polling failed; the next tick tries again")

    async def _advance(self) -> None:
        assert self.interval is not None
        now = self.querier.clock.seconds()
        if not self._queue and now - self._roundStart >= self.interval:
            await self._newRound(now)
        elapsed = now - self._roundStart
        due = min(
            self._roundSize,
            math.ceil(self._roundSize * min(elapsed, self.interval) / self.interval - 1e-9),
        )
        querier = self.querier
        while self._queue and self._sent < due and self._polling < self.maxInFlight:
            peerID = self._queue.popleft()
            self._sent += 1
            if querier.busy(peerID):
                continue
            self._polling += 1
            Deferred.fromCoroutine(self._poll(peerID, now, self.interval))

    async def _poll(self, peerID: str, now: float, interval: float) -> None:
        """
        Take the peer's lease, then query it.
        """
        try:
            try:
                taken = await self.lease.acquire(peerID, now, interval)
            except Exception:
                if not self._leaseFailed:
                    self._leaseFailed = True
                    self.log.failure(
                        "STAT_QUERY polling: no lease for peer {peerID}; "
                        "the peers without one wait for the next round",
                        peerID=peerID,
                    )
                return
            # A lease that came after the service stopped is not used.
            if taken and self.running:
                try:
                    await self.querier.query(peerID)
                except Exception:
                    # Every outcome is recorded, counted and logged by the
                    # querier.
                    pass
        finally:
            self._polling -= 1


def makeStatQueryClient(
    reactor: Any, connectTimeout: float = DEFAULT_TIMEOUT
) -> Tuple[HTTPClient, webclient.HTTPConnectionPool]:
    """
    An HTTP client for a L{StatQuerier}, with its own connection pool that
    keeps no connection open between queries (each query goes to another
    peer) and does not log every connection.

    The caller owns the pool and closes it when done (a
    L{StatQueryService} does when it stops):
    C{pool.closeCachedConnections()}.

    @param reactor: the reactor to connect with.
    @param connectTimeout: seconds a TCP connection may take.
    """
    pool = webclient.HTTPConnectionPool(reactor, persistent=False)
    return HTTPClient(quietAgent(reactor, pool, connectTimeout=connectTimeout)), pool
