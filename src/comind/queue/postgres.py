"""Backend ``postgres``: queues as rows in the platform database. This module is the
backend's PostgreSQL adapter for messages: it owns the driver work of sending, leasing,
deleting and long-polling (LISTEN/NOTIFY) them.

Guarantees: a message is stored once its send commits; a receive leases it with
``FOR UPDATE SKIP LOCKED`` so concurrent consumers never get the same delivery; each delivery
gets a fresh receipt token, so a stale receipt handle (from an earlier delivery) can neither
delete nor extend the current one; a message received more than ``maxReceiveCount`` times is
moved to the dead-letter queue in the same statement that would have delivered it. Long polls
hold no pooled connection while they wait: they sleep on the process's one LISTEN connection
(:mod:`comind.queue.postgres_wakeups`), woken by the sending transaction's commit, with a
short re-check interval for delayed messages.

Each hot operation is one statement (one round trip, its own transaction). Sends commit
synchronously; receives and deletes asynchronously: losing one in a crash only delivers a
message again, which at-least-once delivery allows.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from comind.queue import metrics, model
from comind.queue import postgres_dedup as dedup
from comind.queue.codec import stored
from comind.queue.errors import (
    InvalidParameterValue,
    MessageNotInflight,
    QueueDoesNotExist,
)
from comind.queue.postgres_delivery import check_visibility, decode_receipt, delivered, receive_sql
from comind.queue.postgres_wakeups import NOTIFY_CHANNEL, Wakeups
from comind.queue.types import QueueStats, ReceivedMessage, SendResult
from comind.stores.queries import named
from comind.stores.waking import stopped, woken_by

_sql = named("comind.queue", "queue")

CACHE_SECONDS = 1.0
RECHECK_SECONDS = 1.0
NEVER = 2**31 - 1  # a receive count no message reaches: "no dead-letter queue"
MAX_LEASE = 1000  # deliveries one lease may take (flow workers; SQS allows 10)


@dataclass(frozen=True)
class QueueRow:
    id: int
    name: str
    fifo: bool
    visibility_timeout: int
    delay_seconds: int
    retention_seconds: int
    max_message_size: int
    receive_wait_seconds: int
    content_based_dedup: bool
    dead_letter_target: str | None
    max_receive_count: int | None
    # not settings that make two queues differ for CreateQueue's "same attributes" check
    extra_attributes: dict[str, str] = field(default_factory=dict, compare=False)
    tags: dict[str, str] = field(default_factory=dict, compare=False)
    created_at: datetime | None = field(default=None, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Poll:
    """A checked receive: from which queue, how many, leased how long, waiting how long."""

    queue: QueueRow
    limit: int
    visibility: int
    wait: float


class PostgresQueues:
    """The queue operations over one platform database (a connection pool passed in)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self._cache: dict[str, tuple[float, QueueRow]] = {}
        self.wakeups = Wakeups.beside(pool)  # long polls wait without a pooled connection

    def cached(self, name: str, conn: psycopg.Connection[Any] | None = None) -> QueueRow:
        """The queue's settings, re-read at most every CACHE_SECONDS (hot paths use this;
        another process's attribute change is seen within that time). A caller holding a
        connection passes it: a refresh must not wait for a second one from the pool."""
        now = time.monotonic()
        hit = self._cache.get(name)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        row = self.queue(name, conn)
        self._cache[name] = (now, row)
        return row

    def forget(self, name: str) -> None:
        self._cache.pop(name, None)

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        with self.pool.connection() as conn, conn.transaction():
            yield conn

    def queue(self, name: str, conn: psycopg.Connection[Any] | None = None) -> QueueRow:
        """The queue ``name``, or QueueDoesNotExist."""
        if conn is None:
            with self.pool.connection() as own:
                return self.queue(name, own)
        with conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(_sql("get_queue"), {"name": name}).fetchone()
        if row is None:
            raise QueueDoesNotExist("The specified queue does not exist.")
        return QueueRow(**{k: row[k] for k in QueueRow.__dataclass_fields__})

    # --- sending -------------------------------------------------------------------------

    def send(
        self,
        queue: str,
        messages: Sequence[model.OutgoingMessage],
        conn: psycopg.Connection[Any] | None = None,
    ) -> list[SendResult]:
        """Store ``messages``; with ``conn``, inside the caller's open transaction."""
        if conn is not None:
            return self._send(conn, queue, messages)
        if not self.cached(queue).fifo:  # one statement: atomic on its own
            with self.pool.connection() as own:
                return self._send(own, queue, messages)
        with self._tx() as own:
            return self._send(own, queue, messages)

    def check(self, queue: str, msg: model.OutgoingMessage) -> None:
        """Refuse ``msg`` as a send to ``queue`` would (size, attributes, FIFO fields)."""
        q = self.cached(queue)
        model.check_message(msg, max_size=q.max_message_size, fifo=q.fifo)
        dedup.dedup_id(msg, fifo=q.fifo, content_based=q.content_based_dedup)

    def _send(
        self, conn: psycopg.Connection[Any], queue: str, messages: Sequence[model.OutgoingMessage]
    ) -> list[SendResult]:
        q = self.cached(queue, conn)
        for msg in messages:
            model.check_message(msg, max_size=q.max_message_size, fifo=q.fifo)
        try:
            if q.fifo:
                results = [self._send_one(conn, q, msg) for msg in messages]
                conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, str(q.id)))
            else:
                results = self._send_standard(conn, q, messages)
        except psycopg.errors.ForeignKeyViolation:
            self.forget(queue)  # deleted since we cached it
            raise QueueDoesNotExist("The specified queue does not exist.") from None
        metrics.SENT.labels(q.name).inc(len(results))
        return results

    def _send_standard(
        self, conn: psycopg.Connection[Any], q: QueueRow, messages: Sequence[model.OutgoingMessage]
    ) -> list[SendResult]:
        ids = [uuid.uuid4() for _ in messages]
        conn.execute(_sql("send_many"), {
            "queue_id": q.id, "retention": q.retention_seconds, "message_ids": ids,
            "bodies": [m.body for m in messages],
            "attributes": [Jsonb(stored(m)) for m in messages],
            "delays": [q.delay_seconds if m.delay_seconds is None else m.delay_seconds
                       for m in messages],
            "channel": NOTIFY_CHANNEL,
        })  # fmt: skip
        return [self._result(str(i), m, sequence=None) for i, m in zip(ids, messages, strict=True)]

    def _send_one(
        self, conn: psycopg.Connection[Any], q: QueueRow, msg: model.OutgoingMessage
    ) -> SendResult:
        message_id = uuid.uuid4()
        dedup_id = dedup.dedup_id(msg, fifo=q.fifo, content_based=q.content_based_dedup)
        if dedup_id is not None:
            key = dedup.claim_key(msg, dedup_id, q.extra_attributes)
            owner = dedup.claim(conn, q.id, key, message_id)
            if owner != message_id:
                return self._result(str(owner), msg, sequence=None)
        row = conn.execute(_sql("send"), {
            "queue_id": q.id, "message_id": message_id, "body": msg.body,
            "attributes": Jsonb(stored(msg)), "group_id": msg.group_id,
            "dedup_id": dedup_id, "retention": q.retention_seconds,
            "delay": q.delay_seconds if msg.delay_seconds is None else msg.delay_seconds,
        }).fetchone()  # fmt: skip
        assert row is not None
        return self._result(str(message_id), msg, sequence=str(row[0]) if q.fifo else None)

    @staticmethod
    def _result(message_id: str, msg: model.OutgoingMessage, sequence: str | None) -> SendResult:
        return SendResult(
            message_id=message_id,
            md5_of_body=model.md5_of_body(msg.body),
            md5_of_attributes=model.md5_of_attributes(msg.attributes),
            sequence_number=sequence,
        )

    # --- receiving -----------------------------------------------------------------------

    def poll(
        self,
        queue: str,
        *,
        max_messages: int = 1,
        wait_seconds: int | None = None,
        visibility_timeout: int | None = None,
    ) -> Poll:
        """A receive checked as SQS checks it (nothing leased yet)."""
        if not 1 <= max_messages <= model.MAX_BATCH:
            why = "Must be between 1 and 10, if provided."
            raise InvalidParameterValue(f"Value for parameter MaxNumberOfMessages is invalid. "
                                        f"Reason: {why}")  # fmt: skip
        q = self.cached(queue)
        wait = q.receive_wait_seconds if wait_seconds is None else wait_seconds
        if not 0 <= wait <= model.MAX_WAIT_SECONDS:
            raise InvalidParameterValue(
                "Value for parameter WaitTimeSeconds is invalid. "
                "Reason: Must be >= 0 and <= 20, if provided."
            )
        visibility = q.visibility_timeout if visibility_timeout is None else visibility_timeout
        check_visibility(visibility)
        return Poll(q, max_messages, visibility, wait)

    def take(self, poll: Poll) -> list[ReceivedMessage]:
        """One attempt at ``poll``: what is visible now, leased (no waiting)."""
        got = self._receive_once(poll.queue, poll.limit, poll.visibility)
        metrics.RECEIVED.labels(poll.queue.name).inc(len(got))
        return got

    def receive(
        self,
        queue: str,
        *,
        max_messages: int = 1,
        wait_seconds: int | None = None,
        visibility_timeout: int | None = None,
    ) -> list[ReceivedMessage]:
        """Lease up to ``max_messages``; wait up to ``wait_seconds`` for the first one."""
        poll = self.poll(queue, max_messages=max_messages, wait_seconds=wait_seconds,
                         visibility_timeout=visibility_timeout)  # fmt: skip
        began = time.perf_counter()
        got = self._waited(poll)
        metrics.RECEIVE_SECONDS.labels(poll.queue.name).observe(time.perf_counter() - began)
        return got

    def lease(
        self,
        queue: str,
        *,
        limit: int,
        wait_seconds: float = 0.0,
        visibility_timeout: int | None = None,
        stop: threading.Event | None = None,
    ) -> list[ReceivedMessage]:
        """Up to ``limit`` (at most :data:`MAX_LEASE`) deliveries for the platform's own
        consumers (flow workers), which SQS's ten per receive would only slow down."""
        q = self.cached(queue)
        visibility = q.visibility_timeout if visibility_timeout is None else visibility_timeout
        check_visibility(visibility)
        poll = Poll(q, max(1, min(limit, MAX_LEASE)), visibility, wait_seconds)
        return self._waited(poll, stop)

    def _waited(self, poll: Poll, stop: threading.Event | None = None) -> list[ReceivedMessage]:
        """``poll`` taken now, else as soon as a send wakes it, at most ``poll.wait`` s later;
        sooner, empty, once ``stop`` is set. The wait holds no pooled connection (wakeups)."""
        got = self.take(poll)
        if got or poll.wait <= 0:
            return got
        deadline = time.monotonic() + poll.wait
        with self.wakeups.watch(poll.queue.id) as watch, woken_by(stop, watch.fire):
            while not got and (left := deadline - time.monotonic()) > 0:
                watch.wait(min(left, RECHECK_SECONDS))
                if stopped(stop):  # a stopping worker takes no new batch: the next one will
                    break
                got = self.take(poll)
        return got

    def _receive_once(self, q: QueueRow, limit: int, visibility: int) -> list[ReceivedMessage]:
        dlq = self._dead_letter_queue(q)  # its letters are moved by comind.dead_letter
        args = {"queue_id": q.id, "limit": limit, "visibility": visibility,
                "max_receive_count": q.max_receive_count if dlq else NEVER}  # fmt: skip
        for _ in range(10):  # bounded: a round that delivers nothing dead-lettered something
            with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
                try:
                    rows = cur.execute(receive_sql(q.fifo), args).fetchall()
                except psycopg.errors.ForeignKeyViolation:
                    self.forget(q.dead_letter_target or "")  # the DLQ was deleted meanwhile
                    raise QueueDoesNotExist("The specified queue does not exist.") from None
            dead = int(rows[0]["dead_lettered"])
            if dead:
                metrics.DEAD_LETTERED.labels(q.name).inc(dead)
            got = delivered(q.name, rows)
            if got or not dead:
                return got
        return []

    def _dead_letter_queue(self, q: QueueRow) -> QueueRow | None:
        """The queue's dead-letter queue; None without one (or when it was deleted: then
        messages stay where they are, as on SQS)."""
        if q.dead_letter_target is None or q.max_receive_count is None:
            return None
        try:
            return self.cached(q.dead_letter_target)
        except QueueDoesNotExist:
            return None

    # --- settling ------------------------------------------------------------------------

    def delete(self, queue: str, receipt_handle: str) -> None:
        """Delete the delivery ``receipt_handle`` names; a stale handle changes nothing."""
        row_id, receipt = decode_receipt(receipt_handle)
        q = self.cached(queue)
        with self.pool.connection() as conn:
            conn.execute(
                _sql("delete_message"),
                {"id": row_id, "queue_id": q.id, "receipt": receipt},
            )

    def delete_many(
        self,
        queue: str,
        receipt_handles: Sequence[str],
        *,
        conn: psycopg.Connection[Any] | None = None,
    ) -> int:
        """Delete several deliveries in one statement; stale handles are skipped. With
        ``conn`` the deletion is part of the caller's transaction."""
        pairs = [decode_receipt(h) for h in receipt_handles]
        q = self.cached(queue)
        args = {"ids": [p[0] for p in pairs], "receipts": [p[1] for p in pairs], "queue_id": q.id}
        with self.pool.connection() if conn is None else nullcontext(conn) as c:
            row = c.execute(_sql("delete_many"), args).fetchone()
        deleted = int(row[0]) if row else 0
        metrics.DELETED.labels(q.name).inc(deleted)
        return deleted

    def change_visibility(self, queue: str, receipt_handle: str, timeout: int) -> None:
        check_visibility(timeout)
        row_id, receipt = decode_receipt(receipt_handle)
        q = self.cached(queue)
        with self.pool.connection() as conn:
            args = {"id": row_id, "queue_id": q.id, "receipt": receipt, "timeout": timeout}
            if conn.execute(_sql("change_visibility"), args).fetchone() is None:
                raise MessageNotInflight(
                    f"Value {receipt_handle} for parameter ReceiptHandle is invalid. Reason: "
                    "Message does not exist or is not available for visibility timeout change."
                )

    def fail(self, queue: str, receipt_handle: str, *, error: str, retry_in: int) -> None:
        """Return a delivery after a handler error: record it, visible again in ``retry_in`` s."""
        check_visibility(retry_in)
        row_id, receipt = decode_receipt(receipt_handle)
        q = self.cached(queue)
        with self.pool.connection() as conn:
            conn.execute(_sql("record_error"), {
                "id": row_id, "queue_id": q.id, "receipt": receipt, "error": error[:4096],
                "retry_in": retry_in,
            })  # fmt: skip

    def stats(self, queue: str) -> QueueStats:
        q = self.cached(queue)
        with self.pool.connection() as conn:
            row = conn.execute(_sql("stats"), {"queue_id": q.id}).fetchone()
        assert row is not None
        return QueueStats(
            visible=int(row[0]),
            in_flight=int(row[1]),
            delayed=int(row[2]),
            oldest_age_seconds=float(row[3]),
        )

    def peek(self, queue: str, *, limit: int = 10) -> list[ReceivedMessage]:
        """The oldest messages of ``queue`` without receiving them (no lease, no count)."""
        q = self.cached(queue)
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(_sql("peek"), {"queue_id": q.id, "limit": limit})
            return delivered(q.name, rows.fetchall())

    def clock(self) -> datetime:
        """The database's time, which stamps a message's ``sent_at``."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cast(datetime, cur.execute("SELECT now()").fetchall()[0]["now"])

    def sweep(self) -> tuple[int, int]:
        """Delete messages past their retention and expired de-duplication entries."""
        with self._tx() as conn:
            row = conn.execute(_sql("sweep")).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])
