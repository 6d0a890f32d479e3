"""
Helpers for the in-process benchmarks (no HTTP, no reactor): a L{Tracker}
on a L{Clock} and the population of L{population} registered through
C{tracker.handle}, as the HTTP resource would do it.  With the memory
store, the L{Deferred} that C{tracker.handle} (and every store call)
returns has fired when it returns: L{fired} takes its result.
"""

from __future__ import annotations

import itertools
import random
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from population import BenchPeer

from population import CHUNKS

from ppsp.messages import (
    ConnectResponse,
    ErrorResponse,
    FindChunkRequest,
    FindRequest,
    JoinRequest,
    KeepAliveRequest,
    PeerMode,
    Request,
    Response,
    Stat,
    StatReportRequest,
)
from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.store import MemoryPeerStore
from ppsp.tracker.retry import MemoryRetryCache

#: Every benchmark peer talks from one public address, as behind one NAT;
#: its peers then see the REFLEXIVE address (one per entry), as on the
#: loopback benchmark.
ORIGIN = Origin("198.51.100.7", 40000)

_tids = itertools.count(1)

T = TypeVar("T")


def fired(d: "Deferred[T]") -> T:
    """
    The result of a L{Deferred} that has fired already (the tracker's and
    the memory store's), taken synchronously; its failure is raised.

    @raise RuntimeError: it has not fired (something answered
        asynchronously, which a benchmark of the memory store does not
        expect).
    """
    results: List[Any] = []
    d.addBoth(results.append)
    if not results:
        raise RuntimeError("the tracker answered asynchronously")
    result = results[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result  # type: ignore[no-any-return]


def tid() -> str:
    """
    A fresh TransactionID, so that the retry cache never answers.
    """
    return "t%d" % next(_tids)


def makeTracker(**config: Any) -> Tuple[Tracker, Clock]:
    """
    A tracker on a L{Clock}; every benchmark peer talks from L{ORIGIN}, so
    the per-address session cap and memory budget are off unless asked
    for.
    """
    config.setdefault("maxSessionsPerAddress", 0)
    config.setdefault("maxAddressMemory", 0)
    clock = Clock()
    clock.advance(1_000_000)
    tracker = Tracker(
        clock, TrackerConfig(**config), store=MemoryPeerStore(random=random.Random(7))
    )
    return tracker, clock


def send(tracker: Tracker, request: Request, origin: Origin = ORIGIN) -> Response:
    """
    Hand a request to the tracker; fail on anything but OK.
    """
    response = fired(tracker.handle(request, origin))
    if isinstance(response, ErrorResponse):
        raise RuntimeError(f"{request!r} got {response!r}")
    return response


def clearRetryCache(tracker: Tracker) -> None:
    """
    Empty the retry cache, so that what is measured next is not the cache.
    """
    cache = tracker.retryCache
    if isinstance(cache, MemoryRetryCache):
        cache.clear()


def register(
    tracker: Tracker,
    peers: Iterable[BenchPeer],
    join: bool = True,
    chunks: bool = True,
) -> Dict[str, str]:
    """
    CONNECT (and JOIN, and JOIN_CHUNK) every peer.

    @return: AuthToken by PeerID.
    """
    tokens = {}
    for n, peer in enumerate(peers):
        answer = send(tracker, peer.connect(tid()))
        assert isinstance(answer, ConnectResponse)
        token = tokens[peer.peerID] = answer.authToken
        if join:
            send(tracker, peer.join(tid(), token))
            if chunks:
                request = peer.joinChunk(tid(), token)
                if request is not None:
                    send(tracker, request)
        if n % 20000 == 19999:
            clearRetryCache(tracker)
    clearRetryCache(tracker)
    return tokens


def timePerCall(
    make: Callable[[int], Any],
    call: Callable[[Any], Any],
    n: int,
    batches: int = 5,
    prepare: Optional[Callable[[], None]] = None,
) -> Tuple[float, List[float]]:
    """
    Time C{call(make(i))} for C{n} arguments made beforehand, in
    C{batches} batches; return the median of the batches' microseconds
    per call, and all of them.  The time is this process's CPU time, so
    that other processes scheduled on the same core do not count.
    """
    results = []
    for _ in range(batches):
        args = [make(i) for i in range(n)]
        if prepare is not None:
            prepare()
        started = time.process_time()
        for a in args:
            call(a)
        results.append(1e6 * (time.process_time() - started) / n)
    ordered = sorted(results)
    return ordered[len(ordered) // 2], results


#: The weights of mixed.lua.
WEIGHTS = {
    "KEEPALIVE": 40,
    "FIND": 20,
    "FIND_CHUNK": 5,
    "STAT_REPORT": 20,
    "JOIN": 10,
    "CONNECT": 5,
}


class MixedLoad:
    """
    The requests of C{mixed.lua} for a registered population: CONNECT (a
    takeover) by the last peer of each swarm in turn, JOIN by a LEECH,
    and the other methods by any other peer, chosen at random.

    @ivar tokens: AuthToken by PeerID; a caller that applies a CONNECT
        keeps the new token here.
    """

    def __init__(self, peers: List[BenchPeer], tokens: Dict[str, str], perSwarm: int) -> None:
        self.tokens = tokens
        self.connectors = [p for p in peers if p.index % perSwarm == perSwarm - 1]
        self.others = [p for p in peers if p.index % perSwarm != perSwarm - 1]
        self.leeches = [p for p in self.others if p.mode is PeerMode.LEECH]
        self.random = random.Random(1)
        self._methods = [m for m, w in WEIGHTS.items() for _ in range(w)]
        self._nextConnect = 0

    def any(self) -> Request:
        """
        A request of a method drawn with the weights of L{WEIGHTS}.
        """
        return self.make(self.random.choice(self._methods))

    def make(self, method: str) -> Request:
        """
        A request of C{method}.
        """
        tokens = self.tokens
        rnd = self.random
        if method == "CONNECT":
            p = self.connectors[self._nextConnect % len(self.connectors)]
            self._nextConnect += 1
            return p.connect(tid(), tokens[p.peerID])
        if method == "JOIN":
            p = rnd.choice(self.leeches)
            return JoinRequest(
                tid(), p.peerID, tokens[p.peerID], swarmID=p.swarmID,
                mode=PeerMode.LEECH, peerNum=30,
            )
        p = rnd.choice(self.others)
        token = tokens[p.peerID]
        if method == "KEEPALIVE":
            return KeepAliveRequest(tid(), p.peerID, token)
        if method == "FIND":
            return FindRequest(tid(), p.peerID, token, swarmID=p.swarmID, peerNum=30)
        if method == "FIND_CHUNK":
            return FindChunkRequest(
                tid(), p.peerID, token, swarmID=p.swarmID, peerNum=30,
                chunkID=rnd.randrange(CHUNKS),
            )
        return StatReportRequest(
            tid(), p.peerID, token,
            stats=(
                Stat("UploadedBytes", str(rnd.randrange(2_000_000_000)), p.swarmID),
                Stat("DownloadedBytes", str(rnd.randrange(2_000_000_000)), p.swarmID),
                Stat("AvailBandwidth", str(rnd.randrange(100, 50_000))),
                Stat("ConcurrentLinks", str(rnd.randrange(80))),
            ),
        )
