"""Partitions adapter for PostgreSQL: the statements of partitioned sink tables and of
partition runs.

It owns the DDL of partitioned sink tables: ``PARTITION BY RANGE`` on a time field (hour,
day or month partitions, created ahead of the data and on demand for each batch's values)
or ``PARTITION BY HASH`` into N buckets (all created with the table); and the ``SELECT``
of one batch partition's rows from a source table (``where``, ``partition_rows``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from comind.flows.partitions import Partitioning
from comind.flows.pgsource import table_ident
from comind.flows.sources import row_values
from comind.flows.windows import event_time

AHEAD = 2  # partitions created beyond the current one


def where(p: Partitioning, name: str) -> tuple[sql.Composed, dict[str, Any]]:
    """The condition selecting partition ``name``'s rows, and its parameters."""
    column = sql.Identifier(p.field)
    if p.by == "hash":
        return (
            sql.SQL("abs(hashtext({}::text)) %% %(buckets)s = %(bucket)s").format(column),
            {"buckets": p.buckets, "bucket": int(name)},
        )
    low, high = p.bounds(name)
    return sql.SQL("{} >= %(low)s AND {} < %(high)s").format(column, column), {
        "low": low,
        "high": high,
    }


def partition_rows(
    pool: ConnectionPool, table: str, p: Partitioning, name: str
) -> list[dict[str, object]]:
    """Every row of ``table`` in partition ``name``, as JSON-ready values."""
    condition, args = where(p, name)
    query = sql.SQL("SELECT * FROM {} WHERE {}").format(table_ident(table), condition)
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return row_values(cur.execute(query, args).fetchall())


class TablePartitions:
    def __init__(self, table: str, partitioning: Partitioning) -> None:
        self.table, self.p = table, partitioning
        self.known: set[str] = set()

    def clause(self) -> sql.Composed:
        kind = sql.SQL("HASH" if self.p.by == "hash" else "RANGE")
        return sql.SQL(" PARTITION BY {} ({})").format(kind, sql.Identifier(self.p.field))

    def create_initial(self, conn: psycopg.Connection[Any]) -> None:
        if self.p.by == "hash":
            n = self.p.buckets or 2
            for i in range(n):
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} "
                        "FOR VALUES WITH (MODULUS {}, REMAINDER {})"
                    ).format(
                        self._child(f"h{i}"),
                        table_ident(self.table),
                        sql.Literal(n),
                        sql.Literal(i),
                    )
                )
            return
        name = self.p.name_of(datetime.now(UTC))
        for _ in range(AHEAD + 1):
            self._range(conn, name)
            name = self.p.name_of(self.p.bounds(name)[1])

    def missing(self, values: list[dict[str, Any]]) -> bool:
        """Whether ``values`` need a partition this sink has not made sure of yet."""
        return bool(self._wanted(values) - self.known)

    def ensure(self, conn: psycopg.Connection[Any], values: list[dict[str, Any]]) -> None:
        """Partitions for every time in ``values`` (a value that is no time is left to the
        insert, which then fails naming the column)."""
        for name in sorted(self._wanted(values) - self.known):
            self._range(conn, name)

    def _wanted(self, values: list[dict[str, Any]]) -> set[str]:
        if self.p.by == "hash":
            return set()
        wanted = set()
        for value in values:
            try:
                wanted.add(self.p.name_of(event_time(value[self.p.field]).astimezone(UTC)))
            except (KeyError, TypeError, ValueError, OverflowError):
                continue
        return wanted

    def _range(self, conn: psycopg.Connection[Any], name: str) -> None:
        low, high = self.p.bounds(name)
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
            ).format(
                self._child(name), table_ident(self.table), sql.Literal(low), sql.Literal(high)
            )
        )
        self.known.add(name)

    def _child(self, suffix: str) -> sql.Composed:
        clean = "".join(c for c in suffix if c.isalnum())
        schema, _, name = self.table.rpartition(".")
        # beside its parent: the sink's login searches the catalog alone, never public
        return sql.SQL(".").join(
            [sql.Identifier(schema or "public"), sql.Identifier(f"{name}_{clean}")]
        )
