"""
Tests for the command lines as a newcomer meets them (issue 15): usage
errors that name the option, the file and the line and exit 64; a
listener that cannot start, reported in one line with exit status 1; the
help texts, the versions, the secret file, and what the peer and the
client say about a refused or ended session.
"""

from __future__ import annotations

import io
import os
import random
import shlex
import stat
import sys
from typing import Any, List, Tuple, cast

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import Factory, ProcessProtocol
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import ILogObserver, LogLevel, formatEvent, globalLogPublisher
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase

import ppsp
from ppsp import auth as authCLI
from ppsp import client as clientCLI
from ppsp._options import parseSwarm
from ppsp.messages import PeerMode
from ppsp.peer import tap as peerTap
from ppsp.peer.service import REGISTERED, PeerService
from ppsp.test.test_twistd import BIN, PROJECT, environment
from ppsp.testing import MemoryTracker
from ppsp.tracker import tap as trackerTap
from ppsp.tracker.credentials import TokenPeerChecker, issueToken

reactor: Any = _reactor

SECRET = b"s" * 32


def trackerOptions(*argv: str) -> trackerTap.Options:
    options = trackerTap.Options()
    options.parseOptions(list(argv))
    return options


def peerOptions(*argv: str) -> peerTap.Options:
    options = peerTap.Options()
    options.parseOptions(["--tracker", "http://127.0.0.1:7000/", "--peer-id", "p", *argv])
    return options


class SwarmsFileTests(SynchronousTestCase):
    """
    A swarms file line is a SwarmID, then at most C{selector=...}:
    anything else is a usage error naming the file and the line.
    """

    def write(self, content: str) -> str:
        path = FilePath(self.mktemp())
        path.setContent(content.encode("utf-8"))
        return str(path.path)

    def test_typoRefused(self) -> None:
        """
        A misspelt C{selector=} does not provision a swarm named after the
        whole line: it is a usage error naming the file, the line and the
        word.
        """
        path = self.write("live-0\nlive-1 selektor=roles\n")
        e = self.assertRaises(usage.UsageError, trackerOptions, "--swarms", path)
        self.assertIn(f"{path}:2: ", str(e))
        self.assertIn("'selektor=roles'", str(e))

    def test_extraWordRefused(self) -> None:
        """
        A word after the SwarmID that is not C{selector=} is refused, so
        an unquoted SwarmID with a space is too.
        """
        path = self.write("live 1 extra\n")
        e = self.assertRaises(usage.UsageError, trackerOptions, "--swarms", path)
        self.assertIn(f"{path}:1: unexpected '1'", str(e))

    def test_quotedSwarmID(self) -> None:
        """
        A SwarmID with spaces, or one starting with a double quote, is
        written as a JSON string, and may be followed by its strategy.
        """
        path = self.write('"live 1" selector=random\n"\\"q"\nplain\tselector=random\n')
        swarms = trackerTap.readSwarmsFile(path)
        self.assertEqual(sorted(swarms), ['"q', "live 1", "plain"])
        self.assertIsNotNone(swarms["live 1"])
        self.assertIsNone(swarms['"q'])

    def test_unterminatedQuote(self) -> None:
        """
        A quoted SwarmID that does not end is a usage error naming the
        line.
        """
        path = self.write('ok\n"live 1 selector=random\n')
        e = self.assertRaises(usage.UsageError, trackerTap.readSwarmsFile, path)
        self.assertIn(f"{path}:2: ", str(e))

    def test_reloadUsesTheSameReader(self) -> None:
        """
        Reading the file again (SIGHUP, POST /reload) refuses the same
        typo, and keeps the swarms it had.
        """
        path = self.write("live-1\n")
        options = trackerOptions("--swarms", path, "--listen", "tcp:0")
        service = trackerTap.makeService(options, MemoryReactorClock())
        events: List[Any] = []
        globalLogPublisher.addObserver(cast(ILogObserver, events.append))
        self.addCleanup(globalLogPublisher.removeObserver, cast(ILogObserver, events.append))
        FilePath(path).setContent(b"live-1 selektor=roles\n")
        service.reloads.reload()  # type: ignore[attr-defined]
        errors = [formatEvent(e) for e in events if e.get("log_level") is LogLevel.error]
        self.assertTrue(any("selektor=roles" in line and f"{path}:1" in line for line in errors), errors)


class SwarmModeTests(SynchronousTestCase):
    """
    C{SWARM[:MODE]} is read by one parser: an unknown mode is a usage
    error in C{ppsp-peer} and in the client alike.
    """

    def test_parser(self) -> None:
        """
        What follows the last colon is the mode; an unknown one is refused.
        """
        self.assertEqual(parseSwarm("s:seed"), ("s", PeerMode.SEED))
        self.assertEqual(parseSwarm("urn:live:LEECH"), ("urn:live", PeerMode.LEECH))
        self.assertEqual(parseSwarm("s"), ("s", PeerMode.LEECH))
        self.assertRaises(ValueError, parseSwarm, "s:BOSS")

    def test_peer(self) -> None:
        """
        C{ppsp-peer --swarm s:BOSS} is a usage error naming the mode.
        """
        e = self.assertRaises(usage.UsageError, peerOptions, "--swarm", "s:BOSS")
        self.assertIn("--swarm", str(e))
        self.assertIn("unknown mode 'BOSS'", str(e))

    def test_client(self) -> None:
        """
        The client's C{join} takes the same C{SWARM[:MODE]}, and refuses
        the same mode, or two modes that disagree.
        """
        options = clientCLI.Options()
        options.parseOptions(["join", "live:SEED"])
        sub: Any = options.subOptions
        self.assertEqual((sub["swarm"], sub["peerMode"]), ("live", PeerMode.SEED))
        for argv in (["join", "s:BOSS"], ["join", "s", "--mode", "BOSS"], ["join", "s:SEED", "--mode", "LEECH"]):
            self.assertRaises(usage.UsageError, clientCLI.Options().parseOptions, argv)


class OptionValueTests(SynchronousTestCase):
    """
    A value an option refuses is reported with the option's name and
    what it takes, the same way in every command line.
    """

    def test_tracker(self) -> None:
        """
        Not Twisted's "Parameter type enforcement failed" nor Python's
        "invalid literal for int()".
        """
        e = self.assertRaises(usage.UsageError, trackerOptions, "--max-peers", "zero")
        self.assertEqual(str(e), "--max-peers 'zero': must be a whole number of at least 1")

    def test_peerAndClient(self) -> None:
        """
        The peer and the client name their options too.
        """
        e = self.assertRaises(usage.UsageError, peerOptions, "--timeout", "soon")
        self.assertEqual(str(e), "--timeout 'soon': must be a number of seconds, more than 0")
        e = self.assertRaises(usage.UsageError, clientCLI.Options().parseOptions, ["find", "s", "--num", "x"])
        self.assertEqual(str(e), "--num 'x': must be a whole number of at least 1")

    def test_portOutOfRange(self) -> None:
        """
        C{tcp:99999} is a usage error at option parsing, for C{--listen},
        C{--admin} and C{ppsp-peer --stat-listen}.
        """
        e = self.assertRaises(usage.UsageError, trackerOptions, "--listen", "tcp:99999")
        self.assertIn("--listen 'tcp:99999'", str(e))
        self.assertIn("out of range", str(e))
        self.assertRaises(usage.UsageError, trackerOptions, "--admin", "tcp:70000:interface=127.0.0.1")
        self.assertRaises(usage.UsageError, peerOptions, "--stat-listen", "tcp:70000")

    def test_clientURL(self) -> None:
        """
        A C{--tracker} that is not an http:// or https:// URL is a usage
        error.
        """
        e = self.assertRaises(
            usage.UsageError, clientCLI.Options().parseOptions, ["--tracker", "ftp://x/", "find", "s"]
        )
        self.assertIn("--tracker 'ftp://x/'", str(e))

    def test_missingArgument(self) -> None:
        """
        A missing positional argument is named with its command.
        """
        e = self.assertRaises(usage.UsageError, clientCLI.Options().parseOptions, ["find"])
        self.assertEqual(str(e), "find takes SWARM")


class HelpTests(SynchronousTestCase):
    """
    C{--help} shows plain text, usage lines name the program and the
    arguments, C{--version} names ppsp.
    """

    def help(self, options: usage.Options, argv: List[str]) -> str:
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        self.assertRaises(SystemExit, options.parseOptions, argv)
        return out.getvalue()

    def test_noMarkup(self) -> None:
        """
        No epytext markup reaches the help of any command line, and no
        run of spaces from a docstring's indentation reaches an option's
        text or the description.
        """
        for options, argv in [
            (trackerTap.Options(), ["--help"]),
            (peerTap.Options(), ["--help"]),
            (clientCLI.Options(), ["--help"]),
            (clientCLI.Options(), ["join", "--help"]),
            (authCLI.Options(), ["--help"]),
            (authCLI.Options(), ["new-secret", "--help"]),
        ]:
            text = self.help(options, argv)
            self.assertNotRegex(text, r"[BCIL]\{", argv)
            shown = options.subOptions if len(argv) > 1 else options
            for doc in [*shown.docs.values(), shown.longdesc]:
                self.assertNotIn("  ", doc or "", argv)

    def test_usageLines(self) -> None:
        """
        The client's and ppsp.auth's usage lines start with the program
        and show the command's positional arguments.
        """
        self.assertTrue(
            self.help(clientCLI.Options(), ["--help"]).startswith("Usage: python -m ppsp.client ")
        )
        self.assertTrue(
            self.help(clientCLI.Options(), ["find", "--help"]).startswith(
                "Usage: python -m ppsp.client [options] find [options] SWARM\n"
            )
        )
        self.assertTrue(
            self.help(authCLI.Options(), ["issue", "--help"]).startswith("Usage: python -m ppsp.auth issue ")
        )

    def test_version(self) -> None:
        """
        C{--version} gives ppsp's version, not only Twisted's.
        """
        for options in (trackerTap.Options(), peerTap.Options(), clientCLI.Options()):
            self.assertIn(f"ppsp {ppsp.__version__} (Twisted ", self.help(options, ["--version"]))

    def test_pluginDescription(self) -> None:
        """
        The plugin list says that the tracker speaks JSON too.
        """
        from twisted.application.service import IServiceMaker
        from twisted.plugin import getPlugins

        makers = {p.tapname: p for p in getPlugins(IServiceMaker)}
        self.assertIn("JSON", makers["ppsp-tracker"].description)


class SecretFileTests(SynchronousTestCase):
    """
    C{python -m ppsp.auth new-secret --out FILE} makes a file only its
    owner may read.
    """

    def test_out(self) -> None:
        """
        The file is created with mode 0600 whatever the umask, and an
        existing file is refused and left unchanged.
        """
        path = FilePath(self.mktemp())
        previous = os.umask(0o022)
        self.addCleanup(os.umask, previous)
        err = io.StringIO()
        self.assertEqual(authCLI.main(["new-secret", "--out", path.path], io.StringIO(), err=err), 0)
        self.assertEqual(stat.S_IMODE(os.stat(path.path).st_mode), 0o600)
        secret = path.getContent()
        self.assertGreaterEqual(len(secret.strip()), 43)
        self.assertEqual(authCLI.main(["new-secret", "--out", path.path], io.StringIO(), err=err), 1)
        self.assertIn("File exists", err.getvalue())
        self.assertEqual(path.getContent(), secret)

    def test_warnsOnSharedOutput(self) -> None:
        """
        Without C{--out}, a secret redirected to a file others may read
        comes with a warning on standard error.
        """
        path = FilePath(self.mktemp())
        with open(os.open(path.path, os.O_WRONLY | os.O_CREAT, 0o644), "w") as out:
            os.chmod(path.path, 0o644)
            err = io.StringIO()
            self.assertEqual(authCLI.main(["new-secret"], out, err=err), 0)
        self.assertIn("umask 077", err.getvalue())


class RefusedPeerTests(SynchronousTestCase):
    """
    A peer whose credential a closed tracker refuses says why, once, and
    keeps trying at the longest wait.
    """

    def test_refused(self) -> None:
        """
        One warning naming AUTHENTICATION REQUIRED and the credential file;
        attempts a C{maxRetryDelay} apart (with jitter); once the file holds
        a good credential, the peer registers.
        """
        clock = Clock()
        fake = MemoryTracker(clock=clock, checker=TokenPeerChecker(SECRET, clock))
        cer = FilePath(self.mktemp())
        cer.setContent(b"ppsp1.nobody.0.bad\n")
        events: List[Any] = []
        globalLogPublisher.addObserver(cast(ILogObserver, events.append))
        self.addCleanup(globalLogPublisher.removeObserver, cast(ILogObserver, events.append))
        client = fake.client("peer-a", credentialFile=cer.path, random=random.Random(6))
        service = PeerService(
            client, clock, ["s"], retryDelay=1, maxRetryDelay=60, random=random.Random(5)
        )
        service.startService()
        self.addCleanup(service.stopService)
        fake.advance(600, step=1)
        warnings = [
            formatEvent(e)
            for e in events
            if e.get("log_level") is LogLevel.warn and "refused to register" in formatEvent(e)
        ]
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("AUTHENTICATION REQUIRED", warnings[0])
        self.assertIn(cer.path, warnings[0])
        connects = [r for r in fake.received if type(r).__name__ == "ConnectRequest"]
        # 600 s at 30 to 60 s apart: at most 21 attempts, at least 10.
        self.assertLessEqual(len(connects), 21)
        self.assertGreaterEqual(len(connects), 10)
        cer.setContent(issueToken(SECRET, "peer-a", int(clock.seconds()) + 3600).encode() + b"\n")
        fake.advance(61, step=1)
        self.assertEqual(service.state, REGISTERED)


class ClientSessionTests(SynchronousTestCase):
    """
    The client says "session kept" only of a session the tracker still
    holds.
    """

    def setUp(self) -> None:
        self.fake = MemoryTracker()

    def cli(self, *argv: str) -> Tuple[int, List[str]]:
        options = clientCLI.Options()
        options.parseOptions(["--tracker", self.fake.url, *argv])
        client = self.fake.client(options["peer-id"], attempts=1, codec=options["codec"])
        out = io.StringIO()
        status = self.successResultOf(
            Deferred.fromCoroutine(clientCLI.run(options, client, out, self.fake.clock))
        )
        return status, out.getvalue().splitlines()

    def test_tokenWithoutKeep(self) -> None:
        """
        A session reused with C{--token} but without C{--keep} is ended,
        and the client says so; reused again with C{--keep}, the client
        does not claim it is kept.
        """
        status, lines = self.cli("--peer-id", "me", "--keep", "connect")
        token = lines[-1].rsplit(" ", 1)[1]
        status, lines = self.cli("--peer-id", "me", "--token", token, "join", "live")
        self.assertEqual(status, 0)
        self.assertEqual(lines[-2:], [
            "DISCONNECT -> OK (0 ms)",
            "session ended (give --keep to keep a session reused with --token)",
        ])
        status, lines = self.cli("--peer-id", "me", "--token", token, "--keep", "keepalive")
        self.assertEqual(status, 1)
        self.assertFalse(any(line.startswith("session kept") for line in lines), lines)
        self.assertEqual(
            lines[-1], "session not kept: the tracker no longer knows it (AUTHENTICATION REQUIRED)"
        )


class _Output(ProcessProtocol):
    """
    A process's standard output and error, apart, and its end.
    """

    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.ended: Deferred[Any] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.out.extend(data)

    def errReceived(self, data: bytes) -> None:
        self.err.extend(data)

    def processEnded(self, reason: Any) -> None:
        self.ended.callback(reason.value)


class ProcessTests(TestCase):
    """
    The command lines as real processes: their exit status and what they
    write on standard error.
    """

    timeout = 60

    def spawn(self, argv: List[str], path: str = "") -> "Deferred[Tuple[int, bytes, bytes]]":
        process = _Output()
        reactor.spawnProcess(process, argv[0], argv, env=environment(), path=path or None)

        def ended(reason: Any) -> Tuple[int, bytes, bytes]:
            return reason.exitCode, bytes(process.out), bytes(process.err)

        return process.ended.addCallback(ended)

    def busyPort(self) -> int:
        port = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return cast(int, port.getHost().port)

    @inlineCallbacks
    def test_portInUse(self) -> Any:
        """
        A port in use ends C{twistd -n ppsp-tracker}, C{twist ppsp-tracker}
        (on C{--listen} or C{--admin}) and C{twistd -n ppsp-peer} (on
        C{--stat-listen}) with one line on standard error naming the
        option, the endpoint and the reason, and exit status 1.
        """
        busy = f"tcp:{self.busyPort()}:interface=127.0.0.1"
        free = "tcp:0:interface=127.0.0.1"
        twistd = [os.path.join(BIN, "twistd"), "-n", "--pidfile="]
        cases = [
            (twistd + ["ppsp-tracker", "--listen", busy], "--listen"),
            ([os.path.join(BIN, "twist"), "ppsp-tracker", "--listen", busy], "--listen"),
            (twistd + ["ppsp-tracker", "--listen", free, "--admin", busy], "--admin"),
            (
                twistd
                + ["ppsp-peer", "--tracker", "http://127.0.0.1:9/", "--peer-id", "p", "--swarm", "s",
                   "--stat-listen", busy],
                "--stat-listen",
            ),
        ]
        for argv, option in cases:
            status, out, err = yield self.spawn(argv)
            self.assertEqual(status, 1, (argv, out, err))
            self.assertEqual(
                err.decode(), f"cannot listen on {option} {busy}: Address already in use\n", argv
            )
            self.assertNotIn(b"Traceback", out)

    @inlineCallbacks
    def test_usageErrors(self) -> Any:
        """
        C{--listen tcp:99999}, a typo in the swarms file and
        C{python -m ppsp.client --tracker ftp://x/ find s} exit 64 with a
        message, and no traceback.
        """
        swarms = FilePath(self.mktemp())
        swarms.setContent(b"live-1 selektor=roles\n")
        cases = [
            ([os.path.join(BIN, "twistd"), "-n", "--pidfile=", "ppsp-tracker", "--listen", "tcp:99999"],
             b"Error: --listen 'tcp:99999' is not a valid endpoint: port 99999 is out of range"),
            ([os.path.join(BIN, "twist"), "ppsp-tracker", "--swarms", swarms.path],
             f"Error: {swarms.path}:1: unexpected 'selektor=roles'".encode()),
            ([sys.executable, "-m", "ppsp.client", "--tracker", "ftp://x/", "find", "s"],
             b"Error: --tracker 'ftp://x/' is not an http:// or https:// URL"),
            ([os.path.join(BIN, "twistd"), "-n", "--pidfile=", "ppsp-peer", "--tracker", "http://h/",
              "--peer-id", "p", "--swarm", "s:BOSS"],
             b"unknown mode 'BOSS'"),
        ]
        for argv, message in cases:
            status, out, err = yield self.spawn(argv)
            self.assertEqual(status, 64, (argv, out, err))
            self.assertIn(message, out + err)
            self.assertNotIn(b"Traceback", out + err)

    @inlineCallbacks
    def test_documentedSecretCommands(self) -> Any:
        """
        The commands of docs/security.rst "Running a closed tracker" that
        make the secret and a credential run as written, and the secret
        file is readable by its owner only.
        """
        text = PROJECT.child("docs").child("security.rst").getContent().decode("utf-8")
        commands = [
            line.strip()
            for line in text.splitlines()
            if line.strip().startswith("python -m ppsp.auth new-secret")
            or line.strip().startswith("python -m ppsp.auth issue")
        ][:2]
        self.assertEqual(len(commands), 2, commands)
        directory = FilePath(self.mktemp())
        directory.makedirs()
        for command in commands:
            words = shlex.split(command)
            redirect = None
            if ">" in words:
                words, redirect = words[: words.index(">")], words[words.index(">") + 1]
            status, out, err = yield self.spawn([sys.executable, *words[1:]], directory.path)
            self.assertEqual(status, 0, (command, err))
            if redirect is not None:
                directory.child(redirect).setContent(out)
        self.assertEqual(stat.S_IMODE(os.stat(directory.child("secret").path).st_mode), 0o600)
        self.assertTrue(directory.child("peer-a.cer").getContent().startswith(b"ppsp1."))
