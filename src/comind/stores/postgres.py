"""Connections to PostgreSQL (the embedded server or any PostgreSQL 15+).

``PgTarget`` carries the address and credentials; its ``repr`` never shows the
password, and ``url`` (which does) is for handing to apps, never for logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias
from urllib.parse import quote

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from comind.embedded.external import PostgresServer
from comind.embedded.postgres import SUPERUSER
from comind.embedded.probes import postgres_version
from comind.spec.names import FLOW_WORKER_PREFIX

# For modules that hold a pool or a connection, wrap JSON parameters, read rows as dicts or
# catch a database failure without importing the driver themselves.
Pool: TypeAlias = ConnectionPool
Connection: TypeAlias = psycopg.Connection[Any]
Json = Jsonb  # a parameter bound as jsonb
DatabaseError = psycopg.Error  # base of every driver error (wider than psycopg.DatabaseError)
dict_rows = dict_row  # row factory: each row as a dict keyed by column name
class_rows = class_row  # row factory: each row as an instance of the class given
ForeignKeyViolation = psycopg.errors.ForeignKeyViolation
compose = psycopg.sql  # identifiers and literals composed into statements


@dataclass(frozen=True)
class PgTarget:
    """Where a PostgreSQL server is and how to log in."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str = "postgres"
    sslmode: str | None = None  # verify-full when the server takes TLS only
    sslrootcert: str | None = None  # the CA it is verified against
    admin: str = SUPERUSER  # the name of the server's administrator login (an external's)
    # a platform login's lock_timeout: provisioning in an app's database waits this long on
    # a lock the app holds, then fails (retried by the next sync), never for ever
    lock_wait: str = "0"

    def login(self, user: str, password: str, dbname: str | None = None) -> PgTarget:
        """Another login to the same server (same TLS), e.g. a role the platform made."""
        return replace(self, user=user, password=password, dbname=dbname or self.dbname)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def with_db(self, dbname: str) -> PgTarget:
        return replace(self, dbname=dbname)

    def conninfo(self) -> str:
        options = self.session_options
        return make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.dbname,
            application_name="comind",
            **({"options": options} if options else {}),
            **({"sslmode": self.sslmode} if self.sslmode else {}),
            **({"sslrootcert": self.sslrootcert} if self.sslrootcert else {}),
        )

    @property
    def session_options(self) -> str | None:
        """The start-up options of this login (libpq ``options``, or ``PGOPTIONS`` for the
        client tools), whatever its database says.

        The search path: an app owns its database, its ``public`` schema and may ``ALTER
        DATABASE … SET search_path``: a function or operator it puts on the path that matches
        a call's argument types better than the catalog's (CVE-2018-1058) would run as whoever
        calls it unqualified. The platform's logins (the server's administrator, ``comind_*``
        roles) therefore search the catalog alone (``pg_temp`` named last, so a temporary table
        never shadows it either) and name every other object with its schema; the rest of
        ``PLATFORM_SESSION`` likewise. An app's own logins (None) keep what the app chose."""
        if self.user not in (SUPERUSER, self.admin) and not self.user.startswith("comind_"):
            return None
        settings = [f"lock_timeout={self.lock_wait}" if s == NO_LOCK_WAIT else s
                    for s in PLATFORM_SESSION]  # fmt: skip
        if self.user.startswith(FLOW_WORKER_PREFIX):  # kept to its flow's rows (0028)
            settings = [ROW_SECURED if s == NO_ROW_SECURITY else s for s in settings]
        return " ".join(f"-c {setting}" for setting in settings)

    def url(self) -> str:
        """A ``postgresql://`` URL including the password, for an app's environment."""
        user, password = quote(self.user, safe=""), quote(self.password, safe="")
        tls = f"?sslmode={self.sslmode}" if self.sslmode else ""
        return f"postgresql://{user}:{password}@{self.host}:{self.port}/{self.dbname}{tls}"


# What a platform login sets at start-up, above anything an app's ``ALTER DATABASE … SET`` or a
# role default can say (client options outrank both): an app owns its database and may set
# ``role`` (a superuser's login would then act as the app), ``default_transaction_read_only``
# or a tiny ``statement_timeout`` (the platform's work in its database would fail), or a
# ``DateStyle`` the driver cannot read. ``row_security=off``: a query that a row-security policy
# would filter fails instead, so no policy (code the app wrote) ever runs as a platform login
# (except a flow's login to the platform database, which the platform's own policies filter).
NO_LOCK_WAIT = "lock_timeout=0"
NO_ROW_SECURITY, ROW_SECURED = "row_security=off", "row_security=on"
PLATFORM_SESSION = (
    "search_path=pg_catalog,pg_temp",
    "role=none",
    "default_transaction_read_only=off",
    "statement_timeout=0",
    NO_LOCK_WAIT,  # or the login's lock_wait
    "idle_in_transaction_session_timeout=0",
    "datestyle=ISO",
    "intervalstyle=postgres",
    NO_ROW_SECURITY,
    "client_encoding=UTF8",  # another makes the driver read bytes (red team 21c, N2)
    "local_preload_libraries=",  # a library that does not exist refuses every login
    "idle_session_timeout=0",
    "default_transaction_isolation=read\\ committed",  # libpq options: a space is escaped
    "default_transaction_deferrable=off",
    "default_tablespace=",  # pg_global there makes the platform's CREATE TABLE fail
    "temp_tablespaces=",
    "exit_on_error=off",
    "TimeZone=UTC",
)


def error_summary(exc: BaseException) -> str:
    """What a log line may say of an engine error met in an app's database: its type and
    SQLSTATE, never its message, which can quote what the app wrote (a RAISE, a name, the
    library a setting of its database names)."""
    state = getattr(exc, "sqlstate", None)
    return type(exc).__name__ + (f" (SQLSTATE {state})" if state else "")


def connect(
    target: PgTarget, *, timeout: float = 5.0, autocommit: bool = True
) -> psycopg.Connection:
    """One connection; the caller closes it (use it as a context manager)."""
    return psycopg.connect(
        target.conninfo(), connect_timeout=max(1, int(timeout)), autocommit=autocommit
    )


def superuser(engine: PostgresServer, dbname: str = "postgres") -> PgTarget:
    """The superuser target of the platform's PostgreSQL server (embedded or not)."""
    rootcert = str(engine.sslrootcert) if engine.sslrootcert else None
    return PgTarget(engine.host, engine.port, engine.user, engine.password, dbname,
                    sslmode=engine.sslmode, sslrootcert=rootcert, admin=engine.user)  # fmt: skip


def ping(target: PgTarget, *, timeout: float = 2.0) -> bool:
    """True when the server accepts a login and answers."""
    return postgres_version(target.conninfo(), timeout=timeout) is not None


def ensure_database(target: PgTarget, dbname: str) -> None:
    """Create database ``dbname`` when it does not exist yet."""
    with connect(target.with_db("postgres")) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(
                psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(dbname))
            )


def own_session(pool: ConnectionPool) -> psycopg.Connection:
    """A connection of its own to where ``pool`` connects, as its connections are made: for
    a session-level lock held as long as some work lasts, which must not keep one of the
    pool's connections from the others (the caller closes it)."""
    conninfo, kwargs = pool.conninfo, pool.kwargs  # make_pool's: a string and a dict
    assert isinstance(conninfo, str) and isinstance(kwargs, dict)
    return psycopg.connect(conninfo, **kwargs)


def make_pool(
    target: PgTarget,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = 30.0,
    checked: bool = False,
) -> ConnectionPool:
    """A psycopg connection pool of autocommit connections, opened, for long-lived components.

    A connection broken by a PostgreSQL restart fails its caller once and is then replaced
    (callers that must survive restarts retry, as the queue worker does); ``checked`` tests
    each connection as it is lent instead, so a caller is not the one to find it broken.
    ``timeout`` bounds how long a caller waits for a connection (PoolTimeout after it)."""
    return ConnectionPool(
        target.conninfo(),
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=True,
        kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout))},
        check=ConnectionPool.check_connection if checked else None,
    )
