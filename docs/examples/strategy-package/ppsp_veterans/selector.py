"""
The C{veterans} strategy: among a random pool of candidates, the peers
that have been connected longest come first (a peer that has stayed an
hour is likely to stay a while longer).
"""

from __future__ import annotations

from typing import Any, List

from zope.interface import implementer

from ppsp.interfaces import IFindConstraints, IPeerSelector, IRequester, ISwarmView


@implementer(IPeerSelector)
class VeteransSelector:
    """
    Draw C{probe} times C{count} qualifying members at random, and keep the
    C{count} that connected first.

    @param probe: candidates drawn per peer asked for.
    """

    def __init__(self, probe: int = 4) -> None:
        if probe < 1:
            raise ValueError("veterans: probe must be at least 1")
        self.probe = probe

    @classmethod
    def fromArgs(cls, argstring: str) -> "VeteransSelector":
        """
        Parse C{probe=N} (or nothing).

        @raise ValueError: the arguments are not valid.
        """
        probe = 4
        for item in filter(None, (a.strip() for a in argstring.split(","))):
            key, sep, value = item.partition("=")
            if key.strip() != "probe" or not sep:
                raise ValueError(f"veterans: unknown argument {item!r}; known: probe")
            try:
                probe = int(value)
            except ValueError:
                raise ValueError(f"veterans: probe={value!r} is not a number") from None
        return cls(probe)

    def select(
        self,
        swarm: ISwarmView,
        requester: IRequester,
        count: int,
        constraints: IFindConstraints,
    ) -> List[Any]:
        """
        The longest-connected peers among a random pool.
        """
        accept = constraints.accepts
        if constraints.chunkID is not None:
            pool = swarm.sampleHolders(constraints.chunkID, self.probe * count, accept)
        else:
            pool = swarm.sample(self.probe * count, accept)
        return sorted(pool, key=lambda member: member.connectedAt)[:count]
