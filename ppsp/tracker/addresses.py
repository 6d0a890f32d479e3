# -*- test-case-name: ppsp.test.test_core -*-
"""
Which of a peer's addresses another peer may see (PROTOCOL.md section 4,
FIND): private and loopback addresses stay inside their own range, and a
public address a peer merely claims is not handed out unless the operator
trusts announced addresses.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Iterable, Optional, Union

__all__ = ["addressScope", "addressKey", "canonicalAddress", "inNetworks", "IPAddress", "IPNetwork"]

#: An IPv4 or IPv6 address.
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

#: An IPv4 or IPv6 network.
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def canonicalAddress(text: str) -> Optional[IPAddress]:
    """
    The IP address C{text} names, or L{None} when it names none: white
    space around it and an IPv6 zone (C{%eth0}) are ignored, and an
    IPv4-mapped IPv6 address is its IPv4 address, so that one host is
    always written one way.
    """
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def inNetworks(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    """
    Whether C{address} is in one of C{networks} (of its own IP version).
    """
    return any(address.version == n.version and address in n for n in networks)

_SCOPES = [
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
]


@lru_cache(maxsize=65536)
def addressScope(ip: str) -> Optional[str]:
    """
    The private or loopback range that C{ip} belongs to, as the text of its
    network (C{'10.0.0.0/8'}, C{'127.0.0.0/8'}, C{'fc00::/7'} …), or
    L{None} for a public address.  Two addresses may see each other's
    private addresses only when their scopes are equal.  An IPv4-mapped
    IPv6 address has the scope of its IPv4 address.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "invalid"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for network in _SCOPES:
        if address.version == network.version and address in network:
            return str(network)
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "unusable"
    return None


@lru_cache(maxsize=65536)
def addressKey(ip: str) -> str:
    """
    The unit in which the tracker counts what one source address may hold
    or send (PROTOCOL.md section 6): an IPv4 address itself, and for IPv6
    the /64 network the address is in (one host usually holds a whole /64,
    so counting single IPv6 addresses would count nothing).  An
    IPv4-mapped IPv6 address counts as its IPv4 address; a text that is
    not an IP address is its own key.

        >>> addressKey("192.0.2.7")
        '192.0.2.7'
        >>> addressKey("2001:db8:1:2:3:4:5:6")
        '2001:db8:1:2::/64'
    """
    address = canonicalAddress(ip)
    if address is None:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)
