"""
Swarms for the strategy tests, built through the public writes of a peer
store (L{IPeerStore.register<ppsp.interfaces.IPeerStore.register>},
C{join}, C{setChunks}, C{keepStats}) and read back through its public
reads (C{lookup}, C{peers}), never through a store's own classes; and the
same swarm as a L{SnapshotSwarmView}, the view a networked store gives.
"""

from __future__ import annotations

import random as _random
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple, cast

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from ppsp.interfaces import IPeerSelector, IPeerStore, ISwarmMember, ISwarmView
from ppsp.messages import ChunkRange, PeerMode
from ppsp.tracker.core import FindConstraints, mergeRanges
from ppsp.tracker.snapshot import SnapshotSwarmView
from ppsp.tracker.values import PeerState, Session, StatValue, SwarmMember

__all__ = ["SwarmBuilder"]

_NO_STATS: Mapping[str, StatValue] = {}


class SwarmBuilder:
    """
    Peers and their memberships in a store, written the way the tracker
    writes them, on a clock.

    @ivar store: the store filled.
    @ivar clock: the time of every write (and of the constraints).
    @ivar timeout: the seconds a session lives unless touched again.
    @ivar result: what gives the result of one of the store's
        L{Deferred}s: by default the test's C{successResultOf}, for a store
        that answers at once; for a store that answers over a network, a
        function that waits for the answer first.
    """

    def __init__(
        self,
        testCase: SynchronousTestCase,
        store: IPeerStore,
        clock: Clock,
        timeout: float = 180.0,
        result: Optional[Callable[["Deferred[Any]"], Any]] = None,
    ) -> None:
        self.testCase = testCase
        self.store = store
        self.clock = clock
        self.timeout = timeout
        self.result = result if result is not None else testCase.successResultOf

    def peer(
        self,
        peerID: str,
        mode: PeerMode = PeerMode.LEECH,
        ip: str = "198.51.100.1",
        chunks: Sequence[ChunkRange] = (),
        stats: Mapping[str, StatValue] = _NO_STATS,
        swarmStats: Mapping[str, StatValue] = _NO_STATS,
        swarm: str = "s",
        port: int = 40000,
    ) -> Session:
        """
        Register C{peerID} from C{ip}:C{port} with its own statistics
        C{stats}, unless it is registered already (its statistics are then
        merged); make it a member of C{swarm} in C{mode} (again, when it is
        one: the mode changes) with the swarm-scoped C{swarmStats}; and
        set its chunk set there to C{chunks} when given.

        @return: the peer's session.
        """
        result = self.result
        now = self.clock.seconds()
        deadline = now + self.timeout
        known = result(self.store.peer(peerID))
        if known is None:
            session = Session(
                peerID, f"token-{peerID}", ip, port, (), None, now, deadline
            )
            self.testCase.assertTrue(result(self.store.register(session, stats)))
        else:
            session = known.session
            if stats:
                self.testCase.assertTrue(
                    result(self.store.keepStats(peerID, {None: stats}, deadline))
                )
        self.testCase.assertTrue(
            result(
                self.store.join(
                    peerID, swarm, mode, None, {swarm: swarmStats}, deadline, now
                )
            )
        )
        if chunks:
            self.testCase.assertTrue(
                result(self.store.setChunks(peerID, swarm, mergeRanges(chunks), deadline))
            )
        return session

    def view(
        self, peerID: str, swarm: str = "s", count: int = 30, chunkID: Optional[int] = None
    ) -> Tuple[PeerState, ISwarmView]:
        """
        What a FIND of C{peerID} reads (L{IPeerStore.lookup}): the
        requester and the store's view of C{swarm}.
        """
        peer, view = self.result(
            self.store.lookup(peerID, swarm, count, chunkID)
        )
        assert peer is not None, f"{peerID!r} is not registered"
        assert view is not None, f"no swarm {swarm!r}"
        return peer, view

    def constraints(
        self, requester: PeerState, chunkID: Optional[int] = None
    ) -> FindConstraints:
        """
        The tracker's constraints of a FIND from C{requester}, now (no
        statistics constraints).
        """
        return FindConstraints(chunkID, (), (), self.clock.seconds(), requester.peerID)

    def members(self, swarm: str = "s") -> List[SwarmMember]:
        """
        Every member of C{swarm}, as values made from what the store
        answers for each registered peer (L{IPeerStore.peers}), in PeerID
        order.
        """
        peers = self.result(self.store.peers())
        return [
            SwarmMember.of(p, p.swarms[swarm])
            for p in sorted(peers, key=lambda p: p.peerID)
            if swarm in p.swarms
        ]

    def snapshot(
        self,
        swarm: str = "s",
        keep: Optional[Callable[[SwarmMember], bool]] = None,
        seed: int = 0,
    ) -> SnapshotSwarmView:
        """
        C{swarm} as a networked store would hand it out: a
        L{SnapshotSwarmView} over value members, holding only those
        C{keep} takes (every one when L{None}), with the swarm's real size.
        """
        members = self.members(swarm)
        held = [m for m in members if keep is None or keep(m)]
        return SnapshotSwarmView(swarm, len(members), held, _random.Random(seed))

    def select(
        self,
        selector: IPeerSelector,
        peerID: str,
        count: int,
        chunkID: Optional[int] = None,
        view: Optional[ISwarmView] = None,
        swarm: str = "s",
    ) -> List[ISwarmMember]:
        """
        Ask C{selector} directly (not through the tracker) for C{count}
        members for C{peerID}, with the tracker's constraints, from the
        store's view of C{swarm} or from C{view}; its answer must be
        there at once.
        """
        requester, stored = self.view(peerID, swarm, count, chunkID)
        # IPeerSelector.select answers with a list or a Deferred: either
        # way, maybeDeferred gives a Deferred of the list.
        answer = cast(
            "Deferred[Sequence[ISwarmMember]]",
            maybeDeferred(
                selector.select,
                view if view is not None else stored,
                requester,
                count,
                self.constraints(requester, chunkID),
            ),
        )
        chosen = self.testCase.successResultOf(answer)
        return list(chosen)
