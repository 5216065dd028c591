"""Flow operations over the API (operator token, audited; dead letters for a viewer):
``POST /api/v1/flows/{name}/run`` (``{"partition": P}``), ``POST /api/v1/flows/{name}/backfill``
(``{"from": A, "to": B, "parallel": N}``), ``GET /api/v1/flows/{name}/dlq?limit=N``,
``POST /api/v1/flows/{name}/replay`` (``{"limit": N}``) and ``GET
/api/v1/flows/{name}/token`` (admin: the flow's ingest token).

Runs are answered when they are done; a batch flow's failed partition is a 200 whose
result says ``failed``, while an unknown flow or a wrong body is a 404 or 400.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from comind.api.audited import audited
from comind.api.bodies import parsed
from comind.api.flows import ingest_token
from comind.api.tokens import Tokens
from comind.errors import UsageError

MAX_LETTERS = 1000


class FlowActions(Protocol):
    def run(self, name: str, partition: str | None) -> list[dict[str, Any]]: ...
    def backfill(self, name: str, first: str, last: str, parallel: int) -> list[dict[str, Any]]: ...
    def dead_letters(self, name: str, limit: int) -> list[dict[str, Any]]: ...
    def replay(self, name: str, limit: int) -> dict[str, int]: ...


class RunBody(BaseModel):
    partition: str | None = Field(default=None, max_length=64)


class BackfillBody(BaseModel):
    first: str = Field(alias="from", max_length=64)
    last: str = Field(alias="to", max_length=64)
    parallel: int = Field(default=2, ge=1, le=32)


class ReplayBody(BaseModel):
    limit: int = Field(default=1000, ge=1, le=1_000_000)


# --- answers (documented in the OpenAPI document)


class RunResult(BaseModel):
    partition: str = Field(description="the partition run ('' for an unpartitioned flow)")
    status: str = Field(description="succeeded | failed")
    rows_in: int
    rows_out: int
    seconds: float
    error: str | None


class RunResults(BaseModel):
    results: list[RunResult]


class DeadLetter(BaseModel):
    step: str
    error_type: str
    error: str
    attempts: int
    record: dict[str, Any] = Field(description="the record as it entered the failing step")
    at: str | None = Field(description="when it was dead-lettered (ISO 8601)")


class DeadLetterList(BaseModel):
    letters: list[DeadLetter] = Field(description="oldest first")


class ReplayReport(BaseModel):
    replayed: int
    written: int
    failed_again: int = Field(description="dead-lettered again")
    quarantined: int


class IngestToken(BaseModel):
    token: str = Field(description="for POST /ingest/{flow}")


Work = Callable[[FlowActions, str], Awaitable[Any]]


class FlowActionsApi:
    def __init__(self, actions: FlowActions, tokens: Tokens, *, key: bytes) -> None:
        self.actions, self.tokens, self.key = actions, tokens, key

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/flows/{name}/run", self.run, methods=["POST"]),
            Route("/api/v1/flows/{name}/backfill", self.backfill, methods=["POST"]),
            Route("/api/v1/flows/{name}/dlq", self.dead_letters),
            Route("/api/v1/flows/{name}/replay", self.replay, methods=["POST"]),
            Route("/api/v1/flows/{name}/token", self.token),
        ]

    async def run(self, request: Request) -> Response:
        async def work(actions: FlowActions, name: str) -> Any:
            body = await parsed(request, RunBody)
            return {"results": await run_in_threadpool(actions.run, name, body.partition)}

        return await self._act(request, "flow-run", work)

    async def backfill(self, request: Request) -> Response:
        async def work(actions: FlowActions, name: str) -> Any:
            body = await parsed(request, BackfillBody)
            done = await run_in_threadpool(
                actions.backfill, name, body.first, body.last, body.parallel
            )
            return {"results": done}

        return await self._act(request, "flow-backfill", work)

    async def replay(self, request: Request) -> Response:
        async def work(actions: FlowActions, name: str) -> Any:
            body = await parsed(request, ReplayBody)
            return await run_in_threadpool(actions.replay, name, body.limit)

        return await self._act(request, "flow-replay", work)

    async def dead_letters(self, request: Request) -> Response:
        if denied := await self.tokens.refuse(request):
            return denied
        try:
            limit = max(1, min(int(request.query_params.get("limit", "20")), MAX_LETTERS))
            found = await run_in_threadpool(
                self.actions.dead_letters, request.path_params["name"], limit
            )
        except ValueError:
            return JSONResponse({"error": "limit must be a whole number"}, 400)
        except UsageError as exc:
            return JSONResponse({"error": str(exc)}, 404)
        return JSONResponse({"letters": found})

    async def token(self, request: Request) -> Response:
        """The flow's ingest token: a credential, so for an admin only (and audited)."""
        name = request.path_params["name"]
        who, denied = await self.tokens.check(request, "admin")
        await run_in_threadpool(self.tokens.audit, who, "read-ingest-token", name,
                                "refused" if denied else "done")  # fmt: skip
        return denied or JSONResponse({"token": ingest_token(self.key, name)})

    async def _act(self, request: Request, action: str, work: Work) -> Response:
        name = request.path_params["name"]
        return await audited(self.tokens, request, role="operator", action=action, target=name,
                             work=lambda: work(self.actions, name), missing=404)  # fmt: skip
