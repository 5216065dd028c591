"""The SQS actions, each a function of (caller's app, request params) -> response dict.

Every action runs as one app: queue names and URLs are resolved inside that app's
namespace only, so one app's credentials can never name another app's queue.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from comind.api import sqs_shapes as shapes
from comind.queue import model
from comind.queue.errors import (
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidParameterValue,
    MissingParameter,
    QueueDoesNotExist,
    QueueError,
    TooManyEntriesInBatchRequest,
    UnsupportedOperation,
)
from comind.queue.layer import MessageLayer
from comind.queue.moves import MoveTask
from comind.queue.postgres_delivery import decode_receipt

Params = dict[str, Any]
_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


@dataclass
class Call:
    app: str
    params: Params
    endpoint: str

    def queue(self) -> str:
        return shapes.queue_from_url(self.app, self.params.get("QueueUrl"))

    def url(self, name: str) -> str:
        return shapes.queue_url(self.endpoint, self.app, name)

    def text(self, key: str) -> str:
        value = self.params.get(key)
        if not isinstance(value, str) or not value:
            raise MissingParameter(f"The request must contain the parameter {key}.")
        return value


class SqsActions:
    """Dispatch table of the SQS API over the queue layer."""

    def __init__(self, layer: MessageLayer) -> None:
        self.queues, self.admin, self.moves = layer.queues, layer.admin, layer.moves
        self.table: dict[str, Callable[[Call], Params]] = {
            name: getattr(self, _snake(name)) for name in ACTIONS
        }

    def run(self, action: str, call: Call) -> Params:
        handler = self.table.get(action)
        if handler is None:
            raise UnsupportedOperation(f"Operation {action} is not supported.")
        try:
            return handler(call)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
            # a request whose members have the wrong shape (a list where a map belongs, ...)
            raise InvalidParameterValue(f"Malformed request for {action}: {exc!r}"[:512]) from None

    # --- queues ------------------------------------------------------------------------

    def create_queue(self, call: Call) -> Params:
        name = call.text("QueueName")
        if "/" in name:  # an app names its queue; the "app/" namespace is the platform's
            raise InvalidParameterValue("Can only include alphanumeric characters, hyphens, "
                                        "or underscores. 1 to 80 in length")  # fmt: skip
        model.check_queue_name(name)
        attributes = self._attributes_in(call.app, call.params.get("Attributes") or {})
        tags = call.params.get("tags") or call.params.get("Tags") or {}
        self.admin.create(shapes.internal(call.app, name), attributes, tags=tags)
        return {"QueueUrl": call.url(name)}

    def get_queue_url(self, call: Call) -> Params:
        name = shapes.internal(call.app, call.text("QueueName"))
        self.queues.queue(name)
        return {"QueueUrl": call.url(name)}

    def list_queues(self, call: Call) -> Params:
        prefix = shapes.internal(call.app, call.params.get("QueueNamePrefix") or "")
        limit = int(call.params.get("MaxResults") or 1000)
        urls = [call.url(n) for n in self.admin.names(prefix, limit=limit)]
        return {"QueueUrls": urls} if urls else {}

    def delete_queue(self, call: Call) -> Params:
        self.admin.delete(call.queue())
        return {}

    def get_queue_attributes(self, call: Call) -> Params:
        names = call.params.get("AttributeNames") or ["All"]
        attrs = self._attributes_out(call.app, self.admin.attributes(call.queue()))
        chosen = {k: v for k, v in attrs.items() if "All" in names or k in names}
        return {"Attributes": chosen} if chosen else {}

    def set_queue_attributes(self, call: Call) -> Params:
        attrs = self._attributes_in(call.app, call.params.get("Attributes") or {})
        self.admin.set_attributes(call.queue(), attrs)
        return {}

    def purge_queue(self, call: Call) -> Params:
        self.admin.purge(call.queue())
        return {}

    def list_dead_letter_source_queues(self, call: Call) -> Params:
        return {"queueUrls": [call.url(n) for n in self.admin.dead_letter_sources(call.queue())]}

    def tag_queue(self, call: Call) -> Params:
        self.admin.set_tags(call.queue(), add=dict(call.params.get("Tags") or {}))
        return {}

    def untag_queue(self, call: Call) -> Params:
        self.admin.set_tags(call.queue(), remove=list(call.params.get("TagKeys") or []))
        return {}

    def list_queue_tags(self, call: Call) -> Params:
        tags = self.admin.tags(call.queue())
        return {"Tags": tags} if tags else {}

    # --- messages ----------------------------------------------------------------------

    def send_message(self, call: Call) -> Params:
        result = self.queues.send(call.queue(), [shapes.outgoing(call.params)])[0]
        return _sent(result)

    def send_message_batch(self, call: Call) -> Params:
        queue = call.queue()
        entries, messages, failed = [], [], []
        for entry in _batch_entries(call):
            try:
                msg = shapes.outgoing(entry)
                self.queues.check(queue, msg)
            except QueueDoesNotExist:
                raise
            except QueueError as exc:
                failed.append(_failure(entry, exc))
                continue
            entries.append(entry)
            messages.append(msg)
        results = self.queues.send(queue, messages) if messages else []  # one statement
        ok = [{"Id": e["Id"], **_sent(r)} for e, r in zip(entries, results, strict=True)]
        return {"Successful": ok, "Failed": failed}

    def receive_message(self, call: Call) -> Params:
        p = call.params
        messages = self.queues.receive(
            call.queue(),
            max_messages=int(p.get("MaxNumberOfMessages") or 1),
            wait_seconds=_opt_int(p.get("WaitTimeSeconds")),
            visibility_timeout=_opt_int(p.get("VisibilityTimeout")),
        )
        attribute_names = list(p.get("MessageAttributeNames") or [])
        system_names = list(p.get("MessageSystemAttributeNames") or p.get("AttributeNames") or [])
        out = [
            shapes.message_out(
                call.app, m, attribute_names=attribute_names, system_names=system_names
            )
            for m in messages
        ]
        return {"Messages": out} if out else {}

    def delete_message(self, call: Call) -> Params:
        self.queues.delete(call.queue(), call.text("ReceiptHandle"))
        return {}

    def delete_message_batch(self, call: Call) -> Params:
        queue = call.queue()
        entries = _batch_entries(call)
        handles = [str(e.get("ReceiptHandle") or "") for e in entries]
        try:
            for handle in handles:
                decode_receipt(handle)
        except QueueError:  # some entry is bad: settle one by one to report it
            return self._batch(call, lambda e: self._delete_entry(queue, e))
        self.queues.delete_many(queue, handles)  # one statement for the whole batch
        return {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}

    def change_message_visibility(self, call: Call) -> Params:
        timeout = _opt_int(call.params.get("VisibilityTimeout"))
        if timeout is None:
            raise MissingParameter("The request must contain the parameter VisibilityTimeout.")
        self.queues.change_visibility(call.queue(), call.text("ReceiptHandle"), timeout)
        return {}

    def change_message_visibility_batch(self, call: Call) -> Params:
        queue = call.queue()
        return self._batch(call, lambda e: self._visibility_entry(queue, e))

    # --- redrive ------------------------------------------------------------------------

    def start_message_move_task(self, call: Call) -> Params:
        source = shapes.queue_from_arn(call.app, call.params.get("SourceArn"), "SourceArn")
        dest_arn = call.params.get("DestinationArn")
        dest = shapes.queue_from_arn(call.app, dest_arn, "DestinationArn") if dest_arn else None
        if not self.admin.dead_letter_sources(source):
            raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
        rate = _opt_int(call.params.get("MaxNumberOfMessagesPerSecond"))
        return {"TaskHandle": self.moves.start(source, destination=dest, max_per_second=rate)}

    def list_message_move_tasks(self, call: Call) -> Params:
        source = shapes.queue_from_arn(call.app, call.params.get("SourceArn"), "SourceArn")
        limit = _opt_int(call.params.get("MaxResults")) or 1
        tasks = self.moves.list(source, limit=limit)
        return {"Results": [_task_out(call.app, t) for t in tasks]}

    def cancel_message_move_task(self, call: Call) -> Params:
        moved = self.moves.cancel(call.text("TaskHandle"))
        return {"ApproximateNumberOfMessagesMoved": moved}

    # --- helpers -----------------------------------------------------------------------

    def _delete_entry(self, queue: str, entry: Params) -> Params:
        self.queues.delete(queue, str(entry.get("ReceiptHandle") or ""))
        return {}

    def _visibility_entry(self, queue: str, entry: Params) -> Params:
        timeout = _opt_int(entry.get("VisibilityTimeout")) or 0
        self.queues.change_visibility(queue, str(entry.get("ReceiptHandle") or ""), timeout)
        return {}

    @staticmethod
    def _batch(call: Call, one: Callable[[Params], Params]) -> Params:
        entries = _batch_entries(call)
        ok, failed = [], []
        for entry in entries:
            try:
                ok.append({"Id": entry["Id"], **one(entry)})
            except QueueDoesNotExist:
                raise
            except QueueError as exc:
                failed.append(_failure(entry, exc))
        return {"Successful": ok, "Failed": failed}

    @staticmethod
    def _attributes_in(app: str, attrs: dict[str, Any]) -> dict[str, str]:
        out = {str(k): str(v) for k, v in attrs.items()}
        if out.get("RedrivePolicy"):
            out["RedrivePolicy"] = _redrive_in(app, out["RedrivePolicy"])
        return out

    @staticmethod
    def _attributes_out(app: str, attrs: dict[str, str]) -> dict[str, str]:
        out = dict(attrs)
        out["QueueArn"] = shapes.arn_for(app, out["QueueArn"].rpartition(":")[2])
        if "RedrivePolicy" in out:
            target, count = model.parse_redrive_policy(out["RedrivePolicy"])
            out["RedrivePolicy"] = model.redrive_policy(shapes.arn_for(app, target), count)
        return out


def _redrive_in(app: str, text: str) -> str:
    """The caller's RedrivePolicy with its ARN turned into the internal queue name."""
    try:
        doc = json.loads(text)
        arn = str(doc["deadLetterTargetArn"])
    except (ValueError, KeyError, TypeError):
        return text  # let the model produce SQS's error
    try:
        target = shapes.queue_from_arn(app, arn, "deadLetterTargetArn")
    except QueueDoesNotExist:  # another app's queue: to this app it does not exist
        raise InvalidParameterValue(
            "Value for parameter RedrivePolicy is invalid. Reason: "
            "Dead-letter target does not exist."
        ) from None
    doc["deadLetterTargetArn"] = model.queue_arn(target)
    return json.dumps(doc)


def _sent(result: Any) -> Params:
    out = {"MessageId": result.message_id, "MD5OfMessageBody": result.md5_of_body}
    if result.md5_of_attributes:
        out["MD5OfMessageAttributes"] = result.md5_of_attributes
    if result.sequence_number:
        out["SequenceNumber"] = result.sequence_number
    return out


def _failure(entry: Params, exc: QueueError) -> Params:
    return {"Id": entry["Id"], "SenderFault": exc.sender_fault, "Code": exc.code,
            "Message": exc.message}  # fmt: skip


def _batch_entries(call: Call) -> list[Params]:
    """The entries of a batch request, refused whole as SQS does when the batch is malformed."""
    entries = call.params.get("Entries")
    if not entries:
        raise EmptyBatchRequest("There should be at least one entry in the request.")
    if len(entries) > model.MAX_BATCH:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are 10. You have sent {len(entries)}."
        )
    ids = [e.get("Id") for e in entries]
    if len(set(ids)) != len(ids):
        raise BatchEntryIdsNotDistinct("Two or more batch entries in the request have the same Id.")
    for entry_id in ids:
        if not isinstance(entry_id, str) or not _BATCH_ID.match(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric "
                "characters, hyphens and underscores. It can be at "
                "most 80 letters long."
            )
    return list(entries)


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


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue(f"Value {value!r} is not a valid integer.") from None


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
)
