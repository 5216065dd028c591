"""OpenLineage RunEvents of real flow runs: stored in the platform database, sent to an
OpenLineage HTTP endpoint (a local receiver standing in for Marquez), and valid against the
schema openlineage-python ships (tests/openlineage_check.py)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flowkit import FlowKit
from openlineage.client.serde import Serde

from comind.embedded.ports import free_port
from comind.flows.batch import BatchRunner
from comind.flows.lineage_runs import RunLineage, StreamRun
from comind.governance.lineage_emitter import LineageEmitter, http_transport
from comind.governance.lineage_event_store import LineageEventStore
from comind.observe.metrics import REGISTRY
from comind.stores.postgres import PgTarget, make_pool
from openlineage_check import rebuild_event
from waiting import wait_until

CLEAN = """
clean:
  kind: batch
  on_demand: true
  source: postgres://shop/orders
  partition: {by: day, field: created_at}
  steps:
    - quality: {range: {total: [0, 100]}}
    - anonymize: {email: hash}
  sink: {postgres: shop.daily, upsert_on: [id]}
"""
RELAY = """
relay:
  kind: stream
  source: queue://shop/orders
  batch: {size: 100, max_wait: 0}
  sink: {queue: shop/out}
"""
KEY = "ol-key-not-for-logs"


class Receiver(BaseHTTPRequestHandler):
    got: list[tuple[str, str | None, dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.got.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def marquez() -> Iterator[tuple[str, list[tuple[str, str | None, dict[str, Any]]]]]:
    got: list[tuple[str, str | None, dict[str, Any]]] = []
    handler = type("Handler", (Receiver,), {"got": got})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", got
    server.shutdown()
    server.server_close()


class Trickler(BaseHTTPRequestHandler):
    """An endpoint that answers one byte at a time until the test ends (a slow-loris)."""

    done: threading.Event

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        for byte in b"HTTP/1.1 201 Created\r\n":
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            if self.done.wait(0.5):  # well within the client's 5 s read timeout
                return

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def trickling() -> Iterator[str]:
    done = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (Trickler,), {"done": done}))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://ol-user:ol-pass-not-for-logs@127.0.0.1:{server.server_address[1]}"
    done.set()
    server.shutdown()
    server.server_close()


def _emitting(kit: FlowKit, url: str | None = None) -> LineageEventStore:
    store = LineageEventStore(kit.layer.pool)
    kit.engines.lineage = LineageEmitter(store, http_transport(url, KEY if url else None))
    return store


def _events(store: LineageEventStore, job: str, count: int) -> list[dict[str, Any]]:
    """The job's stored events, oldest first, once ``count`` are there; each validated."""
    assert wait_until(lambda: len(store.recent(job=job)) >= count, timeout=10)
    rows = list(reversed(store.recent(job=job)))
    for row in rows:
        assert Serde.to_dict(rebuild_event(row["payload"])) == row["payload"]
    return [row["payload"] for row in rows]


def _orders(kit: FlowKit) -> None:
    kit.execute("CREATE TABLE orders (id text PRIMARY KEY, email text, total numeric, "
                "created_at timestamptz)")  # fmt: skip
    kit.execute("INSERT INTO orders VALUES ('a', 'a@x.org', 10, '2026-11-25 10:00Z'), "
                "('b', 'b@x.org', 500, '2026-11-25 11:00Z'), "
                "('c', 'c@x.org', 20, '2026-11-26 09:00Z')")  # fmt: skip
    kit.execute("CREATE TABLE daily (id text PRIMARY KEY, email text, total numeric, "
                "created_at timestamptz)")  # fmt: skip


def test_a_partition_run_is_a_start_and_a_complete_stored_and_sent(
    kit: FlowKit, marquez: tuple[str, list[Any]]
) -> None:
    url, got = marquez
    store = _emitting(kit, url)
    _orders(kit)
    result = BatchRunner("clean", kit.builder(CLEAN)).run("2026-11-25")
    assert (result.status, result.rows_in, result.rows_out) == ("succeeded", 2, 1), result.error
    start, done = _events(store, "clean", 2)
    assert [start["eventType"], done["eventType"]] == ["START", "COMPLETE"]
    assert start["run"]["runId"] == done["run"]["runId"]
    assert done["run"]["facets"]["nominalTime"]["nominalStartTime"].startswith("2026-11-25T00")
    assert done["job"]["facets"]["jobType"]["processingType"] == "BATCH"
    (source,) = done["inputs"]
    assert "total" in [f["name"] for f in source["facets"]["schema"]["fields"]]
    assert source["inputFacets"]["dataQualityMetrics"]["rowCount"] == 2
    (rule,) = source["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert (rule["assertion"], rule["column"], rule["success"]) == ("range", "total", False)
    (sink,) = done["outputs"]
    assert sink["facets"]["dataQualityMetrics"]["rowCount"] == 1
    email = sink["facets"]["columnLineage"]["fields"]["email"]["inputFields"]
    assert any(t.get("masking") for f in email for t in f["transformations"])
    assert wait_until(lambda: len(got) == 2, timeout=10)
    assert {(path, auth) for path, auth, _ in got} == {("/api/v1/lineage", f"Bearer {KEY}")}
    assert [body for _, _, body in got] == [start, done]


def test_a_failed_partition_run_ends_in_a_fail_with_its_error(kit: FlowKit) -> None:
    store = _emitting(kit)
    _orders(kit)
    kit.execute("ALTER TABLE orders RENAME TO orders_gone")
    assert BatchRunner("clean", kit.builder(CLEAN)).run("2026-11-25").status == "failed"
    start, failed = _events(store, "clean", 2)
    assert failed["eventType"] == "FAIL" and failed["run"]["runId"] == start["run"]["runId"]
    assert "orders" in failed["run"]["facets"]["errorMessage"]["message"]


def test_a_stream_worker_is_one_run_start_running_complete(kit: FlowKit) -> None:
    store = _emitting(kit)
    builder = kit.builder(RELAY)
    stop = threading.Event()
    ticks = itertools.count(0, 61)  # each look at the clock is a minute later: RUNNING is due
    with StreamRun(builder, "relay", clock=lambda: float(next(ticks))) as run:
        runner = run.follow(builder.runner("relay"))
        worker = threading.Thread(target=runner.run, args=(stop,))
        worker.start()
        kit.send("shop/orders", [{"id": "1", "email": "a@x.org", "total": 1}] * 3)
        assert wait_until(lambda: run.rows_out == 3, timeout=10)
        stop.set()
        worker.join(10)
    events = _events(store, "relay", 3)
    assert [e["eventType"] for e in events] == ["START", "RUNNING", "COMPLETE"]
    assert len({e["run"]["runId"] for e in events}) == 1
    assert events[0]["job"]["facets"]["jobType"]["processingType"] == "STREAMING"
    assert events[-1]["outputs"][0]["facets"]["dataQualityMetrics"]["rowCount"] == 3


def test_a_run_goes_on_when_its_events_can_be_neither_stored_nor_sent(
    kit: FlowKit, pg: PgTarget, caplog: pytest.LogCaptureFixture
) -> None:
    _orders(kit)
    closed = make_pool(pg, max_size=1)
    closed.close()
    nowhere = f"http://127.0.0.1:{free_port('127.0.0.1')}"  # nothing listens there
    kit.engines.lineage = LineageEmitter(LineageEventStore(closed), http_transport(nowhere, KEY))
    before = {o: _count("COMPLETE", o) for o in ("store_failed", "send_failed")}
    result = BatchRunner("clean", kit.builder(CLEAN)).run("2026-11-25")
    assert result.status == "succeeded"
    assert wait_until(lambda: _count("COMPLETE", "send_failed") > before["send_failed"], 20)
    assert _count("COMPLETE", "store_failed") == before["store_failed"] + 1
    warned = [r.getMessage() for r in caplog.records if r.name == "comind.lineage"]
    assert sorted(m.split(" (")[0] for m in warned) == [  # once a minute each: START's
        "lineage event send_failed", "lineage event store_failed"]  # fmt: skip
    assert not any(KEY in m for m in caplog.messages)


def test_a_trickling_endpoint_neither_holds_up_storing_nor_a_close(
    kit: FlowKit, trickling: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = LineageEventStore(kit.layer.pool)
    emitter = LineageEmitter(store, http_transport(trickling, KEY), send_deadline=1.0)
    kit.engines.lineage = emitter
    _orders(kit)
    before = _count("START", "send_timeout")
    for _ in range(3):  # the sends pile up behind the first; storing does not
        assert BatchRunner("clean", kit.builder(CLEAN)).run("2026-11-25").status == "succeeded"
    assert len(_events(store, "clean", 6)) == 6
    assert wait_until(lambda: _count("START", "send_timeout") > before, timeout=10)
    closing = threading.Thread(target=emitter.close, args=(1.0,))
    closing.start()
    closing.join(5)
    assert not closing.is_alive()
    assert not any(KEY in m or "ol-pass-not-for-logs" in m for m in caplog.messages)


def _count(kind: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("comind_lineage_events_total", {"type": kind, "outcome": outcome})
        or 0.0
    )


def test_a_stream_worker_that_dies_of_an_error_ends_its_run_in_a_fail(kit: FlowKit) -> None:
    store = _emitting(kit)
    flow = RELAY.replace("relay:", "broken:").replace(
        "  sink:", "  steps: [{map: boom:fn}]\n  sink:"
    )
    boom = "raise RuntimeError('boom at import')\n\n\ndef fn(r):\n    return r\n"
    builder = kit.builder(flow, files={"boom.py": boom})
    with pytest.raises(Exception, match="boom at import"), StreamRun(builder, "broken") as run:
        run.follow(builder.runner("broken")).run(threading.Event())
    start, failed = _events(store, "broken", 2)
    assert (start["eventType"], failed["eventType"]) == ("START", "FAIL")
    assert "boom at import" in failed["run"]["facets"]["errorMessage"]["message"]


def test_a_blocked_partition_run_is_a_start_and_an_abort_with_why(kit: FlowKit) -> None:
    store = _emitting(kit)
    _orders(kit)
    RunLineage(kit.builder(CLEAN), "clean").blocked("2026-11-25", "upstream check failed")
    start, abort = _events(store, "clean", 2)
    assert (start["eventType"], abort["eventType"]) == ("START", "ABORT")
    assert abort["run"]["facets"]["errorMessage"]["message"] == "upstream check failed"
