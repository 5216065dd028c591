"""TLS beyond loopback: the refusal and upgrade rules, and the platform's own certificate,
made once, reused, renewed when it expires or does not name the address served."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from comind.api.server import base_url
from comind.api.tls import TlsFiles, is_loopback, self_signed, serving_tls
from comind.cli.runtime import Runtime
from comind.embedded.settings import Settings
from comind.errors import ComindError, UsageError


def names(files: TlsFiles) -> list[x509.GeneralName]:
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("dash.example.com", False)],
)  # fmt: skip
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_loopback_stays_plain_http_and_anything_else_gets_a_certificate(tmp_path: Path) -> None:
    assert serving_tls("127.0.0.1", cert=None, key=None, directory=tmp_path) is None
    files = serving_tls("0.0.0.0", cert=None, key=None, directory=tmp_path / "tls")
    assert files is not None and files.generated
    assert base_url("0.0.0.0", 8470, files) == "https://127.0.0.1:8470"
    assert base_url("127.0.0.1", 8470) == "http://127.0.0.1:8470"
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert x509.IPAddress(ipaddress.ip_address("127.0.0.1")) in names(files)


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


def test_the_platform_refuses_to_serve_beyond_loopback_without_tls(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", api_port=0)
    with pytest.raises(ComindError, match="needs TLS"):
        Runtime(settings, about={}, api_host="0.0.0.0")
    assert not (tmp_path / "home").exists()  # refused before anything was made
