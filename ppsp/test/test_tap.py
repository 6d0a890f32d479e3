"""
Tests for L{ppsp.tracker.tap} and L{ppsp.tracker.service}: the options of
C{twistd ppsp-tracker} and the service they build, on a fake reactor.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import IServiceMaker
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from ppsp.messages import ConnectRequest
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
        tracker.handle(ConnectRequest("t1", "a"), Origin("198.51.100.1", 1))
        reactor.advance(9)
        self.assertIsNotNone(tracker.store.getPeer("a"))
        reactor.advance(1)
        self.assertIsNone(tracker.store.getPeer("a"))
        service.stopService()
        self.assertEqual(reactor.getDelayedCalls(), [])


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
