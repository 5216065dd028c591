"""The PostgreSQL cluster a backup is taken from: how to reach it, where its tools are, and
the user its server processes run as (a restored copy runs as the same user)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from comind.embedded.osuser import RunAs
from comind.stores.postgres import PgTarget, connect

SKIP_DATABASES = ("template0", "template1")
COUNT_LIMIT = 256 << 20  # bytes: bigger tables are not counted at backup time


@dataclass(frozen=True)
class Cluster:
    target: PgTarget  # a superuser, database "postgres"
    bin_dir: Path
    run_as: RunAs

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)

    def env(self) -> dict[str, str]:
        """For the client tools: the password through the environment, never the argv."""
        return {**os.environ, "PGPASSWORD": self.target.password}

    def databases(self) -> list[str]:
        with connect(self.target) as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1")
            return [r[0] for r in rows.fetchall() if r[0] not in SKIP_DATABASES]

    def position(self) -> dict[str, Any]:
        """The current WAL position, timeline, time and server version."""
        with connect(self.target) as conn:
            row = conn.execute(
                "SELECT pg_current_wal_lsn()::text, (pg_control_checkpoint()).timeline_id, now(), "
                "current_setting('server_version_num')::int, current_setting('server_version'), "
                "pg_walfile_name(pg_current_wal_lsn())"
            ).fetchone()
        assert row is not None
        return {"lsn": row[0], "timeline": row[1], "time": row[2].isoformat(),
                "version_num": row[3], "version": row[4], "wal": row[5]}  # fmt: skip

    def unsummarized(self, since_lsn: str) -> str | None:
        """Why an incremental backup from ``since_lsn`` cannot be taken (None: it can):
        WAL summarization is off, or the summaries kept do not reach back that far."""
        with connect(self.target) as conn:
            row = conn.execute(
                "SELECT current_setting('summarize_wal') = 'on', "
                "(SELECT min(start_lsn) <= %s::pg_lsn FROM pg_available_wal_summaries())",
                (since_lsn,),
            ).fetchone()
        assert row is not None
        if not row[0]:
            return "summarize_wal is off on this server"
        if not row[1]:
            return f"the WAL summaries kept no longer reach back to the parent's {since_lsn}"
        return None


def table_stats(
    target: PgTarget, databases: list[str], *, count: bool = True
) -> dict[str, dict[str, dict[str, int]]]:
    """Per database and table: how many writes it has seen and (``count``) its row count, so a
    verify can tell a table that changed during the backup from one that must match exactly.
    Writes are read after counting: a write racing the count shows up as a changed table.

    Tables over COUNT_LIMIT bytes are not counted (-1): a count reads every page, and the
    first read after a bulk change sets hint bits, which a cluster with data checksums logs
    as full-page images, inflating the WAL of the backup it runs beside. pg_verifybackup and
    amcheck check those tables instead."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for db in databases:
        with connect(target.with_db(db)) as conn:
            names = conn.execute(
                "SELECT schemaname, relname, pg_relation_size(relid) <= %s "
                "FROM pg_stat_user_tables ORDER BY 1, 2",
                (COUNT_LIMIT,),
            ).fetchall()
            rows = {f"{s}.{t}": _count(conn, s, t) if count and small else -1
                    for s, t, small in names}  # fmt: skip
            writes = conn.execute(
                "SELECT schemaname || '.' || relname, n_tup_ins + n_tup_upd + n_tup_del "
                "FROM pg_stat_user_tables"
            ).fetchall()
            out[db] = {name: {"rows": rows.get(name, -1), "writes": int(w)} for name, w in writes}
    return out


def _count(conn: Any, schema: str, table: str) -> int:
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    ).fetchone()
    return int(row[0]) if row else 0
