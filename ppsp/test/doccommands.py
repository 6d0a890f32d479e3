"""
The shell commands of the documentation, as the tests find them, the
record of which test runs each one, and how the tests run them.

Which lines are commands
========================

The pages are C{README.rst} and every C{docs/*.rst}.  Their literal blocks
are read as reStructuredText defines them (with docutils: the block after
a paragraph ending in C{::}, or a C{code-block} or C{code} directive);
what Sphinx includes from files (C{literalinclude}) is code, not
commands.  In a block:

 1. A block whose directive names a language other than a shell's
    (C{xml}, C{json}, C{python}, C{yaml}, ...) holds no command.
 2. A block in which a line starts with C{$ } is a transcript: its C{$ }
    lines are the commands (without the prompt), and the lines after each
    one, up to the next, are what it prints (L{DocumentedCommand.output}).
 3. Otherwise a line is a command when its first word, after any
    C{NAME=value} assignments, names a program: its last path component
    is one of L{PROGRAMS} (C{python3.11} counts as C{python}) or starts
    with C{ppsp-}.  A line of assignments alone (C{PEER=peer-a}) is a
    command too.  Any other line (a log line, a configuration file, a
    comment, an endpoint's syntax) is not.
 4. A command ending in C{\\} goes on with the next line: the lines are
    joined with one space, without the backslash and the next line's
    indentation.  A command with a here-document (C{<<EOF}) takes the
    lines up to the delimiter, joined with newlines, as bash reads them.
 5. A line of commands joined by C{&&} gives each of them, in order (each
    runs once the one before it succeeded, as C{&&} says).

Commands with the same text on one page are one command.

The registry
============

A test that runs documented commands says which, with L{runsDocumented}:
the decorator records them at import, so that
C{ppsp.test.test_doccommands} sees every test's record without running
it, and hands the test those commands, looked up in the page as it is
when the test runs: a command changed in the docs fails the test that
ran the old text, and shows up as a command that no test runs.  The test
runs them with L{Commands}, which takes nothing but L{DocumentedCommand}s.

How they run
============

L{Commands} runs a command's text with C{bash -c} in a terminal of its
own (a pseudo-terminal, as the reader types it: twist writes its text log,
curl no progress meter), unchanged but for two rules, each applied to
every command of the test alike:

 - B{ports}: a port number the test names (the docs' C{7000}, C{7001},
   C{7443}) is replaced, wherever it follows a colon, by a port that was
   free when the test began, so that tests and concurrent runs do not
   collide;
 - B{placeholders}: a text the docs present as the reader's own (an
   elided token C{0b4W...}; the host name the reader makes certificates
   for, which C{docs/tls.rst} sets to C{localhost} to try it on one
   machine) is replaced by the value the test has.

The commands run in a scratch directory, with the running environment's
variables and three more: C{PATH} starts with the directory of the
running Python (so C{python}, C{pip}, C{twistd} and C{twist} are this
environment's), C{PYTHONPATH} starts with the source checkout, and the
scratch directory holds C{.venv}, a link to this environment (so
C{.venv/bin/twistd} is the twistd that the docs' installation made).  A
test may add variables, never change the text: pip's, so that an install
goes offline into a directory of the test's rather than into the
environment running the suite; C{PYTHONPATH}, so that what a documented
install made is on the path.  Files the docs tell the reader to write
(C{connect.xml}, a map file) are written from the docs' own blocks.

A command that starts a server is started (L{Commands.start}) and stopped
with its process group at the end of the test; one that ends is run to
its end (L{Commands.run}), its exit status checked.  L{Commands.runBlocking}
does the same for a synchronous test, without a terminal.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from ppsp.test.test_twistd import BIN, PROJECT, Process, environment

R = TypeVar("R")

#: The programs whose name starts a command line (rule 3).
PROGRAMS = frozenset(
    """
    apt apt-get bash cat cd chmod cp curl docker echo env export install
    journalctl jq kill ln mkdir mv mypy openssl pip podman printf pyflakes
    python redis-cli redis-server rm sh sphinx-build ssh sudo systemctl
    systemd-analyze tee towncrier trial twist twistd umask wget
    """.split()
)

#: Languages of a C{code-block} that hold commands (rule 1).
SHELLS = frozenset({"bash", "console", "sh", "shell", "shell-session", "none", "text"})

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\S*$")
_PROGRAM = re.compile(r"[A-Za-z0-9._+-]+$")
_HEREDOC = re.compile(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?")


@dataclass(frozen=True)
class LiteralBlock:
    """
    A literal block of a page.

    @ivar page: the page, relative to the source checkout
        (C{docs/running.rst}).
    @ivar line: the page's line (from 1) of the block's first line.
    @ivar language: the language its directive names, or L{None}.
    @ivar text: its text, unindented.
    """

    page: str
    line: int
    language: Optional[str]
    text: str


@dataclass(frozen=True)
class DocumentedCommand:
    """
    A shell command of the documentation.

    @ivar page: the page, relative to the source checkout.
    @ivar line: the page's line (from 1) where it starts.
    @ivar text: the command as written (rules 4 and 5).
    @ivar output: in a transcript, the lines shown after it (rule 2).
    """

    page: str
    line: int
    text: str
    output: Tuple[str, ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.text}"


def pages() -> List[str]:
    """
    The pages whose commands the tests run: C{README.rst} and every
    C{docs/*.rst}, relative to the source checkout.

    @raise SkipTest: when the docs are not beside this ppsp package (an
        installed copy).
    """
    docs = PROJECT.child("docs")
    if not docs.isdir() or not PROJECT.child("README.rst").isfile():
        raise SkipTest("the docs are not beside this ppsp package (an installed copy?)")
    return ["README.rst"] + sorted("docs/" + p.basename() for p in docs.globChildren("*.rst"))


def _firstLine(source: List[str], after: int, first: str) -> int:
    """
    The first line (from 1) of C{source} after line C{after} whose text is
    C{first}: where a block whose first line is C{first} starts, when the
    block before it started at line C{after}.
    """
    wanted = first.strip()
    for number in range(after + 1, len(source) + 1):
        if source[number - 1].strip() == wanted:
            return number
    return after + 1


#: Reads the literal blocks of the files named on its command line, and
#: writes them as JSON: for each file, a list of [language, text].  It runs
#: in a process of its own, with docutils' own directives: a process that
#: imported Sphinx or pydoctor (as the test suite does) has theirs, which
#: read a C{code-block} otherwise.
_READER = """
import json, sys
from docutils import nodes
from docutils.core import publish_doctree
found = []
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        tree = publish_doctree(
            f.read(), source_path=path,
            settings_overrides={"report_level": 5, "halt_level": 5, "warning_stream": False},
        )
    blocks = []
    for node in tree.findall(nodes.literal_block):
        # An unknown (Sphinx) directive shows up as a literal block inside
        # an error message; an included file has a source of its own.
        if isinstance(node.parent, nodes.system_message) or node.source not in (None, path):
            continue
        classes = [c for c in node.get("classes", []) if c != "code"]
        blocks.append([classes[0] if classes else None, node.astext()])
    found.append(blocks)
json.dump(found, sys.stdout)
"""


def readBlocks(files: Sequence[Tuple[FilePath[str], str]]) -> List[Tuple[LiteralBlock, ...]]:
    """
    The literal blocks of reStructuredText files, in order, as docutils
    reads them.

    @param files: each file, and the page name its blocks carry.
    @raise SkipTest: docutils is not installed.
    """
    result = subprocess.run(
        [sys.executable, "-c", _READER, *[path.path for path, _ in files]],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        if "No module named 'docutils'" in result.stderr:
            raise SkipTest("reading the docs needs docutils (Sphinx, the [dev] extra, installs it)")
        raise RuntimeError(result.stderr)
    pages = []
    for (path, page), found in zip(files, json.loads(result.stdout)):
        source = path.getContent().decode("utf-8").splitlines()
        blocks: List[LiteralBlock] = []
        for language, text in found:
            line = _firstLine(source, blocks[-1].line if blocks else 0, text.splitlines()[0] if text else "")
            blocks.append(LiteralBlock(page, line, language, text))
        pages.append(tuple(blocks))
    return pages


@functools.lru_cache(maxsize=None)
def _pageBlocks() -> Dict[str, Tuple[LiteralBlock, ...]]:
    """
    The literal blocks of every page, read once per process.
    """
    names = pages()
    return dict(zip(names, readBlocks([(PROJECT.preauthChild(name), name) for name in names])))


def literalBlocks(page: str) -> Tuple[LiteralBlock, ...]:
    """
    The literal blocks of C{page}, in order.

    @param page: a page, relative to the source checkout.
    """
    known = _pageBlocks()
    if page in known:
        return known[page]
    [blocks] = readBlocks([(PROJECT.preauthChild(page), page)])
    return blocks


def isCommand(line: str) -> bool:
    """
    Whether C{line} starts a command, by rule 3.
    """
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        words = line.split()
    if words and all(_ASSIGNMENT.match(word) for word in words):
        return True
    while words and _ASSIGNMENT.match(words[0]):
        words.pop(0)
    if not words or not _PROGRAM.match(words[0].rsplit("/", 1)[-1]):
        return False
    program = re.sub(r"^(python|pip)[0-9.]*$", r"\1", words[0].rsplit("/", 1)[-1])
    return program in PROGRAMS or program.startswith("ppsp-")


def commandsIn(block: LiteralBlock) -> List[DocumentedCommand]:
    """
    The commands of a literal block, by the rules of this module.
    """
    if block.language is not None and block.language not in SHELLS:
        return []
    lines = block.text.splitlines()
    transcript = any(line.startswith("$ ") for line in lines)
    commands = []
    index = 0
    while index < len(lines):
        start = index
        line = lines[index]
        index += 1
        if transcript:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        elif not isCommand(line):
            continue
        text = line.strip()
        while text.endswith("\\") and index < len(lines):
            text = text[:-1].rstrip() + " " + lines[index].strip()
            index += 1
        heredoc = _HEREDOC.search(text)
        if heredoc is not None:
            body = []
            while index < len(lines):
                body.append(lines[index])
                index += 1
                if body[-1].strip() == heredoc.group(1):
                    break
            text = "\n".join([text, *body])
        output: List[str] = []
        if transcript:
            while index < len(lines) and not lines[index].startswith("$ "):
                output.append(lines[index])
                index += 1
            while output and not output[-1].strip():
                output.pop()
        parts = [text] if heredoc is not None else re.split(r"\s+&&\s+", text)
        for number, part in enumerate(parts, 1):
            shown = tuple(output) if number == len(parts) else ()
            commands.append(DocumentedCommand(block.page, block.line + start, part, shown))
    return commands


def documentedCommands(page: Optional[str] = None) -> List[DocumentedCommand]:
    """
    Every command of one page, or of every page, in order; a text that a
    page repeats is given once, where it first appears.
    """
    found: List[DocumentedCommand] = []
    for name in [page] if page is not None else pages():
        seen = set()
        for block in literalBlocks(name):
            for command in commandsIn(block):
                if command.text not in seen:
                    seen.add(command.text)
                    found.append(command)
    return found


def documentedCommand(page: str, text: str) -> DocumentedCommand:
    """
    The command C{text} of C{page}.

    @raise AssertionError: when the page has no such command (it was
        changed, or the test names it wrongly): the test that runs it
        fails, naming both.
    """
    for command in documentedCommands(page):
        if command.text == text:
            return command
    raise AssertionError(f"{page} documents no command {text!r} (was it changed?)")


def blockAfter(command: DocumentedCommand) -> LiteralBlock:
    """
    The first literal block after the one holding C{command} on its page:
    where the docs show what a command logs.
    """
    for block in literalBlocks(command.page):
        if block.line > command.line:
            return block
    raise AssertionError(f"no literal block after {command}")


def blockBefore(command: DocumentedCommand) -> LiteralBlock:
    """
    The literal block that comes before the one holding C{command} on its
    page: where the docs show a file a command reads.
    """
    upTo = [block for block in literalBlocks(command.page) if block.line <= command.line]
    if len(upTo) < 2:
        raise AssertionError(f"no literal block before {command}")
    return upTo[-2]


_VARIABLE = re.compile(
    r"(?P<elided>[A-Za-z0-9_-]+(?:\.\.\.|\u2026)(?=\s|$))"
    r"|(?P<ellipsis>\.\.\.|\u2026)"
    r"|(?P<token>[A-Za-z0-9_-]{24,})"
    r"|(?P<hex>\b[0-9a-f]{8}\b)"
    r"|(?P<number>[0-9]+(?:\.[0-9]+)?)"
)


def shownPattern(line: str) -> "re.Pattern[str]":
    """
    A pattern for the lines that the documented output line C{line}
    stands for: the same text, where an ellipsis (C{...}) stands for any
    text, a word cut short by one (C{0b4W...}) for any word, a number for
    any number, and a token or an 8-digit hex ID for any other; the
    pattern matches the end of a log line (whose time and prefix the docs
    leave out).
    """
    parts = []
    position = 0
    for match in _VARIABLE.finditer(line):
        parts.append(re.escape(line[position : match.start()]))
        kind = match.lastgroup
        parts.append(
            {
                "elided": r"\S+",
                "ellipsis": ".*",
                "token": r"\S+",
                "hex": "[0-9a-f]+",
                "number": r"[0-9]+(?:\.[0-9]+)?",
            }[kind or "ellipsis"]
        )
        position = match.end()
    parts.append(re.escape(line[position:]))
    return re.compile("".join(parts).rstrip() + "$")


def unshown(documented: Iterable[str], written: str) -> List[str]:
    """
    The lines of the documented output C{documented} that C{written} does
    not show: each line but C{...} alone (any lines) must match a line of
    C{written} (by L{shownPattern}), after the line the one before it
    matched.

    @return: the documented lines not found, in order (empty when all
        were).
    """
    lines = written.splitlines()
    position = 0
    missing = []
    for line in documented:
        if not line.strip() or line.strip() in ("...", "\u2026"):
            continue
        pattern = shownPattern(line.rstrip())
        for index in range(position, len(lines)):
            if pattern.search(lines[index]):
                position = index + 1
                break
        else:
            missing.append(line)
    return missing


def documentedJSON(command: DocumentedCommand) -> Any:
    """
    The JSON document that a transcript shows after C{command} (after any
    HTTP head that C{curl -i} shows).
    """
    lines = list(command.output)
    for index, line in enumerate(lines):
        if line.startswith("{") or line.startswith("["):
            return json.loads("\n".join(lines[index:]))
    raise AssertionError(f"the docs show no JSON after {command}")


#: Each documented command that a test runs, as (page, text), and the
#: tests that run it (C{module.Class.method}).
REGISTRY: Dict[Tuple[str, str], List[str]] = {}


def runsDocumented(page: str, *texts: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """
    Declare that the decorated test runs the commands C{texts} of C{page},
    exactly as written, and hand them to it.

    The test method takes one L{DocumentedCommand} argument per text, in
    order, after C{self}; it fails at once when the page no longer has one
    of them.  Stacked decorators give their commands in the order they
    are written, the top one's first.

    @param page: the page, relative to the source checkout
        (C{README.rst}, C{docs/running.rst}).
    @param texts: the commands, as L{documentedCommands} gives them.
    """

    def decorate(test: Callable[..., R]) -> Callable[..., R]:
        name = f"{test.__module__}.{test.__qualname__}"
        for text in texts:
            REGISTRY.setdefault((page, text), []).append(name)

        @functools.wraps(test)
        def run(self: Any, *given: DocumentedCommand) -> R:
            return test(self, *given, *[documentedCommand(page, text) for text in texts])

        return run

    return decorate


def freePort() -> int:
    """
    A TCP port that is free on every interface now (the kernel's choice),
    for a documented command that listens on a fixed port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


def withPorts(text: str, ports: Mapping[int, int]) -> str:
    """
    C{text} with each documented port of C{ports} that follows a colon (and
    is not part of a longer number) replaced by the test's port.
    """
    for documented, chosen in ports.items():
        text = re.sub(rf"(?<=:){documented}(?![0-9])", str(chosen), text)
    return text


def requirePrograms(*names: str) -> None:
    """
    Skip the test unless each program is on the C{PATH}.
    """
    for name in names:
        if shutil.which(name) is None:
            raise SkipTest(f"the documented commands need {name}, which is not installed")


class CommandProcess(Process):
    """
    A documented command running in a terminal, and so in a session and a
    process group of its own; what it writes is kept with the terminal's
    carriage returns left out.

    @ivar command: the command.
    """

    def __init__(self, command: DocumentedCommand) -> None:
        super().__init__()
        self.command = command

    def outReceived(self, data: bytes) -> None:
        super().outReceived(data.replace(b"\r", b""))

    errReceived = outReceived

    @property
    def text(self) -> str:
        """
        What it wrote so far (standard output and error), decoded, as the
        terminal shows it: without the escape sequences of colours and
        styles.
        """
        return _ESCAPE.sub("", self.output.decode("utf-8", "replace"))

    def stop(self, signum: int = signal.SIGTERM) -> "Deferred[Any]":
        """
        Send C{signum} to the command's process group, unless it has ended;
        fire with the reason it ended.
        """
        pid = getattr(self.transport, "pid", None)
        if not self.ended.called and pid is not None:
            try:
                os.killpg(pid, signum)
            except ProcessLookupError:
                pass
        return self.ended


_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _status(reason: Any) -> int:
    """
    The exit status a process ended with (128 + N for signal N).
    """
    if getattr(reason, "signal", None):
        return 128 + int(reason.signal)
    return int(getattr(reason, "exitCode", 0) or 0)


class Commands:
    """
    Documented commands run for one test, in one scratch directory (see
    the module's docstring).

    @ivar testCase: the test.
    @ivar directory: the scratch directory, where the commands run.
    @ivar ports: each documented port and the free port that replaces it.
    @ivar placeholders: each documented placeholder and its value.
    @ivar env: the environment the commands run with.
    """

    def __init__(
        self,
        testCase: SynchronousTestCase,
        ports: Iterable[int] = (),
        placeholders: Optional[Mapping[str, str]] = None,
        linkEnvironment: bool = True,
    ) -> None:
        """
        @param ports: the documented ports to replace.
        @param placeholders: the documented placeholders to replace, and
            their values (more can be added later).
        @param linkEnvironment: whether C{.venv} in the scratch directory
            is a link to the running environment (not where a command
            makes a virtual environment of its own).
        """
        requirePrograms("bash")
        self.testCase = testCase
        self.directory: FilePath[str] = FilePath(testCase.mktemp())
        self.directory.makedirs()
        if linkEnvironment:
            FilePath(sys.prefix).linkTo(self.directory.child(".venv"))
        self.ports = {port: freePort() for port in ports}
        self.placeholders: Dict[str, str] = dict(placeholders or {})
        env = environment()
        env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
        self.env = env

    def url(self, port: int, host: str = "127.0.0.1", scheme: str = "http") -> str:
        """
        The URL of the server a command started on the documented C{port}.
        """
        return f"{scheme}://{host}:{self.ports[port]}/"

    def copy(self, *parts: str) -> None:
        """
        Copy these files or directories of the source checkout (paths
        relative to it) to the same places in the scratch directory,
        without built files (C{_build}, C{__pycache__}, C{*.egg-info}).
        """
        leftOut = shutil.ignore_patterns("_build", "__pycache__", "*.pyc", "*.egg-info")
        for part in parts:
            source = PROJECT.preauthChild(part)
            target = self.directory.preauthChild(part)
            target.parent().makedirs(ignoreExistingDirectory=True)
            if source.isdir():
                shutil.copytree(source.path, target.path, ignore=leftOut, symlinks=True)
            else:
                shutil.copy2(source.path, target.path)

    def text(self, command: DocumentedCommand) -> str:
        """
        What runs for C{command}: its text, with the test's ports and
        placeholder values.
        """
        text = withPorts(command.text, self.ports)
        for placeholder, value in self.placeholders.items():
            text = text.replace(placeholder, value)
        return text

    def start(
        self,
        *commands: DocumentedCommand,
        cwd: Optional[FilePath[str]] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> CommandProcess:
        """
        Start C{commands}, one after the other in one bash (as one script,
        which stops at the first that fails), in a terminal, in the scratch
        directory or C{cwd}, with C{env} added to the environment.  After
        the test, its process group gets SIGTERM unless it has ended, and
        the test waits for its end.
        """
        from twisted.internet import reactor

        where = cwd if cwd is not None else self.directory
        script = "\n".join(self.text(command) for command in commands)
        if where.child(".venv").islink() and re.search(r"-m venv\b", script):
            raise AssertionError(f"{script!r} would make a virtual environment in the running one")
        process = CommandProcess(commands[0])
        bash = shutil.which("bash")
        assert bash is not None
        reactor.spawnProcess(
            process,
            bash,
            [bash, "-e", "-c", script],
            env={**self.env, **(env or {})},
            path=where.path,
            usePTY=True,
        )
        self.testCase.addCleanup(process.stop)
        return process

    def run(
        self,
        *commands: DocumentedCommand,
        status: int = 0,
        cwd: Optional[FilePath[str]] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> "Deferred[CommandProcess]":
        """
        Run C{commands} to their end, as L{start} does; fire with the
        process, or fail the test (showing what the commands wrote) when
        they end with another status than C{status}.
        """
        process = self.start(*commands, cwd=cwd, env=env)

        def ended(reason: Any) -> CommandProcess:
            if _status(reason) != status:
                shown = "\n".join(str(command) for command in commands)
                raise self.testCase.failureException(
                    f"{shown}\nended with status {_status(reason)}, not {status}:\n{process.text}"
                )
            return process

        return process.ended.addCallback(ended)

    def runBlocking(
        self,
        command: DocumentedCommand,
        cwd: Optional[FilePath[str]] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: float = 300,
    ) -> "subprocess.CompletedProcess[str]":
        """
        Run C{command} to its end for a synchronous test, as L{run} does
        but without a terminal (its output and its error apart), and fail
        the test when it does not end with status 0.
        """
        where = cwd if cwd is not None else self.directory
        result = subprocess.run(
            ["bash", "-e", "-c", self.text(command)],
            cwd=where.path,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode:
            raise self.testCase.failureException(
                f"{command}\nended with status {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    def runEach(
        self, commands: Sequence[DocumentedCommand], cwd: Optional[FilePath[str]] = None
    ) -> "Deferred[List[CommandProcess]]":
        """
        Run C{commands} one after the other, each in a bash of its own and
        each to its end with status 0, as L{run} does; fire with their
        processes.
        """

        async def each() -> List[CommandProcess]:
            done = []
            for command in commands:
                done.append(await self.run(command, cwd=cwd))
            return done

        return Deferred.fromCoroutine(each())
