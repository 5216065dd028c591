"""The queue commands of the control API (what ``comind queue ...`` calls), beside the
dashboard's views in :mod:`comind.api.queues`:

- ``GET  /api/v1/queues/{name}/stats``: attributes, depth and dead-letter sources (viewer);
- ``GET  /api/v1/queues/{name}/messages?limit=N``: the oldest messages, peeked (viewer);
- ``POST /api/v1/queues/{name}/messages`` ``{"body": ..., "group": ...}``: send (operator);
- ``POST /api/v1/queues/{name}/purge``: delete every message (operator);
- ``POST /api/v1/queues/{name}/moves`` ``{"to": ..., "rate": ...}``: start moving the
  queue's messages (a DLQ's back to their sources by default) at a bounded rate (operator);
- ``GET  /api/v1/queues/{name}/moves``: the queue's move tasks, newest first (viewer);
- ``POST /api/v1/queues/{name}/redrive``: the dashboard's redrive of a queue's DLQ (operator).

Names are ``app/queue`` (a FIFO queue with or without ``.fifo``); a token limited to an app
reaches that app's queues only. Mutations are audited by the :class:`~comind.api.guard.Guard`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Answer, Call, Guard
from comind.api.queues import QueuesApi, app_of
from comind.queue.errors import QueueDoesNotExist, QueueError
from comind.queue.layer import MessageLayer
from comind.queue.model import Attribute, OutgoingMessage
from comind.queue.moves import MAX_RATE, MoveTask
from comind.queue.types import ReceivedMessage

MAX_PEEK = 1000
MAX_MESSAGE = 256 * 1024  # SQS's own limit on a message body
Q = "/api/v1/queues/{name:path}"


def _app(params: Mapping[str, str]) -> str:
    return app_of(params["name"])


class QueueAdminApi:
    def __init__(self, layer: MessageLayer, views: QueuesApi, guard: Guard) -> None:
        self.layer, self.views, self.guard = layer, views, guard
        # a message may be as large as SQS allows, the rest of the control API far less
        self.sending = Guard(guard.tokens, max_body=MAX_MESSAGE + 4096)

    def routes(self) -> list[Route]:
        g, op = self.guard.route, "operator"
        return [
            g(f"{Q}/stats", self.stats, app=_app),
            g(f"{Q}/messages", self.peek, app=_app),
            self.sending.route(
                f"{Q}/messages", self.send, method="POST", role=op, action="queue-send", app=_app
            ),
            g(f"{Q}/purge", self.purge, method="POST", role=op, action="queue-purge", app=_app),
            g(f"{Q}/moves", self.moves, app=_app),
            g(f"{Q}/moves", self.move, method="POST", role=op, action="queue-move", app=_app),
            g(f"{Q}/redrive", self.redrive, method="POST", role=op, action="redrive", app=_app),
        ]

    def stats(self, call: Call) -> dict[str, Any]:
        queue = self.resolve(call.params["name"])
        return {
            "queue": queue,
            "attributes": self.layer.admin.attributes(queue),
            "dead_letter_sources": self.layer.admin.dead_letter_sources(queue),
            "depth": asdict(self.layer.queues.stats(queue)),
        }

    def peek(self, call: Call) -> dict[str, Any]:
        queue = self.resolve(call.params["name"])
        limit = call.number("limit", 10, 1, MAX_PEEK)
        messages = self.layer.queues.peek(queue, limit=limit)
        return {"queue": queue, "messages": [message_doc(m) for m in messages]}

    def send(self, call: Call) -> Answer:
        queue = self.resolve(call.params["name"])
        body = call.text("body")
        if body is None:
            raise Problem('send {"body": "..."}: the message body is missing', 400)
        dedup = str(time.time_ns()) if queue.endswith(".fifo") else None
        message = OutgoingMessage(body=body, group_id=call.text("group"), dedup_id=dedup)
        try:
            [result] = self.layer.queues.send(queue, [message])
        except QueueError as exc:
            raise Problem(exc.message, 400 if exc.sender_fault else 409) from None
        return Answer({"queue": queue, **asdict(result)}, detail={"message_id": result.message_id})

    def purge(self, call: Call) -> Answer:
        queue = self.resolve(call.params["name"])
        purged = self.layer.admin.purge(queue)
        return Answer({"queue": queue, "purged": purged}, detail={"purged": purged})

    def move(self, call: Call) -> Answer:
        source = self.resolve(call.params["name"])
        to = call.text("to")
        dest = self.resolve(to) if to else None
        # the path's app was checked by the guard; where the messages go must be the
        # caller's too (a named queue, else every queue whose dead letters these are)
        for target in [dest] if dest else self.layer.admin.dead_letter_sources(source):
            if not call.who.may("operator", app_of(target)):
                raise Problem(f"forbidden: moving into {target} needs role operator for app "
                              f"{app_of(target)}", 403)  # fmt: skip
        rate = None if call.body.get("rate") is None else call.number("rate", 0, 1, MAX_RATE)
        try:
            handle = self.layer.moves.start(source, destination=dest, max_per_second=rate)
        except QueueError as exc:  # a move of this queue is still running
            raise Problem(exc.message, 409) from None
        task = _task(self.layer.moves.list(source, limit=1)[0])
        return Answer({"queue": source, **task}, 202, detail={"task": handle, "to": dest})

    def moves(self, call: Call) -> dict[str, Any]:
        source = self.resolve(call.params["name"])
        limit = call.number("limit", 10, 1, 100)
        tasks = self.layer.moves.list(source, limit=limit)
        return {"queue": source, "moves": [_task(t) for t in tasks]}

    def redrive(self, call: Call) -> Answer:
        doc = self.views.redrive(call.params["name"])
        return Answer(doc, 202, detail=doc)

    def resolve(self, name: str) -> str:
        """The queue ``name`` stands for (with or without ``.fifo``), or 404."""
        for candidate in (name, f"{name}.fifo"):
            try:
                self.layer.queues.cached(candidate)
                return candidate
            except QueueDoesNotExist:
                continue
        raise Problem(f"no queue '{name}' (see `comind queue ls`)", 404)


def message_doc(m: ReceivedMessage) -> dict[str, Any]:
    """A peeked message as the CLI shows it (``--json``)."""
    return {
        "message_id": m.message_id, "body": m.body, "receive_count": m.receive_count,
        "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        "attributes": {k: _attribute(v) for k, v in m.attributes.items()},
        "dead_letter": m.dead_letter,
    }  # fmt: skip


def _attribute(attr: Attribute) -> dict[str, Any]:
    """An attribute as JSON: a binary value in base64, as SQS itself answers it."""
    binary = base64.b64encode(attr.binary_value).decode() if attr.binary_value else None
    return {"data_type": attr.data_type, "string_value": attr.string_value,
            "binary_value": binary}  # fmt: skip


def _task(t: MoveTask) -> dict[str, Any]:
    doc = asdict(t)
    doc["task"] = doc.pop("handle")
    for key in ("started_at", "finished_at"):
        doc[key] = doc[key].isoformat() if doc[key] else None
    return doc
