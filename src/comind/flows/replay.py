"""Dead letters and quarantined records back through their flow: each original record
runs the flow's steps and sinks again; the letter (or quarantined row) is deleted once that
batch settled (a record that fails again becomes a new letter with its new error and
attempt count; one refused again is quarantined again, under a new id)."""

from __future__ import annotations

import json
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict

from comind.flows.records import Record
from comind.flows.runner import FlowRunner, Outcome
from comind.flows.sources import Polled
from comind.flows.state import FlowState
from comind.queue.postgres import PostgresQueues
from comind.spec.names import flow_dead_letter_queue
from comind.stores.postgres import Connection


class DeadLetters:
    """The flow's dead-letter queue as a source of the letters it held when the replay
    began: a record that fails again is dead-lettered anew, and that letter waits for the
    next replay (taking it again would loop on it for as long as it fails)."""

    def __init__(self, queues: PostgresQueues, flow: str) -> None:
        self.queues, self.queue = queues, flow_dead_letter_queue(flow)
        self.began = queues.clock()

    def poll(self, size: int, max_wait: float, stop: threading.Event | None = None) -> Polled:
        out = Polled()
        for msg in self.queues.lease(self.queue, limit=size, visibility_timeout=300):
            if msg.sent_at is not None and msg.sent_at >= self.began:
                self.queues.change_visibility(self.queue, msg.receipt_handle, 0)
                continue
            out.refs.append(msg.receipt_handle)
            letter: dict[str, Any] = json.loads(msg.body)
            out.records.append(
                Record(
                    dict(letter["record"]),
                    msg.receipt_handle,
                    attempts=int(letter.get("attempts", 0)),
                )
            )
        return out

    def ack(self, polled: Polled, conn: Connection | None = None) -> None:
        if polled.refs:
            self.queues.delete_many(self.queue, polled.refs, conn=conn)

    def lag_seconds(self) -> float:
        return 0.0


def replay(runner: FlowRunner, queues: PostgresQueues, *, limit: int = 1000) -> Outcome:
    """Replay up to ``limit`` dead letters of the runner's flow."""
    return _drain(runner, DeadLetters(queues, runner.flow), limit)


class Quarantined(BaseModel):
    """One record taken out of the quarantine: its row's id, the raw record (values put back,
    edits applied)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: int
    record: dict[str, Any]


class QuarantinedRecords:
    """Records taken out of the flow's quarantine as a source: acknowledging a batch deletes
    their rows."""

    def __init__(self, state: FlowState, flow: str, rows: list[Quarantined]):
        self.state, self.flow, self.rows = state, flow, rows

    def poll(self, size: int, max_wait: float, stop: threading.Event | None = None) -> Polled:
        taken, self.rows = self.rows[:size], self.rows[size:]
        return Polled(records=[Record(q.record, q.id) for q in taken], refs=[q.id for q in taken])

    def ack(self, polled: Polled, conn: Connection | None = None) -> None:
        if polled.refs:
            self.state.discard(self.flow, ids=polled.refs, conn=conn)

    def lag_seconds(self) -> float:
        return 0.0


def replay_quarantined(runner: FlowRunner, records: QuarantinedRecords) -> Outcome:
    """Every record of ``records`` through the runner's flow, a batch at a time."""
    return _drain(runner, records, len(records.rows))


def _drain(runner: FlowRunner, source: DeadLetters | QuarantinedRecords, limit: int) -> Outcome:
    """Up to ``limit`` records of ``source`` through the runner, a batch at a time."""
    runner.source = source
    total = Outcome()
    while total.records_in < limit:
        polled = source.poll(min(runner.policy.batch_size, limit - total.records_in), 0)
        if not polled.refs:
            break
        one = runner.process(polled)
        total.records_in += one.records_in
        total.written += one.written
        total.failed += one.failed
        total.quarantined += one.quarantined
    return total
