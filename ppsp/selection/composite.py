# -*- test-case-name: ppsp.test.test_strategies -*-
"""
The C{composite} strategy: several strategies share each list, by weight,
with a guaranteed random share.

Syntax::

    composite:NAME[(ARGS)]=WEIGHT,...,random=SHARE

for example C{composite:locality=2,capacity=1,random=0.2}, or with a
sub-strategy's own arguments in parentheses (commas allowed inside)::

    composite:locality(prefix4=16,map=/etc/ppsp/asn.map)=2,roles(seeds=0.3)=1

  - C{random=SHARE} (0 to 1, default 0.2): that share of each list is
    drawn uniformly from the qualifying peers, rounded at random so that
    it holds on average.
  - The rest of the list is split between the named strategies in
    proportion to their weights (positive numbers), largest remainder
    first.  They are asked in the order given; each is asked for its
    part plus whatever the strategies before it could not fill, and never
    sees the peers already chosen (its constraints refuse them).  What
    they all leave unfilled is filled at random.
  - NAME is any installed strategy except C{composite}: the built-in ones
    are made with the composite's random source; others through their
    plugins.  A C{locality} part gets C{random=0} unless its ARGS say
    otherwise, since the composite has its own random share.  A map path
    in ARGS must not contain commas or parentheses.
  - With no arguments: C{roles=1,locality=1,capacity=1,chunks=1,random=0.2}.

A part may answer with a L{Deferred} (a strategy that asks a service of
its own): the composite then waits for it before it asks the next part,
which must see the peers chosen so far, and answers with a L{Deferred}
that fires with the list once every part is done, or fails with the
first part's failure.  While no part makes it wait, the composite answers
at once with the list.  Cost: the sum of the parts' costs, each for its
part of the list, plus one O(count) random draw.
"""

from __future__ import annotations

import random as _random
from typing import Dict, List, Optional, Sequence, Tuple, Union, cast

from twisted.internet.defer import Deferred, maybeDeferred
from zope.interface import implementer

from ppsp.interfaces import (
    IFindConstraints,
    IPeerSelector,
    IRequester,
    ISwarmMember,
    ISwarmView,
)
from ppsp.selection._common import (
    Excluding,
    extend,
    fill,
    requiresCompleteViews,
    share,
    splitArgs,
    stochasticRound,
)

__all__ = ["CompositeSelector", "DEFAULT"]

#: The parts of a composite made with no arguments.
DEFAULT = "roles=1,locality=1,capacity=1,chunks=1,random=0.2"


def _weight(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("not a number") from None
    if not (0 < value < float("inf")):
        raise ValueError("must be a finite number above 0")
    return value


def parseComposite(argstring: str) -> Tuple[List[Tuple[str, str, float]], float]:
    """
    Parse the composite's arguments.

    @return: (name, sub-arguments, weight) for each part, in order, and
        the random share.
    @raise ValueError: the syntax is wrong (the message says where).
    """
    parts: List[Tuple[str, str, float]] = []
    randomShare: Optional[float] = None
    try:
        items = splitArgs(argstring if argstring.strip() else DEFAULT)
    except ValueError as e:
        raise ValueError(f"composite: {e}") from None
    for item in items:
        head, sep, value = item.rpartition("=")
        head = head.strip()
        if not sep or not head:
            raise ValueError(f"composite: expected NAME=WEIGHT, got {item!r}")
        if "(" in head:
            if not head.endswith(")"):
                raise ValueError(f"composite: expected NAME(ARGS)=WEIGHT, got {item!r}")
            name, _, args = head[:-1].partition("(")
        else:
            name, args = head, ""
        name = name.strip().lower()
        if name == "random":
            if args:
                raise ValueError("composite: random takes a share, not arguments")
            if randomShare is not None:
                raise ValueError("composite: random given twice")
            try:
                randomShare = share(value.strip())
            except ValueError as e:
                raise ValueError(f"composite: random={value.strip()!r}: {e}") from None
            continue
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"composite: {name!r} is not a strategy name")
        if name == "composite":
            raise ValueError("composite: a composite cannot contain a composite")
        if any(name == n for n, _a, _w in parts):
            raise ValueError(f"composite: {name!r} given twice")
        try:
            weight = _weight(value.strip())
        except ValueError as e:
            raise ValueError(f"composite: {name}={value.strip()!r}: {e}") from None
        parts.append((name, args.strip(), weight))
    if not parts:
        raise ValueError("composite: name at least one strategy, e.g. locality=1")
    return parts, 0.2 if randomShare is None else randomShare


def _makePart(name: str, args: str, rng: _random.Random) -> IPeerSelector:
    if name == "locality":
        from ppsp.selection.locality import LocalitySelector

        if "random" not in {a.partition("=")[0].strip().lower() for a in splitArgs(args)}:
            args = "random=0," + args if args else "random=0"
        return LocalitySelector.fromArgs(args, random=rng)
    if name == "roles":
        from ppsp.selection.roles import RolesSelector

        return RolesSelector.fromArgs(args, random=rng)
    if name == "capacity":
        from ppsp.selection.capacity import CapacitySelector

        return CapacitySelector.fromArgs(args, random=rng)
    if name == "chunks":
        from ppsp.selection.chunks import ChunksSelector

        return ChunksSelector.fromArgs(args, random=rng)
    from ppsp.selection import makeSelector

    try:
        return makeSelector(f"{name}:{args}" if args else name)
    except KeyError:
        raise ValueError(f"composite: unknown strategy {name!r}") from None


def allocate(weights: Sequence[float], total: int) -> List[int]:
    """
    Split C{total} slots in proportion to C{weights}: each gets the whole
    part of its share, and the slots left over go to the largest
    remainders (the first ones on a tie).
    """
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    slots = [int(x) for x in exact]
    left = total - sum(slots)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - slots[i]), i))
    for i in order[:left]:
        slots[i] += 1
    return slots


@implementer(IPeerSelector)
class CompositeSelector:
    """
    Strategies sharing a list by weight, with a random share.  See the
    module's documentation.

    @param parts: (strategy, weight) pairs, asked in this order.
    @param randomShare: the share of each list drawn uniformly.
    @param random: the random source (seeded in tests).
    """

    name = "composite"

    def __init__(
        self,
        parts: Sequence[Tuple[IPeerSelector, float]],
        randomShare: float = 0.2,
        random: Optional[_random.Random] = None,
    ) -> None:
        if not parts:
            raise ValueError("composite: name at least one strategy")
        if not 0 <= randomShare <= 1:
            raise ValueError("composite: random must be between 0 and 1")
        if any(not w > 0 for _s, w in parts):
            raise ValueError("composite: weights must be above 0")
        self.parts = list(parts)
        self.randomShare = randomShare
        self.random = random if random is not None else _random.Random()

    @property
    def requiresCompleteViews(self) -> bool:
        """
        Whether a part needs complete swarm views (L{requiresCompleteViews
        <ppsp.selection.requiresCompleteViews>}): then the whole does.
        """
        return any(requiresCompleteViews(part) for part, _weight in self.parts)

    @classmethod
    def fromArgs(
        cls, argstring: str, random: Optional[_random.Random] = None
    ) -> "CompositeSelector":
        """
        Make the strategy from C{NAME[(ARGS)]=WEIGHT,...,random=SHARE}.

        @raise ValueError: the arguments are not valid, or a part refuses
            its own.
        """
        rng = random if random is not None else _random.Random()
        names, randomShare = parseComposite(argstring)
        parts = [(_makePart(name, args, rng), weight) for name, args, weight in names]
        return cls(parts, randomShare, rng)

    def select(
        self,
        swarm: ISwarmView,
        requester: IRequester,
        count: int,
        constraints: IFindConstraints,
    ) -> Union[Sequence[ISwarmMember], "Deferred[Sequence[ISwarmMember]]"]:
        """
        Ask each part for its share of the list, then fill the rest at
        random.

        @return: the list; or, when a part answers with a L{Deferred} that
            has not fired yet, a L{Deferred} that fires with the list once
            every part is done.
        """
        run = self._select(swarm, requester, count, constraints)
        try:
            # Run the parts until one of them makes the list wait.
            run.send(None)
        except StopIteration as done:
            # None did (the common case): the list, at once.
            chosen: Sequence[ISwarmMember] = done.value
            return chosen
        # The coroutine waits for a part's Deferred: Twisted resumes it
        # (awaiting a Deferred that has not fired yet yields it again) and
        # runs it to the end.
        return Deferred.fromCoroutine(run)

    async def _select(
        self,
        swarm: ISwarmView,
        requester: IRequester,
        count: int,
        constraints: IFindConstraints,
    ) -> Sequence[ISwarmMember]:
        """
        The parts, in order, each asked once the parts before it are done,
        and the random fill: see the module's documentation.  It waits only
        for a part that answers with a L{Deferred}.
        """
        chosen: Dict[str, ISwarmMember] = {}
        excluding = Excluding(constraints, chosen)
        accepts = excluding.accepts
        shared = count - stochasticRound(count * self.randomShare, self.random)
        slots = allocate([w for _s, w in self.parts], shared)
        owed = 0
        for (selector, _w), n in zip(self.parts, slots):
            wanted = n + owed
            if wanted <= 0:
                continue
            # select answers with a list or a Deferred; maybeDeferred makes
            # both a Deferred, and one that has fired (a list) does not
            # suspend the coroutine.
            answer = cast(
                "Deferred[Sequence[ISwarmMember]]",
                maybeDeferred(selector.select, swarm, requester, wanted, excluding),
            )
            got = await answer
            limit = len(chosen) + wanted
            before = len(chosen)
            for m in got:
                if len(chosen) >= limit:
                    break
                if accepts(m):
                    chosen[m.peerID] = m
            owed = wanted - (len(chosen) - before)
        extend(chosen, fill(swarm, constraints.chunkID, count - len(chosen), accepts), count)
        return list(chosen.values())
