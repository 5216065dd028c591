"""The flows API and the HTTP ingest endpoint, over a real platform database."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from flowkit import FlowKit
from starlette.applications import Starlette

from comind.api.flows import Applied, FlowsApi, ingest_token
from comind.api.server import ApiServer
from comind.api.tokens import Tokens
from comind.embedded.ports import free_port

FLOWS = """
web:
  kind: stream
  source: http://shop
  batch: {size: 100, max_wait: 0}
  steps: [{validate: schemas/order.json}]
  sink: {postgres: shop.orders, upsert_on: [id]}
nightly:
  kind: batch
  on_demand: true
  source: postgres://shop/sales
  partition: {by: day, field: at}
  sink: {objects: lake/daily}
"""
KEY = b"k" * 32


@pytest.fixture
def api(kit: FlowKit) -> Iterator[tuple[httpx.Client, FlowKit]]:
    builder = kit.builder(FLOWS)
    applied = Applied(builder.spec, kit.root, "abc123", None)
    flows = FlowsApi(lambda: applied, kit.engines.state, kit.layer.queues,
                     Tokens(admin="adm", viewer="view"), key=KEY,
                     worker_state=lambda flow: "Healthy")  # fmt: skip
    server = ApiServer(
        Starlette(routes=flows.routes()), host="127.0.0.1", port=free_port("127.0.0.1")
    )
    server.start()
    with httpx.Client(base_url=server.url) as client:
        yield client, kit
    server.stop()


def post(
    client: httpx.Client, body: str | bytes, token: str = "", flow: str = "web"
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or ingest_token(KEY, flow)}"}
    return client.post(f"/ingest/{flow}", content=body, headers=headers)


def test_ingest_queues_json_ndjson_and_arrays_and_answers_202(
    api: tuple[httpx.Client, FlowKit],
) -> None:
    client, kit = api
    one = {"id": "a", "email": "a@x.io", "total": 1}
    assert post(client, json.dumps(one)).json() == {"queued": 1}
    assert post(client, json.dumps([one, one])).status_code == 202
    resp = post(client, "\n".join(json.dumps({**one, "id": str(i)}) for i in range(5)))
    assert (resp.status_code, resp.json()) == (202, {"queued": 5})
    assert post(client, json.dumps(one, indent=2)).json() == {"queued": 1}
    assert kit.layer.queues.stats("_flows/web").visible == 9
    runner = kit.builder(FLOWS).runner("web")
    assert runner.run_once().written == 9


@pytest.mark.parametrize("body", ['{"id": "a", "total": ', '{"id": 1}\n[1, 2', "", "[1]", b"\xff"])
def test_malformed_bodies_are_400_with_the_error_and_queue_nothing(
    api: tuple[httpx.Client, FlowKit], body: str | bytes
) -> None:
    client, kit = api
    resp = post(client, body)
    assert resp.status_code == 400
    assert resp.json()["queued"] == 0 and resp.json()["error"]
    assert kit.layer.queues.stats("_flows/web").visible == 0


def test_a_mixed_body_is_refused_whole(api: tuple[httpx.Client, FlowKit]) -> None:
    client, kit = api
    resp = post(client, '{"id": "ok"}\nnot json\n{"id": "ok2"}')
    assert resp.status_code == 400 and "body:2" in resp.json()["error"]
    assert kit.layer.queues.stats("_flows/web").visible == 0


def test_ingest_needs_the_flows_token_or_an_operator(api: tuple[httpx.Client, FlowKit]) -> None:
    client, _ = api
    assert post(client, "{}", token="wrong").status_code == 401
    assert post(client, "{}", token="view").status_code == 403
    assert post(client, "{}", token=ingest_token(KEY, "other")).status_code == 401
    assert post(client, "{}", token="adm").status_code == 202
    assert client.post("/ingest/web", content="{}").status_code == 401
    assert post(client, "{}", flow="nightly").status_code == 404  # not an http:// source
    assert post(client, "{}", flow="nope").status_code == 404


def test_flows_list_detail_and_runs(api: tuple[httpx.Client, FlowKit]) -> None:
    client, kit = api
    view = {"Authorization": "Bearer view"}
    assert client.get("/api/v1/flows").status_code == 401
    post(client, '{"id": "a", "email": "a@x.io", "total": 1}\n{"id": "b"}')
    kit.builder(FLOWS).runner("web").run_once()
    flows = {f["name"]: f for f in client.get("/api/v1/flows", headers=view).json()["flows"]}
    web = flows["web"]
    assert (web["kind"], web["state"], web["records_in"], web["records_out"]) == (
        "stream",
        "Healthy",
        2,
        1,
    )
    assert (web["records_quarantined"], web["records_dead_lettered"]) == (1, 0)
    detail = client.get("/api/v1/flows/web", headers=view).json()
    assert detail["quarantined"][0]["record"] == {"id": "b"} and detail["revision"] == "abc123"
    assert client.get("/api/v1/flows/nope", headers=view).status_code == 404
    kit.execute("CREATE TABLE sales (id int, at timestamptz)")
    from comind.flows.batch import BatchRunner

    BatchRunner("nightly", kit.builder(FLOWS)).run("2026-11-20")
    runs = client.get("/api/v1/flows/nightly/runs", headers=view).json()["runs"]
    assert [(r["partition"], r["status"]) for r in runs] == [("2026-11-20", "succeeded")]
