"""Switching the running platform to restored data: the whole PostgreSQL (every app
database and the platform's own state) goes back to the restored point, or Redis to a
snapshot.

The restored copy must be stopped and lie under the state directory's ``restores/``. The
supervisor leaves PostgreSQL alone meanwhile; the old cluster stops (its last WAL files are
shipped), its data directory moves aside to ``data.old-STAMP`` (kept until ``comind restore
--discard-old``) and the restored one takes its place. If the restored cluster does not
start, the old one is put back and started: nothing is half-switched. Backups taken after
the restored point are re-entered in the catalog from their manifests in the store.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comind.backup.base import adopt_stored
from comind.backup.catalog import BackupCatalog
from comind.backup.manifest import RedisManifest
from comind.backup.snapshots import install_redis
from comind.backup.wal import WalArchive
from comind.embedded.engine import EngineError
from comind.embedded.external import ExternalPostgres, ExternalRedis
from comind.embedded.platform import EmbeddedPlatform
from comind.embedded.postgres import check_stopped_cluster
from comind.errors import ComindError
from comind.stores.objects import ObjectStore

OLD_PREFIX = "data.old-"
REDIS_DATA = ("appendonly.aof", "appendonlydir", "dump.rdb")  # what Redis 6 and 7 persist


def not_ours(engine: ExternalPostgres) -> ComindError:
    return ComindError(f"the platform runs on the PostgreSQL at {engine.address} "
                       "(COMIND_POSTGRES_URL), which is not its to replace: restore to a "
                       "side copy (--side) or an app's database (--app)")  # fmt: skip


def switch_data(
    platform: EmbeddedPlatform, archive: WalArchive, catalog: BackupCatalog, restored: Path
) -> dict[str, Any]:
    engine = platform.postgres
    if isinstance(engine, ExternalPostgres):
        raise not_ours(engine)
    restores = platform.home.restores.resolve()
    if restores not in restored.resolve().parents:
        raise ComindError(f"{restored} is not a restored copy under {restores}")
    try:
        check_stopped_cluster(restored)  # before the running cluster stops for it
    except EngineError as exc:
        raise ComindError(str(exc)) from None
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    with platform.supervisor.holding(engine):
        engine.stop()
        archive.ship(engine.wal_spool)  # what the old cluster archived as it stopped
        old = engine.swap_data(restored, stamp)
        try:
            engine.start()
        except EngineError as exc:
            engine.stop()
            platform.home.pg_data.rename(restored)
            old.rename(platform.home.pg_data)
            engine.start()
            raise ComindError(f"the restored cluster did not start ({exc}); the platform "
                              "is back on its own data") from None  # fmt: skip
    catalog.pool.check()  # drop the connections the restart broke
    adopted = adopt_stored(archive.store, catalog)
    return {"old_data_dir": str(old), "adopted_backups": adopted}


def switch_redis(
    platform: EmbeddedPlatform, store: ObjectStore, keys: dict[str, bytes],
    manifest: RedisManifest,
) -> dict[str, Any]:  # fmt: skip
    """Replace the platform's Redis data with snapshot ``manifest``: Redis stops, its files
    move aside to ``data.old-STAMP`` and the snapshot becomes its append-only file; if that
    fails, the old files come back. App users are re-created by the next sync."""
    engine, home = platform.redis, platform.home.redis
    if isinstance(engine, ExternalRedis):
        raise ComindError(f"the platform runs on the Redis at {engine.address} "
                          "(COMIND_REDIS_URL), whose files are not its to replace")  # fmt: skip
    old = home / f"{OLD_PREFIX}{datetime.now(UTC):%Y%m%dT%H%M%S}"
    with platform.supervisor.holding(engine):
        engine.stop()
        old.mkdir()
        for name in REDIS_DATA:
            if (home / name).exists():
                (home / name).rename(old / name)
        try:
            count = install_redis(engine.binary, store, keys, manifest, home)
        except BaseException:
            for path in old.iterdir():
                shutil.rmtree(home / path.name, ignore_errors=True)
                (home / path.name).unlink(missing_ok=True)
                path.rename(home / path.name)
            old.rmdir()
            raise
        finally:
            engine.start()
    return {"old_data_dir": str(old), "keys": count, "backup": manifest.id}


def old_data_dirs(*places: Path) -> list[Path]:
    """The data directories earlier switches set aside (PostgreSQL's, Redis's)."""
    return sorted(p for place in places for p in place.glob(f"{OLD_PREFIX}*"))


def discard_old(*places: Path) -> list[Path]:
    gone = old_data_dirs(*places)
    for path in gone:
        shutil.rmtree(path)
    return gone
