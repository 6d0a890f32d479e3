"""
Tests for the package that C{docs/writing-a-strategy.rst} walks through
(C{docs/examples/strategy-package/}): found as a plugin from a copy on the
path, used by a tracker, and installed with pip and listed by C{twist
ppsp-tracker --list-selectors}.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase

import ppsp
import ppsp.plugins
from ppsp.interfaces import IPeerSelector
from ppsp.messages import FindRequest, JoinRequest, PeerMode
from ppsp.selection import availableSelectors, makeSelector
from ppsp.test.doccommands import Commands, DocumentedCommand, runsDocumented
from ppsp.test.helpers import TrackerHarness

#: The source checkout's root, and the walkthrough's package in it.
PROJECT = FilePath(ppsp.__file__).parent().parent()
PACKAGE = PROJECT.child("docs").child("examples").child("strategy-package")
BIN = os.path.dirname(sys.executable)


def copyPackage(testCase: SynchronousTestCase) -> FilePath[str]:
    """
    Copy the example package to a fresh directory and return the copy.
    """
    if not PACKAGE.isdir():
        raise SkipTest("docs/examples/strategy-package is not beside ppsp (an installed copy?)")
    copy: FilePath[str] = FilePath(testCase.mktemp())
    PACKAGE.copyTo(copy)
    return copy


class OnThePathTests(SynchronousTestCase):
    """
    The package's files, on C{sys.path} as pip would put them, give a
    strategy that ppsp finds and a tracker uses.
    """

    def setUp(self) -> None:
        root = self.root = copyPackage(self)
        self.assertFalse(root.child("ppsp").child("__init__.py").exists())
        self.assertFalse(root.child("ppsp").child("plugins").child("__init__.py").exists())
        sys.path.insert(0, root.path)
        self.addCleanup(sys.path.remove, root.path)
        plugins = root.child("ppsp").child("plugins").path
        ppsp.plugins.__path__.append(plugins)
        self.addCleanup(ppsp.plugins.__path__.remove, plugins)
        for name in ("ppsp.plugins.veterans", "ppsp_veterans", "ppsp_veterans.selector"):
            self.addCleanup(sys.modules.pop, name, None)

    def test_discovered(self) -> None:
        """
        C{availableSelectors} lists C{veterans} with its description, and
        C{makeSelector} passes its arguments on or refuses bad ones.
        """
        found = availableSelectors()
        self.assertIn("veterans", found)
        self.assertIn("Long-connected peers first", found["veterans"].description)
        selector: Any = makeSelector("veterans:probe=8")
        self.assertTrue(IPeerSelector.providedBy(selector))
        self.assertEqual(selector.probe, 8)
        self.assertRaises(ValueError, makeSelector, "veterans:age=3")

    def test_usedByTracker(self) -> None:
        """
        A tracker with the strategy lists the peers that connected first:
        with a pool as large as the swarm, exactly the oldest ones.
        """
        h = TrackerHarness(self)
        h.tracker.selector = makeSelector("veterans:probe=100")
        for i in range(10):
            h.connect(f"p{i}")
            h.ok(JoinRequest, f"p{i}", swarmID="s", mode=PeerMode.SEED)
            h.clock.advance(10)
        r = h.ok(FindRequest, "p9", swarmID="s", peerNum=3)
        self.assertEqual([p.peerID for p in r.peers], ["p0", "p1", "p2"])
        r = h.ok(FindRequest, "p0", swarmID="s", peerNum=2)
        self.assertEqual([p.peerID for p in r.peers], ["p1", "p2"])


    @runsDocumented("docs/writing-a-strategy.rst", "python -m twisted.trial tests")
    def test_packageTests(self, trial: DocumentedCommand) -> None:
        """
        The package's own tests (C{tests/test_veterans.py}, shown in the
        walkthrough) pass against this ppsp, run as the walkthrough says:
        C{python -m twisted.trial tests} in the package's directory, with
        the package installed (its copy on the path).
        """
        run = Commands(self)
        result = run.runBlocking(
            trial, cwd=self.root, env={"PYTHONPATH": self.root.path + os.pathsep + run.env["PYTHONPATH"]}
        )
        self.assertIn("PASSED (successes=2)", result.stdout)


class InstalledTests(SynchronousTestCase):
    """
    The package installs with pip (offline: no dependencies, no build
    isolation) and the installed strategy is listed by the tracker.
    """

    def test_pipInstallAndList(self) -> None:
        """
        C{pip install --target} puts C{ppsp/plugins/veterans.py} and the
        C{ppsp_veterans} package in the target, and C{twist ppsp-tracker
        --list-selectors} run with that target on C{PYTHONPATH} lists
        C{veterans} next to the built-in strategies.
        """
        source = copyPackage(self)
        target = FilePath(self.mktemp())
        pip = subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                "--no-build-isolation", "--no-index", "--target", target.path, source.path,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if pip.returncode and "bdist_wheel" in pip.stdout + pip.stderr:
            raise SkipTest("building the package needs the 'wheel' package (or setuptools >= 70.1)")
        self.assertEqual(pip.returncode, 0, pip.stdout + pip.stderr)
        self.assertTrue(target.descendant(["ppsp", "plugins", "veterans.py"]).isfile())
        self.assertTrue(target.descendant(["ppsp_veterans", "selector.py"]).isfile())
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([target.path, PROJECT.path, env.get("PYTHONPATH", "")])
        listing = subprocess.run(
            [os.path.join(BIN, "twist"), "ppsp-tracker", "--list-selectors"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        self.assertEqual(listing.returncode, 0, listing.stdout + listing.stderr)
        names = [line.split()[0] for line in listing.stdout.splitlines() if line.strip()]
        self.assertIn("veterans", names)
        self.assertIn("random", names)
        self.assertIn("Long-connected peers first", listing.stdout)
