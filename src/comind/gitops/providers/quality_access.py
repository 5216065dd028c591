"""The platform's quality login: the role dataset checks run as when the platform runs
them (on demand, on the schedule), never the superuser.

``comind_quality`` (LOGIN, NOSUPERUSER NOCREATEDB NOCREATEROLE, a generated password kept
sealed like every platform secret) may connect to the databases holding datasets with
quality rules and SELECT exactly those datasets' tables, granted by the platform (as a
superuser) just before a check: a sink table a flow made since is then readable, and
nothing else in those databases ever is. Checks also run READ ONLY with a statement
timeout (governance/quality_sql.py), so custom SQL can neither write nor run for long.
"""

from __future__ import annotations

import threading

from comind.gitops.records import SecretStore
from comind.stores.pg_admin import PgAdmin
from comind.stores.pg_grants import grant_select
from comind.stores.postgres import PgTarget, connect
from comind.stores.postgres import compose as sql

QUALITY_ROLE = "comind_quality"
PASSWORD = "platform/quality-database-password"
_GRANTING = threading.Lock()  # catalog rows shared with the flows' grants: one at a time


class QualityAccess:
    def __init__(self, pg: PgAdmin, secrets: SecretStore) -> None:
        self.pg, self.secrets = pg, secrets
        self._ready = False

    def target(self, database: str, table: str) -> PgTarget:
        """How to log in to ``database`` to check ``table`` (SELECT granted on it)."""
        password = self.secrets.password(PASSWORD)
        with _GRANTING:
            if not self._ready:
                # a check measures the whole dataset, running no row-security policy of the
                # app's (platform logins refuse to: row_security=off)
                self.pg.ensure_role(QUALITY_ROLE, password, bypass_rls=True)
                self._ready = True
            with self.pg.pool.connection() as conn:
                conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(database), sql.Identifier(QUALITY_ROLE)))  # fmt: skip
            with connect(self.pg.admin.with_db(database)) as conn:
                grant_select(conn, QUALITY_ROLE, table)
        return self.pg.admin.login(QUALITY_ROLE, password, database)
