"""CI results over the API: ``POST /api/v1/ci/reports`` (operator: a CI job reports a
commit's result, with its JUnit XML reports, from any CI: ``comind ci report``) and
``GET /api/v1/ci/commits/{sha}`` (viewer: the commit's runs, the verdict the
``require_ci`` gate reads, failed and flaky tests). A finished report triggers a sync."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.routing import Route

from comind.api.errors import Problem
from comind.api.guard import Answer, Call, Guard
from comind.api.openapi_schemas import Closed
from comind.cicd.junit import parse
from comind.cicd.runs import CiRecords, CiRun

SHA = r"^[0-9a-f]{40}([0-9a-f]{24})?$"
MAX_REPORT_BODY = 16 * 1024 * 1024  # JUnit reports travel in the body
MAX_REPORTS = 50


class CiReportBody(BaseModel):
    commit: str = Field(pattern=SHA, description="the full commit SHA (40 or 64 hex digits)")
    status: Literal["passed", "failed", "running"]
    pipeline: str = Field("report", min_length=1, max_length=200,
                          description="which pipeline: the newest run of each decides")  # fmt: skip
    run_id: str | None = Field(None, max_length=200, description="default: a new run")
    url: str | None = Field(None, max_length=2000)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    junit: list[str] = Field(default_factory=list, max_length=MAX_REPORTS,
                             description="JUnit XML documents")  # fmt: skip


class CiReported(Closed):
    commit: str
    pipeline: str
    run_id: str
    tests: int = Field(description="test cases read from the JUnit reports")
    green: bool = Field(description="the commit passes a require_ci gate now")
    reason: str


class CiRunDoc(Closed):
    provider: str = Field(description="github, gitlab or report")
    pipeline: str
    run_id: str
    status: str = Field(description="running, passed or failed")
    url: str | None
    started_at: str | None
    finished_at: str | None
    received_at: str
    tests: dict[str, float] | None = Field(description="tests, failures, errors, skipped, "
                                                       "seconds")  # fmt: skip


class FailedTest(Closed):
    pipeline: str
    run_id: str
    suite: str
    name: str
    outcome: str = Field(description="failed or error")
    message: str | None


class FlakyTest(Closed):
    suite: str
    name: str
    passed: int = Field(description="runs of the commit it passed in")
    failed: int


class CiCommit(Closed):
    commit: str
    green: bool
    reason: str
    runs: list[CiRunDoc] = Field(description="newest first")
    failures: list[FailedTest]
    flaky: list[FlakyTest] = Field(description="passed in one run, failed in another")


class CiApi:
    def __init__(self, records: CiRecords, finished: Callable[[], None], guard: Guard) -> None:
        self.records, self.finished, self.guard = records, finished, guard

    def routes(self) -> list[Route]:
        report = self.guard.change("/api/v1/ci/reports", self._report, "ci-report", target=_short)
        return [report, self.guard.route("/api/v1/ci/commits/{sha}", self._commit)]

    def _report(self, call: Call) -> Answer:
        body = call.parsed(CiReportBody)
        cases = [c for n, xml in enumerate(body.junit)
                 for c in parse(xml.encode(), f"junit report {n + 1}")]  # fmt: skip
        run = CiRun(body.commit, "report", body.pipeline, body.run_id or secrets.token_hex(8),
                    body.status, body.url, body.started_at, body.finished_at, cases)  # fmt: skip
        self.records.record(run)
        if run.status != "running":
            self.finished()
        verdict = self.records.verdict(run.commit)
        doc = CiReported(commit=run.commit, pipeline=run.pipeline, run_id=run.run_id,
                         tests=len(cases), green=verdict.green, reason=verdict.reason)  # fmt: skip
        return Answer(doc.model_dump(), detail={"status": run.status, "pipeline": run.pipeline})

    def _commit(self, call: Call) -> dict[str, Any]:
        sha = call.params["sha"].lower()
        if not re.fullmatch(SHA, sha):
            raise Problem("give the full commit SHA (40 or 64 hex digits)", 400)
        verdict = self.records.verdict(sha)
        runs = [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()
                 if k != "id"} for r in self.records.runs(sha)]  # fmt: skip
        return {
            "commit": sha,
            "green": verdict.green,
            "reason": verdict.reason,
            "runs": runs,
            **self.records.tests(sha),
        }


def _short(named: Mapping[str, Any]) -> str:
    return str(named.get("commit", ""))[:12] or "*"
