# -*- test-case-name: ppsp.test.test_transport -*-
"""
How the tracker listens: the server endpoint an endpoint description
names, with the transport-level defences a tracker on the open Internet
needs.

  - A C{haproxy:} listener reads the PROXY protocol header (which names
    the client's address) only from trusted proxies: a connection whose
    real TCP source is anything else is closed as soon as it is accepted,
    before a byte of it is read, so that no client can choose the address
    the tracker observes for it.  Without a list of trusted proxies, only
    loopback addresses are trusted.  A C{haproxy:unix:} listener trusts
    whoever may open its socket (the socket file's permissions decide).
  - A listen backlog of L{DEFAULT_BACKLOG} (1,024) for the endpoint types
    that take one (C{tcp}, C{tcp6}, C{ssl}, C{unix}, C{mtls}, and the inner
    endpoint of C{haproxy}), unless the description gives C{backlog=}:
    Twisted's default of 50 makes clients wait (a SYN retransmission,
    about a second) as soon as more than 50 connect at once.

L{defaultMaxConnections} gives the default cap on open connections (see
L{TrackerSite<ppsp.tracker.resource.TrackerSite>}) from the process's
limit of open files.

C{twistd ppsp-tracker} listens through L{listeningEndpoint}; an embedder
can call it in place of
L{serverFromString<twisted.internet.endpoints.serverFromString>}.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IAddress,
    IListeningPort,
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    IStreamServerEndpoint,
)
from twisted.internet.protocol import Factory
from twisted.logger import Logger, LogLevel
from twisted.protocols.haproxy import proxyEndpoint
from zope.interface import implementer

from ppsp._ratelimit import RateLimitedLog
from ppsp.tracker.addresses import IPNetwork, canonicalAddress, inNetworks

__all__ = [
    "DEFAULT_BACKLOG",
    "BACKLOG_TYPES",
    "LOOPBACK",
    "listeningEndpoint",
    "splitDescription",
    "withBacklog",
    "TrustedSourceEndpoint",
    "defaultMaxConnections",
    "openFileLimit",
]

_Network = IPNetwork

#: The listen backlog the tracker asks for when the description gives none.
DEFAULT_BACKLOG = 1024

#: The endpoint types whose descriptions take C{backlog=}.
BACKLOG_TYPES = frozenset({"tcp", "tcp6", "ssl", "unix", "mtls"})

#: The proxies a C{haproxy:} listener trusts when none are named.
LOOPBACK: Tuple[_Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)

_HAPROXY = "haproxy"


def _split(description: str) -> List[Tuple[str, str]]:
    """
    The parameters of an endpoint description, each as its raw text and its
    unescaped text, split where Twisted's parser splits: at a C{:} that no
    backslash escapes.
    """
    parts: List[Tuple[str, str]] = []
    raw: List[str] = []
    text: List[str] = []
    characters = iter(description)
    for c in characters:
        if c == ":":
            parts.append(("".join(raw), "".join(text)))
            raw, text = [], []
        elif c == "\\":
            escaped = next(characters, "")
            raw.append(c + escaped)
            text.append(escaped)
        else:
            raw.append(c)
            text.append(c)
    parts.append(("".join(raw), "".join(text)))
    return parts


def splitDescription(description: str) -> Tuple[str, List[str], Dict[str, str]]:
    """
    An endpoint description's type, positional parameters and keyword
    parameters, unescaped, split as Twisted's parser splits them.

        >>> splitDescription("tcp:7001:interface=127.0.0.1")
        ('tcp', ['7001'], {'interface': '127.0.0.1'})
    """
    parts = [text for _, text in _split(description)]
    positional: List[str] = []
    keywords: Dict[str, str] = {}
    for text in parts[1:]:
        name, equals, value = text.partition("=")
        if equals:
            keywords[name] = value
        else:
            positional.append(text)
    return parts[0], positional, keywords


def withBacklog(description: str, backlog: int = DEFAULT_BACKLOG) -> str:
    """
    C{description} with C{:backlog=BACKLOG} added when its type takes a
    backlog (L{BACKLOG_TYPES}) and it gives none; otherwise unchanged.

        >>> withBacklog("tcp:7000:interface=127.0.0.1")
        'tcp:7000:interface=127.0.0.1:backlog=1024'
        >>> withBacklog("tcp:7000:backlog=64")
        'tcp:7000:backlog=64'
    """
    parts = _split(description)
    if parts[0][1] not in BACKLOG_TYPES:
        return description
    if any(text.partition("=")[0] == "backlog" for _, text in parts[1:]):
        return description
    return f"{description}:backlog={backlog}"


def listeningEndpoint(
    reactor: Any,
    description: str,
    trustedProxies: Sequence[Union[str, _Network]] = (),
    backlog: int = DEFAULT_BACKLOG,
) -> IStreamServerEndpoint:
    """
    The server endpoint to listen with for an endpoint description, as
    L{serverFromString} builds it, with a listen backlog of C{backlog} when
    the description gives none (L{withBacklog}), and, for C{haproxy:REST},
    the PROXY protocol read only from C{trustedProxies} (loopback when
    empty): a connection from any other address is closed at once.

    @param reactor: the reactor to listen with (and to take the time from
        for the rate-limited log line about refused connections).
    @param description: the endpoint description, e.g. C{tcp:7000} or
        C{haproxy:tcp:7000:interface=127.0.0.1}.
    @param trustedProxies: networks (CIDR text or L{ipaddress} networks)
        that may send a PROXY header.
    @param backlog: the listen backlog to add.
    @raise ValueError: the description does not parse (and whatever else
        L{serverFromString} raises for it).
    """
    parts = _split(description)
    if parts[0][1] != _HAPROXY:
        return serverFromString(reactor, withBacklog(description, backlog))  # type: ignore[no-any-return]
    if len(parts) < 2:
        raise ValueError(f"{description!r}: give the endpoint to wrap, as in haproxy:tcp:7000")
    inner = description[len(parts[0][0]) + 1 :]
    trusted = tuple(
        ipaddress.ip_network(n, strict=False) if isinstance(n, str) else n for n in trustedProxies
    )
    return proxyEndpoint(
        TrustedSourceEndpoint(
            listeningEndpoint(reactor, inner, trusted, backlog), trusted or LOOPBACK, reactor
        )
    )


@implementer(IStreamServerEndpoint)
class TrustedSourceEndpoint:
    """
    An endpoint whose connections from sources outside C{trusted} are
    closed as soon as they are accepted, before their protocol is built: no
    byte of theirs is read.  An address that is not an IP address (a UNIX
    socket's peer) is trusted.  At most one line a second is logged about
    refused connections.

    @param endpoint: the endpoint to listen with.
    @param trusted: the networks whose connections are served.
    @param clock: the time source of the rate-limited log line.
    """

    log = Logger()

    def __init__(
        self, endpoint: IStreamServerEndpoint, trusted: Sequence[_Network], clock: IReactorTime
    ) -> None:
        self._endpoint = endpoint
        self._trusted = tuple(trusted)
        self._refusals = RateLimitedLog(self.log, clock)

    def trusts(self, address: IAddress) -> bool:
        """
        Whether a connection from C{address} may be served.
        """
        host = getattr(address, "host", None)
        if not host:
            return True
        ip = canonicalAddress(host)
        return ip is not None and inNetworks(ip, self._trusted)

    def listen(self, protocolFactory: IProtocolFactory) -> "Deferred[IListeningPort]":
        """
        Listen with C{protocolFactory} behind the source check.
        """
        return self._endpoint.listen(_TrustedSourceFactory(self, protocolFactory))

    def refused(self, address: IAddress) -> None:
        """
        Log (at most once a second) that a connection from C{address} was
        refused.
        """
        self._refusals.emit(
            LogLevel.warn,
            "closed a connection from {peer}: not a trusted proxy (--trusted-proxy)",
            peer=getattr(address, "host", address),
        )


class _TrustedSourceFactory(Factory):
    """
    The factory a L{TrustedSourceEndpoint} listens with: it builds no
    protocol (so the port closes the socket) for an untrusted source, and
    otherwise the wrapped factory's.
    """

    def __init__(self, endpoint: TrustedSourceEndpoint, wrapped: IProtocolFactory) -> None:
        self._endpoint = endpoint
        self._wrapped = wrapped

    def logPrefix(self) -> str:
        """
        The wrapped factory's log prefix.
        """
        prefix = getattr(self._wrapped, "logPrefix", None)
        return prefix() if prefix is not None else self._wrapped.__class__.__name__

    def doStart(self) -> None:
        """
        Start the wrapped factory.
        """
        self._wrapped.doStart()

    def doStop(self) -> None:
        """
        Stop the wrapped factory.
        """
        self._wrapped.doStop()

    def buildProtocol(self, addr: IAddress) -> Optional[IProtocol]:  # type: ignore[override]
        """
        No protocol for an untrusted source; else the wrapped factory's,
        or none when that is a wrapper around no protocol.
        """
        if not self._endpoint.trusts(addr):
            self._endpoint.refused(addr)
            return None
        protocol = self._wrapped.buildProtocol(addr)
        if getattr(protocol, "wrappedProtocol", protocol) is None:
            return None
        return protocol


#: The smallest reserve of file descriptors the default cap leaves.
MIN_RESERVE = 128


def defaultMaxConnections(limit: Optional[int]) -> int:
    """
    The default cap on the connections the tracker keeps open, for a
    process limit of C{limit} open files: the limit minus a reserve of an
    eighth of it, at least L{MIN_RESERVE} but at most half the limit, for
    everything else the process opens (listening sockets, the admin
    interface, STAT_QUERY connections, log files).  0 (no cap) when there
    is no limit.

        >>> defaultMaxConnections(1024)
        896
        >>> defaultMaxConnections(65536)
        57344

    @param limit: the soft limit of open files (L{openFileLimit}), or
        L{None} for none.
    """
    if limit is None or limit <= 0:
        return 0
    reserve = min(max(MIN_RESERVE, limit // 8), limit // 2)
    return max(1, limit - reserve)


def openFileLimit() -> Optional[int]:
    """
    The soft limit of open files of this process (C{RLIMIT_NOFILE}), or
    L{None} when there is none or the platform cannot tell.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover (Windows)
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return None
    return soft
