"""Re-encrypting an encrypted bucket's objects under its current data key (after ``comind
keys rotate --reencrypt`` gave the bucket a new one).

One object at a time: its file is decrypted and encrypted again into a staged file (same
place, same version id: the associated data does not change), which replaces it under the
bucket's lock only if the object was not replaced meanwhile; its sidecar keeps the etag, size,
attributes and version, and the file keeps its modification time, so to every reader the
object is the same. Noncurrent versions stay under the key they were written with (it is
kept, and they read).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

from comind.stores.object_crypto import DataKeys, Decrypted, Place, encrypt, read_header, scope
from comind.stores.object_disk import blocks_of, bucket_lock, copy, install, seal, staged
from comind.stores.object_meta import load, save, sidecar_path
from comind.stores.object_model import NULL_VERSION
from comind.stores.objects import FileObjectStore


def stale(store: FileObjectStore, keys: DataKeys, bucket: str) -> Iterator[str]:
    """The keys of the bucket's current objects not under its current data key."""
    current = keys.data_key(scope(bucket)).id
    for key, _ in store.names(bucket):
        try:
            with store.root.joinpath(bucket, *key.split("/")).open("rb") as handle:
                head = read_header(handle)
        except FileNotFoundError:
            continue
        if head is not None and head.key_id != current:
            yield key


def rekey(store: FileObjectStore, keys: DataKeys, bucket: str, key: str) -> bool:
    """Re-encrypt one object under the bucket's current data key; False when there was
    nothing to do (gone, in clear, already current, or replaced while it was re-encrypted)."""
    path, top = store.root.joinpath(bucket, *key.split("/")), store.root / bucket
    side = sidecar_path(store.root, bucket, key)
    current = keys.data_key(scope(bucket))
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return False
    with handle:
        head, stat, record = read_header(handle), os.fstat(handle.fileno()), load(side)
        if head is None or head.key_id == current.id or record is None:
            return False
        if not record.describes(stat):
            return False
        place = Place(bucket, key, record.version_id or NULL_VERSION)
        plain = Decrypted(handle, head, keys.key(scope(bucket), head.key_id), place)
        with staged(store.root) as (out, tmp):
            copy(encrypt(blocks_of(plain), current.id, current.key, place), out)
            seal(out)
            os.utime(tmp, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # Last-Modified stays
            new = os.fstat(out.fileno())
            with bucket_lock(top):
                try:
                    if os.stat(path).st_ino != stat.st_ino:
                        return False  # replaced meanwhile: the new object has the new key
                except FileNotFoundError:
                    return False
                install(tmp, path)
                save(store.root, side, replace(record, inode=new.st_ino, stored=new.st_size))
    return True
