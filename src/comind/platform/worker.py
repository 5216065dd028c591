"""``comind worker``: one flow's worker process, run against the platform's engines.

A worker is an engine of its own (the platform starts them as supervised processes, and an
operator may start more on other machines): it connects to PostgreSQL, Redis and the object
store with the state directory's credentials and serves its flow until SIGTERM.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from comind.embedded.home import StateDir
from comind.flows.build import FlowBuilder, FlowEngines
from comind.flows.worker import serve, stop_on_signals
from comind.gitops.resources import Resource
from comind.monitoring.spans import SpanStore
from comind.observe.tracing import setup
from comind.platform.local import PlatformState, platform_db, platform_redis
from comind.queue.layer import MessageLayer
from comind.spec import load_spec
from comind.stores.objects import FileObjectStore


@contextmanager
def flow_engines(home: StateDir, state: PlatformState) -> Iterator[FlowEngines]:
    """The engines of the platform running with ``state``, as the platform."""
    target = platform_db(home, state)
    layer = MessageLayer.open(target, max_connections=8)
    engines = FlowEngines(layer, target, FileObjectStore(home.objects), platform_redis(home, state))
    try:
        yield engines
    finally:
        engines.close()
        layer.close()


def run_worker(home: StateDir, state: PlatformState, flow: str, root: Path,
               env: str | None) -> None:  # fmt: skip
    """Serve ``flow`` of the spec at ``root`` until SIGTERM or SIGINT."""
    stop = stop_on_signals()
    spec = load_spec(root, env)
    with flow_engines(home, state) as engines:
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
