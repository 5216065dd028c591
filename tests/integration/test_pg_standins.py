"""A stand-in is gone, or at least disarmed, when its job ends, whatever the app's sessions do
to it meanwhile (issue 21's third red team, N1 and N3): an app granted it something in a
transaction it kept open, so ``DROP ROLE`` waited for ever and the restore tests stalled; an
app kept it from handing over what it owned, and the sweep at start then stopped the platform
from starting."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from comind.stores import pg_standins
from comind.stores.pg_standins import stand_in, sweep
from comind.stores.postgres import PgTarget, connect


@pytest.fixture
def app(app_db: PgTarget) -> Iterator[PgTarget]:
    """An app's login, owner of the database and of its schema public."""
    login = app_db.login(f"app_s{secrets.token_hex(4)}", secrets.token_urlsafe(12))
    ident = sql.Identifier
    with connect(app_db) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            ident(login.user), sql.Literal(login.password)))  # fmt: skip
        conn.execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(ident(login.user)))
    yield login
    with connect(app_db) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(ident(login.user)))
        conn.execute(sql.SQL("DROP ROLE {}").format(ident(login.user)))


def _role(admin: PgTarget, name: str) -> tuple[bool, bool] | None:
    """(may log in, has a password), or None when the role is gone."""
    with connect(admin) as conn:
        row = conn.execute("SELECT rolcanlogin, rolpassword IS NOT NULL FROM pg_authid "
                           "WHERE rolname = %s", (name,)).fetchone()  # fmt: skip
    return None if row is None else (bool(row[0]), bool(row[1]))


def test_a_grant_held_open_by_the_app_neither_stalls_nor_keeps_the_stand_in(
    app_db: PgTarget, app: PgTarget
) -> None:
    with connect(app) as setup:
        setup.execute("CREATE TABLE public.bait (x int)")
    holder = psycopg.connect(app.conninfo())  # a transaction: the grant's lock stays held
    with stand_in(app_db, app.user) as login:
        holder.execute(sql.SQL("GRANT SELECT ON public.bait TO {}").format(
            sql.Identifier(login.user)))  # fmt: skip
    assert _role(app_db, login.user) is None  # dropped: the holder's session was ended
    with pytest.raises(psycopg.OperationalError):
        holder.execute("SELECT 1")
    holder.close()


def test_a_stand_in_holding_its_own_catalog_row_is_still_dropped(
    app_db: PgTarget, app: PgTarget
) -> None:
    """Red team 21d F2: the app's code, as the stand-in, changed its password in a
    transaction it kept open; the disarm waited on the row, gave up, and the stand-in kept
    its login (and the app's password) after the job."""
    with stand_in(app_db, app.user) as login:
        holder = psycopg.connect(login.conninfo())  # a transaction, never committed
        holder.execute(sql.SQL("ALTER ROLE {} PASSWORD 'chosen-by-the-app'").format(
            sql.Identifier(login.user)))  # fmt: skip
    assert _role(app_db, login.user) is None
    with pytest.raises(psycopg.OperationalError):
        holder.execute("SELECT 1")
    holder.close()


def test_an_armed_stand_in_past_its_day_is_swept(app_db: PgTarget) -> None:
    old = f"{pg_standins.STAND_IN_PREFIX}o{secrets.token_hex(5)}"
    with connect(app_db) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN VALID UNTIL '2026-01-01'").format(
            sql.Identifier(old)))  # fmt: skip
    assert old in sweep(app_db)  # no job of any process runs for a day
    assert _role(app_db, old) is None


def test_a_stand_in_the_app_keeps_owning_something_is_disarmed_then_swept(
    app_db: PgTarget, app: PgTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_standins, "LOCK_WAIT", "300ms")
    holder = psycopg.connect(app.conninfo())
    with stand_in(app_db, app.user) as login:
        with connect(login) as made:  # the app's code, running as the stand-in
            made.execute("CREATE TABLE public.kept (x int)")
            made.execute(sql.SQL("GRANT ALL ON public.kept TO {}").format(
                sql.Identifier(app.user)))  # fmt: skip
        holder.execute("LOCK TABLE public.kept IN ACCESS EXCLUSIVE MODE")  # held: no commit
    assert _role(app_db, login.user) == (False, False)  # there, but no login and no password
    with pytest.raises(psycopg.OperationalError):
        connect(login).close()
    assert login.user not in sweep(app_db)  # the table is still held
    holder.rollback()
    holder.close()
    sweep(app_db)  # the platform's periodic sweep may have come first
    assert _role(app_db, login.user) is None
    with connect(app_db) as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'kept'")
        assert owner.fetchone() == (app.user,)


def test_a_stand_in_in_use_is_never_swept_but_a_leftover_is_at_start(app_db: PgTarget) -> None:
    left = f"{pg_standins.STAND_IN_PREFIX}l{secrets.token_hex(5)}"
    with connect(app_db) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(left)))
    with stand_in(app_db, "pg_read_all_data") as login:
        assert left not in sweep(app_db)  # armed: a job of another process may use it
        dropped = sweep(app_db, at_start=True)
        assert left in dropped and login.user not in dropped
        with connect(login) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (login.user,)
    assert _role(app_db, login.user) is None and _role(app_db, left) is None
