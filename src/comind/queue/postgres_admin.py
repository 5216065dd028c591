"""Backend ``postgres``: creating, configuring, listing, purging and deleting queues (the
backend's PostgreSQL adapter for the queue rows themselves and their attributes).

Queue attributes are validated by :mod:`comind.queue.model` first; a redrive policy
must name an existing queue of the same type (FIFO with FIFO), as SQS requires.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from comind.queue import model
from comind.queue.errors import (
    InvalidParameterValue,
    PurgeQueueInProgress,
    QueueDoesNotExist,
    QueueNameExists,
)
from comind.queue.postgres import PostgresQueues, QueueRow
from comind.queue.types import QueueStats
from comind.stores.queries import named

_sql = named("comind.queue", "queue")

PURGE_INTERVAL = timedelta(seconds=60)

_FIELDS = {
    "VisibilityTimeout": "visibility_timeout",
    "DelaySeconds": "delay_seconds",
    "MessageRetentionPeriod": "retention_seconds",
    "MaximumMessageSize": "max_message_size",
    "ReceiveMessageWaitTimeSeconds": "receive_wait_seconds",
    "ContentBasedDeduplication": "content_based_dedup",
}


class PostgresQueueAdmin:
    """Queue life cycle over the same pool as :class:`PostgresQueues`."""

    def __init__(self, queues: PostgresQueues) -> None:
        self.queues = queues
        self.pool = queues.pool

    def create(
        self,
        name: str,
        attributes: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Create ``name``; an existing queue with the same attributes is fine (as SQS)."""
        model.check_queue_name(name)
        parsed = model.parse_queue_attributes(name, attributes or {}, creating=True)
        model.check_fifo_throughput(_extra(parsed))
        row = self._apply(_defaults(name), parsed)
        with self.pool.connection() as conn, conn.transaction():
            self._check_redrive(conn, row)
            args = {
                **asdict(row),
                "extra_attributes": Jsonb(_extra(parsed)),
                "tags": Jsonb(tags or {}),
            }
            if conn.execute(_sql("create_queue"), args).fetchone() is None:
                _same_or_refuse(self.queues.queue(name, conn), parsed)
        return name

    def delete(self, name: str) -> None:
        self.queues.forget(name)
        with self.pool.connection() as conn:
            if conn.execute(_sql("delete_queue"), {"name": name}).fetchone() is None:
                raise QueueDoesNotExist("The specified queue does not exist.")

    def delete_if_empty(self, name: str) -> bool:
        """Delete ``name`` only while it holds no message; False when it kept messages."""
        self.queues.forget(name)
        with self.pool.connection() as conn:
            row = conn.execute(_sql("delete_queue_if_empty"), {"name": name}).fetchone()
        return row is not None

    def names(self, prefix: str = "", limit: int = 1000, after: str | None = None) -> list[str]:
        """Queue names starting with ``prefix``, in order, those after ``after`` only."""
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self.pool.connection() as conn:
            args = {"prefix": like, "limit": limit, "after": after or ""}
            rows = conn.execute(_sql("list_queues"), args)
            return [r[0] for r in rows.fetchall()]

    def depths(self) -> dict[str, QueueStats]:
        """Every queue's depth, in one query."""
        with self.pool.connection() as conn:
            rows = conn.execute(_sql("all_stats")).fetchall()
        return {name: QueueStats(int(visible), int(in_flight), int(delayed), float(oldest))
                for name, visible, in_flight, delayed, oldest in rows}  # fmt: skip

    def set_attributes(self, name: str, attributes: dict[str, str]) -> None:
        parsed = model.parse_queue_attributes(name, attributes, creating=False)
        with self.pool.connection() as conn, conn.transaction():
            current = self.queues.queue(name, conn)
            row = self._apply(current, parsed)
            self._check_redrive(conn, row)
            extra = {k: v for k, v in {**current.extra_attributes, **_extra(parsed)}.items() if v}
            model.check_fifo_throughput(extra)
            conn.execute(_sql("update_queue"), {**asdict(row), "extra_attributes": Jsonb(extra)})
        self.queues.forget(name)

    def attributes(self, name: str) -> dict[str, str]:
        """Every attribute as SQS's GetQueueAttributes reports it (All)."""
        q = self.queues.queue(name)
        stats = self.queues.stats(name)
        out = {
            key: str(getattr(q, field)).lower()
            if isinstance(getattr(q, field), bool)
            else str(getattr(q, field))
            for key, field in _FIELDS.items()
        }
        if not q.fifo:
            del out["ContentBasedDeduplication"]
        out |= {
            "QueueArn": model.queue_arn(name),
            "ApproximateNumberOfMessages": str(stats.visible),
            "ApproximateNumberOfMessagesNotVisible": str(stats.in_flight),
            "ApproximateNumberOfMessagesDelayed": str(stats.delayed),
            **q.extra_attributes,
        }
        if q.fifo:
            out |= {"FifoQueue": "true", **_fifo_defaults(q.extra_attributes)}
        out |= _timestamps(q)
        if q.dead_letter_target:
            out["RedrivePolicy"] = model.redrive_policy(
                model.queue_arn(q.dead_letter_target), q.max_receive_count
            )
        return out

    def purge(self, name: str, *, now: datetime | None = None) -> int:
        """Delete every message of ``name``; SQS allows one purge a minute."""
        now = now or datetime.now(UTC)
        with self.pool.connection() as conn, conn.transaction():
            q = self.queues.queue(name, conn)
            last = conn.execute(
                "SELECT purged_at FROM comind.queues WHERE id = %s FOR UPDATE", (q.id,)
            ).fetchone()
            if last and last[0] is not None and now - last[0] < PURGE_INTERVAL:
                raise PurgeQueueInProgress(
                    f"Only one PurgeQueue operation on {name} is allowed every 60 seconds."
                )
            row = conn.execute(_sql("purge"), {"queue_id": q.id}).fetchone()
        return int(row[0]) if row else 0

    def dead_letter_sources(self, name: str) -> list[str]:
        with self.pool.connection() as conn:
            self.queues.queue(name, conn)
            rows = conn.execute(_sql("dead_letter_sources"), {"name": name})
            return [r[0] for r in rows.fetchall()]

    def tags(self, name: str) -> dict[str, str]:
        return dict(self.queues.queue(name).tags)

    def set_tags(
        self, name: str, *, add: dict[str, str] | None = None, remove: list[str] | None = None
    ) -> None:
        tags = {k: v for k, v in self.tags(name).items() if k not in (remove or [])}
        tags |= add or {}
        with self.pool.connection() as conn:
            q = self.queues.queue(name, conn)
            conn.execute(_sql("set_tags"), {"queue_id": q.id, "tags": Jsonb(tags)})

    @staticmethod
    def _apply(row: QueueRow, parsed: dict[str, Any]) -> QueueRow:
        changes: dict[str, Any] = {_FIELDS[k]: v for k, v in parsed.items() if k in _FIELDS}
        if "RedrivePolicy" in parsed:
            target = parsed["RedrivePolicy"]
            changes["dead_letter_target"] = target[0] if target else None
            changes["max_receive_count"] = target[1] if target else None
        return replace(row, **changes)

    def _check_redrive(self, conn: psycopg.Connection[Any], row: QueueRow) -> None:
        if row.dead_letter_target is None:
            return
        try:
            dlq = self.queues.queue(row.dead_letter_target, conn)
        except QueueDoesNotExist:
            raise InvalidParameterValue(
                "Value for parameter RedrivePolicy is invalid. Reason: "
                "Dead-letter target does not exist."
            ) from None
        if dlq.fifo != row.fifo:
            raise InvalidParameterValue(
                "Value for parameter RedrivePolicy is invalid. Reason: "
                "Dead-letter queue must be same type of queue as the "
                "source."
            )


def _defaults(name: str) -> QueueRow:
    return QueueRow(
        id=0,
        name=name,
        fifo=name.endswith(".fifo"),
        visibility_timeout=30,
        delay_seconds=0,
        retention_seconds=4 * 86400,
        max_message_size=model.MAX_MESSAGE_SIZE,
        receive_wait_seconds=0,
        content_based_dedup=False,
        dead_letter_target=None,
        max_receive_count=None,
    )


def _same_or_refuse(existing: QueueRow, parsed: dict[str, Any]) -> None:
    """CreateQueue of an existing name: fine when every attribute given has the queue's
    value (attributes not given are not compared), else SQS's QueueNameExists."""
    applied = PostgresQueueAdmin._apply(existing, parsed)
    extra = existing.extra_attributes
    differing = [k for k, v in _extra(parsed).items() if extra.get(k, "") != v]
    if applied != existing or differing:
        raise QueueNameExists(
            "A queue already exists with the same name and a different value for attribute(s)"
        )


def _fifo_defaults(extra: dict[str, str]) -> dict[str, str]:
    return {k: extra.get(k, choices[0]) for k, choices in model.FIFO_CHOICES.items()}


def _timestamps(q: QueueRow) -> dict[str, str]:
    """CreatedTimestamp and LastModifiedTimestamp, in epoch seconds as SQS gives them."""
    out = {}
    for key, when in (("CreatedTimestamp", q.created_at), ("LastModifiedTimestamp", q.updated_at)):
        if when is not None:
            out[key] = str(int(when.timestamp()))
    return out


def _extra(parsed: dict[str, Any]) -> dict[str, str]:
    return {
        k: str(v)
        for k, v in parsed.items()
        if k not in _FIELDS and k not in ("RedrivePolicy", "FifoQueue")
    }
