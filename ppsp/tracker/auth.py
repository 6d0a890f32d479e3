# -*- test-case-name: ppsp.test.test_auth -*-
"""
Who may CONNECT: peer authentication through L{twisted.cred}.

The tracker core hands a L{PeerCredentials} to an
L{ICredentialsChecker<twisted.cred.checkers.ICredentialsChecker>}.  The
checker answers with an avatar ID: L{ANONYMOUS} when anyone may speak
(the C{open} scheme; the session AuthToken still protects every PeerID), or
the PeerID (as L{bytes}) that the credential is bound to.  A failure with
L{UnauthorizedLogin} is AUTHENTICATION REQUIRED.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.cred.checkers import ANONYMOUS, ICredentialsChecker
from twisted.cred.credentials import ICredentials
from twisted.internet.defer import Deferred, succeed
from zope.interface import Attribute, implementer

__all__ = ["ANONYMOUS", "IPeerCredentials", "PeerCredentials", "OpenPeerChecker"]


class IPeerCredentials(ICredentials):
    """
    What a CONNECT request offers as proof of identity.
    """

    peerID = Attribute("The PeerID the peer claims (L{str}).")
    cer = Attribute("The C{<Cer>} credential as sent, or L{None}.")
    originIP = Attribute("The IP address the tracker observed.")


@implementer(IPeerCredentials)
class PeerCredentials:
    """
    The credentials of one CONNECT request.
    """

    def __init__(self, peerID: str, cer: Optional[str], originIP: str) -> None:
        self.peerID = peerID
        self.cer = cer
        self.originIP = originIP

    def __repr__(self) -> str:
        # Never show the credential itself: it may be a secret.
        return f"<PeerCredentials for {self.peerID!r} from {self.originIP}>"


@implementer(ICredentialsChecker)
class OpenPeerChecker:
    """
    The C{open} scheme: anyone may CONNECT under any PeerID that no other
    session holds.  C{<Cer>} is ignored.
    """

    credentialInterfaces = (IPeerCredentials,)

    #: The scheme named in C{WWW-Authenticate}.
    scheme = "PPSP-Open"

    def requestAvatarId(self, credentials: Any) -> "Deferred[Any]":
        """
        Accept everyone, bound to no PeerID.
        """
        return succeed(ANONYMOUS)
