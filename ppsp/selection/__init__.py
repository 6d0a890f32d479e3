"""
The built-in peer-selection strategies (L{ppsp.interfaces.IPeerSelector}),
and how a C{--selector NAME[:ARGS]} specification becomes one.
"""

from __future__ import annotations

from typing import Callable, Dict

from ppsp.interfaces import IPeerSelector
from ppsp.selection.random import RandomSelector

__all__ = ["RandomSelector", "BUILTIN_SELECTORS", "makeSelector"]


def _random(argstring: str) -> IPeerSelector:
    if argstring:
        raise ValueError("the random strategy takes no arguments")
    return RandomSelector()


#: The strategies that ship with ppsp: name to (description, factory).
BUILTIN_SELECTORS: Dict[str, tuple[str, Callable[[str], IPeerSelector]]] = {
    "random": ("Uniformly random peers among those that qualify.", _random),
}


def makeSelector(spec: str) -> IPeerSelector:
    """
    Build the strategy that a C{NAME[:ARGS]} specification names.

    @raise KeyError: no strategy has that name.
    @raise ValueError: the arguments are not valid for the strategy.
    """
    name, _, argstring = spec.partition(":")
    try:
        _description, factory = BUILTIN_SELECTORS[name.strip().lower()]
    except KeyError:
        raise KeyError(name) from None
    return factory(argstring)
