"""
The strategies that ship with ppsp, registered as plugins.  The strategy
classes are imported only when a strategy is made.
"""

from __future__ import annotations

from twisted.plugin import IPlugin
from zope.interface import implementer

from ppsp.interfaces import IPeerSelector, IPeerSelectorPlugin


@implementer(IPlugin, IPeerSelectorPlugin)
class _RandomPlugin:
    """
    The C{random} strategy: no arguments.
    """

    name = "random"
    description = "Uniformly random peers among those that qualify (the default)."

    def makeSelector(self, argstring: str) -> IPeerSelector:
        """
        Make a L{ppsp.selection.random.RandomSelector}.

        @raise ValueError: arguments were given.
        """
        if argstring:
            raise ValueError("the random strategy takes no arguments")
        from ppsp.selection.random import RandomSelector

        return RandomSelector()


random = _RandomPlugin()
