"""The quality service of a running platform: dataset scores and check history, checks
run on request, and the scheduled checks of the datasets stream and event flows write, at
the revision the platform has applied. Checks log in as the platform's quality role
(gitops/providers/quality_access.py), which reads exactly the datasets' tables."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from comind.api.errors import Problem
from comind.api.flows import Applied
from comind.errors import ComindError
from comind.flows.access import dataset_table
from comind.flows.dataset_checks import (
    Connect,
    DatasetChecker,
    export_scores,
    partitioning_of,
    plan,
    streamed_datasets,
)
from comind.gitops.providers.quality_access import QualityAccess
from comind.governance.quality_store import CheckResult, QualityResults, blocking_reason
from comind.stores.postgres import Pool, connect, error_summary

if TYPE_CHECKING:
    from comind.platform import Platform

log = logging.getLogger("comind.platform.quality")


def platform_quality(rt: Platform, pool: Pool) -> QualityService:
    """The service over ``rt``'s applied revision, its results in the platform database
    through ``pool``; checks need the GitOps plane (its admin login and sealed secrets)."""

    def applied() -> Applied | None:
        desired = rt.gitops.service.current if rt.gitops else None
        if desired is None or desired.root is None:
            return None
        return Applied(desired.spec, desired.root, desired.revision, desired.env)

    made: list[QualityAccess] = []  # one, once the GitOps plane is up (its role made once)

    def access() -> QualityAccess | None:
        if not made and rt.gitops is not None:
            made.append(QualityAccess(rt.gitops.pg, rt.gitops.secrets))
        return made[0] if made else None

    return QualityService(applied, QualityResults(pool), access)


class QualityService:
    def __init__(
        self,
        applied: Callable[[], Applied | None],
        results: QualityResults,
        access: Callable[[], QualityAccess | None],
    ) -> None:
        self.applied, self.results, self.access = applied, results, access
        self._sweeping: threading.Thread | None = None

    def overview(self) -> list[dict[str, Any]]:
        """Every dataset with rules: its score, its last results and what blocks."""
        applied = self.applied()
        if applied is None:
            return []
        scores = self.results.scores()
        latest: dict[str, list[dict[str, Any]]] = {}
        for row in self.results.latest():
            latest.setdefault(row["dataset"], []).append(row)
        out = []
        for name, dataset in sorted(applied.spec.datasets.items()):
            if not dataset.quality:
                continue
            score = scores.get(name)
            out.append({"dataset": name, "rules": len(dataset.quality),
                        "checks": score.checks if score else 0,
                        "passed": score.passed if score else 0,
                        "checks_ratio": score.checks_ratio if score else None,
                        "rows_ratio": score.rows_ratio if score else None,
                        "failing": [_row(r) for r in latest.get(name, []) if not r["passed"]],
                        })  # fmt: skip
        return out

    def detail(self, dataset: str, partition: str | None) -> dict[str, Any]:
        applied = self._applied(dataset)
        p = partitioning_of(applied.spec, dataset)
        history = [_row(r) for r in self.results.history(dataset, partition)]
        blocked = self._blocked(dataset)
        return {"dataset": dataset, "partitioned_by": p.by if p else None,
                "rules": [c.name for c in plan(applied.spec, dataset).checks],
                "blocking": blocked, "history": history}  # fmt: skip

    def run(self, dataset: str, partition: str | None) -> list[dict[str, Any]]:
        results = self._check(dataset, partition)
        export_scores(self.results)
        return [asdict(r) for r in results]

    def _check(self, dataset: str, partition: str | None) -> list[CheckResult]:
        applied = self._applied(dataset)
        checker = DatasetChecker(applied.spec, self._connector(applied, dataset), self.results)
        return checker.check(dataset, partition)

    def sweep(self) -> None:
        """The scheduled checks, on a thread of their own: housekeeping's other tasks (the
        WAL shipping above all) never wait on a slow check; one sweep at a time."""
        if self._sweeping is None or not self._sweeping.is_alive():
            self._sweeping = threading.Thread(target=self.sweep_now, name="quality", daemon=True)
            self._sweeping.start()

    def sweep_now(self) -> None:
        """Check each dataset stream and event flows write, as a whole; export every
        dataset's score."""
        applied = self.applied()
        if applied is None or self.access() is None:
            return
        for dataset in streamed_datasets(applied.spec):
            try:
                self._check(dataset, None)
            except Exception as exc:  # one dataset's failure does not hold up the others
                log.warning("quality check of %s failed: %s", dataset, error_summary(exc))
        export_scores(self.results)  # batch runs' results too: their flows read none back

    def _blocked(self, dataset: str) -> list[str]:
        by_partition: dict[str, list[Any]] = {}
        for row in self.results.latest(dataset):
            by_partition.setdefault(row["partition"], []).append(row)
        reasons = []
        for partition, rows in sorted(by_partition.items()):
            results = [CheckResult(r["rule"], r["severity"], r["passed"], r["failing"],
                                   error=r["error"]) for r in rows]  # fmt: skip
            if (why := blocking_reason(dataset, partition, results)) is not None:
                reasons.append(why)
        return reasons

    def _applied(self, dataset: str) -> Applied:
        applied = self.applied()
        if applied is None or dataset not in applied.spec.datasets:
            raise Problem(f"no dataset '{dataset}'", 404)
        return applied

    def _connector(self, applied: Applied, dataset: str) -> Connect:
        access = self.access()
        if access is None:
            raise ComindError("quality checks run on a platform that follows a repository")
        table = dataset_table(applied.spec, dataset).table
        return lambda db: connect(access.target(db, table))


def _row(row: dict[str, Any]) -> dict[str, Any]:
    at = row.get("checked_at")
    return {**row, "checked_at": at.isoformat() if at is not None else None}
