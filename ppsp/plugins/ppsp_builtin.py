"""
The strategies that ship with ppsp, registered as plugins.  The strategy
classes are imported only when a strategy is made.
"""

from __future__ import annotations

from importlib import import_module

from twisted.plugin import IPlugin
from zope.interface import implementer

from ppsp.interfaces import IPeerSelector, IPeerSelectorPlugin

__all__ = ["random", "roles", "locality", "capacity", "chunks", "composite"]


@implementer(IPlugin, IPeerSelectorPlugin)
class _BuiltinPlugin:
    """
    A built-in strategy: its name, its one-line description, and where its
    class is (a module of L{ppsp.selection} and a class with a
    C{fromArgs(argstring)} constructor).
    """

    def __init__(self, name: str, description: str, module: str, className: str) -> None:
        self.name = name
        self.description = description
        self._module = module
        self._className = className

    def makeSelector(self, argstring: str) -> IPeerSelector:
        """
        Import the strategy's class and make it from C{argstring}.

        @raise ValueError: the arguments are not valid.
        """
        cls = getattr(import_module(f"ppsp.selection.{self._module}"), self._className)
        selector: IPeerSelector = cls.fromArgs(argstring)
        return selector


#: The C{random} strategy, L{ppsp.selection.random.RandomSelector}.
random = _BuiltinPlugin(
    "random",
    "Uniformly random peers among those that qualify (the default).",
    "random",
    "RandomSelector",
)
#: The C{roles} strategy, L{ppsp.selection.roles.RolesSelector}.
roles = _BuiltinPlugin(
    "roles",
    "Seeds first for leechers (the live source always), leechers first for seeds,"
    " seeds handed out round-robin. Args: seeds=0.5.",
    "roles",
    "RolesSelector",
)
#: The C{locality} strategy, L{ppsp.selection.locality.LocalitySelector}.
locality = _BuiltinPlugin(
    "locality",
    "Peers of the requester's network first (/24, /48 or a CIDR map), with a random share."
    " Args: prefix4=24,prefix6=48,random=0.2,map=FILE,probe=4.",
    "locality",
    "LocalitySelector",
)
#: The C{capacity} strategy, L{ppsp.selection.capacity.CapacitySelector}.
capacity = _BuiltinPlugin(
    "capacity",
    "Peers weighted by spare upload, spread over time."
    " Args: probe=4,interval=60,unknown=1000,tracked=100000.",
    "capacity",
    "CapacitySelector",
)
#: The C{chunks} strategy, L{ppsp.selection.chunks.ChunksSelector}.
chunks = _BuiltinPlugin(
    "chunks",
    "Holders reaching furthest ahead of the chunk, else peers near the requester's"
    " playback position. Args: probe=4,horizon=1024,behind=2.",
    "chunks",
    "ChunksSelector",
)
#: The C{composite} strategy, L{ppsp.selection.composite.CompositeSelector}.
composite = _BuiltinPlugin(
    "composite",
    "Strategies sharing each list by weight, with a random share."
    " Args: NAME[(ARGS)]=WEIGHT,...,random=0.2.",
    "composite",
    "CompositeSelector",
)
