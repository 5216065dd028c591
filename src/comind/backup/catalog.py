"""The backup catalog in the platform database: one row per backup, with its manifest, and
whether a restore verified it. A backup is listed as complete only after every artifact of
it is stored; a killed backup stays 'running' until marked failed.

The backup domain owns this persistence: its queries are ``backup/sql/catalog.sql``; the
table itself is created by the platform schema's migration 0011 (``stores/sql/migrations``).
This is one of backup's two PostgreSQL adapter modules (with ``cluster.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, overload

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from comind.backup.manifest import (
    CatalogEntry,
    Kind,
    KindLatest,
    LogicalManifest,
    Manifest,
    ObjectsManifest,
    PgManifest,
    PhysicalKind,
    PhysicalManifest,
    RedisManifest,
    manifest_document,
)
from comind.errors import UsageError
from comind.stores.queries import named

_sql = named("comind.backup", "catalog")


@dataclass(frozen=True)
class RestoreTiming:
    seconds: float | None = None
    restore_seconds: float | None = None
    replay_rate: float | None = None  # bytes/s


class BackupCatalog:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def start(
        self,
        backup_id: str,
        kind: str,
        *,
        key_id: str,
        app: str | None = None,
        parent: str | None = None,
    ) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                _sql("start"),
                {"id": backup_id, "kind": kind, "app": app, "parent": parent, "key_id": key_id},
            )

    def complete(self, manifest: Manifest) -> None:
        with self.pool.connection() as conn:
            conn.execute(_sql("complete"), {"id": manifest.id, **_columns(manifest)})

    def adopt(self, manifest: Manifest, taken: datetime) -> bool:
        """List a complete backup known from its stored manifest, unless listed complete
        already (it may be listed running: the database went back to before it completed)."""
        finished = manifest.stop_time if isinstance(manifest, PgManifest) else taken
        app = manifest.app if isinstance(manifest, LogicalManifest) else None
        parent = manifest.parent if isinstance(manifest, PhysicalManifest) else None
        with self.pool.connection() as conn:
            return conn.execute(_sql("adopt"), {
                "id": manifest.id, "kind": manifest.type, "app": app, "parent": parent,
                "key_id": manifest.key_id, "finished_at": finished, **_columns(manifest),
            }).rowcount == 1  # fmt: skip

    def fail(self, backup_id: str, error: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(_sql("fail"), {"id": backup_id, "error": error[:2000]})

    def entries(self, kind: str | None = None, limit: int = 200) -> list[CatalogEntry]:
        """Catalog rows, newest first (of ``kind`` when given)."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(_sql("list"), {"kind": kind, "limit": limit}).fetchall()
        return [CatalogEntry.model_validate(r) for r in rows]

    @overload
    def manifest(
        self, kind: Literal["redis"], backup_id: str | None = None
    ) -> RedisManifest | None: ...
    @overload
    def manifest(
        self, kind: Literal["objects"], backup_id: str | None = None
    ) -> ObjectsManifest | None: ...
    @overload
    def manifest(
        self, kind: Literal["logical"], backup_id: str | None = None
    ) -> LogicalManifest | None: ...
    @overload
    def manifest(
        self, kind: PhysicalKind, backup_id: str | None = None
    ) -> PhysicalManifest | None: ...

    def manifest(self, kind: Kind, backup_id: str | None = None) -> Manifest | None:
        """The manifest of backup ``backup_id`` (default: the newest) of ``kind``, if it is
        complete (the catalog's kind is the manifest's type, so the overloads hold)."""
        complete = (e for e in self.entries(kind) if e.complete())
        return next((e.manifest for e in complete if backup_id in (None, e.id)), None)

    def latest_by_kind(self) -> dict[str, KindLatest]:
        """The newest complete backup of each kind (with when a restore last verified one)."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(_sql("latest_by_kind")).fetchall()
        return {r["kind"]: KindLatest.model_validate(r) for r in rows}

    def get(self, backup_id: str) -> CatalogEntry | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(_sql("get"), {"id": backup_id}).fetchone()
        return None if row is None else CatalogEntry.model_validate(row)

    def finished(self, backup_id: str) -> Manifest:
        """The manifest of the complete backup ``backup_id``; a UsageError (one line a user
        can act on) when there is none or it is not complete."""
        found = self.get(backup_id)
        if found is None:
            raise UsageError(f"no backup {backup_id} (see comind backup ls)")
        if not found.complete() or found.manifest is None:
            raise UsageError(f"backup {backup_id} is {found.status}, not complete")
        return found.manifest

    def expire(self, backup_id: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(_sql("expire"), {"id": backup_id})

    def verified(self, backup_id: str, ok: bool, error: str | None = None, *,
                 timing: RestoreTiming | None = None) -> None:  # fmt: skip
        """Record a restore test's outcome (and how long it and its restore took)."""
        timing = timing or RestoreTiming()
        with self.pool.connection() as conn:
            conn.execute(_sql("verified"), {
                "id": backup_id, "status": "verified" if ok else "failed", "error": error,
                "seconds": timing.seconds, "restore_seconds": timing.restore_seconds,
                "replay_rate": timing.replay_rate,
            })  # fmt: skip

    def due_for_test(self, retest_seconds: float) -> CatalogEntry | None:
        """The backup to restore-test next: the oldest never tested, else the newest of a
        kind whose last test is older than ``retest_seconds``."""
        with self.pool.connection() as conn:
            row = conn.execute(_sql("due_for_test"), {"retest_seconds": retest_seconds}).fetchone()
        return None if row is None else self.get(row[0])

    def newest_tested_physical(self) -> CatalogEntry | None:
        """The backup a restore now would start from: the newest physical backup whose last
        restore test passed."""
        with self.pool.connection() as conn:
            row = conn.execute(_sql("newest_tested_physical")).fetchone()
        return None if row is None else self.get(row[0])

    def replay_rate(self) -> float | None:
        """The WAL replay rate (bytes/s) the latest restore test that measured one saw."""
        with self.pool.connection() as conn:
            row = conn.execute(_sql("replay_rate")).fetchone()
        return None if row is None else float(row[0])

    def platform_born(self) -> datetime:
        with self.pool.connection() as conn:
            row = conn.execute(_sql("platform_born")).fetchone()
        assert row is not None and row[0] is not None  # migrations made this very table
        born: datetime = row[0]
        return born

    def test_state(self) -> dict[str, tuple[int, float]]:
        """Per kind: how many complete backups failed their last test, and the age in
        seconds of the oldest one never tested (0: none)."""
        with self.pool.connection() as conn:
            rows = conn.execute(_sql("test_state")).fetchall()
        return {kind: (int(failed), float(age)) for kind, failed, age in rows}


def _columns(manifest: Manifest) -> dict[str, Any]:
    """The catalog columns copied out of a manifest, and the manifest itself."""
    wal: dict[str, Any] = {"start_lsn": None, "stop_lsn": None, "timeline": None}
    if isinstance(manifest, PgManifest):
        wal = {"start_lsn": str(manifest.start_lsn), "stop_lsn": str(manifest.stop_lsn),
               "timeline": manifest.timeline}  # fmt: skip
    return {**wal, "size": manifest.size_bytes, "manifest": Jsonb(manifest_document(manifest))}
