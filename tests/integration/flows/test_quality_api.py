"""Dataset quality through the API and the CLI over a real platform database and app
database: an order posted to an http flow breaking its dataset's range rule is quarantined
with the rule as its reason; checks run on request as the platform's quality role, which
may read the dataset's table and nothing else; scores and history are served."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from flowkit import FlowKit
from starlette.applications import Starlette
from typer.testing import CliRunner

from comind.api import pages
from comind.api.dashboard import Dashboard
from comind.api.flows import Applied, FlowsApi, ingest_token
from comind.api.guard import Guard
from comind.api.quality import QualityApi
from comind.api.server import ApiServer
from comind.api.session import Sessions
from comind.api.tokens import Tokens
from comind.cli.main import app
from comind.embedded.ports import free_port
from comind.gitops.providers.quality_access import QUALITY_ROLE, QualityAccess
from comind.gitops.records import SecretStore
from comind.governance.access import Principal
from comind.governance.quality_store import QualityResults
from comind.governance.sealing import Sealer
from comind.platform.quality import QualityService
from comind.stores.pg_admin import PgAdmin

FLOWS = """
web:
  kind: stream
  source: http://shop
  batch: {size: 100, max_wait: 0}
  steps: [{validate: schemas/order.json}]
  sink: {postgres: shop.orders, upsert_on: [id]}
"""
RULES = "[{not_null: [id, total]}, {range: {total: [0, 100000]}}, {row_count: {min: 1}}]"
KEY = b"k" * 32


@pytest.fixture
def served(kit: FlowKit) -> Iterator[tuple[httpx.Client, FlowKit, QualityService]]:
    builder = kit.builder(FLOWS, quality=RULES)
    applied = Applied(builder.spec, kit.root, "abc123", None)
    tokens = Tokens(admin="adm", viewer="view")
    admin = PgAdmin(kit.app_db)
    access = QualityAccess(admin, SecretStore(kit.layer.pool, Sealer(KEY)))
    quality = QualityService(lambda: applied, QualityResults(kit.layer.pool), lambda: access)
    flows = FlowsApi(lambda: applied, kit.engines.state, kit.layer.queues, tokens, key=KEY)
    routes = [*flows.routes(), *QualityApi(quality, Guard(tokens)).routes()]
    server = ApiServer(Starlette(routes=routes), host="127.0.0.1", port=free_port("127.0.0.1"))
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            yield client, kit, quality
    finally:
        server.stop()
        admin.close()


def test_an_order_over_the_range_is_quarantined_with_the_rule_and_checks_are_served(
    served: tuple[httpx.Client, FlowKit, QualityService],
) -> None:
    client, kit, quality = served
    orders = [{"id": "o1", "email": "a@b.c", "total": 12.5},
              {"id": "o2", "email": "d@e.f", "total": 200000}]  # fmt: skip
    headers = {"Authorization": f"Bearer {ingest_token(KEY, 'web')}"}
    assert client.post("/ingest/web", content=json.dumps(orders), headers=headers).is_success
    kit.builder(FLOWS, quality=RULES).runner("web").run_once()
    bad = kit.engines.state.quarantined("web")
    assert [(q["record"]["id"], q["reasons"]) for q in bad] == [("o2", ["range total [0, 100000]"])]

    kit.execute("CREATE TABLE other (secret text)")
    kit.execute("UPDATE orders SET total = 300000 WHERE id = 'o1'")  # by hand, past the gate
    viewer, admin = {"Authorization": "Bearer view"}, {"Authorization": "Bearer adm"}
    url = "/api/v1/quality/shop.orders/run"
    assert client.post(url, json={}, headers=viewer).status_code == 403
    ran = client.post(url, json={}, headers=admin).json()["results"]
    assert [(r["rule"], r["passed"], r["failing"], r["sample"]) for r in ran] == [
        ("not_null id", True, 0, []),
        ("not_null total", True, 0, []),
        ("range total [0, 100000]", False, 1, [["o1"]]),
        ("row_count [1, ]", True, 0, []),
    ]
    assert kit.rows(
        f"SELECT has_table_privilege('{QUALITY_ROLE}', 'orders', 'SELECT'),"
        f" has_table_privilege('{QUALITY_ROLE}', 'orders', 'INSERT'),"
        f" has_table_privilege('{QUALITY_ROLE}', 'other', 'SELECT'),"
        f" (SELECT rolsuper FROM pg_roles WHERE rolname = '{QUALITY_ROLE}')"
    ) == [(True, False, False, False)]
    assert client.post("/api/v1/quality/nope/run", json={}, headers=admin).status_code == 404
    assert client.post(url, json={"partition": "2026-12-03"}, headers=admin).status_code == 400

    cli = CliRunner()
    listed = cli.invoke(app, ["--server", str(client.base_url), "--token", "view", "quality",
                              "ls", "--json"])  # fmt: skip
    assert listed.exit_code == 0, listed.output
    (score,) = json.loads(listed.output)
    assert (score["dataset"], score["checks"], score["passed"], score["checks_ratio"]) == (
        "shop.orders", 4, 3, 0.75)  # fmt: skip
    shown = cli.invoke(app, ["--server", str(client.base_url), "--token", "view", "quality",
                             "show", "shop.orders"])  # fmt: skip
    assert shown.exit_code == 0 and "range total [0, 100000]" in shown.output
    again = cli.invoke(app, ["--server", str(client.base_url), "--token", "adm", "quality",
                             "run", "shop.orders", "--json"])  # fmt: skip
    assert again.exit_code == 1  # an error rule fails
    assert len(client.get("/api/v1/quality/shop.orders", headers=viewer).json()["history"]) == 8
    quality.sweep_now()  # the schedule's work: shop.orders is written by a stream flow
    assert len(QualityResults(kit.layer.pool).history("shop.orders")) == 12

    # the dashboard's Quality page over the same service
    page = pages.quality(SimpleNamespace(quality=quality), Principal("t", "viewer"), {})  # type: ignore[arg-type]
    dash = Dashboard(SimpleNamespace(), Tokens(admin="adm", viewer="view"), Sessions(KEY))  # type: ignore[arg-type]
    html = dash.templates.env.get_template("quality.html").render(
        **page, who=Principal("t", "viewer"), nav=[], csrf="", name="t", path="/quality"
    )
    assert page["dataset"] == "shop.orders" and "75%" in html and "(3/4)" in html
    assert html.count("<code>range total [0, 100000]</code>") == 4  # the rule and 3 results
    assert '[["o1"]]' in html  # the failing key (tojson escapes for HTML)
