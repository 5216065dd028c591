"""Disaster recovery from the CLI: a platform with data in PostgreSQL, a bucket and Redis
keeps its backups and WAL archive under a prefix of an S3 bucket (COMIND_BACKUP_STORE; moto's
S3) and exports its keys; the state directory is destroyed; `comind dr restore --from
s3://BUCKET/PREFIX` on a new one and `comind up` bring the data and the app back, including
rows committed after the base backup (from the archived WAL). A directory copy of the same
store serves the refusals (wrong passphrase, a truncated artifact)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
import redis
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
Run = Callable[..., Any]
SPEC = (
    "platform: {name: vault}\napps:\n  ledger:\n    run: sleep 3600\n    database: {name: ledger}\n"
    "    bucket: {name: ledger-files}\n    cache: {}\n"
)
ARCHIVING = {"COMIND_WAL_ARCHIVE": "true", "COMIND_KEYS_PASSPHRASE": "correct horse battery"}


def _engines(home: Path) -> tuple[str, redis.Redis]:
    state = json.loads((home / "state.json").read_text())
    host, port = state["engines"]["postgres"]["address"].rsplit(":", 1)
    password = (home / "secrets" / "postgres-password").read_text().strip()
    rhost, rport = state["engines"]["redis"]["address"].rsplit(":", 1)
    cache = redis.Redis(rhost, int(rport), password=(home / "secrets" / "redis-password")
                        .read_text().strip(), decode_responses=True)  # fmt: skip
    return f"host={host} port={port} user=postgres password={password} dbname=ledger", cache


def _s3(moto_url: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_url, aws_access_key_id="testing",
                        aws_secret_access_key="testing", region_name="us-east-1")  # fmt: skip


def _sync_from_s3(client: Any, bucket: str, prefix: str, directory: Path) -> None:
    """``aws s3 sync s3://BUCKET/PREFIX DIR``."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            path = directory / item["Key"][len(prefix) + 1 :]
            path.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, item["Key"], str(path))


def test_a_destroyed_platform_is_rebuilt_from_its_backups(
    comind: Run, home: Path, tmp_path: Path, engine_root: Path, moto_url: str
) -> None:
    repo, offsite, keyfile = tmp_path / "repo", tmp_path / "offsite", tmp_path / "keys.json"
    repo.mkdir()
    (repo / "comind.yaml").write_text(SPEC)
    client = _s3(moto_url)
    client.create_bucket(Bucket="offsite-backups")
    s3 = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1", "COMIND_S3_ENDPOINT": moto_url}  # fmt: skip
    to_s3 = {**ARCHIVING, **s3, "COMIND_BACKUP_STORE": "s3://offsite-backups/vault/2026"}
    comind("up", "--repo", str(repo), "--detach", "--api-port", "0", timeout=300, check=True,
           extra_env=to_s3)  # fmt: skip
    dsn, cache = _engines(home)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE entries (n int PRIMARY KEY)")
        conn.execute("INSERT INTO entries SELECT generate_series(1, 1000)")
    (home / "objects" / "ledger-files" / "nov.csv").write_text("n,total\n1,5\n")
    cache.set("session:1", "alice")
    for kind in ("full", "objects", "redis"):  # the store's URL is kept: no COMIND_BACKUP_STORE
        comind("backup", "run", "--type", kind, "--json", check=True, extra_env={**ARCHIVING, **s3})
    with psycopg.connect(dsn, autocommit=True) as conn:  # after the base backup: WAL only
        conn.execute("INSERT INTO entries SELECT generate_series(1001, 1500)")
        wal = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]  # type: ignore[index]

    def archived() -> bool:
        listed = client.list_objects_v2(Bucket="offsite-backups", Prefix=f"vault/2026/wal/{wal}")
        return bool(listed.get("Contents"))

    assert wait_until(archived, timeout=60), f"{wal} not archived to S3"
    assert not (home / "objects" / "comind-backups" / "base").exists()  # nothing kept locally
    comind("keys", "export", "--out", str(keyfile), check=True, extra_env=ARCHIVING)
    _sync_from_s3(client, "offsite-backups", "vault/2026", offsite)  # a directory copy too
    comind("down", check=True)
    shutil.rmtree(home)  # the disaster

    new = engine_root / f"{home.name}-rebuilt"
    wrong = comind("--home", str(new), "dr", "restore", "--from", str(offsite), "--keys",
                   str(keyfile), extra_env={"COMIND_KEYS_PASSPHRASE": "not it at all"})  # fmt: skip
    assert wrong.returncode != 0 and "wrong passphrase" in wrong.stderr
    assert not new.exists()
    broken = tmp_path / "broken"  # a copy whose base backup is truncated
    shutil.copytree(offsite, broken)
    artifact = next((broken / "base").glob("*/base.tar.cmb"))
    artifact.write_bytes(artifact.read_bytes()[:-100])
    failed = comind("--home", str(new), "dr", "restore", "--from", str(broken), "--keys",
                    str(keyfile), timeout=300, extra_env=ARCHIVING)  # fmt: skip
    assert failed.returncode != 0 and "corrupt or truncated" in failed.stderr
    assert not new.exists()  # nothing half-built (secrets, store copy): the retry starts clean
    nowhere = comind("--home", str(new), "dr", "restore", "--from", "s3://offsite-backups/other",
                     "--keys", str(keyfile), extra_env={**ARCHIVING, **s3})  # fmt: skip
    assert nowhere.returncode != 0 and "holds no Comind backups" in nowhere.stderr
    assert not new.exists()
    on_s3 = {**ARCHIVING, **s3, "COMIND_OBJECT_STORE": "s3:vault-rebuilt-"}  # every bucket on S3
    restored = comind("--home", str(new), "dr", "restore", "--from",
                      "s3://offsite-backups/vault/2026", "--keys", str(keyfile), "--json",
                      timeout=300, check=True, extra_env=on_s3)  # fmt: skip
    done = json.loads(restored.stdout)
    assert done["wal_files"] >= 1 and done["redis_keys"] >= 1 and "ledger-files" in done["buckets"]
    try:
        comind("--home", str(new), "up", "--repo", str(repo), "--detach", "--api-port", "0",
               timeout=300, check=True, extra_env=on_s3)  # fmt: skip
        dsn, cache = _engines(new)
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*), max(n) FROM entries").fetchone() == (1500, 1500)
        kept = client.get_object(Bucket="vault-rebuilt-ledger-files", Key="nov.csv")["Body"].read()
        assert kept == b"n,total\n1,5\n" and not (new / "objects" / "ledger-files").exists()
        listed = json.loads(comind("--home", str(new), "backup", "ls", "--json",
                                   check=True).stdout)  # fmt: skip
        assert listed and all(b["status"] != "missing-files" for b in listed)  # copied to S3
        assert cache.get("session:1") == "alice"

        def ledger_running() -> bool:
            apps = json.loads(comind("--home", str(new), "app", "ls", "--json").stdout or "[]")
            return any(a["app"] == "ledger" and a["health"] == "Healthy" for a in apps)

        assert wait_until(ledger_running, timeout=120, interval=0.5), "the ledger app is not back"
    finally:
        comind("--home", str(new), "down")
