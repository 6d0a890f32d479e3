"""
Write the intersphinx inventories that pydoctor reads when it builds the API
reference (docs/conf.py, C{pydoctor_inventories}), from the installed
packages and without the network.

Run it from anywhere, with the development environment's Python, whenever
the docs build fails with C{Cannot find link target for "NAME"} for a name
of Python, Twisted or another library:

    .venv/bin/python docs/_inventories/make.py

It runs pydoctor over C{ppsp} with the configuration of docs/conf.py less
its inventories, collects the names that the docstrings link to and that
are not C{ppsp}'s, and writes each inventory with those of its project,
and only those:

  - Python's (C{builtins} and the standard library), at the addresses of
    docs.python.org, which follow from where a name is defined (the rules
    below were checked against the inventory of the Python 3.11
    documentation);
  - Twisted's, taken from the inventory that pydoctor writes for the
    installed Twisted (which is how Twisted's own reference is made), so
    that each address is the one of its published reference;
  - a library documented with Sphinx (treq, cryptography): the page of
    each of its modules is in L{SPHINX_PAGES}, the anchor is the name.

A name it cannot place (not importable, or of a project without an
inventory) is printed, and the script exits with 1: fix the docstring, or
add the project to docs/conf.py and here.  Writing takes about a minute,
most of it pydoctor reading Twisted.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.metadata
import inspect
import os
import re
import runpy
import sys
import tempfile
import types
import zlib
from contextlib import redirect_stdout
from io import StringIO
from typing import Dict, Iterable, List, Sequence, Set, Tuple

from pydoctor.driver import main as pydoctor

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.join(os.path.dirname(HERE), "conf.py")

#: An inventory: name -> (role, address relative to the project's base).
Inventory = Dict[str, Tuple[str, str]]

#: The page of each module of a Sphinx-documented project whose names the
#: docstrings link to.
SPHINX_PAGES = {
    "treq.client": "api.html",
    "cryptography.x509": "x509/reference.html",
}

#: Projects whose published reference pydoctor makes: their inventory is
#: the one pydoctor writes for the installed package.
PYDOCTOR_PROJECTS = ("twisted",)

_UNRESOLVED = re.compile(r'Cannot find link target for "([^"]+)"')
_INTERSPHINX_FILE = "--intersphinx-file="

# Packages of the standard library whose names docs.python.org documents
# on pages other than the package's: the rules below cannot place them.
_PAGES_OF_THEIR_OWN = {"asyncio", "email"}

# Where docs.python.org documents the builtins that are not functions.
_CONSTANTS = {"None", "True", "False", "NotImplemented", "Ellipsis"}
_STDTYPES = {
    "bytearray",
    "bytes",
    "dict",
    "frozenset",
    "list",
    "memoryview",
    "range",
    "set",
    "str",
    "tuple",
}


def configuration() -> Tuple[List[str], List[Tuple[str, str]]]:
    """
    Read docs/conf.py.

    @return: pydoctor's arguments without the inventories, and the
        inventories, as (file name, base address) pairs.
    """
    conf = runpy.run_path(CONF)
    args = [a for a in conf["pydoctor_args"] if not a.startswith(_INTERSPHINX_FILE)]
    return args, list(conf["pydoctor_inventories"])


def linkedNames(args: Sequence[str], workdir: str) -> Set[str]:
    """
    Run pydoctor over C{ppsp} as the docs build does, without inventories.

    @param args: pydoctor's arguments, as in docs/conf.py.
    @param workdir: a directory for the throwaway HTML.
    @return: the names the docstrings link to that pydoctor did not find
        in C{ppsp}.
    """
    args = [a.format(outdir=workdir) for a in args]
    output = StringIO()
    with redirect_stdout(output):
        pydoctor(["--make-html", "--quiet", *args])
    names = set()
    for line in output.getvalue().splitlines():
        match = _UNRESOLVED.search(line)
        if match is None:
            print(f"(pydoctor) {line}", file=sys.stderr)
        else:
            names.add(match.group(1))
    return names


def importName(name: str) -> Tuple[str, List[object]]:
    """
    Import a dotted name.

    @param name: a module, or an attribute (of an attribute ...) of one.
    @return: the longest module name that C{name} starts with (as written:
        C{os.path}, not C{posixpath}), and the objects that the rest of the
        name reaches from that module.
    @raise LookupError: C{name} names no object.
    """
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        moduleName = ".".join(parts[:i])
        try:
            module = importlib.import_module(moduleName)
        except ImportError:
            continue
        objects: List[object] = []
        current: object = module
        for part in parts[i:]:
            try:
                current = getattr(current, part)
            except AttributeError:
                raise LookupError(name) from None
            objects.append(current)
        return moduleName, objects
    raise LookupError(name)


def role(target: object, parent: object) -> str:
    """
    The Sphinx role of an object.

    @param target: the object.
    @param parent: what it is an attribute of.
    """
    if isinstance(target, types.ModuleType):
        return "py:module"
    if isinstance(target, type):
        if issubclass(target, BaseException):
            return "py:exception"
        return "py:class"
    if callable(target):
        return "py:method" if isinstance(parent, type) else "py:function"
    return "py:attribute" if isinstance(parent, type) else "py:data"


def pythonEntry(name: str) -> Tuple[str, str]:
    """
    Where docs.python.org documents a builtin or standard library name.

    @param name: a name of C{builtins} (C{None}, C{bytes}, C{dict.get}) or
        of the standard library (C{ipaddress}, C{random.Random}).
    @return: its role and address.
    @raise LookupError: C{name} is neither.
    """
    head = name.split(".")[0]
    if hasattr(builtins, head):
        parent: object = builtins
        target: object = builtins
        for part in name.split("."):
            if not hasattr(target, part):
                raise LookupError(name)
            parent, target = target, getattr(target, part)
        if head in _CONSTANTS:
            return "py:data", f"library/constants.html#{name}"
        kind = role(target, parent)
        if kind == "py:exception":
            return kind, f"library/exceptions.html#{name}"
        if head in _STDTYPES:
            return kind, f"library/stdtypes.html#{name}"
        return kind, f"library/functions.html#{name}"
    if head not in sys.stdlib_module_names or head in _PAGES_OF_THEIR_OWN:
        raise LookupError(name)
    moduleName, objects = importName(name)
    page = f"library/{moduleName.lower()}.html"
    if not objects:
        return "py:module", f"{page}#module-{name}"
    parent = objects[-2] if len(objects) > 1 else None
    return role(objects[-1], parent), f"{page}#{name}"


def sphinxEntry(name: str) -> Tuple[str, str]:
    """
    Where a Sphinx-documented library (L{SPHINX_PAGES}) documents a name.

    @param name: the name.
    @return: its role and address.
    @raise LookupError: the name is not importable, or its module is not
        in L{SPHINX_PAGES}.
    """
    moduleName, objects = importName(name)
    page = SPHINX_PAGES.get(moduleName)
    if page is None:
        raise LookupError(name)
    if not objects:
        return "py:module", f"{page}#module-{name}"
    parent = objects[-2] if len(objects) > 1 else None
    return role(objects[-1], parent), f"{page}#{name}"


def pydoctorInventory(package: str, workdir: str) -> Inventory:
    """
    The inventory that pydoctor writes for an installed package.

    @param package: the package's name.
    @param workdir: a directory for pydoctor's output.
    @return: every name of the package's reference.
    """
    module = importlib.import_module(package)
    source = os.path.dirname(inspect.getfile(module))
    output = os.path.join(workdir, package)
    with redirect_stdout(StringIO()):
        pydoctor(
            [
                "--make-intersphinx",
                "--quiet",
                f"--project-name={package}",
                f"--html-output={output}",
                source,
            ]
        )
    return readInventory(os.path.join(output, "objects.inv"))


def readInventory(path: str) -> Inventory:
    """
    Read a Sphinx inventory (version 2) of Python names.

    @param path: the file.
    @return: its Python names.
    """
    with open(path, "rb") as f:
        for _ in range(4):
            f.readline()
        text = zlib.decompress(f.read()).decode("utf-8")
    entries: Inventory = {}
    for line in text.splitlines():
        match = re.match(r"(.+?)\s+(py:\S+)\s+-?\d+\s+(\S*)\s+(.*)$", line)
        if match is not None:
            name, kind, address = match.group(1, 2, 3)
            if address.endswith("$"):
                address = address[:-1] + name
            entries[name] = (kind, address)
    return entries


def writeInventory(path: str, project: str, version: str, entries: Inventory) -> None:
    """
    Write a Sphinx inventory (version 2), its lines sorted.

    @param path: the file.
    @param project: the project's name, for the header.
    @param version: its version, for the header.
    @param entries: the names.
    """
    lines = "".join(
        f"{name} {kind} -1 {address} -\n"
        for name, (kind, address) in sorted(entries.items())
    )
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The rest of this file is compressed with zlib.\n"
    )
    with open(path, "wb") as f:
        f.write(header.encode("utf-8") + zlib.compress(lines.encode("utf-8"), 9))


def project(name: str) -> str:
    """
    The inventory a name belongs in.

    @param name: a linked name.
    @return: C{"python"} for builtins and the standard library, else the
        name's top-level package.
    """
    head = name.split(".")[0]
    if hasattr(builtins, head) or head in sys.stdlib_module_names:
        return "python"
    return head


def inventories(names: Iterable[str], workdir: str) -> Tuple[Dict[str, Inventory], List[str]]:
    """
    Place each name in its project's inventory.

    @param names: the linked names.
    @param workdir: a directory for pydoctor's output.
    @return: the inventories by project, and the names that none holds.
    """
    byProject: Dict[str, Inventory] = {}
    unplaced = []
    published: Dict[str, Inventory] = {}
    for name in sorted(names):
        where = project(name)
        entries = byProject.setdefault(where, {})
        try:
            if where == "python":
                entries[name] = pythonEntry(name)
            elif where in PYDOCTOR_PROJECTS:
                if where not in published:
                    published[where] = pydoctorInventory(where, workdir)
                entries[name] = published[where][name]
            else:
                entries[name] = sphinxEntry(name)
        except LookupError:
            unplaced.append(name)
    return byProject, unplaced


def version(projectName: str) -> str:
    """
    The installed version of a project.

    @param projectName: C{"python"} or a top-level package's name.
    """
    if projectName == "python":
        return "{}.{}".format(*sys.version_info[:2])
    return importlib.metadata.version(projectName)


def main() -> int:
    """
    Write the inventories that docs/conf.py names.

    @return: the exit status: 1 when a linked name has no place.
    """
    args, files = configuration()
    with tempfile.TemporaryDirectory() as workdir:
        names = linkedNames(args, workdir)
        byProject, unplaced = inventories(names, workdir)
    status = 0
    for name in unplaced:
        print(f"cannot place {name!r}: fix the docstring, or add its project", file=sys.stderr)
        status = 1
    for fileName, _ in files:
        projectName = os.path.splitext(fileName)[0]
        entries = byProject.pop(projectName, {})
        writeInventory(os.path.join(HERE, fileName), projectName, version(projectName), entries)
        print(f"{fileName}: {len(entries)} names")
    for projectName, entries in byProject.items():
        if entries:
            print(f"no inventory for {projectName} in docs/conf.py: {sorted(entries)}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
