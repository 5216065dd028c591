"""The platform's event log in PostgreSQL (engine starts, deaths, restarts).

Events are written to ``comind.platform_events``. An event raised while PostgreSQL itself is
down is kept in memory (bounded) and written once the database answers again, so the restart
of PostgreSQL is recorded too.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime
from typing import Any

from comind.stores.postgres import DatabaseError, Json, PgTarget, connect
from comind.stores.queries import named

_sql = named("comind.monitoring", "events")


def record_event(
    target: PgTarget, *, source: str, kind: str, message: str, detail: dict[str, Any] | None = None
) -> None:
    with connect(target) as conn:
        conn.execute(_sql("record_event"), {
            "source": source, "kind": kind, "message": message, "detail": Json(detail or {}),
        })  # fmt: skip


def recent_events(target: PgTarget, *, limit: int = 20) -> list[dict[str, Any]]:
    with connect(target) as conn:
        rows = conn.execute(_sql("recent_events"), {"limit": limit}).fetchall()
    return [{"at": _iso(at), "source": s, "kind": k, "message": m} for at, s, k, m in rows]


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


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
            except DatabaseError:
                return
            self._pending.popleft()
