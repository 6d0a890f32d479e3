# -*- test-case-name: ppsp.test.test_tap -*-
"""
C{twistd ppsp-tracker}: the command-line options and the service they
describe.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any, Callable, Dict, List, Optional

from twisted.application.service import MultiService
from twisted.application.internet import StreamServerEndpointService
from twisted.cred.checkers import ICredentialsChecker
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor
from twisted.python import usage

from ppsp._options import ServiceOptions
from ppsp.codec._fields import validIdentifier
from ppsp.interfaces import IPeerSelector
from ppsp.selection import availableSelectors, makeSelector
from ppsp.tracker.admin import AdminResource, adminHostName
from ppsp.tracker.auth import (
    OpenPeerChecker,
    Revocations,
    TokenPeerChecker,
    X509PeerChecker,
    readSecret,
)
from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker.listening import defaultMaxConnections, listeningEndpoint, openFileLimit
from ppsp.tracker.overload import LoadShedder
from ppsp.tracker.reload import ReloadService, RevocationFile
from ppsp.tracker.resource import TrackerResource, TrackerSite
from ppsp.tracker.service import AnnouncingEndpoint, TrackerService
from ppsp.tracker.statquery import StatQuerier, StatQueryService, makeStatQueryClient
from ppsp.tracker.throttle import AddressThrottle

__all__ = ["Options", "makeService", "readSwarmsFile", "formatSelectors", "authOption"]


def _positiveInt(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _nonNegativeInt(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must not be negative")
    return value


_positiveInt.coerceDoc = "A whole number of at least 1."  # type: ignore[attr-defined]
_nonNegativeInt.coerceDoc = "A whole number, 0 or more."  # type: ignore[attr-defined]

_SIZE_UNITS = {"": 1, "B": 1, "K": 2**10, "KIB": 2**10, "M": 2**20, "MIB": 2**20, "G": 2**30, "GIB": 2**30}


def _byteSize(text: str) -> int:
    """
    A number of bytes, optionally with a binary unit: C{16M}, C{512KiB},
    C{16777216}.
    """
    number = text.strip().upper()
    digits = number.rstrip("KMGIB")
    unit = _SIZE_UNITS.get(number[len(digits):].strip())
    if unit is None or not digits.strip().isdigit():
        raise ValueError("must be a number of bytes, optionally followed by K, M or G")
    return int(digits) * unit


_byteSize.coerceDoc = "Bytes, optionally with K, M or G (binary units); 0 for no budget."  # type: ignore[attr-defined]


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


#: What separates a SwarmID from its strategy in a swarms file line.
SELECTOR_MARK = " selector="

#: The white space around a swarms file line and its SwarmID (not the
#: Unicode separators, which make the SwarmID invalid).
_BLANK = " \t"


def readSwarmsFile(path: str) -> Dict[str, Optional[IPeerSelector]]:
    """
    Read a provisioned-swarms file: one SwarmID a line, optionally followed
    by C{ selector=NAME[:ARGS]} to give that swarm its own strategy; blank
    lines and lines starting with C{#} are skipped; spaces and tabs around
    the ID are not part of it.  A SwarmID must be valid as in a message
    (L{validIdentifier}).

    @return: each SwarmID with its own strategy, or L{None} for the
        tracker's.
    @raise usage.UsageError: the file cannot be read, holds an invalid
        SwarmID, or names a strategy that is unknown or refuses its
        arguments.
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
        text = line.strip(_BLANK)
        if not text or text.startswith("#"):
            continue
        swarmID, mark, spec = text.rpartition(SELECTOR_MARK)
        if not mark:
            swarmID, spec = text, ""
        swarmID = swarmID.strip(_BLANK)
        if not validIdentifier(swarmID, 128):
            raise usage.UsageError(
                f"{path}:{number}: not a valid SwarmID (1 to 128 printable characters)"
            )
        swarms[swarmID] = selectorOption(spec.strip(), f"{path}:{number}: ") if mark else None
    return swarms


class Options(ServiceOptions):
    """
    The options of C{twistd ppsp-tracker}.
    """

    synopsis = "[options]"
    longdesc = (
        "Run a PPSP tracker (draft-gu-ppsp-tracker-protocol XML profile) "
        "that serves the tracker protocol over HTTP at every path."
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
        ["swarms", None, None, "File of provisioned SwarmIDs, one a line, each optionally followed by ' selector=NAME[:ARGS]': only these swarms exist."],
        ["selector", None, "random", "Peer-selection strategy, NAME[:ARGS]."],
        ["admin", None, None, "Endpoint description of the admin interface (JSON views, STAT_QUERY), e.g. tcp:7001:interface=127.0.0.1; off by default. It has no authentication: bind it to a loopback interface."],
        ["stat-query-interval", None, 0, "Seconds between two STAT_QUERYs to each connected peer with a StatPort; 0 (the default) turns polling off.", _nonNegativeInt],
        ["stat-query-timeout", None, 5, "Seconds a STAT_QUERY may take, answer included.", _positiveInt],
        ["auth", None, "open", "Who may CONNECT: open, token:SECRETFILE (credentials from python -m ppsp.auth issue) or x509:CAFILE (certificates the CA issued; needs a listener that asks for client certificates)."],
        ["revocations", None, None, "File of revoked PeerIDs and credentials (peer:PEERID, sha256:FINGERPRINT or a ppsp1. credential, one a line), read again on SIGHUP; their sessions end at once."],
        ["request-timeout", None, 10, "Seconds a request may take to arrive, headers and body; 0 for no limit.", _nonNegativeInt],
        ["idle-timeout", None, 60, "Seconds an idle connection is kept open.", _positiveInt],
        ["max-in-flight", None, 1000, "Requests answered asynchronously at once beyond which new ones get TEMPORARILY OVERLOADED; 0 for no limit.", _nonNegativeInt],
        ["max-lag", None, 0.05, "Seconds of reactor lag (two long turns in a row, and the current turn past it) beyond which requests get TEMPORARILY OVERLOADED; 0 turns lag shedding off.", float],
        ["max-connections", None, None, "The most connections open at once on --listen; more are closed as soon as they are accepted. 0 for no cap. Default: the process's limit of open files minus a reserve of an eighth of it (at least 128, at most half).", _nonNegativeInt],
        ["max-sessions-per-address", None, 256, "Sessions registered at once from one address (an IPv4 address, an IPv6 /64); more CONNECTs get MESSAGE FORBIDDEN. 0 for no cap.", _nonNegativeInt],
        ["max-sessions", None, 1_000_000, "Sessions registered at once in all; more CONNECTs get TEMPORARILY OVERLOADED. 0 for no cap.", _nonNegativeInt],
        ["max-peer-memory", None, 8 * 2**20, "Bytes one peer's session may make the tracker hold (record, memberships, chunk ranges and statistics across its swarms); requests that need more get MESSAGE FORBIDDEN. 0 for no budget.", _byteSize],
        ["max-address-memory", None, 16 * 2**20, "Bytes all the sessions of one address (an IPv4 address, an IPv6 /64) may make the tracker hold together; requests that need more get MESSAGE FORBIDDEN. 0 for no budget.", _byteSize],
    ]
    optFlags: List[List[Any]] = [
        ["trust-announced-addresses", None, "List public addresses that peers announce even when they differ from the address observed."],
        ["access-log", None, "Log one line for every HTTP request."],
        ["allow-low-stat-ports", None, "Accept a StatPort below 1024 (STAT_QUERY is then sent to well-known ports)."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["trusted-proxies"] = []
        self["admin-hosts"] = []

    def opt_admin_host(self, value: str) -> None:
        """
        Another name (or IP address) by which the admin interface may be
        reached, e.g. a reverse proxy's; requests naming another host get
        421. Its own address (and localhost on a loopback one) needs none.
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

    def postOptions(self) -> None:
        """
        Check every value; any mistake is a usage error (twistd exits 64).
        """
        try:
            listeningEndpoint(MemoryReactor(), self["listen"], self["trusted-proxies"])
        except Exception as e:
            raise usage.UsageError(f"--listen {self['listen']!r} is not a valid endpoint: {e}") from None
        if self["admin"] is not None:
            try:
                listeningEndpoint(MemoryReactor(), self["admin"], self["trusted-proxies"])
            except Exception as e:
                raise usage.UsageError(f"--admin {self['admin']!r} is not a valid endpoint: {e}") from None
        elif self["admin-hosts"]:
            raise usage.UsageError("--admin-host names the admin interface: give --admin too")
        provisioned = None
        self["swarmSelectors"] = {}
        if self["swarms"] is not None:
            swarms = readSwarmsFile(self["swarms"])
            provisioned = frozenset(swarms)
            self["swarmSelectors"] = {
                swarmID: selector for swarmID, selector in swarms.items() if selector is not None
            }
        self["selectorObject"] = selectorOption(self["selector"], "--selector: ")
        self["checkerFactory"] = authOption(self["auth"])
        self["revocationsObject"] = Revocations()
        if self["revocations"] is not None:
            try:
                self["revocationsObject"] = Revocations.fromFile(self["revocations"])
            except (OSError, ValueError) as e:
                raise usage.UsageError(f"--revocations: {e}") from None
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
                minStatPort=1 if self["allow-low-stat-ports"] else 1024,
                maxSessionsPerAddress=self["max-sessions-per-address"],
                maxSessions=self["max-sessions"],
                maxPeerMemory=self["max-peer-memory"],
                maxAddressMemory=self["max-address-memory"],
            )
        except ValueError as e:
            raise usage.UsageError(_optionText(str(e))) from None


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


def makeService(options: Options, reactor: Optional[Any] = None) -> MultiService:
    """
    Build the tracker service that C{options} describe: the HTTP listener,
    the timers, and when asked for, the admin listener and STAT_QUERY
    polling (with their HTTP client, whose connection pool is closed when
    the service stops).

    The result has the attributes C{tracker} (the L{Tracker}) and
    C{statQuerier} (the L{StatQuerier}, or L{None} when neither C{--admin}
    nor C{--stat-query-interval} is given).

    @param reactor: the reactor to listen with and to take time from; the
        global reactor when L{None}.
    """
    if reactor is None:
        from twisted.internet import reactor as _reactor

        reactor = _reactor
    config: TrackerConfig = options["config"]
    tracker = Tracker(
        reactor,
        config,
        selector=options["selectorObject"],
        swarmSelectors=options["swarmSelectors"],
        checker=options["checkerFactory"](reactor),
        revocations=options["revocationsObject"],
    )
    shedder = LoadShedder(
        reactor, maxInFlight=options["max-in-flight"], maxLag=options["max-lag"]
    )
    resource = TrackerResource(
        tracker,
        maxBody=options["max-body"],
        trustedProxies=options["trusted-proxies"],
        shedder=shedder,
        throttle=AddressThrottle(reactor, config.rateLimit, config.rateBurst),
    )
    site = TrackerSite(
        resource,
        maxBody=options["max-body"],
        accessLog=bool(options["access-log"]),
        requestTimeout=options["request-timeout"] or None,
        shedder=shedder,
        timeout=options["idle-timeout"],
        maxConnections=options["max-connections"] or None,
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
        "allow-low-stat-ports": bool(options["allow-low-stat-ports"]),
        "max-sessions-per-address": config.maxSessionsPerAddress or "none",
        "max-sessions": config.maxSessions or "none",
        "max-peer-memory": config.maxPeerMemory or "none",
        "max-address-memory": config.maxAddressMemory or "none",
    }
    endpoint = AnnouncingEndpoint(
        listeningEndpoint(reactor, options["listen"], options["trusted-proxies"]),
        options["listen"],
        settings,
        onListening=lambda host: _ownPort(tracker, host),
    )
    parent = MultiService()
    listener = StreamServerEndpointService(endpoint, site)
    # As strports.service does: a port that cannot be bound stops twistd
    # at start-up with the error, instead of logging it later.
    listener._raiseSynchronously = True
    listener.setServiceParent(parent)
    TrackerService(tracker).setServiceParent(parent)
    if options["revocations"] is not None:
        revocationFile = RevocationFile(
            tracker, options["revocations"], options["revocationsObject"]
        )
        ReloadService(reactor, [revocationFile.reload]).setServiceParent(parent)
    shedder.setServiceParent(parent)
    querier: Optional[StatQuerier] = None
    interval = options["stat-query-interval"]
    if options["admin"] is not None or interval:
        timeout = float(options["stat-query-timeout"])
        http, pool = makeStatQueryClient(reactor, connectTimeout=timeout)
        querier = StatQuerier(tracker, http, reactor, timeout=timeout)
        StatQueryService(querier, float(interval) if interval else None, pool=pool).setServiceParent(parent)
    if options["admin"] is not None:
        adminSite = TrackerSite(
            AdminResource(tracker, querier, hosts=options["admin-hosts"]),
            maxBody=4096,
            accessLog=bool(options["access-log"]),
            maxConnections=ADMIN_MAX_CONNECTIONS,
            reactor=reactor,
        )
        adminEndpoint = AnnouncingEndpoint(
            listeningEndpoint(reactor, options["admin"], options["trusted-proxies"]),
            options["admin"],
            {},
            logFormat=ADMIN_FORMAT,
            warnUnlessLoopback=True,
            onListening=lambda host: _ownPort(tracker, host),
        )
        admin = StreamServerEndpointService(adminEndpoint, adminSite)
        admin._raiseSynchronously = True
        admin.setServiceParent(parent)
    parent.tracker = tracker  # type: ignore[attr-defined]
    parent.statQuerier = querier  # type: ignore[attr-defined]
    return parent
