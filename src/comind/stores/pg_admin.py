"""PostgreSQL administration for app databases: a login role and a database per app.

Isolation: each app database is owned by the app's role, ``CONNECT`` is revoked from
``PUBLIC`` and granted to that role only, so another app's role cannot even connect.
The platform's backup role may connect too (it reads, never writes: base backups and
logical dumps). Schema ``public`` belongs to the database's data owner, a NOLOGIN platform
role that also owns the tables flows write (the app may create its own tables there, but
cannot drop, alter or put a trigger on the flows' ones: a trigger would run as whoever writes).
Every operation is idempotent and converges: running it on a database that drifted
(owner changed, ``PUBLIC`` given access back, an extension dropped, the password or the
connection limit changed) repairs it. Observing is cheap: catalog queries on a small pool of
superuser connections, and the password is checked against the role's SCRAM verifier
without logging in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, replace
from functools import lru_cache

from psycopg import sql

from comind.spec.names import BACKUP_ROLE, is_platform_role
from comind.stores.postgres import Connection, PgTarget, connect, make_pool

PROVISIONING_LOCK_WAIT = "10s"  # on a lock an app holds, then the apply fails (next sync retries)


@dataclass(frozen=True)
class DatabaseState:
    owner: str
    public_connect: bool
    extensions: tuple[str, ...] | None  # None: not looked at
    others_connect: tuple[str, ...] = ()  # roles besides the owner granted CONNECT
    schema_owner: str | None = None  # of schema public; None: not looked at
    backup_connect: bool | None = None  # whether the backup role may connect; None: no such role


class PgAdmin:
    """Role and database administration as a superuser of one server."""

    def __init__(self, admin: PgTarget, *, max_connections: int = 4) -> None:
        # an app may hold a lock on its own catalog rows (its database, its tables) in an open
        # transaction for as long as it likes: provisioning gives up instead (red team 21f H4)
        self.admin = replace(admin, dbname="postgres", lock_wait=PROVISIONING_LOCK_WAIT)
        self.pool = make_pool(self.admin, min_size=0, max_size=max_connections)

    def close(self) -> None:
        self.pool.close()

    def ensure_role(
        self,
        role: str,
        password: str,
        *,
        inherit: bool = True,
        replication: bool = False,
        bypass_rls: bool = False,
        connection_limit: int = -1,
    ) -> None:
        """A login role with ``password`` and no special rights (created or reset);
        ``inherit=False``: roles granted to it lend their rights only through SET ROLE;
        ``replication``: it may stream base backups (REPLICATION, and BYPASSRLS);
        ``bypass_rls``: a table it was granted is read and written whole, running none of
        the table's row-security policies (code the app wrote); ``connection_limit``: -1 is
        none."""
        with self.pool.connection() as conn, conn.transaction():
            verb = _create_or_alter(conn, role)
            verifier = scram_verifier(conn, role, password)
            rights = (
                "NOSUPERUSER NOCREATEDB NOCREATEROLE "
                + ("REPLICATION " if replication else "NOREPLICATION ")
                + ("BYPASSRLS " if replication or bypass_rls else "NOBYPASSRLS ")
                + ("INHERIT" if inherit else "NOINHERIT")
            )
            conn.execute(sql.SQL(
                verb + " ROLE {} LOGIN " + rights + " CONNECTION LIMIT {} PASSWORD {}"
            ).format(sql.Identifier(role), sql.Literal(connection_limit),
                     sql.Literal(verifier)))  # fmt: skip

    def connection_limit(self, role: str) -> int | None:
        """How many connections ``role`` may hold at once (-1: no limit; None: no such role)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", (role,)
            ).fetchone()
        return None if row is None else int(row[0])

    def ensure_group(self, role: str) -> None:
        """A role nobody logs in as, with no special rights (an owner of objects)."""
        with self.pool.connection() as conn, conn.transaction():
            verb = _create_or_alter(conn, role)
            conn.execute(sql.SQL(
                verb + " ROLE {} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                "NOBYPASSRLS"
            ).format(sql.Identifier(role)))  # fmt: skip

    def password_matches(self, role: str, password: str) -> bool:
        """True when ``role`` may log in and ``password`` is its password."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = %s", (role,)
            ).fetchone()
        return bool(row and row[0] and row[1] and scram_matches(row[1], password))

    def observe_database(self, dbname: str, *, extensions: bool = True) -> DatabaseState | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT pg_get_userbyid(datdba), "
                "has_database_privilege('public', oid, 'CONNECT'), "
                "ARRAY(SELECT DISTINCT pg_get_userbyid(a.grantee) "
                "      FROM aclexplode(coalesce(datacl, acldefault('d', datdba))) a "
                "      WHERE a.privilege_type = 'CONNECT' AND a.grantee NOT IN (0, datdba)), "
                "(SELECT has_database_privilege(r.oid, d.oid, 'CONNECT') "
                " FROM pg_roles r WHERE r.rolname = %s) "
                "FROM pg_database d WHERE datname = %s",
                (BACKUP_ROLE, dbname),
            ).fetchone()
        if row is None:
            return None
        found, schema_owner = self._inside(dbname) if extensions else (None, None)
        return DatabaseState(row[0], bool(row[1]), found, tuple(sorted(row[2])), schema_owner,
                             row[3])  # fmt: skip

    def _inside(self, dbname: str) -> tuple[tuple[str, ...], str | None]:
        """The extensions of ``dbname`` and the owner of its schema public."""
        with connect(self.admin.with_db(dbname)) as conn:
            names = [r[0] for r in conn.execute("SELECT extname FROM pg_extension ORDER BY 1")]
            row = conn.execute(
                "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'"
            ).fetchone()
        return tuple(n for n in names if n != "plpgsql"), row[0] if row else None

    def ensure_database(
        self, dbname: str, owner: str, extensions: list[str], *, data_owner: str
    ) -> None:
        """``dbname`` owned by and reachable only by ``owner``, with ``extensions``; its
        schema public owned by ``data_owner`` (created NOLOGIN), ``owner`` may create in it."""
        self.ensure_group(data_owner)
        db, role = sql.Identifier(dbname), sql.Identifier(owner)
        state = self.observe_database(dbname, extensions=False)
        strangers = [r for r in state.others_connect if not is_platform_role(r)] if state else []
        with self.pool.connection() as conn:  # one connection at a time: no pool deadlock
            if state is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, role))
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, role))
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
            for other in strangers:
                conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
                    db, sql.Identifier(other)))  # fmt: skip
            conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(db, role))
            if role_exists(conn, BACKUP_ROLE):  # made at platform start (stores/platform_db.py)
                conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    db, sql.Identifier(BACKUP_ROLE)))  # fmt: skip
        with connect(self.admin.with_db(dbname)) as conn:
            conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(
                sql.Identifier(data_owner)))  # fmt: skip
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"))
            conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(role))
            for name in extensions:
                conn.execute(
                    sql.SQL("CREATE EXTENSION IF NOT EXISTS {} SCHEMA public").format(
                        sql.Identifier(name)
                    )
                )

    def drop_database(self, dbname: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )

    def drop_role(self, role: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def scram_verifier(conn: Connection, role: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of ``password``, made by the client: the verifier, never the
    password, goes over the wire (and into any server log)."""
    made = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    return made.decode()


def role_exists(conn: Connection, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def scram_matches(verifier: str, password: str) -> bool:
    """Whether ``password`` produces PostgreSQL's SCRAM-SHA-256 ``verifier``
    (``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``, RFC 5802/7677)."""
    try:
        method, rest = verifier.split("$", 1)
        params, keys = rest.split("$", 1)
        iterations, salt = params.split(":", 1)
        stored_key = keys.split(":", 1)[0]
    except ValueError:
        return False
    if method != "SCRAM-SHA-256":
        return False
    return hmac.compare_digest(_stored_key(password, salt, int(iterations)), stored_key)


@lru_cache(maxsize=1024)
def _stored_key(password: str, salt: str, iterations: int) -> str:
    """Cached: the derivation is deliberately slow and a no-op sync repeats it per app."""
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return base64.b64encode(hashlib.sha256(client_key).digest()).decode()


def _create_or_alter(conn: Connection, role: str) -> str:
    """CREATE when ``role`` does not exist yet, else ALTER; the caller's transaction holds a
    lock until it ends, so two resources applied at once (two flows sharing the workers'
    role or a database's owner) cannot both decide to create it."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('comind-roles'))")
    return "ALTER" if role_exists(conn, role) else "CREATE"
