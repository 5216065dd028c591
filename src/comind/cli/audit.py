"""``comind audit``: the audit log (newest first), ``audit verify`` (its hash chain checked
against the anchors in the backup store) and ``audit export`` (JSON lines), through the API
with an admin token."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.table import Table

from comind.cli.access import cell
from comind.cli.api_client import call
from comind.cli.output import JsonOpt, console, emit_json

audit_cli = typer.Typer(help="The audit log: entries, their hash chain, an export.")


@audit_cli.callback(invoke_without_command=True)
def entries(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The audit log, newest first: who changed what through the API, who read secrets."""
    if ctx.invoked_subcommand is not None:
        return
    docs = call(ctx, "GET", "/api/v1/audit", params={"limit": limit}, admin=True)["entries"]
    if as_json:
        emit_json(docs)
        return
    table = Table("at", "actor", "action", "target", "outcome")
    for d in docs:
        table.add_row(cell(d["at"]), d["actor"], d["action"], d["target"], d["outcome"])
    console.print(table)


@audit_cli.command("verify")
def verify(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Recompute the audit log's hash chain and check it against its anchors; exit 1 and
    name the first broken entry when it is not intact."""
    doc = call(ctx, "GET", "/api/v1/audit/verify", admin=True, timeout=600)
    if as_json:
        emit_json(doc)
    elif doc["intact"]:
        console.print(f"intact: {doc['entries']} entries, {doc['anchors']} anchors checked")
    else:
        broken = doc["first_broken"]
        entry = f"entry {broken['seq']}" + (f" (id {broken['id']})" if broken["id"] else "")
        console.print(f"BROKEN at {entry}: {broken['problem']}", markup=False)
    if not doc["intact"]:
        raise typer.Exit(1)


@audit_cli.command("export")
def export(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="Entries at or after (ISO 8601).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write here (default: stdout).")] = None,
) -> None:
    """Every entry (oldest first) as JSON lines, with seq, prev_hash and hash."""
    with out.open("w") if out else _stdout() as sink:
        written = _pages(ctx, since, sink)
    if out:
        console.print(f"wrote {written} entries to {out}")


def _pages(ctx: typer.Context, since: str | None, sink: TextIO) -> int:
    after: int | None = 0
    written = 0
    while after is not None:
        params: dict[str, Any] = {"after": after, "limit": 1000}
        if since:
            params["since"] = since
        page = call(ctx, "GET", "/api/v1/audit/export", params=params, admin=True)
        for entry in page["entries"]:
            sink.write(json.dumps(entry, separators=(",", ":")) + "\n")
        written += len(page["entries"])
        after = page["next_after"]
    return written


class _stdout:
    def __enter__(self) -> TextIO:
        return sys.stdout

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
