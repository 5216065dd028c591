"""Message move tasks: redrive a dead-letter queue back to its sources, at a bounded rate.

A task moves messages from ``source`` to ``destination`` (or, when none is given,
each message back to the queue it was dead-lettered from) in small transactions: a
message is deleted from the source in the same transaction that inserts it into its
destination, so a crash moves it fully or not at all. A message whose original
queue no longer exists stays in the DLQ. Tasks can be listed and cancelled
(SQS's StartMessageMoveTask / ListMessageMoveTasks / CancelMessageMoveTask).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from comind.queue.errors import InvalidParameterValue, ResourceNotFound
from comind.queue.postgres import PostgresQueues
from comind.stores.queries import named

_sql = named("comind.queue", "queue")

DEFAULT_RATE = 500
MAX_RATE = 500
MAX_PER_STEP = 1000


@dataclass(frozen=True)
class MoveTask:
    handle: str
    source: str
    destination: str | None
    max_per_second: int | None
    status: str
    moved: int
    to_move: int
    failure: str | None
    started_at: datetime
    finished_at: datetime | None


class MoveTasks:
    """Start, list, cancel and advance move tasks over the queues' pool."""

    def __init__(self, queues: PostgresQueues) -> None:
        self.queues = queues
        self.pool = queues.pool

    def start(
        self, source: str, *, destination: str | None = None, max_per_second: int | None = None
    ) -> str:
        if max_per_second is not None and not 1 <= max_per_second <= MAX_RATE:
            raise InvalidParameterValue("MaxNumberOfMessagesPerSecond must be between 1 and 500.")
        with self.pool.connection() as conn, conn.transaction():
            q = self.queues.queue(source, conn)
            if destination is not None:
                self.queues.queue(destination, conn)
            if conn.execute(_sql("running_move_for"), {"source": source}).fetchone():
                raise InvalidParameterValue(f"A message move task is already running on {source}.")
            handle = str(uuid.uuid4())
            conn.execute(_sql("start_move"), {
                "handle": handle, "source": source, "destination": destination,
                "rate": max_per_second, "queue_id": q.id,
            })  # fmt: skip
        return handle

    def list(self, source: str, *, limit: int = 10) -> list[MoveTask]:
        self.queues.queue(source)
        with self.pool.connection() as conn:
            rows = conn.execute(_sql("list_moves"), {"source": source, "limit": limit})
            return [MoveTask(str(r[0]), *r[1:]) for r in rows.fetchall()]

    def cancel(self, handle: str) -> int:
        """Cancel a running task; the number of messages it had moved."""
        try:
            uuid.UUID(handle)
        except ValueError:
            raise ResourceNotFound(f"Task does not exist: {handle}") from None
        with self.pool.connection() as conn:
            row = conn.execute(_sql("cancel_move"), {"handle": handle}).fetchone()
        if row is None:
            raise ResourceNotFound(f"No running task {handle}")
        return int(row[0])

    def step(self) -> int:
        """Advance every running task by what its rate allows now; messages moved."""
        with self.pool.connection() as conn:
            running = conn.execute(_sql("running_moves")).fetchall()
        return sum(self._advance(*row) for row in running)

    @staticmethod
    def _remaining(conn: Any, args: dict[str, Any]) -> bool:
        row = conn.execute(_sql("move_remaining"), args).fetchone()
        return bool(row and row[0])

    def _advance(
        self,
        handle: uuid.UUID,
        source: str,
        destination: str | None,
        rate: int | None,
        moved: int,
        elapsed: float,
    ) -> int:
        allowed = math.floor(float(elapsed) * (rate or DEFAULT_RATE)) + 1 - moved
        limit = max(0, min(allowed, MAX_PER_STEP))
        if limit == 0:
            return 0
        src = self.queues.queue(source)
        args = {"source_id": src.id, "source_name": src.name, "destination": destination}
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(_sql("move_batch"), {**args, "limit": limit}).fetchall()
            # fewer than asked can mean rows another transaction holds (SKIP LOCKED): done
            # only when nothing movable is left, or a busy message would end the task early
            done = len(rows) < limit and not self._remaining(conn, args)
            conn.execute(_sql("finish_move"), {"handle": handle, "moved": len(rows), "done": done})
            if rows:
                conn.execute("SELECT pg_notify('comind_queue', '')")
        return len(rows)
