"""Disaster recovery: a platform rebuilt in an empty state directory (a new machine) from a
copy of its backup store and its exported secrets.

In order: the secrets (backup keys, engine passwords, the key sealing app credentials, API
tokens) from the passphrase-protected export; the backup store copied in; PostgreSQL from
the newest physical backup (with its chain) and every archived WAL file after it, which
brings back the app databases and the platform's own metadata (GitOps state, queues,
catalogs) as of the last archived transaction; the buckets as of the newest objects backup;
Redis from the newest snapshot. The next ``comind up --repo`` re-syncs from Git.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from comind.backup.base import BUCKET, BackupError, adopt_stored, stored_manifests, taken_at
from comind.backup.buckets import restore_bucket
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster, own_superuser
from comind.backup.keys import Envelope, KeyRing, open_export
from comind.backup.manifest import Manifest, ObjectsManifest, PhysicalManifest, RedisManifest
from comind.backup.pitr import prefetching, replay
from comind.backup.restore import unpack
from comind.backup.snapshots import install_redis
from comind.backup.store import write_once
from comind.backup.wal import WalArchive
from comind.embedded.home import StateDir
from comind.embedded.postgres import SUPERUSER, PostgresEngine
from comind.embedded.redis import RedisEngine
from comind.embedded.settings import Settings
from comind.stores.object_store import ObjectSource
from comind.stores.objects import FileObjectStore, ObjectStore, valid_bucket
from comind.stores.platform_db import PLATFORM_DB
from comind.stores.postgres import PgTarget, make_pool

Step = Callable[[str], None]
M = TypeVar("M", PhysicalManifest, ObjectsManifest, RedisManifest)


@dataclass
class Rebuilt:
    home: str
    postgres_from: str
    wal_files: int
    last_wal: str | None = None
    buckets: dict[str, int] = field(default_factory=dict)
    objects_from: str | None = None
    redis_from: str | None = None
    redis_keys: int | None = None


def backup_source(source: Path) -> tuple[ObjectStore, str]:
    """The store and bucket holding the backups copied into the directory ``source`` (the
    bucket itself, or a copy of a state directory's ``objects`` holding it), read as a file
    store: from here on the copy is reached through the object-store protocol only."""
    for root, bucket in ((source.parent, source.name), (source, BUCKET),
                         (StateDir(source).objects, BUCKET)):  # fmt: skip
        if (root / bucket / "base").is_dir():
            if bucket != BUCKET and not valid_bucket(bucket):
                raise BackupError(f"{source}: name the copy's directory like a bucket (3-63 "
                                  "lowercase letters, digits, dots, dashes)")  # fmt: skip
            return FileObjectStore(root), bucket
    raise BackupError(
        f"{source} holds no Comind backups (expected base/ and wal/ of the {BUCKET} bucket)"
    )


def refuse_foreign(copy: tuple[ObjectSource, str], store: ObjectStore) -> None:
    """Refuse a backup store the new platform is told to use that already holds backups
    the copy does not: the replay reads every archived WAL file there, so another platform's
    would be replayed into this one (an earlier attempt's copies are the copy's own). A key
    the copy has too must be the same size (WAL segment names repeat across clusters; the
    copy skips a key already there)."""
    if BUCKET not in store.buckets():
        return
    source, bucket = copy
    sizes = {info.key: info.size for info in source.list(bucket)}
    foreign = next((i.key for i in store.list(BUCKET) if sizes.get(i.key) != i.size), None)
    if foreign is not None:
        raise BackupError(f"the new platform's backup store already holds backups that are not "
                          f"in the copy (e.g. {foreign}): give it a store of its own (another "
                          "COMIND_OBJECT_STORE prefix or COMIND_BACKUP_STORE)")  # fmt: skip


def copy_backups(source: ObjectSource, bucket: str, target: ObjectStore) -> int:
    """Every object of the backups' ``bucket`` in ``source`` streamed into ``target``'s
    backup bucket; returns how many."""
    target.create_bucket(BUCKET)
    there = {key for key, _ in target.names(BUCKET)}  # an earlier attempt's (files land whole)
    copied = 0
    for key, _ in source.names(bucket):
        if key not in there:
            write_once(target, key, source.get_stream(bucket, key))
        copied += 1
    return copied


def rebuild(
    source: Path | tuple[ObjectSource, str], home: StateDir, settings: Settings,
    exported: bytes, passphrase: str, step: Step = lambda s: None,
    envelope: Callable[[Path], Envelope] | None = None, store: ObjectStore | None = None,
) -> Rebuilt:  # fmt: skip
    """Rebuild the platform whose backups are in ``source`` (a directory copy of the backup
    bucket, or any source and the bucket in it holding them) into ``home`` (empty). The
    backups are copied into ``store`` and the buckets go back there (None: the new state
    directory's store; else the stores the new platform is told to use, on S3)."""
    copy = backup_source(source) if isinstance(source, Path) else source
    if next(iter(copy[0].names(copy[1], "base/")), None) is None:
        raise BackupError("the copy holds no Comind backups (expected base/ and wal/ of the "
                          f"{BUCKET} bucket)")  # fmt: skip
    open_export(exported, passphrase)  # a wrong passphrase fails before anything is written
    if home.root.exists() and any(home.root.iterdir()):
        raise BackupError(f"{home.root} is not empty: a disaster recovery builds a new state "
                          "directory (choose another --home)")  # fmt: skip
    if store is not None:
        refuse_foreign(copy, store)
    try:
        keys = KeyRing(home.secrets, envelope(home.secrets) if envelope else None)
        return _rebuild(copy, home, settings, (keys, exported, passphrase), step, store)
    except BaseException:
        shutil.rmtree(home.root, ignore_errors=True)  # it was empty: a retry starts clean
        raise


def _rebuild(
    copy: tuple[ObjectSource, str], home: StateDir, settings: Settings,
    export: tuple[KeyRing, bytes, str], step: Step, given: ObjectStore | None,
) -> Rebuilt:  # fmt: skip
    home.create()
    keys, exported, passphrase = export
    keys.load(exported, passphrase, platform=True)
    step("copying the backup store")
    store = given or FileObjectStore(home.objects)  # the new platform's own
    copy_backups(*copy, store)
    manifests = stored_manifests(store)  # read once: every step below picks from them
    out = _postgres(store, keys, home, settings, manifests, step)
    step("restoring the buckets")
    _buckets(store, keys, manifests, out)
    step("restoring Redis")
    if (snapshot := _newest(manifests, RedisManifest)) is not None:
        binary = RedisEngine(home, settings).binary
        out.redis_keys = install_redis(binary, store, keys.all(), snapshot, home.redis)
        out.redis_from = snapshot.id
    return out


def _postgres(
    store: ObjectStore, keys: KeyRing, home: StateDir, settings: Settings,
    manifests: list[Manifest], step: Step,
) -> Rebuilt:  # fmt: skip
    base = _newest(manifests, PhysicalManifest)
    if base is None:
        raise BackupError("the backup store holds no complete physical backup to rebuild from")
    engine = PostgresEngine(home, settings)  # its password is the restored one
    cluster = Cluster(PgTarget(settings.host, 0, SUPERUSER, engine.password, "postgres"),
                      engine.bin_dir, engine.run_as)  # fmt: skip
    step(f"restoring PostgreSQL from {base.id}")
    archive = WalArchive(store, keys)
    wal = [n for n in archive.segment_names() if n >= base.start_wal]
    cluster.run_as.chown(home.postgres)  # the engine's own directory, as it starts there
    with prefetching(cluster, archive, base, home.pg_data) as fetched:  # beside the unpack
        unpack(cluster, store, base, keys.all(), home.pg_data)
        step(f"replaying {len(wal)} archived WAL files")
        side = replay(cluster, fetched, home.pg_data, {}, trusted=True)
    try:
        # its password was in the server's URL (not exported) for a platform that ran on a
        # PostgreSQL of its own (COMIND_POSTGRES_URL); the new engine's is the new home's
        own_superuser(side.target, SUPERUSER, engine.password)
        # backups newer than the last archived transaction are not in its catalog yet
        with make_pool(side.target.with_db(PLATFORM_DB), min_size=1, max_size=1) as pool:
            adopt_stored(store, BackupCatalog(pool))
    finally:
        side.stop()
    return Rebuilt(str(home.root), base.id, len(wal), wal[-1] if wal else None)


def _buckets(store: ObjectStore, keys: KeyRing, manifests: list[Manifest], out: Rebuilt) -> None:
    manifest = _newest(manifests, ObjectsManifest)
    if manifest is None:
        return
    for bucket in manifest.buckets:
        out.buckets[bucket] = restore_bucket(store, keys.all(), manifest, bucket)
    out.objects_from = manifest.id


def _newest(manifests: list[Manifest], kind: type[M]) -> M | None:
    """The newest manifest of ``kind`` (physical: of any type, full, incr or diff)."""
    return max((m for m in manifests if isinstance(m, kind)), key=taken_at, default=None)
