"""Real engines for integration tests, started once per session by the project's own code.

Each test gets its own database, created from a template that already carries the
platform schema (cheap: a file copy), and its own Redis key prefix, flushed after.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import psycopg
import pytest
import redis
from tests.platforms import make_settings

from comind.embedded.platform import EmbeddedPlatform
from comind.embedded.settings import Settings
from comind.platform import Platform
from comind.queue.layer import MessageLayer
from comind.stores.migrations import migrate
from comind.stores.postgres import PgTarget, connect, ensure_database, superuser
from comind.stores.redis import client, default_user

TEMPLATE = "comind_template"


@pytest.fixture(name="make_settings")
def make_settings_fixture() -> Callable[[Path], Settings]:
    """Settings for a platform of a test's own that kills its engines: checked five times a
    second, so healing is quick."""
    return partial(make_settings, check_interval=0.2)


@pytest.fixture(scope="session")
def runtime(engine_root: Path) -> Iterator[Platform]:
    """The whole platform (engines, platform database, API) as ``comind up`` runs it."""
    run = Platform(make_settings(engine_root / "session"), about={"platform": "test"})
    run.start()
    admin = superuser(run.engines.postgres)
    ensure_database(admin, TEMPLATE)
    migrate(admin.with_db(TEMPLATE))
    yield run
    run.stop()


@pytest.fixture(scope="session")
def platform(runtime: Platform) -> EmbeddedPlatform:
    return runtime.engines


@pytest.fixture(scope="session")
def db(runtime: Platform) -> PgTarget:
    """The platform metadata database."""
    assert runtime.db is not None
    return runtime.db


def _scratch_database(platform: EmbeddedPlatform, template: str) -> Iterator[PgTarget]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = superuser(platform.postgres)
    with connect(admin) as conn:
        conn.execute(
            psycopg.sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                psycopg.sql.Identifier(name), psycopg.sql.Identifier(template)
            )
        )
    yield admin.with_db(name)
    with connect(admin) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP DATABASE {} WITH (FORCE)").format(psycopg.sql.Identifier(name))
        )


@pytest.fixture
def pg(platform: EmbeddedPlatform) -> Iterator[PgTarget]:
    """A fresh database (with the platform schema) for one test."""
    yield from _scratch_database(platform, TEMPLATE)


@pytest.fixture
def app_db(platform: EmbeddedPlatform) -> Iterator[PgTarget]:
    """An empty database standing for an app's own database, for one test."""
    yield from _scratch_database(platform, "template1")


@pytest.fixture
def rkeys(platform: EmbeddedPlatform) -> Iterator[tuple[redis.Redis, str]]:
    """A Redis client and a key prefix owned by one test; its keys are removed after."""
    prefix = f"t:{uuid.uuid4().hex[:12]}:"
    with client(default_user(platform.redis)) as conn:
        yield conn, prefix
        for key in conn.scan_iter(f"{prefix}*"):
            conn.delete(key)


@pytest.fixture
def layer(runtime: Platform) -> MessageLayer:
    """The shared platform's message layer (a module may define its own on a scratch database)."""
    assert runtime.messages is not None
    return runtime.messages


@pytest.fixture
def app() -> str:
    """A name no other test uses for its app (its queues are ``APP/...``)."""
    return f"a{uuid.uuid4().hex[:8]}"
