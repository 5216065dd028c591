"""The values the object store deals in: what an object is (``ObjectInfo``), what a writer
gives besides its bytes (``Attributes``), versions, multipart parts and uploads, and the
errors, one class per thing a caller (the S3 endpoint) answers differently."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from comind.errors import ComindError

DEFAULT_TYPE = "application/octet-stream"
CHUNK = 1 << 20  # the block size streams are read in
MAX_PARTS = 10_000  # as S3
NULL_VERSION = "null"  # S3's id of a version written while the bucket was not versioned
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")


def valid_bucket(name: str) -> bool:
    """Whether ``name`` is a valid bucket name (as S3's rules, without the exceptions)."""
    return _BUCKET.match(name) is not None


class ObjectStoreError(ComindError):
    """A bad bucket/key/upload, or an object that does not exist."""


class NoSuchObject(ObjectStoreError):
    """The key (or the version asked for) holds no object."""


class NoSuchVersion(ObjectStoreError):
    """The version id names no version of the key."""


class NoSuchUpload(ObjectStoreError):
    """The upload id names no multipart upload of the key (never started, completed or
    aborted)."""


class InvalidPart(ObjectStoreError):
    """Completing an upload named a part that was not uploaded as named."""


class DeleteMarker(ObjectStoreError):
    """The version asked for is a delete marker, which has no bytes."""


class PreconditionFailed(ObjectStoreError):
    """A conditional write found the object not as the condition required."""


@dataclass(frozen=True)
class Attributes:
    """What an object carries besides its bytes: its media type, user metadata (S3's
    ``x-amz-meta-*``, names lower-case) and tags."""

    content_type: str = DEFAULT_TYPE
    metadata: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str
    modified: datetime
    attributes: Attributes = Attributes()
    version_id: str | None = None  # None: the bucket is not versioned
    delete_marker: bool = False  # only in version listings: a delete recorded as a version


@dataclass(frozen=True)
class Version:
    """One entry of a version listing; ``latest`` for the key's current version (or its
    delete marker)."""

    info: ObjectInfo
    latest: bool


@dataclass(frozen=True)
class Deleted:
    """What a delete did: in a versioned bucket, the version it removed or the delete
    marker it added (``delete_marker``)."""

    version_id: str | None = None
    delete_marker: bool = False


@dataclass(frozen=True)
class Part:
    """One uploaded part of a multipart upload (what completing the upload names)."""

    number: int
    etag: str
    size: int
    modified: datetime | None = None


@dataclass(frozen=True)
class Upload:
    """A multipart upload in progress."""

    upload_id: str
    bucket: str
    key: str
    started: datetime
    attributes: Attributes


@dataclass(frozen=True)
class Condition:
    """A conditional write: ``if_match`` an etag the current object must have,
    ``if_none_match`` ``"*"`` for "only if no object exists"."""

    if_match: str | None = None
    if_none_match: str | None = None

    def check(self, etag: str | None) -> None:
        """Refuse the write when the current object (its etag; None: none) does not
        allow it."""
        if self.if_none_match == "*" and etag is not None:
            raise PreconditionFailed("an object already exists under this key")
        if self.if_match is not None and (
            etag is None or self.if_match.strip('"') not in (etag, "*")
        ):
            raise PreconditionFailed("the object's etag does not match If-Match")


class StoredObject(Protocol):
    """An object opened for reading: its info and its bytes as they were when it was
    opened, even if it is replaced meanwhile."""

    info: ObjectInfo

    def blocks(self, start: int = 0, end: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` (inclusive; None: the last), block by block; closes
        the object when done."""
        ...

    def close(self) -> None: ...
