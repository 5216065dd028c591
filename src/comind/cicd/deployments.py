"""Deployments as data: each sync that applied a revision (succeeded or failed), its commit,
its CI when it went out (the gate's verdict, the tests its runs reported, the artifacts built
from it), and the health the environment reached on it; and the four DORA metrics computed
from them.

- **Deployment frequency**: successful deployments per day over the window.
- **Lead time for changes**: the median time from a deployed commit's commit time to the end
  of the sync that deployed it.
- **Change failure rate**: the share of deployments that failed (the sync failed) or whose
  revision went degraded before it was ever healthy.
- **Time to restore**: the median time from a failed deployment to the next deployment that
  became healthy.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge

from comind.cicd.runs import Verdict
from comind.observe.metrics import REGISTRY
from comind.stores.postgres import Json, Pool, dict_rows
from comind.stores.queries import named

_sql = named("comind.cicd", "deployments")
MAX_WINDOW_ROWS = 10_000

DEPLOYMENTS = Counter("comind_deployments_total", "Syncs that applied a revision, by "
                      "environment and outcome (Succeeded, Failed).", ["env", "outcome"],
                      registry=REGISTRY)  # fmt: skip
FREQUENCY = Gauge("comind_dora_deployments_per_day", "DORA deployment frequency: successful "
                  "deployments per day over the last 30 days.", ["env"],
                  registry=REGISTRY)  # fmt: skip
LEAD_TIME = Gauge("comind_dora_lead_time_seconds", "DORA lead time for changes: median time "
                  "from commit to deployed, last 30 days.", ["env"], registry=REGISTRY)  # fmt: skip
FAILURE_RATE = Gauge("comind_dora_change_failure_ratio", "DORA change failure rate: share of "
                     "deployments that failed or went degraded, last 30 days.", ["env"],
                     registry=REGISTRY)  # fmt: skip
RESTORE = Gauge("comind_dora_time_to_restore_seconds", "DORA time to restore: median time from "
                "a failed deployment to the next healthy one, last 30 days.", ["env"],
                registry=REGISTRY)  # fmt: skip


@dataclass(frozen=True)
class Dora:
    env: str
    days: int
    deployments: int
    per_day: float
    lead_time_seconds: float | None
    change_failure_rate: float | None
    time_to_restore_seconds: float | None


class DeploymentRecords:
    """The deployments of ``comind.deployments`` (migration 0024)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def record(self, sync_id: int, env: str, revision: str, outcome: str,
               commit: dict[str, object], ci: Verdict | None) -> None:  # fmt: skip
        """A sync that applied ``revision``; ``commit``: the source's facts about it."""
        committed = commit.get("committed_at")
        with self.pool.connection() as conn:
            tests, artifacts = conn.execute(_sql("built"), {"revision": revision}).fetchone() or (
                [], [])  # fmt: skip
            built = {"tests": _summed(tests), "artifacts": artifacts}
            conn.execute(_sql("record"), {
                "sync_id": sync_id, "env": env, "revision": revision,
                "subject": str(commit.get("subject") or "")[:200],
                "committed_at": datetime.fromisoformat(str(committed)) if committed else None,
                "ci": Json({"green": ci.green, "reason": ci.reason, **built} if ci else built),
            })  # fmt: skip
        DEPLOYMENTS.labels(env, outcome).inc()
        self.refresh_metrics(env)

    def mark(self, env: str, revision: str, health: str) -> None:
        """The environment runs ``revision`` at ``health``: its deployment's first healthy
        (or, before that, degraded) moment."""
        query = {"Healthy": "mark_healthy", "Degraded": "mark_degraded"}.get(health)
        if query is None:
            return
        with self.pool.connection() as conn:
            changed = conn.execute(_sql(query), {"env": env, "revision": revision}).fetchone()
        if changed:
            self.refresh_metrics(env)

    def log(self, env: str | None, limit: int, since: datetime | None = None
            ) -> list[dict[str, Any]]:  # fmt: skip
        """Deployments, newest first."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_rows) as cur:
            return list(cur.execute(_sql("log"), {"env": env, "limit": limit, "since": since}))

    def dora(self, env: str, days: int = 30, now: datetime | None = None) -> Dora:
        at = now or datetime.now(UTC)
        rows = self.log(env, MAX_WINDOW_ROWS, since=at - timedelta(days=days))[::-1]
        return dora(env, days, rows)

    def refresh_metrics(self, env: str) -> None:
        found = self.dora(env)
        FREQUENCY.labels(env).set(found.per_day)
        for gauge, value in ((LEAD_TIME, found.lead_time_seconds),
                             (FAILURE_RATE, found.change_failure_rate),
                             (RESTORE, found.time_to_restore_seconds)):  # fmt: skip
            gauge.labels(env).set(float("nan") if value is None else value)


def dora(env: str, days: int, rows: list[dict[str, Any]]) -> Dora:
    """The DORA metrics of ``rows`` (deployments oldest first)."""
    good = [r for r in rows if r["outcome"] == "Succeeded"]
    leads = [(r["finished_at"] - r["committed_at"]).total_seconds() for r in good
             if r["committed_at"] and r["finished_at"]]  # fmt: skip
    failed = [_failed(r) for r in rows]
    restores = []
    for n, row in enumerate(rows):
        if not failed[n]:
            continue
        back = next((r for r in rows[n + 1 :] if r["healthy_at"]), None)
        if back is not None and row["finished_at"]:
            restores.append((back["healthy_at"] - row["finished_at"]).total_seconds())
    return Dora(env, days, len(good), round(len(good) / days, 3),
                statistics.median(leads) if leads else None,
                round(sum(failed) / len(rows), 3) if rows else None,
                statistics.median(restores) if restores else None)  # fmt: skip


def _summed(totals: list[dict[str, float]]) -> dict[str, float] | None:
    """The test totals of a commit's CI runs added up (None: no run reported tests)."""
    if not totals:
        return None
    keys = ("tests", "failures", "errors", "skipped", "seconds")
    return {k: round(sum(t.get(k, 0) for t in totals), 3) for k in keys}


def _failed(row: dict[str, Any]) -> bool:
    return row["outcome"] == "Failed" or bool(row["degraded_at"] and not row["healthy_at"])
