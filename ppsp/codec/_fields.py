# -*- test-case-name: ppsp.test.test_codec -*-
"""
The syntactic rules of the protocol's fields, shared by every encoding.

Each encoding (L{ppsp.codec.xml}, and the JSON of RFC 7846 in
L{ppsp.codec.json}) finds the text of a field in its own way, then hands it to the functions here, which
check it and turn it into the value the message model holds.  Nothing here
knows about XML or JSON: the functions take and return plain Python values
and report a bad value by raising L{DecodeError} with
L{ResponseCode.INVALID_SYNTAX}.

The rules (PROTOCOL.md sections 2 and 4):

  - identifiers (TransactionID, PeerID, SwarmID, AuthToken, statistics
    property names) are 1 to N printable characters (L{isPrintable}: no
    control or format character, no line or paragraph separator, no
    surrogate, no unassigned code point), and they neither start nor end
    with a space;
  - integers are unsigned decimal numbers, surrounding white space allowed,
    and each field has its own bounds;
  - IP addresses are stored in the canonical text form of L{ipaddress};
  - an ExpireTime is either non-negative decimal seconds or an ISO 8601
    date-time (naive means UTC);
  - PeerMode and address types are case-insensitive names.
"""

from __future__ import annotations

import ipaddress
import math
import re
import sys
import unicodedata
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar

from ppsp.messages import (
    MAX_CHUNK_ID,
    AddressType,
    ChunkRange,
    PeerMode,
    ProtocolError,
    ResponseCode,
)

_T = TypeVar("_T")

if sys.version_info >= (3, 11):
    _fromisoformat = datetime.fromisoformat
else:
    # Python 3.10's datetime.fromisoformat reads only what isoformat()
    # writes: no "Z", no basic format, no fraction other than 3 or 6
    # digits.  The backport reads ISO 8601 as 3.11 and later do, so that
    # the ExpireTimes accepted do not depend on the interpreter.
    from backports.datetime_fromisoformat import datetime_fromisoformat as _fromisoformat

__all__ = [
    "decodeGuarded",
    "DecodeError",
    "checkKind",
    "requireTransactionID",
    "withTransactionID",
    "WHITESPACE",
    "MAX_INT32",
    "TRANSACTION_ID_LENGTH",
    "IDENTIFIER_LENGTH",
    "PROPERTY_LENGTH",
    "PEER_NUM",
    "STAT_PORT",
    "PORT",
    "PRIORITY",
    "CHUNK_ID",
    "KEEPALIVE_INTERVAL",
    "EXPIRE_SECONDS",
    "isPrintable",
    "validIdentifier",
    "identifier",
    "integer",
    "ipAddress",
    "peerMode",
    "addressType",
    "chunkRange",
    "expireTime",
    "formatSeconds",
    "formatTimestamp",
    "quote",
    "safeReason",
]


class DecodeError(ProtocolError):
    """
    A message could not be decoded.

    It names the response code to answer with (usually
    L{ResponseCode.INVALID_SYNTAX}) and carries the message's TransactionID
    when the decoder could read it, so that the error response can echo it.
    It is exported as L{ppsp.codec.DecodeError}.
    """


#: The white space XML strips around a value (space, tab, CR, LF).
WHITESPACE = " \t\r\n"

#: The largest signed 32-bit integer, the bound of most counts.
MAX_INT32 = 2**31 - 1

#: The most characters of a TransactionID.
TRANSACTION_ID_LENGTH = 64

#: The most characters of a PeerID, SwarmID or AuthToken.
IDENTIFIER_LENGTH = 128

#: The most characters of a statistics property name.
PROPERTY_LENGTH = 64

#: The bounds (inclusive) of each integer field.
PEER_NUM: Tuple[int, int] = (0, MAX_INT32)
STAT_PORT: Tuple[int, int] = (1, 65535)
PORT: Tuple[int, int] = (0, 65535)
PRIORITY: Tuple[int, int] = (0, MAX_INT32)
CHUNK_ID: Tuple[int, int] = (0, MAX_CHUNK_ID)
KEEPALIVE_INTERVAL: Tuple[int, int] = (0, MAX_INT32)

#: The bounds (inclusive) of an ExpireTime given in seconds.
EXPIRE_SECONDS: Tuple[int, int] = (0, MAX_INT32)

_SYNTAX = ResponseCode.INVALID_SYNTAX

# The Unicode categories of the characters an identifier may not hold
# (PROTOCOL.md section 2): control (Cc), format (Cf: U+200B to U+200F,
# U+202A to U+202E, U+2066 to U+2069, U+FEFF...), line and paragraph
# separators (Zl, Zp: U+2028, U+2029), surrogates (Cs) and unassigned code
# points (Cn, among them the noncharacters U+FFFE and U+FFFF that XML cannot
# carry).  str.isprintable() is false for every one of them (and also for
# private-use characters and spaces other than U+0020, which are allowed).
_NOT_PRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"})
_DIGITS = re.compile("[0-9]+")
_SECONDS = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Characters that may not appear in a reason, so that every encoding can
# carry it (XML 1.0 cannot carry most control characters).
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")

_PEER_MODES = {mode.value: mode for mode in PeerMode}
_ADDRESS_TYPES = {kind.value: kind for kind in AddressType}


def quote(value: str, limit: int = 40) -> str:
    """
    Show a value from a message in an error reason: quoted, shortened to
    C{limit} characters, and with every character that is not printable
    escaped, so that the reason is safe to send back in any encoding.

    @param value: the text as received.
    @param limit: the most characters of C{value} to show.
    @return: the quoted text.
    """
    if len(value) > limit:
        return repr(value[:limit]) + "..."
    return repr(value)


def decodeGuarded(what: str, decode: Callable[..., _T], *args: Any) -> _T:
    """
    Run a codec's decoder, so that whatever the bytes, only a
    L{DecodeError} escapes: an unexpected exception (a bug) still becomes
    INVALID SYNTAX, with a reason that names C{what} (C{"request"} or
    C{"response"}).
    """
    try:
        return decode(*args)
    except DecodeError:
        raise
    except Exception as e:
        raise DecodeError(
            ResponseCode.INVALID_SYNTAX,
            safeReason(f"the {what} could not be decoded: {e!r}"),
        ) from e


def checkKind(
    wantRequest: bool,
    isRequest: bool,
    isResponse: bool,
    requestMark: str,
    responseMark: str,
    tid: Optional[str],
    tidError: Optional[DecodeError],
) -> None:
    """
    The last checks of a message's envelope, in every encoding: that the
    message is of the kind asked for, a request (it has its encoding's
    request mark, C{<Method>} or C{request_type}) or a response
    (C{<Response>} or C{response_type}), never both; then that its
    TransactionID could be read.

    @param wantRequest: whether a request is wanted (else a response).
    @param isRequest: whether the message has the request mark.
    @param isResponse: whether it has the response mark.
    @param requestMark: the request mark, as error reasons name it.
    @param responseMark: the response mark, likewise.
    @param tid: the message's TransactionID, for the error.
    @param tidError: the error that made the TransactionID unreadable, or
        L{None}.
    @raise DecodeError: INVALID SYNTAX when the message is not of the kind
        wanted; C{tidError}.
    """
    if isRequest and isResponse:
        raise DecodeError(_SYNTAX, f"a message has either {requestMark} or {responseMark}", tid)
    if wantRequest and not isRequest:
        raise DecodeError(
            _SYNTAX, "a response is not a request" if isResponse else f"{requestMark} is missing", tid
        )
    if not wantRequest and not isResponse:
        raise DecodeError(
            _SYNTAX, "a request is not a response" if isRequest else f"{responseMark} is missing", tid
        )
    if tidError is not None:
        raise tidError


def requireTransactionID(tid: Optional[str], mark: str) -> str:
    """
    The TransactionID of a message that must have one.

    @param tid: the TransactionID read, or L{None}.
    @param mark: the TransactionID's name in the encoding, for the error.
    @raise DecodeError: INVALID SYNTAX when the message has no
        TransactionID.
    """
    if tid is None:
        raise DecodeError(_SYNTAX, f"{mark} is missing")
    return tid


def withTransactionID(error: DecodeError, tid: Optional[str]) -> DecodeError:
    """
    The error that decoding a message raised, carrying the message's
    TransactionID (when the error has none of its own and the message's
    could be read), so that the error response echoes it.

    @param error: what decoding a part of the message raised.
    @param tid: the message's TransactionID, or L{None}.
    """
    if error.transactionID is None and tid is not None:
        return DecodeError(error.code, error.reason, tid)
    return error


def safeReason(text: str, limit: int = 200) -> str:
    """
    Make a sentence from elsewhere (a parser's error message) safe to send
    as a reason: characters that XML cannot carry become C{?}, and the text
    is cut at C{limit} characters.

    @param text: the sentence.
    @param limit: the most characters kept.
    @return: the cleaned sentence.
    """
    return _UNSAFE.sub("?", text[:limit])


def isPrintable(value: str) -> bool:
    """
    Whether a text holds only characters that are printable in the
    protocol's sense (PROTOCOL.md section 2): none of Unicode category Cc
    (control), Cf (format, such as the bidirectional override U+202E or
    the byte order mark U+FEFF), Zl or Zp (U+2028, U+2029), Cs
    (surrogates) or Cn (unassigned in Python's Unicode database).
    Letters of every script, marks, symbols, private-use characters and
    spaces are printable.

    @param value: the text.
    """
    if value.isprintable():
        # The common case: isprintable() is false for every refused
        # category (and for some allowed characters, which the loop sorts
        # out).
        return True
    category = unicodedata.category
    return not any(category(c) in _NOT_PRINTABLE for c in value)


def validIdentifier(value: str, maxLength: int) -> bool:
    """
    Whether a text is a valid identifier of at most C{maxLength}
    characters: not empty, printable (L{isPrintable}), no leading or
    trailing space.

    @param value: the text, already stripped by the encoding if it strips.
    @param maxLength: the most characters allowed.
    """
    return (
        0 < len(value) <= maxLength
        and (value.isprintable() or isPrintable(value))
        and value[0] != " "
        and value[-1] != " "
    )


def identifier(value: str, field: str, maxLength: int) -> str:
    """
    Check an identifier (see L{validIdentifier}).

    @param value: the text of the field.
    @param field: the field's name, for the error reason.
    @param maxLength: the most characters allowed.
    @return: C{value}.
    @raise DecodeError: the value is not a valid identifier.
    """
    if (
        0 < len(value) <= maxLength
        and (value.isprintable() or isPrintable(value))
        and value[0] != " "
        and value[-1] != " "
    ):
        return value
    if not value:
        raise DecodeError(_SYNTAX, f"{field} is empty")
    if len(value) > maxLength:
        raise DecodeError(_SYNTAX, f"{field} is longer than {maxLength} characters")
    if not isPrintable(value):
        raise DecodeError(
            _SYNTAX,
            f"{field} {quote(value)} holds a control, format or separator character",
        )
    raise DecodeError(_SYNTAX, f"{field} {quote(value)} starts or ends with a space")


def integer(text: str, field: str, bounds: Tuple[int, int]) -> int:
    """
    Parse an unsigned decimal integer: ASCII digits only, surrounding
    white space allowed, no sign.

    @param text: the text of the field.
    @param field: the field's name, for the error reason.
    @param bounds: the smallest and the largest value allowed.
    @return: the value.
    @raise DecodeError: the text is not a decimal integer within C{bounds}.
    """
    low, high = bounds
    if len(text) <= 18 and text.isdigit() and text.isascii():
        # The common case: plain digits, short enough for int() to be
        # cheap whatever they are.
        value = int(text)
    else:
        digits = text.strip(WHITESPACE)
        if _DIGITS.fullmatch(digits) is None:
            raise DecodeError(_SYNTAX, f"{field} {quote(text)} is not a decimal integer")
        # Leading zeros aside, a number longer than the bound is out of
        # range; checking this first keeps int() away from huge strings.
        significant = digits.lstrip("0")
        if len(significant) > len(str(high)):
            raise DecodeError(_SYNTAX, f"{field} is out of range ({low} to {high})")
        value = int(significant) if significant else 0
    if low <= value <= high:
        return value
    raise DecodeError(_SYNTAX, f"{field} is out of range ({low} to {high})")


# Canonical addresses by the text they were given as.  Bounded, so that
# hostile input cannot grow it; emptied when full.
_IP_CACHE: Dict[str, str] = {}
_IP_CACHE_SIZE = 4096


def ipAddress(text: str, field: str = "ip") -> str:
    """
    Parse an IPv4 or IPv6 address.

    @param text: the text of the field; surrounding white space is ignored.
    @param field: the field's name, for the error reason.
    @return: the address in canonical text form (C{str(ip_address(text))});
        an IPv4-mapped IPv6 address is written as the IPv4 address, as the
        tracker writes the addresses it observes.
    @raise DecodeError: the text is not an IP address.
    """
    canonical = _IP_CACHE.get(text)
    if canonical is not None:
        return canonical
    try:
        address = ipaddress.ip_address(text.strip(WHITESPACE))
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        canonical = str(address)
    except ValueError:
        raise DecodeError(
            _SYNTAX, f"{field} {quote(text)} is not an IP address"
        ) from None
    if len(_IP_CACHE) >= _IP_CACHE_SIZE:
        _IP_CACHE.clear()
    _IP_CACHE[text] = canonical
    return canonical


def peerMode(text: str) -> PeerMode:
    """
    Parse a PeerMode (C{LEECH}, C{SEED} or C{LIVESEED}, any case).

    @param text: the text of the field.
    @raise DecodeError: the text names no mode.
    """
    mode = _PEER_MODES.get(text.strip(WHITESPACE).upper())
    if mode is None:
        raise DecodeError(_SYNTAX, f"PeerMode {quote(text)} is not LEECH, SEED or LIVESEED")
    return mode


def addressType(text: str) -> AddressType:
    """
    Parse an address type (C{HOST}, C{REFLEXIVE} or C{PROXY}, any case).

    @param text: the text of the field.
    @raise DecodeError: the text names no address type.
    """
    kind = _ADDRESS_TYPES.get(text.strip(WHITESPACE).upper())
    if kind is None:
        raise DecodeError(
            _SYNTAX, f"address type {quote(text)} is not HOST, REFLEXIVE or PROXY"
        )
    return kind


def chunkRange(start: int, end: int) -> ChunkRange:
    """
    Make an inclusive chunk range, checking that it is not reversed.

    @param start: the first chunk ID (already within L{CHUNK_ID}).
    @param end: the last chunk ID (already within L{CHUNK_ID}).
    @raise DecodeError: C{start} is greater than C{end}.
    """
    if start > end:
        raise DecodeError(_SYNTAX, f"chunk range {start} to {end} is reversed")
    return ChunkRange(start, end)


def expireTime(text: str) -> Tuple[Optional[float], Optional[float]]:
    """
    Parse an ExpireTime: either non-negative decimal seconds (C{30},
    C{2.5}) from now, at most L{EXPIRE_SECONDS}, or an ISO 8601 date-time,
    an absolute end (a time without an offset is UTC).

    Zero seconds is kept as C{0.0}: the message model and the tracker core
    read C{0} and L{None} alike as "no expiry".

    @param text: the text of the field.
    @return: C{(seconds, None)} for a relative time, C{(None, posix)} for
        an absolute one, where C{posix} is POSIX seconds.
    @raise DecodeError: the text is neither.
    """
    value = text.strip(WHITESPACE)
    if _SECONDS.fullmatch(value) is not None:
        seconds = float(value)
        if not seconds <= EXPIRE_SECONDS[1]:
            raise DecodeError(
                _SYNTAX, f"ExpireTime is more than {EXPIRE_SECONDS[1]} seconds"
            )
        return seconds, None
    try:
        when = _fromisoformat(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        posix = when.timestamp()
    except (ValueError, OverflowError, OSError):
        raise DecodeError(
            _SYNTAX,
            f"ExpireTime {quote(text)} is neither seconds nor an ISO 8601 date-time",
        ) from None
    return None, posix


def formatSeconds(seconds: float) -> str:
    """
    Write a number of seconds as plain decimal text that L{expireTime}
    reads back to the same value: no exponent, no trailing C{.0}.

    @param seconds: a finite, non-negative number.
    @raise ValueError: C{seconds} is negative or not finite.
    """
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"ExpireTime {seconds!r} is not a finite non-negative number")
    if float(seconds).is_integer():
        return str(int(seconds))
    text = repr(float(seconds))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


def formatTimestamp(posix: float) -> str:
    """
    Write POSIX seconds as an ISO 8601 UTC date-time (C{...Z}) that
    L{expireTime} reads back; precision is one microsecond.

    @param posix: the time.
    @raise ValueError: the time cannot be written as a date-time.
    """
    try:
        when = datetime.fromtimestamp(posix, timezone.utc)
    except (ValueError, OverflowError, OSError) as e:
        raise ValueError(f"ExpireTime {posix!r} is not a representable time: {e}") from None
    return when.isoformat().replace("+00:00", "Z")
