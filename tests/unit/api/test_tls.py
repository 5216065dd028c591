"""TLS beyond loopback: the refusal and upgrade rules, and the platform's own certificate,
made once, reused, renewed when it expires, does not name an address served or does not
match its key; a trust anchor for its own names only, checked by real TLS handshakes."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from comind.api.server import base_url, public_base
from comind.api.tls import TlsFiles, client_context, is_loopback, self_signed, serving_tls
from comind.embedded.settings import Settings
from comind.errors import ComindError, UsageError
from comind.platform import Platform


def names(files: TlsFiles) -> list[x509.GeneralName]:
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def handshake(cert: Path, key: Path, trust: Path, name: str) -> None:
    """A TLS handshake to a server presenting ``cert``, by a client that trusts ``trust``
    only and checks ``name`` strictly (Python 3.13's default); raises when it refuses."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = client_context(trust)
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    near, far = socket.socketpair()
    near.settimeout(10)
    far.settimeout(10)

    def serve() -> None:
        with server.wrap_socket(far, server_side=True):
            pass

    with near, far, ThreadPoolExecutor(1) as pool:
        served = pool.submit(serve)
        try:
            with client.wrap_socket(near, server_hostname=name):
                pass
        finally:
            near.close()  # the server's side fails with the client's refusal: not its error
            served.exception()


def signed_by(files: TlsFiles, name: str, tmp_path: Path) -> tuple[Path, Path]:
    """A server certificate for ``name`` signed with the platform certificate's key, as a
    thief of that key would make one (chain file, key file)."""
    issuer = x509.load_pem_x509_certificate(files.cert.read_bytes())
    issuer_key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    assert isinstance(issuer_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )
    chain, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + files.cert.read_bytes())
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return chain, key_file


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("dash.example.com", False)],
)  # fmt: skip
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_loopback_stays_plain_http_and_anything_else_gets_a_certificate(tmp_path: Path) -> None:
    assert serving_tls("127.0.0.1", "::1", cert=None, key=None, directory=tmp_path) is None
    files = serving_tls("0.0.0.0", cert=None, key=None, directory=tmp_path / "tls")
    assert files is not None and files.generated
    assert base_url("0.0.0.0", 8470, files) == "https://127.0.0.1:8470"
    assert base_url("127.0.0.1", 8470) == "http://127.0.0.1:8470"
    assert base_url("::1", 8470) == "http://[::1]:8470"
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert x509.IPAddress(ipaddress.ip_address("127.0.0.1")) in names(files)
    assert sorted(p.name for p in files.cert.parent.iterdir()) == ["cert.pem", "key.pem"]


def test_one_address_beyond_loopback_is_enough_and_every_one_is_named(tmp_path: Path) -> None:
    files = serving_tls("127.0.0.1", "10.1.2.3", cert=None, key=None, directory=tmp_path)
    assert files is not None  # the API on loopback, the S3 endpoint on 10.1.2.3
    assert x509.IPAddress(ipaddress.ip_address("10.1.2.3")) in names(files)


def test_given_files_win_even_on_loopback_and_go_together(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("c")
    key.write_text("k")
    assert serving_tls("127.0.0.1", cert=cert, key=key, directory=tmp_path) == TlsFiles(cert, key)
    with pytest.raises(UsageError, match="go together"):
        serving_tls("0.0.0.0", cert=cert, key=None, directory=tmp_path)
    with pytest.raises(UsageError, match="no such file"):
        serving_tls("0.0.0.0", cert=cert, key=tmp_path / "missing.pem", directory=tmp_path)


def test_the_certificate_is_made_once_and_reused(tmp_path: Path) -> None:
    first = self_signed(tmp_path, "0.0.0.0")
    made = first.cert.read_bytes(), first.key.read_bytes()
    again = self_signed(tmp_path, "0.0.0.0")
    assert (again.cert.read_bytes(), again.key.read_bytes()) == made


def test_a_new_address_or_a_near_expiry_renews_it(tmp_path: Path) -> None:
    first = self_signed(tmp_path, "0.0.0.0").cert.read_bytes()
    moved = self_signed(tmp_path, "10.1.2.3")
    assert moved.cert.read_bytes() != first
    assert x509.IPAddress(ipaddress.ip_address("10.1.2.3")) in names(moved)
    current = moved.cert.read_bytes()
    later = datetime.now(UTC) + timedelta(days=380)  # within the renewal window
    assert self_signed(tmp_path, "10.1.2.3", now=later).cert.read_bytes() != current


def test_a_key_that_does_not_match_renews_the_certificate(tmp_path: Path) -> None:
    first = self_signed(tmp_path / "a", "0.0.0.0")
    made = first.cert.read_bytes()
    self_signed(tmp_path / "b", "0.0.0.0").key.replace(first.key)  # as a crash between the two
    mended = self_signed(tmp_path / "a", "0.0.0.0")
    assert mended.cert.read_bytes() != made
    handshake(mended.cert, mended.key, mended.cert, "localhost")  # they belong together again
    assert stat.S_IMODE(mended.key.stat().st_mode) == 0o600


def test_a_certificate_without_name_constraints_is_renewed(tmp_path: Path) -> None:
    files = self_signed(tmp_path, "0.0.0.0")
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    builder = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(cert.not_valid_before_utc)
               .not_valid_after(cert.not_valid_after_utc))  # fmt: skip
    for ext in cert.extensions:
        if not isinstance(ext.value, x509.NameConstraints):
            builder = builder.add_extension(ext.value, ext.critical)
    old = builder.sign(key, hashes.SHA256())  # as an earlier version made it
    files.cert.write_bytes(old.public_bytes(serialization.Encoding.PEM))
    renewed = x509.load_pem_x509_certificate(self_signed(tmp_path, "0.0.0.0").cert.read_bytes())
    assert renewed.extensions.get_extension_for_class(x509.NameConstraints).critical


def test_the_certificate_is_a_trust_anchor_for_its_own_names_only(tmp_path: Path) -> None:
    files = self_signed(tmp_path / "tls", "10.1.2.3")
    handshake(files.cert, files.key, files.cert, "localhost")
    handshake(files.cert, files.key, files.cert, "10.1.2.3")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        handshake(files.cert, files.key, files.cert, "example.com")
    # a certificate its key signs for another name is refused: a stolen key opens nothing
    with pytest.raises(ssl.SSLCertVerificationError, match="permitted subtree violation"):
        handshake(*signed_by(files, "bank.example.com", tmp_path), files.cert, "bank.example.com")
    handshake(*signed_by(files, "app.localhost", tmp_path), files.cert, "app.localhost")


def test_the_platform_refuses_to_serve_beyond_loopback_without_tls(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", api_port=0)
    with pytest.raises(ComindError, match=r"serving the API on 0\.0\.0\.0 needs TLS"):
        Platform(settings, about={}, api_host="0.0.0.0")
    wide = settings.model_copy(update={"host": "0.0.0.0"})
    with pytest.raises(ComindError, match=r"serving the S3 endpoint on 0\.0\.0\.0 needs TLS"):
        Platform(wide, about={}, api_host="127.0.0.1")
    assert not (tmp_path / "home").exists()  # refused before anything was made


def test_beyond_loopback_the_s3_endpoint_is_https_at_the_public_host(tmp_path: Path) -> None:
    tls = self_signed(tmp_path / "tls", "0.0.0.0")
    local = Settings(home=tmp_path / "home", api_port=8470, s3_port=8471)
    wide = local.model_copy(update={"host": "0.0.0.0"})
    assert Platform(local, about={}, tls=tls).s3_url == "http://127.0.0.1:8471"
    assert Platform(wide, about={}, tls=tls).s3_url == "https://127.0.0.1:8471"
    public = Platform(wide, about={}, tls=tls, public_url="https://dash.example.com:8443")
    assert (public.url, public.s3_url) == ("https://dash.example.com:8443",
                                           "https://dash.example.com:8471")  # fmt: skip


@pytest.mark.parametrize(
    ("url", "tls", "base"),
    [("https://dash.example.com:8443/", True, "https://dash.example.com:8443"),
     ("https://dash.example.com", True, "https://dash.example.com"),
     ("http://10.0.0.5:8470", False, "http://10.0.0.5:8470")],
)  # fmt: skip
def test_a_public_url_names_the_scheme_served_and_a_host(
    url: str, tls: bool, base: str, tmp_path: Path
) -> None:
    files = TlsFiles(tmp_path / "c.pem", tmp_path / "k.pem") if tls else None
    assert public_base(url, files) == base


@pytest.mark.parametrize(
    "url",
    ["http://dash.example.com", "dash.example.com", "https://", "https://h/api", "https://h/?x"],
)
def test_a_public_url_that_clients_could_not_use_is_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--public-url"):
        public_base(url, TlsFiles(tmp_path / "c.pem", tmp_path / "k.pem"))
