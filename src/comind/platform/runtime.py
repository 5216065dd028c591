"""What ``comind up`` runs in one process: the engines, the platform database, the message
layer and the API.

This is the composition root: each layer below knows nothing of the others' wiring.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from comind.api.app import create_app
from comind.api.s3 import S3Endpoint
from comind.api.server import ApiServer, base_url
from comind.api.sqs import SqsEndpoint
from comind.api.sqs_actions import SqsActions
from comind.api.tls import TlsFiles, is_loopback
from comind.apps.accounts import AppAccounts
from comind.apps.cache_evictions import EvictionWatcher
from comind.apps.cache_metrics import AppCacheCollector
from comind.apps.cache_metrics import register as register_caches
from comind.apps.credentials import Credentials
from comind.apps.runtime import AppRuntime
from comind.backup.wal import WalArchive
from comind.embedded.monitoring import Scrape, alertmanager_binary, monitoring_engines
from comind.embedded.platform import EmbeddedPlatform
from comind.embedded.ports import free_port
from comind.embedded.settings import Settings
from comind.embedded.state import About
from comind.errors import ComindError
from comind.gitops.plane import ControlPlane, Engines
from comind.gitops.records import SecretStore
from comind.gitops.sealing_keys import SealingKeys, sealing_keys
from comind.gitops.sync import Source
from comind.monitoring.events import EventLog
from comind.monitoring.logship import LogShipper
from comind.monitoring.logstore import LogStore
from comind.monitoring.timeseries import MetricSource, TimeSeries
from comind.observe.alerting import Alerting
from comind.observe.metrics import REGISTRY, expose
from comind.observe.multiprocess import registry as merged_registry
from comind.observe.multiprocess import reset as reset_worker_metrics
from comind.observe.notify import WebhookNotifier
from comind.observe.rules import alert_rules
from comind.observe.rules import render as render_rules
from comind.platform.appenv import AppEnvironments
from comind.platform.applied import buckets_of, cache_apps, flow_reports
from comind.platform.backups import BackupService
from comind.platform.client_env import ca_env
from comind.platform.housekeeping import run_periodic
from comind.platform.keys import backup_keys
from comind.platform.objects import backup_store, keep_choices, object_store
from comind.platform.privacy import Privacy
from comind.platform.protection import Protection
from comind.platform.replicas import Replicas, join
from comind.platform.routes import platform_routes
from comind.platform.secrets import platform_sealer, state_key
from comind.platform.upkeep import MOVE_SECONDS, upkeep
from comind.platform.worker import worker_command
from comind.platform.worker_env import worker_env
from comind.queue.config import queue_settings
from comind.queue.layer import MessageLayer
from comind.queue.metrics import Depth, QueueDepthCollector, register_depth, unregister_depth
from comind.queue.remote import RemoteQueues, check_choice
from comind.spec import Spec
from comind.spec.names import BACKUP_BUCKET
from comind.stores.pg_standins import sweep as sweep_stand_ins
from comind.stores.platform_db import prepare
from comind.stores.postgres import PgTarget, make_pool, superuser
from comind.stores.redis import client, default_user

log = logging.getLogger("comind.runtime")
QUEUES = "queues"  # where the apps' queues are, kept as secrets/queues-url
API_POOL_WAIT = 3.0  # an API request waits this long for a connection, then answers 503


class Platform:
    """The running platform of one state directory."""

    def __init__(
        self,
        settings: Settings,
        *,
        about: Mapping[str, str | None],
        spec: Spec | None = None,
        source: Source | None = None,
        env: str | None = None,
        api_host: str | None = None,
        tls: TlsFiles | None = None,
        public_url: str | None = None,
    ):
        self.api_host, self.tls = api_host or settings.host, tls  # the API and dashboard
        for what, host in (("the API", self.api_host), ("the S3 endpoint", settings.host)):
            if tls is None and not is_loopback(host):
                raise ComindError(f"serving {what} on {host} needs TLS (--tls-cert/--tls-key)")
        self.remote_queues = RemoteQueues.open(queue_settings())  # checked before any start
        if not (is_loopback(self.api_host) and is_loopback(settings.host)):
            settings = settings.model_copy(update={"engine_tls": True})
        self.events = EventLog()
        self.settings = settings
        self.engines = EmbeddedPlatform(settings, on_event=self.events.record)
        self.about, self.spec, self.source, self.env = about, spec, source, env or "default"
        self.gitops: ControlPlane | None = None
        self.apps: AppRuntime | None = None
        self.sealing: SealingKeys | None = None
        self.series: TimeSeries | None = None
        self.logs: LogStore | None = None
        self.shipper: LogShipper | None = None
        self.alerting: Alerting | None = None
        self.scrapes: MetricSource | None = None
        self.registry = REGISTRY
        self.notifier: WebhookNotifier | None = None
        self.db: PgTarget | None = None
        self.messages: MessageLayer | None = None
        self.control: MessageLayer | None = None  # the API's: a short wait, checked connections
        self.credentials: Credentials | None = None
        self.privacy: Privacy | None = None
        self.host = settings.host  # engines, apps and the S3 endpoint
        self.port = settings.api_port or free_port(self.api_host)
        self.url = public_url or base_url(self.api_host, self.port, tls)  # what clients use
        self.server: ApiServer | None = None
        self.s3_port = settings.s3_port or free_port(settings.host)
        # HTTPS beyond loopback only: on loopback the apps reach it at 127.0.0.1, which an
        # operator's certificate need not name
        self.s3_tls = None if is_loopback(self.host) else tls
        self.s3_url = self._s3_url(public_url)
        self.s3_server: ApiServer | None = None
        self._depth: QueueDepthCollector | None = None
        self._caches: AppCacheCollector | None = None
        self.protection: Protection | None = None
        self.backup_service: BackupService | None = None
        check_choice(self.engines.home.engine_url(QUEUES, None), self.remote_queues)
        self.objects = object_store(self.engines.home, settings)
        self.wal = WalArchive(
            backup_store(self.engines.home, self.settings, self.objects),
            backup_keys(self.engines.home),
        )
        self._stop = threading.Event()
        self.replicas: Replicas | None = None
        self.leading = False
        # a leader that lost its lock stops: its supervisor starts it again, as a follower
        self.on_lost: Callable[[], None] = lambda: os.kill(os.getpid(), signal.SIGTERM)

    def _s3_url(self, public_url: str | None) -> str:
        """Where clients reach the S3 endpoint: over HTTPS, at the public URL's host when
        there is one (an operator's certificate need not name this machine's addresses)."""
        public = urlsplit(public_url).hostname if public_url and self.s3_tls else None
        return base_url(public or self.host, self.s3_port, self.s3_tls)

    def start(self) -> None:
        """Start everything; on failure stop what started and re-raise."""
        self.objects.buckets()  # an object store on S3 answers, or one line
        self.wal.store.create_bucket(BACKUP_BUCKET)  # so does a backup store
        self.engines.start()
        try:
            self._start_services()
        except BaseException:
            self.stop_services()
            self.engines.stop()
            raise
        keep_choices(self.engines.home, self.settings)  # later commands on this directory
        if self.remote_queues is not None:
            self.engines.home.keep_engine_url(QUEUES, self.remote_queues.choice)
        apps = sorted(self.spec.apps) if self.spec else []
        self.engines.about = About.model_validate(
            {**self.about, "api_url": self.url, "metrics_url": f"{self.url}/metrics",
             "sqs_url": self.url, "s3_url": self.s3_url, "apps": apps, **self._tls_state(),
             **self._app_users()}
        )  # fmt: skip
        self.engines.write_state()

    def _start_services(self) -> None:
        self.registry = merged_registry(
            REGISTRY, self.worker_metrics, lambda flow, labels: flow_reports(self, flow, labels)
        )
        admin = superuser(self.engines.postgres)
        self.db = prepare(admin)
        self.replicas = join(self.db, self.settings, self.engines.home, self.url)
        leading = self.replicas is None or self.replicas.leads_at_start(self.settings.start_timeout)
        if leading:  # a crash mid-restore may have left one; no job runs yet
            sweep_stand_ins(admin, at_start=True)
        self.events.attach(self.db)
        messages = self.messages = MessageLayer.open(self.db)
        self.control = MessageLayer(
            make_pool(self.db, max_size=10, timeout=API_POOL_WAIT, checked=True)
        )
        self.privacy = Privacy.open(self.engines.home, messages.pool,
                                    state_key(self.engines.home, "platform-key"))  # fmt: skip
        self.privacy.vault.publish()  # before the first sync starts workers that seal to it
        self._depth = register_depth(messages.pool, self._sqs_depths)
        self._caches = register_caches(client(default_user(self.engines.redis)),
                                       lambda: cache_apps(self))  # fmt: skip
        self._evictions = EvictionWatcher(default_user(self.engines.redis),
                                          lambda: cache_apps(self)).start()  # fmt: skip
        credentials = self.credentials = Credentials(
            messages.pool, platform_sealer(self.engines.home)
        )
        if self.spec is not None:
            for app in self.spec.apps:
                credentials.ensure(app)
        if self.source is not None:
            self._build_gitops(messages)
        actions = SqsActions(messages, apps_on_sqs=self.remote_queues is not None)
        sqs = SqsEndpoint(actions, credentials, self.url)
        self.logs = LogStore(messages.pool)
        self.logs.prepare(datetime.now(UTC).date())
        self.shipper = LogShipper(self.logs, self.engines.home.logs)
        self.series = TimeSeries(messages.pool)
        self.alerting = self._alerting(self.series)
        self.protection = Protection(self, messages.pool, self._current_spec)
        self.backup_service = self.protection.service
        extra = platform_routes(self, self.control, self.series, self.logs, self.alerting)
        expose(self.registry)
        http = create_app(self.engines, sqs=sqs.handle, extra=extra, follows=self._follows)
        self.server = ApiServer(http, host=self.api_host, port=self.port, tls=self.tls)
        self.server.start()
        s3 = S3Endpoint(self.objects, credentials, lambda app: buckets_of(self, app))
        self.s3_server = ApiServer(s3, host=self.host, port=self.s3_port, tls=self.s3_tls)
        self.s3_server.start()
        if self.settings.with_prometheus:
            self._start_monitoring()
        if leading:
            self._lead()
        else:  # the leader's work, once this replica leads
            assert self.replicas is not None
            threading.Thread(target=self.replicas.follow, args=(self._stop, self._promoted),
                             name="comind-follow", daemon=True).start()  # fmt: skip

    def _lead(self) -> None:
        """What one platform (the leading replica) does: sync (apps start once the endpoints
        they use are up), housekeeping, backups and their tests."""
        assert self.messages is not None and self.protection is not None
        self.leading = True
        if self.gitops is not None:
            report = self.gitops.service.startup()
            log.info("first sync of %s: %s %s", report.revision, report.outcome, report.message)
            self.gitops.controller.start()
        tasks = upkeep(self, self.messages)
        threading.Thread(target=run_periodic, args=(tasks, self._stop, MOVE_SECONDS),
                         name="comind-housekeeping", daemon=True).start()  # fmt: skip
        self.protection.start()
        if self.replicas is not None:
            self.replicas.publish()  # every secret the start made, for the followers
            threading.Thread(target=self.replicas.keep, args=(self._stop, self.on_lost),
                             name="comind-lead", daemon=True).start()  # fmt: skip

    def _promoted(self) -> None:
        assert self.replicas is not None
        self.replicas.install()  # what the last leader published, rotations included
        self._lead()

    def _follows(self) -> str | None:
        """The leader this replica follows (its name and API), or None while it leads."""
        if self.leading or self.replicas is None:
            return None
        found = self.replicas.leader()
        return f"{found.replica} at {found.api_url}" if found else "not known yet"

    def _start_monitoring(self) -> None:
        """Prometheus (and Alertmanager) scraping this platform with the generated rules."""
        ca = self.tls.cert if self.tls is not None and self.tls.generated else None
        home = self.engines.home
        home.secret("api-viewer-token")  # made before Prometheus reads it
        scrape = Scrape(self.url, home.secrets / "api-viewer-token", ca)
        for engine in monitoring_engines(home, scrape,
                                         render_rules(self.spec), self.settings.webhook_urls,
                                         self.settings.start_timeout):  # fmt: skip
            self.engines.add_engine(engine)

    def _current_spec(self) -> Spec | None:
        current = self.gitops.service.current if self.gitops else None
        return current.spec if current else self.spec

    def _build_gitops(self, messages: MessageLayer) -> None:
        """The control plane of the source (its first sync runs once the endpoints serve)."""
        assert self.source is not None
        home = self.engines.home
        engines = Engines(
            superuser(self.engines.postgres),
            default_user(self.engines.redis),
            self.objects,
            home.root / "artifacts",
        )
        secrets = SecretStore(messages.pool, platform_sealer(home))
        keys = sealing_keys(home, renew_after=timedelta(days=self.settings.sealing_renew_days))
        keys.current()  # a sealing key exists from the first start; renewed when it is due
        self.sealing = keys
        credentials = self.credentials
        assert credentials is not None
        self.apps = AppRuntime(home.app_logs, host=self.host, accounts=AppAccounts(home.apps))
        reset_worker_metrics(self.worker_metrics)
        self.gitops = ControlPlane(
            self.source,
            self.env,
            engines,
            messages,
            secrets,
            keys=keys,
            apps=self.apps,
            base_env=self.app_environments(credentials, secrets).base,
            flow_command=worker_command,
            flow_env=lambda res: worker_env(self, res),
            refresh_interval=self.settings.refresh_interval,
            remote=self.remote_queues
            and self.remote_queues.owned_by(state_key(home, "platform-key")),
        )

    def _sqs_depths(self) -> Mapping[str, Depth]:
        """The apps' queues' depths on SQS, as the leader's forwarder last read them."""
        forwarder = self.gitops.forwarder if self.gitops else None
        return forwarder.depths.current() if forwarder else {}

    def _app_users(self) -> dict[str, bool]:
        """Whether each app runs as an OS user of its own (only a root platform can)."""
        accounts = self.apps.accounts if self.apps else None
        return {"app_users": accounts.isolated} if accounts else {}

    @property
    def worker_metrics(self) -> Path:
        return self.engines.home.worker_metrics

    def _tls_state(self) -> dict[str, str | bool]:
        """What clients need to know of the API's TLS (state.json and /api/v1/status)."""
        if self.tls is None:
            return {}
        return {"api_listen": f"{self.api_host}:{self.port}", "tls_cert": str(self.tls.cert),
                "tls_self_signed": self.tls.generated}  # fmt: skip

    def app_environments(self, credentials: Credentials, secrets: SecretStore) -> AppEnvironments:
        """What apps are given, read through ``credentials`` and ``secrets``."""
        return AppEnvironments(credentials, secrets, lambda: self.gitops, self.spec, self.url,
                               self.s3_url, lambda: ca_env(self), self.remote_queues)  # fmt: skip

    def _alerting(self, series: TimeSeries) -> Alerting:
        # with a real Alertmanager beside it, that one notifies: never the same alert twice
        delegated = self.settings.with_prometheus and alertmanager_binary() is not None
        self.notifier = WebhookNotifier([] if delegated else self.settings.webhook_urls)
        self.notifier.start()
        self.scrapes = MetricSource(self.registry, series)  # flow workers' metrics included
        return Alerting(alert_rules(self.spec), self.scrapes, self.notifier, external_url=self.url)

    def stop_services(self) -> None:
        """Stop the API and the message layer; the engines keep running."""
        self._stop.set()
        expose(REGISTRY)
        if self.protection is not None:
            self.protection.stop()
        if self.replicas is not None:
            self.replicas.close()
        if self.gitops is not None:
            self.gitops.controller.stop()
            self.gitops.close()
        if self.apps is not None:
            self.apps.stop_all()
        if self.server is not None:
            self.server.stop()
        if self.s3_server is not None:
            self.s3_server.stop()
        if self.notifier is not None:
            self.notifier.stop()
        if self._depth is not None:
            unregister_depth(self._depth)
            self._depth = None
        if self._caches is not None:
            self._evictions.set()
            REGISTRY.unregister(self._caches)
            self._caches = None
        if self.messages is not None:
            self.messages.close()
        if self.control is not None:
            self.control.close()
        if self.remote_queues is not None:
            self.remote_queues.close()

    def stop(self) -> None:
        self.stop_services()
        self.engines.stop()
