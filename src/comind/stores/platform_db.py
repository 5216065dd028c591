"""The platform's own database: created and migrated at start-up."""

from __future__ import annotations

import logging

import psycopg

from comind.observe.metrics import MIGRATIONS_APPLIED
from comind.stores.migrations import migrate
from comind.stores.postgres import PgTarget, connect, ensure_database

PLATFORM_DB = "comind"
log = logging.getLogger("comind.platform_db")


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
