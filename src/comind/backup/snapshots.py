"""Redis backups: a ``BGSAVE`` snapshot (the RDB file) sealed into the backup store.

Restoring starts a ``redis-server`` of its own on the snapshot, on a free port (to inspect
it, or to copy keys back from). For a rebuilt platform the snapshot becomes the embedded
engine's append-only file: the side server loads the RDB, ``CONFIG SET appendonly yes``
makes it write the AOF the engine starts from (in the layout of its own version).
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from comind.backup.base import BUCKET, BackupError, finish, hashed, other_manifest_key, registered
from comind.backup.crypto import open_stream, seal_stream
from comind.backup.keys import KeyRing
from comind.embedded.ports import free_port
from comind.stores.backup_catalog import BackupCatalog
from comind.stores.objects import FileObjectStore
from comind.stores.redis import RedisTarget, client

SAVE_TIMEOUT = 600.0


def redis_backup(
    target: RedisTarget, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing
) -> dict[str, Any]:
    """Snapshot the Redis at ``target`` (whose files this machine can read)."""
    conn = client(target, timeout=30)
    with registered(store, catalog, keys, "redis") as (backup_id, key_id, key):
        began = time.monotonic()
        _snapshot(conn)
        rdb = Path(str(conn.config_get("dir")["dir"])) / str(
            conn.config_get("dbfilename")["dbfilename"]
        )
        artifact, digest = f"redis/{backup_id}/dump.rdb.cmb", hashlib.sha256()
        with rdb.open("rb") as handle:  # a later save renames a new file in: this one stays
            chunks = iter(lambda: handle.read(1 << 20), b"")
            info = store.put_stream(BUCKET, artifact, hashed(seal_stream(chunks, key_id, key),
                                                             digest))  # fmt: skip
        manifest = {
            "id": backup_id, "type": "redis", "key_id": key_id, "artifacts": [artifact],
            "sha256": digest.hexdigest(), "size_bytes": info.size,
            "source_bytes": rdb.stat().st_size, "keys": conn.dbsize(),
            "redis_version": conn.info("server")["redis_version"],
            "seconds": round(time.monotonic() - began, 3),
        }  # fmt: skip
        finish(store, catalog, manifest, other_manifest_key(backup_id))
    return manifest


def _snapshot(conn: redis.Redis) -> None:
    """A BGSAVE of ours, finished successfully (after any save already running)."""
    _wait_idle(conn)
    saves = _persistence(conn).get("rdb_saves")
    before = conn.lastsave()
    conn.bgsave()
    _wait_idle(conn)
    state = _persistence(conn)
    if state.get("rdb_last_bgsave_status") != "ok":
        raise BackupError("Redis BGSAVE failed (see the Redis log)")
    done = state["rdb_saves"] > saves if saves is not None else conn.lastsave() >= before
    if not done:
        raise BackupError("Redis did not record the BGSAVE")


def _persistence(conn: redis.Redis) -> dict[str, Any]:
    return dict(conn.info("persistence"))


def _wait_idle(conn: redis.Redis) -> None:
    deadline = time.monotonic() + SAVE_TIMEOUT
    while _persistence(conn).get("rdb_bgsave_in_progress"):
        if time.monotonic() > deadline:
            raise BackupError(f"Redis BGSAVE did not finish within {SAVE_TIMEOUT:.0f} s")
        time.sleep(0.1)


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
    binary: Path, store: FileObjectStore, keys: dict[str, bytes], manifest: dict[str, Any],
    directory: Path, *, host: str = "127.0.0.1",
) -> RedisCopy:  # fmt: skip
    """The snapshot in ``directory/dump.rdb``, served on a free port with a new password."""
    artifact = manifest["artifacts"][0]
    digest = hashlib.sha256()
    for block in store.read_stream(BUCKET, artifact):
        digest.update(block)
    if digest.hexdigest() != manifest["sha256"]:
        raise BackupError(f"backup {manifest['id']}: artifact {artifact} is corrupt or truncated")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (directory / "dump.rdb").open("wb") as out:
        for plain in open_stream(store.read_stream(BUCKET, artifact), keys):
            out.write(plain)
    target = RedisTarget(host, free_port(host), secrets.token_urlsafe(18))
    config = directory / "restore.conf"
    config.write_text(f'bind {host}\nport {target.port}\ndir "{directory}"\n'
                      f'dbfilename "dump.rdb"\nappendonly no\nsave ""\n'
                      f"requirepass {target.password}\n")  # fmt: skip
    config.chmod(0o600)
    proc = subprocess.Popen([str(binary), str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    copy = RedisCopy(directory, proc, target)
    _wait_loaded(copy)
    return copy


def _wait_loaded(copy: RedisCopy, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if copy.process.poll() is not None:
            raise BackupError("the restored Redis did not start")
        try:
            if not client(copy.target, timeout=2).info("persistence").get("loading"):
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    copy.stop()
    raise BackupError(f"the restored Redis did not load within {timeout:.0f} s")


def install_redis(
    binary: Path, store: FileObjectStore, keys: dict[str, bytes], manifest: dict[str, Any],
    redis_home: Path,
) -> int:  # fmt: skip
    """The snapshot as the append-only file of the engine whose directory is ``redis_home``
    (which must hold none yet). Returns the number of keys."""
    copy = restore_redis(binary, store, keys, manifest, redis_home)
    try:
        conn = client(copy.target, timeout=30)
        conn.config_set("appendonly", "yes")
        deadline = time.monotonic() + SAVE_TIMEOUT
        while _rewriting(conn):
            if time.monotonic() > deadline:
                raise BackupError("Redis did not write its append-only file in time")
            time.sleep(0.1)
        count = int(conn.dbsize())
    finally:
        copy.stop()
        (redis_home / "restore.conf").unlink(missing_ok=True)
    shutil.rmtree(redis_home / "temp", ignore_errors=True)
    return count


def _rewriting(conn: redis.Redis) -> bool:
    state = _persistence(conn)
    return bool(state.get("aof_rewrite_in_progress") or state.get("aof_rewrite_scheduled"))
