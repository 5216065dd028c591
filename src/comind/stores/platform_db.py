"""The platform's own database: created and migrated at start-up, and the flow workers'
login to it.

Flow workers run app code (python steps), so they do not get the superuser: they log in
as ``comind_worker``, which may use queues (receive, send, delete: flows read queues and
write queues and topics) and keep flow state and spans, and nothing else: not the API
tokens, the audit log, the secrets, the app credentials or the GitOps records.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from comind.observe.metrics import MIGRATIONS_APPLIED
from comind.spec.names import WORKER_ROLE
from comind.stores.migrations import migrate
from comind.stores.pg_admin import PgAdmin
from comind.stores.postgres import PgTarget, connect, ensure_database

PLATFORM_DB = "comind"
log = logging.getLogger("comind.platform_db")

# what flow workers touch in schema comind (queue/sql/queue.sql, flows/sql/state.sql,
# monitoring/sql/spans.sql); a worker touching another table fails loudly, never silently
WORKER_READS = ("queues", "topics", "subscriptions")
WORKER_WRITES = ("messages", "queue_dedup", "flow_stats", "flow_runs", "flow_quarantine",
                 "flow_cursors", "flow_objects", "flow_windows", "flow_watermarks",
                 "spans")  # fmt: skip


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


def ensure_worker_role(pg: PgAdmin, password: str) -> PgTarget:
    """The flow workers' login to the platform database (created, or its grants and
    password reset); returns its target."""
    pg.ensure_role(WORKER_ROLE, password)
    role = sql.Identifier(WORKER_ROLE)
    with connect(pg.admin.with_db(PLATFORM_DB)) as conn:
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(PLATFORM_DB), role))  # fmt: skip
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA comind TO {}").format(role))
        for table in WORKER_READS:
            conn.execute(sql.SQL("GRANT SELECT ON comind.{} TO {}").format(
                sql.Identifier(table), role))  # fmt: skip
        for table in WORKER_WRITES:
            conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON comind.{} TO {}").format(
                sql.Identifier(table), role))  # fmt: skip
        conn.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA comind TO {}").format(
            role))  # fmt: skip
    return PgTarget(pg.admin.host, pg.admin.port, WORKER_ROLE, password, PLATFORM_DB)
