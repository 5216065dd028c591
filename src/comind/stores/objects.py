"""The object store interface and its local-directory backend.

``ObjectStore`` is the interface every backend (the local directory here, S3/MinIO later)
implements; callers receive an instance, they never pick a backend themselves, and they
reach the data only through it. Big objects go through the streaming methods
(``put_stream``/``get_stream``, iterators of blocks: nothing holds a whole object in memory)
or a multipart upload (parts uploaded one by one, in any order, made into one object on
completion, or thrown away on abort).

``FileObjectStore`` keeps ``<root>/<bucket>/<key>``. Every write goes to a temporary file in
the store's own area (``<root>/.tmp``, outside every bucket) that is fsynced, then renamed
into place, so a reader sees the old object or the new one, never half of one; a multipart
upload keeps its parts under ``<root>/.uploads/<upload id>`` until it is completed (the
parts joined into one temporary file, renamed into place) or aborted (the parts deleted).
The etag is the MD5 of the content, as S3 reports it for single-part uploads (the file store
reports it for multipart objects too: callers treat etags as opaque).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from comind.errors import ComindError

if TYPE_CHECKING:
    from hashlib import _Hash

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_TMP_PREFIX = ".comind-tmp-"
CHUNK = 1 << 20  # the block size streams are read in
MAX_PARTS = 10_000  # as S3


def valid_bucket(name: str) -> bool:
    """Whether ``name`` is a valid bucket name (as S3's rules, without the exceptions)."""
    return _BUCKET.match(name) is not None


class ObjectStoreError(ComindError):
    """A bad bucket/key/upload, or an object that does not exist."""


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str
    modified: datetime


@dataclass(frozen=True)
class Part:
    """One uploaded part of a multipart upload (what completing the upload names)."""

    number: int
    etag: str
    size: int


class ObjectStore(Protocol):
    def create_bucket(self, bucket: str) -> None: ...
    def bucket_config(self, bucket: str) -> dict[str, Any] | None: ...
    def configure_bucket(self, bucket: str, config: dict[str, Any]) -> None: ...
    def delete_bucket(self, bucket: str) -> None: ...
    def buckets(self) -> list[str]: ...
    def put(self, bucket: str, key: str, data: bytes) -> ObjectInfo: ...
    def put_stream(self, bucket: str, key: str, chunks: Iterable[bytes]) -> ObjectInfo: ...
    def get(self, bucket: str, key: str) -> bytes: ...
    def get_stream(self, bucket: str, key: str, *, chunk: int = CHUNK) -> Iterator[bytes]: ...
    def head(self, bucket: str, key: str) -> ObjectInfo | None: ...
    def delete(self, bucket: str, key: str) -> None: ...
    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]: ...
    def names(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, datetime]]: ...
    def create_multipart(self, bucket: str, key: str) -> str: ...
    def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, chunks: Iterable[bytes]
    ) -> Part: ...
    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[Part]
    ) -> ObjectInfo: ...
    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None: ...


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

    def buckets(self) -> list[str]:
        """Every bucket's name, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _BUCKET.match(p.name))

    def _config_path(self, bucket: str) -> Path:
        # outside every bucket: a name starting with "." is never a valid bucket name
        return self.root / ".buckets" / f"{bucket}.json"

    def put(self, bucket: str, key: str, data: bytes) -> ObjectInfo:
        return self.put_stream(bucket, key, [data])

    def put_stream(self, bucket: str, key: str, chunks: Iterable[bytes]) -> ObjectInfo:
        """Like :meth:`put` for data too big for memory: written block by block to a temp
        file (fsynced), renamed into place only once complete, so a failure leaves no object."""
        path = self._path(bucket, key)
        digest = hashlib.md5(usedforsecurity=False)
        with self._staged() as (handle, tmp):
            size = _copy(chunks, handle, digest)
            _seal(handle)
            _install(tmp, path)
        return self._written(bucket, key, path, size, digest.hexdigest())

    def get_stream(self, bucket: str, key: str, *, chunk: int = CHUNK) -> Iterator[bytes]:
        """The object's content in blocks of ``chunk`` bytes; a missing object fails here,
        not at the first block."""
        path = self._path(bucket, key)
        if not path.is_file():
            raise ObjectStoreError(f"no object {bucket}/{key}")
        return _blocks(path, f"{bucket}/{key}", chunk)

    def get(self, bucket: str, key: str) -> bytes:
        try:
            return self._path(bucket, key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectStoreError(f"no object {bucket}/{key}") from None

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        path = self._path(bucket, key)
        return self._info(bucket, key, path) if path.is_file() else None

    def delete(self, bucket: str, key: str) -> None:
        """Delete an object (idempotent) and the directories it leaves empty."""
        path = self._path(bucket, key)
        path.unlink(missing_ok=True)
        top = self._bucket_dir(bucket)
        for parent in path.parents:
            if parent == top:
                break
            try:
                parent.rmdir()
            except OSError:  # not empty, or a concurrent delete removed it first: done
                break

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix`` with its etag (which the file store computes by
        reading the object: prefer :meth:`names` where keys are enough)."""
        top = self._bucket_dir(bucket)
        for key, path in self._files(top, prefix):
            yield self._info(bucket, key, path)

    def names(self, bucket: str, prefix: str = "") -> Iterator[tuple[str, datetime]]:
        """Keys and modification times only, in key order."""
        for key, path in self._files(self._bucket_dir(bucket), prefix):
            yield key, datetime.fromtimestamp(path.stat().st_mtime, UTC)

    def create_multipart(self, bucket: str, key: str) -> str:
        """Start a multipart upload of ``bucket/key``; returns its upload id."""
        self._path(bucket, key)  # a bad bucket or key is refused before anything exists
        upload_id = secrets.token_hex(16)
        place = self._uploads / upload_id
        place.mkdir(parents=True)
        (place / "upload.json").write_text(json.dumps({"bucket": bucket, "key": key}))
        return upload_id

    def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, chunks: Iterable[bytes]
    ) -> Part:
        """Store part ``number`` (1-10000) of the upload; uploading a number again replaces
        that part."""
        place = self._upload(bucket, key, upload_id)
        if not 1 <= number <= MAX_PARTS:
            raise ObjectStoreError(f"bad part number {number}: use 1-{MAX_PARTS}")
        digest = hashlib.md5(usedforsecurity=False)
        with self._staged() as (handle, tmp):
            size = _copy(chunks, handle, digest)
            _seal(handle)
            etag = digest.hexdigest()
            os.replace(tmp, place / f"{number:05d}-{etag}.part")
        for earlier in place.glob(f"{number:05d}-*.part"):  # an earlier upload of the number
            if earlier.name != f"{number:05d}-{etag}.part":
                earlier.unlink(missing_ok=True)
        return Part(number=number, etag=etag, size=size)

    def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[Part]
    ) -> ObjectInfo:
        """Join ``parts`` (ascending numbers, each as uploaded) into the object, which
        appears whole or not at all; the upload's parts are then removed."""
        place = self._upload(bucket, key, upload_id)
        files = _checked_parts(place, parts)
        path = self._path(bucket, key)
        digest, size = hashlib.md5(usedforsecurity=False), 0
        with self._staged() as (handle, tmp):
            for file in files:
                with file.open("rb") as part:
                    size += _copy(_blocks_of(part, CHUNK), handle, digest)
            _seal(handle)
            _install(tmp, path)
        shutil.rmtree(place, ignore_errors=True)
        return self._written(bucket, key, path, size, digest.hexdigest())

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        """Throw the upload's parts away (no object is created)."""
        shutil.rmtree(self._upload(bucket, key, upload_id), ignore_errors=True)

    @property
    def _uploads(self) -> Path:
        return self.root / ".uploads"  # outside every bucket, as .buckets

    def _upload(self, bucket: str, key: str, upload_id: str) -> Path:
        place = self._uploads / upload_id
        meta = place / "upload.json"
        if not _UPLOAD_ID.match(upload_id) or not meta.is_file():
            raise ObjectStoreError(f"no multipart upload {upload_id!r} of {bucket}/{key}")
        if json.loads(meta.read_text()) != {"bucket": bucket, "key": key}:
            raise ObjectStoreError(f"upload {upload_id} is not one of {bucket}/{key}")
        return place

    @contextmanager
    def _staged(self) -> Iterator[tuple[IO[bytes], Path]]:
        """A temp file in the store's own area, removed unless the block moved it away."""
        staging = self.root / ".tmp"
        staging.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=staging)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle, tmp
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def _written(bucket: str, key: str, path: Path, size: int, etag: str) -> ObjectInfo:
        modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return ObjectInfo(bucket=bucket, key=key, size=size, etag=etag, modified=modified)

    @staticmethod
    def _files(top: Path, prefix: str) -> Iterator[tuple[str, Path]]:
        for path in sorted(top.rglob("*")):
            key = path.relative_to(top).as_posix()
            if path.is_file() and key.startswith(prefix) and _TMP_PREFIX not in path.name:
                yield key, path

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
        with path.open("rb") as handle:  # block by block: objects may be bigger than memory
            digest = hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False))
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        return ObjectInfo(
            bucket=bucket, key=key, size=stat.st_size, etag=digest.hexdigest(), modified=modified
        )


def _copy(chunks: Iterable[bytes], out: IO[bytes], digest: _Hash) -> int:
    """Write ``chunks`` to ``out``, feeding ``digest``; returns how many bytes."""
    size = 0
    for chunk in chunks:
        out.write(chunk)
        digest.update(chunk)
        size += len(chunk)
    return size


def _seal(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _install(tmp: Path, path: Path) -> None:
    for _ in range(3):  # a concurrent delete may remove the emptied parent between the two
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, path)
            return
        except FileNotFoundError:
            if not tmp.exists():
                raise
    os.replace(tmp, path)


def _blocks(path: Path, name: str, chunk: int) -> Iterator[bytes]:
    try:
        handle = path.open("rb")
    except (FileNotFoundError, IsADirectoryError):  # deleted since get_stream looked
        raise ObjectStoreError(f"no object {name}") from None
    with handle:
        yield from _blocks_of(handle, chunk)


def _blocks_of(handle: IO[bytes], chunk: int) -> Iterator[bytes]:
    while block := handle.read(chunk):
        yield block


def _checked_parts(place: Path, parts: Sequence[Part]) -> list[Path]:
    """The part files ``parts`` name, refused unless in ascending order and each as
    uploaded (number, etag and size)."""
    if not parts:
        raise ObjectStoreError("a multipart upload needs at least one part")
    numbers = [p.number for p in parts]
    if numbers != sorted(set(numbers)):
        raise ObjectStoreError(f"parts must be listed in ascending order once each: {numbers}")
    files = []
    for part in parts:
        file = place / f"{part.number:05d}-{part.etag}.part"
        if not file.is_file() or file.stat().st_size != part.size:
            raise ObjectStoreError(f"part {part.number} was not uploaded as listed")
        files.append(file)
    return files
