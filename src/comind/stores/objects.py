"""The object store's local-directory backend (the interface: :mod:`.object_store`).

``FileObjectStore`` keeps ``<root>/<bucket>/<key>``, so a bucket is a plain directory of its
current objects (backups and restores copy it as such). Beside it, outside every bucket:
each object's attributes (:mod:`.object_meta`), multipart uploads (:mod:`.object_uploads`)
and, for a bucket whose settings say ``versioning``, the older versions and delete markers
(:mod:`.object_versions`). Writes are staged and renamed into place under the bucket's lock
(:mod:`.object_disk`): a reader sees the old object or the new one, whole, with its own
attributes. Deletes are idempotent. The etag is the MD5 of the content, as S3 reports it for
single-part uploads (the file store reports it for multipart objects too: callers treat
etags as opaque).
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from comind.stores import object_meta
from comind.stores.object_crypto import AtRest, DataKeys, Place, Tally
from comind.stores.object_disk import (
    TMP_PREFIX,
    FileObject,
    bucket_lock,
    copy,
    install,
    open_file,
    seal,
    staged,
    tidy,
    write_small,
)
from comind.stores.object_meta import (
    Record,
    current,
    describe,
    fresh,
    load,
    save,
    sidecar_path,
)
from comind.stores.object_model import (
    CHUNK,
    NULL_VERSION,
    Attributes,
    Condition,
    Deleted,
    DeleteMarker,
    NoSuchObject,
    NoSuchVersion,
    ObjectInfo,
    ObjectStoreError,
    Part,
    Upload,
    Version,
    valid_bucket,
)
from comind.stores.object_store import ObjectStore
from comind.stores.object_uploads import Uploads
from comind.stores.object_versions import Expiry, VersionArea, new_version_id, valid_version_id

__all__ = ["FileObjectStore", "ObjectInfo", "ObjectStore", "ObjectStoreError", "Part",
           "valid_bucket"]  # fmt: skip


class FileObjectStore:
    """Buckets as directories under ``root``."""

    def __init__(self, root: Path, keys: DataKeys | None = None) -> None:
        self.root, self._at_rest = root, AtRest(keys)
        self._uploads, self._versions = Uploads(root), VersionArea(root)

    # --- buckets ----------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        self._bucket_dir(bucket, must_exist=False).mkdir(parents=True, exist_ok=True)

    def bucket_config(self, bucket: str) -> dict[str, Any] | None:
        """The bucket's settings (``{}`` when never configured), None when it does not exist."""
        if not self._bucket_dir(bucket, must_exist=False).is_dir():
            return None
        path = self._config_path(bucket)
        config: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
        return config

    def configure_bucket(self, bucket: str, config: dict[str, Any]) -> None:
        """Record the bucket's settings (versioning, encryption) beside the buckets."""
        self._bucket_dir(bucket)
        write_small(
            self.root, self._config_path(bucket), json.dumps(config, sort_keys=True).encode()
        )

    def delete_bucket(self, bucket: str) -> None:
        """Delete the bucket with every object in it."""
        shutil.rmtree(self._bucket_dir(bucket, must_exist=False), ignore_errors=True)
        shutil.rmtree(self.root / ".meta" / bucket, ignore_errors=True)
        self._versions.drop_bucket(bucket)
        self._config_path(bucket).unlink(missing_ok=True)

    def buckets(self) -> list[str]:
        """Every bucket's name, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and valid_bucket(p.name))

    def _config_path(self, bucket: str) -> Path:
        # outside every bucket: a name starting with "." is never a valid bucket name
        return self.root / ".buckets" / f"{bucket}.json"

    # --- writing ----------------------------------------------------------------------

    def put(self, bucket: str, key: str, data: bytes) -> ObjectInfo:
        return self.put_stream(bucket, key, [data])

    def put_stream(
        self, bucket: str, key: str, chunks: Iterable[bytes], *,
        attributes: Attributes | None = None, condition: Condition | None = None,
    ) -> ObjectInfo:  # fmt: skip
        """Write an object from ``chunks`` (block by block to a temp file, fsynced), put in
        place only once complete, so a failing iterator leaves the old object as it was;
        with ``condition``, only if the current object meets it (checked at the switch).
        In an encrypted bucket the file holds ciphertext (:mod:`.object_crypto`); the
        size and etag recorded are the plaintext's."""
        self._path(bucket, key)  # a bad bucket or key is refused before a byte is read
        seq = time.time_ns()
        config = self.bucket_config(bucket) or {}
        version = new_version_id(seq) if config.get("versioning") else None
        plain = Tally(chunks)
        place = Place(bucket, key, version or NULL_VERSION)
        body = self._at_rest.body(bool(config.get("encrypted")), place, plain)
        with staged(self.root) as (handle, tmp):
            copy(body, handle)
            seal(handle)
            written = (plain.size, plain.digest.hexdigest(), seq, version)
            return self._commit(bucket, key, handle, tmp, written, attributes, condition)

    def set_tags(
        self, bucket: str, key: str, tags: dict[str, str], *, version_id: str | None = None
    ) -> ObjectInfo:
        """Replace the tags of the object (or of one of its versions)."""
        top = self._bucket_dir(bucket)
        with bucket_lock(top):
            handle, record = self._locate(bucket, key, version_id)
            with handle:
                info = describe(bucket, key, handle, record)
                inode = os.fstat(handle.fileno()).st_ino
            current = record or fresh(info.etag, info.size, inode, info.attributes, None, 0)
            place = self._sidecar_of(bucket, key, version_id)
            save(self.root, place, current.retagged(tags))
        return replace(info, attributes=current.retagged(tags).attributes)

    def delete(self, bucket: str, key: str, *, version_id: str | None = None) -> Deleted:
        """Delete the object (idempotent) and the directories it leaves empty. In a
        versioned bucket: without ``version_id`` the current version becomes noncurrent
        behind a new delete marker; with it, that version (or marker) is removed."""
        path, top = self._path(bucket, key), self._bucket_dir(bucket)
        side = sidecar_path(self.root, bucket, key)
        with bucket_lock(top):
            if version_id is not None:
                done = self._versions.delete_version(bucket, key, version_id, path)
            elif (self.bucket_config(bucket) or {}).get("versioning"):
                done = self._versions.add_delete_marker(bucket, key, path)
            else:
                path.unlink(missing_ok=True)
                side.unlink(missing_ok=True)
                done = Deleted()
            tidy(path, top)  # under the lock: a put's mkdir-then-rename must not lose its folder
        return done

    def _commit(
        self, bucket: str, key: str, handle: IO[bytes], tmp: Path,
        written: tuple[int, str, int, str | None], attributes: Attributes | None,
        condition: Condition | None,
    ) -> ObjectInfo:  # fmt: skip
        """Install the staged ``tmp`` (open as ``handle``) as the object, with its sidecar;
        ``written``: the plaintext's size and etag, the write's time and version id."""
        path, top = self._path(bucket, key), self._bucket_dir(bucket)
        size, etag, seq, version = written
        stat = os.fstat(handle.fileno())
        record = fresh(etag, size, stat.st_ino, attributes, version, seq, stored=stat.st_size)
        with staged(self.root) as (meta, meta_tmp):
            meta.write(record.dump())
            seal(meta)
            with bucket_lock(top):
                current = object_meta.current(self.root, bucket, key, path)
                if condition is not None:
                    condition.check(current.etag if current else None)
                if version is not None and current is not None:
                    self._versions.archive(bucket, key, path, current)
                _install_object(tmp, path, key)
                install(meta_tmp, sidecar_path(self.root, bucket, key))
        return record.info(bucket, key, datetime.fromtimestamp(stat.st_mtime, UTC))

    # --- reading ----------------------------------------------------------------------

    def open(self, bucket: str, key: str, *, version_id: str | None = None) -> FileObject:
        """The object (or one of its versions) opened for reading; :class:`NoSuchObject`,
        :class:`NoSuchVersion` or :class:`DeleteMarker` when there is none to read."""
        top = self._bucket_dir(bucket)
        with bucket_lock(top, shared=True):
            raw, record = self._locate(bucket, key, version_id)
        version = (record.version_id if record else None) or NULL_VERSION
        # the sidecar says the store encrypted it (a file without one: the bucket's setting)
        sealed = record.stored is not None if record else self._encrypted(bucket)
        handle = self._at_rest.reader(raw, Place(bucket, key, version), encrypted=sealed)
        try:
            return FileObject(describe(bucket, key, handle, record), handle)
        except BaseException:
            handle.close()
            raise

    def _encrypted(self, bucket: str) -> bool:
        return bool((self.bucket_config(bucket) or {}).get("encrypted"))

    def get(self, bucket: str, key: str) -> bytes:
        return b"".join(self.open(bucket, key).blocks())

    def get_stream(self, bucket: str, key: str, *, chunk: int = CHUNK) -> Iterator[bytes]:
        """The object's content in blocks of ``chunk`` bytes; a missing object fails here,
        not at the first block."""
        return self.open(bucket, key).blocks(chunk=chunk)

    def head(self, bucket: str, key: str, *, version_id: str | None = None) -> ObjectInfo | None:
        try:
            opened = self.open(bucket, key, version_id=version_id)
        except NoSuchObject:
            return None
        opened.close()
        return opened.info

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every current object under ``prefix``, in key order."""
        for key, _ in self._files(self._bucket_dir(bucket), prefix):
            info = self.head(bucket, key)
            if info is not None:  # else deleted since the walk saw it
                yield info

    def names(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, datetime]]:
        """Keys and modification times only, in key order."""
        for key, path in self._files(self._bucket_dir(bucket), prefix):
            try:
                yield key, datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except FileNotFoundError:
                continue

    def versions(self, bucket: str, prefix: str = "") -> Iterator[Version]:
        """Every version and delete marker under ``prefix``: by key, newest first."""
        top = self._bucket_dir(bucket)
        keys = {k for k, _ in self._files(top, prefix)}
        keys |= {k for k in self._versions.keys(bucket) if k.startswith(prefix)}
        for key in sorted(keys):
            with bucket_lock(top, shared=True):
                current = self.head(bucket, key)
                older = self._versions.entries(bucket, key)
            found = [current] if current else []
            found += [self._versions.info(bucket, key, r) for r in older]
            yield from (Version(info, latest=n == 0) for n, info in enumerate(found))

    def expire_versions(self, bucket: str, rule: Expiry) -> int:
        """Apply ``rule`` to every key of ``bucket`` with noncurrent versions; how many
        versions and delete markers went."""
        top = self._bucket_dir(bucket)
        removed = 0
        for key in list(self._versions.keys(bucket)):
            with bucket_lock(top):
                now = current(self.root, bucket, key, self._path(bucket, key))
                removed += self._versions.expire(bucket, key, now, rule)
        return removed

    def _locate(
        self, bucket: str, key: str, version_id: str | None
    ) -> tuple[IO[bytes], Record | None]:
        """The bytes and sidecar of the object or version; the caller holds the lock."""
        path = self._path(bucket, key)
        record = load(sidecar_path(self.root, bucket, key))
        current = (record.version_id if record else None) or NULL_VERSION
        if version_id is None or (version_id == current and path.is_file()):
            return open_file(path, f"{bucket}/{key}"), record
        if not valid_version_id(version_id):
            raise NoSuchVersion(f"invalid version id {version_id!r}")
        found = self._versions.open(bucket, key, version_id)
        if found is None:
            raise NoSuchVersion(f"no version {version_id} of {bucket}/{key}")
        handle, older = found
        if handle is None:
            raise DeleteMarker(f"version {version_id} of {bucket}/{key} is a delete marker")
        return handle, older

    def _sidecar_of(self, bucket: str, key: str, version_id: str | None) -> Path:
        record = load(sidecar_path(self.root, bucket, key))
        current = (record.version_id if record else None) or NULL_VERSION
        if version_id is None or version_id == current:
            return sidecar_path(self.root, bucket, key)
        return self._versions.sidecar(bucket, key, version_id)

    # --- multipart --------------------------------------------------------------------

    def create_multipart(
        self, bucket: str, key: str, *, attributes: Attributes | None = None
    ) -> str:
        """Start a multipart upload of ``bucket/key``; returns its upload id."""
        self._path(bucket, key)  # a bad bucket or key is refused before anything exists
        return self._uploads.create(bucket, key, attributes)

    def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, chunks: Iterable[bytes]
    ) -> Part:
        """Store part ``number`` (1-10000) of the upload; uploading a number again replaces
        that part."""
        return self._uploads.upload_part(bucket, key, upload_id, number, chunks)

    def parts(self, bucket: str, key: str, upload_id: str) -> builtins.list[Part]:
        return self._uploads.parts(bucket, key, upload_id)

    def uploads(self, bucket: str, prefix: str = "") -> Iterator[Upload]:
        self._bucket_dir(bucket)
        return self._uploads.listing(bucket, prefix)

    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[Part]
    ) -> ObjectInfo:
        """Join ``parts`` (ascending numbers, each as uploaded) into the object, which
        appears whole or not at all; the upload's parts are then removed."""
        place = self._uploads.find(bucket, key, upload_id)
        blocks = self._uploads.blocks(place, parts)
        info = self.put_stream(bucket, key, blocks, attributes=self._uploads.attributes(place))
        self._uploads.discard(place)
        return info

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        """Throw the upload's parts away (no object is created)."""
        self._uploads.discard(self._uploads.find(bucket, key, upload_id))

    # --- names ------------------------------------------------------------------------

    @staticmethod
    def _files(top: Path, prefix: str) -> Iterator[tuple[str, Path]]:
        for path in sorted(top.rglob("*")):
            key = path.relative_to(top).as_posix()
            if key.startswith(prefix) and TMP_PREFIX not in path.name and path.is_file():
                yield key, path

    def _bucket_dir(self, bucket: str, *, must_exist: bool = True) -> Path:
        if not valid_bucket(bucket):
            raise ObjectStoreError(
                f"bad bucket name {bucket!r}: use 3-63 lowercase letters, digits, dots, dashes"
            )
        path = self.root / bucket
        if must_exist and not path.is_dir():
            raise ObjectStoreError(f"no bucket {bucket!r}")
        return path

    def _path(self, bucket: str, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ObjectStoreError(f"bad object key {key!r}")
        if len(key.encode()) > 1024:
            raise ObjectStoreError("bad object key: longer than 1024 bytes")
        return self._bucket_dir(bucket).joinpath(*parts)


def _install_object(tmp: Path, path: Path, key: str) -> None:
    try:
        install(tmp, path)
    except (NotADirectoryError, IsADirectoryError, FileExistsError):
        raise ObjectStoreError(
            f"key {key!r} clashes with another key: the file store cannot hold both "
            "a key and another key under it as a folder"
        ) from None
