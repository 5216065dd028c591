"""The file store's disk mechanics: staged writes, renames that survive a concurrent tidy-up,
block reads, and the bucket lock.

Every write goes to a temporary file in the store's own area (``<root>/.tmp``, outside every
bucket) that is fsynced and then renamed into place, so a reader sees the old file or the
new one, never half of one. An object is two files (its bytes and its attributes' sidecar,
see :mod:`.object_meta`); the renames that install, move or remove them run under the
bucket's exclusive lock and readers open both under its shared lock, so a reader never pairs
one object's bytes with another's attributes. The lock is ``flock`` on the bucket's
directory: it holds across threads and across processes (flow workers write objects too),
and it leaves no lock file behind. Only renames and unlinks run under it, never a copy.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from comind.stores.object_model import CHUNK, NoSuchObject, ObjectInfo

if TYPE_CHECKING:
    from hashlib import _Hash

TMP_PREFIX = ".comind-tmp-"


class Readable(Protocol):
    """An object's bytes open for reading: a file, or an encrypted file's plaintext."""

    def read(self, size: int = -1, /) -> bytes: ...
    def seek(self, pos: int, /) -> int: ...
    def fileno(self) -> int: ...
    def close(self) -> None: ...


@contextmanager
def staged(root: Path) -> Iterator[tuple[IO[bytes], Path]]:
    """A temp file in the store's own area, removed unless the block moved it away."""
    staging = root / ".tmp"
    staging.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=staging)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle, tmp
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def bucket_lock(top: Path, *, shared: bool = False) -> Iterator[None]:
    """The lock of directory ``top`` (a bucket's, or an upload's): exclusive for changes,
    shared to read."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def copy(chunks: Iterable[bytes], out: IO[bytes], digest: _Hash | None = None) -> int:
    """Write ``chunks`` to ``out``, feeding ``digest``; returns how many bytes."""
    size = 0
    for chunk in chunks:
        out.write(chunk)
        if digest is not None:
            digest.update(chunk)
        size += len(chunk)
    return size


def seal(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def install(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``, creating its directories."""
    for _ in range(3):  # a concurrent delete may remove the emptied parent between the two
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, path)
            return
        except FileNotFoundError:
            if not tmp.exists():
                raise
    os.replace(tmp, path)


def tidy(path: Path, top: Path) -> None:
    """Remove the directories between ``path`` and ``top`` that are left empty."""
    for parent in path.parents:
        if parent == top:
            break
        try:
            parent.rmdir()
        except OSError:  # not empty, or a concurrent delete removed it first: done
            break


def write_small(root: Path, path: Path, data: bytes) -> None:
    """Write a small file (a sidecar, a marker) atomically."""
    with staged(root) as (handle, tmp):
        handle.write(data)
        seal(handle)
        install(tmp, path)


def blocks_of(handle: Readable, chunk: int = CHUNK, length: int | None = None) -> Iterator[bytes]:
    """``length`` bytes (None: all) of ``handle`` from where it stands, block by block."""
    left = length
    while left is None or left > 0:
        block = handle.read(chunk if left is None else min(chunk, left))
        if not block:
            return
        if left is not None:
            left -= len(block)
        yield block


def open_file(path: Path, name: str) -> IO[bytes]:
    try:
        return path.open("rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise NoSuchObject(f"no object {name}") from None


class FileObject:
    """An object opened for reading (see :class:`~.object_model.StoredObject`): the open
    file keeps its bytes even if the object is replaced or deleted meanwhile."""

    def __init__(self, info: ObjectInfo, handle: Readable) -> None:
        self.info, self._handle = info, handle

    def blocks(self, start: int = 0, end: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
        """Positioned at once (an encrypted object authenticates the chunk at ``start``
        here, not at the first block), then read as the blocks are asked for."""
        last = self.info.size - 1 if end is None else end
        try:
            self._handle.seek(start)
        except BaseException:
            self._handle.close()
            raise
        return self._from_here(chunk, max(0, last - start + 1))

    def _from_here(self, chunk: int, length: int) -> Iterator[bytes]:
        try:
            yield from blocks_of(self._handle, chunk, length)
        finally:
            self._handle.close()

    def close(self) -> None:
        self._handle.close()
