"""``comind restore``: a backup or a point in time as a side copy, one app's database (or
table) copied beside the live one or swapped in, a bucket, a Redis snapshot, or the whole
platform's PostgreSQL switched to it."""

from __future__ import annotations

import shutil
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from comind.backup.buckets import restore_bucket
from comind.backup.logical import (
    copy_database,
    replace_database,
    restore_logical,
)
from comind.backup.pitr import (
    choose_base,
    choose_base_lsn,
    restore_point,
    restore_to_lsn,
    restore_to_time,
)
from comind.backup.restore import SideCopy, chain_of, restore_side
from comind.backup.snapshots import restore_redis
from comind.backup.switch import discard_old, old_data_dirs
from comind.cli.api_client import call
from comind.cli.backups import (
    Backups,
    JsonOpt,
    app_database,
    backups,
    chosen_manifest,
    physical_manifests,
    progress_bar,
)
from comind.cli.connect import home_of, settings_of
from comind.cli.output import console, emit_json
from comind.embedded.redis import find_binary
from comind.errors import UsageError
from comind.spec.names import role_name


@dataclass(frozen=True)
class Target:
    """What to restore: a time, a restore point, a WAL position, or a backup (default:
    the newest)."""

    time: str | None = None
    point: str | None = None
    lsn: str | None = None
    backup: str | None = None

    def chosen(self) -> bool:
        return any((self.time, self.point, self.lsn, self.backup))


def restore(
    ctx: typer.Context,
    side: Annotated[bool, typer.Option("--side", help="Run the copy on a side port.")] = False,
    to_time: Annotated[str | None, typer.Option("--to-time", help="ISO 8601 with zone.")] = None,
    to_point: Annotated[str | None, typer.Option("--to-restore-point", help="Name.")] = None,
    to_lsn: Annotated[str | None, typer.Option("--to-lsn", help="WAL position.")] = None,
    backup_id: Annotated[str | None, typer.Option("--backup", help="Default: latest.")] = None,
    app: Annotated[str | None, typer.Option(help="The app whose database to restore.")] = None,
    table: Annotated[str | None, typer.Option(help="Only this table (a partial restore).")] = None,
    into: Annotated[str | None, typer.Option("--as", help="New database (or bucket) name.")] = None,
    bucket: Annotated[
        str | None, typer.Option(help="Restore this bucket (objects backup).")
    ] = None,
    redis: Annotated[
        bool,
        typer.Option(
            "--redis",
            help="A Redis snapshot: with --side on a side port, else in "
            "place of the platform's Redis data (after confirmation).",
        ),
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
        if side:
            _redis_side(ctx, backup_id, as_json)
        else:
            _redis_switch(ctx, backup_id, yes, as_json)
        return
    target = Target(to_time, to_point, to_lsn, backup_id)
    if not side and not app:
        if not target.chosen():
            raise UsageError(
                "pass --side (a side copy), --app APP (a partial restore into the live "
                "platform under a new name), or what to switch the platform to: --to-time, "
                "--to-restore-point, --to-lsn or --backup"
            )
        _switch(ctx, target, force, yes, as_json)
        return
    if not side:
        assert app is not None
        _partial(ctx, app, table, into, target, (force, replace, yes), as_json)
        return
    copy, manifest = _side(ctx, target, force, as_json)
    dbname = app_database(ctx, app) if app else "postgres"
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
        served = copy.target
        console.print(f"  psql -h {served.host} -p {served.port} -U {served.user} {dbname}  "
                      "(the platform's superuser password: secrets/postgres-password; "
                      "--json prints a full DSN)", markup=False)  # fmt: skip


def _newest_of(b: Backups, kind: str, backup_id: str | None) -> dict[str, Any]:
    """The manifest of the given (or newest) complete backup of ``kind``."""
    found = b.catalog.manifest(kind, backup_id)
    if found is None:
        raise UsageError(f"no complete {kind} backup" + (f" {backup_id}" if backup_id else ""))
    return found


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
        console.print(f"  redis-cli -h {copy.target.host} -p {copy.target.port}  (its new "
                      "password: --json prints the URL)", markup=False)  # fmt: skip


def _switch(ctx: typer.Context, target: Target, force: bool, yes: bool, as_json: bool) -> None:
    copy, manifest = _side(ctx, target, force, as_json)
    where = (target.time or (f"restore point {target.point}" if target.point else None)
             or (f"LSN {target.lsn}" if target.lsn else manifest["id"]))  # fmt: skip
    question = (f"switch the platform's whole PostgreSQL (every app database and the "
                f"platform's own state) to {where}? Later changes stay in the old data "
                "directory until `comind restore --discard-old`")  # fmt: skip
    copy.stop()
    if not yes and not typer.confirm(question):
        shutil.rmtree(copy.data_dir, ignore_errors=True)
        raise typer.Exit(1)
    doc = call(ctx, "POST", "/api/v1/backups/switch",
               body={"engine": "postgres", "data_dir": str(copy.data_dir)}, admin=True)  # fmt: skip
    doc |= {"backup": manifest["id"], "to": where}
    if as_json:
        emit_json(doc)
    else:
        console.print(f"the platform runs on the restored copy ({where}); the old data is in "
                      f"{doc['old_data_dir']} until `comind restore --discard-old`",
                      markup=False)  # fmt: skip


def _redis_switch(ctx: typer.Context, backup_id: str | None, yes: bool, as_json: bool) -> None:
    question = (f"replace the platform's Redis data with the snapshot {backup_id or '(newest)'}? "
                "The current data stays aside until `comind restore --discard-old`")  # fmt: skip
    if not yes and not typer.confirm(question):
        raise typer.Exit(1)
    doc = call(ctx, "POST", "/api/v1/backups/switch",
               body={"engine": "redis", "backup": backup_id}, admin=True)  # fmt: skip
    if as_json:
        emit_json(doc)
    else:
        console.print(f"Redis holds the snapshot {doc['backup']} ({doc['keys']} keys); the old "
                      f"data is in {doc['old_data_dir']}", markup=False)  # fmt: skip


def _discard_old(ctx: typer.Context, yes: bool, as_json: bool) -> None:
    home = home_of(ctx)
    found = old_data_dirs(home.postgres, home.redis)
    if found and not yes and not typer.confirm(f"delete {', '.join(p.name for p in found)}?"):
        raise typer.Exit(1)
    gone = [str(p) for p in discard_old(home.postgres, home.redis)]
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
    ctx: typer.Context, target: Target, force: bool, as_json: bool
) -> tuple[SideCopy, dict[str, Any]]:
    if target.lsn:
        return _to_lsn(ctx, target.lsn, force, as_json)
    if target.time or target.point:
        return _point_in_time(ctx, target.time, target.point, force, as_json)
    return _latest(ctx, target.backup, force, as_json)


def _partial(
    ctx: typer.Context,
    app: str,
    table: str | None,
    into: str | None,
    target: Target,
    flags: tuple[bool, bool, bool],
    as_json: bool,
) -> None:
    force, replace, yes = flags
    if replace and (table or into):
        raise UsageError("--replace swaps the whole database: not with --table or --as")
    database = app_database(ctx, app)
    into = into or f"{database}_restored_{datetime.now(UTC):%Y%m%d%H%M%S}"
    with backups(ctx) as b:
        found = b.catalog.get(target.backup) if target.backup else None
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
            copy, manifest = _side(ctx, target, force, as_json)
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
               "to_time": target.time, "restore_point": target.point,
               "to_lsn": target.lsn}  # fmt: skip
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
        manifest = chosen_manifest(b, backup_id)
        target = b.home.root / "restores" / f"{manifest['id']}-{datetime.now(UTC):%H%M%S}"
        with progress_bar(as_json) as bar:
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


def _to_lsn(
    ctx: typer.Context, lsn: str, force: bool, as_json: bool
) -> tuple[SideCopy, dict[str, Any]]:
    with backups(ctx) as b:
        manifests = physical_manifests(b)
        base = choose_base_lsn(manifests, lsn)
        data_dir = b.home.root / "restores" / f"pitr-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        with console.status("restoring and replaying WAL") if not as_json else nullcontext():
            copy = restore_to_lsn(b.cluster, b.store, b.keys, manifests, lsn, data_dir,
                                  force=force)  # fmt: skip
    return copy, base


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
        manifests = physical_manifests(b)
        base = choose_base(manifests, target)
        data_dir = b.home.root / "restores" / f"pitr-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        with console.status("restoring and replaying WAL") if not as_json else nullcontext():
            copy = restore_to_time(
                b.cluster, b.store, b.keys, manifests, target, data_dir, force=force, point=to_point
            )
    return copy, base
