"""
Tests for C{twistd ppsp-peer}'s options and the service they build
(L{ppsp.peer.tap}).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from ppsp._options import parseAddress, parseSwarm
from ppsp.messages import PeerAddress, PeerMode, Stat
from ppsp.peer.tap import Options, PeerDaemon, makeService
from ppsp.test.certs import TestCA

BASE = ["--tracker", "http://127.0.0.1:7000/", "--peer-id", "peer-a"]


def parse(*argv: str) -> Options:
    options = Options()
    options.parseOptions([*BASE, *argv])
    return options


class OptionTests(SynchronousTestCase):
    """
    The command line, value by value.
    """

    def test_swarms(self) -> None:
        """
        C{--swarm} repeats; C{:MODE} sets the mode (LEECH by default), and
        a SwarmID with a colon is given with its mode.
        """
        options = parse("--swarm", "live", "--swarm", "vod:SEED", "-s", "a:b:liveseed", "-s", "x:y:LEECH")
        self.assertEqual(
            options["swarms"],
            {"live": PeerMode.LEECH, "vod": PeerMode.SEED, "a:b": PeerMode.LIVESEED, "x:y": PeerMode.LEECH},
        )

    def test_addresses(self) -> None:
        """
        C{--address} takes IPv4 and bracketed IPv6 addresses with a port.
        """
        options = parse("--address", "198.51.100.7:7000", "--address", "[2001:db8::1]:7000")
        self.assertEqual(
            options["addresses"],
            [PeerAddress("198.51.100.7", 7000), PeerAddress("2001:db8::1", 7000)],
        )

    def test_stats(self) -> None:
        """
        C{--stat NAME=VALUE} repeats.
        """
        options = parse("--stat", "UploadBandwidth=2000", "--stat", "AbilityNAT=STUN")
        self.assertEqual(
            options["stats"], [Stat("UploadBandwidth", "2000"), Stat("AbilityNAT", "STUN")]
        )

    def test_cer(self) -> None:
        """
        C{--cer FILE} reads the credential, without surrounding white space.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("  secret-credential\n")
        self.assertEqual(parse("--cer", path)["credential"], "secret-credential")

    def test_tls(self) -> None:
        """
        C{--trust-root} and C{--client-certificate} load PEM files.
        """
        ca = TestCA()
        trust, mine = self.mktemp(), self.mktemp()
        with open(trust, "wb") as f:
            f.write(ca.certificate)
        with open(mine, "wb") as f:
            f.write(ca.issue("peer-a").pem)
        tls = parse("--trust-root", trust, "--client-certificate", mine)["tls"]
        self.assertIsNotNone(tls.trustRoot)
        self.assertIsNotNone(tls.clientCertificate)

    def test_errors(self) -> None:
        """
        Every bad value is a usage error naming the option.
        """
        missing = self.mktemp()
        cases = [
            ["--peer-id", "p"],
            ["--tracker", "http://t/"],
            ["--tracker", "ftp://t/", "--peer-id", "p"],
            [*BASE, "--address", "198.51.100.7"],
            [*BASE, "--address", "host:80"],
            [*BASE, "--address", "198.51.100.7:0"],
            [*BASE, "--stat", "novalue"],
            [*BASE, "--stat-listen", "nonsense:1"],
            [*BASE, "--cer", missing],
            [*BASE, "--trust-root", missing],
            [*BASE, "--find-interval", "-1"],
            [*BASE, "--swarm", " bad"],
            [*BASE, "--peer-num", "0"],
        ]
        for argv in cases:
            self.assertRaises(usage.UsageError, Options().parseOptions, argv)

    def test_parsers(self) -> None:
        """
        The value parsers refuse what is not theirs.
        """
        self.assertRaises(ValueError, parseAddress, "[::1]")
        self.assertEqual(parseSwarm("s:seed"), ("s", PeerMode.SEED))


class ServiceTests(SynchronousTestCase):
    """
    The service the options build, on a memory reactor.
    """

    def test_statListenerAnnouncesPort(self) -> None:
        """
        With C{--stat-listen}, the daemon listens first and the peer then
        announces the listening port as its StatPort.
        """
        reactor: Any = MemoryReactorClock()
        service = makeService(
            parse("--stat-listen", "tcp:7001:interface=127.0.0.1", "--swarm", "live"), reactor
        )
        self.assertIsInstance(service, PeerDaemon)
        service.startService()
        [(port, factory, backlog, interface)] = reactor.tcpServers
        self.assertEqual((port, interface), (7001, "127.0.0.1"))
        self.assertEqual(service.peer.statPort, 7001)
        self.assertTrue(service.peer.running)
        self.assertEqual(service.peer.swarms, {"live": PeerMode.LEECH})
        # It is connecting to the tracker.
        self.assertEqual(reactor.tcpClients[0][:2], ("127.0.0.1", 7000))
        d = service.stopService()
        self.successResultOf(d)
        self.assertFalse(service.peer.running)

    def test_noStatListener(self) -> None:
        """
        Without C{--stat-listen}, nothing listens and no StatPort is
        announced.
        """
        reactor: Any = MemoryReactorClock()
        service = makeService(parse(), reactor)
        service.startService()
        self.assertEqual(reactor.tcpServers, [])
        self.assertIsNone(service.peer.statPort)
        self.successResultOf(service.stopService())


class EncodingOptionTests(SynchronousTestCase):
    """
    C{--encoding}.
    """

    def test_encoding(self) -> None:
        """
        C{--encoding json} makes the client speak RFC 7846; XML is the
        default; anything else is a usage error.
        """
        from ppsp.codec import JSON_CODEC, XML_CODEC

        self.assertIs(parse()["codec"], XML_CODEC)
        self.assertIs(parse("--encoding", "JSON")["codec"], JSON_CODEC)
        self.assertRaises(usage.UsageError, Options().parseOptions, [*BASE, "--encoding", "yaml"])
        service = makeService(parse("-e", "json"), MemoryReactorClock())
        self.assertTrue(service.peer.client.rfc7846)
