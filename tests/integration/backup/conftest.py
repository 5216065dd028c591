"""A platform of the backup tests' own (a base backup copies the whole cluster: the session
platform holds every other test's databases)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.dba import dba

from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.verify import Verifier
from comind.embedded.settings import Settings
from comind.platform import Platform
from comind.platform.keys import backup_keys
from comind.platform.objects import file_store
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import connect


@pytest.fixture(scope="module")
def backup_runtime(engine_root: Path) -> Iterator[Platform]:
    home = engine_root / f"backup-{uuid.uuid4().hex[:12]}"  # never an earlier module's
    # no restore tests of its own: each test runs the ones it checks
    settings = Settings(home=home, api_port=0, check_interval=0.5, start_timeout=60,
                        backup_tests=False)  # fmt: skip
    run = Platform(settings, about={"platform": "backup-test"})
    run.start()
    yield run
    run.stop()


@pytest.fixture
def scratch(engine_root: Path) -> Path:
    """A directory the PostgreSQL service user can reach and not write to, as the state
    directory's ``restores/`` (pytest's tmp tree is 0700)."""
    path = engine_root / f"scratch-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    path.chmod(0o711)
    return path


@pytest.fixture(scope="module")
def cluster(backup_runtime: Platform) -> Cluster:
    """The cluster as the platform's backups see it: they log in as the backup role (its
    ``target``, the superuser, is for the tests' own set-up and for restores)."""
    assert backup_runtime.backup_service is not None
    return backup_runtime.backup_service.cluster


@pytest.fixture(scope="module")
def verifier(backup_runtime: Platform) -> Verifier:
    """Restore tests as the platform runs them."""
    assert backup_runtime.protection is not None
    return backup_runtime.protection.verifier


@pytest.fixture(scope="module")
def catalog(backup_runtime: Platform) -> BackupCatalog:
    assert backup_runtime.messages is not None
    return BackupCatalog(backup_runtime.messages.pool)


@pytest.fixture(scope="module")
def store(backup_runtime: Platform) -> FileObjectStore:
    return file_store(backup_runtime.engines.home)  # with the keyring, as the platform's


@pytest.fixture(scope="module")
def keys(backup_runtime: Platform) -> KeyRing:
    return backup_keys(backup_runtime.engines.home)  # in the keyring, as the platform's


@pytest.fixture(scope="module")
def shopdb(cluster: Cluster) -> str:
    with connect(cluster.target) as conn:
        conn.execute("CREATE DATABASE shop")
    with dba(cluster.target.with_db("shop")) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, total numeric, note text)")
        conn.execute(
            "INSERT INTO orders SELECT i, i * 1.5, repeat('x', 100) "
            "FROM generate_series(1, 20000) i"
        )
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO customers SELECT i, 'c' || i FROM generate_series(1, 500) i")
    return "shop"
