"""The rendered tree, as Kustomize builds it and Argo CD syncs it::

    base/TEAM/           the workloads of each team (and ``platform``: flow workers, jobs),
                         rendered from comind.yaml without any environment overlay
    overlays/ENV/TEAM/   that team in ENV: its namespace, quota, network policies, sealed
                         secrets; the images' tag; a patch for each workload the
                         environment's overlay of the spec changes, adds or removes
    overlays/ENV/        every team of ENV (``kubectl kustomize overlays/ENV``)
    argocd/ENV.yaml      the Argo CD Application syncing ``overlays/ENV``
    argocd/applicationset.yaml  every environment's Application, as one ApplicationSet

Rendering one environment rewrites ``base/`` (the same for every environment) and that
environment's overlay and Application only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from comind.apps.kubernetes.argocd import application, application_set
from comind.apps.kubernetes.guards import namespace_objects, network_policy, teams
from comind.apps.kubernetes.monitoring import monitoring_objects
from comind.apps.kubernetes.naming import (
    PLATFORM_TEAM,
    WAVE_SECRETS,
    Options,
    last_app_wave,
    namespace,
    team_of,
)
from comind.apps.kubernetes.sealing import sealed_secret
from comind.apps.kubernetes.workloads import app_objects, backup_objects, flow_objects
from comind.spec.model import Spec

Manifest = dict[str, Any]
BASE_TAG = "latest"  # the base's images; each overlay sets its own tag
Files = dict[str, str]


@dataclass(frozen=True)
class Secrets:
    """The opened values of each app's declared secrets in the environment, and the
    controller's key to seal them for (None: the spec declares none)."""

    values: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)
    key: rsa.RSAPublicKey | None = None


def workloads(spec: Spec, opts: Options) -> dict[str, list[Manifest]]:
    """Each team's Deployments, Services and CronJobs (without namespaces)."""
    out: dict[str, list[Manifest]] = {team: [] for team in teams(spec)}
    for name, app in sorted(spec.apps.items()):
        out[team_of(app)] += app_objects(spec, opts, name, app)
    for name, flow in sorted(spec.flows.items()):
        out[PLATFORM_TEAM] += flow_objects(spec, opts, name, flow)
    out[PLATFORM_TEAM] += backup_objects(spec, opts)
    return out


def render(base: Spec, spec: Spec, opts: Options, secrets: Secrets) -> Files:
    """The files of ``base/``, of ``opts.env``'s overlay (``spec``: the spec with that
    environment's overlay applied) and of its Application."""
    neutral = replace(opts, env="", tag=BASE_TAG)
    below = workloads(base, neutral)
    files: Files = {}
    for team, objects in below.items():
        files |= _kustomized(f"base/{team}", {"workloads.yaml": objects})
    here = workloads(spec, replace(opts, tag=BASE_TAG))
    overlay = f"overlays/{opts.env}"
    for team, apps in teams(spec).items():
        files |= _team_overlay(spec, opts, secrets, team, apps, below.get(team), here[team])
    files |= _yaml_file(f"{overlay}/kustomization.yaml", {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": sorted(teams(spec))})  # fmt: skip
    files |= _yaml_file(f"argocd/{opts.env}.yaml", application(spec, opts))
    every = application_set(spec, opts)
    if every is not None:  # the same Applications, as one object
        files |= _yaml_file("argocd/applicationset.yaml", every)
    return files


def _team_overlay(
    spec: Spec, opts: Options, secrets: Secrets, team: str, apps: list[str],
    below: list[Manifest] | None, here: list[Manifest],
) -> Files:  # fmt: skip
    """One team's overlay: what only this environment has, and how its workloads differ."""
    path = f"overlays/{opts.env}/{team}"
    extra: dict[str, list[Manifest]] = {
        "namespace.yaml": namespace_objects(spec, opts, team, apps),
        "network-policies.yaml": [network_policy(spec, opts, a, spec.apps[a]) for a in apps],
        "sealed-secrets.yaml": _sealed(spec, opts, secrets, apps),
    }
    if team == PLATFORM_TEAM:
        extra["monitoring.yaml"] = monitoring_objects(spec, last_app_wave(spec) + 1)
    changed, added = _differences(below or [], here)
    extra["workloads.yaml"] = added
    files: Files = {}
    resources = [] if below is None else [f"../../../base/{team}"]
    for name, objects in extra.items():
        if objects:
            files |= _documents(f"{path}/{name}", objects)
            resources.append(name)
    if changed:
        files |= _documents(f"{path}/patches.yaml", changed)
    images = sorted({c["image"].rsplit(":", 1)[0] for o in here for c in _containers(o)})
    files |= _yaml_file(f"{path}/kustomization.yaml", {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "namespace": namespace(spec, opts.env, team), "resources": resources,
        **({"patches": [{"path": "patches.yaml"}]} if changed else {}),
        "images": [{"name": image, "newTag": opts.tag} for image in images],
    })  # fmt: skip
    return files


def _differences(
    below: list[Manifest], here: list[Manifest]
) -> tuple[list[Manifest], list[Manifest]]:
    """The patches turning ``below`` into ``here`` (a whole object where it differs, a
    deletion where it is gone), and the objects only ``here`` has."""
    old = {_key(o): o for o in below}
    new = {_key(o): o for o in here}
    patches = [o for k, o in new.items() if k in old and old[k] != o]
    patches += [{"apiVersion": o["apiVersion"], "kind": o["kind"],
                 "metadata": {"name": o["metadata"]["name"]}, "$patch": "delete"}
                for k, o in old.items() if k not in new]  # fmt: skip
    return patches, [o for k, o in new.items() if k not in old]


def _key(obj: Manifest) -> tuple[str, str]:
    return str(obj["kind"]), str(obj["metadata"]["name"])


def _sealed(spec: Spec, opts: Options, secrets: Secrets, apps: list[str]) -> list[Manifest]:
    out = []
    for app in apps:
        for name in spec.apps[app].secrets:
            if secrets.key is None:
                raise ValueError("a sealing key is needed: the spec declares secrets")
            ns = namespace(spec, opts.env, team_of(spec.apps[app]))
            values = secrets.values.get((app, name), {})
            meta = {"annotations": {"argocd.argoproj.io/sync-wave": str(WAVE_SECRETS)}}
            out.append(sealed_secret(secrets.key, ns, f"{app}-{name}", values, meta))
    return out


def _containers(obj: Manifest) -> list[Manifest]:
    spec = obj.get("spec", {})
    pod = spec.get("jobTemplate", {}).get("spec", spec).get("template", {}).get("spec", {})
    return list(pod.get("containers", []))


def _kustomized(path: str, documents: dict[str, list[Manifest]]) -> Files:
    files: Files = {}
    for name, objects in documents.items():
        files |= _documents(f"{path}/{name}", objects)
    return files | _yaml_file(f"{path}/kustomization.yaml", {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": sorted(n for n, o in documents.items() if o)})  # fmt: skip


def _documents(path: str, objects: list[Manifest]) -> Files:
    return {path: yaml.safe_dump_all(objects, sort_keys=False, allow_unicode=True)}


def _yaml_file(path: str, obj: Manifest) -> Files:
    return {path: yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)}
