"""The PostgreSQL cluster a backup is taken from: how to reach it, where its tools are, and
the user its server processes run as (a restored copy runs as the same user).

Two logins: backups (base backups, logical dumps, the positions and row counts their manifests
record) run as the backup role (``comind_backup``: reads every table, streams base backups,
writes nothing; stores/platform_db.py makes it). Restores, the switch, disaster recovery and
verification rebuild or start clusters and create databases: that is provisioning, done as
the superuser ``target``, and never on an app's say.

This is backup's PostgreSQL adapter (with ``catalog.py``): the only modules of the package
that import the driver, which the import-linter contract "backups reach engines through
stores/ and their adapters" holds. Statements built from identifiers are composed here."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from comind.backup.errors import BackupError
from comind.backup.manifest import Lsn, TableCounts
from comind.embedded.osuser import RunAs
from comind.embedded.process import engine_env
from comind.stores.pg_admin import scram_verifier
from comind.stores.postgres import PgTarget, connect

log = logging.getLogger(__name__)
SKIP_DATABASES = ("template0", "template1")
COUNT_LIMIT = 256 << 20  # bytes: bigger tables are not counted at backup time
COUNT_LOCK_WAIT = "5s"  # an app holding a lock on its table: its database goes uncounted
COUNT_WAIT = "120s"  # one count statement at most
PLATFORM_SCHEMA = "comind"
COUNTED_KINDS = "('r')"  # plain tables (a partitioned one's rows are its partitions')
# another session's temporary tables are listed too, and no restore can hold them (red team
# 21d F3: a flow's staging table mid-batch failed every full backup's test)
PERMANENT = "c.relpersistence = 'p'"
SUMMARY_WAIT = 15.0  # seconds a new cluster's first WAL summary is waited for
Stats = dict[str, dict[str, dict[str, int]]]  # database -> table -> rows / writes


@dataclass(frozen=True)
class Position:
    """Where the cluster's WAL stands now, and which server it is."""

    lsn: Lsn
    timeline: int
    time: datetime
    version_num: int
    version: str
    wal: str  # the WAL file holding ``lsn``


@dataclass(frozen=True)
class Cluster:
    target: PgTarget  # a superuser, database "postgres": restores and copies only
    bin_dir: Path
    run_as: RunAs
    backup: PgTarget | None = None  # the backup role; None: a cluster only restored into

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)

    def env(self, login: PgTarget | None = None) -> dict[str, str]:
        """For the client tools logging in as ``login`` (the superuser by default): the
        password through the environment, never the argv."""
        who = login or self.target
        tls = {"PGSSLMODE": who.sslmode} if who.sslmode else {}
        tls |= {"PGSSLROOTCERT": who.sslrootcert} if who.sslrootcert else {}
        options = who.session_options
        session = {"PGOPTIONS": options} if options else {}
        return engine_env({"PGPASSWORD": who.password, **tls, **session})

    @property
    def reader(self) -> PgTarget:
        """The backup role's login (database ``postgres``): what every backup runs as."""
        if self.backup is None:
            raise BackupError("this cluster has no backup role to take backups with")
        return self.backup

    @property
    def _looker(self) -> PgTarget:
        """Who reads positions and names: the backup role; the superuser on a cluster only
        restored into (it has no backup role, and takes no backups)."""
        return self.backup or self.target

    def databases(self) -> list[str]:
        with connect(self._looker) as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1")
            return [r[0] for r in rows.fetchall() if r[0] not in SKIP_DATABASES]

    def position(self) -> Position:
        """The current WAL position, timeline, time and server version."""
        with connect(self._looker) as conn:
            row = conn.execute(
                "SELECT pg_current_wal_lsn()::text, (pg_control_checkpoint()).timeline_id, now(), "
                "current_setting('server_version_num')::int, current_setting('server_version'), "
                "pg_walfile_name(pg_current_wal_lsn())"
            ).fetchone()
        assert row is not None
        return Position(Lsn.parse(row[0]), row[1], row[2], row[3], row[4], row[5])

    def unsummarized(self, since_lsn: Lsn, wait: float = SUMMARY_WAIT) -> str | None:
        """Why an incremental backup from ``since_lsn`` cannot be taken (None: it can):
        WAL summarization is off, or the summaries kept do not reach back that far. A new
        cluster has none until its summarizer writes the first: waited for up to ``wait``."""
        deadline = time.monotonic() + wait
        while True:
            with connect(self._looker) as conn:
                row = conn.execute(
                    "SELECT current_setting('summarize_wal') = 'on', "
                    "(SELECT min(start_lsn) <= %s::pg_lsn FROM pg_available_wal_summaries())",
                    (str(since_lsn),),
                ).fetchone()
            assert row is not None
            if not row[0] or row[1] is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if not row[0]:
            return "summarize_wal is off on this server"
        if row[1] is None:
            return "WAL summarization has not written its first summary yet"
        if not row[1]:
            return f"the WAL summaries kept no longer reach back to the parent's {since_lsn}"
        return None


def table_stats(target: PgTarget, databases: list[str], *, count: bool = True) -> Stats:
    """Per database and table: how many writes it has seen and (``count``) its row count, so a
    verify can tell a table that changed during the backup from one that must match exactly.
    Writes are read after counting: a write racing the count shows up as a changed table.

    Tables over COUNT_LIMIT bytes are not counted (-1): a count reads every page, and the
    first read after a bulk change sets hint bits, which a cluster with data checksums logs
    as full-page images, inflating the WAL of the backup it runs beside. pg_verifybackup and
    amcheck check those tables instead. A database the backup role cannot read is not
    counted at all (logged): a backup of the whole cluster never fails for one app's."""
    out: Stats = {}
    for db in databases:
        try:
            out[db] = _database_stats(target.with_db(db), count)
        except psycopg.Error as exc:  # its owner may have made it refuse the backup role
            log.warning("database %s: its tables are not counted (%s)", db, type(exc).__name__)
            out[db] = {}
    return out


def _database_stats(target: PgTarget, count: bool) -> dict[str, dict[str, int]]:
    with connect(target) as conn:
        # the app owns its database and may set its search_path: only the catalog's names
        conn.execute("SET search_path = pg_catalog, pg_temp")
        # an app may hold ACCESS EXCLUSIVE on its table for as long as it likes: the count
        # gives up (the database goes uncounted) rather than hold every backup (red team
        # 21e, G3); the sizes come from the catalog, which takes no lock on the table
        conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(COUNT_LOCK_WAIT)))
        conn.execute(sql.SQL("SET statement_timeout = {}").format(sql.Literal(COUNT_WAIT)))
        names = conn.execute(
            "SELECT s.schemaname, s.relname, "
            "c.relpages::bigint * current_setting('block_size')::bigint <= %s "
            "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            f"WHERE c.relkind IN {COUNTED_KINDS} AND {PERMANENT} ORDER BY 1, 2",
            (COUNT_LIMIT,),
        ).fetchall()
        rows = {f"{s}.{t}": _readable_rows(conn, s, t) if count and small else -1
                for s, t, small in names}  # fmt: skip
        writes = conn.execute(
            "SELECT s.schemaname || '.' || s.relname, s.n_tup_ins + s.n_tup_upd + s.n_tup_del "
            f"FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE {PERMANENT}"
        ).fetchall()
    return {name: {"rows": rows.get(name, -1), "writes": int(w)} for name, w in writes}


def stable_counts(before: Stats, counted: Stats, after: Stats) -> TableCounts:
    """Row counts of tables nobody wrote to during a backup (``before`` and ``after`` its
    write counters, ``counted`` while it ran); None for the others.

    Write counters reach the statistics up to seconds after a commit, so a table the
    platform itself writes all the time (schema ``comind``: logs, samples, events, queues)
    is never taken as quiet."""
    out: TableCounts = {}
    for db, tables in after.items():
        out[db] = {}
        for name, now in tables.items():
            was, mid = before.get(db, {}).get(name), counted.get(db, {}).get(name)
            same = (was is not None and mid is not None and was["writes"] == now["writes"]
                    and not name.startswith(f"{PLATFORM_SCHEMA}."))  # fmt: skip
            out[db][name] = mid["rows"] if same and mid is not None and mid["rows"] >= 0 else None
    return out


def lend_large_objects(cluster: Cluster, database: str) -> None:
    """Let the backup role read the large objects of ``database``: ``pg_read_all_data``
    does not reach them (PostgreSQL 15), and a dump without them would be silently short.
    Granted by the superuser (a privilege, like the role's others: provisioning), each time,
    since an app makes new ones; a GRANT runs no app code."""
    role = sql.Identifier(cluster.reader.user)
    # the app may hold its large object's row locked (a GRANT of its own, uncommitted): the
    # backup of the app fails after COUNT_LOCK_WAIT, never holds every backup (red team 21f H3)
    with connect(replace(cluster.target.with_db(database), lock_wait=COUNT_LOCK_WAIT)) as conn:
        for (oid,) in conn.execute("SELECT oid FROM pg_largeobject_metadata").fetchall():
            try:
                conn.execute(sql.SQL("GRANT SELECT ON LARGE OBJECT {} TO {}").format(
                    sql.Literal(int(oid)), role))  # fmt: skip
            except psycopg.errors.LockNotAvailable:
                raise BackupError(
                    f"database {database}: large object {oid} is locked by a "
                    "session of the app's; try again when it lets go"
                ) from None


def countable(conn: Any) -> dict[str, tuple[str, str] | None]:
    """The database's tables (plain and partitioned) by the ``schema.table`` name a manifest
    records them under, as (schema, table); None where two read alike (a dot in a name).
    Only these are ever counted: counting a view would run the functions its owner wrote."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE c.relkind IN {COUNTED_KINDS} AND {PERMANENT} AND n.nspname <> 'information_schema' "
        "AND n.nspname NOT LIKE 'pg\\_%'"
    ).fetchall()
    out: dict[str, tuple[str, str] | None] = {}
    for schema, table in rows:
        name = f"{schema}.{table}"
        out[name] = None if name in out else (schema, table)
    return out


def count_rows(conn: Any, schema: str, table: str) -> int:
    """Rows in ``schema.table`` on the connection ``conn``, read with ``COPY … TO STDOUT``:
    a plain scan that plans nothing. A query would be planned, and the planner evaluates the
    immutable functions an index's predicate or expressions call, as whoever plans (red team
    21d F1: an app's code ran as the backup role). Each row is one line of COPY's text."""
    rows = 0
    command = sql.SQL("COPY {}.{} TO STDOUT").format(sql.Identifier(schema),
                                                    sql.Identifier(table))  # fmt: skip
    with conn.cursor() as cur, cur.copy(command) as copy:
        for block in copy:
            rows += bytes(block).count(b"\n")
    return rows


def _readable_rows(conn: Any, schema: str, table: str) -> int:
    """The table's rows, or -1 (not compared) when this login may not read it: the dump
    that follows then fails naming it, which says more than a count could."""
    try:
        return count_rows(conn, schema, table)
    except psycopg.errors.InsufficientPrivilege:
        return -1


def own_superuser(target: PgTarget, name: str, password: str) -> None:
    """Let superuser ``name`` log in with ``password`` on the server at ``target`` (made
    when the server has no such role); only its verifier is sent (a restored server may log
    statements: red team 19a L5)."""
    with psycopg.connect(target.conninfo(), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
        verifier = scram_verifier(conn, name, password)
        conn.execute(
            sql.SQL("{} ROLE {} WITH LOGIN SUPERUSER PASSWORD {}").format(
                sql.SQL("ALTER" if found else "CREATE"), sql.Identifier(name), sql.Literal(verifier)
            )
        )


def answers(target: PgTarget) -> bool:
    """Whether the server at ``target`` accepts a connection now."""
    try:
        with psycopg.connect(target.conninfo(), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def in_recovery(target: PgTarget) -> bool | None:
    """Whether the server at ``target`` is still in recovery (None: it does not answer)."""
    try:
        with psycopg.connect(target.conninfo(), connect_timeout=2) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    except psycopg.OperationalError:
        return None
    return None if row is None else bool(row[0])


def role_exists(target: PgTarget, role: str) -> bool:
    with connect(target) as conn:
        found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    return found is not None


def create_group(target: PgTarget, name: str) -> None:
    """A role ``name`` that cannot log in (what an app's objects belong to in a blank server)."""
    with connect(target) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))


def create_database(target: PgTarget, name: str, owner: str | None) -> bool:
    """Create database ``name`` (owned by ``owner`` when that role exists); False when it
    exists already."""
    ident = sql.Identifier
    with connect(target) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident(name)))
        if owner and role_exists(target, owner):
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(ident(name), ident(owner)))
    return True


def replace_database(cluster: Cluster, live: str, restored: str, stamp: str) -> str:
    """Put database ``restored`` in place of ``live``, which is kept as ``LIVE_old_STAMP``
    (returned). New connections to ``live`` are refused while its sessions end, so none
    slips in between; if the second rename fails the first is undone."""
    old = f"{live[:40]}_old_{stamp}"
    with connect(cluster.target) as conn:
        _allow_connections(conn, live, False)
        try:
            _end_sessions(conn, live)
            _rename(conn, live, old)
            try:
                _rename(conn, restored, live)
            except Exception:
                _rename(conn, old, live)
                raise
        finally:
            present = conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)",
                                   ([live, old],)).fetchall()  # fmt: skip
            for (name,) in present:
                _allow_connections(conn, name, True)
    return old


def _rename(conn: Any, name: str, to: str) -> None:
    conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(name),
                                                                   sql.Identifier(to)))  # fmt: skip


def _allow_connections(conn: Any, name: str, allow: bool) -> None:
    conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
        sql.Identifier(name), sql.SQL("true" if allow else "false")))  # fmt: skip


def _end_sessions(conn: Any, database: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)
        ).fetchone()[0]  # fmt: skip
        if not left:
            return
        if time.monotonic() > deadline:
            raise BackupError(f"sessions on {database} did not end within {timeout:.0f} s")
        time.sleep(0.1)
