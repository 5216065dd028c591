"""The lineage page in a real browser: the graph the API holds is drawn node for node, and a
click on a dataset shows its columns, each with where it comes from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.dashkit import Dash
from tests.browser.test_dashboard import sign_in

from comind.governance.lineage import derive
from comind.governance.lineage_store import LineageStore
from comind.spec.loading import load_spec

pytestmark = pytest.mark.slow
SPEC = """\
platform: {name: dash}
apps:
  shop: {run: python web.py, database: {name: shop}, queues: {done: {}}}
datasets:
  shop.orders: {store: postgres://shop/orders, schema: order.json}
flows:
  ingest:
    kind: stream
    source: http://shop
    steps: [{validate: order.json}, {anonymize: {email: hash}}]
    sinks: {table: {postgres: shop.orders}, done: {queue: shop/done}}
"""
ORDER = {"type": "object", "properties": {"id": {}, "email": {}, "total": {}}}


def test_the_graph_is_drawn_and_a_click_shows_a_datasets_columns(
    page: Page, dash: Dash, tmp_path: Path
) -> None:
    (tmp_path / "comind.yaml").write_text(SPEC)
    (tmp_path / "order.json").write_text(json.dumps(ORDER))
    graph = derive(load_spec(tmp_path), tmp_path)
    LineageStore(dash.layer.pool).replace(graph, "browser")  # as an applied revision would
    sign_in(page, dash.viewer, "/lineage")
    expect(page.locator("#lineage-graph g.node")).to_have_count(len(graph.nodes))
    expect(page.locator("#lineage-graph path.edge")).to_have_count(len(graph.edges))
    page.locator('g.node[data-id="dataset:shop.orders"]').click()
    panel = page.locator("#lineage-panel")
    expect(panel.locator("h2")).to_have_text("shop.orders")
    columns = panel.locator("li.column")
    expect(columns).to_have_count(3)
    assert [columns.nth(i).get_attribute("data-field") for i in range(3)] == [
        "id",
        "email",
        "total",
    ]
    expect(panel.locator('li.column[data-field="email"] li.from')).to_have_text(
        "← http:shop email (DIRECT TRANSFORMATION, masked) via ingest"
    )
    expect(panel.get_by_role("link", name="Quality history")).to_have_attribute(
        "href", "/quality?dataset=shop.orders"
    )
    expect(page.locator('g.node[data-id="dataset:shop.orders"]')).to_have_class(
        "node k-dataset selected"
    )
