"""Quarantine as governed data, over real engines: the declared PII fields of a flow's
datasets are stored masked and sealed (the table holds no raw value), shown masked to a
viewer and raw to an operator, expired after the flow's retention, discarded with audit and
replayed (edited) through the flow."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from flowkit import FlowKit
from starlette.applications import Starlette

from comind.api.dashboard import Dashboard
from comind.api.flow_actions import FlowActionsApi
from comind.api.flows import Applied, FlowsApi
from comind.api.pages import Sources
from comind.api.quarantine import QuarantineApi
from comind.api.server import ApiServer
from comind.api.session import Sessions
from comind.api.tokens import Tokens
from comind.embedded.ports import free_port
from comind.errors import ComindError
from comind.flows.build import FlowBuilder, FlowEngines
from comind.flows.jobs import JOBS, FlowJob, run_job
from comind.flows.quarantine import Selection, revealed
from comind.flows.state import FlowState
from comind.governance.access import AccessStore
from comind.governance.privacy import hash_value
from comind.governance.sealbox import SealBox
from comind.observe.metrics import REGISTRY
from comind.platform.flows import FlowService
from comind.platform.quarantine import QuarantineService
from comind.queue.model import OutgoingMessage
from comind.spec.names import flow_dead_letter_queue
from comind.stores.postgres import Json, dict_rows

FLOW = """
people:
  kind: stream
  source: queue://shop/orders
  batch: {size: 50, max_wait: 0}
  steps: [{validate: schemas/order.json}]
  sink: {postgres: shop.people, upsert_on: [id]}
  quarantine: {retention: 3d}
"""
ANN = {"id": "p1", "email": "ann@example.com", "phone": "+33612345678",
       "card": "4111111111111111", "total": -5}  # fmt: skip
BOB = {"id": "p2", "email": "bob@example.com", "total": -1}
KEY = b"q" * 32


def bob_hash(kit: FlowKit) -> str:
    """Bob's email as the people dataset holds it: declared ``hash``, an HMAC under the PII key."""
    assert kit.engines.pii_keys is not None
    return hash_value(kit.engines.pii_keys.hmac, BOB["email"])


@pytest.fixture
def box(kit: FlowKit) -> SealBox:
    """The platform's quarantine key, its public half published as the platform does."""
    box = SealBox(KEY, "quarantine")
    FlowState(kit.layer.pool).publish_key(box.public)
    return box


def quarantine(builder: FlowBuilder, kit: FlowKit, *values: dict[str, Any]) -> None:
    kit.send("shop/orders", list(values))
    assert len(builder.runner("people").run_once().quarantined) == len(values)


def stored(kit: FlowKit) -> list[dict[str, Any]]:
    with kit.layer.pool.connection() as conn, conn.cursor(row_factory=dict_rows) as cur:
        sql = ("SELECT id, flow, record, record::text AS text, sealed, masked, at "
               "FROM comind.flow_quarantine ORDER BY id")  # fmt: skip
        return cur.execute(sql).fetchall()


def service(kit: FlowKit, builder: FlowBuilder, box: SealBox) -> QuarantineService:
    applied = Applied(builder.spec, kit.root, "abc123", None)

    def launch(flow: str, job: FlowJob) -> Any:  # as a worker process runs a job
        e = kit.engines
        engines = FlowEngines(kit.layer, e.postgres, e.objects, e.redis, pii_keys=e.pii_keys)
        try:
            sent = JOBS.validate_json(JOBS.dump_json(job))  # through its standard input
            return run_job(FlowBuilder(builder.spec, kit.root, engines), flow, sent)
        finally:
            engines.close()

    flows = FlowService(lambda: applied, kit.layer.queues, launch)
    return QuarantineService(lambda: applied, FlowState(kit.layer.pool), box, flows)


def test_the_table_holds_pii_masked_and_only_the_platform_key_opens_the_raw_values(
    kit: FlowKit, box: SealBox
) -> None:
    builder = kit.builder(FLOW)
    quarantine(builder, kit, ANN)
    kit.layer.queues.send("shop/orders", [OutgoingMessage("not json: ann@example.com")])
    builder.runner("people").run_once()
    row, unparsed = stored(kit)
    for raw in ("ann@example.com", "33612345678", "4111111111111111"):
        assert raw not in row["text"] and raw.encode() not in bytes(row["sealed"])
    assert row["record"]["email"] == hashlib.sha256(b"ann@example.com").hexdigest()
    assert (row["record"]["phone"], row["record"]["card"]) == ("********5678", "************1111")
    assert row["masked"] == ["card", "email", "phone"] and row["record"]["total"] == -5
    assert revealed(box, "people", row) == ANN
    with pytest.raises(ComindError, match="does not open"):
        revealed(SealBox(b"x" * 32, "quarantine"), "people", row)
    with pytest.raises(ComindError, match="does not open"):  # bound to its row
        revealed(box, "people", {**row, "id": unparsed["id"]})
    assert "ann@example.com" not in unparsed["text"] and unparsed["masked"] == ["body"]
    assert revealed(box, "people", unparsed) == {"body": "not json: ann@example.com"}


DETECTING = FLOW.replace("[{validate: schemas/order.json}]", "[{detect_pii: {action: quarantine}}]")


def test_detect_pii_quarantines_undeclared_pii_sealed_never_stored_raw(
    kit: FlowKit, box: SealBox
) -> None:
    builder = kit.builder(DETECTING)
    leaky = {"id": "p3", "email": "cy@example.com", "note": "call me: +33 6 12 34 56 78"}
    quarantine(builder, kit, leaky)
    (row,) = stored(kit)
    assert "12 34 56 78" not in row["text"] and "note" in row["masked"]
    assert row["record"]["email"] == hashlib.sha256(b"cy@example.com").hexdigest()
    assert revealed(box, "people", row) == leaky


@pytest.fixture
def api(kit: FlowKit, box: SealBox) -> Iterator[tuple[httpx.Client, FlowKit, dict[str, str]]]:
    builder = kit.builder(FLOW)
    quarantine(builder, kit, ANN, BOB)
    store = AccessStore(kit.layer.pool)
    sessions = Sessions(b"s" * 32)
    tokens = Tokens(admin="adm", viewer="view", store=store, sessions=sessions)
    svc = service(kit, builder, box)
    applied = Applied(builder.spec, kit.root, "abc123", None)
    flows = FlowsApi(lambda: applied, FlowState(kit.layer.pool), kit.layer.queues, tokens,
                     key=KEY, quarantine=lambda n, k, raw: svc.records(n, k, raw=raw))  # fmt: skip
    unused: Any = None  # the Flows page reads the flows API only
    pages = Sources("t", unused, unused, flows, unused, unused, list, store)
    dashboard = Dashboard(pages, tokens, sessions)
    app = Starlette(routes=[*flows.routes(), *QuarantineApi(svc, tokens).routes(),
                            *FlowActionsApi(svc.flows, tokens).routes(),
                            *dashboard.routes()])  # fmt: skip
    server = ApiServer(app, host="127.0.0.1", port=free_port("127.0.0.1"))
    server.start()
    who = {"viewer": "view", "operator": store.create("operator")[1],
           "app-operator": store.create("operator", app="shop")[1]}  # fmt: skip
    with httpx.Client(base_url=server.url) as client:
        yield client, kit, {k: f"Bearer {v}" for k, v in who.items()}
    server.stop()


def records(client: httpx.Client, auth: str, path: str = "/quarantine") -> list[dict[str, Any]]:
    resp = client.get(f"/api/v1/flows/people{path}", headers={"Authorization": auth})
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    return doc["records"] if "records" in doc else doc["quarantined"]


def test_a_viewer_sees_pii_masked_and_an_operator_sees_it_raw(
    api: tuple[httpx.Client, FlowKit, dict[str, str]],
) -> None:
    client, kit, auth = api
    with kit.layer.pool.connection() as conn:  # as stored before migration 0016: raw
        conn.execute("INSERT INTO comind.flow_quarantine (flow, step, reasons, record) "
                     "VALUES ('people', 'validate', '[]', %s)",
                     (Json({"id": "old", "email": "old@example.com"}),))  # fmt: skip
    for path in ("/quarantine", ""):  # the list and the flow's document alike
        masked = {r["record"]["id"]: r for r in records(client, auth["viewer"], path)}
        raw = {r["record"]["id"]: r for r in records(client, auth["operator"], path)}
        assert masked["p1"]["record"]["email"] != ANN["email"] and not masked["p1"]["raw"]
        assert masked["p1"]["record"]["phone"] == "********5678"
        assert raw["p1"]["record"] == ANN and raw["p1"]["raw"]
        assert raw["p1"]["pii"] == ["card", "email", "phone"]
        assert raw["p2"]["record"] == BOB and masked["p2"]["pii"] == ["email"]
        assert masked["old"]["record"]["email"] != "old@example.com"
        assert (
            masked["old"]["pii"] == ["email"] and raw["old"]["record"]["email"] == "old@example.com"
        )
    refused = client.get("/api/v1/flows/people/quarantine",
                         headers={"Authorization": auth["app-operator"]})  # fmt: skip
    assert refused.status_code == 403  # a flow is the whole platform's


def test_the_flows_page_shows_quarantined_pii_masked_below_operator(
    api: tuple[httpx.Client, FlowKit, dict[str, str]],
) -> None:
    client, _, auth = api
    for role, shown in (("viewer", False), ("operator", True)):
        with httpx.Client(base_url=client.base_url) as browser:
            form = browser.get("/login").text
            csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', form)
            assert csrf is not None
            token = auth[role].removeprefix("Bearer ")
            signed = browser.post("/login", data={"token": token, "csrf": csrf[1], "next": "/"})
            assert signed.status_code == 303
            page = browser.get("/flows", params={"flow": "people"}).text
        assert 'data-quarantined="' in page
        assert ("ann@example.com" in page, "4111111111111111" in page) == (shown, shown)
        assert ("(raw)" in page, "(masked)" in page) == (shown, not shown)


def test_discard_needs_an_operator_and_is_audited_with_count_and_ids(
    api: tuple[httpx.Client, FlowKit, dict[str, str]],
) -> None:
    client, kit, auth = api
    ids = sorted(r["id"] for r in records(client, auth["viewer"]))
    path = "/api/v1/flows/people/quarantine/discard"
    denied = client.post(path, json={"ids": ids}, headers={"Authorization": auth["viewer"]})
    assert denied.status_code == 403
    both = client.post(path, json={"ids": ids, "all": True},
                       headers={"Authorization": auth["operator"]})  # fmt: skip
    assert both.status_code == 400 and "exactly one" in both.json()["error"]
    young = client.post(
        path, json={"older_than": "1d"}, headers={"Authorization": auth["operator"]}
    )
    assert young.json()["discarded"] == 0  # both are minutes old
    done = client.post(path, json={"ids": ids}, headers={"Authorization": auth["operator"]})
    assert done.json() == {"flow": "people", "discarded": 2, "ids": ids}
    assert stored(kit) == []
    with kit.layer.pool.connection() as conn:
        audit = conn.execute(
            "SELECT outcome, detail FROM comind.audit_log "
            "WHERE action = 'flow-quarantine-discard' ORDER BY id"
        ).fetchall()
    assert [o for o, _ in audit] == ["refused", "failed", "accepted", "accepted"]
    assert audit[-1][1]["count"] == 2 and audit[-1][1]["ids"] == [f"{ids[0]}-{ids[1]}"]


def test_replay_puts_the_raw_record_edited_back_through_the_flow(
    api: tuple[httpx.Client, FlowKit, dict[str, str]],
) -> None:
    client, kit, auth = api
    bob = next(r["id"] for r in records(client, auth["viewer"]) if r["record"]["id"] == "p2")
    resp = client.post("/api/v1/flows/people/quarantine/replay",
                       json={"ids": [bob], "set": {"total": 5}},
                       headers={"Authorization": auth["operator"]})  # fmt: skip
    assert resp.status_code == 200, resp.text
    assert resp.json()["written"] == 1 and resp.json()["ids"] == [bob]
    assert kit.rows("SELECT email, total FROM people") == [(bob_hash(kit), 5)]
    assert [r["record"]["id"] for r in stored(kit)] == ["p1"]


def test_concurrent_replays_of_one_record_replay_it_once(kit: FlowKit, box: SealBox) -> None:
    builder = kit.builder(FLOW)
    quarantine(builder, kit, BOB)
    svc = service(kit, builder, box)
    [bob] = [int(r["id"]) for r in stored(kit)]
    start = threading.Barrier(2)

    def replay() -> dict[str, Any]:
        start.wait()
        return svc.replay("people", Selection(ids=[bob]), {"total": 5})

    with ThreadPoolExecutor(2) as pool:
        done = [f.result() for f in [pool.submit(replay), pool.submit(replay)]]
    assert sorted((d["replayed"], d["written"], d["ids"]) for d in done) == [
        (0, 0, []), (1, 1, [bob])]  # fmt: skip
    assert kit.rows("SELECT email, total FROM people") == [(bob_hash(kit), 5)]
    assert stored(kit) == []


def test_dead_letters_show_the_flows_pii_masked_to_a_viewer_and_raw_to_an_operator(
    api: tuple[httpx.Client, FlowKit, dict[str, str]],
) -> None:
    client, kit, auth = api
    error = "new row violates check\nDETAIL: Failing row contains (p1, ann@example.com)"
    letter = {
        "flow": "people",
        "step": "sink:people",
        "error_type": "CheckViolation",
        "error": error,
        "attempts": 1,
        "record": ANN,
    }  # as a failed replay leaves it
    kit.layer.queues.send(flow_dead_letter_queue("people"), [OutgoingMessage(json.dumps(letter))])

    def letters(role: str) -> list[dict[str, Any]]:
        resp = client.get("/api/v1/flows/people/dlq", headers={"Authorization": auth[role]})
        assert resp.status_code == 200, resp.text
        return list(resp.json()["letters"])

    [masked] = letters("viewer")
    for raw in ("ann@example.com", "33612345678", "4111111111111111"):
        assert raw not in json.dumps(masked)
    assert masked["pii"] == ["card", "email", "phone"] and masked["record"]["total"] == -5
    assert masked["record"]["card"] == "************1111" and "(p1, ***)" in masked["error"]
    [shown] = letters("operator")
    assert (shown["record"], shown["pii"], shown["error"]) == (ANN, [], error)


def test_retention_deletes_records_older_than_the_flows_window_in_chunks(
    kit: FlowKit, box: SealBox
) -> None:
    builder = kit.builder(FLOW)
    quarantine(builder, kit, ANN, BOB, {**BOB, "id": "p3"}, {**BOB, "id": "p4"})
    state = FlowState(kit.layer.pool)
    state.quarantine("gone", [("source", ["x"], {"id": "g"})])  # a flow no longer declared
    with kit.layer.pool.connection() as conn:
        conn.execute("UPDATE comind.flow_quarantine SET at = now() - interval '4 days' "
                     "WHERE record->>'id' IN ('p1', 'p3')")  # fmt: skip
        conn.execute("UPDATE comind.flow_quarantine SET at = now() - interval '6 days' "
                     "WHERE flow = 'gone'")  # fmt: skip
    before = REGISTRY.get_sample_value("comind_quarantine_expired_records_total",
                                       {"flow": "people"}) or 0.0  # fmt: skip
    assert service(kit, builder, box).expire() == {"people": 2, "gone": 0}  # default: 7 days
    assert sorted(r["record"]["id"] for r in stored(kit)) == ["g", "p2", "p4"]
    after = REGISTRY.get_sample_value("comind_quarantine_expired_records_total", {"flow": "people"})
    assert after == before + 2
    assert REGISTRY.get_sample_value("comind_quarantine_records", {"flow": "people"}) == 2
    assert state.expire("people", keep=0, chunk=1) == 2  # chunk by chunk until none is left
