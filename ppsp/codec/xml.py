# -*- test-case-name: ppsp.test.test_codec -*-
"""
The XML encoding of the PPSP tracker protocol (PROTOCOL.md sections 2 to 5).

Decoding parses with one hardened lxml parser, refuses what the protocol
forbids (another encoding than UTF-8, a DTD, an entity reference, a
processing instruction, nesting deeper than L{MAX_DEPTH}), then walks the
root's children once, matching element names by their local name,
case-insensitively, in any order.  Every failure is a
L{ppsp.codec.DecodeError} that carries the TransactionID when it could be
read; nothing else escapes, whatever the bytes.

Encoding builds the document as a string (no element tree), escaping text
and attribute values, and returns UTF-8 bytes.  A value holding a
character that XML 1.0 cannot carry is a L{ValueError}, never invalid XML.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Set, Tuple, Type

from lxml import etree
from zope.interface import implementer

from ppsp.codec import _fields as F
from ppsp.codec._fields import DecodeError
from ppsp.interfaces import ICodec
from ppsp.messages import (
    AddressType,
    ChunkRange,
    ConnectRequest,
    ConnectResponse,
    DisconnectRequest,
    DisconnectResponse,
    ErrorResponse,
    FindChunkRequest,
    FindChunkResponse,
    FindRequest,
    FindResponse,
    JoinChunkRequest,
    JoinChunkResponse,
    JoinRequest,
    JoinResponse,
    KeepAliveRequest,
    KeepAliveResponse,
    LeaveRequest,
    LeaveResponse,
    Method,
    PeerAddress,
    PeerInfo,
    PeerMode,
    Request,
    Response,
    ResponseCode,
    Stat,
    StatQueryRequest,
    StatQueryResponse,
    StatReportRequest,
    StatReportResponse,
)

if TYPE_CHECKING:
    from twisted.web.http_headers import Headers

__all__ = ["XML_CONTENT_TYPE", "MAX_DEPTH", "XMLCodec"]

#: The C{Content-Type} of the XML messages this codec writes.
XML_CONTENT_TYPE = b"application/ppsp-tracker+xml; charset=utf-8"

#: The deepest element nesting accepted (the root is level 1).
MAX_DEPTH = 16

_Element = etree._Element

_SYNTAX = ResponseCode.INVALID_SYNTAX
_WS = F.WHITESPACE

# One parser, for the reactor thread.  It never loads a DTD, never resolves
# an entity, never touches the network, keeps libxml2's size and depth
# limits (huge_tree=False), drops comments, keeps processing instructions
# (to refuse them), and reads every document as UTF-8 (a declared encoding
# is checked separately, see _parse).
_PARSER = etree.XMLParser(
    encoding="utf-8",
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    attribute_defaults=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=False,
    collect_ids=False,
    strip_cdata=True,
)

# The declaration this codec writes, accepted without a closer look.
_PLAIN_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'

# Any XML declaration at the start of a body (after an optional UTF-8 byte
# order mark), and the encoding it names, if any.
_DECLARATION = re.compile(
    rb"(?:\xef\xbb\xbf)?<\?xml[ \t\r\n]"
    rb"(?:[^>]*?[ \t\r\n]encoding[ \t\r\n]*=[ \t\r\n]*[\"']([^\"'>]*)[\"'])?"
)
_UTF8_NAMES = frozenset([b"utf-8", b"utf8"])

# True when the root has a descendant deeper than MAX_DEPTH.
_TOO_DEEP = etree.XPath("boolean(" + "*/" * (MAX_DEPTH - 1) + "*)")

# A document with at most this many "<" cannot nest deeper than MAX_DEPTH:
# an element at depth d needs d start tags and d - 1 end tags.
_SHALLOW_TAGS = 2 * (MAX_DEPTH + 1) - 2

_ROOT = "ppsptrackerprotocol"
_CHUNK_TAGS = frozenset(["chunkid", "chunkrange", "chunks"])

# Methods and response codes by their canonical wire text; other spellings
# go through Method.fromWire and ResponseCode.fromWire.
_METHODS: Dict[str, Method] = {method.value: method for method in Method}
_CODES: Dict[str, ResponseCode] = {code.text: code for code in ResponseCode}


# Decoding helpers -----------------------------------------------------------

# Lower-cased local names of the tags seen, so that the usual tags cost one
# dictionary look-up.  It starts with the profile's names as this codec and
# the slides write them, and is bounded: hostile input cannot make it grow
# forever, nor push the usual names out.
_KNOWN_NAMES = (
    "PPSPTrackerProtocol Method Response TransactionID PeerID AuthToken Cer "
    "PeerAddresses PeerAddress StatPort Stats Stat SwarmID PeerMode ExpireTime "
    "PeerNum Peernum ChunkID ChunkRange Chunks StatRequest Reason "
    "ReflexiveAddress KeepAliveInterval Peers Peer RESPONSE"
).split()
_NAMES: Dict[str, str] = {name: name.lower() for name in _KNOWN_NAMES}
_NAMES.update({name.lower(): name.lower() for name in _KNOWN_NAMES})
_NAMES_LIMIT = 512


def _localName(tag: str) -> str:
    """
    The lower-cased local name of an element tag (C{{ns}Name} or C{Name}).

    @param tag: the tag as lxml gives it.
    """
    name = _NAMES.get(tag)
    if name is None:
        name = tag[tag.rfind("}") + 1 :].lower()
        if len(_NAMES) < _NAMES_LIMIT:
            _NAMES[tag] = name
    return name


class _Children:
    """
    The element children of one element, by lower-cased local name.

    @ivar first: the first child of each name.
    @ivar repeated: the names given more than once.
    @ivar chunks: the C{ChunkID}, C{ChunkRange} and C{Chunks} children, in
        document order.
    """

    __slots__ = ("first", "repeated", "chunks")

    def __init__(self, parent: _Element) -> None:
        """
        Walk the children of C{parent} once.

        @param parent: the element.
        """
        first: Dict[str, _Element] = {}
        repeated: Set[str] = set()
        chunks: List[_Element] = []
        names = _NAMES
        for child in parent:
            tag = child.tag
            if not isinstance(tag, str):
                # Comments are dropped by the parser; processing
                # instructions and entities are refused before this.
                continue
            name = names.get(tag)
            if name is None:
                name = _localName(tag)
            if name in first:
                repeated.add(name)
            else:
                first[name] = child
            if name in _CHUNK_TAGS:
                chunks.append(child)
        self.first = first
        self.repeated = repeated
        self.chunks = chunks

    def get(self, key: str, name: str) -> Optional[_Element]:
        """
        The only child called C{key}, or L{None}.

        @param key: the lower-cased local name.
        @param name: the element's name as the protocol writes it, for the
            error reason.
        @raise DecodeError: the element is given more than once.
        """
        element = self.first.get(key)
        if element is not None and key in self.repeated:
            raise DecodeError(_SYNTAX, f"<{name}> is given more than once")
        return element

    def text(self, key: str, name: str) -> Optional[str]:
        """
        The stripped text of the only child called C{key}, or L{None} when
        there is none.

        @param key: the lower-cased local name.
        @param name: the element's name as the protocol writes it.
        @raise DecodeError: the element is repeated or holds elements.
        """
        element = self.first.get(key)
        if element is None:
            return None
        if key in self.repeated:
            raise DecodeError(_SYNTAX, f"<{name}> is given more than once")
        return _text(element, name)

    def required(self, key: str, name: str) -> str:
        """
        The stripped text of the only child called C{key}.

        @param key: the lower-cased local name.
        @param name: the element's name as the protocol writes it.
        @raise DecodeError: the element is missing, repeated, or holds
            elements.
        """
        element = self.first.get(key)
        if element is None:
            raise DecodeError(_SYNTAX, f"<{name}> is missing")
        if key in self.repeated:
            raise DecodeError(_SYNTAX, f"<{name}> is given more than once")
        return _text(element, name)


def _text(element: _Element, name: str) -> str:
    """
    The text of an element that holds text only, without surrounding XML
    white space; the empty string for an empty element.

    @param element: the element.
    @param name: the element's name as the protocol writes it.
    @raise DecodeError: the element holds elements.
    """
    if len(element):
        raise DecodeError(_SYNTAX, f"<{name}> must hold text only")
    text = element.text
    if text is None:
        return ""
    return text.strip(_WS)


def _attr(element: _Element, name: str) -> Optional[str]:
    """
    An attribute's value, found by its local name, case-insensitively.

    @param element: the element.
    @param name: the lower-case attribute name.
    @return: the value, or L{None} when the attribute is absent.
    """
    value = element.get(name)
    if value is None and len(element.attrib):
        for key, candidate in element.items():
            if key[key.rfind("}") + 1 :].lower() == name:
                return candidate
    return value


def _isElement(element: _Element, key: str) -> bool:
    """
    Whether C{element} is an element (not a comment or a processing
    instruction) whose lower-cased local name is C{key}.
    """
    tag = element.tag
    return isinstance(tag, str) and _localName(tag) == key


def _peerAddress(
    element: _Element, name: str, defaultType: AddressType = AddressType.HOST
) -> PeerAddress:
    """
    Decode a C{<PeerAddress ip="" port="" type="" priority=""/>} (or a
    C{<ReflexiveAddress>}): C{ip} and C{port} required, C{type} defaults to
    C{defaultType}, C{priority} optional.

    @param element: the element.
    @param name: its name as the protocol writes it.
    @param defaultType: the type of an address without a C{type}.
    """
    ip = _attr(element, "ip")
    port = _attr(element, "port")
    if ip is None:
        raise DecodeError(_SYNTAX, f"<{name}> has no ip attribute")
    if port is None:
        raise DecodeError(_SYNTAX, f"<{name}> has no port attribute")
    kind = _attr(element, "type")
    priority = _attr(element, "priority")
    return PeerAddress(
        F.ipAddress(ip, f"<{name}> ip"),
        F.integer(port, f"<{name}> port", F.PORT),
        defaultType if kind is None else F.addressType(kind),
        None if priority is None else F.integer(priority, f"<{name}> priority", F.PRIORITY),
    )


def _peerAddresses(element: _Element) -> Tuple[PeerAddress, ...]:
    """
    Decode the C{<PeerAddress>} children of a C{<PeerAddresses>}; other
    children are ignored.
    """
    return tuple(
        [
            _peerAddress(child, "PeerAddress")
            for child in element
            if _isElement(child, "peeraddress")
        ]
    )


def _property(element: _Element) -> str:
    """
    The checked C{property} attribute of a C{<Stat>}.
    """
    prop = _attr(element, "property")
    if prop is None:
        raise DecodeError(_SYNTAX, "<Stat> has no property attribute")
    return F.identifier(prop.strip(_WS), "Stat property", F.PROPERTY_LENGTH)


def _stats(element: _Element) -> Tuple[Stat, ...]:
    """
    Decode the C{<Stat property="" swarm="">value</Stat>} children of a
    C{<Stats>}; other children are ignored.  Values are kept as text.
    """
    stats = []
    for child in element:
        if not _isElement(child, "stat"):
            continue
        swarm = _attr(child, "swarm")
        stats.append(
            Stat(
                _property(child),
                _text(child, "Stat"),
                None
                if swarm is None
                else F.identifier(swarm.strip(_WS), "Stat swarm", F.IDENTIFIER_LENGTH),
            )
        )
    return tuple(stats)


def _optionalStats(children: _Children) -> Tuple[Stat, ...]:
    """
    The stats of the only C{<Stats>} child, or none.
    """
    element = children.get("stats", "Stats")
    return () if element is None else _stats(element)


def _optionalInteger(
    children: _Children, key: str, name: str, bounds: Tuple[int, int]
) -> Optional[int]:
    """
    The value of the only integer child called C{key}, or L{None}.

    @param bounds: the smallest and the largest value allowed.
    """
    text = children.text(key, name)
    return None if text is None else F.integer(text, name, bounds)


def _chunk(element: _Element, key: str) -> ChunkRange:
    """
    Decode a C{<ChunkID>n</ChunkID>} or a C{<ChunkRange from="" to=""/>}.

    @param key: the element's lower-cased local name.
    """
    if key == "chunkid":
        chunkID = F.integer(_text(element, "ChunkID"), "ChunkID", F.CHUNK_ID)
        return ChunkRange(chunkID, chunkID)
    start = _attr(element, "from")
    end = _attr(element, "to")
    if start is None or end is None:
        raise DecodeError(_SYNTAX, "<ChunkRange> needs both a from and a to attribute")
    return F.chunkRange(
        F.integer(start, "ChunkRange from", F.CHUNK_ID),
        F.integer(end, "ChunkRange to", F.CHUNK_ID),
    )


def _chunks(elements: List[_Element]) -> Tuple[ChunkRange, ...]:
    """
    Decode the chunks a JOIN_CHUNK announces, in the order sent: direct
    C{ChunkID} and C{ChunkRange} children, and those inside C{<Chunks>}.

    @param elements: the C{ChunkID}, C{ChunkRange} and C{Chunks} children
        of the root, in document order.
    """
    ranges = []
    for element in elements:
        key = _localName(str(element.tag))
        if key == "chunks":
            for child in element:
                tag = child.tag
                if isinstance(tag, str):
                    inner = _localName(tag)
                    if inner == "chunkid" or inner == "chunkrange":
                        ranges.append(_chunk(child, inner))
        else:
            ranges.append(_chunk(element, key))
    return tuple(ranges)


def _peers(element: _Element) -> Tuple[PeerInfo, ...]:
    """
    Decode the C{<Peer>} children of a C{<Peers>}: each a C{<PeerID>}, a
    C{<PeerMode>} (LEECH when absent) and a C{<PeerAddresses>} (none when
    absent).
    """
    peers = []
    for child in element:
        if not _isElement(child, "peer"):
            continue
        fields = _Children(child)
        mode = fields.text("peermode", "PeerMode")
        addresses = fields.get("peeraddresses", "PeerAddresses")
        peers.append(
            PeerInfo(
                F.identifier(fields.required("peerid", "PeerID"), "PeerID", F.IDENTIFIER_LENGTH),
                PeerMode.LEECH if mode is None else F.peerMode(mode),
                () if addresses is None else _peerAddresses(addresses),
            )
        )
    return tuple(peers)


def _swarmID(children: _Children) -> str:
    """
    The required, checked C{<SwarmID>}.
    """
    return F.identifier(children.required("swarmid", "SwarmID"), "SwarmID", F.IDENTIFIER_LENGTH)


# Requests, by method: each takes the root's children and the fields every
# request has (TransactionID, PeerID, AuthToken).

_Common = Tuple[str, str, Optional[str]]


def _decodeConnect(children: _Children, common: _Common) -> ConnectRequest:
    """
    CONNECT: optional C{<Cer>}, C{<PeerAddresses>}, C{<StatPort>},
    C{<Stats>}.
    """
    addresses = children.get("peeraddresses", "PeerAddresses")
    return ConnectRequest(
        *common,
        cer=children.text("cer", "Cer"),
        addresses=() if addresses is None else _peerAddresses(addresses),
        statPort=_optionalInteger(children, "statport", "StatPort", F.STAT_PORT),
        stats=_optionalStats(children),
    )


def _decodeJoin(children: _Children, common: _Common) -> JoinRequest:
    """
    JOIN: C{<SwarmID>}; optional C{<PeerMode>}, C{<ExpireTime>},
    C{<PeerNum>}, C{<Stats>}.
    """
    swarmID = _swarmID(children)
    mode = children.text("peermode", "PeerMode")
    expire = children.text("expiretime", "ExpireTime")
    expireTime, expireAt = (None, None) if expire is None else F.expireTime(expire)
    return JoinRequest(
        *common,
        swarmID=swarmID,
        mode=PeerMode.LEECH if mode is None else F.peerMode(mode),
        expireTime=expireTime,
        expireAt=expireAt,
        peerNum=_optionalInteger(children, "peernum", "PeerNum", F.PEER_NUM),
        stats=_optionalStats(children),
    )


def _decodeJoinChunk(children: _Children, common: _Common) -> JoinChunkRequest:
    """
    JOIN_CHUNK: C{<SwarmID>} and any number of chunks, direct or in one
    C{<Chunks>} wrapper.
    """
    swarmID = _swarmID(children)
    children.get("chunks", "Chunks")  # refuses a second wrapper
    return JoinChunkRequest(*common, swarmID=swarmID, chunks=_chunks(children.chunks))


def _decodeLeave(children: _Children, common: _Common) -> LeaveRequest:
    """
    LEAVE: C{<SwarmID>}.
    """
    return LeaveRequest(*common, swarmID=_swarmID(children))


def _decodeFind(children: _Children, common: _Common) -> FindRequest:
    """
    FIND: C{<SwarmID>}; optional C{<PeerNum>}, C{<ChunkID>}, C{<Stats>}.
    """
    return FindRequest(
        *common,
        swarmID=_swarmID(children),
        peerNum=_optionalInteger(children, "peernum", "PeerNum", F.PEER_NUM),
        chunkID=_optionalInteger(children, "chunkid", "ChunkID", F.CHUNK_ID),
        constraints=_optionalStats(children),
    )


def _decodeFindChunk(children: _Children, common: _Common) -> FindChunkRequest:
    """
    FIND_CHUNK: as FIND, with a required C{<ChunkID>}.
    """
    swarmID = _swarmID(children)
    chunkID = _optionalInteger(children, "chunkid", "ChunkID", F.CHUNK_ID)
    if chunkID is None:
        raise DecodeError(_SYNTAX, "FIND_CHUNK needs a <ChunkID>")
    return FindChunkRequest(
        *common,
        swarmID=swarmID,
        peerNum=_optionalInteger(children, "peernum", "PeerNum", F.PEER_NUM),
        chunkID=chunkID,
        constraints=_optionalStats(children),
    )


def _decodeKeepAlive(children: _Children, common: _Common) -> KeepAliveRequest:
    """
    KEEPALIVE: nothing more.
    """
    return KeepAliveRequest(*common)


def _decodeDisconnect(children: _Children, common: _Common) -> DisconnectRequest:
    """
    DISCONNECT: nothing more.
    """
    return DisconnectRequest(*common)


def _decodeStatReport(children: _Children, common: _Common) -> StatReportRequest:
    """
    STAT_REPORT: C{<Stats>} (none when absent; the tracker core decides).
    """
    return StatReportRequest(*common, stats=_optionalStats(children))


def _decodeStatQuery(children: _Children, common: _Common) -> StatQueryRequest:
    """
    STAT_QUERY: C{<StatRequest>} naming properties with C{<Stat
    property=""/>}; absent or empty asks for everything.
    """
    element = children.get("statrequest", "StatRequest")
    properties: Tuple[str, ...] = ()
    if element is not None:
        properties = tuple(
            [_property(child) for child in element if _isElement(child, "stat")]
        )
    return StatQueryRequest(*common, properties=properties)


_REQUEST_DECODERS: Dict[Method, Callable[[_Children, _Common], Request]] = {
    Method.CONNECT: _decodeConnect,
    Method.DISCONNECT: _decodeDisconnect,
    Method.JOIN: _decodeJoin,
    Method.JOIN_CHUNK: _decodeJoinChunk,
    Method.LEAVE: _decodeLeave,
    Method.FIND: _decodeFind,
    Method.FIND_CHUNK: _decodeFindChunk,
    Method.KEEPALIVE: _decodeKeepAlive,
    Method.STAT_REPORT: _decodeStatReport,
    Method.STAT_QUERY: _decodeStatQuery,
}


# Success responses, by method: each takes the root's children and the
# TransactionID.


def _optionalSwarmID(children: _Children) -> str:
    """
    The checked C{<SwarmID>} of a response, or the empty string.
    """
    text = children.text("swarmid", "SwarmID")
    return "" if text is None else F.identifier(text, "SwarmID", F.IDENTIFIER_LENGTH)


def _keepAliveInterval(children: _Children) -> int:
    """
    The C{<KeepAliveInterval>} of a response, 60 when absent (the model's
    default).
    """
    value = _optionalInteger(
        children, "keepaliveinterval", "KeepAliveInterval", F.KEEPALIVE_INTERVAL
    )
    return 60 if value is None else value


def _decodeConnectResponse(children: _Children, tid: str) -> ConnectResponse:
    """
    OK to CONNECT: C{<AuthToken>}, C{<ReflexiveAddress>} (type REFLEXIVE
    unless it says otherwise), C{<KeepAliveInterval>}.
    """
    token = children.text("authtoken", "AuthToken")
    reflexive = children.get("reflexiveaddress", "ReflexiveAddress")
    return ConnectResponse(
        tid,
        authToken="" if token is None else F.identifier(token, "AuthToken", F.IDENTIFIER_LENGTH),
        reflexiveAddress=None
        if reflexive is None
        else _peerAddress(reflexive, "ReflexiveAddress", AddressType.REFLEXIVE),
        keepAliveInterval=_keepAliveInterval(children),
    )


def _decodeJoinResponse(children: _Children, tid: str) -> JoinResponse:
    """
    OK to JOIN: C{<SwarmID>}, and C{<Peers>} for a LEECH (L{None} when
    absent).
    """
    peers = children.get("peers", "Peers")
    return JoinResponse(
        tid,
        swarmID=_optionalSwarmID(children),
        peers=None if peers is None else _peers(peers),
    )


def _findResponse(
    cls: Type[FindResponse],
) -> Callable[[_Children, str], Response]:
    """
    The decoder of OK to FIND or FIND_CHUNK: C{<SwarmID>}, optional
    C{<ChunkID>}, C{<Peers>} (empty when absent).

    @param cls: L{FindResponse} or L{FindChunkResponse}.
    """

    def decode(children: _Children, tid: str) -> Response:
        """
        Decode the response into a C{cls}.
        """
        peers = children.get("peers", "Peers")
        return cls(
            tid,
            swarmID=_optionalSwarmID(children),
            peers=() if peers is None else _peers(peers),
            chunkID=_optionalInteger(children, "chunkid", "ChunkID", F.CHUNK_ID),
        )

    return decode


def _decodeKeepAliveResponse(children: _Children, tid: str) -> KeepAliveResponse:
    """
    OK to KEEPALIVE: C{<KeepAliveInterval>}.
    """
    return KeepAliveResponse(tid, keepAliveInterval=_keepAliveInterval(children))


def _decodeStatQueryResponse(children: _Children, tid: str) -> StatQueryResponse:
    """
    OK to STAT_QUERY: C{<PeerID>} and C{<Stats>}.
    """
    peerID = children.text("peerid", "PeerID")
    return StatQueryResponse(
        tid,
        peerID="" if peerID is None else F.identifier(peerID, "PeerID", F.IDENTIFIER_LENGTH),
        stats=_optionalStats(children),
    )


def _plainResponse(cls: Type[Response]) -> Callable[[_Children, str], Response]:
    """
    The decoder of a success response that carries nothing but the
    TransactionID.

    @param cls: the response class.
    """

    def decode(children: _Children, tid: str) -> Response:
        """
        Make the C{cls} response.
        """
        return cls(tid)

    return decode


_RESPONSE_DECODERS: Dict[Method, Callable[[_Children, str], Response]] = {
    Method.CONNECT: _decodeConnectResponse,
    Method.DISCONNECT: _plainResponse(DisconnectResponse),
    Method.JOIN: _decodeJoinResponse,
    Method.JOIN_CHUNK: _plainResponse(JoinChunkResponse),
    Method.LEAVE: _plainResponse(LeaveResponse),
    Method.FIND: _findResponse(FindResponse),
    Method.FIND_CHUNK: _findResponse(FindChunkResponse),
    Method.KEEPALIVE: _decodeKeepAliveResponse,
    Method.STAT_REPORT: _plainResponse(StatReportResponse),
    Method.STAT_QUERY: _decodeStatQueryResponse,
}


# The document as a whole --------------------------------------------------


def _parse(body: bytes) -> Tuple[_Element, bool]:
    """
    Parse a body with the hardened parser.

    @return: the root element, and whether the body starts with an XML
        declaration.
    @raise DecodeError: the body is not UTF-8, declares another encoding,
        or is not well-formed.
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(_SYNTAX, "the body is not valid UTF-8") from None
    if body.startswith(_PLAIN_DECLARATION):
        declared = True
    else:
        declaration = _DECLARATION.match(body)
        declared = declaration is not None
        if declaration is not None:
            encoding = declaration.group(1)
            if encoding is not None and encoding.strip().lower() not in _UTF8_NAMES:
                raise DecodeError(
                    _SYNTAX,
                    f"the XML declaration names the encoding "
                    f"{F.quote(encoding.decode('utf-8'))}, not UTF-8",
                )
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as e:
        raise DecodeError(
            _SYNTAX, F.safeReason(f"the body is not well-formed XML: {e}")
        ) from None
    return root, declared


def _refuseHostile(root: _Element, body: bytes, declared: bool) -> None:
    """
    Refuse what the protocol forbids in a well-formed document: a DTD (and
    with it any entity declaration), an entity reference, a processing
    instruction, nesting deeper than L{MAX_DEPTH}.

    The byte tests below are exact shortcuts, not filters: the body is
    valid UTF-8 and was parsed as UTF-8, so each construct shows in the
    bytes (a processing instruction as C{<?}, an entity reference as C{&},
    each level of nesting as a C{<}); the tree is searched only when one
    may be there.

    @param root: the parsed root element.
    @param body: the bytes it was parsed from.
    @param declared: whether C{body} starts with an XML declaration.
    @raise DecodeError: the document holds one of them.
    """
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise DecodeError(_SYNTAX, "a DTD is not allowed")
    if body.count(b"<?") > declared and _hasProcessingInstruction(root):
        raise DecodeError(_SYNTAX, "a processing instruction is not allowed")
    if b"&" in body and _hasEntity(root):
        raise DecodeError(_SYNTAX, "an entity reference is not allowed")
    if body.count(b"<") > _SHALLOW_TAGS and _TOO_DEEP(root):
        raise DecodeError(_SYNTAX, f"the document nests deeper than {MAX_DEPTH} levels")


def _hasProcessingInstruction(root: _Element) -> bool:
    """
    Whether the document of C{root} holds a processing instruction, around
    the root or inside it.
    """
    pi = etree._ProcessingInstruction
    for sibling in root.itersiblings(preceding=True):
        if isinstance(sibling, pi):
            return True
    for sibling in root.itersiblings():
        if isinstance(sibling, pi):
            return True
    for _ in root.iter(etree.ProcessingInstruction):
        return True
    return False


def _hasEntity(root: _Element) -> bool:
    """
    Whether C{root} holds an entity reference.  Without a DTD, libxml2
    refuses an undefined entity itself: this is a second line of defence.
    """
    for _ in root.iter(etree.Entity):
        return True
    return False


def _envelope(body: bytes, kind: str) -> Tuple[_Children, Optional[str]]:
    """
    Parse a message and read what every message shares: the children of
    the root and the TransactionID (first, so that every later error can
    carry it); then check the document, the root and its version.

    @param kind: C{"method"} for a request, C{"response"} for a response.
    @return: the root's children and the TransactionID (L{None} when
        absent).
    @raise DecodeError: the body is not a PPSP message of a supported
        version, or not of the expected kind (carrying the TransactionID
        when it could be read), or its TransactionID cannot be read.
    """
    root, declared = _parse(body)
    children = _Children(root)
    tid: Optional[str] = None
    tidError: Optional[DecodeError] = None
    try:
        text = children.text("transactionid", "TransactionID")
        if text is not None:
            tid = F.identifier(text, "TransactionID", F.TRANSACTION_ID_LENGTH)
    except DecodeError as e:
        tidError = e
    try:
        _refuseHostile(root, body, declared)
    except DecodeError as e:
        raise F.withTransactionID(e, tid) from None
    tag = root.tag
    if not isinstance(tag, str) or _localName(tag) != _ROOT:
        raise DecodeError(_SYNTAX, "the root element is not <PPSPTrackerProtocol>", tid)
    version = _attr(root, "version")
    if version is None:
        raise DecodeError(_SYNTAX, "the version attribute is missing", tid)
    if version != "1.0":
        version = version.strip(_WS)
        if version != "1.0" and version != "1":
            raise DecodeError(
                ResponseCode.VERSION_NOT_SUPPORTED,
                f"version {F.quote(version)} is not supported (1.0 is)",
                tid,
            )
    first = children.first
    F.checkKind(kind == "method", "method" in first, "response" in first, "<Method>", "<Response>", tid, tidError)
    return children, tid


def _decodeRequest(body: bytes) -> Request:
    """
    Decode a request; see L{XMLCodec.decodeRequest}.
    """
    children, tid = _envelope(body, "method")
    try:
        tid = F.requireTransactionID(tid, "<TransactionID>")
        methodText = children.required("method", "Method")
        method = _METHODS.get(methodText)
        if method is None:
            try:
                method = Method.fromWire(methodText)
            except ValueError:
                raise DecodeError(
                    ResponseCode.MESSAGE_NOT_SUPPORTED,
                    f"method {F.quote(methodText)} is not supported",
                ) from None
        peerID = F.identifier(children.required("peerid", "PeerID"), "PeerID", F.IDENTIFIER_LENGTH)
        token = children.text("authtoken", "AuthToken")
        if token is not None:
            token = F.identifier(token, "AuthToken", F.IDENTIFIER_LENGTH)
        return _REQUEST_DECODERS[method](children, (tid, peerID, token))
    except DecodeError as e:
        raise F.withTransactionID(e, tid) from None


def _responseCode(text: str, method: Method) -> ResponseCode:
    """
    Read the text of C{<Response>}: a response code in any case
    (C{SUCCESSFUL} means OK), or the name of C{method} itself, which the
    draft's slides write for OK.

    @raise DecodeError: the text is neither.
    """
    code = _CODES.get(text)
    if code is not None:
        return code
    try:
        return ResponseCode.fromWire(text)
    except ValueError:
        pass
    try:
        named: Optional[Method] = Method.fromWire(text)
    except ValueError:
        named = None
    if named is not method:
        raise DecodeError(_SYNTAX, f"response code {F.quote(text)} is not known")
    return ResponseCode.OK


def _decodeResponse(body: bytes, method: Method) -> Response:
    """
    Decode a response; see L{XMLCodec.decodeResponse}.
    """
    children, tid = _envelope(body, "response")
    try:
        code = _responseCode(children.required("response", "Response"), method)
        if code is not ResponseCode.OK:
            reason = children.text("reason", "Reason")
            return ErrorResponse(tid or "", code, reason or "")
        tid = F.requireTransactionID(tid, "<TransactionID>")
        return _RESPONSE_DECODERS[method](children, tid)
    except DecodeError as e:
        raise F.withTransactionID(e, tid) from None


# Encoding -------------------------------------------------------------------

_HEAD = '<?xml version="1.0" encoding="UTF-8"?><PPSPTrackerProtocol version="1.0">'
_TAIL = "</PPSPTrackerProtocol>"

# What must be escaped in text and attribute values, and what XML 1.0
# cannot carry at all.  Tab, line feed and carriage return are written as
# character references so that neither attribute normalisation nor line
# end normalisation changes them.
_SPECIAL = re.compile('[&<>"\x00-\x1f\ud800-\udfff\ufffe\uffff]')
_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "\t": "&#9;",
    "\n": "&#10;",
    "\r": "&#13;",
}


def _escapeOne(match: "re.Match[str]") -> str:
    """
    The escaped form of one special character.

    @raise ValueError: XML 1.0 cannot carry the character.
    """
    char = match.group()
    escaped = _ESCAPES.get(char)
    if escaped is None:
        raise ValueError(f"U+{ord(char):04X} cannot be written in XML 1.0")
    return escaped


def _esc(value: str) -> str:
    """
    Escape a text or attribute value.

    @raise ValueError: the value holds a character XML 1.0 cannot carry.
    """
    if _SPECIAL.search(value) is None:
        return value
    return _SPECIAL.sub(_escapeOne, value)


def _plain(text: str) -> bool:
    """
    Whether C{text} can be written as it is, in text and in attribute
    values.  Fast and conservative: C{False} sends the caller to L{_esc}.
    """
    return (
        text.isprintable()
        and "&" not in text
        and "<" not in text
        and ">" not in text
        and '"' not in text
    )


def _encodeAddress(address: PeerAddress) -> str:
    """
    A C{<PeerAddress>} element (C{priority} left out when L{None}).
    """
    priority = address.priority
    return (
        f'<PeerAddress ip="{_esc(address.ip)}" port="{address.port:d}" '
        f'type="{address.type._value_}"'
        + ("/>" if priority is None else f' priority="{priority:d}"/>')
    )


def _encodeAddresses(addresses: Tuple[PeerAddress, ...]) -> str:
    """
    A C{<PeerAddresses>} element.
    """
    return "<PeerAddresses>" + "".join([_encodeAddress(a) for a in addresses]) + "</PeerAddresses>"


def _encodeStat(stat: Stat) -> str:
    """
    A C{<Stat>} element (C{swarm} left out when L{None}).
    """
    swarm = stat.swarm
    return (
        f'<Stat property="{_esc(stat.property)}"'
        + ("" if swarm is None else f' swarm="{_esc(swarm)}"')
        + f">{_esc(stat.value)}</Stat>"
    )


def _encodeStats(stats: Tuple[Stat, ...]) -> str:
    """
    A C{<Stats>} element.
    """
    return "<Stats>" + "".join([_encodeStat(s) for s in stats]) + "</Stats>"


def _encodePeers(peers: Tuple[PeerInfo, ...]) -> str:
    """
    A C{<Peers>} element (the peer list of FIND, FIND_CHUNK and JOIN).

    This is the bulk of the tracker's output, so the PeerIDs and addresses
    are first written as they are, then checked all at once; only a list
    holding a character to escape is written again, escaped.
    """
    parts = ["<Peers>"]
    append = parts.append
    texts: List[str] = []
    note = texts.append
    for peer in peers:
        peerID = peer.peerID
        note(peerID)
        append(
            f"<Peer><PeerID>{peerID}</PeerID>"
            f"<PeerMode>{peer.mode._value_}</PeerMode><PeerAddresses>"
        )
        for address in peer.addresses:
            ip = address.ip
            note(ip)
            priority = address.priority
            # Ports and priorities are ints (the model's type): written
            # without a format check, which costs here.
            if priority is None:
                append(
                    f'<PeerAddress ip="{ip}" port="{address.port}" '
                    f'type="{address.type._value_}"/>'
                )
            else:
                append(
                    f'<PeerAddress ip="{ip}" port="{address.port}" '
                    f'type="{address.type._value_}" priority="{priority}"/>'
                )
        append("</PeerAddresses></Peer>")
    append("</Peers>")
    if _plain("".join(texts)):
        return "".join(parts)
    return _encodePeersEscaped(peers)


def _encodePeersEscaped(peers: Tuple[PeerInfo, ...]) -> str:
    """
    A C{<Peers>} element whose values need escaping (see L{_encodePeers}).

    @raise ValueError: a value holds a character XML 1.0 cannot carry.
    """
    return (
        "<Peers>"
        + "".join(
            [
                f"<Peer><PeerID>{_esc(peer.peerID)}</PeerID>"
                f"<PeerMode>{peer.mode._value_}</PeerMode>"
                + _encodeAddresses(peer.addresses)
                + "</Peer>"
                for peer in peers
            ]
        )
        + "</Peers>"
    )


def _encodeExpire(request: JoinRequest) -> str:
    """
    The C{<ExpireTime>} of a JOIN: seconds, or an ISO 8601 UTC time for
    C{expireAt}; nothing when neither is set.

    @raise ValueError: both are set, or the value cannot be written.
    """
    if request.expireAt is not None:
        if request.expireTime is not None:
            raise ValueError("a JOIN cannot carry both expireTime and expireAt in XML")
        return f"<ExpireTime>{F.formatTimestamp(request.expireAt)}</ExpireTime>"
    if request.expireTime is not None:
        return f"<ExpireTime>{F.formatSeconds(request.expireTime)}</ExpireTime>"
    return ""


def _encodeChunk(chunk: ChunkRange) -> str:
    """
    A C{<ChunkID>} for a single chunk, else a C{<ChunkRange>}.
    """
    if chunk.start == chunk.end:
        return f"<ChunkID>{chunk.start:d}</ChunkID>"
    return f'<ChunkRange from="{chunk.start:d}" to="{chunk.end:d}"/>'


def _optional(element: str, value: Optional[int]) -> str:
    """
    An integer element, or nothing when C{value} is L{None}.
    """
    return "" if value is None else f"<{element}>{value:d}</{element}>"


def _requestBody(request: Request) -> str:
    """
    The method-specific elements of a request.

    @raise ValueError: the request is not one of the protocol's.
    """
    if isinstance(request, FindRequest):
        return (
            f"<SwarmID>{_esc(request.swarmID)}</SwarmID>"
            + _optional("PeerNum", request.peerNum)
            + _optional("ChunkID", request.chunkID)
            + (_encodeStats(request.constraints) if request.constraints else "")
        )
    if isinstance(request, JoinRequest):
        return (
            f"<SwarmID>{_esc(request.swarmID)}</SwarmID>"
            f"<PeerMode>{request.mode._value_}</PeerMode>"
            + _encodeExpire(request)
            + _optional("PeerNum", request.peerNum)
            + (_encodeStats(request.stats) if request.stats else "")
        )
    if isinstance(request, JoinChunkRequest):
        return f"<SwarmID>{_esc(request.swarmID)}</SwarmID>" + "".join(
            [_encodeChunk(c) for c in request.chunks]
        )
    if isinstance(request, LeaveRequest):
        return f"<SwarmID>{_esc(request.swarmID)}</SwarmID>"
    if isinstance(request, ConnectRequest):
        return (
            ("" if request.cer is None else f"<Cer>{_esc(request.cer)}</Cer>")
            + (_encodeAddresses(request.addresses) if request.addresses else "")
            + _optional("StatPort", request.statPort)
            + (_encodeStats(request.stats) if request.stats else "")
        )
    if isinstance(request, StatReportRequest):
        return _encodeStats(request.stats)
    if isinstance(request, StatQueryRequest):
        return (
            "<StatRequest>"
            + "".join([f'<Stat property="{_esc(p)}"/>' for p in request.properties])
            + "</StatRequest>"
        )
    if isinstance(request, (KeepAliveRequest, DisconnectRequest)):
        return ""
    raise ValueError(f"cannot encode {request!r}: not a request of the protocol")


def _encodeReflexive(address: Optional[PeerAddress]) -> str:
    """
    The C{<ReflexiveAddress>} of a CONNECT response: C{ip} and C{port}, and
    C{type} and C{priority} only when they are not REFLEXIVE and L{None}.
    """
    if address is None:
        return ""
    text = f'<ReflexiveAddress ip="{_esc(address.ip)}" port="{address.port:d}"'
    if address.type is not AddressType.REFLEXIVE:
        text += f' type="{address.type._value_}"'
    if address.priority is not None:
        text += f' priority="{address.priority:d}"'
    return text + "/>"


def _responseBody(response: Response) -> str:
    """
    The method-specific elements of a success response.

    @raise ValueError: the response is not one of the protocol's.
    """
    if isinstance(response, FindResponse):
        return (
            ("" if not response.swarmID else f"<SwarmID>{_esc(response.swarmID)}</SwarmID>")
            + _optional("ChunkID", response.chunkID)
            + _encodePeers(response.peers)
        )
    if isinstance(response, JoinResponse):
        return (
            "" if not response.swarmID else f"<SwarmID>{_esc(response.swarmID)}</SwarmID>"
        ) + ("" if response.peers is None else _encodePeers(response.peers))
    if isinstance(response, ConnectResponse):
        token = response.authToken
        return (
            ("" if not token else f"<AuthToken>{_esc(token)}</AuthToken>")
            + _encodeReflexive(response.reflexiveAddress)
            + f"<KeepAliveInterval>{response.keepAliveInterval:d}</KeepAliveInterval>"
        )
    if isinstance(response, KeepAliveResponse):
        return f"<KeepAliveInterval>{response.keepAliveInterval:d}</KeepAliveInterval>"
    if isinstance(response, StatQueryResponse):
        return (
            "" if not response.peerID else f"<PeerID>{_esc(response.peerID)}</PeerID>"
        ) + _encodeStats(response.stats)
    if isinstance(
        response,
        (DisconnectResponse, JoinChunkResponse, LeaveResponse, StatReportResponse),
    ):
        return ""
    raise ValueError(f"cannot encode {response!r}: not a response of the protocol")


@implementer(ICodec)
class XMLCodec:
    """
    The XML encoding of the protocol (PROTOCOL.md sections 2 to 5).

    Instances hold no state; L{ppsp.codec.XML_CODEC} is the shared one.
    Decoding uses a module-level parser: call it from one thread (the
    reactor's).
    """

    #: The short name of the encoding.
    name = "xml"

    #: The C{Content-Type} of what this codec writes.
    contentType = XML_CONTENT_TYPE

    def decodeRequest(self, body: bytes) -> Request:
        """
        Decode one request.

        @param body: the HTTP body.
        @return: an instance of the method's request class (a FIND decodes
            to L{FindRequest}, a FIND_CHUNK to L{FindChunkRequest}).
        @raise DecodeError: the body is not a valid request; no other
            exception escapes, whatever the bytes.
        """
        return F.decodeGuarded("request", _decodeRequest, body)

    def requestHeaders(self, request: Request) -> Dict[bytes, List[bytes]]:
        """
        The HTTP headers to send with C{request}: its C{Content-Type} (the
        XML profile carries everything else in the body).
        """
        return {b"Content-Type": [XML_CONTENT_TYPE]}

    def requestFromHeaders(self, request: Request, headers: Headers) -> Request:
        """
        C{request} itself: the XML profile carries everything in the body
        and reads no header.

        @param request: the request L{decodeRequest} returned.
        @param headers: the HTTP request's headers (not read).
        """
        return request

    def httpStatus(self, code: ResponseCode) -> int:
        """
        The HTTP status of a response with C{code}: the profile's table
        (PROTOCOL.md section 3, L{ResponseCode.httpStatus}).
        """
        return code.httpStatus

    def decodeResponse(self, body: bytes, method: Method) -> Response:
        """
        Decode the response to a request of C{method}.

        A C{<Response>} naming C{method} itself (as the draft's slides
        write it) is read as OK.

        @param body: the HTTP body.
        @param method: the L{Method} of the request sent.
        @return: the method's success response class instance, or an
            L{ErrorResponse}.
        @raise DecodeError: the body is not a valid response; no other
            exception escapes, whatever the bytes.
        """
        return F.decodeGuarded("response", _decodeResponse, body, method)

    def encodeRequest(self, request: Request) -> bytes:
        """
        Encode one request.

        @param request: any request of L{ppsp.messages}.
        @return: the UTF-8 XML document.
        @raise ValueError: a value holds a character that XML 1.0 cannot
            carry, or the request cannot be written in XML.
        """
        body = _requestBody(request)
        token = request.authToken
        return (
            f"{_HEAD}<Method>{request.method._value_}</Method>"
            f"<TransactionID>{_esc(request.transactionID)}</TransactionID>"
            f"<PeerID>{_esc(request.peerID)}</PeerID>"
            + ("" if token is None else f"<AuthToken>{_esc(token)}</AuthToken>")
            + body
            + _TAIL
        ).encode("utf-8")

    def encodeResponse(self, response: Response) -> bytes:
        """
        Encode one response, success or L{ErrorResponse}.  An empty
        TransactionID (one that could not be read) and an empty reason are
        left out.

        @param response: any response of L{ppsp.messages}.
        @return: the UTF-8 XML document.
        @raise ValueError: a value holds a character that XML 1.0 cannot
            carry, or the response cannot be written in XML.
        """
        tid = response.transactionID
        head = "" if not tid else f"<TransactionID>{_esc(tid)}</TransactionID>"
        if isinstance(response, ErrorResponse):
            code = response.errorCode
            reason = response.reason
            return (
                f"{_HEAD}<Response>{code.text}</Response>{head}"
                + ("" if not reason else f"<Reason>{_esc(reason)}</Reason>")
                + _TAIL
            ).encode("utf-8")
        return (f"{_HEAD}<Response>OK</Response>{head}" + _responseBody(response) + _TAIL).encode(
            "utf-8"
        )
