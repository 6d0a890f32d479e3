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
  - expiry: deadline buckets (L{ppsp.tracker.deadlines}), no timer per peer
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
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from zope.interface import implementer

from ppsp.interfaces import IPeerStore, IRequester, ISwarmMember, ISwarmView
from ppsp.messages import ChunkRange, PeerAddress, PeerInfo, PeerMode
from ppsp.tracker.addresses import addressKey
from ppsp.tracker.deadlines import DeadlineBuckets, ExactDeadlines

__all__ = ["PeerRecord", "Membership", "Swarm", "MemoryPeerStore", "StatValue"]

StatValue = Union[int, str]

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
#: peer-list entries the tracker caches on it for each of the 12 classes of
#: requester (L{ppsp.tracker.addresses.addressScope}), and the swarm itself
#: when the JOIN creates it (its SwarmID is counted by size).
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

#: The most partitions (L{Swarm.sampleGroup}) a swarm keeps; asking for
#: another drops the one registered first.
MAX_PARTITIONS = 4

_LEECH = PeerMode.LEECH
_MISSING = object()


@implementer(IRequester)
class PeerRecord:
    """
    One registered peer.

    @ivar peerID: the PeerID.
    @ivar token: the session's AuthToken.
    @ivar observedIP: the IP address the tracker observed at CONNECT.
    @ivar observedPort: the port the tracker observed at CONNECT.
    @ivar addresses: the addresses the peer announced.
    @ivar statPort: the port on which the peer answers STAT_QUERY, or
        L{None}.
    @ivar connectedAt: when the session began (clock seconds).
    @ivar deadline: when the peer expires unless heard from.
    @ivar swarms: the peer's memberships by SwarmID.
    @ivar stats: the latest peer-scoped statistics, or L{None} when none
        were reported.
    @ivar identity: what authenticated the session (a
        L{SessionIdentity<ppsp.tracker.auth.SessionIdentity>}: the bound
        PeerID, when the credential expires, its fingerprint, the TLS
        client certificate), or L{None} for a session of the C{open}
        scheme over a connection without a client certificate.
    """

    __slots__ = (
        "peerID",
        "token",
        "observedIP",
        "observedPort",
        "addresses",
        "statPort",
        "connectedAt",
        "deadline",
        "swarms",
        "stats",
        "identity",
        "_held",
        "_filed",
        "__weakref__",
    )

    def __init__(
        self,
        peerID: str,
        token: str,
        observedIP: str,
        observedPort: int,
        addresses: Tuple[PeerAddress, ...],
        statPort: Optional[int],
        connectedAt: float,
        deadline: float,
    ) -> None:
        self.peerID = peerID
        self.token = token
        self.observedIP = observedIP
        self.observedPort = observedPort
        self.addresses = addresses
        self.statPort = statPort
        self.connectedAt = connectedAt
        self.deadline = deadline
        self.swarms: Dict[str, Membership] = {}
        self.stats: Optional[Dict[str, StatValue]] = None
        self.identity: Any = None
        # What the peer holds, in blocks (the store's accounting), and the
        # deadline bucket its one live expiry entry is in.
        self._held = 0
        self._filed: Optional[List[str]] = None

    def stat(self, name: str) -> Optional[StatValue]:
        """
        The latest peer-scoped value of a property, or L{None}.
        """
        stats = self.stats
        if stats is None:
            return None
        return stats.get(name)

    def __repr__(self) -> str:
        return f"<PeerRecord {self.peerID!r} at {self.observedIP}>"


@implementer(ISwarmMember)
class Membership:
    """
    A peer's membership of one swarm.

    @ivar peer: the L{PeerRecord}.
    @ivar peerID: the peer's PeerID.
    @ivar swarm: the L{Swarm}.
    @ivar mode: the peer's mode in this swarm.  Setting it (as
        L{MemoryPeerStore.setMemberMode} does) keeps the swarm's per-mode
        index up to date.
    @ivar expireAt: when the membership ends (clock seconds) or L{None}.
    @ivar chunks: the merged, sorted chunk ranges the peer holds here.
    @ivar stats: the latest swarm-scoped statistics, or L{None}.
    @ivar info: the cached L{PeerInfo} of this membership for each class of
        requester, owned by the tracker core, or L{None}.
    """

    __slots__ = ("peer", "peerID", "swarm", "_mode", "expireAt", "chunks", "stats", "info", "_pos")

    def __init__(
        self, peer: PeerRecord, swarm: "Swarm", mode: PeerMode, expireAt: Optional[float]
    ) -> None:
        self.peer = peer
        #: The member's PeerID (a PeerID never changes for a record).
        self.peerID = peer.peerID
        self.swarm = swarm
        self._mode = mode
        self.expireAt = expireAt
        self.chunks: Tuple[ChunkRange, ...] = ()
        self.stats: Optional[Dict[str, StatValue]] = None
        self.info: Optional[Dict[Hashable, Optional[PeerInfo]]] = None
        self._pos = -1

    @property
    def mode(self) -> PeerMode:
        """
        The member's mode in its swarm.
        """
        return self._mode

    @mode.setter
    def mode(self, mode: PeerMode) -> None:
        old = self._mode
        if old is not mode:
            self._mode = mode
            if self._pos >= 0:
                self.swarm._modeChanged(self, old, mode)

    @property
    def observedIP(self) -> str:
        """
        The IP address the tracker observed for the member.
        """
        return self.peer.observedIP

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
        return self.peer.stat(name)

    def holds(self, chunkID: int) -> bool:
        """
        Whether the member announced C{chunkID} in this swarm.
        """
        chunks = self.chunks
        if not chunks:
            return False
        i = bisect_right(chunks, chunkID, key=_rangeStart) - 1
        return i >= 0 and chunks[i].end >= chunkID

    @property
    def current(self) -> bool:
        """
        Whether this membership is still part of its swarm.
        """
        return self._pos >= 0

    def __repr__(self) -> str:
        return f"<Membership {self.peer.peerID!r} in {self.swarm.swarmID!r}>"


def _rangeStart(r: ChunkRange) -> int:
    return r.start


class _RandomSet:
    """
    A set of memberships that can also draw a random element in O(1).
    """

    __slots__ = ("items", "index")

    def __init__(self) -> None:
        self.items: List[Membership] = []
        self.index: Dict[Membership, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: Membership) -> None:
        if item not in self.index:
            self.index[item] = len(self.items)
            self.items.append(item)

    def discard(self, item: Membership) -> None:
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
class Swarm:
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
        "_checkAt",
    )

    def __init__(
        self, swarmID: str, provisioned: bool, random: _random.Random, now: float
    ) -> None:
        self.swarmID = swarmID
        self.provisioned = provisioned
        self.emptySince: Optional[float] = now
        self._members: List[Membership] = []
        self._chunkIndex: Dict[Tuple[int, int], _RandomSet] = {}
        self._random = random
        # The members in each mode other than LEECH (created on first use).
        self._modes: Optional[Dict[PeerMode, _RandomSet]] = None
        # The partitions strategies asked for, by key function.
        self._partitions: Optional[Dict[Callable[[Any], Hashable], _Partition]] = None
        # When the store's one pending check of this swarm falls due.
        self._checkAt: Optional[float] = None

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[Membership]:
        return iter(list(self._members))

    def __repr__(self) -> str:
        return f"<Swarm {self.swarmID!r} ({len(self._members)} members)>"

    # Writes (the store's) -------------------------------------------------

    def _add(self, member: Membership) -> None:
        member._pos = len(self._members)
        self._members.append(member)
        self.emptySince = None
        mode = member._mode
        if mode is not _LEECH:
            self._fileMode(member, mode)
        partitions = self._partitions
        if partitions:
            for partition in partitions.values():
                partition.file(member)

    def _remove(self, member: Membership, now: float) -> int:
        """
        Take a member out of the swarm and its indexes.

        @return: the number of chunk-index buckets its chunk set was in.
        """
        keys = self._unindex(member) if member.chunks else 0
        mode = member._mode
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

    def _refile(self, member: Membership) -> None:
        """
        File a member again in every partition (its key may have changed).
        """
        partitions = self._partitions
        if partitions:
            for partition in partitions.values():
                partition.unfile(member)
                partition.file(member)

    def _fileMode(self, member: Membership, mode: PeerMode) -> None:
        modes = self._modes
        if modes is None:
            modes = self._modes = {}
        bucket = modes.get(mode)
        if bucket is None:
            bucket = modes[mode] = _RandomSet()
        bucket.add(member)

    def _unfileMode(self, member: Membership, mode: PeerMode) -> None:
        modes = self._modes
        if modes is not None:
            bucket = modes.get(mode)
            if bucket is not None:
                bucket.discard(member)
                if not bucket:
                    del modes[mode]

    def _modeChanged(self, member: Membership, old: PeerMode, new: PeerMode) -> None:
        """
        Refile a current member whose mode changed from C{old} to C{new}.
        """
        if old is not _LEECH:
            self._unfileMode(member, old)
        if new is not _LEECH:
            self._fileMode(member, new)

    def _index(self, member: Membership, keys: Optional[Set[Tuple[int, int]]] = None) -> int:
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

    def _unindex(self, member: Membership, keys: Optional[Set[Tuple[int, int]]] = None) -> int:
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
        self, count: int, accept: Optional[Callable[[Membership], bool]] = None
    ) -> List[Membership]:
        """
        Up to C{count} distinct members at random among those C{accept}s.
        Expected O(count) when most members are accepted; falls back to a
        scan from a random start when the predicate rejects most draws.
        """
        return _sample(self._members, count, accept, self._random)

    def membership(self, requester: Any) -> Optional[Membership]:
        """
        The requester's own membership of this swarm, or L{None}.  O(1).
        """
        swarms = getattr(requester, "swarms", None)
        if swarms is None:
            return None
        member = swarms.get(self.swarmID)
        if member is None or member.swarm is not self or member._pos < 0:
            return None
        return member  # type: ignore[no-any-return]

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

    def modeMembers(self, mode: PeerMode) -> Sequence[Membership]:
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
        accept: Optional[Callable[[Membership], bool]] = None,
    ) -> List[Membership]:
        """
        Like L{sample}, among the members in C{mode}.  SEED and LIVESEED
        members are drawn from the per-mode index, O(count); LEECHes from
        the whole swarm, O(count) expected while they are the majority.
        """
        if mode is not _LEECH:
            return _sample(self.modeMembers(mode), count, accept, self._random)

        def leech(m: Membership) -> bool:
            return m._mode is _LEECH and (accept is None or accept(m))

        return _sample(self._members, count, leech, self._random)

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
        accept: Optional[Callable[[Membership], bool]] = None,
    ) -> List[Membership]:
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

        def inGroup(m: Membership) -> bool:
            return _safeKey(key, m) == group and (accept is None or accept(m))

        return _sample(bucket.items, count, inGroup, self._random)

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
        accept: Optional[Callable[[Membership], bool]] = None,
    ) -> List[Membership]:
        """
        Up to C{count} distinct members holding C{chunkID}, at random,
        among those C{accept}s; drawn from the chunk index.
        """
        buckets = self._holderBuckets(chunkID)
        if not buckets or count <= 0:
            return []

        def holds(m: Membership) -> bool:
            return m.holds(chunkID) and (accept is None or accept(m))

        if len(buckets) == 1:
            return _sample(buckets[0].items, count, holds, self._random)
        total = sum(len(b) for b in buckets)
        rnd = self._random.random
        chosen: Dict[Membership, None] = {}
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
        rest: Dict[Membership, None] = {}
        for bucket in buckets:
            for m in bucket.items:
                if m not in chosen and m not in rest and holds(m):
                    rest[m] = None
        need = count - len(chosen)
        extra = list(rest)
        if len(extra) > need:
            extra = self._random.sample(extra, need)
        return list(chosen) + extra


def _safeKey(key: Callable[[Any], Hashable], member: Membership) -> Hashable:
    try:
        return key(member)
    except Exception:
        return None


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
        self.where: Dict[Membership, Hashable] = {}

    def file(self, member: Membership) -> None:
        group = _safeKey(self.key, member)
        self.where[member] = group
        bucket = self.groups.get(group)
        if bucket is None:
            bucket = self.groups[group] = _RandomSet()
        bucket.add(member)

    def unfile(self, member: Membership) -> None:
        group = self.where.pop(member, _MISSING)
        if group is _MISSING:
            return
        bucket = self.groups.get(group)
        if bucket is not None:
            bucket.discard(member)
            if not bucket:
                del self.groups[group]


def _sample(
    items: Sequence[Membership],
    count: int,
    accept: Optional[Callable[[Membership], bool]],
    rng: _random.Random,
) -> List[Membership]:
    """
    Up to C{count} distinct elements of C{items} for which C{accept} holds,
    uniformly at random.
    """
    n = len(items)
    if n == 0 or count <= 0:
        return []
    rnd = rng.random
    if 2 * count >= n or n <= 64:
        # Small swarm: a lazy Fisher-Yates shuffle of a copy visits the
        # members in uniformly random order and stops once enough are
        # accepted: O(count + rejections) draws after a C-speed copy.
        pool = list(items)
        chosen: List[Membership] = []
        for i in range(n):
            j = i + int(rnd() * (n - i))
            m = pool[j]
            pool[j] = pool[i]
            if accept is None or accept(m):
                chosen.append(m)
                if len(chosen) >= count:
                    break
        return chosen
    seen: Set[int] = set()
    chosen = []
    attempts = 4 * count + 32
    while attempts and len(chosen) < count:
        attempts -= 1
        i = int(rnd() * n)
        if i in seen:
            continue
        seen.add(i)
        m = items[i]
        if accept is None or accept(m):
            chosen.append(m)
    if len(chosen) < count and len(seen) < n:
        # The predicate rejects most members: scan the rest from a random
        # start so that the answer is still complete.
        start = int(rnd() * n)
        for j in range(n):
            i = (start + j) % n
            if i in seen:
                continue
            m = items[i]
            if accept is None or accept(m):
                chosen.append(m)
                if len(chosen) >= count:
                    break
    return chosen


@implementer(IPeerStore)
class MemoryPeerStore:
    """
    The default L{IPeerStore}: everything in this process's memory.

    Besides the state, it keeps the accounts that the tracker's limits
    read (PROTOCOL.md section 6): the sessions registered from each source
    address (L{ppsp.tracker.addresses.addressKey}: an IPv4 address, an
    IPv6 /64), and the memory each peer and each address makes it hold,
    by the cost model at the top of this module.  Every write keeps them
    up to date; the cost methods (L{recordCost}, L{memberCost},
    L{chunksCost}, L{statsCost}) say beforehand what a write will add, so
    that the core can refuse it before anything changes.

    Each membership and each swarm has at most one expiry entry, moved or
    taken out when its deadline changes or what it times out goes.  A
    peer's liveness deadline is filed lazily (L{DeadlineBuckets}): its one
    live entry is the one in the bucket its record remembers; an entry left
    by an earlier deadline or by a removed peer is stale, is dropped when
    its bucket falls due (at most the peer timeout later) and is never
    filed again.

    @param random: the random source for sampling (inject a seeded
        L{random.Random} for deterministic tests).
    @param granularity: the width of an expiry bucket, in seconds.
    """

    def __init__(
        self, random: Optional[_random.Random] = None, granularity: float = 1.0
    ) -> None:
        self._random = random if random is not None else _random.Random()
        self._peers: Dict[str, PeerRecord] = {}
        self._swarms: Dict[str, Swarm] = {}
        self._peerDeadlines: DeadlineBuckets[str] = DeadlineBuckets(granularity)
        self._memberDeadlines: ExactDeadlines[Membership] = ExactDeadlines(granularity)
        self._swarmDeadlines: ExactDeadlines[str] = ExactDeadlines(granularity)
        # Per address key: [sessions, blocks held].
        self._addresses: Dict[str, List[int]] = {}
        # The chunk-index keys of the chunk sets chunksCost measured last,
        # by identity (the tuples are kept so that their ids stay theirs),
        # for the setChunks that follows.
        self._keysMemo: Dict[int, Tuple[Tuple[ChunkRange, ...], Set[Tuple[int, int]]]] = {}

    # Accounts ----------------------------------------------------------------

    def _charge(self, peer: PeerRecord, blocks: int) -> None:
        """
        Add C{blocks} (negative to release) to what C{peer} and its address
        hold.
        """
        if blocks:
            peer._held += blocks
            account = self._addresses.get(addressKey(peer.observedIP))
            if account is not None:
                account[1] += blocks

    def addressUsage(self, ip: str) -> Tuple[int, int]:
        """
        The sessions registered from the address C{ip} counts as (an IPv4
        address, an IPv6 /64), and the bytes they make the store hold.
        """
        account = self._addresses.get(addressKey(ip))
        if account is None:
            return 0, 0
        return account[0], account[1] * _BLOCK

    def peerUsage(self, peer: PeerRecord) -> int:
        """
        The bytes the store holds for C{peer}: its record, memberships,
        chunk sets and statistics.
        """
        return peer._held * _BLOCK

    def recordCost(
        self, peerID: str, observedIP: str, addresses: Sequence[PeerAddress]
    ) -> int:
        """
        The bytes a peer record with these attributes holds.
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
        L{setChunks} that follows, which then does not compute them again.
        """
        if not ranges:
            return 0
        memo = self._keysMemo
        entry = memo.get(id(ranges))
        if entry is None or entry[0] is not ranges:
            if len(memo) >= 4:
                memo.clear()
            entry = memo[id(ranges)] = (ranges, _indexKeys(ranges))
        return _chunkBlocks(ranges, len(entry[1])) * _BLOCK

    def _keys(self, ranges: Tuple[ChunkRange, ...]) -> Optional[Set[Tuple[int, int]]]:
        entry = self._keysMemo.get(id(ranges))
        if entry is not None and entry[0] is ranges:
            return entry[1]
        return None

    def statsCost(
        self, kept: Optional[Dict[str, StatValue]], values: Dict[str, StatValue]
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

    def keepStats(self, target: Any, values: Dict[str, StatValue]) -> None:
        """
        Merge C{values} into the statistics of C{target} (a L{PeerRecord} or
        a L{Membership}), keeping the latest value of each property.
        """
        peer = target if isinstance(target, PeerRecord) else target.peer
        blocks = self.statsCost(target.stats, values) // _BLOCK
        if target.stats is None:
            target.stats = values
        else:
            target.stats.update(values)
        self._charge(peer, blocks)

    def scheduledCount(self) -> int:
        """
        The expiry entries filed: one per peer (plus, for at most the peer
        timeout, stale ones of removed peers and moved deadlines), one per
        membership with an ExpireTime, one per swarm with a pending check.
        """
        return (
            len(self._peerDeadlines) + len(self._memberDeadlines) + len(self._swarmDeadlines)
        )

    # Peers -------------------------------------------------------------------

    def getPeer(self, peerID: str) -> Optional[PeerRecord]:
        """
        The registered peer, or L{None}.
        """
        return self._peers.get(peerID)

    def addPeer(
        self,
        peerID: str,
        token: str,
        observedIP: str,
        observedPort: int,
        addresses: Tuple[PeerAddress, ...],
        statPort: Optional[int],
        connectedAt: float,
        deadline: float,
    ) -> PeerRecord:
        """
        Register a peer, file its liveness deadline, count it for its
        address and return its record.
        """
        peer = PeerRecord(
            peerID, token, observedIP, observedPort, addresses, statPort, connectedAt, deadline
        )
        self._peers[peerID] = peer
        peer._filed = self._peerDeadlines.add(peerID, deadline)
        blocks = _recordBlocks(peerID, observedIP, addresses)
        peer._held = blocks
        key = addressKey(observedIP)
        account = self._addresses.get(key)
        if account is None:
            self._addresses[key] = [1, blocks]
        else:
            account[0] += 1
            account[1] += blocks
        return peer

    def removePeer(self, peerID: str, now: float) -> List[Swarm]:
        """
        Delete a peer and every membership it has, and release what it held
        from its address's accounts.

        @return: the swarms it was a member of.
        """
        peer = self._peers.pop(peerID, None)
        if peer is None:
            return []
        swarms = []
        for member in list(peer.swarms.values()):
            self.removeMember(member.swarm, peer, now)
            swarms.append(member.swarm)
        self._release(peer)
        peer._filed = None
        return swarms

    def _release(self, peer: PeerRecord) -> None:
        """
        Take a peer's session and what it still holds out of its
        address's account.
        """
        key = addressKey(peer.observedIP)
        account = self._addresses.get(key)
        if account is not None:
            account[0] -= 1
            account[1] -= peer._held
            if account[0] <= 0:
                del self._addresses[key]

    def peerCount(self) -> int:
        """
        The number of registered peers.
        """
        return len(self._peers)

    def storeReachable(self) -> bool:
        """
        Whether the tracker can reach this store (the health check asks,
        through L{Tracker.storeReachable<ppsp.tracker.core.Tracker.storeReachable>}):
        always, for a store in the tracker's own memory.  A store kept
        elsewhere answers whether its last exchange with it succeeded;
        this is called on every health check, so it must not block.
        """
        return True

    def peers(self) -> Iterator[PeerRecord]:
        """
        Every registered peer (O(n); for operators' views, not hot paths).
        """
        return iter(list(self._peers.values()))

    def touchPeer(self, peer: PeerRecord, deadline: float) -> None:
        """
        Move the peer's liveness deadline.  A later one is refiled lazily;
        an earlier one is filed at once, and the entry it replaces becomes
        stale.
        """
        if deadline < peer.deadline:
            peer._filed = self._peerDeadlines.add(peer.peerID, deadline)
        peer.deadline = deadline

    # Swarms ------------------------------------------------------------------

    def getSwarm(self, swarmID: str) -> Optional[Swarm]:
        """
        The swarm, or L{None}.
        """
        return self._swarms.get(swarmID)

    def addSwarm(self, swarmID: str, provisioned: bool, now: float) -> Swarm:
        """
        Create a swarm, empty since C{now}.
        """
        swarm = self._swarms[swarmID] = Swarm(swarmID, provisioned, self._random, now)
        return swarm

    def removeSwarm(self, swarmID: str) -> None:
        """
        Forget a swarm, with its pending check.
        """
        swarm = self._swarms.pop(swarmID, None)
        if swarm is not None and swarm._checkAt is not None:
            self._swarmDeadlines.discard(swarmID, swarm._checkAt)
            swarm._checkAt = None

    def swarmCount(self) -> int:
        """
        The number of swarms.
        """
        return len(self._swarms)

    def swarms(self) -> Iterator[Swarm]:
        """
        Every swarm (O(n); for operators' views).
        """
        return iter(list(self._swarms.values()))

    def scheduleSwarmCheck(self, swarm: Swarm, deadline: float) -> None:
        """
        Report C{swarm} from L{due} at C{deadline}, instead of at the time
        asked for before, if any (a swarm has one pending check).
        """
        checkAt = swarm._checkAt
        if checkAt is None:
            self._swarmDeadlines.add(swarm.swarmID, deadline)
        else:
            self._swarmDeadlines.move(swarm.swarmID, checkAt, deadline)
        swarm._checkAt = deadline

    # Memberships --------------------------------------------------------------

    def addMember(
        self, swarm: Swarm, peer: PeerRecord, mode: PeerMode, expireAt: Optional[float]
    ) -> Membership:
        """
        Make C{peer} a member of C{swarm}.
        """
        member = Membership(peer, swarm, mode, expireAt)
        peer.swarms[swarm.swarmID] = member
        swarm._add(member)
        if expireAt is not None:
            self._memberDeadlines.add(member, expireAt)
        self._charge(peer, _memberBlocks(swarm.swarmID))
        return member

    def removeMember(self, swarm: Swarm, peer: PeerRecord, now: float) -> None:
        """
        End C{peer}'s membership of C{swarm}, with its chunk set, statistics
        and expiry entry.
        """
        member = peer.swarms.pop(swarm.swarmID, None)
        if member is not None:
            keys = swarm._remove(member, now)
            if member.expireAt is not None:
                self._memberDeadlines.discard(member, member.expireAt)
            self._charge(
                peer,
                -_memberBlocks(swarm.swarmID)
                - _chunkBlocks(member.chunks, keys)
                - _statsBlocks(member.stats),
            )

    def setMemberMode(self, member: Membership, mode: PeerMode) -> None:
        """
        Change a membership's mode (a re-JOIN in another mode), keeping the
        swarm's per-mode index up to date.  Setting C{member.mode} does the
        same for this store; other stores need this call.
        """
        member.mode = mode

    def setObservedAddress(self, peer: PeerRecord, ip: str, port: int) -> None:
        """
        Record the address a peer's session now comes from (a CONNECT that
        took the session over), re-filing its memberships in the swarms'
        partitions, which may group members by that address, and moving
        the session and what it holds to the account of its new address.
        """
        moved = ip != peer.observedIP
        if moved:
            before = addressKey(peer.observedIP)
            after = addressKey(ip)
            self._charge(
                peer,
                _recordBlocks(peer.peerID, ip, peer.addresses)
                - _recordBlocks(peer.peerID, peer.observedIP, peer.addresses),
            )
            if before != after:
                self._release(peer)
                account = self._addresses.get(after)
                if account is None:
                    self._addresses[after] = [1, peer._held]
                else:
                    account[0] += 1
                    account[1] += peer._held
        peer.observedIP = ip
        peer.observedPort = port
        if not moved:
            return
        for member in peer.swarms.values():
            member.swarm._refile(member)

    def setAddresses(self, peer: PeerRecord, addresses: Tuple[PeerAddress, ...]) -> None:
        """
        Replace the addresses a peer announced (a CONNECT that took the
        session over).
        """
        self._charge(
            peer,
            _recordBlocks(peer.peerID, peer.observedIP, addresses)
            - _recordBlocks(peer.peerID, peer.observedIP, peer.addresses),
        )
        peer.addresses = addresses

    def setIdentity(self, peer: PeerRecord, identity: Any) -> None:
        """
        Record what authenticated a peer's session (a
        L{SessionIdentity<ppsp.tracker.auth.SessionIdentity>}, or L{None}
        for a session of the C{open} scheme without a client certificate).
        The record's cost already counts it: the accounts do not change.
        """
        peer.identity = identity

    def setMemberExpiry(self, member: Membership, expireAt: Optional[float]) -> None:
        """
        Set or clear when a membership ends, moving its one expiry entry.
        """
        old = member.expireAt
        if old == expireAt:
            return
        deadlines = self._memberDeadlines
        if old is None:
            deadlines.add(member, expireAt)  # type: ignore[arg-type]
        elif expireAt is None:
            deadlines.discard(member, old)
        else:
            deadlines.move(member, old, expireAt)
        member.expireAt = expireAt

    def setChunks(
        self, swarm: Swarm, member: Membership, ranges: Tuple[ChunkRange, ...]
    ) -> None:
        """
        Replace a membership's chunk set (merged and sorted by the caller).
        """
        old = member.chunks
        oldKeys = swarm._unindex(member, self._keys(old)) if old else 0
        member.chunks = ranges
        newKeys = swarm._index(member, self._keys(ranges)) if ranges else 0
        self._keysMemo.clear()
        self._charge(
            member.peer, _chunkBlocks(ranges, newKeys) - _chunkBlocks(old, oldKeys)
        )

    # Expiry ---------------------------------------------------------------------

    def due(
        self, now: float
    ) -> Tuple[List[str], List[Tuple[str, str]], List[str]]:
        """
        The peers, memberships and swarm checks due at C{now}.  A peer
        whose deadline moved later is refiled, not returned; a stale peer
        entry is dropped; swarm checks are returned as filed (the core
        decides).
        """
        peers = []
        buckets = self._peerDeadlines
        for bucket in buckets.popDueBuckets(now):
            for peerID in bucket:
                peer = self._peers.get(peerID)
                if peer is None or peer._filed is not bucket:
                    continue
                if peer.deadline <= now:
                    peers.append(peerID)
                    peer._filed = None
                else:
                    peer._filed = buckets.add(peerID, peer.deadline)
        members = [
            (member.swarm.swarmID, member.peerID)
            for member in self._memberDeadlines.popDue(now)
        ]
        swarms = self._swarmDeadlines.popDue(now)
        for swarmID in swarms:
            swarm = self._swarms.get(swarmID)
            if swarm is not None:
                swarm._checkAt = None
        return peers, members, swarms
