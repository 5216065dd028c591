"""Lookup adapter for PostgreSQL: the rows the ``enrich`` step joins records with.

This module owns the enrich step's statements on an app table: installing the statement
trigger that bumps the table's version in ``comind_flows.table_versions`` on every change
(done by the platform when it provisions the flow), reading that version, and selecting the
rows whose key column matches a batch's values.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from comind.flows.pgsource import table_ident
from comind.flows.sources import jsonable
from comind.stores.postgres import Connection

_INSTALL = """
CREATE SCHEMA IF NOT EXISTS comind_flows;
CREATE TABLE IF NOT EXISTS comind_flows.table_versions (
    name text PRIMARY KEY, version bigint NOT NULL DEFAULT 0);
CREATE OR REPLACE FUNCTION comind_flows.bump_version() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO comind_flows.table_versions AS v (name, version)
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, 1)
    ON CONFLICT (name) DO UPDATE SET version = v.version + 1;
    RETURN NULL;
END $$;
"""


def install_versioning(conn: Connection, table: str, owner: str) -> None:
    """The version trigger on ``table`` and what it writes to, installed by the platform
    (as the table's owner or a superuser) when it provisions a flow that looks it up: a
    flow's own role may not put triggers on an app's table. The versions table and the
    trigger's function belong to ``owner`` (the database's data owner, NOLOGIN), and the
    function runs as it (SECURITY DEFINER, its search path pinned, one fixed statement): so
    whoever writes the looked-up table bumps its version, and nobody else may write a
    version (red team 21f L1: every role could, a flow's reader included); anyone reads."""
    conn.execute(_INSTALL)
    who = sql.Identifier(owner)
    conn.execute(sql.SQL("ALTER TABLE comind_flows.table_versions OWNER TO {}").format(who))
    conn.execute(sql.SQL("ALTER FUNCTION comind_flows.bump_version() OWNER TO {}").format(who))
    conn.execute("ALTER FUNCTION comind_flows.bump_version() SECURITY DEFINER")
    conn.execute(
        sql.SQL(
            "CREATE OR REPLACE TRIGGER comind_flows_version "
            "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {} "
            "FOR EACH STATEMENT EXECUTE FUNCTION comind_flows.bump_version()"
        ).format(table_ident(table))
    )
    conn.execute("GRANT USAGE ON SCHEMA comind_flows TO PUBLIC")
    conn.execute("REVOKE INSERT, UPDATE ON comind_flows.table_versions FROM PUBLIC")
    conn.execute("GRANT SELECT ON comind_flows.table_versions TO PUBLIC")


class TableLookup:
    """Rows of ``table`` (``schema.name``) by ``key``, and the table's change version."""

    def __init__(self, pool: ConnectionPool, table: str, key: str) -> None:
        self.pool, self.table, self.key = pool, table, key

    def version(self) -> int:
        """0 until the table changes (or while the platform has not installed the trigger:
        cached rows then live for the step's ttl)."""
        with self.pool.connection() as conn:
            if conn.execute("SELECT to_regclass('comind_flows.table_versions')").fetchone() == (
                None,
            ):
                return 0
            row = conn.execute(
                "SELECT version FROM comind_flows.table_versions WHERE name = %s", (self.table,)
            ).fetchone()
        return int(row[0]) if row else 0

    def rows(self, values: list[str]) -> dict[str, dict[str, Any] | None]:
        """The row of each value (its key column as text), None where there is none."""
        query = sql.SQL("SELECT * FROM {} WHERE {}::text = ANY(%s)").format(
            table_ident(self.table), sql.Identifier(self.key)
        )
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(query, (values,)).fetchall()
        found: dict[str, dict[str, Any] | None] = dict.fromkeys(values)
        for row in rows:
            found[str(row[self.key])] = {k: jsonable(v) for k, v in row.items()}
        return found
