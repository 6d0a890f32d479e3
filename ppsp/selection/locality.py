# -*- test-case-name: ppsp.test.test_strategies -*-
"""
The C{locality} strategy: peers of the requester's own network first,
and always a random share so that a swarm does not split into islands.

A peer's network comes from the address the tracker observed for it (the
requester's as well as each member's), never from an address a peer
announces:

  - by default, its IPv4 /24 or IPv6 /48 (C{prefix4}, C{prefix6});
  - with C{map=FILE}, the network of the longest prefix of the file that
    covers the address (for example its AS number); addresses the file
    does not cover fall back to their prefix.

The map file has one C{CIDR NETWORK} pair a line (C{203.0.113.0/24
AS64500}); blank lines and lines starting with C{#} are ignored.

Of a list of C{count} peers, C{random} (0.2 by default, rounded at random
so that the share holds on average) are drawn uniformly from the whole
swarm; the rest come from the requester's network first, and from the
whole swarm when the network has too few.

Cost: for FIND, the swarm keeps a partition of its members by network
(L{ISwarmView.sampleGroup}): built once per swarm in O(swarm size) the
first time this strategy serves it, then kept up to date at O(1) per
join and leave, about 90 bytes per member of the swarms it serves.  A
FIND then costs O(count) draws plus one cached address look-up per
candidate.  For FIND_CHUNK, it draws C{probe} times C{count} holders
from the chunk index and lists the local ones first: O(probe * count),
with no index of its own.

Arguments: C{locality:prefix4=24,prefix6=48,random=0.2,map=FILE,probe=4}.
"""

from __future__ import annotations

import ipaddress
import random as _random
from typing import Any, Dict, Hashable, List, Optional, Tuple

from zope.interface import implementer

from ppsp.interfaces import (
    IFindConstraints,
    IPeerSelector,
    IRequester,
    ISwarmMember,
    ISwarmView,
)
from ppsp.selection._common import extend, fill, parseArgs, positiveInt, share, stochasticRound

__all__ = ["LocalitySelector", "Networks", "readNetworkMap"]

#: How many addresses' networks L{Networks} remembers before it forgets
#: them all and starts again.
CACHE_SIZE = 65536


def _prefix(bits: int) -> Any:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError("not a whole number") from None
        if not 0 <= value <= bits:
            raise ValueError(f"must be from 0 to {bits}")
        return value

    return convert


def readNetworkMap(path: str) -> List[Tuple[Any, str]]:
    """
    Read a network map file: one C{CIDR NETWORK} a line.

    @return: (network, name) pairs, with L{ipaddress} networks.
    @raise ValueError: the file cannot be read, or a line is not valid
        (the message names the file and the line).
    """
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read the map {path!r}: {e}") from None
    entries = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{number}: expected 'CIDR NETWORK', got {text!r}")
        try:
            network = ipaddress.ip_network(parts[0], strict=False)
        except ValueError as e:
            raise ValueError(f"{path}:{number}: {e}") from None
        entries.append((network, parts[1]))
    return entries


class Networks:
    """
    The network of an IP address: the longest prefix of a map that covers
    it, else its IPv4 or IPv6 prefix of the configured length.  Results
    are cached (at most L{CACHE_SIZE} addresses).

    @param prefix4: the IPv4 prefix length of a network.
    @param prefix6: the IPv6 prefix length of a network.
    @param mapping: (network, name) pairs, as L{readNetworkMap} reads
        them.
    """

    def __init__(
        self,
        prefix4: int = 24,
        prefix6: int = 48,
        mapping: Optional[List[Tuple[Any, str]]] = None,
    ) -> None:
        self.prefix4 = prefix4
        self.prefix6 = prefix6
        # version -> [(prefix length, {network number: name})], longest first.
        tables: Dict[int, Dict[int, Dict[int, str]]] = {4: {}, 6: {}}
        for network, name in mapping or ():
            bits = network.max_prefixlen
            table = tables[network.version].setdefault(network.prefixlen, {})
            table[int(network.network_address) >> (bits - network.prefixlen)] = name
        self._tables = {
            version: sorted(table.items(), reverse=True) for version, table in tables.items()
        }
        self._cache: Dict[str, Hashable] = {}

    def __call__(self, ip: str) -> Hashable:
        """
        The network of C{ip}: the map's name for it (a L{str}), or a tuple
        naming its prefix; L{None} for a malformed address.
        """
        cache = self._cache
        network = cache.get(ip)
        if network is None:
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            network = cache[ip] = self._lookup(ip)
        return network

    def _lookup(self, ip: str) -> Hashable:
        try:
            address: Any = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        value = int(address)
        bits = address.max_prefixlen
        for length, table in self._tables[address.version]:
            name = table.get(value >> (bits - length))
            if name is not None:
                return name
        length = self.prefix4 if address.version == 4 else self.prefix6
        return (address.version, length, value >> (bits - length))


@implementer(IPeerSelector)
class LocalitySelector:
    """
    Peers of the requester's network first, with a random share.  See the
    module's documentation.

    @param networks: what network an address is in.
    @param randomShare: the share of the list drawn from the whole swarm.
    @param probe: for FIND_CHUNK, how many holders to draw per peer asked
        for.
    @param random: the random source (seeded in tests).
    """

    name = "locality"

    def __init__(
        self,
        networks: Optional[Networks] = None,
        randomShare: float = 0.2,
        probe: int = 4,
        random: Optional[_random.Random] = None,
    ) -> None:
        if not 0 <= randomShare <= 1:
            raise ValueError("locality: random must be between 0 and 1")
        if probe < 1:
            raise ValueError("locality: probe must be at least 1")
        self.networks = networks if networks is not None else Networks()
        self.randomShare = randomShare
        self.probe = probe
        self.random = random if random is not None else _random.Random()
        # One key function for the lifetime of the strategy, so that every
        # swarm keeps one partition for it.
        self._key = self.networkOf

    @classmethod
    def fromArgs(
        cls, argstring: str, random: Optional[_random.Random] = None
    ) -> "LocalitySelector":
        """
        Make the strategy from C{prefix4=N,prefix6=N,random=F,map=FILE,probe=N}.

        @raise ValueError: the arguments are not valid, or the map cannot
            be read.
        """
        args = parseArgs(
            "locality",
            argstring,
            {
                "prefix4": _prefix(32),
                "prefix6": _prefix(128),
                "random": share,
                "map": readNetworkMap,
                "probe": positiveInt,
            },
        )
        networks = Networks(args.get("prefix4", 24), args.get("prefix6", 48), args.get("map"))
        return cls(networks, args.get("random", 0.2), args.get("probe", 4), random)

    def networkOf(self, member: Any) -> Hashable:
        """
        The network of a member (or requester): that of its observed IP.
        """
        return self.networks(member.observedIP)

    def select(
        self,
        swarm: ISwarmView,
        requester: IRequester,
        count: int,
        constraints: IFindConstraints,
    ) -> List[ISwarmMember]:
        """
        The local peers first, then the random share (and whatever the
        network could not fill) from the whole swarm.
        """
        accepts = constraints.accepts
        chunkID = constraints.chunkID
        chosen: Dict[str, ISwarmMember] = {}

        def fresh(m: ISwarmMember) -> bool:
            return m.peerID not in chosen and bool(accepts(m))

        local = count - stochasticRound(count * self.randomShare, self.random)
        if local > 0:
            network = self.networkOf(requester)
            if chunkID is None:
                extend(chosen, swarm.sampleGroup(self._key, network, local, accepts), local)
            else:
                key = self._key
                pool = swarm.sampleHolders(chunkID, self.probe * count, accepts)
                extend(chosen, (m for m in pool if key(m) == network), local)
        extend(chosen, fill(swarm, chunkID, count - len(chosen), fresh), count)
        return list(chosen.values())
