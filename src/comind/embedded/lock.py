"""One platform per state directory, enforced by an advisory lock on ``comind.lock``.

The lock is an ``flock`` held for the life of the platform process, so it vanishes
with the process even after ``kill -9``; the file also records the holder's pid so a
refusal can say who holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from comind.errors import ComindError


class LockHeld(ComindError):
    def __init__(self, path: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid else "another process"
        super().__init__(
            f"a platform is already running on {path.parent} ({holder} holds {path.name}); "
            "run `comind down` or use another --home"
        )
        self.pid = pid


def holder_pid(path: Path) -> int | None:
    """The pid recorded in the lock file, if any process still holds the lock."""
    try:
        handle = path.open("r")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


class PlatformLock:
    """The exclusive lock of a state directory; ``acquire`` raises :class:`LockHeld`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            handle.close()
            raise LockHeld(self.path, int(text) if text.isdigit() else None) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.seek(0)
            self._handle.truncate()
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
