"""Versioned migrations of the platform's metadata schema (``comind`` in the platform database).

Migrations are numbered SQL files under ``sql/migrations`` (``NNNN_name.sql``), applied
in order, each in its own transaction together with its row in
``comind.schema_migrations``; an advisory lock keeps two processes from migrating at
once. A migration whose file changed after it was applied is refused, because the
database would no longer match what the code expects.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from comind.errors import ComindError
from comind.stores.postgres import PgTarget, connect

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql\Z")
_LOCK_KEY = 0x636F6D696E64  # "comind"

BOOTSTRAP = """
CREATE SCHEMA IF NOT EXISTS comind;
CREATE TABLE IF NOT EXISTS comind.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    """Every migration shipped with this version, in order."""
    folder = resources.files("comind.stores").joinpath("sql", "migrations")
    found = []
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def migrate(target: PgTarget, *, upto: int | None = None) -> int:
    """Apply pending migrations (up to ``upto``); return the schema version now in place."""
    with connect(target) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(BOOTSTRAP)
            applied = _applied(conn)
            for migration in available():
                if upto is not None and migration.version > upto:
                    break
                _apply(conn, migration, applied.get(migration.version))
            return max(_applied(conn), default=0)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def _applied(conn: psycopg.Connection) -> dict[int, str]:
    rows = conn.execute("SELECT version, checksum FROM comind.schema_migrations").fetchall()
    return {int(version): str(checksum) for version, checksum in rows}


def _apply(conn: psycopg.Connection, migration: Migration, applied_checksum: str | None) -> None:
    if applied_checksum is not None:
        if applied_checksum != migration.checksum:
            raise ComindError(
                f"migration {migration.version:04d}_{migration.name} changed after it was applied; "
                "restore the original file"
            )
        return
    with conn.transaction():
        conn.execute(migration.sql.encode())
        conn.execute(
            "INSERT INTO comind.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
            (migration.version, migration.name, migration.checksum),
        )
