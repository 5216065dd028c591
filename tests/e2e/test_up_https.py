"""`comind up --host` beyond loopback: HTTPS with the platform's own certificate, made once
and reused, trusted by the CLI; a certificate without its key is refused before anything
starts."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from comind.api.tls import client_context

pytestmark = pytest.mark.slow
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "comind.yaml").write_text("platform: {name: edge}\n")
    return tmp_path


def test_beyond_loopback_the_api_speaks_https_the_cli_trusts(
    comind: Run, home: Path, repo: Path
) -> None:
    up = ("up", "--detach", "--api-port", "0", "--host", "0.0.0.0", "--repo", str(repo))
    started = comind(*up, check=True)
    assert "HTTPS" in started.stdout and "self-signed" in started.stdout
    status = json.loads(comind("status", "--json", check=True).stdout)  # the CLI over HTTPS
    url, cert = status["api_url"], Path(status["tls_cert"])
    assert url.startswith("https://127.0.0.1:") and status["api_listen"].startswith("0.0.0.0:")
    assert cert == home / "tls" / "cert.pem"
    assert stat.S_IMODE((home / "tls" / "key.pem").stat().st_mode) == 0o600
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{url}/readyz")  # an unknown certificate is not trusted by default
    assert httpx.get(f"{url}/readyz", verify=client_context(cert)).text == "ready"
    assert comind("flow", "ls", "--json", check=True).stdout.strip() == "[]"
    made = cert.read_bytes()
    comind("down", check=True)
    comind(*up, check=True)
    assert cert.read_bytes() == made  # made once, reused


def test_a_certificate_without_its_key_is_refused(comind: Run, home: Path, repo: Path) -> None:
    cert = repo / "cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    refused = comind("up", "--detach", "--host", "0.0.0.0", "--tls-cert", str(cert),
                     "--repo", str(repo))  # fmt: skip
    assert refused.returncode == 2
    assert "--tls-cert and --tls-key go together" in refused.stderr
    assert not (home / "state.json").exists()
