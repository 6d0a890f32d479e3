"""
The PPSP tracker: the protocol's rules (L{Tracker}), its state
(L{MemoryPeerStore}), its HTTP face (L{TrackerResource}) and its service.
"""

from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.store import MemoryPeerStore

__all__ = ["Tracker", "TrackerConfig", "Origin", "MemoryPeerStore"]
