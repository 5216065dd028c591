"""Topics (the event bus) on the postgres backend: publish once, fan out to queues. This
module is the backend's PostgreSQL adapter for topics, subscriptions and the fan-out.

A publish writes one message to every subscribed queue whose filter policy matches,
in a single transaction: either every matching subscriber gets the event or none
does. Raw subscriptions receive the body as published; others get the SNS
notification envelope (JSON with ``Message``, ``TopicArn``, ``MessageAttributes``).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from comind.queue import filters, metrics, model
from comind.queue.errors import MessageTooLong, QueueDoesNotExist, ResourceNotFound
from comind.queue.postgres import PostgresQueues
from comind.stores.queries import named

log = logging.getLogger(__name__)
_sql = named("comind.queue", "queue")


@dataclass(frozen=True)
class Subscription:
    queue: str
    filter_policy: dict[str, list[Any]] | None
    raw: bool


@dataclass(frozen=True)
class Delivery:
    queue: str
    message_id: str


class PostgresTopics:
    """Topic life cycle, subscriptions and fan-out over the queues' pool."""

    def __init__(self, queues: PostgresQueues) -> None:
        self.queues = queues
        self.pool = queues.pool

    def create(self, name: str) -> None:
        model.check_queue_name(name)
        with self.pool.connection() as conn:
            conn.execute(_sql("create_topic"), {"name": name})

    def delete(self, name: str) -> None:
        with self.pool.connection() as conn:
            if conn.execute(_sql("delete_topic"), {"name": name}).fetchone() is None:
                raise ResourceNotFound(f"Topic does not exist: {name}")

    def names(self) -> list[str]:
        with self.pool.connection() as conn:
            return [r[0] for r in conn.execute(_sql("list_topics")).fetchall()]

    def subscribe(
        self,
        topic: str,
        queue: str,
        *,
        filter_policy: dict[str, Any] | None = None,
        raw: bool = True,
    ) -> None:
        """Subscribe ``queue`` (which must exist) to ``topic``; re-subscribing updates it."""
        policy = filters.check_policy(filter_policy) if filter_policy is not None else None
        with self.pool.connection() as conn, conn.transaction():
            self.queues.queue(queue, conn)
            args = {
                "topic": topic,
                "queue": queue,
                "raw": raw,
                "filter": Jsonb(policy) if policy is not None else None,
            }
            if conn.execute(_sql("subscribe"), args).fetchone() is None:
                raise ResourceNotFound(f"Topic does not exist: {topic}")

    def unsubscribe(self, topic: str, queue: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(_sql("unsubscribe"), {"topic": topic, "queue": queue})

    def subscriptions(self, topic: str) -> list[Subscription]:
        with self.pool.connection() as conn:
            self._require(conn, topic)
            rows = conn.execute(_sql("subscriptions"), {"topic": topic}).fetchall()
        return [Subscription(q, f, r) for q, f, r in rows]

    def publish(
        self,
        topic: str,
        body: str,
        attributes: dict[str, model.Attribute] | None = None,
        *,
        conn: psycopg.Connection[Any] | None = None,
        event_id: str | None = None,
    ) -> list[Delivery]:
        """Fan ``body`` out to every matching subscriber queue, atomically. ``event_id`` is
        the deduplication id FIFO subscribers get (a new one per call by default)."""
        attributes = attributes or {}
        model.check_attributes(attributes)
        event_id = event_id or str(uuid.uuid4())
        if conn is not None:
            return self._publish(conn, topic, body, attributes, event_id)
        with self.pool.connection() as own, own.transaction():
            return self._publish(own, topic, body, attributes, event_id)

    def _publish(
        self,
        conn: psycopg.Connection[Any],
        topic: str,
        body: str,
        attributes: dict[str, model.Attribute],
        event_id: str,
    ) -> list[Delivery]:
        self._require(conn, topic)
        # what no queue could take fails the publish, before a subscriber's own limit can
        # make it look delivered to none
        model.check_message(model.OutgoingMessage(body, attributes),
                            max_size=model.MAX_MESSAGE_SIZE, fifo=False)  # fmt: skip
        rows = conn.execute(_sql("subscriptions"), {"topic": topic}).fetchall()
        out = []
        for queue, policy, raw in rows:
            if not filters.matches(policy, attributes):
                continue
            text = body if raw else _envelope(topic, event_id, body, attributes)
            msg = model.OutgoingMessage(
                body=text,
                attributes=attributes,
                group_id=topic if queue.endswith(".fifo") else None,
                dedup_id=event_id if queue.endswith(".fifo") else None,
            )
            try:
                sent = self.queues.send(queue, [msg], conn=conn)  # checked before any SQL
            except QueueDoesNotExist:
                continue  # the subscriber queue was deleted; SNS drops such deliveries too
            except MessageTooLong:  # that queue's own limit: the others still get it
                metrics.TOPIC_TOO_LONG.labels(topic, queue).inc()
                log.warning("topic %s: a message larger than queue %s's MaximumMessageSize "
                            "was not delivered there", topic, queue)  # fmt: skip
                continue
            out.append(Delivery(queue, sent[0].message_id))
        return out

    @staticmethod
    def _require(conn: psycopg.Connection[Any], topic: str) -> None:
        if conn.execute(_sql("topic_exists"), {"name": topic}).fetchone() is None:
            raise ResourceNotFound(f"Topic does not exist: {topic}")


def topic_arn(name: str) -> str:
    return f"arn:aws:sns:{model.REGION}:{model.ACCOUNT}:{name}"


def _envelope(topic: str, event_id: str, body: str, attributes: dict[str, model.Attribute]) -> str:
    return json.dumps({
        "Type": "Notification",
        "MessageId": event_id,
        "TopicArn": topic_arn(topic),
        "Message": body,
        "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "MessageAttributes": {
            k: {"Type": a.data_type, "Value": a.string_value} for k, a in attributes.items()
            if a.string_value is not None
        },
    })  # fmt: skip
