"""Making real dead letters in tests: a queue with a DLQ, and messages that fail their way
there the way an SQS consumer's failures put them there (received past maxReceiveCount)."""

from __future__ import annotations

import json

from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage, queue_arn


def queue_with_dlq(layer: MessageLayer, name: str) -> str:
    """``name`` and its DLQ ``name-dlq``: a message goes there on its second receive."""
    dlq = f"{name}-dlq"
    layer.admin.create(dlq)
    policy = json.dumps({"deadLetterTargetArn": queue_arn(dlq), "maxReceiveCount": 1})
    layer.admin.create(name, {"RedrivePolicy": policy})
    return dlq


def dead_letter(layer: MessageLayer, queue: str, body: str) -> None:
    layer.queues.send(queue, [OutgoingMessage(body=body)])
    layer.queues.receive(queue, visibility_timeout=0)
    assert layer.queues.receive(queue) == []  # the second receive moved it to the DLQ
