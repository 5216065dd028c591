"""Point-in-time recovery: while a writer commits numbered rows, restoring to random
moments gives exactly the rows committed before each moment; targets outside the range
are refused with it."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.dba import dba

from comind.backup.base import BackupError, physical_backup
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.pitr import restore_to_lsn, restore_to_time
from comind.platform import Platform
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import connect

pytestmark = pytest.mark.slow


def writer(cluster: Cluster, stop: threading.Event, marks: list[tuple[int, float, float]]) -> None:
    """Commit row n, one per transaction; remember when each commit started and ended."""
    with dba(cluster.target.with_db("ledger")) as conn:
        n = 0
        while not stop.is_set():
            n += 1
            began = time.time()
            conn.execute("INSERT INTO entries VALUES (%s)", (n,))
            marks.append((n, began, time.time()))
            time.sleep(0.03)


def test_restores_to_random_moments_hold_exactly_the_rows_committed_before(
    backup_runtime: Platform, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing, scratch: Path,
) -> None:  # fmt: skip
    with connect(cluster.target) as conn:
        conn.execute("CREATE DATABASE ledger")
    with dba(cluster.target.with_db("ledger")) as conn:
        conn.execute("CREATE TABLE entries (n int PRIMARY KEY)")
    stop, marks = threading.Event(), []
    thread = threading.Thread(target=writer, args=(cluster, stop, marks))
    thread.start()
    try:
        time.sleep(1.0)
        manifest = physical_backup(cluster, store, catalog, keys)
        time.sleep(3.0)
    finally:
        stop.set()
        thread.join()
    rng = random.Random(5)
    after_backup = [m for m in marks[:-1] if m[2] > manifest.stop_time.timestamp()]
    for i in range(3):
        n, _, committed = rng.choice(after_backup)
        following = next(m for m in marks if m[0] == n + 1)
        target = datetime.fromtimestamp((committed + following[1]) / 2, UTC)  # between n and n+1
        side = restore_to_time(cluster, store, keys, [manifest], target, scratch / f"pitr{i}")
        try:
            with dba(side.target.with_db("ledger")) as conn:
                got = conn.execute("SELECT count(*), coalesce(max(n), 0) FROM entries").fetchone()
        finally:
            side.stop(remove=True)
        assert got == (n, n), f"target between commits {n} and {n + 1}: got {got}"


def test_targets_outside_the_range_are_refused(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing, scratch: Path,
) -> None:  # fmt: skip
    manifest = physical_backup(cluster, store, catalog, keys)
    before = manifest.start_time - timedelta(days=1)
    with pytest.raises(BackupError, match="is before the oldest backup; restorable from"):
        restore_to_time(cluster, store, keys, [manifest], before, scratch / "early")
    with pytest.raises(BackupError, match="is in the future"):
        restore_to_time(cluster, store, keys, [manifest], datetime.now(UTC) + timedelta(hours=1),
                        scratch / "late")  # fmt: skip
    assert not (scratch / "early").exists()


def test_a_restore_to_an_lsn_holds_what_was_committed_up_to_it(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing, scratch: Path,
) -> None:  # fmt: skip
    with connect(cluster.target) as conn:
        conn.execute("CREATE DATABASE lsns")
    with dba(cluster.target.with_db("lsns")) as conn:
        conn.execute("CREATE TABLE entries (n int PRIMARY KEY)")
    manifest = physical_backup(cluster, store, catalog, keys)
    positions = []
    with dba(cluster.target.with_db("lsns")) as conn:
        for n in (1, 2, 3):
            conn.execute("INSERT INTO entries VALUES (%s)", (n,))
            positions.append(str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]))  # type: ignore[index]
    side = restore_to_lsn(cluster, store, keys, [manifest], positions[1], scratch / "lsn")
    try:
        with dba(side.target.with_db("lsns")) as conn:
            assert conn.execute("SELECT array_agg(n ORDER BY n) FROM entries").fetchone() == (
                [1, 2],
            )
    finally:
        side.stop(remove=True)
    with pytest.raises(BackupError, match="is not an LSN"):
        restore_to_lsn(cluster, store, keys, [manifest], "yesterday", scratch / "bad")
    with pytest.raises(BackupError, match="is in the future"):
        restore_to_lsn(cluster, store, keys, [manifest], "FF/0", scratch / "late")
