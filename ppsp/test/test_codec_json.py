# -*- test-case-name: ppsp.test.test_codec_json -*-
"""
Tests for L{ppsp.codec.json}: the JSON encoding of RFC 7846 (PROTOCOL.md
section 7).  Every example message of RFC 7846 is a test vector below,
copied from the RFC's text (sections 4.1.1.1, 4.1.2.1 and 4.1.3.1).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Dict, List, Optional, Set, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers
from zope.interface.verify import verifyObject

from ppsp.test.test_codec import DecodeAssertions as XMLDecodeAssertions
from ppsp.codec import JSON_CODEC, JSON_CONTENT_TYPE, DecodeError, JSONCodec, selectCodec
from ppsp.codec import json as J
from ppsp.interfaces import ICodec
from ppsp.messages import (
    AddressType,
    ConnectResponse,
    DisconnectRequest,
    ErrorResponse,
    FindChunkRequest,
    FindRequest,
    FindResponse,
    JoinRequest,
    KeepAliveRequest,
    KeepAliveResponse,
    LeaveResponse,
    Method,
    PeerAddress,
    PeerInfo,
    PeerMode,
    PPSTPConnectRequest,
    PPSTPConnectResponse,
    ResponseCode,
    Stat,
    StatReportRequest,
    StatReportResponse,
    SwarmAction,
    SwarmActionType,
    SwarmResult,
)
from ppsp.test.test_codec import (
    ACCEPTED_IDENTIFIERS,
    REFUSED_IN_IDENTIFIERS,
    addresses,
    freeText,
    ids,
    int32,
    tids,
)

SYNTAX = ResponseCode.INVALID_SYNTAX
DECODE_CODES = {
    ResponseCode.INVALID_SYNTAX,
    ResponseCode.VERSION_NOT_SUPPORTED,
    ResponseCode.MESSAGE_NOT_SUPPORTED,
}

# RFC 7846 test vectors -------------------------------------------------------

#: Section 4.1.1.1: a SEEDER (re)starts sharing two swarms.
CONNECT_SEEDER = b"""\
{
  "PPSPTrackerProtocol": {
    "version":              1,
    "request_type":         "CONNECT",
    "transaction_id":       "12345",
    "peer_id":              "656164657220",
    "connect":{
        "peer_addr": {
               "ip_address": {
                    "address_type":     "ipv4",
                    "address":          "192.0.2.2"
               },
               "port":         80,
               "priority":     1,
               "type":         "HOST",
               "connection":   "wired",
               "asn":          "45645"
        },
        "swarm_action": [{
            "swarm_id":       "1111",
            "action":         "JOIN",
            "peer_mode":      "SEEDER"
        },
        {
            "swarm_id":       "2222",
            "action":         "JOIN",
            "peer_mode":      "SEEDER"
        }]
    }
  }
}
"""

#: Section 4.1.1.1: a LEECH joins one swarm, with peer_num and two addresses.
CONNECT_LEECH = b"""\
{
  "PPSPTrackerProtocol": {
    "version":               1,
    "request_type":          "CONNECT",
    "transaction_id":        "12345.0",
    "peer_id":               "656164657221",
    "connect":{
        "peer_num": {
            "peer_count":        5,
            "ability_nat":       "STUN",
            "concurrent_links":  "5",
            "online_time":       "200",
            "upload_bandwidth":  "600"
         },
         "peer_addr": [{
               "ip_address": {
                    "address_type":     "ipv4",
                    "address":          "192.0.2.2"
               },
               "port":         80,
               "priority":     1,
               "type":         "HOST",
               "connection":   "wired",
               "asn":          "3256546"
         },
         {
               "ip_address":{
                   "address_type":     "ipv6",
                   "address":          "2001:db8::2"
               },
               "port":         80,
               "priority":     2,
               "type":         "HOST",
               "connection":   "wireless",
               "asn":          "34563456",
               "peer_protocol": "PPSP-PP"
         }],
         "swarm_action": {
            "swarm_id":       "1111",
            "action":         "JOIN",
            "peer_mode":      "LEECH"
         }
    }
  }
}
"""

#: Section 4.1.1.1: a peer leaves a swarm and joins another (a channel switch).
CONNECT_SWITCH = b"""\
{
  "PPSPTrackerProtocol": {
    "version":              1,
    "request_type":         "CONNECT",
    "transaction_id":       "12345",
    "peer_id":              "656164657221",
    "connect":{
        "peer_num": {
            "peer_count":        5,
            "ability_nat":       "STUN",
            "concurrent_links":  "5",
            "online_time":       "200",
            "upload_bandwidth":  "600"
        },
        "swarm_action": [{
            "swarm_id":          "1111",
            "action":            "LEAVE",
            "peer_mode":         "LEECH"
        },
        {
            "swarm_id":          "2222",
            "action":            "JOIN",
            "peer_mode":         "LEECH"
        }]
    }
  }
}
"""

#: Section 4.1.1.1: the answer to CONNECT_SWITCH.
CONNECT_RESPONSE = b"""\
{
  "PPSPTrackerProtocol": {
    "version":               1,
    "response_type":         0,
    "error_code":            0,
    "transaction_id":        "12345",
    "peer_addr": {
        "ip_address": {
            "address_type":     "ipv4",
            "address":          "198.51.100.1"
        },
        "port":          80,
        "priority":      1,
        "asn":           "64496"
   },
   "swarm_result": {
        "swarm_id":        "2222",
        "result":          0,
        "peer_group": {
            "peer_info": [{
                "peer_id":    "956264622298",
                "peer_addr": {
                    "ip_address": {
                        "address_type":     "ipv4",
                        "address":          "198.51.100.22"
                    },
                    "port":          80,
                    "priority":      2,
                    "type":          "REFLEXIVE",
                    "connection":    "wired",
                    "asn":           "64496",
                    "peer_protocol": "PPSP-PP"
                }
            },
            {
                "peer_id":    "3332001256741",
                "peer_addr": {
                    "ip_address": {
                        "address_type":     "ipv4",
                        "address":          "198.51.100.201"
                    },
                    "port":          80,
                    "priority":      2,
                    "type":          "REFLEXIVE",
                    "connection":    "wired",
                    "asn":           "64496",
                    "peer_protocol": "PPSP-PP"
                }
            }]
          }
       }
   }
}
"""

#: Section 4.1.2.1: FIND without the find wrapper, with peer_num.
FIND = b"""\
{
  "PPSPTrackerProtocol": {
      "version":             1,
      "request_type":        "FIND",
      "transaction_id":      "12345",
      "peer_id":             "656164657221",
      "swarm_id":            "1111",
      "peer_num": {
          "peer_count":        5,
          "ability_nat":       "STUN",
          "concurrent_links":  "5",
          "online_time":       "200",
          "upload_bandwidth":  "600"
      }
  }
}
"""

#: Section 4.1.2.1: the answer to FIND.
FIND_RESPONSE = b"""\
{
  "PPSPTrackerProtocol": {
      "version":             1,
      "response_type":       0,
      "error_code":          0,
      "transaction_id":      "12345",
      "swarm_result": {
          "swarm_id":        "1111",
          "result":          0,
          "peer_group": {
              "peer_info": [{
                  "peer_id":    "656164657221",
                  "peer_addr": {
                      "ip_address": {
                          "address_type":     "ipv4",
                          "address":          "198.51.100.1"
                      },
                      "port":          80,
                      "priority":      1,
                      "type":          "REFLEXIVE",
                      "connection":    "wireless",
                      "asn":           "64496"
                  }
              },
              {
                  "peer_id":    "956264622298",
                  "peer_addr": {
                      "ip_address": {
                          "address_type":     "ipv4",
                          "address":          "198.51.100.22"
                      },
                      "port":          80,
                      "priority":      1,
                      "type":          "REFLEXIVE",
                      "connection":    "wireless",
                      "asn":           "64496"
                  }
              },
              {
                  "peer_id":    "3332001256741",
                  "peer_addr": {
                      "ip_address": {
                          "address_type":     "ipv4",
                          "address":          "198.51.100.201"
                      },
                      "port":          80,
                      "priority":      1,
                      "type":          "REFLEXIVE",
                      "connection":    "wireless",
                      "asn":           "64496"
                  }
              }]
          }
      }
  }
}
"""

#: Section 4.1.3.1: STAT_REPORT with one capitalised Stat.
STAT_REPORT = b"""\
{
  "PPSPTrackerProtocol": {
      "version":             1,
      "request_type":        "STAT_REPORT",
      "transaction_id":      "12345",
      "peer_id":             "656164657221",
      "stat_report": {
          "type":  "STREAM_STATS",
          "Stat": {
                "swarm_id":              "1111",
                "uploaded_bytes":        512,
                "downloaded_bytes":      768,
                "available_bandwidth":   1024000,
                "concurrent_links":      5
          }
      }
  }
}
"""

#: Section 4.1.3.1: the answer to STAT_REPORT.
STAT_REPORT_RESPONSE = b"""\
{
  "PPSPTrackerProtocol": {
      "version":              1,
      "response_type":        0,
      "error_code":           0,
      "transaction_id":       "12345",
      "swarm_result": {
          "swarm_id":     "1111",
          "result":       0
      }
  }
}
"""

RFC_REQUESTS = [CONNECT_SEEDER, CONNECT_LEECH, CONNECT_SWITCH, FIND, STAT_REPORT]


def ppstp(**members: Any) -> bytes:
    """
    A document C{{"PPSPTrackerProtocol": members}}.
    """
    return json.dumps({"PPSPTrackerProtocol": members}).encode("utf-8")


def req(requestType: str = "FIND", tid: str = "t-1", peer: Any = "p", **members: Any) -> bytes:
    """
    A request with version 1 and the given type, transaction ID, PeerID and
    members.
    """
    return ppstp(version=1, request_type=requestType, transaction_id=tid, peer_id=peer, **members)


def joinAction(swarmID: str = "s", mode: str = "LEECH", action: str = "JOIN") -> Dict[str, str]:
    """
    One C{swarm_action}.
    """
    return {"swarm_id": swarmID, "action": action, "peer_mode": mode}


def fromJSON(body: bytes) -> Any:
    """
    The C{PPSPTrackerProtocol} object of a document.
    """
    return json.loads(body)["PPSPTrackerProtocol"]


def paths(value: Any, prefix: str = "") -> Set[Tuple[str, str]]:
    """
    Every member path of a JSON value with the JSON type found there; an
    array and a single object give the same paths (PROTOCOL.md section 7
    accepts both where the RFC's grammar and examples differ).
    """
    if isinstance(value, dict):
        found: Set[Tuple[str, str]] = set()
        for key, item in value.items():
            found |= paths(item, f"{prefix}.{key}" if prefix else key)
        return found
    if isinstance(value, list):
        found = set()
        for item in value:
            found |= paths(item, prefix)
        return found
    return {(prefix, "number" if isinstance(value, int) else type(value).__name__)}


# Members of RFC 7846's examples that the model has no place for (optional
# in the grammar), and the extension members this codec adds (RFC 7846
# section 4.4: receivers ignore unknown members).
_RFC_OPTIONAL = ("connection", "asn", "peer_protocol")
_EXTENSIONS = ("auth_token", "keepalive_interval", "peer_mode", "type")


def _strip(found: Set[Tuple[str, str]], names: Tuple[str, ...]) -> Set[Tuple[str, str]]:
    return {(path, kind) for path, kind in found if path.rsplit(".", 1)[-1] not in names}


class DecodeAssertions(XMLDecodeAssertions):
    """
    Assertions about decoding failures, for the JSON codec.
    """

    codec = JSON_CODEC


class InterfaceTests(SynchronousTestCase):
    """
    L{JSONCodec} is an L{ICodec}, registered for the JSON media types.
    """

    def test_verifyObject(self) -> None:
        """
        The shared instance provides L{ICodec}, with its name and the RFC's
        media type.
        """
        self.assertTrue(verifyObject(ICodec, JSON_CODEC))
        self.assertIsInstance(JSON_CODEC, JSONCodec)
        self.assertEqual((JSON_CODEC.name, JSON_CODEC.contentType), ("json", JSON_CONTENT_TYPE))
        self.assertEqual(JSON_CONTENT_TYPE, b"application/ppsp-tracker+json")

    def test_selected(self) -> None:
        """
        Both JSON media types, and a body starting with C{{} without one,
        select this codec.
        """
        self.assertIs(selectCodec(b"application/ppsp-tracker+json", b""), JSON_CODEC)
        self.assertIs(selectCodec(b"application/json; charset=utf-8", b""), JSON_CODEC)
        self.assertIs(selectCodec(None, b'  {"x": 1}'), JSON_CODEC)

    def test_errorCodesAndStatus(self) -> None:
        """
        Each response code has its RFC 7846 error_code and the HTTP status
        PROTOCOL.md section 7 gives it: OBJECT NOT FOUND is 03 (403) and
        MESSAGE NOT SUPPORTED 01 (400).
        """
        expected = {
            ResponseCode.OK: (0, 200),
            ResponseCode.INVALID_SYNTAX: (1, 400),
            ResponseCode.MESSAGE_NOT_SUPPORTED: (1, 400),
            ResponseCode.VERSION_NOT_SUPPORTED: (2, 400),
            ResponseCode.MESSAGE_FORBIDDEN: (3, 403),
            ResponseCode.OBJECT_NOT_FOUND: (3, 403),
            ResponseCode.INTERNAL_ERROR: (4, 500),
            ResponseCode.TEMPORARILY_OVERLOADED: (5, 503),
            ResponseCode.AUTHENTICATION_REQUIRED: (6, 401),
        }
        self.assertEqual(
            {code: (J.errorCode(code), JSON_CODEC.httpStatus(code)) for code in ResponseCode},
            expected,
        )


class RequestFromHeadersTests(SynchronousTestCase):
    """
    L{JSONCodec.requestFromHeaders} reads the HTTP C{Authorization: Bearer}
    credential into the decoded request (PROTOCOL.md section 7).
    """

    connect = PPSTPConnectRequest(
        "t", "p", swarmActions=(SwarmAction("s"),), sessionByAddress=True
    )
    find = FindRequest("t", "p", swarmID="s", sessionByAddress=True)

    def fromHeaders(self, request: Any, *authorization: bytes) -> Any:
        headers = Headers({b"Authorization": list(authorization)} if authorization else {})
        return JSON_CODEC.requestFromHeaders(request, headers)

    def test_noHeader(self) -> None:
        """
        Without an C{Authorization} header the request is returned as it
        is (the session may be found by address).
        """
        self.assertIs(self.fromHeaders(self.find), self.find)
        self.assertIs(self.fromHeaders(self.connect), self.connect)

    def test_token(self) -> None:
        """
        The Bearer value of a request other than CONNECT is its AuthToken;
        the scheme's name is case-insensitive.
        """
        self.assertEqual(
            self.fromHeaders(self.find, b"Bearer tok-1"),
            dataclasses.replace(self.find, authToken="tok-1"),
        )
        self.assertEqual(self.fromHeaders(self.find, b"bearer tok-1").authToken, "tok-1")

    def test_connectCredential(self) -> None:
        """
        On CONNECT the Bearer value is the credential, and also the
        AuthToken when it can be one; a credential that cannot be a token
        (too long for an identifier) is the credential only.
        """
        self.assertEqual(
            self.fromHeaders(self.connect, b"Bearer tok-1"),
            dataclasses.replace(self.connect, cer="tok-1", authToken="tok-1"),
        )
        long = "c" * 1000
        self.assertEqual(
            self.fromHeaders(self.connect, b"Bearer " + long.encode("ascii")),
            dataclasses.replace(self.connect, cer=long, authToken=None),
        )

    def test_lastHeaderCounts(self) -> None:
        """
        Of several C{Authorization} headers the last one counts, as
        twisted.web's C{getHeader} reads it.
        """
        self.assertEqual(self.fromHeaders(self.find, b"Basic x", b"Bearer tok-2").authToken, "tok-2")

    def test_refused(self) -> None:
        """
        A header that is not a Bearer credential is INVALID SYNTAX, and so
        is, for a request other than CONNECT, a credential that cannot be
        an AuthToken; that error carries the request's TransactionID.
        """
        for header in (b"Basic cDpw", b"Bearer", b"Bearer \xff"):
            with self.assertRaises(DecodeError) as caught:
                self.fromHeaders(self.find, header)
            self.assertEqual(caught.exception.code, SYNTAX, header)
        with self.assertRaises(DecodeError) as caught:
            self.fromHeaders(self.find, b"Bearer " + b"c" * 1000)
        self.assertEqual(
            (caught.exception.code, caught.exception.transactionID), (SYNTAX, "t")
        )


class RFCRequestVectorTests(SynchronousTestCase):
    """
    Every request example of RFC 7846 decodes to the message the mapping of
    PROTOCOL.md section 7 gives.
    """

    def test_connectSeeder(self) -> None:
        """
        Section 4.1.1.1, first example: one peer_addr object (not an array),
        two JOIN actions as SEEDER; connection and asn are ignored.
        """
        self.assertEqual(
            JSON_CODEC.decodeRequest(CONNECT_SEEDER),
            PPSTPConnectRequest(
                "12345",
                "656164657220",
                sessionByAddress=True,
                swarmActions=(
                    SwarmAction("1111", SwarmActionType.JOIN, PeerMode.SEED),
                    SwarmAction("2222", SwarmActionType.JOIN, PeerMode.SEED),
                ),
                addresses=(PeerAddress("192.0.2.2", 80, AddressType.HOST, 1),),
            ),
        )

    def test_connectLeech(self) -> None:
        """
        Section 4.1.1.1, second example: peer_num (quoted numbers) gives
        PeerNum 5 and four statistics about the requester; an array of an
        IPv4 and an IPv6 address; a single swarm_action object.
        """
        self.assertEqual(
            JSON_CODEC.decodeRequest(CONNECT_LEECH),
            PPSTPConnectRequest(
                "12345.0",
                "656164657221",
                sessionByAddress=True,
                swarmActions=(SwarmAction("1111", SwarmActionType.JOIN, PeerMode.LEECH),),
                addresses=(
                    PeerAddress("192.0.2.2", 80, AddressType.HOST, 1),
                    PeerAddress("2001:db8::2", 80, AddressType.HOST, 2),
                ),
                peerNum=5,
                requesterStats=(
                    Stat("AbilityNAT", "STUN"),
                    Stat("ConcurrentLinks", "5"),
                    Stat("OnlineTime", "200"),
                    Stat("UploadBandwidth", "600"),
                ),
            ),
        )

    def test_connectSwitch(self) -> None:
        """
        Section 4.1.1.1, third example: a LEAVE and a JOIN in order, no
        peer_addr (L{None}: a registered peer keeps its addresses).
        """
        request = JSON_CODEC.decodeRequest(CONNECT_SWITCH)
        assert isinstance(request, PPSTPConnectRequest)
        self.assertEqual(
            request.swarmActions,
            (
                SwarmAction("1111", SwarmActionType.LEAVE, PeerMode.LEECH),
                SwarmAction("2222", SwarmActionType.JOIN, PeerMode.LEECH),
            ),
        )
        self.assertIsNone(request.addresses)
        self.assertEqual((request.transactionID, request.peerID, request.peerNum), ("12345", "656164657221", 5))

    def test_find(self) -> None:
        """
        Section 4.1.2.1: FIND without the find wrapper; peer_count is
        PeerNum and the other peer_num members describe the requester, not
        constraints.
        """
        self.assertEqual(
            JSON_CODEC.decodeRequest(FIND),
            FindRequest(
                "12345",
                "656164657221",
                sessionByAddress=True,
                swarmID="1111",
                peerNum=5,
                requesterStats=(
                    Stat("AbilityNAT", "STUN"),
                    Stat("ConcurrentLinks", "5"),
                    Stat("OnlineTime", "200"),
                    Stat("UploadBandwidth", "600"),
                ),
            ),
        )

    def test_statReport(self) -> None:
        """
        Section 4.1.3.1: the capitalised C{Stat} object with a swarm_id;
        the stream_stats members become the profile's properties scoped to
        that swarm.
        """
        self.assertEqual(
            JSON_CODEC.decodeRequest(STAT_REPORT),
            StatReportRequest(
                "12345",
                "656164657221",
                sessionByAddress=True,
                stats=(
                    Stat("UploadedBytes", "512", "1111"),
                    Stat("DownloadedBytes", "768", "1111"),
                    Stat("AvailBandwidth", "1024000", "1111"),
                    Stat("ConcurrentLinks", "5", "1111"),
                ),
            ),
        )

    def test_noTokenInBody(self) -> None:
        """
        No RFC request carries a token in its body: every decoded request
        has none, and is marked C{sessionByAddress}.
        """
        for body in RFC_REQUESTS:
            request = JSON_CODEC.decodeRequest(body)
            self.assertEqual((request.authToken, request.sessionByAddress), (None, True))


class RFCResponseVectorTests(SynchronousTestCase):
    """
    The peer side reads every response example of RFC 7846, and the
    tracker's own responses have their shape.
    """

    def test_decodeConnectResponse(self) -> None:
        """
        Section 4.1.1.1's response: the observed address (REFLEXIVE when the
        example gives no type) and one swarm_result object with two peers.
        """
        response = JSON_CODEC.decodeResponse(CONNECT_RESPONSE, Method.CONNECT)
        self.assertEqual(
            response,
            PPSTPConnectResponse(
                "12345",
                reflexiveAddress=PeerAddress("198.51.100.1", 80, AddressType.REFLEXIVE, 1),
                swarmResults=(
                    SwarmResult(
                        "2222",
                        peers=(
                            PeerInfo("956264622298", PeerMode.LEECH, (PeerAddress("198.51.100.22", 80, AddressType.REFLEXIVE, 2),)),
                            PeerInfo("3332001256741", PeerMode.LEECH, (PeerAddress("198.51.100.201", 80, AddressType.REFLEXIVE, 2),)),
                        ),
                    ),
                ),
            ),
        )

    def test_decodeFindResponse(self) -> None:
        """
        Section 4.1.2.1's response: the swarm and its three peers.
        """
        response = JSON_CODEC.decodeResponse(FIND_RESPONSE, Method.FIND)
        assert isinstance(response, FindResponse)
        self.assertEqual(response.swarmID, "1111")
        self.assertEqual(
            [(p.peerID, p.addresses[0].ip) for p in response.peers],
            [("656164657221", "198.51.100.1"), ("956264622298", "198.51.100.22"), ("3332001256741", "198.51.100.201")],
        )

    def test_decodeStatReportResponse(self) -> None:
        """
        Section 4.1.3.1's response: success naming swarm 1111.
        """
        self.assertEqual(
            JSON_CODEC.decodeResponse(STAT_REPORT_RESPONSE, Method.STAT_REPORT),
            StatReportResponse("12345", ("1111",)),
        )

    def assertShape(self, ours: bytes, rfc: bytes) -> None:
        """
        Our document has the RFC's members with the same JSON types, leaving
        out only the optional members the model does not keep, and adding
        only the extension members.
        """
        mine = paths(json.loads(ours))
        theirs = paths(json.loads(rfc))
        self.assertEqual(_strip(mine, _EXTENSIONS), _strip(theirs, _RFC_OPTIONAL + _EXTENSIONS))

    def test_connectResponseShape(self) -> None:
        """
        Our answer to the RFC's channel switch has the shape of the RFC's
        answer (the LEAVE's result aside, a second swarm_result of the same
        shape).
        """
        peers = (
            PeerInfo("956264622298", PeerMode.LEECH, (PeerAddress("198.51.100.22", 80, AddressType.REFLEXIVE, 2),)),
            PeerInfo("3332001256741", PeerMode.LEECH, (PeerAddress("198.51.100.201", 80, AddressType.REFLEXIVE, 2),)),
        )
        ours = JSON_CODEC.encodeResponse(
            PPSTPConnectResponse(
                "12345",
                "token",
                PeerAddress("198.51.100.1", 80, AddressType.REFLEXIVE, 1),
                60,
                (SwarmResult("1111"), SwarmResult("2222", peers=peers)),
            )
        )
        self.assertShape(ours, CONNECT_RESPONSE)
        answer = fromJSON(ours)
        self.assertEqual((answer["response_type"], answer["error_code"], answer["transaction_id"]), (0, 0, "12345"))
        self.assertEqual([r["swarm_id"] for r in answer["swarm_result"]], ["1111", "2222"])

    def test_findResponseShape(self) -> None:
        """
        Our FIND answer has the shape of the RFC's.
        """
        peers = tuple(
            PeerInfo(peerID, PeerMode.LEECH, (PeerAddress(ip, 80, AddressType.REFLEXIVE, 1),))
            for peerID, ip in [("656164657221", "198.51.100.1"), ("956264622298", "198.51.100.22")]
        )
        self.assertShape(JSON_CODEC.encodeResponse(FindResponse("12345", "1111", peers)), FIND_RESPONSE)

    def test_statReportResponseShape(self) -> None:
        """
        Our STAT_REPORT answer is the RFC's, member for member, but for
        swarm_result being an array of the one object.
        """
        ours = fromJSON(JSON_CODEC.encodeResponse(StatReportResponse("12345", ("1111",))))
        theirs = fromJSON(STAT_REPORT_RESPONSE)
        self.assertEqual(ours["swarm_result"], [theirs.pop("swarm_result")])
        del ours["swarm_result"]
        self.assertEqual(ours, theirs)


# Hypothesis strategies --------------------------------------------------------

_PEER_NUM_PROPS = ["AbilityNAT", "ConcurrentLinks", "OnlineTime", "UploadBandwidth"]
_STAT_PROPS = sorted(set(J._STAT_MEMBERS.values()))
values = st.one_of(st.integers(0, 2**64 - 1).map(str), freeText)


@st.composite
def peerNums(draw: Any) -> Tuple[Optional[int], Tuple[Stat, ...]]:
    """
    A PeerNum and the requester's statistics (canonical order, as the
    codec reads them); with statistics there is always a peer_count.
    """
    chosen = draw(st.sets(st.sampled_from(_PEER_NUM_PROPS)))
    stats = tuple(Stat(p, draw(values)) for p in _PEER_NUM_PROPS if p in chosen)
    peerNum = draw(int32) if stats else draw(st.none() | int32)
    return peerNum, stats


@st.composite
def ppstpConnects(draw: Any) -> PPSTPConnectRequest:
    """
    RFC 7846 CONNECT requests.
    """
    peerNum, stats = draw(peerNums())
    return PPSTPConnectRequest(
        draw(tids),
        draw(ids),
        swarmActions=tuple(
            draw(
                st.lists(
                    st.builds(SwarmAction, ids, st.sampled_from(SwarmActionType), st.sampled_from(PeerMode)),
                    min_size=1,
                    max_size=4,
                )
            )
        ),
        addresses=draw(st.none() | st.lists(addresses, max_size=3).map(tuple)),
        peerNum=peerNum,
        requesterStats=stats,
    )


@st.composite
def finds(draw: Any) -> FindRequest:
    """
    RFC 7846 FIND requests.
    """
    peerNum, stats = draw(peerNums())
    return FindRequest(draw(tids), draw(ids), swarmID=draw(ids), peerNum=peerNum, requesterStats=stats)


statReports = st.builds(
    StatReportRequest,
    tids,
    ids,
    stats=st.lists(st.builds(Stat, st.sampled_from(_STAT_PROPS), values, st.none() | ids), min_size=1, max_size=6).map(tuple),
)

requests = st.one_of(ppstpConnects(), finds(), statReports, st.builds(KeepAliveRequest, tids, ids))

peerLists = st.lists(
    st.builds(PeerInfo, ids, st.sampled_from(PeerMode), st.lists(addresses, max_size=3).map(tuple)),
    max_size=4,
    unique_by=lambda p: p.peerID,
).map(tuple)

_TWIN_ERRORS = [
    ResponseCode.INVALID_SYNTAX,
    ResponseCode.VERSION_NOT_SUPPORTED,
    ResponseCode.MESSAGE_FORBIDDEN,
    ResponseCode.INTERNAL_ERROR,
    ResponseCode.TEMPORARILY_OVERLOADED,
    ResponseCode.AUTHENTICATION_REQUIRED,
]

swarmResults = st.one_of(
    st.builds(SwarmResult, ids, peers=st.none() | peerLists.filter(bool)),
    st.builds(SwarmResult, ids, st.sampled_from(_TWIN_ERRORS), freeText),
)

successResponses = st.one_of(
    st.tuples(
        st.builds(
            PPSTPConnectResponse,
            tids,
            authToken=st.just("") | ids,
            reflexiveAddress=st.none() | addresses,
            keepAliveInterval=int32,
            swarmResults=st.lists(swarmResults, max_size=4).map(tuple),
        ),
        st.just(Method.CONNECT),
    ),
    st.tuples(st.builds(FindResponse, tids, swarmID=ids, peers=peerLists), st.just(Method.FIND)),
    st.tuples(
        st.builds(StatReportResponse, tids, st.lists(ids, max_size=3, unique=True).map(tuple)),
        st.just(Method.STAT_REPORT),
    ),
    st.tuples(st.builds(KeepAliveResponse, tids, keepAliveInterval=int32), st.just(Method.KEEPALIVE)),
)

errorResponses = st.builds(ErrorResponse, st.just("") | tids, st.sampled_from(_TWIN_ERRORS), freeText)


class RoundTripTests(SynchronousTestCase):
    """
    What the codec writes, it reads back to the same message.
    """

    @settings(max_examples=200, deadline=None)
    @given(requests)
    def test_requests(self, request: Any) -> None:
        """
        Requests survive a round trip, except what travels in HTTP headers
        (the token): the decoded request has none and is marked
        C{sessionByAddress}.
        """
        decoded = JSON_CODEC.decodeRequest(JSON_CODEC.encodeRequest(request))
        self.assertEqual(decoded, dataclasses.replace(request, authToken=None, sessionByAddress=True))

    @settings(max_examples=200, deadline=None)
    @given(successResponses)
    def test_successResponses(self, pair: Tuple[Any, Method]) -> None:
        """
        Success responses survive a round trip.
        """
        response, method = pair
        self.assertEqual(JSON_CODEC.decodeResponse(JSON_CODEC.encodeResponse(response), method), response)

    @settings(max_examples=100, deadline=None)
    @given(errorResponses, st.sampled_from([Method.CONNECT, Method.FIND, Method.STAT_REPORT]))
    def test_errorResponses(self, response: ErrorResponse, method: Method) -> None:
        """
        Error responses with a JSON twin survive a round trip whatever was
        asked, and never carry swarm_result or peer_addr.
        """
        body = JSON_CODEC.encodeResponse(response)
        self.assertEqual(JSON_CODEC.decodeResponse(body, method), response)
        self.assertFalse({"swarm_result", "peer_addr"} & set(fromJSON(body)))


class EncodingTests(SynchronousTestCase):
    """
    What the JSON the codec writes looks like.
    """

    def test_error(self) -> None:
        """
        An error is response_type 1 with error_code a JSON integer, the
        transaction_id and a reason; OBJECT NOT FOUND is written 03 and
        MESSAGE NOT SUPPORTED 01.
        """
        body = JSON_CODEC.encodeResponse(ErrorResponse("t", ResponseCode.OBJECT_NOT_FOUND, "unknown SwarmID"))
        self.assertEqual(
            fromJSON(body),
            {"version": 1, "response_type": 1, "error_code": 3, "transaction_id": "t", "reason": "unknown SwarmID"},
        )
        body = JSON_CODEC.encodeResponse(ErrorResponse("", ResponseCode.MESSAGE_NOT_SUPPORTED))
        self.assertEqual(fromJSON(body), {"version": 1, "response_type": 1, "error_code": 1})

    def test_errorCannotBeOK(self) -> None:
        """
        An error response can never be written as a success: an
        L{ErrorResponse} with the code OK cannot even be made.
        """
        self.assertRaises(ValueError, ErrorResponse, "t", ResponseCode.OK)

    def test_emptyPeerGroupLeftOut(self) -> None:
        """
        A swarm_result without peers has no peer_group; swarm_result is
        always an array.
        """
        answer = fromJSON(JSON_CODEC.encodeResponse(FindResponse("t", "s", ())))
        self.assertEqual(answer["swarm_result"], [{"swarm_id": "s", "result": 0}])
        answer = fromJSON(JSON_CODEC.encodeResponse(PPSTPConnectResponse("t", swarmResults=(SwarmResult("s", peers=()),))))
        self.assertEqual(answer["swarm_result"], [{"swarm_id": "s", "result": 0}])

    def test_failedSwarmResult(self) -> None:
        """
        A failed action is result 1 with its error_code (an extension) and
        reason, and no peer_group.
        """
        answer = fromJSON(
            JSON_CODEC.encodeResponse(
                PPSTPConnectResponse("t", swarmResults=(SwarmResult("s", ResponseCode.OBJECT_NOT_FOUND, "unknown SwarmID"),))
            )
        )
        self.assertEqual(answer["swarm_result"], [{"swarm_id": "s", "result": 1, "error_code": 3, "reason": "unknown SwarmID"}])

    def test_peerWithSeveralAddresses(self) -> None:
        """
        A peer with two addresses is two consecutive peer_info entries with
        one peer_addr each (RFC 7846's grammar), read back as one peer.
        """
        peer = PeerInfo("p", PeerMode.SEED, (PeerAddress("192.0.2.1", 1), PeerAddress("2001:db8::1", 2)))
        answer = fromJSON(JSON_CODEC.encodeResponse(FindResponse("t", "s", (peer,))))
        infos = answer["swarm_result"][0]["peer_group"]["peer_info"]
        self.assertEqual([i["peer_id"] for i in infos], ["p", "p"])
        self.assertEqual([i["peer_addr"]["ip_address"]["address_type"] for i in infos], ["ipv4", "ipv6"])
        self.assertEqual([i["peer_mode"] for i in infos], ["SEEDER", "SEEDER"])

    def test_request(self) -> None:
        """
        A CONNECT is written with the grammar's connect wrapper and arrays,
        SEED as SEEDER, and no token in the body.
        """
        body = JSON_CODEC.encodeRequest(
            PPSTPConnectRequest(
                "t", "p", authToken="secret", swarmActions=(SwarmAction("s", mode=PeerMode.SEED),), cer="cred"
            )
        )
        self.assertEqual(
            fromJSON(body),
            {
                "version": 1,
                "request_type": "CONNECT",
                "transaction_id": "t",
                "peer_id": "p",
                "connect": {"swarm_action": [{"swarm_id": "s", "action": "JOIN", "peer_mode": "SEEDER"}]},
            },
        )
        self.assertNotIn(b"secret", body)
        self.assertNotIn(b"cred", body)

    def test_keepAliveIsEmptyStatReport(self) -> None:
        """
        KEEPALIVE is written as a STAT_REPORT without statistics.
        """
        self.assertEqual(
            fromJSON(JSON_CODEC.encodeRequest(KeepAliveRequest("t", "p"))),
            {"version": 1, "request_type": "STAT_REPORT", "transaction_id": "t", "peer_id": "p"},
        )

    def test_notInRFC(self) -> None:
        """
        Messages RFC 7846 cannot carry are a ValueError, never a wrong
        document.
        """
        for request in [
            DisconnectRequest("t", "p"),
            JoinRequest("t", "p", swarmID="s"),
            FindChunkRequest("t", "p", swarmID="s", chunkID=1),
            FindRequest("t", "p", swarmID="s", chunkID=1),
            FindRequest("t", "p", swarmID="s", constraints=(Stat("UploadBandwidth", "1"),)),
            StatReportRequest("t", "p", stats=(Stat("Whatever", "1"),)),
            StatReportRequest("t", "p"),
            PPSTPConnectRequest("t", "p"),
        ]:
            self.assertRaises(ValueError, JSON_CODEC.encodeRequest, request)
        for response in [LeaveResponse("t"), FindResponse("t", "s", (), 5)]:
            self.assertRaises(ValueError, JSON_CODEC.encodeResponse, response)
        self.assertRaises(ValueError, JSON_CODEC.encodeResponse, ErrorResponse("t\ud800", ResponseCode.INVALID_SYNTAX))

    def test_plainConnectResponse(self) -> None:
        """
        An XML-style L{ConnectResponse} is written without swarm_result.
        """
        answer = fromJSON(JSON_CODEC.encodeResponse(ConnectResponse("t", "tok", None, 30)))
        self.assertEqual(answer["auth_token"], "tok")
        self.assertNotIn("swarm_result", answer)

    def test_requestHeaders(self) -> None:
        """
        L{JSONCodec.requestHeaders} gives the media type and, when there is
        a token (or, for CONNECT, a credential), C{Authorization: Bearer}.
        """
        self.assertEqual(
            JSON_CODEC.requestHeaders(FindRequest("t", "p", authToken="tok", swarmID="s")),
            {b"Content-Type": [JSON_CONTENT_TYPE], b"Authorization": [b"Bearer tok"]},
        )
        self.assertEqual(JSON_CODEC.requestHeaders(KeepAliveRequest("t", "p")), {b"Content-Type": [JSON_CONTENT_TYPE]})
        connect = PPSTPConnectRequest("t", "p", authToken="tok", swarmActions=(SwarmAction("s"),), cer="cred")
        self.assertEqual(JSON_CODEC.requestHeaders(connect)[b"Authorization"], [b"Bearer cred"])

    def test_bearerToken(self) -> None:
        """
        C{Authorization: Bearer <token>} is read case-insensitively; any
        other scheme or a bad token is INVALID SYNTAX.
        """
        self.assertIsNone(J.bearerToken(None))
        self.assertEqual(J.bearerToken(b"Bearer abc"), "abc")
        self.assertEqual(J.bearerToken(b"bearer  abc "), "abc")
        for bad in [b"Basic abc", b"Bearer", b"Bearer \x01", b"Bearer \xff", b"Bearer " + b"x" * 9000]:
            error = self.assertRaises(DecodeError, J.bearerToken, bad)
            self.assertEqual(error.code, SYNTAX)


class DecodingRuleTests(DecodeAssertions, SynchronousTestCase):
    """
    The reading rules of PROTOCOL.md section 7.
    """

    def test_seedAndCase(self) -> None:
        """
        C{SEED} is accepted for C{SEEDER}, in any case; so are action names;
        a LEAVE needs no peer_mode, a JOIN does.
        """
        request: Any = JSON_CODEC.decodeRequest(
            req("CONNECT", connect={"swarm_action": [joinAction("a", "seed"), joinAction("b", "Seeder", "join"), {"swarm_id": "c", "action": "LEAVE"}]})
        )
        self.assertEqual([a.mode for a in request.swarmActions], [PeerMode.SEED, PeerMode.SEED, PeerMode.LEECH])
        self.assertEqual(request.swarmActions[2].action, SwarmActionType.LEAVE)
        self.assertDecodeError(req("CONNECT", "t-2", connect={"swarm_action": {"swarm_id": "c", "action": "JOIN"}}), transactionID="t-2")

    def test_connectWithoutWrapper(self) -> None:
        """
        CONNECT's members are also read directly from the request.
        """
        request: Any = JSON_CODEC.decodeRequest(req("CONNECT", swarm_action=joinAction()))
        self.assertEqual(request.swarmActions, (SwarmAction("s"),))

    def test_findWrapper(self) -> None:
        """
        FIND reads its members from the find wrapper (the grammar) or
        directly (the RFC's example); with both, the wrapper's count.
        """
        a = JSON_CODEC.decodeRequest(req(find={"swarm_id": "s", "peer_num": {"peer_count": 3}}))
        b = JSON_CODEC.decodeRequest(req(swarm_id="s", peer_num={"peer_count": "3"}))
        c = JSON_CODEC.decodeRequest(req(swarm_id="x", find={"swarm_id": "s", "peer_num": {"peer_count": 3}}))
        self.assertEqual(a, b)
        self.assertEqual(a, c)

    def test_quotedNumbers(self) -> None:
        """
        Numbers may be quoted (as the RFC's examples do), but must be
        decimal integers in range; booleans, fractions and negatives are
        01.
        """
        request: Any = JSON_CODEC.decodeRequest(req(swarm_id="s", peer_num={"peer_count": " 7 "}))
        self.assertEqual(request.peerNum, 7)
        for bad in [True, 1.5, -1, "x", "-1", [], {}, 2**31]:
            self.assertDecodeError(req(swarm_id="s", peer_num={"peer_count": bad}), transactionID="t-1")

    def test_peerCountOptional(self) -> None:
        """
        A peer_num without peer_count asks for the default list (0).
        """
        request: Any = JSON_CODEC.decodeRequest(req(swarm_id="s", peer_num={"ability_nat": "STUN"}))
        self.assertEqual((request.peerNum, request.requesterStats), (0, (Stat("AbilityNAT", "STUN"),)))

    def test_unknownMembersIgnored(self) -> None:
        """
        Unknown members are ignored everywhere (RFC 7846 section 4.4).
        """
        plain = JSON_CODEC.decodeRequest(req("CONNECT", connect={"swarm_action": joinAction()}))
        extended = JSON_CODEC.decodeRequest(
            ppstp(
                version=1,
                request_type="CONNECT",
                transaction_id="t-1",
                peer_id="p",
                future={"x": [1, 2]},
                connect={"swarm_action": dict(joinAction(), colour="blue"), "later": None},
            )
        )
        self.assertEqual(plain, extended)

    def test_statReportForms(self) -> None:
        """
        stat may be one object or an array; a group of another type, no
        stat, an empty array or only unknown members make a keep-alive;
        stat and Stat together are 01.
        """
        one: Any = JSON_CODEC.decodeRequest(req("STAT_REPORT", stat_report={"stat": {"concurrent_links": 1}}))
        many: Any = JSON_CODEC.decodeRequest(req("STAT_REPORT", stat_report={"stat": [{"concurrent_links": 1}]}))
        self.assertEqual(one, many)
        self.assertEqual(one.stats, (Stat("ConcurrentLinks", "1"),))
        forms: List[Dict[str, Any]] = [{}, {"stat_report": {}}, {"stat_report": {"stat": []}}, {"stat_report": {"type": "OTHER", "stat": {"concurrent_links": 1}}}, {"stat_report": {"stat": {"colour": 1}}}]
        for members in forms:
            self.assertIsInstance(JSON_CODEC.decodeRequest(req("STAT_REPORT", **members)), KeepAliveRequest, members)
        self.assertDecodeError(req("STAT_REPORT", stat_report={"stat": {}, "Stat": {}}), transactionID="t-1")
        self.assertDecodeError(req("STAT_REPORT", stat_report={"stat": {"concurrent_links": 1.5}}), transactionID="t-1")

    def test_addresses(self) -> None:
        """
        peer_addr needs ip_address.address and port; address_type must
        match the address; type defaults to HOST; IPs are canonical.
        """
        def connect(address: Any) -> Any:
            return req("CONNECT", connect={"swarm_action": joinAction(), "peer_addr": address})

        request: Any = JSON_CODEC.decodeRequest(connect({"ip_address": {"address": "2001:DB8::0:1"}, "port": "80"}))
        self.assertEqual(request.addresses, (PeerAddress("2001:db8::1", 80, AddressType.HOST, None),))
        for bad in [
            {"port": 80},
            {"ip_address": {"address_type": "ipv4"}, "port": 80},
            {"ip_address": {"address": "192.0.2.1"}},
            {"ip_address": {"address_type": "ipv6", "address": "192.0.2.1"}, "port": 80},
            {"ip_address": {"address_type": "ipx", "address": "192.0.2.1"}, "port": 80},
            {"ip_address": {"address": "not-an-ip"}, "port": 80},
            {"ip_address": {"address": "192.0.2.1"}, "port": 70000},
            {"ip_address": {"address": "192.0.2.1"}, "port": 1, "type": "SIDEWAYS"},
            {"ip_address": "192.0.2.1", "port": 1},
            "192.0.2.1",
        ]:
            self.assertDecodeError(connect(bad), transactionID="t-1")

    def test_missingAndWrong(self) -> None:
        """
        A missing or mistyped required member is 01 and echoes the
        transaction_id when it was readable.
        """
        self.assertDecodeError(req("CONNECT"), transactionID="t-1")
        self.assertDecodeError(req("CONNECT", connect={"swarm_action": []}), transactionID="t-1")
        self.assertDecodeError(req("CONNECT", connect=[]), transactionID="t-1")
        self.assertDecodeError(req("FIND"), transactionID="t-1")
        self.assertDecodeError(req(swarm_id=""), transactionID="t-1")
        self.assertDecodeError(req(swarm_id="s", peer=None), transactionID="t-1")
        self.assertDecodeError(ppstp(version=1, request_type="FIND", peer_id="p", swarm_id="s"))
        self.assertDecodeError(ppstp(version=1, request_type="FIND", transaction_id="", peer_id="p", swarm_id="s"))
        self.assertDecodeError(ppstp(version=1, request_type=7, transaction_id="t", peer_id="p"), transactionID="t")

    def test_unknownRequestType(self) -> None:
        """
        An unknown request_type (the XML profile's JOIN included) is
        MESSAGE NOT SUPPORTED, written 01.
        """
        for name in ["JOIN", "DISCONNECT", "DANCE"]:
            self.assertDecodeError(req(name), ResponseCode.MESSAGE_NOT_SUPPORTED, "t-1")
        request = JSON_CODEC.decodeRequest(req("find", swarm_id="s"))
        self.assertIsInstance(request, FindRequest)

    def test_version(self) -> None:
        """
        version 1 (or "1", "1.0") is accepted; another is 02; missing or
        mistyped is 01.
        """
        for version in [1, "1", "1.0"]:
            JSON_CODEC.decodeRequest(ppstp(version=version, request_type="FIND", transaction_id="t", peer_id="p", swarm_id="s"))
        for version in [0, 2, "2", 1.5]:
            self.assertDecodeError(ppstp(version=version, request_type="FIND", transaction_id="t", peer_id="p", swarm_id="s"), ResponseCode.VERSION_NOT_SUPPORTED, "t")
        self.assertDecodeError(ppstp(request_type="FIND", transaction_id="t", peer_id="p", swarm_id="s"), transactionID="t")
        for version in [True, None, [1], {"v": 1}]:
            self.assertDecodeError(ppstp(version=version, request_type="FIND", transaction_id="t", peer_id="p", swarm_id="s"), transactionID="t")

    def test_kind(self) -> None:
        """
        A request is not a response, a response not a request, and a
        message that is both is 01.
        """
        self.assertDecodeError(STAT_REPORT_RESPONSE, transactionID="12345")
        self.assertDecodeError(STAT_REPORT, transactionID="12345", method=Method.STAT_REPORT)
        self.assertDecodeError(ppstp(version=1, request_type="FIND", response_type=0, transaction_id="t"), transactionID="t")
        self.assertDecodeError(b'{"Other": {}}')
        self.assertDecodeError(b'{"PPSPTrackerProtocol": []}')
        self.assertDecodeError(b"[]")

    def test_responseRules(self) -> None:
        """
        Responses: error_code may be quoted ("03"); response_type 1 needs
        an error_code 1 to 6; a success with a non-zero error_code is 01;
        RFC 7846 has no JOIN response.
        """
        error = JSON_CODEC.decodeResponse(ppstp(version=1, response_type=1, error_code="03", transaction_id="t"), Method.FIND)
        self.assertEqual(error, ErrorResponse("t", ResponseCode.MESSAGE_FORBIDDEN))
        self.assertDecodeError(ppstp(version=1, response_type=1, error_code=0, transaction_id="t"), transactionID="t", method=Method.FIND)
        self.assertDecodeError(ppstp(version=1, response_type=1, error_code=7, transaction_id="t"), transactionID="t", method=Method.FIND)
        self.assertDecodeError(ppstp(version=1, response_type=0, error_code=3, transaction_id="t"), transactionID="t", method=Method.FIND)
        self.assertDecodeError(ppstp(version=1, response_type=2, error_code=0, transaction_id="t"), transactionID="t", method=Method.FIND)
        self.assertDecodeError(ppstp(version=1, response_type=0, error_code=0, transaction_id="t"), transactionID="t", method=Method.JOIN)
        self.assertDecodeError(ppstp(version=1, response_type=0, error_code=0), method=Method.FIND)


class HostileInputTests(DecodeAssertions, SynchronousTestCase):
    """
    Hostile JSON is refused with 01, and nothing but L{DecodeError} escapes.
    """

    def test_deepNesting(self) -> None:
        """
        Nesting deeper than L{J.MAX_DEPTH} is refused before parsing, even
        when the parser's own recursion limit would be hit; brackets in
        strings do not count, and the deepest RFC message is well within.
        """
        for opener, closer in [(b"[", b"]"), (b'{"a":', b"}")]:
            body = b'{"PPSPTrackerProtocol": ' + opener * 100000 + b"1" + closer * 100000 + b"}"
            error = self.assertDecodeError(body)
            self.assertIn("deeper", error.reason)
        shallow = req(swarm_id="s", note="[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{{{{{")
        self.assertIsInstance(JSON_CODEC.decodeRequest(shallow), FindRequest)
        self.assertLess(J._depth(FIND_RESPONSE), J.MAX_DEPTH)
        nested: Any = 1
        for _ in range(J.MAX_DEPTH - 2):
            nested = [nested]
        JSON_CODEC.decodeRequest(req(swarm_id="s", deep=nested))
        self.assertDecodeError(req(swarm_id="s", deep=[nested]), transactionID=None)

    def test_nestingScanIsLinear(self) -> None:
        """
        The nesting scan costs time in proportion to the body, even for a
        body made of escaped quotes (which made a string-matching scan
        quadratic: many seconds for 64 KiB).
        """
        body = b"[" * (J.MAX_DEPTH + 4) + b'"' + b'\\"' * 32000
        started = time.monotonic()
        self.assertDecodeError(body)
        self.assertDecodeError(b'"' + b'\\"' * 32000 + b"[" * 40)
        self.assertLess(time.monotonic() - started, 1.0)

    def test_huge(self) -> None:
        """
        A document over L{J.MAX_DOCUMENT} bytes is refused unread, and a
        number with very many digits before it is converted.
        """
        self.assertDecodeError(req(swarm_id="s", pad="x" * J.MAX_DOCUMENT))
        self.assertDecodeError(b'{"PPSPTrackerProtocol": {"version": 1' + b"0" * 5000 + b"}}")
        self.assertDecodeError(b'{"PPSPTrackerProtocol": {"version": 1.' + b"0" * 5000 + b"}}")
        self.assertDecodeError(req(swarm_id="s", peer_num={"peer_count": "9" * 5000}), transactionID="t-1")

    def test_invalidUTF8(self) -> None:
        """
        A body that is not UTF-8 is 01; a UTF-8 byte order mark is allowed.
        """
        self.assertDecodeError(req(swarm_id="s").replace(b'"s"', b'"\xff"'))
        self.assertDecodeError(req(swarm_id="s").replace(b'"s"', b'"\xed\xa0\x80"'))
        self.assertIsInstance(JSON_CODEC.decodeRequest(b"\xef\xbb\xbf" + req(swarm_id="s")), FindRequest)

    def test_surrogateEscapes(self) -> None:
        """
        An escaped lone surrogate parses, but is no identifier: 01.
        """
        self.assertDecodeError(req(swarm_id="s").replace(b'"s"', b'"\\ud800"'), transactionID="t-1")

    def test_nonFinite(self) -> None:
        """
        NaN, Infinity and numbers that overflow to infinity are 01.
        """
        for constant in [b"NaN", b"Infinity", b"-Infinity", b"1e999"]:
            body = b'{"PPSPTrackerProtocol": {"version": 1, "request_type": "FIND", "transaction_id": "t", "peer_id": "p", "swarm_id": "s", "x": ' + constant + b"}}"
            self.assertDecodeError(body)

    def test_duplicateKeys(self) -> None:
        """
        A member given twice is 01, wherever it is, whichever value comes
        first.
        """
        base = b'{"PPSPTrackerProtocol": {"version": 1, "request_type": "FIND", "transaction_id": "t", "peer_id": "p", "swarm_id": "s"%s}}'
        for extra in [b', "peer_id": "q"', b', "swarm_id": "s"', b', "x": {"a": 1, "a": 1}']:
            error = self.assertDecodeError(base % extra)
            self.assertIn("more than once", error.reason)
        self.assertDecodeError(b'{"PPSPTrackerProtocol": {}, "PPSPTrackerProtocol": {}}')

    def test_wrongTypes(self) -> None:
        """
        Members of the wrong JSON type are 01, never a crash.
        """
        wrong: List[Dict[str, Any]] = [
            {"connect": {"swarm_action": "JOIN"}},
            {"connect": {"swarm_action": [1]}},
            {"connect": {"swarm_action": [joinAction()], "peer_num": [5]}},
            {"connect": {"swarm_action": [joinAction()], "peer_addr": [None]}},
            {"connect": {"swarm_action": [{"swarm_id": "s", "action": ["JOIN"], "peer_mode": "LEECH"}]}},
            {"connect": {"swarm_action": [{"swarm_id": "s", "action": "JOIN", "peer_mode": 1}]}},
            {"connect": {"swarm_action": [{"swarm_id": True, "action": "JOIN", "peer_mode": "LEECH"}]}},
            {"connect": {"swarm_action": [{"swarm_id": "s", "action": "STAY", "peer_mode": "LEECH"}]}},
            {"connect": {"swarm_action": [{"swarm_id": "s", "action": "JOIN", "peer_mode": "BYSTANDER"}]}},
        ]
        for members in wrong:
            self.assertDecodeError(req("CONNECT", **members), transactionID="t-1")
        self.assertDecodeError(req("STAT_REPORT", stat_report=[]), transactionID="t-1")
        self.assertDecodeError(req("STAT_REPORT", stat_report={"stat": {"swarm_id": 1.5}}), transactionID="t-1")
        self.assertDecodeError(req(swarm_id="s", peer_num={"ability_nat": {"x": 1}}), transactionID="t-1")

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=300))
    def test_randomBytes(self, body: bytes) -> None:
        """
        Random bytes raise nothing but L{DecodeError} with a decoding code,
        and its error response can always be written.
        """
        for decode in (JSON_CODEC.decodeRequest, lambda b: JSON_CODEC.decodeResponse(b, Method.CONNECT)):
            try:
                decode(body)
            except DecodeError as e:
                self.assertIn(e.code, DECODE_CODES)
                JSON_CODEC.encodeResponse(e.toResponse())

    @settings(max_examples=200, deadline=None)
    @given(st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(
            st.sampled_from(["version", "request_type", "transaction_id", "peer_id", "connect", "find", "swarm_id",
                             "swarm_action", "action", "peer_mode", "peer_num", "peer_count", "peer_addr",
                             "ip_address", "address", "port", "stat_report", "stat", "Stat", "response_type",
                             "error_code", "swarm_result", "peer_group", "peer_info", "result"]),
            children, max_size=5),
        max_leaves=30,
    ))
    def test_randomDocuments(self, members: Any) -> None:
        """
        Well-formed JSON of any shape, with the protocol's member names,
        decodes or raises L{DecodeError}; nothing else.
        """
        for root in [members, {"version": 1, "request_type": "CONNECT", "transaction_id": "t", "peer_id": "p", "connect": members},
                     {"version": 1, "response_type": 0, "error_code": 0, "transaction_id": "t", "swarm_result": members}]:
            body = json.dumps({"PPSPTrackerProtocol": root}).encode("utf-8")
            for decode in (JSON_CODEC.decodeRequest, lambda b: JSON_CODEC.decodeResponse(b, Method.CONNECT)):
                try:
                    decode(body)
                except DecodeError as e:
                    self.assertIn(e.code, DECODE_CODES)

    @settings(max_examples=200, deadline=None)
    @given(st.sampled_from(RFC_REQUESTS), st.lists(st.tuples(st.integers(0, 2000), st.sampled_from(["flip", "cut", "dup"]), st.integers(0, 255)), min_size=1, max_size=4))
    def test_mutatedVectors(self, body: bytes, mutations: Any) -> None:
        """
        The RFC's examples with bytes flipped, cut or duplicated raise
        nothing but L{DecodeError}.
        """
        data = bytearray(body)
        for position, op, value in mutations:
            i = position % max(1, len(data))
            if op == "flip" and data:
                data[i] = value
            elif op == "cut":
                del data[i:]
            else:
                data[i:i] = data[i:i + 20]
        try:
            JSON_CODEC.decodeRequest(bytes(data))
        except DecodeError as e:
            self.assertIn(e.code, DECODE_CODES)


class IdentifierRuleTests(DecodeAssertions, SynchronousTestCase):
    """
    The identifiers of a JSON request (C{peer_id}, C{swarm_id},
    C{transaction_id}) follow PROTOCOL.md section 2 as in XML: a control,
    format, separator or unassigned character in one is INVALID SYNTAX
    (error code 01).
    """

    def test_refused(self) -> None:
        """
        A refused character (JSON can carry every control character too)
        anywhere in a PeerID, in the SwarmID of a FIND or of a CONNECT's
        swarm action, or in the TransactionID, is INVALID SYNTAX.
        """
        for char in REFUSED_IN_IDENTIFIERS + ["\x00", "\x01", "\x1b", "\x1f", "\x9f"]:
            for bad in [char + "x", f"a{char}b", "x" + char]:
                self.assertDecodeError(req("FIND", peer=bad, find={"swarm_id": "s"}), transactionID="t-1")
                self.assertDecodeError(req("FIND", find={"swarm_id": bad}), transactionID="t-1")
                self.assertDecodeError(
                    req("CONNECT", connect={"swarm_action": joinAction(bad)}), transactionID="t-1"
                )
                self.assertDecodeError(req("STAT_REPORT", tid=bad))

    def test_accepted(self) -> None:
        """
        PeerIDs and SwarmIDs in any script, with marks, emoji, private-use
        characters or non-ASCII spaces inside, are accepted unchanged.
        """
        for good in ACCEPTED_IDENTIFIERS:
            decoded = JSON_CODEC.decodeRequest(req("FIND", peer=good, find={"swarm_id": good}))
            assert isinstance(decoded, FindRequest)
            self.assertEqual((decoded.peerID, decoded.swarmID), (good, good))
