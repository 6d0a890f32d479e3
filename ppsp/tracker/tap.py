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
from twisted.internet.endpoints import serverFromString
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor
from twisted.python import usage

from ppsp._options import ServiceOptions
from ppsp.codec._fields import validIdentifier
from ppsp.interfaces import IPeerSelector
from ppsp.selection import availableSelectors, makeSelector
from ppsp.tracker.admin import AdminResource
from ppsp.tracker.auth import OpenPeerChecker, TokenPeerChecker, X509PeerChecker, readSecret
from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker.overload import LoadShedder
from ppsp.tracker.resource import TrackerResource, TrackerSite
from ppsp.tracker.service import AnnouncingEndpoint, TrackerService
from ppsp.tracker.statquery import StatQuerier, StatQueryService, makeStatQueryClient

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


def readSwarmsFile(path: str) -> Dict[str, Optional[IPeerSelector]]:
    """
    Read a provisioned-swarms file: one SwarmID a line, optionally followed
    by C{ selector=NAME[:ARGS]} to give that swarm its own strategy; blank
    lines and lines starting with C{#} are skipped; surrounding white space
    is not part of the ID.

    @return: each SwarmID with its own strategy, or L{None} for the
        tracker's.
    @raise usage.UsageError: the file cannot be read, holds an invalid
        SwarmID, or names a strategy that is unknown or refuses its
        arguments.
    """
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise usage.UsageError(f"cannot read the swarms file {path!r}: {e}") from None
    swarms: Dict[str, Optional[IPeerSelector]] = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        swarmID, mark, spec = text.rpartition(SELECTOR_MARK)
        if not mark:
            swarmID, spec = text, ""
        swarmID = swarmID.strip()
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
        ["request-timeout", None, 10, "Seconds a request may take to arrive, headers and body; 0 for no limit.", _nonNegativeInt],
        ["idle-timeout", None, 60, "Seconds an idle connection is kept open.", _positiveInt],
        ["max-in-flight", None, 1000, "Requests answered asynchronously at once beyond which new ones get TEMPORARILY OVERLOADED; 0 for no limit.", _nonNegativeInt],
        ["max-lag", None, 0.5, "Seconds the reactor may lag before new requests get TEMPORARILY OVERLOADED; 0 for no limit.", float],
    ]
    optFlags: List[List[Any]] = [
        ["trust-announced-addresses", None, "List public addresses that peers announce even when they differ from the address observed."],
        ["access-log", None, "Log one line for every HTTP request."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["trusted-proxies"] = []

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
            serverFromString(MemoryReactor(), self["listen"])
        except Exception as e:
            raise usage.UsageError(f"--listen {self['listen']!r} is not a valid endpoint: {e}") from None
        if self["admin"] is not None:
            try:
                serverFromString(MemoryReactor(), self["admin"])
            except Exception as e:
                raise usage.UsageError(f"--admin {self['admin']!r} is not a valid endpoint: {e}") from None
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
        if self["max-lag"] < 0:
            raise usage.UsageError("--max-lag must not be negative")
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
}


def _optionText(message: str) -> str:
    for field, option in _OPTION_NAMES.items():
        message = message.replace(field, option)
    return message


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
    )
    shedder = LoadShedder(
        reactor, maxInFlight=options["max-in-flight"], maxLag=options["max-lag"]
    )
    resource = TrackerResource(
        tracker,
        maxBody=options["max-body"],
        trustedProxies=options["trusted-proxies"],
        shedder=shedder,
    )
    site = TrackerSite(
        resource,
        maxBody=options["max-body"],
        accessLog=bool(options["access-log"]),
        requestTimeout=options["request-timeout"] or None,
        timeout=options["idle-timeout"],
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
    }
    endpoint = AnnouncingEndpoint(serverFromString(reactor, options["listen"]), options["listen"], settings)
    parent = MultiService()
    listener = StreamServerEndpointService(endpoint, site)
    # As strports.service does: a port that cannot be bound stops twistd
    # at start-up with the error, instead of logging it later.
    listener._raiseSynchronously = True
    listener.setServiceParent(parent)
    TrackerService(tracker).setServiceParent(parent)
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
            AdminResource(tracker, querier),
            maxBody=4096,
            accessLog=bool(options["access-log"]),
            reactor=reactor,
        )
        adminEndpoint = AnnouncingEndpoint(
            serverFromString(reactor, options["admin"]),
            options["admin"],
            {},
            logFormat=ADMIN_FORMAT,
            warnUnlessLoopback=True,
        )
        admin = StreamServerEndpointService(adminEndpoint, adminSite)
        admin._raiseSynchronously = True
        admin.setServiceParent(parent)
    parent.tracker = tracker  # type: ignore[attr-defined]
    parent.statQuerier = querier  # type: ignore[attr-defined]
    return parent
