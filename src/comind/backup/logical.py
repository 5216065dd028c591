"""Logical backups of one app's database (``pg_dump -Fc``, sealed like every artifact) and
partial restores: one database, or one table of it, copied from a restored copy (or from a
logical backup) into the live platform under a new database name, beside the original.

Nothing live is replaced: the restored data lands in a new database the app's role owns,
to be inspected and copied back by the operator.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterator
from typing import Any

from psycopg import sql

from comind.backup.base import BUCKET, BackupError, finish, hashed, registered
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import Cluster
from comind.backup.crypto import open_stream, seal_stream
from comind.backup.keys import KeyRing
from comind.backup.restore import check_artifacts
from comind.stores.objects import ObjectStore
from comind.stores.postgres import PgTarget, connect

READ = 1 << 20


def logical_backup(
    cluster: Cluster,
    store: ObjectStore,
    catalog: BackupCatalog,
    keys: KeyRing,
    app: str,
    database: str,
) -> dict[str, Any]:
    """``pg_dump -Fc`` of ``database`` into the backup store; returns the manifest."""
    with registered(store, catalog, keys, "logical", app) as (backup_id, key_id, key):
        began, before = time.monotonic(), cluster.position()
        proc = _dump(cluster, cluster.target.with_db(database))
        digest = hashlib.sha256()
        artifact = f"logical/{backup_id}/{database}.dump.cmb"
        sealed = hashed(seal_stream(_output(proc), key_id, key), digest)
        info = store.put_stream(BUCKET, artifact, sealed)
        manifest = {
            "id": backup_id,
            "type": "logical",
            "app": app,
            "database": database,
            "key_id": key_id,
            "sha256": digest.hexdigest(),
            "size_bytes": info.size,
            "artifacts": [artifact],
            "start_lsn": before["lsn"],
            "stop_lsn": before["lsn"],
            "timeline": before["timeline"],
            "stop_time": before["time"],
            "pg_version": before["version"],
            "seconds": round(time.monotonic() - began, 3),
        }
        finish(store, catalog, manifest, f"logical/{backup_id}/manifest.json")
    return manifest


def restore_logical(
    cluster: Cluster,
    store: ObjectStore,
    keys: dict[str, bytes],
    manifest: dict[str, Any],
    into: str,
    *,
    owner: str | None = None,
) -> None:
    """A logical backup restored into a new database ``into``."""
    check_artifacts(store, manifest)
    _create(cluster, into, owner)
    plain = open_stream(store.get_stream(BUCKET, manifest["artifacts"][0]), keys)
    _restore(cluster, cluster.target.with_db(into), plain, owner)


def copy_database(
    cluster: Cluster,
    source: PgTarget,
    into: str,
    *,
    table: str | None = None,
    owner: str | None = None,
) -> None:
    """``source`` (a database of a restored copy), or one ``table`` of it, into a new live
    database ``into``."""
    _create(cluster, into, owner)
    proc = _dump(cluster, source, table)
    _restore(cluster, cluster.target.with_db(into), _output(proc), owner)


def _role_exists(cluster: Cluster, role: str) -> bool:
    with connect(cluster.target) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            is not None
        )


def _create(cluster: Cluster, name: str, owner: str | None) -> None:
    with connect(cluster.target) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            raise BackupError(f"database {name} exists already; choose another name with --as")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if owner and _role_exists(cluster, owner):
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(name), sql.Identifier(owner)
                )
            )


def _dump(cluster: Cluster, source: PgTarget, table: str | None = None) -> subprocess.Popen[bytes]:
    argv = [
        cluster.tool("pg_dump"),
        "-Fc",
        "--no-password",
        "-h",
        source.host,
        "-p",
        str(source.port),
        "-U",
        source.user,
        "-d",
        source.dbname,
    ]
    if table:
        argv += ["-t", table]
    env = {**cluster.env(), "PGPASSWORD": source.password}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _output(proc: subprocess.Popen[bytes]) -> Iterator[bytes]:
    """pg_dump's output; raises at the end unless it succeeded (nothing partial is kept)."""
    assert proc.stdout is not None and proc.stderr is not None
    try:
        while block := proc.stdout.read(READ):
            yield block
        err = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0:
            raise BackupError(f"pg_dump failed: {err.splitlines()[-1] if err else 'no output'}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _restore(cluster: Cluster, target: PgTarget, data: Iterator[bytes], owner: str | None) -> None:
    # created as the app's role, so the app owns what is restored
    role = ["--role", owner] if owner and _role_exists(cluster, owner) else []
    proc = subprocess.Popen(
        [
            cluster.tool("pg_restore"),
            *role,
            "--no-password",
            "--no-owner",
            "--exit-on-error",
            "-h",
            target.host,
            "-p",
            str(target.port),
            "-U",
            target.user,
            "-d",
            target.dbname,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=cluster.env(),
    )
    assert proc.stdin is not None and proc.stderr is not None
    try:
        for block in data:
            proc.stdin.write(block)
    finally:
        proc.stdin.close()
    err = proc.stderr.read().decode(errors="replace").strip()
    proc.stderr.close()
    if proc.wait() != 0:
        raise BackupError(f"pg_restore failed: {err.splitlines()[-1] if err else 'no output'}")


def replace_database(cluster: Cluster, live: str, restored: str, stamp: str) -> str:
    """Put database ``restored`` in place of ``live``, which is kept as ``LIVE_old_STAMP``
    (returned). New connections to ``live`` are refused while its sessions end, so none
    slips in between; if the second rename fails the first is undone."""
    old = f"{live[:40]}_old_{stamp}"
    ident = sql.Identifier
    with connect(cluster.target) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident(live)))
        try:
            _end_sessions(conn, live)
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(ident(live), ident(old)))
            try:
                conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    ident(restored), ident(live)))  # fmt: skip
            except Exception:
                conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    ident(old), ident(live)))  # fmt: skip
                raise
        finally:
            present = conn.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)",
                                   ([live, old],)).fetchall()  # fmt: skip
            for (name,) in present:
                conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(
                    ident(name)))  # fmt: skip
    return old


def _end_sessions(conn: Any, database: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)
        ).fetchone()[0]  # fmt: skip
        if not left:
            return
        if time.monotonic() > deadline:
            raise BackupError(f"sessions on {database} did not end within {timeout:.0f} s")
        time.sleep(0.1)
