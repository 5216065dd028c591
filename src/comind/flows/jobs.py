"""An operator's job on one flow (a partition run, a backfill, a replay of dead letters or of
quarantined records), run by a worker process of the flow's: it runs the flow's steps, which
are app code, so never in the platform's own process (red team 21e G1). The platform hands a
job over as JSON (:data:`JOBS`, one typed model per kind) and reads the answer back as JSON
(platform/flows.py)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from comind.flows.batch import BatchRunner
from comind.flows.build import FlowBuilder
from comind.flows.replay import Quarantined, QuarantinedRecords, replay, replay_quarantined
from comind.flows.runner import Outcome


class _Job(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunJob(_Job):
    """One partition of a batch flow (None: the last complete one)."""

    op: Literal["run"] = "run"
    partition: str | None = None


class BackfillJob(_Job):
    """The partitions in ``first``..``last`` whose last run is missing or failed."""

    op: Literal["backfill"] = "backfill"
    first: str
    last: str
    parallel: int = Field(ge=1)


class ReplayJob(_Job):
    """Up to ``limit`` dead letters back through the flow."""

    op: Literal["replay"] = "replay"
    limit: int = Field(ge=0)


class ReplayQuarantinedJob(_Job):
    """Quarantined records back through the flow."""

    op: Literal["replay-quarantined"] = "replay-quarantined"
    records: list[Quarantined]


FlowJob = Annotated[RunJob | BackfillJob | ReplayJob | ReplayQuarantinedJob,
                    Field(discriminator="op")]  # fmt: skip
JOBS: TypeAdapter[FlowJob] = TypeAdapter(FlowJob)


def run_job(builder: FlowBuilder, flow: str, job: FlowJob) -> Any:
    """The runs (a run, a backfill), or the counts (a replay)."""
    if isinstance(job, RunJob):
        return [asdict(BatchRunner(flow, builder).run(job.partition))]
    if isinstance(job, BackfillJob):
        runs = BatchRunner(flow, builder).backfill(job.first, job.last, parallel=job.parallel)
        return [asdict(r) for r in runs]
    if isinstance(job, ReplayJob):
        done = replay(builder.runner(flow), builder.engines.layer.queues, limit=job.limit)
        return _counts(done, failed="failed_again")
    records = QuarantinedRecords(builder.engines.state, flow, list(job.records))
    return _counts(replay_quarantined(builder.runner(flow), records), failed="failed")


def _counts(done: Outcome, *, failed: str) -> dict[str, int]:
    return {"replayed": done.records_in, "written": done.written, failed: len(done.failed),
            "quarantined": len(done.quarantined)}  # fmt: skip
