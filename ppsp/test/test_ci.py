"""
Tests for C{.ci/summary.py}, which turns the trial runs of C{.ci/run} (one
per Python) into the closing line CI reads and decides whether CI failed.
"""

from __future__ import annotations

import importlib.util
import io
from contextlib import redirect_stderr, redirect_stdout
from types import ModuleType
from typing import List, Tuple

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase

import ppsp

#: The script, in the source checkout.
SUMMARY = FilePath(ppsp.__file__).parent().parent().child(".ci").child("summary.py")

PASSED = "Ran 5 tests in 1.0s\n\nPASSED (skips=1, successes=4)\n"
FAILED = "Ran 4 tests in 1.0s\n\nFAILED (failures=1, errors=1, successes=2)\n"
EMPTY = "Ran 0 tests in 0.0s\n\nPASSED\n"


def loadSummary() -> ModuleType:
    """
    Load C{.ci/summary.py} by its path.
    """
    if not SUMMARY.isfile():
        raise SkipTest(".ci/summary.py is not beside ppsp (an installed copy?)")
    spec = importlib.util.spec_from_file_location("_ppsp_ci_summary", SUMMARY.path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SummaryTests(SynchronousTestCase):
    """
    C{.ci/summary.py NAME=LOG...} prints a line per run and, last, the
    total as one plain line; its exit status is 1 when a run failed, ran
    no test or printed no summary.
    """

    def run_(self, *logs: Tuple[str, str]) -> Tuple[int, List[str]]:
        """
        Run the script's C{main} on logs with these names and texts.

        @return: its exit status and the lines it printed on stdout.
        """
        summary = loadSummary()
        args = []
        for name, text in logs:
            path = FilePath(self.mktemp())
            path.setContent(text.encode("utf-8"))
            args.append(f"{name}={path.path}")
        out = io.StringIO()
        with redirect_stdout(out), redirect_stderr(io.StringIO()):
            status = summary.main(args)
        return status, out.getvalue().splitlines()

    def test_oneRun(self) -> None:
        """
        One passing run gives its line alone, and success.
        """
        self.assertEqual(self.run_(("python3.10", PASSED)), (0, ["4 passed, 0 failed, 1 skipped"]))

    def test_totalLast(self) -> None:
        """
        With two runs, each has its line and the total is the last line.
        """
        status, lines = self.run_(("python3.10", PASSED), ("python3.13", PASSED))
        self.assertEqual(status, 0)
        self.assertEqual(
            lines,
            [
                "python3.10: 4 passed, 0 failed, 1 skipped",
                "python3.13: 4 passed, 0 failed, 1 skipped",
                "8 passed, 0 failed, 2 skipped",
            ],
        )

    def test_oneRunFails(self) -> None:
        """
        A failure in either run fails the whole, and is counted in the total.
        """
        for logs in [(PASSED, FAILED), (FAILED, PASSED)]:
            status, lines = self.run_(("a", logs[0]), ("b", logs[1]))
            self.assertEqual(status, 1)
            self.assertEqual(lines[-1], "6 passed, 2 failed, 1 skipped")

    def test_noTest(self) -> None:
        """
        A run that ran no test, or printed no summary (it crashed), fails the
        whole, although trial says PASSED on an empty run; so does no run.
        """
        self.assertEqual(self.run_(("a", PASSED), ("b", EMPTY))[0], 1)
        self.assertEqual(self.run_(("a", PASSED), ("b", "Traceback ...\n"))[0], 1)
        self.assertEqual(self.run_(), (1, ["0 passed, 0 failed, 0 skipped"]))
