"""What a flow worker process gets in its environment from the platform that starts it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from comind.gitops.resources import Resource
from comind.observe.multiprocess import ENV as MULTIPROC_ENV
from comind.platform.client_env import engine_tls_env
from comind.platform.lineage import lineage_env
from comind.platform.objects import FILE, object_choice

if TYPE_CHECKING:
    from comind.platform import Platform


def worker_env(rt: Platform, res: Resource) -> dict[str, str]:
    """The state directory (it connects like the CLI), where to write its metrics, the
    OpenLineage endpoint if any, and the PII keys of the revision being applied (the
    flow's logins come from its access provider)."""
    env = {
        "COMIND_HOME": str(rt.engines.home.root),
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        MULTIPROC_ENV: str(rt.worker_metrics),
        **lineage_env(rt.settings),  # COMIND_OPENLINEAGE_*: the endpoint, if any
        **engine_tls_env(rt),  # PGSSLMODE, PGSSLROOTCERT: the engine takes TLS only
        **object_store_env(rt),  # where flow output goes: the platform's choice, not a guess
    }
    service = rt.gitops.service if rt.gitops else None
    desired = service and (service.applying or service.current)
    if desired and rt.privacy and res.name in desired.spec.flows:
        env.update(rt.privacy.worker_env(desired.spec, res.name))
    return env


def object_store_env(rt: Platform) -> dict[str, str]:
    """The object store's choice, and for S3 its endpoint and the AWS_* credentials the
    platform itself uses (a worker writes the flow's output there as the platform does)."""
    choice = object_choice(rt.engines.home, rt.settings)
    env = {"COMIND_OBJECT_STORE": choice}
    if choice != FILE:
        env |= {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        env |= {"COMIND_S3_ENDPOINT": rt.settings.s3_endpoint} if rt.settings.s3_endpoint else {}
    return env
