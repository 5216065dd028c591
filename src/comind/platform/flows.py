"""The flows service of a running platform: partitions run, ranges backfilled, dead letters
read and replayed on request, at the revision the platform has applied.

Each request opens the app-database pools it needs, as the flow's own writer role, and
closes them when it is done; the message layer is the platform's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from comind.api.errors import Problem
from comind.api.flows import Applied
from comind.flows.batch import BatchRunner
from comind.flows.build import FlowBuilder, FlowEngines
from comind.flows.quarantine import Protection, pii_actions
from comind.flows.replay import replay
from comind.queue.errors import QueueDoesNotExist
from comind.spec.names import flow_dead_letter_queue


class FlowService:
    """What operators ask of the flows of the applied revision."""

    def __init__(
        self, applied: Callable[[], Applied | None], engines: Callable[[str], FlowEngines]
    ) -> None:
        self.applied, self.engines = applied, engines

    @contextmanager
    def builder(self, name: str) -> Iterator[FlowBuilder]:
        applied = self.applied()
        if applied is None or name not in applied.spec.flows:
            raise Problem(f"no flow '{name}'", 404)
        engines = self.engines(name)
        try:
            yield FlowBuilder(applied.spec, applied.root, engines)
        finally:
            engines.close()

    def run(self, name: str, partition: str | None) -> list[dict[str, Any]]:
        """A batch flow's partition run now (default: the last complete one)."""
        with self.builder(name) as builder:
            return [asdict(BatchRunner(name, builder).run(partition))]

    def backfill(self, name: str, first: str, last: str, parallel: int) -> list[dict[str, Any]]:
        """The partitions in ``first``..``last`` whose last run is missing or failed."""
        with self.builder(name) as builder:
            results = BatchRunner(name, builder).backfill(first, last, parallel=parallel)
        return [asdict(r) for r in results]

    def dead_letters(self, name: str, limit: int, *, raw: bool) -> list[dict[str, Any]]:
        """The flow's dead letters, oldest first, peeked (nothing is received): the PII
        fields the flow declares masked as in its quarantine, or raw when ``raw``."""
        with self.builder(name) as builder:
            hide = Protection({} if raw else pii_actions(builder.spec, name), None)
            try:
                found = builder.engines.layer.queues.peek(flow_dead_letter_queue(name), limit=limit)
            except QueueDoesNotExist:
                return []
        return [_letter(name, m.body, m.sent_at, hide) for m in found]

    def replay(self, name: str, limit: int) -> dict[str, int]:
        """Up to ``limit`` dead letters sent back through the flow."""
        with self.builder(name) as builder:
            outcome = replay(builder.runner(name), builder.engines.layer.queues, limit=limit)
        return {"replayed": outcome.records_in, "written": outcome.written,
                "failed_again": len(outcome.failed),
                "quarantined": len(outcome.quarantined)}  # fmt: skip


def _letter(flow: str, body: str, sent: Any, hide: Protection) -> dict[str, Any]:
    letter: dict[str, Any] = json.loads(body)
    letter["at"] = sent.isoformat() if sent else None
    record = dict(letter.get("record") or {})
    shown = hide.protect(flow, 0, str(letter.get("step")), record)
    letter["record"], letter["pii"] = shown.record, shown.masked
    error = str(letter.get("error", ""))
    for field in shown.masked:  # a sink's error may quote the row ("Failing row contains")
        if str(record[field]):
            error = error.replace(str(record[field]), "***")
    letter["error"] = error
    return letter
