"""Redrive: move tasks send dead letters back to their source queues, listable, cancellable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.waiting import wait_until

from comind.queue.errors import InvalidParameterValue, ResourceNotFound
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.queue.moves import MoveTasks
from comind.stores.postgres import PgTarget

POLICY = '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:%s","maxReceiveCount":1}'


@pytest.fixture
def layer(pg: PgTarget) -> Iterator[MessageLayer]:
    layer = MessageLayer.open(pg, max_connections=4)
    layer.admin.create("a/dlq")
    for name in ("a/one", "a/two"):
        layer.admin.create(name, {"RedrivePolicy": POLICY % "a/dlq"})
    yield layer
    layer.close()


def dead_letter(layer: MessageLayer, queue: str, body: str) -> None:
    layer.queues.send(queue, [OutgoingMessage(body=body)])
    layer.queues.receive(queue, visibility_timeout=0)
    assert layer.queues.receive(queue) == []  # second receive moves it to the DLQ


def _finish(moves: MoveTasks, dlq: str) -> None:
    """Step the task until it ends: its rate lets one message through at its start, then
    500 a second, so a step right after another may move none (and end a plain loop early,
    a CI failure)."""

    def ended() -> bool:
        moves.step()
        return moves.list(dlq)[0].status != "RUNNING"

    assert wait_until(ended, 10, interval=0.01)


def test_redrive_returns_each_message_to_its_source(layer: MessageLayer) -> None:
    dead_letter(layer, "a/one", "from one")
    dead_letter(layer, "a/two", "from two")
    moves = MoveTasks(layer.queues)
    handle = moves.start("a/dlq")
    _finish(moves, "a/dlq")
    [task] = moves.list("a/dlq")
    assert (task.handle, task.status, task.moved, task.to_move) == (handle, "COMPLETED", 2, 2)
    assert [m.body for m in layer.queues.receive("a/one")] == ["from one"]
    assert [m.body for m in layer.queues.receive("a/two")] == ["from two"]
    assert layer.queues.stats("a/dlq").visible == 0


def test_redrive_to_another_queue_at_a_bounded_rate(layer: MessageLayer) -> None:
    layer.admin.create("a/elsewhere")
    for i in range(5):
        dead_letter(layer, "a/one", f"m{i}")
    moves = MoveTasks(layer.queues)
    moves.start("a/dlq", destination="a/elsewhere", max_per_second=1)
    assert moves.step() == 1  # the rate allows one message right away, the rest over time
    assert moves.list("a/dlq")[0].status == "RUNNING"
    with pytest.raises(InvalidParameterValue, match="already running"):
        moves.start("a/dlq")
    assert moves.cancel(moves.list("a/dlq")[0].handle) == 1
    assert moves.step() == 0
    assert layer.queues.stats("a/elsewhere").visible == 1
    assert layer.queues.stats("a/dlq").visible == 4


def test_messages_whose_source_is_gone_stay_in_the_dlq(layer: MessageLayer) -> None:
    dead_letter(layer, "a/two", "orphan")
    layer.admin.delete("a/two")
    moves = MoveTasks(layer.queues)
    moves.start("a/dlq")
    _finish(moves, "a/dlq")
    assert layer.queues.stats("a/dlq").visible == 1
    with pytest.raises(ResourceNotFound):
        moves.cancel("not-a-handle")


def test_a_letter_goes_back_only_to_a_queue_whose_dlq_it_is_in(layer: MessageLayer) -> None:
    """Red team 21h H2: a letter forged in a DLQ named another team's queue as its source,
    and a redrive delivered it there."""
    layer.admin.create("b/payments")  # its dead letters do not go to a/dlq
    dead_letter(layer, "a/one", "real")
    with layer.pool.connection() as conn:  # the forged letter, written past every check
        conn.execute(
            "INSERT INTO comind.messages (queue_id, message_id, body, attributes, visible_at,"
            " expires_at, dead_letter_info) SELECT id, gen_random_uuid(), 'forged', '{}', now(),"
            " now() + interval '1 hour', '{\"source_queue\": \"b/payments\"}' FROM comind.queues"
            " WHERE name = 'a/dlq'"
        )
    moves = MoveTasks(layer.queues)
    moves.start("a/dlq")
    _finish(moves, "a/dlq")
    assert [m.body for m in layer.queues.receive("a/one")] == ["real"]
    assert layer.queues.stats("b/payments").visible == 0
    assert [m.body for m in layer.queues.peek("a/dlq")] == ["forged"]  # stays where it is
