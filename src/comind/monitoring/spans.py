"""Recent trace spans in the platform database (migration 0012): written by an OpenTelemetry
exporter in each process that traces, read back per flow as whole traces, pruned by age."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from comind.stores.postgres import Json, Pool, dict_rows
from comind.stores.queries import named

_sql = named("comind.monitoring", "spans")


class SpanStore:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def add(self, spans: Sequence[ReadableSpan], flow: str | None = None) -> None:
        """Store ``spans`` (``flow``: as that flow's, whatever their attributes say)."""
        rows = [_row(s, flow) for s in spans if s.context is not None]
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(_sql("insert"), rows)

    def traces(self, flow: str, limit: int = 20) -> list[dict[str, Any]]:
        """The newest ``limit`` traces of ``flow``: each its root span with ``children``."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_rows) as cur:
            ids = [r["trace_id"] for r in cur.execute(_sql("recent_traces"),
                                                      {"flow": flow, "limit": limit})]  # fmt: skip
            spans = cur.execute(_sql("spans_of"), {"traces": ids}).fetchall()
        return _trees(ids, spans)

    def prune(self, before: datetime) -> int:
        with self.pool.connection() as conn:
            return conn.execute(_sql("prune"), {"before": before}).rowcount

    def exporter(self, flow: str | None = None) -> SpanExporter:
        """``flow``: a flow worker's exporter, whose every span is the flow's (its login may
        store no other flow's spans)."""
        return _Exporter(self, flow)


class _Exporter(SpanExporter):
    def __init__(self, store: SpanStore, flow: str | None) -> None:
        self.store, self.flow = store, flow

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.store.add(spans, self.flow)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def _row(span: ReadableSpan, flow: str | None) -> dict[str, Any]:
    assert span.context is not None and span.start_time is not None
    attributes = dict(span.attributes or {})
    end = span.end_time or span.start_time
    status = {StatusCode.OK: "ok", StatusCode.ERROR: "error"}.get(span.status.status_code, "unset")
    return {
        "trace_id": f"{span.context.trace_id:032x}",
        "span_id": f"{span.context.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "name": span.name,
        "flow": flow or attributes.get("comind.flow"),
        "started_at": datetime.fromtimestamp(span.start_time / 1e9, UTC),
        "seconds": (end - span.start_time) / 1e9,
        "status": status,
        "attributes": Json(attributes),
    }


def _trees(ids: list[str], spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spans nested under their parents, one tree per trace, newest trace first."""
    by_id = {(s["trace_id"], s["span_id"]): {**s, "children": []} for s in spans}
    roots: dict[str, dict[str, Any]] = {}
    for span in by_id.values():
        parent = by_id.get((span["trace_id"], span["parent_id"]))
        if parent is not None:
            parent["children"].append(span)
        elif span["parent_id"] is None:
            roots[span["trace_id"]] = span
    return [roots[i] for i in ids if i in roots]
