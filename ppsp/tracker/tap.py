# -*- test-case-name: ppsp.test.test_tap -*-
"""
C{twistd ppsp-tracker}: the command-line options and the service they
describe.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from twisted.application.service import MultiService
from twisted.cred import strcred
from twisted.cred.checkers import ICredentialsChecker, InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.credentials import IUsernamePassword
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python import usage

from ppsp._listen import ListenerService
from ppsp._options import (
    ProbeReactor,
    ServiceOptions,
    byteSize,
    checkPorts,
    nonNegativeInt,
    nonNegativeSeconds,
    portNumber,
    positiveInt,
    positiveSeconds,
)
from ppsp.codec.identifiers import identifierRule, validIdentifier
from ppsp.interfaces import IPeerSelector
from ppsp.selection import availableSelectors, makeSelector, requiresCompleteViews
from ppsp.tracker.admin import AdminResource, adminHostName, exposure
from ppsp.tracker.bans import Bans, readBanFile
from ppsp.tracker.credentials import (
    OpenPeerChecker,
    Revocations,
    TokenPeerChecker,
    X509PeerChecker,
    readSecret,
)
from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker.drain import GracefulStop
from ppsp.tracker._exporter import trackerRegistry
from ppsp.tracker.listening import defaultMaxConnections, listeningEndpoint, openFileLimit
from ppsp.tracker.overload import LoadShedder
from ppsp.tracker.reload import (
    BanFile,
    ListenerCertificate,
    ReloadService,
    RevocationFile,
    SecretFile,
    SwarmsFile,
    tlsCreatorOf,
)
from ppsp.tracker.resource import TrackerResource, TrackerSite
from ppsp.tracker.service import AnnouncingEndpoint, TrackerService
from ppsp.tracker.state import StateFile, StateLoaded, StateService, loadAtStart
from ppsp.tracker._storeoption import MEMORY, StoreService, storeOption
from ppsp.tracker.statquerier import StatQuerier, StatQueryService, makeStatQueryClient
from ppsp.tracker._status import RecentWarnings, RecentWarningsService, StatusPage
from ppsp.tracker.throttle import AddressThrottle
from ppsp.tracker._workers import (
    KILL_GRACE,
    SHAREABLE_TYPES,
    AdoptingReactor,
    ParentWatch,
    WorkerRole,
    unshareable,
    workersService,
)

__all__ = ["Options", "makeService", "readSwarmsFile", "formatSelectors", "authOption"]


# The option coercers are shared with the other command lines
# (ppsp._options); the short names keep this table readable.
_positiveInt = positiveInt
_nonNegativeInt = nonNegativeInt
_portNumber = portNumber
_byteSize = byteSize


def formatSelectors() -> str:
    """
    One line per installed strategy: its name and its description.
    """
    plugins = availableSelectors()
    width = max((len(name) for name in plugins), default=0)
    return "".join(
        f"{name.ljust(width)}  {plugins[name].description}\n" for name in sorted(plugins)
    )


def selectorOption(spec: str, where: str) -> IPeerSelector:
    """
    The strategy a C{NAME[:ARGS]} option names.

    @param where: what to put before an error message (the option, or the
        file and line).
    @raise usage.UsageError: the strategy is unknown (the message lists the
        known ones) or refuses its arguments.
    """
    try:
        return makeSelector(spec)
    except KeyError:
        raise usage.UsageError(
            f"{where}unknown selector {spec!r}; known: "
            + ", ".join(sorted(availableSelectors()))
        ) from None
    except ValueError as e:
        raise usage.UsageError(f"{where}selector {spec!r}: {e}") from None


def refuseCompleteViews(where: str, name: str, selector: IPeerSelector) -> None:
    """
    Refuse, for a networked store, a strategy that declares that it needs
    the memory store's complete swarm views (L{requiresCompleteViews}).

    @param where: the option, or the file and SwarmID, that names it.
    @param name: the strategy's name, as the error shows it.
    @raise usage.UsageError: C{selector} needs complete views.
    """
    if requiresCompleteViews(selector):
        raise usage.UsageError(
            f"{where}: the strategy {name!r} needs the complete swarm views of the "
            "memory store (it declares requiresCompleteViews), and with --store "
            "redis://... each request sees only the members the store fetched for it; "
            "leave --store out, or choose another strategy"
        )


def checkSwarmViews(
    path: str, swarms: Mapping[str, Optional[IPeerSelector]]
) -> Mapping[str, Optional[IPeerSelector]]:
    """
    Refuse, for a networked store, a swarms file's strategy that needs
    complete swarm views (L{refuseCompleteViews}).

    @return: C{swarms}.
    @raise usage.UsageError: one does.
    """
    for swarmID, selector in sorted(swarms.items()):
        if selector is not None:
            name = getattr(selector, "name", type(selector).__name__)
            refuseCompleteViews(f"--swarms {path} ({swarmID!r})", name, selector)
    return swarms


def checkedSwarmsFile(path: str) -> Mapping[str, Optional[IPeerSelector]]:
    """
    L{readSwarmsFile}, for a networked store: a strategy that needs
    complete swarm views is refused (L{checkSwarmViews}).

    @raise usage.UsageError: the file cannot be used.
    """
    return checkSwarmViews(path, readSwarmsFile(path))


#: The option a swarms file line may give after its SwarmID.
SELECTOR_OPTION = "selector="

#: The white space around a swarms file line and between its fields (not
#: the Unicode separators, which make a SwarmID invalid).
_BLANK = " \t"


def _swarmLine(text: str) -> Tuple[str, Optional[str]]:
    """
    Split a swarms file line (neither blank nor a comment) into its SwarmID
    and the strategy it gives, if any.

    The SwarmID is the first field: the characters up to the first space
    or tab, or, when the line starts with a double quote, a JSON string
    (C{"live 1"}, with C{\\"} and C{\\\\} inside), for a SwarmID that
    holds spaces or starts with a quote.  After it, the only field allowed
    is C{selector=NAME[:ARGS]}.

    @raise ValueError: a quoted SwarmID that does not end, or something
        else after the SwarmID.
    """
    if text.startswith('"'):
        try:
            swarmID, end = json.JSONDecoder().raw_decode(text)
        except ValueError:
            raise ValueError(
                "a SwarmID that starts with a double quote is a JSON string: it must end "
                'with a double quote (write \\" for a quote inside)'
            ) from None
        rest = text[end:]
        if rest and rest[0] not in _BLANK:
            raise ValueError("the quoted SwarmID must be followed by a space or a tab")
    else:
        end = len(text)
        for blank in _BLANK:
            found = text.find(blank)
            if found != -1:
                end = min(end, found)
        swarmID, rest = text[:end], text[end:]
    rest = rest.strip(_BLANK)
    if not rest:
        return swarmID, None
    if not rest.startswith(SELECTOR_OPTION):
        field = rest.split()[0] if rest.split() else rest
        raise ValueError(
            f"unexpected {field!r} after the SwarmID {swarmID!r}: after the SwarmID a line "
            'may only give selector=NAME[:ARGS] (write a SwarmID with spaces in double quotes: "live 1")'
        )
    return swarmID, rest[len(SELECTOR_OPTION):].strip(_BLANK)


def readSwarmsFile(path: str) -> Dict[str, Optional[IPeerSelector]]:
    """
    Read a provisioned-swarms file: one SwarmID a line, optionally followed
    by C{selector=NAME[:ARGS]} to give that swarm its own strategy; blank
    lines and lines starting with C{#} are skipped; spaces and tabs around
    the fields are not part of them.  A SwarmID holding a space or a tab,
    or starting with a double quote, is written as a JSON string
    (C{"live 1" selector=roles}).  A SwarmID must be valid as in a message
    (L{validIdentifier}).

    The tracker reads the file at start and again on SIGHUP
    (L{SwarmsFile}), with this same function.

    @return: each SwarmID with its own strategy, or L{None} for the
        tracker's.
    @raise usage.UsageError: the file cannot be read, or a line holds an
        invalid SwarmID, anything but C{selector=} after it, or a strategy
        that is unknown or refuses its arguments; the message names the
        file and the line.
    """
    try:
        # A byte order mark at the start is skipped, not read as part of
        # the first SwarmID.
        with open(path, encoding="utf-8-sig") as f:
            # Only line feeds (and CR LF, CR) end a line: str.splitlines()
            # would also split at U+2028, U+0085 and others, turning an
            # invalid SwarmID into two valid ones.
            lines = f.read().split("\n")
    except (OSError, UnicodeDecodeError) as e:
        raise usage.UsageError(f"cannot read the swarms file {path!r}: {e}") from None
    swarms: Dict[str, Optional[IPeerSelector]] = {}
    for number, line in enumerate(lines, 1):
        text = line.rstrip("\r").strip(_BLANK)
        if not text or text.startswith("#"):
            continue
        try:
            swarmID, spec = _swarmLine(text)
        except ValueError as e:
            raise usage.UsageError(f"{path}:{number}: {e}") from None
        if not validIdentifier(swarmID):
            raise usage.UsageError(f"{path}:{number}: not a valid SwarmID ({identifierRule()})")
        swarms[swarmID] = None if spec is None else selectorOption(spec, f"{path}:{number}: ")
    return swarms


class Options(ServiceOptions):
    """
    The options of C{twistd ppsp-tracker}.
    """

    synopsis = "[options]"
    longdesc = (
        "Run a PPSP tracker that serves the tracker protocol over HTTP at every "
        "path, in XML (the draft-gu-ppsp-tracker-protocol profile) and in "
        "RFC 7846 JSON, as each request's Content-Type says."
    )

    optParameters: List[List[Any]] = [
        ["listen", "l", "tcp:7000", "Endpoint description to listen on, e.g. tcp:7000:interface=127.0.0.1."],
        ["keepalive-interval", None, 60, "Seconds peers should wait between KEEPALIVEs.", _positiveInt],
        ["peer-timeout", None, 180, "Seconds of silence after which a peer expires.", _positiveInt],
        ["default-peers", None, 30, "Peers in a list when a request asks for none.", _positiveInt],
        ["max-peers", None, 200, "The most peers in one list.", _positiveInt],
        ["max-body", None, 65536, "The largest request body in bytes.", _positiveInt],
        ["rate-limit", None, 200, "Requests per second per address (burst twice that); 0 turns the throttle off.", _nonNegativeInt],
        ["max-swarm-size", None, 0, "The most members in one swarm; 0 for no cap.", _nonNegativeInt],
        ["empty-swarm-lifetime", None, 300, "Seconds an empty swarm is kept.", _positiveInt],
        ["swarms", None, None, "File of provisioned SwarmIDs, one a line, each optionally followed by selector=NAME[:ARGS] (a SwarmID with spaces in double quotes); only these swarms exist. Read again on SIGHUP."],
        ["selector", None, "random", "Peer-selection strategy, NAME[:ARGS]."],
        ["admin", None, None, "Endpoint description of the admin interface (JSON views, STAT_QUERY), e.g. tcp:7001:interface=127.0.0.1; off by default. Without --admin-auth it must be a loopback address, a UNIX socket or an mtls: listener that requires client certificates."],
        ["bans", None, None, "File of banned addresses and CIDR networks, one a line, each optionally followed by the seconds the ban lasts; read again on SIGHUP. Their requests get MESSAGE FORBIDDEN before they are decoded."],
        ["stat-query-interval", None, 0, "Seconds between two STAT_QUERYs to each connected peer with a StatPort; 0 (the default) turns polling off.", _nonNegativeInt],
        ["stat-query-timeout", None, 5, "Seconds a STAT_QUERY may take, answer included.", _positiveInt],
        ["auth", None, "open", "Who may CONNECT: open, token:SECRETFILE (credentials from python -m ppsp.auth issue) or x509:CAFILE (certificates the CA issued; needs a listener that asks for client certificates)."],
        ["revocations", None, None, "File of revoked PeerIDs and credentials (peer:PEERID, sha256:FINGERPRINT or a ppsp1. credential, one a line), read again on SIGHUP; their sessions end at once."],
        ["request-timeout", None, 10, "Seconds a request may take to arrive, headers and body; 0 for no limit.", _nonNegativeInt],
        ["idle-timeout", None, 60, "Seconds an idle connection is kept open.", _positiveInt],
        ["max-in-flight", None, 1000, "Requests answered asynchronously at once beyond which new ones get TEMPORARILY OVERLOADED; 0 for no limit.", _nonNegativeInt],
        ["max-lag", None, 0.05, "Seconds of reactor lag (two long turns in a row, and the current turn past it) beyond which requests get TEMPORARILY OVERLOADED; 0 turns lag shedding off.", nonNegativeSeconds],
        ["max-connections", None, None, "The most connections open at once on --listen; more are closed as soon as they are accepted. 0 for no cap. Default: the process's limit of open files minus a reserve of an eighth of it (at least 128, at most half).", _nonNegativeInt],
        ["max-sessions-per-address", None, 256, "Sessions registered at once from one address (an IPv4 address, an IPv6 /64); more CONNECTs get MESSAGE FORBIDDEN. 0 for no cap.", _nonNegativeInt],
        ["max-sessions", None, 1_000_000, "Sessions registered at once in all; more CONNECTs get TEMPORARILY OVERLOADED. 0 for no cap.", _nonNegativeInt],
        ["max-peer-memory", None, 8 * 2**20, "Bytes one peer's session may make the tracker hold (record, memberships, chunk ranges and statistics across its swarms); requests that need more get MESSAGE FORBIDDEN. 0 for no budget.", _byteSize],
        ["max-address-memory", None, 16 * 2**20, "Bytes all the sessions of one address (an IPv4 address, an IPv6 /64) may make the tracker hold together; requests that need more get MESSAGE FORBIDDEN. 0 for no budget.", _byteSize],
        ["max-swarms-per-peer", None, 64, "Swarms one peer may be a member of at once; a JOIN beyond gets MESSAGE FORBIDDEN.", _positiveInt],
        ["max-addresses", None, 8, "Addresses one CONNECT may announce.", _positiveInt],
        ["max-chunk-ranges", None, 1024, "Chunk ranges (after merging) kept per membership.", _positiveInt],
        ["max-stats", None, 64, "Stats in one message, and properties kept per peer and per membership.", _positiveInt],
        ["max-stat-value", None, 256, "Characters in one statistics value.", _positiveInt],
        ["retry-window", None, 60, "Seconds an answer is kept for a repeated request.", _nonNegativeInt],
        ["retry-cache-size", None, 200_000, "The most answers kept for repeated requests.", _positiveInt],
        ["rate-burst", None, None, "Requests one address may send at once before --rate-limit paces it. Default: twice --rate-limit.", _positiveInt],
        ["min-stat-port", None, 1024, "The lowest StatPort a peer may announce (--allow-low-stat-ports is --min-stat-port 1).", _portNumber],
    ]
    optParameters += [
        ["access-log", None, None, "Write one line per HTTP request (combined log format) to this file, for the admin interface too; - writes them to the tracker's log. Off by default."],
        ["drain-timeout", None, 10, "Seconds a graceful stop (SIGTERM) waits for the requests in flight before it closes the connections left; 0 closes them at once.", _nonNegativeInt],
        ["state", None, None, "File that keeps the tracker's state (sessions and their AuthTokens, memberships, chunk sets, statistics, provisioned swarms) across restarts: read at start, written atomically (mode 0600) on a graceful stop and every --state-interval seconds. Off by default: the state lives in memory only."],
        ["state-interval", None, 60, "Seconds between two writes of the --state file; 0 writes it only at a graceful stop.", _nonNegativeInt],
        ["store", None, MEMORY, "Where the tracker keeps its state: memory (this process only), or a Redis server that several trackers share and that keeps it across their restarts: redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://... (TLS; ?ssl_ca_path=DIR&ssl_certfile=PEM&ssl_keyfile=PEM) or redis+unix:///PATH[?db=DB]. Redis needs the redis extra (pip install 'ppsp[redis]')."],
        ["store-prefix", None, "ppsp:", "The prefix of the Redis store's keys: the trackers that share a Redis server and a prefix act as one tracker."],
        ["store-password-file", None, None, "File whose first line is the Redis store's password, read at start (instead of a password in the --store URL)."],
        ["store-timeout", None, 1.0, "Seconds the Redis store waits for an answer; a request that would wait longer, or that comes while Redis is unreachable, gets TEMPORARILY OVERLOADED (HTTP 503).", positiveSeconds],
    ]
    optParameters += [
        ["workers", None, 1, "Worker processes that serve --listen (and the parent that opens it and starts them again when they end); above 1 needs a shared store (--store redis://...). 1 serves in this process.", _positiveInt],
        ["worker", None, None, "Set by the parent of --workers for its worker processes (number=N,parent=PID,listen=FD[,admin=FD]); not for operators."],
    ]
    #: C{--worker} is for the parent of C{--workers} to set: not a key of
    #: a config file.
    notInConfigFile = ServiceOptions.notInConfigFile | {"worker"}

    optFlags: List[List[Any]] = [
        ["trust-announced-addresses", None, "List public addresses that peers announce even when they differ from the address observed."],
        ["allow-low-stat-ports", None, "Accept a StatPort below 1024 (STAT_QUERY is then sent to well-known ports)."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["trusted-proxies"] = []
        self["admin-hosts"] = []
        self["admin-auth"] = []
        self["adminCheckers"] = []
        #: The command line parsed (after C{twistd ppsp-tracker}), which
        #: the workers of C{--workers} are given too.
        self.arguments: List[str] = []

    def parseOptions(self, options: Optional[Sequence[str]] = None) -> None:
        """
        Parse the command line (see L{ServiceOptions.parseOptions}), and
        keep it in L{arguments}.
        """
        self.arguments = list(sys.argv[1:] if options is None else options)
        super().parseOptions(options)

    def opt_admin_auth(self, value: str) -> None:
        """
        Who may use the admin interface, with HTTP Basic authentication: a
        twisted.cred checker string, e.g. file:PATH (lines USER:PASSWORD)
        or memory:USER:PASSWORD; repeat for more (any one may accept).
        GET /health needs none.
        """
        self["adminCheckers"].append(adminAuthOption(value))
        self["admin-auth"].append(value.partition(":")[0])

    def opt_admin_host(self, value: str) -> None:
        """
        Another name (or IP address) by which the admin interface may be
        reached, e.g. a reverse proxy's; requests naming another host
        get 421. Its own address (and localhost on a loopback one) needs none.
        Repeat for more.
        """
        try:
            self["admin-hosts"].append(adminHostName(value))
        except ValueError as e:
            raise usage.UsageError(f"--admin-host: {e}") from None

    def opt_trusted_proxy(self, value: str) -> None:
        """
        A proxy (CIDR, e.g. 10.0.0.0/8, or one address) whose
        X-Forwarded-For header names the client; repeat for more.
        """
        try:
            self["trusted-proxies"].append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise usage.UsageError(f"--trusted-proxy {value!r} is not an address or a CIDR network") from None

    def opt_list_selectors(self) -> None:
        """
        List every installed peer-selection strategy and exit.
        """
        sys.stdout.write(formatSelectors())
        raise SystemExit(0)

    def _checkEndpoint(self, option: str) -> None:
        """
        Check the endpoint description of C{--listen} or C{--admin}, its
        port numbers included (what only the listening itself can tell, a
        port in use, is reported by L{ListenerService}).

        @raise usage.UsageError: it is not a valid one.
        """
        description = self[option]
        reactor = ProbeReactor()
        try:
            endpoint = listeningEndpoint(reactor, description, self["trusted-proxies"])
            checkPorts(reactor, endpoint)
        except Exception as e:
            raise usage.UsageError(
                f"--{option} {description!r} is not a valid endpoint: {e}"
            ) from None

    def _checkStatePath(self) -> None:
        """
        The C{--state} option names a file, not a directory (the file is
        read, and its directory checked, at start: see L{makeService}).
        """
        path = self["state"]
        if path is not None and (not path or path.endswith(os.sep) or os.path.isdir(path)):
            raise usage.UsageError(f"--state takes a file, not {path!r}")

    def _checkWorkers(self) -> None:
        """
        Check C{--workers}, and read C{--worker} into C{workerRole}: a
        worker other than worker 1 serves neither C{--admin} nor
        C{--stat-query-interval} polling (see L{ppsp.tracker._workers}).
        """
        self["workerRole"] = None
        if self["worker"] is not None:
            try:
                role = WorkerRole.fromString(self["worker"])
            except ValueError as e:
                raise usage.UsageError(f"--worker {self['worker']!r}: {e}") from None
            self["workerRole"] = role
            if role.number != 1:
                self["admin"] = None
                self["stat-query-interval"] = 0
            return
        workers = self["workers"]
        if workers == 1:
            return
        if not self["storeOption"].isRedis:
            raise usage.UsageError(
                f"--workers {workers} needs a store that the workers share: with the memory store "
                "each worker process would keep peers of its own, and a peer registered through "
                "one worker would be unknown to the others; give --store redis://HOST[:PORT][/DB], "
                "or leave --workers out"
            )
        for option in ("listen", "admin"):
            kind = unshareable(self[option]) if self[option] is not None else None
            if kind is not None:
                raise usage.UsageError(
                    f"--workers: the parent opens --{option} and hands its socket to the workers, "
                    f"which it can do for the endpoint types {', '.join(SHAREABLE_TYPES)} "
                    f"(behind haproxy: or not), not {kind!r}"
                )

    def _checkViews(self) -> None:
        """
        With a networked store, refuse a strategy (C{--selector}, or one of
        the swarms file) that declares that it needs the memory store's
        complete swarm views (L{requiresCompleteViews}).

        @raise usage.UsageError: one does.
        """
        if not self["storeOption"].isRedis:
            return
        refuseCompleteViews("--selector", self["selector"], self["selectorObject"])
        if self["swarms"] is not None:
            checkSwarmViews(self["swarms"], self["swarmSelectors"])

    def postOptions(self) -> None:
        """
        Check every value; any mistake is a usage error (twistd exits 64).
        """
        self._checkEndpoint("listen")
        self._checkStatePath()
        self["storeOption"] = storeOption(
            self["store"], self["store-prefix"], self["store-password-file"]
        )
        if self["storeOption"].isRedis and self["state"] is not None:
            raise usage.UsageError(
                "--state is for the memory store: with --store redis://... the state lives in "
                "Redis, which keeps it across restarts of the trackers; leave --state out"
            )
        if self["admin"] is not None:
            self._checkEndpoint("admin")
            problem = None if self["adminCheckers"] else exposure(self["admin"])
            if problem is not None:
                raise usage.UsageError(
                    f"--admin {self['admin']!r} without --admin-auth: {problem}, and the admin "
                    "interface would have no authentication; give --admin-auth, or bind it to "
                    "a loopback address (interface=127.0.0.1 or interface=::1) or a UNIX socket"
                )
        elif self["admin-hosts"] or self["adminCheckers"]:
            raise usage.UsageError(
                "--admin-host and --admin-auth are about the admin interface: give --admin too"
            )
        provisioned = None
        self["swarmSelectors"] = {}
        if self["swarms"] is not None:
            swarms = readSwarmsFile(self["swarms"])
            provisioned = frozenset(swarms)
            self["swarmSelectors"] = {
                swarmID: selector for swarmID, selector in swarms.items() if selector is not None
            }
        self["selectorObject"] = selectorOption(self["selector"], "--selector: ")
        self._checkViews()
        self["checkerFactory"] = authOption(self["auth"])
        self["revocationsObject"] = Revocations()
        if self["revocations"] is not None:
            try:
                self["revocationsObject"] = Revocations.fromFile(self["revocations"])
            except (OSError, ValueError) as e:
                raise usage.UsageError(f"--revocations: {e}") from None
        accessLog = self["access-log"]
        if accessLog is not None and (not accessLog or (accessLog.startswith("-") and accessLog != "-")):
            # Before issue 12, --access-log was a flag: "--access-log
            # --listen ..." must not write to a file called "--listen".
            raise usage.UsageError(
                f"--access-log takes a file (or - for the tracker's log), not {accessLog!r}"
            )
        self["banEntries"] = []
        if self["bans"] is not None:
            try:
                self["banEntries"] = readBanFile(self["bans"])
            except (OSError, ValueError) as e:
                raise usage.UsageError(f"--bans: {e}") from None
        if self["max-lag"] < 0:
            raise usage.UsageError("--max-lag must not be negative")
        if self["max-connections"] is None:
            self["max-connections"] = defaultMaxConnections(openFileLimit())
        try:
            self["config"] = TrackerConfig(
                keepAliveInterval=self["keepalive-interval"],
                peerTimeout=float(self["peer-timeout"]),
                defaultPeers=self["default-peers"],
                maxPeers=self["max-peers"],
                rateLimit=float(self["rate-limit"]),
                maxSwarmSize=self["max-swarm-size"] or None,
                emptySwarmLifetime=float(self["empty-swarm-lifetime"]),
                provisionedSwarms=provisioned,
                trustAnnouncedAddresses=bool(self["trust-announced-addresses"]),
                minStatPort=1 if self["allow-low-stat-ports"] else self["min-stat-port"],
                maxSessionsPerAddress=self["max-sessions-per-address"],
                maxSessions=self["max-sessions"],
                maxPeerMemory=self["max-peer-memory"],
                maxAddressMemory=self["max-address-memory"],
                maxSwarmsPerPeer=self["max-swarms-per-peer"],
                maxAddresses=self["max-addresses"],
                maxChunkRanges=self["max-chunk-ranges"],
                maxStats=self["max-stats"],
                maxStatValue=self["max-stat-value"],
                retryWindow=float(self["retry-window"]),
                retryCacheSize=self["retry-cache-size"],
                rateBurst=None if self["rate-burst"] is None else float(self["rate-burst"]),
            )
        except ValueError as e:
            raise usage.UsageError(_optionText(str(e))) from None
        self._checkWorkers()


def adminAuthOption(spec: str) -> ICredentialsChecker:
    """
    The credentials checker an C{--admin-auth} option names: a
    L{twisted.cred.strcred} string whose checker takes user names and
    passwords (C{file:PATH}, C{memory:USER:PASSWORD}, C{unix}).

    @raise usage.UsageError: the string names no such checker, or one
        that cannot check a user name and a password.
    """
    try:
        checker: ICredentialsChecker = strcred.makeChecker(spec)
    except (strcred.UnsupportedInterfaces, strcred.InvalidAuthType, strcred.InvalidAuthArgumentString) as e:
        raise usage.UsageError(f"--admin-auth {spec.partition(':')[0]!r}: {e}") from None
    except Exception as e:
        raise usage.UsageError(f"--admin-auth {spec.partition(':')[0]!r}: {e}") from None
    if IUsernamePassword not in checker.credentialInterfaces:
        raise usage.UsageError(
            f"--admin-auth {spec.partition(':')[0]!r} does not check user names and passwords; "
            "give file:PATH or memory:USER:PASSWORD"
        )
    if isinstance(checker, InMemoryUsernamePasswordDatabaseDontUse):
        # strcred's memory checker holds the names and passwords as text,
        # but HTTP Basic authentication gives them as bytes: hold bytes.
        inBytes = InMemoryUsernamePasswordDatabaseDontUse()
        for user, password in checker.users.items():
            inBytes.addUser(_utf8(user), _utf8(password))
        return inBytes
    return checker


def _utf8(value: Any) -> bytes:
    """
    C{value} in UTF-8 when it is text, else as it is (bytes).
    """
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def authOption(spec: str) -> Callable[[Any], ICredentialsChecker]:
    """
    The authenticator an C{--auth} option names, as a function of the
    clock: C{open}, C{token:SECRETFILE} or C{x509:CAFILE}.  The files are
    read now, so that a mistake stops the tracker before it starts.

    @raise usage.UsageError: an unknown scheme or an unusable file.
    """
    scheme, _, argument = spec.partition(":")
    scheme = scheme.strip().lower()
    if scheme == "open" and not argument:
        return lambda clock: OpenPeerChecker()
    if scheme == "token" and argument:
        try:
            secret = readSecret(argument)
        except (OSError, ValueError) as e:
            raise usage.UsageError(f"--auth token: {e}") from None
        return lambda clock: TokenPeerChecker(secret, clock)
    if scheme == "x509" and argument:
        try:
            with open(argument, "rb") as f:
                cas = f.read()
            X509PeerChecker(cas, Clock())
        except (OSError, ValueError) as e:
            raise usage.UsageError(f"--auth x509: cannot use {argument!r}: {e}") from None
        return lambda clock: X509PeerChecker(cas, clock)
    raise usage.UsageError(
        f"--auth {spec!r}: give open, token:SECRETFILE or x509:CAFILE"
    )


_OPTION_NAMES = {
    "keepAliveInterval": "--keepalive-interval",
    "peerTimeout": "--peer-timeout",
    "defaultPeers": "--default-peers",
    "maxPeers": "--max-peers",
    "maxSessionsPerAddress": "--max-sessions-per-address",
    "maxSessions": "--max-sessions",
    "maxPeerMemory": "--max-peer-memory",
    "maxAddressMemory": "--max-address-memory",
}


def _optionText(message: str) -> str:
    for field, option in _OPTION_NAMES.items():
        message = message.replace(field, option)
    return message


def _ownPort(tracker: Tracker, host: Any) -> None:
    """
    Keep a port the tracker listens on, which no peer may announce as its
    StatPort.
    """
    port = getattr(host, "port", None)
    if isinstance(port, int):
        tracker.ownPorts.add(port)


#: The most connections the admin interface keeps open at once: its own
#: cap, so that an operator still reaches it when the tracker's port is
#: full (the admin connections come out of the reserve that
#: L{defaultMaxConnections} leaves).
ADMIN_MAX_CONNECTIONS = 16

#: What the admin listener logs once it listens.
ADMIN_FORMAT = "PPSP tracker admin interface listening at {address} ({endpoint})"


def _accessLogPath(options: Options) -> Optional[str]:
    """
    The access log's file, or L{None} for none or for the tracker's log
    (C{--access-log -}).
    """
    path: Optional[str] = options["access-log"]
    return None if path in (None, "-") else path


def makeService(options: Options, reactor: Optional[Any] = None) -> MultiService:
    """
    Build the tracker service that C{options} describe: the HTTP listener,
    the timers, and when asked for, the admin listener and STAT_QUERY
    polling (with their HTTP client, whose connection pool is closed when
    the service stops).

    The result is a L{GracefulStop}: on SIGTERM it stops listening, drains
    the requests in flight for at most C{--drain-timeout} seconds, runs its
    C{stopCallbacks} (with C{--state}, the last write of the state file),
    then stops the rest, and the process exits with status 0.  With
    C{--state}, the state file is read here, before anything listens: one
    that cannot be used writes one line to standard error and exits with
    status 1 (L{loadAtStart}); its state is then restored into the store,
    and the periodic and final writes are set up once it is (should the
    store fail to take it, the tracker stops and the file stays as it
    was).  With C{--store redis://...}, the tracker's store is a
    L{RedisPeerStore<ppsp.tracker.redisstore.RedisPeerStore>}: it starts
    connecting when the service starts, without being waited for (its
    calls wait for the connection), and its connection is closed after
    the drain, once the other services have stopped
    (C{StoreService}).  It has the attributes
    C{tracker} (the L{Tracker}) and C{statQuerier} (the L{StatQuerier}, or
    L{None} when neither C{--admin} nor C{--stat-query-interval} is given).

    With C{--workers} above 1, the result is instead the parent of the
    worker processes (L{ppsp.tracker._workers.workersService}), which
    opens the listening sockets and starts the workers; a worker
    (C{--worker}) adopts the sockets its parent opened and stops when
    its parent is gone.

    @param reactor: the reactor to listen with and to take time from; the
        global reactor when L{None}.
    """
    if reactor is None:
        from twisted.internet import reactor as _reactor

        reactor = _reactor
    role: Optional[WorkerRole] = options["workerRole"]
    if options["workers"] > 1 and role is None:
        return _parentOfWorkers(options, reactor)
    config: TrackerConfig = options["config"]
    bans = Bans(reactor)
    bans.replace(options["banEntries"])
    # The Redis store connects when the service starts (StoreService);
    # until then its calls wait, as they do while it is disconnected.
    store = options["storeOption"].open(reactor, config.retryWindow, options["store-timeout"])
    tracker = Tracker(
        reactor,
        config,
        selector=options["selectorObject"],
        swarmSelectors=options["swarmSelectors"],
        checker=options["checkerFactory"](reactor),
        revocations=options["revocationsObject"],
        bans=bans,
        store=store,
    )
    stateFile = StateFile(options["state"]) if options["state"] is not None else None
    restored: "Optional[Deferred[Optional[StateLoaded]]]" = None
    if stateFile is not None:
        restored = loadAtStart(tracker, stateFile)
    shedder = LoadShedder(
        reactor, maxInFlight=options["max-in-flight"], maxLag=options["max-lag"]
    )
    resource = TrackerResource(
        tracker,
        maxBody=options["max-body"],
        trustedProxies=options["trusted-proxies"],
        shedder=shedder,
        # Each of --workers N enforces its share of the limit (see throttle.py).
        throttle=AddressThrottle(reactor, config.rateLimit, config.rateBurst, options["workers"]),
    )
    site = TrackerSite(
        resource,
        maxBody=options["max-body"],
        accessLog=options["access-log"] is not None,
        logPath=_accessLogPath(options),
        requestTimeout=options["request-timeout"] or None,
        shedder=shedder,
        timeout=options["idle-timeout"],
        maxConnections=options["max-connections"] or None,
        metrics=tracker.metrics,
        reactor=reactor,
    )
    settings = {
        "selector": options["selector"],
        "keepalive-interval": config.keepAliveInterval,
        "peer-timeout": int(config.peerTimeout),
        "default-peers": config.defaultPeers,
        "max-peers": config.maxPeers,
        "max-body": options["max-body"],
        "rate-limit": int(config.rateLimit),
        "max-swarm-size": config.maxSwarmSize or "none",
        "swarms": (
            f"{len(config.provisionedSwarms)} provisioned"
            if config.provisionedSwarms is not None
            else "created on JOIN"
        ),
        "trust-announced-addresses": config.trustAnnouncedAddresses,
        "auth": options["auth"].partition(":")[0],
        "trusted-proxies": ",".join(str(n) for n in options["trusted-proxies"]) or "none",
        "admin": options["admin"] or "off",
        "stat-query-interval": options["stat-query-interval"] or "off",
        "max-connections": options["max-connections"] or "none",
        "revocations": options["revocations"] or "none",
        "bans": options["bans"] or "none",
        "admin-auth": ",".join(options["admin-auth"]) or "none",
        "allow-low-stat-ports": bool(options["allow-low-stat-ports"]),
        "max-sessions-per-address": config.maxSessionsPerAddress or "none",
        "max-sessions": config.maxSessions or "none",
        "max-peer-memory": config.maxPeerMemory or "none",
        "max-address-memory": config.maxAddressMemory or "none",
        "state": options["state"] or "off",
        "state-interval": (options["state-interval"] or "at stop only") if options["state"] else "off",
        "store": options["storeOption"].shown,
        "store-prefix": options["store-prefix"] if options["storeOption"].isRedis else "off",
        "store-timeout": options["store-timeout"] if options["storeOption"].isRedis else "off",
    }
    # One SIGHUP handler (and the admin API's POST /reload) for every file
    # read again without a restart.
    reloads = ReloadService(reactor)
    reloaders: List[Callable[[], Deferred[bool]]] = reloads.reloaders
    endpoint = AnnouncingEndpoint(
        listeningEndpoint(
            _reloadableTLS(
                reactor if role is None else AdoptingReactor(reactor, role.listen),
                options["listen"],
                options["trusted-proxies"],
                reloaders,
            ),
            options["listen"],
            options["trusted-proxies"],
        ),
        options["listen"],
        settings,
        onListening=lambda host: _ownPort(tracker, host),
    )
    # SIGTERM: stop listening, drain, then stop the rest (the admin
    # interface answers the health check, 503, while the tracker drains).
    parent = GracefulStop(
        reactor, tracker, drainTimeout=float(options["drain-timeout"]), takeSIGTERM=True
    )
    if store is not None:
        # The first child: it connects before anything listens, and its
        # connection is closed after the drain, once the others stopped.
        storeService = StoreService(store, reactor, float(options["drain-timeout"]))
        storeService.watchReady(tracker.ready, len(config.provisionedSwarms or ()))
        storeService.setServiceParent(parent)
    # As strports.service does: a port that cannot be bound stops twistd
    # at start-up, with one line naming the endpoint and the reason.
    listener = ListenerService(endpoint, site, "--listen", options["listen"])
    parent.addListener(listener, site)
    TrackerService(tracker).setServiceParent(parent)
    if role is not None:
        ParentWatch(reactor, role.parent).setServiceParent(parent)
    if options["revocations"] is not None:
        revocationFile = RevocationFile(
            tracker, options["revocations"], options["revocationsObject"]
        )
        reloaders.append(revocationFile.reload)
    if options["bans"] is not None:
        reloaders.append(BanFile(bans, options["bans"]).reload)
    if options["swarms"] is not None:
        # With Redis, a reload that names a strategy needing complete views
        # is refused, as at start.
        read = checkedSwarmsFile if options["storeOption"].isRedis else readSwarmsFile
        swarmsFile = SwarmsFile(
            tracker, options["swarms"], read, sorted(config.provisionedSwarms or ())
        )
        reloaders.append(swarmsFile.reload)
    scheme, _, secretPath = options["auth"].partition(":")
    if scheme.strip().lower() == "token" and isinstance(tracker.checker, TokenPeerChecker):
        reloaders.append(SecretFile(tracker.checker, secretPath, readSecret).reload)
    shedder.setServiceParent(parent)
    querier: Optional[StatQuerier] = None
    interval = options["stat-query-interval"]
    if options["admin"] is not None or interval:
        timeout = float(options["stat-query-timeout"])
        http, pool = makeStatQueryClient(reactor, connectTimeout=timeout)
        querier = StatQuerier(tracker, http, reactor, timeout=timeout)
        StatQueryService(querier, float(interval) if interval else None, pool=pool).setServiceParent(parent)
    if options["admin"] is not None:
        # The status page (GET / on the admin endpoint) shows the settings
        # logged at start and the warnings logged while the tracker runs.
        warnings = RecentWarnings()
        RecentWarningsService(warnings).setServiceParent(parent)
        status = StatusPage(
            tracker,
            settings=settings,
            endpoints={"peers": options["listen"], "admin": options["admin"]},
            warnings=warnings,
        )
        adminSite = TrackerSite(
            AdminResource(
                tracker,
                querier,
                hosts=options["admin-hosts"],
                checkers=options["adminCheckers"],
                registry=trackerRegistry(tracker, shedder),
                shedder=shedder,
                status=status,
                reload=reloads.reload,
            ),
            maxBody=4096,
            accessLog=options["access-log"] is not None,
            logPath=_accessLogPath(options),
            maxConnections=ADMIN_MAX_CONNECTIONS,
            reactor=reactor,
        )
        adminEndpoint = AnnouncingEndpoint(
            listeningEndpoint(
                _reloadableTLS(
                    reactor if role is None or role.admin is None else AdoptingReactor(reactor, role.admin),
                    options["admin"],
                    options["trusted-proxies"],
                    reloaders,
                ),
                options["admin"],
                options["trusted-proxies"],
            ),
            options["admin"],
            {},
            logFormat=ADMIN_FORMAT,
            # Without --admin-auth, postOptions allowed only a loopback
            # address, a UNIX socket or client certificates.
            warnUnlessLoopback=False,
            onListening=lambda host: _ownPort(tracker, host),
        )
        admin = ListenerService(adminEndpoint, adminSite, "--admin", options["admin"])
        admin.setServiceParent(parent)
    if reloaders:
        reloads.setServiceParent(parent)
    if stateFile is not None and restored is not None:
        # Written every --state-interval seconds, and once more right
        # after the drain of a graceful stop.
        fileSwarms = swarmsFile if options["swarms"] is not None else None
        fileRevocations = revocationFile if options["revocations"] is not None else None
        state = StateService(
            tracker,
            stateFile,
            float(options["state-interval"]),
            fileSwarms=(lambda: fileSwarms.applied) if fileSwarms is not None else None,
            fileRevocations=(
                (lambda: fileRevocations.applied) if fileRevocations is not None else None
            ),
        )

        def writing(_: object) -> None:
            state.setServiceParent(parent)
            parent.stopCallbacks.append(state.saveAtStop)

        def stopping(_: object) -> None:
            # The state is not in the store (loadAtStart logged why): stop,
            # and never write the file over with what is.
            reactor.callWhenRunning(reactor.stop)

        restored.addCallbacks(writing, stopping)
    parent.tracker = tracker
    parent.statQuerier = querier  # type: ignore[attr-defined]
    parent.reloads = reloads  # type: ignore[attr-defined]
    return parent


def _parentOfWorkers(options: Options, reactor: Any) -> MultiService:
    """
    The parent process of C{--workers}: it listens on C{--listen} (and
    C{--admin}, which worker 1 serves), and runs C{--workers} workers with
    this command line, giving them the time of their drain and
    L{KILL_GRACE<ppsp.tracker._workers.KILL_GRACE>} seconds more to stop.
    """
    endpoints = {
        f"--{option}": (
            listeningEndpoint(reactor, options[option], options["trusted-proxies"]),
            options[option],
        )
        for option in ("listen", "admin")
        if options[option] is not None
    }
    return workersService(
        reactor,
        options["workers"],
        endpoints,
        options.arguments,
        dict(os.environ),
        killTimeout=float(options["drain-timeout"]) + KILL_GRACE,
    )


def _reloadableTLS(
    reactor: Any,
    description: str,
    trustedProxies: List[Any],
    reloaders: List[Callable[[], Deferred[bool]]],
) -> Any:
    """
    The reactor to build a listener on: when C{description} is a TLS
    listener's (C{ssl:}, C{mtls:}, behind C{haproxy:} or not), one that
    serves a L{ListenerCertificate}, whose reloader is added to
    C{reloaders}, so that new connections see the files read again;
    otherwise C{reactor}.
    """
    try:
        current = tlsCreatorOf(description, trustedProxies)
    except Exception:
        # Not one that can be probed (the real listener reports errors).
        return reactor
    if current is None:
        return reactor
    certificate = ListenerCertificate(description, trustedProxies, current)
    reloaders.append(certificate.reload)
    return certificate.listeningReactor(reactor)
