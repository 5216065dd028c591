"""The worker: at-least-once processing, retries with backoff, DLQ, heartbeat, graceful stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.queue.types import ReceivedMessage
from comind.queue.worker import Worker, WorkerConfig, retry_delay
from comind.stores.postgres import PgTarget
from waiting import wait_until

POLICY = '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:w/dlq","maxReceiveCount":3}'
FAST = WorkerConfig(
    concurrency=4,
    visibility_timeout=2,
    wait_seconds=1,
    grace_seconds=5,
    backoff_base=0,
    backoff_cap=0,
)


@pytest.fixture
def layer(pg: PgTarget) -> Iterator[MessageLayer]:
    layer = MessageLayer.open(pg, max_connections=10)
    layer.admin.create("w/dlq")
    layer.admin.create("w/jobs", {"RedrivePolicy": POLICY})
    yield layer
    layer.close()


def send(layer: MessageLayer, *bodies: str) -> None:
    layer.queues.send("w/jobs", [OutgoingMessage(body=b) for b in bodies])


def test_every_message_is_processed_and_deleted(layer: MessageLayer) -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def handle(msg: ReceivedMessage) -> None:
        with lock:
            seen.append(msg.body)

    send(layer, *[f"m{i}" for i in range(50)])
    worker = Worker(layer.queues, "w/jobs", handle, FAST)
    worker.start()
    assert wait_until(lambda: len(seen) == 50)
    worker.stop()
    assert sorted(seen) == sorted(f"m{i}" for i in range(50))
    stats = layer.queues.stats("w/jobs")
    assert (stats.visible, stats.in_flight) == (0, 0)


def test_a_poison_message_ends_in_the_dlq_after_max_receives(layer: MessageLayer) -> None:
    attempts: list[int] = []

    def always_fails(msg: ReceivedMessage) -> None:
        attempts.append(msg.receive_count)
        raise ValueError("cannot parse order")

    send(layer, "poison")
    worker = Worker(layer.queues, "w/jobs", always_fails, FAST)
    worker.start()
    assert wait_until(lambda: layer.queues.stats("w/dlq").visible == 1)
    worker.stop()
    assert attempts == [1, 2, 3]
    [dead] = layer.queues.receive("w/dlq")
    assert dead.dead_letter is not None
    assert dead.dead_letter["last_error"] == "ValueError: cannot parse order"
    assert dead.dead_letter["receive_count"] == 3


def test_a_long_handler_keeps_its_message_with_a_heartbeat(layer: MessageLayer) -> None:
    runs: list[str] = []

    def slow(msg: ReceivedMessage) -> None:
        runs.append(msg.message_id)
        time.sleep(4)  # twice the visibility timeout

    send(layer, "slow")
    worker = Worker(layer.queues, "w/jobs", slow, FAST)
    worker.start()
    assert wait_until(
        lambda: (
            layer.queues.stats("w/jobs").in_flight == 0
            and len(runs) == 1
            and layer.queues.stats("w/jobs").visible == 0
        ),
        timeout=20,
    )
    worker.stop()
    assert len(runs) == 1  # never redelivered while it ran


def test_stop_releases_unfinished_messages(layer: MessageLayer) -> None:
    started = threading.Event()

    def stuck(msg: ReceivedMessage) -> None:
        started.set()
        time.sleep(30)

    send(layer, "stuck")
    config = WorkerConfig(concurrency=1, visibility_timeout=60, wait_seconds=1, grace_seconds=0.2)
    worker = Worker(layer.queues, "w/jobs", stuck, config)
    worker.start()
    assert started.wait(10)
    worker.stop()
    assert [m.body for m in layer.queues.receive("w/jobs")] == ["stuck"]  # back at once


def test_retry_delay_is_exponential_with_jitter() -> None:
    assert [retry_delay(n, rand=lambda: 1.0) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert [retry_delay(n, rand=lambda: 0.0) for n in (1, 2, 3, 4)] == [1, 1, 2, 4]
    assert retry_delay(30, rand=lambda: 1.0) == 900
