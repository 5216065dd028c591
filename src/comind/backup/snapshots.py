"""Redis backups: a ``BGSAVE`` snapshot (the RDB file) sealed into the backup store.

Restoring starts a ``redis-server`` of its own on the snapshot, on a free port (to inspect
it, or to copy keys back from). For a rebuilt platform the snapshot becomes the embedded
engine's append-only file: the side server loads the RDB, ``CONFIG SET appendonly yes``
makes it write the AOF the engine starts from (in the layout of its own version).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from comind.backup.base import BUCKET, BackupError, finish, hashed, other_manifest_key, registered
from comind.backup.catalog import BackupCatalog
from comind.backup.crypto import open_stream, seal_stream
from comind.backup.keys import KeyRing
from comind.backup.manifest import RedisManifest
from comind.backup.restore import check_artifacts
from comind.backup.store import write_once
from comind.embedded.osuser import RunAs
from comind.embedded.ports import free_port
from comind.embedded.process import engine_env
from comind.stores.objects import ObjectStore
from comind.stores.redis import RedisTarget
from comind.stores.redis_persistence import Persistence

SAVE_TIMEOUT = 600.0


def redis_backup(
    target: RedisTarget, store: ObjectStore, catalog: BackupCatalog, keys: KeyRing
) -> RedisManifest:
    """Snapshot the Redis at ``target`` (whose files this machine can read)."""
    redis = Persistence(target)
    with registered(store, catalog, keys, "redis") as (backup_id, key_id, key):
        began = time.monotonic()
        rdb = redis.snapshot()
        artifact, digest = f"redis/{backup_id}/dump.rdb.cmb", hashlib.sha256()
        with rdb.open("rb") as handle:  # a later save renames a new file in: this one stays
            chunks = iter(lambda: handle.read(1 << 20), b"")
            info = write_once(store, artifact, hashed(seal_stream(chunks, key_id, key), digest))
        facts = redis.facts()  # keys counted as the snapshot holds them if nothing changed
        manifest = RedisManifest(
            id=backup_id, type="redis", key_id=key_id, artifacts=[artifact],
            sha256=digest.hexdigest(), size_bytes=info.size, source_bytes=rdb.stat().st_size,
            keys=facts["keys"], keys_exact=facts["unchanged"],
            redis_version=facts["redis_version"],
            seconds=round(time.monotonic() - began, 3),
        )  # fmt: skip
        finish(store, catalog, manifest, other_manifest_key(backup_id))
    return manifest


@dataclass
class RedisCopy:
    """A restored snapshot served by its own redis-server."""

    directory: Path
    process: subprocess.Popen[bytes]
    target: RedisTarget

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)


def restore_redis(
    binary: Path, store: ObjectStore, keys: dict[str, bytes], manifest: RedisManifest,
    directory: Path, *, host: str = "127.0.0.1", run_as: RunAs | None = None,
) -> RedisCopy:  # fmt: skip
    """The snapshot in ``directory/dump.rdb``, served on a free port with a new password
    (given to the server on its standard input: it is never written to a file), as
    ``run_as`` (Redis' own user) when given."""
    check_artifacts(store, manifest)
    run_as = run_as or RunAs()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (directory / "dump.rdb").open("wb") as out:
        for plain in open_stream(store.get_stream(BUCKET, manifest.artifacts[0]), keys):
            out.write(plain)
    for path in (directory, directory / "dump.rdb"):
        run_as.chown(path)
    attempts = 3  # a free port can be taken before the server binds it: it exits, try again
    while True:
        target = RedisTarget(host, free_port(host), secrets.token_urlsafe(18))
        copy = _serve(binary, directory, target, run_as)
        try:
            _wait_loaded(copy)
            return copy
        except BackupError:
            attempts -= 1
            if not attempts or copy.process.poll() is None:
                raise


def _serve(binary: Path, directory: Path, target: RedisTarget, run_as: RunAs) -> RedisCopy:
    """A ``redis-server`` on ``target``'s port, its password on its standard input; answers
    come only from it (a server that took the port first does not know the password)."""
    host = target.host
    config = (f'bind {host}\nport {target.port}\ndir "{directory}"\ndbfilename "dump.rdb"\n'
              f'appendonly no\nsave ""\nrequirepass {target.password}\n')  # fmt: skip
    proc = subprocess.Popen([str(binary), "-"], stdin=subprocess.PIPE, env=engine_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            user=run_as.uid, group=run_as.gid, extra_groups=run_as.extra_groups,
                            cwd=directory)  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(config.encode())
    proc.stdin.close()
    return RedisCopy(directory, proc, target)


def _wait_loaded(copy: RedisCopy, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if copy.process.poll() is not None:
            raise BackupError("the restored Redis did not start")
        with contextlib.suppress(Exception):  # not listening yet
            if Persistence(copy.target, timeout=2).loaded():
                return
        time.sleep(0.1)
    copy.stop()
    raise BackupError(f"the restored Redis did not load within {timeout:.0f} s")


def install_redis(
    binary: Path, store: ObjectStore, keys: dict[str, bytes], manifest: RedisManifest,
    redis_home: Path,
) -> int:  # fmt: skip
    """The snapshot as the append-only file of the engine whose directory is ``redis_home``
    (which must hold none yet). Returns the number of keys."""
    copy = restore_redis(binary, store, keys, manifest, redis_home)
    try:
        count = Persistence(copy.target).write_aof()
    finally:
        copy.stop()
    shutil.rmtree(redis_home / "temp", ignore_errors=True)
    return count
