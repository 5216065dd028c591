"""Dataset check results in the platform database (``comind.quality_results``), the score
of each dataset, and why a dataset partition blocks the batch runs that would read it.

A result is one rule over one partition ('' is the whole table) at one check run. Its
sample holds the failing rows' key columns only (at most ``SAMPLE`` of them), so a result
shows which rows to look at without copying their other values out of the app database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from comind.stores.postgres import Json, Pool, dict_rows
from comind.stores.queries import named

_sql = named("comind.governance", "quality")
SAMPLE = 20
KEEP = 200  # results kept per dataset partition and rule


@dataclass(frozen=True)
class CheckResult:
    rule: str
    severity: str
    passed: bool
    failing: int = 0
    rows_checked: int = 0
    sample: list[Any] = field(default_factory=list)
    error: str | None = None  # the check could not run: it counts as failed


@dataclass(frozen=True)
class Score:
    """A dataset's last results: passed checks / checks, passed rows / rows checked."""

    dataset: str
    checks: int
    passed: int
    rows: int
    failing_rows: int

    @property
    def checks_ratio(self) -> float:
        return self.passed / self.checks if self.checks else 1.0

    @property
    def rows_ratio(self) -> float:
        return max(0.0, 1 - self.failing_rows / self.rows) if self.rows else 1.0

    def as_json(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "checks": self.checks, "passed": self.passed,
                "checks_ratio": self.checks_ratio, "rows_ratio": self.rows_ratio}  # fmt: skip


def blocking_reason(dataset: str, partition: str, results: Sequence[CheckResult]) -> str | None:
    """Why a batch run must wait for ``dataset``'s ``partition`` (None: it need not)."""
    failed = [r for r in results if r.severity == "error" and not r.passed]
    if not failed:
        return None
    where = f"{dataset} {partition}".rstrip()
    return f"waiting on {where}: " + "; ".join(_failure(r) for r in failed)


def _failure(r: CheckResult) -> str:
    if r.error is not None:
        return f"{r.rule} could not run: {r.error}"
    if r.rule.startswith(("freshness ", "row_count ")):  # about the whole, not some rows
        return f"{r.rule} failed"
    return f"{r.rule} failed for {r.failing} row{'s' if r.failing != 1 else ''}"


class QualityResults:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def record(
        self, dataset: str, partition: str, run_id: str, results: Sequence[CheckResult]
    ) -> None:
        rows = [{"dataset": dataset, "partition": partition, "rule": r.rule,
                 "severity": r.severity, "passed": r.passed, "failing": r.failing,
                 "rows_checked": r.rows_checked, "sample": Json(r.sample[:SAMPLE]),
                 "run_id": run_id, "error": r.error} for r in results]  # fmt: skip
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(_sql("record"), rows)

    def prune(self) -> int:
        """Delete all but the last :data:`KEEP` results of each dataset partition and rule;
        returns how many went."""
        with self.pool.connection() as conn:
            return conn.execute(_sql("prune"), {"keep": KEEP}).rowcount

    def latest(self, dataset: str | None = None) -> list[dict[str, Any]]:
        """The last result of each rule of each partition (of one dataset, or all)."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_rows) as cur:
            return cur.execute(_sql("latest"), {"dataset": dataset}).fetchall()

    def history(
        self, dataset: str, partition: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_rows) as cur:
            args = {"dataset": dataset, "partition": partition, "limit": limit}
            return cur.execute(_sql("history"), args).fetchall()

    def scores(self) -> dict[str, Score]:
        """Each checked dataset's score over its latest results."""
        out: dict[str, Score] = {}
        for row in self.latest():
            s = out.get(row["dataset"], Score(row["dataset"], 0, 0, 0, 0))
            out[row["dataset"]] = Score(
                s.dataset,
                s.checks + 1,
                s.passed + int(row["passed"]),
                s.rows + row["rows_checked"],
                s.failing_rows + row["failing"],
            )
        return out
