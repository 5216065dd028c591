"""A flow's workers reach Redis as the flow's own ACL user (issue 15, least privilege).

The spec's app, its database and the flow's access are provisioned as a sync does it
(tests/integration/flows/provisioned.py), and the engines are those a worker builds from
the environment the platform hands it (``flow_engines`` with ``WorkerLogins.from_env``).
Its Redis user writes its redis sink's keys and its enrich cache's, and nothing else: not
another app's keys, not the app's keys outside the sink's prefix, not the platform's
``comind:`` keys (another flow's cache included), and no administrative command.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from provisioned import Provisioned, provisioned, stop_cleanly, worker_process

from comind.flows.build import FlowBuilder
from comind.flows.records import Record
from comind.gitops.resources import Resource
from comind.platform import Platform
from comind.platform.worker import EngineAddresses, WorkerLogins, flow_engines
from comind.queue.model import OutgoingMessage
from comind.spec import load_spec
from comind.spec.names import flow_reader_role
from comind.stores.postgres import connect
from comind.stores.redis import client, default_user
from waiting import wait_until

FLOW = "cache-orders"


@pytest.fixture
def shop(runtime: Platform, tmp_path: Path) -> Iterator[tuple[Path, str, Provisioned]]:
    """An app with a database and a cache, a flow enriching its orders through the cache
    into a redis sink, provisioned like a sync does; its Redis keys removed after."""
    app = f"r{uuid.uuid4().hex[:8]}"
    (tmp_path / "comind.yaml").write_text(textwrap.dedent(f"""
        platform: {{name: r}}
        apps:
          {app}:
            run: "true"
            database: {{name: {app}}}
            cache: {{}}
            queues: {{jobs: {{}}}}
        flows:
          {FLOW}:
            kind: stream
            source: queue://{app}/jobs
            steps:
              - {{cleanse: {{dedupe: {{key: [id], window: 10m}}}}}}
              - {{enrich: {{table: {app}/customers, by: customer_id, fields: [tier]}}}}
            sink: {{redis: "{app}:order:{{id}}", ttl: 1h}}
        """))  # fmt: skip
    with provisioned(runtime, tmp_path) as found:
        with connect(found.app_db(app)) as conn:  # the app's lookup table, made by the app
            conn.execute("CREATE TABLE customers (id int PRIMARY KEY, tier text)")
            conn.execute("INSERT INTO customers VALUES (1, 'gold')")
        found.access.apply(_flow(found))  # as the next sync: SELECT and the version trigger
        try:
            yield tmp_path, app, found
        finally:
            with client(default_user(runtime.engines.redis)) as r:
                for key in [*r.scan_iter(f"{app}:*"), *r.scan_iter(f"comind:flow:{FLOW}:*")]:
                    r.delete(key)


def _flow(found: Provisioned) -> Resource:
    return next(r for r in found.resources if r.kind == "flow" and r.name == FLOW)


def test_the_flow_user_writes_its_sink_and_cache_keys_and_nothing_else(
    runtime: Platform, shop: tuple[Path, str, Provisioned]
) -> None:
    root, app, found = shop
    home = runtime.engines.home
    env = found.worker_env(FLOW)
    assert runtime.engines.redis.password not in env.values()  # the default user's
    logins = WorkerLogins.from_env(env)
    with flow_engines(home, EngineAddresses.of(home), logins) as engines:
        builder = FlowBuilder(load_spec(root), root, engines)
        enriched = builder.steps(FLOW)[1].apply([Record({"id": "o1", "customer_id": 1})])
        builder.sinks(FLOW)["default"].write(enriched.kept)
        flow_redis = engines.cache()
        assert flow_redis is not None
        denied = _refused(flow_redis)
        assert denied(lambda r: r.set(f"{app}:secret", "x"))  # the app's, outside the sink
        assert denied(lambda r: r.set("other:key", "x"))  # another app's
        assert denied(lambda r: r.get(f"{app}:order:o1"))  # only the commands a sink sends
        assert denied(lambda r: r.set("comind:platform", "x"))  # the platform's
        assert denied(lambda r: r.mget(["comind:flow:other:enrich:k"]))  # another flow's
        assert denied(lambda r: r.flushall())
        assert denied(lambda r: r.config_get("requirepass"))
        assert denied(lambda r: r.script_flush())
        assert denied(lambda r: r.keys("*"))
        assert denied(lambda r: r.eval("return 1", 0))
    with client(default_user(runtime.engines.redis)) as admin:
        assert admin.hgetall(f"{app}:order:o1") == {"id": "o1", "customer_id": "1", "tier": "gold"}
        cached = list(admin.scan_iter(f"comind:flow:{FLOW}:enrich:*"))
        assert len(cached) == 1 and json.loads(admin.get(cached[0]) or "")["tier"] == "gold"


def test_an_enrich_lookup_runs_the_apps_index_functions_as_the_flows_reader(
    runtime: Platform, shop: tuple[Path, str, Provisioned]
) -> None:
    """Red team 21d F1: the planner runs the IMMUTABLE functions an index predicate calls,
    as whoever plans a query on the table. A lookup read as the flow's writer ran the app's
    code as the writer; now the flow's reader of that database plans it, which may read the
    tables the flow declares there and nothing else (red team 21e G2: not the app's login)."""
    root, app, found = shop
    with connect(found.app_db(app)) as conn:
        conn.execute(
            "CREATE FUNCTION public.spy() RETURNS boolean LANGUAGE plpgsql IMMUTABLE "
            "AS $f$ BEGIN PERFORM pg_notify('spy', current_user); RETURN true; END $f$"
        )
        conn.execute("CREATE INDEX spied ON public.customers (id) WHERE public.spy()")
    listener = psycopg.connect(found.app_db(app).conninfo(), autocommit=True)
    listener.execute("LISTEN spy")
    home = runtime.engines.home
    logins = WorkerLogins.from_env(found.worker_env(FLOW))
    with flow_engines(home, EngineAddresses.of(home), logins) as engines:
        builder = FlowBuilder(load_spec(root), root, engines)
        enriched = builder.steps(FLOW)[1].apply([Record({"id": "o9", "customer_id": 1})])
    assert enriched.kept[0].value["tier"] == "gold"
    who = {n.payload for n in listener.notifies(timeout=1.0)}
    listener.close()
    assert who == {flow_reader_role(FLOW, app)}, who


def test_the_dedupe_window_holds_across_workers_and_restarts(
    runtime: Platform, shop: tuple[Path, str, Provisioned]
) -> None:
    """It lived in each worker's memory: a restart forgot it and two workers did not share
    it. Now in Redis, under the flow's own keys, expiring with the window."""
    root, _, found = shop
    home = runtime.engines.home
    logins = WorkerLogins.from_env(found.worker_env(FLOW))
    with flow_engines(home, EngineAddresses.of(home), logins) as first:
        cleanse = FlowBuilder(load_spec(root), root, first).steps(FLOW)[0]
        kept = cleanse.apply([Record({"id": "o1"}), Record({"id": "o2"}), Record({"id": "o1"})])
        assert [r.value["id"] for r in kept.kept] == ["o1", "o2"]
        cleanse.committed(kept.kept)  # the sink committed them: delivered
    with flow_engines(home, EngineAddresses.of(home), logins) as second:  # another worker, or
        cleanse = FlowBuilder(load_spec(root), root, second).steps(FLOW)[0]  # a restart
        kept = cleanse.apply([Record({"id": "o1"}), Record({"id": "o3"})])
        assert [r.value["id"] for r in kept.kept] == ["o3"]
    with client(default_user(runtime.engines.redis)) as admin:
        window = list(admin.scan_iter(f"comind:flow:{FLOW}:dedupe:*"))
        assert len(window) == 2
        assert all(590_000 < admin.pttl(key) <= 600_000 for key in window)


def _refused(conn: redis.Redis) -> Callable[[Callable[[redis.Redis], object]], bool]:
    def denied(command: Callable[[redis.Redis], object]) -> bool:
        try:
            command(conn)
        except redis.exceptions.NoPermissionError:
            return True
        return False

    return denied


def test_a_changed_flow_user_is_drift_and_the_next_apply_repairs_it(
    runtime: Platform, shop: tuple[Path, str, Provisioned]
) -> None:
    _, _, found = shop
    res, acl = _flow(found), found.access.acl
    user = found.worker_env(FLOW)["COMIND_FLOW_REDIS_USER"]
    assert found.access.observe(res) == ()
    acl.conn.execute_command("ACL", "SETUSER", user, "+@all")
    assert found.access.observe(res) == (
        f"Redis user {user} may run other commands than a flow's workers may",
    )
    acl.conn.execute_command("ACL", "SETUSER", user, "~*")
    assert "differs (password, keys or state)" in found.access.observe(res)[0]
    found.access.apply(res)
    assert found.access.observe(res) == ()
    found.access.delete(res)
    assert acl.observe_user(user) is None
    found.access.apply(res)  # for the fixture, which deletes the flow's access itself


def test_a_worker_process_started_with_the_flows_environment_writes_through_redis(
    runtime: Platform, shop: tuple[Path, str, Provisioned]
) -> None:
    """``comind worker`` as the platform starts it: its environment holds the flow's logins
    only, and its records reach the redis sink, enriched through the cache."""
    root, app, found = shop
    assert runtime.messages is not None
    queues = runtime.messages
    for name in (f"{app}/jobs", f"_flows/{FLOW}-dlq"):
        if name not in queues.admin.names():
            queues.admin.create(name, {"VisibilityTimeout": "60"})
    body = [OutgoingMessage(json.dumps({"id": f"o{i}", "customer_id": 1})) for i in range(5)]
    queues.queues.send(f"{app}/jobs", body)
    logins = found.worker_env(FLOW)
    user = logins["COMIND_FLOW_REDIS_USER"]
    try:
        with worker_process(runtime, FLOW, root, logins) as worker:
            with client(default_user(runtime.engines.redis)) as admin:
                assert wait_until(
                    lambda: admin.exists(*(f"{app}:order:o{i}" for i in range(5))) == 5, 60
                )
                assert admin.hget(f"{app}:order:o4", "tier") == "gold"
                logins_seen = {c["user"] for c in admin.client_list()}
            assert user in logins_seen
            stop_cleanly(worker)
    finally:
        queues.admin.purge(f"{app}/jobs")


def test_only_writes_of_the_looked_up_table_bump_its_version(
    shop: tuple[Path, str, Provisioned],
) -> None:
    """Red team 21f L1: every role could write comind_flows.table_versions (the flow's reader
    included) and force other flows' cache reloads, or rewind a version."""
    _, app, found = shop
    res = next(r for r in found.resources if r.kind == "flow" and r.name == FLOW)
    reader = found.access.readers(res)[app]
    versions = "SELECT version FROM comind_flows.table_versions WHERE name = 'public.customers'"
    with connect(found.app_db(app)) as conn:
        before = conn.execute(versions).fetchone()
        conn.execute("UPDATE public.customers SET tier = tier")  # the app's own write
        after = conn.execute(versions).fetchone()
    assert after is not None and (before or (0,))[0] < after[0]
    with connect(reader) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE comind_flows.table_versions SET version = 0")
