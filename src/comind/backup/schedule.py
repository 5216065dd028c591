"""Scheduled backups from comind.yaml: every app database's ``backup: {schedule, keep_full,
keep_days}``. A physical backup holds the whole cluster, so the platform takes one full
backup whenever any database's schedule fires, keeps the most generous retention any of them
asks for, and prunes. The restore tester (backup/tester.py) proves the new backup minutes
later, as it does every backup."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import croniter

from comind.backup.base import complete_physical, physical_backup
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.metrics import OVERDUE
from comind.backup.retention import prune
from comind.backup.wal import WalArchive
from comind.spec import Spec
from comind.stores.objects import ObjectStore

log = logging.getLogger("comind.backup.schedule")


@dataclass(frozen=True)
class Policy:
    schedules: tuple[str, ...]
    keep_full: int
    keep_days: int | None


def policy(spec: Spec | None) -> Policy | None:
    """The platform's backup policy from its databases' ``backup:`` (None: no schedule)."""
    found = [
        a.database.backup
        for a in (spec.apps.values() if spec else [])
        if a.database is not None and a.database.backup is not None
    ]
    schedules = tuple(sorted({b.schedule for b in found if b.schedule}))
    if not schedules:
        return None
    days = [b.keep_days for b in found if b.keep_days is not None]
    return Policy(schedules, max(b.keep_full for b in found), max(days) if days else None)


def due(schedules: tuple[str, ...], last: datetime, now: datetime) -> bool:
    """Whether some schedule fired after ``last`` and by ``now``."""
    return any(croniter(s, last).get_next(datetime) <= now for s in schedules)


def overdue_seconds(
    schedules: tuple[str, ...], newest: datetime | None, started: datetime, now: datetime
) -> float:
    """How late the backup is: the time since the first schedule fire after the newest
    complete backup (or after the platform started, when that is later); 0 when no fire
    has come since."""
    since = max(newest, started) if newest is not None else started
    due_at = min(croniter(s, since).get_next(datetime) for s in schedules)
    return max(0.0, (now - due_at).total_seconds())


class BackupScheduler:
    def __init__(
        self,
        cluster: Cluster,
        store: ObjectStore,
        catalog: BackupCatalog,
        keys: KeyRing,
        current: Callable[[], Spec | None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cluster, self.store, self.catalog, self.keys = cluster, store, catalog, keys
        self.current, self.clock = current, clock
        self.last = self.started = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="comind-backups", daemon=True)
        # its own thread: a long backup or verify must not freeze the overdue gauge
        self._watcher = threading.Thread(target=self._watch_loop, name="comind-backup-watch",
                                         daemon=True)  # fmt: skip

    def start(self) -> None:
        self._thread.start()
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in (self._thread, self._watcher):
            if thread.is_alive():
                thread.join(timeout=600)

    def _loop(self) -> None:
        while not self._stop.wait(30):
            try:
                self.tick()
            except Exception as exc:  # a failed backup is in the catalog; try at the next fire
                log.warning("scheduled backup failed: %s", exc)

    def _watch_loop(self) -> None:
        while not self._stop.wait(30):
            try:
                self.watch()
            except Exception as exc:  # the database is restarting: next round
                log.debug("backup schedule not checked: %s", exc)

    def watch(self) -> float:
        """Set (and return) how overdue the scheduled backup is."""
        rules = policy(self.current())
        if rules is None:
            OVERDUE.set(0.0)
            return 0.0
        done = [e.finished_at for e in complete_physical(self.catalog, limit=50) if e.finished_at]
        late = overdue_seconds(rules.schedules, max(done, default=None), self.started, self.clock())
        OVERDUE.set(late)
        return late

    def tick(self) -> str | None:
        """Take a backup and prune when a schedule fired; returns the backup id."""
        rules, now = policy(self.current()), self.clock()
        if rules is None or not due(rules.schedules, self.last, now):
            return None
        self.last = now
        manifest = physical_backup(self.cluster, self.store, self.catalog, self.keys)
        log.info("scheduled backup %s taken", manifest.id)
        prune(
            self.catalog,
            self.store,
            WalArchive(self.store, self.keys),
            keep_full=rules.keep_full,
            keep_days=rules.keep_days,
            now=now,
        )
        return manifest.id
