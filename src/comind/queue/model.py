"""The queue model: names, attributes and message limits exactly as SQS defines them.

Everything here is pure: both backends and the SQS endpoint validate through these
functions, so a bad request gets the same SQS error code whichever way it arrives.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from comind.queue.errors import (
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidMessageContents,
    InvalidParameterValue,
    MessageTooLong,
    MissingParameter,
)

MAX_BATCH = 10
MAX_ATTRIBUTES = 10
MAX_MESSAGE_SIZE = 1024 * 1024
MAX_WAIT_SECONDS = 20
MAX_VISIBILITY_TIMEOUT = 12 * 3600
MAX_DELAY = 900
DEDUP_WINDOW_SECONDS = 300
REGION = "us-east-1"
ACCOUNT = "000000000000"

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}\Z")
_ATTR_NAME = re.compile(r"^(?!aws\.|amazon\.)(?!.*\.\.)(?!\.)[A-Za-z0-9_.-]{1,256}(?<!\.)\Z", re.I)
# characters SQS accepts in a body (XML 1.0 chars)
_BAD_CHARS = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Limits:
    """Range of one numeric queue attribute."""

    low: int
    high: int
    default: int


QUEUE_ATTRIBUTES: dict[str, Limits] = {
    "VisibilityTimeout": Limits(0, MAX_VISIBILITY_TIMEOUT, 30),
    "DelaySeconds": Limits(0, MAX_DELAY, 0),
    "MessageRetentionPeriod": Limits(60, 14 * 86400, 4 * 86400),
    "MaximumMessageSize": Limits(1024, MAX_MESSAGE_SIZE, MAX_MESSAGE_SIZE),
    "ReceiveMessageWaitTimeSeconds": Limits(0, MAX_WAIT_SECONDS, 0),
}
BOOLEAN_ATTRIBUTES = {"FifoQueue", "ContentBasedDeduplication"}
# high-throughput FIFO: the values each may take (the first is the default)
FIFO_CHOICES = {
    "DeduplicationScope": ("queue", "messageGroup"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}
KMS_REUSE = Limits(60, 86400, 300)
NO_KMS = "Reason: this endpoint has no KMS, so messages cannot be encrypted with a KMS key."
SETTABLE = set(QUEUE_ATTRIBUTES) | {
    "RedrivePolicy",
    "ContentBasedDeduplication",
    "Policy",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
}


@dataclass(frozen=True)
class QueueConfig:
    """The settable attributes of a queue, validated."""

    visibility_timeout: int = 30
    delay_seconds: int = 0
    retention_seconds: int = 4 * 86400
    max_message_size: int = MAX_MESSAGE_SIZE
    receive_wait_seconds: int = 0
    fifo: bool = False
    content_based_dedup: bool = False
    dead_letter_target: str | None = None
    max_receive_count: int | None = None


@dataclass(frozen=True)
class Attribute:
    """One message attribute: ``data_type`` is String/Number/Binary, optionally ``.label``."""

    data_type: str
    string_value: str | None = None
    binary_value: bytes | None = None

    @property
    def base_type(self) -> str:
        return self.data_type.split(".", 1)[0]

    def size(self) -> int:
        value = self.binary_value or (self.string_value or "").encode()
        return len(self.data_type.encode()) + len(value)


@dataclass(frozen=True)
class OutgoingMessage:
    """A message about to be sent."""

    body: str
    attributes: dict[str, Attribute] = field(default_factory=dict)
    delay_seconds: int | None = None
    group_id: str | None = None
    dedup_id: str | None = None
    trace_header: str | None = None  # the AWSTraceHeader system attribute (X-Ray)


def queue_name_ok(name: str) -> bool:
    """An SQS queue name; platform names may carry an ``app/`` namespace in front."""
    name = name.rpartition("/")[2]
    base = name[:-5] if name.endswith(".fifo") else name
    return bool(_QUEUE_NAME.match(base)) and len(name) <= 80


QUEUE_NAME_RULE = (
    "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
)


def check_queue_name(name: str) -> None:
    if not queue_name_ok(name):
        raise InvalidParameterValue(QUEUE_NAME_RULE)


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def name_from_arn(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        raise InvalidParameterValue(f"Value {arn} for parameter deadLetterTargetArn is invalid.")
    return parts[5]


def parse_queue_attributes(name: str, raw: dict[str, str], *, creating: bool) -> dict[str, Any]:
    """Validated attribute values (python types), keyed by SQS attribute name."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in QUEUE_ATTRIBUTES:
            out[key] = _bounded_int(key, value, QUEUE_ATTRIBUTES[key])
        elif key in BOOLEAN_ATTRIBUTES:
            if key == "FifoQueue" and not creating:
                raise InvalidAttributeName(f"Unknown Attribute {key}.")
            out[key] = _boolean(key, value)
        elif key == "RedrivePolicy":
            out[key] = parse_redrive_policy(value) if value else None
        elif key in SETTABLE or key in FIFO_CHOICES:
            out[key] = _checked_extra(key, str(value))
        else:
            _refuse_kms(key, str(value))
            raise InvalidAttributeName(f"Unknown Attribute {key}.")
    fifo = name.endswith(".fifo")
    if creating and out.get("FifoQueue", False) != fifo:
        raise InvalidParameterValue(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
            "underscores, must end with .fifo suffix and be 1 to 80 in length"
            if fifo or out.get("FifoQueue")
            else "FifoQueue is not valid for a standard queue"
        )
    for key in ("ContentBasedDeduplication", *FIFO_CHOICES):
        if not fifo and key in out:
            raise InvalidAttributeName(f"Unknown Attribute {key}.")
    return out


def _checked_extra(key: str, value: str) -> str:
    """An attribute kept as text, checked: values the endpoint could not honour are refused."""
    if key in FIFO_CHOICES and value not in FIFO_CHOICES[key]:
        raise InvalidAttributeValue(f"Invalid value for the parameter {key}.")
    if key == "SqsManagedSseEnabled" and _boolean(key, value):
        raise InvalidAttributeValue(
            "Invalid value for the parameter SqsManagedSseEnabled. Reason: this endpoint does "
            "not encrypt queued messages at rest itself (use encrypted storage underneath)."
        )
    if key == "RedriveAllowPolicy" and value:
        _check_redrive_allow(value)
    return value.lower() if key == "SqsManagedSseEnabled" else value


def _check_redrive_allow(value: str) -> None:
    try:
        permission = json.loads(value)["redrivePermission"]
    except (ValueError, KeyError, TypeError):
        raise InvalidAttributeValue("Invalid value for the parameter RedriveAllowPolicy.") from None
    if permission != "allowAll":
        raise InvalidAttributeValue(
            "Invalid value for the parameter RedriveAllowPolicy. Reason: only "
            '"redrivePermission": "allowAll" is supported (each app reaches only its own queues).'
        )


def _refuse_kms(key: str, value: str) -> None:
    """KMS attributes: checked as SQS checks them, then refused (there is no KMS here)."""
    if key == "KmsDataKeyReusePeriodSeconds":
        _bounded_int(key, value, KMS_REUSE)
    if key in ("KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds"):
        raise InvalidAttributeValue(f"Invalid value for the parameter {key}. {NO_KMS}")


def check_fifo_throughput(attributes: dict[str, str]) -> None:
    """perMessageGroupId throughput only with de-duplication per message group, as SQS."""
    if (
        attributes.get("FifoThroughputLimit") == "perMessageGroupId"
        and attributes.get("DeduplicationScope") != "messageGroup"
    ):
        raise InvalidAttributeValue(
            "Invalid value for the parameter FifoThroughputLimit. Reason: perMessageGroupId "
            "is only allowed when DeduplicationScope is messageGroup."
        )


def redrive_policy(arn: str, max_receive_count: int | None) -> str:
    """A RedrivePolicy attribute value, as SQS writes it."""
    return json.dumps(
        {"deadLetterTargetArn": arn, "maxReceiveCount": max_receive_count}, separators=(",", ":")
    )


def parse_redrive_policy(text: str) -> tuple[str, int]:
    """``(dead-letter queue name, maxReceiveCount)`` from a RedrivePolicy JSON string."""
    try:
        doc = json.loads(text)
        arn, count = doc["deadLetterTargetArn"], int(doc["maxReceiveCount"])
    except (ValueError, KeyError, TypeError):
        raise InvalidParameterValue(
            "Value for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a "
            "valid JSON map with deadLetterTargetArn and maxReceiveCount."
        ) from None
    if not 1 <= count <= 1000:
        raise InvalidParameterValue(
            "Value for parameter RedrivePolicy is invalid. Reason: Invalid value for "
            "maxReceiveCount: must be an integer from 1 to 1000."
        )
    return name_from_arn(str(arn)), count


def _bounded_int(key: str, value: str, limits: Limits) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = limits.low - 1
    if not limits.low <= number <= limits.high:
        raise InvalidAttributeValue(f"Invalid value for the parameter {key}.")
    return number


def _boolean(key: str, value: str) -> bool:
    text = str(value).lower()
    if text not in ("true", "false"):
        raise InvalidAttributeValue(f"Invalid value for the parameter {key}.")
    return text == "true"


def check_message(msg: OutgoingMessage, *, max_size: int, fifo: bool) -> None:
    """Refuse a message SQS would refuse, with SQS's error code."""
    if not msg.body:
        raise InvalidParameterValue("The request must contain the parameter MessageBody.")
    if _BAD_CHARS.search(msg.body):
        raise InvalidMessageContents(
            "Invalid characters found. Valid unicode characters are "
            "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | "
            "#x10000 to #x10FFFF"
        )
    check_attributes(msg.attributes)
    size = len(msg.body.encode()) + sum(
        len(k.encode()) + a.size() for k, a in msg.attributes.items()
    )
    if size > max_size:
        raise MessageTooLong(
            f"One or more parameters are invalid. Reason: Message must be shorter than "
            f"{max_size} bytes."
        )
    if msg.delay_seconds is not None and not 0 <= msg.delay_seconds <= MAX_DELAY:
        raise InvalidParameterValue(
            "Value for parameter DelaySeconds is invalid. Reason: must "
            "be between 0 and 900 seconds."
        )
    _check_fifo_fields(msg, fifo=fifo)


def _check_fifo_fields(msg: OutgoingMessage, *, fifo: bool) -> None:
    if fifo:
        if not msg.group_id:
            raise MissingParameter("The request must contain the parameter MessageGroupId.")
        if msg.delay_seconds:
            raise InvalidParameterValue(
                "Value for parameter DelaySeconds is invalid. Reason: The "
                "request include parameter that is not valid for this "
                "queue type."
            )
    elif msg.dedup_id is not None:
        raise InvalidParameterValue(
            "The request include parameter MessageDeduplicationId that "
            "is not valid for this queue type"
        )
    for value in (msg.group_id, msg.dedup_id):
        if value is not None and not re.fullmatch(r"[!-~]{1,128}", value):
            raise InvalidParameterValue(
                "MessageGroupId and MessageDeduplicationId must be 1-128 printable ASCII characters"
            )


def check_attributes(attributes: dict[str, Attribute]) -> None:
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [10]."
        )
    for name, attr in attributes.items():
        if not _ATTR_NAME.match(name):
            raise InvalidParameterValue(f"Message attribute name '{name}' is invalid.")
        _check_attribute_value(name, attr)


def _check_attribute_value(name: str, attr: Attribute) -> None:
    base = attr.base_type
    if base not in ("String", "Number", "Binary"):
        raise InvalidParameterValue(
            f"The type of message (user) attribute '{name}' is invalid. You must use only the "
            "following supported type prefixes: Binary, Number, String."
        )
    if base == "Binary":
        if not attr.binary_value:
            raise InvalidParameterValue(
                f"Message (user) attribute '{name}' must contain a "
                "non-empty value of type 'Binary'."
            )
        return
    if not attr.string_value:
        raise InvalidParameterValue(
            f"Message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
        )
    if base == "Number" and not _sqs_number(attr.string_value):
        raise InvalidParameterValue(
            f"Can't cast the value of message (user) attribute '{name}' to a number."
        )
    if base == "String" and _BAD_CHARS.search(attr.string_value):
        raise InvalidParameterValue(
            f"Message (user) attribute '{name}' contains characters SQS does not allow."
        )


def _sqs_number(text: str) -> bool:
    """What SQS takes for a Number: finite, up to 38 significant digits, from -10^128 to
    10^126 (NaN, an infinity or a 200-digit integer would pass here and fail on SQS)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return False
    if not number.is_finite():
        return False
    digits = len(number.as_tuple().digits)  # as written: 10**40 is 41 digits to SQS
    return digits <= 38 and (number == 0 or Decimal("1e-128") <= abs(number) <= Decimal("1e126"))


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def md5_of_attributes(attributes: dict[str, Attribute]) -> str | None:
    """SQS's MD5OfMessageAttributes: length-prefixed name, type, transport byte, value."""
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        attr = attributes[name]
        for part in (name.encode(), attr.data_type.encode()):
            digest.update(struct.pack(">I", len(part)) + part)
        if attr.base_type == "Binary":
            value = attr.binary_value or b""
            digest.update(b"\x02" + struct.pack(">I", len(value)) + value)
        else:
            value = (attr.string_value or "").encode()
            digest.update(b"\x01" + struct.pack(">I", len(value)) + value)
    return digest.hexdigest()


def content_dedup_id(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()
