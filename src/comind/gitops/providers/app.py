"""Provider ``app``: the app's process under the app runtime, at the synced revision.

The app runs its ``run`` command from the repo checkout of the synced revision (or, with
``artifact: NAME@VERSION``, from that artifact unpacked) with its services' variables, its
credentials, its declared env and its secrets. Everything that
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
from comind.errors import ComindError
from comind.gitops.providers.base import MISSING, Health, Observed
from comind.gitops.resources import Resource

PHASES = {
    "Healthy": Health.HEALTHY,
    "Progressing": Health.PROGRESSING,
    "Degraded": Health.DEGRADED,
}


Code = Callable[[str], tuple[Path, str]]  # NAME@VERSION -> its unpacked folder and digest


class AppProvider:
    def __init__(self, runtime: AppRuntime, env_for: Callable[[str], dict[str, str]],
                 code_of: Code | None = None) -> None:  # fmt: skip
        self.runtime, self.env_for, self.code_of = runtime, env_for, code_of

    def spec_of(self, res: Resource) -> AppSpec:
        s = res.spec
        env = {**self.env_for(res.app), **s["env"]}
        cwd, content = self._code(s)
        folded = [s["revision"], s["run"], s["port"], s["health"], sorted(env.items())]
        digest = hashlib.sha256(json.dumps(folded + ([content] if content else [])).encode())
        return AppSpec(name=res.app, command=s["run"], cwd=cwd, env=env,
                       revision=digest.hexdigest(), port=s["port"],
                       probe=_probe(s["health"]))  # fmt: skip

    def _code(self, s: dict[str, Any]) -> tuple[Path, str | None]:
        """Where the app's code is, and the artifact's digest when it comes from one."""
        ref = s.get("artifact")
        if not ref:
            return Path(s["root"]), None
        if self.code_of is None:
            raise ComindError(f"artifact {ref}: this platform has no artifact registry")
        return self.code_of(ref)

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
