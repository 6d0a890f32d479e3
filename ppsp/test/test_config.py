"""
Tests for the config file of C{twistd ppsp-tracker} and C{twistd
ppsp-peer} (C{--config FILE}, L{ppsp._options.ServiceOptions}) and for
reloads without a restart (L{ppsp.tracker.reload}: the swarms file, the
token secret, the TLS files of a listener; C{POST /reload} on the admin
interface).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from typing import Any, Dict, List, Tuple, cast

from treq.testing import StubTreq
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import SSL4ClientEndpoint, connectProtocol
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Protocol
from twisted.internet.ssl import CertificateOptions
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import ILogObserver, LogEvent, LogLevel, globalLogPublisher
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer

from ppsp.messages import JoinRequest, PeerMode, ResponseCode
from ppsp.peer.tap import Options as PeerOptions
from ppsp.test.certs import TestCA
from ppsp.test.helpers import TrackerHarness
from ppsp.tracker.admin import AdminResource
from ppsp.tracker.credentials import (
    MIN_SECRET_BYTES,
    PeerCredentials,
    TokenPeerChecker,
    issueToken,
    readSecret,
)
from ppsp.tracker.reload import ListenerCertificate, ReloadService, SecretFile, SwarmsFile
from ppsp.tracker.tap import Options, makeService, readSwarmsFile

reactor: Any = _reactor

#: The source tree's top directory.
TOP = FilePath(__file__).parent().parent().parent()


def plain(value: Any) -> Any:
    """
    A value made comparable: containers element by element, objects that
    compare by identity (strategies, checkers, functions) by their type.
    """
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, type(None))):
        return value
    if getattr(type(value), "__eq__") is getattr(object, "__eq__"):
        return type(value).__name__
    return value


class Files:
    """
    Files in a test's temporary directory.
    """

    def __init__(self, testCase: SynchronousTestCase) -> None:
        self.directory = FilePath(testCase.mktemp())
        self.directory.makedirs()

    def write(self, name: str, content: str) -> str:
        """
        Write a file; return its path.
        """
        child = self.directory.child(name)
        child.setContent(content.encode("utf-8"))
        return child.path


def parse(options: Any, args: List[str]) -> Any:
    """
    Parse C{args} with C{options}; return it.
    """
    options.parseOptions(args)
    return options


class TrackerConfigFileTests(SynchronousTestCase):
    """
    C{twistd ppsp-tracker --config FILE}: every option through the file,
    the command line over it, and errors that name the key and its line.
    """

    def setUp(self) -> None:
        self.files = Files(self)

    #: Groups of options that L{test_everyOption} leaves out of one of its
    #: passes each: those that cannot be given with the others.
    apart = ({"state"}, {"store", "store-prefix", "store-password-file", "store-timeout", "workers"})

    def everyOption(self) -> Dict[str, Tuple[str, List[str]]]:
        """
        A value other than the default for every option: its TOML text and
        the same value on the command line.
        """
        swarms = self.files.write("swarms.txt", "s1\ns2 selector=random\n")
        revocations = self.files.write("revoked.txt", "peer:mallory\n")
        secret = self.files.write("secret", "s" * MIN_SECRET_BYTES)
        bans = self.files.write("bans.txt", "192.0.2.0/24\n")
        accessLog = os.path.join(self.files.directory.path, "access.log")
        state = os.path.join(self.files.directory.path, "state.jsonl")
        storePassword = self.files.write("redis-password", "s3cret\n")
        values: Dict[str, Tuple[str, List[str]]] = {
            "listen": ('"tcp:7100:interface=127.0.0.1"', ["--listen", "tcp:7100:interface=127.0.0.1"]),
            "keepalive-interval": ("30", ["--keepalive-interval", "30"]),
            "peer-timeout": ("90", ["--peer-timeout", "90"]),
            "default-peers": ("20", ["--default-peers", "20"]),
            "max-peers": ("100", ["--max-peers", "100"]),
            "max-body": ("4096", ["--max-body", "4096"]),
            "rate-limit": ("20", ["--rate-limit", "20"]),
            "rate-burst": ("50", ["--rate-burst", "50"]),
            "max-swarm-size": ("50", ["--max-swarm-size", "50"]),
            "empty-swarm-lifetime": ("100", ["--empty-swarm-lifetime", "100"]),
            "swarms": (json.dumps(swarms), ["--swarms", swarms]),
            "selector": ('"random"', ["--selector", "random"]),
            "admin": ('"tcp:7101:interface=127.0.0.1"', ["--admin", "tcp:7101:interface=127.0.0.1"]),
            "admin-host": ('["proxy.example"]', ["--admin-host", "proxy.example"]),
            "admin-auth": ('["memory:admin:secret"]', ["--admin-auth", "memory:admin:secret"]),
            "stat-query-interval": ("30", ["--stat-query-interval", "30"]),
            "stat-query-timeout": ("3", ["--stat-query-timeout", "3"]),
            "auth": (json.dumps(f"token:{secret}"), ["--auth", f"token:{secret}"]),
            "revocations": (json.dumps(revocations), ["--revocations", revocations]),
            "bans": (json.dumps(bans), ["--bans", bans]),
            "request-timeout": ("5", ["--request-timeout", "5"]),
            "idle-timeout": ("30", ["--idle-timeout", "30"]),
            "max-in-flight": ("10", ["--max-in-flight", "10"]),
            "max-lag": ("0.25", ["--max-lag", "0.25"]),
            "max-connections": ("100", ["--max-connections", "100"]),
            "max-sessions-per-address": ("10", ["--max-sessions-per-address", "10"]),
            "max-sessions": ("1000", ["--max-sessions", "1000"]),
            "max-peer-memory": ('"1M"', ["--max-peer-memory", "1M"]),
            "max-address-memory": ("33554432", ["--max-address-memory", "33554432"]),
            "max-swarms-per-peer": ("10", ["--max-swarms-per-peer", "10"]),
            "max-addresses": ("4", ["--max-addresses", "4"]),
            "max-chunk-ranges": ("100", ["--max-chunk-ranges", "100"]),
            "max-stats": ("10", ["--max-stats", "10"]),
            "max-stat-value": ("100", ["--max-stat-value", "100"]),
            "retry-window": ("30", ["--retry-window", "30"]),
            "retry-cache-size": ("1000", ["--retry-cache-size", "1000"]),
            "min-stat-port": ("2000", ["--min-stat-port", "2000"]),
            "drain-timeout": ("5", ["--drain-timeout", "5"]),
            "state": (json.dumps(state), ["--state", state]),
            "state-interval": ("30", ["--state-interval", "30"]),
            "store": ('"redis://127.0.0.1:6390/2"', ["--store", "redis://127.0.0.1:6390/2"]),
            "store-prefix": ('"other:"', ["--store-prefix", "other:"]),
            "store-password-file": (json.dumps(storePassword), ["--store-password-file", storePassword]),
            "store-timeout": ("0.25", ["--store-timeout", "0.25"]),
            "workers": ("2", ["--workers", "2"]),
            "log-format": ('"json"', ["--log-format", "json"]),
            "access-log": (json.dumps(accessLog), ["--access-log", accessLog]),
            "trust-announced-addresses": ("true", ["--trust-announced-addresses"]),
            "allow-low-stat-ports": ("false", []),
            "trusted-proxy": ('["10.0.0.0/8", "192.0.2.1"]', ["--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "192.0.2.1"]),
        }
        return values

    def test_everyOption(self) -> None:
        """
        Every option of C{twistd ppsp-tracker} can be set in the config
        file, by its long name, and gives what the same value gives on the
        command line (the same checks, the same L{TrackerConfig}); every
        L{TrackerConfig} field has an option.
        """
        values = self.everyOption()
        keys = Options().configKeys()
        self.assertEqual(sorted(set(keys) - set(values)), [], "options missing from this test")
        self.assertEqual(sorted(set(values) - set(keys)), [])
        # Options that cannot all be given at once (a Redis store keeps no
        # --state file): each pass leaves one group out.
        for apart in self.apart:
            given = {key: value for key, value in values.items() if key not in apart}
            text = "".join(f"{key} = {toml}\n" for key, (toml, _) in given.items())
            fromFile = parse(Options(), ["--config", self.files.write("tracker.toml", text)])
            commandLine = parse(Options(), [arg for _, (_, args) in given.items() for arg in args])
            self.assertEqual(plain(dict(fromFile)), plain(dict(commandLine)), sorted(apart))
        config = fromFile["config"]
        self.assertEqual(
            (config.maxSwarmsPerPeer, config.maxAddresses, config.maxChunkRanges, config.maxStats,
             config.maxStatValue, config.retryWindow, config.retryCacheSize, config.rateBurst,
             config.minStatPort),
            (10, 4, 100, 10, 100, 30.0, 1000, 50.0, 2000),
        )

    def test_commandLineOverrides(self) -> None:
        """
        An option on the command line overrides the file's key; a
        repeatable option replaces the file's whole array; keys the
        command line does not give keep the file's values.
        """
        path = self.files.write(
            "tracker.toml",
            'keepalive-interval = 30\ntrusted-proxy = ["10.0.0.0/8"]\n'
            "trust-announced-addresses = true\nmax-peers = 100\n",
        )
        options = parse(
            Options(),
            ["--keepalive-interval", "20", "--config", path, "--trusted-proxy", "192.0.2.1"],
        )
        self.assertEqual(options["keepalive-interval"], 20)
        self.assertEqual([str(n) for n in options["trusted-proxies"]], ["192.0.2.1/32"])
        self.assertEqual(options["trust-announced-addresses"], 1)
        self.assertEqual(options["max-peers"], 100)
        self.assertEqual(options.configFile, path)

    def assertRefused(self, text: str, line: int, *fragments: str) -> str:
        """
        A file of C{text} is a usage error naming the file and C{line}, and
        holding each of C{fragments}; return the message.
        """
        path = self.files.write("tracker.toml", text)
        with self.assertRaises(usage.UsageError) as raised:
            Options().parseOptions(["--config", path])
        message = str(raised.exception)
        self.assertIn(f"{path}:{line}", message)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message

    def test_unknownKey(self) -> None:
        """
        An unknown key is a usage error naming it and its line.
        """
        self.assertRefused('listen = "tcp:7000"\n\n# comment\nlisten-on = "tcp:1"\n', 4, "'listen-on'")

    def test_notAKey(self) -> None:
        """
        Options that act rather than set (C{help}, C{list-selectors}) and
        C{config} itself are not keys.
        """
        for key in ("help", "list-selectors", "config", "version"):
            self.assertRefused(f"{key} = true\n", 1, f"unknown key {key!r}")

    def test_wrongType(self) -> None:
        """
        A value of the wrong TOML type is a usage error naming the key, its
        line and the type wanted: a number for a number (not a string, not
        a boolean), a string for a string, true or false for a flag, an
        array of strings for a repeatable option.
        """
        cases = [
            ('keepalive-interval = "60"', "keepalive-interval must be an integer, not a string"),
            ("keepalive-interval = true", "keepalive-interval must be an integer, not a boolean"),
            ("keepalive-interval = 6.5", "keepalive-interval must be an integer, not a number"),
            ("listen = 7000", "listen must be a string, not an integer"),
            ('access-log = ["x"]', "access-log must be a string, not an array"),
            ("trust-announced-addresses = 1", "trust-announced-addresses must be true or false"),
            ('trusted-proxy = "10.0.0.0/8"', "trusted-proxy must be an array of strings, not a string"),
            ("trusted-proxy = [10]", "trusted-proxy must be an array of strings"),
            ("max-lag = \"0.1\"", "max-lag must be an integer or a number, not a string"),
            ("max-peer-memory = 1.5", "max-peer-memory must be an integer or a string"),
        ]
        for text, message in cases:
            self.assertRefused(f"# settings\n\n{text}\n", 3, message)

    def test_badValue(self) -> None:
        """
        A value of the right type that the option refuses is a usage error
        with the option's own reason, the key and the line.
        """
        self.assertRefused("max-peers = 100\nkeepalive-interval = 0\n", 2, "keepalive-interval = 0", "at least 1")
        self.assertRefused('\ntrusted-proxy = ["10.0.0.0/8", "nowhere"]\n', 2, "'nowhere' is not an address")
        self.assertRefused('max-peer-memory = "12 parsecs"\n', 1, "max-peer-memory")

    def test_checkedTogether(self) -> None:
        """
        A value refused by the checks that run once every option is known
        is reported with the line of the file that set it.
        """
        message = self.assertRefused('\nlisten = "nosuchtype:7000"\n', 2, "--listen")
        self.assertTrue(message.endswith(":2)"), message)

    def test_tables(self) -> None:
        """
        Tables are refused, with their line: the file is flat.
        """
        self.assertRefused('listen = "tcp:7000"\n[admin]\nlisten = "tcp:7001"\n', 2, "tables are not supported")
        self.assertRefused("max.peers = 3\n", 1, "tables are not supported")

    def test_notTOML(self) -> None:
        """
        A file that is not TOML is a usage error that says where; a missing
        file one that names it.
        """
        path = self.files.write("tracker.toml", "listen = \n")
        with self.assertRaises(usage.UsageError) as raised:
            Options().parseOptions(["--config", path])
        self.assertIn(f"{path}: not a valid TOML file", str(raised.exception))
        self.assertIn("line 1", str(raised.exception))
        with self.assertRaises(usage.UsageError) as raised:
            Options().parseOptions(["--config", path + ".missing"])
        self.assertIn("cannot read the config file", str(raised.exception))

    def test_exitStatus(self) -> None:
        """
        Under twistd (the options have a parent), a bad config file prints
        the usage and the error and exits 64, as any usage error does.
        """
        from twisted.scripts.twistd import ServerOptions

        path = self.files.write("tracker.toml", "nokey = 1\n")
        stderr = io.StringIO()
        self.patch(sys, "stderr", stderr)
        with self.assertRaises(SystemExit) as raised:
            ServerOptions().parseOptions(["ppsp-tracker", "--config", path])
        self.assertEqual(raised.exception.code, os.EX_USAGE)
        self.assertIn(f"Error: {path}:1: unknown key 'nokey'", stderr.getvalue())

    def test_sample(self) -> None:
        """
        C{contrib/tracker.toml} names every key (commented out where the
        default is "none"), and read as it is, it gives the defaults.
        """
        sample = TOP.child("contrib").child("tracker.toml")
        text = sample.getContent().decode("utf-8")
        named = set(re.findall(r"^#? ?([a-z][a-z0-9-]*) = ", text, re.MULTILINE))
        self.assertEqual(sorted(set(Options().configKeys()) - named), [])
        self.assertEqual(sorted(named - set(Options().configKeys())), [])
        fromSample = parse(Options(), ["--config", sample.path])
        self.assertEqual(plain(dict(fromSample)), plain(dict(parse(Options(), []))))
        self.assertTrue(fromSample.configLines)

    def test_documented(self) -> None:
        """
        The "Configuration file" section of C{docs/operations.rst} lists
        every key of both plugins, and the options table of
        C{docs/running.rst} every option of the tracker.
        """
        operations = TOP.child("docs").child("operations.rst").getContent().decode("utf-8")
        section = operations.partition("\nConfiguration file\n")[2].partition("\nSignals and reloads\n")[0]
        for key in list(Options().configKeys()) + list(PeerOptions().configKeys()):
            self.assertIn(f"``{key}``", section, key)
        running = TOP.child("docs").child("running.rst").getContent().decode("utf-8")
        for key in Options().configKeys():
            self.assertIn(f"``--{key}", running, key)


class PeerConfigFileTests(SynchronousTestCase):
    """
    C{twistd ppsp-peer --config FILE} works the same way.
    """

    def setUp(self) -> None:
        self.files = Files(self)

    def test_everyOption(self) -> None:
        """
        Every option of C{twistd ppsp-peer} can be set in the file and
        gives what the command line gives.
        """
        cer = self.files.write("cer", "ppsp1.x.y.z\n")
        values: Dict[str, Tuple[str, List[str]]] = {
            "tracker": ('"http://127.0.0.1:7000/"', ["--tracker", "http://127.0.0.1:7000/"]),
            "peer-id": ('"peer-1"', ["--peer-id", "peer-1"]),
            "swarm": ('["s1", "s2:SEED"]', ["--swarm", "s1", "--swarm", "s2:SEED"]),
            "address": ('["192.0.2.1:7000"]', ["--address", "192.0.2.1:7000"]),
            "stat": ('["UploadBandwidth=2000"]', ["--stat", "UploadBandwidth=2000"]),
            "stat-listen": ('"tcp:0"', ["--stat-listen", "tcp:0"]),
            "log-format": ('"json"', ["--log-format", "json"]),
            "cer": (json.dumps(cer), ["--cer", cer]),
            "trust-root": ('"/nonexistent/ca.pem"', []),
            "client-certificate": ('"/nonexistent/client.pem"', []),
            "find-interval": ("10", ["--find-interval", "10"]),
            "stat-report-interval": ("12.5", ["--stat-report-interval", "12.5"]),
            "peer-num": ("5", ["--peer-num", "5"]),
            "timeout": ("3", ["--timeout", "3"]),
            "encoding": ('"json"', ["--encoding", "json"]),
        }
        keys = PeerOptions().configKeys()
        self.assertEqual(sorted(set(keys) ^ set(values)), [])
        # The TLS files are checked when read: leave them out of the
        # comparison, and check them by their error.
        text = "".join(
            f"{key} = {toml}\n" for key, (toml, _) in values.items() if key not in ("trust-root", "client-certificate")
        )
        fromFile = parse(PeerOptions(), ["--config", self.files.write("peer.toml", text)])
        commandLine = parse(PeerOptions(), [arg for _, (_, args) in values.items() for arg in args])
        self.assertEqual(plain(dict(fromFile)), plain(dict(commandLine)))
        self.assertEqual(fromFile["swarms"], {"s1": PeerMode.LEECH, "s2": PeerMode.SEED})
        path = self.files.write("bad.toml", text + 'trust-root = "/nonexistent/ca.pem"\n')
        with self.assertRaises(usage.UsageError) as raised:
            PeerOptions().parseOptions(["--config", path])
        self.assertIn("cannot load the TLS files", str(raised.exception))

    def test_errors(self) -> None:
        """
        Unknown keys and wrong types are usage errors naming the key and
        its line; the command line overrides the file.
        """
        path = self.files.write("peer.toml", 'tracker = "http://127.0.0.1:7000/"\npeer-id = "p"\nswarms = ["s"]\n')
        with self.assertRaises(usage.UsageError) as raised:
            PeerOptions().parseOptions(["--config", path])
        self.assertIn(f"{path}:3: unknown key 'swarms'", str(raised.exception))
        path = self.files.write("peer.toml", 'tracker = "http://127.0.0.1:7000/"\npeer-id = "p"\ntimeout = "3"\n')
        with self.assertRaises(usage.UsageError) as raised:
            PeerOptions().parseOptions(["--config", path])
        self.assertIn(f"{path}:3: timeout must be an integer or a number, not a string", str(raised.exception))
        path = self.files.write("peer.toml", 'tracker = "http://127.0.0.1:7000/"\npeer-id = "p"\nswarm = ["s"]\n')
        options = parse(PeerOptions(), ["--config", path, "--peer-id", "q", "--swarm", "t"])
        self.assertEqual((options["peer-id"], options["swarms"]), ("q", {"t": PeerMode.LEECH}))


def capture(testCase: SynchronousTestCase) -> List[LogEvent]:
    """
    The log events emitted during the test.
    """
    events: List[LogEvent] = []
    observer = cast(ILogObserver, events.append)
    globalLogPublisher.addObserver(observer)
    testCase.addCleanup(globalLogPublisher.removeObserver, observer)
    return events


class SwarmsFileTests(SynchronousTestCase):
    """
    L{SwarmsFile.reload} provisions and removes swarms and sets their
    strategies as the file now says, and keeps them when the file is bad.
    """

    def setUp(self) -> None:
        self.files = Files(self)
        self.path = self.files.write("swarms.txt", "a\nb\n")
        self.harness = TrackerHarness(self, provisionedSwarms=frozenset({"a", "b"}))
        self.tracker = self.harness.tracker
        self.file = SwarmsFile(self.tracker, self.path, readSwarmsFile, ["a", "b"])
        self.events = capture(self)

    def test_applied(self) -> None:
        """
        A SwarmID added to the file may be JOINed; one taken out is
        removed (its members leave it, their sessions go on); a swarm
        provisioned otherwise stays; strategies follow the file.
        """
        self.harness.connect("p")
        self.harness.ok(JoinRequest, "p", swarmID="a", mode=PeerMode.LEECH)
        self.harness.result(self.tracker.provisionSwarm("admin-made"))
        self.files.write("swarms.txt", "b selector=random\nc\n")
        self.assertTrue(self.successResultOf(self.file.reload()))
        self.assertEqual(self.tracker.provisionedSwarms, {"b", "c", "admin-made"})
        self.assertIsNone(self.harness.swarm("a"))
        self.harness.error(ResponseCode.OBJECT_NOT_FOUND, JoinRequest, "p", swarmID="a", mode=PeerMode.LEECH)
        self.harness.ok(JoinRequest, "p", swarmID="c", mode=PeerMode.LEECH)
        self.assertIsNotNone(self.harness.peer("p"))
        self.assertEqual(sorted(self.tracker.swarmSelectors), ["b"])
        self.files.write("swarms.txt", "b\nc\n")
        self.assertTrue(self.successResultOf(self.file.reload()))
        self.assertEqual(self.tracker.swarmSelectors, {})
        self.assertIn("applied", self.events[-1]["log_format"])

    def test_badFileKeepsOld(self) -> None:
        """
        A file with an invalid SwarmID, an unknown strategy, or no file at
        all changes nothing and is logged as an error.
        """
        for text in ("c\nbad\u2028id\n", "c selector=nosuchstrategy\n"):
            self.files.write("swarms.txt", text)
            self.assertFalse(self.successResultOf(self.file.reload()))
            self.assertEqual(self.tracker.provisionedSwarms, {"a", "b"})
            self.assertEqual(self.events[-1]["log_level"], LogLevel.error)
            self.assertIn("previous swarms stay", self.events[-1]["log_format"])
        os.remove(self.path)
        self.assertFalse(self.successResultOf(self.file.reload()))
        self.assertEqual(self.tracker.provisionedSwarms, {"a", "b"})


class SecretFileTests(SynchronousTestCase):
    """
    L{SecretFile.reload} replaces the token scheme's secret, and keeps the
    old one when the new file is bad.
    """

    def verify(self, checker: TokenPeerChecker, secret: bytes) -> bool:
        """
        Whether C{checker} accepts a credential made with C{secret}.
        """
        credential = issueToken(secret, "peer-1", 10_000)
        d = checker.requestAvatarId(PeerCredentials("peer-1", credential, "192.0.2.1"))
        results: List[Any] = []
        d.addBoth(results.append)
        return not hasattr(results[0], "check")

    def test_replaced(self) -> None:
        """
        After a reload, credentials made with the new secret are accepted
        and those made with the old one refused; a secret too short is
        refused and the previous one stays.
        """
        files = Files(self)
        old, new = b"o" * MIN_SECRET_BYTES, b"n" * MIN_SECRET_BYTES
        path = files.write("secret", old.decode())
        checker = TokenPeerChecker(readSecret(path), Clock())
        reloader = SecretFile(checker, path, readSecret)
        events = capture(self)
        self.assertTrue(self.verify(checker, old))
        files.write("secret", new.decode() + "\n")
        self.assertTrue(self.successResultOf(reloader.reload()))
        self.assertTrue(self.verify(checker, new))
        self.assertFalse(self.verify(checker, old))
        files.write("secret", "short")
        self.assertFalse(self.successResultOf(reloader.reload()))
        self.assertEqual(events[-1]["log_level"], LogLevel.error)
        self.assertTrue(self.verify(checker, new))


class AdminReloadTests(SynchronousTestCase):
    """
    C{POST /reload} on the admin interface reads the files again, as
    SIGHUP does, and says what it applied and what it refused.
    """

    def post(self, resource: AdminResource, method: str = "POST") -> Tuple[int, Any]:
        stub: Any = StubTreq(resource)
        d = stub.request(method, "http://127.0.0.1:7001/reload")
        stub.flush()
        response = self.successResultOf(d)
        body = self.successResultOf(stub.content(response))
        return response.code, json.loads(body)

    def test_reload(self) -> None:
        """
        The swarms file is applied (200, listed under C{reloaded}); a bad
        one is refused (422, under C{refused}) and the swarms stay; GET is
        not allowed.
        """
        files = Files(self)
        path = files.write("swarms.txt", "a\n")
        harness = TrackerHarness(self, provisionedSwarms=frozenset({"a"}))
        reloads = ReloadService(Clock(), [SwarmsFile(harness.tracker, path, readSwarmsFile, ["a"]).reload])
        resource = AdminResource(harness.tracker, reload=reloads.reload)
        files.write("swarms.txt", "a\nb\n")
        self.assertEqual(self.post(resource), (200, {"reloaded": [f"swarms file {path}"], "refused": []}))
        self.assertEqual(harness.tracker.provisionedSwarms, {"a", "b"})
        files.write("swarms.txt", "\u2028\n")
        self.assertEqual(self.post(resource), (422, {"reloaded": [], "refused": [f"swarms file {path}"]}))
        self.assertEqual(harness.tracker.provisionedSwarms, {"a", "b"})
        self.flushLoggedErrors()
        code, body = self.post(resource, "GET")
        self.assertEqual((code, body["error"]), (405, "method-not-allowed"))

    def test_nothingToReload(self) -> None:
        """
        Without reloadable files, C{POST /reload} answers 200 with empty
        lists.
        """
        harness = TrackerHarness(self)
        self.assertEqual(self.post(AdminResource(harness.tracker)), (200, {"reloaded": [], "refused": []}))


class CertificateFiles:
    """
    A key and certificate pair written to files that a test replaces.
    """

    def __init__(self, testCase: SynchronousTestCase) -> None:
        self.ca = TestCA()
        self.files = Files(testCase)
        self.key = self.files.write("server.key", "")
        self.certificate = self.files.write("server.pem", "")
        self.current = self.renew()

    def renew(self) -> bytes:
        """
        Write a new certificate and its key; return the certificate's DER.
        """
        issued = self.ca.issue("localhost", dnsName="localhost", ip="127.0.0.1")
        FilePath(self.key).setContent(issued.key)
        FilePath(self.certificate).setContent(issued.certificate)
        return issued.der

    def description(self, port: str = "0") -> str:
        return f"ssl:{port}:interface=127.0.0.1:privateKey={self.key}:certKey={self.certificate}"


class ReloadWiringTests(SynchronousTestCase):
    """
    L{makeService} registers a reloader for each reloadable file with one
    L{ReloadService}, and builds TLS listeners on their
    L{ListenerCertificate}.
    """

    def test_reloaders(self) -> None:
        """
        With C{--swarms}, C{--auth token:}, and an C{ssl:} listener, there
        is one reloader of each; C{listenSSL} is handed the
        L{ListenerCertificate}, with the settings read at start.
        """
        files = Files(self)
        tls = CertificateFiles(self)
        swarms = files.write("swarms.txt", "a\n")
        secret = files.write("secret", "s" * MIN_SECRET_BYTES)
        options = parse(
            Options(),
            ["--listen", tls.description(), "--swarms", swarms, "--auth", f"token:{secret}"],
        )
        memory = MemoryReactorClock()
        service = makeService(cast(Options, options), memory)
        reloads = service.reloads  # type: ignore[attr-defined]
        self.assertIn(reloads, list(service))
        self.assertEqual(
            [type(r.__self__).__name__ for r in reloads.reloaders],
            ["ListenerCertificate", "SwarmsFile", "SecretFile"],
        )
        service.startService()
        self.addCleanup(service.stopService)
        [(port, _, creator, _, _)] = memory.sslServers
        self.assertIsInstance(creator, ListenerCertificate)
        self.assertIsInstance(creator.current, CertificateOptions)
        self.assertEqual(
            [r["applied"] for r in self.successResultOf(reloads.reload())], [True, True, True]
        )

    def test_noReloaders(self) -> None:
        """
        Without reloadable files, no SIGHUP handler is installed.
        """
        options = parse(Options(), ["--listen", "tcp:0"])
        service = makeService(cast(Options, options), MemoryReactorClock())
        self.assertNotIn(service.reloads, list(service))  # type: ignore[attr-defined]


@implementer(IHandshakeListener)
class _PeerCertificate(Protocol):
    """
    A TLS client that records the server's certificate, then hangs up.
    """

    def __init__(self) -> None:
        self.certificate: Deferred[bytes] = Deferred()

    def handshakeCompleted(self) -> None:
        from cryptography.hazmat.primitives.serialization import Encoding

        assert self.transport is not None
        peer = self.transport.getPeerCertificate()  # type: ignore[attr-defined]
        self.certificate.callback(peer.to_cryptography().public_bytes(Encoding.DER))
        self.transport.loseConnection()


class CertificateSwapTests(TestCase):
    """
    A real tracker listening with C{ssl:} on 127.0.0.1: after a reload,
    new connections see the new certificate; a bad new pair keeps the old.
    """

    timeout = 30

    def certificateSeen(self, port: int) -> "Deferred[bytes]":
        """
        The certificate the listener shows a new connection.
        """
        endpoint = SSL4ClientEndpoint(reactor, "127.0.0.1", port, CertificateOptions())
        client = _PeerCertificate()
        seen: Deferred[bytes] = connectProtocol(endpoint, client).addCallback(lambda _: client.certificate)
        return seen

    @inlineCallbacks
    def test_swap(self) -> Any:
        """
        The first connection sees the first certificate; after the files
        are replaced and read again, a new connection sees the new one; a
        key that does not match its certificate is refused and the
        certificate in use stays.
        """
        tls = CertificateFiles(self)
        options = parse(Options(), ["--listen", tls.description(), "--rate-limit", "0"])
        service = makeService(cast(Options, options), reactor)
        service.startService()
        self.addCleanup(service.stopService)
        tracker = service.tracker  # type: ignore[attr-defined]
        [port] = tracker.ownPorts
        first = yield self.certificateSeen(port)
        self.assertEqual(first, tls.current)
        renewed = tls.renew()
        self.assertNotEqual(renewed, first)
        results = yield service.reloads.reload()  # type: ignore[attr-defined]
        self.assertEqual(results, [{"what": f"TLS files of {tls.description()}", "applied": True}])
        second = yield self.certificateSeen(port)
        self.assertEqual(second, renewed)
        # A key of another pair: refused, the renewed certificate stays.
        other = tls.ca.issue("localhost")
        FilePath(tls.key).setContent(other.key)
        events = capture(self)
        [result] = yield service.reloads.reload()  # type: ignore[attr-defined]
        self.assertFalse(result["applied"])
        self.assertTrue(any(e.get("log_level") == LogLevel.error for e in events))
        third = yield self.certificateSeen(port)
        self.assertEqual(third, renewed)


class ConnectAfterSwarmsReloadTests(SynchronousTestCase):
    """
    The reloaded swarms file and the tracker's state: sessions are
    untouched.
    """

    def test_sessionsUntouched(self) -> None:
        """
        Reading the swarms file again keeps every session and every
        membership of a swarm still listed.
        """
        files = Files(self)
        path = files.write("swarms.txt", "a\n")
        harness = TrackerHarness(self, provisionedSwarms=frozenset({"a"}))
        harness.connect("p")
        harness.ok(JoinRequest, "p", swarmID="a", mode=PeerMode.SEED)
        files.write("swarms.txt", "a\nb\n")
        self.assertTrue(
            self.successResultOf(SwarmsFile(harness.tracker, path, readSwarmsFile, ["a"]).reload())
        )
        self.assertEqual([m.peerID for m in harness.view("a")], ["p"])
        self.assertEqual(list(harness.registered("p").swarms), ["a"])
