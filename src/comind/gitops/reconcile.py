"""Plan and apply: bring live resources to the desired state, in dependency order.

``plan`` observes every desired resource (and every inventoried one no longer desired)
and decides an action for each. ``apply`` runs the actions as a DAG on a small thread
pool: a resource starts once everything it depends on was applied and is Healthy, so
independent resources go in parallel while a database is always ready before its app. A
failure stops only what depends on it; the other resources still converge. Removals run
after, dependents first. Data-bearing resources are never removed unless the spec that
last applied them said ``deletion_policy: delete`` (a queue only while it holds messages):
otherwise they are orphaned, kept and listed, so a typo in Git cannot lose data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Literal

from comind.errors import ComindError
from comind.gitops.providers.base import Health, Kept, Observed, Provider, Sync
from comind.gitops.records import ResourceRecord
from comind.gitops.resources import DATA_BEARING, Resource

Action = Literal["create", "update", "none", "delete", "orphan", "forget"]
REMOVAL_ORDER = (
    "flow",
    "app",
    "subscription",
    "queue",
    "topic",
    "secret",
    "bucket",
    "cache",
    "database",
)
HEALTH_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Step:
    resource: Resource
    action: Action
    observed: Observed

    @property
    def changes(self) -> bool:
        return self.action not in ("none", "orphan")


@dataclass(frozen=True)
class Outcome:
    id: str
    action: Action
    result: Literal["Succeeded", "Failed", "Skipped"]
    message: str
    sync: Sync
    health: Health

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "action": self.action, "result": self.result,
                "message": self.message, "sync": self.sync, "health": self.health}  # fmt: skip


class Reconciler:
    def __init__(
        self,
        providers: Mapping[str, Provider],
        *,
        workers: int = 4,
        health_wait: float = HEALTH_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.providers, self.workers = providers, workers
        self.health_wait, self.sleep = health_wait, sleep

    def observe(self, res: Resource) -> Observed:
        try:
            return self.providers[res.kind].observe(res)
        except ComindError as exc:
            return Observed(False, (str(exc),), Health.UNKNOWN, str(exc))
        except Exception as exc:  # an engine error: the resource is Unknown, with its message
            return Observed(False, (_message(exc),), Health.UNKNOWN, _message(exc))

    def plan(
        self, desired: list[Resource], inventory: list[ResourceRecord], *, prune: bool
    ) -> list[Step]:
        wanted = {r.id for r in desired}
        gone = [_resource(rec) for rec in inventory if rec.id not in wanted]
        with ThreadPoolExecutor(self.workers) as pool:
            seen = list(pool.map(self.observe, [*desired, *gone]))
        steps = [_desired_step(r, o) for r, o in zip(desired, seen, strict=False)]
        old = {rec.id: rec for rec in inventory}
        for res, obs in zip(gone, seen[len(desired) :], strict=True):
            steps.append(Step(res, _removal(res, obs, old[res.id], prune=prune), obs))
        return steps

    def apply(
        self, steps: list[Step], *, on_done: Callable[[Outcome], None] = lambda o: None
    ) -> list[Outcome]:
        """Carry out ``steps``; one outcome per step, reported as each finishes."""
        forward = [s for s in steps if s.action in ("create", "update", "none")]
        removals = [s for s in steps if s.action not in ("create", "update", "none")]
        outcomes = self._run_dag(forward, on_done)
        removals.sort(key=lambda s: REMOVAL_ORDER.index(s.resource.kind))
        for step in removals:
            outcome = self._remove(step)
            on_done(outcome)
            outcomes.append(outcome)
        return outcomes

    def _run_dag(self, steps: list[Step], on_done: Callable[[Outcome], None]) -> list[Outcome]:
        ids = {s.resource.id for s in steps}
        waiting = {s.resource.id: s for s in steps}
        outcomes: dict[str, Outcome] = {}
        running: dict[Future[Outcome], str] = {}
        with ThreadPoolExecutor(self.workers) as pool:
            while waiting or running:
                for rid, step in list(waiting.items()):
                    deps = [d for d in step.resource.depends_on if d in ids]
                    failed = [d for d in deps if d in outcomes and not _ready(outcomes[d])]
                    if failed:
                        del waiting[rid]
                        outcomes[rid] = _skipped(step, failed)
                        on_done(outcomes[rid])
                    elif all(d in outcomes for d in deps):
                        del waiting[rid]
                        running[pool.submit(self._forward, step)] = rid
                if not running:
                    break  # only steps with dependencies outside the plan are left
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    rid = running.pop(future)
                    outcomes[rid] = future.result()
                    on_done(outcomes[rid])
        for rid, step in waiting.items():
            outcomes[rid] = _skipped(step, list(step.resource.depends_on))
        return [outcomes[s.resource.id] for s in steps]

    def _forward(self, step: Step) -> Outcome:
        res = step.resource
        if step.action != "none":
            try:
                self.providers[res.kind].apply(res)
            except Exception as exc:  # the provider's / engine's message, kept on the resource
                return Outcome(res.id, step.action, "Failed", _message(exc),
                               Sync.OUT_OF_SYNC, Health.DEGRADED)  # fmt: skip
        # an unchanged resource was just observed by the plan; a changed one is looked at anew
        observed = step.observed if step.action == "none" else self._await_health(res)
        message = observed.message or "; ".join(observed.drift)
        if observed.sync != Sync.SYNCED:
            return Outcome(res.id, step.action, "Failed", message, observed.sync, observed.health)
        return Outcome(res.id, step.action, "Succeeded", message, observed.sync, observed.health)

    def _await_health(self, res: Resource) -> Observed:
        deadline = time.monotonic() + self.health_wait
        observed = self.observe(res)
        while observed.health == Health.PROGRESSING and time.monotonic() < deadline:
            self.sleep(0.2)
            observed = self.observe(res)
        return observed

    def _remove(self, step: Step) -> Outcome:
        res = step.resource
        if step.action == "delete":
            try:
                self.providers[res.kind].delete(res)
            except Kept as exc:
                return Outcome(res.id, "orphan", "Succeeded", str(exc), Sync.OUT_OF_SYNC,
                               step.observed.health)  # fmt: skip
            except Exception as exc:
                return Outcome(res.id, "delete", "Failed", _message(exc),
                               Sync.OUT_OF_SYNC, Health.DEGRADED)  # fmt: skip
            return Outcome(res.id, "delete", "Succeeded", "deleted", Sync.SYNCED, Health.MISSING)
        if step.action == "forget":
            return Outcome(res.id, "forget", "Succeeded", "already gone", Sync.SYNCED,
                           Health.MISSING)  # fmt: skip
        why = "kept: removed from Git but holds data (deletion_policy is not delete)"
        if step.resource.kind not in DATA_BEARING:
            why = "kept: removed from Git, and prune is off"
        return Outcome(res.id, "orphan", "Succeeded", why, Sync.OUT_OF_SYNC, step.observed.health)


def _desired_step(res: Resource, obs: Observed) -> Step:
    if obs.health == Health.UNKNOWN and not obs.exists:
        return Step(res, "none", obs)  # could not look: change nothing, report Unknown
    if not obs.exists:
        return Step(res, "create", obs)
    return Step(res, "update" if obs.drift else "none", obs)


def _removal(res: Resource, obs: Observed, record: ResourceRecord, *, prune: bool) -> Action:
    if not obs.exists and obs.health == Health.MISSING:
        return "forget"
    if not prune or obs.health == Health.UNKNOWN:  # never delete what could not be looked at
        return "orphan"
    keep = res.kind in DATA_BEARING and record.spec.get("deletion_policy") != "delete"
    return "orphan" if keep and (res.kind != "queue" or obs.holds_data) else "delete"


def _resource(record: ResourceRecord) -> Resource:
    return Resource(record.kind, record.app, record.name, record.spec)


def _ready(outcome: Outcome) -> bool:
    return outcome.result == "Succeeded" and outcome.health == Health.HEALTHY


def _skipped(step: Step, waiting_for: list[str]) -> Outcome:
    res = step.resource
    message = f"not applied: waiting for {', '.join(waiting_for)}"
    return Outcome(res.id, step.action, "Skipped", message, Sync.OUT_OF_SYNC, step.observed.health)


def _message(exc: BaseException) -> str:
    """One line: the engine's own message (psycopg, redis, the queue layer ...)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
