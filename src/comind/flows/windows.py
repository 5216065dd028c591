"""Tumbling and sliding windows on event time, with an allowed-lateness watermark.

Window counts live in PostgreSQL and are added in the same transaction that acknowledges
the messages counted (the flow's queue is in the platform database too), so a worker killed
at any point has either counted a message and deleted it, or neither: counts are exact.
The watermark is the largest event time seen minus the allowed lateness; a window whose end
is at or before it is closed, written to the sinks (keyed on its start, so a re-emission
after a crash rewrites the same row) and then marked emitted. A record whose every window
has closed is quarantined as late. When the source has been idle for the idle timeout
(processing time, the database's clock), the watermark moves on by the time elapsed since
the last event, so the last windows are written without waiting for more traffic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from comind.flows.records import Quarantined, Record
from comind.flows.state import FlowState, WindowDelta
from comind.stores.postgres import Connection

RETAIN_EMITTED = timedelta(days=1)


class _Outcome(Protocol):
    quarantined: list[Quarantined]


def event_time(value: Any) -> datetime:
    """An ISO-8601 string or epoch seconds, as an aware UTC time."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def windows_of(t: datetime, size: float, slide: float | None) -> list[tuple[datetime, datetime]]:
    """Every window ``[start, end)`` holding ``t``: one when tumbling, size/slide when sliding."""
    ts, step = t.timestamp(), slide or size
    first = math.floor(ts / step) * step
    out = []
    start = first
    while start + size > ts:
        out.append((datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + size, UTC)))
        start -= step
    return sorted(out)


class WindowAggregator:
    def __init__(
        self,
        flow: str,
        state: FlowState,
        *,
        field: str,
        size: float,
        slide: float | None = None,
        lateness: float = 0.0,
        idle: float | None = None,
        key: str | None = None,
        sums: tuple[str, ...] = (),
    ) -> None:
        self.flow, self.state, self.field, self.size = flow, state, field, size
        self.slide, self.lateness, self.key, self.sums = slide, lateness, key, sums
        self.idle = size + lateness if idle is None else idle
        self.watermark = state.watermark(flow)

    def commit(
        self,
        records: list[Record],
        outcome: _Outcome,
        settle: Callable[[Connection], None],
    ) -> None:
        """Add ``records`` to their windows and run ``settle`` (the ack) in one transaction,
        holding the flow's watermark row: every worker of the flow judges lateness against
        the same, current watermark, so none adds to a window another already emitted."""
        with self.state.pool.connection() as conn, conn.transaction():
            shared = self.state.lock_watermark(self.flow, conn)
            if shared is not None and (self.watermark is None or shared > self.watermark):
                self.watermark = shared
            deltas, newest = self._deltas(records, outcome)
            mark = newest - timedelta(seconds=self.lateness) if newest is not None else None
            self.state.add_windows(self.flow, list(deltas.values()), mark, conn)
            settle(conn)
        if mark is not None and (self.watermark is None or mark > self.watermark):
            self.watermark = mark

    def _deltas(
        self, records: list[Record], outcome: _Outcome
    ) -> tuple[dict[tuple[datetime, str], WindowDelta], datetime | None]:
        deltas: dict[tuple[datetime, str], WindowDelta] = {}
        newest: datetime | None = None
        for record in records:
            try:
                t = event_time(record.value[self.field])
            except (KeyError, TypeError, ValueError, OverflowError):
                outcome.quarantined.append(
                    Quarantined(record, "window", [f"{self.field}: not a timestamp"])
                )
                continue
            spans = [s for s in windows_of(t, self.size, self.slide) if not self._closed(s[1])]
            if not spans:
                why = f"late: {self.field} is before the watermark {self.watermark}"  # no value
                outcome.quarantined.append(Quarantined(record, "window", [why]))
                continue
            newest = t if newest is None or t > newest else newest
            for start, end in spans:
                self._add(deltas, record.value, start, end)
        return deltas, newest

    def advance_idle(self) -> None:
        """Move the watermark on by processing time if the source has gone idle."""
        moved = self.state.idle_watermark(self.flow, self.idle)
        if moved is not None and (self.watermark is None or moved > self.watermark):
            self.watermark = moved

    def emit(self, write: Callable[[list[Record]], None]) -> int:
        """Write every closed, unemitted window; returns how many."""
        if self.watermark is None:
            return 0
        closed = self.state.closed_windows(self.flow, self.watermark)
        if not closed:
            return 0
        write([Record(self._row(w)) for w in closed])
        self.state.mark_emitted(self.flow, closed, expire_before=self.watermark - RETAIN_EMITTED)
        return len(closed)

    def _closed(self, end: datetime) -> bool:
        return self.watermark is not None and end <= self.watermark

    def _add(
        self,
        deltas: dict[tuple[datetime, str], WindowDelta],
        value: dict[str, Any],
        start: datetime,
        end: datetime,
    ) -> None:
        key = "" if self.key is None else str(value.get(self.key, ""))
        now = deltas.get((start, key)) or WindowDelta(start, end, key, 0, {})
        sums = dict(now.sums)
        for f in self.sums:
            try:
                sums[f] = sums.get(f, 0.0) + float(value.get(f) or 0)
            except (TypeError, ValueError):
                continue
        deltas[(start, key)] = WindowDelta(start, end, key, now.count + 1, sums)

    def _row(self, window: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {
            "window_start": window["window_start"].isoformat(),
            "window_end": window["window_end"].isoformat(),
            "count": int(window["count"]),
        }
        if self.key is not None:
            row[self.key] = window["key"]
        for f in self.sums:
            row[f"sum_{f}"] = float(window["sums"].get(f, 0))
        return row
