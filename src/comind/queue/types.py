"""Results the queue interface returns, the same for every backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from comind.queue.model import Attribute


@dataclass(frozen=True)
class SendResult:
    message_id: str
    md5_of_body: str
    md5_of_attributes: str | None = None
    sequence_number: str | None = None


@dataclass(frozen=True)
class ReceivedMessage:
    """One delivery of a message; ``receipt_handle`` is valid for this delivery only."""

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: dict[str, Attribute] = field(default_factory=dict)
    md5_of_attributes: str | None = None
    receive_count: int = 1
    sent_at: datetime | None = None
    first_received_at: datetime | None = None
    group_id: str | None = None
    dedup_id: str | None = None
    dead_letter: dict[str, object] | None = None
    trace_header: str | None = None
    sequence_number: str | None = None  # FIFO queues: the order the queue keeps


@dataclass(frozen=True)
class BatchFailure:
    """An entry of a batch request that failed (the others succeeded)."""

    entry_id: str
    code: str
    message: str
    sender_fault: bool = True


@dataclass(frozen=True)
class QueueStats:
    visible: int
    in_flight: int
    delayed: int
    oldest_age_seconds: float
