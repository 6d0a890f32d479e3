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

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any, Optional, Tuple

from twisted.cred.checkers import ANONYMOUS, ICredentialsChecker
from twisted.cred.credentials import ICredentials
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from zope.interface import Attribute, implementer

__all__ = [
    "ANONYMOUS",
    "IPeerCredentials",
    "PeerCredentials",
    "OpenPeerChecker",
    "TokenPeerChecker",
    "issueToken",
    "readSecret",
    "MIN_SECRET_BYTES",
]


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


#: The shortest secret the C{token} scheme accepts.
MIN_SECRET_BYTES = 16

_TOKEN_VERSION = "ppsp1"


def readSecret(path: str) -> bytes:
    """
    Read a secret for the C{token} scheme from a file: its bytes, without
    surrounding white space.

    @raise ValueError: the secret is shorter than L{MIN_SECRET_BYTES}.
    @raise OSError: the file cannot be read.
    """
    with open(path, "rb") as f:
        secret = f.read().strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(
            f"the secret in {path!r} is shorter than {MIN_SECRET_BYTES} bytes"
        )
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]{1,1024}")


def _unb64(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("bad field")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("bad field") from None


def _signature(secret: bytes, peerID: str, expires: int) -> bytes:
    message = b"\0".join(
        [_TOKEN_VERSION.encode("ascii"), peerID.encode("utf-8"), str(expires).encode("ascii")]
    )
    return hmac.new(secret, message, hashlib.sha256).digest()


def issueToken(secret: bytes, peerID: str, expires: int) -> str:
    """
    A credential for the C{token} scheme: it lets C{peerID}, and no other
    PeerID, CONNECT until the POSIX time C{expires}.

    The credential reads C{ppsp1.<PeerID>.<expiry>.<signature>}, the PeerID
    and the signature (HMAC-SHA256 with the operator's secret) in
    unpadded base64url.  It holds no secret: a peer presents it in
    C{<Cer>} (or C{Authorization: Bearer}), and anyone who sees it can only
    replay it for the same PeerID until it expires, which the session
    AuthToken and TLS guard against.
    """
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the secret is shorter than {MIN_SECRET_BYTES} bytes")
    return ".".join(
        [_TOKEN_VERSION, _b64(peerID.encode("utf-8")), str(expires), _b64(_signature(secret, peerID, expires))]
    )


def _parseToken(token: str) -> Tuple[str, int, bytes]:
    """
    The PeerID, expiry and signature of a credential.

    @raise ValueError: not a credential of this scheme.
    """
    parts = token.strip().split(".")
    if len(parts) != 4 or parts[0] != _TOKEN_VERSION:
        raise ValueError("not a ppsp1 credential")
    peerID = _unb64(parts[1]).decode("utf-8")
    if not parts[2].isdigit() or len(parts[2]) > 12:
        raise ValueError("bad expiry")
    return peerID, int(parts[2]), _unb64(parts[3])


@implementer(ICredentialsChecker)
class TokenPeerChecker:
    """
    The C{token} scheme: a peer may CONNECT only with a credential the
    operator issued (L{issueToken}, or C{python -m ppsp.auth issue}) for
    its PeerID, before the credential expires.

    @param secret: the operator's secret.
    @param clock: the time source for expiry.
    """

    credentialInterfaces = (IPeerCredentials,)

    #: The scheme named in C{WWW-Authenticate}.
    scheme = "PPSP-Token"

    def __init__(self, secret: bytes, clock: IReactorTime) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the secret is shorter than {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self._clock = clock

    def __repr__(self) -> str:
        return "<TokenPeerChecker>"

    def requestAvatarId(self, credentials: Any) -> "Deferred[Any]":
        """
        The PeerID the credential is bound to, or L{UnauthorizedLogin}
        (whose message never repeats the credential).
        """
        cer = credentials.cer
        if not cer:
            return fail(UnauthorizedLogin("no credential"))
        try:
            peerID, expires, signature = _parseToken(cer)
        except (ValueError, UnicodeDecodeError):
            return fail(UnauthorizedLogin("malformed credential"))
        wanted = _signature(self._secret, peerID, expires)
        if not hmac.compare_digest(signature, wanted):
            return fail(UnauthorizedLogin("credential signature does not verify"))
        if expires <= self._clock.seconds():
            return fail(UnauthorizedLogin("credential expired"))
        if peerID != credentials.peerID:
            return fail(UnauthorizedLogin("credential is bound to another PeerID"))
        return succeed(peerID.encode("utf-8"))
