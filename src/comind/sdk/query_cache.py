"""A query cache: the rows of a SQL query cached in Redis, keyed by the statement, its
parameters and the versions of the tables it reads, so a write to one of those tables (by
the app, a flow, anyone: a trigger tells the platform, which bumps the table's version)
makes the next read compute again. Opt-in per query: name the tables it reads.

    qc = sdk.QueryCache(cache)
    qc.watch(conn, "orders")                    # once: the trigger on the table
    rows = qc.rows(conn, "SELECT status, count(*) FROM orders GROUP BY status",
                   tables=["orders"])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from psycopg import sql

from comind.sdk.cache import Cache

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


class QueryCache:
    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    @staticmethod
    def watch(conn: Any, *tables: str) -> None:
        """Install the trigger that reports writes to ``tables`` (idempotent; the app owns
        its database, so it may)."""
        conn.execute(INSTALL)
        for table in tables:
            conn.execute(sql.SQL(TRIGGER).format(sql.Identifier(table)))

    def rows(self, conn: Any, statement: str, params: Sequence[Any] = (), *,
             tables: Sequence[str], ttl: float | None = None) -> list[list[Any]]:  # fmt: skip
        """The rows of ``statement``: from Redis while none of ``tables`` was written since
        they were cached, else queried (and cached)."""
        keys = [f"{self.cache.prefix}__comind:qc:v:{t}" for t in tables]
        versions = self.cache.client.mget(keys) if keys else []
        text = json.dumps([statement, list(params), list(tables), versions], default=str)
        name = "qc:" + hashlib.sha256(text.encode()).hexdigest()

        def query() -> list[list[Any]]:
            return [list(row) for row in conn.execute(statement, params).fetchall()]

        return self.cache.get_or_set(name, query, ttl)
