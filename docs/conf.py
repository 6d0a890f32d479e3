# Sphinx configuration of the ppsp documentation.
#
# Build it with warnings as errors, as CI does:
#
#     sphinx-build -W --keep-going -b html docs docs/_build/html
#
# The code's docstrings are epytext (L{}, C{}, @param), as in Twisted: the
# API reference (api/) is pydoctor's, built by its Sphinx extension at the
# start of the build.  Every line pydoctor prints becomes a Sphinx warning,
# so with -W a docstring that does not parse, or a link that does not
# resolve, fails the build.  Links to Python, Twisted and the other
# libraries the docstrings name go through the small inventories of
# _inventories/, made by _inventories/make.py (run it again when the build
# cannot find a link target of theirs): the build reads no network.

import configparser
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_setup = configparser.ConfigParser()
_setup.read(os.path.join(_here, os.pardir, "setup.cfg"), encoding="utf-8")

project = "ppsp"
author = "The ppsp developers"
copyright = "the ppsp developers"
release = _setup.get("metadata", "version", fallback="0.0.0")
version = ".".join(release.split(".")[:2])

_root = os.path.dirname(_here)
# ppspreference: the pydoctor system of the reference.
sys.path.insert(0, os.path.join(_here, "_ext"))
_inventories = os.path.join(_here, "_inventories")

extensions = ["sphinx.ext.intersphinx", "pydoctor.sphinx_ext.build_apidocs"]
master_doc = "index"
exclude_patterns = ["_build", "examples"]
# Every :py: reference of the pages must name an object of the reference.
nitpicky = True

# The pydoctor extension adds the reference's own inventory here, so that
# the pages' :py:class: (and :mod:, :meth:, ...) roles link into api/.
intersphinx_mapping: dict = {}

# (inventory file, where its objects are documented): the external
# documentation that the docstrings' links point to.  make.py fills each
# file with the names the docstrings link, and only those.
pydoctor_inventories = [
    ("python.inv", "https://docs.python.org/3"),
    ("twisted.inv", "https://docs.twisted.org/en/stable/api"),
    ("treq.inv", "https://treq.readthedocs.io/en/stable"),
    ("cryptography.inv", "https://cryptography.io/en/stable"),
]
pydoctor_args = [
    "--project-name=ppsp",
    # The project name in the reference's header leads back to the manual.
    "--project-url=../index.html",
    f"--project-version={release}",
    f"--project-base-dir={_root}",
    "--docformat=epytext",
    # Names that public packages export from private modules are
    # documented in the public package (docs/_ext/ppspreference.py).
    "--system-class=ppspreference.ReferenceSystem",
    "--warnings-as-errors",
    # The tests are no part of the API; ppsp.testing, the helpers for
    # the tests of applications, is.
    "--privacy=HIDDEN:ppsp.test",
    "--html-output={outdir}/api",
    *(
        f"--intersphinx-file={os.path.join(_inventories, name)}::{url}"
        for name, url in pydoctor_inventories
    ),
    os.path.join(_root, "ppsp"),
]
# Where the reference is, relative to the pages, for the roles above.
pydoctor_url_path = "api/"
highlight_language = "none"
pygments_style = "sphinx"

html_theme = "alabaster"
html_theme_options = {
    "description": "A PPSP tracker for Twisted",
    "fixed_sidebar": False,
}
html_static_path = []
