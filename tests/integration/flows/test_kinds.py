"""Windows, batch partitions, incremental sources, enrichment through the cache, and the
Redis, topic and object sinks, over real engines."""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from flowkit import FlowKit

from comind.flows.batch import BatchRunner
from comind.flows.sources import LeaseExpired
from comind.stores.postgres import connect
from waiting import wait_until

WINDOW = """
counts:
  kind: stream
  source: queue://shop/orders
  batch: {size: 100, max_wait: 0}
  window: {kind: tumbling, size: 60, field: at, key: country}
  sink: {postgres: shop.order_counts, upsert_on: [window_start, country]}
"""

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def test_tumbling_windows_count_per_key_and_close_on_the_watermark(kit: FlowKit) -> None:
    runner = kit.builder(WINDOW).runner("counts")
    kit.send(
        "shop/orders",
        [{"at": at(s), "country": c} for s, c in [(1, "NL"), (2, "NL"), (30, "DE"), (59, "NL")]],
    )
    runner.run_once()
    assert kit.engines.state.closed_windows("counts", T0 + timedelta(hours=1)) != []
    kit.send("shop/orders", [{"at": at(61), "country": "NL"}])  # the first window closes
    outcome = runner.run_once()
    assert outcome.written == 2
    rows = kit.rows("SELECT country, count FROM order_counts ORDER BY country")
    assert rows == [("DE", 1), ("NL", 3)]
    kit.send("shop/orders", [{"at": at(10), "country": "NL"}, {"at": "yesterday?"}])
    late = runner.run_once()
    assert sorted(q.reasons[0].split(":")[0] for q in late.quarantined) == ["at", "late"]
    assert kit.rows("SELECT sum(count) FROM order_counts") == [(4,)]


def test_sliding_windows_count_each_event_in_every_window_holding_it(kit: FlowKit) -> None:
    flow = WINDOW.replace("kind: tumbling, size: 60", "kind: sliding, size: 60, slide: 30")
    runner = kit.builder(flow).runner("counts")
    kit.send("shop/orders", [{"at": at(40), "country": "NL"}, {"at": at(200), "country": "NL"}])
    runner.run_once()
    starts = kit.rows("SELECT window_start, count FROM order_counts ORDER BY 1")
    assert [c for _, c in starts] == [1, 1]  # [0,60) and [30,90) both closed by 200
    assert len(starts) == 2


def test_an_idle_source_closes_its_last_window_on_processing_time(kit: FlowKit) -> None:
    """The example's order-counts wrote nothing for 3,000 orders until more traffic came: the
    last window now closes once the source is idle for size + lateness (the default)."""
    flow = WINDOW.replace("size: 60,", "size: 2, allowed_lateness: 1,")
    runner = kit.builder(flow).runner("counts")
    kit.send("shop/orders", [{"at": at(s), "country": "NL"} for s in (0.2, 0.5, 1.5)])
    assert runner.run_once().written == 0  # counted; its window is still open

    def written() -> bool:
        runner.run_once()  # an empty poll: nothing new arrives
        return _table_made(kit) and kit.rows("SELECT count FROM order_counts") == [(3,)]

    assert wait_until(written, timeout=30, interval=0.2)
    kit.send("shop/orders", [{"at": at(1.9), "country": "NL"}])
    late = runner.run_once()  # the window it belongs to was written: it is late now
    assert [q.reasons[0].split(":")[0] for q in late.quarantined] == ["late"]


def test_a_source_is_not_idle_before_its_idle_timeout(kit: FlowKit) -> None:
    flow = WINDOW.replace("size: 60,", "size: 2, idle_timeout: 1h,")
    runner = kit.builder(flow).runner("counts")
    kit.send("shop/orders", [{"at": at(0.5), "country": "NL"}])
    runner.run_once()
    for _ in range(3):
        assert runner.run_once().written == 0
    assert kit.engines.state.idle_watermark("counts", 3600) is None
    assert not _table_made(kit)  # the sink made its table at its first write: none yet


def _table_made(kit: FlowKit) -> bool:
    return kit.rows("SELECT to_regclass('order_counts') IS NOT NULL") == [(True,)]


BATCH = """
daily:
  kind: batch
  on_demand: true
  source: postgres://shop/sales
  partition: {by: day, field: sold_at}
  steps:
    - aggregate: {group_by: [country], count: orders, sum: [total]}
  sink: {objects: "lake/revenue/{date}.parquet"}
"""


def _sales(kit: FlowKit) -> None:
    kit.execute(
        "CREATE TABLE sales (id int PRIMARY KEY, sold_at timestamptz, country text, total numeric)"
    )
    kit.execute(
        "INSERT INTO sales VALUES (1, '2026-11-25 10:00Z', 'NL', 10),"
        " (2, '2026-11-25 23:59Z', 'NL', 5), (3, '2026-11-25 12:00Z', 'DE', 7),"
        " (4, '2026-11-26 00:00Z', 'NL', 1)"
    )


def _parquet(kit: FlowKit, key: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = pq.read_table(
        io.BytesIO(kit.engines.objects.get("lake", key))
    ).to_pylist()
    return sorted(rows, key=lambda r: str(r["country"]))


def test_a_partition_run_writes_its_parquet_file_and_a_rerun_replaces_it(kit: FlowKit) -> None:
    _sales(kit)
    runner = BatchRunner("daily", kit.builder(BATCH))
    result = runner.run("2026-11-25")
    assert (result.status, result.rows_in, result.rows_out) == ("succeeded", 3, 2)
    assert _parquet(kit, "revenue/2026-11-25.parquet") == [
        {"country": "DE", "orders": 1, "sum_total": 7.0},
        {"country": "NL", "orders": 2, "sum_total": 15.0},
    ]
    kit.execute("UPDATE sales SET total = 100 WHERE id = 3")
    assert runner.run("2026-11-25").status == "succeeded"
    assert _parquet(kit, "revenue/2026-11-25.parquet")[0]["sum_total"] == 100.0
    runs = kit.engines.state.runs("daily")
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]


def test_a_scheduled_partition_runs_once_however_many_workers_fire_it(kit: FlowKit) -> None:
    """Issue 19: a killed leader's batch worker may still run while the new leader's fires
    the same schedule; the partition runs once (a claim in the platform database, and the
    runs table)."""
    _sales(kit)
    first, second = (
        BatchRunner("daily", kit.builder(BATCH)),
        BatchRunner("daily", kit.builder(BATCH)),
    )
    fired = datetime.now(UTC)
    with kit.engines.state.partition_claim("daily", "2026-11-25") as held:  # running elsewhere
        assert held
        busy = second.run("2026-11-25", since=fired)
    assert (busy.status, busy.error) == ("skipped", "running elsewhere")
    assert first.run("2026-11-25", since=fired).status == "succeeded"
    late = second.run("2026-11-25", since=fired)
    assert (late.status, late.error) == ("skipped", "done since the schedule fired")
    assert [r["status"] for r in kit.engines.state.runs("daily")] == ["succeeded"]


def test_backfill_runs_only_missing_or_failed_partitions(kit: FlowKit) -> None:
    _sales(kit)
    runner = BatchRunner("daily", kit.builder(BATCH))
    runner.run("2026-11-25")
    done = runner.backfill("2026-11-24", "2026-11-26", parallel=2)
    assert sorted(r.partition for r in done) == ["2026-11-24", "2026-11-26"]
    assert all(r.status == "succeeded" for r in done)
    assert runner.backfill("2026-11-24", "2026-11-26") == []
    assert {o.key for o in kit.engines.objects.list("lake", "revenue/")} == {
        f"revenue/2026-11-2{d}.parquet" for d in (4, 5, 6)
    }


def test_a_failed_partition_is_recorded_and_leaves_the_old_output(kit: FlowKit) -> None:
    _sales(kit)
    runner = BatchRunner("daily", kit.builder(BATCH))
    runner.run("2026-11-25")
    before = kit.engines.objects.get("lake", "revenue/2026-11-25.parquet")
    kit.execute("ALTER TABLE sales RENAME TO sales_gone")
    failed = runner.run("2026-11-25")
    assert failed.status == "failed" and "sales" in (failed.error or "")
    assert kit.engines.objects.get("lake", "revenue/2026-11-25.parquet") == before
    assert runner.missing("2026-11-25", "2026-11-25") == ["2026-11-25"]


def test_a_table_source_reads_new_rows_once_by_its_cursor(kit: FlowKit) -> None:
    flow = """
copy:
  kind: stream
  source: postgres://shop/sales
  cursor: id
  batch: {size: 2, max_wait: 0}
  sink: {queue: shop/out}
"""
    _sales(kit)
    runner = kit.builder(flow).runner("copy")
    seen = [runner.run_once().written for _ in range(3)]
    assert seen == [2, 2, 0]
    kit.execute("INSERT INTO sales VALUES (5, now(), 'FR', 3)")
    again = kit.builder(flow).runner("copy")  # a restarted worker resumes at the cursor
    assert again.run_once().written == 1
    assert kit.layer.queues.stats("shop/out").visible == 5


def test_an_object_source_processes_each_object_version_once(kit: FlowKit) -> None:
    flow = """
files:
  kind: stream
  source: objects://lake/incoming/
  sink: {redis: "shop:t:{id}", ttl: 60}
"""
    store = kit.engines.objects
    store.put("lake", "incoming/a.jsonl", b'{"id": "a1", "v": 1}\n{"id": "a2", "v": 2}\n')
    store.put("lake", "incoming/b.json", b'[{"id": "b1", "v": 3}]')
    runner = kit.builder(flow).runner("files")
    assert runner.run_once().written == 3
    assert runner.run_once().written == 0
    store.put("lake", "incoming/a.jsonl", b'{"id": "a1", "v": 10}\nnot json\n')
    outcome = runner.run_once()
    assert outcome.written == 1 and "incoming/a.jsonl:2" in outcome.quarantined[0].reasons[0]
    r = kit.engines.cache()
    assert r is not None
    assert r.hgetall("shop:t:a1") == {"id": "a1", "v": "10"}
    assert 0 < r.ttl("shop:t:b1") <= 60
    r.delete("shop:t:a1", "shop:t:a2", "shop:t:b1")


def test_enrich_reads_through_the_cache_and_sees_table_changes(kit: FlowKit) -> None:
    flow = """
enrich:
  kind: stream
  source: queue://shop/orders
  batch: {size: 10, max_wait: 0}
  steps:
    - enrich: {table: shop/customers, by: customer_id, fields: [name, tier]}
  sink: {topic: placed}
"""
    kit.execute("CREATE TABLE customers (id int PRIMARY KEY, name text, tier text)")
    kit.execute("INSERT INTO customers VALUES (1, 'Ada', 'gold'), (2, 'Bo', 'free')")
    kit.install_versioning("customers")
    runner = kit.builder(flow).runner("enrich")
    kit.send("shop/orders", [{"id": "o1", "customer_id": 1}, {"id": "o2", "customer_id": 2}])
    runner.run_once()
    kit.send("shop/orders", [{"id": "o3", "customer_id": 1}])
    runner.run_once()
    kit.execute("UPDATE customers SET tier = 'platinum' WHERE id = 1")
    kit.send("shop/orders", [{"id": "o4", "customer_id": 1}, {"id": "o5", "customer_id": 9}])
    runner.run_once()
    out = [json.loads(m.body) for m in kit.layer.queues.lease("shop/out", limit=10)]
    tiers = {o["id"]: o.get("tier") for o in out}
    assert tiers == {"o1": "gold", "o2": "free", "o3": "gold", "o4": "platinum", "o5": None}
    assert out[0]["name"] == "Ada"


def test_the_app_still_writes_its_enrich_table_once_the_version_trigger_exists(
    kit: FlowKit,
) -> None:
    """The version trigger runs as whoever writes the table: the app's own role, which must
    be able to bump the version (its first write after a restart used to be refused)."""
    role, secret = f"app_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    kit.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{secret}'")
    kit.execute(f'GRANT CONNECT ON DATABASE "{kit.app_db.dbname}" TO {role}')
    kit.execute("CREATE TABLE members (id int PRIMARY KEY, tier text)")
    kit.execute(f"ALTER TABLE members OWNER TO {role}")
    flow = """
tiers:
  kind: stream
  source: queue://shop/orders
  batch: {size: 10, max_wait: 0}
  steps:
    - enrich: {table: shop/members, by: member_id, fields: [tier]}
  sink: {topic: placed}
"""
    kit.builder(flow).runner("tiers")
    kit.install_versioning("members")  # as the platform does when it provisions the flow
    app = replace(kit.app_db, user=role, password=secret)
    with connect(app) as conn:
        conn.execute("INSERT INTO members VALUES (1, 'gold')")
        conn.execute("UPDATE members SET tier = 'platinum'")
    assert kit.rows(
        "SELECT version FROM comind_flows.table_versions WHERE name = 'public.members'"
    ) == [(2,)]
    kit.execute(f"DROP TABLE members; DROP OWNED BY {role}; DROP ROLE {role}")


def test_a_partitioned_sink_table_gets_its_partitions_ahead_and_on_demand(kit: FlowKit) -> None:
    flow = """
load:
  kind: stream
  source: queue://shop/orders
  batch: {size: 100, max_wait: 0}
  sink: {postgres: shop.daily, upsert_on: [id, at], partition: {by: month, field: at}}
"""
    runner = kit.builder(flow).runner("load")
    kit.send("shop/orders", [{"id": 1, "at": "2025-01-15T10:00:00Z"}, {"id": 2, "at": at(5)}])
    assert runner.run_once().written == 2
    kit.send("shop/orders", [{"id": 1, "at": "2025-01-15T10:00:00Z", "v": None}])
    runner.run_once()
    children = {
        r[0]
        for r in kit.rows(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'daily'::regclass"
        )
    }
    assert {"daily_202501", "daily_202611"} <= children and len(children) >= 4  # + 2 ahead
    assert kit.rows("SELECT count(*) FROM daily") == [(2,)]
    assert kit.rows("SELECT count(*) FROM daily_202501") == [(1,)]


def test_a_batch_whose_lease_expired_is_not_counted_twice(kit: FlowKit) -> None:
    builder = kit.builder(WINDOW)
    kit.layer.admin.set_attributes("shop/orders", {"VisibilityTimeout": "1"})
    slow, fast = builder.runner("counts"), builder.runner("counts")
    kit.send("shop/orders", [{"at": at(i), "country": "NL"} for i in range(10)])
    polled = slow.source.poll(100, 0)
    assert len(polled.records) == 10
    assert wait_until(lambda: fast.run_once().records_in == 10, 10)  # the lease expired
    with pytest.raises(LeaseExpired):
        slow.process(polled)
    assert kit.engines.state.closed_windows("counts", T0 + timedelta(hours=1))[0]["count"] == 10


def test_every_worker_judges_lateness_by_the_shared_watermark(kit: FlowKit) -> None:
    builder = kit.builder(WINDOW)
    a, b = builder.runner("counts"), builder.runner("counts")
    kit.send("shop/orders", [{"at": at(100), "country": "NL"}])
    a.run_once()
    kit.send("shop/orders", [{"at": at(200), "country": "NL"}])
    b.run_once()  # the watermark passes 120: [60, 120) closes and is written with 1
    kit.send("shop/orders", [{"at": at(110), "country": "NL"}])
    late = a.run_once()  # a's own watermark (100) is stale; the shared one decides
    assert [q.reasons[0][:4] for q in late.quarantined] == ["late"]
    assert kit.rows("SELECT count FROM order_counts") == [(1,)]
