"""Retention: which backups to keep, and removing the rest with the WAL no kept backup needs.

A full backup is kept when it is among the newest ``keep_full`` or younger than
``keep_days``, and an incremental or differential one as long as the full backup its chain
starts from; an expired backup's artifacts and manifests are deleted and its catalog entry
marked expired (never a backup something kept depends on: ``parent`` links are honoured).
Archived WAL older than the start of the oldest kept full backup can no longer be replayed
from any kept base, so it goes too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from comind.backup.base import BUCKET, PHYSICAL, manifest_key
from comind.backup.catalog import BackupCatalog
from comind.backup.manifest import CatalogEntry, PhysicalManifest
from comind.backup.wal import PREFIX, SUFFIX, WalArchive
from comind.stores.objects import ObjectStore


@dataclass
class Pruned:
    expired: list[str] = field(default_factory=list)
    wal_removed: int = 0
    kept: list[str] = field(default_factory=list)


def plan(
    entries: list[CatalogEntry], keep_full: int, keep_days: int | None, now: datetime
) -> set[str]:
    """The ids of complete physical backups to keep: the chosen full ones, the incremental
    ones built on them, and every backup one of those depends on."""
    fulls = sorted((e for e in entries if e.kind == "full" and e.complete()),
                   key=lambda e: e.finished_at or e.started_at, reverse=True)  # fmt: skip
    keep = {e.id for e in fulls[:keep_full]}
    if keep_days is not None:
        since = now - timedelta(days=keep_days)
        keep |= {e.id for e in fulls if (e.finished_at or e.started_at) >= since}
    parents = {e.id: e.parent for e in entries}
    for e in entries:
        if e.kind in PHYSICAL and e.complete() and _root(e.id, parents) in keep:
            keep.add(e.id)
    for backup_id in list(keep):
        while (parent := parents.get(backup_id)) is not None and parent not in keep:
            keep.add(parent)
            backup_id = parent
    return keep


def _root(backup_id: str, parents: dict[str, str | None]) -> str:
    seen = {backup_id}
    while (parent := parents.get(backup_id)) is not None and parent not in seen:
        seen.add(parent)
        backup_id = parent
    return backup_id


def prune(
    catalog: BackupCatalog,
    store: ObjectStore,
    archive: WalArchive,
    *,
    keep_full: int,
    keep_days: int | None,
    now: datetime,
    dry_run: bool = False,
) -> Pruned:
    entries = catalog.entries(limit=100_000)
    keep = plan(entries, keep_full, keep_days, now)
    out = Pruned(kept=sorted(keep))
    for e in entries:
        if e.kind in PHYSICAL and e.complete() and e.id not in keep:
            out.expired.append(e.id)
            if not dry_run:
                _delete_backup(store, e)
                catalog.expire(e.id)
    kept = [e.manifest for e in entries if e.id in keep]
    oldest = min((m.start_wal for m in kept if isinstance(m, PhysicalManifest)), default="")
    if oldest:
        stale = [n for n in archive.segment_names() if n < oldest]
        out.wal_removed = len(stale)
        if not dry_run:
            for name in stale:
                store.delete(BUCKET, f"{PREFIX}{name}{SUFFIX}")
    return out


def _delete_backup(store: ObjectStore, entry: CatalogEntry) -> None:
    keys = [manifest_key(entry.id)]  # first: a DR never adopts a backup half deleted
    if isinstance(manifest := entry.manifest, PhysicalManifest):
        keys += [*manifest.artifacts, *([manifest.pg_manifest] if manifest.pg_manifest else [])]
    for key in keys:
        store.delete(BUCKET, key)
