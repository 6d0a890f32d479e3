"""
The benchmark population: who the peers are, which swarm each joins, in
which mode, from which addresses and with which chunks.  Shared by
C{populate.py} (over HTTP), C{memory.py} and C{find_cost.py} (in process),
so that every benchmark measures the same kind of peer.

Peer C{i} is slot C{i % perSwarm} of swarm C{i // perSwarm}:

  - the first fifth of each swarm's slots are SEEDs holding every chunk of
    the swarm (chunks 0 to L{CHUNKS} - 1), the rest LEECHes, of which two
    in five announce a part of the swarm (a range from 0 and two single
    chunks);
  - every peer announces a public HOST address in 198.18.0.0/15 (the
    range RFC 2544 sets aside for benchmarks); three in ten also announce
    a private 192.168/16 address (a peer behind a NAT);
  - half the peers describe themselves at CONNECT (UploadBandwidth,
    AbilityNAT).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterator, Optional, Tuple

from ppsp.messages import (
    ChunkRange,
    ConnectRequest,
    JoinChunkRequest,
    JoinRequest,
    PeerAddress,
    PeerMode,
    Stat,
)

#: Chunks per swarm.
CHUNKS = 1024


def peerID(i: int) -> str:
    """
    A 20-character PeerID, like a BitTorrent peer id in hex.
    """
    return hashlib.sha1(b"peer-%d" % i).hexdigest()[:20]


def swarmID(s: int) -> str:
    """
    A 40-character SwarmID, like an info hash in hex.
    """
    return hashlib.sha1(b"swarm-%d" % s).hexdigest()


@dataclass(frozen=True)
class BenchPeer:
    index: int
    peerID: str
    swarmID: str
    mode: PeerMode
    addresses: Tuple[PeerAddress, ...]
    stats: Tuple[Stat, ...]
    chunks: Optional[Tuple[ChunkRange, ...]]

    def connect(self, tid: str, token: Optional[str] = None) -> ConnectRequest:
        return ConnectRequest(
            tid, self.peerID, token, addresses=self.addresses, stats=self.stats
        )

    def join(self, tid: str, token: str) -> JoinRequest:
        return JoinRequest(
            tid,
            self.peerID,
            token,
            swarmID=self.swarmID,
            mode=self.mode,
            peerNum=30 if self.mode is PeerMode.LEECH else None,
        )

    def joinChunk(self, tid: str, token: str) -> Optional[JoinChunkRequest]:
        if self.chunks is None:
            return None
        return JoinChunkRequest(
            tid, self.peerID, token, swarmID=self.swarmID, chunks=self.chunks
        )


def benchPeer(i: int, perSwarm: int = 50) -> BenchPeer:
    """
    Peer C{i} of the population.
    """
    s, slot = divmod(i, perSwarm)
    seeds = max(1, perSwarm // 5)
    mode = PeerMode.SEED if slot < seeds else PeerMode.LEECH
    port = 6881 + i % 1000
    public = PeerAddress(
        f"198.{18 + (i >> 16) % 2}.{(i >> 8) & 255}.{i & 255}", port, priority=1
    )
    if i % 10 < 3:
        private = PeerAddress(f"192.168.{s % 250}.{slot % 250 + 2}", port, priority=2)
        addresses: Tuple[PeerAddress, ...] = (public, private)
    else:
        addresses = (public,)
    stats: Tuple[Stat, ...] = ()
    if i % 2 == 0:
        stats = (
            Stat("UploadBandwidth", str(1000 + (i * 7919) % 50000)),
            Stat("AbilityNAT", ("NO_NAT", "STUN", "TURN")[i % 3]),
        )
    chunks: Optional[Tuple[ChunkRange, ...]] = None
    if mode is PeerMode.SEED:
        chunks = (ChunkRange(0, CHUNKS - 1),)
    elif i % 5 < 2:
        have = (i * 104729) % (CHUNKS // 2)
        chunks = (
            ChunkRange(0, have),
            ChunkRange(have + 100, have + 100),
            ChunkRange(have + 300, have + 300),
        )
    return BenchPeer(i, peerID(i), swarmID(s), mode, addresses, stats, chunks)


def population(swarms: int, perSwarm: int) -> Iterator[BenchPeer]:
    """
    Every peer of C{swarms} swarms of C{perSwarm} peers.
    """
    for i in range(swarms * perSwarm):
        yield benchPeer(i, perSwarm)
