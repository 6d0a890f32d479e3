# -*- test-case-name: ppsp.test.test_core -*-
"""
The tracker core: every rule of the PPSP tracker protocol, with no I/O.

L{Tracker.handle} takes a request message and the address it came from and
returns a response message.  Time comes from an injected
L{IReactorTime<twisted.internet.interfaces.IReactorTime>} (a
L{Clock<twisted.internet.task.Clock>} in tests); state lives in an injected
L{IPeerStore}; peer lists come from an injected L{IPeerSelector}; CONNECT
credentials are checked by an injected L{twisted.cred} checker.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Coroutine,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
    cast,
)

from twisted.cred.checkers import ANONYMOUS, ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure
from zope.interface import implementer

from ppsp._coroutines import startCoroutine
from ppsp._ratelimit import RateLimitedLog
from ppsp.interfaces import (
    IFindConstraints,
    IPeerSelector,
    IPeerStore,
    IRetryCache,
    ISwarmMember,
    ISwarmView,
    StoreUnavailable,
)
from ppsp.messages import (
    AddressType,
    ChunkRange,
    ConnectRequest,
    ConnectResponse,
    DisconnectRequest,
    DisconnectResponse,
    ErrorResponse,
    FindChunkRequest,
    FindChunkResponse,
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
    PeerInfo,
    PeerMode,
    PPSTPConnectRequest,
    ProtocolError,
    Request,
    Response,
    ResponseCode,
    Stat,
    StatQueryRequest,
    StatReportRequest,
    StatReportResponse,
)
from ppsp.selection.random import RandomSelector
from ppsp.tracker.addresses import addressKey
from ppsp.tracker.credentials import OpenPeerChecker, PeerCredentials, Revocations, SessionIdentity
from ppsp.tracker.bans import Bans
from ppsp.tracker.metrics import TrackerMetrics
from ppsp.tracker.outage import StoreOutage
from ppsp.tracker.properties import Compare, Scope, lookup
from ppsp.tracker.retry import MemoryRetryCache, retryKey
from ppsp.tracker.rfc7846 import RFC7846Adapter
from ppsp.tracker.peerlist import PeerInfoCache, checkedList
from ppsp.tracker.store import MemoryPeerStore
from ppsp.tracker.values import MemberState, PeerState, Session, StatsUpdate, StatValue

__all__ = ["TrackerConfig", "Origin", "Tracker", "FindConstraints", "SessionOpening"]

_FORBIDDEN = ResponseCode.MESSAGE_FORBIDDEN
_NOT_FOUND = ResponseCode.OBJECT_NOT_FOUND
_SYNTAX = ResponseCode.INVALID_SYNTAX
_AUTH = ResponseCode.AUTHENTICATION_REQUIRED


@dataclass(frozen=True)
class TrackerConfig:
    """
    The tracker's settings (PROTOCOL.md section 6), all with the profile's
    defaults.

    @ivar keepAliveInterval: seconds a peer should wait between KEEPALIVEs.
    @ivar peerTimeout: seconds of silence after which a peer expires.
    @ivar defaultPeers: peers in a list when the request asks for none.
    @ivar maxPeers: the most peers in one list.
    @ivar maxSwarmsPerPeer: memberships one peer may hold.
    @ivar maxAddresses: addresses one peer may announce.
    @ivar maxChunkRanges: chunk ranges (after merging) per membership.
    @ivar maxSwarmSize: members per swarm, or L{None} for no cap.
    @ivar maxStats: Stats in one message, and properties kept per peer and
        per membership.
    @ivar maxStatValue: characters in one statistics value.
    @ivar emptySwarmLifetime: seconds an empty swarm is kept.
    @ivar retryWindow: seconds a response is kept for a repeated request.
    @ivar retryCacheSize: the most responses kept for repeated requests.
    @ivar rateLimit: requests per second per source address (an IPv4
        address, an IPv6 /64) for the throttle that L{TrackerResource
        <ppsp.tracker.resource.TrackerResource>} builds when it is given
        none (L{AddressThrottle<ppsp.tracker.throttle.AddressThrottle>});
        0: off.  The core itself does not throttle.
    @ivar rateBurst: the burst allowed per address; twice C{rateLimit}
        when L{None}.
    @ivar provisionedSwarms: when not L{None}, the only swarms that exist.
    @ivar trustAnnouncedAddresses: list public addresses a peer announces
        even when they differ from the address the tracker observed.
    @ivar minStatPort: the lowest StatPort a peer may announce (1024: the
        tracker does not send STAT_QUERY to well-known services' ports
        unless the operator allows it, C{--allow-low-stat-ports}).
    @ivar maxSessionsPerAddress: sessions registered from one source
        address (an IPv4 address, an IPv6 /64) at once; past it, CONNECT is
        MESSAGE FORBIDDEN.  0: no cap.
    @ivar maxSessions: sessions registered at once; past it, CONNECT is
        TEMPORARILY OVERLOADED.  0: no cap.
    @ivar maxPeerMemory: bytes one peer's session may make the store hold
        (its record, memberships, chunk sets and statistics across all its
        swarms, by the store's cost model); a request that would need more
        is MESSAGE FORBIDDEN.  0: no budget.
    @ivar maxAddressMemory: bytes all the sessions of one source address
        together may make the store hold; a request that would need more
        is MESSAGE FORBIDDEN.  0: no budget.
    """

    keepAliveInterval: int = 60
    peerTimeout: float = 180.0
    defaultPeers: int = 30
    maxPeers: int = 200
    maxSwarmsPerPeer: int = 64
    maxAddresses: int = 8
    maxChunkRanges: int = 1024
    maxSwarmSize: Optional[int] = None
    maxStats: int = 64
    maxStatValue: int = 256
    emptySwarmLifetime: float = 300.0
    retryWindow: float = 60.0
    retryCacheSize: int = 200_000
    rateLimit: float = 200.0
    rateBurst: Optional[float] = None
    provisionedSwarms: Optional[FrozenSet[str]] = None
    trustAnnouncedAddresses: bool = False
    minStatPort: int = 1024
    maxSessionsPerAddress: int = 256
    maxSessions: int = 1_000_000
    maxPeerMemory: int = 8 * 2**20
    maxAddressMemory: int = 16 * 2**20

    def __post_init__(self) -> None:
        for name in (
            "keepAliveInterval",
            "peerTimeout",
            "defaultPeers",
            "maxPeers",
            "emptySwarmLifetime",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in (
            "maxSwarmsPerPeer",
            "maxAddresses",
            "maxChunkRanges",
            "maxStats",
            "maxStatValue",
            "retryCacheSize",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.rateLimit < 0 or self.retryWindow < 0:
            raise ValueError("rateLimit and retryWindow must not be negative")
        for name in ("maxSessionsPerAddress", "maxSessions", "maxPeerMemory", "maxAddressMemory"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative (0: no limit)")
        if not 1 <= self.minStatPort <= 65535:
            raise ValueError("minStatPort must be from 1 to 65535")
        if self.maxSwarmSize is not None and self.maxSwarmSize < 1:
            raise ValueError("maxSwarmSize must be at least 1")
        if self.defaultPeers > self.maxPeers:
            raise ValueError("defaultPeers must not exceed maxPeers")
        if self.peerTimeout <= self.keepAliveInterval:
            raise ValueError("peerTimeout must be longer than keepAliveInterval")


@dataclass(frozen=True, slots=True)
class Origin:
    """
    Where a request came from, as the tracker observed it.

    @ivar certificate: the DER bytes of the TLS client certificate of the
        request's connection, when it has one: the checker of a CONNECT
        reads it, a session opened over it stays bound to it, and the
        retry cache answers only a connection that shows the same one.
    """

    ip: str
    port: int
    certificate: Optional[bytes] = None


@implementer(IFindConstraints)
class FindConstraints:
    """
    The constraints of one FIND: the chunk asked for and the statistics
    constraints, parsed.  L{accepts} also refuses the requester and members
    whose session or membership has expired but has not been taken out
    yet, so that no strategy ever sees them as candidates.

    @ivar accepted: the PeerIDs L{accepts} said yes to, so that the
        tracker's own check of a strategy's answer does not evaluate them
        twice.
    """

    __slots__ = ("chunkID", "stats", "now", "_checks", "accepts", "accepted")

    def __init__(
        self,
        chunkID: Optional[int],
        stats: Tuple[Stat, ...],
        checks: Tuple[Tuple[str, Compare, StatValue], ...],
        now: float,
        requesterID: Optional[str] = None,
    ) -> None:
        self.chunkID = chunkID
        self.stats = stats
        self._checks = checks
        #: The time of the request (strategies that spread hand-outs over
        #: time read it).
        self.now = now
        self.accepted: Set[str] = set()
        remember = self.accepted.add
        if chunkID is None and not checks:
            # The common FIND: only liveness to check, so do it inline.
            def alive(member: ISwarmMember) -> bool:
                if member.deadline > now:
                    peerID = member.peerID
                    if peerID != requesterID:
                        remember(peerID)
                        return True
                return False

            self.accepts: Callable[[ISwarmMember], bool] = alive
        else:
            check = self._accepts

            def accepts(member: ISwarmMember) -> bool:
                peerID = member.peerID
                if peerID != requesterID and check(member):
                    remember(peerID)
                    return True
                return False

            self.accepts = accepts

    def _accepts(self, member: ISwarmMember) -> bool:
        """
        Whether C{member} is alive and satisfies every constraint.
        """
        now = self.now
        if member.deadline <= now:
            return False
        chunkID = self.chunkID
        if chunkID is not None and not member.holds(chunkID):
            return False
        for name, compare, wanted in self._checks:
            have: Optional[StatValue]
            if name == "PeerMode":
                have = member.mode.value
            elif name == "OnlineTime":
                have = int(now - member.connectedAt)
            else:
                have = member.stat(name)
            if have is None:
                return False
            if compare is Compare.EQUAL:
                if have != wanted:
                    return False
            elif type(have) is not int:
                return False
            elif compare is Compare.AT_LEAST:
                if have < wanted:  # type: ignore[operator]
                    return False
            elif have > wanted:  # type: ignore[operator]
                return False
        return True


_ParsedStats = List[Tuple[str, Optional[str], StatValue, Optional[Scope]]]

#: Statistics placed by L{Tracker._planStats}: by SwarmID, L{None} for the
#: peer's own.
_Plan = Dict[Optional[str], Dict[str, StatValue]]


class SessionOpening:
    """
    A CONNECT that L{Tracker.openSession} accepted: authenticated, past the
    takeover rule, within every limit, and for a new peer, registered.
    What the CONNECT does next (answer it, or apply an encoding's swarm
    actions) is up to the caller of L{Tracker.openSession}.

    @ivar request: the CONNECT.
    @ivar origin: where it came from.
    @ivar now: the time at which the session was opened (after an
        asynchronous credentials checker answered).
    @ivar peer: the peer as the store answered it before this CONNECT
        changed anything, or as registered by it.
    @ivar fresh: whether this CONNECT registered the peer; else it takes a
        registered session over, and nothing of that session has changed
        yet (L{Tracker.updateSession} changes it).
    @ivar identity: what authenticated this CONNECT.
    @ivar plan: the CONNECT's statistics, placed and checked, for a
        registered peer (a new one keeps them at once).
    """

    __slots__ = ("request", "origin", "now", "peer", "fresh", "identity", "plan")

    def __init__(
        self,
        request: Union[ConnectRequest, PPSTPConnectRequest],
        origin: Origin,
        now: float,
        peer: PeerState,
        fresh: bool,
        identity: SessionIdentity,
        plan: StatsUpdate,
    ) -> None:
        self.request = request
        self.origin = origin
        self.now = now
        self.peer = peer
        self.fresh = fresh
        self.identity = identity
        self.plan = plan

    @property
    def peerID(self) -> str:
        """
        The PeerID of the session.
        """
        return self.peer.peerID

    @property
    def token(self) -> str:
        """
        The session's AuthToken: a new peer's, or the one the registered
        session holds.
        """
        return self.peer.token


class Tracker:
    """
    A PPSP tracker: the protocol's rules over a peer store.

    Most requests cost one read of the store and one write (see
    L{IPeerStore}); the handlers are written once, as coroutines, and with
    a store that answers at once (the memory store) the L{Deferred} that
    L{handle} returns has fired when it returns.

    @param clock: the source of time.
    @param config: the settings.
    @param store: the state; a fresh L{MemoryPeerStore} by default.
    @param selector: the peer-selection strategy; uniform random by
        default.
    @param checker: the CONNECT credentials checker; the C{open} scheme by
        default.
    @param swarmSelectors: strategies for individual swarms, by SwarmID;
        the others use C{selector}.
    @param retryCache: the answers kept for repeated requests; the store
        when it provides L{IRetryCache} (so that trackers sharing it share
        their answers), else a L{MemoryRetryCache} with the config's window
        and size.
    @param revocations: the PeerIDs and credentials revoked at start
        (L{setRevocations} changes them at run time).
    @param metrics: what the tracker counts (L{TrackerMetrics}); a fresh
        one on C{clock} by default.
    @param bans: the addresses and networks refused before decoding
        (L{Bans}, which the HTTP resource and the admin API read); none
        banned by default.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        config: Optional[TrackerConfig] = None,
        store: Optional[IPeerStore] = None,
        selector: Optional[IPeerSelector] = None,
        checker: Optional[ICredentialsChecker] = None,
        swarmSelectors: Optional[Mapping[str, IPeerSelector]] = None,
        retryCache: Optional[IRetryCache] = None,
        revocations: Optional[Revocations] = None,
        metrics: Optional[TrackerMetrics] = None,
        bans: Optional[Bans] = None,
    ) -> None:
        self.clock = clock
        #: What the tracker counts: the HTTP resource writes each answered
        #: and refused request, the core its expiries, retries answered
        #: from the cache and store errors, the STAT_QUERY querier its
        #: outcomes (L{countEvent}).
        self.metrics = metrics if metrics is not None else TrackerMetrics(clock)
        #: Whether the tracker is draining for a stop (it answers what is
        #: in flight and takes nothing new); the health check then
        #: answers 503.  Whatever stops the tracker gracefully sets it.
        self.draining = False
        self.config = config = config if config is not None else TrackerConfig()
        self.store: IPeerStore = store if store is not None else MemoryPeerStore()
        self.selector: IPeerSelector = selector if selector is not None else RandomSelector()
        #: Swarms with a strategy of their own, by SwarmID.
        self.swarmSelectors: Dict[str, IPeerSelector] = dict(swarmSelectors or {})
        self.checker: ICredentialsChecker = (
            checker if checker is not None else OpenPeerChecker()
        )
        if retryCache is None:
            retryCache = IRetryCache(self.store, None)
        self.retryCache: IRetryCache = (
            retryCache
            if retryCache is not None
            else MemoryRetryCache(config.retryWindow, config.retryCacheSize)
        )
        self.revocations = revocations if revocations is not None else Revocations()
        #: The TCP ports the tracker itself listens on (its peers' and its
        #: admin listeners add theirs when they listen): never a StatPort.
        self.ownPorts: set[int] = set()
        self._refusals = RateLimitedLog(self.log, clock)
        #: The store's outages (L{StoreOutage}): logged when one begins and
        #: when it ends, not once per request.
        self.storeOutage = StoreOutage(clock, self.metrics)
        #: The addresses and networks refused before decoding.
        self.bans = bans if bans is not None else Bans(clock)
        #: The entries of members in peer lists (L{PeerInfoCache}).
        self.peerInfos = PeerInfoCache(config.trustAnnouncedAddresses)
        #: The SwarmIDs the operator provisioned (L{provisionSwarm},
        #: L{removeSwarm} change them), from C{config.provisionedSwarms};
        #: when the config has none (L{None}), swarms are also created on
        #: JOIN and this holds only those provisioned at run time.
        self.provisionedSwarms: Set[str] = set(config.provisionedSwarms or ())
        #: Whether only provisioned swarms exist (the config has a list).
        self.provisionedOnly = config.provisionedSwarms is not None
        #: The numbers of registered peers and of swarms, as the store
        #: answered them at the last L{expire} (once a second under
        #: L{TrackerService<ppsp.tracker.service.TrackerService>}), or
        #: L{refreshPopulation}: what metrics and status pages read without
        #: asking the store.
        self.population: Tuple[int, int] = (0, 0)
        now = clock.seconds()
        #: Fires when the provisioned swarms of the config exist in the
        #: store (at once with the memory store).
        self.ready: Deferred[None] = startCoroutine(
            self._provision(sorted(config.provisionedSwarms or ()), now)
        )
        self._handlers: Dict[type, Callable[[Any, Origin, float], Coroutine[Any, Any, Response]]] = {
            ConnectRequest: self._connect,
            PPSTPConnectRequest: RFC7846Adapter(self).connect,
            DisconnectRequest: self._disconnect,
            JoinRequest: self._join,
            JoinChunkRequest: self._joinChunk,
            LeaveRequest: self._leave,
            FindRequest: self._find,
            FindChunkRequest: self._find,
            KeepAliveRequest: self._keepAlive,
            StatReportRequest: self._statReport,
            StatQueryRequest: self._statQuery,
        }

    async def _provision(self, swarmIDs: Sequence[str], now: float) -> None:
        store = self.store
        for swarmID in swarmIDs:
            await store.addSwarm(swarmID, True, now)
        self.population = await store.counts()

    # Entry points ---------------------------------------------------------

    def handle(self, request: Request, origin: Origin) -> "Deferred[Response]":
        """
        Apply one request and return a L{Deferred} of its response (fired
        already when the store, the credentials checker and the strategy
        answer at once, as the memory store does).  Protocol errors become
        L{ErrorResponse}s, and so does a failure of the store: TEMPORARILY
        OVERLOADED when it cannot answer now (L{StoreUnavailable}), else
        INTERNAL ERROR; the Deferred never fails for a request message.

        A request repeated from the same address, over a connection with
        the same TLS client certificate (or none), with the same PeerID,
        TransactionID and content within the retry window gets the first
        answer again and is not applied twice, but an answer that opened a
        session is given again only while that session lives (it holds the
        session's AuthToken).
        """
        return startCoroutine(self._handle(request, origin))

    async def _handle(self, request: Request, origin: Origin) -> Response:
        now = self.clock.seconds()
        key = retryKey(origin.ip, request, origin.certificate)
        cache = self.retryCache
        seen = cache.fingerprint(request)
        outage = self.storeOutage
        epoch = outage.epoch
        try:
            cached = await cache.get(key, seen, now)
            if cached is not None:
                if await self._stillValid(cached, request.peerID, now):
                    self.metrics.count("retry")
                    if outage.since is not None:
                        outage.answered(epoch)
                    return cached
                await cache.discard(key)
            try:
                response = await self._handlers[type(request)](request, origin, now)
            except ProtocolError as e:
                response = ErrorResponse(request.transactionID, e.code, e.reason)
            await cache.put(key, seen, response, now)
            if outage.since is not None:
                outage.answered(epoch)
            return response
        except Exception:
            return self._failureResponse(Failure(), request)

    async def _stillValid(self, response: Response, peerID: str, now: float) -> bool:
        """
        Whether a kept answer may be given again: one that carries a
        session's AuthToken (a CONNECT's) only while that session lives,
        so that an answer never outlives a DISCONNECT, an expiry or a
        revocation.
        """
        token = getattr(response, "authToken", None)
        if not token:
            return True
        peer = await self.store.peer(peerID)
        return peer is not None and peer.alive(now) and peer.token == token

    def expire(self) -> "Deferred[None]":
        """
        Apply every timer that is due: the store takes out silent peers,
        memberships whose ExpireTime passed and swarms that stayed empty
        (L{IPeerStore.expire}); the retry cache drops stale answers; and
        L{population} is refreshed.  L{TrackerService} calls it every
        second; it costs time in proportion to what is due.  A failure of
        the store is logged and counted (C{store_error}), never raised, so
        that the next second tries again; a store that cannot answer now
        (L{StoreUnavailable}) is logged once per outage (L{storeOutage}).
        """
        return startCoroutine(self._expire())

    async def _expire(self) -> None:
        now = self.clock.seconds()
        store = self.store
        outage = self.storeOutage
        epoch = outage.epoch
        try:
            expired = await store.expire(now, self.config.emptySwarmLifetime)
            for peer in expired.peers:
                self.countEvent("expired")
                self.log.debug(
                    "peer {peerID} expired (silent for {timeout} s, or its credential expired)",
                    peerID=peer.peerID,
                    timeout=self.config.peerTimeout,
                )
            await self.retryCache.prune(now)
            self.population = await store.counts()
            if outage.since is not None:
                outage.answered(epoch)
        except StoreUnavailable as e:
            outage.failed(str(e), request=False)
        except Exception:
            self.metrics.count("store_error")
            self.log.failure("expiry failed", Failure())

    def refreshPopulation(self) -> "Deferred[Tuple[int, int]]":
        """
        Ask the store for the numbers of registered peers and of swarms now,
        keep them in L{population} and fire with them.
        """

        def keep(counts: Tuple[int, int]) -> Tuple[int, int]:
            self.population = counts
            return counts

        return self.store.counts().addCallback(keep)

    # Bookkeeping ----------------------------------------------------------

    def countEvent(self, name: str) -> None:
        """
        Count one event (an expiry, a STAT_QUERY outcome, …) for the
        operator's views, in L{metrics}.
        """
        self.metrics.count(name)

    @property
    def counters(self) -> Dict[str, int]:
        """
        The operator's counters, read from L{metrics}: requests answered by
        method name and by response code text (what the HTTP resource
        answered, L{TrackerResource<ppsp.tracker.resource.TrackerResource>};
        the requests that could not be decoded are the C{undecodable}
        event), and the events (C{expired} peers, C{retry} answers from
        the cache, C{store_error}, the STAT_QUERY outcomes, …).  A new
        dictionary on every read.
        """
        metrics = self.metrics
        counters = {method: n for method, n in metrics.byMethod().items() if method != "?"}
        counters.update(metrics.byCode())
        counters.update(metrics.events)
        return counters

    def storeReachable(self) -> "Deferred[bool]":
        """
        Whether the tracker can reach its store, for the health check
        (L{IPeerStore.reachable}).
        """
        return self.store.reachable()

    def _failureResponse(self, failure: Failure, request: Request) -> Response:
        if failure.check(StoreUnavailable):
            self.storeOutage.failed(failure.getErrorMessage())
            return ErrorResponse(
                request.transactionID,
                ResponseCode.TEMPORARILY_OVERLOADED,
                "the tracker's store is unavailable",
            )
        self.metrics.count("store_error")
        self.log.failure(
            "tracker failed on {method} from {peerID}",
            failure,
            method=request.method.value,
            peerID=request.peerID,
        )
        return ErrorResponse(
            request.transactionID, ResponseCode.INTERNAL_ERROR, "the tracker failed"
        )

    # Sessions ---------------------------------------------------------------

    def _checkSession(
        self, peer: Optional[PeerState], request: Request, now: float, origin: Origin
    ) -> PeerState:
        """
        The connected peer that sent C{request}, after checking its
        AuthToken, and for a session opened over a TLS client certificate,
        that the request's connection shows the same certificate.  A
        session ends when its credential expires (its deadline is never
        later, see L{_deadline}).  A request marked C{sessionByAddress}
        (JSON) without a token is accepted from the session's observed IP
        address only, and only for a session of the C{open} scheme
        (PROTOCOL.md section 7); a wrong token is refused whatever its
        source.

        @param peer: the peer as the store answered it for this request.
        """
        if peer is None or peer.deadline <= now:
            raise ProtocolError(_AUTH, "this PeerID is not connected; CONNECT first")
        identity = peer.identity
        if identity is not None and identity.certificate is not None and (
            origin.certificate is None
            or hashlib.sha256(origin.certificate).digest() != identity.certificate
        ):
            raise ProtocolError(
                _FORBIDDEN, "this session is bound to another TLS client certificate"
            )
        token = request.authToken
        if token is None:
            if (
                request.sessionByAddress
                and origin.ip == peer.observedIP
                and (identity is None or not identity.bound)
            ):
                return peer
            raise ProtocolError(_FORBIDDEN, "AuthToken missing")
        if not hmac.compare_digest(token.encode("utf-8"), peer.token.encode("utf-8")):
            raise ProtocolError(_FORBIDDEN, "wrong AuthToken")
        return peer

    async def _session(self, request: Request, now: float, origin: Origin) -> PeerState:
        """
        Read the peer that sent C{request} and check its session
        (L{_checkSession}).
        """
        peer = await self.store.peer(request.peerID)
        if peer is not None and peer.deadline <= now:
            await self._sweep(peer, now)
        return self._checkSession(peer, request, now, origin)

    async def _sweep(self, peer: PeerState, now: float) -> None:
        """
        Take out a session a request found expired (its deadline passed
        before the next expiry tick), as the tick would: its peer is no
        longer counted or listed from this request on.
        """
        await self.store.disconnect(peer.peerID, now)

    def _deadline(self, identity: Optional[SessionIdentity], now: float) -> float:
        """
        When a session heard from at C{now} expires: C{peerTimeout} later,
        never after its credential does.
        """
        deadline = now + self.config.peerTimeout
        if identity is not None and identity.expires is not None and identity.expires < deadline:
            deadline = identity.expires
        return float(deadline)

    async def _member(self, peer: PeerState, swarmID: str, now: float) -> MemberState:
        """
        The peer's current membership of a swarm.

        @raise ProtocolError: it has none (or it ended and was not taken
            out yet): OBJECT NOT FOUND when the swarm does not exist (the
            store is asked only then), else MESSAGE FORBIDDEN.
        """
        member = peer.swarms.get(swarmID)
        if member is None or not member.current(now):
            if await self.store.swarm(swarmID) is None:
                raise ProtocolError(_NOT_FOUND, "unknown SwarmID")
            raise ProtocolError(_FORBIDDEN, "the peer has not joined this swarm")
        return member

    @staticmethod
    def _gone() -> ProtocolError:
        """
        The error for a write the store refused because the session went
        meanwhile (another tracker of the same store ended it).
        """
        return ProtocolError(_AUTH, "this PeerID is not connected; CONNECT first")

    # Limits (PROTOCOL.md section 6) ------------------------------------------

    async def _checkSessions(self, request: Request, origin: Origin, new: bool) -> int:
        """
        Refuse a CONNECT that would add a session to the source address of
        C{origin} past C{maxSessionsPerAddress} (MESSAGE FORBIDDEN): a new
        registration, or a takeover that moves a session there from another
        address.  A new registration past C{maxSessions} is TEMPORARILY
        OVERLOADED.

        @return: the bytes the store holds for that address's sessions.
        """
        config = self.config
        sessions, held, total = await self.store.usage(origin.ip)
        limit = config.maxSessionsPerAddress
        if limit and sessions >= limit:
            self._refused(request, origin, "too many sessions from this address")
            raise ProtocolError(
                _FORBIDDEN, f"this address already has {limit} sessions"
            )
        limit = config.maxSessions
        if new and limit and total >= limit:
            self._refused(request, origin, "the tracker holds as many sessions as it may")
            raise ProtocolError(
                ResponseCode.TEMPORARILY_OVERLOADED, "the tracker holds as many sessions as it may"
            )
        return held

    def _checkBudget(self, held: int, addressHeld: int, extra: int, moving: bool = False) -> None:
        """
        Refuse (MESSAGE FORBIDDEN) a write that would make the store hold
        C{extra} more bytes for a peer that holds C{held} past
        C{maxPeerMemory}, or for its source address, which holds
        C{addressHeld}, past C{maxAddressMemory}.  Writes that hold less
        are never refused.

        @param moving: the write moves the peer's session, with everything
            it holds, to the account of an address that holds
            C{addressHeld}.
        """
        if extra <= 0 and not moving:
            return
        config = self.config
        limit = config.maxPeerMemory
        if limit and extra > 0 and held + extra > limit:
            raise ProtocolError(
                _FORBIDDEN, f"the peer's memory budget ({limit} bytes) would be exceeded"
            )
        limit = config.maxAddressMemory
        if limit:
            used = addressHeld + (held if moving else 0)
            if used + extra > limit:
                raise ProtocolError(
                    _FORBIDDEN,
                    f"the memory budget of this address ({limit} bytes) would be exceeded",
                )

    def _budgeted(self) -> bool:
        """
        Whether a memory budget is set (else costs need not be computed).
        """
        return bool(self.config.maxPeerMemory or self.config.maxAddressMemory)

    def _statsCost(self, peer: PeerState, plan: _Plan) -> int:
        """
        The bytes that merging C{plan} (L{_planStats}) would add (a swarm
        the peer is not a member of yet starts with no statistics).
        """
        statsCost = self.store.costs.statsCost
        total = 0
        for swarmID, values in plan.items():
            if swarmID is None:
                kept: Optional[Mapping[str, StatValue]] = peer.stats
            else:
                member = peer.swarms.get(swarmID)
                kept = member.stats if member is not None else None
            total += statsCost(kept or None, values)
        return total

    async def _checkNewSession(
        self,
        request: Request,
        origin: Origin,
        addresses: Tuple[PeerAddress, ...],
        values: Mapping[str, StatValue],
    ) -> None:
        """
        The limits a CONNECT that registers a new session must meet: the
        session caps, and the budgets for its record and statistics.
        """
        held = await self._checkSessions(request, origin, True)
        if self._budgeted():
            costs = self.store.costs
            extra = costs.recordCost(request.peerID, origin.ip, addresses)
            if values:
                extra += costs.statsCost(None, values)
            self._checkBudget(0, held, extra)

    async def _checkTakeover(
        self,
        request: Request,
        origin: Origin,
        peer: PeerState,
        plan: _Plan,
        addresses: Optional[Tuple[PeerAddress, ...]],
        joining: Sequence[str],
    ) -> None:
        """
        The limits a CONNECT that takes a registered session over must
        meet, before anything changes: when the session moves to another
        source address, that address's session cap; the budgets for what
        the session will hold (its new addresses, or its own when
        C{addresses} is L{None}, its statistics, and a membership for each
        swarm in C{joining} it is not in), counted at the address it moves
        to.
        """
        moving = addressKey(origin.ip) != addressKey(peer.observedIP)
        addressHeld = peer.addressHeld
        if moving:
            addressHeld = await self._checkSessions(request, origin, False)
        if not self._budgeted():
            return
        costs = self.store.costs
        if addresses is None:
            addresses = peer.addresses
        extra = (
            self._statsCost(peer, plan)
            + costs.recordCost(peer.peerID, origin.ip, addresses)
            - costs.recordCost(peer.peerID, peer.observedIP, peer.addresses)
        )
        for swarmID in joining:
            if swarmID not in peer.swarms:
                extra += costs.memberCost(swarmID)
        self._checkBudget(peer.held, addressHeld, extra, moving)

    # Statistics -----------------------------------------------------------

    def _parseStats(self, stats: Tuple[Stat, ...], computed: bool = False) -> _ParsedStats:
        """
        Validate the Stats of one message against the per-message limits
        and the property registry.

        @param computed: keep tracker-computed properties (for FIND
            constraints); reported values of them are dropped otherwise.
        @return: (canonical name, swarm, typed value, scope) for each Stat.
        """
        config = self.config
        if len(stats) > config.maxStats:
            raise ProtocolError(_SYNTAX, f"more than {config.maxStats} Stats")
        parsed: _ParsedStats = []
        for stat in stats:
            if len(stat.value) > config.maxStatValue:
                raise ProtocolError(
                    _SYNTAX, f"a Stat value is longer than {config.maxStatValue} characters"
                )
            prop = lookup(stat.property)
            if prop is None:
                parsed.append((stat.property, stat.swarm, stat.value, None))
                continue
            try:
                value = prop.parse(stat.value)
            except ValueError as e:
                raise ProtocolError(_SYNTAX, f"{prop.name}: {e}") from None
            if computed or not prop.trackerComputed:
                parsed.append((prop.name, stat.swarm, value, prop.scope))
        return parsed

    def _planStats(
        self,
        peer: PeerState,
        parsed: _ParsedStats,
        now: float,
        joining: Optional[str] = None,
    ) -> _Plan:
        """
        Decide where each Stat is kept, and check every rule, before
        anything is written: peer-scoped properties go to the peer;
        swarm-scoped ones (and unknown ones naming a swarm) to the named
        membership, or, in a JOIN, without a swarm, to the membership of
        the swarm being joined (which may not exist yet); others to the
        peer.

        @param joining: the SwarmID a JOIN is joining, if any.
        @return: the statistics by where they go (SwarmID, or L{None} for
            the peer), for the store's write.
        @raise ProtocolError: a Stat names a swarm the peer has not joined,
            or a target would keep more than C{maxStats} properties.
        """
        plan: _Plan = {}
        for name, swarmID, value, scope in parsed:
            target: Optional[str] = None
            if scope is not Scope.PEER:
                if joining is not None and (
                    swarmID == joining or (swarmID is None and scope is Scope.SWARM)
                ):
                    target = joining
                elif swarmID is not None:
                    member = peer.swarms.get(swarmID)
                    if member is None or not member.current(now):
                        raise ProtocolError(
                            _FORBIDDEN, f"Stat for swarm {swarmID!r}, which the peer has not joined"
                        )
                    target = swarmID
            values = plan.get(target)
            if values is None:
                values = plan[target] = {}
            values[name] = value
        limit = self.config.maxStats
        for target, values in plan.items():
            if target is None:
                kept: Mapping[str, StatValue] = peer.stats
            else:
                member = peer.swarms.get(target)
                kept = member.stats if member is not None and member.current(now) else {}
            if kept and len(kept.keys() | values.keys()) > limit:
                raise ProtocolError(_FORBIDDEN, f"more than {limit} properties kept")
        return plan

    def _planReported(self, peer: PeerState, parsed: _ParsedStats, now: float) -> _Plan:
        """
        Place and check statistics a registered peer reports (STAT_REPORT,
        a STAT_QUERY's answer, what a FIND says about its sender) with
        L{_planStats}, then against the memory budgets, before any is kept.
        """
        plan = self._planStats(peer, parsed, now)
        if self._budgeted():
            self._checkBudget(peer.held, peer.addressHeld, self._statsCost(peer, plan))
        return plan

    # Peer lists -------------------------------------------------------------

    def _constraintChecks(
        self, stats: Tuple[Stat, ...]
    ) -> Tuple[Tuple[str, Compare, StatValue], ...]:
        checks = []
        for name, _swarm, value, _scope in self._parseStats(stats, computed=True):
            prop = lookup(name)
            if prop is not None and prop.compare is not None:
                checks.append((prop.name, prop.compare, value))
        return tuple(checks)

    async def _peerList(
        self,
        view: ISwarmView,
        requester: PeerState,
        count: int,
        constraints: FindConstraints,
    ) -> Tuple[PeerInfo, ...]:
        """
        Ask the strategy for members, then enforce the invariants every
        strategy is held to and turn them into the requester's view
        (L{checkedList}).  When the view holds only part of the swarm (a
        networked store's) and the list comes back short, the store is
        asked once more for a view of four times as many members.
        """
        selector = self.swarmSelectors.get(view.swarmID, self.selector)
        peers = await self._listFrom(selector, view, requester, count, constraints)
        if len(peers) < count and not view.complete and len(view) > count:
            _peer, wider = await self.store.lookup(
                requester.peerID, view.swarmID, 4 * count, constraints.chunkID
            )
            if wider is not None:
                constraints.accepted.clear()
                peers = await self._listFrom(selector, wider, requester, count, constraints)
        return tuple(peers)

    async def _listFrom(
        self,
        selector: IPeerSelector,
        view: ISwarmView,
        requester: PeerState,
        count: int,
        constraints: FindConstraints,
    ) -> List[PeerInfo]:
        """
        The strategy's choice from C{view}, checked and rendered
        (L{checkedList}).
        """
        chosen = await _select(selector, view, requester, count, constraints)
        return checkedList(
            chosen,
            view,
            requester.observedIP,
            count,
            constraints.accepts,
            constraints.accepted,
            self.peerInfos,
        )

    def _listSize(self, peerNum: Optional[int]) -> int:
        if not peerNum:
            return self.config.defaultPeers
        return min(peerNum, self.config.maxPeers)

    # Methods ----------------------------------------------------------------

    async def _connect(self, request: ConnectRequest, origin: Origin, now: float) -> Response:
        config = self.config
        self.checkAddresses(request.addresses)
        statPort = request.statPort
        if statPort is not None:
            if statPort < config.minStatPort:
                raise ProtocolError(_SYNTAX, f"StatPort must be at least {config.minStatPort}")
            if statPort in self.ownPorts:
                raise ProtocolError(_SYNTAX, "StatPort is one of the tracker's own ports")
        opening = await self.openSession(
            request, origin, request.stats, request.addresses, statPort
        )
        token = opening.token
        if not opening.fresh:
            # A CONNECT that takes a registered session over starts it
            # afresh: a new AuthToken, its StatPort and addresses, its
            # online time counted from now.
            token = secrets.token_urlsafe(24)
            await self.updateSession(
                opening, request.addresses, token=token, statPort=statPort, restart=True
            )
        return ConnectResponse(
            request.transactionID,
            token,
            PeerAddress(origin.ip, origin.port, AddressType.REFLEXIVE),
            config.keepAliveInterval,
        )

    # Operations for the encodings' adapters ---------------------------------
    #
    # RFC 7846's CONNECT, which carries swarm actions, is mapped onto these
    # by ppsp.tracker.rfc7846; the profile's own CONNECT uses them too.

    def apply(self, request: Request, origin: Origin, now: float) -> "Deferred[Response]":
        """
        Apply one operation of the protocol as the handler of its method
        does, for an adapter that maps a message of another encoding onto
        the profile's operations (L{RFC7846Adapter
        <ppsp.tracker.rfc7846.RFC7846Adapter>}).  Unlike L{handle}, it
        keeps nothing in the retry cache (the adapted request is the one a
        peer repeats), and a rule the request breaks fails the Deferred
        with the L{ProtocolError}, instead of being answered.

        @param request: a request of the profile.
        @param origin: where the adapted request came from.
        @param now: the time of the adapted request.
        @return: a L{Deferred} of the method's response.
        """
        return startCoroutine(self._handlers[type(request)](request, origin, now))

    def checkAddresses(self, addresses: Tuple[PeerAddress, ...]) -> None:
        """
        Refuse (MESSAGE FORBIDDEN) a CONNECT that announces more than
        C{maxAddresses} addresses.

        @raise ProtocolError: there are too many.
        """
        limit = self.config.maxAddresses
        if len(addresses) > limit:
            raise ProtocolError(_FORBIDDEN, f"more than {limit} addresses")

    def openSession(
        self,
        request: Union[ConnectRequest, PPSTPConnectRequest],
        origin: Origin,
        stats: Tuple[Stat, ...],
        addresses: Optional[Tuple[PeerAddress, ...]],
        statPort: Optional[int] = None,
        joining: Sequence[str] = (),
        strictToken: bool = False,
    ) -> "Deferred[SessionOpening]":
        """
        The CONNECT operation, up to the point where the session is open:
        check C{stats} against the per-message limits, the credential with
        the checker (and the revocations and its expiry), then either
        register a new peer or apply the takeover rule to a registered
        PeerID (PROTOCOL.md section 4: the same session's AuthToken, a
        credential bound to the PeerID, or the session's observed IP
        address), with every limit checked before anything changes.

        A new peer is registered with C{addresses}, C{statPort} and the
        CONNECT's statistics.  For a registered peer nothing changes here:
        the caller decides, and calls L{updateSession} for what the CONNECT
        changes.

        @param request: the CONNECT (of the profile, or of RFC 7846).
        @param origin: where it came from.
        @param stats: the statistics the CONNECT reports.
        @param addresses: the addresses the peer announces; L{None}: the
            CONNECT carries none (a registered peer keeps its own, a new
            one has none).
        @param statPort: the StatPort of a new peer.
        @param joining: the swarms the CONNECT will join (RFC 7846's JOIN
            actions): for a registered peer, the memory budgets count a
            membership for each swarm it is not in yet, before anything
            changes.
        @param strictToken: an AuthToken that is sent must be the
            session's, or the CONNECT is MESSAGE FORBIDDEN, whatever its
            source address (RFC 7846, PROTOCOL.md section 7); else a wrong
            one is ignored and the observed IP address may still take the
            session over.
        @return: a L{Deferred} of the L{SessionOpening}, which fails with a
            L{ProtocolError} when the CONNECT breaks a rule.
        """
        return startCoroutine(
            self._openSession(
                request, origin, stats, addresses, statPort, joining, strictToken
            )
        )

    async def _openSession(
        self,
        request: Union[ConnectRequest, PPSTPConnectRequest],
        origin: Origin,
        stats: Tuple[Stat, ...],
        addresses: Optional[Tuple[PeerAddress, ...]],
        statPort: Optional[int],
        joining: Sequence[str],
        strictToken: bool,
    ) -> SessionOpening:
        parsed = self._parseStats(stats)
        credentials = PeerCredentials(request.peerID, request.cer, origin.ip, origin.certificate)
        try:
            avatarId = await maybeDeferred(self.checker.requestAvatarId, credentials)
        except UnauthorizedLogin as e:
            self._refused(request, origin, str(e) or "credential not accepted")
            raise ProtocolError(_AUTH, "credential not accepted") from None
        now = self.clock.seconds()
        identity = _identity(avatarId, origin)
        bound = identity.bound
        if bound and identity.peerID != request.peerID:
            raise ProtocolError(_AUTH, "the credential is bound to another PeerID")
        if self.revocations.revokes(request.peerID, identity):
            self._refused(request, origin, "revoked")
            raise ProtocolError(_AUTH, "this PeerID or credential is revoked")
        if identity.expires is not None and identity.expires <= now:
            self._refused(request, origin, "credential expired")
            raise ProtocolError(_AUTH, "credential expired")
        store = self.store
        peer = await store.peer(request.peerID)
        if peer is not None and not peer.alive(now):
            # Expired, not taken out yet: the PeerID is free.
            await self._sweep(peer, now)
            peer = None
        if peer is not None:
            sameSession = request.authToken is not None and hmac.compare_digest(
                request.authToken.encode("utf-8"), peer.token.encode("utf-8")
            )
            if strictToken and request.authToken is not None and not (sameSession or bound):
                raise ProtocolError(_FORBIDDEN, "wrong AuthToken")
            if not (sameSession or bound or origin.ip == peer.observedIP):
                raise ProtocolError(_FORBIDDEN, "this PeerID is held by another session")
            plan = self._planStats(peer, parsed, now)
            await self._checkTakeover(request, origin, peer, plan, addresses, joining)
            return SessionOpening(request, origin, now, peer, False, identity, plan)
        if addresses is None:
            addresses = ()
        session = Session(
            request.peerID,
            secrets.token_urlsafe(24),
            origin.ip,
            origin.port,
            addresses,
            statPort,
            now,
            self._deadline(identity, now),
            _kept(identity),
        )
        # A new peer has no membership: a Stat naming a swarm is refused.
        plan = self._planStats(PeerState(*session), parsed, now)
        values = plan.get(None, {})
        await self._checkNewSession(request, origin, addresses, values)
        if not await store.register(session, values):
            raise ProtocolError(_FORBIDDEN, "this PeerID is held by another session")
        return SessionOpening(
            request, origin, now, PeerState(*session, stats=values), True, identity, {}
        )

    def refreshSession(self, opening: SessionOpening) -> "Deferred[bool]":
        """
        Refresh the liveness of the session a CONNECT opened, as every
        request of a session does (a KEEPALIVE without its checks): its
        peer expires C{peerTimeout} seconds after this CONNECT, and never
        after its credential does.

        @param opening: the CONNECT, whose peer is still registered.
        @return: a L{Deferred} firing with whether the peer was still
            registered.
        """
        return self.store.touch(
            opening.peerID, self._deadline(_kept(opening.identity), opening.now)
        )

    def updateSession(
        self,
        opening: SessionOpening,
        addresses: Optional[Tuple[PeerAddress, ...]],
        token: Optional[str] = None,
        statPort: Optional[int] = None,
        restart: bool = False,
    ) -> "Deferred[None]":
        """
        Apply to a registered session what the CONNECT that took it over
        (L{openSession}) changes, in one write of the store (a compare and
        set on the session's AuthToken): the session keeps the identity that
        authenticated that CONNECT, comes from its observed address,
        announces C{addresses}, keeps its statistics, and is alive from
        now.

        @param opening: the CONNECT, which did not register the peer.
        @param addresses: the addresses now announced; L{None}: unchanged.
        @param token: the session's new AuthToken; L{None}: unchanged.
        @param statPort: the new StatPort, when C{restart}.
        @param restart: start the session afresh (the profile's CONNECT):
            its StatPort is C{statPort} and its online time counts from
            now.
        @return: a L{Deferred} that fails with a L{ProtocolError} when
            another CONNECT took the session over meanwhile.
        """
        return startCoroutine(
            self._updateSession(opening, addresses, token, statPort, restart)
        )

    async def _updateSession(
        self,
        opening: SessionOpening,
        addresses: Optional[Tuple[PeerAddress, ...]],
        token: Optional[str],
        statPort: Optional[int],
        restart: bool,
    ) -> None:
        peer = opening.peer
        origin = opening.origin
        identity = _kept(opening.identity)
        session = Session(
            peer.peerID,
            token if token is not None else peer.token,
            origin.ip,
            origin.port,
            addresses if addresses is not None else peer.addresses,
            statPort if restart else peer.statPort,
            opening.now if restart else peer.connectedAt,
            self._deadline(identity, opening.now),
            identity,
        )
        if not await self.store.takeOver(session, peer.token, opening.plan):
            raise ProtocolError(_FORBIDDEN, "this PeerID is held by another session")

    async def _disconnect(self, request: DisconnectRequest, origin: Origin, now: float) -> Response:
        await self._session(request, now, origin)
        await self.store.disconnect(request.peerID, now)
        return DisconnectResponse(request.transactionID)

    async def _join(self, request: JoinRequest, origin: Origin, now: float) -> Response:
        config = self.config
        parsed = self._parseStats(request.stats)
        if request.expireAt is not None:
            expireAt: Optional[float] = request.expireAt
            if request.expireAt <= now:
                raise ProtocolError(_SYNTAX, "ExpireTime is in the past")
        elif request.expireTime:
            expireAt = now + request.expireTime
        else:
            expireAt = None
        leech = request.mode is PeerMode.LEECH
        count = self._listSize(request.peerNum) if leech else 0
        swarmID = request.swarmID
        store = self.store
        found, view = await store.lookup(request.peerID, swarmID, count, None)
        if found is not None and found.deadline <= now:
            await self._sweep(found, now)
        peer = self._checkSession(found, request, now, origin)
        if view is None and self.provisionedOnly:
            raise ProtocolError(_NOT_FOUND, "unknown SwarmID")
        member = peer.swarms.get(swarmID)
        stale = member is not None and not member.current(now)
        if member is None or stale:
            joined = sum(1 for m in peer.swarms.values() if m.current(now))
            if joined >= config.maxSwarmsPerPeer:
                raise ProtocolError(
                    _FORBIDDEN, f"the peer is already in {config.maxSwarmsPerPeer} swarms"
                )
            if (
                view is not None
                and config.maxSwarmSize is not None
                and len(view) >= config.maxSwarmSize
            ):
                raise ProtocolError(_FORBIDDEN, "the swarm is full")
        plan = self._planStats(peer, parsed, now, swarmID)
        # The last check before any write.
        if self._budgeted():
            extra = self._statsCost(peer, plan)
            if member is None or stale:
                extra += store.costs.memberCost(swarmID)
            self._checkBudget(peer.held, peer.addressHeld, extra)
        deadline = self._deadline(peer.identity, now)
        if stale:
            # A membership that ended starts again, without its chunks.
            await store.leave(peer.peerID, swarmID, deadline, now)
        if not await store.join(
            peer.peerID, swarmID, request.mode, expireAt, plan, deadline, now
        ):
            raise self._gone()
        if not leech:
            return JoinResponse(request.transactionID, swarmID, None)
        if view is None:
            # This JOIN created the swarm (or raced another one that did):
            # read it now that it exists.
            _found, view = await store.lookup(peer.peerID, swarmID, count, None)
        peers: Tuple[PeerInfo, ...] = ()
        if view is not None:
            peers = await self._peerList(
                view, peer, count, FindConstraints(None, (), (), now, peer.peerID)
            )
        return JoinResponse(request.transactionID, swarmID, peers)

    async def _joinChunk(self, request: JoinChunkRequest, origin: Origin, now: float) -> Response:
        peer = await self._session(request, now, origin)
        member = await self._member(peer, request.swarmID, now)
        ranges = mergeRanges(request.chunks)
        if len(ranges) > self.config.maxChunkRanges:
            raise ProtocolError(
                _FORBIDDEN, f"more than {self.config.maxChunkRanges} chunk ranges"
            )
        store = self.store
        if self._budgeted():
            costs = store.costs
            self._checkBudget(
                peer.held,
                peer.addressHeld,
                costs.chunksCost(ranges) - costs.chunksCost(member.chunks),
            )
        if not await store.setChunks(
            peer.peerID, request.swarmID, ranges, self._deadline(peer.identity, now)
        ):
            raise self._gone()
        return JoinChunkResponse(request.transactionID)

    async def _leave(self, request: LeaveRequest, origin: Origin, now: float) -> Response:
        peer = await self._session(request, now, origin)
        await self._member(peer, request.swarmID, now)
        if not await self.store.leave(
            peer.peerID, request.swarmID, self._deadline(peer.identity, now), now
        ):
            raise self._gone()
        return LeaveResponse(request.transactionID)

    async def _find(self, request: FindRequest, origin: Origin, now: float) -> Response:
        chunkID = request.chunkID
        if isinstance(request, FindChunkRequest) and chunkID is None:
            raise ProtocolError(_SYNTAX, "FIND_CHUNK without ChunkID")
        checks = self._constraintChecks(request.constraints)
        facts = self._parseStats(request.requesterStats) if request.requesterStats else None
        count = self._listSize(request.peerNum)
        store = self.store
        found, view = await store.lookup(request.peerID, request.swarmID, count, chunkID)
        if found is not None and found.deadline <= now:
            await self._sweep(found, now)
        peer = self._checkSession(found, request, now, origin)
        if view is None:
            raise ProtocolError(_NOT_FOUND, "unknown SwarmID")
        plan: Optional[_Plan] = None
        if facts:
            # What the requester says about itself (JSON peer_num), kept as
            # its statistics; the strategy sees them already.
            plan = self._planReported(peer, facts, now)
            mine = plan.get(None)
            if mine:
                peer = peer._replace(stats={**peer.stats, **mine})
        constraints = FindConstraints(chunkID, request.constraints, checks, now, peer.peerID)
        peers = await self._peerList(view, peer, count, constraints)
        deadline: Optional[float] = self._deadline(peer.identity, now)
        # Only an empty list needs the question "does anyone hold it?".
        if not peers and chunkID is not None:
            alive = FindConstraints(chunkID, (), (), now, peer.peerID).accepts
            if not view.sampleHolders(chunkID, 1, alive):
                deadline = None
        if plan:
            written = await store.keepStats(peer.peerID, plan, deadline)
        elif deadline is not None:
            written = await store.touch(peer.peerID, deadline)
        else:
            written = True
        if not written:
            raise self._gone()
        if deadline is None:
            raise ProtocolError(_NOT_FOUND, "no peer holds this chunk")
        cls = FindChunkResponse if isinstance(request, FindChunkRequest) else FindResponse
        return cls(request.transactionID, request.swarmID, peers, chunkID)

    async def _keepAlive(self, request: KeepAliveRequest, origin: Origin, now: float) -> Response:
        peer = await self._session(request, now, origin)
        if not await self.store.touch(peer.peerID, self._deadline(peer.identity, now)):
            raise self._gone()
        return KeepAliveResponse(request.transactionID, self.config.keepAliveInterval)

    async def _statReport(self, request: StatReportRequest, origin: Origin, now: float) -> Response:
        if not request.stats:
            raise ProtocolError(_SYNTAX, "STAT_REPORT without a Stat")
        parsed = self._parseStats(request.stats)
        peer = await self._session(request, now, origin)
        plan = self._planReported(peer, parsed, now)
        if not await self.store.keepStats(
            peer.peerID, plan, self._deadline(peer.identity, now)
        ):
            raise self._gone()
        swarmIDs = tuple(dict.fromkeys([s.swarm for s in request.stats if s.swarm is not None]))
        return StatReportResponse(request.transactionID, swarmIDs)

    async def _statQuery(self, request: StatQueryRequest, origin: Origin, now: float) -> Response:
        raise ProtocolError(
            ResponseCode.MESSAGE_NOT_SUPPORTED, "STAT_QUERY is sent by the tracker, not to it"
        )

    # Operators' actions ---------------------------------------------------------

    def endSession(self, peerID: str) -> "Deferred[bool]":
        """
        End a peer's session now, as if it had sent DISCONNECT: it leaves
        every swarm, is no longer listed, and its next request gets
        AUTHENTICATION REQUIRED (it may CONNECT again).

        @return: a L{Deferred} firing with whether C{peerID} had a session
            (one that had expired but was not taken out yet is taken out,
            and counts as none).
        """
        return startCoroutine(self._endSession(peerID))

    async def _endSession(self, peerID: str) -> bool:
        now = self.clock.seconds()
        peer = await self.store.disconnect(peerID, now)
        alive = peer is not None and peer.alive(now)
        if alive:
            self.log.info("session of {peerID} ended by the operator", peerID=peerID)
        return alive

    def provisionSwarm(self, swarmID: str) -> "Deferred[bool]":
        """
        Provision a swarm at run time: it exists from now on (peers may
        JOIN it even when only provisioned swarms exist) and is never
        forgotten, even when empty.  A swarm that exists already (created
        on JOIN) keeps its members and becomes provisioned.

        @param swarmID: a valid SwarmID (the caller checks it).
        @return: a L{Deferred} firing with whether the swarm was not
            provisioned before.
        """
        return startCoroutine(self._provisionSwarm(swarmID))

    async def _provisionSwarm(self, swarmID: str) -> bool:
        added = swarmID not in self.provisionedSwarms
        self.provisionedSwarms.add(swarmID)
        if await self.store.addSwarm(swarmID, True, self.clock.seconds()):
            self.log.info("swarm {swarmID} provisioned", swarmID=swarmID)
            return True
        return added

    def removeSwarm(self, swarmID: str) -> "Deferred[Optional[int]]":
        """
        Remove a swarm at run time: every member leaves it (their sessions
        go on), and the swarm is forgotten; it is no longer provisioned.
        When only provisioned swarms exist, a JOIN of it then gets NOT
        FOUND; otherwise the next JOIN creates it again.

        @return: a L{Deferred} firing with the number of members that left,
            or L{None} when no such swarm exists.
        """
        return startCoroutine(self._removeSwarm(swarmID))

    async def _removeSwarm(self, swarmID: str) -> Optional[int]:
        self.provisionedSwarms.discard(swarmID)
        members = await self.store.removeSwarm(swarmID, self.clock.seconds())
        if members is not None:
            self.log.info(
                "swarm {swarmID} removed by the operator ({members} member(s) left it)",
                swarmID=swarmID,
                members=members,
            )
        return members

    # Revocation ---------------------------------------------------------------

    def setRevocations(self, revocations: Revocations) -> "Deferred[int]":
        """
        Replace the revoked PeerIDs and credentials (the revocation file
        read again, or an operator's call), effective at once: a revoked
        PeerID or credential may no longer CONNECT, and every session it
        opened ends now, as if it had sent DISCONNECT (its peers are no
        longer listed; its next request gets AUTHENTICATION REQUIRED).
        Costs one pass over the registered peers.

        @return: a L{Deferred} firing with the number of sessions ended.
        """
        self.revocations = revocations
        return startCoroutine(self._endRevoked(revocations))

    async def _endRevoked(self, revocations: Revocations) -> int:
        now = self.clock.seconds()
        store = self.store
        ended = 0
        for peer in await store.peers():
            if revocations.revokes(peer.peerID, peer.identity):
                if await store.disconnect(peer.peerID, now) is not None:
                    ended += 1
        if ended:
            self.log.info("revocation ended {count} session(s)", count=ended)
        return ended

    def revoke(self, peerIDs: Iterable[str] = (), fingerprints: Iterable[str] = ()) -> "Deferred[int]":
        """
        Revoke more PeerIDs or credentials (by
        L{credentialFingerprint<ppsp.tracker.credentials.credentialFingerprint>}),
        effective at once (see L{setRevocations}).

        @return: a L{Deferred} firing with the number of sessions ended.
        """
        return self.setRevocations(self.revocations.plus(peerIDs, fingerprints))

    def _refused(self, request: Request, origin: Origin, reason: str) -> None:
        """
        Log a refused CONNECT, at most once a second (a peer, or a flood,
        may send thousands): with the PeerID, the address and the reason,
        never the credential.
        """
        self._refusals.emit(
            LogLevel.info,
            "CONNECT refused for {peerID} from {ip}: {reason}",
            peerID=request.peerID,
            ip=origin.ip,
            reason=reason,
        )

    # Statistics a STAT_QUERY brought back -----------------------------------

    def storeQueriedStats(self, peerID: str, stats: Tuple[Stat, ...]) -> "Deferred[None]":
        """
        Keep the Stats a peer answered to the tracker's STAT_QUERY as if the
        peer had sent them in a STAT_REPORT (PROTOCOL.md section 4): the
        same per-message limits and property registry (L{_parseStats}:
        values of tracker-computed properties such as C{OnlineTime} are
        dropped), the same placement by scope (L{_planStats}) and the same
        storage.  All or nothing: when one Stat is refused none is kept.
        An empty answer (a peer with no statistics) keeps nothing and is
        not an error.

        It does B{not} refresh the peer's liveness: liveness is the peer's
        own session talking to the tracker (requests that carry its
        AuthToken), and an answer on the StatPort is the tracker talking to
        it.  A peer whose session is gone but whose stat resource still
        answers must still expire (PROTOCOL.md: a STAT_QUERY changes
        nothing but the statistics).

        @param peerID: the queried peer, which must be connected.
        @param stats: the Stats of its C{StatQueryResponse}.
        @return: a L{Deferred} that fails with a L{ProtocolError}:
            AUTHENTICATION REQUIRED when C{peerID} is not connected (or has
            expired and is not taken out yet); INVALID SYNTAX or MESSAGE
            FORBIDDEN for Stats that a STAT_REPORT could not carry (too
            many, too long, malformed, for a swarm the peer has not joined,
            more properties than kept).
        """
        return startCoroutine(self._storeQueriedStats(peerID, stats))

    async def _storeQueriedStats(self, peerID: str, stats: Tuple[Stat, ...]) -> None:
        now = self.clock.seconds()
        parsed = self._parseStats(stats)
        peer = await self.store.peer(peerID)
        if peer is None or not peer.alive(now):
            raise ProtocolError(_AUTH, "this PeerID is not connected")
        plan = self._planReported(peer, parsed, now)
        if plan and not await self.store.keepStats(peerID, plan, None):
            raise ProtocolError(_AUTH, "this PeerID is not connected")


def _select(
    selector: IPeerSelector,
    view: ISwarmView,
    requester: PeerState,
    count: int,
    constraints: FindConstraints,
) -> "Deferred[Sequence[ISwarmMember]]":
    """
    A strategy's choice, as a L{Deferred} whether it answered at once or
    with one (L{IPeerSelector.select} allows both).
    """
    return cast(
        "Deferred[Sequence[ISwarmMember]]",
        maybeDeferred(selector.select, view, requester, count, constraints),
    )


def _identity(avatarId: Any, origin: Origin) -> SessionIdentity:
    """
    What a checker's answer says of the session it opens, with the digest
    of the connection's TLS client certificate (a session opened over one
    stays bound to it): L{ANONYMOUS} is the C{open} scheme, a PeerID
    (L{bytes} or L{str}) a credential bound to it with no known expiry, a
    L{SessionIdentity} speaks for itself.
    """
    if isinstance(avatarId, SessionIdentity):
        identity = avatarId
    elif avatarId is ANONYMOUS:
        identity = SessionIdentity()
    else:
        peerID = avatarId.decode("utf-8") if isinstance(avatarId, bytes) else str(avatarId)
        identity = SessionIdentity(peerID)
    if origin.certificate is not None:
        identity = dataclasses.replace(
            identity, certificate=hashlib.sha256(origin.certificate).digest()
        )
    return identity


_OPEN = SessionIdentity()


def _kept(identity: SessionIdentity) -> Optional[SessionIdentity]:
    """
    What a session keeps of its identity: nothing for the C{open} scheme
    over a connection without a certificate (most sessions of an open
    tracker), which costs no memory per peer.
    """
    return None if identity == _OPEN else identity


def mergeRanges(ranges: Iterable[ChunkRange]) -> Tuple[ChunkRange, ...]:
    """
    Sort chunk ranges and merge those that overlap or touch.
    """
    ordered = sorted(ranges, key=lambda r: r.start)
    if not ordered:
        return ()
    merged = []
    start, end = ordered[0].start, ordered[0].end
    for r in ordered[1:]:
        if r.start <= end + 1:
            if r.end > end:
                end = r.end
        else:
            merged.append(ChunkRange(start, end))
            start, end = r.start, r.end
    merged.append(ChunkRange(start, end))
    return tuple(merged)
