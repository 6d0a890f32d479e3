# -*- test-case-name: ppsp.test.test_redisstore -*-
"""
A peer store in Redis (or Valkey), shared by several trackers that then
act as one logical tracker: L{RedisPeerStore}, made from a URL by
L{connectRedisStore}.

Each store method is one round trip: one Lua script
(L{ppsp.tracker._redisscripts}), loaded once with C{SCRIPT LOAD} when the
connection is made and called with C{EVALSHA} (loaded again when the
server answers C{NOSCRIPT}), which Redis applies atomically.  The layout
of the keys, what each holds and the round trips of each protocol request
are in C{docs/redis.rst}.

The store also keeps the tracker's retry cache (L{IRetryCache}), so that
a request repeated to another tracker of the same logical tracker gets
the first answer: each answer is one key with a native TTL of the retry
window.

The client is txredisapi's protocol over hiredis (the C{redis} extra of
ppsp installs both), on a connection that L{RedisClient} makes from a
Twisted endpoint and makes again, with backoff, when it is lost.  Every
call is bounded in time: while the server is unreachable or too slow,
calls fail with L{StoreUnavailable}, which the tracker answers with
TEMPORARILY OVERLOADED.  Nothing here imports the global reactor: the
reactor and the clock are given.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import pickle
import random as _random
import secrets
from typing import (
    TYPE_CHECKING,
    Any,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)
from urllib.parse import parse_qs, unquote, urlsplit

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet.defer import Deferred, TimeoutError, fail, succeed
from twisted.internet.endpoints import clientFromString, quoteStringArgument
from twisted.internet.interfaces import (
    IProtocol,
    IProtocolFactory,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ppsp import messages
from ppsp.interfaces import (
    IPeerStore,
    IPollLease,
    IRetryCache,
    IStoreCosts,
    ISwarmView,
    StoreUnavailable,
)
from ppsp.messages import AddressType, ChunkRange, PeerAddress, PeerMode, Request, Response
from ppsp.tracker._redisscripts import SOURCES, Script, script
from ppsp.tracker.addresses import addressKey
from ppsp.tracker.credentials import SessionIdentity
from ppsp.selection.locality import Networks
from ppsp.tracker.retry import stableFingerprint
from ppsp.tracker.snapshot import SnapshotSwarmView
from ppsp.tracker.values import (
    Expired,
    MemberState,
    PeerState,
    Session,
    StatsUpdate,
    StatValue,
    SwarmMember,
    SwarmState,
)

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress

__all__ = [
    "RedisPeerStore",
    "RedisCosts",
    "RedisClient",
    "RedisAddress",
    "parseRedisURL",
    "connectRedisStore",
]

T = TypeVar("T")

#: The prefix of every key, unless another is given.
DEFAULT_PREFIX = "ppsp:"

#: The longest wait of a call, in seconds, unless another is given.
DEFAULT_TIMEOUT = 1.0

#: The longest delay between two attempts to connect, jitter included, and
#: the jitter (seconds).
_MAX_DELAY = 5.0
_JITTER = 0.1

#: The starts of the errors with which a server says that it cannot serve
#: now, having changed nothing: it loads its data set, runs a long
#: script, is a replica cut off from its master, or a replica.
_NOT_NOW = ("LOADING", "BUSY", "MASTERDOWN", "READONLY")

# The cost model (RedisCosts): what each piece of state makes Redis hold, in
# bytes.  The session and membership costs follow Redis 7.0's used_memory
# over 10,000 peers of one swarm (each from its own IPv4 address, with a
# 40-character PeerID and one announced address): about 1,300 bytes a
# session, 515 a membership.  The chunk and statistics costs are estimates
# from the bytes they add to the keys.  The store charges exactly what the
# model predicts: the Python side computes the costs of sessions,
# memberships and chunk sets and hands them to the scripts, which keep
# them; the scripts compute the cost of statistics from the stored values
# they replace, with the same constants (formatted into them).

#: A session: its hash (with its JSON for views), its entry in the
#: deadlines, its swarm set, its address account.  Its PeerID (kept twice)
#: and observed IP are added by length.
_COST_RECORD = 1152
#: One announced address, besides its IP's length (kept twice).
_COST_ADDRESS = 64
#: A membership: its record in the swarm's membership hash, its entries in
#: the member set, the peer's swarm set and the mode and expiry indexes,
#: the swarm's keys when the JOIN creates it.  The SwarmID is added twice
#: (the swarm's keys and the peer's swarm set).
_COST_MEMBER = 512
#: A chunk set: its text in the record, then per range its text, per
#: chunk-index bucket the entry of the PeerID in the bucket's set.
_COST_CHUNKS = 32
_COST_RANGE = 34
_COST_INDEX_KEY = 96
#: Kept statistics: the first one of a target, then each, besides the
#: lengths of its name and stored value.
_COST_STATS = 64
_COST_STAT = 32

#: The levels of the chunk index (bits shifted away): a range is filed at
#: the first level where it spans at most _BUCKETS_PER_RANGE buckets.
_LEVELS = tuple(range(0, 65, 4))
_BUCKETS_PER_RANGE = 4

#: How many peers or swarms one call of the paging scripts reads.
_PAGE = 500

_MODES = {mode.value: mode for mode in PeerMode}

#: The networks of the per-network index: the default ones of the
#: C{locality} strategy.
_NETWORKS = Networks()

_SCRIPTS: Dict[str, Script] = {
    name: script(name, body, _COST_STAT, _COST_STATS) for name, body in SOURCES.items()
}


# Encodings ----------------------------------------------------------------


def _encodeStat(value: StatValue) -> str:
    """
    A statistics value as the store keeps it: C{i} and the decimal
    integer, or C{s} and the text.
    """
    return "i%d" % value if type(value) is int else "s" + str(value)


def _decodeStat(text: str) -> StatValue:
    return int(text[1:]) if text[0] == "i" else text[1:]


def _statCost(name: str, stored: str) -> int:
    """
    What one kept statistic costs, as the scripts compute it (C{#} in Lua
    counts bytes).
    """
    return _COST_STAT + len(name.encode("utf-8")) + len(stored.encode("utf-8"))


def _time(value: float) -> str:
    """
    A time as the store keeps it: the C{repr} of the float, which Redis
    and Python read back exactly.
    """
    return repr(float(value))


def _hex(chunkID: int) -> str:
    """
    A chunk ID as 16 hexadecimal digits, which compare as text in the
    order of the numbers.
    """
    return "%016x" % chunkID


def _network(ip: str) -> str:
    """
    The network of an observed IP address by the C{locality} strategy's
    default prefixes (IPv4 /24, IPv6 /48), as the key suffix of the
    swarms' network sets (C{n:NETWORK}); C{''} for a malformed address.
    """
    network = _NETWORKS(ip)
    if not isinstance(network, tuple):
        return ""
    version, length, value = network
    return "%d/%d/%x" % (version, length, value)


def _encodeChunks(ranges: Sequence[ChunkRange]) -> str:
    return ",".join(f"{_hex(r.start)}-{_hex(r.end)}" for r in ranges)


def _chunkBuckets(ranges: Iterable[ChunkRange]) -> List[str]:
    """
    The chunk-index buckets (key suffixes C{c:LEVEL:BUCKET}) a chunk set
    is filed in: each range in the buckets of the first level at which it
    spans at most C{_BUCKETS_PER_RANGE} of them.
    """
    keys: Dict[str, None] = {}
    for r in ranges:
        level = next(
            level for level in _LEVELS
            if (r.end >> level) - (r.start >> level) < _BUCKETS_PER_RANGE
        )
        for bucket in range(r.start >> level, (r.end >> level) + 1):
            keys[f"c:{level}:{bucket}"] = None
    return list(keys)


def _holderBuckets(chunkID: int) -> List[str]:
    """
    The buckets where the holders of C{chunkID} are filed: one at each
    level.
    """
    return [f"c:{level}:{chunkID >> level}" for level in _LEVELS]


def _encodeAddresses(addresses: Sequence[PeerAddress]) -> str:
    return json.dumps(
        [[a.ip, a.port, a.type.value, a.priority] for a in addresses], separators=(",", ":")
    )


def _encodeIdentity(identity: Optional[SessionIdentity]) -> str:
    if identity is None:
        return ""
    certificate = identity.certificate
    return json.dumps(
        [
            identity.peerID,
            identity.expires,
            identity.fingerprint,
            certificate.hex() if certificate is not None else None,
        ]
    )


def _decodeIdentity(text: str) -> Optional[SessionIdentity]:
    if not text:
        return None
    peerID, expires, fingerprint, certificate = json.loads(text)
    return SessionIdentity(
        peerID, expires, fingerprint, bytes.fromhex(certificate) if certificate else None
    )


def _encodeUpdates(stats: StatsUpdate) -> str:
    """
    A L{StatsUpdate} as the scripts read it: a list of C{[false, values]}
    (the peer's) and C{[SwarmID, values]}, the values encoded.
    """
    return json.dumps(
        [
            [scope if scope is not None else False, {n: _encodeStat(v) for n, v in values.items()}]
            for scope, values in stats.items()
            if values
        ]
    )


def _decodeStats(stats: Optional[Mapping[str, str]]) -> Dict[str, StatValue]:
    """
    Kept statistics as the scripts keep them (a JSON object of encoded
    values, or null), decoded.
    """
    return {name: _decodeStat(value) for name, value in stats.items()} if stats else {}


def _loads(text: str) -> Any:
    """
    The value of a script's JSON answer.
    """
    return json.loads(text)


# Responses of the retry cache: the frozen dataclasses of ppsp.messages,
# pickled as their class and the values of their fields (pickle's own way
# for a dataclass with slots walks its fields in Python, twice as slow), and
# unpickled by an unpickler that makes objects of the classes of
# ppsp.messages only.

_FIELDS: Dict[type, Tuple[str, ...]] = {}


class _MessagePickler(pickle.Pickler):
    """
    Pickles a response: each dataclass as its class called with the
    values of its fields.
    """

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        names = _FIELDS.get(cls)
        if names is None:
            if not dataclasses.is_dataclass(cls):
                return NotImplemented
            fields = dataclasses.fields(cls)
            if any(f.kw_only or not f.init for f in fields):
                return NotImplemented
            names = _FIELDS[cls] = tuple(f.name for f in fields)
        return cls, tuple([getattr(obj, name) for name in names])


class _MessageUnpickler(pickle.Unpickler):
    """
    Unpickles responses: refuses every global but the classes of
    L{ppsp.messages}.
    """

    def find_class(self, module: str, name: str) -> Any:
        cls = getattr(messages, name, None) if module == messages.__name__ else None
        if not isinstance(cls, type) or cls.__module__ != messages.__name__:
            raise pickle.UnpicklingError(f"not a class of ppsp.messages: {module}.{name}")
        return cls


def _encodeResponse(response: Response) -> str:
    data = io.BytesIO()
    _MessagePickler(data, 5).dump(response)
    return base64.b64encode(data.getvalue()).decode("ascii")


def _decodeResponse(text: str) -> Response:
    response = _MessageUnpickler(io.BytesIO(base64.b64decode(text))).load()
    if not isinstance(response, Response):
        raise pickle.UnpicklingError(f"not a response: {type(response).__name__}")
    return response


# The connection -------------------------------------------------------------


class RedisAddress(NamedTuple):
    """
    Where a Redis server is and how to log in, as L{parseRedisURL} reads
    it from a URL.  Its C{repr} never shows the password.

    @ivar endpoint: a Twisted client endpoint description (C{tcp:...},
        C{unix:...}).
    @ivar db: the database number.
    @ivar username: the ACL user, or L{None}.
    @ivar password: the password, or L{None}.
    @ivar display: the URL without its password, for logs.
    """

    endpoint: str
    db: int
    username: Optional[str]
    password: Optional[str]
    display: str

    def __repr__(self) -> str:
        return f"RedisAddress({self.display!r})"


def parseRedisURL(url: str) -> RedisAddress:
    """
    Read a Redis URL:

      - C{redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]} (port 6379 and
        database 0 unless given; an IPv6 address in brackets);
      - C{rediss://} and the same, over TLS (Twisted's C{tls:} client
        endpoint, which checks the server's certificate against HOST):
        the certificate authorities of the system, or those of the
        directory C{ssl_ca_path=DIR} (every PEM certificate in it); a
        client certificate with C{ssl_certfile=PEM} (and its key, unless
        the same file holds it, with C{ssl_keyfile=PEM});
      - C{redis+unix://[[USER]:PASSWORD@]/PATH[?db=DB]}, a Unix socket.

    The user and the password are percent-decoded.

    @raise ValueError: C{url} is not such a URL (a query parameter that
        its scheme does not take included).
    """
    parts = urlsplit(url)
    password = unquote(parts.password) if parts.password is not None else None
    username = unquote(parts.username) if parts.username else None
    shown = parts.hostname or ""
    if parts.port is not None:
        shown += f":{parts.port}"
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - _QUERY.get(parts.scheme, set()))
    if unknown:
        raise ValueError(
            f"the Redis URL {_masked(url)!r} has a query parameter that {parts.scheme}:// "
            f"does not take: {', '.join(unknown)}"
        )
    if parts.scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise ValueError(f"no host in the Redis URL {_masked(url)!r}")
        path = parts.path.strip("/")
        db = _database(path or "0", url)
        host = parts.hostname
        port = parts.port if parts.port is not None else 6379
        # Twisted's tcp: client takes an IPv6 address too (there is no
        # tcp6: client); tls: wraps that same connection, and checks the
        # server's certificate against the host.
        endpoint = f"tcp:host={quoteStringArgument(host)}:port={port}"
        if parts.scheme == "rediss":
            endpoint = (
                f"tls:host={quoteStringArgument(host)}:port={port}"
                + "".join(
                    f":{_TLS_ARGUMENTS[name]}={quoteStringArgument(values[-1])}"
                    for name, values in sorted(query.items())
                )
                + f":endpoint={quoteStringArgument(endpoint)}"
            )
        shownHost = "[" + host + "]" if ":" in host else host
        display = f"{parts.scheme}://{shownHost}:{port}/{db}"
    elif parts.scheme == "redis+unix":
        if parts.hostname or not parts.path.startswith("/"):
            raise ValueError(
                f"not an absolute socket path (redis+unix:///PATH) in {_masked(url)!r}"
            )
        db = _database(query.get("db", ["0"])[-1], url)
        endpoint = f"unix:path={quoteStringArgument(parts.path)}"
        display = f"redis+unix://{parts.path}?db={db}"
    else:
        raise ValueError(
            f"not a Redis URL (redis://, rediss:// or redis+unix://): {_masked(url)!r}"
        )
    return RedisAddress(endpoint, db, username, password, display)


#: The arguments of Twisted's C{tls:} client endpoint that the query
#: parameters of a C{rediss://} URL give (the names are redis-py's).
_TLS_ARGUMENTS = {
    "ssl_ca_path": "trustRoots",
    "ssl_certfile": "certificate",
    "ssl_keyfile": "privateKey",
}

#: The query parameters each scheme takes.
_QUERY: Dict[str, set[str]] = {
    "redis": set(),
    "rediss": set(_TLS_ARGUMENTS),
    "redis+unix": {"db"},
}


def _masked(url: str) -> str:
    """
    C{url} without its password, for an error message.
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = (parts.username or "") + ":***@"
    return parts._replace(netloc=user + netloc).geturl()


def _database(text: str, url: str) -> int:
    if not text.isdigit():
        raise ValueError(f"not a database number in the Redis URL {_masked(url)!r}: {text!r}")
    return int(text)


class _RedisFactory(Factory):
    """
    Makes txredisapi's protocol over hiredis, with replies as text and no
    conversion of numbers, and hands each new connection to C{made}.  It
    logs in nowhere: L{RedisClient} sends C{AUTH} and C{SELECT} itself
    once connected.

    @param made: called with each protocol once its connection is made.
    """

    noisy = False

    def __init__(self, made: Callable[[Any], object]) -> None:
        self._made = made

    def buildProtocol(self, addr: Optional["IAddress"]) -> Optional[Protocol]:
        from txredisapi import HiredisProtocol, hiredis

        if hiredis is None:
            raise ImportError("the Redis store needs hiredis: install ppsp[redis]")
        protocol: Any = HiredisProtocol(charset="utf-8", convertNumbers=False)
        protocol.factory = self
        protocol.whenConnected().addCallback(self._made)
        built: Protocol = protocol
        return built


@implementer(IStreamClientEndpoint)
class _Attempts:
    """
    A client endpoint whose attempts to connect fail after C{timeout}
    seconds, and whose failures C{failed} hears of.
    """

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        timeout: float,
        clock: IReactorTime,
        failed: Callable[[Failure], object],
    ) -> None:
        self._endpoint = endpoint
        self._timeout = timeout
        self._clock = clock
        self._failed = failed

    def __repr__(self) -> str:
        return repr(self._endpoint)

    def connect(self, protocolFactory: IProtocolFactory) -> "Deferred[IProtocol]":
        """
        Connect with the endpoint given, within the timeout.
        """
        d = self._endpoint.connect(protocolFactory)
        d.addTimeout(self._timeout, self._clock)
        return d.addErrback(self._failedAttempt)

    def _failedAttempt(self, failure: Failure) -> Failure:
        self._failed(failure)
        return failure


class RedisClient:
    """
    One connection to a Redis server, made again with backoff when it is
    lost, that runs commands and the store's Lua scripts, each within a
    bounded time.

    A call fails with L{StoreUnavailable}:

      - at once while the connection is down: it was lost, or the last
        attempt to make it failed (refused, not made within C{timeout}
        seconds, or the server refused to log in or did not answer
        within C{timeout} seconds while logging in);
      - after C{timeout} seconds without an answer: the connection is
        then dropped, as a server that does not answer is down, so that
        the other calls waiting on it fail at once (with no reply left to
        come late), and the calls that follow fail at once until the
        connection is made again;
      - when the server answers that it cannot serve now (C{LOADING},
        C{BUSY}, C{MASTERDOWN}, C{READONLY}), having changed nothing.

    Until the first attempt to connect has ended, calls wait for it, each
    within C{timeout}.  Twisted's C{ClientService} makes the connection
    again: 0.15 s after it is lost or an attempt fails, then 1.5 times
    longer after each attempt that fails, never more than 5 s (a jitter of
    up to 0.1 s included), so that the store serves again within about 5 s
    of the server's return.

    @param reactor: the reactor that connects (an C{IReactorTCP} and
        C{IReactorUNIX}).
    @param address: where the server is (L{parseRedisURL}).
    @param scripts: the Lua scripts to load on each new connection.
    @param clock: the clock of the timeouts and of the reconnection
        delays (the reactor by default).
    @param timeout: the longest wait, in seconds, of a call, and of an
        attempt to connect and to log in.
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        address: RedisAddress,
        scripts: Iterable[Script] = (),
        clock: Optional[IReactorTime] = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"the timeout must be positive, not {timeout!r}")
        self.address = address
        self.timeout = timeout
        self._clock: IReactorTime = clock if clock is not None else reactor
        self._scripts = {s.sha: s for s in scripts}
        #: The connection once logged in, or L{None}.
        self._protocol: Any = None
        #: The newest connection, logged in or logging in, or L{None}.
        self._current: Any = None
        #: Why there is no connection (what the calls fail with), or
        #: L{None} until the first attempt has ended.
        self._down: Optional[str] = None
        #: What was logged last of the connection going down.
        self._logged: Optional[str] = None
        #: Failed attempts (and connections lost) in a row.
        self._failures = 0
        self._stopped = False
        #: The calls waiting for the first connection.
        self._waiting: List[Deferred[Any]] = []
        #: What waits for the next connection (L{whenConnected}).
        self._whenConnected: List[Deferred[None]] = []
        policy = backoffPolicy(
            initialDelay=0.1,
            maxDelay=_MAX_DELAY - _JITTER,
            factor=1.5,
            jitter=lambda: _JITTER * _random.random(),
        )
        self._service = ClientService(
            _Attempts(
                clientFromString(reactor, address.endpoint), timeout, self._clock, self._refused
            ),
            _RedisFactory(self._connected),
            retryPolicy=lambda attempt: policy(max(attempt, self._failures)),
            clock=self._clock,
        )

    def __repr__(self) -> str:
        return f"<RedisClient {self.address.display}>"

    # The connection --------------------------------------------------------------

    def _connected(self, protocol: Any) -> None:
        """
        A connection is made: log in, within the timeout.
        """
        self._current = protocol
        protocol.whenDisconnected().addCallback(self._lost)
        login = Deferred.fromCoroutine(self._login(protocol))
        login.addTimeout(self.timeout, self._clock)
        login.addCallbacks(lambda _: self._ready(protocol), lambda f: self._refused(f, protocol))

    async def _login(self, protocol: Any) -> None:
        """
        Log in (C{AUTH}), select the database and load the scripts.
        """
        address = self.address
        if address.password is not None:
            login = [address.username] if address.username else []
            await protocol.execute_command("AUTH", *login, address.password)
        if address.db:
            await protocol.execute_command("SELECT", address.db)
        for s in self._scripts.values():
            await protocol.execute_command("SCRIPT", "LOAD", s.source)

    def _ready(self, protocol: Any) -> None:
        """
        The connection is logged in: the calls go to it.
        """
        if self._stopped:
            protocol.transport.abortConnection()
            return
        self._protocol = protocol
        self._down = self._logged = None
        self._failures = 0
        self.log.info("connected to Redis at {redis}", redis=self.address.display)
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(protocol)
        connected, self._whenConnected = self._whenConnected, []
        for c in connected:
            c.callback(None)

    def _refused(self, failure: Failure, protocol: Any = None) -> None:
        """
        An attempt to connect failed, or the server refused to log in (or
        did not answer while it did): log why (never the password), and
        close the connection, which the client service makes again with
        backoff.
        """
        if failure.check(TimeoutError):
            what = "logging in" if protocol is not None else "connecting"
            reason = f"did not answer within {self.timeout:g} s while {what}"
        elif protocol is None:
            reason = f"could not be reached: {failure.getErrorMessage()}"
        else:
            reason = f"refused the connection: {failure.getErrorMessage()}"
        self._fail(reason)
        if protocol is not None:
            protocol.transport.abortConnection()

    def _lost(self, protocol: Any) -> None:
        """
        A connection is closed; when it was the one the calls went to, the
        connection is down.
        """
        if protocol is self._current:
            self._current = None
        if protocol is self._protocol:
            self._protocol = None
            self._fail("closed the connection")

    def _fail(self, reason: str) -> None:
        """
        The connection is down for C{reason}: the calls waiting for it
        fail, and so do the calls that come, until it is made again.  A
        reason is logged once, not at each attempt.
        """
        if self._stopped:
            return
        self._down = f"Redis at {self.address.display} {reason}"
        self._failures += 1
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.errback(StoreUnavailable(self._down))
        if reason != self._logged:
            self._logged = reason
            self.log.warn(
                "Redis at {redis} {reason}; connecting again with backoff",
                redis=self.address.display,
                reason=reason,
            )

    def start(self) -> None:
        """
        Start connecting (and connecting again whenever the connection is
        lost).
        """
        self._service.startService()

    def whenConnected(self) -> "Deferred[None]":
        """
        A L{Deferred} that fires once the client is connected and logged
        in (at once when it is), however many attempts that takes: for
        what would rather wait for the server than fail.  L{stop} fails
        it with L{StoreUnavailable}.
        """
        if self._protocol is not None:
            return succeed(None)
        if self._stopped:
            return fail(StoreUnavailable(self._down))
        d: Deferred[None] = Deferred()
        self._whenConnected.append(d)
        return d

    def stop(self) -> "Deferred[None]":
        """
        Drop the connection and stop connecting; the calls still waiting
        fail with L{StoreUnavailable}.

        @return: a Deferred that fires once the connection is closed.
        """
        self._stopped = True
        self._protocol = None
        self._down = closed = f"the client of Redis at {self.address.display} is closed"
        waiting: List[Deferred[Any]] = [*self._waiting, *self._whenConnected]
        self._waiting, self._whenConnected = [], []
        for d in waiting:
            d.errback(StoreUnavailable(closed))
        if self._current is not None:
            self._current.transport.abortConnection()
        return self._service.stopService()

    # Calls -------------------------------------------------------------------------

    def _call(self, run: Callable[[Any], Awaitable[Any]]) -> "Deferred[Any]":
        """
        C{run} with the connection, within the timeout.
        """
        if self._protocol is None and self._down is not None:
            return fail(StoreUnavailable(self._down))
        d = Deferred.fromCoroutine(self._run(run))
        return d.addTimeout(self.timeout, self._clock, onTimeoutCancel=self._late)

    async def _run(self, run: Callable[[Any], Awaitable[Any]]) -> Any:
        protocol = self._protocol
        if protocol is None:
            waiter: Deferred[Any] = Deferred(self._waiting.remove)
            self._waiting.append(waiter)
            protocol = await waiter
        try:
            return await run(protocol)
        except Exception as e:
            from txredisapi import ConnectionError as Lost

            if isinstance(e, Lost):
                raise StoreUnavailable(
                    self._down or f"Redis at {self.address.display} closed the connection"
                ) from None
            if str(e).startswith(_NOT_NOW):
                raise StoreUnavailable(f"Redis at {self.address.display} answered {e}") from None
            raise

    def _late(self, result: Any, timeout: float) -> Any:
        """
        A call had no answer within the timeout: drop the connection (the
        server is down, or too slow to serve), and fail the call with
        L{StoreUnavailable}.
        """
        if self._protocol is None:
            raise StoreUnavailable(
                self._down or f"Redis at {self.address.display} was not connected within"
                f" {timeout:g} s"
            )
        protocol, self._protocol = self._protocol, None
        self._fail(f"did not answer within {timeout:g} s")
        protocol.transport.abortConnection()
        raise StoreUnavailable(self._down)

    def execute(self, *args: object) -> "Deferred[Any]":
        """
        Run one command.

        @return: a Deferred firing with the reply, or failing with
            txredisapi's C{ResponseError} (the server refused the command)
            or with L{StoreUnavailable}.
        """
        return self._call(lambda protocol: protocol.execute_command(*args))

    def evaluate(self, script: Script, *args: object) -> "Deferred[Any]":
        """
        Run a Lua script with C{EVALSHA}, given no key names and C{args}:
        loading it and trying again once when the server does not know it
        (C{NOSCRIPT}: restarted, or its scripts were flushed); all within
        one timeout.
        """
        return self._call(lambda protocol: self._evaluate(protocol, script, args))

    @staticmethod
    async def _evaluate(protocol: Any, script: Script, args: Tuple[object, ...]) -> Any:
        try:
            return await protocol.execute_command("EVALSHA", script.sha, 0, *args)
        except Exception as e:
            if not str(e).startswith("NOSCRIPT"):
                raise
        await protocol.execute_command("SCRIPT", "LOAD", script.source)
        return await protocol.execute_command("EVALSHA", script.sha, 0, *args)


# The cost model ----------------------------------------------------------------


@implementer(IStoreCosts)
class RedisCosts:
    """
    The cost model of L{RedisPeerStore}: the bytes each piece of state
    makes Redis hold (measured for sessions and memberships, estimated for
    chunk sets and statistics: see the constants at the top of this
    module), which the store charges exactly.
    """

    def recordCost(
        self, peerID: str, observedIP: str, addresses: Sequence[PeerAddress]
    ) -> int:
        """
        The bytes a session with these attributes holds.
        """
        size = _COST_RECORD + 2 * len(peerID.encode("utf-8")) + len(observedIP)
        for address in addresses:
            size += _COST_ADDRESS + 2 * len(address.ip)
        return size

    def memberCost(self, swarmID: str) -> int:
        """
        The bytes a new membership of C{swarmID} holds.
        """
        return _COST_MEMBER + 2 * len(swarmID.encode("utf-8"))

    def chunksCost(self, ranges: Tuple[ChunkRange, ...]) -> int:
        """
        The bytes a chunk set holds with its chunk-index entries.
        """
        if not ranges:
            return 0
        return (
            _COST_CHUNKS
            + len(ranges) * _COST_RANGE
            + len(_chunkBuckets(ranges)) * _COST_INDEX_KEY
        )

    def statsCost(
        self, kept: Optional[Mapping[str, StatValue]], values: Mapping[str, StatValue]
    ) -> int:
        """
        The bytes that merging C{values} into the statistics C{kept} (or
        L{None}) adds (negative when it frees some).
        """
        if not values:
            return 0
        total = _COST_STATS if kept is None else 0
        for name, value in values.items():
            total += _statCost(name, _encodeStat(value))
            if kept is not None:
                old = kept.get(name)
                if old is not None:
                    total -= _statCost(name, _encodeStat(old))
        return total


# The store --------------------------------------------------------------------


@implementer(IPeerStore, IRetryCache, IPollLease)
class RedisPeerStore:
    """
    An L{IPeerStore}, L{IRetryCache} and L{IPollLease} in Redis: every
    tracker that uses one server and one C{prefix} shares the state.

    Reads answer values (L{ppsp.tracker.values}); C{lookup} answers a
    L{SnapshotSwarmView} of the members it fetched: C{count} (at least
    L{minimumFetch}) drawn by C{SRANDMEMBER} besides those below (among
    the holders of the chunk asked for, through the chunk index), every
    SEED and LIVESEED member, the requester's own membership and, for a
    list without a chunk, members of the requester's own network (the
    per-network index of the C{locality} strategy).  Times are the caller's (the C{now} and deadlines it
    gives); peers, memberships and empty swarms expire by sorted sets of
    their deadlines, which L{expire} pops atomically, so that of several
    trackers calling it each thing due is reported once.

    @param client: the connection (L{RedisClient}), started.
    @param prefix: the prefix of every key.
    @param random: the random source of the views' sampling and of the
        chunk holders' draw.
    @param retryWindow: seconds a retry cache answer is kept.
    @param expireBatch: the most peers, memberships and swarms each
        L{expire} takes out (the rest wait for the next call).
    @ivar minimumFetch: the fewest members a C{lookup} asked for any
        draws, so that the strategies that rank candidates (C{capacity},
        C{chunks}, C{locality} for FIND_CHUNK) have some to rank when a
        short list is asked for.
    """

    minimumFetch = 16

    def __init__(
        self,
        client: RedisClient,
        prefix: str = DEFAULT_PREFIX,
        random: Optional[_random.Random] = None,
        retryWindow: float = 60.0,
        expireBatch: int = 1000,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.costs = RedisCosts()
        self.retryWindow = retryWindow
        self.expireBatch = expireBatch
        self._random = random if random is not None else _random.Random()
        self._pending = 0
        self._idle: List[Deferred[None]] = []
        self._addresses: Dict[str, Tuple[PeerAddress, ...]] = {}
        self._chunks: Dict[str, Tuple[ChunkRange, ...]] = {}
        # Who holds the STAT_QUERY poll leases this store takes (acquire).
        self._leaseToken = secrets.token_hex(8)

    def __repr__(self) -> str:
        return f"<RedisPeerStore {self.client.address.display} prefix={self.prefix!r}>"

    # Calls ---------------------------------------------------------------------

    def _track(self, d: "Deferred[T]") -> "Deferred[T]":
        """
        Count C{d} among the calls in flight until it fires (L{whenIdle}).
        """
        self._pending += 1

        def done(result: T) -> T:
            self._pending -= 1
            if not self._pending:
                waiting, self._idle = self._idle, []
                for w in waiting:
                    w.callback(None)
            return result

        return d.addBoth(done)

    def _run(self, name: str, *args: object) -> "Deferred[Any]":
        """
        Run the script C{name} with the prefix and C{args}.
        """
        return self._track(self.client.evaluate(_SCRIPTS[name], self.prefix, *args))

    def _json(self, name: str, *args: object) -> "Deferred[Any]":
        """
        Run the script C{name}, whose answer is JSON, and decode it.
        """
        return self._run(name, *args).addCallback(_loads)

    def whenIdle(self) -> "Deferred[None]":
        """
        A Deferred that fires once every call made so far has answered
        (for a graceful stop, and for tests that turn a reactor until the
        store's answers are in).
        """
        if not self._pending:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._idle.append(d)
        return d

    def close(self) -> "Deferred[None]":
        """
        Wait for the calls in flight (each answers or fails within the
        client's timeout), then close the connection.
        """
        return self.whenIdle().addCallback(lambda _: self.client.stop())

    # Values --------------------------------------------------------------------

    def _decodeAddresses(self, text: str) -> Tuple[PeerAddress, ...]:
        addresses = self._addresses.get(text)
        if addresses is None:
            if len(self._addresses) > 10_000:
                self._addresses.clear()
            addresses = self._addresses[text] = tuple(
                PeerAddress(ip, port, AddressType(kind), priority)
                for ip, port, kind, priority in json.loads(text)
            )
        return addresses

    def _decodeChunks(self, text: str) -> Tuple[ChunkRange, ...]:
        if not text:
            return ()
        chunks = self._chunks.get(text)
        if chunks is None:
            if len(self._chunks) > 10_000:
                self._chunks.clear()
            chunks = self._chunks[text] = tuple(
                ChunkRange(int(start, 16), int(end, 16))
                for start, end in (r.split("-") for r in text.split(","))
            )
        return chunks

    def _member(self, swarmID: str, record: Dict[str, Any]) -> MemberState:
        expireAt = record["x"]
        return MemberState(
            swarmID,
            _MODES[record["m"]],
            float(expireAt) if expireAt else None,
            self._decodeChunks(record["ch"]),
            _decodeStats(record["s"]),
        )

    def _peer(self, raw: Any) -> Optional[PeerState]:
        """
        The L{PeerState} of what a script's C{readPeer} answered, or
        L{None}.
        """
        if not raw:
            return None
        peerID, fields, stats, addressHeld, members = raw
        token, ip, port, addresses, statPort, connectedAt, deadline, identity, _, held = fields
        return PeerState(
            peerID,
            token,
            ip,
            int(port),
            self._decodeAddresses(addresses),
            int(statPort) if statPort else None,
            float(connectedAt),
            float(deadline),
            _decodeIdentity(identity),
            _decodeStats(stats),
            {swarmID: self._member(swarmID, record) for swarmID, record in members},
            int(held),
            addressHeld,
        )

    @staticmethod
    def _swarm(raw: Any) -> Optional[SwarmState]:
        if not raw:
            return None
        swarmID, provisioned, emptySince, size, seeds, liveseeds = raw
        modes: Dict[PeerMode, int] = {}
        if size:
            for mode, n in (
                (PeerMode.LEECH, size - seeds - liveseeds),
                (PeerMode.SEED, seeds),
                (PeerMode.LIVESEED, liveseeds),
            ):
                if n:
                    modes[mode] = n
        return SwarmState(
            swarmID,
            provisioned == "1",
            size,
            float(emptySince) if emptySince else None,
            modes,
        )

    def _view(self, swarmID: str, raw: Any) -> ISwarmView:
        size, seeds, liveseeds, fetched = raw
        members = []
        chunks = self._decodeChunks
        for peerID, (ip, port, addresses, connectedAt), deadline, stats, record in fetched:
            expireAt = record["x"]
            if expireAt:
                expireAt = float(expireAt)
                if expireAt < deadline:
                    deadline = expireAt
            members.append(
                SwarmMember(
                    peerID,
                    swarmID,
                    _MODES[record["m"]],
                    ip,
                    port,
                    self._decodeAddresses(addresses),
                    connectedAt,
                    float(deadline),
                    chunks(record["ch"]),
                    _decodeStats(record["s"]),
                    _decodeStats(stats),
                )
            )
        modes = {
            PeerMode.SEED: seeds,
            PeerMode.LIVESEED: liveseeds,
            PeerMode.LEECH: size - seeds - liveseeds,
        }
        return SnapshotSwarmView(swarmID, size, members, self._random, modes)

    # Reads ---------------------------------------------------------------------

    def peer(self, peerID: str) -> "Deferred[Optional[PeerState]]":
        """
        The registered peer, or L{None}: one script.
        """
        return self._json("peer", peerID).addCallback(self._peer)

    def lookup(
        self, peerID: str, swarmID: str, count: int, chunkID: Optional[int]
    ) -> "Deferred[Tuple[Optional[PeerState], Optional[ISwarmView]]]":
        """
        The peer and a L{SnapshotSwarmView} of the SEEDs and LIVESEEDs,
        the peer's own membership, C{count} (at least L{minimumFetch})
        other members drawn at random
        (among the holders of C{chunkID}, when given) and, without a chunk,
        up to C{count + 1} members of the peer's own network (its IPv4 /24
        or IPv6 /48): one script.
        """
        if chunkID is None:
            extra: List[object] = ["", self._random.getrandbits(31)]
        else:
            extra = [_hex(chunkID), self._random.getrandbits(31), *_holderBuckets(chunkID)]

        def decoded(raw: Any) -> Tuple[Optional[PeerState], Optional[ISwarmView]]:
            peer, view = raw
            return self._peer(peer), self._view(swarmID, view) if view else None

        fetch = max(count, self.minimumFetch) if count > 0 else 0
        return self._json("lookup", peerID, swarmID, fetch, *extra).addCallback(decoded)

    def usage(self, ip: str) -> "Deferred[Tuple[int, int, int]]":
        """
        The sessions and bytes of C{ip}'s address account, and the sessions
        in all: one script.
        """
        return self._run("usage", addressKey(ip)).addCallback(tuple)

    def swarm(self, swarmID: str) -> "Deferred[Optional[SwarmState]]":
        """
        The swarm, or L{None}: one script.
        """
        return self._json("swarm", swarmID).addCallback(self._swarm)

    def peers(self) -> "Deferred[Sequence[PeerState]]":
        """
        Every registered peer: one script per C{_PAGE} peers (C{ZSCAN} of
        the deadlines).
        """
        return self._track(Deferred.fromCoroutine(self._scan("peers", self._peer)))

    def swarms(self) -> "Deferred[Sequence[SwarmState]]":
        """
        Every swarm: one script per C{_PAGE} swarms (C{SSCAN} of the swarm
        set).
        """
        return self._track(Deferred.fromCoroutine(self._scan("swarms", self._swarm)))

    async def _scan(self, name: str, decode: Any) -> List[Any]:
        found: Dict[str, Any] = {}
        cursor = "0"
        while True:
            cursor, page = await self._json(name, cursor, _PAGE)
            for raw in page:
                found[raw[0]] = decode(raw)
            if cursor == "0":
                return list(found.values())

    def counts(self) -> "Deferred[Tuple[int, int]]":
        """
        The numbers of registered peers and of swarms: one script.
        """
        return self._run("counts").addCallback(tuple)

    def reachable(self) -> "Deferred[bool]":
        """
        Whether the server answers a C{PING} within the client's timeout
        (C{False} at once while the connection is down); never fails.
        """
        d = self._track(self.client.execute("PING"))
        return d.addCallbacks(lambda reply: reply == "PONG", lambda _: False)

    # Writes --------------------------------------------------------------------

    def _sessionArgs(self, session: Session) -> List[object]:
        """
        The arguments of C{register} and C{takeOver} that describe a
        session, ending with what a view shows of it (its IP address, port,
        addresses and start, as JSON).
        """
        costs = self.costs
        addresses = _encodeAddresses(session.addresses)
        return [
            session.peerID,
            session.token,
            session.observedIP,
            session.observedPort,
            addresses,
            session.statPort if session.statPort is not None else "",
            _time(session.connectedAt),
            _time(session.deadline),
            _encodeIdentity(session.identity),
            addressKey(session.observedIP),
            costs.recordCost(session.peerID, session.observedIP, session.addresses),
            json.dumps(
                [session.observedIP, session.observedPort, addresses, float(session.connectedAt)]
            ),
        ]

    def register(self, session: Session, stats: Mapping[str, StatValue]) -> "Deferred[bool]":
        """
        Register a peer if its PeerID is free: one script.
        """
        values = json.dumps({name: _encodeStat(value) for name, value in stats.items()})
        return self._run(
            "register", *self._sessionArgs(session), values, _network(session.observedIP)
        ).addCallback(bool)

    def takeOver(
        self, session: Session, replacing: str, stats: StatsUpdate
    ) -> "Deferred[bool]":
        """
        Replace a session whose AuthToken is still C{replacing}: one
        script.
        """
        return self._run(
            "takeOver",
            *self._sessionArgs(session),
            replacing,
            _encodeUpdates(stats),
            _network(session.observedIP),
        ).addCallback(bool)

    def touch(self, peerID: str, deadline: float) -> "Deferred[bool]":
        """
        Move the peer's deadline: one script.
        """
        return self._run("touch", peerID, _time(deadline)).addCallback(bool)

    def join(
        self,
        peerID: str,
        swarmID: str,
        mode: PeerMode,
        expireAt: Optional[float],
        stats: StatsUpdate,
        deadline: float,
        now: float,
    ) -> "Deferred[bool]":
        """
        Make the peer a member of the swarm (created if need be), or set
        the mode and end of its membership: one script.
        """
        return self._run(
            "join",
            peerID,
            swarmID,
            mode.value,
            _time(expireAt) if expireAt is not None else "",
            _time(deadline),
            _time(now),
            self.costs.memberCost(swarmID),
            _encodeUpdates(stats),
        ).addCallback(bool)

    def leave(self, peerID: str, swarmID: str, deadline: float, now: float) -> "Deferred[bool]":
        """
        End the peer's membership of the swarm, if any: one script.
        """
        return self._run("leave", peerID, swarmID, _time(deadline), _time(now)).addCallback(bool)

    def setChunks(
        self, peerID: str, swarmID: str, ranges: Tuple[ChunkRange, ...], deadline: float
    ) -> "Deferred[bool]":
        """
        Replace a membership's chunk set and its chunk-index entries: one
        script.
        """
        return self._run(
            "setChunks",
            peerID,
            swarmID,
            _encodeChunks(ranges),
            self.costs.chunksCost(ranges),
            _time(deadline),
            *_chunkBuckets(ranges),
        ).addCallback(bool)

    def keepStats(
        self, peerID: str, stats: StatsUpdate, deadline: Optional[float]
    ) -> "Deferred[bool]":
        """
        Merge statistics, and move the deadline when one is given: one
        script.
        """
        return self._run(
            "keepStats",
            peerID,
            _time(deadline) if deadline is not None else "",
            _encodeUpdates(stats),
        ).addCallback(bool)

    def disconnect(self, peerID: str, now: float) -> "Deferred[Optional[PeerState]]":
        """
        Delete a peer with its memberships, and answer it as it was: one
        script.
        """
        return self._json("disconnect", peerID, _time(now)).addCallback(self._peer)

    def addSwarm(self, swarmID: str, provisioned: bool, now: float) -> "Deferred[bool]":
        """
        Create a swarm, or make an existing one provisioned: one script.
        """
        return self._run(
            "addSwarm", swarmID, "1" if provisioned else "0", _time(now)
        ).addCallback(bool)

    def removeSwarm(self, swarmID: str, now: float) -> "Deferred[Optional[int]]":
        """
        End every membership of a swarm and forget it: one script.
        """
        return self._run("removeSwarm", swarmID, _time(now)).addCallback(
            lambda n: n if n >= 0 else None
        )

    def expire(self, now: float, emptySwarmLifetime: float) -> "Deferred[Expired]":
        """
        Pop what is due from the deadlines' sorted sets and take it out,
        atomically: one script, at most C{expireBatch} of each kind.
        """

        def decoded(raw: Any) -> Expired:
            peers, members, swarms = raw
            return Expired(
                tuple(p for p in map(self._peer, peers) if p is not None),
                tuple((swarmID, peerID) for swarmID, peerID in members),
                tuple(swarms),
            )

        return self._json(
            "expire", _time(now), _time(now - emptySwarmLifetime), self.expireBatch
        ).addCallback(decoded)

    # The retry cache -------------------------------------------------------------

    def fingerprint(self, request: Request) -> int:
        """
        A fingerprint every tracker computes alike
        (L{stableFingerprint<ppsp.tracker.retry.stableFingerprint>}), so
        that a retry reaching another tracker of the same Redis is
        recognised.
        """
        return stableFingerprint(request)

    def _retryKey(self, key: object) -> str:
        return self.prefix + "r:" + hashlib.sha256(repr(key).encode("utf-8")).hexdigest()

    def get(self, key: Any, fingerprint: int, now: float) -> "Deferred[Optional[Response]]":
        """
        The answer kept for C{key}, when its window has not ended at C{now}
        and it answered a request with C{fingerprint}: one C{GET}.
        """

        def found(text: Optional[str]) -> Optional[Response]:
            if text is None:
                return None
            until, seen, response = text.split(" ", 2)
            if float(until) <= now or int(seen) != fingerprint:
                return None
            return _decodeResponse(response)

        return self._track(self.client.execute("GET", self._retryKey(key))).addCallback(found)

    def put(self, key: Any, fingerprint: int, response: Response, now: float) -> "Deferred[None]":
        """
        Keep C{response} for the retry window from C{now}: one C{SET} with
        a native TTL of the window.
        """
        text = f"{now + self.retryWindow!r} {fingerprint} {_encodeResponse(response)}"
        ttl = max(1, int(-(-self.retryWindow // 1)))
        d = self.client.execute("SET", self._retryKey(key), text, "EX", ttl)
        return self._track(d).addCallback(lambda _: None)

    def discard(self, key: Any) -> "Deferred[None]":
        """
        Forget the answer kept for C{key}: one C{DEL}.
        """
        d = self.client.execute("DEL", self._retryKey(key))
        return self._track(d).addCallback(lambda _: None)

    def prune(self, now: float) -> "Deferred[None]":
        """
        Nothing: Redis forgets each answer when its TTL runs out.
        """
        return succeed(None)

    # The STAT_QUERY poll lease ---------------------------------------------

    def acquire(self, peerID: str, now: float, seconds: float) -> "Deferred[bool]":
        """
        Take the lease of polling C{peerID} for C{seconds}: one script that
        sets the key C{q:PeerID} to this store's token with a native TTL
        (C{PX}), unless it holds another store's token; this store renews
        its own lease.  The TTL runs on Redis's clock, from the call:
        C{now} is not used.
        """
        milliseconds = max(1, int(seconds * 1000))
        d = self._run("lease", peerID, self._leaseToken, milliseconds)
        return d.addCallback(lambda taken: bool(taken))


def connectRedisStore(
    reactor: Any,
    url: str,
    prefix: str = DEFAULT_PREFIX,
    random: Optional[_random.Random] = None,
    clock: Optional[IReactorTime] = None,
    retryWindow: float = 60.0,
    password: Optional[str] = None,
    connect: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> RedisPeerStore:
    """
    A L{RedisPeerStore} on the server of C{url} (L{parseRedisURL}),
    connecting: it connects again with backoff whenever the connection is
    lost, and its calls fail with L{StoreUnavailable} while the server is
    unreachable or slower than C{timeout} (L{RedisClient}).
    L{RedisPeerStore.close} closes it.

    @param reactor: the reactor that connects.
    @param url: C{redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]},
        C{rediss://...} (TLS) or
        C{redis+unix://[[USER]:PASSWORD@]/PATH[?db=DB]}.
    @param prefix: the prefix of every key (trackers that share a server
        and a prefix share their state).
    @param random: the random source of the views' sampling.
    @param clock: the clock of the timeouts and of the reconnection
        delays (the reactor by default).
    @param retryWindow: seconds a retry cache answer is kept.
    @param password: the password to log in with, instead of the URL's
        (one read from a file); L{None}: the URL's, if any.
    @param connect: whether to start connecting now; C{False} leaves it
        to the caller (C{store.client.start()}, from a service's
        C{startService}: after twistd has made its process a daemon).
        The store's calls wait for the first attempt either way, each
        within C{timeout}.
    @param timeout: the longest wait of a call, in seconds (and of an
        attempt to connect and log in).
    @raise ValueError: C{url} is not a Redis URL, or C{timeout} is not
        positive.
    """
    address = parseRedisURL(url)
    if password is not None:
        address = address._replace(password=password)
    client = RedisClient(reactor, address, _SCRIPTS.values(), clock, timeout)
    if connect:
        client.start()
    return RedisPeerStore(client, prefix, random, retryWindow)
