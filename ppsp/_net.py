# -*- test-case-name: ppsp.test.test_net -*-
"""
Small pieces that both sides of the protocol (tracker and peer) share:
an address written as C{host:port}, a wait with capped exponential
backoff and jitter, and a transport failure described in one line.
"""

from __future__ import annotations

from random import Random
from typing import Union

from twisted.internet import error as ierror
from twisted.internet.defer import CancelledError, TimeoutError

__all__ = ["backoff", "describeFailure", "hostPort"]

#: The attempt after which L{backoff} stops doubling (the wait is long
#: since capped; this keeps the power finite).
LONGEST = 64


def hostPort(host: str, port: Union[int, str, None]) -> str:
    """
    An address as C{host:port}, an IPv6 address in brackets
    (C{[2001:db8::1]:7000}).

    @param host: an IP address (or a host name).
    @param port: the port.
    """
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def backoff(attempt: int, initial: float, most: float, random: Random) -> float:
    """
    The wait after failed attempt number C{attempt} (from 1): C{initial}
    seconds, doubled with every further attempt up to C{most}, times a
    random factor between 0.5 and 1 (jitter), so that many clients that
    failed at once do not all try again at once.

    @param attempt: how many attempts failed in a row.
    @param initial: the wait after the first failure, before jitter.
    @param most: the longest wait, before jitter.
    @param random: the source of jitter.
    """
    wait = min(most, initial * 2.0 ** (min(attempt, LONGEST) - 1))
    return wait * random.uniform(0.5, 1.0)


def describeFailure(error: BaseException) -> str:
    """
    A one-line description of a transport failure: the reasons that
    twisted.web's client wraps in lists of Failures (C{ResponseFailed},
    C{ResponseNeverReceived}) spelt out, a timeout or cancellation as
    C{"timed out"}, else the exception's text or, when it has none, its
    class name.
    """
    reasons = getattr(error, "reasons", None)
    if reasons:
        return "; ".join(describeFailure(r.value) for r in reasons)
    if isinstance(error, (ierror.TimeoutError, TimeoutError, CancelledError)):
        return "timed out"
    return str(error).strip() or type(error).__name__
