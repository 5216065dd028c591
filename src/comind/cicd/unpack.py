"""An artifact (a tar archive, compressed or not) unpacked as an app's code: only regular
files and directories, every path inside the target (no absolute path, no ``..``, no link,
no device), modes without set-id bits. The interpreter's own ``data`` filter arrived in
Python 3.11.4; the machines this runs on may have an older 3.11."""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import IO

from comind.errors import ComindError

MAX_MEMBERS, MAX_BYTES = 100_000, 4 << 30  # a bomb is refused, not unpacked


def unpack(blocks: Iterable[bytes], into: Path, origin: str) -> Path:
    """``blocks`` (a tar archive) unpacked into ``into`` (made whole or not at all)."""
    if into.is_dir():
        return into
    into.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=into.parent))
    try:
        with tempfile.TemporaryFile(dir=into.parent) as archive:
            for block in blocks:
                archive.write(block)
            archive.seek(0)
            _extract(archive, staging / "tree", origin)
        (staging / "tree").rename(into)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return into


def _extract(archive: IO[bytes], target: Path, origin: str) -> None:
    try:
        with tarfile.open(fileobj=archive, mode="r:*") as tar:
            members = tar.getmembers()
            _check(members, origin)
            target.mkdir(mode=0o700)
            for member in members:
                runs = member.isdir() or member.mode & 0o111
                member.mode = 0o700 if runs else 0o600  # private; no set-id bits
                tar.extract(member, target, set_attrs=False)
                (target / member.name).chmod(member.mode)
    except tarfile.TarError as exc:
        raise ComindError(f"{origin}: not a tar archive ({exc})") from None


def _check(members: list[tarfile.TarInfo], origin: str) -> None:
    if len(members) > MAX_MEMBERS or sum(m.size for m in members) > MAX_BYTES:
        raise ComindError(f"{origin}: over {MAX_MEMBERS} files or {MAX_BYTES} bytes unpacked")
    for member in members:
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
            raise ComindError(f"{origin}: refused member {member.name!r} (only files and "
                              "folders inside the archive)")  # fmt: skip
