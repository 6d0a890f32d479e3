"""
ppsp-veterans: a peer-selection strategy that lists long-lived peers first.
"""

from ppsp_veterans.selector import VeteransSelector

__all__ = ["VeteransSelector"]
