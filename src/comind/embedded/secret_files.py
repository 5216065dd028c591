"""Files of the state directory's ``secrets/``: changed under a file lock and written whole.

A key file is read, changed and written back under an exclusive ``flock`` on a lock file
beside it (threads and processes alike: two first backups at once must not each make a key
and keep one, losing the other's), and written under a temporary name (0600 from the
start) then renamed, so a crash leaves the old file or the new one, never half of one. A
passphrase becomes a key with scrypt (2^15, 8, 1), for exports and a wrapped KEK.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt


@contextlib.contextmanager
def locked(directory: Path, lock_name: str) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory / lock_name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_json(path: Path, doc: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:  # mkstemp makes it 0600
        json.dump(doc, handle)
    os.replace(tmp, path)


def write_bytes(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """``path`` holding ``data`` with ``mode``, or as it was: written aside, then renamed
    (in place of a link left at ``path``, never through it; the mode set on the open file,
    so not through a name swapped in the directory meanwhile either)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        os.fchmod(handle.fileno(), mode)
    os.replace(tmp, path)


def passphrase_key(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())
