# -*- test-case-name: ppsp.test.test_overload -*-
"""
The per-address throttle (PROTOCOL.md section 6): a token bucket per source
address, applied by L{TrackerResource<ppsp.tracker.resource.TrackerResource>}
before a request's body is decoded, next to the load shedder.

The unit of a "source address" is the one the tracker counts everything
in (L{addressKey}): an IPv4 address, and for IPv6 the /64 network the
address is in, since one IPv6 host usually holds a whole /64 and could
otherwise send from a fresh address every request.

Buckets of addresses that went quiet are dropped as the throttle goes:
at most once a second, L{AddressThrottle.admit} drops the buckets that
have been full (idle) for a whole refill time, at a cost in proportion
to the buckets that fall due (L{DeadlineBuckets}); no timer or service is
needed.

With C{--workers N}, each worker process keeps its own buckets and
enforces its share of the limit (the C{workers} argument of
L{AddressThrottle}): C{rate/N} and C{burst/N}, at least 1.  The kernel
spreads the connections of the shared socket over the workers, so that an
address's requests, and its tokens, are split about evenly; this costs
nothing per request, where buckets in Redis would cost a round trip each.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from twisted.internet.interfaces import IReactorTime

from ppsp.tracker.addresses import addressKey
from ppsp.tracker._deadlines import DeadlineBuckets

__all__ = ["AddressThrottle"]


class AddressThrottle:
    """
    A token bucket per source address (an IPv4 address, an IPv6 /64).

    @param clock: the source of time.
    @param rate: requests per second one address may send, sustained; 0
        turns the throttle off.
    @param burst: the requests one address may send at once (the bucket's
        size); twice C{rate} when L{None}.
    @param workers: the processes that share C{rate} and C{burst} (those of
        C{--workers}), each with buckets of its own: this one enforces its
        share, C{rate / workers} and C{burst / workers}, the burst at least
        1 (a rate that is not 0).

    @ivar rate: the rate this throttle enforces (its share).
    @ivar burst: the bucket's size (its share).
    """

    def __init__(
        self,
        clock: IReactorTime,
        rate: float = 200.0,
        burst: Optional[float] = None,
        workers: int = 1,
    ) -> None:
        if rate < 0 or (burst is not None and burst < 0):
            raise ValueError("the rate and the burst must not be negative")
        if workers < 1:
            raise ValueError("the workers must be at least 1")
        self.clock = clock
        self.rate = float(rate) / workers
        self.burst = float(burst if burst is not None else 2 * rate) / workers
        if self.rate and self.burst < 1.0:
            self.burst = 1.0
        # addressKey -> [tokens, time of the last update]
        self._buckets: Dict[str, List[float]] = {}
        self._deadlines: DeadlineBuckets[str] = DeadlineBuckets()
        self._nextPrune = float("-inf")

    def __len__(self) -> int:
        """
        The addresses that have a bucket (sent requests recently).
        """
        return len(self._buckets)

    def admit(self, ip: str) -> Optional[float]:
        """
        Take one token from the bucket of the address C{ip} (text, as the
        request's origin has it).

        @return: L{None} when the request may go on, else the seconds after
            which the address may try again (for C{Retry-After}).
        """
        rate = self.rate
        if not rate:
            return None
        now = self.clock.seconds()
        if now >= self._nextPrune:
            self.prune(now)
        key = addressKey(ip)
        bucket = self._buckets.get(key)
        burst = self.burst
        if bucket is None:
            self._buckets[key] = [burst - 1.0, now]
            self._deadlines.add(key, now + burst / rate)
            return None
        tokens = bucket[0] + (now - bucket[1]) * rate
        if tokens > burst:
            tokens = burst
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return None
        bucket[0] = tokens
        return (1.0 - tokens) / rate

    def prune(self, now: Optional[float] = None) -> None:
        """
        Drop the buckets that have refilled completely: an address that
        comes back gets a full bucket, which is what it would find anyway.
        L{admit} calls this at most once a second.

        @param now: the time; the clock's when L{None}.
        """
        if now is None:
            now = self.clock.seconds()
        self._nextPrune = now + 1.0
        if not self.rate:
            return
        full = self.burst / self.rate
        buckets = self._buckets
        for key in self._deadlines.popDue(now):
            bucket = buckets.get(key)
            if bucket is None:
                continue
            if bucket[1] + full <= now:
                del buckets[key]
            else:
                self._deadlines.add(key, bucket[1] + full)
