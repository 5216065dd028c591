"""The shapes of the control API's bodies — what the CLI's commands call: the queue commands
(:mod:`comind.api.queue_admin`), tokens, sessions and the audit log (:mod:`comind.api.access`),
the logs (:mod:`comind.api.logs`) and an app's environment and key
(:mod:`comind.api.app_env`) — beside :mod:`comind.api.openapi_schemas`, which holds the
rest. Like those, they describe what the routes build as plain JSON, and
``tests/integration/test_openapi.py`` validates every read's answer against them.

Those routes parse their bodies field by field (``Call.text``, ``Call.number``); the
request models here exist for the document only, and say what those routes accept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from comind.api.openapi_schemas import Closed, DeadLetter

Role = Literal["viewer", "operator", "admin"]

# --- queues -------------------------------------------------------------------------------


class QueueDepth(Closed):
    visible: int
    in_flight: int
    delayed: int
    oldest_age_seconds: float


class QueueStats(Closed):
    queue: str = Field(description="app/queue, with .fifo for a FIFO queue")
    attributes: dict[str, str] = Field(description="as SQS's GetQueueAttributes (All) says")
    dead_letter_sources: list[str] = Field(description="the queues using this one as their DLQ")
    depth: QueueDepth


class MessageAttribute(Closed):
    data_type: str = Field(description="String, Number or Binary, optionally .label")
    string_value: str | None
    binary_value: str | None


class PeekedMessage(DeadLetter):
    attributes: dict[str, MessageAttribute]


class QueueMessages(Closed):
    queue: str
    messages: list[PeekedMessage] = Field(description="the oldest first; nothing is received")


class SendMessage(BaseModel):
    body: str = Field(min_length=1, description="the message body (at most 256 KiB)")
    group: str | None = Field(None, description="a FIFO queue's message group")


class MessageSent(Closed):
    queue: str
    message_id: str
    md5_of_body: str
    md5_of_attributes: str | None
    sequence_number: str | None = Field(description="FIFO queues only")


class Purged(Closed):
    queue: str
    purged: int = Field(description="messages deleted")


class StartMove(BaseModel):
    to: str | None = Field(None, description="app/queue (null: each message's source queue, "
                                             "for the dead letters of a DLQ)")  # fmt: skip
    rate: int | None = Field(None, ge=1, le=500, description="messages per second at most")


class MoveTask(Closed):
    task: str = Field(description="the move task's handle")
    source: str
    destination: str | None = Field(description="null: each message's source queue")
    max_per_second: int | None
    status: Literal["RUNNING", "COMPLETED", "CANCELLED"]
    moved: int
    to_move: int
    failure: str | None
    started_at: datetime
    finished_at: datetime | None


class MoveStarted(MoveTask):
    queue: str


class MoveList(Closed):
    queue: str
    moves: list[MoveTask] = Field(description="newest first")


# --- tokens, sessions and the audit log ---------------------------------------------------


class TokenRow(Closed):
    id: str
    role: Role
    app: str | None = Field(description="the app it is limited to (null: every app)")
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenList(Closed):
    tokens: list[TokenRow] = Field(description="never the tokens themselves")


class CreateToken(BaseModel):
    role: Role
    app: str | None = Field(None, description="limit the token to this app")
    expires: str | None = Field(None, description="a duration like 12h or 30d (null: never)")


class TokenCreated(Closed):
    token: str = Field(description="shown this once: only its hash is stored")
    id: str
    role: Role
    app: str | None


class TokenRevoked(Closed):
    id: str
    revoked: bool


class SessionsEnded(Closed):
    ended: bool


class AuditEntry(Closed):
    id: int
    at: datetime
    actor: str = Field(description="the token's id, or anonymous")
    action: str
    target: str
    outcome: Literal["accepted", "refused", "failed"]
    detail: dict[str, Any]


class AuditLog(Closed):
    entries: list[AuditEntry] = Field(description="newest first")


# --- logs and apps' environments ----------------------------------------------------------


class LogLine(Closed):
    ts: datetime
    source: str = Field(description="platform, or app:NAME")
    level: str = Field(description="as the line said: debug, info, warning, error, ...")
    message: str
    fields: dict[str, Any]


class Logs(Closed):
    lines: list[LogLine] = Field(description="oldest first")


class AppEnv(Closed):
    app: str
    env: dict[str, str] = Field(description="every variable the app is given, secrets included")


class KeyRotated(Closed):
    app: str
    access_key_id: str = Field(description="the new key's id (never its secret)")
