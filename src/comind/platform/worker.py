"""``comind worker``: one flow's worker process, run against the platform's engines.

A worker is an engine of its own (the platform starts them as supervised processes, and an
operator may start more on other machines): it serves its flow until SIGTERM. It reaches
PostgreSQL with the two logins its environment carries (gitops/providers/flow_access.py):
the flow's writer role for app databases and ``comind_worker`` for the platform database
(queues, flow state, spans). It never reads the superuser's password: it runs app code.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from comind.embedded.home import StateDir
from comind.errors import ComindError
from comind.flows.build import FlowBuilder, FlowEngines
from comind.flows.worker import serve, stop_on_signals
from comind.gitops.providers.flow_access import (
    FLOW_DB_PASSWORD,
    FLOW_DB_USER,
    WORKER_DB_PASSWORD,
    WORKER_DB_USER,
)
from comind.gitops.resources import Resource
from comind.monitoring.spans import SpanStore
from comind.observe.tracing import setup
from comind.platform.local import PlatformState, platform_redis
from comind.queue.layer import MessageLayer
from comind.spec import load_spec
from comind.stores.objects import FileObjectStore
from comind.stores.platform_db import PLATFORM_DB
from comind.stores.postgres import PgTarget


@dataclass(frozen=True)
class WorkerLogins:
    """The PostgreSQL logins of one flow's worker: its writer role, the workers' role."""

    flow_user: str
    flow_password: str = field(repr=False)
    worker_user: str
    worker_password: str = field(repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WorkerLogins:
        names = (FLOW_DB_USER, FLOW_DB_PASSWORD, WORKER_DB_USER, WORKER_DB_PASSWORD)
        missing = [n for n in names if not env.get(n)]
        if missing:
            raise ComindError(f"a flow worker needs {', '.join(missing)} (the platform sets "
                              "them for the workers it starts)")  # fmt: skip
        return cls(*(env[n] for n in names))


@contextmanager
def flow_engines(
    home: StateDir, state: PlatformState, logins: WorkerLogins
) -> Iterator[FlowEngines]:
    """The engines of the platform running with ``state``, as a worker with ``logins``."""
    host, port = state.address("postgres")
    platform = PgTarget(host, port, logins.worker_user, logins.worker_password, PLATFORM_DB)
    writer = PgTarget(host, port, logins.flow_user, logins.flow_password)
    layer = MessageLayer.open(platform, max_connections=8)
    engines = FlowEngines(layer, writer, FileObjectStore(home.objects), platform_redis(home, state))
    try:
        yield engines
    finally:
        engines.close()
        layer.close()


def run_worker(home: StateDir, state: PlatformState, flow: str, root: Path,
               env: str | None) -> None:  # fmt: skip
    """Serve ``flow`` of the spec at ``root`` until SIGTERM or SIGINT."""
    logins = WorkerLogins.from_env()
    stop = stop_on_signals()
    spec = load_spec(root, env)
    with flow_engines(home, state, logins) as engines:
        traces = setup(f"comind-flow-{flow}", {"store": SpanStore(engines.layer.pool).exporter()})
        try:
            serve(FlowBuilder(spec, root, engines), flow, stop)
        finally:
            traces.shutdown()  # the last spans out while the pool is still open


def worker_command(res: Resource) -> str:
    """The command line of one worker of the flow ``res``."""
    args = [
        sys.executable,
        "-m",
        "comind.cli.main",
        "worker",
        "--flow",
        res.name,
        "--root",
        res.spec["root"],
    ]
    if res.spec.get("env"):
        args += ["--env", res.spec["env"]]
    return shlex.join(args)
