"""Bucket backups: incremental by content. Each object is stored once per etag
(``objects/BUCKET/ETAG.cmb``, sealed), and every backup records the bucket's whole listing
at that time (key → etag) in its manifest, so a bucket can be restored exactly as it was at
any backup while each backup uploads only the objects whose etag it has not stored yet."""

from __future__ import annotations

import time

from comind.backup.base import BUCKET, finish, other_manifest_key, registered
from comind.backup.catalog import BackupCatalog
from comind.backup.crypto import open_stream, seal_stream
from comind.backup.keys import KeyRing
from comind.backup.manifest import ObjectsManifest
from comind.backup.store import AlreadyStored, write_once
from comind.errors import ComindError
from comind.stores.objects import ObjectStore


def blob_prefix(bucket: str) -> str:
    return f"objects/{bucket}/"


def blob_key(bucket: str, etag: str) -> str:
    """Where the object with ``etag`` of ``bucket`` is stored."""
    return f"{blob_prefix(bucket)}{etag}.cmb"


def backup_buckets(
    store: ObjectStore, catalog: BackupCatalog, keys: KeyRing, buckets: list[str]
) -> ObjectsManifest:
    """Back up ``buckets``; returns the manifest (listings, and how much was new)."""
    with registered(store, catalog, keys, "objects") as (backup_id, key_id, key):
        began, uploaded, reused, size = time.monotonic(), 0, 0, 0
        listings: dict[str, dict[str, str]] = {}
        for bucket in buckets:
            listing = {o.key: o.etag for o in store.list(bucket)}
            # one listing of the stored blobs, not a head() per object: a store may read a
            # whole object to answer head() with its etag
            stored = {k for k, _ in store.names(BUCKET, blob_prefix(bucket))}
            for object_key, etag in listing.items():
                if blob_key(bucket, etag) in stored:
                    reused += 1
                    continue
                sealed = seal_stream(store.get_stream(bucket, object_key), key_id, key)
                try:
                    info = write_once(store, blob_key(bucket, etag), sealed)
                except AlreadyStored:  # another backup stored the same content meanwhile
                    reused += 1
                    continue
                finally:
                    stored.add(blob_key(bucket, etag))
                uploaded, size = uploaded + 1, size + info.size
            listings[bucket] = listing
        manifest = ObjectsManifest(
            id=backup_id, type="objects", key_id=key_id, buckets=listings, uploaded=uploaded,
            reused=reused, size_bytes=size, seconds=round(time.monotonic() - began, 3),
        )  # fmt: skip
        finish(store, catalog, manifest, other_manifest_key(backup_id))
    return manifest


def restore_bucket(
    store: ObjectStore,
    keys: dict[str, bytes],
    manifest: ObjectsManifest,
    bucket: str,
    into: str | None = None,
) -> int:
    """Bucket ``bucket`` as it was at the backup, into ``into`` (default: itself; objects the
    backup did not have are left alone). Returns the number of objects written."""
    listing = manifest.buckets.get(bucket)
    if listing is None:
        raise ComindError(f"backup {manifest.id} holds no bucket {bucket}")
    target = into or bucket
    if target == BUCKET:  # written by backups alone, each file once
        raise ComindError(f"bucket {target} is the backup store: restore into another (--into)")
    store.create_bucket(target)
    for object_key, etag in listing.items():
        data = open_stream(store.get_stream(BUCKET, blob_key(bucket, etag)), keys)
        store.put_stream(target, object_key, data)
    return len(listing)
