"""Flow metrics. Workers are separate processes: they write these through prometheus_client's
multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, set by the platform when it starts them),
and the platform's ``/metrics`` merges them in (:mod:`comind.observe.multiprocess`)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram

from comind.observe.metrics import REGISTRY

RECORDS = Counter(
    "comind_flow_records_total",
    "Records of a flow by outcome: in (read from the source), out (committed to a sink), "
    "quarantined, dead_lettered.",
    ["flow", "outcome"],
    registry=REGISTRY,
)
STEP_RECORDS = Counter(
    "comind_flow_step_records_total",
    "Records leaving a step, by outcome: kept, quarantined, failed (after its retries).",
    ["flow", "step", "outcome"],
    registry=REGISTRY,
)
STEP_SECONDS = Histogram(
    "comind_flow_step_seconds",
    "Time one step took over one batch.",
    ["flow", "step"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
    registry=REGISTRY,
)
END_TO_END_SECONDS = Histogram(
    "comind_flow_end_to_end_seconds",
    "Time from a record entering the platform (its source enqueue) to its sink commit.",
    ["flow"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
LAG_SECONDS = Gauge(
    "comind_flow_lag_seconds",
    "Age of the oldest record the flow's source has not processed yet.",
    ["flow"],
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
RETRIES = Counter(
    "comind_flow_retries_total",
    "Retries of a step or sink after an error.",
    ["flow", "step"],
    registry=REGISTRY,
)
PARTITION_SECONDS = Histogram(
    "comind_flow_partition_seconds",
    "Duration of one batch partition run, by outcome (succeeded | failed).",
    ["flow", "outcome"],
    buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800),
    registry=REGISTRY,
)
CACHE_REQUESTS = Counter(
    "comind_flow_cache_requests_total",
    "Lookups of an enrich step's cache, by outcome (hit | miss).",
    ["flow", "outcome"],
    registry=REGISTRY,
)
WINDOWS_EMITTED = Counter(
    "comind_flow_windows_emitted_total",
    "Windows a windowed flow closed and wrote to its sinks.",
    ["flow"],
    registry=REGISTRY,
)
INGESTED = Counter(
    "comind_flow_ingested_records_total",
    "Records accepted by the HTTP ingest endpoint (queued durably).",
    ["flow"],
    registry=REGISTRY,
)
QUARANTINE_EXPIRED = Counter(
    "comind_quarantine_expired_records_total",
    "Quarantined records deleted by the platform once older than their flow's retention.",
    ["flow"],
    registry=REGISTRY,
)
QUARANTINE_DISCARDED = Counter(
    "comind_quarantine_discarded_records_total",
    "Quarantined records an operator discarded (each discard is audited).",
    ["flow"],
    registry=REGISTRY,
)
QUARANTINE_HELD = Gauge(
    "comind_quarantine_records",
    "Quarantined records a flow holds (counted by the platform's retention task).",
    ["flow"],
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
QUALITY_RECORDS = Counter(
    "comind_quality_records_total",
    "Records judged by a quality rule and found breaking it: failed (an error rule: the "
    "record is quarantined) or warned (a warn rule: counted only). dataset is empty for a "
    "flow's inline quality step.",
    ["dataset", "rule", "outcome"],
    registry=REGISTRY,
)


def count_quality(dataset: str, failed: Mapping[str, int], warned: Mapping[str, int]) -> None:
    for outcome, counts in (("failed", failed), ("warned", warned)):
        for rule, n in counts.items():
            QUALITY_RECORDS.labels(dataset, rule, outcome).inc(n)


QUALITY_CHECKS_RATIO = Gauge(
    "comind_quality_checks_ratio",
    "A dataset's quality score: its rules' last checks that passed / its rules' last checks.",
    ["dataset"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
QUALITY_ROWS_RATIO = Gauge(
    "comind_quality_rows_ratio",
    "A dataset's quality score by rows: 1 - failing rows / rows checked, over its last checks.",
    ["dataset"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
PII_PROTECTED = Counter(
    "comind_pii_values_protected_total",
    "Declared PII values a flow protected before writing them (hashed, masked, tokenized...).",
    ["flow", "operator"],
    registry=REGISTRY,
)
