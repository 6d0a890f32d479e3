# -*- test-case-name: ppsp.test.test_auth -*-
"""
Credentials for a closed tracker (C{twistd ppsp-tracker --auth token:FILE}),
from the command line::

    python -m ppsp.auth new-secret --out /etc/ppsp/secret
    python -m ppsp.auth issue --secret-file /etc/ppsp/secret --peer-id peer-a --ttl 86400 > peer-a.cer
    twistd -n ppsp-peer --tracker http://tracker:7000/ --peer-id peer-a --cer peer-a.cer --swarm live-1

C{new-secret --out FILE} creates the file readable by its owner only
(mode 0600), and refuses a file that exists; without C{--out} the secret
goes to standard output (redirect it under C{umask 077}).  C{issue} prints
one credential, bound to one PeerID, valid for C{--ttl}
seconds; the peer presents it in C{<Cer>} at CONNECT.  C{fingerprint FILE}
prints the fingerprint of a credential file or of a PEM certificate, the
form in which the tracker's revocation file (C{--revocations}) names a
credential to revoke::

    python -m ppsp.auth fingerprint peer-a.cer >> /etc/ppsp/revoked
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
import time
from typing import Any, List, Optional, Sequence, TextIO

from twisted.python import usage

from ppsp._options import CommandOptions, positiveInt
from ppsp.codec.identifiers import identifierRule, validIdentifier
from ppsp.tracker.credentials import credentialFingerprint, issueToken, readSecret

__all__ = ["Options", "main"]


#: How the usage lines name the program.
PROGRAM = "python -m ppsp.auth"


class _Command(CommandOptions):
    """
    Base of the subcommands: a usage line that names the program.
    """

    synopsis = "[options]"

    def getSynopsis(self) -> str:
        command = self.parent.subCommand if self.parent is not None else ""
        return f"Usage: {PROGRAM} {command} {self.synopsis}"


class _NewSecret(_Command):
    """
    Make a new random secret (32 bytes, base64url) for --auth token:FILE.
    The secret lets whoever reads it issue credentials: give --out FILE,
    which creates the file readable by its owner only (mode 0600), or
    redirect standard output under umask 077.
    """

    optParameters: List[List[Any]] = [
        ["out", "o", None, "Write the secret to this file, created with mode 0600 (readable by its owner only); a file that exists is refused. Without it the secret goes to standard output: redirect it under umask 077."],
    ]


class _Issue(_Command):
    """
    Print a credential for one PeerID, signed with the tracker's secret.
    """

    optParameters: List[List[Any]] = [
        ["secret-file", "s", None, "File holding the tracker's secret."],
        ["peer-id", "p", None, "The PeerID the credential speaks for."],
        ["ttl", "t", 86400, "Seconds the credential stays valid.", positiveInt],
    ]

    def postOptions(self) -> None:
        if not self["secret-file"]:
            raise usage.UsageError("--secret-file is required")
        if not validIdentifier(self["peer-id"] or ""):
            raise usage.UsageError(f"--peer-id must be a PeerID of {identifierRule()}")
        try:
            self["secret"] = readSecret(self["secret-file"])
        except (OSError, ValueError) as e:
            raise usage.UsageError(f"--secret-file: {e}") from None


class _Fingerprint(_Command):
    """
    Print the fingerprint of a credential file or of a PEM certificate, as
    the tracker's revocation file (--revocations) names it.
    """

    synopsis = "FILE"

    def parseArgs(self, path: str) -> None:  # type: ignore[override]
        self["path"] = path

    def postOptions(self) -> None:
        try:
            with open(self["path"], "rb") as f:
                data = f.read()
        except OSError as e:
            raise usage.UsageError(f"cannot read {self['path']!r}: {e.strerror or e}") from None
        try:
            self["fingerprint"] = fingerprintOf(data)
        except ValueError as e:
            raise usage.UsageError(f"{self['path']}: {e}") from None


def fingerprintOf(data: bytes) -> str:
    """
    The fingerprint of a credential file: a PEM certificate (its DER
    bytes), or a C{ppsp1.} credential (its text).

    @raise ValueError: neither.
    """
    if b"-----BEGIN CERTIFICATE-----" in data:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        try:
            certificate = x509.load_pem_x509_certificate(data)
        except ValueError:
            raise ValueError("holds a malformed certificate") from None
        return credentialFingerprint(certificate.public_bytes(Encoding.DER))
    text = data.strip()
    if text.startswith(b"ppsp1."):
        return credentialFingerprint(text)
    raise ValueError("holds neither a PEM certificate nor a ppsp1. credential")


class Options(CommandOptions):
    """
    The options of C{python -m ppsp.auth}.
    """

    synopsis = f"Usage: {PROGRAM} COMMAND [options]"
    longdesc = (
        "Make the secret of a closed tracker (--auth token:FILE), issue credentials "
        "with it, and print the fingerprints that revoke them."
    )
    subCommands: List[List[Any]] = [
        ["new-secret", None, _NewSecret, "Print a new random secret."],
        ["issue", None, _Issue, "Print a credential for one PeerID."],
        ["fingerprint", None, _Fingerprint, "Print the fingerprint of a credential or certificate file, to revoke it."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("give a command: new-secret, issue or fingerprint")


def main(
    argv: Optional[Sequence[str]] = None,
    out: TextIO = sys.stdout,
    now: Optional[float] = None,
    err: TextIO = sys.stderr,
) -> int:
    """
    Run the command line; return the exit status (64 for a usage error).
    """
    options = Options()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as e:
        shown = getattr(options, "subOptions", None)
        err.write(f"{options if shown is None else shown}\nError: {e}\n")
        return os.EX_USAGE
    sub: Any = options.subOptions
    if options.subCommand == "new-secret":
        secret = secrets.token_urlsafe(32) + "\n"
        if sub["out"] is None:
            out.write(secret)
            _warnIfShared(out, err)
            return 0
        try:
            writeSecretFile(sub["out"], secret)
        except OSError as e:
            err.write(f"cannot create {sub['out']!r}: {e.strerror or e}\n")
            return 1
        return 0
    if options.subCommand == "fingerprint":
        out.write(f"{sub['fingerprint']}\n")
        return 0
    expires = int((time.time() if now is None else now) + sub["ttl"])
    out.write(issueToken(sub["secret"], sub["peer-id"], expires) + "\n")
    return 0


def writeSecretFile(path: str, text: str) -> None:
    """
    Write C{text} to a new file that only its owner may read or write
    (mode 0600, created so: never readable by others, not even for a
    moment).

    @raise OSError: the file exists (C{FileExistsError}), or cannot be
        created or written.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(descriptor, "w", encoding="ascii") as f:
        f.write(text)


def _warnIfShared(out: TextIO, err: TextIO) -> None:
    """
    Warn when standard output, which got a secret, is a file that others
    may read (a redirection without C{umask 077}).
    """
    try:
        mode = os.fstat(out.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return  # not a file (a test's buffer)
    if stat.S_ISREG(mode) and mode & 0o077:
        err.write(
            "warning: the secret was written to a file that others may read; "
            "use --out FILE (mode 0600), or umask 077 before redirecting\n"
        )


if __name__ == "__main__":
    raise SystemExit(main())
