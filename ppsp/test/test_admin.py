"""
Tests for L{ppsp.tracker.admin}: the operators' JSON interface, through
real twisted.web requests (L{StubTreq}), with STAT_QUERYs going to a fake
peer stat resource.
"""

from __future__ import annotations

import json
import random
from typing import Any, Dict, List, Tuple

from treq.client import HTTPClient
from treq.testing import StubTreq
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol, serverFromString
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import LogLevel, capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.server import NOT_DONE_YET, Site

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
from ppsp.test.copyingstore import CopyingPeerStore
from ppsp.test.test_security import RawClient
from ppsp.test.test_statquery import Harness, RefusingAgent
from ppsp.tracker.admin import AdminResource, adminHostName
from ppsp.tracker.core import Tracker, TrackerConfig

#: Where the tests reach the admin interface, as an operator's curl would
#: (StubTreq's connection has 127.0.0.1 and the URL's port as its local
#: address).
ADMIN = "http://127.0.0.1:7001"


class AdminHarness(Harness):
    """
    A tracker, a querier with its fake peer, and the admin resource behind
    a StubTreq of its own.
    """

    def __init__(
        self, testCase: SynchronousTestCase, withQuerier: bool = True, hosts: Tuple[str, ...] = (), **kw: Any
    ) -> None:
        super().__init__(testCase, **kw)
        self.resource = AdminResource(self.tracker, self.querier if withQuerier else None, hosts=hosts)
        self.admin: Any = StubTreq(self.resource)

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


class LaterStoreTests(SynchronousTestCase):
    """
    Over a store that answers on a later turn of the clock and shares no
    object with the tracker (L{CopyingPeerStore}, as a store in another
    process would), the admin interface answers once the store has, with
    the same views as over the memory store.
    """

    def setUp(self) -> None:
        self.h = populated(self)
        # A second tracker, on the same state, that reads it through the
        # copying store.
        store = CopyingPeerStore(self.h.store, self.h.clock, random.Random(1))
        self.tracker = Tracker(self.h.clock, TrackerConfig(), store=store, metrics=self.h.tracker.metrics)
        self.resource = AdminResource(self.tracker, self.h.querier)
        self.later: Any = StubTreq(self.resource)

    def raw(self, method: str, path: str) -> Tuple[int, bytes]:
        """
        One request to the admin interface over the copying store: not
        answered before the store answers, answered once it has.
        """
        d = self.later.request(method, ADMIN + path)
        self.later.flush()
        self.assertNoResult(d)
        for _ in range(100):
            self.h.clock.advance(0)
            self.later.flush()
        response = self.successResultOf(d)
        return response.code, self.successResultOf(self.later.content(response))

    def answer(self, method: str, path: str) -> Tuple[int, Any]:
        """
        Like L{raw}, with the JSON body decoded.
        """
        code, body = self.raw(method, path)
        return code, json.loads(body)

    def test_sameViews(self) -> None:
        """
        The summary, the health check, a peer, a swarm, the swarm list and
        a swarm's members read the same as over the memory store.
        """
        for path in ("/", "/health", "/peers/a", "/swarms/s", "/swarms", "/swarms/s/peers"):
            self.assertEqual(self.answer("GET", path), self.h.get(path), path)

    def test_metrics(self) -> None:
        """
        The gauges of C{/metrics} are read from the store before the
        metrics are collected.
        """
        code, body = self.raw("GET", "/metrics")
        self.assertEqual(code, 200)
        for line in (b"ppsp_peers 3.0", b"ppsp_swarms 1.0", b'ppsp_peers_by_mode{mode="LEECH"} 2.0'):
            self.assertIn(b"\n" + line + b"\n", body)

    def test_writes(self) -> None:
        """
        Ending a session and removing a swarm answer once the store has
        applied them.
        """
        self.assertEqual(self.answer("DELETE", "/peers/b"), (200, {"peerID": "b", "ended": True}))
        self.assertIsNone(self.h.peer("b"))
        code, body = self.answer("DELETE", "/swarms/s")
        self.assertEqual((code, body["membersLeft"]), (200, 2))
        self.assertEqual(self.answer("GET", "/swarms/s")[0], 404)

    def test_clientGone(self) -> None:
        """
        An operator who hangs up before the store answers gets nothing
        written, and nothing fails.
        """
        site = Site(self.resource, reactor=MemoryReactorClock())
        client = IPv4Address("TCP", "127.0.0.1", 40000)
        protocol = site.buildProtocol(client)
        assert protocol is not None
        transport = StringTransport(hostAddress=IPv4Address("TCP", "127.0.0.1", 7001), peerAddress=client)
        protocol.makeConnection(transport)
        protocol.dataReceived(b"GET /peers/a HTTP/1.1\r\nHost: 127.0.0.1:7001\r\n\r\n")
        self.assertEqual(transport.value(), b"")
        protocol.connectionLost(Failure(ConnectionDone()))
        with capturedLogs() as events:
            for _ in range(10):
                self.h.clock.advance(0)
        self.assertEqual(transport.value(), b"")
        self.assertEqual([e for e in events if e.get("log_failure") is not None], [])


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
        h.tracker.countEvent("expired")
        code, body = h.get("/")
        self.assertEqual(code, 200)
        self.assertEqual((body["peers"], body["swarms"]), (3, 1))
        self.assertEqual(body["counters"], {"expired": 1})
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

        self.patch(h.store, "counts", broken)
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
        self.assertEqual(h.statPeer.seen[0][4].properties, ("UploadBandwidth", "ConcurrentLinks"))
        self.assertEqual(h.statPeer.seen[0][0], b"198.51.100.7:9000")
        self.assertEqual(h.registered("a").stats, {"UploadBandwidth": 1500, "ConcurrentLinks": 4})
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
        self.assertEqual(h.statPeer.seen, [])

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
        self.assertEqual(h.registered("a").stats, {"UploadBandwidth": 800})

    def test_badProperty(self) -> None:
        """
        A property name that is empty, holds a control character or one
        that XML cannot carry (U+FFFE), is a 400, and nothing is sent.
        """
        h = populated(self)
        for name in ("", "a%0Ab", "%EF%BF%BE"):
            code, body = self.post(h, "/peers/a/stat-query?property=" + name)
            self.assertEqual((name, code, body["error"]), (name, 400, "bad-request"))
        self.assertEqual(h.statPeer.seen, [])

    def test_propertyLength(self) -> None:
        """
        A property name is at most as long as a Stat can carry (64
        characters): 64 are sent to the peer, 65 are a 400 that says the
        rule, and nothing is sent.
        """
        h = populated(self)
        code, body = self.post(h, "/peers/a/stat-query?property=" + "p" * 65)
        self.assertEqual(
            (code, body["error"], body["reason"]),
            (400, "bad-request", "a property name must be 1 to 64 printable characters"),
        )
        self.assertEqual(h.statPeer.seen, [])
        self.post(h, "/peers/a/stat-query?property=" + "p" * 64)
        self.assertEqual(len(h.statPeer.seen), 1)

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
        (request,) = h.statPeer.pending
        request.write(
            XML_CODEC.encodeResponse(
                StatQueryResponse(h.statPeer.seen[0][4].transactionID, "a", (Stat("ConcurrentLinks", "9"),))
            )
        )
        request.finish()
        h.stub.flush()
        h.admin.flush()
        self.assertEqual(h.registered("a").stats, {"UploadBandwidth": 800, "ConcurrentLinks": 9})


def rawRequest(
    resource: AdminResource, data: bytes, local: Any = IPv4Address("TCP", "127.0.0.1", 7001)
) -> Tuple[bytes, Dict[bytes, List[bytes]], Any]:
    """
    Send the bytes of one HTTP request to C{resource}, served by a L{Site}
    on a connection whose local address (the address the client reached)
    is C{local}; for what StubTreq cannot send (HTTP/1.0, no or two C{Host}
    headers, IPv6 and UNIX addresses).

    @return: the status line, the headers (names in lower case) and the
        decoded JSON body.
    """
    site = Site(resource, reactor=MemoryReactorClock())
    protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    assert protocol is not None
    transport = StringTransport(hostAddress=local, peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
    protocol.makeConnection(transport)
    protocol.dataReceived(data)
    head, _, body = transport.value().partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers: Dict[bytes, List[bytes]] = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, json.loads(body) if body else None


class HostCheckTests(SynchronousTestCase):
    """
    The admin interface answers only requests whose C{Host} names it, so
    that a web page cannot reach it through DNS rebinding (a name of the
    attacker's that resolves to 127.0.0.1).
    """

    def hostRequest(self, h: AdminHarness, host: str, method: str = "GET", path: str = "/", url: str = ADMIN) -> Tuple[int, Any]:
        d = h.admin.request(method, url + path, headers={b"Host": [host.encode("ascii")]})
        h.admin.flush()
        response = self.successResultOf(d)
        body = self.successResultOf(h.admin.content(response))
        h.checkHeaders(response.headers)
        return response.code, json.loads(body)

    def test_dnsRebinding(self) -> None:
        """
        A request (read or write) whose C{Host} is another name, such as
        the attacker's domain that a rebinding DNS answer pointed at
        127.0.0.1, gets 421 with a JSON error; no STAT_QUERY is sent and
        nothing is shown.
        """
        h = populated(self)
        for host in ["attacker.example:7001", "attacker.example", "127.0.0.1.attacker.example:7001"]:
            code, body = self.hostRequest(h, host)
            self.assertEqual((code, body["error"]), (421, "misdirected-request"), host)
            self.assertNotIn("peers", body)
            code, body = self.hostRequest(h, host, "POST", "/peers/a/stat-query")
            self.assertEqual((code, body["error"]), (421, "misdirected-request"), host)
        self.assertEqual(h.statPeer.seen, [])
        self.assertEqual(h.registered("a").stats, {"UploadBandwidth": 800})

    def test_curlStyle(self) -> None:
        """
        The C{Host} a client such as curl sends when given the listening
        address is accepted: the IP literal with the port, C{localhost}
        (any case, with a trailing dot) with the port, and without a port
        when the port is the default one.
        """
        h = populated(self)
        for host in ["127.0.0.1:7001", "localhost:7001", "LocalHost.:7001"]:
            code, body = self.hostRequest(h, host)
            self.assertEqual((code, body["peers"]), (200, 3), host)
        for host in ["127.0.0.1", "localhost"]:
            code, body = self.hostRequest(h, host, url="http://127.0.0.1")
            self.assertEqual((code, body["peers"]), (200, 3), host)
            code, body = self.hostRequest(h, host + ":443", url="https://127.0.0.1")
            self.assertEqual((code, body["peers"]), (200, 3), host)

    def test_otherAddressOrPort(self) -> None:
        """
        An address other than the one the request reached, or another port
        (a C{Host} without a port means 80 for http), is misdirected.
        """
        h = populated(self)
        for host in ["127.0.0.1:8080", "127.0.0.1", "localhost", "localhost:80", "10.0.0.1:7001", "127.0.0.2:7001",
                     "[::1]:7001", "0.0.0.0:7001"]:
            code, body = self.hostRequest(h, host)
            self.assertEqual((code, body["error"]), (421, "misdirected-request"), host)

    def test_operatorNames(self) -> None:
        """
        Names given as C{hosts} (such as a reverse proxy's) are accepted
        in any case, with or without a trailing dot, with any port;
        subdomains of them are not.
        """
        h = populated(self, hosts=("Admin.Example.", "[2001:DB8::1]"))
        self.assertEqual(h.resource.hosts, frozenset({"admin.example", "2001:db8::1"}))
        for host in ["admin.example", "ADMIN.example.:8443", "[2001:db8:0::1]:9", "127.0.0.1:7001"]:
            self.assertEqual(self.hostRequest(h, host)[0], 200, host)
        for host in ["evil.admin.example", "admin.example.evil", "127.0.0.1:1"]:
            self.assertEqual(self.hostRequest(h, host)[0], 421, host)

    def test_refusalLogged(self) -> None:
        """
        A refused request is logged as a warning with the host it named,
        at most once a minute however many follow.
        """
        h = populated(self)
        with capturedLogs() as events:
            for _ in range(3):
                self.hostRequest(h, "attacker.example")
            h.clock.advance(60)
            self.hostRequest(h, "attacker.example")
        warnings = [e for e in events if e.get("log_level") == LogLevel.warn]
        self.assertEqual([(e["host"], e["status"], e["suppressed"]) for e in warnings],
                         [("attacker.example", 421, 0), ("attacker.example", 421, 2)])

    def test_notAHost(self) -> None:
        """
        A C{Host} that is not a host (a port out of range, an unclosed
        bracket, an IPv4 address in brackets, a space, non-ASCII text) is
        a 400.
        """
        h = populated(self)
        for host in ["127.0.0.1:99999", "127.0.0.1:x", "[::1", "[127.0.0.1]:7001", "a b", "a:1:2", ":7001", "a/b"]:
            code, body = self.hostRequest(h, host)
            self.assertEqual((code, body["error"]), (400, "bad-request"), host)
        status, _, body = rawRequest(h.resource, b"GET / HTTP/1.1\r\nHost: caf\xc3\xa9.example\r\n\r\n")
        self.assertEqual((status[9:12], body["error"]), (b"400", "bad-request"))

    def test_missingOrRepeatedHost(self) -> None:
        """
        An HTTP/1.1 request without C{Host} or with two is a 400 (RFC 9112
        section 3.2); an HTTP/1.0 request without one, which no browser
        sends, is answered.
        """
        h = populated(self)
        status, headers, body = rawRequest(h.resource, b"GET / HTTP/1.1\r\n\r\n")
        self.assertEqual((status[9:12], body["error"]), (b"400", "bad-request"))
        self.assertEqual(headers[b"content-type"], [b"application/json"])
        status, _, body = rawRequest(h.resource, b"GET / HTTP/1.1\r\nHost: 127.0.0.1:7001\r\nHost: 127.0.0.1:7001\r\n\r\n")
        self.assertEqual((status[9:12], body["error"]), (b"400", "bad-request"))
        status, _, body = rawRequest(h.resource, b"GET / HTTP/1.0\r\n\r\n")
        self.assertEqual((status[9:12], body["peers"]), (b"200", 3))

    def test_statusLine(self) -> None:
        """
        The 421 answer's status line gives its reason phrase.
        """
        h = populated(self)
        status, _, body = rawRequest(h.resource, b"GET / HTTP/1.1\r\nHost: attacker.example\r\n\r\n")
        self.assertEqual(status, b"HTTP/1.1 421 Misdirected Request")

    def test_nonLoopbackAddress(self) -> None:
        """
        Reached on an address that is not a loopback one, the interface
        answers for that address but not for C{localhost}.
        """
        h = populated(self)
        local = IPv4Address("TCP", "192.0.2.10", 7001)
        status, _, _ = rawRequest(h.resource, b"GET / HTTP/1.1\r\nHost: 192.0.2.10:7001\r\n\r\n", local)
        self.assertEqual(status[9:12], b"200")
        status, _, _ = rawRequest(h.resource, b"GET / HTTP/1.1\r\nHost: localhost:7001\r\n\r\n", local)
        self.assertEqual(status[9:12], b"421")

    def test_ipv6(self) -> None:
        """
        Reached on an IPv6 address, the interface answers for that address
        in brackets in any spelling, and for C{localhost} on C{::1}; an
        IPv4-mapped local address is matched as IPv4.
        """
        h = populated(self)
        loopback = IPv6Address("TCP", "::1", 7001)
        for host, expected in [(b"[::1]:7001", b"200"), (b"[0:0::1]:7001", b"200"), (b"localhost:7001", b"200"),
                               (b"[::1]:7002", b"421"), (b"[::2]:7001", b"421"), (b"127.0.0.1:7001", b"421")]:
            status, _, _ = rawRequest(h.resource, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n", loopback)
            self.assertEqual(status[9:12], expected, host)
        mapped = IPv6Address("TCP", "::ffff:127.0.0.1", 7001)
        for host in [b"127.0.0.1:7001", b"[::ffff:127.0.0.1]:7001", b"localhost:7001"]:
            status, _, _ = rawRequest(h.resource, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n", mapped)
            self.assertEqual(status[9:12], b"200", host)

    def test_unixSocket(self) -> None:
        """
        Over a UNIX socket (which only this host can use) C{localhost}
        with any port or none is accepted, as are the operator's names;
        anything else is misdirected.
        """
        h = populated(self, hosts=("admin.example",))
        local = UNIXAddress(b"/run/ppsp-admin.sock")
        for host, expected in [(b"localhost", b"200"), (b"localhost:80", b"200"), (b"admin.example", b"200"),
                               (b"attacker.example", b"421"), (b"127.0.0.1", b"421")]:
            status, _, _ = rawRequest(h.resource, b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n", local)
            self.assertEqual(status[9:12], expected, host)

    def test_adminHostName(self) -> None:
        """
        L{adminHostName} normalises a host name or an IP address and
        refuses anything else (a port included); L{AdminResource} refuses
        such C{hosts} too.
        """
        for name, expected in [("Admin.Example.", "admin.example"), (" localhost ", "localhost"),
                               ("::1", "::1"), ("[::FFFF:10.0.0.1]", "10.0.0.1"), ("xn--caf-dma.example", "xn--caf-dma.example")]:
            self.assertEqual(adminHostName(name), expected)
        for bad in ["", ".", "admin.example:8080", "a b", "café.example", "[10.0.0.1]", "http://admin", "a..b"]:
            self.assertRaises(ValueError, adminHostName, bad)
        h = AdminHarness(self)
        self.assertRaises(ValueError, AdminResource, h.tracker, None, ["admin.example:80"])


class CrossOriginTests(SynchronousTestCase):
    """
    A write (POST) sent by a web page of another origin is refused; reads
    carry no CORS headers, so such a page cannot read the answers.
    """

    def post(self, h: AdminHarness, headers: Dict[bytes, List[bytes]], url: str = ADMIN) -> Tuple[int, Any]:
        d = h.admin.post(url + "/peers/a/stat-query", headers=headers)
        h.admin.flush()
        response = self.successResultOf(d)
        body = json.loads(self.successResultOf(h.admin.content(response)))
        h.checkHeaders(response.headers)
        return response.code, body

    def test_crossOriginPost(self) -> None:
        """
        A POST with an C{Origin} that is not the interface's own (another
        site, the same address on another port, C{null}, two origins), or
        with C{Sec-Fetch-Site: cross-site} or C{same-site}, gets 403 with a
        JSON error, and no STAT_QUERY is sent.
        """
        h = populated(self)
        refused: List[Dict[bytes, List[bytes]]] = [
            {b"Origin": [b"http://attacker.example"]},
            {b"Origin": [b"https://attacker.example:7001"]},
            {b"Origin": [b"http://127.0.0.1:8080"]},
            {b"Origin": [b"http://127.0.0.1"]},
            {b"Origin": [b"null"]},
            {b"Origin": [b"http://127.0.0.1:7001", b"http://attacker.example"]},
            {b"Origin": [b"ftp://127.0.0.1:7001"]},
            {b"Sec-Fetch-Site": [b"cross-site"]},
            {b"Sec-Fetch-Site": [b"same-site"]},
            {b"Origin": [b"http://127.0.0.1:7001"], b"Sec-Fetch-Site": [b"cross-site"]},
        ]
        for headers in refused:
            code, body = self.post(h, headers)
            self.assertEqual((code, body["error"]), (403, "cross-origin"), headers)
        self.assertEqual(h.statPeer.seen, [])

    def test_ownOriginPost(self) -> None:
        """
        A POST without C{Origin} (curl), or from the interface's own origin
        (by its address or C{localhost}), or marked C{same-origin} or
        C{none}, is served.
        """
        h = populated(self, hosts=("admin.example",), stats=(Stat("ConcurrentLinks", "4"),))
        served: List[Dict[bytes, List[bytes]]] = [
            {},
            {b"Origin": [b"http://127.0.0.1:7001"]},
            {b"Origin": [b"http://localhost:7001"], b"Sec-Fetch-Site": [b"same-origin"]},
            {b"Origin": [b"https://admin.example"]},
            {b"Sec-Fetch-Site": [b"none"]},
        ]
        for headers in served:
            code, body = self.post(h, headers)
            self.assertEqual((code, body["stats"]), (200, [{"property": "ConcurrentLinks", "value": "4", "swarm": None}]))
        self.assertEqual(len(h.statPeer.seen), len(served))

    def test_anyWriteMethod(self) -> None:
        """
        The check covers every method but GET and HEAD: a cross-origin
        PUT, DELETE or OPTIONS gets 403 before the routing would answer
        405.
        """
        h = populated(self)
        for method in ["PUT", "DELETE", "OPTIONS", "PATCH"]:
            code, headers, body = h.request(method, "/", headers={b"Origin": [b"http://attacker.example"]})
            self.assertEqual((code, body["error"]), (403, "cross-origin"), method)
            code, headers, body = h.request(method, "/")
            self.assertEqual((code, body["error"]), (405, "method-not-allowed"), method)

    def test_readsWithoutCORS(self) -> None:
        """
        GET answers are served whatever the C{Origin} (a read changes
        nothing), but carry no CORS header, so the browser keeps them from
        a page of another origin.
        """
        h = populated(self)
        for path in ["/", "/peers/a", "/swarms/s", "/nowhere"]:
            code, headers, _ = h.request("GET", path, headers={b"Origin": [b"http://attacker.example"]})
            self.assertIn(code, (200, 404))
            names = [name.lower() for name, _ in headers.getAllRawHeaders()]
            self.assertEqual([n for n in names if n.startswith(b"access-control-")], [], path)


class RealSocketHostTests(TestCase):
    """
    On a real socket, the address the interface checks C{Host} against is
    the one it really listens on, port 0 resolved.
    """

    @inlineCallbacks
    def test_portZero(self) -> Any:
        """
        Listening on C{tcp:0:interface=127.0.0.1}, the interface answers a
        request naming C{127.0.0.1} or C{localhost} with the port it got,
        and refuses one naming another host or another port with 421.
        """
        from twisted.internet import reactor

        tracker = Tracker(reactor, TrackerConfig())
        port = yield serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(Site(AdminResource(tracker)))
        self.addCleanup(port.stopListening)
        number = port.getHost().port
        for host, expected in [
            (b"127.0.0.1:%d" % (number,), b"200"),
            (b"localhost:%d" % (number,), b"200"),
            (b"attacker.example:%d" % (number,), b"421"),
            (b"127.0.0.1:%d" % (number + 1 if number < 65535 else 1,), b"421"),
        ]:
            client = RawClient(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
            yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", number), client)
            answer = yield client.done
            self.assertEqual(answer[9:12], expected, host)


class RevocationTests(SynchronousTestCase):
    """
    C{POST /revocations} revokes PeerIDs and credentials at once;
    C{GET /revocations} lists what is revoked.
    """

    def test_revokePeer(self) -> None:
        """
        Revoking a connected PeerID ends its session now (it is gone from
        its swarm) and the answer says so.
        """
        h = populated(self)
        code, _, body = h.request("POST", "/revocations?peer=a&peer=zzz")
        self.assertEqual(code, 200, body)
        self.assertEqual(body, {"peers": ["a", "zzz"], "credentials": [], "ended": 1})
        self.assertIsNone(h.peer("a"))
        self.assertEqual(h.get("/revocations"), (200, {"peers": ["a", "zzz"], "credentials": []}))

    def test_revokeCredential(self) -> None:
        """
        A credential is named by its C{sha256:} fingerprint (colons and
        upper case allowed) or as a C{ppsp1.} credential.
        """
        from ppsp.tracker.credentials import credentialFingerprint, issueToken

        h = AdminHarness(self)
        digest = credentialFingerprint(b"c")
        token = issueToken(b"0123456789abcdef", "p", 10)
        upper = digest.upper().replace("SHA256:", "sha256:")
        code, _, body = h.request("POST", f"/revocations?credential={upper}&credential={token}")
        self.assertEqual(code, 200, body)
        self.assertEqual(
            sorted(body["credentials"]), sorted([digest, credentialFingerprint(token.encode())])
        )

    def test_badRequests(self) -> None:
        """
        Nothing to revoke, a bad PeerID or a bad credential is a 400 with
        a JSON error, and revokes nothing; GET does not revoke.
        """
        h = populated(self)
        for query in ("", "?peer=", "?credential=sha256:12", "?credential=peer:a"):
            code, _, body = h.request("POST", "/revocations" + query)
            self.assertEqual((code, body["error"]), (400, "bad-request"), query)
        h.get("/revocations?peer=a")
        self.assertEqual(h.tracker.revocations.peerIDs, frozenset())
        self.assertIsNotNone(h.peer("a"))
