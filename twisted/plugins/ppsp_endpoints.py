"""
The server endpoint strings ppsp adds to Twisted's: C{mtls:}, TLS that
requires (or requests) client certificates, for C{twistd ppsp-tracker
--listen} and any L{serverFromString<twisted.internet.endpoints.serverFromString>}
(see L{ppsp.tracker.tls}).

This directory must not have an C{__init__.py}: it would replace Twisted's
own C{twisted.plugins} package when installed.  The module stays light:
every plugin scan imports it, so the parser is imported only when an
C{mtls:} string is parsed.
"""

from typing import Any

from twisted.internet.interfaces import IStreamServerEndpoint, IStreamServerEndpointStringParser
from twisted.plugin import IPlugin
from zope.interface import implementer


@implementer(IPlugin, IStreamServerEndpointStringParser)
class _LazyMutualTLSParser:
    """
    The C{mtls:} prefix, parsed by L{ppsp.tracker.tls.MutualTLSServerParser}.
    """

    prefix = "mtls"

    def parseStreamServer(self, reactor: Any, *args: object, **kwargs: object) -> IStreamServerEndpoint:
        from ppsp.tracker.tls import MutualTLSServerParser

        return MutualTLSServerParser().parseStreamServer(reactor, *args, **kwargs)


mtls = _LazyMutualTLSParser()
