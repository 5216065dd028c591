"""The backup catalog in the platform database: one row per backup, with its manifest, and
whether a restore verified it. A backup is listed as complete only after every artifact of
it is stored; a killed backup stays 'running' until marked failed.

The backup domain owns this persistence: its queries are ``backup/sql/catalog.sql``; the
table itself is created by the platform schema's migration 0011 (``stores/sql/migrations``).
This is one of backup's two PostgreSQL adapter modules (with ``cluster.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from comind.stores.queries import package_queries


def _sql(name: str) -> str:
    """A named query of this package's ``sql/catalog.sql``."""
    return package_queries("comind.backup", "catalog")[name]


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

    def complete(self, backup_id: str, manifest: dict[str, Any]) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                _sql("complete"),
                {
                    "id": backup_id,
                    "start_lsn": manifest.get("start_lsn"),
                    "stop_lsn": manifest.get("stop_lsn"),
                    "timeline": manifest.get("timeline"),
                    "size": manifest.get("size_bytes", 0),
                    "manifest": Jsonb(manifest),
                },
            )

    def adopt(self, manifest: dict[str, Any], taken: datetime) -> bool:
        """List a complete backup known from its stored manifest, unless listed complete
        already (it may be listed running: the database went back to before it completed)."""
        with self.pool.connection() as conn:
            return conn.execute(_sql("adopt"), {
                "id": manifest["id"], "kind": manifest["type"], "app": manifest.get("app"),
                "parent": manifest.get("parent"), "key_id": manifest.get("key_id"),
                "finished_at": manifest.get("stop_time") or taken,
                "start_lsn": manifest.get("start_lsn"), "stop_lsn": manifest.get("stop_lsn"),
                "timeline": manifest.get("timeline"),
                "size": manifest.get("size_bytes", 0), "manifest": Jsonb(manifest),
            }).rowcount == 1  # fmt: skip

    def fail(self, backup_id: str, error: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(_sql("fail"), {"id": backup_id, "error": error[:2000]})

    def entries(self, kind: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(_sql("list"), {"kind": kind, "limit": limit}).fetchall()

    def manifest(self, kind: str, backup_id: str | None = None) -> dict[str, Any] | None:
        """The manifest of backup ``backup_id`` (default: the newest) of ``kind``, if it is
        complete."""
        complete = (e for e in self.entries(kind) if e["status"] == "complete")
        return next((dict(e["manifest"]) for e in complete if backup_id in (None, e["id"])), None)

    def latest_by_kind(self) -> dict[str, dict[str, Any]]:
        """The newest complete backup of each kind (with when a restore last verified one)."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(_sql("latest_by_kind")).fetchall()
        return {r["kind"]: r for r in rows}

    def get(self, backup_id: str) -> dict[str, Any] | None:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(_sql("get"), {"id": backup_id}).fetchone()

    def expire(self, backup_id: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(_sql("expire"), {"id": backup_id})

    def verified(self, backup_id: str, ok: bool, error: str | None = None) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                _sql("verified"),
                {
                    "id": backup_id,
                    "status": "verified" if ok else "failed",
                    "error": error,
                },
            )
