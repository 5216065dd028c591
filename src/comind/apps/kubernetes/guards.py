"""What bounds an app in the cluster: its team's namespace (Pod Security ``restricted``), the
team's ResourceQuota, and the app's NetworkPolicy.

A NetworkPolicy lets an app be reached only by the apps that depend on it (and the platform's
namespace: its API relays ingest, its workers read sinks), and lets it reach only DNS, the
apps it depends on, and the engines it declares, by their port: PostgreSQL (5432) with a
``database``, Redis (6379) with a ``cache``, HTTPS (443: S3, SQS) with a bucket, queues or
topics it publishes to. Everything else is refused both ways.
"""

from __future__ import annotations

from typing import Any

from comind.apps.kubernetes.naming import (
    PART_OF,
    PLATFORM_TEAM,
    TEAM,
    WAVE_NAMESPACES,
    Options,
    labels,
    metadata,
    namespace,
    selector,
    team_of,
)
from comind.spec.model import App, Spec

Manifest = dict[str, Any]
NAMESPACE_NAME = "kubernetes.io/metadata.name"  # set by Kubernetes on every namespace
PER_APP = {"pods": 4, "requests.cpu": 0.2, "requests.memory": 256, "limits.memory": 1024}
POSTGRES, REDIS, HTTPS, DNS = 5432, 6379, 443, 53


def teams(spec: Spec) -> dict[str, list[str]]:
    """Each team and its apps; the platform's own namespace always."""
    out: dict[str, list[str]] = {PLATFORM_TEAM: []}
    for name, app in sorted(spec.apps.items()):
        out.setdefault(team_of(app), []).append(name)
    return out


def namespace_objects(spec: Spec, opts: Options, team: str, apps: list[str]) -> list[Manifest]:
    """The team's namespace and, when it runs apps, its quota."""
    name = namespace(spec, opts.env, team)
    meta_labels = {PART_OF: spec.platform.name, TEAM: team,
                   "pod-security.kubernetes.io/enforce": "restricted"}  # fmt: skip
    out: list[Manifest] = [{"apiVersion": "v1", "kind": "Namespace",
                            "metadata": metadata(name, meta_labels, WAVE_NAMESPACES)}]  # fmt: skip
    if apps:
        n = len(apps)
        hard = {"pods": str(PER_APP["pods"] * n),
                "requests.cpu": f"{int(PER_APP['requests.cpu'] * 1000 * n)}m",
                "requests.memory": f"{int(PER_APP['requests.memory'] * n)}Mi",
                "limits.memory": f"{int(PER_APP['limits.memory'] * n)}Mi"}  # fmt: skip
        meta = metadata(f"{team}-quota", labels(spec, f"{team}-quota", "quota", team),
                        WAVE_NAMESPACES, namespace=name)  # fmt: skip
        out.append({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta,
                    "spec": {"hard": hard}})  # fmt: skip
    return out


def network_policy(spec: Spec, opts: Options, name: str, app: App) -> Manifest:
    team = team_of(app)
    meta = metadata(f"{name}-only-declared", labels(spec, name, "network-policy", team),
                    WAVE_NAMESPACES)  # fmt: skip
    users = [other for other, a in sorted(spec.apps.items()) if name in a.depends_on]
    ingress = []
    if app.port is not None:
        sources = [_peer(spec, opts, u) for u in users]
        sources.append({"namespaceSelector": {"matchLabels": {
            NAMESPACE_NAME: namespace(spec, opts.env, PLATFORM_TEAM)}}})  # fmt: skip
        ingress.append({"from": sources, "ports": [{"protocol": "TCP", "port": app.port}]})
    egress: list[Manifest] = [{"ports": [{"protocol": "UDP", "port": DNS},
                                         {"protocol": "TCP", "port": DNS}]}]  # fmt: skip
    for dep in app.depends_on:
        port = spec.apps[dep].port
        if port is not None:
            egress.append({"to": [_peer(spec, opts, dep)],
                           "ports": [{"protocol": "TCP", "port": port}]})  # fmt: skip
    egress += [{"ports": [{"protocol": "TCP", "port": port}]} for port in _engine_ports(app)]
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
        "spec": {"podSelector": {"matchLabels": selector(name, "app")},
                 "policyTypes": ["Ingress", "Egress"], "ingress": ingress, "egress": egress},
    }  # fmt: skip


def _peer(spec: Spec, opts: Options, app: str) -> Manifest:
    ns = namespace(spec, opts.env, team_of(spec.apps[app]))
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME: ns}},
            "podSelector": {"matchLabels": selector(app, "app")}}  # fmt: skip


def _engine_ports(app: App) -> list[int]:
    ports = []
    if app.database is not None:
        ports.append(POSTGRES)
    if app.cache is not None:
        ports.append(REDIS)
    if app.bucket is not None or app.queues or app.publishes:
        ports.append(HTTPS)
    return ports
