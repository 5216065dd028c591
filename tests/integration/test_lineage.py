"""The lineage graph in the platform database and through the API: a new graph replaces the
old one whole, readers reload only when the version moves, and the API answers the graph,
one column's lineage and the impact of a change, for viewers (not for app tokens)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.hidden import bearer, builtin_headers

from comind.governance.access import AccessStore
from comind.governance.lineage import LineageGraph, derive
from comind.governance.lineage_store import LineageStore
from comind.platform import Platform
from comind.queue.layer import MessageLayer
from comind.spec.loading import load_spec
from comind.stores.postgres import PgTarget, make_pool

SPEC = """\
platform: {{name: t}}
apps:
  shop: {{run: python app.py, database: {{name: shop}}}}
  books: {{run: python app.py, database: {{name: books}}}}
datasets:
  shop.orders: {{store: postgres://shop/orders, schema: order.json}}
  books.{table}: {{store: postgres://books/{table}}}
flows:
  rollup:
    kind: batch
    on_demand: true
    source: postgres://shop/orders
    steps: [{{aggregate: {{group_by: [email], count: n, sum: [total]}}}}]
    sink: {{postgres: books.{table}}}
alerts:
  - {{name: BooksDown, expr: "comind_app_up{{app='books'}} == 0"}}
"""
ORDER = {"type": "object", "properties": {"id": {}, "email": {}, "total": {}, "country": {}}}


def graph_of(root: Path, table: str) -> LineageGraph:
    root.mkdir(exist_ok=True)
    (root / "comind.yaml").write_text(SPEC.format(table=table))
    (root / "order.json").write_text(json.dumps(ORDER))
    return derive(load_spec(root), root)


@pytest.fixture
def store(pg: PgTarget) -> Iterator[LineageStore]:
    pool = make_pool(pg, max_size=2)
    yield LineageStore(pool)
    pool.close()


def test_a_new_graph_replaces_the_old_one_whole(store: LineageStore, tmp_path: Path) -> None:
    assert store.version() == (0, "")
    first = graph_of(tmp_path / "a", "daily")
    assert store.replace(first, "r1") == 1
    index = store.index()
    assert store.index() is index  # the same version: not loaded again
    second = graph_of(tmp_path / "b", "totals")
    assert store.replace(second, "r2") == 2
    version, loaded = store.load()
    assert version == 2 and store.version() == (2, "r2")
    assert loaded.nodes == second.nodes and loaded.edges == second.edges
    assert set(loaded.columns) == set(second.columns)
    assert "dataset:books.daily" not in loaded.nodes
    assert "dataset:books.totals" in store.index().graph.nodes  # reloaded once it moved


@pytest.fixture
def served(runtime: Platform, layer: MessageLayer, tmp_path: Path) -> str:
    LineageStore(layer.pool).replace(graph_of(tmp_path, "totals"), "test")
    return f"{runtime.url}/api/v1/lineage"


def test_the_api_answers_graph_column_and_impact(runtime: Platform, served: str) -> None:
    viewer = builtin_headers(runtime.engines.home, "viewer")
    graph = httpx.get(served, params={"node": "shop.orders", "depth": 2}, headers=viewer)
    assert graph.status_code == 200, graph.text
    nodes = {n["id"]: n for n in graph.json()["graph"]}
    assert set(nodes) == {"dataset:shop.orders", "flow:rollup", "app:shop",
                          "dataset:books.totals", "queue:_flows/rollup-dlq"}  # fmt: skip
    assert nodes["flow:rollup"]["type"] == "JOB"
    assert nodes["flow:rollup"]["inEdges"] == [{"origin": "dataset:shop.orders",
                                                "destination": "flow:rollup"}]  # fmt: skip
    column = httpx.get(
        f"{served}/column",
        headers=viewer,
        params={"node": "dataset:books.totals", "field": "sum_total"},
    ).json()
    fields = {n["id"]: n["data"] for n in column["graph"]}
    inputs = fields["datasetField:dataset:books.totals:sum_total"]["inputFields"]
    assert {(i["field"], i["subtype"]) for i in inputs} == {("total", "AGGREGATION"),
                                                           ("email", "GROUP_BY")}  # fmt: skip
    impact = httpx.get(
        f"{served}/impact", headers=viewer, params={"node": "shop.orders", "field": "email"}
    ).json()["impact"]
    assert [(n["id"], n["distance"]) for n in impact] == [
        ("app:shop", 1), ("flow:rollup", 1), ("dataset:books.totals", 2), ("app:books", 3),
        ("alert:BooksDown", 4)]  # fmt: skip
    country = httpx.get(
        f"{served}/impact", headers=viewer, params={"node": "shop.orders", "field": "country"}
    ).json()["impact"]
    assert [n["id"] for n in country] == ["app:shop"]  # the rollup never reads country


def test_the_api_refuses_what_it_cannot_answer(
    runtime: Platform, layer: MessageLayer, served: str
) -> None:
    viewer = builtin_headers(runtime.engines.home, "viewer")
    missing = httpx.get(f"{served}/impact", params={"node": "dataset:nope"}, headers=viewer)
    assert (missing.status_code, missing.json()) == (404, {
        "error": "no node dataset:nope in the lineage graph"})  # fmt: skip
    assert httpx.get(f"{served}/impact", headers=viewer).status_code == 400
    assert httpx.get(served, params={"depth": 101}, headers=viewer).status_code == 400
    app_token = bearer(AccessStore(layer.pool).create("viewer", app="shop")[1])
    assert httpx.get(served, headers=app_token).status_code == 403  # it spans every app
