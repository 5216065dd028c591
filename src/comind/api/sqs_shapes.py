"""SQS request and response shapes (JSON protocol) <-> the queue model.

Queue URLs are ``{endpoint}/{account}/{name}``; each app has its own account id, and a
queue ``name`` of app ``orders`` is the queue layer's ``orders/name``. So an app
addresses only its own queues, by the names it declared.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from typing import Any

from comind.queue import model
from comind.queue.errors import InvalidParameterValue, MissingParameter, QueueDoesNotExist
from comind.queue.types import ReceivedMessage

SYSTEM_ATTRIBUTES = (
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "MessageGroupId",
    "MessageDeduplicationId",
    "SequenceNumber",
    "DeadLetterQueueSourceArn",
    "AWSTraceHeader",
)
_URL = re.compile(r"^https?://[^/]+/(?P<account>\d{12})/(?P<name>[^/?#]+)/?\Z")


def account_of(app: str) -> str:
    """A stable 12-digit account id for ``app``."""
    return str(int(hashlib.sha256(app.encode()).hexdigest(), 16) % 10**12).zfill(12)


def internal(app: str, name: str) -> str:
    return f"{app}/{name}"


def external(name: str) -> str:
    return name.rpartition("/")[2]


def queue_from_url(app: str, url: Any) -> str:
    """The internal queue name a QueueUrl addresses (only the caller's own account)."""
    if not isinstance(url, str) or not url:
        raise MissingParameter("The request must contain the parameter QueueUrl.")
    match = _URL.match(url)
    if not match or match["account"] != account_of(app):
        raise QueueDoesNotExist("The specified queue does not exist.")
    return internal(app, match["name"])


def queue_from_arn(app: str, arn: Any, parameter: str) -> str:
    """The internal queue name an ARN of the caller's own account names."""
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) != 6 or parts[2] != "sqs":
        raise InvalidParameterValue(f"Value {arn} for parameter {parameter} is invalid.")
    if parts[4] != account_of(app):
        raise QueueDoesNotExist("The specified queue does not exist.")
    return internal(app, parts[5])


def queue_url(endpoint: str, app: str, name: str) -> str:
    return f"{endpoint}/{account_of(app)}/{external(name)}"


def arn_for(app: str, name: str) -> str:
    return f"arn:aws:sqs:{model.REGION}:{account_of(app)}:{external(name)}"


def attribute_in(name: str, raw: Any) -> model.Attribute:
    if not isinstance(raw, dict) or "DataType" not in raw:
        raise InvalidParameterValue(f"The message attribute '{name}' must contain a DataType.")
    binary = raw.get("BinaryValue")
    if binary is not None:
        try:
            value = base64.b64decode(binary, validate=True)
        except ValueError:
            raise InvalidParameterValue(
                f"The message attribute '{name}' has an invalid BinaryValue."
            ) from None
        return model.Attribute(str(raw["DataType"]), binary_value=value)
    return model.Attribute(str(raw["DataType"]), string_value=raw.get("StringValue"))


def attribute_out(attr: model.Attribute) -> dict[str, str]:
    if attr.binary_value is not None:
        return {
            "DataType": attr.data_type,
            "BinaryValue": base64.b64encode(attr.binary_value).decode(),
        }
    return {"DataType": attr.data_type, "StringValue": attr.string_value or ""}


def outgoing(params: dict[str, Any]) -> model.OutgoingMessage:
    body = params.get("MessageBody")
    if not isinstance(body, str):
        raise MissingParameter("The request must contain the parameter MessageBody.")
    raw_attrs = params.get("MessageAttributes") or {}
    if not isinstance(raw_attrs, dict):
        raise InvalidParameterValue("MessageAttributes must be a map.")
    delay = params.get("DelaySeconds")
    return model.OutgoingMessage(
        body=body,
        attributes={k: attribute_in(k, v) for k, v in raw_attrs.items()},
        delay_seconds=int(delay) if delay is not None else None,
        group_id=params.get("MessageGroupId"),
        dedup_id=params.get("MessageDeduplicationId"),
        trace_header=_trace_header(params.get("MessageSystemAttributes") or {}),
    )


def _trace_header(system: Any) -> str | None:
    """The AWSTraceHeader system attribute, the only one a sender may set."""
    if not isinstance(system, dict):
        raise InvalidParameterValue("MessageSystemAttributes must be a map.")
    for name in system:
        if name != "AWSTraceHeader":
            raise InvalidParameterValue(f"Message system attribute name '{name}' is invalid.")
    if not system:
        return None
    raw = system["AWSTraceHeader"]
    if not isinstance(raw, dict) or raw.get("DataType") != "String" or not raw.get("StringValue"):
        raise InvalidParameterValue(
            "Message system attribute 'AWSTraceHeader' must be a non-empty value of type 'String'."
        )
    return str(raw["StringValue"])


def message_out(
    app: str, msg: ReceivedMessage, *, attribute_names: list[str], system_names: list[str]
) -> dict[str, Any]:
    """One received message as SQS returns it, with only the attributes asked for."""
    chosen = {k: v for k, v in msg.attributes.items() if _wanted(k, attribute_names)}
    out: dict[str, Any] = {
        "MessageId": msg.message_id,
        "ReceiptHandle": msg.receipt_handle,
        "MD5OfBody": msg.md5_of_body,
        "Body": msg.body,
    }
    if chosen:
        out["MessageAttributes"] = {k: attribute_out(v) for k, v in chosen.items()}
        out["MD5OfMessageAttributes"] = model.md5_of_attributes(chosen)
    system = _system_attributes(app, msg)
    picked = {k: v for k, v in system.items() if "All" in system_names or k in system_names}
    if picked:
        out["Attributes"] = picked
    return out


def _wanted(name: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if pattern in ("All", ".*") or pattern == name:
            return True
        if pattern.endswith(".*") and name.startswith(pattern[:-1]):
            return True
    return False


def _system_attributes(app: str, msg: ReceivedMessage) -> dict[str, str]:
    out = {"SenderId": account_of(app), "ApproximateReceiveCount": str(msg.receive_count)}
    if msg.sent_at:
        out["SentTimestamp"] = _millis(msg.sent_at)
    if msg.first_received_at:
        out["ApproximateFirstReceiveTimestamp"] = _millis(msg.first_received_at)
    if msg.group_id:
        out["MessageGroupId"] = msg.group_id
    if msg.dedup_id:
        out["MessageDeduplicationId"] = msg.dedup_id
    if msg.sequence_number:
        out["SequenceNumber"] = msg.sequence_number
    if msg.trace_header:
        out["AWSTraceHeader"] = msg.trace_header
    source = (msg.dead_letter or {}).get("source_queue")
    if isinstance(source, str):
        out["DeadLetterQueueSourceArn"] = arn_for(app, source)
    return out


def _millis(when: datetime) -> str:
    return str(int(when.timestamp() * 1000))
