"""Metrics of the GitOps control plane."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from comind.observe.metrics import REGISTRY

SYNC_SECONDS = Histogram(
    "comind_gitops_sync_duration_seconds",
    "Time a sync took (plan and apply).",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
    registry=REGISTRY,
)
SYNCS = Counter(
    "comind_gitops_syncs_total",
    "Syncs by outcome (Succeeded, Failed, Refused, Planned).",
    ["env", "outcome"],
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "comind_gitops_last_successful_sync_timestamp_seconds",
    "When the last sync of the environment succeeded (Unix time).",
    ["env"],
    registry=REGISTRY,
)
DRIFT = Counter(
    "comind_gitops_drift_detected_total",
    "Resources found changed or deleted outside Git.",
    ["kind"],
    registry=REGISTRY,
)
RESOURCES = Gauge(
    "comind_gitops_resources",
    "Managed resources by sync and health status.",
    ["sync", "health"],
    registry=REGISTRY,
)
GATE_REFUSALS = Counter(
    "comind_gitops_gate_refusals_total",
    "Revisions a sync gate kept out of the environment (gate: signoff, ci).",
    ["env", "gate"],
    registry=REGISTRY,
)
