"""Traces: one OpenTelemetry trace per flow batch, a span per step and per sink.

A process sets its tracer provider once with :func:`setup`: spans go to the exporters it is
given (the platform keeps recent ones in PostgreSQL) and, when an OTLP endpoint is
configured (``COMIND_OTLP_ENDPOINT``, or OpenTelemetry's own ``OTEL_EXPORTER_OTLP_ENDPOINT``),
to that collector over OTLP/HTTP as well. Exporting runs in a background thread with a
bounded queue: a slow or absent collector drops spans (counted) instead of slowing a batch.
Without a provider the tracer is OpenTelemetry's no-op one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status, StatusCode
from prometheus_client import Counter

from comind.observe.metrics import REGISTRY

SPANS = Counter(
    "comind_trace_spans",
    "Trace spans handed to an exporter, by exporter (store, otlp) and outcome.",
    ["exporter", "outcome"],
    registry=REGISTRY,
)


def otlp_endpoint() -> str | None:
    """The configured OTLP/HTTP endpoint (base URL; ``/v1/traces`` is added), if any."""
    return os.environ.get("COMIND_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")


class Counted(SpanExporter):
    """An exporter whose results are counted in ``comind_trace_spans_total``."""

    def __init__(self, name: str, inner: SpanExporter) -> None:
        self.name, self.inner = name, inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:  # a collector or database hiccup must never reach a flow
            result = SpanExportResult.FAILURE
        ok = result is SpanExportResult.SUCCESS
        SPANS.labels(self.name, "exported" if ok else "failed").inc(len(spans))
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def setup(service: str, exporters: dict[str, SpanExporter]) -> TracerProvider:
    """This process's tracer provider: ``exporters`` by name, plus OTLP when configured."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    found = dict(exporters)
    if endpoint := otlp_endpoint():
        # imported only when configured: it pulls in requests and protobuf
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        found["otlp"] = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
    for name, exporter in found.items():
        provider.add_span_processor(
            BatchSpanProcessor(
                Counted(name, exporter), max_queue_size=4096, schedule_delay_millis=2000
            )
        )
    trace.set_tracer_provider(provider)
    return provider


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


@contextlib.contextmanager
def span(
    source: trace.Tracer, name: str, attributes: dict[str, Any] | None = None
) -> Iterator[trace.Span]:
    """A span that records an exception by its type only: messages (a database error
    quoting a row, say) can carry record data, which must not leave for a collector."""
    with source.start_as_current_span(name, attributes=attributes, record_exception=False,
                                      set_status_on_exception=False) as current:  # fmt: skip
        try:
            yield current
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
