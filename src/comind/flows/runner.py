"""One flow's batch loop: poll → steps → sinks → dead letters/quarantine → acknowledge.

Guarantees: the source is acknowledged only after every sink committed the batch and the
batch's quarantined and dead-lettered records are stored, so a worker killed at any point
redelivers the batch (at-least-once; upsert and partition-replace sinks make the replay
harmless). A record a step raises on is retried with backoff up to the flow's limit, then
dead-lettered with the flow, step, error and attempt count; the rest of the batch goes on.
A sink that refuses records (a data error) is retried record by record so only the bad
ones are dead-lettered; a sink that is down fails the whole batch, which comes back later.
Each batch is one trace: a ``flow.batch`` span with a child per step, per sink and for the
acknowledgement (see observe.tracing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span, Status, StatusCode

from comind.flows import metrics
from comind.flows.gate import DatasetGate
from comind.flows.pgsink import SinkDataError
from comind.flows.privacy import PiiGuard
from comind.flows.records import Failed, Quarantined, Record, StepResult
from comind.flows.retry import backoff
from comind.flows.sinks import Sink
from comind.flows.sources import Polled, Source
from comind.flows.state import BatchCounts, FlowState
from comind.flows.steps import Step
from comind.flows.windows import WindowAggregator
from comind.observe.tracing import span, tracer

log = logging.getLogger("comind.flows")
TRACER = tracer("comind.flows")
LAG_EVERY_SECONDS = 5.0


@dataclass(frozen=True)
class Policy:
    retries: int = 3
    backoff: str = "exponential"
    dead_letter: bool = True
    batch_size: int = 100
    max_wait: float = 1.0


@dataclass
class Outcome:
    """What happened to one batch."""

    records_in: int = 0
    written: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)

    def counts(self) -> BatchCounts:
        last = f"{self.failed[-1].step}: {self.failed[-1].error}"[:2000] if self.failed else None
        return BatchCounts(
            self.records_in,
            self.written,
            len(self.quarantined),
            len(self.failed),
            len(self.failed),
            last,
        )


class FlowRunner:
    def __init__(
        self,
        flow: str,
        *,
        source: Source,
        steps: list[Step],
        sinks: dict[str, Sink],
        dead_letters: Sink | None,
        state: FlowState,
        policy: Policy,
        window: WindowAggregator | None = None,
        sleep: Callable[[float], None] = time.sleep,
        gate: DatasetGate | None = None,
        privacy: PiiGuard | None = None,
    ) -> None:
        self.flow, self.source, self.steps, self.sinks = flow, source, steps, sinks
        self.dead_letters, self.state, self.policy = dead_letters, state, policy
        self.window, self.sleep = window, sleep
        self.gate = gate if gate else None
        self.privacy = privacy if privacy else None
        self._lag_at = -LAG_EVERY_SECONDS
        self.on_batch: Callable[[Outcome], None] | None = None  # flows/lineage_runs.py

    # -- the loop

    def run(self, stop: threading.Event) -> None:
        """Process batches until ``stop`` is set; the batch in hand is finished first."""
        while not stop.is_set():
            try:
                self.run_once(stop)
            except Exception as exc:  # an engine hiccup: the batch comes back; keep going
                log.warning("flow %s: batch failed, it will be redelivered: %s", self.flow, exc)
                self.sleep(1.0)

    def run_once(self, stop: threading.Event | None = None) -> Outcome:
        polled = self.source.poll(self.policy.batch_size, self.policy.max_wait, stop)
        outcome = self.process(polled)
        now = time.monotonic()
        if now - self._lag_at >= LAG_EVERY_SECONDS or not polled.refs:
            # the lag query scans the backlog: not once per batch while one is draining
            metrics.LAG_SECONDS.labels(self.flow).set(self.source.lag_seconds())
            self._lag_at = now
        return outcome

    def process(self, polled: Polled) -> Outcome:
        """Steps and sinks over one polled batch, then the acknowledgement."""
        outcome = Outcome(
            records_in=len(polled.records) + len(polled.rejected), quarantined=list(polled.rejected)
        )
        if not polled.refs:
            if self.window is not None:
                self._emit_idle(outcome)
            return outcome
        with span(TRACER, "flow.batch", {"comind.flow": self.flow}) as current:
            records = self.through_steps(polled.records, outcome)
            if self.window is not None:
                self.window.commit(
                    records, outcome, lambda conn: self._settle(polled, outcome, conn)
                )
                emitted = self.window.emit(lambda rows: self._write_gated(rows, outcome))
                metrics.WINDOWS_EMITTED.labels(self.flow).inc(emitted)
            else:
                self.write_all(self.gated(records, outcome), outcome)
                self._settle(polled, outcome, None)
            for step in self.steps:
                if (committed := getattr(step, "committed", None)) is not None:
                    committed(records)
            self.account(outcome)
            self._describe(current, outcome.counts())
        return outcome

    def _emit_idle(self, outcome: Outcome) -> None:
        """An empty poll: the windows an idle source leaves open close on processing time."""
        assert self.window is not None
        self.window.advance_idle()
        emitted = self.window.emit(lambda rows: self._write_gated(rows, outcome))
        if emitted:
            metrics.WINDOWS_EMITTED.labels(self.flow).inc(emitted)
            self.account(outcome)

    @staticmethod
    def _describe(current: Span, counts: BatchCounts) -> None:
        current.set_attributes({"comind.records_in": counts.records_in,
                                "comind.records_out": counts.records_out,
                                "comind.quarantined": counts.quarantined,
                                "comind.dead_lettered": counts.dead_lettered})  # fmt: skip
        if counts.dead_lettered:
            current.set_status(Status(StatusCode.ERROR, f"{counts.dead_lettered} dead-lettered"))
        else:
            current.set_status(Status(StatusCode.OK))

    # -- steps

    def through_steps(self, records: list[Record], outcome: Outcome) -> list[Record]:
        for step in self.steps:
            if not records:
                break
            with span(TRACER, f"step {step.name}") as current:
                result = self._timed(step, records)
                for _ in range(self.policy.retries):
                    if not result.failed:
                        break
                    result = self._retry(step, result)
                current.set_attributes({"comind.kept": len(result.kept),
                                        "comind.quarantined": len(result.quarantined),
                                        "comind.failed": len(result.failed)})  # fmt: skip
            outcome.quarantined += result.quarantined
            outcome.failed += [Failed(r, step.name, e) for r, e in result.failed]
            self._count_step(step, result)
            records = result.kept
        return records

    def _timed(self, step: Step, records: list[Record]) -> StepResult:
        began = time.perf_counter()
        result = step.apply(records)
        metrics.STEP_SECONDS.labels(self.flow, step.name).observe(time.perf_counter() - began)
        return result

    def _retry(self, step: Step, result: StepResult) -> StepResult:
        again = [r for r, _ in result.failed]
        for record in again:
            record.attempts += 1
        metrics.RETRIES.labels(self.flow, step.name).inc(len(again))
        self.sleep(backoff(again[0].attempts, self.policy.backoff))
        retried = self._timed(step, again)
        return StepResult(
            result.kept + retried.kept, result.quarantined + retried.quarantined, retried.failed
        )

    def _count_step(self, step: Step, result: StepResult) -> None:
        for outcome, n in (
            ("kept", len(result.kept)),
            ("quarantined", len(result.quarantined)),
            ("failed", len(result.failed)),
        ):
            if n:
                metrics.STEP_RECORDS.labels(self.flow, step.name, outcome).inc(n)

    # -- the dataset gate

    def gated(self, records: list[Record], outcome: Outcome) -> list[Record]:
        """The records the datasets' rules let through (the others join the quarantined),
        their declared PII fields protected: what the sinks may write."""
        if self.gate is not None and records:
            records, refused = self.gate.apply(records)
            outcome.quarantined += refused
        if self.privacy is not None and records:
            self.privacy.apply(records)
        return records

    def _write_gated(self, rows: list[Record], outcome: Outcome) -> None:
        """Window rows, emitted after the batch settled: their quarantine is stored now."""
        before = len(outcome.quarantined)
        self.write_all(self.gated(rows, outcome), outcome)
        if refused := outcome.quarantined[before:]:
            self.state.quarantine(self.flow, [(q.step, q.reasons, q.record.value) for q in refused])

    # -- sinks

    def write_all(self, records: list[Record], outcome: Outcome) -> None:
        """Every record to its sinks; ``written`` counts records (not sink writes) that
        reached all of theirs."""
        failed_before = len(outcome.failed)
        for key, sink in self.sinks.items():
            mine = [r for r in records if r.route is None or r.route == key]
            if mine:
                with span(TRACER, f"sink {key}", {"comind.records": len(mine)}):
                    self._write(sink, mine, outcome)
        lost = {id(f.record) for f in outcome.failed[failed_before:]}
        outcome.written += sum(1 for r in records if id(r) not in lost)
        now, latency = time.time(), metrics.END_TO_END_SECONDS.labels(self.flow)
        for record in records:
            if record.enqueued_at is not None and id(record) not in lost:
                latency.observe(max(0.0, now - record.enqueued_at))

    def _write(self, sink: Sink, records: list[Record], outcome: Outcome) -> int:
        for attempt in range(1, self.policy.retries + 2):
            try:
                return sink.write(records)
            except SinkDataError:
                return self._write_each(sink, records, outcome)
            except Exception:
                if attempt > self.policy.retries:
                    raise  # the sink is down: the batch is not acknowledged and comes back
                metrics.RETRIES.labels(self.flow, sink.name).inc()
                self.sleep(backoff(attempt, self.policy.backoff))
        raise AssertionError("unreachable")

    def _write_each(self, sink: Sink, records: list[Record], outcome: Outcome) -> int:
        written = 0
        for record in records:
            try:
                written += sink.write([record])
            except SinkDataError as exc:
                outcome.failed.append(Failed(record, sink.name, exc))
        return written

    # -- settling

    def _settle(self, polled: Polled, outcome: Outcome, conn: Any) -> None:
        with span(TRACER, "ack"):
            self.set_aside(outcome, conn)
            self.source.ack(polled, conn)

    def set_aside(self, outcome: Outcome, conn: Any = None) -> None:
        """Store the batch's dead letters and quarantined records."""
        set_aside = list(outcome.quarantined)
        if outcome.failed and self.policy.dead_letter and self.dead_letters is not None:
            set_aside += self._dead_letter(outcome.failed)
        self.state.quarantine(
            self.flow, [(q.step, q.reasons, q.record.value) for q in set_aside], conn
        )

    def _dead_letter(self, failed: list[Failed]) -> list[Quarantined]:
        """Write the dead letters; one no queue can hold (a record near the size limit, with
        the error beside it) is quarantined with the error instead, never lost nor retried
        for ever. Returns those."""
        assert self.dead_letters is not None
        letters = [Record(f.letter(self.flow)) for f in failed]
        try:
            self.dead_letters.write(letters)
            return []
        except SinkDataError:
            kept = []
            for letter, one in zip(letters, failed, strict=True):
                try:
                    self.dead_letters.write([letter])
                except SinkDataError:
                    why = f"too large to dead-letter after {type(one.error).__name__}: {one.error}"
                    raw = one.record.raw if one.record.raw is not None else one.record.value
                    kept.append(Quarantined(Record(raw), one.step, [why[:500]]))
            return kept

    def account(self, outcome: Outcome) -> None:
        counts = outcome.counts()
        if self.on_batch is not None:
            self.on_batch(outcome)
        self.state.add_stats(self.flow, counts)
        for name, n in (
            ("in", counts.records_in),
            ("out", counts.records_out),
            ("quarantined", counts.quarantined),
            ("dead_lettered", counts.dead_lettered),
        ):
            if n:
                metrics.RECORDS.labels(self.flow, name).inc(n)
        for failed in outcome.failed:
            log.warning(
                "flow %s: record dead-lettered at %s: %s: %s",
                self.flow,
                failed.step,
                type(failed.error).__name__,
                failed.error,
            )
