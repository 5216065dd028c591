"""Deliveries of the ``postgres`` backend: the statement that leases them, the receipt
handles that name them, and the messages consumers get.

A receive is one statement (:func:`receive_sql`): it picks visible messages as a FIFO or a
standard queue does, leases them with ``FOR UPDATE SKIP LOCKED`` and gives each delivery a
fresh receipt token. A receipt handle encodes the row and that token, so a stale handle
(from an earlier delivery) matches no row: it can neither delete nor extend the current one.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Iterable
from functools import cache
from typing import Any

from comind.queue import metrics, model
from comind.queue.codec import attributes_from_json, trace_from_json
from comind.queue.errors import InvalidParameterValue, ReceiptHandleIsInvalid
from comind.queue.types import ReceivedMessage
from comind.stores.queries import named

_sql = named("comind.queue", "queue")
log = logging.getLogger("comind.queue")


def encode_receipt(row_id: int, receipt: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{row_id}:{receipt}".encode()).decode()


def decode_receipt(handle: str) -> tuple[int, uuid.UUID]:
    try:
        row_id, token = base64.urlsafe_b64decode(handle.encode()).decode().split(":")
        return int(row_id), uuid.UUID(token)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ReceiptHandleIsInvalid(
            f'The input receipt handle "{handle}" is not a valid receipt handle.'
        ) from None


@cache
def receive_sql(fifo: bool) -> str:
    """The one-statement receive, picking as a FIFO or a standard queue does."""
    pick = _sql("pick_fifo" if fifo else "pick_standard")
    return _sql("receive").replace("{pick}", pick)


def check_visibility(timeout: int) -> None:
    if not 0 <= timeout <= model.MAX_VISIBILITY_TIMEOUT:
        raise InvalidParameterValue(
            f"Value {timeout} for parameter VisibilityTimeout is invalid. "
            "Reason: Must be between 0 and 43200, if provided."
        )


def received(row: dict[str, Any]) -> ReceivedMessage:
    attributes = attributes_from_json(row["attributes"])
    return ReceivedMessage(
        message_id=str(row["message_id"]),
        receipt_handle=encode_receipt(row["id"], row["receipt"]) if row["receipt"] else "",
        body=row["body"],
        md5_of_body=model.md5_of_body(row["body"]),
        attributes=attributes,
        md5_of_attributes=model.md5_of_attributes(attributes),
        receive_count=row["receive_count"],
        sent_at=row["sent_at"],
        first_received_at=row["first_received_at"],
        group_id=row["group_id"],
        dedup_id=row["dedup_id"],
        dead_letter=row["dead_letter_info"],
        trace_header=trace_from_json(row["attributes"]),
        sequence_number=str(row["id"]) if row["group_id"] is not None else None,
    )


def delivered(queue: str, rows: Iterable[dict[str, Any]]) -> list[ReceivedMessage]:
    """The leased ``rows`` as messages. A row whose attributes do not decode (written past
    the SQS endpoint's checks) is left out alone, logged and counted: its receive count
    takes it to the dead-letter queue, and the others are delivered."""
    out = []
    for row in rows:
        if row["id"] is None:
            continue
        try:
            out.append(received(row))
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            metrics.UNDECODABLE.labels(queue).inc()
            log.warning("queue %s: message %s does not decode (%s); not delivered",
                        queue, row["message_id"], type(exc).__name__)  # fmt: skip
    return out
