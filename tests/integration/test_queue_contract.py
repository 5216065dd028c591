"""One behaviour suite over every queue backend.

``postgres``: the Python API on the embedded PostgreSQL. ``sqs``: the boto3 backend against
this platform's own SQS endpoint (real PostgreSQL behind it). ``moto``: the boto3 backend
against moto's SQS server, the API double standing in for AWS.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from comind.platform import Platform
from comind.queue.config import QueueSettings, queue_settings
from comind.queue.errors import InvalidParameterValue, QueueDoesNotExist, ReceiptHandleIsInvalid
from comind.queue.factory import open_queue_backend
from comind.queue.model import Attribute, OutgoingMessage
from comind.stores.postgres import PgTarget


@dataclass
class Backend:
    kind: str
    queues: Any
    admin: Any
    prefix: str

    def q(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def dlq_policy(self, dlq: str, count: int) -> str:
        arn = f"arn:aws:sqs:us-east-1:000000000000:{dlq}"
        return json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": count})


@pytest.fixture(params=["postgres", "sqs", "moto"])
def backend(request: pytest.FixtureRequest, pg: PgTarget) -> Iterator[Backend]:
    """Each backend as the platform builds it: from its configuration, by the one factory."""
    prefix = "c" + uuid.uuid4().hex[:8]
    if request.param == "postgres":
        settings = queue_settings(queue_backend="postgres")
    elif request.param == "sqs":
        runtime: Platform = request.getfixturevalue("runtime")
        assert runtime.credentials is not None
        key = runtime.credentials.ensure(prefix)
        settings = _sqs(runtime.url, key.access_key_id, key.secret)
    else:
        settings = _sqs(request.getfixturevalue("moto_url"), "testing", "testing")
    with open_queue_backend(settings, postgres=pg, max_connections=4) as opened:
        yield Backend(request.param, opened.queues, opened.admin, prefix)


def _sqs(url: str, key: str, secret: str) -> QueueSettings:
    return queue_settings(
        queue_backend="sqs",
        sqs_endpoint=url,
        sqs_region="us-east-1",
        sqs_access_key_id=key,
        sqs_secret_access_key=secret,
    )


def test_send_receive_delete(backend: Backend) -> None:
    name = backend.admin.create(backend.q("jobs"))
    attrs = {
        "kind": Attribute("String", "order"),
        "n": Attribute("Number", "7"),
        "raw": Attribute("Binary", binary_value=b"\x01\x02"),
    }
    [sent] = backend.queues.send(name, [OutgoingMessage(body="hello", attributes=attrs)])
    [got] = backend.queues.receive(name, wait_seconds=1)
    assert (got.message_id, got.body, got.attributes) == (sent.message_id, "hello", attrs)
    assert got.md5_of_attributes == sent.md5_of_attributes
    backend.queues.delete(name, got.receipt_handle)
    assert backend.queues.receive(name) == []


def test_visibility_timeout_redelivers_with_a_count(backend: Backend) -> None:
    name = backend.admin.create(backend.q("vt"))
    backend.queues.send(name, [OutgoingMessage(body="again")])
    first = backend.queues.receive(name, visibility_timeout=0)
    second = backend.queues.receive(name, visibility_timeout=30)
    assert first[0].message_id == second[0].message_id
    assert (first[0].receive_count, second[0].receive_count) == (1, 2)
    assert backend.queues.receive(name) == []


def test_delay_and_long_poll(backend: Backend) -> None:
    name = backend.admin.create(backend.q("delay"), {"DelaySeconds": "1"})
    backend.queues.send(name, [OutgoingMessage(body="later")])
    assert backend.queues.receive(name) == []
    got = backend.queues.receive(name, wait_seconds=5)
    assert [m.body for m in got] == ["later"]


def test_dead_letter_after_max_receives(backend: Backend) -> None:
    dlq = backend.admin.create(backend.q("dlq"))
    name = backend.admin.create(backend.q("work"), {"RedrivePolicy": backend.dlq_policy(dlq, 2)})
    backend.queues.send(name, [OutgoingMessage(body="poison")])
    for _ in range(2):
        assert backend.queues.receive(name, visibility_timeout=0)
    assert backend.queues.receive(name) == []
    dead = backend.queues.receive(dlq, wait_seconds=2)
    assert [m.body for m in dead] == ["poison"]


def test_fifo_order_per_group_and_dedup(backend: Backend) -> None:
    name = backend.admin.create(
        backend.q("f.fifo"), {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )
    msgs = [OutgoingMessage(body=f"a{i}", group_id="a") for i in range(3)]
    backend.queues.send(name, msgs)
    backend.queues.send(name, [OutgoingMessage(body="a0", group_id="a")])  # a duplicate
    bodies = []
    for _ in range(3):
        got = backend.queues.receive(name, max_messages=10, wait_seconds=1)
        bodies += [m.body for m in got]
        for m in got:
            backend.queues.delete(name, m.receipt_handle)
    assert bodies == ["a0", "a1", "a2"]  # in order, and the duplicate never delivered


def test_a_bad_batch_is_refused_whole(backend: Backend) -> None:
    name = backend.admin.create(backend.q("batch"))
    too_many = {f"a{i}": Attribute("String", "v") for i in range(11)}
    with pytest.raises(InvalidParameterValue):
        backend.queues.send(
            name, [OutgoingMessage(body="ok"), OutgoingMessage(body="bad", attributes=too_many)]
        )
    assert backend.queues.receive(name) == []


def test_errors_are_the_same_classes(backend: Backend) -> None:
    with pytest.raises(QueueDoesNotExist):
        backend.queues.receive(backend.q("missing"))
    name = backend.admin.create(backend.q("err"))
    with pytest.raises(ReceiptHandleIsInvalid):
        backend.queues.delete(name, "garbage")
