"""Sending OpenLineage RunEvents without ever holding up a flow.

``LineageEmitter.emit`` only puts the event into a bounded in-process buffer; one
background thread stores each event in the platform database and, when an OpenLineage HTTP
endpoint is configured (``COMIND_OPENLINEAGE_URL``), hands it to a second bounded queue whose
own thread posts it there with the official client's ``HttpTransport``: a slow endpoint never
holds up storing. Each post has a deadline on the whole request (retries included); a post
past it is abandoned. A full buffer or queue drops the event; drops, failed stores and failed
or timed-out sends are counted (``comind_lineage_events_total{type,outcome}``) and logged at
most once a minute: lineage is evidence about a run, never a reason for the run to fail or
wait. ``close`` gives both threads one short bound in total to flush what is buffered.
The endpoint's API key and any password in its URL are registered for log redaction.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

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
from comind.observe.logs import redact
from comind.observe.metrics import REGISTRY

log = logging.getLogger("comind.lineage")
URL_ENV = "COMIND_OPENLINEAGE_URL"
API_KEY_ENV = "COMIND_OPENLINEAGE_API_KEY"  # a secret: passed to the transport, never logged
BUFFER = 1000
SEND_BUFFER = 100  # events waiting for the endpoint; more are dropped (send_dropped)
SEND_DEADLINE = 10.0  # seconds for one whole post, retries included
LOG_EVERY_SECONDS = 60.0
_DONE = object()

EVENTS = Counter(
    "comind_lineage_events_total",
    "OpenLineage RunEvents of flow runs by type (START, RUNNING, COMPLETE, FAIL, ABORT) and "
    "outcome: stored, sent, dropped (buffer full), store_failed, send_failed, send_timeout "
    "(no answer within the deadline), send_dropped (send queue full), build_failed.",
    ["type", "outcome"],
    registry=REGISTRY,
)


def http_transport(url: str | None, key: str | None = None) -> HttpTransport | None:
    """The OpenLineage HTTP endpoint at ``url`` (none: no endpoint), with ``key`` as its
    bearer token."""
    if not url:
        return None
    register_secrets(url, key)
    log.debug("OpenLineage endpoint %s", shown_url(url))
    auth = ApiKeyTokenProvider({"apiKey": key}) if key else TokenProvider({})
    # few, quick retries: the emitter thread must not fall far behind a dead endpoint
    retry = {**DEFAULT_RETRY_CONFIG, "total": 2, "read": 2, "connect": 2, "backoff_factor": 0.2}
    config = HttpConfig(url=url, timeout=5.0, auth=auth, retry=retry)
    return HttpTransport(config)


def register_secrets(url: str | None, key: str | None) -> None:
    """Never log the endpoint's API key nor the password in its URL."""
    password = urlsplit(url).password if url else None
    for secret in (key, password):
        if secret:
            redact(secret)


def shown_url(url: str) -> str:
    """``url`` without its ``user:password@``, for logs and status."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


class LineageEmitter:
    def __init__(
        self, store: LineageEventStore, transport: HttpTransport | None = None,
        *, capacity: int = BUFFER, send_deadline: float = SEND_DEADLINE,
    ) -> None:  # fmt: skip
        self.store = store
        self._buffer: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._logged: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="lineage-events", daemon=True)
        self._lock = threading.Lock()
        self._sender = _Sender(transport, send_deadline, self.failed) if transport else None

    def emit(self, event: RunEvent) -> None:
        """Buffer ``event`` for storing and sending; never blocks, never raises."""
        with self._lock:  # started on the first event: most engines a request opens emit none
            if self._thread.ident is None:
                self._thread.start()
                if self._sender is not None:
                    self._sender.start()
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
        """Store what is buffered and send what the endpoint takes, for at most ``timeout``
        seconds in all; then stop (a post still hanging is abandoned)."""
        if self._thread.ident is None or not self._thread.is_alive():  # none emitted, or closed
            return
        end = time.monotonic() + timeout
        try:
            self._buffer.put(_DONE, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(max(0.0, end - time.monotonic()))
        if self._sender is not None:  # the store thread passed _DONE on: storing comes first
            self._sender.join(max(0.0, end - time.monotonic()))

    def _run(self) -> None:
        while (event := self._buffer.get()) is not _DONE:
            assert isinstance(event, RunEvent)
            self._store(event)
            if self._sender is not None:
                self._sender.put(event)
        if self._sender is not None:
            self._sender.put(_DONE)

    def _store(self, event: RunEvent) -> None:
        kind, text = _type(event), Serde.to_json(event)
        stored = StoredEvent(_time(event), kind, event.run.runId, event.job.name, text)
        try:
            self.store.add([stored])
            EVENTS.labels(kind, "stored").inc()
        except Exception as exc:  # the database may be restarting: the flow goes on
            self.failed(kind, "store_failed", exc)


class _Sender:
    """Posts events to the endpoint on its own thread, each post within ``deadline``
    seconds in all: the client's timeout bounds each socket read, not a request, so an
    endpoint answering a byte every few seconds would hold a post for ever. A post past its
    deadline goes on in its own daemon thread, abandoned; while it hangs no other starts."""

    def __init__(
        self, transport: HttpTransport, deadline: float, failed: Callable[[str, str, object], None]
    ) -> None:
        self.transport, self.deadline, self.failed = transport, deadline, failed
        self._queue: queue.Queue[object] = queue.Queue(maxsize=SEND_BUFFER)
        self._thread = threading.Thread(target=self._run, name="lineage-send", daemon=True)
        self._post: threading.Thread | None = None

    def start(self) -> None:
        self._thread.start()

    def put(self, event: object) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            if isinstance(event, RunEvent):
                self.failed(_type(event), "send_dropped", "the lineage send queue is full")

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.transport.close()

    def _run(self) -> None:
        while (event := self._queue.get()) is not _DONE:
            assert isinstance(event, RunEvent)
            self._send(event)

    def _send(self, event: RunEvent) -> None:
        kind = _type(event)
        if self._post is not None:  # an abandoned post still hangs: give it one more deadline
            self._post.join(self.deadline)
            if self._post.is_alive():
                self.failed(kind, "send_timeout", "the endpoint still holds an earlier post")
                return
        result: list[BaseException | None] = []
        self._post = threading.Thread(
            target=self._attempt, args=(event, result), name="lineage-post", daemon=True
        )
        self._post.start()
        self._post.join(self.deadline)
        if self._post.is_alive():
            self.failed(kind, "send_timeout", f"no answer within {self.deadline:g} s")
            return
        self._post = None
        if result and result[0] is None:
            EVENTS.labels(kind, "sent").inc()
        else:  # the endpoint is down or refuses: counted, not retried
            self.failed(kind, "send_failed", type(result[0]).__name__ if result else "no result")

    def _attempt(self, event: RunEvent, result: list[BaseException | None]) -> None:
        try:
            self.transport.emit(event)
            result.append(None)
        except Exception as exc:
            result.append(exc)


def _type(event: RunEvent) -> str:
    return event.eventType.value if event.eventType is not None else "OTHER"


def _time(event: RunEvent) -> datetime:
    return datetime.fromisoformat(event.eventTime)
