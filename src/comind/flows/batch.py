"""Batch flows: partition runs, backfills and the cron schedule.

A partition run reads the partition's rows, puts them through the steps and replaces the
partition's output atomically: an object-store file is written to a temp name and renamed,
a PostgreSQL sink deletes the partition's old rows and upserts the new ones in one
transaction. A run killed mid-write therefore leaves the previous output (or none), and is
simply run again. Every run is recorded (status, rows in/out, duration) and a backfill runs
the partitions whose last run is missing or failed, several at a time.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from croniter import croniter

from comind.errors import ComindError
from comind.flows import metrics
from comind.flows.access import source_dataset
from comind.flows.build import FlowBuilder
from comind.flows.dataset_checks import DatasetChecker, partitioning_of
from comind.flows.lineage_runs import RunLineage
from comind.flows.partitions import Partitioning
from comind.flows.pgpartitions import partition_rows
from comind.flows.pgsink import PostgresSink, Replace
from comind.flows.records import Record
from comind.flows.runner import FlowRunner, Outcome
from comind.flows.sinks import ObjectsSink
from comind.governance.quality_store import QualityResults, blocking_reason

log = logging.getLogger("comind.flows.batch")


@dataclass(frozen=True)
class RunResult:
    partition: str
    status: str  # succeeded | failed | blocked (a quality rule of its source failed) | skipped
    rows_in: int
    rows_out: int
    seconds: float
    error: str | None = None


class BatchRunner:
    def __init__(self, name: str, builder: FlowBuilder) -> None:
        self.name, self.builder = name, builder
        self.flow = builder.flow(name)
        self.partitioning = builder.partitioning(name)
        self.runner: FlowRunner = builder.runner(name)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.lineage = RunLineage(builder, name)
        self.checker = DatasetChecker(
            builder.spec,
            lambda db: builder.engines.database(db).connection(),  # the flow's own role, its pool
            QualityResults(builder.engines.layer.pool),
        )

    def run(self, partition: str | None = None, *, since: datetime | None = None) -> RunResult:
        """One partition (or, for an unpartitioned flow, everything the source has); skipped
        while another process runs it, and (``since``) when a run that started then or later
        succeeded already (a schedule's fire, taken by another worker)."""
        p = self.partitioning
        if p is None:
            if partition:
                raise ComindError(
                    f"flow {self.name} is not partitioned; run it without --partition"
                )
            return self._claimed("", self._drain, since)
        if partition is None:
            partition = p.completed_before(datetime.now(UTC))
        name = p.parse(partition)
        if (reason := self._blocked(name)) is not None:
            return self._record_blocked(name, reason)
        return self._claimed(name, lambda outcome: self._partition(p, name, outcome), since)

    def backfill(
        self,
        first: str,
        last: str,
        *,
        parallel: int = 2,
        progress: Callable[[RunResult], None] = lambda r: None,
    ) -> list[RunResult]:
        """Run the partitions in ``[first, last]`` whose last run is missing or failed."""
        if self.partitioning is None:
            raise ComindError(
                f"flow {self.name} is not partitioned; backfill needs partition: in the spec"
            )
        done = self.builder.engines.state.partition_states(self.name)
        todo = [n for n in self.partitioning.between(first, last) if done.get(n) != "succeeded"]
        results = []
        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            for result in pool.map(self.run, todo):
                progress(result)
                results.append(result)
        return results

    def missing(self, first: str, last: str) -> list[str]:
        if self.partitioning is None:
            return []
        done = self.builder.engines.state.partition_states(self.name)
        return [n for n in self.partitioning.between(first, last) if done.get(n) != "succeeded"]

    def serve(
        self, stop: threading.Event, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        """Each time the cron schedule fires, (re)run the ``lookback`` partitions completed
        before it, until ``stop``."""
        if not self.flow.schedule:
            stop.wait()
            return
        schedule = croniter(self.flow.schedule, clock())
        while not stop.is_set():
            fire = schedule.get_next(datetime)
            while not stop.is_set() and (left := (fire - clock()).total_seconds()) > 0:
                stop.wait(min(left, 5.0))
            if stop.is_set():
                return
            for partition in self.partitioning.recent(fire) if self.partitioning else [None]:
                result = self.run(partition, since=fire)
                where = result.partition or "(all)"
                log.info("flow %s: partition %s %s", self.name, where, result.status)

    # -- one run

    def _claimed(
        self, partition: str, work: Callable[[Outcome], None], since: datetime | None
    ) -> RunResult:
        """The run, unless another process runs ``partition`` now (on any host: a worker
        of a replica that led before) or it succeeded since ``since``."""
        state = self.builder.engines.state
        with state.partition_claim(self.name, partition) as mine:
            if not mine:
                return RunResult(partition, "skipped", 0, 0, 0.0, "running elsewhere")
            if since is not None and state.succeeded_since(self.name, partition, since):
                return RunResult(partition, "skipped", 0, 0, 0.0, "done since the schedule fired")
            return self._recorded(partition, work)

    def _recorded(self, partition: str, work: Callable[[Outcome], None]) -> RunResult:
        state = self.builder.engines.state
        run_id = state.start_run(self.name, partition, self.worker)
        began, outcome = time.monotonic(), Outcome()
        lineage = self.lineage.partition(partition)
        try:
            work(outcome)
        except Exception as exc:  # the run failed: record why, leave the old output in place
            seconds = time.monotonic() - began
            state.finish_run(run_id, "failed", outcome.records_in, outcome.written, str(exc)[:2000])
            metrics.PARTITION_SECONDS.labels(self.name, "failed").observe(seconds)
            lineage.finish("failed", outcome, str(exc)[:2000])
            return RunResult(
                partition, "failed", outcome.records_in, outcome.written, seconds, str(exc)
            )
        seconds = time.monotonic() - began
        state.finish_run(run_id, "succeeded", outcome.records_in, outcome.written)
        metrics.PARTITION_SECONDS.labels(self.name, "succeeded").observe(seconds)
        lineage.finish("succeeded", outcome)
        return RunResult(partition, "succeeded", outcome.records_in, outcome.written, seconds)

    def _partition(self, p: Partitioning, name: str, outcome: Outcome) -> None:
        rows = self._rows(p, name)
        outcome.records_in = len(rows)
        records = self.runner.through_steps([Record(v) for v in rows], outcome)
        records = self.runner.gated(records, outcome)
        for key, sink in self.runner.sinks.items():
            mine = [r for r in records if r.route is None or r.route == key]
            if isinstance(sink, ObjectsSink):
                outcome.written += sink.write_partition(mine, p.values(name))
            elif isinstance(sink, PostgresSink) and p.by != "hash":
                low, high = p.bounds(name)
                outcome.written += sink.write(mine, replace=Replace(p.field, low, high))
            else:
                outcome.written += sink.write(mine)
        self.runner.set_aside(outcome)
        self.runner.account(outcome)
        self._check_written(name)

    # -- quality: a source partition failing an error rule blocks; outputs are checked

    def _blocked(self, name: str) -> str | None:
        """Why partition ``name`` must wait: its source dataset's partition fails an
        ``error`` rule (checked now; the results are stored either way)."""
        dataset = source_dataset(self.builder.spec, self.name)
        if dataset is None or not self.builder.spec.datasets[dataset].quality:
            return None
        results = self.checker.check(dataset, name if partitioning_of(
            self.builder.spec, dataset) else None)  # fmt: skip
        return blocking_reason(dataset, name, results)

    def _record_blocked(self, name: str, reason: str) -> RunResult:
        state = self.builder.engines.state
        state.finish_run(state.start_run(self.name, name, self.worker), "blocked", 0, 0, reason)
        metrics.PARTITION_SECONDS.labels(self.name, "blocked").observe(0.0)
        log.warning("flow %s: partition %s blocked: %s", self.name, name, reason)
        self.lineage.blocked(name, reason)
        return RunResult(name, "blocked", 0, 0, 0.0, reason)

    def _check_written(self, name: str) -> None:
        """Check the partition just written into each postgres dataset that has rules (the
        same partition name when the dataset is partitioned like this flow, else whole)."""
        for dataset in self._sink_datasets():
            p = partitioning_of(self.builder.spec, dataset)
            same = p is not None and self.partitioning is not None and p.by == self.partitioning.by
            self.checker.check(dataset, name if same else None)

    def _sink_datasets(self) -> list[str]:
        datasets = self.builder.spec.datasets
        return sorted({d for d in self.flow.written_datasets if datasets[d].quality})

    def _rows(self, p: Partitioning, name: str) -> list[dict[str, object]]:
        source = self.flow.source_ref
        if source.scheme != "postgres":  # validation refuses this; a direct caller may not
            raise ComindError(
                f"flow {self.name}: partitioned runs read a postgres:// source, not "
                f"{source.scheme}://"
            )
        pool, table = self.builder.table(source.target)
        return partition_rows(pool, table, p, name)

    def _drain(self, outcome: Outcome) -> None:
        while True:
            polled = self.runner.source.poll(self.runner.policy.batch_size, 0.0)
            if not polled.refs:
                return
            one = self.runner.process(polled)
            outcome.records_in += one.records_in
            outcome.written += one.written
