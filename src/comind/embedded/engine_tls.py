"""TLS for the embedded PostgreSQL when the platform serves beyond loopback.

The platform's engine CA (``tls/engines-ca.pem``, its key ``tls/engines-ca.key`` mode 0600,
made once, ten years) signs a server certificate for the engines' names (their address,
``127.0.0.1``, ``localhost``) at every start. PostgreSQL then accepts only TLS
(``hostssl``; ``hostnossl ... reject``), and every client verifies the server against the
CA (``sslmode=verify-full``): the platform's own pools, its tools (``pg_basebackup``,
``pg_dump``), the flow workers and the apps (``DATABASE_URL`` with ``sslmode=verify-full``
and ``PGSSLROOTCERT``). The CA is only ever used to verify these engines.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from comind.embedded.secret_files import write_bytes

CA_VALIDITY, LEAF_VALIDITY = timedelta(days=3650), timedelta(days=397)
HBA = """\
# written by Comind-Ops: TLS only (scram-sha-256), no unencrypted TCP, no socket
hostssl   all          all  all  scram-sha-256
hostssl   replication  all  all  scram-sha-256
hostnossl all          all  all  reject
hostnossl replication  all  all  reject
"""


@dataclass(frozen=True)
class ServerFiles:
    ca: Path  # the CA certificate (public): what clients verify against
    cert: Path
    key: Path


def client_env(ca: Path) -> dict[str, str]:
    """What makes a libpq client (psycopg, pg_basebackup, psql) verify the engine."""
    return {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": str(ca)}


def issue(tls_dir: Path, names: list[str], into: Path) -> ServerFiles:
    """A server certificate for ``names`` in ``into`` (``server.crt``, ``server.key`` 0600,
    ``root.crt`` the CA), signed by the engine CA of ``tls_dir`` (made on first use)."""
    ca_cert, ca_key = _authority(tls_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        _builder(f"Comind-Ops engine {names[0]}", ca_cert.subject, key, now, LEAF_VALIDITY)
        .add_extension(x509.SubjectAlternativeName([_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    files = ServerFiles(into / "root.crt", into / "server.crt", into / "server.key")
    write_bytes(files.key, _pem_key(key))
    write_bytes(files.cert, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    write_bytes(files.ca, ca_cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return files


def _authority(tls_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = tls_dir / "engines-ca.pem", tls_dir / "engines-ca.key"
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey) and cert.not_valid_after_utc > (
            datetime.now(UTC) + LEAF_VALIDITY
        ):
            return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Comind-Ops engine CA")])
    cert = (
        _builder("Comind-Ops engine CA", subject, key, datetime.now(UTC), CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_bytes(key_path, _pem_key(key))
    write_bytes(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _builder(cn: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, now: datetime,
             validity: timedelta) -> x509.CertificateBuilder:  # fmt: skip
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + validity)
    )


def _name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def hosts(host: str) -> list[str]:
    """The names a client may use for an engine bound to ``host``."""
    return list(dict.fromkeys([host, "127.0.0.1", "localhost"]))
