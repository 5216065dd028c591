"""OpenLineage RunEvents kept in the platform database (migration 0018).

Flow workers only append (their role holds INSERT on the table and nothing else of it);
the platform reads them back per flow or run for the API, and prunes them by age.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from comind.stores.postgres import Json, Pool, dict_rows
from comind.stores.queries import named

_sql = named("comind.governance", "lineage_events")
RETENTION_DAYS = 30  # stored events older than this are removed by the platform's sweep


@dataclass(frozen=True)
class StoredEvent:
    """One RunEvent as it is stored: its indexed columns and its OpenLineage JSON text."""

    event_time: datetime
    event_type: str
    run_id: str
    job: str
    payload: str


class LineageEventStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def add(self, events: Sequence[StoredEvent]) -> None:
        rows = [
            {"event_time": e.event_time, "event_type": e.event_type, "run_id": e.run_id,
             "job": e.job, "payload": Json(json.loads(e.payload))}
            for e in events
        ]  # fmt: skip
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(_sql("insert"), rows)

    def recent(
        self, *, job: str | None = None, run: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` events, of one flow and/or one run when given."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_rows) as cur:
            return cur.execute(_sql("recent"), {"job": job, "run": run, "limit": limit}).fetchall()

    def prune(self, before: datetime) -> int:
        with self.pool.connection() as conn:
            return conn.execute(_sql("prune"), {"before": before}).rowcount
