"""Dataset checks: a dataset's quality rules run in SQL over its table, per partition,
with the results stored and scored, and the verdict a batch run waits on.

Partitions: a dataset read by a batch flow with ``partition:`` is checked per that flow's
partitioning; any other dataset as a whole (partition ''). Checks run after a batch
partition is written into a dataset, before a batch partition run reads one (an ``error``
rule failing there blocks the run), on a schedule for datasets written by stream and
event flows (platform housekeeping) and on demand. The connection given is a login that
may read the dataset tables and nothing more (a flow's own role in its workers, the
platform's quality role elsewhere), and each check is a READ ONLY transaction with a
statement timeout (governance/quality_sql.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from comind.errors import ComindError, UsageError
from comind.flows.access import dataset_table
from comind.flows.metrics import QUALITY_CHECKS_RATIO, QUALITY_ROWS_RATIO
from comind.flows.partitions import Partitioning
from comind.flows.pgpartitions import where
from comind.flows.pgsource import table_ident
from comind.governance import quality
from comind.governance.quality_sql import TIMEOUT_MS, Target, run_checks
from comind.governance.quality_store import CheckResult, QualityResults
from comind.spec import Spec
from comind.stores.postgres import Connection

log = logging.getLogger("comind.flows.quality")
Connect = Callable[[str], AbstractContextManager[Connection]]  # database → autocommit conn


@dataclass(frozen=True)
class CheckPlan:
    """How to check one dataset."""

    dataset: str
    database: str
    table: str
    keys: tuple[str, ...]
    pii: dict[str, str]  # the dataset's PII fields → action (key samples hide them)
    partitioning: Partitioning | None
    checks: tuple[quality.Check, ...]


def plan(spec: Spec, dataset: str) -> CheckPlan:
    if dataset not in spec.datasets:
        known = ", ".join(sorted(spec.datasets)) or "none"
        raise ComindError(f"no dataset '{dataset}' in the spec (datasets: {known})")
    use = dataset_table(spec, dataset)
    return CheckPlan(
        dataset,
        use.database,
        use.table,
        _keys(spec, dataset),
        {f: a.operator for f, a in spec.datasets[dataset].pii.items()},
        partitioning_of(spec, dataset),
        tuple(quality.checks(spec.datasets[dataset].quality)),
    )


def partitioning_of(spec: Spec, dataset: str) -> Partitioning | None:
    """The partitioning of the batch flow reading ``dataset`` (its first, by name)."""
    store = spec.datasets[dataset].store
    for _, flow in sorted(spec.flows.items()):
        if flow.partition is not None and f"postgres://{flow.source_ref.target}" == store:
            p = flow.partition
            return Partitioning(p.by, p.field, p.buckets, p.lookback)
    return None


def streamed_datasets(spec: Spec) -> list[str]:
    """Datasets with rules that stream or event flows write (checked on a schedule)."""
    out = {
        d
        for flow in spec.flows.values()
        if flow.kind != "batch"
        for d in flow.written_datasets
        if spec.datasets[d].quality
    }
    return sorted(out)


def _keys(spec: Spec, dataset: str) -> tuple[str, ...]:
    for flow in spec.flows.values():
        for s in flow.every_sink:
            if s.postgres == dataset and s.upsert_on:
                return tuple(s.upsert_on)
    return ("id",)


def export_scores(results: QualityResults) -> None:
    """Every checked dataset's score gauges, from its latest results (the platform's: a
    flow's login appends results and reads none back, migration 0030)."""
    for dataset, score in results.scores().items():
        QUALITY_CHECKS_RATIO.labels(dataset).set(score.checks_ratio)
        QUALITY_ROWS_RATIO.labels(dataset).set(score.rows_ratio)


class DatasetChecker:
    def __init__(
        self, spec: Spec, connect: Connect, results: QualityResults, timeout_ms: int = TIMEOUT_MS
    ) -> None:
        self.spec, self.connect, self.results = spec, connect, results
        self.timeout_ms = timeout_ms  # each check's, in all

    def check(self, dataset: str, partition: str | None = None) -> list[CheckResult]:
        """The dataset's rules over ``partition`` (its partitioning's name; None or '':
        the whole table), stored (:func:`export_scores` shows them)."""
        p = plan(self.spec, dataset)
        if not p.checks:
            return []
        name = p.partitioning.parse(partition) if partition and p.partitioning else ""
        if partition and p.partitioning is None:
            raise UsageError(f"dataset {dataset} is not partitioned (no batch flow reads it "
                              "with partition:); check it without a partition")  # fmt: skip
        target = self._target(p, name)
        with self.connect(p.database) as conn:
            results = run_checks(conn, target, p.checks, self.timeout_ms)
        self.results.record(dataset, name, uuid.uuid4().hex[:12], results)
        return results

    @staticmethod
    def _target(p: CheckPlan, name: str) -> Target:
        if not name or p.partitioning is None:
            return Target(table_ident(p.table), keys=p.keys, pii=p.pii)
        condition, args = where(p.partitioning, name)
        return Target(table_ident(p.table), condition, args, p.keys, p.pii)
