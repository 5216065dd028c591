"""One log file per app: every line its processes print, stamped, in one place.

All instances of an app (the old and the new one during a rollout, each restart) append
to the same ``<name>.log`` so its history reads top to bottom. Each line gets an ISO
timestamp; the runtime's own notes are marked ``[comind]`` so they can be told from the
app's output. At ``max_bytes`` the file is moved to ``<name>.log.1`` (one generation
kept), which bounds the disk an app can fill with output. The files are 0600: an app's
output may hold what it should not have printed.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

MAX_BYTES = 10 * 1024 * 1024


class AppLog:
    """A thread-safe, rotating, timestamped log file."""

    def __init__(self, path: Path, *, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None

    def write(self, line: bytes) -> None:
        """Append one line of app output (a missing newline is added)."""
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").encode()
        with self._lock:
            out = self._open()
            out.write(stamp + b" " + line.rstrip(b"\n") + b"\n")
            out.flush()
            if out.tell() >= self.max_bytes:
                self._rotate()

    def note(self, text: str) -> None:
        """Append one line from the runtime itself; ``text`` must hold no secret."""
        self.write(f"[comind] {text}".encode())

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _open(self) -> BinaryIO:
        if self._file is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._file = os.fdopen(fd, "ab")
        return self._file

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        self._file = None
        self.path.replace(self.path.with_name(self.path.name + ".1"))
