# -*- test-case-name: ppsp.test.test_codec -*-
"""
The typed message model of the PPSP tracker protocol.

Every request and every response of the protocol is one immutable class
here.  The codecs (L{ppsp.codec}) turn bytes into these objects and back;
the tracker core (L{ppsp.tracker.core}) takes a request object and returns
a response object.  Nothing in this module knows about XML, JSON, HTTP or
the reactor.

Field values are already syntactically valid when a codec hands a message
over (identifiers are printable and within their length bounds, integers
are integers in range); the protocol's I{semantic} rules (state, limits,
statistics values) are the tracker core's business.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar, Optional, Tuple, Union

__all__ = [
    "PROTOCOL_VERSION",
    "MAX_CHUNK_ID",
    "Method",
    "ResponseCode",
    "PeerMode",
    "AddressType",
    "PeerAddress",
    "PeerInfo",
    "ChunkRange",
    "Stat",
    "ProtocolError",
    "Request",
    "ConnectRequest",
    "DisconnectRequest",
    "JoinRequest",
    "JoinChunkRequest",
    "LeaveRequest",
    "FindRequest",
    "FindChunkRequest",
    "KeepAliveRequest",
    "StatReportRequest",
    "StatQueryRequest",
    "SwarmActionType",
    "SwarmAction",
    "SwarmResult",
    "PPSTPConnectRequest",
    "PPSTPConnectResponse",
    "Response",
    "ErrorResponse",
    "ConnectResponse",
    "DisconnectResponse",
    "JoinResponse",
    "JoinChunkResponse",
    "LeaveResponse",
    "FindResponse",
    "FindChunkResponse",
    "KeepAliveResponse",
    "StatReportResponse",
    "StatQueryResponse",
    "AnyRequest",
    "AnyResponse",
]

#: The protocol version that every response announces.
PROTOCOL_VERSION = "1.0"

#: The largest chunk identifier (chunk IDs are unsigned 64-bit integers).
MAX_CHUNK_ID = 2**64 - 1


class Method(enum.Enum):
    """
    The methods of the tracker protocol.  The value is the canonical wire
    name (upper case, words joined by an underscore).
    """

    CONNECT = "CONNECT"
    DISCONNECT = "DISCONNECT"
    JOIN = "JOIN"
    JOIN_CHUNK = "JOIN_CHUNK"
    LEAVE = "LEAVE"
    FIND = "FIND"
    FIND_CHUNK = "FIND_CHUNK"
    KEEPALIVE = "KEEPALIVE"
    STAT_REPORT = "STAT_REPORT"
    STAT_QUERY = "STAT_QUERY"

    @classmethod
    def fromWire(cls, name: str) -> "Method":
        """
        Look a method up by its wire name: case-insensitive, with a space,
        a hyphen or an underscore between words (C{STAT QUERY} and
        C{stat_query} are the same method).

        @raise ValueError: if the name is not a method of the protocol.
        """
        key = " ".join(name.split()).upper().replace(" ", "_").replace("-", "_")
        try:
            return cls(key)
        except ValueError:
            raise ValueError(f"unknown method {name!r}") from None


class ResponseCode(enum.Enum):
    """
    The response codes of the protocol, each with its wire text and the
    HTTP status that carries it (PROTOCOL.md section 3).
    """

    OK = ("OK", 200)
    INVALID_SYNTAX = ("INVALID SYNTAX", 400)
    VERSION_NOT_SUPPORTED = ("VERSION NOT SUPPORTED", 400)
    MESSAGE_NOT_SUPPORTED = ("MESSAGE NOT SUPPORTED", 400)
    AUTHENTICATION_REQUIRED = ("AUTHENTICATION REQUIRED", 401)
    MESSAGE_FORBIDDEN = ("MESSAGE FORBIDDEN", 403)
    OBJECT_NOT_FOUND = ("OBJECT NOT FOUND", 404)
    INTERNAL_ERROR = ("INTERNAL ERROR", 500)
    TEMPORARILY_OVERLOADED = ("TEMPORARILY OVERLOADED", 503)

    @property
    def text(self) -> str:
        """
        The code as it is written in a C{<Response>} element.
        """
        return self.value[0]

    @property
    def httpStatus(self) -> int:
        """
        The HTTP status code of a response that carries this code.
        """
        return self.value[1]

    @classmethod
    def fromWire(cls, text: str) -> "ResponseCode":
        """
        Look a response code up by its wire text, case-insensitively;
        C{SUCCESSFUL} is accepted as a synonym of C{OK}.

        @raise ValueError: if the text names no response code.
        """
        key = " ".join(text.replace("_", " ").split()).upper()
        if key == "SUCCESSFUL":
            return cls.OK
        for code in cls:
            if code.text == key:
                return code
        raise ValueError(f"unknown response code {text!r}")


class PeerMode(enum.Enum):
    """
    The role of a peer in one swarm.
    """

    LEECH = "LEECH"
    SEED = "SEED"
    LIVESEED = "LIVESEED"


class AddressType(enum.Enum):
    """
    How a peer address was learnt (PROTOCOL.md section 4, CONNECT).
    """

    HOST = "HOST"
    REFLEXIVE = "REFLEXIVE"
    PROXY = "PROXY"


@dataclass(frozen=True, slots=True)
class PeerAddress:
    """
    One transport address at which a peer can be reached.

    @ivar ip: the IP address in its canonical text form (IPv4 or IPv6).
    @ivar port: the port, 0 to 65535.
    @ivar type: how the address was learnt.
    @ivar priority: the peer's preference among its addresses (lower is
        preferred), or L{None} when the peer gave none.
    """

    ip: str
    port: int
    type: AddressType = AddressType.HOST
    priority: Optional[int] = None


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """
    One entry of a peer list: a peer of a swarm, its mode there and the
    addresses the requester may use.
    """

    peerID: str
    mode: PeerMode
    addresses: Tuple[PeerAddress, ...]


@dataclass(frozen=True, slots=True)
class ChunkRange:
    """
    An inclusive range of chunk identifiers, C{start <= end}.  A single
    chunk is C{ChunkRange(n, n)}.
    """

    start: int
    end: int

    def __contains__(self, chunkID: object) -> bool:
        return isinstance(chunkID, int) and self.start <= chunkID <= self.end


@dataclass(frozen=True, slots=True)
class Stat:
    """
    One statistics property and its value, as text.

    In a STAT_QUERY request the value is the empty string (the property is
    only named).  C{swarm} scopes the value to one swarm the peer has
    joined, or is L{None}.
    """

    property: str
    value: str = ""
    swarm: Optional[str] = None


class ProtocolError(Exception):
    """
    A request cannot be answered with success; the error names the response
    code to send.

    Codecs raise it (or a subclass) for input they cannot decode; the
    tracker core uses it for every rule a request breaks.

    @ivar code: the L{ResponseCode} to answer with.
    @ivar reason: a short sentence for a human, sent as C{<Reason>}.
    @ivar transactionID: the request's TransactionID when it could be read.
    """

    def __init__(
        self,
        code: ResponseCode,
        reason: str,
        transactionID: Optional[str] = None,
    ) -> None:
        super().__init__(code, reason, transactionID)
        self.code = code
        self.reason = reason
        self.transactionID = transactionID

    def __str__(self) -> str:
        return f"{self.code.text}: {self.reason}"

    def toResponse(self) -> "ErrorResponse":
        """
        The error response that reports this error.
        """
        return ErrorResponse(self.transactionID or "", self.code, self.reason)


# Requests ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """
    The fields every request carries.

    @ivar transactionID: chosen by the sender, echoed in the response.
    @ivar peerID: the sending peer (for STAT_QUERY, the queried peer).
    @ivar authToken: the session token issued by CONNECT, or L{None}.
    @ivar sessionByAddress: when C{authToken} is L{None}, the session's
        observed IP address stands for it (keyword only).  The JSON codec
        sets it on every request it decodes: a peer written from RFC 7846
        alone knows no session token, and the token of a JSON request
        travels in the HTTP C{Authorization} header (PROTOCOL.md section
        7).  A wrong token is refused whatever this says.
    """

    method: ClassVar[Method]

    transactionID: str
    peerID: str
    authToken: Optional[str] = None
    sessionByAddress: bool = field(default=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class ConnectRequest(Request):
    """
    CONNECT: register with the tracker.

    @ivar cer: the peer's credential, whose form the tracker's
        authenticator defines, or L{None}.
    @ivar addresses: the addresses the peer announces.
    @ivar statPort: the TCP port on which the peer answers STAT_QUERY.
    @ivar stats: statistics describing the peer.
    """

    method: ClassVar[Method] = Method.CONNECT

    cer: Optional[str] = None
    addresses: Tuple[PeerAddress, ...] = ()
    statPort: Optional[int] = None
    stats: Tuple[Stat, ...] = ()


@dataclass(frozen=True, slots=True)
class DisconnectRequest(Request):
    """
    DISCONNECT: leave every swarm and end the registration.
    """

    method: ClassVar[Method] = Method.DISCONNECT


@dataclass(frozen=True, slots=True)
class JoinRequest(Request):
    """
    JOIN: become a member of a swarm (or update the membership's mode and
    expiry).

    @ivar expireTime: seconds after which the membership ends; L{None} or
        0 for never.
    @ivar expireAt: an absolute end of the membership (POSIX seconds), from
        an ISO 8601 ExpireTime; L{None} when not given.  At most one of
        C{expireTime} and C{expireAt} is set.
    @ivar peerNum: how many peers a LEECH wants in the answer.
    """

    method: ClassVar[Method] = Method.JOIN

    swarmID: str = ""
    mode: PeerMode = PeerMode.LEECH
    expireTime: Optional[float] = None
    expireAt: Optional[float] = None
    peerNum: Optional[int] = None
    stats: Tuple[Stat, ...] = ()


@dataclass(frozen=True, slots=True)
class JoinChunkRequest(Request):
    """
    JOIN_CHUNK: replace the set of chunks the peer holds in one swarm.
    """

    method: ClassVar[Method] = Method.JOIN_CHUNK

    swarmID: str = ""
    chunks: Tuple[ChunkRange, ...] = ()


@dataclass(frozen=True, slots=True)
class LeaveRequest(Request):
    """
    LEAVE: end the membership of one swarm.
    """

    method: ClassVar[Method] = Method.LEAVE

    swarmID: str = ""


@dataclass(frozen=True, slots=True)
class FindRequest(Request):
    """
    FIND: ask for peers of a swarm.

    @ivar peerNum: how many peers are wanted (L{None} or 0: the default).
    @ivar chunkID: only peers holding this chunk (then it is FIND_CHUNK).
    @ivar constraints: statistics the returned peers must satisfy.
    @ivar requesterStats: statistics describing the requester itself (the
        JSON C{peer_num} members other than C{peer_count}), kept as its
        own, never constraints.
    """

    method: ClassVar[Method] = Method.FIND

    swarmID: str = ""
    peerNum: Optional[int] = None
    chunkID: Optional[int] = None
    constraints: Tuple[Stat, ...] = ()
    requesterStats: Tuple[Stat, ...] = ()


@dataclass(frozen=True, slots=True)
class FindChunkRequest(FindRequest):
    """
    FIND_CHUNK: ask for peers of a swarm that hold one chunk; C{chunkID}
    is required.
    """

    method: ClassVar[Method] = Method.FIND_CHUNK


@dataclass(frozen=True, slots=True)
class KeepAliveRequest(Request):
    """
    KEEPALIVE: tell the tracker the peer is still alive.
    """

    method: ClassVar[Method] = Method.KEEPALIVE


@dataclass(frozen=True, slots=True)
class StatReportRequest(Request):
    """
    STAT_REPORT: report statistics.
    """

    method: ClassVar[Method] = Method.STAT_REPORT

    stats: Tuple[Stat, ...] = ()


@dataclass(frozen=True, slots=True)
class StatQueryRequest(Request):
    """
    STAT_QUERY (tracker to peer): ask a peer for statistics.

    @ivar properties: the property names wanted; empty for all.
    """

    method: ClassVar[Method] = Method.STAT_QUERY

    properties: Tuple[str, ...] = ()


# Responses -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    """
    The fields every response carries.
    """

    code: ClassVar[ResponseCode] = ResponseCode.OK
    method: ClassVar[Optional[Method]] = None

    transactionID: str


@dataclass(frozen=True, slots=True)
class ErrorResponse(Response):
    """
    Any response other than OK.

    @ivar errorCode: the response code (never L{ResponseCode.OK}).
    @ivar reason: a short human-readable sentence, or the empty string.
    """

    errorCode: ResponseCode = ResponseCode.INTERNAL_ERROR
    reason: str = ""

    def __post_init__(self) -> None:
        if self.errorCode is ResponseCode.OK:
            raise ValueError("an ErrorResponse cannot carry OK")

    @property
    def code(self) -> ResponseCode:  # type: ignore[override]
        return self.errorCode


@dataclass(frozen=True, slots=True)
class ConnectResponse(Response):
    """
    OK to CONNECT.

    @ivar authToken: the session token for every later request.
    @ivar reflexiveAddress: the address the tracker observed.
    @ivar keepAliveInterval: seconds between KEEPALIVEs.
    """

    method: ClassVar[Optional[Method]] = Method.CONNECT

    authToken: str = ""
    reflexiveAddress: Optional[PeerAddress] = None
    keepAliveInterval: int = 60


@dataclass(frozen=True, slots=True)
class DisconnectResponse(Response):
    """
    OK to DISCONNECT.
    """

    method: ClassVar[Optional[Method]] = Method.DISCONNECT


@dataclass(frozen=True, slots=True)
class JoinResponse(Response):
    """
    OK to JOIN; a LEECH join carries a peer list, other joins L{None}.
    """

    method: ClassVar[Optional[Method]] = Method.JOIN

    swarmID: str = ""
    peers: Optional[Tuple[PeerInfo, ...]] = None


@dataclass(frozen=True, slots=True)
class JoinChunkResponse(Response):
    """
    OK to JOIN_CHUNK.
    """

    method: ClassVar[Optional[Method]] = Method.JOIN_CHUNK


@dataclass(frozen=True, slots=True)
class LeaveResponse(Response):
    """
    OK to LEAVE.
    """

    method: ClassVar[Optional[Method]] = Method.LEAVE


@dataclass(frozen=True, slots=True)
class FindResponse(Response):
    """
    OK to FIND: the swarm, the chunk asked for (if any) and the peer list.
    """

    method: ClassVar[Optional[Method]] = Method.FIND

    swarmID: str = ""
    peers: Tuple[PeerInfo, ...] = ()
    chunkID: Optional[int] = None


@dataclass(frozen=True, slots=True)
class FindChunkResponse(FindResponse):
    """
    OK to FIND_CHUNK.
    """

    method: ClassVar[Optional[Method]] = Method.FIND_CHUNK


@dataclass(frozen=True, slots=True)
class KeepAliveResponse(Response):
    """
    OK to KEEPALIVE, with the interval the peer should keep.
    """

    method: ClassVar[Optional[Method]] = Method.KEEPALIVE

    keepAliveInterval: int = 60


@dataclass(frozen=True, slots=True)
class StatReportResponse(Response):
    """
    OK to STAT_REPORT.

    @ivar swarmIDs: the swarms the reported Stats named, in order, each
        once (the JSON encoding answers one C{swarm_result} for each).
    """

    method: ClassVar[Optional[Method]] = Method.STAT_REPORT

    swarmIDs: Tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StatQueryResponse(Response):
    """
    OK to STAT_QUERY (peer to tracker): the peer's statistics.
    """

    method: ClassVar[Optional[Method]] = Method.STAT_QUERY

    peerID: str = ""
    stats: Tuple[Stat, ...] = ()


# RFC 7846 (PPSTP) CONNECT ---------------------------------------------------
#
# The JSON encoding's CONNECT registers the peer *and* carries JOIN and LEAVE
# actions for any number of swarms, which the XML profile sends as separate
# messages.  It has a message pair of its own; the tracker core applies it
# by running its CONNECT, JOIN, LEAVE (and DISCONNECT) operations.


class SwarmActionType(enum.Enum):
    """
    What an RFC 7846 swarm action asks for.
    """

    JOIN = "JOIN"
    LEAVE = "LEAVE"


@dataclass(frozen=True, slots=True)
class SwarmAction:
    """
    One C{swarm_action} of an RFC 7846 CONNECT.

    @ivar swarmID: the swarm.
    @ivar action: JOIN or LEAVE.
    @ivar mode: the peer's mode in the swarm (C{SEEDER} is L{PeerMode.SEED});
        ignored for LEAVE.
    """

    swarmID: str
    action: SwarmActionType = SwarmActionType.JOIN
    mode: PeerMode = PeerMode.LEECH


@dataclass(frozen=True, slots=True)
class SwarmResult:
    """
    The outcome of one swarm action (one C{swarm_result}).

    @ivar swarmID: the swarm of the action.
    @ivar code: L{ResponseCode.OK}, or why the action failed.
    @ivar reason: a short sentence when the action failed.
    @ivar peers: the peer list a JOIN answers with, or L{None}.
    """

    swarmID: str
    code: ResponseCode = ResponseCode.OK
    reason: str = ""
    peers: Optional[Tuple[PeerInfo, ...]] = None

    @property
    def ok(self) -> bool:
        """
        Whether the action succeeded.
        """
        return self.code is ResponseCode.OK


@dataclass(frozen=True, slots=True)
class PPSTPConnectRequest(Request):
    """
    CONNECT as RFC 7846 defines it: register (or, from a registered PeerID,
    carry on the session) and apply swarm actions in order.

    @ivar swarmActions: the JOIN and LEAVE actions, at least one.
    @ivar addresses: the addresses the peer announces, or L{None} when the
        request carries no C{peer_addr} (a registered peer keeps its own).
    @ivar peerNum: C{peer_num.peer_count}: how many peers a JOIN's list
        holds (0: the default); L{None} when C{peer_num} is absent (then
        only a LEECH gets a list).
    @ivar requesterStats: the other C{peer_num} members, describing the
        peer itself (C{AbilityNAT}, C{ConcurrentLinks}, C{OnlineTime},
        C{UploadBandwidth}).
    @ivar cer: the credential (from the HTTP C{Authorization} header), or
        L{None}.
    """

    method: ClassVar[Method] = Method.CONNECT

    swarmActions: Tuple[SwarmAction, ...] = ()
    addresses: Optional[Tuple[PeerAddress, ...]] = None
    peerNum: Optional[int] = None
    requesterStats: Tuple[Stat, ...] = ()
    cer: Optional[str] = None


@dataclass(frozen=True, slots=True)
class PPSTPConnectResponse(ConnectResponse):
    """
    OK to an RFC 7846 CONNECT: what L{ConnectResponse} carries, and one
    result per swarm action, in the order of the actions.  C{authToken} is
    empty when the request ended the registration (it left its last
    swarm).
    """

    swarmResults: Tuple[SwarmResult, ...] = ()


#: The union of the request classes, one per method.
AnyRequest = Union[
    ConnectRequest,
    DisconnectRequest,
    JoinRequest,
    JoinChunkRequest,
    LeaveRequest,
    FindRequest,
    FindChunkRequest,
    KeepAliveRequest,
    StatReportRequest,
    StatQueryRequest,
]

#: The union of the response classes: one per method, and L{ErrorResponse}.
AnyResponse = Union[
    ErrorResponse,
    ConnectResponse,
    DisconnectResponse,
    JoinResponse,
    JoinChunkResponse,
    LeaveResponse,
    FindResponse,
    FindChunkResponse,
    KeepAliveResponse,
    StatReportResponse,
    StatQueryResponse,
]
