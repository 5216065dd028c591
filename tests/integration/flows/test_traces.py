"""Traces: one trace per batch with a span per step, sink and acknowledgement, kept in the
platform database and sent over OTLP/HTTP to a collector (a receiver double: a remote
collector is the one thing that cannot run here)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flowkit import FlowKit
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from comind.monitoring.spans import SpanStore
from comind.observe.tracing import setup

FLOW = """
enrich:
  kind: stream
  source: queue://shop/orders
  batch: {size: 50, max_wait: 0}
  steps:
    - validate: schemas/order.json
    - cleanse: {trim: [email]}
  sink: {postgres: shop.orders, upsert_on: [id]}
"""


class Collector(ThreadingHTTPServer):
    received: list[ExportTraceServiceRequest]


class _Handler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector(("127.0.0.1", 0), _Handler)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_batch_is_one_trace_kept_and_sent_over_otlp(
    kit: FlowKit, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMIND_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_port}")
    store = SpanStore(kit.layer.pool)
    provider = setup("comind-test", {"store": store.exporter()})
    try:
        runner = kit.builder(FLOW).runner("enrich")
        kit.send("shop/orders", [{"id": f"o{i}", "email": f" u{i}@x.io ", "total": i}
                                 for i in range(20)] + [{"id": "bad", "total": -1}])  # fmt: skip
        runner.run_once()
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()

    (batch,) = store.traces("enrich")
    assert batch["name"] == "flow.batch" and batch["status"] == "ok"  # quarantine is no error
    assert batch["attributes"]["comind.records_in"] == 21
    assert batch["attributes"]["comind.quarantined"] == 1
    children = {c["name"]: c for c in batch["children"]}
    assert set(children) == {"step validate", "step cleanse", "sink default", "ack"}
    assert children["step validate"]["attributes"]["comind.quarantined"] == 1
    assert all(c["seconds"] <= batch["seconds"] for c in batch["children"])

    sent = [s for r in collector.received for rs in r.resource_spans
            for ss in rs.scope_spans for s in ss.spans]  # fmt: skip
    assert {s.name for s in sent} == {"flow.batch", *children}
    assert {s.trace_id.hex() for s in sent} == {batch["trace_id"]}
