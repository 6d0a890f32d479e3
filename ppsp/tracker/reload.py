# -*- test-case-name: ppsp.test.test_reload -*-
"""
Files the tracker reads again without a restart, on SIGHUP (and on the
admin API's C{POST /reload}).

L{ReloadService} owns the signal: while it runs, SIGHUP calls each of its
reloaders in the reactor thread, one after the other (each returns a
L{Deferred} firing with whether it applied its file; the next starts
once it has fired); a reloader that fails is logged and the others still
run.  A reloader keeps the old settings when the new file is bad (every
one here does), so that a typo never opens a closed tracker.  The reloaders: L{RevocationFile},
L{BanFile}, L{SwarmsFile} (the provisioned swarms and their strategies),
L{SecretFile} (the C{token} scheme's secret) and L{ListenerCertificate}
(the certificate, key and CAs of an C{ssl:} or C{mtls:} listener).
"""

from __future__ import annotations

import signal
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredLock, succeed
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.internet.protocol import Factory
from twisted.internet.testing import MemoryReactor
from twisted.logger import Logger
from zope.interface import implementer

from ppsp.interfaces import IPeerSelector

from ppsp.tracker.credentials import Revocations
from ppsp.tracker.bans import Bans, readBanFile
from ppsp.tracker.core import Tracker
from ppsp.tracker.listening import listeningEndpoint

__all__ = [
    "ReloadService",
    "RevocationFile",
    "BanFile",
    "SwarmsFile",
    "SecretFile",
    "ListenerCertificate",
]


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

    def reload(self) -> "Deferred[bool]":
        """
        Read the file again and apply it, effective at once (sessions of
        what it revokes end now; what it no longer lists may CONNECT
        again).  A file that cannot be read, or that holds a bad line,
        changes nothing and is logged as an error.

        @return: a L{Deferred} firing with whether the file was applied,
            once the sessions it revokes have ended.
        """
        return Deferred.fromCoroutine(self._reload())

    async def _reload(self) -> bool:
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
        self.applied = revocations
        ended = await self.tracker.setRevocations(revocations | others)
        self.log.info(
            "revocation file {path} applied: {peerIDs} PeerID(s), {credentials} credential(s) "
            "revoked, {ended} session(s) ended",
            path=self.path,
            peerIDs=len(revocations.peerIDs),
            credentials=len(revocations.fingerprints),
            ended=ended,
        )
        return True


class BanFile:
    """
    The operator's ban-list file (C{--bans FILE}, see
    L{ppsp.tracker.bans}), applied to a tracker's L{Bans}: reading it
    again replaces the bans it gave; bans made through the admin API stay.

    @param bans: the bans it sets.
    @param path: the file.
    """

    log = Logger()

    def __init__(self, bans: Bans, path: str) -> None:
        self.bans = bans
        self.path = path

    def reload(self) -> "Deferred[bool]":
        """
        Read the file again and apply it at once.  A file that cannot be
        read, or that holds a bad line, changes nothing and is logged as an
        error.

        @return: a L{Deferred} that has fired with whether the file was
            applied.
        """
        return succeed(self._apply())

    def _apply(self) -> bool:
        try:
            entries = readBanFile(self.path)
        except (OSError, ValueError) as e:
            self.log.error(
                "ban file {path} not applied, the previous bans stay: {reason}",
                path=self.path,
                reason=str(e),
            )
            return False
        self.bans.replace(entries)
        self.log.info(
            "ban file {path} applied: {count} ban(s)", path=self.path, count=len(entries)
        )
        return True


class SwarmsFile:
    """
    The operator's swarms file (C{--swarms FILE}: the provisioned swarms
    and their strategies), applied to a tracker.  Reading it again
    provisions the SwarmIDs it now lists (L{Tracker.provisionSwarm}),
    removes those it no longer lists (L{Tracker.removeSwarm}: their
    members leave them, their sessions go on) and sets each listed swarm's
    strategy (a swarm without C{selector=} gets the tracker's).  Swarms
    provisioned through the admin API and not in the file are left alone.

    @param tracker: the tracker whose swarms it sets.
    @param path: the file.
    @param read: what reads the file: a mapping of SwarmID to its
        strategy, or L{None} for the tracker's; raises (L{ValueError},
        L{OSError}, a usage error) when the file is bad.
    @param applied: the SwarmIDs the tracker already holds from the file
        (read at start).
    """

    log = Logger()

    def __init__(
        self,
        tracker: Tracker,
        path: str,
        read: Callable[[str], Mapping[str, Optional[IPeerSelector]]],
        applied: Sequence[str] = (),
    ) -> None:
        self.tracker = tracker
        self.path = path
        self.what = f"swarms file {path}"
        self._read = read
        #: The SwarmIDs the file listed when it was last applied.
        self.applied = set(applied)

    def reload(self) -> "Deferred[bool]":
        """
        Read the file again and apply it at once; a file that cannot be
        read or holds a bad line changes nothing and is logged as an error.

        @return: a L{Deferred} firing with whether the file was applied,
            once its swarms are provisioned and removed.
        """
        return Deferred.fromCoroutine(self._reload())

    async def _reload(self) -> bool:
        try:
            swarms = dict(self._read(self.path))
        except Exception as e:
            self.log.error(
                "swarms file {path} not applied, the previous swarms stay: {reason}",
                path=self.path,
                reason=str(e),
            )
            return False
        tracker = self.tracker
        added = 0
        for swarmID in swarms:
            if await tracker.provisionSwarm(swarmID):
                added += 1
        removed = 0
        for swarmID in sorted(self.applied - set(swarms)):
            await tracker.removeSwarm(swarmID)
            tracker.swarmSelectors.pop(swarmID, None)
            removed += 1
        for swarmID, selector in swarms.items():
            if selector is None:
                tracker.swarmSelectors.pop(swarmID, None)
            else:
                tracker.swarmSelectors[swarmID] = selector
        self.applied = set(swarms)
        self.log.info(
            "swarms file {path} applied: {count} swarm(s), {added} added, {removed} removed",
            path=self.path,
            count=len(swarms),
            added=added,
            removed=removed,
        )
        return True


class SecretFile:
    """
    The secret file of the C{token} scheme (C{--auth token:FILE}), applied
    to its checker: reading it again replaces the secret, so that only
    credentials issued with the new one CONNECT from then on (sessions
    already open go on).

    @param checker: a L{TokenPeerChecker<ppsp.tracker.credentials.TokenPeerChecker>}
        (anything with C{setSecret}).
    @param path: the file.
    @param read: what reads it (L{readSecret<ppsp.tracker.credentials.readSecret>}).
    """

    log = Logger()

    def __init__(self, checker: Any, path: str, read: Callable[[str], bytes]) -> None:
        self.checker = checker
        self.path = path
        self.what = f"secret file {path}"
        self._read = read

    def reload(self) -> "Deferred[bool]":
        """
        Read the secret again and use it; a file that cannot be read or
        holds too short a secret changes nothing and is logged as an error.

        @return: a L{Deferred} that has fired with whether the secret was
            replaced.
        """
        return succeed(self._apply())

    def _apply(self) -> bool:
        try:
            self.checker.setSecret(self._read(self.path))
        except (OSError, ValueError) as e:
            self.log.error(
                "secret file {path} not applied, the previous secret stays: {reason}",
                path=self.path,
                reason=str(e),
            )
            return False
        self.log.info("secret file {path} applied", path=self.path)
        return True


def tlsCreatorOf(description: str, trustedProxies: Sequence[Any] = ()) -> Optional[Any]:
    """
    The TLS settings (the connection creator, a
    L{CertificateOptions<twisted.internet.ssl.CertificateOptions>}) an
    endpoint description gives its listener, read from its files now, or
    L{None} when the listener is not TLS (C{tcp:}, C{unix:}, ...).  The
    description is built and made to listen on a L{MemoryReactor}, which
    records what it would hand to C{listenSSL}.

    @raise Exception: the description does not parse or names a file that
        cannot be used (what the endpoint parser raises).
    """
    if description.partition(":")[0].strip().lower() in ("systemd", "haproxy") and "systemd:" in description:
        # A socket inherited from systemd is not TLS, and listening on it,
        # even on a MemoryReactor, closes the inherited descriptor.
        return None
    recorder = MemoryReactor()
    listeningEndpoint(recorder, description, trustedProxies).listen(Factory())
    if not recorder.sslServers:
        return None
    return recorder.sslServers[-1][2]


@implementer(IOpenSSLServerConnectionCreator)
class ListenerCertificate:
    """
    The TLS settings of an C{ssl:} or C{mtls:} listener (the certificate,
    key, chain and CAs its description names), read again by L{reload}:
    connections accepted from then on get the new ones; open connections
    keep theirs.  The listener is built on L{listeningReactor}, which hands
    this object to C{listenSSL} in place of the settings the description
    gave, so that each new connection asks it for the current settings.

    @param description: the listener's endpoint description.
    @param trustedProxies: as for L{listeningEndpoint}.
    @param current: the settings in use; read from the description when
        L{None}.
    """

    log = Logger()

    def __init__(
        self, description: str, trustedProxies: Sequence[Any] = (), current: Optional[Any] = None
    ) -> None:
        self.description = description
        self.what = f"TLS files of {description}"
        self._trusted = list(trustedProxies)
        self.current: Any = current if current is not None else tlsCreatorOf(description, self._trusted)

    def serverConnectionForTLS(self, protocol: Any) -> Any:
        """
        A TLS connection with the current settings.
        """
        return self.current.serverConnectionForTLS(protocol)

    def listeningReactor(self, reactor: Any) -> Any:
        """
        C{reactor}, except that its C{listenSSL} serves this object's
        current settings.
        """
        return _ReloadableTLSReactor(reactor, self)

    def reload(self) -> "Deferred[bool]":
        """
        Read the files again; use them for new connections when they make
        a working TLS context (the key matches the certificate, the CAs
        load).  Otherwise nothing changes and the reason is logged as an
        error.

        @return: a L{Deferred} that has fired with whether the new files
            are in use.
        """
        return succeed(self._apply())

    def _apply(self) -> bool:
        try:
            creator = tlsCreatorOf(self.description, self._trusted)
            if creator is None:
                raise ValueError("the description is not a TLS listener's")
            # Build the context now: a key that does not match the
            # certificate fails here, not at the next handshake.
            creator.getContext()
        except Exception as e:
            self.log.error(
                "TLS files of {description} not applied, the previous certificate stays: "
                "{reason}",
                description=self.description,
                reason=str(e) or repr(e),
            )
            return False
        self.current = creator
        self.log.info("TLS files of {description} applied", description=self.description)
        return True


class _ReloadableTLSReactor:
    """
    A reactor whose C{listenSSL} serves a L{ListenerCertificate}; every
    other attribute is the wrapped reactor's.
    """

    def __init__(self, reactor: Any, certificate: ListenerCertificate) -> None:
        self._reactor = reactor
        self._certificate = certificate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reactor, name)

    def listenSSL(
        self, port: int, factory: Any, contextFactory: Any, backlog: int = 50, interface: str = ""
    ) -> Any:
        """
        Listen with the certificate's settings (which start as those the
        endpoint read).
        """
        self._certificate.current = contextFactory
        return self._reactor.listenSSL(port, factory, self._certificate, backlog, interface)


def describeReloader(reloader: Callable[[], Any]) -> str:
    """
    What a reloader reads again: its object's C{what} (or C{path}), else
    its name.
    """
    owner = getattr(reloader, "__self__", None)
    what = getattr(owner, "what", None) or getattr(owner, "path", None)
    if isinstance(what, str):
        return what
    return getattr(reloader, "__qualname__", repr(reloader))


class ReloadService(Service):
    """
    Call reloaders on SIGHUP, in the reactor thread.

    @param reactor: the reactor to run the reloaders in
        (L{IReactorThreads<twisted.internet.interfaces.IReactorFromThreads>}:
        a signal handler may interrupt anything, so the work is handed to
        the reactor with C{callFromThread}).
    @param reloaders: what to call, in order: each takes no argument and
        returns a L{Deferred} firing with whether it applied its file.
    @param signum: the signal; SIGHUP.
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        reloaders: Sequence[Callable[[], "Deferred[bool]"]] = (),
        signum: int = signal.SIGHUP,
    ) -> None:
        self.reactor = reactor
        self.reloaders: List[Callable[[], "Deferred[bool]"]] = list(reloaders)
        self.signum = signum
        self._previous: Optional[Any] = None
        self._lock = DeferredLock()

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

    def reload(self) -> "Deferred[List[Dict[str, Any]]]":
        """
        Call every reloader now, one after the other (after a reload still
        in progress); log, and go on past, one that fails.

        @return: a L{Deferred} firing with, for each reloader, in order,
            what it reads again (C{"what"}, L{describeReloader}) and
            whether it applied it (C{"applied"}: false when the new file
            was refused or the reloader failed); it never fails.
        """
        return self._lock.run(lambda: Deferred.fromCoroutine(self._reload()))

    async def _reload(self) -> List[Dict[str, Any]]:
        self.log.info("reloading ({count} file(s))", count=len(self.reloaders))
        results: List[Dict[str, Any]] = []
        for reloader in self.reloaders:
            try:
                applied = await reloader()
            except Exception:
                self.log.failure("a reload failed")
                applied = False
            results.append({"what": describeReloader(reloader), "applied": applied})
        return results
