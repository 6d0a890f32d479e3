# -*- test-case-name: ppsp.test.test_core -*-
"""
The registry of statistics properties (PROTOCOL.md section 5): how each
value is validated, where it is kept and how it constrains a FIND.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Union

__all__ = ["Scope", "Compare", "Property", "PROPERTIES", "lookup", "parseValue"]

StatValue = Union[int, str]

#: The largest numeric statistics value (an unsigned 64-bit counter).
MAX_STAT_INT = 2**64 - 1


class Scope(enum.Enum):
    """
    Where a property's latest value is kept.
    """

    PEER = "peer"
    SWARM = "swarm"


class Compare(enum.Enum):
    """
    How a property constrains the peers a FIND returns.
    """

    AT_LEAST = "at least"
    AT_MOST = "at most"
    EQUAL = "equal"


def _integer(text: str) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        raise ValueError("not a non-negative decimal integer")
    value = int(text)
    if value > MAX_STAT_INT:
        raise ValueError("larger than 2**64-1")
    return value


def _oneOf(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().upper()
        if value not in choices:
            raise ValueError("not one of " + ", ".join(choices))
        return value

    return parse


@dataclass(frozen=True)
class Property:
    """
    One known statistics property.

    @ivar name: its canonical name.
    @ivar parse: turns the text of a value into its typed value, or raises
        L{ValueError}.
    @ivar scope: where the value is kept.
    @ivar compare: how it constrains a FIND, or L{None} when it does not.
    @ivar trackerComputed: the tracker computes it; reported values are
        ignored.
    """

    name: str
    parse: Callable[[str], StatValue]
    scope: Scope
    compare: Optional[Compare]
    trackerComputed: bool = False


#: The statistics properties the tracker knows, by lower-case name
#: (L{lookup} finds one by any case).
PROPERTIES: Dict[str, Property] = {
    p.name.lower(): p
    for p in (
        Property("UploadedBytes", _integer, Scope.SWARM, None),
        Property("DownloadedBytes", _integer, Scope.SWARM, None),
        Property("UploadBandwidth", _integer, Scope.PEER, Compare.AT_LEAST),
        Property("AvailBandwidth", _integer, Scope.PEER, Compare.AT_LEAST),
        Property("ConcurrentLinks", _integer, Scope.PEER, Compare.AT_MOST),
        Property("OnlineTime", _integer, Scope.PEER, Compare.AT_LEAST, True),
        Property("AbilityNAT", _oneOf("NO_NAT", "STUN", "TURN"), Scope.PEER, Compare.EQUAL),
        Property("PeerMode", _oneOf("SEED", "LIVESEED", "LEECH"), Scope.SWARM, Compare.EQUAL),
        Property("BufferLevel", _integer, Scope.SWARM, None),
        Property("PlaybackPosition", _integer, Scope.SWARM, None),
    )
}


def lookup(name: str) -> Optional[Property]:
    """
    The known property called C{name} (case-insensitively), or L{None}.
    """
    return PROPERTIES.get(name.lower())


def parseValue(name: str, text: str) -> StatValue:
    """
    Validate one value: a known property's typed value, or the text itself
    for another property.

    @raise ValueError: a known property's value is malformed.
    """
    prop = lookup(name)
    if prop is None:
        return text
    return prop.parse(text)
