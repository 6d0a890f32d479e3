# -*- test-case-name: ppsp.test.test_overload -*-
"""
Load shedding: refuse work early, with TEMPORARILY OVERLOADED, when the
tracker falls behind, so that it degrades instead of collapsing.

Two signals say the tracker is behind:

- too many requests in flight (accepted, not yet answered: an
  asynchronous strategy or credentials checker is slow);
- the reactor lags: a timer due every C{interval} seconds fires late
  twice in a row, which means the process spends more time working than
  the load allows (every request then waits in the kernel's queues, and
  answering late is worse than refusing early).  One late timer alone is
  a pause (a garbage collection of a large heap can take half a second),
  after which the backlog clears by itself: refusing it would waste the
  wait the requests already made.

L{LoadShedder.check} is one comparison per request; the lag is measured by
a L{LoopingCall} on the injected clock, which L{LoadShedder} runs as a
service.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

__all__ = ["LoadShedder"]


class LoadShedder(Service):
    """
    Decide whether the tracker takes one more request.

    @param clock: the reactor whose lag is measured.
    @param maxInFlight: the most requests in flight; 0 for no limit.
    @param maxLag: seconds of reactor lag, measured twice in a row, beyond
        which requests are refused; 0 for no limit.
    @param interval: seconds between two lag measurements.
    @param retryAfter: the seconds a refused peer is told to wait.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        maxInFlight: int = 1000,
        maxLag: float = 0.5,
        interval: float = 0.1,
        retryAfter: float = 2.0,
    ) -> None:
        self.clock = clock
        self.maxInFlight = maxInFlight
        self.maxLag = maxLag
        self.interval = interval
        self.retryAfter = retryAfter
        #: Requests accepted and not answered yet.
        self.inFlight = 0
        #: The lag of the last measurement, in seconds.
        self.lag = 0.0
        #: The lag of the measurement before, in seconds.
        self.previousLag = 0.0
        #: Requests refused since start.
        self.shed = 0
        self._expected: Optional[float] = None
        self._loop = LoopingCall(self._measure)
        self._loop.clock = clock
        self._shedding = False

    def startService(self) -> None:
        """
        Start measuring the reactor's lag (when a lag limit is set).
        """
        super().startService()
        if self.maxLag:
            self._expected = self.clock.seconds() + self.interval
            self._loop.start(self.interval, now=False)

    def stopService(self) -> Any:
        """
        Stop measuring.
        """
        if self._loop.running:
            self._loop.stop()
        return super().stopService()

    def _measure(self) -> None:
        now = self.clock.seconds()
        if self._expected is not None:
            self.previousLag = self.lag
            self.lag = max(0.0, now - self._expected)
        self._expected = now + self.interval

    def check(self) -> Optional[float]:
        """
        Whether to take one more request.

        @return: L{None} to take it, else the seconds to announce in
            C{Retry-After}.
        """
        overloaded = (self.maxInFlight and self.inFlight >= self.maxInFlight) or (
            self.maxLag and min(self.lag, self.previousLag) > self.maxLag
        )
        if not overloaded:
            if self._shedding:
                self._shedding = False
                self.log.info(
                    "load back to normal after shedding {count} request(s)",
                    count=self.shed,
                )
            return None
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

    def started(self) -> None:
        """
        One request was accepted.
        """
        self.inFlight += 1

    def finished(self, _: Any = None) -> None:
        """
        One accepted request was answered (or its connection lost).
        """
        if self.inFlight:
            self.inFlight -= 1
