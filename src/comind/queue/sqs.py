"""Backend ``sqs``: the queue interface over any SQS API with boto3 (this module is the
only one of the platform that builds an SQS client and calls it).

AWS SQS, ElasticMQ and this platform's own endpoint all work; the client (endpoint,
credentials, region) is built by the caller and passed in. Messages are validated
locally first, so a batch with one bad message is refused whole, as on the
``postgres`` backend, instead of half-sent. SQS errors come back as the same
:mod:`comind.queue.errors` classes. SQS keeps no "last error" per message: ``fail``
only sets the retry delay.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from comind.queue import errors, model
from comind.queue.config import QueueSettings
from comind.queue.types import QueueStats, ReceivedMessage, SendResult

_BY_CODE: dict[str, type[errors.QueueError]] = {}
for _cls in errors.QueueError.__subclasses__():
    _BY_CODE[_cls.code] = _cls
    _BY_CODE[_cls.__name__] = _cls


def translate(exc: ClientError) -> errors.QueueError:
    """The queue-layer error for a botocore ClientError."""
    err = exc.response.get("Error", {})
    code = str(err.get("Code", ""))
    cls = _BY_CODE.get(code) or _BY_CODE.get(code.rpartition(".")[2]) or errors.QueueError
    return cls(str(err.get("Message") or code))


# bounded waits: a service that stops answering fails a call in seconds, not minutes
# (a long poll waits at most 20 s, so a read may take that long)
TIMEOUTS = Config(
    connect_timeout=5, read_timeout=25, retries={"max_attempts": 3, "mode": "standard"}
)


def sqs_client(settings: QueueSettings) -> Any:
    """A boto3 SQS client for ``settings`` (endpoint, region, credentials; missing ones come
    from boto3's own chain)."""
    secret = settings.sqs_secret_access_key
    return boto3.client(
        "sqs",
        endpoint_url=settings.sqs_endpoint,
        region_name=settings.sqs_region or "us-east-1",
        aws_access_key_id=settings.sqs_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
        config=TIMEOUTS,
    )


class SqsQueues:
    """Message operations through an SQS client (``boto3.client("sqs", ...)``)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(**kwargs)
        except ClientError as exc:
            raise translate(exc) from None
        except BotoCoreError as exc:  # no answer (connection, timeout, credentials)
            raise errors.QueueError(str(exc)) from None

    def url(self, queue: str) -> str:
        with self._lock:
            cached = self._urls.get(queue)
        if cached:
            return cached
        found = str(self.call("get_queue_url", QueueName=queue)["QueueUrl"])
        with self._lock:
            self._urls[queue] = found
        return found

    def forget(self, queue: str) -> None:
        with self._lock:
            self._urls.pop(queue, None)

    def send(self, queue: str, messages: Sequence[model.OutgoingMessage]) -> list[SendResult]:
        """Send all of ``messages`` or none: one invalid message refuses the batch."""
        fifo = queue.endswith(".fifo")
        for msg in messages:
            model.check_message(msg, max_size=model.MAX_MESSAGE_SIZE, fifo=fifo)
        results = self.send_each(queue, messages)
        for result in results:
            if isinstance(result, errors.QueueError):
                raise result
        return [r for r in results if isinstance(r, SendResult)]

    def send_each(
        self, queue: str, messages: Sequence[model.OutgoingMessage]
    ) -> list[SendResult | errors.QueueError]:
        """One batch; per message what became of it (SQS may take some and refuse others).
        A call that fails as a whole raises."""
        entries = [{"Id": str(i), **_message_in(m)} for i, m in enumerate(messages)]
        result = self.call("send_message_batch", QueueUrl=self.url(queue), Entries=entries)
        out: list[SendResult | errors.QueueError] = [
            errors.QueueError("SQS did not say") for _ in messages
        ]
        for e in result.get("Successful", []):
            out[int(e["Id"])] = SendResult(e["MessageId"], e["MD5OfMessageBody"],
                                           e.get("MD5OfMessageAttributes"),
                                           e.get("SequenceNumber"))  # fmt: skip
        for e in result.get("Failed", []):
            cls = _BY_CODE.get(e.get("Code", ""), errors.QueueError)
            out[int(e["Id"])] = cls(str(e.get("Message") or e.get("Code")))
        return out

    def receive(
        self,
        queue: str,
        *,
        max_messages: int = 1,
        wait_seconds: int | None = None,
        visibility_timeout: int | None = None,
    ) -> list[ReceivedMessage]:
        kwargs: dict[str, Any] = {
            "QueueUrl": self.url(queue),
            "MaxNumberOfMessages": max_messages,
            "MessageAttributeNames": ["All"],
            "MessageSystemAttributeNames": ["All"],
        }
        if wait_seconds is not None:
            kwargs["WaitTimeSeconds"] = wait_seconds
        if visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = visibility_timeout
        return [_received(m) for m in self.call("receive_message", **kwargs).get("Messages", [])]

    def delete(self, queue: str, receipt_handle: str) -> None:
        self.call("delete_message", QueueUrl=self.url(queue), ReceiptHandle=receipt_handle)

    def change_visibility(self, queue: str, receipt_handle: str, timeout: int) -> None:
        self.call(
            "change_message_visibility",
            QueueUrl=self.url(queue),
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=timeout,
        )

    def fail(self, queue: str, receipt_handle: str, *, error: str, retry_in: int) -> None:
        self.change_visibility(queue, receipt_handle, retry_in)

    def stats(self, queue: str) -> QueueStats:
        attrs = self.call("get_queue_attributes", QueueUrl=self.url(queue), AttributeNames=["All"])[
            "Attributes"
        ]
        return QueueStats(
            visible=int(attrs.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            delayed=int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
            oldest_age_seconds=0.0,
        )


class SqsQueueAdmin:
    """Queue life cycle through an SQS client; names are plain SQS queue names."""

    def __init__(self, queues: SqsQueues) -> None:
        self.queues = queues

    def create(
        self,
        name: str,
        attributes: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        attributes = dict(attributes or {})
        if attributes.get("RedrivePolicy"):
            attributes["RedrivePolicy"] = self._redrive(attributes["RedrivePolicy"])
        kwargs: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        if tags:
            kwargs["tags"] = tags
        self.queues.call("create_queue", **kwargs)
        return name

    def _redrive(self, policy: str) -> str:
        """Point the policy at the DLQ's real ARN (callers name the DLQ, the server owns ARNs)."""
        target, count = model.parse_redrive_policy(policy)
        arn = self.attributes(target)["QueueArn"]
        return model.redrive_policy(arn, count)

    def tags(self, name: str) -> dict[str, str]:
        result = self.queues.call("list_queue_tags", QueueUrl=self.queues.url(name))
        return dict(result.get("Tags", {}))

    def delete(self, name: str) -> None:
        self.queues.call("delete_queue", QueueUrl=self.queues.url(name))
        self.queues.forget(name)

    def names(self, prefix: str = "", limit: int = 1000) -> list[str]:
        urls = self.queues.call(
            "list_queues", QueueNamePrefix=prefix, MaxResults=min(limit, 1000)
        ).get("QueueUrls", [])
        return sorted(u.rstrip("/").rpartition("/")[2] for u in urls)

    def attributes(self, name: str) -> dict[str, str]:
        result = self.queues.call(
            "get_queue_attributes", QueueUrl=self.queues.url(name), AttributeNames=["All"]
        )
        return dict(result.get("Attributes", {}))

    def set_attributes(self, name: str, attributes: dict[str, str]) -> None:
        self.queues.call(
            "set_queue_attributes", QueueUrl=self.queues.url(name), Attributes=attributes
        )

    def purge(self, name: str) -> int:
        depth = self.queues.stats(name)
        self.queues.call("purge_queue", QueueUrl=self.queues.url(name))
        return depth.visible + depth.in_flight + depth.delayed


def _message_in(msg: model.OutgoingMessage) -> dict[str, Any]:
    entry: dict[str, Any] = {"MessageBody": msg.body}
    if msg.attributes:
        entry["MessageAttributes"] = {k: _attribute_in(a) for k, a in msg.attributes.items()}
    if msg.delay_seconds is not None:
        entry["DelaySeconds"] = msg.delay_seconds
    if msg.group_id:
        entry["MessageGroupId"] = msg.group_id
    if msg.dedup_id:
        entry["MessageDeduplicationId"] = msg.dedup_id
    return entry


def _attribute_in(attr: model.Attribute) -> dict[str, Any]:
    if attr.binary_value is not None:
        return {"DataType": attr.data_type, "BinaryValue": attr.binary_value}
    return {"DataType": attr.data_type, "StringValue": attr.string_value}


def _received(raw: dict[str, Any]) -> ReceivedMessage:
    system = raw.get("Attributes", {})
    attrs = {
        k: model.Attribute(
            v["DataType"], string_value=v.get("StringValue"), binary_value=v.get("BinaryValue")
        )
        for k, v in raw.get("MessageAttributes", {}).items()
    }
    return ReceivedMessage(
        message_id=raw["MessageId"],
        receipt_handle=raw["ReceiptHandle"],
        body=raw["Body"],
        md5_of_body=raw["MD5OfBody"],
        attributes=attrs,
        md5_of_attributes=raw.get("MD5OfMessageAttributes"),
        receive_count=int(system.get("ApproximateReceiveCount", 1)),
        sent_at=_time(system.get("SentTimestamp")),
        first_received_at=_time(system.get("ApproximateFirstReceiveTimestamp")),
        group_id=system.get("MessageGroupId"),
        dedup_id=system.get("MessageDeduplicationId"),
        dead_letter={"source_arn": system["DeadLetterQueueSourceArn"]}
        if "DeadLetterQueueSourceArn" in system
        else None,
    )


def _time(millis: str | None) -> datetime | None:
    return datetime.fromtimestamp(int(millis) / 1000, UTC) if millis else None
