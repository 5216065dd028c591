"""The platform's own database: created and migrated at start-up, and its event log.

Events (engine restarts, platform start) are written to ``comind.platform_events``.
An event raised while PostgreSQL itself is down is kept in memory (bounded) and
written once the database answers again, so the restart of PostgreSQL is recorded too.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

import psycopg

from comind.observe.metrics import MIGRATIONS_APPLIED
from comind.stores.events import record_event
from comind.stores.migrations import migrate
from comind.stores.postgres import PgTarget, connect, ensure_database

PLATFORM_DB = "comind"
log = logging.getLogger("comind.platform_db")


def prepare(admin: PgTarget) -> PgTarget:
    """Create and migrate the platform database; return its target."""
    ensure_database(admin, PLATFORM_DB)
    with connect(admin.with_db("postgres")) as conn:  # app roles reach only their own database
        for dbname in (PLATFORM_DB, "postgres"):
            conn.execute(
                psycopg.sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(
                    psycopg.sql.Identifier(dbname)
                )
            )
    target = admin.with_db(PLATFORM_DB)
    version = migrate(target)
    MIGRATIONS_APPLIED.set(version)
    log.info("platform schema at version %d", version)
    return target


class EventLog:
    """Records platform events, holding them while the database is unreachable."""

    def __init__(self, target: PgTarget | None = None, *, keep: int = 1000) -> None:
        self.target = target
        self._pending: deque[tuple[str, str, str]] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def record(self, source: str, kind: str, message: str) -> None:
        with self._lock:
            self._pending.append((source, kind, message))
            self._flush()

    def attach(self, target: PgTarget) -> None:
        """Start writing to ``target`` (events raised before are written now)."""
        with self._lock:
            self.target = target
            self._flush()

    def flush(self) -> None:
        """Write events held while the database was unreachable (called periodically)."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        while self._pending and self.target is not None:
            source, kind, message = self._pending[0]
            try:
                record_event(self.target, source=source, kind=kind, message=message)
            except psycopg.Error:
                return
            self._pending.popleft()
