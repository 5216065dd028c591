"""CI runs per commit and the verdict the sync gate reads.

A run is one pipeline's result for a commit, from a webhook (GitHub ``workflow_run``,
``check_suite``, ``status``; GitLab pipeline events) or a generic report (``comind ci
report``). A commit is **green** when it has at least one run and the newest run of every
pipeline that reported on it passed; a failed or still running one, or none at all, keeps it
red, with the reason saying which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from comind.cicd.junit import Case, totals
from comind.stores.postgres import Json, Pool, dict_rows
from comind.stores.queries import named

_sql = named("comind.cicd", "ci")
Status = Literal["running", "passed", "failed"]
MAX_FAILURES = 200  # failed test cases shown per commit


@dataclass(frozen=True)
class CiRun:
    commit: str  # the full SHA
    provider: str  # github | gitlab | report
    pipeline: str  # a workflow's or pipeline's name, a status context, a report's name
    run_id: str  # the provider's id of the run (with its attempt)
    status: Status
    url: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cases: list[Case] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class Verdict:
    green: bool
    reason: str  # why not green, or what made it green


class CiRecords:
    """The CI runs and test cases of ``comind.ci_runs`` (migration 0023)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def record(self, run: CiRun) -> int:
        """Store ``run`` (a run reported before is updated; its cases replaced when the
        report has some); returns its id."""
        tests = Json(totals(run.cases).as_dict()) if run.cases else None
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(_sql("upsert_run"), {
                "commit": run.commit, "provider": run.provider, "pipeline": run.pipeline,
                "run_id": run.run_id, "status": run.status, "url": run.url,
                "started_at": run.started_at, "finished_at": run.finished_at, "tests": tests,
            }).fetchone()  # fmt: skip
            assert row is not None
            if run.cases:
                conn.execute(_sql("clear_cases"), {"run": row[0]})
                with conn.cursor() as cur:
                    cur.executemany(_sql("add_case"), [
                        {"run": row[0], "suite": c.suite, "name": c.name, "outcome": c.outcome,
                         "seconds": c.seconds, "message": c.message} for c in run.cases
                    ])  # fmt: skip
        return int(row[0])

    def runs(self, commit: str) -> list[dict[str, Any]]:
        """Every run of ``commit``, newest first."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_rows) as cur:
            return list(cur.execute(_sql("runs"), {"commit": commit}))

    def verdict(self, commit: str) -> Verdict:
        """Whether ``commit`` passed CI: the newest run of each pipeline decides."""
        newest: dict[tuple[str, str], dict[str, Any]] = {}
        for run in self.runs(commit):
            newest.setdefault((run["provider"], run["pipeline"]), run)
        if not newest:
            return Verdict(False, "no CI result reported for it yet")
        for status, says in (("failed", "CI failed"), ("running", "CI is still running")):
            bad = sorted(p for (_, p), r in newest.items() if r["status"] == status)
            if bad:
                return Verdict(False, f"{says}: {', '.join(bad)}")
        return Verdict(True, f"CI passed: {', '.join(sorted(p for _, p in newest))}")

    def tests(self, commit: str) -> dict[str, Any]:
        """The commit's failed test cases and its flaky ones (passed in one run, failed in
        another)."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_rows) as cur:
            failures = list(cur.execute(_sql("failures"), {"commit": commit,
                                                           "limit": MAX_FAILURES}))  # fmt: skip
            flaky = list(cur.execute(_sql("flaky"), {"commit": commit}))
        return {"failures": failures, "flaky": flaky}
