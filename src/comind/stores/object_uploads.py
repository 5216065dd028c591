"""Multipart uploads in progress: their parts, until the upload is completed or aborted.

An upload keeps ``<root>/.uploads/<upload id>/``: ``upload.json`` (bucket, key, the object's
attributes) and one ``<number>-<etag>.part`` file per part, each written as a whole (staged,
then renamed), so uploading a part again, or concurrently, leaves one complete part of that
number. Completing joins the parts the caller names, each checked against what was uploaded,
into the object, written as any other (so, in an encrypted bucket, encrypted at completion:
the parts wait in clear in the store's own area); aborting removes the directory. Both are
idempotent about a directory already gone.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from comind.stores.object_disk import blocks_of, bucket_lock, copy, seal, staged, write_small
from comind.stores.object_model import (
    MAX_PARTS,
    Attributes,
    InvalidPart,
    NoSuchUpload,
    ObjectStoreError,
    Part,
    Upload,
)

_UPLOAD_ID_LENGTH = 32


class Uploads:
    """The multipart uploads under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def create(self, bucket: str, key: str, attributes: Attributes | None) -> str:
        upload_id = secrets.token_hex(_UPLOAD_ID_LENGTH // 2)
        place = self._area / upload_id
        place.mkdir(parents=True)
        a = attributes or Attributes()
        meta = {"bucket": bucket, "key": key, "content_type": a.content_type,
                "metadata": dict(a.metadata), "tags": dict(a.tags)}  # fmt: skip
        write_small(self.root, place / "upload.json", json.dumps(meta).encode())
        return upload_id

    def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, chunks: Iterable[bytes]
    ) -> Part:
        place = self.find(bucket, key, upload_id)
        if not 1 <= number <= MAX_PARTS:
            raise ObjectStoreError(f"bad part number {number}: use 1-{MAX_PARTS}")
        digest = hashlib.md5(usedforsecurity=False)
        with staged(self.root) as (handle, tmp):
            size = copy(chunks, handle, digest)
            seal(handle)
            etag = digest.hexdigest()
            self._install_part(place, tmp, number, etag)
        return Part(number=number, etag=etag, size=size)

    @staticmethod
    def _install_part(place: Path, tmp: Path, number: int, etag: str) -> None:
        """Put the part in place and drop an earlier upload of its number, under the
        upload's lock: of concurrent uploads of one number, the last one stays."""
        name = f"{number:05d}-{etag}.part"
        try:
            with bucket_lock(place):
                os.replace(tmp, place / name)
                for earlier in place.glob(f"{number:05d}-*.part"):
                    if earlier.name != name:
                        earlier.unlink(missing_ok=True)
        except FileNotFoundError:  # completed or aborted while the part streamed in
            raise NoSuchUpload(f"the multipart upload {place.name} is gone") from None

    def parts(self, bucket: str, key: str, upload_id: str) -> list[Part]:
        """The parts uploaded so far, by number."""
        found = []
        for file in sorted(self.find(bucket, key, upload_id).glob("*.part")):
            number, _, etag = file.stem.partition("-")
            try:
                stat = file.stat()
            except FileNotFoundError:  # replaced by a new upload of its number meanwhile
                continue
            modified = datetime.fromtimestamp(stat.st_mtime, UTC)
            found.append(Part(int(number), etag, stat.st_size, modified))
        return found

    def blocks(self, place: Path, parts: Sequence[Part]) -> Iterator[bytes]:
        """The content of ``parts`` joined, block by block (checked before the first)."""
        files = _checked_parts(place, parts)
        return self._joined(files)

    @staticmethod
    def _joined(files: list[Path]) -> Iterator[bytes]:
        for file in files:
            try:
                with file.open("rb") as part:
                    yield from blocks_of(part)
            except FileNotFoundError:
                raise InvalidPart(f"{file.name} was replaced while the upload completed") from None

    def attributes(self, place: Path) -> Attributes:
        meta = json.loads((place / "upload.json").read_text())
        return Attributes(meta["content_type"], meta["metadata"], meta["tags"])

    def discard(self, place: Path) -> None:
        shutil.rmtree(place, ignore_errors=True)

    def listing(self, bucket: str, prefix: str = "") -> Iterator[Upload]:
        """The bucket's uploads in progress under ``prefix``, by key then start."""
        found = []
        for meta_path in self._area.glob("*/upload.json"):
            try:
                meta = json.loads(meta_path.read_text())
                started = datetime.fromtimestamp(meta_path.stat().st_mtime, UTC)
            except (FileNotFoundError, ValueError):
                continue
            if meta["bucket"] == bucket and meta["key"].startswith(prefix):
                attributes = Attributes(meta["content_type"], meta["metadata"], meta["tags"])
                found.append(Upload(meta_path.parent.name, bucket, meta["key"], started,
                                    attributes))  # fmt: skip
        yield from sorted(found, key=lambda u: (u.key, u.started))

    def find(self, bucket: str, key: str, upload_id: str) -> Path:
        place = self._area / upload_id
        meta_path = place / "upload.json"
        if len(upload_id) != _UPLOAD_ID_LENGTH or not upload_id.isalnum():
            raise NoSuchUpload(f"no multipart upload {upload_id!r} of {bucket}/{key}")
        try:
            meta = json.loads(meta_path.read_text())
        except (FileNotFoundError, ValueError):
            raise NoSuchUpload(f"no multipart upload {upload_id!r} of {bucket}/{key}") from None
        if (meta["bucket"], meta["key"]) != (bucket, key):
            raise NoSuchUpload(f"upload {upload_id} is not one of {bucket}/{key}")
        return place

    @property
    def _area(self) -> Path:
        return self.root / ".uploads"  # outside every bucket, as .tmp


def _checked_parts(place: Path, parts: Sequence[Part]) -> list[Path]:
    """The part files ``parts`` name, refused unless in ascending order and each as
    uploaded (number and etag; size when the caller knows it)."""
    if not parts:
        raise InvalidPart("a multipart upload needs at least one part")
    numbers = [p.number for p in parts]
    if numbers != sorted(set(numbers)):
        raise InvalidPart(f"parts must be listed in ascending order once each: {numbers}")
    files = []
    for part in parts:
        file = place / f"{part.number:05d}-{part.etag}.part"
        if not file.is_file() or (part.size >= 0 and file.stat().st_size != part.size):
            raise InvalidPart(f"part {part.number} was not uploaded as listed")
        files.append(file)
    return files
