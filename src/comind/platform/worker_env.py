"""What a flow worker process gets in its environment from the platform that starts it.

A worker runs app code (its steps), as an OS user of its own flow (apps/accounts.py), so it
is given everything it needs here and reads nothing of the state directory: where the
engines are (their CAs are copied to its HOME), its logins (flow_access.py), a directory of
its own for its metrics, and the platform's S3 endpoint with the flow's own key, which
reaches only the buckets the flow declares (red team 21e G1, G2)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from comind.embedded.osuser import app_user
from comind.gitops.resources import Resource
from comind.observe.multiprocess import ENV as MULTIPROC_ENV
from comind.platform.client_env import engine_tls_env
from comind.platform.lineage import lineage_env
from comind.spec.names import flow_account, flow_principal
from comind.stores.redis import default_user

if TYPE_CHECKING:
    from comind.platform import Platform

WORKER_POSTGRES = "COMIND_WORKER_POSTGRES"  # host:port
WORKER_REDIS = "COMIND_WORKER_REDIS"  # host:port
WORKER_REDIS_CA = "COMIND_WORKER_REDIS_CA"  # the CA a TLS-only Redis is verified against


def worker_env(rt: Platform, res: Resource) -> dict[str, str]:
    """The engines' addresses, where to write its metrics, the object store (the platform's
    S3 endpoint, as the flow), the OpenLineage endpoint if any, and the PII keys of the
    revision being applied (the flow's logins come from its access provider)."""
    redis = default_user(rt.engines.redis)  # its address and CA (the login is the flow's)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        WORKER_POSTGRES: rt.engines.postgres.address,
        WORKER_REDIS: redis.address,
        **({WORKER_REDIS_CA: str(redis.ca)} if redis.ca else {}),
        MULTIPROC_ENV: str(metrics_dir(rt, res.name)),
        **lineage_env(rt.settings),  # COMIND_OPENLINEAGE_*: the endpoint, if any
        **engine_tls_env(rt),  # PGSSLMODE, PGSSLROOTCERT: the engine takes TLS only
        **object_store_env(rt, res.name),
    }
    service = rt.gitops.service if rt.gitops else None
    desired = service and (service.applying or service.current)
    if desired and rt.privacy and res.name in desired.spec.flows:
        env.update(rt.privacy.worker_env(desired.spec, res.name))
    return env


def object_store_env(rt: Platform, flow: str) -> dict[str, str]:
    """The platform's S3 endpoint with the flow's own key (issued on first use); never the
    apps' key of an SQS service (red team 19a H1)."""
    assert rt.credentials is not None and rt.gitops is not None
    envs = rt.app_environments(rt.credentials, rt.gitops.secrets)
    aws = envs.endpoints(flow_principal(flow))
    return {**aws, "COMIND_OBJECT_STORE": "s3", "COMIND_S3_ENDPOINT": rt.s3_url}


def metrics_dir(rt: Platform, flow: str) -> Path:
    """``metrics/<flow>/``: the flow's user's own (the platform reads every flow's)."""
    path = rt.worker_metrics / flow
    path.mkdir(mode=0o700, exist_ok=True)
    app_user(flow_account(flow), rt.engines.home.apps.resolve()).chown(path)
    return path
