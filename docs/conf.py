# Sphinx configuration of the ppsp documentation.
#
# Build it with warnings as errors, as CI does:
#
#     sphinx-build -W --keep-going -b html docs docs/_build/html
#
# The code's docstrings are epytext (L{}, C{}, @param), which autodoc would
# render badly: the API pages are written by hand.

import configparser
import os

_here = os.path.dirname(os.path.abspath(__file__))
_setup = configparser.ConfigParser()
_setup.read(os.path.join(_here, os.pardir, "setup.cfg"), encoding="utf-8")

project = "ppsp"
author = "The ppsp developers"
copyright = "the ppsp developers"
release = _setup.get("metadata", "version", fallback="0.0.0")
version = ".".join(release.split(".")[:2])

extensions = []
master_doc = "index"
exclude_patterns = ["_build", "examples"]
nitpicky = False
highlight_language = "none"
pygments_style = "sphinx"

html_theme = "alabaster"
html_theme_options = {
    "description": "A PPSP tracker for Twisted",
    "fixed_sidebar": False,
}
html_static_path = []
