"""The backups service of a running platform: backups taken, verified and pruned on request
(``POST /api/v1/backups``...), in the platform's process with its own engines.

The CLI reaches it only through the API, so ``comind backup run`` works the same against a
platform on this machine and on another one. Requested work runs one at a time (two
backups at once would only compete for the same disk and the same WAL): a request that finds
one running is refused at once with a 409, never queued behind it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from comind.backup.base import BUCKET, PHYSICAL, physical_backup
from comind.backup.buckets import backup_buckets
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.logical import logical_backup
from comind.backup.manifest import LogicalManifest, Manifest, PhysicalKind
from comind.backup.pitr import create_restore_point
from comind.backup.retention import prune
from comind.backup.snapshots import redis_backup
from comind.backup.verify import Verifier
from comind.backup.wal import WalArchive
from comind.embedded.home import StateDir
from comind.errors import ComindError, UsageError
from comind.stores.objects import ObjectStore
from comind.stores.redis import RedisTarget

KINDS = (*PHYSICAL, "logical", "objects", "redis")
SUMMARY = {
    "physical": ("id", "type", "parent", "note", "start_lsn", "stop_lsn", "size_bytes",
                 "source_bytes", "seconds", "key_id"),
    "objects": ("id", "type", "uploaded", "reused", "size_bytes", "seconds"),
    "redis": ("id", "type", "keys", "size_bytes", "seconds"),
    "logical": ("id", "type", "app", "database", "size_bytes", "seconds"),
}  # fmt: skip


class BackupService:
    """Backups of the platform's PostgreSQL, buckets and Redis, taken on request."""

    def __init__(
        self,
        cluster: Cluster,
        store: ObjectStore,
        catalog: BackupCatalog,
        wal: WalArchive,
        home: StateDir,
        redis: RedisTarget,
        database_of: Callable[[str], str | None],
        verifier: Verifier,
        taken: Callable[[], None] = lambda: None,
    ) -> None:
        self.cluster, self.store, self.catalog, self.wal = cluster, store, catalog, wal
        self.home, self.redis, self.database_of = home, redis, database_of
        self.verifier, self.taken = verifier, taken
        self._busy = threading.Lock()

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One piece of requested work at a time; a second request is refused at once rather
        than queued, so waiting requests never hold the API's worker threads."""
        if not self._busy.acquire(blocking=False):
            raise ComindError("a backup, verification or prune is running; try again when it ends")
        try:
            yield
        finally:
            self._busy.release()

    @property
    def keys(self) -> KeyRing:
        return self.wal.keys

    def run(self, kind: str, app: str | None = None) -> dict[str, Any]:
        """Take a backup of ``kind`` now; its summary (the manifest without file lists)."""
        if kind not in KINDS:
            raise UsageError(f"backup type {kind!r}: choose {', '.join(KINDS)}")
        try:
            return self._run(kind, app)
        finally:
            self.taken()  # the restore tester looks now

    def _run(self, kind: str, app: str | None) -> dict[str, Any]:
        with self._exclusive():
            if kind == "objects":
                objects = backup_buckets(self.store, self.catalog, self.keys, self._buckets())
                return _summary(objects, "objects") | {"buckets": sorted(objects.buckets)}
            manifest: Manifest
            if kind == "redis":
                manifest = redis_backup(self.redis, self.store, self.catalog, self.keys)
            elif kind == "logical":
                manifest = self._logical(app)
            else:
                manifest = physical_backup(self.cluster, self.store, self.catalog, self.keys,
                                           _physical(kind))  # fmt: skip
        return _summary(manifest, "physical" if kind in PHYSICAL else kind)

    def verify(self, backup_id: str) -> dict[str, Any]:
        """Restore-test ``backup_id`` (any kind) now; the result is recorded in the catalog."""
        manifest = self.catalog.finished(backup_id)
        with self._exclusive():
            return asdict(self.verifier.run(manifest))

    def prune(self, *, keep_full: int, keep_days: int | None, dry_run: bool) -> dict[str, Any]:
        """Expire old backups and the WAL no kept backup needs (or say what would go)."""
        with self._exclusive():
            done = prune(self.catalog, self.store, self.wal, keep_full=keep_full,
                         keep_days=keep_days, now=datetime.now(UTC), dry_run=dry_run)  # fmt: skip
        return asdict(done) | {"dry_run": dry_run}

    def restore_point(self, name: str) -> dict[str, Any]:
        """Mark this moment under ``name`` (``comind restore --to-restore-point NAME``)."""
        return create_restore_point(self.cluster, self.store, name).model_dump(mode="json")

    def _logical(self, app: str | None) -> LogicalManifest:
        if not app:
            raise UsageError("a logical backup is of one app's database: pass --app APP")
        database = self.database_of(app)
        if database is None:
            raise UsageError(f"app '{app}' has no database in the applied revision")
        return logical_backup(self.cluster, self.store, self.catalog, self.keys, app, database)

    def _buckets(self) -> list[str]:
        """Every app bucket (the backup store itself is never backed up into itself)."""
        return [name for name in self.store.buckets() if name != BUCKET]


def _physical(kind: str) -> PhysicalKind:
    for known in PHYSICAL:
        if kind == known:
            return known
    raise UsageError(f"backup type {kind!r} is not a physical one: choose {', '.join(PHYSICAL)}")


def _summary(manifest: Manifest, kind: str) -> dict[str, Any]:
    """The manifest's answer fields in their order (None where this type has no such field);
    the file lists are never serialized."""
    doc = manifest.model_dump(mode="json", include=set(SUMMARY[kind]))
    return {k: doc.get(k) for k in SUMMARY[kind]}
