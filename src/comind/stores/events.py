"""The platform's event log in PostgreSQL (engine starts, deaths, restarts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from comind.stores.postgres import PgTarget, connect
from comind.stores.queries import query


def record_event(
    target: PgTarget, *, source: str, kind: str, message: str, detail: dict[str, Any] | None = None
) -> None:
    with connect(target) as conn:
        conn.execute(query("events", "record_event"), {
            "source": source, "kind": kind, "message": message, "detail": Jsonb(detail or {}),
        })  # fmt: skip


def recent_events(target: PgTarget, *, limit: int = 20) -> list[dict[str, Any]]:
    with connect(target) as conn:
        rows = conn.execute(query("events", "recent_events"), {"limit": limit}).fetchall()
    return [{"at": _iso(at), "source": s, "kind": k, "message": m} for at, s, k, m in rows]


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")
