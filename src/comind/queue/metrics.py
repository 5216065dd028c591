"""Per-queue metrics: depth gauges read from the database on each scrape, counters and a
receive-latency histogram updated as the backend works.

Depth is collected at scrape time (one grouped query for every queue) rather than kept
in memory, so it is right even for messages other processes sent or received.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from comind.observe.metrics import REGISTRY
from comind.stores.postgres import Pool
from comind.stores.queries import named

_sql = named("comind.queue", "queue")

log = logging.getLogger("comind.queue.metrics")

SENT = Counter(
    "comind_queue_sent_messages_total", "Messages stored by a send.", ["queue"], registry=REGISTRY
)
TOPIC_TOO_LONG = Counter(
    "comind_topic_undelivered_messages_total",
    "Topic messages a subscriber's queue refused as larger than its MaximumMessageSize (the "
    "topic's other subscribers got theirs).",
    ["topic", "queue"],
    registry=REGISTRY,
)
RECEIVED = Counter(
    "comind_queue_received_messages_total", "Message deliveries.", ["queue"], registry=REGISTRY
)
DELETED = Counter(
    "comind_queue_deleted_messages_total",
    "Messages deleted by consumers.",
    ["queue"],
    registry=REGISTRY,
)
DEAD_LETTERED = Counter(
    "comind_queue_dead_lettered_messages_total",
    "Messages moved to a dead-letter queue after maxReceiveCount.",
    ["queue"],
    registry=REGISTRY,
)
UNDECODABLE = Counter(
    "comind_queue_undecodable_messages_total",
    "Leased messages whose stored attributes do not decode, left undelivered (their receive"
    " count takes them to the dead-letter queue).",
    ["queue"],
    registry=REGISTRY,
)
FORWARDED = Counter(
    "comind_queue_forwarded_messages_total",
    "Messages moved from an app's queue in PostgreSQL on to its queue on SQS.",
    ["queue"],
    registry=REGISTRY,
)
FORWARD_FAILURES = Counter(
    "comind_queue_forward_failures_total",
    "Batches SQS did not answer (left in PostgreSQL and forwarded again).",
    ["queue"],
    registry=REGISTRY,
)
FORWARD_REFUSED = Counter(
    "comind_queue_forward_refused_messages_total",
    "Messages SQS refused again and again, moved to the queue's dead-letter queue in"
    " PostgreSQL (or, without one, held back) instead of being forwarded.",
    ["queue"],
    registry=REGISTRY,
)
OUTBOX_RELAYED = Counter(
    "comind_outbox_relayed_messages_total",
    "Outbox rows moved from an app's database into its queues.",
    ["app"],
    registry=REGISTRY,
)
OUTBOX_REFUSED = Counter(
    "comind_outbox_refused_messages_total",
    "Outbox rows that cannot be sent (no such queue, invalid message), marked and skipped.",
    ["app"],
    registry=REGISTRY,
)
OUTBOX_LAG = Gauge(
    "comind_outbox_lag_seconds",
    "Age of the oldest outbox row at the relay's last pass (0 when the outbox is empty).",
    ["app"],
    registry=REGISTRY,
)
LONG_POLLS = Gauge(
    "comind_sqs_long_polls",
    "ReceiveMessage calls of the SQS endpoint waiting for a message now, by app.",
    ["app"],
    registry=REGISTRY,
)
LONG_POLLS_CAPPED = Counter(
    "comind_sqs_long_polls_capped_total",
    "Long polls answered without waiting because the app had its maximum already waiting.",
    ["app"],
    registry=REGISTRY,
)
RECEIVE_SECONDS = Histogram(
    "comind_queue_receive_seconds",
    "Time a receive took, long-poll waiting included.",
    ["queue"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 20),
    registry=REGISTRY,
)


Depth = tuple[int, int, int]  # visible, in flight, delayed
Depths = Callable[[], Mapping[str, Depth]]


class QueueDepthCollector(Collector):
    """``comind_queue_messages{queue,state}`` and ``comind_queue_oldest_message_age_seconds``.
    ``remote``: the depths of queues that live on SQS (visible, in flight, delayed), added to
    what their PostgreSQL side holds (waiting to be forwarded; its age is that wait)."""

    def __init__(self, pool: Pool, remote: Depths = dict) -> None:
        self.pool, self.remote = pool, remote

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth, age = depth_families()
        try:
            with self.pool.connection(timeout=2) as conn:
                rows = conn.execute(_sql("all_stats")).fetchall()
        except Exception as exc:  # a scrape must not fail because the database restarts
            log.debug("queue depth unavailable: %s", exc)
            rows = []
        remote = dict(self.remote())
        for name, visible, in_flight, delayed, oldest in rows:
            there = remote.pop(name, (0, 0, 0))
            for state, value in (
                ("visible", visible + there[0]),
                ("in_flight", in_flight + there[1]),
                ("delayed", delayed + there[2]),
            ):
                depth.add_metric([name, state], float(value))
            age.add_metric([name], float(oldest))
        for name, there in remote.items():  # on SQS alone (its PostgreSQL side not read)
            for state, value in zip(("visible", "in_flight", "delayed"), there, strict=True):
                depth.add_metric([name, state], float(value))
        yield depth
        yield age

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


def depth_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    """The (empty) families the depth collector fills at each scrape."""
    depth = GaugeMetricFamily(
        "comind_queue_messages",
        "Messages in a queue by state (visible, in_flight, delayed).",
        labels=["queue", "state"],
    )
    age = GaugeMetricFamily(
        "comind_queue_oldest_message_age_seconds",
        "Age of the oldest message in a queue.",
        labels=["queue"],
    )
    return depth, age


def register_depth(pool: Pool, remote: Depths = dict) -> QueueDepthCollector:
    collector = QueueDepthCollector(pool, remote)
    REGISTRY.register(collector)
    return collector


def unregister_depth(collector: QueueDepthCollector) -> None:
    REGISTRY.unregister(collector)
