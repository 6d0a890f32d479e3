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


@implementer(IPlugin, IPeerSelectorPlugin)
class _RolesPlugin:
    """
    The C{roles} strategy: C{roles[:seeds=F]}.
    """

    name = "roles"
    description = (
        "Seeds first for leechers (the live source always), leechers first for seeds,"
        " seeds handed out round-robin. Args: seeds=0.5."
    )

    def makeSelector(self, argstring: str) -> IPeerSelector:
        """
        Make a L{ppsp.selection.roles.RolesSelector}.

        @raise ValueError: the arguments are not valid.
        """
        from ppsp.selection.roles import RolesSelector

        return RolesSelector.fromArgs(argstring)


@implementer(IPlugin, IPeerSelectorPlugin)
class _LocalityPlugin:
    """
    The C{locality} strategy:
    C{locality[:prefix4=24,prefix6=48,random=0.2,map=FILE,probe=4]}.
    """

    name = "locality"
    description = (
        "Peers of the requester's network first (/24, /48 or a CIDR map), with a random share."
        " Args: prefix4=24,prefix6=48,random=0.2,map=FILE,probe=4."
    )

    def makeSelector(self, argstring: str) -> IPeerSelector:
        """
        Make a L{ppsp.selection.locality.LocalitySelector}.

        @raise ValueError: the arguments are not valid.
        """
        from ppsp.selection.locality import LocalitySelector

        return LocalitySelector.fromArgs(argstring)


@implementer(IPlugin, IPeerSelectorPlugin)
class _CapacityPlugin:
    """
    The C{capacity} strategy:
    C{capacity[:probe=4,interval=60,unknown=1000,tracked=100000]}.
    """

    name = "capacity"
    description = (
        "Peers weighted by spare upload, spread over time."
        " Args: probe=4,interval=60,unknown=1000,tracked=100000."
    )

    def makeSelector(self, argstring: str) -> IPeerSelector:
        """
        Make a L{ppsp.selection.capacity.CapacitySelector}.

        @raise ValueError: the arguments are not valid.
        """
        from ppsp.selection.capacity import CapacitySelector

        return CapacitySelector.fromArgs(argstring)


@implementer(IPlugin, IPeerSelectorPlugin)
class _ChunksPlugin:
    """
    The C{chunks} strategy: C{chunks[:probe=4,horizon=1024,behind=2]}.
    """

    name = "chunks"
    description = (
        "Holders reaching furthest ahead of the chunk, else peers near the requester's"
        " playback position. Args: probe=4,horizon=1024,behind=2."
    )

    def makeSelector(self, argstring: str) -> IPeerSelector:
        """
        Make a L{ppsp.selection.chunks.ChunksSelector}.

        @raise ValueError: the arguments are not valid.
        """
        from ppsp.selection.chunks import ChunksSelector

        return ChunksSelector.fromArgs(argstring)


@implementer(IPlugin, IPeerSelectorPlugin)
class _CompositePlugin:
    """
    The C{composite} strategy: C{composite[:NAME[(ARGS)]=WEIGHT,...,random=SHARE]}.
    """

    name = "composite"
    description = (
        "Strategies sharing each list by weight, with a random share."
        " Args: NAME[(ARGS)]=WEIGHT,...,random=0.2."
    )

    def makeSelector(self, argstring: str) -> IPeerSelector:
        """
        Make a L{ppsp.selection.composite.CompositeSelector}.

        @raise ValueError: the arguments are not valid.
        """
        from ppsp.selection.composite import CompositeSelector

        return CompositeSelector.fromArgs(argstring)


random = _RandomPlugin()
roles = _RolesPlugin()
locality = _LocalityPlugin()
capacity = _CapacityPlugin()
chunks = _ChunksPlugin()
composite = _CompositePlugin()
