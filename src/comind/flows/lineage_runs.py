"""Flow runs reported as OpenLineage runs (governance/lineage_events.py).

A batch partition run is one OpenLineage run: START, then COMPLETE, FAIL (with the error) or
ABORT (a run that ends ``blocked``). A stream or event flow's worker is one run for its
lifetime: START when it starts, RUNNING at most every ``RUNNING_EVERY_SECONDS`` while
records move (with the totals so far), COMPLETE on a clean stop, FAIL when it dies of an
error. Reporting never fails or slows a run: building an event that fails is counted and
the run goes on, and the engines' ``LineageEmitter`` stores and sends in the background.
Flows run on engines without an emitter (tests, tools) report nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any

from openlineage.client.uuid import generate_new_uuid

from comind.flows.build import FlowBuilder
from comind.flows.runner import FlowRunner, Outcome
from comind.governance.lineage import LineageGraph, derive
from comind.governance.lineage_assertions import Rule, RuleKey, declared_rules, tally
from comind.governance.lineage_events import RunFacts, run_event
from comind.governance.lineage_nodes import source_node

RUNNING_EVERY_SECONDS = 60.0
_ENDS = {"succeeded": "COMPLETE", "failed": "FAIL", "blocked": "ABORT"}


class RunLineage:
    """The events of one flow's runs."""

    def __init__(self, builder: FlowBuilder, flow: str) -> None:
        self.builder, self.flow = builder, flow
        self.streaming = builder.flow(flow).kind != "batch"
        self._graph: LineageGraph | None = None
        self._rules: list[Rule] = []
        self._source: str | None = None

    def emit(self, run_id: str, state: str, **facts: Any) -> None:
        emitter = self.builder.engines.lineage
        if emitter is None:
            return
        try:
            graph = self.graph()
            event = run_event(graph, self.builder.spec.platform.name, RunFacts(
                self.flow, run_id, state, self.streaming, rules=self._rules, source=self._source,
                **facts))  # fmt: skip
        except Exception as exc:  # a report must not fail the run it reports
            emitter.failed(state, "build_failed", exc)
            return
        emitter.emit(event)

    def graph(self) -> LineageGraph:
        if self._graph is None:
            graph = derive(self.builder.spec, self.builder.root)
            outputs = [n.name for n in graph.flow_outputs(self.flow) if n.kind == "dataset"]
            self._rules = declared_rules(self.builder.spec, self.flow, outputs)
            self._source = source_node(
                self.builder.spec, self.builder.flow(self.flow).source_ref
            ).id
            self._graph = graph
        return self._graph

    def partition(self, name: str) -> PartitionRun:
        """A partition run (``""``: an unpartitioned batch run) that has just started."""
        p = self.builder.partitioning(self.flow)
        nominal = p.bounds(name) if p is not None and name and p.by != "hash" else None
        return PartitionRun(self, str(generate_new_uuid()), nominal)

    def blocked(self, name: str, reason: str) -> None:
        """A partition run that never started its work: START, then ABORT with why."""
        self.partition(name).finish("blocked", Outcome(), reason)


class PartitionRun:
    def __init__(
        self, lineage: RunLineage, run_id: str, nominal: tuple[datetime, datetime] | None
    ) -> None:
        self.lineage, self.run_id, self.nominal = lineage, run_id, nominal
        lineage.emit(run_id, "START", nominal=nominal)

    def finish(self, status: str, outcome: Outcome, error: str | None = None) -> None:
        """The run ended with ``status`` (succeeded, failed, blocked)."""
        self.lineage.emit(self.run_id, _ENDS.get(status, "OTHER"), nominal=self.nominal,
                          rows_in=outcome.records_in, rows_out=outcome.written,
                          failures=tally(q.reasons for q in outcome.quarantined),
                          error=error)  # fmt: skip


class StreamRun:
    """A stream or event flow's worker lifetime as one run: ``with StreamRun(...) as run:
    run.follow(runner).run(stop)``."""

    def __init__(
        self, builder: FlowBuilder, flow: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.lineage, self.clock = RunLineage(builder, flow), clock
        self.run_id = str(generate_new_uuid())
        self.rows_in = self.rows_out = 0
        self.failures: Counter[RuleKey] = Counter()
        self._reported = clock()

    def __enter__(self) -> StreamRun:
        self.lineage.emit(self.run_id, "START")
        return self

    def follow(self, runner: FlowRunner) -> FlowRunner:
        runner.on_batch = self.batch
        return runner

    def batch(self, outcome: Outcome) -> None:
        """One batch's totals; a RUNNING event when the last one is old enough."""
        self.rows_in += outcome.records_in
        self.rows_out += outcome.written
        self.failures.update(tally(q.reasons for q in outcome.quarantined))
        if outcome.records_in and self.clock() - self._reported >= RUNNING_EVERY_SECONDS:
            self._reported = self.clock()
            self._emit("RUNNING")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._emit("COMPLETE" if exc is None else "FAIL", None if exc is None else repr(exc))

    def _emit(self, state: str, error: str | None = None) -> None:
        self.lineage.emit(self.run_id, state, rows_in=self.rows_in, rows_out=self.rows_out,
                          failures=Counter(self.failures), error=error)  # fmt: skip
