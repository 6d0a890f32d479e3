# -*- test-case-name: ppsp.test.test_snapshot -*-
"""
A swarm view over members fetched from a store: what a networked
L{IPeerStore<ppsp.interfaces.IPeerStore>} (a database, a key-value
service) gives the strategies from its
L{lookup<ppsp.interfaces.IPeerStore.lookup>}.

Such a store cannot hand out its live swarm: it fetches some members for
the request (at least the count asked for, chosen at random, with every
SEED and LIVESEED member and the requester's own membership), makes them
L{SwarmMember<ppsp.tracker.values.SwarmMember>} values, and wraps them in
a L{SnapshotSwarmView}, which answers every L{ISwarmView} read among the
members it holds, synchronously.  Its indexes (by PeerID, by mode, by
chunk, by a strategy's key) cover only what it holds, so each costs at
most O(held members) once, a request's worth of work.

L{sampleFrom} is the uniform sampling the view uses, public so that a
store that samples a list of its own draws the same way.
"""

from __future__ import annotations

import random as _random
from typing import (
    Any,
    Callable,
    Dict,
    Hashable,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    TypeVar,
)

from zope.interface import implementer

from ppsp.interfaces import IRequester, ISwarmMember, ISwarmView
from ppsp.messages import PeerMode
from ppsp.tracker.values import SwarmMember

__all__ = ["SnapshotSwarmView", "sampleFrom", "groupOf"]

T = TypeVar("T")

#: The most partitions (L{SnapshotSwarmView.sampleGroup}) and chunk-holder
#: lists (L{SnapshotSwarmView.sampleHolders}) one view keeps; asking for
#: another drops the one built first.
MAX_INDEXES = 4

_LEECH = PeerMode.LEECH
_INDEXED_MODES = (PeerMode.SEED, PeerMode.LIVESEED)


def sampleFrom(
    items: Sequence[T],
    count: int,
    accept: Optional[Callable[[T], bool]],
    random: _random.Random,
) -> List[T]:
    """
    Up to C{count} distinct elements of C{items} (distinct positions) for
    which C{accept} is true (every element when it is L{None}), chosen
    uniformly at random.

    Costs O(count) expected draws when C{accept} takes most elements: a
    lazy Fisher-Yates shuffle of a copy for short sequences (or a count
    that is half of them or more), random positions for long ones.  When
    the draws find too few accepted elements, the rest of the sequence is
    scanned from a random start, so that the answer has C{count} elements
    whenever that many are accepted.

    @param items: the elements to draw from (not changed).
    @param count: the most elements to return.
    @param accept: the predicate, or L{None}.
    @param random: the random source.
    @return: the chosen elements, in the order drawn.
    """
    n = len(items)
    if n == 0 or count <= 0:
        return []
    rnd = random.random
    chosen: List[T] = []
    if 2 * count >= n or n <= 64:
        pool = list(items)
        for i in range(n):
            j = i + int(rnd() * (n - i))
            item = pool[j]
            pool[j] = pool[i]
            if accept is None or accept(item):
                chosen.append(item)
                if len(chosen) >= count:
                    break
        return chosen
    seen: Set[int] = set()
    attempts = 4 * count + 32
    while attempts and len(chosen) < count:
        attempts -= 1
        i = int(rnd() * n)
        if i in seen:
            continue
        seen.add(i)
        item = items[i]
        if accept is None or accept(item):
            chosen.append(item)
    if len(chosen) < count and len(seen) < n:
        start = int(rnd() * n)
        for k in range(n):
            i = (start + k) % n
            if i in seen:
                continue
            item = items[i]
            if accept is None or accept(item):
                chosen.append(item)
                if len(chosen) >= count:
                    break
    return chosen


def groupOf(key: Callable[[Any], Hashable], member: Any) -> Hashable:
    """
    The group of C{member} in a partition by C{key} (L{ISwarmView.sampleGroup
    <ppsp.interfaces.ISwarmView.sampleGroup>}): C{key(member)}, or L{None}
    when the key function raises.
    """
    try:
        return key(member)
    except Exception:
        return None


@implementer(ISwarmView)
class SnapshotSwarmView:
    """
    An L{ISwarmView} over some members of a swarm, fetched by a store for
    one request: it samples uniformly among the members it holds, and
    knows the swarm's real size.

    Building it costs O(held members): an index by PeerID and the lists of
    each mode.  L{member}, L{membership}, L{modeCount}, L{modeMembers} and
    L{__len__} cost O(1); L{sample} and L{sampleMode} O(count) expected;
    L{sampleHolders} and L{hasHolders} a scan of the held members the
    first time a chunk is asked for, then O(count); L{sampleGroup} and
    L{groupSize} a partition of the held members the first time a key
    function is used, then O(count) (see L{MAX_INDEXES}).

    A member given twice (same PeerID) is held once, the first time; a
    member of another swarm is refused.

    @ivar swarmID: the SwarmID.
    @ivar complete: whether the view holds every member of the swarm (it
        holds as many members as the swarm's size).
    """

    def __init__(
        self,
        swarmID: str,
        size: int,
        members: Iterable[SwarmMember],
        random: _random.Random,
        modes: Optional[Mapping[PeerMode, int]] = None,
    ) -> None:
        """
        @param swarmID: the SwarmID.
        @param size: the number of members of the swarm, as the store
            counts them (raised to the number of members given, if fewer).
        @param members: the members the store fetched, all of C{swarmID}.
        @param random: the random source for sampling.
        @param modes: the swarm's number of members in each mode, as the
            store counts them (L{SwarmState.modes<ppsp.tracker.values.SwarmState>}),
            which L{modeCount} answers; when L{None}, L{modeCount} counts
            the held SEED and LIVESEED members (a networked store fetches
            them all) and takes LEECH as the remainder of C{size}.
        @raise ValueError: a member is not of C{swarmID}.
        """
        self.swarmID = swarmID
        self._random = random
        self._byID: Dict[str, SwarmMember] = {}
        self._modes: Dict[PeerMode, List[SwarmMember]] = {}
        for member in members:
            if member.swarmID != swarmID:
                raise ValueError(
                    f"member {member.peerID!r} is of swarm {member.swarmID!r},"
                    f" not {swarmID!r}"
                )
            if member.peerID in self._byID:
                continue
            self._byID[member.peerID] = member
            self._modes.setdefault(member.mode, []).append(member)
        self._members: List[SwarmMember] = list(self._byID.values())
        self._size = max(size, len(self._members))
        self.complete: bool = len(self._members) == self._size
        self._modeCounts = dict(modes) if modes is not None else None
        self._holders: Dict[int, List[SwarmMember]] = {}
        self._partitions: Dict[Callable[[Any], Hashable], Dict[Hashable, List[SwarmMember]]] = {}

    def __repr__(self) -> str:
        return (
            f"<SnapshotSwarmView {self.swarmID!r} ({len(self._members)} of"
            f" {self._size} members)>"
        )

    def __len__(self) -> int:
        """
        The number of members of the swarm (not only those held).
        """
        return self._size

    def __iter__(self) -> Iterator[ISwarmMember]:
        """
        Every member held, in the order given.  O(held members).
        """
        return iter(list(self._members))

    def member(self, peerID: str) -> Optional[ISwarmMember]:
        """
        The held member with this PeerID, or L{None}.  O(1).
        """
        return self._byID.get(peerID)

    def current(self, candidate: object) -> Optional[ISwarmMember]:
        """
        The held member with C{candidate}'s PeerID, or L{None}.  O(1).
        """
        peerID = getattr(candidate, "peerID", None)
        return self._byID.get(peerID) if type(peerID) is str else None

    def membership(self, requester: IRequester) -> Optional[ISwarmMember]:
        """
        The requester's own membership, when held.  O(1).
        """
        return self._byID.get(requester.peerID)

    def sample(
        self, count: int, accept: Optional[Callable[[ISwarmMember], bool]] = None
    ) -> Sequence[ISwarmMember]:
        """
        Up to C{count} distinct held members, uniformly at random among
        those C{accept} takes.  O(count) expected (L{sampleFrom}).
        """
        return sampleFrom(self._members, count, accept, self._random)

    def _holderList(self, chunkID: int) -> List[SwarmMember]:
        holders = self._holders.get(chunkID)
        if holders is None:
            if len(self._holders) >= MAX_INDEXES:
                del self._holders[next(iter(self._holders))]
            holders = self._holders[chunkID] = [
                m for m in self._members if m.holds(chunkID)
            ]
        return holders

    def sampleHolders(
        self,
        chunkID: int,
        count: int,
        accept: Optional[Callable[[ISwarmMember], bool]] = None,
    ) -> Sequence[ISwarmMember]:
        """
        Like L{sample}, among the held members that hold C{chunkID}.  The
        first call for a chunk lists its holders, O(held members); later
        ones cost O(count) expected.
        """
        if count <= 0:
            return []
        return sampleFrom(self._holderList(chunkID), count, accept, self._random)

    def hasHolders(self, chunkID: int) -> bool:
        """
        Whether a held member announced C{chunkID} (the store fetches
        holders of the chunk its lookup was asked for).
        """
        return bool(self._holderList(chunkID))

    def modeCount(self, mode: PeerMode) -> int:
        """
        The number of members of the swarm in C{mode}.  O(1).
        """
        counts = self._modeCounts
        if counts is not None:
            return counts.get(mode, 0)
        if mode is not _LEECH:
            return len(self._modes.get(mode, ()))
        others = sum(len(self._modes.get(m, ())) for m in _INDEXED_MODES)
        return max(self._size - others, 0)

    def modeMembers(self, mode: PeerMode) -> Sequence[ISwarmMember]:
        """
        The held members in C{mode} (SEED or LIVESEED), in the order given:
        a sequence the caller must neither change nor keep.  O(1).

        @raise ValueError: C{mode} is LEECH.
        """
        if mode is _LEECH:
            raise ValueError("LEECH members are not indexed; use sampleMode")
        return self._modes.get(mode, ())

    def sampleMode(
        self,
        mode: PeerMode,
        count: int,
        accept: Optional[Callable[[ISwarmMember], bool]] = None,
    ) -> Sequence[ISwarmMember]:
        """
        Like L{sample}, among the held members in C{mode}.  O(count)
        expected.
        """
        return sampleFrom(self._modes.get(mode, ()), count, accept, self._random)

    def _partition(self, key: Callable[[Any], Hashable]) -> Dict[Hashable, List[SwarmMember]]:
        partition = self._partitions.get(key)
        if partition is None:
            if len(self._partitions) >= MAX_INDEXES:
                del self._partitions[next(iter(self._partitions))]
            partition = self._partitions[key] = {}
            for member in self._members:
                partition.setdefault(groupOf(key, member), []).append(member)
        return partition

    def sampleGroup(
        self,
        key: Callable[[Any], Hashable],
        group: Hashable,
        count: int,
        accept: Optional[Callable[[ISwarmMember], bool]] = None,
    ) -> Sequence[ISwarmMember]:
        """
        Like L{sample}, among the held members for which C{key(member) ==
        group}.  The first call with a key function partitions the held
        members by it, O(held members); later calls cost O(count)
        expected.  A key that raises files the member under L{None}.
        """
        if count <= 0:
            return []
        return sampleFrom(self._partition(key).get(group, ()), count, accept, self._random)

    def groupSize(self, key: Callable[[Any], Hashable], group: Hashable) -> int:
        """
        The number of held members filed under C{group} in the partition
        by C{key} (see L{sampleGroup}).
        """
        return len(self._partition(key).get(group, ()))
