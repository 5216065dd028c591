"""Full backups: taken streamed and encrypted, verified by a real restore, refused when
corrupt or when their key is gone, and never registered when the backup is killed."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from tests.dba import dba

from comind.backup.base import BUCKET, BackupError, manifest_key, physical_backup
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.crypto import BackupCryptoError
from comind.backup.keys import KeyRing
from comind.backup.manifest import parse_manifest
from comind.backup.restore import restore_side
from comind.backup.verify import Verifier
from comind.stores.objects import FileObjectStore


def test_a_full_backup_restores_and_verifies(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing,
    shopdb: str, scratch: Path,
) -> None:  # fmt: skip
    manifest = physical_backup(cluster, store, catalog, keys)
    assert manifest.tables[shopdb]["public.orders"] == 20000
    assert manifest.size_bytes < manifest.source_bytes  # compressed
    stored = json.loads(store.get(BUCKET, manifest_key(manifest.id)))
    assert stored["sha256"] == manifest.sha256
    assert parse_manifest(json.dumps(stored)) == manifest  # the store's JSON reads back typed
    entry = catalog.get(manifest.id)
    assert entry is not None and entry.status == "complete"
    assert entry.manifest == manifest and entry.stop_lsn == manifest.stop_lsn  # and the JSONB
    raw = b"".join(store.get_stream(BUCKET, manifest.artifacts[0]))
    assert b"repeat" not in raw and b"xxxxxxxxxx" not in raw  # encrypted at rest
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[4:8], "big")])
    assert header["compression"] == "zstd-stream"  # compressed by the server (PostgreSQL 15)
    assert manifest.source_bytes > 5 * manifest.size_bytes  # what the files hold, uncompressed

    report = verifier.run(manifest)
    assert report.ok, report.problems
    assert report.tables_compared >= 2
    assert (report.verifybackup, report.amcheck) == ("passed", "passed")
    assert report.amcheck in ("passed", "pg_amcheck not available")
    assert catalog.get(manifest.id).verify_status == "verified"  # type: ignore[union-attr]
    assert not list(verifier.scratch.glob(f"verify-{manifest.id}-*"))  # removed after


def test_a_restored_side_copy_serves_the_data(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    shopdb: str, scratch: Path,
) -> None:  # fmt: skip
    manifest = physical_backup(cluster, store, catalog, keys)
    with dba(cluster.target.with_db(shopdb)) as conn:
        conn.execute("DELETE FROM orders WHERE id <= 100")  # a mistake, after the backup
    side = restore_side(cluster, store, manifest, keys.all(), scratch / "side")
    try:
        with dba(side.target.with_db(shopdb)) as conn:
            assert conn.execute("SELECT count(*) FROM orders WHERE id <= 100").fetchone() == (100,)
        with pytest.raises(BackupError, match="not empty"):
            restore_side(cluster, store, manifest, keys.all(), scratch / "side")
        # the copy's own pg_hba.conf (another server's, after a recovery) is never read
        (side.data_dir / "pg_hba.conf").write_text("host all all all trust\n")
        with dba(side.target) as conn:
            conn.execute("SELECT pg_reload_conf()")
        wrong = replace(side.target, password="wrong-password")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(wrong.conninfo()).close()
    finally:
        side.stop(remove=True)
    assert not (scratch / "side.hba").exists()  # removed with the copy
    with dba(cluster.target.with_db(shopdb)) as conn:
        conn.execute(
            "INSERT INTO orders SELECT i, i * 1.5, repeat('x', 100) FROM generate_series(1, 100) i"
        )


def test_a_corrupt_artifact_is_named_before_anything_is_restored(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing,
    shopdb: str, scratch: Path,
) -> None:  # fmt: skip
    manifest = physical_backup(cluster, store, catalog, keys)
    path = store.root / BUCKET / manifest.artifacts[0]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=f"artifact {manifest.artifacts[0]} is corrupt"):
        restore_side(cluster, store, manifest, keys.all(), scratch / "side")
    assert not (scratch / "side").exists()
    report = verifier.run(manifest)
    assert not report.ok and catalog.get(manifest.id).verify_status == "failed"  # type: ignore[union-attr]


def test_without_its_key_a_backup_cannot_be_read(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    shopdb: str, scratch: Path,
) -> None:  # fmt: skip
    manifest = physical_backup(cluster, store, catalog, keys)
    other = KeyRing(scratch / "other")
    with pytest.raises(BackupCryptoError, match=f"backup key {manifest.key_id} is not available"):
        restore_side(cluster, store, manifest, other.all() | {"x": b"0" * 32}, scratch / "side")
    wrong = {manifest.key_id: b"1" * 32}
    with pytest.raises(BackupCryptoError, match="does not open this artifact"):
        restore_side(cluster, store, manifest, wrong, scratch / "side2")


def test_rotation_keeps_old_backups_restorable(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing,
    shopdb: str, scratch: Path,
) -> None:  # fmt: skip
    old = physical_backup(cluster, store, catalog, keys)
    new_id, _ = keys.rotate()
    new = physical_backup(cluster, store, catalog, keys)
    assert new.key_id == new_id != old.key_id
    report = verifier.run(old)
    assert report.ok, report.problems


def test_a_killed_backup_is_never_registered_complete(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    shopdb: str, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """pg_basebackup dies mid-stream: no artifact, a failed entry, and the next one works."""
    import comind.backup.base as base

    real = base.subprocess.Popen
    killed = threading.Event()

    def popen(*args: object, **kwargs: object) -> object:
        proc = real(*args, **kwargs)  # type: ignore[call-overload]
        threading.Timer(0.05, lambda: (proc.send_signal(signal.SIGKILL), killed.set())).start()
        return proc

    monkeypatch.setattr(base.subprocess, "Popen", popen)
    # the platform's archiver ships WAL into the same bucket meanwhile: look at backups only
    before = {o.key for o in store.list(BUCKET, "base/")}
    with pytest.raises(BackupError, match="pg_basebackup failed"):
        physical_backup(cluster, store, catalog, keys)
    assert killed.is_set()
    failed = catalog.entries()[0]
    assert failed.status == "failed"
    assert {o.key for o in store.list(BUCKET, "base/")} == before  # nothing half-written shows
    monkeypatch.undo()
    assert physical_backup(cluster, store, catalog, keys).id != failed.id


def test_an_incremental_on_postgresql_before_17_is_a_full_backup_saying_why(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing
) -> None:
    manifest = physical_backup(cluster, store, catalog, keys, "incr")
    assert manifest.type == "full" and manifest.parent is None
    assert "need 17+" in manifest.note and "took a full backup instead" in manifest.note
    assert catalog.get(manifest.id).kind == "full"  # type: ignore[union-attr]


def test_a_full_disk_leaves_no_half_written_backup_registered(
    cluster: Cluster, catalog: BackupCatalog, keys: KeyRing, shopdb: str, scratch: Path
) -> None:
    small = scratch / "small-disk"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(small)], check=True)
    try:
        store = FileObjectStore(small)
        with pytest.raises(OSError, match="No space left"):
            physical_backup(cluster, store, catalog, keys)
        failed = catalog.entries(limit=1)[0]
        assert failed.status == "failed" and "No space left" in failed.error
        assert not list(store.list(BUCKET)) and not [p for p in small.rglob("*") if p.is_file()]
    finally:
        subprocess.run(["umount", str(small)], check=True)
