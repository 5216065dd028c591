"""Applying a spec to real engines for one property-test example, and putting one record
through each flow worker.

``applied`` creates what the platform's desired state (gitops ``render``) declares: a
platform database of its own (queues, topics, subscriptions, flow state), each app's database
and bucket, and the tables an app would own (enrich lookups, postgres sources); it drops the
databases after. ``process_one`` seeds a flow's source with one order and runs the worker's
own code path once: a stream or event flow's batch loop, a batch flow's run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from croniter import croniter
from flowkit import flow_pii_keys
from psycopg import sql
from tests.waiting import wait_until

from comind.embedded.platform import EmbeddedPlatform
from comind.flows.batch import BatchRunner
from comind.flows.build import FlowBuilder, FlowEngines
from comind.gitops.resources import render
from comind.queue.layer import MessageLayer
from comind.queue.model import OutgoingMessage
from comind.spec import Spec
from comind.spec import steps as declared
from comind.spec.model import Flow
from comind.spec.names import flow_input_queue
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import PgTarget, connect, superuser
from comind.stores.redis import client, default_user

TEMPLATE = "comind_template"
# the mutants' redis sinks write under it (a sink writes an app's keys); removed after each example
REDIS_PREFIX = "orders:mutant:"


def order(day: datetime) -> dict[str, object]:
    """One order as the shop's ingest receives it (valid against schemas/order.json)."""
    return {"id": f"o-{uuid.uuid4().hex[:8]}", "email": "ada@example.com", "total": 42.5,
            "currency": "EUR", "country": "NL", "phone": "+31 6 1234 5678", "customer_id": 7,
            "created_at": day.isoformat(), "scored_at": datetime.now(UTC).isoformat()}  # fmt: skip


@contextmanager
def applied(spec: Spec, root: Path, platform: EmbeddedPlatform) -> Iterator[FlowBuilder]:
    admin = superuser(platform.postgres)
    names = [f"t_{uuid.uuid4().hex[:12]}"]
    names += [a.database.name or n for n, a in spec.apps.items() if a.database is not None]
    with connect(admin) as conn:
        conn.execute(_create(names[0], TEMPLATE))
        for name in names[1:]:
            conn.execute(_create(name, "template1"))
    layer = MessageLayer.open(admin.with_db(names[0]), max_connections=6)
    objects = FileObjectStore(root / ".objects")
    engines = FlowEngines(
        layer,
        admin.with_db(names[0]),
        objects,
        default_user(platform.redis),
        pii_keys=flow_pii_keys(layer, root, spec),
    )
    try:
        _declare(spec, root, layer, objects)
        builder = FlowBuilder(spec, root, engines)
        _lookup_tables(builder)
        yield builder
    finally:
        engines.close()
        layer.close()
        _forget(admin, names, platform)


def _create(name: str, template: str) -> sql.Composed:
    return sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(template)
    )


def _forget(admin: PgTarget, names: list[str], platform: EmbeddedPlatform) -> None:
    with connect(admin) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    with client(default_user(platform.redis)) as conn:
        for key in [*conn.scan_iter(f"{REDIS_PREFIX}*"), *conn.scan_iter("comind:flow:*")]:
            conn.delete(key)


def _declare(spec: Spec, root: Path, layer: MessageLayer, objects: FileObjectStore) -> None:
    """Queues, topics and subscriptions as gitops renders them (dependencies first)."""
    for app in spec.apps.values():
        if app.bucket is not None:
            objects.create_bucket(app.bucket.name)
    for res in render(spec, root):
        if res.kind == "queue":
            layer.admin.create(res.spec["queue"], res.spec["attributes"])
        elif res.kind == "topic":
            layer.topics.create(res.name)
        elif res.kind == "subscription":
            layer.topics.subscribe(
                res.spec["topic"],
                res.spec["queue"],
                filter_policy=res.spec["filter"],
                raw=res.spec["raw"],
            )


def _lookup_tables(builder: FlowBuilder) -> None:
    """The tables enrich steps read (the app owns them; the spec cannot create them)."""
    for flow in builder.spec.flows.values():
        for step in flow.steps:
            if isinstance(step, declared.EnrichStep):
                pool, table = builder.table(step.enrich.table)
                query = sql.SQL("CREATE TABLE IF NOT EXISTS {} ({} text PRIMARY KEY, tier text)")
                with pool.connection() as conn:
                    conn.execute(
                        query.format(
                            sql.Identifier("public", table), sql.Identifier(step.enrich.key)
                        )
                    )


def process_one(builder: FlowBuilder, name: str) -> int:
    """Seed flow ``name``'s source with one order and run its worker's code once; the
    number of records the worker took in."""
    flow = builder.flow(name)
    yesterday = datetime.now(UTC).replace(hour=12, minute=0) - timedelta(days=1)
    _seed(builder, name, flow, order(yesterday))
    if flow.kind == "batch":
        if flow.schedule:  # what serve() does first: the next time the schedule fires
            croniter(flow.schedule, datetime.now(UTC)).get_next(datetime)
        result = BatchRunner(name, builder).run()
        assert result.status == "succeeded", result.error
        return result.rows_in
    runner = builder.runner(name)
    taken: list[int] = []
    assert wait_until(lambda: taken.append(runner.run_once().records_in) or sum(taken) > 0)
    return sum(taken)


def _seed(builder: FlowBuilder, name: str, flow: Flow, value: dict[str, object]) -> None:
    scheme, _, rest = flow.source.partition("://")
    if scheme in ("http", "topic", "queue"):
        queue = builder.queue(rest) if scheme == "queue" else flow_input_queue(name)
        builder.engines.layer.queues.send(queue, [OutgoingMessage(json.dumps(value))])
    elif scheme == "objects":
        bucket, _, prefix = rest.partition("/")
        data = json.dumps(value).encode()
        builder.engines.objects.put(bucket, f"{prefix}{value['id']}.json", data)
    else:
        _seed_table(builder, rest.partition("?")[0], value)


def _seed_table(builder: FlowBuilder, ref: str, value: dict[str, object]) -> None:
    pool, table = builder.table(ref)
    columns = ("id", "email", "total", "currency", "created_at")
    create = sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} (id text PRIMARY KEY, email text, total numeric, "
        "currency text, created_at timestamptz)"
    ).format(sql.Identifier("public", table))
    insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier("public", table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    with pool.connection() as conn:
        conn.execute(create)
        conn.execute(insert, [value[c] for c in columns])
