"""The reconciler's rules, with providers that record what they are asked (the engines'
own behaviour is covered by the integration tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from comind.gitops.providers.base import MISSING, Health, Kept, Observed
from comind.gitops.reconcile import Reconciler
from comind.gitops.records import ResourceRecord
from comind.gitops.resources import Resource


@dataclass
class Recorder:
    """A provider whose live state is a dict; it logs every apply and delete."""

    live: dict[str, Observed] = field(default_factory=dict)
    after_apply: dict[str, Observed] = field(default_factory=dict)
    fail: set[str] = field(default_factory=set)
    keep: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def observe(self, res: Resource) -> Observed:
        if res.id == "queue/a/broken-observe":
            raise RuntimeError("connection pool timed out")
        return self.live.get(res.id, MISSING)

    def apply(self, res: Resource) -> None:
        self.calls.append(("apply", res.id))
        if res.id in self.fail:
            raise RuntimeError(f'extension "nosuchext" is not available ({res.id})')
        self.live[res.id] = self.after_apply.get(res.id, Observed(True))

    def delete(self, res: Resource) -> None:
        if res.id in self.keep:
            raise Kept("kept: messages arrived before it could be deleted")
        self.calls.append(("delete", res.id))
        self.live.pop(res.id, None)


def reconciler(p: Recorder) -> Reconciler:
    kinds = ("database", "cache", "bucket", "queue", "app", "secret", "topic", "subscription")
    return Reconciler(dict.fromkeys(kinds, p), health_wait=0.5, sleep=lambda s: None)


def record(kind: str, app: str, name: str, **spec: object) -> ResourceRecord:
    return ResourceRecord(f"{kind}/{app}/{name}", kind, app, name, dict(spec), "r1", "Synced",
                          "Healthy", "", False)  # fmt: skip


def test_dependencies_are_applied_first_and_a_failure_stops_only_its_dependents() -> None:
    p = Recorder(fail={"database/a/a"})
    db_a, db_b = Resource("database", "a", "a"), Resource("database", "b", "b")
    app_a = Resource("app", "a", "a", depends_on=("database/a/a",))
    app_b = Resource("app", "b", "b", depends_on=("database/b/b",))
    r = reconciler(p)
    outcomes = {o.id: o for o in r.apply(r.plan([app_a, db_a, db_b, app_b], [], prune=True))}
    assert outcomes["database/a/a"].result == "Failed"
    assert "nosuchext" in outcomes["database/a/a"].message
    assert outcomes["app/a/a"].result == "Skipped"
    assert "waiting for database/a/a" in outcomes["app/a/a"].message
    assert outcomes["app/b/b"].result == "Succeeded"
    assert p.calls.index(("apply", "database/b/b")) < p.calls.index(("apply", "app/b/b"))
    assert ("apply", "app/a/a") not in p.calls


def test_an_app_waits_for_the_apps_it_depends_on_to_be_healthy() -> None:
    degraded = Observed(True, (), Health.DEGRADED, "revision r2 never became healthy")
    p = Recorder(after_apply={"app/orders/orders": degraded})
    orders = Resource("app", "orders", "orders")
    payments = Resource("app", "payments", "payments", depends_on=("app/orders/orders",))
    r = reconciler(p)
    outcomes = {o.id: o for o in r.apply(r.plan([orders, payments], [], prune=True))}
    assert outcomes["app/payments/payments"].result == "Skipped"
    assert ("apply", "app/payments/payments") not in p.calls


def test_removal_rules_never_lose_data() -> None:
    holds = Observed(True, holds_data=True)
    empty = Observed(True)
    p = Recorder(live={
        "database/a/keep": holds, "database/a/drop": holds, "queue/a/full": holds,
        "queue/a/empty": empty, "queue/a/race": empty, "cache/a/a": empty, "bucket/a/files": empty,
    }, keep={"queue/a/race"})  # fmt: skip
    inventory = [
        record("database", "a", "keep", deletion_policy="retain"),
        record("database", "a", "drop", deletion_policy="delete"),
        record("queue", "a", "full", deletion_policy="retain"),
        record("queue", "a", "empty", deletion_policy="retain"),
        record("queue", "a", "race", deletion_policy="retain"),
        record("queue", "a", "broken-observe", deletion_policy="delete"),
        record("cache", "a", "a"),
        record("bucket", "a", "files", deletion_policy="retain"),
        record("topic", "platform", "gone"),
    ]
    r = reconciler(p)
    actions = {o.id: o.action for o in r.apply(r.plan([], inventory, prune=True))}
    assert actions == {
        "database/a/keep": "orphan", "database/a/drop": "delete", "queue/a/full": "orphan",
        "queue/a/empty": "delete", "queue/a/race": "orphan", "queue/a/broken-observe": "orphan",
        "cache/a/a": "delete", "bucket/a/files": "orphan", "topic/platform/gone": "forget",
    }  # fmt: skip
    assert {c for c in p.calls if c[0] == "delete"} == {
        ("delete", "database/a/drop"), ("delete", "queue/a/empty"), ("delete", "cache/a/a"),
    }  # fmt: skip


def test_without_prune_nothing_is_deleted() -> None:
    p = Recorder(live={"cache/a/a": Observed(True), "queue/a/empty": Observed(True)})
    inventory = [record("cache", "a", "a"), record("queue", "a", "empty", deletion_policy="delete")]
    r = reconciler(p)
    actions = {o.id: o.action for o in r.apply(r.plan([], inventory, prune=False))}
    assert actions == {"cache/a/a": "orphan", "queue/a/empty": "orphan"}
    assert p.calls == []


def test_a_resource_that_cannot_be_observed_is_left_alone_and_unknown() -> None:
    p = Recorder()
    r = reconciler(p)
    [step] = r.plan([Resource("queue", "a", "broken-observe")], [], prune=True)
    assert step.action == "none" and step.observed.sync == "Unknown"
    [outcome] = r.apply([step])
    assert outcome.result == "Failed" and outcome.sync == "Unknown"
    assert "pool timed out" in outcome.message
    assert p.calls == []
