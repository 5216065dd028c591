"""Bucket backups upload only new content and restore a bucket exactly as it was; an
encrypted bucket backs up and restores across a key rotation (through the API)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.waiting import wait_until

from comind.backup.base import BUCKET
from comind.backup.buckets import backup_buckets, restore_bucket
from comind.backup.catalog import BackupCatalog
from comind.backup.keys import KeyRing
from comind.errors import ComindError
from comind.platform import Platform
from comind.stores.objects import FileObjectStore


def contents(store: FileObjectStore, bucket: str) -> dict[str, bytes]:
    return {o.key: store.get(bucket, o.key) for o in store.list(bucket)}


def test_incremental_by_etag_and_restorable_as_of_each_backup(
    store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing
) -> None:
    store.create_bucket("lake-b")
    store.put("lake-b", "a/1.json", b'{"v": 1}')
    store.put("lake-b", "b.parquet", b"PAR1" * 1000)
    first = backup_buckets(store, catalog, keys, ["lake-b"])
    assert (first.uploaded, first.reused) == (2, 0)
    as_first = contents(store, "lake-b")

    store.put("lake-b", "a/1.json", b'{"v": 2}')
    store.put("lake-b", "c.txt", b"new")
    second = backup_buckets(store, catalog, keys, ["lake-b"])
    assert (second.uploaded, second.reused) == (2, 1)  # b.parquet was stored already
    sealed = b"".join(
        b for o in store.list(BUCKET, "objects/lake-b/") for b in store.get_stream(BUCKET, o.key)
    )
    assert b"PAR1PAR1" not in sealed  # encrypted at rest

    assert restore_bucket(store, keys.all(), first, "lake-b", into="lake-b-old") == 2
    assert contents(store, "lake-b-old") == as_first
    store.delete("lake-b", "c.txt")
    restore_bucket(store, keys.all(), second, "lake-b")
    assert contents(store, "lake-b")["c.txt"] == b"new"
    assert catalog.get(second.id).status == "complete"  # type: ignore[union-attr]
    with pytest.raises(ComindError, match="is the backup store"):  # backups alone write there
        restore_bucket(store, keys.all(), first, "lake-b", into=BUCKET)


def admin(run: Platform, path: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {run.engines.home.secret('api-admin-token')}"}
    url = f"{run.url}{path}"
    answer = httpx.post(url, json=body, headers=headers) if body is not None else \
        httpx.get(url, headers=headers)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_an_encrypted_bucket_backs_up_and_restores_across_a_key_rotation(
    backup_runtime: Platform, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing
) -> None:
    store.create_bucket("vault-b")
    store.configure_bucket("vault-b", {"encrypted": True, "versioning": False})
    store.put("vault-b", "secret.txt", b"CLASSIFIED " * 1000)
    on_disk = backup_runtime.engines.home.objects / "vault-b" / "secret.txt"
    assert b"CLASSIFIED" not in on_disk.read_bytes()
    before = backup_buckets(store, catalog, keys, ["vault-b"])

    rotated = admin(backup_runtime, "/api/v1/keys/rotate", {"reencrypt": True})
    assert rotated["new_data_keys"] == ["bucket/vault-b", "backup"]
    status = admin(backup_runtime, "/api/v1/keys")
    assert {v for s in status["scopes"] for v in s["keys"].values()} == {rotated["kek_version"]}
    # the platform re-encrypts the object under the bucket's new data key in the background
    assert wait_until(lambda: admin(backup_runtime, "/api/v1/keys")["reencrypt_remaining"] == 0)
    [bucket_keys] = [s for s in status["scopes"] if s["scope"] == "bucket/vault-b"]
    assert bucket_keys["current"].encode() in on_disk.read_bytes()[:64]
    old = [v for v in status["kek_versions"] if v != rotated["kek_version"]]
    assert admin(backup_runtime, "/api/v1/keys/retire", {"version": old[0]})["retired"] == old[0]

    store.put("vault-b", "after.txt", b"under the new data key")
    assert store.get("vault-b", "secret.txt") == b"CLASSIFIED " * 1000  # the older data key
    after = backup_buckets(store, catalog, keys, ["vault-b"])
    assert after.key_id != before.key_id  # new backups use the new backup key
    store.delete("vault-b", "secret.txt")
    restore_bucket(store, keys.all(), before, "vault-b")
    assert restore_bucket(store, keys.all(), after, "vault-b", into="vault-b-copy") == 2
    assert contents(store, "vault-b-copy") == contents(store, "vault-b")
    assert b"CLASSIFIED" not in on_disk.read_bytes()
