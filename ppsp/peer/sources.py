# -*- test-case-name: ppsp.test.test_peer_service -*-
"""
Ready-made statistics and chunk sources for a L{ppsp.peer.PeerService}:
L{StaticStats} holds whatever the application last set, L{ChunkSet} holds
the chunks of each swarm and tells the service when they change.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Mapping, Tuple, Union

from zope.interface import implementer

from ppsp.interfaces import IChunkSource, IStatsSource
from ppsp.messages import ChunkRange, Stat

__all__ = ["StaticStats", "ChunkSet"]


@implementer(IStatsSource)
class StaticStats:
    """
    Statistics that stay as they were last set.

    @param stats: the initial statistics, as L{Stat}s or a mapping of
        property names to values.
    """

    def __init__(self, stats: Union[Iterable[Stat], Mapping[str, object]] = ()) -> None:
        self._stats: Tuple[Stat, ...] = ()
        self.set(stats)

    def set(self, stats: Union[Iterable[Stat], Mapping[str, object]]) -> None:
        """
        Replace the statistics.
        """
        if isinstance(stats, Mapping):
            self._stats = tuple(Stat(name, str(value)) for name, value in stats.items())
        else:
            self._stats = tuple(stats)

    def stats(self) -> Tuple[Stat, ...]:
        """
        The statistics last set.
        """
        return self._stats


@implementer(IChunkSource)
class ChunkSet:
    """
    The chunks a peer holds, per swarm, kept by the application with
    L{add} and L{set}; each change is reported to the watchers.
    """

    def __init__(self) -> None:
        self._chunks: Dict[str, List[ChunkRange]] = {}
        self._watchers: List[Callable[[str], object]] = []

    def chunks(self, swarmID: str) -> Tuple[ChunkRange, ...]:
        """
        The chunk ranges held in C{swarmID}.
        """
        return tuple(self._chunks.get(swarmID, ()))

    def set(self, swarmID: str, chunks: Iterable[Union[ChunkRange, int]]) -> None:
        """
        Replace the chunks held in C{swarmID} (IDs or inclusive ranges).
        """
        self._chunks[swarmID] = [
            c if isinstance(c, ChunkRange) else ChunkRange(c, c) for c in chunks
        ]
        self._changed(swarmID)

    def add(self, swarmID: str, chunkID: int) -> None:
        """
        Record one more chunk held in C{swarmID}, extending the last range
        when it is the next chunk (the common case of a stream).
        """
        ranges = self._chunks.setdefault(swarmID, [])
        if ranges and ranges[-1].end + 1 == chunkID:
            ranges[-1] = ChunkRange(ranges[-1].start, chunkID)
        elif not any(chunkID in r for r in ranges):
            ranges.append(ChunkRange(chunkID, chunkID))
        else:
            return
        self._changed(swarmID)

    def watch(self, callback: Callable[[str], object]) -> Callable[[], None]:
        """
        Call C{callback(swarmID)} after each change; returns the function
        that stops it.
        """
        self._watchers.append(callback)

        def stop() -> None:
            if callback in self._watchers:
                self._watchers.remove(callback)

        return stop

    def _changed(self, swarmID: str) -> None:
        for callback in list(self._watchers):
            callback(swarmID)
