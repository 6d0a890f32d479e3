"""
Where ppsp looks for peer-selection strategies
(L{ppsp.interfaces.IPeerSelectorPlugin} providers), with
L{twisted.plugin.getPlugins}.

A third party ships a strategy as one module, C{ppsp/plugins/NAME.py},
in its own distribution, with no C{ppsp/__init__.py} and no
C{ppsp/plugins/__init__.py}: every C{ppsp/plugins} directory on
C{sys.path} is searched.
"""

from twisted.plugin import pluginPackagePaths

__path__.extend(pluginPackagePaths(__name__))
__all__: list[str] = []
