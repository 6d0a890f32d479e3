# -*- test-case-name: ppsp.test.test_retry,ppsp.test.test_core.RetryTests -*-
"""
The retry cache: a request repeated within the retry window gets its first
answer again and is not applied twice (PROTOCOL.md section 6).

A repeat is recognised by who sent it and what it says:

  - the key: the source IP address, the PeerID, the TransactionID, and
    the TLS client certificate of the connection (L{None} without one), so
    that an answer never goes to a connection that shows another identity
    than the one that was answered (in the C{x509} scheme the certificate
    I{is} the identity: the same bytes sent over another certificate, or
    over none, are a new request for the checker to judge);
  - the fingerprint: a hash of the decoded message, which holds the
    credential (C{<Cer>}, or the JSON C{Authorization} header) and the
    AuthToken, so that a repeat must present the very same proof.  The
    cache says how it hashes (L{IRetryCache.fingerprint}): this process's
    C{hash} for L{MemoryRetryCache} (L{fingerprint}, the cheapest), a
    digest that every process computes alike for a cache that trackers
    share (L{stableFingerprint}: Python randomises C{hash} of text per
    process).

The cache keeps at most C{size} answers, each for C{window} seconds; its
entries live in insertion order, so pruning pops from the front in O(1)
per entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict
from typing import Hashable, Optional, Tuple

from twisted.internet.defer import Deferred, succeed
from zope.interface import implementer

from ppsp.interfaces import IRetryCache
from ppsp.messages import Request, Response

__all__ = ["MemoryRetryCache", "retryKey", "fingerprint", "stableFingerprint"]

#: What identifies the sender of a request (see L{retryKey}).
RetryKey = Tuple[str, str, str, Optional[bytes]]


def retryKey(ip: str, request: Request, certificate: Optional[bytes]) -> RetryKey:
    """
    The key under which the answer to C{request} is kept: the source
    address, the PeerID, the TransactionID and the connection's TLS
    client certificate (DER, or L{None}).
    """
    return (ip, request.peerID, request.transactionID, certificate)


def fingerprint(request: Request) -> int:
    """
    What the cache keeps of a request to recognise it again: a hash of its
    class and its fields (two requests of different methods can have equal
    fields).  Keeping the hash rather than the message keeps the cache
    small.
    """
    return hash((type(request), request))


def stableFingerprint(request: Request) -> int:
    """
    A fingerprint of C{request} that is the same in every process (and
    every run): a 64-bit BLAKE2b digest of its class name and the C{repr}
    of its fields, for a retry cache that several trackers share.  It
    costs about 2 us for a KEEPALIVE and 10 us for a STAT_REPORT of four
    Stats (C{hash} costs 1 to 2): nothing next to a round trip to a shared
    store, but too much for the memory cache.
    """
    text = repr(
        (type(request).__name__,)
        + tuple(getattr(request, field.name) for field in dataclasses.fields(request))
    )
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


@implementer(IRetryCache)
class MemoryRetryCache:
    """
    The retry cache in this process's memory.

    @param window: seconds an answer is kept.
    @param size: the most answers kept; the oldest go first.
    """

    def __init__(self, window: float = 60.0, size: int = 200_000) -> None:
        self.window = window
        self.size = size
        # key -> (fingerprint of the request, the answer, until when).  An
        # OrderedDict, because pruning pops from the front, which costs
        # O(1) there and O(deleted entries) in a dict.
        self._entries: OrderedDict[Hashable, Tuple[int, Response, float]] = OrderedDict()

    def __len__(self) -> int:
        """
        The number of answers kept.
        """
        return len(self._entries)

    def fingerprint(self, request: Request) -> int:
        """
        This process's hash of C{request} (L{fingerprint}): the cache lives
        in this process only.
        """
        return fingerprint(request)

    def get(self, key: Hashable, fingerprint: int, now: float) -> "Deferred[Optional[Response]]":
        """
        The answer kept for C{key}, when it is still in the window and was
        given to a request with the same C{fingerprint}; else L{None}.
        """
        entry = self._entries.get(key)
        if entry is not None and entry[2] > now and entry[0] == fingerprint:
            return succeed(entry[1])
        return succeed(None)

    def put(self, key: Hashable, fingerprint: int, response: Response, now: float) -> "Deferred[None]":
        """
        Keep C{response} for C{key} until the window ends.
        """
        entries = self._entries
        entries[key] = (fingerprint, response, now + self.window)
        entries.move_to_end(key)
        if len(entries) > self.size:
            entries.popitem(last=False)
        return succeed(None)

    def discard(self, key: Hashable) -> "Deferred[None]":
        """
        Forget the answer kept for C{key}, if any.
        """
        self._entries.pop(key, None)
        return succeed(None)

    def clear(self) -> None:
        """
        Forget every answer (and the memory the table took).
        """
        self._entries = OrderedDict()

    def prune(self, now: float) -> "Deferred[None]":
        """
        Forget every answer whose window has ended.
        """
        entries = self._entries
        while entries:
            first = next(iter(entries))
            if entries[first][2] > now:
                break
            entries.popitem(last=False)
        return succeed(None)
