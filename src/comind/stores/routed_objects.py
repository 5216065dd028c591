"""An object store whose named buckets live elsewhere: on another store, in a bucket of
another name, under a key prefix. The platform's backup store (``comind-backups``) goes to
S3 this way (``COMIND_BACKUP_STORE=s3://BUCKET/PREFIX``): every backup, WAL segment and audit
anchor leaves the machine as it is written, and ``comind dr restore --from`` the same URL
brings the platform back. With every bucket of the platform's on S3
(``COMIND_OBJECT_STORE=s3:PREFIX``) the default store is S3's, each bucket named with the
prefix in front.

Callers see the names they gave (the bucket, keys without the prefix) in everything that
comes back. A routed bucket is never deleted through the store: it is one prefix of a bucket
that may hold other things.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from comind.stores.object_model import (
    CHUNK,
    Attributes,
    Condition,
    Deleted,
    ObjectInfo,
    ObjectStoreError,
    Part,
    StoredObject,
    Upload,
    Version,
)
from comind.stores.object_store import ObjectStore


@dataclass(frozen=True)
class Route:
    """Where a bucket really is: ``bucket`` of ``store``, every key under ``prefix``."""

    store: ObjectStore
    bucket: str
    prefix: str = ""  # "" or ending in "/"


@dataclass
class _Opened:
    """An object opened through a route, its info in the caller's names."""

    inner: StoredObject
    info: ObjectInfo

    def blocks(self, start: int = 0, end: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
        return self.inner.blocks(start, end, chunk)

    def close(self) -> None:
        self.inner.close()


class RoutedStore:
    """``default`` for every bucket but those ``routes`` names."""

    def __init__(
        self, default: ObjectStore, routes: dict[str, Route], *, name_prefix: str = ""
    ) -> None:
        """``name_prefix``: the default store's buckets are named with it in front (S3's names are
        global: ``acme-prod-`` + the platform's)."""
        self.default, self.routes, self.name_prefix = default, routes, name_prefix

    def _at(self, bucket: str) -> Route:
        return self.routes.get(bucket) or Route(self.default, self.name_prefix + bucket)

    def _back(self, bucket: str, info: ObjectInfo) -> ObjectInfo:
        """``info`` as the caller named it."""
        return replace(info, bucket=bucket, key=info.key[len(self._at(bucket).prefix) :])

    # --- buckets ----------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        at = self._at(bucket)
        at.store.create_bucket(at.bucket)

    def bucket_config(self, bucket: str) -> dict[str, Any] | None:
        at = self._at(bucket)
        return at.store.bucket_config(at.bucket)

    def configure_bucket(self, bucket: str, config: dict[str, Any]) -> None:
        at = self._at(bucket)
        at.store.configure_bucket(at.bucket, config)

    def delete_bucket(self, bucket: str) -> None:
        if bucket in self.routes:
            raise ObjectStoreError(f"bucket {bucket} lives in {self.routes[bucket].bucket}, "
                                   "which the platform does not delete")  # fmt: skip
        self.default.delete_bucket(self.name_prefix + bucket)

    def buckets(self) -> builtins.list[str]:
        mine = (
            b[len(self.name_prefix) :]
            for b in self.default.buckets()
            if b.startswith(self.name_prefix)
        )
        return sorted({*mine, *self.routes})

    # --- objects ----------------------------------------------------------------------

    def put(self, bucket: str, key: str, data: bytes) -> ObjectInfo:
        at = self._at(bucket)
        return self._back(bucket, at.store.put(at.bucket, at.prefix + key, data))

    def put_stream(
        self, bucket: str, key: str, chunks: Iterable[bytes], *,
        attributes: Attributes | None = None, condition: Condition | None = None,
    ) -> ObjectInfo:  # fmt: skip
        at = self._at(bucket)
        done = at.store.put_stream(at.bucket, at.prefix + key, chunks, attributes=attributes,
                                   condition=condition)  # fmt: skip
        return self._back(bucket, done)

    def get(self, bucket: str, key: str) -> bytes:
        at = self._at(bucket)
        return at.store.get(at.bucket, at.prefix + key)

    def get_stream(self, bucket: str, key: str, *, chunk: int = CHUNK) -> Iterator[bytes]:
        at = self._at(bucket)
        return at.store.get_stream(at.bucket, at.prefix + key, chunk=chunk)

    def open(self, bucket: str, key: str, *, version_id: str | None = None) -> StoredObject:
        at = self._at(bucket)
        inner = at.store.open(at.bucket, at.prefix + key, version_id=version_id)
        return _Opened(inner, self._back(bucket, inner.info))

    def head(self, bucket: str, key: str, *, version_id: str | None = None) -> ObjectInfo | None:
        at = self._at(bucket)
        found = at.store.head(at.bucket, at.prefix + key, version_id=version_id)
        return None if found is None else self._back(bucket, found)

    def delete(self, bucket: str, key: str, *, version_id: str | None = None) -> Deleted:
        at = self._at(bucket)
        return at.store.delete(at.bucket, at.prefix + key, version_id=version_id)

    def set_tags(
        self, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None
    ) -> ObjectInfo:
        at = self._at(bucket)
        done = at.store.set_tags(at.bucket, at.prefix + key, tags, version_id=version_id)
        return self._back(bucket, done)

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        at = self._at(bucket)
        for info in at.store.list(at.bucket, at.prefix + prefix):
            yield self._back(bucket, info)

    def names(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, datetime]]:
        at = self._at(bucket)
        for key, modified in at.store.names(at.bucket, at.prefix + prefix):
            yield key[len(at.prefix) :], modified

    def versions(self, bucket: str, prefix: str = "") -> Iterator[Version]:
        at = self._at(bucket)
        for version in at.store.versions(at.bucket, at.prefix + prefix):
            yield Version(self._back(bucket, version.info), version.latest)

    # --- multipart --------------------------------------------------------------------

    def create_multipart(
        self, bucket: str, key: str, *, attributes: Attributes | None = None
    ) -> str:
        at = self._at(bucket)
        return at.store.create_multipart(at.bucket, at.prefix + key, attributes=attributes)

    def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, chunks: Iterable[bytes]
    ) -> Part:
        at = self._at(bucket)
        return at.store.upload_part(at.bucket, at.prefix + key, upload_id, number, chunks)

    def parts(self, bucket: str, key: str, upload_id: str) -> builtins.list[Part]:
        at = self._at(bucket)
        return at.store.parts(at.bucket, at.prefix + key, upload_id)

    def uploads(self, bucket: str, prefix: str = "") -> Iterator[Upload]:
        at = self._at(bucket)
        for upload in at.store.uploads(at.bucket, at.prefix + prefix):
            yield replace(upload, bucket=bucket, key=upload.key[len(at.prefix) :])

    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[Part]
    ) -> ObjectInfo:
        at = self._at(bucket)
        done = at.store.complete_multipart(at.bucket, at.prefix + key, upload_id, parts)
        return self._back(bucket, done)

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        at = self._at(bucket)
        at.store.abort_multipart(at.bucket, at.prefix + key, upload_id)
