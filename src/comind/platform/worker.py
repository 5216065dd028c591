"""``comind worker``: one flow's worker process, run against the platform's engines.

A worker is an engine of its own (the platform starts them as supervised processes, and an
operator may start more on other machines): it serves its flow until SIGTERM. It reaches
the engines with the logins its environment carries (gitops/providers/flow_access.py):
the flow's writer role for app databases (and its reader role for the app tables it
reads), ``comind_worker`` for the platform database (queues, flow state, spans) and the
flow's own Redis user (its redis sinks' keys, its enrich cache); objects through the
platform's S3 endpoint with the flow's own key. It runs app code, as the flow's own OS
user: it reads nothing of the state directory, where the engines are included.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from comind.embedded.home import StateDir
from comind.embedded.settings import Settings
from comind.errors import ComindError
from comind.flows.build import FlowBuilder, FlowEngines
from comind.flows.jobs import JOBS
from comind.flows.jobs import run_job as run_flow_job
from comind.flows.privacy import keys_from_env
from comind.flows.worker import serve, stop_on_signals
from comind.gitops.providers.flow_access import (
    FLOW_DB_PASSWORD,
    FLOW_DB_READERS,
    FLOW_DB_USER,
    FLOW_REDIS_PASSWORD,
    FLOW_REDIS_USER,
    WORKER_DB_PASSWORD,
    WORKER_DB_USER,
    WORKER_POOL,
)
from comind.gitops.resources import Resource
from comind.monitoring.spans import SpanStore
from comind.observe.tracing import setup
from comind.platform.lineage import worker_emitter
from comind.platform.local import running_state
from comind.platform.objects import object_store
from comind.platform.worker_env import WORKER_POSTGRES, WORKER_REDIS, WORKER_REDIS_CA
from comind.queue.layer import MessageLayer
from comind.spec import load_spec
from comind.stores.platform_db import PLATFORM_DB
from comind.stores.postgres import PgTarget
from comind.stores.redis import RedisTarget


@dataclass(frozen=True)
class WorkerLogins:
    """The logins of one flow's worker: its writer role, the workers' role (PostgreSQL),
    the flow's Redis user."""

    flow_user: str
    flow_password: str = field(repr=False)
    worker_user: str
    worker_password: str = field(repr=False)
    redis_user: str
    redis_password: str = field(repr=False)
    # database -> (user, password): the app's own login, which reads the app's tables
    readers: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WorkerLogins:
        names = (FLOW_DB_USER, FLOW_DB_PASSWORD, WORKER_DB_USER, WORKER_DB_PASSWORD,
                 FLOW_REDIS_USER, FLOW_REDIS_PASSWORD)  # fmt: skip
        missing = [n for n in names if not env.get(n)]
        if missing:
            raise ComindError(f"a flow worker needs {', '.join(missing)} (the platform sets "
                              "them for the workers it starts)")  # fmt: skip
        readers = {db: (str(who[0]), str(who[1]))
                   for db, who in json.loads(env.get(FLOW_DB_READERS) or "{}").items()}  # fmt: skip
        flow, flow_pw, worker, worker_pw, redis, redis_pw = (env[n] for n in names)
        return cls(flow, flow_pw, worker, worker_pw, redis, redis_pw, readers=readers)


@dataclass(frozen=True)
class EngineAddresses:
    """Where the engines are: given by the platform that starts the worker (which then
    reads nothing of the state directory), else read from its state (an operator's)."""

    postgres: tuple[str, int]
    redis: tuple[str, int]
    redis_ca: Path | None = None

    @classmethod
    def of(cls, home: StateDir, env: Mapping[str, str] = os.environ) -> EngineAddresses:
        if env.get(WORKER_POSTGRES) and env.get(WORKER_REDIS):
            ca = env.get(WORKER_REDIS_CA)
            return cls(_host_port(env[WORKER_POSTGRES]), _host_port(env[WORKER_REDIS]),
                       Path(ca) if ca else None)  # fmt: skip
        state = running_state(home)
        return cls(state.address("postgres"), state.address("redis"), state.engine_ca("redis"))


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


@contextmanager
def flow_engines(
    home: StateDir, where: EngineAddresses, logins: WorkerLogins
) -> Iterator[FlowEngines]:
    """The engines at ``where``, as a worker with ``logins``."""
    host, port = where.postgres
    platform = PgTarget(host, port, logins.worker_user, logins.worker_password, PLATFORM_DB)
    writer = PgTarget(host, port, logins.flow_user, logins.flow_password)
    rhost, rport = where.redis
    cache = RedisTarget(rhost, rport, logins.redis_password, username=logins.redis_user,
                        ca=where.redis_ca)  # fmt: skip
    layer = MessageLayer.open(platform, max_connections=WORKER_POOL)
    objects = object_store(home, Settings())  # the platform's choice, given in the environment
    readers = {db: PgTarget(host, port, user, password, db)
               for db, (user, password) in logins.readers.items()}  # fmt: skip
    engines = FlowEngines(layer, writer, objects, cache, lineage=worker_emitter(layer.pool),
                          pii_keys=keys_from_env(), readers=readers)  # fmt: skip
    try:
        yield engines
    finally:
        engines.close()
        layer.close()


@contextmanager
def _builder(home: StateDir, flow: str, root: Path, env: str | None) -> Iterator[FlowBuilder]:
    logins = WorkerLogins.from_env()
    spec = load_spec(root, env)
    with flow_engines(home, EngineAddresses.of(home), logins) as engines:
        traces = setup(
            f"comind-flow-{flow}", {"store": SpanStore(engines.layer.pool).exporter(flow)}
        )
        try:
            yield FlowBuilder(spec, root, engines)
        finally:
            traces.shutdown()  # the last spans out while the pool is still open


def run_worker(home: StateDir, flow: str, root: Path, env: str | None) -> None:
    """Serve ``flow`` of the spec at ``root`` until SIGTERM or SIGINT."""
    stop = stop_on_signals()
    with _builder(home, flow, root, env) as builder:
        serve(builder, flow, stop)


def run_job(home: StateDir, flow: str, root: Path, env: str | None) -> None:
    """One job of an operator's (flows/jobs.py), read as JSON from standard input (never
    the command line, which every user can see: a quarantined record holds PII), its answer
    one JSON document on standard output. The app's code prints to standard error: what it
    prints cannot pass for the answer."""
    job = JOBS.validate_json(sys.stdin.buffer.read())
    answer = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    with _builder(home, flow, root, env) as builder:
        result = run_flow_job(builder, flow, job)
    answer.write(json.dumps(result))
    answer.close()


def worker_command(res: Resource, *, job: bool = False) -> str:
    """The command line of one worker of the flow ``res`` (or of a job, given on its standard
    input), run in a copy of the revision's checkout (its working directory)."""
    args = [sys.executable, "-m", "comind.cli.main", "worker", "--flow", res.name, "--root", "."]
    if res.spec.get("env"):
        args += ["--env", res.spec["env"]]
    return shlex.join(args + (["--job"] if job else []))
