# -*- test-case-name: ppsp.test.test_storecontract -*-
"""
A second L{IPeerStore}, different from the memory store on purpose, so
that the store contract (L{ppsp.testing.PeerStoreContractTests}) and the
code above the store are tested against more than one store.

L{CopyingPeerStore} wraps another store (a L{MemoryPeerStore
<ppsp.tracker.store.MemoryPeerStore>}) and behaves as a store in another
process would:

  - it deep-copies every argument on the way in and every value on the
    way out, so that code that relies on sharing objects with the store
    (changing a value it read, keeping what it passed in) fails;
  - its Deferreds fire on a later turn of the clock it is given
    (C{callLater(0, ...)}), so that callers must really wait for them;
  - its L{lookup<CopyingPeerStore.lookup>} answers a
    L{SnapshotSwarmView} that holds only the members a networked store
    would fetch: C{count} chosen at random (among the holders of the chunk
    asked for, if any), every SEED and LIVESEED member, and the
    requester's own membership.
"""

from __future__ import annotations

import copy
import random as _random
from typing import Dict, Mapping, Optional, Sequence, Tuple, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from zope.interface import implementer

from ppsp.interfaces import IPeerStore, IStoreCosts, ISwarmView
from ppsp.messages import ChunkRange, PeerAddress, PeerMode
from ppsp.tracker.snapshot import SnapshotSwarmView
from ppsp.tracker.values import (
    Expired,
    PeerState,
    Session,
    StatsUpdate,
    StatValue,
    SwarmMember,
    SwarmState,
)

__all__ = ["CopyingPeerStore"]

T = TypeVar("T")

_copy = copy.deepcopy


@implementer(IStoreCosts)
class _CopyingCosts:
    """
    Another store's cost model, given copies of the arguments.
    """

    def __init__(self, costs: IStoreCosts) -> None:
        self._costs = costs

    def recordCost(self, peerID: str, observedIP: str, addresses: Sequence[PeerAddress]) -> int:
        return self._costs.recordCost(peerID, observedIP, _copy(addresses))

    def memberCost(self, swarmID: str) -> int:
        return self._costs.memberCost(swarmID)

    def chunksCost(self, ranges: Tuple[ChunkRange, ...]) -> int:
        return self._costs.chunksCost(_copy(ranges))

    def statsCost(
        self, kept: Optional[Mapping[str, StatValue]], values: Mapping[str, StatValue]
    ) -> int:
        return self._costs.statsCost(_copy(kept), _copy(values))


@implementer(IPeerStore)
class CopyingPeerStore:
    """
    An L{IPeerStore} that keeps its state in another store and shares no
    object with its callers, answers on a later turn of C{clock}, and
    gives partial views.

    @param store: the store that keeps the state.
    @param clock: the clock on whose next turn each Deferred fires.
    @param random: the random source of the views' sampling.
    """

    def __init__(self, store: IPeerStore, clock: IReactorTime, random: _random.Random) -> None:
        self._store = store
        self._clock = clock
        self._random = random
        self.costs: IStoreCosts = _CopyingCosts(store.costs)

    def _later(self, d: "Deferred[T]", copied: bool = True) -> "Deferred[T]":
        """
        A Deferred that fires with a copy of C{d}'s result (the result
        itself when not C{copied}), or its failure, on the next turn of
        the clock after C{d} fires.
        """
        later: Deferred[T] = Deferred()

        def fired(value: T) -> None:
            self._clock.callLater(0, later.callback, _copy(value) if copied else value)

        def failed(failure: Failure) -> None:
            self._clock.callLater(0, later.errback, failure)

        d.addCallbacks(fired, failed)
        return later

    # Reads -----------------------------------------------------------------

    def peer(self, peerID: str) -> "Deferred[Optional[PeerState]]":
        return self._later(self._store.peer(peerID))

    def lookup(
        self, peerID: str, swarmID: str, count: int, chunkID: Optional[int]
    ) -> "Deferred[Tuple[Optional[PeerState], Optional[ISwarmView]]]":
        """
        The peer, and a L{SnapshotSwarmView} of the members a networked
        store would fetch.
        """
        return self._later(
            Deferred.fromCoroutine(self._lookup(peerID, swarmID, count, chunkID)),
            copied=False,
        )

    async def _lookup(
        self, peerID: str, swarmID: str, count: int, chunkID: Optional[int]
    ) -> Tuple[Optional[PeerState], Optional[ISwarmView]]:
        peer, view = await self._store.lookup(peerID, swarmID, count, chunkID)
        peer = _copy(peer)
        if view is None:
            return peer, None
        fetched = view.sampleHolders(chunkID, count) if chunkID is not None else view.sample(count)
        wanted: Dict[str, None] = dict.fromkeys(m.peerID for m in fetched)
        for mode in (PeerMode.SEED, PeerMode.LIVESEED):
            wanted.update(dict.fromkeys(m.peerID for m in view.modeMembers(mode)))
        own = view.membership(peer) if peer is not None else None
        if own is not None:
            wanted[own.peerID] = None
        members = []
        for memberID in wanted:
            state = await self._store.peer(memberID)
            if state is not None and swarmID in state.swarms:
                state = _copy(state)
                members.append(SwarmMember.of(state, state.swarms[swarmID]))
        return peer, SnapshotSwarmView(swarmID, len(view), members, self._random)

    def usage(self, ip: str) -> "Deferred[Tuple[int, int, int]]":
        return self._later(self._store.usage(ip))

    def swarm(self, swarmID: str) -> "Deferred[Optional[SwarmState]]":
        return self._later(self._store.swarm(swarmID))

    def peers(self) -> "Deferred[Sequence[PeerState]]":
        return self._later(self._store.peers())

    def swarms(self) -> "Deferred[Sequence[SwarmState]]":
        return self._later(self._store.swarms())

    def counts(self) -> "Deferred[Tuple[int, int]]":
        return self._later(self._store.counts())

    def reachable(self) -> "Deferred[bool]":
        return self._later(self._store.reachable())

    # Writes ----------------------------------------------------------------

    def register(self, session: Session, stats: Mapping[str, StatValue]) -> "Deferred[bool]":
        return self._later(self._store.register(_copy(session), _copy(stats)))

    def takeOver(self, session: Session, replacing: str, stats: StatsUpdate) -> "Deferred[bool]":
        return self._later(self._store.takeOver(_copy(session), replacing, _copy(stats)))

    def touch(self, peerID: str, deadline: float) -> "Deferred[bool]":
        return self._later(self._store.touch(peerID, deadline))

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
        return self._later(
            self._store.join(peerID, swarmID, mode, expireAt, _copy(stats), deadline, now)
        )

    def leave(self, peerID: str, swarmID: str, deadline: float, now: float) -> "Deferred[bool]":
        return self._later(self._store.leave(peerID, swarmID, deadline, now))

    def setChunks(
        self, peerID: str, swarmID: str, ranges: Tuple[ChunkRange, ...], deadline: float
    ) -> "Deferred[bool]":
        return self._later(self._store.setChunks(peerID, swarmID, _copy(ranges), deadline))

    def keepStats(
        self, peerID: str, stats: StatsUpdate, deadline: Optional[float]
    ) -> "Deferred[bool]":
        return self._later(self._store.keepStats(peerID, _copy(stats), deadline))

    def disconnect(self, peerID: str, now: float) -> "Deferred[Optional[PeerState]]":
        return self._later(self._store.disconnect(peerID, now))

    def addSwarm(self, swarmID: str, provisioned: bool, now: float) -> "Deferred[bool]":
        return self._later(self._store.addSwarm(swarmID, provisioned, now))

    def removeSwarm(self, swarmID: str, now: float) -> "Deferred[Optional[int]]":
        return self._later(self._store.removeSwarm(swarmID, now))

    def expire(self, now: float, emptySwarmLifetime: float) -> "Deferred[Expired]":
        return self._later(self._store.expire(now, emptySwarmLifetime))
