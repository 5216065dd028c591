"""Logs in the platform database: written in batches into day partitions created ahead,
searched by source, level, text and time, expired by dropping whole days."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from comind.stores.postgres import Json, Pool, compose
from comind.stores.queries import named

_sql = named("comind.monitoring", "logs")

LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class LogLine:
    ts: datetime
    source: str
    level: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict)


class LogStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def prepare(self, today: date, *, ahead: int = 2) -> None:
        """Partitions for ``today`` and ``ahead`` days after it."""
        with self.pool.connection() as conn:
            for offset in range(ahead + 1):
                day = today + timedelta(days=offset)
                conn.execute(compose.SQL(
                    "CREATE TABLE IF NOT EXISTS comind.{} PARTITION OF comind.logs "
                    "FOR VALUES FROM ({}) TO ({})"
                ).format(compose.Identifier(_partition(day)), compose.Literal(day.isoformat()),
                         compose.Literal((day + timedelta(days=1)).isoformat())))  # fmt: skip

    def write(self, lines: Sequence[LogLine]) -> None:
        if not lines:
            return
        with self.pool.connection() as conn:
            conn.execute(_sql("write"), {
                "ts": [x.ts for x in lines], "sources": [x.source for x in lines],
                "levels": [x.level for x in lines], "messages": [x.message for x in lines],
                "fields": [Json(x.fields) for x in lines],
            })  # fmt: skip

    def search(
        self,
        *,
        source: str | None = None,
        source_prefix: str | None = None,
        min_level: str | None = None,
        text: str | None = None,
        since: datetime,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[LogLine]:
        """Newest first; ``source_prefix`` matches every source starting with it (the
        workers ``app:flow.NAME.0``, ``.1`` ... of one flow)."""
        levels = list(LEVELS[LEVELS.index(min_level) :]) if min_level else None
        until = until or datetime.now(UTC) + timedelta(days=1)
        args = {"source": source, "prefix": source_prefix, "levels": levels, "text": text,
                "since": since, "until": until, "limit": limit}  # fmt: skip
        with self.pool.connection() as conn:
            rows = conn.execute(_sql("search"), args).fetchall()
        return [LogLine(*row) for row in rows]

    def expire(self, today: date, *, keep_days: int) -> list[str]:
        """Drop the partitions of days older than ``keep_days``; their names."""
        oldest = _partition(today - timedelta(days=keep_days))
        with self.pool.connection() as conn:
            names = [r[0] for r in conn.execute(_sql("partitions")).fetchall()]
            dropped = [n for n in names if n < oldest and n != "logs_default"]
            for name in dropped:
                conn.execute(compose.SQL("DROP TABLE comind.{}").format(compose.Identifier(name)))
        return dropped


def _partition(day: date) -> str:
    return f"logs_{day:%Y%m%d}"
