"""Backup manifests: the documents earlier versions stored parse into the typed models and
are written back as the same JSON, so every stored backup stays restorable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from comind.api.backups import _out
from comind.backup.manifest import (
    CatalogEntry,
    LogicalManifest,
    Lsn,
    ObjectsManifest,
    PhysicalManifest,
    RedisManifest,
    manifest_json,
    parse_manifest,
)

SHA = "9f" * 32
# documents exactly as the code on main writes them (field for field, value format for format)
PHYSICAL: dict[str, Any] = {
    "id": "incr-20261204T053333123456",
    "format": "tar+zstd+aes-256-gcm",
    "start_lsn": "0/3000028",
    "start_wal": "000000010000000000000003",
    "stop_lsn": "1/A0000100",
    "timeline": 1,
    "start_time": "2026-12-04T05:33:33.123456+00:00",
    "stop_time": "2026-12-04T06:33:35+01:00",
    "pg_version": "16.6 (Debian 16.6-1.pgdg120+1)",
    "pg_version_num": 160006,
    "key_id": "k-20261201T000000",
    "size_bytes": 1234,
    "source_bytes": 45678,
    "sha256": SHA,
    "seconds": 1.234,
    "artifacts": ["base/incr-20261204T053333123456/base.tar.cmb"],
    "pg_manifest": "base/incr-20261204T053333123456/backup_manifest.cmb",
    "databases": ["comind", "postgres", "shop"],
    "tables": {"shop": {"public.orders": 20000, "public.events": None}},
    "type": "incr",
    "parent": "full-20261203T000000000001",
    "note": None,
}
LOGICAL: dict[str, Any] = {
    "id": "logical-20261204T053333123456", "type": "logical", "app": "orders",
    "database": "orders", "key_id": "k1", "sha256": SHA, "size_bytes": 99,
    "artifacts": ["logical/logical-20261204T053333123456/orders.dump.cmb"],
    "start_lsn": "0/5000060", "stop_lsn": "0/5000060", "timeline": 2,
    "stop_time": "2026-12-04T05:33:33.000001+00:00", "pg_version": "17.2", "seconds": 0.5,
    "tables": {"orders": {"public.orders": 3, "public.busy": None}},
}  # fmt: skip
OBJECTS: dict[str, Any] = {
    "id": "objects-20261204T053333123456", "type": "objects", "key_id": "k1",
    "buckets": {"orders-files": {"a.csv": "e1", "dir/b.parquet": "e2"}, "empty": {}},
    "uploaded": 1, "reused": 1, "size_bytes": 2048, "seconds": 0.25,
}  # fmt: skip
REDIS: dict[str, Any] = {
    "id": "redis-20261204T053333123456", "type": "redis", "key_id": "k1",
    "artifacts": ["redis/redis-20261204T053333123456/dump.rdb.cmb"], "sha256": SHA,
    "size_bytes": 512, "source_bytes": 4096, "keys": 2000, "keys_exact": True,
    "redis_version": "7.0.15", "seconds": 0.125,
}  # fmt: skip
# a full backup as the first version wrote it: no WAL file name, no pg_basebackup manifest
FIRST_VERSION: dict[str, Any] = {
    "id": "full-20261127T081817000000", "type": "full", "parent": None,
    "format": "tar+gzip+aes-256-gcm", "start_lsn": "0/2000028", "stop_lsn": "0/2000138",
    "timeline": 1, "start_time": "2026-11-27T08:18:17.500000+00:00",
    "stop_time": "2026-11-27T08:18:19.250000+00:00", "pg_version": "15.8", "pg_version_num": 150008,
    "key_id": "k0", "size_bytes": 10, "source_bytes": 20, "sha256": SHA, "seconds": 2.0,
    "artifacts": ["base/full-20261127T081817000000/base.tar.cmb"], "databases": ["postgres"],
    "tables": {"postgres": {}},
}  # fmt: skip


@pytest.mark.parametrize(
    ("document", "model"),
    [(PHYSICAL, PhysicalManifest), (LOGICAL, LogicalManifest), (OBJECTS, ObjectsManifest),
     (REDIS, RedisManifest)],
)  # fmt: skip
def test_a_stored_manifest_parses_and_is_written_back_unchanged(
    document: dict[str, Any], model: type
) -> None:
    stored = json.dumps(document, indent=2).encode()
    manifest = parse_manifest(stored)
    assert type(manifest) is model and manifest.id == document["id"]
    assert json.loads(manifest_json(manifest)) == document
    assert parse_manifest(document) == manifest  # from the catalog's JSONB, already loaded


def test_lsns_and_times_are_typed_and_keep_their_written_form() -> None:
    manifest = parse_manifest(PHYSICAL)
    assert isinstance(manifest, PhysicalManifest)
    assert manifest.start_lsn < manifest.stop_lsn == Lsn((1 << 32) | 0xA0000100)
    assert manifest.stop_time == datetime(2026, 12, 4, 5, 33, 35, tzinfo=UTC)
    assert manifest.stop_time.utcoffset() == timedelta(hours=1)
    assert manifest.tables["shop"] == {"public.orders": 20000, "public.events": None}
    assert str(Lsn.parse("0/3000028")) == "0/3000028"


def test_a_manifest_of_the_first_version_still_parses() -> None:
    manifest = parse_manifest(json.dumps(FIRST_VERSION))
    assert isinstance(manifest, PhysicalManifest)
    assert (manifest.start_wal, manifest.pg_manifest, manifest.note) == ("", None, None)
    written = json.loads(manifest_json(manifest))
    assert {k: written[k] for k in FIRST_VERSION} == FIRST_VERSION


def test_fields_a_later_version_adds_are_kept() -> None:
    manifest = parse_manifest(REDIS | {"compression": "zstd"})
    assert json.loads(manifest_json(manifest))["compression"] == "zstd"


@pytest.mark.parametrize(
    "broken",
    [PHYSICAL | {"type": "snapshot"}, PHYSICAL | {"stop_lsn": "yesterday"},
     PHYSICAL | {"stop_time": "2026-12-04T05:33:35"},
     {k: v for k, v in REDIS.items() if k != "sha256"}],
)  # fmt: skip
def test_a_broken_manifest_is_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_manifest(broken)


def test_a_catalog_row_holds_its_manifest_typed() -> None:
    started = datetime(2026, 12, 4, 5, 33, 33, tzinfo=timezone(timedelta(hours=1)))
    row = {
        "id": LOGICAL["id"], "kind": "logical", "app": "orders", "parent": None,
        "status": "complete", "started_at": started, "finished_at": started,
        "start_lsn": "0/5000060", "stop_lsn": "0/5000060", "timeline": 2, "size_bytes": 99,
        "key_id": "k1", "manifest": LOGICAL, "error": None, "verify_status": None,
        "verified_at": None, "verify_error": None, "verify_seconds": None,
        "restore_seconds": None, "replay_bytes_per_second": None, "verify_count": 0,
    }  # fmt: skip
    entry = CatalogEntry.model_validate(row)
    assert isinstance(entry.manifest, LogicalManifest) and entry.complete()
    answered = entry.model_dump(mode="json", exclude={"manifest"})
    assert list(answered) == [k for k in row if k != "manifest"]
    assert answered["started_at"] == "2026-12-04T05:33:33+01:00" == started.isoformat()
    assert answered["start_lsn"] == "0/5000060"
    running = CatalogEntry.model_validate(row | {"status": "running", "manifest": {}})
    assert running.manifest is None and not running.complete()  # the column's default: {}


def test_why_a_restore_test_failed_is_shown_to_platform_operators_only() -> None:
    """A failed test's findings name tables and counts of every database."""
    started = datetime(2026, 12, 4, 5, 33, 33, tzinfo=UTC)
    entry = CatalogEntry.model_validate({
        "id": LOGICAL["id"], "kind": "logical", "app": "orders", "parent": None,
        "status": "complete", "started_at": started, "finished_at": started,
        "start_lsn": "0/5000060", "stop_lsn": "0/5000060", "timeline": 2, "size_bytes": 99,
        "key_id": "k1", "manifest": LOGICAL, "error": None, "verify_status": "failed",
        "verified_at": started, "verify_error": "orders.public.pay: 3 rows, 4 at backup time",
        "verify_seconds": 1.0, "restore_seconds": 0.5, "replay_bytes_per_second": None,
        "verify_count": 1,
    })  # fmt: skip
    assert _out(entry, lambda m: [], details=True)["verify_error"].startswith("orders.public")
    withheld = _out(entry, lambda m: [], details=False)
    assert withheld["verify_status"] == "failed" and "orders" not in withheld["verify_error"]
