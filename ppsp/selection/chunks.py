# -*- test-case-name: ppsp.test.test_strategies -*-
"""
The C{chunks} strategy: peers that hold what the requester needs next.

  - FIND_CHUNK, and FIND with a ChunkID: among the holders of the chunk,
    those whose chunk set reaches furthest ahead of it (the longest run
    of consecutive chunks from the requested one, counted up to
    C{horizon} chunks) come first, so the requester can keep fetching
    from them.  Ties are broken at random.
  - FIND without a ChunkID, from a requester that reported its
    C{PlaybackPosition} (for the swarm, or as a peer): peers whose own
    C{PlaybackPosition} is closest come first, a peer behind counting
    C{behind} times its distance (2 by default), because a peer ahead
    already holds what the requester plays next.  That suits VoD, where
    peers are spread over the file, and the live edge, where peers a
    little ahead have the newest chunks.  Peers that reported no position
    come after those that did.  Without a position of its own, the
    requester gets a uniform sample.

Candidates are a uniform sample of C{probe} times C{count} qualifying
members (4 by default), drawn through the chunk index for a chunk; the
ranking keeps C{count} of them.  Cost: a sort of the C{probe} times
C{count} candidates, after a binary search in each one's chunk ranges
for a chunk.

Arguments: C{chunks:probe=4,horizon=1024,behind=2}.
"""

from __future__ import annotations

import random as _random
from bisect import bisect_right
from typing import Any, List, Optional

from zope.interface import implementer

from ppsp.interfaces import (
    IFindConstraints,
    IPeerSelector,
    IRequester,
    ISwarmMember,
    ISwarmView,
)
from ppsp.messages import ChunkRange
from ppsp.selection._common import parseArgs, positiveFloat, positiveInt

__all__ = ["ChunksSelector", "reach"]


def _start(r: ChunkRange) -> int:
    return r.start


def reach(member: ISwarmMember, chunkID: int, horizon: int) -> int:
    """
    How many consecutive chunks from C{chunkID} on the member holds, up to
    C{horizon} (0 when it does not hold C{chunkID}): read from its merged,
    sorted C{chunks} ranges (L{ISwarmMember.chunks}), in O(log ranges).
    """
    chunks = member.chunks
    if not chunks:
        return 0
    i = bisect_right(chunks, chunkID, key=_start) - 1
    if i < 0 or chunks[i].end < chunkID:
        return 0
    return min(chunks[i].end - chunkID + 1, horizon)


def _position(value: Any) -> Optional[int]:
    return value if type(value) is int else None


@implementer(IPeerSelector)
class ChunksSelector:
    """
    Holders that reach furthest ahead, or peers near the requester's
    playback position.  See the module's documentation.

    @param probe: candidates drawn per peer asked for.
    @param horizon: how far ahead a run of chunks counts.
    @param behind: how much more a peer behind the requester counts than
        one ahead at the same distance.
    @param random: the random source (seeded in tests).
    """

    name = "chunks"

    def __init__(
        self,
        probe: int = 4,
        horizon: int = 1024,
        behind: float = 2.0,
        random: Optional[_random.Random] = None,
    ) -> None:
        if probe < 1 or horizon < 1 or behind <= 0:
            raise ValueError("chunks: probe, horizon and behind must be positive")
        self.probe = probe
        self.horizon = horizon
        self.behind = behind
        self.random = random if random is not None else _random.Random()

    @classmethod
    def fromArgs(cls, argstring: str, random: Optional[_random.Random] = None) -> "ChunksSelector":
        """
        Make the strategy from C{probe=N,horizon=N,behind=F}.

        @raise ValueError: the arguments are not valid.
        """
        args = parseArgs(
            "chunks",
            argstring,
            {"probe": positiveInt, "horizon": positiveInt, "behind": positiveFloat},
        )
        return cls(
            args.get("probe", 4), args.get("horizon", 1024), args.get("behind", 2.0), random
        )

    def select(
        self,
        swarm: ISwarmView,
        requester: IRequester,
        count: int,
        constraints: IFindConstraints,
    ) -> List[ISwarmMember]:
        """
        Rank a random pool of candidates; keep the best C{count}.
        """
        accepts = constraints.accepts
        chunkID = constraints.chunkID
        wanted = self.probe * count
        # The pool comes in random order and the sorts are stable, so ties
        # stay in random order.
        if chunkID is not None:
            pool = swarm.sampleHolders(chunkID, wanted, accepts)
            horizon = self.horizon
            ranked = sorted(pool, key=lambda m: -reach(m, chunkID, horizon))
            return ranked[:count]
        me = swarm.membership(requester)
        mine = _position((me if me is not None else requester).stat("PlaybackPosition"))
        if mine is None:
            return list(swarm.sample(count, accepts))
        pool = swarm.sample(wanted, accepts)
        behind = self.behind

        unknown = float("inf")

        def distance(m: ISwarmMember) -> float:
            theirs = m.stat("PlaybackPosition")
            if type(theirs) is not int:
                return unknown
            d = theirs - mine
            return d if d >= 0 else -d * behind

        return sorted(pool, key=distance)[:count]
