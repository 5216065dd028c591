"""PostgreSQL administration for app databases: a login role and a database per app.

Isolation: each app database is owned by the app's role, ``CONNECT`` is revoked from
``PUBLIC`` and granted to that role only, so another app's role cannot even connect.
Every operation is idempotent and converges: running it on a database that drifted
(owner changed, ``PUBLIC`` given access back, an extension dropped) repairs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from comind.stores.postgres import PgTarget, connect


@dataclass(frozen=True)
class DatabaseState:
    owner: str
    public_connect: bool
    extensions: tuple[str, ...]


def role_exists(admin: PgTarget, role: str) -> bool:
    with connect(admin.with_db("postgres")) as conn:
        row = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    return row is not None


def ensure_role(admin: PgTarget, role: str, password: str) -> None:
    """A login role with ``password`` and no special rights (created or reset)."""
    verb = "ALTER" if role_exists(admin, role) else "CREATE"
    statement = sql.SQL(
        verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}"
    ).format(sql.Identifier(role), sql.Literal(password))
    with connect(admin.with_db("postgres")) as conn:
        conn.execute(statement)


def can_login(target: PgTarget) -> bool:
    """True when ``target``'s user logs in to its database with its password."""
    try:
        with connect(target, timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def observe_database(admin: PgTarget, dbname: str) -> DatabaseState | None:
    with connect(admin.with_db("postgres")) as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba), "
            "has_database_privilege('public', oid, 'CONNECT') "
            "FROM pg_database WHERE datname = %s",
            (dbname,),
        ).fetchone()
    if row is None:
        return None
    with connect(admin.with_db(dbname)) as conn:
        names = [r[0] for r in conn.execute("SELECT extname FROM pg_extension ORDER BY 1")]
    return DatabaseState(row[0], bool(row[1]), tuple(n for n in names if n != "plpgsql"))


def ensure_database(admin: PgTarget, dbname: str, owner: str, extensions: list[str]) -> None:
    """The database ``dbname`` owned by and reachable only by ``owner``, with ``extensions``."""
    db, role = sql.Identifier(dbname), sql.Identifier(owner)
    with connect(admin.with_db("postgres")) as conn:
        if observe_database(admin, dbname) is None:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, role))
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, role))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(db, role))
    with connect(admin.with_db(dbname)) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(role))
        for name in extensions:
            conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name)))


def drop_database(admin: PgTarget, dbname: str) -> None:
    with connect(admin.with_db("postgres")) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


def drop_role(admin: PgTarget, role: str) -> None:
    with connect(admin.with_db("postgres")) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
