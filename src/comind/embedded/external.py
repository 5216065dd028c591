"""Engines the platform does not run: a PostgreSQL or Redis that already exists (a managed
service, a server of another team), named by URL (``COMIND_POSTGRES_URL``,
``COMIND_REDIS_URL``).

Starting one is checking it: it must answer, and the login must be allowed to do what the
platform does there (PostgreSQL: a superuser, which creates a role and a database per app
and a backup role with REPLICATION; Redis: a user that may manage ACL users, one per app).
Either failing stops ``comind up`` with one line naming the engine, before anything is made
on it. Stopping one does nothing: the platform never owned its process.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
import redis
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from comind.embedded.engine import Engine, EngineError, EngineInfo
from comind.embedded.home import StateDir
from comind.embedded.osuser import redis_user, service_user
from comind.embedded.postgres import PostgresEngine, find_bin_dir
from comind.embedded.probes import postgres_version, redis_version, tls_options
from comind.embedded.redis import RedisEngine, find_binary
from comind.embedded.settings import Settings

TIMEOUT = 5  # seconds a check waits for an answer
WHO_AM_I = ("SELECT rolsuper, current_setting('server_version') FROM pg_roles "
            "WHERE rolname = current_user")  # fmt: skip


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class ExternalPostgres(Engine):
    """A PostgreSQL server of its own, reached as a superuser named in a URL."""

    name = "postgres"
    external = True

    def __init__(self, url: str, home: StateDir, settings: Settings) -> None:
        try:
            parts = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise EngineError(f"COMIND_POSTGRES_URL: {first_line(exc)}") from None
        self.host = str(parts.get("host") or "127.0.0.1")
        self.port = int(parts.get("port") or 5432)
        self.user = str(parts.get("user") or "postgres")
        self.password = str(parts.get("password") or "")
        self.sslmode = str(parts["sslmode"]) if parts.get("sslmode") else None
        rootcert = parts.get("sslrootcert")
        self.sslrootcert = Path(str(rootcert)) if rootcert else None
        self.home, self.settings = home, settings
        self.bin_dir = find_bin_dir(settings.pg_bin)  # the client tools backups run
        self.run_as = service_user()
        self.version = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def wal_spool(self) -> Path:
        """Empty: an external server's WAL is not archived through this machine."""
        return self.home.postgres / "wal-spool"

    def conninfo(self, dbname: str = "postgres") -> str:
        tls = {"sslmode": self.sslmode} if self.sslmode else {}
        tls |= {"sslrootcert": str(self.sslrootcert)} if self.sslrootcert else {}
        return make_conninfo(host=self.host, port=self.port, user=self.user,
                             password=self.password, dbname=dbname, **tls)  # fmt: skip

    def start(self) -> None:
        where = f"PostgreSQL at {self.address} (COMIND_POSTGRES_URL)"
        if (self.home.pg_data / "PG_VERSION").exists():
            raise EngineError(f"{where}: {self.home.root} holds the embedded PostgreSQL's data, "
                              "which would be left behind; use a new state directory (--home) "
                              "and move the data with a backup and restore")  # fmt: skip
        try:
            with psycopg.connect(self.conninfo(), connect_timeout=TIMEOUT) as conn:
                row = conn.execute(WHO_AM_I).fetchone()
        except psycopg.Error as exc:
            raise EngineError(f"{where}: {first_line(exc)}") from None
        if row is None or not row[0]:
            raise EngineError(
                f"{where}: role {self.user} is not a superuser; the platform creates a role and "
                "a database per app and a backup role with REPLICATION there (grant it "
                "SUPERUSER, or leave COMIND_POSTGRES_URL unset for the embedded engine)"
            )
        self.version = str(row[1]).split()[0]

    def stop(self) -> None:
        """Nothing: the server is not the platform's to stop."""

    def alive(self) -> bool:
        return True  # no process of ours: check() says whether it answers

    def check(self) -> bool:
        return postgres_version(self.conninfo(), timeout=TIMEOUT) is not None

    def info(self) -> EngineInfo:
        return EngineInfo(None, self.address, self.version, self.sslrootcert)


class ExternalRedis(Engine):
    """A Redis server of its own, reached as a user that may manage ACL users."""

    name = "redis"
    external = True

    def __init__(self, url: str, home: StateDir, settings: Settings) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise EngineError("COMIND_REDIS_URL: expected redis://USER:PASSWORD@HOST:PORT "
                              "(rediss:// for TLS, ?ssl_ca_certs=CA)")  # fmt: skip
        self.host, self.port = parts.hostname, parts.port or 6379
        self.user = unquote(parts.username or "default")
        self.password = unquote(parts.password or "")
        ca = parse_qs(parts.query).get("ssl_ca_certs")
        self.ca = Path(ca[0]) if parts.scheme == "rediss" and ca else None
        self.home, self.settings = home, settings
        self.binary = find_binary(settings.redis_bin)  # restore tests of snapshots
        self.run_as = redis_user()
        self.version = ""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def client_ca(self) -> Path | None:
        return self.ca

    def start(self) -> None:
        where = f"Redis at {self.address} (COMIND_REDIS_URL)"
        try:
            with redis.Redis(self.host, self.port, username=self.user, password=self.password,
                             socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT,
                             decode_responses=True, **tls_options(self.ca)) as conn:  # fmt: skip
                self.version = str(conn.info("server")["redis_version"])
                conn.acl_list()  # the platform makes an ACL user per app
        except redis.exceptions.NoPermissionError:
            raise EngineError(
                f"{where}: user {self.user} may not manage ACL users; the "
                "platform makes one per app (use an admin user)"
            ) from None
        except redis.exceptions.RedisError as exc:
            raise EngineError(f"{where}: {first_line(exc)}") from None

    def stop(self) -> None:
        """Nothing: the server is not the platform's to stop."""

    def alive(self) -> bool:
        return True

    def check(self) -> bool:
        found = redis_version(self.host, self.port, self.password, ca=self.ca, timeout=TIMEOUT,
                              username=self.user)  # fmt: skip
        return found is not None

    def info(self) -> EngineInfo:
        return EngineInfo(None, self.address, self.version, self.ca)


PostgresServer = PostgresEngine | ExternalPostgres  # what the platform runs on
RedisServer = RedisEngine | ExternalRedis
