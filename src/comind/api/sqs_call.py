"""One SQS request as the actions read it: the calling app, its parameters, checked.

Parameters arrive in the JSON protocol's shapes (the query protocol is converted first,
see :mod:`comind.api.sqs_query`). A missing parameter, a wrong type or a malformed batch is
refused here, with SQS's code, before any action touches a queue.
"""

from __future__ import annotations

import re
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
    QueueError,
    TooManyEntriesInBatchRequest,
)

Params = dict[str, Any]
_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}\Z")


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

    def number(self, key: str) -> int | None:
        return opt_int(self.params.get(key), key)

    def strings(self, key: str) -> list[str]:
        value = self.params.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidParameterValue(f"Value for parameter {key} must be a list of strings.")
        return value

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.params.get(key) or {}
        if not isinstance(value, dict):
            raise InvalidParameterValue(f"Value for parameter {key} must be a map.")
        return value


def opt_int(value: Any, key: str = "") -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Value {value} for parameter {key} is invalid. Reason: must be an integer."
        ) from None


def batch_entries(call: Call, entry: str) -> list[Params]:
    """The entries of a batch request, refused whole as SQS does when the batch is malformed
    (``entry`` is the shape's name, e.g. ``SendMessageBatchRequestEntry``)."""
    entries = call.params.get("Entries")
    if not entries:
        raise EmptyBatchRequest(f"There should be at least one {entry} in the request.")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidParameterValue("Value for parameter Entries must be a list of entries.")
    if len(entries) > model.MAX_BATCH:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are 10. You have sent {len(entries)}."
        )
    ids = [e.get("Id") for e in entries]
    for entry_id in ids:
        if not isinstance(entry_id, str) or not _BATCH_ID.match(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long."
            )
    repeated = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
    if repeated is not None:
        raise BatchEntryIdsNotDistinct(f"Id {repeated} repeated.")
    return list(entries)


def failure(entry: Params, exc: QueueError) -> Params:
    return {"Id": entry["Id"], "SenderFault": exc.sender_fault, "Code": exc.code,
            "Message": exc.message}  # fmt: skip
