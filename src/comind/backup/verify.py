"""Proving a backup by restoring it: every kind, into something thrown away afterwards.

- **full, incr, diff**: the chain restored into a scratch directory and combined, every file
  and the WAL it carries checked against PostgreSQL's own backup manifest
  (``pg_verifybackup``), the copy started on a free port until PostgreSQL reaches
  consistency, every index and table checked with ``pg_amcheck``, and the row count of every
  table recorded at backup time (those nobody wrote to meanwhile) compared;
- **logical**: the dump restored into a blank server of its own (backup/blank.py: no app's
  session can see or touch what the test makes), through a stand-in of the app's role, so
  none of the app's code runs with more than its rights; its row counts compared and
  ``pg_amcheck`` run on it, then the server removed;
- **objects**: every object the backup lists is present in the backup store, and a sample
  of them decrypts to the checksum (MD5 etag) recorded at backup time;
- **redis**: the snapshot served by a throwaway ``redis-server`` as Redis' own user (Redis
  checks the RDB's checksum as it loads), its key count compared when the backup could
  record it exactly.

Row counts are read as the backup role (a stand-in of it on a restored copy), tables only,
found by the catalog's (schema, table), never as the superuser: a restored database holds
the app's code, and counting a view would run it. ``pg_amcheck`` runs as the superuser:
amcheck runs an index's functions as the table's owner, in a security-restricted operation.

Each test records its outcome and timings in the catalog: how long it took, how long the
restore took until the copy served (the base of the RTO), and the WAL replay rate it saw.
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from comind.backup.base import BUCKET, BackupError
from comind.backup.blank import blank_server
from comind.backup.buckets import blob_key
from comind.backup.catalog import BackupCatalog, RestoreTiming
from comind.backup.cluster import Cluster, count_rows, countable, create_group
from comind.backup.crypto import open_stream
from comind.backup.keys import KeyRing
from comind.backup.logical import restore_logical
from comind.backup.manifest import (
    LogicalManifest,
    Manifest,
    ObjectsManifest,
    PhysicalManifest,
    RedisManifest,
    TableCounts,
)
from comind.backup.presence import missing_files
from comind.backup.restore import SideCopy, own, start_side, unpack
from comind.backup.snapshots import restore_redis
from comind.embedded.osuser import RunAs
from comind.embedded.process import engine_env
from comind.spec.names import BACKUP_ROLE, role_name
from comind.stores.objects import ObjectStore
from comind.stores.pg_standins import stand_in
from comind.stores.postgres import PgTarget, connect
from comind.stores.redis_persistence import Persistence

log = logging.getLogger("comind.backup.verify")
RESTORED = "restored"  # the database a logical test restores into, in a blank server
SAMPLE = 32  # objects of a bucket backup read back and checksummed per test
MIN_REPLAY = 16 << 20  # bytes: below a segment, a replay rate measures start-up, not replay


@dataclass
class Report:
    backup: str
    kind: str = ""
    ok: bool = True
    tables_compared: int = 0
    objects_checked: int = 0
    keys: int | None = None
    problems: list[str] = field(default_factory=list)
    amcheck: str = "not run"
    verifybackup: str = "not run"
    seconds: float = 0.0
    restore_seconds: float | None = None
    replay_bytes_per_second: float | None = None


@dataclass(frozen=True)
class RedisTools:
    binary: Path
    run_as: RunAs


@dataclass(frozen=True)
class Verifier:
    """What restore tests need: the live cluster (its tools, its user), the backup store
    and keys, a scratch directory, and how to run Redis."""

    cluster: Cluster
    store: ObjectStore
    catalog: BackupCatalog
    keyring: KeyRing
    scratch: Path
    redis: RedisTools | None = None
    budget: float = 7200.0  # seconds a test may run on a restored copy before it is stopped

    def run(self, manifest: Manifest) -> Report:
        """Restore-test ``manifest``'s backup and record the outcome in the catalog (two
        tests of one backup may run at once: each restores into a place of its own)."""
        report, began = Report(manifest.id, manifest.type), time.monotonic()
        try:
            self._test(manifest, report, secrets.token_hex(4))
        except BackupError as exc:
            report.problems.append(str(exc))
        except Exception as exc:  # recorded all the same: else the tester takes it up forever
            # the type alone: the message may be text the app's code raised (see tester.py)
            log.error("restore test of backup %s stopped: %s", manifest.id, type(exc).__name__)
            report.problems.append(f"the test stopped: {type(exc).__name__}: {exc}")
        report.ok = not report.problems
        report.seconds = round(time.monotonic() - began, 3)
        timing = RestoreTiming(report.seconds, report.restore_seconds,
                               report.replay_bytes_per_second)  # fmt: skip
        problems = "; ".join(report.problems)[:2000] or None
        self.catalog.verified(manifest.id, report.ok, problems, timing=timing)
        return report

    @property
    def keys(self) -> dict[str, bytes]:
        return self.keyring.all()

    def _test(self, manifest: Manifest, report: Report, run: str) -> None:
        if isinstance(manifest, PhysicalManifest):
            self._physical(manifest, report, self.scratch / f"verify-{manifest.id}-{run}")
        elif isinstance(manifest, LogicalManifest):
            self._logical(manifest, report, self.scratch / f"verify-{manifest.id}-{run}")
        elif isinstance(manifest, ObjectsManifest):
            self._objects(manifest, report)
        else:
            self._redis(manifest, report, self.scratch / f"verify-{manifest.id}-{run}")

    def _physical(self, manifest: PhysicalManifest, report: Report, scratch: Path) -> None:
        side: SideCopy | None = None
        began = time.monotonic()
        try:
            unpack(self.cluster, self.store, manifest, self.keys, scratch, force=True)
            _verifybackup(self.cluster, scratch, report)
            own(scratch, self.cluster)
            starting = time.monotonic()
            # trusted: a backup of a server whose superuser's password this platform does
            # not know (taken on COMIND_POSTGRES_URL, tested after a recovery) still starts
            side = start_side(self.cluster, scratch, trusted=True)
            report.restore_seconds = round(time.monotonic() - began, 3)
            replayed = manifest.stop_lsn.value - manifest.start_lsn.value
            if replayed >= MIN_REPLAY:
                report.replay_bytes_per_second = replayed / (time.monotonic() - starting)
            with _within(side, self.budget, report):
                with stand_in(side.target, BACKUP_ROLE, bypass_rls=True) as login:
                    _compare(login, manifest.tables, report)
                _amcheck(self.cluster, side.target, report, "--all")
        finally:
            if side is not None:
                side.stop(remove=True)
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.with_name(f"{scratch.name}.log").unlink(missing_ok=True)  # the copy's

    def _logical(self, manifest: LogicalManifest, report: Report, scratch: Path) -> None:
        began, owner = time.monotonic(), role_name(manifest.app)
        with blank_server(self.cluster, scratch) as side, _within(side, self.budget, report):
            blank = Cluster(side.target, self.cluster.bin_dir, self.cluster.run_as)
            create_group(side.target, owner)
            restore_logical(blank, self.store, self.keys, manifest, RESTORED, owner=owner)
            report.restore_seconds = round(time.monotonic() - began, 3)
            with stand_in(side.target, "pg_read_all_data", bypass_rls=True) as login:
                _compare(login, {RESTORED: manifest.tables.get(manifest.database, {})}, report)
            _amcheck(self.cluster, side.target, report, "--database", RESTORED)

    def _objects(self, manifest: ObjectsManifest, report: Report) -> None:
        buckets = manifest.buckets
        listed = sorted({(b, etag) for b, names in buckets.items() for etag in names.values()})
        missing = set(missing_files(self.store, manifest))
        if missing:
            report.problems.append(f"{len(missing)} file(s) missing from the backup store, "
                                   f"e.g. {min(missing)}")  # fmt: skip
        began = time.monotonic()
        sample = random.Random(manifest.id).sample(listed, min(SAMPLE, len(listed)))
        for bucket, etag in sample:
            if blob_key(bucket, etag) in missing:
                continue
            report.objects_checked += 1
            digest = hashlib.md5(usedforsecurity=False)
            try:
                for block in open_stream(self.store.get_stream(BUCKET, blob_key(bucket, etag)),
                                         self.keys):  # fmt: skip
                    digest.update(block)
            except Exception as exc:  # corrupt: the authenticated decryption refuses it
                report.problems.append(f"{bucket} object {etag}: unreadable: {exc}")
                continue
            if digest.hexdigest() != etag:
                report.problems.append(f"{bucket} object {etag}: its content has another checksum")
        report.restore_seconds = round(time.monotonic() - began, 3)

    def _redis(self, manifest: RedisManifest, report: Report, directory: Path) -> None:
        if self.redis is None:
            raise BackupError("no redis-server to restore a Redis snapshot with")
        began, copy = time.monotonic(), None
        try:
            copy = restore_redis(self.redis.binary, self.store, self.keys, manifest, directory,
                                 run_as=self.redis.run_as)  # fmt: skip
            report.restore_seconds = round(time.monotonic() - began, 3)
            report.keys = int(Persistence(copy.target).facts()["keys"])
            if manifest.keys_exact and report.keys != manifest.keys:
                report.problems.append(f"{report.keys} keys, {manifest.keys} at backup time")
        finally:
            if copy is not None:
                copy.stop()
            shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _within(side: SideCopy, seconds: float, report: Report) -> Iterator[None]:
    """Stop ``side`` once ``seconds`` have passed (its sessions end, so the tools working on
    it fail): code of the app's that sleeps or waits must not hold the tests up for ever."""
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        side.stop()

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception:
        if not expired.is_set():
            raise  # a failure of its own; else the stop caused it
    finally:
        timer.cancel()
        if expired.is_set():
            report.problems.append(f"the test ran over its budget of {seconds:.0f} s "
                                   "and was stopped")  # fmt: skip


def _compare(login: PgTarget, tables: TableCounts, report: Report) -> None:
    """Row counts of the restored copy against ``tables``, read through ``login`` (never
    the superuser), table by table as the catalog names them (never a view)."""
    for db, counts in tables.items():
        expected = {name: rows for name, rows in counts.items() if rows is not None}
        if not expected:
            continue  # every table was written to during the backup: nothing fixed to compare
        with connect(login.with_db(db)) as conn:
            found = countable(conn)
            for name, rows in sorted(expected.items()):
                if name not in found:
                    report.problems.append(f"{db}.{name}: missing from the restored copy")
                    continue
                where = found[name]
                if where is None:
                    continue  # two tables read alike: neither can be told from the name
                got = count_rows(conn, *where)
                report.tables_compared += 1
                if got != rows:
                    report.problems.append(f"{db}.{name}: {got} rows, {rows} at backup time")


def _verifybackup(cluster: Cluster, data_dir: Path, report: Report) -> None:
    tool = Path(cluster.tool("pg_verifybackup"))
    if not tool.exists() or not (data_dir / "backup_manifest").exists():
        report.verifybackup = "pg_verifybackup or the backup manifest not available"
        return
    result = subprocess.run([str(tool), "--quiet", str(data_dir)], capture_output=True,
                            text=True, check=False, timeout=3600, env=engine_env())  # fmt: skip
    report.verifybackup = "passed" if result.returncode == 0 else "failed"
    if result.returncode != 0:
        lines = (result.stdout + result.stderr).strip().splitlines()
        report.problems.append("pg_verifybackup: " + " | ".join(lines[:5]))


def _amcheck(cluster: Cluster, target: PgTarget, report: Report, *which: str) -> None:
    tool = Path(cluster.tool("pg_amcheck"))
    if not tool.exists():
        report.amcheck = "pg_amcheck not available"
        return
    result = subprocess.run(
        [str(tool), "-h", target.host, "-p", str(target.port), "-U", target.user,
         *which, "--install-missing", "--no-password"],
        capture_output=True, text=True, env=cluster.env(target), check=False, timeout=3600,
    )  # fmt: skip
    if result.returncode == 0:
        report.amcheck = "passed"
    else:
        report.amcheck = "failed"
        lines = (result.stdout + result.stderr).strip().splitlines()
        report.problems.append("pg_amcheck: " + " | ".join(lines[:5]))
