"""A restore test runs the app's own code (what its dump or its database holds) with the app's
rights and no more (issue 21's red team): a CHECK constraint that runs ``RESET ROLE`` during
``pg_restore``, and a view whose name reads like a table's, both tried to write a file as the
superuser (``COPY … TO``, which needs ``pg_write_server_files``)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from comind.backup.base import physical_backup
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.logical import logical_backup
from comind.backup.verify import Verifier
from comind.spec.names import BACKUP_ROLE, role_name
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import PgTarget, connect

APP = "evil"


def _pwn(marker: Path) -> sql.Composed:
    """A function that tries to become the session's user and write ``marker`` as it."""
    copy = sql.SQL("COPY (SELECT session_user) TO {}").format(sql.Literal(str(marker)))
    return sql.SQL(
        "CREATE FUNCTION public.pwn() RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN "
        "BEGIN EXECUTE 'RESET ROLE'; EXECUTE {}; EXCEPTION WHEN OTHERS THEN NULL; END; "
        "RETURN true; END $f$"
    ).format(sql.Literal(copy.as_string()))


@pytest.fixture(scope="module")
def marker() -> Iterator[Path]:
    path = Path("/tmp") / f"comind-pwned-{uuid.uuid4().hex[:8]}"
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def evil(cluster: Cluster, marker: Path) -> PgTarget:
    """An app's database as provisioning makes it, holding the two traps, made by the app."""
    role, password = role_name(APP), secrets.token_urlsafe(16)
    ident = sql.Identifier
    with connect(cluster.target) as conn:
        create = sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}")
        conn.execute(create.format(ident(role), sql.Literal(password)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(ident(APP), ident(role)))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident(APP)))
        grant = sql.SQL("GRANT CONNECT ON DATABASE {} TO {}")
        conn.execute(grant.format(ident(APP), ident(BACKUP_ROLE)))
    app = cluster.target.login(role, password, APP)
    with connect(app) as conn:
        conn.execute(_pwn(marker))
        conn.execute("CREATE TABLE public.checked (id int CHECK (public.pwn()))")
        conn.execute("INSERT INTO public.checked SELECT generate_series(1, 3)")
        conn.execute('CREATE SCHEMA "a.b"')
        conn.execute('CREATE TABLE "a.b".c (id int)')
        conn.execute('INSERT INTO "a.b".c VALUES (1)')
        conn.execute("CREATE SCHEMA a")
        conn.execute('CREATE VIEW a."b.c" AS SELECT public.pwn() AS pwned')
        conn.execute("SELECT pg_stat_force_next_flush()")  # the writes counted before a backup
    return app


def _superuser(cluster: Cluster) -> bool:
    with connect(cluster.target) as conn:
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role_name(APP),))
        return bool(row.fetchone()[0])  # type: ignore[index]


def test_a_logical_restore_test_runs_the_apps_code_with_the_apps_rights(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing, evil: PgTarget, marker: Path,
) -> None:  # fmt: skip
    manifest = logical_backup(cluster, store, catalog, keys, APP, APP)
    assert manifest.tables[APP]["a.b.c"] == 1 and manifest.tables[APP]["public.checked"] == 3
    report = verifier.run(manifest)
    assert report.ok, report.problems
    assert report.tables_compared == 2  # "a.b.c" is the table, never the view a."b.c"
    assert not marker.exists(), f"the app's code wrote {marker} as {marker.read_text()}"
    assert not _superuser(cluster)
    with connect(cluster.target) as conn:  # the stand-in logins are gone again
        left = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'comind_standin%'")
        assert left.fetchall() == []


def test_a_physical_restore_test_counts_tables_never_views_and_never_as_superuser(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing, evil: PgTarget, marker: Path,
) -> None:  # fmt: skip
    manifest = physical_backup(cluster, store, catalog, keys)
    assert manifest.tables[APP]["a.b.c"] == 1
    report = verifier.run(manifest)
    assert report.ok, report.problems
    assert not marker.exists(), f"the restored copy's code wrote {marker}"


def test_a_missing_table_is_a_problem_not_a_crash(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing, evil: PgTarget,
) -> None:  # fmt: skip
    manifest = logical_backup(cluster, store, catalog, keys, APP, APP)
    tables = {APP: {**manifest.tables[APP], "public.vanished": 7}}
    report = verifier.run(manifest.model_copy(update={"tables": tables}))
    assert not report.ok
    assert any("public.vanished: missing from the restored copy" in p for p in report.problems)
