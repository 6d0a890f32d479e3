# -*- test-case-name: ppsp.test.test_metrics -*-
"""
What a tracker counts, in one place that every reader shares: the
Prometheus exporter (C{GET /metrics} on the admin endpoint), the status
page, the health check and the admin summary.

The writers are the parts that see each event: the HTTP resource (each
answered request with its method, response code and latency; requests
refused before decoding, by reason), the core (expiries, retries answered
from the cache), the STAT_QUERY querier (outcomes), the load shedder and
the throttle (refusals).  Each write is a dictionary update or two, in
the reactor thread; nothing here takes a lock or allocates per request
beyond what a dictionary update does.

L{TrackerMetrics.history} keeps one sample per C{interval} seconds (by
default 10 s for an hour) of the requests answered and refused and of the
latency, for the status page's plots.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass
from typing import Deque, Dict, List, Optional, Sequence, Tuple

from twisted.internet.interfaces import IReactorTime

__all__ = ["TrackerMetrics", "Sample", "LATENCY_BUCKETS"]

#: The upper bounds (seconds) of the request-latency histogram's buckets;
#: the last bucket (+Inf) is implicit.
LATENCY_BUCKETS: Tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)


@dataclass(frozen=True)
class Sample:
    """
    What happened during one interval of the history.

    @ivar start: when the interval began (clock seconds).
    @ivar seconds: its length.
    @ivar answered: requests answered (any response code).
    @ivar refused: requests refused before they were decoded (throttle,
        load shedding, bans, connection cap).
    @ivar latency: the request-latency histogram of the interval: the
        count in each bucket of L{LATENCY_BUCKETS}, then the count above
        the last bound.
    @ivar latencySum: the sum of the latencies, in seconds.
    """

    start: float
    seconds: float
    answered: int
    refused: int
    latency: Tuple[int, ...]
    latencySum: float

    @property
    def rate(self) -> float:
        """
        Requests answered per second.
        """
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    def quantile(self, q: float) -> Optional[float]:
        """
        The latency (seconds) below which a share C{q} of the interval's
        requests were answered, as the upper bound of the bucket holding
        it (L{None} for no request; the last finite bound for requests
        above it).
        """
        total = sum(self.latency)
        if not total:
            return None
        rank = q * total
        seen = 0
        for bound, count in zip(LATENCY_BUCKETS, self.latency):
            seen += count
            if seen >= rank:
                return bound
        return LATENCY_BUCKETS[-1]


class TrackerMetrics:
    """
    The tracker's counters, latency histogram and history.

    @param clock: the source of time (for the history and the uptime).
    @param interval: seconds per history sample.
    @param length: samples kept (360 × 10 s: an hour).
    """

    def __init__(self, clock: IReactorTime, interval: float = 10.0, length: int = 360) -> None:
        self.clock = clock
        self.interval = interval
        #: When counting began (clock seconds).
        self.started = clock.seconds()
        #: Requests answered, by (method, response code text).  A request
        #: that could not be decoded has the method C{"?"}.
        self.requests: Dict[Tuple[str, str], int] = {}
        #: Requests refused before decoding, by reason (C{"throttled"},
        #: C{"shed"}, C{"banned"}, C{"connections"}, …).
        self.refusals: Dict[str, int] = {}
        #: Other events by name (C{"expired"}, C{"retry"},
        #: C{"undecodable"}, C{"stat_query_answered"}, C{"store_error"},
        #: C{"store_unavailable"}: a request refused because the store could
        #: not answer, C{"store_outage"}: such an outage began, …).
        self.events: Dict[str, int] = {}
        #: The latency histogram since start: a count per bucket of
        #: L{LATENCY_BUCKETS}, then the count above the last bound.
        self.latency: List[int] = [0] * (len(LATENCY_BUCKETS) + 1)
        #: The sum of all latencies, in seconds.
        self.latencySum = 0.0
        self.history: Deque[Sample] = deque(maxlen=length)
        self._mark = self._snapshot(self.started)

    # Writers ------------------------------------------------------------------

    def answered(self, method: str, code: str, seconds: float) -> None:
        """
        Count one answered request and its latency (from when it was
        received to when its answer was written).
        """
        key = (method, code)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1
        self.latency[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latencySum += seconds

    def refused(self, reason: str) -> None:
        """
        Count one request (or connection) refused before decoding.
        """
        refusals = self.refusals
        refusals[reason] = refusals.get(reason, 0) + 1

    def count(self, event: str, n: int = 1) -> None:
        """
        Count C{n} events named C{event}.
        """
        events = self.events
        events[event] = events.get(event, 0) + n

    # Readers --------------------------------------------------------------------

    def uptime(self) -> float:
        """
        Seconds since counting began.
        """
        return self.clock.seconds() - self.started

    def answeredTotal(self) -> int:
        """
        Requests answered since start.
        """
        return sum(self.requests.values())

    def refusedTotal(self) -> int:
        """
        Requests refused before decoding since start.
        """
        return sum(self.refusals.values())

    def byMethod(self) -> Dict[str, int]:
        """
        Requests answered since start, by method.
        """
        result: Dict[str, int] = {}
        for (method, _code), count in self.requests.items():
            result[method] = result.get(method, 0) + count
        return result

    def byCode(self) -> Dict[str, int]:
        """
        Requests answered since start, by response code text.
        """
        result: Dict[str, int] = {}
        for (_method, code), count in self.requests.items():
            result[code] = result.get(code, 0) + count
        return result

    def samples(self) -> Sequence[Sample]:
        """
        The history, oldest first.
        """
        return tuple(self.history)

    # History ----------------------------------------------------------------------

    def sample(self) -> Sample:
        """
        Close the current history interval: append what happened since the
        last call (or since start) to L{history}, and return it.  The
        service that owns the metrics calls it every C{interval} seconds.
        """
        now = self.clock.seconds()
        mark = self._snapshot(now)
        start, answered, refused, latency, latencySum = self._mark
        sample = Sample(
            start,
            now - start,
            mark[1] - answered,
            mark[2] - refused,
            tuple(a - b for a, b in zip(mark[3], latency)),
            mark[4] - latencySum,
        )
        self._mark = mark
        self.history.append(sample)
        return sample

    def _snapshot(self, now: float) -> Tuple[float, int, int, Tuple[int, ...], float]:
        return (now, self.answeredTotal(), self.refusedTotal(), tuple(self.latency), self.latencySum)
