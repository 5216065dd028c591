"""The SQS actions: one dispatch table from an action's name to the function serving it.

Every action runs as one app: queue names and URLs are resolved inside that app's
namespace only, so one app's credentials can never name another app's queue. The actions
live by subject: queues (:mod:`comind.api.sqs_queues`), messages
(:mod:`comind.api.sqs_messages`), permissions (:mod:`comind.api.sqs_permissions`) and,
here, the redrive move tasks.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from comind.api import sqs_shapes as shapes
from comind.api.sqs_call import Call, Params
from comind.api.sqs_messages import MessageActions
from comind.api.sqs_permissions import Permissions
from comind.api.sqs_polls import Waiting
from comind.api.sqs_queues import QueueActions
from comind.queue.errors import InvalidParameterValue, UnsupportedOperation
from comind.queue.layer import MessageLayer
from comind.queue.moves import MoveTask
from comind.spec.names import PLATFORM_APP

Handler = Callable[[Call], Params | Waiting]


class SqsActions:
    """Dispatch table of the SQS API over the queue layer."""

    def __init__(self, layer: MessageLayer, *, apps_on_sqs: bool = False) -> None:
        self.queues, self.admin, self.moves = layer.queues, layer.admin, layer.moves
        self.apps_on_sqs = apps_on_sqs  # their queues here only wait to be forwarded
        parts = (QueueActions(layer.admin), MessageActions(layer.queues),
                 Permissions(layer.admin), self)  # fmt: skip
        self.table: dict[str, Handler] = {}
        for name in ACTIONS:
            method = _snake(name)
            self.table[name] = next(getattr(p, method) for p in parts if hasattr(p, method))

    def run(self, action: str, call: Call) -> Params | Waiting:
        handler = self.table.get(action)
        if handler is None:
            raise UnsupportedOperation(f"Operation {action} is not supported.")
        if self.apps_on_sqs and action not in FORWARDED_ONLY and call.app != PLATFORM_APP:
            raise UnsupportedOperation(
                f"{action}: the apps' queues live on SQS (COMIND_QUEUE_BACKEND=sqs); here an "
                "app may only send and look: do the rest there"
            )
        try:
            return handler(call)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            # a request whose members have the wrong shape (a list where a map belongs, ...)
            raise InvalidParameterValue(f"Malformed request for {action}: {exc!r}"[:512]) from None

    # --- redrive ------------------------------------------------------------------------

    def start_message_move_task(self, call: Call) -> Params:
        source = shapes.queue_from_arn(call.app, call.params.get("SourceArn"), "SourceArn")
        dest_arn = call.params.get("DestinationArn")
        dest = shapes.queue_from_arn(call.app, dest_arn, "DestinationArn") if dest_arn else None
        if not self.admin.dead_letter_sources(source):
            raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
        rate = call.number("MaxNumberOfMessagesPerSecond")
        return {"TaskHandle": self.moves.start(source, destination=dest, max_per_second=rate)}

    def list_message_move_tasks(self, call: Call) -> Params:
        source = shapes.queue_from_arn(call.app, call.params.get("SourceArn"), "SourceArn")
        limit = call.number("MaxResults") or 1
        tasks = self.moves.list(source, limit=limit)
        return {"Results": [_task_out(call.app, t) for t in tasks]}

    def cancel_message_move_task(self, call: Call) -> Params:
        moved = self.moves.cancel(call.text("TaskHandle"))
        return {"ApproximateNumberOfMessagesMoved": moved}


def _task_out(app: str, task: MoveTask) -> Params:
    out: Params = {
        "Status": task.status,
        "SourceArn": shapes.arn_for(app, task.source),
        "ApproximateNumberOfMessagesMoved": task.moved,
        "ApproximateNumberOfMessagesToMove": task.to_move,
        "StartedTimestamp": int(task.started_at.timestamp() * 1000),
    }
    if task.status == "RUNNING":
        out["TaskHandle"] = task.handle
    if task.destination:
        out["DestinationArn"] = shapes.arn_for(app, task.destination)
    if task.max_per_second:
        out["MaxNumberOfMessagesPerSecond"] = task.max_per_second
    if task.failure:
        out["FailureReason"] = task.failure
    return out


# what an app may still do on the PostgreSQL side of its queues once they live on SQS:
# send (forwarded like any other write) and look. Taking, purging, moving, redriving or
# changing them (a RedrivePolicy elsewhere, a smaller MaximumMessageSize that fails every
# topic's fan-out, a deletion) would steal from or stall what the forwarder moves on
FORWARDED_ONLY = frozenset({"SendMessage", "SendMessageBatch", "GetQueueUrl", "ListQueues",
                            "GetQueueAttributes", "ListQueueTags", "ListDeadLetterSourceQueues",
                            "ListMessageMoveTasks"})  # fmt: skip


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


ACTIONS = (
    "CreateQueue",
    "GetQueueUrl",
    "ListQueues",
    "DeleteQueue",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "PurgeQueue",
    "ListDeadLetterSourceQueues",
    "TagQueue",
    "UntagQueue",
    "ListQueueTags",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "StartMessageMoveTask",
    "ListMessageMoveTasks",
    "CancelMessageMoveTask",
    "AddPermission",
    "RemovePermission",
)
