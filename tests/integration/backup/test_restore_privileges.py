"""A restore test runs the app's own code (what its dump or its database holds) with the app's
rights and no more (issue 21's red teams): a CHECK constraint that runs ``RESET ROLE`` during
``pg_restore``, and a view whose name reads like a table's, both tried to write a file as the
superuser (``COPY … TO``, which needs ``pg_write_server_files``); the CHECK also makes the
stand-in own a table so it could not be dropped; a row-security policy ran as the physical
test's stand-in; database settings (``role``, read-only) broke the platform's own logins."""

from __future__ import annotations

import dataclasses
import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from comind.backup import cluster as cluster_module
from comind.backup import logical, restore, verify
from comind.backup.base import physical_backup
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.errors import BackupError
from comind.backup.keys import KeyRing
from comind.backup.logical import logical_backup
from comind.backup.verify import Verifier
from comind.spec.names import BACKUP_ROLE, role_name
from comind.stores.objects import FileObjectStore
from comind.stores.pg_standins import stand_in, sweep
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


# run by the CHECK during pg_restore, as the stand-in: a table it owns outlives its DROP ROLE
KEEP = (
    "CREATE FUNCTION public.keep() RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN "
    "IF session_user LIKE 'comind\\_standin\\_%' THEN EXECUTE 'RESET ROLE'; "
    "EXECUTE format('CREATE TABLE IF NOT EXISTS public.%I (x int)', session_user); END IF; "
    "RETURN true; END $f$"
)
# a CHECK that holds a restore up for as long as it likes
NAP = (
    "CREATE FUNCTION public.nap() RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN "
    "IF session_user LIKE 'comind\\_standin\\_%' THEN PERFORM pg_sleep(600); END IF; "
    "RETURN true; END $f$"
)
# a policy that would run as whoever counts the table without bypassing row security
WATCH = (
    "CREATE FUNCTION public.watch() RETURNS boolean LANGUAGE plpgsql AS $f$ BEGIN "
    "IF session_user LIKE 'comind\\_%' THEN "
    "RAISE EXCEPTION 'the policy ran as %', session_user; END IF; RETURN true; END $f$"
)


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
        conn.execute(KEEP)
        conn.execute("CREATE TABLE public.checked (id int CHECK (public.pwn() AND public.keep()))")
        conn.execute(WATCH)
        conn.execute("CREATE TABLE public.watched (id int)")
        conn.execute("INSERT INTO public.watched VALUES (1), (2)")
        conn.execute("ALTER TABLE public.watched ENABLE ROW LEVEL SECURITY")
        conn.execute("CREATE POLICY watch ON public.watched USING (public.watch())")
        conn.execute("INSERT INTO public.checked SELECT generate_series(1, 3)")
        conn.execute('CREATE SCHEMA "a.b"')
        conn.execute('CREATE TABLE "a.b".c (id int)')
        conn.execute('INSERT INTO "a.b".c VALUES (1)')
        conn.execute("CREATE SCHEMA a")
        conn.execute('CREATE VIEW a."b.c" AS SELECT public.pwn() AS pwned')
        conn.execute("SELECT pg_stat_force_next_flush()")  # the writes counted before a backup
        conn.execute(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(
            ident(APP)))  # fmt: skip
        conn.execute(sql.SQL("ALTER DATABASE {} SET role = {}").format(
            ident(APP), sql.Literal(role)))  # fmt: skip
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
    assert report.tables_compared == 3  # "a.b.c" is the table, never the view a."b.c"
    assert not marker.exists(), f"the app's code wrote {marker} as {marker.read_text()}"
    assert not _superuser(cluster)
    with connect(cluster.target) as conn:  # the stand-in logins are gone again
        left = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'comind_standin%'")
        assert left.fetchall() == []


def test_a_logical_restore_test_makes_nothing_in_the_live_cluster(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing, evil: PgTarget, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Red team 21c N1/N3: the test's roles and database were the live cluster's, where the
    app's sessions could grant them something and hold it; now a blank server of its own."""
    manifest = logical_backup(cluster, store, catalog, keys, APP, APP)
    admins: list[PgTarget] = []

    @contextmanager
    def seen(admin: PgTarget, *roles: str, bypass_rls: bool = False) -> Iterator[PgTarget]:
        admins.append(admin)
        with connect(cluster.target) as conn:  # meanwhile, nothing new in the live cluster
            names = conn.execute("SELECT datname FROM pg_database UNION ALL "
                                 "SELECT rolname FROM pg_roles").fetchall()  # fmt: skip
            assert not [n for (n,) in names if n.startswith(("comind_verify", "comind_standin"))]
        with stand_in(admin, *roles, bypass_rls=bypass_rls) as login:
            yield login

    monkeypatch.setattr(logical, "stand_in", seen)
    monkeypatch.setattr(verify, "stand_in", seen)
    report = verifier.run(manifest)
    assert report.ok, report.problems
    assert report.tables_compared == 3 and report.amcheck == "passed"
    assert len(admins) == 2 and {a.host for a in admins} != {cluster.target.host}
    assert all(a.host.startswith("/") and not Path(a.host).exists() for a in admins)


def test_a_restore_test_that_the_apps_code_holds_up_is_stopped_at_its_budget(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing, evil: PgTarget,
) -> None:  # fmt: skip
    with connect(evil) as conn:
        conn.execute("SET default_transaction_read_only = off")
        conn.execute(NAP)
        conn.execute("CREATE TABLE public.slow (id int CHECK (public.nap()))")
        conn.execute("INSERT INTO public.slow VALUES (1)")
    try:
        manifest = logical_backup(cluster, store, catalog, keys, APP, APP)
    finally:
        with connect(evil) as conn:
            conn.execute("SET default_transaction_read_only = off")
            conn.execute("DROP TABLE public.slow")
            conn.execute("DROP FUNCTION public.nap()")
    report = dataclasses.replace(verifier, budget=2.0).run(manifest)
    assert not report.ok
    assert "the test ran over its budget of 2 s and was stopped" in report.problems


def test_a_physical_restore_test_counts_tables_never_views_and_never_as_superuser(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing, evil: PgTarget, marker: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    manifest = physical_backup(cluster, store, catalog, keys)
    assert manifest.tables[APP]["a.b.c"] == 1 and manifest.tables[APP]["public.watched"] == 2
    sides: list[PgTarget] = []

    @contextmanager
    def seen(admin: PgTarget, *roles: str, bypass_rls: bool = False) -> Iterator[PgTarget]:
        sides.append(admin)
        with stand_in(admin, *roles, bypass_rls=bypass_rls) as login:
            yield login

    monkeypatch.setattr(verify, "stand_in", seen)
    report = verifier.run(manifest)
    assert report.ok, report.problems  # the policy never ran; amcheck was not read-only
    assert report.amcheck == "passed"
    assert not marker.exists(), f"the restored copy's code wrote {marker}"
    # the copy listened on a socket in a directory of its own, not on TCP
    (side,) = sides
    assert side.host.startswith("/") and not Path(side.host).exists()
    # where the copy was made stays root's: the server's user plants nothing beside it
    assert verifier.scratch.stat().st_uid == os.geteuid()  # (red team 19a L6, helper 52)


def test_a_database_that_refuses_the_backup_role_leaves_the_cluster_backed_up(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    evil: PgTarget,
) -> None:  # fmt: skip
    """Red team 21c N2: an app owns its database and may revoke the backup role's CONNECT;
    the full backup of every app's data then failed as a whole."""
    grant = sql.SQL("{} CONNECT ON DATABASE {} {} {}")
    with connect(evil) as conn:
        conn.execute("SET default_transaction_read_only = off")
        conn.execute(grant.format(sql.SQL("REVOKE"), sql.Identifier(APP), sql.SQL("FROM"),
                                  sql.Identifier(BACKUP_ROLE)))  # fmt: skip
    try:
        manifest = physical_backup(cluster, store, catalog, keys)
    finally:
        with connect(cluster.target) as conn:
            conn.execute(grant.format(sql.SQL("GRANT"), sql.Identifier(APP), sql.SQL("TO"),
                                      sql.Identifier(BACKUP_ROLE)))  # fmt: skip
    assert manifest.tables[APP] == {}  # not counted, so not compared
    assert any(tables for db, tables in manifest.tables.items() if db != APP)  # the others are


# an index predicate calling an IMMUTABLE function: the planner runs it as whoever plans a
# query on the table (red team 21d F1: it ran as the backup role when a backup counted rows)
SPY = (
    "CREATE FUNCTION public.spy() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $f$ BEGIN "
    "PERFORM pg_notify('spy', current_user); RETURN true; END $f$; "
    "CREATE INDEX spied ON public.checked (id) WHERE public.spy()"
)


def test_counting_rows_at_backup_time_plans_nothing(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    evil: PgTarget,
) -> None:  # fmt: skip
    listener = psycopg.connect(evil.conninfo(), autocommit=True)
    listener.execute("LISTEN spy")  # who ran the function: told by the function itself
    with connect(evil) as conn:
        conn.execute("SET default_transaction_read_only = off")
        conn.execute(SPY)  # runs it as the app, once per row
    try:
        logical = logical_backup(cluster, store, catalog, keys, APP, APP)
        full = physical_backup(cluster, store, catalog, keys)
    finally:
        who = {n.payload for n in listener.notifies(timeout=1.0)}
        listener.close()
        with connect(evil) as conn:
            conn.execute("SET default_transaction_read_only = off")
            conn.execute("DROP INDEX public.spied")
            conn.execute("DROP FUNCTION public.spy()")
    assert who == {role_name(APP)}, f"the app's code ran as {who}"
    assert logical.tables[APP]["public.checked"] == full.tables[APP]["public.checked"] == 3


def test_another_sessions_temporary_table_is_not_a_table_of_the_backup(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    evil: PgTarget,
) -> None:  # fmt: skip
    """Red team 21d F3: a flow's staging table mid-batch failed every full backup's test."""
    holder = psycopg.connect(evil.conninfo(), autocommit=True)
    holder.execute("SET default_transaction_read_only = off")
    holder.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS x")
    try:
        manifest = physical_backup(cluster, store, catalog, keys)
    finally:
        holder.close()
    tables = manifest.tables[APP]
    assert tables["public.checked"] == 3  # the database is counted still
    assert not [t for t in tables if t.startswith("pg_temp")]


def test_an_app_holding_its_table_locked_holds_up_no_backup(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    evil: PgTarget, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Red team 21e G3: ``LOCK TABLE … ACCESS EXCLUSIVE`` in an open transaction of the app's
    made the full backup's count wait for ever, and every other backup with it."""
    monkeypatch.setattr(logical, "DUMP_LOCK_WAIT", "1s")
    monkeypatch.setattr(cluster_module, "COUNT_LOCK_WAIT", "200ms")
    holder = psycopg.connect(evil.conninfo())
    holder.execute("SET default_transaction_read_only = off")
    holder.execute("LOCK TABLE public.checked IN ACCESS EXCLUSIVE MODE")
    try:
        full = physical_backup(cluster, store, catalog, keys)
        with pytest.raises(BackupError, match="timeout"):  # waited DUMP_LOCK_WAIT
            logical_backup(cluster, store, catalog, keys, APP, APP)
    finally:
        holder.close()
    assert set(full.tables[APP].values()) <= {None}  # not counted, so not compared
    assert any(tables for db, tables in full.tables.items() if db != APP)  # the others are
    # red team 21f H3: a GRANT of its own on its large object, uncommitted, held the
    # superuser's GRANT to the backup role (and every backup) for ever
    holder = psycopg.connect(evil.conninfo())
    holder.execute("SET default_transaction_read_only = off")
    (oid,) = holder.execute("SELECT lo_create(0)").fetchone()  # type: ignore[misc]
    holder.commit()
    holder.execute(f"GRANT SELECT ON LARGE OBJECT {oid} TO PUBLIC")
    try:
        with pytest.raises(BackupError, match="locked by a session of the app's"):
            logical_backup(cluster, store, catalog, keys, APP, APP)
    finally:
        holder.rollback()
        holder.execute(f"SELECT lo_unlink({oid})")
        holder.commit()
        holder.close()


def test_a_stand_in_left_by_a_crash_is_swept_with_what_it_owns(cluster: Cluster) -> None:
    name = "comind_standin_left0ver"
    with connect(cluster.target) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(
            sql.Identifier(name), sql.Identifier(BACKUP_ROLE)))  # fmt: skip
        conn.execute(sql.SQL("CREATE TABLE public.left_over (x int)"))
        conn.execute(sql.SQL("ALTER TABLE public.left_over OWNER TO {}").format(
            sql.Identifier(name)))  # fmt: skip
    assert name in sweep(cluster.target, at_start=True)
    with connect(cluster.target) as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'left_over'")
        assert owner.fetchone() == (BACKUP_ROLE,)
        conn.execute("DROP TABLE public.left_over")


def test_a_missing_table_is_a_problem_not_a_crash(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing, evil: PgTarget,
) -> None:  # fmt: skip
    manifest = logical_backup(cluster, store, catalog, keys, APP, APP)
    tables = {APP: {**manifest.tables[APP], "public.vanished": 7}}
    report = verifier.run(manifest.model_copy(update={"tables": tables}))
    assert not report.ok
    assert any("public.vanished: missing from the restored copy" in p for p in report.problems)


def test_what_the_apps_code_raised_stays_out_of_the_log(
    verifier: Verifier, cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog,
    keys: KeyRing, evil: PgTarget, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """Red team F6: the log is read by every viewer; the catalog keeps the problem for
    platform operators only."""
    manifest = logical_backup(cluster, store, catalog, keys, APP, APP)

    def raising(*args: object) -> None:
        raise RuntimeError("the policy ran: 4111-SECRET")

    monkeypatch.setattr(Verifier, "_test", raising)
    report = verifier.run(manifest)
    assert not report.ok and "4111-SECRET" in report.problems[0]
    assert "RuntimeError" in caplog.text and "4111-SECRET" not in caplog.text


def test_a_link_left_for_the_copys_log_is_not_written_through(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Red team 19a L6: root opens a copy's log beside its data directory, which the
    server's OS user may own; a link planted there must not make root append to its
    target (or read it back into an error)."""
    victim = tmp_path / "victim"
    victim.write_text("root's own\n")
    data_dir = tmp_path / "copy"
    data_dir.mkdir()  # no cluster in it: the copy does not start
    (tmp_path / "copy.log").symlink_to(victim)
    with pytest.raises(BackupError, match="did not start"):
        restore.start_side(cluster, data_dir)
    assert victim.read_text() == "root's own\n"
    assert not (tmp_path / "copy.log").is_symlink()
