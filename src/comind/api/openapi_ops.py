"""Every operation of the JSON API, as data: its path, who may call it and what it answers.
:mod:`comind.api.openapi` turns this list into the OpenAPI 3.1 document.

To document a new route, add an :class:`Op` here. Its request body is the pydantic model the
route parses (as :mod:`comind.api.backups` does; for a route that reads its body field by
field, a model of what it accepts, beside the answers); its answers are models of
:mod:`comind.api.openapi_schemas` or :mod:`comind.api.openapi_control` (or the route's own,
where it builds one).
``tests/integration/test_openapi.py`` names every route the platform serves under ``/api/v1``
that is missing here, and checks what the operations answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from comind.api import flow_actions as fa
from comind.api import lineage_events as le
from comind.api import openapi_backups as b
from comind.api import openapi_control as c
from comind.api import openapi_lineage as lin
from comind.api import openapi_schemas as s
from comind.api import quality as q
from comind.api import quarantine as qa
from comind.api.backups import PointBody, PruneBody, RunBody

Role = Literal["viewer", "operator", "admin"]
# how a token limited to one app is treated: "filtered" (it sees its app's part), "own" (only
# for its own app, named in the path or body), "refused" (a view or change of the whole
# platform: tokens of every app only)
AppTokens = Literal["filtered", "own", "refused"]
# "token": a Bearer token of at least ``role`` (reads also a dashboard session); "none": open;
# "ingest": the flow's own ingest token or an operator token; "webhook": the Git host's signature
Auth = Literal["token", "none", "ingest", "webhook"]


@dataclass(frozen=True)
class Text:
    """An answer that is not one of the models: plain text (health, metrics), or this
    document itself."""

    description: str
    media_type: str = "text/plain"
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["path", "query"]
    description: str
    type: Literal["string", "integer"] = "string"
    required: bool = False
    default: str | int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class Op:
    method: Literal["GET", "POST"]
    path: str  # the OpenAPI template: {name}, without starlette's convertors
    id: str  # operationId
    tag: str
    summary: str
    ok: dict[int, type[BaseModel] | Text]
    auth: Auth = "token"
    role: Role = "viewer"
    apps: AppTokens = "refused"
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None
    raw_body: str | None = None  # a body of raw bytes (application/octet-stream): what it is
    errors: dict[int, str] = field(default_factory=dict)  # besides 401/403 of a token
    description: str = ""


FLOW = Param("name", "path", "the flow's name in the spec", required=True)
QUEUE = Param("name", "path", "app/queue (the slash stays as it is; .fifo may be left out)",
              required=True)  # fmt: skip
NO_FLOW = {404: "no such flow in the applied spec"}
DATASET = Param("dataset", "path", "the dataset's name in the spec (APP.TABLE)", required=True)
NO_DATASET = {404: "no such dataset in the applied spec"}
NO_QUEUE = {404: "no such queue"}
APP = Param("app", "path", "the app's name", required=True)
LIMIT = "limit must be a whole number"
NODE = Param("node", "query", "KIND:NAME (a bare name is a dataset)", required=True)
DEPTH = Param("depth", "query", "how many edges to walk (1 to 100)", "integer", default=20,
              maximum=100)  # fmt: skip
BACKUP_ERRORS = {400: "a body or value refused", 409: "it failed, or backups are not served here",
                 413: "a body over 64 KiB"}  # fmt: skip

OPS: tuple[Op, ...] = (
    # --- health (open, like the probes of a load balancer), metrics and status
    Op("GET", "/healthz", "healthz", "status", "The API process answers",
       {200: Text("ok")}, auth="none"),
    Op("GET", "/readyz", "readyz", "status", "Every engine is healthy",
       {200: Text("ready"), 503: Text("not ready")}, auth="none"),
    Op("GET", "/metrics", "metrics", "status", "Prometheus metrics",
       {200: Text("the Prometheus text exposition format",
                  "text/plain; version=0.0.4; charset=utf-8")},
       description="Prometheus sends the viewer token (`authorization.credentials_file`)."),
    Op("GET", "/api/v1/status", "status", "status", "The platform and its engines",
       {200: s.Status},
       description="What `comind status --json` shows; it carries no secret."),
    Op("GET", "/api/v1/openapi.json", "openapi", "status", "This document",
       {200: Text("OpenAPI 3.1", "application/json",
                  {"type": "object", "required": ["openapi", "info", "paths"]})}, auth="none",
       description="Open like /healthz: it describes the API, not the platform's data."),
    # --- queues
    Op("GET", "/api/v1/queues", "listQueues", "queues", "Every queue's depth and dead letters",
       {200: s.QueueList}, apps="filtered"),
    Op("GET", "/api/v1/queues/{name}/dlq", "peekDeadLetters", "queues",
       "The oldest dead letters of a queue's DLQ, peeked (nothing is received)",
       {200: s.DeadLetters}, apps="own",
       params=(QUEUE, Param("limit", "query", "how many (1 to 100)", "integer", default=10,
                            maximum=100)),
       errors={400: LIMIT, 404: "no such queue", 409: "the queue has no dead-letter queue"}),
    Op("POST", "/api/v1/queues/{name}/redrive", "redriveQueue", "queues",
       "Send a queue's dead letters back where they came from", {202: s.RedriveStarted},
       role="operator", apps="own", params=(QUEUE,),
       errors={404: "no such queue", 409: "no dead-letter queue, or a redrive is running"},
       description="Audited. The platform's housekeeping moves the messages in the background; "
                   "GET /api/v1/queues shows the progress."),
    Op("GET", "/api/v1/queues/{name}/stats", "queueStats", "queues",
       "A queue's attributes, depth and the queues it is the DLQ of", {200: c.QueueStats},
       apps="own", params=(QUEUE,), errors=NO_QUEUE),
    Op("GET", "/api/v1/queues/{name}/messages", "peekMessages", "queues",
       "A queue's oldest messages, peeked (nothing is received)", {200: c.QueueMessages},
       apps="own", params=(QUEUE, Param("limit", "query", "how many (1 to 1000)", "integer",
                                        default=10, maximum=1000)),
       errors={**NO_QUEUE, 400: LIMIT}),
    Op("POST", "/api/v1/queues/{name}/messages", "sendMessage", "queues", "Send a message",
       {200: c.MessageSent}, role="operator", apps="own", params=(QUEUE,), body=c.SendMessage,
       errors={**NO_QUEUE, 400: "no body, or one the queue refuses (a FIFO queue needs a group)",
               409: "the queue could not take it", 413: "a request body over 260 KiB"},
       description="Audited. A FIFO queue's message gets a deduplication id of its own."),
    Op("POST", "/api/v1/queues/{name}/purge", "purgeQueue", "queues",
       "Delete every message of a queue", {200: c.Purged}, role="operator", apps="own",
       params=(QUEUE,), errors=NO_QUEUE, description="Audited."),
    Op("POST", "/api/v1/queues/{name}/moves", "startMove", "queues",
       "Move a queue's messages elsewhere at a bounded rate", {202: c.MoveStarted},
       role="operator", apps="own", params=(QUEUE,), body=c.StartMove,
       errors={400: "a rate not a whole number from 1 to 500",
               404: "no such queue (source or destination)",
               409: "a move of this queue is running"},
       description="Audited. Without `to`, a DLQ's messages go back to the queues they came "
                   "from; the platform's housekeeping moves them in the background, and GET "
                   "on this path shows the progress."),
    Op("GET", "/api/v1/queues/{name}/moves", "listMoves", "queues",
       "A queue's move tasks, newest first", {200: c.MoveList}, apps="own",
       params=(QUEUE, Param("limit", "query", "how many (1 to 100)", "integer", default=10,
                            maximum=100)),
       errors={**NO_QUEUE, 400: LIMIT}),
    # --- flows
    Op("GET", "/api/v1/flows", "listFlows", "flows", "Every flow of the applied spec",
       {200: s.FlowList}),
    Op("GET", "/api/v1/flows/{name}", "getFlow", "flows",
       "A flow: totals, its spec, recent runs and quarantined records", {200: s.FlowDetail},
       params=(FLOW,), errors=NO_FLOW),
    Op("GET", "/api/v1/flows/{name}/runs", "listFlowRuns", "flows",
       "A flow's newest runs (at most 200)", {200: s.FlowRuns}, params=(FLOW,), errors=NO_FLOW),
    Op("GET", "/api/v1/flows/{name}/traces", "listFlowTraces", "flows",
       "A flow's newest batch traces", {200: s.FlowTraces},
       params=(FLOW, Param("limit", "query", "how many (1 to 200)", "integer", default=20,
                           maximum=200)),
       errors={**NO_FLOW, 400: LIMIT}),
    Op("POST", "/api/v1/flows/{name}/run", "runFlow", "flows",
       "Run a batch flow's partition now (default: the last complete one)",
       {200: fa.RunResults}, role="operator", params=(FLOW,), body=fa.RunBody,
       errors={**NO_FLOW, 400: "a body refused", 409: "the run could not start"},
       description="Audited; answers when the run is done. A failed partition is a 200 "
                   "whose result says failed."),
    Op("POST", "/api/v1/flows/{name}/backfill", "backfillFlow", "flows",
       "Run the partitions of a range whose last run is missing or failed",
       {200: fa.RunResults}, role="operator", params=(FLOW,), body=fa.BackfillBody,
       errors={**NO_FLOW, 400: "a body refused", 409: "the backfill could not start"},
       description="Audited; answers when every partition has run."),
    Op("GET", "/api/v1/flows/{name}/dlq", "flowDeadLetters", "flows",
       "A flow's dead letters: step, error, attempts and the record", {200: fa.DeadLetterList},
       params=(FLOW, Param("limit", "query", "how many (1 to 1000)", "integer", default=20,
                           maximum=1000)),
       errors={**NO_FLOW, 400: LIMIT}),
    Op("POST", "/api/v1/flows/{name}/replay", "replayFlow", "flows",
       "Send a flow's dead letters back through it", {200: fa.ReplayReport},
       role="operator", params=(FLOW,), body=fa.ReplayBody,
       errors={**NO_FLOW, 400: "a body refused", 409: "the replay failed"},
       description="Audited."),
    Op("GET", "/api/v1/flows/{name}/quarantine", "flowQuarantine", "flows",
       "A flow's quarantined records, newest first", {200: qa.QuarantineList},
       params=(FLOW, Param("limit", "query", "how many (1 to 1000)", "integer", default=20,
                           maximum=1000)),
       errors={**NO_FLOW, 400: LIMIT},
       description="The declared PII fields of the datasets the flow reads and writes are "
                   "masked for a viewer and raw for an operator or admin."),
    Op("POST", "/api/v1/flows/{name}/quarantine/discard", "discardQuarantined", "flows",
       "Delete quarantined records (by id, all, or older than a duration)",
       {200: qa.DiscardReport}, role="operator", params=(FLOW,), body=qa.DiscardBody,
       errors={**NO_FLOW, 400: "a body refused"},
       description="Audited with the count and the ids."),
    Op("POST", "/api/v1/flows/{name}/quarantine/replay", "replayQuarantined", "flows",
       "Send quarantined records (optionally edited) back through the flow",
       {200: qa.QuarantineReplayReport}, role="operator", params=(FLOW,),
       body=qa.QuarantineReplayBody,
       errors={**NO_FLOW, 400: "a body refused", 409: "the replay failed"},
       description="Audited with the count, the ids and the names of the fields set."),
    Op("GET", "/api/v1/flows/{name}/token", "flowIngestToken", "flows",
       "The flow's ingest token", {200: s.IngestToken}, role="operator", params=(FLOW,),
       description="A credential: every read is audited as read-secrets."),
    Op("POST", "/ingest/{flow}", "ingest", "flows",
       "Records into a flow with an http:// source", {202: s.Ingested}, auth="ingest",
       params=(Param("flow", "path", "the flow's name", required=True),),
       errors={400: "a malformed body (nothing was queued)", 404: "no such http:// flow",
               413: "a body over 10 MiB"},
       description="The body is a JSON object, a JSON array of objects or NDJSON, parsed whole "
                   "before anything is queued: 202 means every record is stored."),
    # --- quality
    Op("GET", "/api/v1/quality", "listQuality", "quality",
       "Every dataset with quality rules: its score and failing rules", {200: q.QualityList}),
    Op("GET", "/api/v1/quality/{dataset}", "getQuality", "quality",
       "A dataset's rules, what blocks, and its check history", {200: q.QualityDetail},
       params=(DATASET, Param("partition", "query", "one partition's history only")),
       errors=NO_DATASET),
    Op("POST", "/api/v1/quality/{dataset}/run", "runQuality", "quality",
       "Check a dataset (or one partition) now", {200: q.QualityRun}, role="operator",
       params=(DATASET,), body=q.RunBody,
       errors={**NO_DATASET, 400: "a body refused, or a partition of an unpartitioned dataset",
               409: "the check could not run"},
       description="Audited; answers the results when the check is done."),
    # --- backups
    Op("GET", "/api/v1/backups", "listBackups", "backups",
       "The backup catalog and the WAL archive lag", {200: b.BackupList}),
    Op("POST", "/api/v1/backups/switch", "switchData", "backups",
       "Put restored data in place of the platform's", {200: b.Switched}, role="admin",
       body=b.SwitchRequest,
       errors={400: "not JSON, or a missing field", 409: "this engine cannot be switched here"},
       description="Audited. PostgreSQL: a restored, stopped cluster (what `comind restore` "
                   "without --side ends with); Redis: a snapshot from the catalog."),
    Op("POST", "/api/v1/backups", "runBackup", "backups", "Take a backup now",
       {200: b.BackupTaken}, role="operator", body=RunBody, errors=BACKUP_ERRORS,
       description="Audited; answers when the backup is stored. type: full, incr, diff, "
                   "logical (with app), objects or redis."),
    Op("POST", "/api/v1/backups/{id}/verify", "verifyBackup", "backups",
       "Restore a backup into a scratch cluster and check it", {200: b.Verified},
       role="operator", params=(Param("id", "path", "the backup's id", required=True),),
       errors={400: "no such complete backup", 409: "the verification could not run"},
       description="Audited; the outcome is recorded in the catalog."),
    Op("POST", "/api/v1/backups/prune", "pruneBackups", "backups",
       "Expire old backups and the WAL no kept backup needs", {200: b.PruneReport},
       role="admin", body=PruneBody, errors=BACKUP_ERRORS, description="Audited."),
    Op("POST", "/api/v1/backups/restore-points", "createRestorePoint", "backups",
       "Name this moment to restore to (comind restore --to-restore-point)",
       {200: b.RestorePoint}, role="operator", body=PointBody, errors=BACKUP_ERRORS,
       description="Audited."),
    # --- metrics history and alerts
    Op("GET", "/api/v1/metrics/query", "queryMetrics", "metrics",
       "History of a metric from the built-in time series", {200: s.SeriesQuery},
       params=(Param("name", "query", "a sample name, e.g. comind_queue_messages", required=True),
               Param("match", "query", "a JSON object of labels the series must carry",
                     default="{}"),
               Param("range", "query", "how far back from now: 15m, 6h, 7d (at most 90d)",
                     default="1h")),
       errors={400: "a missing name, a bad range or match"}),
    Op("GET", "/api/v1/alerts", "listAlerts", "metrics",
       "Every alert rule with its pending and firing alerts", {200: s.Alerts}),
    # --- GitOps (served when the platform follows a repository)
    Op("GET", "/api/v1/apps", "listApps", "gitops", "Every app's sync and health",
       {200: s.AppList}, apps="filtered"),
    Op("GET", "/api/v1/apps/{app}", "getApp", "gitops", "An app and its resources",
       {200: s.AppDetail}, apps="own",
       params=(APP,), errors={404: "no such app"}),
    Op("GET", "/api/v1/resources", "listResources", "gitops", "Every resource's sync and health",
       {200: s.ResourceList}, apps="filtered"),
    Op("GET", "/api/v1/syncs", "listSyncs", "gitops", "The newest syncs of the environment",
       {200: s.SyncList}, apps="filtered",
       params=(Param("limit", "query", "how many (1 to 500)", "integer", default=20,
                     maximum=500),
               Param("app", "query", "only this app's results")),
       errors={400: LIMIT}),
    Op("GET", "/api/v1/syncs/{sync_id}", "getSync", "gitops", "One sync and its results",
       {200: s.SyncRecord}, apps="filtered",
       params=(Param("sync_id", "path", "the sync's id", "integer", required=True),),
       errors={404: "no such sync"}),
    Op("GET", "/api/v1/diff", "diff", "gitops", "What a sync to a revision would change",
       {200: s.Diff}, params=(Param("revision", "query", "default: the branch's newest commit"),),
       errors={400: "an unknown or refused revision"}),
    Op("POST", "/api/v1/sync", "sync", "gitops", "Start a sync", {202: s.SyncStarted},
       role="operator", apps="own", body=s.SyncRequest,
       errors={503: "the sync could not start"},
       description="Audited. Answers at once with the sync's id; an app token may sync its "
                   "own app only."),
    Op("POST", "/api/v1/rollback", "rollback", "gitops",
       "Sync an earlier revision and pause auto-sync", {202: s.SyncStarted}, role="operator",
       body=s.RollbackRequest,
       errors={400: "no revision, or an unknown one", 503: "the sync could not start"},
       description="Audited."),
    Op("POST", "/api/v1/autosync", "autosync", "gitops", "Pause or resume auto-sync",
       {200: s.AutosyncState}, role="operator", body=s.AutosyncRequest,
       description="Audited."),
    Op("POST", "/api/v1/hooks/git", "gitWebhook", "gitops",
       "A push (the platform fetches and syncs) or a CI event (recorded for its commit) "
       "from GitHub or GitLab",
       {202: s.HookAnswer, 200: s.HookAnswer}, auth="webhook",
       errors={400: "not a GitHub or GitLab request, or a malformed push or CI event",
               401: "a missing or wrong signature or token", 413: "a payload over 5 MiB"},
       description="CI events: GitHub workflow_run, check_suite and status, GitLab Pipeline "
                   "Hook; a finished one triggers a sync (require_ci decides). 200 with "
                   "accepted false: neither a push nor CI, or a push to another branch."),
    # --- access: tokens, dashboard sessions, the audit log and apps' credentials
    Op("GET", "/api/v1/tokens", "listTokens", "access", "Every token (never the token itself)",
       {200: c.TokenList}, role="admin"),
    Op("POST", "/api/v1/tokens", "createToken", "access", "Make a token", {201: c.TokenCreated},
       role="admin", body=c.CreateToken, errors={400: "an unknown role or a bad expires"},
       description="Audited. The answer is the only time the token is shown: the platform "
                   "keeps its hash."),
    Op("POST", "/api/v1/tokens/{id}/revoke", "revokeToken", "access", "Revoke a token at once",
       {200: c.TokenRevoked}, role="admin",
       params=(Param("id", "path", "the token's id", required=True),),
       errors={404: "no such active token"}, description="Audited."),
    Op("POST", "/api/v1/sessions/end", "endSessions", "access",
       "End every dashboard session (tokens stay valid)", {200: c.SessionsEnded},
       role="admin", description="Audited."),
    Op("GET", "/api/v1/audit", "auditLog", "access", "The audit log, newest first",
       {200: c.AuditLog}, role="admin",
       params=(Param("limit", "query", "how many (1 to 10000)", "integer", default=50,
                     maximum=10_000),),
       errors={400: LIMIT}),
    Op("GET", "/api/v1/apps/{app}/env", "appEnv", "access",
       "Every variable an app is given, secrets included", {200: c.AppEnv}, role="admin",
       params=(APP,), errors={404: "no such app"},
       description="A credential: every read is audited as read-secrets."),
    Op("POST", "/api/v1/apps/{app}/rotate-key", "rotateAppKey", "access",
       "Issue an app a new access key (the old one stops working)", {200: c.KeyRotated},
       role="admin", params=(APP,), errors={404: "no such app"}, description="Audited."),
    # --- logs
    Op("GET", "/api/v1/logs", "searchLogs", "logs", "Search the stored logs, oldest first",
       {200: c.Logs}, apps="own",
       params=(Param("app", "query", "an app's output (default: the platform's own log)"),
               Param("since", "query", "how far back from now: 10m, 2h, 1d", default="1h"),
               Param("after", "query", "instead of since: lines strictly newer than this ISO "
                                       "timestamp (how `comind logs -f` follows)"),
               Param("level", "query", "at least this level: debug, info, warning, error or "
                                       "critical"),
               Param("grep", "query", "lines containing this text"),
               Param("limit", "query", "how many: the newest (1 to 10000)", "integer",
                     default=200, maximum=10_000)),
       errors={400: "a bad since, after, level or limit"},
       description="The platform's own log (no app) needs a token of every app."),
    # --- lineage
    Op("GET", "/api/v1/lineage", "lineage", "lineage",
       "The lineage graph around a node (Marquez's shape)", {200: lin.Lineage},
       params=(Param("node", "query", "KIND:NAME (a bare name is a dataset); without it, the "
                                      "whole graph"), DEPTH),
       errors={400: "a bad depth", 404: "no such node"}),
    Op("GET", "/api/v1/lineage/column", "columnLineage", "lineage",
       "Where one field comes from and goes to", {200: lin.ColumnLineage},
       params=(NODE, Param("field", "query", "the field", required=True), DEPTH),
       errors={400: "a missing node or field, or a bad depth", 404: "no such node or field"}),
    Op("GET", "/api/v1/lineage/impact", "lineageImpact", "lineage",
       "Everything downstream of a node or one of its fields, with distance", {200: lin.Impact},
       params=(NODE, Param("field", "query", "only what this field reaches"), DEPTH),
       errors={400: "a missing node or a bad depth", 404: "no such node or field"}),
    Op("GET", "/api/v1/lineage/events", "listLineageEvents", "lineage",
       "OpenLineage RunEvents of flow runs, newest first", {200: le.LineageEvents},
       params=(Param("flow", "query", "only this flow's (the job name)"),
               Param("run", "query", "only this run's (its runId, a UUID)"),
               Param("limit", "query", "how many (1 to 1000)", "integer", default=100,
                     maximum=1000)),
       errors={400: "a limit or run id refused"},
       description="Each event as emitted (START, RUNNING, COMPLETE, FAIL, ABORT with its "
                   "facets); kept 30 days."),
)  # fmt: skip
