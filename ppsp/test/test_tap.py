"""
Tests for L{ppsp.tracker.tap} and L{ppsp.tracker.service}: the options of
C{twistd ppsp-tracker} and the service they build, on a fake reactor.
"""

from __future__ import annotations

from typing import Any, List

from twisted.application.service import IServiceMaker
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IHostnameResolver, IHostResolution
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, capturedLogs
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from ppsp.messages import ConnectRequest, PeerAddress
from ppsp.tracker.admin import AdminResource
from ppsp.tracker.core import Origin
from ppsp.tracker.resource import TrackerSite
from ppsp.tracker.tap import Options, makeService


def parse(*argv: str) -> Options:
    options = Options()
    options.parseOptions(list(argv))
    return options


class OptionsTests(SynchronousTestCase):
    """
    Every option parses, and every wrong value is a usage error.
    """

    def test_defaults(self) -> None:
        """
        Without options the tracker listens on tcp:7000 with the profile's
        defaults.
        """
        options = parse()
        config = options["config"]
        self.assertEqual(options["listen"], "tcp:7000")
        self.assertEqual(
            (config.keepAliveInterval, config.peerTimeout, config.defaultPeers, config.maxPeers, config.rateLimit),
            (60, 180.0, 30, 200, 200.0),
        )
        self.assertEqual(options["max-body"], 65536)
        self.assertIsNone(config.provisionedSwarms)
        self.assertFalse(config.trustAnnouncedAddresses)

    def test_values(self) -> None:
        """
        Every option reaches the configuration.
        """
        swarms = FilePath(self.mktemp())
        swarms.setContent(b"# channels\nlive-1\n\n  vod-2  \n")
        options = parse(
            "--listen", "tcp:0:interface=127.0.0.1",
            "--keepalive-interval", "10",
            "--peer-timeout", "40",
            "--default-peers", "5",
            "--max-peers", "50",
            "--max-body", "1000",
            "--rate-limit", "0",
            "--max-swarm-size", "100",
            "--empty-swarm-lifetime", "30",
            "--swarms", swarms.path,
            "--selector", "random",
            "--trust-announced-addresses",
        )
        config = options["config"]
        self.assertEqual(
            (config.keepAliveInterval, config.peerTimeout, config.defaultPeers, config.maxPeers),
            (10, 40.0, 5, 50),
        )
        self.assertEqual((config.rateLimit, config.maxSwarmSize, config.emptySwarmLifetime), (0.0, 100, 30.0))
        self.assertEqual(config.provisionedSwarms, frozenset({"live-1", "vod-2"}))
        self.assertTrue(config.trustAnnouncedAddresses)
        self.assertEqual(options["max-body"], 1000)

    def test_wrongValues(self) -> None:
        """
        Non-numbers, numbers out of range, inconsistent timers, a bad
        endpoint and an unknown selector are usage errors.
        """
        for argv in [
            ["--keepalive-interval", "zero"],
            ["--keepalive-interval", "0"],
            ["--peer-timeout", "30", "--keepalive-interval", "60"],
            ["--max-peers", "-1"],
            ["--default-peers", "300"],
            ["--rate-limit", "-5"],
            ["--max-body", "0"],
            ["--listen", "nonsense:1:2"],
            ["--listen", "tcp:notaport"],
            ["--selector", "nope"],
            ["--selector", "random:extra"],
            ["--swarms", "/nonexistent/swarms.txt"],
        ]:
            self.assertRaises(usage.UsageError, parse, *argv)

    def test_unknownSelectorListsKnown(self) -> None:
        """
        The error for an unknown selector names the known ones.
        """
        e = self.assertRaises(usage.UsageError, parse, "--selector", "nope")
        self.assertIn("random", str(e))

    def test_invalidSwarmID(self) -> None:
        """
        A swarms file line that is not a valid SwarmID is a usage error
        naming the line.
        """
        swarms = FilePath(self.mktemp())
        swarms.setContent(b"ok\n" + b"x" * 200 + b"\n")
        e = self.assertRaises(usage.UsageError, parse, "--swarms", swarms.path)
        self.assertIn(":2:", str(e))


class ServiceTests(SynchronousTestCase):
    """
    L{makeService} builds a listener and the tracker's timers.
    """

    def test_listens(self) -> None:
        """
        Starting the service listens where C{--listen} says, with a
        L{TrackerSite} carrying the body limit, and logs one line saying
        where and with which settings.
        """
        reactor = MemoryReactorClock()
        service = makeService(parse("--listen", "tcp:7001:interface=127.0.0.1", "--max-body", "1234"), reactor)
        with capturedLogs() as events:
            service.startService()
        self.addCleanup(service.stopService)
        ((port, factory, _backlog, interface),) = reactor.tcpServers
        assert isinstance(factory, TrackerSite)
        self.assertEqual((port, interface), (7001, "127.0.0.1"))
        self.assertIsInstance(factory, TrackerSite)
        self.assertEqual(factory.maxBody, 1234)
        announced = [e for e in events if "listening on" in e.get("log_format", "")]
        self.assertEqual(len(announced), 1)
        self.assertEqual(announced[0]["endpoint"], "tcp:7001:interface=127.0.0.1")
        self.assertEqual(announced[0]["settings"]["max-body"], 1234)

    def test_sweeps(self) -> None:
        """
        The service expires silent peers on the reactor's clock and leaves
        no timer behind when stopped.
        """
        reactor = MemoryReactorClock()
        service = makeService(parse("--keepalive-interval", "5", "--peer-timeout", "10"), reactor)
        service.startService()
        tracker: Any = service.tracker  # type: ignore[attr-defined]
        self.successResultOf(tracker.handle(ConnectRequest("t1", "a"), Origin("198.51.100.1", 1)))
        reactor.advance(9)
        self.assertIsNotNone(self.successResultOf(tracker.store.peer("a")))
        reactor.advance(1)
        self.assertIsNone(self.successResultOf(tracker.store.peer("a")))
        service.stopService()
        self.assertEqual(reactor.getDelayedCalls(), [])


@implementer(IHostResolution)
class Resolution:
    """
    A resolution of L{RecordingResolver}: complete as soon as it begins.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        """
        Nothing to stop.
        """


@implementer(IHostnameResolver)
class RecordingResolver:
    """
    Resolves every name to itself (an IP literal stays that address) and
    records the names asked for.
    """

    def __init__(self) -> None:
        self.names: List[str] = []

    def resolveHostName(
        self, resolutionReceiver: Any, hostName: str, portNumber: int = 0, addressTypes: Any = None, transportSemantics: str = "TCP"
    ) -> Any:
        self.names.append(hostName)
        resolution = Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        resolutionReceiver.addressResolved(IPv4Address("TCP", hostName, portNumber))
        resolutionReceiver.resolutionComplete()
        return resolution


class InterfaceReactor(MemoryReactorClock):
    """
    A memory reactor whose TCP ports say the interface they listen on
    (L{MemoryReactorClock}'s say 0.0.0.0 whatever the interface).
    """

    def listenTCP(self, port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        listening = super().listenTCP(port, factory, backlog, interface)
        if interface and ":" not in interface:
            listening._hostAddress = IPv4Address("TCP", interface, port)
        return listening


class AdminOptionsTests(SynchronousTestCase):
    """
    C{--admin}, C{--stat-query-interval} and C{--stat-query-timeout}.
    """

    def test_defaultsOff(self) -> None:
        """
        By default there is no admin interface, no polling, a 5 s
        STAT_QUERY timeout, and the service builds no querier and listens
        once.
        """
        options = parse()
        self.assertEqual(
            (options["admin"], options["stat-query-interval"], options["stat-query-timeout"]),
            (None, 0, 5),
        )
        reactor = MemoryReactorClock()
        service = makeService(options, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual(len(reactor.tcpServers), 1)
        self.assertIsNone(service.statQuerier)  # type: ignore[attr-defined]

    def test_values(self) -> None:
        """
        The three options parse as given.
        """
        options = parse(
            "--admin", "tcp:7001:interface=127.0.0.1",
            "--stat-query-interval", "30",
            "--stat-query-timeout", "2",
        )
        self.assertEqual(
            (options["admin"], options["stat-query-interval"], options["stat-query-timeout"]),
            ("tcp:7001:interface=127.0.0.1", 30, 2),
        )

    def test_wrongValues(self) -> None:
        """
        An admin endpoint that does not parse is a usage error that names
        the option; a negative or non-numeric interval and a timeout below
        1 are usage errors.
        """
        for argv in [["--admin", "nonsense:1"], ["--admin", "tcp:notaport"]]:
            e = self.assertRaises(usage.UsageError, parse, *argv)
            self.assertIn("--admin", str(e))
        for argv in [
            ["--stat-query-interval", "-1"],
            ["--stat-query-interval", "soon"],
            ["--stat-query-timeout", "0"],
        ]:
            self.assertRaises(usage.UsageError, parse, *argv)

    def test_adminListens(self) -> None:
        """
        With C{--admin} the service also listens there, with an
        L{AdminResource} that has a querier, logs where, and does not warn
        about a loopback interface.
        """
        reactor = InterfaceReactor()
        service = makeService(parse("--admin", "tcp:7001:interface=127.0.0.1"), reactor)
        with capturedLogs() as events:
            service.startService()
        self.addCleanup(service.stopService)
        (_tracker, (port, factory, _backlog, interface)) = reactor.tcpServers
        self.assertEqual((port, interface), (7001, "127.0.0.1"))
        assert isinstance(factory, TrackerSite)
        resource = factory.resource
        assert isinstance(resource, AdminResource)
        self.assertIs(resource.querier, service.statQuerier)  # type: ignore[attr-defined]
        self.assertIs(resource.tracker, service.tracker)  # type: ignore[attr-defined]
        admin = [e for e in events if "admin interface listening at" in e.get("log_format", "")]
        self.assertEqual([e["endpoint"] for e in admin], ["tcp:7001:interface=127.0.0.1"])
        self.assertEqual([e for e in events if e.get("log_level") == LogLevel.warn], [])
        trackerLine = [e for e in events if "listening on" in e.get("log_format", "")]
        self.assertEqual(trackerLine[0]["settings"]["admin"], "tcp:7001:interface=127.0.0.1")

    def test_adminOnPublicInterfaceNeedsAuth(self) -> None:
        """
        An admin interface on every interface is a usage error without
        C{--admin-auth} (see also L{ppsp.test.test_adminapi}); with it, the
        tracker starts and logs no warning about the interface.
        """
        e = self.assertRaises(usage.UsageError, parse, "--admin", "tcp:7001")
        self.assertIn("--admin-auth", str(e))
        reactor = InterfaceReactor()
        service = makeService(
            parse("--admin", "tcp:7001", "--admin-auth", "memory:admin:secret"), reactor
        )
        with capturedLogs() as events:
            service.startService()
        self.addCleanup(service.stopService)
        warnings = [e for e in events if e.get("log_level") == LogLevel.warn]
        self.assertEqual(warnings, [])

    def test_pollingOnTheReactor(self) -> None:
        """
        With C{--stat-query-interval} the service polls on the reactor it
        was given: the query connects (with the STAT_QUERY timeout as the
        connect timeout) to the peer's observed IP and StatPort; stopping
        the service leaves no delayed call.
        """
        reactor = MemoryReactorClock()
        resolver = RecordingResolver()
        reactor.installNameResolver(resolver)
        service = makeService(parse("--stat-query-interval", "10", "--stat-query-timeout", "3"), reactor)
        service.startService()
        tracker: Any = service.tracker  # type: ignore[attr-defined]
        self.successResultOf(
            tracker.handle(
                ConnectRequest("t1", "a", statPort=9000, addresses=(PeerAddress("203.0.113.9", 1),)),
                Origin("198.51.100.3", 1),
            )
        )
        reactor.pump([1] * 12)
        self.assertEqual(resolver.names, ["198.51.100.3"])
        ((host, port, _factory, timeout, _bind),) = reactor.tcpClients
        self.assertEqual((host, port, timeout), ("198.51.100.3", 9000, 3.0))
        self.assertEqual(service.statQuerier.inFlight, 1)  # type: ignore[attr-defined]
        self.successResultOf(service.stopService())
        self.assertEqual(reactor.getDelayedCalls(), [])
        self.assertEqual(service.statQuerier.inFlight, 0)  # type: ignore[attr-defined]


class PluginTests(SynchronousTestCase):
    """
    The twistd dropin is found.
    """

    def test_dropin(self) -> None:
        """
        C{twistd} finds a service maker called C{ppsp-tracker} whose options
        are L{Options}.
        """
        makers = {m.tapname: m for m in getPlugins(IServiceMaker)}
        self.assertIn("ppsp-tracker", makers)
        self.assertIs(makers["ppsp-tracker"].options, Options)


class SecurityOptionsTests(SynchronousTestCase):
    """
    C{--auth}, C{--trusted-proxy}, C{--request-timeout},
    C{--idle-timeout}, C{--max-in-flight} and C{--max-lag}.
    """

    def site(self, *argv: str) -> Any:
        reactor = MemoryReactorClock()
        service = makeService(parse(*argv), reactor)
        service.startService()
        self.addCleanup(service.stopService)
        ((_port, factory, _backlog, _interface),) = reactor.tcpServers
        return service, factory

    def test_defaults(self) -> None:
        """
        By default anyone may CONNECT (open), no proxy is trusted, a
        request must arrive within 10 s, an idle connection lasts 60 s,
        and the tracker sheds load beyond 1000 requests in flight or 0.05 s
        of lag.
        """
        from ppsp.tracker.credentials import OpenPeerChecker

        service, site = self.site()
        self.assertIsInstance(service.tracker.checker, OpenPeerChecker)
        self.assertEqual(site.resource.trustedProxies, ())
        self.assertEqual(site.requestTimeout, 10)
        self.assertEqual(site.timeOut, 60)
        self.assertEqual(site.resource.shedder.maxInFlight, 1000)
        self.assertEqual(site.resource.shedder.maxLag, 0.05)
        self.assertIs(site.shedder, site.resource.shedder)

    def test_values(self) -> None:
        """
        Each option reaches the part it sets; C{--trusted-proxy} repeats.
        """
        import ipaddress

        service, site = self.site(
            "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "192.0.2.7",
            "--request-timeout", "0", "--idle-timeout", "30",
            "--max-in-flight", "5", "--max-lag", "0",
        )
        self.assertEqual(
            site.resource.trustedProxies,
            (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.7/32")),
        )
        self.assertIsNone(site.requestTimeout)
        self.assertEqual(site.timeOut, 30)
        self.assertEqual(site.resource.shedder.maxInFlight, 5)
        self.assertEqual(site.resource.shedder.maxLag, 0)

    def test_token(self) -> None:
        """
        C{--auth token:FILE} makes a closed tracker that accepts the
        credentials C{python -m ppsp.auth} issues with that secret.
        """
        from ppsp.messages import ConnectResponse, ErrorResponse
        from ppsp.tracker.credentials import TokenPeerChecker, issueToken

        path = self.mktemp()
        FilePath(path).setContent(b"a-secret-of-enough-bytes\n")
        service, site = self.site("--auth", "token:" + path)
        tracker = service.tracker
        self.assertIsInstance(tracker.checker, TokenPeerChecker)
        refused = self.successResultOf(tracker.handle(ConnectRequest("1", "a"), Origin("198.51.100.1", 1)))
        self.assertIsInstance(refused, ErrorResponse)
        token = issueToken(b"a-secret-of-enough-bytes", "a", 10**10)
        accepted = self.successResultOf(
            tracker.handle(ConnectRequest("2", "a", cer=token), Origin("198.51.100.1", 1))
        )
        self.assertIsInstance(accepted, ConnectResponse)

    def test_x509(self) -> None:
        """
        C{--auth x509:CAFILE} checks certificates against that CA.
        """
        from ppsp.test.certs import TestCA
        from ppsp.tracker.credentials import X509PeerChecker

        path = self.mktemp()
        FilePath(path).setContent(TestCA().certificate)
        service, site = self.site("--auth", "x509:" + path)
        self.assertIsInstance(service.tracker.checker, X509PeerChecker)

    def test_wrongValues(self) -> None:
        """
        An unknown scheme, an unreadable or short secret, a file that holds
        no certificate, a bad proxy network and a negative lag are usage
        errors.
        """
        short, notCA = self.mktemp(), self.mktemp()
        FilePath(short).setContent(b"short")
        FilePath(notCA).setContent(b"not a certificate")
        for argv in (
            ["--auth", "ldap"],
            ["--auth", "token"],
            ["--auth", "token:" + self.mktemp()],
            ["--auth", "token:" + short],
            ["--auth", "x509:" + notCA],
            ["--trusted-proxy", "10.0.0.0/33"],
            ["--trusted-proxy", "proxy.example"],
            ["--max-lag", "-1"],
            ["--request-timeout", "-1"],
        ):
            self.assertRaises(usage.UsageError, parse, *argv)


class AdminHostOptionTests(SynchronousTestCase):
    """
    C{--admin-host NAME}: more names the admin interface answers for.
    """

    def test_reachesTheResource(self) -> None:
        """
        The names, normalised, reach the L{AdminResource} that
        L{makeService} builds: a request naming one of them is served, one
        naming another host gets 421, one naming the listening address is
        served.
        """
        from treq.testing import StubTreq

        options = parse(
            "--admin", "tcp:7001:interface=127.0.0.1", "--admin-host", "Admin.Example.", "--admin-host", "[::1]"
        )
        self.assertEqual(options["admin-hosts"], ["admin.example", "::1"])
        reactor = InterfaceReactor()
        service = makeService(options, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        (factory,) = [factory for port, factory, _, _ in reactor.tcpServers if port == 7001]
        assert isinstance(factory, TrackerSite)
        resource = factory.resource
        assert isinstance(resource, AdminResource)
        self.assertEqual(resource.hosts, frozenset({"admin.example", "::1"}))
        stub: Any = StubTreq(resource)
        for host, code in [(b"admin.example:8443", 200), (b"attacker.example:7001", 421), (b"127.0.0.1:7001", 200)]:
            d = stub.get("http://127.0.0.1:7001/", headers={b"Host": [host]})
            stub.flush()
            self.assertEqual(self.successResultOf(d).code, code, host)

    def test_wrongValues(self) -> None:
        """
        A name with a port or that is not a host name is a usage error
        naming the option, and so is C{--admin-host} without C{--admin}.
        """
        for value in ["admin.example:8080", "http://admin.example/", "a b"]:
            e = self.assertRaises(usage.UsageError, parse, "--admin", "tcp:7001", "--admin-host", value)
            self.assertIn("--admin-host", str(e))
        e = self.assertRaises(usage.UsageError, parse, "--admin-host", "admin.example")
        self.assertIn("--admin", str(e))


class SwarmsFileIdentifierTests(SynchronousTestCase):
    """
    The SwarmIDs of a swarms file follow the rule of SwarmIDs in messages
    (PROTOCOL.md section 2).
    """

    def swarms(self, content: str) -> Any:
        path = FilePath(self.mktemp())
        path.setContent(content.encode("utf-8"))
        return parse("--swarms", path.path)["config"].provisionedSwarms

    def test_refused(self) -> None:
        """
        A line whose SwarmID holds a control, format or separator character
        is a usage error naming the line, also for the characters that
        C{str.splitlines} would take for line ends (U+2028, U+0085, form
        feed...) or C{str.strip} for white space.
        """
        for char in ["\u2028", "\u2029", "\u202e", "\u200e", "\u200b", "\ufeff", "\x01", "\x0b", "\x0c",
                     "\x1c", "\x85", "\x7f"]:
            for line in [f"live{char}1", f"{char}live-1", f"live-1{char}", f"live{char}1 selector=random"]:
                path = FilePath(self.mktemp())
                path.setContent(f"ok\n{line}\n".encode("utf-8"))
                e = self.assertRaises(usage.UsageError, parse, "--swarms", path.path)
                self.assertIn(":2:", str(e), repr(line))

    def test_accepted(self) -> None:
        """
        SwarmIDs in any script are read unchanged; a byte order mark at the
        start of the file and CR LF line ends are not part of any SwarmID;
        spaces and tabs around an ID are dropped; an ID with a space inside
        is written in double quotes.
        """
        self.assertEqual(
            self.swarms('\ufeffvod-2\r\npair-é-日本\r\n\t "live 1" \t\r\n'),
            frozenset({"vod-2", "pair-é-日本", "live 1"}),
        )
