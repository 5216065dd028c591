"""Provider ``flow``: the flow's worker processes under the app runtime, at the synced
revision (``parallelism`` of them, named ``flow.NAME.N``). Any change to the flow's spec or
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


def worker_name(flow: str, index: int) -> str:
    return f"flow.{flow}.{index}"


class FlowProvider:
    def __init__(
        self,
        runtime: AppRuntime,
        command: Callable[[Resource], str],
        env: Callable[[Resource], dict[str, str]],
        access: FlowAccess,
    ) -> None:
        self.runtime, self.command, self.env, self.access = runtime, command, env, access

    def specs(self, res: Resource) -> list[AppSpec]:
        digest = hashlib.sha256(json.dumps(res.spec, sort_keys=True).encode()).hexdigest()
        return [
            AppSpec(
                name=worker_name(res.name, i),
                command=self.command(res),
                cwd=Path(res.spec["root"]),
                env={**self.env(res), **self.access.env(res)},
                revision=digest,
                port=None,
                probe=None,
                isolated=False,  # the platform's worker: it connects with the state dir's keys
            )
            for i in range(int(res.spec["parallelism"]))
        ]

    def observe(self, res: Resource) -> Observed:
        wanted = self.specs(res)
        states = [self.runtime.state(s.name) for s in wanted]
        if any(s is None or s.phase == "Stopped" for s in states):
            return MISSING
        drift = tuple(
            f"{w.name} runs {(s.revision or '')[:12]}, the spec wants {w.revision[:12]}"
            for w, s in zip(wanted, states, strict=True)
            if s and s.revision != w.revision
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
