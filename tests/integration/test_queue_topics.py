"""Topics: publish once, fan out atomically to the subscribed queues whose filter matches."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from comind.observe.metrics import REGISTRY
from comind.queue.errors import InvalidParameterValue, QueueDoesNotExist, ResourceNotFound
from comind.queue.model import MAX_MESSAGE_SIZE, Attribute
from comind.queue.postgres import PostgresQueues
from comind.queue.postgres_admin import PostgresQueueAdmin
from comind.queue.postgres_topics import PostgresTopics
from comind.stores.postgres import PgTarget, connect, make_pool


@pytest.fixture
def queues(pg: PgTarget) -> Iterator[PostgresQueues]:
    pool: ConnectionPool = make_pool(pg, min_size=1, max_size=4)
    yield PostgresQueues(pool)
    pool.close()


@pytest.fixture
def topics(queues: PostgresQueues) -> PostgresTopics:
    admin = PostgresQueueAdmin(queues)
    for name in ("fulfilment", "order-feed", "audit"):
        admin.create(name)
    bus = PostgresTopics(queues)
    bus.create("order-placed")
    bus.subscribe("order-placed", "fulfilment")
    bus.subscribe("order-placed", "order-feed", filter_policy={"country": ["NL", "DE"]})
    bus.subscribe("order-placed", "audit", raw=False)
    return bus


def bodies(queues: PostgresQueues, queue: str) -> list[str]:
    return [m.body for m in queues.receive(queue, max_messages=10)]


def test_fan_out_respects_filters(topics: PostgresTopics, queues: PostgresQueues) -> None:
    nl = {"country": Attribute("String", "NL")}
    fr = {"country": Attribute("String", "FR")}
    first = topics.publish("order-placed", "order 1", nl)
    topics.publish("order-placed", "order 2", fr)
    assert sorted(d.queue for d in first) == ["audit", "fulfilment", "order-feed"]
    assert bodies(queues, "fulfilment") == ["order 1", "order 2"]
    assert bodies(queues, "order-feed") == ["order 1"]
    envelopes = [json.loads(b) for b in bodies(queues, "audit")]
    assert [e["Message"] for e in envelopes] == ["order 1", "order 2"]
    assert envelopes[0]["TopicArn"].endswith(":order-placed")
    assert envelopes[0]["MessageAttributes"] == {"country": {"Type": "String", "Value": "NL"}}


def test_publish_inside_a_rolled_back_transaction_delivers_nothing(
    topics: PostgresTopics, queues: PostgresQueues, pg: PgTarget
) -> None:
    with connect(pg, autocommit=False) as conn:
        topics.publish("order-placed", "never", conn=conn)
        conn.rollback()
    assert bodies(queues, "fulfilment") == []


def test_subscriptions_and_errors(topics: PostgresTopics) -> None:
    subs = {s.queue: s for s in topics.subscriptions("order-placed")}
    assert subs["order-feed"].filter_policy == {"country": ["NL", "DE"]}
    assert subs["audit"].raw is False
    with pytest.raises(ResourceNotFound):
        topics.publish("nope", "x")
    with pytest.raises(QueueDoesNotExist):
        topics.subscribe("order-placed", "missing-queue")
    with pytest.raises(InvalidParameterValue):
        topics.subscribe("order-placed", "audit", filter_policy={"country": "NL"})
    topics.unsubscribe("order-placed", "audit")
    assert [s.queue for s in topics.subscriptions("order-placed")] == ["fulfilment", "order-feed"]
    assert topics.names() == ["order-placed"]
    topics.delete("order-placed")
    assert topics.names() == []


def test_a_subscribers_own_size_limit_holds_up_no_other_subscriber(
    topics: PostgresTopics, queues: PostgresQueues
) -> None:
    """Helper 52: an app that lowered its queue's MaximumMessageSize made every publish
    larger than that fail for all of a topic's subscribers (and a flow's topic sink retry
    for ever). The others get it now; that queue's miss is counted."""
    admin = PostgresQueueAdmin(queues)
    admin.create("small", {"MaximumMessageSize": "1024"})
    topics.subscribe("order-placed", "small")
    missed = (
        "comind_topic_undelivered_messages_total",
        {"topic": "order-placed", "queue": "small"},
    )
    before = REGISTRY.get_sample_value(*missed) or 0
    delivered = topics.publish("order-placed", "x" * 2000)
    assert sorted(d.queue for d in delivered) == ["audit", "fulfilment"]  # filter: order-feed
    assert bodies(queues, "fulfilment") == ["x" * 2000] and bodies(queues, "small") == []
    after = REGISTRY.get_sample_value(*missed)
    assert after == before + 1
    with pytest.raises(InvalidParameterValue, match="shorter than"):  # too long for any queue
        topics.publish("order-placed", "x" * (MAX_MESSAGE_SIZE + 1))
    assert bodies(queues, "fulfilment") == []
