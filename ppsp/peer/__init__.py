"""
The peer side of the PPSP tracker protocol: L{TrackerClient} sends single
requests with treq; L{PeerService} keeps a peer registered, in its swarms
and reporting, for an application or for C{twistd ppsp-peer};
L{StatQueryResource} answers the tracker's STAT_QUERY.
"""

from ppsp.peer.client import (
    AuthenticationRequired,
    BadTrackerResponse,
    MessageForbidden,
    ObjectNotFound,
    TemporarilyOverloaded,
    TLSPolicy,
    TrackerClient,
    TrackerError,
    TrackerUnavailable,
    makeHTTPClient,
)
from ppsp.peer.service import PeerService
from ppsp.peer.sources import ChunkSet, StaticStats
from ppsp.peer.statquery import StatQueryResource, statQuerySite

__all__ = [
    "PeerService",
    "StatQueryResource",
    "statQuerySite",
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
    "makeHTTPClient",
]
