# -*- test-case-name: ppsp.test.test_storeoutage -*-
"""
The outages of a tracker's store, each logged twice, not once per
request: when the store begins to fail with
L{StoreUnavailable<ppsp.interfaces.StoreUnavailable>}, and when it
answers again, with how long the outage lasted and how many requests got
TEMPORARILY OVERLOADED meanwhile.
"""

from __future__ import annotations

from typing import Optional

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from ppsp.tracker.metrics import TrackerMetrics

__all__ = ["StoreOutage"]


class StoreOutage:
    """
    Whether a tracker's store is out, since when, and how many requests
    it refused.

    The tracker core calls L{failed} for each request or expiry sweep
    that its store failed with C{StoreUnavailable}, and L{answered} after
    each one the store answered, with the L{epoch} it read when it began:
    an answer to a call made before the outage began does not end it.

    Each outage is counted in the metrics (the event C{store_outage}), and
    so is each request refused (C{store_unavailable}).

    @param clock: the source of time.
    @param metrics: where the events are counted.

    @ivar since: when the current outage began (clock seconds), or L{None}
        while the store answers.
    @ivar refused: the requests refused during the current (or the last)
        outage.
    @ivar epoch: the number of outages begun so far.
    """

    log = Logger()

    def __init__(self, clock: IReactorTime, metrics: TrackerMetrics) -> None:
        self.clock = clock
        self.metrics = metrics
        self.since: Optional[float] = None
        self.refused = 0
        self.epoch = 0

    def failed(self, reason: str, request: bool = True) -> None:
        """
        The store could not answer a call; when it answered the call
        before, an outage begins, and is logged.

        @param reason: what the store said (the exception's message).
        @param request: whether a request was refused for it (else an
            expiry sweep failed).
        """
        if self.since is None:
            self.since = self.clock.seconds()
            self.epoch += 1
            self.refused = 0
            self.metrics.count("store_outage")
            self.log.error(
                "the store is unavailable ({reason}): requests get TEMPORARILY OVERLOADED"
                " until it answers again",
                reason=reason,
            )
        if request:
            self.refused += 1
            self.metrics.count("store_unavailable")

    def answered(self, epoch: int) -> None:
        """
        The store answered a request or a sweep that began when L{epoch}
        was C{epoch}: when that was during the current outage, the outage
        is over, and is logged with how long it lasted and how many
        requests it refused.
        """
        since = self.since
        if since is None or epoch != self.epoch:
            return
        self.since = None
        self.log.info(
            "the store answers again after {seconds:.1f} s unavailable;"
            " {refused} request(s) got TEMPORARILY OVERLOADED meanwhile",
            seconds=self.clock.seconds() - since,
            refused=self.refused,
        )
