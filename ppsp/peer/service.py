# -*- test-case-name: ppsp.test.test_peer_service -*-
"""
L{PeerService}: a peer's life with its tracker, as a Twisted service.

Started, it CONNECTs, JOINs its swarms and then keeps its registration
alive (KEEPALIVE at the interval the tracker announced), reports its
statistics (STAT_REPORT), tells the tracker which chunks it holds
(JOIN_CHUNK, coalescing bursts of changes) and FINDs peers on demand.
When the tracker forgets the peer (it restarted, or expired the peer) the
service registers again by itself; when the tracker is unreachable it
keeps trying with capped exponential backoff and jitter; when it refuses
the peer's credential (AUTHENTICATION REQUIRED at registration), the
service warns once and keeps trying at the longest interval
(C{maxRetryDelay}), reading the credential file again each time.  Stopped, it
LEAVEs its swarms and DISCONNECTs, within a bounded time.  Everything runs
on an injected clock.
"""

from __future__ import annotations

import random as _random
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Set,
    Tuple,
    TypeVar,
    Union,
)

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, DeferredList, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from ppsp._net import LONGEST, backoff, hostPort
from ppsp.interfaces import IChunkSource, IStatsSource
from ppsp.messages import PeerAddress, PeerInfo, PeerMode, Stat
from ppsp.peer._trackerclient import (
    AuthenticationRequired,
    MessageForbidden,
    ObjectNotFound,
    TrackerClient,
    TrackerError,
    TrackerUnavailable,
    UnsupportedRequest,
)
from ppsp.peer.sources import ChunkSet

__all__ = ["PeerService", "STOPPED", "CONNECTING", "REGISTERED", "UNREACHABLE"]

_T = TypeVar("_T")

#: The service is not running.
STOPPED = "stopped"
#: The service is registering (CONNECT and JOINs) with the tracker.
CONNECTING = "connecting"
#: The peer is registered and in its swarms.
REGISTERED = "registered"
#: The tracker did not answer; the service keeps trying.
UNREACHABLE = "unreachable"


def _modes(swarms: Union[Mapping[str, PeerMode], Iterable[str]]) -> Dict[str, PeerMode]:
    if isinstance(swarms, Mapping):
        return dict(swarms)
    return {swarmID: PeerMode.LEECH for swarmID in swarms}


class PeerService(Service):
    """
    Keep one peer registered with a tracker, in its swarms, and reporting.

    @param client: the L{TrackerClient} to send requests with; its PeerID
        is the peer's.
    @param clock: the time source for every timer.
    @param swarms: the swarms to be in: SwarmIDs (joined as LEECH) or a
        mapping of SwarmID to L{PeerMode}.
    @param addresses: the addresses announced at CONNECT.
    @param statPort: the TCP port where the peer answers STAT_QUERY, or
        L{None}; announced at CONNECT.
    @param statsSource: where STAT_REPORT's statistics come from, or
        L{None} to send no STAT_REPORT.
    @param chunkSource: which chunks the peer holds; a fresh L{ChunkSet}
        (see L{chunks}) when L{None}.
    @param statReportInterval: seconds between STAT_REPORTs.
    @param findInterval: when set, FIND every swarm this often (each list
        goes to C{onPeers} and to the log).
    @param peerNum: how many peers to ask for (the tracker's default when
        L{None}).
    @param chunkDelay: seconds to wait after a chunk change before sending
        JOIN_CHUNK, so that a burst of changes makes one message.
    @param retryDelay: the first wait before registering again after the
        tracker could not be reached; it doubles up to C{maxRetryDelay},
        with jitter.
    @param maxRetryDelay: the longest wait between registration attempts.
    @param stopTimeout: the most seconds L{stopService} spends on LEAVE
        and DISCONNECT.
    @param onPeers: called with (SwarmID, tuple of L{PeerInfo}) for every
        peer list received (JOIN and FIND answers).
    @param random: the source of jitter.
    """

    log = Logger()

    def __init__(
        self,
        client: TrackerClient,
        clock: IReactorTime,
        swarms: Union[Mapping[str, PeerMode], Iterable[str]] = (),
        addresses: Iterable[PeerAddress] = (),
        statPort: Optional[int] = None,
        statsSource: Optional[IStatsSource] = None,
        chunkSource: Optional[IChunkSource] = None,
        statReportInterval: float = 60.0,
        findInterval: Optional[float] = None,
        peerNum: Optional[int] = None,
        chunkDelay: float = 1.0,
        retryDelay: float = 1.0,
        maxRetryDelay: float = 60.0,
        stopTimeout: float = 5.0,
        onPeers: Optional[Callable[[str, Tuple[PeerInfo, ...]], object]] = None,
        random: Optional[_random.Random] = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.swarms: Dict[str, PeerMode] = _modes(swarms)
        self.addresses = tuple(addresses)
        self.statPort = statPort
        self.statsSource = statsSource
        self.chunks: IChunkSource = chunkSource if chunkSource is not None else ChunkSet()
        self.statReportInterval = statReportInterval
        self.findInterval = findInterval
        self.peerNum = peerNum
        self.chunkDelay = chunkDelay
        self.retryDelay = retryDelay
        self.maxRetryDelay = maxRetryDelay
        self.stopTimeout = stopTimeout
        self.onPeers = onPeers
        self.random = random if random is not None else _random.Random()
        #: One of L{STOPPED}, L{CONNECTING}, L{REGISTERED}, L{UNREACHABLE}.
        self.state = STOPPED
        self._timers: Dict[str, IDelayedCall] = {}
        self._registering: Optional[Deferred[None]] = None
        self._waiters: List[Deferred[None]] = []
        self._dirty: Set[str] = set()
        self._flushing = False
        self._unwatch: Optional[Callable[[], None]] = None
        self._goodbyes: List[Deferred[Any]] = []
        self._warned: Set[str] = set()
        self._abandoned = False

    @property
    def peerID(self) -> str:
        """
        This peer's PeerID.
        """
        return self.client.peerID

    # Service ----------------------------------------------------------------

    def startService(self) -> None:
        """
        Register with the tracker (in the background) and keep at it.
        """
        super().startService()
        self._unwatch = self.chunks.watch(self.chunksChanged)
        self._register()

    def stopService(self) -> "Deferred[None]":
        """
        Stop every timer, then LEAVE each swarm and DISCONNECT, giving up
        after C{stopTimeout} seconds.  The Deferred fires when done and
        never fails.
        """
        super().stopService()
        for name in list(self._timers):
            self._cancelTimer(name)
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        registering, self._registering = self._registering, None
        if registering is not None:
            registering.cancel()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.cancel()
        wasRegistered = self.state == REGISTERED
        self._setState(STOPPED)
        if not wasRegistered or self.client.authToken is None:
            return succeed(None)
        self._abandoned = False
        goodbye = Deferred.fromCoroutine(self._goodbye())
        timer = self.clock.callLater(self.stopTimeout, self._abandon)

        def done(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            return result

        def failed(failure: Failure) -> None:
            self.log.warn(
                "could not say goodbye to the tracker: {reason}",
                reason="no answer in time" if self._abandoned else _reason(failure.value),
            )

        return goodbye.addBoth(done).addErrback(failed)

    async def _goodbye(self) -> None:
        leaves = [self._goodbyeStep(self.client.leave(s)) for s in self.swarms]
        await DeferredList(leaves, consumeErrors=True)
        if self._abandoned:
            raise CancelledError()
        await self._goodbyeStep(self.client.disconnect())
        self.log.info("left every swarm and disconnected from the tracker")

    def _goodbyeStep(self, d: "Deferred[_T]") -> "Deferred[_T]":
        """
        Track a request of the goodbye, for L{_abandon} to cancel.
        """
        self._goodbyes.append(d)
        return d

    def _abandon(self) -> None:
        """
        The goodbye took too long: cancel what is still in flight.
        """
        self._abandoned = True
        goodbyes, self._goodbyes = self._goodbyes, []
        for d in goodbyes:
            if not d.called:
                d.cancel()

    # What the application asks -----------------------------------------------

    def join(self, swarmID: str, mode: PeerMode = PeerMode.LEECH) -> "Deferred[None]":
        """
        Be a member of C{swarmID} from now on (or change the mode there).

        @return: a Deferred that fires when the tracker has the membership
            (at once when registered, else once registration is done).
        """
        self.swarms[swarmID] = mode
        self._dirty.add(swarmID)
        if self.state != REGISTERED:
            return self._whenRegistered()
        return Deferred.fromCoroutine(self._guarded(lambda: self._joinOne(swarmID, mode)))

    def leave(self, swarmID: str) -> "Deferred[None]":
        """
        Stop being a member of C{swarmID}.
        """
        self.swarms.pop(swarmID, None)
        self._dirty.discard(swarmID)
        if self.state != REGISTERED:
            return succeed(None)

        async def leave() -> None:
            try:
                await self.client.leave(swarmID)
            except (MessageForbidden, ObjectNotFound):
                pass  # not a member any more: what we wanted

        return Deferred.fromCoroutine(self._guarded(leave))

    def find(
        self,
        swarmID: str,
        peerNum: Optional[int] = None,
        chunkID: Optional[int] = None,
        constraints: Iterable[Stat] = (),
    ) -> "Deferred[Tuple[PeerInfo, ...]]":
        """
        FIND peers of C{swarmID}: at most C{peerNum}, holding C{chunkID}
        when given, satisfying C{constraints}.

        @return: a Deferred of a tuple of L{PeerInfo} (empty when no peer
            holds the chunk).  It waits for registration when the peer is
            not registered; it fails with L{TrackerUnavailable} when the
            tracker cannot be reached.
        """
        constraints = tuple(constraints)
        if peerNum is None:
            peerNum = self.peerNum

        async def find() -> Tuple[PeerInfo, ...]:
            try:
                response = await self.client.find(swarmID, peerNum, chunkID, constraints)
            except ObjectNotFound:
                if chunkID is None:
                    raise
                return ()
            self._received(swarmID, response.peers)
            return response.peers

        return Deferred.fromCoroutine(self._guarded(find))

    def chunksChanged(self, swarmID: str) -> None:
        """
        The chunks held in C{swarmID} changed: send JOIN_CHUNK soon, once
        for a burst of changes.
        """
        if swarmID not in self.swarms:
            return
        self._dirty.add(swarmID)
        if self.state == REGISTERED:
            self._scheduleFlush()

    # Registration -------------------------------------------------------------

    def _register(self) -> None:
        """
        Start registering, unless that is under way already.
        """
        for name in list(self._timers):
            self._cancelTimer(name)
        if self._registering is not None or not self.running:
            return
        if self.state != UNREACHABLE:
            self._setState(CONNECTING)
        d = Deferred.fromCoroutine(self._registerLoop())
        d.addErrback(lambda f: f.trap(CancelledError))
        if not d.called:
            self._registering = d

    async def _registerLoop(self) -> None:
        failures = 0
        while True:
            try:
                await self._registerOnce()
            except (TrackerUnavailable, TrackerError) as e:
                failures += 1
                unreachable = isinstance(e, TrackerUnavailable)
                if unreachable:
                    self._setState(UNREACHABLE, reason=_reason(e))
                elif isinstance(e, AuthenticationRequired):
                    # The credential is refused: it will not become good by
                    # itself soon, so wait the longest, and say why once.
                    # The operator may replace the credential file, which
                    # the client reads again at each CONNECT.
                    self._refused(e)
                    await self._sleep(self._retryWait(LONGEST))
                    continue
                elif failures == 1:
                    self.log.error(
                        "the tracker refused to register {peerID}: {reason}",
                        peerID=self.peerID,
                        reason=_reason(e),
                    )
                await self._sleep(self._retryWait(failures))
                continue
            break
        self._registering = None
        self._warned.discard(_REFUSED)
        self._setState(REGISTERED)
        self._scheduleKeepAlive()
        if self.statsSource is not None:
            self._statReport()
        if self.findInterval is not None:
            self._schedule("find", self.findInterval, self._findAll)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)
        if self._dirty:
            self._scheduleFlush()

    async def _registerOnce(self) -> None:
        if self.client.rfc7846:
            await self._registerRFC7846()
            return
        await self.client.connect(self.addresses, self.statPort, self._stats())
        for swarmID, mode in list(self.swarms.items()):
            try:
                await self._joinOne(swarmID, mode)
            except (AuthenticationRequired, TrackerUnavailable):
                raise
            except TrackerError as e:
                self.log.error(
                    "could not join swarm {swarmID}: {reason}",
                    swarmID=swarmID,
                    reason=_reason(e),
                )
        # Chunk sets go again: the tracker may have lost them.  An empty
        # set needs no message, as a fresh membership holds no chunk.
        self._dirty.update(s for s in self.swarms if tuple(self.chunks.chunks(s)))

    async def _registerRFC7846(self) -> None:
        """
        Register in RFC 7846 JSON: one CONNECT that joins every swarm (a
        peer in no swarm has no registration there).
        """
        if not self.swarms:
            return
        response = await self.client.connect(
            self.addresses, self.statPort, self._stats(), swarms=self.swarms
        )
        for result in getattr(response, "swarmResults", ()):
            if not result.ok:
                self.log.error(
                    "could not join swarm {swarmID}: {reason}",
                    swarmID=result.swarmID,
                    reason=f"{result.code.text}: {result.reason}",
                )
            elif result.peers is not None:
                self._received(result.swarmID, result.peers)

    async def _joinOne(self, swarmID: str, mode: PeerMode) -> None:
        response = await self.client.join(swarmID, mode, peerNum=self.peerNum)
        if response.peers is not None:
            self._received(swarmID, response.peers)

    def _retryWait(self, failures: int) -> float:
        return backoff(failures, self.retryDelay, self.maxRetryDelay, self.random)

    def _refused(self, error: AuthenticationRequired) -> None:
        """
        Registration was answered AUTHENTICATION REQUIRED: warn once (until
        the next registration succeeds) that the tracker refuses this
        peer's credential.
        """
        credentialFile = getattr(self.client, "credentialFile", None)
        self._warnOnce(
            _REFUSED,
            "the tracker refused to register {peerID}: {reason}: the tracker at {url} "
            "refuses this peer's credential, or wants one; {fix}; trying again every "
            "{delay:g} s or so",
            url=self.client.url,
            peerID=self.peerID,
            reason=_reason(error),
            fix=(
                f"replace {credentialFile} with a valid credential (it is read again at each attempt)"
                if credentialFile
                else "give a valid credential (--cer FILE)"
            ),
            delay=self.maxRetryDelay,
        )

    def _whenRegistered(self) -> "Deferred[None]":
        if self.state == REGISTERED:
            return succeed(None)
        d: Deferred[None] = Deferred(lambda d: self._waiters.remove(d) if d in self._waiters else None)
        self._waiters.append(d)
        return d

    def _lost(self, error: BaseException) -> None:
        """
        A request failed in a way that puts the registration in doubt:
        register again (with backoff when the tracker is unreachable).
        """
        if not self.running or self._registering is not None:
            return
        if isinstance(error, AuthenticationRequired):
            self.log.warn(
                "the tracker no longer knows {peerID}; registering again",
                peerID=self.peerID,
            )
            self._setState(CONNECTING)
        elif isinstance(error, TrackerUnavailable):
            self._setState(UNREACHABLE, reason=_reason(error))
        else:
            self.log.warn(
                "the tracker refused a request ({reason}); registering again",
                reason=_reason(error),
            )
            self._setState(CONNECTING)
        self._register()

    async def _guarded(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        """
        Run C{operation} once registered; if the tracker forgot the peer,
        register again and run it once more.
        """
        for attempt in (1, 2):
            await self._whenRegistered()
            try:
                return await operation()
            except AuthenticationRequired as e:
                self._lost(e)
                if attempt == 2:
                    raise
            except TrackerUnavailable as e:
                self._lost(e)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    # Periodic work -------------------------------------------------------------

    def _scheduleKeepAlive(self) -> None:
        self._schedule("keepalive", self.client.keepAliveInterval, self._keepAlive)

    def _keepAlive(self) -> None:
        if self.client.authToken is None:
            # RFC 7846 JSON, in no swarm: nothing to keep alive yet.
            self._scheduleKeepAlive()
            return
        d = self.client.keepAlive()
        d.addCallbacks(lambda _: self._scheduleKeepAlive(), self._failed)

    def _statReport(self) -> None:
        stats = self._stats()
        if stats and self.client.authToken is not None:
            d: Deferred[Any] = self.client.statReport(stats)
        else:
            d = succeed(None)

        def unsupported(failure: Failure) -> None:
            failure.trap(UnsupportedRequest)
            self._warnOnce("stats", "statistics not reported: {reason}", reason=_reason(failure.value))

        d.addErrback(unsupported)
        d.addCallbacks(
            lambda _: self._schedule("stats", self.statReportInterval, self._statReport),
            self._failed,
        )

    def _findAll(self) -> None:
        finds = [self.find(swarmID) for swarmID in list(self.swarms)]
        d = DeferredList(finds, consumeErrors=True)

        def done(results: List[Tuple[bool, Any]]) -> None:
            for ok, result in results:
                if not ok and not result.check(TrackerUnavailable, CancelledError):
                    self.log.warn("FIND failed: {reason}", reason=_reason(result.value))
            if self.state == REGISTERED and self.findInterval is not None:
                self._schedule("find", self.findInterval, self._findAll)

        d.addCallback(done)

    def _scheduleFlush(self) -> None:
        if "chunks" not in self._timers and not self._flushing:
            self._schedule("chunks", self.chunkDelay, self._flush)

    def _flush(self) -> None:
        swarms = [s for s in self._dirty if s in self.swarms]
        self._dirty.clear()
        if not swarms:
            return
        if self.client.rfc7846:
            self._warnOnce("chunks", "RFC 7846 JSON has no JOIN_CHUNK: chunk sets are not announced")
            return
        self._flushing = True
        d = DeferredList(
            [self.client.joinChunk(s, self.chunks.chunks(s)) for s in swarms],
            consumeErrors=True,
        )

        def done(results: List[Tuple[bool, Any]]) -> None:
            self._flushing = False
            lost: Optional[BaseException] = None
            for swarmID, (ok, result) in zip(swarms, results):
                if ok:
                    continue
                if result.check(AuthenticationRequired, TrackerUnavailable):
                    self._dirty.add(swarmID)
                    lost = result.value
                elif not result.check(CancelledError):
                    self.log.warn(
                        "JOIN_CHUNK for swarm {swarmID} failed: {reason}",
                        swarmID=swarmID,
                        reason=_reason(result.value),
                    )
            if lost is not None:
                self._lost(lost)
            elif self._dirty and self.state == REGISTERED:
                self._scheduleFlush()

        d.addCallback(done)

    def _warnOnce(self, key: str, format: str, **fields: Any) -> None:
        """
        Log a warning the first time only.
        """
        if key in self._warned:
            return
        self._warned.add(key)
        self.log.warn(format, **fields)

    def _failed(self, failure: Failure) -> None:
        if failure.check(CancelledError) or failure.value is None:
            return
        self._lost(failure.value)

    # Helpers -------------------------------------------------------------------

    def _stats(self) -> Tuple[Stat, ...]:
        if self.statsSource is None:
            return ()
        return tuple(self.statsSource.stats())

    def _received(self, swarmID: str, peers: Tuple[PeerInfo, ...]) -> None:
        self.log.info(
            "{count} peer(s) for swarm {swarmID}: {peers}",
            count=len(peers),
            swarmID=swarmID,
            peers=", ".join(_describePeer(p) for p in peers) or "none",
            peerList=peers,
        )
        if self.onPeers is not None:
            self.onPeers(swarmID, peers)

    def _schedule(self, name: str, delay: float, f: Callable[[], None]) -> None:
        self._cancelTimer(name)

        def run() -> None:
            del self._timers[name]
            f()

        self._timers[name] = self.clock.callLater(delay, run)

    def _cancelTimer(self, name: str) -> None:
        call = self._timers.pop(name, None)
        if call is not None and call.active():
            call.cancel()

    def _sleep(self, seconds: float) -> "Deferred[None]":
        return deferLater(self.clock, seconds)

    def _setState(self, state: str, reason: str = "") -> None:
        """
        Change state, and log the change (once, not on every attempt).
        """
        if state == self.state:
            return
        previous, self.state = self.state, state
        if state == REGISTERED:
            self.log.info(
                "{peerID} registered with the tracker at {url} in {count} swarm(s)",
                peerID=self.peerID,
                url=self.client.url,
                count=len(self.swarms),
                previous=previous,
            )
        elif state == UNREACHABLE:
            self.log.warn(
                "the tracker at {url} is unreachable ({reason}); retrying with backoff",
                url=self.client.url,
                reason=reason,
            )


#: The key of the warning that the tracker refuses the credential.
_REFUSED = "refused"


def _describePeer(peer: PeerInfo) -> str:
    addresses = " ".join(hostPort(a.ip, a.port) for a in peer.addresses)
    return f"{peer.peerID} ({peer.mode.value} {addresses})"


def _reason(error: Optional[BaseException]) -> str:
    return str(error) or type(error).__name__
