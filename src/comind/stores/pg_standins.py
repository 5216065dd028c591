"""Stand-ins: throwaway logins that act with one role's rights for one job, then vanish.

A job that runs code an app wrote (a restore runs its checks, defaults and index expressions;
counting a restored table plans its partial indexes) must not run it as the superuser: ``SET
ROLE`` is no such thing, since the code could ``RESET ROLE`` back. A stand-in is a new login,
member of the roles given alone, so ``RESET ROLE`` leads to the stand-in, which holds nothing
else. The app's code may still act as the stand-in while the job runs (set its password, own
an object, grant it something and hold that open): so a stand-in takes few connections, its
password expires within the day, and when its job ends it is disarmed first (no login, no
password), the sessions that hold it ended, and then dropped with whatever it made. Should
the drop fail (an app's database refuses the platform, a lock outlasts the wait), the
disarmed role stays for the periodic sweep, which also drops what a crash left.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import errors, sql

from comind.spec.names import PLATFORM_ROLE_PREFIX
from comind.stores.pg_admin import scram_verifier
from comind.stores.postgres import PgTarget, connect

log = logging.getLogger(__name__)

STAND_IN_PREFIX = f"{PLATFORM_ROLE_PREFIX}standin_"
CONNECTIONS = 2  # a job's one session, and one to spare
LIFETIME = timedelta(days=1)  # after it, no password login (a job never runs that long)
LOCK_WAIT = "5s"  # the cleanup's longest wait on a lock an app's session holds
DISARM_TRIES = 3
_in_use: set[str] = set()  # this process's stand-ins whose job still runs: never swept
_in_use_lock = threading.Lock()


@contextmanager
def stand_in(admin: PgTarget, *roles: str, bypass_rls: bool = False) -> Iterator[PgTarget]:
    """A login for a job that must act with ``roles``' rights and no more: a new role, member
    of those alone, with a random password; retired after (see :func:`retire`).
    ``bypass_rls``: it reads tables whole, running none of their row-security policies (code
    the app wrote)."""
    name = f"{STAND_IN_PREFIX}{secrets.token_hex(6)}"
    password = secrets.token_urlsafe(24)
    with _in_use_lock:
        _in_use.add(name)
    try:
        _create(admin, name, password, roles, bypass_rls)
        try:
            yield admin.login(name, password)
        finally:
            retire(admin, name, heir=roles[0])
    finally:
        with _in_use_lock:
            _in_use.discard(name)


def _create(
    admin: PgTarget, name: str, password: str, roles: tuple[str, ...], bypass_rls: bool
) -> None:
    until = (datetime.now(UTC) + LIFETIME).isoformat()
    rls = "BYPASSRLS" if bypass_rls else "NOBYPASSRLS"
    with connect(admin) as conn:
        conn.execute(sql.SQL(f"CREATE ROLE {{}} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                             f"NOREPLICATION {rls} CONNECTION LIMIT {{}} VALID UNTIL {{}} "
                             "PASSWORD {} IN ROLE {}").format(
            sql.Identifier(name), sql.Literal(CONNECTIONS), sql.Literal(until),
            sql.Literal(scram_verifier(conn, name, password)),
            sql.SQL(", ").join(map(sql.Identifier, roles))))  # fmt: skip


def retire(admin: PgTarget, name: str, *, heir: str) -> bool:
    """Disarm stand-in ``name`` (no login, no password), end the sessions that use it or hold
    a lock on it, and drop it; should it own something (the app's code made a table as it),
    that goes to ``heir`` in every database first. False: it could not be dropped yet (it
    stays disarmed, for the sweep); nothing here waits long on an app or raises for one."""
    disarmed = False
    try:
        with _cleanup(admin) as conn:
            _disarm(conn, name)
            disarmed = True
            try:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
                return True
            except errors.DependentObjectsStillExist:
                databases = [r[0] for r in conn.execute(
                    "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1")]  # fmt: skip
        log.warning("stand-in %s owned objects; they go to %s", name, heir)
        for db in databases:
            _hand_over(admin.with_db(db), name, heir)
        with _cleanup(admin) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
        return True
    except psycopg.Error as exc:  # the engine's message may quote the app: its type only
        state = "disarmed but not dropped" if disarmed else "NOT disarmed"
        log.warning("stand-in %s is %s yet (%s); the sweep retries", name, state,
                    type(exc).__name__)  # fmt: skip
        return False


def sweep(admin: PgTarget, *, at_start: bool = False) -> list[str]:
    """Drop the stand-ins no job uses: at start (``at_start``: none runs yet) every one a
    stopped platform left; later, those this process no longer uses that are disarmed
    already or past their day (a job of another process, a restore the CLI runs, may still
    use an armed one). What they own goes to the role they stood in for. Returns the names
    dropped."""
    with connect(admin) as conn:
        rows = conn.execute(
            "SELECT r.rolname, r.rolcanlogin AND coalesce(r.rolvaliduntil > now(), true), "
            "  coalesce((SELECT g.rolname FROM pg_auth_members m "
            "  JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1 LIMIT 1), "
            "  'postgres') "
            "FROM pg_roles r WHERE starts_with(r.rolname, %s) ORDER BY 1",
            (STAND_IN_PREFIX,),
        ).fetchall()
    with _in_use_lock:
        busy = set(_in_use)
    dropped = []
    for name, armed, heir in rows:
        if name in busy or (armed and not at_start):
            continue
        log.warning("dropping stand-in %s left by an earlier job", name)
        if retire(admin, name, heir=heir):
            dropped.append(name)
    return dropped


@contextmanager
def _cleanup(target: PgTarget) -> Iterator[psycopg.Connection]:
    """A superuser session that waits on no lock for long (an app's session may hold one)."""
    with connect(target) as conn:
        conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(LOCK_WAIT)))
        yield conn


def _disarm(conn: psycopg.Connection, name: str) -> None:
    """No more logins as ``name``. Its sessions are ended first, and those of anyone holding
    a lock on the role: a session of the stand-in's that changed its own password in an
    open transaction holds its catalog row, and an app's that granted it something holds
    the role, either for as long as it liked (red team 21d F2). A new session may slip in
    before the ALTER: then again, a few times."""
    alter = sql.SQL("ALTER ROLE {} NOLOGIN PASSWORD NULL CONNECTION LIMIT 0")
    for attempt in range(DISARM_TRIES):
        _end_sessions(conn, name)
        try:
            conn.execute(alter.format(sql.Identifier(name)))
            return
        except (errors.LockNotAvailable, errors.InternalError_):
            # InternalError_ (XX000): "tuple concurrently updated", a holder that committed
            # while it was being ended (red team 21e)
            if attempt == DISARM_TRIES - 1:
                raise


def _end_sessions(conn: psycopg.Connection, name: str) -> None:
    ended = conn.execute(
        "SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a "
        "WHERE a.pid <> pg_backend_pid() AND (a.usename = %s OR a.pid IN ("
        "  SELECT l.pid FROM pg_locks l JOIN pg_roles r ON r.oid = l.objid "
        "  WHERE l.locktype = 'object' AND l.classid = 'pg_authid'::regclass "
        "  AND r.rolname = %s))",
        (name, name),
    ).fetchone()
    if ended and ended[0]:
        log.warning("stand-in %s: ended %d session(s) using it or holding it", name, ended[0])


def _hand_over(target: PgTarget, name: str, heir: str) -> None:
    """What ``name`` owns in ``target``'s database, to ``heir``; a database that refuses (an
    app may make its own refuse the platform) keeps it for a later try."""
    who, to = sql.Identifier(name), sql.Identifier(heir)
    try:
        with _cleanup(target) as conn:
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(who, to))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(who))
    except psycopg.Error as exc:
        log.warning("stand-in %s: what it owns in database %s stays for now (%s)",
                    name, target.dbname, type(exc).__name__)  # fmt: skip
