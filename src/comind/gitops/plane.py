"""The control plane of one environment, assembled: providers, reconciler, sync, loop.

Also the one place that knows how an app reaches its services, so ``app env`` and the
app runtime hand out the same ``DATABASE_URL``, ``REDIS_URL`` and bucket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from comind.apps.credentials import AppKey
from comind.apps.runtime import AppRuntime
from comind.cicd.artifacts import ArtifactRegistry
from comind.cicd.deployments import DeploymentRecords
from comind.cicd.runs import CiRecords
from comind.gitops.controller import Controller
from comind.gitops.providers.app import AppProvider
from comind.gitops.providers.base import Provider
from comind.gitops.providers.bucket import BucketProvider
from comind.gitops.providers.cache import CacheProvider, cache_target
from comind.gitops.providers.database import DatabaseProvider, database_target
from comind.gitops.providers.flow import FlowProvider
from comind.gitops.providers.flow_access import FlowAccess
from comind.gitops.providers.queues import QueueProvider, SubscriptionProvider, TopicProvider
from comind.gitops.providers.secret import SecretProvider
from comind.gitops.providers.sqs_queues import SqsQueueProvider, forwarded, unreadable_by_flows
from comind.gitops.reconcile import Reconciler
from comind.gitops.records import GitOpsRecords, SecretStore
from comind.gitops.relays import Relays
from comind.gitops.resources import Resource
from comind.gitops.sealing_keys import SealingKeys
from comind.gitops.sync import Desired, Source, SyncService
from comind.governance import lineage_metrics
from comind.governance.lineage import derive
from comind.governance.lineage_store import LineageStore
from comind.queue.forwarder import Forwarder
from comind.queue.layer import MessageLayer
from comind.queue.model import REGION
from comind.queue.remote import RemoteQueues
from comind.stores.object_store import ObjectStore
from comind.stores.pg_admin import PgAdmin
from comind.stores.postgres import PgTarget
from comind.stores.redis import RedisTarget
from comind.stores.redis import client as redis_client
from comind.stores.redis_acl import RedisAcl

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Engines:
    postgres: PgTarget  # a superuser
    redis: RedisTarget  # the default (admin) user
    objects: ObjectStore
    artifacts: Path  # where artifacts are unpacked for the apps (in the state directory)


class ControlPlane:
    def __init__(
        self,
        source: Source,
        env: str,
        engines: Engines,
        layer: MessageLayer,
        secrets: SecretStore,
        *,
        keys: SealingKeys | None = None,
        apps: AppRuntime | None = None,
        base_env: Callable[[str], dict[str, str]] = lambda app: {},
        flow_command: Callable[..., str] | None = None,
        flow_env: Callable[[Resource], dict[str, str]] = lambda res: {},
        refresh_interval: float = 10.0,
        remote: RemoteQueues | None = None,
    ) -> None:
        self.engines, self.secrets = engines, secrets
        self.pg, self.acl = PgAdmin(engines.postgres), RedisAcl(engines.redis)
        self.databases = DatabaseProvider(self.pg, secrets)
        self.caches = CacheProvider(self.acl, secrets)
        self.flows: FlowProvider | None = None  # with an app runtime and a worker command
        providers: dict[str, Provider] = {
            "database": self.databases,
            "cache": self.caches,
            "bucket": BucketProvider(engines.objects),
            "queue": _queue_provider(layer, remote),
            "topic": TopicProvider(layer),
            "subscription": SubscriptionProvider(layer),
        }
        if keys is not None:
            providers["secret"] = SecretProvider(secrets, keys, env)
        if apps is not None:
            registry = ArtifactRegistry(layer.pool, engines.objects)
            unpacked = engines.artifacts
            providers["app"] = AppProvider(
                apps, lambda app: {**base_env(app), **self.app_env(app)},
                lambda ref: registry.unpack(ref, unpacked))  # fmt: skip
            if flow_command is not None:
                access = FlowAccess(self.pg, self.acl, secrets)
                self.flows = FlowProvider(apps, flow_command, flow_env, access)
                providers["flow"] = self.flows
        self.records = GitOpsRecords(layer.pool)
        self.relays = Relays(self.databases, layer.topics, redis_client(engines.redis))
        self.forwarder = Forwarder(layer.queues, remote) if remote is not None else None
        self.lineage = LineageStore(layer.pool)
        self.ci, self.deployments = CiRecords(layer.pool), DeploymentRecords(layer.pool)
        impossible = unreadable_by_flows if remote else None
        self.service = SyncService(source, env, self.records, Reconciler(providers),
                                   on_applied=self._applied, ci=self.ci.verdict,
                                   deployments=self.deployments, impossible=impossible)  # fmt: skip
        self.controller = Controller(self.service, refresh_interval=refresh_interval)

    def _applied(self, desired: Desired) -> None:
        """A revision is applied: follow its outboxes, store its lineage graph (a graph
        that cannot be stored leaves the previous one; the revision stays applied)."""
        self.relays.follow(desired.resources)
        if self.forwarder is not None:
            self.forwarder.follow(forwarded(desired.resources))
            self.forwarder.start()
        try:
            graph = derive(desired.spec, desired.root or Path())
            self.lineage.replace(graph, desired.revision)
        except Exception:  # the lineage must never undo an apply: logged, counted, next time
            lineage_metrics.STORED.labels("failed").inc()
            log.exception("lineage of %s not stored", desired.revision)
        else:
            lineage_metrics.STORED.labels("stored").inc()
            lineage_metrics.sized(graph)

    def close(self) -> None:
        self.relays.stop_all()
        if self.forwarder is not None:
            self.forwarder.stop()
        self.pg.close()
        self.acl.close()

    def app_env(self, app: str, secrets: SecretStore | None = None) -> dict[str, str]:
        """The service variables of ``app`` at the applied revision (secrets included, read
        from ``secrets`` when given: the API's store waits less for a connection)."""
        desired = self.service.applying or self.service.current
        resources = desired.resources if desired else []
        return service_env(app, resources, self.engines, secrets or self.secrets)


def _queue_provider(layer: MessageLayer, remote: RemoteQueues | None) -> Provider:
    """The apps' queues in PostgreSQL, or on SQS with what the platform writes forwarded."""
    local = QueueProvider(layer)
    return SqsQueueProvider(local, remote) if remote is not None else local


def aws_env(sqs_url: str, s3_url: str | None, key: AppKey) -> dict[str, str]:
    """How an app reaches the platform's SQS and S3 endpoints with its own key."""
    return {
        "AWS_ENDPOINT_URL_SQS": sqs_url,
        **({"AWS_ENDPOINT_URL_S3": s3_url} if s3_url else {}),
        "AWS_ACCESS_KEY_ID": key.access_key_id,
        "AWS_SECRET_ACCESS_KEY": key.secret,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }


def service_env(
    app: str, resources: Iterable[Resource], engines: Engines, secrets: SecretStore
) -> dict[str, str]:
    """How ``app`` reaches its database, cache and bucket: the variables it is given."""
    env: dict[str, str] = {}
    for res in resources:
        if res.app != app:
            continue
        if res.kind == "database":
            env["DATABASE_URL"] = database_target(engines.postgres, secrets, res).url()
        elif res.kind == "cache":
            env["REDIS_URL"] = cache_target(engines.redis, secrets, res).url()
            env["REDIS_KEY_PREFIX"] = f"{app}:"
            env["COMIND_CACHE_TTL"] = str(res.spec.get("ttl", 300))  # the SDK's default TTL
        elif res.kind == "bucket":  # reached through S3 only: an app user cannot read the
            env["OBJECTS_BUCKET"] = res.name  # store's files, and a write there would skip
            # versioning and encryption
        elif res.kind == "secret":
            env.update(SecretProvider.values(secrets, res))
    return env
