"""
Tests for L{ppsp._coroutines}.
"""

from __future__ import annotations

from typing import List

from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from ppsp._coroutines import startCoroutine


class StartCoroutineTests(SynchronousTestCase):
    """
    L{startCoroutine} runs a coroutine to its result as
    L{Deferred.fromCoroutine} does, at once when it never waits.
    """

    def test_firedAtOnce(self) -> None:
        """
        A coroutine whose awaited L{Deferred}s have all fired has run to
        its end when L{startCoroutine} returns, and the L{Deferred} has its
        result.
        """

        async def add() -> int:
            return await succeed(1) + await succeed(2)

        self.assertEqual(self.successResultOf(startCoroutine(add())), 3)

    def test_failsAtOnce(self) -> None:
        """
        An exception the coroutine raises without waiting is the failure
        of the L{Deferred}.
        """

        async def broken() -> int:
            await succeed(None)
            raise ValueError("no")

        self.failureResultOf(startCoroutine(broken()), ValueError)

    def test_waits(self) -> None:
        """
        A coroutine that awaits a L{Deferred} that has not fired is
        resumed when it fires, runs on through later awaits, and the
        L{Deferred} fires with its result only then.
        """
        first: Deferred[int] = Deferred()
        second: Deferred[int] = Deferred()
        steps: List[str] = []

        async def twoWaits() -> int:
            steps.append("start")
            a = await first
            steps.append("first")
            b = await second
            steps.append("second")
            return a + b

        result = startCoroutine(twoWaits())
        self.assertNoResult(result)
        self.assertEqual(steps, ["start"])
        first.callback(1)
        self.assertNoResult(result)
        self.assertEqual(steps, ["start", "first"])
        second.callback(2)
        self.assertEqual(self.successResultOf(result), 3)
        self.assertEqual(steps, ["start", "first", "second"])

    def test_waitedFailureRaisedInside(self) -> None:
        """
        A L{Deferred} the coroutine waits for that fails raises its
        exception at the C{await}, where the coroutine may handle it.
        """
        waited: Deferred[int] = Deferred()

        async def handles() -> str:
            try:
                await waited
            except KeyError:
                return "handled"
            return "not raised"

        result = startCoroutine(handles())
        waited.errback(KeyError("k"))
        self.assertEqual(self.successResultOf(result), "handled")
