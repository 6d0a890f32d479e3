"""
Log lines that an attacker can provoke, at most one per interval.

A refused CONNECT, a refused connection, a failed C{accept()}: each is
worth a line, but a peer (or a flood) can cause thousands a second, and a
log written that fast fills the disk and hides everything else.
L{RateLimitedLog} writes the first event of each interval and counts the
others, which the next line it writes reports as C{suppressed}.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger, LogLevel

__all__ = ["RateLimitedLog"]


class RateLimitedLog:
    """
    At most one log event per C{interval} seconds.

    @param log: the logger to write to.
    @param clock: the source of time.
    @param interval: the seconds between two events written.
    """

    def __init__(self, log: Logger, clock: IReactorTime, interval: float = 1.0) -> None:
        self.log = log
        self.clock = clock
        self.interval = interval
        #: Events not written since the last one that was.
        self.suppressed = 0
        self._next = float("-inf")

    def emit(self, level: LogLevel, format: str, **kwargs: Any) -> bool:
        """
        Write one event, unless one was written less than C{interval}
        seconds ago; then only count it.  The event written carries the
        field C{suppressed} (the events counted since the last one
        written), and its text says how many when there were any.

        @return: whether the event was written.
        """
        now = self.clock.seconds()
        if now < self._next:
            self.suppressed += 1
            return False
        self._next = now + self.interval
        suppressed, self.suppressed = self.suppressed, 0
        if suppressed:
            format += " ({suppressed} similar event(s) suppressed)"
        self.log.emit(level, format, suppressed=suppressed, **kwargs)
        return True
