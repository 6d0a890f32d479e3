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
)

from twisted.cred.checkers import ANONYMOUS, ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure
from zope.interface import implementer

from ppsp._ratelimit import RateLimitedLog
from ppsp.interfaces import (
    IFindConstraints,
    IPeerSelector,
    IPeerStore,
    IRetryCache,
    ISwarmMember,
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
from ppsp.tracker.addresses import addressKey, addressScope
from ppsp.tracker.auth import OpenPeerChecker, PeerCredentials, Revocations, SessionIdentity
from ppsp.tracker.bans import Bans
from ppsp.tracker.metrics import TrackerMetrics
from ppsp.tracker.properties import Compare, Scope, lookup
from ppsp.tracker.retry import MemoryRetryCache, fingerprint, retryKey
from ppsp.tracker.rfc7846 import RFC7846Adapter
from ppsp.tracker.store import Membership, MemoryPeerStore, PeerRecord, StatValue, Swarm

__all__ = ["TrackerConfig", "Origin", "Tracker", "FindConstraints", "SessionOpening"]

_FORBIDDEN = ResponseCode.MESSAGE_FORBIDDEN
_NOT_FOUND = ResponseCode.OBJECT_NOT_FOUND
_SYNTAX = ResponseCode.INVALID_SYNTAX
_AUTH = ResponseCode.AUTHENTICATION_REQUIRED
_MISSING = object()


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
    whose peer or membership has expired but has not been swept yet, so
    that no strategy ever sees them as candidates.
    """

    __slots__ = ("chunkID", "stats", "now", "_checks", "_now", "accepts", "accepted")

    def __init__(
        self,
        chunkID: Optional[int],
        stats: Tuple[Stat, ...],
        checks: Tuple[Tuple[str, Compare, StatValue], ...],
        now: float,
        requester: Optional[PeerRecord] = None,
    ) -> None:
        self.chunkID = chunkID
        self.stats = stats
        self._checks = checks
        self._now = now
        #: The time of the request (strategies that spread hand-outs over
        #: time read it).
        self.now = now
        #: The members L{accepts} said yes to, so that the tracker's own
        #: check of a strategy's answer does not evaluate them twice.
        self.accepted: set[Membership] = set()
        remember = self.accepted.add
        if chunkID is None and not checks:
            # The common FIND: only liveness to check, so do it inline.
            def alive(member: Membership) -> bool:
                expireAt = member.expireAt
                peer = member.peer
                if (
                    peer is not requester
                    and peer.deadline > now
                    and (expireAt is None or expireAt > now)
                ):
                    remember(member)
                    return True
                return False

            # IFindConstraints.accepts takes an ISwarmMember: strategies
            # pass members of the swarm, which are this store's Memberships.
            self.accepts: Callable[[Any], bool] = alive
        else:
            check = self._accepts

            def accepts(member: Membership) -> bool:
                if member.peer is not requester and check(member):
                    remember(member)
                    return True
                return False

            self.accepts = accepts

    def _accepts(self, member: Membership) -> bool:
        """
        Whether C{member} is alive and satisfies every constraint.
        """
        now = self._now
        if member.peer.deadline <= now:
            return False
        expireAt = member.expireAt
        if expireAt is not None and expireAt <= now:
            return False
        chunkID = self.chunkID
        if chunkID is not None and not member.holds(chunkID):
            return False
        for name, compare, wanted in self._checks:
            have: Optional[StatValue]
            if name == "PeerMode":
                have = member.mode.value
            elif name == "OnlineTime":
                have = int(now - member.peer.connectedAt)
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


_ResponseOrDeferred = Union[Response, "Deferred[Response]"]

_ParsedStats = List[Tuple[str, Optional[str], StatValue, Optional[Scope]]]


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
    @ivar peerID: the PeerID of the session.
    @ivar fresh: whether this CONNECT registered the peer; else it takes a
        registered session over, and nothing of that session has changed
        yet (L{Tracker.updateSession} changes it).
    @ivar identity: what authenticated this CONNECT.
    """

    __slots__ = ("request", "origin", "now", "peerID", "fresh", "identity", "_peer", "_plan")

    def __init__(
        self,
        request: Union[ConnectRequest, PPSTPConnectRequest],
        origin: Origin,
        now: float,
        peer: PeerRecord,
        fresh: bool,
        identity: SessionIdentity,
        plan: List[Tuple[Any, Dict[str, StatValue]]],
    ) -> None:
        self.request = request
        self.origin = origin
        self.now = now
        self.peerID: str = peer.peerID
        self.fresh = fresh
        self.identity = identity
        self._peer = peer
        #: The CONNECT's statistics, placed and checked, for a registered
        #: peer (a new one keeps them at once).
        self._plan = plan

    @property
    def token(self) -> str:
        """
        The session's AuthToken: a new peer's, or the one the registered
        session holds.
        """
        return self._peer.token

    @property
    def swarmCount(self) -> int:
        """
        The number of swarms the peer is in now.
        """
        return len(self._peer.swarms)


class Tracker:
    """
    A PPSP tracker: the protocol's rules over a peer store.

    @param clock: the source of time.
    @param config: the settings.
    @param store: the state; a fresh L{MemoryPeerStore} by default.
    @param selector: the peer-selection strategy; uniform random by
        default.
    @param checker: the CONNECT credentials checker; the C{open} scheme by
        default.
    @param swarmSelectors: strategies for individual swarms, by SwarmID;
        the others use C{selector}.
    @param retryCache: the answers kept for repeated requests; a
        L{MemoryRetryCache} with the config's window and size by default.
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
        #: in flight and takes nothing new); the health check then answers
        #: 503.  Whatever stops the tracker gracefully sets it.
        self.draining = False
        self.config = config = config if config is not None else TrackerConfig()
        self.store: Any = store if store is not None else MemoryPeerStore()
        self.selector: IPeerSelector = selector if selector is not None else RandomSelector()
        #: Swarms with a strategy of their own, by SwarmID.
        self.swarmSelectors: Dict[str, IPeerSelector] = dict(swarmSelectors or {})
        self.checker: ICredentialsChecker = (
            checker if checker is not None else OpenPeerChecker()
        )
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
        #: The addresses and networks refused before decoding.
        self.bans = bans if bans is not None else Bans(clock)
        #: The SwarmIDs the operator provisioned (L{provisionSwarm},
        #: L{removeSwarm} change them), from C{config.provisionedSwarms};
        #: when the config has none (L{None}), swarms are also created on
        #: JOIN and this holds only those provisioned at run time.
        self.provisionedSwarms: Set[str] = set(config.provisionedSwarms or ())
        #: Whether only provisioned swarms exist (the config has a list).
        self.provisionedOnly = config.provisionedSwarms is not None
        now = clock.seconds()
        for swarmID in config.provisionedSwarms or ():
            self.store.addSwarm(swarmID, True, now)
        self._handlers: Dict[type, Callable[[Any, Origin, float], _ResponseOrDeferred]] = {
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

    # Entry points ---------------------------------------------------------

    def handle(self, request: Request, origin: Origin) -> _ResponseOrDeferred:
        """
        Apply one request and return its response: a L{Response}, or a
        L{Deferred} of one when a credentials checker or a strategy answers
        asynchronously.  Protocol errors become L{ErrorResponse}s; this
        never raises for a request message.

        A request repeated from the same address, over a connection with
        the same TLS client certificate (or none), with the same PeerID,
        TransactionID and content within the retry window gets the first
        answer again and is not applied twice, but an answer that opened a
        session is given again only while that session lives (it holds the
        session's AuthToken).
        """
        now = self.clock.seconds()
        key = retryKey(origin.ip, request, origin.certificate)
        seen = fingerprint(request)
        cached: Any = self.retryCache.get(key, seen, now)
        if cached is not None:
            if self._stillValid(cached, request.peerID, now):
                self.metrics.count("retry")
                return cached  # type: ignore[no-any-return]
            self.retryCache.discard(key)
        try:
            response = self._handlers[type(request)](request, origin, now)
        except ProtocolError as e:
            response = ErrorResponse(request.transactionID, e.code, e.reason)
        except Exception:
            response = self._failureResponse(Failure(), request)
        if isinstance(response, Deferred):
            response.addErrback(self._failureResponse, request)
            response.addCallback(self._remember, key, seen, request, now)
        else:
            self._remember(response, key, seen, request, now)
        return response

    def _stillValid(self, response: Response, peerID: str, now: float) -> bool:
        """
        Whether a kept answer may be given again: one that carries a
        session's AuthToken (a CONNECT's) only while that session lives,
        so that an answer never outlives a DISCONNECT, an expiry or a
        revocation.
        """
        token = getattr(response, "authToken", None)
        if not token:
            return True
        peer: Optional[PeerRecord] = self.store.getPeer(peerID)
        return peer is not None and peer.deadline > now and peer.token == token

    def expire(self) -> None:
        """
        Apply every timer that is due: expire silent peers, end memberships
        whose ExpireTime passed, forget swarms that stayed empty, and drop
        stale retry-cache entries.  L{TrackerService} calls it
        every second; it costs time in proportion to what is due.
        """
        now = self.clock.seconds()
        store = self.store
        peers, members, swarms = store.due(now)
        for peerID in peers:
            peer = store.getPeer(peerID)
            if peer is not None:
                self._dropPeer(peer, now)
                self.countEvent("expired")
                self.log.debug(
                    "peer {peerID} expired (silent for {timeout} s, or its credential expired)",
                    peerID=peerID,
                    timeout=self.config.peerTimeout,
                )
        for swarmID, peerID in members:
            peer = store.getPeer(peerID)
            swarm = store.getSwarm(swarmID)
            if peer is not None and swarm is not None:
                self._dropMember(swarm, peer, now)
        lifetime = self.config.emptySwarmLifetime
        for swarmID in swarms:
            swarm = store.getSwarm(swarmID)
            if swarm is None or swarm.provisioned or swarm.emptySince is None:
                continue
            if swarm.emptySince + lifetime <= now:
                store.removeSwarm(swarmID)
            else:
                store.scheduleSwarmCheck(swarm, swarm.emptySince + lifetime)
        self.retryCache.prune(now)

    # Bookkeeping ----------------------------------------------------------

    def _remember(
        self, response: Response, key: Any, seen: int, request: Request, now: float
    ) -> Response:
        self.retryCache.put(key, seen, response, now)
        return response

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

    def storeReachable(self) -> bool:
        """
        Whether the tracker can reach its store, for the health check: the
        store's own C{storeReachable()} when it has one (the memory store
        always can), else C{True}.
        """
        probe = getattr(self.store, "storeReachable", None)
        return True if probe is None else bool(probe())

    def _failureResponse(self, failure: Failure, request: Request) -> Response:
        e = failure.value
        if isinstance(e, ProtocolError):
            return ErrorResponse(request.transactionID, e.code, e.reason)
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

    def _session(self, request: Request, now: float, origin: Origin) -> PeerRecord:
        """
        The connected peer that sent C{request}, after checking its
        AuthToken, and for a session opened over a TLS client certificate,
        that the request's connection shows the same certificate.  A
        session ends when its credential expires (its deadline is never
        later, see L{_alive}).  A request marked C{sessionByAddress} (JSON)
        without a token is accepted from the session's observed IP address
        only, and only for a session of the C{open} scheme (PROTOCOL.md
        section 7); a wrong token is refused whatever its source.
        """
        peer: Optional[PeerRecord] = self.store.getPeer(request.peerID)
        if peer is not None and peer.deadline <= now:
            self._dropPeer(peer, now)
            peer = None
        if peer is None:
            raise ProtocolError(_AUTH, "this PeerID is not connected; CONNECT first")
        identity: Optional[SessionIdentity] = peer.identity
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

    def _alive(self, peer: PeerRecord, now: float) -> None:
        """
        Refresh a peer's liveness, never beyond its credential's expiry.
        """
        deadline = now + self.config.peerTimeout
        identity: Optional[SessionIdentity] = peer.identity
        if identity is not None and identity.expires is not None and identity.expires < deadline:
            deadline = identity.expires
        self.store.touchPeer(peer, deadline)

    def _dropPeer(self, peer: PeerRecord, now: float) -> None:
        for swarm in self.store.removePeer(peer.peerID, now):
            self._swarmMaybeEmpty(swarm, now)

    def _dropMember(self, swarm: Swarm, peer: PeerRecord, now: float) -> None:
        self.store.removeMember(swarm, peer, now)
        self._swarmMaybeEmpty(swarm, now)

    def _swarmMaybeEmpty(self, swarm: Swarm, now: float) -> None:
        if not len(swarm) and not swarm.provisioned:
            self.store.scheduleSwarmCheck(swarm, now + self.config.emptySwarmLifetime)

    def _getSwarm(self, swarmID: str) -> Swarm:
        swarm: Optional[Swarm] = self.store.getSwarm(swarmID)
        if swarm is None:
            raise ProtocolError(_NOT_FOUND, "unknown SwarmID")
        return swarm

    def _member(self, peer: PeerRecord, swarm: Swarm, now: float) -> Membership:
        member = peer.swarms.get(swarm.swarmID)
        if member is not None and member.expireAt is not None and member.expireAt <= now:
            self._dropMember(swarm, peer, now)
            member = None
        if member is None:
            raise ProtocolError(_FORBIDDEN, "the peer has not joined this swarm")
        return member

    # Limits (PROTOCOL.md section 6) ------------------------------------------

    def _checkSessions(self, request: Request, origin: Origin, new: bool) -> None:
        """
        Refuse a CONNECT that would add a session to the source address of
        C{origin} past C{maxSessionsPerAddress} (MESSAGE FORBIDDEN): a new
        registration, or a takeover that moves a session there from another
        address.  A new registration past C{maxSessions} is TEMPORARILY
        OVERLOADED.
        """
        config = self.config
        store = self.store
        limit = config.maxSessionsPerAddress
        if limit and store.addressUsage(origin.ip)[0] >= limit:
            self._refused(request, origin, "too many sessions from this address")
            raise ProtocolError(
                _FORBIDDEN, f"this address already has {limit} sessions"
            )
        limit = config.maxSessions
        if new and limit and store.peerCount() >= limit:
            self._refused(request, origin, "the tracker holds as many sessions as it may")
            raise ProtocolError(
                ResponseCode.TEMPORARILY_OVERLOADED, "the tracker holds as many sessions as it may"
            )

    def _checkBudget(
        self,
        peer: Optional[PeerRecord],
        extra: int,
        ip: Optional[str] = None,
        moving: bool = False,
    ) -> None:
        """
        Refuse (MESSAGE FORBIDDEN) a write that would make the store hold
        C{extra} more bytes for C{peer} past C{maxPeerMemory}, or for its
        source address past C{maxAddressMemory}.  Writes that hold less
        are never refused.

        @param peer: the peer, or L{None} for one the write registers.
        @param ip: the address whose account the bytes go to; the peer's
            observed IP when L{None}.
        @param moving: the write moves the peer's session to C{ip}'s
            account, with everything it holds.
        """
        if extra <= 0 and not moving:
            return
        config = self.config
        store = self.store
        held = store.peerUsage(peer) if peer is not None else 0
        limit = config.maxPeerMemory
        if limit and extra > 0 and held + extra > limit:
            raise ProtocolError(
                _FORBIDDEN, f"the peer's memory budget ({limit} bytes) would be exceeded"
            )
        limit = config.maxAddressMemory
        if limit:
            if ip is None:
                assert peer is not None
                ip = peer.observedIP
            used = store.addressUsage(ip)[1]
            if moving:
                used += held
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

    def _statsCost(
        self,
        plan: List[Tuple[Any, Dict[str, StatValue]]],
        joined: Optional[Membership] = None,
    ) -> int:
        """
        The bytes that applying C{plan} (L{_planStats}) would add.
        """
        statsCost = self.store.statsCost
        total = 0
        for target, values in plan:
            current = joined if target is None else target
            total += statsCost(current.stats if current is not None else None, values)
        return total

    def _checkNewSession(
        self,
        request: Request,
        origin: Origin,
        addresses: Tuple[PeerAddress, ...],
        parsed: List[Tuple[str, Optional[str], StatValue, Optional[Scope]]],
    ) -> None:
        """
        The limits a CONNECT that registers a new session must meet: the
        session caps, and the budgets for its record and statistics.
        """
        self._checkSessions(request, origin, True)
        if self._budgeted():
            store = self.store
            extra = store.recordCost(request.peerID, origin.ip, addresses)
            if parsed:
                extra += store.statsCost(None, {name: value for name, _s, value, _c in parsed})
            self._checkBudget(None, extra, origin.ip)

    def _checkTakeover(
        self,
        request: Request,
        origin: Origin,
        peer: PeerRecord,
        plan: List[Tuple[Any, Dict[str, StatValue]]],
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
        if moving:
            self._checkSessions(request, origin, False)
        if not self._budgeted():
            return
        store = self.store
        if addresses is None:
            addresses = peer.addresses
        extra = (
            self._statsCost(plan)
            + store.recordCost(peer.peerID, origin.ip, addresses)
            - store.recordCost(peer.peerID, peer.observedIP, peer.addresses)
        )
        for swarmID in joining:
            if swarmID not in peer.swarms:
                extra += store.memberCost(swarmID)
        self._checkBudget(peer, extra, origin.ip, moving)

    # Statistics -----------------------------------------------------------

    def _parseStats(
        self, stats: Tuple[Stat, ...], computed: bool = False
    ) -> List[Tuple[str, Optional[str], StatValue, Optional[Scope]]]:
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
        parsed: List[Tuple[str, Optional[str], StatValue, Optional[Scope]]] = []
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
        peer: PeerRecord,
        parsed: List[Tuple[str, Optional[str], StatValue, Optional[Scope]]],
        now: float,
        joining: Optional[str] = None,
        joined: Optional[Membership] = None,
    ) -> List[Tuple[Any, Dict[str, StatValue]]]:
        """
        Decide where each Stat is kept, and check every rule, before
        anything is written: peer-scoped properties go to the peer;
        swarm-scoped ones (and unknown ones naming a swarm) to the named
        membership, or, in a JOIN, without a swarm, to the membership of
        the swarm being joined (target L{None}: it may not exist yet);
        others to the peer.

        @param joining: the SwarmID a JOIN is joining, if any.
        @param joined: the peer's current membership of that swarm, if any.
        @return: (target, values) pairs for L{_applyStats}.
        @raise ProtocolError: a Stat names a swarm the peer has not joined,
            or a target would keep more than C{maxStats} properties.
        """
        plan: Dict[int, Tuple[Any, Dict[str, StatValue]]] = {}
        for name, swarmID, value, scope in parsed:
            target: Any = peer
            if scope is not Scope.PEER:
                if joining is not None and (
                    swarmID == joining or (swarmID is None and scope is Scope.SWARM)
                ):
                    target = None
                elif swarmID is not None:
                    member = peer.swarms.get(swarmID)
                    if member is None or (
                        member.expireAt is not None and member.expireAt <= now
                    ):
                        raise ProtocolError(
                            _FORBIDDEN, f"Stat for swarm {swarmID!r}, which the peer has not joined"
                        )
                    target = member
            entry = plan.get(id(target))
            if entry is None:
                entry = plan[id(target)] = (target, {})
            entry[1][name] = value
        limit = self.config.maxStats
        for target, values in plan.values():
            current = joined if target is None else target
            kept = current.stats if current is not None else None
            if kept is not None and len(kept.keys() | values.keys()) > limit:
                raise ProtocolError(_FORBIDDEN, f"more than {limit} properties kept")
        return list(plan.values())

    def _keepReported(
        self,
        peer: PeerRecord,
        parsed: List[Tuple[str, Optional[str], StatValue, Optional[Scope]]],
        now: float,
    ) -> None:
        """
        Keep statistics a registered peer reports (STAT_REPORT, a
        STAT_QUERY's answer, what a FIND says about its sender): placed and
        checked by L{_planStats}, then against the memory budgets, before
        any is kept.
        """
        plan = self._planStats(peer, parsed, now)
        if self._budgeted():
            self._checkBudget(peer, self._statsCost(plan))
        self._applyStats(plan)

    def _applyStats(
        self,
        plan: List[Tuple[Any, Dict[str, StatValue]]],
        joined: Optional[Membership] = None,
    ) -> None:
        """
        Keep the latest value of each Stat as L{_planStats} decided.
        """
        keepStats = self.store.keepStats
        for target, values in plan:
            keepStats(joined if target is None else target, values)

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

    def _peerList(
        self,
        swarm: Swarm,
        requester: PeerRecord,
        count: int,
        constraints: FindConstraints,
    ) -> Union[Tuple[PeerInfo, ...], "Deferred[Tuple[PeerInfo, ...]]"]:
        """
        Ask the strategy for members, then enforce the invariants every
        strategy is held to and turn them into the requester's view.
        """
        selector = self.swarmSelectors.get(swarm.swarmID, self.selector)
        chosen = selector.select(swarm, requester, count, constraints)
        if isinstance(chosen, Deferred):
            # Time may have passed: check every member afresh.
            constraints.accepted.clear()
            return chosen.addCallback(
                self._checkedList, swarm, requester, count, constraints
            )
        return self._checkedList(chosen, swarm, requester, count, constraints)

    def _checkedList(
        self,
        chosen: Iterable[ISwarmMember],
        swarm: Swarm,
        requester: PeerRecord,
        count: int,
        constraints: FindConstraints,
    ) -> Tuple[PeerInfo, ...]:
        scope = addressScope(requester.observedIP)
        seen: set[Any] = set()
        result: List[PeerInfo] = []
        accepts = constraints.accepts
        accepted = constraints.accepted
        peerInfo = self._peerInfo
        for member in chosen:
            if len(result) >= count:
                break
            if (
                (type(member) is not Membership and not isinstance(member, Membership))
                or member.swarm is not swarm
                or not member.current
                or member.peer is requester
                or member in seen
                or (member not in accepted and not accepts(member))
            ):
                continue
            seen.add(member)
            info = peerInfo(member, scope)
            if info is not None:
                result.append(info)
        return tuple(result)

    def _peerInfo(self, member: Membership, scope: Optional[str]) -> Optional[PeerInfo]:
        """
        The entry for C{member} in a peer list sent to a requester whose
        observed address is in C{scope}, cached on the membership.
        """
        cached = member.info
        if cached is not None:
            info = cached.get(scope, _MISSING)
            if info is not _MISSING:
                return info  # type: ignore[return-value]
        peer = member.peer
        trust = self.config.trustAnnouncedAddresses
        shown = []
        for address in peer.addresses:
            s = addressScope(address.ip)
            if s is None:
                if trust or address.ip == peer.observedIP:
                    shown.append(address)
            elif s == scope:
                shown.append(address)
        if not shown:
            observedScope = addressScope(peer.observedIP)
            if observedScope is None or observedScope == scope:
                port = peer.addresses[0].port if peer.addresses else peer.observedPort
                shown.append(PeerAddress(peer.observedIP, port, AddressType.REFLEXIVE))
        info = PeerInfo(peer.peerID, member.mode, tuple(shown)) if shown else None
        if cached is None:
            member.info = {scope: info}
        else:
            cached[scope] = info
        return info

    def _listSize(self, peerNum: Optional[int]) -> int:
        if not peerNum:
            return self.config.defaultPeers
        return min(peerNum, self.config.maxPeers)

    # Methods ----------------------------------------------------------------

    def _connect(self, request: ConnectRequest, origin: Origin, now: float) -> _ResponseOrDeferred:
        config = self.config
        self.checkAddresses(request.addresses)
        statPort = request.statPort
        if statPort is not None:
            if statPort < config.minStatPort:
                raise ProtocolError(_SYNTAX, f"StatPort must be at least {config.minStatPort}")
            if statPort in self.ownPorts:
                raise ProtocolError(_SYNTAX, "StatPort is one of the tracker's own ports")
        return self.openSession(
            request, origin, request.stats, self._connectAnswer, request.addresses, statPort
        )

    def _connectAnswer(self, opening: SessionOpening) -> Response:
        """
        Answer a CONNECT of the profile once L{openSession} accepted it.  A
        CONNECT that takes a registered session over starts it afresh: a
        new AuthToken, its StatPort and addresses, its online time counted
        from now.
        """
        request = opening.request
        assert isinstance(request, ConnectRequest)
        peer = opening._peer
        now = opening.now
        if not opening.fresh:
            peer.token = secrets.token_urlsafe(24)
            peer.statPort = request.statPort
            peer.connectedAt = now
            self.updateSession(opening, request.addresses)
        self._alive(peer, now)
        origin = opening.origin
        return ConnectResponse(
            request.transactionID,
            peer.token,
            PeerAddress(origin.ip, origin.port, AddressType.REFLEXIVE),
            self.config.keepAliveInterval,
        )

    # Operations for the encodings' adapters ---------------------------------
    #
    # RFC 7846's CONNECT, which carries swarm actions, is mapped onto these
    # by ppsp.tracker.rfc7846; the profile's own CONNECT uses them too.

    def apply(self, request: Request, origin: Origin, now: float) -> _ResponseOrDeferred:
        """
        Apply one operation of the protocol as the handler of its method
        does, for an adapter that maps a message of another encoding onto
        the profile's operations (L{RFC7846Adapter
        <ppsp.tracker.rfc7846.RFC7846Adapter>}).  Unlike L{handle}, it
        keeps nothing in the retry cache (the adapted request is the one a
        peer repeats), and a rule the request breaks is raised, not
        answered.

        @param request: a request of the profile.
        @param origin: where the adapted request came from.
        @param now: the time of the adapted request.
        @return: the method's response, or a L{Deferred} of it.
        @raise ProtocolError: the request breaks a rule of its method.
        """
        return self._handlers[type(request)](request, origin, now)

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
        proceed: Callable[[SessionOpening], _ResponseOrDeferred],
        addresses: Optional[Tuple[PeerAddress, ...]],
        statPort: Optional[int] = None,
        joining: Sequence[str] = (),
        strictToken: bool = False,
    ) -> _ResponseOrDeferred:
        """
        The CONNECT operation, up to the point where the session is open:
        check C{stats} against the per-message limits, the credential with
        the checker (and the revocations and its expiry), then either
        register a new peer or apply the takeover rule to a registered
        PeerID (PROTOCOL.md section 4: the same session's AuthToken, a
        credential bound to the PeerID, or the session's observed IP
        address), with every limit checked before anything changes; then
        go on with C{proceed}, synchronously when the checker answers at
        once.

        A new peer is registered with C{addresses}, C{statPort} and the
        CONNECT's statistics.  For a registered peer nothing changes here:
        C{proceed} decides, and calls L{updateSession} for what the CONNECT
        changes.

        @param request: the CONNECT (of the profile, or of RFC 7846).
        @param origin: where it came from.
        @param stats: the statistics the CONNECT reports.
        @param proceed: what to do with the L{SessionOpening}; its answer
            is the CONNECT's.
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
        @return: what C{proceed} returns, or a L{Deferred} of it.
        @raise ProtocolError: the CONNECT breaks a rule.
        """
        parsed = self._parseStats(stats)
        credentials = PeerCredentials(request.peerID, request.cer, origin.ip, origin.certificate)
        d: Deferred[Any] = maybeDeferred(self.checker.requestAvatarId, credentials)
        d.addBoth(
            self._opened, request, origin, parsed, proceed, addresses, statPort, joining, strictToken
        )
        done: List[Any] = []

        def capture(result: Any) -> Any:
            done.append(result)
            return result

        d.addBoth(capture)
        if not done:
            # An asynchronous checker: the answer comes when it does.
            return d
        result = done[0]
        if isinstance(result, Failure):
            d.addErrback(lambda _: None)
            result.raiseException()
        return result  # type: ignore[no-any-return]

    def _opened(
        self,
        avatarId: Any,
        request: Union[ConnectRequest, PPSTPConnectRequest],
        origin: Origin,
        parsed: _ParsedStats,
        proceed: Callable[[SessionOpening], _ResponseOrDeferred],
        addresses: Optional[Tuple[PeerAddress, ...]],
        statPort: Optional[int],
        joining: Sequence[str],
        strictToken: bool,
    ) -> _ResponseOrDeferred:
        """
        L{openSession} once the checker answered.
        """
        now = self.clock.seconds()
        if isinstance(avatarId, Failure):
            if avatarId.check(UnauthorizedLogin):
                self._refused(request, origin, str(avatarId.value) or "credential not accepted")
                raise ProtocolError(_AUTH, "credential not accepted")
            avatarId.raiseException()
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
        peer: Optional[PeerRecord] = store.getPeer(request.peerID)
        if peer is not None and peer.deadline <= now:
            self._dropPeer(peer, now)
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
            self._checkTakeover(request, origin, peer, plan, addresses, joining)
            return proceed(SessionOpening(request, origin, now, peer, False, identity, plan))
        if addresses is None:
            addresses = ()
        self._checkNewSession(request, origin, addresses, parsed)
        peer = store.addPeer(
            request.peerID,
            secrets.token_urlsafe(24),
            origin.ip,
            origin.port,
            addresses,
            statPort,
            now,
            now + self.config.peerTimeout,
        )
        peer.identity = _kept(identity)
        # Cannot fail: a new peer keeps at most the message's Stats.
        self._applyStats(self._planStats(peer, parsed, now))
        return proceed(SessionOpening(request, origin, now, peer, True, identity, []))

    def refreshSession(self, opening: SessionOpening) -> None:
        """
        Refresh the liveness of the session a CONNECT opened, as every
        request of a session does (a KEEPALIVE without its checks): its
        peer expires C{peerTimeout} seconds after this CONNECT, and never
        after its credential does.

        @param opening: the CONNECT, whose peer is still registered.
        """
        self._alive(opening._peer, opening.now)

    def updateSession(
        self, opening: SessionOpening, addresses: Optional[Tuple[PeerAddress, ...]]
    ) -> None:
        """
        Apply to a registered session what the CONNECT that took it over
        (L{openSession}) changes: the session keeps the identity that
        authenticated that CONNECT, comes from its observed address,
        announces C{addresses}, and keeps its statistics.

        @param opening: the CONNECT, which did not register the peer.
        @param addresses: the addresses now announced; L{None}: unchanged.
        """
        peer = opening._peer
        peer.identity = _kept(opening.identity)
        store = self.store
        if addresses is not None:
            store.setAddresses(peer, addresses)
        origin = opening.origin
        store.setObservedAddress(peer, origin.ip, origin.port)
        for member in peer.swarms.values():
            member.info = None
        self._applyStats(opening._plan)

    def _disconnect(self, request: DisconnectRequest, origin: Origin, now: float) -> Response:
        peer = self._session(request, now, origin)
        self._dropPeer(peer, now)
        return DisconnectResponse(request.transactionID)

    def _join(self, request: JoinRequest, origin: Origin, now: float) -> _ResponseOrDeferred:
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
        peer = self._session(request, now, origin)
        store = self.store
        swarm: Optional[Swarm] = store.getSwarm(request.swarmID)
        if swarm is None and self.provisionedOnly:
            raise ProtocolError(_NOT_FOUND, "unknown SwarmID")
        member = peer.swarms.get(request.swarmID)
        if member is not None and member.expireAt is not None and member.expireAt <= now:
            assert swarm is not None
            self._dropMember(swarm, peer, now)
            member = None
        if member is None:
            if len(peer.swarms) >= config.maxSwarmsPerPeer:
                raise ProtocolError(
                    _FORBIDDEN, f"the peer is already in {config.maxSwarmsPerPeer} swarms"
                )
            if (
                swarm is not None
                and config.maxSwarmSize is not None
                and len(swarm) >= config.maxSwarmSize
            ):
                raise ProtocolError(_FORBIDDEN, "the swarm is full")
        plan = self._planStats(peer, parsed, now, request.swarmID, member)
        # The last check before any write.
        if self._budgeted():
            self._checkBudget(
                peer,
                self._statsCost(plan, member)
                + (store.memberCost(request.swarmID) if member is None else 0),
            )
        if swarm is None:
            swarm = store.addSwarm(request.swarmID, False, now)
        if member is None:
            member = store.addMember(swarm, peer, request.mode, expireAt)
        else:
            if member.mode is not request.mode:
                store.setMemberMode(member, request.mode)
                member.info = None
            store.setMemberExpiry(member, expireAt)
        self._applyStats(plan, member)
        self._alive(peer, now)
        if request.mode is not PeerMode.LEECH:
            return JoinResponse(request.transactionID, swarm.swarmID, None)
        peers = self._peerList(
            swarm, peer, self._listSize(request.peerNum), FindConstraints(None, (), (), now, peer)
        )
        if isinstance(peers, Deferred):
            return peers.addCallback(
                lambda p: JoinResponse(request.transactionID, request.swarmID, p)
            )
        return JoinResponse(request.transactionID, swarm.swarmID, peers)

    def _joinChunk(self, request: JoinChunkRequest, origin: Origin, now: float) -> Response:
        peer = self._session(request, now, origin)
        swarm = self._getSwarm(request.swarmID)
        member = self._member(peer, swarm, now)
        ranges = mergeRanges(request.chunks)
        if len(ranges) > self.config.maxChunkRanges:
            raise ProtocolError(
                _FORBIDDEN, f"more than {self.config.maxChunkRanges} chunk ranges"
            )
        store = self.store
        if self._budgeted():
            self._checkBudget(peer, store.chunksCost(ranges) - store.chunksCost(member.chunks))
        store.setChunks(swarm, member, ranges)
        self._alive(peer, now)
        return JoinChunkResponse(request.transactionID)

    def _leave(self, request: LeaveRequest, origin: Origin, now: float) -> Response:
        peer = self._session(request, now, origin)
        swarm = self._getSwarm(request.swarmID)
        self._member(peer, swarm, now)
        self._dropMember(swarm, peer, now)
        self._alive(peer, now)
        return LeaveResponse(request.transactionID)

    def _find(self, request: FindRequest, origin: Origin, now: float) -> _ResponseOrDeferred:
        chunkID = request.chunkID
        if isinstance(request, FindChunkRequest) and chunkID is None:
            raise ProtocolError(_SYNTAX, "FIND_CHUNK without ChunkID")
        checks = self._constraintChecks(request.constraints)
        facts = self._parseStats(request.requesterStats) if request.requesterStats else None
        peer = self._session(request, now, origin)
        constraints = FindConstraints(chunkID, request.constraints, checks, now, peer)
        swarm = self._getSwarm(request.swarmID)
        if facts:
            # What the requester says about itself (JSON peer_num), kept as
            # its statistics before the strategy looks at it.
            self._keepReported(peer, facts, now)
        cls = FindChunkResponse if isinstance(request, FindChunkRequest) else FindResponse

        def answer(peers: Tuple[PeerInfo, ...]) -> Response:
            # Only an empty list needs the question "does anyone hold it?".
            if not peers and chunkID is not None:
                alive = FindConstraints(chunkID, (), (), now, peer).accepts
                if not swarm.sampleHolders(chunkID, 1, alive):
                    raise ProtocolError(_NOT_FOUND, "no peer holds this chunk")
            self._alive(peer, now)
            return cls(request.transactionID, swarm.swarmID, peers, chunkID)

        peers = self._peerList(swarm, peer, self._listSize(request.peerNum), constraints)
        if isinstance(peers, Deferred):
            return peers.addCallback(answer)
        return answer(peers)

    def _keepAlive(self, request: KeepAliveRequest, origin: Origin, now: float) -> Response:
        peer = self._session(request, now, origin)
        self._alive(peer, now)
        return KeepAliveResponse(request.transactionID, self.config.keepAliveInterval)

    def _statReport(self, request: StatReportRequest, origin: Origin, now: float) -> Response:
        if not request.stats:
            raise ProtocolError(_SYNTAX, "STAT_REPORT without a Stat")
        parsed = self._parseStats(request.stats)
        peer = self._session(request, now, origin)
        self._keepReported(peer, parsed, now)
        self._alive(peer, now)
        swarmIDs = tuple(dict.fromkeys([s.swarm for s in request.stats if s.swarm is not None]))
        return StatReportResponse(request.transactionID, swarmIDs)

    def _statQuery(self, request: StatQueryRequest, origin: Origin, now: float) -> Response:
        raise ProtocolError(
            ResponseCode.MESSAGE_NOT_SUPPORTED, "STAT_QUERY is sent by the tracker, not to it"
        )

    # Operators' actions ---------------------------------------------------------

    def endSession(self, peerID: str) -> bool:
        """
        End a peer's session now, as if it had sent DISCONNECT: it leaves
        every swarm, is no longer listed, and its next request gets
        AUTHENTICATION REQUIRED (it may CONNECT again).

        @return: whether C{peerID} had a session (one that had expired
            but was not swept yet is swept, and counts as none).
        """
        now = self.clock.seconds()
        peer: Optional[PeerRecord] = self.store.getPeer(peerID)
        if peer is None:
            return False
        alive = peer.deadline > now
        self._dropPeer(peer, now)
        if alive:
            self.log.info("session of {peerID} ended by the operator", peerID=peerID)
        return alive

    def provisionSwarm(self, swarmID: str) -> bool:
        """
        Provision a swarm at run time: it exists from now on (peers may
        JOIN it even when only provisioned swarms exist) and is never
        forgotten, even when empty.  A swarm that exists already (created
        on JOIN) keeps its members and becomes provisioned.

        @param swarmID: a valid SwarmID (the caller checks it).
        @return: whether the swarm was not provisioned before.
        """
        added = swarmID not in self.provisionedSwarms
        self.provisionedSwarms.add(swarmID)
        swarm: Optional[Swarm] = self.store.getSwarm(swarmID)
        if swarm is None:
            self.store.addSwarm(swarmID, True, self.clock.seconds())
        elif not swarm.provisioned:
            swarm.provisioned = True
        else:
            return added
        self.log.info("swarm {swarmID} provisioned", swarmID=swarmID)
        return True

    def removeSwarm(self, swarmID: str) -> Optional[int]:
        """
        Remove a swarm at run time: every member leaves it (their sessions
        go on), and the swarm is forgotten; it is no longer provisioned.
        When only provisioned swarms exist, a JOIN of it then gets NOT
        FOUND; otherwise the next JOIN creates it again.

        @return: the number of members that left, or L{None} when no such
            swarm exists.
        """
        self.provisionedSwarms.discard(swarmID)
        store = self.store
        swarm: Optional[Swarm] = store.getSwarm(swarmID)
        if swarm is None:
            return None
        now = self.clock.seconds()
        members = list(swarm)
        for member in members:
            store.removeMember(swarm, member.peer, now)
        store.removeSwarm(swarmID)
        self.log.info(
            "swarm {swarmID} removed by the operator ({members} member(s) left it)",
            swarmID=swarmID,
            members=len(members),
        )
        return len(members)

    # Revocation ---------------------------------------------------------------

    def setRevocations(self, revocations: Revocations) -> int:
        """
        Replace the revoked PeerIDs and credentials (the revocation file
        read again, or an operator's call), effective at once: a revoked
        PeerID or credential may no longer CONNECT, and every session it
        opened ends now, as if it had sent DISCONNECT (its peers are no
        longer listed; its next request gets AUTHENTICATION REQUIRED).
        Costs one pass over the registered peers.

        @return: the number of sessions ended.
        """
        self.revocations = revocations
        now = self.clock.seconds()
        ended = 0
        for peer in list(self.store.peers()):
            if revocations.revokes(peer.peerID, peer.identity):
                self._dropPeer(peer, now)
                ended += 1
        if ended:
            self.log.info(
                "revocation ended {count} session(s)", count=ended
            )
        return ended

    def revoke(self, peerIDs: Iterable[str] = (), fingerprints: Iterable[str] = ()) -> int:
        """
        Revoke more PeerIDs or credentials (by
        L{credentialFingerprint<ppsp.tracker.auth.credentialFingerprint>}),
        effective at once (see L{setRevocations}).

        @return: the number of sessions ended.
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

    def storeQueriedStats(self, peerID: str, stats: Tuple[Stat, ...]) -> None:
        """
        Keep the Stats a peer answered to the tracker's STAT_QUERY as if the
        peer had sent them in a STAT_REPORT (PROTOCOL.md section 4): the
        same per-message limits and property registry (L{_parseStats}:
        values of tracker-computed properties such as C{OnlineTime} are
        dropped), the same placement by scope (L{_planStats}) and the same
        storage (L{_applyStats}).  All or nothing: when one Stat is refused
        none is kept.  An empty answer (a peer with no statistics) keeps
        nothing and is not an error.

        It does B{not} refresh the peer's liveness: liveness is the peer's
        own session talking to the tracker (requests that carry its
        AuthToken), and an answer on the StatPort is the tracker talking to
        it.  A peer whose session is gone but whose stat resource still
        answers must still expire (PROTOCOL.md: a STAT_QUERY changes
        nothing but the statistics).

        @param peerID: the queried peer, which must be connected.
        @param stats: the Stats of its C{StatQueryResponse}.
        @raise ProtocolError: AUTHENTICATION REQUIRED when C{peerID} is not
            connected (or has expired and is not swept yet); INVALID SYNTAX
            or MESSAGE FORBIDDEN for Stats that a STAT_REPORT could not
            carry (too many, too long, malformed, for a swarm the peer has
            not joined, more properties than kept).
        """
        now = self.clock.seconds()
        parsed = self._parseStats(stats)
        peer: Optional[PeerRecord] = self.store.getPeer(peerID)
        if peer is None or peer.deadline <= now:
            raise ProtocolError(_AUTH, "this PeerID is not connected")
        self._keepReported(peer, parsed, now)


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
