# -*- test-case-name: ppsp.test.test_tap -*-
"""
The tracker as a Twisted service: the timers of the protocol, and (for
twistd) the listening endpoint.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable, Optional

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort, IReactorTime, IStreamServerEndpoint
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ppsp._net import hostPort
from ppsp.tracker.core import Tracker

__all__ = ["TrackerService", "AnnouncingEndpoint"]


class TrackerService(Service):
    """
    Runs a L{Tracker}'s timers: every C{interval} seconds it calls
    L{Tracker.expire}, which expires silent peers, ends memberships,
    forgets empty swarms, prunes the retry cache and refreshes the
    tracker's L{population<Tracker.population>}; every
    C{tracker.metrics.interval} seconds it closes a sample of the metrics'
    history (L{TrackerMetrics.sample
    <ppsp.tracker.metrics.TrackerMetrics.sample>}).

    A sweep waits for the store, and sweeps never overlap: one still
    running when the next is due makes the loop skip to the following
    tick.  A sweep that fails is logged, and the next one runs as usual.

    Add it to your application beside the site that serves the
    L{TrackerResource<ppsp.tracker.resource.TrackerResource>}.

    @param tracker: the tracker.
    @param clock: the clock that drives the sweep; the tracker's by default.
    @param interval: seconds between sweeps.
    """

    log = Logger()

    def __init__(
        self, tracker: Tracker, clock: Optional[IReactorTime] = None, interval: float = 1.0
    ) -> None:
        self.tracker = tracker
        self.interval = interval
        self._loop = LoopingCall(self._sweep)
        self._loop.clock = clock if clock is not None else tracker.clock
        self._sampling = LoopingCall(tracker.metrics.sample)
        self._sampling.clock = self._loop.clock

    def startService(self) -> None:
        """
        Start sweeping.
        """
        super().startService()
        self._loop.start(self.interval, now=False)
        self._sampling.start(self.tracker.metrics.interval, now=False)

    def _sweep(self) -> "Deferred[None]":
        """
        One sweep (L{Tracker.expire}); a failure is logged, never handed to
        the loop, which would stop.
        """
        return self.tracker.expire().addErrback(self._failed)

    def _failed(self, failure: Failure) -> None:
        self.log.failure("expiry sweep failed; the next one runs as usual", failure)

    def stopService(self) -> Optional[Deferred[None]]:
        """
        Stop sweeping.
        """
        for loop in (self._loop, self._sampling):
            if loop.running:
                loop.stop()
        return super().stopService()  # type: ignore[no-any-return]


@implementer(IStreamServerEndpoint)
class AnnouncingEndpoint:
    """
    An endpoint that logs, once it listens, the address it listens on (the
    real port when the description said port 0) and the tracker's settings.

    @param endpoint: the endpoint to listen with.
    @param description: its description, as the operator wrote it.
    @param settings: the settings to log.
    @param logFormat: the log line's format; it may use C{{address}},
        C{{endpoint}} and C{{settingsText}}.
    @param warnUnlessLoopback: also log a warning when the address is an
        IP address that is not a loopback one (for an interface without
        authentication).
    @param onListening: called with the listening address (the port's
        C{getHost()}) once it listens, for example to learn the real port
        of a C{tcp:0} description.
    """

    log = Logger()

    #: The line the tracker's own listener logs.
    TRACKER_FORMAT = "PPSP tracker listening on {address} ({endpoint}); settings: {settingsText}"

    def __init__(
        self,
        endpoint: IStreamServerEndpoint,
        description: str,
        settings: dict[str, Any],
        logFormat: str = TRACKER_FORMAT,
        warnUnlessLoopback: bool = False,
        onListening: Optional[Callable[[Any], object]] = None,
    ) -> None:
        self._endpoint = endpoint
        self._onListening = onListening
        self._description = description
        self._settings = settings
        self._logFormat = logFormat
        self._warnUnlessLoopback = warnUnlessLoopback

    def listen(self, protocolFactory: Any) -> "Deferred[IListeningPort]":
        """
        Listen, then log where.
        """
        d: Deferred[IListeningPort] = self._endpoint.listen(protocolFactory)

        def announce(port: IListeningPort) -> IListeningPort:
            host = port.getHost()
            if self._onListening is not None:
                self._onListening(host)
            self.log.info(
                self._logFormat,
                address=_formatAddress(host),
                port=getattr(host, "port", None),
                endpoint=self._description,
                settings=self._settings,
                settingsText=", ".join(f"{k}={v}" for k, v in self._settings.items()),
            )
            if self._warnUnlessLoopback and not _isLoopback(host):
                self.log.warn(
                    "{address} ({endpoint}) is not a loopback address, and this interface "
                    "has no authentication: bind it with interface=127.0.0.1",
                    address=_formatAddress(host),
                    endpoint=self._description,
                )
            return port

        return d.addCallback(announce)


def _isLoopback(address: Any) -> bool:
    """
    Whether a listening address is reachable from this host only: a
    loopback IP address, or not an IP address at all (a UNIX socket).
    """
    host = getattr(address, "host", None)
    if host is None:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _formatAddress(address: Any) -> str:
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None:
        return str(getattr(address, "name", address))
    return hostPort(host, port)
