"""
ppsp: a PPSP tracker and peer framework for Twisted.

The tracker (L{ppsp.tracker}) serves the PPSP tracker protocol over HTTP;
the codec (L{ppsp.codec}) turns the typed messages of L{ppsp.messages} into
bytes and back; peer-selection strategies implement
L{ppsp.interfaces.IPeerSelector}.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
