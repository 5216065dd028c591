"""Provider ``app``: the app's process under the app runtime, at the synced revision.

The app runs its ``run`` command from the repo checkout of the synced revision with its
services' variables, its credentials, its declared env and its secrets. Everything that
should restart it (the revision, command, env, port, health check) is folded into one
digest: a new revision is rolled out start-new-then-stop-old, and the old process keeps
serving when the new one never becomes healthy (the app is then Degraded).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from comind.apps.runtime import AppRuntime, AppSpec, Probe
from comind.gitops.providers.base import MISSING, Health, Observed
from comind.gitops.resources import Resource

PHASES = {
    "Healthy": Health.HEALTHY,
    "Progressing": Health.PROGRESSING,
    "Degraded": Health.DEGRADED,
}


class AppProvider:
    def __init__(self, runtime: AppRuntime, env_for: Callable[[str], dict[str, str]]) -> None:
        self.runtime, self.env_for = runtime, env_for

    def spec_of(self, res: Resource) -> AppSpec:
        s = res.spec
        env = {**self.env_for(res.app), **s["env"]}
        digest = hashlib.sha256(
            json.dumps([s["revision"], s["run"], s["port"], s["health"], sorted(env.items())])
            .encode()
        ).hexdigest()  # fmt: skip
        return AppSpec(name=res.app, command=s["run"], cwd=Path(s["root"]), env=env,
                       revision=digest, port=s["port"], probe=_probe(s["health"]))  # fmt: skip

    def observe(self, res: Resource) -> Observed:
        state = self.runtime.state(res.app)
        if state is None or state.phase == "Stopped":
            return MISSING
        health = PHASES.get(state.phase, Health.UNKNOWN)
        want = self.spec_of(res).revision
        if state.revision == want:
            return Observed(True, (), health, "" if health == Health.HEALTHY else state.message)
        running = f"running {state.revision[:12]}" if state.revision else "not running"
        return Observed(True, (f"{running}, the spec wants {want[:12]}",), health, state.message)

    def apply(self, res: Resource) -> None:
        self.runtime.deploy(self.spec_of(res))

    def delete(self, res: Resource) -> None:
        self.runtime.stop(res.app)


def _probe(health: dict[str, Any] | None) -> Probe | None:
    if not health:
        return None
    return Probe(http=health.get("http"), tcp=health.get("tcp"), command=health.get("command"),
                 initial_delay=float(health.get("initial_delay") or 0),
                 period=float(health.get("period") or 10))  # fmt: skip
