"""Backup metrics: WAL archiving as the platform ships the spool, and per-kind backup state
read from the catalog at scrape time (backups are taken by CLI processes too)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from comind.backup.catalog import BackupCatalog
from comind.observe.metrics import REGISTRY
from comind.stores.postgres import Pool

log = logging.getLogger("comind.backup.metrics")

WAL_LAG = Gauge(
    "comind_backup_wal_archive_lag_seconds",
    "Age of the oldest WAL file waiting to be shipped to the backup store (the RPO).",
    registry=REGISTRY,
)
WAL_SHIPPED = Counter(
    "comind_backup_wal_segments_archived_total",
    "WAL files shipped to the backup store, compressed and encrypted.",
    registry=REGISTRY,
)
OVERDUE = Gauge(
    "comind_backup_overdue_seconds",
    "How long ago a backup schedule fired without a complete physical backup since (0: none due).",
    registry=REGISTRY,
)
WAL_FAILURES = Counter(
    "comind_backup_wal_ship_failures_total",
    "Attempts to ship a WAL file that failed (it stays spooled and is retried).",
    registry=REGISTRY,
)


TESTS = Counter(
    "comind_backup_restore_tests_total",
    "Restore tests of backups, by kind and outcome (passed, failed).",
    ["kind", "outcome"],
    registry=REGISTRY,
)


class BackupCollector(Collector):
    """Last successful backup and verification time, size and duration per kind."""

    def __init__(self, pool: Pool, test_within: float = 3600.0) -> None:
        self.catalog, self.test_within = BackupCatalog(pool), test_within

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # nothing to reserve: a second platform in one process (tests) may register

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = self.families()
        try:
            latest, tests = self.catalog.latest_by_kind(), self.catalog.test_state()
        except Exception as exc:  # the database is restarting: report nothing this scrape
            log.debug("backup catalog unavailable: %s", exc)
            return iter(families)
        last_ok, last_verified, size, seconds, failed, overdue = families
        for kind, (failures, untested) in tests.items():
            failed.add_metric([kind], float(failures))
            overdue.add_metric([kind], max(0.0, untested - self.test_within))
        for kind, row in latest.items():
            if row.finished_at is not None:
                last_ok.add_metric([kind], row.finished_at.timestamp())
                size.add_metric([kind], float(row.size_bytes))
                seconds.add_metric([kind], row.manifest.seconds if row.manifest else 0.0)
            if row.verified_at is not None:
                last_verified.add_metric([kind], row.verified_at.timestamp())
        return iter(families)

    @staticmethod
    def families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "comind_backup_last_success_timestamp_seconds",
                "When the last complete backup of the kind finished.",
                labels=["kind"],
            ),
            GaugeMetricFamily(
                "comind_backup_last_verified_timestamp_seconds",
                "When a restore last verified a backup of the kind.",
                labels=["kind"],
            ),
            GaugeMetricFamily(
                "comind_backup_size_bytes",
                "Stored size of the last complete backup of the kind.",
                labels=["kind"],
            ),
            GaugeMetricFamily(
                "comind_backup_duration_seconds",
                "How long the last complete backup of the kind took.",
                labels=["kind"],
            ),
            GaugeMetricFamily(
                "comind_backup_restore_test_failed",
                "Complete backups of the kind whose last restore test failed.",
                labels=["kind"],
            ),
            GaugeMetricFamily(
                "comind_backup_restore_test_overdue_seconds",
                "How long past the time allowed (COMIND_BACKUP_TEST_WITHIN, 1 h) the oldest "
                "backup of the kind waits for its first restore test (0: none waits that long).",
                labels=["kind"],
            ),
        ]
