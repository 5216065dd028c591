"""Flow sources: a queue (also a topic's subscription queue and the HTTP ingest queue), a
PostgreSQL table read incrementally by a cursor column (:mod:`comind.flows.pgsource`), and an
object-store prefix.

Every source is at-least-once: ``poll`` hands out records, ``ack`` is called only after
the sinks committed them, and what was polled but never acked comes back (a queue lease
expires, a cursor or an object mark was not advanced).
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

import pyarrow.parquet as pq

from comind.flows.records import Quarantined, Record
from comind.flows.state import FlowState
from comind.queue.postgres import PostgresQueues
from comind.stores.objects import ObjectStore
from comind.stores.postgres import Connection


class LeaseExpired(Exception):
    """A batch took longer than its lease: its messages went to another worker."""


@dataclass
class Polled:
    records: list[Record] = field(default_factory=list)
    rejected: list[Quarantined] = field(default_factory=list)  # unreadable: never reach a step
    refs: list[Any] = field(default_factory=list)  # everything to ack, rejected included


class Source(Protocol):
    def poll(self, size: int, max_wait: float, stop: threading.Event | None = None) -> Polled:
        """Up to ``size`` records, waiting up to ``max_wait`` s for some; a wait ends early,
        empty-handed, once ``stop`` is set (a worker stopping is not held up by an idle
        source)."""
        ...

    def ack(self, polled: Polled, conn: Connection | None = None) -> None: ...

    def lag_seconds(self) -> float: ...


def parse_object(text: str, *, where: str) -> tuple[list[dict[str, Any]], list[str]]:
    """JSON objects from a JSON document or JSON lines; also the reasons for lines that are not."""
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n" in stripped.strip():
        try:  # one pretty-printed object, not JSON lines
            value = json.loads(text)
        except ValueError:
            pass
        else:
            return (
                ([value], []) if isinstance(value, dict) else ([], [f"{where}: not a JSON object"])
            )
    if stripped.startswith("["):
        try:
            values = json.loads(text)
        except ValueError as exc:
            return [], [f"{where}: {exc}"]
        return [v for v in values if isinstance(v, dict)], [
            f"{where}: item {i} is not a JSON object"
            for i, v in enumerate(values)
            if not isinstance(v, dict)
        ]
    good: list[dict[str, Any]] = []
    bad: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            bad.append(f"{where}:{n}: {exc}")
            continue
        if isinstance(value, dict):
            good.append(value)
        else:
            bad.append(f"{where}:{n}: not a JSON object")
    return good, bad


class QueueSource:
    """A queue of the ``postgres`` backend, leased in batches of up to ``size``."""

    def __init__(
        self, queues: PostgresQueues, queue: str, *, visibility: int | None = None
    ) -> None:
        self.queues, self.queue, self.visibility = queues, queue, visibility

    def poll(self, size: int, max_wait: float, stop: threading.Event | None = None) -> Polled:
        deadline = time.monotonic() + max_wait
        got = self.queues.lease(
            self.queue,
            limit=size,
            wait_seconds=max(max_wait, 1.0),
            visibility_timeout=self.visibility,
            stop=stop,
        )
        while got and len(got) < size and (left := deadline - time.monotonic()) > 0:
            more = self.queues.lease(
                self.queue,
                limit=size - len(got),
                wait_seconds=min(left, 0.2),
                visibility_timeout=self.visibility,
            )
            got += more
        out = Polled()
        for msg in got:
            out.refs.append(msg.receipt_handle)
            sent = msg.sent_at.timestamp() if msg.sent_at else None
            try:
                value = json.loads(msg.body)
            except ValueError as exc:
                value, reason = {"body": msg.body[:10000]}, f"not JSON: {exc}"
            else:
                reason = "" if isinstance(value, dict) else "not a JSON object"
            record = Record(
                value if not reason else {"body": msg.body[:10000]},
                msg.receipt_handle,
                sent,
                attempts=msg.receive_count,
            )
            if reason:
                out.rejected.append(Quarantined(record, "source", [reason]))
            else:
                out.records.append(record)
        return out

    def ack(self, polled: Polled, conn: Connection | None = None) -> None:
        """Delete the batch's messages. Inside a caller's transaction (a window update), a
        lease that expired meanwhile (another worker took the messages) raises, so the
        transaction rolls back instead of counting those messages twice."""
        if not polled.refs:
            return
        deleted = self.queues.delete_many(self.queue, polled.refs, conn=conn)
        if conn is not None and deleted != len(polled.refs):
            raise LeaseExpired(
                f"{len(polled.refs) - deleted} of {len(polled.refs)} messages of {self.queue} "
                "were leased again before this batch committed; it is rolled back"
            )

    def lag_seconds(self) -> float:
        return self.queues.stats(self.queue).oldest_age_seconds


def idle(seconds: float, stop: threading.Event | None) -> None:
    """The wait of a poll that found nothing: ``seconds``, or until ``stop`` is set."""
    if stop is None:
        time.sleep(seconds)
    else:
        stop.wait(seconds)


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID | bytes | memoryview):
        return value.hex() if isinstance(value, bytes | memoryview) else str(value)
    return value


def row_values(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in row.items()} for row in rows]


class ObjectSource:
    """New objects under ``bucket/prefix``: each (key, etag) is processed once; JSON, JSON
    lines, CSV and Parquet are read by extension."""

    def __init__(self, store: ObjectStore, location: str, state: FlowState, flow: str) -> None:
        self.store, self.state, self.flow = store, state, flow
        self.bucket, _, self.prefix = location.partition("/")
        self.oldest_pending = 0.0

    def poll(self, size: int, max_wait: float, stop: threading.Event | None = None) -> Polled:
        out = Polled()
        for key, etag in self._pending():
            records, reasons = self._read(key)
            ref = (key, etag)
            out.refs.append(ref)
            out.records += [Record(v, ref, time.time()) for v in records]
            out.rejected += [
                Quarantined(Record({"object": key}, ref), "source", [r]) for r in reasons
            ]
            if len(out.records) >= size:
                break
        if not out.refs:
            idle(max_wait, stop)
        return out

    def ack(self, polled: Polled, conn: Connection | None = None) -> None:
        self.state.mark_objects(self.flow, polled.refs)

    def lag_seconds(self) -> float:
        return self.oldest_pending

    def _pending(self) -> Iterator[tuple[str, str]]:
        listing = [(o.key, o.etag, o.modified) for o in self.store.list(self.bucket, self.prefix)]
        done = self.state.objects_done(self.flow, [k for k, _, _ in listing])
        pending = sorted((m, k, e) for k, e, m in listing if (k, e) not in done)
        self.oldest_pending = (time.time() - pending[0][0].timestamp()) if pending else 0.0
        for _, key, etag in pending:
            yield key, etag

    def _read(self, key: str) -> tuple[list[dict[str, Any]], list[str]]:
        data = self.store.get(self.bucket, key)
        where = f"{self.bucket}/{key}"
        if key.endswith(".parquet"):
            return row_values(pq.read_table(io.BytesIO(data)).to_pylist()), []
        text = data.decode("utf-8", errors="replace")
        if key.endswith(".csv"):
            return [dict(r) for r in csv.DictReader(io.StringIO(text))], []
        return parse_object(text, where=where)
