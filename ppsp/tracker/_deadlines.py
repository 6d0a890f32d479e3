# -*- test-case-name: ppsp.test.test_store -*-
"""
Deadline buckets: the expiry mechanism of the tracker.

Both kinds of buckets here file keys under the whole second (or other
granularity) at which they fall due.  Popping the due buckets costs time in
proportion to the keys that are due, never to all keys, and no timer exists
per key.

L{DeadlineBuckets} files keys lazily, in lists (8 bytes a key): a deadline
that moves later does not move its key; when the key's old bucket falls
due, the owner sees that the key's current deadline is still ahead and
files it again.  A live peer that sends a KEEPALIVE every minute is
therefore touched in O(1) and refiled only once per peer timeout.  A key
cannot be taken out of its list; an owner that may file a key again before
its old entry falls due keeps the list L{DeadlineBuckets.add} returned, and
ignores the entries found in any other list (they are stale).

L{ExactDeadlines} files each key at most once, under a deadline its owner
knows, so that the owner can move it or take it out in O(1) when what it
times out changes or goes: nothing is left behind.
"""

from __future__ import annotations

import heapq
import math
from typing import Dict, Generic, Hashable, List, TypeVar

__all__ = ["DeadlineBuckets", "ExactDeadlines"]

K = TypeVar("K", bound=Hashable)


class DeadlineBuckets(Generic[K]):
    """
    Keys filed by deadline, lazily.

    @ivar granularity: the width of one bucket, in seconds.
    """

    __slots__ = ("granularity", "_buckets", "_heap")

    def __init__(self, granularity: float = 1.0) -> None:
        self.granularity = granularity
        self._buckets: Dict[int, List[K]] = {}
        self._heap: List[int] = []

    def __len__(self) -> int:
        """
        The number of filed keys (a key filed twice counts twice).  O(number
        of buckets).
        """
        return sum(len(b) for b in self._buckets.values())

    def add(self, key: K, deadline: float) -> List[K]:
        """
        File C{key} so that L{popDue} returns it once C{deadline} has
        passed (at the end of the bucket holding C{deadline}).

        @return: the bucket C{key} is now filed in (a list that
            L{popDueBuckets} returns whole when it falls due).  The caller
            must not change it.
        """
        bucket = math.ceil(deadline / self.granularity)
        keys = self._buckets.get(bucket)
        if keys is None:
            keys = self._buckets[bucket] = [key]
            heapq.heappush(self._heap, bucket)
        else:
            keys.append(key)
        return keys

    def popDueBuckets(self, now: float) -> List[List[K]]:
        """
        Remove and return every bucket that ends at or before C{now}, each
        the very list that L{add} returned for the keys filed in it.
        """
        due: List[List[K]] = []
        heap = self._heap
        limit = now / self.granularity
        while heap and heap[0] <= limit:
            due.append(self._buckets.pop(heapq.heappop(heap)))
        return due

    def popDue(self, now: float) -> List[K]:
        """
        Remove and return every key whose bucket ends at or before C{now}.
        """
        due: List[K] = []
        for keys in self.popDueBuckets(now):
            due.extend(keys)
        return due


class ExactDeadlines(Generic[K]):
    """
    Keys filed by deadline, each at most once: the owner, which knows the
    deadline under which it filed a key, can L{move} it or L{discard} it in
    O(1).  A bucket left empty is dropped at once; the heap of bucket
    numbers is rebuilt when most of it names dropped buckets, so that
    keys filed far in the future and taken out again leave nothing behind.

    @ivar granularity: the width of one bucket, in seconds.
    """

    __slots__ = ("granularity", "_buckets", "_heap", "_count")

    def __init__(self, granularity: float = 1.0) -> None:
        self.granularity = granularity
        self._buckets: Dict[int, Dict[K, None]] = {}
        self._heap: List[int] = []
        self._count = 0

    def __len__(self) -> int:
        """
        The number of filed keys.  O(1).
        """
        return self._count

    def add(self, key: K, deadline: float) -> None:
        """
        File C{key} under C{deadline} (filing it again under the same
        bucket changes nothing).  A key filed under another deadline must be
        L{discard}ed or L{move}d, not added again.
        """
        bucket = math.ceil(deadline / self.granularity)
        keys = self._buckets.get(bucket)
        if keys is None:
            self._buckets[bucket] = {key: None}
            heapq.heappush(self._heap, bucket)
        elif key in keys:
            return
        else:
            keys[key] = None
        self._count += 1

    def discard(self, key: K, deadline: float) -> None:
        """
        Take C{key} out of the bucket of C{deadline}, if it is filed there.
        """
        bucket = math.ceil(deadline / self.granularity)
        keys = self._buckets.get(bucket)
        if keys is None or key not in keys:
            return
        del keys[key]
        self._count -= 1
        if not keys:
            del self._buckets[bucket]
            heap = self._heap
            if len(heap) > 2 * len(self._buckets) + 64:
                heap[:] = self._buckets
                heapq.heapify(heap)

    def move(self, key: K, old: float, new: float) -> None:
        """
        Move C{key} from the deadline C{old} to C{new}.
        """
        g = self.granularity
        if math.ceil(old / g) != math.ceil(new / g):
            self.discard(key, old)
            self.add(key, new)

    def popDue(self, now: float) -> List[K]:
        """
        Remove and return every key whose bucket ends at or before C{now}.
        """
        due: List[K] = []
        heap = self._heap
        buckets = self._buckets
        limit = now / self.granularity
        while heap and heap[0] <= limit:
            keys = buckets.pop(heapq.heappop(heap), None)
            if keys:
                due.extend(keys)
        self._count -= len(due)
        return due
