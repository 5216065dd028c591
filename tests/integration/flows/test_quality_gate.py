"""The dataset gate on a real stream flow: the rules of the dataset a postgres sink writes
run on the records bound for it, after the flow's steps."""

from __future__ import annotations

from flowkit import FlowKit

FLOW = """
load:
  kind: stream
  source: queue://shop/orders
  batch: {size: 50, max_wait: 0}
  sinks:
    table: {postgres: shop.orders, upsert_on: [id]}
    copy: {queue: shop/out}
"""
RULES = (
    "[{range: {total: [0, 100000]}}, {max_length: {email: 12}}, "
    "{regex: {id: '^o[0-9]+$'}, severity: warn}]"
)


def test_a_record_breaking_an_error_rule_is_quarantined_with_every_reason_and_written_nowhere(
    kit: FlowKit,
) -> None:
    runner = kit.builder(FLOW, quality=RULES).runner("load")
    kit.send(
        "shop/orders",
        [
            {"id": "o1", "email": "a@b.c", "total": 10},
            {"id": "o2", "email": "someone@example.com", "total": 200000},
            {"id": "x3", "email": "c@d.e", "total": 5},  # breaks only the warn rule
        ],
    )
    outcome = runner.run_once()
    assert (outcome.written, len(outcome.quarantined)) == (2, 1)
    assert kit.rows("SELECT id FROM orders ORDER BY id") == [("o1",), ("x3",)]
    bad = kit.engines.state.quarantined("load")
    assert [(q["record"]["id"], q["step"], q["reasons"]) for q in bad] == [
        ("o2", "quality", ["range total [0, 100000]", "max_length email 12"])
    ]
    assert kit.layer.queues.stats("shop/out").visible == 2  # not sent to the other sink either


WINDOW = """
counts:
  kind: stream
  source: queue://shop/orders
  batch: {size: 100, max_wait: 0}
  window: {kind: tumbling, size: 60, field: at, key: country}
  sink: {postgres: shop.orders, upsert_on: [window_start, country]}
"""


def test_a_window_row_breaking_a_rule_is_quarantined_when_it_is_emitted(kit: FlowKit) -> None:
    runner = kit.builder(WINDOW, quality="[{range: {count: [0, 2]}}]").runner("counts")
    events = [(1, "NL"), (2, "NL"), (30, "DE"), (59, "NL"), (61, "NL")]
    kit.send("shop/orders", [{"at": f"2026-11-27T12:{s // 60:02d}:{s % 60:02d}Z", "country": c}
                             for s, c in events])  # fmt: skip
    outcome = runner.run_once()
    assert outcome.written == 1  # DE's window; NL's counted 3
    assert kit.rows("SELECT country, count FROM orders") == [("DE", 1)]
    (bad,) = kit.engines.state.quarantined("counts")  # stored, though the batch had settled
    assert (bad["record"]["country"], bad["reasons"]) == ("NL", ["range count [0, 2]"])
