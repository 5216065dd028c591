"""The one metric registry, and the platform-wide metrics.

Names follow DESIGN.md: prefix ``comind_``, base units, ``_total`` for counters,
``_seconds`` for durations. A component's own metrics are defined beside it (queue,
gitops, apps ``metrics`` modules) but always registered in ``REGISTRY``, so ``/metrics``
and the generated reference (docs/metrics.md) see one consistent set.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from comind import __version__

REGISTRY = CollectorRegistry(auto_describe=True)

BUILD_INFO = Info("comind_build", "Comind-Ops version running this process.", registry=REGISTRY)
BUILD_INFO.info({"version": __version__})

ENGINE_UP = Gauge(
    "comind_engine_up",
    "1 when the embedded engine answers its health check, else 0.",
    ["engine"],
    registry=REGISTRY,
)
ENGINE_RESTARTS = Counter(
    "comind_engine_restarts_total",
    "Times the supervisor restarted an engine after it died or stopped answering.",
    ["engine"],
    registry=REGISTRY,
)
ENGINE_START_SECONDS = Histogram(
    "comind_engine_start_seconds",
    "Time from launching an engine process until it answers its health check.",
    ["engine"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
    registry=REGISTRY,
)
HTTP_REQUEST_DURATION = Histogram(
    "comind_http_request_duration_seconds",
    "HTTP request latency of the platform API, by route template.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
DASHBOARD_LOGINS = Counter(
    "comind_dashboard_logins_total",
    "Dashboard sign-ins with an API token, by outcome: accepted or refused.",
    ["outcome"],
    registry=REGISTRY,
)
AUDIT_SKIPPED = Counter(
    "comind_audit_anonymous_skipped_total",
    "Refusals of callers without a token not written to the audit log: beyond the audit's "
    "budget for them, so a flood of them cannot fill the database.",
    registry=REGISTRY,
)
SQS_REQUESTS = Histogram(
    "comind_sqs_request_duration_seconds",
    "Requests to the SQS-compatible endpoint, by action and outcome (ok | error).",
    ["action", "outcome"],
    registry=REGISTRY,
)
S3_REQUESTS = Histogram(
    "comind_s3_request_duration_seconds",
    "Requests to the S3-compatible endpoint, by operation and HTTP status.",
    ["operation", "status"],
    registry=REGISTRY,
)
WORKER_MESSAGES = Counter(
    "comind_worker_messages_total",
    "Messages a queue worker finished, by outcome (ok: deleted; error: returned for retry).",
    ["queue", "outcome"],
    registry=REGISTRY,
)
WORKER_HANDLER_SECONDS = Histogram(
    "comind_worker_handler_seconds",
    "Time a queue worker's handler spent on one message.",
    ["queue", "outcome"],
    registry=REGISTRY,
)
ALERT_NOTIFICATIONS = Counter(
    "comind_alert_notifications_total",
    "Alert notifications to webhooks, by outcome (sent, failed after retries, dropped).",
    ["outcome"],
    registry=REGISTRY,
)
WORKER_SESSIONS_ENDED = Counter(
    "comind_flow_sessions_ended_total",
    "Flow sessions the platform ended for locking a platform table against others' writes.",
    registry=REGISTRY,
)
LOCK_HOLDERS_ENDED = Counter(
    "comind_postgres_lock_holders_ended_total",
    "Sessions the supervisor ended, all of the login holding the most locks, when PostgreSQL's"
    " shared lock table was full (instead of restarting the server).",
    registry=REGISTRY,
)
MIGRATIONS_APPLIED = Gauge(
    "comind_schema_version",
    "Highest platform-schema migration applied to the metadata database.",
    registry=REGISTRY,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


_EXPOSED: list[CollectorRegistry] = [REGISTRY]


def expose(registry: CollectorRegistry) -> None:
    """Serve ``registry`` at ``/metrics`` instead of ``REGISTRY`` (one wrapping it: the
    platform merges its worker processes' metrics in, see :mod:`.multiprocess`)."""
    _EXPOSED[0] = registry


def render() -> bytes:
    """The exposed registry in Prometheus text exposition format."""
    return generate_latest(_EXPOSED[0])
