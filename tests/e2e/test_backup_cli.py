"""Backups from the CLI, as the tour shows them: a backup, its verification by a real
restore, a mistake, and a point-in-time restore (to a time and to a restore point) that
brings the rows back in a side copy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
from tests.waiting import moment_between

pytestmark = pytest.mark.slow
Run = Callable[..., subprocess.CompletedProcess[str]]
SPEC = (
    "platform: {name: vault}\napps:\n  ledger:\n    run: sleep 3600\n    database: {name: ledger}\n"
    "    bucket: {name: ledger-files}\n"
)


def test_backup_verify_mistake_and_point_in_time_restore(
    comind: Run, home: Path, tmp_path: Path
) -> None:
    (tmp_path / "comind.yaml").write_text(SPEC)
    comind(
        "up",
        "--repo",
        str(tmp_path),
        "--detach",
        "--api-port",
        "0",
        timeout=300,
        check=True,
        extra_env={"COMIND_WAL_ARCHIVE": "true"},
    )
    state = json.loads((home / "state.json").read_text())
    host, port = state["engines"]["postgres"]["address"].rsplit(":", 1)
    password = (home / "secrets" / "postgres-password").read_text().strip()

    def sql(statement: str, dsn: str | None = None, db: str = "ledger") -> list[tuple[object, ...]]:
        conninfo = dsn or f"host={host} port={port} user=postgres password={password} dbname={db}"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    sql("CREATE TABLE entries (n int PRIMARY KEY, note text)")
    sql("INSERT INTO entries SELECT i, 'entry ' || i FROM generate_series(1, 1000) i")
    backup = json.loads(comind("backup", "run", "--json", check=True).stdout)
    listed = json.loads(comind("backup", "ls", "--json", check=True).stdout)
    assert listed[0]["id"] == backup["id"] and listed[0]["status"] == "complete"
    report = json.loads(
        comind("backup", "verify", backup["id"], "--json", timeout=300, check=True).stdout
    )
    assert report["ok"] and report["tables_compared"] >= 1

    sql("INSERT INTO entries VALUES (1001, 'after the backup')")
    point = json.loads(
        comind("backup", "restore-point", "before-cleanup", "--json", check=True).stdout
    )
    good_moment = moment_between()
    sql("DELETE FROM entries WHERE n > 500")  # the mistake

    side = json.loads(
        comind(
            "restore",
            "--to-time",
            good_moment.isoformat(),
            "--side",
            "--app",
            "ledger",
            "--json",
            timeout=300,
            check=True,
        ).stdout
    )
    try:
        assert sql("SELECT count(*), max(n) FROM entries", side["dsn"]) == [(1001, 1001)]
    finally:
        os.kill(side["pid"], signal.SIGINT)
    assert point["lsn"]
    at_point = json.loads(
        comind(
            "restore",
            "--to-restore-point",
            "before-cleanup",
            "--side",
            "--app",
            "ledger",
            "--json",
            timeout=300,
            check=True,
        ).stdout
    )
    try:
        assert sql("SELECT count(*) FROM entries", at_point["dsn"]) == [(1001,)]
    finally:
        os.kill(at_point["pid"], signal.SIGINT)
    assert sql("SELECT count(*) FROM entries") == [(500,)]  # the live database is untouched

    # partial: one table as it was, into a new database beside the live one
    part = json.loads(
        comind(
            "restore",
            "--app",
            "ledger",
            "--table",
            "entries",
            "--to-time",
            good_moment.isoformat(),
            "--as",
            "ledger_fix",
            "--json",
            timeout=300,
            check=True,
        ).stdout
    )
    assert part["database"] == "ledger_fix"
    assert sql("SELECT count(*) FROM entries", db="ledger_fix") == [(1001,)]
    assert sql("SELECT count(*) FROM entries") == [(500,)]
    # a logical backup of the app, restored under a new name
    dump = json.loads(
        comind("backup", "run", "--type", "logical", "--app", "ledger", "--json", check=True).stdout
    )
    comind("restore", "--app", "ledger", "--backup", dump["id"], "--as", "ledger_dump", check=True)
    assert sql("SELECT count(*) FROM entries", db="ledger_dump") == [(500,)]
    taken = comind("restore", "--app", "ledger", "--backup", dump["id"], "--as", "ledger_dump")
    assert taken.returncode != 0 and "database ledger_dump exists already" in taken.stderr

    api = httpx.get(
        f"{state['api_url']}/api/v1/backups",
        headers={
            "Authorization": f"Bearer {(home / 'secrets' / 'api-viewer-token').read_text().strip()}"
        },
    )
    assert api.status_code == 200
    entry = next(b for b in api.json()["backups"] if b["id"] == backup["id"])
    assert entry["verify_status"] == "verified" and entry["sha256"]
    assert "wal_archive_lag_seconds" in api.json()
    # the app's bucket, backed up by content and restored as it was
    statements = home / "objects" / "ledger-files" / "statements"
    statements.mkdir(parents=True, exist_ok=True)
    (statements / "nov.csv").write_text("n,total\n1,5\n")
    objects = json.loads(comind("backup", "run", "--type", "objects", "--json", check=True).stdout)
    assert objects["uploaded"] == 1 and "ledger-files" in objects["buckets"]
    (statements / "nov.csv").write_text("overwritten")
    back = json.loads(
        comind(
            "restore", "--bucket", "ledger-files", "--as", "ledger-files-nov", "--json", check=True
        ).stdout
    )
    assert back["objects"] == 1
    restored = home / "objects" / "ledger-files-nov" / "statements" / "nov.csv"
    assert restored.read_text() == "n,total\n1,5\n"

    early = comind("restore", "--to-time", "2000-01-01T00:00:00+00:00", "--side")
    assert early.returncode != 0 and "is before the oldest backup; restorable from" in early.stderr
    unknown = comind("backup", "verify", "full-nope")
    assert unknown.returncode == 2 and "no backup full-nope" in unknown.stderr
