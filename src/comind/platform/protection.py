"""The platform's data protection, built from its engines: backups on the spec's schedules,
every backup restore-tested, the backups service that answers requests, the live RPO and
RTO, and the metrics they export. Backups log in as the backup role, made ready by ``live_cluster``
(platform/backup_login.py); restores and tests are provisioning (the superuser)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from comind.backup.catalog import BackupCatalog
from comind.backup.metrics import BackupCollector
from comind.backup.objectives import Objectives
from comind.backup.schedule import BackupScheduler
from comind.backup.tester import RestoreTester
from comind.backup.verify import RedisTools, Verifier
from comind.observe.metrics import REGISTRY
from comind.platform.applied import database_of, resources
from comind.platform.backup_login import live_cluster
from comind.platform.backups import BackupService
from comind.spec import Spec
from comind.stores.postgres import Pool
from comind.stores.redis import default_user

if TYPE_CHECKING:
    from comind.platform.runtime import Platform


class Protection:
    def __init__(self, rt: Platform, pool: Pool, spec: Callable[[], Spec | None]) -> None:
        cluster, catalog = live_cluster(rt.engines, pool), BackupCatalog(pool)
        self.settings = rt.settings
        redis = rt.engines.redis
        self.verifier = Verifier(cluster, rt.wal.store, catalog, rt.wal.keys,
                                 rt.engines.home.restores,
                                 RedisTools(redis.binary, redis.run_as),
                                 rt.settings.backup_test_budget)  # fmt: skip
        self.scheduler = BackupScheduler(cluster, rt.wal.store, catalog, rt.wal.keys, spec)
        self.tester = RestoreTester(self.verifier, catalog, rt.settings.backup_retest_hours * 3600)
        self.service = BackupService(cluster, rt.wal.store, catalog, rt.wal, rt.engines.home,
                                     default_user(redis), partial(database_of, rt),
                                     self.verifier, self.tester.wake)  # fmt: skip
        self.collector = BackupCollector(pool, rt.settings.backup_test_within)
        REGISTRY.register(self.collector)
        self.objectives = Objectives(
            cluster, catalog, rt.wal, lambda: sorted(r.name for r in resources(rt, "database"))
        )
        self._stop = threading.Event()

    def start(self) -> None:
        self.scheduler.start()
        if self.settings.backup_tests:
            self.tester.start()
        threading.Thread(target=self.objectives.run, args=(self._stop,), name="comind-rpo-rto",
                         daemon=True).start()  # fmt: skip

    def stop(self) -> None:
        self._stop.set()
        self.tester.stop()
        self.scheduler.stop()
        REGISTRY.unregister(self.collector)
