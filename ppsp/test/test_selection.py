"""
Tests for L{ppsp.selection} and L{ppsp.plugins}: strategies found as
Twisted plugins, including a third party's dropped into its own
C{ppsp/plugins} directory.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from twisted.plugin import IPlugin
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

import ppsp.plugins
from ppsp.interfaces import IPeerSelector, IPeerSelectorPlugin
from ppsp.plugins.ppsp_builtin import random as randomPlugin
from ppsp.selection import (
    RandomSelector,
    availableSelectors,
    makeSelector,
    requiresCompleteViews,
)
from ppsp.selection.composite import CompositeSelector
from ppsp.tracker.tap import Options, checkedSwarmsFile, formatSelectors

THIRD_PARTY = '''
from twisted.plugin import IPlugin
from zope.interface import implementer

from ppsp.interfaces import IPeerSelector, IPeerSelectorPlugin


@implementer(IPeerSelector)
class FirstN:
    def __init__(self, n, requiresCompleteViews=False):
        self.n = n
        # As if it kept an index of its own over the whole swarm.
        self.requiresCompleteViews = requiresCompleteViews

    def select(self, swarm, requester, count, constraints):
        return swarm.sample(min(count, self.n), constraints.accepts)


@implementer(IPlugin, IPeerSelectorPlugin)
class FirstNPlugin:
    name = "Few"
    description = "At most N peers."

    def makeSelector(self, argstring):
        if argstring == "indexed":
            return FirstN(1, requiresCompleteViews=True)
        return FirstN(int(argstring or "1"))


few = FirstNPlugin()


@implementer(IPlugin, IPeerSelectorPlugin)
class Broken:
    name = "broken"
    description = "Makes no selector."

    def makeSelector(self, argstring):
        return object()


broken = Broken()

'''


LIAR = '''
from twisted.plugin import IPlugin
from zope.interface import implementer

from ppsp.interfaces import IPeerSelector, IPeerSelectorPlugin


@implementer(IPeerSelector)
class Liar:
    """
    Ignores the constraints: every member twice, the requester first,
    expired ones included, far more than asked for.
    """

    def select(self, swarm, requester, count, constraints):
        everyone = list(swarm)
        mine = [m for m in everyone if m.peerID == requester.peerID]
        return mine + everyone + everyone


@implementer(IPlugin, IPeerSelectorPlugin)
class LiarPlugin:
    name = "liar"
    description = "Breaks every rule."

    def makeSelector(self, argstring):
        return Liar()


liar = LiarPlugin()
'''


class BuiltinTests(SynchronousTestCase):
    """
    The built-in strategy is a plugin like any other.
    """

    def test_randomPlugin(self) -> None:
        """
        The C{random} plugin provides L{IPlugin} and L{IPeerSelectorPlugin}
        and makes a L{RandomSelector}; arguments are refused.
        """
        self.assertTrue(verifyObject(IPeerSelectorPlugin, randomPlugin))
        self.assertTrue(IPlugin.providedBy(randomPlugin))
        selector = makeSelector("random")
        self.assertIsInstance(selector, RandomSelector)
        self.assertTrue(verifyObject(IPeerSelector, selector))
        self.assertRaises(ValueError, makeSelector, "random:x")
        self.assertRaises(KeyError, makeSelector, "nope")

    def test_listing(self) -> None:
        """
        The listing names every built-in strategy with its description,
        one a line, in alphabetical order.
        """
        builtins = ["capacity", "chunks", "composite", "locality", "random", "roles"]
        self.assertTrue(set(builtins) <= set(availableSelectors()))
        listing = formatSelectors()
        self.assertIsNotNone(re.search(r"^random +Uniformly random peers", listing, re.M))
        names = [line.split()[0] for line in listing.splitlines()]
        self.assertEqual([n for n in names if n in builtins], builtins)
        for name in builtins:
            self.assertIsNotNone(re.search(rf"^{name} +\S", listing, re.M), name)


class DropinTests(SynchronousTestCase):
    """
    A third party's C{ppsp/plugins/NAME.py}, in a directory on C{sys.path}
    with no C{__init__.py}, is found and selectable by name.
    """

    def setUp(self) -> None:
        root = FilePath(self.mktemp())
        plugins = root.child("ppsp").child("plugins")
        plugins.makedirs()
        plugins.child("their_strategy.py").setContent(THIRD_PARTY.encode("utf-8"))
        plugins.child("their_liar.py").setContent(LIAR.encode("utf-8"))
        sys.path.insert(0, root.path)
        self.addCleanup(sys.path.remove, root.path)
        here = plugins.path
        ppsp.plugins.__path__.append(here)
        self.addCleanup(ppsp.plugins.__path__.remove, here)
        self.addCleanup(sys.modules.pop, "ppsp.plugins.their_strategy", None)
        self.addCleanup(sys.modules.pop, "ppsp.plugins.their_liar", None)

    def test_found(self) -> None:
        """
        The dropped-in plugins are listed next to the built-in one, and a
        name matches case-insensitively with its arguments passed on.
        """
        found = availableSelectors()
        self.assertEqual(set(found) >= {"random", "few", "broken", "liar"}, True, found)
        selector: Any = makeSelector("FEW:3")
        self.assertEqual(selector.n, 3)
        self.assertIn("few", formatSelectors())

    def test_swarmsFileStrategies(self) -> None:
        """
        A swarms file line may end with C{ selector=NAME[:ARGS]}: that swarm
        gets its own strategy, the others the tracker's; SwarmIDs may hold
        spaces (written in double quotes).  An unknown strategy is a usage
        error naming the line.
        """
        swarms = FilePath(self.mktemp())
        swarms.setContent(b'"live channel 1" selector=few:2\nvod-7\n')
        options = Options()
        options.parseOptions(["--swarms", swarms.path])
        self.assertEqual(options["config"].provisionedSwarms, frozenset({"live channel 1", "vod-7"}))
        self.assertEqual(set(options["swarmSelectors"]), {"live channel 1"})
        self.assertEqual(options["swarmSelectors"]["live channel 1"].n, 2)
        swarms.setContent(b"ok\nlive selector=nope\n")
        e = self.assertRaises(usage.UsageError, Options().parseOptions, ["--swarms", swarms.path])
        self.assertIn(":2: unknown selector 'nope'", str(e))

    def test_brokenPlugin(self) -> None:
        """
        A plugin that makes something other than an L{IPeerSelector} is
        refused when selected.
        """
        self.assertRaises(ValueError, makeSelector, "broken")

    def test_brokenPluginCannotBreakInvariants(self) -> None:
        """
        A discovered plugin whose strategy ignores the constraints (the
        requester, duplicates, expired peers, too many) still yields lists
        that keep every invariant: the tracker enforces them.
        """
        from ppsp.messages import FindRequest, JoinRequest, KeepAliveRequest, PeerMode
        from ppsp.test.helpers import TrackerHarness

        h = TrackerHarness(self)
        h.tracker.selector = makeSelector("liar")
        for i in range(6):
            h.connect(f"p{i}")
            h.ok(JoinRequest, f"p{i}", swarmID="s", mode=PeerMode.SEED)
        h.clock.advance(170)
        for p in ("p0", "p1", "p2"):
            h.ok(KeepAliveRequest, p)
        h.clock.advance(15)  # p3, p4 and p5 have expired, not yet swept
        r = h.ok(FindRequest, "p0", swarmID="s", peerNum=50)
        self.assertEqual([p.peerID for p in r.peers], ["p1", "p2"])
        r = h.ok(FindRequest, "p0", swarmID="s", peerNum=1)
        self.assertEqual([p.peerID for p in r.peers], ["p1"])

    def test_option(self) -> None:
        """
        C{--selector} takes the third party's strategy; an unknown name is a
        usage error that lists every known strategy.
        """
        options = Options()
        options.parseOptions(["--selector", "few:2"])
        self.assertEqual(options["selectorObject"].n, 2)
        e = self.assertRaises(usage.UsageError, Options().parseOptions, ["--selector", "many"])
        self.assertIn(
            "known: broken, capacity, chunks, composite, few, liar, locality, random, roles", str(e)
        )

    def test_completeViewsOnRedis(self) -> None:
        """
        A strategy that declares C{requiresCompleteViews} is taken with the
        memory store, and refused at start with a usage error (exit 64
        under twistd) naming it and why with C{--store redis://...}, as
        C{--selector} or in the swarms file; a strategy that does not
        declare it, every built-in included, is taken with Redis.  A
        reload of the swarms file refuses it likewise.
        """
        redis = ["--store", "redis://127.0.0.1/0"]
        Options().parseOptions(["--selector", "few:indexed"])
        e = self.assertRaises(
            usage.UsageError, Options().parseOptions, ["--selector", "few:indexed", *redis]
        )
        self.assertIn(
            "--selector: the strategy 'few:indexed' needs the complete swarm views", str(e)
        )
        self.assertIn("requiresCompleteViews", str(e))
        swarms = FilePath(self.mktemp())
        swarms.setContent(b"plain\nlive selector=few:indexed\n")
        e = self.assertRaises(
            usage.UsageError, Options().parseOptions, ["--swarms", swarms.path, *redis]
        )
        self.assertIn("('live'): the strategy 'FirstN' needs", str(e))
        # A reload of the swarms file with Redis reads it so: refused too.
        self.assertRaises(usage.UsageError, checkedSwarmsFile, swarms.path)
        swarms.setContent(b"plain\nlive selector=few:2\n")
        self.assertEqual(sorted(checkedSwarmsFile(swarms.path)), ["live", "plain"])
        for spec in ("few", "random", "roles", "locality", "capacity", "chunks", "composite"):
            options = Options()
            options.parseOptions(["--selector", spec, *redis])
            self.assertFalse(requiresCompleteViews(options["selectorObject"]), spec)

    def test_compositeOfCompleteViews(self) -> None:
        """
        A composite strategy needs complete views when one of its parts
        does.
        """
        plain = CompositeSelector([(makeSelector("few"), 1.0)])
        self.assertFalse(requiresCompleteViews(plain))
        mixed = CompositeSelector([(makeSelector("few"), 1.0), (makeSelector("few:indexed"), 1.0)])
        self.assertTrue(requiresCompleteViews(mixed))


class PerSwarmTests(SynchronousTestCase):
    """
    The tracker uses a swarm's own strategy for that swarm only.
    """

    def test_perSwarm(self) -> None:
        """
        FIND in a swarm with its own strategy asks that strategy; FIND in
        another swarm asks the tracker's.
        """
        from zope.interface import implementer

        from ppsp.messages import FindRequest, JoinRequest, PeerMode
        from ppsp.test.helpers import TrackerHarness

        asked: list[str] = []

        @implementer(IPeerSelector)
        class Recording:
            def select(self, swarm: Any, requester: Any, count: int, constraints: Any) -> Any:
                asked.append(swarm.swarmID)
                return []

        h = TrackerHarness(self)
        h.tracker.swarmSelectors["quiet"] = Recording()
        for p in "ab":
            h.connect(p)
            h.ok(JoinRequest, p, swarmID="quiet", mode=PeerMode.SEED)
            h.ok(JoinRequest, p, swarmID="loud", mode=PeerMode.SEED)
        self.assertEqual(h.ok(FindRequest, "a", swarmID="quiet").peers, ())
        self.assertEqual([p.peerID for p in h.ok(FindRequest, "a", swarmID="loud").peers], ["b"])
        self.assertEqual(asked, ["quiet"])
