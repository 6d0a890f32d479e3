# -*- test-case-name: ppsp.test.test_codec_json -*-
"""
The JSON encoding of RFC 7846 (PPSTP version 1), mapped onto the same
message model as the XML profile (PROTOCOL.md section 7).

Requests:

  - C{CONNECT} decodes to L{PPSTPConnectRequest}: its C{swarm_action}s
    (JOIN or LEAVE, C{SEEDER} or C{LEECH}), its C{peer_addr}s,
    C{peer_num.peer_count} as PeerNum and the other C{peer_num} members as
    statistics about the requester itself;
  - C{FIND} decodes to L{FindRequest} (with or without the C{find}
    wrapper);
  - C{STAT_REPORT} decodes to L{StatReportRequest}, or to
    L{KeepAliveRequest} when it carries no statistics.

Every request decoded here has C{sessionByAddress} set: its token travels
in the HTTP C{Authorization} header (see L{bearerToken}), and the tracker
accepts a request without one from the session's observed IP address.

Decoding uses the standard library's C{json} with guards: the body must be
UTF-8 and at most L{MAX_DOCUMENT} bytes, nesting is measured before
parsing (at most L{MAX_DEPTH} levels), a member given twice, C{NaN},
C{Infinity} and huge numbers are refused.  Every failure is a
L{DecodeError} (error code 01 or 02 on the wire) that carries the
transaction ID when it could be read; nothing else escapes.

The syntax of each field (identifiers, integers, IP addresses, modes) is
checked by L{ppsp.codec._fields}, as for XML.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple

from zope.interface import implementer

from ppsp.codec import _fields as F
from ppsp.codec._fields import DecodeError
from ppsp.interfaces import ICodec
from ppsp.messages import (
    AddressType,
    ConnectResponse,
    ErrorResponse,
    FindChunkRequest,
    FindChunkResponse,
    FindRequest,
    FindResponse,
    KeepAliveRequest,
    KeepAliveResponse,
    Method,
    PeerAddress,
    PeerInfo,
    PeerMode,
    PPSTPConnectRequest,
    PPSTPConnectResponse,
    Request,
    Response,
    ResponseCode,
    Stat,
    StatReportRequest,
    StatReportResponse,
    SwarmAction,
    SwarmActionType,
    SwarmResult,
)

if TYPE_CHECKING:
    from twisted.web.http_headers import Headers

__all__ = [
    "JSON_CONTENT_TYPE",
    "MAX_DEPTH",
    "MAX_DOCUMENT",
    "MAX_CREDENTIAL",
    "JSON_ERROR_CODES",
    "JSONCodec",
    "bearerToken",
    "errorCode",
]

#: The C{Content-Type} of the JSON messages this codec writes (RFC 7846
#: section 8.1).
JSON_CONTENT_TYPE = b"application/ppsp-tracker+json"

#: The deepest nesting of objects and arrays accepted (the outer object is
#: level 1).  RFC 7846's deepest message, a FIND response, has 9.
MAX_DEPTH = 16

#: The largest document this codec decodes, in bytes (the tracker's own
#: body limit is smaller; this guards other users of the codec).
MAX_DOCUMENT = 1024 * 1024

#: The most characters of a credential in an C{Authorization} header.
MAX_CREDENTIAL = 8192

#: The error code of RFC 7846 section 4.3 for each response code.  Codes
#: with no JSON twin take the nearest: MESSAGE NOT SUPPORTED is a bad
#: request (01), OBJECT NOT FOUND a forbidden action (03).
JSON_ERROR_CODES: Mapping[ResponseCode, int] = {
    ResponseCode.OK: 0,
    ResponseCode.INVALID_SYNTAX: 1,
    ResponseCode.MESSAGE_NOT_SUPPORTED: 1,
    ResponseCode.VERSION_NOT_SUPPORTED: 2,
    ResponseCode.MESSAGE_FORBIDDEN: 3,
    ResponseCode.OBJECT_NOT_FOUND: 3,
    ResponseCode.INTERNAL_ERROR: 4,
    ResponseCode.TEMPORARILY_OVERLOADED: 5,
    ResponseCode.AUTHENTICATION_REQUIRED: 6,
}

# The response code each JSON error code reads as.
_FROM_ERROR_CODE: Dict[int, ResponseCode] = {
    1: ResponseCode.INVALID_SYNTAX,
    2: ResponseCode.VERSION_NOT_SUPPORTED,
    3: ResponseCode.MESSAGE_FORBIDDEN,
    4: ResponseCode.INTERNAL_ERROR,
    5: ResponseCode.TEMPORARILY_OVERLOADED,
    6: ResponseCode.AUTHENTICATION_REQUIRED,
}

# The HTTP status of each JSON error code (PROTOCOL.md section 7).
_HTTP_STATUS: Dict[int, int] = {0: 200, 1: 400, 2: 400, 3: 403, 4: 500, 5: 503, 6: 401}

_SYNTAX = ResponseCode.INVALID_SYNTAX
_ROOT = "PPSPTrackerProtocol"

# RFC 7846 stream_stats members and the properties (PROTOCOL.md section 5)
# they are; also the snake_case names of the profile's other properties.
_STAT_MEMBERS: Dict[str, str] = {
    "uploaded_bytes": "UploadedBytes",
    "downloaded_bytes": "DownloadedBytes",
    "available_bandwidth": "AvailBandwidth",
    "concurrent_links": "ConcurrentLinks",
    "upload_bandwidth": "UploadBandwidth",
    "online_time": "OnlineTime",
    "ability_nat": "AbilityNAT",
    "buffer_level": "BufferLevel",
    "playback_position": "PlaybackPosition",
}
_STAT_NAMES: Dict[str, str] = {prop.lower(): member for member, prop in _STAT_MEMBERS.items()}

# The peer_num members that describe the requester (RFC 7846 section
# 3.2.2), and the properties they are kept as.
_PEER_NUM_MEMBERS: Tuple[Tuple[str, str], ...] = (
    ("ability_nat", "AbilityNAT"),
    ("concurrent_links", "ConcurrentLinks"),
    ("online_time", "OnlineTime"),
    ("upload_bandwidth", "UploadBandwidth"),
)
_PEER_NUM_NAMES: Dict[str, str] = {prop.lower(): member for member, prop in _PEER_NUM_MEMBERS}

# Peer modes as RFC 7846 writes them, and as this codec reads them.
_MODE_NAMES: Dict[PeerMode, str] = {
    PeerMode.SEED: "SEEDER",
    PeerMode.LEECH: "LEECH",
    PeerMode.LIVESEED: "LIVESEED",
}
_MODES: Dict[str, PeerMode] = {
    "SEEDER": PeerMode.SEED,
    "SEED": PeerMode.SEED,
    "LEECH": PeerMode.LEECH,
    "LEECHER": PeerMode.LEECH,
    "LIVESEED": PeerMode.LIVESEED,
}

# What the nesting scan looks at: an escape (two bytes), a quote, a bracket.
_TOKENS = re.compile(rb'\\.|["\[\]{}]', re.DOTALL)
# Numbers longer than this are refused before int() sees them.
_MAX_DIGITS = 40


class _Refused(Exception):
    """
    Raised from the parser's hooks; becomes a L{DecodeError}.
    """


# Decoding helpers -------------------------------------------------------------


def _pairs(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    """
    Build a JSON object, refusing a member given twice (so that which one
    counts never depends on the parser).
    """
    result = dict(pairs)
    if len(result) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the member {F.quote(key)} is given more than once")
            seen.add(key)
    return result


def _constant(name: str) -> Any:
    """
    Refuse C{NaN}, C{Infinity} and C{-Infinity}, which JSON does not have.
    """
    raise _Refused(f"{name} is not a JSON number")


def _int(text: str) -> int:
    """
    Parse a JSON integer, refusing huge ones before converting them.
    """
    if len(text) > _MAX_DIGITS:
        raise _Refused("a number has too many digits")
    return int(text)


def _float(text: str) -> float:
    """
    Parse a JSON number with a fraction or an exponent.
    """
    if len(text) > _MAX_DIGITS:
        raise _Refused("a number has too many digits")
    value = float(text)
    if value - value != 0.0:
        raise _Refused(f"{text} is too large a number")
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs,
    parse_constant=_constant,
    parse_int=_int,
    parse_float=_float,
    strict=True,
)


def _depth(body: bytes) -> int:
    """
    The deepest nesting of objects and arrays in C{body}, brackets inside
    strings aside, counted up to the first level past L{MAX_DEPTH}; for a
    malformed document, a bound the parser will not exceed.  One pass over
    the quotes, escapes and brackets: linear whatever the input.
    """
    depth = deepest = 0
    inString = False
    for match in _TOKENS.finditer(body):
        token = match.group()
        if token == b'"':
            inString = not inString
        elif inString or len(token) == 2:
            continue
        elif token in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    break
        else:
            depth -= 1
    return deepest


def _parse(body: bytes) -> Any:
    """
    Parse a JSON document with the guards of this module.

    @raise DecodeError: the body is too large, not UTF-8, nested too
        deeply, or not one well-formed JSON value.
    """
    if len(body) > MAX_DOCUMENT:
        raise DecodeError(_SYNTAX, f"the body is larger than {MAX_DOCUMENT} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(_SYNTAX, "the body is not valid UTF-8") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if body.count(b"{") + body.count(b"[") > MAX_DEPTH and _depth(body) > MAX_DEPTH:
        raise DecodeError(_SYNTAX, f"the document nests deeper than {MAX_DEPTH} levels")
    try:
        return _DECODER.decode(text)
    except _Refused as e:
        raise DecodeError(_SYNTAX, str(e)) from None
    except (ValueError, RecursionError) as e:
        raise DecodeError(_SYNTAX, F.safeReason(f"the body is not well-formed JSON: {e}")) from None


def _typeName(value: Any) -> str:
    """
    The JSON type of a value, for error reasons.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _object(value: Any, name: str) -> Dict[str, Any]:
    """
    C{value}, which must be a JSON object.
    """
    if not isinstance(value, dict):
        raise DecodeError(_SYNTAX, f"{name} must be an object, not {_typeName(value)}")
    return value


def _objects(value: Any, name: str) -> List[Dict[str, Any]]:
    """
    One object or an array of objects (RFC 7846's grammar and examples
    differ on which), as a list.
    """
    if isinstance(value, list):
        return [_object(item, name) for item in value]
    return [_object(value, name)]


def _string(value: Any, name: str) -> str:
    """
    C{value}, which must be a JSON string.
    """
    if not isinstance(value, str):
        raise DecodeError(_SYNTAX, f"{name} must be a string, not {_typeName(value)}")
    return value


def _identifier(value: Any, name: str, maxLength: int = F.IDENTIFIER_LENGTH) -> str:
    """
    An identifier: a string, or an integer read as its decimal text (RFC
    7846's identifiers are strings of digits).
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    return F.identifier(_string(value, name), name, maxLength)


def _number(value: Any, name: str, bounds: Tuple[int, int]) -> int:
    """
    An integer field: a JSON integer, or a string of decimal digits (RFC
    7846's own examples quote numbers).
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DecodeError(_SYNTAX, f"{name} must be an integer, not {_typeName(value)}")
    if isinstance(value, int):
        low, high = bounds
        if low <= value <= high:
            return value
        raise DecodeError(_SYNTAX, f"{name} is out of range ({low} to {high})")
    return F.integer(value, name, bounds)


def _statValue(value: Any, name: str) -> str:
    """
    A statistics value as text: a string, or a non-negative JSON integer.
    The tracker core validates it.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip(F.WHITESPACE)
    raise DecodeError(_SYNTAX, f"{name} must be a number or a string, not {_typeName(value)}")


def _required(obj: Dict[str, Any], key: str, where: str) -> Any:
    """
    The member C{key} of C{obj}, which must be there.
    """
    if key not in obj:
        raise DecodeError(_SYNTAX, f"{where} has no {key}")
    return obj[key]


def _peerAddress(obj: Dict[str, Any], defaultType: AddressType) -> PeerAddress:
    """
    Decode a C{peer_addr}: C{ip_address} (C{address_type}, C{address}) and
    C{port} required; C{type} and C{priority} optional; C{connection},
    C{asn} and C{peer_protocol} ignored (the model has no place for them).
    """
    ip = _object(_required(obj, "ip_address", "peer_addr"), "ip_address")
    text = _string(_required(ip, "address", "ip_address"), "ip_address.address")
    address = F.ipAddress(text, "ip_address.address")
    kind = ip.get("address_type")
    if kind is not None:
        kind = _string(kind, "address_type").strip(F.WHITESPACE).lower()
        if kind not in ("ipv4", "ipv6"):
            raise DecodeError(_SYNTAX, f"address_type {F.quote(kind)} is not ipv4 or ipv6")
        if (kind == "ipv6") != (":" in text):
            raise DecodeError(
                _SYNTAX, f"address {F.quote(text)} is not an {kind} address"
            )
    addressKind = obj.get("type")
    priority = obj.get("priority")
    return PeerAddress(
        address,
        _number(_required(obj, "port", "peer_addr"), "port", F.PORT),
        defaultType if addressKind is None else F.addressType(_string(addressKind, "type")),
        None if priority is None else _number(priority, "priority", F.PRIORITY),
    )


def _peerAddresses(value: Any, defaultType: AddressType = AddressType.HOST) -> Tuple[PeerAddress, ...]:
    """
    Decode one C{peer_addr} or an array of them.
    """
    return tuple([_peerAddress(obj, defaultType) for obj in _objects(value, "peer_addr")])


def _peerMode(value: Any) -> PeerMode:
    """
    Decode a C{peer_mode}: C{SEEDER} or C{LEECH} (C{SEED} and C{LIVESEED}
    accepted), any case.
    """
    text = _string(value, "peer_mode")
    mode = _MODES.get(text.strip(F.WHITESPACE).upper())
    if mode is None:
        raise DecodeError(_SYNTAX, f"peer_mode {F.quote(text)} is not SEEDER or LEECH")
    return mode


def _peerNum(value: Any) -> Tuple[int, Tuple[Stat, ...]]:
    """
    Decode a C{peer_num}: C{peer_count} (0 when absent: the default), and
    the members describing the requester, as statistics.
    """
    obj = _object(value, "peer_num")
    count = obj.get("peer_count")
    stats = []
    for member, prop in _PEER_NUM_MEMBERS:
        if member in obj:
            stats.append(Stat(prop, _statValue(obj[member], member)))
    return (0 if count is None else _number(count, "peer_count", F.PEER_NUM)), tuple(stats)


def _swarmAction(obj: Dict[str, Any]) -> SwarmAction:
    """
    Decode a C{swarm_action}: C{swarm_id} and C{action} required;
    C{peer_mode} required for JOIN (LEAVE ignores it).
    """
    swarmID = _identifier(_required(obj, "swarm_id", "swarm_action"), "swarm_id")
    text = _string(_required(obj, "action", "swarm_action"), "action")
    try:
        action = SwarmActionType(text.strip(F.WHITESPACE).upper())
    except ValueError:
        raise DecodeError(_SYNTAX, f"action {F.quote(text)} is not JOIN or LEAVE") from None
    mode = obj.get("peer_mode")
    if mode is None:
        if action is SwarmActionType.JOIN:
            raise DecodeError(_SYNTAX, "a JOIN swarm_action has no peer_mode")
        return SwarmAction(swarmID, action)
    return SwarmAction(swarmID, action, _peerMode(mode))


def _stats(group: Dict[str, Any]) -> Tuple[Stat, ...]:
    """
    Decode the statistics of a C{stat_report}: its C{stat} (or C{Stat})
    objects, each optionally scoped by C{swarm_id}.  A group whose C{type}
    is not C{STREAM_STATS} holds properties this tracker does not know, and
    is ignored; so are unknown members.
    """
    kind = group.get("type")
    if kind is not None and _string(kind, "type").strip(F.WHITESPACE).upper() != "STREAM_STATS":
        return ()
    if "stat" in group and "Stat" in group:
        raise DecodeError(_SYNTAX, "stat_report has both stat and Stat")
    value = group.get("stat", group.get("Stat"))
    if value is None:
        return ()
    stats = []
    for obj in _objects(value, "stat"):
        swarm = obj.get("swarm_id")
        swarmID = None if swarm is None else _identifier(swarm, "swarm_id")
        for member, item in obj.items():
            prop = _STAT_MEMBERS.get(member)
            if prop is not None:
                stats.append(Stat(prop, _statValue(item, member), swarmID))
    return tuple(stats)


def _peers(value: Any) -> Tuple[PeerInfo, ...]:
    """
    Decode a C{peer_group}: its C{peer_info} entries.  An entry has
    C{peer_id} and one C{peer_addr} (or an array of them); consecutive
    entries for the same peer (how this codec writes a peer with several
    addresses) make one L{PeerInfo}.  The mode is read from the
    C{peer_mode} extension member, LEECH when absent.
    """
    group = _object(value, "peer_group")
    infos = group.get("peer_info")
    if infos is None:
        return ()
    peers: List[PeerInfo] = []
    for obj in _objects(infos, "peer_info"):
        peerID = _identifier(_required(obj, "peer_id", "peer_info"), "peer_id")
        mode = obj.get("peer_mode")
        addresses = obj.get("peer_addr")
        found = () if addresses is None else _peerAddresses(addresses)
        if peers and peers[-1].peerID == peerID:
            last = peers[-1]
            peers[-1] = PeerInfo(peerID, last.mode, last.addresses + found)
        else:
            peers.append(PeerInfo(peerID, PeerMode.LEECH if mode is None else _peerMode(mode), found))
    return tuple(peers)


# Requests ---------------------------------------------------------------------

_Common = Tuple[str, str]


def _body(obj: Dict[str, Any], wrapper: str) -> Dict[str, Any]:
    """
    The members of a request: those of its C{wrapper} object (C{connect},
    C{find}, C{stat_report}) when it has one, else the request's own.
    """
    inner = obj.get(wrapper)
    return obj if inner is None else _object(inner, wrapper)


def _decodeConnect(obj: Dict[str, Any], common: _Common) -> Request:
    """
    CONNECT: C{swarm_action} (one or more) required; C{peer_addr} and
    C{peer_num} optional.
    """
    body = _body(obj, "connect")
    actions = [_swarmAction(o) for o in _objects(_required(body, "swarm_action", "CONNECT"), "swarm_action")]
    if not actions:
        raise DecodeError(_SYNTAX, "CONNECT has no swarm_action")
    addresses = body.get("peer_addr")
    peerNum: Optional[int] = None
    stats: Tuple[Stat, ...] = ()
    if "peer_num" in body:
        peerNum, stats = _peerNum(body["peer_num"])
    return PPSTPConnectRequest(
        *common,
        sessionByAddress=True,
        swarmActions=tuple(actions),
        addresses=None if addresses is None else _peerAddresses(addresses),
        peerNum=peerNum,
        requesterStats=stats,
    )


def _decodeFind(obj: Dict[str, Any], common: _Common) -> Request:
    """
    FIND: C{swarm_id}; optional C{peer_num}; in a C{find} object (RFC 7846's
    grammar) or directly in the request (its example).
    """
    body = _body(obj, "find")
    swarmID = _identifier(_required(body, "swarm_id", "FIND"), "swarm_id")
    peerNum: Optional[int] = None
    stats: Tuple[Stat, ...] = ()
    if "peer_num" in body:
        peerNum, stats = _peerNum(body["peer_num"])
    return FindRequest(
        *common,
        sessionByAddress=True,
        swarmID=swarmID,
        peerNum=peerNum,
        requesterStats=stats,
    )


def _decodeStatReport(obj: Dict[str, Any], common: _Common) -> Request:
    """
    STAT_REPORT: a C{stat_report} group; without any statistics it is a
    keep-alive (RFC 7846 section 4.1.3).
    """
    group = obj.get("stat_report")
    stats = _stats(obj if group is None else _object(group, "stat_report"))
    if not stats:
        return KeepAliveRequest(*common, sessionByAddress=True)
    return StatReportRequest(*common, sessionByAddress=True, stats=stats)


_REQUEST_DECODERS: Dict[str, Callable[[Dict[str, Any], _Common], Request]] = {
    "CONNECT": _decodeConnect,
    "FIND": _decodeFind,
    "STAT_REPORT": _decodeStatReport,
}


def _envelope(body: bytes, kind: str) -> Tuple[Dict[str, Any], Optional[str]]:
    """
    Parse a message, read its transaction ID first (so that later errors
    carry it), then check the root, the version and the kind, and last
    the transaction ID itself.

    @param kind: C{"request_type"} or C{"response_type"}.
    @return: the message object and the transaction ID (L{None} when
        absent).
    """
    document = _parse(body)
    if not isinstance(document, dict) or _ROOT not in document:
        raise DecodeError(_SYNTAX, f"the body is not a {{\"{_ROOT}\": ...}} object")
    root = document[_ROOT]
    if not isinstance(root, dict):
        raise DecodeError(_SYNTAX, f"{_ROOT} must be an object, not {_typeName(root)}")
    tid: Optional[str] = None
    tidError: Optional[DecodeError] = None
    if "transaction_id" in root:
        try:
            tid = _identifier(root["transaction_id"], "transaction_id", F.TRANSACTION_ID_LENGTH)
        except DecodeError as e:
            tidError = e
    if "version" not in root:
        raise DecodeError(_SYNTAX, "version is missing", tid)
    version = root["version"]
    if isinstance(version, bool) or not isinstance(version, (int, float, str)):
        raise DecodeError(_SYNTAX, f"version must be a number, not {_typeName(version)}", tid)
    if version != 1 and (not isinstance(version, str) or version.strip() not in ("1", "1.0")):
        raise DecodeError(
            ResponseCode.VERSION_NOT_SUPPORTED,
            f"version {F.quote(str(version))} is not supported (1 is)",
            tid,
        )
    F.checkKind(
        kind == "request_type",
        "request_type" in root,
        "response_type" in root,
        "request_type",
        "response_type",
        tid,
        tidError,
    )
    return root, tid


def _decodeRequest(body: bytes) -> Request:
    """
    Decode a request; see L{JSONCodec.decodeRequest}.
    """
    root, tid = _envelope(body, "request_type")
    try:
        tid = F.requireTransactionID(tid, "transaction_id")
        text = _string(root["request_type"], "request_type")
        decoder = _REQUEST_DECODERS.get(text.strip(F.WHITESPACE).upper())
        if decoder is None:
            raise DecodeError(
                ResponseCode.MESSAGE_NOT_SUPPORTED,
                f"request_type {F.quote(text)} is not supported (CONNECT, FIND, STAT_REPORT are)",
            )
        peerID = _identifier(_required(root, "peer_id", "the request"), "peer_id")
        return decoder(root, (tid, peerID))
    except DecodeError as e:
        raise F.withTransactionID(e, tid) from None


# Responses --------------------------------------------------------------------


def _responseType(value: Any, name: str = "response_type") -> int:
    """
    A C{response_type} or C{result}: 0 or 1.
    """
    return _number(value, name, (0, 1))


def _swarmResults(root: Dict[str, Any]) -> List[Dict[str, Any]]:
    """
    The C{swarm_result} objects of a response (one or an array; none when
    absent).
    """
    value = root.get("swarm_result")
    return [] if value is None else _objects(value, "swarm_result")


def _swarmResult(obj: Dict[str, Any]) -> SwarmResult:
    """
    Decode one C{swarm_result}: C{swarm_id}, C{result}, and for a success an
    optional C{peer_group}; a failure's code is read from the
    C{error_code} extension member (03 when absent).
    """
    swarmID = _identifier(_required(obj, "swarm_id", "swarm_result"), "swarm_id")
    result = _responseType(_required(obj, "result", "swarm_result"), "result")
    if result == 0:
        group = obj.get("peer_group")
        return SwarmResult(swarmID, peers=None if group is None else _peers(group))
    code = ResponseCode.MESSAGE_FORBIDDEN
    if "error_code" in obj:
        code = _errorCode(obj["error_code"])
    reason = obj.get("reason")
    return SwarmResult(swarmID, code, "" if reason is None else _string(reason, "reason"))


def _errorCode(value: Any) -> ResponseCode:
    """
    The response code of a non-zero JSON C{error_code}.
    """
    number = _number(value, "error_code", (1, 6))
    return _FROM_ERROR_CODE[number]


def _keepAliveInterval(root: Dict[str, Any]) -> int:
    """
    The C{keepalive_interval} extension member, 60 when absent.
    """
    value = root.get("keepalive_interval")
    return 60 if value is None else _number(value, "keepalive_interval", F.KEEPALIVE_INTERVAL)


def _decodeConnectResponse(root: Dict[str, Any], tid: str) -> Response:
    """
    OK to CONNECT: C{peer_addr} (the observed address, REFLEXIVE unless it
    says otherwise), C{swarm_result}s, and the C{auth_token} and
    C{keepalive_interval} extension members.
    """
    reflexive = root.get("peer_addr")
    token = root.get("auth_token")
    addresses = None if reflexive is None else _peerAddresses(reflexive, AddressType.REFLEXIVE)
    return PPSTPConnectResponse(
        tid,
        authToken="" if token is None else _identifier(token, "auth_token"),
        reflexiveAddress=addresses[0] if addresses else None,
        keepAliveInterval=_keepAliveInterval(root),
        swarmResults=tuple([_swarmResult(obj) for obj in _swarmResults(root)]),
    )


def _decodeFindResponse(root: Dict[str, Any], tid: str) -> Response:
    """
    OK to FIND: the first C{swarm_result}'s swarm and peer list.
    """
    results = _swarmResults(root)
    if not results:
        return FindResponse(tid)
    result = _swarmResult(results[0])
    return FindResponse(tid, result.swarmID, result.peers or ())


def _decodeStatReportResponse(root: Dict[str, Any], tid: str) -> Response:
    """
    OK to STAT_REPORT: the swarms of its C{swarm_result}s.
    """
    return StatReportResponse(
        tid, tuple([_swarmResult(obj).swarmID for obj in _swarmResults(root)])
    )


def _decodeKeepAliveResponse(root: Dict[str, Any], tid: str) -> Response:
    """
    OK to a STAT_REPORT without statistics (KEEPALIVE).
    """
    return KeepAliveResponse(tid, _keepAliveInterval(root))


_RESPONSE_DECODERS: Dict[Method, Callable[[Dict[str, Any], str], Response]] = {
    Method.CONNECT: _decodeConnectResponse,
    Method.FIND: _decodeFindResponse,
    Method.STAT_REPORT: _decodeStatReportResponse,
    Method.KEEPALIVE: _decodeKeepAliveResponse,
}


def _decodeResponse(body: bytes, method: Method) -> Response:
    """
    Decode a response; see L{JSONCodec.decodeResponse}.
    """
    root, tid = _envelope(body, "response_type")
    try:
        responseType = _responseType(root["response_type"])
        errorValue = root.get("error_code", 0)
        if responseType == 1:
            code = _errorCode(errorValue)
            reason = root.get("reason")
            return ErrorResponse(tid or "", code, "" if reason is None else _string(reason, "reason"))
        if _number(errorValue, "error_code", (0, 6)) != 0:
            raise DecodeError(_SYNTAX, "a successful response has a non-zero error_code")
        tid = F.requireTransactionID(tid, "transaction_id")
        decoder = _RESPONSE_DECODERS.get(method)
        if decoder is None:
            raise DecodeError(_SYNTAX, f"RFC 7846 has no {method.value} response")
        return decoder(root, tid)
    except DecodeError as e:
        raise F.withTransactionID(e, tid) from None


# Encoding ---------------------------------------------------------------------


def _encodeAddress(address: PeerAddress) -> Dict[str, Any]:
    """
    A C{peer_addr} object (C{priority} left out when L{None}).
    """
    ip = address.ip
    obj: Dict[str, Any] = {
        "ip_address": {"address_type": "ipv6" if ":" in ip else "ipv4", "address": ip},
        "port": address.port,
    }
    if address.priority is not None:
        obj["priority"] = address.priority
    obj["type"] = address.type.value
    return obj


def _encodePeers(peers: Tuple[PeerInfo, ...]) -> Dict[str, Any]:
    """
    A C{peer_group}: one C{peer_info} per address of each peer, all of a
    peer's entries in a row (RFC 7846 gives a C{peer_info} one
    C{peer_addr}), each with the C{peer_mode} extension member.
    """
    infos: List[Dict[str, Any]] = []
    for peer in peers:
        mode = _MODE_NAMES[peer.mode]
        if not peer.addresses:
            infos.append({"peer_id": peer.peerID, "peer_mode": mode})
        for address in peer.addresses:
            infos.append(
                {"peer_id": peer.peerID, "peer_mode": mode, "peer_addr": _encodeAddress(address)}
            )
    return {"peer_info": infos}


def _encodeSwarmResult(result: SwarmResult) -> Dict[str, Any]:
    """
    A C{swarm_result}: C{result} 0 with a C{peer_group} when peers are
    listed, or 1 with the C{error_code} (and C{reason}) extension members.
    """
    obj: Dict[str, Any] = {"swarm_id": result.swarmID}
    if result.code is ResponseCode.OK:
        obj["result"] = 0
        if result.peers:
            obj["peer_group"] = _encodePeers(result.peers)
    else:
        obj["result"] = 1
        obj["error_code"] = JSON_ERROR_CODES[result.code]
        if result.reason:
            obj["reason"] = F.safeReason(result.reason)
    return obj


def _statGroups(stats: Tuple[Stat, ...]) -> List[Dict[str, Any]]:
    """
    The C{stat} objects of a C{stat_report}: each run of Stats with the
    same swarm and no repeated property makes one object, so that the order
    survives a round trip.

    @raise ValueError: a property has no JSON member name.
    """
    groups: List[Dict[str, Any]] = []
    current: Optional[Dict[str, Any]] = None
    currentSwarm: Optional[str] = None
    for stat in stats:
        member = _STAT_NAMES.get(stat.property.lower())
        if member is None:
            raise ValueError(f"the property {stat.property!r} cannot be written in RFC 7846 JSON")
        if current is None or stat.swarm != currentSwarm or member in current:
            current = {} if stat.swarm is None else {"swarm_id": stat.swarm}
            currentSwarm = stat.swarm
            groups.append(current)
        current[member] = _valueOut(stat.value)
    return groups


def _valueOut(value: str) -> Any:
    """
    A statistics value as JSON: an integer when the text is one (without
    leading zeros), else the text.
    """
    if value.isascii() and value.isdigit() and (value == "0" or value[0] != "0") and len(value) <= 20:
        return int(value)
    return value


def _peerNumOut(peerNum: Optional[int], stats: Tuple[Stat, ...]) -> Optional[Dict[str, Any]]:
    """
    A C{peer_num} object, or L{None} when there is nothing to write.

    @raise ValueError: a Stat is not one of the C{peer_num} members.
    """
    if peerNum is None and not stats:
        return None
    obj: Dict[str, Any] = {"peer_count": peerNum or 0}
    for stat in stats:
        member = _PEER_NUM_NAMES.get(stat.property.lower())
        if member is None or stat.swarm is not None:
            raise ValueError(f"the Stat {stat!r} is not a peer_num member")
        obj[member] = stat.value if member == "ability_nat" else _valueOut(stat.value)
    return obj


def _requestBody(request: Request) -> Tuple[str, Dict[str, Any]]:
    """
    The C{request_type} of a request and its members.

    @raise ValueError: RFC 7846 cannot carry the request.
    """
    if isinstance(request, PPSTPConnectRequest):
        if not request.swarmActions:
            raise ValueError("an RFC 7846 CONNECT needs at least one swarm action")
        connect: Dict[str, Any] = {}
        peerNum = _peerNumOut(request.peerNum, request.requesterStats)
        if peerNum is not None:
            connect["peer_num"] = peerNum
        if request.addresses is not None:
            connect["peer_addr"] = [_encodeAddress(a) for a in request.addresses]
        connect["swarm_action"] = [
            {"swarm_id": a.swarmID, "action": a.action.value, "peer_mode": _MODE_NAMES[a.mode]}
            for a in request.swarmActions
        ]
        return "CONNECT", {"connect": connect}
    if isinstance(request, FindRequest) and not isinstance(request, FindChunkRequest):
        if request.chunkID is not None or request.constraints:
            raise ValueError("RFC 7846 FIND carries neither a ChunkID nor constraints")
        find: Dict[str, Any] = {"swarm_id": request.swarmID}
        peerNum = _peerNumOut(request.peerNum, request.requesterStats)
        if peerNum is not None:
            find["peer_num"] = peerNum
        return "FIND", {"find": find}
    if isinstance(request, StatReportRequest):
        if not request.stats:
            raise ValueError("a STAT_REPORT without Stats is a KEEPALIVE in RFC 7846")
        return "STAT_REPORT", {
            "stat_report": {"type": "STREAM_STATS", "stat": _statGroups(request.stats)}
        }
    if isinstance(request, KeepAliveRequest):
        return "STAT_REPORT", {}
    raise ValueError(
        f"cannot encode {type(request).__name__} in RFC 7846 JSON "
        "(it has CONNECT with swarm actions, FIND and STAT_REPORT)"
    )


def _head(transactionID: str, responseType: int, errorCode: int) -> Dict[str, Any]:
    """
    The members every response starts with (an empty transaction ID, one
    that could not be read, is left out).
    """
    head: Dict[str, Any] = {"version": 1, "response_type": responseType, "error_code": errorCode}
    if transactionID:
        head["transaction_id"] = transactionID
    return head


def _responseBody(response: Response, root: Dict[str, Any]) -> None:
    """
    Add the members of a success response to C{root}.

    @raise ValueError: RFC 7846 cannot carry the response.
    """
    if isinstance(response, ConnectResponse):
        if response.reflexiveAddress is not None:
            root["peer_addr"] = _encodeAddress(response.reflexiveAddress)
        if isinstance(response, PPSTPConnectResponse) and response.swarmResults:
            root["swarm_result"] = [_encodeSwarmResult(r) for r in response.swarmResults]
        if response.authToken:
            root["auth_token"] = response.authToken
        root["keepalive_interval"] = response.keepAliveInterval
    elif isinstance(response, FindResponse) and not isinstance(response, FindChunkResponse):
        if response.chunkID is not None:
            raise ValueError("RFC 7846 FIND answers carry no ChunkID")
        root["swarm_result"] = [
            _encodeSwarmResult(SwarmResult(response.swarmID, peers=response.peers))
        ]
    elif isinstance(response, StatReportResponse):
        if response.swarmIDs:
            root["swarm_result"] = [{"swarm_id": s, "result": 0} for s in response.swarmIDs]
    elif isinstance(response, KeepAliveResponse):
        root["keepalive_interval"] = response.keepAliveInterval
    else:
        raise ValueError(f"cannot encode {type(response).__name__} in RFC 7846 JSON")


def _dump(root: Dict[str, Any]) -> bytes:
    """
    The UTF-8 JSON document C{{"PPSPTrackerProtocol": root}}.

    @raise ValueError: a text holds a lone surrogate.
    """
    return json.dumps(
        {_ROOT: root}, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def errorCode(code: ResponseCode) -> int:
    """
    The RFC 7846 C{error_code} of a response code.
    """
    return JSON_ERROR_CODES[code]


def bearerToken(header: Optional[bytes], maxLength: int = MAX_CREDENTIAL) -> Optional[str]:
    """
    Read an HTTP C{Authorization: Bearer <token>} header (PROTOCOL.md
    section 7).

    @param header: the header's value, or L{None} when there is none.
    @param maxLength: the most characters of the token.
    @return: the token, or L{None} when there is no header.
    @raise DecodeError: INVALID SYNTAX when the header is not a Bearer
        credential of printable characters within C{maxLength}.
    """
    if header is None:
        return None
    try:
        text = header.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError(_SYNTAX, "the Authorization header is not ASCII") from None
    scheme, _, token = text.strip(" \t").partition(" ")
    if scheme.lower() != "bearer":
        raise DecodeError(_SYNTAX, "the Authorization header is not a Bearer credential")
    return F.identifier(token.strip(" \t"), "the Authorization credential", maxLength)


@implementer(ICodec)
class JSONCodec:
    """
    The JSON encoding of RFC 7846 (PROTOCOL.md section 7).

    Instances hold no state; L{ppsp.codec.JSON_CODEC} is the shared one.

    A request's C{authToken} (and a CONNECT's credential) is not part of
    the body: send it as the HTTP C{Authorization} header that
    L{requestHeaders} returns.
    """

    #: The short name of the encoding.
    name = "json"

    #: The C{Content-Type} of what this codec writes.
    contentType = JSON_CONTENT_TYPE

    def decodeRequest(self, body: bytes) -> Request:
        """
        Decode one request.

        @param body: the HTTP body.
        @return: a L{PPSTPConnectRequest}, L{FindRequest},
            L{StatReportRequest} or L{KeepAliveRequest}, with
            C{sessionByAddress} set and no C{authToken} (L{requestFromHeaders}
            adds it from the HTTP C{Authorization} header).
        @raise DecodeError: the body is not a valid request; no other
            exception escapes, whatever the bytes.
        """
        return F.decodeGuarded("request", _decodeRequest, body)

    def decodeResponse(self, body: bytes, method: Method) -> Response:
        """
        Decode the response to a request of C{method} (C{CONNECT}, C{FIND},
        C{STAT_REPORT}, or C{KEEPALIVE} for a STAT_REPORT sent without
        statistics).

        @return: a L{PPSTPConnectResponse}, L{FindResponse},
            L{StatReportResponse}, L{KeepAliveResponse}, or an
            L{ErrorResponse}.
        @raise DecodeError: the body is not a valid response; no other
            exception escapes, whatever the bytes.
        """
        return F.decodeGuarded("response", _decodeResponse, body, method)

    def encodeRequest(self, request: Request) -> bytes:
        """
        Encode one request: a L{PPSTPConnectRequest}, a L{FindRequest}
        (without ChunkID or constraints), a L{StatReportRequest} (with
        Stats whose properties RFC 7846 names) or a L{KeepAliveRequest} (a
        STAT_REPORT without statistics).  C{authToken} and C{cer} are left
        out: see L{requestHeaders}.

        @raise ValueError: RFC 7846 cannot carry the request.
        """
        requestType, members = _requestBody(request)
        root: Dict[str, Any] = {
            "version": 1,
            "request_type": requestType,
            "transaction_id": request.transactionID,
            "peer_id": request.peerID,
        }
        root.update(members)
        return _dump(root)

    def requestHeaders(self, request: Request) -> Dict[bytes, List[bytes]]:
        """
        The HTTP headers to send with C{request}: C{Content-Type}, and
        C{Authorization: Bearer ...} with the request's C{authToken} (for
        a CONNECT, its C{cer} when it has one, else its C{authToken}), when
        there is one.

        @return: headers for L{twisted.web.http_headers.Headers}.
        """
        headers: Dict[bytes, List[bytes]] = {b"Content-Type": [JSON_CONTENT_TYPE]}
        token = request.authToken
        if isinstance(request, PPSTPConnectRequest) and request.cer is not None:
            token = request.cer
        if token is not None:
            headers[b"Authorization"] = [b"Bearer " + token.encode("ascii")]
        return headers

    def encodeResponse(self, response: Response) -> bytes:
        """
        Encode one response.  An error carries C{response_type} 1, its
        C{error_code} and a C{reason} extension member, and never a
        C{swarm_result} or a C{peer_addr} (RFC 7846 section 4.3).

        @raise ValueError: RFC 7846 cannot carry the response, or a text
            holds a lone surrogate.
        """
        if isinstance(response, ErrorResponse):
            root = _head(response.transactionID, 1, JSON_ERROR_CODES[response.errorCode])
            if response.reason:
                root["reason"] = F.safeReason(response.reason)
            return _dump(root)
        root = _head(response.transactionID, 0, 0)
        _responseBody(response, root)
        return _dump(root)

    def httpStatus(self, code: ResponseCode) -> int:
        """
        The HTTP status of a response with C{code} in this encoding
        (PROTOCOL.md section 7: 01 and 02 are 400, 03 is 403, 04 is 500,
        05 is 503, 06 is 401).
        """
        return _HTTP_STATUS[JSON_ERROR_CODES[code]]

    def requestFromHeaders(self, request: Request, headers: Headers) -> Request:
        """
        Put the HTTP C{Authorization: Bearer} credential of a request into
        it (PROTOCOL.md section 7): as the AuthToken, and for a CONNECT
        also as the credential (C{cer}), for the authenticator.  A
        credential that cannot be a token is a CONNECT's credential only.
        Of several C{Authorization} headers, the last counts.

        @param request: the request L{decodeRequest} returned.
        @param headers: the HTTP request's headers.
        @return: C{request} when there is no C{Authorization} header, else
            a copy that carries its credential.
        @raise DecodeError: INVALID SYNTAX for a malformed header, or for a
            request other than CONNECT, a credential that is not a valid
            AuthToken.
        """
        values = headers.getRawHeaders(b"authorization")
        if values is None:
            return request
        bearer = bearerToken(values[-1])
        if bearer is None:
            return request
        tokenOK = F.validIdentifier(bearer, F.IDENTIFIER_LENGTH)
        if isinstance(request, PPSTPConnectRequest):
            return dataclasses.replace(request, cer=bearer, authToken=bearer if tokenOK else None)
        if not tokenOK:
            raise DecodeError(
                _SYNTAX, "the Authorization token is not a valid AuthToken", request.transactionID
            )
        return dataclasses.replace(request, authToken=bearer)
