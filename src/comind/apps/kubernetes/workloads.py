"""Deployments, Services and CronJobs: the apps, the flow workers, batch flows and backups.

An app runs its ``run`` command in its image (``REGISTRY/APP:TAG``), probed as its
``health`` says, rolled one new pod at a time (never fewer ready than wanted), as a non-root
user without privileges. What it reaches its engines with (``DATABASE_URL``, ``REDIS_URL``,
the SQS/S3 keys) is in the Secret ``APP-engines`` the control plane writes, its declared
secrets in the SealedSecrets ``APP-NAME``. Flow workers run ``comind worker``; batch flows and
backups are CronJobs asking the control plane's API (``comind flow run`` / ``backup run``),
never two runs at once.
"""

from __future__ import annotations

from typing import Any

from comind.apps.kubernetes.naming import (
    PLATFORM_TEAM,
    Options,
    app_wave,
    labels,
    last_app_wave,
    metadata,
    namespace,
    selector,
    team_of,
)
from comind.spec.model import App, Flow, Health, Spec

Manifest = dict[str, Any]
REPO = "/srv/repo"  # where an image holds the platform repo's checkout
REQUESTS = {"cpu": "100m", "memory": "128Mi"}
LIMITS = {"memory": "512Mi"}
API_CONFIG = "comind-api"  # ConfigMap: COMIND_SERVER, the control plane's API URL
API_TOKEN = "comind-api-token"  # Secret: COMIND_TOKEN, an operator token for jobs


def app_objects(spec: Spec, opts: Options, name: str, app: App) -> list[Manifest]:
    """The app's Deployment, and its Service when it listens on a port."""
    team = team_of(app)
    meta = metadata(name, labels(spec, name, "app", team), app_wave(spec, name))
    container: Manifest = {
        "name": name,
        "image": f"{opts.registry}/{name}:{opts.tag}",
        "command": ["sh", "-c", f"exec {app.run}"],
        "workingDir": REPO,
        "env": _app_env(name, app),
        "envFrom": [{"secretRef": {"name": f"{name}-engines"}}]
        + [{"secretRef": {"name": f"{name}-{s}"}} for s in app.secrets],
        "resources": {"requests": REQUESTS, "limits": LIMITS},
        "securityContext": _locked_down(),
    }
    if app.port is not None:
        container["ports"] = [{"name": "http", "containerPort": app.port}]
    if app.health is not None:
        container["readinessProbe"] = _probe(app.health, app.port)
        container["livenessProbe"] = {**_probe(app.health, app.port), "failureThreshold": 3}
    out = [_deployment(meta, name, "app", container, rolling=True)]
    if app.port is not None:
        out.append({
            "apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"selector": selector(name, "app"),
                     "ports": [{"name": "http", "port": app.port, "targetPort": "http"}]},
        })  # fmt: skip
    return out


def flow_objects(spec: Spec, opts: Options, name: str, flow: Flow) -> list[Manifest]:
    """A stream or event flow's workers (a Deployment); a scheduled batch flow's CronJob."""
    wave = last_app_wave(spec) + 1
    meta = metadata(f"flow-{name}", labels(spec, f"flow-{name}", "flow", PLATFORM_TEAM), wave)
    if flow.kind == "batch":
        if flow.schedule is None:
            return []  # on demand only: run through the API
        return [_cron_job(meta, opts, str(flow.schedule), ["flow", "run", name])]
    container = {
        "name": "worker",
        "image": _platform_image(opts),
        "args": ["worker", "--flow", name, "--root", REPO, "--env", opts.env],
        "envFrom": [{"secretRef": {"name": f"comind-flow-{name}"}}],
        "resources": {"requests": REQUESTS, "limits": LIMITS},
        "securityContext": _locked_down(),
    }
    return [_deployment(meta, f"flow-{name}", "flow", container, rolling=False)]


def backup_objects(spec: Spec, opts: Options) -> list[Manifest]:
    """One CronJob per app database with a backup schedule (a logical dump of it)."""
    wave = last_app_wave(spec) + 2
    out = []
    for name, app in sorted(spec.apps.items()):
        backup = app.database.backup if app.database else None
        if backup is None or backup.schedule is None:
            continue
        meta = metadata(f"backup-{name}", labels(spec, f"backup-{name}", "backup",
                                                 PLATFORM_TEAM), wave)  # fmt: skip
        args = ["backup", "run", "--kind", "logical", "--app", name]
        out.append(_cron_job(meta, opts, str(backup.schedule), args))
    return out


def platform_namespace(spec: Spec, opts: Options) -> str:
    return namespace(spec, opts.env, PLATFORM_TEAM)


def _app_env(name: str, app: App) -> list[Manifest]:
    derived = {"HOST": "0.0.0.0"}  # a pod listens on its own address, reached by Services
    if app.port is not None:
        derived["PORT"] = str(app.port)
    if app.cache is not None:
        derived |= {"REDIS_KEY_PREFIX": f"{name}:",
                    "COMIND_CACHE_TTL": str(int(app.cache.ttl.total_seconds()))}  # fmt: skip
    if app.bucket is not None:
        derived["OBJECTS_BUCKET"] = app.bucket.name
    return [{"name": k, "value": v} for k, v in sorted({**app.env, **derived}.items())]


def _probe(health: Health, port: int | None) -> Manifest:
    timing = {"initialDelaySeconds": int(health.initial_delay.total_seconds()),
              "periodSeconds": int(health.period.total_seconds())}  # fmt: skip
    if health.http is not None:
        return {"httpGet": {"path": health.http, "port": port or 80}, **timing}
    if health.tcp is not None:
        return {"tcpSocket": {"port": health.tcp}, **timing}
    return {"exec": {"command": ["sh", "-c", str(health.command)]}, **timing}


def _deployment(
    meta: Manifest, name: str, component: str, container: Manifest, *, rolling: bool
) -> Manifest:
    # an app keeps serving while a new pod starts; a flow's workers stop before new ones
    # start, so two revisions of a flow never consume at once
    strategy = ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
                if rolling else {"type": "Recreate"})  # fmt: skip
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
        "spec": {
            "replicas": 1, "strategy": strategy,
            "selector": {"matchLabels": selector(name, component)},
            "template": {"metadata": {"labels": meta["labels"]}, "spec": _pod(container)},
        },
    }  # fmt: skip


def _cron_job(meta: Manifest, opts: Options, schedule: str, args: list[str]) -> Manifest:
    container = {
        "name": "run",
        "image": _platform_image(opts),
        "args": args,
        "envFrom": [{"configMapRef": {"name": API_CONFIG}}, {"secretRef": {"name": API_TOKEN}}],
        "resources": {"requests": REQUESTS, "limits": LIMITS},
        "securityContext": _locked_down(),
    }
    pod = {**_pod(container), "restartPolicy": "Never"}
    return {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
        "spec": {
            "schedule": schedule, "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 300,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {"backoffLimit": 2, "template": {
                "metadata": {"labels": meta["labels"]}, "spec": pod}}},
        },
    }  # fmt: skip


def _pod(container: Manifest) -> Manifest:
    return {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
    }


def _locked_down() -> Manifest:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def _platform_image(opts: Options) -> str:
    return f"{opts.registry}/comind:{opts.tag}"
