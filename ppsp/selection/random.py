# -*- test-case-name: ppsp.test.test_selection -*-
"""
The C{random} strategy: a uniform sample of the eligible peers.
"""

from __future__ import annotations

from typing import Sequence

from zope.interface import implementer

from ppsp.interfaces import IFindConstraints, IPeerSelector, IRequester, ISwarmMember, ISwarmView

__all__ = ["RandomSelector"]


@implementer(IPeerSelector)
class RandomSelector:
    """
    Return min(count, eligible peers) members of the swarm, chosen
    uniformly at random among those that satisfy the constraints (for
    FIND_CHUNK, among the holders of the chunk, found through the swarm's
    chunk index).  Costs O(count) expected time.
    """

    @classmethod
    def fromArgs(cls, argstring: str) -> "RandomSelector":
        """
        Make the strategy; it takes no arguments.

        @raise ValueError: arguments were given.
        """
        if argstring:
            raise ValueError("the random strategy takes no arguments")
        return cls()

    def select(
        self,
        swarm: ISwarmView,
        requester: IRequester,
        count: int,
        constraints: IFindConstraints,
    ) -> Sequence[ISwarmMember]:
        """
        Sample C{count} members that the constraints accept (which never
        include the requester).
        """
        accept = constraints.accepts
        chunkID = constraints.chunkID
        if chunkID is not None:
            return swarm.sampleHolders(chunkID, count, accept)
        return swarm.sample(count, accept)
