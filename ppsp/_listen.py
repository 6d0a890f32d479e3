# -*- test-case-name: ppsp.test.test_usage -*-
"""
Listeners that cannot start end the process with one line.

A port in use, or an address the host does not have, is known only when
the service starts.  L{ListenerService} turns that failure into
L{CannotListen}, whose message names the option, the endpoint and the
reason; under C{twistd} and C{twist}, L{installOneLineErrors} (which the
plugins' options call) has such an error printed as that one line on
standard error instead of a traceback, and the process exits with status
1 (twistd removes its PID file first, and a daemonising twistd passes the
message to the parent that waits for the start).
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, Callable, Optional, Type

from twisted.application.internet import StreamServerEndpointService
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IProtocolFactory, IStreamServerEndpoint
from twisted.logger import Logger

__all__ = ["CannotListen", "ListenerService", "installOneLineErrors", "listenFailure"]


class CannotListen(Exception):
    """
    A listener given on the command line could not start.

    @ivar option: the option that gave it (C{--listen}).
    @ivar description: its endpoint description.
    @ivar reason: why, in a few words (C{Address already in use}).
    """

    def __init__(self, option: str, description: str, reason: str) -> None:
        super().__init__(option, description, reason)
        self.option = option
        self.description = description
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot listen on {self.option} {self.description}: {self.reason}"


def _reason(error: BaseException) -> str:
    """
    The few words that say why a listener failed: the system's message for
    a socket error, not Twisted's sentence around it.
    """
    if isinstance(error, CannotListenError):
        socketError = error.socketError
        if isinstance(socketError, OSError) and socketError.strerror:
            return socketError.strerror
        return str(socketError)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def listenFailure(option: str, description: str, error: BaseException) -> CannotListen:
    """
    The L{CannotListen} for a listener that failed with C{error}.
    """
    return CannotListen(option, description, _reason(error))


class ListenerService(StreamServerEndpointService):
    """
    A L{StreamServerEndpointService} that fails at start when its endpoint
    cannot listen (as C{strports.service} does), with L{CannotListen}.

    @param option: the command-line option that names the endpoint.
    @param description: its endpoint description.
    """

    log = Logger()

    def __init__(
        self,
        endpoint: IStreamServerEndpoint,
        factory: IProtocolFactory,
        option: str,
        description: str,
    ) -> None:
        super().__init__(endpoint, factory)
        self.option = option
        self.description = description
        self._raiseSynchronously = True

    def privilegedStartService(self) -> None:
        """
        Listen now; a failure raises L{CannotListen}, and is logged as an error.
        """
        try:
            super().privilegedStartService()
        except Exception as e:
            error = listenFailure(self.option, self.description, e)
            # An error, not a critical event: before twist starts its log,
            # Twisted writes critical events to standard error, where the
            # runner writes the line already.
            self.log.error(
                "{message}",
                message=str(error),
                option=self.option,
                endpoint=self.description,
                reason=error.reason,
            )
            raise error from None


_Hook = Callable[[Type[BaseException], BaseException, Optional[TracebackType]], Any]


def installOneLineErrors() -> None:
    """
    Have an uncaught L{CannotListen} print its one line on the process's
    standard error (the real one: twistd sends C{sys.stderr} to its log),
    instead of a traceback; other exceptions go to the previous hook.
    Installing twice is harmless.
    """
    previous: _Hook = sys.excepthook
    if getattr(previous, "_ppspOneLine", False):
        return

    def hook(
        kind: Type[BaseException], value: BaseException, traceback: Optional[TracebackType]
    ) -> Any:
        if isinstance(value, CannotListen):
            stream = sys.__stderr__ or sys.stderr
            stream.write(f"{value}\n")
            stream.flush()
            return None
        return previous(kind, value, traceback)

    setattr(hook, "_ppspOneLine", True)
    sys.excepthook = hook
