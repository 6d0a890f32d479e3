"""
The PPSP tracker: the protocol's rules (L{Tracker}), its state
(L{MemoryPeerStore}), its HTTP face (L{TrackerResource}, served best by a
L{TrackerSite}) and its timers (L{TrackerService}).
"""

from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.resource import TrackerResource, TrackerSite
from ppsp.tracker.service import TrackerService
from ppsp.tracker.store import MemoryPeerStore

__all__ = [
    "Tracker",
    "TrackerConfig",
    "Origin",
    "MemoryPeerStore",
    "TrackerResource",
    "TrackerSite",
    "TrackerService",
]
