"""``comind restore``: a backup or a point in time as a side copy, one app's database (or
table) copied beside the live one or swapped in, a bucket, a Redis snapshot, or the whole
platform's PostgreSQL switched to it. The work is done by platform.restores; this module
asks, confirms and renders."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from comind.cli.api_client import call
from comind.cli.backups import app_database, progress_bar
from comind.cli.connect import home_of, settings_of
from comind.cli.output import JsonOpt, YesOpt, console, emit_json
from comind.errors import UsageError
from comind.platform.local import running_state

if TYPE_CHECKING:
    from comind.platform.restores import PhysicalManifest, Restores, SideCopy, Target


def _core() -> ModuleType:
    """The restore service, imported when a restore command runs: loading it (the backup
    code and the engines' drivers) at start-up would slow every other command."""
    from comind.platform import restores

    return restores


@contextmanager
def _restores(ctx: typer.Context) -> Iterator[Restores]:
    """Restores of the running platform of this state directory."""
    home = home_of(ctx)
    with _core().restores(home, settings_of(ctx), running_state(home)) as found:
        yield found


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
    yes: YesOpt = False,
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
    target = _core().Target(to_time, to_point, to_lsn, backup_id)
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
        "backup": manifest.id,
        "data_dir": str(copy.data_dir),
        "pid": copy.process.pid,
        "port": copy.port,
    }
    if as_json:
        emit_json(doc)
    else:
        console.print(
            f"restored from {manifest.id} on port {copy.port} (pid "
            f"{copy.process.pid}); stop it with: kill -INT {copy.process.pid}",
            markup=False,
        )
        served = copy.target
        console.print(f"  psql -h {served.host} -p {served.port} -U {served.user} {dbname}  "
                      "(the platform's superuser password: secrets/postgres-password; "
                      "--json prints a full DSN)", markup=False)  # fmt: skip


def _redis_side(ctx: typer.Context, backup_id: str | None, as_json: bool) -> None:
    with _restores(ctx) as r:
        copy, manifest, where = r.redis_side(backup_id)
    doc = {"url": copy.target.url(), "backup": manifest.id, "pid": copy.process.pid,
           "port": copy.target.port, "directory": str(where)}  # fmt: skip
    if as_json:
        emit_json(doc)
    else:
        console.print(f"restored {manifest.id} on port {copy.target.port} (pid "
                      f"{copy.process.pid}); stop it with: kill {copy.process.pid}",
                      markup=False)  # fmt: skip
        console.print(f"  redis-cli -h {copy.target.host} -p {copy.target.port}  (its new "
                      "password: --json prints the URL)", markup=False)  # fmt: skip


def _switch(ctx: typer.Context, target: Target, force: bool, yes: bool, as_json: bool) -> None:
    with _restores(ctx) as restores:
        restores.check_switchable()
    copy, manifest = _side(ctx, target, force, as_json)
    where = target.described(manifest)
    question = (f"switch the platform's whole PostgreSQL (every app database and the "
                f"platform's own state) to {where}? Later changes stay in the old data "
                "directory until `comind restore --discard-old`")  # fmt: skip
    copy.stop()
    if not yes and not typer.confirm(question):
        shutil.rmtree(copy.data_dir, ignore_errors=True)
        raise typer.Exit(1)
    doc = call(ctx, "POST", "/api/v1/backups/switch",
               body={"engine": "postgres", "data_dir": str(copy.data_dir)}, admin=True)  # fmt: skip
    doc |= {"backup": manifest.id, "to": where}
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
    found = _core().old_data(home)
    if found and not yes and not typer.confirm(f"delete {', '.join(p.name for p in found)}?"):
        raise typer.Exit(1)
    gone = _core().discard_old_data(home)
    emit_json({"deleted": gone}) if as_json else console.print(
        f"deleted {len(gone)} old data director{'y' if len(gone) == 1 else 'ies'}"
    )


def _bucket(
    ctx: typer.Context, bucket: str, backup_id: str | None, into: str | None, as_json: bool
) -> None:
    with _restores(ctx) as r:
        doc = r.bucket(bucket, backup_id, into)
    if as_json:
        emit_json(doc)
    else:
        console.print(
            f"restored {doc['objects']} object(s) into {doc['bucket']} from {doc['from']}"
        )


def _side(
    ctx: typer.Context, target: Target, force: bool, as_json: bool
) -> tuple[SideCopy, PhysicalManifest]:
    """A side copy of the chosen target, with progress on the terminal."""
    with _restores(ctx) as r:
        if target.lsn or target.time or target.point:
            with console.status("restoring and replaying WAL") if not as_json else nullcontext():
                if target.lsn:
                    return r.to_lsn(target.lsn, force=force)
                return r.to_time(target, force=force)
        manifest = r.chosen(target.backup)
        with progress_bar(as_json) as bar:
            task = bar.add_task(f"restoring {manifest.id}", total=r.restore_size(manifest))
            copy = r.latest(manifest, force=force,
                            progress=lambda n: bar.update(task, completed=n))  # fmt: skip
        return copy, manifest


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
    fresh = f"{database}_restored_{datetime.now(UTC):%Y%m%d%H%M%S}"
    partial = _core().Partial(app, database, into or fresh, table)
    with _restores(ctx) as r:
        logical = r.logical(target.backup)
        if logical is not None:
            r.from_logical(logical, partial)
            source = logical.id
        else:
            copy, manifest = _side(ctx, target, force, as_json)
            r.from_copy(copy, partial)
            source = manifest.id
        doc = {"app": app, "database": partial.into, "table": table, "from": source,
               "to_time": target.time, "restore_point": target.point,
               "to_lsn": target.lsn}  # fmt: skip
        if replace:
            doc |= _replace(r, database, partial.into, yes)
    _report_partial(doc, app, database, replace, as_json)


def _report_partial(
    doc: dict[str, Any], app: str, database: str, replace: bool, as_json: bool
) -> None:
    if as_json:
        emit_json(doc)
    elif replace:
        console.print(f"{app}'s database {database} is now the restored one (from "
                      f"{doc['from']}); the one it replaced is kept as {doc['old']}",
                      markup=False)  # fmt: skip
    else:
        what = f"table {doc['table']} of " if doc["table"] else ""
        console.print(
            f"restored {what}{app}'s database into the new database {doc['database']} "
            f"(from {doc['from']}); {database} is untouched",
            markup=False,
        )


def _replace(r: Restores, database: str, restored: str, yes: bool) -> dict[str, Any]:
    question = (f"replace the live database {database} with the restored copy? Its sessions "
                "end; the current one is kept under a new name")  # fmt: skip
    if not yes and not typer.confirm(question):
        console.print(f"kept both: the restored copy is the database {restored}", markup=False)
        raise typer.Exit(1)
    return r.replace(database, restored)
