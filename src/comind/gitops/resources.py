"""The desired state: a spec at a revision rendered to resources ``kind/app/name``.

Each resource carries the settings a provider compares with what is live and the ids of
the resources it needs first (the apply order is a DAG: a database before its app, a
dead-letter queue before its queue, a queue before its subscription before its app;
``depends_on`` adds app → app edges). Rendering is pure: the same spec and files give
the same resources, so a no-op sync finds nothing to do.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from comind.flows.access import TableUse, platform_rows, table_uses
from comind.flows.redis_access import key_patterns
from comind.queue import model
from comind.spec import Spec
from comind.spec.model import App, Flow, Queue
from comind.spec.names import (
    PLATFORM_APP,
    dead_letter_name,
    flow_dead_letter_queue,
    flow_input_queue,
    queue_name,
    role_name,
)
from comind.spec.references import secret_file
from comind.spec.scalars import whole_seconds
from comind.stores.platform_db import WorkerRows

PLATFORM = PLATFORM_APP  # the "app" part of shared resources' ids (topics); no app's name
DATA_BEARING = {"database", "bucket", "queue"}


@dataclass(frozen=True)
class FlowUses:
    """What a flow's workers are provisioned to touch: app tables, Redis keys, and rows of
    the platform database."""

    tables: list[TableUse]
    keys: tuple[str, ...]
    rows: WorkerRows


@dataclass(frozen=True)
class Resource:
    kind: str
    app: str
    name: str
    spec: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.app}/{self.name}"


def render(spec: Spec, root: Path, revision: str = "", env: str | None = None) -> list[Resource]:
    """Every resource ``spec`` (a repo checked out at ``root``) declares, dependencies first."""
    out: list[Resource] = []
    for name, app in spec.apps.items():
        out += _app_services(name, app, root)
    for topic, declared in spec.topics.items():
        out.append(Resource("topic", PLATFORM, topic))
        for sub in declared.subscribers:
            owner, _, queue = sub.queue.partition("/")
            queue_id = f"queue/{owner}/{queue}"
            out.append(Resource(
                "subscription", owner, f"{topic}--{queue}",
                {"topic": topic, "queue": _queue_name(owner, queue, spec.apps[owner].queues[queue]),
                 "filter": sub.filter, "raw": sub.raw},
                (f"topic/{PLATFORM}/{topic}", queue_id),
            ))  # fmt: skip
    services = [r.id for r in out]
    for name, app in spec.apps.items():
        out.append(_app(name, app, out, root, revision))
    for name, flow in spec.flows.items():
        tables = table_uses(spec, name)
        # a flow reading an app's table starts after that app (which creates the table),
        # so the platform can grant the flow's role SELECT on it
        readers = sorted({f"app/{u.app}/{u.app}" for u in tables if not u.write})
        keys = key_patterns(spec, name)
        access = FlowUses(tables, keys, platform_rows(spec, name))
        out += _flow(name, flow, [*services, *readers], root, revision, env, access)
    return out


def _flow(
    name: str,
    flow: Flow,
    services: list[str],
    root: Path,
    revision: str,
    env: str | None,
    access: FlowUses,
) -> list[Resource]:
    """The flow's own queues (input for topic/http sources, dead letters), its topic
    subscription, and its workers, which start once every data service exists."""
    own = [Resource("queue", PLATFORM, f"flow-{name}-dlq", {
        "queue": flow_dead_letter_queue(name), "deletion_policy": "retain",
        "attributes": {"MessageRetentionPeriod": str(14 * 86400)},
    })]  # fmt: skip
    scheme, rest = flow.source_ref.scheme, flow.source_ref.target
    if scheme in ("topic", "http"):
        own.append(Resource("queue", PLATFORM, f"flow-{name}", {
            "queue": flow_input_queue(name), "attributes": {"VisibilityTimeout": "60"},
            "deletion_policy": "retain",
        }))  # fmt: skip
    if scheme == "topic":
        own.append(Resource(
            "subscription", PLATFORM, f"{rest}--flow-{name}",
            {"topic": rest, "queue": flow_input_queue(name), "filter": None, "raw": True},
            (f"topic/{PLATFORM}/{rest}", f"queue/{PLATFORM}/flow-{name}"),
        ))  # fmt: skip
    worker = Resource("flow", PLATFORM, name, {
        "kind": flow.kind, "flow": flow.model_dump(mode="json", by_alias=True),
        "parallelism": flow.parallelism, "root": str(root), "revision": revision, "env": env,
        "tables": [asdict(t) for t in access.tables], "redis_keys": list(access.keys),
        "platform_rows": asdict(access.rows),
    }, tuple(services) + tuple(r.id for r in own))  # fmt: skip
    return [*own, worker]


def tree_digest(folder: Path) -> str:
    """A digest of every file under ``folder`` (names and contents)."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _app_services(name: str, app: App, root: Path) -> list[Resource]:
    out = []
    if app.database is not None:
        db = app.database
        out.append(Resource("database", name, db.name or name, {
            "role": role_name(name), "extensions": sorted(db.extensions),
            "deletion_policy": db.deletion_policy, "max_connections": db.max_connections,
        }))  # fmt: skip
    if app.cache is not None:
        ttl = app.cache.ttl.total_seconds()  # the SDK's default (COMIND_CACHE_TTL)
        grant = {"user": role_name(name), "keys": f"{name}:*", "ttl": ttl}
        out.append(Resource("cache", name, name, grant))
    if app.bucket is not None:
        b = app.bucket
        out.append(Resource("bucket", name, b.name, {
            "versioning": b.versioning, "encrypted": b.encrypted,
            "deletion_policy": b.deletion_policy,
            "versions": b.versions and {"keep_for": int(b.versions.keep_for.total_seconds()),
                                        "keep_newest": b.versions.keep_newest},
        }))  # fmt: skip
    for secret in app.secrets:
        path = secret_file(root, name, secret)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        out.append(Resource("secret", name, secret, {"sealed_sha256": digest, "file": str(path)}))
    for queue, conf in app.queues.items():
        out += _queues(name, queue, conf)
    return out


def _queues(app: str, queue: str, conf: Queue) -> list[Resource]:
    name = _queue_name(app, queue, conf)
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": str(conf.content_based_dedup).lower()}
    attributes = {
        **(fifo if conf.fifo else {}),
        "VisibilityTimeout": str(whole_seconds(conf.visibility_timeout)),
        "DelaySeconds": str(whole_seconds(conf.delay)),
        "MessageRetentionPeriod": str(whole_seconds(conf.retention)),
        "MaximumMessageSize": str(conf.max_message_size),
    }
    if conf.dlq is None:
        return [Resource("queue", app, queue, _queue_spec(name, attributes, conf))]
    dlq_queue, dlq_name = f"{queue}-dlq", dead_letter_name(name)
    dlq_attributes = {**(fifo if conf.fifo else {}),
                      "MessageRetentionPeriod": str(whole_seconds(conf.dlq.retention))}  # fmt: skip
    attributes["RedrivePolicy"] = model.redrive_policy(
        model.queue_arn(dlq_name), conf.dlq.max_receives
    )
    return [
        Resource("queue", app, dlq_queue, _queue_spec(dlq_name, dlq_attributes, conf)),
        Resource(
            "queue", app, queue, _queue_spec(name, attributes, conf), (f"queue/{app}/{dlq_queue}",)
        ),
    ]


def _queue_spec(name: str, attributes: dict[str, str], conf: Queue) -> dict[str, Any]:
    return {"queue": name, "attributes": attributes, "deletion_policy": conf.deletion_policy}


def _queue_name(app: str, queue: str, conf: Queue) -> str:
    return queue_name(app, queue, conf.fifo)


def _app(name: str, app: App, rendered: list[Resource], root: Path, revision: str) -> Resource:
    needs = tuple(r.id for r in rendered if r.app == name)
    needs += tuple(f"app/{dep}/{dep}" for dep in app.depends_on)
    return Resource("app", name, name, {
        "run": app.run, "port": app.port, "env": dict(sorted(app.env.items())),
        "health": app.health.model_dump() if app.health else None,
        "secrets": list(app.secrets), "depends_on": list(app.depends_on),
        "root": str(root), "revision": revision,
        **({"artifact": app.artifact} if app.artifact else {}),
        **({"publishes": list(app.publishes)} if app.publishes else {}),
    }, needs)  # fmt: skip
