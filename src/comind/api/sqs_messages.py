"""The SQS message actions: send, receive, delete and change visibility, one and in batches.

A receive that finds nothing and may wait is not waited for here: it comes back as a
:class:`~comind.api.sqs_polls.Waiting`, which the endpoint awaits without a thread or a
pooled connection (see :mod:`comind.api.sqs_polls`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from comind.api import sqs_shapes as shapes
from comind.api.sqs_call import Call, Params, batch_entries, failure, opt_int
from comind.api.sqs_polls import Waiting
from comind.queue.errors import MissingParameter, QueueDoesNotExist, QueueError
from comind.queue.postgres import PostgresQueues
from comind.queue.postgres_delivery import decode_receipt
from comind.queue.types import ReceivedMessage


class MessageActions:
    """SendMessage ... ChangeMessageVisibilityBatch over the queue layer."""

    def __init__(self, queues: PostgresQueues) -> None:
        self.queues = queues

    def send_message(self, call: Call) -> Params:
        result = self.queues.send(call.queue(), [shapes.outgoing(call.params)])[0]
        return _sent(result)

    def send_message_batch(self, call: Call) -> Params:
        queue = call.queue()
        entries, messages, failed = [], [], []
        for entry in batch_entries(call, "SendMessageBatchRequestEntry"):
            try:
                msg = shapes.outgoing(entry)
                self.queues.check(queue, msg)
            except QueueDoesNotExist:
                raise
            except QueueError as exc:
                failed.append(failure(entry, exc))
                continue
            entries.append(entry)
            messages.append(msg)
        results = self.queues.send(queue, messages) if messages else []  # one statement
        ok = [{"Id": e["Id"], **_sent(r)} for e, r in zip(entries, results, strict=True)]
        return {"Successful": ok, "Failed": failed}

    def receive_message(self, call: Call) -> Params | Waiting:
        poll = self.queues.poll(
            call.queue(),
            max_messages=call.number("MaxNumberOfMessages") or 1,
            wait_seconds=call.number("WaitTimeSeconds"),
            visibility_timeout=call.number("VisibilityTimeout"),
        )
        system = call.strings("MessageSystemAttributeNames") or call.strings("AttributeNames")
        render = partial(_received, call.app, call.strings("MessageAttributeNames"), system)
        if poll.wait > 0:
            return Waiting(call.app, poll, render)
        return render(self.queues.take(poll))

    def delete_message(self, call: Call) -> Params:
        self.queues.delete(call.queue(), call.text("ReceiptHandle"))
        return {}

    def delete_message_batch(self, call: Call) -> Params:
        queue = call.queue()
        entries = batch_entries(call, "DeleteMessageBatchRequestEntry")
        handles = [str(e.get("ReceiptHandle") or "") for e in entries]
        try:
            for handle in handles:
                decode_receipt(handle)
        except QueueError:  # some entry is bad: settle one by one to report it
            return _each(entries, lambda e: self._delete_entry(queue, e))
        self.queues.delete_many(queue, handles)  # one statement for the whole batch
        return {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}

    def change_message_visibility(self, call: Call) -> Params:
        timeout = call.number("VisibilityTimeout")
        if timeout is None:
            raise MissingParameter("The request must contain the parameter VisibilityTimeout.")
        self.queues.change_visibility(call.queue(), call.text("ReceiptHandle"), timeout)
        return {}

    def change_message_visibility_batch(self, call: Call) -> Params:
        queue = call.queue()
        entries = batch_entries(call, "ChangeMessageVisibilityBatchRequestEntry")
        return _each(entries, lambda e: self._visibility_entry(queue, e))

    def _delete_entry(self, queue: str, entry: Params) -> Params:
        self.queues.delete(queue, _handle(entry))
        return {}

    def _visibility_entry(self, queue: str, entry: Params) -> Params:
        timeout = opt_int(entry.get("VisibilityTimeout"), "VisibilityTimeout") or 0
        self.queues.change_visibility(queue, _handle(entry), timeout)
        return {}


def _handle(entry: Params) -> str:
    handle = entry.get("ReceiptHandle")
    if not isinstance(handle, str) or not handle:
        raise MissingParameter("The request must contain the parameter ReceiptHandle.")
    return handle


def _each(entries: list[Params], one: Callable[[Params], Params]) -> Params:
    ok, failed = [], []
    for entry in entries:
        try:
            ok.append({"Id": entry["Id"], **one(entry)})
        except QueueDoesNotExist:
            raise
        except QueueError as exc:
            failed.append(failure(entry, exc))
    return {"Successful": ok, "Failed": failed}


def _received(
    app: str, attribute_names: list[str], system_names: list[str], got: list[ReceivedMessage]
) -> Params:
    out = [
        shapes.message_out(app, m, attribute_names=attribute_names, system_names=system_names)
        for m in got
    ]
    return {"Messages": out} if out else {}


def _sent(result: Any) -> Params:
    out = {"MessageId": result.message_id, "MD5OfMessageBody": result.md5_of_body}
    if result.md5_of_attributes:
        out["MD5OfMessageAttributes"] = result.md5_of_attributes
    if result.sequence_number:
        out["SequenceNumber"] = result.sequence_number
    return out
