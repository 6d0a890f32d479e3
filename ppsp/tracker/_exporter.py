# -*- test-case-name: ppsp.test.test_metrics -*-
"""
The tracker's metrics in the Prometheus text format, for C{GET /metrics}
on the admin endpoint (L{AdminResource<ppsp.tracker.admin.AdminResource>}).

prometheus_client's own Twisted resource runs the collectors in a thread
pool, where the tracker's state must not be read; here the admin resource
renders L{trackerRegistry}'s metrics with
C{prometheus_client.generate_latest} in the reactor thread instead.  Each
tracker has a registry of its own (never prometheus_client's global
one), so several trackers can live in one process.

The metrics are read from the tracker's L{TrackerMetrics}, its store and
its load shedder when Prometheus scrapes them: the admin resource first
asks the registry to read what it reports of the store
(L{TrackerRegistry.refresh}, which waits for the store), then collects
everything at once.  Counting costs the request path a dictionary update
or two (L{TrackerMetrics}), and nothing is computed between scrapes.
docs/operations.rst lists every metric.
"""

from __future__ import annotations

from typing import Dict, Iterator, Mapping, Optional

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.utils import floatToGoString
from twisted.internet.defer import Deferred

from ppsp.interfaces import StoreUnavailable
from ppsp.messages import PeerMode
from ppsp.tracker.core import Tracker
from ppsp.tracker.metrics import LATENCY_BUCKETS
from ppsp.tracker.overload import LoadShedder

__all__ = [
    "TrackerCollector",
    "TrackerRegistry",
    "trackerRegistry",
    "REFUSAL_REASONS",
    "STAT_QUERY_OUTCOMES",
]

#: The refusal reasons always exported (at 0 until they happen), so that a
#: rate over them is defined from the first scrape; others (such as
#: C{banned}) appear once counted.
REFUSAL_REASONS = ("shed", "throttled", "connections", "too-large", "method")

#: The STAT_QUERY outcomes always exported (see docs/admin.rst).
STAT_QUERY_OUTCOMES = ("answered", "timeout", "unreachable", "refused", "gone", "failed")

_STAT_QUERY = "stat_query_"


class TrackerCollector:
    """
    A prometheus_client collector of one tracker's metrics (names
    prefixed C{ppsp_}).  The gauges of the store's state are those of the
    last L{refresh}: the numbers of peers and swarms are the tracker's
    L{population<ppsp.tracker.core.Tracker.population>} (which its timers
    also refresh every second), the members by mode those L{refresh} read.
    Call L{collect} in the reactor thread only.

    @param tracker: the tracker whose metrics, store and events to read.
    @param shedder: its load shedder, for the reactor lag and the requests
        in flight; without one those two are not exported.
    """

    def __init__(self, tracker: Tracker, shedder: Optional[LoadShedder] = None) -> None:
        self.tracker = tracker
        self.shedder = shedder
        #: The members of all swarms by mode, at the last L{refresh}.
        self.members: Mapping[PeerMode, int] = dict.fromkeys(PeerMode, 0)

    def refresh(self) -> "Deferred[None]":
        """
        Read from the store what the gauges report: the numbers of peers
        and swarms (L{Tracker.refreshPopulation
        <ppsp.tracker.core.Tracker.refreshPopulation>}) and the members of
        every swarm by mode (L{IPeerStore.swarms
        <ppsp.interfaces.IPeerStore.swarms>}: one pass over the swarms).
        While the store is unavailable (L{StoreUnavailable}) they keep the
        values last read, so that a scrape during an outage still exports
        the counters that tell of it.

        @return: a L{Deferred} that fires once they are read.
        """
        return Deferred.fromCoroutine(self._refresh())

    async def _refresh(self) -> None:
        tracker = self.tracker
        members = dict.fromkeys(PeerMode, 0)
        try:
            await tracker.refreshPopulation()
            for swarm in await tracker.store.swarms():
                for mode, count in swarm.modes.items():
                    members[mode] += count
        except StoreUnavailable:
            return
        self.members = members

    def collect(self) -> Iterator[Metric]:
        """
        The metrics as they are now (the store's state as of the last
        L{refresh}).
        """
        tracker = self.tracker
        metrics = tracker.metrics
        events = metrics.events

        requests = CounterMetricFamily(
            "ppsp_requests",
            "Requests answered, by method (? when undecodable) and response code.",
            labels=("method", "code"),
        )
        for (method, code), count in sorted(metrics.requests.items()):
            requests.add_metric((method, code), count)
        yield requests

        cumulative = []
        seen = 0
        for bound, count in zip(LATENCY_BUCKETS, metrics.latency):
            seen += count
            cumulative.append((floatToGoString(bound), float(seen)))
        cumulative.append(("+Inf", float(seen + metrics.latency[-1])))
        yield HistogramMetricFamily(
            "ppsp_request_latency_seconds",
            "Seconds from receiving a request to writing its answer.",
            buckets=cumulative,
            sum_value=metrics.latencySum,
        )

        refusals: Dict[str, int] = dict.fromkeys(REFUSAL_REASONS, 0)
        refusals.update(metrics.refusals)
        refused = CounterMetricFamily(
            "ppsp_refused",
            "Requests or connections refused before decoding, by reason.",
            labels=("reason",),
        )
        for reason, count in sorted(refusals.items()):
            refused.add_metric((reason,), count)
        yield refused

        peers, swarms = tracker.population
        yield GaugeMetricFamily("ppsp_peers", "Registered peers.", value=peers)
        yield GaugeMetricFamily(
            "ppsp_sessions", "Open sessions (one per registered peer).", value=peers
        )
        yield GaugeMetricFamily("ppsp_swarms", "Swarms the tracker knows.", value=swarms)
        byMode = GaugeMetricFamily(
            "ppsp_peers_by_mode",
            "Swarm members by mode (a peer counts once in each swarm it joined).",
            labels=("mode",),
        )
        for mode, count in self.members.items():
            byMode.add_metric((mode.value,), count)
        yield byMode

        yield CounterMetricFamily(
            "ppsp_expired_peers", "Peers expired for silence.", value=events.get("expired", 0)
        )
        yield CounterMetricFamily(
            "ppsp_retries",
            "Repeated requests answered from the retry cache.",
            value=events.get("retry", 0),
        )
        yield CounterMetricFamily(
            "ppsp_store_errors",
            "INTERNAL ERROR answers: the store, the strategy or the credentials checker failed.",
            value=events.get("store_error", 0),
        )
        for name, text, event in (
            (
                "ppsp_store_unavailable",
                "TEMPORARILY OVERLOADED answers: the store was unreachable or too slow.",
                "store_unavailable",
            ),
            ("ppsp_store_outages", "Outages of the store (unreachable or too slow).", "store_outage"),
        ):
            yield CounterMetricFamily(name, text, value=events.get(event, 0))
        yield CounterMetricFamily(
            "ppsp_stat_queries_sent", "STAT_QUERY requests sent to peers.",
            value=events.get(_STAT_QUERY + "sent", 0),
        )
        outcomes = CounterMetricFamily(
            "ppsp_stat_query_outcomes", "STAT_QUERY outcomes.", labels=("outcome",)
        )
        known = dict.fromkeys(STAT_QUERY_OUTCOMES, 0)
        for name, count in events.items():
            if name.startswith(_STAT_QUERY) and name != _STAT_QUERY + "sent":
                known[name[len(_STAT_QUERY):]] = count
        for outcome, count in sorted(known.items()):
            outcomes.add_metric((outcome,), count)
        yield outcomes

        shedder = self.shedder
        if shedder is not None:
            yield GaugeMetricFamily(
                "ppsp_reactor_lag_seconds",
                "How late the load shedder's lag timer ran last time.",
                value=shedder.lag,
            )
            yield GaugeMetricFamily(
                "ppsp_requests_in_flight",
                "Requests accepted and not answered yet.",
                value=shedder.inFlight,
            )
        yield GaugeMetricFamily(
            "ppsp_uptime_seconds", "Seconds since the tracker started.", value=metrics.uptime()
        )


class TrackerRegistry(CollectorRegistry):
    """
    A registry of one tracker's own (see L{trackerRegistry}): its
    L{TrackerCollector}, which L{refresh} makes read the store before the
    registry is collected.

    @ivar collector: the tracker's collector.
    """

    def __init__(self, collector: TrackerCollector) -> None:
        super().__init__()
        self.collector = collector
        self.register(collector)

    def refresh(self) -> "Deferred[None]":
        """
        Read what the metrics report of the store
        (L{TrackerCollector.refresh}); collect the registry once it fires.
        """
        return self.collector.refresh()


def trackerRegistry(
    tracker: Tracker, shedder: Optional[LoadShedder] = None, process: bool = True
) -> TrackerRegistry:
    """
    A registry of the tracker's own: its L{TrackerCollector}, and with
    C{process}, prometheus_client's C{ProcessCollector} (the C{process_}
    metrics: CPU seconds, memory, open file descriptors, read from
    C{/proc} where there is one).

    @param shedder: the tracker's load shedder, if any.
    """
    registry = TrackerRegistry(TrackerCollector(tracker, shedder))
    if process:
        ProcessCollector(registry=registry)
    return registry
