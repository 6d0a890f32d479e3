# -*- test-case-name: ppsp.test.test_store -*-
"""
Deadline buckets: the expiry mechanism of the tracker.

A L{DeadlineBuckets} files keys under the whole second (or other
granularity) at which they fall due.  Popping the due buckets costs time in
proportion to the keys that are due, never to all keys, and no timer exists
per key.  Keys are filed lazily: a deadline that moves later does not move
its key; when the key's old bucket falls due, the owner sees that the key's
current deadline is still ahead and files it again.  A live peer that sends
a KEEPALIVE every minute is therefore touched in O(1) and refiled only once
per peer timeout.
"""

from __future__ import annotations

import heapq
import math
from typing import Dict, Generic, Hashable, List, TypeVar

__all__ = ["DeadlineBuckets"]

K = TypeVar("K", bound=Hashable)


class DeadlineBuckets(Generic[K]):
    """
    Keys filed by deadline.

    @ivar granularity: the width of one bucket, in seconds.
    """

    __slots__ = ("granularity", "_buckets", "_heap")

    def __init__(self, granularity: float = 1.0) -> None:
        self.granularity = granularity
        self._buckets: Dict[int, List[K]] = {}
        self._heap: List[int] = []

    def __len__(self) -> int:
        """
        The number of filed keys (a key filed twice counts twice).
        """
        return sum(len(b) for b in self._buckets.values())

    def add(self, key: K, deadline: float) -> None:
        """
        File C{key} so that L{popDue} returns it once C{deadline} has
        passed (at the end of the bucket holding C{deadline}).
        """
        bucket = math.ceil(deadline / self.granularity)
        keys = self._buckets.get(bucket)
        if keys is None:
            self._buckets[bucket] = [key]
            heapq.heappush(self._heap, bucket)
        else:
            keys.append(key)

    def popDue(self, now: float) -> List[K]:
        """
        Remove and return every key whose bucket ends at or before C{now}.
        """
        due: List[K] = []
        heap = self._heap
        limit = now / self.granularity
        while heap and heap[0] <= limit:
            due.extend(self._buckets.pop(heapq.heappop(heap)))
        return due
