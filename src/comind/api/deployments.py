"""Deployments over the API: ``GET /api/v1/deployments?env=&limit=`` (viewer: each sync that
applied a revision, with its commit, CI, outcome and the health reached: commit → CI → sync →
health) and ``GET /api/v1/dora?env=&days=`` (viewer: the four DORA metrics of an
environment)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field
from starlette.routing import Route

from comind.api.guard import Call, Guard
from comind.api.openapi_schemas import Closed
from comind.cicd.deployments import DeploymentRecords

MAX_DEPLOYMENTS = 500


CI_DOC = (
    "the commit's CI when it went out: green and reason (gated), tests (totals), "
    "artifacts (built from it)"
)


class Deployment(Closed):
    sync_id: int
    env: str
    revision: str
    subject: str = Field(description="the commit's subject line")
    committed_at: str | None
    ci: dict[str, Any] = Field(description=CI_DOC)
    trigger: str
    outcome: str = Field(description="Succeeded or Failed")
    message: str
    started_at: str
    finished_at: str | None
    healthy_at: str | None = Field(description="when the environment was first healthy on it")
    degraded_at: str | None = Field(description="when it went degraded before being healthy")


class DeploymentLog(Closed):
    deployments: list[Deployment] = Field(description="newest first")


class DoraMetrics(Closed):
    env: str
    days: int = Field(description="the window")
    deployments: int = Field(description="successful deployments in the window")
    per_day: float = Field(description="deployment frequency")
    lead_time_seconds: float | None = Field(description="median commit → deployed")
    change_failure_rate: float | None = Field(description="failed or degraded / all")
    time_to_restore_seconds: float | None = Field(description="median failure → healthy")


class DeploymentsApi:
    def __init__(self, records: DeploymentRecords, env: str, guard: Guard) -> None:
        self.records, self.env, self.guard = records, env, guard

    def routes(self) -> list[Route]:
        return [self.guard.route("/api/v1/deployments", self._log),
                self.guard.route("/api/v1/dora", self._dora)]  # fmt: skip

    def log(self, env: str | None, limit: int) -> DeploymentLog:
        rows = self.records.log(env, limit)
        return DeploymentLog(deployments=[Deployment(**_iso(r)) for r in rows])

    def dora(self, env: str | None, days: int) -> DoraMetrics:
        found = self.records.dora(env or self.env, days)
        return DoraMetrics(**vars(found))

    def _log(self, call: Call) -> dict[str, Any]:
        limit = call.number("limit", 50, 1, MAX_DEPLOYMENTS)
        return self.log(call.query.get("env") or None, limit).model_dump()

    def _dora(self, call: Call) -> dict[str, Any]:
        return self.dora(call.query.get("env"), call.number("days", 30, 1, 365)).model_dump()


def _iso(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
