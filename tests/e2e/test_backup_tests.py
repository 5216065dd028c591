"""Issue 21's acceptance from outside: after `comind backup run` of every kind, `comind
backup ls --json` shows a passing restore test for each, run by the platform on its own;
one byte changed in a stored backup makes its next test fail and fires the alert; a backup
whose file is gone is never listed complete."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg
import pytest
from tests.hidden import bearer
from tests.waiting import wait_until

from comind.embedded.postgres import wheel_bin_dir

pytestmark = pytest.mark.slow
Run = Callable[..., subprocess.CompletedProcess[str]]
SPEC = """\
platform: {name: guarded}
apps:
  ledger:
    run: sleep 3600
    database: {name: ledger}
    bucket: {name: ledger-files}
"""
KINDS = (("full",), ("incremental",), ("differential",), ("logical", "--app", "ledger"),
         ("objects",), ("redis",))  # fmt: skip


def listed(comind: Run) -> list[dict[str, Any]]:
    return list(json.loads(comind("backup", "ls", "--json", check=True).stdout))


def firing(api: str, token: str, alert: str) -> list[dict[str, Any]]:
    rules = httpx.get(f"{api}/api/v1/alerts", headers=bearer(token)).json()["rules"]
    rule = next(r for r in rules if r["alert"] == alert)
    return [a["labels"] for a in rule["alerts"] if a["state"] == "firing"]


def test_every_kind_is_restore_tested_and_a_rotten_byte_fires_the_alert(
    comind: Run, home: Path, tmp_path: Path
) -> None:
    (tmp_path / "comind.yaml").write_text(SPEC)
    # the wheel's PostgreSQL 18: incremental and differential backups need 17+
    settings = {"COMIND_SAMPLE_INTERVAL": "0.5", "COMIND_PG_BIN": str(wheel_bin_dir())}
    comind("up", "--repo", str(tmp_path), "--detach", "--api-port", "0", timeout=300,
           check=True, extra_env=settings)  # fmt: skip
    state = json.loads((home / "state.json").read_text())
    host, port = state["engines"]["postgres"]["address"].rsplit(":", 1)
    password = (home / "secrets" / "postgres-password").read_text().strip()
    with psycopg.connect(host=host, port=port, user="postgres", password=password,
                         dbname="ledger", autocommit=True) as conn:  # fmt: skip
        conn.execute("CREATE TABLE entries AS SELECT i AS n FROM generate_series(1, 5000) i")
    env = json.loads(comind("app", "env", "ledger", "--json", check=True).stdout)["env"]
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"], region_name=env["AWS_REGION"],
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])  # fmt: skip
    for i in range(5):
        s3.put_object(Bucket="ledger-files", Key=f"invoice-{i}.txt", Body=b"invoice %d" % i)

    taken = [json.loads(comind("backup", "run", "--kind", *kind, "--json", timeout=300,
                               check=True).stdout)["id"] for kind in KINDS]  # fmt: skip
    tested = lambda: {b["id"]: b for b in listed(comind) if b["verify_status"]}  # noqa: E731
    assert wait_until(lambda: set(taken) <= set(tested()), 240), listed(comind)
    done = tested()
    assert all(done[i]["verify_status"] == "verified" for i in taken), done
    assert all(done[i]["verify_seconds"] > 0 and done[i]["restore_seconds"] for i in taken)
    assert {done[i]["kind"] for i in taken} == {"full", "incr", "diff", "logical", "objects",
                                                "redis"}  # fmt: skip

    logical = taken[3]
    (dump,) = (home / "objects" / "comind-backups" / "logical" / logical).glob("*.dump.cmb")
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))
    again = comind("backup", "verify", logical)
    assert again.returncode == 1 and "FAILED" in again.stdout and "corrupt" in again.stdout
    viewer = (home / "secrets" / "api-viewer-token").read_text().strip()
    alert = lambda: firing(state["api_url"], viewer, "ComindBackupRestoreTestFailed")  # noqa: E731
    assert wait_until(lambda: [a.get("kind") for a in alert()] == ["logical"], 30), alert()

    redis = taken[5]
    next((home / "objects" / "comind-backups" / "redis" / redis).iterdir()).unlink()
    gone = next(b for b in listed(comind) if b["id"] == redis)
    assert gone["status"] == "missing-files" and gone["missing_files"] == [
        f"redis/{redis}/dump.rdb.cmb"]  # fmt: skip
