"""Shipping log files into the log store: the platform's JSON log and each app's output.

Each pass reads what was appended since the last one (offsets kept in
``logs/.shipped.json``, so a restart neither loses nor repeats lines); a file that shrank
was rotated and is read from its start. Lines are parsed into time, source, level and
message; anything unparsable is kept as an info line of its source.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from comind.monitoring.logstore import LogLine, LogStore

MAX_BYTES_PER_PASS = 4 * 1024 * 1024


class LogShipper:
    def __init__(self, store: LogStore, logs_dir: Path) -> None:
        self.store, self.logs_dir = store, logs_dir
        self.state_file = logs_dir / ".shipped.json"
        self.offsets: dict[str, list[int]] = self._load()

    def step(self) -> int:
        """Ship what was appended to every log file; the number of lines."""
        lines: list[LogLine] = []
        for path, source in self._files():
            lines += self._read(path, source)
        self.store.write(lines)
        self._save()
        return len(lines)

    def _files(self) -> list[tuple[Path, str]]:
        found = [(self.logs_dir / "comind.jsonl", "platform")]
        found += [(p, f"app:{p.stem}") for p in sorted((self.logs_dir / "apps").glob("*.log"))]
        return [(p, s) for p, s in found if p.is_file()]

    def _read(self, path: Path, source: str) -> list[LogLine]:
        stat = path.stat()
        inode, offset = self.offsets.get(str(path), [stat.st_ino, 0])
        if inode != stat.st_ino or stat.st_size < offset:
            offset = 0  # rotated or truncated: a new file
        with path.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read(MAX_BYTES_PER_PASS)
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a half-written last line waits
        self.offsets[str(path)] = [stat.st_ino, offset + len(complete)]
        parse = _platform_line if source == "platform" else _app_line
        return [parse(raw.decode(errors="replace"), source) for raw in complete.splitlines() if raw]

    def _load(self) -> dict[str, list[int]]:
        try:
            loaded: dict[str, list[int]] = json.loads(self.state_file.read_text())
            return loaded
        except (OSError, ValueError):
            return {}

    def _save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.offsets))
        os.replace(tmp, self.state_file)


def _platform_line(text: str, source: str) -> LogLine:
    try:
        doc: dict[str, Any] = json.loads(text)
        ts = datetime.fromisoformat(doc.pop("time"))
        level, message = str(doc.pop("level", "info")), str(doc.pop("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return LogLine(datetime.now(UTC), source, "info", text)
    return LogLine(ts, source, level, message, doc)


def _app_line(text: str, source: str) -> LogLine:
    stamp, _, message = text.partition(" ")
    try:
        ts = datetime.fromisoformat(stamp)
    except ValueError:
        return LogLine(datetime.now(UTC), source, "info", text)
    runtime = message.startswith("[comind] ")
    fields = {"runtime": True} if runtime else {}
    return LogLine(ts, source, "info", message.removeprefix("[comind] "), fields)
