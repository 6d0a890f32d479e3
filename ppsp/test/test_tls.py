"""
Tests for L{ppsp.tracker.tls}: the C{mtls:} server endpoint string, which
requires (or requests) TLS client certificates, parsed in memory, served
on real sockets to L{TrackerClient}s, and used by real C{twistd}
processes.  Every certificate is made at run time by a private CA.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.cred.checkers import ICredentialsChecker
from twisted.internet import reactor as _reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import SSL4ServerEndpoint, serverFromString
from twisted.internet.error import ProcessTerminated
from twisted.internet.interfaces import IStreamServerEndpointStringParser
from twisted.internet.protocol import Factory
from twisted.internet.ssl import Certificate, PrivateCertificate
from twisted.internet.testing import MemoryReactor
from twisted.logger import capturedLogs
from twisted.plugin import IPlugin, getPlugins
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from ppsp.peer import (
    AuthenticationRequired,
    TLSPolicy,
    TrackerClient,
    TrackerUnavailable,
    makeHTTPClient,
)
from ppsp.test.certs import Issued, TestCA
from ppsp.test.test_twistd import BIN, Process, spawn
from ppsp.tracker import Tracker, TrackerConfig, TrackerResource, TrackerSite
from ppsp.tracker.credentials import X509PeerChecker
from ppsp.tracker.tls import MutualTLSServerParser, mutualTLSOptions

reactor: Any = _reactor


def escape(path: str) -> str:
    """
    C{path} as a value in an endpoint string, where C{:} and C{\\} are
    escaped with a backslash.
    """
    return path.replace("\\", "\\\\").replace(":", "\\:")


class Files:
    """
    A private CA and the PEM files of a tracker and two peers, written
    under a fresh directory of a test.

    @ivar paths: each file's absolute path by name: C{ca.pem} (the CA's
        certificate), C{server.key}, C{server.pem} (the tracker's
        certificate, for C{localhost} and C{127.0.0.1}), C{server-full.pem}
        (certificate then key), C{peer-a.pem} and C{peer-b.pem} (each
        peer's certificate, bound to its PeerID, then its key).
    """

    def __init__(self, testCase: Any) -> None:
        self.directory = FilePath(testCase.mktemp())
        self.directory.makedirs()
        self.ca = TestCA()
        self.server = self.ca.issue("localhost", dnsName="localhost", ip="127.0.0.1")
        self.peers: Dict[str, Issued] = {
            peerID: self.ca.issue(peerID, uri=f"urn:ppsp:peer:{peerID}")
            for peerID in ("peer-a", "peer-b")
        }
        self.paths: Dict[str, str] = {}
        self.write("ca.pem", self.ca.certificate)
        self.write("server.key", self.server.key)
        self.write("server.pem", self.server.certificate)
        self.write("server-full.pem", self.server.pem)
        for peerID, issued in self.peers.items():
            self.write(f"{peerID}.pem", issued.pem)

    def write(self, name: str, content: bytes) -> str:
        """
        Write a file of the directory; return its absolute path.
        """
        child = self.directory.child(name)
        child.setContent(content)
        self.paths[name] = os.path.abspath(child.path)
        return self.paths[name]

    def description(self, **extra: str) -> str:
        """
        An C{mtls:} string for the tracker's files on port 0 of 127.0.0.1,
        with C{extra} parameters (C{port} among them; files are named by
        their name here).
        """
        port = extra.pop("port", "0")
        parameters = {
            "privateKey": self.paths["server.key"],
            "certKey": self.paths["server.pem"],
            "caCerts": self.paths["ca.pem"],
            "interface": "127.0.0.1",
        }
        parameters.update({k: self.paths.get(v, v) for k, v in extra.items()})
        return f"mtls:{port}:" + ":".join(f"{k}={escape(v)}" for k, v in parameters.items())


def der(certificate: Any) -> bytes:
    """
    The DER bytes of a pyOpenSSL or PEM certificate.
    """
    if isinstance(certificate, bytes):
        return x509.load_pem_x509_certificate(certificate).public_bytes(serialization.Encoding.DER)
    return certificate.to_cryptography().public_bytes(serialization.Encoding.DER)  # type: ignore[no-any-return]


def endEntity() -> bytes:
    """
    A self-signed certificate whose basic constraints say it is not a
    CA's, in PEM.
    """
    import datetime

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not a CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


class ParserTests(SynchronousTestCase):
    """
    The C{mtls:} string, parsed with a L{MemoryReactor}.
    """

    def setUp(self) -> None:
        self.files = Files(self)

    def parse(self, description: str) -> Any:
        """
        The endpoint that C{description} describes, as
        L{serverFromString} finds it.
        """
        return serverFromString(MemoryReactor(), description)

    def refusal(self, description: str) -> str:
        """
        The message of the L{ValueError} that parsing C{description} raises.
        """
        return str(self.assertRaises(ValueError, self.parse, description))

    def test_pluginRegistered(self) -> None:
        """
        The dropin makes C{mtls} one of the server endpoint string parsers
        that Twisted's plugin system finds, and it and
        L{MutualTLSServerParser} provide the plugin interfaces.
        """
        parsers = [
            p for p in getPlugins(IStreamServerEndpointStringParser) if p.prefix == "mtls"
        ]
        self.assertEqual(len(parsers), 1)
        for parser in (parsers[0], MutualTLSServerParser()):
            self.assertTrue(verifyObject(IStreamServerEndpointStringParser, parser))
            self.assertTrue(IPlugin.providedBy(parser))

    def test_requiresClientCertificates(self) -> None:
        """
        An C{mtls:} string is an L{SSL4ServerEndpoint} on its port,
        interface and backlog, whose TLS options serve the certificate and
        key of the files and verify client certificates against the
        C{caCerts} CA, requiring one.
        """
        memory = MemoryReactor()
        endpoint = serverFromString(memory, self.files.description(port="7443", backlog="7"))
        self.assertIsInstance(endpoint, SSL4ServerEndpoint)
        factory = Factory()
        endpoint.listen(factory)
        [(port, listened, options, backlog, interface)] = memory.sslServers
        self.assertEqual((port, listened, backlog, interface), (7443, factory, 7, "127.0.0.1"))
        self.assertTrue(options.verify)
        self.assertTrue(options.requireCertificate)
        self.assertEqual([der(c) for c in options.caCerts], [der(self.files.ca.certificate)])
        self.assertEqual(der(options.certificate), der(self.files.server.certificate))
        self.assertEqual(
            options.privateKey.to_cryptography_key().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ),
            self.files.server.key,
        )
        self.assertEqual(options.extraCertChain, [])
        options.getContext()

    def test_optional(self) -> None:
        """
        With C{optional=yes} the listener still verifies a certificate it
        is shown, but serves clients that show none; C{optional=no} is the
        default.
        """
        self.assertFalse(self.parse(self.files.description(optional="yes"))._sslContextFactory.requireCertificate)
        self.assertTrue(self.parse(self.files.description(optional="no"))._sslContextFactory.requireCertificate)
        options = self.parse(self.files.description(optional="YES"))._sslContextFactory
        self.assertTrue(options.verify)
        self.assertFalse(options.requireCertificate)

    def test_oneFile(self) -> None:
        """
        Without C{certKey}, the C{privateKey} file holds the certificate
        and the key, as with C{ssl:}.
        """
        description = (
            f"mtls:0:privateKey={escape(self.files.paths['server-full.pem'])}"
            f":caCerts={escape(self.files.paths['ca.pem'])}"
        )
        options = self.parse(description)._sslContextFactory
        self.assertEqual(der(options.certificate), der(self.files.server.certificate))

    def test_escapedColon(self) -> None:
        """
        A file name with a colon, escaped as C{\\:} in the description as
        the TLS page of the documentation says, names the file.
        """
        path = self.files.write("tracker:7443.pem", self.files.server.pem)
        self.assertIn("\\:", escape(path))
        options = self.parse(self.files.description(privateKey=path, certKey=path))._sslContextFactory
        self.assertEqual(der(options.certificate), der(self.files.server.certificate))

    def test_chain(self) -> None:
        """
        C{extraCertChain} names the intermediate certificates sent after
        the server's; certificates after the first one of the C{certKey}
        file (a "full chain" file) are sent too.
        """
        intermediate = TestCA("intermediate").certificate
        self.files.write("chain.pem", intermediate)
        self.files.write("fullchain.pem", self.files.server.certificate + intermediate)
        options = self.parse(self.files.description(extraCertChain="chain.pem"))._sslContextFactory
        self.assertEqual([der(c) for c in options.extraCertChain], [der(intermediate)])
        options = self.parse(self.files.description(certKey="fullchain.pem"))._sslContextFactory
        self.assertEqual(der(options.certificate), der(self.files.server.certificate))
        self.assertEqual([der(c) for c in options.extraCertChain], [der(intermediate)])

    def test_severalAuthorities(self) -> None:
        """
        The C{caCerts} file may hold several CA certificates: each one
        issues client certificates.
        """
        other = TestCA("another CA").certificate
        self.files.write("cas.pem", self.files.ca.certificate + other)
        options = self.parse(self.files.description(caCerts="cas.pem"))._sslContextFactory
        self.assertEqual(
            [der(c) for c in options.caCerts], [der(self.files.ca.certificate), der(other)]
        )

    def test_missingFiles(self) -> None:
        """
        A file that does not exist is refused with a message that names
        the parameter and the file.
        """
        missing = os.path.abspath(self.mktemp())
        for parameter in ("privateKey", "certKey", "caCerts", "extraCertChain"):
            message = self.refusal(self.files.description(**{parameter: missing}))
            self.assertIn(f"cannot read the {parameter} file {missing!r}", message)

    def test_wrongContents(self) -> None:
        """
        A key that is not the certificate's, a file without the key or the
        certificate it should hold, a C{caCerts} certificate that is not a
        CA's and an encrypted key are each refused, naming the file.
        """
        paths = self.files.paths
        other = self.files.ca.issue("other")
        self.files.write("other.key", other.key)
        self.files.write("garbage.pem", b"not PEM at all\n")
        self.files.write("leaf.pem", endEntity())
        self.files.write(
            "encrypted.key",
            serialization.load_pem_private_key(self.files.server.key, None).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            ),
        )
        cases = [
            ({"privateKey": "other.key"}, f"the private key in {paths['other.key']!r} does not match the certificate in {paths['server.pem']!r}"),
            ({"privateKey": "server.pem"}, f"the privateKey file {paths['server.pem']!r} holds no PEM private key"),
            ({"privateKey": "encrypted.key"}, f"the private key in {paths['encrypted.key']!r} is encrypted"),
            ({"certKey": "server.key"}, f"the certKey file {paths['server.key']!r} holds no PEM certificate"),
            ({"caCerts": "garbage.pem"}, f"the caCerts file {paths['garbage.pem']!r} holds no PEM certificate"),
            ({"caCerts": "leaf.pem"}, f"the caCerts file {paths['leaf.pem']!r} holds a certificate that is not a CA's"),
            ({"extraCertChain": "garbage.pem"}, f"the extraCertChain file {paths['garbage.pem']!r} holds no PEM certificate"),
        ]
        for extra, expected in cases:
            self.assertIn(expected, self.refusal(self.files.description(**extra)), extra)

    def test_wrongParameters(self) -> None:
        """
        A missing C{privateKey} or C{caCerts}, an unknown parameter, a port
        that is not a number or out of range, a second positional argument
        and an C{optional} that is neither yes nor no are refused.
        """
        paths = self.files.paths
        key, ca = escape(paths["server-full.pem"]), escape(paths["ca.pem"])
        cases = [
            (f"mtls:0:privateKey={key}", "caCerts=FILE is required"),
            (f"mtls:0:caCerts={ca}", "privateKey=FILE is required"),
            (f"mtls:0:privateKey={key}:caCerts={ca}:verify=no", "unknown parameter(s) verify"),
            (f"mtls:https:privateKey={key}:caCerts={ca}", "the port and the backlog must be whole numbers"),
            (f"mtls:70000:privateKey={key}:caCerts={ca}", "port 70000 is out of range"),
            (f"mtls:0:1:privateKey={key}:caCerts={ca}", "give exactly one port"),
            (f"mtls:privateKey={key}:caCerts={ca}", "give exactly one port"),
            (f"mtls:0:privateKey={key}:caCerts={ca}:optional=maybe", "optional='maybe' is not yes or no"),
        ]
        for description, expected in cases:
            self.assertIn(expected, self.refusal(description), description)

    def test_mutualTLSOptions(self) -> None:
        """
        L{mutualTLSOptions} builds the same options from file names, for
        an application that listens by itself.
        """
        paths = self.files.paths
        options = mutualTLSOptions(paths["server.key"], paths["ca.pem"], certKey=paths["server.pem"], optional=True)
        self.assertTrue(options.verify)
        self.assertFalse(options.requireCertificate)
        self.assertEqual(der(options.certificate), der(self.files.server.certificate))

    def test_trackerListenOption(self) -> None:
        """
        C{twistd ppsp-tracker --listen} accepts an C{mtls:} string, and a
        file it cannot use is a usage error that names the file.
        """
        from ppsp.tracker.tap import Options

        Options().parseOptions(["--listen", self.files.description()])
        missing = os.path.abspath(self.mktemp())
        error = self.assertRaises(
            usage.UsageError, Options().parseOptions, ["--listen", self.files.description(caCerts=missing)]
        )
        self.assertIn("--listen", str(error))
        self.assertIn(f"cannot read the caCerts file {missing!r}", str(error))


class ConnectionTests(TestCase):
    """
    A tracker served on 127.0.0.1 through an C{mtls:} string, and
    L{TrackerClient}s that trust the private CA (or not) and show a client
    certificate (or not).
    """

    timeout = 30

    def setUp(self) -> None:
        self.files = Files(self)

    def serve(self, checker: Optional[ICredentialsChecker] = None, **extra: str) -> Any:
        """
        Serve a tracker through the C{mtls:} string of the files and
        C{extra}; set C{self.url}.

        @return: a L{Deferred} that fires with the tracker.
        """
        tracker = Tracker(reactor, TrackerConfig(), checker=checker)
        endpoint = serverFromString(reactor, self.files.description(**extra))
        d = endpoint.listen(TrackerSite(TrackerResource(tracker)))

        def listening(port: Any) -> Tracker:
            self.addCleanup(port.stopListening)
            self.url = f"https://localhost:{port.getHost().port}/"
            return tracker

        return d.addCallback(listening)

    def client(
        self, peerID: str, certificate: Optional[Issued] = None, trust: Optional[bytes] = None
    ) -> TrackerClient:
        """
        A client that trusts the private CA (or the CA certificate
        C{trust}) and shows C{certificate}, if any; its pool is closed
        after the test.
        """
        policy = TLSPolicy(
            Certificate.loadPEM(trust if trust is not None else self.files.ca.certificate),
            PrivateCertificate.loadPEM(certificate.pem) if certificate is not None else None,
        )
        http, pool = makeHTTPClient(reactor, policy)
        self.addCleanup(pool.closeCachedConnections)
        return TrackerClient(http, self.url, peerID, reactor, attempts=1, timeout=10)

    @inlineCallbacks
    def test_clientCertificate(self) -> Any:
        """
        A peer that trusts the private CA and shows a client certificate
        the CA issued connects.
        """
        tracker = yield self.serve()
        response = yield self.client("peer-a", self.files.peers["peer-a"]).connect()
        self.assertTrue(response.authToken)
        self.assertIsNotNone((yield tracker.store.peer("peer-a")))

    @inlineCallbacks
    def test_quietConnections(self) -> Any:
        """
        The connections of L{makeHTTPClient}, over TLS too, log nothing
        when they open: no C{Starting factory} line for each connection
        to the tracker.
        """
        yield self.serve()
        client = self.client("peer-a", self.files.peers["peer-a"])
        with capturedLogs() as events:
            response = yield client.connect()
        self.assertTrue(response.authToken)
        self.assertEqual([e for e in events if "factory" in e.get("log_format", "")], [])

    @inlineCallbacks
    def test_noClientCertificate(self) -> Any:
        """
        A peer that shows no client certificate is refused in the TLS
        handshake: no request reaches the tracker.
        """
        tracker = yield self.serve()
        with self.assertRaises(TrackerUnavailable):
            yield self.client("peer-a").connect()
        self.assertIsNone((yield tracker.store.peer("peer-a")))

    @inlineCallbacks
    def test_foreignClientCertificate(self) -> Any:
        """
        A client certificate that another CA issued is refused, even by a
        listener with C{optional=yes}.
        """
        stranger = TestCA("stranger").issue("peer-a", uri="urn:ppsp:peer:peer-a")
        tracker = yield self.serve(optional="yes")
        with self.assertRaises(TrackerUnavailable):
            yield self.client("peer-a", stranger).connect()
        self.assertIsNone((yield tracker.store.peer("peer-a")))

    @inlineCallbacks
    def test_untrustedTracker(self) -> Any:
        """
        A peer that does not trust the private CA refuses the tracker's
        certificate, client certificate or not.
        """
        tracker = yield self.serve()
        other = TestCA("another CA").certificate
        with self.assertRaises(TrackerUnavailable) as raised:
            yield self.client("peer-a", self.files.peers["peer-a"], trust=other).connect()
        self.assertIn("certificate verify failed", str(raised.exception))
        self.assertIsNone((yield tracker.store.peer("peer-a")))

    @inlineCallbacks
    def test_optional(self) -> Any:
        """
        With C{optional=yes}, a peer without a client certificate is
        served, and so is one with a certificate the CA issued.
        """
        tracker = yield self.serve(optional="yes")
        yield self.client("peer-a").connect()
        yield self.client("peer-b", self.files.peers["peer-b"]).connect()
        self.assertIsNotNone((yield tracker.store.peer("peer-a")))
        self.assertIsNotNone((yield tracker.store.peer("peer-b")))

    @inlineCallbacks
    def test_x509Authentication(self) -> Any:
        """
        Behind an C{mtls:} listener, the x509 scheme binds each peer to the
        PeerID of its certificate's URI SAN: peer-a's certificate lets it
        CONNECT as peer-a, not as peer-b; on an C{optional=yes} listener a
        peer without a certificate gets AUTHENTICATION REQUIRED.
        """
        checker = X509PeerChecker(self.files.ca.certificate, reactor)
        tracker = yield self.serve(checker=checker, optional="yes")
        peerA = self.files.peers["peer-a"]
        yield self.client("peer-a", peerA).connect()
        self.assertIsNotNone((yield tracker.store.peer("peer-a")))
        with self.assertRaises(AuthenticationRequired):
            yield self.client("peer-b", peerA).connect()
        with self.assertRaises(AuthenticationRequired):
            yield self.client("peer-b").connect()
        self.assertIsNone((yield tracker.store.peer("peer-b")))


class ProcessTests(TestCase):
    """
    A real C{twistd ppsp-tracker} listening with C{mtls:}, and a real
    C{twistd ppsp-peer} that trusts the private CA and shows its client
    certificate.
    """

    timeout = 90

    def setUp(self) -> None:
        self.files = Files(self)

    def spawn(self, *args: str) -> Process:
        """
        Start C{twistd -n ARGS}; it is stopped after the test.
        """
        process = Process()
        spawn(self, process, [os.path.join(BIN, "twistd"), "-n", "--pidfile=", *args])
        return process

    def peer(self, url: str, *extra: str) -> Process:
        """
        Start peer-a for swarm C{live}, trusting the private CA.
        """
        return self.spawn(
            "ppsp-peer",
            "--tracker", url,
            "--trust-root", self.files.paths["ca.pem"],
            "--peer-id", "peer-a",
            "--swarm", "live",
            *extra,
        )

    @inlineCallbacks
    def startTracker(self, *extra: str) -> Any:
        """
        Start a tracker on an C{mtls:} port 0 of 127.0.0.1; fire with its
        URL once it logs the port it listens on.
        """
        tracker = self.spawn("ppsp-tracker", "--listen", self.files.description(), *extra)
        match = yield tracker.waitFor(rb"PPSP tracker listening on 127\.0\.0\.1:(\d+) \(mtls:0:")
        port = int(match.group(1))
        self.assertNotEqual(port, 0)
        return f"https://localhost:{port}/"

    @inlineCallbacks
    def test_peerRegisters(self) -> Any:
        """
        The tracker logs the real port of its C{mtls:} listener, and a
        peer with C{--trust-root} and C{--client-certificate} registers
        over it.
        """
        url = yield self.startTracker()
        peer = self.peer(url, "--client-certificate", self.files.paths["peer-a.pem"])
        yield peer.waitFor(rb"peer-a registered with the tracker")

    @inlineCallbacks
    def test_peerWithoutCertificate(self) -> Any:
        """
        A peer without C{--client-certificate} finds the tracker
        unreachable.
        """
        url = yield self.startTracker()
        peer = self.peer(url, "--timeout", "5")
        yield peer.waitFor(rb"is unreachable")
        self.assertNotIn(b"registered with the tracker", peer.output)

    @inlineCallbacks
    def test_closedTracker(self) -> Any:
        """
        A tracker with C{--auth x509:ca.pem} behind an C{mtls:} listener
        registers a peer whose certificate names its PeerID.
        """
        url = yield self.startTracker("--auth", "x509:" + self.files.paths["ca.pem"])
        peer = self.peer(url, "--client-certificate", self.files.paths["peer-a.pem"])
        yield peer.waitFor(rb"peer-a registered with the tracker")

    @inlineCallbacks
    def test_badFile(self) -> Any:
        """
        C{twistd ppsp-tracker --listen mtls:...} with a file it cannot read
        exits with status 64 (a usage error) and names the file.
        """
        missing = os.path.abspath(self.mktemp())
        tracker = self.spawn("ppsp-tracker", "--listen", self.files.description(caCerts=missing))
        reason = yield tracker.ended
        self.assertIsInstance(reason, ProcessTerminated)
        self.assertEqual(reason.exitCode, os.EX_USAGE, tracker.output)
        self.assertIn(f"cannot read the caCerts file {missing!r}".encode(), tracker.output)

