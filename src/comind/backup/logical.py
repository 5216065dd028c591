"""Logical backups of one app's database (``pg_dump -Fc``, sealed like every artifact) and
partial restores: one database, or one table of it, copied from a restored copy (or from a
logical backup) into the live platform under a new database name, beside the original.

Nothing live is replaced: the restored data lands in a new database the app's role owns,
to be inspected and copied back by the operator. Dumps log in as the backup role; the
superuser creates the database (provisioning) and ``pg_restore`` logs in as a stand-in of the
app's role (stores/pg_admin.py), so the restored objects are the app's and none of its code
runs with more than its rights.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterator

from comind.backup.base import (
    BUCKET,
    BackupError,
    finish,
    hashed,
    logical_manifest_key,
    registered,
)
from comind.backup.catalog import BackupCatalog
from comind.backup.cluster import (
    Cluster,
    create_database,
    lend_large_objects,
    role_exists,
    stable_counts,
    table_stats,
)
from comind.backup.cluster import replace_database as replace_database  # the CLI's name for it
from comind.backup.crypto import open_stream, seal_stream
from comind.backup.keys import KeyRing
from comind.backup.manifest import LogicalManifest
from comind.backup.restore import check_artifacts
from comind.backup.store import write_once
from comind.stores.objects import ObjectStore
from comind.stores.pg_standins import stand_in
from comind.stores.postgres import PgTarget

READ = 1 << 20
DUMP_LOCK_WAIT = "60s"  # pg_dump waits this long for a lock on a table, then fails


def logical_backup(
    cluster: Cluster,
    store: ObjectStore,
    catalog: BackupCatalog,
    keys: KeyRing,
    app: str,
    database: str,
) -> LogicalManifest:
    """``pg_dump -Fc`` of ``database`` into the backup store, as the backup role (it reads
    every table and writes none); returns the manifest, with the row counts of the tables
    no one wrote to meanwhile (what a restore test compares)."""
    with registered(store, catalog, keys, "logical", app) as (backup_id, key_id, key):
        began, before = time.monotonic(), cluster.position()
        quiet = table_stats(cluster.reader, [database], count=False)
        counted = table_stats(cluster.reader, [database])
        lend_large_objects(cluster, database)
        proc = _dump(cluster, cluster.reader.with_db(database))
        digest = hashlib.sha256()
        artifact = f"logical/{backup_id}/{database}.dump.cmb"
        sealed = hashed(seal_stream(_output(proc), key_id, key), digest)
        info = write_once(store, artifact, sealed)
        tables = stable_counts(quiet, counted, table_stats(cluster.reader, [database], count=False))
        manifest = LogicalManifest(
            id=backup_id, type="logical", app=app, database=database, key_id=key_id,
            tables=tables,
            sha256=digest.hexdigest(), size_bytes=info.size, artifacts=[artifact],
            start_lsn=before.lsn, stop_lsn=before.lsn, timeline=before.timeline,
            stop_time=before.time, pg_version=before.version,
            seconds=round(time.monotonic() - began, 3),
        )  # fmt: skip
        finish(store, catalog, manifest, logical_manifest_key(backup_id))
    return manifest


def restore_logical(
    cluster: Cluster,
    store: ObjectStore,
    keys: dict[str, bytes],
    manifest: LogicalManifest,
    into: str,
    *,
    owner: str | None = None,
) -> None:
    """A logical backup restored into a new database ``into``."""
    check_artifacts(store, manifest)
    _create(cluster, into, owner)
    plain = open_stream(store.get_stream(BUCKET, manifest.artifacts[0]), keys)
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


def _create(cluster: Cluster, name: str, owner: str | None) -> None:
    if not create_database(cluster.target, name, owner):
        raise BackupError(f"database {name} exists already; choose another name with --as")


def _dump(cluster: Cluster, source: PgTarget, table: str | None = None) -> subprocess.Popen[bytes]:
    argv = [
        cluster.tool("pg_dump"),
        "-Fc",
        "--no-password",
        # an app holding a lock on its table fails its own dump, never holds every backup
        f"--lock-wait-timeout={DUMP_LOCK_WAIT}",
        "-h",
        source.host,
        "-p",
        str(source.port),
        "-U",
        source.user,
        "-d",
        source.dbname,
    ]
    if table:  # a bare name is public's: the platform's logins search the catalog alone
        argv += ["-t", table if "." in table else f"public.{table}"]
    env = cluster.env(source)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _output(proc: subprocess.Popen[bytes]) -> Iterator[bytes]:
    """pg_dump's output; raises at the end unless it succeeded (nothing partial is kept)."""
    assert proc.stdout is not None and proc.stderr is not None
    try:
        while block := proc.stdout.read(READ):
            yield block
        err = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0:
            raise BackupError(f"pg_dump failed: {_reason(err)}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _reason(err: str) -> str:
    """pg_dump's error line (its last lines are details: the query it ran)."""
    lines = err.splitlines()
    last = lines[-1] if lines else "no output"
    return next((ln for ln in reversed(lines) if "error:" in ln), last)


def _restore(cluster: Cluster, target: PgTarget, data: Iterator[bytes], owner: str | None) -> None:
    """``pg_restore`` of ``data`` into ``target``'s database: logged in as a stand-in of
    ``owner`` (the app's role), so what is restored belongs to the app and no code the app
    wrote (a check, a default, an index expression) ever runs with the superuser's rights;
    as the superuser only when there is no such role (a database the platform made)."""
    if not owner or not role_exists(cluster.target, owner):
        _pg_restore(cluster, target, data, [])
        return
    with stand_in(cluster.target, owner) as login:
        _pg_restore(cluster, login.with_db(target.dbname), data, ["--role", owner])


def _pg_restore(cluster: Cluster, login: PgTarget, data: Iterator[bytes], role: list[str]) -> None:
    proc = subprocess.Popen(
        [
            cluster.tool("pg_restore"),
            *role,
            "--no-password",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "-h",
            login.host,
            "-p",
            str(login.port),
            "-U",
            login.user,
            "-d",
            login.dbname,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=cluster.env(login),
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
