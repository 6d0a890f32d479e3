# -*- test-case-name: ppsp.test.test_tls -*-
"""
TLS listeners that ask peers for client certificates.

Twisted's C{ssl:} server endpoint string serves TLS but never asks the
client for a certificate.  This module adds the C{mtls:} endpoint string
(registered as a plugin by C{twisted/plugins/ppsp_endpoints.py}, so that
C{twistd ppsp-tracker --listen} and
L{twisted.internet.endpoints.serverFromString} accept it)::

    mtls:PORT:privateKey=KEY.pem:certKey=CERT.pem:caCerts=CA.pem
        [:interface=ADDRESS][:backlog=N][:extraCertChain=CHAIN.pem]
        [:optional=yes]

It listens like C{ssl:} and, in the TLS handshake, requires a client
certificate issued by one of the CAs of C{caCerts}: a client that shows
none, or one that does not chain to those CAs, is refused.  With
C{optional=yes} a client without a certificate is served too (one that
shows a certificate the CAs did not issue is still refused).

Every file is read when the string is parsed, so that a missing,
unreadable or mismatched file is a L{ValueError} naming it, which
C{twistd ppsp-tracker --listen} reports as a usage error.
"""

from __future__ import annotations

from typing import Any, List, Optional

from twisted.internet.endpoints import SSL4ServerEndpoint
from twisted.internet.interfaces import IStreamServerEndpoint, IStreamServerEndpointStringParser
from twisted.internet.ssl import CertificateOptions
from twisted.plugin import IPlugin
from zope.interface import implementer

__all__ = ["MutualTLSServerParser", "mutualTLSOptions", "parseMutualTLS", "PREFIX"]

#: The endpoint string prefix.
PREFIX = "mtls"

_YES = frozenset({"yes", "true", "on", "1"})
_NO = frozenset({"no", "false", "off", "0"})
_PARAMETERS = ("privateKey", "certKey", "caCerts", "interface", "backlog", "extraCertChain", "optional")


def _read(path: str, what: str) -> bytes:
    """
    The bytes of a file.

    @param what: the parameter that names it, for the error message.
    @raise ValueError: it cannot be read.
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"{PREFIX}: cannot read the {what} file {path!r}: {e.strerror or e}") from None


def _certificates(path: str, what: str) -> List[Any]:
    """
    Every PEM certificate of a file, in order, as
    L{cryptography.x509.Certificate}s.

    @raise ValueError: the file cannot be read or holds no certificate.
    """
    from cryptography import x509

    data = _read(path, what)
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ValueError(f"{PREFIX}: the {what} file {path!r} holds no PEM certificate")
    try:
        return list(x509.load_pem_x509_certificates(data))
    except ValueError as e:
        raise ValueError(f"{PREFIX}: the {what} file {path!r} holds a malformed certificate: {e}") from None


def _privateKey(path: str) -> Any:
    """
    The PEM private key of a file (which may also hold certificates).

    @raise ValueError: the file cannot be read, holds no private key, or
        its key is encrypted.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = _read(path, "privateKey")
    if b"PRIVATE KEY-----" not in data:
        raise ValueError(f"{PREFIX}: the privateKey file {path!r} holds no PEM private key")
    try:
        return load_pem_private_key(data, password=None)
    except TypeError:
        raise ValueError(
            f"{PREFIX}: the private key in {path!r} is encrypted; give an unencrypted key"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as e:
        raise ValueError(f"{PREFIX}: cannot load the private key in {path!r}: {e}") from None


def _publicKeyBytes(key: Any) -> bytes:
    """
    A public key as DER SubjectPublicKeyInfo, to compare two.
    """
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)  # type: ignore[no-any-return]


def _mayIssue(certificate: Any) -> bool:
    """
    Whether a certificate may be a CA's: its basic constraints, when it
    has them, say so.
    """
    from cryptography import x509

    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return True
    return bool(constraints.value.ca)


def _flag(value: str) -> bool:
    """
    The C{optional} parameter: yes (true, on, 1) or no (false, off, 0).
    """
    text = value.strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError(f"{PREFIX}: optional={value!r} is not yes or no")


def mutualTLSOptions(
    privateKey: str,
    caCerts: str,
    certKey: Optional[str] = None,
    extraCertChain: Optional[str] = None,
    optional: bool = False,
) -> CertificateOptions:
    """
    The TLS options of a server that asks its clients for a certificate
    issued by one of the CAs of C{caCerts}.

    @param privateKey: the PEM file of the server's unencrypted private key.
    @param caCerts: the PEM file of the CA certificates that issue client
        certificates (one or more).
    @param certKey: the PEM file of the server's certificate; C{privateKey}
        when L{None} (one file holding both).  Certificates after the first
        one in the file are sent as its chain.
    @param extraCertChain: a PEM file of intermediate CA certificates to
        send after the server's certificate, or L{None}.
    @param optional: serve clients that show no certificate too.
    @raise ValueError: a file cannot be read or does not hold what it
        should, or the key is not the certificate's; the message names the
        file.
    """
    from OpenSSL import crypto

    certificatePath = privateKey if certKey is None else certKey
    key = _privateKey(privateKey)
    served = _certificates(certificatePath, "certKey")
    if _publicKeyBytes(served[0].public_key()) != _publicKeyBytes(key.public_key()):
        raise ValueError(
            f"{PREFIX}: the private key in {privateKey!r} does not match the "
            f"certificate in {certificatePath!r}"
        )
    chain = served[1:]
    if extraCertChain is not None:
        chain.extend(_certificates(extraCertChain, "extraCertChain"))
    authorities = _certificates(caCerts, "caCerts")
    for authority in authorities:
        if not _mayIssue(authority):
            raise ValueError(
                f"{PREFIX}: the caCerts file {caCerts!r} holds a certificate that is not "
                f"a CA's ({authority.subject.rfc4514_string()})"
            )
    return CertificateOptions(
        privateKey=crypto.PKey.from_cryptography_key(key),
        certificate=crypto.X509.from_cryptography(served[0]),
        extraCertChain=[crypto.X509.from_cryptography(c) for c in chain] or None,
        verify=True,
        requireCertificate=not optional,
        caCerts=[crypto.X509.from_cryptography(c) for c in authorities],
    )


def parseMutualTLS(reactor: Any, *args: str, **kwargs: str) -> SSL4ServerEndpoint:
    """
    The endpoint of an C{mtls:} string, from its parsed arguments: the port
    then the keyword parameters (see the module's documentation).

    @raise ValueError: the port or a parameter is missing or wrong, or a
        file cannot be used; the message says which.
    """
    if len(args) != 1:
        raise ValueError(f"{PREFIX}: give exactly one port, as in {PREFIX}:7443:privateKey=...")
    unknown = sorted(set(kwargs) - set(_PARAMETERS))
    if unknown:
        raise ValueError(
            f"{PREFIX}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(_PARAMETERS)}"
        )
    try:
        port = int(args[0])
        backlog = int(kwargs.get("backlog", "50"))
    except ValueError:
        raise ValueError(f"{PREFIX}: the port and the backlog must be whole numbers") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"{PREFIX}: port {port} is out of range")
    for required in ("privateKey", "caCerts"):
        if not kwargs.get(required):
            raise ValueError(f"{PREFIX}: {required}=FILE is required")
    options = mutualTLSOptions(
        privateKey=kwargs["privateKey"],
        caCerts=kwargs["caCerts"],
        certKey=kwargs.get("certKey") or None,
        extraCertChain=kwargs.get("extraCertChain") or None,
        optional=_flag(kwargs.get("optional", "no")),
    )
    return SSL4ServerEndpoint(reactor, port, options, backlog=backlog, interface=kwargs.get("interface", ""))


@implementer(IPlugin, IStreamServerEndpointStringParser)
class MutualTLSServerParser:
    """
    The C{mtls:} server endpoint string: TLS over TCP/IPv4 that requires
    (or, with C{optional=yes}, requests) a client certificate.
    """

    prefix = PREFIX

    def parseStreamServer(self, reactor: Any, *args: object, **kwargs: object) -> IStreamServerEndpoint:
        """
        See L{parseMutualTLS}.
        """
        return parseMutualTLS(reactor, *map(str, args), **{k: str(v) for k, v in kwargs.items()})
