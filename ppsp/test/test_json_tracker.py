"""
Tests for the JSON encoding of RFC 7846 served by the tracker: JSON peers
through the real L{TrackerResource} (over L{StubTreq}), mixed with XML
peers in one swarm, the C{Authorization} header rules, the per-swarm
results of CONNECT and the RFC 7846 state machine (PROTOCOL.md section 7).
"""

from __future__ import annotations

import json
import random
from typing import Any, Dict, List, Optional, Tuple

from lxml import etree
from treq.testing import StubTreq
from twisted.cred.checkers import ANONYMOUS
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ppsp.messages import FindRequest, PeerMode
from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker.resource import TrackerResource
from ppsp.test.helpers import StoreReads
from ppsp.tracker.store import MemoryPeerStore

JSON = b"application/ppsp-tracker+json"
XML = b"application/ppsp-tracker+xml"
URL = "http://tracker.example/"


def ppstp(requestType: str, tid: str, peerID: str, **members: Any) -> bytes:
    """
    An RFC 7846 request body.
    """
    root: Dict[str, Any] = {
        "version": 1,
        "request_type": requestType,
        "transaction_id": tid,
        "peer_id": peerID,
    }
    root.update(members)
    return json.dumps({"PPSPTrackerProtocol": root}).encode("utf-8")


def action(swarmID: str, what: str = "JOIN", mode: str = "LEECH") -> Dict[str, str]:
    """
    One C{swarm_action}.
    """
    return {"swarm_id": swarmID, "action": what, "peer_mode": mode}


def address(ip: str, port: int) -> Dict[str, Any]:
    """
    One C{peer_addr}.
    """
    return {
        "ip_address": {"address_type": "ipv6" if ":" in ip else "ipv4", "address": ip},
        "port": port,
        "priority": 1,
        "type": "HOST",
    }


def xmlMessage(method: str, txid: str, peerID: str, token: Optional[str] = None, body: str = "") -> bytes:
    """
    An XML request of the profile.
    """
    auth = f"<AuthToken>{token}</AuthToken>" if token else ""
    return (
        f'<PPSPTrackerProtocol version="1.0"><Method>{method}</Method>'
        f"<TransactionID>{txid}</TransactionID><PeerID>{peerID}</PeerID>{auth}{body}"
        "</PPSPTrackerProtocol>"
    ).encode("utf-8")


class Harness(StoreReads):
    """
    A tracker resource behind StubTreq on a clock; requests may come from
    any client address.
    """

    def __init__(self, testCase: SynchronousTestCase, checker: Any = None, **config: Any) -> None:
        self.testCase = testCase
        self.clock = Clock()
        self.clock.advance(1000)
        self.store = MemoryPeerStore(random=random.Random(3))
        config.setdefault("rateLimit", 0)
        self.tracker = Tracker(self.clock, TrackerConfig(**config), store=self.store, checker=checker)
        self.resource = TrackerResource(self.tracker)
        self.treq: Any = StubTreq(self.resource)
        self.serial = 0

    def post(
        self,
        body: bytes,
        contentType: Optional[bytes] = JSON,
        authorization: Optional[str] = None,
        ip: str = "127.0.0.1",
    ) -> Tuple[int, Dict[bytes, Any], Any]:
        """
        POST C{body} from C{ip}; return the status, the headers and the
        decoded JSON answer's C{PPSPTrackerProtocol} object (or the raw
        bytes of a non-JSON answer).
        """
        headers: Dict[bytes, List[bytes]] = {}
        if contentType is not None:
            headers[b"Content-Type"] = [contentType]
        if authorization is not None:
            headers[b"Authorization"] = [authorization.encode("ascii")]
        original = self.resource.render

        def render(request: Any) -> Any:
            request.client = _Address(ip)
            return original(request)

        self.resource.render = render  # type: ignore[method-assign]
        try:
            d = self.treq.post(URL, data=body, headers=headers)
            self.treq.flush()
        finally:
            del self.resource.render
        response = self.testCase.successResultOf(d)
        content = self.testCase.successResultOf(self.treq.content(response))
        types = response.headers.getRawHeaders(b"content-type")
        if types == [JSON]:
            answer: Any = json.loads(content)["PPSPTrackerProtocol"]
        else:
            answer = content
        return response.code, {k.lower(): v for k, v in response.headers.getAllRawHeaders()}, answer

    def tid(self) -> str:
        self.serial += 1
        return f"tx-{self.serial}"

    def connect(self, peerID: str, *actions: Dict[str, str], ip: str = "127.0.0.1", authorization: Optional[str] = None, **members: Any) -> Tuple[int, Any]:
        """
        An RFC 7846 CONNECT with C{actions}; returns the status and answer.
        """
        connect: Dict[str, Any] = {"swarm_action": list(actions)}
        connect.update(members)
        code, _, answer = self.post(ppstp("CONNECT", self.tid(), peerID, connect=connect), ip=ip, authorization=authorization)
        return code, answer

    def find(self, peerID: str, swarmID: str, ip: str = "127.0.0.1", authorization: Optional[str] = None, **members: Any) -> Tuple[int, Any]:
        """
        An RFC 7846 FIND, without the C{find} wrapper as in the RFC's example.
        """
        code, _, answer = self.post(ppstp("FIND", self.tid(), peerID, swarm_id=swarmID, **members), ip=ip, authorization=authorization)
        return code, answer

    def statReport(self, peerID: str, stats: Any = None, ip: str = "127.0.0.1", authorization: Optional[str] = None) -> Tuple[int, Any]:
        """
        An RFC 7846 STAT_REPORT (a keep-alive when C{stats} is L{None}).
        """
        members = {} if stats is None else {"stat_report": {"type": "STREAM_STATS", "stat": stats}}
        code, _, answer = self.post(ppstp("STAT_REPORT", self.tid(), peerID, **members), ip=ip, authorization=authorization)
        return code, answer

    def xml(self, method: str, peerID: str, token: Optional[str] = None, body: str = "", ip: str = "127.0.0.1") -> Tuple[int, Any]:
        """
        An XML request; returns the status and the parsed document.
        """
        code, _, content = self.post(xmlMessage(method, self.tid(), peerID, token, body), contentType=XML, ip=ip)
        return code, etree.fromstring(content)


class _Address:
    """
    A client address as twisted.web reports it.
    """

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = 40000


def peersOf(result: Dict[str, Any]) -> List[str]:
    """
    The PeerIDs of a C{swarm_result}'s peer list, in order, each once.
    """
    infos = result.get("peer_group", {}).get("peer_info", [])
    return list(dict.fromkeys(info["peer_id"] for info in infos))


class LifeCycleTests(SynchronousTestCase):
    """
    A JSON peer registers, joins, finds, reports and leaves over HTTP.
    """

    def setUp(self) -> None:
        self.h = Harness(self)

    def test_connectRegistersAndJoins(self) -> None:
        """
        A CONNECT with one JOIN registers the peer, makes it a member in the
        asked mode and answers 200 in JSON with the RFC's members: version,
        response_type 0, error_code 0, the echoed transaction_id, the
        observed address as peer_addr, one swarm_result per action, and the
        auth_token and keepalive_interval extensions; with nobody else in
        the swarm, peer_group is left out.
        """
        code, headers, answer = self.h.post(
            ppstp("CONNECT", "c-1", "p1", connect={"swarm_action": [action("s1", mode="SEEDER")], "peer_addr": address("127.0.0.1", 7001)})
        )
        self.assertEqual(code, 200)
        self.assertEqual(headers[b"content-type"], [JSON])
        self.assertEqual(headers[b"cache-control"], [b"no-store"])
        self.assertEqual(
            (answer["version"], answer["response_type"], answer["error_code"], answer["transaction_id"]),
            (1, 0, 0, "c-1"),
        )
        self.assertEqual(answer["peer_addr"]["ip_address"], {"address_type": "ipv4", "address": "127.0.0.1"})
        self.assertEqual(answer["peer_addr"]["type"], "REFLEXIVE")
        self.assertEqual(answer["swarm_result"], [{"swarm_id": "s1", "result": 0}])
        self.assertEqual(answer["keepalive_interval"], 60)
        peer = self.h.registered("p1")
        self.assertEqual(answer["auth_token"], peer.token)
        self.assertEqual(peer.swarms["s1"].mode, PeerMode.SEED)
        self.assertEqual([(a.ip, a.port) for a in peer.addresses], [("127.0.0.1", 7001)])

    def test_leechGetsPeerList(self) -> None:
        """
        A LEECH JOIN answers the swarm's other peers in peer_group.peer_info,
        each with peer_id and peer_addr.ip_address.address_type; the count
        follows peer_num.peer_count.
        """
        for i in range(4):
            self.h.connect(f"seed{i}", action("s", mode="SEEDER"), peer_addr=address("127.0.0.1", 7000 + i))
        code, answer = self.h.connect("leech", action("s"), peer_num={"peer_count": 2})
        self.assertEqual(code, 200, answer)
        [result] = answer["swarm_result"]
        self.assertEqual(len(peersOf(result)), 2)
        info = result["peer_group"]["peer_info"][0]
        self.assertTrue(info["peer_id"].startswith("seed"))
        self.assertEqual(info["peer_addr"]["ip_address"]["address_type"], "ipv4")
        self.assertEqual(info["peer_mode"], "SEEDER")

    def test_seederWithPeerNumGetsList(self) -> None:
        """
        A SEEDER gets no peer list, unless it sent peer_num (RFC 7846
        section 4.1.1).
        """
        self.h.connect("a", action("s"))
        code, answer = self.h.connect("b", action("s", mode="SEEDER"))
        self.assertNotIn("peer_group", answer["swarm_result"][0])
        code, answer = self.h.connect("c", action("s", mode="SEEDER"), peer_num={"peer_count": 5})
        self.assertEqual(sorted(peersOf(answer["swarm_result"][0])), ["a", "b"])

    def test_findWithAndWithoutWrapper(self) -> None:
        """
        FIND answers one swarm_result for the swarm with the peer list,
        whether its members are in a C{find} object or not; the requester
        is never listed.
        """
        self.h.connect("a", action("s", mode="SEEDER"))
        self.h.connect("b", action("s"))
        code, answer = self.h.find("b", "s")
        self.assertEqual(code, 200, answer)
        self.assertEqual(answer["swarm_result"][0]["swarm_id"], "s")
        self.assertEqual(peersOf(answer["swarm_result"][0]), ["a"])
        code, _, answer = self.h.post(ppstp("FIND", "f-2", "a", find={"swarm_id": "s", "peer_num": {"peer_count": "5"}}))
        self.assertEqual((code, peersOf(answer["swarm_result"][0])), (200, ["b"]))

    def test_findPeerNumDescribesRequester(self) -> None:
        """
        The peer_num members other than peer_count are kept as the
        requester's own statistics (online_time stays the tracker's count),
        never used as constraints: a peer that reported nothing is still
        listed.
        """
        self.h.connect("a", action("s", mode="SEEDER"))
        self.h.connect("b", action("s"))
        code, answer = self.h.find("b", "s", peer_num={"peer_count": 5, "ability_nat": "STUN", "concurrent_links": "5", "online_time": "200", "upload_bandwidth": "600"})
        self.assertEqual(peersOf(answer["swarm_result"][0]), ["a"])
        peer = self.h.registered("b")
        self.assertEqual((peer.stat("AbilityNAT"), peer.stat("ConcurrentLinks"), peer.stat("UploadBandwidth"), peer.stat("OnlineTime")), ("STUN", 5, 600, None))
        self.assertIsNone(self.h.registered("a").stat("AbilityNAT"))

    def test_connectPeerNumDescribesRequester(self) -> None:
        """
        The same peer_num members in CONNECT are stored as the peer's
        statistics; a malformed one refuses the whole CONNECT with 01.
        """
        self.h.connect("a", action("s"), peer_num={"peer_count": 1, "upload_bandwidth": 900, "ability_nat": "TURN"})
        peer = self.h.registered("a")
        self.assertEqual((peer.stat("UploadBandwidth"), peer.stat("AbilityNAT")), (900, "TURN"))
        code, answer = self.h.connect("b", action("s"), peer_num={"peer_count": 1, "ability_nat": "CARRIER_PIGEON"})
        self.assertEqual((code, answer["error_code"]), (400, 1))
        self.assertIsNone(self.h.peer("b"))

    def test_statReport(self) -> None:
        """
        A STAT_REPORT's stream_stats are stored as the profile's
        properties, swarm-scoped ones in the named membership, and the
        answer has one swarm_result per named swarm, as the RFC's example.
        """
        self.h.connect("a", action("1111"))
        code, answer = self.h.statReport("a", {"swarm_id": "1111", "uploaded_bytes": 512, "downloaded_bytes": "768", "available_bandwidth": 1024000, "concurrent_links": 5})
        self.assertEqual(code, 200, answer)
        self.assertEqual(answer["swarm_result"], [{"swarm_id": "1111", "result": 0}])
        peer = self.h.registered("a")
        member = peer.swarms["1111"]
        self.assertEqual((member.stats.get("UploadedBytes"), member.stats.get("DownloadedBytes")), (512, 768))
        self.assertEqual((peer.stat("AvailBandwidth"), peer.stat("ConcurrentLinks")), (1024000, 5))

    def test_statReportCapitalStat(self) -> None:
        """
        C{Stat}, as the RFC's example writes it, is read as C{stat}.
        """
        self.h.connect("a", action("s"))
        code, _, answer = self.h.post(ppstp("STAT_REPORT", "r", "a", stat_report={"type": "STREAM_STATS", "Stat": {"concurrent_links": 3}}))
        self.assertEqual(code, 200, answer)
        self.assertEqual(self.h.registered("a").stat("ConcurrentLinks"), 3)

    def test_statReportUnjoinedSwarm(self) -> None:
        """
        Statistics for a swarm the peer has not joined are a forbidden
        action: 03 with HTTP 403, and nothing is kept.
        """
        self.h.connect("a", action("s"))
        code, answer = self.h.statReport("a", {"swarm_id": "other", "uploaded_bytes": 1})
        self.assertEqual((code, answer["response_type"], answer["error_code"]), (403, 1, 3))
        self.assertNotIn("swarm_result", answer)
        self.assertIsNone(self.h.registered("a").swarms["s"].stats.get("UploadedBytes"))

    def test_emptyStatReportIsKeepAlive(self) -> None:
        """
        A STAT_REPORT without statistics is a keep-alive: it resets the
        track timer (the peer's deadline) and answers 0 with the interval.
        """
        self.h.connect("a", action("s"))
        before = self.h.registered("a").deadline
        self.h.clock.advance(100)
        code, answer = self.h.statReport("a")
        self.assertEqual((code, answer["response_type"], answer["keepalive_interval"]), (200, 0, 60))
        self.assertEqual(self.h.registered("a").deadline, before + 100)

    def test_switchChannel(self) -> None:
        """
        The RFC's channel switch: one CONNECT leaves a swarm and joins
        another, with one result each, in order.
        """
        self.h.connect("other", action("2222", mode="SEEDER"))
        self.h.connect("a", action("1111"))
        code, answer = self.h.connect("a", action("1111", "LEAVE"), action("2222"), peer_num={"peer_count": 5})
        self.assertEqual(code, 200, answer)
        self.assertEqual([r["swarm_id"] for r in answer["swarm_result"]], ["1111", "2222"])
        self.assertEqual([r["result"] for r in answer["swarm_result"]], [0, 0])
        self.assertEqual(peersOf(answer["swarm_result"][1]), ["other"])
        self.assertEqual(sorted(self.h.registered("a").swarms), ["2222"])


class MixedSwarmTests(SynchronousTestCase):
    """
    XML and JSON peers share swarms: one model, one set of rules.
    """

    def setUp(self) -> None:
        self.h = Harness(self)

    def test_eachSeesTheOther(self) -> None:
        """
        An XML peer's FIND lists a JSON peer and a JSON peer's FIND lists the
        XML peer, with their modes and addresses.
        """
        code, doc = self.h.xml("CONNECT", "xml-peer", body='<PeerAddresses><PeerAddress ip="127.0.0.1" port="7100" type="HOST"/></PeerAddresses>')
        token = doc.findtext("AuthToken")
        self.h.xml("JOIN", "xml-peer", token, "<SwarmID>mix</SwarmID><PeerMode>SEED</PeerMode>")
        self.h.connect("json-peer", action("mix"), peer_addr=address("127.0.0.1", 7200))
        code, answer = self.h.find("json-peer", "mix")
        [info] = answer["swarm_result"][0]["peer_group"]["peer_info"]
        self.assertEqual((info["peer_id"], info["peer_mode"], info["peer_addr"]["port"]), ("xml-peer", "SEEDER", 7100))
        code, doc = self.h.xml("FIND", "xml-peer", token, "<SwarmID>mix</SwarmID>")
        self.assertEqual(code, 200)
        [peer] = doc.findall("Peers/Peer")
        self.assertEqual((peer.findtext("PeerID"), peer.findtext("PeerMode")), ("json-peer", "LEECH"))
        self.assertEqual(peer.find("PeerAddresses/PeerAddress").get("port"), "7200")

    def test_jsonTokenWorksInXML(self) -> None:
        """
        The auth_token a JSON CONNECT issues is the session's AuthToken: an
        XML request may carry it.
        """
        code, answer = self.h.connect("p", action("s"))
        code, doc = self.h.xml("KEEPALIVE", "p", answer["auth_token"])
        self.assertEqual((code, doc.findtext("Response")), (200, "OK"))

    def test_objectNotFoundIsForbidden(self) -> None:
        """
        OBJECT NOT FOUND has no JSON twin: a JSON FIND of an unknown swarm
        is 03 with HTTP 403, where XML answers 404.
        """
        code, answer = self.h.connect("p", action("s"))
        code, answer = self.h.find("p", "nowhere")
        self.assertEqual((code, answer["error_code"]), (403, 3))
        code, doc = self.h.xml("FIND", "p", self.h.registered("p").token, "<SwarmID>nowhere</SwarmID>")
        self.assertEqual(code, 404)


class AuthorizationTests(SynchronousTestCase):
    """
    The token of a JSON request travels in C{Authorization: Bearer}; without
    it, only the session's observed IP address may speak for the peer.
    """

    def setUp(self) -> None:
        self.h = Harness(self)
        code, answer = self.h.connect("p", action("s"), ip="127.0.0.1")
        self.token = answer["auth_token"]

    def test_noHeaderSameAddress(self) -> None:
        """
        Without Authorization, a request from the session's observed IP is
        accepted (a peer written from the RFC alone knows no token).
        """
        code, answer = self.h.statReport("p", ip="127.0.0.1")
        self.assertEqual((code, answer["error_code"]), (200, 0))

    def test_noHeaderOtherAddress(self) -> None:
        """
        Without Authorization, a request from another address is 03 (403),
        and changes nothing (the deadline stays).
        """
        deadline = self.h.registered("p").deadline
        self.h.clock.advance(10)
        code, answer = self.h.statReport("p", ip="127.0.0.9")
        self.assertEqual((code, answer["error_code"]), (403, 3))
        code, answer = self.h.find("p", "s", ip="127.0.0.9")
        self.assertEqual((code, answer["error_code"]), (403, 3))
        self.assertEqual(self.h.registered("p").deadline, deadline)

    def test_rightTokenAnyAddress(self) -> None:
        """
        The right Bearer token is accepted from any address (the peer
        moved).
        """
        code, answer = self.h.find("p", "s", ip="127.0.0.9", authorization=f"Bearer {self.token}")
        self.assertEqual(code, 200, answer)

    def test_wrongTokenAlwaysForbidden(self) -> None:
        """
        A wrong token is 03 even from the session's own address, for FIND,
        STAT_REPORT and CONNECT alike.
        """
        for send in (
            lambda: self.h.find("p", "s", authorization="Bearer nope"),
            lambda: self.h.statReport("p", authorization="Bearer nope"),
            lambda: self.h.connect("p", action("t"), authorization="Bearer nope"),
        ):
            code, answer = send()
            self.assertEqual((code, answer["error_code"]), (403, 3))
        self.assertEqual(sorted(self.h.registered("p").swarms), ["s"])

    def test_malformedHeader(self) -> None:
        """
        An Authorization header that is not a Bearer credential is a bad
        request (01, 400).
        """
        code, answer = self.h.find("p", "s", authorization="Basic cDpw")
        self.assertEqual((code, answer["error_code"]), (400, 1))

    def test_unregistered(self) -> None:
        """
        A FIND or STAT_REPORT from a PeerID that is not registered is 06
        with HTTP 401 and a WWW-Authenticate header.
        """
        code, headers, answer = self.h.post(ppstp("FIND", "f", "ghost", swarm_id="s"))
        self.assertEqual((code, answer["error_code"]), (401, 6))
        self.assertEqual(headers[b"www-authenticate"], [b"PPSP-Open"])

    def test_takeover(self) -> None:
        """
        A CONNECT for a registered PeerID from another address without the
        token is 03; with it, or from the session's address, it succeeds,
        keeps the session's token and swarms, and updates only what it
        sends: the addresses stay when peer_addr is absent.
        """
        self.assertEqual(self.h.registered("p").addresses, ())
        self.h.connect("p", action("s"), peer_addr=address("127.0.0.1", 7001))
        code, answer = self.h.connect("p", action("t"), ip="127.0.0.9")
        self.assertEqual((code, answer["error_code"]), (403, 3))
        code, answer = self.h.connect("p", action("t"), ip="127.0.0.9", authorization=f"Bearer {self.token}")
        self.assertEqual(code, 200, answer)
        self.assertEqual(answer["auth_token"], self.token)
        peer = self.h.registered("p")
        self.assertEqual(sorted(peer.swarms), ["s", "t"])
        self.assertEqual(peer.observedIP, "127.0.0.9")
        self.assertEqual([a.port for a in peer.addresses], [7001])

    def test_credentialGoesToChecker(self) -> None:
        """
        On CONNECT the Bearer value is the credential the authenticator
        checks; one it refuses is 06 (401) and registers nothing.
        """
        seen: List[Any] = []

        class Checker:
            credentialInterfaces = ()
            scheme = "Bearer"

            def requestAvatarId(self, credentials: Any) -> Any:
                seen.append(credentials.cer)
                if credentials.cer == "good":
                    return succeed(ANONYMOUS)
                return fail(UnauthorizedLogin())

        h = Harness(self, checker=Checker())
        code, answer = h.connect("q", action("s"), authorization="Bearer bad")
        self.assertEqual((code, answer["error_code"]), (401, 6))
        self.assertIsNone(h.peer("q"))
        code, answer = h.connect("q", action("s"), authorization="Bearer good")
        self.assertEqual(code, 200, answer)
        self.assertEqual(seen, ["bad", "good"])


class SwarmResultTests(SynchronousTestCase):
    """
    Each swarm action succeeds or fails alone.
    """

    def test_oneFailedJoinDoesNotFailOthers(self) -> None:
        """
        With provisioned swarms, a JOIN of an unknown one fails (result 1,
        error_code 03) while the other JOIN succeeds; the request is OK.
        """
        h = Harness(self, provisionedSwarms=frozenset(["good"]))
        code, answer = h.connect("p", action("bad"), action("good"))
        self.assertEqual((code, answer["response_type"]), (200, 0))
        self.assertEqual([(r["swarm_id"], r["result"]) for r in answer["swarm_result"]], [("bad", 1), ("good", 0)])
        self.assertEqual(answer["swarm_result"][0]["error_code"], 3)
        self.assertEqual(sorted(h.registered("p").swarms), ["good"])

    def test_everyActionInvalidNewPeer(self) -> None:
        """
        A new peer whose every action is invalid (RFC 7846 Table 6: a LEAVE
        from START) gets 03 with no swarm_result, and is not registered
        (PEER REGISTERED to TERMINATE).
        """
        h = Harness(self)
        code, answer = h.connect("p", action("s", "LEAVE"))
        self.assertEqual((code, answer["response_type"], answer["error_code"]), (403, 1, 3))
        self.assertNotIn("swarm_result", answer)
        self.assertNotIn("peer_addr", answer)
        self.assertIsNone(h.peer("p"))

    def test_everyActionInvalidRegisteredPeer(self) -> None:
        """
        A registered peer whose every action is invalid gets 03 and stays
        registered (TRACKING, error C), and nothing it sent is applied.
        """
        h = Harness(self, provisionedSwarms=frozenset(["s"]))
        h.connect("p", action("s"))
        code, answer = h.connect("p", action("nope"), peer_addr=address("127.0.0.1", 9999))
        self.assertEqual((code, answer["error_code"]), (403, 3))
        peer = h.registered("p")
        self.assertEqual((sorted(peer.swarms), peer.addresses), (["s"], ()))

    def test_swarmLimit(self) -> None:
        """
        Per-peer limits apply per action: past maxSwarmsPerPeer, the extra
        JOIN fails alone.
        """
        h = Harness(self, maxSwarmsPerPeer=2)
        code, answer = h.connect("p", action("a"), action("b"), action("c"))
        self.assertEqual([r["result"] for r in answer["swarm_result"]], [0, 0, 1])


class StateMachineTests(SynchronousTestCase):
    """
    RFC 7846 section 2.3 mapped onto the tracker's expiry.
    """

    def test_leavingLastSwarmEndsRegistration(self) -> None:
        """
        A CONNECT that leaves the peer's last swarm ends its registration as
        DISCONNECT would: the answer is OK without auth_token, the peer is
        gone from every list, and its next FIND is 06.
        """
        h = Harness(self)
        h.connect("a", action("s", mode="SEEDER"))
        h.connect("b", action("s"))
        code, answer = h.connect("a", action("s", "LEAVE"))
        self.assertEqual((code, answer["response_type"], answer["swarm_result"]), (200, 0, [{"swarm_id": "s", "result": 0}]))
        self.assertNotIn("auth_token", answer)
        self.assertIsNone(h.peer("a"))
        code, answer = h.find("b", "s")
        self.assertNotIn("peer_group", answer["swarm_result"][0])
        code, answer = h.find("a", "s")
        self.assertEqual((code, answer["error_code"]), (401, 6))

    def test_leavingOneOfTwoKeepsRegistration(self) -> None:
        """
        Leaving a swarm while still in another keeps the registration.
        """
        h = Harness(self)
        h.connect("a", action("s"), action("t"))
        code, answer = h.connect("a", action("s", "LEAVE"))
        self.assertEqual(code, 200)
        self.assertIn("auth_token", answer)
        self.assertEqual(sorted(h.registered("a").swarms), ["t"])

    def test_trackTimer(self) -> None:
        """
        The track timer is the peer timeout: a peer heard from within it
        stays (a FIND resets it); one silent for longer is removed from
        every swarm and unregistered (TERMINATE), and must CONNECT again.
        """
        h = Harness(self, keepAliveInterval=10, peerTimeout=30)
        h.connect("a", action("s", mode="SEEDER"))
        h.connect("b", action("s"))
        for _ in range(25):
            h.clock.advance(1)
            h.result(h.tracker.expire())
        code, _ = h.find("a", "s")
        self.assertEqual(code, 200)
        for _ in range(20):
            h.clock.advance(1)
            h.result(h.tracker.expire())
        self.assertIsNotNone(h.peer("a"))
        self.assertIsNone(h.peer("b"))
        self.assertEqual(list(h.registered("a").swarms), ["s"])
        code, answer = h.statReport("b")
        self.assertEqual((code, answer["error_code"]), (401, 6))
        code, answer = h.connect("b", action("s"))
        self.assertEqual(code, 200)

    def test_refusedRequestDoesNotResetTimer(self) -> None:
        """
        A refused FIND (unknown swarm) does not reset the track timer.
        """
        h = Harness(self)
        h.connect("a", action("s"))
        deadline = h.registered("a").deadline
        h.clock.advance(50)
        code, _ = h.find("a", "nowhere")
        self.assertEqual(code, 403)
        self.assertEqual(h.registered("a").deadline, deadline)


class AsynchronousTests(SynchronousTestCase):
    """
    A strategy that answers later delays the CONNECT answer, not the rule.
    """

    def test_asynchronousSelector(self) -> None:
        """
        With a selector that returns a Deferred, a JSON CONNECT's JOIN
        results wait for it (the answer comes only once every JOIN's
        strategy has answered), and keep their order.
        """
        pending: List[Tuple[Deferred[Any], List[Any]]] = []

        class Later:
            def select(self, swarm: Any, requester: Any, count: int, constraints: Any) -> Any:
                d: Deferred[Any] = Deferred()
                pending.append((d, list(swarm.sample(count, constraints.accepts))))
                return d

        h = Harness(self)
        h.connect("seed", action("t", mode="SEEDER"), action("s", mode="SEEDER"))
        h.tracker.selector = Later()  # type: ignore[assignment]
        d = h.treq.post(URL, data=ppstp("CONNECT", "c", "leech", connect={"swarm_action": [action("t"), action("s")]}), headers={b"Content-Type": [JSON]})
        h.treq.flush()
        for answered in range(2):
            self.assertNoResult(d)
            self.assertGreater(len(pending), answered)
            later, members = pending[answered]
            later.callback(members)
            h.treq.flush()
        self.assertEqual(len(pending), 2)
        response = self.successResultOf(d)
        answer = json.loads(self.successResultOf(h.treq.content(response)))["PPSPTrackerProtocol"]
        self.assertEqual([r["swarm_id"] for r in answer["swarm_result"]], ["t", "s"])
        self.assertEqual([peersOf(r) for r in answer["swarm_result"]], [["seed"], ["seed"]])


class HostileTests(SynchronousTestCase):
    """
    Hostile JSON through the resource: a 4xx answer in JSON, never a 500,
    never a state change.
    """

    def test_hostileBodies(self) -> None:
        """
        Deep nesting, invalid UTF-8, NaN, duplicate members, wrong types,
        an unknown request_type and a huge number are each 01 (400) in JSON.
        """
        h = Harness(self)
        bodies = [
            b'{"PPSPTrackerProtocol": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            b'{"PPSPTrackerProtocol": {"version": 1, "peer_id": "\xff"}}',
            ppstp("FIND", "t", "p", swarm_id="s").replace(b'"version": 1', b'"version": NaN'),
            ppstp("FIND", "t", "p", swarm_id="s")[:-2] + b', "peer_id": "q"}}',
            ppstp("CONNECT", "t", "p", connect={"swarm_action": "JOIN"}),
            ppstp("CONNECT", "t", "p", connect={"swarm_action": [{"swarm_id": ["s"], "action": "JOIN", "peer_mode": "LEECH"}]}),
            ppstp("JOIN", "t", "p", swarm_id="s"),
            ppstp("FIND", "t", "p", swarm_id="s", peer_num={"peer_count": 10**100}),
            b"{",
        ]
        for body in bodies:
            code, headers, answer = h.post(body)
            self.assertEqual((code, answer["response_type"], answer["error_code"]), (400, 1, 1), body[:80])
        self.assertEqual(h.counts(), (0, 0))

    def test_versionNotSupported(self) -> None:
        """
        Another version is 02 with HTTP 400, echoing the transaction_id.
        """
        h = Harness(self)
        code, _, answer = h.post(ppstp("FIND", "t-7", "p", swarm_id="s").replace(b'"version": 1', b'"version": 2'))
        self.assertEqual((code, answer["error_code"], answer["transaction_id"]), (400, 2, "t-7"))

    def test_tooLarge(self) -> None:
        """
        A body over the limit is 01 with HTTP 413, in JSON, and registers
        nothing.
        """
        h = Harness(self)
        h.resource.maxBody = 200
        code, headers, answer = h.post(ppstp("CONNECT", "t", "p", connect={"swarm_action": [action("s" * 100), action("t" * 100)]}))
        self.assertEqual((code, answer["error_code"]), (413, 1))
        self.assertEqual(h.counts()[0], 0)

    def test_throttledInJSON(self) -> None:
        """
        A throttled JSON request gets 05 with HTTP 503 and Retry-After.
        """
        h = Harness(self, rateLimit=1, rateBurst=1)
        h.post(ppstp("FIND", "t", "p", swarm_id="s"))
        code, headers, answer = h.post(ppstp("FIND", "t", "p", swarm_id="s"))
        self.assertEqual((code, answer["error_code"]), (503, 5))
        self.assertEqual(headers[b"retry-after"], [b"1"])

    def test_otherMethodInJSON(self) -> None:
        """
        A GET that names the JSON media type gets 405 with a JSON 01 body.
        """
        h = Harness(self)
        d = h.treq.get(URL, headers={b"Content-Type": [JSON]})
        h.treq.flush()
        response = self.successResultOf(d)
        answer = json.loads(self.successResultOf(h.treq.content(response)))["PPSPTrackerProtocol"]
        self.assertEqual((response.code, answer["error_code"]), (405, 1))

    def test_sniffedJSON(self) -> None:
        """
        Without a Content-Type, a body starting with C{{} is JSON and is
        answered in JSON.
        """
        h = Harness(self)
        code, headers, answer = h.post(ppstp("CONNECT", "t", "p", connect={"swarm_action": [action("s")]}), contentType=None)
        self.assertEqual((code, headers[b"content-type"], answer["error_code"]), (200, [JSON], 0))


class CoreModelTests(SynchronousTestCase):
    """
    The model the JSON codec hands to the core, used directly.
    """

    def test_xmlRequestNeedsToken(self) -> None:
        """
        Only a request marked C{sessionByAddress} may omit its token: the
        same FIND from the session's address without the mark is 03.
        """
        h = Harness(self)
        h.connect("p", action("s"))
        from ppsp.tracker.core import Origin

        origin = Origin("127.0.0.1", 1)
        response: Any = h.result(h.tracker.handle(FindRequest("x1", "p", swarmID="s"), origin))
        self.assertEqual(response.code.text, "MESSAGE FORBIDDEN")
        response = h.result(h.tracker.handle(FindRequest("x2", "p", swarmID="s", sessionByAddress=True), origin))
        self.assertEqual(response.code.text, "OK")
