"""The lineage graph derived from a spec: nodes and edges, column lineage per step kind
(OpenLineage's column lineage types), declared mappings read without importing, the
example's graph and the impact of a column."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from comind.governance.lineage import ColumnEdge, LineageGraph, Node, derive, openlineage_name
from comind.governance.lineage_walk import LineageIndex, UnknownNode
from comind.spec.loading import load_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "shop"
ORDER = {"type": "object", "properties": {k: {"type": "string"} for k in
                                          ("id", "email", "total", "country", "ts")}}  # fmt: skip
SPEC = """\
platform: {name: t}
apps:
  shop:
    run: python app.py
    database: {name: shop}
    bucket: {name: lake}
    queues: {raw: {}, out: {}}
topics:
  placed: {subscribers: [shop/out]}
datasets:
  shop.orders: {store: postgres://shop/orders, schema: order.json}
  shop.customers: {store: postgres://shop/customers}
  shop.per_customer: {store: postgres://shop/per_customer}
flows:
  ingest:
    kind: stream
    source: queue://shop/raw
    steps:
      - validate: order.json
      - cleanse: {trim: [country]}
      - enrich: {table: shop/customers, by: id, fields: [tier]}
      - map: udf:opaque
      - python: udf:declared
      - filter: udf:big
      - quality: {not_null: [email]}
    sinks:
      table: {postgres: shop.orders, upsert_on: [id]}
      events: {topic: placed}
  rollup:
    kind: batch
    on_demand: true
    source: postgres://shop/orders
    steps:
      - anonymize: {email: hash}
      - aggregate: {group_by: [email], count: n, sum: [total]}
    sink: {postgres: shop.per_customer, upsert_on: [email]}
  windows:
    kind: event
    source: topic://placed
    window: {kind: tumbling, size: 1m, field: ts, key: country, sum: [total]}
    sink: {objects: "lake/counts/{date}.jsonl", format: jsonl}
alerts:
  - {name: ShopDown, expr: "comind_app_up{app='shop'} == 0"}
  - {name: Slow, expr: "rate(comind_flow_records_total{flow=~'roll.*'}[5m]) < 1"}
"""
UDF = """\
def opaque(r): return r
def declared(r): return {**r, "code": r["country"] + r["id"], "ident": r["id"]}
def big(r): return float(r["total"]) > 10
LINEAGE = {"declared": {"*": "*", "code": ["country", "id"], "ident": "id"}, "big": ["total"]}
"""


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> LineageGraph:
    root = tmp_path_factory.mktemp("repo")
    (root / "comind.yaml").write_text(SPEC)
    (root / "order.json").write_text(json.dumps(ORDER))
    (root / "udf.py").write_text(textwrap.dedent(UDF))
    return derive(load_spec(root), root)


def edges_into(graph: LineageGraph, target: str, field: str) -> set[tuple[str, str, str, str]]:
    return {(c.source_field, c.type, c.subtype, str(c.masking)) for c in graph.columns
            if c.target == target and c.target_field == field}  # fmt: skip


def test_nodes_and_edges_follow_the_data(graph: LineageGraph) -> None:
    assert [n.id for n in graph.flow_inputs("ingest")] == ["dataset:shop.customers",
                                                           "queue:shop/raw"]  # fmt: skip
    assert [n.id for n in graph.flow_outputs("ingest")] == ["dataset:shop.orders",
                                                            "topic:placed"]  # fmt: skip
    assert [n.id for n in graph.flow_outputs("windows")] == ["objects:lake/counts"]
    assert {("topic:placed", "queue:shop/out"), ("dataset:shop.orders", "app:shop"),
            ("objects:lake/counts", "app:shop"), ("app:shop", "alert:ShopDown"),
            ("flow:rollup", "alert:Slow")} <= graph.edges  # fmt: skip
    assert graph.nodes["dataset:shop.orders"].fields == ("id", "email", "total", "country", "ts")
    assert set(graph.nodes["dataset:shop.per_customer"].fields) == {"email", "n", "sum_total"}


def test_column_lineage_per_step_kind(graph: LineageGraph) -> None:
    topic = "topic:placed"
    # validate keeps a field as it is; cleanse and an undeclared map transform it
    assert ("email", "DIRECT", "TRANSFORMATION", "False") in edges_into(graph, topic, "email")
    # a declared mapping: a copy under a new name is IDENTITY, a computed field TRANSFORMATION
    assert {e[:3] for e in edges_into(graph, topic, "code") if e[1] == "DIRECT"} == {
        ("country", "DIRECT", "TRANSFORMATION"),
        ("id", "DIRECT", "TRANSFORMATION"),
    }
    # enrich: from the lookup table, joined on `by`
    tier = {
        c for c in graph.flow_columns("ingest") if c.target == topic and c.target_field == "tier"
    }
    assert ("dataset:shop.customers", "tier", "DIRECT", "TRANSFORMATION") in {
        (c.source, c.source_field, c.type, c.subtype) for c in tier
    }
    assert ("id", "INDIRECT", "JOIN", "False") in edges_into(graph, topic, "tier")
    # a declared filter and a quality step reach every output field indirectly
    assert {("total", "INDIRECT", "FILTER", "False"), ("email", "INDIRECT", "FILTER", "False")} \
        <= edges_into(graph, "dataset:shop.orders", "id")  # fmt: skip


def test_aggregate_anonymize_and_window(graph: LineageGraph) -> None:
    target = "dataset:shop.per_customer"
    assert ("email", "DIRECT", "TRANSFORMATION", "True") in edges_into(graph, target, "email")
    assert edges_into(graph, target, "sum_total") == {
        ("total", "DIRECT", "AGGREGATION", "False"),
        ("email", "INDIRECT", "GROUP_BY", "False"),
    }
    assert edges_into(graph, target, "n") == {("email", "INDIRECT", "GROUP_BY", "False")}
    lake = "objects:lake/counts"
    assert ("total", "DIRECT", "AGGREGATION", "False") in edges_into(graph, lake, "sum_total")
    assert ("ts", "INDIRECT", "WINDOW", "False") in edges_into(graph, lake, "count")
    assert ("country", "INDIRECT", "GROUP_BY", "False") in edges_into(graph, lake, "count")


def test_the_impact_of_a_column_follows_its_column_edges(graph: LineageGraph) -> None:
    index = LineageIndex(graph)
    found = {n["id"]: n["distance"] for n in index.impact("dataset:shop.orders", "email", 20)}
    assert found == {"app:shop": 1, "flow:rollup": 1, "dataset:shop.per_customer": 2,
                     "alert:ShopDown": 2, "alert:Slow": 2}  # fmt: skip
    country = {n["id"] for n in index.impact("dataset:shop.orders", "country", 20)}
    assert "dataset:shop.per_customer" not in country  # the rollup does not read it
    with pytest.raises(UnknownNode, match="no field nope"):
        index.impact("dataset:shop.orders", "nope", 20)


def test_the_example_names_what_an_email_change_reaches() -> None:
    graph = derive(load_spec(EXAMPLE), EXAMPLE)
    found = {n["id"]: n for n in LineageIndex(graph).impact("dataset:orders.enriched_orders",
                                                            "email", 20)}  # fmt: skip
    assert {"flow:customer-orders", "dataset:analytics.customer_orders", "app:analytics",
            "app:orders"} <= set(found)  # fmt: skip
    assert "flow:daily-revenue" not in found  # it aggregates by currency, never reads email
    assert found["dataset:analytics.customer_orders"]["distance"] == 2
    # dead letters: where a queue's and a flow's failures go, watched by the example's alert
    assert {
        ("queue:orders/order-events", "queue:orders/order-events-dlq"),
        ("flow:customer-orders", "queue:_flows/customer-orders-dlq"),
        ("queue:orders/order-events-dlq", "alert:DeadLettersPresent"),
    } <= graph.edges
    assert [n.id for n in graph.flow_outputs("customer-orders")] == [
        "dataset:analytics.customer_orders"
    ]  # its sinks, not its dead letters
    masked = [c for c in graph.flow_columns("customer-orders") if c.masking]
    assert {(c.source_field, c.target_field) for c in masked} == {("email", "email")}


def test_openlineage_names_keep_kinds_apart(graph: LineageGraph) -> None:
    assert openlineage_name(graph.nodes["flow:rollup"], "t") == ("comind://t", "rollup")
    assert openlineage_name(graph.nodes["dataset:shop.orders"], "t") == (
        "comind://t",
        "shop.orders",
    )
    assert openlineage_name(graph.nodes["queue:shop/raw"], "t") == ("comind://t/queue",
                                                                     "shop/raw")  # fmt: skip
    assert isinstance(graph.columns[0], ColumnEdge)


def test_walks_end_on_cycles_and_keep_to_their_depth() -> None:
    ids = ["queue:a/x", "flow:f", "queue:a/y", "flow:g", "app:a", "alert:A"]
    nodes = {i: Node(i, i.partition(":")[0], i.partition(":")[2]) for i in ids}
    edges = frozenset(
        {
            ("queue:a/x", "flow:f"),
            ("flow:f", "queue:a/y"),
            ("queue:a/y", "flow:g"),
            ("flow:g", "queue:a/x"),
            ("queue:a/y", "app:a"),
            ("app:a", "alert:A"),
        }
    )
    index = LineageIndex(LineageGraph(nodes, edges, ()))
    found = {n["id"]: n["distance"] for n in index.impact("queue:a/x", None, 20)}
    assert found == {"flow:f": 1, "queue:a/y": 2, "flow:g": 3, "app:a": 3, "alert:A": 4}
    assert {n["id"] for n in index.impact("queue:a/x", None, 2)} == {"flow:f", "queue:a/y"}
    around = {n["id"] for n in index.neighbourhood("flow:f", 1)}
    assert around == {"queue:a/x", "flow:f", "queue:a/y"}
