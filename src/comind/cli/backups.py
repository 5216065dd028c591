"""``comind backup run/ls/verify``, ``comind restore --side`` and ``comind keys``: backups
of the running platform's PostgreSQL, taken and restored from this process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn

from comind.backup.base import BUCKET, PHYSICAL, complete_physical, physical_backup
from comind.backup.buckets import backup_buckets
from comind.backup.cluster import Cluster
from comind.backup.keys import KeyRing
from comind.backup.logical import (
    logical_backup,
)
from comind.backup.pitr import (
    create_restore_point,
)
from comind.backup.retention import prune
from comind.backup.snapshots import redis_backup
from comind.backup.verify import verify
from comind.backup.wal import WalArchive
from comind.cli.api_client import call
from comind.cli.connect import home_of, platform_db, platform_redis, running_state, settings_of
from comind.cli.disaster import PASSPHRASE_ENV, passphrase
from comind.cli.output import console, emit_json
from comind.embedded.home import StateDir
from comind.embedded.osuser import service_user
from comind.embedded.postgres import find_bin_dir
from comind.errors import UsageError
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
    with backups(ctx) as b, progress_bar(as_json) as bar:
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
    with backups(ctx) as b, console.status("Redis BGSAVE") if not as_json else nullcontext():
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
    database = app_database(ctx, app)
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
    rows = [_row(r) for r in call(ctx, "GET", "/api/v1/backups")["backups"]]
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
    """A catalog entry as `backup ls` shows it (the API's answer has a few more fields)."""
    return {k: v for k, v in entry.items() if k not in ("sha256", "pg_version")}


@backup_cli.command("verify")
def verify_cmd(
    ctx: typer.Context,
    backup_id: Annotated[str, typer.Argument(help="Backup id (see comind backup ls).")],
    as_json: JsonOpt = False,
) -> None:
    """Restore the backup into a scratch cluster and check it; exit 1 when it fails."""
    with backups(ctx) as b:
        manifest = chosen_manifest(b, backup_id)
        scratch = b.home.root / "restores" / f"verify-{backup_id}"
        with (
            console.status(f"restoring {backup_id} into a scratch cluster", spinner="dots")
            if not as_json
            else nullcontext()
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


def physical_manifests(b: Backups) -> list[dict[str, Any]]:
    """Manifests of the complete physical backups (full, incr, diff), newest first."""
    return [dict(e["manifest"]) for e in complete_physical(b.catalog)]


def chosen_manifest(b: Backups, backup_id: str | None) -> dict[str, Any]:
    if backup_id is None:
        newest = physical_manifests(b)
        if not newest:
            raise UsageError("no complete backup to restore: comind backup run")
        return newest[0]
    found = next((e for e in b.catalog.entries() if e["id"] == backup_id), None)
    if found is None:
        raise UsageError(f"no backup {backup_id} (see comind backup ls)")
    if found["status"] != "complete":
        raise UsageError(f"backup {backup_id} is {found['status']}, not complete")
    return dict(found["manifest"])


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
