"""The PostgreSQL sink: bulk upsert through COPY, idempotent on the declared keys.

A batch is COPYed into a temporary staging table, then ``INSERT ... SELECT DISTINCT ON
(keys) ... ON CONFLICT (keys) DO UPDATE`` moves it into the table in the same transaction,
so a replayed batch rewrites the same rows (effectively exactly-once with at-least-once
delivery) and the last record of a key in a batch wins. A batch partition run may also
delete its partition's old rows in that transaction (replace). The table is created on
first write from the dataset's JSON Schema plus the first batch's fields; a record with a
field the table lacks, or a value the column cannot hold, fails with the column named.

Who owns what: the table and its partitions are created as the database's data owner (a
NOLOGIN platform role the writer may ``SET ROLE`` to for this DDL only, in its own
transaction), which grants the writing role (the session's) what a batch needs and the
app's role SELECT. The writer itself owns nothing and the app cannot alter the table or put
a trigger on it, so no app code runs in a flow's write.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from comind.errors import ComindError
from comind.flows.partitions import Partitioning
from comind.flows.pgpartitions import TablePartitions
from comind.flows.pgsource import table_ident
from comind.flows.records import Record
from comind.stores.pg_admin import role_exists
from comind.stores.pg_grants import quoted, refuse_foreign, strange_owners


class SinkDataError(ComindError):
    """The records cannot go into the sink as they are (retrying will not help)."""


@dataclass(frozen=True)
class Replace:
    """Delete rows with ``column`` in ``[low, high)`` before writing (a partition re-run)."""

    column: str
    low: Any
    high: Any


_SCHEMA_TYPES = {
    "integer": "bigint",
    "number": "numeric",
    "boolean": "boolean",
    "object": "jsonb",
    "array": "jsonb",
    "string": "text",
}


def column_type(prop: dict[str, Any]) -> str:
    kind = prop.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "string" and prop.get("format") == "date-time":
        return "timestamptz"
    if kind == "string" and prop.get("format") == "date":
        return "date"
    return _SCHEMA_TYPES.get(kind, "text")


def value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float | Decimal):
        return "numeric"
    if isinstance(value, dict | list):
        return "jsonb"
    return "text"


class PostgresSink:
    def __init__(
        self,
        pool: ConnectionPool,
        table: str,
        *,
        upsert_on: Sequence[str] = (),
        schema_file: Path | None = None,
        name: str = "postgres",
        owner: str | None = None,
        readers: Sequence[str] = (),
        partitioning: Partitioning | None = None,
    ) -> None:
        self.pool, self.table, self.keys = pool, table, list(upsert_on)
        self.owner, self.readers = owner, tuple(readers)
        self.partitions = TablePartitions(table, partitioning) if partitioning else None
        self.schema_file, self.name = schema_file, name
        self.columns: dict[str, str] = {}

    def write(self, records: list[Record], *, replace: Replace | None = None) -> int:
        values = [r.value for r in records]
        if not values and replace is None:
            return 0
        self._ensure_table(values)
        fields = self._fields(values)
        try:
            if self.partitions is not None and self.partitions.missing(values):
                with self._as_owner() as conn:
                    self.partitions.ensure(conn, values)
            with self.pool.connection() as conn, conn.transaction():
                if replace is not None:
                    self._delete(conn, replace)
                if values:
                    self._copy(conn, fields, values)
                    self._merge(conn, fields)
        except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
            raise SinkDataError(f"{self.table}: {_describe(exc)}") from None
        return len(values)

    # -- the table

    def _ensure_table(self, values: list[dict[str, Any]]) -> None:
        if self.columns:
            return
        try:
            self._create(values)
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
            # two first writes (a backfill's partitions) made it at once: it exists now, and
            # CREATE TABLE IF NOT EXISTS is not safe against a concurrent one (red team 21h L3)
            self._create(values)
        self.columns = self._live_columns()

    def _create(self, values: list[dict[str, Any]]) -> None:
        with self._as_owner() as conn:  # also when it exists: another flow may have made it
            conn.execute(self._create_sql(values))
            self._refuse_foreign(conn)
            if self.partitions is not None:
                self.partitions.create_initial(conn)
            self._grant(conn)

    def _refuse_foreign(self, conn: psycopg.Connection[Any]) -> None:
        """A table the app made before the flow's first write is not written: its triggers
        would run as the flow's writer (until a sync hands the table over, or says why not)."""
        if not (self.owner and role_exists(conn, self.owner)):
            return
        others = strange_owners(conn, self.table, self.owner)
        if others:
            raise ComindError(f"sink table {self.table} is owned by {others[0]}, not the "
                              f"platform's {self.owner}: the next sync hands it over, or says "
                              "what stops it")  # fmt: skip
        refuse_foreign(conn, self.table)

    @contextmanager
    def _as_owner(self) -> Iterator[psycopg.Connection[Any]]:
        """A transaction acting as the data owner (as the session itself where the database
        has none: one the platform did not provision)."""
        with self.pool.connection() as conn, conn.transaction():
            if self.owner and role_exists(conn, self.owner):
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(self.owner)))
            yield conn

    def _grant(self, conn: psycopg.Connection[Any]) -> None:
        table = table_ident(self.table)
        conn.execute(sql.SQL(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO SESSION_USER").format(table)
        )  # fmt: skip
        for reader in self.readers:
            if role_exists(conn, reader):
                conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
                    table, sql.Identifier(reader)))  # fmt: skip

    def _live_columns(self) -> dict[str, str]:
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped "
                "ORDER BY attnum",
                (quoted(self.table),),
            ).fetchall()
        return {name: kind for name, kind in rows}

    def _create_sql(self, values: list[dict[str, Any]]) -> sql.Composed:
        columns: dict[str, str] = {}
        if self.schema_file is not None:
            schema = json.loads(self.schema_file.read_text())
            for name, prop in schema.get("properties", {}).items():
                columns[name] = column_type(prop)
        for value in values:
            for name, v in value.items():
                if name not in columns and v is not None:
                    columns[name] = value_type(v)
        for key in self.keys:
            columns.setdefault(key, "text")
        parts = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns.items()]
        if self.keys:
            parts.append(sql.SQL("PRIMARY KEY ({})").format(_idents(self.keys)))
        partitioned = self.partitions.clause() if self.partitions else sql.SQL("")
        return sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}){}").format(
            table_ident(self.table), sql.SQL(", ").join(parts), partitioned
        )

    def _fields(self, values: list[dict[str, Any]]) -> list[str]:
        seen: dict[str, None] = {}
        for value in values:
            seen.update(dict.fromkeys(value))
        unknown = [f for f in seen if f not in self.columns]
        if unknown:
            raise SinkDataError(
                f"{self.table}: no column {', '.join(repr(f) for f in unknown)} "
                f"(the table has {', '.join(self.columns)})"
            )
        return list(seen)

    # -- one batch

    def _delete(self, conn: psycopg.Connection[Any], replace: Replace) -> None:
        if replace.column not in self.columns:
            return
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE {} >= %s AND {} < %s").format(
                table_ident(self.table),
                sql.Identifier(replace.column),
                sql.Identifier(replace.column),
            ),
            (replace.low, replace.high),
        )

    def _copy(
        self, conn: psycopg.Connection[Any], fields: list[str], values: list[dict[str, Any]]
    ) -> None:
        # one staging table per connection and field set, emptied at each commit: creating
        # and dropping one per batch would churn the system catalogs
        conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS "
                "SELECT {}, 0::bigint AS comind_ord FROM {} WITH NO DATA"
            ).format(_stage(self.table, fields), _idents(fields), table_ident(self.table))
        )
        json_fields = {f for f in fields if self.columns[f] in ("jsonb", "json")}
        copy_sql = sql.SQL("COPY {} ({}, comind_ord) FROM STDIN").format(
            _stage(self.table, fields), _idents(fields)
        )
        with conn.cursor().copy(copy_sql) as copy:
            for i, value in enumerate(values):
                copy.write_row([_cell(value.get(f), f in json_fields) for f in fields] + [i])

    def _merge(self, conn: psycopg.Connection[Any], fields: list[str]) -> None:
        target, cols = table_ident(self.table), _idents(fields)
        if not self.keys:
            conn.execute(
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY comind_ord").format(
                    target, cols, cols, _stage(self.table, fields)
                )
            )
            return
        keys = _idents(self.keys)
        updates = [f for f in fields if f not in self.keys]
        action = (
            sql.SQL("DO NOTHING")
            if not updates
            else sql.SQL("DO UPDATE SET {}").format(
                sql.SQL(", ").join(
                    sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(f), sql.Identifier(f))
                    for f in updates
                )
            )
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} ({}) SELECT DISTINCT ON ({}) {} FROM {} "
                "ORDER BY {}, comind_ord DESC ON CONFLICT ({}) {}"
            ).format(target, cols, keys, cols, _stage(self.table, fields), keys, keys, action)
        )


def _stage(table: str, fields: list[str]) -> sql.Identifier:
    digest = hashlib.sha1(json.dumps([table, fields]).encode(), usedforsecurity=False)
    return sql.Identifier(f"comind_stage_{digest.hexdigest()[:16]}")


def _cell(value: Any, as_json: bool) -> Any:
    if as_json and value is not None:
        return Jsonb(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _describe(exc: psycopg.Error) -> str:
    diag = exc.diag
    message = diag.message_primary or str(exc).splitlines()[0]
    if diag.column_name:
        return f"column {diag.column_name}: {message}"
    if diag.context and "column" in diag.context:
        return f"{message} ({diag.context.splitlines()[0]})"
    return message


def _idents(names: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)
