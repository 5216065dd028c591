"""The flows service of a running platform: partitions run, ranges backfilled, dead letters
read and replayed on request, at the revision the platform has applied.

Runs, backfills and replays run the flow's steps, which are app code: each is a job handed
to a process of the flow's own (``launch``: its OS user, its environment, a fresh
interpreter at the applied revision), never run in the platform's process (red team 21e
G1). Reading dead letters runs no app code: the platform peeks at the flow's queue itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from comind.api.errors import Problem
from comind.api.flows import Applied
from comind.flows.jobs import BackfillJob, FlowJob, ReplayJob, ReplayQuarantinedJob, RunJob
from comind.flows.quarantine import Protection, pii_actions
from comind.flows.replay import Quarantined
from comind.queue.errors import QueueDoesNotExist
from comind.queue.postgres import PostgresQueues
from comind.spec.names import flow_dead_letter_queue


class FlowService:
    """What operators ask of the flows of the applied revision."""

    def __init__(
        self, applied: Callable[[], Applied | None], queues: PostgresQueues,
        launch: Callable[[str, FlowJob], Any],
    ) -> None:  # fmt: skip
        self.applied, self.queues, self.launch = applied, queues, launch

    def _applied(self, name: str) -> Applied:
        applied = self.applied()
        if applied is None or name not in applied.spec.flows:
            raise Problem(f"no flow '{name}'", 404)
        return applied

    def run(self, name: str, partition: str | None) -> list[dict[str, Any]]:
        """A batch flow's partition run now (default: the last complete one)."""
        return self._job(name, RunJob(partition=partition))  # type: ignore[no-any-return]

    def backfill(self, name: str, first: str, last: str, parallel: int) -> list[dict[str, Any]]:
        """The partitions in ``first``..``last`` whose last run is missing or failed."""
        job = BackfillJob(first=first, last=last, parallel=parallel)
        return self._job(name, job)  # type: ignore[no-any-return]

    def dead_letters(self, name: str, limit: int, *, raw: bool) -> list[dict[str, Any]]:
        """The flow's dead letters, oldest first, peeked (nothing is received): the PII
        fields the flow declares masked as in its quarantine, or raw when ``raw``."""
        spec = self._applied(name).spec
        hide = Protection({} if raw else pii_actions(spec, name), None)
        try:
            found = self.queues.peek(flow_dead_letter_queue(name), limit=limit)
        except QueueDoesNotExist:
            return []
        return [_letter(name, m.body, m.sent_at, hide) for m in found]

    def replay(self, name: str, limit: int) -> dict[str, int]:
        """Up to ``limit`` dead letters sent back through the flow."""
        return self._job(name, ReplayJob(limit=limit))  # type: ignore[no-any-return]

    def replay_quarantined(self, name: str, records: list[Quarantined]) -> dict[str, int]:
        """``records`` back through the flow; each one written or quarantined again leaves
        the quarantine."""
        job = ReplayQuarantinedJob(records=records)
        return self._job(name, job)  # type: ignore[no-any-return]

    def _job(self, name: str, job: FlowJob) -> Any:
        self._applied(name)
        return self.launch(name, job)


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
