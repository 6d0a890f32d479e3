"""
What the command lines of C{twistd ppsp-tracker} and C{twistd ppsp-peer}
share.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

from twisted.python import usage

__all__ = ["ServiceOptions"]


class ServiceOptions(usage.Options):
    """
    Options of a twistd plugin.  Run as a twistd (or twist) subcommand, a
    usage error prints the usage and the error and exits with status 64
    (C{EX_USAGE}), under both runners (twistd alone would exit 1); used
    directly, it raises L{usage.UsageError}.
    """

    def parseOptions(self, options: Optional[Sequence[str]] = None) -> None:
        """
        Parse the command line.
        """
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            if getattr(self, "parent", None) is None:
                raise
            sys.stderr.write(f"{self}\nError: {e}\n")
            raise SystemExit(os.EX_USAGE) from None
