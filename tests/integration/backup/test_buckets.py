"""Bucket backups upload only new content and restore a bucket exactly as it was."""

from __future__ import annotations

from comind.backup.base import BUCKET
from comind.backup.buckets import backup_buckets, restore_bucket
from comind.backup.catalog import BackupCatalog
from comind.backup.keys import KeyRing
from comind.stores.objects import FileObjectStore


def contents(store: FileObjectStore, bucket: str) -> dict[str, bytes]:
    return {o.key: store.get(bucket, o.key) for o in store.list(bucket)}


def test_incremental_by_etag_and_restorable_as_of_each_backup(
    store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing
) -> None:
    store.create_bucket("lake-b")
    store.put("lake-b", "a/1.json", b'{"v": 1}')
    store.put("lake-b", "b.parquet", b"PAR1" * 1000)
    first = backup_buckets(store, catalog, keys, ["lake-b"])
    assert (first.uploaded, first.reused) == (2, 0)
    as_first = contents(store, "lake-b")

    store.put("lake-b", "a/1.json", b'{"v": 2}')
    store.put("lake-b", "c.txt", b"new")
    second = backup_buckets(store, catalog, keys, ["lake-b"])
    assert (second.uploaded, second.reused) == (2, 1)  # b.parquet was stored already
    sealed = b"".join(
        b for o in store.list(BUCKET, "objects/lake-b/") for b in store.get_stream(BUCKET, o.key)
    )
    assert b"PAR1PAR1" not in sealed  # encrypted at rest

    assert restore_bucket(store, keys.all(), first, "lake-b", into="lake-b-old") == 2
    assert contents(store, "lake-b-old") == as_first
    store.delete("lake-b", "c.txt")
    restore_bucket(store, keys.all(), second, "lake-b")
    assert contents(store, "lake-b")["c.txt"] == b"new"
    assert catalog.get(second.id).status == "complete"  # type: ignore[union-attr]
