"""The backup store is write-once (issue 21): nothing the backup service writes replaces a
file already there; a WAL segment shipped again after a crash is dropped when it is the same,
and kept spooled (never overwriting the archive) when it is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from comind.backup.keys import KeyRing
from comind.backup.store import BUCKET, AlreadyStored, write_once
from comind.backup.wal import PREFIX, SUFFIX, WalArchive
from comind.observe.metrics import REGISTRY
from comind.stores.objects import FileObjectStore

SEGMENT = "0000000100000000000000A1"


def test_a_backup_file_is_never_replaced(store: FileObjectStore) -> None:
    store.create_bucket(BUCKET)
    write_once(store, "base/test-once/manifest.json", [b"first"])
    with pytest.raises(AlreadyStored, match="never overwritten"):
        write_once(store, "base/test-once/manifest.json", [b"second"])
    assert store.get(BUCKET, "base/test-once/manifest.json") == b"first"


def test_a_wal_segment_shipped_again_is_dropped_if_same_and_kept_if_not(
    store: FileObjectStore, keys: KeyRing, scratch: Path
) -> None:
    archive, spool = WalArchive(store, keys), scratch / "spool"
    spool.mkdir()
    (spool / SEGMENT).write_bytes(b"wal bytes" * 1000)
    assert archive.ship(spool) == 1
    stored = store.get(BUCKET, f"{PREFIX}{SEGMENT}{SUFFIX}")

    (spool / SEGMENT).write_bytes(b"wal bytes" * 1000)  # a crash kept it in the spool
    assert archive.ship(spool) == 1 and not (spool / SEGMENT).exists()

    failures = REGISTRY.get_sample_value("comind_backup_wal_ship_failures_total")
    (spool / SEGMENT).write_bytes(b"other bytes" * 1000)  # never to replace the archived one
    assert archive.ship(spool) == 0 and (spool / SEGMENT).exists()
    assert REGISTRY.get_sample_value("comind_backup_wal_ship_failures_total") == failures + 1
    assert store.get(BUCKET, f"{PREFIX}{SEGMENT}{SUFFIX}") == stored
