"""Grafana dashboards (JSON model, schema 39) for the platform's metrics: Overview, Queues,
Flows, GitOps and Backups.

Each panel is a Prometheus time series query on a datasource chosen at import
(``${datasource}``), so the files work with any Prometheus scraping ``/metrics``.
"""

from __future__ import annotations

import json
import re
from typing import Any

Panel = tuple[str, str, str]  # title, PromQL, unit

DASHBOARDS: dict[str, list[Panel]] = {
    "overview": [
        ("Engines up", "comind_engine_up", "none"),
        ("Engine restarts (1h)", "increase(comind_engine_restarts_total[1h])", "none"),
        ("Apps up", "comind_app_up", "none"),
        ("App restarts (1h)", "increase(comind_app_restarts_total[1h])", "none"),
        ("API p99 latency", "histogram_quantile(0.99, sum by (le, route) "
         "(rate(comind_http_request_duration_seconds_bucket[5m])))", "s"),
        ("Alert notifications", "sum by (outcome) (rate(comind_alert_notifications_total[5m]))",
         "ops"),
    ],
    "queues": [
        ("Messages by queue", "sum by (queue) (comind_queue_messages)", "none"),
        ("Oldest message age", "comind_queue_oldest_message_age_seconds", "s"),
        ("Sent / s", "sum by (queue) (rate(comind_queue_sent_messages_total[5m]))", "ops"),
        ("Received / s", "sum by (queue) (rate(comind_queue_received_messages_total[5m]))", "ops"),
        ("Deleted / s", "sum by (queue) (rate(comind_queue_deleted_messages_total[5m]))", "ops"),
        ("Dead-lettered (1h)",
         "sum by (queue) (increase(comind_queue_dead_lettered_messages_total[1h]))", "none"),
        ("Receive p99", "histogram_quantile(0.99, sum by (le, queue) "
         "(rate(comind_queue_receive_seconds_bucket[5m])))", "s"),
        ("SQS requests / s",
         "sum by (action) (rate(comind_sqs_request_duration_seconds_count[5m]))", "reqps"),
        ("Outbox lag", "comind_outbox_lag_seconds", "s"),
    ],
    "flows": [
        ("Records / s by outcome",
         "sum by (flow, outcome) (rate(comind_flow_records_total[5m]))", "ops"),
        ("End-to-end p99", "histogram_quantile(0.99, sum by (le, flow) "
         "(rate(comind_flow_end_to_end_seconds_bucket[5m])))", "s"),
        ("Step p99", "histogram_quantile(0.99, sum by (le, flow, step) "
         "(rate(comind_flow_step_seconds_bucket[5m])))", "s"),
        ("Lag", "max by (flow) (comind_flow_lag_seconds)", "s"),
        ("Quarantined (1h)", "sum by (flow, step) "
         "(increase(comind_flow_step_records_total{outcome=\"quarantined\"}[1h]))", "none"),
        ("Retries (1h)", "sum by (flow, step) (increase(comind_flow_retries_total[1h]))", "none"),
        ("Partition run p95", "histogram_quantile(0.95, sum by (le, flow) "
         "(rate(comind_flow_partition_seconds_bucket[1h])))", "s"),
        ("Enrich cache hits / s", "sum by (flow, outcome) "
         "(rate(comind_flow_cache_requests_total[5m]))", "ops"),
        ("Ingested / s", "sum by (flow) (rate(comind_flow_ingested_records_total[5m]))", "ops"),
    ],
    "gitops": [
        ("Syncs by outcome (1h)", "sum by (outcome) (increase(comind_gitops_syncs_total[1h]))",
         "none"),
        ("Sync duration p95", "histogram_quantile(0.95, "
         "rate(comind_gitops_sync_duration_seconds_bucket[1h]))", "s"),
        ("Resources by status", "sum by (sync, health) (comind_gitops_resources)", "none"),
        ("Drift detected (1h)", "sum by (kind) (increase(comind_gitops_drift_detected_total[1h]))",
         "none"),
        ("Since last successful sync",
         "time() - comind_gitops_last_successful_sync_timestamp_seconds", "s"),
    ],
    "backups": [
        ("WAL archive lag (RPO)", "comind_backup_wal_archive_lag_seconds", "s"),
        ("Since last backup", "time() - comind_backup_last_success_timestamp_seconds", "s"),
        ("Since last verification",
         "time() - comind_backup_last_verified_timestamp_seconds", "s"),
        ("Schedule overdue", "comind_backup_overdue_seconds", "s"),
        ("Backup size", "comind_backup_size_bytes", "bytes"),
        ("Backup duration", "comind_backup_duration_seconds", "s"),
        ("WAL files shipped / s", "rate(comind_backup_wal_segments_archived_total[5m])", "ops"),
        ("WAL ship failures (1h)", "increase(comind_backup_wal_ship_failures_total[1h])", "none"),
    ],
}  # fmt: skip
_METRIC = re.compile(r"\bcomind_[a-z0-9_]+")


def dashboard(name: str) -> dict[str, Any]:
    panels = [_panel(i, *panel) for i, panel in enumerate(DASHBOARDS[name])]
    return {
        "title": f"Comind-Ops / {name.capitalize()}", "uid": f"comind-{name}",
        "schemaVersion": 39, "version": 1, "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s", "tags": ["comind"], "panels": panels,
        "templating": {"list": [{"name": "datasource", "type": "datasource",
                                 "query": "prometheus", "label": "Prometheus"}]},
    }  # fmt: skip


def _panel(index: int, title: str, expr: str, unit: str) -> dict[str, Any]:
    return {
        "id": index + 1, "type": "timeseries", "title": title,
        "gridPos": {"x": (index % 2) * 12, "y": (index // 2) * 8, "w": 12, "h": 8},
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": "A", "expr": expr, "datasource": {"type": "prometheus",
                                                               "uid": "${datasource}"}}],
    }  # fmt: skip


def metric_names(name: str) -> set[str]:
    """The metric families a dashboard reads (``_bucket``/``_count`` folded to the family)."""
    names = {m for _, expr, _ in DASHBOARDS[name] for m in _METRIC.findall(expr)}
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in names}


def render(name: str) -> str:
    return json.dumps(dashboard(name), indent=2) + "\n"
