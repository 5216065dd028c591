"""The transactional outbox: an app enqueues inside its own PostgreSQL transaction.

The app inserts into ``comind_outbox.messages`` in its own database, in the same transaction
as its business writes, so the message exists if and only if that transaction commits. The
platform's ``OutboxRelay`` moves committed rows into the queue layer and deletes them from
the outbox. The two databases cannot commit together, so a crash between the send and the
delete sends a row again: delivery is at-least-once, as for every queue; into a FIFO queue
the row id is the default deduplication id, so there the repeat is dropped.

Queue names in the outbox are the app's own (``inbox``), as in its SQS calls; the relay
adds the app's namespace. A row may name a topic instead (``publish``): the relay publishes
it only if the app declares that it publishes there (``publishes:`` in its spec), with the
row id as the event id so a repeat into a FIFO subscriber is dropped too. A row that can
never be sent (no such queue, a topic the app may not publish to, a body SQS would refuse)
is marked with the error and skipped, never retried forever or silently dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from itertools import groupby
from typing import Any

from comind.queue import metrics
from comind.queue.codec import attributes_from_json, attributes_to_json
from comind.queue.errors import QueueError
from comind.queue.model import Attribute, OutgoingMessage
from comind.queue.postgres import PostgresQueues
from comind.queue.postgres_topics import PostgresTopics
from comind.stores.postgres import Connection, DatabaseError, Json, PgTarget, connect
from comind.stores.queries import named

_sql = named("comind.queue", "outbox")

log = logging.getLogger("comind.queue.outbox")
# what a row the app wrote can make sending fail with (the app owns the table: its
# attributes may be any JSON); such a row is refused, never retried forever
BAD_ROW = (QueueError, ValueError, KeyError, TypeError, AttributeError)
CHANNEL = "comind_outbox"
TAKE = 500
IDLE_WAIT_SECONDS = 1.0


def install(conn: Connection) -> None:
    """Create the outbox schema, table and wake-up trigger (idempotent)."""
    conn.execute(_sql("install"))


def enqueue(
    conn: Connection,
    queue: str,
    body: str,
    *,
    attributes: dict[str, Attribute] | None = None,
    group_id: str | None = None,
    dedup_id: str | None = None,
    delay_seconds: int | None = None,
) -> int:
    """Add a message to the outbox in ``conn``'s current transaction; its outbox id."""
    row = conn.execute(_sql("enqueue"), {
        "queue": queue, "body": body, "attributes": Json(attributes_to_json(attributes or {})),
        "group_id": group_id, "dedup_id": dedup_id, "delay_seconds": delay_seconds,
    }).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def publish(
    conn: Connection, topic: str, body: str, *, attributes: dict[str, Attribute] | None = None
) -> int:
    """Add an event for ``topic`` to the outbox in ``conn``'s current transaction."""
    args = {"topic": topic, "body": body, "attributes": Json(attributes_to_json(attributes or {}))}
    row = conn.execute(_sql("publish"), args).fetchone()
    assert row is not None
    return int(row[0])


class OutboxRelay:
    """Moves one app's committed outbox rows into its queues and the topics it publishes
    to (``publishes`` is asked per batch: a new revision may change it)."""

    def __init__(self, app: str, source: PgTarget, queues: PostgresQueues,
                 topics: PostgresTopics | None = None,
                 publishes: Callable[[], Collection[str]] = frozenset) -> None:  # fmt: skip
        self.app, self.source, self.queues = app, source, queues
        self.topics, self.publishes = topics, publishes

    def step(self, limit: int = TAKE) -> int:
        """Relay up to ``limit`` rows; the number handled (sent or refused)."""
        with connect(self.source, autocommit=False) as conn, conn.transaction():
            rows = conn.execute(_sql("take"), {"limit": limit}).fetchall()
            if not rows:
                metrics.OUTBOX_LAG.labels(self.app).set(0)
                return 0
            metrics.OUTBOX_LAG.labels(self.app).set(float(rows[0][7]))
            sent = []
            for (queue, topic), group in groupby(rows, key=lambda r: (r[1], r[8])):
                if topic is None:
                    sent += self._send(conn, queue, list(group))
                else:
                    sent += self._publish(conn, topic, list(group))
            conn.execute(_sql("forget"), {"ids": sent})
        metrics.OUTBOX_RELAYED.labels(self.app).inc(len(sent))
        return len(rows)

    def _send(self, conn: Connection, queue: str, rows: Sequence[Any]) -> list[int]:
        """Send ``rows`` (consecutive rows for one queue) as one batch, or one by one to
        find and refuse the rows that cannot be sent."""
        name = f"{self.app}/{queue}"
        try:
            self.queues.send(name, [self._message(name, row) for row in rows])
            return [int(row[0]) for row in rows]
        except BAD_ROW:
            pass  # some row is bad: find it
        sent = []
        for row in rows:
            try:
                self.queues.send(name, [self._message(name, row)])
                sent.append(int(row[0]))
            except BAD_ROW as exc:
                self._refuse(conn, row, _reason(exc))
        return sent

    def _publish(self, conn: Connection, topic: str, rows: Sequence[Any]) -> list[int]:
        """Publish ``rows`` (consecutive events for one topic) one by one."""
        if self.topics is None or topic not in self.publishes():
            for row in rows:
                self._refuse(conn, row, f"app {self.app} does not publish to topic '{topic}' "
                                        "(add it to the app's `publishes:`)")  # fmt: skip
            return []
        sent = []
        for row in rows:
            try:
                attributes = attributes_from_json(row[3])
                self.topics.publish(
                    topic, row[2], attributes, event_id=f"outbox-{self.app}-{row[0]}"
                )
                sent.append(int(row[0]))
            except BAD_ROW as exc:
                self._refuse(conn, row, _reason(exc))
        return sent

    def _message(self, name: str, row: Sequence[Any]) -> OutgoingMessage:
        row_id, _, body, attributes, group_id, dedup_id, delay = row[:7]
        if dedup_id is None and self.queues.cached(name).fifo:
            dedup_id = f"outbox-{row_id}"  # a row sent twice is dropped the second time
        return OutgoingMessage(
            body=body,
            attributes=attributes_from_json(attributes),
            delay_seconds=delay,
            group_id=group_id,
            dedup_id=dedup_id,
        )

    def _refuse(self, conn: Connection, row: Sequence[Any], error: str) -> None:
        log.warning("outbox row %s of app %s refused: %s", row[0], self.app, error)
        conn.execute(_sql("refuse"), {"id": row[0], "error": error[:4096]})
        metrics.OUTBOX_REFUSED.labels(self.app).inc()

    def run(self, stop: threading.Event) -> None:
        """Relay until ``stop`` is set, woken by the outbox trigger's NOTIFY."""
        while not stop.is_set():
            try:
                with connect(self.source) as listener:
                    listener.execute(f"LISTEN {CHANNEL}")
                    while not stop.is_set():
                        if self.step() < TAKE:
                            for _ in listener.notifies(timeout=IDLE_WAIT_SECONDS, stop_after=1):
                                pass
            except DatabaseError as exc:  # database restarting, app DB dropped, ...
                log.warning("outbox relay for app %s: %s", self.app, exc)
                stop.wait(IDLE_WAIT_SECONDS)
            except Exception:  # never let one surprise stop the app's outbox for good
                log.exception("outbox relay for app %s", self.app)
                stop.wait(IDLE_WAIT_SECONDS)


def _reason(exc: Exception) -> str:
    detail = exc.message if isinstance(exc, QueueError) else f"unreadable row: {exc}"
    return f"{type(exc).__name__}: {detail}"
