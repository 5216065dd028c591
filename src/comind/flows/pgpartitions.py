"""Partitioned sink tables: ``PARTITION BY RANGE`` on a time field (hour, day or month
partitions, created ahead of the data and on demand for each batch's values) or
``PARTITION BY HASH`` into N buckets (all created with the table)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from comind.flows.partitions import Partitioning
from comind.flows.sources import table_ident
from comind.flows.windows import event_time

AHEAD = 2  # partitions created beyond the current one


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

    def ensure(self, conn: psycopg.Connection[Any], values: list[dict[str, Any]]) -> None:
        """Partitions for every time in ``values`` (a value that is no time is left to the
        insert, which then fails naming the column)."""
        if self.p.by == "hash":
            return
        wanted = set()
        for value in values:
            try:
                wanted.add(self.p.name_of(event_time(value[self.p.field]).astimezone(UTC)))
            except (KeyError, TypeError, ValueError, OverflowError):
                continue
        for name in sorted(wanted - self.known):
            self._range(conn, name)

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
        child = f"{name}_{clean}"
        return sql.SQL(".").join(
            sql.Identifier(p) for p in ([schema, child] if schema else [child])
        )
