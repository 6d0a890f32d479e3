"""
Tests for authentication: the C{token} scheme (L{TokenPeerChecker},
L{issueToken}) and C{python -m ppsp.auth}.
"""

from __future__ import annotations

import base64
import io
import time
from typing import Any, Dict, List, cast

from twisted.cred.error import UnauthorizedLogin
from twisted.internet.task import Clock
from twisted.logger import ILogObserver, formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from ppsp import auth as cli
from ppsp.messages import ConnectRequest, ConnectResponse, ErrorResponse, ResponseCode
from ppsp.test.helpers import StoreReads
from ppsp.tracker.credentials import (
    PeerCredentials,
    TokenPeerChecker,
    X509PeerChecker,
    issueToken,
    readSecret,
)
from ppsp.tracker.core import Origin, Tracker

SECRET = b"0123456789abcdef-operator-secret"


class TokenCheckerTests(SynchronousTestCase):
    """
    L{TokenPeerChecker} accepts exactly the credentials issued for the
    PeerID, before they expire.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.checker = TokenPeerChecker(SECRET, self.clock)

    def check(self, peerID: str, cer: Any) -> Any:
        return self.checker.requestAvatarId(PeerCredentials(peerID, cer, "198.51.100.1"))

    def refused(self, peerID: str, cer: Any) -> str:
        return str(self.failureResultOf(self.check(peerID, cer), UnauthorizedLogin).value)

    def test_valid(self) -> None:
        """
        A credential issued for the PeerID is accepted, bound to it.
        """
        token = issueToken(SECRET, "peer-a", 1_000_100)
        self.assertEqual(self.successResultOf(self.check("peer-a", token)).peerID, "peer-a")

    def test_otherPeer(self) -> None:
        """
        Another peer's credential is refused.
        """
        token = issueToken(SECRET, "peer-a", 1_000_100)
        self.assertEqual(self.refused("peer-b", token), "credential is bound to another PeerID")

    def test_expired(self) -> None:
        """
        A credential is refused from its expiry on.
        """
        token = issueToken(SECRET, "peer-a", 1_000_100)
        self.clock.advance(100)
        self.assertEqual(self.refused("peer-a", token), "credential expired")

    def test_wrongSecret(self) -> None:
        """
        A credential signed with another secret, or altered, is refused.
        """
        other = issueToken(b"another-secret-of-16+bytes", "peer-a", 1_000_100)
        self.assertEqual(self.refused("peer-a", other), "credential signature does not verify")
        token = issueToken(SECRET, "peer-a", 1_000_100)
        version, peer, expires, signature = token.split(".")
        longer = ".".join([version, peer, str(int(expires) + 1000), signature])
        self.assertEqual(self.refused("peer-a", longer), "credential signature does not verify")

    def test_malformed(self) -> None:
        """
        No credential, or one that is not of this scheme, is refused.
        """
        self.assertEqual(self.refused("peer-a", None), "no credential")
        for bad in ("", "x", "ppsp1.a.b.c", "ppsp2.cGVlci1h.1.AA", "ppsp1.%%%.1.AA", "ppsp1.cGVlci1h.-1.AA"):
            self.assertIn(self.refused("peer-a", bad), ("no credential", "malformed credential"))

    def test_shortSecret(self) -> None:
        """
        A secret under 16 bytes is refused, when issuing and when checking.
        """
        self.assertRaises(ValueError, TokenPeerChecker, b"short", self.clock)
        self.assertRaises(ValueError, issueToken, b"short", "peer-a", 1)

    def test_readSecret(self) -> None:
        """
        L{readSecret} strips white space and refuses short secrets.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(SECRET + b"\n")
        self.assertEqual(readSecret(path), SECRET)
        with open(path, "wb") as f:
            f.write(b"short\n")
        self.assertRaises(ValueError, readSecret, path)


class ClosedTrackerTests(SynchronousTestCase):
    """
    A tracker with the token scheme: only credential holders CONNECT, and
    credentials never reach the log.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.tracker = Tracker(self.clock, checker=TokenPeerChecker(SECRET, self.clock))
        self.events: List[Dict[str, Any]] = []
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    def connect(self, peerID: str, cer: Any, ip: str = "198.51.100.1") -> Any:
        return self.successResultOf(self.tracker.handle(ConnectRequest("t", peerID, cer=cer), Origin(ip, 4000)))

    def test_onlyWithCredential(self) -> None:
        """
        CONNECT without a credential or with another peer's is
        AUTHENTICATION REQUIRED; with its own it succeeds.
        """
        token = issueToken(SECRET, "peer-a", 1_000_100)
        for peerID, cer in (("peer-a", None), ("peer-b", token)):
            response = self.connect(peerID, cer)
            self.assertIsInstance(response, ErrorResponse)
            self.assertEqual(response.code, ResponseCode.AUTHENTICATION_REQUIRED)
        self.assertIsNone(StoreReads(self, self.tracker.store).peer("peer-b"))
        self.assertIsInstance(self.connect("peer-a", token), ConnectResponse)

    def test_credentialTakesOver(self) -> None:
        """
        The credential holder gets its PeerID back from another address at
        once (a restarted peer), which the open scheme allows only from the
        same address.
        """
        token = issueToken(SECRET, "peer-a", 1_000_100)
        first = self.connect("peer-a", token)
        second = self.connect("peer-a", token, ip="203.0.113.9")
        self.assertIsInstance(second, ConnectResponse)
        self.assertNotEqual(first.authToken, second.authToken)

    def test_credentialNotLogged(self) -> None:
        """
        A refused CONNECT is logged with its reason, never its credential.
        """
        token = issueToken(SECRET, "peer-a", 1_000_100)
        self.connect("peer-b", token)
        text = " ".join(formatEvent(e) + repr(e) for e in self.events)
        self.assertIn("CONNECT refused for peer-b", text)
        self.assertNotIn(token, text)
        self.assertNotIn(token.split(".")[3], text)


class CommandLineTests(SynchronousTestCase):
    """
    C{python -m ppsp.auth}.
    """

    def test_issue(self) -> None:
        """
        C{issue} prints a credential that the checker accepts for that
        PeerID until the TTL ends.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(SECRET)
        out = io.StringIO()
        status = cli.main(["issue", "--secret-file", path, "--peer-id", "peer-a", "--ttl", "60"], out, now=500.0)
        self.assertEqual(status, 0)
        token = out.getvalue().strip()
        clock = Clock()
        clock.advance(550)
        checker = TokenPeerChecker(SECRET, clock)
        d = checker.requestAvatarId(PeerCredentials("peer-a", token, "x"))
        self.assertEqual(self.successResultOf(d).peerID, "peer-a")
        clock.advance(10)
        d = checker.requestAvatarId(PeerCredentials("peer-a", token, "x"))
        self.failureResultOf(d, UnauthorizedLogin)

    def test_newSecret(self) -> None:
        """
        C{new-secret} prints a secret long enough for the scheme.
        """
        out = io.StringIO()
        self.assertEqual(cli.main(["new-secret"], out), 0)
        self.assertGreaterEqual(len(out.getvalue().strip()), 32)

    def test_usage(self) -> None:
        """
        Missing or bad options exit 64.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"short")
        for argv in ([], ["issue", "--peer-id", "a"], ["issue", "--secret-file", path, "--peer-id", "a"]):
            err = io.StringIO()
            self.assertEqual(cli.main(argv, io.StringIO(), err=err), 64)
            self.assertIn("Error: ", err.getvalue())


class X509CheckerTests(SynchronousTestCase):
    """
    L{X509PeerChecker}: the certificate in C{<Cer>} must be the
    connection's, issued by the CA, valid now and bound to the PeerID.
    """

    def setUp(self) -> None:
        from ppsp.test.certs import TestCA

        self.ca = TestCA()
        self.clock = Clock()
        self.clock.advance(time.time())
        self.checker = X509PeerChecker(self.ca.certificate, self.clock)
        self.mine = self.ca.issue("peer-a")

    def check(self, peerID: str, cer: Any, connection: Any) -> Any:
        return self.checker.requestAvatarId(PeerCredentials(peerID, cer, "192.0.2.1", connection))

    def refused(self, peerID: str, cer: Any, connection: Any) -> str:
        return str(self.failureResultOf(self.check(peerID, cer, connection), UnauthorizedLogin).value)

    def test_pemAndDer(self) -> None:
        """
        The connection's certificate, in PEM or base64 DER, speaks for the
        PeerID of its common name.
        """
        pem = self.mine.certificate.decode("ascii")
        der = base64.b64encode(self.mine.der).decode("ascii")
        for cer in (pem, der):
            self.assertEqual(self.successResultOf(self.check("peer-a", cer, self.mine.der)).peerID, "peer-a")

    def test_connectionCertificateAlone(self) -> None:
        """
        Without C{<Cer>}, the connection's certificate is checked.
        """
        self.assertEqual(self.successResultOf(self.check("peer-a", None, self.mine.der)).peerID, "peer-a")

    def test_uriBinding(self) -> None:
        """
        A C{urn:ppsp:peer:} URI name binds the PeerID, and then the common
        name does not.
        """
        cert = self.ca.issue("operator-x", uri="urn:ppsp:peer:peer-b")
        self.assertEqual(self.successResultOf(self.check("peer-b", None, cert.der)).peerID, "peer-b")
        self.assertEqual(self.refused("operator-x", None, cert.der), "the certificate is bound to another PeerID")

    def test_otherPeer(self) -> None:
        """
        A certificate for another PeerID is refused.
        """
        self.assertEqual(self.refused("peer-b", None, self.mine.der), "the certificate is bound to another PeerID")

    def test_notTheConnections(self) -> None:
        """
        A C{<Cer>} that is not the connection's certificate is refused (the
        peer would not prove it holds the key).
        """
        other = self.ca.issue("peer-a")
        self.assertEqual(
            self.refused("peer-a", other.certificate.decode("ascii"), self.mine.der),
            "the credential is not the connection's certificate",
        )

    def test_noTLSCertificate(self) -> None:
        """
        Without a TLS client certificate nothing is accepted.
        """
        self.assertEqual(
            self.refused("peer-a", self.mine.certificate.decode("ascii"), None),
            "no TLS client certificate on this connection",
        )

    def test_otherCA(self) -> None:
        """
        A certificate from another CA is refused.
        """
        from ppsp.test.certs import TestCA

        stranger = TestCA("stranger").issue("peer-a")
        self.assertEqual(self.refused("peer-a", None, stranger.der), "the certificate is not issued by a trusted CA")

    def test_expired(self) -> None:
        """
        A certificate past its validity is refused.
        """
        self.clock.advance(8 * 86400)
        self.assertEqual(self.refused("peer-a", None, self.mine.der), "the certificate is not valid now")

    def test_garbage(self) -> None:
        """
        A C{<Cer>} that is no certificate is refused.
        """
        self.assertEqual(self.refused("peer-a", "not a cert!", self.mine.der), "the credential is not a certificate")


class JSONAuthorizationTests(SynchronousTestCase):
    """
    RFC 7846 peers present their credential as C{Authorization: Bearer}
    on CONNECT, with every authentication scheme.
    """

    def test_tokenInBearer(self) -> None:
        """
        A closed tracker (token scheme) registers a JSON peer whose first
        CONNECT carries its credential in the C{Authorization} header, and
        refuses one without (error 06, HTTP 401).
        """
        from ppsp.codec import JSON_CODEC
        from ppsp.messages import PeerMode, PPSTPConnectResponse
        from ppsp.peer import AuthenticationRequired
        from ppsp.testing import MemoryTracker

        fake = MemoryTracker()
        fake.tracker.checker = TokenPeerChecker(SECRET, fake.clock)
        fake.clock.advance(1_000_000)
        credential = issueToken(SECRET, "j", 1_000_100)
        good = fake.client("j", codec=JSON_CODEC, cer=credential)
        response = self.successResultOf(good.connect(swarms={"s": PeerMode.LEECH}))
        self.assertIsInstance(response, PPSTPConnectResponse)
        self.assertIn("s", StoreReads(self, fake.tracker.store).registered("j").swarms)
        self.successResultOf(good.keepAlive())
        bad = fake.client("k", codec=JSON_CODEC)
        self.failureResultOf(bad.connect(swarms={"s": PeerMode.LEECH}), AuthenticationRequired)
        self.assertIsNone(StoreReads(self, fake.tracker.store).peer("k"))
