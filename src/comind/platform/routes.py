"""The HTTP routes the running platform serves besides health, metrics and SQS: every JSON
API and the dashboard, wired to the services of one :class:`~comind.platform.runtime.Platform`.

The API and the dashboard share one :class:`~comind.api.tokens.Tokens`, so a page and an
API call by the same token are allowed exactly the same things.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from comind.api.access import AccessApi
from comind.api.app_env import AppEnvApi
from comind.api.artifacts import ArtifactsApi
from comind.api.audit import AuditApi
from comind.api.backups import BackupsApi, Switch
from comind.api.buckets import BucketsApi
from comind.api.ci import MAX_REPORT_BODY, CiApi
from comind.api.dashboard import Dashboard
from comind.api.deployments import DeploymentsApi
from comind.api.flow_actions import FlowActionsApi
from comind.api.flows import Applied, FlowsApi
from comind.api.gitops import GitOpsApi
from comind.api.guard import Guard
from comind.api.keys import KeysApi
from comind.api.lineage import LineageApi
from comind.api.lineage_events import LineageEventsApi
from comind.api.logs import LogsApi
from comind.api.pages import Sources
from comind.api.privacy import PiiField, PrivacyApi, PrivacyScan
from comind.api.quality import QualityApi
from comind.api.quarantine import QuarantineApi
from comind.api.queue_admin import QueueAdminApi
from comind.api.queues import QueuesApi
from comind.api.series import SeriesApi
from comind.api.session import Sessions
from comind.api.status import StatusApi
from comind.api.tokens import Tokens
from comind.apps.cache_metrics import counts
from comind.apps.credentials import Credentials
from comind.backup.catalog import BackupCatalog
from comind.backup.presence import Presence
from comind.backup.switch import switch_data, switch_redis
from comind.backup.wal import lag_seconds as wal_lag
from comind.cicd.artifacts import ArtifactRegistry
from comind.cicd.runs import CiRecords
from comind.embedded.home import StateDir
from comind.errors import ComindError
from comind.flows.state import FlowState
from comind.gitops.providers.flow import worker_name
from comind.gitops.providers.quality_access import QualityAccess
from comind.gitops.records import SecretStore
from comind.gitops.source import GitSource
from comind.governance.access import AccessStore
from comind.governance.audit_chain import AuditChain
from comind.governance.lineage_event_store import LineageEventStore
from comind.governance.lineage_store import LineageStore
from comind.governance.sealbox import SealBox
from comind.governance.sealing import Sealer
from comind.monitoring.logstore import LogStore
from comind.monitoring.timeseries import TimeSeries
from comind.observe.alerting import Alerting
from comind.observe.logs import redact
from comind.platform.applied import bucket_owner, cache_apps
from comind.platform.flow_jobs import flow_job
from comind.platform.flows import FlowService
from comind.platform.keys import KeyService
from comind.platform.privacy import report, scan_dataset
from comind.platform.quality import platform_quality
from comind.platform.quarantine import QuarantineService
from comind.platform.secrets import state_key
from comind.platform.versions import BucketVersions
from comind.queue.layer import MessageLayer
from comind.stores.postgres import PgTarget, Pool
from comind.stores.redis import client, default_user

if TYPE_CHECKING:
    from comind.platform import Platform


def platform_routes(
    rt: Platform, messages: MessageLayer, series: TimeSeries, logs: LogStore, alerting: Alerting
) -> list[BaseRoute]:
    """The APIs (series, flows, backups, queues, GitOps, tokens, logs, apps' environments)
    and the dashboard over them. ``messages`` is the API's own layer: its pool waits only
    briefly for a connection, so a request answers 503 at once while PostgreSQL restarts."""
    sessions = Sessions(state_key(rt.engines.home, "session-key"))
    tokens = _tokens(rt.engines.home, messages, sessions)
    gitops = _gitops_api(rt, tokens) if rt.gitops else None
    quarantine = quarantine_service(rt, messages)
    quarantine.publish()  # before the first sync starts workers that seal to it
    flows = _flows_api(rt, tokens, messages, quarantine)
    spool = rt.engines.postgres.wal_spool
    catalog = BackupCatalog(messages.pool)
    backups = BackupsApi(catalog, tokens, lambda: wal_lag(spool), _switches(rt, catalog),
                         rt.backup_service, lambda: Presence(rt.wal.store).missing)  # fmt: skip
    queues = QueuesApi(messages, tokens)
    quality = platform_quality(rt, messages.pool)
    deployments = (DeploymentsApi(rt.gitops.deployments, rt.gitops.service.env, Guard(tokens))
                   if rt.gitops else None)  # fmt: skip
    sources = Sources(
        name=str(rt.about.get("platform") or "platform"), status=rt.engines, queues=queues,
        flows=flows, backups=backups, logs=logs, alerts=alerting.states, access=tokens.store,
        gitops=gitops, app_state=lambda app: rt.apps.state(app) if rt.apps else None,
        quality=quality, deployments=deployments, cache_counts=_cache_counts(rt),
    )  # fmt: skip
    routes: list[BaseRoute] = [*StatusApi(rt.engines, tokens).routes()]
    routes += [*SeriesApi(series, tokens, alerting).routes(), *flows.routes()]
    routes += FlowActionsApi(_flow_service(rt), tokens).routes()
    routes += QuarantineApi(quarantine, tokens).routes()
    routes += [*backups.routes(), *queues.routes(), *(gitops.routes() if gitops else [])]
    routes += _control_routes(rt, messages, tokens, queues)
    routes += QualityApi(quality, Guard(tokens)).routes()
    routes += _privacy_api(rt, Guard(tokens), quality.access).routes()
    routes += KeysApi(KeyService(rt.engines.home), tokens).routes()
    routes += _ci_api(rt, messages, tokens).routes()
    routes += deployments.routes() if deployments else []
    routes += ArtifactsApi(artifact_registry(rt, messages.pool), Guard(tokens)).routes()
    versions = BucketVersions(rt.objects)
    routes += BucketsApi(versions, lambda b: bucket_owner(rt, b), Guard(tokens)).routes()
    return routes + Dashboard(sources, tokens, sessions).routes()


def _cache_counts(rt: Platform) -> Callable[[str], dict[str, int] | None]:
    """An app's SDK cache counts for its dashboard card (None: the app has no cache)."""
    redis_admin = client(default_user(rt.engines.redis))
    return lambda app: counts(redis_admin, app) if app in cache_apps(rt) else None


def artifact_registry(rt: Platform, pool: Pool) -> ArtifactRegistry:
    return ArtifactRegistry(pool, rt.objects, keep=rt.settings.artifact_keep)


def _ci_api(rt: Platform, messages: MessageLayer, tokens: Tokens) -> CiApi:
    """CI reports from any CI; a finished one asks the control plane (if any) to sync."""

    def finished() -> None:
        if rt.gitops is not None:
            rt.gitops.controller.trigger("ci")

    guard = Guard(tokens, max_body=MAX_REPORT_BODY)  # JUnit reports travel in the body
    return CiApi(CiRecords(messages.pool), finished, guard)


def _control_routes(
    rt: Platform, messages: MessageLayer, tokens: Tokens, queues: QueuesApi
) -> list[BaseRoute]:
    """What the CLI's commands call, each through the one :class:`Guard` (role, body size,
    errors, the audit of every mutation)."""
    guard = Guard(tokens)
    sealer = Sealer(state_key(rt.engines.home, "platform-key"))  # as platform_sealer() makes it
    envs = rt.app_environments(Credentials(messages.pool, sealer),
                               SecretStore(messages.pool, sealer))  # fmt: skip
    assert tokens.store is not None
    return [
        *QueueAdminApi(messages, queues, guard).routes(),
        *AccessApi(tokens.store, guard).routes(),
        *AuditApi(AuditChain(messages.pool, rt.wal.store), guard).routes(),
        *LogsApi(LogStore(messages.pool), guard).routes(),
        *LineageApi(LineageStore(messages.pool), guard).routes(),
        *LineageEventsApi(LineageEventStore(messages.pool), guard).routes(),
        *AppEnvApi(envs.full, envs.rotate, guard).routes(),
    ]


def _switches(rt: Platform, catalog: BackupCatalog) -> dict[str, Switch]:
    """What POST /api/v1/backups/switch can put in place: PostgreSQL or Redis data."""

    def postgres(body: dict[str, Any]) -> dict[str, Any]:
        return switch_data(rt.engines, rt.wal, catalog, Path(str(body["data_dir"])))

    def redis(body: dict[str, Any]) -> dict[str, Any]:
        found = catalog.manifest("redis", body.get("backup"))
        if found is None:
            raise ComindError(f"no complete redis backup {body.get('backup') or ''}".strip())
        return switch_redis(rt.engines, rt.wal.store, rt.wal.keys.all(), found)

    return {"postgres": postgres, "redis": redis}


def _tokens(home: StateDir, messages: MessageLayer, sessions: Sessions) -> Tokens:
    tokens = Tokens(
        admin=home.secret("api-admin-token"),
        viewer=home.secret("api-viewer-token"),
        store=AccessStore(messages.pool),
        sessions=sessions,
    )
    redact(tokens.admin)
    redact(tokens.viewer)
    return tokens


def _gitops_api(rt: Platform, tokens: Tokens) -> GitOpsApi:
    assert rt.gitops is not None
    secret = rt.settings.webhook_secret or rt.engines.home.secret("webhook-secret")
    redact(secret)
    ref = rt.source.ref if isinstance(rt.source, GitSource) else None
    return GitOpsApi(rt.gitops, tokens=tokens, webhook_secret=secret, followed_ref=ref)


def _applied(rt: Platform) -> Callable[[], Applied | None]:
    def applied() -> Applied | None:
        desired = rt.gitops.service.current if rt.gitops else None
        if desired is None or desired.root is None:
            return None
        return Applied(desired.spec, desired.root, desired.revision, desired.env)

    return applied


def _flows_api(
    rt: Platform, tokens: Tokens, messages: MessageLayer, quarantine: QuarantineService
) -> FlowsApi:
    def worker_state(flow: str) -> str:
        state = rt.apps.state(worker_name(flow, 0)) if rt.apps else None
        return state.phase if state else "NotRunning"

    key = state_key(rt.engines.home, "platform-key")

    def shown(name: str, limit: int, raw: bool) -> list[dict[str, Any]]:
        return quarantine.records(name, limit, raw=raw)

    return FlowsApi(_applied(rt), FlowState(messages.pool), messages.queues, tokens, key=key,
                    worker_state=worker_state, quarantine=shown)  # fmt: skip


def _flow_service(rt: Platform) -> FlowService:
    assert rt.messages is not None
    return FlowService(_applied(rt), rt.messages.queues, lambda flow, job: flow_job(rt, flow, job))


def _privacy_api(
    rt: Platform, guard: Guard, access: Callable[[], QualityAccess | None]
) -> PrivacyApi:
    """``access``: the quality service's ``comind_quality`` login, which scans read with."""
    assert rt.privacy is not None
    applied = _applied(rt)

    def shown() -> list[PiiField]:
        now = applied()
        return report(now.spec) if now else []

    def target(database: str, table: str) -> PgTarget:
        found = access()
        if found is None:
            raise ComindError("scans need a platform that follows a repository")
        return found.target(database, table)

    def scanned(dataset: str, sample: int) -> PrivacyScan:
        now = applied()
        if now is None:
            raise ComindError("no revision is applied yet")
        return scan_dataset(now.spec, dataset, sample, target)

    return PrivacyApi(shown, rt.privacy.detokenize, guard, scanned)


def quarantine_service(rt: Platform, messages: MessageLayer) -> QuarantineService:
    """The flows' quarantine, opened with the private half of the platform's quarantine
    key (derived from the platform key, which only this process reads)."""
    box = SealBox(state_key(rt.engines.home, "platform-key"), "quarantine")
    return QuarantineService(_applied(rt), FlowState(messages.pool), box, _flow_service(rt))
