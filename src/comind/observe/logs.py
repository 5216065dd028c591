"""Logging setup: JSON lines to the state directory, short human lines to the terminal.

Secret values registered with :func:`redact` are replaced by ``***`` in every record
before any handler formats it, so a password that slips into a message or an
exception never reaches a log file or the terminal.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def redact(value: str) -> None:
    """Never let ``value`` appear in a log record from now on."""
    if len(value) >= 6:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                doc[key] = value
        if record.exc_text:
            doc["exception"] = record.exc_text
        return scrub(json.dumps(doc, default=str))


class HumanFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")


def setup(*, log_dir: Path | None, verbose: bool = False, terminal: bool = True) -> None:
    """Configure the ``comind`` logger tree once per process."""
    root = logging.getLogger("comind")
    root.handlers.clear()
    root.setLevel(logging.DEBUG)
    root.propagate = False
    redactor = _RedactFilter()
    if terminal:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.DEBUG if verbose else logging.INFO)
        stream.setFormatter(HumanFormatter())
        stream.addFilter(redactor)
        root.addHandler(stream)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(log_dir / "comind.jsonl", encoding="utf-8")
        file.setLevel(logging.DEBUG)
        file.setFormatter(JsonFormatter())
        file.addFilter(redactor)
        root.addHandler(file)
