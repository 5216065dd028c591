"""Prometheus alerting rules: built-in defaults plus the spec's ``alerts:``.

The same file serves a real Prometheus (``comind observe rules --out``) and is checked with
``promtool`` in the tests. The defaults use only metrics the platform exports, and only the
PromQL subset the embedded evaluator runs itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import yaml

from comind.observe.alerting import AlertRule
from comind.spec import Spec
from comind.spec.scalars import show_duration, whole_seconds


@dataclass(frozen=True)
class Rule:
    alert: str
    expr: str
    for_seconds: int
    severity: str
    summary: str

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alert": self.alert, "expr": self.expr}
        if self.for_seconds:
            out["for"] = f"{self.for_seconds}s"
        out["labels"] = {"severity": self.severity}
        out["annotations"] = {"summary": self.summary}
        return out


DEFAULTS = (
    Rule("ComindEngineDown", "comind_engine_up == 0", 60, "critical",
         "embedded engine {{ $labels.engine }} does not answer its health check"),
    Rule("ComindDeadLettersPresent",
         'sum by (queue) (comind_queue_messages{queue=~".*-dlq(\\\\.fifo)?"}) > 0', 300,
         "warning", "dead letters wait in {{ $labels.queue }}"),
    Rule("ComindConsumerLag", "comind_queue_oldest_message_age_seconds > 300", 300, "warning",
         "the oldest message in {{ $labels.queue }} is over 5 minutes old"),
    Rule("ComindSyncFailed",
         'increase(comind_gitops_syncs_total{outcome=~"Failed|Refused"}[15m]) > 0', 0,
         "warning", "a sync of {{ $labels.env }} failed or was refused"),
    Rule("ComindAppDegraded", "comind_app_up == 0", 120, "critical",
         "app {{ $labels.app }} has no healthy instance"),
    Rule("ComindFlowDeadLetters",
         'sum by (flow) (increase(comind_flow_records_total{outcome="dead_lettered"}[15m])) > 0',
         0, "warning", "flow {{ $labels.flow }} dead-lettered records in the last 15 minutes"),
    Rule("ComindFlowLag", "max by (flow) (comind_flow_lag_seconds) > 300", 300, "warning",
         "flow {{ $labels.flow }} is over 5 minutes behind its source"),
    Rule("ComindFlowErrors",
         'sum by (flow) (rate(comind_flow_records_total{outcome=~"quarantined|dead_lettered"}'
         '[5m])) > 1', 300, "warning",
         "flow {{ $labels.flow }} refuses over one record per second (quarantined or "
         "dead-lettered)"),
    Rule("ComindBackupOverdue", "comind_backup_overdue_seconds > 3600", 0, "critical",
         "the scheduled backup has not completed for over an hour after its schedule fired"),
    Rule("ComindBackupRestoreTestFailed", "comind_backup_restore_test_failed > 0", 0,
         "critical", "a {{ $labels.kind }} backup failed its restore test: it may not restore "
         "(comind backup ls)"),
    Rule("ComindBackupRestoreTestOverdue", "comind_backup_restore_test_overdue_seconds > 0", 0,
         "warning", "a {{ $labels.kind }} backup waits longer than allowed for its restore test"),
    Rule("ComindWalArchiveLag", "comind_backup_wal_archive_lag_seconds > 300", 300, "critical",
         "WAL has waited over 5 minutes to reach the backup store (point-in-time recovery "
         "would lose it)"),
)  # fmt: skip


def objectives(spec: Spec | None) -> list[Rule]:
    """One rule per RPO and RTO a database's ``backup:`` sets."""
    out = []
    for app, declared in spec.apps.items() if spec else []:
        backup = declared.database.backup if declared.database else None
        if declared.database is None or backup is None:
            continue
        db = declared.database.name or app
        for what, goal, lost in (
            ("rpo", backup.rpo, "could lose more than"),
            ("rto", backup.rto, "would take longer than"),
        ):
            if goal is not None:
                expr = f'comind_backup_{what}_seconds{{database="{db}"}} > {whole_seconds(goal)}'
                out.append(Rule(f"ComindBackup{what.upper()}Exceeded", expr, 60, "critical",
                                f"database {db}: a restore now {lost} its {what.upper()} of "
                                f"{show_duration(goal)}"))  # fmt: skip
    return out


def alert_rules(spec: Spec | None) -> list[AlertRule]:
    """The rules the embedded evaluator runs: the defaults, the databases' objectives and
    the spec's alerts."""
    out = [AlertRule(r.alert, r.expr, r.for_seconds, {"severity": r.severity},
                     {"summary": r.summary}) for r in (*DEFAULTS, *objectives(spec))]  # fmt: skip
    for a in spec.alerts if spec else []:
        labels = {"severity": a.severity, **a.labels}
        out.append(AlertRule(a.name, a.expr, whole_seconds(a.for_), labels, dict(a.annotations)))
    return out


def rules(spec: Spec | None) -> dict[str, Any]:
    """The rule groups: ``comind-builtin`` and, with a spec, one group for its alerts."""
    groups = [{"name": "comind-builtin", "rules": [r.as_dict() for r in DEFAULTS]}]
    if found := objectives(spec):
        groups.append({"name": "comind-objectives", "rules": [r.as_dict() for r in found]})
    if spec is not None and spec.alerts:
        groups.append({"name": f"{spec.platform.name}-spec", "rules": [
            {"alert": a.name, "expr": a.expr, **_for(a.for_),
             "labels": {"severity": a.severity, **a.labels}, "annotations": dict(a.annotations)}
            for a in spec.alerts
        ]})  # fmt: skip
    return {"groups": groups}


def _for(duration: timedelta) -> dict[str, str]:
    return {"for": f"{whole_seconds(duration)}s"} if duration else {}


def render(spec: Spec | None) -> str:
    return yaml.safe_dump(rules(spec), sort_keys=False, allow_unicode=True)
