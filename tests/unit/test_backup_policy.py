"""Backup policy from the spec, schedule firing, and which backups retention keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from comind.backup.manifest import CatalogEntry
from comind.backup.retention import plan
from comind.backup.schedule import Policy, due, overdue_seconds, policy
from comind.spec.model import Spec

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def spec(**apps: dict[str, Any]) -> Spec:
    return Spec.model_validate(
        {"platform": {"name": "p"}, "apps": {n: {"run": "x", **a} for n, a in apps.items()}}
    )


def test_policy_takes_every_schedule_and_the_most_generous_retention() -> None:
    got = policy(
        spec(
            a={"database": {"backup": {"schedule": "0 */6 * * *", "keep_full": 4}}},
            b={
                "database": {
                    "backup": {"schedule": "30 */6 * * *", "keep_full": 7, "keep_days": 30}
                }
            },
            c={"database": {}},
        )
    )
    assert got == Policy(("0 */6 * * *", "30 */6 * * *"), 7, 30)
    assert policy(spec(c={"database": {"backup": {"keep_full": 2}}})) is None
    assert policy(None) is None


def test_due_when_any_schedule_fired_since_the_last_run() -> None:
    assert not due(("0 * * * *",), T0, T0 + timedelta(minutes=59))
    assert due(("0 * * * *",), T0, T0 + timedelta(minutes=60))
    assert due(("0 * * * *", "*/10 * * * *"), T0, T0 + timedelta(minutes=10))


def entry(i: int, days_old: float, parent: str | None = None, kind: str = "full") -> CatalogEntry:
    finished = T0 - timedelta(days=days_old)
    return CatalogEntry.model_validate({
        "id": f"b{i}", "kind": kind, "app": None, "parent": parent, "status": "complete",
        "started_at": finished, "finished_at": finished, "start_lsn": None, "stop_lsn": None,
        "timeline": None, "size_bytes": 0, "key_id": None, "manifest": None, "error": None,
        "verify_status": None, "verified_at": None, "verify_error": None,
    })  # fmt: skip


def test_plan_keeps_the_newest_the_recent_and_what_they_depend_on() -> None:
    entries = [entry(1, 10), entry(2, 5), entry(3, 2), entry(4, 1), entry(5, 0.5, kind="logical")]
    assert plan(entries, keep_full=2, keep_days=None, now=T0) == {"b3", "b4"}
    assert plan(entries, keep_full=1, keep_days=6, now=T0) == {"b2", "b3", "b4"}
    chained = [*entries[:3], entry(6, 0.1, parent="b1")]
    assert plan(chained, keep_full=1, keep_days=None, now=T0) == {"b6", "b1"}


def test_incremental_backups_live_as_long_as_the_full_they_chain_from() -> None:
    entries = [
        entry(1, 10), entry(2, 9, "b1", "incr"), entry(3, 8, "b2", "incr"),
        entry(4, 2), entry(5, 1, "b4", "diff"), entry(6, 0.5, "b5", "incr"),
    ]  # fmt: skip
    assert plan(entries, keep_full=1, keep_days=None, now=T0) == {"b4", "b5", "b6"}
    assert plan(entries, keep_full=2, keep_days=None, now=T0) == {f"b{i}" for i in range(1, 7)}


def test_overdue_counts_from_the_first_fire_after_the_newest_backup() -> None:
    daily = ("0 3 * * *",)
    fired = T0.replace(hour=3)  # T0 is 10:00, so today's 03:00 fire is the latest
    started = T0 - timedelta(days=2)
    assert overdue_seconds(daily, fired + timedelta(minutes=5), started, T0) == 0.0
    assert overdue_seconds(daily, fired - timedelta(days=1), started, T0) == 7 * 3600
    assert overdue_seconds(daily, None, started, T0) == 31 * 3600  # due since yesterday 03:00
    assert overdue_seconds(daily, None, T0 - timedelta(hours=1), T0) == 0.0  # none came since


def test_overdue_grows_past_one_interval_when_hourly_backups_keep_failing() -> None:
    hourly = ("0 * * * *",)
    newest = T0 - timedelta(hours=6, minutes=30)  # 03:30; due at 04:00
    assert overdue_seconds(hourly, newest, T0 - timedelta(days=1), T0) == 6 * 3600
    assert overdue_seconds(hourly, T0 - timedelta(minutes=5), T0 - timedelta(days=1), T0) == 0.0
