# -*- test-case-name: ppsp.test.test_selection -*-
"""
Peer-selection strategies (L{ppsp.interfaces.IPeerSelector}): the
built-in ones, and how a C{--selector NAME[:ARGS]} specification becomes
one.  Strategies are found as Twisted plugins providing
L{ppsp.interfaces.IPeerSelectorPlugin}, in the L{ppsp.plugins} package
(and every C{ppsp/plugins} directory on C{sys.path}) and in
C{twisted.plugins}.

The built-in strategies, one module each (imported only when used):
L{ppsp.selection.random} (C{random}, the default),
L{ppsp.selection.roles} (C{roles}), L{ppsp.selection.locality}
(C{locality}), L{ppsp.selection.capacity} (C{capacity}),
L{ppsp.selection.chunks} (C{chunks}) and L{ppsp.selection.composite}
(C{composite}).  Their arguments and behaviour are in each module's
documentation and in the "Choosing a strategy" page of the docs.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from twisted.plugin import getPlugins

from ppsp.interfaces import IPeerSelector, IPeerSelectorPlugin
from ppsp.selection._common import requiresCompleteViews
from ppsp.selection.random import RandomSelector

__all__ = ["RandomSelector", "availableSelectors", "makeSelector", "requiresCompleteViews"]


def availableSelectors(packages: Optional[list[Any]] = None) -> Dict[str, Any]:
    """
    Every installed strategy plugin, by lower-cased name.  Where two
    plugins share a name, the one found in L{ppsp.plugins} wins.

    @param packages: the plugin packages to search; L{ppsp.plugins} and
        C{twisted.plugins} by default.
    """
    if packages is None:
        import ppsp.plugins
        import twisted.plugins

        packages = [twisted.plugins, ppsp.plugins]
    found: Dict[str, Any] = {}
    for package in packages:
        for plugin in getPlugins(IPeerSelectorPlugin, package):
            found[str(plugin.name).lower()] = plugin
    return found


def makeSelector(spec: str, packages: Optional[list[Any]] = None) -> IPeerSelector:
    """
    Build the strategy that a C{NAME[:ARGS]} specification names.

    @raise KeyError: no installed strategy has that name.
    @raise ValueError: the arguments are not valid for the strategy.
    """
    name, _, argstring = spec.partition(":")
    plugins = availableSelectors(packages)
    try:
        plugin = plugins[name.strip().lower()]
    except KeyError:
        raise KeyError(name) from None
    selector: IPeerSelector = plugin.makeSelector(argstring)
    if not IPeerSelector.providedBy(selector):
        raise ValueError(f"the plugin {name!r} made no IPeerSelector")
    return selector
