"""RPO and RTO, live: what a disaster now would lose, and how long getting back would take.

**RPO** (``comind_backup_rpo_seconds``): the age of the oldest change no restore could bring
back. A point is restorable when a physical backup that passed its restore test precedes it
and the WAL up to it is in the backup store. So: if the cluster's WAL has not moved past the
end of the newest archived segment, nothing is at risk (0); else the changes since that end
are, and they began after the last moment the WAL position was still within it (sampled
every few seconds, so the figure is exact to a sample). With no tested physical backup,
nothing is restorable: the RPO is the platform's whole age. Stopping WAL archiving makes it
grow from the first change after.

**RTO** (``comind_backup_rto_seconds``): the measured restore time of the newest tested
physical backup (its restore test timed unpacking and start-up until the copy served), plus
replaying the WAL written since it at the replay rate restore tests measured (a default
until one did). It grows when a bigger backup is tested and as WAL accumulates after it.

A physical backup and the WAL cover the whole cluster, so every app database has the
cluster's figures (label ``database``; ``all``: the cluster), which the spec's per-database
objectives (``backup: {rpo, rto}``) are alerted against.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime

from prometheus_client import Gauge

from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.manifest import CatalogEntry, Lsn
from comind.backup.wal import WalArchive
from comind.observe.metrics import REGISTRY

log = logging.getLogger("comind.backup.objectives")
SEGMENT = 16 << 20  # bytes: the embedded cluster's WAL segment size
DEFAULT_REPLAY = 64 << 20  # bytes/s assumed until a restore test measured a replay
SAMPLE_SECONDS = 5.0
CLUSTER = "all"
RPO = Gauge("comind_backup_rpo_seconds", "Age of the oldest change no restore could bring back "
            "(0: every change is in the backup store behind a tested backup).", ["database"],
            registry=REGISTRY)  # fmt: skip
RTO = Gauge("comind_backup_rto_seconds", "Estimated time to restore now: the newest tested "
            "backup's measured restore plus replaying the WAL since it.", ["database"],
            registry=REGISTRY)  # fmt: skip


def segment_end(name: str) -> Lsn:
    """Where the WAL segment file ``name`` (24 hex digits) ends."""
    log_id, segment = int(name[8:16], 16), int(name[16:24], 16)
    return Lsn((log_id << 32) + (segment + 1) * SEGMENT)


class Objectives:
    def __init__(self, cluster: Cluster, catalog: BackupCatalog, archive: WalArchive,
                 databases: Callable[[], list[str]]) -> None:  # fmt: skip
        self.cluster, self.catalog, self.archive = cluster, catalog, archive
        self.databases = databases
        # (time, WAL position), oldest first: none older than the last one the archive covers
        self.samples: deque[tuple[datetime, Lsn]] = deque(maxlen=100_000)
        self._born: datetime | None = None  # the platform's first migration: it never moves

    def sample(self) -> tuple[float, float]:
        """Measure both now and export them; (rpo, rto) in seconds."""
        now = self.cluster.position()
        self.samples.append((now.time, now.lsn))
        base = self.catalog.newest_tested_physical()
        rpo = self._rpo(now.time, now.lsn, base)
        rto = self._rto(now.lsn, base)
        for database in (CLUSTER, *self.databases()):
            RPO.labels(database).set(rpo)
            RTO.labels(database).set(rto)
        return rpo, rto

    def _rpo(self, now: datetime, lsn: Lsn, base: CatalogEntry | None) -> float:
        newest = self.archive.newest()
        archived = segment_end(newest.name) if newest else Lsn(0)
        while len(self.samples) > 1 and self.samples[1][1] <= archived:
            self.samples.popleft()  # the archive covers a later one: never needed again
        if base is None or newest is None or base.stop_lsn is None:
            self._born = self._born or self.catalog.platform_born()
            return (now - self._born).total_seconds()
        if lsn <= archived:
            return 0.0
        at, seen = self.samples[0]
        since = at if seen <= archived else newest.modified  # before our samples: when shipped
        return max(0.0, (now - since).total_seconds())

    def _rto(self, lsn: Lsn, base: CatalogEntry | None) -> float:
        if base is None or base.restore_seconds is None or base.stop_lsn is None:
            return 0.0  # nothing to restore from: the RPO says so
        rate = base.replay_bytes_per_second or self.catalog.replay_rate() or DEFAULT_REPLAY
        return base.restore_seconds + max(0, lsn.value - base.stop_lsn.value) / rate

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(SAMPLE_SECONDS):
            try:
                self.sample()
            except Exception as exc:  # the database restarting: next sample
                log.debug("RPO/RTO not measured: %s", exc)
