"""``GET /api/v1/lineage/events`` on the running platform: events stored by an emitter
come back newest first, by flow and by run, for a viewer; a bad run id is a 400."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from openlineage.client.serde import Serde
from tests.hidden import builtin_headers
from tests.waiting import wait_until
from typer.testing import CliRunner

from comind.cli.main import app as comind
from comind.governance.lineage import LineageGraph
from comind.governance.lineage_emitter import LineageEmitter
from comind.governance.lineage_event_store import LineageEventStore, StoredEvent
from comind.governance.lineage_events import RunFacts, run_event
from comind.platform import Platform
from comind.platform.lineage import prune_records
from comind.queue.layer import MessageLayer

GRAPH = LineageGraph({}, frozenset(), ())  # flows with nothing known around them


def _emit(layer: MessageLayer, flow: str, runs: list[str]) -> None:
    emitter = LineageEmitter(LineageEventStore(layer.pool))
    for run in runs:
        for state in ("START", "COMPLETE"):
            emitter.emit(run_event(GRAPH, "t", RunFacts(flow, run, state, True)))
    emitter.close()


def _get(runtime: Platform, query: str, role: str = "viewer") -> httpx.Response:
    headers = builtin_headers(runtime.engines.home, role)
    return httpx.get(f"{runtime.url}/api/v1/lineage/events?{query}", headers=headers)


def test_events_are_read_back_by_flow_and_run(
    runtime: Platform, layer: MessageLayer, app: str
) -> None:
    runs = ["0190a0a0-0000-7000-8000-00000000000a", "0190a0a0-0000-7000-8000-00000000000b"]
    _emit(layer, app, runs)

    def events(query: str) -> list[dict[str, Any]]:
        answer = _get(runtime, query)
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["events"]
        return found

    assert wait_until(lambda: len(events(f"flow={app}")) == 4)
    newest = events(f"flow={app}")
    assert [(e["run"]["runId"], e["eventType"]) for e in newest] == [
        (runs[1], "COMPLETE"), (runs[1], "START"),
        (runs[0], "COMPLETE"), (runs[0], "START"),
    ]  # fmt: skip
    assert all(e["job"]["name"] == app for e in newest)
    assert [e["eventType"] for e in events(f"flow={app}&run={runs[0]}")] == ["COMPLETE", "START"]
    assert len(events(f"flow={app}&limit=1")) == 1
    assert events("flow=no-such-flow") == []


def test_comind_lineage_events_lists_them_and_says_why_a_run_failed(
    runtime: Platform, layer: MessageLayer, app: str
) -> None:
    run = "0190a0a0-0000-7000-8000-00000000000c"
    emitter = LineageEmitter(LineageEventStore(layer.pool))
    emitter.emit(run_event(GRAPH, "t", RunFacts(app, run, "FAIL", False, error="sink down")))
    emitter.close()
    home = ["--home", str(runtime.engines.home.root), "lineage", "events"]
    shown = CliRunner().invoke(comind, [*home, "--flow", app])
    assert shown.exit_code == 0, shown.output
    assert "FAIL" in shown.output and "sink down" in shown.output and run in shown.output
    as_json = CliRunner().invoke(comind, [*home, "--run", run, "--json"])
    assert [e["run"]["facets"]["errorMessage"]["message"] for e in json.loads(as_json.output)] == [
        "sink down"
    ]


def test_a_bad_run_id_or_limit_is_refused_in_one_line(runtime: Platform) -> None:
    bad = _get(runtime, "run=1;DROP")
    assert (bad.status_code, bad.json()) == (400, {"error": "run must be a run id (a UUID)"})
    assert _get(runtime, "limit=0").status_code == 400
    assert httpx.get(f"{runtime.url}/api/v1/lineage/events").status_code == 401


def test_retention_removes_events_older_than_30_days(layer: MessageLayer, app: str) -> None:
    store = LineageEventStore(layer.pool)
    now = datetime.now(UTC)
    for age, run in ((31, "0190a0a0-0000-7000-8000-0000000000d1"),
                     (29, "0190a0a0-0000-7000-8000-0000000000d2")):  # fmt: skip
        event = run_event(GRAPH, "t", RunFacts(app, run, "START", True))
        store.add([StoredEvent(now - timedelta(days=age), "START", run, app, Serde.to_json(event))])
    prune_records(layer.pool, now)
    assert [e["run_id"] for e in store.recent(job=app)] == ["0190a0a0-0000-7000-8000-0000000000d2"]
