# -*- test-case-name: ppsp.test.test_strategies -*-
"""
The C{roles} strategy: peers by their mode in the swarm.

A LEECH (or a requester that is not a member) gets, in this order:

 1. every LIVESEED (the live source of a live swarm) that qualifies, up
    to the whole list;
 2. SEEDs, round-robin over the swarm's seeds, until SEEDs and LIVESEEDs
    fill C{seeds} of the list (half by default, rounded up);
 3. LEECHes at random for the rest;
 4. more SEEDs, round-robin, if there were too few LEECHes.

A SEED or LIVESEED gets LEECHes at random (they are the ones that need
its upload), then SEEDs round-robin, then LIVESEEDs, if there were too
few LEECHes.

Round-robin: the strategy keeps, per swarm, a cursor into the swarm's
index of SEEDs and hands out the next seeds that qualify, so every seed
is handed out about equally often, however many FINDs there are.  The
seeds come from the swarm's per-mode index (L{ISwarmView.modeMembers}),
never from a scan of the swarm.

Arguments: C{roles:seeds=F} with F from 0 to 1 (or a percentage):
the share of the list that SEEDs and LIVESEEDs fill first for a LEECH
(default 0.5); LIVESEEDs are listed even beyond it.
"""

from __future__ import annotations

import math
import random as _random
from typing import Callable, Dict, List, Optional

from zope.interface import implementer

from ppsp.interfaces import (
    IFindConstraints,
    IPeerSelector,
    IRequester,
    ISwarmMember,
    ISwarmView,
)
from ppsp.messages import PeerMode
from ppsp.selection._common import extend, fill, parseArgs, share

__all__ = ["RolesSelector"]

_LEECH = PeerMode.LEECH
_SEED = PeerMode.SEED
_LIVESEED = PeerMode.LIVESEED


@implementer(IPeerSelector)
class RolesSelector:
    """
    Seeds first for LEECHes (the live source always), LEECHes first for
    seeds, seeds handed out round-robin.  See the module's documentation.

    @param seeds: the share of a LEECH's list that seeds fill first.
    @param random: the random source (seeded in tests).
    @param maxSwarms: the most swarms whose round-robin cursor is kept;
        beyond it the cursors start again from the beginning.
    """

    name = "roles"

    def __init__(
        self,
        seeds: float = 0.5,
        random: Optional[_random.Random] = None,
        maxSwarms: int = 65536,
    ) -> None:
        if not 0 <= seeds <= 1:
            raise ValueError("roles: seeds must be between 0 and 1")
        self.seeds = seeds
        self.random = random if random is not None else _random.Random()
        self.maxSwarms = maxSwarms
        self._cursors: Dict[str, int] = {}

    @classmethod
    def fromArgs(cls, argstring: str, random: Optional[_random.Random] = None) -> "RolesSelector":
        """
        Make the strategy from C{seeds=F}.

        @raise ValueError: the arguments are not valid.
        """
        args = parseArgs("roles", argstring, {"seeds": share})
        return cls(seeds=args.get("seeds", 0.5), random=random)

    def _roundRobin(
        self,
        swarm: ISwarmView,
        wanted: int,
        accept: Callable[[ISwarmMember], bool],
        chosen: Dict[str, ISwarmMember],
    ) -> None:
        """
        Add up to C{wanted} SEEDs that C{accept} takes to C{chosen} (the
        members chosen so far, by PeerID), continuing from the swarm's
        cursor.  Looks at no more than C{4 * wanted + 32} seeds.
        """
        if wanted <= 0:
            return
        seeds = swarm.modeMembers(_SEED)
        n = len(seeds)
        if not n:
            return
        cursors = self._cursors
        start = cursors.get(swarm.swarmID, 0) % n
        taken = 0
        steps = 0
        for steps in range(1, min(n, 4 * wanted + 32) + 1):
            m = seeds[(start + steps - 1) % n]
            if accept(m):
                chosen[m.peerID] = m
                taken += 1
                if taken >= wanted:
                    break
        if len(cursors) >= self.maxSwarms and swarm.swarmID not in cursors:
            cursors.clear()
        cursors[swarm.swarmID] = (start + steps) % n

    def _leeches(
        self,
        swarm: ISwarmView,
        chunkID: Optional[int],
        wanted: int,
        accept: Callable[[ISwarmMember], bool],
    ) -> List[ISwarmMember]:
        if wanted <= 0:
            return []
        if chunkID is None:
            return list(swarm.sampleMode(_LEECH, wanted, accept))

        def leech(m: ISwarmMember) -> bool:
            return m.mode is _LEECH and accept(m)

        return fill(swarm, chunkID, wanted, leech)

    def select(
        self,
        swarm: ISwarmView,
        requester: IRequester,
        count: int,
        constraints: IFindConstraints,
    ) -> List[ISwarmMember]:
        """
        Choose by role; see the class's documentation.
        """
        accepts = constraints.accepts
        chunkID = constraints.chunkID
        chosen: Dict[str, ISwarmMember] = {}

        def fresh(m: ISwarmMember) -> bool:
            return m.peerID not in chosen and bool(accepts(m))

        me = swarm.membership(requester)
        mode = me.mode if me is not None else _LEECH
        if mode is _LEECH:
            extend(chosen, swarm.sampleMode(_LIVESEED, count, fresh), count)
            seedSlots = max(len(chosen), math.ceil(count * self.seeds))
            self._roundRobin(swarm, min(count, seedSlots) - len(chosen), fresh, chosen)
            extend(chosen, self._leeches(swarm, chunkID, count - len(chosen), fresh), count)
            self._roundRobin(swarm, count - len(chosen), fresh, chosen)
        else:
            extend(chosen, self._leeches(swarm, chunkID, count, fresh), count)
            self._roundRobin(swarm, count - len(chosen), fresh, chosen)
            extend(chosen, swarm.sampleMode(_LIVESEED, count - len(chosen), fresh), count)
        return list(chosen.values())
