# -*- test-case-name: ppsp.test.test_adminapi -*-
"""
Addresses and networks the tracker refuses to serve.

A banned address gets MESSAGE FORBIDDEN (HTTP 403, Reason C{this address
is banned}) before its request is decoded
(L{TrackerResource<ppsp.tracker.resource.TrackerResource>}).  Bans come
from two places: the operator's ban-list file (C{twistd ppsp-tracker
--bans FILE}, read at start and again on SIGHUP, see
L{BanFile<ppsp.tracker.reload.BanFile>}) and the admin API (C{POST
/bans}), and each may last for good or for a number of seconds.

The file holds one address or CIDR network a line, optionally followed by
the seconds the ban lasts (counted from when the file is read); blank
lines and what follows a C{#} are ignored::

    # abusive scanner, for good
    192.0.2.7
    198.51.100.0/24   3600
    2001:db8:bad::/48

An IPv4-mapped IPv6 address or network (C{::ffff:192.0.2.7}) is its IPv4
address or network, since that is how the tracker writes the address a
request came from.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple, Union

from twisted.internet.interfaces import IReactorTime

from ppsp.tracker.addresses import IPNetwork, canonicalAddress

__all__ = ["Bans", "Ban", "parseNetwork", "readBanFile", "MAX_BANS"]

#: The most bans one tracker holds (file and admin API together).
MAX_BANS = 100_000

#: When a ban ends: a clock time, or L{None} for never.
_Until = Optional[float]

_MISSING = object()


@dataclass(frozen=True)
class Ban:
    """
    One ban in force.

    @ivar network: the banned network (a single address is a C{/32} or a
        C{/128}).
    @ivar until: when the ban ends (clock seconds), or L{None} for never.
    @ivar source: C{"file"} (the ban-list file) or C{"api"} (the admin
        API or L{Bans.ban}).
    """

    network: IPNetwork
    until: Optional[float]
    source: str


def parseNetwork(text: str) -> IPNetwork:
    """
    The network C{text} names: an IP address (a one-address network) or a
    network in CIDR notation, whose host bits are ignored
    (C{192.0.2.7/24} is C{192.0.2.0/24}); an IPv4-mapped IPv6 address or
    network is its IPv4 one.

    @raise ValueError: C{text} names neither.
    """
    try:
        network: IPNetwork = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or a CIDR network") from None
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((int(mapped), network.prefixlen - 96))
    return network


def readBanFile(path: str) -> List[Tuple[IPNetwork, Optional[float]]]:
    """
    Read a ban-list file (see the module's documentation).

    @return: each network with the seconds its ban lasts (L{None}: for
        good), in the file's order.
    @raise OSError: the file cannot be read.
    @raise ValueError: a line is not an address or a network, optionally
        followed by a positive number of seconds; the message names the
        file and the line.
    """
    with open(path, encoding="utf-8-sig") as f:
        lines = f.read().split("\n")
    entries: List[Tuple[IPNetwork, Optional[float]]] = []
    for number, line in enumerate(lines, 1):
        words = line.partition("#")[0].split()
        if not words:
            continue
        if len(words) > 2:
            raise ValueError(f"{path}:{number}: give an address or a CIDR network, then optionally seconds")
        try:
            network = parseNetwork(words[0])
            seconds = _seconds(words[1]) if len(words) == 2 else None
        except ValueError as e:
            raise ValueError(f"{path}:{number}: {e}") from None
        entries.append((network, seconds))
    if len(entries) > MAX_BANS:
        raise ValueError(f"{path}: more than {MAX_BANS} bans")
    return entries


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"{text!r} is not a positive number of seconds")
    return seconds


class Bans:
    """
    The banned addresses and networks of one tracker.

    L{banned} runs for every request, before it is decoded: with no ban it
    is one attribute test; otherwise a dictionary lookup of the address,
    and when networks are banned, one lookup per banned prefix length (of
    the address's IP version) of the address's integer shifted to that
    length.  A ban that has run out is dropped when it is next looked at
    (and by every change).

    @param clock: the source of time.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self.clock = clock
        self._api: Dict[IPNetwork, _Until] = {}
        self._file: Dict[IPNetwork, _Until] = {}
        # The merged index: whole addresses by their canonical text, and
        # networks by (IP version, bits below the prefix), then by the
        # address's integer shifted by those bits.
        self._exact: Dict[str, _Until] = {}
        self._prefixes: Dict[Tuple[int, int], Dict[int, _Until]] = {}
        self._any = False

    @classmethod
    def fromFile(cls, path: str, clock: IReactorTime) -> "Bans":
        """
        The bans of a ban-list file (L{readBanFile}), as file bans.

        @raise OSError: the file cannot be read.
        @raise ValueError: it holds a bad line.
        """
        bans = cls(clock)
        bans.replace(readBanFile(path))
        return bans

    # The hot path -------------------------------------------------------------

    def banned(self, ip: str) -> bool:
        """
        Whether requests from C{ip} are refused.

        @param ip: the address in canonical text, as
            L{canonicalAddress<ppsp.tracker.addresses.canonicalAddress>}
            writes it (an IPv4-mapped address as IPv4), which is how the
            tracker's resource gives it.
        """
        if not self._any:
            return False
        until = self._exact.get(ip, _MISSING)
        if until is not _MISSING and self._current(until):  # type: ignore[arg-type]
            return True
        if not self._prefixes:
            return False
        address = canonicalAddress(ip)
        if address is None:
            return False
        value = int(address)
        version = address.version
        for (v, shift), table in self._prefixes.items():
            if v == version:
                until = table.get(value >> shift, _MISSING)
                if until is not _MISSING and self._current(until):  # type: ignore[arg-type]
                    return True
        return False

    def _current(self, until: _Until) -> bool:
        """
        Whether a ban found in the index still holds; when it has run out,
        drop every ban that has (the index is rebuilt).
        """
        if until is None or until > self.clock.seconds():
            return True
        self._rebuild()
        return False

    # Changes ------------------------------------------------------------------

    def ban(self, network: Union[str, IPNetwork], seconds: Optional[float] = None) -> Ban:
        """
        Ban an address or a network (an admin's ban: it stays when the
        ban-list file is read again).  A ban of a network already banned
        this way replaces it.

        @param network: an address or a CIDR network (L{parseNetwork}).
        @param seconds: how long the ban lasts; L{None} for good.
        @return: the ban made.
        @raise ValueError: C{network} is not an address or a network,
            C{seconds} is not a positive finite number, or the tracker
            already holds L{MAX_BANS} bans.
        """
        parsed = parseNetwork(network) if isinstance(network, str) else network
        if seconds is not None and not (seconds > 0 and math.isfinite(seconds)):
            raise ValueError("seconds must be a positive number")
        if parsed not in self._api and len(self._api) + len(self._file) >= MAX_BANS:
            raise ValueError(f"the tracker already holds {MAX_BANS} bans")
        until = None if seconds is None else self.clock.seconds() + seconds
        self._api[parsed] = until
        self._rebuild()
        return Ban(parsed, until, "api")

    def lift(self, network: Union[str, IPNetwork]) -> bool:
        """
        Lift the ban of exactly this address or network, whichever its
        source (a ban from the file comes back when the file is read
        again, if it still lists it).

        @return: whether it was banned.
        @raise ValueError: C{network} is not an address or a network.
        """
        parsed = parseNetwork(network) if isinstance(network, str) else network
        now = self.clock.seconds()
        found = False
        for bans in (self._api, self._file):
            if parsed in bans:
                until = bans.pop(parsed)
                found = found or until is None or until > now
        self._rebuild()
        return found

    def replace(self, entries: Iterable[Tuple[Union[str, IPNetwork], Optional[float]]]) -> None:
        """
        Replace the file bans (the ban-list file read again); bans made
        through L{ban} stay.

        @param entries: each address or network with the seconds its ban
            lasts from now (L{None}: for good).
        @raise ValueError: an entry is not an address or a network (then
            nothing changes).
        """
        now = self.clock.seconds()
        bans: Dict[IPNetwork, _Until] = {}
        for network, seconds in entries:
            parsed = parseNetwork(network) if isinstance(network, str) else network
            bans[parsed] = None if seconds is None else now + seconds
        self._file = bans
        self._rebuild()

    def entries(self) -> List[Ban]:
        """
        Every ban in force, by IP version then network; a network banned
        both by the file and through the API is listed twice.
        """
        self._rebuild()
        bans = [Ban(n, u, "file") for n, u in self._file.items()]
        bans += [Ban(n, u, "api") for n, u in self._api.items()]
        bans.sort(key=lambda b: (b.network.version, b.network, b.source))
        return bans

    def __len__(self) -> int:
        """
        The number of bans held (file and API; some may have run out).
        """
        return len(self._file) + len(self._api)

    def _rebuild(self) -> None:
        """
        Drop the bans that have run out and build the index again from
        both sources (O(bans); only on a change).
        """
        now = self.clock.seconds()
        for bans in (self._file, self._api):
            for network in [n for n, u in bans.items() if u is not None and u <= now]:
                del bans[network]
        exact: Dict[str, _Until] = {}
        prefixes: Dict[Tuple[int, int], Dict[int, _Until]] = {}
        for bans in (self._file, self._api):
            for network, until in bans.items():
                if network.prefixlen == network.max_prefixlen:
                    key = str(network.network_address)
                    exact[key] = _longer(exact.get(key, _MISSING), until)
                else:
                    shift = network.max_prefixlen - network.prefixlen
                    table = prefixes.setdefault((network.version, shift), {})
                    value = int(network.network_address) >> shift
                    table[value] = _longer(table.get(value, _MISSING), until)
        self._exact = exact
        self._prefixes = prefixes
        self._any = bool(exact or prefixes)


def _longer(old: object, new: _Until) -> _Until:
    """
    The later end of two bans of one network (L{None}, never, is the
    latest).
    """
    if old is _MISSING:
        return new
    if old is None or new is None:
        return None
    return max(old, new)  # type: ignore[call-overload, no-any-return]
