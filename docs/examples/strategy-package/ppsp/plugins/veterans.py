"""
Registers the C{veterans} strategy with ppsp.  This file is installed as
C{ppsp/plugins/veterans.py}; ppsp finds it with twisted.plugin.getPlugins.
Keep it small: every tracker that lists its strategies imports it.
"""

from twisted.plugin import IPlugin
from zope.interface import implementer

from ppsp.interfaces import IPeerSelectorPlugin


@implementer(IPlugin, IPeerSelectorPlugin)
class VeteransPlugin:
    name = "veterans"
    description = "Long-connected peers first, among a random pool. Args: probe=4."

    def makeSelector(self, argstring):
        # Imported here, so that listing the strategies stays cheap.
        from ppsp_veterans.selector import VeteransSelector

        return VeteransSelector.fromArgs(argstring)


veterans = VeteransPlugin()
