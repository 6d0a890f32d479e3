"""
pydoctor's model of C{ppsp} for the API reference (docs/conf.py names
L{ReferenceSystem} with C{--system-class}).

pydoctor documents a name that a module exports in C{__all__} and imports
from another module in that other module when it, too, lists the name in
its C{__all__}.  ppsp's public packages export names of private modules
that list them too (C{ppsp.peer} exports C{TrackerClient} of
C{ppsp.peer._trackerclient}): the reference documents such a name in the
public module, where applications import it, and not under the private
module, which the reference hides by default.
"""

from __future__ import annotations

from pydoctor.extensions import ExtRegistrar
from pydoctor.model import Module, System


def isPrivate(name: str) -> bool:
    """
    Whether a dotted name is private: a part of it starts with C{_}.

    @param name: the dotted name.
    """
    return any(part.startswith("_") for part in name.split("."))


def documentWhereExported(system: System) -> None:
    """
    Move each name that a public module exports from a private module
    into the public module.

    @param system: pydoctor's model, all modules read.
    """
    for module in list(system.objectsOfType(Module)):
        if module.all is None or isPrivate(module.fullName()):
            continue
        for name in module.all:
            target = system.objForFullName(module.expandName(name))
            if (
                target is None
                or not isinstance(target.parent, Module)
                or target.parent is module
                or not isPrivate(target.parent.fullName())
            ):
                continue
            target.reparent(module, name)


def setup_pydoctor_extension(r: ExtRegistrar) -> None:
    """
    Register L{documentWhereExported}, to run before pydoctor's own
    post-processing (priority 200) computes the classes' hierarchy.

    @param r: pydoctor's registrar.
    """
    r.register_post_processor(documentWhereExported, priority=300)


class ReferenceSystem(System):
    """
    pydoctor's system, with L{documentWhereExported}.
    """

    custom_extensions = [__name__]
