# -*- test-case-name: ppsp.test.test_store -*-
"""
The in-memory peer store: registered peers, swarms, memberships, chunk sets,
statistics and expiry deadlines, indexed for the tracker's hot paths.

Costs (n = swarm size, N = peers asked for):

  - sampling N members of a swarm at random: O(N) expected (a list of
    members, each membership knowing its own position, so that removal is
    a swap with the last element);
  - finding holders of a chunk: through a chunk index of buckets at
    several granularities, never a scan of the swarm;
  - finding the SEED and LIVESEED members: through a per-mode index that
    holds only those (seeds are few; the LEECHes are the remainder and
    cost nothing in it), kept up to date by join, leave and mode change;
  - grouping members by a strategy's key (for example their network):
    a partition that the swarm builds on first use (O(n) once) and keeps
    up to date on every join and leave (O(1) each), only in the swarms
    where a strategy asks for one;
  - expiry: deadline buckets (L{ppsp.tracker._deadlines}), no timer per peer
    and no scan of all peers.

The store keeps state only; every protocol rule is the tracker core's.
"""

from __future__ import annotations

import random as _random
import sys
from bisect import bisect_right
from typing import (
    Any,
    Callable,
    Dict,
    Hashable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
)

from twisted.internet.defer import Deferred, succeed
from zope.interface import implementer

from ppsp.interfaces import IPeerStore, IRequester, IStoreCosts, ISwarmMember, ISwarmView
from ppsp.messages import ChunkRange, PeerAddress, PeerMode
from ppsp.tracker.addresses import addressKey
from ppsp.tracker._deadlines import DeadlineBuckets, ExactDeadlines
from ppsp.tracker.snapshot import groupOf, sampleFrom
from ppsp.tracker.values import (
    Expired,
    MemberState,
    PeerState,
    Session,
    StatsUpdate,
    StatValue,
    SwarmState,
)

__all__ = ["MemoryPeerStore", "MemoryCosts"]

_EMPTY: Mapping[str, StatValue] = {}

# The memory accounting (docs/security.rst, "What one address can make the
# tracker hold").  Every piece of state a session makes this store hold is
# charged to the session's peer and to its source address, in blocks of
# _BLOCK bytes, each piece rounded up on its own: the record (with its
# announced addresses), each membership, each chunk set with its index
# entries, each kept statistic.  The constants are what tracemalloc
# measured for the worst case of each piece (CPython 3.11, 64-bit),
# rounded up; strings and integers whose size the sender chooses are
# counted with sys.getsizeof.  ppsp.test.test_limits measures that what
# the charges allow stays under the budgets.

#: The unit of account: the store keeps each peer's total in blocks, so
#: that the total of an ordinary peer is a small integer, which Python
#: keeps without allocating.
_BLOCK = 64
#: A peer record: the object, its token, times and ports, its session
#: identity, its entry in the peers' dict and in the deadline buckets, its
#: (empty) membership dict, its share of the per-address counts.  Its
#: PeerID and observed IP are counted by size, its addresses by
#: L{_COST_ADDRESS}.
_COST_RECORD = 1024
#: One announced address: the L{PeerAddress}, its port and priority, its
#: slot in the tuple (its IP is counted by size).
_COST_ADDRESS = 176
#: A membership: the object, its entries in the peer's membership dict,
#: the swarm's member list, mode index, expiry buckets and up to
#: L{MAX_PARTITIONS} partitions (each possibly a group of its own), the
#: swarm itself when the JOIN creates it (its SwarmID is counted by size),
#: and a share of what listing it costs the tracker: an entry in the
#: tracker's peer-list cache (L{ppsp.tracker.peerlist.PeerInfoCache}) for
#: each of the 12 classes of requester (L{ppsp.tracker.addresses.addressScope}),
#: which that cache bounds on its own.
_COST_MEMBER = 7168
#: A chunk set: the tuple, then per range the L{ChunkRange} with its two
#: integers, and per chunk-index bucket it is filed in, a bucket of its own.
_COST_CHUNKS = 64
_COST_RANGE = 176
_COST_INDEX_KEY = 512
#: Kept statistics: the dict of one target, then per property its entry
#: (its name and value are counted by size).
_COST_STATS = 256
_COST_STAT = 48


def _blocks(size: int) -> int:
    """
    C{size} bytes, in blocks, rounded up.
    """
    return -(-size // _BLOCK)


def _sizeOf(value: object) -> int:
    return sys.getsizeof(value)


def _recordBlocks(
    peerID: str, observedIP: str, addresses: Sequence[PeerAddress]
) -> int:
    size = _COST_RECORD + _sizeOf(peerID) + _sizeOf(observedIP)
    for address in addresses:
        size += _COST_ADDRESS + _sizeOf(address.ip)
    return _blocks(size)


def _memberBlocks(swarmID: str) -> int:
    return _blocks(_COST_MEMBER + _sizeOf(swarmID))


def _chunkBlocks(ranges: Sequence[ChunkRange], keys: int) -> int:
    if not ranges:
        return 0
    return _blocks(_COST_CHUNKS + len(ranges) * _COST_RANGE + keys * _COST_INDEX_KEY)


def _statBlocks(name: str, value: StatValue) -> int:
    return _blocks(_COST_STAT + _sizeOf(name) + _sizeOf(value))


def _statsBlocks(stats: Optional[Dict[str, StatValue]]) -> int:
    if stats is None:
        return 0
    total = _blocks(_COST_STATS)
    for name, value in stats.items():
        total += _statBlocks(name, value)
    return total

#: The levels of the chunk index: a range is filed at the finest level at
#: which it spans at most C{_MAX_BUCKETS_PER_RANGE} buckets.
_LEVELS = tuple(range(0, 65, 4))
_MAX_BUCKETS_PER_RANGE = 4

#: The most partitions (L{ISwarmView.sampleGroup}) a swarm keeps; asking for
#: another drops the one registered first.
MAX_PARTITIONS = 4

_LEECH = PeerMode.LEECH
_MISSING = object()


class _Peer:
    """
    One registered peer, as this store keeps it (private: what crosses the
    store's boundary is a L{PeerState}).

    @ivar swarms: the peer's memberships by SwarmID.
    @ivar stats: the latest peer-scoped statistics, or L{None}; replaced,
        never changed in place, so that a L{PeerState} may share it.
    """

    __slots__ = (
        "peerID",
        "token",
        "contact",
        "statPort",
        "connectedAt",
        "deadline",
        "identity",
        "swarms",
        "stats",
        "_key",
        "_held",
        "_filed",
    )

    def __init__(self, session: Session) -> None:
        (
            self.peerID,
            self.token,
            ip,
            port,
            addresses,
            self.statPort,
            self.connectedAt,
            self.deadline,
            self.identity,
        ) = session
        #: What a peer list shows of the session: its announced addresses,
        #: observed IP address and port, replaced together whenever one of
        #: them changes (L{ISwarmMember.contact}).
        self.contact: Tuple[Tuple[PeerAddress, ...], str, int] = (addresses, ip, port)
        # A tuple, not a dict: most peers are in one or a few swarms, and
        # a tuple of one costs 48 bytes where a dict of one costs 184.
        self.swarms: Tuple[_Member, ...] = ()
        self.stats: Optional[Dict[str, StatValue]] = None
        # The address account the session counts in, what it holds there
        # (in blocks), and the deadline bucket its one live entry is in.
        self._key = addressKey(self.observedIP)
        self._held = 0
        self._filed: Optional[List[str]] = None

    @property
    def addresses(self) -> Tuple[PeerAddress, ...]:
        return self.contact[0]

    @property
    def observedIP(self) -> str:
        return self.contact[1]

    @property
    def observedPort(self) -> int:
        return self.contact[2]

    def __repr__(self) -> str:
        return f"<_Peer {self.peerID!r} at {self.observedIP}>"


def _memberOf(peer: _Peer, swarmID: str) -> Optional["_Member"]:
    """
    The peer's membership of the swarm C{swarmID}, or L{None}: a scan of
    its memberships (at most C{maxSwarmsPerPeer}, usually one or two).
    """
    for member in peer.swarms:
        if member.swarm.swarmID == swarmID:
            return member
    return None


@implementer(ISwarmMember)
class _Member:
    """
    A peer's membership of one swarm: what the swarm's indexes hold, and
    the L{ISwarmMember} that strategies see (read-only to them).
    """

    # deadline and contact copy what they derive from (the peer's deadline
    # and the membership's end; the peer's contact), kept by the store on
    # every change, because FIND reads both for every candidate: as
    # properties they cost about 4 us per FIND of 30 (16 bytes a
    # membership buys that back).
    __slots__ = (
        "peer", "peerID", "swarm", "mode", "expireAt", "chunks", "stats", "deadline",
        "contact", "_pos",
    )

    def __init__(
        self, peer: _Peer, swarm: "_Swarm", mode: PeerMode, expireAt: Optional[float]
    ) -> None:
        self.peer = peer
        #: The member's PeerID (a PeerID never changes for a record).
        self.peerID = peer.peerID
        self.swarm = swarm
        #: The member's mode in its swarm (the store changes it with
        #: L{_setMode}, which keeps the swarm's per-mode index).
        self.mode = mode
        self.expireAt = expireAt
        self.chunks: Tuple[ChunkRange, ...] = ()
        self.stats: Optional[Dict[str, StatValue]] = None
        #: The earlier of the session's deadline and the membership's end
        #: (kept by L{_refresh}).
        self.deadline = peer.deadline
        #: The member's addresses, observed IP address and port: its
        #: peer's C{contact}, one object for as long as none of them
        #: changes (kept by the store).
        self.contact: Tuple[Tuple[PeerAddress, ...], str, int] = peer.contact
        self._pos = -1
        self._refresh()

    def _refresh(self) -> None:
        """
        Recompute L{deadline} after the peer's deadline or the
        membership's end changed.
        """
        expireAt = self.expireAt
        deadline = self.peer.deadline
        self.deadline = expireAt if expireAt is not None and expireAt < deadline else deadline

    def _setMode(self, mode: PeerMode) -> None:
        old = self.mode
        if old is not mode:
            self.mode = mode
            if self._pos >= 0:
                self.swarm._modeChanged(self, old, mode)

    @property
    def swarmID(self) -> str:
        """
        The SwarmID.
        """
        return self.swarm.swarmID

    @property
    def observedIP(self) -> str:
        """
        The IP address the tracker observed for the member.
        """
        return self.peer.contact[1]

    @property
    def observedPort(self) -> int:
        """
        The port the tracker observed for the member.
        """
        return self.peer.contact[2]

    @property
    def addresses(self) -> Tuple[PeerAddress, ...]:
        """
        The addresses the member's peer announced.
        """
        return self.peer.contact[0]

    @property
    def connectedAt(self) -> float:
        """
        When the member's session began.
        """
        return self.peer.connectedAt

    def stat(self, name: str) -> Optional[StatValue]:
        """
        The latest value of a property: swarm-scoped first, then the peer's.
        """
        stats = self.stats
        if stats is not None:
            value = stats.get(name)
            if value is not None:
                return value
        stats = self.peer.stats
        return stats.get(name) if stats is not None else None

    def holds(self, chunkID: int) -> bool:
        """
        Whether the member announced C{chunkID} in this swarm.
        """
        chunks = self.chunks
        if not chunks:
            return False
        i = bisect_right(chunks, chunkID, key=_rangeStart) - 1
        return i >= 0 and chunks[i].end >= chunkID

    def value(self) -> MemberState:
        """
        This membership as a value.
        """
        stats = self.stats
        return MemberState(
            self.swarm.swarmID, self.mode, self.expireAt, self.chunks,
            stats if stats is not None else _EMPTY,
        )

    def __repr__(self) -> str:
        return f"<_Member {self.peerID!r} in {self.swarm.swarmID!r}>"


def _rangeStart(r: ChunkRange) -> int:
    return r.start


class _RandomSet:
    """
    A set of memberships that can also draw a random element in O(1).
    """

    __slots__ = ("items", "index")

    def __init__(self) -> None:
        self.items: List[_Member] = []
        self.index: Dict[_Member, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: _Member) -> None:
        if item not in self.index:
            self.index[item] = len(self.items)
            self.items.append(item)

    def discard(self, item: _Member) -> None:
        pos = self.index.pop(item, None)
        if pos is None:
            return
        last = self.items.pop()
        if last is not item:
            self.items[pos] = last
            self.index[last] = pos


def _indexKeys(ranges: Sequence[ChunkRange]) -> Set[Tuple[int, int]]:
    """
    The chunk-index buckets in which a chunk set is filed.
    """
    keys: Set[Tuple[int, int]] = set()
    for r in ranges:
        for level in _LEVELS:
            lo = r.start >> level
            hi = r.end >> level
            if hi - lo < _MAX_BUCKETS_PER_RANGE:
                for b in range(lo, hi + 1):
                    keys.add((level, b))
                break
    return keys


@implementer(ISwarmView)
class _Swarm:
    """
    One swarm: its members, sampled at random in O(count), and its chunk
    index.

    @ivar swarmID: the SwarmID.
    @ivar provisioned: whether the operator configured this swarm (it is
        then never forgotten).
    @ivar emptySince: when the swarm last became empty, or L{None} while it
        has members.
    """

    __slots__ = (
        "swarmID",
        "provisioned",
        "emptySince",
        "_members",
        "_chunkIndex",
        "_random",
        "_modes",
        "_partitions",
        "_peers",
    )

    #: The view holds the whole swarm (L{ISwarmView.complete}).
    complete = True

    def __init__(
        self,
        swarmID: str,
        provisioned: bool,
        random: _random.Random,
        now: float,
        peers: Dict[str, _Peer],
    ) -> None:
        self.swarmID = swarmID
        self.provisioned = provisioned
        self.emptySince: Optional[float] = now
        self._members: List[_Member] = []
        self._chunkIndex: Dict[Tuple[int, int], _RandomSet] = {}
        self._random = random
        # The members in each mode other than LEECH (created on first use).
        self._modes: Optional[Dict[PeerMode, _RandomSet]] = None
        # The partitions strategies asked for, by key function.
        self._partitions: Optional[Dict[Callable[[Any], Hashable], _Partition]] = None
        # The store's peers, by PeerID, to find a member by its PeerID.
        self._peers = peers

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[_Member]:
        return iter(list(self._members))

    def __repr__(self) -> str:
        return f"<_Swarm {self.swarmID!r} ({len(self._members)} members)>"

    # Writes (the store's) -------------------------------------------------

    def _add(self, member: _Member) -> None:
        member._pos = len(self._members)
        self._members.append(member)
        self.emptySince = None
        mode = member.mode
        if mode is not _LEECH:
            self._fileMode(member, mode)
        partitions = self._partitions
        if partitions:
            for partition in partitions.values():
                partition.file(member)

    def _remove(self, member: _Member, now: float) -> int:
        """
        Take a member out of the swarm and its indexes.

        @return: the number of chunk-index buckets its chunk set was in.
        """
        keys = self._unindex(member) if member.chunks else 0
        mode = member.mode
        if mode is not _LEECH:
            self._unfileMode(member, mode)
        partitions = self._partitions
        if partitions:
            for partition in partitions.values():
                partition.unfile(member)
        pos = member._pos
        members = self._members
        last = members.pop()
        if last is not member:
            members[pos] = last
            last._pos = pos
        member._pos = -1
        if not members:
            self.emptySince = now
        return keys

    def _refile(self, member: _Member) -> None:
        """
        File a member again in every partition (its key may have changed).
        """
        partitions = self._partitions
        if partitions:
            for partition in partitions.values():
                partition.unfile(member)
                partition.file(member)

    def _fileMode(self, member: _Member, mode: PeerMode) -> None:
        modes = self._modes
        if modes is None:
            modes = self._modes = {}
        bucket = modes.get(mode)
        if bucket is None:
            bucket = modes[mode] = _RandomSet()
        bucket.add(member)

    def _unfileMode(self, member: _Member, mode: PeerMode) -> None:
        modes = self._modes
        if modes is not None:
            bucket = modes.get(mode)
            if bucket is not None:
                bucket.discard(member)
                if not bucket:
                    del modes[mode]

    def _modeChanged(self, member: _Member, old: PeerMode, new: PeerMode) -> None:
        """
        Refile a current member whose mode changed from C{old} to C{new}.
        """
        if old is not _LEECH:
            self._unfileMode(member, old)
        if new is not _LEECH:
            self._fileMode(member, new)

    def _index(self, member: _Member, keys: Optional[Set[Tuple[int, int]]] = None) -> int:
        """
        File a member's chunk set in the chunk index.

        @param keys: C{_indexKeys(member.chunks)}, when already computed.
        @return: the number of index buckets it is filed in.
        """
        index = self._chunkIndex
        if keys is None:
            keys = _indexKeys(member.chunks)
        for key in keys:
            bucket = index.get(key)
            if bucket is None:
                bucket = index[key] = _RandomSet()
            bucket.add(member)
        return len(keys)

    def _unindex(self, member: _Member, keys: Optional[Set[Tuple[int, int]]] = None) -> int:
        """
        Take a member's chunk set out of the chunk index.

        @param keys: C{_indexKeys(member.chunks)}, when already computed.
        @return: the number of index buckets it was filed in.
        """
        index = self._chunkIndex
        if keys is None:
            keys = _indexKeys(member.chunks)
        for key in keys:
            bucket = index.get(key)
            if bucket is not None:
                bucket.discard(member)
                if not bucket:
                    del index[key]
        return len(keys)

    # Reads (ISwarmView) -----------------------------------------------------

    def sample(
        self, count: int, accept: Optional[Callable[[_Member], bool]] = None
    ) -> List[_Member]:
        """
        Up to C{count} distinct members at random among those C{accept}s.
        Expected O(count) when most members are accepted; falls back to a
        scan from a random start when the predicate rejects most draws.
        """
        return sampleFrom(self._members, count, accept, self._random)

    def member(self, peerID: str) -> Optional[_Member]:
        """
        The member with this PeerID, or L{None}.  O(1).
        """
        peer = self._peers.get(peerID)
        if peer is None:
            return None
        for member in peer.swarms:
            if member.swarm is self:
                return member if member._pos >= 0 else None
        return None

    def current(self, candidate: object) -> Optional[_Member]:
        """
        The current member C{candidate} stands for: itself when it is one
        of this swarm's own members (no lookup: the peer lists of a busy
        tracker touch only what the strategy touched already), else the
        member with its PeerID.  O(1).
        """
        if type(candidate) is _Member:
            if candidate.swarm is self and candidate._pos >= 0:
                return candidate
            return self.member(candidate.peerID)
        peerID = getattr(candidate, "peerID", None)
        return self.member(peerID) if type(peerID) is str else None

    def membership(self, requester: IRequester) -> Optional[_Member]:
        """
        The requester's own membership of this swarm, or L{None}.  O(1).
        """
        return self.member(requester.peerID)

    def modeCount(self, mode: PeerMode) -> int:
        """
        The number of members in C{mode}.  O(1): the SEED and LIVESEED
        members are indexed, the LEECHes are the remainder.
        """
        modes = self._modes
        if mode is not _LEECH:
            if modes is None:
                return 0
            bucket = modes.get(mode)
            return len(bucket) if bucket is not None else 0
        others = sum(len(b) for b in modes.values()) if modes else 0
        return len(self._members) - others

    def modeMembers(self, mode: PeerMode) -> Sequence[_Member]:
        """
        The members in C{mode} (SEED or LIVESEED), in the index's order:
        a live, read-only sequence that the caller must neither change nor
        keep beyond the call.  A removal moves the last member into the
        removed one's place; otherwise the order is stable, so a strategy
        may walk it round-robin.  O(1).

        @raise ValueError: C{mode} is LEECH (LEECHes are not indexed: use
            L{sampleMode}).
        """
        if mode is _LEECH:
            raise ValueError("LEECH members are not indexed; use sampleMode")
        modes = self._modes
        bucket = modes.get(mode) if modes is not None else None
        return bucket.items if bucket is not None else ()

    def sampleMode(
        self,
        mode: PeerMode,
        count: int,
        accept: Optional[Callable[[_Member], bool]] = None,
    ) -> List[_Member]:
        """
        Like L{sample}, among the members in C{mode}.  SEED and LIVESEED
        members are drawn from the per-mode index, O(count); LEECHes from
        the whole swarm, O(count) expected while they are the majority.
        """
        if mode is not _LEECH:
            return sampleFrom(self.modeMembers(mode), count, accept, self._random)

        def leech(m: _Member) -> bool:
            return m.mode is _LEECH and (accept is None or accept(m))

        return sampleFrom(self._members, count, leech, self._random)

    def _partition(self, key: Callable[[Any], Hashable]) -> "_Partition":
        partitions = self._partitions
        if partitions is None:
            partitions = self._partitions = {}
        partition = partitions.get(key)
        if partition is None:
            if len(partitions) >= MAX_PARTITIONS:
                del partitions[next(iter(partitions))]
            partition = partitions[key] = _Partition(key)
            for member in self._members:
                partition.file(member)
        return partition

    def groupSize(self, key: Callable[[Any], Hashable], group: Hashable) -> int:
        """
        The number of members filed under C{group} in the partition of
        the swarm by C{key} (see L{sampleGroup}).
        """
        bucket = self._partition(key).groups.get(group)
        return len(bucket) if bucket is not None else 0

    def sampleGroup(
        self,
        key: Callable[[Any], Hashable],
        group: Hashable,
        count: int,
        accept: Optional[Callable[[_Member], bool]] = None,
    ) -> List[_Member]:
        """
        Up to C{count} distinct members, at random, among those for which
        C{key(member) == group} and C{accept(member)}.

        The first call with a key function (compared by equality, so pass
        the same function each time) builds a partition of the swarm by
        that key, in O(swarm size); the swarm then files every joining
        member and unfiles every leaving one, O(1) each, so that later
        calls cost O(count) expected.  A swarm keeps at most
        L{MAX_PARTITIONS} partitions.  The key must depend only on facts
        of the membership that do not change; a member whose key changes
        anyway is still checked against C{group} before it is returned.
        A key that raises files the member under L{None}.
        """
        partition = self._partition(key)
        bucket = partition.groups.get(group)
        if bucket is None or count <= 0:
            return []

        def inGroup(m: _Member) -> bool:
            return groupOf(key, m) == group and (accept is None or accept(m))

        return sampleFrom(bucket.items, count, inGroup, self._random)

    def _holderBuckets(self, chunkID: int) -> List[_RandomSet]:
        index = self._chunkIndex
        if not index:
            return []
        buckets = []
        for level in _LEVELS:
            bucket = index.get((level, chunkID >> level))
            if bucket is not None:
                buckets.append(bucket)
        return buckets

    def hasHolders(self, chunkID: int) -> bool:
        """
        Whether any member announced C{chunkID}.
        """
        for bucket in self._holderBuckets(chunkID):
            for member in bucket.items:
                if member.holds(chunkID):
                    return True
        return False

    def sampleHolders(
        self,
        chunkID: int,
        count: int,
        accept: Optional[Callable[[_Member], bool]] = None,
    ) -> List[_Member]:
        """
        Up to C{count} distinct members holding C{chunkID}, at random,
        among those C{accept}s; drawn from the chunk index.
        """
        buckets = self._holderBuckets(chunkID)
        if not buckets or count <= 0:
            return []

        def holds(m: _Member) -> bool:
            return m.holds(chunkID) and (accept is None or accept(m))

        if len(buckets) == 1:
            return sampleFrom(buckets[0].items, count, holds, self._random)
        total = sum(len(b) for b in buckets)
        rnd = self._random.random
        chosen: Dict[_Member, None] = {}
        if total > 4 * count + 16:
            # Draw from the union, weighted by bucket size: uniform over the
            # (member, bucket) pairs, close to uniform over members.
            attempts = 8 * count + 32
            while attempts and len(chosen) < count:
                attempts -= 1
                r = int(rnd() * total)
                for bucket in buckets:
                    n = len(bucket)
                    if r < n:
                        m = bucket.items[r]
                        if m not in chosen and holds(m):
                            chosen[m] = None
                        break
                    r -= n
            if len(chosen) >= count:
                return list(chosen)
        rest: Dict[_Member, None] = {}
        for bucket in buckets:
            for m in bucket.items:
                if m not in chosen and m not in rest and holds(m):
                    rest[m] = None
        need = count - len(chosen)
        extra = list(rest)
        if len(extra) > need:
            extra = self._random.sample(extra, need)
        return list(chosen) + extra


class _Partition:
    """
    The members of a swarm grouped by a key function.

    @ivar groups: the members of each group.
    @ivar where: the group each member was filed under.
    """

    __slots__ = ("key", "groups", "where")

    def __init__(self, key: Callable[[Any], Hashable]) -> None:
        self.key = key
        self.groups: Dict[Hashable, _RandomSet] = {}
        self.where: Dict[_Member, Hashable] = {}

    def file(self, member: _Member) -> None:
        group = groupOf(self.key, member)
        self.where[member] = group
        bucket = self.groups.get(group)
        if bucket is None:
            bucket = self.groups[group] = _RandomSet()
        bucket.add(member)

    def unfile(self, member: _Member) -> None:
        group = self.where.pop(member, _MISSING)
        if group is _MISSING:
            return
        bucket = self.groups.get(group)
        if bucket is not None:
            bucket.discard(member)
            if not bucket:
                del self.groups[group]


@implementer(IStoreCosts)
class MemoryCosts:
    """
    The cost model of L{MemoryPeerStore}: what tracemalloc measured for
    each piece of state, rounded up to blocks of 64 bytes (see the
    constants at the top of this module).
    """

    def __init__(self) -> None:
        # The chunk-index keys of the chunk sets chunksCost measured last,
        # by identity (the tuples are kept so that their ids stay theirs),
        # for the setChunks that follows.
        self._keysMemo: Dict[int, Tuple[Tuple[ChunkRange, ...], Set[Tuple[int, int]]]] = {}

    def recordCost(
        self, peerID: str, observedIP: str, addresses: Sequence[PeerAddress]
    ) -> int:
        """
        The bytes a session with these attributes holds.
        """
        return _recordBlocks(peerID, observedIP, addresses) * _BLOCK

    def memberCost(self, swarmID: str) -> int:
        """
        The bytes a new membership of C{swarmID} holds (counting the swarm
        itself, which the JOIN may create).
        """
        return _memberBlocks(swarmID) * _BLOCK

    def chunksCost(self, ranges: Tuple[ChunkRange, ...]) -> int:
        """
        The bytes a chunk set (merged and sorted) holds with its chunk
        index entries.  The index keys it computes are kept for the
        C{setChunks} that follows, which then does not compute them again.
        """
        if not ranges:
            return 0
        return _chunkBlocks(ranges, len(self._keys(ranges))) * _BLOCK

    def _keys(self, ranges: Tuple[ChunkRange, ...]) -> Set[Tuple[int, int]]:
        memo = self._keysMemo
        entry = memo.get(id(ranges))
        if entry is None or entry[0] is not ranges:
            if len(memo) >= 4:
                memo.clear()
            entry = memo[id(ranges)] = (ranges, _indexKeys(ranges))
        return entry[1]

    def statsCost(
        self, kept: Optional[Mapping[str, StatValue]], values: Mapping[str, StatValue]
    ) -> int:
        """
        The bytes that merging C{values} into the statistics C{kept} (or
        L{None}) adds (negative when it frees some).
        """
        blocks = 0
        if kept is None:
            blocks = _blocks(_COST_STATS)
            for name, value in values.items():
                blocks += _statBlocks(name, value)
        else:
            for name, value in values.items():
                blocks += _statBlocks(name, value)
                old = kept.get(name)
                if old is not None:
                    blocks -= _statBlocks(name, old)
        return blocks * _BLOCK


@implementer(IPeerStore)
class MemoryPeerStore:
    """
    The default L{IPeerStore}: everything in this process's memory.  Every
    method answers with a Deferred that has already fired, so the tracker's
    path stays synchronous underneath.

    Besides the state, it keeps the accounts that the tracker's limits
    read (PROTOCOL.md section 6): the sessions registered from each source
    address (L{ppsp.tracker.addresses.addressKey}: an IPv4 address, an
    IPv6 /64), and the memory each peer and each address makes it hold,
    by its cost model (L{MemoryCosts}, the store's C{costs}).

    Expiry: a peer's liveness deadline is filed lazily
    (L{DeadlineBuckets}): its one live entry is the one in the bucket its
    record remembers; an entry left by an earlier deadline or by a removed
    peer is stale, is dropped when its bucket falls due (at most the peer
    timeout later) and is never filed again.  Each membership with an
    ExpireTime has exactly one entry (L{ExactDeadlines}), moved or taken
    out with it.  Swarms that are empty and not provisioned are filed the
    same way under the time they became empty, so that L{expire} forgets
    those empty for the whole lifetime in time proportional to what it
    forgets (within one bucket of the lifetime), whatever the order in
    which they became empty.

    @param random: the random source for sampling (inject a seeded
        L{random.Random} for deterministic tests).
    @param granularity: the width of an expiry bucket, in seconds.
    """

    def __init__(
        self, random: Optional[_random.Random] = None, granularity: float = 1.0
    ) -> None:
        self._random = random if random is not None else _random.Random()
        self.costs = MemoryCosts()
        self._peers: Dict[str, _Peer] = {}
        self._swarms: Dict[str, _Swarm] = {}
        self._peerDeadlines: DeadlineBuckets[str] = DeadlineBuckets(granularity)
        self._memberDeadlines: ExactDeadlines[_Member] = ExactDeadlines(granularity)
        # The swarms that are empty and not provisioned: SwarmID to the time
        # they became empty, in that order.
        self._empty: ExactDeadlines[str] = ExactDeadlines(granularity)
        # Per address key: [sessions, blocks held].
        self._addresses: Dict[str, List[int]] = {}

    # Values --------------------------------------------------------------------

    def _state(self, peer: _Peer) -> PeerState:
        """
        The value of a registered peer.
        """
        account = self._addresses.get(peer._key)
        stats = peer.stats
        addresses, ip, port = peer.contact
        return PeerState(
            peer.peerID,
            peer.token,
            ip,
            port,
            addresses,
            peer.statPort,
            peer.connectedAt,
            peer.deadline,
            peer.identity,
            stats if stats is not None else _EMPTY,
            {member.swarm.swarmID: member.value() for member in peer.swarms},
            peer._held * _BLOCK,
            account[1] * _BLOCK if account is not None else 0,
        )

    @staticmethod
    def _swarmState(swarm: _Swarm) -> SwarmState:
        size = len(swarm)
        modes: Dict[PeerMode, int] = {}
        if size:
            for mode in PeerMode:
                n = swarm.modeCount(mode)
                if n:
                    modes[mode] = n
        return SwarmState(swarm.swarmID, swarm.provisioned, size, swarm.emptySince, modes)

    # Accounts ----------------------------------------------------------------

    def _charge(self, peer: _Peer, blocks: int) -> None:
        """
        Add C{blocks} (negative to release) to what C{peer} and its address
        hold.
        """
        if blocks:
            peer._held += blocks
            account = self._addresses.get(peer._key)
            if account is not None:
                account[1] += blocks

    def _open(self, peer: _Peer) -> None:
        """
        Count a session in its address's account, with what it holds.
        """
        account = self._addresses.get(peer._key)
        if account is None:
            self._addresses[peer._key] = [1, peer._held]
        else:
            account[0] += 1
            account[1] += peer._held

    def _release(self, peer: _Peer) -> None:
        """
        Take a peer's session and what it holds out of its address's
        account.
        """
        key = peer._key
        account = self._addresses.get(key)
        if account is not None:
            account[0] -= 1
            account[1] -= peer._held
            if account[0] <= 0:
                del self._addresses[key]

    def scheduledCount(self) -> int:
        """
        The expiry entries this store holds (for tests: they must go when
        what they time out goes): one per peer (plus, for at most the peer
        timeout, stale ones of removed peers and moved deadlines), one per
        membership with an ExpireTime, one per empty swarm not
        provisioned.
        """
        return len(self._peerDeadlines) + len(self._memberDeadlines) + len(self._empty)

    # Reads ---------------------------------------------------------------------

    def peer(self, peerID: str) -> "Deferred[Optional[PeerState]]":
        """
        The registered peer, or L{None}.
        """
        peer = self._peers.get(peerID)
        return succeed(self._state(peer) if peer is not None else None)

    def lookup(
        self, peerID: str, swarmID: str, count: int, chunkID: Optional[int]
    ) -> "Deferred[Tuple[Optional[PeerState], Optional[ISwarmView]]]":
        """
        The peer and the live swarm (a L{complete<ISwarmView.complete>}
        view; C{count} and C{chunkID} do not matter to it).
        """
        peer = self._peers.get(peerID)
        return succeed(
            (self._state(peer) if peer is not None else None, self._swarms.get(swarmID))
        )

    def usage(self, ip: str) -> "Deferred[Tuple[int, int, int]]":
        """
        The sessions and bytes of the address C{ip} counts as, and the
        sessions in all.
        """
        account = self._addresses.get(addressKey(ip))
        if account is None:
            return succeed((0, 0, len(self._peers)))
        return succeed((account[0], account[1] * _BLOCK, len(self._peers)))

    def swarm(self, swarmID: str) -> "Deferred[Optional[SwarmState]]":
        """
        The swarm, or L{None}.
        """
        swarm = self._swarms.get(swarmID)
        return succeed(self._swarmState(swarm) if swarm is not None else None)

    def peers(self) -> "Deferred[Sequence[PeerState]]":
        """
        Every registered peer (O(n)).
        """
        return succeed([self._state(peer) for peer in self._peers.values()])

    def swarms(self) -> "Deferred[Sequence[SwarmState]]":
        """
        Every swarm (O(n)).
        """
        return succeed([self._swarmState(swarm) for swarm in self._swarms.values()])

    def counts(self) -> "Deferred[Tuple[int, int]]":
        """
        The numbers of registered peers and of swarms.
        """
        return succeed((len(self._peers), len(self._swarms)))

    def reachable(self) -> "Deferred[bool]":
        """
        Always: the store is in the tracker's own memory.
        """
        return succeed(True)

    # Writes ------------------------------------------------------------------

    def _touch(self, peer: _Peer, deadline: float) -> None:
        """
        Move the peer's liveness deadline.  A later one is refiled lazily;
        an earlier one is filed at once, and the entry it replaces becomes
        stale.
        """
        if deadline < peer.deadline:
            peer._filed = self._peerDeadlines.add(peer.peerID, deadline)
        peer.deadline = deadline
        for member in peer.swarms:
            member._refresh()

    def _merge(self, peer: _Peer, stats: StatsUpdate) -> None:
        """
        Merge statistics into the peer's and its memberships' (those for a
        swarm it is not in are dropped), keeping the accounts.
        """
        costs = self.costs
        for swarmID, values in stats.items():
            if not values:
                continue
            target: Any = peer if swarmID is None else _memberOf(peer, swarmID)
            if target is None:
                continue
            kept = target.stats
            blocks = costs.statsCost(kept, values) // _BLOCK
            target.stats = dict(values) if kept is None else {**kept, **values}
            self._charge(peer, blocks)

    def register(self, session: Session, stats: Mapping[str, StatValue]) -> "Deferred[bool]":
        """
        Register a peer if its PeerID is free, file its liveness deadline
        and count it for its address.
        """
        if session.peerID in self._peers:
            return succeed(False)
        peer = _Peer(session)
        self._peers[peer.peerID] = peer
        peer._filed = self._peerDeadlines.add(peer.peerID, peer.deadline)
        peer._held = _recordBlocks(peer.peerID, peer.observedIP, peer.addresses)
        self._open(peer)
        if stats:
            self._merge(peer, {None: stats})
        return succeed(True)

    def takeOver(
        self, session: Session, replacing: str, stats: StatsUpdate
    ) -> "Deferred[bool]":
        """
        Replace a session whose AuthToken is still C{replacing}, moving it
        and what it holds to the account of its new address, and filing its
        memberships again in the swarms' partitions (which may group members
        by that address).
        """
        peer = self._peers.get(session.peerID)
        if peer is None or peer.token != replacing:
            return succeed(False)
        (
            _peerID,
            peer.token,
            ip,
            port,
            addresses,
            peer.statPort,
            peer.connectedAt,
            deadline,
            peer.identity,
        ) = session
        old, oldIP, _oldPort = peer.contact
        self._charge(
            peer,
            _recordBlocks(peer.peerID, ip, addresses) - _recordBlocks(peer.peerID, oldIP, old),
        )
        contact = peer.contact = (addresses, ip, port)
        for member in peer.swarms:
            member.contact = contact
        if ip != oldIP:
            key = addressKey(ip)
            if key != peer._key:
                self._release(peer)
                peer._key = key
                self._open(peer)
            for member in peer.swarms:
                member.swarm._refile(member)
        self._touch(peer, deadline)
        self._merge(peer, stats)
        return succeed(True)

    def touch(self, peerID: str, deadline: float) -> "Deferred[bool]":
        """
        Move the peer's liveness deadline.
        """
        peer = self._peers.get(peerID)
        if peer is None:
            return succeed(False)
        self._touch(peer, deadline)
        return succeed(True)

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
        the mode and end of its membership.
        """
        peer = self._peers.get(peerID)
        if peer is None:
            return succeed(False)
        swarm = self._swarms.get(swarmID)
        if swarm is None:
            swarm = self._swarms[swarmID] = _Swarm(
                swarmID, False, self._random, now, self._peers
            )
        member = _memberOf(peer, swarmID)
        if member is None:
            member = _Member(peer, swarm, mode, expireAt)
            peer.swarms += (member,)
            if not len(swarm) and swarm.emptySince is not None:
                self._empty.discard(swarmID, swarm.emptySince)
            swarm._add(member)
            if expireAt is not None:
                self._memberDeadlines.add(member, expireAt)
            self._charge(peer, _memberBlocks(swarmID))
        else:
            member._setMode(mode)
            self._setExpiry(member, expireAt)
        self._merge(peer, stats)
        self._touch(peer, deadline)
        return succeed(True)

    def _setExpiry(self, member: _Member, expireAt: Optional[float]) -> None:
        """
        Set or clear when a membership ends, moving its one expiry entry.
        """
        old = member.expireAt
        if old == expireAt:
            return
        deadlines = self._memberDeadlines
        if old is None:
            assert expireAt is not None
            deadlines.add(member, expireAt)
        elif expireAt is None:
            deadlines.discard(member, old)
        else:
            deadlines.move(member, old, expireAt)
        member.expireAt = expireAt
        member._refresh()

    def _removeMember(self, peer: _Peer, swarm: _Swarm, now: float) -> bool:
        """
        End C{peer}'s membership of C{swarm}, with its chunk set,
        statistics and expiry entry; a swarm left empty and not
        provisioned waits in the empty swarms from C{now}.
        """
        member = _memberOf(peer, swarm.swarmID)
        if member is None:
            return False
        peer.swarms = tuple(m for m in peer.swarms if m is not member)
        keys = swarm._remove(member, now)
        if member.expireAt is not None:
            self._memberDeadlines.discard(member, member.expireAt)
        self._charge(
            peer,
            -_memberBlocks(swarm.swarmID)
            - _chunkBlocks(member.chunks, keys)
            - _statsBlocks(member.stats),
        )
        if not len(swarm) and not swarm.provisioned:
            self._empty.add(swarm.swarmID, now)
        return True

    def leave(self, peerID: str, swarmID: str, deadline: float, now: float) -> "Deferred[bool]":
        """
        End the peer's membership of the swarm, if any.
        """
        peer = self._peers.get(peerID)
        if peer is None:
            return succeed(False)
        swarm = self._swarms.get(swarmID)
        if swarm is not None:
            self._removeMember(peer, swarm, now)
        self._touch(peer, deadline)
        return succeed(True)

    def setChunks(
        self, peerID: str, swarmID: str, ranges: Tuple[ChunkRange, ...], deadline: float
    ) -> "Deferred[bool]":
        """
        Replace a membership's chunk set (merged and sorted by the caller).
        """
        peer = self._peers.get(peerID)
        member = _memberOf(peer, swarmID) if peer is not None else None
        if peer is None or member is None:
            return succeed(False)
        swarm = member.swarm
        costs = self.costs
        old = member.chunks
        oldKeys = swarm._unindex(member, costs._keys(old)) if old else 0
        member.chunks = ranges
        newKeys = swarm._index(member, costs._keys(ranges)) if ranges else 0
        costs._keysMemo.clear()
        self._charge(peer, _chunkBlocks(ranges, newKeys) - _chunkBlocks(old, oldKeys))
        self._touch(peer, deadline)
        return succeed(True)

    def keepStats(
        self, peerID: str, stats: StatsUpdate, deadline: Optional[float]
    ) -> "Deferred[bool]":
        """
        Merge statistics, and move the deadline when one is given.
        """
        peer = self._peers.get(peerID)
        if peer is None:
            return succeed(False)
        self._merge(peer, stats)
        if deadline is not None:
            self._touch(peer, deadline)
        return succeed(True)

    def _removePeer(self, peer: _Peer, now: float) -> None:
        del self._peers[peer.peerID]
        for member in peer.swarms:
            self._removeMember(peer, member.swarm, now)
        self._release(peer)
        peer._filed = None

    def disconnect(self, peerID: str, now: float) -> "Deferred[Optional[PeerState]]":
        """
        Delete a peer and every membership it has, and release what it held
        from its address's accounts.
        """
        peer = self._peers.get(peerID)
        if peer is None:
            return succeed(None)
        state = self._state(peer)
        self._removePeer(peer, now)
        return succeed(state)

    def addSwarm(self, swarmID: str, provisioned: bool, now: float) -> "Deferred[bool]":
        """
        Create a swarm, or make an existing one provisioned.
        """
        swarm = self._swarms.get(swarmID)
        if swarm is None:
            swarm = self._swarms[swarmID] = _Swarm(
                swarmID, provisioned, self._random, now, self._peers
            )
            if not provisioned:
                self._empty.add(swarmID, now)
            return succeed(True)
        if provisioned and not swarm.provisioned:
            swarm.provisioned = True
            if not len(swarm) and swarm.emptySince is not None:
                self._empty.discard(swarmID, swarm.emptySince)
            return succeed(True)
        return succeed(False)

    def removeSwarm(self, swarmID: str, now: float) -> "Deferred[Optional[int]]":
        """
        End every membership of a swarm and forget it.
        """
        swarm = self._swarms.get(swarmID)
        if swarm is None:
            return succeed(None)
        members = list(swarm)
        for member in members:
            self._removeMember(member.peer, swarm, now)
        del self._swarms[swarmID]
        if swarm.emptySince is not None:
            self._empty.discard(swarmID, swarm.emptySince)
        return succeed(len(members))

    # Expiry ---------------------------------------------------------------------

    def expire(self, now: float, emptySwarmLifetime: float) -> "Deferred[Expired]":
        """
        Take out the peers, memberships and empty swarms due at C{now}.  A
        peer whose deadline moved later is refiled, not expired; a stale
        peer entry is dropped.
        """
        expired = []
        buckets = self._peerDeadlines
        for bucket in buckets.popDueBuckets(now):
            for peerID in bucket:
                peer = self._peers.get(peerID)
                if peer is None or peer._filed is not bucket:
                    continue
                if peer.deadline <= now:
                    expired.append(self._state(peer))
                    self._removePeer(peer, now)
                else:
                    peer._filed = buckets.add(peerID, peer.deadline)
        members = []
        for member in self._memberDeadlines.popDue(now):
            swarm = member.swarm
            # Its entry is taken out with it: pop it first.
            member.expireAt = None
            member._refresh()
            if self._removeMember(member.peer, swarm, now):
                members.append((swarm.swarmID, member.peerID))
        swarms = []
        for swarmID in self._empty.popDue(now - emptySwarmLifetime):
            empty = self._swarms.get(swarmID)
            if empty is not None and not len(empty) and not empty.provisioned:
                del self._swarms[swarmID]
                swarms.append(swarmID)
        return succeed(Expired(tuple(expired), tuple(members), tuple(swarms)))
