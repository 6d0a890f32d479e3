# -*- test-case-name: ppsp.test.test_reload -*-
"""
Files the tracker reads again without a restart, on SIGHUP.

L{ReloadService} owns the signal: while it runs, SIGHUP calls each of its
reloaders in the reactor thread, one after the other; a reloader that
fails is logged and the others still run.  A reloader keeps the old
settings when the new file is bad (L{RevocationFile} does), so that a
typo never opens a closed tracker.
"""

from __future__ import annotations

import signal
from typing import Any, Callable, List, Optional, Sequence

from twisted.application.service import Service
from twisted.logger import Logger

from ppsp.tracker.auth import Revocations
from ppsp.tracker.core import Tracker

__all__ = ["ReloadService", "RevocationFile"]


class RevocationFile:
    """
    The operator's revocation file (C{--revocations FILE}, see
    L{Revocations}), applied to a tracker.  What was revoked otherwise
    (through the admin interface, or L{Tracker.revoke}) stays revoked when
    the file is read again; what the file no longer lists is lifted.

    @param tracker: the tracker whose revocations it sets.
    @param path: the file.
    @param applied: what the tracker already holds from the file (read
        at start).
    """

    log = Logger()

    def __init__(self, tracker: Tracker, path: str, applied: Optional[Revocations] = None) -> None:
        self.tracker = tracker
        self.path = path
        #: What the file said when it was last applied.
        self.applied = applied if applied is not None else Revocations()

    def reload(self) -> bool:
        """
        Read the file again and apply it, effective at once (sessions of
        what it revokes end now; what it no longer lists may CONNECT
        again).  A file that cannot be read, or that holds a bad line,
        changes nothing and is logged as an error.

        @return: whether the file was applied.
        """
        try:
            revocations = Revocations.fromFile(self.path)
        except (OSError, ValueError) as e:
            self.log.error(
                "revocation file {path} not applied, the previous revocations stay: {reason}",
                path=self.path,
                reason=str(e),
            )
            return False
        others = self.tracker.revocations - self.applied
        ended = self.tracker.setRevocations(revocations | others)
        self.applied = revocations
        self.log.info(
            "revocation file {path} applied: {peerIDs} PeerID(s), {credentials} credential(s) "
            "revoked, {ended} session(s) ended",
            path=self.path,
            peerIDs=len(revocations.peerIDs),
            credentials=len(revocations.fingerprints),
            ended=ended,
        )
        return True


class ReloadService(Service):
    """
    Call reloaders on SIGHUP, in the reactor thread.

    @param reactor: the reactor to run the reloaders in
        (L{IReactorThreads<twisted.internet.interfaces.IReactorFromThreads>}:
        a signal handler may interrupt anything, so the work is handed to
        the reactor with C{callFromThread}).
    @param reloaders: what to call, in order.
    @param signum: the signal; SIGHUP.
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        reloaders: Sequence[Callable[[], Any]] = (),
        signum: int = signal.SIGHUP,
    ) -> None:
        self.reactor = reactor
        self.reloaders: List[Callable[[], Any]] = list(reloaders)
        self.signum = signum
        self._previous: Optional[Any] = None

    def startService(self) -> None:
        """
        Take the signal.
        """
        super().startService()
        self._previous = signal.signal(self.signum, self._signalled)

    def stopService(self) -> Any:
        """
        Give the signal back to its previous handler.
        """
        if self._previous is not None:
            signal.signal(self.signum, self._previous)
            self._previous = None
        return super().stopService()

    def _signalled(self, signum: int, frame: Any) -> None:
        self.reactor.callFromThread(self.reload)

    def reload(self) -> None:
        """
        Call every reloader now; log, and go on past, one that fails.
        """
        self.log.info("reloading ({count} file(s))", count=len(self.reloaders))
        for reloader in self.reloaders:
            try:
                reloader()
            except Exception:
                self.log.failure("a reload failed")
