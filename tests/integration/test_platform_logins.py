"""A platform login into an app's database starts as the platform says, whatever the app
set on its database (issue 21's red team, F3 and F7): an app owns its database and may give
it settings that every login then starts with."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest
from psycopg import errors, sql

from comind.stores.postgres import PgTarget, connect


@pytest.fixture
def owned(app_db: PgTarget) -> Iterator[tuple[PgTarget, PgTarget]]:
    """(the app's login, a platform role's login) to an app database the app owns and gave
    hostile settings; a table of the app's has a policy that raises when a platform role
    runs it."""
    tag = secrets.token_hex(4)
    app = app_db.login(f"app_t{tag}", secrets.token_urlsafe(12))
    platform = app_db.login(f"comind_t{tag}", secrets.token_urlsafe(12))
    ident = sql.Identifier
    with connect(app_db) as conn:
        for who in (app, platform):
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                ident(who.user), sql.Literal(who.password)))  # fmt: skip
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            ident(app_db.dbname), ident(app.user)))  # fmt: skip
    with connect(app) as conn:
        conn.execute("CREATE TABLE public.watched (id int)")
        conn.execute("INSERT INTO public.watched VALUES (1), (2)")
        conn.execute(sql.SQL("GRANT SELECT ON public.watched TO {}").format(ident(platform.user)))
        conn.execute(
            "CREATE FUNCTION public.watch() RETURNS boolean LANGUAGE plpgsql AS $f$ "
            "BEGIN RAISE EXCEPTION 'the policy ran as %', session_user; END $f$"
        )
        conn.execute("ALTER TABLE public.watched ENABLE ROW LEVEL SECURITY")
        conn.execute("CREATE POLICY watch ON public.watched USING (public.watch())")
        db = ident(app_db.dbname)
        for setting in ("role = {}", "default_transaction_read_only = on",
                        "statement_timeout = 1", "datestyle = 'SQL, DMY'",
                        "client_encoding = 'SQL_ASCII'",
                        "local_preload_libraries = 'no_such_library'",
                        "default_transaction_isolation = 'serializable'",
                        "default_tablespace = 'pg_global'", "TimeZone = 'Pacific/Kiritimati'",
                        "idle_session_timeout = 1"):  # fmt: skip
            conn.execute(sql.SQL("ALTER DATABASE {} SET " + setting).format(
                db, sql.Literal(app.user)))  # fmt: skip
    yield app, platform
    with connect(app_db.with_db("postgres")) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} RESET ALL").format(ident(app_db.dbname)))
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO CURRENT_USER").format(
            ident(app_db.dbname)))  # fmt: skip
    with connect(app_db) as conn:
        for who in (app, platform):
            conn.execute(sql.SQL("DROP OWNED BY {}").format(ident(who.user)))
            conn.execute(sql.SQL("DROP ROLE {}").format(ident(who.user)))


def test_the_superuser_stays_itself_and_may_write(
    app_db: PgTarget, owned: tuple[PgTarget, PgTarget]
) -> None:
    app, _ = owned
    with pytest.raises(psycopg.OperationalError, match="no_such_library"):
        connect(app).close()  # the app's own logins keep what it chose, even this
    with connect(app_db) as conn:
        row = conn.execute("SELECT current_user, current_setting('transaction_read_only'), "
                           "current_setting('transaction_isolation'), "
                           "current_setting('TimeZone'), current_date").fetchone()  # fmt: skip
        assert row is not None and isinstance(row[4], date)
        assert row[:4] == (app_db.user, "off", "read committed", "UTC")
        conn.execute("SELECT pg_sleep(0.05)")  # no 1 ms statement or idle session timeout
        conn.execute("CREATE TABLE public.made_by_the_platform (id int)")


def test_a_platform_login_never_runs_a_row_security_policy(
    owned: tuple[PgTarget, PgTarget],
) -> None:
    _, platform = owned
    with connect(platform) as conn, pytest.raises(errors.InsufficientPrivilege) as caught:
        conn.execute("SELECT count(*) FROM public.watched")
    assert "row-level security" in str(caught.value)
    assert "the policy ran" not in str(caught.value)
