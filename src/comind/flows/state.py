"""What the flow engine keeps in the platform database: per-flow totals, quarantined
records, batch runs by partition, source positions and window state (see migration 0010).

Methods that take ``conn`` run inside the caller's transaction, so a window update commits
together with the deletion of the messages it counted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from comind.flows.quarantine import DETECTED, Protection
from comind.stores.postgres import Connection, Json, Pool, dict_rows, own_session
from comind.stores.queries import named

_sql = named("comind.flows", "state")
log = logging.getLogger("comind.flows")


@dataclass(frozen=True)
class BatchCounts:
    records_in: int = 0
    records_out: int = 0
    quarantined: int = 0
    dead_lettered: int = 0
    errors: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class WindowDelta:
    start: datetime
    end: datetime
    key: str
    count: int
    sums: dict[str, float]


class FlowState:
    def __init__(self, pool: Pool, pii: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """``pii``: by flow, the PII handling its quarantined records carry."""
        self.pool, self.pii = pool, dict(pii or {})
        self._public: bytes | None = None
        self._warned = False

    @contextmanager
    def _conn(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.pool.connection() as own:
                yield own

    # -- totals and quarantine

    def add_stats(self, flow: str, counts: BatchCounts) -> None:
        with self.pool.connection() as conn:
            conn.execute(_sql("add_stats"), {"flow": flow, **counts.__dict__})

    def stats(self, flow: str | None = None) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_rows) as cur:
            return cur.execute(_sql("stats"), {"flow": flow}).fetchall()

    def quarantine(
        self,
        flow: str,
        items: Sequence[tuple[str, list[str], dict[str, Any]]],
        conn: Connection | None = None,
    ) -> None:
        """Store ``(step, reasons, record)`` triples, their PII hidden (flows/quarantine.py)."""
        if not items:
            return
        with self._conn(conn) as c:
            ids = [int(r[0]) for r in c.execute(_sql("quarantine_ids"), {"n": len(items)})]
            actions = self.pii.get(flow, {})
            sealing = actions or any(step == DETECTED for step, _, _ in items)
            protection = Protection(actions, self._public_key(c) if sealing else None)
            stored = [
                protection.protect(flow, i, s, r) for i, (s, _, r) in zip(ids, items, strict=True)
            ]
            c.execute(
                _sql("quarantine"),
                {
                    "flow": flow,
                    "ids": ids,
                    "steps": [i[0] for i in items],
                    "reasons": [Json(i[1]) for i in items],
                    "records": [Json(p.record) for p in stored],
                    "sealed": [p.sealed for p in stored],
                    "masked": [Json(p.masked) for p in stored],
                },
            )

    def _public_key(self, conn: Connection) -> bytes | None:
        if self._public is None:
            row = conn.execute(_sql("quarantine_key")).fetchone()
            self._public = bytes(row[0]) if row else None
            if self._public is None and not self._warned:
                self._warned = True
                log.warning("no quarantine key published: PII fields are masked, raw not kept")
        return self._public

    def quarantined(self, flow: str, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` records, as stored (PII hidden, raw values sealed)."""
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_rows) as cur:
            return cur.execute(_sql("quarantined"), {"flow": flow, "limit": limit}).fetchall()

    @contextmanager
    def claimed(
        self, flow: str, ids: Sequence[int] | None, limit: int
    ) -> Iterator[list[dict[str, Any]]]:
        """The records ``ids`` (None: every one), oldest first, at most ``limit``, each held
        by this caller alone until the block ends (a session advisory lock per row, so the
        replay's ack can still delete them in its sink's transaction). A concurrent caller
        skips a held row, and one that comes after finds it deleted: a replay of one record
        runs it once."""
        args = {"flow": flow, "ids": list(ids or []), "all": ids is None, "limit": limit}
        with self.pool.connection() as conn:
            conn.commit()  # autocommit-like: no transaction stays open during the replay
            try:
                held = [int(r[0]) for r in conn.execute(_sql("claim_quarantined"), args)]
                conn.commit()
                with conn.cursor(row_factory=dict_rows) as cur:  # a new snapshot, after locking
                    rows = cur.execute(_sql("quarantined_by_id"),
                                       {**args, "ids": held, "all": False}).fetchall()  # fmt: skip
                conn.commit()
                yield rows
            finally:
                conn.rollback()
                conn.execute(_sql("release_quarantined"))
                conn.commit()

    def discard(
        self,
        flow: str,
        *,
        ids: Sequence[int] = (),
        every: bool = False,
        older_than: float | None = None,
        conn: Connection | None = None,
    ) -> list[int]:
        """Delete records by id, every one, or those older than ``older_than`` seconds."""
        args = {"flow": flow, "ids": list(ids), "all": every, "older": older_than}
        with self._conn(conn) as c:
            return sorted(int(r[0]) for r in c.execute(_sql("discard_quarantined"), args))

    def expire(self, flow: str, keep: float, chunk: int = 1000) -> int:
        """Delete ``flow``'s records older than ``keep`` seconds, ``chunk`` rows a statement
        (each its own transaction: a long backlog never holds a long lock)."""
        total = 0
        while True:
            with self.pool.connection() as conn:
                args = {"flow": flow, "keep": keep, "chunk": chunk}
                done = len(conn.execute(_sql("expire_quarantined"), args).fetchall())
            total += done
            if done < chunk:
                return total

    def quarantine_held(self) -> dict[str, int]:
        """Records held, by flow."""
        with self.pool.connection() as conn:
            return {f: int(n) for f, n in conn.execute(_sql("quarantine_held")).fetchall()}

    def publish_key(self, public: bytes) -> None:
        """The platform's quarantine public key, for the workers to seal to."""
        with self.pool.connection() as conn:
            conn.execute(_sql("publish_quarantine_key"), {"public": public})

    # -- runs

    def start_run(self, flow: str, partition: str, worker: str) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(
                _sql("start_run"),
                {"flow": flow, "partition": partition, "worker": worker},
            ).fetchone()
        assert row is not None
        return int(row[0])

    def finish_run(
        self, run_id: int, status: str, rows_in: int, rows_out: int, error: str | None = None
    ) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                _sql("finish_run"),
                {
                    "id": run_id,
                    "status": status,
                    "rows_in": rows_in,
                    "rows_out": rows_out,
                    "error": error,
                },
            )

    def runs(self, flow: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_rows) as cur:
            return cur.execute(_sql("runs"), {"flow": flow, "limit": limit}).fetchall()

    @contextmanager
    def partition_claim(self, flow: str, partition: str) -> Iterator[bool]:
        """Whether this process may run ``flow``'s ``partition`` now: no other, on any host,
        runs it meanwhile (a lock of the platform database, held on a session of the run's
        own while it lasts, and gone with it should the process die)."""
        key = {"flow": flow, "partition": partition}
        with own_session(self.pool) as conn:  # not the pool's: backfills run many at once
            row = conn.execute(_sql("claim_partition"), key).fetchone()
            held = bool(row and row[0])
            try:
                yield held
            finally:
                if held:
                    conn.execute(_sql("release_partition"), key)

    def succeeded_since(self, flow: str, partition: str, since: datetime) -> bool:
        """Whether a run of ``partition`` that started at ``since`` or later succeeded."""
        with self.pool.connection() as conn:
            args = {"flow": flow, "partition": partition, "since": since}
            row = conn.execute(_sql("succeeded_since"), args).fetchone()
        return bool(row and row[0])

    def partition_states(self, flow: str) -> dict[str, str]:
        """The last run's status of every partition ever run."""
        with self.pool.connection() as conn:
            rows = conn.execute(_sql("partition_states"), {"flow": flow}).fetchall()
        return {p: s for p, s in rows}

    # -- source positions

    def cursor(self, flow: str) -> Any:
        with self.pool.connection() as conn:
            row = conn.execute(_sql("get_cursor"), {"flow": flow}).fetchone()
        return row[0] if row else None

    def set_cursor(self, flow: str, position: Any) -> None:
        with self.pool.connection() as conn:
            conn.execute(_sql("set_cursor"), {"flow": flow, "position": Json(position)})

    def objects_done(self, flow: str, keys: Sequence[str]) -> set[tuple[str, str]]:
        with self.pool.connection() as conn:
            rows = conn.execute(_sql("objects_done"), {"flow": flow, "keys": list(keys)})
            return {(k, e) for k, e in rows.fetchall()}

    def mark_objects(self, flow: str, done: Sequence[tuple[str, str]]) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                _sql("mark_objects"),
                {
                    "flow": flow,
                    "keys": [k for k, _ in done],
                    "etags": [e for _, e in done],
                },
            )

    # -- windows

    def add_windows(
        self,
        flow: str,
        deltas: Sequence[WindowDelta],
        watermark: datetime | None,
        conn: Connection,
    ) -> None:
        if deltas:
            conn.execute(
                _sql("add_windows"),
                {
                    "flow": flow,
                    "starts": [d.start for d in deltas],
                    "ends": [d.end for d in deltas],
                    "keys": [d.key for d in deltas],
                    "counts": [d.count for d in deltas],
                    "sums": [Json(d.sums) for d in deltas],
                },
            )
        if watermark is not None:
            conn.execute(_sql("advance_watermark"), {"flow": flow, "watermark": watermark})

    def lock_watermark(self, flow: str, conn: Connection) -> datetime | None:
        """The flow's watermark, its row locked until ``conn``'s transaction ends."""
        conn.execute(_sql("ensure_watermark"), {"flow": flow})
        row = conn.execute(_sql("lock_watermark"), {"flow": flow}).fetchone()
        return row[0] if row else None

    def idle_watermark(self, flow: str, idle: float) -> datetime | None:
        """The watermark moved on by processing time when ``flow`` saw no event for ``idle``
        seconds; None while it is not idle (or has seen nothing)."""
        with self.pool.connection() as conn:
            row = conn.execute(_sql("idle_watermark"), {"flow": flow, "idle": idle}).fetchone()
        return row[0] if row else None

    def watermark(self, flow: str) -> datetime | None:
        with self.pool.connection() as conn:
            row = conn.execute(_sql("watermark"), {"flow": flow}).fetchone()
        return row[0] if row else None

    def closed_windows(self, flow: str, watermark: datetime) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_rows) as cur:
            return cur.execute(
                _sql("closed_windows"), {"flow": flow, "watermark": watermark}
            ).fetchall()

    def mark_emitted(
        self, flow: str, windows: Sequence[dict[str, Any]], *, expire_before: datetime
    ) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                _sql("mark_emitted"),
                {
                    "flow": flow,
                    "starts": [w["window_start"] for w in windows],
                    "keys": [w["key"] for w in windows],
                },
            )
            conn.execute(_sql("expire_windows"), {"flow": flow, "before": expire_before})
