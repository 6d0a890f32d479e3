# -*- test-case-name: ppsp.test.test_cli -*-
"""
The command-line client: send single requests to a tracker and read the
answers in plain words.  The first tool to reach for when debugging a
tracker::

    python -m ppsp.client --tracker http://127.0.0.1:7000/ find live-1
    python -m ppsp.client --tracker http://127.0.0.1:7000/ join live-1 --mode SEED --keep

Every command but C{connect} needs a session: the client CONNECTs first
(as C{--peer-id}, a fresh random PeerID by default), sends the command,
and DISCONNECTs at the end unless C{--keep} is given.  C{--token} reuses
the session of an earlier C{--keep} run instead of connecting.

The exit status is 0 when every answer was OK, 1 when the tracker
answered an error, 2 when it could not be reached, and 64 for a usage
error.
"""

from __future__ import annotations

import getopt
import os
import secrets
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, TextIO

from twisted.internet.defer import Deferred
from twisted.python import usage

from ppsp.messages import (
    ChunkRange,
    ConnectResponse,
    FindResponse,
    JoinResponse,
    KeepAliveResponse,
    PeerInfo,
    PeerMode,
    Response,
    Stat,
)
from ppsp._net import hostPort
from ppsp._options import (
    CommandOptions,
    checkTrackerURL,
    codecNamed,
    nonNegativeInt,
    parseAddress,
    parseMode,
    parseSwarm,
    portNumber,
    positiveInt,
    positiveSeconds,
)
from ppsp.peer import (
    AuthenticationRequired,
    TLSPolicy,
    TrackerClient,
    TrackerError,
    TrackerUnavailable,
    UnsupportedRequest,
    makeHTTPClient,
)

__all__ = ["Options", "run", "main", "describePeer"]


def _stat(text: str) -> Stat:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise usage.UsageError(f"{text!r} is not NAME=VALUE")
    return Stat(name.strip(), value.strip())


def _chunks(text: str) -> ChunkRange:
    start, sep, end = text.partition("-")
    try:
        first = int(start)
        last = int(end) if sep else first
    except ValueError:
        raise usage.UsageError(f"{text!r} is not a chunk ID or a range A-B") from None
    if first < 0 or last < first:
        raise usage.UsageError(f"{text!r} is not a chunk ID or a range A-B")
    return ChunkRange(first, last)


#: How the usage lines name the program.
PROGRAM = "python -m ppsp.client"


class _Command(CommandOptions):
    """
    Base of the subcommands: keeps positional arguments.

    @cvar arguments: the names of the positional arguments, as the usage
        line shows them.
    """

    arguments: Sequence[str] = ()

    def getSynopsis(self) -> str:
        """
        The usage line: the program, the command, its options and its
        positional arguments.
        """
        command = self.parent.subCommand if self.parent is not None else None
        words = [f"Usage: {PROGRAM} [options]", command or "", "[options]"]
        words.extend(self.arguments)
        return " ".join(w for w in words if w)

    def parseOptions(self, options: Optional[Sequence[str]] = None) -> None:
        """
        Parse, with options allowed after the arguments too
        (C{find live --chunk 5}).
        """
        try:
            opts, args = getopt.gnu_getopt(list(options or ()), self.shortOpt, self.longOpt)
        except getopt.error as e:
            raise usage.UsageError(str(e)) from None
        ordered = []
        for name, value in opts:
            if name.startswith("--"):
                ordered.append(f"{name}={value}" if name[2:] + "=" in self.longOpt else name)
            else:
                ordered.append(name + value if name[1] + ":" in self.shortOpt else name)
        super().parseOptions(ordered + ["--"] + args)

    def parseArgs(self, *args: str) -> None:
        if len(args) != len(self.arguments):
            command = self.parent.subCommand if self.parent is not None else "the command"
            if not self.arguments:
                raise usage.UsageError(f"{command} takes no arguments, not {' '.join(args)!r}")
            raise usage.UsageError(
                f"{command} takes {' '.join(self.arguments)}"
                + (f", not {' '.join(args)!r}" if args else "")
            )
        for name, value in zip(self.arguments, args):
            self[name.lower()] = value


class _Connect(_Command):
    """
    CONNECT and show the session (kept with --keep).
    """

    def __init__(self) -> None:
        super().__init__()
        self["addresses"] = []

    optParameters = [["stat-port", None, None, "StatPort to announce.", portNumber]]

    def opt_address(self, value: str) -> None:
        """
        An address to announce, IP:PORT; repeat for more.
        """
        try:
            self["addresses"].append(parseAddress(value))
        except ValueError as e:
            raise usage.UsageError(str(e)) from None


class _Find(_Command):
    """
    FIND the peers of a swarm (FIND_CHUNK with --chunk).
    """

    arguments = ("SWARM",)
    optParameters = [
        ["num", "n", None, "How many peers to ask for.", positiveInt],
        ["chunk", "c", None, "Only peers holding this chunk (FIND_CHUNK).", nonNegativeInt],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["constraints"] = []

    def opt_stat(self, value: str) -> None:
        """
        A constraint on the peers, NAME=VALUE; repeat for more.
        """
        self["constraints"].append(_stat(value))


class _Join(_Command):
    """
    JOIN a swarm: SWARM[:MODE], or SWARM with --mode (LEECH when neither
    gives one). A SwarmID that holds a colon is written with its mode
    (urn:live:LEECH).
    """

    arguments = ("SWARM[:MODE]",)
    optParameters = [
        ["mode", "m", None, "LEECH, SEED or LIVESEED (LEECH by default)."],
        ["expire", None, None, "Seconds after which the membership ends.", positiveSeconds],
        ["num", "n", None, "How many peers a LEECH wants in the answer.", positiveInt],
    ]

    def parseArgs(self, *args: str) -> None:
        if len(args) != 1:
            raise usage.UsageError(
                "join takes SWARM[:MODE]" + (f", not {' '.join(args)!r}" if args else "")
            )
        self["swarmAndMode"] = args[0]

    def postOptions(self) -> None:
        try:
            swarmID, mode = parseSwarm(self["swarmAndMode"])
        except ValueError as e:
            raise usage.UsageError(f"join: {e}") from None
        self["swarm"] = swarmID
        if self["mode"] is not None:
            try:
                option = parseMode(self["mode"])
            except ValueError as e:
                raise usage.UsageError(f"--mode: {e}") from None
            if ":" in self["swarmAndMode"] and option is not mode:
                raise usage.UsageError(
                    f"join {self['swarmAndMode']!r} --mode {self['mode']}: two different modes"
                )
            mode = option
        self["peerMode"] = mode


class _JoinChunk(_Command):
    """
    JOIN_CHUNK: the chunks held in a swarm, as IDs or ranges A-B (none
    clears the set).
    """

    arguments = ("SWARM", "[ID | A-B]...")

    def parseArgs(self, *args: str) -> None:
        if not args:
            raise usage.UsageError("join-chunk takes SWARM [ID | A-B]...")
        self["swarm"] = args[0]
        self["chunks"] = [_chunks(c) for c in args[1:]]


class _Leave(_Command):
    """
    LEAVE a swarm.
    """

    arguments = ("SWARM",)


class _StatReport(_Command):
    """
    STAT_REPORT the statistics given as NAME=VALUE arguments.
    """

    arguments = ("NAME=VALUE...",)

    def parseArgs(self, *stats: str) -> None:
        if not stats:
            raise usage.UsageError("give at least one NAME=VALUE")
        self["stats"] = [_stat(s) for s in stats]


class _Plain(_Command):
    """
    Send the request the command names, in the session given with
    --peer-id and --token (or a fresh one).
    """


class Options(CommandOptions):
    """
    The options of C{python -m ppsp.client}.
    """

    synopsis = f"Usage: {PROGRAM} [options] COMMAND [ARGS]"
    longdesc = "Send single requests to a PPSP tracker and print the answers in plain words."
    optParameters: List[List[Any]] = [
        ["tracker", "t", "http://127.0.0.1:7000/", "The tracker's URL."],
        ["peer-id", "p", None, "The PeerID to speak as (a random one by default)."],
        ["token", None, None, "Reuse this AuthToken (from an earlier --keep) instead of connecting."],
        ["cer", None, None, "File holding the credential presented at CONNECT."],
        ["trust-root", None, None, "PEM file of the CA of the tracker's certificate."],
        ["client-certificate", None, None, "PEM file with a TLS client certificate and key."],
        ["timeout", None, 10.0, "Seconds a request may take.", positiveSeconds],
        ["encoding", "e", "xml", "xml (the draft's profile) or json (RFC 7846)."],
    ]
    optFlags: List[List[Any]] = [
        ["keep", "k", "Do not DISCONNECT at the end: keep the session (its token is printed)."],
    ]
    subCommands: List[List[Any]] = [
        ["connect", None, _Connect, "CONNECT and show the session."],
        ["find", None, _Find, "FIND peers of a swarm (FIND_CHUNK with --chunk)."],
        ["join", None, _Join, "JOIN a swarm."],
        ["join-chunk", None, _JoinChunk, "JOIN_CHUNK: SWARM and the chunks held (IDs or A-B)."],
        ["leave", None, _Leave, "LEAVE a swarm."],
        ["keepalive", None, _Plain, "KEEPALIVE."],
        ["stat-report", None, _StatReport, "STAT_REPORT: NAME=VALUE..."],
        ["disconnect", None, _Plain, "DISCONNECT."],
    ]

    def postOptions(self) -> None:
        """
        Check the options; make up a PeerID when none is given.
        """
        if self.subCommand is None:
            raise usage.UsageError("give a command: " + ", ".join(c[0] for c in self.subCommands))
        checkTrackerURL(self["tracker"])
        if self["peer-id"] is None:
            if self["token"] is not None:
                raise usage.UsageError("--token needs the --peer-id of its session")
            self["peer-id"] = f"ppsp-cli-{secrets.token_hex(4)}"
        self["credential"] = None
        if self["cer"] is not None:
            try:
                with open(self["cer"], encoding="utf-8") as f:
                    self["credential"] = f.read().strip()
            except OSError as e:
                raise usage.UsageError(f"--cer: {e}") from None
        try:
            self["codec"] = codecNamed(self["encoding"])
        except KeyError:
            raise usage.UsageError(f"--encoding {self['encoding']!r} is not xml or json") from None


def describePeer(peer: PeerInfo) -> str:
    """
    One line for one peer of a list: PeerID, mode and addresses.
    """
    addresses = ", ".join(
        f"{hostPort(a.ip, a.port)} ({a.type.value})"
        for a in peer.addresses
    )
    return f"{peer.peerID}  {peer.mode.value}  {addresses}"


def _describe(response: Response) -> List[str]:
    lines: List[str] = []
    if isinstance(response, ConnectResponse):
        address = response.reflexiveAddress
        lines.append(f"AuthToken: {response.authToken}")
        if address is not None:
            lines.append(f"the tracker sees this peer at {address.ip}:{address.port}")
        lines.append(f"send KEEPALIVE every {response.keepAliveInterval} s")
        for result in getattr(response, "swarmResults", ()):
            if result.ok:
                count = len(result.peers or ())
                lines.append(f"joined swarm {result.swarmID}" + (f" ({count} peer{'s' if count != 1 else ''})" if result.peers is not None else ""))
                lines.extend("  " + describePeer(p) for p in result.peers or ())
            else:
                lines.append(f"swarm {result.swarmID}: {result.code.text}: {result.reason}")
    elif isinstance(response, KeepAliveResponse):
        lines.append(f"send KEEPALIVE every {response.keepAliveInterval} s")
    elif isinstance(response, (FindResponse, JoinResponse)) and response.peers is not None:
        count = len(response.peers)
        lines.append(f"{count} peer{'s' if count != 1 else ''} in swarm {response.swarmID}" + (":" if count else ""))
        lines.extend("  " + describePeer(p) for p in response.peers)
    return lines


async def run(options: Options, client: TrackerClient, out: TextIO, clock: Any) -> int:
    """
    Send what C{options} ask for with C{client}, writing the answers to
    C{out}; return the exit status.
    """
    command = options.subCommand
    sub: Any = options.subOptions

    def say(text: str) -> None:
        try:
            out.write(text + "\n")
        except BrokenPipeError:
            pass  # the reader (``| head``) has had enough; carry on quietly

    # Whether the tracker said it no longer knows the session.
    ended = False

    async def step(label: str, call: Callable[[], "Deferred[Any]"]) -> Optional[Response]:
        nonlocal ended
        started = clock.seconds()
        try:
            response: Response = await call()
        except TrackerError as e:
            say(f"{label} -> {e.code.text}" + (f": {e.reason}" if e.reason else ""))
            ended = ended or isinstance(e, AuthenticationRequired)
            return None
        except UnsupportedRequest as e:
            say(f"{label} -> not sent: {e}")
            return None
        elapsed = (clock.seconds() - started) * 1000
        say(f"{label} -> OK ({elapsed:.0f} ms)")
        for line in _describe(response):
            say("  " + line)
        return response

    status = 0
    try:
        if options["token"] is not None:
            client.authToken = options["token"]
        else:
            swarms: Dict[str, PeerMode] = {}
            if client.rfc7846:
                # An RFC 7846 peer registers by joining a swarm.
                if "swarm" not in sub:
                    say("RFC 7846 JSON registers a peer only with a swarm: use a command with SWARM")
                    return 1
                swarms = {sub["swarm"]: sub.get("peerMode", PeerMode.LEECH)}
            connected = await step(
                f"CONNECT as {client.peerID}",
                lambda: client.connect(
                    sub.get("addresses", ()) if command == "connect" else (),
                    sub.get("stat-port") if command == "connect" else None,
                    swarms=swarms,
                ),
            )
            if connected is None:
                return 1
        if command == "connect":
            pass
        elif command == "find":
            if sub["chunk"] is not None:
                label = f"FIND_CHUNK {sub['swarm']} chunk {sub['chunk']}"
                call = lambda: client.findChunk(sub["swarm"], sub["chunk"], sub["num"], sub["constraints"])
            else:
                label = f"FIND {sub['swarm']}"
                call = lambda: client.find(sub["swarm"], sub["num"], None, sub["constraints"])
            status = 0 if await step(label, call) else 1
        elif command == "join":
            status = 0 if await step(
                f"JOIN {sub['swarm']} as {sub['peerMode'].value}",
                lambda: client.join(sub["swarm"], sub["peerMode"], sub["expire"], sub["num"]),
            ) else 1
        elif command == "join-chunk":
            status = 0 if await step(
                f"JOIN_CHUNK {sub['swarm']} ({len(sub['chunks'])} range(s))",
                lambda: client.joinChunk(sub["swarm"], sub["chunks"]),
            ) else 1
        elif command == "leave":
            status = 0 if await step(f"LEAVE {sub['swarm']}", lambda: client.leave(sub["swarm"])) else 1
        elif command == "keepalive":
            status = 0 if await step("KEEPALIVE", client.keepAlive) else 1
        elif command == "stat-report":
            status = 0 if await step(
                f"STAT_REPORT ({len(sub['stats'])} Stat(s))", lambda: client.statReport(sub["stats"])
            ) else 1
        if command == "disconnect" or not options["keep"]:
            if await step("DISCONNECT", client.disconnect) is None and command == "disconnect":
                status = 1
            elif options["token"] is not None and command != "disconnect":
                say("session ended (give --keep to keep a session reused with --token)")
        elif ended:
            say("session not kept: the tracker no longer knows it (AUTHENTICATION REQUIRED)")
            status = 1
        else:
            say(f"session kept: --peer-id {client.peerID} --token {client.authToken}")
    except TrackerUnavailable as e:
        say(f"cannot reach the tracker: {e}")
        return 2
    return status


def main(argv: Optional[Sequence[str]] = None, reactor: Any = None, out: TextIO = sys.stdout) -> None:
    """
    Run the command line (C{python -m ppsp.client}) and exit with its
    status.
    """
    options = Options()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as e:
        # The usage of the command given, if any (its usage line names
        # the command and its arguments).
        sub = getattr(options, "subOptions", None)
        shown = options if sub is None else sub
        sys.stderr.write(f"{shown}\nError: {e}\n")
        raise SystemExit(os.EX_USAGE) from None
    from twisted.internet.task import react

    def go(reactor: Any) -> "Deferred[None]":
        tls = TLSPolicy.fromFiles(options["trust-root"], options["client-certificate"])
        http, pool = makeHTTPClient(reactor, tls, persistent=True)
        client = TrackerClient(
            http,
            options["tracker"],
            options["peer-id"],
            reactor,
            codec=options["codec"],
            cer=options["credential"],
            timeout=options["timeout"],
            attempts=2,
        )
        d = Deferred.fromCoroutine(run(options, client, out, _WallClock()))

        def finish(status: int) -> "Deferred[None]":
            closed: Deferred[None] = pool.closeCachedConnections()
            if status:
                return closed.addCallback(lambda _: _exit(status))
            return closed

        return d.addCallback(finish)

    react(go, [], _reactor=reactor)


class _WallClock:
    """
    Time for the timings printed.
    """

    def seconds(self) -> float:
        return time.monotonic()


def _exit(status: int) -> None:
    raise SystemExit(status)


if __name__ == "__main__":
    main()
