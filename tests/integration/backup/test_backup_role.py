"""Backups log in as the backup role, never the superuser: a full base backup and a logical
dump of an app's database succeed as ``comind_backup``, which reads everything (row security
and large objects included) and may write nothing; taking away its replication right or its
read right makes the backup fail, so the tools really connect as it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
from tests.dba import dba

from comind.backup.base import BackupError, physical_backup
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.logical import logical_backup, restore_logical
from comind.backup.pitr import create_restore_point
from comind.platform import Platform
from comind.platform.backup_login import live_cluster
from comind.spec.names import BACKUP_ROLE, owner_role, role_name
from comind.stores.objects import FileObjectStore
from comind.stores.pg_admin import PgAdmin
from comind.stores.postgres import PgTarget, connect

APP = "ledger"


@pytest.fixture(scope="module")
def app_db(cluster: Cluster) -> Iterator[PgTarget]:
    """An app database made as the platform makes one (CONNECT revoked from PUBLIC), with a
    table of the app's own under row security that hides every row from other roles."""
    admin, password = PgAdmin(cluster.target), secrets.token_urlsafe(16)
    admin.ensure_role(role_name(APP), password)
    admin.ensure_database(APP, role_name(APP), [], data_owner=owner_role(APP))
    app = PgTarget(cluster.target.host, cluster.target.port, role_name(APP), password, APP)
    with connect(app) as conn:
        conn.execute("CREATE TABLE entries (id int PRIMARY KEY, amount numeric)")
        conn.execute("INSERT INTO entries SELECT i, i FROM generate_series(1, 300) i")
        conn.execute("ALTER TABLE entries ENABLE ROW LEVEL SECURITY")
        conn.execute("CREATE POLICY nobody_else ON entries USING (false)")  # binds non-owners
        conn.execute("SELECT lo_from_bytea(0, 'a large object')")  # not in pg_read_all_data
    yield app
    admin.close()


def _alter(cluster: Cluster, statement: str) -> None:
    with connect(cluster.target) as conn:
        conn.execute(statement)


@pytest.fixture
def reset_role(backup_runtime: Platform) -> Iterator[None]:
    """The backup role as the platform makes it again after a test took a right away."""
    yield
    assert backup_runtime.messages is not None
    live_cluster(backup_runtime.engines, backup_runtime.messages.pool)


def test_backups_run_as_a_role_that_reads_everything_and_writes_nothing(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    app_db: PgTarget, shopdb: str,
) -> None:  # fmt: skip
    assert cluster.reader.user == BACKUP_ROLE != cluster.target.user
    full = physical_backup(cluster, store, catalog, keys)
    assert full.tables[APP]["public.entries"] == 300  # counted past the app's row security
    dump = logical_backup(cluster, store, catalog, keys, APP, APP)
    restore_logical(cluster, store, keys.all(), dump, "ledger_restored")
    with dba(cluster.target.with_db("ledger_restored")) as conn:
        assert conn.execute("SELECT count(*) FROM public.entries").fetchone() == (300,)
        found = conn.execute(
            "SELECT convert_from(lo_get(oid), 'UTF8') FROM pg_largeobject_metadata"
        )
        assert found.fetchall() == [("a large object",)]
    assert create_restore_point(cluster, store, "before-role-checks").name

    with connect(cluster.reader.with_db(APP)) as conn:
        assert conn.execute("SELECT count(*) FROM public.entries").fetchone() == (300,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO public.entries VALUES (1000, 1)")
    refused = pytest.raises(psycopg.errors.InsufficientPrivilege)
    with connect(cluster.reader.with_db(shopdb)) as conn, refused:
        conn.execute("DELETE FROM public.orders")
    with connect(cluster.reader.with_db("comind")) as conn, refused:
        conn.execute("INSERT INTO comind.api_tokens (id, hash, role) VALUES ('x', 'y', 'admin')")
    with connect(cluster.target) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolconnlimit > 0 "
            "FROM pg_roles WHERE rolname = %s", (BACKUP_ROLE,)
        ).fetchone()  # fmt: skip
    assert row == (False, False, False, True, True)


def test_pg_basebackup_streams_as_the_backup_role(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    reset_role: None,
) -> None:  # fmt: skip
    """Without the role's REPLICATION right the base backup fails: it is the role's login."""
    _alter(cluster, f"ALTER ROLE {BACKUP_ROLE} NOREPLICATION")
    with pytest.raises(BackupError, match=r"pg_basebackup failed.*(replication|permission)"):
        physical_backup(cluster, store, catalog, keys)
    assert catalog.entries(limit=1)[0].status == "failed"


def test_pg_dump_reads_as_the_backup_role(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing,
    app_db: PgTarget, reset_role: None,
) -> None:  # fmt: skip
    """Without the role's read right the dump fails: it is the role's login."""
    _alter(cluster, f"REVOKE pg_read_all_data FROM {BACKUP_ROLE}")
    with pytest.raises(BackupError, match=r"pg_dump failed: .*permission denied"):
        logical_backup(cluster, store, catalog, keys, APP, APP)


def test_a_database_made_later_lets_the_backup_role_in(
    cluster: Cluster, store: FileObjectStore, catalog: BackupCatalog, keys: KeyRing
) -> None:
    admin = PgAdmin(cluster.target)
    try:
        admin.ensure_role(role_name("late"), "pw-late-1")
        admin.ensure_database("late", role_name("late"), [], data_owner=owner_role("late"))
        state = admin.observe_database("late")
        assert state is not None and state.backup_connect and not state.public_connect
        _alter(cluster, f"REVOKE CONNECT ON DATABASE late FROM {BACKUP_ROLE}")
        assert admin.observe_database("late").backup_connect is False  # type: ignore[union-attr]
        admin.ensure_database("late", role_name("late"), [], data_owner=owner_role("late"))
        assert admin.observe_database("late").backup_connect  # type: ignore[union-attr]
        assert logical_backup(cluster, store, catalog, keys, "late", "late").database == "late"
    finally:
        admin.drop_database("late")
        admin.drop_role(role_name("late"))
        admin.close()
