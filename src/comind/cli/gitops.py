"""``comind app ls/show``, ``diff``, ``sync``, ``history``, ``rollback``, ``autosync``:
the GitOps control plane of the running platform, through its API."""

from __future__ import annotations

import getpass
import time
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from comind.cli.api_client import call
from comind.cli.output import JsonOpt, YesOpt, console, emit_json
from comind.errors import ComindError, UsageError

WAIT_SECONDS = 1800.0
EnvOpt = Annotated[str | None, typer.Option("--env", help="Environment (must be the running one).")]
COLORS = {"Synced": "green", "Healthy": "green", "OutOfSync": "yellow", "Progressing": "cyan",
          "Degraded": "red", "Missing": "red", "Failed": "red", "Refused": "red"}  # fmt: skip


def _c(word: str) -> str:
    return f"[{COLORS.get(word, 'white')}]{word}[/]"


def app_ls(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every app with its sync and health status."""
    apps = call(ctx, "GET", "/api/v1/apps")["apps"]
    if as_json:
        emit_json(apps)
        return
    table = Table("app", "sync", "health", "resources", "orphaned", "message")
    for a in apps:
        table.add_row(a["app"], _c(a["sync"]), _c(a["health"]), str(a["resources"]),
                      ", ".join(a["orphaned"]), a["message"][:80])  # fmt: skip
    console.print(table)


def app_show(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="App name.")],
    as_json: JsonOpt = False,
) -> None:
    """One app: each resource's sync and health, with messages."""
    doc = call(ctx, "GET", f"/api/v1/apps/{app}")
    if as_json:
        emit_json(doc)
        return
    console.print(f"[bold]{app}[/]: {_c(doc['sync'])}, {_c(doc['health'])}")
    table = Table("resource", "sync", "health", "revision", "message")
    for r in doc["resources"]:
        name = r["id"] + (" (orphaned)" if r["orphaned"] else "")
        table.add_row(name, _c(r["sync"]), _c(r["health"]), r["revision"][:12], r["message"])
    console.print(table)


def diff(
    ctx: typer.Context,
    env: EnvOpt = None,
    revision: Annotated[str | None, typer.Option(help="Revision (default: newest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Desired (the repo) against live, per resource; exit 1 when they differ."""
    _check_env(ctx, env)
    doc = call(ctx, "GET", "/api/v1/diff", params={"revision": revision} if revision else None)
    if as_json:
        emit_json(doc)
    else:
        console.print(f"revision {doc['revision'][:12]}: {len(doc['changes'])} change(s), "
                      f"{doc['unchanged']} unchanged")  # fmt: skip
        for change in doc["changes"]:
            console.print(f"  [yellow]{change['action']:>7}[/] {change['id']}")
            for line in change["drift"]:
                console.print(f"          {line}", markup=False)
    if doc["changes"]:
        raise typer.Exit(1)


def sync(
    ctx: typer.Context,
    env: EnvOpt = None,
    app: Annotated[str | None, typer.Option("--app", help="Only this app's resources.")] = None,
    revision: Annotated[str | None, typer.Option(help="Revision (default: newest).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan only.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Plan, then apply the repo's newest (or a given) revision; exit 1 unless it succeeds."""
    _check_env(ctx, env)
    body = {"app": app, "revision": revision, "dry_run": dry_run, "trigger": _who("cli")}
    _run_sync(ctx, "/api/v1/sync", body, as_json=as_json)


def rollback(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Revision (commit SHA) to go back to.")],
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Sync an earlier revision and pause auto-sync (`comind autosync on` resumes it)."""
    if not yes and not typer.confirm(f"roll back to {revision} and pause auto-sync?"):
        raise typer.Exit(1)
    body = {"revision": revision, "trigger": _who("rollback")}
    _run_sync(ctx, "/api/v1/rollback", body, as_json=as_json)


def autosync(
    ctx: typer.Context,
    state: Annotated[str, typer.Argument(help="on or off.")],
) -> None:
    """Resume (on) or pause (off) automatic sync of new revisions."""
    if state not in ("on", "off"):
        raise UsageError("autosync takes `on` or `off`")
    call(ctx, "POST", "/api/v1/autosync", body={"enabled": state == "on"}, admin=True)
    console.print(f"auto-sync {'resumed' if state == 'on' else 'paused'}")


def history(
    ctx: typer.Context,
    app: Annotated[str | None, typer.Option("--app", help="Only results of this app.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Past syncs, newest first: revision, trigger, outcome."""
    params: dict[str, Any] = {"limit": limit, **({"app": app} if app else {})}
    syncs = call(ctx, "GET", "/api/v1/syncs", params=params)["syncs"]
    if as_json:
        emit_json(syncs)
        return
    table = Table("id", "started", "revision", "trigger", "outcome", "message")
    for s in syncs:
        outcome = s["outcome"] + (" (dry run)" if s["dry_run"] else "")
        table.add_row(str(s["id"]), s["started_at"][:19], s["revision"][:12], s["trigger"],
                      _c(outcome), s["message"][:70])  # fmt: skip
    console.print(table)


def _run_sync(ctx: typer.Context, path: str, body: dict[str, Any], *, as_json: bool) -> None:
    started = call(ctx, "POST", path, body=body, admin=True)
    record = _wait(ctx, int(started["id"]), quiet=as_json)
    if as_json:
        emit_json(record)
    else:
        _print_sync(record)
    if record["outcome"] not in ("Succeeded", "Planned"):
        raise typer.Exit(1)


def _wait(ctx: typer.Context, sync_id: int, *, quiet: bool) -> dict[str, Any]:
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True, disable=quiet) as bar:  # fmt: skip
        task = bar.add_task(f"sync {sync_id}: planning and applying…")
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            record: dict[str, Any] = call(ctx, "GET", f"/api/v1/syncs/{sync_id}")
            if record["finished_at"]:
                return record
            bar.update(task, description=f"sync {sync_id} of {record['revision'][:12]}: running")
            time.sleep(0.3)
    raise ComindError(f"sync {sync_id} is still running; `comind history` shows when it ends")


def _print_sync(record: dict[str, Any]) -> None:
    console.print(f"sync {record['id']} of {record['revision'][:12]}: "
                  f"{_c(record['outcome'])} {record['message']}")  # fmt: skip
    changed = [r for r in record["results"] if r.get("action") not in ("none", None)]
    if not changed:
        return
    table = Table("resource", "action", "result", "sync", "health", "message")
    for r in changed:
        table.add_row(r["id"], r["action"], _c(r.get("result", "")), _c(r.get("sync", "")),
                      _c(r.get("health", "")), r.get("message") or r.get("drift", ""))  # fmt: skip
    console.print(table)


def _who(what: str) -> str:
    """``what`` and the user who asked, for the sync record."""
    return f"{what} by {getpass.getuser()}"


def _check_env(ctx: typer.Context, env: str | None) -> None:
    if env is None:
        return
    running = call(ctx, "GET", "/api/v1/status").get("env") or "default"
    if env != running:
        raise ComindError(f"this platform runs environment '{running}', not '{env}'")
