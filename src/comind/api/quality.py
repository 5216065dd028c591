"""The quality API: ``GET /api/v1/quality`` (every dataset with rules: its score and
failing rules), ``GET /api/v1/quality/{dataset}`` (its rules, what blocks, and its check
history per rule and partition; ``?partition=P``) for a viewer, and ``POST
/api/v1/quality/{dataset}/run`` (``{"partition": P}``; operator, audited) which checks it
now and answers the results. Results name rules and row keys, never other values."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field
from starlette.routing import Route

from comind.api.guard import Call, Guard


class Quality(Protocol):
    def overview(self) -> list[dict[str, Any]]: ...
    def detail(self, dataset: str, partition: str | None) -> dict[str, Any]: ...
    def run(self, dataset: str, partition: str | None) -> list[dict[str, Any]]: ...


class RunBody(BaseModel):
    partition: str | None = Field(default=None, max_length=64)


# --- answers (documented in the OpenAPI document)


class Result(BaseModel):
    rule: str = Field(description="the rule as the spec states it, e.g. range total [0, 100000]")
    severity: str = Field(description="error | warn")
    passed: bool
    failing: int = Field(description="rows breaking the rule (1 for a stale freshness)")
    rows_checked: int
    sample: list[Any] = Field(description="key columns of up to 20 failing rows")
    error: str | None = Field(description="why the check could not run (it then failed)")


class StoredResult(Result):
    dataset: str
    partition: str = Field(description="'' for the whole table")
    run_id: str
    checked_at: str | None


class DatasetScore(BaseModel):
    dataset: str
    rules: int
    checks: int = Field(description="rules x partitions last checked")
    passed: int
    checks_ratio: float | None = Field(description="passed / checks (null: never checked)")
    rows_ratio: float | None = Field(description="1 - failing rows / rows checked")
    failing: list[StoredResult]


class QualityList(BaseModel):
    datasets: list[DatasetScore]


class QualityDetail(BaseModel):
    dataset: str
    partitioned_by: str | None
    rules: list[str]
    blocking: list[str] = Field(description="why batch runs reading a partition wait")
    history: list[StoredResult] = Field(description="newest first")


class QualityRun(BaseModel):
    results: list[Result]


class QualityApi:
    def __init__(self, quality: Quality, guard: Guard) -> None:
        self.quality, self.guard = quality, guard

    def routes(self) -> list[Route]:
        return [
            self.guard.route("/api/v1/quality", self.overview),
            self.guard.route("/api/v1/quality/{dataset}", self.detail),
            self.guard.change("/api/v1/quality/{dataset}/run", self.run, "quality-run"),
        ]

    def overview(self, call: Call) -> dict[str, Any]:
        return {"datasets": self.quality.overview()}

    def detail(self, call: Call) -> dict[str, Any]:
        return self.quality.detail(call.params["dataset"], call.text("partition"))

    def run(self, call: Call) -> dict[str, Any]:
        partition = call.parsed(RunBody).partition
        return {"results": self.quality.run(call.params["dataset"], partition)}
