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
app's name and the row id as the event id so a repeat into a FIFO subscriber is dropped
too. A row that can never be sent (no such queue, a topic the app may not publish to, a body
SQS would refuse) is marked with the error and skipped, never retried forever or silently
dropped.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from comind.queue import metrics
from comind.queue.codec import attributes_from_json, attributes_to_json
from comind.queue.errors import InvalidParameterValue, QueueError
from comind.queue.model import MAX_MESSAGE_SIZE, Attribute, OutgoingMessage
from comind.queue.postgres import PostgresQueues
from comind.queue.postgres_topics import PostgresTopics
from comind.stores.postgres import Connection, Json, PgTarget, connect, error_summary
from comind.stores.queries import named
from comind.stores.waking import notifications

_sql = named("comind.queue", "outbox")

log = logging.getLogger("comind.queue.outbox")
# what a row the app wrote can make sending fail with (the app owns the table: its
# attributes may be any JSON); such a row is refused, never retried forever
BAD_ROW = (QueueError, ValueError, KeyError, TypeError, AttributeError)
CHANNEL = "comind_outbox"
TAKE = 500
FETCH = 16  # rows read at a time: each is at most 2 x MAX_MESSAGE_SIZE + 4 x NAME_CAP
NAME_CAP = 256  # bytes of a queue or topic name, group or deduplication id (SQS: 80 and 128)
BATCH_BYTES = 8 << 20  # rows one step holds at most (plus one fetch)
# the columns the relay reads, as install makes them
SHAPE = {"id": "bigint", "queue": "text", "topic": "text", "body": "text", "attributes": "jsonb",
         "group_id": "text", "dedup_id": "text", "delay_seconds": "integer",
         "created_at": "timestamp with time zone"}  # fmt: skip
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


@dataclass(frozen=True)
class Taken:
    """One outbox row as read, its attributes parsed; ``problem``: why it cannot be sent."""

    id: int
    queue: str | None
    topic: str | None
    body: str = ""
    attributes: dict[str, Attribute] = field(default_factory=dict)
    group_id: str | None = None
    dedup_id: str | None = None
    delay: int | None = None
    problem: str | None = None


class OutboxRelay:
    """Moves one app's committed outbox rows into its queues and the topics it publishes
    to (``publishes`` is asked per batch: a new revision may change it).

    The app owns its outbox table, so the relay trusts nothing in it: a table whose columns
    were altered is not read (logged once), a row too big or unreadable is refused on its
    own, one step holds at most BATCH_BYTES of rows, and what was sent is forgotten even
    when something unexpected stops the step, so no row goes twice because another failed."""

    def __init__(self, app: str, source: PgTarget, queues: PostgresQueues,
                 topics: PostgresTopics | None = None,
                 publishes: Callable[[], Collection[str]] = frozenset) -> None:  # fmt: skip
        self.app, self.source, self.queues = app, source, queues
        self.topics, self.publishes = topics, publishes
        self._misshapen: str | None = None
        self._halted = False  # sent rows were not forgotten: relaying more would repeat them

    def step(self, limit: int = TAKE, conn: Connection | None = None) -> int:
        """Relay up to ``limit`` rows on ``conn`` (None: a connection of its own); the number
        handled (sent or refused)."""
        if self._halted:
            return 0
        if conn is None:
            with connect(self.source) as own:
                return self._step(own, limit)
        return self._step(conn, limit)

    def _step(self, conn: Connection, limit: int) -> int:
        sent: list[int] = []
        failure: Exception | None = None
        with conn.transaction():
            rows = self._take(conn, limit) if self._shaped(conn) else []
            try:
                for (queue, topic), group in groupby(rows, key=lambda r: (r.queue, r.topic)):
                    sendable = self._sendable(conn, list(group))
                    if topic is None:
                        sent += self._send(conn, queue or "", sendable)
                    else:
                        sent += self._publish(conn, topic, sendable)
            except Exception as exc:  # re-raised once the rows sent so far are forgotten
                failure = exc
            forgot = conn.execute(_sql("forget"), {"ids": sent}).rowcount
        if forgot != len(sent):
            self._halted = True
            log.error("outbox of app %s no longer relayed: %d rows sent, %d deleted from "
                      "comind_outbox.messages (restart the platform once the table deletes "
                      "again)", self.app, len(sent), forgot)  # fmt: skip
        metrics.OUTBOX_RELAYED.labels(self.app).inc(len(sent))
        if failure is not None:
            raise failure
        return len(rows)

    def _shaped(self, conn: Connection) -> bool:
        """Whether the outbox table is still as made: the columns the relay reads, and nothing
        that would change what its DELETE does (a row sent would be sent again, forever)."""
        misshapen = _misshapen(conn)
        if misshapen and misshapen != self._misshapen:
            log.warning("outbox of app %s not relayed: comind_outbox.messages has %s "
                        "(put it back, or drop the table and sync again)",
                        self.app, misshapen)  # fmt: skip
        self._misshapen = misshapen
        return misshapen is None

    def _take(self, conn: Connection, limit: int) -> list[Taken]:
        """The oldest rows (locked, skipping those another relay holds), read a few at a
        time until ``limit`` rows or BATCH_BYTES: a locked row is only one fetched."""
        rows: list[Taken] = []
        held = 0
        with conn.cursor(name="outbox_take") as cur:
            cur.execute(_sql("take"), {"limit": limit, "cap": MAX_MESSAGE_SIZE,
                                       "name_cap": NAME_CAP})  # fmt: skip
            while held < BATCH_BYTES and (batch := cur.fetchmany(FETCH)):
                if not rows:
                    metrics.OUTBOX_LAG.labels(self.app).set(float(batch[0][8]))
                rows += [_parse(raw) for raw in batch]
                held += sum(len(raw[i] or "") for raw in batch for i in (1, 2, 3, 4, 5, 6))
        if not rows:
            metrics.OUTBOX_LAG.labels(self.app).set(0)
        return rows

    def _sendable(self, conn: Connection, rows: list[Taken]) -> list[Taken]:
        """``rows`` but those that could not be read, which are refused."""
        for row in rows:
            if row.problem is not None:
                self._refuse(conn, row.id, row.problem)
        return [row for row in rows if row.problem is None]

    def _send(self, conn: Connection, queue: str, rows: Sequence[Taken]) -> list[int]:
        """Send ``rows`` (consecutive rows for one queue) as one batch, or one by one to
        find and refuse the rows that cannot be sent."""
        name = f"{self.app}/{queue}"
        try:
            self.queues.send(name, [self._message(name, row) for row in rows])
            return [row.id for row in rows]
        except BAD_ROW:
            pass  # some row is bad: find it
        sent = []
        for row in rows:
            try:
                self.queues.send(name, [self._message(name, row)])
                sent.append(row.id)
            except BAD_ROW as exc:
                self._refuse(conn, row.id, _reason(exc))
        return sent

    def _publish(self, conn: Connection, topic: str, rows: Sequence[Taken]) -> list[int]:
        """Publish ``rows`` (consecutive events for one topic) one by one."""
        if self.topics is None or topic not in self.publishes():
            for row in rows:
                self._refuse(conn, row.id, f"app {self.app} does not publish to topic '{topic}' "
                                           "(add it to the app's `publishes:`)")  # fmt: skip
            return []
        sent = []
        for row in rows:
            try:
                # an app's name has no colon: two apps' events never share an id
                self.topics.publish(topic, row.body, row.attributes,
                                    event_id=f"outbox:{self.app}:{row.id}")  # fmt: skip
                sent.append(row.id)
            except BAD_ROW as exc:
                self._refuse(conn, row.id, _reason(exc))
        return sent

    def _message(self, name: str, row: Taken) -> OutgoingMessage:
        dedup_id = row.dedup_id
        if dedup_id is None and self.queues.cached(name).fifo:
            dedup_id = f"outbox-{row.id}"  # a row sent twice is dropped the second time
        return OutgoingMessage(body=row.body, attributes=row.attributes, delay_seconds=row.delay,
                               group_id=row.group_id, dedup_id=dedup_id)  # fmt: skip

    def _refuse(self, conn: Connection, row_id: int, error: str) -> None:
        log.warning("outbox row %s of app %s refused: %s", row_id, self.app, error)
        conn.execute(_sql("refuse"), {"id": row_id, "error": error[:4096]})
        metrics.OUTBOX_REFUSED.labels(self.app).inc()

    def run(self, stop: threading.Event) -> None:
        """Relay until ``stop`` is set, woken by the outbox trigger's NOTIFY."""
        while not stop.is_set():
            try:
                with connect(self.source) as listener:  # and relays: one session, not one a step
                    listener.execute(f"LISTEN {CHANNEL}")
                    while not stop.is_set():
                        if self.step(conn=listener) < TAKE:
                            notifications(listener, timeout=IDLE_WAIT_SECONDS, stop=stop)
            except Exception as exc:  # database restarting, app DB dropped, a surprise:
                # never stop the app's outbox for good; the message may quote the app's
                # database, so the log gets its kind (the details at debug level)
                log.warning("outbox relay for app %s: %s; retrying", self.app, error_summary(exc))
                log.debug("outbox relay for app %s", self.app, exc_info=True)
                stop.wait(IDLE_WAIT_SECONDS)


def _misshapen(conn: Connection) -> str | None:
    """What is wrong with the outbox table (None: nothing)."""
    found = dict(conn.execute(_sql("shape")).fetchall())
    wrong = sorted(c for c, kind in SHAPE.items() if found.get(c) != kind)
    if wrong:
        return f"its columns {', '.join(wrong)} altered"
    row = conn.execute(_sql("guards")).fetchone()
    assert row is not None
    kind, row_security, rules, triggers = row
    if kind != "r":
        return "become another kind of relation (not a plain table)"
    if row_security or rules or triggers:
        what = [*(["row security"] if row_security else []), *(["a rule"] if rules else []),
                *(f"trigger {t}" for t in triggers)]  # fmt: skip
        return " and ".join(what) + " of the app's"
    return None


def _parse(raw: Sequence[Any]) -> Taken:
    """A row as the take query reads it (its attributes as JSON text)."""
    row_id, queue, topic, body, attributes, group_id, dedup_id, delay = raw[:8]
    if not raw[9]:
        return Taken(row_id, queue, topic, problem=f"InvalidParameterValue: a queue or topic "
                     f"name, group or deduplication id is over {NAME_CAP} bytes")  # fmt: skip
    if body is None or attributes is None:
        too_big = InvalidParameterValue(
            f"One or more parameters are invalid. Reason: Message must be shorter than "
            f"{MAX_MESSAGE_SIZE} bytes."
        )
        return Taken(row_id, queue, topic, problem=_reason(too_big))
    try:
        parsed = attributes_from_json(json.loads(attributes))
    except Exception as exc:  # any JSON the app wrote, nested past the parser's depth too
        return Taken(row_id, queue, topic, problem=_reason(exc))
    return Taken(row_id, queue, topic, body, parsed, group_id, dedup_id, delay)


def _reason(exc: Exception) -> str:
    detail = exc.message if isinstance(exc, QueueError) else f"unreadable row: {exc}"
    return f"{type(exc).__name__}: {detail}"
