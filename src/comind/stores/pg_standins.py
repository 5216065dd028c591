"""Stand-ins: throwaway logins that act with one role's rights for one job, then vanish.

A job that runs code an app wrote (a restore runs its checks, defaults and index expressions;
counting a restored table plans its partial indexes) must not run it as the superuser: ``SET
ROLE`` is no such thing, since the code could ``RESET ROLE`` back. A stand-in is a new login,
member of the roles given alone, so ``RESET ROLE`` leads to the stand-in, which holds nothing
else. The app's code may still act as the stand-in while the job runs (set its password, own
an object): so a stand-in takes few connections, its password expires within the day, and it
is dropped after the job whatever it made, and at platform start should a crash have left one.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from psycopg import errors, sql

from comind.spec.names import PLATFORM_ROLE_PREFIX
from comind.stores.pg_admin import scram_verifier
from comind.stores.postgres import PgTarget, connect

log = logging.getLogger(__name__)

STAND_IN_PREFIX = f"{PLATFORM_ROLE_PREFIX}standin_"
CONNECTIONS = 2  # a job's one session, and one to spare
LIFETIME = timedelta(days=1)  # after it, no password login (a job never runs that long)


@contextmanager
def stand_in(admin: PgTarget, *roles: str, bypass_rls: bool = False) -> Iterator[PgTarget]:
    """A login for a job that must act with ``roles``' rights and no more: a new role, member
    of those alone, with a random password; dropped after (its sessions ended, what it made
    given to the first of ``roles``). ``bypass_rls``: it reads tables whole, running none of
    their row-security policies (code the app wrote)."""
    name = f"{STAND_IN_PREFIX}{secrets.token_hex(6)}"
    password = secrets.token_urlsafe(24)
    until = (datetime.now(UTC) + LIFETIME).isoformat()
    with connect(admin) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                             "NOREPLICATION " + ("BYPASSRLS" if bypass_rls else "NOBYPASSRLS") +
                             " CONNECTION LIMIT {} VALID UNTIL {} PASSWORD {} IN ROLE {}").format(
            sql.Identifier(name), sql.Literal(CONNECTIONS), sql.Literal(until),
            sql.Literal(scram_verifier(conn, name, password)),
            sql.SQL(", ").join(map(sql.Identifier, roles))))  # fmt: skip
    try:
        yield admin.login(name, password)
    finally:
        retire(admin, name, heir=roles[0])


def retire(admin: PgTarget, name: str, *, heir: str) -> None:
    """Drop stand-in ``name``: its sessions ended; should it own something (the app's code
    made a table as it), that goes to ``heir`` in every database first."""
    with connect(admin) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE usename = %s", (name,))  # fmt: skip
        try:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
            return
        except errors.DependentObjectsStillExist:
            databases = [r[0] for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1")]  # fmt: skip
    log.warning("stand-in %s owned objects; they go to %s", name, heir)
    who, to = sql.Identifier(name), sql.Identifier(heir)
    for db in databases:
        with connect(admin.with_db(db)) as conn:
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(who, to))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(who))
    with connect(admin) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(who))


def sweep(admin: PgTarget) -> list[str]:
    """Drop the stand-ins a stopped platform left behind (none of its jobs runs yet); what
    they own goes to the role they stood in for. Returns their names."""
    with connect(admin) as conn:
        rows = conn.execute(
            "SELECT r.rolname, coalesce((SELECT g.rolname FROM pg_auth_members m "
            "  JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1 LIMIT 1), "
            "  'postgres') "
            "FROM pg_roles r WHERE starts_with(r.rolname, %s) ORDER BY 1",
            (STAND_IN_PREFIX,),
        ).fetchall()
    for name, heir in rows:
        log.warning("dropping stand-in %s left by an earlier run", name)
        retire(admin, name, heir=heir)
    return [name for name, _ in rows]
