"""What a flow's writer role may do in an app database, granted by the platform (as a
superuser, at provisioning) and taken back when the flow goes.

The writer is NOINHERIT: it holds only what is granted to it directly. It reads its source
and lookup tables (SELECT, and SELECT on tables the data owner creates later, such as
another flow's sink); it writes its sink tables (SELECT, INSERT, UPDATE, DELETE), which
belong to the database's data owner, of which the writer is a member only to ``SET ROLE``
for creating a sink table or a partition (flows/pgsink.py). A sink table found owned by
anyone else (the app, before this layout) is handed to the data owner, partitions too.
Everything is idempotent, so provisioning twice converges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from psycopg import sql

from comind.errors import ComindError
from comind.stores.pg_admin import role_exists
from comind.stores.postgres import Connection


@dataclass(frozen=True)
class TableGrant:
    """``table`` (``name`` or ``schema.name``) of one database, as a flow uses it."""

    table: str
    owner: str  # the database's data owner role
    app_role: str  # the app's role: it reads what flows write
    write: bool

    @property
    def schema(self) -> str:
        return self.table.rpartition(".")[0] or "public"

    def ident(self) -> sql.Composed:
        schema, name = self.schema, self.table.rpartition(".")[2]
        return sql.SQL(".").join([sql.Identifier(schema), sql.Identifier(name)])


def grant_database(conn: Connection, dbname: str, role: str) -> None:
    """On a connection to any database: ``role`` may connect to ``dbname`` and stage in
    temporary tables there."""
    conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
        sql.Identifier(dbname), sql.Identifier(role)))  # fmt: skip


def grant_connect(conn: Connection, dbname: str, role: str) -> None:
    """On a connection to any database: ``role`` may connect to ``dbname`` (and no more)."""
    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
        sql.Identifier(dbname), sql.Identifier(role)))  # fmt: skip


def grant_table(conn: Connection, role: str, grant: TableGrant) -> None:
    """On a connection to the table's database: what ``role`` needs for ``grant``."""
    who, schema = sql.Identifier(role), sql.Identifier(grant.schema)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, who))
    if grant.write:
        _write(conn, who, grant)
    elif table_exists(conn, grant.table):
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(grant.ident(), who))
    if role_exists(conn, grant.owner):  # what flows write here later, it may read
        conn.execute(sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}"
        ).format(sql.Identifier(grant.owner), schema, who))  # fmt: skip


def grant_select(conn: Connection, role: str, table: str) -> bool:
    """On a connection to the table's database: ``role`` may read ``table`` and nothing
    else of it (False while the table does not exist yet)."""
    if not table_exists(conn, table):
        return False
    schema = table.rpartition(".")[0] or "public"
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
        sql.Identifier(schema), sql.Identifier(role)))  # fmt: skip
    conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
        sql.SQL(quoted(table)), sql.Identifier(role)))  # fmt: skip
    return True


def _write(conn: Connection, who: sql.Identifier, grant: TableGrant) -> None:
    owner = sql.Identifier(grant.owner)
    conn.execute(sql.SQL("GRANT {} TO {}").format(owner, who))
    if not table_exists(conn, grant.table):
        return  # the sink creates it on its first write, as the owner
    for part in _table_and_partitions(conn, grant.table):
        if part.owner != grant.owner:
            refuse_foreign(conn, grant.table)  # an app's trigger would run in the flow's writes
            conn.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(part.ident, owner))
    table = grant.ident()
    conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(table, who))
    if role_exists(conn, grant.app_role):
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
            table, sql.Identifier(grant.app_role)))  # fmt: skip


@dataclass(frozen=True)
class _Owned:
    ident: sql.Composed
    owner: str


def _table_and_partitions(conn: Connection, table: str) -> list[_Owned]:
    rows = conn.execute(
        "WITH RECURSIVE t(oid) AS (SELECT to_regclass(%s)::oid "
        "  UNION SELECT i.inhrelid FROM pg_inherits i JOIN t ON i.inhparent = t.oid) "
        "SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) FROM t "
        "JOIN pg_class c ON c.oid = t.oid JOIN pg_namespace n ON n.oid = c.relnamespace",
        (quoted(table),),
    ).fetchall()
    return [
        _Owned(sql.SQL(".").join([sql.Identifier(s), sql.Identifier(n)]), owner)
        for s, n, owner in rows
    ]


def strange_owners(conn: Connection, table: str, owner: str) -> list[str]:
    """Who besides ``owner`` owns ``table`` or one of its partitions (a restore, a hand)."""
    if not table_exists(conn, table):
        return []
    return sorted({p.owner for p in _table_and_partitions(conn, table) if p.owner != owner})


def table_exists(conn: Connection, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (quoted(table),)).fetchone()
    return row is not None and row[0] is not None


def may_read(conn: Connection, role: str, table: str) -> bool:
    """Whether ``role`` may SELECT ``table`` (True while the table does not exist yet)."""
    if not table_exists(conn, table):
        return True
    row = conn.execute(
        "SELECT has_table_privilege(%s, to_regclass(%s), 'SELECT')", (role, quoted(table))
    ).fetchone()
    return bool(row and row[0])


def readable_tables(conn: Connection, role: str) -> list[str]:
    """On a connection to one database: the ``schema.table`` names ``role`` was granted
    SELECT on there."""
    rows = conn.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.role_table_grants "
        "WHERE grantee = %s AND privilege_type = 'SELECT'",
        (role,),
    ).fetchall()
    return sorted(str(r[0]) for r in rows)


def revoke_select(conn: Connection, role: str, table: str) -> None:
    conn.execute(sql.SQL("REVOKE SELECT ON {} FROM {}").format(
        sql.SQL(quoted(table)), sql.Identifier(role)))  # fmt: skip


def mark_role(conn: Connection, role: str, mark: dict[str, str]) -> None:
    """Say in ``role``'s comment what it is for (found again by :func:`marked_roles`)."""
    conn.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(
        sql.Identifier(role), sql.Literal(json.dumps(mark, sort_keys=True))))  # fmt: skip


def marked_roles(conn: Connection, **wanted: str) -> dict[str, dict[str, str]]:
    """The roles whose mark holds every item of ``wanted``, with their marks."""
    rows = conn.execute(
        "SELECT r.rolname, d.description FROM pg_roles r JOIN pg_shdescription d "
        "ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass"
    ).fetchall()
    found: dict[str, dict[str, str]] = {}
    for role, text in rows:
        try:
            mark = json.loads(text)
        except ValueError:
            continue  # a comment of someone else's
        if isinstance(mark, dict) and all(mark.get(k) == v for k, v in wanted.items()):
            found[str(role)] = mark
    return found


def revoke_all(conn: Connection, role: str) -> None:
    """On a connection to one database: everything ``role`` was granted there (and on
    databases), so the role can then be dropped."""
    conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))


def quoted(table: str) -> str:
    """``table`` as a quoted, schema-qualified name (``public`` when it names none)."""
    schema, _, name = table.rpartition(".")
    return ".".join('"' + p.replace('"', '""') + '"' for p in (schema or "public", name))


# what would run as whoever writes a table, or change what a write does: an app that made a
# table before a flow's first write may have left them there (not the platform's own
# version trigger, which only bumps a counter)
_FOREIGN = """
SELECT 'trigger ' || t.tgname FROM pg_trigger t
  WHERE t.tgrelid = to_regclass(%(t)s) AND NOT t.tgisinternal
    AND t.tgfoid <> coalesce(to_regprocedure('comind_flows.bump_version()'), 0)
UNION ALL SELECT 'rule ' || r.rulename FROM pg_rewrite r
  WHERE r.ev_class = to_regclass(%(t)s) AND r.rulename <> '_RETURN'
UNION ALL SELECT 'policy ' || p.polname FROM pg_policy p WHERE p.polrelid = to_regclass(%(t)s)
UNION ALL SELECT 'a relation of kind ' || c.relkind::text FROM pg_class c
  WHERE c.oid = to_regclass(%(t)s) AND c.relkind NOT IN ('r', 'p')
"""


def foreign_objects(conn: Connection, table: str) -> list[str]:
    """The triggers, rules and policies on ``table`` the platform did not make (and what it
    is, when not a plain or partitioned table)."""
    return [row[0] for row in conn.execute(_FOREIGN, {"t": quoted(table)}).fetchall()]


def refuse_foreign(conn: Connection, table: str) -> None:
    """One line when ``table`` holds what a flow must not run or honour in its writes."""
    found = foreign_objects(conn, table)
    if found:
        raise ComindError(f"table {table} holds {', '.join(found)}, not made by the platform: "
                          "a flow writes it as the platform's; drop them (or the table) "
                          "and sync again")  # fmt: skip
