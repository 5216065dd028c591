"""A test's own session as a database administrator would open one.

The platform's logins search the catalog alone (``stores/postgres.py`` ``search_path``), so
an unqualified name in their statements never reaches an object an app made. A test that
sets up or reads an app's tables by their plain names, as a DBA does, opens its session here:
the same login, searching ``public`` as PostgreSQL's default does.
"""

from __future__ import annotations

from comind.stores.postgres import Connection, PgTarget, connect


def dba(target: PgTarget, *, autocommit: bool = True) -> Connection:
    """A connection as ``target`` whose unqualified names mean schema ``public``'s."""
    conn = connect(target, autocommit=autocommit)
    conn.execute("SELECT pg_catalog.set_config('search_path', 'public', false)")
    if not autocommit:
        conn.commit()
    return conn
