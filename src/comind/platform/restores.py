"""Restores from the platform's backup store, run on the platform's machine.

They work from the backup files and the catalog beside them: a side copy of the whole
cluster (newest backup, a backup, a time, a restore point or a WAL position), one app's
database or table copied beside the live one (or swapped in), a bucket, a Redis snapshot on
a side port. Switching the running platform to a restored copy is the API's job
(``POST /api/v1/backups/switch``); this module only prepares the copy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from comind.backup.base import physical_manifests
from comind.backup.buckets import restore_bucket
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.logical import copy_database, replace_database, restore_logical
from comind.backup.manifest import (
    LogicalManifest,
    Manifest,
    ObjectsManifest,
    PhysicalManifest,
    RedisManifest,
)
from comind.backup.pitr import (
    choose_base,
    choose_base_lsn,
    restore_point,
    restore_to_lsn,
    restore_to_time,
)
from comind.backup.restore import SideCopy, chain_of, restore_side
from comind.backup.snapshots import RedisCopy, restore_redis
from comind.backup.switch import discard_old, not_ours, old_data_dirs
from comind.embedded.external import ExternalPostgres
from comind.embedded.home import StateDir
from comind.embedded.osuser import service_user
from comind.embedded.postgres import find_bin_dir
from comind.embedded.redis import find_binary
from comind.embedded.settings import Settings
from comind.errors import UsageError
from comind.platform.keys import backup_keys
from comind.platform.local import PlatformState, platform_db
from comind.platform.objects import backup_store
from comind.spec.names import role_name
from comind.stores.postgres import make_pool

__all__ = ["Partial", "PhysicalManifest", "Restores", "SideCopy", "Target", "discard_old_data",
           "old_data", "restores"]  # fmt: skip
Progress = Callable[[int], None]
M = TypeVar("M", PhysicalManifest, LogicalManifest, ObjectsManifest, RedisManifest)


@dataclass(frozen=True)
class Target:
    """What to restore: a time, a restore point, a WAL position, or a backup (default:
    the newest)."""

    time: str | None = None
    point: str | None = None
    lsn: str | None = None
    backup: str | None = None

    def chosen(self) -> bool:
        return any((self.time, self.point, self.lsn, self.backup))

    def described(self, manifest: Manifest) -> str:
        """The target in words, for questions and reports."""
        if self.time:
            return self.time
        if self.point:
            return f"restore point {self.point}"
        return f"LSN {self.lsn}" if self.lsn else manifest.id


@dataclass(frozen=True)
class Partial:
    """One app's database (or one table of it) restored under a new name."""

    app: str
    database: str
    into: str
    table: str | None = None


class Restores:
    """Restores from the backup store of one state directory."""

    def __init__(self, cluster: Cluster, catalog: BackupCatalog, home: StateDir,
                 settings: Settings) -> None:  # fmt: skip
        self.cluster, self.catalog, self.home, self.settings = cluster, catalog, home, settings
        self.store = backup_store(home, settings)
        self.keys = backup_keys(home)

    def check_switchable(self) -> None:
        """Refuse up front, before anything is restored, to switch a PostgreSQL the
        platform does not own."""
        url = self.home.engine_url("postgres", self.settings.postgres_url)
        if url is not None:
            raise not_ours(ExternalPostgres(url, self.home, self.settings))

    def _fresh(self, prefix: str) -> Path:
        return self.home.restores / f"{prefix}-{datetime.now(UTC):%Y%m%dT%H%M%S}"

    def manifests(self) -> list[PhysicalManifest]:
        """Manifests of the complete physical backups (full, incr, diff), newest first."""
        return physical_manifests(self.catalog)

    def chosen(self, backup_id: str | None) -> PhysicalManifest:
        """The given complete physical backup, or the newest one."""
        if backup_id is None:
            newest = self.manifests()
            if not newest:
                raise UsageError("no complete backup to restore: comind backup run")
            return newest[0]
        return _of_type(self.catalog.finished(backup_id), PhysicalManifest)

    def restore_size(self, manifest: PhysicalManifest) -> int:
        """Bytes a restore of ``manifest`` (its whole chain) writes."""
        return sum(m.source_bytes for m in chain_of(self.store, manifest))

    def latest(self, manifest: PhysicalManifest, *, force: bool, progress: Progress) -> SideCopy:
        """``manifest`` restored and started on a side port."""
        return restore_side(self.cluster, self.store, manifest, self.keys.all(),
                            self._fresh(manifest.id), force=force, progress=progress)  # fmt: skip

    def to_lsn(self, lsn: str, *, force: bool) -> tuple[SideCopy, PhysicalManifest]:
        manifests = self.manifests()
        base = choose_base_lsn(manifests, lsn)
        copy = restore_to_lsn(self.cluster, self.store, self.keys, manifests, lsn,
                              self._fresh("pitr"), force=force)  # fmt: skip
        return copy, base

    def to_time(self, target: Target, *, force: bool) -> tuple[SideCopy, PhysicalManifest]:
        """A time or a restore point, replayed on a side copy."""
        if target.point:
            moment = restore_point(self.store, target.point).time
        else:
            moment = _moment(str(target.time))
        manifests = self.manifests()
        base = choose_base(manifests, moment)
        copy = restore_to_time(self.cluster, self.store, self.keys, manifests, moment,
                               self._fresh("pitr"), force=force, point=target.point)  # fmt: skip
        return copy, base

    def logical(self, backup_id: str | None) -> LogicalManifest | None:
        """The manifest of ``backup_id`` when it is a logical backup."""
        found = self.catalog.get(backup_id) if backup_id else None
        if found is None or not isinstance(found.manifest, LogicalManifest):
            return None
        return found.manifest

    def from_logical(self, dump: LogicalManifest, partial: Partial) -> None:
        """A logical dump restored into the new database ``partial.into``."""
        if partial.table:
            raise UsageError("--table restores from a full backup or a point in time")
        restore_logical(self.cluster, self.store, self.keys.all(), dump, partial.into,
                        owner=role_name(partial.app))  # fmt: skip

    def from_copy(self, copy: SideCopy, partial: Partial) -> None:
        """The app's database (or table) copied out of a side copy, which is then removed."""
        try:
            copy_database(self.cluster, copy.target.with_db(partial.database), partial.into,
                          table=partial.table, owner=role_name(partial.app))  # fmt: skip
        finally:
            copy.stop(remove=True)

    def replace(self, database: str, restored: str) -> dict[str, Any]:
        """The live ``database`` swapped for ``restored``; the old one kept renamed."""
        old = replace_database(self.cluster, database, restored,
                               f"{datetime.now(UTC):%Y%m%d%H%M%S}")  # fmt: skip
        return {"database": database, "old": old}

    def redis_side(self, backup_id: str | None) -> tuple[RedisCopy, RedisManifest, Path]:
        """A Redis snapshot served on a side port."""
        manifest = _found(self.catalog.manifest("redis", backup_id), "redis", backup_id)
        where = self._fresh(manifest.id)
        binary = find_binary(self.settings.redis_bin)
        copy = restore_redis(binary, self.store, self.keys.all(), manifest, where)
        return copy, manifest, where

    def bucket(self, bucket: str, backup_id: str | None, into: str | None) -> dict[str, Any]:
        """A bucket's objects restored (under ``into`` when given)."""
        manifest = _found(self.catalog.manifest("objects", backup_id), "objects", backup_id)
        written = restore_bucket(self.store, self.keys.all(), manifest, bucket, into)
        return {"bucket": into or bucket, "objects": written, "from": manifest.id}


def _moment(given: str) -> datetime:
    try:
        return datetime.fromisoformat(given.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--to-time {given}: expected ISO 8601 with a zone") from None


def _found(manifest: M | None, kind: str, backup_id: str | None) -> M:
    """The manifest the catalog found, or UsageError saying there is no such backup."""
    if manifest is None:
        raise UsageError(f"no complete {kind} backup" + (f" {backup_id}" if backup_id else ""))
    return manifest


def _of_type(manifest: Manifest, kind: type[M]) -> M:
    """``manifest`` when it is of ``kind``, or UsageError naming what it is."""
    if not isinstance(manifest, kind):
        raise UsageError(f"backup {manifest.id} is a {manifest.type} backup, not the kind "
                         "this restore starts from")  # fmt: skip
    return manifest


def old_data(home: StateDir) -> list[Path]:
    """Data directories earlier switches set aside."""
    return old_data_dirs(home.postgres, home.redis)


def discard_old_data(home: StateDir) -> list[str]:
    """Delete the data directories earlier switches set aside."""
    return [str(p) for p in discard_old(home.postgres, home.redis)]


@contextmanager
def restores(home: StateDir, settings: Settings, state: PlatformState) -> Iterator[Restores]:
    """Restores of the platform running with ``state``."""
    target = platform_db(home, state, settings)
    cluster = Cluster(target.with_db("postgres"), find_bin_dir(settings.pg_bin), service_user())
    with make_pool(target, min_size=1, max_size=2) as pool:
        yield Restores(cluster, BackupCatalog(pool), home, settings)
