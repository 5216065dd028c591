"""SQS semantics of the postgres queue backend, on the real embedded PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from comind.queue.errors import (
    InvalidParameterValue,
    MessageNotInflight,
    MissingParameter,
    PurgeQueueInProgress,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
)
from comind.queue.model import Attribute, OutgoingMessage, md5_of_attributes
from comind.queue.postgres import PostgresQueues
from comind.queue.postgres_admin import PostgresQueueAdmin
from comind.stores.postgres import PgTarget, connect, make_pool


@pytest.fixture
def pool(pg: PgTarget) -> Iterator[ConnectionPool]:
    p = make_pool(pg, min_size=1, max_size=4)
    yield p
    p.close()


@pytest.fixture
def queues(pool: ConnectionPool) -> PostgresQueues:
    return PostgresQueues(pool)


@pytest.fixture
def admin(queues: PostgresQueues) -> PostgresQueueAdmin:
    return PostgresQueueAdmin(queues)


def msg(body: str, **kw: object) -> OutgoingMessage:
    return OutgoingMessage(body=body, **kw)  # type: ignore[arg-type]


def test_send_receive_delete(queues: PostgresQueues, admin: PostgresQueueAdmin) -> None:
    admin.create("jobs")
    attrs = {"kind": Attribute("String", "order"), "n": Attribute("Number", "3")}
    sent = queues.send("jobs", [msg("hello", attributes=attrs)])
    assert sent[0].md5_of_body == "5d41402abc4b2a76b9719d911017c592"
    assert sent[0].md5_of_attributes == md5_of_attributes(attrs)
    got = queues.receive("jobs", max_messages=10)
    assert [(m.body, m.message_id, m.receive_count) for m in got] == [
        ("hello", sent[0].message_id, 1)
    ]
    assert got[0].attributes == attrs
    assert queues.receive("jobs") == []  # in flight
    queues.delete("jobs", got[0].receipt_handle)
    assert queues.stats("jobs").visible + queues.stats("jobs").in_flight == 0


def test_visibility_timeout_redelivers(queues: PostgresQueues, admin: PostgresQueueAdmin) -> None:
    admin.create("vt")
    queues.send("vt", [msg("again")])
    first = queues.receive("vt", visibility_timeout=0)
    second = queues.receive("vt", visibility_timeout=30)
    assert first[0].message_id == second[0].message_id
    assert second[0].receive_count == 2


def test_a_stale_receipt_handle_does_not_delete_the_new_delivery(
    queues: PostgresQueues, admin: PostgresQueueAdmin
) -> None:
    admin.create("stale")
    queues.send("stale", [msg("x")])
    old = queues.receive("stale", visibility_timeout=0)[0]
    new = queues.receive("stale", visibility_timeout=30)[0]
    queues.delete("stale", old.receipt_handle)
    assert queues.stats("stale").in_flight == 1
    with pytest.raises(MessageNotInflight):
        queues.change_visibility("stale", old.receipt_handle, 0)
    queues.delete("stale", new.receipt_handle)
    assert queues.stats("stale").in_flight == 0


def test_garbage_receipt_handle(queues: PostgresQueues, admin: PostgresQueueAdmin) -> None:
    admin.create("g")
    with pytest.raises(ReceiptHandleIsInvalid) as err:
        queues.delete("g", "not-a-handle")
    assert err.value.code == "ReceiptHandleIsInvalid"


def test_delay_hides_a_message(queues: PostgresQueues, admin: PostgresQueueAdmin) -> None:
    admin.create("later", {"DelaySeconds": "1"})
    queues.send("later", [msg("soon")])
    assert queues.receive("later") == []
    assert queues.stats("later").delayed == 1
    got = queues.receive("later", wait_seconds=5)
    assert [m.body for m in got] == ["soon"]


def test_long_poll_wakes_on_send(queues: PostgresQueues, admin: PostgresQueueAdmin) -> None:
    admin.create("poll")
    timer = threading.Timer(0.3, lambda: queues.send("poll", [msg("woken")]))
    timer.start()
    began = time.monotonic()
    got = queues.receive("poll", wait_seconds=10)
    timer.join()
    assert [m.body for m in got] == ["woken"]
    assert time.monotonic() - began < 10  # returned on the notification, not the timeout


def test_dead_letter_after_max_receives(queues: PostgresQueues, admin: PostgresQueueAdmin) -> None:
    admin.create("orders-dlq")
    policy = '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:orders-dlq",'
    admin.create("orders", {"RedrivePolicy": policy + '"maxReceiveCount":"2"}'})
    queues.send("orders", [msg("poison", attributes={"a": Attribute("String", "v")})])
    for expected in (1, 2):
        got = queues.receive("orders", visibility_timeout=0)
        assert got[0].receive_count == expected
        queues.fail("orders", got[0].receipt_handle, error=f"boom {expected}", retry_in=0)
    assert queues.receive("orders") == []
    dead = queues.receive("orders-dlq")
    assert [m.body for m in dead] == ["poison"]
    assert dead[0].attributes == {"a": Attribute("String", "v")}
    info = dead[0].dead_letter
    assert info is not None
    assert info["source_queue"] == "orders"
    assert info["receive_count"] == 2
    assert info["last_error"] == "boom 2"
    assert admin.dead_letter_sources("orders-dlq") == ["orders"]


def test_redrive_policy_must_name_an_existing_queue_of_the_same_type(
    admin: PostgresQueueAdmin,
) -> None:
    policy = '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:%s","maxReceiveCount":3}'
    with pytest.raises(InvalidParameterValue, match="does not exist"):
        admin.create("a", {"RedrivePolicy": policy % "missing"})
    admin.create("fifo-dlq.fifo", {"FifoQueue": "true"})
    with pytest.raises(InvalidParameterValue, match="same type"):
        admin.create("b", {"RedrivePolicy": policy % "fifo-dlq.fifo"})
    assert admin.names() == ["fifo-dlq.fifo"]  # nothing half-created


def test_fifo_groups_and_dedup(queues: PostgresQueues, admin: PostgresQueueAdmin) -> None:
    admin.create("q.fifo", {"FifoQueue": "true", "ContentBasedDeduplication": "true"})
    one = queues.send(
        "q.fifo", [msg("a1", group_id="a"), msg("a2", group_id="a"), msg("b1", group_id="b")]
    )
    dup = queues.send("q.fifo", [msg("a1", group_id="a")])
    assert dup[0].message_id == one[0].message_id  # content-based dedup in the window
    got = queues.receive("q.fifo", max_messages=10)
    assert sorted(m.body for m in got) == ["a1", "b1"]  # one in-flight member per group
    assert queues.receive("q.fifo", max_messages=10) == []
    for m in got:
        queues.delete("q.fifo", m.receipt_handle)
    assert [m.body for m in queues.receive("q.fifo", max_messages=10)] == ["a2"]


def test_fifo_requires_group_and_dedup(queues: PostgresQueues, admin: PostgresQueueAdmin) -> None:
    admin.create("plain.fifo", {"FifoQueue": "true"})
    with pytest.raises(MissingParameter, match="MessageGroupId"):  # AWS's code for it
        queues.send("plain.fifo", [msg("x")])
    with pytest.raises(InvalidParameterValue, match="ContentBasedDeduplication"):
        queues.send("plain.fifo", [msg("x", group_id="g")])


def test_bad_messages_change_nothing(queues: PostgresQueues, admin: PostgresQueueAdmin) -> None:
    admin.create("strict", {"MaximumMessageSize": "1024"})
    with pytest.raises(InvalidParameterValue, match="shorter than 1024"):
        queues.send("strict", [msg("ok"), msg("x" * 2000)])
    too_many = {f"a{i}": Attribute("String", "v") for i in range(11)}
    with pytest.raises(InvalidParameterValue, match="exceeds the allowed maximum"):
        queues.send("strict", [msg("ok", attributes=too_many)])
    assert queues.stats("strict").visible == 0


def test_transactional_send_exists_only_if_the_transaction_commits(
    queues: PostgresQueues, admin: PostgresQueueAdmin, pg: PgTarget
) -> None:
    admin.create("outbox")
    with connect(pg, autocommit=False) as conn:
        queues.send("outbox", [msg("rolled back")], conn=conn)
        conn.rollback()
        queues.send("outbox", [msg("committed")], conn=conn)
        assert queues.receive("outbox") == []  # not visible before commit
        conn.commit()
    assert [m.body for m in queues.receive("outbox")] == ["committed"]


def test_queue_admin(admin: PostgresQueueAdmin, queues: PostgresQueues) -> None:
    admin.create("alpha", {"VisibilityTimeout": "45"}, tags={"team": "x"})
    admin.create("alpha", {"VisibilityTimeout": "45"})  # same attributes: fine
    with pytest.raises(QueueNameExists):
        admin.create("alpha", {"VisibilityTimeout": "50"})
    admin.set_attributes("alpha", {"DelaySeconds": "5"})
    attrs = admin.attributes("alpha")
    assert attrs["VisibilityTimeout"] == "45"
    assert attrs["DelaySeconds"] == "5"
    assert attrs["QueueArn"].endswith(":alpha")
    assert admin.tags("alpha") == {"team": "x"}
    admin.set_tags("alpha", add={"env": "dev"}, remove=["team"])
    assert admin.tags("alpha") == {"env": "dev"}
    queues.send("alpha", [msg("a"), msg("b")])
    assert admin.purge("alpha") == 2
    with pytest.raises(PurgeQueueInProgress):
        admin.purge("alpha")
    admin.delete("alpha")
    with pytest.raises(QueueDoesNotExist):
        queues.receive("alpha")


def test_retention_sweep_really_deletes(
    queues: PostgresQueues, admin: PostgresQueueAdmin, pg: PgTarget
) -> None:
    admin.create("short", {"MessageRetentionPeriod": "60"})
    queues.send("short", [msg("old"), msg("new")])
    with connect(pg) as conn:
        conn.execute(
            "UPDATE comind.messages SET expires_at = now() - interval '1 s' WHERE body = 'old'"
        )
    assert [m.body for m in queues.receive("short", max_messages=10)] == ["new"]
    assert queues.sweep()[0] == 1
    with connect(pg) as conn:
        assert conn.execute("SELECT count(*) FROM comind.messages").fetchone() == (1,)


def test_delete_many_skips_stale_handles(queues: PostgresQueues, admin: PostgresQueueAdmin) -> None:
    admin.create("many")
    queues.send("many", [msg(f"m{i}") for i in range(5)])
    stale = queues.receive("many", max_messages=1, visibility_timeout=0)[0]
    got = queues.receive("many", max_messages=10)
    assert len(got) == 5
    assert queues.delete_many("many", [stale.receipt_handle] + [m.receipt_handle for m in got]) == 5
    assert queues.stats("many").in_flight == 0
