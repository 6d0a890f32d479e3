# -*- test-case-name: ppsp.test.test_overload -*-
"""
Load shedding: refuse work early, with TEMPORARILY OVERLOADED, when the
tracker falls behind, so that it degrades instead of collapsing.

What overload looks like here.  The reactor is one thread.  Each turn it
asks the kernel which sockets are ready and handles every one of them
before it looks again; with the built-in strategies and authenticators a
request is answered inside that turn, so a request never waits inside the
process between its bytes being read and its answer.  It waits in the
kernel instead: its bytes arrive while the reactor works through the
sockets of the turn before, and it is read only when that turn ends.
Under overload the turns get long (every socket is ready, every turn
handles all of them), and every request waits about one turn, plus its
place in its own turn.  A timer shows this: due every C{interval}
seconds, it can only run between turns, so it runs late by about the
length of the turn before.

The rule, two signals:

  - B{the reactor lags}: the lag timer ran more than C{maxLag} seconds late
    at its last two runs (two long turns in a row), B{and} the current turn
    has itself run for more than C{maxLag} seconds (the reactor is
    C{maxLag} past the timer's next due time).  Then the rest of the turn is
    refused, cheaply, and the next turn starts afresh.  Each turn thus
    does at most about C{maxLag} seconds of real work, and an admitted
    request waits about one turn plus its place in its own: about two
    C{maxLag}, plus the time the turn's refusals take (which grows with
    the excess load; a refusal at the connection costs a fifth of a
    request or less, see docs/performance.rst).  One long turn alone (a
    pause, such as a full garbage collection of a large heap) refuses
    nothing, nor does the turn that serves the backlog the pause left: that
    backlog clears by itself, and refusing it would waste the wait the
    requests already made.
  - B{too many requests in flight}: C{maxInFlight} requests accepted and not
    yet answered (an asynchronous strategy or credentials checker is slow).

L{LoadShedder.overloaded} costs a few attribute tests per request while
the timer is on time.  The cheapest place to refuse is the HTTP channel, before
twisted.web parses the request
(L{DeadlineChannel<ppsp.tracker.resource.DeadlineChannel>}); the resource
asks too (L{TrackerResource<ppsp.tracker.resource.TrackerResource>}), for
the requests the channel lets through and for sites that are not a
L{TrackerSite<ppsp.tracker.resource.TrackerSite>}.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

__all__ = ["LoadShedder"]


class LoadShedder(Service):
    """
    Decide whether the tracker takes one more request.  Run it as a
    service (it measures the reactor's lag while it runs).

    @param clock: the reactor whose lag is measured.
    @param maxInFlight: the most requests in flight; 0 for no limit.
    @param maxLag: the seconds of reactor lag beyond which requests are
        refused (see the module's documentation for the exact rule); 0
        turns the lag rule off.
    @param interval: seconds between two runs of the lag timer; much
        shorter than C{maxLag}.
    @param retryAfter: the seconds a refused peer is told to wait.

    @ivar inFlight: requests accepted and not answered yet.
    @ivar lag: how late the lag timer ran last time, in seconds.
    @ivar previousLag: how late it ran the time before.
    @ivar shed: requests refused since start.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        maxInFlight: int = 1000,
        maxLag: float = 0.05,
        interval: float = 0.01,
        retryAfter: float = 2.0,
    ) -> None:
        if maxInFlight < 0 or maxLag < 0 or interval <= 0 or retryAfter < 0:
            raise ValueError("the load shedder's limits must not be negative")
        self.clock = clock
        self.maxInFlight = maxInFlight
        self.maxLag = maxLag
        self.interval = interval
        self.retryAfter = retryAfter
        self.inFlight = 0
        self.lag = 0.0
        self.previousLag = 0.0
        self.shed = 0
        # When the lag timer is due next (inf while it does not run).
        self._due = float("inf")
        # Whether the last two runs of the timer were more than maxLag late.
        self._behind = False
        self._shedding = False
        self._timer: Optional[IDelayedCall] = None

    def startService(self) -> None:
        """
        Start measuring the reactor's lag (when a lag limit is set).
        """
        super().startService()
        if self.maxLag and self._timer is None:
            self._due = self.clock.seconds() + self.interval
            self._timer = self.clock.callLater(self.interval, self._tick)

    def stopService(self) -> Any:
        """
        Stop measuring.
        """
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()
        self._due = float("inf")
        self._behind = False
        return super().stopService()

    def _tick(self) -> None:
        now = self.clock.seconds()
        self.previousLag = self.lag
        self.lag = lag = max(0.0, now - self._due)
        self._behind = lag > self.maxLag and self.previousLag > self.maxLag
        self._due = now + self.interval
        self._timer = self.clock.callLater(self.interval, self._tick)
        if self._shedding and not self._behind:
            self.overloaded()  # logs the end of the episode, unless in flight

    def overloaded(self) -> bool:
        """
        Whether the tracker should refuse a request now.  This counts
        nothing; call L{refused} when the request is refused.
        """
        if self._behind:
            if self.clock.seconds() - self._due > self.maxLag:
                return True
        elif self._shedding and not (self.maxInFlight and self.inFlight >= self.maxInFlight):
            self._shedding = False
            self.log.info(
                "load back to normal after shedding {count} request(s) in all", count=self.shed
            )
        return bool(self.maxInFlight) and self.inFlight >= self.maxInFlight

    @property
    def shedding(self) -> bool:
        """
        Whether the tracker sheds load now, for the health check: the
        reactor lags (the lag timer's last two runs were more than
        C{maxLag} late) or C{maxInFlight} requests are in flight.  Unlike
        L{overloaded}, this neither logs nor changes anything.
        """
        return self._behind or (bool(self.maxInFlight) and self.inFlight >= self.maxInFlight)

    def refused(self) -> float:
        """
        Count one refused request (logging the start of a shedding
        episode, once).

        @return: the seconds to announce in C{Retry-After}.
        """
        self.shed += 1
        if not self._shedding:
            self._shedding = True
            self.log.warn(
                "overloaded ({inFlight} requests in flight, reactor {lag:.3f} s late): "
                "refusing requests with TEMPORARILY OVERLOADED",
                inFlight=self.inFlight,
                lag=self.lag,
            )
        return self.retryAfter

    def check(self) -> Optional[float]:
        """
        Whether to take one more request; a refusal is counted.

        @return: L{None} to take it, else the seconds to announce in
            C{Retry-After}.
        """
        if self.overloaded():
            return self.refused()
        return None

    def started(self) -> None:
        """
        One request was accepted and will be answered later.
        """
        self.inFlight += 1

    def finished(self, _: Any = None) -> None:
        """
        One accepted request was answered (or its connection lost).
        """
        if self.inFlight:
            self.inFlight -= 1
