"""
The peer side of the PPSP tracker protocol: L{TrackerClient} sends single
requests with treq; L{PeerService} keeps a peer registered, in its swarms
and reporting, for an application or for C{twistd ppsp-peer};
L{StatQueryResource} answers the tracker's STAT_QUERY.

This package is the public face of the peer side: the client and the
STAT_QUERY resource live in private modules, and every public name of
theirs is exported here.  L{ppsp.peer.service} and L{ppsp.peer.sources}
are public modules too; L{ppsp.peer.tap} is C{twistd ppsp-peer}.
"""

from ppsp.peer._statresource import MAX_QUERY_BYTES, StatQueryResource, statQuerySite
from ppsp.peer._trackerclient import (
    MAX_RESPONSE_BYTES,
    AuthenticationRequired,
    BadTrackerResponse,
    MessageForbidden,
    ObjectNotFound,
    TemporarilyOverloaded,
    TLSPolicy,
    TrackerClient,
    TrackerError,
    TrackerUnavailable,
    UnsupportedRequest,
    makeHTTPClient,
)
from ppsp.peer.service import PeerService
from ppsp.peer.sources import ChunkSet, StaticStats

__all__ = [
    "PeerService",
    "StatQueryResource",
    "statQuerySite",
    "MAX_QUERY_BYTES",
    "StaticStats",
    "ChunkSet",
    "AuthenticationRequired",
    "BadTrackerResponse",
    "MessageForbidden",
    "ObjectNotFound",
    "TemporarilyOverloaded",
    "TLSPolicy",
    "TrackerClient",
    "TrackerError",
    "TrackerUnavailable",
    "UnsupportedRequest",
    "makeHTTPClient",
    "MAX_RESPONSE_BYTES",
]
