"""The transactional outbox from the app's side: a message sent inside the app's own
PostgreSQL transaction is delivered to its queue after the transaction commits, and never if
it rolls back (the platform's relay moves committed rows: at-least-once, FIFO queues drop a
repeat by the row id). Queue names are the app's own (``order-events``)."""

from __future__ import annotations

from typing import Any

from comind.queue.outbox import enqueue


def send(conn: Any, queue: str, body: str, *, group_id: str | None = None,
         dedup_id: str | None = None, delay_seconds: int | None = None) -> int:  # fmt: skip
    """Add ``body`` for ``queue`` in ``conn``'s current transaction; its outbox id."""
    return enqueue(conn, queue, body, group_id=group_id, dedup_id=dedup_id,
                   delay_seconds=delay_seconds)  # fmt: skip
