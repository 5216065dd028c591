"""The queues API: ``GET /api/v1/queues`` (every queue's depth and how many dead letters
wait in its DLQ), ``GET /api/v1/queues/{name}/dlq`` (the queue's dead letters, peeked:
nothing is received, leased or counted); the documents behind the dashboard's queue pages,
and its redrive (a move task sends the dead letters back to the queues they came from; the
platform's housekeeping advances it every 0.2 s). The commands — ``POST .../redrive``
among them — are in :mod:`comind.api.queue_admin`.

Names are the platform's ``app/queue`` (a FIFO queue with or without ``.fifo``). A token
limited to an app sees and acts on that app's queues only.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.tokens import Tokens
from comind.queue.errors import InvalidParameterValue, QueueDoesNotExist
from comind.queue.layer import MessageLayer
from comind.queue.moves import MoveTask
from comind.queue.types import QueueStats, ReceivedMessage

MAX_PEEK = 100


def app_of(queue: str) -> str:
    """The app owning ``queue`` (``_flows`` for the flows' own queues)."""
    return queue.partition("/")[0]


class QueuesApi:
    def __init__(self, layer: MessageLayer, tokens: Tokens) -> None:
        self.layer, self.tokens = layer, tokens

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/queues", self.list_queues),
            Route("/api/v1/queues/{name:path}/dlq", self.peek_dead_letters),
        ]

    async def list_queues(self, request: Request) -> Response:
        who, denied = await self.tokens.check(request, filtered=True)
        if denied:
            return denied
        app = who.app if who else None
        return JSONResponse({"queues": await run_in_threadpool(self.overview, app)})

    async def peek_dead_letters(self, request: Request) -> Response:
        name = request.path_params["name"]
        _, denied = await self.tokens.check(request, app=app_of(name))
        if denied:
            return denied
        try:
            limit = max(1, min(int(request.query_params.get("limit", "10")), MAX_PEEK))
            return JSONResponse(await run_in_threadpool(self.dead_letters, name, limit))
        except ValueError:
            return JSONResponse({"error": "limit must be a whole number"}, 400)
        except Problem as exc:
            return JSONResponse({"error": str(exc)}, exc.status)

    # -- documents (blocking; the dashboard shows the same)

    def overview(self, app: str | None = None) -> list[dict[str, Any]]:
        """Every queue (of ``app``) with its depth, its DLQ and the dead letters there."""
        depths = self.layer.admin.depths()
        rows = []
        for name, stats in depths.items():
            if app is not None and app_of(name) != app:
                continue
            try:
                dlq = self.layer.queues.cached(name).dead_letter_target
            except QueueDoesNotExist:
                continue  # deleted since the depths were read
            row = {"queue": name, "app": app_of(name), **asdict(stats), "dead_letter_queue": dlq,
                   "dead_letters": None, "redrive": None}  # fmt: skip
            if dlq is not None and dlq in depths:
                row.update(dead_letters=_total(depths[dlq]), redrive=self._running(dlq))
            rows.append(row)
        return rows

    def dead_letters(self, name: str, limit: int = 10) -> dict[str, Any]:
        """The oldest dead letters of ``name``'s DLQ, left where they are."""
        queue, dlq = self._with_dlq(name)
        messages = self.layer.queues.peek(dlq, limit=limit)
        return {"queue": queue, "dead_letter_queue": dlq, "messages": [_out(m) for m in messages]}

    def redrive(self, name: str) -> dict[str, Any]:
        """Start moving ``name``'s dead letters back to the queues they came from."""
        queue, dlq = self._with_dlq(name)
        try:
            handle = self.layer.moves.start(dlq)
        except InvalidParameterValue as exc:  # a redrive of this DLQ is still running
            raise Problem(exc.message, 409) from None
        task = self.layer.moves.list(dlq, limit=1)[0]
        return {"queue": queue, "dead_letter_queue": dlq, "task": handle, "to_move": task.to_move}

    def _with_dlq(self, name: str) -> tuple[str, str]:
        for candidate in (name, f"{name}.fifo"):
            try:
                dlq = self.layer.queues.cached(candidate).dead_letter_target
            except QueueDoesNotExist:
                continue
            if dlq is None:
                raise Problem(f"queue {candidate} has no dead-letter queue", 409)
            return candidate, dlq
        raise Problem(f"no queue {name}", 404)

    def _running(self, dlq: str) -> dict[str, int] | None:
        tasks: list[MoveTask] = self.layer.moves.list(dlq, limit=1)
        if not tasks or tasks[0].status != "RUNNING":
            return None
        return {"moved": tasks[0].moved, "to_move": tasks[0].to_move}


def _total(stats: QueueStats) -> int:
    return stats.visible + stats.in_flight + stats.delayed


def _out(m: ReceivedMessage) -> dict[str, Any]:
    return {"message_id": m.message_id, "body": m.body, "receive_count": m.receive_count,
            "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            "dead_letter": m.dead_letter}  # fmt: skip
