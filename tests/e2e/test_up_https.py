"""`comind up --host` beyond loopback: HTTPS with the platform's own certificate, made once
and reused, trusted by the CLI; with COMIND_HOST beyond loopback the S3 endpoint speaks
HTTPS too, and `--public-url` is the address clients are given; a certificate without its
key, or a public URL clients could not use, is refused before anything starts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import boto3
import httpx
import pytest
import redis
from tests.waiting import wait_until

from comind.api.tls import client_context
from comind.embedded.ports import free_port
from comind.embedded.postgres import find_bin_dir
from comind.embedded.probes import tls_options

pytestmark = pytest.mark.slow
Run = Callable[..., subprocess.CompletedProcess[str]]
CACHE_APP = (  # an app writes through its REDIS_URL, as its own OS user, over TLS
    "platform: {name: edge}\napps:\n  notes:\n    run: python notes.py\n    cache: {ttl: 60s}\n"
)
NOTES = """\
import os, time, redis
with redis.Redis.from_url(os.environ["REDIS_URL"]) as r:
    r.set(os.environ["REDIS_KEY_PREFIX"] + "scheme", os.environ["REDIS_URL"].split(":")[0])
time.sleep(3600)
"""
FILES_APP = (
    "platform: {name: edge}\n"
    "apps:\n  vault:\n    run: sleep 3600\n    bucket: {name: vault-files}\n"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "comind.yaml").write_text("platform: {name: edge}\n")
    return tmp_path


def test_beyond_loopback_the_api_speaks_https_the_cli_trusts(
    comind: Run, home: Path, repo: Path, tmp_path: Path
) -> None:
    (repo / "comind.yaml").write_text(CACHE_APP)
    (repo / "notes.py").write_text(NOTES)
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
    postgres_takes_tls_only(home)
    redis_takes_tls_only(home)
    viewer = (home / "secrets" / "api-viewer-token").read_text().strip()
    elsewhere = {"COMIND_HOME": str(tmp_path / "elsewhere"), "COMIND_SERVER": url,
                 "COMIND_TOKEN": viewer}  # fmt: skip
    untrusted = comind("flow", "ls", extra_env=elsewhere)  # verified as any HTTPS site
    assert untrusted.returncode == 1 and "cannot verify the certificate of" in untrusted.stderr
    trusted = comind("--ca-cert", str(cert), "flow", "ls", "--json", extra_env=elsewhere)
    assert (trusted.returncode, trusted.stdout.strip()) == (0, "[]"), trusted.stderr
    made = cert.read_bytes()
    comind("down", check=True)
    comind(*up, check=True)
    assert cert.read_bytes() == made  # made once, reused


def postgres_takes_tls_only(home: Path) -> None:
    """Beyond loopback the embedded PostgreSQL speaks TLS with a certificate of the engine CA
    and refuses plain TCP (issue 17's acceptance, with psql)."""
    port = json.loads((home / "state.json").read_text())["engines"]["postgres"]["address"]
    psql = str(find_bin_dir(None) / "psql")
    env = {**os.environ, "PGPASSWORD": (home / "secrets" / "postgres-password").read_text().strip()}
    env = {k: v for k, v in env.items() if not k.startswith("PGSSL")}
    dsn = f"host=127.0.0.1 port={port.rsplit(':', 1)[1]} user=postgres dbname=postgres"
    ask = ["-Atc", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"]
    ca = home / "postgres" / "root.crt"

    def run(mode: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([psql, f"{dsn} {mode}", *ask], env=env, capture_output=True,
                              text=True, timeout=30, check=False)  # fmt: skip

    assert run("sslmode=require").stdout.strip() == "t"
    assert run(f"sslmode=verify-full sslrootcert={ca}").stdout.strip() == "t"
    plain = run("sslmode=disable")
    assert plain.returncode != 0 and "no encryption" in plain.stderr


def redis_takes_tls_only(home: Path) -> None:
    """Beyond loopback the embedded Redis speaks TLS only, with a certificate of the engine
    CA; the app's REDIS_URL (``rediss://``, its own copy of the CA) logs in over it."""
    engine = json.loads((home / "state.json").read_text())["engines"]["redis"]
    port = engine["address"].rsplit(":", 1)[1]
    password = (home / "secrets" / "redis-password").read_text().strip()
    assert engine["tls_ca"] == str(home / "redis" / "root.crt")
    with redis.Redis(host="127.0.0.1", port=int(port), password=password, **tls_options(
            Path(engine["tls_ca"]))) as tls:  # fmt: skip
        assert wait_until(lambda: tls.get("notes:scheme") == b"rediss", timeout=60)
        assert tls.config_get("port") == {"port": "0"}  # no plain port at all
    with (
        pytest.raises(redis.ConnectionError),
        redis.Redis(host="127.0.0.1", port=int(port), password=password, socket_timeout=5) as plain,
    ):
        plain.ping()


def test_a_certificate_without_its_key_is_refused(comind: Run, home: Path, repo: Path) -> None:
    cert = repo / "cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    refused = comind("up", "--detach", "--host", "0.0.0.0", "--tls-cert", str(cert),
                     "--repo", str(repo))  # fmt: skip
    assert refused.returncode == 2
    assert "--tls-cert and --tls-key go together" in refused.stderr
    assert not (home / "state.json").exists()


def test_s3_beyond_loopback_speaks_https_at_the_public_url(
    comind: Run, home: Path, tmp_path: Path
) -> None:
    (tmp_path / "comind.yaml").write_text(FILES_APP)
    port = free_port("127.0.0.1")
    public = f"https://localhost:{port}"  # a name the certificate carries, unlike 0.0.0.0
    comind("up", "--detach", "--api-port", str(port), "--public-url", public, "--repo",
           str(tmp_path), check=True, extra_env={"COMIND_HOST": "0.0.0.0"})  # fmt: skip
    status = json.loads(comind("status", "--json", check=True).stdout)  # the CLI, at `public`
    assert status["api_url"] == public and status["s3_url"].startswith("https://localhost:")
    env = json.loads(comind("app", "env", "vault", "--json", check=True).stdout)["env"]
    assert env["AWS_ENDPOINT_URL_S3"] == status["s3_url"]
    assert env["AWS_ENDPOINT_URL_SQS"] == public
    assert env["AWS_CA_BUNDLE"] == status["tls_cert"] == str(home / "tls" / "cert.pem")
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"], verify=env["AWS_CA_BUNDLE"],
                      region_name=env["AWS_REGION"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])  # fmt: skip
    s3.put_object(Bucket="vault-files", Key="a.txt", Body=b"over TLS")
    assert s3.get_object(Bucket="vault-files", Key="a.txt")["Body"].read() == b"over TLS"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(status["s3_url"])  # trusted through the platform's file only


def test_a_public_url_in_another_scheme_is_refused(comind: Run, home: Path, repo: Path) -> None:
    refused = comind("up", "--detach", "--host", "0.0.0.0", "--public-url",
                     "http://dash.example.com", "--repo", str(repo))  # fmt: skip
    assert refused.returncode == 2
    assert "--public-url http://dash.example.com: expected https://HOST[:PORT]" in refused.stderr
    assert not (home / "state.json").exists()
