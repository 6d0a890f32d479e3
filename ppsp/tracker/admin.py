# -*- test-case-name: ppsp.test.test_admin -*-
"""
The tracker's admin interface: a small JSON resource for operators, served
on an endpoint of its own (C{twistd ppsp-tracker --admin
tcp:7001:interface=127.0.0.1}), never on the peers' port.

=========================================  ==========================================
C{GET /}                                   a summary: peers, swarms, counters,
                                           STAT_QUERY state
C{GET /peers/<PeerID>}                     one peer
C{GET /swarms/<SwarmID>[?limit=N]}         one swarm, with up to N members
C{POST /peers/<PeerID>/stat-query}         send the peer a STAT_QUERY now and
C{[?property=NAME ...]}                    answer with what it said
=========================================  ==========================================

IDs are percent-encoded in the path (C{/peers/a%2Fb} is the PeerID
C{a/b}), in UTF-8.  Every answer, errors included, is a JSON object with
C{Content-Type: application/json} and C{Cache-Control: no-store}; an error
is C{{"error": KIND, "reason": TEXT}}.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

from twisted.internet.defer import CancelledError
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from ppsp.codec._fields import validIdentifier
from ppsp.messages import PeerMode
from ppsp.tracker.core import Tracker
from ppsp.tracker.statquery import (
    BadStatAnswer,
    NoStatPort,
    PeerUnreachable,
    StatQuerier,
    StatQueryFailed,
    StatQueryResult,
    UnknownPeer,
)
from ppsp.tracker.store import Membership, PeerRecord, Swarm

__all__ = ["AdminResource", "peerView", "swarmView", "DEFAULT_MEMBER_LIMIT", "MAX_MEMBER_LIMIT"]

#: Members listed in a swarm view without C{?limit=}.
DEFAULT_MEMBER_LIMIT = 100

#: The most members one swarm view lists.
MAX_MEMBER_LIMIT = 10_000

#: Chunk ranges shown per membership in a peer view (the count is always
#: given).
_SHOWN_RANGES = 8

#: The most properties one stat-query request may name.
_MAX_PROPERTIES = 64

_JSON = b"application/json"

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


def _stats(stats: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    return dict(stats) if stats else {}


def _chunkSummary(member: Membership) -> Dict[str, Any]:
    chunks = member.chunks
    return {
        "ranges": len(chunks),
        "chunks": sum(r.end - r.start + 1 for r in chunks),
        "first": [[r.start, r.end] for r in chunks[:_SHOWN_RANGES]],
    }


def peerView(
    tracker: Tracker, peer: PeerRecord, querier: Optional[StatQuerier] = None
) -> Dict[str, Any]:
    """
    The JSON view of one registered peer.

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
        outcome = querier.lastOutcome(peer.peerID)
        unreachable = querier.unreachableSince(peer.peerID)
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


def swarmView(swarm: Swarm, limit: int = DEFAULT_MEMBER_LIMIT) -> Dict[str, Any]:
    """
    The JSON view of one swarm, listing up to C{limit} members.
    """
    size = len(swarm)
    members: List[Dict[str, Any]] = []
    for member in swarm:
        if len(members) >= limit:
            break
        members.append(
            {
                "peerID": member.peerID,
                "mode": member.mode.value,
                "chunkRanges": len(member.chunks),
                "expireAt": member.expireAt,
            }
        )
    return {
        "swarmID": swarm.swarmID,
        "provisioned": swarm.provisioned,
        "size": size,
        "emptySince": swarm.emptySince,
        "modes": {mode.value: swarm.modeCount(mode) for mode in PeerMode},
        "members": members,
        "limit": limit,
        "truncated": size > len(members),
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

    @param tracker: the tracker to show.
    @param querier: what sends STAT_QUERY; without one, C{POST
        .../stat-query} answers 501.
    """

    isLeaf = True
    log = Logger()

    def __init__(self, tracker: Tracker, querier: Optional[StatQuerier] = None) -> None:
        super().__init__()
        self.tracker = tracker
        self.querier = querier

    def render(self, request: Request) -> Any:
        """
        Answer one request with JSON; never raises, never a traceback.
        """
        try:
            return self._route(request)
        except _Error as e:
            return self._error(request, e.status, e.kind, e.reason)
        except Exception:
            self.log.failure("admin resource failed")
            return self._error(request, 500, "internal-error", "the tracker failed")

    # Routing --------------------------------------------------------------

    def _route(self, request: Request) -> Any:
        segments = _segments(request)
        if segments == []:
            self._allow(request, (b"GET", b"HEAD"))
            return self._reply(request, 200, self._summary())
        if len(segments) == 2 and segments[0] == b"peers":
            self._allow(request, (b"GET", b"HEAD"))
            peer = self._peer(_identifier(segments[1], "PeerID"))
            return self._reply(request, 200, peerView(self.tracker, peer, self.querier))
        if len(segments) == 3 and segments[0] == b"peers" and segments[2] == b"stat-query":
            self._allow(request, (b"POST",))
            return self._statQuery(request, _identifier(segments[1], "PeerID"))
        if len(segments) == 2 and segments[0] == b"swarms":
            self._allow(request, (b"GET", b"HEAD"))
            swarmID = _identifier(segments[1], "SwarmID")
            swarm: Optional[Swarm] = self.tracker.store.getSwarm(swarmID)
            if swarm is None:
                raise _Error(404, "unknown-swarm", f"no swarm {swarmID!r}")
            return self._reply(request, 200, swarmView(swarm, _limit(request)))
        raise _Error(404, "not-found", "no such admin resource")

    def _allow(self, request: Request, methods: Tuple[bytes, ...]) -> None:
        if request.method not in methods:
            request.setHeader(b"allow", b", ".join(methods))
            raise _Error(405, "method-not-allowed", "use " + " or ".join(m.decode() for m in methods))

    def _peer(self, peerID: str) -> PeerRecord:
        peer: Optional[PeerRecord] = self.tracker.store.getPeer(peerID)
        if peer is None or peer.deadline <= self.tracker.clock.seconds():
            raise _Error(404, "unknown-peer", f"no connected peer {peerID!r}")
        return peer

    # Views ----------------------------------------------------------------

    def _summary(self) -> Dict[str, Any]:
        tracker = self.tracker
        store = tracker.store
        summary: Dict[str, Any] = {
            "peers": store.peerCount(),
            "swarms": store.swarmCount(),
            "counters": dict(sorted(tracker.counters.items())),
        }
        querier = self.querier
        if querier is not None:
            unreachable = querier.unreachable()
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
        return summary

    # STAT_QUERY -------------------------------------------------------------

    def _statQuery(self, request: Request, peerID: str) -> Any:
        querier = self.querier
        if querier is None:
            raise _Error(501, "not-available", "this tracker sends no STAT_QUERY")
        properties = [_text(p, "property") for p in (request.args or {}).get(b"property", [])]
        if len(properties) > _MAX_PROPERTIES:
            raise _Error(400, "bad-request", f"more than {_MAX_PROPERTIES} properties")
        for name in properties:
            if not validIdentifier(name, 128):
                raise _Error(400, "bad-request", "a property name must be 1 to 128 printable characters")
        d = querier.query(peerID, properties)
        gone: List[Failure] = []
        request.notifyFinish().addErrback(gone.append)

        def answered(result: StatQueryResult) -> None:
            if not gone:
                request.write(self._reply(request, 200, _resultView(result)))
                request.finish()

        def failed(failure: Failure) -> None:
            if gone:
                return
            value = failure.value
            if isinstance(value, StatQueryFailed):
                status = _STATUS.get(type(value), 502)
                body = self._error(request, status, value.kind, value.reason)
            elif failure.check(ValueError):
                body = self._error(request, 400, "bad-request", "a property name cannot be sent")
            elif failure.check(CancelledError):
                body = self._error(request, 503, "stopping", "the tracker is stopping")
            else:
                self.log.failure("admin STAT_QUERY failed", failure)
                body = self._error(request, 500, "internal-error", "the tracker failed")
            request.write(body)
            request.finish()

        d.addCallbacks(answered, failed)
        return NOT_DONE_YET

    # Answers ----------------------------------------------------------------

    def _reply(self, request: Request, status: int, value: Any) -> bytes:
        request.setResponseCode(status)
        request.setHeader(b"content-type", _JSON)
        request.setHeader(b"cache-control", b"no-store")
        body = (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        if request.method == b"HEAD":
            request.setHeader(b"content-length", b"%d" % (len(body),))
            return b""
        return body

    def _error(self, request: Request, status: int, kind: str, reason: str) -> bytes:
        return self._reply(request, status, {"error": kind, "reason": reason})


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


def _text(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise _Error(400, "bad-request", f"the {what} is not UTF-8") from None


def _identifier(segment: bytes, what: str) -> str:
    value = _text(segment, what)
    if not validIdentifier(value, 128):
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
