"""Sending OpenLineage RunEvents without ever holding up a flow.

``LineageEmitter.emit`` only puts the event into a bounded in-process buffer; one
background thread stores each event in the platform database and, when an OpenLineage HTTP
endpoint is configured (``COMIND_OPENLINEAGE_URL``), posts it there with the official
client's ``HttpTransport``. A full buffer drops the event, a failed store or send is
counted (``comind_lineage_events_total{type,outcome}``) and logged at most once a minute:
lineage is evidence about a run, never a reason for the run to fail or wait. ``close``
gives the thread a bounded time to flush what is buffered.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import datetime

from openlineage.client.event_v2 import RunEvent
from openlineage.client.serde import Serde
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpConfig,
    HttpTransport,
    TokenProvider,
)
from openlineage.client.transport.http_common import DEFAULT_RETRY_CONFIG
from prometheus_client import Counter

from comind.governance.lineage_event_store import LineageEventStore, StoredEvent
from comind.observe.metrics import REGISTRY

log = logging.getLogger("comind.lineage")
URL_ENV = "COMIND_OPENLINEAGE_URL"
API_KEY_ENV = "COMIND_OPENLINEAGE_API_KEY"  # a secret: passed to the transport, never logged
BUFFER = 1000
LOG_EVERY_SECONDS = 60.0
_DONE = object()

EVENTS = Counter(
    "comind_lineage_events_total",
    "OpenLineage RunEvents of flow runs by type (START, RUNNING, COMPLETE, FAIL, ABORT) and "
    "outcome: stored, sent, dropped (buffer full), store_failed, send_failed, build_failed.",
    ["type", "outcome"],
    registry=REGISTRY,
)


def http_transport(url: str | None, key: str | None = None) -> HttpTransport | None:
    """The OpenLineage HTTP endpoint at ``url`` (none: no endpoint), with ``key`` as its
    bearer token."""
    if not url:
        return None
    auth = ApiKeyTokenProvider({"apiKey": key}) if key else TokenProvider({})
    # few, quick retries: the emitter thread must not fall far behind a dead endpoint
    retry = {**DEFAULT_RETRY_CONFIG, "total": 2, "read": 2, "connect": 2, "backoff_factor": 0.2}
    config = HttpConfig(url=url, timeout=5.0, auth=auth, retry=retry)
    return HttpTransport(config)


class LineageEmitter:
    def __init__(
        self, store: LineageEventStore, transport: HttpTransport | None = None,
        *, capacity: int = BUFFER,
    ) -> None:  # fmt: skip
        self.store, self.transport = store, transport
        self._buffer: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._logged: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="lineage-events", daemon=True)
        self._lock = threading.Lock()

    def emit(self, event: RunEvent) -> None:
        """Buffer ``event`` for storing and sending; never blocks, never raises."""
        with self._lock:  # started on the first event: most engines a request opens emit none
            if self._thread.ident is None:
                self._thread.start()
        try:
            self._buffer.put_nowait(event)
        except queue.Full:
            self.failed(_type(event), "dropped", "the lineage event buffer is full")

    def failed(self, kind: str, outcome: str, why: object) -> None:
        """Count a failure; log it unless the same outcome was logged within a minute."""
        EVENTS.labels(kind, outcome).inc()
        now = time.monotonic()
        if now - self._logged.get(outcome, float("-inf")) >= LOG_EVERY_SECONDS:
            self._logged[outcome] = now
            log.warning("lineage event %s (%s): %s", outcome, kind, why)

    def close(self, timeout: float = 5.0) -> None:
        """Flush what is buffered (for at most ``timeout`` seconds), then stop."""
        if self._thread.ident is None:  # nothing was ever emitted
            return
        try:
            self._buffer.put(_DONE, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)
        if self.transport is not None:
            self.transport.close()

    def _run(self) -> None:
        while (event := self._buffer.get()) is not _DONE:
            assert isinstance(event, RunEvent)
            self._deliver(event)

    def _deliver(self, event: RunEvent) -> None:
        kind, text = _type(event), Serde.to_json(event)
        stored = StoredEvent(_time(event), kind, event.run.runId, event.job.name, text)
        try:
            self.store.add([stored])
            EVENTS.labels(kind, "stored").inc()
        except Exception as exc:  # the database may be restarting: the flow goes on
            self.failed(kind, "store_failed", exc)
        if self.transport is None:
            return
        try:
            self.transport.emit(event)
            EVENTS.labels(kind, "sent").inc()
        except Exception as exc:  # the endpoint is down or refuses: counted, not retried
            self.failed(kind, "send_failed", type(exc).__name__)


def _type(event: RunEvent) -> str:
    return event.eventType.value if event.eventType is not None else "OTHER"


def _time(event: RunEvent) -> datetime:
    return datetime.fromisoformat(event.eventTime)
