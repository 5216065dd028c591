"""The WAL archive: spooled WAL files shipped to the backup store compressed and encrypted
(``wal/NAME.cmb``, the segment name keeping the listing in WAL order), and fetched back
decrypted for a point-in-time restore.

A file leaves the spool only after its artifact is stored, so a failed ship is retried on
the next round and nothing is lost between PostgreSQL's archive_command and the store.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from comind.backup import metrics
from comind.backup.base import BUCKET
from comind.backup.crypto import open_stream, seal_stream
from comind.backup.keys import KeyRing
from comind.backup.store import AlreadyStored, write_once
from comind.stores.objects import ObjectStore

log = logging.getLogger("comind.backup.wal")
PREFIX = "wal/"
SUFFIX = ".cmb"
SEGMENT_NAME = 24  # timeline + log + segment, 8 hex digits each


@dataclass(frozen=True)
class Archived:
    name: str  # the WAL file name, e.g. 000000010000000000000003
    modified: datetime


class WalArchive:
    def __init__(self, store: ObjectStore, keys: KeyRing) -> None:
        self.store, self.keys = store, keys
        self._newest: Archived | None = None
        self._listed = False

    def newest(self) -> Archived | None:
        """The newest WAL segment in the store (listed once; then followed as it ships)."""
        if not self._listed:
            found = [s for s in self.segments() if len(s.name) == SEGMENT_NAME]
            self._newest = max(found, key=lambda s: s.name, default=None)
            self._listed = True
        return self._newest

    def ship(self, spool: Path) -> int:
        """Ship every spooled file, oldest name first; returns how many were shipped."""
        if not spool.is_dir():
            return 0
        self.store.create_bucket(BUCKET)
        shipped = 0
        for path in sorted(p for p in spool.iterdir() if not p.name.endswith(".tmp")):
            try:
                key_id, key = self.keys.current()
                chunks = _read(path)
                write_once(self.store, f"{PREFIX}{path.name}{SUFFIX}",
                           seal_stream(chunks, key_id, key))  # fmt: skip
            except AlreadyStored:
                if not self._same(path, chunks):  # never overwritten: kept spooled, alerted
                    metrics.WAL_FAILURES.inc()
                    log.error("WAL %s differs from the archived file of that name: kept in "
                              "the spool, not shipped", path.name)  # fmt: skip
                    break
                # shipped before a crash kept it from leaving the spool: it may go now
            except OSError as exc:
                metrics.WAL_FAILURES.inc()
                log.warning("WAL %s not shipped (kept in the spool, retried): %s", path.name, exc)
                break
            path.unlink()
            if len(path.name) == SEGMENT_NAME and (self._newest is None
                                                    or path.name > self._newest.name):  # fmt: skip
                self._newest = Archived(path.name, datetime.now(UTC))
            metrics.WAL_SHIPPED.inc()
            shipped += 1
        metrics.WAL_LAG.set(lag_seconds(spool))
        return shipped

    def _same(self, path: Path, chunks: list[bytes]) -> bool:
        stored = open_stream(self.store.get_stream(BUCKET, f"{PREFIX}{path.name}{SUFFIX}"),
                             self.keys.all())  # fmt: skip
        return b"".join(stored) == b"".join(chunks)

    def segments(self) -> list[Archived]:
        if self.store.bucket_config(BUCKET) is None:
            return []  # nothing archived yet
        return [
            Archived(key[len(PREFIX) : -len(SUFFIX)], modified)
            for key, modified in self.store.names(BUCKET, PREFIX)
            if key.endswith(SUFFIX)
        ]

    def segment_names(self) -> list[str]:
        """The archived WAL segments (not backup labels or timeline histories), in order."""
        return sorted(s.name for s in self.segments() if len(s.name) == SEGMENT_NAME)

    def since(self, first: str) -> list[str]:
        """The segments a replay from segment ``first`` reads, with every timeline history
        (recovery follows the newest timeline through them)."""
        histories = [s.name for s in self.segments() if s.name.endswith(".history")]
        return [n for n in self.segment_names() if n >= first] + histories

    def fetch_one(self, name: str, path: Path) -> None:
        """Decrypt the archived file ``name`` into ``path``."""
        data = open_stream(self.store.get_stream(BUCKET, f"{PREFIX}{name}{SUFFIX}"),
                           self.keys.all())  # fmt: skip
        with path.open("wb") as out:
            for block in data:
                out.write(block)


def lag_seconds(spool: Path) -> float:
    waiting = (
        [p.stat().st_mtime for p in spool.iterdir() if not p.name.endswith(".tmp")]
        if spool.is_dir()
        else []
    )
    return max(0.0, time.time() - min(waiting)) if waiting else 0.0


def _read(path: Path) -> list[bytes]:
    return [path.read_bytes()]  # a WAL file is 16 MiB at most
