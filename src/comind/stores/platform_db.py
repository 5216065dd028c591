"""The platform's own database: created and migrated at start-up, the flow workers'
login to it, and the backups' login to the cluster.

Flow workers run app code (python steps), so they do not get the superuser: each flow logs
in with a login of its own, a member of the group ``comind_worker``, which may use queues
(receive, send, delete: flows read queues and write queues and topics), keep flow state
and spans, append lineage events (INSERT only), and nothing else: not the API tokens, the
audit log, the secrets, the app credentials or the GitOps records. Row security (migration
0028) keeps each login to its own flow's rows and the queues and topics its flow declares.

Backups do not get the superuser either: base backups (the replication protocol) and logical
dumps log in as ``comind_backup``, which may read every table (``pg_read_all_data``, row
security bypassed so a table is read whole), stream base backups (REPLICATION), mark restore
points, and write nothing. Restores, the switch and disaster recovery rebuild clusters and
databases: that is provisioning, left to the superuser.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import psycopg
from psycopg import sql

from comind.observe.metrics import MIGRATIONS_APPLIED, WORKER_SESSIONS_ENDED
from comind.spec.names import BACKUP_ROLE, WORKER_ROLE
from comind.stores.migrations import migrate
from comind.stores.pg_admin import PgAdmin
from comind.stores.postgres import PgTarget, Pool, connect, ensure_database
from comind.stores.queries import named

PLATFORM_DB = "comind"
log = logging.getLogger("comind.platform_db")
_sql = named("comind.stores", "worker_rows")

# what flow workers touch in schema comind (queue/sql/queue.sql, flows/sql/state.sql,
# monitoring/sql/spans.sql), by privilege; a worker touching another table fails loudly,
# never silently. quarantine_key: the public key workers seal quarantined PII to (read only:
# a worker that could replace it could read what other workers seal). Messages are leased
# through their delivery columns alone (a flow never rewrites a body, an attribute or an
# expiry) and deleted through functions. Appended tables are written, never read back or
# changed by a worker.
WORKER_GRANTS = (
    ("SELECT", ("queues", "topics", "subscriptions", "quarantine_key", "token_vault_key",
                "worker_grants")),
    ("SELECT, INSERT, UPDATE (visible_at, receive_count, receipt, first_received_at,"
     " last_received_at, last_error)", ("messages",)),
    ("SELECT, INSERT, UPDATE, DELETE", ("flow_stats", "flow_runs", "flow_quarantine",
                                        "flow_cursors", "flow_objects", "flow_windows",
                                        "flow_watermarks", "spans")),
    ("INSERT", ("lineage_events", "quality_results")),
)  # fmt: skip
# the token vault only through functions that take a value's digest (migration 0022), a
# batch partition's claim through one that checks the flow (0030), a message's deletion
# through those that check the queue (0031: DELETE on the table would allow LOCK TABLE)
WORKER_CALLS = ("known_tokens(bytea[], text)", "add_token(bytea, text, bytea, text)",
                "claim_partition(text, text)", "settle(bigint, bigint[], uuid[])",
                "dead_letter(bigint, bigint[])")  # fmt: skip
# a base backup and a logical dump run a few connections at once (positions, row counts,
# pg_basebackup or pg_dump), and the scheduled and a requested backup may overlap
BACKUP_CONNECTIONS = 10


def prepare(admin: PgTarget) -> PgTarget:
    """Create and migrate the platform database; return its target."""
    ensure_database(admin, PLATFORM_DB)
    with connect(admin.with_db("postgres")) as conn:  # app roles reach only their own database
        for dbname in (PLATFORM_DB, "postgres"):
            conn.execute(
                psycopg.sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(
                    psycopg.sql.Identifier(dbname)
                )
            )
    target = admin.with_db(PLATFORM_DB)
    version = migrate(target)
    MIGRATIONS_APPLIED.set(version)
    log.info("platform schema at version %d", version)
    return target


def ensure_worker_group(pg: PgAdmin) -> None:
    """The group holding the flow workers' table grants (created, or its grants reset);
    nobody logs in as it, and which rows each member may touch is its own (migration 0028)."""
    pg.ensure_group(WORKER_ROLE)
    role = sql.Identifier(WORKER_ROLE)
    with connect(pg.admin.with_db(PLATFORM_DB)) as conn, conn.transaction():
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD NULL").format(role))  # a login before 0028
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(PLATFORM_DB), role))  # fmt: skip
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA comind TO {}").format(role))
        # what earlier versions granted (the vault's tables, whole-table writes) goes first
        conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA comind FROM {}").format(role))
        for privileges, tables in WORKER_GRANTS:
            conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(privileges),
                sql.SQL(", ").join(sql.Identifier("comind", t) for t in tables), role))  # fmt: skip
        for function in WORKER_CALLS:
            conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION comind.{} TO {}").format(
                sql.SQL(function), role))  # fmt: skip
        conn.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA comind TO {}").format(
            role))  # fmt: skip


@dataclass(frozen=True)
class WorkerRows:
    """What one flow's platform-database login may touch, by kind (migration 0028): its
    ``flow`` rows, the queues it ``receive``s from and ``send``s to, the ``topic``s it
    publishes to, the ``dataset``s whose quality it records."""

    flow: tuple[str, ...] = ()
    receive: tuple[str, ...] = ()
    send: tuple[str, ...] = ()
    topic: tuple[str, ...] = ()
    dataset: tuple[str, ...] = ()

    def rows(self) -> set[tuple[str, str]]:
        return {(kind, name) for kind, names in asdict(self).items() for name in names}


def ensure_worker_login(
    pg: PgAdmin, login: str, password: str, rows: WorkerRows, *, connections: int = -1
) -> PgTarget:
    """A flow's own login to the platform database: a member of the workers' group, allowed
    exactly ``rows`` (replaced in one transaction), at most ``connections`` at once (-1: no
    limit); returns its target."""
    pg.ensure_role(login, password, connection_limit=connections)
    with connect(pg.admin.with_db(PLATFORM_DB)) as conn, conn.transaction():
        # SET ROLE to the group gains nothing: no row is the group's own
        conn.execute(sql.SQL("GRANT {} TO {}").format(
            sql.Identifier(WORKER_ROLE), sql.Identifier(login)))  # fmt: skip
        conn.execute(_sql("forget_worker"), {"role": login})
        for kind, name in sorted(rows.rows()):
            conn.execute(_sql("allow_worker"), {"role": login, "kind": kind, "name": name})
    return pg.admin.login(login, password, PLATFORM_DB)


def worker_rows(pg: PgAdmin, login: str) -> set[tuple[str, str]]:
    """What ``login`` may touch now, as (kind, name) pairs (none for a login that is not a
    flow's): compare with ``WorkerRows.rows``."""
    with connect(pg.admin.with_db(PLATFORM_DB)) as conn:
        return {(k, n) for k, n in conn.execute(_sql("worker_grants"), {"role": login})}


def end_worker_locks(pool: Pool) -> int:
    """End the flows' sessions that hold or wait for a lock blocking others' writes to a
    table; returns how many."""
    with pool.connection() as conn:
        row = conn.execute(_sql("end_worker_locks")).fetchone()
    ended = int(row[0]) if row else 0
    if ended:
        WORKER_SESSIONS_ENDED.inc(ended)
        log.warning("ended %d flow session(s) locking a platform table", ended)
    return ended


def drop_worker_login(pg: PgAdmin, login: str) -> None:
    with connect(pg.admin.with_db(PLATFORM_DB)) as conn:
        conn.execute(_sql("forget_worker"), {"role": login})
    pg.drop_role(login)


def ensure_backup_role(pg: PgAdmin, password: str) -> PgTarget:
    """The backups' login to the cluster (created, or its rights and password reset), allowed
    into every database there is now (databases made later grant it themselves, see
    PgAdmin.ensure_database); returns its target (database ``postgres``)."""
    pg.ensure_role(BACKUP_ROLE, password, replication=True, connection_limit=BACKUP_CONNECTIONS)
    role = sql.Identifier(BACKUP_ROLE)
    with connect(pg.admin) as conn:
        conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(role))
        # superuser-only until granted (the control data, the WAL summaries an incremental
        # backup checks and the WAL position functions are open to every role already)
        conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO {}")
                     .format(role))  # fmt: skip
        names = conn.execute("SELECT datname FROM pg_database WHERE datallowconn "
                             "AND NOT datistemplate").fetchall()  # fmt: skip
        for (dbname,) in names:
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), role))  # fmt: skip
    return pg.admin.login(BACKUP_ROLE, password, "postgres")
