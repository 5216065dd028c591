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

from comind.cicd.deployments import DeploymentRecords
from comind.cicd.runs import Verdict
from comind.errors import ComindError
from comind.gitops import metrics
from comind.gitops.reconcile import Outcome, Reconciler, Step
from comind.gitops.records import EnvironmentState, GitOpsRecords, ResourceRecord
from comind.gitops.resources import Resource, render
from comind.spec import Spec, SpecError, load_spec
from comind.spec.model import SyncPolicy

log = logging.getLogger("comind.gitops")


class Source(Protocol):
    def fetch(self) -> str: ...
    def resolve(self, rev: str) -> str: ...
    def followed(self, rev: str) -> str: ...
    def checkout(self, revision: str) -> Path: ...
    def describe(self, revision: str) -> dict[str, object]: ...
    def pin(self, *revisions: str) -> None: ...


class Refused(ComindError):
    """The revision is not applied (invalid spec, gate not met: ``gate`` names it)."""

    def __init__(self, message: str, *, gate: str = "spec") -> None:
        super().__init__(message)
        self.gate = gate


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
    root: Path | None = None  # the checkout
    env: str | None = None  # the environment overlay applied, if the repo declares one


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
        ci: Callable[[str], Verdict] | None = None,
        deployments: DeploymentRecords | None = None,
        impossible: Callable[[Spec], list[str]] | None = None,
    ) -> None:
        self.source, self.env, self.records, self.reconciler = source, env, records, reconciler
        self.on_applied, self.ci, self.deployments = on_applied, ci, deployments
        self.impossible = impossible  # what the platform's engines cannot do of a spec
        self._pin: tuple[str, str | None] | None = None  # a head and the commit it pins
        self._marked: tuple[str, str] | None = None  # the revision and health last recorded
        self._lock = threading.Lock()
        self.current: Desired | None = None  # the revision applied in full
        self.applying: Desired | None = None  # the revision being applied right now

    def policy(self, desired: Desired | None = None) -> SyncPolicy:
        """The environment's sync policy in ``desired`` (default: the applied revision)."""
        chosen = desired or self.current
        if chosen is None or self.env not in chosen.spec.environments:
            return SyncPolicy()
        return chosen.spec.environments[self.env].sync

    def desired(self, revision: str) -> Desired:
        """The spec and resources of ``revision``, or Refused (nothing changes)."""
        root = self.source.checkout(revision)
        overlay = self.env if _declares(root, self.env) else None
        try:
            spec = load_spec(root, overlay)
        except SpecError as exc:
            lines = [str(issue).replace(f"{root}/", "") for issue in exc.issues]
            raise Refused("invalid spec: " + "; ".join(lines)) from None
        if self.impossible and (problems := self.impossible(spec)):
            raise Refused("not possible on this platform's engines: " + "; ".join(problems))
        # the gates of the applied revision hold too: a commit cannot lift its own gate
        gates = [spec.environments.get(self.env)]
        if self.current is not None:
            gates.append(self.current.spec.environments.get(self.env))
        try:
            _gate(gates, self.source.describe(revision), self.ci)
        except Refused as exc:
            metrics.GATE_REFUSALS.labels(self.env, exc.gate).inc()
            raise
        kinds = self.reconciler.providers
        resources = render(spec, root, revision, overlay)
        return Desired(revision, spec, [r for r in resources if r.kind in kinds], root, overlay)

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
        """Sync ``revision`` (default: the newest), as asked by a person or at start-up."""
        with self._lock:
            rev, trigger = (self.source.resolve(revision), trigger) if revision else (
                self._newest(trigger))  # fmt: skip
            return self._locked(rev, trigger, dry_run, apps, on_done, on_plan, on_started)

    def _newest(self, trigger: str) -> tuple[str, str]:
        """The revision to run and what the history says of it: the branch's newest, or the
        commit the newest pins this environment to (``environments.ENV.revision``, written
        by ``comind promote``)."""
        head = self.source.fetch()
        pin = self._pin_of(head)
        if pin is None:
            return head, trigger
        try:
            pinned = self.source.resolve(pin)
        except ComindError:
            pinned = pin  # its sync fails and the history says it is no commit
        return pinned, f"{trigger}, pinned at {head[:12]}"

    def _pin_of(self, head: str) -> str | None:
        """The commit ``head``'s spec pins this environment to, read once per head (every
        poll asks again)."""
        if self._pin is None or self._pin[0] != head:
            root = self.source.checkout(head)
            try:
                env = load_spec(root, self.env if _declares(root, self.env) else None
                                ).environments.get(self.env)  # fmt: skip
            except SpecError:
                env = None  # the sync of it says what is wrong
            self._pin = (head, env.revision if env else None)
        return self._pin[1]

    def startup(self) -> SyncReport:
        """The first sync of a platform start: the newest revision, unless auto-sync is
        paused (a rollback) or off, or the newest is refused, and an earlier revision was
        applied before: then that one again, so a restart does not roll anything forward."""
        last = self.environment().last_good_revision
        if last is None:
            return self.sync(trigger="startup")
        newest, _ = self._newest("startup")
        try:
            auto = self.policy(self.desired(newest)).auto
        except ComindError:
            auto = False  # the newest is refused: keep what ran
        if auto and not self.environment().auto_sync_paused:
            return self.sync(revision=newest, trigger="startup")
        try:
            return self.sync(revision=last, trigger="startup (last applied revision)")
        except ComindError:  # a folder source keeps no history: its content is all there is
            return self.sync(revision=newest, trigger="startup")

    def sync_automatic(
        self, *, trigger: str, revision: str | None = None, only_if_current: str | None = None
    ) -> SyncReport | None:
        """A sync the platform starts itself (poll, webhook, self-heal); None when skipped:
        auto-sync is off or paused, the newest revision is already applied, or (with
        ``only_if_current``) another revision was applied meanwhile. Decided under the sync
        lock, so a background sync never undoes a newer sync or a rollback."""
        with self._lock:
            if not self._may_run(only_if_current):
                return None
            rev, trigger = (self.source.resolve(revision), trigger) if revision else (
                self._newest(trigger))  # fmt: skip
            if revision is None and self.current and self.current.revision == rev:
                return None
            return self._locked(rev, trigger, False, None, lambda o: None, lambda s: None,
                                lambda i: None)  # fmt: skip

    def _locked(
        self,
        rev: str,
        trigger: str,
        dry_run: bool,
        apps: set[str] | None,
        on_done: Callable[[Outcome], None],
        on_plan: Callable[[list[Step]], None],
        on_started: Callable[[int], None],
    ) -> SyncReport:
        """One recorded sync of ``rev``; the caller holds the sync lock."""
        sync_id = self.records.start_sync(self.env, rev, trigger, dry_run=dry_run)
        on_started(sync_id)
        report = SyncReport(sync_id, rev, "Failed", "the sync stopped on an error")
        try:
            with metrics.SYNC_SECONDS.time():
                report = self._sync(sync_id, rev, dry_run, apps, on_done, on_plan)
        finally:
            self.applying = None
            results = [o.as_dict() for o in report.outcomes] or [_planned(s) for s in report.steps]
            self.records.finish_sync(sync_id, report.outcome, report.message, results)
            metrics.SYNCS.labels(self.env, report.outcome).inc()
            log.info("sync %s of %s: %s %s", sync_id, rev, report.outcome, report.message)
            if not dry_run and (report.outcome == "Succeeded" or report.outcomes):
                self._deployed(sync_id, rev, report.outcome)
        return report

    def _deployed(self, sync_id: int, rev: str, outcome: str) -> None:
        """A sync applied ``rev``: its deployment record (a record that cannot be written
        is logged; the sync stands)."""
        if self.deployments is None:
            return
        self._marked = None  # the new deployment's health is still to be recorded
        try:
            verdict = self.ci(rev) if self.ci else None
            self.deployments.record(sync_id, self.env, rev, outcome, self.source.describe(rev),
                                    verdict)  # fmt: skip
        except ComindError as exc:
            log.warning("the deployment of %s was not recorded: %s", rev[:12], exc)

    def _may_run(self, only_if_current: str | None) -> bool:
        if only_if_current is not None and (
            self.current is None or self.current.revision != only_if_current
        ):
            return False
        paused = self.records.environment(self.env).auto_sync_paused
        return self.policy().auto and not paused

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
        except Refused as exc:
            self.remember(last_error=str(exc))
            return SyncReport(sync_id, rev, "Refused", str(exc))
        except ComindError as exc:  # the source could not be read (network, missing ref)
            self.remember(last_error=str(exc))
            return SyncReport(sync_id, rev, "Failed", str(exc))
        steps = self.plan(desired, apps)
        on_plan(steps)
        if dry_run:
            changes = sum(1 for s in steps if s.changes)
            return SyncReport(sync_id, rev, "Planned", f"{changes} change(s)", steps)
        self.applying = desired
        outcomes = self.reconciler.apply(steps, on_done=on_done)
        self._record(rev, steps, outcomes)
        self.count_statuses()
        if apps is None:  # only a full sync makes a revision the applied one
            self.current = desired
            self.on_applied(desired)
        # apps run from this checkout: it must outlive later checkouts
        self.source.pin(*{d.revision for d in (self.current, desired) if d is not None})
        failed = [o for o in outcomes if o.result != "Succeeded"]
        if apps is not None:
            outcome = "Failed" if failed else "Succeeded"
            return SyncReport(sync_id, rev, outcome, f"apps {', '.join(sorted(apps))} only",
                              steps, outcomes)  # fmt: skip
        if failed:
            self.remember(last_error=f"{len(failed)} resource(s) failed")
            return SyncReport(sync_id, rev, "Failed", f"{len(failed)} resource(s) not synced",
                              steps, outcomes)  # fmt: skip
        self.remember(last_good_revision=rev, last_error="")
        metrics.LAST_SUCCESS.labels(self.env).set_to_current_time()
        return SyncReport(sync_id, rev, "Succeeded", f"{len(outcomes)} resource(s)", steps,
                          outcomes)  # fmt: skip

    def plan(self, desired: Desired, apps: set[str] | None = None) -> list[Step]:
        resources, inventory = desired.resources, self.records.resources()
        if apps:
            resources = [r for r in resources if r.app in apps]
            inventory = [r for r in inventory if r.app in apps]
        prune = self.policy(desired).prune  # the revision being applied decides
        return self.reconciler.plan(resources, inventory, prune=prune)

    def _record(self, rev: str, steps: list[Step], outcomes: list[Outcome]) -> None:
        """The inventory after a sync. A resource keeps the spec (and revision) last
        *applied* to it: a failed or skipped change does not rewrite its deletion_policy."""
        results = {o.id: o for o in outcomes}
        before = {r.id: r for r in self.records.resources()}
        for step in steps:
            res, outcome = step.resource, results[step.resource.id]
            if outcome.action in ("delete", "forget") and outcome.result == "Succeeded":
                self.records.forget(res.id)
                continue
            old = before.get(res.id)
            applied = outcome.result == "Succeeded" or old is None
            spec, revision = (res.spec, rev) if applied else (old.spec, old.revision)  # type: ignore[union-attr]
            self.records.put_resource(ResourceRecord(
                res.id, res.kind, res.app, res.name, spec, revision, outcome.sync,
                outcome.health, outcome.message, orphaned=outcome.action == "orphan",
            ))  # fmt: skip

    def record_statuses(self, revision: str, steps: list[Step]) -> None:
        """Write what a refresh observed, unless a sync applied another revision meanwhile."""
        with self._lock:
            if self.current is None or self.current.revision != revision:
                return
            for step in steps:
                if step.action not in ("create", "update", "none"):
                    continue  # orphans keep the status their removal gave them
                obs = step.observed
                message = obs.message or "; ".join(obs.drift)
                self.records.set_status(step.resource.id, obs.sync, obs.health, message)
            seen = (revision, _overall(steps))
            if self.deployments is not None and seen != self._marked:  # once per change
                self.deployments.mark(self.env, *seen)
                self._marked = seen

    def count_statuses(self) -> None:
        """Refresh ``comind_gitops_resources`` from the inventory."""
        counts = Counter((r.sync, r.health) for r in self.records.resources())
        metrics.RESOURCES.clear()
        for (sync, health), n in counts.items():
            metrics.RESOURCES.labels(sync, health).set(n)

    def remember(self, **changes: Any) -> None:
        """Change fields of the environment's recorded state (last error, pause, ...)."""
        state = self.records.environment(self.env)
        self.records.put_environment(self.env, replace(state, **changes))

    def environment(self) -> EnvironmentState:
        return self.records.environment(self.env)


def _overall(steps: list[Step]) -> str:
    """Degraded when a resource is, Healthy when every one is, else Progressing."""
    healths = {s.observed.health for s in steps if s.action in ("create", "update", "none")}
    if "Degraded" in healths:
        return "Degraded"
    return "Healthy" if healths <= {"Healthy"} else "Progressing"


def _declares(root: Path, env: str) -> bool:
    """Whether the spec names ``env`` (a spec without environments syncs as is)."""
    try:
        return env in load_spec(root).environments
    except SpecError:
        return True  # let the real load report the errors


def _gate(envs: list[Any], commit: dict[str, object],
          ci: Callable[[str], Verdict] | None) -> None:  # fmt: skip
    """Refuse ``commit`` unless it meets every gate any of ``envs`` sets."""
    policies = [env.sync for env in envs if env is not None]
    sha = str(commit.get("revision", ""))
    if any(p.require_signoff for p in policies) and not commit.get("signed_off"):
        raise Refused(f"commit {sha[:12]} has no Signed-off-by trailer (sync.require_signoff)",
                      gate="signoff")  # fmt: skip
    if any(p.require_ci for p in policies):
        verdict = ci(sha) if ci else Verdict(False, "this platform records no CI results")
        if not verdict.green:
            raise Refused(f"commit {sha[:12]}: {verdict.reason} (sync.require_ci)", gate="ci")


def _planned(step: Step) -> dict[str, str]:
    return {"id": step.resource.id, "action": step.action,
            "drift": "; ".join(step.observed.drift)}  # fmt: skip
