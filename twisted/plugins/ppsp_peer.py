"""
The twistd dropin for C{twistd ppsp-peer} (and C{twist ppsp-peer}).

This directory must not have an C{__init__.py}: it would replace Twisted's
own C{twisted.plugins} package when installed.
"""

from twisted.application.service import ServiceMaker

ppspPeer = ServiceMaker(
    "PPSP peer",
    "ppsp.peer.tap",
    "Run a PPSP peer that registers with a tracker and logs the peers it finds.",
    "ppsp-peer",
)
