"""An operator's job on one flow (a partition run, a backfill, a replay of dead letters),
run by a worker process of the flow's: it runs the flow's steps, which are app code, so never
in the platform's own process (red team 21e G1). The platform hands a job over as JSON and
reads the answer back as JSON (platform/flows.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from comind.errors import UsageError
from comind.flows.batch import BatchRunner
from comind.flows.build import FlowBuilder
from comind.flows.replay import QuarantinedRecords, replay, replay_quarantined


def run_job(builder: FlowBuilder, flow: str, job: dict[str, Any]) -> Any:
    """``{"op": "run", "partition": P|None}`` → the run; ``{"op": "backfill", "first",
    "last", "parallel"}`` → the runs; ``{"op": "replay", "limit"}`` (dead letters) and
    ``{"op": "replay-quarantined", "records": [[id, record], …]}`` → the counts."""
    op = job.get("op")
    if op == "run":
        return [asdict(BatchRunner(flow, builder).run(job.get("partition")))]
    if op == "backfill":
        runs = BatchRunner(flow, builder).backfill(
            str(job["first"]), str(job["last"]), parallel=int(job["parallel"])
        )
        return [asdict(r) for r in runs]
    if op == "replay":
        outcome = replay(builder.runner(flow), builder.engines.layer.queues,
                         limit=int(job["limit"]))  # fmt: skip
        return {"replayed": outcome.records_in, "written": outcome.written,
                "failed_again": len(outcome.failed),
                "quarantined": len(outcome.quarantined)}  # fmt: skip
    if op == "replay-quarantined":
        taken = [(int(i), dict(record)) for i, record in job["records"]]
        records = QuarantinedRecords(builder.engines.state, flow, taken)
        done = replay_quarantined(builder.runner(flow), records)
        return {"replayed": done.records_in, "written": done.written, "failed": len(done.failed),
                "quarantined": len(done.quarantined)}  # fmt: skip
    raise UsageError(f"unknown flow job {op!r}")
