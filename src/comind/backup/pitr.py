"""Point-in-time recovery: the newest backup (with its chain) that ended before the target,
plus the archived WAL replayed up to the target time, restored into a new data directory
and run as a side copy.

Before restoring, the live cluster switches to a new WAL file and the platform ships it, so
everything committed before the request is in the archive. A target before the oldest
backup or in the future is refused with the restorable range.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from comind.backup.base import BUCKET, BackupError
from comind.backup.cluster import Cluster, in_recovery
from comind.backup.keys import KeyRing
from comind.backup.manifest import Lsn, PhysicalManifest, RestorePoint
from comind.backup.prefetch import WalPrefetch
from comind.backup.restore import SideCopy, own, start_side, unpack
from comind.backup.store import AlreadyStored, write_once
from comind.backup.wal import WalArchive
from comind.errors import UsageError
from comind.stores.objects import ObjectStore, ObjectStoreError
from comind.stores.postgres import connect

SHIP_WAIT = 60.0
POINTS = "restore-points/"


def flush_wal(cluster: Cluster, archive: WalArchive, *, timeout: float = SHIP_WAIT) -> str:
    """Close the current WAL file and wait until it is in the archive; returns its name."""
    with connect(cluster.target) as conn:
        # a commit record dated now: recovery to any earlier time finds a record past its
        # target (it stops there) instead of running out of WAL first and refusing
        conn.execute("SELECT txid_current()")
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
    assert row is not None
    name = str(row[0])
    deadline = time.monotonic() + timeout
    while not any(s.name == name for s in archive.segments()):
        if time.monotonic() > deadline:
            raise BackupError(
                f"WAL file {name} did not reach the archive within {timeout:.0f} s "
                "(is the platform running and archiving?)"
            )
        time.sleep(0.2)
    return name


def choose_base(manifests: list[PhysicalManifest], target: datetime) -> PhysicalManifest:
    """The newest physical backup (of any type) that ended before ``target``, or BackupError
    with the range."""
    done = sorted(manifests, key=lambda m: m.stop_time)
    if not done:
        raise BackupError("no complete physical backup to start from: comind backup run")
    usable = [m for m in done if m.stop_time <= target]
    if not usable:
        raise BackupError(
            f"{target.isoformat()} is before the oldest backup; restorable from "
            f"{done[0].stop_time.isoformat()} until now"
        )
    return usable[-1]


def parse_lsn(lsn: str) -> Lsn:
    """An LSN given by a person (``0/3000060``), or BackupError saying what one looks like."""
    try:
        return Lsn.parse(lsn)
    except ValueError:
        raise BackupError(
            f"{lsn!r} is not an LSN (like 0/3000060, as pg_current_wal_lsn() shows)"
        ) from None


def choose_base_lsn(manifests: list[PhysicalManifest], lsn: str) -> PhysicalManifest:
    """The newest physical backup that ended at or before ``lsn``, or BackupError with the
    range."""
    target = parse_lsn(lsn)
    done = sorted(manifests, key=lambda m: m.stop_lsn)
    usable = [m for m in done if m.stop_lsn <= target]
    if not usable:
        oldest = done[0].stop_lsn if done else "no backup yet"
        raise BackupError(f"{lsn} is before the oldest backup; restorable from {oldest}")
    return usable[-1]


def create_restore_point(cluster: Cluster, store: ObjectStore, name: str) -> RestorePoint:
    """A named point to restore to (``--to-restore-point``), remembered in the backup store."""
    _check_name(name)
    if store.head(BUCKET, f"{POINTS}{name}.json") is not None:
        raise BackupError(f"restore point {name} exists already")
    with connect(cluster.reader) as conn:  # the backup role: a WAL record, no data touched
        row = conn.execute("SELECT pg_create_restore_point(%s)::text, now()", (name,)).fetchone()
    assert row is not None
    point = RestorePoint(name=name, lsn=Lsn.parse(row[0]), time=row[1])
    store.create_bucket(BUCKET)
    try:  # the check above answers at once; this one holds against a concurrent twin
        write_once(store, f"{POINTS}{name}.json", [point.model_dump_json().encode()])
    except AlreadyStored:
        raise BackupError(f"restore point {name} exists already") from None
    return point


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,60}", name) or not name.strip("."):
        raise UsageError(f"restore point {name[:60]!r}: use 1 to 60 letters, digits, '_', '.', "
                         "'-' (not dots alone)")  # fmt: skip


def restore_point(store: ObjectStore, name: str) -> RestorePoint:
    _check_name(name)
    try:
        found = store.get(BUCKET, f"{POINTS}{name}.json")
    except ObjectStoreError:
        raise BackupError(
            f"no restore point {name} (create one: comind backup restore-point NAME)"
        ) from None
    return RestorePoint.model_validate_json(found)


def restore_to_time(
    cluster: Cluster,
    store: ObjectStore,
    keys: KeyRing,
    manifests: list[PhysicalManifest],
    target: datetime,
    data_dir: Path,
    *,
    force: bool = False,
    point: str | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> SideCopy:
    """A side copy of the cluster as it was at ``target`` (or at restore point ``point``,
    created at ``target``)."""
    if target.tzinfo is None:
        raise BackupError("give the target time with its zone (e.g. 2026-11-27T10:15:00+00:00)")
    if target > datetime.now(UTC):
        raise BackupError(
            f"{target.isoformat()} is in the future; the newest restorable time is now"
        )
    base = choose_base(manifests, target)
    archive = WalArchive(store, keys)
    flush_wal(cluster, archive)
    goal = (
        {"recovery_target_name": point} if point else {"recovery_target_time": target.isoformat()}
    )
    with prefetching(cluster, archive, base, data_dir) as wal:  # beside the unpack
        unpack(cluster, store, base, keys.all(), data_dir, force=force, progress=progress)
        return replay(cluster, wal, data_dir, goal)


def restore_to_lsn(
    cluster: Cluster, store: ObjectStore, keys: KeyRing, manifests: list[PhysicalManifest],
    lsn: str, data_dir: Path, *, force: bool = False,
) -> SideCopy:  # fmt: skip
    """A side copy of the cluster as it was at WAL position ``lsn``."""
    base = choose_base_lsn(manifests, lsn)
    newest = cluster.position().lsn
    if parse_lsn(lsn) > newest:
        raise BackupError(f"{lsn} is in the future; the newest position is {newest}")
    archive = WalArchive(store, keys)
    flush_wal(cluster, archive)
    goal = {"recovery_target_lsn": lsn, "recovery_target_inclusive": "true"}
    with prefetching(cluster, archive, base, data_dir) as wal:
        unpack(cluster, store, base, keys.all(), data_dir, force=force)
        return replay(cluster, wal, data_dir, goal)


@contextmanager
def prefetching(
    cluster: Cluster, archive: WalArchive, base: PhysicalManifest, data_dir: Path
) -> Iterator[WalPrefetch]:
    """The WAL a replay of ``base`` into ``data_dir`` reads, fetched from now on; removed
    after (replayed or failed: no longer needed)."""
    wal = WalPrefetch(archive, base.start_wal, data_dir.parent / f"{data_dir.name}-wal",
                      cluster.run_as).start()  # fmt: skip
    try:
        yield wal
    finally:
        wal.close()


def replay(
    cluster: Cluster, wal: WalPrefetch, data_dir: Path, goal: dict[str, str],
    *, trusted: bool = False,
) -> SideCopy:  # fmt: skip
    """Start the backup unpacked in ``data_dir`` with the archived WAL ``wal`` fetches,
    replayed to ``goal`` (recovery target settings; none: every archived WAL file) and
    promoted; returns the running copy (``trusted``: on a private socket that asks no
    password, see :func:`start_side`)."""
    (data_dir / "recovery.signal").touch()
    own(data_dir, cluster)
    settings = {"restore_command": wal.restore_command, **goal}
    if goal:
        settings["recovery_target_action"] = "promote"
    side = start_side(cluster, data_dir, settings, trusted=trusted)
    try:
        _wait_promoted(side)
        wal.check()  # a fetch that failed ended the replay early: not a restore
    except BaseException:
        side.stop()
        raise
    return side


def _wait_promoted(side: SideCopy, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if in_recovery(side.target) is False:
            return
        if side.process.poll() is not None:
            raise BackupError("the restored copy stopped during recovery (see its log beside it)")
        time.sleep(0.3)
    raise BackupError(f"recovery did not finish within {timeout:.0f} s")
