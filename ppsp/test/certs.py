"""
Certificates made at test time: a private CA, and server and client
certificates it signs.  Nothing is stored in the source tree.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from typing import Any, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Issued:
    """
    A certificate and its private key, in PEM.
    """

    certificate: bytes
    key: bytes

    @property
    def der(self) -> bytes:
        """
        The certificate in DER.
        """
        return x509.load_pem_x509_certificate(self.certificate).public_bytes(
            serialization.Encoding.DER
        )

    @property
    def pem(self) -> bytes:
        """
        The certificate followed by its key, as one PEM file.
        """
        return self.certificate + self.key


class TestCA:
    """
    A certificate authority for one test.
    """

    def __init__(self, name: str = "ppsp test CA") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )

    @property
    def certificate(self) -> bytes:
        """
        The CA's certificate, in PEM.
        """
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        commonName: str,
        dnsName: Optional[str] = None,
        ip: Optional[str] = None,
        days: int = 7,
        uri: Optional[str] = None,
    ) -> Issued:
        """
        A certificate for C{commonName}, with a DNS, an IP and a URI
        subject alternative name when given.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
        )
        names: list[x509.GeneralName] = []
        if dnsName is not None:
            names.append(x509.DNSName(dnsName))
        if ip is not None:
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
        if uri is not None:
            names.append(x509.UniformResourceIdentifier(uri))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return Issued(
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ),
        )


def serverOptions(ca: TestCA, requireCertificate: bool = True) -> Any:
    """
    TLS options for a server on C{localhost} with a certificate from C{ca}
    that asks clients for a certificate issued by C{ca}: required, or (with
    C{requireCertificate=False}) optional.
    """
    from twisted.internet.ssl import Certificate, CertificateOptions, PrivateCertificate

    server = PrivateCertificate.loadPEM(ca.issue("localhost", dnsName="localhost").pem)
    return CertificateOptions(
        privateKey=server.privateKey.original,
        certificate=server.original,
        verify=True,
        requireCertificate=requireCertificate,
        caCerts=[Certificate.loadPEM(ca.certificate).original],
    )
