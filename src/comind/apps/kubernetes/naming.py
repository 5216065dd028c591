"""Names, labels and sync waves every rendered resource agrees on.

Each team's apps live in a namespace of their own per environment (``PLATFORM-ENV-TEAM``), so
a team's ResourceQuota bounds its apps alone; flow workers and the platform's jobs live in
``PLATFORM-ENV-platform``. Argo CD applies resources wave by wave: namespaces and quotas,
then secrets, then apps in the order of ``depends_on`` (an app one wave after everything it
depends on), then flow workers, then jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from comind.spec.model import App, Spec

DEFAULT_TEAM = "apps"  # the team of an app that names none
PLATFORM_TEAM = "platform"  # flow workers, batch flows and backups
PART_OF = "app.kubernetes.io/part-of"
NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
TEAM = "comind.io/team"
ENGINE = "comind.io/engine"  # on an engine's pods or egress proxy: who may reach it
WAVE = "argocd.argoproj.io/sync-wave"
WAVE_NAMESPACES, WAVE_SECRETS, WAVE_APPS = -2, -1, 0


@dataclass(frozen=True)
class Options:
    """What the spec does not say: where images come from and where Argo CD reads."""

    env: str
    registry: str  # images: REGISTRY/APP:TAG, the platform's REGISTRY/comind:TAG
    tag: str
    repo_url: str  # the Git repository Argo CD syncs the rendered tree from
    revision: str  # the branch or commit it syncs
    path: str  # where the rendered tree sits in that repository


def team_of(app: App) -> str:
    return app.team or DEFAULT_TEAM


def namespace(spec: Spec, env: str, team: str) -> str:
    return f"{spec.platform.name}-{env}-{team}"[:63].rstrip("-")


def labels(spec: Spec, name: str, component: str, team: str) -> dict[str, str]:
    return {PART_OF: spec.platform.name, NAME: name, COMPONENT: component, TEAM: team}


def selector(name: str, component: str) -> dict[str, str]:
    return {NAME: name, COMPONENT: component}


def metadata(name: str, meta_labels: dict[str, str], wave: int, **more: Any) -> dict[str, Any]:
    return {"name": name, "labels": meta_labels, "annotations": {WAVE: str(wave)}, **more}


def app_wave(spec: Spec, app: str) -> int:
    """The wave of ``app``: one after the latest of the apps it depends on."""
    return WAVE_APPS + _depth(_edges(spec), app)


def last_app_wave(spec: Spec) -> int:
    return max((app_wave(spec, a) for a in spec.apps), default=WAVE_APPS)


def _edges(spec: Spec) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((name, tuple(app.depends_on)) for name, app in spec.apps.items())


@cache
def _depths(edges: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, int]:
    needs = dict(edges)
    out: dict[str, int] = {}

    def depth(app: str) -> int:  # the spec was validated: depends_on has no cycle
        if app not in out:
            out[app] = 1 + max((depth(d) for d in needs.get(app, ())), default=-1)
        return out[app]

    for app in needs:
        depth(app)
    return out


def _depth(edges: tuple[tuple[str, tuple[str, ...]], ...], app: str) -> int:
    return _depths(edges).get(app, 0)
