"""Retention expires old full backups and the WAL only they needed; the scheduler takes,
prunes and verifies a backup when a database's schedule fires."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from comind.backup.base import BUCKET, physical_backup
from comind.backup.buckets import backup_buckets
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.logical import logical_backup
from comind.backup.pitr import create_restore_point, flush_wal
from comind.backup.retention import prune
from comind.backup.schedule import BackupScheduler
from comind.backup.tester import RestoreTester
from comind.backup.verify import Verifier
from comind.backup.wal import WalArchive
from comind.spec import Spec, load_spec
from comind.stores.objects import FileObjectStore


def test_prune_keeps_the_newest_and_the_wal_they_need(
    verifier: Verifier,
    cluster: Cluster,
    store: FileObjectStore,
    catalog: BackupCatalog,
    keys: KeyRing,
    shopdb: str,
) -> None:
    archive = WalArchive(store, keys)
    taken = []
    for _ in range(3):
        flush_wal(cluster, archive)
        taken.append(physical_backup(cluster, store, catalog, keys))
    flush_wal(cluster, archive)
    others = [logical_backup(cluster, store, catalog, keys, "shop", shopdb),
              backup_buckets(store, catalog, keys, [])]  # fmt: skip
    create_restore_point(cluster, store, "before-prune")
    store.put(BUCKET, "audit/anchor-test.json", b"{}")  # another owner's file
    before = {key for key, _ in store.names(BUCKET)}
    complete = [e for e in catalog.entries() if e.kind == "full" and e.status == "complete"]
    dry = prune(
        catalog, store, archive, keep_full=1, keep_days=None, now=datetime.now(UTC), dry_run=True
    )
    assert taken[-1].id in dry.kept and len(dry.expired) == len(complete) - 1
    assert all(catalog.get(i).status == "complete" for i in dry.expired)  # type: ignore[union-attr]

    done = prune(catalog, store, archive, keep_full=1, keep_days=None, now=datetime.now(UTC))
    assert set(done.expired) == set(dry.expired) and done.wal_removed > 0
    for backup_id in done.expired:
        assert catalog.get(backup_id).status == "expired"  # type: ignore[union-attr]
        assert not list(store.list(BUCKET, f"base/{backup_id}/"))
    assert min(s.name for s in archive.segments() if len(s.name) == 24) >= taken[-1].start_wal
    # only what the policy names went: the expired backups' files and the WAL before the
    # oldest kept backup; nothing of another kind, no restore point, no one else's file
    gone = before - {key for key, _ in store.names(BUCKET)}
    assert gone and all(key.split("/")[1] in done.expired or key.startswith("wal/")
                        for key in gone), sorted(gone)  # fmt: skip
    assert sum(key.startswith("wal/") for key in gone) == done.wal_removed
    assert not any(m.id in key for m in others for key in gone)
    assert {"audit/anchor-test.json", "restore-points/before-prune.json"} <= before - gone
    report = verifier.run(taken[-1])
    assert report.ok, report.problems


def spec_with_schedule(tmp_path: Path) -> Spec:
    (tmp_path / "comind.yaml").write_text(
        textwrap.dedent("""
        platform: {name: s}
        apps:
          a:
            run: "true"
            database: {backup: {schedule: "*/5 * * * *", keep_full: 2}}
          b:
            run: "true"
            database: {backup: {schedule: "0 * * * *", keep_full: 5, keep_days: 3}}
        """)
    )
    return load_spec(tmp_path)


def test_the_scheduler_backs_up_and_prunes_when_a_schedule_fires_and_the_tester_proves_it(
    cluster: Cluster,
    store: FileObjectStore,
    catalog: BackupCatalog,
    keys: KeyRing,
    verifier: Verifier,
    tmp_path: Path,
) -> None:
    spec = spec_with_schedule(tmp_path)
    now = [datetime(2026, 11, 27, 10, 1, tzinfo=UTC)]
    scheduler = BackupScheduler(cluster, store, catalog, keys, lambda: spec, clock=lambda: now[0])
    assert scheduler.tick() is None  # nothing fired since 10:01
    now[0] += timedelta(minutes=4, seconds=30)  # 10:05:30: the 5-minute schedule fired
    backup_id = scheduler.tick()
    assert backup_id is not None
    entry = catalog.get(backup_id)
    assert entry is not None and entry.status == "complete" and entry.verify_status is None
    tester = RestoreTester(verifier, catalog, retest_seconds=3600)
    while (report := tester.step()) is not None and report.backup != backup_id:
        pass  # older untested backups of this module's platform come first
    tested = catalog.get(backup_id)
    assert tested is not None and tested.verify_status == "verified" and tested.verify_count == 1
    assert tested.verify_seconds and tested.restore_seconds  # the RTO's base
    assert scheduler.tick() is None  # not again until the next firing
    nothing = BackupScheduler(cluster, store, catalog, keys, lambda: None)
    assert nothing.tick() is None
