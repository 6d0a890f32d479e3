# -*- test-case-name: ppsp.test.test_strategies -*-
"""
What the built-in strategies share: the argument syntax
(C{KEY=VALUE,KEY=VALUE}), and small helpers over L{ISwarmView}.
"""

from __future__ import annotations

import math
import random as _random
from typing import Any, Callable, Container, Dict, Iterable, List, Mapping, Optional

from zope.interface import implementer

from ppsp.interfaces import IFindConstraints, ISwarmMember, ISwarmView

__all__ = [
    "splitArgs",
    "parseArgs",
    "share",
    "positiveInt",
    "positiveFloat",
    "nonNegativeInt",
    "stochasticRound",
    "Excluding",
    "fill",
    "extend",
    "requiresCompleteViews",
]


def requiresCompleteViews(selector: object) -> bool:
    """
    Whether C{selector} declares that it needs complete swarm views (the
    memory store's): its optional attribute C{requiresCompleteViews} is
    true (see L{IPeerSelector<ppsp.interfaces.IPeerSelector>}).  A
    strategy without the attribute works on any store's views.
    """
    return bool(getattr(selector, "requiresCompleteViews", False))


def splitArgs(argstring: str) -> List[str]:
    """
    Split C{argstring} at the commas that are not inside parentheses
    (C{composite} passes a sub-strategy its own arguments in parentheses).

    @raise ValueError: the parentheses do not balance.
    """
    items: List[str] = []
    depth = 0
    current: List[str] = []
    for ch in argstring:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unbalanced ')' in {argstring!r}")
        if ch == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth:
        raise ValueError(f"unbalanced '(' in {argstring!r}")
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def parseArgs(
    strategy: str, argstring: str, known: Mapping[str, Callable[[str], Any]]
) -> Dict[str, Any]:
    """
    Parse C{KEY=VALUE,KEY=VALUE}: keys are case-insensitive, each at most
    once, and each value goes through its key's converter.

    @param strategy: the strategy's name, for the error messages.
    @param known: a converter for each key the strategy takes; a converter
        raises L{ValueError} with a short reason.
    @return: the converted values of the keys given.
    @raise ValueError: an item is not C{KEY=VALUE}, a key is unknown or
        repeated, or a converter refused a value; the message names the
        strategy and the item.
    """
    values: Dict[str, Any] = {}
    try:
        items = splitArgs(argstring)
    except ValueError as e:
        raise ValueError(f"{strategy}: {e}") from None
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise ValueError(f"{strategy}: expected KEY=VALUE, got {item!r}")
        if key not in known:
            raise ValueError(
                f"{strategy}: unknown argument {key!r}; known: {', '.join(sorted(known))}"
            )
        if key in values:
            raise ValueError(f"{strategy}: {key!r} given twice")
        try:
            values[key] = known[key](value.strip())
        except ValueError as e:
            raise ValueError(f"{strategy}: {key}={value.strip()!r}: {e}") from None
    return values


def share(text: str) -> float:
    """
    A fraction from 0 to 1 (C{0.2}, or C{20%}).
    """
    percent = text.endswith("%")
    try:
        value = float(text[:-1] if percent else text)
    except ValueError:
        raise ValueError("not a number") from None
    if percent:
        value /= 100
    if not 0 <= value <= 1 or math.isnan(value):
        raise ValueError("must be between 0 and 1 (or 0% and 100%)")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("not a whole number") from None


def positiveInt(text: str) -> int:
    """
    A whole number of at least 1.
    """
    value = _integer(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def nonNegativeInt(text: str) -> int:
    """
    A whole number of at least 0.
    """
    value = _integer(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def positiveFloat(text: str) -> float:
    """
    A finite number above 0.
    """
    try:
        value = float(text)
    except ValueError:
        raise ValueError("not a number") from None
    if not (0 < value < math.inf):
        raise ValueError("must be a finite number above 0")
    return value


def stochasticRound(x: float, rng: _random.Random) -> int:
    """
    C{floor(x)} or C{ceil(x)}, the latter with probability C{x - floor(x)}:
    a share of a short list then holds on average.
    """
    whole = int(x)
    if rng.random() < x - whole:
        whole += 1
    return whole


@implementer(IFindConstraints)
class Excluding:
    """
    The constraints of a FIND, also refusing the members already chosen
    (so that a strategy asked for more peers does not repeat them).
    Members are told apart by their PeerIDs, never by identity: a view
    may build a new member object each time it is asked.

    @ivar chosen: the PeerIDs to refuse (any container of them, such as
        the dict of the members chosen so far by PeerID); the caller may
        add to it.
    """

    def __init__(self, constraints: IFindConstraints, chosen: Container[str]) -> None:
        self.constraints = constraints
        self.chunkID = constraints.chunkID
        self.stats = constraints.stats
        self.now = constraints.now
        self.chosen = chosen
        inner = constraints.accepts

        def accepts(member: ISwarmMember) -> bool:
            return member.peerID not in chosen and bool(inner(member))

        self.accepts = accepts


def fill(
    swarm: ISwarmView,
    chunkID: Optional[int],
    count: int,
    accept: Callable[[ISwarmMember], bool],
) -> List[ISwarmMember]:
    """
    Up to C{count} members at random that C{accept} takes: among the
    holders of C{chunkID} when it is given (through the chunk index), else
    among the whole swarm.
    """
    if count <= 0:
        return []
    if chunkID is not None:
        return list(swarm.sampleHolders(chunkID, count, accept))
    return list(swarm.sample(count, accept))


def extend(
    chosen: Dict[str, ISwarmMember], members: Iterable[ISwarmMember], limit: int
) -> None:
    """
    Add C{members} to C{chosen}, the members chosen so far by PeerID (in
    the order chosen), up to C{limit} in all; a member whose PeerID is
    there already is skipped.
    """
    for m in members:
        if len(chosen) >= limit:
            return
        chosen.setdefault(m.peerID, m)
