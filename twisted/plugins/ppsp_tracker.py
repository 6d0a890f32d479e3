"""
The twistd dropin for C{twistd ppsp-tracker} (and C{twist ppsp-tracker}).

This directory must not have an C{__init__.py}: it would replace Twisted's
own C{twisted.plugins} package when installed.
"""

from twisted.application.service import ServiceMaker

ppspTracker = ServiceMaker(
    "PPSP tracker",
    "ppsp.tracker.tap",
    "Run a PPSP tracker (HTTP, with XML and RFC 7846 JSON).",
    "ppsp-tracker",
)
