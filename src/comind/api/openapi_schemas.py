"""The shapes of the JSON API's bodies, as pydantic models: the source of the OpenAPI
document's ``components/schemas`` (see :mod:`comind.api.openapi`).

The routes build their answers as plain JSON values; these models describe them, and the
integration test ``tests/integration/test_openapi.py`` calls every documented read on a
running platform and validates what it answers against them, so a field added to a route
without its model fails there. Documents with a fixed shape forbid other fields; those that
carry open-ended data (labels, records, a flow's spec) say so with ``dict[str, Any]``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from comind.embedded.state import PlatformState

Sync = Literal["Synced", "OutOfSync", "Unknown"]
Health = Literal["Healthy", "Progressing", "Degraded", "Missing", "Unknown"]


class Closed(BaseModel):
    """A document whose every field is listed here."""

    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """Why a request was refused or could not be served (the HTTP status says which)."""

    model_config = ConfigDict(extra="allow", title="Problem")
    error: str = Field(description="what went wrong, for people")
    needs: str | None = Field(None, description="a 403 for a role: the least role needed")
    role: str | None = Field(None, description="a 403 for a role: the token's role")
    app: str | None = Field(None, description="a 403 for a role: the token's app (null: every)")


# --- status -------------------------------------------------------------------------------


class Status(PlatformState):
    """The platform process and its engines; also the addresses clients use (``api_url``,
    ``sqs_url``, ``s3_url``, ...) and what the platform was started with: the platform's
    own state document (``comind.embedded.state.PlatformState``). A field is absent until
    the platform sets it: the addresses before the API serves, the TLS fields without TLS."""


# --- queues -------------------------------------------------------------------------------


class RedriveProgress(Closed):
    moved: int
    to_move: int


class QueueRow(Closed):
    queue: str = Field(description="app/queue (FIFO queues end in .fifo)")
    app: str
    visible: int
    in_flight: int
    delayed: int
    oldest_age_seconds: float
    dead_letter_queue: str | None
    dead_letters: int | None = Field(description="messages in its DLQ (null: it has none)")
    redrive: RedriveProgress | None = Field(description="a running redrive of its DLQ")


class QueueList(Closed):
    queues: list[QueueRow]


class DeadLetter(Closed):
    message_id: str
    body: str
    receive_count: int
    sent_at: datetime | None
    dead_letter: dict[str, Any] | None = Field(description="where and why it was dead-lettered")


class DeadLetters(Closed):
    queue: str
    dead_letter_queue: str
    messages: list[DeadLetter]


class RedriveStarted(Closed):
    queue: str
    dead_letter_queue: str
    task: str = Field(description="the move task's handle")
    to_move: int


# --- flows --------------------------------------------------------------------------------


class Run(Closed):
    id: int
    partition: str
    status: Literal["running", "succeeded", "failed"]
    rows_in: int
    rows_out: int
    started_at: datetime
    finished_at: datetime | None
    error: str | None


class FlowSummary(Closed):
    name: str
    kind: Literal["stream", "batch", "event"]
    source: str
    state: str = Field(description="the phase of its first worker (NotRunning: none)")
    records_in: int
    records_out: int
    records_quarantined: int
    records_dead_lettered: int
    errors: int
    last_error: str | None
    last_batch_at: datetime | None
    lag_seconds: float | None = Field(description="age of the oldest waiting input message")
    dead_letters_waiting: int
    last_run: Run | None = Field(description="batch flows: the newest run")


class FlowList(Closed):
    flows: list[FlowSummary]


class Quarantined(Closed):
    id: int
    step: str
    reasons: list[str]
    record: dict[str, Any] = Field(description="its PII fields masked unless raw")
    pii: list[str] = Field(description="the record's fields under the datasets' PII handling")
    raw: bool = Field(description="true: PII fields shown raw (operator or admin)")
    at: datetime


class FlowDetail(FlowSummary):
    spec: dict[str, Any] = Field(description="the flow as declared (defaults left out)")
    revision: str
    root: str
    env: str | None
    runs: list[Run]
    quarantined: list[Quarantined]


class FlowRuns(Closed):
    flow: str
    runs: list[Run]


class Span(Closed):
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    flow: str | None
    started_at: datetime
    seconds: float
    status: Literal["ok", "error", "unset"]
    attributes: dict[str, Any]
    children: list[Span]


class IngestToken(Closed):
    flow: str
    token: str = Field(description="for POST /ingest/{flow}")


class FlowTraces(Closed):
    flow: str
    traces: list[Span] = Field(description="one per batch, newest first: its root span")


class Ingested(Closed):
    queued: int = Field(description="records stored in the flow's input queue")


# --- metrics and alerts -------------------------------------------------------------------


class Series(Closed):
    labels: dict[str, str]
    points: list[tuple[datetime, float]] = Field(description="[time, value], at most 500")


class SeriesQuery(Closed):
    name: str
    series: list[Series]


class ActiveAlert(Closed):
    labels: dict[str, str]
    value: float
    since: datetime
    state: Literal["pending", "firing"]


class AlertRule(Closed):
    alert: str
    expr: str
    supported: bool = Field(description="false: the embedded evaluator cannot run expr")
    reason: str | None
    alerts: list[ActiveAlert]


class Alerts(Closed):
    rules: list[AlertRule]


# --- GitOps -------------------------------------------------------------------------------


class AppSummary(Closed):
    app: str
    sync: Sync
    health: Health
    resources: int = Field(description="live resources (orphans not counted)")
    orphaned: list[str] = Field(description="removed from Git, kept until a person prunes")
    message: str


class AppList(Closed):
    apps: list[AppSummary]


class Resource(Closed):
    id: str = Field(description="kind/app/name")
    kind: str
    app: str
    name: str
    sync: Sync
    health: Health
    message: str
    orphaned: bool
    revision: str
    updated_at: datetime | None


class AppDetail(Closed):
    app: str
    sync: Sync
    health: Health
    orphaned: list[str]
    message: str
    resources: list[Resource]


class ResourceList(Closed):
    resources: list[Resource]


class SyncRecord(Closed):
    id: int
    env: str
    revision: str
    trigger: str
    dry_run: bool
    outcome: str
    message: str = Field(description="empty for a token limited to an app")
    results: list[dict[str, Any]] = Field(description="per resource (an app token: its own)")
    started_at: datetime
    finished_at: datetime | None


class SyncList(Closed):
    syncs: list[SyncRecord]


class Change(Closed):
    id: str
    action: str
    drift: list[str]


class Diff(Closed):
    revision: str
    changes: list[Change]
    unchanged: int


class SyncRequest(BaseModel):
    app: str | None = Field(None, description="sync this app only (null: every app)")
    revision: str | None = Field(None, description="null: the branch's newest commit")
    dry_run: bool = False
    trigger: str | None = Field(None, description="who or what asked, for the history")


class RollbackRequest(BaseModel):
    revision: str
    trigger: str | None = None


class AutosyncRequest(BaseModel):
    enabled: bool = True


class SyncStarted(Closed):
    id: int = Field(description="the sync's id: GET /api/v1/syncs/{id} follows it")


class AutosyncState(Closed):
    auto_sync_paused: bool


class HookCi(Closed):
    commit: str
    pipeline: str
    status: str = Field(description="running, passed or failed")


class HookAnswer(Closed):
    accepted: bool
    reason: str | None = None
    ref: str | None = None
    ci: HookCi | None = Field(default=None, description="a CI event: the run recorded")
