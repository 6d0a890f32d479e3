# -*- test-case-name: ppsp.test.test_deploy -*-
"""
A graceful stop: when the service stops (twistd and twist stop it on
SIGTERM), the tracker stops accepting connections, answers the requests
in flight within a bounded drain time, closes what is left, runs its stop
callbacks (where the state file is written, with C{--state}), and only
then stops the
rest (its timers, the admin interface).

While it drains, L{Tracker.draining<ppsp.tracker.core.Tracker.draining>}
is true, so that the health check answers 503 and a load balancer sends
nothing new.
"""

from __future__ import annotations

import signal
from typing import Any, Callable, List, Optional, Tuple

from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, DeferredList, gatherResults, inlineCallbacks, maybeDeferred
from twisted.logger import Logger

from ppsp.tracker.core import Tracker
from ppsp.tracker.resource import TrackerSite

__all__ = ["GracefulStop", "StopOnSIGTERM", "DEFAULT_DRAIN_TIMEOUT"]

#: Seconds a graceful stop waits for the requests in flight by default.
DEFAULT_DRAIN_TIMEOUT = 10.0


class StopOnSIGTERM:
    """
    SIGTERM as a graceful stop that ends with status 0: once taken, the
    signal stops the reactor (so that the services stop, gracefully),
    without the signal being raised again after the stop, as twistd and
    twist otherwise do to end the process by the same signal.

    @param reactor: the reactor to stop
        (L{twisted.internet.interfaces.IReactorCore} and
        L{twisted.internet.interfaces.IReactorFromThreads}).
    """

    log = Logger()

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._wanted = False
        self._previous: Optional[Any] = None

    def take(self) -> None:
        """
        Handle SIGTERM here once the reactor runs (after the reactor's own
        handlers are installed), unless L{giveBack} was called meanwhile.
        """
        self._wanted = True
        self._reactor.callWhenRunning(self._take)

    def _take(self) -> None:
        if self._wanted and self._previous is None:
            self._previous = signal.signal(signal.SIGTERM, self._terminated)

    def _terminated(self, signum: int, frame: Any) -> None:
        self._reactor.callFromThread(self._stop)

    def _stop(self) -> None:
        self.log.info("received SIGTERM: stopping gracefully")
        self._reactor.stop()

    def giveBack(self) -> None:
        """
        Give SIGTERM back to the handler it had before L{take}.
        """
        self._wanted = False
        previous, self._previous = self._previous, None
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class GracefulStop(MultiService):
    """
    A L{MultiService} that stops gracefully.  Its listeners (added with
    L{addListener}) are stopped first; then, for at most C{drainTimeout}
    seconds, their sites answer the requests open on their connections
    and close each connection once it is idle (L{TrackerSite.drain}); the
    connections still open then are aborted; then every callable of
    L{stopCallbacks} runs, in order (a L{Deferred} it returns is waited
    for; one that fails is logged and the others still run); and only
    then are the other children stopped, in reverse order as usual (so
    that the admin interface answers the health check during the drain).

    @param clock: the reactor
        (L{twisted.internet.interfaces.IReactorTime}, and
        L{twisted.internet.interfaces.IReactorCore} for C{takeSIGTERM}).
    @param tracker: the tracker whose C{draining} flag is set during the
        stop, or L{None}.
    @param drainTimeout: the longest wait for the requests in flight, in
        seconds; 0 aborts the connections at once.
    @param takeSIGTERM: once the reactor runs, handle SIGTERM here
        (L{StopOnSIGTERM}): stop the reactor without the signal being
        raised again after the stop, so that twistd and twist exit with
        status 0 after a graceful stop (they would otherwise end the
        process by the same signal).
    """

    log = Logger()

    def __init__(
        self,
        clock: Any,
        tracker: Optional[Tracker] = None,
        drainTimeout: float = DEFAULT_DRAIN_TIMEOUT,
        takeSIGTERM: bool = False,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.tracker = tracker
        self.drainTimeout = drainTimeout
        self.takeSIGTERM = takeSIGTERM
        #: What runs after the drain, before the other children stop: the
        #: hook for writing the state (C{--state} registers
        #: L{StateService.saveAtStop<ppsp.tracker.state.StateService.saveAtStop>}).
        #: Each takes no argument and may return a L{Deferred}.
        self.stopCallbacks: List[Callable[[], Any]] = []
        #: The listening services and their sites, in the order added.
        self.listeners: List[Tuple[IService, TrackerSite]] = []
        self._sigterm = StopOnSIGTERM(clock)

    def addListener(self, listener: IService, site: TrackerSite) -> None:
        """
        Add a listening service (which becomes a child of this one) and
        the site it serves, to be stopped and drained first.
        """
        listener.setServiceParent(self)
        self.listeners.append((listener, site))

    def startService(self) -> None:
        """
        Start every child; with C{takeSIGTERM}, take SIGTERM once the
        reactor runs (after the reactor's own handlers are installed).
        """
        super().startService()
        if self.takeSIGTERM:
            self._sigterm.take()

    def stopService(self) -> "Deferred[None]":
        """
        Stop gracefully (see the class docstring).

        @return: a L{Deferred} that fires once everything has stopped.
        """
        return self._stop()

    @inlineCallbacks
    def _stop(self) -> Any:
        self._sigterm.giveBack()
        if self.tracker is not None:
            self.tracker.draining = True
        listeners = [listener for listener, _ in self.listeners if listener.running]
        yield gatherResults([maybeDeferred(listener.stopService) for listener in listeners])
        sites = [site for _, site in self.listeners]
        open = sum(len(site.channels) for site in sites)
        self.log.info(
            "draining: stopped listening; waiting up to {timeout} s for {open} connection(s)",
            timeout=self.drainTimeout,
            open=open,
        )
        drained: Deferred[Any] = gatherResults([site.drain() for site in sites], consumeErrors=True)
        if self.drainTimeout > 0:
            drained.addTimeout(self.drainTimeout, self.clock)
        else:
            drained.cancel()
        try:
            yield drained
            aborted = 0
        except Exception:
            aborted = sum(site.abortConnections() for site in sites)
        self.log.info(
            "drained: {aborted} connection(s) closed unanswered", aborted=aborted
        )
        for callback in self.stopCallbacks:
            try:
                yield maybeDeferred(callback)
            except Exception:
                self.log.failure("a stop callback failed")
        # As MultiService does, but the listeners have stopped already.
        Service.stopService(self)
        others = [service for service in reversed(list(self)) if service.running]
        yield DeferredList([maybeDeferred(service.stopService) for service in others])
