"""Every kind of backup restore-tested (issue 21): a logical dump restored into a scratch
database and compared, a bucket backup's objects present and a sample of them checksummed,
a Redis snapshot loaded by a throwaway server; one byte changed in a stored backup makes
its next test fail, and the failure is exported for the alert."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from comind.backup.base import BUCKET, physical_backup
from comind.backup.buckets import backup_buckets, blob_key
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.logical import logical_backup
from comind.backup.manifest import Manifest
from comind.backup.metrics import BackupCollector
from comind.backup.snapshots import redis_backup
from comind.backup.verify import Verifier
from comind.platform import Platform
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import connect
from comind.stores.redis import client, default_user


def flip_a_byte(store: FileObjectStore, key: str) -> None:
    path = store.root / BUCKET / key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def failed_tests(catalog: BackupCatalog, kind: str) -> float:
    assert catalog.pool is not None
    families = {f.name: f for f in BackupCollector(catalog.pool).collect()}
    samples = families["comind_backup_restore_test_failed"].samples
    return next((s.value for s in samples if s.labels["kind"] == kind), 0.0)


def test_a_logical_dump_restores_into_a_scratch_database_and_compares(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing, shopdb: str,
) -> None:  # fmt: skip
    manifest = logical_backup(cluster, store, catalog, keys, "shop", shopdb)
    assert manifest.tables[shopdb]["public.orders"] == 20000  # counted while nothing wrote
    report = verifier.run(manifest)
    assert report.ok, report.problems
    assert report.tables_compared >= 2 and report.amcheck in ("passed", "pg_amcheck not available")
    with connect(cluster.target) as conn:  # the scratch database is gone again
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'comind_verify%'")
        assert left.fetchall() == []
    entry = catalog.get(manifest.id)
    assert entry is not None and entry.verify_status == "verified" and entry.restore_seconds


def test_a_bucket_backup_is_checked_object_by_object(
    verifier: Verifier, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing
) -> None:
    store.create_bucket("tested-files")
    for i in range(40):
        store.put("tested-files", f"doc/{i}.txt", f"document {i}".encode() * 50)
    manifest = backup_buckets(store, catalog, keys, ["tested-files"])
    report = verifier.run(manifest)
    assert report.ok, report.problems
    assert report.objects_checked == 32  # a sample: every one of 40 is present, 32 read back


def test_a_redis_snapshot_loads_in_a_throwaway_server(
    backup_runtime: Platform, verifier: Verifier, store: FileObjectStore,
    catalog: BackupCatalog, keys: KeyRing,
) -> None:  # fmt: skip
    target = default_user(backup_runtime.engines.redis)
    client(target).mset({f"tested:{i}": str(i) for i in range(500)})
    manifest = redis_backup(target, store, catalog, keys)
    report = verifier.run(manifest)
    assert report.ok, report.problems
    assert report.keys is not None and report.keys >= 500
    if manifest.keys_exact:  # nothing wrote while the snapshot was taken
        assert report.keys == manifest.keys


@pytest.mark.parametrize("kind", ["logical", "objects", "redis", "full"])
def test_one_byte_changed_in_a_stored_backup_fails_its_next_test(
    kind: str, backup_runtime: Platform, verifier: Verifier, cluster: Cluster,
    store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing, shopdb: str,
) -> None:  # fmt: skip
    redis = default_user(backup_runtime.engines.redis)
    take: dict[str, Callable[[], Manifest]] = {
        "logical": lambda: logical_backup(cluster, store, catalog, keys, "shop", shopdb),
        "objects": lambda: backup_buckets(store, catalog, keys, ["rotting-files"]),
        "redis": lambda: redis_backup(redis, store, catalog, keys),
        "full": lambda: physical_backup(cluster, store, catalog, keys),
    }
    if kind == "objects":
        store.create_bucket("rotting-files")
        store.put("rotting-files", "one", b"a single object, so the sample reads it")
    manifest = take[kind]()
    assert verifier.run(manifest).ok
    before = failed_tests(catalog, kind)
    artifact = (blob_key("rotting-files", next(iter(manifest.buckets["rotting-files"].values())))
                if kind == "objects" else manifest.artifacts[0])  # type: ignore[union-attr]  # fmt: skip
    flip_a_byte(store, artifact)
    report = verifier.run(manifest)
    assert not report.ok and report.problems
    entry = catalog.get(manifest.id)
    assert entry is not None and entry.verify_status == "failed" and entry.verify_count == 2
    assert failed_tests(catalog, kind) == before + 1  # what ComindBackupRestoreTestFailed reads


def test_a_test_that_stops_unexpectedly_is_recorded_as_failed(
    verifier: Verifier, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Else the tester would take the same untested backup up again, forever."""
    store.create_bucket("odd-files")
    store.put("odd-files", "one", b"one object")
    manifest = backup_buckets(store, catalog, keys, ["odd-files"])

    def stops(*_: object) -> None:
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(Verifier, "_objects", stops)
    report = verifier.run(manifest)
    assert not report.ok
    assert report.problems == ["the test stopped: RuntimeError: something nobody expected"]
    entry = catalog.get(manifest.id)
    assert entry is not None and entry.verify_status == "failed"
    due = catalog.due_for_test(retest_seconds=86400)
    assert due is None or due.id != manifest.id
