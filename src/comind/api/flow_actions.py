"""Flow operations over the API (operator token, audited; dead letters for a viewer):
``POST /api/v1/flows/{name}/run`` (``{"partition": P}``), ``POST /api/v1/flows/{name}/backfill``
(``{"from": A, "to": B, "parallel": N}``), ``GET /api/v1/flows/{name}/dlq?limit=N`` (the
flow's declared PII masked for a viewer, raw for an operator),
and ``POST /api/v1/flows/{name}/replay`` (``{"limit": N}``).

Runs are answered when they are done; a batch flow's failed partition is a 200 whose
result says ``failed``, while an unknown flow is a 404 and a wrong body (or a backfill over
more than 1000 partitions) a 400.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field
from starlette.routing import Route

from comind.api.guard import Answer, Call, Guard
from comind.api.tokens import Tokens
from comind.flows.limits import MAX_PARALLEL

MAX_LETTERS = 1000
Result = TypeVar("Result")


class FlowActions(Protocol):
    def run(self, name: str, partition: str | None) -> list[dict[str, Any]]: ...
    def backfill(self, name: str, first: str, last: str, parallel: int) -> list[dict[str, Any]]: ...
    def dead_letters(self, name: str, limit: int, *, raw: bool) -> list[dict[str, Any]]: ...
    def replay(self, name: str, limit: int) -> dict[str, int]: ...


class RunBody(BaseModel):
    partition: str | None = Field(default=None, max_length=64)


class BackfillBody(BaseModel):
    first: str = Field(alias="from", max_length=64)
    last: str = Field(alias="to", max_length=64)
    parallel: int = Field(default=2, ge=1, le=MAX_PARALLEL)


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
    record: dict[str, Any] = Field(
        description="the record as it entered the failing step (for a viewer, the PII fields "
        "the flow declares masked, as in its quarantine; raw for an operator)"
    )
    pii: list[str] = Field(description="the fields shown masked (also in `error`)")
    at: str | None = Field(description="when it was dead-lettered (ISO 8601)")


class DeadLetterList(BaseModel):
    letters: list[DeadLetter] = Field(description="oldest first")


class ReplayReport(BaseModel):
    replayed: int
    written: int
    failed_again: int = Field(description="dead-lettered again")
    quarantined: int


class FlowActionsApi:
    def __init__(self, actions: FlowActions, tokens: Tokens) -> None:
        self.actions, self.guard = actions, Guard(tokens)

    def routes(self) -> list[Route]:
        post = self.guard.change

        return [
            post("/api/v1/flows/{name}/run", self.run, "flow-run"),
            post("/api/v1/flows/{name}/backfill", self.backfill, "flow-backfill"),
            self.guard.route("/api/v1/flows/{name}/dlq", self.dead_letters),
            post("/api/v1/flows/{name}/replay", self.replay, "flow-replay"),
        ]

    def run(self, call: Call) -> dict[str, Any]:
        partition = call.parsed(RunBody).partition
        return {"results": self.actions.run(call.params["name"], partition)}

    def backfill(self, call: Call) -> Answer:
        body = call.parsed(BackfillBody)
        done = self.actions.backfill(call.params["name"], body.first, body.last, body.parallel)
        detail = {"from": body.first, "to": body.last, "partitions": len(done)}
        return Answer({"results": done}, detail=detail)

    def dead_letters(self, call: Call) -> dict[str, Any]:
        limit = call.number("limit", 20, 1, MAX_LETTERS)
        raw = call.who.may("operator")  # a viewer gets the flow's PII masked, as in quarantine
        return {"letters": self.actions.dead_letters(call.params["name"], limit, raw=raw)}

    def replay(self, call: Call) -> dict[str, int]:
        return self.actions.replay(call.params["name"], call.parsed(ReplayBody).limit)
