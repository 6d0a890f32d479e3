"""
The PPSP tracker: the protocol's rules (L{Tracker}), its state
(L{MemoryPeerStore}, or any L{IPeerStore<ppsp.interfaces.IPeerStore>},
with the values of L{ppsp.tracker.values}), its HTTP face (L{TrackerResource}, served best by a
L{TrackerSite}), its timers (L{TrackerService}), STAT_QUERY
(L{StatQuerier}, polled by L{StatQueryService}) and the operators' JSON
interface (L{AdminResource}).
"""

from ppsp.tracker.admin import AdminResource
from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.resource import TrackerResource, TrackerSite
from ppsp.tracker.service import TrackerService
from ppsp.tracker.statquerier import StatQuerier, StatQueryService, makeStatQueryClient
from ppsp.tracker.store import MemoryPeerStore
from ppsp.tracker.values import Expired, MemberState, PeerState, Session, SwarmMember, SwarmState

__all__ = [
    "Tracker",
    "TrackerConfig",
    "Origin",
    "MemoryPeerStore",
    "PeerState",
    "Session",
    "MemberState",
    "SwarmState",
    "SwarmMember",
    "Expired",
    "TrackerResource",
    "TrackerSite",
    "TrackerService",
    "StatQuerier",
    "StatQueryService",
    "makeStatQueryClient",
    "AdminResource",
]
