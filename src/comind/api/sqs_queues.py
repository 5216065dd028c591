"""The SQS queue actions: create, find, list, configure, purge, delete and tag queues.

Queue names and URLs are resolved inside the calling app's namespace only. Attribute
values are checked by :mod:`comind.queue.model`; the ARNs an app sees (its queue, its
dead-letter target) carry its own account id and are translated here.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from comind.api import sqs_shapes as shapes
from comind.api.sqs_call import Call, Params
from comind.api.sqs_permissions import check_policy
from comind.queue import model
from comind.queue.errors import (
    InvalidAttributeName,
    InvalidParameterValue,
    MissingParameter,
    QueueDoesNotExist,
)
from comind.queue.postgres_admin import PostgresQueueAdmin

MAX_TAGS = 50
READABLE = {
    "All", "Policy", "VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod",
    "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "CreatedTimestamp",
    "LastModifiedTimestamp", "QueueArn", "ApproximateNumberOfMessagesDelayed", "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds", "RedrivePolicy", "FifoQueue", "ContentBasedDeduplication",
    "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "DeduplicationScope", "FifoThroughputLimit",
    "RedriveAllowPolicy", "SqsManagedSseEnabled",
}  # fmt: skip


class QueueActions:
    """CreateQueue ... ListQueueTags over the queue admin of the ``postgres`` backend."""

    def __init__(self, admin: PostgresQueueAdmin) -> None:
        self.admin, self.queues = admin, admin.queues

    def create_queue(self, call: Call) -> Params:
        name = call.text("QueueName")
        if "/" in name:  # an app names its queue; the "app/" namespace is the platform's
            raise InvalidParameterValue(model.QUEUE_NAME_RULE)
        model.check_queue_name(name)
        attributes = _attributes_in(call.app, call.mapping("Attributes"))
        tags = call.mapping("tags") or call.mapping("Tags")
        _check_tags(name, tags)
        self.admin.create(shapes.internal(call.app, name), attributes, tags=tags)
        return {"QueueUrl": call.url(name)}

    def get_queue_url(self, call: Call) -> Params:
        name = shapes.internal(call.app, call.text("QueueName"))
        self.queues.queue(name)
        return {"QueueUrl": call.url(name)}

    def list_queues(self, call: Call) -> Params:
        """Up to 1000 queue URLs; with MaxResults, pages joined by NextToken."""
        prefix = shapes.internal(call.app, str(call.params.get("QueueNamePrefix") or ""))
        limit = call.number("MaxResults")
        if limit is not None and not 1 <= limit <= 1000:
            raise InvalidParameterValue(
                f"Value {limit} for parameter MaxResults is invalid. "
                "Reason: MaxResults must be an integer between 1 and 1000."
            )
        after = _after(call.params.get("NextToken"), prefix)
        names = self.admin.names(prefix, limit=(limit or 1000) + 1, after=after)
        out: Params = {"QueueUrls": [call.url(n) for n in names[: limit or 1000]]}
        if limit is not None and len(names) > limit:
            out["NextToken"] = base64.urlsafe_b64encode(names[limit - 1].encode()).decode()
        return out if out["QueueUrls"] else {}

    def delete_queue(self, call: Call) -> Params:
        self.admin.delete(call.queue())
        return {}

    def get_queue_attributes(self, call: Call) -> Params:
        names = call.strings("AttributeNames")
        for name in names:
            if name not in READABLE:
                raise InvalidAttributeName(f"Unknown Attribute {name}.")
        attrs = _attributes_out(call.app, self.admin.attributes(call.queue()))
        chosen = {k: v for k, v in attrs.items() if "All" in names or k in names}
        return {"Attributes": chosen} if chosen else {}

    def set_queue_attributes(self, call: Call) -> Params:
        attributes = call.mapping("Attributes")
        if not attributes:
            raise MissingParameter("The request must contain the parameter Attribute.Name.")
        self.admin.set_attributes(call.queue(), _attributes_in(call.app, attributes))
        return {}

    def purge_queue(self, call: Call) -> Params:
        self.admin.purge(call.queue())
        return {}

    def list_dead_letter_source_queues(self, call: Call) -> Params:
        return {"queueUrls": [call.url(n) for n in self.admin.dead_letter_sources(call.queue())]}

    def tag_queue(self, call: Call) -> Params:
        queue, tags = call.queue(), call.mapping("Tags")
        if not tags:
            raise MissingParameter("The request must contain the parameter Tags.")
        _check_tags(shapes.external(queue), {**self.admin.tags(queue), **tags})
        self.admin.set_tags(queue, add={str(k): str(v) for k, v in tags.items()})
        return {}

    def untag_queue(self, call: Call) -> Params:
        queue, keys = call.queue(), call.strings("TagKeys")
        if not keys or not all(1 <= len(k) <= 128 for k in keys):
            raise InvalidParameterValue("Tag keys must be between 1 and 128 characters in length.")
        self.admin.set_tags(queue, remove=keys)
        return {}

    def list_queue_tags(self, call: Call) -> Params:
        tags = self.admin.tags(call.queue())
        return {"Tags": tags} if tags else {}


def _check_tags(queue: str, tags: dict[str, Any]) -> None:
    if len(tags) > MAX_TAGS:
        raise InvalidParameterValue(f"Too many tags added for queue {queue}.")
    for key, value in tags.items():
        if not 1 <= len(str(key)) <= 128:
            raise InvalidParameterValue("Tag keys must be between 1 and 128 characters in length.")
        if not isinstance(value, str) or len(value) > 256:
            raise InvalidParameterValue(
                "Tag values must be strings of at most 256 characters in length."
            )


def _after(token: Any, prefix: str) -> str | None:
    """The last name of the previous page, from a NextToken this endpoint gave out."""
    if token is None:
        return None
    try:
        name = base64.urlsafe_b64decode(str(token).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        name = ""
    if not name.startswith(prefix):
        raise InvalidParameterValue("Invalid NextToken value.")
    return name


def _attributes_in(app: str, attrs: dict[str, Any]) -> dict[str, str]:
    out = {str(k): str(v) for k, v in attrs.items()}
    if out.get("RedrivePolicy"):
        out["RedrivePolicy"] = _redrive_in(app, out["RedrivePolicy"])
    check_policy(app, out.get("Policy", ""))
    return out


def _attributes_out(app: str, attrs: dict[str, str]) -> dict[str, str]:
    out = dict(attrs)
    out["QueueArn"] = shapes.arn_for(app, out["QueueArn"].rpartition(":")[2])
    out.setdefault("SqsManagedSseEnabled", "false")
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
