# -*- test-case-name: ppsp.test.test_codec -*-
"""
The protocol's identifier rule, for identifiers that do not come in a
message: the PeerIDs, SwarmIDs and statistics property names an operator
gives on a command line, in the swarms file or to the admin API.

An identifier (a PeerID, a SwarmID, an AuthToken: PROTOCOL.md section 2)
is 1 to L{IDENTIFIER_LENGTH} printable characters (L{isPrintable}) that
neither start nor end with a space; a statistics property name follows the
same rule with at most L{PROPERTY_LENGTH} characters.  The codecs apply
this rule to every message they decode, so an identifier accepted here is
one a message can carry.

Say what is expected with L{identifierRule}::

    if not validIdentifier(peerID):
        raise UsageError(f"--peer-id must be {identifierRule()}")
"""

from __future__ import annotations

from ppsp.codec._fields import IDENTIFIER_LENGTH, PROPERTY_LENGTH, isPrintable
from ppsp.codec._fields import validIdentifier as _validIdentifier

__all__ = [
    "IDENTIFIER_LENGTH",
    "PROPERTY_LENGTH",
    "isPrintable",
    "validIdentifier",
    "identifierRule",
]


def validIdentifier(value: str, maxLength: int = IDENTIFIER_LENGTH) -> bool:
    """
    Whether a text is a valid identifier: 1 to C{maxLength} printable
    characters (L{isPrintable}), neither starting nor ending with a space.

    @param value: the text.
    @param maxLength: the most characters allowed: L{IDENTIFIER_LENGTH}
        for a PeerID or a SwarmID, L{PROPERTY_LENGTH} for a statistics
        property name.
    """
    return _validIdentifier(value, maxLength)


def identifierRule(maxLength: int = IDENTIFIER_LENGTH) -> str:
    """
    The rule of L{validIdentifier} in the words of an error message.

    @param maxLength: the most characters allowed, as given to
        L{validIdentifier}.
    @return: for example C{"1 to 128 printable characters"}.
    """
    return f"1 to {maxLength} printable characters"
