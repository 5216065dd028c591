"""What the applied revision declares, asked by services that serve per app: an app's
database, the buckets an app may reach and who owns a bucket, the apps with a cache."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from comind.flows.access import flow_buckets
from comind.gitops.resources import Resource
from comind.spec import Spec
from comind.spec.model import Flow
from comind.spec.names import is_flow_principal

if TYPE_CHECKING:
    from comind.platform import Platform


def resources(rt: Platform, kind: str) -> list[Resource]:
    """The resources of ``kind`` in the revision applied in full (none before the first)."""
    current = rt.gitops.service.current if rt.gitops else None
    return [r for r in (current.resources if current else []) if r.kind == kind]


def applied_flow(rt: Platform, flow: str) -> tuple[Spec, Flow] | None:
    """The spec applied in full and ``flow`` in it (None: no such flow, or none applied)."""
    current = rt.gitops.service.current if rt.gitops else None
    declared = current.spec.flows.get(flow) if current else None
    return (current.spec, declared) if current and declared else None


def database_of(rt: Platform, app: str) -> str | None:
    return next((r.name for r in resources(rt, "database") if r.app == app), None)


def buckets_of(rt: Platform, app: str) -> dict[str, tuple[str, ...]]:
    """What ``app`` may reach through the S3 endpoint: the buckets its spec declares, whole;
    for a flow's key, the prefixes the flow reads or writes in its buckets."""
    if is_flow_principal(app):
        flow = app.partition(":")[2]
        found = applied_flow(rt, flow)
        return flow_buckets(found[0], flow) if found else {}
    return {r.name: ("",) for r in resources(rt, "bucket") if r.app == app}


def flow_reports(rt: Platform, flow: str, labels: Mapping[str, str]) -> bool:
    """Whether a worker of ``flow`` may report a sample with ``labels``: its own series,
    and the quality of the datasets it writes (``dataset`` "" for an inline quality step)."""
    if labels.get("flow") == flow:
        return True
    found = applied_flow(rt, flow)
    if found is None or "dataset" not in labels:
        return False
    return labels["dataset"] in {*found[1].written_datasets, ""}


def bucket_owner(rt: Platform, bucket: str) -> str | None:
    return next((r.app for r in resources(rt, "bucket") if r.name == bucket), None)


def cache_apps(rt: Platform) -> list[str]:
    """The apps with a cache (their SDK's counts are exported)."""
    return sorted({r.app for r in resources(rt, "cache")})
