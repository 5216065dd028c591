"""A query cache: the rows of a SQL query cached in Redis, keyed by the statement, its
parameters and the versions of the tables it reads, so a write to one of those tables (by
the app, a flow, anyone: a trigger tells the platform, which bumps the table's version)
makes the next read compute again. Opt-in per query: name the tables it reads.

    qc = sdk.QueryCache(cache)
    qc.watch(conn, "orders")                    # once: the trigger on the table
    rows = qc.rows(pool, "SELECT status, count(*) FROM orders GROUP BY status",
                   tables=["orders"])             # a pool or a connection
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from psycopg import sql

from comind.sdk.cache import Cache
from comind.sdk.keys import epoch_key, stats_key, version_key

INSTALL = """
CREATE SCHEMA IF NOT EXISTS comind_qc;
CREATE OR REPLACE FUNCTION comind_qc.changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('comind_qc', TG_TABLE_NAME);
    RETURN NULL;
END $$;
"""
TRIGGER = ("CREATE OR REPLACE TRIGGER comind_qc_changed AFTER INSERT OR UPDATE OR DELETE OR "
           "TRUNCATE ON {} FOR EACH STATEMENT EXECUTE FUNCTION comind_qc.changed()")  # fmt: skip


LOOKUP = """
local name = ARGV[1]
for i = 2, #KEYS do name = name .. ':' .. (redis.call('GET', KEYS[i]) or '0') end
local value = redis.call('GET', name)
if value then redis.call('HINCRBY', KEYS[1], 'hits', 1) end
return {value, name}
"""


class QueryCache:
    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self._lookup = cache.client.register_script(LOOKUP)

    @staticmethod
    def watch(conn: Any, *tables: str) -> None:
        """Install the trigger that reports writes to ``tables`` (idempotent; the app owns
        its database, so it may)."""
        conn.execute(INSTALL)
        for table in tables:
            conn.execute(sql.SQL(TRIGGER).format(sql.Identifier(table)))

    def rows(self, source: Any, statement: str, params: Sequence[Any] = (), *,
             tables: Sequence[str], ttl: float | None = None) -> list[list[Any]]:  # fmt: skip
        """The rows of ``statement``: from Redis while none of ``tables`` was written since
        they were cached, else queried (and cached). ``source``: a connection, or a pool
        (``.connection()``), which a hit does not touch."""
        text = json.dumps([statement, list(params), list(tables)], default=str)
        base = "qc:" + hashlib.sha256(text.encode()).hexdigest()
        versions = [
            epoch_key(self.cache.prefix),  # bumped when writes went unheard
            *(version_key(self.cache.prefix, t) for t in tables),
        ]
        # one round trip on a hit: the tables' versions make the key, read and counted
        found, name = self._lookup(keys=[stats_key(self.cache.prefix), *versions],
                                   args=[self.cache.prefix + base])  # fmt: skip
        if found is not None:
            rows: list[list[Any]] = self.cache.codec.loads(found)
            return rows

        def query() -> list[list[Any]]:
            if hasattr(source, "execute"):  # a connection (a pool has no execute)
                return [list(row) for row in source.execute(statement, params).fetchall()]
            with source.connection() as conn:
                return [list(row) for row in conn.execute(statement, params).fetchall()]

        return self.cache.get_or_set(str(name).removeprefix(self.cache.prefix), query, ttl)
