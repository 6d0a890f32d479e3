"""
Tests for the API reference: C{docs/conf.py} has pydoctor document the
C{ppsp} package (its tests hidden, warnings as errors, external links
through the local inventories of C{docs/_inventories/} and never the
network), and every name that a public module exports is documented there,
publicly.

The reference itself is built by CI's C{sphinx-build -W} (about half a
minute); these tests build only pydoctor's model of the package, as the
reference does, which takes a few seconds.
"""

from __future__ import annotations

import importlib
import runpy
import sys
import zlib
from contextlib import contextmanager, redirect_stdout
from functools import lru_cache
from io import StringIO
from typing import Any, Dict, Iterator, List, Tuple

from pydoctor.driver import get_system
from pydoctor.model import Module, PrivacyClass, System
from pydoctor.options import Options
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase

import ppsp

#: The docs folder of a source checkout (absent from an installed copy).
DOCS = FilePath(ppsp.__file__).parent().sibling("docs")

_INTERSPHINX_FILE = "--intersphinx-file="


@contextmanager
def savedPath() -> Iterator[None]:
    """
    Restore C{sys.path} on exit: C{docs/conf.py} adds C{docs/_ext/} to it,
    for pydoctor's system class.
    """
    saved = sys.path[:]
    try:
        yield
    finally:
        sys.path[:] = saved


def runConfiguration() -> Dict[str, Any]:
    """
    Run C{docs/conf.py}.

    @return: its settings.
    @raise SkipTest: there is no C{docs/} beside this C{ppsp} package.
    """
    conf = DOCS.child("conf.py")
    if not conf.exists():
        raise SkipTest("docs/ is not beside this ppsp package (an installed copy?)")
    return runpy.run_path(conf.path)


def configuration() -> Dict[str, Any]:
    """
    The settings of C{docs/conf.py}, C{sys.path} left as it was.
    """
    with savedPath():
        return runConfiguration()


def inventories(args: List[str]) -> List[Tuple[str, str]]:
    """
    The local inventories that pydoctor's arguments name.

    @param args: pydoctor's arguments.
    @return: each C{--intersphinx-file}'s file and base address.
    """
    found = []
    for arg in args:
        if arg.startswith(_INTERSPHINX_FILE):
            path, _, base = arg[len(_INTERSPHINX_FILE) :].partition("::")
            found.append((path, base))
    return found


@lru_cache(maxsize=None)
def reference() -> System:
    """
    pydoctor's model of the package, made with the arguments of
    C{docs/conf.py} (less the HTML output), as the docs build makes it.
    """
    with savedPath():
        args = [
            arg
            for arg in runConfiguration()["pydoctor_args"]
            if not arg.startswith("--html-output=")
        ]
        with redirect_stdout(StringIO()):
            return get_system(Options.from_args(["--quiet", *args]))


class ConfigurationTests(SynchronousTestCase):
    """
    C{docs/conf.py} builds pydoctor's reference of C{ppsp} into the HTML
    docs, from the local inventories only.
    """

    def test_extension(self) -> None:
        """
        The Sphinx build runs pydoctor's extension, which writes the
        reference into C{api/} of the output, and the contents list it.
        """
        conf = configuration()
        self.assertIn("pydoctor.sphinx_ext.build_apidocs", conf["extensions"])
        self.assertIn("--html-output={outdir}/api", conf["pydoctor_args"])
        self.assertEqual(conf["pydoctor_url_path"], "api/")
        self.assertTrue(DOCS.descendant(["api", "index.rst"]).exists())
        self.assertIn("API reference <api/index>", DOCS.child("index.rst").getContent().decode("utf-8"))

    def test_package(self) -> None:
        """
        pydoctor reads the epytext docstrings of the C{ppsp} package of this
        checkout, hides its tests, and treats its warnings as errors.
        """
        args = configuration()["pydoctor_args"]
        self.assertEqual(args[-1], FilePath(ppsp.__file__).parent().path)
        self.assertIn("--docformat=epytext", args)
        self.assertIn("--privacy=HIDDEN:ppsp.test", args)
        self.assertIn("--warnings-as-errors", args)

    def test_offline(self) -> None:
        """
        pydoctor fetches no inventory: it reads the Sphinx inventories of
        C{docs/_inventories/}, each a file that is there.
        """
        conf = configuration()
        args = conf["pydoctor_args"]
        self.assertEqual([a for a in args if a.startswith("--intersphinx=")], [])
        found = inventories(args)
        self.assertEqual(
            [(DOCS.descendant(["_inventories", name]).path, base) for name, base in conf["pydoctor_inventories"]],
            found,
        )
        for path, base in found:
            content = FilePath(path).getContent()
            header, _, compressed = content.partition(b"# The rest of this file is compressed with zlib.\n")
            self.assertTrue(header.startswith(b"# Sphinx inventory version 2\n"), path)
            self.assertIn(b" py:", zlib.decompress(compressed), path)
            self.assertTrue(base.startswith("https://"), base)


class CoverageTests(SynchronousTestCase):
    """
    The reference documents the public API: the names that the public
    modules export, not the tests.
    """

    def test_exportsDocumented(self) -> None:
        """
        Every name in the C{__all__} of a public module of C{ppsp} (those of
        L{ppsp.interfaces}, L{ppsp.testing}, L{ppsp.tracker} and
        L{ppsp.peer} among them) that is C{ppsp}'s own, dunders aside, is in
        the reference, with a docstring, and neither it nor a module above
        it is private: one that a public package exports from a private
        module (C{ppsp.peer.TrackerClient}) is documented as the public
        package's.
        """
        system = reference()
        modules = [
            m
            for m in system.objectsOfType(Module)
            if m.isVisible and m.privacyClass is PrivacyClass.PUBLIC
        ]
        names = {m.fullName() for m in modules}
        for required in ["ppsp.interfaces", "ppsp.testing", "ppsp.tracker", "ppsp.peer"]:
            self.assertIn(required, names)
        checked = set()
        problems = []
        for module in modules:
            exported = getattr(importlib.import_module(module.fullName()), "__all__", ())
            for name in exported:
                fullName = module.expandName(name)
                if name.startswith("__") or not fullName.startswith("ppsp."):
                    # C{__version__}, or a name of Twisted's that a module
                    # exports again: documented in Twisted's reference.
                    continue
                target = system.objForFullName(fullName)
                if (
                    target is None
                    or not target.isVisible
                    or any(part.startswith("_") for part in target.fullName().split("."))
                    or not target.docstring
                ):
                    problems.append(f"{module.fullName()}.{name}")
                checked.add(f"{module.fullName()}.{name}")
        self.assertEqual(problems, [])
        self.assertIn("ppsp.interfaces.IPeerStore", checked)
        self.assertIn("ppsp.testing.PeerStoreContractTests", checked)
        self.assertIn("ppsp.tracker.Tracker", checked)
        self.assertIn("ppsp.peer.TrackerClient", checked)

    def test_testsHidden(self) -> None:
        """
        The tests are no part of the reference; L{ppsp.testing}, the helpers
        for the tests of applications, is.
        """
        system = reference()
        tests = system.objForFullName("ppsp.test")
        self.assertIsNotNone(tests)
        assert tests is not None
        self.assertFalse(tests.isVisible)
        testing = system.objForFullName("ppsp.testing")
        assert testing is not None
        self.assertTrue(testing.isVisible)
