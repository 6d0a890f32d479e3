"""
Every shell command of the documentation is run by a test exactly as
written (L{ppsp.test.doccommands} says how commands are found, recorded
and run), or is exempt here for a stated reason.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re
import socket
from typing import Any, Dict, Iterable, List, Tuple, Union

from lxml import etree
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

import ppsp.test
from ppsp.test import doccommands
from ppsp.test.doccommands import (
    REGISTRY,
    CommandProcess,
    Commands,
    DocumentedCommand,
    LiteralBlock,
    blockAfter,
    blockBefore,
    commandsIn,
    documentedCommands,
    documentedJSON,
    freePort,
    requirePrograms,
    runsDocumented,
    shownPattern,
    unshown,
    withPorts,
)
from ppsp.test.test_twistd import BIN, PROJECT, Process, spawn

_NETWORK = (
    "installs packages from the package index, which the suite does not reach "
    "(.ci/run makes its environments with this install)"
)
_SUITE = "runs this test suite, which would then run itself"
_BENCHMARK = "a benchmark: it loads the machine for minutes and prints measurements; the suite measures no speed"
_SYSTEMD = (
    "the systemd deployment, as root: writes /opt/ppsp, /etc/ppsp and /etc/systemd/system "
    "and starts the units (ppsp.test.test_deploy verifies the units and runs their socket activation)"
)
_ADMIN_USERS = "reads /etc/ppsp/admin-users, the file the systemd steps make as root"

#: The documented commands that no test runs, as (page, text), and why.
EXEMPT: Dict[Tuple[str, str], str] = {
    ("README.rst", ".venv/bin/pip install ."): _NETWORK,
    ("README.rst", "bash .ci/run"): "CI's own script: it runs this suite on two Pythons, so here it would run itself",
    ("README.rst", "pip install -e '.[dev]' --config-settings editable_mode=compat"): _NETWORK,
    ("README.rst", "python -m twisted.trial ppsp"): _SUITE,
    ("docs/installation.rst", ".venv/bin/pip install ."): _NETWORK,
    ("docs/installation.rst", ".venv/bin/pip install -e '.[dev]' --config-settings editable_mode=compat"): _NETWORK,
    ("docs/installation.rst", ".venv/bin/python -m twisted.trial ppsp"): _SUITE,
    (
        "docs/operations.rst",
        "twist ppsp-tracker --listen tcp:7000 --admin ssl:7001:privateKey=admin.key:certKey=admin.pem "
        "--admin-auth file:/etc/ppsp/admin-users",
    ): _ADMIN_USERS,
    (
        "docs/operations.rst",
        "curl --cacert server-ca.pem --cert operator.pem --key operator.key https://tracker.example:7001/swarms",
    ): "asks a remote tracker, tracker.example, a name no test machine resolves",
    ("docs/operations.rst", "python3 -m venv /opt/ppsp"): _SYSTEMD,
    ("docs/operations.rst", "/opt/ppsp/bin/pip install ."): _SYSTEMD,
    ("docs/operations.rst", "install -D -m 644 contrib/systemd/tracker.toml /etc/ppsp/tracker.toml"): _SYSTEMD,
    ("docs/operations.rst", 'umask 077; echo "admin:$(openssl rand -hex 16)" > /etc/ppsp/admin-users'): _SYSTEMD,
    (
        "docs/operations.rst",
        "install -m 644 contrib/systemd/ppsp-tracker.socket contrib/systemd/ppsp-tracker.service /etc/systemd/system/",
    ): _SYSTEMD,
    ("docs/operations.rst", "systemctl daemon-reload"): _SYSTEMD,
    ("docs/operations.rst", "systemctl enable --now ppsp-tracker.socket ppsp-tracker.service"): _SYSTEMD,
    ("docs/operations.rst", "systemctl status ppsp-tracker.service"): _SYSTEMD,
    ("docs/operations.rst", "journalctl -u ppsp-tracker -o cat | jq ."): _SYSTEMD,
    ("docs/operations.rst", 'curl -u "$(cat /etc/ppsp/admin-users)" http://127.0.0.1:7001/metrics'): _ADMIN_USERS,
    ("docs/performance.rst", "pip install -e . --config-settings editable_mode=compat"): _NETWORK,
    ("docs/performance.rst", "apt-get install wrk                      # wrk 4, with LuaJIT"): (
        "installs a system package, as root, from the network"
    ),
    ("docs/performance.rst", "pip install py-spy                       # for --profile only"): _NETWORK,
    ("docs/performance.rst", "python benchmarks/run.py                 # the HTTP table (3 minutes)"): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/run.py --instrument    # plus where the time goes"): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/run.py --instrument --soak 14"): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/run.py --profile       # plus a py-spy summary"): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/request_path.py        # decode/handle/encode per method"): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/http_path.py           # the HTTP path in process, against bare"): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/find_cost.py           # FIND against swarm size"): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/memory.py              # bytes per peer"): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/overload.py            # load shedding at 3x (2 minutes)"): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/state.py               # the state file of 100,000 peers"): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/run.py --redis         # memory store against Redis (7 minutes)"): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/redis_find.py --leeches-only  # FIND on Redis against swarm size"): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/strategy_cost.py --json FILE --rst docs/_static/strategy-cost.inc"): (
        _BENCHMARK
    ),
    (
        "docs/performance.rst",
        "python benchmarks/quality.py --json docs/_static/strategy-quality.json "
        "--svg docs/_static/strategy-quality.svg --rst docs/_static/strategy-quality.inc",
    ): _BENCHMARK,
    ("docs/performance.rst", "python benchmarks/metrics_cost.py [--json FILE]"): _BENCHMARK,
    (
        "docs/running.rst",
        "twistd --logfile /var/log/ppsp.log --pidfile /run/ppsp.pid ppsp-tracker --listen tcp:7000:interface=192.0.2.10",
    ): (
        "a production start, as root: twistd detaches, writes /var/log and /run, and listens on "
        "192.0.2.10, a documentation address no host has"
    ),
    ("docs/running.rst", "twistd -n ppsp-tracker --state /var/lib/ppsp-tracker/state.jsonl"): (
        "keeps the state in the systemd unit's state directory, which root makes "
        "(ppsp.test.test_state runs twistd with --state)"
    ),
}


def importTests() -> None:
    """
    Import every test module of ppsp, so that L{REGISTRY} holds what each
    test records.
    """
    for module in pkgutil.iter_modules(ppsp.test.__path__):
        if module.name.startswith("test_"):
            importlib.import_module(f"ppsp.test.{module.name}")


class RuleTests(SynchronousTestCase):
    """
    Which lines of a literal block are commands (L{commandsIn}).
    """

    def commands(self, text: str, language: Any = None) -> List[str]:
        return [c.text for c in commandsIn(LiteralBlock("p.rst", 10, language, text))]

    def test_programs(self) -> None:
        """
        A line is a command when its first word names a program (possibly
        by a path, after assignments); log lines, configuration, comments
        and syntax are not.
        """
        text = (
            "twistd -n ppsp-tracker\n"
            ".venv/bin/python -m ppsp.client find live-1\n"
            "PYTHONPATH=site twist ppsp-tracker --list-selectors\n"
            "PEER=peer-a\n"
            "PPSP tracker listening on 0.0.0.0:7000 (tcp:7000)\n"
            "[ppsp.peer.service.PeerService#info] left every swarm\n"
            'listen = "tcp:7000"\n'
            "# a comment\n"
            "mtls:PORT:privateKey=FILE\n"
            "ppsp-tracker: cannot use the state file\n"
            "live-1 selector=roles\n"
        )
        self.assertEqual(
            self.commands(text),
            [
                "twistd -n ppsp-tracker",
                ".venv/bin/python -m ppsp.client find live-1",
                "PYTHONPATH=site twist ppsp-tracker --list-selectors",
                "PEER=peer-a",
            ],
        )

    def test_transcript(self) -> None:
        """
        In a block with C{$ } lines, those are the commands, and the lines
        up to the next one are what each prints; other lines that look
        like commands are output.
        """
        [first, second] = commandsIn(
            LiteralBlock("p.rst", 10, None, "$ curl -s http://h/\n{\n  \"a\": 1\n}\n\n$ twistd --version\ntwistd 26\n")
        )
        self.assertEqual((first.text, first.line, first.output), ("curl -s http://h/", 10, ("{", '  "a": 1', "}")))
        self.assertEqual((second.text, second.line, second.output), ("twistd --version", 15, ("twistd 26",)))

    def test_continued(self) -> None:
        """
        A command ending in a backslash goes on with the next line, joined
        with one space.
        """
        self.assertEqual(
            self.commands("twistd -n ppsp-tracker \\\n    --listen tcp:7000 \\\n    --auth x509:ca.pem\n"),
            ["twistd -n ppsp-tracker --listen tcp:7000 --auth x509:ca.pem"],
        )

    def test_hereDocument(self) -> None:
        """
        A command with a here-document takes the lines up to its delimiter.
        """
        self.assertEqual(
            self.commands("cat > a.ext <<EOF\nbasicConstraints = CA:FALSE\nEOF\nopenssl version\n"),
            ["cat > a.ext <<EOF\nbasicConstraints = CA:FALSE\nEOF", "openssl version"],
        )

    def test_and(self) -> None:
        """
        Commands joined by C{&&} are each a command; C{||} and C{;} keep
        their line whole.
        """
        self.assertEqual(
            self.commands("python3 -m venv .venv && .venv/bin/pip install .\ncurl -f u || echo down\n"),
            ["python3 -m venv .venv", ".venv/bin/pip install .", "curl -f u || echo down"],
        )

    def test_language(self) -> None:
        """
        A block in another language than a shell's holds no command.
        """
        self.assertEqual(self.commands("python -m x", "python"), [])
        self.assertEqual(self.commands("$ python -m x", "console"), ["python -m x"])

    def test_readsRestructuredText(self) -> None:
        """
        Literal blocks are read as reStructuredText has them: after C{::},
        in a list item, and from C{code-block}; an unknown directive's
        text is no block.
        """
        page = FilePath(self.mktemp())
        page.setContent(
            b"Title\n=====\n\nRun::\n\n    twistd -n ppsp-tracker\n\n"
            b"1. In a list::\n\n       curl -s http://h/\n\n   and more text.\n\n"
            b".. code-block:: xml\n\n    <a/>\n\n.. literalinclude:: nothing.py\n\n"
            b".. unknown-directive::\n\n    twistd -n ppsp-peer\n"
        )
        [blocks] = doccommands.readBlocks([(page, "p.rst")])
        self.assertEqual(
            [(b.line, b.language, b.text) for b in blocks],
            [(6, None, "twistd -n ppsp-tracker"), (10, None, "curl -s http://h/"), (16, "xml", "<a/>")],
        )

    def test_ports(self) -> None:
        """
        A documented port is replaced where it follows a colon, not inside
        a longer number.
        """
        self.assertEqual(
            withPorts("--listen tcp:7000 http://h:7000/ 17000 :70001 :7001", {7000: 4242}),
            "--listen tcp:4242 http://h:4242/ 17000 :70001 :7001",
        )

    def test_shown(self) -> None:
        """
        A documented output line stands for lines where its numbers,
        tokens, 8-digit hex IDs and ellipses vary; L{unshown} lists the
        lines not shown, in order.
        """
        cases = [
            ("CONNECT as ppsp-cli-6fd92d88 -> OK (8 ms)", "CONNECT as ppsp-cli-0a1b2c3d -> OK (12 ms)"),
            ("  AuthToken: fYVsNT8ma1fbyS2n59J3jNWoQSs6nMr9", "  AuthToken: abcdefghijklmnopqrstuvwxyz_-"),
            ("[x#info] refused: ...: the tracker", "2026 [x#info] refused: why: the tracker"),
            ("--token 0b4W... disconnect", "--token m9OF-8oWRXysjn_lV disconnect"),
        ]
        for documented, written in cases:
            self.assertTrue(shownPattern(documented).search(written), (documented, written))
        self.assertFalse(shownPattern("FIND live-1 -> OK").search("FIND live-1 -> OBJECT NOT FOUND"))
        self.assertEqual(unshown(["a 1", "...", "b 2"], "x\na 7\ny\nb 9\n"), [])
        self.assertEqual(unshown(["b 2", "a 1"], "a 7\nb 9\n"), ["a 1"])

    def test_registry(self) -> None:
        """
        L{runsDocumented} records the test for each command it names, and
        hands the test the page's commands, the top decorator's first; a
        command the page does not have fails the test.
        """
        registry: Dict[Tuple[str, str], List[str]] = {}
        self.patch(doccommands, "REGISTRY", registry)
        seen: List[Any] = []

        class Example:
            @runsDocumented("docs/running.rst", "twist ppsp-tracker --listen tcp:7000")
            @runsDocumented("docs/peer.rst", "python -m ppsp.client --tracker http://127.0.0.1:7000/ find live-1")
            def test_it(self, *commands: DocumentedCommand) -> None:
                seen.extend(commands)

            @runsDocumented("docs/running.rst", "twistd -n ppsp-tracker --no-such-option")
            def test_gone(self, command: DocumentedCommand) -> None:
                pass

        Example().test_it()
        self.assertEqual(
            [(c.page, c.text) for c in seen],
            [
                ("docs/running.rst", "twist ppsp-tracker --listen tcp:7000"),
                ("docs/peer.rst", "python -m ppsp.client --tracker http://127.0.0.1:7000/ find live-1"),
            ],
        )
        self.assertEqual(
            registry[("docs/running.rst", "twist ppsp-tracker --listen tcp:7000")],
            [f"{__name__}.RuleTests.test_registry.<locals>.Example.test_it"],
        )
        e = self.assertRaises(AssertionError, Example().test_gone)
        self.assertIn("docs/running.rst documents no command 'twistd -n ppsp-tracker --no-such-option'", str(e))


class CoverageTests(SynchronousTestCase):
    """
    Every documented command is run by a test, or exempt.
    """

    def setUp(self) -> None:
        importTests()
        self.documented = documentedCommands()

    def test_everyDocumentedCommandIsRun(self) -> None:
        """
        Each command of README.rst and docs/*.rst is run, as written, by a
        test that records it with C{runsDocumented}, unless L{EXEMPT} says
        why none can.
        """
        missing = [
            str(c) for c in self.documented if (c.page, c.text) not in REGISTRY and (c.page, c.text) not in EXEMPT
        ]
        if missing:
            self.fail(
                "documented commands that no test runs as written (run each in a test decorated with "
                "ppsp.test.doccommands.runsDocumented, or exempt it in ppsp.test.test_doccommands.EXEMPT "
                "with the reason):\n" + "\n".join(missing)
            )

    def test_recordsAreCurrent(self) -> None:
        """
        Every command that a test records, or that L{EXEMPT} names, is
        still documented, and no command is both run and exempt.
        """
        documented = {(c.page, c.text) for c in self.documented}
        stale = [
            f"{page}: {text!r} (run by {', '.join(tests)})"
            for (page, text), tests in REGISTRY.items()
            if (page, text) not in documented
        ]
        stale += [f"{page}: {text!r} (exempt)" for page, text in EXEMPT if (page, text) not in documented]
        self.assertEqual(stale, [], "no longer documented")
        self.assertEqual([key for key in EXEMPT if key in REGISTRY], [], "both run and exempt")


def listening(process: CommandProcess, prefix: bytes = b"PPSP tracker listening on") -> "Deferred[re.Match[bytes]]":
    """
    Fire with the match of the tracker's start-up line (or of its admin
    line, with that C{prefix}), whose group 1 is the port.
    """
    return process.waitFor(re.escape(prefix) + rb" [^ ]+:(\d+) \(")


def registered(peerID: str, url: str) -> bytes:
    """
    The pattern of the line a peer logs once registered with the tracker
    at C{url} in one swarm.
    """
    return re.escape(f"{peerID} registered with the tracker at {url} in 1 swarm(s)").encode()


def exchange(port: int, data: bytes) -> bytes:
    """
    Send C{data} to 127.0.0.1:C{port} and read until the server closes.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def connectRequest(peerID: str, extraHeaders: bytes = b"") -> bytes:
    """
    An HTTP request that CONNECTs C{peerID}, closing the connection after
    the answer.
    """
    body = (
        f'<PPSPTrackerProtocol version="1.0"><Method>CONNECT</Method>'
        f"<TransactionID>1</TransactionID><PeerID>{peerID}</PeerID></PPSPTrackerProtocol>"
    ).encode()
    return (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/ppsp-tracker+xml\r\n" + extraHeaders
        + b"Content-Length: %d\r\n\r\n" % (len(body),) + body
    )


def jsonOf(process: CommandProcess) -> Any:
    """
    The JSON document a command printed (after any HTTP head).
    """
    text = process.text
    return json.loads(text[min(i for i in (text.find("{"), text.find("[")) if i >= 0) :])


class DocsTestCase(TestCase):
    """
    Checks that the tests of documented commands share.
    """

    timeout = 180

    def assertShown(self, documented: Union[str, Iterable[str]], written: str) -> None:
        """
        Each line of the documented output C{documented} (lines, or a
        literal block's text) is shown in C{written}, in order (see
        L{unshown}).
        """
        lines = documented.splitlines() if isinstance(documented, str) else list(documented)
        missing = unshown(lines, written)
        self.assertEqual(missing, [], f"documented, not shown:\n{written}")

    def assertDocumentedKeys(self, documented: Any, actual: Any, where: str = "") -> None:
        """
        Each key of the documented JSON C{documented} is in C{actual} too,
        at every level (the first item of lists), apart from the contents
        of C{counters}, which depend on what the tracker counted so far.
        """
        if isinstance(documented, dict):
            self.assertIsInstance(actual, dict, where)
            missing = sorted(set(documented) - set(actual))
            self.assertEqual(missing, [], f"{where or 'the answer'}: documented keys it lacks")
            for key, value in documented.items():
                if key != "counters":
                    self.assertDocumentedKeys(value, actual[key], f"{where}.{key}")
        elif isinstance(documented, list) and documented and actual:
            self.assertDocumentedKeys(documented[0], actual[0], f"{where}[0]")

    def peer(self, *argv: str) -> Process:
        """
        Start C{twistd -n --pidfile= ppsp-peer ARGV}: a peer that the docs
        describe rather than command (the output is the text log).
        """
        process = Process()
        spawn(self, process, [os.path.join(BIN, "twistd"), "-n", "--pidfile=", "ppsp-peer", *argv])
        return process


class InstallationTests(DocsTestCase):
    """
    C{docs/installation.rst}, and the README's first command.
    """

    @runsDocumented("docs/installation.rst", "python3 -m venv .venv")
    @runsDocumented("README.rst", "python3 -m venv .venv")
    @inlineCallbacks
    def test_virtualEnvironment(self, installation: DocumentedCommand, readme: DocumentedCommand) -> Any:
        """
        C{python3 -m venv .venv} (the same command on both pages) makes a
        virtual environment with pip, in a directory of its own (the
        install that follows it needs the network).
        """
        self.assertEqual(readme.text, installation.text)
        commands = Commands(self, linkEnvironment=False)
        yield commands.run(installation)
        self.assertTrue(commands.directory.descendant([".venv", "bin", "pip"]).exists())

    @runsDocumented("docs/installation.rst", ".venv/bin/twistd ppsp-tracker --help")
    @inlineCallbacks
    def test_help(self, help: DocumentedCommand) -> Any:
        """
        The installed twistd shows the tracker's options.
        """
        process = yield Commands(self).run(help)
        self.assertIn("--listen", process.text)
        self.assertIn("--admin-auth", process.text)

    @runsDocumented("docs/installation.rst", ".venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html")
    @inlineCallbacks
    def test_documentation(self, build: DocumentedCommand) -> Any:
        """
        The documentation builds, warnings as errors, from a copy of the
        checkout.
        """
        commands = Commands(self)
        commands.copy("docs", "README.rst", "setup.cfg", "contrib", "ppsp", "twisted")
        yield commands.run(build)
        self.assertTrue(commands.directory.descendant(["docs", "_build", "html", "index.html"]).isfile())

    @runsDocumented("docs/installation.rst", "towncrier build --draft --version 0.1.0")
    @inlineCallbacks
    def test_newsDraft(self, draft: DocumentedCommand) -> Any:
        """
        towncrier shows the release notes the news fragments make, without
        writing them.
        """
        commands = Commands(self)
        commands.copy("towncrier.toml", "newsfragments")
        process = yield commands.run(draft)
        self.assertIn("ppsp 0.1.0", process.text)
        self.assertFalse(commands.directory.child("NEWS.rst").exists())
        shown = [p for p in PROJECT.child("newsfragments").children() if p.basename().split(".")[1:2] == ["feature"]]
        words = sorted(shown)[0].getContent().decode("utf-8").split()[:4]
        self.assertIn(" ".join(words), " ".join(process.text.split()))


class ReadmeTests(DocsTestCase):
    """
    The README's tour: a tracker on its defaults, a first request with
    curl, two peers that find each other and the command-line client.
    """

    @runsDocumented(
        "README.rst",
        ".venv/bin/twistd -n ppsp-tracker --listen tcp:7000",
        "curl -s -H 'Content-Type: application/ppsp-tracker+xml' --data-binary @connect.xml http://127.0.0.1:7000/",
        ".venv/bin/twistd -n --pidfile= ppsp-peer --tracker http://127.0.0.1:7000/ --peer-id seed-1 "
        "--swarm live-1:SEED --address 127.0.0.1:9001 --find-interval 5",
        ".venv/bin/twistd -n --pidfile= ppsp-peer --tracker http://127.0.0.1:7000/ --peer-id viewer-1 "
        "--swarm live-1 --address 127.0.0.1:9002 --find-interval 5",
        ".venv/bin/python -m ppsp.client --tracker http://127.0.0.1:7000/ find live-1",
    )
    @inlineCallbacks
    def test_tour(
        self,
        tracker: DocumentedCommand,
        post: DocumentedCommand,
        seed: DocumentedCommand,
        viewer: DocumentedCommand,
        find: DocumentedCommand,
    ) -> Any:
        """
        The tracker answers the README's CONNECT with the elements the
        README shows; each peer logs a list naming the other at the
        address it announced; the client lists both.
        """
        requirePrograms("curl")
        commands = Commands(self, ports=[7000])
        commands.directory.child("connect.xml").setContent(blockBefore(post).text.encode("utf-8") + b"\n")
        running = commands.start(tracker)
        match = yield listening(running)
        self.assertEqual(int(match.group(1)), commands.ports[7000])
        self.assertIn(b"listening on 0.0.0.0:", match.group(0))

        answer = yield commands.run(post)
        self.assertTrue(answer.text.startswith("<?xml"), answer.text)
        root = etree.fromstring(answer.text.strip().encode("utf-8"))
        shown = etree.fromstring(blockAfter(post).text.encode("utf-8"))
        self.assertEqual([child.tag for child in root], [child.tag for child in shown])
        self.assertEqual(root.findtext("Response"), "OK")
        self.assertEqual(root.find("ReflexiveAddress").get("ip"), "127.0.0.1")  # type: ignore[union-attr]

        seeding = commands.start(seed)
        viewing = commands.start(viewer)
        yield viewing.waitFor(rb"1 peer\(s\) for swarm live-1: seed-1 \(SEED 127\.0\.0\.1:9001\)")
        yield seeding.waitFor(rb"1 peer\(s\) for swarm live-1: viewer-1 \(LEECH 127\.0\.0\.1:9002\)")
        found = yield commands.run(find)
        self.assertIn("  2 peers in swarm live-1:", found.text.splitlines())
        self.assertIn("    seed-1  SEED  127.0.0.1:9001 (HOST)", found.text.splitlines())
        self.assertIn("    viewer-1  LEECH  127.0.0.1:9002 (HOST)", found.text.splitlines())


class DefaultPortTests(DocsTestCase):
    """
    The commands that listen on the tracker's default port, 7000, which
    their text does not name: one test runs them one after the other, so
    that no two of them (nor any other test: the others replace 7000)
    listen on it at once.
    """

    timeout = 300

    @runsDocumented("docs/running.rst", "twistd -n ppsp-tracker")
    @runsDocumented(
        "docs/peer.rst",
        "python -m ppsp.client --peer-id probe --keep join live-1:SEED",
        "python -m ppsp.client --peer-id probe --token 0b4W... --keep join-chunk live-1 0-99",
        "python -m ppsp.client --peer-id probe --token 0b4W... disconnect",
    )
    @runsDocumented(
        "docs/admin.rst",
        "twist ppsp-tracker --admin tcp:7001:interface=127.0.0.1 --admin-host admin.example.net",
        "twist ppsp-tracker --admin tcp:7001:interface=127.0.0.1 --stat-query-interval 300",
    )
    @runsDocumented(
        "docs/security.rst",
        "python -m ppsp.auth new-secret --out secret",
        "python -m ppsp.auth issue --secret-file secret --peer-id peer-a --ttl 86400 > peer-a.cer",
        "twistd -n ppsp-tracker --auth token:secret",
        "twistd -n --pidfile= ppsp-peer --tracker http://127.0.0.1:7000/ --peer-id peer-a --cer peer-a.cer --swarm live-1",
        "python -m ppsp.auth fingerprint peer-a.cer >> revoked",
        "echo 'peer:peer-b' >> revoked",
        "twistd -n ppsp-tracker --auth token:secret --revocations revoked",
    )
    @runsDocumented("docs/strategies.rst", "twistd -n ppsp-tracker --selector locality:map=asn.map")
    @runsDocumented(
        "docs/writing-a-strategy.rst",
        "pip install --no-deps --no-build-isolation --target strategies ./strategy-package",
        "twistd -n ppsp-tracker --selector 'composite:veterans(probe=8)=1,locality=2,random=0.2'",
    )
    @inlineCallbacks
    def test_defaultPort(self, *commands: DocumentedCommand) -> Any:
        """
        Each tracker starts on port 7000 of every interface with the
        settings its command gives: the command-line client keeps and
        reuses a session on the tracker's defaults; the admin interface
        answers a request that names it by the C{--admin-host} name; the
        closed tracker registers the peer with its credential, and refuses
        it once the credential is revoked; the locality strategy reads the
        page's map file, and the walkthrough's strategy, installed
        offline, is part of a composite.
        """
        (defaults, join, joinChunk, disconnect, adminHost, polling, newSecret, issue, closed, peer,
         fingerprint, echo, revoking, locality, install, composite) = commands
        try:
            with socket.socket() as probe:
                probe.bind(("", 7000))
        except OSError as e:
            raise SkipTest(f"port 7000, where these commands listen, is taken on this machine: {e}")
        run = Commands(self, ports=[7001])

        def start(command: DocumentedCommand, **kw: Any) -> "Deferred[Tuple[CommandProcess, str]]":
            process = run.start(command, **kw)
            # Fire with the process and its log up to its start-up line.
            return listening(process).addCallback(lambda match: (process, process.text))

        # The tracker on its defaults, and the client's session.
        tracker, log = yield start(defaults)
        self.assertIn("PPSP tracker listening on 0.0.0.0:7000 (tcp:7000); settings: selector=random,", log)
        joined = yield run.run(join)
        self.assertShown(join.output, joined.text)
        [token] = re.findall(r"session kept: --peer-id probe --token (\S+)", joined.text)
        run.placeholders["0b4W..."] = token
        chunk = yield run.run(joinChunk)
        self.assertIn(f"session kept: --peer-id probe --token {token}", chunk.text)
        ended = yield run.run(disconnect)
        self.assertShown(disconnect.output, ended.text)
        yield tracker.stop()

        # The admin interface with another host name, and with polling.
        tracker, log = yield start(adminHost)
        yield listening(tracker, b"PPSP tracker admin interface listening at")
        answer = exchange(
            run.ports[7001], b"GET /health HTTP/1.1\r\nHost: admin.example.net\r\nConnection: close\r\n\r\n"
        )
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)
        yield tracker.stop()
        tracker, log = yield start(polling)
        self.assertIn("stat-query-interval=300", log)
        yield tracker.stop()

        # A closed tracker, its peer, and the revocation of its credential.
        yield run.runEach([newSecret, issue])
        tracker, log = yield start(closed)
        self.assertIn("auth=token", log)
        member = run.start(peer)
        yield member.waitFor(rb"peer-a registered with the tracker at http://127\.0\.0\.1:7000/ in 1 swarm\(s\)")
        yield member.stop()
        yield tracker.stop()
        yield run.runEach([fingerprint, echo])
        self.assertEqual(run.directory.child("revoked").getContent().decode().splitlines()[1], "peer:peer-b")
        tracker, log = yield start(revoking)
        member = run.start(peer)
        yield member.waitFor(rb"the tracker refused to register peer-a: CONNECT answered AUTHENTICATION REQUIRED")
        yield member.stop()
        yield tracker.stop()

        # The locality strategy with the map file that docs/strategies.rst shows.
        asMap = [b for b in doccommands.literalBlocks("docs/strategies.rst") if b.text.startswith("# prefix")]
        run.directory.child("asn.map").setContent(asMap[0].text.encode("utf-8") + b"\n")
        tracker, log = yield start(locality)
        self.assertIn("selector=locality:map=asn.map", log)
        yield tracker.stop()

        # The walkthrough's strategy, installed offline, in a composite.
        run.copy("docs/examples/strategy-package")
        examples = run.directory.preauthChild("docs/examples")
        yield run.run(install, cwd=examples)
        strategies = examples.child("strategies").path
        tracker, log = yield start(composite, env={"PYTHONPATH": strategies + os.pathsep + run.env["PYTHONPATH"]})
        self.assertIn("selector=composite:veterans(probe=8)=1,locality=2,random=0.2", log)
        yield tracker.stop()


class AdminTests(DocsTestCase):
    """
    C{docs/admin.rst}: the admin interface of a tracker with two peers,
    and the requests C{docs/operations.rst} makes of it.
    """

    @runsDocumented(
        "docs/admin.rst",
        "twist ppsp-tracker --listen tcp:7000 --admin tcp:7001:interface=127.0.0.1",
        "curl -s http://127.0.0.1:7001/",
        "curl -s http://127.0.0.1:7001/peers/peer-a",
        "curl -s http://127.0.0.1:7001/swarms/live-1",
        "curl -s -X POST 'http://127.0.0.1:7001/peers/peer-a/stat-query?property=UploadBandwidth&property=ConcurrentLinks'",
        "curl -si -X POST http://127.0.0.1:7001/peers/peer-a/stat-query",
        "curl -s -X POST http://127.0.0.1:7001/peers/peer-b/stat-query",
    )
    @runsDocumented(
        "docs/operations.rst",
        "curl -s http://127.0.0.1:7001/metrics",
        "curl -s http://127.0.0.1:7001/",
        "curl -s http://127.0.0.1:7001/health",
        "curl -fsS -o /dev/null http://127.0.0.1:7001/health || echo unhealthy",
        "curl -X POST http://127.0.0.1:7001/reload",
        "curl http://127.0.0.1:7001/health",
    )
    @inlineCallbacks
    def test_adminInterface(self, *commands: DocumentedCommand) -> Any:
        """
        The tracker logs its admin line as documented; the summary, peer,
        swarm and STAT_QUERY answers have the documented keys, the
        queried statistics are the peer's, a killed peer is unreachable
        (504) and a peer without a StatPort is refused as shown; the
        metrics, the status, the health check and the reload answer.
        """
        requirePrograms("curl")
        (tracker, summary, peerView, swarmView, query, unreachable, noStatPort,
         metrics, status, health, healthCheck, reload, plainHealth) = commands
        run = Commands(self, ports=[7000, 7001])
        running = run.start(tracker)
        yield listening(running, b"PPSP tracker admin interface listening at")
        self.assertShown(withPorts(blockAfter(tracker).text, run.ports), running.text)

        url = run.url(7000)
        statPort = freePort()
        seed = self.peer(
            "--tracker", url, "--peer-id", "peer-a", "--stat-listen", f"tcp:{statPort}:interface=127.0.0.1",
            "--swarm", "live-1:SEED", "--stat", "UploadBandwidth=2000", "--stat", "ConcurrentLinks=12",
            "--address", "203.0.113.9:7000",
        )
        leech = self.peer("--tracker", url, "--peer-id", "peer-b", "--swarm", "live-1")
        yield seed.waitFor(rb"peer-a registered with the tracker")
        yield leech.waitFor(rb"peer-b registered with the tracker")

        views = {}
        for command in (summary, peerView, swarmView):
            answer = yield run.run(command)
            views[command] = jsonOf(answer)
            self.assertDocumentedKeys(documentedJSON(command), views[command], command.text)
        self.assertEqual(views[summary]["peers"], 2)
        announced = views[peerView]["announced"][0]
        self.assertEqual((announced["ip"], views[peerView]["statPort"]), ("203.0.113.9", statPort))
        self.assertEqual(views[swarmView]["modes"], {"LEECH": 1, "SEED": 1, "LIVESEED": 0})
        answer = yield run.run(query)
        self.assertDocumentedKeys(documentedJSON(query), jsonOf(answer), query.text)
        self.assertEqual(
            [(s["property"], s["value"]) for s in jsonOf(answer)["stats"]],
            [(s["property"], s["value"]) for s in documentedJSON(query)["stats"]],
        )

        seed.transport.signalProcess("KILL")  # type: ignore[union-attr]
        yield seed.ended
        answer = yield run.run(unreachable)
        self.assertShown([line for line in unreachable.output if ":" in line and not line.startswith(" ")], answer.text)
        self.assertEqual(jsonOf(answer)["error"], documentedJSON(unreachable)["error"])
        answer = yield run.run(noStatPort)
        self.assertEqual(jsonOf(answer), documentedJSON(noStatPort))

        answer = yield run.run(metrics)
        self.assertRegex(answer.text, r"(?m)^# TYPE ppsp_\w+ ")
        for command in (status, plainHealth):
            answer = yield run.run(command)
            self.assertIsInstance(jsonOf(answer), dict)
        answer = yield run.run(health)
        self.assertEqual(set(jsonOf(answer)), set(documentedJSON(health)))
        self.assertEqual(jsonOf(answer)["status"], "ok")
        answer = yield run.run(healthCheck)
        self.assertNotIn("unhealthy", answer.text)
        answer = yield run.run(reload)
        self.assertEqual(set(jsonOf(answer)), set(documentedJSON(reload)))


class AdminAPITests(DocsTestCase):
    """
    C{docs/operations.rst}: the admin API behind HTTP Basic
    authentication.
    """

    @runsDocumented(
        "docs/operations.rst",
        "twist ppsp-tracker --listen tcp:7000 --admin tcp:7001:interface=127.0.0.1 --admin-auth memory:admin:secret",
        "curl -u admin:secret 'http://127.0.0.1:7001/swarms?limit=10'",
        "curl -u admin:secret -X DELETE http://127.0.0.1:7001/peers/peer-42",
        "curl -u admin:secret -X POST 'http://127.0.0.1:7001/bans?network=198.51.100.0/24&seconds=3600'",
        "curl -u admin:secret -X PUT http://127.0.0.1:7001/swarms/new-release",
    )
    @inlineCallbacks
    def test_adminAPI(
        self,
        tracker: DocumentedCommand,
        swarms: DocumentedCommand,
        end: DocumentedCommand,
        ban: DocumentedCommand,
        provision: DocumentedCommand,
    ) -> Any:
        """
        With the user and password of the tracker's C{--admin-auth}, the
        swarms are listed in pages, a peer's session is ended, a network
        banned and a swarm provisioned.
        """
        requirePrograms("curl")
        run = Commands(self, ports=[7000, 7001])
        running = run.start(tracker)
        yield listening(running, b"PPSP tracker admin interface listening at")
        member = self.peer("--tracker", run.url(7000), "--peer-id", "peer-42", "--swarm", "live-1")
        yield member.waitFor(rb"peer-42 registered with the tracker")

        answer = yield run.run(swarms)
        page = jsonOf(answer)
        self.assertEqual((page["total"], page["limit"], page["items"][0]["swarmID"]), (1, 10, "live-1"))
        answer = yield run.run(end)
        self.assertNotIn("error", jsonOf(answer))
        answer = yield run.run(ban)
        self.assertEqual(jsonOf(answer)["network"], "198.51.100.0/24")
        answer = yield run.run(provision)
        self.assertEqual(jsonOf(answer)["swarmID"], "new-release")
        answer = yield run.run(swarms)
        self.assertEqual(jsonOf(answer)["total"], 2)


class LogTests(DocsTestCase):
    """
    C{docs/operations.rst}: JSON logs under either runner.
    """

    @runsDocumented(
        "docs/operations.rst",
        "twistd -n ppsp-tracker --log-format json --listen tcp:7000",
        "twist ppsp-tracker --log-format json --listen tcp:7000",
    )
    @inlineCallbacks
    def test_jsonLogs(self, twistd: DocumentedCommand, twist: DocumentedCommand) -> Any:
        """
        Each runner writes one JSON object a line, and the start-up line
        carries the keys the docs show.
        """
        run = Commands(self, ports=[7000])
        shown = set(re.findall(r'"(\w+)":', blockAfter(twistd).text))
        for command in (twistd, twist):
            process = run.start(command)
            yield process.waitFor(rb'"port": ?%d' % (run.ports[7000],))
            yield process.stop()
            records = [json.loads(line) for line in process.text.splitlines() if line.strip()]
            [startup] = [r for r in records if r.get("text", "").startswith("PPSP tracker listening on")]
            self.assertEqual(shown - set(startup) - set(startup["settings"]), set(), command.text)


class PeerTests(DocsTestCase):
    """
    C{docs/peer.rst}: a peer daemon and the command-line client, with a
    tracker started as C{docs/running.rst} says.
    """

    @runsDocumented("docs/running.rst", "twist ppsp-tracker --listen tcp:7000")
    @runsDocumented(
        "docs/peer.rst",
        "twistd -n ppsp-peer --tracker http://127.0.0.1:7000/ --peer-id peer-a --swarm live-1:SEED "
        "--address 127.0.0.1:9000 --stat-listen tcp:7001:interface=127.0.0.1 --stat UploadBandwidth=2000",
        "python -m ppsp.client --tracker http://127.0.0.1:7000/ find live-1",
        "python -m ppsp.client --tracker http://127.0.0.1:7000/ find nowhere",
    )
    @inlineCallbacks
    def test_peerAndClient(
        self,
        tracker: DocumentedCommand,
        peer: DocumentedCommand,
        find: DocumentedCommand,
        nowhere: DocumentedCommand,
    ) -> Any:
        """
        The peer registers and answers STAT_QUERY; the client prints what
        the docs show, exiting 1 for an unknown swarm; the stopped peer
        leaves and disconnects.
        """
        run = Commands(self, ports=[7000, 7001])
        running = run.start(tracker)
        match = yield listening(running)
        self.assertEqual(int(match.group(1)), run.ports[7000])
        member = run.start(peer)
        yield member.waitFor(re.escape(f"answering STAT_QUERY on 127.0.0.1:{run.ports[7001]}").encode())
        yield member.waitFor(registered("peer-a", run.url(7000)))
        found = yield run.run(find)
        self.assertShown(find.output, found.text)
        self.assertIn("    peer-a  SEED  127.0.0.1:9000 (HOST)", found.text.splitlines())
        missing = yield run.run(nowhere, status=1)
        self.assertShown(nowhere.output, missing.text)
        yield member.stop()
        self.assertShown([shownLine("docs/peer.rst", "left every swarm")], member.text)


def shownLine(page: str, words: str) -> str:
    """
    The first line of a literal block of C{page} that holds C{words}: a
    line the docs show a command print.
    """
    for block in doccommands.literalBlocks(page):
        for line in block.text.splitlines():
            if words in line:
                return line
    raise AssertionError(f"{page} shows no line with {words!r}")


def reflexiveIP(answer: bytes) -> str:
    """
    The IP address of the C{ReflexiveAddress} in a tracker's HTTP answer
    to a CONNECT.
    """
    head, _, body = answer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "):
        raise AssertionError(answer)
    address = etree.fromstring(body).find("ReflexiveAddress")
    assert address is not None, body
    return str(address.get("ip"))


class ProxyTests(DocsTestCase):
    """
    C{docs/running.rst} and C{docs/security.rst}: a tracker behind a
    proxy.
    """

    @runsDocumented("docs/running.rst", "twistd -n ppsp-tracker --listen haproxy:tcp:7000:interface=127.0.0.1")
    @runsDocumented(
        "docs/security.rst",
        "twistd -n ppsp-tracker --listen haproxy:tcp:7000:interface=127.0.0.1",
        "twistd -n ppsp-tracker --listen tcp:7000:interface=127.0.0.1 --trusted-proxy 127.0.0.1",
    )
    @inlineCallbacks
    def test_proxies(self, haproxy: DocumentedCommand, same: DocumentedCommand, trusted: DocumentedCommand) -> Any:
        """
        The C{haproxy:} listener (the same command on both pages) takes the
        peer's address from the PROXY header, and with C{--trusted-proxy}
        the tracker takes it from C{X-Forwarded-For}.
        """
        self.assertEqual(same.text, haproxy.text)
        run = Commands(self, ports=[7000])
        port = run.ports[7000]
        tracker = run.start(haproxy)
        yield listening(tracker)
        self.assertIn(f"listening on 127.0.0.1:{port} (haproxy:tcp:{port}:interface=127.0.0.1)", tracker.text)
        proxied = b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 %d\r\n" % (port,) + connectRequest("behind-haproxy")
        self.assertEqual(reflexiveIP(exchange(port, proxied)), "198.51.100.7")
        yield tracker.stop()
        tracker = run.start(trusted)
        yield listening(tracker)
        forwarded = connectRequest("behind-proxy", b"X-Forwarded-For: 198.51.100.8\r\n")
        self.assertEqual(reflexiveIP(exchange(port, forwarded)), "198.51.100.8")


class TLSTests(DocsTestCase):
    """
    C{docs/tls.rst}, whole: the private CA and the certificates made with
    openssl, each listener, peers and the client over TLS, both closed
    trackers, and the admin endpoint over mutual TLS of
    C{docs/operations.rst}.  The tracker's host name is C{localhost}, as
    the page says to try it on one machine ("make the certificates as
    above with C{TRACKER=localhost}"), in the URLs too.
    """

    timeout = 300

    @runsDocumented(
        "docs/tls.rst",
        "umask 077",
        'openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -keyout ca.key -out ca.pem '
        '-days 3650 -subj "/CN=ppsp private CA" -addext "basicConstraints=critical,CA:TRUE" '
        '-addext "keyUsage=critical,keyCertSign,cRLSign"',
        "TRACKER=tracker.example.org",
        "cat > server.ext <<EOF\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:$TRACKER\nEOF",
        'openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -keyout server.key -out server.csr '
        '-subj "/CN=$TRACKER"',
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 -sha256 "
        "-extfile server.ext -out server.pem",
        "PEER=peer-a",
        "cat > $PEER.ext <<EOF\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = clientAuth\nsubjectAltName = URI:urn:ppsp:peer:$PEER\nEOF",
        'openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -keyout $PEER.key -out $PEER.csr '
        '-subj "/CN=$PEER"',
        "openssl x509 -req -in $PEER.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -sha256 "
        "-extfile $PEER.ext -out $PEER.crt",
        "cat $PEER.crt $PEER.key > $PEER.pem",
        "openssl verify -CAfile ca.pem server.pem peer-a.crt",
        "openssl x509 -in peer-a.crt -noout -subject -ext subjectAltName",
    )
    @runsDocumented(
        "docs/tls.rst",
        "twistd -n ppsp-tracker --listen ssl:7443:privateKey=server.key:certKey=server.pem",
        "python -m ppsp.client --tracker https://tracker.example.org:7443/ --trust-root ca.pem "
        "--client-certificate peer-a.pem --peer-id peer-a find live-1",
        "twistd -n ppsp-tracker --listen mtls:7443:privateKey=server.key:certKey=server.pem:caCerts=ca.pem",
        "twistd -n ppsp-tracker --listen mtls:7443:privateKey=server.key:certKey=server.pem:caCerts=ca.pem "
        "--auth x509:ca.pem",
        "twistd -n ppsp-peer --tracker https://tracker.example.org:7443/ --trust-root ca.pem "
        "--client-certificate peer-a.pem --peer-id peer-a --swarm live-1",
        "python -m ppsp.auth new-secret --out secret",
        "python -m ppsp.auth issue --secret-file secret --peer-id peer-b --ttl 86400 > peer-b.cer",
        "twistd -n ppsp-tracker --listen ssl:7443:privateKey=server.key:certKey=server.pem --auth token:secret",
        "twistd -n ppsp-peer --tracker https://tracker.example.org:7443/ --trust-root ca.pem --cer peer-b.cer "
        "--peer-id peer-b --swarm live-1",
        "twistd -n ppsp-tracker --listen "
        "mtls:7443:privateKey=server.key:certKey=server.pem:caCerts=ca.pem:interface=127.0.0.1 --auth x509:ca.pem",
        "twistd -n --pidfile= ppsp-peer --tracker https://localhost:7443/ --trust-root ca.pem "
        "--client-certificate peer-a.pem --peer-id peer-a --swarm live",
    )
    @runsDocumented(
        "docs/operations.rst",
        "twist ppsp-tracker --listen tcp:7000 --admin mtls:7001:privateKey=admin.key:certKey=admin.pem:caCerts=admin-ca.pem",
    )
    @inlineCallbacks
    def test_tls(self, *commands: DocumentedCommand) -> Any:
        """
        The certificates verify and name the tracker's host and the peer;
        each tracker starts with its listener; the client CONNECTs over
        one-way TLS; the peer registers with the x509-closed tracker by
        its certificate, the second peer with the token-closed one by its
        credential, and the one-machine peer logs what the page says.
        """
        requirePrograms("openssl")
        making = commands[:13]
        (ssl, client, mtls, x509, peer, newSecret, issue, token, tokenPeer, oneMachine, oneMachinePeer,
         adminTLS) = commands[13:]
        run = Commands(self, ports=[7443, 7000, 7001], placeholders={"tracker.example.org": "localhost"})
        made = yield run.run(*making)
        self.assertIn("server.pem: OK", made.text)
        self.assertIn("peer-a.crt: OK", made.text)
        self.assertIn("URI:urn:ppsp:peer:peer-a", made.text)
        self.assertEqual(os.stat(run.directory.child("ca.key").path).st_mode & 0o077, 0)
        # The peers run on "their" host: a directory of their own, with the
        # files the page says a peer is given.
        host = run.directory.child("peer")
        host.makedirs()
        for name in ("ca.pem", "peer-a.pem"):
            run.directory.child(name).copyTo(host.child(name))
        port = run.ports[7443]

        tracker = run.start(ssl)
        yield listening(tracker)
        self.assertIn(
            f"listening on 0.0.0.0:{port} (ssl:{port}:privateKey=server.key:certKey=server.pem)", tracker.text
        )
        asked = yield run.run(client, status=1, cwd=host)
        self.assertIn("CONNECT as peer-a -> OK", asked.text)
        self.assertIn("FIND live-1 -> OBJECT NOT FOUND: unknown SwarmID", asked.text)
        yield tracker.stop()

        tracker = run.start(mtls)
        yield listening(tracker)
        self.assertShown([withPorts(shownLine("docs/tls.rst", "PPSP tracker listening on"), run.ports)], tracker.text)
        yield tracker.stop()

        tracker = run.start(x509)
        yield listening(tracker)
        member = run.start(peer, cwd=host)
        yield member.waitFor(registered("peer-a", f"https://localhost:{port}/"))
        yield member.stop()
        yield tracker.stop()

        yield run.runEach([newSecret, issue])
        run.directory.child("peer-b.cer").copyTo(host.child("peer-b.cer"))
        tracker = run.start(token)
        yield listening(tracker)
        member = run.start(tokenPeer, cwd=host)
        yield member.waitFor(registered("peer-b", f"https://localhost:{port}/"))
        yield member.stop()
        yield tracker.stop()

        tracker = run.start(oneMachine)
        yield listening(tracker)
        member = run.start(oneMachinePeer)
        said = re.search(r"``(peer-a registered with the tracker at https://localhost:7443/\s+in 1 swarm\(s\))``",
                         PROJECT.descendant(["docs", "tls.rst"]).getContent().decode("utf-8"))
        assert said is not None
        yield member.waitFor(re.escape(withPorts(" ".join(said.group(1).split()), run.ports)).encode())
        yield member.stop()
        yield tracker.stop()

        for source, name in (("server.key", "admin.key"), ("server.pem", "admin.pem"), ("ca.pem", "admin-ca.pem")):
            run.directory.child(source).copyTo(run.directory.child(name))
        tracker = run.start(adminTLS)
        match = yield listening(tracker, b"PPSP tracker admin interface listening at")
        self.assertEqual(int(match.group(1)), run.ports[7001])


class StrategyPackageTests(DocsTestCase):
    """
    C{docs/writing-a-strategy.rst}, step 4, and the strategy list of
    C{docs/strategies.rst}.
    """

    @runsDocumented(
        "docs/writing-a-strategy.rst",
        "pip install ./strategy-package",
        "twistd ppsp-tracker --list-selectors",
        "twistd -n ppsp-tracker --listen tcp:7000 --selector veterans:probe=8",
        "pip install --no-deps --no-build-isolation --target strategies ./strategy-package",
        "PYTHONPATH=strategies twist ppsp-tracker --list-selectors",
    )
    @runsDocumented("docs/strategies.rst", "twistd -n ppsp-tracker --list-selectors")
    @inlineCallbacks
    def test_installAndSelect(
        self,
        install: DocumentedCommand,
        listed: DocumentedCommand,
        select: DocumentedCommand,
        offline: DocumentedCommand,
        listedOffline: DocumentedCommand,
        builtIn: DocumentedCommand,
    ) -> Any:
        """
        Installed, the package's strategy is listed as the page shows and
        a tracker starts with it; installed offline into a directory, it
        is listed from there; without it, the six built-in strategies are.

        "Install the package into the environment where ppsp is
        installed" runs as written, but pip's environment variables send
        it offline into a directory of the test's (C{PIP_TARGET},
        C{PIP_NO_DEPS}, C{PIP_NO_INDEX}, and C{PIP_NO_BUILD_ISOLATION=0},
        which turns build isolation off), not into the environment that
        runs the suite; that directory on C{PYTHONPATH} is then the
        environment where the package is installed.
        """
        run = Commands(self, ports=[7000])
        run.copy("docs/examples/strategy-package")
        examples = run.directory.preauthChild("docs/examples")
        site = run.directory.child("site").path
        pip = {"PIP_TARGET": site, "PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"}
        installed = {"PYTHONPATH": site + os.pathsep + run.env["PYTHONPATH"]}

        yield run.run(install, cwd=examples, env=pip)
        shown = yield run.run(listed, env=installed)
        self.assertShown(listed.output, shown.text)
        tracker = run.start(select, env=installed)
        yield listening(tracker)
        self.assertIn("selector=veterans:probe=8,", tracker.text)
        yield tracker.stop()

        yield run.run(offline, cwd=examples)
        shown = yield run.run(listedOffline, cwd=examples)
        self.assertShown(listed.output, shown.text)

        shown = yield run.run(builtIn)
        names = [line.split()[0] for line in shown.text.splitlines() if line[:1].isalpha()]
        self.assertEqual(names, ["capacity", "chunks", "composite", "locality", "random", "roles"])


class StoreContractTests(DocsTestCase):
    """
    C{docs/writing-a-store.rst}: the store contract, run with trial from
    the reader's project.
    """

    @runsDocumented("docs/writing-a-store.rst", "python -m twisted.trial yourstore.test.test_contract")
    @inlineCallbacks
    def test_contract(self, trial: DocumentedCommand) -> Any:
        """
        With the page's example as C{yourstore/test/test_contract.py} (the
        project the page's C{yourstore} names), trial runs the contract
        on both of the example's stores, and it passes.
        """
        run = Commands(self)
        tests = run.directory.child("yourstore").child("test")
        tests.makedirs()
        tests.parent().child("__init__.py").setContent(b"")
        tests.child("__init__.py").setContent(b"")
        PROJECT.descendant(["docs", "examples", "store_contract.py"]).copyTo(tests.child("test_contract.py"))
        ran = yield run.run(trial)
        self.assertRegex(ran.text, r"(?m)^PASSED \(successes=\d+\)$")
