# -*- test-case-name: ppsp.test.test_codec -*-
"""
Tests for L{ppsp.codec}: the XML encoding of the protocol, the shared field
rules of L{ppsp.codec._fields}, and L{ppsp.codec.selectCodec}.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from typing import Any, Optional, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers
from zope.interface.verify import verifyObject

from ppsp.codec import (
    JSON_CODEC,
    XML_CODEC,
    XML_CONTENT_TYPE,
    DecodeError,
    XMLCodec,
    selectCodec,
)
from ppsp.codec import _fields as F
from ppsp.interfaces import ICodec
from ppsp.messages import (
    MAX_CHUNK_ID,
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
    ProtocolError,
    Request,
    Response,
    ResponseCode,
    Stat,
    StatQueryRequest,
    StatQueryResponse,
    StatReportRequest,
    StatReportResponse,
)

SYNTAX = ResponseCode.INVALID_SYNTAX
DECODE_CODES = {
    ResponseCode.INVALID_SYNTAX,
    ResponseCode.VERSION_NOT_SUPPORTED,
    ResponseCode.MESSAGE_NOT_SUPPORTED,
}


def message(*children: str, version: Optional[str] = "1.0", root: str = "PPSPTrackerProtocol") -> bytes:
    """
    An XML message with the given children (XML text) under the root.

    @param children: the elements, as XML text.
    @param version: the root's version attribute, or L{None} for none.
    @param root: the root element's name.
    """
    attribute = "" if version is None else f' version="{version}"'
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}{attribute}>\n  '
        + "\n  ".join(children)
        + f"\n</{root}>"
    ).encode("utf-8")


def request(method: str, *children: str, tid: str = "t-1", peer: str = "peer-a", **kw: Any) -> bytes:
    """
    A request message: C{<Method>}, C{<TransactionID>}, C{<PeerID>}, then
    C{children}.
    """
    return message(
        f"<Method>{method}</Method>",
        f"<TransactionID>{tid}</TransactionID>",
        f"<PeerID>{peer}</PeerID>",
        *children,
        **kw,
    )


def response(code: str, *children: str, tid: str = "t-1") -> bytes:
    """
    A response message: C{<Response>}, C{<TransactionID>}, then C{children}.
    """
    return message(f"<Response>{code}</Response>", f"<TransactionID>{tid}</TransactionID>", *children)


class DecodeAssertions:
    """
    Assertions about decoding failures, mixed into the test cases.

    @cvar codec: the codec under test.
    """

    codec: Any = XML_CODEC

    def assertDecodeError(
        self,
        body: bytes,
        code: ResponseCode = SYNTAX,
        transactionID: Optional[str] = None,
        method: Optional[Method] = None,
    ) -> DecodeError:
        """
        Decoding C{body} (as a request, or as a response to C{method})
        fails with C{code} and carries C{transactionID}.
        """
        test: SynchronousTestCase = self  # type: ignore[assignment]
        error: DecodeError
        if method is None:
            error = test.assertRaises(DecodeError, self.codec.decodeRequest, body)
        else:
            error = test.assertRaises(DecodeError, self.codec.decodeResponse, body, method)
        test.assertEqual((error.code, error.transactionID), (code, transactionID), error.reason)
        return error


# Hypothesis strategies --------------------------------------------------------

# Writable in XML 1.0, whatever the field: no control character, no
# surrogate, no noncharacter U+FFFE or U+FFFF.
_printable = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="\ufffe\uffff")
# Free text (values, reasons, credentials): also tab, line feed, return.
_freeChar = st.one_of(_printable, st.sampled_from("\t\n\r&<>\"'"))
# Printable in the sense PROTOCOL.md section 2 gives identifiers: no
# control (Cc) or format (Cf) character, no line or paragraph separator
# (Zl, Zp), no surrogate (Cs), no unassigned code point (Cn).  Hypothesis
# picks the characters by category itself, independently of the codec.
_identifierChar = st.characters(exclude_categories=("Cc", "Cf", "Zl", "Zp", "Cs", "Cn"))


def identifiers(maxSize: int) -> st.SearchStrategy[str]:
    """
    Valid identifiers of at most C{maxSize} characters (no outer space).
    """
    return (
        st.text(st.one_of(_identifierChar, st.sampled_from("&<>\"' ")), min_size=1, max_size=maxSize)
        .map(lambda s: s.strip(" "))
        .filter(bool)
    )


freeText = st.text(_freeChar, max_size=40).map(lambda s: s.strip(F.WHITESPACE))
tids = identifiers(F.TRANSACTION_ID_LENGTH)
ids = identifiers(F.IDENTIFIER_LENGTH)
int32 = st.integers(0, F.MAX_INT32)
chunkIDs = st.integers(0, MAX_CHUNK_ID)
ips = st.ip_addresses().filter(lambda a: getattr(a, "ipv4_mapped", None) is None).map(str)
addresses = st.builds(
    PeerAddress,
    ips,
    st.integers(0, 65535),
    st.sampled_from(AddressType),
    st.none() | int32,
)
stats = st.builds(
    Stat,
    identifiers(F.PROPERTY_LENGTH),
    freeText,
    st.none() | ids,
)
statLists = st.lists(stats, max_size=4).map(tuple)
peerInfos = st.builds(
    PeerInfo,
    ids,
    st.sampled_from(PeerMode),
    st.lists(addresses, max_size=3).map(tuple),
)
peerLists = st.lists(peerInfos, max_size=4).map(tuple)
chunkRanges = st.tuples(chunkIDs, chunkIDs).map(lambda t: ChunkRange(min(t), max(t)))
expireSeconds = st.one_of(
    st.integers(0, F.MAX_INT32).map(float),
    st.floats(0, F.MAX_INT32, allow_nan=False, allow_infinity=False),
)
expireTimes = st.one_of(
    st.integers(-62135596800, 253402300799).map(float),
    st.integers(0, 2**32 * 1000).map(lambda ms: ms / 1000),
)


def common(**kw: Any) -> dict[str, Any]:
    """
    The strategies of the fields every request has, plus C{kw}.
    """
    return dict(transactionID=tids, peerID=ids, authToken=st.none() | ids, **kw)


requests = st.one_of(
    st.builds(
        ConnectRequest,
        **common(
            cer=st.none() | freeText,
            addresses=st.lists(addresses, max_size=3).map(tuple),
            statPort=st.none() | st.integers(1, 65535),
            stats=statLists,
        ),
    ),
    st.builds(DisconnectRequest, **common()),
    st.builds(
        JoinRequest,
        **common(
            swarmID=ids,
            mode=st.sampled_from(PeerMode),
            peerNum=st.none() | int32,
            stats=statLists,
        ),
    ).flatmap(
        lambda r: st.one_of(
            st.just(r),
            expireSeconds.map(lambda s: _replace(r, expireTime=s)),
            expireTimes.map(lambda t: _replace(r, expireAt=t)),
        )
    ),
    st.builds(
        JoinChunkRequest,
        **common(swarmID=ids, chunks=st.lists(chunkRanges, max_size=5).map(tuple)),
    ),
    st.builds(LeaveRequest, **common(swarmID=ids)),
    st.builds(
        FindRequest,
        **common(
            swarmID=ids,
            peerNum=st.none() | int32,
            chunkID=st.none() | chunkIDs,
            constraints=statLists,
        ),
    ),
    st.builds(
        FindChunkRequest,
        **common(swarmID=ids, peerNum=st.none() | int32, chunkID=chunkIDs, constraints=statLists),
    ),
    st.builds(KeepAliveRequest, **common()),
    st.builds(StatReportRequest, **common(stats=statLists)),
    st.builds(
        StatQueryRequest,
        **common(properties=st.lists(identifiers(F.PROPERTY_LENGTH), max_size=4).map(tuple)),
    ),
)

successResponses = st.one_of(
    st.builds(
        ConnectResponse,
        tids,
        authToken=st.just("") | ids,
        reflexiveAddress=st.none() | addresses,
        keepAliveInterval=int32,
    ),
    st.builds(DisconnectResponse, tids),
    st.builds(JoinResponse, tids, swarmID=st.just("") | ids, peers=st.none() | peerLists),
    st.builds(JoinChunkResponse, tids),
    st.builds(LeaveResponse, tids),
    st.builds(FindResponse, tids, swarmID=st.just("") | ids, peers=peerLists, chunkID=st.none() | chunkIDs),
    st.builds(
        FindChunkResponse, tids, swarmID=st.just("") | ids, peers=peerLists, chunkID=st.none() | chunkIDs
    ),
    st.builds(KeepAliveResponse, tids, keepAliveInterval=int32),
    st.builds(StatReportResponse, tids),
    st.builds(StatQueryResponse, tids, peerID=st.just("") | ids, stats=statLists),
)

errorResponses = st.builds(
    ErrorResponse,
    st.just("") | tids,
    st.sampled_from([c for c in ResponseCode if c is not ResponseCode.OK]),
    freeText,
)


def _replace(obj: Any, **changes: Any) -> Any:
    """
    C{dataclasses.replace}, typed loosely for the strategies.
    """
    import dataclasses

    return dataclasses.replace(obj, **changes)


# Tests ------------------------------------------------------------------------


class InterfaceTests(SynchronousTestCase):
    """
    The codec's identity: interface, name, content type, error type.
    """

    def test_verifyObject(self) -> None:
        """
        L{XML_CODEC} provides L{ICodec}.
        """
        self.assertTrue(verifyObject(ICodec, XML_CODEC))
        self.assertIsInstance(XML_CODEC, XMLCodec)

    def test_httpStatus(self) -> None:
        """
        In XML each response code gets the HTTP status of the profile's
        table (PROTOCOL.md section 3): OK is 200, OBJECT NOT FOUND 404,
        MESSAGE NOT SUPPORTED 400.
        """
        self.assertEqual(
            {code: XML_CODEC.httpStatus(code) for code in ResponseCode},
            {code: code.httpStatus for code in ResponseCode},
        )
        self.assertEqual(
            [
                XML_CODEC.httpStatus(code)
                for code in (
                    ResponseCode.OK,
                    ResponseCode.OBJECT_NOT_FOUND,
                    ResponseCode.MESSAGE_NOT_SUPPORTED,
                )
            ],
            [200, 404, 400],
        )

    def test_requestFromHeadersReadsNothing(self) -> None:
        """
        The XML profile carries everything in the body: the request comes
        back as it is, whatever the HTTP headers say, an C{Authorization}
        header included.
        """
        request = KeepAliveRequest("t", "p", authToken="tok")
        headers = Headers({b"Authorization": [b"Bearer other"], b"X-Other": [b"1"]})
        self.assertIs(XML_CODEC.requestFromHeaders(request, headers), request)

    def test_nameAndContentType(self) -> None:
        """
        The XML codec is called C{xml} and writes
        C{application/ppsp-tracker+xml; charset=utf-8}.
        """
        self.assertEqual(XML_CODEC.name, "xml")
        self.assertEqual(XML_CODEC.contentType, b"application/ppsp-tracker+xml; charset=utf-8")
        self.assertEqual(XML_CONTENT_TYPE, XML_CODEC.contentType)

    def test_decodeErrorIsProtocolError(self) -> None:
        """
        L{DecodeError} is a L{ProtocolError} with the same constructor, so
        C{toResponse} gives the error response to send.
        """
        error = DecodeError(SYNTAX, "bad", "t-9")
        self.assertIsInstance(error, ProtocolError)
        self.assertEqual(error.toResponse(), ErrorResponse("t-9", SYNTAX, "bad"))
        self.assertIsNone(DecodeError(SYNTAX, "bad").transactionID)


class RequestExampleTests(SynchronousTestCase):
    """
    A hand-written example of every request decodes to the expected object.
    """

    def assertDecodes(self, body: bytes, expected: Request) -> None:
        """
        C{body} decodes to C{expected} (compared with its exact class).
        """
        decoded = XML_CODEC.decodeRequest(body)
        self.assertEqual(decoded, expected)
        self.assertIs(type(decoded), type(expected))

    def test_connect(self) -> None:
        """
        CONNECT: credential, addresses (type defaults to HOST, priority is
        optional, IPv6 is canonicalised), StatPort and Stats.
        """
        self.assertDecodes(
            request(
                "CONNECT",
                "<Cer>credential</Cer>",
                "<PeerAddresses>"
                '<PeerAddress ip="192.0.2.7" port="7000" type="HOST" priority="1"/>'
                '<PeerAddress ip="2001:DB8:0:0::1" port="7001"/>'
                '<PeerAddress ip="203.0.113.9" port="7002" type="proxy"/>'
                "</PeerAddresses>",
                "<StatPort>8000</StatPort>",
                '<Stats><Stat property="UploadBandwidth">1000</Stat>'
                '<Stat property="AbilityNAT">NO_NAT</Stat></Stats>',
            ),
            ConnectRequest(
                "t-1",
                "peer-a",
                cer="credential",
                addresses=(
                    PeerAddress("192.0.2.7", 7000, AddressType.HOST, 1),
                    PeerAddress("2001:db8::1", 7001, AddressType.HOST, None),
                    PeerAddress("203.0.113.9", 7002, AddressType.PROXY, None),
                ),
                statPort=8000,
                stats=(Stat("UploadBandwidth", "1000"), Stat("AbilityNAT", "NO_NAT")),
            ),
        )

    def test_connectMinimal(self) -> None:
        """
        A CONNECT with nothing but the common fields has no credential, no
        address, no StatPort, no stats.
        """
        self.assertDecodes(request("CONNECT"), ConnectRequest("t-1", "peer-a"))

    def test_disconnect(self) -> None:
        """
        DISCONNECT carries the AuthToken like every request after CONNECT;
        a C{<Cer>} (the slides write one) is ignored.
        """
        self.assertDecodes(
            request("DISCONNECT", "<AuthToken>tok</AuthToken>", "<Cer>x</Cer>"),
            DisconnectRequest("t-1", "peer-a", "tok"),
        )

    def test_join(self) -> None:
        """
        JOIN: SwarmID, PeerMode, ExpireTime in seconds, PeerNum, Stats.
        """
        self.assertDecodes(
            request(
                "JOIN",
                "<AuthToken>tok</AuthToken>",
                "<SwarmID>swarm-1</SwarmID>",
                "<PeerMode>SEED</PeerMode>",
                "<ExpireTime>3600</ExpireTime>",
                "<PeerNum>20</PeerNum>",
                '<Stats><Stat property="BufferLevel" swarm="swarm-1">500</Stat></Stats>',
            ),
            JoinRequest(
                "t-1",
                "peer-a",
                "tok",
                swarmID="swarm-1",
                mode=PeerMode.SEED,
                expireTime=3600.0,
                peerNum=20,
                stats=(Stat("BufferLevel", "500", "swarm-1"),),
            ),
        )

    def test_joinDefaults(self) -> None:
        """
        A JOIN without PeerMode is a LEECH join with no expiry and no
        PeerNum.
        """
        self.assertDecodes(
            request("JOIN", "<SwarmID>s</SwarmID>"),
            JoinRequest("t-1", "peer-a", swarmID="s"),
        )

    def test_joinChunk(self) -> None:
        """
        JOIN_CHUNK: ChunkIDs and ChunkRanges, direct or in a C{<Chunks>}
        wrapper, in the order sent, overlaps and all (the core merges).
        """
        self.assertDecodes(
            request(
                "JOIN_CHUNK",
                "<SwarmID>s</SwarmID>",
                "<ChunkID>9</ChunkID>",
                '<ChunkRange from="0" to="4"/>',
                '<Chunks><ChunkID>3</ChunkID><ChunkRange from="100" to="200"/></Chunks>',
                f"<ChunkID>{MAX_CHUNK_ID}</ChunkID>",
            ),
            JoinChunkRequest(
                "t-1",
                "peer-a",
                swarmID="s",
                chunks=(
                    ChunkRange(9, 9),
                    ChunkRange(0, 4),
                    ChunkRange(3, 3),
                    ChunkRange(100, 200),
                    ChunkRange(MAX_CHUNK_ID, MAX_CHUNK_ID),
                ),
            ),
        )

    def test_joinChunkEmpty(self) -> None:
        """
        A JOIN_CHUNK without chunks announces the empty set.
        """
        self.assertDecodes(
            request("JOIN_CHUNK", "<SwarmID>s</SwarmID>"),
            JoinChunkRequest("t-1", "peer-a", swarmID="s"),
        )

    def test_leave(self) -> None:
        """
        LEAVE: SwarmID.
        """
        self.assertDecodes(
            request("LEAVE", "<SwarmID>s</SwarmID>"), LeaveRequest("t-1", "peer-a", swarmID="s")
        )

    def test_find(self) -> None:
        """
        FIND as the slides write it (C{<Peernum>}), with a ChunkID and
        constraints, decodes to a L{FindRequest} that has the ChunkID.
        """
        self.assertDecodes(
            request(
                "FIND",
                "<SwarmID>s</SwarmID>",
                "<ChunkID>12</ChunkID>",
                "<Peernum>5</Peernum>",
                '<Stats><Stat property="UploadBandwidth">100</Stat></Stats>',
            ),
            FindRequest(
                "t-1",
                "peer-a",
                swarmID="s",
                peerNum=5,
                chunkID=12,
                constraints=(Stat("UploadBandwidth", "100"),),
            ),
        )

    def test_findChunk(self) -> None:
        """
        FIND_CHUNK decodes to L{FindChunkRequest}.
        """
        self.assertDecodes(
            request("FIND_CHUNK", "<SwarmID>s</SwarmID>", "<ChunkID>12</ChunkID>"),
            FindChunkRequest("t-1", "peer-a", swarmID="s", chunkID=12),
        )

    def test_keepAlive(self) -> None:
        """
        KEEPALIVE: nothing more.
        """
        self.assertDecodes(request("KEEPALIVE"), KeepAliveRequest("t-1", "peer-a"))

    def test_statReport(self) -> None:
        """
        STAT_REPORT: Stats, values kept as text (empty allowed), swarm
        scopes kept.
        """
        self.assertDecodes(
            request(
                "STAT_REPORT",
                "<Stats>"
                '<Stat property="UploadedBytes" swarm="s">123</Stat>'
                '<Stat property="Custom"></Stat>'
                '<Stat property="Other"> spaced value </Stat>'
                "</Stats>",
            ),
            StatReportRequest(
                "t-1",
                "peer-a",
                stats=(
                    Stat("UploadedBytes", "123", "s"),
                    Stat("Custom", ""),
                    Stat("Other", "spaced value"),
                ),
            ),
        )

    def test_statQuery(self) -> None:
        """
        STAT_QUERY as the slides write it (C{STAT QUERY}): the properties
        named in C{<StatRequest>}.
        """
        self.assertDecodes(
            request(
                "STAT QUERY",
                '<StatRequest><Stat property="UploadBandwidth"></Stat>'
                '<Stat property="OnlineTime"/></StatRequest>',
            ),
            StatQueryRequest("t-1", "peer-a", properties=("UploadBandwidth", "OnlineTime")),
        )

    def test_statQueryAll(self) -> None:
        """
        A STAT_QUERY without C{<StatRequest>} asks for every property.
        """
        self.assertDecodes(request("STAT_QUERY"), StatQueryRequest("t-1", "peer-a"))


class ResponseExampleTests(SynchronousTestCase):
    """
    A hand-written example of every response decodes to the expected object.
    """

    def assertDecodes(self, body: bytes, method: Method, expected: Response) -> None:
        """
        C{body}, the answer to C{method}, decodes to C{expected}.
        """
        decoded = XML_CODEC.decodeResponse(body, method)
        self.assertEqual(decoded, expected)
        self.assertIs(type(decoded), type(expected))

    def test_connect(self) -> None:
        """
        OK to CONNECT: AuthToken, ReflexiveAddress (type REFLEXIVE),
        KeepAliveInterval.
        """
        self.assertDecodes(
            response(
                "OK",
                "<AuthToken>tok-1</AuthToken>",
                '<ReflexiveAddress ip="198.51.100.4" port="40000"/>',
                "<KeepAliveInterval>60</KeepAliveInterval>",
            ),
            Method.CONNECT,
            ConnectResponse(
                "t-1",
                authToken="tok-1",
                reflexiveAddress=PeerAddress("198.51.100.4", 40000, AddressType.REFLEXIVE),
                keepAliveInterval=60,
            ),
        )

    def test_plain(self) -> None:
        """
        OK to DISCONNECT, JOIN_CHUNK, LEAVE and STAT_REPORT carries nothing
        more.
        """
        for method, cls in [
            (Method.DISCONNECT, DisconnectResponse),
            (Method.JOIN_CHUNK, JoinChunkResponse),
            (Method.LEAVE, LeaveResponse),
            (Method.STAT_REPORT, StatReportResponse),
        ]:
            self.assertDecodes(response("OK"), method, cls("t-1"))

    def test_joinLeech(self) -> None:
        """
        OK to a LEECH JOIN: SwarmID and a peer list, as in PROTOCOL.md.
        """
        self.assertDecodes(
            response(
                "OK",
                "<SwarmID>s</SwarmID>",
                "<Peers><Peer><PeerID>peer-b</PeerID><PeerMode>SEED</PeerMode><PeerAddresses>"
                '<PeerAddress ip="198.51.100.22" port="7000" type="HOST" priority="1"/>'
                "</PeerAddresses></Peer></Peers>",
            ),
            Method.JOIN,
            JoinResponse(
                "t-1",
                swarmID="s",
                peers=(
                    PeerInfo(
                        "peer-b",
                        PeerMode.SEED,
                        (PeerAddress("198.51.100.22", 7000, AddressType.HOST, 1),),
                    ),
                ),
            ),
        )

    def test_joinSeed(self) -> None:
        """
        OK to a SEED JOIN has no C{<Peers>}: its peers are L{None}.
        """
        self.assertDecodes(
            response("OK", "<SwarmID>s</SwarmID>"),
            Method.JOIN,
            JoinResponse("t-1", swarmID="s", peers=None),
        )

    def test_find(self) -> None:
        """
        OK to FIND: SwarmID, ChunkID, peers (a peer without PeerMode is a
        LEECH, one without addresses has none).
        """
        self.assertDecodes(
            response(
                "OK",
                "<SwarmID>s</SwarmID>",
                "<ChunkID>7</ChunkID>",
                "<Peers><Peer><PeerID>b</PeerID></Peer>"
                "<Peer><PeerID>c</PeerID><PeerMode>liveseed</PeerMode><PeerAddresses>"
                '<PeerAddress ip="::ffff:1.2.3.4" port="1" type="REFLEXIVE"/></PeerAddresses></Peer>'
                "</Peers>",
            ),
            Method.FIND,
            FindResponse(
                "t-1",
                swarmID="s",
                chunkID=7,
                peers=(
                    PeerInfo("b", PeerMode.LEECH, ()),
                    PeerInfo(
                        "c",
                        PeerMode.LIVESEED,
                        (PeerAddress("1.2.3.4", 1, AddressType.REFLEXIVE),),
                    ),
                ),
            ),
        )

    def test_findChunkEmpty(self) -> None:
        """
        OK to FIND_CHUNK with an empty peer list.
        """
        self.assertDecodes(
            response("OK", "<SwarmID>s</SwarmID>", "<ChunkID>7</ChunkID>", "<Peers/>"),
            Method.FIND_CHUNK,
            FindChunkResponse("t-1", swarmID="s", chunkID=7, peers=()),
        )

    def test_keepAlive(self) -> None:
        """
        OK to KEEPALIVE: KeepAliveInterval.
        """
        self.assertDecodes(
            response("OK", "<KeepAliveInterval>30</KeepAliveInterval>"),
            Method.KEEPALIVE,
            KeepAliveResponse("t-1", keepAliveInterval=30),
        )

    def test_statQuery(self) -> None:
        """
        The seed's STAT_QUERY answer (C{<RESPONSE>STAT QUERY</RESPONSE>}):
        the method's name reads as OK, with PeerID and Stats.
        """
        body = message(
            "<RESPONSE>STAT QUERY</RESPONSE>",
            "<TransactionID>t-1</TransactionID>",
            "<PeerID>peer-a</PeerID>",
            '<Stats><Stat property="UploadBandwidth">77</Stat></Stats>',
        )
        self.assertDecodes(
            body,
            Method.STAT_QUERY,
            StatQueryResponse("t-1", peerID="peer-a", stats=(Stat("UploadBandwidth", "77"),)),
        )

    def test_successSpellings(self) -> None:
        """
        C{SUCCESSFUL} and any case of C{OK} mean OK.
        """
        for text in ["SUCCESSFUL", "ok", "Ok", "successful"]:
            self.assertDecodes(response(text), Method.LEAVE, LeaveResponse("t-1"))

    def test_error(self) -> None:
        """
        An error response decodes to L{ErrorResponse} with its code and
        reason, whatever the method; the code's case does not matter.
        """
        self.assertDecodes(
            response("message forbidden", "<Reason>not a member</Reason>"),
            Method.LEAVE,
            ErrorResponse("t-1", ResponseCode.MESSAGE_FORBIDDEN, "not a member"),
        )

    def test_errorWithoutTransactionID(self) -> None:
        """
        An error response without TransactionID (the request's could not
        be read) and without Reason decodes with empty ones.
        """
        self.assertDecodes(
            message("<Response>INVALID SYNTAX</Response>"),
            Method.FIND,
            ErrorResponse("", SYNTAX, ""),
        )


class RoundTripTests(SynchronousTestCase):
    """
    Whatever message is encoded decodes back to an equal message.
    """

    @settings(max_examples=200)
    @given(requests)
    def test_requests(self, message: Request) -> None:
        """
        C{decodeRequest(encodeRequest(r)) == r} for every request.
        """
        decoded = XML_CODEC.decodeRequest(XML_CODEC.encodeRequest(message))
        self.assertEqual(decoded, message)
        self.assertIs(type(decoded), type(message))

    @settings(max_examples=200)
    @given(successResponses)
    def test_successResponses(self, message: Response) -> None:
        """
        C{decodeResponse(encodeResponse(r), r.method) == r} for every
        success response.
        """
        assert message.method is not None
        decoded = XML_CODEC.decodeResponse(XML_CODEC.encodeResponse(message), message.method)
        self.assertEqual(decoded, message)
        self.assertIs(type(decoded), type(message))

    @given(errorResponses, st.sampled_from(Method))
    def test_errorResponses(self, message: ErrorResponse, method: Method) -> None:
        """
        Error responses round-trip, in answer to any method.
        """
        self.assertEqual(
            XML_CODEC.decodeResponse(XML_CODEC.encodeResponse(message), method), message
        )


class EncodingTests(SynchronousTestCase):
    """
    The form of what the codec writes.
    """

    def test_envelope(self) -> None:
        """
        Every message starts with the XML declaration and a root with
        C{version="1.0"} and no namespace.
        """
        for body in [
            XML_CODEC.encodeRequest(KeepAliveRequest("1", "p")),
            XML_CODEC.encodeResponse(KeepAliveResponse("1")),
            XML_CODEC.encodeResponse(ErrorResponse("1", SYNTAX, "x")),
        ]:
            self.assertTrue(
                body.startswith(
                    b'<?xml version="1.0" encoding="UTF-8"?><PPSPTrackerProtocol version="1.0">'
                ),
                body,
            )
            self.assertTrue(body.endswith(b"</PPSPTrackerProtocol>"))
            self.assertNotIn(b"xmlns", body)

    def test_request(self) -> None:
        """
        A request is written with the canonical method name and its
        fields.
        """
        self.assertEqual(
            XML_CODEC.encodeRequest(
                FindChunkRequest("7", "p", "tok", swarmID="s", peerNum=3, chunkID=9)
            ),
            b'<?xml version="1.0" encoding="UTF-8"?><PPSPTrackerProtocol version="1.0">'
            b"<Method>FIND_CHUNK</Method><TransactionID>7</TransactionID><PeerID>p</PeerID>"
            b"<AuthToken>tok</AuthToken><SwarmID>s</SwarmID><PeerNum>3</PeerNum>"
            b"<ChunkID>9</ChunkID></PPSPTrackerProtocol>",
        )

    def test_peerList(self) -> None:
        """
        A peer list is written as PROTOCOL.md shows it, the priority left
        out when L{None}.
        """
        body = XML_CODEC.encodeResponse(
            FindResponse(
                "7",
                swarmID="s",
                peers=(
                    PeerInfo(
                        "peer-b",
                        PeerMode.SEED,
                        (
                            PeerAddress("198.51.100.22", 7000, AddressType.HOST, 1),
                            PeerAddress("198.51.100.23", 7001),
                        ),
                    ),
                ),
            )
        )
        self.assertIn(
            b"<Response>OK</Response><TransactionID>7</TransactionID><SwarmID>s</SwarmID>"
            b"<Peers><Peer><PeerID>peer-b</PeerID><PeerMode>SEED</PeerMode><PeerAddresses>"
            b'<PeerAddress ip="198.51.100.22" port="7000" type="HOST" priority="1"/>'
            b'<PeerAddress ip="198.51.100.23" port="7001" type="HOST"/>'
            b"</PeerAddresses></Peer></Peers>",
            body,
        )

    def test_emptyPeerList(self) -> None:
        """
        A FIND answer always has C{<Peers>}; a JOIN answer only when its
        peers are not L{None}.
        """
        self.assertIn(b"<Peers></Peers>", XML_CODEC.encodeResponse(FindResponse("1", swarmID="s")))
        self.assertNotIn(b"<Peers", XML_CODEC.encodeResponse(JoinResponse("1", swarmID="s")))
        self.assertIn(
            b"<Peers></Peers>", XML_CODEC.encodeResponse(JoinResponse("1", swarmID="s", peers=()))
        )

    def test_singleChunk(self) -> None:
        """
        A chunk range of one chunk is written as C{<ChunkID>}, others as
        C{<ChunkRange>}.
        """
        body = XML_CODEC.encodeRequest(
            JoinChunkRequest("1", "p", swarmID="s", chunks=(ChunkRange(5, 5), ChunkRange(6, 9)))
        )
        self.assertIn(b'<ChunkID>5</ChunkID><ChunkRange from="6" to="9"/>', body)

    def test_error(self) -> None:
        """
        An error is written with its code's text and C{<Reason>}; an empty
        reason and an empty TransactionID are left out.
        """
        self.assertIn(
            b"<Response>MESSAGE FORBIDDEN</Response><TransactionID>1</TransactionID>"
            b"<Reason>no</Reason></PPSPTrackerProtocol>",
            XML_CODEC.encodeResponse(ErrorResponse("1", ResponseCode.MESSAGE_FORBIDDEN, "no")),
        )
        body = XML_CODEC.encodeResponse(ErrorResponse("", SYNTAX, ""))
        self.assertIn(b"<Response>INVALID SYNTAX</Response></PPSPTrackerProtocol>", body)

    def test_errorCannotBeOK(self) -> None:
        """
        An L{ErrorResponse} with the code OK cannot even be made.
        """
        self.assertRaises(ValueError, ErrorResponse, "1", ResponseCode.OK, "")

    def test_escaping(self) -> None:
        """
        Markup characters in text and attribute values are escaped, and
        tab, line feed and carriage return are written as character
        references, so that they come back unchanged.
        """
        stat = Stat("a&b<c>\"d'", "x <&> \"y\"\r\n\tz", "s&<")
        body = XML_CODEC.encodeRequest(StatReportRequest("<1>", "p&q", stats=(stat,)))
        self.assertIn(b"<TransactionID>&lt;1&gt;</TransactionID>", body)
        self.assertIn(b"<PeerID>p&amp;q</PeerID>", body)
        self.assertIn(
            b'<Stat property="a&amp;b&lt;c&gt;&quot;d\'" swarm="s&amp;&lt;">'
            b"x &lt;&amp;&gt; &quot;y&quot;&#13;&#10;&#9;z</Stat>",
            body,
        )
        self.assertEqual(XML_CODEC.decodeRequest(body).stats, (stat,))  # type: ignore[attr-defined]

    def test_escapingPeerList(self) -> None:
        """
        A peer list with a value to escape is escaped too.
        """
        peer = PeerInfo("<b&>", PeerMode.LEECH, (PeerAddress("fe80::1%<a>", 1),))
        body = XML_CODEC.encodeResponse(FindResponse("1", swarmID="s", peers=(peer,)))
        self.assertIn(b"<PeerID>&lt;b&amp;&gt;</PeerID>", body)
        self.assertIn(b'ip="fe80::1%&lt;a&gt;"', body)

    def test_nonASCII(self) -> None:
        """
        Text is written as UTF-8.
        """
        body = XML_CODEC.encodeResponse(ErrorResponse("1", SYNTAX, "caf\u00e9 \u2603 \U0001f600"))
        self.assertIn("<Reason>caf\u00e9 \u2603 \U0001f600</Reason>".encode("utf-8"), body)

    def test_unwritableCharacters(self) -> None:
        """
        A character that XML 1.0 cannot carry is a L{ValueError}, in any
        place, never invalid XML.
        """
        for bad in ["\x00", "\x1b", "\ud800", "\ufffe", "\uffff"]:
            self.assertRaises(
                ValueError, XML_CODEC.encodeResponse, ErrorResponse("1", SYNTAX, f"a{bad}b")
            )
            self.assertRaises(
                ValueError, XML_CODEC.encodeRequest, KeepAliveRequest("1", f"p{bad}")
            )
            self.assertRaises(
                ValueError,
                XML_CODEC.encodeResponse,
                FindResponse("1", swarmID="s", peers=(PeerInfo(f"b{bad}", PeerMode.SEED, ()),)),
            )

    def test_expireTime(self) -> None:
        """
        An ExpireTime in seconds is written as plain decimal text; an
        absolute one as an ISO 8601 UTC time; both at once cannot be
        written.
        """
        def expire(**kw: Any) -> bytes:
            """
            Encode a JOIN with C{kw}.
            """
            return XML_CODEC.encodeRequest(JoinRequest("1", "p", swarmID="s", **kw))

        self.assertIn(b"<ExpireTime>30</ExpireTime>", expire(expireTime=30.0))
        self.assertIn(b"<ExpireTime>0.00001</ExpireTime>", expire(expireTime=1e-05))
        self.assertIn(
            b"<ExpireTime>2030-01-01T00:00:00Z</ExpireTime>",
            expire(expireAt=datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp()),
        )
        self.assertNotIn(b"ExpireTime", expire())
        self.assertRaises(ValueError, expire, expireTime=1.0, expireAt=2.0)
        self.assertRaises(ValueError, expire, expireTime=float("nan"))
        self.assertRaises(ValueError, expire, expireAt=1e300)

    def test_notAMessage(self) -> None:
        """
        Encoding something that is not a message of the protocol is a
        L{ValueError}.
        """
        from ppsp.messages import Request as BaseRequest, Response as BaseResponse

        self.assertRaises(ValueError, XML_CODEC.encodeResponse, BaseResponse("1"))
        self.assertRaises(ValueError, XML_CODEC.encodeRequest, BaseRequest("1", "p"))


class DecodingRuleTests(DecodeAssertions, SynchronousTestCase):
    """
    The decoding rules of the profile, one by one.
    """

    def test_methodCase(self) -> None:
        """
        Method names compare case-insensitively.
        """
        for name in ["find", "Find", "fInD"]:
            self.assertIsInstance(
                XML_CODEC.decodeRequest(request(name, "<SwarmID>s</SwarmID>")), FindRequest
            )

    def test_methodSpellings(self) -> None:
        """
        C{STAT QUERY}, C{stat_query} and C{Stat-Query} are STAT_QUERY;
        C{JOIN CHUNK} is JOIN_CHUNK.
        """
        for name in ["STAT QUERY", "stat_query", "Stat-Query", " STAT  QUERY "]:
            self.assertIsInstance(XML_CODEC.decodeRequest(request(name)), StatQueryRequest)
        self.assertIsInstance(
            XML_CODEC.decodeRequest(request("JOIN CHUNK", "<SwarmID>s</SwarmID>")),
            JoinChunkRequest,
        )

    def test_unknownMethod(self) -> None:
        """
        An unknown method is MESSAGE NOT SUPPORTED, with the TransactionID.
        """
        error = self.assertDecodeError(
            request("ANNOUNCE"), ResponseCode.MESSAGE_NOT_SUPPORTED, "t-1"
        )
        self.assertIn("ANNOUNCE", error.reason)

    def test_elementNameCase(self) -> None:
        """
        Element names match case-insensitively, the root's too.
        """
        body = message(
            "<METHOD>find</METHOD>",
            "<transactionid>t-1</transactionid>",
            "<peerId>p</peerId>",
            "<SWARMID>s</SWARMID>",
            "<Peernum>4</Peernum>",
            "<stats><STAT property='x'>1</STAT></stats>",
            root="ppsptrackerprotocol",
        )
        self.assertEqual(
            XML_CODEC.decodeRequest(body),
            FindRequest("t-1", "p", swarmID="s", peerNum=4, constraints=(Stat("x", "1"),)),
        )

    def test_attributeNameCase(self) -> None:
        """
        Attribute names also match by local name, case-insensitively.
        """
        body = request(
            "CONNECT",
            '<PeerAddresses><PeerAddress IP="192.0.2.1" Port="1" TYPE="proxy"/></PeerAddresses>',
            version=None,
        ).replace(b"<PPSPTrackerProtocol>", b'<PPSPTrackerProtocol VERSION="1">')
        self.assertEqual(
            XML_CODEC.decodeRequest(body).addresses,  # type: ignore[attr-defined]
            (PeerAddress("192.0.2.1", 1, AddressType.PROXY),),
        )

    def test_freeOrder(self) -> None:
        """
        Child order is free: Method last, TransactionID after the fields.
        """
        body = message(
            "<SwarmID>s</SwarmID>",
            "<PeerID>p</PeerID>",
            "<TransactionID>t</TransactionID>",
            "<Method>LEAVE</Method>",
        )
        self.assertEqual(XML_CODEC.decodeRequest(body), LeaveRequest("t", "p", swarmID="s"))

    def test_namespaceIgnored(self) -> None:
        """
        Namespaces on input are ignored, default or prefixed.
        """
        default = (
            b'<PPSPTrackerProtocol xmlns="urn:ietf:params:xml:ns:PPSPTrackerProtocol" version="1.0">'
            b"<Method>LEAVE</Method><TransactionID>t</TransactionID><PeerID>p</PeerID>"
            b"<SwarmID>s</SwarmID></PPSPTrackerProtocol>"
        )
        prefixed = (
            b'<x:PPSPTrackerProtocol xmlns:x="urn:x" version="1.0">'
            b"<x:Method>LEAVE</x:Method><x:TransactionID>t</x:TransactionID>"
            b"<x:PeerID>p</x:PeerID><x:SwarmID>s</x:SwarmID></x:PPSPTrackerProtocol>"
        )
        for body in [default, prefixed]:
            self.assertEqual(XML_CODEC.decodeRequest(body), LeaveRequest("t", "p", swarmID="s"))

    def test_unknownElementsIgnored(self) -> None:
        """
        Unknown elements, anywhere, are ignored, and so are comments and
        surrounding white space.
        """
        body = request(
            "FIND",
            "<Extension><Deep><Deeper>x</Deeper></Deep></Extension>",
            "<!-- a comment -->",
            "<SwarmID> s<!-- inside -->1 </SwarmID>",
            "<Peers><Peer/></Peers>",
            '<Stats><Note/><Stat property="a">1</Stat></Stats>',
        )
        self.assertEqual(
            XML_CODEC.decodeRequest(body),
            FindRequest("t-1", "peer-a", swarmID="s1", constraints=(Stat("a", "1"),)),
        )

    def test_cdata(self) -> None:
        """
        A CDATA section is text.
        """
        body = request("LEAVE", "<SwarmID><![CDATA[a<b]]></SwarmID>")
        self.assertEqual(XML_CODEC.decodeRequest(body), LeaveRequest("t-1", "peer-a", swarmID="a<b"))

    def test_duplicateElement(self) -> None:
        """
        A single element given twice is INVALID SYNTAX, with the
        TransactionID; a duplicated TransactionID cannot be read.
        """
        self.assertDecodeError(
            request("LEAVE", "<SwarmID>a</SwarmID>", "<SwarmID>b</SwarmID>"), transactionID="t-1"
        )
        self.assertDecodeError(
            request("FIND", "<SwarmID>a</SwarmID>", "<PeerNum>1</PeerNum>", "<PeerNum>1</PeerNum>"),
            transactionID="t-1",
        )
        self.assertDecodeError(
            request("FIND", "<SwarmID>a</SwarmID>", "<ChunkID>1</ChunkID>", "<chunkid>2</chunkid>"),
            transactionID="t-1",
        )
        self.assertDecodeError(request("LEAVE", "<Method>LEAVE</Method>"), transactionID="t-1")
        self.assertDecodeError(request("KEEPALIVE", "<PeerID>b</PeerID>"), transactionID="t-1")
        self.assertDecodeError(request("KEEPALIVE", "<TransactionID>t-2</TransactionID>"))

    def test_version(self) -> None:
        """
        C{version} "1" and "1.0" are accepted; a missing one is INVALID
        SYNTAX, another VERSION NOT SUPPORTED, both with the TransactionID.
        """
        for version in ["1", "1.0", " 1.0 "]:
            self.assertIsInstance(
                XML_CODEC.decodeRequest(request("KEEPALIVE", version=version)), KeepAliveRequest
            )
        self.assertDecodeError(request("KEEPALIVE", version=None), SYNTAX, "t-1")
        for version in ["2", "1.1", "", "0.9", "v1"]:
            self.assertDecodeError(
                request("KEEPALIVE", version=version), ResponseCode.VERSION_NOT_SUPPORTED, "t-1"
            )

    def test_rootName(self) -> None:
        """
        A root other than C{PPSPTrackerProtocol} is INVALID SYNTAX.
        """
        self.assertDecodeError(request("KEEPALIVE", root="Tracker"), SYNTAX, "t-1")

    def test_methodAndResponse(self) -> None:
        """
        A message with both C{<Method>} and C{<Response>}, or neither, is
        INVALID SYNTAX, as request and as response.
        """
        both = request("KEEPALIVE", "<Response>OK</Response>")
        neither = message("<TransactionID>t-1</TransactionID>", "<PeerID>p</PeerID>")
        for body in [both, neither]:
            self.assertDecodeError(body, SYNTAX, "t-1")
            self.assertDecodeError(body, SYNTAX, "t-1", Method.KEEPALIVE)

    def test_wrongKind(self) -> None:
        """
        A response is not a request and a request is not a response.
        """
        self.assertDecodeError(response("OK"), SYNTAX, "t-1")
        self.assertDecodeError(request("KEEPALIVE"), SYNTAX, "t-1", Method.KEEPALIVE)

    def test_missingRequired(self) -> None:
        """
        A request without Method, TransactionID or PeerID, or (for the
        methods that name a swarm) SwarmID, is INVALID SYNTAX.
        """
        self.assertDecodeError(
            message("<TransactionID>t</TransactionID>", "<PeerID>p</PeerID>"), SYNTAX, "t"
        )
        self.assertDecodeError(message("<Method>KEEPALIVE</Method>", "<PeerID>p</PeerID>"))
        self.assertDecodeError(
            message("<Method>KEEPALIVE</Method>", "<TransactionID>t</TransactionID>"), SYNTAX, "t"
        )
        for method in ["JOIN", "JOIN_CHUNK", "LEAVE", "FIND", "FIND_CHUNK"]:
            error = self.assertDecodeError(request(method, "<ChunkID>1</ChunkID>"), SYNTAX, "t-1")
            self.assertIn("SwarmID", error.reason)

    def test_findChunkNeedsChunkID(self) -> None:
        """
        FIND_CHUNK without ChunkID is INVALID SYNTAX; FIND without is fine.
        """
        self.assertDecodeError(request("FIND_CHUNK", "<SwarmID>s</SwarmID>"), SYNTAX, "t-1")
        self.assertEqual(
            XML_CODEC.decodeRequest(request("FIND", "<SwarmID>s</SwarmID>")),
            FindRequest("t-1", "peer-a", swarmID="s"),
        )

    def test_identifiers(self) -> None:
        """
        TransactionID is 1 to 64 printable characters, PeerID, SwarmID and
        AuthToken 1 to 128; an invalid TransactionID cannot be carried in
        the error.
        """
        ok = XML_CODEC.decodeRequest(
            request("LEAVE", f"<SwarmID>{'s' * 128}</SwarmID>", tid="t" * 64, peer="p" * 128)
        )
        self.assertEqual((len(ok.transactionID), len(ok.peerID)), (64, 128))
        self.assertDecodeError(request("KEEPALIVE", tid="t" * 65))
        self.assertDecodeError(request("KEEPALIVE", tid=""))
        self.assertDecodeError(request("KEEPALIVE", tid="  "))
        self.assertDecodeError(request("KEEPALIVE", tid="a&#x7f;b"))
        self.assertDecodeError(request("KEEPALIVE", peer="p" * 129), SYNTAX, "t-1")
        self.assertDecodeError(request("KEEPALIVE", peer=""), SYNTAX, "t-1")
        self.assertDecodeError(request("KEEPALIVE", peer="a&#9;b"), SYNTAX, "t-1")
        self.assertDecodeError(request("KEEPALIVE", peer="a&#x85;b"), SYNTAX, "t-1")
        self.assertDecodeError(request("LEAVE", f"<SwarmID>{'s' * 129}</SwarmID>"), SYNTAX, "t-1")
        self.assertDecodeError(request("KEEPALIVE", "<AuthToken></AuthToken>"), SYNTAX, "t-1")
        self.assertDecodeError(request("KEEPALIVE", "<PeerID><b/></PeerID>"), SYNTAX, "t-1")

    def test_identifierWhitespace(self) -> None:
        """
        XML white space around identifiers is stripped; other characters,
        spaces inside and non-ASCII are kept.
        """
        decoded = XML_CODEC.decodeRequest(
            request("KEEPALIVE", tid="\n\t t 1 \r\n", peer="\u00a0p\u00e9\u00a0")
        )
        self.assertEqual((decoded.transactionID, decoded.peerID), ("t 1", "\u00a0p\u00e9\u00a0"))

    def test_badIntegers(self) -> None:
        """
        Integers are unsigned decimal numbers within each field's bounds;
        anything else is INVALID SYNTAX, with the TransactionID.
        """
        bad = ["-1", "+1", "1.0", "0x10", "1e3", "", "one", "1 2", "\u0661", "\u00b2", "1_000"]
        for text in bad:
            self.assertDecodeError(
                request("FIND", "<SwarmID>s</SwarmID>", f"<PeerNum>{text}</PeerNum>"), SYNTAX, "t-1"
            )
        cases = [
            ("FIND", "<SwarmID>s</SwarmID><PeerNum>{}</PeerNum>", 2**31 - 1),
            ("FIND", "<SwarmID>s</SwarmID><ChunkID>{}</ChunkID>", MAX_CHUNK_ID),
            ("CONNECT", "<StatPort>{}</StatPort>", 65535),
            ("CONNECT", '<PeerAddresses><PeerAddress ip="192.0.2.1" port="{}"/></PeerAddresses>', 65535),
            (
                "CONNECT",
                '<PeerAddresses><PeerAddress ip="192.0.2.1" port="1" priority="{}"/></PeerAddresses>',
                2**31 - 1,
            ),
        ]
        for method, template, high in cases:
            XML_CODEC.decodeRequest(request(method, template.format(high)))
            XML_CODEC.decodeRequest(request(method, template.format(f" 0{high} ")))
            self.assertDecodeError(request(method, template.format(high + 1)), SYNTAX, "t-1")
            self.assertDecodeError(request(method, template.format("9" * 5000)), SYNTAX, "t-1")
        self.assertDecodeError(request("CONNECT", "<StatPort>0</StatPort>"), SYNTAX, "t-1")
        self.assertEqual(
            XML_CODEC.decodeRequest(
                request("FIND", "<SwarmID>s</SwarmID>", "<PeerNum>\n 0007 \t</PeerNum>")
            ).peerNum,  # type: ignore[attr-defined]
            7,
        )

    def test_addresses(self) -> None:
        """
        Addresses need an IP and a port; IPs must parse and are stored in
        canonical form; the type is HOST, REFLEXIVE or PROXY in any case.
        """
        def connect(address: str) -> bytes:
            """
            A CONNECT announcing C{address}.
            """
            return request("CONNECT", f"<PeerAddresses>{address}</PeerAddresses>")

        decoded = XML_CODEC.decodeRequest(
            connect('<PeerAddress ip=" 2001:0DB8::0001 " port="1" type="Reflexive"/>')
        )
        self.assertEqual(
            decoded.addresses,  # type: ignore[attr-defined]
            (PeerAddress("2001:db8::1", 1, AddressType.REFLEXIVE),),
        )
        for bad in [
            '<PeerAddress port="1"/>',
            '<PeerAddress ip="192.0.2.1"/>',
            '<PeerAddress ip="192.0.2.256" port="1"/>',
            '<PeerAddress ip="192.0.2.01" port="1"/>',
            '<PeerAddress ip="example.com" port="1"/>',
            '<PeerAddress ip="" port="1"/>',
            '<PeerAddress ip="1" port="1"/>',
            '<PeerAddress ip="192.0.2.1" port="1" type="RELAY"/>',
            '<PeerAddress ip="192.0.2.1" port="-1"/>',
        ]:
            self.assertDecodeError(connect(bad), SYNTAX, "t-1")

    def test_peerMode(self) -> None:
        """
        PeerMode is LEECH, SEED or LIVESEED in any case; anything else is
        INVALID SYNTAX.
        """
        for text, mode in [("leech", PeerMode.LEECH), ("Seed", PeerMode.SEED), (" LIVESEED ", PeerMode.LIVESEED)]:
            decoded = XML_CODEC.decodeRequest(
                request("JOIN", "<SwarmID>s</SwarmID>", f"<PeerMode>{text}</PeerMode>")
            )
            self.assertEqual(decoded.mode, mode)  # type: ignore[attr-defined]
        for text in ["SEEDER", "", "LEECHER", "1"]:
            self.assertDecodeError(
                request("JOIN", "<SwarmID>s</SwarmID>", f"<PeerMode>{text}</PeerMode>"), SYNTAX, "t-1"
            )

    def test_chunkRanges(self) -> None:
        """
        A ChunkRange needs C{from} and C{to}, with from <= to, within
        0 to 2^64-1; there is at most one C{<Chunks>} wrapper.
        """
        def joinChunk(*chunks: str) -> bytes:
            """
            A JOIN_CHUNK announcing C{chunks}.
            """
            return request("JOIN_CHUNK", "<SwarmID>s</SwarmID>", *chunks)

        self.assertEqual(
            XML_CODEC.decodeRequest(joinChunk('<ChunkRange from="3" to="3"/>')).chunks,  # type: ignore[attr-defined]
            (ChunkRange(3, 3),),
        )
        for bad in [
            '<ChunkRange from="5" to="4"/>',
            '<ChunkRange from="5"/>',
            '<ChunkRange to="5"/>',
            f'<ChunkRange from="0" to="{MAX_CHUNK_ID + 1}"/>',
            f"<ChunkID>{MAX_CHUNK_ID + 1}</ChunkID>",
            "<ChunkID>-1</ChunkID>",
            "<Chunks><ChunkID>x</ChunkID></Chunks>",
            "<Chunks><ChunkID>1</ChunkID></Chunks><Chunks><ChunkID>2</ChunkID></Chunks>",
        ]:
            self.assertDecodeError(joinChunk(bad), SYNTAX, "t-1")

    def test_expireTimeSeconds(self) -> None:
        """
        A decimal ExpireTime is seconds from now (C{expireTime}); zero is
        kept as C{0.0}, which the model reads as no expiry.
        """
        def join(text: str) -> Any:
            """
            Decode a JOIN whose ExpireTime is C{text}.
            """
            return XML_CODEC.decodeRequest(
                request("JOIN", "<SwarmID>s</SwarmID>", f"<ExpireTime>{text}</ExpireTime>")
            )

        for text, seconds in [("30", 30.0), (" 2.5 ", 2.5), ("0", 0.0), (".5", 0.5), ("7.", 7.0)]:
            decoded = join(text)
            self.assertEqual((decoded.expireTime, decoded.expireAt), (seconds, None))
        self.assertEqual(join(str(F.MAX_INT32)).expireTime, float(F.MAX_INT32))
        for bad in ["-5", "1e3", "soon", "", "nan", "inf", str(F.MAX_INT32 + 1), "9" * 400]:
            self.assertDecodeError(
                request("JOIN", "<SwarmID>s</SwarmID>", f"<ExpireTime>{bad}</ExpireTime>"),
                SYNTAX,
                "t-1",
            )

    def test_expireTimeISO(self) -> None:
        """
        An ISO 8601 ExpireTime is an absolute end (C{expireAt}, POSIX
        seconds); without an offset it is UTC.
        """
        when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp()
        for text in [
            "2030-01-02T03:04:05Z",
            "2030-01-02T03:04:05",
            "2030-01-02T04:04:05+01:00",
            "2030-01-02T03:04:05.000+00:00",
        ]:
            decoded = XML_CODEC.decodeRequest(
                request("JOIN", "<SwarmID>s</SwarmID>", f"<ExpireTime>{text}</ExpireTime>")
            )
            self.assertEqual((decoded.expireTime, decoded.expireAt), (None, when), text)  # type: ignore[attr-defined]
        for bad in ["2030-13-01T00:00:00", "2030-01-02T25:00:00", "tomorrow", "2030-01-02T03:04:05+25:00"]:
            self.assertDecodeError(
                request("JOIN", "<SwarmID>s</SwarmID>", f"<ExpireTime>{bad}</ExpireTime>"),
                SYNTAX,
                "t-1",
            )

    def test_stats(self) -> None:
        """
        A Stat needs a property of 1 to 64 printable characters; its value
        is text only; its swarm, when given, is an identifier.
        """
        def report(stat: str) -> bytes:
            """
            A STAT_REPORT holding C{stat}.
            """
            return request("STAT_REPORT", f"<Stats>{stat}</Stats>")

        XML_CODEC.decodeRequest(report(f'<Stat property="{"p" * 64}">1</Stat>'))
        for bad in [
            "<Stat>1</Stat>",
            '<Stat property="">1</Stat>',
            f'<Stat property="{"p" * 65}">1</Stat>',
            '<Stat property="x" swarm="">1</Stat>',
            '<Stat property="x"><b>1</b></Stat>',
        ]:
            self.assertDecodeError(report(bad), SYNTAX, "t-1")
        self.assertDecodeError(
            request("STAT_QUERY", "<StatRequest><Stat/></StatRequest>"), SYNTAX, "t-1"
        )

    def test_noStatLimits(self) -> None:
        """
        The per-message limits on Stats (64 of them, 256-character values)
        are the tracker core's, not the codec's.
        """
        many = "".join(f'<Stat property="p{i}">{"v" * 300}</Stat>' for i in range(100))
        decoded = XML_CODEC.decodeRequest(request("STAT_REPORT", f"<Stats>{many}</Stats>"))
        self.assertEqual(len(decoded.stats), 100)  # type: ignore[attr-defined]

    def test_transactionIDInErrors(self) -> None:
        """
        Errors found after the TransactionID was read carry it, wherever
        it stands in the document.
        """
        body = message(
            "<Method>FIND</Method>",
            "<PeerID>p</PeerID>",
            "<SwarmID>s</SwarmID>",
            "<PeerNum>many</PeerNum>",
            "<TransactionID>late-one</TransactionID>",
        )
        self.assertDecodeError(body, SYNTAX, "late-one")
        self.assertDecodeError(
            request("KEEPALIVE", "<?pi x?>", tid="with-pi"), SYNTAX, "with-pi"
        )

    def test_responseErrors(self) -> None:
        """
        Responses follow the same rules: unknown codes, a missing
        TransactionID in an OK answer, and bad fields are INVALID SYNTAX.
        """
        self.assertDecodeError(response("GREAT"), SYNTAX, "t-1", Method.FIND)
        self.assertDecodeError(response("JOIN"), SYNTAX, "t-1", Method.FIND)
        self.assertDecodeError(message("<Response>OK</Response>"), SYNTAX, None, Method.LEAVE)
        self.assertDecodeError(
            response("OK", "<KeepAliveInterval>-1</KeepAliveInterval>"),
            SYNTAX,
            "t-1",
            Method.KEEPALIVE,
        )
        self.assertDecodeError(
            response("OK", "<Peers><Peer><PeerMode>SEED</PeerMode></Peer></Peers>"),
            SYNTAX,
            "t-1",
            Method.FIND,
        )
        self.assertDecodeError(
            message("<Response>OK</Response>", "<TransactionID>t-1</TransactionID>", version="3"),
            ResponseCode.VERSION_NOT_SUPPORTED,
            "t-1",
            Method.FIND,
        )


class HostileInputTests(DecodeAssertions, SynchronousTestCase):
    """
    Hostile documents are refused with INVALID SYNTAX and never make the
    codec expand or fetch anything.
    """

    def test_billionLaughs(self) -> None:
        """
        The billion laughs attack is refused (libxml2 stops it while
        parsing, so not even the TransactionID is read).
        """
        lol = "".join(
            f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)
        )
        body = (
            '<?xml version="1.0"?><!DOCTYPE PPSPTrackerProtocol [<!ENTITY lol0 "lol">'
            + lol
            + ']><PPSPTrackerProtocol version="1.0"><Method>KEEPALIVE</Method>'
            "<TransactionID>t</TransactionID><PeerID>&lol9;</PeerID></PPSPTrackerProtocol>"
        ).encode()
        self.assertDecodeError(body, SYNTAX, None)

    def test_externalEntity(self) -> None:
        """
        An external entity naming a local file is refused and the file is
        never read into the message or the reason.
        """
        fd, path = tempfile.mkstemp()
        os.write(fd, b"SECRET-CONTENT")
        os.close(fd)
        self.addCleanup(os.remove, path)
        for target in [f"file://{path}", "file:///etc/passwd"]:
            body = (
                f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{target}">]>'
                '<PPSPTrackerProtocol version="1.0"><Method>KEEPALIVE</Method>'
                "<TransactionID>t</TransactionID><PeerID>&x;</PeerID></PPSPTrackerProtocol>"
            ).encode()
            error = self.assertDecodeError(body, SYNTAX, "t")
            self.assertNotIn("SECRET", error.reason)
            self.assertNotIn("root:", error.reason)

    def test_externalDTD(self) -> None:
        """
        A DOCTYPE naming an external DTD is refused, and its undefined
        entities with it.
        """
        body = (
            b'<!DOCTYPE r SYSTEM "http://example.com/x.dtd"><PPSPTrackerProtocol version="1.0">'
            b"<Method>KEEPALIVE</Method><TransactionID>t</TransactionID><PeerID>&x;</PeerID>"
            b"</PPSPTrackerProtocol>"
        )
        self.assertDecodeError(body, SYNTAX, "t")

    def test_doctypeAlone(self) -> None:
        """
        A bare DOCTYPE is refused, although nothing uses it.
        """
        body = b"<!DOCTYPE PPSPTrackerProtocol>" + request("KEEPALIVE").split(b"?>", 1)[1]
        self.assertDecodeError(body, SYNTAX, "t-1")

    def test_internalEntity(self) -> None:
        """
        An internal entity declaration is refused, used or not.
        """
        for use in ["&x;", "p"]:
            body = (
                '<!DOCTYPE r [<!ENTITY x "p">]><PPSPTrackerProtocol version="1.0">'
                "<Method>KEEPALIVE</Method><TransactionID>t</TransactionID>"
                f"<PeerID>{use}</PeerID></PPSPTrackerProtocol>"
            ).encode()
            self.assertDecodeError(body, SYNTAX, "t")

    def test_undefinedEntity(self) -> None:
        """
        A reference to an undefined entity is not well-formed.
        """
        self.assertDecodeError(request("KEEPALIVE", peer="&x;"))

    def test_predefinedEntities(self) -> None:
        """
        The five predefined entities and character references are text,
        not entity references.
        """
        decoded = XML_CODEC.decodeRequest(request("KEEPALIVE", peer="&lt;&gt;&amp;&apos;&quot;&#65;"))
        self.assertEqual(decoded.peerID, "<>&'\"A")

    def test_processingInstructions(self) -> None:
        """
        A processing instruction before, inside or after the root is
        refused; the XML declaration and C{<?} in a CDATA section or a
        comment are not processing instructions.
        """
        plain = request("KEEPALIVE")
        declaration, rest = plain.split(b"?>", 1)
        declaration += b"?>"
        for body in [
            declaration + b'<?xml-stylesheet href="x"?>' + rest,
            request("KEEPALIVE", "<?php echo 1; ?>"),
            plain + b"<?after?>",
            b"<?pi?>" + rest,
        ]:
            self.assertDecodeError(body, SYNTAX, "t-1")
        for body in [
            request("KEEPALIVE", "<!-- <?not a pi?> -->"),
            request("KEEPALIVE", "<X><![CDATA[<?not a pi?>]]></X>"),
            rest,
        ]:
            self.assertIsInstance(XML_CODEC.decodeRequest(body), KeepAliveRequest)

    def test_xinclude(self) -> None:
        """
        XInclude is not processed: an C{xi:include} is an unknown element.
        """
        body = request(
            "KEEPALIVE",
            '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"'
            ' parse="text"/>',
        )
        self.assertEqual(XML_CODEC.decodeRequest(body), KeepAliveRequest("t-1", "peer-a"))

    def test_deepNesting(self) -> None:
        """
        Documents nested deeper than 16 levels are refused, whether
        libxml2 notices (10,000 levels) or not (17 levels); 16 are fine.
        """
        def nested(levels: int) -> bytes:
            """
            A KEEPALIVE nested C{levels} deep: the root is level 1, so
            C{levels - 1} elements are nested inside it.
            """
            inner = levels - 1
            return request("KEEPALIVE", "<X>" * inner + "</X>" * inner)

        self.assertIsInstance(XML_CODEC.decodeRequest(nested(16)), KeepAliveRequest)
        self.assertDecodeError(nested(17), SYNTAX, "t-1")
        self.assertDecodeError(nested(10000))

    def test_encodings(self) -> None:
        """
        Invalid UTF-8, UTF-16 (with or without a declaration), another
        declared encoding, and UCS-4 are refused.
        """
        plain = request("KEEPALIVE")
        text = plain.decode("utf-8")
        self.assertDecodeError(plain.replace(b"peer-a", b"peer-\xff"))
        self.assertDecodeError(plain.replace(b"peer-a", b"peer-\xed\xa0\x80"))
        self.assertDecodeError(plain.replace(b"peer-a", b"peer-\xc3"))
        self.assertDecodeError(text.encode("utf-16"))
        self.assertDecodeError(text.replace("UTF-8", "UTF-16").encode("utf-16"))
        self.assertDecodeError(text.replace("UTF-8", "UTF-16").encode("utf-8"))
        self.assertDecodeError(text.replace("UTF-8", "ISO-8859-1").encode("utf-8"))
        self.assertDecodeError(text.replace("UTF-8", "ISO-8859-1").replace("peer-a", "p\u00e9").encode("latin-1"))
        self.assertDecodeError(text.split("?>", 1)[1].encode("utf-32-be"))

    def test_acceptedEncodings(self) -> None:
        """
        UTF-8 with or without a declaration, any case of its name, and
        with a byte order mark, is accepted.
        """
        plain = request("KEEPALIVE")
        rest = plain.split(b"?>", 1)[1]
        for body in [
            plain,
            rest,
            b"\xef\xbb\xbf" + plain,
            plain.replace(b"UTF-8", b"utf-8"),
            plain.replace(b'encoding="UTF-8"', b"encoding = 'utf8'"),
            b'<?xml version="1.0"?>' + rest,
            b"<?xml version='1.0' standalone='yes'?>" + rest,
        ]:
            self.assertIsInstance(XML_CODEC.decodeRequest(body), KeepAliveRequest, body)

    def test_notWellFormed(self) -> None:
        """
        Empty, blank, truncated, or non-XML bodies are INVALID SYNTAX, and
        the reason is safe to send back.
        """
        for body in [b"", b"   ", b"{}", b"<PPSPTrackerProtocol", request("KEEPALIVE")[:-5], b"\x00\x01"]:
            error = self.assertDecodeError(body)
            XML_CODEC.encodeResponse(error.toResponse())

    @settings(max_examples=200)
    @given(st.binary(max_size=300))
    def test_randomBytes(self, body: bytes) -> None:
        """
        Random bytes give a L{DecodeError} (or, by chance, a message) and
        nothing else, as request and as response.
        """
        self.checkOnlyDecodeError(body)

    @settings(max_examples=200)
    @given(
        requests,
        st.lists(
            st.tuples(st.sampled_from(["delete", "insert", "replace"]), st.integers(0, 10**6), st.binary(max_size=8)),
            min_size=1,
            max_size=4,
        ),
    )
    def test_mutatedMessages(self, message: Request, mutations: Sequence[Any]) -> None:
        """
        Valid messages with bytes deleted, inserted or replaced give a
        L{DecodeError} with a decoding code (or a message) and nothing
        else, and every error can be answered.
        """
        body = bytearray(XML_CODEC.encodeRequest(message))
        for kind, position, data in mutations:
            position %= len(body) + 1
            if kind == "delete":
                del body[position : position + 1 + len(data)]
            elif kind == "insert":
                body[position:position] = data
            else:
                body[position : position + len(data)] = data
        self.checkOnlyDecodeError(bytes(body))

    def checkOnlyDecodeError(self, body: bytes) -> None:
        """
        Decoding C{body} as a request and as a response raises nothing but
        a L{DecodeError} with a decoding code, whose error response can be
        encoded.
        """
        for decode in [
            XML_CODEC.decodeRequest,
            lambda b: XML_CODEC.decodeResponse(b, Method.FIND),
            lambda b: XML_CODEC.decodeResponse(b, Method.CONNECT),
        ]:
            try:
                decode(body)
            except DecodeError as e:
                self.assertIn(e.code, DECODE_CODES)
                self.assertIsInstance(e.reason, str)
                XML_CODEC.encodeResponse(e.toResponse())


class SelectCodecTests(SynchronousTestCase):
    """
    L{selectCodec} follows PROTOCOL.md section 1.
    """

    def test_xmlMediaTypes(self) -> None:
        """
        The three XML media types select XML, in any case, with or without
        parameters, whatever the body.
        """
        for contentType in [
            b"application/ppsp-tracker+xml",
            b"text/xml",
            b"application/xml",
            b"APPLICATION/XML",
            b"Text/XML; charset=utf-8",
            b"application/ppsp-tracker+xml;charset=UTF-8",
            b" application/xml ; charset=iso-8859-1",
        ]:
            self.assertIs(selectCodec(contentType, b"{}"), XML_CODEC, contentType)

    def test_jsonMediaTypes(self) -> None:
        """
        The JSON media types select the JSON codec of RFC 7846, in any
        case, with or without parameters, whatever the body.
        """
        for contentType in [
            b"application/ppsp-tracker+json",
            b"application/json",
            b"Application/JSON; charset=utf-8",
        ]:
            self.assertIs(selectCodec(contentType, b"<x/>"), JSON_CODEC, contentType)

    def test_sniffing(self) -> None:
        """
        With no or another media type, the first non-blank byte decides:
        C{<} XML, C{{} JSON, anything else INVALID SYNTAX.
        """
        for contentType in [None, b"", b"text/plain"]:
            self.assertIs(selectCodec(contentType, b'\n {"a": 1}'), JSON_CODEC)
            self.assertIs(selectCodec(contentType, b'\xef\xbb\xbf{}'), JSON_CODEC)
        for contentType in [None, b"", b"text/plain", b"application/octet-stream", b";"]:
            self.assertIs(selectCodec(contentType, b"<?xml?>"), XML_CODEC)
            self.assertIs(selectCodec(contentType, b" \r\n\t<x/>"), XML_CODEC)
            self.assertIs(selectCodec(contentType, b"\xef\xbb\xbf<x/>"), XML_CODEC)
            for body in [b"", b"   ", b"hello", b"\x00<x/>", b"[1]"]:
                error = self.assertRaises(DecodeError, selectCodec, contentType, body)
                self.assertEqual(error.code, SYNTAX)
                self.assertIsNone(error.transactionID)


class FieldTests(SynchronousTestCase):
    """
    The shared field rules of L{ppsp.codec._fields}.
    """

    def test_validIdentifier(self) -> None:
        """
        An identifier is 1 to N printable characters (see
        L{test_isPrintable}), without an outer space.
        """
        self.assertTrue(F.validIdentifier("a", 1))
        self.assertTrue(F.validIdentifier("a b\u00e9\U0001f600", 10))
        for bad in ["", "ab", " a", "a ", "\x00", "a\x7f", "a\x9f", "\ud800", "a\tb"]:
            self.assertFalse(F.validIdentifier(bad, 1 if bad == "ab" else 10), repr(bad))

    def test_isPrintable(self) -> None:
        """
        Printable (PROTOCOL.md section 2) means no control (Cc) or format
        (Cf) character, no line or paragraph separator, no surrogate and no
        unassigned code point; non-ASCII spaces and private-use characters
        are printable, although C{str.isprintable} says otherwise.
        """
        self.assertTrue(F.isPrintable("\u00a0x\u3000\ue000"))
        for bad in ["x\x85", "x\udfff", "\u200b", "x\u200dy", "\u2028", "\u2029", "\u202e", "\u2066",
                    "\ufeff", "\U000e0001", "\u0378", "\ufffe", "\U0010ffff"]:
            self.assertFalse(F.isPrintable(bad), repr(bad))

    def test_quoteAndSafeReason(self) -> None:
        """
        Values shown in reasons are quoted, cut short and escaped, so that
        a reason can always be encoded.
        """
        self.assertEqual(F.quote("ab"), "'ab'")
        self.assertEqual(F.quote("x" * 50, 3), "'xxx'...")
        self.assertEqual(F.quote("a\x00\ud800"), "'a\\x00\\ud800'")
        self.assertEqual(F.safeReason("a\x00b\ufffe", 3), "a?b")

    @given(expireSeconds)
    def test_secondsRoundTrip(self, seconds: float) -> None:
        """
        L{F.formatSeconds} writes text that L{F.expireTime} reads back to
        the same number.
        """
        text = F.formatSeconds(seconds)
        self.assertNotIn("e", text)
        self.assertEqual(F.expireTime(text), (seconds, None))

    @given(expireTimes)
    def test_timestampRoundTrip(self, posix: float) -> None:
        """
        L{F.formatTimestamp} writes an ISO 8601 UTC time that
        L{F.expireTime} reads back to the same time.
        """
        text = F.formatTimestamp(posix)
        self.assertTrue(text.endswith("Z"), text)
        self.assertEqual(F.expireTime(text), (None, posix))

    def test_expireTimeSameOnEveryPython(self) -> None:
        """
        L{F.expireTime} reads ISO 8601 as Python 3.11's
        C{datetime.fromisoformat} does, on every supported Python: on 3.10,
        whose own C{fromisoformat} refuses all of these, too.
        """
        when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp()
        for text, posix in [
            ("2030-01-02T03:04:05Z", when),
            ("2030-01-02T03:04:05.5Z", when + 0.5),
            ("2030-01-02T03:04:05.123456789Z", when + 0.123456),
            ("20300102T030405Z", when),
            ("2030-01-02T03:04Z", when - 5),
            ("2030-01-02T04:04:05+01", when),
            ("2030-W01-3", datetime(2030, 1, 2, tzinfo=timezone.utc).timestamp()),
        ]:
            self.assertEqual(F.expireTime(text), (None, posix), text)
        for bad in ["2030-01-02T03:04:05z", "2030-01-02Z", "2030-01-02T24:00:00", "2030-01"]:
            self.assertRaises(F.DecodeError, F.expireTime, bad)

    def test_ipCache(self) -> None:
        """
        Canonical IPs are remembered, and the memory is bounded.
        """
        for i in range(F._IP_CACHE_SIZE + 10):
            F.ipAddress(f"10.0.{i // 256}.{i % 256}")
        self.assertLessEqual(len(F._IP_CACHE), F._IP_CACHE_SIZE)
        self.assertEqual(F.ipAddress("::FFFF:10.0.0.1"), "10.0.0.1")


class MappedAddressTests(SynchronousTestCase):
    """
    IPv4-mapped IPv6 addresses are normalised to IPv4.
    """

    def test_mappedAnnouncedAddress(self) -> None:
        """
        An announced C{::ffff:a.b.c.d} decodes as C{a.b.c.d}, so it can equal
        the IPv4 address the tracker observes.
        """
        request = XML_CODEC.decodeRequest(
            b'<PPSPTrackerProtocol version="1.0"><Method>CONNECT</Method>'
            b"<TransactionID>1</TransactionID><PeerID>p</PeerID>"
            b'<PeerAddresses><PeerAddress ip="::ffff:198.51.100.7" port="1"/></PeerAddresses>'
            b"</PPSPTrackerProtocol>"
        )
        self.assertEqual(request.addresses[0].ip, "198.51.100.7")  # type: ignore[attr-defined]


#: Characters no identifier may hold (PROTOCOL.md section 2), by what they
#: are: line and paragraph separators (Zl, Zp), format characters (Cf:
#: bidirectional override, mark, isolate, zero-width space, byte order
#: mark, a tag character), control characters (Cc) that XML 1.0 can carry,
#: and an unassigned code point (Cn).
REFUSED_IN_IDENTIFIERS = [
    "\u2028", "\u2029", "\u202e", "\u202d", "\u200e", "\u200f", "\u2066", "\u2069", "\u200b", "\ufeff",
    "\U000e0041", "\x7f", "\x85", "\u0378",
]

#: Identifiers that are valid: letters of several scripts, marks, emoji,
#: symbols, a non-ASCII space inside, a private-use character.
ACCEPTED_IDENTIFIERS = ["pair-é-日本", "שלום-peer", "e\u0301", "\U0001f600", "a\u00a0b", "\ue000x", "a b"]


class IdentifierRuleTests(DecodeAssertions, SynchronousTestCase):
    """
    PeerIDs, SwarmIDs and the other identifiers of an XML message hold only
    printable characters (PROTOCOL.md section 2): a control, format,
    separator or unassigned character anywhere in one is INVALID SYNTAX,
    whether it is written as itself or as a character reference.
    """

    def test_refusedInPeerID(self) -> None:
        """
        A PeerID holding a refused character, at its start, in its middle
        or at its end, is INVALID SYNTAX (with the TransactionID).
        """
        for char in REFUSED_IN_IDENTIFIERS:
            for peerID in [char + "peer", "pe" + char + "er", "peer" + char]:
                for written in [peerID, peerID.replace(char, f"&#x{ord(char):X};")]:
                    error = self.assertDecodeError(request("KEEPALIVE", peer=written), transactionID="t-1")
                    self.assertIn("PeerID", error.reason)

    def test_refusedInSwarmID(self) -> None:
        """
        A SwarmID holding a refused character is INVALID SYNTAX, in a JOIN
        and in a Stat's C{swarm} attribute.
        """
        for char in REFUSED_IN_IDENTIFIERS:
            swarmID = f"live{char}1"
            self.assertDecodeError(request("JOIN", f"<SwarmID>{swarmID}</SwarmID>"), transactionID="t-1")
            self.assertDecodeError(
                request("STAT_REPORT", f'<Stats><Stat property="BufferLevel" swarm="{swarmID}">5</Stat></Stats>'),
                transactionID="t-1",
            )

    def test_refusedInOtherIdentifiers(self) -> None:
        """
        The same rule holds for the TransactionID (then unreadable, so the
        error carries none), the AuthToken and a Stat property name.
        """
        for char in REFUSED_IN_IDENTIFIERS:
            self.assertDecodeError(request("KEEPALIVE", tid=f"t{char}1"))
            self.assertDecodeError(request("KEEPALIVE", f"<AuthToken>tok{char}en</AuthToken>"), transactionID="t-1")
            self.assertDecodeError(
                request("STAT_REPORT", f'<Stats><Stat property="Up{char}">5</Stat></Stats>'), transactionID="t-1"
            )

    def test_tabInside(self) -> None:
        """
        A tab inside an identifier (white space XML does not strip there)
        is a control character: INVALID SYNTAX.
        """
        self.assertDecodeError(request("KEEPALIVE", peer="pe\ter"), transactionID="t-1")

    def test_accepted(self) -> None:
        """
        Identifiers in any script, with marks, emoji, symbols, private-use
        characters or non-ASCII spaces inside, are accepted unchanged.
        """
        for peerID in ACCEPTED_IDENTIFIERS:
            decoded = XML_CODEC.decodeRequest(request("JOIN", f"<SwarmID>{peerID}</SwarmID>", peer=peerID))
            assert isinstance(decoded, JoinRequest)
            self.assertEqual((decoded.peerID, decoded.swarmID), (peerID, peerID))

    def test_validIdentifier(self) -> None:
        """
        L{F.validIdentifier}, which the swarms file, the peer's options and
        the admin interface use, follows the same rule.
        """
        for char in REFUSED_IN_IDENTIFIERS:
            self.assertFalse(F.validIdentifier(f"a{char}b", 128), repr(char))
        for good in ACCEPTED_IDENTIFIERS:
            self.assertTrue(F.validIdentifier(good, 128), repr(good))
