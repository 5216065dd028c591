"""Stream flows over real engines: queue → steps → PostgreSQL upsert, quarantine, retries
and dead letters, replay, and a sink that refuses records."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flowkit import FlowKit

from comind.flows.records import Record
from comind.flows.replay import replay

FLOW = """
enrich:
  kind: stream
  source: queue://shop/orders
  batch: {size: 50, max_wait: 0}
  steps:
    - validate: schemas/order.json
    - cleanse: {trim: [email], lower: [email]}
  sink: {postgres: shop.orders, upsert_on: [id]}
  errors: {retries: 2}
"""


def order(i: int, **extra: object) -> dict[str, object]:
    return {"id": f"o{i}", "email": f"  User{i}@Example.COM ", "total": i * 1.5, **extra}


def test_records_are_validated_cleansed_and_upserted(kit: FlowKit) -> None:
    runner = kit.builder(FLOW).runner("enrich")
    kit.send("shop/orders", [order(i) for i in range(20)] + [{"id": "bad", "total": -1}])
    outcome = runner.run_once()
    assert (outcome.records_in, outcome.written, len(outcome.quarantined)) == (21, 20, 1)
    assert kit.rows("SELECT count(*), min(email) FROM orders") == [(20, "user0@example.com")]
    bad = kit.engines.state.quarantined("enrich")
    assert bad[0]["record"]["id"] == "bad"
    assert any("email" in r for r in bad[0]["reasons"]) and any(
        "total" in r for r in bad[0]["reasons"]
    )
    assert kit.layer.queues.stats("shop/orders").visible == 0
    stats = kit.engines.state.stats("enrich")[0]
    assert (stats["records_in"], stats["records_out"], stats["quarantined"]) == (21, 20, 1)


def test_a_replayed_batch_rewrites_the_same_rows(kit: FlowKit) -> None:
    runner = kit.builder(FLOW).runner("enrich")
    kit.send("shop/orders", [order(i) for i in range(10)])
    runner.run_once()
    kit.send("shop/orders", [order(i, total=99) for i in range(10)] + [order(3, total=7)])
    runner.run_once()
    assert kit.rows("SELECT count(*) FROM orders") == [(10,)]
    assert kit.rows("SELECT total FROM orders WHERE id = 'o3'") == [(7,)]  # the last one wins


def test_a_failing_step_retries_then_dead_letters_and_the_rest_goes_on(kit: FlowKit) -> None:
    flow = FLOW.replace(
        "    - cleanse: {trim: [email], lower: [email]}", "    - map: userstep:check"
    )
    files = {
        "userstep.py": """
        CALLS = {}
        def check(r):
            CALLS[r["id"]] = CALLS.get(r["id"], 0) + 1
            if r["id"] == "o3":
                raise ValueError("cannot score o3")
            return r
        """
    }
    runner = kit.builder(flow, files=files).runner("enrich")
    kit.send("shop/orders", [order(i) for i in range(6)])
    outcome = runner.run_once()
    assert outcome.written == 5 and len(outcome.failed) == 1
    import userstep  # type: ignore[import-not-found]

    assert userstep.CALLS["o3"] == 3 and userstep.CALLS["o1"] == 1  # 1 try + 2 retries
    letters = kit.layer.queues.peek("_flows/enrich-dlq", limit=10)
    letter = json.loads(letters[0].body)
    assert letter["flow"] == "enrich" and letter["step"] == "map:userstep:check"
    assert letter["error_type"] == "ValueError" and letter["error"] == "cannot score o3"
    assert letter["attempts"] == 3 and letter["record"]["id"] == "o3"
    assert kit.layer.queues.stats("shop/orders").visible == 0

    # red team 21g F9: a replay took the new letter of a record failing again, again and again
    again = replay(kit.builder(flow, files=files).runner("enrich"), kit.layer.queues)
    assert (again.records_in, again.written, len(again.failed)) == (1, 0, 1)
    letters = kit.layer.queues.peek("_flows/enrich-dlq", limit=10)
    [letter] = [json.loads(m.body) for m in letters]  # the new letter alone, tried again
    assert letter["record"]["id"] == "o3" and letter["attempts"] > 3
    assert kit.layer.queues.stats("_flows/enrich-dlq").visible == 1  # ready for the next one

    (kit.root / "userstep.py").write_text("def check(r):\n    return r\n")
    import importlib

    importlib.reload(userstep)
    fixed = kit.builder(flow).runner("enrich")
    done = replay(fixed, kit.layer.queues)
    assert (done.records_in, done.written, len(done.failed)) == (1, 1, 0)
    assert kit.rows("SELECT count(*) FROM orders") == [(6,)]
    assert kit.layer.queues.peek("_flows/enrich-dlq", limit=10) == []


def test_a_hanging_step_times_out_and_is_dead_lettered(kit: FlowKit) -> None:
    flow = FLOW.replace(
        "    - cleanse: {trim: [email], lower: [email]}", "    - map: hang:slow"
    ).replace("errors: {retries: 2}", "errors: {retries: 0, step_timeout: 1}")
    files = {
        "hang.py": """
        import time
        def slow(r):
            if r["id"] == "o1":
                time.sleep(60)
            return r
        """
    }
    runner = kit.builder(flow, files=files).runner("enrich")
    kit.send("shop/orders", [order(i) for i in range(3)])
    outcome = runner.run_once()
    assert outcome.written == 2
    assert [type(f.error).__name__ for f in outcome.failed] == ["StepTimeout"]


def test_a_sink_schema_mismatch_names_the_column_and_only_that_record_fails(kit: FlowKit) -> None:
    flow = FLOW.replace("    - validate: schemas/order.json\n", "")
    runner = kit.builder(flow).runner("enrich")
    kit.send("shop/orders", [order(1)])
    runner.run_once()  # creates the table from the dataset's schema and the first batch
    kit.send("shop/orders", [order(2), order(3, customer_id="x"), order(4, surprise=1)])
    outcome = runner.run_once()
    assert outcome.written == 1
    errors = {f.record.value["id"]: str(f.error) for f in outcome.failed}
    assert "customer_id" in errors["o3"] and "bigint" in errors["o3"], errors
    assert "no column 'surprise'" in errors["o4"], errors
    assert kit.rows("SELECT id FROM orders ORDER BY id") == [("o1",), ("o2",)]
    assert len(kit.layer.queues.peek("_flows/enrich-dlq", limit=10)) == 2


@pytest.mark.parametrize("body", ["not json", "[1, 2]"])
def test_unreadable_messages_are_quarantined_by_the_source(kit: FlowKit, body: str) -> None:
    from comind.queue.model import OutgoingMessage

    runner = kit.builder(FLOW).runner("enrich")
    kit.layer.queues.send("shop/orders", [OutgoingMessage(body)])
    outcome = runner.run_once()
    assert outcome.quarantined[0].step == "source"
    assert kit.layer.queues.stats("shop/orders").visible == 0


def test_two_first_writes_at_once_both_land(kit: FlowKit) -> None:
    """Red team 21h L3: two partitions of a backfill made the sink table at once, and one
    failed on PostgreSQL's catalog ("duplicate key ... pg_type_typname_nsp_index")."""
    builder = kit.builder(FLOW)
    sinks = [builder.sinks("enrich")["default"] for _ in range(2)]
    start = threading.Barrier(2)

    def write(i: int) -> None:
        start.wait()
        sinks[i].write([Record(order(i))])

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(write, range(2)))  # raises what a write raised
    assert kit.rows("SELECT id FROM orders ORDER BY id") == [("o0",), ("o1",)]
