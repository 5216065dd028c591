"""How the running platform runs an operator's flow job (``comind flow run``, ``backfill``,
``replay``): as a process of the flow's own, at the applied revision, and reads back its
answer (platform/flows.py says why never in the platform's process)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from comind.api.errors import Problem
from comind.errors import ComindError
from comind.flows.jobs import JOBS, FlowJob
from comind.platform.applied import resources

if TYPE_CHECKING:
    from comind.platform import Platform

JOB_TIMEOUT = 6 * 3600.0  # seconds: a backfill of many partitions may take hours
ERROR = "error: "  # how the worker's command line reports a failure (cli/main.py)


def flow_job(rt: Platform, flow: str, job: FlowJob) -> Any:
    """The answer of ``job`` on ``flow``; a failed job is a Problem quoting its error line."""
    plane, runtime = rt.gitops, rt.apps
    if plane is None or plane.flows is None or runtime is None:
        raise ComindError("flows run only on a platform that follows a repository")
    res = next((r for r in resources(rt, "flow") if r.name == flow), None)
    if res is None:
        raise Problem(f"no flow '{flow}'", 404)
    outcome = runtime.run_once(plane.flows.job(res), JOBS.dump_json(job), JOB_TIMEOUT)
    if outcome.code == 0:
        return json.loads(outcome.answer)
    lines = [ln.strip() for ln in outcome.tail.splitlines()]
    why = next((ln[len(ERROR) :] for ln in reversed(lines) if ln.startswith(ERROR)), None)
    if why is None:
        why = f"its process ended with status {outcome.code} (see the log of flow.{flow}.job)"
    raise Problem(f"flow {flow}: {why}", 400 if outcome.code == 2 else 500)
