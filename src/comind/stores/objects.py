"""The object store interface and its local-directory backend.

``ObjectStore`` is the interface later backends (S3/MinIO) implement; callers receive
an instance, they never pick a backend themselves. ``FileObjectStore`` keeps
``<root>/<bucket>/<key>``: writes go to a temporary file that is renamed into place,
so a reader sees the old object or the new one, never half of one. The etag is the
MD5 of the content, as S3 reports it for single-part uploads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from comind.errors import ComindError

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TMP_PREFIX = ".comind-tmp-"


class ObjectStoreError(ComindError):
    """A bad bucket/key, or an object that does not exist."""


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str
    modified: datetime


class ObjectStore(Protocol):
    def create_bucket(self, bucket: str) -> None: ...
    def bucket_config(self, bucket: str) -> dict[str, Any] | None: ...
    def configure_bucket(self, bucket: str, config: dict[str, Any]) -> None: ...
    def delete_bucket(self, bucket: str) -> None: ...
    def put(self, bucket: str, key: str, data: bytes) -> ObjectInfo: ...
    def get(self, bucket: str, key: str) -> bytes: ...
    def head(self, bucket: str, key: str) -> ObjectInfo | None: ...
    def delete(self, bucket: str, key: str) -> None: ...
    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]: ...


class FileObjectStore:
    """Buckets as directories under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

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
        path = self._config_path(bucket)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(_TMP_PREFIX + path.name)
        tmp.write_text(json.dumps(config, sort_keys=True))
        os.replace(tmp, path)

    def delete_bucket(self, bucket: str) -> None:
        """Delete the bucket with every object in it."""
        shutil.rmtree(self._bucket_dir(bucket, must_exist=False), ignore_errors=True)
        self._config_path(bucket).unlink(missing_ok=True)

    def _config_path(self, bucket: str) -> Path:
        # outside every bucket: a name starting with "." is never a valid bucket name
        return self.root / ".buckets" / f"{bucket}.json"

    def put(self, bucket: str, key: str, data: bytes) -> ObjectInfo:
        return self.put_stream(bucket, key, [data])

    def put_stream(self, bucket: str, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        """Like :meth:`put` for data too big for memory: written to a temp file (fsynced),
        renamed into place only once complete, so a failure leaves no object."""
        path = self._path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
        digest, size = hashlib.md5(usedforsecurity=False), 0
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return ObjectInfo(
            bucket=bucket, key=key, size=size, etag=digest.hexdigest(), modified=modified
        )

    def read_stream(self, bucket: str, key: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        try:
            handle = self._path(bucket, key).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectStoreError(f"no object {bucket}/{key}") from None
        with handle:
            while block := handle.read(chunk):
                yield block

    def get(self, bucket: str, key: str) -> bytes:
        try:
            return self._path(bucket, key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectStoreError(f"no object {bucket}/{key}") from None

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        path = self._path(bucket, key)
        return self._info(bucket, key, path) if path.is_file() else None

    def delete(self, bucket: str, key: str) -> None:
        path = self._path(bucket, key)
        path.unlink(missing_ok=True)
        top = self._bucket_dir(bucket)
        for parent in path.parents:
            if parent == top or any(parent.iterdir()):
                break
            parent.rmdir()

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        top = self._bucket_dir(bucket)
        for path in sorted(top.rglob("*")):
            key = path.relative_to(top).as_posix()
            if path.is_file() and key.startswith(prefix) and _TMP_PREFIX not in path.name:
                yield self._info(bucket, key, path)

    def names(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, datetime]]:
        """Keys and modification times only: :meth:`list` reads every object for its etag."""
        top = self._bucket_dir(bucket)
        for path in sorted(top.rglob("*")):
            key = path.relative_to(top).as_posix()
            if path.is_file() and key.startswith(prefix) and _TMP_PREFIX not in path.name:
                yield key, datetime.fromtimestamp(path.stat().st_mtime, UTC)

    def _bucket_dir(self, bucket: str, *, must_exist: bool = True) -> Path:
        if not _BUCKET.match(bucket):
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
        return self._bucket_dir(bucket).joinpath(*parts)

    @staticmethod
    def _info(bucket: str, key: str, path: Path) -> ObjectInfo:
        stat = path.stat()
        digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        return ObjectInfo(bucket=bucket, key=key, size=stat.st_size, etag=digest, modified=modified)
