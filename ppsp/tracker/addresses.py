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
from typing import Optional

__all__ = ["addressScope"]

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
