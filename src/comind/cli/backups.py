"""``comind backup run/ls/verify``, ``comind restore --side`` and ``comind keys``: backups
of the running platform's PostgreSQL, taken and restored from this process."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn

from comind.backup.base import BUCKET, PHYSICAL, physical_backup
from comind.backup.buckets import backup_buckets, restore_bucket
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.logical import (
    copy_database,
    logical_backup,
    replace_database,
    restore_logical,
)
from comind.backup.pitr import (
    choose_base,
    create_restore_point,
    restore_point,
    restore_to_time,
)
from comind.backup.restore import SideCopy, chain_of, restore_side
from comind.backup.retention import prune
from comind.backup.snapshots import redis_backup, restore_redis
from comind.backup.switch import discard_old, old_data_dirs
from comind.backup.verify import verify
from comind.backup.wal import WalArchive
from comind.cli.api_client import call
from comind.cli.connect import home_of, platform_db, platform_redis, running_state, settings_of
from comind.cli.disaster import PASSPHRASE_ENV, passphrase
from comind.cli.output import console, emit_json
from comind.embedded.home import StateDir
from comind.embedded.osuser import service_user
from comind.embedded.postgres import find_bin_dir
from comind.embedded.redis import find_binary
from comind.errors import UsageError
from comind.spec.names import role_name
from comind.stores.backup_catalog import BackupCatalog
from comind.stores.objects import FileObjectStore
from comind.stores.postgres import make_pool

backup_cli = typer.Typer(help="Backups: run, list, verify.", no_args_is_help=True)
keys_cli = typer.Typer(help="The backup keys: rotate, export.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@dataclass
class Backups:
    cluster: Cluster
    catalog: BackupCatalog
    store: FileObjectStore
    keys: KeyRing
    home: StateDir


@contextmanager
def backups(ctx: typer.Context) -> Iterator[Backups]:
    home = home_of(ctx)
    target = platform_db(home, running_state(home))
    cluster = Cluster(
        target.with_db("postgres"), find_bin_dir(settings_of(ctx).pg_bin), service_user()
    )
    with make_pool(target, min_size=1, max_size=2) as pool:
        yield Backups(
            cluster,
            BackupCatalog(pool),
            FileObjectStore(home.objects),
            KeyRing(home.root / "secrets"),
            home,
        )


def _bar(as_json: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        console=console,
        transient=True,
        disable=as_json,
    )


@backup_cli.command("run")
def run(
    ctx: typer.Context,
    kind: Annotated[
        str,
        typer.Option(
            "--type",
            help="full; incr (changes since the last physical backup) or diff (since the "
            "last full; both need PostgreSQL 17+, else a full one is taken); logical; objects; "
            "redis (a BGSAVE snapshot).",
        ),
    ] = "full",
    app: Annotated[str | None, typer.Option(help="The app a logical backup dumps.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Take a backup now (streamed, compressed, encrypted)."""
    if kind == "objects":
        _objects(ctx, as_json)
        return
    if kind == "logical":
        _logical(ctx, app, as_json)
        return
    if kind == "redis":
        _redis(ctx, as_json)
        return
    if kind not in PHYSICAL:
        raise UsageError(f"--type {kind}: choose full, incr, diff, logical, objects or redis")
    with backups(ctx) as b, _bar(as_json) as bar:
        task = bar.add_task(f"{kind} backup", total=None)
        manifest = physical_backup(
            b.cluster, b.store, b.catalog, b.keys, kind,
            progress=lambda n: bar.update(task, completed=n),
        )  # fmt: skip
    summary = {
        k: manifest[k]
        for k in (
            "id",
            "type",
            "parent",
            "note",
            "start_lsn",
            "stop_lsn",
            "size_bytes",
            "source_bytes",
            "seconds",
            "key_id",
        )
    }
    if as_json:
        emit_json(summary)
    else:
        if manifest["note"]:
            console.print(f"[yellow]{manifest['note']}[/yellow]")
        console.print(
            f"backup {manifest['id']}: {manifest['source_bytes'] / 1e6:.1f} MB read, "
            f"{manifest['size_bytes'] / 1e6:.1f} MB stored in {manifest['seconds']:.1f} s"
        )


def _objects(ctx: typer.Context, as_json: bool) -> None:
    with backups(ctx) as b:
        buckets = sorted(
            p.name
            for p in b.store.root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and p.name != BUCKET
        )
        manifest = backup_buckets(b.store, b.catalog, b.keys, buckets)
    summary = {
        k: manifest[k] for k in ("id", "type", "uploaded", "reused", "size_bytes", "seconds")
    }
    if as_json:
        emit_json(summary | {"buckets": sorted(manifest["buckets"])})
    else:
        console.print(
            f"backup {manifest['id']}: {len(buckets)} bucket(s), {manifest['uploaded']} "
            f"new object(s), {manifest['reused']} unchanged"
        )


def _redis(ctx: typer.Context, as_json: bool) -> None:
    with backups(ctx) as b, console.status("Redis BGSAVE") if not as_json else _nothing():
        target = platform_redis(b.home, running_state(b.home))
        manifest = redis_backup(target, b.store, b.catalog, b.keys)
    summary = {k: manifest[k] for k in ("id", "type", "keys", "size_bytes", "seconds")}
    if as_json:
        emit_json(summary)
    else:
        console.print(f"backup {manifest['id']}: {manifest['keys']} key(s), "
                      f"{manifest['size_bytes'] / 1e6:.1f} MB stored")  # fmt: skip


def _logical(ctx: typer.Context, app: str | None, as_json: bool) -> None:
    if not app:
        raise UsageError("a logical backup is of one app's database: pass --app APP")
    database = _app_database(ctx, app)
    with backups(ctx) as b:
        manifest = logical_backup(b.cluster, b.store, b.catalog, b.keys, app, database)
    summary = {k: manifest[k] for k in ("id", "type", "app", "database", "size_bytes", "seconds")}
    if as_json:
        emit_json(summary)
    else:
        console.print(
            f"backup {manifest['id']}: {app}'s database {database}, "
            f"{manifest['size_bytes'] / 1e6:.1f} MB stored"
        )


@backup_cli.command("ls")
def ls(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every backup: kind, status, size, LSNs and whether a restore verified it."""
    with backups(ctx) as b:
        rows = [_row(r) for r in b.catalog.entries()]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        size = f"{r['size_bytes'] / 1e6:.1f} MB"
        console.print(
            f"{r['id']}  {r['kind']:<5} {r['status']:<9} {size:>10}  "
            f"{r['stop_lsn'] or '':<12} verify: {r['verify_status'] or '-'}",
            markup=False,
        )
    if not rows:
        console.print("no backups yet: comind backup run")


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in entry.items()}
    out.pop("manifest", None)
    return out


@backup_cli.command("verify")
def verify_cmd(
    ctx: typer.Context,
    backup_id: Annotated[str, typer.Argument(help="Backup id (see comind backup ls).")],
    as_json: JsonOpt = False,
) -> None:
    """Restore the backup into a scratch cluster and check it; exit 1 when it fails."""
    with backups(ctx) as b:
        manifest = _manifest(b, backup_id)
        scratch = b.home.root / "restores" / f"verify-{backup_id}"
        with (
            console.status(f"restoring {backup_id} into a scratch cluster", spinner="dots")
            if not as_json
            else _nothing()
        ):
            report = verify(b.cluster, b.store, b.catalog, b.keys.all(), manifest, scratch)
    if as_json:
        emit_json(asdict(report))
    else:
        state = "verified" if report.ok else "FAILED"
        console.print(
            f"{backup_id}: {state} ({report.tables_compared} tables compared, "
            f"pg_verifybackup {report.verifybackup}, amcheck {report.amcheck})",
            markup=False,
        )
        for problem in report.problems:
            console.print(f"  {problem}", markup=False)
    if not report.ok:
        raise typer.Exit(1)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _physical(b: Backups) -> list[dict[str, Any]]:
    """Manifests of the complete physical backups (full, incr, diff), newest first."""
    return [
        dict(e["manifest"])
        for e in b.catalog.entries(limit=100_000)
        if e["kind"] in PHYSICAL and e["status"] == "complete"
    ]


def _manifest(b: Backups, backup_id: str | None) -> dict[str, Any]:
    if backup_id is None:
        newest = _physical(b)
        if not newest:
            raise UsageError("no complete backup to restore: comind backup run")
        return newest[0]
    found = next((e for e in b.catalog.entries() if e["id"] == backup_id), None)
    if found is None:
        raise UsageError(f"no backup {backup_id} (see comind backup ls)")
    if found["status"] != "complete":
        raise UsageError(f"backup {backup_id} is {found['status']}, not complete")
    return dict(found["manifest"])


def restore(
    ctx: typer.Context,
    side: Annotated[bool, typer.Option("--side", help="Run the copy on a side port.")] = False,
    to_time: Annotated[str | None, typer.Option("--to-time", help="ISO 8601 with zone.")] = None,
    to_point: Annotated[str | None, typer.Option("--to-restore-point", help="Name.")] = None,
    backup_id: Annotated[str | None, typer.Option("--backup", help="Default: latest.")] = None,
    app: Annotated[str | None, typer.Option(help="The app whose database to restore.")] = None,
    table: Annotated[str | None, typer.Option(help="Only this table (a partial restore).")] = None,
    into: Annotated[str | None, typer.Option("--as", help="New database (or bucket) name.")] = None,
    bucket: Annotated[
        str | None, typer.Option(help="Restore this bucket (objects backup).")
    ] = None,
    redis: Annotated[
        bool, typer.Option("--redis", help="A Redis snapshot, served on a side port.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Replace a non-empty restore directory.")] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="With --app: swap the restored database in.")
    ] = False,
    discard_old: Annotated[
        bool, typer.Option("--discard-old", help="Delete data directories switches set aside.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup or a point in time: --side runs the whole cluster beside the platform;
    --app A (with --table, --as) copies one app's database into the live platform under a
    new name, touching nothing else; with neither, the platform's whole PostgreSQL switches
    to the restored copy (after confirmation; the old data is kept until --discard-old)."""
    if discard_old:
        _discard_old(ctx, yes, as_json)
        return
    if bucket:
        _bucket(ctx, bucket, backup_id, into, as_json)
        return
    if redis:
        _redis_side(ctx, backup_id, as_json)
        return
    if not side and not app:
        if not (to_time or to_point or backup_id):
            raise UsageError(
                "pass --side (a side copy), --app APP (a partial restore into the live "
                "platform under a new name), or what to switch the platform to: --to-time, "
                "--to-restore-point or --backup"
            )
        _switch(ctx, (to_time, to_point, backup_id), force, yes, as_json)
        return
    if not side:
        assert app is not None
        _partial(ctx, app, table, into, (to_time, to_point, backup_id), (force, replace, yes),
                 as_json)  # fmt: skip
        return
    copy, manifest = _side(ctx, to_time, to_point, backup_id, force, as_json)
    dbname = _app_database(ctx, app) if app else "postgres"
    doc = {
        "dsn": copy.dsn(dbname),
        "backup": manifest["id"],
        "data_dir": str(copy.data_dir),
        "pid": copy.process.pid,
        "port": copy.port,
    }
    if as_json:
        emit_json(doc)
    else:
        console.print(
            f"restored from {manifest['id']} on port {copy.port} (pid "
            f"{copy.process.pid}); stop it with: kill -INT {copy.process.pid}",
            markup=False,
        )
        console.print(f"  psql '{doc['dsn']}'", markup=False)


def _newest_of(b: Backups, kind: str, backup_id: str | None) -> dict[str, Any]:
    """The manifest of the given (or newest) complete backup of ``kind``."""
    found = [
        e
        for e in b.catalog.entries(kind)
        if e["status"] == "complete" and (backup_id is None or e["id"] == backup_id)
    ]
    if not found:
        raise UsageError(f"no complete {kind} backup" + (f" {backup_id}" if backup_id else ""))
    return dict(found[0]["manifest"])


def _redis_side(ctx: typer.Context, backup_id: str | None, as_json: bool) -> None:
    with backups(ctx) as b:
        manifest = _newest_of(b, "redis", backup_id)
        where = b.home.root / "restores" / f"{manifest['id']}-{datetime.now(UTC):%H%M%S}"
        binary = find_binary(settings_of(ctx).redis_bin)
        copy = restore_redis(binary, b.store, b.keys.all(), manifest, where)
    doc = {"url": copy.target.url(), "backup": manifest["id"], "pid": copy.process.pid,
           "port": copy.target.port, "directory": str(where)}  # fmt: skip
    if as_json:
        emit_json(doc)
    else:
        console.print(f"restored {manifest['id']} on port {copy.target.port} (pid "
                      f"{copy.process.pid}); stop it with: kill {copy.process.pid}",
                      markup=False)  # fmt: skip
        console.print(f"  redis-cli -u '{doc['url']}'", markup=False)


def _switch(
    ctx: typer.Context,
    target: tuple[str | None, str | None, str | None],
    force: bool,
    yes: bool,
    as_json: bool,
) -> None:
    copy, manifest = _side(ctx, *target, force, as_json)
    where = target[0] or (f"restore point {target[1]}" if target[1] else manifest["id"])
    question = (f"switch the platform's whole PostgreSQL (every app database and the "
                f"platform's own state) to {where}? Later changes stay in the old data "
                "directory until `comind restore --discard-old`")  # fmt: skip
    copy.stop()
    if not yes and not typer.confirm(question):
        shutil.rmtree(copy.data_dir, ignore_errors=True)
        raise typer.Exit(1)
    doc = call(ctx, "POST", "/api/v1/backups/switch", body={"data_dir": str(copy.data_dir)},
               admin=True)  # fmt: skip
    doc |= {"backup": manifest["id"], "to": where}
    if as_json:
        emit_json(doc)
    else:
        console.print(f"the platform runs on the restored copy ({where}); the old data is in "
                      f"{doc['old_data_dir']} until `comind restore --discard-old`",
                      markup=False)  # fmt: skip


def _discard_old(ctx: typer.Context, yes: bool, as_json: bool) -> None:
    postgres = home_of(ctx).postgres
    found = old_data_dirs(postgres)
    if found and not yes and not typer.confirm(f"delete {', '.join(p.name for p in found)}?"):
        raise typer.Exit(1)
    gone = [str(p) for p in discard_old(postgres)]
    emit_json({"deleted": gone}) if as_json else console.print(
        f"deleted {len(gone)} old data director{'y' if len(gone) == 1 else 'ies'}"
    )


def _bucket(
    ctx: typer.Context, bucket: str, backup_id: str | None, into: str | None, as_json: bool
) -> None:
    with backups(ctx) as b:
        manifest = _newest_of(b, "objects", backup_id)
        written = restore_bucket(b.store, b.keys.all(), manifest, bucket, into)
    doc = {"bucket": into or bucket, "objects": written, "from": manifest["id"]}
    if as_json:
        emit_json(doc)
    else:
        console.print(f"restored {written} object(s) into {doc['bucket']} from {doc['from']}")


def _side(
    ctx: typer.Context,
    to_time: str | None,
    to_point: str | None,
    backup_id: str | None,
    force: bool,
    as_json: bool,
) -> tuple[SideCopy, dict[str, Any]]:
    if to_time or to_point:
        return _point_in_time(ctx, to_time, to_point, force, as_json)
    return _latest(ctx, backup_id, force, as_json)


def _partial(
    ctx: typer.Context,
    app: str,
    table: str | None,
    into: str | None,
    target: tuple[str | None, str | None, str | None],
    flags: tuple[bool, bool, bool],
    as_json: bool,
) -> None:
    force, replace, yes = flags
    if replace and (table or into):
        raise UsageError("--replace swaps the whole database: not with --table or --as")
    database = _app_database(ctx, app)
    into = into or f"{database}_restored_{datetime.now(UTC):%Y%m%d%H%M%S}"
    to_time, to_point, backup_id = target
    with backups(ctx) as b:
        found = b.catalog.get(backup_id) if backup_id else None
        if found is not None and found["kind"] == "logical":
            if table:
                raise UsageError("--table restores from a full backup or a point in time")
            restore_logical(
                b.cluster,
                b.store,
                b.keys.all(),
                dict(found["manifest"]),
                into,
                owner=role_name(app),
            )
            source = str(found["id"])
        else:
            copy, manifest = _side(ctx, to_time, to_point, backup_id, force, as_json)
            try:
                copy_database(
                    b.cluster,
                    copy.target.with_db(database),
                    into,
                    table=table,
                    owner=role_name(app),
                )
            finally:
                copy.stop(remove=True)
            source = str(manifest["id"])
        doc = {"app": app, "database": into, "table": table, "from": source,
               "to_time": to_time, "restore_point": to_point}  # fmt: skip
        if replace:
            doc |= _replace(b, database, into, yes)
    if as_json:
        emit_json(doc)
    elif replace:
        console.print(f"{app}'s database {database} is now the restored one (from {source}); "
                      f"the one it replaced is kept as {doc['old']}", markup=False)  # fmt: skip
    else:
        what = f"table {table} of " if table else ""
        console.print(
            f"restored {what}{app}'s database into the new database {into} "
            f"(from {source}); {database} is untouched",
            markup=False,
        )


def _replace(b: Backups, database: str, restored: str, yes: bool) -> dict[str, Any]:
    question = (f"replace the live database {database} with the restored copy? Its sessions "
                "end; the current one is kept under a new name")  # fmt: skip
    if not yes and not typer.confirm(question):
        console.print(f"kept both: the restored copy is the database {restored}", markup=False)
        raise typer.Exit(1)
    old = replace_database(b.cluster, database, restored, f"{datetime.now(UTC):%Y%m%d%H%M%S}")
    return {"database": database, "old": old}


def _latest(
    ctx: typer.Context, backup_id: str | None, force: bool, as_json: bool
) -> tuple[SideCopy, dict[str, Any]]:
    with backups(ctx) as b:
        manifest = _manifest(b, backup_id)
        target = b.home.root / "restores" / f"{manifest['id']}-{datetime.now(UTC):%H%M%S}"
        with _bar(as_json) as bar:
            total = sum(m["source_bytes"] for m in chain_of(b.store, manifest))
            task = bar.add_task(f"restoring {manifest['id']}", total=total)
            copy = restore_side(
                b.cluster,
                b.store,
                manifest,
                b.keys.all(),
                target,
                force=force,
                progress=lambda n: bar.update(task, completed=n),
            )
    return copy, manifest


def _point_in_time(
    ctx: typer.Context, to_time: str | None, to_point: str | None, force: bool, as_json: bool
) -> tuple[SideCopy, dict[str, Any]]:
    with backups(ctx) as b:
        point = restore_point(b.store, to_point) if to_point else None
        when = point["time"] if point else str(to_time)
        try:
            target = datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"--to-time {when}: expected ISO 8601 with a zone") from None
        manifests = _physical(b)
        base = choose_base(manifests, target)
        data_dir = b.home.root / "restores" / f"pitr-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        with console.status("restoring and replaying WAL") if not as_json else _nothing():
            copy = restore_to_time(
                b.cluster, b.store, b.keys, manifests, target, data_dir, force=force, point=to_point
            )
    return copy, base


def _app_database(ctx: typer.Context, app: str) -> str:
    found = [
        r
        for r in call(ctx, "GET", "/api/v1/resources")["resources"]
        if r["id"].startswith(f"database/{app}/")
    ]
    if not found:
        raise UsageError(f"app '{app}' has no database in the applied revision")
    return str(found[0]["id"].split("/", 2)[2])


@backup_cli.command("prune")
def prune_cmd(
    ctx: typer.Context,
    keep_full: Annotated[int, typer.Option(min=1, help="Newest full backups to keep.")] = 4,
    keep_days: Annotated[int | None, typer.Option(min=1, help="Also keep this many days.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Only say what would go.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Expire old full backups and the archived WAL no kept backup needs."""
    with backups(ctx) as b:
        archive = WalArchive(b.store, b.keys)
        now = datetime.now(UTC)
        planned = prune(
            b.catalog,
            b.store,
            archive,
            keep_full=keep_full,
            keep_days=keep_days,
            now=now,
            dry_run=True,
        )
        if (
            not dry_run
            and planned.expired
            and not yes
            and not typer.confirm(
                f"delete {len(planned.expired)} backup(s) and {planned.wal_removed} WAL file(s)?"
            )
        ):
            raise typer.Exit(1)
        done = (
            planned
            if dry_run
            else prune(
                b.catalog, b.store, archive, keep_full=keep_full, keep_days=keep_days, now=now
            )
        )
    if as_json:
        emit_json(asdict(done) | {"dry_run": dry_run})
    else:
        verb = "would expire" if dry_run else "expired"
        console.print(
            f"{verb} {len(done.expired)} backup(s) and {done.wal_removed} WAL file(s); "
            f"kept {len(done.kept)}"
        )


@backup_cli.command("restore-point")
def restore_point_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name to restore to later.")],
    as_json: JsonOpt = False,
) -> None:
    """Mark this moment: `comind restore --to-restore-point NAME --side` returns to it."""
    with backups(ctx) as b:
        point = create_restore_point(b.cluster, b.store, name)
    if as_json:
        emit_json(point)
    else:
        console.print(f"restore point {name} at {point['lsn']} ({point['time']})")


@keys_cli.command("rotate")
def rotate(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """A new backup key for new backups; older keys are kept for older backups."""
    key_id, _ = KeyRing(home_of(ctx).root / "secrets").rotate()
    emit_json({"key_id": key_id}) if as_json else console.print(f"new backup key {key_id}")


@keys_cli.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Where to write the passphrase-protected keys.")],
) -> None:
    """Export the backup keys and the platform's other secrets under a passphrase (asked, or
    COMIND_KEYS_PASSPHRASE): what a disaster recovery needs besides the backups."""
    chosen = passphrase()
    if len(chosen) < 12:
        raise UsageError("use a passphrase of at least 12 characters")
    if PASSPHRASE_ENV not in os.environ and passphrase("again: ") != chosen:
        raise UsageError("the passphrases differ")
    data = KeyRing(home_of(ctx).root / "secrets").export(chosen)
    out.write_bytes(data)
    out.chmod(0o600)
    console.print(f"wrote {out}: every secret of this platform; keep it away from this machine")
