# -*- test-case-name: ppsp.test.test_admin -*-
"""
The tracker's admin interface: a small JSON resource for operators, served
on an endpoint of its own (C{twistd ppsp-tracker --admin
tcp:7001:interface=127.0.0.1}), never on the peers' port.

The requests it answers:

  - C{GET /}: the status: an HTML page for a browser
    (L{ppsp.tracker._status}), else JSON: peers, swarms, counters,
    STAT_QUERY state, version, uptime, totals, ...
  - C{GET /metrics}: the metrics, in Prometheus's text format
  - C{GET /health}: 200 while the tracker serves, 503 while it sheds load,
    drains or cannot reach its store
  - C{GET /peers/<PeerID>}: one peer
  - C{DELETE /peers/<PeerID>}: end the peer's session now
  - C{GET /swarms[?offset=N&limit=N]}: the swarms, largest first, paged
  - C{GET /swarms/<SwarmID>[?limit=N]}: one swarm, with up to N members
  - C{GET /swarms/<SwarmID>/peers[?offset..]}: a swarm's members, paged
  - C{PUT /swarms/<SwarmID>}: provision the swarm
  - C{DELETE /swarms/<SwarmID>}: remove the swarm (its members leave)
  - C{GET /bans}: the bans in force
  - C{POST /bans?network=NET[&seconds=N]}: ban an address or a CIDR
    network
  - C{DELETE /bans?network=NET}: lift a ban
  - C{POST /peers/<PeerID>/stat-query[?property=NAME ...]}: send the peer
    a STAT_QUERY now and answer with what it said
  - C{GET /revocations}: the revoked PeerIDs and credentials
  - C{POST /revocations[?peer=PEERID ...][&credential=FP ...]}: revoke
    PeerIDs and credentials now, ending their sessions

IDs are percent-encoded in the path (C{/peers/a%2Fb} is the PeerID
C{a/b}), in UTF-8.  Every answer, errors included, is a JSON object with
C{Content-Type: application/json} and C{Cache-Control: no-store}; an error
is C{{"error": KIND, "reason": TEXT}}.  A paged list takes C{offset}
(default 0) and C{limit} (default L{DEFAULT_PAGE_LIMIT}, at most
L{MAX_PAGE_LIMIT}) and answers C{{"total": N, "offset": N, "limit": N,
"items": [...]}}.

With credentials checkers (C{twistd ppsp-tracker --admin-auth}), every
request but C{GET /health} must carry HTTP Basic credentials that one of
them accepts (L{twisted.web.guard}); the C{Host} and C{Origin} checks
come first.

Because a web page can make a browser send requests to a loopback address
(and, through DNS rebinding, read the answers), every request must name
this interface in its C{Host} header (L{AdminResource}), and a write
(any method but GET and HEAD) from a web page of another origin is
refused.
"""

from __future__ import annotations

import json
import re
import math
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
    Tuple,
    TypeVar,
)

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin, UnhandledCredentials
from twisted.cred.portal import IRealm, Portal
from twisted.web.guard import BasicCredentialFactory, HTTPAuthSessionWrapper
from twisted.web.resource import IResource
from zope.interface import implementer

from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ppsp._ratelimit import RateLimitedLog
from ppsp.codec.identifiers import PROPERTY_LENGTH, identifierRule, validIdentifier
from ppsp.messages import PeerMode
from ppsp.tracker.addresses import IPNetwork, canonicalAddress
from ppsp.tracker.bans import Ban, parseNetwork
from ppsp.tracker.listening import splitDescription
from ppsp.tracker.credentials import Revocations
from ppsp.tracker.core import Tracker
from ppsp.tracker._exporter import TrackerRegistry, trackerRegistry
from ppsp.tracker.overload import LoadShedder
from ppsp.tracker._status import STATUS_CSP, StatusPage, prefersHTML
from ppsp.tracker.statquerier import (
    BadStatAnswer,
    NoStatPort,
    PeerUnreachable,
    StatQuerier,
    StatQueryFailed,
    StatQueryResult,
    UnknownPeer,
)
from ppsp.tracker.values import MemberState, PeerState, SwarmState

__all__ = [
    "AdminResource",
    "adminHostName",
    "peerView",
    "swarmView",
    "DEFAULT_MEMBER_LIMIT",
    "MAX_MEMBER_LIMIT",
    "DEFAULT_PAGE_LIMIT",
    "MAX_PAGE_LIMIT",
    "ADMIN_REALM",
    "exposure",
]

#: Items in a page of a list without C{?limit=}.
DEFAULT_PAGE_LIMIT = 100

#: The most items in one page of a list.
MAX_PAGE_LIMIT = 1000

#: The HTTP authentication realm of the admin interface.
ADMIN_REALM = b"ppsp-tracker admin"

#: The paths (segments below the root) answered without credentials: the
#: health check, for load balancers.
_OPEN_PATHS = frozenset({(b"health",)})

#: Members listed in a swarm view without C{?limit=}.
DEFAULT_MEMBER_LIMIT = 100

#: The most members one swarm view lists.
MAX_MEMBER_LIMIT = 10_000

#: Chunk ranges shown per membership in a peer view (the count is always
#: given).
_SHOWN_RANGES = 8

#: The most PeerIDs and credentials one revocation request may name.
_MAX_REVOCATIONS = 1000

#: The most properties one stat-query request may name.
_MAX_PROPERTIES = 64

_JSON = b"application/json"

#: The names of the local host a request may give in C{Host} when it
#: reached the interface on a loopback address or a UNIX socket.
_LOCAL_NAMES = frozenset({"localhost"})

#: The port a C{Host} or C{Origin} without one means, by scheme.
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: The methods that only read; any other is a write.
_READS = (b"GET", b"HEAD")

#: A host name: dot-separated labels of letters, digits, C{-} and C{_}
#: (internationalised names come in their ASCII form, C{xn--...}).
_HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")

#: The seconds between two log lines about refused requests.
_REFUSAL_LOG_INTERVAL = 60.0

#: Reason phrases twisted.web does not know.
_PHRASES = {421: b"Misdirected Request", 422: b"Unprocessable Content"}

#: The HTTP status of each STAT_QUERY failure.
_STATUS = {
    UnknownPeer: 404,
    NoStatPort: 409,
    PeerUnreachable: 504,
    BadStatAnswer: 502,
}


class _Error(Exception):
    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(status, kind, reason)
        self.status = status
        self.kind = kind
        self.reason = reason


def _stats(stats: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    return dict(stats) if stats else {}


def _chunkSummary(member: MemberState) -> Dict[str, Any]:
    chunks = member.chunks
    return {
        "ranges": len(chunks),
        "chunks": sum(r.end - r.start + 1 for r in chunks),
        "first": [[r.start, r.end] for r in chunks[:_SHOWN_RANGES]],
    }


def peerView(
    tracker: Tracker, peer: PeerState, querier: Optional[StatQuerier] = None
) -> Dict[str, Any]:
    """
    The JSON view of one registered peer.

    @param peer: the peer, as the store answered it.
    @param querier: where the STAT_QUERY records are, if anywhere.
    """
    now = tracker.clock.seconds()
    swarms = []
    for swarmID in sorted(peer.swarms):
        member = peer.swarms[swarmID]
        swarms.append(
            {
                "swarmID": swarmID,
                "mode": member.mode.value,
                "expireAt": member.expireAt,
                "chunks": _chunkSummary(member),
                "stats": _stats(member.stats),
            }
        )
    view: Dict[str, Any] = {
        "peerID": peer.peerID,
        "observed": {"ip": peer.observedIP, "port": peer.observedPort},
        "announced": [
            {"ip": a.ip, "port": a.port, "type": a.type.value, "priority": a.priority}
            for a in peer.addresses
        ],
        "statPort": peer.statPort,
        "connectedAt": peer.connectedAt,
        "onlineSeconds": max(0, int(now - peer.connectedAt)),
        "lastHeard": peer.deadline - tracker.config.peerTimeout,
        "deadline": peer.deadline,
        "expiresIn": round(peer.deadline - now, 3),
        "swarms": swarms,
        "stats": _stats(peer.stats),
    }
    if querier is not None:
        outcome = querier.lastOutcome(peer)
        unreachable = querier.unreachableSince(peer)
        view["statQuery"] = {
            "last": None
            if outcome is None
            else {
                "at": outcome.at,
                "outcome": outcome.outcome,
                "reason": outcome.reason,
                "address": outcome.address,
                "stats": outcome.stats,
            },
            "unreachable": None
            if unreachable is None
            else {
                "since": unreachable.since,
                "last": unreachable.last,
                "failures": unreachable.failures,
                "reason": unreachable.reason,
            },
            "inFlight": querier.busy(peer.peerID),
        }
    return view


def swarmView(
    swarm: SwarmState, members: Sequence[PeerState], limit: int = DEFAULT_MEMBER_LIMIT
) -> Dict[str, Any]:
    """
    The JSON view of one swarm, listing up to C{limit} of its members.

    @param swarm: the swarm, as the store answered it.
    @param members: its members: peers as the store answered them, each
        with a membership of the swarm.
    """
    swarmID = swarm.swarmID
    listed: List[Dict[str, Any]] = []
    for peer in members[:limit]:
        member = peer.swarms[swarmID]
        listed.append(
            {
                "peerID": peer.peerID,
                "mode": member.mode.value,
                "chunkRanges": len(member.chunks),
                "expireAt": member.expireAt,
            }
        )
    return {
        "swarmID": swarmID,
        "provisioned": swarm.provisioned,
        "size": swarm.size,
        "emptySince": swarm.emptySince,
        "modes": {mode.value: swarm.modes.get(mode, 0) for mode in PeerMode},
        "members": listed,
        "limit": limit,
        "truncated": len(members) > len(listed),
    }


def _resultView(result: StatQueryResult) -> Dict[str, Any]:
    return {
        "peerID": result.peerID,
        "address": result.address,
        "at": result.at,
        "stored": True,
        "stats": [
            {"property": s.property, "value": s.value, "swarm": s.swarm} for s in result.stats
        ],
    }


class AdminResource(Resource):
    """
    The admin interface of a tracker (see the module's documentation).
    Mount it at the root of a site of its own, bound to a loopback
    interface: it has no authentication.

    A web page cannot use it through the browser of someone who can reach
    it:

      - Every request must name the interface in its C{Host} header, or
        it gets 421 (Misdirected Request): a name in C{hosts} (any port),
        or the address the request reached (the connection's local
        address: an IP literal, with that port, or without a port when
        the port is the scheme's default), or C{localhost} (also
        C{localhost.}, with that port) when that address is a loopback
        one.  Over a UNIX socket, C{localhost} with any port or none.  A
        DNS rebinding attack names the attacker's domain, so it fails.
        An HTTP/1.1 request without C{Host}, or with more than one, or
        with one that is not a host, gets 400; an HTTP/1.0 request
        without C{Host} (never sent by a browser) is answered.
      - A write (any method but GET and HEAD) gets 403 when it carries an
        C{Origin} that does not name this interface in the same way (a
        web page of another origin sent it; C{null} included) or a
        C{Sec-Fetch-Site} other than C{same-origin} and C{none}.

    No answer carries CORS headers, so a page of another origin cannot
    read one either.

    @param tracker: the tracker to show.
    @param querier: what sends STAT_QUERY; without one, C{POST
        .../stat-query} answers 501.
    @param hosts: more names (or IP addresses) by which the interface
        may be reached, such as the name of a reverse proxy in front of
        it; each is checked with L{adminHostName}.
    @param registry: the metrics C{GET /metrics} renders (in the reactor
        thread, once it has read what it reports of the store); by default
        L{trackerRegistry} of C{tracker} and C{shedder}.
    @param shedder: the tracker's load shedder, which C{GET /health} asks
        whether the tracker sheds load; without one, it never does.
    @param checkers: credentials checkers of user names and passwords
        (L{twisted.cred.credentials.IUsernamePassword}, such as
        L{twisted.cred.strcred.makeChecker} makes): when given, every
        request but C{GET /health} must carry HTTP Basic credentials that
        one of them accepts, or gets 401 with C{WWW-Authenticate: Basic
        realm="ppsp-tracker admin"}; the C{Host} and C{Origin} checks
        come first.  Without any, the interface has no authentication.
    @param status: what C{GET /} shows (its HTML page and the status
        fields of its JSON answer); by default a L{StatusPage} of
        C{tracker} without settings, endpoints or warnings.
    @param reload: what C{POST /reload} calls: reads the reloadable files
        again (L{ReloadService.reload<ppsp.tracker.reload.ReloadService.reload>})
        and returns a L{Deferred} firing with, for each, what it read
        (C{"what"}) and whether it applied it (C{"applied"}); without one,
        C{POST /reload} has nothing to read again.
    @raise ValueError: a name in C{hosts} is not a host name or an IP
        address.
    """

    isLeaf = True
    log = Logger()

    def __init__(
        self,
        tracker: Tracker,
        querier: Optional[StatQuerier] = None,
        hosts: Iterable[str] = (),
        registry: Optional[TrackerRegistry] = None,
        shedder: Optional[LoadShedder] = None,
        checkers: Sequence[ICredentialsChecker] = (),
        status: Optional[StatusPage] = None,
        reload: Optional[Callable[[], "Deferred[List[Dict[str, Any]]]"]] = None,
    ) -> None:
        super().__init__()
        self.tracker = tracker
        self.reload = reload
        self.status = status if status is not None else StatusPage(tracker)
        self.querier = querier
        self.shedder = shedder
        self.registry = registry if registry is not None else trackerRegistry(tracker, shedder)
        #: The normalised names of C{hosts}.
        self.hosts: FrozenSet[str] = frozenset(adminHostName(host) for host in hosts)
        self._refusals = RateLimitedLog(self.log, tracker.clock, _REFUSAL_LOG_INTERVAL)
        self._factories = [BasicCredentialFactory(ADMIN_REALM)]
        self._guard: Optional[HTTPAuthSessionWrapper] = None
        if checkers:
            portal = Portal(_AdminRealm(_Leaf(self.answer)), list(checkers))
            self._guard = HTTPAuthSessionWrapper(_JSONRefusalPortal(portal, self), self._factories)

    def render(self, request: Request) -> Any:
        """
        Answer one request with JSON; never raises, never a traceback.
        """
        try:
            self._checkHost(request)
            if request.method not in _READS:
                self._checkOrigin(request)
            guard = self._guard
            if guard is not None and tuple(_segments(request)) not in _OPEN_PATHS:
                body = guard.render(request)
                if request.code == 401 and isinstance(body, bytes):
                    # No credentials, or unreadable ones: Twisted's
                    # answer, with its challenge, as JSON.
                    return self.unauthorized(request)
                return body
        except _Error as e:
            return self._error(request, e.status, e.kind, e.reason)
        except Exception:
            self.log.failure("admin resource failed")
            return self._error(request, 500, "internal-error", "the tracker failed")
        return self.answer(request)

    def answer(self, request: Request) -> object:
        """
        Answer a request that may be answered (its C{Host} and C{Origin}
        checked, its credentials accepted): route it, and write its answer
        (L{_write}) once the tracker and its store have answered.

        @return: L{NOT_DONE_YET}.
        """
        self._write(request, Deferred.fromCoroutine(self._route(request)))
        return NOT_DONE_YET

    def _write(self, request: Request, answer: "Deferred[bytes]") -> None:
        """
        Write the body C{answer} fires with (what L{_send} returned, the
        headers set) and finish the request; a failure is a JSON error
        (L{_error}): an L{_Error} its own, anything else is logged and
        answered 500.  Nothing is written to a client that hung up.
        """
        gone: List[Failure] = []
        request.notifyFinish().addErrback(gone.append)

        def failed(failure: Failure) -> bytes:
            error = failure.value
            if isinstance(error, _Error):
                return self._error(request, error.status, error.kind, error.reason)
            self.log.failure("admin resource failed", failure)
            return self._error(request, 500, "internal-error", "the tracker failed")

        def write(body: bytes) -> None:
            if not gone:
                request.write(body)
                request.finish()

        def unwritten(failure: Failure) -> None:
            self.log.failure("admin answer not written", failure)

        answer.addErrback(failed).addCallback(write).addErrback(unwritten)

    def unauthorized(self, request: Request) -> bytes:
        """
        Answer 401 (JSON), with a challenge for each accepted scheme; log
        it (rate-limited).
        """
        self._logRefusal(request, 401, "no valid credentials")
        request.responseHeaders.removeHeader(b"www-authenticate")
        for factory in self._factories:
            challenge = ", ".join(
                f'{_str(k)}="{_str(v)}"' for k, v in factory.getChallenge(request).items()
            )
            request.responseHeaders.addRawHeader(
                b"www-authenticate", factory.scheme + b" " + challenge.encode("ascii", "replace")
            )
        return self._error(
            request, 401, "unauthorized", "give the admin's credentials (HTTP Basic authentication)"
        )

    # Who may ask -------------------------------------------------------------

    def _checkHost(self, request: Request) -> None:
        values = request.requestHeaders.getRawHeaders(b"host")
        if values is None:
            if request.clientproto == b"HTTP/1.0":
                return
            self._refuse(request, 400, "bad-request", "the request has no Host header")
        elif len(values) != 1:
            self._refuse(request, 400, "bad-request", "the request has more than one Host header")
        else:
            host = _splitHost(values[0])
            if host is None:
                self._refuse(request, 400, "bad-request", "the Host header is not a host")
            else:
                name, port = host
                scheme = "https" if request.isSecure() else "http"
                if not self._namesThis(request, name, _DEFAULT_PORTS[scheme] if port is None else port):
                    self._refuse(
                        request,
                        421,
                        "misdirected-request",
                        f"this admin interface does not answer for the host {_show(values[0])}",
                    )

    def _checkOrigin(self, request: Request) -> None:
        fetchSite = request.getHeader(b"sec-fetch-site")
        if fetchSite is not None and fetchSite.lower() not in (b"same-origin", b"none"):
            self._refuse(
                request, 403, "cross-origin", "a write must not come from a web page of another origin"
            )
        origins = request.requestHeaders.getRawHeaders(b"origin")
        if origins is not None and not (len(origins) == 1 and self._ownOrigin(request, origins[0])):
            self._refuse(
                request,
                403,
                "cross-origin",
                f"a write must not come from a web page of another origin ({_show(origins[-1])})",
            )

    def _ownOrigin(self, request: Request, origin: bytes) -> bool:
        scheme, separator, rest = origin.partition(b"://")
        port = _DEFAULT_PORTS.get(scheme.decode("ascii", "replace").lower())
        host = _splitHost(rest) if separator else None
        if port is None or host is None:
            return False
        name, explicit = host
        return self._namesThis(request, name, port if explicit is None else explicit)

    def _namesThis(self, request: Request, name: str, port: int) -> bool:
        """
        Whether C{name} and C{port} (from a C{Host} or an C{Origin}) name
        this interface as the request reached it.
        """
        if name in self.hosts:
            return True
        local = request.getHost()
        ip = getattr(local, "host", None)
        if ip is None:
            # A UNIX socket: only this host can connect, by any port.
            return name in _LOCAL_NAMES
        if port != getattr(local, "port", None):
            return False
        localIP = canonicalAddress(ip)
        if localIP is None:
            return False
        if name in _LOCAL_NAMES:
            return localIP.is_loopback
        return name == str(localIP)

    def _refuse(self, request: Request, status: int, kind: str, reason: str) -> None:
        self._logRefusal(request, status, reason)
        raise _Error(status, kind, reason)

    def _logRefusal(self, request: Request, status: int, reason: str) -> None:
        """
        Log a refused request (rate-limited): who asked for what, by which
        C{Host} and C{Origin}, and why; never its credentials.
        """
        client = request.getClientAddress()
        self._refusals.emit(
            LogLevel.warn,
            "admin interface refused {method} {path} from {client}: {reason}",
            method=_show(request.method),
            path=_show(request.uri),
            client=getattr(client, "host", None) or str(client),
            host=_show(request.getHeader(b"host") or b""),
            origin=_show(request.getHeader(b"origin") or b""),
            status=status,
            reason=reason,
        )

    # Routing --------------------------------------------------------------

    async def _route(self, request: Request) -> bytes:
        segments = _segments(request)
        if segments == [b"metrics"]:
            self._allow(request, _READS)
            return await self._metrics(request)
        if segments == [b"health"]:
            self._allow(request, _READS)
            return await self._health(request)
        if segments == []:
            self._allow(request, (b"GET", b"HEAD"))
            request.setHeader(b"vary", b"Accept")
            if prefersHTML(request.getHeader(b"accept")):
                return await self._page(request)
            return self._reply(request, 200, await self._summary())
        if len(segments) == 2 and segments[0] == b"peers":
            self._allow(request, (b"GET", b"HEAD", b"DELETE"))
            if request.method == b"DELETE":
                return await self._endSession(request, _identifier(segments[1], "PeerID"))
            peer = await self._peer(_identifier(segments[1], "PeerID"))
            return self._reply(request, 200, peerView(self.tracker, peer, self.querier))
        if len(segments) == 3 and segments[0] == b"peers" and segments[2] == b"stat-query":
            self._allow(request, (b"POST",))
            return await self._statQuery(request, _identifier(segments[1], "PeerID"))
        if segments == [b"revocations"]:
            self._allow(request, (b"GET", b"HEAD", b"POST"))
            if request.method == b"POST":
                return await self._revoke(request)
            return self._reply(request, 200, _revocationsView(self.tracker.revocations))
        if segments == [b"swarms"]:
            self._allow(request, (b"GET", b"HEAD"))
            return self._reply(request, 200, await self._swarmList(request))
        if len(segments) == 2 and segments[0] == b"swarms":
            self._allow(request, (b"GET", b"HEAD", b"PUT", b"DELETE"))
            if request.method == b"PUT":
                return await self._provision(request, segments[1])
            swarmID = _identifier(segments[1], "SwarmID")
            if request.method == b"DELETE":
                return await self._removeSwarm(request, swarmID)
            limit = _limit(request)
            swarm = await self._swarm(swarmID)
            members = await self._members(swarmID)
            return self._reply(request, 200, swarmView(swarm, members, limit))
        if len(segments) == 3 and segments[0] == b"swarms" and segments[2] == b"peers":
            self._allow(request, (b"GET", b"HEAD"))
            swarm = await self._swarm(_identifier(segments[1], "SwarmID"))
            return self._reply(request, 200, await self._memberList(request, swarm))
        if segments == [b"reload"]:
            self._allow(request, (b"POST",))
            return await self._reload(request)
        if segments == [b"bans"]:
            self._allow(request, (b"GET", b"HEAD", b"POST", b"DELETE"))
            if request.method == b"POST":
                return self._ban(request)
            if request.method == b"DELETE":
                return self._lift(request)
            return self._reply(request, 200, self._banList(request))
        raise _Error(404, "not-found", "no such admin resource")

    async def _reload(self, request: Request) -> bytes:
        """
        Read the reloadable files again, as SIGHUP does; answer 200 with
        what was read again (C{reloaded}) when every file was applied,
        422 when one was refused (C{refused}; its old settings stay).
        """
        results = await self.reload() if self.reload is not None else []
        reloaded = [r["what"] for r in results if r["applied"]]
        refused = [r["what"] for r in results if not r["applied"]]
        return self._reply(
            request, 422 if refused else 200, {"reloaded": reloaded, "refused": refused}
        )

    async def _swarm(self, swarmID: str) -> SwarmState:
        swarm = await self.tracker.store.swarm(swarmID)
        if swarm is None:
            raise _Error(404, "unknown-swarm", f"no swarm {swarmID!r}")
        return swarm

    async def _members(self, swarmID: str) -> List[PeerState]:
        """
        The members of a swarm, in the store's order of its peers: one
        pass over every registered peer (L{IPeerStore.peers
        <ppsp.interfaces.IPeerStore.peers>}).
        """
        return [peer for peer in await self.tracker.store.peers() if swarmID in peer.swarms]

    # The admin API: swarms, sessions, bans ---------------------------------------

    async def _swarmList(self, request: Request) -> Dict[str, Any]:
        """
        The swarms, largest first (then by SwarmID), one page of them:
        sorting costs O(swarms log swarms) per call.
        """
        offset, limit = _page(request)
        swarms = sorted(await self.tracker.store.swarms(), key=lambda s: (-s.size, s.swarmID))
        return _pageView(swarms[offset : offset + limit], len(swarms), offset, limit, _swarmSummary)

    async def _memberList(self, request: Request, swarm: SwarmState) -> Dict[str, Any]:
        """
        One page of a swarm's members, in the store's order of its peers
        (L{_members}).
        """
        offset, limit = _page(request)
        swarmID = swarm.swarmID
        members = await self._members(swarmID)

        def memberView(peer: PeerState) -> Dict[str, Any]:
            return _memberView(peer, peer.swarms[swarmID])

        view = _pageView(members[offset : offset + limit], len(members), offset, limit, memberView)
        view["swarmID"] = swarmID
        return view

    async def _endSession(self, request: Request, peerID: str) -> bytes:
        if not await self.tracker.endSession(peerID):
            raise _Error(404, "unknown-peer", f"no connected peer {peerID!r}")
        self.log.info("admin ended the session of {peerID}", peerID=peerID)
        return self._reply(request, 200, {"peerID": peerID, "ended": True})

    async def _provision(self, request: Request, segment: bytes) -> bytes:
        swarmID = _text(segment, "SwarmID")
        if not validIdentifier(swarmID):
            raise _Error(400, "bad-request", f"a SwarmID must be {identifierRule()}")
        created = await self.tracker.provisionSwarm(swarmID)
        view = _swarmSummary(await self._swarm(swarmID))
        view["created"] = created
        return self._reply(request, 201 if created else 200, view)

    async def _removeSwarm(self, request: Request, swarmID: str) -> bytes:
        left = await self.tracker.removeSwarm(swarmID)
        if left is None:
            raise _Error(404, "unknown-swarm", f"no swarm {swarmID!r}")
        return self._reply(request, 200, {"swarmID": swarmID, "removed": True, "membersLeft": left})

    def _banList(self, request: Request) -> Dict[str, Any]:
        offset, limit = _page(request)
        bans = self.tracker.bans.entries()
        return _pageView(bans[offset : offset + limit], len(bans), offset, limit, _banView)

    def _ban(self, request: Request) -> bytes:
        network = _network(request)
        values = (request.args or {}).get(b"seconds")
        seconds: Optional[float] = None
        if values:
            try:
                seconds = float(values[-1])
            except ValueError:
                seconds = math.nan
            if not (seconds > 0 and math.isfinite(seconds)):
                raise _Error(400, "bad-request", "seconds must be a positive number")
        try:
            ban = self.tracker.bans.ban(network, seconds)
        except ValueError as e:
            raise _Error(400, "bad-request", str(e)) from None
        self.log.info(
            "admin banned {network} for {seconds}",
            network=str(ban.network),
            seconds="good" if seconds is None else f"{seconds:g} s",
        )
        return self._reply(request, 200, _banView(ban))

    def _lift(self, request: Request) -> bytes:
        network = _network(request)
        if not self.tracker.bans.lift(network):
            raise _Error(404, "not-banned", f"{network} is not banned")
        self.log.info("admin lifted the ban of {network}", network=str(network))
        return self._reply(request, 200, {"network": str(network), "lifted": True})

    def _allow(self, request: Request, methods: Tuple[bytes, ...]) -> None:
        if request.method not in methods:
            request.setHeader(b"allow", b", ".join(methods))
            raise _Error(405, "method-not-allowed", "use " + " or ".join(m.decode() for m in methods))

    async def _peer(self, peerID: str) -> PeerState:
        peer = await self.tracker.store.peer(peerID)
        if peer is None or not peer.alive(self.tracker.clock.seconds()):
            raise _Error(404, "unknown-peer", f"no connected peer {peerID!r}")
        return peer

    # Views ----------------------------------------------------------------

    async def _summary(self) -> Dict[str, Any]:
        """
        The JSON of C{GET /}: the numbers of peers and swarms, the
        counters, the STAT_QUERY state and the status page's view
        (L{StatusPage.view}).
        """
        tracker = self.tracker
        status = await self.status.view()
        totals = status["totals"]
        summary: Dict[str, Any] = {
            "peers": totals["peers"],
            "swarms": totals["swarms"],
            "counters": dict(sorted(tracker.counters.items())),
        }
        querier = self.querier
        if querier is not None:
            unreachable = await querier.unreachable()
            shown = sorted(unreachable.items(), key=lambda item: item[1].since)[:DEFAULT_MEMBER_LIMIT]
            summary["statQuery"] = {
                "timeout": querier.timeout,
                "inFlight": querier.inFlight,
                "unreachable": len(unreachable),
                "unreachablePeers": [
                    {"peerID": peerID, "since": u.since, "failures": u.failures, "reason": u.reason}
                    for peerID, u in shown
                ],
            }
        summary.update(status)
        return summary

    async def _page(self, request: Request) -> bytes:
        """
        The status page, as HTML that may load nothing from anywhere
        (L{STATUS_CSP}).
        """
        page = await self.status.render()
        request.setHeader(b"content-security-policy", STATUS_CSP.encode("ascii"))
        request.setHeader(b"x-content-type-options", b"nosniff")
        request.setHeader(b"referrer-policy", b"no-referrer")
        return self._send(request, 200, b"text/html; charset=utf-8", page)

    # Metrics and health -------------------------------------------------------

    async def _metrics(self, request: Request) -> bytes:
        """
        The registry's metrics in Prometheus's text format, collected here,
        in the reactor thread, once the registry has read what it reports
        of the store (L{TrackerRegistry.refresh}).
        """
        await self.registry.refresh()
        body: bytes = generate_latest(self.registry)
        return self._send(request, 200, CONTENT_TYPE_LATEST.encode("ascii"), body)

    async def _health(self, request: Request) -> bytes:
        """
        200 C{{"status": "ok", ...}} while the tracker serves; 503 with the
        status C{draining} (it is stopping), C{store-unreachable} or
        C{shedding} (in that order of precedence) while it does not.  The
        numbers of peers and swarms are read from the store when it can be
        reached, else they are those of the tracker's last look
        (L{Tracker.population}).
        """
        tracker = self.tracker
        shedder = self.shedder
        reachable = await tracker.storeReachable()
        if reachable:
            await tracker.refreshPopulation()
        if tracker.draining:
            status = "draining"
        elif not reachable:
            status = "store-unreachable"
        elif shedder is not None and shedder.shedding:
            status = "shedding"
        else:
            status = "ok"
        peers, swarms = tracker.population
        view: Dict[str, Any] = {
            "status": status,
            "peers": peers,
            "swarms": swarms,
            "uptime": round(tracker.metrics.uptime(), 3),
        }
        return self._reply(request, 200 if status == "ok" else 503, view)

    # STAT_QUERY -------------------------------------------------------------

    # Revocation -------------------------------------------------------------

    async def _revoke(self, request: Request) -> bytes:
        """
        Revoke the PeerIDs (C{peer=}) and credentials (C{credential=}: a
        C{sha256:} fingerprint or a C{ppsp1.} credential) of the query, at
        once; answer with how many sessions ended and the revocations now
        in force.  Revocations made here last until the tracker stops (the
        revocation file keeps them across restarts).
        """
        args = request.args or {}
        peerIDs = [_text(p, "peer") for p in args.get(b"peer", [])]
        credentials = [_text(c, "credential") for c in args.get(b"credential", [])]
        if not peerIDs and not credentials:
            raise _Error(400, "bad-request", "give peer=PEERID or credential=FINGERPRINT")
        if len(peerIDs) + len(credentials) > _MAX_REVOCATIONS:
            raise _Error(400, "bad-request", f"more than {_MAX_REVOCATIONS} revocations")
        for peerID in peerIDs:
            if not validIdentifier(peerID):
                raise _Error(400, "bad-request", f"a PeerID must be {identifierRule()}")
        fingerprints = []
        for credential in credentials:
            try:
                _, fingerprint = Revocations.parseEntry(credential)
            except ValueError:
                fingerprint = None
            if fingerprint is None:
                raise _Error(
                    400, "bad-request", "a credential is sha256:FINGERPRINT or a ppsp1. credential"
                )
            fingerprints.append(fingerprint)
        ended = await self.tracker.revoke(peerIDs, fingerprints)
        self.log.info(
            "admin revoked {peerIDs} PeerID(s) and {credentials} credential(s); "
            "{ended} session(s) ended",
            peerIDs=len(peerIDs),
            credentials=len(fingerprints),
            ended=ended,
        )
        view = _revocationsView(self.tracker.revocations)
        view["ended"] = ended
        return self._reply(request, 200, view)

    async def _statQuery(self, request: Request, peerID: str) -> bytes:
        querier = self.querier
        if querier is None:
            raise _Error(501, "not-available", "this tracker sends no STAT_QUERY")
        properties = [_text(p, "property") for p in (request.args or {}).get(b"property", [])]
        if len(properties) > _MAX_PROPERTIES:
            raise _Error(400, "bad-request", f"more than {_MAX_PROPERTIES} properties")
        for name in properties:
            if not validIdentifier(name, PROPERTY_LENGTH):
                raise _Error(
                    400, "bad-request", f"a property name must be {identifierRule(PROPERTY_LENGTH)}"
                )
        try:
            result = await querier.query(peerID, properties)
        except StatQueryFailed as e:
            raise _Error(_STATUS.get(type(e), 502), e.kind, e.reason) from None
        except ValueError:
            raise _Error(400, "bad-request", "a property name cannot be sent") from None
        except CancelledError:
            raise _Error(503, "stopping", "the tracker is stopping") from None
        return self._reply(request, 200, _resultView(result))

    # Answers ----------------------------------------------------------------

    def _reply(self, request: Request, status: int, value: Any) -> bytes:
        body = (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        return self._send(request, status, _JSON, body)

    def _send(self, request: Request, status: int, contentType: bytes, body: bytes) -> bytes:
        """
        Answer with C{body}, never cached; a HEAD gets the headers and the
        length only.
        """
        request.setResponseCode(status, _PHRASES.get(status))
        request.setHeader(b"content-type", contentType)
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"content-length", b"%d" % (len(body),))
        if request.method == b"HEAD":
            return b""
        return body

    def _error(self, request: Request, status: int, kind: str, reason: str) -> bytes:
        return self._reply(request, status, {"error": kind, "reason": reason})


def adminHostName(text: str) -> str:
    """
    Check and normalise a name by which the admin interface may be reached
    (C{twistd ppsp-tracker --admin-host}): a host name (in ASCII, as a
    C{Host} header carries it) or an IP address, without a port.

    @param text: the name, in any case, with or without a trailing dot;
        an IPv6 address with or without brackets.
    @return: the name in lower case without the trailing dot, or the IP
        address in canonical form (an IPv4-mapped IPv6 address as IPv4).
    @raise ValueError: C{text} is neither.
    """
    name = _normalName(text.strip())
    if name is None:
        raise ValueError(f"{text!r} is not a host name or an IP address (give no port)")
    return name


def _normalName(text: str) -> Optional[str]:
    """
    A host as L{AdminResource} compares it: an IP address in canonical
    form (C{text} may hold an IPv6 address in brackets), else a host name
    in lower case without a trailing dot; L{None} for anything else.
    """
    if text.startswith("[") and text.endswith("]"):
        address = canonicalAddress(text[1:-1])
        return None if address is None or ":" not in text else str(address)
    if ":" in text:
        address = canonicalAddress(text)
        return None if address is None else str(address)
    name = text.lower()
    if name.endswith("."):
        name = name[:-1]
    if _HOST_NAME.fullmatch(name) is None:
        return None
    address = canonicalAddress(name)
    return name if address is None else str(address)


def _splitHost(value: bytes) -> Optional[Tuple[str, Optional[int]]]:
    """
    Read a C{Host} header, or the host part of an C{Origin}: a host name,
    an IPv4 address or an IPv6 address in brackets, then perhaps C{:PORT}.

    @return: the normalised host (L{_normalName}) and the port (L{None}
        when none is given), or L{None} when C{value} is not a host.
    """
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        return None
    if text.startswith("["):
        end = text.find("]") + 1
        if end == 0:
            return None
        host, rest = text[:end], text[end:]
    else:
        host, colon, digits = text.partition(":")
        rest = colon + digits
    port: Optional[int] = None
    if rest:
        digits = rest[1:]
        if rest[0] != ":" or len(digits) > 5 or not (digits.isdigit() and digits.isascii()):
            return None
        port = int(digits)
        if port > 65535:
            return None
    name = _normalName(host)
    return None if name is None else (name, port)


def _show(value: bytes) -> str:
    """
    Header text safe to show in a reason or a log line: at most 100
    characters, anything but printable ASCII escaped.
    """
    text = value[:100].decode("ascii", "backslashreplace")
    return repr(text)[1:-1] + ("..." if len(value) > 100 else "")


def _segments(request: Request) -> List[bytes]:
    """
    The path below this resource, one percent-decoded segment each (an
    encoded C{%2F} stays inside its segment).  A trailing slash is
    ignored.
    """
    segments = list(request.postpath or [])
    if segments and segments[-1] == b"":
        segments.pop()
    return segments


def _revocationsView(revocations: Revocations) -> Dict[str, Any]:
    return {
        "peers": sorted(revocations.peerIDs),
        "credentials": sorted(revocations.fingerprints),
    }


def _text(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise _Error(400, "bad-request", f"the {what} is not UTF-8") from None


def _identifier(segment: bytes, what: str) -> str:
    value = _text(segment, what)
    if not validIdentifier(value):
        raise _Error(404, "not-found", f"not a valid {what}")
    return value


def _limit(request: Request) -> int:
    values = (request.args or {}).get(b"limit")
    if not values:
        return DEFAULT_MEMBER_LIMIT
    try:
        limit = int(values[-1])
    except ValueError:
        raise _Error(400, "bad-request", "limit must be a whole number") from None
    if not 0 <= limit <= MAX_MEMBER_LIMIT:
        raise _Error(400, "bad-request", f"limit must be 0 to {MAX_MEMBER_LIMIT}")
    return limit


_T = TypeVar("_T")


def _page(request: Request) -> Tuple[int, int]:
    """
    The C{offset} (default 0) and C{limit} (default L{DEFAULT_PAGE_LIMIT},
    1 to L{MAX_PAGE_LIMIT}) of a paged list.
    """
    args = request.args or {}
    values = []
    for name, default, low, high in (
        (b"offset", 0, 0, 2**31),
        (b"limit", DEFAULT_PAGE_LIMIT, 1, MAX_PAGE_LIMIT),
    ):
        given = args.get(name)
        if not given:
            values.append(default)
            continue
        text = given[-1]
        if not (text.isdigit() and len(text) <= 10):
            raise _Error(400, "bad-request", f"{name.decode()} must be a whole number")
        value = int(text)
        if not low <= value <= high:
            raise _Error(400, "bad-request", f"{name.decode()} must be {low} to {high}")
        values.append(value)
    return values[0], values[1]


def _pageView(
    items: Sequence[_T], total: int, offset: int, limit: int, view: Callable[[_T], Dict[str, Any]]
) -> Dict[str, Any]:
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "items": [view(item) for item in items],
    }


def _swarmSummary(swarm: SwarmState) -> Dict[str, Any]:
    size = swarm.size
    seeds = swarm.modes.get(PeerMode.SEED, 0)
    liveSeeds = swarm.modes.get(PeerMode.LIVESEED, 0)
    return {
        "swarmID": swarm.swarmID,
        "size": size,
        "seeds": seeds,
        "liveSeeds": liveSeeds,
        "leeches": size - seeds - liveSeeds,
        "provisioned": swarm.provisioned,
    }


def _memberView(peer: PeerState, member: MemberState) -> Dict[str, Any]:
    return {
        "peerID": peer.peerID,
        "mode": member.mode.value,
        "observed": {"ip": peer.observedIP, "port": peer.observedPort},
        "chunkRanges": len(member.chunks),
        "expireAt": member.expireAt,
    }


def _banView(ban: Ban) -> Dict[str, Any]:
    return {"network": str(ban.network), "until": ban.until, "source": ban.source}


def _network(request: Request) -> IPNetwork:
    values = (request.args or {}).get(b"network")
    if not values:
        raise _Error(400, "bad-request", "give network=ADDRESS or network=CIDR")
    try:
        return parseNetwork(_text(values[-1], "network"))
    except ValueError as e:
        raise _Error(400, "bad-request", str(e)) from None


def _str(value: Any) -> str:
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"')


# Authentication (twisted.cred) ----------------------------------------------------


@implementer(IResource)
class _Leaf(Resource):
    """
    A leaf that answers every request with one method of the admin
    interface: its routes (what an authenticated admin reaches), or its
    JSON 401 (what credentials that no checker accepts get).
    """

    isLeaf = True

    def __init__(self, answer: Callable[[Request], Any]) -> None:
        super().__init__()
        self._answer = answer

    def render(self, request: Request) -> Any:
        return self._answer(request)


@implementer(IRealm)
class _AdminRealm:
    """
    The one avatar of the admin interface, whoever logs in.
    """

    def __init__(self, resource: IResource) -> None:
        self.resource = resource

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        if IResource in interfaces:
            return IResource, self.resource, lambda: None
        raise NotImplementedError()


class _JSONRefusalPortal:
    """
    A portal that answers refused credentials with a JSON 401, so that
    L{HTTPAuthSessionWrapper} answers them in JSON like everything else.
    """

    def __init__(self, portal: Portal, admin: AdminResource) -> None:
        self.portal = portal
        self.refused = _Leaf(admin.unauthorized)

    def login(self, credentials: Any, mind: Any, *interfaces: Any) -> Any:
        def failed(failure: Failure) -> Any:
            if failure.check(UnauthorizedLogin, UnhandledCredentials):
                return IResource, self.refused, lambda: None
            return failure

        return self.portal.login(credentials, mind, *interfaces).addErrback(failed)


def exposure(description: str) -> Optional[str]:
    """
    Why an admin interface on C{description} without credentials
    checkers would be open to others, or L{None} when only this host (or
    the holder of a client certificate) can reach it: a C{unix:} socket,
    a C{tcp}, C{tcp6}, C{ssl} or C{mtls} listener bound with
    C{interface=} to a loopback address, an C{mtls:} listener that
    requires client certificates (they authenticate the admin), and a
    C{haproxy:} listener whose inner endpoint is one of these.
    """
    kind, positional, keywords = splitDescription(description)
    kind = kind.strip().lower()
    if kind == "haproxy":
        return exposure(description.partition(":")[2])
    if kind == "unix":
        return None
    if kind == "mtls" and keywords.get("optional", "no").strip().lower() in ("", "no", "false", "off", "0"):
        return None
    if kind not in ("tcp", "tcp6", "ssl", "mtls"):
        return f"the address of a {kind}: endpoint cannot be checked to be a loopback one"
    interface = keywords.get("interface")
    if interface is None and kind in ("tcp", "tcp6") and len(positional) > 1:
        interface = positional[1]
    address = canonicalAddress(interface or "")
    if address is None or not address.is_loopback:
        where = f"interface {interface}" if interface else "every interface"
        return f"it listens on {where}, not only on a loopback address"
    return None
