"""
What a session is bound to, and how long it lives (issue 13): a retry is
answered only to the identity that was answered first, a closed tracker's
sessions must prove themselves on every request (JSON included), a session
ends with its credential or its revocation, a session opened over a TLS
client certificate stays bound to it; refused CONNECTs cannot flood the
log; a StatPort cannot point the tracker at a well-known service or at
itself.
"""

from __future__ import annotations

import time
from typing import Any, List, Optional, cast

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import Clock
from twisted.internet.interfaces import IReactorTime
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase

from ppsp.messages import (
    ConnectRequest,
    ConnectResponse,
    DisconnectRequest,
    FindRequest,
    JoinRequest,
    KeepAliveRequest,
    PeerMode,
    Request,
    Response,
    ResponseCode,
)
from ppsp.test.certs import TestCA, serverOptions
from ppsp.test.helpers import StoreReads
from ppsp.test.test_json_tracker import Harness, action
from ppsp.tracker.credentials import (
    Revocations,
    SessionIdentity,
    TokenPeerChecker,
    X509PeerChecker,
    credentialFingerprint,
    issueToken,
)
from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.resource import TrackerResource, TrackerSite
from ppsp.test.test_security import RawClient, message

SECRET = b"0123456789abcdef0123456789abcdef"


class _Peers(StoreReads):
    """
    A tracker on a clock with a given checker, and the tokens its peers
    hold.
    """

    def __init__(self, testCase: SynchronousTestCase, checker: Any = None, now: float = 1000.0, **config: Any) -> None:
        self.testCase = testCase
        self.clock = Clock()
        self.clock.advance(now)
        config.setdefault("rateLimit", 0)
        self.tracker = Tracker(
            self.clock, TrackerConfig(**config), checker=checker(self.clock) if checker else None
        )
        self.store = self.tracker.store
        self.tokens: dict[str, str] = {}
        self.serial = 0

    def send(self, request: Request, origin: Origin) -> Response:
        return self.result(self.tracker.handle(request, origin))

    def txid(self) -> str:
        self.serial += 1
        return f"t{self.serial}"

    def connect(self, peerID: str, origin: Origin, cer: Optional[str] = None, **kw: Any) -> Response:
        response = self.send(ConnectRequest(self.txid(), peerID, cer=cer, **kw), origin)
        if isinstance(response, ConnectResponse):
            self.tokens[peerID] = response.authToken
        return response

    def call(self, cls: type, peerID: str, origin: Origin, **fields: Any) -> Response:
        return self.send(cls(self.txid(), peerID, authToken=self.tokens.get(peerID), **fields), origin)


VICTIM = Origin("198.51.100.7", 40000)


class ClosedTrackerJSONTests(SynchronousTestCase):
    """
    On a closed tracker (token scheme), an RFC 7846 request must carry the
    session's token as a Bearer token: the same-address rule of RFC 7846
    peers applies to the open scheme only (PROTOCOL.md section 7).
    """

    def setUp(self) -> None:
        self.h = Harness(self, checker=TokenPeerChecker(SECRET, cast(IReactorTime, _WallClock())))
        credential = issueToken(SECRET, "victim", int(time.time()) + 3600)
        code, answer = self.h.connect(
            "victim", action("s"), ip="127.0.0.1", authorization=f"Bearer {credential}"
        )
        self.assertEqual(code, 200, answer)
        self.token = answer["auth_token"]

    def test_noHeaderFromVictimsAddress(self) -> None:
        """
        A STAT_REPORT and a FIND without Authorization, sent from the
        victim's own address, are refused (03) and the victim's statistics
        stay as they were.
        """
        before = dict(self.h.registered("victim").stats)
        code, answer = self.h.statReport("victim", ip="127.0.0.1")
        self.assertEqual((code, answer["error_code"]), (403, 3))
        code, answer = self.h.find("victim", "s", ip="127.0.0.1")
        self.assertEqual((code, answer["error_code"]), (403, 3))
        self.assertEqual(dict(self.h.registered("victim").stats), before)

    def test_bearerTokenAccepted(self) -> None:
        """
        The same requests with the session's token are served.
        """
        code, answer = self.h.find("victim", "s", ip="127.0.0.1", authorization=f"Bearer {self.token}")
        self.assertEqual(code, 200, answer)


class _WallClock:
    """
    The time now, for checkers of certificates and credentials made now.
    """

    def seconds(self) -> float:
        return time.time()


class CredentialLifetimeTests(SynchronousTestCase):
    """
    A session ends when the credential that opened it expires: the peer
    must CONNECT again with a fresh one.
    """

    def setUp(self) -> None:
        self.peers = _Peers(self, lambda clock: TokenPeerChecker(SECRET, clock))
        self.credential = issueToken(SECRET, "peer-a", 1003)
        response = self.peers.connect("peer-a", VICTIM, cer=self.credential)
        self.assertIsInstance(response, ConnectResponse)

    def test_sessionEndsWithCredential(self) -> None:
        """
        A 3-second credential keeps its session for 3 seconds: a KEEPALIVE
        at 2 s is served, one at 4 s and a JOIN at 12 s get AUTHENTICATION
        REQUIRED, and the peer is gone from the store.
        """
        peers = self.peers
        peers.clock.advance(2)
        self.assertEqual(peers.call(KeepAliveRequest, "peer-a", VICTIM).code, ResponseCode.OK)
        peers.clock.advance(2)
        self.assertEqual(
            peers.call(KeepAliveRequest, "peer-a", VICTIM).code,
            ResponseCode.AUTHENTICATION_REQUIRED,
        )
        peers.clock.advance(8)
        self.assertEqual(
            peers.call(JoinRequest, "peer-a", VICTIM, swarmID="s").code,
            ResponseCode.AUTHENTICATION_REQUIRED,
        )
        self.assertIsNone(peers.peer("peer-a"))

    def test_expiredSessionNotListed(self) -> None:
        """
        A peer whose credential expired is not listed to others, even
        before it sends anything again (its liveness ends with the
        credential).
        """
        peers = self.peers
        self.assertEqual(peers.call(JoinRequest, "peer-a", VICTIM, swarmID="s", mode=PeerMode.SEED).code, ResponseCode.OK)
        other = issueToken(SECRET, "peer-b", 5000)
        peers.connect("peer-b", Origin("198.51.100.8", 1), cer=other)
        peers.call(JoinRequest, "peer-b", Origin("198.51.100.8", 1), swarmID="s", mode=PeerMode.SEED)
        peers.clock.advance(4)
        listed = peers.call(FindRequest, "peer-b", Origin("198.51.100.8", 1), swarmID="s")
        self.assertEqual(listed.peers, ())  # type: ignore[attr-defined]

    def test_freshCredential(self) -> None:
        """
        After its credential expired, the peer CONNECTs again with a fresh
        one and is served.
        """
        peers = self.peers
        peers.clock.advance(5)
        self.assertIsInstance(
            peers.connect("peer-a", VICTIM, cer=issueToken(SECRET, "peer-a", 2000)), ConnectResponse
        )
        self.assertEqual(peers.call(KeepAliveRequest, "peer-a", VICTIM).code, ResponseCode.OK)

    def test_expiredCredentialRefused(self) -> None:
        """
        An expired credential cannot CONNECT.
        """
        self.peers.clock.advance(5)
        self.assertEqual(
            self.peers.connect("peer-a", VICTIM, cer=self.credential).code,
            ResponseCode.AUTHENTICATION_REQUIRED,
        )


class RevocationTests(SynchronousTestCase):
    """
    An operator revokes a PeerID or a credential at run time, effective at
    once.
    """

    def setUp(self) -> None:
        self.peers = _Peers(self, lambda clock: TokenPeerChecker(SECRET, clock))
        self.credential = issueToken(SECRET, "peer-a", 100_000)
        self.peers.connect("peer-a", VICTIM, cer=self.credential)
        self.peers.call(JoinRequest, "peer-a", VICTIM, swarmID="s", mode=PeerMode.SEED)

    def assertEnded(self) -> None:
        peers = self.peers
        self.assertIsNone(peers.peer("peer-a"))
        self.assertEqual(
            peers.call(KeepAliveRequest, "peer-a", VICTIM).code, ResponseCode.AUTHENTICATION_REQUIRED
        )
        self.assertEqual(
            peers.connect("peer-a", VICTIM, cer=self.credential).code,
            ResponseCode.AUTHENTICATION_REQUIRED,
        )

    def test_revokePeerID(self) -> None:
        """
        Revoking a PeerID ends its session at once (it leaves its swarms)
        and refuses its CONNECT, with any credential.
        """
        self.assertEqual(self.peers.result(self.peers.tracker.revoke(peerIDs=["peer-a"])), 1)
        self.assertEnded()
        self.assertEqual(
            self.peers.connect("peer-a", VICTIM, cer=issueToken(SECRET, "peer-a", 200_000)).code,
            ResponseCode.AUTHENTICATION_REQUIRED,
        )

    def test_revokeCredential(self) -> None:
        """
        Revoking a credential by its fingerprint ends the session it
        opened and refuses it; a fresh credential for the same PeerID is
        still accepted.
        """
        fingerprint = credentialFingerprint(self.credential.encode())
        self.assertEqual(self.peers.result(self.peers.tracker.revoke(fingerprints=[fingerprint])), 1)
        self.assertEnded()
        self.assertIsInstance(
            self.peers.connect("peer-a", VICTIM, cer=issueToken(SECRET, "peer-a", 200_000)),
            ConnectResponse,
        )

    def test_retryAfterRevocation(self) -> None:
        """
        A CONNECT repeated after its session was revoked is not answered
        from the retry cache (its answer holds the ended session's token):
        it is judged again, and refused.
        """
        peers = _Peers(self, lambda clock: TokenPeerChecker(SECRET, clock))
        request = ConnectRequest("again", "peer-a", cer=self.credential)
        first = peers.send(request, VICTIM)
        self.assertIsInstance(first, ConnectResponse)
        self.assertEqual(peers.result(peers.tracker.revoke(peerIDs=["peer-a"])), 1)
        self.assertEqual(peers.send(request, VICTIM).code, ResponseCode.AUTHENTICATION_REQUIRED)

    def test_retryAfterDisconnect(self) -> None:
        """
        Likewise after a DISCONNECT: the repeated CONNECT opens a new
        session with a new token instead of handing out the ended one.
        """
        peers = _Peers(self)
        request = ConnectRequest("again", "peer-o")
        first: Any = peers.send(request, VICTIM)
        peers.send(DisconnectRequest("bye", "peer-o", authToken=first.authToken), VICTIM)
        second: Any = peers.send(request, VICTIM)
        self.assertIsInstance(second, ConnectResponse)
        self.assertNotEqual(second.authToken, first.authToken)
        self.assertEqual(peers.registered("peer-o").token, second.authToken)

    def test_openScheme(self) -> None:
        """
        A PeerID can be revoked on an open tracker too.
        """
        peers = _Peers(self)
        peers.connect("peer-o", VICTIM)
        self.assertEqual(peers.result(peers.tracker.revoke(peerIDs=["peer-o"])), 1)
        self.assertIsNone(peers.peer("peer-o"))
        self.assertEqual(peers.connect("peer-o", VICTIM).code, ResponseCode.AUTHENTICATION_REQUIRED)

    def test_replaceRevocations(self) -> None:
        """
        Replacing the revocations (the file read again) lifts what is no
        longer listed.
        """
        tracker = self.peers.tracker
        self.assertEqual(self.peers.result(tracker.revoke(peerIDs=["peer-a"])), 1)
        self.assertEqual(self.peers.result(tracker.setRevocations(Revocations())), 0)
        self.assertIsInstance(self.peers.connect("peer-a", VICTIM, cer=self.credential), ConnectResponse)


class RevocationFileTests(SynchronousTestCase):
    """
    The revocation file: one PeerID, fingerprint or credential a line.
    """

    def write(self, text: str) -> str:
        path: str = self.mktemp()
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_entries(self) -> None:
        """
        C{peer:}, C{sha256:} (with or without colons, any case) and a
        C{ppsp1.} credential itself are read; comments and blank lines are
        skipped.
        """
        credential = issueToken(SECRET, "peer-c", 100)
        digest = credentialFingerprint(b"x")[len("sha256:"):]
        colons = ":".join(digest[i : i + 2] for i in range(0, 64, 2)).upper()
        revocations = Revocations.fromFile(
            self.write(f"# revoked\n\npeer:peer-a\nsha256:{colons}\n{credential}\n")
        )
        self.assertEqual(revocations.peerIDs, {"peer-a"})
        self.assertEqual(
            revocations.fingerprints,
            {"sha256:" + digest, credentialFingerprint(credential.encode())},
        )

    def test_badLine(self) -> None:
        """
        A line that is no entry is an error naming the file and the line.
        """
        path = self.write("peer:a\nsomething else\n")
        with self.assertRaises(ValueError) as e:
            Revocations.fromFile(path)
        self.assertIn(f"{path}:2:", str(e.exception))


class CertificateBindingTests(SynchronousTestCase):
    """
    A session opened over a TLS client certificate stays bound to it: its
    AuthToken alone is not enough over another connection.
    """

    def setUp(self) -> None:
        self.ca = TestCA()
        self.mine = self.ca.issue("peer-a")
        self.other = self.ca.issue("peer-b")
        self.peers = _Peers(
            self, lambda clock: X509PeerChecker(self.ca.certificate, clock), now=time.time()
        )
        self.origin = Origin("198.51.100.7", 40000, self.mine.der)
        self.assertIsInstance(self.peers.connect("peer-a", self.origin), ConnectResponse)

    def test_sameCertificate(self) -> None:
        """
        Requests over a connection with the session's certificate are
        served.
        """
        self.assertEqual(self.peers.call(KeepAliveRequest, "peer-a", self.origin).code, ResponseCode.OK)

    def test_otherOrNoCertificate(self) -> None:
        """
        The session's token over a connection with another certificate, or
        none, is MESSAGE FORBIDDEN, and the session is untouched.
        """
        deadline = self.peers.registered("peer-a").deadline
        self.peers.clock.advance(5)
        for origin in (Origin("198.51.100.7", 40001, self.other.der), Origin("198.51.100.7", 40002)):
            self.assertEqual(
                self.peers.call(KeepAliveRequest, "peer-a", origin).code, ResponseCode.MESSAGE_FORBIDDEN
            )
        self.assertEqual(self.peers.registered("peer-a").deadline, deadline)

    def test_sessionEndsWithCertificate(self) -> None:
        """
        The session ends when the certificate expires (7 days after it
        was made).
        """
        self.peers.clock.advance(7 * 86400 + 1)
        self.assertEqual(
            self.peers.call(KeepAliveRequest, "peer-a", self.origin).code,
            ResponseCode.AUTHENTICATION_REQUIRED,
        )


class RetryIdentityTests(SynchronousTestCase):
    """
    The retry cache answers a repeat only when it comes over a connection
    with the same TLS identity as the first request.
    """

    def test_otherCertificateNotAnswered(self) -> None:
        """
        A byte-identical CONNECT from the same address over another
        certificate, or over none, gets no cached answer: the checker
        judges it (and refuses it), and the victim's session is kept.
        """
        ca = TestCA()
        mine, other = ca.issue("peer-a"), ca.issue("peer-x")
        peers = _Peers(self, lambda clock: X509PeerChecker(ca.certificate, clock), now=time.time())
        request = ConnectRequest("same", "peer-a")
        first: Any = peers.send(request, Origin("198.51.100.7", 1, mine.der))
        self.assertIsInstance(first, ConnectResponse)
        for origin in (Origin("198.51.100.7", 2, other.der), Origin("198.51.100.7", 3)):
            answer = peers.send(request, origin)
            self.assertEqual(answer.code, ResponseCode.AUTHENTICATION_REQUIRED)
        again: Any = peers.send(request, Origin("198.51.100.7", 4, mine.der))
        self.assertEqual(again.authToken, first.authToken)
        self.assertEqual(peers.registered("peer-a").token, first.authToken)


class RefusedConnectLogTests(SynchronousTestCase):
    """
    Refused CONNECTs are logged at most once a second, with a count of
    those not logged.
    """

    def test_rateLimited(self) -> None:
        """
        A hundred refused CONNECTs within a second write one line; the
        first one after the second says how many were suppressed.
        """
        events: List[LogEvent] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        peers = _Peers(self, lambda clock: TokenPeerChecker(SECRET, clock))
        for i in range(100):
            self.assertEqual(
                peers.connect(f"p{i}", VICTIM, cer="nope").code, ResponseCode.AUTHENTICATION_REQUIRED
            )
        refused = [e for e in events if "CONNECT refused" in e.get("log_format", "")]
        self.assertEqual(len(refused), 1)
        peers.clock.advance(1)
        peers.connect("late", VICTIM, cer="nope")
        refused = [e for e in events if "CONNECT refused" in e.get("log_format", "")]
        self.assertEqual([e["suppressed"] for e in refused], [0, 99])


class StatPortTests(SynchronousTestCase):
    """
    A StatPort is 1024 to 65535 and never one of the tracker's own ports,
    unless the operator allows lower ports (PROTOCOL.md section 6).
    """

    def statPort(self, port: int, **config: Any) -> ResponseCode:
        peers = _Peers(self, **config)
        peers.tracker.ownPorts.add(7000)
        return peers.connect("p", VICTIM, statPort=port).code

    def test_range(self) -> None:
        """
        Ports below 1024 and the tracker's own port are INVALID SYNTAX;
        1024 and 65535 are accepted.
        """
        self.assertEqual(self.statPort(80), ResponseCode.INVALID_SYNTAX)
        self.assertEqual(self.statPort(1023), ResponseCode.INVALID_SYNTAX)
        self.assertEqual(self.statPort(7000), ResponseCode.INVALID_SYNTAX)
        self.assertEqual(self.statPort(1024), ResponseCode.OK)
        self.assertEqual(self.statPort(65535), ResponseCode.OK)

    def test_allowLowPorts(self) -> None:
        """
        With C{minStatPort=1} (C{--allow-low-stat-ports}) port 80 is
        accepted; the tracker's own port still is not.
        """
        self.assertEqual(self.statPort(80, minStatPort=1), ResponseCode.OK)
        self.assertEqual(self.statPort(7000, minStatPort=1), ResponseCode.INVALID_SYNTAX)



class RetryOverTLSTests(TestCase):
    """
    The retry-cache hole on a real TLS listener that asks for client
    certificates but serves clients without one (C{optional=yes}): a
    byte-identical CONNECT replayed from the same address over another
    identity must not receive the victim's AuthToken.
    """

    timeout = 30

    def setUp(self) -> None:
        from twisted.internet import reactor as _reactor

        reactor: Any = _reactor
        self.reactor = reactor
        self.ca = TestCA()
        context = serverOptions(self.ca, requireCertificate=False)
        self.tracker = Tracker(reactor, TrackerConfig(), checker=X509PeerChecker(self.ca.certificate, reactor))
        port = reactor.listenSSL(0, TrackerSite(TrackerResource(self.tracker)), context, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.port = port.getHost().port
        self.issued: dict[str, bytes] = {}

    def post(self, body: bytes, certificateOf: Optional[str]) -> "Deferred[bytes]":
        """
        POST C{body} over a new TLS connection showing a certificate issued
        for C{certificateOf} (none for L{None}); the raw answer.
        """
        from twisted.internet.endpoints import SSL4ClientEndpoint, connectProtocol
        from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS

        mine = None
        if certificateOf is not None:
            if certificateOf not in self.issued:
                self.issued[certificateOf] = self.ca.issue(certificateOf).pem
            mine = PrivateCertificate.loadPEM(self.issued[certificateOf])
        options = optionsForClientTLS(
            "localhost", trustRoot=Certificate.loadPEM(self.ca.certificate), clientCertificate=mine
        )
        client = RawClient(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Type: application/ppsp-tracker+xml\r\n"
            b"Content-Length: %d\r\n\r\n" % (len(body),) + body
        )
        endpoint = SSL4ClientEndpoint(self.reactor, "127.0.0.1", self.port, options)
        done: Deferred[bytes] = connectProtocol(endpoint, client).addCallback(lambda _: client.done)
        return done

    @inlineCallbacks
    def test_replayOverOtherIdentity(self) -> Any:
        """
        The victim's CONNECT (no Cer: its connection's certificate is its
        credential) is answered with a token; the same bytes from the same
        address over another peer's certificate, or over none, get
        AUTHENTICATION REQUIRED and no token; the victim, repeating its
        request over its own certificate, gets its answer again.
        """
        body = message("CONNECT", "replayed", "peer-a")
        first = yield self.post(body, "peer-a")
        peer = yield self.tracker.store.peer("peer-a")
        token = peer.token
        self.assertIn(token.encode(), first)
        for identity in ("peer-x", None):
            answer = yield self.post(body, identity)
            self.assertIn(b"AUTHENTICATION REQUIRED", answer)
            self.assertNotIn(token.encode(), answer)
        again = yield self.post(body, "peer-a")
        self.assertIn(token.encode(), again)
        peer = yield self.tracker.store.peer("peer-a")
        self.assertEqual(peer.token, token)


class FingerprintCommandTests(SynchronousTestCase):
    """
    C{python -m ppsp.auth fingerprint FILE} prints the fingerprint that
    revokes a credential: the one the tracker computes for the session it
    opened.
    """

    def fingerprintOf(self, data: bytes) -> tuple[int, str, str]:
        import io

        from ppsp import auth as cli

        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(data)
        out, err = io.StringIO(), io.StringIO()
        status = cli.main(["fingerprint", path], out, err=err)
        return status, out.getvalue().strip(), err.getvalue()

    def test_token(self) -> None:
        """
        The fingerprint of a credential file (as C{issue} writes it, with
        its newline) revokes the session that credential opened.
        """
        credential = issueToken(SECRET, "peer-a", 100_000)
        status, fingerprint, _ = self.fingerprintOf(credential.encode() + b"\n")
        self.assertEqual(status, 0)
        peers = _Peers(self, lambda clock: TokenPeerChecker(SECRET, clock))
        peers.connect("peer-a", VICTIM, cer=credential)
        self.assertEqual(peers.result(peers.tracker.revoke(fingerprints=[fingerprint])), 1)

    def test_certificate(self) -> None:
        """
        The fingerprint of a PEM certificate revokes the session it
        opened in the x509 scheme.
        """
        ca = TestCA()
        mine = ca.issue("peer-a")
        status, fingerprint, _ = self.fingerprintOf(mine.certificate)
        self.assertEqual(status, 0)
        peers = _Peers(self, lambda clock: X509PeerChecker(ca.certificate, clock), now=time.time())
        peers.connect("peer-a", Origin("198.51.100.7", 1, mine.der))
        self.assertEqual(peers.result(peers.tracker.revoke(fingerprints=[fingerprint])), 1)

    def test_neither(self) -> None:
        """
        Another file is a usage error (64) that says what it holds not.
        """
        status, _, err = self.fingerprintOf(b"hello")
        self.assertEqual(status, 64)
        self.assertIn("neither a PEM certificate nor a ppsp1. credential", err)


class CredentialRotationTests(SynchronousTestCase):
    """
    A peer whose credential file is replaced before its credential expires
    keeps being served: the tracker ends the old session at expiry, and
    the peer's service registers again with the credential the file holds
    now.
    """

    def test_rotation(self) -> None:
        """
        With a 100-second credential, then a fresh one written to the file,
        the peer is registered (in its swarm) again within seconds of the
        first credential's expiry.
        """
        from ppsp.peer.service import REGISTERED, PeerService
        from ppsp.testing import MemoryTracker

        clock = Clock()
        clock.advance(1000)
        fake = MemoryTracker(clock=clock, checker=TokenPeerChecker(SECRET, clock))
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(issueToken(SECRET, "peer-a", 1100) + "\n")
        client = fake.client("peer-a", credentialFile=path)
        service = PeerService(client, clock, ["s"])
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual(service.state, REGISTERED)
        with open(path, "w") as f:
            f.write(issueToken(SECRET, "peer-a", 100_000) + "\n")
        for _ in range(200):
            fake.advance(1)
        self.assertEqual(service.state, REGISTERED)
        peer = self.successResultOf(fake.tracker.store.peer("peer-a"))
        assert peer is not None
        self.assertIn("s", peer.swarms)
        assert isinstance(peer.identity, SessionIdentity)
        self.assertEqual(peer.identity.expires, 100_000)
