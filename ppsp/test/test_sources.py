"""
Tests of the source tree itself.
"""

from __future__ import annotations

import importlib
import re

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

import ppsp

_TEST_CASE_NAME = re.compile(rb"^# -\*- test-case-name: ([\w.]+) -\*-", re.MULTILINE)


class TestCaseNameTests(SynchronousTestCase):
    """
    The C{test-case-name} line at the top of a module says which tests to
    run for it (C{trial --testmodule}); a wrong one runs nothing.
    """

    def test_namesExist(self) -> None:
        """
        Every C{test-case-name} in the package names a test module, class
        or method that exists.
        """
        missing = []
        for path in FilePath(ppsp.__file__).parent().walk():
            if path.splitext()[1] != ".py":
                continue
            match = _TEST_CASE_NAME.search(path.getContent()[:300])
            if match is None:
                continue
            name = match.group(1).decode("ascii")
            parts = name.split(".")
            for split in range(len(parts), 0, -1):
                try:
                    target: object = importlib.import_module(".".join(parts[:split]))
                except ImportError:
                    continue
                try:
                    for attribute in parts[split:]:
                        target = getattr(target, attribute)
                except AttributeError:
                    missing.append(f"{path.basename()}: {name}")
                break
            else:
                missing.append(f"{path.basename()}: {name}")
        self.assertEqual(missing, [])
