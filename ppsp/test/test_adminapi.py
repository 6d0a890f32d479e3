"""
Tests for the admin API of issue 12 (L{ppsp.tracker.admin}): swarm and
peer listings, ending a session, bans (L{ppsp.tracker.bans}, refused by
L{ppsp.tracker.resource.TrackerResource} before decoding), provisioning
and removing swarms, HTTP Basic authentication (twisted.cred) and the
C{--admin}/C{--admin-auth} usage rules.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, List, Tuple

from treq.testing import StubTreq
from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from ppsp.messages import JoinRequest, PeerMode, ResponseCode
from ppsp.test.test_admin import AdminHarness, populated
from ppsp.test.test_tap import parse
from ppsp.tracker.admin import AdminResource, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, exposure
from ppsp.tracker.bans import Bans, readBanFile
from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker.reload import BanFile
from ppsp.tracker.resource import TrackerResource


def basic(user: str, password: str) -> Dict[bytes, List[bytes]]:
    """
    An C{Authorization: Basic} header.
    """
    token = base64.b64encode(f"{user}:{password}".encode())
    return {b"Authorization": [b"Basic " + token]}


def provisioned(testCase: SynchronousTestCase, *swarmIDs: str) -> AdminHarness:
    """
    An admin harness whose tracker serves only the provisioned swarms
    C{swarmIDs}.
    """
    h = AdminHarness(testCase, withQuerier=False)
    config = TrackerConfig(provisionedSwarms=frozenset(swarmIDs))
    h.tracker = Tracker(h.clock, config, store=h.store)
    h.resource = AdminResource(h.tracker)
    h.admin = StubTreq(h.resource)
    return h


class ListingTests(SynchronousTestCase):
    """
    C{GET /swarms}, C{GET /swarms/<id>/peers}: sorted and paged.
    """

    def test_swarmsLargestFirst(self) -> None:
        """
        C{GET /swarms} lists every swarm, largest first (ties by SwarmID),
        with its size, seeds, live seeds, leeches and whether it is
        provisioned, and the total.
        """
        h = populated(self)
        h.ok(JoinRequest, "b", swarmID="t", mode=PeerMode.LIVESEED)
        h.result(h.tracker.provisionSwarm("u"))
        code, body = h.get("/swarms")
        self.assertEqual(code, 200)
        self.assertEqual((body["total"], body["offset"], body["limit"]), (3, 0, DEFAULT_PAGE_LIMIT))
        self.assertEqual(
            body["items"],
            [
                {"swarmID": "s", "size": 3, "seeds": 1, "liveSeeds": 0, "leeches": 2, "provisioned": False},
                {"swarmID": "t", "size": 1, "seeds": 0, "liveSeeds": 1, "leeches": 0, "provisioned": False},
                {"swarmID": "u", "size": 0, "seeds": 0, "liveSeeds": 0, "leeches": 0, "provisioned": True},
            ],
        )

    def test_paging(self) -> None:
        """
        C{offset} and C{limit} select a page; a page past the end is
        empty; a limit of 0, above L{MAX_PAGE_LIMIT} or not a number, and
        a negative offset, get 400 with a JSON error.
        """
        h = populated(self)
        for swarmID in ("x", "y"):
            h.result(h.tracker.provisionSwarm(swarmID))
        code, body = h.get("/swarms?offset=1&limit=1")
        self.assertEqual((code, [s["swarmID"] for s in body["items"]], body["total"]), (200, ["x"], 3))
        code, body = h.get("/swarms?offset=10")
        self.assertEqual((code, body["items"]), (200, []))
        for query in ("limit=0", f"limit={MAX_PAGE_LIMIT + 1}", "limit=ten", "offset=-1", "offset=1e3"):
            code, body = h.get("/swarms?" + query)
            self.assertEqual((code, body["error"]), (400, "bad-request"), query)

    def test_swarmPeers(self) -> None:
        """
        C{GET /swarms/<id>/peers} pages through a swarm's members with
        their mode and observed address; an unknown swarm gets 404.
        """
        h = populated(self)
        code, body = h.get("/swarms/s/peers?limit=2")
        self.assertEqual((code, body["swarmID"], body["total"], len(body["items"])), (200, "s", 3, 2))
        code, rest = h.get("/swarms/s/peers?offset=2")
        members = body["items"] + rest["items"]
        self.assertEqual(sorted(m["peerID"] for m in members), ["a", "b", "c"])
        self.assertEqual({m["peerID"]: m["mode"] for m in members}["a"], "SEED")
        self.assertEqual(
            {m["peerID"]: m["observed"]["ip"] for m in members}["b"], "198.51.100.20"
        )
        code, body = h.get("/swarms/nope/peers")
        self.assertEqual((code, body["error"]), (404, "unknown-swarm"))


class SessionTests(SynchronousTestCase):
    """
    C{DELETE /peers/<PeerID>} and L{Tracker.endSession}.
    """

    def test_endSession(self) -> None:
        """
        Ending a session works as a DISCONNECT: the peer is no longer
        listed in its swarm nor found, and its next request gets
        AUTHENTICATION REQUIRED; ending it again gets 404.
        """
        h = populated(self)
        code, _, body = h.request("DELETE", "/peers/b")
        self.assertEqual((code, body), (200, {"peerID": "b", "ended": True}))
        self.assertEqual(h.get("/peers/b")[0], 404)
        self.assertEqual(h.get("/swarms/s")[1]["size"], 2)
        h.error(ResponseCode.AUTHENTICATION_REQUIRED, JoinRequest, "b", swarmID="s", mode=PeerMode.LEECH)
        code, _, body = h.request("DELETE", "/peers/b")
        self.assertEqual((code, body["error"]), (404, "unknown-peer"))


class SwarmProvisioningTests(SynchronousTestCase):
    """
    C{PUT} and C{DELETE /swarms/<SwarmID>}.
    """

    def test_provisionOnProvisionedTracker(self) -> None:
        """
        On a tracker where only provisioned swarms exist, a JOIN of an
        unknown swarm gets NOT FOUND until C{PUT /swarms/<id>} provisions
        it (201; a second PUT answers 200); it stays when empty.
        """
        h = provisioned(self, "old")
        h.connect("a")
        h.error(ResponseCode.OBJECT_NOT_FOUND, JoinRequest, "a", swarmID="new", mode=PeerMode.SEED)
        code, _, body = h.request("PUT", "/swarms/new")
        self.assertEqual((code, body["swarmID"], body["provisioned"], body["created"]), (201, "new", True, True))
        self.assertEqual(h.request("PUT", "/swarms/new")[0], 200)
        h.ok(JoinRequest, "a", swarmID="new", mode=PeerMode.SEED)
        self.assertEqual(h.tracker.provisionedSwarms, {"old", "new"})

    def test_removeSwarm(self) -> None:
        """
        C{DELETE /swarms/<id>} makes every member leave and forgets the
        swarm; on a provisioned tracker a JOIN of it then gets NOT FOUND.
        An unknown swarm gets 404, an invalid SwarmID in a PUT 400.
        """
        h = provisioned(self, "s")
        h.connect("a")
        h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        code, _, body = h.request("DELETE", "/swarms/s")
        self.assertEqual((code, body["membersLeft"]), (200, 1))
        self.assertIsNone(h.swarm("s"))
        self.assertEqual(h.get("/peers/a")[1]["swarms"], [])
        h.error(ResponseCode.OBJECT_NOT_FOUND, JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        self.assertEqual(h.request("DELETE", "/swarms/s")[0], 404)
        self.assertEqual(h.request("PUT", "/swarms/%01x")[0], 400)

    def test_removeOnOpenTracker(self) -> None:
        """
        On a tracker that creates swarms on JOIN, a removed swarm is
        created again by the next JOIN, not provisioned.
        """
        h = populated(self)
        h.request("DELETE", "/swarms/s")
        h.ok(JoinRequest, "a", swarmID="s", mode=PeerMode.SEED)
        self.assertEqual(h.get("/swarms/s")[1]["provisioned"], False)


class BansTests(SynchronousTestCase):
    """
    L{Bans} and the C{/bans} routes.
    """

    def test_matching(self) -> None:
        """
        A ban covers its address or network only, IPv4-mapped addresses
        count as IPv4, and a timed ban runs out.
        """
        clock = Clock()
        bans = Bans(clock)
        self.assertFalse(bans.banned("192.0.2.7"))
        bans.ban("::ffff:192.0.2.7")
        bans.ban("198.51.100.0/24", seconds=10)
        bans.ban("2001:db8:bad::/48")
        self.assertTrue(bans.banned("192.0.2.7"))
        self.assertFalse(bans.banned("192.0.2.8"))
        self.assertTrue(bans.banned("198.51.100.200"))
        self.assertFalse(bans.banned("198.51.101.1"))
        self.assertTrue(bans.banned("2001:db8:bad:1::5"))
        self.assertFalse(bans.banned("2001:db8:bae::5"))
        clock.advance(10)
        self.assertFalse(bans.banned("198.51.100.200"))
        self.assertEqual([str(b.network) for b in bans.entries()], ["192.0.2.7/32", "2001:db8:bad::/48"])

    def test_fileReload(self) -> None:
        """
        Reading the ban file again replaces its bans and keeps the API's;
        a bad file changes nothing.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("# comment\n192.0.2.1\n198.51.100.0/24 60  # an hour\n")
        clock = Clock()
        bans = Bans(clock)
        bans.replace(readBanFile(path))
        bans.ban("203.0.113.5")
        self.assertTrue(bans.banned("198.51.100.3"))
        with open(path, "w") as f:
            f.write("192.0.2.2\n")
        reloader = BanFile(bans, path)
        self.assertTrue(self.successResultOf(reloader.reload()))
        self.assertEqual(
            [(str(b.network), b.source) for b in bans.entries()],
            [("192.0.2.2/32", "file"), ("203.0.113.5/32", "api")],
        )
        with open(path, "w") as f:
            f.write("not-an-address\n")
        self.assertFalse(self.successResultOf(reloader.reload()))
        self.assertTrue(bans.banned("192.0.2.2"))

    def test_routes(self) -> None:
        """
        C{POST /bans} bans (for a time with C{seconds}), C{GET /bans} lists,
        C{DELETE /bans} lifts (404 when not banned); a bad network or
        seconds gets 400.
        """
        h = AdminHarness(self)
        code, _, body = h.request("POST", "/bans?network=198.51.100.0/24&seconds=60")
        self.assertEqual(
            (code, body), (200, {"network": "198.51.100.0/24", "until": h.clock.seconds() + 60, "source": "api"})
        )
        code, body = h.get("/bans")
        self.assertEqual((code, body["total"], body["items"][0]["network"]), (200, 1, "198.51.100.0/24"))
        for query in ("network=nonsense", "", "network=192.0.2.1&seconds=-1", "network=192.0.2.1&seconds=nan"):
            code, _, body = h.request("POST", "/bans?" + query)
            self.assertEqual((code, body["error"]), (400, "bad-request"), query)
        self.assertEqual(h.request("DELETE", "/bans?network=198.51.100.0/24")[0], 200)
        self.assertEqual(h.request("DELETE", "/bans?network=198.51.100.0/24")[0], 404)
        self.assertEqual(h.get("/bans")[1]["total"], 0)

    def test_refusedBeforeDecoding(self) -> None:
        """
        A banned address gets MESSAGE FORBIDDEN (403, "this address is
        banned") even for a body that would not decode, in the request's
        encoding, counted as refused; other addresses are served.
        """
        clock = Clock()
        tracker = Tracker(clock, TrackerConfig())
        treq: Any = StubTreq(TrackerResource(tracker))

        def post(body: bytes, contentType: bytes) -> Tuple[int, bytes]:
            d = treq.request(
                "POST", "http://127.0.0.1:7000/", data=body, headers={b"Content-Type": [contentType]}
            )
            treq.flush()
            response = self.successResultOf(d)
            return response.code, self.successResultOf(treq.content(response))

        undecodable = b"\xff\xfe<not xml"
        code, body = post(undecodable, b"application/xml")
        self.assertEqual(code, 400)
        tracker.bans.ban("127.0.0.0/8")
        code, body = post(undecodable, b"application/xml")
        self.assertEqual(code, 403)
        self.assertIn(b"MESSAGE FORBIDDEN", body)
        self.assertIn(b"this address is banned", body)
        code, body = post(b"{", b"application/ppsp-tracker+json")
        self.assertEqual(code, 403)
        json.loads(body)
        self.assertIn(b"this address is banned", body)
        self.assertEqual(tracker.metrics.refusedTotal(), 2)


class AuthenticationTests(SynchronousTestCase):
    """
    C{AdminResource(checkers=...)}: HTTP Basic authentication through
    twisted.web.guard, after the C{Host} and C{Origin} checks.
    """

    def harness(self) -> AdminHarness:
        h = populated(self)
        checker = InMemoryUsernamePasswordDatabaseDontUse(admin=b"secret")
        h.resource = AdminResource(h.tracker, h.querier, checkers=[checker])
        h.admin = StubTreq(h.resource)
        return h

    def test_noCredentials(self) -> None:
        """
        Without credentials, or with wrong ones, the answer is 401 in JSON
        with a Basic challenge, and nothing is done.
        """
        h = self.harness()
        for headers in ({}, basic("admin", "wrong"), basic("nobody", "secret"), {b"Authorization": [b"Basic !!"]}):
            code, responseHeaders, body = h.request("DELETE", "/peers/b", headers=headers)
            self.assertEqual((code, body["error"]), (401, "unauthorized"), headers)
            self.assertEqual(
                responseHeaders.getRawHeaders(b"www-authenticate"), [b'basic realm="ppsp-tracker admin"']
            )
            h.checkHeaders(responseHeaders)
        self.assertEqual(h.get("/peers/b")[0], 401)
        self.assertIsNotNone(h.peer("b"))

    def test_credentials(self) -> None:
        """
        With the right credentials, reads and writes are answered.
        """
        h = self.harness()
        code, _, body = h.request("GET", "/swarms", headers=basic("admin", "secret"))
        self.assertEqual((code, body["total"]), (200, 1))
        code, _, body = h.request("DELETE", "/peers/b", headers=basic("admin", "secret"))
        self.assertEqual((code, body["ended"]), (200, True))

    def test_hostCheckedFirst(self) -> None:
        """
        A request naming another host gets 421 before its credentials are
        asked for.
        """
        h = self.harness()
        code, _, body = h.request("GET", "/swarms", headers={b"Host": [b"attacker.example"]})
        self.assertEqual((code, body["error"]), (421, "misdirected-request"))

    def test_healthOpen(self) -> None:
        """
        C{GET /health} needs no credentials (load balancers ask it).
        """
        h = self.harness()
        code, _, _ = h.request("GET", "/health")
        self.assertNotEqual(code, 401)


class OptionTests(SynchronousTestCase):
    """
    C{--admin}, C{--admin-auth} and C{--bans}.
    """

    def test_publicAdminWithoutAuth(self) -> None:
        """
        An admin endpoint that others could reach is a usage error without
        C{--admin-auth}, saying why; a loopback one, a UNIX socket or an
        mtls listener that requires client certificates is not.
        """
        for description in ("tcp:7001", "tcp:7001:interface=0.0.0.0", "tcp6:7001", "systemd:domain=INET:index=0"):
            problem = exposure(description)
            self.assertIsNotNone(problem, description)
        e = self.assertRaises(usage.UsageError, parse, "--admin", "tcp:7001:interface=192.0.2.1")
        self.assertIn("--admin-auth", str(e))
        self.assertIn("interface 192.0.2.1", str(e))
        for description in (
            "tcp:7001:interface=127.0.0.1",
            "tcp:7001:127.0.0.1",
            "tcp6:7001:interface=\\:\\:1",
            "unix:/tmp/admin.sock",
            "mtls:7001:privateKey=k:caCerts=c",
            "haproxy:tcp:7001:interface=127.0.0.1",
        ):
            self.assertIsNone(exposure(description), description)
        self.assertEqual(exposure("mtls:7001:privateKey=k:caCerts=c:optional=yes") is None, False)
        options = parse("--admin", "tcp:7001", "--admin-auth", "memory:admin:secret")
        self.assertEqual(len(options["adminCheckers"]), 1)

    def test_badAdminAuth(self) -> None:
        """
        An C{--admin-auth} that names no checker, or one that does not
        check passwords, is a usage error naming the option; so is
        C{--admin-auth} without C{--admin}.
        """
        for value in ("nonsense:x", "anonymous"):
            e = self.assertRaises(usage.UsageError, parse, "--admin", "tcp:7001", "--admin-auth", value)
            self.assertIn("--admin-auth", str(e))
        e = self.assertRaises(usage.UsageError, parse, "--admin-auth", "memory:a:b")
        self.assertIn("--admin", str(e))

    def test_memoryAdminAuth(self) -> None:
        """
        C{--admin-auth memory:USER:PASSWORD...} accepts each user with its
        password as HTTP Basic authentication gives them (bytes), and
        refuses a wrong password.
        """
        from twisted.cred.credentials import UsernamePassword
        from twisted.cred.error import UnauthorizedLogin

        options = parse("--admin", "tcp:7001", "--admin-auth", "memory:admin:secret:bob:x")
        [checker] = options["adminCheckers"]
        accepted = self.successResultOf(checker.requestAvatarId(UsernamePassword(b"admin", b"secret")))
        self.assertEqual(accepted, b"admin")
        self.successResultOf(checker.requestAvatarId(UsernamePassword(b"bob", b"x")))
        self.failureResultOf(checker.requestAvatarId(UsernamePassword(b"admin", b"x")), UnauthorizedLogin)

    def test_bansFile(self) -> None:
        """
        C{--bans FILE} is read at start (a bad line is a usage error naming
        the file and line) and its bans are in force in the tracker.
        """
        from ppsp.test.test_tap import InterfaceReactor
        from ppsp.tracker.tap import makeService

        path = self.mktemp()
        with open(path, "w") as f:
            f.write("192.0.2.0/24\n")
        service = makeService(parse("--bans", path), InterfaceReactor())
        self.assertTrue(service.tracker.bans.banned("192.0.2.9"))  # type: ignore[attr-defined]
        with open(path, "w") as f:
            f.write("192.0.2.0/24 soon\n")
        e = self.assertRaises(usage.UsageError, parse, "--bans", path)
        self.assertIn(f"{path}:1", str(e))
