"""An object's attributes beside its bytes: one JSON sidecar per object.

The sidecar of ``<bucket>/<key>`` is ``<root>/.meta/<bucket>/<hh>/<sha256(key)>.json``
(outside every bucket, so it never shows up as a key, and flat, so a delete never has to
tidy its directories). It holds the etag (so a HEAD or a listing does not read the object
to hash it), the media type, user metadata, tags and version id, and the inode and size of
the bytes it describes: a sidecar that does not describe the file beside it (an object
written by an older version of the store, or copied in by hand) is ignored and the etag is
computed from the bytes, with default attributes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comind.stores.object_disk import Readable, blocks_of, write_small
from comind.stores.object_model import Attributes, ObjectInfo


@dataclass(frozen=True)
class Record:
    """What a sidecar holds."""

    etag: str
    size: int
    inode: int
    attributes: Attributes
    version_id: str | None = None
    seq: int = 0  # the write's time in ns: orders a key's versions
    delete_marker: bool = False
    stored: int | None = None  # bytes on disk when not ``size`` (an encrypted object)

    def describes(self, stat: os.stat_result) -> bool:
        """Whether this sidecar is the one of the file ``stat`` is of."""
        stored = self.size if self.stored is None else self.stored
        return (self.inode, stored) == (stat.st_ino, stat.st_size)

    def dump(self) -> bytes:
        a = self.attributes
        return json.dumps({
            "etag": self.etag, "size": self.size, "inode": self.inode,
            "content_type": a.content_type, "metadata": dict(a.metadata), "tags": dict(a.tags),
            "version_id": self.version_id, "seq": self.seq, "delete_marker": self.delete_marker,
            "stored": self.stored,
        }).encode()  # fmt: skip

    def info(self, bucket: str, key: str, modified: datetime) -> ObjectInfo:
        return ObjectInfo(bucket=bucket, key=key, size=self.size, etag=self.etag,
                          modified=modified, attributes=self.attributes,
                          version_id=self.version_id, delete_marker=self.delete_marker)  # fmt: skip

    def retagged(self, tags: dict[str, str]) -> Record:
        return replace(self, attributes=replace(self.attributes, tags=tags))


def load(path: Path) -> Record | None:
    """The sidecar at ``path``, None when there is none (or it is unreadable)."""
    try:
        raw: dict[str, Any] = json.loads(path.read_bytes())
        attributes = Attributes(raw["content_type"], raw["metadata"], raw["tags"])
        return Record(raw["etag"], raw["size"], raw["inode"], attributes, raw["version_id"],
                      raw["seq"], raw["delete_marker"], raw.get("stored"))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(root: Path, path: Path, record: Record) -> None:
    write_small(root, path, record.dump())


def sidecar_path(root: Path, bucket: str, key: str) -> Path:
    digest = key_digest(key)
    return root / ".meta" / bucket / digest[:2] / f"{digest}.json"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def describe(bucket: str, key: str, handle: Readable, record: Record | None) -> ObjectInfo:
    """The info of the open file ``handle``: from ``record`` when it describes this very
    file, else computed from the bytes (the handle is left at its start)."""
    stat = os.fstat(handle.fileno())
    modified = datetime.fromtimestamp(stat.st_mtime, UTC)
    if record is not None and record.describes(stat):
        return record.info(bucket, key, modified)
    digest, size = hashlib.md5(usedforsecurity=False), 0
    for block in blocks_of(handle):  # block by block: objects may be bigger than memory
        digest.update(block)
        size += len(block)
    handle.seek(0)
    return ObjectInfo(bucket=bucket, key=key, size=size, etag=digest.hexdigest(),
                      modified=modified)  # fmt: skip


def fresh(etag: str, size: int, inode: int, attributes: Attributes | None, version: str | None,
          seq: int, *, stored: int | None = None) -> Record:  # fmt: skip
    """A new sidecar; ``stored``: the file's size, recorded when not ``size`` (encrypted)."""
    kept = None if stored == size else stored
    return Record(etag, size, inode, attributes or Attributes(), version, seq, stored=kept)


def current(root: Path, bucket: str, key: str, path: Path) -> Record | None:
    """The sidecar of the object at ``path`` (made up from its bytes when it has none that
    describes them), None when there is no object; the caller holds the bucket lock."""
    try:
        handle = path.open("rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    with handle:
        record = load(sidecar_path(root, bucket, key))
        info = describe(bucket, key, handle, record)
        stat = os.fstat(handle.fileno())
    if record is not None and record.describes(stat):
        return record
    return fresh(info.etag, info.size, stat.st_ino, None, None, stat.st_mtime_ns)
