"""TLS for the API and the S3 endpoint when they listen beyond this machine.

On a loopback address they speak plain HTTP: only local processes reach them. On any other
address they must speak HTTPS, since tokens, session cookies and signed requests cross the
network: with the certificate and key the operator gives, else with a self-signed
certificate the platform makes once in the state directory (``tls/cert.pem``, ``tls/key.pem``
mode 0600) and reuses, renewing it when it nears expiry, does not name an address served,
or does not match its key (both files are written under temporary names and renamed, so a
crash leaves at worst a mismatch, renewed at the next start). Clients on this machine (the
CLI, the apps' AWS SDKs) trust that certificate by its file.

Users are told to trust the self-signed certificate, so it is its own issuer and trust
anchor. Chromium refuses a trust anchor that is not a CA (ERR_CERT_INVALID), so it is a CA,
but a critical NameConstraints limits it to the names it carries itself: were its key
stolen, no certificate it signed for any other name would be accepted.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from comind.errors import UsageError

WILDCARDS = ("0.0.0.0", "::", "")
VALIDITY = timedelta(days=397)  # the longest lifetime browsers accept for a server cert
RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    generated: bool = False  # self-signed by the platform: clients trust this very file


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (a name other than localhost counts as
    reachable from outside: it is not resolved, so a misconfigured name cannot open a hole)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serving_tls(
    *hosts: str, cert: Path | None, key: Path | None, directory: Path
) -> TlsFiles | None:
    """The certificate the platform serves ``hosts`` with, or None for plain HTTP when they
    are all loopback.

    Given files always win; otherwise an address beyond loopback gets the self-signed one
    kept in ``directory``, naming every address of ``hosts``."""
    if (cert is None) != (key is None):
        raise UsageError("--tls-cert and --tls-key go together: give both or neither")
    if cert is not None and key is not None:
        for path in (cert, key):
            if not path.is_file():
                raise UsageError(f"no such file: {path}")
        return TlsFiles(cert.absolute(), key.absolute())
    return None if all(map(is_loopback, hosts)) else self_signed(directory, *hosts)


def self_signed(directory: Path, *hosts: str, now: datetime | None = None) -> TlsFiles:
    """The platform's own certificate for ``hosts``, made on first use and then reused."""
    files = TlsFiles(directory / "cert.pem", directory / "key.pem", generated=True)
    now = now or datetime.now(UTC)
    names = _names(hosts)
    if not _reusable(files, names, now):
        _write(files, names, now)
    return files


def client_context(cert: Path) -> ssl.SSLContext:
    """What a local client verifies the platform's self-signed certificate with."""
    return ssl.create_default_context(cafile=str(cert))


def _names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.DNSName(socket.gethostname()),
    ]
    for host in hosts:
        if host in WILDCARDS:
            continue
        try:
            extra: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            extra = x509.DNSName(host)
        names += [] if extra in names else [extra]
    return names


def _reusable(files: TlsFiles, names: list[x509.GeneralName], now: datetime) -> bool:
    """Whether the kept certificate is still current, names ``names``, is limited to its
    names (made by this version) and matches the kept key."""
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        cert.extensions.get_extension_for_class(x509.NameConstraints)
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm, x509.ExtensionNotFound):
        return False
    fresh = cert.not_valid_after_utc - RENEW_BEFORE > now
    return fresh and all(name in san for name in names) and _public(key) == _public(cert)


def _public(holder: PrivateKeyTypes | x509.Certificate) -> bytes:
    return holder.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _write(files: TlsFiles, names: list[x509.GeneralName], now: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Comind-Ops platform")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # a client clock slightly behind
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_only(names), critical=True)
        .add_extension(_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    files.cert.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    _replace(files.key, pem)
    _replace(files.cert, cert.public_bytes(serialization.Encoding.PEM))


def _replace(path: Path, data: bytes) -> None:
    """``path`` holding ``data`` (mode 0600), or as it was: written aside, then renamed."""
    aside = path.with_name(f".{path.name}.new")
    aside.unlink(missing_ok=True)  # a leftover of a crash, perhaps with other permissions
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    aside.replace(path)


def _only(names: list[x509.GeneralName]) -> x509.NameConstraints:
    """Whatever this certificate signs may name only what it names itself."""
    subtrees = [
        x509.IPAddress(ipaddress.ip_network(name.value)) if isinstance(name, x509.IPAddress)
        else name
        for name in names
    ]  # fmt: skip
    return x509.NameConstraints(permitted_subtrees=subtrees, excluded_subtrees=None)


def _usage() -> x509.KeyUsage:
    """Its own trust anchor (it signs itself) and a server key (ECDHE signatures): what
    strict verifiers, such as Python 3.13's default context, require of such a certificate."""
    return x509.KeyUsage(digital_signature=True, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=True, crl_sign=False, encipher_only=False,
                         decipher_only=False)  # fmt: skip
