# -*- test-case-name: ppsp.test.test_store -*-
"""
The values a peer store (L{IPeerStore<ppsp.interfaces.IPeerStore>}) gives
and takes: immutable, compared by their IDs (a PeerID, a SwarmID), never
by identity.  A store builds them from whatever it keeps (objects in
memory, hashes in Redis, rows in a database); the tracker core reads them
and asks the store for explicit writes, never changing a value.

They are named tuples: cheap to build (a store builds one for every
request it answers) and immutable.  The mappings they hold (statistics,
memberships) must not be changed by anyone: a store hands out a new
mapping when the state changes, never the one it goes on changing.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, Mapping, NamedTuple, Optional, Tuple, Union

from zope.interface import implementer

from ppsp.interfaces import IRequester, ISwarmMember
from ppsp.messages import ChunkRange, PeerAddress, PeerMode

if TYPE_CHECKING:
    from ppsp.tracker.credentials import SessionIdentity

__all__ = [
    "StatValue",
    "StatsUpdate",
    "Session",
    "MemberState",
    "PeerState",
    "SwarmState",
    "SwarmMember",
    "Expired",
    "holds",
]

#: A kept statistics value: an L{int} for numeric properties, else a L{str}.
StatValue = Union[int, str]

#: Statistics to merge, by where they are kept: the peer's own (key
#: L{None}), or the peer's membership of a swarm (key: the SwarmID); for
#: each, property name to value.  Merging keeps the latest value of each
#: property.
StatsUpdate = Mapping[Optional[str], Mapping[str, StatValue]]

_EMPTY: Mapping[str, StatValue] = {}


class Session(NamedTuple):
    """
    What a CONNECT sets: one peer's session, without its memberships and
    statistics.

    @ivar peerID: the PeerID.
    @ivar token: the session's AuthToken.
    @ivar observedIP: the IP address the tracker observed at CONNECT.
    @ivar observedPort: the port the tracker observed at CONNECT.
    @ivar addresses: the addresses the peer announced.
    @ivar statPort: the port on which the peer answers STAT_QUERY, or
        L{None}.
    @ivar connectedAt: when the session began (clock seconds).
    @ivar deadline: when the session expires unless the peer is heard
        from (clock seconds).
    @ivar identity: what authenticated the session (a
        L{SessionIdentity<ppsp.tracker.credentials.SessionIdentity>}), or L{None}
        for a session of the C{open} scheme without a TLS client
        certificate.
    """

    peerID: str
    token: str
    observedIP: str
    observedPort: int
    addresses: Tuple[PeerAddress, ...]
    statPort: Optional[int]
    connectedAt: float
    deadline: float
    identity: Optional[SessionIdentity] = None


class MemberState(NamedTuple):
    """
    One peer's membership of one swarm.

    @ivar swarmID: the SwarmID.
    @ivar mode: the peer's L{PeerMode} in the swarm.
    @ivar expireAt: when the membership ends (clock seconds), or L{None}.
    @ivar chunks: the chunk ranges the peer holds there, merged and sorted.
    @ivar stats: the latest swarm-scoped statistics.
    """

    swarmID: str
    mode: PeerMode
    expireAt: Optional[float] = None
    chunks: Tuple[ChunkRange, ...] = ()
    stats: Mapping[str, StatValue] = _EMPTY

    def current(self, now: float) -> bool:
        """
        Whether the membership has not ended at C{now}.
        """
        return self.expireAt is None or self.expireAt > now


@implementer(IRequester)
class PeerState(NamedTuple):
    """
    One registered peer, as a store answers it: the session (the fields of
    L{Session}), the peer's own statistics, its memberships, and what the
    store holds for it.  It is an L{IRequester}.

    @ivar stats: the latest peer-scoped statistics.
    @ivar swarms: the peer's memberships, by SwarmID.
    @ivar held: the bytes the store holds for the peer (its record,
        memberships, chunk sets and statistics), by the store's cost model
        (L{IStoreCosts<ppsp.interfaces.IStoreCosts>}).
    @ivar addressHeld: the bytes the store holds for every session of the
        peer's source address together (L{ppsp.tracker.addresses.addressKey}),
        for the memory budget of an address.
    """

    peerID: str
    token: str
    observedIP: str
    observedPort: int
    addresses: Tuple[PeerAddress, ...]
    statPort: Optional[int]
    connectedAt: float
    deadline: float
    identity: Optional[SessionIdentity] = None
    stats: Mapping[str, StatValue] = _EMPTY
    swarms: Mapping[str, MemberState] = {}
    held: int = 0
    addressHeld: int = 0

    def stat(self, name: str) -> Optional[StatValue]:
        """
        The latest peer-scoped value of a property, or L{None}.
        """
        return self.stats.get(name)

    def alive(self, now: float) -> bool:
        """
        Whether the session has not expired at C{now}.
        """
        return self.deadline > now

    @property
    def session(self) -> Session:
        """
        The session's own fields.
        """
        return Session(*self[:9])



class SwarmState(NamedTuple):
    """
    One swarm, as a store answers it for operators' views.

    @ivar swarmID: the SwarmID.
    @ivar provisioned: whether the operator provisioned it (it is then
        never forgotten, even when empty).
    @ivar size: its number of members.
    @ivar emptySince: when it last became empty (clock seconds), or L{None}
        while it has members.
    @ivar modes: its number of members in each L{PeerMode} (modes with no
        member are left out).
    """

    swarmID: str
    provisioned: bool
    size: int
    emptySince: Optional[float]
    modes: Mapping[PeerMode, int] = {}


@implementer(ISwarmMember)
class SwarmMember(NamedTuple):
    """
    One member of a swarm as a value, for the views of stores that fetch
    members (L{SnapshotSwarmView<ppsp.tracker.snapshot.SnapshotSwarmView>}):
    an L{ISwarmMember}.

    @ivar peerStats: the peer's own statistics, which L{stat} reads when
        the membership has no value of its own.
    """

    peerID: str
    swarmID: str
    mode: PeerMode
    observedIP: str
    observedPort: int
    addresses: Tuple[PeerAddress, ...]
    connectedAt: float
    deadline: float
    chunks: Tuple[ChunkRange, ...] = ()
    stats: Mapping[str, StatValue] = _EMPTY
    peerStats: Mapping[str, StatValue] = _EMPTY

    def stat(self, name: str) -> Optional[StatValue]:
        """
        The latest value of a property: swarm-scoped first, then the peer's.
        """
        value = self.stats.get(name)
        return value if value is not None else self.peerStats.get(name)

    def holds(self, chunkID: int) -> bool:
        """
        Whether the member announced C{chunkID} in this swarm.
        """
        return holds(self.chunks, chunkID)

    @property
    def contact(self) -> Tuple[Tuple[PeerAddress, ...], str, int]:
        """
        C{(addresses, observedIP, observedPort)} (L{ISwarmMember.contact}).
        """
        return (self.addresses, self.observedIP, self.observedPort)

    @classmethod
    def of(cls, peer: "PeerState", member: MemberState) -> "SwarmMember":
        """
        The member that C{peer}'s membership C{member} makes, with the
        earlier of the session's deadline and the membership's ExpireTime
        as its deadline.
        """
        deadline = peer.deadline
        if member.expireAt is not None and member.expireAt < deadline:
            deadline = member.expireAt
        return cls(
            peer.peerID,
            member.swarmID,
            member.mode,
            peer.observedIP,
            peer.observedPort,
            peer.addresses,
            peer.connectedAt,
            deadline,
            member.chunks,
            member.stats,
            peer.stats,
        )



class Expired(NamedTuple):
    """
    What one call of L{IPeerStore.expire<ppsp.interfaces.IPeerStore.expire>}
    took out of a store: each of them is reported by one call only, even
    when several trackers share the store.

    @ivar peers: the sessions that expired (each with the memberships it
        ended).
    @ivar members: the memberships whose ExpireTime passed, as (SwarmID,
        PeerID) pairs.
    @ivar swarms: the SwarmIDs of the swarms forgotten because they stayed
        empty.
    """

    peers: Tuple[PeerState, ...] = ()
    members: Tuple[Tuple[str, str], ...] = ()
    swarms: Tuple[str, ...] = ()


def _rangeStart(r: ChunkRange) -> int:
    return r.start


def holds(chunks: Tuple[ChunkRange, ...], chunkID: int) -> bool:
    """
    Whether the merged, sorted ranges C{chunks} contain C{chunkID}, in
    O(log ranges).
    """
    if not chunks:
        return False
    i = bisect_right(chunks, chunkID, key=_rangeStart) - 1
    return i >= 0 and chunks[i].end >= chunkID
