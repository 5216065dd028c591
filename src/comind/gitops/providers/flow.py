"""Provider ``flow``: the flow's worker processes under the app runtime, at the synced
revision (``parallelism`` of them, named ``flow.NAME.N``), each as the flow's own OS user:
they run app code (its steps). An operator's job (a run, a backfill, a replay) runs the same
way, in a process of its own (:meth:`FlowProvider.job`). Any change to the flow's spec or
a new revision of the repo restarts them (start-new-then-stop-old, like apps). Before they
start, the flow's database access is provisioned (flow_access.py), and they are given its
credentials only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from comind.apps.runtime import AppRuntime, AppSpec
from comind.gitops.providers.app import PHASES
from comind.gitops.providers.base import MISSING, Health, Observed
from comind.gitops.providers.flow_access import FlowAccess
from comind.gitops.resources import Resource
from comind.spec.names import flow_account


def worker_name(flow: str, index: int) -> str:
    return f"flow.{flow}.{index}"


class FlowProvider:
    def __init__(
        self,
        runtime: AppRuntime,
        command: Callable[..., str],  # (res) a worker's, (res, job=True) a job's
        env: Callable[[Resource], dict[str, str]],
        access: FlowAccess,
    ) -> None:
        self.runtime, self.command, self.env, self.access = runtime, command, env, access

    def specs(self, res: Resource) -> list[AppSpec]:
        return [self._spec(res, name, self.command(res)) for name in _names(res)]

    def job(self, res: Resource) -> AppSpec:
        """A process of the flow's that runs an operator's job (flows/jobs.py) it is given."""
        return self._spec(res, f"flow.{res.name}.job", self.command(res, job=True))

    def _spec(self, res: Resource, name: str, command: str) -> AppSpec:
        return AppSpec(
            name=name,
            command=command,
            cwd=Path(res.spec["root"]),
            env={**self.env(res), **self.access.env(res)},
            revision=_revision(res),
            account=flow_account(res.name),  # it runs app code: as the flow's own OS user
        )

    def observe(self, res: Resource) -> Observed:
        # names and the revision only: an environment is made (credentials read, the
        # metrics folder given) when workers are deployed, not at every observation
        names = _names(res)
        states = [self.runtime.state(name) for name in names]
        if any(s is None or s.phase == "Stopped" for s in states):
            return MISSING
        wanted = _revision(res)
        drift = tuple(
            f"{name} runs {(s.revision or '')[:12]}, the spec wants {wanted[:12]}"
            for name, s in zip(names, states, strict=True)
            if s and s.revision != wanted
        ) + self.access.observe(res)
        healths = [PHASES.get(s.phase, Health.UNKNOWN) for s in states if s]
        worst = next(
            (h for h in (Health.DEGRADED, Health.PROGRESSING, Health.UNKNOWN) if h in healths),
            Health.HEALTHY,
        )
        message = "; ".join(s.message for s in states if s and s.message)
        return Observed(True, drift, worst, message if worst != Health.HEALTHY else "")

    def apply(self, res: Resource) -> None:
        self.access.apply(res)
        for spec in self.specs(res):
            self.runtime.deploy(spec)
        for name in self.runtime.names():  # fewer workers than before
            prefix = worker_name(res.name, 0)[:-1]
            if name.startswith(prefix) and int(name[len(prefix) :]) >= int(res.spec["parallelism"]):
                self.runtime.stop(name)

    def delete(self, res: Resource) -> None:
        prefix = worker_name(res.name, 0)[:-1]
        for name in self.runtime.names():
            if name.startswith(prefix):
                self.runtime.stop(name)
        self.access.delete(res)


def _names(res: Resource) -> list[str]:
    return [worker_name(res.name, i) for i in range(int(res.spec["parallelism"]))]


def _revision(res: Resource) -> str:
    """What a change of the flow's spec (or the repo's revision in it) redeploys on."""
    return hashlib.sha256(json.dumps(res.spec, sort_keys=True).encode()).hexdigest()
