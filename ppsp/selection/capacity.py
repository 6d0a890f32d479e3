# -*- test-case-name: ppsp.test.test_strategies -*-
"""
The C{capacity} strategy: peers with upload to spare, and no peer handed
out far more often than its capacity warrants.

Each candidate gets a weight::

    bandwidth / (1 + ConcurrentLinks + recent hand-outs)

where C{bandwidth} is the peer's reported C{AvailBandwidth}, else its
C{UploadBandwidth}, else C{unknown} kbit/s (1,000 by default), and
C{recent hand-outs} counts how often this strategy listed the peer
during the last C{interval} seconds (60 by default): the bandwidth each
of its consumers can expect, counting every open link and every requester
that was recently sent to it.  Statistics come from
L{ISwarmMember.stat}, so a value scoped to the swarm wins over the
peer's.

The strategy draws C{probe} times C{count} qualifying candidates at
random (4 by default; from the chunk index for FIND_CHUNK) and chooses
C{count} of them by weighted sampling without replacement (each
candidate's key is C{log(u) / weight}, the largest keys win), so a
strong peer is likely but never certain to be listed, and a peer that
was listed often lately loses weight.  Cost: O(probe * count * log
count) per FIND.

Memory: hand-outs are counted per PeerID in two generations, the
current interval and the previous one (whose counts fade out linearly
over the current interval); a generation ends after C{interval} seconds
or once it counts C{maxTracked} peers (100,000 by default), so the
counts never hold more than 2 * maxTracked entries.

Time is the FIND's (L{IFindConstraints.now}): the tracker's clock.

Arguments: C{capacity:probe=4,interval=60,unknown=1000,tracked=100000}.
"""

from __future__ import annotations

import heapq
import math
import random as _random
from typing import Any, Dict, List, Optional

from zope.interface import implementer

from ppsp.interfaces import (
    IFindConstraints,
    IPeerSelector,
    IRequester,
    ISwarmMember,
    ISwarmView,
)
from ppsp.selection._common import fill, parseArgs, positiveFloat, positiveInt

__all__ = ["CapacitySelector"]


def _number(value: Any) -> Optional[int]:
    return value if type(value) is int else None


@implementer(IPeerSelector)
class CapacitySelector:
    """
    Peers weighted by spare upload and spread over time.  See the module's
    documentation.

    @param probe: candidates drawn per peer asked for.
    @param interval: the seconds over which hand-outs are counted.
    @param unknown: the bandwidth (kbit/s) assumed for a peer that
        reported none.
    @param maxTracked: the most peers whose hand-outs one generation
        counts.
    @param random: the random source (seeded in tests).
    """

    name = "capacity"

    def __init__(
        self,
        probe: int = 4,
        interval: float = 60.0,
        unknown: int = 1000,
        maxTracked: int = 100_000,
        random: Optional[_random.Random] = None,
    ) -> None:
        if probe < 1 or interval <= 0 or unknown < 1 or maxTracked < 1:
            raise ValueError("capacity: probe, interval, unknown and tracked must be positive")
        self.probe = probe
        self.interval = float(interval)
        self.unknown = unknown
        self.maxTracked = maxTracked
        self.random = random if random is not None else _random.Random()
        self._current: Dict[str, int] = {}
        self._previous: Dict[str, int] = {}
        self._started: Optional[float] = None

    @classmethod
    def fromArgs(
        cls, argstring: str, random: Optional[_random.Random] = None
    ) -> "CapacitySelector":
        """
        Make the strategy from C{probe=N,interval=SECONDS,unknown=KBITS,tracked=N}.

        @raise ValueError: the arguments are not valid.
        """
        args = parseArgs(
            "capacity",
            argstring,
            {
                "probe": positiveInt,
                "interval": positiveFloat,
                "unknown": positiveInt,
                "tracked": positiveInt,
            },
        )
        return cls(
            probe=args.get("probe", 4),
            interval=args.get("interval", 60.0),
            unknown=args.get("unknown", 1000),
            maxTracked=args.get("tracked", 100_000),
            random=random,
        )

    # Hand-out counts ------------------------------------------------------

    def _advance(self, now: float) -> float:
        """
        Start a new generation when the interval is over; return how much
        of the previous generation's counts still weighs (1 to 0).
        """
        started = self._started
        if started is None or now < started:
            self._started = started = now
        elapsed = now - started
        interval = self.interval
        if elapsed >= interval:
            if elapsed < 2 * interval:
                # The next generation began one interval after this one.
                self._previous = self._current
                started += interval
            else:
                self._previous = {}
                started = now
            self._current = {}
            self._started = started
            elapsed = now - started
        return 1.0 - elapsed / interval

    def handouts(self, peerID: str, now: float) -> float:
        """
        How often the peer was handed out recently, as the weight counts
        it.
        """
        fade = self._advance(now)
        return self._current.get(peerID, 0) + fade * self._previous.get(peerID, 0)

    def trackedPeers(self) -> int:
        """
        The number of hand-out counts kept (at most 2 * maxTracked).
        """
        return len(self._current) + len(self._previous)

    def _record(self, peerID: str, now: float) -> None:
        current = self._current
        if peerID not in current and len(current) >= self.maxTracked:
            # A full generation ends early, so memory stays bounded.
            self._previous = current
            self._current = current = {}
            self._started = now
        current[peerID] = current.get(peerID, 0) + 1

    # Selection --------------------------------------------------------------

    def weight(self, member: ISwarmMember, recent: float) -> float:
        """
        The weight of a member that was handed out C{recent} times lately.
        """
        bandwidth = _number(member.stat("AvailBandwidth"))
        if bandwidth is None:
            bandwidth = _number(member.stat("UploadBandwidth"))
        if bandwidth is None or bandwidth <= 0:
            bandwidth = self.unknown
        links = _number(member.stat("ConcurrentLinks")) or 0
        return bandwidth / (1.0 + max(links, 0) + recent)

    def select(
        self,
        swarm: ISwarmView,
        requester: IRequester,
        count: int,
        constraints: IFindConstraints,
    ) -> List[ISwarmMember]:
        """
        Weighted sampling without replacement among a random pool.
        """
        now = constraints.now
        fade = self._advance(now)
        current = self._current
        previous = self._previous
        pool = fill(swarm, constraints.chunkID, self.probe * count, constraints.accepts)
        rnd = self.random.random
        log = math.log
        unknown = self.unknown
        keyed = []
        for i, m in enumerate(pool):
            # The weight (see L{weight}), inlined: this loop is the cost.
            stat = m.stat
            bandwidth = stat("AvailBandwidth")
            if type(bandwidth) is not int:
                bandwidth = stat("UploadBandwidth")
            if type(bandwidth) is not int or bandwidth <= 0:
                bandwidth = unknown
            links = stat("ConcurrentLinks")
            if type(links) is not int or links < 0:
                links = 0
            pid = m.peerID
            recent = current.get(pid, 0) + fade * previous.get(pid, 0) if previous else current.get(pid, 0)
            keyed.append((log(1.0 - rnd()) * (1.0 + links + recent) / bandwidth, i, m))
        best = heapq.nlargest(count, keyed)
        chosen = [m for _key, _i, m in best]
        for m in chosen:
            self._record(m.peerID, now)
        return chosen
