"""
Tests for L{ppsp.tracker.admin}: the operators' JSON interface, through
real twisted.web requests (L{StubTreq}), with STAT_QUERYs going to a fake
peer stat resource.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Tuple, cast

from treq.client import HTTPClient
from treq.testing import StubTreq
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import NOT_DONE_YET

from ppsp.codec import XML_CODEC
from ppsp.messages import (
    ChunkRange,
    JoinChunkRequest,
    JoinRequest,
    PeerAddress,
    PeerMode,
    Stat,
    StatQueryResponse,
    StatReportRequest,
)
from ppsp.test.test_statquery import Harness, RefusingAgent
from ppsp.tracker.admin import AdminResource

ADMIN = "http://admin.example"


class AdminHarness(Harness):
    """
    A tracker, a querier with its fake peer, and the admin resource behind
    a StubTreq of its own.
    """

    def __init__(self, testCase: SynchronousTestCase, withQuerier: bool = True, **kw: Any) -> None:
        super().__init__(testCase, **kw)
        self.admin: Any = StubTreq(AdminResource(self.tracker, self.querier if withQuerier else None))

    def request(self, method: str, path: str, **kw: Any) -> Tuple[int, Any, Any]:
        """
        One request to the admin interface: the status, the headers, and
        the decoded JSON body (L{None} for an empty body).
        """
        d = self.admin.request(method, ADMIN + path, **kw)
        self.admin.flush()
        response = self.testCase.successResultOf(d)
        body = self.testCase.successResultOf(self.admin.content(response))
        return response.code, response.headers, json.loads(body) if body else None

    def get(self, path: str) -> Tuple[int, Any]:
        code, headers, body = self.request("GET", path)
        self.checkHeaders(headers)
        return code, body

    def checkHeaders(self, headers: Any) -> None:
        self.testCase.assertEqual(headers.getRawHeaders(b"content-type"), [b"application/json"])
        self.testCase.assertEqual(headers.getRawHeaders(b"cache-control"), [b"no-store"])


def populated(testCase: SynchronousTestCase, **kw: Any) -> AdminHarness:
    """
    Peer C{a} (StatPort 9000, claiming another address) seeds swarm C{s}
    with two chunk ranges and reports statistics; C{b} and C{c} leech it.
    """
    h = AdminHarness(testCase, **kw)
    h.peerWithStatPort("a", addresses=(PeerAddress("203.0.113.9", 7000, priority=1),))
    h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
    h.ok(JoinChunkRequest, "a", swarmID="s", chunks=(ChunkRange(0, 9), ChunkRange(20, 29)))
    h.ok(StatReportRequest, "a", stats=(Stat("UploadBandwidth", "800"), Stat("BufferLevel", "5", swarm="s")))
    for peerID in ("b", "c"):
        h.connect(peerID, ip="198.51.100.20")
        h.ok(JoinRequest, peerID, swarmID="s", mode=PeerMode.LEECH)
    return h


class ViewTests(SynchronousTestCase):
    """
    GET views of the tracker, one peer and one swarm.
    """

    def test_summary(self) -> None:
        """
        C{GET /} answers the numbers of peers and swarms, the counters,
        and the STAT_QUERY state, as JSON that must not be cached.
        """
        h = populated(self)
        code, body = h.get("/")
        self.assertEqual(code, 200)
        self.assertEqual((body["peers"], body["swarms"]), (3, 1))
        self.assertEqual(body["counters"]["JOIN"], 3)
        self.assertEqual(
            body["statQuery"],
            {"timeout": 5.0, "inFlight": 0, "unreachable": 0, "unreachablePeers": []},
        )

    def test_peer(self) -> None:
        """
        C{GET /peers/<PeerID>} answers the peer's observed and announced
        addresses, StatPort, times, swarms with mode, chunk summary and
        statistics, its own statistics, and its STAT_QUERY state.
        """
        h = populated(self)
        code, body = h.get("/peers/a")
        self.assertEqual(code, 200)
        self.assertEqual(
            body,
            {
                "peerID": "a",
                "observed": {"ip": "198.51.100.7", "port": 40001},
                "announced": [{"ip": "203.0.113.9", "port": 7000, "type": "HOST", "priority": 1}],
                "statPort": 9000,
                "connectedAt": 1000.0,
                "onlineSeconds": 0,
                "lastHeard": 1000.0,
                "deadline": 1180.0,
                "expiresIn": 180.0,
                "swarms": [
                    {
                        "swarmID": "s",
                        "mode": "SEED",
                        "expireAt": None,
                        "chunks": {"ranges": 2, "chunks": 20, "first": [[0, 9], [20, 29]]},
                        "stats": {"BufferLevel": 5},
                    }
                ],
                "stats": {"UploadBandwidth": 800},
                "statQuery": {"last": None, "unreachable": None, "inFlight": False},
            },
        )

    def test_peerTimes(self) -> None:
        """
        The peer view's times follow the clock: online time grows, and
        the last time the peer was heard from is its latest request.
        """
        h = populated(self)
        h.clock.advance(30)
        h.ok(StatReportRequest, "a", stats=(Stat("ConcurrentLinks", "2"),))
        h.clock.advance(10)
        _, body = h.get("/peers/a")
        self.assertEqual(
            (body["onlineSeconds"], body["lastHeard"], body["expiresIn"]), (40, 1030.0, 170.0)
        )

    def test_unknownPeer(self) -> None:
        """
        An unknown PeerID is a 404 with a JSON error.
        """
        h = populated(self)
        self.assertEqual(
            h.get("/peers/nobody"), (404, {"error": "unknown-peer", "reason": "no connected peer 'nobody'"})
        )

    def test_swarm(self) -> None:
        """
        C{GET /swarms/<SwarmID>} answers the swarm's size, whether it is
        provisioned, its count per mode and its members.
        """
        h = populated(self)
        code, body = h.get("/swarms/s")
        self.assertEqual(code, 200)
        members = sorted(body.pop("members"), key=lambda m: m["peerID"])
        self.assertEqual(
            body,
            {
                "swarmID": "s",
                "provisioned": False,
                "size": 3,
                "emptySince": None,
                "modes": {"LEECH": 2, "SEED": 1, "LIVESEED": 0},
                "limit": 100,
                "truncated": False,
            },
        )
        self.assertEqual(
            members[0], {"peerID": "a", "mode": "SEED", "chunkRanges": 2, "expireAt": None}
        )
        self.assertEqual([m["peerID"] for m in members], ["a", "b", "c"])

    def test_swarmLimit(self) -> None:
        """
        C{?limit=N} caps the member list and says it was cut; a limit
        that is not a number in range is a 400.
        """
        h = populated(self)
        _, body = h.get("/swarms/s?limit=2")
        self.assertEqual((len(body["members"]), body["limit"], body["truncated"]), (2, 2, True))
        for bad in ("x", "-1", "100001"):
            code, body = h.get("/swarms/s?limit=" + bad)
            self.assertEqual((code, body["error"]), (400, "bad-request"))

    def test_unknownSwarm(self) -> None:
        """
        An unknown SwarmID is a 404 with a JSON error.
        """
        h = populated(self)
        self.assertEqual(h.get("/swarms/nope")[0], 404)

    def test_percentEncodedIDs(self) -> None:
        """
        IDs holding C{/}, spaces and non-ASCII characters are found
        percent-encoded (UTF-8) in the path; an unencoded C{/} separates
        segments, so it finds nothing.
        """
        h = AdminHarness(self)
        h.connect("live/peer 1é")
        h.ok(JoinRequest, "live/peer 1é", swarmID="ch/1 x", mode=PeerMode.SEED)
        code, body = h.get("/peers/live%2Fpeer%201%C3%A9")
        self.assertEqual((code, body["peerID"]), (200, "live/peer 1é"))
        code, body = h.get("/swarms/ch%2F1%20x")
        self.assertEqual((code, body["swarmID"]), (200, "ch/1 x"))
        self.assertEqual(h.get("/peers/live/peer%201%C3%A9")[0], 404)
        self.assertEqual(h.get("/peers/%FF")[0], 400)

    def test_unknownPaths(self) -> None:
        """
        Paths the interface does not have are 404s with a JSON body.
        """
        h = populated(self)
        for path in ("/nope", "/peers", "/peers/a/b", "/swarms/s/x", "/peers/a/stat-query/x"):
            code, body = h.get(path)
            self.assertEqual((path, code, body["error"]), (path, 404, "not-found"))

    def test_methods(self) -> None:
        """
        Views take GET (and HEAD, without a body); STAT_QUERY takes POST;
        anything else is a 405 naming what is allowed.
        """
        h = populated(self)
        code, headers, body = h.request("POST", "/")
        self.assertEqual((code, headers.getRawHeaders(b"allow"), body["error"]), (405, [b"GET, HEAD"], "method-not-allowed"))
        code, headers, body = h.request("GET", "/peers/a/stat-query")
        self.assertEqual((code, headers.getRawHeaders(b"allow")), (405, [b"POST"]))
        code, headers, body = h.request("HEAD", "/peers/a")
        self.assertEqual((code, body), (200, None))
        h.checkHeaders(headers)

    def test_noTraceback(self) -> None:
        """
        A failure inside the interface is a 500 with a JSON error that
        holds no traceback, and is logged.
        """
        h = populated(self)

        def broken() -> Any:
            raise RuntimeError("secret detail")

        h.tracker.store.peerCount = broken
        code, headers, body = h.request("GET", "/")
        self.assertEqual((code, body), (500, {"error": "internal-error", "reason": "the tracker failed"}))
        h.checkHeaders(headers)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class StatQueryTests(SynchronousTestCase):
    """
    C{POST /peers/<PeerID>/stat-query} sends a STAT_QUERY now.
    """

    def post(self, h: AdminHarness, path: str) -> Tuple[int, Dict[str, Any]]:
        code, headers, body = h.request("POST", path)
        h.checkHeaders(headers)
        return code, body

    def test_answered(self) -> None:
        """
        The peer's answer comes back as JSON and is stored; the properties
        asked for with C{?property=} are those the query names; the peer
        view then shows the outcome.
        """
        h = populated(self, stats=(Stat("UploadBandwidth", "1500"), Stat("ConcurrentLinks", "4")))
        code, body = self.post(h, "/peers/a/stat-query?property=UploadBandwidth&property=ConcurrentLinks")
        self.assertEqual(code, 200)
        self.assertEqual(
            body,
            {
                "peerID": "a",
                "address": "198.51.100.7:9000",
                "at": 1000.0,
                "stored": True,
                "stats": [
                    {"property": "UploadBandwidth", "value": "1500", "swarm": None},
                    {"property": "ConcurrentLinks", "value": "4", "swarm": None},
                ],
            },
        )
        self.assertEqual(h.peer.seen[0][4].properties, ("UploadBandwidth", "ConcurrentLinks"))
        self.assertEqual(h.peer.seen[0][0], b"198.51.100.7:9000")
        self.assertEqual(h.store.getPeer("a").stats, {"UploadBandwidth": 1500, "ConcurrentLinks": 4})
        _, view = h.get("/peers/a")
        self.assertEqual(
            view["statQuery"]["last"],
            {"at": 1000.0, "outcome": "answered", "reason": "", "address": "198.51.100.7:9000", "stats": 2},
        )

    def test_unknownPeer(self) -> None:
        """
        A STAT_QUERY for an unknown PeerID is a 404.
        """
        h = populated(self)
        self.assertEqual(self.post(h, "/peers/nobody/stat-query")[1]["error"], "unknown-peer")
        self.assertEqual(self.post(h, "/peers/nobody/stat-query")[0], 404)

    def test_noStatPort(self) -> None:
        """
        A peer without a StatPort is a 409, and nothing is sent.
        """
        h = populated(self)
        self.assertEqual(self.post(h, "/peers/b/stat-query"), (409, {"error": "no-stat-port", "reason": "the peer announced no StatPort"}))
        self.assertEqual(h.peer.seen, [])

    def test_timeout(self) -> None:
        """
        A peer that does not answer in time is a 504 once the timeout
        passes; the summary and the peer view then list it as unreachable.
        """
        h = populated(self, answer=lambda q: NOT_DONE_YET)
        d = h.admin.post(ADMIN + "/peers/a/stat-query")
        h.admin.flush()
        self.assertNoResult(d)
        h.clock.advance(5)
        h.admin.flush()
        response = self.successResultOf(d)
        body = json.loads(self.successResultOf(h.admin.content(response)))
        self.assertEqual((response.code, body["error"]), (504, "unreachable"))
        self.assertEqual(body["reason"], "no answer within 5 s")
        _, summary = h.get("/")
        self.assertEqual(summary["statQuery"]["unreachable"], 1)
        self.assertEqual(
            summary["statQuery"]["unreachablePeers"],
            [{"peerID": "a", "since": 1005.0, "failures": 1, "reason": "no answer within 5 s"}],
        )
        self.assertEqual(summary["counters"]["stat_query_timeout"], 1)
        _, view = h.get("/peers/a")
        self.assertEqual(view["statQuery"]["unreachable"]["failures"], 1)

    def test_refused(self) -> None:
        """
        A connection refused is a 504 too.
        """
        h = populated(self)
        h.querier.http = HTTPClient(RefusingAgent())
        code, body = self.post(h, "/peers/a/stat-query")
        self.assertEqual((code, body["error"]), (504, "unreachable"))

    def test_wrongPeerID(self) -> None:
        """
        An answer that names another PeerID is a 502, and nothing is
        stored.
        """
        h = populated(self, answer=lambda q: StatQueryResponse(q.transactionID, "z", (Stat("UploadBandwidth", "1"),)))
        code, body = self.post(h, "/peers/a/stat-query")
        self.assertEqual((code, body["error"]), (502, "refused"))
        self.assertEqual(h.store.getPeer("a").stats, {"UploadBandwidth": 800})

    def test_badProperty(self) -> None:
        """
        A property name that is empty, holds a control character or one
        that XML cannot carry (U+FFFE), is a 400, and nothing is sent.
        """
        h = populated(self)
        for name in ("", "a%0Ab", "%EF%BF%BE"):
            code, body = self.post(h, "/peers/a/stat-query?property=" + name)
            self.assertEqual((name, code, body["error"]), (name, 400, "bad-request"))
        self.assertEqual(h.peer.seen, [])

    def test_withoutQuerier(self) -> None:
        """
        An admin resource built without a querier answers 501 to
        STAT_QUERY, and its summary has no STAT_QUERY section.
        """
        h = AdminHarness(self, withQuerier=False)
        h.peerWithStatPort()
        self.assertEqual(self.post(h, "/peers/a/stat-query")[0], 501)
        self.assertNotIn("statQuery", h.get("/")[1])
        self.assertNotIn("statQuery", h.get("/peers/a")[1])

    def test_clientGone(self) -> None:
        """
        An operator who hangs up before the answer does not break
        anything: the answer is still stored.
        """
        h = populated(self, answer=lambda q: NOT_DONE_YET, stats=(Stat("ConcurrentLinks", "9"),))
        d = h.admin.post(ADMIN + "/peers/a/stat-query")
        h.admin.flush()
        d.cancel()
        self.failureResultOf(d)
        (request,) = h.peer.pending
        request.write(
            XML_CODEC.encodeResponse(
                StatQueryResponse(h.peer.seen[0][4].transactionID, "a", (Stat("ConcurrentLinks", "9"),))
            )
        )
        request.finish()
        h.stub.flush()
        h.admin.flush()
        self.assertEqual(cast(Optional[Dict[str, Any]], h.store.getPeer("a").stats), {"UploadBandwidth": 800, "ConcurrentLinks": 9})
