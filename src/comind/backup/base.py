"""Physical backups: ``pg_basebackup`` streamed as one tar (WAL to consistency included),
compressed and encrypted on the fly into the backup store, with a manifest.

Three types: ``full``; ``incr``, which holds only the blocks changed since the previous
physical backup; ``diff``, the blocks changed since the last full one. The latter two need
PostgreSQL 17+ (``pg_basebackup --incremental`` against the parent's ``backup_manifest``,
which is caught from every backup's tar and stored beside it); on an older server, or with
no parent yet, a full backup is taken instead and the manifest says why.

The artifact is renamed into place only once ``pg_basebackup`` exited successfully and the
last byte is written; the catalog row turns 'complete' only after the manifest is stored.
A backup killed or failing at any point therefore leaves no artifact and no complete
backup, and the next one starts clean. Table row counts and write counters are recorded
before and after, so a verify can compare every table no one wrote to meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comind.backup.basebackup import NoServerCompression, compressed_basebackup, supported
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster, stable_counts, table_stats
from comind.backup.crypto import open_stream, seal_stream
from comind.backup.errors import BackupError as BackupError  # importers know it here
from comind.backup.keys import KeyRing
from comind.backup.manifest import (
    CatalogEntry,
    Manifest,
    PhysicalKind,
    PhysicalManifest,
    manifest_json,
    parse_manifest,
)
from comind.backup.store import BUCKET as BUCKET  # importers know it here
from comind.backup.store import write_once
from comind.backup.tarscan import MemberCatcher
from comind.stores.objects import ObjectInfo, ObjectStore

READ = 1 << 20
PHYSICAL: tuple[PhysicalKind, ...] = ("full", "incr", "diff")
INCREMENTAL_SINCE = 170000  # server_version_num of PostgreSQL 17

Progress = Callable[[int], None]  # bytes read from pg_basebackup so far


def artifact_key(backup_id: str) -> str:
    return f"base/{backup_id}/base.tar.cmb"


def manifest_key(backup_id: str) -> str:
    return f"base/{backup_id}/manifest.json"


def pg_manifest_key(backup_id: str) -> str:
    """pg_basebackup's own ``backup_manifest`` of the backup, sealed."""
    return f"base/{backup_id}/backup_manifest.cmb"


def other_manifest_key(backup_id: str) -> str:
    """Where a bucket or Redis backup keeps its manifest in the store."""
    return f"manifests/{backup_id}.json"


def logical_manifest_key(backup_id: str) -> str:
    return f"logical/{backup_id}/manifest.json"


def stored_manifest_key(manifest: Manifest) -> str:
    """Where ``manifest`` is kept in the backup store."""
    if manifest.type in PHYSICAL:
        return manifest_key(manifest.id)
    if manifest.type == "logical":
        return logical_manifest_key(manifest.id)
    return other_manifest_key(manifest.id)


def finish(store: ObjectStore, catalog: BackupCatalog, manifest: Manifest, key: str) -> None:
    """The manifest stored beside the artifacts, then the catalog entry complete (in that
    order: a backup listed complete always has its manifest in the store, from which a
    disaster recovery finds it)."""
    write_once(store, key, [manifest_json(manifest)])
    catalog.complete(manifest)


def stored_manifests(store: ObjectStore) -> list[Manifest]:
    """Every backup's manifest kept in the backup store (what the catalog is rebuilt from)."""
    # names, not list(): a store may have to read an object to report its etag
    keys = [key for prefix in ("base/", "logical/") for key, _ in store.names(BUCKET, prefix)
            if key.endswith("/manifest.json")]  # fmt: skip
    keys += [key for key, _ in store.names(BUCKET, "manifests/")]
    return [parse_manifest(store.get(BUCKET, key)) for key in keys]


def adopt_stored(store: ObjectStore, catalog: BackupCatalog) -> int:
    """Enter every stored backup the catalog does not list (after a disaster recovery or a
    switch to an earlier point in time, whose database predates the newer backups)."""
    store.create_bucket(BUCKET)
    ordered = sorted(stored_manifests(store), key=taken_at)  # parents before their children
    return sum(catalog.adopt(m, taken_at(m)) for m in ordered)


def new_id(kind: str) -> str:
    return f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"


def taken_at(manifest: Manifest) -> datetime:
    """When a backup was started, from its id (every kind has one, not every kind a time)."""
    return datetime.strptime(manifest.id.split("-", 1)[1], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)


def physical_backup(
    cluster: Cluster,
    store: ObjectStore,
    catalog: BackupCatalog,
    keys: KeyRing,
    kind: PhysicalKind = "full",
    *,
    progress: Progress = lambda n: None,
) -> PhysicalManifest:
    """Take a physical backup of ``kind`` (full, incr, diff); returns its manifest, whose
    ``note`` says why a full one was taken when an incremental was asked for."""
    parent, note = _parent(cluster, catalog, kind)
    taken: PhysicalKind = "full" if parent is None else kind
    parent_id = None if parent is None else parent.id
    with (
        registered(store, catalog, keys, taken, parent=parent_id) as (backup_id, key_id, key),
        tempfile.TemporaryDirectory(prefix="comind-incr-") as tmp,
    ):
        since = _parent_manifest(store, keys, parent, Path(tmp)) if parent else None
        manifest = _take(cluster, store, (backup_id, key_id, key), progress, since)
        manifest = manifest.model_copy(update={"type": taken, "parent": parent_id, "note": note})
        finish(store, catalog, manifest, manifest_key(backup_id))
    return manifest


def complete_physical(catalog: BackupCatalog, limit: int = 100_000) -> list[CatalogEntry]:
    """Catalog entries of the complete physical backups (full, incr, diff), newest first."""
    return [e for e in catalog.entries(limit=limit) if e.kind in PHYSICAL and e.complete()]


def physical_manifests(catalog: BackupCatalog, limit: int = 100_000) -> list[PhysicalManifest]:
    """Manifests of the complete physical backups, newest first."""
    return [e.manifest for e in complete_physical(catalog, limit)
            if isinstance(e.manifest, PhysicalManifest)]  # fmt: skip


def _parent(
    cluster: Cluster, catalog: BackupCatalog, kind: PhysicalKind
) -> tuple[PhysicalManifest | None, str | None]:
    """The backup an incremental one builds on, or None and why a full one is taken."""
    if kind == "full":
        return None, None
    version = cluster.position()
    if version.version_num < INCREMENTAL_SINCE:
        return None, (
            f"PostgreSQL {version.version} has no incremental backups (they need 17+): "
            "took a full backup instead"
        )
    wanted = PHYSICAL if kind == "incr" else ("full",)
    chained = [m for m in physical_manifests(catalog, limit=1000)
               if m.type in wanted and m.pg_manifest
               and m.timeline == version.timeline]  # fmt: skip
    if not chained:
        return None, f"no backup to base a {kind} backup on yet: took a full backup instead"
    if reason := cluster.unsummarized(chained[0].start_lsn):
        return None, f"{reason}: took a full backup instead"
    return chained[0], None


def _parent_manifest(
    store: ObjectStore, keys: KeyRing, parent: PhysicalManifest, tmp: Path
) -> Path:
    path = tmp / "backup_manifest"
    assert parent.pg_manifest is not None  # _parent chose one that has it
    with path.open("wb") as out:
        for block in open_stream(store.get_stream(BUCKET, parent.pg_manifest), keys.all()):
            out.write(block)
    return path


@contextlib.contextmanager
def registered(
    store: ObjectStore,
    catalog: BackupCatalog,
    keys: KeyRing,
    kind: str,
    app: str | None = None,
    *,
    parent: str | None = None,
) -> Iterator[tuple[str, str, bytes]]:
    """A new backup's id and key, its catalog entry 'running' until the block completes it;
    any failure in the block (a kill, a full disk) marks it failed, never complete."""
    backup_id = new_id(kind)
    key_id, key = keys.current()
    store.create_bucket(BUCKET)
    catalog.start(backup_id, kind, key_id=key_id, app=app, parent=parent)
    try:
        yield backup_id, key_id, key
    except BaseException as exc:
        catalog.fail(backup_id, str(exc) or type(exc).__name__)
        raise


def _take(
    cluster: Cluster,
    store: ObjectStore,
    sealing: tuple[str, str, bytes],
    progress: Progress,
    since: Path | None,
) -> PhysicalManifest:
    """A full backup's manifest (the caller sets ``type``, ``parent`` and ``note``)."""
    backup_id, key_id, key = sealing
    databases, reader = cluster.databases(), cluster.reader
    # write counters before and after (cheap); the row counts are taken while the backup
    # streams, so they cost no extra time: a table with no writes in the whole window has
    # the same count at any moment of it
    before, stats_before = cluster.position(), table_stats(reader, databases, count=False)
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as pool:
        counting = pool.submit(table_stats, reader, databases)
        info, source_bytes, caught = _stream(
            cluster, store, backup_id, (key_id, key), progress, digest := hashlib.sha256(),
            since,
        )  # fmt: skip
        counted = counting.result()
    pg_manifest = _store_pg_manifest(store, backup_id, key_id, key, caught)
    after, stats_after = cluster.position(), table_stats(reader, databases, count=False)
    return PhysicalManifest(
        id=backup_id, type="full", format="tar+zstd+aes-256-gcm", key_id=key_id,
        start_lsn=before.lsn, start_wal=before.wal, stop_lsn=after.lsn, timeline=after.timeline,
        start_time=before.time, stop_time=after.time, pg_version=after.version,
        pg_version_num=after.version_num, size_bytes=info.size, source_bytes=source_bytes,
        sha256=digest.hexdigest(), seconds=round(time.monotonic() - began, 3),
        artifacts=[artifact_key(backup_id)], pg_manifest=pg_manifest, databases=databases,
        tables=stable_counts(stats_before, counted, stats_after),
    )  # fmt: skip


def _store_pg_manifest(
    store: ObjectStore, backup_id: str, key_id: str, key: bytes, caught: bytes | None
) -> str | None:
    if caught is None:
        return None
    write_once(store, pg_manifest_key(backup_id), seal_stream([caught], key_id, key))
    return pg_manifest_key(backup_id)


def _stream(
    cluster: Cluster,
    store: ObjectStore,
    backup_id: str,
    sealing: tuple[str, bytes],
    progress: Progress,
    digest: Any,
    since: Path | None,
) -> tuple[ObjectInfo, int, bytes | None]:
    """pg_basebackup's tar, sealed into the store (renamed into place only when complete);
    also how many bytes of files it holds and its ``backup_manifest``. The server compresses
    it where it can (backup/basebackup.py), else the tar is streamed and compressed here.
    ``since``: the parent's manifest, for an incremental backup."""
    if supported(cluster):
        try:
            with compressed_basebackup(cluster, f"comind {backup_id}", since, progress) as taken:
                with taken.tar.open("rb") as tar:
                    chunks = iter(lambda: tar.read(READ), b"")
                    sealed = hashed(seal_stream(chunks, *sealing, compressed=True), digest)
                    info = write_once(store, artifact_key(backup_id), sealed)
                return info, taken.source_bytes, taken.manifest
        except NoServerCompression:
            pass  # this server cannot: stream the tar
    catcher = MemberCatcher("backup_manifest")
    proc = subprocess.Popen(
        [
            cluster.tool("pg_basebackup"),
            "-h",
            cluster.reader.host,
            "-p",
            str(cluster.reader.port),
            "-U",
            cluster.reader.user,
            "-D",
            "-",
            "-Ft",
            "-X",
            "fetch",
            "--checkpoint=fast",
            "--no-password",
            f"--label=comind {backup_id}",
            *([f"--incremental={since}"] if since else []),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cluster.env(cluster.reader),
    )
    raw = _Counted(proc, progress, catcher.feed)
    sealed = hashed(seal_stream(raw, *sealing), digest)
    return write_once(store, artifact_key(backup_id), sealed), raw.total, catcher.found


def hashed(chunks: Iterable[bytes], digest: Any) -> Iterator[bytes]:
    """``chunks`` passed through, fed to ``digest`` on the way."""
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def _drain(stream: Any, blocks: queue.Queue[bytes | None]) -> None:
    try:
        while block := stream.read(READ):
            blocks.put(block)
    except (OSError, ValueError):
        pass  # the pipe was closed: the process is being stopped
    finally:
        blocks.put(None)


class _Counted:
    """pg_basebackup's stdout in chunks; raises at the end unless it exited successfully
    (so the store never renames a partial artifact into place)."""

    def __init__(
        self, proc: subprocess.Popen[bytes], progress: Progress, seen: Callable[[bytes], None]
    ) -> None:
        self.proc, self.progress, self.seen, self.total = proc, progress, seen, 0

    def __iter__(self) -> Iterator[bytes]:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        # a reader thread keeps pg_basebackup's pipe drained while this thread compresses
        # (zlib releases the GIL): the two overlap on two cores instead of taking turns
        blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        reader = threading.Thread(target=_drain, args=(self.proc.stdout, blocks), daemon=True)
        reader.start()
        try:
            while (block := blocks.get()) is not None:
                self.total += len(block)
                self.progress(self.total)
                self.seen(block)
                yield block
            reader.join()
            err = self.proc.stderr.read().decode(errors="replace").strip()
            if self.proc.wait() != 0:
                raise BackupError(
                    f"pg_basebackup failed: {err.splitlines()[-1] if err else 'no output'}"
                )
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            while reader.is_alive():  # unblock a reader stuck on a full queue, then let it end
                with contextlib.suppress(queue.Empty):
                    blocks.get(timeout=0.1)
            self.proc.stdout.close()
            self.proc.stderr.close()
