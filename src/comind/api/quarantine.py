"""A flow's quarantine over the API: ``GET /api/v1/flows/{name}/quarantine?limit=N`` (viewer:
the declared PII fields masked; operator or admin: raw), ``POST .../quarantine/discard``
and ``POST .../quarantine/replay`` (operator, audited with the count and the ids).

Flows are declared for the whole platform, so, as for the rest of the flows API, tokens
limited to one app are refused. Bodies are bounded: at most ``MAX_IDS`` ids and
``MAX_EDITS`` edited fields.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field, field_validator, model_validator
from starlette.routing import Route

from comind.api.guard import Answer, Call, Guard
from comind.api.openapi_schemas import Quarantined
from comind.api.tokens import Tokens
from comind.flows.quarantine import Selection
from comind.spec.scalars import duration_seconds

MAX_IDS, MAX_EDITS, MAX_LIST = 1000, 20, 1000


class QuarantineActions(Protocol):
    def records(self, name: str, limit: int, *, raw: bool) -> list[dict[str, Any]]: ...
    def discard(self, name: str, which: Selection) -> list[int]: ...
    def replay(self, name: str, which: Selection, edits: dict[str, Any]) -> dict[str, Any]: ...


class _Chosen(BaseModel):
    ids: list[int] = Field(default=[], max_length=MAX_IDS, description="records by id")
    all: bool = Field(default=False, description="every record of the flow")


class DiscardBody(_Chosen):
    older_than: str | None = Field(
        default=None, max_length=32, description="records older than this duration (e.g. 3d)"
    )

    @field_validator("older_than")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            duration_seconds(value)
        return value

    @model_validator(mode="after")
    def _one(self) -> DiscardBody:
        if [bool(self.ids), self.all, self.older_than is not None].count(True) != 1:
            raise ValueError("name exactly one of ids, all, older_than")
        return self


class QuarantineReplayBody(_Chosen):
    set: dict[str, Any] = Field(default={}, max_length=MAX_EDITS,
                                description="fields to set on every replayed record")  # fmt: skip

    @model_validator(mode="after")
    def _one(self) -> QuarantineReplayBody:
        if bool(self.ids) == self.all:
            raise ValueError("name either ids or all")
        return self


class QuarantineList(BaseModel):
    flow: str
    records: list[Quarantined] = Field(description="newest first")


class DiscardReport(BaseModel):
    flow: str
    discarded: int
    ids: list[int]


class QuarantineReplayReport(BaseModel):
    flow: str
    replayed: int
    written: int
    failed: int = Field(description="dead-lettered")
    quarantined: int = Field(description="refused again (quarantined under new ids)")
    ids: list[int] = Field(description="the records taken out of quarantine")


class QuarantineApi:
    def __init__(self, service: QuarantineActions, tokens: Tokens) -> None:
        self.service, self.guard = service, Guard(tokens)

    def routes(self) -> list[Route]:
        base = "/api/v1/flows/{name}/quarantine"
        return [
            self.guard.route(base, self.records),
            self.guard.change(f"{base}/discard", self.discard, "flow-quarantine-discard"),
            self.guard.change(f"{base}/replay", self.replay, "flow-quarantine-replay"),
        ]

    def records(self, call: Call) -> dict[str, Any]:
        limit = call.number("limit", 20, 1, MAX_LIST)
        name, raw = call.params["name"], call.who.may("operator")
        return {"flow": name, "records": self.service.records(name, limit, raw=raw)}

    def discard(self, call: Call) -> Answer:
        body = call.parsed(DiscardBody)
        older = duration_seconds(body.older_than) if body.older_than else None
        gone = self.service.discard(call.params["name"], Selection(body.ids, body.all, older))
        detail = {"count": len(gone), "ids": id_ranges(gone), "all": body.all,
                  "older_than": body.older_than}  # fmt: skip
        return Answer({"flow": call.params["name"], "discarded": len(gone), "ids": gone},
                      detail=detail)  # fmt: skip

    def replay(self, call: Call) -> Answer:
        body = call.parsed(QuarantineReplayBody)
        done = self.service.replay(call.params["name"], Selection(body.ids, body.all), body.set)
        # the edited fields' names only: their values may be PII
        detail = {"count": len(done["ids"]), "ids": id_ranges(done["ids"]),
                  "set": sorted(body.set)}  # fmt: skip
        return Answer({"flow": call.params["name"], **done}, detail=detail)


def id_ranges(ids: list[int]) -> list[str]:
    """``[1, 2, 3, 7]`` → ``["1-3", "7"]``: every id of a large discard fits an audit entry."""
    runs: list[list[int]] = []
    for i in sorted(ids):
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return [f"{a}-{b}" if a != b else str(a) for a, b in runs]
