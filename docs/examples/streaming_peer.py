"""
A small streaming peer embedded in a Twisted program: the tutorial of
docs/peer-tutorial.rst.

It stands for a live player: every second it "receives" the next chunk of
the stream, tells the tracker which chunks it holds, reports how much it
has downloaded, answers the tracker's STAT_QUERY, and every few seconds
asks the tracker for peers that hold the chunk it will need next.

Run it against a tracker::

    python docs/examples/streaming_peer.py http://127.0.0.1:7000/ peer-a live-1
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Tuple

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from ppsp.interfaces import IStatsSource
from ppsp.messages import PeerInfo, Stat
from ppsp.peer import ChunkSet, PeerService, StatQueryResource, TrackerClient, statQuerySite

log = Logger(namespace="streaming_peer")


@implementer(IStatsSource)
class PlayerStats:
    """
    The player's statistics, read by STAT_REPORT and STAT_QUERY.
    """

    def __init__(self) -> None:
        self.downloaded = 0
        self.position = 0

    def stats(self) -> Tuple[Stat, ...]:
        return (
            Stat("DownloadedBytes", str(self.downloaded)),
            Stat("PlaybackPosition", str(self.position)),
            Stat("UploadBandwidth", "2000"),
        )


class Player:
    """
    Pretends to receive one chunk a second and to play it.
    """

    chunkSize = 64 * 1024

    def __init__(self, swarmID: str, peer: PeerService, stats: PlayerStats, chunks: ChunkSet) -> None:
        self.swarmID = swarmID
        self.peer = peer
        self.stats = stats
        self.chunks = chunks
        self.next = 0

    def tick(self) -> None:
        """
        One chunk more: the service sends JOIN_CHUNK a moment later.
        """
        self.chunks.add(self.swarmID, self.next)
        self.stats.downloaded += self.chunkSize
        self.stats.position = self.next
        self.next += 1

    def lookAhead(self) -> "Deferred[Tuple[PeerInfo, ...]]":
        """
        Ask for peers holding the chunk after the current one.
        """
        d = self.peer.find(self.swarmID, peerNum=5, chunkID=self.next)

        def found(peers: Tuple[PeerInfo, ...]) -> Tuple[PeerInfo, ...]:
            log.info(
                "found {count} peer(s) holding chunk {chunk}",
                count=len(peers),
                chunk=self.next,
            )
            return peers

        def failed(failure: Any) -> Tuple[PeerInfo, ...]:
            log.warn("no peers this time: {reason}", reason=failure.getErrorMessage())
            return ()

        return d.addCallbacks(found, failed)


class Loops(Service):
    """
    Run functions every so many seconds while the service runs.
    """

    def __init__(self, clock: Any, *calls: Tuple[Callable[[], Any], float]) -> None:
        self.loops = []
        for f, interval in calls:
            loop = LoopingCall(f)
            loop.clock = clock
            self.loops.append((loop, interval))

    def startService(self) -> None:
        super().startService()
        for loop, interval in self.loops:
            loop.start(interval, now=False)

    def stopService(self) -> Any:
        for loop, _ in self.loops:
            if loop.running:
                loop.stop()
        return super().stopService()


def makePeer(
    http: Any, clock: Any, trackerURL: str, peerID: str, swarmID: str
) -> Tuple[MultiService, Player]:
    """
    Build the peer: its tracker client, its service and its player.

    @param http: a treq HTTPClient (a real one in main(), a fake in tests).
    @param clock: the reactor, or a Clock in tests.
    """
    stats = PlayerStats()
    chunks = ChunkSet()
    client = TrackerClient(http, trackerURL, peerID, clock)
    peer = PeerService(
        client,
        clock,
        [swarmID],
        statsSource=stats,
        chunkSource=chunks,
        statReportInterval=30,
    )
    player = Player(swarmID, peer, stats, chunks)
    top = MultiService()
    peer.setServiceParent(top)
    Loops(clock, (player.tick, 1.0), (player.lookAhead, 5.0)).setServiceParent(top)
    return top, player


def main(reactor: Any, trackerURL: str, peerID: str, swarmID: str) -> "Deferred[None]":
    """
    Run the peer until interrupted (Ctrl-C says goodbye to the tracker).
    """
    from twisted.logger import globalLogBeginner, textFileLogObserver

    from ppsp.peer import makeHTTPClient

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    http, pool = makeHTTPClient(reactor)
    top, player = makePeer(http, reactor, trackerURL, peerID, swarmID)

    # Answer STAT_QUERY on a port of our choice, announced at CONNECT.
    def listening(port: Any) -> None:
        player.peer.statPort = port.getHost().port
        top.startService()

    site = statQuerySite(StatQueryResource(peerID, player.stats))
    d = serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(site)
    d.addCallback(listening)
    reactor.addSystemEventTrigger("before", "shutdown", top.stopService)
    reactor.addSystemEventTrigger("after", "shutdown", pool.closeCachedConnections)
    return Deferred()  # run until the reactor stops


if __name__ == "__main__":
    from twisted.internet.task import react

    react(main, sys.argv[1:4])
