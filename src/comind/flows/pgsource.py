"""Flow source adapter for PostgreSQL: a table read incrementally by a cursor column.

This module owns the flow engine's SELECTs on app tables (composed with ``psycopg.sql`` from
the table and cursor names of the spec) and ``table_ident``, the quoted ``schema.table``
identifier every PostgreSQL adapter of the flows package builds its statements with.
"""

from __future__ import annotations

import threading
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from comind.flows.records import Record
from comind.flows.sources import Polled, idle, jsonable, row_values
from comind.flows.state import FlowState
from comind.stores.postgres import Connection


class TableSource:
    """New rows of a table, by a cursor column that only grows (an id, ``updated_at``).

    Rows sharing the batch's last cursor value are all taken together, so a cursor never
    lands in the middle of a run of equal values and skips rows."""

    def __init__(
        self, pool: ConnectionPool, table: str, cursor: str, state: FlowState, flow: str
    ) -> None:
        self.pool, self.table, self.cursor, self.state, self.flow = pool, table, cursor, state, flow
        self.position: Any = state.cursor(flow)

    def poll(self, size: int, max_wait: float, stop: threading.Event | None = None) -> Polled:
        rows = self._rows(size + 1)
        if not rows:
            idle(max_wait, stop)
            return Polled()
        if len(rows) > size:
            after, rows = rows[size], rows[:size]
            last = rows[-1][self.cursor]
            if after[self.cursor] == last:  # a run of equal values crosses the batch's end
                rows = [r for r in rows if r[self.cursor] != last] or self._rows_at(last)
        top = jsonable(rows[-1][self.cursor])
        records = [Record(v, top) for v in row_values(rows)]
        return Polled(records, [], [top])

    def ack(self, polled: Polled, conn: Connection | None = None) -> None:
        if polled.refs:
            self.position = polled.refs[-1]
            self.state.set_cursor(self.flow, self.position)

    def lag_seconds(self) -> float:
        return 0.0

    def _rows(self, size: int) -> list[dict[str, Any]]:
        where = (
            sql.SQL("WHERE {} > %(pos)s").format(sql.Identifier(self.cursor))
            if self.position is not None
            else sql.SQL("")
        )
        return self._select(
            sql.SQL("SELECT * FROM {} {} ORDER BY {} LIMIT %(size)s").format(
                table_ident(self.table), where, sql.Identifier(self.cursor)
            ),
            {"pos": self.position, "size": size},
        )

    def _rows_at(self, value: Any) -> list[dict[str, Any]]:
        query = sql.SQL("SELECT * FROM {} WHERE {} = %(v)s").format(
            table_ident(self.table), sql.Identifier(self.cursor)
        )
        return self._select(query, {"v": value})

    def _select(self, query: sql.Composed, args: dict[str, Any]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(query, args).fetchall()


def table_ident(table: str) -> sql.Composed:
    schema, _, name = table.rpartition(".")  # qualified: no login's search path decides it
    return sql.SQL(".").join([sql.Identifier(schema or "public"), sql.Identifier(name)])
