"""FIFO de-duplication of the ``postgres`` backend: which id a send is de-duplicated by, and
claiming that id for five minutes.

A FIFO send carries a MessageDeduplicationId or, on a queue with ContentBasedDeduplication,
the SHA-256 of its body. With ``DeduplicationScope=messageGroup`` (high-throughput FIFO) the
id counts within its message group only, so the claimed key is group and id together. A
second send with a claimed key within the window stores nothing and answers with the first
message's id, as SQS does.
"""

from __future__ import annotations

import uuid

from comind.queue import model
from comind.queue.errors import InvalidParameterValue
from comind.stores.postgres import Connection
from comind.stores.queries import named

_sql = named("comind.queue", "queue")


def dedup_id(msg: model.OutgoingMessage, *, fifo: bool, content_based: bool) -> str | None:
    """The id ``msg`` is de-duplicated by (None on a standard queue), or SQS's refusal."""
    if not fifo:
        return None
    if msg.dedup_id:
        return msg.dedup_id
    if content_based:
        return model.content_dedup_id(msg.body)
    raise InvalidParameterValue(
        "The queue should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly"
    )


def claim_key(msg: model.OutgoingMessage, dedup: str, extra: dict[str, str]) -> str:
    """The key claimed in the window: the id, or group and id under messageGroup scope."""
    if extra.get("DeduplicationScope") == "messageGroup":
        return f"{msg.group_id}\x1f{dedup}"
    return dedup


def claim(conn: Connection, queue_id: int, key: str, message_id: uuid.UUID) -> uuid.UUID:
    """The message that owns ``key`` now: ``message_id`` when the claim is new or expired."""
    args = {"queue_id": queue_id, "dedup_id": key, "message_id": message_id}
    row = conn.execute(_sql("claim_dedup"), args).fetchone()
    if row is None:
        row = conn.execute(_sql("dedup_owner"), args).fetchone()
    assert row is not None
    owner: uuid.UUID = row[0]
    return owner
