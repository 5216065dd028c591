"""The noncurrent versions of a versioned bucket's objects.

A versioned bucket keeps its current objects where an unversioned one does (``<bucket>/<key>``
with its sidecar), so everything that reads current objects works unchanged. Older versions
and delete markers live in ``<root>/.versions/<bucket>/<hh>/<sha256(key)>/``: ``key`` (the
key's name), and per version ``<version id>.json`` (its sidecar) and ``<version id>`` (its
bytes; a delete marker has none). A write moves the current version there before it
installs the new one; deleting the current version promotes the newest older one back.
Callers hold the bucket's lock (:func:`.object_disk.bucket_lock`): every change here is a
rename or an unlink, so it stays short. Version ids start with the write's time in
nanoseconds (hex), so they sort by age.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import IO

from comind.stores.object_disk import install, write_small
from comind.stores.object_meta import Record, current, key_digest, load, save, sidecar_path
from comind.stores.object_model import (
    NULL_VERSION,
    Attributes,
    Deleted,
    ObjectInfo,
    ObjectStoreError,
)

_VERSION_CHARS = set("0123456789abcdef") | set(NULL_VERSION)


@dataclass(frozen=True)
class Expiry:
    """A bucket's rule for versions an overwrite or a delete replaced: those replaced
    before ``before`` (Unix nanoseconds) go, except each key's newest ``keep_newest``."""

    before: int
    keep_newest: int


def new_version_id(seq: int) -> str:
    return f"{seq:016x}{secrets.token_hex(8)}"


def valid_version_id(version_id: str) -> bool:
    return version_id == NULL_VERSION or (
        len(version_id) == 32 and set(version_id) <= _VERSION_CHARS
    )


class VersionArea:
    """The noncurrent versions of every versioned bucket under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def archive(self, bucket: str, key: str, path: Path, record: Record) -> None:
        """Move the current object (bytes at ``path``, described by ``record``) into the
        noncurrent versions."""
        place = self._place(bucket, key)
        version = record.version_id or NULL_VERSION
        save(self.root, place / f"{version}.json", record)
        install(path, place / version)

    def mark_deleted(self, bucket: str, key: str, record: Record) -> None:
        """Record a delete marker (``record`` with ``delete_marker``) as the newest version."""
        save(self.root, self._place(bucket, key) / f"{record.version_id}.json", record)

    def add_delete_marker(self, bucket: str, key: str, path: Path) -> Deleted:
        """Delete without a version id: the current version (if any) becomes noncurrent,
        behind a new delete marker."""
        now = current(self.root, bucket, key, path)
        if now is not None:
            self.archive(bucket, key, path, now)
            sidecar_path(self.root, bucket, key).unlink(missing_ok=True)
        seq = time.time_ns()
        marker = Record("", 0, 0, Attributes(), new_version_id(seq), seq, delete_marker=True)
        self.mark_deleted(bucket, key, marker)
        return Deleted(marker.version_id, delete_marker=True)

    def delete_version(self, bucket: str, key: str, version_id: str, path: Path) -> Deleted:
        """Remove one version or delete marker for good (idempotent); when it was the
        current one, the newest older version becomes current."""
        if not valid_version_id(version_id):
            raise ObjectStoreError(f"invalid version id {version_id!r}")
        side = sidecar_path(self.root, bucket, key)
        now = current(self.root, bucket, key, path)
        if now is not None and (now.version_id or NULL_VERSION) == version_id:
            path.unlink(missing_ok=True)
            side.unlink(missing_ok=True)
            removed: Record | None = now
        else:
            removed = self.remove(bucket, key, version_id)
        if not path.exists() and (promoted := self.promote(bucket, key, path)):
            save(self.root, side, promoted)
        return Deleted(version_id, delete_marker=removed is not None and removed.delete_marker)

    def entries(self, bucket: str, key: str) -> list[Record]:
        """The key's noncurrent versions and delete markers, newest first."""
        place = self._dir(bucket, key)
        found = [r for p in place.glob("*.json") if (r := load(p)) is not None]
        return sorted(found, key=lambda r: (r.seq, r.version_id or ""), reverse=True)

    def open(
        self, bucket: str, key: str, version_id: str
    ) -> tuple[IO[bytes] | None, Record] | None:
        """The bytes and sidecar of a noncurrent version (a delete marker has no bytes:
        None), None when there is no such version."""
        place = self._dir(bucket, key)
        record = load(place / f"{version_id}.json")
        if record is None or record.delete_marker:
            return None if record is None else (None, record)
        try:
            return (place / version_id).open("rb"), record
        except FileNotFoundError:
            return None

    def remove(self, bucket: str, key: str, version_id: str) -> Record | None:
        """Delete a noncurrent version; returns what it was (None: there was none)."""
        place = self._dir(bucket, key)
        record = load(place / f"{version_id}.json")
        (place / version_id).unlink(missing_ok=True)
        (place / f"{version_id}.json").unlink(missing_ok=True)
        if not any(place.glob("*.json")):
            shutil.rmtree(place, ignore_errors=True)
        return record

    def promote(self, bucket: str, key: str, path: Path) -> Record | None:
        """Make the newest noncurrent version current again (its bytes moved to ``path``),
        unless it is a delete marker or there is none; returns its sidecar."""
        newest = next(iter(self.entries(bucket, key)), None)
        if newest is None or newest.delete_marker or newest.version_id is None:
            return None
        place = self._dir(bucket, key)
        install(place / newest.version_id, path)
        self.remove(bucket, key, newest.version_id)
        return newest

    def expire(self, bucket: str, key: str, now: Record | None, rule: Expiry) -> int:
        """Remove the key's noncurrent versions (and delete markers) replaced before
        ``rule.before`` (nanoseconds), except its newest ``rule.keep_newest`` versions;
        then a delete marker with nothing left behind it. ``now`` is the current version
        (None: there is none). Returns how many entries went; the caller holds the lock."""
        chain = ([now] if now is not None else []) + self.entries(bucket, key)
        kept = removed = 0
        for newer, entry in pairwise(chain):
            if not entry.delete_marker and kept < rule.keep_newest:
                kept += 1
            elif newer.seq < rule.before and entry.version_id is not None:
                self.remove(bucket, key, entry.version_id)
                removed += 1
        left = self.entries(bucket, key)
        if now is None and len(left) == 1 and left[0].delete_marker and left[0].version_id:
            self.remove(bucket, key, left[0].version_id)  # S3's "expired object delete marker"
            removed += 1
        return removed

    def sidecar(self, bucket: str, key: str, version_id: str) -> Path:
        return self._dir(bucket, key) / f"{version_id}.json"

    def keys(self, bucket: str) -> Iterator[str]:
        """Every key with noncurrent versions (in no order)."""
        for name in (self.root / ".versions" / bucket).glob("*/*/key"):
            try:
                yield name.read_text()
            except FileNotFoundError:  # removed since the glob saw it
                continue

    @staticmethod
    def info(bucket: str, key: str, record: Record) -> ObjectInfo:
        """A noncurrent version's info; it was last modified when it was written."""
        return record.info(bucket, key, datetime.fromtimestamp(record.seq / 1e9, UTC))

    def drop_bucket(self, bucket: str) -> None:
        shutil.rmtree(self.root / ".versions" / bucket, ignore_errors=True)

    def _dir(self, bucket: str, key: str) -> Path:
        digest = key_digest(key)
        return self.root / ".versions" / bucket / digest[:2] / digest

    def _place(self, bucket: str, key: str) -> Path:
        place = self._dir(bucket, key)
        if not (place / "key").is_file():
            place.mkdir(parents=True, exist_ok=True)
            write_small(self.root, place / "key", key.encode())
        return place
