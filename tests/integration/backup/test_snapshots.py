"""Redis backups: a BGSAVE snapshot, sealed; restored as it was into a server of its own,
and turned into the append-only file a rebuilt platform's Redis starts from."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import redis
from tests.waiting import wait_until

from comind.backup.base import BUCKET, BackupError
from comind.backup.catalog import BackupCatalog
from comind.backup.keys import KeyRing
from comind.backup.snapshots import install_redis, redis_backup, restore_redis
from comind.embedded.ports import free_port
from comind.platform import Platform
from comind.stores.objects import FileObjectStore
from comind.stores.redis import client, default_user


def test_a_snapshot_restores_as_it_was_and_becomes_an_append_only_file(
    backup_runtime: Platform, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    scratch: Path,
) -> None:  # fmt: skip
    engine = backup_runtime.engines.redis
    live = client(default_user(engine))
    live.mset({f"snap:{i}": f"v{i}" for i in range(2000)})
    manifest = redis_backup(default_user(engine), store, catalog, keys)
    assert manifest.keys >= 2000 and catalog.get(manifest.id).status == "complete"  # type: ignore[union-attr]
    assert b"snap:1" not in b"".join(store.get_stream(BUCKET, manifest.artifacts[0]))
    live.set("snap:1", "changed after the backup")

    copy = restore_redis(engine.binary, store, keys.all(), manifest, scratch / "side")
    try:
        assert client(copy.target).get("snap:1") == "v1"
        assert client(copy.target).dbsize() == manifest.keys
    finally:
        copy.stop()

    home = scratch / "engine"
    assert install_redis(engine.binary, store, keys.all(), manifest, home) == manifest.keys
    port = free_port("127.0.0.1")
    proc = subprocess.Popen([str(engine.binary), "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", str(home), "--appendonly", "yes", "--save", ""],
                            stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        conn = redis.Redis("127.0.0.1", port, socket_timeout=2, decode_responses=True)

        def loaded() -> bool:
            try:
                return conn.get("snap:1999") == "v1999"
            except redis.ConnectionError:
                return False  # not listening yet

        assert wait_until(loaded, timeout=30, interval=0.2), "the AOF did not bring the keys"
        assert conn.get("snap:1") == "v1"
    finally:
        proc.terminate()
        proc.wait()


def test_a_corrupt_snapshot_is_refused_before_anything_is_written(
    backup_runtime: Platform, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    scratch: Path,
) -> None:  # fmt: skip
    manifest = redis_backup(default_user(backup_runtime.engines.redis), store, catalog, keys)
    path = store.root / BUCKET / manifest.artifacts[0]
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(BackupError, match="corrupt or truncated"):
        restore_redis(backup_runtime.engines.redis.binary, store, keys.all(), manifest,
                      scratch / "side")  # fmt: skip
    assert not (scratch / "side").exists()
