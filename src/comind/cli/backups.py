"""``comind backup run/ls/verify``, ``comind restore --side``: backups
of the running platform's PostgreSQL, taken and restored from this process."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, YesOpt, console, emit_json, waiting
from comind.errors import UsageError

backup_cli = typer.Typer(help="Backups: run, list, verify.", no_args_is_help=True)


def progress_bar(as_json: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        console=console,
        transient=True,
        disable=as_json,
    )


LONG = 6 * 3600  # a backup or a verification of a big cluster may take hours
ALIASES = {"incremental": "incr", "differential": "diff"}


@backup_cli.command("run")
def run(
    ctx: typer.Context,
    kind: Annotated[
        str,
        typer.Option(
            "--type",
            "--kind",
            help="full; incr or incremental (changes since the last physical backup) or diff "
            "or differential (since the last full; both need PostgreSQL 17+, else a full one "
            "is taken); logical; objects; redis (a BGSAVE snapshot).",
        ),
    ] = "full",
    app: Annotated[str | None, typer.Option(help="The app a logical backup dumps.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Take a backup now, on the platform (streamed, compressed, encrypted)."""
    # imported here: it loads the backup engines, which every other command would pay for
    from comind.platform.backups import KINDS

    kind = ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise UsageError(f"--type {kind}: choose {', '.join(KINDS)}")
    if kind == "logical" and not app:
        raise UsageError("a logical backup is of one app's database: pass --app APP")
    with waiting(f"{kind} backup", as_json):
        done = call(ctx, "POST", "/api/v1/backups", body={"type": kind, "app": app},
                    admin=True, timeout=LONG)  # fmt: skip
    if as_json:
        emit_json(done)
        return
    if done.get("note"):
        console.print(f"[yellow]{done['note']}[/yellow]")
    console.print(_told(kind, done), markup=False)


def _told(kind: str, done: dict[str, Any]) -> str:
    """One line on a finished backup."""
    stored = f"{(done.get('size_bytes') or 0) / 1e6:.1f} MB stored"
    if kind == "objects":
        return (f"backup {done['id']}: {len(done['buckets'])} bucket(s), {done['uploaded']} "
                f"new object(s), {done['reused']} unchanged")  # fmt: skip
    if kind == "redis":
        return f"backup {done['id']}: {done['keys']} key(s), {stored}"
    if kind == "logical":
        return f"backup {done['id']}: {done['app']}'s database {done['database']}, {stored}"
    return (f"backup {done['id']}: {(done.get('source_bytes') or 0) / 1e6:.1f} MB read, "
            f"{stored} in {done['seconds']:.1f} s")  # fmt: skip


@backup_cli.command("ls")
def ls(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every backup: kind, status (missing-files when files of it are gone from the store),
    size, LSNs and its last restore test: result, when, how long."""
    rows = call(ctx, "GET", "/api/v1/backups")["backups"]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        size = f"{r['size_bytes'] / 1e6:.1f} MB"
        console.print(f"{r['id']}  {r['kind']:<7} {r['status']:<13} {size:>10}  "
                      f"{r['stop_lsn'] or '':<12} {_last_test(r)}", markup=False)  # fmt: skip
        for gone in r.get("missing_files") or []:
            console.print(f"  missing: {gone}", markup=False)
    if not rows:
        console.print("no backups yet: comind backup run")


def _last_test(row: dict[str, Any]) -> str:
    if not row["verify_status"]:
        return "test: not yet"
    took = f", {row['verify_seconds']:.1f} s" if row.get("verify_seconds") is not None else ""
    return f"test: {row['verify_status']} {str(row['verified_at'])[:19]}{took}"


@backup_cli.command("verify")
def verify_cmd(
    ctx: typer.Context,
    backup_id: Annotated[str, typer.Argument(help="Backup id (see comind backup ls).")],
    as_json: JsonOpt = False,
) -> None:
    """Restore-test the backup now (any kind; the platform also does on its own) and show
    what was checked; exit 1 when it fails."""
    with waiting(f"restore-testing {backup_id}", as_json):
        report = call(ctx, "POST", f"/api/v1/backups/{backup_id}/verify", admin=True,
                      timeout=LONG)  # fmt: skip
    if as_json:
        emit_json(report)
    else:
        state = "verified" if report["ok"] else "FAILED"
        console.print(f"{backup_id}: {state} in {report['seconds']:.1f} s ({_checked(report)})",
                      markup=False)  # fmt: skip
        for problem in report["problems"]:
            console.print(f"  {problem}", markup=False)
    if not report["ok"]:
        raise typer.Exit(1)


def _checked(report: dict[str, Any]) -> str:
    if report["kind"] == "objects":
        return f"{report['objects_checked']} object(s) read back and checksummed"
    if report["kind"] == "redis":
        return f"{report['keys']} key(s) loaded"
    verified = "" if report["kind"] == "logical" else f"pg_verifybackup {report['verifybackup']}, "
    return f"{report['tables_compared']} tables compared, {verified}amcheck {report['amcheck']}"


def app_database(ctx: typer.Context, app: str) -> str:
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
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Expire old full backups and the archived WAL no kept backup needs."""
    keep = {"keep_full": keep_full, "keep_days": keep_days}
    planned = call(ctx, "POST", "/api/v1/backups/prune", body=keep | {"dry_run": True},
                   admin=True)  # fmt: skip
    go = not dry_run and planned["expired"]
    question = (f"delete {len(planned['expired'])} backup(s) and {planned['wal_removed']} "
                "WAL file(s)?")  # fmt: skip
    if go and not yes and not typer.confirm(question):
        raise typer.Exit(1)
    done = call(ctx, "POST", "/api/v1/backups/prune", body=keep | {"dry_run": False},
                admin=True, timeout=LONG) if go else planned  # fmt: skip
    if as_json:
        emit_json(done | {"dry_run": dry_run})
    else:
        verb = "would expire" if dry_run else "expired"
        console.print(
            f"{verb} {len(done['expired'])} backup(s) and {done['wal_removed']} WAL file(s); "
            f"kept {len(done['kept'])}"
        )


@backup_cli.command("restore-point")
def restore_point_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name to restore to later.")],
    as_json: JsonOpt = False,
) -> None:
    """Mark this moment: `comind restore --to-restore-point NAME --side` returns to it."""
    point = call(ctx, "POST", "/api/v1/backups/restore-points", body={"name": name}, admin=True)
    if as_json:
        emit_json(point)
    else:
        console.print(f"restore point {name} at {point['lsn']} ({point['time']})")
