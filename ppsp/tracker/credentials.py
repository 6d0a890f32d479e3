# -*- test-case-name: ppsp.test.test_auth -*-
"""
Who may CONNECT: peer authentication through L{twisted.cred}.

The tracker core hands a L{PeerCredentials} to an
L{ICredentialsChecker<twisted.cred.checkers.ICredentialsChecker>}.  The
checker answers with an avatar ID: L{ANONYMOUS} when anyone may speak
(the C{open} scheme; the session AuthToken still protects every PeerID), or
the PeerID (as L{bytes}) that the credential is bound to, or, from the
checkers of this module, a L{SessionIdentity} that also says when the
credential expires and which credential it was (for revocation).  A failure
with L{UnauthorizedLogin} is AUTHENTICATION REQUIRED.

A session lives no longer than what opened it (PROTOCOL.md section 6): it
ends when its credential expires or is revoked (L{Revocations}), and a
session opened over a TLS connection that showed a client certificate is
bound to that certificate: every later request must come over a connection
showing the same one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any, FrozenSet, Iterable, Optional, Tuple

from twisted.cred.checkers import ANONYMOUS, ICredentialsChecker
from twisted.cred.credentials import ICredentials
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from zope.interface import Attribute, Interface, implementer

__all__ = [
    "ANONYMOUS",
    "SessionIdentity",
    "Revocations",
    "credentialFingerprint",
    "IPeerCredentials",
    "PeerCredentials",
    "OpenPeerChecker",
    "TokenPeerChecker",
    "X509PeerChecker",
    "peerIDsOf",
    "issueToken",
    "readSecret",
    "MIN_SECRET_BYTES",
]


# Interface is a base beside ICredentials (which already extends it) for
# pydoctor, which tells an interface only by a base it knows to be one.
class IPeerCredentials(ICredentials, Interface):
    """
    What a CONNECT request offers as proof of identity.
    """

    peerID = Attribute("The PeerID the peer claims (L{str}).")
    cer = Attribute("The C{<Cer>} credential as sent, or L{None}.")
    originIP = Attribute("The IP address the tracker observed.")
    certificate = Attribute(
        "The DER bytes of the TLS client certificate of the request's "
        "connection, or L{None}."
    )


def credentialFingerprint(credential: bytes) -> str:
    """
    The fingerprint by which an operator names a credential to revoke it:
    C{sha256:} and the SHA-256 of its bytes in lower-case hex (of the
    C{ppsp1.} text for the C{token} scheme, of the DER certificate for
    C{x509}, as C{openssl x509 -noout -fingerprint -sha256} prints it, less
    the colons).
    """
    return "sha256:" + hashlib.sha256(credential).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionIdentity:
    """
    What authenticated a session, kept with it while it lives.

    @ivar peerID: the PeerID the credential is bound to, or L{None} for
        the C{open} scheme (anyone may speak; the AuthToken protects the
        session).
    @ivar expires: when the credential expires (POSIX seconds, the
        tracker's clock), after which the session ends; L{None} for never.
    @ivar fingerprint: the credential's L{credentialFingerprint}, or
        L{None}; an operator revokes a credential by it.
    @ivar certificate: the SHA-256 digest of the TLS client certificate of
        the connection that opened the session, or L{None}; later requests
        must show the same certificate.
    """

    peerID: Optional[str] = None
    expires: Optional[float] = None
    fingerprint: Optional[str] = None
    certificate: Optional[bytes] = None

    @property
    def bound(self) -> bool:
        """
        Whether a credential proved the PeerID (any scheme but C{open}):
        then every request must carry the session's AuthToken, and the
        same-address rule of RFC 7846 peers does not apply.
        """
        return self.peerID is not None


_HEX = re.compile(r"[0-9a-f]{64}")


class Revocations:
    """
    The PeerIDs and credentials an operator has revoked: a revoked PeerID
    may not CONNECT (whatever its credential), a revoked credential may
    not be used by anyone, and a session opened with either ends at once.

    The file form (C{--revocations FILE}, read again on SIGHUP) has one
    entry a line; blank lines and lines starting with C{#} are skipped::

        peer:PEERID            a PeerID
        sha256:HEX             a credential's fingerprint (see
                               python -m ppsp.auth fingerprint); colons
                               between hex pairs are allowed
        ppsp1.…                a credential of the token scheme itself
    """

    def __init__(
        self, peerIDs: Iterable[str] = (), fingerprints: Iterable[str] = ()
    ) -> None:
        self.peerIDs: FrozenSet[str] = frozenset(peerIDs)
        self.fingerprints: FrozenSet[str] = frozenset(fingerprints)

    def __len__(self) -> int:
        return len(self.peerIDs) + len(self.fingerprints)

    def __repr__(self) -> str:
        return f"<Revocations: {len(self.peerIDs)} PeerID(s), {len(self.fingerprints)} credential(s)>"

    def revokes(self, peerID: str, identity: Optional[SessionIdentity]) -> bool:
        """
        Whether a session of C{peerID} opened with C{identity} is revoked.
        """
        if peerID in self.peerIDs:
            return True
        return (
            identity is not None
            and identity.fingerprint is not None
            and identity.fingerprint in self.fingerprints
        )

    def plus(self, peerIDs: Iterable[str] = (), fingerprints: Iterable[str] = ()) -> "Revocations":
        """
        These revocations and more.
        """
        return Revocations(self.peerIDs | set(peerIDs), self.fingerprints | set(fingerprints))

    def __or__(self, other: "Revocations") -> "Revocations":
        return self.plus(other.peerIDs, other.fingerprints)

    def __sub__(self, other: "Revocations") -> "Revocations":
        return Revocations(self.peerIDs - other.peerIDs, self.fingerprints - other.fingerprints)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Revocations):
            return NotImplemented
        return self.peerIDs == other.peerIDs and self.fingerprints == other.fingerprints

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def parseEntry(cls, text: str) -> Tuple[Optional[str], Optional[str]]:
        """
        One entry of the file form: (PeerID, L{None}) or (L{None},
        fingerprint).

        @raise ValueError: not an entry.
        """
        text = text.strip()
        kind, _, value = text.partition(":")
        if kind == "peer" and value:
            return value, None
        if kind == "sha256":
            digest = value.replace(":", "").lower()
            if _HEX.fullmatch(digest):
                return None, "sha256:" + digest
            raise ValueError("a sha256: fingerprint is 64 hex digits")
        if text.startswith(_TOKEN_VERSION + "."):
            return None, credentialFingerprint(text.encode("utf-8"))
        raise ValueError("give peer:PEERID, sha256:HEX or a ppsp1. credential")

    @classmethod
    def fromFile(cls, path: str) -> "Revocations":
        """
        Read the file form.

        @raise OSError: the file cannot be read.
        @raise ValueError: a line is not an entry (the message names the
            file and line).
        """
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        peerIDs, fingerprints = set(), set()
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                peerID, fingerprint = cls.parseEntry(text)
            except ValueError as e:
                raise ValueError(f"{path}:{number}: {e}") from None
            if peerID is not None:
                peerIDs.add(peerID)
            if fingerprint is not None:
                fingerprints.add(fingerprint)
        return cls(peerIDs, fingerprints)


@implementer(IPeerCredentials)
class PeerCredentials:
    """
    The credentials of one CONNECT request.
    """

    def __init__(
        self,
        peerID: str,
        cer: Optional[str],
        originIP: str,
        certificate: Optional[bytes] = None,
    ) -> None:
        self.peerID = peerID
        self.cer = cer
        self.originIP = originIP
        self.certificate = certificate

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

    def setSecret(self, secret: bytes) -> None:
        """
        Replace the secret (the secret file read again): from now on only
        credentials issued with the new one CONNECT; sessions already
        open go on.

        @raise ValueError: the secret is shorter than L{MIN_SECRET_BYTES};
            the old one stays.
        """
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the secret is shorter than {MIN_SECRET_BYTES} bytes")
        self._secret = secret

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
        return succeed(
            SessionIdentity(
                peerID, float(expires), credentialFingerprint(cer.strip().encode("utf-8"))
            )
        )


#: The URI subject alternative name that binds a certificate to a PeerID:
#: this prefix, then the PeerID.
PEER_URI_PREFIX = "urn:ppsp:peer:"


def peerIDsOf(certificate: Any) -> Tuple[str, ...]:
    """
    The PeerIDs a certificate speaks for: those of its URI subject
    alternative names C{urn:ppsp:peer:<PeerID>}, or, when it has none, its
    subject's common name.

    @param certificate: a L{cryptography.x509.Certificate}.
    """
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    bound = tuple(u[len(PEER_URI_PREFIX):] for u in uris if u.startswith(PEER_URI_PREFIX))
    if bound:
        return bound
    return tuple(
        str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    )


def _loadCertificate(text: str) -> Any:
    """
    A certificate from C{<Cer>}: PEM, or base64 DER.

    @raise ValueError: neither.
    """
    from cryptography import x509

    data = text.strip()
    if len(data) > 16384:
        raise ValueError("too long")
    if data.startswith("-----BEGIN"):
        return x509.load_pem_x509_certificate(data.encode("ascii"))
    try:
        der = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not base64") from None
    return x509.load_der_x509_certificate(der)


@implementer(ICredentialsChecker)
class X509PeerChecker:
    """
    The C{x509} scheme: the peer proves its identity with a certificate
    that the operator's CA issued.

    C{<Cer>} holds the certificate (PEM or base64 DER); it must be the
    very certificate the peer presented as TLS client certificate on the
    same connection (which proves it holds the private key), be issued
    directly by one of the configured CAs, be valid now, and speak for
    the PeerID (see L{peerIDsOf}).  Without C{<Cer>}, the connection's
    certificate itself is checked (RFC 7846 peers send none).  This
    scheme therefore needs a TLS listener that asks for client
    certificates.

    @param caCertificates: the PEM text of the trusted CA certificates.
    @param clock: the time source for validity.
    """

    credentialInterfaces = (IPeerCredentials,)

    #: The scheme named in C{WWW-Authenticate}.
    scheme = "PPSP-X509"

    def __init__(self, caCertificates: bytes, clock: IReactorTime) -> None:
        from cryptography import x509

        self._cas = x509.load_pem_x509_certificates(caCertificates)
        self._clock = clock

    def requestAvatarId(self, credentials: Any) -> "Deferred[Any]":
        """
        The L{SessionIdentity} of the certificate (the PeerID it is bound
        to, its expiry, its fingerprint), or L{UnauthorizedLogin}.
        """
        try:
            return succeed(self._check(credentials))
        except UnauthorizedLogin as e:
            return fail(e)

    def _check(self, credentials: Any) -> SessionIdentity:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        connection = getattr(credentials, "certificate", None)
        if connection is None:
            raise UnauthorizedLogin("no TLS client certificate on this connection")
        if credentials.cer:
            try:
                certificate = _loadCertificate(credentials.cer)
            except ValueError:
                raise UnauthorizedLogin("the credential is not a certificate") from None
            if certificate.public_bytes(Encoding.DER) != connection:
                raise UnauthorizedLogin("the credential is not the connection's certificate")
        else:
            try:
                certificate = x509.load_der_x509_certificate(connection)
            except ValueError:
                raise UnauthorizedLogin("the connection's certificate is unreadable") from None
        for ca in self._cas:
            try:
                certificate.verify_directly_issued_by(ca)
                break
            except Exception:
                continue
        else:
            raise UnauthorizedLogin("the certificate is not issued by a trusted CA")
        now = self._clock.seconds()
        if not (
            certificate.not_valid_before_utc.timestamp()
            <= now
            < certificate.not_valid_after_utc.timestamp()
        ):
            raise UnauthorizedLogin("the certificate is not valid now")
        if credentials.peerID not in peerIDsOf(certificate):
            raise UnauthorizedLogin("the certificate is bound to another PeerID")
        return SessionIdentity(
            str(credentials.peerID),
            certificate.not_valid_after_utc.timestamp(),
            credentialFingerprint(connection),
        )
