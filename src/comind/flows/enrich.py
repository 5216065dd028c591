"""The ``enrich`` step: join each record with a row of a PostgreSQL table, through a Redis
cache in front of it (cache-aside with a TTL).

Invalidation is by version: a statement trigger on the lookup table bumps the table's
version in ``comind_flows.table_versions``, the step reads the version once per batch, and
the version is part of every cache key, so a change to the table is seen by the next batch
and stale entries simply expire.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from comind.flows import metrics
from comind.flows.records import Quarantined, Record, StepResult
from comind.flows.sources import jsonable, table_ident
from comind.spec import steps as declared

_INSTALL = """
CREATE SCHEMA IF NOT EXISTS comind_flows;
CREATE TABLE IF NOT EXISTS comind_flows.table_versions (
    name text PRIMARY KEY, version bigint NOT NULL DEFAULT 0);
CREATE OR REPLACE FUNCTION comind_flows.bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO comind_flows.table_versions AS v (name, version)
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, 1)
    ON CONFLICT (name) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END $$;
"""


class Enrich:
    """``{table: APP/TABLE, by: FIELD, key: COLUMN, fields: [...], as: FIELD, ttl: 5m,
    required: BOOL}``: the row whose ``key`` (default ``id``) equals the record's ``by``
    field is merged in (or nested under ``as``)."""

    def __init__(
        self, conf: declared.Enrich, flow: str, pool: ConnectionPool, cache: redis.Redis | None
    ) -> None:
        self.flow, self.pool, self.cache = flow, pool, cache
        self.table = conf.table.partition("/")[2]
        if "." not in self.table:
            self.table = f"public.{self.table}"
        self.by, self.key = conf.by, conf.key
        self.fields = conf.fields
        self.nest = conf.as_
        self.ttl, self.required = conf.ttl, conf.required
        self.name = f"enrich:{self.table}"
        self._install()

    def _install(self) -> None:
        with self.pool.connection() as conn:
            conn.execute(_INSTALL)
            conn.execute(
                sql.SQL(
                    "CREATE OR REPLACE TRIGGER comind_flows_version "
                    "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION comind_flows.bump_version()"
                ).format(table_ident(self.table))
            )

    def apply(self, records: list[Record]) -> StepResult:
        wanted = sorted(
            {str(r.value[self.by]) for r in records if r.value.get(self.by) is not None}
        )
        rows = self._lookup(wanted)
        out = StepResult()
        for record in records:
            row = rows.get(str(record.value.get(self.by)))
            if row is None and self.required:
                out.quarantined.append(
                    Quarantined(
                        record,
                        self.name,
                        [
                            f"{self.by}: no row in {self.table} with {self.key} = "
                            f"{record.value.get(self.by)!r}"
                        ],
                    )
                )
                continue
            picked = {
                k: v for k, v in (row or {}).items() if self.fields is None or k in self.fields
            }
            if self.nest:
                record.value[self.nest] = picked or None
            else:
                record.value.update({k: v for k, v in picked.items() if k != self.key})
            out.kept.append(record)
        return out

    def _lookup(self, values: list[str]) -> dict[str, dict[str, Any] | None]:
        if not values:
            return {}
        if self.cache is None or not self.ttl:  # ttl: 0 asks for no cache
            return self._from_db(values)
        prefix = f"comind:flow:{self.flow}:enrich:{self.table}:v{self._version()}:"
        cached = self.cache.mget([prefix + v for v in values])
        found = {v: json.loads(c) for v, c in zip(values, cached, strict=True) if c is not None}
        missing = [v for v in values if v not in found]
        metrics.CACHE_REQUESTS.labels(self.flow, "hit").inc(len(found))
        if missing:
            metrics.CACHE_REQUESTS.labels(self.flow, "miss").inc(len(missing))
            fresh = self._from_db(missing)
            with self.cache.pipeline(transaction=False) as pipe:
                for v in missing:
                    pipe.set(prefix + v, json.dumps(fresh.get(v)), ex=self.ttl)
                pipe.execute()
            found.update(fresh)
        return found

    def _version(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT version FROM comind_flows.table_versions WHERE name = %s", (self.table,)
            ).fetchone()
        return int(row[0]) if row else 0

    def _from_db(self, values: list[str]) -> dict[str, dict[str, Any] | None]:
        query = sql.SQL("SELECT * FROM {} WHERE {}::text = ANY(%s)").format(
            table_ident(self.table), sql.Identifier(self.key)
        )
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(query, (values,)).fetchall()
        found: dict[str, dict[str, Any] | None] = dict.fromkeys(values)
        for row in rows:
            found[str(row[self.key])] = {k: jsonable(v) for k, v in row.items()}
        return found
