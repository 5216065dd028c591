"""A sync: one revision of the repo, checked, planned, applied and recorded.

Syncs of one environment are serialized. A revision whose spec is invalid, or that fails
a gate (``require_signoff``, ``require_ci``), is refused before anything changes: the last
good revision keeps running and the refusal is recorded with the reason (``file:line``
for spec errors). Every attempt, dry runs included, is recorded with its revision, who or
what triggered it, and one outcome per resource.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from comind.errors import ComindError
from comind.gitops import metrics
from comind.gitops.reconcile import Outcome, Reconciler, Step
from comind.gitops.resources import Resource, render
from comind.spec import Spec, SpecError, load_spec
from comind.spec.model import SyncPolicy
from comind.stores.gitops_db import EnvironmentState, GitOpsRecords, ResourceRecord

log = logging.getLogger("comind.gitops")


class Source(Protocol):
    def fetch(self) -> str: ...
    def resolve(self, rev: str) -> str: ...
    def checkout(self, revision: str) -> Path: ...
    def describe(self, revision: str) -> dict[str, object]: ...


class Refused(ComindError):
    """The revision is not applied (invalid spec, gate not met)."""


@dataclass
class SyncReport:
    id: int
    revision: str
    outcome: str  # Succeeded | Failed | Refused | Planned
    message: str = ""
    steps: list[Step] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass(frozen=True)
class Desired:
    revision: str
    spec: Spec
    resources: list[Resource]


class SyncService:
    """Syncs one environment of the platform from its source."""

    def __init__(
        self,
        source: Source,
        env: str,
        records: GitOpsRecords,
        reconciler: Reconciler,
        *,
        on_applied: Callable[[Desired], None] = lambda d: None,
    ) -> None:
        self.source, self.env, self.records, self.reconciler = source, env, records, reconciler
        self.on_applied = on_applied
        self._lock = threading.Lock()
        self.current: Desired | None = None

    def policy(self) -> SyncPolicy:
        if self.current is None or self.env not in self.current.spec.environments:
            return SyncPolicy()
        return self.current.spec.environments[self.env].sync

    def desired(self, revision: str) -> Desired:
        """The spec and resources of ``revision``, or Refused (nothing changes)."""
        root = self.source.checkout(revision)
        try:
            spec = load_spec(root, self.env if _declares(root, self.env) else None)
        except SpecError as exc:
            lines = [str(issue).replace(f"{root}/", "") for issue in exc.issues]
            raise Refused("invalid spec: " + "; ".join(lines)) from None
        _gate(spec.environments.get(self.env), self.source.describe(revision))
        kinds = self.reconciler.providers
        resources = render(spec, root, revision)
        return Desired(revision, spec, [r for r in resources if r.kind in kinds])

    def sync(
        self,
        *,
        revision: str | None = None,
        trigger: str,
        dry_run: bool = False,
        apps: set[str] | None = None,
        on_done: Callable[[Outcome], None] = lambda o: None,
        on_plan: Callable[[list[Step]], None] = lambda s: None,
        on_started: Callable[[int], None] = lambda i: None,
    ) -> SyncReport:
        with self._lock:
            rev = self.source.resolve(revision) if revision else self.source.fetch()
            sync_id = self.records.start_sync(self.env, rev, trigger, dry_run=dry_run)
            on_started(sync_id)
            with metrics.SYNC_SECONDS.time():
                report = self._sync(sync_id, rev, dry_run, apps, on_done, on_plan)
            results = [o.as_dict() for o in report.outcomes] or [_planned(s) for s in report.steps]
            self.records.finish_sync(sync_id, report.outcome, report.message, results)
            metrics.SYNCS.labels(self.env, report.outcome).inc()
            log.info("sync %s of %s: %s %s", sync_id, rev, report.outcome, report.message)
            return report

    def _sync(
        self,
        sync_id: int,
        rev: str,
        dry_run: bool,
        apps: set[str] | None,
        on_done: Callable[[Outcome], None],
        on_plan: Callable[[list[Step]], None],
    ) -> SyncReport:
        try:
            desired = self.desired(rev)
        except (Refused, ComindError) as exc:
            self._remember(last_error=str(exc))
            return SyncReport(sync_id, rev, "Refused", str(exc))
        steps = self.plan(desired, apps)
        on_plan(steps)
        if dry_run:
            changes = sum(1 for s in steps if s.changes)
            return SyncReport(sync_id, rev, "Planned", f"{changes} change(s)", steps)
        self.current = desired
        outcomes = self.reconciler.apply(steps, on_done=on_done)
        self._record(rev, steps, outcomes)
        self.count_statuses()
        self.on_applied(desired)
        failed = [o for o in outcomes if o.result != "Succeeded"]
        if failed:
            self._remember(last_error=f"{len(failed)} resource(s) failed")
            return SyncReport(sync_id, rev, "Failed", f"{len(failed)} resource(s) not synced",
                              steps, outcomes)  # fmt: skip
        self._remember(last_good_revision=rev, last_error="")
        metrics.LAST_SUCCESS.labels(self.env).set_to_current_time()
        return SyncReport(sync_id, rev, "Succeeded", f"{len(outcomes)} resource(s)", steps,
                          outcomes)  # fmt: skip

    def plan(self, desired: Desired, apps: set[str] | None = None) -> list[Step]:
        resources, inventory = desired.resources, self.records.resources()
        if apps:
            resources = [r for r in resources if r.app in apps]
            inventory = [r for r in inventory if r.app in apps]
        prune = self.policy().prune if self.current else True
        return self.reconciler.plan(resources, inventory, prune=prune)

    def _record(self, rev: str, steps: list[Step], outcomes: list[Outcome]) -> None:
        results = {o.id: o for o in outcomes}
        for step in steps:
            res, outcome = step.resource, results[step.resource.id]
            if outcome.action in ("delete", "forget") and outcome.result == "Succeeded":
                self.records.forget(res.id)
                continue
            self.records.put_resource(ResourceRecord(
                res.id, res.kind, res.app, res.name, res.spec, rev, outcome.sync,
                outcome.health, outcome.message, orphaned=outcome.action == "orphan",
            ))  # fmt: skip

    def count_statuses(self) -> None:
        """Refresh ``comind_gitops_resources`` from the inventory."""
        counts = Counter((r.sync, r.health) for r in self.records.resources())
        metrics.RESOURCES.clear()
        for (sync, health), n in counts.items():
            metrics.RESOURCES.labels(sync, health).set(n)

    def _remember(self, **changes: Any) -> None:
        state = self.records.environment(self.env)
        self.records.put_environment(self.env, replace(state, **changes))

    def environment(self) -> EnvironmentState:
        return self.records.environment(self.env)


def _declares(root: Path, env: str) -> bool:
    """Whether the spec names ``env`` (a spec without environments syncs as is)."""
    try:
        return env in load_spec(root).environments
    except SpecError:
        return True  # let the real load report the errors


def _gate(env: Any, commit: dict[str, object]) -> None:
    if env is None:
        return
    short = str(commit.get("revision", ""))[:12]
    if env.sync.require_signoff and not commit.get("signed_off"):
        raise Refused(f"commit {short} has no Signed-off-by trailer (sync.require_signoff)")
    if env.sync.require_ci:
        raise Refused(
            f"commit {short}: sync.require_ci is set but this platform has no CI status source"
        )


def _planned(step: Step) -> dict[str, str]:
    return {"id": step.resource.id, "action": step.action,
            "drift": "; ".join(step.observed.drift)}  # fmt: skip
