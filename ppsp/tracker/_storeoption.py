# -*- test-case-name: ppsp.test.test_storeoption -*-
"""
The store that C{twistd ppsp-tracker --store} names: the memory store
(C{memory}, the default), or a Redis store
(L{ppsp.tracker.redisstore}) that several trackers share, and the service
that connects it when the tracker starts and closes its connection when
the tracker stops.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlsplit

from twisted.application.service import Service
from twisted.internet.endpoints import clientFromString
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.failure import Failure

from ppsp._options import ProbeReactor
from ppsp.tracker.redisstore import (
    DEFAULT_TIMEOUT,
    RedisPeerStore,
    connectRedisStore,
    parseRedisURL,
)

__all__ = ["MEMORY", "REDIS_SCHEMES", "StoreOption", "storeOption", "StoreService"]

#: The C{--store} value of the memory store.
MEMORY = "memory"

#: The URL schemes of the Redis store.
REDIS_SCHEMES = ("redis", "rediss", "redis+unix")

#: The modules the Redis store needs: the C{redis} extra of ppsp.
_EXTRA = ("txredisapi", "hiredis")


@dataclass(frozen=True)
class StoreOption:
    """
    The store the C{--store} options name, checked.

    @ivar url: the Redis URL, or L{None} for the memory store.
    @ivar prefix: the prefix of the Redis store's keys.
    @ivar shown: the store as the start-up settings show it: C{memory},
        or the URL with its password masked (C{***}).
    @ivar password: the password read from C{--store-password-file}, or
        L{None} (the URL's, if any); never shown, not even by C{repr}.
    """

    url: Optional[str] = field(repr=False)
    prefix: str
    shown: str
    password: Optional[str] = field(default=None, repr=False)

    @property
    def isRedis(self) -> bool:
        """
        Whether this is a Redis store (shared by every tracker of its
        server and prefix).
        """
        return self.url is not None

    def open(
        self, reactor: Any, retryWindow: float, timeout: float = DEFAULT_TIMEOUT
    ) -> Optional[RedisPeerStore]:
        """
        The Redis store, not connecting yet (L{StoreService} connects it
        when the tracker starts), or L{None} for the memory store.

        @param reactor: the reactor that connects.
        @param retryWindow: seconds a retry cache answer is kept.
        @param timeout: the longest wait of a call to Redis, in seconds
            (C{--store-timeout}).
        """
        if self.url is None:
            return None
        return connectRedisStore(
            reactor,
            self.url,
            prefix=self.prefix,
            retryWindow=retryWindow,
            password=self.password,
            connect=False,
            timeout=timeout,
        )


def _readPassword(path: str) -> str:
    """
    The password of a C{--store-password-file}: its first line, without
    the line's end.

    @raise usage.UsageError: the file cannot be read, or its first line is
        empty.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise usage.UsageError(f"--store-password-file: cannot read {path!r}: {e}") from None
    lines = text.splitlines()
    password = lines[0] if lines else ""
    if not password:
        raise usage.UsageError(
            f"--store-password-file: {path!r} holds no password (its first line is empty)"
        )
    return password


def _masked(display: str, username: Optional[str], password: bool) -> str:
    """
    The URL L{parseRedisURL} shows (C{display}, without user or password),
    with the user and a masked password put back.
    """
    if username is None and not password:
        return display
    scheme, _, rest = display.partition("://")
    login = (username or "") + (":***" if password else "")
    return f"{scheme}://{login}@{rest}"


def _withoutLogin(url: str) -> str:
    """
    C{url} with whatever comes before an C{@} after its scheme (a user and
    a password) masked, for an error message about a URL that may not be
    a Redis one.
    """
    scheme, separator, rest = url.partition("://")
    if not separator or "@" not in rest:
        return url
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def storeOption(url: str, prefix: str, passwordFile: Optional[str]) -> StoreOption:
    """
    Check the values of C{--store}, C{--store-prefix} and
    C{--store-password-file}, and read the password file.

    @param url: C{memory}, or a Redis URL (L{parseRedisURL}).
    @param prefix: the prefix of the Redis store's keys.
    @param passwordFile: the file whose first line is the password, or
        L{None}.
    @raise usage.UsageError: an unknown scheme, a Redis URL that cannot be
        read or whose TLS files cannot be, a Redis URL without the C{redis} extra installed, a password
        both in the URL and in a file, an unreadable or empty password
        file, or a password file with the memory store.
    """
    if url == MEMORY:
        if passwordFile is not None:
            raise usage.UsageError(
                "--store-password-file is the Redis store's password: give --store redis://..."
            )
        return StoreOption(None, prefix, MEMORY)
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        scheme = ""
    if scheme not in REDIS_SCHEMES:
        raise usage.UsageError(
            f"--store {_withoutLogin(url)!r}: give {MEMORY} or a Redis URL "
            "(redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://... for TLS, "
            "redis+unix:///PATH[?db=DB])"
        )
    try:
        address = parseRedisURL(url)
    except ValueError as e:
        raise usage.UsageError(f"--store: {e}") from None
    try:
        # The files a rediss:// URL names are read when its endpoint is
        # made: make it once now, so that a missing one is a usage error.
        clientFromString(ProbeReactor(), address.endpoint)
    except Exception as e:
        reason = getattr(e, "originalException", None) or e
        raise usage.UsageError(f"--store {address.display}: {reason}") from None
    for module in _EXTRA:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise usage.UsageError(
                f"--store {address.display}: the Redis store needs the redis extra of ppsp "
                f"(pip install 'ppsp[redis]'), which is not installed: {e}"
            ) from None
    password = None
    if passwordFile is not None:
        if address.password is not None:
            raise usage.UsageError(
                "--store-password-file: the --store URL holds a password already; give it "
                "in one place only"
            )
        password = _readPassword(passwordFile)
    shown = _masked(
        address.display, address.username, password is not None or address.password is not None
    )
    return StoreOption(url, prefix, shown, password)


class StoreService(Service):
    """
    Connects a Redis store when the tracker starts (after twistd has made
    its process a daemon), and closes its connection when the tracker
    stops: once the store's calls in flight have answered, or after
    C{timeout} seconds (the calls left then fail).

    @param store: the store, not connecting yet.
    @param clock: the clock of the timeout.
    @param timeout: the longest wait for the calls in flight.
    """

    log = Logger()

    def __init__(self, store: RedisPeerStore, clock: IReactorTime, timeout: float) -> None:
        self.store = store
        self.clock = clock
        self.timeout = timeout

    def watchReady(self, ready: "Deferred[None]", swarms: int) -> None:
        """
        Log a failure of the tracker's first writes (its L{ready
        <ppsp.tracker.core.Tracker.ready>}: the provisioned swarms, then the
        population) rather than leave it unhandled: the store did not
        answer at start.

        @param ready: the tracker's C{ready}.
        @param swarms: how many swarms the tracker provisions at start.
        """

        def failed(failure: Failure) -> None:
            if swarms:
                self.log.error(
                    "the {swarms} swarm(s) of --swarms could not be provisioned in the store "
                    "at start ({reason}); send SIGHUP once it answers to provision them",
                    swarms=swarms,
                    reason=failure.getErrorMessage(),
                )

        ready.addErrback(failed)

    def startService(self) -> None:
        """
        Start connecting (and connecting again whenever the connection is
        lost).
        """
        super().startService()
        self.store.client.start()

    def stopService(self) -> "Deferred[None]":
        """
        Close the connection once the calls in flight have answered, or
        after C{timeout} seconds.

        @return: a L{Deferred} that fires once the connection is closed.
        """
        super().stopService()
        idle = self.store.whenIdle()
        idle.addTimeout(self.timeout, self.clock)

        def late(failure: Failure) -> None:
            self.log.warn(
                "the store's calls in flight did not end within {timeout} s; closing the "
                "connection to {redis}",
                timeout=self.timeout,
                redis=self.store.client.address.display,
            )

        idle.addErrback(late)
        return idle.addCallback(lambda _: self.store.client.stop())
